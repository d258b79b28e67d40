# preview-logout: POST with a valid token from any source (Authorization:
# Bearer, query token, query access_token, the login cookie; the first
# found wins) bumps the user's token_version: 204, and from then on every
# earlier token of that user is 401, logout itself included.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form pyjwt_mint
                    pyjwt_decode login_token uniq key_file);

plan tests => 49;

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
    my $log = t_catfile(Apache::Test::vars('t_logs'), 'error_log');
    open my $fh, '<', $log or die "$log: $!";
    my $text = do { local $/; <$fh> };
    my @found = grep { index($text, (split /\./, $_)[2]) >= 0 }
                ($t1, $t2, $t3, $t4, $t5, $t6);
    is(scalar @found, 0, 'no token signature in the error log');
}
