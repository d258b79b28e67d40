/* The owner cache's keys and values, MAC'd under a namespace secret
 * (see pv_owner.h). */
#include <string.h>

#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "pv_bytes.h"
#include "pv_owner.h"

#define OWNER_NS_LABEL    "mod_preview owner cache 1"
#define OWNER_GEN_MAGIC   0x50564731u /* "PVG1" */
#define OWNER_ENTRY_MAGIC 0x50564f31u /* "PVO1" */

/* HMAC-SHA256 of a then b under the namespace, from a copy of its keyed
 * context (no key set-up, no algorithm fetch per MAC); all zeros when
 * OpenSSL fails (out of memory): the MAC then never matches a real one. */
static void owner_mac(unsigned char out[PV_OWNER_MAC_LEN],
                      const pv_owner_ns_t *ns, const unsigned char *a,
                      apr_size_t alen, const unsigned char *b, apr_size_t blen)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(ns->mac);
    size_t len = 0;

    if (!ctx || !EVP_MAC_init(ctx, NULL, 0, NULL) ||
        !EVP_MAC_update(ctx, a, alen) ||
        (blen && !EVP_MAC_update(ctx, b, blen)) ||
        !EVP_MAC_final(ctx, out, &len, PV_OWNER_MAC_LEN) ||
        len != PV_OWNER_MAC_LEN) {
        memset(out, 0, PV_OWNER_MAC_LEN);
    }
    EVP_MAC_CTX_free(ctx);
}

static apr_status_t ns_cleanup(void *data)
{
    pv_owner_ns_t *ns = data;

    EVP_MAC_CTX_free(ns->mac);
    ns->mac = NULL;
    return APR_SUCCESS;
}

apr_status_t pv_owner_ns(pv_owner_ns_t **pout, const unsigned char *key_secret,
                         apr_size_t key_len, apr_pool_t *p)
{
    unsigned char secret[PV_OWNER_NS_LEN];
    OSSL_PARAM params[2];
    pv_owner_ns_t *ns = apr_pcalloc(p, sizeof(*ns));
    EVP_MAC *mac = NULL;
    unsigned int len = 0;
    apr_status_t rv = APR_EGENERAL;

    if (!HMAC(EVP_sha256(), key_secret, (int)key_len,
              (const unsigned char *)OWNER_NS_LABEL, sizeof(OWNER_NS_LABEL),
              secret, &len) ||
        len != PV_OWNER_NS_LEN) {
        goto cleanup;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) ||
        !(ns->mac = EVP_MAC_CTX_new(mac)) ||
        !EVP_MAC_init(ns->mac, secret, sizeof(secret), params)) {
        goto cleanup;
    }
    apr_pool_cleanup_register(p, ns, ns_cleanup, apr_pool_cleanup_null);
    *pout = ns;
    rv = APR_SUCCESS;
cleanup:
    if (rv != APR_SUCCESS) {
        EVP_MAC_CTX_free(ns->mac);
    }
    EVP_MAC_free(mac);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rv;
}

void pv_owner_gen_key(unsigned char key[PV_OWNER_KEY_LEN],
                      const pv_owner_ns_t *ns, apr_uint64_t user)
{
    unsigned char text[5 + 8], *b = text;

    memcpy(b, "gen:", 5);
    pv_put_u64(b + 5, user);
    owner_mac(key, ns, text, sizeof(text), NULL, 0);
}

void pv_owner_entry_key(unsigned char key[PV_OWNER_KEY_LEN],
                        const pv_owner_ns_t *ns, apr_uint64_t user,
                        apr_uint64_t image, apr_uint64_t gen)
{
    unsigned char text[7 + 3 * 8], *b = text;

    memcpy(b, "entry:", 7);
    b = pv_put_u64(b + 7, user);
    b = pv_put_u64(b, image);
    pv_put_u64(b, gen);
    owner_mac(key, ns, text, sizeof(text), NULL, 0);
}

apr_status_t pv_owner_gen_new(pv_owner_gen_t *out, apr_uint32_t min_version,
                              apr_time_t expires)
{
    unsigned char r[8];

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return APR_EGENERAL;
    }
    out->gen = pv_get_be(r, 8);
    out->min_version = min_version;
    out->expires = expires;
    return APR_SUCCESS;
}

/* The MAC of a value: over its key and its body, so that a value copied
 * under another key (another user's, image's or generation's) is refused. */
static void value_mac(unsigned char out[PV_OWNER_MAC_LEN],
                      const pv_owner_ns_t *ns,
                      const unsigned char key[PV_OWNER_KEY_LEN],
                      const unsigned char *body, apr_size_t len)
{
    owner_mac(out, ns, key, PV_OWNER_KEY_LEN, body, len);
}

static int value_mac_ok(const pv_owner_ns_t *ns,
                        const unsigned char key[PV_OWNER_KEY_LEN],
                        const unsigned char *buf, apr_size_t body_len)
{
    unsigned char mac[PV_OWNER_MAC_LEN];

    value_mac(mac, ns, key, buf, body_len);
    return CRYPTO_memcmp(mac, buf + body_len, PV_OWNER_MAC_LEN) == 0;
}

