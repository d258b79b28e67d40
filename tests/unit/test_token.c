/* Tokens: every accept and reject rule of DESIGN "Tokens", the legacy
 * itsdangerous format, minting, rotation, and concurrent verification.
 * Tokens are built here from literal JSON text with OpenSSL's HMAC, so each
 * rule is tested on exactly the bytes a client could send. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pv_b64url.h"
#include "pv_keyring.h"
#include "pv_token.h"

/* made by tests/unit/make_legacy_vectors.py: SECRET_KEY
 * "flask-disk-secret-key", salt "preview-salt", iat 1700000000, exp 1700086400,
 * verified at 1700000060 */
#define LEGACY_HS512_RAW                                                       \
    "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ."      \
    "eyJ1aWQiOjd9."                                                            \
    "xdv7yt6eHmRy6p44FMizw2lFe9Dd2MVkUIWuX8WDR51stTTH3zuGx0HmYQagBXrqjzMmv8LH" \
    "KO7OpAjRl8I1iw"
#define LEGACY_HS512_SALTED                                                    \
    "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ."      \
    "eyJ1aWQiOjd9.PRrirmHYCDqHQxqF-"                                           \
    "tGpvLqUe1VEo6Ppts7BsOfcWtoaPxfmKx2LbmYXRAEgO_jK2YrbE80fIpJB0nrqRFUvtQ"
#define LEGACY_HS256_RAW                                                       \
    "eyJhbGciOiJIUzI1NiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ."      \
    "eyJ1aWQiOjd9.c1kif4v99ROz4ijoiHJhkYetbunZ61hyei-_yWLF9K0"
#define LEGACY_HS512_STRUID                                                    \
    "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ."      \
    "eyJ1aWQiOiI0MiJ9.ijn1tQ0ZlP8ZYk1-"                                        \
    "ZAUAHHBXwXaAh1TZprxOAfws1zfLsivr7Kp4GTurOlF2hZ4K6JkXnGP-mJja8i3dLKEHGw"
#define LEGACY_HS512_USERID                                                    \
    "eyJhbGciOiJIUzUxMiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ."      \
    "eyJ1c2VyX2lkIjo5fQ.KGLSyM75teDiNyP0C_O5yT5ZJqUhIf4Q_"                     \
    "ANd4RdIOiNVykfIgEUN2O-9_psnfBFj5IYc9aZ2evrMZFVyr_FR_g"
#define JWS_HS256_K1                                                           \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0."                     \
    "eyJzdWIiOiI3IiwiYXVkIjoicHJldmlldyIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAw" \
    "MDg2NDAwLCJ2ZXIiOjN9.IuXlfYzYLcbsW-3cLUdm95OFBsHHcRw1zXn3hs3ZAp4"

/* the same claims plus "img":"42", exp 1700003600 (a URL token), made with
 * Python's hmac from the literal JSON text */
#define JWS_URL_K1                                                             \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0."                     \
    "eyJzdWIiOiI3IiwiYXVkIjoicHJldmlldyIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAw" \
    "MDAzNjAwLCJ2ZXIiOjMsImltZyI6IjQyIn0."                                     \
    "ERr-7bNTqvt3asHzRpD9Xx7OEv9wUDyOEcmX-mOXVuY"

#define IAT           1700000000
#define EXP           1700086400
#define NOW           APR_INT64_C(1700000060)
#define LEEWAY        30
#define LEGACY_SECRET "flask-disk-secret-key"
#define LEGACY_SALT   "preview-salt"

/* k1: bytes 0x00..0x1f (signs), k2: bytes 0x20..0x3f */
#define RING_TEXT                                                              \
    "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"                         \
    "k2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"

#define HDR256 "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define CLAIMS                                                                 \
    "{\"sub\":\"7\",\"aud\":\"preview\",\"iat\":1700000000,"                   \
    "\"exp\":1700086400,\"ver\":3}"
#define LEGACY_HDR(alg)                                                        \
    "{\"alg\":\"" alg "\",\"iat\":1700000000,\"exp\":1700086400}"

static apr_pool_t *pool;
static pv_keyring_t *ring;
static pv_token_verifier_t *v_default; /* HS256 only, leeway 30 */
static pv_token_verifier_t *v_all;     /* HS256, HS384, HS512 */
static pv_token_verifier_t *v_legacy;  /* + legacy, raw SECRET_KEY */
static pv_token_verifier_t *v_salted;  /* + legacy, salted key */
static pv_token_verifier_t *v_userid;  /* + legacy, uid field "user_id" */
static unsigned char key1[32], key2[32];

static pv_token_verifier_t *make_verifier(int algs, int legacy,
                                          const char *salt, const char *field)
{
    pv_token_verifier_t *v = NULL;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    cfg.algs = algs;
    cfg.leeway = LEEWAY;
    if (legacy) {
        cfg.legacy = PV_LEGACY_ITSDANGEROUS;
        cfg.legacy_secret = (const unsigned char *)LEGACY_SECRET;
        cfg.legacy_secret_len = strlen(LEGACY_SECRET);
        cfg.legacy_salt = salt;
        cfg.legacy_uid_field = field;
    }
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(v);
    return v;
}

static void setup(void)
{
    const char *err = NULL;
    int i;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(pv_keyring_parse(&ring, &err, RING_TEXT, strlen(RING_TEXT),
                                      "ring", pool),
                     APR_SUCCESS);
    for (i = 0; i < 32; i++) {
        key1[i] = (unsigned char)i;
        key2[i] = (unsigned char)(0x20 + i);
    }
    v_default = make_verifier(0, 0, NULL, NULL);
    v_all = make_verifier(PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512, 0, NULL,
                          NULL);
    v_legacy = make_verifier(0, 1, NULL, NULL);
    v_salted = make_verifier(0, 1, LEGACY_SALT, NULL);
    v_userid = make_verifier(0, 1, NULL, "user_id");
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static char *b64(const void *data, size_t n)
{
    char *out = apr_palloc(pool, PV_B64URL_ENC_LEN(n) + 1);

    pv_b64url_encode(out, data, n);
    return out;
}

/* header.claims.HMAC-alg(key) from literal JSON; alg NULL: empty signature */
static const char *sign_with(const char *alg, const void *key, size_t klen,
                             const char *header, const char *claims)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const EVP_MD *md;
    char *text;

    text = apr_pstrcat(pool, b64(header, strlen(header)), ".",
                       b64(claims, strlen(claims)), NULL);
    if (!alg) {
        return apr_pstrcat(pool, text, ".", NULL);
    }
    md = strcmp(alg, "HS256") == 0   ? EVP_sha256()
         : strcmp(alg, "HS384") == 0 ? EVP_sha384()
                                     : EVP_sha512();
    ck_assert_ptr_nonnull(HMAC(md, key, (int)klen, (unsigned char *)text,
                               strlen(text), mac, &maclen));
    return apr_pstrcat(pool, text, ".", b64(mac, maclen), NULL);
}

