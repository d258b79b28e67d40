# preview-cache on a live cache (vhost pv_cache_cli of
# conf/preview_cache_cli.conf.in, a bounded folder whose sweeper has made
# its lock file): filled by real preview requests, the report's numbers are
# the folder's exactly; --image removes one image's previews while the
# others stay hits; --limit trims under the bound in the sweeper's order
# (least recently used first); --purge empties the folder while the server
# answers (no request fails or gets other bytes), keeping the folder and
# the lock file, and the next request is a miss, then a hit; an entry of
# the older layout is never served and is removed; bad input gets the
# documented exit statuses. Hit or miss: the preview-cache note in
# preview_log.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Digest::MD5 qw(md5_hex);
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use POSIX ();
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir make_plain add_image new_user preview
                     cache_entries);
use PreviewLog qw(log_lines);

plan tests => 52;

my $cli = $ENV{PV_CACHE_CLI} // "$ENV{PV_TOP}/build/preview-cache";
my $cdir = "$ENV{PV_RUN_DIR}/cache/cli";
my $lock = "$cdir/.pvsweep.lock";

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv46');
make_plain("$dir/a.jpg", 640, 480);
make_plain("$dir/b.jpg", 600, 400);
make_plain("$dir/c.jpg", 500, 500);
my ($uid, $tok) = new_user($dbh, 'cachecli');
my %img = map { $_ => add_image($dbh, $uid, "$rel/$_.jpg") } qw(a b c);
Apache::TestRequest::module('pv_cache_cli');

