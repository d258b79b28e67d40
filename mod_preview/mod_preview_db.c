/* Per-process MariaDB pools: built in child_init, looked up per request. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* One pool for every server with the same database and queries, sized by
 * the largest PreviewDBPoolMax among them. */
typedef struct {
    const pv_srv_conf *conf; /* the first server's */
    int max;
    pv_db_pool_t *pool;
} dbpool_entry;

/* server_rec * -> pv_db_pool_t *; written in child_init only. */
static apr_hash_t *pools_by_server;

static int same_db(const pv_srv_conf *a, const pv_srv_conf *b)
{
    return pv_db_params_equal(a->db_params, b->db_params) &&
           !strcmp(a->login_query, b->login_query) &&
           !strcmp(a->image_query, b->image_query) &&
           !strcmp(a->logout_query, b->logout_query);
}

void pv_dbpool_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *entries;
    apr_hash_t *entry_of;
    apr_hash_index_t *hi;
    apr_status_t rv;
    server_rec *sv;
    int i;

    pools_by_server = apr_hash_make(pchild);
    entries = apr_array_make(pchild, 4, sizeof(dbpool_entry *));
    entry_of = apr_hash_make(pchild);
    /* Group the servers by database first, then make one pool a group. */
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        dbpool_entry *e = NULL;

        if (!c->db_params) {
            continue;
        }
        for (i = 0; i < entries->nelts; i++) {
            dbpool_entry *x = APR_ARRAY_IDX(entries, i, dbpool_entry *);

            if (same_db(x->conf, c)) {
                e = x;
                break;
            }
        }
        if (!e) {
            e = apr_pcalloc(pchild, sizeof(*e));
            e->conf = c;
            APR_ARRAY_PUSH(entries, dbpool_entry *) = e;
        }
        if (c->db_pool_max > e->max) {
            e->max = (int)c->db_pool_max;
        }
        apr_hash_set(entry_of, apr_pmemdup(pchild, &sv, sizeof(sv)), sizeof(sv),
                     e);
    }
    if (entries->nelts == 0) {
        return;
    }
    /* mysql_library_init is not thread-safe: here, before the worker
     * threads start. */
    rv = pv_db_library_init();
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     PVLOGNO(0700) "cannot initialise the MariaDB client "
                                   "library");
        return;
    }
    for (i = 0; i < entries->nelts; i++) {
        dbpool_entry *e = APR_ARRAY_IDX(entries, i, dbpool_entry *);
        pv_db_queries_t q = {e->conf->login_query, e->conf->image_query,
                             e->conf->logout_query};

        rv =
            pv_db_pool_create(&e->pool, e->conf->db_params, &q, e->max, pchild);
        if (rv != APR_SUCCESS) {
            /* Its servers answer 500 and log PV0729. */
            e->pool = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         PVLOGNO(0701) "cannot create the MariaDB pool (%s)",
                         pv_db_params_str(e->conf->db_params, pchild));
        }
    }
    for (hi = apr_hash_first(pchild, entry_of); hi; hi = apr_hash_next(hi)) {
        const void *key;
        apr_ssize_t klen;
        void *val;
        dbpool_entry *e;

        apr_hash_this(hi, &key, &klen, &val);
        e = val;
        if (e->pool) {
            apr_hash_set(pools_by_server, key, klen, e->pool);
        }
    }
}

pv_db_pool_t *pv_dbpool_get(server_rec *s)
{
    if (!pools_by_server) {
        return NULL;
    }
    return apr_hash_get(pools_by_server, &s, sizeof(s));
}
