/* Per-process slots of each server, for the bounds that hold per process
 * (PreviewMaxRenders, PreviewMaxLogins, PreviewMaxRendersPerUser), and the
 * render memory budget (PreviewMaxRenderMemory's second number). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_hash.h"

#include "mod_preview_config.h"
#include "mod_preview_slots.h"

APLOG_USE_MODULE(preview);

apr_hash_t *pv_server_slots_make(server_rec *s, pv_slots_bound_fn *bound_of,
                                 const char *tag, const char *what,
                                 apr_pool_t *pchild)
{
    apr_hash_t *map = apr_hash_make(pchild);
    apr_int64_t main_bound = bound_of(pv_srv_conf_get(s));
    pv_slots_t *main_slots = NULL;
    server_rec *sv;

    /* Virtual hosts with the main server's bound share its slots, so that
     * the bound holds per process, not per vhost. */
    for (sv = s; sv; sv = sv->next) {
        apr_int64_t bound = bound_of(pv_srv_conf_get(sv));
        pv_slots_t *slots = NULL;
        server_rec **k;

        if (main_slots && bound == main_bound) {
            slots = main_slots;
        }
        else if (pv_slots_create(&slots, (int)bound, pchild) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                         "%scannot create %d %s slots", tag, (int)bound, what);
            continue;
        }
        if (sv == s) {
            main_slots = slots;
        }
        /* Keyed by the pointer's value, not by the server_rec's first
         * bytes (which every server shares). */
        k = apr_palloc(pchild, sizeof(*k));
        *k = sv;
        apr_hash_set(map, k, sizeof(*k), slots);
    }
    return map;
}

/* Keyed by the pointer's value, not by the server_rec's first bytes
 * (which every server shares). */
static void *server_value(apr_hash_t *map, const server_rec *s)
{
    return map ? apr_hash_get(map, &s, sizeof(s)) : NULL;
}

pv_slots_t *pv_server_slots_get(apr_hash_t *map, const server_rec *s)
{
    return server_value(map, s);
}

apr_hash_t *pv_server_user_slots_make(server_rec *s, apr_hash_t *slots_map,
                                      const char *tag, apr_pool_t *pchild)
{
    apr_hash_t *map = apr_hash_make(pchild);
    apr_hash_t *by_slots = apr_hash_make(pchild);
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        pv_slots_t *slots = pv_server_slots_get(slots_map, sv);
        pv_user_slots_t *us;
        const server_rec **k;

        if (!slots) {
            continue;
        }
        us = apr_hash_get(by_slots, &slots, sizeof(slots));
        if (!us) {
            pv_slots_t **sk;

            if (pv_user_slots_create(&us, pchild) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                             "%scannot create the per-user render slots", tag);
                continue;
            }
            sk = apr_palloc(pchild, sizeof(*sk));
            *sk = slots;
            apr_hash_set(by_slots, sk, sizeof(*sk), us);
        }
        k = apr_palloc(pchild, sizeof(*k));
        *k = sv;
        apr_hash_set(map, k, sizeof(*k), us);
    }
    return map;
}

apr_hash_t *pv_server_budget_make(server_rec *s, pv_budget_bound_fn *bound_of,
                                  const char *tag, apr_pool_t *pchild)
{
    apr_hash_t *map = apr_hash_make(pchild);
    /* bound (bytes) -> its budget: one per distinct value */
    apr_hash_t *by_bound = apr_hash_make(pchild);
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        apr_uint64_t *bound = apr_palloc(pchild, sizeof(*bound));
        pv_budget_t *b;
        server_rec **k;

        *bound = bound_of(pv_srv_conf_get(sv));
        b = apr_hash_get(by_bound, bound, sizeof(*bound));
        if (!b) {
            if (pv_budget_create(&b, *bound, pchild) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                             "%scannot create a render memory budget of "
                             "%" APR_UINT64_T_FMT " bytes",
                             tag, *bound);
                continue;
            }
            apr_hash_set(by_bound, bound, sizeof(*bound), b);
        }
        k = apr_palloc(pchild, sizeof(*k));
        *k = sv;
        apr_hash_set(map, k, sizeof(*k), b);
    }
    return map;
}

pv_user_slots_t *pv_server_user_slots_get(apr_hash_t *map, const server_rec *s)
{
    return server_value(map, s);
}

pv_budget_t *pv_server_budget_get(apr_hash_t *map, const server_rec *s)
{
    return map ? apr_hash_get(map, &s, sizeof(s)) : NULL;
}
