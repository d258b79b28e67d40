# docs/openapi.yaml against the server. First an OpenAPI 3.1 validator
# (@seriousme/openapi-schema-validator, installed into tests/npm by
# tests/deps) says the document is valid. Then the real httpd is driven
# through every status the document lists for login, logout, sign and
# preview (vhosts of conf/cors_openapi.conf.in: pv_api_down, a database
# never there, for the 503s; pv_api_broken, a login query of the wrong
# shape, for the 500s; pv_api_small for 429 and 413; pv_cors for the
# preflights; pv_remote for the GET login), and lib/openapi_check.py checks
# each answer: its status is documented for its operation, its body
# (JSON Schema 2020-12) and content type, its headers. A status observed
# that the document lacks fails; so does a documented one never observed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use File::Temp ();
use PreviewLogin qw(dbh add_user bcrypt_hash json_body post_form post_json
                    pyjwt_mint uniq python3);
use PreviewImages qw(fixture_dir make_plain add_image new_user record_token);

my $top = "$FindBin::Bin/../..";
my $spec = "$top/docs/openapi.yaml";
my $validator = "$top/tests/npm/node_modules/\@seriousme/openapi-schema-validator/bin/validate-api-cli.js";

# ---- the observations
my @obs;
my $vhost = 'default';

sub on { $vhost = $_[0]; Apache::TestRequest::module($vhost) }

# obs(name, method, path in the document's terms, response)
sub obs {
    my ($name, $method, $path, $res) = @_;
    my %h;
    for my $n ($res->headers->header_field_names) {
        next if $n =~ /^Client-/;
        $h{lc $n} = join ', ', $res->headers->header($n);
    }
    my $ct = $res->header('Content-Type') // '';
    my $body = $res->content // '';
    $body = length($body) . ' bytes' if length $body && $ct !~ m{json};
    push @obs, { name => "$name ($vhost)", method => $method, path => $path,
                 status => $res->code, content_type => $ct,
                 headers => \%h, body => $body };
    return $res;
}

sub form { my ($path, $body, @h) = @_;
    return Apache::TestRequest::POST($path,
        'Content-Type' => 'application/x-www-form-urlencoded', @h,
        content => $body) }

sub bearer { return (Authorization => "Bearer $_[0]") }

sub preflight {
    my ($path, $origin) = @_;
    return Apache::TestRequest::OPTIONS($path, Origin => $origin,
        'Access-Control-Request-Method' => 'POST',
        'Access-Control-Request-Headers' => 'authorization,content-type');
}

# A token of uid signed by the first key of a key file.
sub mint {
    my ($uid, $keys) = @_;
    my $now = time;
    return record_token(pyjwt_mint({ sub => "$uid", aud => 'preview',
        iat => $now, exp => $now + 600, ver => 0 }, $keys));
}

# ---- fixtures: two users, their images
my $dbh = dbh();
my ($uid, $tok, $name, $pw) = new_user($dbh, 'api');
my ($other_uid, $other_tok) = new_user($dbh, 'api-other');
my ($quit_uid, $quit_tok) = new_user($dbh, 'api-quit');
my ($dir, $rel) = fixture_dir('pv48');
make_plain("$dir/small.jpg", 320, 240);
make_plain("$dir/big.jpg", 1200, 1000);
{
    open my $f, '>', "$dir/text.jpg" or die $!;
    print {$f} "not an image\n" x 20;
}
my $img   = add_image($dbh, $uid, "$rel/small.jpg");
my $big   = add_image($dbh, $uid, "$rel/big.jpg");
my $text  = add_image($dbh, $uid, "$rel/text.jpg");
my $alien = add_image($dbh, $other_uid, "$rel/small.jpg");
$dbh->do('DELETE FROM users WHERE username = ?', undef, 'carol');
add_user($dbh, 'carol', '!');
my $basic = 'Basic ' . encode_base64('carol:carol-basic-pw', '');

my $broken_keys = "$FindBin::Bin/conf/pv_api_broken.keys";
my $down_keys   = "$FindBin::Bin/conf/pv_api_down.keys";
my $broken_tok = mint($uid, $broken_keys);
my $down_tok   = mint($uid, $down_keys);
my $pad = 'pad=' . ('x' x 9000);

