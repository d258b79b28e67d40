# PreviewLoginLimit 3 600 (vhost pv_limit_ip; the client IP comes from the
# X-Test-Client header through mod_remoteip, so each case has addresses of
# its own). What is counted:
# - an account by MariaDB's own folding of the name (the collation of
#   users.username): every spelling it matches to a user ("NAME", "name ",
#   a full-width or accented first letter) shares one count, and over it
#   even the right password is 429;
# - the same answers whether or not a user has the name: three failures
#   under three spellings, then three other spellings from fresh clients,
#   give 401 401 401 429 429 429 for both (a name no user has was once
#   counted by its ASCII-lower-cased form, so an accented spelling got 401
#   there and 429 for a real user: an oracle for who exists);
# - an attempt is counted before it is made, in the same critical section
#   as the check: of 30 at once (against a slow hash), exactly 3 are
#   answered 401, 27 are 429;
# - a success forgets the account's failures, not the client's, and is
#   not one itself;
# - keys are fixed-size hashes: a thousand failures under ~670-byte
#   usernames do not push a client's count out of the shared cache;
# - keys are keyed (HMAC under a secret made at start): a flood of 120
#   unknown names from 40 clients, each name picked so that its unkeyed key
#   (SHA-256 of "vhost\0name\0name") lands in the subcache of the victim's
#   (shmcb picks one of 64 by the key's first byte at 512 KB), pushed the
#   victim's count out when keys could be computed (the victim then logged
#   in); now the victim stays over the limit.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Digest::SHA qw(sha1 sha256);
use Encode qw(encode_utf8);
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form uniq);
use PreviewTest qw(in_parallel tally);

plan tests => 45;

my $dbh = dbh();
Apache::TestRequest::module('pv_limit_ip');

# Addresses of this run (a server kept from an earlier run has counts of
# its own): 10.<run>.<n / 250>.<n % 250 + 1>.
my $run = $$ % 250;
sub ip { my ($n) = @_; return sprintf '10.%d.%d.%d', $run, $n / 250, $n % 250 + 1 }

sub login_from {
    my ($n, $user, $pw) = @_;
    return post_form('/login', { username => $user, password => $pw },
                     'X-Test-Client' => ip($n));
}

sub code_from { my $res = login_from(@_); return $res->code }

# Logins from many processes at once (each sleeps until a common start
# time, then posts); returns { code => count }.
sub burst {
    my (@reqs) = @_;    # [ ip number, username, password ] each
    my $url = Apache::TestRequest::module2url('pv_limit_ip',
                                              { path => '/login' });
    my $start = Time::HiRes::time() + 1.5;
    return tally(in_parallel(scalar @reqs, sub {
        my $q = $reqs[$_[0] - 1];
        my $ua = LWP::UserAgent->new(timeout => 60);
        my $wait = $start - Time::HiRes::time();
        Time::HiRes::sleep($wait) if $wait > 0;
        my $res = $ua->post(
            $url, 'X-Test-Client' => ip($q->[0]),
            Content => { username => $q->[1], password => $q->[2] });
        return $res->code;
    })->());
}

# --- a found user, by id --------------------------------------------------
my $name = uniq('limituser');
my $pw   = 'pw-limituser';
my $id   = add_user($dbh, $name, bcrypt_hash($pw));
(my $wide = $name) =~ s/^l/\x{FF4C}/;    # FULLWIDTH LATIN SMALL LETTER L
my @spellings = ([ 'upper case', uc $name ], [ 'a trailing space', "$name " ],
                 [ 'a full-width first letter', $wide ]);

# The database takes every spelling for this user (the bypass's premise).
for my $s (@spellings) {
    my ($found) = $dbh->selectrow_array(
        'SELECT id FROM users WHERE username = ?', undef, $s->[1]);
    is($found, $id, "MariaDB finds the user by $s->[0]");
}

is(code_from(1, $name, 'wrong-1'), 401, 'failure 1 (client 1): 401');
is(code_from(2, uc $name, 'wrong-2'), 401, 'failure 2 (client 2, NAME): 401');
is(code_from(3, "$name ", 'wrong-3'), 401,
   'failure 3 (client 3, "name "): 401');
