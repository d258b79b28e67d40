# MariaDB's query cache on (README, Database behaviour): the preview query
# is then answered from it, and every write still counts at once: a logout
# revokes the user's tokens, an image given to another user or deleted is
# 404 to its former owner. MariaDB is restarted with the cache on for this
# file and with its defaults again at the end.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh login_token db_restart);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     record_token);

plan tests => 19;

my $qc_opts = '--query-cache-type=1 --query-cache-size=16M';

sub qcache_hits {
    my ($dbh) = @_;
    my (undef, $n) = $dbh->selectrow_array(
        q{SHOW GLOBAL STATUS LIKE 'Qcache_hits'});
    return $n;
}

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv26');
make_plain("$dir/a.jpg", 640, 480);
my ($alice, $atok, $aname, $apw) = new_user($dbh, 'qc-alice');
my ($bob,   $btok) = new_user($dbh, 'qc-bob');
my $img = add_image($dbh, $alice, "$rel/a.jpg");
$dbh->disconnect;

db_restart($qc_opts);
my $restored = 0;
END { db_restart('') unless $restored }

$dbh = dbh();
my ($type, $size) = $dbh->selectrow_array(
    'SELECT @@global.query_cache_type, @@global.query_cache_size');
is($type, 'ON', 'MariaDB restarted with query_cache_type ON');
ok($size >= 16 * 1024 * 1024, "... and a 16M query cache ($size bytes)");

# ---- the preview query is answered from the query cache
my $hits0 = qcache_hits($dbh);
my $all200 = 1;
for (1 .. 6) {
    $all200 &&= preview($img, token => $atok)->code == 200;
}
ok($all200, 'six previews of her image: all 200');
my $hits = qcache_hits($dbh) - $hits0;
ok($hits >= 1, "the query cache answered the preview query ($hits hits)");
is(preview($img, token => $btok)->code, 404, "bob, on alice's image: 404");
is(preview($img, token => $btok)->code, 404, '... and again (cached): 404');

# ---- a logout (UPDATE users) revokes at once
my $lo = Apache::TestRequest::POST('/logout',
    Authorization => "Bearer $atok", content => '');
is($lo->code, 204, 'alice logs out');
is(preview($img, token => $atok)->code, 401,
   'her earlier token, right after: 401');
is(preview($img, token => $atok)->code, 401, '... and again: 401');
my $atok2 = record_token(login_token($aname, $apw));
is(preview($img, token => $atok2)->code, 200, 'her new token: 200');

# ---- the image given to bob (UPDATE images) counts at once
$dbh->do('UPDATE images SET owner_id = ? WHERE id = ?', undef, $bob, $img);
is(preview($img, token => $atok2)->code, 404,
   'given to bob: alice gets 404 at once');
is(preview($img, token => $btok)->code, 200, '... bob gets 200');
is(preview($img, token => $btok)->code, 200, '... and again: 200');

# ---- deleted (DELETE FROM images) counts at once
$dbh->do('DELETE FROM images WHERE id = ?', undef, $img);
is(preview($img, token => $btok)->code, 404, 'deleted: bob gets 404 at once');
is(preview($img, token => $btok)->code, 404, '... and again: 404');
ok(qcache_hits($dbh) > $hits0 + $hits,
   'the repeated requests were answered from the query cache too');
$dbh->disconnect;

# ---- MariaDB's defaults again, and the module recovers without a restart
db_restart('');
$restored = 1;
$dbh = dbh();
($type) = $dbh->selectrow_array('SELECT @@global.query_cache_type');
is($type, 'OFF', 'MariaDB back to its defaults: query_cache_type OFF');
my $img2 = add_image($dbh, $bob, "$rel/a.jpg");
is(preview($img2, token => $btok)->code, 200,
   'a preview on the restarted database: 200');
is(preview($img2, token => $atok2)->code, 404,
   "... alice, on bob's image: 404");
$dbh->disconnect;
