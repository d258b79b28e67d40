# Memory bombs inside the default limits (100 M pixels): 10000 x 10000
# sources whose decoder holds the whole image at full depth before any
# shrink, in a 2048 px box (at 256 px the progressive one is the JPEG fast
# path's, which holds its DC planes only: t/36). Each is refused from its
# header (413, PV0944 with the estimate and the bound) with the child's
# memory barely moving; the same size
# streamed (a baseline JPEG with shrink-on-load, a PNG without interlace)
# still renders, its child rising less than PreviewMaxRenderMemory (256M).
# Eight bombs at once keep the children's total under 1 GB. A vhost whose
# per-process budget (64M) holds one of its renders at a time never has
# two at once in a process.
#
# Memory is read from /proc/<pid>/status of the httpd children (VmRSS
# sampled every 10 ms while the requests run, and VmHWM), see
# PreviewImages::watch_memory.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent ();
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir memory_bomb can_write_avif add_image
                     new_user preview image_info run watch_memory);
use PreviewLog qw(error_log_path error_log_text);
use PreviewTest qw(tally);

my $MiB = 1024;                 # kB
my $bound = 256 * $MiB;         # PreviewMaxRenderMemory's default
my @kinds = qw(png16i prog444 gif);
push @kinds, 'avif' if can_write_avif();

plan tests => 5 * @kinds + 6 + 6 + 7;

my $dbh = dbh();
my ($uid, $tok) = new_user($dbh, 'memory');
my %img = map { $_ => add_image($dbh, $uid, memory_bomb($_)) }
              @kinds, qw(baseline png8);

