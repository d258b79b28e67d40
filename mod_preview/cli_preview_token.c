/* preview-token: make keys, mint and verify tokens with mod_preview's own
 * core, so what the CLI accepts is exactly what the server accepts. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "pv_keyring.h"
#include "pv_num.h"
#include "pv_password.h"
#include "pv_secret_file.h"
#include "pv_token.h"

#define PROG       "preview-token"
#define EXIT_USAGE 2

static const char usage_main[] =
    "usage: " PROG " <command> [options]\n"
    "\n"
    "commands:\n"
    "  genkey   a fresh '<kid> <secret>' line for PreviewKeyFile\n"
    "  mint     make a token signed by the first key of a key file\n"
    "  verify   check a token and print its claims as JSON\n"
    "  hash     a bcrypt hash of a password for users.password_hash\n"
    "\n"
    "'" PROG " <command> --help' describes each command.\n"
    "exit status: 0 success, 1 failure (token refused, unreadable file),\n"
    "2 usage error.\n";

static const char usage_genkey[] =
    "usage: " PROG " genkey [--out FILE [--group GROUP] [--force]]\n"
    "\n"
    "Makes one line '<kid> <secret>': kid is the UTC date and 6 random hex\n"
    "digits, secret 32 random bytes in base64url. Put it first in the key\n"
    "file to make it the signing key (keep the old line until its tokens\n"
    "expire).\n"
    "\n"
    "  --out FILE     write the line to a new FILE, mode 0600 whatever the\n"
    "                 umask (never readable by others, not for an instant),\n"
    "                 instead of printing it; an existing FILE is refused\n"
    "  --group GROUP  FILE gets group GROUP (name or number) and mode 0640\n"
    "  --force        replace an existing FILE (written beside it, then\n"
    "                 renamed over it)\n";

static const char usage_hash[] =
    "usage: " PROG " hash [--cost N]\n"
    "\n"
    "Reads a password, from the terminal without echo (asked twice) or, when\n"
    "stdin is not a terminal, its first line; prints its bcrypt hash ($2b$)\n"
    "for users.password_hash, checked as the module's login checks it.\n"
    "\n"
    "  --cost N   bcrypt cost, 4 to 14 (what login accepts), default 10\n"
    "\n"
    "The password: 1 to 72 bytes (bcrypt reads no more), no NUL.\n";

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

/* "preview-token: [cmd: ]<fmt with arg>", then the usage; EXIT_USAGE. */
static int usage_error(const char *usage, const char *cmd, const char *fmt,
                       const char *arg)
{
    fprintf(stderr, PROG ": ");
    if (cmd) {
        fprintf(stderr, "%s: ", cmd);
    }
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

/* A decimal number in [min, max], nothing else. */
static int parse_num(apr_int64_t *out, const char *s, apr_int64_t min,
                     apr_int64_t max)
{
    apr_uint64_t v;

    if (!s || pv_num_parse(&v, s, strlen(s), (apr_uint64_t)max, 0) ||
        v < (apr_uint64_t)min) {
        return -1;
    }
    *out = (apr_int64_t)v;
    return 0;
}

/* A user or image id as the token's sub and img claims spell it: 1 to 20
 * digits, no sign, no leading zero, 1..2^64-1 (the preview path's id,
 * without its leading zeros). */
static int parse_uid(apr_uint64_t *out, const char *s)
{
    return pv_num_parse(out, s, strlen(s), APR_UINT64_MAX, PV_NUM_CANONICAL)
               ? -1
               : 0;
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

/* GROUP as a name or a number; -1 when there is no such group. */
static int parse_group(gid_t *out, const char *name)
{
    struct group *g = getgrnam(name);
    apr_int64_t n;

    if (g) {
        *out = g->gr_gid;
        return 0;
    }
    if (parse_num(&n, name, 0, 0x7fffffff) == 0) {
        *out = (gid_t)n;
        return 0;
    }
    return -1;
}

static int cmd_genkey(int argc, char **argv, apr_pool_t *p)
{
    const char *line, *out = NULL, *group = NULL, *v, *err = NULL;
    gid_t gid = (gid_t)-1;
    int i, force = 0, missing = 0;
    apr_status_t rv;

    for (i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_genkey, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--out", &missing))) {
            out = v;
        }
        else if ((v = opt_value(argc, argv, &i, "--group", &missing))) {
            group = v;
        }
        else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        }
        else {
            return usage_error(usage_genkey, "genkey",
                               missing ? "%s needs a value"
                                       : "unexpected argument '%s'",
                               argv[i]);
        }
    }
    if ((group || force) && !out) {
        return usage_error(usage_genkey, "genkey", "%s needs --out FILE",
                           group ? "--group" : "--force");
    }
    if (group && parse_group(&gid, group) != 0) {
        return usage_error(usage_genkey, "genkey", "no group '%s'", group);
    }
    if (pv_keyring_genkey(&line, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": no random bytes from OpenSSL\n");
        return 1;
    }
    if (!out) {
        printf("%s\n", line);
        return 0;
    }
    line = apr_pstrcat(p, line, "\n", NULL);
    rv = pv_secret_file_write(&err, out, line, strlen(line), gid, force, p);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, PROG ": genkey: %s%s\n", err ? err : out,
                APR_STATUS_IS_EEXIST(rv) ? " (--force replaces it)" : "");
        return 1;
    }
    return 0;
}

