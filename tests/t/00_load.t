# The module loads into the real httpd from the build tree, and the server
# that Apache::Test starts with it answers.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use IPC::Open3 qw(open3);

plan tests => 7;

my $cfg = Apache::Test::config();

# httpd -M on the suite's own configuration: the module is listed, shared.
my @cmd = (split(' ', $cfg->server->start_cmd), '-M');
my $pid = open3(my $in, my $out, undef, @cmd);
close $in;
my $modules = do { local $/; <$out> };
waitpid($pid, 0);
is($? >> 8, 0, 'httpd -M with the test configuration exits 0');
like($modules, qr/^\s*preview_module \(shared\)\s*$/m,
     'httpd -M lists preview_module (shared)');

# The server started with the module serves an ordinary page.
my $r = GET '/index.html';
is($r->code, 200, 'server with mod_preview loaded serves /index.html');

# The preview handler answers its Location: no token is a 401 with the
# Bearer challenge and a JSON error body (DESIGN "Status codes").
$r = GET '/preview/1';
is($r->code, 401, 'GET /preview/1 without a token: 401');
like($r->header('WWW-Authenticate') // '', qr/^Bearer realm="preview"/,
     '401 carries WWW-Authenticate: Bearer realm="preview"');
like($r->header('Content-Type') // '', qr{^application/json\b},
     '401 body is JSON');
like($r->content, qr/"error"\s*:\s*"/, '401 body has an "error" member');
