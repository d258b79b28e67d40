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

/* One pool for every server with the same database and queries. */
typedef struct {
    const pv_db_params_t *params;
    const char *login, *image, *logout;
    pv_db_pool_t *pool;
} dbpool_entry;

/* server_rec * -> pv_db_pool_t *; written in child_init only. */
static apr_hash_t *pools_by_server;

static int same_db(const dbpool_entry *e, const pv_srv_conf *c)
{
    return pv_db_params_equal(e->params, c->db_params) &&
           !strcmp(e->login, c->login_query) &&
           !strcmp(e->image, c->image_query) &&
           !strcmp(e->logout, c->logout_query);
}

void pv_dbpool_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *entries;
    apr_status_t rv;
    server_rec *sv;
    int i;

    pools_by_server = apr_hash_make(pchild);
    entries = apr_array_make(pchild, 4, sizeof(dbpool_entry));
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        dbpool_entry *e = NULL;

        if (!c->db_params) {
            continue;
        }
        if (entries->nelts == 0) {
            /* mysql_library_init is not thread-safe: here, before the
             * worker threads start. */
            rv = pv_db_library_init();
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             PVLOGNO(0700) "cannot initialise the MariaDB "
                                           "client library");
                return;
            }
        }
        for (i = 0; i < entries->nelts; i++) {
            dbpool_entry *x = &APR_ARRAY_IDX(entries, i, dbpool_entry);

            if (same_db(x, c)) {
                e = x;
                break;
            }
        }
        if (!e) {
            pv_db_queries_t q = {c->login_query, c->image_query,
                                 c->logout_query};
            pv_db_pool_t *pool;

            rv = pv_db_pool_create(&pool, c->db_params, &q, (int)c->db_pool_max,
                                   pchild);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sv,
                             PVLOGNO(0701) "cannot create the MariaDB pool "
                                           "(%s)",
                             pv_db_params_str(c->db_params, pchild));
                continue;
            }
            e = apr_array_push(entries);
            e->params = c->db_params;
            e->login = c->login_query;
            e->image = c->image_query;
            e->logout = c->logout_query;
            e->pool = pool;
        }
        apr_hash_set(pools_by_server, apr_pmemdup(pchild, &sv, sizeof(sv)),
                     sizeof(sv), e->pool);
    }
}

pv_db_pool_t *pv_dbpool_get(server_rec *s)
{
    if (!pools_by_server) {
        return NULL;
    }
    return apr_hash_get(pools_by_server, &s, sizeof(s));
}
