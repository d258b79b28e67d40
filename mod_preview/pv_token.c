/* Token verification and minting: compact JWS with HMAC, and the legacy
 * itsdangerous TimedJSONWebSignatureSerializer tokens of the origin app. */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "pv_b64url.h"
#include "pv_num.h"
#include "pv_token.h"

#define NALGS 3
/* Decoded parts of a token of at most PV_TOKEN_MAX_LEN characters. */
#define DEC_BUF_LEN       (PV_B64URL_DEC_MAX(PV_TOKEN_MAX_LEN) + 4)
#define LEGACY_SECRET_MAX (64 * 1024)
/* A header is a flat object (at most a "crit" array): more brackets than
 * this are refused before jansson recurses into unauthenticated input. */
#define HEADER_MAX_BRACKETS 16
/* Bounds that keep now +- leeway and now + ttl far from overflow. */
#define LEEWAY_MAX APR_INT64_C(86400 * 365)
#define TTL_MAX    APR_INT64_C(86400 * 365 * 100)

static const struct {
    pv_alg_e alg;
    const char *name;
    const char *digest;
    apr_size_t len;
} algs[NALGS] = {
    {PV_ALG_HS256, "HS256", "SHA256", 32},
    {PV_ALG_HS384, "HS384", "SHA384", 48},
    {PV_ALG_HS512, "HS512", "SHA512", 64},
};

/* A keyed HMAC context waiting for reuse by whichever thread needs it. */
typedef struct mac_slot_t {
    EVP_MAC_CTX *ctx;
    struct mac_slot_t *next;
} mac_slot_t;

/* One key with one algorithm: a keyed template and its idle copies. */
typedef struct mac_key_t {
    EVP_MAC_CTX *tmpl;
    mac_slot_t *idle; /* guarded by pv_token_verifier_t.lock */
} mac_key_t;

struct pv_token_verifier_t {
    const pv_keyring_t *ring;
    int nkeys; /* ring keys at make time; the legacy key follows them */
    int algs;
    apr_int64_t leeway;
    int legacy;
    const char *uid_field;
    EVP_MAC *mac;
    mac_key_t *macs; /* [(nkeys + legacy) * NALGS] */
    int nmacs;
    apr_thread_mutex_t *lock;
    unsigned char *legacy_key; /* raw SECRET_KEY or its SHA1 derivation */
    apr_size_t legacy_key_len;
};

static const char *const result_names[] = {
    [PV_TOKEN_OK] = "ok",
    [PV_TOKEN_EMPTY] = "no token",
    [PV_TOKEN_TOO_LONG] = "token too long",
    [PV_TOKEN_MALFORMED] = "malformed token",
    [PV_TOKEN_BAD_JSON] = "bad json",
    [PV_TOKEN_DUPLICATE_KEY] = "duplicate json key",
    [PV_TOKEN_BAD_ALG] = "algorithm not allowed",
    [PV_TOKEN_UNKNOWN_KID] = "unknown key id",
    [PV_TOKEN_BAD_SIGNATURE] = "bad signature",
    [PV_TOKEN_MISSING_CLAIM] = "missing claim",
    [PV_TOKEN_BAD_CLAIM] = "bad claim",
    [PV_TOKEN_EXPIRED] = "expired",
    [PV_TOKEN_NOT_YET_VALID] = "not yet valid",
    [PV_TOKEN_BAD_AUDIENCE] = "wrong audience",
    [PV_TOKEN_BAD_SUBJECT] = "bad subject",
    [PV_TOKEN_LEGACY_DISABLED] = "legacy tokens disabled",
    [PV_TOKEN_BAD_HEADER] = "unsupported header",
};
#define NRESULTS (sizeof(result_names) / sizeof(result_names[0]))

/* One word per result for the refusal's log line (and the filters that
 * read it): a token we could not have made, or one of ours no longer
 * good. */
