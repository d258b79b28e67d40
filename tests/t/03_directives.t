# Every directive is checked at start-up: a bad value makes `httpd -t` fail
# with a message naming the directive and the value; good values pass.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use PreviewTest qw(configtest scratch_dir write_file test_key_line);

my $root = scratch_dir();
mkdir "$root/images" or die "$root/images: $!";
mkdir "$root/cache"  or die "$root/cache: $!";
write_file('keys', "# ring\n" . test_key_line('new') . "\n"
                 . test_key_line('old') . "\n");
write_file('keys2', test_key_line('vhost') . "\n");
write_file('badkeys', test_key_line('k1') . "\nk2 tooshort\n");
write_file('nokeys', "# nothing but a comment\n");
write_file('legacy_secret', "legacy-Secret-Value-42\n");
write_file('empty_secret', "\n");
write_file('plainfile', "not a directory\n");

my $SECRET = 'legacy-Secret-Value-42';
my $DBPASS = 'Hunter2-db-pass';

# [ config body, directive that must be named, value that must be named ]
my @bad = (
    ['PreviewKeyFile missing-keys',     'PreviewKeyFile', 'missing-keys'],
    ['PreviewKeyFile badkeys',          'PreviewKeyFile', 'badkeys:2'],
    ['PreviewKeyFile nokeys',           'PreviewKeyFile', 'nokeys'],
    ['PreviewDBParams "colour=blue host=localhost pass=' . $DBPASS . '"',
                                        'PreviewDBParams', 'colour'],
    ['PreviewDBPoolMax 0',              'PreviewDBPoolMax', "'0'"],
    ['PreviewDBPoolMax -1',             'PreviewDBPoolMax', "'-1'"],
    ['PreviewDBPoolMax 4x',             'PreviewDBPoolMax', "'4x'"],
    ['PreviewDBPoolMax 10001',          'PreviewDBPoolMax', "'10001'"],
    ['PreviewStorageRoot no-such-dir',  'PreviewStorageRoot', 'no-such-dir'],
    ['PreviewStorageRoot plainfile',    'PreviewStorageRoot', 'plainfile'],
    ['PreviewCacheDir no-such-cache',   'PreviewCacheDir', 'no-such-cache'],
    ['PreviewCacheMaxSize 512Q',        'PreviewCacheMaxSize', "'512Q'"],
    ['PreviewCacheMaxSize 1K',          'PreviewCacheMaxSize', "'1K'"],
    ['PreviewCacheMaxSize 2GB',         'PreviewCacheMaxSize', "'2GB'"],
    ['PreviewCacheMaxSize 99999999999999999999',
                            'PreviewCacheMaxSize', "'99999999999999999999'"],
    ['PreviewCacheMaxSize 9999999T',    'PreviewCacheMaxSize', "'9999999T'"],
    ['PreviewTokenTTL 0',               'PreviewTokenTTL', "'0'"],
    ['PreviewTokenTTL 1.5',             'PreviewTokenTTL', "'1.5'"],
    ['PreviewTokenTTL " 60"',           'PreviewTokenTTL', "' 60'"],
    ['PreviewTokenTTL 1K',              'PreviewTokenTTL', "'1K'"],
    ['PreviewClockSkew 3601',           'PreviewClockSkew', "'3601'"],
    ['PreviewClockSkew 30s',            'PreviewClockSkew', "'30s'"],
    ['PreviewLegacyTokens jwt',         'PreviewLegacyTokens', "'jwt'"],
    ['PreviewLegacySecretFile missing-secret',
                                 'PreviewLegacySecretFile', 'missing-secret'],
    ['PreviewLegacySecretFile empty_secret',
                                 'PreviewLegacySecretFile', 'empty_secret'],
    ['PreviewLegacySecretFile images',
                                 'PreviewLegacySecretFile', 'images'],
    ['PreviewLegacyUidField "user id"', 'PreviewLegacyUidField', "'user id'"],
    ['PreviewLegacyUidField ""',        'PreviewLegacyUidField', 'one argument'],
    ['PreviewLoginQuery "SELECT id, password_hash, token_version FROM users"',
                                        'PreviewLoginQuery', 'has 0'],
    ['PreviewLoginQuery "SELECT id, password_hash, token_version FROM users '
         . q{WHERE username = '?'"},    'PreviewLoginQuery', 'has 0'],
    ['PreviewImageQuery "SELECT u.token_version, i.path FROM users u '
         . 'LEFT JOIN images i ON i.id = 7 AND i.owner_id = u.id '
         . 'WHERE u.id = ?"',           'PreviewImageQuery', 'has 1'],
    ['PreviewLogoutQuery "UPDATE users SET token_version = ? WHERE id = ?"',
                                        'PreviewLogoutQuery', 'has 2'],
    [q{PreviewLogoutQuery "UPDATE users SET note = 'x WHERE id = ?"},
                                        'PreviewLogoutQuery', 'unterminated'],
    ['PreviewLoginLimit 0 300',         'PreviewLoginLimit', "'0'"],
    ['PreviewLoginLimit 10 0',          'PreviewLoginLimit', "'0'"],
    ['PreviewLoginLimit 10 5m',         'PreviewLoginLimit', "'5m'"],
    ['PreviewLoginLimit sometimes',     'PreviewLoginLimit', "'sometimes'"],
    ['PreviewLoginLimitCacheSize 32K',  'PreviewLoginLimitCacheSize', "'32K'"],
    ['PreviewLoginLimitCacheSize 2G',   'PreviewLoginLimitCacheSize', "'2G'"],
    ['PreviewLoginLimitCacheSize 8MB',  'PreviewLoginLimitCacheSize', "'8MB'"],
    ["<VirtualHost 127.0.0.1:8>\nServerName v1\n"
         . "PreviewLoginLimitCacheSize 16M\n</VirtualHost>",
                                        'PreviewLoginLimitCacheSize',
                                        'VirtualHost'],
    ['PreviewLoginFromRemoteUser maybe', 'PreviewLoginFromRemoteUser', 'On'],
    ['PreviewMetrics maybe',            'PreviewMetrics', 'On'],
    ['PreviewCookieName "a;b"',         'PreviewCookieName', "'a;b'"],
    ['PreviewCookieName "a b"',         'PreviewCookieName', "'a b'"],
    ['PreviewCookieName pv=1',          'PreviewCookieName', "'pv=1'"],
    ['PreviewMaxSourcePixels 0',        'PreviewMaxSourcePixels', "'0'"],
    ['PreviewMaxSourcePixels 11G',      'PreviewMaxSourcePixels', "'11G'"],
    ['PreviewMaxSourcePixels 100MP',    'PreviewMaxSourcePixels', "'100MP'"],
    ['PreviewMaxSourceBytes 0',         'PreviewMaxSourceBytes', "'0'"],
    ['PreviewMaxSourceBytes 65G',       'PreviewMaxSourceBytes', "'65G'"],
    ['PreviewMaxSourceBytes -64M',      'PreviewMaxSourceBytes', "'-64M'"],
    ['PreviewMaxRenders 0',             'PreviewMaxRenders', "'0'"],
    ['PreviewMaxRenders 1025',          'PreviewMaxRenders', "'1025'"],
    ['PreviewRenderTimeout 0',          'PreviewRenderTimeout', "'0'"],
    ['PreviewRenderTimeout ten',        'PreviewRenderTimeout', "'ten'"],
    ['PreviewMaxRenderMemory 8M',       'PreviewMaxRenderMemory', "'8M'"],
    ['PreviewMaxRenderMemory 2T',       'PreviewMaxRenderMemory', "'2T'"],
    ['PreviewMaxRenderMemory 256MB',    'PreviewMaxRenderMemory', "'256MB'"],
    ['PreviewMaxRenderMemory 256M 128M', 'PreviewMaxRenderMemory', "'128M'"],
    ['PreviewMaxRenderMemory 256M 1x',  'PreviewMaxRenderMemory', "'1x'"],
    ['PreviewSizes 64 32',              'PreviewSizes', "'32'"],
    ['PreviewSizes 64 64',              'PreviewSizes', "'64'"],
    ['PreviewSizes 0 64',               'PreviewSizes', "'0'"],
    ['PreviewSizes 64 9000',            'PreviewSizes', "'9000'"],
    ['PreviewSizes 64 big',             'PreviewSizes', "'big'"],
    ['PreviewDefaultSize 0',            'PreviewDefaultSize', "'0'"],
    ['PreviewDefaultSize 8193',         'PreviewDefaultSize', "'8193'"],
    ["PreviewSizes 64 128\nPreviewDefaultSize 256",
                                        'PreviewDefaultSize', "'256'"],
    ["PreviewDefaultSize 256\nPreviewSizes 64 128",
                                        'PreviewSizes', 'PreviewDefaultSize 256'],
    ["PreviewSizes 64 128\n<Location /p>\nPreviewDefaultSize 256\n</Location>",
                                        'PreviewDefaultSize', '256'],
    ["PreviewDefaultSize 256\n<Location /p>\nPreviewSizes 64 128\n"
         . "</Location>",               'PreviewDefaultSize', "section '/p'"],
    ['PreviewFormats gif',              'PreviewFormats', "'gif'"],
    ['PreviewFormats jpeg webp jpeg',   'PreviewFormats', "'jpeg'"],
    ['PreviewQuality 0',                'PreviewQuality', "'0'"],
    ['PreviewQuality 101',              'PreviewQuality', "'101'"],
    ['PreviewQuality 80%',              'PreviewQuality', "'80%'"],
    ['PreviewQualities 0 80',           'PreviewQualities', "'0'"],
    ['PreviewQualities 80 101',         'PreviewQualities', "'101'"],
    ['PreviewQualities 80 60',          'PreviewQualities', "'60'"],
    ['PreviewQualities 60 60',          'PreviewQualities', "'60'"],
    ['PreviewQualities 60 high',        'PreviewQualities', "'high'"],
    ['PreviewQualities ' . join(' ', 1 .. 17),
                                        'PreviewQualities', '1 to 16'],
    ["PreviewQualities 60 90\nPreviewQuality 80",
                                        'PreviewQuality', "'80'"],
    ["PreviewQuality 80\nPreviewQualities 60 90",
                                        'PreviewQualities', 'PreviewQuality 80'],
    ["PreviewQuality 75\n<Location /p>\nPreviewQualities 60 90\n</Location>",
                            'PreviewQualities (60 90)', "PreviewQuality 75"],
    ["PreviewQualities 60 90\n<Location /p>\nPreviewQuality 75\n</Location>",
                            'PreviewQualities (60 90)', "section '/p'"],
    ["PreviewKeyFile keys\nPreviewLegacyTokens itsdangerous",
                           'PreviewLegacyTokens', 'PreviewLegacySecretFile'],
    ["PreviewLegacySecretFile legacy_secret\nPreviewLegacyTokens itsdangerous",
                           'PreviewLegacyTokens', 'PreviewKeyFile'],
    # a vhost is checked with what it inherits
    ["PreviewKeyFile keys\n<VirtualHost 127.0.0.1:8>\nServerName v1\n"
         . "PreviewLegacyTokens itsdangerous\n</VirtualHost>",
                           'PreviewLegacyTokens', 'virtual host v1'],
    ["<VirtualHost 127.0.0.1:8>\nServerName v1\nPreviewDBPoolMax 0\n"
         . "</VirtualHost>",           'PreviewDBPoolMax', "'0'"],
    ["<Directory />\nPreviewKeyFile keys\n</Directory>",
                                        'PreviewKeyFile', 'not allowed'],
);

my $all_good = <<"CONF";
PreviewKeyFile keys
PreviewDBParams "host=localhost port=3306 user=preview pass=$DBPASS dbname=drive"
PreviewDBPoolMax 8
PreviewStorageRoot images
PreviewCacheDir cache
PreviewCacheMaxSize 512M
PreviewTokenTTL 3600
PreviewClockSkew 0
PreviewLegacyTokens itsdangerous
PreviewLegacySecretFile legacy_secret
PreviewLegacySalt "flask-salt"
PreviewLegacyUidField user_id
PreviewLoginQuery "SELECT id, pw, ver FROM accounts WHERE login = ? AND note <> 'a?b' -- why?"
PreviewImageQuery "SELECT u.v, i.p FROM users u LEFT JOIN images i ON i.id = ? AND i.owner_id = u.id WHERE u.id = ? /* two? */"
PreviewLogoutQuery "UPDATE users SET token_version = token_version + 1 WHERE id = ?"
PreviewLoginLimit 5 60
PreviewLoginLimitCacheSize 16M
PreviewLoginFromRemoteUser On
PreviewLoginOrigins https://app.example.net http://[::1]:8080
PreviewCookieName __Host-preview
PreviewMaxSourcePixels 50M
PreviewMaxSourceBytes 2G
PreviewMaxRenders 4
PreviewRenderTimeout 30
PreviewMaxRenderMemory 512M 1G
PreviewSizes 32 64 128 256 512 1024 2048 4096 8192
PreviewDefaultSize 128
PreviewFormats jpeg webp avif png
PreviewQuality 90
PreviewQualities 1 50 90 100
<Location /preview>
    PreviewSizes 100 200
    PreviewDefaultSize 200
    PreviewFormats webp
    PreviewQuality 1
</Location>
<Directory "$root/images">
    PreviewQuality 100
</Directory>
CONF

my @good = (
    ['', 'module loaded, nothing set'],
    [$all_good, 'every directive set'],
    ["PreviewLoginLimit Off\nPreviewLegacyTokens Off\n"
         . "PreviewLoginFromRemoteUser off\nPreviewCacheMaxSize 1073741824\n"
         . "PreviewMaxSourcePixels 100000000\nPreviewMaxSourceBytes 64M\n"
         . "PreviewMaxRenderMemory 268435456\n"
         . "PreviewFormats PNG JPG\nPreviewLoginLimitCacheSize 65536",
     'plain numbers, Off, case'],
    ["PreviewKeyFile keys\nPreviewTokenTTL 600\n"
         . "<VirtualHost 127.0.0.1:8>\nServerName inherits\n</VirtualHost>\n"
         . "<VirtualHost 127.0.0.1:8>\nServerName overrides\n"
         . "PreviewKeyFile keys2\nPreviewTokenTTL 60\n"
         . "PreviewSizes 64\nPreviewDefaultSize 64\n</VirtualHost>",
     'a vhost inherits or overrides'],
    ["PreviewSizes 64 128\n<Location /small>\nPreviewSizes 32\n</Location>",
     'sizes below the default default size (clamped)'],
    ["PreviewQuality 75", 'PreviewQuality alone: the list is 75'],
    ["PreviewQualities 40 60\n<Location /p>\nPreviewQualities 95\n"
         . "PreviewQuality 95\n</Location>",
     'PreviewQualities without PreviewQuality (80 snaps), a section its own'],
    ["PreviewSizes 64 128\nPreviewDefaultSize 64\n"
         . "<Location /big>\nPreviewSizes 512 1024\nPreviewDefaultSize 1024\n"
         . "</Location>", 'a section sets its own sizes and default'],
);

plan tests => 3 * @bad + @good + 2;

for my $case (@bad) {
    my ($body, $directive, $value) = @$case;
    my ($rc, $out) = configtest("$body\n");
    (my $label = $body) =~ s/\n/ | /g;
    isnt($rc, 0, "refused: $label");
    like($out, qr/\Q$directive\E/, "names $directive: $label")
        or diag($out);
    like($out, qr/\Q$value\E/, "names '$value': $label")
        or diag($out);
}

for my $case (@good) {
    my ($body, $name) = @$case;
    my ($rc, $out) = configtest("$body\n");
    is($rc, 0, "accepted: $name") or diag($out);
}

# Secrets never reach the output, even when a directive is refused.
{
    my ($rc, $out) = configtest(
        "PreviewDBParams \"user=u pass=$DBPASS bogus=1\"\n");
    unlike($out, qr/\Q$DBPASS\E/, 'a refused PreviewDBParams hides pass');
    ($rc, $out) = configtest(
        "PreviewLegacySecretFile legacy_secret\nPreviewLegacyTokens on\n");
    unlike($out, qr/\Q$SECRET\E/, 'the legacy secret is never echoed');
}
