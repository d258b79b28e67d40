# CORS (vhost pv_cors: PreviewCORSOrigins https://app.example.net
# HTTP://LocalHost:5173, no PreviewLoginOrigins). A preflight from a listed
# origin is 204 with exactly the Access-Control-* headers a browser needs
# for a credentialed fetch(); from another origin, or on a server without
# the list, 403 cross_origin without any. Actual answers of login, logout
# and sign to a listed Origin carry Access-Control-Allow-Origin and
# -Allow-Credentials (errors too), to another one nothing; a listed origin
# passes login's own cross-site check. configtest refuses '*', paths and
# null.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form uniq);
use PreviewImages qw(record_token);
use PreviewLog qw(log_count);
use PreviewTest qw(configtest);

plan tests => 78;

my $APP   = 'https://app.example.net';
my $LOCAL = 'http://localhost:5173';
my $EVIL  = 'https://evil.example';

my $dbh = dbh();
my $name = uniq('cors');
my $pw = 'pw-cors-Secret-3';
add_user($dbh, $name, bcrypt_hash($pw));
Apache::TestRequest::module('pv_cors');

sub preflight {
    my ($path, $origin, @more) = @_;
    return Apache::TestRequest::OPTIONS($path, Origin => $origin,
        'Access-Control-Request-Method' => 'POST',
        'Access-Control-Request-Headers' => 'authorization,content-type',
        @more);
}

sub cors_headers {
    my ($res) = @_;
    return join ', ', sort grep { /^Access-Control-/i } $res->headers->header_field_names;
}

