# The two-node scenario of README "Several nodes", for one PreviewSOCache
# provider (t/40_nodes.t: redis, t/42_nodes_memcache.t: memcache): two
# httpd instances started here from a generated configuration (same module,
# same MariaDB, same key file, one shared cache server started by
# tests/run-all, PreviewOwnerCacheTimeout on), each with its own copy of
# the storage folder (cp -p: other inodes, the same mtimes) and its own
# preview cache. Shown: the login limit counts across both nodes; a logout
# on node A makes the token 401 on node B at once, although B had the
# answer in its owner cache; the same preview has the same ETag on both and
# A's ETag gives 304 on B; with the cache server stopped both still serve
# previews (logins get 503: the limiter fails closed), the outage logged
# once per node; when it is back, the limit counts again.
#
#   plan tests => PreviewTwoNodes::TESTS;
#   PreviewTwoNodes::scenario(socache => 'redis:127.0.0.1:6379',
#       module => 'socache_redis', server => 'redis', ctl => $ENV{PV_REDIS},
#       ctl_dir => $ENV{PV_REDIS_DIR}, fixture => 'pv40');
package PreviewTwoNodes;

use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use File::Path qw(make_path remove_tree);
use PreviewLogin qw(dbh add_user bcrypt_hash json_body uniq);
use PreviewImages qw(fixture_dir make_plain add_image run);
use LWP::UserAgent ();
use PreviewNode ();
use PreviewTest ();

use constant TESTS => 33;

my @roots;
END { remove_tree($_) for @roots }

# The run's options and nodes, for the helpers below.
my (%o, %node);
my $ua = LWP::UserAgent->new(timeout => 20, keep_alive => 0);

sub error_log { $node{ $_[0] }->error_log }
sub last_access { $node{ $_[0] }->last_access }
sub login { my ($n, @a) = @_; return $node{$n}->login(@a) }
sub url { my ($n, $path) = @_; return $node{$n}->url($path) }

sub preview {
    my ($n, $id, $tok, @h) = @_;
    return $ua->get(url($n, "/preview/$id?w=256"),
                    Authorization => "Bearer $tok", @h);
}

# Each process finds the server again on its own: apr_redis and
# apr_memcache ping a server they hold for dead every 5 s, and a connection
# from before the restart fails once. Previews (not counted) until node n
# has gone through the cache five times in a row.
sub back {
    my ($n, $img_b, $btok) = @_;
    my ($row, $deadline) = (0, time + 60);
    while ($row < 5 && time < $deadline) {
        preview($n, $img_b, $btok);
        if (last_access($n) =~ /^off /) {
            $row = 0;
            select undef, undef, undef, 0.5;
        }
        else {
            $row++;
        }
    }
    return $row >= 5;
}

# A failed login of name on node n, asked again while it gets 503: a
# process that had not used the cache since the server came back meets its
# connection from before the restart, which fails once, and then rests
# (the limiter fails closed, nothing is counted) until apr_redis or
# apr_memcache finds the server again, within some 5 s. The code it ends
# with; $$waited counts the 503s.
sub counted_login {
    my ($n, $name, $waited) = @_;
    my $deadline = time + 20;
    my $code;
    while (1) {
        $code = login($n, $name, 'wrong')->code;
        last if $code != 503 || time > $deadline;
        $$waited++;
        select undef, undef, undef, 0.5;
    }
    return $code;
}

