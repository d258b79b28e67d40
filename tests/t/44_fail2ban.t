# conf/fail2ban's filter over this server's own error log (vhost pv_f2b,
# LogLevel info, an ErrorLog of its own), read by Debian's fail2ban-regex:
# after a known sequence of requests it matches exactly the failed logins
# and the forged tokens, each with the client's address, and nothing of
# successful logins, expired or absent tokens, an account over its limit,
# or a client's text posing as one of those lines. Each failure is one line
# at warn, tagged, with a reason word, and holds neither password nor token.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use File::Temp ();
use PreviewLog qw(log_path);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form pyjwt_mint
                    uniq key_file);

plan tests => 26;

my $filter = "$FindBin::Bin/../../conf/fail2ban/filter.d/mod-preview.conf";
ok(-f $filter, 'conf/fail2ban/filter.d/mod-preview.conf');
ok(-f "$FindBin::Bin/../../conf/fail2ban/jail.d/mod-preview.conf.example",
   'conf/fail2ban/jail.d/mod-preview.conf.example');

my $log = log_path('f2b_error_log');

sub log_size { -s $log // 0 }

# The log's text from byte $from, once the last request's line is there.
sub log_since {
    my ($from, $want) = @_;
    my $text = '';
    for (1 .. 50) {
        if (open my $fh, '<', $log) {
            seek $fh, $from, 0;
            local $/;
            $text = <$fh> // '';
        }
        last if !defined $want || $text =~ $want;
        select undef, undef, undef, 0.1;
    }
    return $text;
}

# fail2ban-regex over $text: (matched lines, [hits of each failregex],
# the matched addresses).
sub f2b {
    my ($text) = @_;
    my $tmp = File::Temp->new(SUFFIX => '.log');
    print {$tmp} $text;
    close $tmp;
    my $out = `fail2ban-regex --print-no-missed "$tmp" "$filter" 2>&1`;
    my ($matched) = $out =~ /^Lines: \d+ lines, \d+ ignored, (\d+) matched/m;
    my @hits = $out =~ /^\|\s+\d+\) \[(\d+)\]/mg;
    my $ips = `fail2ban-regex -o ip "$tmp" "$filter" 2>&1`;
    my @ips = grep { /\S/ } split /\n/, $ips;
    diag $out unless defined $matched;
    return ($matched, \@hits, \@ips);
}

my $dbh = dbh();
my $name = uniq('f2b');
my $pw = 'pw-f2b-Secret';
add_user($dbh, $name, bcrypt_hash($pw));
# A hash pasted as htpasswd -nbB prints it, "name:hash".
my $pasted = uniq('f2bpaste');
add_user($dbh, $pasted, "$pasted:" . bcrypt_hash('pw-pasted'));

Apache::TestRequest::module('pv_f2b');

# --- successful logins and a good token: no match
my $from = log_size();
my $tok;
for (1 .. 2) {
    my $res = post_form('/login', { username => $name, password => $pw });
    is($res->code, 200, "login $_: 200");
    $tok = json_body($res)->{token};
}
is(Apache::TestRequest::GET("/preview/999999999?token=$tok")->code, 404,
   'a good token, no such image: 404');
my $ok_text = log_since($from, qr/PV0915/);
like($ok_text, qr/PV0723: login: token issued/, 'the successes are logged');
my ($m, $hits) = f2b($ok_text);
is($m, 0, 'fail2ban-regex: successful logins match nothing');

# --- the failures
$from = log_size();
my @expect = (401) x 6;
my @got;
push @got, post_form('/login', { username => uniq('nobody'), password => "guess-$_" })->code
    for 1 .. 3;
push @got, post_form('/login', { username => $name, password => "Wrong-$_" })->code
    for 1 .. 2;
push @got, post_form('/login', { username => $pasted, password => 'pw-pasted' })->code;
(my $forged = $tok) =~ s/(.)(....)$/($1 eq 'A' ? 'B' : 'A') . $2/e;
push @got, Apache::TestRequest::GET("/preview/1?token=$forged")->code;
push @got, Apache::TestRequest::GET('/preview/1',
                                    Authorization => 'Bearer abc.def')->code;
