# The login cookie carries Secure when the request came over https:
# ap_http_scheme() says so (mod_ssl's connection, or a server named
# https://... behind a TLS-terminating proxy, as the vhost pv_https is).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form uniq);

plan tests => 5;

my $name = uniq('secure');
add_user(dbh(), $name, bcrypt_hash('pw-secure'));

Apache::TestRequest::module('pv_https');
my $res = post_form('/login', { username => $name, password => 'pw-secure' });
is($res->code, 200, 'pv_https: 200');
my $tok = (json_body($res) // {})->{token} // '';
is($res->header('Set-Cookie'),
   "preview_token=$tok; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure",
   'pv_https: the cookie is Secure');
$res = Apache::TestRequest::POST('/logout', Authorization => "Bearer $tok",
                                 content => '');
is($res->code, 204, 'pv_https: logout 204');
is($res->header('Set-Cookie'),
   'preview_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure',
   'pv_https: the clearing cookie is Secure too');

Apache::TestRequest::module('default');
$res = post_form('/login', { username => $name, password => 'pw-secure' });
unlike($res->header('Set-Cookie') // '', qr/Secure/,
       'main server (http): no Secure');
