# Key and user hygiene: `preview-token genkey --out` makes the key file mode
# 0600 whatever the umask (0640 and the group with --group), refuses an
# existing file or a symlink unless --force; configtest warns, one line
# naming file and mode, about a key file or legacy secret every local user
# may read; `preview-token hash` prints a bcrypt hash that Python's crypt
# and the module's login both take, read from stdin or from a terminal
# without echo.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use File::Spec::Functions qw(catfile);
use PreviewLogin qw(dbh add_user post_form python3 uniq);
use PreviewTest qw(configtest scratch_dir);

plan tests => 42;

my $cli = $ENV{PV_CLI} // "$FindBin::Bin/../../build/preview-token";
my $dir = scratch_dir();

# Run the CLI under umask $mask with $input on stdin: (exit, stdout, stderr).
sub cli {
    my ($mask, $input, @args) = @_;
    my ($out, $err) = (catfile($dir, 'cli.out'), catfile($dir, 'cli.err'));
    my $in = catfile($dir, 'cli.in');
    open my $fh, '>', $in or die $!;
    print {$fh} $input // '';
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        umask $mask;
        open STDIN, '<', $in or die $!;
        open STDOUT, '>', $out or die $!;
        open STDERR, '>', $err or die $!;
        exec $cli, @args or exit 127;
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $slurp = sub { open my $f, '<', $_[0] or return ''; local $/; <$f> // '' };
    return ($rc, $slurp->($out), $slurp->($err));
}

sub mode_of { my @st = stat $_[0]; return @st ? sprintf('%04o', $st[2] & 07777) : 'none' }
sub gid_of  { my @st = stat $_[0]; return @st ? $st[5] : -1 }
sub slurp   { open my $f, '<', $_[0] or return ''; local $/; <$f> // '' }

my $key_re = qr/^\d{8}-[0-9a-f]{6} [A-Za-z0-9_-]{43}\n\z/;

# --- genkey --out: 0600 under any umask, one key line
for my $mask (0000, 0022, 0277) {
    my $f = catfile($dir, sprintf 'keys-%03o', $mask);
    my ($rc, $out, $err) = cli($mask, '', 'genkey', '--out', $f);
    is($rc, 0, sprintf 'genkey --out under umask %03o: exit 0', $mask) or diag $err;
    is(mode_of($f), '0600', sprintf '... mode 0600 exactly (umask %03o)', $mask);
    is($out, '', '... nothing on stdout (the secret is in the file only)');
}
my $f = catfile($dir, 'keys-000');
like(slurp($f), $key_re, 'the file holds one "<kid> <secret>" line');
{
    my ($rc, $out) = configtest(qq{PreviewKeyFile "$f"});
    is($rc, 0, 'the module loads it: configtest passes') or diag $out;
    unlike($out, qr/PV1620/, '... and a 0600 key file gets no warning');
}

# --- an existing file is refused, --force replaces it
{
    my $before = slurp($f);
    my ($rc, $out, $err) = cli(022, '', 'genkey', '--out', $f);
    is($rc, 1, 'an existing file: exit 1');
    like($err, qr/^preview-token: genkey: \Q$f\E: exists \(--force replaces it\)$/m,
         '... naming the file') or diag $err;
    is(slurp($f), $before, '... left as it was');
    chmod 0644, $f;
    ($rc, $out, $err) = cli(000, '', 'genkey', '--out', $f, '--force');
    is($rc, 0, '--force: exit 0') or diag $err;
    isnt(slurp($f), $before, '... a new key');
    like(slurp($f), $key_re, '... one key line');
    is(mode_of($f), '0600', '... mode 0600, not the old 0644');
    opendir my $dh, $dir or die $!;
    is(scalar(grep { /^keys-000\.new/ } readdir $dh), 0, '... no temp file left');
}
{
    my $target = catfile($dir, 'symlink-target');
    my $link = catfile($dir, 'keys-link');
    symlink $target, $link or die "symlink: $!";
    my ($rc) = cli(022, '', 'genkey', '--out', $link);
    is($rc, 1, 'a symlink at FILE: exit 1');
    ($rc) = cli(022, '', 'genkey', '--out', $link, '--force');
    is($rc, 1, '... with --force too');
    ok(!-e $target, '... and nothing written where it points');
}

# --- --group: 0640 and that group (one the user is in, other than the
# file's default when there is one; any as root)
{
    my $g = catfile($dir, 'keys-group');
    my $default = (split ' ', $))[0];
    my @mine = grep { $_ != $default } split ' ', $);
    my $gid = $< == 0 ? (getgrnam('daemon'))[2] // $default
                      : $mine[0] // $default;
    my $name = getgrgid($gid) // $gid;
    my ($rc, $out, $err) = cli(000, '', 'genkey', '--out', $g, '--group', $name);
    is($rc, 0, "genkey --group $name: exit 0") or diag $err;
    is(mode_of($g), '0640', '... mode 0640 exactly');
    is(gid_of($g), $gid, "... group $name ($gid)");
    ($rc, $out, $err) = cli(022, '', 'genkey', '--out', catfile($dir, 'k-nogroup'),
                            '--group', 'no-such-group-pv');
    is($rc, 2, 'an unknown group: exit 2');
    ok(!-e catfile($dir, 'k-nogroup'), '... and no file');
}