static pv_token_result_e verify_at(const pv_token_verifier_t *v,
                                   const char *token, apr_int64_t now,
                                   pv_token_claims_t *c)
{
    pv_token_claims_t scratch;

    return pv_token_verify(c ? c : &scratch, v, token, strlen(token), now);
}

static pv_token_result_e verify(const pv_token_verifier_t *v, const char *token,
                                pv_token_claims_t *c)
{
    return verify_at(v, token, NOW, c);
}

/* HS256, kid k1, signed with k1, verified by the default verifier */
static pv_token_result_e verify_claims(const char *claims)
{
    return verify(v_default, sign_with("HS256", key1, 32, HDR256, claims),
                  NULL);
}

START_TEST(python_vector_accepted)
{
    pv_token_claims_t c;

    ck_assert_int_eq(verify(v_default, JWS_HS256_K1, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_int_eq(c.iat, IAT);
    ck_assert_int_eq(c.exp, EXP);
    ck_assert_uint_eq(c.ver, 3);
    ck_assert_int_eq(c.has_ver, 1);
    ck_assert_int_eq(c.legacy, 0);
    ck_assert_int_eq(c.alg, PV_ALG_HS256);
    ck_assert_str_eq(c.kid, "k1");
    /* and our own builder makes the same bytes */
    ck_assert_str_eq(sign_with("HS256", key1, 32, HDR256, CLAIMS),
                     JWS_HS256_K1);
}
END_TEST

START_TEST(empty_refused)
{
    pv_token_claims_t c;

    ck_assert_int_eq(pv_token_verify(&c, v_default, NULL, 0, NOW),
                     PV_TOKEN_EMPTY);
    ck_assert_int_eq(pv_token_verify(&c, v_default, "", 0, NOW),
                     PV_TOKEN_EMPTY);
}
END_TEST

START_TEST(length_bound)
{
    char *big = apr_palloc(pool, 5000);
    const char *tok = NULL, *claims;
    pv_token_claims_t c;
    int pad;

    /* find a padding that makes a valid token of exactly 4096 bytes */
    for (pad = 2800; pad < 3200 && !tok; pad++) {
        const char *t;
        claims = apr_psprintf(pool,
                              "{\"sub\":\"7\",\"aud\":\"preview\",\"exp\":%d,"
                              "\"ver\":0,\"pad\":\"%0*d\"}",
                              EXP, pad, 0);
        t = sign_with("HS256", key1, 32, HDR256, claims);
        if (strlen(t) == PV_TOKEN_MAX_LEN) {
            tok = t;
        }
    }
    ck_assert_ptr_nonnull(tok);
    ck_assert_int_eq(verify(v_default, tok, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 7);
    /* one byte more is refused before any parsing */
    ck_assert_int_eq(verify(v_default, apr_pstrcat(pool, tok, "A", NULL), NULL),
                     PV_TOKEN_TOO_LONG);
    memset(big, 'a', 4097);
    big[4097] = '\0';
    ck_assert_int_eq(verify(v_default, big, NULL), PV_TOKEN_TOO_LONG);
    big[4096] = '\0';
    ck_assert_int_eq(verify(v_default, big, NULL), PV_TOKEN_MALFORMED);
}
END_TEST

START_TEST(three_parts)
{
    const char *ok = JWS_HS256_K1;

    ck_assert_int_eq(verify(v_default, "abc", NULL), PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, "abc.def", NULL), PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, "a.b.c.d", NULL), PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, apr_pstrcat(pool, ok, ".", NULL), NULL),
                     PV_TOKEN_MALFORMED);
    ck_assert_int_eq(
        verify(v_default, apr_pstrcat(pool, ok, ".e30", NULL), NULL),
        PV_TOKEN_MALFORMED);
    /* three empty parts: base64url fine, JSON not */
    ck_assert_int_eq(verify(v_default, "..", NULL), PV_TOKEN_BAD_JSON);
}
END_TEST

/* replace the character at position pos */
static const char *poke(const char *tok, size_t pos, char ch)
{
    char *t = apr_pstrdup(pool, tok);

    t[pos] = ch;
    return t;
}

static const char *insert_at(const char *tok, size_t pos, const char *s)
{
    return apr_pstrcat(pool, apr_pstrndup(pool, tok, pos), s, tok + pos, NULL);
}

START_TEST(bad_base64url_refused)
{
    const char *ok = JWS_HS256_K1;
    size_t dot1 = (size_t)(strchr(ok, '.') - ok);
    size_t dot2 = (size_t)(strrchr(ok, '.') - ok);

    ck_assert_int_eq(verify(v_default, poke(ok, 3, '+'), NULL),
                     PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, poke(ok, dot1 + 5, '/'), NULL),
                     PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, poke(ok, dot2 + 1, ' '), NULL),
                     PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, poke(ok, dot2 + 1, '%'), NULL),
                     PV_TOKEN_MALFORMED);
    /* padding: the 43-character HS256 signature padded to 44 */
    ck_assert_int_eq(verify(v_default, apr_pstrcat(pool, ok, "=", NULL), NULL),
                     PV_TOKEN_MALFORMED);
    /* the header (70 characters) padded to 72 */
    ck_assert_int_eq(verify(v_default, insert_at(ok, dot1, "=="), NULL),
                     PV_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(v_default, insert_at(ok, dot1, "\n"), NULL),
                     PV_TOKEN_MALFORMED);
    /* a NUL inside the given length */
    {
        pv_token_claims_t c;
        char *t = apr_pstrdup(pool, ok);
        t[10] = '\0';
        ck_assert_int_eq(pv_token_verify(&c, v_default, t, strlen(ok), NOW),
                         PV_TOKEN_MALFORMED);
    }
}
END_TEST

