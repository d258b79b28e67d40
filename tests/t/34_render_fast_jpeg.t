# The JPEG fast path (1/8 scale DC decode and a finish in C, PV1400) and
# its fallback to libvips (PV1401, or nothing when the header already rules
# it out). A 2048x1536 photo in each EXIF orientation 1-8 comes back upright
# at exactly 256x192 or 192x256 by the fast path; a progressive 4:4:4 one
# too; a Display P3 red comes back sRGB red (libvips' thumbnail keeps the
# P3 numbers); truncated baseline and progressive files are 415 as before,
# through libvips; a CMYK and an arithmetic-coded JPEG, and a 2048 px box,
# are rendered by libvips as before.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use Apache::Test qw(-withtestmore);
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir make_photo add_image new_user preview
                     image_info run);
use PreviewLog qw(error_log_path error_log_text);

plan tests => 8 * 3 + 3 + 4 + 2 * 4 + 2 * 3 + 3;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv34');
my ($uid, $tok) = new_user($dbh, 'fastjpeg');

# How many lines tagged PV$tag the error log has after byte $from (the
# render's own: the requests here run one at a time, and the core names
# the descriptor it renders, not the file).
sub logged {
    my ($tag, $name, $from) = @_;
    return scalar grep { /PV$tag: / } split /\n/, error_log_text($from);
}

# GET the preview of fixture $name (query $q): (response, info, log from).
sub get {
    my ($name, $q) = @_;
    my $id = add_image($dbh, $uid, "$rel/$name");
    my $from = -s error_log_path();
    my $r = preview($id, token => $tok, query => $q);
    return ($r, $r->code == 200 ? image_info($r->content) : {}, $from);
}

# ---- every orientation: upright, exact size, fast path
for my $o (1 .. 8) {
    make_photo("$dir/o$o.jpg", width => 2048, height => 1536,
               orientation => $o);
    my ($r, $i, $from) = get("o$o.jpg");
    my $want = $o >= 5 ? '192x256' : '256x192';
    is($r->code, 200, "orientation $o: 200");
    is("$i->{width}x$i->{height}", $want, "orientation $o: $want");
    is(logged(1400, "o$o.jpg", $from), 1, "orientation $o: fast path");
}

# ---- progressive 4:4:4
{
    my $t = File::Temp->newdir;
    run('vips', 'gaussnoise', "$t/n.v", 2400, 1600, '--mean', 128,
        '--sigma', 40);
    run('vips', 'colourspace', "$t/n.v", "$t/c.v", 'srgb');
    run('vips', 'copy', "$t/c.v",
        "$dir/prog444.jpg\[Q=85,interlace,subsample-mode=off\]");
    my ($r, $i, $from) = get('prog444.jpg');
    is($r->code, 200, 'progressive 4:4:4: 200');
    is("$i->{width}x$i->{height}", '256x171', 'progressive 4:4:4: 256x171');
    is(logged(1400, 'prog444.jpg', $from), 1, 'progressive 4:4:4: fast path');
}

# ---- Display P3 red to sRGB red
{
    my $t = File::Temp->newdir;
    run('vips', 'black', "$t/b.v", 2048, 2048, '--bands', 3);
    run('vips', 'linear', "$t/b.v", "$t/r.v", '1 1 1', '255 0 0');
    run('vips', 'cast', "$t/r.v", "$t/u.v", 'uchar');
    run('vips', 'copy', "$t/u.v", "$t/s.v", '--interpretation', 'srgb');
    run('vips', 'icc_transform', "$t/s.v", "$t/p3.v", 'p3',
        '--input-profile', 'srgb');
    run('vips', 'copy', "$t/p3.v", "$dir/p3red.jpg\[Q=95\]");
    my ($r, $i, $from) = get('p3red.jpg');
    is($r->code, 200, 'Display P3: 200');
    is(logged(1400, 'p3red.jpg', $from), 1, 'Display P3: fast path');
    my $out = File::Temp->new(SUFFIX => '.jpg');
    binmode $out;
    print {$out} $r->content;
    close $out;
    my ($red, $green) = split ' ', run('vips', 'getpoint', "$out", 128, 128);
    # P3's own numbers for sRGB red are about 234 51 35
    cmp_ok($red, '>=', 248, 'Display P3 red: sRGB red channel') or diag $red;
    cmp_ok($green, '<=', 12, 'Display P3 red: sRGB green channel')
        or diag $green;
}

# ---- truncated: 415 through libvips, never a partial image
{
    make_photo("$dir/full.jpg", width => 2048, height => 1536, exif => 0);
    my $t = File::Temp->newdir;
    run('vips', 'copy', "$dir/full.jpg", "$t/p.jpg\[Q=85,interlace\]");
    for ([ 'full.jpg', 'trunc-base.jpg' ], [ "$t/p.jpg", 'trunc-prog.jpg' ]) {
        my ($src, $name) = @$_;
        open my $in, '<:raw', $src =~ m{^/} ? $src : "$dir/$src" or die $!;
        my $b = do { local $/; <$in> };
        open my $o, '>:raw', "$dir/$name" or die $!;
        print {$o} substr($b, 0, int(length($b) * 3 / 4));
        close $o;
        my ($r, undef, $from) = get($name);
        is($r->code, 415, "$name: 415");
        like($r->header('Content-Type') // '', qr{^application/json},
             "$name: an error body, not an image");
        is(logged(1400, $name, $from), 0, "$name: not by the fast path");
        is(logged(1401, $name, $from), 1, "$name: left to libvips");
    }
}

# ---- CMYK and arithmetic coding: libvips as before
{
    my $t = File::Temp->newdir;
    run('vips', 'colourspace', "$dir/full.jpg", "$t/k.v", 'cmyk');
    run('vips', 'copy', "$t/k.v", "$dir/cmyk.jpg\[Q=85\]");
    run('vips', 'copy', "$dir/full.jpg", "$t/f.ppm");
    run('sh', '-c', "cjpeg -arithmetic '$t/f.ppm' > '$dir/arith.jpg'");
    for my $name (qw(cmyk.jpg arith.jpg)) {
        my ($r, $i, $from) = get($name);
        is($r->code, 200, "$name: 200");
        is("$i->{width}x$i->{height}", '256x192', "$name: 256x192");
        is(logged(1400, $name, $from), 0, "$name: not by the fast path");
    }
}

# ---- a 2048 box: the 1/8 image would be too small, libvips renders it
{
    my ($r, $i, $from) = get('o6.jpg', 'w=2048');
    is($r->code, 200, 'w=2048: 200');
    is("$i->{width}x$i->{height}", '1536x2048', 'w=2048: 1536x2048');
    is(logged(1400, 'o6.jpg', $from), 0, 'w=2048: not by the fast path');
}
