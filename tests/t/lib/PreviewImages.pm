# Helpers of the preview tests (tests/t/2x_*.t): fixtures made at test time
# with the vips CLI and exiftool under the server's PreviewStorageRoot
# ($PV_RUN_DIR/images), image rows, a user with a token, GET/HEAD with
# headers, a response as text to compare, what the response bytes are
# (vipsheader, exiftool), and the entries of a PreviewCacheDir.
#
# Every token a test sends is recorded (record_token) in
# $PV_RUN_DIR/tmp/tokens-used; tests/t/99_no_tokens_in_logs.t looks for
# each of them in the logs at the end of the suite.
package PreviewImages;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Temp ();
use JSON::PP ();
use Compress::Zlib ();
use Apache::Test ();
use Apache::TestRequest ();
use PreviewLogin qw(dbh add_user bcrypt_hash login_token uniq);
use PreviewLog qw(error_log_text);
use PreviewTest qw(server_pid);

our @EXPORT_OK = qw(storage fixture_dir make_photo make_plain make_alpha
                    make_bomb memory_bomb can_write_avif add_image new_user
                    record_token tokens_file preview response_text
                    image_info exif_groups render_count cache_entries run
                    httpd_children watch_memory);

sub storage { "$ENV{PV_RUN_DIR}/images" }

# One folder per test file, under the storage root, made afresh (tests/run
# outlives a run); returns (abs, rel).
sub fixture_dir {
    my ($name) = @_;
    my $abs = storage() . "/$name";
    remove_tree($abs);
    make_path($abs);
    return ($abs, $name);
}

sub run {
    my (@cmd) = @_;
    my $out = `@{[ join ' ', map { quotemeta } @cmd ]} 2>&1`;
    die "@cmd: exit " . ($? >> 8) . ": $out\n" if $?;
    return $out;
}

# stdout only (libvips prints warnings on stderr).
sub run_out {
    my (@cmd) = @_;
    my $out = `@{[ join ' ', map { quotemeta } @cmd ]} 2>/dev/null`;
    die "@cmd: exit " . ($? >> 8) . ": $out\n" if $?;
    return $out;
}

