# Every way preview-login refuses, with the exact status, JSON body and
# headers: 400 (malformed JSON or form, missing, non-string, duplicate or
# empty field), 401 (unknown user and wrong password alike), 405 + Allow,
# 413 (Content-Length and chunked), 415; and no password in the error log.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JSON::PP ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form post_json
                    uniq);
use PreviewLog qw(error_log_text);

plan tests => 114;

my $dbh  = dbh();
my $name = uniq('err');
my $pw   = 'S3cret-never-logged';
add_user($dbh, $name, bcrypt_hash($pw));

# status, exact body, JSON headers
sub check_error {
    my ($res, $status, $code, $message, $what) = @_;
    is($res->code, $status, "$what: $status");
    is($res->header('Content-Type'), 'application/json',
       "$what: Content-Type");
    is($res->header('Cache-Control'), 'no-store', "$what: Cache-Control");
    is_deeply(json_body($res), { error => $code, message => $message },
              "$what: body") or diag $res->content;
    ok(!defined $res->header('Set-Cookie'), "$what: no cookie");
}

# HTTP::Request::Common would add a form Content-Type when none is given:
# build the request by hand.
sub raw_post {
    my ($ctype, $content) = @_;
    my $req = HTTP::Request->new(POST => Apache::TestRequest::resolve_url('/login'));
    $req->header('Content-Type' => $ctype) if defined $ctype;
    $req->header('Content-Length' => length $content);
    $req->content($content);
    return Apache::TestRequest::user_agent()->request($req);
}

# --- 400
check_error(raw_post('application/json', '{"username":'), 400, 'bad_request',
            'malformed JSON body', 'truncated JSON');
check_error(raw_post('application/json',
                     qq({"username":"$name","username":"x","password":"$pw"})),
            400, 'bad_request', 'malformed JSON body', 'duplicate JSON key');
check_error(raw_post('application/json', '["a","b"]'), 400, 'bad_request',
            'malformed JSON body', 'JSON array');
check_error(post_json('/login', { username => $name }), 400, 'bad_request',
            'missing field: password', 'JSON without password');
check_error(post_json('/login', { password => $pw }), 400, 'bad_request',
            'missing field: username', 'JSON without username');
check_error(raw_post('application/json',
                     qq({"username":"$name","password":123})),
            400, 'bad_request', 'field must be a string: password',
            'JSON number password');
check_error(raw_post('application/json',
                     qq({"username":["$name"],"password":"$pw"})),
            400, 'bad_request', 'field must be a string: username',
            'JSON array username');
check_error(post_form('/login', { username => $name }), 400, 'bad_request',
            'missing field: password', 'form without password');
check_error(post_form('/login',
                      [ username => $name, username => 'x', password => $pw ]),
            400, 'bad_request', 'duplicate field: username',
            'form with two usernames');
check_error(raw_post('application/x-www-form-urlencoded',
                     "username=%zz&password=x"),
            400, 'bad_request', 'malformed form body', 'form with a bad escape');
check_error(post_form('/login', { username => '', password => $pw }), 400,
            'bad_request', 'empty field: username', 'form with empty username');

# --- 401: the same answer whether the user exists or not
my $unknown = post_form('/login', { username => uniq('nobody'), password => $pw });
my $wrong   = post_form('/login', { username => $name, password => "$pw-x" });
for ([ $unknown, 'unknown user' ], [ $wrong, 'wrong password' ]) {
    my ($res, $what) = @$_;
    check_error($res, 401, 'invalid_credentials',
                'unknown user or wrong password', $what);
    is($res->header('WWW-Authenticate'),
       'Bearer realm="preview", error="invalid_token"',
       "$what: WWW-Authenticate");
}
is($unknown->content, $wrong->content, '401: identical bodies');

# --- 405
for my $m (qw(GET PUT DELETE)) {
    my $req = HTTP::Request->new($m => Apache::TestRequest::resolve_url('/login'));
    my $res = Apache::TestRequest::user_agent()->request($req);
    check_error($res, 405, 'method_not_allowed', 'method not allowed',
                "$m /login");
    is($res->header('Allow'), 'POST', "$m /login: Allow");
}
{
    my $res = Apache::TestRequest::GET('/logout');
    check_error($res, 405, 'method_not_allowed', 'method not allowed',
                'GET /logout');
    is($res->header('Allow'), 'POST', 'GET /logout: Allow');
}

# --- 413: a 9 KiB body, announced by Content-Length, then sent chunked
my $big = "username=$name&password=$pw&pad=" . ('a' x 9216);
check_error(raw_post('application/x-www-form-urlencoded', $big), 413,
            'body_too_large', 'the login body is limited to 8192 bytes',
            '9 KiB body');
{
    my $sock = Apache::TestRequest::vhost_socket();
    my $chunk = 'a' x 1024;
    print $sock "POST /login HTTP/1.1\r\nHost: localhost\r\n"
      . "Content-Type: application/x-www-form-urlencoded\r\n"
      . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    printf $sock "%x\r\n%s\r\n", length $chunk, $chunk for 1 .. 9;
    print $sock "0\r\n\r\n";
    my $raw = do { local $/; <$sock> } // '';
    like($raw, qr{^HTTP/1\.1 413 }, 'chunked 9 KiB body: 413');
    like($raw, qr/\r\n\r\n\{"error":"body_too_large","message":"the login body is limited to 8192 bytes"\}$/,
         'chunked 9 KiB body: JSON body');
}
{
    # Exactly 8192 bytes is allowed: the answer is about the password.
    my $base = "username=$name&password=$pw-no&pad=";
    my $exact = $base . ('b' x (8192 - length $base));
    is(length $exact, 8192, 'an 8192-byte body');
    my $res = raw_post('application/x-www-form-urlencoded', $exact);
    is($res->code, 401, '8192 bytes: read, then 401');
}

# --- 415
check_error(raw_post('text/plain', "username=$name&password=$pw"), 415,
            'unsupported_media_type',
            'send application/x-www-form-urlencoded or application/json',
            'text/plain');
check_error(raw_post(undef, "username=$name&password=$pw"), 415,
            'unsupported_media_type',
            'send application/x-www-form-urlencoded or application/json',
            'no Content-Type');

# --- after all that, a correct login still works
is(post_form('/login', { username => $name, password => $pw })->code, 200,
   'the right password: 200');

# --- nothing secret in the error log
my $text = error_log_text();
unlike($text, qr/\Q$pw\E/, 'the password is not in the error log');
like($text, qr/\[preview:warn\] .*PV1600: login failed from 127\.0\.0\.1: unknown_user /,
     'an unknown user is logged, without the name');
