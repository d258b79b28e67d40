# PreviewMaxLogins 1 1 (vhost pv_logins): at most one password check at a
# time per process, and a login waits at most one second for it. A user
# whose hash takes over a second to check (pbkdf2:sha512, 2,000,000
# iterations, the bound) logs in from 12 clients at once: each process
# checks one at a time (the debug line PV1153 never shows more than 1 of 1
# slots in use), whoever waits longer than a second gets 503 with
# Retry-After: 2 (PV1152 logged), the others 200. Afterwards a login works.
# And the directive's syntax at configtest.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent ();
use PreviewLogin qw(dbh add_user json_body post_form uniq python3);
use PreviewLog qw(error_log_path error_log_text);
use PreviewTest qw(configtest test_key_line write_file in_parallel tally);

plan tests => 16;

# Werkzeug's format, made with hashlib (Debian 12's Werkzeug writes the
# same text for method="pbkdf2:sha512:2000000").
my $pw = 'pw-slow-hash';
my $hash = `"@{[python3()]}" -c '
import hashlib, sys
salt = "slowslowslowslow"
dk = hashlib.pbkdf2_hmac("sha512", sys.argv[1].encode(), salt.encode(), 2000000)
print("pbkdf2:sha512:2000000\$" + salt + "\$" + dk.hex())
' '$pw'`;
chomp $hash;
like($hash, qr/^pbkdf2:sha512:2000000\$slowslowslowslow\$[0-9a-f]{128}$/,
     'a pbkdf2:sha512:2000000 hash');

my $dbh  = dbh();
my $name = uniq('slow');
add_user($dbh, $name, $hash);

my $url = Apache::TestRequest::module2url('pv_logins', { path => '/login' });
my $log_from = -s error_log_path() // 0;

# 12 at once, each reports "code retry-after body".
my $n = 12;
my @lines = in_parallel($n, sub {
    my $res = LWP::UserAgent->new(timeout => 120)->post(
        $url, Content => { username => $name, password => $pw });
    my $body = $res->content;
    $body =~ s/\s+/ /g;
    return sprintf '%d %s %s', $res->code,
                   $res->header('Retry-After') // '-', $body;
})->();

my %by = %{ tally(@lines) };
is(scalar @lines, $n, "$n answers");
ok(($by{200} // 0) >= 1, ($by{200} // 0) . ' logged in (200)');
ok(($by{503} // 0) >= 1, ($by{503} // 0) . ' refused (503)');
is(($by{200} // 0) + ($by{503} // 0), $n, 'nothing but 200 and 503')
    or diag join "\n", @lines;
my @refused = grep { /^503 / } @lines;
is_deeply([ grep { !/^503 2 \{"error":"unavailable","message":"too many logins in progress; retry later"\}$/ } @refused ],
          [], '503s: Retry-After: 2 and the JSON body')
    or diag join "\n", @refused;

# What the error log says about this burst.
my $text = error_log_text($log_from);
my @in_use = $text =~ /PV1153: password check: (\d+) of (\d+) login slots in use/g;
my (@used, @of);
while (my ($u, $o) = splice @in_use, 0, 2) { push @used, $u; push @of, $o }
is(scalar @used, $by{200} // 0, 'one PV1153 line per check made');
is_deeply([ grep { $_ != 1 } @used ], [], 'never more than 1 check at once');
is_deeply([ grep { $_ != 1 } @of ], [], '... of PreviewMaxLogins 1');
my $waited = () = $text =~ /PV1152: login from \S+: no password check slot free within 1 s \(PreviewMaxLogins 1\)/g;
is($waited, $by{503} // 0, 'one PV1152 warning per 503');

# The slot is free again.
Apache::TestRequest::module('pv_logins');
my $res = post_form('/login', { username => $name, password => $pw });
is($res->code, 200, 'a login afterwards: 200');
Apache::TestRequest::module('default');

# --- the directive at configtest ------------------------------------------
my $keys = write_file('slots.keys', test_key_line() . "\n");
my @bad = (
    [ '0',     "PreviewMaxLogins: '0' is out of range (1..1024)" ],
    [ 'x',     "PreviewMaxLogins: 'x' is not a non-negative integer" ],
    [ '2 0',   "PreviewMaxLogins: '0' is out of range (1..60)" ],
    [ '2 61',  "PreviewMaxLogins: '61' is out of range (1..60)" ],
);
for my $b (@bad) {
    my ($rc, $out) = configtest(
        "PreviewKeyFile \"$keys\"\nPreviewMaxLogins $b->[0]\n");
    ok($rc != 0 && index($out, $b->[1]) >= 0,
       "PreviewMaxLogins $b->[0]: refused") or diag $out;
}
my ($rc, $out) = configtest(<<"CONF");
PreviewKeyFile "$keys"
PreviewMaxLogins 8
<VirtualHost 127.0.0.1:8>
    PreviewMaxLogins 2 30
</VirtualHost>
CONF
is($rc, 0, 'PreviewMaxLogins 8, and 2 30 in a vhost: accepted') or diag $out;
