/* PreviewOwnerCacheTimeout: the preview's ownership answer through the
 * shared cache, and the logout's new generation (mod_preview_owner.h). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_preview_owner.h"
#include "mod_preview_socache.h"
#include "pv_keyring.h"
#include "pv_log.h"
#include "pv_owner.h"

APLOG_USE_MODULE(preview);

/* Each ring key's namespace (pv_key_t * -> pv_owner_ns_t *), made in
 * post_config, read-only afterwards. */
static apr_hash_t *owner_ns_by_key;

int pv_owner_post_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *sv;
    int i;

    owner_ns_by_key = apr_hash_make(pconf);
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        int n = c->owner_cache_timeout > 0 && c->ring
                    ? pv_keyring_count(c->ring)
                    : 0;

        for (i = 0; i < n; i++) {
            const pv_key_t *k = pv_keyring_get(c->ring, i);
            pv_owner_ns_t *ns;

            if (apr_hash_get(owner_ns_by_key, &k, sizeof(k))) {
                continue;
            }
            if (pv_owner_ns(&ns, k->secret, k->secret_len, pconf) !=
                APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                             PVLOGNO(1523) "owner cache: cannot key its "
                                           "namespace (OpenSSL)");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            apr_hash_set(owner_ns_by_key, apr_pmemdup(pconf, &k, sizeof(k)),
                         sizeof(k), ns);
        }
    }
    return OK;
}

static const pv_owner_ns_t *owner_ns_of_key(const pv_key_t *key)
{
    return key && owner_ns_by_key
               ? apr_hash_get(owner_ns_by_key, &key, sizeof(key))
               : NULL;
}

/* The namespace of the key that verified the token (a token without kid
 * was checked with the signing key). */
static const pv_owner_ns_t *owner_ns_of(const pv_srv_conf *c,
                                        const pv_token_claims_t *claims)
{
    return owner_ns_of_key(
        claims->kid ? pv_keyring_find(c->ring, claims->kid, strlen(claims->kid))
                    : pv_keyring_signer(c->ring));
}

/* The user's current generation, or a new one stored now (none was there,
 * or what was there did not check out). PV_SOCACHE_DOWN: not kept. */
static apr_status_t owner_gen(pv_owner_gen_t *g, request_rec *r,
                              const pv_owner_ns_t *ns, apr_uint64_t user,
                              apr_interval_time_t timeout, apr_time_t now)
{
    unsigned char key[PV_OWNER_KEY_LEN], buf[PV_OWNER_GEN_LEN];
    unsigned int len = sizeof(buf);
    apr_status_t rv;

    pv_owner_gen_key(key, ns, user);
    rv = pv_socache_retrieve(r, 0, key, sizeof(key), buf, &len);
    if (rv == PV_SOCACHE_DOWN) {
        return rv;
    }
    if (rv == APR_SUCCESS && pv_owner_gen_decode(g, ns, key, buf, len, now,
                                                 timeout) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(1520) "owner cache: the generation of user "
                                    "%" APR_UINT64_T_FMT " read back does "
                                    "not check out; replaced",
                      user);
    }
    if (pv_owner_gen_new(g, 0, now + timeout) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    pv_owner_gen_encode(buf, ns, key, g);
    return pv_socache_store(r, 0, key, sizeof(key), g->expires, buf,
                            sizeof(buf));
}

/* The kept answer. APR_SUCCESS: *pout; anything else: ask the database. */
static apr_status_t owner_answer_get(pv_db_image_t **pout, request_rec *r,
                                     const pv_owner_ns_t *ns,
                                     const unsigned char *key,
                                     apr_interval_time_t timeout,
                                     apr_time_t now)
{
    unsigned char *buf = apr_palloc(r->pool, PV_OWNER_ENTRY_MAX);
    unsigned int len = PV_OWNER_ENTRY_MAX;
    pv_owner_answer_t *a;
    pv_db_image_t *img;
    apr_status_t rv;

    rv = pv_socache_retrieve(r, 0, key, PV_OWNER_KEY_LEN, buf, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (pv_owner_answer_decode(&a, ns, key, buf, len, now, timeout, r->pool) !=
        APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(1521) "owner cache: an answer read back does "
                                    "not check out; asking the database");
        return PV_OWNER_BAD;
    }
    img = apr_pcalloc(r->pool, sizeof(*img));
    img->token_version = a->token_version;
    img->path = a->path;
    img->path_len = a->path_len;
    *pout = img;
    return APR_SUCCESS;
}

