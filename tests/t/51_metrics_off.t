# PreviewMetrics Off (vhost pv_count_off of conf/hit.conf.in): after a
# miss, hits, 401s and a 404 on that server, preview-metrics has no
# sample of it at all (none of its requests counted, the scrapes
# neither), while
# the same sequence on the main server is counted there.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use PreviewImages qw(fixture_dir make_plain add_image new_user);
use PreviewLogin qw(dbh);

plan tests => 6;

my $VH = 'pv_count_off';
my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv51');
make_plain("$dir/a.jpg", 640, 480);
my ($alice, $atok) = new_user($dbh, 'coff');
my $img = add_image($dbh, $alice, "$rel/a.jpg");
my ($missing) = $dbh->selectrow_array('SELECT MAX(id) + 1000 FROM images');
$dbh->disconnect;

my ($host, $port) =
    Apache::TestRequest::module2url($VH, { path => '/' }) =~ m{//([^:/]+):(\d+)/};
sub url { Apache::TestRequest::module2url($VH, { path => $_[0] }) }
sub get { return Apache::TestRequest::GET(url($_[0])) }

# This server's samples: { 'name{labels}' => value }.
sub scrape {
    my $res = get('/metrics');
    my %m;
    for (split /\n/, $res->content) {
        next unless /^(\w+)\{server="\Q$host:$port\E"(?:,([^}]*))?\} (\S+)$/;
        $m{"$1\{" . ($2 // '') . '}'} = $3;
    }
    return ($res, \%m);
}

my @codes = map { get("/preview/$img?w=64&token=$atok")->code } 1 .. 4;
push @codes, get("/preview/$img?w=64")->code,
    get("/preview/$img?w=64&token=not.a-token")->code,
    get("/preview/$missing?w=64&token=$atok")->code;
is("@codes", '200 200 200 200 401 401 404',
   'PreviewMetrics Off: a miss, three hits, two 401s, a 404');
my ($res, $m) = scrape();
is($res->code, 200, 'its preview-metrics answers');
($res, $m) = scrape();
like($res->content, qr/^# TYPE mod_preview_requests_total counter$/m,
   '... with the other servers\' counters');
is(join(' ', sort keys %$m), '',
   'no sample of it: none of its requests counted, no scrape either')
    or diag($res->content);

# The main server (counting on) counts three 401s of its own.
sub all_401 {
    my %c;
    for (split /\n/, get('/metrics')->content) {
        $c{$1} = $2
            if /^mod_preview_requests_total\{server="([^"]*)",handler="preview",code="401"\} (\S+)$/;
    }
    return \%c;
}
my $main = 'http://' . Apache::Test::vars('servername') . ':'
    . Apache::Test::vars('port');
my $before = all_401();
my @mc = map { Apache::TestRequest::GET("$main/preview/$img?w=64")->code }
    1 .. 3;
is("@mc", '401 401 401', 'the main server: three previews without a token');
# Counted after each answer (log_transaction): a moment for the last one.
my ($after, @rose);
for (1 .. 50) {
    $after = all_401();
    @rose = grep { ($after->{$_} // 0) - ($before->{$_} // 0) == 3 }
        sort keys %$after;
    last if @rose;
    select undef, undef, undef, 0.1;
}
is(scalar @rose, 1, '... counted there, 3 more 401s') or diag(explain($before, $after));
