/* preview-token: make keys, mint and verify tokens with mod_preview's own
 * core, so what the CLI accepts is exactly what the server accepts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "pv_keyring.h"
#include "pv_token.h"

#define PROG       "preview-token"
#define EXIT_USAGE 2

static const char usage_main[] =
    "usage: " PROG " <command> [options]\n"
    "\n"
    "commands:\n"
    "  genkey   print a fresh '<kid> <secret>' line for PreviewKeyFile\n"
    "  mint     make a token signed by the first key of a key file\n"
    "  verify   check a token and print its claims as JSON\n"
    "\n"
    "'" PROG " <command> --help' describes each command.\n"
    "exit status: 0 success, 1 failure (token refused, unreadable file),\n"
    "2 usage error.\n";

static const char usage_genkey[] =
    "usage: " PROG " genkey\n"
    "\n"
    "Prints one line '<kid> <secret>': kid is the UTC date and 6 random hex\n"
    "digits, secret 32 random bytes in base64url. Put it first in the key\n"
    "file to make it the signing key (keep the old line until its tokens\n"
    "expire).\n";

static const char usage_mint[] =
    "usage: " PROG " mint --key-file FILE --sub UID [--img ID]\n"
    "                     [--ttl SECONDS] [--ver N] [--alg HS256|HS384|HS512]\n"
    "\n"
    "  --key-file FILE  key ring (PreviewKeyFile); its first key signs\n"
    "  --sub UID        user id, decimal, 1 to 18446744073709551615\n"
    "  --img ID         a URL token for this one image (claim img), decimal,\n"
    "                   1 to 18446744073709551615\n"
    "  --ttl SECONDS    lifetime, default 86400 (3600 with --img)\n"
    "  --ver N          the user's token_version, default 0\n"
    "  --alg ALG        HS256 (default), HS384 or HS512\n"
    "\n"
    "Prints the token on one line.\n";

static const char usage_verify[] =
    "usage: " PROG " verify --key-file FILE [--leeway SECONDS]\n"
    "                       [--algs LIST] [--now EPOCH]\n"
    "                       [--legacy-secret-file FILE [--legacy-salt SALT]\n"
    "                        [--legacy-uid-field NAME]] TOKEN|-\n"
    "\n"
    "  --key-file FILE            key ring (PreviewKeyFile)\n"
    "  --leeway SECONDS           clock skew allowed, default 30\n"
    "  --algs LIST                allowed algorithms, comma separated,\n"
    "                             default HS256,HS384,HS512\n"
    "  --now EPOCH                verify at this time instead of the clock\n"
    "  --legacy-secret-file FILE  also accept itsdangerous tokens signed\n"
    "                             with the SECRET_KEY in FILE\n"
    "  --legacy-salt SALT         the itsdangerous salt, if the app set one\n"
    "  --legacy-uid-field NAME    payload field of the user id, default uid\n"
    "  TOKEN                      the token, or '-' to read it from stdin\n"
    "\n"
    "Prints the claims as JSON and exits 0, or prints\n"
    "'" PROG ": token refused: <reason>' and exits 1.\n";

/* Seconds from the precise clock, as httpd's request time is: time(2) reads
 * the coarse clock, which can still show the previous second a few
 * milliseconds after another program saw the new one. */
