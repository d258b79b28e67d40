# One user cannot starve everyone's renders (vhosts pv_fair and pv_deadline
# of extra.conf.in):
# - PreviewMaxRendersPerUser and PreviewRenderDeadline are checked at
#   start-up, naming directive and value;
# - one AVIF render at 2048 px, q=100, of a noisy 3000x3000 photo: its CPU
#   time in the server is printed (a diagnostic, not asserted);
# - user A floods pv_fair (PreviewMaxRenders 2, PreviewMaxRendersPerUser 1,
#   PreviewRenderTimeout 3) with 10 such requests at once; while they run,
#   user B's 64 px previews get 200. A's requests get 200 or 503 with
#   Retry-After, and some waited for A's own slot (PV0943);
# - on pv_deadline (PreviewRenderDeadline 10ms) a 100 Mpx PNG is stopped
#   mid-render: 503 with Retry-After, PV0941 logged, and nothing at all
#   (no entry, no temp file) in that vhost's cache folder.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use File::Find ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir make_photo make_plain add_image new_user
                     image_info run);
use PreviewLog qw(error_log_text);
use PreviewTest qw(configtest in_parallel server_pid);

my @bad = (
    ['PreviewMaxRendersPerUser 0',     "'0'"],
    ['PreviewMaxRendersPerUser 1025',  "'1025'"],
    ['PreviewMaxRendersPerUser -1',    "'-1'"],
    ['PreviewMaxRendersPerUser one',   "'one'"],
    ['PreviewMaxRendersPerUser 2x',    "'2x'"],
    ['PreviewRenderDeadline 5ms',      "'5ms'"],
    ['PreviewRenderDeadline 0',        "'0'"],
    ['PreviewRenderDeadline 3601',     "'3601'"],
    ['PreviewRenderDeadline 10m',      "'10m'"],
    ['PreviewRenderDeadline 1.5',      "'1.5'"],
    ['PreviewRenderDeadline ms',       "'ms'"],
    ["<Directory />\nPreviewMaxRendersPerUser 2\n</Directory>", 'not allowed'],
);
my @good = ('PreviewMaxRendersPerUser 3', 'PreviewRenderDeadline 30',
            'PreviewRenderDeadline 30s', 'PreviewRenderDeadline 250ms',
            'PreviewRenderDeadline 3600',
            "PreviewMaxRendersPerUser 2\n<VirtualHost 127.0.0.1:8>\n"
                . "ServerName v1\nPreviewMaxRendersPerUser 4\n"
                . "PreviewRenderDeadline 10ms\n</VirtualHost>");

plan tests => 2 * @bad + @good + 19;

for my $case (@bad) {
    my ($body, $value) = @$case;
    my ($directive) = $body =~ /(Preview\w+)/;
    my ($rc, $out) = configtest("$body\n");
    (my $label = $body) =~ s/\n/ | /g;
    isnt($rc, 0, "refused: $label");
    like($out, qr/\Q$directive\E.*\Q$value\E/, "names $directive and $value")
        or diag($out);
}
for my $body (@good) {
    my ($rc, $out) = configtest("$body\n");
    (my $label = $body) =~ s/\n/ | /g;
    is($rc, 0, "accepted: $label") or diag($out);
}

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv29');
make_photo("$dir/noisy.jpg", width => 3000, height => 3000, exif => 0);
make_plain("$dir/small.jpg", 640, 480);
# 100 MP of PNG: no shrink-on-load, every row inflated, tile after tile.
run('vips', 'black', "$dir/big.v", 10000, 10000, '--bands', 3);
run('vips', 'copy', "$dir/big.v", "$dir/big.png[compression=1]");
unlink "$dir/big.v";

my ($alice, $atok) = new_user($dbh, 'fair_a');
my ($bob,   $btok) = new_user($dbh, 'fair_b');
my $noisy = add_image($dbh, $alice, "$rel/noisy.jpg");
my $small = add_image($dbh, $bob,   "$rel/small.jpg");
my $big   = add_image($dbh, $bob,   "$rel/big.png");

sub url {
    my ($vhost, $path) = @_;
    return Apache::TestRequest::module2url($vhost, { path => $path });
}
my $flood_url = url('pv_fair',
    "/preview-avif/$noisy?w=2048&format=avif&q=100&token=$atok");
