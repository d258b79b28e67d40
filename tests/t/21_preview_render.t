# preview: what comes out. A 4032x3024 phone JPEG with EXIF orientation 6
# and GPS comes back upright, 192x256 for the default size, with no EXIF,
# GPS or XMP left; sizes round up to PreviewSizes and never upscale;
# fit=cover fills the box exactly; format by Accept (WebP, AVIF where
# allowed, JPEG otherwise) with Vary: Accept; alpha kept (PNG or WebP).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir make_photo make_plain make_alpha add_image
                     new_user preview image_info exif_groups);

plan tests => 62;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv21');
make_photo("$dir/photo.jpg");
make_plain("$dir/small.jpg", 100, 80);
make_alpha("$dir/alpha.png", 300, 200);

my ($uid, $tok) = new_user($dbh, 'render');
my $photo = add_image($dbh, $uid, "$rel/photo.jpg");
my $small = add_image($dbh, $uid, "$rel/small.jpg");
my $alpha = add_image($dbh, $uid, "$rel/alpha.png");

# The fixture really has what must not leak.
my $src = do { local $/; open my $f, '<:raw', "$dir/photo.jpg" or die; <$f> };
my $sg = exif_groups($src);
ok(exists $sg->{EXIF} && grep({ /GPS/ } @{ $sg->{EXIF} }),
   'fixture: EXIF with GPS tags');
ok(exists $sg->{XMP}, 'fixture: XMP');

sub get {
    my ($id, $q, @h) = @_;
    my $r = preview($id, token => $tok, query => $q, headers => [@h]);
    return ($r, $r->code == 200 ? image_info($r->content) : {});
}

sub dims_are {
    my ($id, $q, $w, $h, $what, @hdr) = @_;
    my ($r, $i) = get($id, $q, @hdr);
    is($r->code, 200, "$what: 200") or diag $r->as_string;
    is("$i->{width}x$i->{height}", "${w}x$h", "$what: ${w}x$h");
    return ($r, $i);
}

# ---- the phone photo
my ($r, $i) = dims_are($photo, '', 192, 256,
                       'photo, default size: upright portrait');
is($r->header('Content-Type'), 'image/jpeg', 'photo: JPEG');
my $g = exif_groups($r->content);
ok(!exists $g->{EXIF}, 'no EXIF in the preview')
    or diag join ',', @{ $g->{EXIF} };
ok(!grep({ /GPS/ } map { @$_ } values %$g), 'no GPS tag anywhere');
ok(!exists $g->{XMP}, 'no XMP');
ok(!exists $g->{ICC_Profile}, 'no ICC profile');
unlike($r->content, qr/PreviewTestCam|SecretCreator/, 'no maker, no creator');

# ---- sizes: rounded up to PreviewSizes (64 128 256 512 1024 2048)
dims_are($photo, 'w=200', 256, 341, 'w=200: 256 box, height follows');
dims_are($photo, 'h=100', 96, 128, 'h=100: 128 box');
dims_are($photo, 'w=64&h=64', 48, 64, 'w=64&h=64: inside');
dims_are($photo, 'w=5000', 2048, 2731, 'w=5000: clamped to 2048');
dims_are($photo, 'fit=cover&w=128&h=128', 128, 128, 'fit=cover: exact 128x128');
dims_are($photo, 'fit=cover&w=100&h=300', 128, 512,
         'fit=cover 100x300: 128x512 box exactly');
dims_are($photo, 'fit=cover', 256, 256, 'fit=cover, default size: 256x256');
dims_are($small, 'w=1024', 100, 80, 'never upscaled past the source');
dims_are($small, 'fit=cover&w=512&h=512', 100, 80,
         'cover never upscales either: the source as it is');

# ---- quality: q changes the bytes, not the size (PreviewQualities 30 60
# 90 at /preview-qualities: q=10 is 30, q=95 is 90)
my $q10 = preview($photo, token => $tok, query => 'q=10',
                  base => '/preview-qualities');
my $q95 = preview($photo, token => $tok, query => 'q=95',
                  base => '/preview-qualities');
ok(length($q10->content) < length($q95->content), 'q=10 smaller than q=95');
isnt($q10->header('ETag'), $q95->header('ETag'), 'q is in the ETag');

