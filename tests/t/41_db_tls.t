# PreviewDBParams over TLS: the harness's MariaDB restarted with a
# certificate made here (openssl: a CA, a server certificate for
# localhost), an account that MariaDB lets in over TLS only (REQUIRE SSL),
# and an httpd of its own with three virtual hosts on that account:
# ssl_ca of the right CA (logins work: the connection is TLS, certificate
# checked), no ssl_* key (MariaDB refuses the account: 503), and ssl_ca of
# another CA (503, the library's reason in the error log). Then MariaDB
# restarted as it was.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewLogin qw(dbh admin_dbh add_user bcrypt_hash db_restart uniq);
use PreviewImages qw(run);
use PreviewNode ();
use PreviewTest qw(scratch_dir);

plan tests => 8;

my $d = scratch_dir() . '/tls';
mkdir $d;
run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', "$d/ca.key", '-out', "$d/ca.pem", '-subj', '/CN=pv test CA');
run('openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout',
    "$d/server.key", '-out', "$d/server.csr", '-subj', '/CN=localhost');
open my $fh, '>', "$d/ext.cnf" or die "$d/ext.cnf: $!";
print {$fh} "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
close $fh;
run('openssl', 'x509', '-req', '-in', "$d/server.csr", '-CA', "$d/ca.pem",
    '-CAkey', "$d/ca.key", '-CAcreateserial', '-out', "$d/server.pem",
    '-days', '2', '-extfile', "$d/ext.cnf");
run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', "$d/other.key", '-out', "$d/other.pem", '-subj',
    '/CN=another CA');

db_restart("--ssl-cert=$d/server.pem --ssl-key=$d/server.key "
         . "--ssl-ca=$d/ca.pem");
END {
    local $?;
    db_restart('');
}

my $admin = admin_dbh();
my $tls_pass = 'tls-' . int(rand(1e9));
$admin->do("DROP USER IF EXISTS 'pvtls'\@'localhost'");
$admin->do("CREATE USER 'pvtls'\@'localhost' IDENTIFIED BY '$tls_pass' "
         . 'REQUIRE SSL');
$admin->do("GRANT ALL PRIVILEGES ON $ENV{PV_DB_NAME}.* TO "
         . "'pvtls'\@'localhost'");
$admin->disconnect;

my $name = uniq('tls');
add_user(dbh(), $name, bcrypt_hash("pw-$name"));

my $locations = PreviewNode::handler_locations();
my %port = map { $_ => PreviewNode::free_port() } qw(none wrong);
my $params = sub { PreviewNode::db_params(user => 'pvtls', pass => $tls_pass, @_) };
my $good = $params->(ssl_ca => "$d/ca.pem");
my $none = $params->();
my $wrong = $params->(ssl_ca => "$d/other.pem");
my $node = PreviewNode->start('tls', <<"BODY",
ServerName localhost
PreviewDBParams "$good"
$locations
Listen 127.0.0.1:$port{none}
Listen 127.0.0.1:$port{wrong}
<VirtualHost 127.0.0.1:$port{none}>
    PreviewKeyFile "@{[ PreviewNode::key_file('tls-none') ]}"
    PreviewDBParams "$none"
</VirtualHost>
<VirtualHost 127.0.0.1:$port{wrong}>
    PreviewKeyFile "@{[ PreviewNode::key_file('tls-wrong') ]}"
    PreviewDBParams "$wrong"
</VirtualHost>
BODY
    modules => ['socache_shmcb']);
ok($node->ok, 'an httpd with ssl_ca in PreviewDBParams starts')
    or diag($node->start_output);

is($node->login($name, "pw-$name")->code, 200,
   'ssl_ca of the right CA: the TLS-only account logs in');
is($node->login($name, 'wrong')->code, 401, 'and a wrong password is 401');
is($node->login($name, "pw-$name", $port{none})->code, 503,
   'no ssl_* key: MariaDB refuses the TLS-only account (503)');
like($node->error_log,
     qr/PV1610: PreviewDBParams "sock=\S+ user=pvtls pass=\*\*\* dbname=\S+": MariaDB refuses the account \([^)]*\d+ Access denied for user 'pvtls'/,
     'with its reason in the error log, as a refused account (PV1610)')
    or diag($node->error_log);
is($node->login($name, "pw-$name", $port{wrong})->code, 503,
   'ssl_ca of another CA: the certificate is refused (503)');
like($node->error_log,
     qr/PV0301: MariaDB unreachable \([^)]*user=pvtls[^)]* tls\): connect: \d+ TLS\/SSL error: [^\n]*certificate/,
     'the library\'s TLS reason in the error log (the pool shown as tls)')
    or diag($node->error_log);
is(scalar(() = $node->error_log =~ /PV0301: MariaDB unreachable \([^)]*ca\.pem/g), 0,
   'the right CA\'s pool was never unreachable');