my $small_url = url('pv_fair', "/preview/$small?w=64&token=$btok");

# CPU seconds of the server's children so far (utime + stime, all
# threads, from /proc).
sub server_cpu {
    my $master = server_pid();
    my $ticks = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $line = <$s> // next;
        # the fields after "(comm)": state ppid ... utime(14) stime(15)
        my @f = split ' ', substr($line, rindex($line, ')') + 2);
        $ticks += $f[11] + $f[12] if $f[1] == $master;
    }
    return $ticks / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

my $ua = LWP::UserAgent->new(timeout => 120);
my $cpu0 = server_cpu();
my $res = $ua->get($flood_url);
my $cpu = server_cpu() - $cpu0;
is($res->code, 200, 'one AVIF render: 200');
is($res->header('Content-Type'), 'image/avif', 'image/avif');
my $info = image_info($res->content);
is("$info->{width}x$info->{height}", '2048x2048', '2048x2048');
diag(sprintf 'AVIF w=2048 q=100 of a noisy 3000x3000 JPEG: %.2f s of CPU '
           . 'in the server', $cpu);

# The flood: 10 at once, each reports "end-time code retry-after error".
my $n = 10;
my $flood_done = in_parallel($n, sub {
    my $r = LWP::UserAgent->new(timeout => 120)->get($flood_url);
    return sprintf '%.3f %d %s %s', Time::HiRes::time(), $r->code,
                   $r->header('Retry-After') // '-',
                   (json_body($r) // {})->{error} // '-';
});

# B, while A's renders run: every small preview is served.
sleep 1;
my @small;
for (1 .. 4) {
    my $r = $ua->get($small_url);
    push @small, $r->code . ' ' . ($r->header('Content-Type') // '-') . ' '
        . (image_info($r->content)->{width} || '-');
}
my $b_done = Time::HiRes::time();
my @flood = $flood_done->();

is_deeply(\@small, [('200 image/jpeg 64') x 4],
          "B's previews during A's flood: 200, 64 px")
    or diag join "\n", @small;
my @late = grep { (split ' ')[0] > $b_done } @flood;
ok(@late >= 1, scalar(@late) . " of A's requests were still running then");
my %by;
$by{(split ' ')[1]}++ for @flood;
diag("A's flood: " . join ', ', map { "$by{$_} x $_" } sort keys %by);
is(scalar @flood, $n, "$n answers to A");
ok(($by{200} // 0) >= 1, "A's flood: some rendered (200)");
is(($by{200} // 0) + ($by{503} // 0), $n, "A's flood: only 200 or 503")
    or diag join "\n", @flood;
my @busy = grep { (split ' ')[1] == 503 } @flood;
is_deeply([ grep { !/ 503 2 busy$/ } @busy ], [],
          "A's 503s: Retry-After: 2, error busy");
my $log = error_log_text();
like($log, qr/PV0943: image $noisy: user $alice waits: it holds PreviewMaxRendersPerUser \(1\) render slots/,
     "A's requests waited for A's own slot");
unlike($log, qr/PV0916: image $small:/, "B never waited out PreviewRenderTimeout");
unlike($log, qr/PV0943: image $small:/, 'B never waited for a slot of its own');

# A render past PreviewRenderDeadline.
my $cache = "$ENV{PV_RUN_DIR}/cache/deadline";
$res = $ua->get(url('pv_deadline', "/preview/$big?w=256&token=$btok"));
is($res->code, 503, 'past the deadline: 503');
is($res->header('Retry-After'), '2', 'Retry-After: 2');
is($res->header('Content-Type'), 'application/json', 'a JSON error');
is((json_body($res) // {})->{error}, 'busy', 'error busy');
like(error_log_text(),
     qr/PV0941: image $big: render stopped at PreviewRenderDeadline \(10 ms\)/,
     'the stop is logged');
# Every file but the folder's own sweep lock: entries (<ab>/<hash>) and
# temp files (.pvtmp.*) alike.
my @files;
File::Find::find(sub {
    push @files, $File::Find::name if -f && $_ ne '.pvsweep.lock';
}, $cache);
is_deeply(\@files, [], 'nothing in the cache, no temp file');
# The server goes on: the same user, a small preview.
$res = $ua->get(url('pv_fair', "/preview/$small?w=64&token=$btok"));
is($res->code, 200, 'a preview afterwards: 200');