static apr_int64_t clock_now(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

/* A decimal number in [min, max], nothing else. */
static int parse_num(apr_int64_t *out, const char *s, apr_int64_t min,
                     apr_int64_t max)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_uid(apr_uint64_t *out, const char *s)
{
    apr_uint64_t v = 0;
    size_t i, n = strlen(s);

    if (n == 0 || n > 20 || s[0] == '0') {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (APR_UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* "--name value" or "--name=value"; returns the value and advances *i, or
 * NULL when argv[*i] is not that option. *missing is set when the option
 * is there without a value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
                             int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, n) != 0) {
        return NULL;
    }
    if (a[n] == '=') {
        return a + n + 1;
    }
    if (a[n] != '\0') {
        return NULL;
    }
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    ++*i;
    return argv[*i];
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int load_ring(pv_keyring_t **ring, const char *path, apr_pool_t *p)
{
    const char *err = NULL;

    if (pv_keyring_load(ring, &err, path, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": %s\n", err ? err : path);
        return 1;
    }
    return 0;
}

static int cmd_genkey(int argc, char **argv, apr_pool_t *p)
{
    const char *line;

    if (argc > 1 && is_help(argv[1])) {
        fputs(usage_genkey, stdout);
        return 0;
    }
    if (argc > 1) {
        return usage_error(usage_genkey, "genkey: unexpected argument '%s'",
                           argv[1]);
    }
    if (pv_keyring_genkey(&line, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": no random bytes from OpenSSL\n");
        return 1;
    }
    printf("%s\n", line);
    return 0;
}

static int cmd_mint(int argc, char **argv, apr_pool_t *p)
{
    const char *key_file = NULL, *sub_s = NULL, *img_s = NULL, *v;
    apr_int64_t ttl = 0, ver = 0;
    pv_token_mint_t m;
    pv_alg_e alg = PV_ALG_HS256;
    pv_keyring_t *ring;
    const char *token;
    int i, missing = 0;

    for (i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_mint, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--key-file", &missing))) {
            key_file = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--sub", &missing))) {
            sub_s = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--img", &missing))) {
            img_s = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--ttl", &missing))) {
            /* at most ten years: a preview token is not a long-term secret */
            if (parse_num(&ttl, v, 1, 315360000)) {
                return usage_error(usage_mint,
                                   "mint: --ttl must be 1 to 315360000 "
                                   "seconds, not '%s'",
                                   v);
            }
        }
        else if ((v = opt_value(argc, argv, &i, "--ver", &missing))) {
            if (parse_num(&ver, v, 0, APR_UINT32_MAX)) {
                return usage_error(usage_mint,
                                   "mint: --ver must be 0 to 4294967295, "
                                   "not '%s'",
                                   v);
            }
        }
        else if ((v = opt_value(argc, argv, &i, "--alg", &missing))) {
            alg = pv_token_alg_parse(v);
            if (!alg) {
                return usage_error(usage_mint,
                                   "mint: --alg must be HS256, HS384 or "
                                   "HS512, not '%s'",
                                   v);
            }
        }
        else if (missing) {
            return usage_error(usage_mint, "mint: %s needs a value", argv[i]);
        }
        else {
            return usage_error(usage_mint, "mint: unknown argument '%s'",
                               argv[i]);
        }
    }
    if (!key_file || !sub_s) {
        return usage_error(usage_mint, "mint: %s is required",
                           !key_file ? "--key-file" : "--sub");
    }
    memset(&m, 0, sizeof(m));
    if (parse_uid(&m.sub, sub_s)) {
        return usage_error(usage_mint,
                           "mint: --sub must be a decimal user id "
                           "(1 to 20 digits, no sign, no leading zero), "
                           "not '%s'",
                           sub_s);
    }
    /* the rules of the img claim, which are those of sub */
    if (img_s && parse_uid(&m.img, img_s)) {
        return usage_error(usage_mint,
                           "mint: --img must be a decimal image id "
                           "(1 to 20 digits, no sign, no leading zero), "
                           "not '%s'",
                           img_s);
    }
    if (load_ring(&ring, key_file, p)) {
        return 1;
    }
    /* a URL token lives as long as PreviewURLTokenTTL's default */
    if (!ttl) {
        ttl = img_s ? 3600 : 86400;
    }
    m.ver = (apr_uint32_t)ver;
    m.iat = clock_now();
    m.exp = m.iat + ttl;
    if (pv_token_mint_claims(&token, ring, alg, &m, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": cannot sign with the first key of %s\n",
                key_file);
        return 1;
    }
    printf("%s\n", token);
    return 0;
}

static int parse_algs(int *mask, const char *list)
{
    char *copy = strdup(list), *tok, *save = NULL;
    int m = 0, rv = 0;

    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        pv_alg_e a = pv_token_alg_parse(tok);
        if (!a) {
            rv = -1;
            break;
        }
        m |= a;
    }
    free(copy);
    if (rv == 0 && m == 0) {
        rv = -1;
    }
    *mask = m;
    return rv;
}

/* The token from stdin: one line, surrounding whitespace dropped. */
static const char *read_stdin_token(apr_size_t *plen, apr_pool_t *p)
{
    char *buf = apr_palloc(p, PV_TOKEN_MAX_LEN + 3);
    size_t n = fread(buf, 1, PV_TOKEN_MAX_LEN + 2, stdin);
    char *s = buf;

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        --n;
    }
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        ++s;
        --n;
    }
    *plen = n;
    return s;
}

