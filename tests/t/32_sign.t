# preview-sign and URL tokens: POST ids with a login token (header or
# cookie, never the query) -> a preview URL per image of the user's, each
# with a token for that image only (claim img), the same within a window
# of half its lifetime; a URL token opens its image and nothing else (not
# another image, not logout, not sign), dies with a logout and at its exp;
# PreviewQueryTokens scoped keeps login tokens out of preview URLs; the
# ETag and the cache do not depend on the token.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use JSON::PP ();
use MIME::Base64 ();
use Time::HiRes qw(time sleep);
use PreviewLogin qw(dbh json_body pyjwt_mint pyjwt_decode key_file db_stop
                    db_start);
use PreviewImages qw(fixture_dir make_plain add_image new_user record_token
                     image_info render_count);
use PreviewTest qw(configtest scratch_dir write_file test_key_line);

plan tests => 151;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv30');
make_plain("$dir/a1.jpg", 640, 480);
make_plain("$dir/a2.jpg", 320, 160);
make_plain("$dir/a3.jpg", 160, 320);
make_plain("$dir/b1.jpg", 64, 48);

my ($alice, $atok, $aname, $apw) = new_user($dbh, 'salice');
my ($bob, $btok) = new_user($dbh, 'sbob');
my $a1 = add_image($dbh, $alice, "$rel/a1.jpg");
my $a2 = add_image($dbh, $alice, "$rel/a2.jpg");
my $a3 = add_image($dbh, $alice, "$rel/a3.jpg");
my $b1 = add_image($dbh, $bob, "$rel/b1.jpg");

my $invalid = { error => 'invalid_token',
                message => 'missing, invalid, expired or revoked token' };

# POST a body to a sign location: opt token (Bearer), cookie, query, json
# (the body is then JSON text), vhost, ctype.
sub sign {
    my ($path, $body, %opt) = @_;
    my @h = ('Content-Type' => $opt{ctype}
                 // ($opt{json} ? 'application/json'
                                : 'application/x-www-form-urlencoded'));
    push @h, Authorization => "Bearer $opt{token}" if defined $opt{token};
    push @h, Cookie => $opt{cookie} if defined $opt{cookie};
    $path .= "?$opt{query}" if defined $opt{query};
    Apache::TestRequest::module($opt{vhost}) if $opt{vhost};
    my $res = Apache::TestRequest::POST($path, @h, content => $body);
    Apache::TestRequest::module('default') if $opt{vhost};
    return $res;
}

