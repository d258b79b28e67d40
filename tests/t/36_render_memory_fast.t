# The JPEG fast path's render memory: a render it takes reserves what it
# holds (its estimate from the frame header: the file, the DC planes, the
# 1/8 image, the resize and the encoder), not libvips' estimate of the
# same file, which for a progressive JPEG is every DCT coefficient. Should
# its decoder decline the file once read, libvips' estimate applies again
# before libvips renders it (PV1420): within PreviewMaxRenderMemory, the
# budget is grown to it; over it, 413 as before.
#
# vhost pv_fast_memory (tests/t/conf/qual.conf.in): PreviewMaxRenderMemory
# 64M, four render slots. A progressive 4:4:4 5120x2880 JPEG (the bench's
# size): libvips' estimate, some 90 MiB, is refused there with 413 (so it
# was on main, the fast path or not); the fast path's, under 16 MiB, lets
# four such renders in at once.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent ();
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir memory_bomb add_image new_user preview
                     image_info run);
use PreviewLog qw(error_log_path error_log_text);
use PreviewTest qw(in_parallel tally);

plan tests => 14;

my $dbh = dbh();
my ($uid, $tok) = new_user($dbh, 'fastmemory');
my ($dir, $rel) = fixture_dir('pv36');

# smooth colour noise (a small file, so that the DC planes, not the file,
# set the estimate), progressive 4:4:4
sub progressive {
    my ($name, $w, $h) = @_;
    run('vips', 'gaussnoise', "$dir/n.v", $w / 16, $h / 16, '--sigma', 40,
        '--mean', 128);
    run('vips', 'bandjoin', "$dir/n.v $dir/n.v $dir/n.v", "$dir/n3.v");
    run('vips', 'resize', "$dir/n3.v", "$dir/b.v", 16, '--kernel', 'cubic');
    run('vips', 'cast', "$dir/b.v", "$dir/u.v", 'uchar');
    run('vips', 'copy', "$dir/u.v", "$dir/c.v", '--interpretation', 'srgb');
    run('vips', 'copy', "$dir/c.v",
        "$dir/$name\[Q=85,interlace,subsample-mode=off\]");
    unlink map { "$dir/$_" } qw(n.v n3.v b.v u.v c.v);
}
progressive('big.jpg', 5120, 2880);
progressive('mid.jpg', 3008, 2000);

# The first three quarters of a file: the fast path's decoder refuses it.
sub truncated {
    my ($from, $to) = @_;
    open my $in, '<:raw', "$dir/$from" or die "$from: $!";
    my $b = do { local $/; <$in> };
    open my $o, '>:raw', "$dir/$to" or die "$to: $!";
    print {$o} substr($b, 0, int(length($b) * 3 / 4));
    close $o;
}
truncated('big.jpg', 'big-trunc.jpg');
truncated('mid.jpg', 'mid-trunc.jpg');

sub url {
    my ($id, $query) = @_;
    return Apache::TestRequest::module2url('pv_fast_memory',
        { path => "/preview/$id?token=$tok&$query" });
}

sub get {
    my ($id, $query) = @_;
    return LWP::UserAgent->new(timeout => 60)->get(url($id, $query));
}

# PV0946's estimate (MiB) and what the process then held, per render
sub held {
    my ($text, $id) = @_;
    return $text =~ /PV0946: image $id: render memory (\d+) MiB estimated \(load shrink (\d)\), (\d+) of (\d+) MiB held/
        ? [$1, $2, $3, $4] : undef;
}

