# MariaDB stopped mid-suite: login (and logout) answer 503 JSON with
# Retry-After within 3 s; the error log gets one line per outage and
# process; MariaDB started again: the next login succeeds, served by the
# same httpd (same parent, same generation, no restart).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Time::HiRes qw(time);
use PreviewLog qw(log_count);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form login_token
                    uniq db_stop db_start);
use PreviewTest qw(server_pid);

plan tests => 17;

my $name = uniq('down');
my $pw   = 'pw-down';
{
    my $dbh = dbh();
    add_user($dbh, $name, bcrypt_hash($pw));
    $dbh->disconnect;
}

sub status {
    my $res = Apache::TestRequest::GET('/server-status?auto');
    my %s = map { /^([^:]+):\s*(.*)$/ ? ($1, $2) : () } split /\n/,
            $res->content;
    return \%s;
}

sub children {
    my ($ppid) = @_;
    my @kids;
    opendir my $dh, '/proc' or return '';
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        # "pid (comm) state ppid ..."
        push @kids, $pid if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $ppid;
    }
    return join ' ', sort { $a <=> $b } @kids;
}

# Warm: connections open, a token to log out with later.
my $tok = login_token($name, $pw);
my $before = status();
my $ppid = server_pid();
my $kids = children($ppid);
my $down_lines = log_count(qr/PV0301:/);

db_stop();
my $restarted = 0;
END { eval { db_start() } unless $restarted }

my $t0 = time;
my $res = post_form('/login', { username => $name, password => $pw });
my $elapsed = time - $t0;
is($res->code, 503, 'login while MariaDB is down: 503');
ok($elapsed < 3, sprintf 'answered in %.2f s (< 3 s)', $elapsed);
is_deeply(json_body($res), { error => 'unavailable',
                             message => 'the database is unreachable; retry later' },
          '503 body');
is($res->header('Retry-After'), '5', 'Retry-After: 5');
is($res->header('Content-Type'), 'application/json', 'JSON');

# Several more requests (other processes too): each fast, each 503.
my $slowest = 0;
my $all503 = 1;
for (1 .. 6) {
    my $t = time;
    my $r = post_form('/login', { username => $name, password => $pw });
    $slowest = time - $t if time - $t > $slowest;
    $all503 &&= $r->code == 503;
}
ok($all503, 'six more logins: all 503');
ok($slowest < 3, sprintf 'the slowest in %.2f s', $slowest);

$res = Apache::TestRequest::POST('/logout', Authorization => "Bearer $tok",
                                 content => '');
is($res->code, 503, 'logout while MariaDB is down: 503');

my $new_down = log_count(qr/PV0301:/) - $down_lines;
my $nkids = scalar(my @k = split ' ', $kids);
ok($new_down >= 1 && $new_down <= $nkids,
   "the outage is logged once per process ($new_down line(s), $nkids processes)");

db_start();
$restarted = 1;

$res = post_form('/login', { username => $name, password => $pw });
is($res->code, 200, 'MariaDB back: the next login succeeds')
    or diag $res->content;
$res = Apache::TestRequest::POST('/logout', Authorization => "Bearer $tok",
                                 content => '');
is($res->code, 204, 'MariaDB back: logout with the earlier token: 204');

my $after = status();
is(server_pid(), $ppid, 'same parent process');
is($after->{RestartTime}, $before->{RestartTime}, 'same RestartTime: no restart');
is($after->{ParentServerConfigGeneration},
   $before->{ParentServerConfigGeneration}, 'same configuration generation');
is(children($ppid), $kids, "same child processes ($kids)");
ok($after->{ServerUptimeSeconds} >= $before->{ServerUptimeSeconds},
   'uptime kept counting');
# Every process is back, the one that saw the outage too.
my $all200 = 1;
for (1 .. 8) {
    $all200 &&= post_form('/login', { username => $name, password => $pw })
                    ->code == 200;
}
ok($all200, 'eight more logins: all 200');
