# The counters (vhost pv_metrics of conf/metrics.conf.in, which no other
# test uses): after a known sequence of requests (logins ok, bad password,
# unknown user; two misses, hits, 401s, 404s; MariaDB stopped for one
# request, then back), preview-metrics and server-status?auto show exactly
# those counts for this server; the hits were served by at least two
# child processes (metrics_log's %P) and their counts add up in the one
# total; the histograms' _count is their +Inf bucket; a graceful restart
# keeps the counts; preview-metrics is
# Prometheus text 0.0.4 (HELP/TYPE per family) and refuses POST with 405.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewLogin qw(dbh post_form json_body db_stop db_start uniq);
use PreviewImages qw(fixture_dir make_plain add_image new_user);
use PreviewLog qw(log_path);
use PreviewTest qw(in_parallel graceful_restart);

plan tests => 35;

my $VH = 'pv_metrics';
my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv43');
make_plain("$dir/a.jpg", 640, 480);
my ($alice, $atok, $aname, $apw) = new_user($dbh, 'malice');
my ($bob) = new_user($dbh, 'mbob');
my $img   = add_image($dbh, $alice, "$rel/a.jpg");
my $other = add_image($dbh, $bob,   "$rel/a.jpg");
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');
$dbh->disconnect;

# After the logins above (module2url makes the vhost the default one).
my ($host, $port) =
    Apache::TestRequest::module2url($VH, { path => '/' }) =~ m{//([^:/]+):(\d+)/};
my $server = "$host:$port";
# A new connection for every request: the children take them in turn.
Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);

sub url { Apache::TestRequest::module2url($VH, { path => $_[0] }) }