static void owner_answer_put(request_rec *r, const pv_owner_ns_t *ns,
                             const unsigned char *key, const pv_db_image_t *img,
                             apr_time_t expires)
{
    unsigned char *buf = apr_palloc(r->pool, PV_OWNER_ENTRY_MAX);
    pv_owner_answer_t a;
    apr_size_t len;

    a.token_version = img->token_version;
    a.path = img->path;
    a.path_len = img->path_len;
    a.expires = expires;
    if (pv_owner_answer_encode(buf, &len, ns, key, &a) == APR_SUCCESS) {
        pv_socache_store(r, 0, key, PV_OWNER_KEY_LEN, expires, buf,
                         (unsigned int)len);
    }
}

apr_status_t pv_owner_image_lookup(pv_db_image_t **pout, const char **perr,
                                   request_rec *r, const pv_srv_conf *c,
                                   pv_db_pool_t *db,
                                   const pv_token_claims_t *claims,
                                   apr_uint64_t image_id)
{
    apr_interval_time_t timeout = apr_time_from_sec(c->owner_cache_timeout);
    apr_time_t now = apr_time_now();
    unsigned char key[PV_OWNER_KEY_LEN];
    const pv_owner_ns_t *ns = NULL;
    pv_owner_gen_t g;
    pv_db_image_t *img;
    apr_status_t rv;

    /* Legacy tokens carry no ver and are on their way out: not kept. */
    if (timeout <= 0 || claims->legacy || !pv_socache_enabled() ||
        !(ns = owner_ns_of(c, claims)) ||
        owner_gen(&g, r, ns, claims->sub, timeout, now) != APR_SUCCESS) {
        apr_table_setn(r->notes, PV_NOTE_OWNER, "off");
        return pv_db_image_lookup(pout, perr, db, image_id, claims->sub,
                                  r->pool);
    }
    if (claims->has_ver && claims->ver < g.min_version) {
        /* Logged out through the module since: refused whatever a replica
         * still says. */
        img = apr_pcalloc(r->pool, sizeof(*img));
        img->token_version = g.min_version;
        *pout = img;
        apr_table_setn(r->notes, PV_NOTE_OWNER, "hit");
        return APR_SUCCESS;
    }
    pv_owner_entry_key(key, ns, claims->sub, image_id, g.gen);
    if (owner_answer_get(pout, r, ns, key, timeout, now) == APR_SUCCESS) {
        apr_table_setn(r->notes, PV_NOTE_OWNER, "hit");
        return APR_SUCCESS;
    }
    apr_table_setn(r->notes, PV_NOTE_OWNER, "miss");
    rv = pv_db_image_lookup(&img, perr, db, image_id, claims->sub, r->pool);
    /* Kept only what no logout through the module has passed: a replica
     * behind the primary may still answer the old token_version. */
    if (rv == APR_SUCCESS && img->token_version >= g.min_version) {
        owner_answer_put(r, ns, key, img, now + timeout);
    }
    if (rv == APR_SUCCESS) {
        *pout = img;
    }
    return rv;
}

void pv_owner_logout(request_rec *r, const pv_srv_conf *c, apr_uint64_t user,
                     apr_uint32_t min_version)
{
    apr_interval_time_t timeout = apr_time_from_sec(c->owner_cache_timeout);
    unsigned char key[PV_OWNER_KEY_LEN], buf[PV_OWNER_GEN_LEN];
    int i, n = c->ring ? pv_keyring_count(c->ring) : 0;
    pv_owner_gen_t g;

    if (timeout <= 0 || !pv_socache_enabled()) {
        return;
    }
    /* Every key of the ring: the user's answers were kept under the key
     * that verified each token. */
    for (i = 0; i < n; i++) {
        const pv_owner_ns_t *ns = owner_ns_of_key(pv_keyring_get(c->ring, i));
        apr_status_t rv =
            ns ? pv_owner_gen_new(&g, min_version, apr_time_now() + timeout)
               : APR_EGENERAL;

        if (rv == APR_SUCCESS) {
            pv_owner_gen_key(key, ns, user);
            pv_owner_gen_encode(buf, ns, key, &g);
            rv = pv_socache_store(r, 0, key, sizeof(key), g.expires, buf,
                                  sizeof(buf));
        }
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv == PV_SOCACHE_DOWN ? 0 : rv,
                          r,
                          PVLOGNO(1522) "logout of user %" APR_UINT64_T_FMT
                                        ": the owner cache could not be "
                                        "told; answers kept for it live up "
                                        "to PreviewOwnerCacheTimeout "
                                        "(%" APR_INT64_T_FMT " s)",
                          user, c->owner_cache_timeout);
            return;
        }
    }
}
