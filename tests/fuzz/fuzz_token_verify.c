/* libFuzzer target: pv_token_verify on hostile bytes. The first byte picks
 * what the rest is, so that the fuzzer reaches past the signature check:
 *   'S' "<header JSON>\n<claims JSON>", signed here with the ring's key
 *   'L' "<header JSON>\n<payload JSON>", signed with the legacy secret
 *   'K' key file text for pv_keyring_parse
 *   anything else: the whole input is a token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sanitizer/lsan_interface.h>

#include "pv_b64url.h"
#include "pv_keyring.h"
#include "pv_token.h"

#define RING_TEXT                                                              \
    "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"                         \
    "k2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"
#define LEGACY_SECRET "flask-disk-secret-key"
#define NOW           1700000060

static apr_pool_t *pool;
static pv_token_verifier_t *v_default, *v_legacy, *v_salted;
static const pv_key_t *k1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pv_keyring_t *ring;
    pv_token_config_t cfg;
    const char *err;

    (void)argc;
    (void)argv;
    /* the verifiers live for the whole run in APR pool memory, which APR
     * may take from mmap where LeakSanitizer finds no pointers to them */
    __lsan_disable();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    if (pv_keyring_parse(&ring, &err, RING_TEXT, strlen(RING_TEXT), "fuzz",
                         pool)) {
        abort();
    }
    k1 = pv_keyring_signer(ring);
    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    cfg.leeway = 30;
    if (pv_token_verifier_make(&v_default, &cfg, pool)) {
        abort();
    }
    cfg.algs = PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512;
    cfg.legacy = PV_LEGACY_ITSDANGEROUS;
    cfg.legacy_secret = (const unsigned char *)LEGACY_SECRET;
    cfg.legacy_secret_len = strlen(LEGACY_SECRET);
    if (pv_token_verifier_make(&v_legacy, &cfg, pool)) {
        abort();
    }
    cfg.legacy_salt = "salt";
    cfg.legacy_uid_field = "user_id";
    if (pv_token_verifier_make(&v_salted, &cfg, pool)) {
        abort();
    }
    __lsan_enable();
    return 0;
}

static void check(const pv_token_verifier_t *v, const char *tok, size_t len)
{
    pv_token_claims_t c;
    pv_token_result_e r = pv_token_verify(&c, v, tok, len, NOW);

    /* invariants that hold for any input */
    if (len > PV_TOKEN_MAX_LEN && r != PV_TOKEN_TOO_LONG) {
        abort();
    }
    if (r == PV_TOKEN_OK &&
        (c.sub == 0 || c.exp <= NOW - 30 || (!c.legacy && !c.has_ver) ||
         (c.legacy && (c.has_ver || c.kid)) || !pv_token_alg_str(c.alg))) {
        abort();
    }
    if (!pv_token_result_str(r)) {
        abort();
    }
}

/* header.body.HMAC over fuzzer-chosen JSON text, then verify */
static void sign_and_check(const uint8_t *data, size_t size, const void *key,
                           size_t klen, const EVP_MD *md, int legacy)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    size_t blen = nl ? size - hlen - 1 : 0;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *tok;
    size_t n;

    tok = malloc(PV_B64URL_ENC_LEN(hlen) + PV_B64URL_ENC_LEN(blen) + 100);
    n = pv_b64url_encode(tok, data, hlen);
    tok[n++] = '.';
    n += pv_b64url_encode(tok + n, nl ? nl + 1 : data, blen);
    if (HMAC(md, key, (int)klen, (unsigned char *)tok, n, mac, &maclen)) {
        tok[n++] = '.';
        n += pv_b64url_encode(tok + n, mac, maclen);
        if (legacy) {
            check(v_legacy, tok, n);
        }
        else {
            check(v_default, tok, n);
            check(v_legacy, tok, n);
        }
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'S') {
        sign_and_check(data + 1, size - 1, k1->secret, k1->secret_len,
                       EVP_sha256(), 0);
    }
    else if (size > 0 && data[0] == 'L') {
        sign_and_check(data + 1, size - 1, LEGACY_SECRET, strlen(LEGACY_SECRET),
                       EVP_sha512(), 1);
    }
    else if (size > 0 && data[0] == 'K') {
        apr_pool_t *p;
        pv_keyring_t *ring;
        const char *err;
        apr_pool_create(&p, pool);
        if (pv_keyring_parse(&ring, &err, (const char *)data + 1, size - 1,
                             "fuzz", p) == APR_SUCCESS &&
            pv_keyring_count(ring) < 1) {
            abort();
        }
        apr_pool_destroy(p);
    }
    else {
        check(v_default, (const char *)data, size);
        check(v_legacy, (const char *)data, size);
        check(v_salted, (const char *)data, size);
    }
    return 0;
}
