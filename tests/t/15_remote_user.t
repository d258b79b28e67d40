# PreviewLoginFromRemoteUser On (vhost pv_remote): a GET that mod_auth_basic
# authenticated gets a token for r->user, looked up by PreviewLoginQuery,
# without a password; a GET nobody authenticated is 401; methods: GET, POST.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use MIME::Base64 qw(encode_base64);
use PreviewLogin qw(dbh add_user json_body pyjwt_decode key_file);

plan tests => 14;

# carol is in conf/pv_htpasswd with the password carol-basic-pw; her row
# has no usable password hash: the upstream module is the only way in.
my $dbh = dbh();
$dbh->do('DELETE FROM users WHERE username = ?', undef, 'carol');
my $id = add_user($dbh, 'carol', '!');

Apache::TestRequest::module('pv_remote');
my $basic = 'Basic ' . encode_base64('carol:carol-basic-pw', '');

my $res = Apache::TestRequest::GET('/login', Authorization => $basic);
is($res->code, 200, 'GET with Basic auth: 200') or diag $res->as_string;
my $body = json_body($res) // {};
is($body->{user_id}, "$id", 'the token is for carol');
is($body->{token_type}, 'Bearer', 'token_type');
my $tok = $body->{token} // '';
is($res->header('Set-Cookie'),
   "preview_token=$tok; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax",
   'the cookie');
my $d = eval { pyjwt_decode($tok, key_file()) };
is($d && $d->{claims}{sub}, "$id", 'PyJWT: sub is carol\'s id');

$res = Apache::TestRequest::GET('/login');
is($res->code, 401, 'no credentials: mod_auth_basic\'s 401');
like($res->header('WWW-Authenticate') // '', qr/^Basic /, 'asking for Basic');

$res = Apache::TestRequest::GET('/login',
    Authorization => 'Basic ' . encode_base64('carol:wrong', ''));
is($res->code, 401, 'wrong Basic password: 401');

# Where no auth module runs, r->user is unset: 401 JSON.
$res = Apache::TestRequest::GET('/login-open');
is($res->code, 401, 'GET without r->user: 401');
is_deeply(json_body($res), { error => 'invalid_credentials',
                             message => 'unknown user or wrong password' },
          'GET without r->user: body');
$res = Apache::TestRequest::GET('/login-open', Authorization => $basic);
is($res->code, 401, 'Basic header without an auth module: 401');

my $req = HTTP::Request->new(PUT => Apache::TestRequest::resolve_url('/login-open'));
$res = Apache::TestRequest::user_agent()->request($req);
is($res->code, 405, 'PUT: 405');
is($res->header('Allow'), 'GET, POST', 'Allow: GET, POST');

# Logout takes the token as any other.
$res = Apache::TestRequest::POST('/logout', Authorization => "Bearer $tok",
                                 content => '');
is($res->code, 204, 'logout with that token: 204');
Apache::TestRequest::module('default');
