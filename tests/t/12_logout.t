# preview-logout: POST with a valid token from any source (Authorization:
# Bearer, query token, query access_token, the login cookie; the first
# found wins) bumps the user's token_version: 204, and from then on every
# earlier token of that user is 401, logout itself included. A legacy
# (itsdangerous) token works until the user's first logout.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use PreviewImages ();
use PreviewLog qw(error_log_text);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form pyjwt_mint
                    pyjwt_decode login_token uniq key_file);

plan tests => 64;

my $dbh  = dbh();
my $name = uniq('logout');
my $pw   = 'pw-logout';
my $id   = add_user($dbh, $name, bcrypt_hash($pw));

my $bad_body = { error => 'invalid_token',
                 message => 'missing, invalid, expired or revoked token' };

sub logout {
    my (%how) = @_;
    my $path = '/logout';
    $path .= "?$how{query}" if defined $how{query};
    my @h;
    push @h, Authorization => $how{authz} if defined $how{authz};
    push @h, Cookie => $how{cookie} if defined $how{cookie};
    return Apache::TestRequest::POST($path, @h, content => '');
}

sub is_204 {
    my ($res, $what) = @_;
    is($res->code, 204, "$what: 204") or diag $res->as_string;
    is($res->content, '', "$what: no body");
    is($res->header('Set-Cookie'),
       'preview_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
       "$what: the cookie is cleared");
}

sub is_401 {
    my ($res, $what) = @_;
    is($res->code, 401, "$what: 401");
    is_deeply(json_body($res), $bad_body, "$what: body");
    is($res->header('WWW-Authenticate'),
       'Bearer realm="preview", error="invalid_token"',
       "$what: WWW-Authenticate");
}

sub version {
    my ($v) = $dbh->selectrow_array(
        'SELECT token_version FROM users WHERE id = ?', undef, $id);
    return $v;
}

# Two tokens of the same version; the first logs out with the header.
my $t1 = login_token($name, $pw);
my $t2 = login_token($name, $pw);
is(version(), 0, 'token_version 0 before');
is_204(logout(authz => "Bearer $t1"), 'logout with Bearer');
is(version(), 1, 'token_version 1 after');

# Every earlier token is dead, whatever the source.
is_401(logout(authz => "Bearer $t1"), 'the same token again');
is_401(logout(query => "token=$t2"), 'the other token, query token');
is_401(logout(cookie => "preview_token=$t2"), 'the other token, cookie');
is(version(), 1, 'token_version unchanged by refused logouts');

# A new login carries ver 1; each source works.
my $t3 = login_token($name, $pw);
is(pyjwt_decode($t3, key_file())->{claims}{ver}, 1, 'new token: ver 1');
is_204(logout(query => "access_token=$t3"), 'logout with access_token');
my $t4 = login_token($name, $pw);
is_204(logout(cookie => "other=1; preview_token=$t4"), 'logout with cookie');
my $t5 = login_token($name, $pw);
is_204(logout(query => "token=$t5"), 'logout with query token');
is(version(), 4, 'token_version 4 after three more');

# First found wins: the header before the query, the query before the cookie.
my $t6 = login_token($name, $pw);
is_401(logout(authz => 'Bearer not.a.token', query => "token=$t6"),
       'bad header, good query: the header wins');
is_401(logout(query => 'token=bad', cookie => "preview_token=$t6"),
       'bad query, good cookie: the query wins');

# Missing and foreign tokens.
is_401(logout(), 'no token');
is_401(logout(authz => 'Basic dXNlcjpwdw=='), 'Basic credentials only');
my $now = time;
my %claims = (sub => "$id", aud => 'preview', iat => $now, exp => $now + 600,
              ver => 4 + 1);
is_401(logout(authz => 'Bearer ' . pyjwt_mint({ %claims, ver => 5 },
                                              key_file(),
                                              secret => 'A' x 43)),
       'signed with another secret under our kid');
is_401(logout(authz => 'Bearer ' . pyjwt_mint({ %claims, exp => $now - 3600,
                                                iat => $now - 7200 },
                                              key_file())),
       'expired');

