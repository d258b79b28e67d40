# preview-login succeeds for a bcrypt user (htpasswd -nbB), a Werkzeug
# pbkdf2 user and a Werkzeug scrypt user: 200 JSON with the token, its type,
# lifetime and the user id; the token verifies with PyJWT under the key file
# with sub, ver, aud, iat/exp and kid right; the cookie has every attribute.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use PreviewLogin qw(dbh add_user bcrypt_hash pbkdf2_hash scrypt_hash
                    pyjwt_decode json_body post_form post_json uniq key_file);

plan tests => 4 * 16 + 4;

my $dbh = dbh();

# The signing key is the first line of the key file.
open my $kf, '<', key_file() or die key_file() . ": $!";
my ($kid) = map { /^(\S+)\s+\S+/ ? $1 : () } grep { !/^\s*(#|$)/ } <$kf>;
close $kf;

my @users = (
    [ bcrypt => uniq('bcrypt'), 'pw-bcrypt-1', \&bcrypt_hash, 'form' ],
    [ pbkdf2 => uniq('pbkdf2'), 'pw pbkdf2 ü', \&pbkdf2_hash, 'form' ],
    [ scrypt => uniq('scrypt'), 'pw-scrypt-3', \&scrypt_hash, 'json' ],
    # the same bcrypt kind, through JSON with a charset parameter
    [ 'bcrypt json' => uniq('bcrypt2'), 'pw-bcrypt-4', \&bcrypt_hash,
      'json; charset=utf-8' ],
);

for my $u (@users) {
    my ($kind, $name, $pw, $hasher, $how) = @$u;
    my $hash = $hasher->($pw);
    my $id = add_user($dbh, $name, $hash);
    my $res;
    if ($how eq 'form') {
        $res = post_form('/login', { username => $name, password => $pw });
    }
    elsif ($how eq 'json') {
        $res = post_json('/login', { username => $name, password => $pw });
    }
    else {
        $res = Apache::TestRequest::POST('/login',
            'Content-Type' => "application/$how",
            content => JSON::PP->new->encode(
                { username => $name, password => $pw }));
    }
    is($res->code, 200, "$kind: 200") or diag $res->as_string;
    is($res->header('Content-Type'), 'application/json',
       "$kind: Content-Type");
    is($res->header('Cache-Control'), 'no-store', "$kind: Cache-Control");
    my $body = json_body($res) // {};
    is_deeply([ sort keys %$body ],
              [qw(expires_in token token_type user_id)], "$kind: body keys");
    is($body->{token_type}, 'Bearer', "$kind: token_type");
    is($body->{expires_in}, 86400, "$kind: expires_in is PreviewTokenTTL");
    like($res->content, qr/"user_id":"$id"/,
         "$kind: user_id is the id as a JSON string");
    like($res->content, qr/"expires_in":86400[,}]/,
         "$kind: expires_in is a JSON number");
    my $tok = $body->{token} // '';
    my @cookies = $res->header('Set-Cookie');
    is_deeply(\@cookies,
              ["preview_token=$tok; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"],
              "$kind: one cookie with every attribute (no Secure over http)");
    my $d = eval { pyjwt_decode($tok, key_file()) };
    ok($d, "$kind: PyJWT verifies the token") or diag $@;
    $d //= { header => {}, claims => {} };
    is_deeply($d->{header}, { alg => 'HS256', typ => 'JWT', kid => $kid },
              "$kind: header alg, typ, kid of the signing key");
    is($d->{claims}{sub}, "$id", "$kind: sub is the user id (string)");
    is($d->{claims}{ver}, 0, "$kind: ver is the current token_version");
    is($d->{claims}{aud}, 'preview', "$kind: aud");
    is(($d->{claims}{exp} // 0) - ($d->{claims}{iat} // 0), 86400,
       "$kind: exp - iat is the TTL");
    ok(abs(($d->{claims}{iat} // 0) - time) <= 5, "$kind: iat is now");
}

# The token carries the user's current token_version.
{
    my $name = uniq('ver');
    my $id = add_user($dbh, $name, bcrypt_hash('pw-ver'));
    $dbh->do('UPDATE users SET token_version = 41 WHERE id = ?', undef, $id);
    my $res = post_form('/login', { username => $name, password => 'pw-ver' });
    is($res->code, 200, 'token_version 41: 200');
    my $d = eval { pyjwt_decode(json_body($res)->{token}, key_file()) };
    is($d && $d->{claims}{ver}, 41, 'token_version 41: ver 41');
}

# The username is matched exactly (a prefix is someone else).
{
    my $name = uniq('exact');
    add_user($dbh, $name, bcrypt_hash('pw-exact'));
    my $res = post_form('/login',
                        { username => substr($name, 0, -1), password => 'pw-exact' });
    is($res->code, 401, 'a prefix of the username is not the user');
    $res = post_form('/login',
        [ username => $name, password => 'pw-exact', remember => 'yes' ]);
    is($res->code, 200, 'other form fields are ignored');
}