# The urls of a 200 (every token recorded for 99_no_tokens_in_logs.t).
sub urls_of {
    my ($res) = @_;
    my $j = json_body($res) // {};
    record_token($_ =~ /[?&]token=([^&]+)/ ? $1 : ()) for values %{ $j->{urls} // {} };
    return $j->{urls} // {};
}

sub token_of { my ($url) = @_; return $url =~ /[?&]token=([^&]+)/ ? $1 : '' }

sub get {
    my ($url, %opt) = @_;
    Apache::TestRequest::module($opt{vhost}) if $opt{vhost};
    my $res = Apache::TestRequest::GET($url, @{ $opt{headers} // [] });
    Apache::TestRequest::module('default') if $opt{vhost};
    return $res;
}

sub is_401 {
    my ($res, $what) = @_;
    is($res->code, 401, "$what: 401") or diag $res->as_string;
    is_deeply(json_body($res), $invalid, "$what: invalid_token body");
    is($res->header('WWW-Authenticate'),
       'Bearer realm="preview", error="invalid_token"',
       "$what: WWW-Authenticate");
}

# Wait until the next window of $window s starts unless $margin s (30)
# are left of this one: two calls a few seconds apart then fall in one
# window (3600 s: windows of 1800 s), or one call at a window's start.
sub away_from_window_end {
    my ($window, $margin) = @_;
    my $left = $window - (time - int(time / $window) * $window);
    sleep($left + 0.2) if $left < ($margin // 30);
}

# --- 3 own ids + 1 foreign: 3 URLs, each renders ------------------------
away_from_window_end(1800);
my $res = sign('/sign', "ids=$a1,$a2&ids=$a3,$b1&w=128", token => $atok);
is($res->code, 200, 'sign: 200') or diag $res->as_string;
is($res->header('Content-Type'), 'application/json', 'sign: JSON');
is($res->header('Cache-Control'), 'no-store', 'sign: no-store');
my $t_sign = time;
my $body = json_body($res);
my $urls = urls_of($res);
is_deeply([sort keys %$urls], [sort { $a <=> $b } $a1, $a2, $a3],
          "sign: URLs for alice's three images, bob's $b1 absent");
ok($body->{expires_in} > 1800 && $body->{expires_in} <= 3600,
   "expires_in $body->{expires_in}: more than half of 3600, at most 3600");
for my $id ($a1, $a2, $a3) {
    like($urls->{$id}, qr{^/preview/$id\?token=[\w-]+\.[\w-]+\.[\w-]+&w=128$},
         "URL of $id: /preview/$id?token=...&w=128");
}
my %want = ($a1 => [128, 96], $a2 => [128, 64], $a3 => [128, 256]);
for my $id ($a1, $a2, $a3) {
    my $r = get($urls->{$id});
    is($r->code, 200, "URL of $id: 200 without any other credential");
    is($r->header('Content-Type'), 'image/jpeg', "URL of $id: a JPEG");
    my $i = image_info($r->content);
    is("$i->{width}x$i->{height}", join('x', @{ $want{$id} }),
       "URL of $id: " . join('x', @{ $want{$id} }));
    my $max_age = ($r->header('Cache-Control') // '') =~ /max-age=(\d+)/
        ? $1 : -1;
    ok($max_age > 1790 && $max_age <= 3600,
       "URL of $id: Cache-Control max-age $max_age, the token's time left");
}

# --- the token: PyJWT reads it; img a string, exp within the TTL, ver ----
my $claims = pyjwt_decode(token_of($urls->{$a1}), key_file());
is($claims->{claims}{img}, "$a1", 'PyJWT: img is the image id');
like(MIME::Base64::decode_base64url((split /\./, token_of($urls->{$a1}))[1]),
     qr/"img":"$a1"/, 'the claims hold img as a JSON string');
is($claims->{claims}{sub}, "$alice", 'PyJWT: sub is alice');
is($claims->{claims}{ver}, 0, 'PyJWT: ver is her token_version');
is($claims->{claims}{aud}, 'preview', 'PyJWT: aud preview');
is($claims->{claims}{exp} - $claims->{claims}{iat}, 3600, 'PyJWT: exp - iat = 3600');
ok($claims->{claims}{exp} - int($t_sign) <= 3600
   && $claims->{claims}{iat} <= $t_sign + 1, 'PyJWT: exp at most 3600 s away, iat not ahead');
is($claims->{claims}{iat} % 1800, 0, 'PyJWT: iat at the start of a window of 1800 s');
is($claims->{header}{kid}, pyjwt_decode($atok, key_file())->{header}{kid},
   'PyJWT: kid of the signing key, as the login token');

# --- stable within the window ------------------------------------------
sleep 1;
my $again = urls_of(sign('/sign', "ids=$a3,$a1,$a2&w=128", token => $atok));
is_deeply($again, $urls, 'a second later: the same URLs');
my $json = urls_of(sign('/sign',
    JSON::PP->new->encode({ ids => [$a1 + 0, "$a2"], w => 128 }), json => 1,
    token => $atok));
is_deeply($json, { $a1 => $urls->{$a1}, $a2 => $urls->{$a2} },
          'JSON body, ids as number and string: the same URLs');
my $cookie = urls_of(sign('/sign', "ids=$a1&w=128",
                          cookie => "preview_token=$atok"));
is($cookie->{$a1}, $urls->{$a1}, 'login token from the cookie: the same URL');
my $other = urls_of(sign('/sign', "ids=$a1&w=64&fit=cover&format=webp&q=75",
                         token => $atok));
like($other->{$a1},
     qr{^/preview/$a1\?token=[\w.-]+&w=64&fit=cover&format=webp&q=75$},
     'the other parameters, in canonical order');
is(token_of($other->{$a1}), token_of($urls->{$a1}),
   'the token does not depend on the parameters');

# --- a URL token opens its image and nothing more ----------------------
my $t1 = token_of($urls->{$a1});
my $r404 = get("/preview/$a2?token=$t1&w=128");
is($r404->code, 404, "URL token of $a1 on $a2 (alice's too): 404");
my $foreign = get("/preview/$b1?token=$atok");
is($r404->content, $foreign->content,
   '... the same body as for someone else\'s image');
is($r404->header('Content-Type'), $foreign->header('Content-Type'),
   '... the same Content-Type');
is_401(Apache::TestRequest::POST('/logout', Authorization => "Bearer $t1",
                                 content => ''), 'URL token at logout (Bearer)');
is_401(Apache::TestRequest::POST("/logout?token=$t1", content => ''),
       'URL token at logout (query)');
is_401(sign('/sign', "ids=$a1", token => $t1), 'URL token at sign');
is_401(sign('/sign', "ids=$a1", cookie => "preview_token=$t1"),
       'URL token at sign (cookie)');
is_401(sign('/sign', "ids=$a1", query => "token=$atok"),
       'login token in the query at sign');
is_401(sign('/sign', "ids=$a1", query => "access_token=$atok",
            cookie => "preview_token=$atok"),
       'login token in the query at sign, a cookie too: the query is first');
is_401(sign('/sign', "ids=$a1"), 'sign without a token');

# --- PyJWT-minted URL tokens: a backend can make them ------------------
my $now = time;
my %c = (sub => "$alice", aud => 'preview', iat => int($now),
         exp => int($now) + 600, ver => 0, img => "$a2");
my $py = record_token(pyjwt_mint(\%c, key_file()));
my $r = get("/preview/$a2?w=64&token=$py");
is($r->code, 200, 'PyJWT URL token for its image: 200');
is(image_info($r->content)->{width}, 64, '... 64 wide');
is(get("/preview/$a1?token=$py")->code, 404, 'PyJWT URL token, another image: 404');
is_401(get("/preview/$a2?token=" . record_token(pyjwt_mint(
           { %c, exp => int($now) - 3600, iat => int($now) - 7200 }, key_file()))),
       'expired URL token');
is_401(get("/preview/$a2?token=" . record_token(pyjwt_mint(
           { %c, img => $a2 + 0 }, key_file()))),
       'img as a number');
is_401(get("/preview/$a2?token=" . record_token(pyjwt_mint(
           { %c, img => "0$a2" }, key_file()))),
       'img with a leading zero');
{
    my $cli = `"$ENV{PV_CLI}" mint --key-file "@{[key_file()]}" --sub $alice --img $a3 --ttl 60`;
    chomp $cli;
    record_token($cli);
    is(get("/preview/$a3?token=$cli")->code, 200,
       'preview-token mint --img: 200 for its image');
    is(get("/preview/$a1?token=$cli")->code, 404, '... 404 for another');
}

# --- errors ------------------------------------------------------------
$res = Apache::TestRequest::GET('/sign', Authorization => "Bearer $atok");
is($res->code, 405, 'GET /sign: 405');
is($res->header('Allow'), 'POST', '... Allow: POST');
$res = sign('/sign', "ids=$a1", token => $atok, ctype => 'text/plain');
is($res->code, 415, 'text/plain: 415');
is(json_body($res)->{error}, 'unsupported_media_type', '... its error code');
$res = sign('/sign', "ids=$a1&pad=" . ('x' x 8192), token => $atok);
is($res->code, 413, 'a body over 8192 bytes: 413');
is_deeply(json_body($res), { error => 'body_too_large',
                             message => 'the sign body is limited to 8192 bytes' },
          '... its body');
for my $case (["ids=$a1,x", 'invalid parameter: ids'],
              ["ids=$a1,", 'invalid parameter: ids'],
              ['ids=0', 'invalid parameter: ids'],
              ['w=64', 'missing parameter: ids'],
              ['ids=' . join(',', 1 .. 201), 'too many ids: at most 200'],
              ["ids=$a1&w=007", 'invalid parameter: w'],
              ["ids=$a1&fit=fill", 'invalid parameter: fit'],
              ["ids=$a1&ttl=0", 'invalid parameter: ttl']) {
    my ($b, $msg) = @$case;
    $res = sign('/sign', $b, token => $atok);
    is($res->code, 400, "'" . substr($b, 0, 30) . "': 400");
    is_deeply(json_body($res), { error => 'bad_request', message => $msg },
              "... $msg");
}
$res = sign('/sign', '{"ids":[1],"ids":[2]}', json => 1, token => $atok);
is_deeply([$res->code, json_body($res)->{message}], [400, 'malformed JSON body'],
          'JSON with a duplicate key: 400');
is_deeply(urls_of(sign('/sign', "ids=$b1", token => $atok)), {},
          "only bob's image: 200 with no URL");

# --- windows: a tiny PreviewURLTokenTTL (4 s: windows of 2 s) ----------
away_from_window_end(2, 1.5);
$res = sign('/sign', "ids=$a1&ttl=3600", token => $atok, vhost => 'pv_sign_short');
my $s1 = urls_of($res)->{$a1};
ok(json_body($res)->{expires_in} > 2 && json_body($res)->{expires_in} <= 4,
   'pv_sign_short: ttl=3600 lowered to PreviewURLTokenTTL 4 (expires_in '
   . json_body($res)->{expires_in} . ')');
my $sc = pyjwt_decode(token_of($s1), key_file())->{claims};
is($sc->{exp} - $sc->{iat}, 4, 'pv_sign_short: exp - iat = 4');
is(get($s1, vhost => 'pv_sign_short')->code, 200, 'pv_sign_short: the URL works');
sleep 2.1;
my $s2 = urls_of(sign('/sign', "ids=$a1", token => $atok,
                      vhost => 'pv_sign_short'))->{$a1};
isnt($s2, $s1, 'after the window: a new URL');
is(get($s2, vhost => 'pv_sign_short')->code, 200, '... which works');
# a request's own shorter ttl: its own windows
$res = sign('/sign', "ids=$a1&ttl=60", token => $atok);
ok(json_body($res)->{expires_in} > 30 && json_body($res)->{expires_in} <= 60,
   'ttl=60: expires_in ' . json_body($res)->{expires_in});
isnt(urls_of($res)->{$a1}, $urls->{$a1}, 'ttl=60: another token than ttl 3600');

# --- a new token for the same preview: a cache hit, and a 304 ----------
{
    my $before = render_count($a1);
    my $first = urls_of(sign('/sign', "ids=$a1&w=256&ttl=2", token => $atok,
                             vhost => 'pv_cache'))->{$a1};
    my $r1 = get($first, vhost => 'pv_cache');
    is($r1->code, 200, 'pv_cache: the first URL renders');
    my $etag = $r1->header('ETag');
    like($etag, qr/^"[0-9a-f]{32}"$/, '... with a strong ETag');
    sleep 1.1;
    my $second = urls_of(sign('/sign', "ids=$a1&w=256&ttl=2", token => $atok,
                              vhost => 'pv_cache'))->{$a1};
    isnt(token_of($second), token_of($first), 'a second later (ttl 2): a new token');
    my $r2 = get($second, vhost => 'pv_cache');
    is($r2->code, 200, 'the new URL: 200');
    is($r2->header('ETag'), $etag, '... the same ETag');
    is($r2->content, $r1->content, '... the same bytes');
    is(render_count($a1) - $before, 1, '... from the cache: one render in all');
    my $r3 = get($second, vhost => 'pv_cache',
                 headers => ['If-None-Match' => $etag]);
    is($r3->code, 304, 'the new URL with the old ETag: 304');
    is($r3->header('ETag'), $etag, '... ETag unchanged');
}

# --- PreviewQueryTokens scoped -----------------------------------------
$res = sign('/sign-scoped', "ids=$a1&w=64", token => $atok);
my $scoped = urls_of($res)->{$a1};
like($scoped, qr{^/preview-scoped/$a1\?token=[\w.-]+&w=64$},
     'PreviewSignLocation /preview-scoped: the URLs point there');
is(get($scoped)->code, 200, 'scoped: a URL token in ?token=: 200');
is(get("/preview-scoped/$a1?w=64&access_token=" . token_of($scoped))->code,
   200, 'scoped: a URL token in ?access_token=: 200');
is_401(get("/preview-scoped/$a1?w=64&token=$atok"),
       'scoped: the login token in ?token=');
is_401(get("/preview-scoped/$a1?w=64&access_token=$atok"),
       'scoped: the login token in ?access_token=');
is(get("/preview-scoped/$a1?w=64", headers => [Authorization => "Bearer $atok"])
       ->code, 200, 'scoped: the login token in Authorization: 200');
is(get("/preview-scoped/$a1?w=64", headers => [Cookie => "preview_token=$atok"])
       ->code, 200, 'scoped: the login token in the cookie: 200');
is(get("/preview/$a1?w=64&token=$atok")->code, 200,
   'PreviewQueryTokens any (/preview): the login token in ?token=: 200');
is_401(Apache::TestRequest::POST("/logout-scoped?token=$atok", content => ''),
       'scoped logout: the login token in the query');
like(urls_of(sign('/sign-cdn', "ids=$a1", token => $atok))->{$a1},
     qr{^https://cdn\.example\.com/p/$a1\?token=[\w.-]+$},
     'PreviewSignLocation https://cdn.example.com/p');

# --- a logout ends every URL token -------------------------------------
my ($carol, $ctok) = new_user($dbh, 'scarol');
my $c1 = add_image($dbh, $carol, "$rel/b1.jpg");
my $cu = urls_of(sign('/sign', "ids=$c1", token => $ctok))->{$c1};
is(get($cu)->code, 200, "carol's URL: 200");
is(Apache::TestRequest::POST('/logout', Authorization => "Bearer $ctok",
                             content => '')->code, 204, 'carol logs out');
is_401(get($cu), "carol's URL after her logout");
is_401(sign('/sign', "ids=$c1", token => $ctok), 'sign with her old login token');

# --- MariaDB down: 503 -------------------------------------------------
{
    db_stop();
    my $res = sign('/sign', "ids=$a1", token => $atok);
    db_start();
    is($res->code, 503, 'MariaDB down: 503');
    is($res->header('Retry-After'), '5', '... Retry-After: 5');
    is(json_body($res)->{error}, 'unavailable', '... unavailable');
    my $back;
    for (1 .. 20) {
        $back = sign('/sign', "ids=$a1&w=128", token => $atok);
        last if $back->code == 200;
        sleep 0.5;
    }
    is($back->code, 200, 'MariaDB back: 200');
}

# --- the new directives at start-up ------------------------------------
{
    my ($rc, $out) = configtest("PreviewURLTokenTTL 0\n");
    ok($rc != 0 && $out =~ /PreviewURLTokenTTL: '0' is out of range/,
       'PreviewURLTokenTTL 0 refused, named') or diag $out;
    ($rc, $out) = configtest("PreviewQueryTokens some\n");
    ok($rc != 0 && $out =~ /PreviewQueryTokens: 'some' is not any or scoped/,
       'PreviewQueryTokens some refused, named') or diag $out;
    for my $bad ('preview', '/preview/', '/', '//cdn.example.com/p',
                 '/p?x=1', 'https:///p', 'ftp://h/p', '"/p q"') {
        ($rc, $out) = configtest("PreviewSignLocation $bad\n");
        my $shown = $bad =~ s/"//gr;
        ok($rc != 0 && $out =~ /PreviewSignLocation: '\Q$shown\E' is not a URL path/,
           "PreviewSignLocation $bad refused, named") or diag $out;
    }
    ($rc, $out) = configtest(<<'CONF');
PreviewURLTokenTTL 900
PreviewQueryTokens scoped
PreviewSignLocation https://img.example.com:8443/drive/preview
<Location /p>
    PreviewQueryTokens any
    PreviewSignLocation /p
</Location>
CONF
    is($rc, 0, 'good values pass') or diag $out;
}
