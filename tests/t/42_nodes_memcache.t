# Two httpd nodes behind one load balancer (README "Several nodes"), their
# shared cache a memcached (PreviewSOCache memcache:..., Debian's
# mod_socache_memcache) started by tests/run-all: the scenario of
# tests/t/lib/PreviewTwoNodes.pm, as t/40_nodes.t runs it over redis.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewTwoNodes ();

plan tests => PreviewTwoNodes::TESTS;

my $port = $ENV{PV_MEMCACHED_PORT}
    or die "PV_MEMCACHED_PORT not set (tests/run-all starts memcached)\n";
PreviewTwoNodes::scenario(
    socache => "memcache:127.0.0.1:$port", module => 'socache_memcache',
    server => 'memcached', ctl => $ENV{PV_MEMCACHED},
    ctl_dir => $ENV{PV_MEMCACHED_DIR}, fixture => 'pv42');