START_TEST(signature_checked)
{
    const char *ok = JWS_HS256_K1;
    size_t dot2 = (size_t)(strrchr(ok, '.') - ok);
    unsigned char zeros[64] = {0};
    const char *text = apr_pstrndup(pool, ok, dot2 + 1);

    /* one character of the signature changed */
    ck_assert_int_eq(verify(v_default,
                            poke(ok, dot2 + 1, ok[dot2 + 1] == 'A' ? 'B' : 'A'),
                            NULL),
                     PV_TOKEN_BAD_SIGNATURE);
    /* empty, all-zero and too long signatures */
    ck_assert_int_eq(verify(v_default, text, NULL), PV_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(
        verify(v_default, apr_pstrcat(pool, text, b64(zeros, 32), NULL), NULL),
        PV_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(
        verify(v_default, apr_pstrcat(pool, text, b64(zeros, 64), NULL), NULL),
        PV_TOKEN_BAD_SIGNATURE);
    /* claims changed under a valid signature: sub 7 -> 8 */
    {
        const char *other =
            sign_with("HS256", key1, 32, HDR256,
                      "{\"sub\":\"8\",\"aud\":\"preview\",\"iat\":1700000000,"
                      "\"exp\":1700086400,\"ver\":3}");
        const char *mixed = apr_pstrcat(
            pool,
            apr_pstrndup(pool, other, (size_t)(strrchr(other, '.') - other)),
            ok + dot2, NULL);
        ck_assert_int_eq(verify(v_default, mixed, NULL),
                         PV_TOKEN_BAD_SIGNATURE);
    }
    /* garbage claims under a bad signature: the signature is checked
     * before the claims are parsed */
    ck_assert_int_eq(
        verify(v_default,
               sign_with("HS256", key2, 32, HDR256, "{\"sub\":1,\"sub\":2"),
               NULL),
        PV_TOKEN_BAD_SIGNATURE);
}
END_TEST

START_TEST(claims_untouched_on_failure)
{
    pv_token_claims_t c;

    memset(&c, 0x5a, sizeof(c));
    ck_assert_int_eq(verify_at(v_default, JWS_HS256_K1, EXP + 100, &c),
                     PV_TOKEN_EXPIRED);
    ck_assert_uint_eq(c.sub, 0x5a5a5a5a5a5a5a5aULL);
    ck_assert_int_eq(c.has_ver, 0x5a5a5a5a);
}
END_TEST

static const struct {
    const char *header;
    const char *sign_alg; /* NULL: empty signature */
    int key;              /* 1 or 2 */
    int all_algs;         /* verify with v_all instead of v_default */
    pv_token_result_e want;
    const char *want_kid;
} headers[] = {
    {HDR256, "HS256", 1, 0, PV_TOKEN_OK, "k1"},
    {"{\"alg\":\"HS256\"}", "HS256", 1, 0, PV_TOKEN_OK, "k1"},
    {"{\"typ\":\"JWT\",\"alg\":\"HS256\"}", "HS256", 1, 0, PV_TOKEN_OK, "k1"},
    {"{\"alg\":\"HS256\",\"kid\":\"k2\"}", "HS256", 2, 0, PV_TOKEN_OK, "k2"},
    {"{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", "HS256", 1, 0, PV_TOKEN_OK,
     "k1"},
    /* no kid: the signing key, and only it */
    {"{\"alg\":\"HS256\"}", "HS256", 2, 0, PV_TOKEN_BAD_SIGNATURE, NULL},
    {"{\"alg\":\"HS256\",\"kid\":\"k1\"}", "HS256", 2, 0,
     PV_TOKEN_BAD_SIGNATURE, NULL},
    {"{\"alg\":\"HS256\",\"kid\":\"k3\"}", "HS256", 1, 0, PV_TOKEN_UNKNOWN_KID,
     NULL},
    {"{\"alg\":\"HS256\",\"kid\":\"\"}", "HS256", 1, 0, PV_TOKEN_UNKNOWN_KID,
     NULL},
    {"{\"alg\":\"HS256\",\"kid\":\"K1\"}", "HS256", 1, 0, PV_TOKEN_UNKNOWN_KID,
     NULL},
    {"{\"alg\":\"HS256\",\"kid\":1}", "HS256", 1, 0, PV_TOKEN_BAD_HEADER, NULL},
    {"{\"alg\":\"HS256\",\"typ\":1}", "HS256", 1, 0, PV_TOKEN_BAD_HEADER, NULL},
    {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "HS256", 1, 0,
     PV_TOKEN_BAD_HEADER, NULL},
    /* never none, in any spelling, with or without a signature */
    {"{\"alg\":\"none\"}", NULL, 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"None\"}", NULL, 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"NONE\"}", NULL, 1, 1, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"nOnE\"}", NULL, 1, 1, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"none\",\"kid\":\"k1\"}", "HS256", 1, 1, PV_TOKEN_BAD_ALG,
     NULL},
    {"{\"typ\":\"JWT\",\"kid\":\"k1\"}", "HS256", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":null}", "HS256", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":256}", "HS256", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"hs256\"}", "HS256", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"HS256 \"}", "HS256", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"RS256\"}", "HS256", 1, 1, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"ES256\"}", "HS256", 1, 1, PV_TOKEN_BAD_ALG, NULL},
    /* HS384 and HS512 only when allowed */
    {"{\"alg\":\"HS384\"}", "HS384", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"HS512\"}", "HS512", 1, 0, PV_TOKEN_BAD_ALG, NULL},
    {"{\"alg\":\"HS384\"}", "HS384", 1, 1, PV_TOKEN_OK, "k1"},
    {"{\"alg\":\"HS512\",\"kid\":\"k2\"}", "HS512", 2, 1, PV_TOKEN_OK, "k2"},
    /* the header names the algorithm the signature must have been made with */
    {"{\"alg\":\"HS512\"}", "HS256", 1, 1, PV_TOKEN_BAD_SIGNATURE, NULL},
    {"{\"alg\":\"HS256\"}", "HS512", 1, 1, PV_TOKEN_BAD_SIGNATURE, NULL},
    /* strict JSON */
    {"{\"alg\":\"HS256\",\"alg\":\"none\"}", "HS256", 1, 0,
     PV_TOKEN_DUPLICATE_KEY, NULL},
    {"{\"alg\":\"HS256\",\"kid\":\"k1\",\"kid\":\"k2\"}", "HS256", 1, 0,
     PV_TOKEN_DUPLICATE_KEY, NULL},
    {"{\"alg\":\"HS256\"}x", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"{\"alg\":\"HS256\"}{}", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"{\"alg\":\"HS256\",}", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"{'alg':'HS256'}", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"[\"HS256\"]", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"\"HS256\"", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    {"", "HS256", 1, 0, PV_TOKEN_BAD_JSON, NULL},
    /* nesting in the unauthenticated header is bounded */
    {"{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", "HS256", 1,
     0, PV_TOKEN_BAD_JSON, NULL},
    {"{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}", "HS256", 1, 0,
     PV_TOKEN_OK, "k1"},
    /* an expiry in the header is the itsdangerous format */
    {"{\"alg\":\"HS256\",\"exp\":1700086400}", "HS256", 1, 1,
     PV_TOKEN_LEGACY_DISABLED, NULL},
};

START_TEST(header_rules)
{
    pv_token_claims_t c;
    const char *tok =
        sign_with(headers[_i].sign_alg, headers[_i].key == 1 ? key1 : key2, 32,
                  headers[_i].header, CLAIMS);
    pv_token_result_e r =
        verify(headers[_i].all_algs ? v_all : v_default, tok, &c);

    ck_assert_msg(r == headers[_i].want, "header %s: got '%s', want '%s'",
                  headers[_i].header, pv_token_result_str(r),
                  pv_token_result_str(headers[_i].want));
    if (r == PV_TOKEN_OK) {
        ck_assert_str_eq(c.kid, headers[_i].want_kid);
        ck_assert_uint_eq(c.sub, 7);
    }
}
END_TEST

#define C_(rest)   "{\"aud\":\"preview\",\"iat\":1700000000," rest "}"
#define C_SUB(sub) C_("\"exp\":1700086400,\"ver\":3,\"sub\":" sub)
#define C_EXP(exp) C_("\"sub\":\"7\",\"ver\":3,\"exp\":" exp)
#define C_VER(ver) C_("\"sub\":\"7\",\"exp\":1700086400,\"ver\":" ver)
#define C_AUD(aud)                                                             \
    "{\"sub\":\"7\",\"exp\":1700086400,\"ver\":3,\"aud\":" aud "}"
#define C_IMG(img) C_("\"sub\":\"7\",\"exp\":1700086400,\"ver\":3,\"img\":" img)
#define C_IAT(iat)                                                             \
    "{\"sub\":\"7\",\"aud\":\"preview\",\"exp\":1700086400,\"ver\":3,"         \
    "\"iat\":" iat "}"

static const struct {
    const char *claims;
    pv_token_result_e want;
} claims[] = {
    {CLAIMS, PV_TOKEN_OK},
    /* exp: required, integer, in the future with 30 s leeway (now is
     * 1700000060) */
    {C_("\"sub\":\"7\",\"ver\":3"), PV_TOKEN_MISSING_CLAIM},
    {C_EXP("1700000031"), PV_TOKEN_OK},
    {C_EXP("1700000030"), PV_TOKEN_EXPIRED},
    {C_EXP("1700000029"), PV_TOKEN_EXPIRED},
    {C_EXP("0"), PV_TOKEN_EXPIRED},
    {C_EXP("-9223372036854775808"), PV_TOKEN_EXPIRED},
    {C_EXP("9223372036854775807"), PV_TOKEN_OK},
    {C_EXP("\"1700086400\""), PV_TOKEN_BAD_CLAIM},
    {C_EXP("1700086400.0"), PV_TOKEN_BAD_CLAIM},
    {C_EXP("null"), PV_TOKEN_BAD_CLAIM},
    {C_EXP("99999999999999999999"), PV_TOKEN_BAD_JSON},
    /* iat optional, not in the future beyond the leeway; nbf likewise */
    {C_IAT("1700000090"), PV_TOKEN_OK},
    {C_IAT("1700000091"), PV_TOKEN_NOT_YET_VALID},
    {C_IAT("\"1700000000\""), PV_TOKEN_BAD_CLAIM},
    {"{\"sub\":\"7\",\"aud\":\"preview\",\"exp\":1700086400,\"ver\":3}",
     PV_TOKEN_OK},
    {C_IAT("1700000000,\"nbf\":1700000090"), PV_TOKEN_OK},
    {C_IAT("1700000000,\"nbf\":1700000091"), PV_TOKEN_NOT_YET_VALID},
    {C_IAT("1700000000,\"nbf\":\"soon\""), PV_TOKEN_BAD_CLAIM},
    /* aud: "preview", or an array holding it (RFC 7519 4.1.3) */
    {"{\"sub\":\"7\",\"exp\":1700086400,\"ver\":3}", PV_TOKEN_MISSING_CLAIM},
    {C_AUD("\"Preview\""), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("\"preview \""), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("\"login\""), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("[\"login\",\"preview\"]"), PV_TOKEN_OK},
    {C_AUD("[\"preview\"]"), PV_TOKEN_OK},
    {C_AUD("[]"), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("[\"login\"]"), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("[[\"preview\"]]"), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("7"), PV_TOKEN_BAD_AUDIENCE},
    {C_AUD("null"), PV_TOKEN_BAD_AUDIENCE},
    /* sub: a decimal user id string, 1..2^64-1, one spelling */
    {C_("\"exp\":1700086400,\"ver\":3"), PV_TOKEN_MISSING_CLAIM},
    {C_SUB("\"18446744073709551615\""), PV_TOKEN_OK},
    {C_SUB("\"18446744073709551616\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"99999999999999999999\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"123456789012345678901\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"00000000000000000007\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"+7\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"-7\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\" 7\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"7 \""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"07\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"0\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"7a\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"0x7\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"7.0\""), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("\"\\u0037\""), PV_TOKEN_OK}, /* JSON escape of "7" is "7" */
    {C_SUB("\"7\\u0000\""), PV_TOKEN_BAD_JSON},
    {C_SUB("7"), PV_TOKEN_BAD_SUBJECT},
    {C_SUB("null"), PV_TOKEN_BAD_SUBJECT},
    /* ver: required, 0..2^32-1 */
    {C_("\"sub\":\"7\",\"exp\":1700086400"), PV_TOKEN_MISSING_CLAIM},
    {C_VER("0"), PV_TOKEN_OK},
    {C_VER("4294967295"), PV_TOKEN_OK},
    {C_VER("4294967296"), PV_TOKEN_BAD_CLAIM},
    {C_VER("-1"), PV_TOKEN_BAD_CLAIM},
    {C_VER("\"3\""), PV_TOKEN_BAD_CLAIM},
    {C_VER("3.0"), PV_TOKEN_BAD_CLAIM},
    /* strict JSON: duplicates (also nested), trailing text */
    {C_SUB("\"7\",\"sub\":\"8\""), PV_TOKEN_DUPLICATE_KEY},
    {C_EXP("1700086400,\"exp\":1700000000"), PV_TOKEN_DUPLICATE_KEY},
    {C_SUB("\"7\",\"x\":{\"a\":1,\"a\":2}"), PV_TOKEN_DUPLICATE_KEY},
    {CLAIMS "x", PV_TOKEN_BAD_JSON},
    {CLAIMS "{}", PV_TOKEN_BAD_JSON},
    {CLAIMS ",", PV_TOKEN_BAD_JSON},
    {"[" CLAIMS "]", PV_TOKEN_BAD_JSON},
    {"null", PV_TOKEN_BAD_JSON},
    {"{\"sub\":\"7\"", PV_TOKEN_BAD_JSON},
    /* img (a URL token): optional, a decimal image id string spelled as sub
     * is */
    {C_IMG("\"42\""), PV_TOKEN_OK},
    {C_IMG("\"18446744073709551615\""), PV_TOKEN_OK},
    {C_IMG("42"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("42.0"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"18446744073709551616\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"123456789012345678901\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"042\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"0\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"+42\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"-42\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\" 42\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"42 \""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"4a\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"0x2a\""), PV_TOKEN_BAD_CLAIM},
    {C_IMG("null"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("true"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("[\"42\"]"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("{}"), PV_TOKEN_BAD_CLAIM},
    {C_IMG("\"42\",\"img\":\"43\""), PV_TOKEN_DUPLICATE_KEY},
    {C_IMG("\"42\\u0000\""), PV_TOKEN_BAD_JSON},
    /* other claims are ignored */
    {C_SUB("\"7\",\"jti\":\"abc\",\"iss\":\"https://x\",\"scope\":[1]"),
     PV_TOKEN_OK},
};

START_TEST(claim_rules)
{
    pv_token_result_e r = verify_claims(claims[_i].claims);

    ck_assert_msg(r == claims[_i].want, "claims %s: got '%s', want '%s'",
                  claims[_i].claims, pv_token_result_str(r),
                  pv_token_result_str(claims[_i].want));
}
END_TEST

START_TEST(claim_values)
{
    pv_token_claims_t c;

    ck_assert_int_eq(verify(v_default,
                            sign_with("HS256", key1, 32, HDR256,
                                      C_SUB("\"18446744073709551615\"")),
                            &c),
                     PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, APR_UINT64_MAX);
    ck_assert_int_eq(
        verify(v_default,
               sign_with("HS256", key1, 32, HDR256, C_VER("4294967295")), &c),
        PV_TOKEN_OK);
    ck_assert_uint_eq(c.ver, 4294967295U);
    ck_assert_int_eq(c.has_ver, 1);
    /* iat absent reads as 0 */
    ck_assert_int_eq(
        verify(
            v_default,
            sign_with("HS256", key1, 32, HDR256,
                      "{\"sub\":\"12\",\"aud\":\"preview\",\"exp\":1700086400,"
                      "\"ver\":0}"),
            &c),
        PV_TOKEN_OK);
    ck_assert_int_eq(c.iat, 0);
    ck_assert_uint_eq(c.sub, 12);
    ck_assert_uint_eq(c.ver, 0);
}
END_TEST

/* HS256, kid k1, signed with k1, into *c */
static pv_token_result_e verify_k1(const char *claims, pv_token_claims_t *c)
{
    return verify(v_default, sign_with("HS256", key1, 32, HDR256, claims), c);
}

START_TEST(img_values)
{
    pv_token_claims_t c;

    /* a login token has no image */
    ck_assert_int_eq(verify(v_default, JWS_HS256_K1, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.img, 0);
    ck_assert_int_eq(verify(v_default, JWS_URL_K1, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.img, 42);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_uint_eq(c.ver, 3);
    ck_assert_int_eq(c.exp, 1700003600);
    ck_assert_int_eq(verify_k1(C_IMG("\"18446744073709551615\""), &c),
                     PV_TOKEN_OK);
    ck_assert_uint_eq(c.img, APR_UINT64_MAX);
    /* a refused img leaves the claims untouched */
    c.img = 99;
    ck_assert_int_eq(verify_k1(C_IMG("42"), &c), PV_TOKEN_BAD_CLAIM);
    ck_assert_uint_eq(c.img, 99);
}
END_TEST

START_TEST(leeway_zero)
{
    pv_token_verifier_t *v;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_SUCCESS);
    ck_assert_int_eq(verify_at(v, JWS_HS256_K1, EXP - 1, NULL), PV_TOKEN_OK);
    ck_assert_int_eq(verify_at(v, JWS_HS256_K1, EXP, NULL), PV_TOKEN_EXPIRED);
    ck_assert_int_eq(verify_at(v, JWS_HS256_K1, IAT, NULL), PV_TOKEN_OK);
    ck_assert_int_eq(verify_at(v, JWS_HS256_K1, IAT - 1, NULL),
                     PV_TOKEN_NOT_YET_VALID);
    /* with the default verifier's 30 s */
    ck_assert_int_eq(verify_at(v_default, JWS_HS256_K1, EXP + 29, NULL),
                     PV_TOKEN_OK);
    ck_assert_int_eq(verify_at(v_default, JWS_HS256_K1, EXP + 30, NULL),
                     PV_TOKEN_EXPIRED);
    ck_assert_int_eq(verify_at(v_default, JWS_HS256_K1, IAT - 30, NULL),
                     PV_TOKEN_OK);
    ck_assert_int_eq(verify_at(v_default, JWS_HS256_K1, IAT - 31, NULL),
                     PV_TOKEN_NOT_YET_VALID);
}
END_TEST

START_TEST(mint_roundtrip)
{
    static const pv_alg_e algs[] = {PV_ALG_HS256, PV_ALG_HS384, PV_ALG_HS512};
    pv_token_claims_t c;
    const char *tok;
    int i;

    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(
            pv_token_mint(&tok, ring, algs[i], 42, 5, NOW, 600, pool),
            APR_SUCCESS);
        ck_assert_int_eq(verify(v_all, tok, &c), PV_TOKEN_OK);
        ck_assert_uint_eq(c.sub, 42);
        ck_assert_uint_eq(c.ver, 5);
        ck_assert_int_eq(c.has_ver, 1);
        ck_assert_int_eq(c.iat, NOW);
        ck_assert_int_eq(c.exp, NOW + 600);
        ck_assert_int_eq(c.alg, algs[i]);
        ck_assert_str_eq(c.kid, "k1");
        ck_assert_int_eq(verify(v_default, tok, NULL), algs[i] == PV_ALG_HS256
                                                           ? PV_TOKEN_OK
                                                           : PV_TOKEN_BAD_ALG);
    }
}
END_TEST

START_TEST(mint_exact_text)
{
    const char *tok;

    ck_assert_int_eq(
        pv_token_mint(&tok, ring, PV_ALG_HS256, 7, 3, IAT, EXP - IAT, pool),
        APR_SUCCESS);
    /* the same bytes as the independent Python vector */
    ck_assert_str_eq(tok, JWS_HS256_K1);
}
END_TEST

START_TEST(mint_url_token)
{
    pv_token_mint_t m = {7, 3, 42, IAT, 1700003600};
    pv_token_claims_t c;
    const char *tok, *again;

    ck_assert_int_eq(pv_token_mint_claims(&tok, ring, PV_ALG_HS256, &m, pool),
                     APR_SUCCESS);
    /* the same bytes as the independent Python vector */
    ck_assert_str_eq(tok, JWS_URL_K1);
    /* the same claims, the same token: what keeps a URL stable */
    ck_assert_int_eq(pv_token_mint_claims(&again, ring, PV_ALG_HS256, &m, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(again, tok);
    m.img = APR_UINT64_MAX;
    ck_assert_int_eq(pv_token_mint_claims(&tok, ring, PV_ALG_HS512, &m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(verify(v_all, tok, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.img, APR_UINT64_MAX);
    ck_assert_int_eq(c.iat, IAT);
    ck_assert_int_eq(c.exp, 1700003600);
    /* img 0: a login token, byte for byte what pv_token_mint makes */
    m.img = 0;
    m.exp = EXP;
    ck_assert_int_eq(pv_token_mint_claims(&tok, ring, PV_ALG_HS256, &m, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(tok, JWS_HS256_K1);
}
END_TEST

START_TEST(mint_claims_refuses)
{
    static const pv_token_mint_t bad[] = {
        {0, 0, 42, IAT, EXP},                              /* sub 0 */
        {7, 0, 42, -1, EXP},                               /* iat < 0 */
        {7, 0, 42, IAT, IAT},                              /* exp = iat */
        {7, 0, 42, IAT, IAT - 1},                          /* exp < iat */
        {7, 0, 42, 0, APR_INT64_C(86400 * 365 * 100) + 1}, /* > 100 years */
        {7, 0, 42, 0, APR_INT64_MAX},
    };
    const pv_token_mint_t ok = {7, 0, 42, IAT, EXP};
    const char *tok = NULL;
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(
            pv_token_mint_claims(&tok, ring, PV_ALG_HS256, &bad[i], pool),
            APR_EINVAL);
    }
    ck_assert_int_eq(pv_token_mint_claims(&tok, ring, 0, &ok, pool),
                     APR_EINVAL);
    ck_assert_ptr_null(tok);
}
END_TEST

START_TEST(url_times)
{
    apr_int64_t iat = 0, exp = 0, iat2 = 0, exp2 = 0, t;

    /* 3600 s: windows of 1800 s; 1700000060 lies in the one starting at
     * 1699999200 */
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 3600, 0), APR_SUCCESS);
    ck_assert_int_eq(iat, 1699999200);
    ck_assert_int_eq(exp, 1699999200 + 3600);
    /* every second of the window gives the same pair */
    for (t = 1699999200; t < 1699999200 + 1800; t += 7) {
        ck_assert_int_eq(pv_token_url_times(&iat2, &exp2, t, 3600, 0),
                         APR_SUCCESS);
        ck_assert_int_eq(iat2, iat);
        ck_assert_int_eq(exp2, exp);
        /* more than half the lifetime left, never more than all of it */
        ck_assert_int_gt(exp2 - t, 1800);
        ck_assert_int_le(exp2 - t, 3600);
    }
    ck_assert_int_eq(
        pv_token_url_times(&iat2, &exp2, 1699999200 + 1799, 3600, 0),
        APR_SUCCESS);
    ck_assert_int_eq(exp2, exp);
    /* the next window, the next pair */
    ck_assert_int_eq(
        pv_token_url_times(&iat2, &exp2, 1699999200 + 1800, 3600, 0),
        APR_SUCCESS);
    ck_assert_int_eq(iat2, 1699999200 + 1800);
    ck_assert_int_eq(exp2, 1699999200 + 1800 + 3600);
    /* capped by the login token's exp, never past it */
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 3600, NOW + 10),
                     APR_SUCCESS);
    ck_assert_int_eq(iat, 1699999200);
    ck_assert_int_eq(exp, NOW + 10);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 3600, NOW + 99999),
                     APR_SUCCESS);
    ck_assert_int_eq(exp, 1699999200 + 3600);
    /* tiny lifetimes: windows of at least one second */
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 1, 0), APR_SUCCESS);
    ck_assert_int_eq(iat, NOW);
    ck_assert_int_eq(exp, NOW + 1);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW + 1, 5, 0),
                     APR_SUCCESS);
    ck_assert_int_eq(iat, NOW); /* windows of 2 s */
    ck_assert_int_eq(exp, NOW + 5);
    /* refusals */
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 0, 0), APR_EINVAL);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, -1, 0), APR_EINVAL);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW,
                                        APR_INT64_C(86400 * 365 * 100) + 1, 0),
                     APR_EINVAL);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, -1, 60, 0), APR_EINVAL);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 60, NOW), APR_EINVAL);
    ck_assert_int_eq(pv_token_url_times(&iat, &exp, NOW, 60, NOW - 1),
                     APR_EINVAL);
}
END_TEST

