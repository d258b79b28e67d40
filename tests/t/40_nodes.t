# Two httpd nodes behind one load balancer (README "Several nodes"), their
# shared cache a redis (PreviewSOCache redis:..., Debian's
# mod_socache_redis) started by tests/run-all: the scenario of
# tests/t/lib/PreviewTwoNodes.pm.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewTwoNodes ();

plan tests => PreviewTwoNodes::TESTS;

my $port = $ENV{PV_REDIS_PORT}
    or die "PV_REDIS_PORT not set (tests/run-all starts redis)\n";
PreviewTwoNodes::scenario(
    socache => "redis:127.0.0.1:$port", module => 'socache_redis',
    server => 'redis', ctl => $ENV{PV_REDIS}, ctl_dir => $ENV{PV_REDIS_DIR},
    fixture => 'pv40');
