# PreviewQualities: a requested q snaps to the nearest listed value (a tie
# to the higher one), so q=1..100 makes a handful of variants of an image,
# not a hundred. 140 requests over q=1..100 x fit x format of one image
# leave 6 cache entries under the default list (80) and 14 under
# "30 60 90" (PNG ignores q); q=79 has the ETag and the bytes of q=80, and
# the encoder really got the snapped value (uncached renders compared).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     cache_entries);

plan tests => 19;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv27');
make_plain("$dir/a.jpg", 640, 480);
my ($uid, $tok) = new_user($dbh, 'quality');
my $img = add_image($dbh, $uid, "$rel/a.jpg");
my $cache_root = "$ENV{PV_RUN_DIR}/cache";

# 140 requests of one image at w=64: q runs over 1..100 (and 1..40 again),
# fit and format cycle, so every (fit, format) pair meets many q's.
# Returns how many answers were not 200, and the distinct (fit, format,
# q) keys a cache without snapping would hold (PNG ignores q).
sub sweep {
    my ($vhost, $base) = @_;
    my @fits = qw(inside cover);
    my @formats = qw(jpeg webp png);
    my ($bad, %keys) = (0);
    for my $i (0 .. 139) {
        my ($q, $fit, $fmt) = (1 + $i % 100, $fits[$i % 2], $formats[$i % 3]);
        my $u = Apache::TestRequest::module2url($vhost,
            { path => "$base/$img?token=$tok&w=64&q=$q&fit=$fit&format=$fmt" });
        my $res = Apache::TestRequest::GET($u);
        $bad++ if $res->code != 200;
        $keys{ join ',', $fit, $fmt, $fmt eq 'png' ? 0 : $q } = 1;
    }
    return ($bad, scalar keys %keys);
}

# ---- the default list (80): 2 fits x (jpeg, webp at 80 + png) = 6
my ($bad, $unsnapped) = sweep('pv_quality', '/preview');
is($bad, 0, 'default list: 140 requests, all 200');
is(scalar keys %{ cache_entries("$cache_root/quality") }, 6,
   "... 6 cache entries (without snapping: $unsnapped)");

# ---- 30 60 90: 2 fits x (jpeg, webp at 3 qualities + png) = 14
($bad, $unsnapped) = sweep('pv_qualities', '/preview-qualities');
is($bad, 0, '30 60 90: 140 requests, all 200');
is(scalar keys %{ cache_entries("$cache_root/qualities") }, 14,
   "... 14 cache entries (without snapping: $unsnapped)");

# ---- ETags and bytes (no cache on the main server: every answer is a
# render of its own, so equal bytes mean the encoder got the same q)
sub get {
    my ($query, %opt) = @_;
    my $res = preview($img, token => $tok, query => $query, %opt);
    die "GET $query: " . $res->code . "\n" unless $res->code == 200;
    return $res;
}
my $q80 = get('format=jpeg&q=80');
my $q79 = get('format=jpeg&q=79');
is($q79->header('ETag'), $q80->header('ETag'),
   'default list: q=79 has the ETag of q=80');
ok($q79->content eq $q80->content, '... and its bytes');
my $q1 = get('format=jpeg&q=1');
is($q1->header('ETag'), $q80->header('ETag'), 'q=1: the ETag of q=80');
ok($q1->content eq $q80->content, '... and its bytes (encoded at 80)');
is(get('format=jpeg')->header('ETag'), $q80->header('ETag'),
   'no q: PreviewQuality 80, the same ETag');
is(get('format=webp&q=100')->header('ETag'),
   get('format=webp&q=80')->header('ETag'), 'webp: q=100 snaps to 80');

my %etag = map {
    $_ => get("format=jpeg&q=$_", base => '/preview-qualities')->header('ETag')
} qw(1 30 44 45 46 60 74 75 90 100);
is($etag{1}, $etag{30}, '30 60 90: q=1 snaps up to 30');
is($etag{44}, $etag{30}, '... q=44 to 30');
is($etag{45}, $etag{60}, '... q=45, a tie, to the higher 60');
is($etag{46}, $etag{60}, '... q=46 to 60');
is($etag{74}, $etag{60}, '... q=74 to 60');
is($etag{75}, $etag{90}, '... q=75, a tie, to the higher 90');
is($etag{100}, $etag{90}, '... q=100 to 90');
is(scalar keys %{ { reverse %etag } }, 3, '... three ETags in all');
# PreviewQuality is unset there: its default 80 snaps to 90.
is(get('format=jpeg', base => '/preview-qualities')->header('ETag'),
   $etag{90}, 'no q: the default 80 snapped to 90');
