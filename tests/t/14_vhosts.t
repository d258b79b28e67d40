# Two servers, two key rings, two databases: the vhost pv_other has its own
# PreviewKeyFile, PreviewDBParams (database preview2), PreviewCookieName and
# PreviewTokenTTL. A token of one server is refused (401) by the other.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use PreviewLogin qw(dbh admin_dbh add_user bcrypt_hash json_body post_form
                    pyjwt_decode uniq key_file);

plan tests => 20;

my $other_keys = t_catfile(Apache::Test::vars('t_conf'), 'pv_other.keys');
my $top = $ENV{PV_TOP} // t_catfile(Apache::Test::vars('serverroot'), '..', '..');

# The second database: the schema of conf/schema.sql, the same account.
{
    my $admin = admin_dbh();
    $admin->do('DROP DATABASE IF EXISTS preview2');
    $admin->do('CREATE DATABASE preview2 CHARACTER SET utf8mb4 '
             . 'COLLATE utf8mb4_unicode_ci');
    $admin->do("GRANT ALL PRIVILEGES ON preview2.* TO "
             . "'$ENV{PV_DB_USER}'\@'localhost'");
    $admin->do('USE preview2');
    open my $fh, '<', "$top/conf/schema.sql" or die "schema.sql: $!";
    my $sql = join '', grep { !/^\s*--/ } <$fh>;
    $admin->do($_) for grep { /\S/ } split /;\s*\n/, $sql;
    $admin->disconnect;
}

# The same username and password in both databases, different ids.
my $name = uniq('vhost');
my $pw   = 'pw-vhost';
my $main_db  = dbh();
my $other_db = dbh('preview2');
$other_db->do('ALTER TABLE users AUTO_INCREMENT = 5000');
my $id_main  = add_user($main_db, $name, bcrypt_hash($pw));
my $id_other = add_user($other_db, $name, bcrypt_hash($pw));
isnt($id_main, $id_other, 'two users, two ids');

sub login_at {
    my ($module) = @_;
    Apache::TestRequest::module($module);
    my $res = post_form('/login', { username => $name, password => $pw });
    Apache::TestRequest::module('default');
    return $res;
}

sub logout_at {
    my ($module, $tok) = @_;
    Apache::TestRequest::module($module);
    my $res = Apache::TestRequest::POST('/logout',
        Authorization => "Bearer $tok", content => '');
    Apache::TestRequest::module('default');
    return $res;
}

my $rm = login_at('default');
my $ro = login_at('pv_other');
is($rm->code, 200, 'main server: 200');
is($ro->code, 200, 'pv_other: 200') or diag $ro->content;
my $tm = json_body($rm)->{token};
my $to = json_body($ro)->{token};
is(json_body($ro)->{user_id}, "$id_other", 'pv_other: the user of preview2');
is(json_body($ro)->{expires_in}, 600, 'pv_other: its own PreviewTokenTTL');
is($ro->header('Set-Cookie'),
   "other_token=$to; Path=/; Max-Age=600; HttpOnly; SameSite=Lax",
   'pv_other: its own PreviewCookieName');

my $dm = eval { pyjwt_decode($tm, key_file()) };
my $do = eval { pyjwt_decode($to, $other_keys) };
is($dm && $dm->{claims}{sub}, "$id_main", 'main token: main key file, main id');
is($do && $do->{header}{kid}, 'other1', 'pv_other token: kid of its ring');
is($do && $do->{claims}{sub}, "$id_other", 'pv_other token: its id');
ok(!eval { pyjwt_decode($to, key_file()) }, 'pv_other token fails under the main keys');

# Cross-server tokens are refused, before any database is asked.
my $x = logout_at('pv_other', $tm);
is($x->code, 401, 'main token at pv_other: 401');
is_deeply(json_body($x), { error => 'invalid_token',
                           message => 'missing, invalid, expired or revoked token' },
          'main token at pv_other: body');
$x = logout_at('default', $to);
is($x->code, 401, 'pv_other token at the main server: 401');
is(logout_at('pv_other', $to)->code, 204, 'pv_other token at pv_other: 204');

# Each logout touched its own database only.
my ($vm) = $main_db->selectrow_array(
    'SELECT token_version FROM users WHERE id = ?', undef, $id_main);
my ($vo) = $other_db->selectrow_array(
    'SELECT token_version FROM users WHERE id = ?', undef, $id_other);
is($vm, 0, 'main database untouched by the pv_other logout');
is($vo, 1, 'preview2 bumped by the pv_other logout');
is(logout_at('default', $tm)->code, 204, 'main token at main: 204');

# The cookie of one server means nothing to the other.
$ro = login_at('pv_other');
$to = json_body($ro)->{token};
Apache::TestRequest::module('default');
$x = Apache::TestRequest::POST('/logout', Cookie => "other_token=$to",
                               content => '');
is($x->code, 401, 'main server ignores pv_other\'s cookie name');
Apache::TestRequest::module('pv_other');
$x = Apache::TestRequest::POST('/logout', Cookie => "preview_token=$to",
                               content => '');
is($x->code, 401, 'pv_other reads only its own cookie name');
$x = Apache::TestRequest::POST('/logout', Cookie => "other_token=$to",
                               content => '');
is($x->code, 204, 'pv_other: its cookie works');
Apache::TestRequest::module('default');