# A phone photo: 4032x3024 stored landscape with EXIF orientation 6 (shown
# portrait), GPS position, camera make and an XMP creator.
sub make_photo {
    my ($path, %opt) = @_;
    my $w = $opt{width} // 4032;
    my $h = $opt{height} // 3024;
    my $tmp = File::Temp->newdir;
    run('vips', 'gaussnoise', "$tmp/n.v", $w, $h, '--mean', 128,
        '--sigma', 40);
    run('vips', 'colourspace', "$tmp/n.v", "$tmp/c.v", 'srgb');
    run('vips', 'copy', "$tmp/c.v", "$path\[Q=85\]");
    if ($opt{exif} // 1) {
        run('exiftool', '-q', '-overwrite_original', '-n',
            '-Orientation=' . ($opt{orientation} // 6),
            '-GPSLatitude=48.858370', '-GPSLatitudeRef=N',
            '-GPSLongitude=2.294481', '-GPSLongitudeRef=E',
            '-Make=PreviewTestCam', '-XMP-dc:Creator=SecretCreator', $path);
    }
    return $path;
}

# A plain JPEG (or any format by the suffix) of w x h, no metadata.
sub make_plain {
    my ($path, $w, $h) = @_;
    my $tmp = File::Temp->newdir;
    run('vips', 'gaussnoise', "$tmp/n.v", $w, $h);
    run('vips', 'colourspace', "$tmp/n.v", "$tmp/c.v", 'srgb');
    run('vips', 'copy', "$tmp/c.v", $path);
    return $path;
}

# An sRGB PNG with an alpha channel (half transparent).
sub make_alpha {
    my ($path, $w, $h) = @_;
    my $tmp = File::Temp->newdir;
    run('vips', 'gaussnoise', "$tmp/n.v", $w, $h);
    run('vips', 'colourspace', "$tmp/n.v", "$tmp/c.v", 'srgb');
    run('vips', 'bandjoin_const', "$tmp/c.v", $path, 128);
    return $path;
}

sub png_chunk {
    my ($type, $data) = @_;
    return pack('N', length $data) . $type . $data
        . pack('N', Compress::Zlib::crc32($type . $data));
}

# A decompression bomb: a valid 20000x20000 1-bit grey PNG whose IDAT holds
# every row (50 MB of zeros) deflated to some 50 KB.
sub make_bomb {
    my ($path, $side) = @_;
    $side //= 20000;
    my $row = "\0" x (1 + int(($side + 7) / 8));
    my ($d, $st) = Compress::Zlib::deflateInit(-Level => 9);
    my $z = '';
    for (1 .. $side) {
        my ($o) = $d->deflate($row);
        $z .= $o;
    }
    my ($o) = $d->flush;
    $z .= $o;
    open my $fh, '>:raw', $path or die "$path: $!";
    print {$fh} "\x89PNG\r\n\x1a\n",
        png_chunk('IHDR', pack('NNCCCCC', $side, $side, 1, 0, 0, 0, 0)),
        png_chunk('IDAT', $z), png_chunk('IEND', '');
    close $fh or die "$path: $!";
    return $path;
}

# Memory bombs (tests/t/33_render_memory.t): 10000 x 10000 sources whose
# decoder holds the whole image before any shrink, and their streaming
# counterparts. Each is made once per run (kept in images/pv-bombs, which
# no fixture_dir() removes; written under a temporary name, then renamed),
# from a black PNG of the same size that takes a second. Returns the path
# relative to the storage root.
my %BOMBS = (
    # Adam7, 16 bits, RGBA: libpng reads it whole at full depth (800 MB)
    png16i   => [ 'png16i.png', 4, sub { ('cast', $_[0], "$_[1]\[interlace,bitdepth=16\]", 'ushort') } ],
    # progressive, no chroma subsampling: 3 x 1250 x 1250 DCT blocks
    prog444  => [ 'prog444.jpg', 3, sub { ('copy', $_[0], "$_[1]\[interlace,subsample-mode=off,Q=90\]") } ],
    gif      => [ 'bomb.gif', 3, sub { ('copy', $_[0], $_[1]) } ],
    avif     => [ 'bomb.avif', 3, sub { ('copy', $_[0], "$_[1]\[compression=av1,effort=0\]") } ],
    # the same size, streamed: baseline JPEG (shrink-on-load) and a PNG
    # without interlace
    baseline => [ 'baseline.jpg', 3, sub { ('copy', $_[0], $_[1]) } ],
    png8     => [ 'plain.png', 3, sub { ('copy', $_[0], "$_[1]\[compression=1\]") } ],
);

sub memory_bomb {
    my ($kind) = @_;
    my ($name, $bands, $how) = @{ $BOMBS{$kind} or die "no bomb $kind" };
    my $dir = storage() . '/pv-bombs';
    make_path($dir);
    my $path = "$dir/$name";
    return "pv-bombs/$name" if -s $path;
    my $base = "$dir/black$bands.png";
    if (!-s $base) {
        run('vips', 'black', "$base.tmp.png", 10000, 10000, '--bands', $bands);
        rename "$base.tmp.png", $base or die "$base: $!";
    }
    (my $tmp = $path) =~ s/(\.\w+)$/.tmp$1/;
    run('vips', $how->($base, $tmp));
    rename $tmp, $path or die "$path: $!";
    return "pv-bombs/$name";
}

# Whether this libvips writes AVIF (libheif with an AV1 encoder).
sub can_write_avif {
    my $tmp = File::Temp->newdir;
    my $ok = eval {
        run('vips', 'black', "$tmp/a.png", 8, 8, '--bands', 3);
        run('vips', 'copy', "$tmp/a.png", "$tmp/a.avif[compression=av1]");
        1;
    };
    return $ok && -s "$tmp/a.avif" ? 1 : 0;
}

# The test server's children: pid => { rss => kB, hwm => kB } from
# /proc/<pid>/status (VmRSS, VmHWM).
sub httpd_children {
    my $parent = server_pid();
    my %kids;
    opendir my $d, '/proc' or die "/proc: $!";
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $stat = <$st> // next;
        # the name is in parentheses and may hold spaces: ppid follows it
        my ($ppid) = $stat =~ /\)\s+\S+\s+(\d+)/ or next;
        next unless $ppid == $parent;
        open my $s, '<', "/proc/$pid/status" or next;
        my %m;
        while (<$s>) {
            $m{rss} = $1 if /^VmRSS:\s+(\d+)/;
            $m{hwm} = $1 if /^VmHWM:\s+(\d+)/;
        }
        $kids{$pid} = \%m if defined $m{rss};
    }
    return \%kids;
}