static const char *const result_words[] = {
    [PV_TOKEN_OK] = "ok",
    [PV_TOKEN_EMPTY] = "no_token",
    [PV_TOKEN_TOO_LONG] = "malformed",
    [PV_TOKEN_MALFORMED] = "malformed",
    [PV_TOKEN_BAD_JSON] = "malformed",
    [PV_TOKEN_DUPLICATE_KEY] = "malformed",
    [PV_TOKEN_BAD_ALG] = "bad_alg",
    [PV_TOKEN_UNKNOWN_KID] = "unknown_kid",
    [PV_TOKEN_BAD_SIGNATURE] = "bad_signature",
    [PV_TOKEN_MISSING_CLAIM] = "bad_claims",
    [PV_TOKEN_BAD_CLAIM] = "bad_claims",
    [PV_TOKEN_EXPIRED] = "expired",
    [PV_TOKEN_NOT_YET_VALID] = "not_yet_valid",
    [PV_TOKEN_BAD_AUDIENCE] = "wrong_audience",
    [PV_TOKEN_BAD_SUBJECT] = "bad_claims",
    [PV_TOKEN_LEGACY_DISABLED] = "legacy_disabled",
    [PV_TOKEN_BAD_HEADER] = "malformed",
};

const char *pv_token_result_str(pv_token_result_e r)
{
    return (unsigned)r < NRESULTS && result_names[r] ? result_names[r]
                                                     : "unknown";
}

const char *pv_token_result_word(pv_token_result_e r)
{
    return (unsigned)r < NRESULTS && result_words[r] ? result_words[r]
                                                     : "unknown";
}

static int alg_index(pv_alg_e alg)
{
    int i;

    for (i = 0; i < NALGS; i++) {
        if (algs[i].alg == alg) {
            return i;
        }
    }
    return -1;
}

const char *pv_token_alg_str(pv_alg_e alg)
{
    int i = alg_index(alg);

    return i < 0 ? NULL : algs[i].name;
}

pv_alg_e pv_token_alg_parse(const char *name)
{
    int i;

    for (i = 0; name && i < NALGS; i++) {
        if (strcmp(name, algs[i].name) == 0) {
            return algs[i].alg;
        }
    }
    return 0;
}

static apr_status_t verifier_cleanup(void *data)
{
    pv_token_verifier_t *v = data;
    int i;

    for (i = 0; i < v->nmacs; i++) {
        mac_slot_t *s = v->macs[i].idle, *next;
        for (; s; s = next) {
            next = s->next;
            EVP_MAC_CTX_free(s->ctx);
            OPENSSL_free(s);
        }
        v->macs[i].idle = NULL;
        EVP_MAC_CTX_free(v->macs[i].tmpl);
        v->macs[i].tmpl = NULL;
    }
    EVP_MAC_free(v->mac);
    v->mac = NULL;
    if (v->legacy_key) {
        OPENSSL_cleanse(v->legacy_key, v->legacy_key_len);
    }
    return APR_SUCCESS;
}

static mac_slot_t *slot_new(EVP_MAC_CTX *tmpl)
{
    mac_slot_t *s = OPENSSL_zalloc(sizeof(*s));

    if (s && !(s->ctx = EVP_MAC_CTX_dup(tmpl))) {
        OPENSSL_free(s);
        s = NULL;
    }
    return s;
}

static apr_status_t mac_key_init(mac_key_t *mk, EVP_MAC *mac, int alg,
                                 const unsigned char *key, apr_size_t len)
{
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)algs[alg].digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    mk->tmpl = EVP_MAC_CTX_new(mac);
    if (!mk->tmpl || !EVP_MAC_init(mk->tmpl, key, len, params)) {
        return APR_EGENERAL;
    }
    /* one idle context up front: a single-threaded caller never allocates */
    mk->idle = slot_new(mk->tmpl);
    return mk->idle ? APR_SUCCESS : APR_ENOMEM;
}

/* itsdangerous's "django-concat" derivation: SHA1(salt + "signer" + key). */
static apr_status_t legacy_derive(unsigned char *out, apr_size_t *outlen,
                                  const pv_token_config_t *cfg)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    apr_status_t rv = APR_EGENERAL;

    if (md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) &&
        EVP_DigestUpdate(md, cfg->legacy_salt, strlen(cfg->legacy_salt)) &&
        EVP_DigestUpdate(md, "signer", 6) &&
        EVP_DigestUpdate(md, cfg->legacy_secret, cfg->legacy_secret_len) &&
        EVP_DigestFinal_ex(md, out, &n)) {
        *outlen = n;
        rv = APR_SUCCESS;
    }
    EVP_MD_CTX_free(md);
    return rv;
}