# Every request to the vhost is one line of metrics_log, written after its
# count (the counting hook runs before mod_log_config's): waiting for the
# lines is waiting for the counts.
my $sent = 0;
sub log_entries {
    open my $fh, '<', log_path('metrics_log') or return ();
    my @l = <$fh>;
    chomp @l;
    return @l;
}
sub settle {
    for (1 .. 100) {
        return if log_entries() >= $sent;
        select undef, undef, undef, 0.1;
    }
    diag "metrics_log has " . scalar(log_entries()) . " lines, $sent sent";
}
sub get  { $sent++; return Apache::TestRequest::GET(url($_[0]), @_[1 .. $#_]) }
sub post { $sent++; return post_form(url($_[0]), $_[1]) }
sub preview_url {
    my ($id, $q) = @_;
    return "/preview/$id" . (defined $q ? "?$q" : '');
}

# This server's samples of preview-metrics: { 'name{labels}' => value },
# the server label left out.
my $scrapes = 0;
sub scrape {
    settle();
    my $res = get('/metrics');
    $scrapes++;
    my %m;
    for (split /\n/, $res->content) {
        next unless /^(\w+)\{server="\Q$server\E"(?:,([^}]*))?\} (\S+)$/;
        $m{"$1\{" . ($2 // '') . '}'} = $3;
    }
    return ($res, \%m);
}

# --- the sequence -------------------------------------------------------
my @codes;
push @codes, post('/login', { username => $aname, password => $apw })->code;
push @codes, post('/login', { username => $aname, password => 'wrong' })->code;
push @codes, post('/login', { username => uniq('nobody'), password => 'x' })->code;
is("@codes", '200 401 401', 'logins: ok, bad password, unknown user');

my $miss1 = get(preview_url($img, "w=64&token=$atok"));
my $miss2 = get(preview_url($img, "w=128&token=$atok"));
my @hits = map { get(preview_url($img, "w=64&token=$atok"))->code } 1 .. 3;
is(join(' ', $miss1->code, $miss2->code, @hits), '200 200 200 200 200',
   'two misses, three hits');
my $bytes = length($miss1->content) + length($miss2->content);
@codes = (get(preview_url($img, 'w=64'))->code,
          get(preview_url($img, 'w=64&token=not.a-token'))->code,
          get(preview_url($other, "w=64&token=$atok"))->code,
          get(preview_url($missing, "w=64&token=$atok"))->code);
is("@codes", '401 401 404 404',
   'no token, a malformed token, someone else\'s image, no such image');

# More hits, four at a time on connections of their own, until the log
# shows two processes serving them (at most 15 rounds).
my $par = 0;
for my $round (1 .. 15) {
    my $done = in_parallel(4, sub {
        my $r = Apache::TestRequest::GET(url(preview_url($img, "w=64&token=$atok")));
        return $r->code;
    });
    my @c = $done->();
    $sent += 4;
    $par += 4;
    die "parallel hits: @c\n" if grep { $_ != 200 } @c;
    settle();
    my %pids = map { (split ' ')[0] => 1 }
               grep { /^\d+ 200 GET \/preview\// } log_entries();
    last if keys %pids >= 2;
}

# MariaDB down for one preview, then back.
db_stop();
my $restarted = 0;
END { eval { db_start() } unless $restarted }
my $down = get(preview_url($img, "w=64&token=$atok"));
is($down->code, 503, 'MariaDB stopped: 503');
my (undef, $during) = scrape();
is($during->{'mod_preview_db_up{}'}, 0, 'db_up 0 while it is down');
db_start();
$restarted = 1;
is(get(preview_url($img, "w=64&token=$atok"))->code, 200,
   'MariaDB back: a hit again');

# --- the counts ---------------------------------------------------------
my ($res, $m) = scrape();
is($res->code, 200, 'preview-metrics: 200');
is($res->header('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8',
   'Prometheus text format 0.0.4');
my $hits = 3 + $par + 1;
my %want = (
    'mod_preview_requests_total{handler="login",code="200"}'   => 1,
    'mod_preview_requests_total{handler="login",code="401"}'   => 2,
    'mod_preview_requests_total{handler="preview",code="200"}' => 2 + $hits,
    'mod_preview_requests_total{handler="preview",code="401"}' => 2,
    'mod_preview_requests_total{handler="preview",code="404"}' => 2,
    'mod_preview_requests_total{handler="preview",code="503"}' => 1,
    'mod_preview_requests_total{handler="metrics",code="200"}' => $scrapes - 1,
    'mod_preview_cache_total{result="hit"}'                    => $hits,
    'mod_preview_cache_total{result="miss"}'                   => 2,
    'mod_preview_render_seconds_bucket{format="jpeg",le="+Inf"}' => 2,
    'mod_preview_render_seconds_count{format="jpeg"}'          => 2,
    'mod_preview_render_wait_seconds_bucket{le="+Inf"}'        => 2,
    'mod_preview_render_wait_seconds_count{}'                  => 2,
    'mod_preview_db_errors_total{kind="unavailable"}'          => 1,
    'mod_preview_db_up{}'                                      => 1,
    'mod_preview_login_total{result="ok"}'                     => 1,
    'mod_preview_login_total{result="bad_password"}'           => 1,
    'mod_preview_login_total{result="unknown_user"}'           => 1,
    'mod_preview_tokens_refused_total{reason="missing"}'       => 1,
    'mod_preview_tokens_refused_total{reason="malformed"}'     => 1,
    'mod_preview_cache_bytes{}'                                => $bytes,
    'mod_preview_cache_entries{}'                              => 2,
);
# Timings: the finite buckets and sums vary; their shape is checked below.
my %got = map { $_ => $m->{$_} }
          grep { !/le="[0-9.]+"|_sum\{|_timestamp_seconds/ } keys %$m;
is_deeply(\%got, \%want, "preview-metrics for $server: exactly these counts")
    or diag explain \%got;
ok($m->{'mod_preview_render_seconds_sum{format="jpeg"}'} > 0,
   'render seconds summed');
my @b = map { $m->{"mod_preview_render_seconds_bucket{format=\"jpeg\",le=\"$_\"}"} }
        qw(0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
is(scalar(grep { defined } @b), 13, 'thirteen buckets, +Inf last');
ok(!grep({ $b[$_] < $b[$_ - 1] } 1 .. $#b), 'buckets cumulative');
my $counted = $m->{'mod_preview_cache_counted_timestamp_seconds{}'} // 0;
ok($counted > 0 && $counted <= time, 'the sweeper counted the folder');
like($res->content,
     qr/^# HELP mod_preview_requests_total .+\n# TYPE mod_preview_requests_total counter\n/m,
     'HELP and TYPE lines');
like($res->content, qr/^# TYPE mod_preview_render_seconds histogram$/m,
     'render_seconds is a histogram');

# Two children, one total.
my %by_pid;
$by_pid{ (split ' ')[0] }++ for grep { /^\d+ 200 GET \/preview\// } log_entries();
my $sum = 0;
$sum += $_ for values %by_pid;
ok(keys(%by_pid) >= 2, 'previews served by ' . keys(%by_pid)
   . ' processes (' . join(', ', map { "$_: $by_pid{$_}" } sort keys %by_pid) . ')');
is($sum, $want{'mod_preview_requests_total{handler="preview",code="200"}'},
   'their counts add up to the one total');

# server-status?auto: the same counts, lines "Preview<Name> <host> <port>
# <labels>: <value>".
settle();
my $st = get('/server-status?auto');
my %auto;
for (split /\n/, $st->content) {
    next unless /^(Preview\w+) \Q$host $port\E((?: \S+)*): (\S+)$/;
    $auto{"$1$2"} = $3;
}
is($auto{'PreviewRequestsTotal preview 200'}, 2 + $hits, '?auto: previews 200');
is($auto{'PreviewRequestsTotal preview 401'}, 2, '?auto: previews 401');
is($auto{'PreviewRequestsTotal preview 404'}, 2, '?auto: previews 404');
is($auto{'PreviewRequestsTotal metrics 200'}, $scrapes, '?auto: scrapes');
is($auto{'PreviewCacheTotal hit'}, $hits, '?auto: hits');
is($auto{'PreviewCacheTotal miss'}, 2, '?auto: misses');
is($auto{'PreviewLoginTotal bad_password'}, 1, '?auto: bad password');
is($auto{'PreviewLoginTotal unknown_user'}, 1, '?auto: unknown user');
is($auto{'PreviewDbErrorsTotal unavailable'}, 1, '?auto: the outage');
is($auto{'PreviewDbUp'}, 1, '?auto: db up');
is($auto{'PreviewTokensRefusedTotal missing'}, 1, '?auto: no token');
is(scalar(keys %auto), scalar(keys %$m),
   '?auto: one line per Prometheus sample');
unlike($st->content, qr/^Preview[^:\n]*:[^:\n]*:/m,
       '?auto: no line with a second colon');
like(get('/server-status')->content, qr{<h2>mod_preview</h2>},
     'server-status page: a mod_preview section');

# A graceful restart keeps the counts: the new generation finds the block
# the first one made, and its children count on in it.
graceful_restart();
my (undef, $kept) = scrape();
is($kept->{'mod_preview_requests_total{handler="preview",code="200"}'},
   2 + $hits, 'after a graceful restart: the same previews counted');
is($kept->{'mod_preview_requests_total{handler="metrics",code="200"}'},
   $scrapes - 1, 'after a graceful restart: every scrape counted');

my $p = post('/metrics', {});
is($p->code, 405, 'POST preview-metrics: 405');
is($p->header('Allow'), 'GET, HEAD', 'Allow: GET, HEAD');
