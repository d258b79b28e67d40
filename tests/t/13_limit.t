# PreviewLoginLimit 3 60 (vhost pv_limit): three failed logins from one
# client inside the window are answered 401; the fourth attempt is 429 with
# Retry-After, and so is a right password then: the limit is checked
# before the database and the password. The vhost inherits the main
# server's key file and database.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form pyjwt_decode
                    uniq key_file);

plan tests => 17;

my $dbh  = dbh();
my $name = uniq('limit');
my $pw   = 'pw-limit';
my $id   = add_user($dbh, $name, bcrypt_hash($pw));

Apache::TestRequest::module('pv_limit');

# Inherited key file and database: a login works, its token verifies with
# the main server's key file; a success does not count.
my $res = post_form('/login', { username => $name, password => $pw });
is($res->code, 200, 'pv_limit: login with the inherited database');
my $d = eval { pyjwt_decode(json_body($res)->{token}, key_file()) };
is($d && $d->{claims}{sub}, "$id", 'pv_limit: token of the inherited key file');

for my $i (1 .. 3) {
    $res = post_form('/login', { username => $name, password => "wrong-$i" });
    is($res->code, 401, "failure $i: 401");
}

my $t0 = time;
$res = post_form('/login', { username => $name, password => 'wrong-4' });
is($res->code, 429, 'attempt 4: 429');
is_deeply(json_body($res), { error => 'too_many_attempts',
                             message => 'too many failed logins; retry later' },
          'attempt 4: body');
is($res->header('Content-Type'), 'application/json', 'attempt 4: JSON');
my $ra = $res->header('Retry-After') // '';
like($ra, qr/^[1-9][0-9]*$/, 'attempt 4: Retry-After in seconds');
ok($ra >= 1 && $ra <= 60, "attempt 4: Retry-After $ra within the window");

# Before the password: the right one is refused the same way.
$res = post_form('/login', { username => $name, password => $pw });
is($res->code, 429, 'the right password while over the limit: 429');
ok(defined $res->header('Retry-After'), 'with Retry-After');

# Per client: another username from the same client is over the limit too.
$res = post_form('/login', { username => uniq('other'), password => 'x' });
is($res->code, 429, 'another username from this client: 429');

# A 400 is not a login attempt and is still answered as such.
$res = post_form('/login', { username => $name });
is($res->code, 400, 'a malformed request is 400, not 429');

# The main server has its own counts (PreviewLoginLimit is per server).
Apache::TestRequest::module('default');
$res = post_form('/login', { username => $name, password => $pw });
is($res->code, 200, 'main server: not limited by pv_limit\'s failures');

# The limit has no effect on logout.
my $tok = json_body($res)->{token};
Apache::TestRequest::module('pv_limit');
$res = Apache::TestRequest::POST('/logout', Authorization => "Bearer $tok",
                                 content => '');
is($res->code, 204, 'pv_limit: logout is not limited');
Apache::TestRequest::module('default');
ok(time - $t0 < 60, 'all inside the window');