/* One line of at most max bytes from fd into buf (NUL-terminated, without
 * its newline); -1 when longer or unreadable. */
static int read_line(char *buf, size_t max, FILE *in)
{
    size_t n;

    if (!fgets(buf, (int)max + 2, in)) {
        return -1;
    }
    n = strcspn(buf, "\n");
    if (buf[n] != '\n' && !feof(in)) {
        return -1; /* longer than max */
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    return (int)n;
}

/* Ask on the terminal, echo off (restored even when reading fails). */
static int read_tty(char *buf, size_t max, const char *prompt)
{
    struct termios old, quiet;
    int n;

    if (tcgetattr(STDIN_FILENO, &old) != 0) {
        return -1;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo off before the prompt: what is typed after it is never shown,
     * and never flushed away (TCSAFLUSH drops only what came before). */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
        return -1;
    }
    fputs(prompt, stderr);
    fflush(stderr);
    n = read_line(buf, max, stdin);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return n;
}

static int cmd_hash(int argc, char **argv, apr_pool_t *p)
{
    char pw[PV_PASSWORD_BCRYPT_MAX_LEN + 2], again[sizeof(pw)];
    apr_int64_t cost = PV_PASSWORD_BCRYPT_DEFAULT_COST;
    const char *v, *hash = NULL;
    int i, n, missing = 0, match = 0, rc = 1;
    apr_status_t rv;

    for (i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_hash, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--cost", &missing))) {
            if (parse_num(&cost, v, 4, PV_PASSWORD_BCRYPT_MAX_COST) != 0) {
                return usage_error(usage_hash, "hash",
                                   "--cost: '%s' is not 4 to 14", v);
            }
        }
        else {
            return usage_error(usage_hash, "hash",
                               missing ? "%s needs a value"
                                       : "unexpected argument '%s'",
                               argv[i]);
        }
    }
    if (isatty(STDIN_FILENO)) {
        n = read_tty(pw, PV_PASSWORD_BCRYPT_MAX_LEN, "Password: ");
        if (n > 0 &&
            (read_tty(again, PV_PASSWORD_BCRYPT_MAX_LEN, "Again: ") != n ||
             memcmp(pw, again, (size_t)n) != 0)) {
            fprintf(stderr, PROG ": hash: the passwords differ\n");
            goto cleanup;
        }
    }
    else {
        n = read_line(pw, PV_PASSWORD_BCRYPT_MAX_LEN, stdin);
    }
    if (n <= 0) {
        fprintf(stderr,
                PROG ": hash: no password read (1 to %d bytes, one line)\n",
                PV_PASSWORD_BCRYPT_MAX_LEN);
        goto cleanup;
    }
    rv = pv_password_hash_bcrypt(&hash, pw, (apr_size_t)n, (unsigned)cost, p);
    /* What login will do with it: the same check, or no hash is shown. */
    if (rv == APR_SUCCESS) {
        rv = pv_password_check(&match, NULL, pw, (apr_size_t)n, hash, p);
    }
    if (rv != APR_SUCCESS || !match) {
        fprintf(stderr, PROG ": hash: %s\n",
                rv != APR_SUCCESS ? pv_password_strerror(rv)
                                  : "the new hash does not verify");
        goto cleanup;
    }
    printf("%s\n", hash);
    rc = 0;

cleanup:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(again, sizeof(again));
    return rc;
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

/* The options of mint and verify, as given. */
typedef struct cli_args_t {
    const char *key_file;
    const char *sub, *img;   /* mint */
    apr_int64_t ttl, ver;    /* mint; ttl 0: the default */
    pv_alg_e alg;            /* mint */
    const char *legacy_file; /* verify */
    apr_int64_t leeway, now; /* verify */
    pv_token_config_t cfg;   /* verify: algs, legacy salt and uid field */
} cli_args_t;

/* An option, "--name value" or "--name=value": set() takes the value, and
 * returns NULL or the usage error (a format whose %s is the value). */
typedef struct cli_opt_t {
    const char *name;
    const char *(*set)(cli_args_t *a, const char *v);
} cli_opt_t;

static const char *set_key_file(cli_args_t *a, const char *v)
{
    a->key_file = v;
    return NULL;
}

static const char *set_sub(cli_args_t *a, const char *v)
{
    a->sub = v;
    return NULL;
}

static const char *set_img(cli_args_t *a, const char *v)
{
    a->img = v;
    return NULL;
}

static const char *set_ttl(cli_args_t *a, const char *v)
{
    /* at most ten years: a preview token is not a long-term secret */
    return parse_num(&a->ttl, v, 1, 315360000)
               ? "--ttl must be 1 to 315360000 seconds, not '%s'"
               : NULL;
}

static const char *set_ver(cli_args_t *a, const char *v)
{
    return parse_num(&a->ver, v, 0, APR_UINT32_MAX)
               ? "--ver must be 0 to 4294967295, not '%s'"
               : NULL;
}

static const char *set_alg(cli_args_t *a, const char *v)
{
    a->alg = pv_token_alg_parse(v);
    return a->alg ? NULL : "--alg must be HS256, HS384 or HS512, not '%s'";
}

static const char *set_leeway(cli_args_t *a, const char *v)
{
    return parse_num(&a->leeway, v, 0, 86400)
               ? "--leeway must be 0 to 86400 seconds, not '%s'"
               : NULL;
}

static const char *set_now(cli_args_t *a, const char *v)
{
    return parse_num(&a->now, v, 0, APR_INT64_C(253402300799))
               ? "--now must be seconds since the epoch, not '%s'"
               : NULL;
}

static const char *set_algs(cli_args_t *a, const char *v)
{
    return parse_algs(&a->cfg.algs, v) ? "--algs is a comma separated list "
                                         "of HS256, HS384, HS512, not '%s'"
                                       : NULL;
}

static const char *set_legacy_file(cli_args_t *a, const char *v)
{
    a->legacy_file = v;
    return NULL;
}

static const char *set_legacy_salt(cli_args_t *a, const char *v)
{
    a->cfg.legacy_salt = v;
    return NULL;
}

static const char *set_legacy_uid_field(cli_args_t *a, const char *v)
{
    /* the value is empty: the format's %s adds nothing */
    a->cfg.legacy_uid_field = v;
    return *v ? NULL : "--legacy-uid-field is empty%s";
}

/* Read a command's arguments (argv[0] is the command): --help or -h
 * anywhere prints the usage; every option of opts; with ptoken, one
 * argument that is no option ("-" is one: stdin). -1 to go on, else the
 * exit status. */
static int parse_args(cli_args_t *a, const cli_opt_t *opts, const char *cmd,
                      const char *usage, const char **ptoken, int argc,
                      char **argv)
{
    int i, k;

    for (i = 1; i < argc; i++) {
        const char *v = NULL, *err;
        int missing = 0;

        if (is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        for (k = 0; opts[k].name && !v && !missing; k++) {
            v = opt_value(argc, argv, &i, opts[k].name, &missing);
        }
        if (v) {
            if ((err = opts[k - 1].set(a, v))) {
                return usage_error(usage, cmd, err, v);
            }
        }
        else if (missing) {
            return usage_error(usage, cmd, "%s needs a value", argv[i]);
        }
        else if (!ptoken) {
            return usage_error(usage, cmd, "unknown argument '%s'", argv[i]);
        }
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error(usage, cmd, "unknown option '%s'", argv[i]);
        }
        else if (*ptoken) {
            return usage_error(usage, cmd, "one token only (extra argument%s)",
                               "");
        }
        else {
            *ptoken = argv[i];
        }
    }
    return -1;
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

static int cmd_mint(int argc, char **argv, apr_pool_t *p)
{
    static const cli_opt_t opts[] = {{"--key-file", set_key_file},
                                     {"--sub", set_sub},
                                     {"--img", set_img},
                                     {"--ttl", set_ttl},
                                     {"--ver", set_ver},
                                     {"--alg", set_alg},
                                     {NULL, NULL}};
    pv_token_mint_t m;
    pv_keyring_t *ring;
    const char *token;
    cli_args_t a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.alg = PV_ALG_HS256;
    if ((rc = parse_args(&a, opts, "mint", usage_mint, NULL, argc, argv)) >=
        0) {
        return rc;
    }
    if (!a.key_file || !a.sub) {
        return usage_error(usage_mint, "mint", "%s is required",
                           !a.key_file ? "--key-file" : "--sub");
    }
    memset(&m, 0, sizeof(m));
    if (parse_uid(&m.sub, a.sub)) {
        return usage_error(usage_mint, "mint",
                           "--sub must be a decimal user id "
                           "(1 to 20 digits, no sign, no leading zero), "
                           "not '%s'",
                           a.sub);
    }
    /* the rules of the img claim, which are those of sub */
    if (a.img && parse_uid(&m.img, a.img)) {
        return usage_error(usage_mint, "mint",
                           "--img must be a decimal image id "
                           "(1 to 20 digits, no sign, no leading zero), "
                           "not '%s'",
                           a.img);
    }
    if (load_ring(&ring, a.key_file, p)) {
        return 1;
    }
    /* a URL token lives as long as PreviewURLTokenTTL's default */
    if (!a.ttl) {
        a.ttl = a.img ? 3600 : 86400;
    }
    m.ver = (apr_uint32_t)a.ver;
    m.iat = clock_now();
    m.exp = m.iat + a.ttl;
    if (pv_token_mint_claims(&token, ring, a.alg, &m, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": cannot sign with the first key of %s\n",
                a.key_file);
        return 1;
    }
    printf("%s\n", token);
    return 0;
}

/* The verifier of verify's options: the key ring, and the legacy secret
 * when one is given. NULL after printing why. */
static pv_token_verifier_t *make_verifier(cli_args_t *a, apr_pool_t *p)
{
    pv_token_verifier_t *verifier;
    const char *err = NULL;
    pv_keyring_t *ring;

    if (load_ring(&ring, a->key_file, p)) {
        return NULL;
    }
    a->cfg.ring = ring;
    a->cfg.leeway = a->leeway;
    if (a->legacy_file) {
        if (pv_token_legacy_secret_load(&a->cfg.legacy_secret,
                                        &a->cfg.legacy_secret_len, &err,
                                        a->legacy_file, p) != APR_SUCCESS) {
            fprintf(stderr, PROG ": %s\n", err);
            return NULL;
        }
        a->cfg.legacy = PV_LEGACY_ITSDANGEROUS;
    }
    if (pv_token_verifier_make(&verifier, &a->cfg, p) != APR_SUCCESS) {
        fprintf(stderr, PROG ": cannot prepare the keys for HMAC\n");
        return NULL;
    }
    return verifier;
}

static int cmd_verify(int argc, char **argv, apr_pool_t *p)
{
    static const cli_opt_t opts[] = {
        {"--key-file", set_key_file},
        {"--leeway", set_leeway},
        {"--now", set_now},
        {"--algs", set_algs},
        {"--legacy-secret-file", set_legacy_file},
        {"--legacy-salt", set_legacy_salt},
        {"--legacy-uid-field", set_legacy_uid_field},
        {NULL, NULL}};
    pv_token_verifier_t *verifier;
    pv_token_claims_t claims;
    pv_token_result_e res;
    const char *token = NULL;
    apr_size_t len;
    cli_args_t a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.leeway = 30;
    a.now = clock_now();
    a.cfg.algs = PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512;
    if ((rc = parse_args(&a, opts, "verify", usage_verify, &token, argc,
                         argv)) >= 0) {
        return rc;
    }
    if (!a.key_file) {
        return usage_error(usage_verify, "verify", "%s is required",
                           "--key-file");
    }
    if (!token) {
        return usage_error(usage_verify, "verify",
                           "the TOKEN argument (or '-') is required%s", "");
    }
    if ((a.cfg.legacy_salt || a.cfg.legacy_uid_field) && !a.legacy_file) {
        return usage_error(usage_verify, "verify",
                           "--legacy-salt and --legacy-uid-field need "
                           "--legacy-secret-file%s",
                           "");
    }
    if (!(verifier = make_verifier(&a, p))) {
        return 1;
    }
    if (strcmp(token, "-") == 0) {
        token = read_stdin_token(&len, p);
    }
    else {
        len = strlen(token);
    }
    res = pv_token_verify(&claims, verifier, token, len, a.now);
    if (res != PV_TOKEN_OK) {
        fprintf(stderr, PROG ": token refused: %s\n", pv_token_result_str(res));
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
    else if (strcmp(argv[1], "hash") == 0) {
        rc = cmd_hash(argc - 1, argv + 1, p);
    }
    else {
        rc = usage_error(usage_main, NULL, "unknown command '%s'", argv[1]);
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
