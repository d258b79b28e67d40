# What a graceful restart (SIGUSR1, as `apachectl graceful` and Debian's
# logrotate send) must not undo.
#
# PreviewLoginLimit's counts (vhost pv_limit_ip, 3 per 600 s, the client IP
# from X-Test-Client): an account, a client and a name no user has, each
# over the limit before the restart, are still over it after (the cache,
# its lock and its key are kept: PV1506); another account from another
# client still logs in. A graceful restart with another
# PreviewLoginLimitCacheSize makes a new, empty cache (PV1504), and the
# limiter counts in it; so does the restart back to the default size.
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
use PreviewLog qw(error_log_path error_log_text);
use PreviewLogin qw(dbh fresh_database add_user bcrypt_hash post_form uniq);
use PreviewTest qw(graceful_restart);

plan tests => 15;

my $log = error_log_path();

# --- the login limiter's counts ---------------------------------------------
my $run = $$ % 250;
sub limited_code {
    my ($n, $user, $pw) = @_;
    Apache::TestRequest::module('pv_limit_ip');
    my $res = post_form('/login', { username => $user, password => $pw },
                        'X-Test-Client' => "172.16.$run.$n");
    Apache::TestRequest::module('default');
    return $res->code;
}

my $dbh = dbh();
my $pw = 'pw-restart';
my $hash_pw = bcrypt_hash($pw);
my ($account, @others) = map { uniq('restart') } 1 .. 6;
add_user($dbh, $_, $hash_pw) for $account, @others;
my $ghost = uniq('ghost');
my @before = (
    (map { limited_code($_, $account, "wrong-$_") } 1 .. 3),
    (map { limited_code(10, $others[$_], 'wrong') } 0 .. 2),
    (map { limited_code(20 + $_, $ghost, 'x') } 1 .. 3),
);
is_deeply(\@before, [ (401) x 9 ],
          'before: 3 failures of an account, of a client, of an unknown name');
my $log_from = -s $log // 0;
graceful_restart();
like(error_log_text($log_from),
     qr/PV1506: shared cache kept, with its entries: shmcb:\S+\(\d+\)/,
     'the restart kept the cache (PV1506)');
is(limited_code(4, $account, $pw), 429,
   'after: the account, right password, another client: 429');
is(limited_code(10, $others[3], $pw), 429,
   'after: the client, another account: 429');
is(limited_code(24, $ghost, 'x'), 429,
   'after: the unknown name, another client: 429');
is(limited_code(30, $others[4], $pw), 200,
   'after: another account from another client: 200');

# Another size: a new cache, empty, that counts.
my $extra = "$ENV{PV_RUN_DIR}/tmp/pv_restart.conf";
sub restart_with_size {
    my ($size) = @_;
    if (defined $size) {
        open my $fh, '>', $extra or die "$extra: $!";
        print {$fh} "PreviewLoginLimitCacheSize $size\n";
        close $fh or die "$extra: $!";
    }
    else {
        unlink $extra;
    }
    my $from = -s $log // 0;
    graceful_restart();
    return error_log_text($from);
}
END { unlink $extra if $extra && -e $extra }
like(restart_with_size('4M'),
     qr/PV1504: shared cache made: shmcb:\S+\(4194304\)/,
     'PreviewLoginLimitCacheSize 4M: a new cache (PV1504)');
is(limited_code(5, $account, $pw), 200,
   'the new cache starts empty: the account logs in');
my $fresh = uniq('ghost');
is_deeply([ map { limited_code(40 + $_, $fresh, 'x') } 1 .. 4 ],
          [ 401, 401, 401, 429 ], 'and counts: 3 failures, then 429');
like(restart_with_size(undef),
     qr/PV1504: shared cache made: shmcb:\S+\(8388608\)/,
     'back to the default size: a new cache again');

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

$log_from = -s $log // 0;
my $cold = timed_login(uniq('nobody'), 'x');
like(error_log_text($log_from),
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