START_TEST(mint_refuses)
{
    const char *tok = NULL;
    pv_keyring_t *bad = pv_keyring_make(pool);

    ck_assert_int_eq(
        pv_token_mint(&tok, ring, PV_ALG_HS256, 0, 0, NOW, 60, pool),
        APR_EINVAL);
    ck_assert_int_eq(
        pv_token_mint(&tok, ring, PV_ALG_HS256, 1, 0, NOW, 0, pool),
        APR_EINVAL);
    ck_assert_int_eq(pv_token_mint(&tok, ring, 0, 1, 0, NOW, 60, pool),
                     APR_EINVAL);
    /* now + ttl must not overflow */
    ck_assert_int_eq(
        pv_token_mint(&tok, ring, PV_ALG_HS256, 1, 0, NOW, APR_INT64_MAX, pool),
        APR_EINVAL);
    ck_assert_int_eq(
        pv_token_mint(&tok, bad, PV_ALG_HS256, 1, 0, NOW, 60, pool),
        APR_EINVAL);
    /* a kid that would need JSON escaping is never written */
    pv_keyring_add(bad, "k\"1", key1, 32);
    ck_assert_int_eq(
        pv_token_mint(&tok, bad, PV_ALG_HS256, 1, 0, NOW, 60, pool),
        APR_EINVAL);
    ck_assert_ptr_null(tok);
}
END_TEST