push @expect, 401, 401;
# Not counted: an expired token, none at all, a cross-site login whose
# Origin poses as a failed login of another address.
my $now = time;
my $expired = pyjwt_mint({ sub => '1', aud => 'preview', iat => $now - 7200,
                           exp => $now - 3600, ver => 0 }, key_file());
push @got, Apache::TestRequest::GET("/preview/1?token=$expired")->code;
push @got, Apache::TestRequest::GET('/preview/1')->code;
push @got, post_form('/login', { username => $name, password => 'x' },
    Origin => 'http://evil.example] [client 10.9.8.7:1] PV1600: login failed from 10.9.8.7: bad_password (')->code;
push @expect, 401, 401, 403;
is("@got", "@expect", 'statuses: 6 failed logins, 4 refused tokens, a 403');

my $text = log_since($from, qr/PV0739/);
# A message starts after httpd's [client] field (not in the forged Origin).
my $head = qr/\[[^\]]*\] \[preview:\w+\] \[pid [^\]]+\] \[client [^\]]+\]/;
my @login = $text =~ /^($head PV1600: .*)$/mg;
my @token = $text =~ /^($head PV1601: .*)$/mg;
is(scalar @login, 6, 'one PV1600 line per failed login');
is(scalar @token, 4, 'one PV1601 line per refused token');
is(scalar(grep { /^\[[^\]]+\] \[preview:warn\] / } @login, @token), 10,
   'all at level warn');
is(scalar(grep { /PV1600: login failed from 127\.0\.0\.1: unknown_user \(/ } @login), 3,
   'unknown_user x3');
is(scalar(grep { /PV1600: login failed from 127\.0\.0\.1: bad_password \(/ } @login), 2,
   'bad_password x2');
is(scalar(grep { /PV1600: login failed from 127\.0\.0\.1: bad_hash \(/ } @login), 1,
   'bad_hash x1');
like($text, qr/PV0726: user \d+: password hash \(an htpasswd line 'name:hash': store only the hash after the ':'\) unusable/,
     'a pasted htpasswd line: the log says what is wrong');
is(join(' ', map { /token refused from 127\.0\.0\.1: (\w+) / ? $1 : '?' } @token),
   'bad_signature malformed expired no_token', 'the refusals\' words');
unlike($text, qr/\Q$pw\E|Wrong-|guess-|pw-pasted/, 'no password in the log');
unlike($text, qr/\Q$forged\E|\Q$expired\E|abc\.def/, 'no token in the log');
unlike($text, qr/\Q$name\E|nobody-/, 'no username in the log');

($m, $hits, my $ips) = f2b($text);
is($m, 8, 'fail2ban-regex: 8 lines matched (6 logins, 2 forged tokens)');
is("@$hits", '6 2', 'per failregex: 6 logins, 2 tokens');
is(scalar(grep { $_ eq '127.0.0.1' } @$ips), 8, 'each match: host 127.0.0.1');
is(scalar(grep { $_ ne '127.0.0.1' } @$ips), 0,
   'no other address (the forged Origin is not one)');

# --- an account over its limit: logged, not counted (the owner may be the
# victim of another client's guesses); a client over it is counted.
{
    my $f = log_size();
    my $line = '[Tue Dec 01 12:00:00.000000 2026] [preview:warn] [pid 1:tid 2] '
      . '[client 192.0.2.7:4444] PV1600: login failed from 192.0.2.7: %s '
      . "(x over PreviewLoginLimit, retry in 9 s)\n";
    my ($ma) = f2b(sprintf $line, 'account_limited');
    my ($mc) = f2b(sprintf $line, 'limited');
    is($ma, 0, 'account_limited: not matched');
    is($mc, 1, 'limited: matched');
    is(log_size(), $f, '(the server\'s log untouched)');
}
