# Helpers of the login/logout tests (tests/t/1x_*.t): the harness's MariaDB
# (users inserted by the test), password hashes made the way their tools
# make them, token decoding with PyJWT, and requests to a test vhost.
package PreviewLogin;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use DBI;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Apache::TestRequest ();
use File::Spec ();

our @EXPORT_OK = qw(dbh admin_dbh fresh_database add_user bcrypt_hash pbkdf2_hash
                    scrypt_hash pyjwt_decode pyjwt_mint json_body post_form post_json
                    login_token uniq key_file python3 db_stop db_start
                    db_restart);

# Debian's python3 (python3-jwt, python3-werkzeug), not whatever is first in
# PATH.
sub python3 { -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3' }

sub key_file { $ENV{PV_KEY_FILE} // "$ENV{PV_RUN_DIR}/keys" }

# The application account, on database $name (default PV_DB_NAME).
sub dbh {
    my ($name) = @_;
    $name //= $ENV{PV_DB_NAME};
    my $dbh = DBI->connect(
        "dbi:MariaDB:database=$name;mariadb_socket=$ENV{PV_DB_SOCKET}",
        $ENV{PV_DB_USER}, $ENV{PV_DB_PASS},
        { RaiseError => 1, PrintError => 0, AutoCommit => 1 })
        or die "connect: $DBI::errstr\n";
    return $dbh;
}

# The OS account MariaDB was installed with (unix_socket auth, all
# privileges): it may create databases and grant.
sub admin_dbh {
    my $me = getpwuid($<);
    my $dbh = DBI->connect("dbi:MariaDB:mariadb_socket=$ENV{PV_DB_SOCKET}",
                           $me, '',
                           { RaiseError => 1, PrintError => 0, AutoCommit => 1 })
        or die "admin connect as $me: $DBI::errstr\n";
    return $dbh;
}

# An empty database $name with the schema of conf/schema.sql, open to the
# application account (a vhost of its own points there).
sub fresh_database {
    my ($name) = @_;
    my $top = $ENV{PV_TOP}
        // File::Spec->catdir(Apache::Test::vars('serverroot'), '..', '..');
    my $admin = admin_dbh();
    $admin->do("DROP DATABASE IF EXISTS $name");
    $admin->do("CREATE DATABASE $name CHARACTER SET utf8mb4 "
             . 'COLLATE utf8mb4_unicode_ci');
    $admin->do("GRANT ALL PRIVILEGES ON $name.* TO "
             . "'$ENV{PV_DB_USER}'\@'localhost'");
    $admin->do("USE $name");
    open my $fh, '<', "$top/conf/schema.sql" or die "schema.sql: $!";
    my $sql = join '', grep { !/^\s*--/ } <$fh>;
    $admin->do($_) for grep { /\S/ } split /;\s*\n/, $sql;
    $admin->disconnect;
}

# Stop and start the harness's MariaDB mid-test (tests/mariadb; the data is
# kept); db_start($opts), db_restart($opts): with mariadbd options $opts
# (PV_DB_SERVER_OPTS; '' for MariaDB's defaults).
sub db_control {
    my ($what, $opts) = @_;
    my $mariadb = $ENV{PV_MARIADB} or die "PV_MARIADB not set\n";
    my $dir = $ENV{PV_DB_DIR} or die "PV_DB_DIR not set\n";
    local $ENV{PV_DB_SERVER_OPTS} = $opts // $ENV{PV_DB_SERVER_OPTS} // '';
    system($mariadb, $what, $dir) == 0 or die "$mariadb $what failed\n";
}

sub db_stop { db_control('stop') }
sub db_start { db_control('start', @_) }
sub db_restart { db_stop(); db_start(@_) }

my $seq = 0;
# A username no other test or run uses.
sub uniq { my ($p) = @_; return sprintf '%s-%d-%d-%d', $p, $$, time, ++$seq }

# Insert a user; returns its id.
sub add_user {
    my ($dbh, $name, $hash) = @_;
    $dbh->do('INSERT INTO users (username, password_hash) VALUES (?, ?)',
             undef, $name, $hash);
    return $dbh->last_insert_id(undef, undef, 'users', 'id');
}

sub run_capture {
    my (@cmd) = @_;
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, @cmd);
    close $in;
    my $o = do { local $/; <$out> } // '';
    my $e = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    die "@cmd[0..1]: exit " . ($? >> 8) . ": $e\n" if $?;
    return $o;
}

# What `htpasswd -nbB user password` prints, the hash part.
sub bcrypt_hash {
    my ($pw) = @_;
    my $line = run_capture('htpasswd', '-nbB', 'u', $pw);
    $line =~ /^u:(\S+)/ or die "htpasswd said: $line\n";
    return $1;
}

# Werkzeug's generate_password_hash (Debian's python3-werkzeug).
sub pbkdf2_hash {
    my ($pw) = @_;
    my $h = run_capture(python3(), '-c',
        'import sys; from werkzeug.security import generate_password_hash; '
      . 'print(generate_password_hash(sys.argv[1], method="pbkdf2:sha256"))',
        $pw);
    chomp $h;
    return $h;
}

# Werkzeug 3's scrypt format, "scrypt:n:r:p$salt$hex"; Debian 12's
# Werkzeug (2.2) predates it, so this is its algorithm line for line:
# hashlib.scrypt(password, salt, n, r, p, maxmem = 132*n*r*p), 64 bytes.
sub scrypt_hash {
    my ($pw) = @_;
    my $h = run_capture(python3(), '-c', <<'PY', $pw);
import sys, hashlib, secrets, string
pw = sys.argv[1].encode()
salt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
n, r, p = 32768, 8, 1
h = hashlib.scrypt(pw, salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p).hex()
print(f"scrypt:{n}:{r}:{p}${salt}${h}")
PY
    chomp $h;
    return $h;
}

# Decode and verify a token with PyJWT, given the key file: returns
# { header => {...}, claims => {...} } or dies with PyJWT's complaint.
sub pyjwt_decode {
    my ($token, $keyfile) = @_;
    my $out = run_capture(python3(), '-c', <<'PY', $token, $keyfile);
import sys, json, base64, jwt
token, path = sys.argv[1], sys.argv[2]
keys = {}
for line in open(path):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    kid, secret = line.split()
    keys[kid] = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
header = jwt.get_unverified_header(token)
claims = jwt.decode(token, keys[header["kid"]], algorithms=["HS256"],
                    audience="preview", options={"require": ["exp", "iat", "sub"]})
print(json.dumps({"header": header, "claims": claims}))
PY
    return JSON::PP->new->decode($out);
}

# Mint a token with PyJWT: claims (hash ref), signed with the first key of
# the key file (or the secret given as secret => base64url), alg HS256 by
# default, kid of that key unless kid => given (undef: no kid header).
sub pyjwt_mint {
    my ($claims, $keyfile, %opt) = @_;
    my $spec = JSON::PP->new->canonical->encode({
        claims => $claims,
        alg    => $opt{alg} // 'HS256',
        (exists $opt{kid} ? (kid => $opt{kid}) : ()),
        (defined $opt{secret} ? (secret => $opt{secret}) : ()),
    });
    my $out = run_capture(python3(), '-c', <<'PY', $spec, $keyfile);
import sys, json, base64, jwt
spec, path = json.loads(sys.argv[1]), sys.argv[2]
first = None
for line in open(path):
    line = line.strip()
    if line and not line.startswith("#"):
        first = line.split()
        break
kid, secret = first
secret = spec.get("secret", secret)
key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
kid = spec["kid"] if "kid" in spec else kid
headers = {"kid": kid} if kid is not None else {}
print(jwt.encode(spec["claims"], key, algorithm=spec["alg"], headers=headers))
PY
    chomp $out;
    return $out;
}

# The response's JSON body, or undef when it is not JSON.
sub json_body {
    my ($res) = @_;
    my $v = eval { JSON::PP->new->decode($res->content) };
    return $v;
}

# POST a form (hash ref, pairs kept in order when an array ref) to $path.
sub post_form {
    my ($path, $fields, @headers) = @_;
    my @pairs = ref $fields eq 'HASH' ? %$fields : @$fields;
    my @enc;
    while (my ($k, $v) = splice @pairs, 0, 2) {
        push @enc, join '=', map {
            my $s = $_;
            $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
            $s
        } $k, $v;
    }
    return Apache::TestRequest::POST($path,
        'Content-Type' => 'application/x-www-form-urlencoded',
        @headers, content => join('&', @enc));
}

sub post_json {
    my ($path, $body, @headers) = @_;
    $body = JSON::PP->new->canonical->encode($body) if ref $body;
    return Apache::TestRequest::POST($path,
        'Content-Type' => 'application/json', @headers, content => $body);
}

# Log in through /login; returns the token (dies unless 200).
sub login_token {
    my ($user, $pw) = @_;
    my $res = post_form('/login', { username => $user, password => $pw });
    die "login of $user: " . $res->code . ' ' . $res->content . "\n"
        unless $res->code == 200;
    return json_body($res)->{token};
}

1;
