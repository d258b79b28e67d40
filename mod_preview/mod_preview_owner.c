/* PreviewOwnerCacheTimeout: the preview's ownership answer through the
 * shared cache, and the logout's new generation (mod_preview_owner.h). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_preview_kept.h"
#include "mod_preview_owner.h"
#include "mod_preview_socache.h"
#include "pv_keyring.h"
#include "pv_log.h"
#include "pv_owner.h"
#include "pv_owner_front.h"

APLOG_USE_MODULE(preview);

/* Each ring key's namespace (pv_key_t * -> pv_owner_ns_t *), made in
 * post_config, read-only afterwards. */
static apr_hash_t *owner_ns_by_key;

/* The logout epochs (pv_owner_front.h), node-wide shared memory kept
 * across restarts; NULL: none (every front entry is then checked against
 * the shared store). */
static apr_uint32_t *owner_epochs;

/* This process's front of the owner cache (child_init); NULL: none. */
static pv_owner_front_t *owner_front;

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
    owner_epochs = NULL;
    if (apr_hash_count(owner_ns_by_key)) {
        void *mem = NULL;
        int fresh;

        if (pv_kept_shm(&mem, &fresh, s, "owner-epochs",
                        sizeof(apr_uint32_t) * PV_OWNER_EPOCHS) !=
            APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         PVLOGNO(1524) "owner cache: no shared memory for "
                                       "the logout epochs; each hit reads "
                                       "its user's generation again");
        }
        owner_epochs = mem;
    }
    return OK;
}

