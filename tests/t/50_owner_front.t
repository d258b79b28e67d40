# The owner cache's front in each httpd process (note preview-owner
# "front"): a hit takes the ownership answer from its own process once it
# had it, and a logout still revokes at once. One node with the default
# shmcb (the logout epochs in shared memory tell every process), then two
# nodes sharing one redis (each front reads its user's generation back
# from redis on every hit): a logout on node A makes the token 401 on
# node B at the next request, although B's processes had the answer in
# their fronts. Other users' fronts are untouched by the logout. A source
# replaced under a front still gives the new preview (size and mtime are
# read on every request; the front keeps no source).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Path qw(make_path);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body uniq);
use PreviewImages qw(fixture_dir make_plain add_image image_info record_token);
use LWP::UserAgent ();
use PreviewNode ();

plan tests => 25;

my $redis_port = $ENV{PV_REDIS_PORT}
    or die "PV_REDIS_PORT not set (tests/run-all starts redis)\n";

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv50');
make_plain("$dir/a.jpg", 640, 480);
make_plain("$dir/r.jpg", 640, 480);
my $root = "$ENV{PV_RUN_DIR}/images";
my $db = PreviewNode::db_params();
my $locations = PreviewNode::handler_locations();

my %node;
my $port_a = PreviewNode::free_port();
for my $n (['L', undef, ''], ['A', $port_a, "PreviewSOCache redis:127.0.0.1:$redis_port"],
           ['B', undef, "PreviewSOCache redis:127.0.0.1:$redis_port"]) {
    my ($name, $port, $socache) = @$n;
    my $cache = PreviewTest::scratch_dir() . "/cache50$name";
    make_path($cache);
    $node{$name} = PreviewNode->start("node50$name", <<"BODY",
ServerName http://localhost:@{[ $port // 80 ]}
PreviewDBParams "$db"
PreviewStorageRoot "$root"
PreviewCacheDir "$cache"
$socache
PreviewOwnerCacheTimeout 300
$locations
BODY
        port => $port, modules => ['socache_shmcb', 'socache_redis']);
}
ok($node{$_}->ok, "node $_ answers") or diag($node{$_}->start_output)
    for qw(L A B);

my $ua = LWP::UserAgent->new(timeout => 20, keep_alive => 0);
sub preview {
    my ($n, $id, $tok) = @_;
    return $ua->get($node{$n}->url("/preview/$id?w=256"),
                    Authorization => "Bearer $tok");
}

