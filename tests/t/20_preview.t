# preview: who may see what. The owner gets 200 with every header at its
# exact value; someone else's image, a missing id and a malformed id give
# byte-identical 404s; no token, a bad token and a revoked token are 401
# with WWW-Authenticate; every token source works; only GET and HEAD;
# HEAD has GET's headers and no body; ETag and If-None-Match give 304
# without a render; the request notes are logged.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh json_body post_form);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     response_text image_info render_count record_token);
use PreviewLog qw(log_lines);

plan tests => 71;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv20');
make_plain("$dir/a.jpg", 640, 480);

my ($alice, $atok) = new_user($dbh, 'alice');
my ($bob,   $btok) = new_user($dbh, 'bob');
my $img_a = add_image($dbh, $alice, "$rel/a.jpg");
my $img_b = add_image($dbh, $bob,   "$rel/a.jpg");
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');

my $unauth = { error => 'invalid_token',
               message => 'missing, invalid, expired or revoked token' };
my $notfound = { error => 'not_found', message => 'no such image' };
my $www = 'Bearer realm="preview", error="invalid_token"';

# ---- the owner: 200 and every header
my $t0 = time;
my $res = preview($img_a, token => $atok);
is($res->code, 200, 'owner: 200') or diag $res->as_string;
is($res->header('Content-Type'), 'image/jpeg', 'Content-Type image/jpeg');
is($res->header('Content-Length'), length($res->content),
   'Content-Length exact');
