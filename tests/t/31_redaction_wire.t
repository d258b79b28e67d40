# Tokens never reach httpd core or any module (vhost pv_wire in
# extra.conf.in: LogLevel info rewrite:trace1, %U and %q in the access log,
# a CGI, h2c): each request shape is sent raw over a socket, a valid token
# of its own in the query, and afterwards neither error_log nor access_log
# holds the signature of any of them. The shapes: a bad request line (400),
# one over LimitRequestLine (414), an invalid path (/../, core's AH10244 at
# error), an encoded slash (AH00026 at info), a NUL, mod_rewrite [PT,QSA]
# turning a%20HTTP/1 into the query, a [R] redirect (mod_rewrite's trace1
# line), a Referer with a token on a request that fails before any hook,
# access_token=, lines split across packets, pipelined requests, the same
# shapes over HTTP/2, a CGI's environment and mod_status. The preview and
# logout handlers still get the real token.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh key_file);
use PreviewImages qw(fixture_dir make_plain add_image new_user record_token
                     image_info);
use PreviewLog qw(error_log_text log_path);

plan tests => 97;

Apache::TestRequest::module('pv_wire');
my $hostport = Apache::TestRequest::hostport();
my ($host, $port) = split /:/, $hostport;
Apache::TestRequest::module('default');
my $limit = 1024;    # LimitRequestLine of pv_wire

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv29');
make_plain("$dir/w.jpg", 320, 240);
my ($uid) = new_user($dbh, 'wire');
my ($uid_out) = new_user($dbh, 'wireout');
my $img = add_image($dbh, $uid, "$rel/w.jpg");

# A valid token of its own per shape (distinct exp: distinct signatures).
my $ttl = 3000;
my %sig;
sub token {
    my ($shape, $sub) = @_;
    my $t = `$ENV{PV_CLI} mint --key-file ${\ key_file()} --sub ${\($sub // $uid)} --ttl ${\ $ttl++}`;
    chomp $t;
    die "mint for $shape failed\n" unless $t =~ /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}$/;
    record_token($t);
    $sig{$shape} = (split /\./, $t)[2];
    return $t;
}

# Send $bytes (a string, or an array ref of pieces sent 0.2 s apart) and
# read until the server closes; returns the raw response.
sub raw {
    my ($bytes) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                  Proto => 'tcp', Timeout => 20)
        or die "connect $hostport: $!";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    my @pieces = ref $bytes ? @$bytes : ($bytes);
    for my $i (0 .. $#pieces) {
        select undef, undef, undef, 0.2 if $i;
        syswrite $s, $pieces[$i] or last;
    }
    my $resp = '';
    local $SIG{ALRM} = sub { die "timeout reading from $hostport\n" };
    alarm 30;
    while (sysread $s, my $buf, 65536) {
        $resp .= $buf;
    }
    alarm 0;
    close $s;
    return $resp;
}

sub request {
    my ($line, @headers) = @_;
    return join "\r\n", $line, "Host: $hostport", @headers,
        'Connection: close', '', '';
}

sub status { my ($resp) = @_; return $resp =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0 }

