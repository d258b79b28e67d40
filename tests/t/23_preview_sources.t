# preview: hostile or broken sources. A decompression bomb is 413 in well
# under a second; a text file is 415; a truncated JPEG is 415, never 5xx;
# paths that leave PreviewStorageRoot (.., absolute, a symlink out) and
# missing files are 404 like any missing image, with a warning naming the
# image id; a symlink that stays inside the root is served.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(time);
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir make_plain make_bomb add_image new_user
                     preview storage);
use PreviewLog qw(error_log_text);

plan tests => 37;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv23');
my $outside = "$ENV{PV_RUN_DIR}/tmp/pv23-outside.jpg";
make_plain($outside, 64, 64);
make_plain("$dir/ok.jpg", 64, 64);
make_bomb("$dir/bomb.png");
ok(-s "$dir/bomb.png" < 100_000, 'bomb fixture: under 100 KB for 400 MP')
    or diag -s "$dir/bomb.png";
{
    open my $f, '>', "$dir/text.jpg" or die $!;
    print {$f} "this is not an image\n" x 20;
}
{
    make_plain("$dir/full.jpg", 800, 600);
    open my $in, '<:raw', "$dir/full.jpg" or die $!;
    my $b = do { local $/; <$in> };
    open my $out, '>:raw', "$dir/truncated.jpg" or die $!;
    print {$out} substr($b, 0, int(length($b) / 2));
}
symlink($outside, "$dir/link-out.jpg") or die "symlink: $!";
symlink('ok.jpg', "$dir/link-in.jpg") or die "symlink: $!";
symlink("$ENV{PV_RUN_DIR}/tmp", "$dir/dir-out") or die "symlink: $!";
mkdir "$dir/subdir";

my ($uid, $tok) = new_user($dbh, 'sources');
my %img = map { $_->[0] => add_image($dbh, $uid, $_->[1]) } (
    [ ok        => "$rel/ok.jpg" ],
    [ bomb      => "$rel/bomb.png" ],
    [ text      => "$rel/text.jpg" ],
    [ truncated => "$rel/truncated.jpg" ],
    [ dotdot    => "../tmp/pv23-outside.jpg" ],
    [ dotdot2   => "$rel/../$rel/ok.jpg" ],
    [ absolute  => $outside ],
    [ link_out  => "$rel/link-out.jpg" ],
    [ dir_out   => "$rel/dir-out/pv23-outside.jpg" ],
    [ link_in   => "$rel/link-in.jpg" ],
    [ missing   => "$rel/nope.jpg" ],
    [ directory => "$rel/subdir" ],
    [ empty     => '' ],
);

is(preview($img{ok}, token => $tok)->code, 200, 'a plain file: 200');
is(preview($img{link_in}, token => $tok)->code, 200,
   'a symlink inside the root: 200');

# ---- bomb: refused from the header, fast
my $t0 = time;
my $r = preview($img{bomb}, token => $tok);
my $dt = time - $t0;
is($r->code, 413, 'bomb: 413');
is_deeply(json_body($r), { error => 'too_large',
    message => "the source image is over this server's size limits" },
    'bomb: body');
ok($dt < 1, sprintf 'bomb: answered in %.3f s (< 1 s)', $dt);

# ---- not an image, broken image
$r = preview($img{text}, token => $tok);
is($r->code, 415, 'text file: 415');
is_deeply(json_body($r), { error => 'unsupported_image',
    message => 'the source is not an image this server renders' },
    'text file: body');
$r = preview($img{truncated}, token => $tok);
is($r->code, 415, 'truncated JPEG: 415');
ok($r->code < 500, 'truncated JPEG: not 5xx');
# The worker survived: the next request is served.
is(preview($img{ok}, token => $tok)->code, 200, 'still serving after them');

# ---- paths out of the root, missing files: the plain 404
my $ref = preview($img{missing}, token => $tok);
is($ref->code, 404, 'missing file: 404');
is_deeply(json_body($ref), { error => 'not_found', message => 'no such image' },
          'missing file: the usual 404 body');
for my $k (qw(dotdot dotdot2 absolute link_out dir_out directory empty)) {
    $r = preview($img{$k}, token => $tok);
    is($r->code, 404, "$k: 404");
    is($r->content, $ref->content, "$k: the same body");
}

# ---- each is in the error log with the image id, never the token
my $log = error_log_text();
like($log, qr/PV0909: image $img{missing}: source file missing/,
     'missing: warned with the id');
like($log, qr/PV0907: image $img{dotdot}: source path refused: '\.\.' segment/,
     '..: warned');
like($log, qr/PV0907: image $img{dotdot2}: source path refused: '\.\.' segment/,
     '.. in the middle: warned');
like($log, qr/PV0907: image $img{absolute}: source path refused: absolute path/,
     'absolute: warned');
like($log, qr/PV0907: image $img{link_out}: source path refused: resolves outside/,
     'symlink out: warned');
like($log, qr/PV0907: image $img{dir_out}: source path refused: resolves outside/,
     'symlinked folder out: warned');
like($log, qr/PV0907: image $img{directory}: source path refused: not a regular file/,
     'a directory: warned');
like($log, qr/PV0907: image $img{empty}: source path refused: empty path/,
     'empty path: warned');
like($log, qr/PV0904: image $img{bomb}: source over/, 'bomb: logged');
like($log, qr/\[preview:warn\].*PV0907/, 'refusals are warnings');
