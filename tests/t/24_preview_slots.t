# PreviewMaxRenders 1 and PreviewRenderTimeout 1 (vhost pv_renders): many
# slow renders at once queue for the one slot of each process; those that
# wait over a second get 503 with Retry-After, the others 200. The server
# keeps serving afterwards.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent ();
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir make_plain add_image new_user run);
use PreviewLog qw(error_log_text);
use PreviewTest qw(in_parallel tally);

plan tests => 7;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv24');
# 100 MP (the default PreviewMaxSourcePixels) of PNG: no shrink-on-load,
# every row inflated: the slowest render the limits allow.
run('vips', 'black', "$dir/big.v", 10000, 10000, '--bands', 3);
run('vips', 'copy', "$dir/big.v", "$dir/big.png[compression=1]");
unlink "$dir/big.v";
make_plain("$dir/small.jpg", 64, 64);
my ($uid, $tok) = new_user($dbh, 'slots');
my $big = add_image($dbh, $uid, "$rel/big.png");
my $small = add_image($dbh, $uid, "$rel/small.jpg");

my $url = Apache::TestRequest::module2url('pv_renders',
    { path => "/preview/$big?token=$tok" });

# 16 at once (several per child process), each reports
# "code retry-after".
my $n = 16;
my @lines = in_parallel($n, sub {
    my $res = LWP::UserAgent->new(timeout => 60)->get($url);
    return sprintf '%d %s', $res->code, $res->header('Retry-After') // '-';
})->();

my %by = %{ tally(@lines) };
is(scalar @lines, $n, "$n answers");
ok(($by{200} // 0) >= 1, ($by{200} // 0) . ' rendered (200)');
ok(($by{503} // 0) >= 1, ($by{503} // 0) . ' refused (503)');
is(($by{200} // 0) + ($by{503} // 0), $n, 'nothing but 200 and 503')
    or diag join "\n", @lines;
my @retry = map { (split ' ')[1] } grep { /^503 / } @lines;
is_deeply([ grep { $_ ne '2' } @retry ], [], '503s carry Retry-After: 2');

my $res = Apache::TestRequest::GET(Apache::TestRequest::module2url(
    'pv_renders', { path => "/preview/$small?token=$tok" }));
is($res->code, 200, 'a render afterwards: 200');
like(error_log_text(),
     qr/PV0916: image $big: no render slot free within PreviewRenderTimeout \(1 s\)/,
     'the refusal is logged');