like($res->header('ETag'), qr/^"[0-9a-f]{32}"$/, 'strong ETag, 32 hex');
my ($age) = ($res->header('Cache-Control') // '') =~
    /^private, max-age=(\d+)$/;
ok(defined $age && $age <= 86400 && $age >= 86400 - (time - $t0) - 5,
   'Cache-Control: private, max-age = the token lifetime left')
    or diag $res->header('Cache-Control');
is($res->header('Vary'), 'Accept', 'Vary: Accept (format negotiated)');
is($res->header('Referrer-Policy'), 'no-referrer', 'Referrer-Policy');
is($res->header('X-Content-Type-Options'), 'nosniff', 'nosniff');
is(image_info($res->content)->{width}, 256, '640x480 in the 256 box: 256 wide');
is(image_info($res->content)->{height}, 192, '... 192 high');
my $etag = $res->header('ETag');
ok(index($etag, $atok) < 0, 'the ETag is not the token');

# The same request again: the same ETag (stat-based, deterministic).
my $again = preview($img_a, token => $atok);
is($again->header('ETag'), $etag, 'same ETag for the same request');
# Another box: another ETag.
isnt(preview($img_a, token => $atok, query => 'w=128')->header('ETag'),
     $etag, 'another size, another ETag');

# ---- not theirs / missing / malformed id: identical 404s
my $other = preview($img_b, token => $atok);
my $gone  = preview($missing, token => $atok);
my $bad   = preview(undef, path => '/preview/12abc', token => $atok);
is($other->code, 404, "someone else's image: 404");
is_deeply(json_body($other), $notfound, '... JSON body');
is(response_text($gone), response_text($other),
   'missing id: byte-identical 404');
is(response_text($bad), response_text($other),
   'malformed id: byte-identical 404');
is($other->header('Referrer-Policy'), 'no-referrer', '404 has Referrer-Policy');
is($other->header('WWW-Authenticate'), undef, '404: no WWW-Authenticate');
for my $p ('/preview/' . ('9' x 21), '/preview/-1', '/preview/1/',
           '/preview/', '/preview/18446744073709551616') {
    is(response_text(preview(undef, path => $p, token => $atok)),
       response_text($other), "$p: the same 404");
}
is(preview(undef, path => '/preview/18446744073709551615', token => $atok)
   ->code, 404, 'u64 max: a valid id, no such image: 404');
# Bob sees his own row of the same file.
is(preview($img_b, token => $btok)->code, 200, 'bob: his own image 200');

# ---- 401s
for my $case ([ 'no token', {} ],
              [ 'garbage token', { token => 'abc.def.ghi' } ],
              [ "alice's token with a flipped bit",
                { token => substr($atok, 0, -2)
                      . (substr($atok, -2, 1) eq 'A' ? 'B' : 'A')
                      . substr($atok, -1) } ]) {
    my ($what, $o) = @$case;
    my $r = preview($img_a, %$o);
    is($r->code, 401, "$what: 401");
    is_deeply(json_body($r), $unauth, "$what: body");
    is($r->header('WWW-Authenticate'), $www, "$what: WWW-Authenticate");
}
# 401 comes before 400 and 404: an anonymous client learns nothing.
is(preview($img_a, query => 'w=abc')->code, 401, 'no token + bad w: 401');
is(preview(undef, path => '/preview/x')->code, 401, 'no token + bad id: 401');

# ---- every token source
my @h;
is(preview($img_a, headers => [ Authorization => "Bearer $atok" ])->code,
   200, 'Authorization: Bearer');
is(preview($img_a, query => "access_token=$atok")->code, 200,
   'query access_token');
is(preview($img_a, headers => [ Cookie => "x=1; preview_token=$atok" ])
   ->code, 200, 'login cookie');
# The header wins over a bad query token.
is(preview($img_a, token => 'bad', headers => [ Authorization =>
   "Bearer $atok" ])->code, 200, 'Bearer first');
# token= is found even when another parameter is malformed: then 400.
is(preview($img_a, token => $atok, query => 'w=abc')->code, 400,
   'token + bad w: 400');

# ---- methods
my $post = Apache::TestRequest::POST("/preview/$img_a?token=$atok",
                                     content => 'x');
is($post->code, 405, 'POST: 405');
is($post->header('Allow'), 'GET, HEAD', '... Allow: GET, HEAD');
is_deeply(json_body($post), { error => 'method_not_allowed',
                              message => 'method not allowed' }, '... body');
my $del = Apache::TestRequest::PUT("/preview/$img_a?token=$atok", content => "x");
is($del->code, 405, "PUT: 405");

# ---- HEAD: the same headers, no body
my $head = preview($img_a, token => $atok, method => 'HEAD');
is($head->code, 200, 'HEAD: 200');
is($head->content, '', 'HEAD: no body');
for my $h (qw(Content-Type Content-Length ETag Vary Referrer-Policy
              X-Content-Type-Options)) {
    is($head->header($h), $res->header($h), "HEAD: $h as GET's");
}

# ---- conditional GET
my $n = render_count($img_a);
my $nm = preview($img_a, token => $atok,
                 headers => [ 'If-None-Match' => $etag ]);
is($nm->code, 304, 'If-None-Match: 304');
is($nm->content, '', '304: empty body');
is($nm->header('ETag'), $etag, '304: the ETag');
like($nm->header('Cache-Control') // '', qr/^private, max-age=\d+$/,
     '304: Cache-Control');
is($nm->header('Vary'), 'Accept', '304: Vary');
is(render_count($img_a), $n, '304: no render');
is(preview($img_a, token => $atok,
           headers => [ 'If-None-Match' => qq{"nope", W/$etag} ])->code,
   304, 'a list with a weak match: 304 (weak comparison)');
is(preview($img_a, token => $atok,
           headers => [ 'If-None-Match' => '*' ])->code, 304, '*: 304');
my $nm2 = preview($img_a, token => $atok,
                  headers => [ 'If-None-Match' => '"0123"' ]);
is($nm2->code, 200, 'another ETag: 200');
is(render_count($img_a), $n + 1, '... rendered once');
# The conditional is checked only after the owner check.
is(preview($img_b, token => $atok,
           headers => [ 'If-None-Match' => '*' ])->code, 404,
   "If-None-Match: * on someone else's image: still 404");

# ---- revoked (logout) and a deleted user
my ($carol, $ctok) = new_user($dbh, 'carol');
my $img_c = add_image($dbh, $carol, "$rel/a.jpg");
is(preview($img_c, token => $ctok)->code, 200, 'carol: 200 before logout');
my $lo = Apache::TestRequest::POST('/logout',
    Authorization => "Bearer $ctok", content => '');
is($lo->code, 204, 'carol logs out');
my $rv = preview($img_c, token => $ctok);
is($rv->code, 401, 'revoked token: 401');
is($rv->header('WWW-Authenticate'), $www, '... WWW-Authenticate');
my ($dave, $dtok) = new_user($dbh, 'dave');
$dbh->do('DELETE FROM users WHERE id = ?', undef, $dave);
is(preview($img_a, token => $dtok)->code, 401, 'deleted user: 401');

# ---- the request notes (LogFormat in extra.conf.in)
my $marker = 'v=' . time . $$;
preview($img_a, token => $atok, query => $marker);
# The access log is written after the response has been sent: wait for it.
my ($line) = log_lines('preview_log', qr/\Q$marker\E/);
like($line // '', qr/^$alice $img_a off \d+\.\d{3} "GET \/preview\/$img_a\?token=REDACTED&\Q$marker\E HTTP\/1\.1" \/preview\/$img_a\?token=REDACTED&\Q$marker\E 200$/,
     'notes: user, image, cache off, ms; %r and %q redacted');
