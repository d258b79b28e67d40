# preview: the query, strictly. Every malformed w, h, fit, format and q is
# a 400 whose JSON body names the parameter, before any database or image
# work; unknown parameters (cache busters) are ignored.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     render_count);

my @bad = (
    [ 'w=0', 'w' ], [ 'w=abc', 'w' ], [ 'w=007', 'w' ], [ 'w=-1', 'w' ],
    [ 'w=', 'w' ], [ 'w', 'w' ], [ 'w=1&w=1', 'w' ], [ 'w=12.5', 'w' ],
    [ 'w=%2B5', 'w' ], [ 'w=100001', 'w' ], [ 'w=99999999999999999999', 'w' ],
    [ 'h=-1', 'h' ], [ 'h=0', 'h' ], [ 'h=1e3', 'h' ], [ 'h=2&h=3', 'h' ],
    [ 'fit=foo', 'fit' ], [ 'fit=COVER', 'fit' ], [ 'fit=', 'fit' ],
    [ 'format=gif', 'format' ], [ 'format=JPEG', 'format' ],
    [ 'format=', 'format' ], [ 'format=jpeg&format=png', 'format' ],
    [ 'q=0', 'q' ], [ 'q=101', 'q' ], [ 'q=abc', 'q' ], [ 'q=050', 'q' ],
    [ 'q=-5', 'q' ],
);

plan tests => 2 * @bad + 12;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv22');
make_plain("$dir/p.jpg", 300, 200);
my ($uid, $tok) = new_user($dbh, 'params');
my $img = add_image($dbh, $uid, "$rel/p.jpg");

my $n = render_count($img);
for my $b (@bad) {
    my ($q, $name) = @$b;
    my $r = preview($img, token => $tok, query => $q);
    is($r->code, 400, "$q: 400");
    is_deeply(json_body($r),
              { error => 'bad_request', message => "invalid parameter: $name" },
              "$q: body names $name");
}
is(render_count($img), $n, 'no render for any of them');

# 400 comes before the database: someone else's / a missing image too.
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');
is(preview($missing, token => $tok, query => 'w=0')->code, 400,
   'bad w on a missing image: 400');
# format=webp where PreviewFormats is jpeg only: not offered.
my $r = preview($img, base => '/preview-jpeg', token => $tok,
                query => 'format=webp');
is($r->code, 400, 'format outside PreviewFormats: 400');
is_deeply(json_body($r), { error => 'bad_request',
                           message => 'invalid parameter: format' },
          '... names format');

# Valid forms.
is(preview($img, token => $tok, query => 'v=123&utm=x;y&w=64')->code, 200,
   'unknown parameters ignored');
is(preview($img, token => $tok, query => 'w=64&h=64&fit=inside&format=auto&q=1')
   ->code, 200, 'every parameter at a valid value');
is(preview($img, token => $tok, query => 'q=100&format=jpeg')->code, 200,
   'q=100');
is(preview($img, token => $tok, query => 'w=100000')->code, 200,
   'w=100000 (clamped to the largest size)');
is(preview($img, token => $tok, query => 'w=64#frag')->code, 200,
   'a fragment is not part of the query');

# PNG is lossless and ignores q: any q gives the same bytes and ETag (one
# cache entry); for JPEG q changes both.
my $p1 = preview($img, token => $tok, query => 'format=png&q=1');
my $p2 = preview($img, token => $tok, query => 'format=png&q=2');
is($p1->header('ETag'), $p2->header('ETag'), 'format=png: q=1 and q=2 share the ETag');
ok($p1->content eq $p2->content, '... and the bytes');
isnt(preview($img, token => $tok, query => 'format=jpeg&q=1',
             base => '/preview-qualities')->header('ETag'),
     preview($img, token => $tok, query => 'format=jpeg&q=100',
             base => '/preview-qualities')->header('ETag'),
     'format=jpeg: q=1 and q=100 differ (PreviewQualities 30 60 90)');
