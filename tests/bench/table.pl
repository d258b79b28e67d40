#!/usr/bin/perl
# The table of tests/bench/run: reads its results file ("key value" lines)
# and prints each figure beside its reference, with the ratio and the target.
#   table.pl [--hit] RESULTS CORES    (--hit: section 1 only)
use strict;
use warnings;

my $hit_only = @ARGV && $ARGV[0] eq '--hit' ? shift @ARGV : 0;
my ($file, $cores) = @ARGV;
die "usage: table.pl RESULTS CORES\n" unless defined $cores;
my %r;
open(my $fh, '<', $file) or die "table.pl: $file: $!\n";
while (<$fh>) {
    chomp;
    my ($k, $v) = split / /, $_, 2;
    $r{$k} = $v if defined $v && $v ne '';
}
close $fh;
# a run that completed nothing has no rate
for my $k (grep { /\.req$/ && !$r{$_} } keys %r) {
    (my $n = $k) =~ s/\.req$//;
    delete $r{"$n.rps"};
}

sub have { my $ok = 1; for (@_) { $ok = 0 unless defined $r{$_} && $r{$_} ne '' } return $ok }
sub cpu_ms {    # CPU ms per request the server logged during run NAME
    my ($n) = @_;
    return undef unless have("$n.cpu_s", "$n.served") && $r{"$n.served"} > 0;
    return $r{"$n.cpu_s"} * 1000 / $r{"$n.served"};
}
sub db_us {    # MariaDB CPU us per request the server logged during run NAME
    my ($n) = @_;
    return undef unless have("$n.db_cpu_s", "$n.served") && $r{"$n.served"} > 0;
    return $r{"$n.db_cpu_s"} * 1e6 / $r{"$n.served"};
}
sub per_req {    # counter KEY of run NAME per request the server logged
    my ($n, $key) = @_;
    return undef unless have("$n.$key", "$n.served") && $r{"$n.served"} > 0;
    return $r{"$n.$key"} / $r{"$n.served"};
}
sub num {
    my ($v, $unit) = @_;
    return undef unless defined $v;
    my $f = $v >= 1000 ? '%.0f' : $v >= 100 ? '%.0f' : $v >= 10 ? '%.1f' : $v >= 1 ? '%.2f' : '%.3f';
    my $s = sprintf $f, $v;
    1 while $s =~ s/^(\d+)(\d{3})/$1 $2/;
    return $unit eq '' ? $s : "$s $unit";
}