# ---- one render: the fast path's estimate, far under libvips'
{
    my $id = add_image($dbh, $uid, "$rel/big.jpg");
    my $from = -s error_log_path() // 0;
    my $r = get($id, 'w=256&format=jpeg');
    my $i = $r->code == 200 ? image_info($r->content) : {};
    is($r->code . ' ' . ($i->{width} // 0) . 'x' . ($i->{height} // 0),
       '200 256x144', 'progressive 5120x2880 at 256 px: 200, 256x144');
    my $text = error_log_text($from);
    like($text, qr{PV1400: \S+: rendered by the JPEG fast path .* to 256x144},
         '... by the JPEG fast path (PV1400)');
    my $h = held($text, $id);
    ok($h && $h->[0] <= 16 && $h->[1] == 8 && $h->[3] == 64,
       'its estimate: ' . ($h ? "$h->[0] MiB of 64, load shrink $h->[1]"
                              : 'no PV0946') . ' (<= 16 MiB)');

    # libvips' estimate of the same file, where the fast path does not
    # go (fit=cover): over the bound
    $from = -s error_log_path() // 0;
    $r = get($id, 'w=256&h=256&fit=cover&format=jpeg');
    is($r->code, 413, '... libvips\' own (fit=cover): 413');
    my ($vips) = error_log_text($from)
        =~ /PV0944: image $id: render memory estimate (\d+) MiB/;
    ok(defined $vips && $vips > 64 && $h && 4 * $h->[0] <= 64,
       'libvips would take ' . ($vips // '?') . ' MiB (> 64): none at once; '
       . 'the fast path four');
}

# ---- four at once, in the four slots of one 64 MiB budget: all 200
{
    my @ids = map { add_image($dbh, $uid, "$rel/big.jpg") } 1 .. 4;
    my $from = -s error_log_path() // 0;
    my $wait = in_parallel(4, sub {
        my $r = get($ids[$_[0] - 1], 'w=256&format=jpeg');
        return $r->code . ' ' . length $r->content;
    });
    my @lines = $wait->();
    my $by = tally(@lines);
    is($by->{200} // 0, 4, 'four at once: 200 each') or diag "@lines";
    my $text = error_log_text($from);
    my @h = grep { defined } map { held($text, $_) } @ids;
    is(scalar @h, 4, '... each reserved its estimate (PV0946)');
    my ($most) = sort { $b <=> $a } map { $_->[2] } @h;
    $most //= 0;
    ok(!grep({ $_->[0] > 16 } @h) && $most <= 64,
       "... each <= 16 MiB; the process held $most MiB of 64 at most");
    is(scalar(() = $text =~ /PV0945: /g), 0, '... none waited past the timeout');
}

# ---- declined by the fast path: libvips' estimate again
{
    # within the bound (3008x2000: some 40 MiB): the budget grown to it,
    # then libvips' answer to a truncated file
    my $id = add_image($dbh, $uid, "$rel/mid-trunc.jpg");
    my $from = -s error_log_path() // 0;
    my $r = get($id, 'w=256&format=jpeg');
    is($r->code, 415, 'truncated progressive 3008x2000: 415 (libvips)');
    my $text = error_log_text($from);
    like($text, qr{PV1401: \S+: left to libvips by the JPEG fast path},
         '... declined by the fast path (PV1401)');
    my ($fast) = @{ held($text, $id) // [0] };
    my ($grown) = $text =~ /PV1420: image $id: left to libvips by the JPEG fast path, render memory (\d+) MiB estimated/;
    ok($fast && $grown && $grown > 32 && $grown <= 64 && $fast < $grown,
       'the budget grown from ' . ($fast // '?') . ' to ' . ($grown // '?')
       . ' MiB (PV1420)');

    # over the bound (5120x2880: libvips' 90 MiB): 413, as before
    $id = add_image($dbh, $uid, "$rel/big-trunc.jpg");
    $r = get($id, 'w=256&format=jpeg');
    is($r->code, 413, 'truncated progressive 5120x2880: 413 (libvips\' '
       . 'estimate over 64 MiB)');
}

# ---- t/33's progressive bomb (10000x10000 4:4:4) at 256 px, default
# bound: the fast path's (its DC planes: some 25 MiB), not 621 MiB
{
    my $id = add_image($dbh, $uid, memory_bomb('prog444'));
    my $from = -s error_log_path() // 0;
    my $r = preview($id, token => $tok, query => 'w=256&format=jpeg');
    my $i = $r->code == 200 ? image_info($r->content) : {};
    my $h = held(error_log_text($from), $id);
    ok($r->code == 200 && ($i->{width} // 0) == 256 && $h && $h->[0] <= 40,
       'progressive 10000x10000 at 256 px: ' . $r->code . ', estimate '
       . ($h ? $h->[0] : '?') . ' MiB (<= 40)');
}