void pv_owner_child_init(apr_pool_t *pchild, server_rec *s)
{
    owner_front = NULL;
    if (owner_ns_by_key && apr_hash_count(owner_ns_by_key) &&
        pv_owner_front_create(&owner_front, pchild) != APR_SUCCESS) {
        owner_front = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     PVLOGNO(1525) "owner cache: no front in this process; "
                                   "each hit reads the shared cache");
    }
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
 * or what was there did not check out): its key and bytes too (the
 * front's check). PV_SOCACHE_DOWN: not kept. */
static apr_status_t owner_gen(pv_owner_gen_t *g, unsigned char *key,
                              unsigned char *buf, request_rec *r,
                              const pv_owner_ns_t *ns, apr_uint64_t user,
                              apr_interval_time_t timeout, apr_time_t now)
{
    unsigned int len = PV_OWNER_GEN_LEN;
    apr_status_t rv;

    pv_owner_gen_key(key, ns, user);
    rv = pv_socache_retrieve(r, 0, key, PV_OWNER_KEY_LEN, buf, &len);
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
    return pv_socache_store(r, 0, key, PV_OWNER_KEY_LEN, g->expires, buf,
                            PV_OWNER_GEN_LEN);
}

/* The kept answer. APR_SUCCESS: *pout, and *pexpires when it ends;
 * anything else: ask the database. */
static apr_status_t owner_answer_get(pv_db_image_t **pout, apr_time_t *pexpires,
                                     request_rec *r, const pv_owner_ns_t *ns,
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
    *pexpires = a->expires;
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

/* The row a token older than the user's last logout through the module
 * gets: pv_auth_check_user() refuses it, whatever a replica still says. */
static pv_db_image_t *revoked_row(request_rec *r, apr_uint32_t min_version)
{
    pv_db_image_t *img = apr_pcalloc(r->pool, sizeof(*img));

    img->token_version = min_version;
    return img;
}

/* Whether the generation a front entry was made under still holds: on a
 * store of this machine alone (shmcb), no logout of its user was written
 * since (the epoch it saw is unchanged); on a shared store, the bytes
 * read back now are the very ones checked then (a logout on any node
 * wrote new ones). */
static int front_gen_holds(request_rec *r, const pv_owner_front_entry_t *e)
{
    unsigned char buf[PV_OWNER_GEN_LEN];
    unsigned int len = sizeof(buf);

    if (owner_epochs && pv_socache_local()) {
        return pv_owner_epoch_read(owner_epochs, e->user) == e->epoch;
    }
    return pv_socache_retrieve(r, 0, e->gen_key, PV_OWNER_KEY_LEN, buf, &len) ==
               APR_SUCCESS &&
           len == PV_OWNER_GEN_LEN &&
           memcmp(buf, e->gen_raw, PV_OWNER_GEN_LEN) == 0;
}

/* The answer from this process's front. APR_SUCCESS: *pout; else the
 * shared cache is asked. */
static apr_status_t front_answer(pv_db_image_t **pout, request_rec *r,
                                 const pv_owner_ns_t *ns,
                                 const pv_token_claims_t *claims,
                                 apr_uint64_t image_id, apr_time_t now)
{
    pv_owner_front_entry_t e;
    pv_db_image_t *img;

    if (!owner_front ||
        pv_owner_front_get(&e, owner_front, ns, claims->sub, image_id, now,
                           r->pool) != APR_SUCCESS) {
        return APR_NOTFOUND;
    }
    if (!front_gen_holds(r, &e)) {
        pv_owner_front_drop(owner_front, ns, claims->sub, image_id);
        return APR_NOTFOUND;
    }
    if (claims->has_ver && claims->ver < e.min_version) {
        *pout = revoked_row(r, e.min_version);
        return APR_SUCCESS;
    }
    img = apr_pcalloc(r->pool, sizeof(*img));
    img->token_version = e.token_version;
    img->path = e.path;
    img->path_len = e.path_len;
    *pout = img;
    return APR_SUCCESS;
}

/* Keep an answer in the front, no longer than its generation. */
static void front_keep(const pv_owner_ns_t *ns, apr_uint64_t user,
                       apr_uint64_t image_id, const pv_owner_gen_t *g,
                       const unsigned char *gen_key,
                       const unsigned char *gen_raw, apr_uint32_t epoch,
                       const pv_db_image_t *img, apr_time_t expires)
{
    pv_owner_front_entry_t e;

    if (!owner_front) {
        return;
    }
    e.ns = ns;
    e.user = user;
    e.image = image_id;
    memcpy(e.gen_key, gen_key, PV_OWNER_KEY_LEN);
    memcpy(e.gen_raw, gen_raw, PV_OWNER_GEN_LEN);
    e.epoch = epoch;
    e.min_version = g->min_version;
    e.token_version = img->token_version;
    e.path = img->path;
    e.path_len = img->path ? img->path_len : 0;
    e.expires = expires < g->expires ? expires : g->expires;
    pv_owner_front_put(owner_front, &e);
}

apr_status_t pv_owner_image_lookup(pv_db_image_t **pout, const char **perr,
                                   request_rec *r, const pv_srv_conf *c,
                                   pv_db_pool_t *db,
                                   const pv_token_claims_t *claims,
                                   apr_uint64_t image_id)
{
    apr_interval_time_t timeout = apr_time_from_sec(c->owner_cache_timeout);
    apr_time_t now = apr_time_now(), expires;
    unsigned char key[PV_OWNER_KEY_LEN], gen_key[PV_OWNER_KEY_LEN];
    unsigned char gen_raw[PV_OWNER_GEN_LEN];
    const pv_owner_ns_t *ns = NULL;
    apr_uint32_t epoch = 0;
    pv_owner_gen_t g;
    pv_db_image_t *img;
    apr_status_t rv;

    /* Legacy tokens carry no ver and are on their way out: not kept. */
    if (timeout <= 0 || claims->legacy || !pv_socache_enabled() ||
        !(ns = owner_ns_of(c, claims))) {
        apr_table_setn(r->notes, PV_NOTE_OWNER, "off");
        return pv_db_image_lookup(pout, perr, db, image_id, claims->sub,
                                  r->pool);
    }
    if (front_answer(pout, r, ns, claims, image_id, now) == APR_SUCCESS) {
        apr_table_setn(r->notes, PV_NOTE_OWNER, "front");
        return APR_SUCCESS;
    }
    /* Before the generation is read: a logout that writes a new one after
     * this read leaves this epoch behind. */
    if (owner_epochs) {
        epoch = pv_owner_epoch_read(owner_epochs, claims->sub);
    }
    if (owner_gen(&g, gen_key, gen_raw, r, ns, claims->sub, timeout, now) !=
        APR_SUCCESS) {
        apr_table_setn(r->notes, PV_NOTE_OWNER, "off");
        return pv_db_image_lookup(pout, perr, db, image_id, claims->sub,
                                  r->pool);
    }
    if (claims->has_ver && claims->ver < g.min_version) {
        /* Logged out through the module since: refused whatever a replica
         * still says. */
        *pout = revoked_row(r, g.min_version);
        apr_table_setn(r->notes, PV_NOTE_OWNER, "hit");
        return APR_SUCCESS;
    }
    pv_owner_entry_key(key, ns, claims->sub, image_id, g.gen);
    if (owner_answer_get(pout, &expires, r, ns, key, timeout, now) ==
        APR_SUCCESS) {
        front_keep(ns, claims->sub, image_id, &g, gen_key, gen_raw, epoch,
                   *pout, expires);
        apr_table_setn(r->notes, PV_NOTE_OWNER, "hit");
        return APR_SUCCESS;
    }
    apr_table_setn(r->notes, PV_NOTE_OWNER, "miss");
    rv = pv_db_image_lookup(&img, perr, db, image_id, claims->sub, r->pool);
    /* Kept only what no logout through the module has passed: a replica
     * behind the primary may still answer the old token_version. */
    if (rv == APR_SUCCESS && img->token_version >= g.min_version) {
        owner_answer_put(r, ns, key, img, now + timeout);
        front_keep(ns, claims->sub, image_id, &g, gen_key, gen_raw, epoch, img,
                   now + timeout);
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
            break;
        }
    }
    /* After the new generations are written, even when one was not: the
     * fronts of this machine's processes read them again. */
    if (owner_epochs) {
        pv_owner_epoch_bump(owner_epochs, user);
    }
}
