# Redaction reaches every module and every log, and mod_preview still
# reads the real token (extra.conf.in, "redaction beside other
# applications"): mod_rewrite, a ProxyPass backend and mod_dir's redirect
# see a "token" parameter as REDACTED (the value never reaches them), and
# mod_preview reads the query a rewrite made with the value the client
# sent; the access log, %{QUERY_STRING}e, %{REDIRECT_QUERY_STRING}e,
# %{Referer}i, %q, %U and %r show REDACTED; a Referer with ?token= and a
# URI holding one are redacted in mod_preview's error lines.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     image_info record_token);
use PreviewLog qw(error_log_text log_lines);

plan tests => 24;

my $mark = time . "x$$";
# Secrets of other applications and of Referer headers: recorded, so that
# tests/t/99_no_tokens_in_logs.t looks for them in every log too.
my ($t1, $t2, $t3, $t4, $r1, $r2) =
    map { record_token("$_-$mark") } qw(cohost proxied dirslash errdoc
                                        referer1 referer2);

# ---- another application sees the parameter, not its value
my $res = Apache::TestRequest::GET("/pv-echo?a=$mark&token=$t1");
is($res->code, 404, '/pv-echo: 404 (no such file)');
is($res->header('X-QS'), "a=$mark&token=REDACTED",
   'mod_rewrite: %{QUERY_STRING} with REDACTED');
is($res->header('X-Token-Seen'), 'REDACTED', 'RewriteCond matched REDACTED');

$res = Apache::TestRequest::GET("/pv-proxied?token=$t2&b=$mark");
is($res->header('X-QS'), "token=REDACTED&b=$mark",
   'ProxyPass backend: the query with REDACTED');

$res = Apache::TestRequest::GET("/pv-dir?token=$t3&c=$mark", redirect_ok => 0);
is($res->code, 301, 'mod_dir: 301 to the trailing slash');
like($res->header('Location') // '', qr{/pv-dir/\?token=REDACTED&c=\Q$mark\E$},
     'mod_dir: Location keeps the query, with REDACTED');

# ---- mod_preview reads the query a rewrite made (w=64 added by QSA),
# with the token the client sent
my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv28');
make_plain("$dir/r.jpg", 640, 480);
my ($uid, $tok) = new_user($dbh, 'redact');
my $img = add_image($dbh, $uid, "$rel/r.jpg");
$res = Apache::TestRequest::GET("/pv-rewritten/$img?token=$tok&d=$mark");
is($res->code, 200, 'rewritten to /preview: 200');
is(image_info($res->content)->{width}, 64, 'the rewrite\'s w=64 applies');

# ---- the access log (%r) shows REDACTED for each of them
for my $req ("GET /pv-echo?a=$mark&token=REDACTED HTTP/1.1",
             "GET /pv-proxied?token=REDACTED&b=$mark HTTP/1.1",
             "GET /pv-echo?token=REDACTED&b=$mark HTTP/1.1",
             "GET /pv-dir?token=REDACTED&c=$mark HTTP/1.1",
             "GET /pv-rewritten/$img?token=REDACTED&d=$mark HTTP/1.1") {
    is(scalar(log_lines('access_log', qr/"\Q$req\E"/)), 1,
       "access_log: $req");
}

# ---- environment, Referer, %q, %U, %r in a LogFormat
# Format: QUERY_STRING|REDIRECT_QUERY_STRING|Referer|%q|%U|%r|%>s
my @l = log_lines('redact_log', qr/^a=\Q$mark\E&token=REDACTED\|/);
is($l[0] // '', "a=$mark&token=REDACTED|-|-|?a=$mark&token=REDACTED|/pv-echo|"
   . "GET /pv-echo?a=$mark&token=REDACTED HTTP/1.1|404",
   '%{QUERY_STRING}e, %q, %U, %r redacted');

$res = Apache::TestRequest::GET("/pv-errdoc?token=$t4&m=$mark");
is($res->code, 404, 'local ErrorDocument 404');
@l = log_lines('redact_log', qr/\|GET \/pv-errdoc\?token=REDACTED&m=\Q$mark\E /);
# %q is the final request's (the ErrorDocument's, no query); %U and %r the
# first's.
is($l[0] // '', "-|token=REDACTED&m=$mark|-||"
   . "/pv-errdoc|GET /pv-errdoc?token=REDACTED&m=$mark HTTP/1.1|404",
   '%{REDIRECT_QUERY_STRING}e of the ErrorDocument request redacted');

$res = Apache::TestRequest::GET("/pv-echo?m=$mark",
    Referer => "https://app.example/page?token=$r1&x=1");
is($res->header('X-QS'), "m=$mark", 'a request with a Referer');
@l = log_lines('redact_log', qr/^m=\Q$mark\E\|/);
is($l[0] // '', "m=$mark|-|https://app.example/page?token=REDACTED&x=1|"
   . "?m=$mark|/pv-echo|GET /pv-echo?m=$mark HTTP/1.1|404",
   '%{Referer}i redacted');

# ---- mod_preview's own error lines: Referer and URI
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');
$res = preview($missing, token => $tok,
               headers => [ Referer => "https://app.example/p?token=$r2&x=$mark" ]);
is($res->code, 404, 'preview of a missing image: 404');
my $elog = '';
for (1 .. 50) {
    $elog = error_log_text();
    last if index($elog, "x=$mark") >= 0;
    select undef, undef, undef, 0.1;
}
like($elog, qr{PV0915: image $missing does not exist[^\n]*, referer: \Qhttps://app.example/p?token=REDACTED&x=$mark\E\n},
     'error line (PV0915): referer with token=REDACTED');
ok(index($elog, $r2) < 0, 'error_log: not the Referer\'s token');

# A "?token=" in the path (sent as %3F): the handler redacts r->uri once it
# has read the real token, before its "not an image id" line.
$res = Apache::TestRequest::GET("/preview/x%3Ftoken=path$mark?token=$tok");
is($res->code, 404, 'not an image id: 404');
for (1 .. 50) {
    $elog = error_log_text();
    last if $elog =~ /PV0911: not an image id: \/preview\/x\?token=/;
    select undef, undef, undef, 0.1;
}
like($elog, qr/PV0911: not an image id: \/preview\/x\?token=REDACTED\n/,
     'error line (PV0911): r->uri redacted');
ok(index($elog, "path$mark") < 0, 'error_log: not the path\'s token');
