# PreviewKeyFile is checked when the configuration is checked: `httpd -t`
# (apachectl configtest) refuses a missing or bad key file and names the
# file and the line; a good one gives "Syntax OK". Never prints a secret.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use MIME::Base64 qw(encode_base64url);
use PreviewTest qw(configtest scratch_dir write_file);

plan tests => 20;

my $dir = scratch_dir();

sub secret { encode_base64url(join '', map { chr int rand 256 } 1 .. $_[0]) }

# "names the file and line N": "<file>:N:" or "... <file> ... line N".
sub names_line {
    my ($text, $path, $line) = @_;
    return $text =~ /\Q$path\E(?::$line\b|.*\bline $line\b)/;
}

my $missing = catfile($dir, 'no-such-keys');
my ($rc, $out) = configtest(qq{PreviewKeyFile "$missing"});
isnt($rc, 0, 'missing key file: configtest fails');
like($out, qr/\Q$missing\E/, 'missing key file: message names the file')
    or diag $out;

my $good1 = secret(32);
my $good2 = secret(48);
my $bad3 = write_file('bad-line3', "# keys\nk1 $good1\nk2 not*base64url!\n");
($rc, $out) = configtest(qq{PreviewKeyFile "$bad3"});
isnt($rc, 0, 'bad line 3: configtest fails');
ok(names_line($out, $bad3, 3), 'bad line 3: message names file and line 3')
    or diag $out;
unlike($out, qr/\Q$good1\E/, 'bad line 3: no secret in the output');

my $short = secret(16);
my $shortf = write_file('short', "k1 $good1\nk2 $short\n");
($rc, $out) = configtest(qq{PreviewKeyFile "$shortf"});
isnt($rc, 0, '16-byte secret: configtest fails');
ok(names_line($out, $shortf, 2), '16-byte secret: names file and line 2')
    or diag $out;
unlike($out, qr/\Q$short\E/, '16-byte secret: the secret is not printed');
unlike($out, qr/\Q$good1\E/, '16-byte secret: other secrets not printed');

my $nosecret = write_file('nosecret', "\n# only a kid follows\nk1\n");
($rc, $out) = configtest(qq{PreviewKeyFile "$nosecret"});
isnt($rc, 0, 'kid without secret: configtest fails');
ok(names_line($out, $nosecret, 3), 'kid without secret: names line 3')
    or diag $out;

my $empty = write_file('empty', "# no keys at all\n\n");
($rc, $out) = configtest(qq{PreviewKeyFile "$empty"});
isnt($rc, 0, 'key file without a key: configtest fails');
like($out, qr/\Q$empty\E/, 'key file without a key: names the file')
    or diag $out;

my $good = write_file('good',
    "# rotation: first line signs\nk2 $good2\n\n  k1\t$good1  \n");
($rc, $out) = configtest(qq{PreviewKeyFile "$good"});
is($rc, 0, 'valid key file: configtest exits 0') or diag $out;
like($out, qr/^Syntax OK$/m, 'valid key file: Syntax OK');
unlike($out, qr/\Q$good1\E|\Q$good2\E/, 'valid key file: no secret printed');

# Each virtual host may have its own key file; a bad one there is refused
# as well, and the message still names it.
($rc, $out) = configtest(<<"VH");
PreviewKeyFile "$good"
<VirtualHost 127.0.0.1:1>
    ServerName other.example
    PreviewKeyFile "$bad3"
</VirtualHost>
VH
isnt($rc, 0, 'bad key file in a virtual host: configtest fails');
ok(names_line($out, $bad3, 3), 'bad vhost key file: names file and line 3')
    or diag $out;

($rc, $out) = configtest(<<"VH");
PreviewKeyFile "$good"
<VirtualHost 127.0.0.1:1>
    ServerName other.example
    PreviewKeyFile "$good"
</VirtualHost>
VH
is($rc, 0, 'good key files in server and virtual host: exits 0')
    or diag $out;
like($out, qr/^Syntax OK$/m, 'good key files in server and vhost: Syntax OK');
