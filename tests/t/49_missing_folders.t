# configtest names every missing folder in one run (PreviewStorageRoot,
# PreviewCacheDir, in the main server and in virtual hosts), each with its
# config line, instead of stopping at the first; a file where a folder is
# wanted still stops at once; existing folders pass.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewTest qw(configtest scratch_dir write_file);

my $root = scratch_dir();
mkdir "$root/files" or die "$root/files: $!";
mkdir "$root/cache" or die "$root/cache: $!";
write_file('plainfile', "not a directory\n");

plan tests => 12;

# Line numbers: configtest's httpd.conf holds 9 lines before the body.
my ($rc, $out) = configtest(<<'BODY');
PreviewStorageRoot no-files
PreviewCacheDir no-cache
<VirtualHost 127.0.0.1:8>
ServerName v1
PreviewStorageRoot v1-files
PreviewCacheDir cache
</VirtualHost>
BODY
isnt($rc, 0, 'three missing folders: configtest fails');
like($out, qr/PV1750: PreviewStorageRoot: '\Q$root\E\/no-files': no such directory \(line 10 of \S+httpd\.conf\)/,
     'the storage root is named, with its line');
like($out, qr/PV1750: PreviewCacheDir: '\Q$root\E\/no-cache': no such directory \(line 11 of /,
     'so is the cache folder, in the same run');
like($out, qr/PV1750: PreviewStorageRoot: '\Q$root\E\/v1-files': no such directory \(line 14 of /,
     "and the virtual host's storage root");
like($out, qr/PV1751: 3 folders named above are missing/, 'one line counts them');
unlike($out, qr/Syntax error/, 'no syntax error stopped the reading at the first');
unlike($out, qr/\Q$root\E\/cache'/, 'the existing cache folder is not named');

($rc, $out) = configtest("PreviewCacheDir no-cache\n");
isnt($rc, 0, 'one missing folder: configtest fails');
like($out, qr/PV1751: 1 folder named above is missing: create it/, 'counted as one');

($rc, $out) = configtest("PreviewStorageRoot plainfile\nPreviewCacheDir no-cache\n");
isnt($rc, 0, 'a file where a folder is wanted: configtest fails');
like($out, qr/Syntax error on line 10 .*PreviewStorageRoot: '\Q$root\E\/plainfile' is not a directory/s,
     'at once, as a syntax error on its line');

($rc, $out) = configtest("PreviewStorageRoot files\nPreviewCacheDir cache\n");
is($rc, 0, 'existing folders: configtest passes') or diag($out);