apr_status_t pv_token_verifier_make(pv_token_verifier_t **pout,
                                    const pv_token_config_t *cfg, apr_pool_t *p)
{
    pv_token_verifier_t *v;
    apr_status_t rv = APR_SUCCESS;
    int k, a;

    if (!cfg || pv_keyring_count(cfg->ring) == 0 ||
        (cfg->algs & ~(PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512)) ||
        (cfg->legacy == PV_LEGACY_ITSDANGEROUS &&
         (!cfg->legacy_secret || cfg->legacy_secret_len == 0))) {
        return APR_EINVAL;
    }
    v = apr_pcalloc(p, sizeof(*v));
    apr_pool_cleanup_register(p, v, verifier_cleanup, apr_pool_cleanup_null);
    v->ring = cfg->ring;
    v->nkeys = pv_keyring_count(cfg->ring);
    v->algs = cfg->algs ? cfg->algs : PV_ALG_HS256;
    v->leeway = cfg->leeway < 0            ? 0
                : cfg->leeway > LEEWAY_MAX ? LEEWAY_MAX
                                           : cfg->leeway;
    v->legacy = cfg->legacy == PV_LEGACY_ITSDANGEROUS;
    v->uid_field =
        apr_pstrdup(p, cfg->legacy_uid_field ? cfg->legacy_uid_field : "uid");
    rv = apr_thread_mutex_create(&v->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* seed jansson's hash once here rather than racing on first parse */
    json_object_seed(0);
    v->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!v->mac) {
        rv = APR_EGENERAL;
        goto cleanup;
    }
    if (v->legacy) {
        if (cfg->legacy_salt) {
            v->legacy_key = apr_pcalloc(p, EVP_MAX_MD_SIZE);
            rv = legacy_derive(v->legacy_key, &v->legacy_key_len, cfg);
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
        }
        else {
            v->legacy_key =
                apr_pmemdup(p, cfg->legacy_secret, cfg->legacy_secret_len);
            v->legacy_key_len = cfg->legacy_secret_len;
        }
    }
    v->nmacs = (v->nkeys + v->legacy) * NALGS;
    v->macs = apr_pcalloc(p, sizeof(mac_key_t) * (apr_size_t)v->nmacs);
    for (k = 0; k < v->nkeys + v->legacy; k++) {
        const pv_key_t *key = k < v->nkeys ? pv_keyring_get(v->ring, k) : NULL;
        for (a = 0; a < NALGS; a++) {
            if (key) {
                rv = mac_key_init(&v->macs[k * NALGS + a], v->mac, a,
                                  key->secret, key->secret_len);
            }
            else {
                rv = mac_key_init(&v->macs[k * NALGS + a], v->mac, a,
                                  v->legacy_key, v->legacy_key_len);
            }
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
        }
    }
    *pout = v;

cleanup:
    if (rv != APR_SUCCESS && v) {
        verifier_cleanup(v);
        apr_pool_cleanup_kill(p, v, verifier_cleanup);
    }
    return rv;
}

/* HMAC of msg with key slot idx into out; 0 on success. Reuses an idle
 * keyed context (EVP_MAC_init with a NULL key keeps the key), so the
 * steady state neither fetches nor allocates. */
static int mac_compute(const pv_token_verifier_t *v, int idx, const char *msg,
                       apr_size_t n, unsigned char *out, apr_size_t *outlen)
{
    mac_key_t *mk = &v->macs[idx];
    mac_slot_t *s;
    int ok;

    apr_thread_mutex_lock(v->lock);
    s = mk->idle;
    if (s) {
        mk->idle = s->next;
    }
    else {
        s = slot_new(mk->tmpl);
    }
    apr_thread_mutex_unlock(v->lock);
    if (!s) {
        return -1;
    }
    ok = EVP_MAC_init(s->ctx, NULL, 0, NULL) &&
         EVP_MAC_update(s->ctx, (const unsigned char *)msg, n) &&
         EVP_MAC_final(s->ctx, out, outlen, EVP_MAX_MD_SIZE);
    apr_thread_mutex_lock(v->lock);
    s->next = mk->idle;
    mk->idle = s;
    apr_thread_mutex_unlock(v->lock);
    return ok ? 0 : -1;
}