static pv_keyring_t *ring_of(const char *text)
{
    pv_keyring_t *r = NULL;
    const char *err;

    ck_assert_int_eq(pv_keyring_parse(&r, &err, text, strlen(text), "r", pool),
                     APR_SUCCESS);
    return r;
}

static pv_token_verifier_t *verifier_of(pv_keyring_t *r)
{
    pv_token_verifier_t *v = NULL;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = r;
    cfg.leeway = LEEWAY;
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_SUCCESS);
    return v;
}

#define OLD_LINE "old AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
#define NEW_LINE "new ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"

START_TEST(rotation)
{
    pv_keyring_t *before = ring_of(OLD_LINE);
    pv_keyring_t *during = ring_of(NEW_LINE OLD_LINE);
    pv_keyring_t *after = ring_of(NEW_LINE);
    pv_token_claims_t c;
    const char *old_tok, *new_tok;

    ck_assert_int_eq(
        pv_token_mint(&old_tok, before, PV_ALG_HS256, 7, 0, NOW, 600, pool),
        APR_SUCCESS);
    /* the old key still verifies while it is in the ring */
    ck_assert_int_eq(verify(verifier_of(during), old_tok, &c), PV_TOKEN_OK);
    ck_assert_str_eq(c.kid, "old");
    /* new tokens are signed by the first key */
    ck_assert_int_eq(
        pv_token_mint(&new_tok, during, PV_ALG_HS256, 7, 0, NOW, 600, pool),
        APR_SUCCESS);
    ck_assert_int_eq(verify(verifier_of(during), new_tok, &c), PV_TOKEN_OK);
    ck_assert_str_eq(c.kid, "new");
    ck_assert_int_eq(verify(verifier_of(after), new_tok, &c), PV_TOKEN_OK);
    /* once the old key is removed, its tokens are refused */
    ck_assert_int_eq(verify(verifier_of(after), old_tok, NULL),
                     PV_TOKEN_UNKNOWN_KID);
    ck_assert_int_eq(verify(verifier_of(before), new_tok, NULL),
                     PV_TOKEN_UNKNOWN_KID);
}
END_TEST