sub vary_origin {
    my ($res) = @_;
    return scalar grep { /^\s*origin\s*$/i } split /,/,
        join(',', $res->header('Vary') // '');
}

# ---- preflight from a listed origin: 204, exact headers, no body
for my $case (['/login', $APP], ['/logout', $APP], ['/sign', $LOCAL]) {
    my ($path, $origin) = @$case;
    my $res = preflight($path, $origin);
    is($res->code, 204, "preflight $path from $origin: 204")
        or diag $res->as_string;
    is($res->header('Access-Control-Allow-Origin'), $origin,
       "$path: Allow-Origin echoes the listed origin");
    is($res->header('Access-Control-Allow-Credentials'), 'true',
       "$path: Allow-Credentials true");
    is($res->header('Access-Control-Allow-Methods'), 'POST',
       "$path: Allow-Methods POST");
    is($res->header('Access-Control-Allow-Headers'),
       'Authorization, Content-Type', "$path: Allow-Headers");
    is($res->header('Access-Control-Max-Age'), '600', "$path: Max-Age 600");
    ok(vary_origin($res), "$path: Vary: Origin");
    is($res->content, '', "$path: no body");
}

# ---- preflight from an origin not listed: 403 cross_origin, no CORS header
my $refused = log_count(qr/PV1700: CORS preflight from \S+ refused: \Q$EVIL\E is not in PreviewCORSOrigins/);
for my $path ('/login', '/logout', '/sign') {
    my $res = preflight($path, $EVIL);
    is($res->code, 403, "preflight $path from $EVIL: 403");
    is((json_body($res) // {})->{error}, 'cross_origin',
       "$path: error cross_origin");
    is(cors_headers($res), '', "$path: no Access-Control-* header");
}
is(log_count(qr/PV1700: CORS preflight from \S+ refused: \Q$EVIL\E is not in PreviewCORSOrigins/) - $refused,
   3, 'PV1700 at info for each refused preflight');
{
    # a listed host on another port or scheme is another origin
    my $res = preflight('/login', 'http://app.example.net');
    is($res->code, 403, 'preflight from http://app.example.net (https listed): 403');
    is(cors_headers($res), '', '... no Access-Control-* header');
}

# ---- OPTIONS that is no preflight: 405 as before
{
    my $res = Apache::TestRequest::OPTIONS('/login', Origin => $APP);
    is($res->code, 405, 'OPTIONS without Access-Control-Request-Method: 405');
    is($res->header('Allow'), 'POST', '... Allow: POST');
}

# ---- actual login from a listed origin: 200, readable, cookie set
my $token;
{
    my $res = post_form('/login', { username => $name, password => $pw },
                        Origin => $APP);
    is($res->code, 200, 'login with Origin of a CORS origin: 200 (passes the cross-site check)')
        or diag $res->code . ' ' . $res->content;
    $token = record_token((json_body($res) // {})->{token} // '');
    is($res->header('Access-Control-Allow-Origin'), $APP, '... Allow-Origin');
    is($res->header('Access-Control-Allow-Credentials'), 'true',
       '... Allow-Credentials true (login sets a cookie)');
    is($res->header('Access-Control-Expose-Headers'),
       'Retry-After, WWW-Authenticate', '... Expose-Headers');
    ok(vary_origin($res), '... Vary: Origin');
    ok(defined $res->header('Set-Cookie'), '... Set-Cookie');
    ok(!defined $res->header('Access-Control-Allow-Methods'),
       '... no preflight header on an actual answer');
}
{
    my $res = post_form('/login', { username => $name, password => 'wrong' },
                        Origin => $LOCAL);
    is($res->code, 401, 'wrong password from a CORS origin: 401');
    is($res->header('Access-Control-Allow-Origin'), $LOCAL,
       '... the error is readable too (Allow-Origin)');
    is($res->header('Access-Control-Allow-Credentials'), 'true',
       '... Allow-Credentials');
}
{
    my $res = post_form('/login', { username => $name, password => $pw },
                        Origin => $EVIL);
    is($res->code, 403, 'login from an origin not listed: 403');
    is((json_body($res) // {})->{error}, 'cross_origin', '... cross_origin');
    is(cors_headers($res), '', '... no Access-Control-* header');
    ok(vary_origin($res), '... Vary: Origin');
}
{
    my $res = post_form('/login', { username => $name, password => $pw });
    is($res->code, 200, 'login without Origin: 200');
    is(cors_headers($res), '', '... no Access-Control-* header');
    ok(vary_origin($res), '... Vary: Origin');
    record_token((json_body($res) // {})->{token} // '');
}

# ---- sign and logout from a listed origin, with the Bearer header
{
    my $res = post_form('/sign', { ids => '1' }, Origin => $LOCAL,
                        Authorization => "Bearer $token");
    is($res->code, 200, 'sign from a CORS origin: 200') or diag $res->content;
    is($res->header('Access-Control-Allow-Origin'), $LOCAL, '... Allow-Origin');
    is($res->header('Access-Control-Allow-Credentials'), 'true',
       '... Allow-Credentials');
}
{
    my $res = post_form('/sign', { ids => '1' }, Origin => $EVIL,
                        Authorization => "Bearer $token");
    is($res->code, 200, 'sign from another origin: answered (the browser keeps it from the page)');
    is(cors_headers($res), '', '... without any Access-Control-* header');
}
{
    my $res = post_form('/sign', { ids => '1' }, Origin => $APP);
    is($res->code, 401, 'sign without a token from a CORS origin: 401');
    is($res->header('Access-Control-Allow-Origin'), $APP,
       '... Allow-Origin on the error');
}
{
    my $res = Apache::TestRequest::POST('/logout', Origin => $APP,
        Authorization => "Bearer $token");
    is($res->code, 204, 'logout from a CORS origin: 204');
    is($res->header('Access-Control-Allow-Origin'), $APP, '... Allow-Origin');
    is($res->header('Access-Control-Allow-Credentials'), 'true',
       '... Allow-Credentials');
}

# ---- a server without PreviewCORSOrigins: no preflight passes, no Vary
Apache::TestRequest::module('default');
{
    my $res = preflight('/login', $APP);
    is($res->code, 403, 'main server (no PreviewCORSOrigins): preflight 403');
    is(cors_headers($res), '', '... no Access-Control-* header');
    my $r2 = post_form('/login', { username => $name, password => 'wrong' },
                       Origin => $APP);
    is($r2->code, 403, '... and its login check refuses that origin (403)');
    ok(!vary_origin($r2), '... no Vary: Origin without a list');
}

# ---- configtest
for my $bad (['*', qr/PreviewCORSOrigins: '\*' is not allowed: name each origin/],
             ['https://app.example.net/', qr/PreviewCORSOrigins: 'https:\/\/app\.example\.net\/' is not an origin .*trailing/],
             ['null', qr/PreviewCORSOrigins: 'null' is not an origin/],
             ['https://*.example.net', qr/PreviewCORSOrigins: 'https:\/\/\*\.example\.net' is not an origin/]) {
    my ($value, $want) = @$bad;
    my ($rc, $out) = configtest("PreviewCORSOrigins $value\n");
    isnt($rc, 0, "configtest refuses PreviewCORSOrigins $value");
    like($out, $want, '... naming the directive, the value and why') or diag $out;
}
{
    my ($rc, $out) = configtest("PreviewCORSOrigins https://app.example.net http://[::1]:8080\n"
        . "<VirtualHost 127.0.0.1:8>\n    PreviewCORSOrigins capacitor://localhost\n</VirtualHost>\n");
    is($rc, 0, 'configtest accepts origins, in the server and a vhost') or diag $out;
}