static pv_token_result_e json_parse(json_t **pout, const unsigned char *buf,
                                    apr_size_t len)
{
    json_error_t err;
    json_t *j;

    /* no JSON_DISABLE_EOF_CHECK: text after the object is refused */
    j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        return json_error_code(&err) == json_error_duplicate_key
                   ? PV_TOKEN_DUPLICATE_KEY
                   : PV_TOKEN_BAD_JSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return PV_TOKEN_BAD_JSON;
    }
    *pout = j;
    return PV_TOKEN_OK;
}

static int count_brackets(const unsigned char *s, apr_size_t n)
{
    int count = 0;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        count += s[i] == '{' || s[i] == '[';
    }
    return count;
}

/* A user id: 1 to 20 decimal digits, no sign, no leading zero, no
 * whitespace, 1..2^64-1: one spelling per id. */
static int parse_uid(apr_uint64_t *out, const char *s, apr_size_t n)
{
    return pv_num_parse(out, s, n, APR_UINT64_MAX, PV_NUM_CANONICAL) ? -1 : 0;
}

/* An optional integer claim: 0 absent, 1 present, -1 not an integer. */
static int get_int(json_int_t *out, json_t *obj, const char *name)
{
    json_t *j = json_object_get(obj, name);

    if (!j) {
        return 0;
    }
    if (!json_is_integer(j)) {
        return -1;
    }
    *out = json_integer_value(j);
    return 1;
}

static int aud_ok(json_t *aud)
{
    size_t i;

    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), PV_TOKEN_AUDIENCE) == 0;
    }
    /* RFC 7519 4.1.3: an array of audiences, one of them ours */
    for (i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
        json_t *e = json_array_get(aud, i);
        if (json_is_string(e) &&
            strcmp(json_string_value(e), PV_TOKEN_AUDIENCE) == 0) {
            return 1;
        }
    }
    return 0;
}

/* exp, iat and nbf against now with the leeway; exp must be present. */
static pv_token_result_e check_times(apr_int64_t *pexp, apr_int64_t *piat,
                                     json_t *obj, apr_int64_t now,
                                     apr_int64_t leeway)
{
    json_int_t exp = 0, iat = 0, nbf = 0;
    int has_exp, has_iat, has_nbf;

    has_exp = get_int(&exp, obj, "exp");
    has_iat = get_int(&iat, obj, "iat");
    has_nbf = get_int(&nbf, obj, "nbf");
    if (has_exp == 0) {
        return PV_TOKEN_MISSING_CLAIM;
    }
    if (has_exp < 0 || has_iat < 0 || has_nbf < 0) {
        return PV_TOKEN_BAD_CLAIM;
    }
    /* compared as now - leeway, now + leeway: exp and iat are attacker
     * values up to 2^63 - 1, adding to them could overflow */
    if (exp <= now - leeway) {
        return PV_TOKEN_EXPIRED;
    }
    if ((has_iat && iat > now + leeway) || (has_nbf && nbf > now + leeway)) {
        return PV_TOKEN_NOT_YET_VALID;
    }
    *pexp = exp;
    *piat = has_iat ? iat : 0;
    return PV_TOKEN_OK;
}

static pv_token_result_e check_claims(pv_token_claims_t *c, json_t *claims,
                                      const pv_token_verifier_t *v,
                                      apr_int64_t now)
{
    json_t *aud, *sub, *img;
    json_int_t ver = 0;
    int has_ver;
    pv_token_result_e r;

    aud = json_object_get(claims, "aud");
    sub = json_object_get(claims, "sub");
    has_ver = get_int(&ver, claims, "ver");
    r = check_times(&c->exp, &c->iat, claims, now, v->leeway);
    if (r != PV_TOKEN_OK) {
        return r;
    }
    if (!aud || !sub || has_ver == 0) {
        return PV_TOKEN_MISSING_CLAIM;
    }
    if (!aud_ok(aud)) {
        return PV_TOKEN_BAD_AUDIENCE;
    }
    if (!json_is_string(sub) ||
        parse_uid(&c->sub, json_string_value(sub), json_string_length(sub))) {
        return PV_TOKEN_BAD_SUBJECT;
    }
    if (has_ver < 0 || ver < 0 || ver > (json_int_t)APR_UINT32_MAX) {
        return PV_TOKEN_BAD_CLAIM;
    }
    /* A URL token's image: a string, spelled as sub is (an id above 2^53
     * does not survive a JavaScript number). */
    img = json_object_get(claims, "img");
    if (img &&
        (!json_is_string(img) ||
         parse_uid(&c->img, json_string_value(img), json_string_length(img)))) {
        return PV_TOKEN_BAD_CLAIM;
    }
    c->ver = (apr_uint32_t)ver;
    c->has_ver = 1;
    return PV_TOKEN_OK;
}