START_TEST(legacy_vectors)
{
    pv_token_claims_t c;

    ck_assert_int_eq(verify(v_legacy, LEGACY_HS512_RAW, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_int_eq(c.legacy, 1);
    ck_assert_int_eq(c.has_ver, 0);
    ck_assert_ptr_null(c.kid);
    ck_assert_int_eq(c.alg, PV_ALG_HS512);
    ck_assert_int_eq(c.iat, IAT);
    ck_assert_int_eq(c.exp, EXP);

    ck_assert_int_eq(verify(v_legacy, LEGACY_HS256_RAW, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_int_eq(c.alg, PV_ALG_HS256);
    ck_assert_int_eq(c.legacy, 1);

    ck_assert_int_eq(verify(v_salted, LEGACY_HS512_SALTED, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_int_eq(c.legacy, 1);

    ck_assert_int_eq(verify(v_legacy, LEGACY_HS512_STRUID, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 42);

    ck_assert_int_eq(verify(v_userid, LEGACY_HS512_USERID, &c), PV_TOKEN_OK);
    ck_assert_uint_eq(c.sub, 9);
}
END_TEST

START_TEST(legacy_refusals)
{
    /* raw and salted keys are not interchangeable */
    ck_assert_int_eq(verify(v_salted, LEGACY_HS512_RAW, NULL),
                     PV_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(verify(v_legacy, LEGACY_HS512_SALTED, NULL),
                     PV_TOKEN_BAD_SIGNATURE);
    /* off unless enabled */
    ck_assert_int_eq(verify(v_default, LEGACY_HS512_RAW, NULL),
                     PV_TOKEN_LEGACY_DISABLED);
    ck_assert_int_eq(verify(v_all, LEGACY_HS256_RAW, NULL),
                     PV_TOKEN_LEGACY_DISABLED);
    /* the field is configurable, and only that field counts */
    ck_assert_int_eq(verify(v_legacy, LEGACY_HS512_USERID, NULL),
                     PV_TOKEN_MISSING_CLAIM);
    ck_assert_int_eq(verify(v_userid, LEGACY_HS512_RAW, NULL),
                     PV_TOKEN_MISSING_CLAIM);
    /* expiry from the header, with the leeway */
    ck_assert_int_eq(verify_at(v_legacy, LEGACY_HS512_RAW, EXP + 29, NULL),
                     PV_TOKEN_OK);
    ck_assert_int_eq(verify_at(v_legacy, LEGACY_HS512_RAW, EXP + 30, NULL),
                     PV_TOKEN_EXPIRED);
    ck_assert_int_eq(verify_at(v_legacy, LEGACY_HS512_RAW, IAT - 31, NULL),
                     PV_TOKEN_NOT_YET_VALID);
    /* a legacy-shaped token signed with a ring key is not legacy-valid */
    ck_assert_int_eq(
        verify(v_legacy,
               sign_with("HS512", key1, 32, LEGACY_HDR("HS512"), "{\"uid\":7}"),
               NULL),
        PV_TOKEN_BAD_SIGNATURE);
    /* and the legacy secret does not sign JWTs */
    ck_assert_int_eq(
        verify(v_legacy,
               sign_with("HS256", LEGACY_SECRET, strlen(LEGACY_SECRET),
                         "{\"alg\":\"HS256\"}", CLAIMS),
               NULL),
        PV_TOKEN_BAD_SIGNATURE);
    /* JWTs keep working next to legacy tokens */
    ck_assert_int_eq(verify(v_legacy, JWS_HS256_K1, NULL), PV_TOKEN_OK);
}
END_TEST

static const struct {
    const char *header;
    const char *sign_alg;
    const char *payload;
    pv_token_result_e want;
} legacy[] = {
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":7}", PV_TOKEN_OK},
    {LEGACY_HDR("HS384"), "HS384", "{\"uid\":7}", PV_TOKEN_OK},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":\"7\"}", PV_TOKEN_OK},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":9223372036854775807}",
     PV_TOKEN_OK},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":7,\"name\":\"x\"}", PV_TOKEN_OK},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":0}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":-7}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":\"07\"}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":\"-7\"}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":7.0}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":true}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":null}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":[7]}", PV_TOKEN_BAD_SUBJECT},
    {LEGACY_HDR("HS512"), "HS512", "{}", PV_TOKEN_MISSING_CLAIM},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":7,\"uid\":8}",
     PV_TOKEN_DUPLICATE_KEY},
    {LEGACY_HDR("HS512"), "HS512", "{\"uid\":7}x", PV_TOKEN_BAD_JSON},
    {LEGACY_HDR("HS512"), "HS512", "[7]", PV_TOKEN_BAD_JSON},
    {LEGACY_HDR("none"), NULL, "{\"uid\":7}", PV_TOKEN_BAD_ALG},
    {LEGACY_HDR("None"), "HS512", "{\"uid\":7}", PV_TOKEN_BAD_ALG},
    {"{\"iat\":1700000000,\"exp\":1700086400}", "HS512", "{\"uid\":7}",
     PV_TOKEN_BAD_ALG},
    {LEGACY_HDR("HS512"), "HS256", "{\"uid\":7}", PV_TOKEN_BAD_SIGNATURE},
    {"{\"alg\":\"HS512\",\"exp\":\"1700086400\"}", "HS512", "{\"uid\":7}",
     PV_TOKEN_BAD_CLAIM},
    {"{\"alg\":\"HS512\",\"exp\":1700000000}", "HS512", "{\"uid\":7}",
     PV_TOKEN_EXPIRED},
    {"{\"alg\":\"HS512\",\"iat\":1700000091,\"exp\":1700086400}", "HS512",
     "{\"uid\":7}", PV_TOKEN_NOT_YET_VALID},
    {"{\"alg\":\"HS512\",\"exp\":1700086400,\"exp\":1700086401}", "HS512",
     "{\"uid\":7}", PV_TOKEN_DUPLICATE_KEY},
    {"{\"alg\":\"HS512\",\"exp\":1700086400,\"crit\":[\"x\"]}", "HS512",
     "{\"uid\":7}", PV_TOKEN_BAD_HEADER},
};

