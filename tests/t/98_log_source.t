# A line the core logs (mod_preview/pv_*.c, through pv_log_) names the
# core's own file and line and not the glue's log callback: at level debug
# httpd's default ErrorLogFormat shows them. A source that is not an image
# gets libvips' reason at debug (PV0401, pv_image.c) beside the 415.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewLogin qw(dbh);
use PreviewImages qw(fixture_dir add_image new_user preview);
use PreviewLog qw(error_log_path error_log_text);

plan tests => 4;

# The line that logs PV0401: where its pv_log_(PV_LOG_MARK, ...) call is.
my $src = "$FindBin::Bin/../../mod_preview/pv_image.c";
open my $fh, '<', $src or die "$src: $!";
my @lines = <$fh>;
my ($tag_at) = grep { $lines[$_] =~ /PVLOGNO\(0401\)/ } 0 .. $#lines;
my $mark_at = $tag_at;
$mark_at-- while $mark_at > 0 && $lines[$mark_at] !~ /PV_LOG_MARK/;
ok($lines[$mark_at] =~ /PV_LOG_MARK/, 'pv_image.c logs PV0401 with PV_LOG_MARK')
    or diag "no PV_LOG_MARK at or above $src line " . ($tag_at + 1);
my $line = $mark_at + 1;

my $dbh = dbh();
my ($dir, $rel) = fixture_dir('pv98');
{
    open my $f, '>', "$dir/text.jpg" or die $!;
    print {$f} "this is not an image\n" x 20;
}
my ($uid, $tok) = new_user($dbh, 'logsource');
my $img = add_image($dbh, $uid, "$rel/text.jpg");

my $from = -s error_log_path() // 0;
is(preview($img, token => $tok)->code, 415, 'a text file: 415');
my $text = error_log_text($from);
like($text,
     qr{\[preview:debug\] \[pid \d+:tid \d+\] (?:\S+/)?pv_image\.c\($line\): PV0401: libvips },
     "PV0401 names pv_image.c($line), where it is logged")
    or diag $text;
unlike($text, qr{mod_preview\.c\(\d+\): PV\d{4}},
       "no line names the glue's log callback (mod_preview.c)");