/* The legacy payload {"<field>": <uid>}: uid an integer or a decimal
 * string, the rules of parse_uid either way. */
static pv_token_result_e check_legacy_payload(pv_token_claims_t *c,
                                              json_t *payload,
                                              const pv_token_verifier_t *v)
{
    json_t *uid = json_object_get(payload, v->uid_field);

    if (!uid) {
        return PV_TOKEN_MISSING_CLAIM;
    }
    if (json_is_integer(uid) && json_integer_value(uid) > 0) {
        c->sub = (apr_uint64_t)json_integer_value(uid);
        return PV_TOKEN_OK;
    }
    if (json_is_string(uid) && parse_uid(&c->sub, json_string_value(uid),
                                         json_string_length(uid)) == 0) {
        return PV_TOKEN_OK;
    }
    return PV_TOKEN_BAD_SUBJECT;
}

static int find_key(const pv_token_verifier_t *v, const char *kid,
                    apr_size_t len)
{
    int i;

    for (i = 0; i < v->nkeys; i++) {
        const pv_key_t *k = pv_keyring_get(v->ring, i);
        if (strlen(k->kid) == len && memcmp(k->kid, kid, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* A token on its way through pv_token_verify()'s steps: its three parts
 * decoded into buf, the parsed header and payload, the algorithm and key
 * the header chose, and the claims found so far. */
typedef struct {
    unsigned char buf[DEC_BUF_LEN];
    const unsigned char *hdr, *body, *sig;
    apr_size_t hlen, blen, slen;
    apr_size_t signed_len; /* the first two parts and the dot between */
    json_t *header, *payload;
    int legacy;
    int a;   /* index in algs */
    int key; /* ring key, or nkeys for the legacy key */
    pv_token_claims_t c;
} jws_t;

/* Three base64url parts between exactly two dots, decoded one after the
 * other into t->buf. */
static pv_token_result_e jws_split(jws_t *t, const char *token, apr_size_t len)
{
    const char *dot1, *dot2;
    apr_size_t used;

    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - token))
                : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (apr_size_t)(dot2 + 1 - token))) {
        return PV_TOKEN_MALFORMED;
    }
    t->hdr = t->buf;
    if (pv_b64url_decode(t->buf, &t->hlen, sizeof(t->buf), token,
                         (apr_size_t)(dot1 - token))) {
        return PV_TOKEN_MALFORMED;
    }
    used = t->hlen;
    t->body = t->buf + used;
    if (pv_b64url_decode(t->buf + used, &t->blen, sizeof(t->buf) - used,
                         dot1 + 1, (apr_size_t)(dot2 - dot1 - 1))) {
        return PV_TOKEN_MALFORMED;
    }
    used += t->blen;
    t->sig = t->buf + used;
    if (pv_b64url_decode(t->buf + used, &t->slen, sizeof(t->buf) - used,
                         dot2 + 1, len - (apr_size_t)(dot2 + 1 - token))) {
        return PV_TOKEN_MALFORMED;
    }
    t->signed_len = (apr_size_t)(dot2 - token);
    return PV_TOKEN_OK;
}

