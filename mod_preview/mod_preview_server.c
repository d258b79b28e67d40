/* Each server's runtime group (mod_preview_server.h): the per-process
 * slots, budgets and caches made in child_init and shared where the
 * servers share a bound. */
/* <stddef.h> before any APR header: APR_OFFSETOF() is offsetof() only then,
 * else pointer arithmetic on a null pointer (undefined). */
#include <stddef.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "mod_preview_cache.h"
#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "mod_preview_server.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* The group is made with the resolved configuration (check_config), which
 * holds a pointer to it: the builders below fill it in. */
static pv_server_t *group_of(server_rec *s)
{
    return pv_srv_conf_get(s)->server;
}

const pv_server_t *pv_server_get(const server_rec *s)
{
    return pv_srv_conf_get(s)->server;
}

static int max_logins(const pv_srv_conf *c)
{
    return (int)c->max_logins;
}

static int max_renders(const pv_srv_conf *c)
{
    return (int)c->max_renders;
}

/* Slots for one bound (bound_of) of every server, kept at field of its
 * group: virtual hosts with the main server's bound share its slots, so
 * that the bound holds per process, not per vhost. Logged at crit as
 * "<tag>cannot create <n> <what> slots". */
static void make_slots(server_rec *s, int (*bound_of)(const pv_srv_conf *),
                       apr_size_t field, const char *tag, const char *what,
                       apr_pool_t *pchild)
{
    int main_bound = bound_of(pv_srv_conf_get(s));
    pv_slots_t *main_slots = NULL;
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        int bound = bound_of(pv_srv_conf_get(sv));
        pv_slots_t *slots = NULL;

        if (main_slots && bound == main_bound) {
            slots = main_slots;
        }
        else if (pv_slots_create(&slots, bound, pchild) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                         "%scannot create %d %s slots", tag, bound, what);
            continue;
        }
        if (sv == s) {
            main_slots = slots;
        }
        *(pv_slots_t **)((char *)group_of(sv) + field) = slots;
    }
}

/* One per-user table per set of render slots, so that servers sharing
 * slots share the count of each user too. */
static void make_user_slots(server_rec *s, apr_pool_t *pchild)
{
    server_rec *sv, *prev;

    for (sv = s; sv; sv = sv->next) {
        pv_server_t *g = group_of(sv);

        if (!g->render_slots) {
            continue;
        }
        for (prev = s; prev != sv; prev = prev->next) {
            if (group_of(prev)->render_slots == g->render_slots &&
                group_of(prev)->user_slots) {
                g->user_slots = group_of(prev)->user_slots;
                break;
            }
        }
        if (!g->user_slots &&
            pv_user_slots_create(&g->user_slots, pchild) != APR_SUCCESS) {
            g->user_slots = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                         PVLOGNO(0940) "cannot create the per-user render "
                                       "slots");
        }
    }
}

/* One render memory budget per distinct process bound, so that it holds
 * per process. */
static void make_budgets(server_rec *s, apr_pool_t *pchild)
{
    server_rec *sv, *prev;

    for (sv = s; sv; sv = sv->next) {
        apr_uint64_t bound =
            (apr_uint64_t)pv_srv_conf_get(sv)->process_render_memory;
        pv_server_t *g = group_of(sv);

        for (prev = s; prev != sv; prev = prev->next) {
            if ((apr_uint64_t)pv_srv_conf_get(prev)->process_render_memory ==
                    bound &&
                group_of(prev)->render_budget) {
                g->render_budget = group_of(prev)->render_budget;
                break;
            }
        }
        if (!g->render_budget &&
            pv_budget_create(&g->render_budget, bound, pchild) != APR_SUCCESS) {
            g->render_budget = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv,
                         PVLOGNO(0947) "cannot create a render memory budget "
                                       "of %" APR_UINT64_T_FMT " bytes",
                         bound);
        }
    }
}

/* Each PreviewStorageRoot opened once per process, shared by the servers
 * that name it. Without openat2 or /proc: NULL, sources opened by path. */
static void open_storage_roots(server_rec *s, apr_pool_t *pchild)
{
    server_rec *sv, *prev;

    for (sv = s; sv; sv = sv->next) {
        const char *root = pv_srv_conf_get(sv)->storage_root;
        pv_source_root_t *sr = NULL;

        for (prev = s; root && prev != sv; prev = prev->next) {
            const char *other = pv_srv_conf_get(prev)->storage_root;

            if (other && !strcmp(other, root)) {
                sr = group_of(prev)->source_root;
                break;
            }
        }
        if (root && prev == sv &&
            pv_source_root_open(&sr, root, pchild) != APR_SUCCESS) {
            sr = NULL;
        }
        group_of(sv)->source_root = sr;
    }
}

/* One memo of verified tokens per process (its entries name their
 * verifier): without it, every token is verified in full. */
static void make_token_memo(server_rec *s, apr_pool_t *pchild)
{
    pv_token_memo_t *memo = NULL;
    server_rec *sv;

    if (pv_token_memo_create(&memo, pchild) != APR_SUCCESS) {
        memo = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     PVLOGNO(1526) "no token memo in this process: every "
                                   "token is verified in full");
    }
    for (sv = s; sv; sv = sv->next) {
        group_of(sv)->token_memo = memo;
    }
}

void pv_server_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sv;

    pv_dbpool_child_init(pchild, s);
    make_slots(s, max_logins, APR_OFFSETOF(pv_server_t, login_slots),
               PVLOGNO(1150), "login", pchild);
    make_slots(s, max_renders, APR_OFFSETOF(pv_server_t, render_slots),
               PVLOGNO(0902), "render", pchild);
    make_user_slots(s, pchild);
    make_budgets(s, pchild);
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        group_of(sv)->cache =
            c->cache_dir ? pv_preview_cache_of(c->cache_dir) : NULL;
    }
    open_storage_roots(s, pchild);
    make_token_memo(s, pchild);
}
