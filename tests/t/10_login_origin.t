# Login CSRF (vhost pv_origins: PreviewLoginOrigins https://app.example.net
# http://localhost:3000, PreviewLoginLimit 3 60, client IPs from
# X-Test-Client). A login posted from another site (its Origin, or
# Sec-Fetch-Site: cross-site without one, or Origin: null) is 403
# cross_origin, even with the right password, before any password check and
# without a count in the login limiter; a PV0739 warning names the client
# and the Origin, never the password. The server's own origin, a listed
# one and a client sending neither header log in. A malformed origin stops
# configtest.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form post_json
                    uniq);
use PreviewLog qw(error_log_text log_count);
use PreviewTest qw(configtest);

plan tests => 58;

my $dbh = dbh();
Apache::TestRequest::module('pv_origins');
my $self = 'http://' . Apache::TestRequest::hostport();

my $name = uniq('origin');
my $pw = 'pw-origin-Secret-7';
add_user($dbh, $name, bcrypt_hash($pw));

# Addresses of this run (a server kept from an earlier run has counts of
# its own): 172.16.<run>.<n>.
my $run = $$ % 250;
my $seq = 0;
sub fresh_ip { return sprintf '172.16.%d.%d', $run, ++$seq }

sub login {
    my ($ip, $password, @headers) = @_;
    return post_form('/login', { username => $name, password => $password },
                     'X-Test-Client' => $ip, @headers);
}

# ---- refused: 403 cross_origin, no token, no cookie
sub refused {
    my ($what, $res) = @_;
    is($res->code, 403, "$what: 403") or diag $res->as_string;
    is((json_body($res) // {})->{error}, 'cross_origin',
       "$what: error cross_origin");
    is($res->header('Content-Type'), 'application/json',
       "$what: JSON body");
    # (no is(): a failure would print the cookie, a token)
    ok(!defined $res->header('Set-Cookie'), "$what: no cookie");
    unlike($res->content, qr/token/, "$what: no token");
}

refused('form POST with Origin of another site',
        login(fresh_ip(), $pw, Origin => 'https://evil.example'));
refused('JSON POST with Origin of another site',
        post_json('/login', { username => $name, password => $pw },
                  'X-Test-Client' => fresh_ip(),
                  Origin => 'https://evil.example'));
refused('Sec-Fetch-Site: cross-site, no Origin',
        login(fresh_ip(), $pw, 'Sec-Fetch-Site' => 'cross-site'));
refused('Origin: null', login(fresh_ip(), $pw, Origin => 'null'));
refused('the same host on another port',
        login(fresh_ip(), $pw, Origin => 'http://localhost:1'));
refused('the same host over https',
        login(fresh_ip(), $pw,
              Origin => 'https://' . Apache::TestRequest::hostport()));

# ---- allowed
sub allowed {
    my ($what, $res) = @_;
    is($res->code, 200, "$what: 200") or diag $res->as_string;
    like((json_body($res) // {})->{token} // '', qr/^[\w-]+\.[\w-]+\.[\w-]+$/,
         "$what: a token");
}

allowed('the server\'s own Origin',
        login(fresh_ip(), $pw, Origin => $self,
              'Sec-Fetch-Site' => 'same-origin'));
allowed('a listed Origin', login(fresh_ip(), $pw,
                                 Origin => 'https://app.example.net'));
allowed('a listed Origin with its default port',
        login(fresh_ip(), $pw, Origin => 'https://app.example.net:443'));
allowed('the second listed Origin',
        login(fresh_ip(), $pw, Origin => 'http://localhost:3000'));
allowed('neither header (no browser)', login(fresh_ip(), $pw));
allowed('Sec-Fetch-Site: same-site, no Origin',
        login(fresh_ip(), $pw, 'Sec-Fetch-Site' => 'same-site'));

# ---- a refusal checks no password and counts nothing: five refused
# guesses from one address (the limit is 3), then its right password
my $ip = fresh_ip();
my $checks = log_count(qr/PV1153:/);
my $warned = log_count(qr/PV0739:/);
my @codes = map {
    login($ip, "wrong-$_", Origin => 'https://evil.example')->code
} 1 .. 5;
is("@codes", '403 403 403 403 403', 'five cross-site guesses: all 403');
is(log_count(qr/PV1153:/), $checks, '... no password checked');
is(login($ip, $pw, Origin => $self)->code, 200,
   '... and nothing counted: the same address logs in');
is(log_count(qr/PV0739:/), $warned + 5, 'one PV0739 warning per refusal');
my ($line) = grep { /PV0739:/ && /\Q$ip\E/ } split /\n/, error_log_text();
like($line // '', qr/\[preview:warn\]/, '... at level warn');
like($line // '', qr/\Q$ip\E.*Origin https:\/\/evil\.example/,
     '... naming the client and the Origin');
unlike(error_log_text(), qr/wrong-[1-5]|\Q$pw\E/, 'no password in the log');

# ---- configtest
for my $bad (['https://app.example.net/', 'trailing'],
             ['null', 'opaque'],
             ['app.example.net', 'scheme'],
             ['https://app.example.net:99999', 'port']) {
    my ($value, $why) = @$bad;
    my ($rc, $out) = configtest("PreviewLoginOrigins $value\n");
    isnt($rc, 0, "configtest refuses PreviewLoginOrigins $value");
    like($out, qr/PreviewLoginOrigins: '\Q$value\E' is not an origin .*$why/,
         '... naming the directive, the value and why') or diag $out;
}
my ($rc, $out) = configtest('PreviewLoginOrigins https://app.example.net '
    . "http://[::1]:8080 capacitor://localhost\n");
is($rc, 0, 'configtest accepts well-formed origins') or diag $out;