/* The unauthenticated header: legacy or JWT, the algorithm, the key. */
static pv_token_result_e jws_header(jws_t *t, const pv_token_verifier_t *v)
{
    pv_token_result_e r;
    json_t *j;

    if (count_brackets(t->hdr, t->hlen) > HEADER_MAX_BRACKETS) {
        return PV_TOKEN_BAD_JSON;
    }
    r = json_parse(&t->header, t->hdr, t->hlen);
    if (r != PV_TOKEN_OK) {
        return r;
    }
    /* itsdangerous puts the expiry in the header; a JWT never does */
    t->legacy = json_object_get(t->header, "exp") != NULL;
    if (t->legacy && !v->legacy) {
        return PV_TOKEN_LEGACY_DISABLED;
    }
    /* RFC 7515 4.1.11: extensions we do not understand must fail */
    if (json_object_get(t->header, "crit")) {
        return PV_TOKEN_BAD_HEADER;
    }
    j = json_object_get(t->header, "alg");
    t->c.alg = json_is_string(j) ? pv_token_alg_parse(json_string_value(j)) : 0;
    t->a = alg_index(t->c.alg);
    if (t->a < 0 || (!t->legacy && !(v->algs & t->c.alg))) {
        return PV_TOKEN_BAD_ALG;
    }
    j = json_object_get(t->header, "typ");
    if (j && !json_is_string(j)) {
        return PV_TOKEN_BAD_HEADER;
    }
    if (t->legacy) {
        t->key = v->nkeys;
    }
    else if ((j = json_object_get(t->header, "kid"))) {
        if (!json_is_string(j)) {
            return PV_TOKEN_BAD_HEADER;
        }
        t->key = find_key(v, json_string_value(j), json_string_length(j));
        if (t->key < 0) {
            return PV_TOKEN_UNKNOWN_KID;
        }
        t->c.kid = pv_keyring_get(v->ring, t->key)->kid;
    }
    else {
        t->c.kid = pv_keyring_get(v->ring, 0)->kid;
    }
    return PV_TOKEN_OK;
}

static pv_token_result_e
jws_signature(const jws_t *t, const pv_token_verifier_t *v, const char *token)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    apr_size_t maclen = 0;
    pv_token_result_e r = PV_TOKEN_OK;

    /* the signed text is the token's own first two parts, never rebuilt */
    if (t->slen != algs[t->a].len ||
        mac_compute(v, t->key * NALGS + t->a, token, t->signed_len, mac,
                    &maclen) ||
        maclen != t->slen || CRYPTO_memcmp(mac, t->sig, t->slen) != 0) {
        r = PV_TOKEN_BAD_SIGNATURE;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return r;
}

/* Only signed JSON reaches the claim checks. */
static pv_token_result_e jws_claims(jws_t *t, const pv_token_verifier_t *v,
                                    apr_int64_t now)
{
    pv_token_result_e r;

    r = json_parse(&t->payload, t->body, t->blen);
    if (r != PV_TOKEN_OK) {
        return r;
    }
    if (t->legacy) {
        r = check_times(&t->c.exp, &t->c.iat, t->header, now, v->leeway);
        if (r == PV_TOKEN_OK) {
            r = check_legacy_payload(&t->c, t->payload, v);
        }
        t->c.legacy = 1;
        t->c.kid = NULL;
        return r;
    }
    return check_claims(&t->c, t->payload, v, now);
}

apr_int64_t pv_token_verifier_leeway(const pv_token_verifier_t *v)
{
    return v->leeway;
}

pv_token_result_e pv_token_verify(pv_token_claims_t *claims,
                                  const pv_token_verifier_t *v,
                                  const char *token, apr_size_t len,
                                  apr_int64_t now)
{
    jws_t t;
    pv_token_result_e r;

    if (!token || len == 0) {
        return PV_TOKEN_EMPTY;
    }
    if (len > PV_TOKEN_MAX_LEN) {
        return PV_TOKEN_TOO_LONG;
    }
    t.header = t.payload = NULL;
    t.legacy = t.a = t.key = 0;
    memset(&t.c, 0, sizeof(t.c));
    if ((r = jws_split(&t, token, len)) != PV_TOKEN_OK ||
        (r = jws_header(&t, v)) != PV_TOKEN_OK ||
        (r = jws_signature(&t, v, token)) != PV_TOKEN_OK ||
        (r = jws_claims(&t, v, now)) != PV_TOKEN_OK) {
        goto cleanup;
    }
    *claims = t.c;

cleanup:
    json_decref(t.header);
    json_decref(t.payload);
    return r;
}

