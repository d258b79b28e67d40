/* Password hash checking: parse and bound the stored hash first, then derive
 * with libxcrypt (bcrypt, SHA-crypt, MD5-crypt), APR (apr1) or OpenSSL
 * ({SHA}, PBKDF2, scrypt) and compare the result with CRYPTO_memcmp.
 * apr_password_validate is not used: it compares with strcmp and hands any
 * unrecognised string to crypt(), which on some platforms is a plain-text
 * comparison. */
#include <string.h>

#include <crypt.h>

#include <apr_atomic.h>
#include <apr_md5.h>
#include <apr_strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pv_password.h"
#include "pv_num.h"

typedef enum {
    PW_NONE = 0,
    PW_BCRYPT,
    PW_SHA256_CRYPT,
    PW_SHA512_CRYPT,
    PW_MD5_CRYPT,
    PW_APR1,
    PW_SHA1,
    PW_PBKDF2,
    PW_SCRYPT,
    PW_KIND_COUNT
} pw_kind_e;

static const char *const kind_names[PW_KIND_COUNT] = {
    "unknown",  "bcrypt", "sha256-crypt", "sha512-crypt", "md5-crypt",
    "apr1-md5", "sha1",   "pbkdf2",       "scrypt"};

/* hashlib names Werkzeug passes to pbkdf2_hmac; the key length is the
 * digest's (pbkdf2_hmac's default dklen). */
static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
    apr_size_t len;
} pbkdf2_mds[] = {{"sha1", EVP_sha1, 20},
                  {"sha224", EVP_sha224, 28},
                  {"sha256", EVP_sha256, 32},
                  {"sha384", EVP_sha384, 48},
                  {"sha512", EVP_sha512, 64}};
#define PBKDF2_MD_COUNT (sizeof(pbkdf2_mds) / sizeof(pbkdf2_mds[0]))

/* Werkzeug 3: hashlib.scrypt's default dklen, and its n:r:p default. */
#define SCRYPT_DKLEN        64
#define SCRYPT_DEFAULT_N    32768
#define SCRYPT_DEFAULT_R    8
#define SCRYPT_DEFAULT_P    1
#define WERKZEUG_SALT_MAX   128
#define SHACRYPT_MIN_ROUNDS 1000 /* glibc/libxcrypt clamp below this */
#define BCRYPT_MIN_COST     4

/* What a hash costs to check: its kind and cost parameters, no secrets. */
typedef struct {
    pw_kind_e kind;
    unsigned md;       /* pbkdf2: index in pbkdf2_mds */
    int rounds_given;  /* sha-crypt: "rounds=" present */
    apr_uint32_t cost; /* bcrypt cost, sha-crypt rounds, pbkdf2 iterations */
    apr_uint32_t n, r, sp; /* scrypt n, r, p */
} pw_profile_t;

typedef struct {
    pw_profile_t pf;
    const char *salt; /* Werkzeug formats: salt bytes and hex digest */
    apr_size_t salt_len;
    const char *digest;
    apr_size_t digest_len;
} pw_parsed_t;

/* The packed profile of the most expensive usable hash learned (0: none
 * yet); it only ever grows, so an unknown user never costs less than a real
 * one when kinds are mixed. Shared by threads, and by processes when it
 * lives in shared memory, so read and written whole, atomically. */
struct pv_password_profile_t {
    volatile apr_uint64_t packed;
};

/* The profile of callers that pass none: this process's own. */
static pv_password_profile_t process_profile;

static const pw_profile_t default_profile = {PW_BCRYPT, 0, 0, 5, 0, 0, 0};

static int is_crypt64(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '/';
}