# A PyJWT token with the ring's key, HS384, ver current: accepted.
is(version(), 4, 'token_version 4');
is_204(logout(authz => 'Bearer ' . pyjwt_mint({ %claims, ver => 4 },
                                              key_file(), alg => 'HS384')),
       'PyJWT HS384 token with the current ver');

# No token (nor any part of its signature) in the error log.
{
    my $text = error_log_text();
    my @found = grep { index($text, (split /\./, $_)[2]) >= 0 }
                ($t1, $t2, $t3, $t4, $t5, $t6);
    is(scalar @found, 0, 'no token signature in the error log');
}

# Legacy tokens (vhost pv_legacy: PreviewLegacyTokens itsdangerous) carry no
# ver: they are accepted only while the user's token_version is 0 (they all
# predate any logout), so the first logout ends them.
{
    my $secret_file = t_catfile(Apache::Test::vars('t_conf'),
                                'pv_legacy.secret');
    my ($dir, $rel) = PreviewImages::fixture_dir('pv12');
    PreviewImages::make_plain("$dir/own.jpg", 64, 48);
    my $lname = uniq('legacy');
    my $lpw   = 'pw-legacy';
    my $lid   = add_user($dbh, $lname, bcrypt_hash($lpw));
    my $img   = PreviewImages::add_image($dbh, $lid, "$rel/own.jpg");
    my $lver  = sub {
        my ($v) = $dbh->selectrow_array(
            'SELECT token_version FROM users WHERE id = ?', undef, $lid);
        return $v;
    };
    my $legacy = PreviewImages::record_token(legacy_token($lid, $secret_file));
    my $get = sub {
        my ($tok) = @_;
        Apache::TestRequest::module('pv_legacy');
        my $res = Apache::TestRequest::GET("/preview/$img?w=64&token=$tok");
        Apache::TestRequest::module('default');
        return $res;
    };

    my $res = $get->($legacy);
    is($res->code, 200, 'legacy token, own image, token_version 0: 200');
    is($res->header('Content-Type'), 'image/jpeg', '... a JPEG');
    is($get->(PreviewImages::record_token(legacy_token($lid + 1000000,
                                                       $secret_file)))->code,
       401, 'legacy token of a user that does not exist: 401');

    # A logout with a JWS of this server bumps token_version to 1.
    Apache::TestRequest::module('pv_legacy');
    my $jws = PreviewImages::record_token(login_token($lname, $lpw));
    is_204(logout(authz => "Bearer $jws"), 'pv_legacy: logout with a JWS');
    Apache::TestRequest::module('default');
    is($lver->(), 1, 'token_version 1');

    $res = $get->($legacy);
    is($res->code, 401, 'the legacy token after the logout: 401');
    is_deeply(json_body($res), $bad_body, '... body');
    is($get->(PreviewImages::record_token(legacy_token($lid, $secret_file)))
           ->code, 401, 'a legacy token made after the logout: 401 too');
    Apache::TestRequest::module('pv_legacy');
    is_401(logout(authz => "Bearer $legacy"), 'logout with the legacy token');
    Apache::TestRequest::module('default');
    is($lver->(), 1, 'token_version unchanged');
    like(error_log_text(),
         qr/revoked: legacy token of user $lid, who logged out since \(token_version 1\)/,
         'the refusal is logged with its reason');
}

# An itsdangerous TimedJSONWebSignatureSerializer token (as
# tests/unit/make_legacy_vectors.py makes them): expiry in the header,
# {"uid": id}, HMAC-SHA512 with the raw SECRET_KEY (the file's bytes without
# the final newline).
sub legacy_token {
    my ($uid, $secret_file) = @_;
    my $out = `"@{[PreviewLogin::python3()]}" -c '
import base64, hashlib, hmac, json, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=")
def compact(o): return json.dumps(o, separators=(",", ":")).encode()
secret = open(sys.argv[2], "rb").read().rstrip(b"\\r\\n")
now = int(time.time())
text = b64(compact({"alg": "HS512", "iat": now, "exp": now + 600})) + b"." + b64(compact({"uid": int(sys.argv[1])}))
print((text + b"." + b64(hmac.new(secret, text, hashlib.sha512).digest())).decode())
' '$uid' '$secret_file'`;
    chomp $out;
    die "legacy token: $out\n" unless $out =~ /^[\w-]+\.[\w-]+\.[\w-]+$/;
    return $out;
}
