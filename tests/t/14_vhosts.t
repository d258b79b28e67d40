# Two servers, two key rings, two databases: the vhost pv_other has its own
# PreviewKeyFile, PreviewDBParams (database preview2), PreviewCookieName and
# PreviewTokenTTL. A token of one server is refused (401) by the other.
# At start-up, servers that accept each other's tokens (shared keys or
# legacy secret) must use the same database and queries; a legacy secret
# under 32 bytes is warned about.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use PreviewTest qw(configtest test_key_line write_file);
use PreviewLogin qw(dbh fresh_database add_user bcrypt_hash json_body
                    post_form pyjwt_decode uniq key_file);

plan tests => 39;

my $other_keys = t_catfile(Apache::Test::vars('t_conf'), 'pv_other.keys');

# The second database: the schema of conf/schema.sql, the same account.
fresh_database('preview2');

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

# --- start-up: servers that accept each other's tokens share a database ----
# A token names a user by id; two servers that verify each other's tokens
# (an inherited PreviewKeyFile, the same file, or a copy of a key) must look
# that id up in the same database with the same queries, else httpd refuses
# to start, naming both servers.
{
    my $k1 = write_file('scope1.keys', test_key_line('a1') . "\n");
    my $k1_copy = write_file('scope1-copy.keys', "# a copy\n"
                             . test_key_line('c1') . "\n");
    my $k2 = write_file('scope2.keys', 'b1 ' . ('B' x 42) . "A\n");
    my $db = sub { "PreviewDBParams \"host=127.0.0.1 user=u pass=p dbname=$_[0]\"" };
    my $vhost = sub {
        my ($n, $body) = @_;
        return "<VirtualHost 127.0.0.1:8>\n    ServerName v$n.example\n"
             . "$body\n</VirtualHost>\n";
    };
    my $legacy = "PreviewLegacyTokens itsdangerous\nPreviewLegacySecretFile \""
               . write_file('scope.secret', 'S' x 40) . '"';
    my @cases = (
        [ 'a vhost inherits the key file, names another database',
          "PreviewKeyFile \"$k1\"\n" . $db->('a') . "\n"
          . $vhost->(1, $db->('b')),
          qr/PV1154: the main server and the virtual host v1\.example \(\S+:\d+\) accept each other's tokens \(a key of PreviewKeyFile \Q$k1\E is in \Q$k1\E\) but their PreviewDBParams differ: .*Give each its own PreviewKeyFile/ ],
        [ 'two vhosts name the same key file, two databases',
          $vhost->(1, "PreviewKeyFile \"$k1\"\n" . $db->('a'))
          . $vhost->(2, "PreviewKeyFile \"$k1\"\n" . $db->('b')),
          qr/PV1154: the virtual host v1\.example .* and the virtual host v2\.example .* PreviewDBParams differ/ ],
        [ 'two files holding the same key, two databases',
          $vhost->(1, "PreviewKeyFile \"$k1\"\n" . $db->('a'))
          . $vhost->(2, "PreviewKeyFile \"$k1_copy\"\n" . $db->('b')),
          qr/PV1154: .*PreviewKeyFile \Q$k1\E is in \Q$k1_copy\E\) but their PreviewDBParams differ/ ],
        [ 'one key, one database, another PreviewImageQuery',
          "PreviewKeyFile \"$k1\"\n" . $db->('a') . "\n"
          . $vhost->(1, 'PreviewImageQuery "SELECT 0, NULL FROM t WHERE ? = ? "'),
          qr/PV1154: .*but their PreviewImageQuery differ/ ],
        [ 'own keys, one legacy secret, two databases',
          $vhost->(1, "PreviewKeyFile \"$k1\"\n" . $db->('a') . "\n$legacy")
          . $vhost->(2, "PreviewKeyFile \"$k2\"\n" . $db->('b') . "\n$legacy"),
          qr/PV1155: the virtual host v1\.example .* and the virtual host v2\.example .* accept each other's legacy tokens .* but their PreviewDBParams differ/ ],
    );
    for my $c (@cases) {
        my ($rc, $out) = configtest($c->[1]);
        isnt($rc, 0, "refused: $c->[0]");
        like($out, $c->[2], "... naming both servers and the way out")
            or diag $out;
    }
    my @fine = (
        [ 'a vhost inherits the key file and the database',
          "PreviewKeyFile \"$k1\"\n" . $db->('a') . "\n"
          . $vhost->(1, 'PreviewTokenTTL 600') ],
        [ 'two vhosts, same key file, the same database written twice',
          $vhost->(1, "PreviewKeyFile \"$k1\"\n" . $db->('a'))
          . $vhost->(2, "PreviewKeyFile \"$k1\"\n" . $db->('a')) ],
        [ 'own keys, own databases',
          "PreviewKeyFile \"$k1\"\n" . $db->('a') . "\n"
          . $vhost->(1, "PreviewKeyFile \"$k2\"\n" . $db->('b')) ],
        [ 'a vhost without a database shares the keys',
          "PreviewKeyFile \"$k1\"\n"
          . $vhost->(1, $db->('b')) ],
    );
    for my $c (@fine) {
        my ($rc, $out) = configtest($c->[1]);
        is($rc, 0, "accepted: $c->[0]") or diag $out;
    }
}

# --- start-up: a short legacy secret is warned about ----------------------
{
    my $k = write_file('weak.keys', test_key_line() . "\n");
    my $short = write_file('weak.secret', "short-secret\n");
    my $long = write_file('strong.secret', ('x' x 32) . "\n");
    my $conf = sub {
        "PreviewKeyFile \"$k\"\nPreviewLegacyTokens itsdangerous\n"
      . "PreviewLegacySecretFile \"$_[0]\"\n"
      . "<VirtualHost 127.0.0.1:8>\n    ServerName w.example\n</VirtualHost>\n";
    };
    my ($rc, $out) = configtest($conf->($short));
    is($rc, 0, 'a 12-byte legacy secret: accepted');
    my @warn = $out =~ /(PV1156: [^\n]*)/g;
    is_deeply(\@warn,
              [ "PV1156: PreviewLegacySecretFile $short holds a 12-byte secret, under 32 bytes: one captured legacy token lets anyone search for it offline (main server)" ],
              '... with one warning (the vhost inherits the same secret)')
        or diag $out;
    unlike($out, qr/short-secret/, '... that does not show the secret');
    ($rc, $out) = configtest($conf->($long));
    is($rc, 0, 'a 32-byte legacy secret: accepted');
    unlike($out, qr/PV1156/, '... without a warning');
}
