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

# Its handlers are dispatched: preview-login answers a GET with 405 and
# Allow: POST (DESIGN "Handlers"), as JSON.
$r = GET '/login';
is($r->code, 405, 'GET /login (SetHandler preview-login): 405');
is($r->header('Allow') // '', 'POST', '405 carries Allow: POST');
like($r->header('Content-Type') // '', qr{^application/json\b},
     '405 body is JSON');

# URLs outside its locations are left to httpd.
$r = GET '/no-such-file';
is($r->code, 404, 'an unmapped missing file: 404 from httpd');
