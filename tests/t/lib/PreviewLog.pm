# Helpers that read the test server's logs (tests/t/logs): the error log's
# text, how many of its lines match, and the lines of a log that match once
# they have been written (a log line may come just after the response).
package PreviewLog;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use Apache::Test ();
use Apache::TestUtil qw(t_catfile);

our @EXPORT_OK = qw(log_path error_log_path error_log_text log_count
                    log_lines);

# tests/t/logs/$name: error_log, access_log, preview_log, redact_log.
sub log_path { t_catfile(Apache::Test::vars('t_logs'), $_[0]) }

sub error_log_path { log_path('error_log') }

# The error log's text, or what it has after byte $from (its size once).
sub error_log_text {
    my ($from) = @_;
    open my $fh, '<', error_log_path() or return '';
    seek $fh, $from, 0 if $from;
    local $/;
    return <$fh> // '';
}

# How many lines of the error log match $re.
sub log_count {
    my ($re) = @_;
    return scalar grep { /$re/ } split /\n/, error_log_text();
}

# The lines of log $name that match $re, waiting up to 5 s for the first.
sub log_lines {
    my ($name, $re) = @_;
    my @l;
    for (1 .. 50) {
        if (open my $fh, '<', log_path($name)) {
            @l = grep { /$re/ } <$fh>;
            chomp @l;
        }
        last if @l;
        select undef, undef, undef, 0.1;
    }
    return @l;
}

1;