START_TEST(legacy_rules)
{
    pv_token_claims_t c;
    const char *tok =
        sign_with(legacy[_i].sign_alg, LEGACY_SECRET, strlen(LEGACY_SECRET),
                  legacy[_i].header, legacy[_i].payload);
    pv_token_result_e r = verify(v_legacy, tok, &c);

    ck_assert_msg(r == legacy[_i].want, "legacy %s %s: got '%s', want '%s'",
                  legacy[_i].header, legacy[_i].payload, pv_token_result_str(r),
                  pv_token_result_str(legacy[_i].want));
    if (r == PV_TOKEN_OK) {
        ck_assert_int_eq(c.legacy, 1);
        ck_assert_int_eq(c.has_ver, 0);
        ck_assert_uint_eq(c.sub, strstr(legacy[_i].payload, "922337")
                                     ? 9223372036854775807ULL
                                     : 7);
    }
}
END_TEST

START_TEST(legacy_long_secret)
{
    /* a SECRET_KEY longer than an HMAC block is hashed by HMAC itself */
    static const char secret[] =
        "0123456789012345678901234567890123456789012345678901234567890123456"
        "789012345678901234567890123456789012345678901234567890123456789";
    pv_token_verifier_t *v;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    cfg.legacy = PV_LEGACY_ITSDANGEROUS;
    cfg.legacy_secret = (const unsigned char *)secret;
    cfg.legacy_secret_len = strlen(secret);
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_SUCCESS);
    ck_assert_int_eq(verify(v,
                            sign_with("HS512", secret, strlen(secret),
                                      LEGACY_HDR("HS512"), "{\"uid\":7}"),
                            NULL),
                     PV_TOKEN_OK);
}
END_TEST