# (exit status, stdout and stderr) of preview-cache with these arguments.
sub cli {
    my $cmd = join ' ', map { quotemeta } $cli, @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# A report line's number: "entries:  6".
sub field { my ($out, $name) = @_; return $out =~ /^\Q$name\E:\s+(\d+)/m ? $1 : -1 }

# (response, preview-cache note) of one preview of image $name at width $w;
# a unique parameter (ignored by the handler) finds its preview_log line.
my $seq = 0;
sub fetch {
    my ($name, $w) = @_;
    my $m = sprintf 'v=cli%dx%d', $$, ++$seq;
    my $res = preview($img{$name}, token => $tok, query => "w=$w&$m");
    my ($line) = log_lines('preview_log', qr/[?&]\Q$m\E /);
    return ($res, defined $line ? (split ' ', $line)[2] : 'no log line');
}

# The notes of one request per variant, "a64 b128 ..." => note.
my @variants = map { my $n = $_; map { [ $n, $_ ] } 64, 128 } qw(a b c);
sub notes {
    my %n;
    for my $v (@_ ? @_ : @variants) {
        my (undef, $note) = fetch(@$v);
        $n{"$v->[0]$v->[1]"} = $note;
    }
    return \%n;
}
sub all_are { my ($n, $what) = @_; return { map { $_ => $what } keys %$n } }

# ---- fill: six previews of three images, each a miss then a hit
my (%body, $sum) = ();
for my $v (@variants) {
    my ($res, $note) = fetch(@$v);
    $body{"$v->[0]$v->[1]"} = $res->content if $res->code == 200 && $note eq 'miss';
    $sum += length $res->content;
}
is(scalar keys %body, 6, 'six previews rendered: 200, each a miss');
my $hits = notes();
is_deeply($hits, all_are($hits, 'hit'), '... then each a hit');

for (1 .. 50) { last if -f $lock; select undef, undef, undef, 0.1 }
ok(-f $lock, 'the sweeper has made its lock file');

# ---- the report: the folder's numbers exactly
my $files = cache_entries($cdir);
my $disk = 0;
$disk += $_ for values %$files;
my ($rc, $out) = cli('--dir', $cdir);
is($rc, 0, 'report: exit 0') or diag $out;
is(field($out, 'entries'), 6, '... 6 entries');
is(field($out, 'bytes'), $sum, "... $sum bytes: the sum of the six bodies");
is($disk, $sum, '... the sum of the entry files\' sizes too');
is(field($out, 'images'), 3, '... 3 image folders');
like($out, qr/^oldest:\s+\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT, last used \d+ s ago$/m,
     '... the least recently used entry\'s date and age');
is(field($out, 'leftover'), 0, '... no leftovers');
my %by_image;
$by_image{ dirname($_) }++ for keys %$files;
is_deeply([ sort values %by_image ], [ 2, 2, 2 ],
          'the layout: one folder per image, holding its two previews');

# ---- --image: one image's previews go, the others stay hits
($rc, $out) = cli('--dir', $cdir, '--image', $img{a});
is($rc, 0, '--image a: exit 0') or diag $out;
my $a_bytes = length($body{a64}) + length($body{a128});
like($out, qr/^removed:\s+2 entries, $a_bytes bytes/m,
     "... removed its 2 entries, $a_bytes bytes");
my $n = notes();
is_deeply($n, { a64 => 'miss', a128 => 'miss', b64 => 'hit', b128 => 'hit',
                c64 => 'hit', c128 => 'hit' },
          '... image a is a miss, images b and c stay hits');
$n = notes([ 'a', 64 ], [ 'a', 128 ]);
is_deeply($n, { a64 => 'hit', a128 => 'hit' }, '... then a is cached again');

# ---- --limit: least recently used first, down under the bound
# Last use is the entry's mtime: give each a known one, oldest first
# a64 a128 b64 b128 c64 c128 (the server's user is ours).
$files = cache_entries($cdir);
my %file_of = map { my $f = $_; my ($k) = grep { $body{$_} eq slurp($f) } keys %body;
                    ($k // '?') => $f } keys %$files;
is(scalar(grep { $_ ne '?' } keys %file_of), 6, 'each entry file holds one of the six previews');
my $t0 = time - 3600;
my $i = 0;
for my $v (@variants) {
    my $t = $t0 + 60 * $i++;
    utime $t, $t, $file_of{"$v->[0]$v->[1]"};
}
my $keep = 0;
$keep += length $body{$_} for qw(b128 c64 c128);
my $bound = $keep + length($body{b64}) - 1;
($rc, $out) = cli('--dir', $cdir, '--limit', $bound);
is($rc, 0, "--limit $bound: exit 0") or diag $out;
like($out, qr/^removed:\s+3 entries/m, '... removed 3 entries');
is(field($out, 'entries'), 3, '... 3 left');
is(field($out, 'bytes'), $keep, "... $keep bytes left, under $bound");
$files = cache_entries($cdir);
$disk = 0;
$disk += $_ for values %$files;
ok($disk <= $bound, "... the folder holds $disk bytes");
$n = notes();
is_deeply($n, { a64 => 'miss', a128 => 'miss', b64 => 'miss', b128 => 'hit',
                c64 => 'hit', c128 => 'hit' },
          '... the three least recently used went, the others are hits');
($rc, $out) = cli('--dir', $cdir, '--limit', '1K');
ok($rc == 0 && field($out, 'bytes') >= 0 && field($out, 'bytes') <= 1024,
   '--limit 1K: exit 0, at most 1024 bytes left') or diag $out;

# ---- the older layout: never served, counted, then removed
notes();    # all six cached again
my ($a_file) = grep { $body{a64} eq slurp($_) } keys %{ cache_entries($cdir) };
my $key = basename($a_file);
my $old = "$cdir/" . substr($key, 0, 2) . "/$key";
make_path(dirname($old));
rename $a_file, $old or die "rename: $!";
($rc, $out) = cli('--dir', $cdir);
is(field($out, 'entries'), 5, 'an entry moved to the older layout: 5 entries');
is(field($out, 'leftover'), 1, '... 1 leftover');
my ($res, $note) = fetch('a', 64);
is($note, 'miss', '... its preview is a miss: the old file is not served');
ok($res->content eq $body{a64}, '... rendered again, the same bytes');

# ---- --purge while the server answers
# Every variant is cached now: a miss in the child's requests is a purge's.
my $pid = open my $kid, '-|';
die "fork: $!" unless defined $pid;
if (!$pid) {
    # 60 requests over the six variants: status and body of each (a user
    # agent of its own: no connection shared with the parent).
    Apache::TestRequest::user_agent(reset => 1);
    my ($misses, @bad) = (0);
    for my $j (0 .. 59) {
        my $v = $variants[$j % 6];
        my ($r, $nt) = fetch(@$v);
        $misses++ if $nt eq 'miss';
        push @bad, "$j:" . $r->code
            if $r->code != 200 || $r->content ne $body{"$v->[0]$v->[1]"};
    }
    print "misses $misses bad @bad\n";
    POSIX::_exit(0);
}
my @purges;
until (waitpid($pid, POSIX::WNOHANG()) == $pid) {
    my ($prc) = cli('--dir', $cdir, '--purge');
    push @purges, $prc;
    select undef, undef, undef, 0.05;
}
my $kid_out = do { local $/; <$kid> } // '';
close $kid;
my ($misses) = $kid_out =~ /^misses (\d+)/;
ok(@purges >= 1 && !grep({ $_ != 0 } @purges),
   scalar(@purges) . ' purges while 60 requests ran: exit 0 each');
like($kid_out, qr/^misses \d+ bad \n\z/,
     '... every request 200 with its own bytes');
ok(($misses // 0) >= 1, "... $misses of them misses: the purges ran in between");

($rc, $out) = cli('--dir', $cdir, '--purge');
is($rc, 0, '--purge: exit 0') or diag $out;
like($out, qr/^entries:\s+0$/m, '... 0 entries left');
is(scalar keys %{ cache_entries($cdir) }, 0, '... no entry file in the folder');
ok(-d $cdir, '... the folder is still there');
ok(-f $lock, '... and so is the sweeper\'s lock file');
is(field($out, 'leftover'), 0, '... the old layout\'s file went with the earlier purges');
ok(!-e $old, '... it is gone');
$n = notes([ 'b', 64 ]);
is($n->{b64}, 'miss', 'after the purge: a miss');
$n = notes([ 'b', 64 ]);
is($n->{b64}, 'hit', '... then a hit');

# ---- bad input: documented exit statuses, clear messages
($rc, $out) = cli('--dir', $cdir, '--bogus');
is($rc, 2, 'an unknown option: exit 2');
like($out, qr/unknown option '--bogus'/, '... named');
($rc, $out) = cli('--dir', $cdir, '--limit', '10X');
is($rc, 2, 'a bad SIZE: exit 2');
like($out, qr/bad --limit SIZE '10X'/, '... named');
($rc, $out) = cli('--dir', $cdir, '--image', '-1');
is($rc, 2, 'a bad ID: exit 2');
($rc, $out) = cli('--dir', $cdir, '--purge', '--image', 1);
is($rc, 2, 'two operations: exit 2');
($rc, $out) = cli('--purge');
is($rc, 2, 'no --dir: exit 2');
($rc, $out) = cli('--dir', "$cdir/none");
is($rc, 3, 'a missing folder: exit 3');
($rc, $out) = cli('--dir', $dir, '--purge');
is($rc, 3, 'a folder that holds no cache (the image folder): exit 3');
like($out, qr/\Q$dir\E: not a preview cache folder/, '... named');
ok(-f "$dir/a.jpg", '... and nothing of it removed');
my $locked = "$ENV{PV_RUN_DIR}/tmp/pv46-locked";
make_path($locked);
chmod 0, $locked;
($rc, $out) = cli('--dir', $locked);
chmod 0700, $locked;
is($rc, 4, 'a folder this user cannot read: exit 4');
like($out, qr/Permission denied/, '... says so');

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return <$fh>;
}
