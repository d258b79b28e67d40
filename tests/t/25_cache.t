# The preview cache (PreviewCacheDir; vhosts pv_cache, pv_cache_small and
# pv_cache_ro of extra.conf.in): a second request is a hit (the
# preview-cache note in preview_log) with the same bytes, ETag and headers
# and no render; HEAD on a hit; the owner check and revocation still run on
# a hit; a replaced source gives a new ETag and new bytes; a read-only
# folder still serves 200s (miss every time, a warning); a folder over
# PreviewCacheMaxSize is swept back under it; concurrent misses of one key
# render once per process.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Digest::MD5 qw(md5_hex);
use LWP::UserAgent ();
use PreviewLogin qw(dbh json_body);
use PreviewImages qw(fixture_dir make_plain add_image new_user image_info
                     response_text render_count cache_entries run);
use PreviewLog qw(error_log_text log_lines);
use PreviewTest qw(in_parallel);

plan tests => 56;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv25');
my $cache_root = "$ENV{PV_RUN_DIR}/cache";

make_plain("$dir/a.jpg", 640, 480);
make_plain("$dir/r.jpg", 640, 480);
make_plain("$dir/big.jpg", 4000, 3000);

my ($alice, $atok) = new_user($dbh, 'calice');
my ($bob,   $btok) = new_user($dbh, 'cbob');
my ($carol, $ctok) = new_user($dbh, 'ccarol');
my $img_a = add_image($dbh, $alice, "$rel/a.jpg");
my $img_r = add_image($dbh, $alice, "$rel/r.jpg");
my $img_c = add_image($dbh, $carol, "$rel/a.jpg");
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');

# A unique cache buster (ignored by the handler) ties a request to its
# preview_log line.
my $seq = 0;
sub marker { sprintf 'v=c%dx%d', $$, ++$seq }

# The preview-cache note of the request carrying $marker (the log line is
# written just after the response: wait for it).
sub note_of {
    my ($marker) = @_;
    my ($line) = log_lines('preview_log', qr/[?&]\Q$marker\E /);
    return defined $line ? (split ' ', $line)[2] : 'no log line';
}

sub url {
    my ($vhost, $id, %opt) = @_;
    my @q;
    push @q, "token=$opt{token}" if defined $opt{token};
    push @q, $opt{query} if defined $opt{query};
    push @q, $opt{marker};
    return Apache::TestRequest::module2url($vhost,
        { path => "/preview/$id?" . join('&', @q) });
}