static int is_b64(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int is_lower_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A crypt salt: printable ASCII without '$' or ':' (crypt stops there). */
static int is_salt_char(int c)
{
    return c > 0x20 && c < 0x7f && c != '$' && c != ':';
}

/* 1 when each of s[0..n) is in the class. */
static int all_of(const char *s, apr_size_t n, int (*in_class)(int))
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        if (!in_class((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Decimal digits s[0..n) into *pout: EFORMAT when empty, not digits or with
 * a leading zero (no generator writes one, and crypt would print it
 * differently), EBOUNDS above max. */
static apr_status_t parse_uint(apr_uint32_t *pout, const char *s, apr_size_t n,
                               apr_uint32_t max)
{
    apr_uint64_t v;
    apr_status_t rv =
        pv_num_parse(&v, s, n, max, PV_NUM_CANONICAL | PV_NUM_ZERO_OK);

    if (rv != APR_SUCCESS) {
        return rv == APR_ERANGE ? PV_PASSWORD_EBOUNDS : PV_PASSWORD_EFORMAT;
    }
    *pout = (apr_uint32_t)v;
    return APR_SUCCESS;
}

/* Position of c in s[from..len), or len. */
static apr_size_t find_from(const char *s, apr_size_t from, apr_size_t len,
                            char c)
{
    const char *q = from < len ? memchr(s + from, c, len - from) : NULL;
    return q ? (apr_size_t)(q - s) : len;
}

static int has_prefix(const char *s, apr_size_t len, const char *pre)
{
    apr_size_t n = strlen(pre);
    return len >= n && memcmp(s, pre, n) == 0;
}

/* "$2b$12$" + 22 salt + 31 digest characters; the cost is two digits. */
static apr_status_t parse_bcrypt(pw_parsed_t *h, const char *s, apr_size_t len)
{
    h->pf.kind = PW_BCRYPT;
    if (len != 60 || s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' ||
        s[6] != '$' || !all_of(s + 7, 53, is_crypt64)) {
        return PV_PASSWORD_EFORMAT;
    }
    h->pf.cost = (apr_uint32_t)((s[4] - '0') * 10 + (s[5] - '0'));
    if (h->pf.cost < BCRYPT_MIN_COST) {
        return PV_PASSWORD_EFORMAT;
    }
    if (h->pf.cost > PV_PASSWORD_BCRYPT_MAX_COST) {
        return PV_PASSWORD_EBOUNDS;
    }
    return APR_SUCCESS;
}

/* "$5$" or "$6$", optional "rounds=N$", salt (<= 16), "$", digest. */
static apr_status_t parse_shacrypt(pw_parsed_t *h, const char *s,
                                   apr_size_t len)
{
    apr_size_t pos = 3, end, dlen;
    apr_status_t rv;

    h->pf.kind = s[1] == '5' ? PW_SHA256_CRYPT : PW_SHA512_CRYPT;
    dlen = h->pf.kind == PW_SHA256_CRYPT ? 43 : 86;
    h->pf.cost = 5000; /* the algorithm's default when rounds= is absent */
    if (has_prefix(s + pos, len - pos, "rounds=")) {
        pos += 7;
        end = find_from(s, pos, len, '$');
        rv = parse_uint(&h->pf.cost, s + pos, end - pos,
                        PV_PASSWORD_SHACRYPT_MAX_ROUNDS);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (h->pf.cost < SHACRYPT_MIN_ROUNDS || end == len) {
            return PV_PASSWORD_EFORMAT;
        }
        h->pf.rounds_given = 1;
        pos = end + 1;
    }
    end = find_from(s, pos, len, '$');
    if (end == pos || end - pos > 16 || end == len ||
        !all_of(s + pos, end - pos, is_salt_char) || len - end - 1 != dlen ||
        !all_of(s + end + 1, dlen, is_crypt64)) {
        return PV_PASSWORD_EFORMAT;
    }
    return APR_SUCCESS;
}

/* "$1$" or "$apr1$", salt (<= 8), "$", 22 digest characters. */
static apr_status_t parse_md5(pw_parsed_t *h, pw_kind_e kind, const char *s,
                              apr_size_t len)
{
    apr_size_t pos = kind == PW_APR1 ? 6 : 3;
    apr_size_t end = find_from(s, pos, len, '$');

    h->pf.kind = kind;
    if (end == pos || end - pos > 8 || end == len ||
        !all_of(s + pos, end - pos, is_salt_char) || len - end - 1 != 22 ||
        !all_of(s + end + 1, 22, is_crypt64)) {
        return PV_PASSWORD_EFORMAT;
    }
    return APR_SUCCESS;
}

/* "{SHA}" + base64 of the 20-byte SHA-1 (htpasswd -s). */
static apr_status_t parse_sha1(pw_parsed_t *h, const char *s, apr_size_t len)
{
    h->pf.kind = PW_SHA1;
    if (len != 33 || s[32] != '=' || !all_of(s + 5, 27, is_b64)) {
        return PV_PASSWORD_EFORMAT;
    }
    return APR_SUCCESS;
}

/* Werkzeug's "<method>$<salt>$<lower-case hex>", method already parsed;
 * pos is the first '$'. */
static apr_status_t parse_werkzeug_tail(pw_parsed_t *h, const char *s,
                                        apr_size_t len, apr_size_t pos,
                                        apr_size_t dklen)
{
    apr_size_t end = find_from(s, pos + 1, len, '$');

    if (end == len || end == pos + 1 || end - pos - 1 > WERKZEUG_SALT_MAX) {
        return PV_PASSWORD_EFORMAT;
    }
    h->salt = s + pos + 1;
    h->salt_len = end - pos - 1;
    h->digest = s + end + 1;
    h->digest_len = len - end - 1;
    if (h->digest_len != 2 * dklen ||
        !all_of(h->digest, 2 * dklen, is_lower_hex)) {
        return PV_PASSWORD_EFORMAT;
    }
    return APR_SUCCESS;
}

/* "pbkdf2:<hash>:<iterations>$salt$hex". The form without iterations is
 * refused: its meaning changed with Werkzeug versions (150000, 260000,
 * 600000, 1000000), and generate_password_hash always writes the count. */
static apr_status_t parse_pbkdf2(pw_parsed_t *h, const char *s, apr_size_t len)
{
    apr_size_t dollar = find_from(s, 0, len, '$');
    apr_size_t colon = find_from(s, 7, dollar, ':');
    apr_status_t rv;
    unsigned i;

    h->pf.kind = PW_PBKDF2;
    if (colon == dollar || dollar == len) {
        return PV_PASSWORD_EFORMAT;
    }
    for (i = 0; i < PBKDF2_MD_COUNT; i++) {
        if (colon - 7 == strlen(pbkdf2_mds[i].name) &&
            memcmp(s + 7, pbkdf2_mds[i].name, colon - 7) == 0) {
            break;
        }
    }
    if (i == PBKDF2_MD_COUNT) {
        return PV_PASSWORD_EFORMAT;
    }
    rv = parse_uint(&h->pf.cost, s + colon + 1, dollar - colon - 1,
                    PV_PASSWORD_PBKDF2_MAX_ITER);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (h->pf.cost == 0) {
        return PV_PASSWORD_EFORMAT;
    }
    h->pf.md = i;
    return parse_werkzeug_tail(h, s, len, dollar, pbkdf2_mds[i].len);
}

/* "scrypt:n:r:p$salt$hex", or "scrypt$salt$hex" for Werkzeug's default. */
static apr_status_t parse_scrypt(pw_parsed_t *h, const char *s, apr_size_t len)
{
    apr_size_t dollar = find_from(s, 0, len, '$');
    apr_size_t a, b;
    apr_uint64_t mem;
    apr_status_t rv;

    h->pf.kind = PW_SCRYPT;
    if (dollar == len) {
        return PV_PASSWORD_EFORMAT;
    }
    h->pf.n = SCRYPT_DEFAULT_N;
    h->pf.r = SCRYPT_DEFAULT_R;
    h->pf.sp = SCRYPT_DEFAULT_P;
    if (dollar != 6) {
        if (s[6] != ':') {
            return PV_PASSWORD_EFORMAT;
        }
        a = find_from(s, 7, dollar, ':');
        b = find_from(s, a + 1, dollar, ':');
        if (a == dollar || b == dollar) {
            return PV_PASSWORD_EFORMAT;
        }
        /* Single bounds first, so 128 * n * r * p cannot overflow. */
        if ((rv = parse_uint(&h->pf.n, s + 7, a - 7,
                             PV_PASSWORD_SCRYPT_MAX_MEM / 128)) ||
            (rv = parse_uint(&h->pf.r, s + a + 1, b - a - 1,
                             PV_PASSWORD_SCRYPT_MAX_MEM / 128)) ||
            (rv = parse_uint(&h->pf.sp, s + b + 1, dollar - b - 1,
                             PV_PASSWORD_SCRYPT_MAX_P))) {
            return rv;
        }
    }
    /* scrypt itself requires n a power of two and n < 2^(16 r). */
    if (h->pf.n < 2 || (h->pf.n & (h->pf.n - 1)) != 0 || h->pf.r == 0 ||
        h->pf.sp == 0 || (h->pf.r == 1 && h->pf.n >= 65536)) {
        return PV_PASSWORD_EFORMAT;
    }
    mem = (apr_uint64_t)128 * h->pf.n * h->pf.r;
    if (mem > PV_PASSWORD_SCRYPT_MAX_MEM ||
        mem * h->pf.sp > PV_PASSWORD_SCRYPT_MAX_WORK) {
        return PV_PASSWORD_EBOUNDS;
    }
    return parse_werkzeug_tail(h, s, len, dollar, SCRYPT_DKLEN);
}

/* Recognise and bound a hash; nothing else is ever handed to a KDF. */
static apr_status_t pw_parse(pw_parsed_t *h, const char *s, apr_size_t len)
{
    memset(h, 0, sizeof(*h));
    if (has_prefix(s, len, "$2a$") || has_prefix(s, len, "$2b$") ||
        has_prefix(s, len, "$2y$")) {
        return parse_bcrypt(h, s, len);
    }
    if (has_prefix(s, len, "$5$") || has_prefix(s, len, "$6$")) {
        return parse_shacrypt(h, s, len);
    }
    if (has_prefix(s, len, "$apr1$")) {
        return parse_md5(h, PW_APR1, s, len);
    }
    if (has_prefix(s, len, "$1$")) {
        return parse_md5(h, PW_MD5_CRYPT, s, len);
    }
    if (has_prefix(s, len, "{SHA}")) {
        return parse_sha1(h, s, len);
    }
    if (has_prefix(s, len, "pbkdf2:")) {
        return parse_pbkdf2(h, s, len);
    }
    if (has_prefix(s, len, "scrypt$") || has_prefix(s, len, "scrypt:")) {
        return parse_scrypt(h, s, len);
    }
    return PV_PASSWORD_EFORMAT;
}

static void hex_lower(char *out, const unsigned char *in, apr_size_t n)
{
    static const char digits[] = "0123456789abcdef";
    apr_size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
}

/* One derivation from a password for pw_compute() and its scratch, all of
 * it cleansed once the comparison is made. */
typedef struct {
    const pw_parsed_t *h;
    const char *hash;
    apr_size_t hash_len;
    const char *password;
    apr_size_t pw_len;
    /* crypt() takes a C string: a password with a NUL in it cannot match
     * such a hash (it would match its prefix), but it costs the same. */
    int has_nul;
    unsigned char dk[SCRYPT_DKLEN];
    char hex[2 * SCRYPT_DKLEN], out[128];
    struct crypt_data *cd;
    char *pwz;
} pw_derive_t;

/* The stored text again, compared in constant time. */
static int same_text(const pw_derive_t *d, const char *res)
{
    return strlen(res) == d->hash_len &&
           CRYPTO_memcmp(res, d->hash, d->hash_len) == 0 && !d->has_nul;
}

/* bcrypt, SHA-crypt, MD5-crypt: libxcrypt writes the whole hash again. */
static apr_status_t derive_crypt(int *pmatch, pw_derive_t *d, apr_pool_t *p)
{
    const char *res;

    d->pwz = apr_pstrmemdup(p, d->password, d->pw_len);
    /* ~32 KiB of state: from the pool, not a worker's stack. */
    d->cd = apr_pcalloc(p, sizeof(*d->cd));
    res = crypt_rn(d->pwz, d->hash, d->cd, (int)sizeof(*d->cd));
    if (res == NULL || res[0] == '*') {
        return PV_PASSWORD_ECRYPTO;
    }
    *pmatch = same_text(d, res);
    return APR_SUCCESS;
}

static apr_status_t derive_apr1(int *pmatch, pw_derive_t *d, apr_pool_t *p)
{
    d->pwz = apr_pstrmemdup(p, d->password, d->pw_len);
    if (apr_md5_encode(d->pwz, d->hash, d->out, sizeof(d->out)) !=
        APR_SUCCESS) {
        return PV_PASSWORD_ECRYPTO;
    }
    *pmatch = same_text(d, d->out);
    return APR_SUCCESS;
}

static apr_status_t derive_sha1(int *pmatch, pw_derive_t *d)
{
    if (!EVP_Digest(d->password, d->pw_len, d->dk, NULL, EVP_sha1(), NULL)) {
        return PV_PASSWORD_ECRYPTO;
    }
    EVP_EncodeBlock((unsigned char *)d->out, d->dk, 20); /* 28 + NUL */
    *pmatch = CRYPTO_memcmp(d->out, d->hash + 5, 28) == 0 && !d->has_nul;
    return APR_SUCCESS;
}

static apr_status_t derive_pbkdf2(int *pmatch, pw_derive_t *d)
{
    const pw_parsed_t *h = d->h;
    apr_size_t dklen = pbkdf2_mds[h->pf.md].len;

    if (!PKCS5_PBKDF2_HMAC(d->password, (int)d->pw_len,
                           (const unsigned char *)h->salt, (int)h->salt_len,
                           (int)h->pf.cost, pbkdf2_mds[h->pf.md].md(),
                           (int)dklen, d->dk)) {
        return PV_PASSWORD_ECRYPTO;
    }
    hex_lower(d->hex, d->dk, dklen);
    *pmatch = CRYPTO_memcmp(d->hex, h->digest, 2 * dklen) == 0;
    return APR_SUCCESS;
}

static apr_status_t derive_scrypt(int *pmatch, pw_derive_t *d)
{
    const pw_parsed_t *h = d->h;

    /* OpenSSL's own accounting: B (128 r p) + V (128 r (n + 2)). */
    if (!EVP_PBE_scrypt(d->password, d->pw_len, (const unsigned char *)h->salt,
                        h->salt_len, h->pf.n, h->pf.r, h->pf.sp,
                        (apr_uint64_t)128 * h->pf.r * (h->pf.n + 2 + h->pf.sp) +
                            4096,
                        d->dk, SCRYPT_DKLEN)) {
        return PV_PASSWORD_ECRYPTO;
    }
    hex_lower(d->hex, d->dk, SCRYPT_DKLEN);
    *pmatch = CRYPTO_memcmp(d->hex, h->digest, 2 * SCRYPT_DKLEN) == 0;
    return APR_SUCCESS;
}

/* Derive from the password as the hash's format says and compare with the
 * stored text in constant time. */
static apr_status_t pw_compute(int *pmatch, const pw_parsed_t *h,
                               const char *hash, apr_size_t hash_len,
                               const char *password, apr_size_t pw_len,
                               apr_pool_t *p)
{
    pw_derive_t d;
    apr_status_t rv;
    int match = 0;

    memset(&d, 0, sizeof(d));
    d.h = h;
    d.hash = hash;
    d.hash_len = hash_len;
    d.password = password;
    d.pw_len = pw_len;
    d.has_nul = memchr(password, '\0', pw_len) != NULL;
    switch (h->pf.kind) {
        case PW_BCRYPT:
        case PW_SHA256_CRYPT:
        case PW_SHA512_CRYPT:
        case PW_MD5_CRYPT:
            rv = derive_crypt(&match, &d, p);
            break;
        case PW_APR1:
            rv = derive_apr1(&match, &d, p);
            break;
        case PW_SHA1:
            rv = derive_sha1(&match, &d);
            break;
        case PW_PBKDF2:
            rv = derive_pbkdf2(&match, &d);
            break;
        case PW_SCRYPT:
            rv = derive_scrypt(&match, &d);
            break;
        default:
            rv = PV_PASSWORD_EFORMAT;
            break;
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pmatch = match;

cleanup:
    if (d.cd) {
        OPENSSL_cleanse(d.cd, sizeof(*d.cd));
    }
    if (d.pwz) {
        OPENSSL_cleanse(d.pwz, pw_len);
    }
    OPENSSL_cleanse(&d, sizeof(d));
    return rv;
}

/* kind 4 bits | md 4 | rounds_given 1 | log2 n 5 | p 5 | r 20 | cost 24:
 * every field fits once the hash passed the bounds above. */
static apr_uint64_t profile_pack(const pw_profile_t *pf)
{
    apr_uint64_t log2n = 0;
    while (pf->n >> (log2n + 1)) {
        log2n++;
    }
    return (apr_uint64_t)pf->kind | (apr_uint64_t)pf->md << 4 |
           (apr_uint64_t)(pf->rounds_given != 0) << 8 | log2n << 9 |
           (apr_uint64_t)pf->sp << 14 | (apr_uint64_t)pf->r << 19 |
           (apr_uint64_t)pf->cost << 39;
}

static void profile_unpack(pw_profile_t *pf, apr_uint64_t v)
{
    pf->kind = (pw_kind_e)(v & 0xf);
    pf->md = (unsigned)(v >> 4) & 0xf;
    pf->rounds_given = (int)(v >> 8) & 1;
    pf->n = (apr_uint32_t)1 << ((v >> 9) & 0x1f);
    pf->sp = (apr_uint32_t)(v >> 14) & 0x1f;
    pf->r = (apr_uint32_t)(v >> 19) & 0xfffff;
    pf->cost = (apr_uint32_t)(v >> 39) & 0xffffff;
}

/* A fixed hash of the profile's kind and cost (its salt and digest are
 * filler): checking it costs what checking a real one of that kind does. */
static const char *profile_hash(const pw_profile_t *pf, apr_pool_t *p)
{
    static const char fill[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./";
    static const char zeros[] =
        "0000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000";

    switch (pf->kind) {
        case PW_BCRYPT:
            return apr_psprintf(p, "$2y$%02u$%.53s", (unsigned)pf->cost, fill);
        case PW_SHA256_CRYPT:
        case PW_SHA512_CRYPT:
            return apr_psprintf(
                p, "$%c$%s%s%.16s$%.*s",
                pf->kind == PW_SHA256_CRYPT ? '5' : '6',
                pf->rounds_given ? "rounds=" : "",
                pf->rounds_given ? apr_psprintf(p, "%u$", (unsigned)pf->cost)
                                 : "",
                fill + 20, pf->kind == PW_SHA256_CRYPT ? 43 : 86, fill);
        case PW_MD5_CRYPT:
            return apr_psprintf(p, "$1$%.8s$%.22s", fill + 30, fill);
        case PW_APR1:
            return apr_psprintf(p, "$apr1$%.8s$%.22s", fill + 30, fill);
        case PW_SHA1:
            return apr_psprintf(p, "{SHA}%.27s=", fill);
        case PW_PBKDF2:
            return apr_psprintf(p, "pbkdf2:%s:%u$%.16s$%.*s",
                                pbkdf2_mds[pf->md].name, (unsigned)pf->cost,
                                fill + 10, (int)(2 * pbkdf2_mds[pf->md].len),
                                zeros);
        case PW_SCRYPT:
            return apr_psprintf(p, "scrypt:%u:%u:%u$%.16s$%.128s",
                                (unsigned)pf->n, (unsigned)pf->r,
                                (unsigned)pf->sp, fill + 10, zeros);
        default:
            return profile_hash(&default_profile, p);
    }
}

/* Check the password against the profile's fixed hash; the result is
 * thrown away. */
static apr_status_t run_dummy(const pw_profile_t *pf, const char *password,
                              apr_size_t pw_len, apr_pool_t *p)
{
    const char *fixed = profile_hash(pf, p);
    apr_size_t len = strlen(fixed);
    pw_parsed_t h;
    int match = 0;
    apr_status_t rv = pw_parse(&h, fixed, len);

    /* Parsing cannot fail (the profile came from a parsed hash), but a
     * failure must show in tests rather than make the dummy free. */
    if (rv == APR_SUCCESS) {
        rv = pw_compute(&match, &h, fixed, len, password, pw_len, p);
    }
    return rv;
}

/* Estimated nanoseconds of one check on this kind of machine (measured with
 * tests/unit/test_password's timings on 2 cores), to rank profiles of
 * different kinds; only the order matters. */
static apr_uint64_t profile_cost(const pw_profile_t *pf)
{
    /* pbkdf2 per iteration, in pbkdf2_mds order (sha1 .. sha512). */
    static const apr_uint64_t pbkdf2_ns[PBKDF2_MD_COUNT] = {300, 570, 570, 700,
                                                            700};

    switch (pf->kind) {
        case PW_BCRYPT:
            return (apr_uint64_t)64000 << pf->cost;
        case PW_SHA256_CRYPT:
            return (apr_uint64_t)700 * pf->cost;
        case PW_SHA512_CRYPT:
            return (apr_uint64_t)800 * pf->cost;
        case PW_MD5_CRYPT:
        case PW_APR1:
            return 250000;
        case PW_SHA1:
            return 1000;
        case PW_PBKDF2:
            return pbkdf2_ns[pf->md < PBKDF2_MD_COUNT ? pf->md : 0] * pf->cost;
        case PW_SCRYPT:
            return (apr_uint64_t)480 * pf->n * pf->r * pf->sp;
        default:
            return 0;
    }
}

static pv_password_profile_t *profile_or_own(pv_password_profile_t *learned)
{
    return learned ? learned : &process_profile;
}

/* Keep the dearer of the learned profile and pf; the first usable hash
 * replaces the built-in default whatever its cost. */
static void learn(pv_password_profile_t *learned, const pw_profile_t *pf)
{
    apr_uint64_t want = profile_pack(pf), cur;
    pw_profile_t have;

    for (;;) {
        cur = apr_atomic_read64(&learned->packed);
        if (cur != 0) {
            profile_unpack(&have, cur);
            if (profile_cost(&have) >= profile_cost(pf)) {
                return;
            }
        }
        if (apr_atomic_cas64(&learned->packed, want, cur) == cur) {
            return;
        }
    }
}

static void learned_get(pw_profile_t *pf, pv_password_profile_t *learned)
{
    apr_uint64_t v = apr_atomic_read64(&learned->packed);
    if (v == 0) {
        *pf = default_profile;
    }
    else {
        profile_unpack(pf, v);
    }
}

apr_size_t pv_password_profile_size(void)
{
    return sizeof(pv_password_profile_t);
}

pv_password_profile_t *pv_password_profile_init(void *mem)
{
    pv_password_profile_t *learned = mem;

    apr_atomic_set64(&learned->packed, 0);
    return learned;
}

int pv_password_profile_known(pv_password_profile_t *learned)
{
    return apr_atomic_read64(&profile_or_own(learned)->packed) != 0;
}

apr_status_t pv_password_profile_learn(pv_password_profile_t *learned,
                                       const char *hash)
{
    apr_size_t hash_len;
    pw_parsed_t h;
    apr_status_t rv;

    hash_len = hash ? strnlen(hash, PV_PASSWORD_HASH_MAX_LEN + 1) : 0;
    rv = hash_len > PV_PASSWORD_HASH_MAX_LEN ? PV_PASSWORD_EFORMAT
                                             : pw_parse(&h, hash, hash_len);
    if (rv == APR_SUCCESS) {
        learn(profile_or_own(learned), &h.pf);
    }
    return rv;
}

apr_status_t pv_password_check(int *pmatch, pv_password_profile_t *learned,
                               const char *password, apr_size_t pw_len,
                               const char *hash, apr_pool_t *p)
{
    apr_size_t hash_len;
    pw_profile_t pf;
    pw_parsed_t h;
    apr_status_t rv;

    learned = profile_or_own(learned);
    if (pw_len > PV_PASSWORD_MAX_LEN) {
        return PV_PASSWORD_ETOOLONG;
    }
    hash_len = hash ? strnlen(hash, PV_PASSWORD_HASH_MAX_LEN + 1) : 0;
    rv = hash_len > PV_PASSWORD_HASH_MAX_LEN ? PV_PASSWORD_EFORMAT
                                             : pw_parse(&h, hash, hash_len);
    if (rv != APR_SUCCESS) {
        /* A broken row must not answer faster than a wrong password. */
        learned_get(&pf, learned);
        (void)run_dummy(&pf, password, pw_len, p);
        return rv;
    }
    learn(learned, &h.pf);
    return pw_compute(pmatch, &h, hash, hash_len, password, pw_len, p);
}

apr_status_t pv_password_check_dummy(pv_password_profile_t *learned,
                                     const char *password, apr_size_t pw_len,
                                     const char *like, apr_pool_t *p)
{
    apr_size_t like_len;
    pw_profile_t pf;
    pw_parsed_t h;
    apr_status_t rv = APR_SUCCESS, drv;

    if (pw_len > PV_PASSWORD_MAX_LEN) {
        return PV_PASSWORD_ETOOLONG;
    }
    learned_get(&pf, profile_or_own(learned));
    if (like != NULL) {
        like_len = strnlen(like, PV_PASSWORD_HASH_MAX_LEN + 1);
        rv = like_len > PV_PASSWORD_HASH_MAX_LEN ? PV_PASSWORD_EFORMAT
                                                 : pw_parse(&h, like, like_len);
        if (rv == APR_SUCCESS) {
            pf = h.pf;
        }
    }
    drv = run_dummy(&pf, password, pw_len, p);
    return rv != APR_SUCCESS ? rv : drv;
}

const char *pv_password_dummy_hash(pv_password_profile_t *learned,
                                   apr_pool_t *p)
{
    pw_profile_t pf;

    learned_get(&pf, profile_or_own(learned));
    return profile_hash(&pf, p);
}

const char *pv_password_kind(const char *hash)
{
    apr_size_t len;
    pw_parsed_t h;

    if (hash == NULL) {
        return kind_names[PW_NONE];
    }
    len = strnlen(hash, PV_PASSWORD_HASH_MAX_LEN + 1);
    /* The kind is known even when a bound refuses the hash. */
    (void)pw_parse(&h, hash, len);
    if (h.pf.kind == PW_NONE) {
        /* "name:hash", as htpasswd -n prints it, pasted whole: say so, as
         * the operator's fix is to store only what follows the ':'. */
        const char *colon = memchr(hash, ':', len);

        if (colon && colon > hash &&
            pw_parse(&h, colon + 1, len - (colon + 1 - hash)) == APR_SUCCESS) {
            return "an htpasswd line 'name:hash': store only the hash after "
                   "the ':'";
        }
        h.pf.kind = PW_NONE;
    }
    return kind_names[h.pf.kind < PW_KIND_COUNT ? h.pf.kind : PW_NONE];
}

/* pv_password_strerror() of the errors from PV_PASSWORD_EFORMAT on. */
static const char *const error_texts[] = {
    [PV_PASSWORD_EFORMAT - PV_PASSWORD_EFORMAT] =
        "unrecognised or malformed password hash",
    [PV_PASSWORD_EBOUNDS - PV_PASSWORD_EFORMAT] =
        "password hash cost parameters beyond the allowed bounds",
    [PV_PASSWORD_ETOOLONG - PV_PASSWORD_EFORMAT] = "password too long",
    [PV_PASSWORD_ECRYPTO - PV_PASSWORD_EFORMAT] =
        "password hashing failed in the crypto library",
};
#define NERRORS (sizeof(error_texts) / sizeof(error_texts[0]))

const char *pv_password_strerror(apr_status_t rv)
{
    apr_status_t i = rv - PV_PASSWORD_EFORMAT;

    if (rv == APR_SUCCESS) {
        return "ok";
    }
    return i >= 0 && (apr_size_t)i < NERRORS && error_texts[i]
               ? error_texts[i]
               : "unknown password error";
}

apr_status_t pv_password_hash_bcrypt(const char **pout, const char *password,
                                     apr_size_t pw_len, unsigned int cost,
                                     apr_pool_t *p)
{
    struct crypt_data *cd;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *res;

    if (cost < BCRYPT_MIN_COST || cost > PV_PASSWORD_BCRYPT_MAX_COST) {
        return PV_PASSWORD_EBOUNDS;
    }
    /* bcrypt would ignore what follows byte 72, or a NUL: refused rather
     * than a hash that takes less than the password typed. */
    if (pw_len == 0 || pw_len > PV_PASSWORD_BCRYPT_MAX_LEN ||
        memchr(password, '\0', pw_len)) {
        return PV_PASSWORD_ETOOLONG;
    }
    /* No random bytes given: libxcrypt takes them from the kernel. */
    if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, sizeof(setting))) {
        return PV_PASSWORD_ECRYPTO;
    }
    cd = apr_pcalloc(p, sizeof(*cd));
    res = crypt_rn(apr_pstrmemdup(p, password, pw_len), setting, cd,
                   (int)sizeof(*cd));
    if (res == NULL || res[0] == '*') {
        return PV_PASSWORD_ECRYPTO;
    }
    *pout = apr_pstrdup(p, res);
    return APR_SUCCESS;
}
