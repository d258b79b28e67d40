# What a graceful restart (SIGUSR1, as `apachectl graceful` and Debian's
# logrotate send) must not undo.
#
# The dummy check of an unknown user (vhost pv_timing, its own database
# preview_timing, every user's hash bcrypt cost 9):
# - the first login ever to that database is an unknown user: it costs a
#   wrong password's time already (the profile is learned from the newest
#   user's stored hash first, PV0703);
# - right after a graceful restart, the new children answer an unknown
#   user like a wrong password from their very first request.
# Method: 200 unknown users and 200 wrong passwords for a real user,
# interleaved (unknown first, then alternating), each on a new connection,
# timed by the client; the two medians must be within 20 %. Medians alone
# would miss the few cheap answers of children that have not checked a hash
# yet (they learn from the first wrong password they see), so also: a time
# only grows with the machine's noise, never shrinks below the work done,
# hence no unknown user, the first after the restart and the first ever
# included, may take less than half the fastest wrong password (the cheap
# built-in default, bcrypt cost 5, takes about a tenth of it).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent ();
use Time::HiRes ();
use PreviewImages ();
use PreviewLogin qw(dbh fresh_database add_user uniq);
use PreviewTest qw(graceful_restart);

plan tests => 5;

my $log = PreviewImages::error_log_path();

sub log_since {
    my ($from) = @_;
    open my $fh, '<', $log or die "$log: $!";
    seek $fh, $from, 0;
    local $/;
    return scalar <$fh> // '';
}

# --- the dummy check, from the first request on ----------------------------
fresh_database('preview_timing');
my $tdb = dbh('preview_timing');
my $hash = `htpasswd -nbB -C 9 u pw-timing`;
$hash =~ s/^u:(\S+)\s*$/$1/ or die "htpasswd: $hash\n";
my $real = uniq('timing');
add_user($tdb, $real, $hash);

my $url = Apache::TestRequest::module2url('pv_timing', { path => '/login' });
my $ua = LWP::UserAgent->new(timeout => 60, keep_alive => 0);

# Seconds one login takes, seen by the client; dies unless 401.
sub timed_login {
    my ($user, $pw) = @_;
    my $t0 = Time::HiRes::time();
    my $res = $ua->post($url, Content => { username => $user,
                                           password => $pw });
    my $dt = Time::HiRes::time() - $t0;
    die "login of $user: " . $res->code . "\n" unless $res->code == 401;
    return $dt;
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my $log_from = -s $log // 0;
my $cold = timed_login(uniq('nobody'), 'x');
like(log_since($log_from),
     qr/PV0703: password profile learned from the newest user's hash \(bcrypt\)/,
     'the first unknown user: the profile is learned from a stored hash');

graceful_restart();
my (@unknown, @wrong);
for my $i (1 .. 200) {
    push @unknown, timed_login(uniq('nobody'), "x-$i");
    push @wrong, timed_login($real, "wrong-$i");
}
my ($mu, $mw) = (median(@unknown), median(@wrong));
my ($fast) = sort { $a <=> $b } @wrong;
my $ratio = $mu / $mw;
diag(sprintf 'after a graceful restart: unknown user %.1f ms, wrong '
             . 'password %.1f ms (median of 200 each, ratio %.2f; the '
             . 'fastest wrong password %.1f ms); the first unknown user '
             . '%.1f ms; the first ever %.1f ms',
     1000 * $mu, 1000 * $mw, $ratio, 1000 * $fast, 1000 * $unknown[0],
     1000 * $cold);
ok($ratio >= 0.8 && $ratio <= 1.2,
   sprintf 'medians within 20 %% (ratio %.2f)', $ratio);
ok($unknown[0] >= 0.5 * $fast,
   sprintf 'the first unknown user after the restart: %.1f ms, at least '
           . 'half of %.1f ms', 1000 * $unknown[0], 1000 * $fast);
ok($cold >= 0.5 * $fast,
   sprintf 'the first unknown user since the start: %.1f ms, at least half '
           . 'of %.1f ms', 1000 * $cold, 1000 * $fast);
my @cheap = grep { $_ < 0.5 * $fast } @unknown;
is(scalar @cheap, 0, 'no unknown user under half the fastest wrong password')
    or diag join ' ', map { sprintf '%.1f', 1000 * $_ } @cheap;