static int print_claims(const pv_token_claims_t *c)
{
    char sub[24], img[24];
    json_t *j;
    char *text;

    snprintf(sub, sizeof(sub), "%" APR_UINT64_T_FMT, c->sub);
    if (c->legacy) {
        j = json_pack("{s:s, s:I, s:I, s:s, s:b}", "sub", sub, "iat",
                      (json_int_t)c->iat, "exp", (json_int_t)c->exp, "alg",
                      pv_token_alg_str(c->alg), "legacy", 1);
    }
    else {
        j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "sub", sub, "aud",
                      PV_TOKEN_AUDIENCE, "iat", (json_int_t)c->iat, "exp",
                      (json_int_t)c->exp, "ver", (json_int_t)c->ver, "kid",
                      c->kid, "alg", pv_token_alg_str(c->alg));
        if (j && c->img) {
            snprintf(img, sizeof(img), "%" APR_UINT64_T_FMT, c->img);
            json_object_set_new(j, "img", json_string(img));
        }
    }
    text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static int cmd_verify(int argc, char **argv, apr_pool_t *p)
{
    const char *key_file = NULL, *legacy_file = NULL, *token = NULL, *v;
    const char *err = NULL;
    apr_int64_t leeway = 30, now = clock_now();
    pv_token_config_t cfg;
    pv_token_verifier_t *verifier;
    pv_token_claims_t claims;
    pv_token_result_e r;
    pv_keyring_t *ring;
    apr_size_t len;
    int i, missing = 0;

    memset(&cfg, 0, sizeof(cfg));
    cfg.algs = PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512;
    for (i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_verify, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--key-file", &missing))) {
            key_file = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--leeway", &missing))) {
            if (parse_num(&leeway, v, 0, 86400)) {
                return usage_error(usage_verify,
                                   "verify: --leeway must be 0 to 86400 "
                                   "seconds, not '%s'",
                                   v);
            }
        }
        else if ((v = opt_value(argc, argv, &i, "--now", &missing))) {
            if (parse_num(&now, v, 0, APR_INT64_C(253402300799))) {
                return usage_error(usage_verify,
                                   "verify: --now must be seconds since "
                                   "the epoch, not '%s'",
                                   v);
            }
        }
        else if ((v = opt_value(argc, argv, &i, "--algs", &missing))) {
            if (parse_algs(&cfg.algs, v)) {
                return usage_error(usage_verify,
                                   "verify: --algs is a comma separated "
                                   "list of HS256, HS384, HS512, not '%s'",
                                   v);
            }
        }
        else if ((v = opt_value(argc, argv, &i, "--legacy-secret-file",
                                &missing))) {
            legacy_file = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--legacy-salt", &missing))) {
            cfg.legacy_salt = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--legacy-uid-field",
                                &missing))) {
            if (!*v) {
                return usage_error(usage_verify,
                                   "verify: --legacy-uid-field is empty%s", "");
            }
            cfg.legacy_uid_field = v;
        }
        else if (missing) {
            return usage_error(usage_verify, "verify: %s needs a value",
                               argv[i]);
        }
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error(usage_verify, "verify: unknown option '%s'",
                               argv[i]);
        }
        else if (token) {
            return usage_error(usage_verify,
                               "verify: one token only (extra argument%s)", "");
        }
        else {
            token = argv[i];
        }
    }
    if (!key_file) {
        return usage_error(usage_verify, "verify: %s is required",
                           "--key-file");
    }
    if (!token) {
        return usage_error(usage_verify,
                           "verify: the TOKEN argument (or '-') is "
                           "required%s",
                           "");
    }
    if ((cfg.legacy_salt || cfg.legacy_uid_field) && !legacy_file) {
        return usage_error(usage_verify,
                           "verify: --legacy-salt and --legacy-uid-field "
                           "need --legacy-secret-file%s",
                           "");
    }
    if (load_ring(&ring, key_file, p)) {
        return 1;
    }
    cfg.ring = ring;
    cfg.leeway = leeway;
    if (legacy_file) {
        if (pv_token_legacy_secret_load(&cfg.legacy_secret,
                                        &cfg.legacy_secret_len, &err,
                                        legacy_file, p) != APR_SUCCESS) {
            fprintf(stderr, PROG ": %s\n", err);
            return 1;
        }
        cfg.legacy = PV_LEGACY_ITSDANGEROUS;
    }
    if (pv_token_verifier_make(&verifier, &cfg, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": cannot prepare the keys for HMAC\n");
        return 1;
    }
    if (strcmp(token, "-") == 0) {
        token = read_stdin_token(&len, p);
    }
    else {
        len = strlen(token);
    }
    r = pv_token_verify(&claims, verifier, token, len, now);
    if (r != PV_TOKEN_OK) {
        fprintf(stderr, PROG ": token refused: %s\n", pv_token_result_str(r));
        return 1;
    }
    return print_claims(&claims);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    int rc;

    if (apr_app_initialize(&argc, (const char *const **)&argv, NULL) !=
            APR_SUCCESS ||
        apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fprintf(stderr, PROG ": cannot initialize APR\n");
        return 1;
    }
    if (argc < 2) {
        fputs(usage_main, stderr);
        rc = EXIT_USAGE;
    }
    else if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        rc = 0;
    }
    else if (strcmp(argv[1], "genkey") == 0) {
        rc = cmd_genkey(argc - 1, argv + 1, p);
    }
    else if (strcmp(argv[1], "mint") == 0) {
        rc = cmd_mint(argc - 1, argv + 1, p);
    }
    else if (strcmp(argv[1], "verify") == 0) {
        rc = cmd_verify(argc - 1, argv + 1, p);
    }
    else {
        rc = usage_error(usage_main, "unknown command '%s'", argv[1]);
    }
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write to stdout\n");
        rc = 1;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
