# A database that refuses our account is a configuration error: every
# request that needs it is 503, and the vhost's own error log (not the main
# one) gets one line at error naming PreviewDBParams and MariaDB's error
# (1045 for a wrong password, 1044 for an account without a grant), once
# for the whole burst across the server's processes. An outage (a socket
# nobody listens on, 2002) stays one warn line per outage and process.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLog qw(log_path error_log_path);
use PreviewLogin qw(admin_dbh json_body post_form pyjwt_mint uniq);

plan tests => 23;

# An account MariaDB knows, with no privilege on any database.
{
    my $admin = admin_dbh();
    $admin->do(q{CREATE USER IF NOT EXISTS 'pv_nogrant'@'localhost' }
             . q{IDENTIFIED BY 'pv-nogrant-pw'});
    $admin->disconnect;
}

sub size_of { -s $_[0] // 0 }

sub text_since {
    my ($path, $from) = @_;
    open my $fh, '<', $path or return '';
    seek $fh, $from, 0;
    local $/;
    return <$fh> // '';
}

# Logins and previews (a token of the vhost's own key ring) on vhost $v,
# each on a new connection: the statuses.
sub burst {
    my ($v, $n) = @_;
    Apache::TestRequest::module($v);
    my $keys = "$FindBin::Bin/conf/$v.keys";
    my $now = time;
    my $tok = pyjwt_mint({ sub => '1', aud => 'preview', iat => $now,
                           exp => $now + 600, ver => 0 }, $keys);
    my @codes;
    for my $i (1 .. $n) {
        my $res = $i % 2
            ? post_form('/login', { username => uniq('dbc'), password => 'x' })
            : Apache::TestRequest::GET("/preview/1?token=$tok");
        push @codes, $res->code;
        push @codes, 'body?' unless ($res->content // '') eq
            '{"error":"unavailable","message":"the database is unreachable; retry later"}';
        push @codes, 'retry-after?' unless $res->header('Retry-After');
    }
    Apache::TestRequest::module('default');
    return "@codes";
}

my $main = error_log_path();
my $refused_log = log_path('db_refused_error_log');
my $nogrant_log = log_path('db_nogrant_error_log');
my ($main0, $ref0, $nog0) = map { size_of($_) } $main, $refused_log, $nogrant_log;

# --- a wrong password: 1045
is(burst('pv_db_refused', 6), join(' ', (503) x 6),
   'a wrong password: 6 requests, 503 each, JSON unavailable, Retry-After');
select undef, undef, undef, 0.3;
my $text = text_since($refused_log, $ref0);
my @lines = $text =~ /^(.*PV1610: .*)$/mg;
is(scalar @lines, 1, 'the vhost\'s log: one PV1610 line for 6 requests')
    or diag $text;
my $l = $lines[0] // '';
like($l, qr/^\[[^\]]+\] \[preview:error\] /, '... at level error');
like($l, qr/PV1610: PreviewDBParams "sock=\S+ user=\S+ pass=\*\*\* dbname=\S+": MariaDB refuses the account \(connect: 1045 Access denied for user /,
     '... naming PreviewDBParams (without the password) and 1045 with its message');
like($l, qr/\[client 127\.0\.0\.1:\d+\]/, '... with the request\'s client');
unlike($text, qr/\Q$ENV{PV_DB_PASS}\E/, 'no password in the vhost\'s log');
unlike($text, qr/PV0301/, 'no outage line: a refusal is not an outage');

# --- an account without a grant: 1044
is(burst('pv_db_nogrant', 4), join(' ', (503) x 4),
   'no grant: 4 requests, 503 each');
select undef, undef, undef, 0.3;
$text = text_since($nogrant_log, $nog0);
@lines = $text =~ /^(.*PV1610: .*)$/mg;
is(scalar @lines, 1, 'its own log: one PV1610 line');
like($lines[0] // '', qr/^\[[^\]]+\] \[preview:error\] .*PV1610: PreviewDBParams "[^"]*user=pv_nogrant [^"]*": MariaDB refuses the account \(connect: 1044 Access denied for user /,
     '... at error, naming 1044');
unlike($text, qr/pv-nogrant-pw/, 'no password in that log');
is(() = text_since($refused_log, $ref0) =~ /PV1610/g, 1,
   'the other vhost\'s log has still one');

# --- neither in the main server's log
$text = text_since($main, $main0);
unlike($text, qr/PV1610/, 'the main log: no PV1610');
unlike($text, qr/ 104[45] /, 'the main log: no 1045, no 1044');
unlike($text, qr/PV0301: [^\n]*user=(?:pv_nogrant|\Q$ENV{PV_DB_USER}\E pass=\*\*\* dbname=\S+\)[^\n]*104)/,
       'the main log: no outage for them');

# --- an outage: one warn line per outage and process
$main0 = size_of($main);
{
    Apache::TestRequest::module('pv_db_dead');
    my $now = time;
    my $tok = pyjwt_mint({ sub => '1', aud => 'preview', iat => $now,
                           exp => $now + 600, ver => 0 },
                         "$FindBin::Bin/conf/pv_db_dead.keys");
    my @codes;
    for my $i (1 .. 8) {
        my $res = $i % 2
            ? post_form('/login', { username => uniq('dead'), password => 'x' })
            : Apache::TestRequest::GET("/preview/1?token=$tok");
        push @codes, $res->code;
    }
    is("@codes", join(' ', (503) x 8), 'a dead socket: 503 each');
    Apache::TestRequest::module('default');
}
select undef, undef, undef, 0.3;
$text = text_since($main, $main0);
@lines = $text =~ /^(.*PV0301: .*)$/mg;
my %pids = map { /\[pid (\d+)/ ? ($1 => 1) : () } @lines;
ok(@lines >= 1 && @lines == keys %pids && @lines <= 4,
   'the outage: one PV0301 line per process (' . scalar(@lines)
   . ') for 8 requests') or diag $text;
like($lines[0] // '', qr/^\[[^\]]+\] \[preview:warn\] /, '... at level warn');
like($lines[0] // '', qr/MariaDB unreachable \(sock=\S*no-such-mysqld\.sock [^)]*\): connect: 2002 /,
     '... naming the socket and 2002');
unlike($text, qr/PV1610/, 'an outage is no PV1610');
unlike($text, qr/\[preview:error\]/, 'nor any error line');

# --- the main server's database still answers
{
    my $res = post_form('/login', { username => uniq('nobody'), password => 'x' });
    is($res->code, 401, 'the main server: 401 for an unknown user, not 503');
}
is(() = text_since($refused_log, $ref0) =~ /PV1610/g, 1,
   'still one PV1610 line in the refused vhost\'s log');