# The access lines of the next $count requests of node $n, once written
# (httpd logs after the client has its answer).
sub access_lines {
    my ($n, $count) = @_;
    my $path = $node{$n}->dir . '/access_log';
    my @l;
    for (1 .. 100) {
        @l = split /\n/, PreviewNode::slurp($path);
        last if @l >= ($node{$n}{mark} // 0) + $count;
        select undef, undef, undef, 0.05;
    }
    my @new = @l[($node{$n}{mark} // 0) .. $#l];
    $node{$n}{mark} = @l;
    return @new;
}

# $times previews on node $n: "code owner-note" of each.
sub previews {
    my ($n, $id, $tok, $times) = @_;
    access_lines($n, 0);
    my @codes = map { preview($n, $id, $tok)->code } 1 .. $times;
    my @l = access_lines($n, $times);
    return map { my ($owner) = split / /, $l[$_] // '- '; "$codes[$_] $owner" }
        0 .. $#codes;
}

sub user {
    my ($n, $tag) = @_;
    my $name = uniq($tag);
    my $id = add_user($dbh, $name, bcrypt_hash("pw-$name"));
    my $r = $node{$n}->login($name, "pw-$name");
    my $tok = record_token((json_body($r) // {})->{token} // '');
    return ($id, $tok);
}

sub count { my ($re, @l) = @_; return scalar grep { /$re/ } @l }

# ------------------------------------------------ one node, shmcb
my ($alice, $atok) = user('L', 'f50a');
my ($bob, $btok) = user('L', 'f50b');
my $img_a = add_image($dbh, $alice, "$rel/a.jpg");
my $img_b = add_image($dbh, $bob, "$rel/a.jpg");
# Two processes of 8 threads: 12 requests reach both, most from a front.
my @r = previews('L', $img_a, $atok, 12);
is(count(qr/^200 /, @r), 12, 'shmcb: alice\'s preview, 12 times 200');
is($r[0], '200 miss', 'the first asked the database');
cmp_ok(count(qr/^200 front$/, @r), '>=', 8,
       'most came from a process\'s front')
    or diag("@r");
@r = previews('L', $img_b, $btok, 12);
cmp_ok(count(qr/^200 front$/, @r), '>=', 8, 'bob\'s too');
is($ua->post($node{L}->url('/logout'), Authorization => "Bearer $atok")->code,
   204, 'alice logs out');
@r = previews('L', $img_a, $atok, 12);
is(count(qr/^401 /, @r), 12, 'at once, 401 in every process (12 of 12)')
    or diag("@r");
is(count(qr/ front$/, @r), 0, '... none answered from a front');
@r = previews('L', $img_b, $btok, 12);
is(count(qr/^200 /, @r), 12, 'bob\'s token still opens his preview');
cmp_ok(count(qr/^200 front$/, @r), '>=', 10,
       '... from the fronts, which alice\'s logout left alone')
    or diag("@r");

# A replaced source under a front: the new preview, not the old one.
my ($carol, $ctok) = user('L', 'f50c');
my $img_r = add_image($dbh, $carol, "$rel/r.jpg");
my @old = map { preview('L', $img_r, $ctok) } 1 .. 6;
my @on = access_lines('L', 6);
is(join(' ', map { $_->code } @old), '200 200 200 200 200 200',
   'carol\'s r.jpg, 6 times');
is(image_info($old[-1]->content)->{height}, 192, '... 256x192');
make_plain("$dir/r.new.jpg", 600, 400);
rename "$dir/r.new.jpg", "$dir/r.jpg" or die "rename: $!";
my @new = map { preview('L', $img_r, $ctok) } 1 .. 6;
my @nn = access_lines('L', 6);
is(join(' ', map { $_->code } @new), '200 200 200 200 200 200',
   'replaced: 6 times 200');
cmp_ok(count(qr/^front /, @nn), '>=', 4, '... the answers from the fronts')
    or diag("@nn");
is(scalar(grep { image_info($_->content)->{height} == 171 } @new), 6,
   '... every one the new file\'s preview (256x171)');
is(scalar(grep { ($_->header('ETag') // '') eq ($old[-1]->header('ETag') // 'x') } @new),
   0, '... none with the old ETag');

# ------------------------------------------------ two nodes, one redis
my ($dave, $dtok) = user('A', 'f50d');
my $img_d = add_image($dbh, $dave, "$rel/a.jpg");
@r = previews('B', $img_d, $dtok, 12);
is(count(qr/^200 /, @r), 12, 'redis: dave (logged in on A) previews on B');
cmp_ok(count(qr/^200 front$/, @r), '>=', 8, '... most from B\'s fronts')
    or diag("@r");
@r = previews('A', $img_d, $dtok, 4);
is(count(qr/^200 /, @r), 4, '... and on A');
is($ua->post($node{A}->url('/logout'), Authorization => "Bearer $dtok")->code,
   204, 'dave logs out on node A');
@r = previews('B', $img_d, $dtok, 12);
is(count(qr/^401 /, @r), 12, 'at once, node B refuses his token (12 of 12)')
    or diag("@r");
is(count(qr/ front$/, @r), 0, '... none from B\'s fronts');
@r = previews('A', $img_d, $dtok, 4);
is(count(qr/^401 /, @r), 4, '... and node A too');