# ---- login
on('default');
obs('login', 'POST', '/login', post_form('/login',
    { username => $name, password => $pw }));
obs('login JSON', 'POST', '/login', post_json('/login',
    { username => $name, password => $pw }));
obs('login without password', 'POST', '/login',
    post_form('/login', { username => $name }));
obs('login, wrong password', 'POST', '/login',
    post_form('/login', { username => $name, password => 'wrong' }));
obs('login from another site', 'POST', '/login', post_form('/login',
    { username => $name, password => $pw }, Origin => 'https://evil.example'));
obs('login body over 8 KiB', 'POST', '/login', form('/login',
    "username=$name&password=$pw&$pad"));
obs('login as text/plain', 'POST', '/login', Apache::TestRequest::POST(
    '/login', 'Content-Type' => 'text/plain', content => 'x'));
obs('GET login without PreviewLoginFromRemoteUser', 'GET', '/login',
    Apache::TestRequest::GET('/login'));
obs('login preflight, server without PreviewCORSOrigins', 'OPTIONS',
    '/login', preflight('/login', 'https://app.example.net'));
on('pv_api_small');
for (1 .. 2) {
    obs("login over PreviewLoginLimit 1 ($_)", 'POST', '/login',
        post_form('/login', { username => $name, password => 'wrong' }));
}
on('pv_api_broken');
obs('login, database error', 'POST', '/login',
    post_form('/login', { username => $name, password => $pw }));
on('pv_api_down');
obs('login, database unreachable', 'POST', '/login',
    post_form('/login', { username => $name, password => $pw }));
on('pv_remote');
obs('GET login, Basic auth upstream', 'GET', '/login',
    Apache::TestRequest::GET('/login', Authorization => $basic));
obs('GET login, no r->user', 'GET', '/login',
    Apache::TestRequest::GET('/login-open'));
on('pv_cors');
obs('login preflight, listed origin', 'OPTIONS', '/login',
    preflight('/login', 'https://app.example.net'));
obs('login from a CORS origin', 'POST', '/login', post_form('/login',
    { username => $name, password => $pw }, Origin => 'https://app.example.net'));

# ---- sign
on('default');
obs('sign', 'POST', '/sign', form('/sign', "ids=$img,$alien&w=128", bearer($tok)));
obs('sign JSON', 'POST', '/sign',
    post_json('/sign', { ids => ["$img"], fit => 'cover' }, bearer($tok)));
obs('sign without ids', 'POST', '/sign', form('/sign', 'w=64', bearer($tok)));
obs('sign without token', 'POST', '/sign', form('/sign', "ids=$img"));
obs('sign body over 8 KiB', 'POST', '/sign',
    form('/sign', "ids=$img&$pad", bearer($tok)));
obs('sign as text/plain', 'POST', '/sign', Apache::TestRequest::POST('/sign',
    'Content-Type' => 'text/plain', bearer($tok), content => "ids=$img"));
obs('GET sign', 'GET', '/sign', Apache::TestRequest::GET('/sign', bearer($tok)));
obs('sign preflight, server without PreviewCORSOrigins', 'OPTIONS', '/sign',
    preflight('/sign', 'https://app.example.net'));
on('pv_api_broken');
obs('sign, database error', 'POST', '/sign',
    form('/sign', "ids=$img", bearer($broken_tok)));
on('pv_api_down');
obs('sign, database unreachable', 'POST', '/sign',
    form('/sign', "ids=$img", bearer($down_tok)));
on('pv_cors');
obs('sign preflight, listed origin', 'OPTIONS', '/sign',
    preflight('/sign', 'http://localhost:5173'));

# ---- preview
on('default');
my $ok = obs('preview', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img?w=64&token=$tok"));
my $etag = $ok->header('ETag') // '"none"';
obs('preview, If-None-Match', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img?w=64", bearer($tok),
                             'If-None-Match' => $etag));