my $n = 4;
for my $s (@spellings) {
    my $res = login_from($n++, encode_utf8($s->[1]), $pw);
    is($res->code, 429, "right password with $s->[0], a fresh client: 429");
}
{
    my $res = login_from($n++, $name, $pw);
    is($res->code, 429, 'right password as written, a fresh client: 429');
    my $ra = $res->header('Retry-After') // '';
    ok($ra =~ /^[0-9]+$/ && $ra >= 1 && $ra <= 600,
       "Retry-After $ra within the window");
}
# Another account from one of those clients is not limited.
my $other = uniq('limitother');
add_user($dbh, $other, bcrypt_hash('pw-other'));
is(code_from(1, $other, 'pw-other'), 200, 'another account: 200');

# --- the same answers whether the account exists ----------------------------
# Spellings of a name that starts with "a": as written, upper case, a
# trailing space (failures, from three clients), then an acute and a
# full-width first letter and trailing spaces in upper case (from three
# fresh clients). Returns the six codes.
sub spellings_codes {
    my ($base, $n) = @_;
    (my $acute = $base) =~ s/^a/\x{E1}/;
    (my $wide = $base) =~ s/^a/\x{FF41}/;
    return [ map { code_from($n++, encode_utf8($_), 'wrong') }
             $base, uc $base, "$base ", $acute, $wide, uc($base) . '   ' ];
}
my $alice = uniq('alice');
my $alice_id = add_user($dbh, $alice, bcrypt_hash('pw-alice'));
{
    (my $acute = $alice) =~ s/^a/\x{E1}/;
    my ($found) = $dbh->selectrow_array(
        'SELECT id FROM users WHERE username = ?', undef, $acute);
    is($found, $alice_id, 'MariaDB finds the user by an accented spelling');
}
my $expected = [ 401, 401, 401, 429, 429, 429 ];
is_deeply(spellings_codes($alice, 10), $expected,
          'a user: 3 failures under 3 spellings, then 429 under 3 others');
is_deeply(spellings_codes(uniq('albert'), 200), $expected,
          'a name no user has: the same answers');

# --- a success clears the account, not the client ---------------------------
my $third = uniq('limitthird');
add_user($dbh, $third, bcrypt_hash('pw-third'));
is(code_from(20, $third, 'wrong'), 401, 'client 20: failure 1');
is(code_from(20, $third, 'wrong'), 401, 'client 20: failure 2');
is(code_from(20, $third, 'pw-third'), 200, 'client 20: success');
is(code_from(21, $third, 'wrong'), 401, 'account cleared: failure 1 again');
is(code_from(22, $third, 'wrong'), 401, 'account cleared: failure 2 again');
is(code_from(23, $third, 'wrong'), 401, 'account cleared: failure 3 again');
is(code_from(24, $third, 'pw-third'), 429, 'account over again: 429');
is(code_from(20, uniq('nobody'), 'x'), 401,
   'client 20: its third failure (the success was not one)');
is(code_from(20, uniq('nobody'), 'x'), 429, 'client 20: over the limit');

# --- eviction cannot be aimed at an account -----------------------------------
# The victim goes over the limit (3 wrong passwords from 3 clients).
my $victim = uniq('victim');
my $victim_id = add_user($dbh, $victim, bcrypt_hash('pw-victim'));
is(code_from(300 + $_, $victim, "wrong-$_"), 401, "victim: failure $_")
    for 1 .. 3;