sub url {
    my ($id, $vhost, $query) = @_;
    return Apache::TestRequest::module2url($vhost // 'default',
        { path => "/preview/$id?token=$tok" . ($query // '') });
}

# GET in a process of its own; the answer goes to $wr as
# "<code> <retry-after> <content-type> <bytes>" (a line fits in the pipe,
# so the caller reads it when it likes).
sub get_async {
    my ($u, $wr) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $res = LWP::UserAgent->new(timeout => 120)->get($u);
        syswrite $wr, sprintf("%d %s %s %d\n", $res->code,
            $res->header('Retry-After') // '-',
            $res->header('Content-Type') // '-', length $res->content);
        require POSIX;
        POSIX::_exit(0);
    }
    return $pid;
}

# One GET while the children's memory is watched: (answer line, memory).
sub get_watched {
    my ($u) = @_;
    pipe my $rd, my $wr or die "pipe: $!";
    my $m = watch_memory(sub { get_async($u, $wr) });
    close $wr;
    return (scalar <$rd>, $m);
}

sub mib { sprintf '%.1f MiB', $_[0] / $MiB }

# ---- each bomb alone: 413 from the header
my $too_large = { error => 'too_large',
    message => "the source image is over this server's size limits" };
for my $kind (@kinds) {
    my $id = $img{$kind};
    my ($res, $m) = get_watched(url($id, undef, '&w=2048'));
    my ($code, undef, $type) = split ' ', $res // '';
    is($code, 413, "$kind 10000x10000: 413");
    is($type, 'application/json', "$kind: JSON error");
    my $r = preview($id, token => $tok, query => 'w=2048');
    is_deeply(json_body($r), $too_large, "$kind: the body of every 413");
    like(error_log_text(),
         qr/PV0944: image $id: render memory estimate (\d+) MiB \(decoder \d+, pipeline \d+, output \d+, file \d+\) over PreviewMaxRenderMemory 256 MiB/,
         "$kind: PV0944 logs the estimate and the bound");
    ok($m->{rise} < $bound, "$kind: a child rose " . mib($m->{rise})
       . ' (< 256 MiB)') or diag explain $m;
}

# ---- the same size, streamed: rendered, within the bound
for my $kind (qw(baseline png8)) {
    my $id = $img{$kind};
    my ($res, $m) = get_watched(url($id));
    my ($code, undef, $type) = split ' ', $res // '';
    is($code, 200, "$kind 10000x10000: 200");
    ok($m->{rise} < $bound, "$kind: a child rose " . mib($m->{rise})
       . ' (< 256 MiB)') or diag explain $m;
    if ($kind eq 'baseline') {
        my $r = preview($id, token => $tok, query => 'w=256&format=jpeg');
        my $i = image_info($r->content);
        is("$i->{width}x$i->{height}", '256x256', 'baseline: a 256 px JPEG');
    }
}
like(error_log_text(),
     qr/PV0946: image $img{baseline}: render memory \d+ MiB estimated \(load shrink 8\)/,
     'baseline: decoded at 1/8 (PV0946)');

# ---- eight bombs at once: every child together under 1 GB
{
    pipe my $rd, my $wr or die "pipe: $!";
    my $m = watch_memory(sub {
        map { get_async(url($img{ $kinds[$_ % @kinds] }, undef, '&w=2048'),
                        $wr) } 0 .. 7;
    });
    close $wr;
    my @lines = <$rd>;
    is(scalar @lines, 8, '8 bombs at once: 8 answers');
    is_deeply([ grep { !/^413 / } @lines ], [], '... all 413')
        or diag join '', @lines;
    ok($m->{sum} < 1024 * $MiB, 'the children together peaked at '
       . mib($m->{sum}) . ' (< 1 GiB)') or diag explain $m;
    ok($m->{rise} < $bound, '... no child rose by 256 MiB ('
       . mib($m->{rise}) . ')');
    ok($m->{samples} >= 2, "... $m->{samples} samples");
    # and the server still renders
    my ($sid) = add_image($dbh, $uid, memory_bomb('baseline'));
    is(preview($sid, token => $tok, query => 'w=64')->code, 200,
       'a preview afterwards: 200');
}

# ---- vhost pv_render_memory: PreviewMaxRenderMemory 64M, 4 render slots.
# A progressive 4000x3000 JPEG keeps 34 MiB of DCT coefficients in a
# 1024 px box (libvips'; at 256 px the JPEG fast path holds far less:
# t/36): two such estimates do not fit in 64 MiB, so a process renders
# them one at a time (the slots alone would let four run).
{
    my ($dir, $rel) = fixture_dir('pv27');
    run('vips', 'gaussnoise', "$dir/n.v", 4000, 3000);
    run('vips', 'colourspace', "$dir/n.v", "$dir/c.v", 'srgb');
    run('vips', 'copy', "$dir/c.v", "$dir/prog.jpg[interlace,Q=85]");
    unlink "$dir/n.v", "$dir/c.v";
    my $log_from = -s error_log_path() // 0;
    my $n = 9;
    my @ids = map { add_image($dbh, $uid, "$rel/prog.jpg") } 1 .. $n;
    my @lines;
    pipe my $rd, my $wr or die "pipe: $!";
    my @pids = map { get_async(url($_, 'pv_render_memory', '&w=1024'), $wr) }
               @ids;
    close $wr;
    @lines = <$rd>;
    waitpid $_, 0 for @pids;
    my $by = tally(@lines);
    is(($by->{200} // 0) + ($by->{503} // 0), $n, "$n renders: 200 (or 503)")
        or diag join '', @lines;
    my $text = error_log_text($log_from);
    my @held = $text =~ /PV0946: image \d+: render memory (\d+) MiB estimated \(load shrink \d\), (\d+) of (\d+) MiB held in this process/g;
    my (@est, @in_use, @cap);
    while (my ($e, $u, $c) = splice @held, 0, 3) {
        push @est, $e;
        push @in_use, $u;
        push @cap, $c;
    }
    is(scalar @est, $by->{200} // 0, 'a PV0946 line per render');
    ok(@est && $est[0] > 32 && $est[0] <= 64,
       "one estimate ($est[0] MiB) fits in 64 MiB, two do not");
    is_deeply([ grep { $in_use[$_] != $est[$_] } 0 .. $#est ], [],
              'a process never held two at once')
        or diag explain \@in_use;
    is_deeply([ grep { $_ != 64 } @cap ], [], '... of 64 MiB');
    my $waited = () = $text =~ /PV0945: image \d+: no render memory free within PreviewRenderTimeout/g;
    is($waited, $by->{503} // 0, 'a PV0945 warning per 503');
    is_deeply([ grep { /^503 / && !/^503 2 / } @lines ], [],
              '503s carry Retry-After: 2');
}