/* An expiry read back: in the future, and no further than max_age. */
static int expiry_ok(apr_time_t expires, apr_time_t now,
                     apr_interval_time_t max_age)
{
    return expires > now && expires - now <= max_age;
}

void pv_owner_gen_encode(unsigned char *buf, const pv_owner_ns_t *ns,
                         const unsigned char key[PV_OWNER_KEY_LEN],
                         const pv_owner_gen_t *g)
{
    unsigned char *b = buf;

    b = pv_put_u32(b, OWNER_GEN_MAGIC);
    b = pv_put_u32(b, g->min_version);
    b = pv_put_u64(b, g->gen);
    b = pv_put_u64(b, (apr_uint64_t)g->expires);
    value_mac(b, ns, key, buf, (apr_size_t)(b - buf));
}

apr_status_t pv_owner_gen_decode(pv_owner_gen_t *out, const pv_owner_ns_t *ns,
                                 const unsigned char key[PV_OWNER_KEY_LEN],
                                 const unsigned char *buf, apr_size_t len,
                                 apr_time_t now, apr_interval_time_t max_age)
{
    const apr_size_t body = PV_OWNER_GEN_LEN - PV_OWNER_MAC_LEN;
    pv_owner_gen_t g;

    if (len != PV_OWNER_GEN_LEN || pv_get_be(buf, 4) != OWNER_GEN_MAGIC ||
        !value_mac_ok(ns, key, buf, body)) {
        return PV_OWNER_BAD;
    }
    g.min_version = (apr_uint32_t)pv_get_be(buf + 4, 4);
    g.gen = pv_get_be(buf + 8, 8);
    g.expires = (apr_time_t)pv_get_be(buf + 16, 8);
    if (!expiry_ok(g.expires, now, max_age)) {
        return PV_OWNER_BAD;
    }
    *out = g;
    return APR_SUCCESS;
}

apr_status_t pv_owner_answer_encode(unsigned char *buf, apr_size_t *plen,
                                    const pv_owner_ns_t *ns,
                                    const unsigned char key[PV_OWNER_KEY_LEN],
                                    const pv_owner_answer_t *a)
{
    apr_size_t plen_path = a->path ? a->path_len : 0;
    unsigned char *b = buf;

    if (plen_path > PV_OWNER_PATH_MAX ||
        (a->path && memchr(a->path, '\0', plen_path))) {
        return APR_EINVAL;
    }
    b = pv_put_u32(b, OWNER_ENTRY_MAGIC);
    b = pv_put_u32(b, a->token_version);
    b = pv_put_u64(b, (apr_uint64_t)a->expires);
    *b++ = 0;
    *b++ = a->path ? 1 : 0;
    *b++ = (unsigned char)(plen_path >> 8);
    *b++ = (unsigned char)(plen_path & 0xff);
    if (plen_path) {
        memcpy(b, a->path, plen_path);
        b += plen_path;
    }
    value_mac(b, ns, key, buf, (apr_size_t)(b - buf));
    *plen = (apr_size_t)(b - buf) + PV_OWNER_MAC_LEN;
    return APR_SUCCESS;
}

apr_status_t pv_owner_answer_decode(pv_owner_answer_t **pout,
                                    const pv_owner_ns_t *ns,
                                    const unsigned char key[PV_OWNER_KEY_LEN],
                                    const unsigned char *buf, apr_size_t len,
                                    apr_time_t now, apr_interval_time_t max_age,
                                    apr_pool_t *p)
{
    const apr_size_t head = 4 + 4 + 8 + 2 + 2;
    pv_owner_answer_t *a;
    apr_size_t path_len;
    int has_path;

    /* Lengths first, the MAC next: nothing of the body is read before. */
    if (len < head + PV_OWNER_MAC_LEN || len > PV_OWNER_ENTRY_MAX) {
        return PV_OWNER_BAD;
    }
    path_len = (apr_size_t)pv_get_be(buf + 18, 2);
    if (len != head + path_len + PV_OWNER_MAC_LEN ||
        !value_mac_ok(ns, key, buf, head + path_len) ||
        pv_get_be(buf, 4) != OWNER_ENTRY_MAGIC || buf[16] != 0 || buf[17] > 1) {
        return PV_OWNER_BAD;
    }
    has_path = buf[17];
    if ((!has_path && path_len) || (has_path && !path_len) ||
        memchr(buf + head, '\0', path_len)) {
        return PV_OWNER_BAD;
    }
    a = apr_pcalloc(p, sizeof(*a));
    a->token_version = (apr_uint32_t)pv_get_be(buf + 4, 4);
    a->expires = (apr_time_t)pv_get_be(buf + 8, 8);
    if (!expiry_ok(a->expires, now, max_age)) {
        return PV_OWNER_BAD;
    }
    if (has_path) {
        a->path = apr_pstrmemdup(p, (const char *)buf + head, path_len);
        a->path_len = path_len;
    }
    *pout = a;
    return APR_SUCCESS;
}
