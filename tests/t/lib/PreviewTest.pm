# Helpers shared by the Apache::Test files of mod_preview.
#
# configtest(): write a minimal httpd config that loads the build-tree
# module, then run `httpd -t` on it; for start-up checks that a running test
# server cannot exercise (a config that must be refused).
# in_parallel(): run one piece of code in many processes at once (requests
# that must overlap); tally(): how many of their answers start with each
# status. server_pid(): the test server's parent process.
# graceful_restart(): what `apachectl graceful` does to the running test
# server, and wait until its next generation serves.
package PreviewTest;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Spec;
use File::Basename ();
use File::Temp ();
use POSIX ();

our @EXPORT_OK = qw(configtest module_path httpd_bin scratch_dir write_file
                    test_key_line in_parallel tally server_pid
                    graceful_restart);

# tests/t/lib/PreviewTest.pm: three levels up is the source tree.
my $top = File::Spec->rel2abs(File::Spec->catdir(
    File::Basename::dirname(__FILE__), (File::Spec->updir) x 3));

# A value of Apache::Test's configuration, when running under it (outside
# it, asking would make Apache::Test look for a system httpd.conf).
sub apache_test_var {
    my ($name) = @_;
    return undef unless $INC{'Apache/Test.pm'};
    return eval { Apache::Test::vars($name) };
}

# The module under test: tests/run-all's PV_MODULE (the normal or the ASan
# build), else the normal build.
sub module_path {
    return $ENV{PV_MODULE}
        // File::Spec->catfile($top, 'mod_preview', '.libs', 'mod_preview.so');
}

# The httpd Apache::Test found, else the usual names.
sub httpd_bin {
    my $bin = apache_test_var('httpd');
    return $bin if $bin && -x $bin;
    for my $b ($ENV{APACHE_TEST_HTTPD} // (), '/usr/sbin/apache2',
               '/usr/sbin/httpd') {
        return $b if -x $b;
    }
    die "no httpd binary found\n";
}

sub libexecdir {
    my $apxs = apache_test_var('apxs') || 'apxs';
    my $dir = `$apxs -q LIBEXECDIR 2>/dev/null`;
    chomp $dir if defined $dir;
    return $dir && -d $dir ? $dir : '/usr/lib/apache2/modules';
}

my $scratch;

# A directory that lives as long as the test: ServerRoot of every config.
sub scratch_dir {
    $scratch //= File::Temp->newdir('pv-configtest-XXXXXX', TMPDIR => 1);
    return "$scratch";
}

sub write_file {
    my ($name, $content) = @_;
    my $path = File::Spec->catfile(scratch_dir(), $name);
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $content;
    close $fh or die "$path: $!";
    return $path;
}

# A key file line: kid and a base64url secret of 32 bytes.
sub test_key_line {
    my ($kid) = @_;
    return ($kid // 'k1') . ' '
        . 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYzM';
}

# configtest($body, %opt): returns ($exit_code, $output). $body is placed
# after LoadModule of the module under test; ServerRoot is scratch_dir(),
# so relative paths in $body resolve there. opt: mpm => 'event'.
sub configtest {
    my ($body, %opt) = @_;
    my $root = scratch_dir();
    my $mods = libexecdir();
    my $mpm = $opt{mpm} // 'event';
    my $module = module_path();
    die "$module not built\n" unless -f $module;
    my $conf = write_file('httpd.conf', <<"CONF");
ServerRoot "$root"
DefaultRuntimeDir "$root"
LoadModule mpm_${mpm}_module "$mods/mod_mpm_${mpm}.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule preview_module "$module"
ServerName localhost
Listen 127.0.0.1:8
PidFile "$root/httpd.pid"
ErrorLog "$root/error_log"
$body
CONF
    my $bin = httpd_bin();
    my $out = `"$bin" -f "$conf" -t 2>&1`;
    return ($? >> 8, $out);
}

# in_parallel($n, $code): forks $n processes that each run $code at once
# (process $i, 1 to $n, as $code->($i)) and report the one line of text it
# returns. Returns a function that waits for them all and returns their
# lines, in the order they finished; the caller may do other things before
# calling it.
sub in_parallel {
    my ($n, $code) = @_;
    pipe my $rd, my $wr or die "pipe: $!";
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my $line = $code->($i);
            chomp $line;
            syswrite $wr, "$line\n";
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $wr;
    return sub {
        my @lines = <$rd>;
        close $rd;
        waitpid $_, 0 for @pids;
        chomp @lines;
        return @lines;
    };
}

# { first word => how many @lines start with it }: answers "200 ..." and
# "503 ..." of in_parallel() counted by status.
sub tally {
    my (@lines) = @_;
    my %by;
    $by{ (split ' ', $_)[0] }++ for @lines;
    return \%by;
}

# The pid of the test server's parent process (tests/t/logs/httpd.pid).
sub server_pid {
    my $f = File::Spec->catfile(apache_test_var('t_logs'), 'httpd.pid');
    open my $fh, '<', $f or die "$f: $!";
    chomp(my $pid = <$fh> // '');
    return $pid;
}

# The main server's configuration generation, from mod_status; undef when
# it does not answer.
sub config_generation {
    require Apache::TestRequest;
    require LWP::UserAgent;
    my $url = Apache::TestRequest::module2url('default',
                                              { path => '/server-status' });
    my $res = LWP::UserAgent->new(timeout => 10)->get("$url?auto");
    return undef unless $res->is_success;
    return $res->content =~ /^ParentServerConfigGeneration:\s*(\d+)/m
        ? $1 : undef;
}

# SIGUSR1 to the parent (server_pid()), as `apachectl graceful` sends: the
# parent re-reads the configuration (every module is unloaded and loaded
# again) and replaces its children, which finish what they serve. Returns
# the new generation once mod_status reports it.
sub graceful_restart {
    my $before = config_generation() // die "server-status does not answer\n";
    my $pid = server_pid();
    kill('USR1', $pid) == 1 or die "cannot signal httpd ($pid): $!\n";
    my $deadline = time + 60;
    while (time < $deadline) {
        my $g = config_generation();
        return $g if defined $g && $g > $before;
        select undef, undef, undef, 0.2;
    }
    die "no new generation within 60 s of a graceful restart\n";
}

1;