# Memory of the children while $start->() runs: it starts requests in
# processes of its own and returns their pids; the children are sampled
# every 10 ms until those end. Returns { rise => the largest rise of one
# child's RSS over its value before (or of its VmHWM, should a peak fall
# between samples), in kB; sum => the largest sum of all children's RSS
# at one sample, in kB; samples => how many }.
sub watch_memory {
    my ($start) = @_;
    require POSIX;
    require Time::HiRes;
    my $before = httpd_children();
    my %left = map { $_ => 1 } $start->();
    my ($rise, $sum, $n) = (0, 0, 0);
    my $sample = sub {
        my $now = httpd_children();
        my $total = 0;
        for my $pid (keys %$now) {
            my $m = $now->{$pid};
            $total += $m->{rss};
            # a child started meanwhile is measured from its first sample
            $before->{$pid} //= { %$m };
            my $b = $before->{$pid};
            my $r = $m->{rss} - $b->{rss};
            my $h = ($m->{hwm} // 0) - ($b->{hwm} // 0);
            $rise = $r if $r > $rise;
            $rise = $h if $h > $rise;
        }
        $sum = $total if $total > $sum;
        $n++;
    };
    while (%left) {
        $sample->();
        while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
            delete $left{$pid};
        }
        Time::HiRes::sleep(0.01);
    }
    $sample->();
    return { rise => $rise, sum => $sum, samples => $n };
}

# An images row; returns its id.
sub add_image {
    my ($dbh, $owner, $path) = @_;
    $dbh->do('INSERT INTO images (owner_id, path) VALUES (?, ?)', undef,
             $owner, $path);
    return $dbh->last_insert_id(undef, undef, 'images', 'id');
}

sub tokens_file { "$ENV{PV_RUN_DIR}/tmp/tokens-used" }

sub record_token {
    my ($t) = @_;
    open my $fh, '>>', tokens_file() or die tokens_file() . ": $!";
    print {$fh} "$t\n";
    close $fh;
    return $t;
}

# A user with a bcrypt password, logged in: (id, token, name, password).
sub new_user {
    my ($dbh, $prefix) = @_;
    my $name = uniq($prefix // 'pv');
    my $pw = "pw-$name";
    my $id = add_user($dbh, $name, bcrypt_hash($pw));
    my $tok = record_token(login_token($name, $pw));
    return ($id, $tok, $name, $pw);
}

# GET (or HEAD with method => 'HEAD') /preview/<id>?<query> with headers.
# opt: base (default /preview), token (added as token=...), query, method,
# headers (array ref), path (instead of base/id).
sub preview {
    my ($id, %opt) = @_;
    my $path = $opt{path} // (($opt{base} // '/preview') . "/$id");
    my @q;
    push @q, "token=$opt{token}" if defined $opt{token};
    push @q, $opt{query} if defined $opt{query} && length $opt{query};
    $path .= '?' . join('&', @q) if @q;
    my $m = $opt{method} // 'GET';
    no strict 'refs';
    return &{"Apache::TestRequest::$m"}($path, @{ $opt{headers} // [] });
}

# Status, headers (but those that differ per response, and @drop) and body,
# for comparing two answers.
sub response_text {
    my ($r, @drop) = @_;
    my $h = $r->headers->clone;
    $h->remove_header($_) for qw(Date Client-Date Client-Peer
        Client-Response-Num Keep-Alive Connection Client-Transfer-Encoding),
        @drop;
    return $r->code . "\n" . $h->as_string . "\n" . $r->content;
}

# Width, height, bands, format of image bytes (vipsheader).
sub image_info {
    my ($bytes) = @_;
    my $tmp = File::Temp->new(SUFFIX => '.img');
    binmode $tmp;
    print {$tmp} $bytes;
    close $tmp;
    my %i;
    for my $f (qw(width height bands)) {
        my $v = eval { run_out('vipsheader', '-f', $f, "$tmp") } // '';
        chomp $v;
        $i{$f} = $v;
    }
    my $loader = eval { run_out('vipsheader', '-f', 'vips-loader', "$tmp") }
        // '';
    chomp $loader;
    $i{loader} = $loader;
    return \%i;
}

# exiftool's groups found in the bytes: { 'EXIF' => [tags], 'GPS' => ... }.
sub exif_groups {
    my ($bytes) = @_;
    my $tmp = File::Temp->new(SUFFIX => '.img');
    binmode $tmp;
    print {$tmp} $bytes;
    close $tmp;
    my $json = run_out('exiftool', '-j', '-G0', '-a', '-u', "$tmp");
    my $all = JSON::PP->new->decode($json)->[0];
    my %g;
    for my $k (keys %$all) {
        my ($grp, $tag) = $k =~ /^([^:]+):(.*)$/ or next;
        push @{ $g{$grp} }, $tag;
    }
    return \%g;
}

# How many renders of image $id the error log shows (PV0917, debug).
sub render_count {
    my ($id) = @_;
    my $n = () = error_log_text() =~ /PV0917: image $id rendered/g;
    return $n;
}

# The entries of a PreviewCacheDir: path => size (temp and lock files are
# not entries).
sub cache_entries {
    my ($d) = @_;
    my %e;
    File::Find::find({ no_chdir => 1, wanted => sub {
        $e{$File::Find::name} = -s _ if -f $_ && m{/[0-9a-f]{64}$};
    } }, $d);
    return \%e;
}

1;