# ---- format negotiation (default PreviewFormats jpeg webp png)
($r, $i) = get($photo, '', Accept => 'image/webp,*/*;q=0.8');
is($r->header('Content-Type'), 'image/webp', 'Accept image/webp: WebP');
is($i->{loader}, 'webpload', '... really WebP');
is($r->header('Vary'), 'Accept', '... Vary: Accept');
my $webp_etag = $r->header('ETag');
($r, $i) = get($photo, '', Accept => '*/*');
is($r->header('Content-Type'), 'image/jpeg', 'Accept */*: JPEG');
is($i->{loader}, 'jpegload', '... really JPEG');
isnt($r->header('ETag'), $webp_etag, 'each variant has its own ETag');
($r, $i) = get($photo, '', Accept => 'image/avif,image/webp');
is($r->header('Content-Type'), 'image/webp',
   'AVIF not in PreviewFormats here: WebP');
($r) = get($photo, 'format=png');
is($r->header('Content-Type'), 'image/png', 'format=png');
is($r->header('Vary'), undef, 'explicit format: no Vary');
($r) = get($photo, 'format=webp', Accept => 'image/jpeg');
is($r->header('Content-Type'), 'image/webp', 'format=webp beats Accept');

# AVIF where PreviewFormats allows it
$r = preview($photo, base => '/preview-avif', token => $tok,
             headers => [ Accept => 'image/avif,image/webp,*/*' ]);
is($r->code, 200, '/preview-avif: 200');
is($r->header('Content-Type'), 'image/avif', 'Accept image/avif: AVIF');
is($r->header('Vary'), 'Accept', '... Vary: Accept');
$i = image_info($r->content);
is($i->{loader}, 'heifload', '... really HEIF/AVIF');
is("$i->{width}x$i->{height}", '192x256', '... 192x256');
$r = preview($photo, base => '/preview-avif', token => $tok,
             headers => [ Accept => 'image/webp' ]);
is($r->header('Content-Type'), 'image/webp', '/preview-avif, webp only: WebP');

# Only JPEG allowed: no negotiation, no Vary
$r = preview($photo, base => '/preview-jpeg', token => $tok,
             headers => [ Accept => 'image/webp' ]);
is($r->header('Content-Type'), 'image/jpeg', '/preview-jpeg: JPEG');
is($r->header('Vary'), undef, '... no Vary: nothing to negotiate');

# ---- alpha kept
($r, $i) = get($alpha, '', Accept => '*/*');
is($r->header('Content-Type'), 'image/png', 'alpha, */*: PNG');
is($i->{bands}, 4, '... 4 bands (alpha kept)');
is("$i->{width}x$i->{height}", '256x171', '... 256x171');
($r, $i) = get($alpha, '', Accept => 'image/webp');
is($r->header('Content-Type'), 'image/webp', 'alpha, webp: WebP');
is($i->{bands}, 4, '... 4 bands');
($r, $i) = get($alpha, 'format=jpeg');
is($r->header('Content-Type'), 'image/jpeg', 'alpha, format=jpeg: JPEG');
is($i->{bands}, 3, '... flattened, 3 bands');
$r = preview($alpha, base => '/preview-jpeg', token => $tok);
is($r->header('Content-Type'), 'image/jpeg',
   'alpha where only JPEG is allowed: JPEG');

# ---- HEAD of a render: exact Content-Length
my ($get) = get($photo, 'w=128');
my $head = preview($photo, token => $tok, query => 'w=128', method => 'HEAD');
is($head->code, 200, 'HEAD: 200');
is($head->header('Content-Length'), length($get->content),
   'HEAD: the exact Content-Length of the GET');
is($head->header('ETag'), $get->header('ETag'), 'HEAD: the same ETag');
is($head->content, '', 'HEAD: no body');

# ---- a replaced source never keeps its ETag
my ($before) = get($small, '');
sleep 1;
make_plain("$dir/small-new.jpg", 100, 80);
rename "$dir/small-new.jpg", "$dir/small.jpg" or die $!;
my ($after) = get($small, '');
isnt($after->header('ETag'), $before->header('ETag'),
     'replaced source: new ETag');
is(preview($small, token => $tok,
           headers => [ 'If-None-Match' => $before->header('ETag') ])->code,
   200, 'the old ETag no longer matches: 200');