sub scenario {
    %o = @_;
    my $dbh = dbh();
    my ($dir, $rel) = fixture_dir($o{fixture});
    make_plain("$dir/a.jpg", 640, 480);
    # Node B's storage: a copy with the same names and mtimes, other inodes.
    my $root_a = "$ENV{PV_RUN_DIR}/images";
    my $root_b = "$ENV{PV_RUN_DIR}/images-$o{fixture}";
    remove_tree($root_b);
    make_path("$root_b/$rel");
    run('cp', '-p', "$dir/a.jpg", "$root_b/$rel/a.jpg");

    my $port_a = PreviewNode::free_port();
    my $db = PreviewNode::db_params();
    my $locations = PreviewNode::handler_locations();
    for my $n (['A', $port_a, $root_a], ['B', undef, $root_b]) {
        my ($name, $port, $root) = @$n;
        my $cache = PreviewTest::scratch_dir() . "/cache$o{fixture}$name";
        make_path($cache);
        # One ServerName on both: the limiter's counts are per ServerName.
        $node{$name} = PreviewNode->start("$o{fixture}node$name", <<~"BODY",
    ServerName http://localhost:$port_a
    PreviewDBParams "$db"
    PreviewStorageRoot "$root"
    PreviewCacheDir "$cache"
    PreviewSOCache $o{socache}
    PreviewOwnerCacheTimeout 300
    PreviewLoginLimit 3 300
    $locations
    BODY
            port => $port, modules => [$o{module}]);
        ok($node{$name}{started}, "node $name starts (PreviewSOCache $o{socache})")
            or diag($node{$name}->start_output);
        ok($node{$name}->ok, "node $name answers on its own port");
    }



    # ---------------------------------------------------------------- users
    my %user;
    for my $u (qw(alice bob carol dave)) {
        my $name = uniq("n$u");
        $user{$u} = { name => $name, pw => "pw-$name",
                      id => add_user($dbh, $name, bcrypt_hash("pw-$name")) };
    }
    my $r = login('A', $user{alice}{name}, $user{alice}{pw});
    is($r->code, 200, 'alice logs in on node A');
    my $atok = (json_body($r) // {})->{token} // "";
    $r = login('B', $user{bob}{name}, $user{bob}{pw});
    is($r->code, 200, 'bob logs in on node B');
    my $btok = (json_body($r) // {})->{token} // "";
    my $img_a = add_image($dbh, $user{alice}{id}, "$rel/a.jpg");
    my $img_b = add_image($dbh, $user{bob}{id}, "$rel/a.jpg");

    # ------------------------------------------- the limit, across the nodes
    my @codes = map { login($_, $user{carol}{name}, 'wrong')->code } qw(A A B);
    is("@codes", '401 401 401', 'three failed logins of carol: two on A, one on B');
    is(login('B', $user{carol}{name}, 'wrong')->code, 429,
       'the fourth, on B, is over the limit: B counted A\'s two');
    is(login('A', $user{carol}{name}, $user{carol}{pw})->code, 429,
       'and on A too, even with the right password');

    # ------------------------------------------- the owner cache, the logout
    is(preview('B', $img_a, $atok)->code, 200, 'alice\'s preview on node B');
    like(last_access('B'), qr/^miss /, 'the first one asked the database');
    is(preview('B', $img_a, $atok)->code, 200, 'again on node B');
    like(last_access('B'), qr/^(?:hit|front) hit 200/,
         'the second one is an owner-cache hit (no database round trip)');
    is($ua->post(url('A', '/logout'), Authorization => "Bearer $atok")->code, 204,
       'alice logs out on node A');
    $r = preview('B', $img_a, $atok);
    is($r->code, 401, 'at once, node B refuses her token (its kept answer is gone)');
    like(last_access('B'), qr/^hit .* 401/,
         'refused from the shared cache itself (the logout\'s least version)');
    is(preview('A', $img_a, $atok)->code, 401, 'and so does node A');

    # ------------------------------------------------------------- the ETag
    my $ra = preview('A', $img_b, $btok);
    my $rb = preview('B', $img_b, $btok);
    is($ra->code . ' ' . $rb->code, '200 200', 'bob\'s preview on both nodes');
    ok($ra->header('ETag') && $ra->header('ETag') eq ($rb->header('ETag') // ''),
       'the same ETag on both (copies of the file: other inodes, same mtime)')
        or diag('A ' . ($ra->header('ETag') // '-') . ' B ' . ($rb->header('ETag') // '-'));
    is($ra->content, $rb->content, 'the same bytes');
    is(preview('B', $img_b, $btok, 'If-None-Match' => $ra->header('ETag'))->code,
       304, 'A\'s ETag gives 304 on B');
    is(preview('B', $img_b, $btok)->header('ETag'), $ra->header('ETag'),
       'a hit of B\'s own preview cache has that ETag too');

    # ------------------------------------------------- the server stopped
    system($o{ctl}, 'stop', $o{ctl_dir}) == 0 or die "$o{server} stop\n";
    @codes = map { preview($_, $img_b, $btok)->code } qw(A B A B A B A B);
    is("@codes", '200 200 200 200 200 200 200 200',
       "$o{server} stopped: both nodes still serve previews (from the database)");
    like(last_access('A'), qr/^off /, 'not through the owner cache');
    is(login('A', $user{dave}{name}, 'wrong')->code, 503,
       'a login gets 503: the limiter fails closed');
    is(login('B', $user{dave}{name}, $user{dave}{pw})->code, 503, 'on B too');
    for my $n (qw(A B)) {
        my @l = grep { /PV1510/ } split /\n/, error_log($n);
        is(scalar @l, 1, "node $n logged the outage once, not per request");
    }

    # ---------------------------------------------------- the server back
    system($o{ctl}, 'start', $o{ctl_dir}) == 0 or die "$o{server} start\n";
    ok(back('A', $img_b, $btok) && back('B', $img_b, $btok),
       "$o{server} back: both nodes use the shared cache again");
    my $waited = 0;
    @codes = (counted_login('A', $user{dave}{name}, \$waited),
              map { counted_login('B', $user{dave}{name}, \$waited) } 1 .. 2);
    is("@codes", '401 401 401', 'three failed logins of dave: one on A, two on B');
    is(counted_login('A', $user{dave}{name}, \$waited), 429,
       'the fourth is over the limit: the count goes on across the nodes');
    diag("$waited login(s) got 503 first (a process not back yet), asked again")
        if $waited;
    for my $n (qw(A B)) {
        is(scalar(() = error_log($n) =~ /PV1509/g) . ' '
           . scalar(() = error_log($n) =~ /PV1510/g), '1 1',
           "node $n logged once that $o{server} answers again, and no second outage "
           . 'for the restart');
    }
    push @roots, $root_b;
    return;
}

1;