START_TEST(verifier_make_refuses)
{
    pv_token_verifier_t *v = NULL;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_EINVAL);
    cfg.ring = pv_keyring_make(pool);
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_EINVAL);
    cfg.ring = ring;
    cfg.algs = 1 << 5;
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_EINVAL);
    cfg.algs = 0;
    cfg.legacy = PV_LEGACY_ITSDANGEROUS;
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_EINVAL);
    ck_assert_ptr_null(v);
}
END_TEST

START_TEST(result_strings)
{
    const char *seen[PV_TOKEN_BAD_HEADER + 1];
    int i, j;

    ck_assert_str_eq(pv_token_result_str(PV_TOKEN_OK), "ok");
    ck_assert_str_eq(pv_token_result_str(PV_TOKEN_EXPIRED), "expired");
    ck_assert_str_eq(pv_token_result_str(PV_TOKEN_BAD_SIGNATURE),
                     "bad signature");
    ck_assert_str_eq(pv_token_result_str(PV_TOKEN_BAD_AUDIENCE),
                     "wrong audience");
    for (i = 0; i <= PV_TOKEN_BAD_HEADER; i++) {
        seen[i] = pv_token_result_str((pv_token_result_e)i);
        ck_assert_str_ne(seen[i], "unknown");
        for (j = 0; j < i; j++) {
            ck_assert_str_ne(seen[i], seen[j]);
        }
    }
    ck_assert_str_eq(pv_token_result_str((pv_token_result_e)99), "unknown");
}
END_TEST

START_TEST(alg_names)
{
    ck_assert_str_eq(pv_token_alg_str(PV_ALG_HS384), "HS384");
    ck_assert_ptr_null(pv_token_alg_str(0));
    ck_assert_int_eq(pv_token_alg_parse("HS512"), PV_ALG_HS512);
    ck_assert_int_eq(pv_token_alg_parse("hs512"), 0);
    ck_assert_int_eq(pv_token_alg_parse("none"), 0);
    ck_assert_int_eq(pv_token_alg_parse(NULL), 0);
}
END_TEST

static const char *write_tmp(const char *content, size_t n)
{
    char *path = apr_pstrdup(pool, "/tmp/pv-token-XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

START_TEST(legacy_secret_file)
{
    const unsigned char *sec = NULL;
    const char *err = NULL, *path;
    apr_size_t len = 0;

    path = write_tmp("s3cret\r\n", 8);
    ck_assert_int_eq(pv_token_legacy_secret_load(&sec, &len, &err, path, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(memcmp(sec, "s3cret", 6), 0);
    unlink(path);

    path = write_tmp(" keep spaces ", 13);
    ck_assert_int_eq(pv_token_legacy_secret_load(&sec, &len, &err, path, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 13);
    unlink(path);

    path = write_tmp("\n", 1);
    ck_assert_int_eq(pv_token_legacy_secret_load(&sec, &len, &err, path, pool),
                     APR_EINVAL);
    ck_assert_str_eq(
        err, apr_pstrcat(pool, path, ": legacy secret file is empty", NULL));
    unlink(path);

    ck_assert_int_ne(pv_token_legacy_secret_load(&sec, &len, &err,
                                                 "/nonexistent/secret", pool),
                     APR_SUCCESS);
    ck_assert_str_eq(err, "/nonexistent/secret: cannot open legacy secret "
                          "file: No such file or directory");
}
END_TEST

#define THREADS 4
#define ROUNDS  3000

typedef struct {
    const char *good[3];
    const char *bad;
    int ok, refused;
} thread_arg_t;

static void *verify_loop(void *data)
{
    thread_arg_t *a = data;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        pv_token_claims_t c;
        const char *t = a->good[i % 3];
        if (verify(v_all, t, &c) == PV_TOKEN_OK && c.sub == 7) {
            a->ok++;
        }
        if (verify(v_all, a->bad, &c) == PV_TOKEN_BAD_SIGNATURE) {
            a->refused++;
        }
    }
    return NULL;
}

START_TEST(concurrent_verify)
{
    pthread_t th[THREADS];
    thread_arg_t args[THREADS];
    int i;

    for (i = 0; i < THREADS; i++) {
        args[i].good[0] = JWS_HS256_K1;
        args[i].good[1] = sign_with(
            "HS512", key2, 32, "{\"alg\":\"HS512\",\"kid\":\"k2\"}", CLAIMS);
        args[i].good[2] = sign_with(
            "HS384", key1, 32, "{\"alg\":\"HS384\",\"kid\":\"k1\"}", CLAIMS);
        args[i].bad = sign_with("HS256", key2, 32, HDR256, CLAIMS);
        args[i].ok = args[i].refused = 0;
    }
    for (i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, verify_loop, &args[i]),
                         0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].ok, ROUNDS);
        ck_assert_int_eq(args[i].refused, ROUNDS);
    }
}
END_TEST

Suite *pv_test_token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, python_vector_accepted);
    tcase_add_test(tc, empty_refused);
    tcase_add_test(tc, length_bound);
    tcase_add_test(tc, three_parts);
    tcase_add_test(tc, bad_base64url_refused);
    tcase_add_test(tc, signature_checked);
    tcase_add_test(tc, claims_untouched_on_failure);
    tcase_add_loop_test(tc, header_rules, 0,
                        sizeof(headers) / sizeof(headers[0]));
    tcase_add_loop_test(tc, claim_rules, 0, sizeof(claims) / sizeof(claims[0]));
    tcase_add_test(tc, claim_values);
    tcase_add_test(tc, img_values);
    tcase_add_test(tc, leeway_zero);
    tcase_add_test(tc, mint_roundtrip);
    tcase_add_test(tc, mint_exact_text);
    tcase_add_test(tc, mint_url_token);
    tcase_add_test(tc, mint_claims_refuses);
    tcase_add_test(tc, url_times);
    tcase_add_test(tc, mint_refuses);
    tcase_add_test(tc, rotation);
    tcase_add_test(tc, legacy_vectors);
    tcase_add_test(tc, legacy_refusals);
    tcase_add_loop_test(tc, legacy_rules, 0,
                        sizeof(legacy) / sizeof(legacy[0]));
    tcase_add_test(tc, legacy_long_secret);
    tcase_add_test(tc, verifier_make_refuses);
    tcase_add_test(tc, result_strings);
    tcase_add_test(tc, alg_names);
    tcase_add_test(tc, legacy_secret_file);
    tcase_add_test(tc, concurrent_verify);
    suite_add_tcase(s, tc);
    return s;
}