# (response, note) of GET (or HEAD) /preview/<id> on a vhost.
sub req {
    my ($vhost, $id, %opt) = @_;
    my $m = marker();
    my $u = url($vhost, $id, %opt, marker => $m);
    my $res = ($opt{method} // 'GET') eq 'HEAD'
        ? Apache::TestRequest::HEAD($u, @{ $opt{headers} // [] })
        : Apache::TestRequest::GET($u, @{ $opt{headers} // [] });
    return ($res, note_of($m));
}

# Status, headers (minus the per-response ones; max-age counts down with
# the clock) and body.
sub norm { response_text($_[0], 'Cache-Control') }

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

# ---- miss, then hit: same bytes, ETag, headers; no second render
my ($r1, $n1) = req('pv_cache', $img_a, token => $atok);
is($r1->code, 200, 'first request: 200') or diag $r1->as_string;
is($n1, 'miss', '... preview-cache miss');
my $renders = render_count($img_a);
my ($r2, $n2) = req('pv_cache', $img_a, token => $atok);
is($r2->code, 200, 'second request: 200');
is($n2, 'hit', '... preview-cache hit');
ok($r2->content eq $r1->content, '... byte-identical body');
is($r2->header('ETag'), $r1->header('ETag'), '... the same ETag');
is(norm($r2), norm($r1), '... the same status, headers and body');
like($r2->header('Cache-Control') // '', qr/^private, max-age=\d+$/,
     '... and Cache-Control');
is($r2->header('Content-Length'), length $r1->content,
   '... Content-Length is the file size');
is(render_count($img_a), $renders, '... no render for the hit');
my $e = cache_entries("$cache_root/main");
is(scalar keys %$e, 1, 'one entry in the cache folder');
ok((grep { slurp($_) eq $r1->content } keys %$e) == 1,
   '... holding the preview');

my ($h, $hn) = req('pv_cache', $img_a, token => $atok, method => 'HEAD');
is($h->code, 200, 'HEAD on a hit: 200');
is($hn, 'hit', '... a hit');
is($h->content, '', '... no body');
for my $hd (qw(Content-Type Content-Length ETag Vary
               X-Content-Type-Options)) {
    is($h->header($hd), $r1->header($hd), "... $hd as GET's");
}

my ($png, $pn) = req('pv_cache', $img_a, token => $atok,
                     query => 'format=png');
is($pn, 'miss', 'another format: a miss');
isnt($png->header('ETag'), $r1->header('ETag'), '... with its own ETag');
my ($nm, $nmn) = req('pv_cache', $img_a, token => $atok,
    headers => [ 'If-None-Match' => $r1->header('ETag') ]);
is($nm->code, 304, 'If-None-Match: 304 before the cache');
is($nmn, 'off', '... the cache is not consulted');

# ---- ownership and revocation are checked on a hit too
my ($ob, $obn) = req('pv_cache', $img_a, token => $btok);
my ($gone) = req('pv_cache', $missing, token => $btok);
is($ob->code, 404, "bob asks for alice's cached preview: 404");
is(norm($ob), norm($gone), '... identical to a missing id');
is($obn, 'off', '... the cache is not consulted');

my ($c1) = req('pv_cache', $img_c, token => $ctok);
my ($c2, $c2n) = req('pv_cache', $img_c, token => $ctok);
is($c2n, 'hit', 'carol: a hit before logout');
my $lo = Apache::TestRequest::POST(
    Apache::TestRequest::module2url('pv_cache', { path => '/logout' }),
    Authorization => "Bearer $ctok", content => '');
is($lo->code, 204, 'carol logs out');
my ($c3, $c3n) = req('pv_cache', $img_c, token => $ctok);
is($c3->code, 401, "carol's revoked token: 401 although the entry is cached");
is($c3n, 'off', '... the cache is not consulted');
ok((grep { slurp($_) eq $c1->content }
        keys %{ cache_entries("$cache_root/main") }) >= 1,
   '... the entry is still there');

# ---- a replaced source: new ETag, new bytes
my ($s1) = req('pv_cache', $img_r, token => $atok);
my (undef, $s2n) = req('pv_cache', $img_r, token => $atok);
is($s2n, 'hit', 'r.jpg: cached');
make_plain("$dir/r.new.jpg", 600, 400);
rename "$dir/r.new.jpg", "$dir/r.jpg" or die "rename: $!";
my ($s3, $s3n) = req('pv_cache', $img_r, token => $atok);
is($s3->code, 200, 'replaced source: 200');
is($s3n, 'miss', '... a miss');
isnt($s3->header('ETag'), $s1->header('ETag'), '... a new ETag');
ok($s3->content ne $s1->content, '... new bytes');
is(image_info($s3->content)->{height}, 171, '... of the new file (256x171)');
my ($s4, $s4n) = req('pv_cache', $img_r, token => $atok);
is($s4n, 'hit', '... then cached');
ok($s4->content eq $s3->content, '... with the new bytes');

# ---- a folder the server cannot write: 200 every time, never cached
chmod 0500, "$cache_root/ro" or die "chmod: $!";
my @ro = map { [ req('pv_cache_ro', $img_a, token => $atok) ] } 1 .. 3;
chmod 0700, "$cache_root/ro";
is_deeply([ map { $_->[0]->code } @ro ], [ 200, 200, 200 ],
          'read-only cache folder: 200, 200, 200');
is_deeply([ map { $_->[1] } @ro ], [qw(miss miss miss)], '... miss each time');
ok((grep { $_->[0]->content eq $r1->content } @ro) == 3,
   '... the same preview as from the cache');
is(scalar keys %{ cache_entries("$cache_root/ro") }, 0, '... nothing stored');
like(error_log_text(),
     qr/PV1006: preview cache \Q$cache_root\E\/ro: cannot store an entry/,
     '... a warning in the error log');

# ---- over PreviewCacheMaxSize (1M): swept back under it
# RGB noise does not compress: each 512 px PNG is some 700 KB.
{
    my $tmp = "$dir/noise";
    run('vips', 'gaussnoise', "$tmp.$_.v", 512, 512, '--sigma', 60)
        for qw(r g b);
    run('vips', 'bandjoin', "$tmp.r.v $tmp.g.v $tmp.b.v", "$tmp.v");
    run('vips', 'cast', "$tmp.v", "$dir/noise.png", 'uchar');
    unlink "$tmp.$_.v" for qw(r g b);
    unlink "$tmp.v";
}
my $img_n = add_image($dbh, $alice, "$rel/noise.png");
my ($stored, @sizes) = (0);
# Six boxes and fits, one 512 px PNG each (q would not do: PNG ignores it
# and so do its ETag and cache key).
for my $box ('w=512', 'h=512', 'w=512&h=512', 'w=512&h=512&fit=cover',
             'w=512&h=1024', 'w=1024&h=512') {
    my ($r, $n) = req('pv_cache_small', $img_n, token => $atok,
                      query => "$box&format=png");
    push @sizes, $r->code == 200 && $n eq 'miss' ? length $r->content : -1;
}
ok(!(grep { $_ < 300_000 || $_ > 1_048_576 } @sizes),
   'six distinct previews of 300 KB to 1 MB, each a miss')
    or diag "@sizes";
my $total;
for (1 .. 50) {
    $total = 0;
    $total += $_ for values %{ cache_entries("$cache_root/small") };
    last if $total <= 1_048_576;
    select undef, undef, undef, 0.2;
}
ok($total <= 1_048_576, "the folder shrank back under 1M ($total bytes)");
ok($total > 0, '... keeping the most recent entries');
like(error_log_text(),
     qr/PV0800: cache sweep of \Q$cache_root\E\/small: .* [1-9]\d* removed/,
     '... the sweep is logged with what it removed');

# ---- concurrent misses of one key: one render per process
my $img_g = add_image($dbh, $alice, "$rel/big.jpg");
my $n = 8;
my @markers;
push @markers, marker() for 1 .. $n;
my @lines = in_parallel($n, sub {
    my $res = LWP::UserAgent->new(timeout => 60)->get(
        url('pv_cache', $img_g, token => $atok, marker => $markers[$_[0] - 1]));
    return sprintf '%d %s %s', $res->code, $res->header('ETag') // '-',
                   md5_hex($res->content);
})->();
is(scalar @lines, $n, "$n concurrent requests for one new preview");
my %distinct = map { $_ => 1 } @lines;
is(scalar keys %distinct, 1, '... the same 200, ETag and bytes for all')
    or diag join "\n", @lines;
like($lines[0], qr/^200 "[0-9a-f]{32}" [0-9a-f]{32}$/, '... a 200');
my %notes;
$notes{ note_of($_) }++ for @markers;
my %per_pid;
$per_pid{$_}++
    for error_log_text() =~ /\[pid (\d+):tid \d+\] .*PV0917: image $img_g rendered/g;
my $nr = 0;
$nr += $_ for values %per_pid;
ok($nr >= 1, "... rendered $nr time(s), by " . (keys %per_pid)
   . ' process(es)');
is_deeply([ grep { $_ != 1 } values %per_pid ], [],
          '... at most once per process (single flight)')
    or diag explain \%per_pid;
is(($notes{miss} // 0), $nr, '... as many "miss" notes as renders');
is(($notes{miss} // 0) + ($notes{hit} // 0), $n, '... the others are hits')
    or diag explain \%notes;
