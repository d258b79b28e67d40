# An httpd of its own for a test, next to the Apache::Test server: the
# module under test loaded from the build tree, the harness's MariaDB and
# key file, a configuration generated from a body, its own ServerRoot,
# logs and port. For what one server cannot show: several nodes sharing a
# cache (t/40_nodes.t), a database reached over TLS (t/41_db_tls.t).
#
#   my $n = PreviewNode->start('nodeA', $body, port => $p);
#   $n->url('/login'); $n->error_log; $n->last_access; $n->stop;
#
# The body follows the LoadModule lines, Listen and the log lines; it adds
# the Preview* directives and Locations (handler_locations() gives the
# three usual ones). The access log's format is the owner cache's and the
# preview cache's notes, the status, the method and the path.
package PreviewNode;

use strict;
use warnings FATAL => 'all';

use File::Path qw(make_path);
use IO::Socket::INET ();
use LWP::UserAgent ();
use PreviewTest qw(module_path httpd_bin scratch_dir write_file);

my @started;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "socket: $!";
    return $s->sockport;
}

sub libexecdir {
    my $apxs = Apache::Test::vars('apxs') || 'apxs';
    my $d = `$apxs -q LIBEXECDIR 2>/dev/null`;
    chomp $d;
    return $d || '/usr/lib/apache2/modules';
}

sub db_params {
    my (%extra) = @_;
    my %p = (sock => $ENV{PV_DB_SOCKET}, user => $ENV{PV_DB_USER},
             pass => $ENV{PV_DB_PASS}, dbname => $ENV{PV_DB_NAME}, %extra);
    return join ' ', map { "$_=$p{$_}" } sort keys %p;
}

# A fresh key file (preview-token genkey) in the scratch folder, for a
# virtual host of its own database (vhosts over different databases may not
# share keys: PV1154).
sub key_file {
    my ($name) = @_;
    my $f = scratch_dir() . "/$name.keys";
    my $line = `"$ENV{PV_CLI}" genkey`;
    die "preview-token genkey failed\n" if $? || !$line;
    open my $fh, '>', $f or die "$f: $!";
    print {$fh} $line;
    close $fh or die "$f: $!";
    chmod 0600, $f;
    return $f;
}

sub handler_locations {
    return join '', map {
        "<Location /$_->[0]>\n    SetHandler $_->[1]\n</Location>\n"
    } [ 'login', 'preview-login' ], [ 'logout', 'preview-logout' ],
      [ 'preview', 'preview' ];
}

# start($name, $body, port => P, modules => [names]): the node, answering;
# dies when it does not start (with httpd's output).
sub start {
    my ($class, $name, $body, %opt) = @_;
    my $d = scratch_dir() . "/$name";
    make_path($d);
    my $mods = libexecdir();
    my $port = $opt{port} // free_port();
    my $load = join '', map { "LoadModule ${_}_module \"$mods/mod_$_.so\"\n" }
        'mpm_event', 'authz_core', @{ $opt{modules} // [] };
    my $module = module_path();
    my $conf = write_file("$name.conf", <<"CONF");
ServerRoot "$d"
DefaultRuntimeDir "$d"
${load}LoadModule preview_module "$module"
Listen 127.0.0.1:$port
PidFile "$d/httpd.pid"
ErrorLog "$d/error_log"
LogLevel info
CustomLog "$d/access_log" "%{preview-owner}n %{preview-cache}n %>s %m %U"
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
PreviewKeyFile "$ENV{PV_KEY_FILE}"
$body
CONF
    my $self = bless { name => $name, dir => $d, port => $port,
                       conf => $conf }, $class;
    my $out = `"@{[ httpd_bin() ]}" -f "$conf" -k start 2>&1`;
    $self->{start_output} = $out;
    $self->{started} = $? == 0;
    push @started, $self if $self->{started};
    $self->{up} = $self->{started} && $self->wait_up;
    return $self;
}

sub ok { $_[0]{up} }
sub start_output { $_[0]{start_output} }
sub dir { $_[0]{dir} }
sub url { my ($self, $path) = @_; return "http://127.0.0.1:$self->{port}$path" }

sub ua {
    my ($self) = @_;
    return $self->{ua} //= LWP::UserAgent->new(timeout => 20, keep_alive => 0);
}

sub wait_up {
    my ($self) = @_;
    for (1 .. 100) {
        my $r = $self->ua->get($self->url('/'));
        return 1 unless $r->header('Client-Warning');
        select undef, undef, undef, 0.1;
    }
    return 0;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh> // '';
}

sub error_log { slurp("$_[0]{dir}/error_log") }

# httpd writes a request's line after the client has its answer: wait
# until a line came since the last call and the log stood still 200 ms
# (at most 5 s), so a busy machine does not read the line before.
sub last_access {
    my ($self) = @_;
    my ($n, $still, @l) = (-1, 0);
    for (1 .. 100) {
        @l = split /\n/, slurp("$self->{dir}/access_log");
        $still = @l == $n ? $still + 1 : 0;
        $n = @l;
        last if $n > ($self->{seen} // 0) && $still >= 4;
        select(undef, undef, undef, 0.05);
    }
    $self->{seen} = $n;
    return $l[-1] // '';
}

sub login {
    my ($self, $user, $pw, $port) = @_;
    my $url = $self->url('/login');
    $url =~ s/:\d+\//:$port\// if $port;
    return $self->ua->post($url, { username => $user, password => $pw });
}

sub stop {
    my ($self) = @_;
    return unless $self->{started};
    # By its pid file, not `-k stop`: that parses the config again, and
    # fails (leaving the node running) once a folder it names is gone.
    my ($pid) = slurp("$self->{dir}/httpd.pid") =~ /(\d+)/;
    if ($pid && kill('TERM', $pid)) {
        for (1 .. 100) {
            last unless kill(0, $pid);
            select(undef, undef, undef, 0.1);
        }
    }
    $self->{started} = 0;
}

# local $?: a stop's exit status must not become the test's.
END {
    local $?;
    $_->stop for @started;
}

1;