is(code_from(304, $victim, 'pw-victim'), 429, 'victim: over the limit');
# The attack on computable keys: names whose unkeyed key shares the
# victim's subcache, three from each client.
my $vhost = Apache::TestRequest::module2url('pv_limit_ip', { path => '/' });
$vhost =~ m{^https?://[^:/]+:(\d+)/} or die "no port in $vhost\n";
$vhost = "localhost:$1";
my $target = ord(sha256("$vhost\0uid\0$victim_id")) & 63;
my @flood;
my $flood_tag = uniq('flood');
for (my $i = 0; @flood < 120; $i++) {
    my $name = "$flood_tag-$i";
    push @flood, $name if (ord(sha256("$vhost\0name\0$name")) & 63) == $target;
}
my %flood_codes;
for my $i (0 .. $#flood) {
    $flood_codes{ code_from(310 + int($i / 3), $flood[$i], 'x') }++;
}
is_deeply(\%flood_codes, { 401 => 120 },
          '120 unknown names aimed at the victim\'s subcache, from 40 clients');
is(code_from(360, $victim, 'pw-victim'), 429,
   'the victim is still over the limit: no guess more');

# --- bursts ------------------------------------------------------------------
# Wrong passwords against a bcrypt cost 12 hash (a quarter of a second each):
# counting after the check, as the limiter once did, let a whole burst
# through.
my $slow = `htpasswd -nbB -C 12 u pw-slow`;
$slow =~ s/^u:(\S+)\s*$/$1/ or die "htpasswd: $slow\n";
my @slow_users = map { uniq('burst') } 1 .. 30;
$dbh->do('INSERT INTO users (username, password_hash) VALUES (?, ?)',
         undef, $_, $slow) for @slow_users;

# One client, 30 accounts at once: only the client's count binds.
my $by = burst(map { [ 30, $_, 'wrong' ] } @slow_users);
is($by->{401} // 0, 3, 'one client, 30 at once: exactly 3 are 401');
is($by->{429} // 0, 27, '... and 27 are 429');
is(keys %$by, 2, '... nothing else') or diag explain $by;

# One account, 30 clients at once: only the account's count binds.
my $fourth = uniq('limitburst');
add_user($dbh, $fourth, $slow);
$by = burst(map { [ 40 + $_, $fourth, "wrong-$_" ] } 1 .. 30);
is($by->{401} // 0, 3, 'one account, 30 clients at once: exactly 3 are 401');
is($by->{429} // 0, 27, '... and 27 are 429');
is(keys %$by, 2, '... nothing else') or diag explain $by;
is(code_from(99, $fourth, 'pw-slow'), 429,
   '... and the right password then: 429');

# --- long usernames do not evict counts ---------------------------------------
# Client 100 goes over the limit.
is(code_from(100, uniq('evict'), 'x'), 401, 'client 100: failure 1');
is(code_from(100, uniq('evict'), 'x'), 401, 'client 100: failure 2');
is(code_from(100, uniq('evict'), 'x'), 401, 'client 100: failure 3');
is(code_from(100, uniq('evict'), 'x'), 429, 'client 100: 429');

# A thousand users whose names take ~670 bytes (160 four-byte characters
# after a unique prefix, within VARCHAR(190)), with a {SHA} hash (cheap to
# check), each failing once from its own client: ~670 KB of usernames, more
# than the limiter's 512 KB cache held when its keys were the names.
my $long_n = 1000;
my $tag = uniq('long');
my $sha = '{SHA}' . encode_base64(sha1('pw-long'), '');
my @long = map { sprintf('%s-%04d-', $tag, $_) . ("\x{1F600}" x 160) }
           1 .. $long_n;
{
    my $sth = $dbh->prepare(
        'INSERT INTO users (username, password_hash) VALUES (?, ?)');
    $dbh->begin_work;
    $sth->execute($_, $sha) for @long;
    $dbh->commit;
}
is(length(encode_utf8($long[0])), length($tag) + 6 + 640,
   'usernames of ' . length(encode_utf8($long[0])) . ' bytes');
my ($ok, $bad) = (0, 0);
my $ua = LWP::UserAgent->new(timeout => 60, keep_alive => 1);
my $url = Apache::TestRequest::module2url('pv_limit_ip', { path => '/login' });
for my $i (0 .. $#long) {
    my $res = $ua->post($url, 'X-Test-Client' => ip(1000 + $i),
                        Content => { username => encode_utf8($long[$i]),
                                     password => 'wrong' });
    $res->code == 401 ? $ok++ : $bad++;
}
is($ok, $long_n, "$long_n failures under long names: each 401");
is($bad, 0, '... none answered otherwise');
is(code_from(100, uniq('evict'), 'x'), 429,
   'client 100 is still over the limit afterwards');
$dbh->do("DELETE FROM users WHERE username LIKE ?", undef, "$tag-%");