apr_status_t pv_token_mint_claims(const char **pout, const pv_keyring_t *ring,
                                  pv_alg_e alg, const pv_token_mint_t *m,
                                  apr_pool_t *p)
{
    const pv_key_t *key = pv_keyring_signer(ring);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *header, *claims, *text, *img = "";
    char *h64, *c64, sig64[PV_B64URL_ENC_LEN(EVP_MAX_MD_SIZE) + 1];
    apr_status_t rv = APR_SUCCESS;
    int a = alg_index(alg);

    if (!key || a < 0 || m->sub == 0 || m->iat < 0 || m->exp <= m->iat ||
        m->exp - m->iat > TTL_MAX ||
        !pv_keyring_kid_valid(key->kid, strlen(key->kid))) {
        return APR_EINVAL;
    }
    /* kid is [A-Za-z0-9._-] (checked above): no JSON escaping needed */
    header = apr_psprintf(p, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                          algs[a].name, key->kid);
    if (m->img) {
        img = apr_psprintf(p, ",\"img\":\"%" APR_UINT64_T_FMT "\"", m->img);
    }
    claims =
        apr_psprintf(p,
                     "{\"sub\":\"%" APR_UINT64_T_FMT "\",\"aud\":\"%s\","
                     "\"iat\":%" APR_INT64_T_FMT ",\"exp\":%" APR_INT64_T_FMT
                     ",\"ver\":%u%s}",
                     m->sub, PV_TOKEN_AUDIENCE, m->iat, m->exp, m->ver, img);
    h64 = apr_palloc(p, PV_B64URL_ENC_LEN(strlen(header)) + 1);
    c64 = apr_palloc(p, PV_B64URL_ENC_LEN(strlen(claims)) + 1);
    pv_b64url_encode(h64, (const unsigned char *)header, strlen(header));
    pv_b64url_encode(c64, (const unsigned char *)claims, strlen(claims));
    text = apr_pstrcat(p, h64, ".", c64, NULL);
    if (!HMAC(EVP_get_digestbyname(algs[a].digest), key->secret,
              (int)key->secret_len, (const unsigned char *)text, strlen(text),
              mac, &maclen)) {
        rv = APR_EGENERAL;
        goto cleanup;
    }
    pv_b64url_encode(sig64, mac, maclen);
    *pout = apr_pstrcat(p, text, ".", sig64, NULL);

cleanup:
    OPENSSL_cleanse(mac, sizeof(mac));
    return rv;
}

apr_status_t pv_token_mint(const char **pout, const pv_keyring_t *ring,
                           pv_alg_e alg, apr_uint64_t sub, apr_uint32_t ver,
                           apr_int64_t now, apr_int64_t ttl, apr_pool_t *p)
{
    pv_token_mint_t m;

    /* ttl bounded before now + ttl is computed */
    if (ttl <= 0 || ttl > TTL_MAX) {
        return APR_EINVAL;
    }
    memset(&m, 0, sizeof(m));
    m.sub = sub;
    m.ver = ver;
    m.iat = now;
    m.exp = now + ttl;
    return pv_token_mint_claims(pout, ring, alg, &m, p);
}

apr_status_t pv_token_url_times(apr_int64_t *piat, apr_int64_t *pexp,
                                apr_int64_t now, apr_int64_t ttl,
                                apr_int64_t cap)
{
    apr_int64_t window, iat, exp;

    if (now < 0 || ttl <= 0 || ttl > TTL_MAX || (cap != 0 && cap <= now)) {
        return APR_EINVAL;
    }
    /* Half the lifetime: a token handed out late in its window still has
     * more than half of it left. */
    window = ttl / 2 > 0 ? ttl / 2 : 1;
    iat = now - now % window;
    exp = iat + ttl;
    if (cap != 0 && exp > cap) {
        exp = cap;
    }
    *piat = iat;
    *pexp = exp;
    return APR_SUCCESS;
}

apr_status_t pv_token_legacy_secret_load(const unsigned char **pout,
                                         apr_size_t *plen, const char **perr,
                                         const char *path, apr_pool_t *p)
{
    unsigned char *buf = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    rv = pv_keyring_file_read(&buf, &len, perr, path, "legacy secret file",
                              LEGACY_SECRET_MAX, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* editors end files with a newline that was never part of SECRET_KEY
     * (the same rule as the PreviewLegacySecretFile setter) */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        --len;
    }
    if (len == 0) {
        *perr = apr_psprintf(p, "%s: legacy secret file is empty", path);
        rv = APR_EINVAL;
        goto cleanup;
    }
    *pout = buf;
    *plen = len;

cleanup:
    return rv;
}