# The body of the last response in $resp.
sub body { my ($resp) = @_; my @p = split /\r\n\r\n/, $resp, 2; $p[1] // '' }

# ---- the shapes
my %status;
my $t;

$t = token('bad_ctl');
$status{bad_ctl} = status(raw(request("GET /preview/$img?token=$t\x01x HTTP/1.1")));
is($status{bad_ctl}, 400, 'control byte in the request line: 400');

$t = token('bad_trailing');
$status{bad_trailing} =
    status(raw(request("GET /preview/$img?token=$t HTTP/1.1 extra")));
is($status{bad_trailing}, 400, 'text after the protocol: 400');

$t = token('long');
my $line = "GET /preview/$img?token=$t&pad=";
$line .= 'x' x ($limit + 50 - length $line);
is(status(raw(request("$line HTTP/1.1"))), 414, 'over LimitRequestLine: 414');

# The token straddles the limit: its start is in what httpd had read.
$t = token('long_cut');
$line = "GET /preview/$img?pad=";
$line .= 'x' x ($limit - 40 - length $line);
$line .= "&token=$t";
is(status(raw(request("$line HTTP/1.1"))), 414, 'token across the limit: 414');

# Counted as sent: a long value cannot shrink the line under the limit.
$t = token('long_value');
is(status(raw(request("GET /preview/$img?token=$t" . ('A' x $limit)
                      . " HTTP/1.1"))),
   414, 'a long token value: still 414');

# httpd takes LimitRequestLine + 1 bytes before the CRLF, not one more.
$t = token('at_limit');
$line = "GET /preview/$img?token=$t&pad=";
my $proto = ' HTTP/1.1';
my $at = $line . ('x' x ($limit + 1 - length($line) - length $proto)) . $proto;
is(length $at, $limit + 1, 'the line is LimitRequestLine + 1 bytes');
my $resp = raw(request($at));
is(status($resp), 200, 'LimitRequestLine + 1 bytes: served');
is(image_info(body($resp))->{width}, 256, 'the preview, with the token');
$t = token('over_limit');
$line = "GET /preview/$img?token=$t&pad=";
my $over = $line . ('x' x ($limit + 2 - length($line) - length $proto)) . $proto;
is(status(raw(request($over))), 414, 'LimitRequestLine + 2 bytes: 414');

$t = token('dotdot');
is(status(raw(request("GET /../preview/$img?token=$t HTTP/1.1"))), 400,
   '/../ above the root: 400');
$t = token('dotdot_access');
is(status(raw(request("GET /../preview/$img?w=64&access_token=$t HTTP/1.1"))),
   400, '/../ with access_token: 400');

$t = token('encslash');
is(status(raw(request("GET /preview/$img%2F?token=$t HTTP/1.1"))), 404,
   'encoded slash (AllowEncodedSlashes Off): 404');

$t = token('nul');
is(status(raw(request("GET /preview/$img?token=$t\0x HTTP/1.1"))), 400,
   'NUL after the token: 400');
$t = token('nul_inside');
is(status(raw(request("GET /preview/$img?token=" . substr($t, 0, 30) . "\0"
                      . substr($t, 30) . ' HTTP/1.1'))),
   400, 'NUL inside the token: 400');

# The issue's rewrite: /rw2/<id>/a%20HTTP/1 -> /preview/<id>?p=a HTTP/1&token=...
# httpd 2.4.56 and later refuse a rewritten query holding a space (AH10410,
# 403), but %q logs it; that it reaches the handler is 28_redaction.t's.
$t = token('rewrite');
$resp = raw(request("GET /rw2/$img/a%20HTTP/1?token=$t HTTP/1.1"));
is(status($resp), 403, '[PT,QSA] rewrite with " HTTP/1" in the query: 403');

$t = token('redirect');
$resp = raw(request("GET /rw3/x?token=$t&r=1 HTTP/1.1"));
is(status($resp), 302, 'mod_rewrite [R]: 302');
like($resp, qr{\r\nLocation: http://elsewhere\.invalid/landing\?token=REDACTED&r=1\r\n},
     'the redirect carries REDACTED');

# Fails in ap_check_request_header (417), before any hook: core's AH00570
# line at info ends with ", referer: ...".
$t = token('referer_417');
is(status(raw(request('GET /pv-wire-none HTTP/1.1', 'Expect: bogus',
                      "Referer: https://app.example/p?a=1&token=$t&b=2"))),
   417, 'unknown Expect with a Referer: 417');
$t = token('referer_404');
is(status(raw(request('GET /pv-wire-none HTTP/1.1',
                      "referer: https://app.example/p?access_token=$t"))),
   404, 'a missing file with a Referer: 404');
$t = token('referer_fold');
my $folded = status(raw(request('GET /pv-wire-none HTTP/1.1',
                                "Referer: https://app.example/p?a=1\r\n &token=$t")));
ok($folded == 404 || $folded == 400, "a folded Referer: $folded");

# One line in pieces: split inside "token", after '=', inside the value.
$t = token('split');
$resp = raw(["GET /preview/$img?w=64&to", 'ken=', substr($t, 0, 7),
             substr($t, 7, 40), substr($t, 47) . " HTTP/1.1\r\nHost: $hostport\r\n",
             "Connection: close\r\n\r\n"]);
is(status($resp), 200, 'request line split across packets: 200');
is(image_info(body($resp))->{width}, 64, 'the preview, w=64');

# Keep-alive and pipelining: each request its own values.
my ($ta, $tb) = (token('pipe_a'), token('pipe_b'));
$resp = raw("GET /preview/$img?w=64&token=$ta HTTP/1.1\r\nHost: $hostport\r\n\r\n"
            . "GET /preview/$img?w=64&token=$tb HTTP/1.1\r\nHost: $hostport\r\n\r\n"
            . "GET /preview/$img?w=64&token=REDACTED HTTP/1.1\r\nHost: $hostport\r\n"
            . "Connection: close\r\n\r\n");
my @codes = $resp =~ m{HTTP/1\.1 (\d{3}) }g;
is("@codes", '200 200 401',
   'pipelined: two tokens served, a literal REDACTED refused');

$resp = raw(request("GET /preview/$img?token=REDACTED HTTP/1.1"));
is(status($resp), 401, 'token=REDACTED sent as such: 401');

# A CGI's environment.
$t = token('cgi');
$resp = raw(request("GET /pv-cgi/x?c=1&token=$t HTTP/1.1",
                    "Referer: https://app.example/?token=$t"));
is(status($resp), 200, 'CGI: 200');
my $env = body($resp);
like($env, qr/^QUERY_STRING=c=1&token=REDACTED$/m, 'CGI: QUERY_STRING');
like($env, qr{^REQUEST_URI=/pv-cgi/x\?c=1&token=REDACTED$}m, 'CGI: REQUEST_URI');
like($env, qr{^HTTP_REFERER=https://app\.example/\?token=REDACTED$}m,
     'CGI: HTTP_REFERER');
ok(index($env, $sig{cgi}) < 0, 'CGI: no signature in its environment');

# mod_status shows a request in flight (the CGI sleeps 5 s).
$t = token('status');
my $bg = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                               Proto => 'tcp', Timeout => 20) or die $!;
print {$bg} request("GET /pv-cgi/x?sleep=1&token=$t HTTP/1.1");
my $page = '';
for (1 .. 40) {
    $resp = raw(request('GET /server-status HTTP/1.1'));
    $page = body($resp);
    last if $page =~ m{/pv-cgi/x\?sleep=1};
    select undef, undef, undef, 0.1;
}
like($page, qr{GET /pv-cgi/x\?sleep=1&amp;token=REDACTED HTTP/1\.1},
     'server-status: the request in flight, redacted');
ok(index($page, $sig{status}) < 0, 'server-status: no signature');
{ local $/; my $r = <$bg>; close $bg; is(status($r // ''), 200, 'the slow CGI: 200') }

# The handlers still get the token: preview (above) and logout.
$t = token('logout', $uid_out);
$resp = raw(request("POST /logout?token=$t HTTP/1.1", 'Content-Length: 0'));
is(status($resp), 204, 'logout with the token in the query: 204');
is(status(raw(request("GET /preview/$img?token=$t HTTP/1.1"))), 401,
   'that token is revoked now (the logout read the real one)');

# ---- HTTP/2 (h2c, prior knowledge): no request line to filter; the
# request is redacted at post_read_request, before every other module.
sub h2 {
    my ($path, @opt) = @_;
    my $out = `curl -s --http2-prior-knowledge --path-as-is -o /dev/null -w '%{http_version} %{http_code}' @opt 'http://$hostport$path'`;
    return $out;
}
$t = token('h2_ok');
is(h2("/preview/$img?token=$t"), '2 200', 'h2: the preview with the token');
$t = token('h2_dotdot');
is(h2("/../preview/$img?token=$t"), '2 400', 'h2: /../ 400');
$t = token('h2_encslash');
is(h2("/preview/$img%2F?access_token=$t"), '2 404', 'h2: encoded slash 404');
$t = token('h2_referer');
is(h2('/pv-wire-none', '-H', "'Referer: https://app.example/?token=$t'"),
   '2 404', 'h2: a Referer with a token, 404');

# ---- the logs
sub slurp {
    my ($name) = @_;
    open my $fh, '<', log_path($name) or return '';
    local $/;
    return <$fh>;
}
my ($elog, $alog) = ('', '');
for (1 .. 50) {
    ($elog, $alog) = (error_log_text(), slurp('access_log'));
    last if $alog =~ /pv-wire-none/ && $alog =~ /HTTP\/2\.0" 404 .*pv-wire-none/;
    select undef, undef, undef, 0.1;
}

for my $shape (sort keys %sig) {
    ok(index($elog, $sig{$shape}) < 0, "error_log: no signature ($shape)");
    ok(index($alog, $sig{$shape}) < 0, "access_log: no signature ($shape)");
}

# The lines that showed the token before, now with REDACTED.
like($elog, qr{AH10244: invalid URI path \(/\.\./preview/$img\?token=REDACTED\)},
     'AH10244 (error): the path with token=REDACTED');
like($elog, qr{AH10244: invalid URI path \(/\.\./preview/$img\?w=64&access_token=REDACTED\)},
     'AH10244: access_token=REDACTED');
like($elog, qr{AH00026: found %2f \(encoded '/'\) in URI path \(/preview/$img%2F\?token=REDACTED\)},
     'AH00026 (info): token=REDACTED');
like($elog, qr{AH00570: [^\n]*, referer: https://app\.example/p\?a=1&token=REDACTED&b=2\n},
     'AH00570 (a 417 before any hook): referer with token=REDACTED');
like($alog, qr{"GET /rw2/$img/a%20HTTP/1\?token=REDACTED HTTP/1\.1" 403 \d+ /rw2/$img/a HTTP/1 \?p=a HTTP/1&token=REDACTED\n},
     'access_log: %r, %U and %q of the [PT,QSA] rewrite');