# --- configtest: one warning line for a key file others may read
{
    my $k = catfile($dir, 'keys-022');
    chmod 0644, $k;
    my ($rc, $out) = configtest(qq{PreviewKeyFile "$k"});
    is($rc, 0, 'a 0644 key file: configtest still passes') or diag $out;
    my @w = $out =~ /^(.*PV1620: .*)$/mg;
    is(scalar @w, 1, '... with one PV1620 line') or diag $out;
    # (configtest's console shows the message alone, without the level)
    like($w[0] // '', qr/^PV1620: PreviewKeyFile \Q$k\E is readable by every local user \(mode 0644\): /,
         '... naming the file and its mode');
    chmod 0640, $k;
    ($rc, $out) = configtest(qq{PreviewKeyFile "$k"});
    unlike($out, qr/PV1620/, 'a 0640 key file: no warning');
    my $secret = catfile($dir, 'legacy.secret');
    open my $fh, '>', $secret or die $!;
    print {$fh} 'a-legacy-secret-key-of-more-than-32-bytes-0123';
    close $fh;
    chmod 0604, $secret;
    ($rc, $out) = configtest(qq{PreviewKeyFile "$k"\nPreviewLegacyTokens itsdangerous\nPreviewLegacySecretFile "$secret"});
    like($out, qr/PV1620: PreviewLegacySecretFile \Q$secret\E is readable by every local user \(mode 0604\)/,
         'a legacy secret others may read: the same warning') or diag $out;
}

# --- hash: from stdin, checked by Python's crypt and by the module's login
my $pw = 'Hash-pw ' . uniq('h');
my ($rc, $hash, $err) = cli(022, "$pw\n", 'hash');
is($rc, 0, 'hash from stdin: exit 0') or diag $err;
chomp $hash;
like($hash, qr/^\$2b\$10\$[.\/A-Za-z0-9]{53}$/, '... a bcrypt hash, cost 10');
my $py = `"${\ python3()}" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])' "$pw" '$hash'`;
is($py, "True\n", "... Python's crypt takes it");
{
    my $name = uniq('hashed');
    add_user(dbh(), $name, $hash);
    is(post_form('/login', { username => $name, password => $pw })->code, 200,
       '... and so does the login: 200');
    is(post_form('/login', { username => $name, password => "$pw!" })->code, 401,
       '... another password: 401');
}

# --- hash from a terminal: asked twice, nothing echoed
{
    my $tty_pw = 'tty ' . uniq('t');
    my $py_pty = <<'PY';
import os, pty, signal, sys
cli, pw = sys.argv[1], sys.argv[2]
signal.alarm(60)  # a prompt that never comes fails, never hangs
pid, fd = pty.fork()
if pid == 0:
    os.execv(cli, [cli, "hash", "--cost", "4"])
seen = b""
def until(want):
    global seen
    while want not in seen:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        seen += chunk
until(b"Password: ")
os.write(fd, pw.encode() + b"\n")
until(b"Again: ")
os.write(fd, pw.encode() + b"\n")
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        seen += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write("%d\n%s" % (os.waitstatus_to_exitcode(status), seen.decode()))
PY
    my $out = `"${\ python3()}" -c '$py_pty' "$cli" "$tty_pw" 2>&1`;
    my ($code, $screen) = split /\n/, $out, 2;
    is($code, 0, 'hash on a terminal: exit 0') or diag $out;
    like($screen // '', qr/Password: .*Again: /s, '... asked twice');
    unlike($screen // '', qr/\Q$tty_pw\E/, '... the password never echoed');
    my ($h) = ($screen // '') =~ /(\$2b\$04\$[.\/A-Za-z0-9]{53})/;
    ok($h && `"${\ python3()}" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])' "$tty_pw" '$h'` eq "True\n",
       '... its hash is of the password typed');
}