obs('preview, w=abc', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img?w=abc", bearer($tok)));
obs('preview without token', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img"));
obs("preview of another user's image", 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$alien", bearer($tok)));
obs('preview of a text file', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$text", bearer($tok)));
obs('HEAD preview', 'HEAD', '/preview/{id}',
    Apache::TestRequest::HEAD("/preview/$img?w=64", bearer($tok)));
obs('HEAD preview, If-None-Match', 'HEAD', '/preview/{id}',
    Apache::TestRequest::HEAD("/preview/$img?w=64", bearer($tok),
                              'If-None-Match' => $etag));
obs('HEAD preview without token', 'HEAD', '/preview/{id}',
    Apache::TestRequest::HEAD("/preview/$img"));
obs("HEAD preview of another user's image", 'HEAD', '/preview/{id}',
    Apache::TestRequest::HEAD("/preview/$alien", bearer($tok)));
obs('POST preview', 'POST', '/preview/{id}',
    form("/preview/$img", 'x=1', bearer($tok)));
on('pv_api_small');
obs('preview over PreviewMaxSourcePixels', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$big", bearer($tok)));
on('pv_api_broken');
obs('preview, database error', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img", bearer($broken_tok)));
on('pv_api_down');
obs('preview, database unreachable', 'GET', '/preview/{id}',
    Apache::TestRequest::GET("/preview/$img", bearer($down_tok)));

# ---- logout (last: it revokes the user's tokens)
on('default');
obs('logout without token', 'POST', '/logout',
    Apache::TestRequest::POST('/logout'));
obs('GET logout', 'GET', '/logout',
    Apache::TestRequest::GET('/logout', bearer($quit_tok)));
obs('logout preflight, server without PreviewCORSOrigins', 'OPTIONS',
    '/logout', preflight('/logout', 'https://app.example.net'));
on('pv_api_broken');
obs('logout, database error', 'POST', '/logout',
    Apache::TestRequest::POST('/logout', bearer($broken_tok)));
on('pv_api_down');
obs('logout, database unreachable', 'POST', '/logout',
    Apache::TestRequest::POST('/logout', bearer($down_tok)));
on('pv_cors');
obs('logout preflight, listed origin', 'OPTIONS', '/logout',
    preflight('/logout', 'https://app.example.net'));
obs('logout from a CORS origin', 'POST', '/logout',
    Apache::TestRequest::POST('/logout', bearer($quit_tok),
                              Origin => 'https://app.example.net'));
on('default');
obs('logout', 'POST', '/logout', Apache::TestRequest::POST('/logout', bearer($tok)));

# record the tokens the answers carried (tests/t/99_no_tokens_in_logs.t)
for my $o (@obs) {
    next unless $o->{content_type} =~ /json/;
    my $j = eval { JSON::PP->new->decode($o->{body}) } // {};
    record_token($j->{token}) if ref $j eq 'HASH' && $j->{token};
    if (ref $j eq 'HASH' && ref $j->{urls} eq 'HASH') {
        record_token($_ =~ /token=([^&]+)/ ? $1 : ()) for values %{ $j->{urls} };
    }
}

# ---- the document is OpenAPI 3.1 (a real validator), then each answer
# against it
plan tests => 3 + @obs;
my $out = `node "$validator" "$spec" 2>&1`;
my $rc = $? >> 8;
ok($rc == 0 && $out =~ /"valid":\s*true/,
   'docs/openapi.yaml: a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)')
    or diag "exit $rc: $out";

my $in = File::Temp->new(SUFFIX => '.json');
print {$in} JSON::PP->new->canonical->encode(\@obs);
close $in;
my $json = `"@{[ python3() ]}" "$FindBin::Bin/lib/openapi_check.py" "$spec" < "$in"`;
my $res = eval { JSON::PP->new->decode($json) } // { verdicts => [], missing => ['(checker failed)'] };
my @verdicts = @{ $res->{verdicts} };
is(scalar @verdicts, scalar @obs,
   'openapi_check.py: a verdict for each of ' . scalar(@obs) . ' answers');
for my $i (0 .. $#obs) {
    my $v = $verdicts[$i] // { operation => '?', status => $obs[$i]{status},
                               errors => ['no verdict'] };
    ok(!@{ $v->{errors} }, "$obs[$i]{name}: $v->{operation} $v->{status} as documented")
        or diag join "\n", @{ $v->{errors} };
}
ok(!@{ $res->{missing} }, 'every documented status was observed')
    or diag 'never observed: ' . join ', ', @{ $res->{missing} };
