# Runs last (file names sort): after the whole suite, no token any test sent
# appears in the error log, the access log, the notes log or the redaction
# log (environment, Referer), and nothing shaped like a signed token either
# (header.payload.signature in base64url, as every JWS starts with "eyJ");
# the access log does show REDACTED.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil qw(t_catfile);
use PreviewLogin qw(dbh);
use PreviewImages qw(new_user tokens_file);

plan tests => 11;

# One more token through every query form, so that this file checks
# something even when run alone.
my ($uid, $tok) = new_user(dbh(), 'logs');
Apache::TestRequest::GET("/preview/1?token=$tok");
Apache::TestRequest::GET("/preview/1?w=64&access_token=$tok");
Apache::TestRequest::GET("/somewhere/else?token=$tok");
Apache::TestRequest::POST("/logout?token=$tok", content => '');
sleep 1;    # the access log is written after each response

my @tokens;
if (open my $fh, '<', tokens_file()) {
    chomp(@tokens = grep { /\S/ } <$fh>);
}
ok(@tokens >= 1, scalar(@tokens) . ' tokens recorded by the suite');

my $logs = Apache::Test::vars('t_logs');
for my $name (qw(error_log access_log preview_log redact_log)) {
    my $path = t_catfile($logs, $name);
    open my $fh, '<', $path or do { fail("$name: $!") for 1 .. 2; next };
    my $text = do { local $/; <$fh> };
    my @found = grep { index($text, $_) >= 0 } @tokens;
    is(scalar @found, 0, "$name: none of the tokens")
        or diag "found: " . join(' ', map { substr($_, 0, 20) . '...' } @found);
    my @jws = $text =~ /(eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{20,})/g;
    is(scalar @jws, 0, "$name: nothing shaped like a token")
        or diag "e.g. " . substr($jws[0], 0, 30) . '...';
}

my $access = do {
    open my $fh, '<', t_catfile($logs, 'access_log') or die $!;
    local $/;
    <$fh>;
};
like($access, qr{"GET /preview/1\?token=REDACTED HTTP/1\.1"},
     'access_log: token=REDACTED');
like($access, qr{"GET /preview/1\?w=64&access_token=REDACTED HTTP/1\.1"},
     'access_log: access_token=REDACTED');
