/* Each server's runtime group, as mod_dbd keeps svr->group: the objects a
 * request of that server uses, found once at start-up instead of looked up
 * in per-unit tables. Servers share an object where they share its bound:
 * the same database (PreviewDBParams and the three queries) one pool, the
 * main server's PreviewMaxRenders / PreviewMaxLogins one set of slots, the
 * same render slots one per-user table, the same process render memory one
 * budget, the same PreviewCacheDir one cache. */
#ifndef MOD_PREVIEW_SERVER_H
#define MOD_PREVIEW_SERVER_H

#include "httpd.h"

#include "pv_cache.h"
#include "pv_db.h"
#include "pv_metrics.h"
#include "pv_password.h"
#include "pv_slots.h"
#include "pv_source.h"
#include "pv_token.h"
#include "pv_token_memo.h"

typedef struct pv_server_t {
    /* post_config (pconf, inherited by the children) */
    pv_token_verifier_t *verifier;  /* NULL: no PreviewKeyFile */
    pv_password_profile_t *profile; /* NULL: no shared memory for it */
    pv_metrics_t *metrics; /* shared memory (mod_preview_metrics.h) or NULL */
    /* shared: when this server last logged a refused database account
     * (PV1610, seconds), NULL: no shared memory for it */
    volatile apr_uint32_t *db_refused_at;
    /* child_init (pchild); NULL where none could be made */
    pv_db_pool_t *db; /* NULL too: no PreviewDBParams */
    pv_slots_t *render_slots;
    pv_user_slots_t *user_slots;
    pv_budget_t *render_budget;
    pv_slots_t *login_slots;
    pv_cache_t *cache; /* NULL too: no PreviewCacheDir */
    /* PreviewStorageRoot held open (pv_source.h); NULL too: no root, or
     * no openat2 here */
    pv_source_root_t *source_root;
    /* tokens this process verified lately (pv_token_memo.h), one for
     * every server; NULL: none */
    pv_token_memo_t *token_memo;
} pv_server_t;

/* The group of s; valid from check_config on (its fields are filled by
 * post_config and child_init), read-only afterwards: safe from any
 * thread. */
const pv_server_t *pv_server_get(const server_rec *s);

/* The counters of r's server, for the pv_metrics_*() counting calls. */
#define PV_METRICS_OF(r) (pv_server_get((r)->server)->metrics)

/* child_init, after libvips and the preview caches: the database pools
 * (MariaDB's library started once, before the worker threads), the render
 * and login slots, the per-user tables, the render budgets, each
 * server's cache and its storage root held open; the token memo. What cannot be
 * made is logged at crit and left NULL. */
void pv_server_child_init(apr_pool_t *pchild, server_rec *s);

#endif /* MOD_PREVIEW_SERVER_H */