my @rows;    # [figure, value, reference, ref value, ratio, target]
sub row {
    my ($fig, $v, $unit, $ref, $rv, $runit, $target, $na) = @_;
    if (!defined $v) {
        my $rs = $ref eq '' ? '' : num($rv, $runit) // 'n/a';
        push @rows, [$fig, 'n/a' . ($na ? " ($na)" : ''), $ref, $rs, '', $target // ''];
        return;
    }
    my $ratio = defined $rv && $rv > 0 ? sprintf('%.2f', $v / $rv) : '';
    my $rs = $ref eq '' ? '' : num($rv, $runit) // 'n/a';
    push @rows, [$fig, num($v, $unit), $ref, $rs, $ratio, $target // ''];
}
sub section { push @rows, [shift] }

my $render_na = $r{'render.na'};
my $bad = sub { my $n = shift; have("$n.bad") && $r{"$n.bad"} > 0 ? " ($r{\"$n.bad\"} errors)" : '' };

section('1. hit: cached 256 px preview (token + DB query + cache file) vs static file');
row('hit, owner cache off, requests/s' . $bad->('hit'), $r{'hit.rps'}, 'req/s', 'static file, same httpd' . $bad->('static'),
    $r{'static.rps'}, 'req/s', '>= 0.38', $r{'hit.na'});
row('hit, httpd CPU per request', defined cpu_ms('hit') ? cpu_ms('hit') * 1000 : undef, 'us',
    'static file, same httpd', defined cpu_ms('static') ? cpu_ms('static') * 1000 : undef, 'us', '', $r{'hit.na'});
row('hit, MariaDB CPU per request', db_us('hit'), 'us', '', undef, '', '', $r{'hit.na'});
row('hit, httpd context switches per request', per_req('hit', 'ctx'), '', 'static file, same httpd',
    per_req('static', 'ctx'), '', '', $r{'hit.na'});
row('hit, MariaDB context switches per request', per_req('hit', 'db_ctx'), '', '', undef, '', '', $r{'hit.na'});
row('hit, owner cache on, requests/s' . $bad->('hitoc'), $r{'hitoc.rps'}, 'req/s',
    'static file, same httpd', $r{'static.rps'}, 'req/s', '>= 0.85', $r{'hit.na'});
row('  httpd CPU per request', defined cpu_ms('hitoc') ? cpu_ms('hitoc') * 1000 : undef, 'us',
    'hit, owner cache off', defined cpu_ms('hit') ? cpu_ms('hit') * 1000 : undef, 'us', '', $r{'hit.na'});
row('  MariaDB CPU per request', db_us('hitoc'), 'us', 'hit, owner cache off', db_us('hit'), 'us', '',
    $r{'hit.na'});
# Counting on and off (PreviewMetrics Off), five interleaved rounds each:
# the medians.
sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v == 5;
    return $v[2];
}
my $rounds = sub {    # PREFIX, KIND: the median of rps or us per request
    my ($p, $kind) = @_;
    return median(map { $kind eq 'rps' ? $r{"$p$_.rps"} : defined cpu_ms("$p$_") ? cpu_ms("$p$_") * 1000 : undef }
        1 .. 5);
};
row('  counting on, requests/s (median of 5 rounds)' . $bad->('occ3'), $rounds->('occ', 'rps'), 'req/s',
    'PreviewMetrics Off, interleaved', $rounds->('ocn', 'rps'), 'req/s', '>= 0.97', $r{'hit.na'});
row('  counting on, httpd CPU per request', $rounds->('occ', 'us'), 'us', 'PreviewMetrics Off, interleaved',
    $rounds->('ocn', 'us'), 'us', '', $r{'hit.na'});
row('hit, MariaDB query cache on, requests/s' . $bad->('hitqc'), $r{'hitqc.rps'}, 'req/s',
    'static file, same httpd', $r{'static.rps'}, 'req/s', '', $r{'hit.na'});
row('  httpd CPU per request', defined cpu_ms('hitqc') ? cpu_ms('hitqc') * 1000 : undef, 'us',
    'hit, MariaDB defaults', defined cpu_ms('hit') ? cpu_ms('hit') * 1000 : undef, 'us', '', $r{'hit.na'});
row('  MariaDB CPU per request', db_us('hitqc'), 'us', 'hit, MariaDB defaults', db_us('hit'), 'us', '',
    $r{'hit.na'});

my $sec2 = scalar @rows;
my $floor = have('djpeg.baseline.ms') ? 1000 / $r{'djpeg.baseline.ms'} * $cores : undef;
section('2. render, no cache, -> 256 px JPEG q80 (Pillow: the origin app\'s code, one process per core)');
row('4032x3024 baseline JPEG, requests/s' . $bad->('base'), $r{'base.rps'}, 'req/s',
    "Pillow x $cores processes", $r{'pil.baseline.rps'}, 'img/s', '>= 1.25', $render_na);
row('  httpd CPU per image', cpu_ms('base'), 'ms', 'Pillow in-process, per image', $r{'pil.baseline.ms'}, 'ms',
    '', $render_na);
row('  httpd CPU per image', cpu_ms('base'), 'ms', 'djpeg -scale 1/8, per image', $r{'djpeg.baseline.ms'}, 'ms',
    '<= 1', $render_na);
row('  requests/s', $r{'base.rps'}, 'req/s', "djpeg -scale 1/8 floor x $cores cores", $floor, 'img/s', '',
    $render_na);
row('  httpd CPU per image', cpu_ms('base'), 'ms', 'vipsthumbnail, batch, per image', $r{'vt.baseline.ms'}, 'ms',
    '< 1', $render_na);
row('  httpd CPU per image', cpu_ms('base'), 'ms', 'vipsthumbnail, 1 invocation (CPU)', $r{'vt.single.ms'}, 'ms',
    '', $render_na);
row('5120x2880 progressive 4:4:4 JPEG, requests/s' . $bad->('prog'), $r{'prog.rps'}, 'req/s',
    "Pillow x $cores processes", $r{'pil.progressive.rps'}, 'img/s', '>= 5', $render_na);
row('  httpd CPU per image', cpu_ms('prog'), 'ms', 'Pillow in-process, per image', $r{'pil.progressive.ms'}, 'ms',
    '', $render_na);
row('  httpd CPU per image', cpu_ms('prog'), 'ms', 'djpeg -scale 1/8, per image', $r{'djpeg.progressive.ms'},
    'ms', '', $render_na);
row('  httpd CPU per image', cpu_ms('prog'), 'ms', 'vipsthumbnail, batch, per image', $r{'vt.progressive.ms'},
    'ms', '< 1', $render_na);
row('3840x2160 RGB PNG, requests/s' . $bad->('png'), $r{'png.rps'}, 'req/s', "Pillow x $cores processes",
    $r{'pil.png.rps'}, 'img/s', '>= 1.3', $render_na);
row('  httpd CPU per image', cpu_ms('png'), 'ms', 'Pillow in-process, per image', $r{'pil.png.ms'}, 'ms', '',
    $render_na);
row('  httpd CPU per image', cpu_ms('png'), 'ms', 'vipsthumbnail, batch, per image', $r{'vt.png.ms'}, 'ms', '< 1',
    $render_na);
row('baseline JPEG -> 1024 px, requests/s' . $bad->('base1024'), $r{'base1024.rps'}, 'req/s', '', undef, '',
    'no slower than main', $render_na);
row('  httpd CPU per image', cpu_ms('base1024'), 'ms', '', undef, '', '', $render_na);
row('baseline JPEG -> 2048 px, requests/s' . $bad->('base2048'), $r{'base2048.rps'}, 'req/s', '', undef, '',
    'no slower than main', $render_na);
row('  httpd CPU per image', cpu_ms('base2048'), 'ms', '', undef, '', '', $render_na);

section('3. peer: nginx secure_link + image_filter resize 256, 4032x3024 baseline JPEG');
row('mod_preview render, requests/s', $r{'base.rps'}, 'req/s', 'nginx image_filter' . $bad->('nginx'),
    $r{'nginx.rps'}, 'req/s', '>= 10', $render_na);
row('mod_preview CPU per image', cpu_ms('base'), 'ms', 'nginx CPU per image', cpu_ms('nginx'), 'ms', '', $render_na);
# Every renderer decodes the whole JPEG: the floor is the most any can do.
row("  decode floor, djpeg -scale 1/8 x $cores cores", $floor, 'img/s', 'nginx image_filter', $r{'nginx.rps'},
    'req/s', '', $render_na);

section('4. memory (resident set of the httpd child)');
my $mb = sub { defined $_[0] ? $_[0] / 1024 : undef };
row('peak, 8 concurrent 14.7 Mpx progressive renders' . $bad->('mem'), $mb->($r{'mem.peak_kib'}), 'MB', 'target',
    150, 'MB', '<= 1', $r{'mem.na'});
row('  idle before them (fresh child, 1 render done)', $mb->($r{'mem.idle_kib'}), 'MB', '', undef, '', '', $r{'mem.na'});
my $growth;
if (have('growth.before_kib', 'growth.after_kib') && $r{'growth.before_kib'} > 0) {
    $growth = ($r{'growth.after_kib'} - $r{'growth.before_kib'}) * 100 / $r{'growth.before_kib'};
}
row(have('growth.req') ? 'after ' . num($r{'growth.req'}, 'mixed requests') : 'after the mixed requests', $mb->($r{'growth.after_kib'}), 'MB',
    'after a warm-up (fresh child)', $mb->($r{'growth.before_kib'}), 'MB', '<= 1.05', $r{'mem.na'});
push @rows, ['  growth', defined $growth ? sprintf('%+.1f %%', $growth) : 'n/a', '', '', '', '<= 5 %']
    if !$r{'mem.na'};

# Children that died of a signal during the whole run (httpd's AH00052).
push @rows, ['httpd children that crashed (AH00052), whole run', $r{'httpd.crashed'} // 'n/a', '', '', '', '0'];
section('5. token verification (core micro-benchmark, HS256)');
row('verifications/s, 1 thread', $r{'verify.1t'}, '/s', '', undef, '', '');
row("verifications/s, 2 threads", $r{'verify.2t'}, '/s', '1 thread', $r{'verify.1t'}, '/s', '');

splice(@rows, $sec2) if $hit_only;
my @head = ('figure', 'value', 'reference', 'value', 'ratio', 'target');
my @w = map { length } @head;
for my $row (@rows) {
    next if @$row == 1;
    for my $i (0 .. $#$row) { $w[$i] = length $row->[$i] if length $row->[$i] > $w[$i] }
}
my $fmt = sprintf "%%-%ds  %%%ds  %%-%ds  %%%ds  %%%ds  %%s\n", @w[0 .. 4];
printf $fmt, @head;
for my $row (@rows) {
    if (@$row == 1) {
        print "$row->[0]\n";
        next;
    }
    printf $fmt, @$row;
}

exit 0 if $hit_only;

# Details: every wrk run, then what httpd logged
print "\nwrk runs (requests wrk completed, p50 / p99 latency, non-2xx + socket errors; requests the server logged):\n";
my @rounds = map { ("occ$_", "ocn$_") } 1 .. 5;
for my $n (qw(static hit hitoc), @rounds, qw(hitqc base prog png base1024 base2048 nginx mem)) {
    next unless have("$n.req");
    printf "  %-7s %8d requests  %8s / %-8s  %d errors  %8d logged\n", $n, $r{"$n.req"}, $r{"$n.p50"},
        $r{"$n.p99"}, $r{"$n.bad"} // 0, $r{"$n.served"} // 0;
}
if (have('growth.req')) {
    printf "  %-7s %8d requests (mix: renders of small.jpg at 64 and 256 px, a 404, a 401, a 400), %s req/s\n",
        'growth', $r{'growth.req'}, $r{'growth.rps'} // '?';
    printf "          RSS (MB) after each 5 s round: %s\n", $r{'growth.trail'} if have('growth.trail');
}
print "status and preview-cache note of what httpd logged per run (renders must say off):\n";
for my $n (qw(static hit hitoc), @rounds, qw(hitqc base prog png base1024 base2048 mem)) {
    printf "  %-7s %s\n", $n, $r{"$n.notes"} if have("$n.notes");
}
for my $n (qw(base prog png base1024 base2048 mem)) {
    print "WARNING: the $n run was served from a cache: its figures are not renders\n"
        if ($r{"$n.notes"} // '') =~ / hit /;
}
for my $n (qw(hit hitoc), @rounds, 'hitqc') {
    print "WARNING: the $n run was not all cache hits\n" if ($r{"$n.notes"} // '') =~ / (miss|off) /;
}
printf "djpeg start-up (exec, taken off the floor): %.2f ms; vipsthumbnail 1 invocation: %.0f ms CPU, %.0f ms wall,\n"
    . "of which start-up (1 invocation - batch per image): %.0f ms CPU\n",
    $r{'djpeg.start.ms'} // 0, $r{'vt.single.ms'} // 0, $r{'vt.single.wall_ms'} // 0,
    ($r{'vt.single.ms'} // 0) - ($r{'vt.baseline.ms'} // 0);
