# The harness's private MariaDB is reachable from a test through the socket
# it exports, with the schema of conf/schema.sql loaded.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use DBI;

plan tests => 9;

my @missing = grep { !defined $ENV{$_} }
    qw(PV_DB_SOCKET PV_DB_USER PV_DB_PASS PV_DB_NAME);
is("@missing", '', 'harness exports PV_DB_SOCKET, _USER, _PASS, _NAME');

my $dbh = DBI->connect(
    "dbi:MariaDB:database=$ENV{PV_DB_NAME};mariadb_socket=$ENV{PV_DB_SOCKET}",
    $ENV{PV_DB_USER}, $ENV{PV_DB_PASS},
    { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
ok($dbh, 'connect through the unix socket') or diag $DBI::errstr;

SKIP: {
    skip 'no database connection', 7 unless $dbh;
    $dbh->{RaiseError} = 1;

    my $tables = $dbh->selectcol_arrayref(
        'SELECT table_name FROM information_schema.tables '
      . 'WHERE table_schema = ? AND engine = ? ORDER BY table_name',
        undef, $ENV{PV_DB_NAME}, 'InnoDB');
    is_deeply($tables, [qw(images users)], 'schema: images and users, InnoDB');

    my $cols = $dbh->selectcol_arrayref(
        'SELECT column_name FROM information_schema.columns '
      . 'WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position',
        undef, $ENV{PV_DB_NAME}, 'users');
    is_deeply($cols, [qw(id username password_hash token_version)],
              'users columns');

    # A name no other test uses, removed again, so the row does not leak.
    my $name = "t02-$$-" . time;
    $dbh->do('INSERT INTO users (username, password_hash) VALUES (?, ?)',
             undef, $name, 'x');
    my $uid = $dbh->last_insert_id(undef, undef, 'users', 'id');
    ok($uid && $uid =~ /^\d+$/, 'insert a user');
    $dbh->do('INSERT INTO images (owner_id, path) VALUES (?, ?)',
             undef, $uid, "t02/\x{e9}t\x{e9}.jpg");
    my $iid = $dbh->last_insert_id(undef, undef, 'images', 'id');

    my $row = $dbh->selectrow_arrayref(
        'SELECT u.token_version, i.path FROM users u LEFT JOIN images i '
      . 'ON i.id = ? AND i.owner_id = u.id WHERE u.id = ?',
        undef, $iid, $uid);
    is_deeply($row, [0, "t02/\x{e9}t\x{e9}.jpg"],
              'read back: token_version 0 and the utf8mb4 path');

    $row = $dbh->selectrow_arrayref(
        'SELECT u.token_version, i.path FROM users u LEFT JOIN images i '
      . 'ON i.id = ? AND i.owner_id = u.id WHERE u.id = ?',
        undef, $iid + 1000000, $uid);
    is_deeply($row, [0, undef], 'image of nobody: path NULL, user row kept');

    my $dup = eval {
        $dbh->do('INSERT INTO users (username, password_hash) VALUES (?, ?)',
                 undef, $name, 'y');
        1;
    };
    ok(!$dup, 'usernames are unique');

    $dbh->do('DELETE FROM users WHERE id = ?', undef, $uid);
    my ($left) = $dbh->selectrow_array(
        'SELECT COUNT(*) FROM images WHERE owner_id = ?', undef, $uid);
    is($left, 0, 'deleting the user removes its images');
    $dbh->disconnect;
}
