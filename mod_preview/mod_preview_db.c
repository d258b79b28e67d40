/* Per-process MariaDB pools: built in child_init, looked up per request;
 * and per database what outlives the processes: the dummy check's password
 * profile, in shared memory kept across restarts. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "mod_preview_kept.h"
#include "mod_preview_server.h"
#include "pv_log.h"
#include "pv_password.h"

APLOG_USE_MODULE(preview);

/* One pool for every server with the same database and queries, sized by
 * the largest PreviewDBPoolMax among them. */
typedef struct {
    const pv_srv_conf *conf; /* the first server's */
    int max;
    pv_db_pool_t *pool;
} dbpool_entry;

static int same_db(const pv_srv_conf *a, const pv_srv_conf *b)
{
    return pv_db_params_equal(a->db_params, b->db_params) &&
           !strcmp(a->login_query, b->login_query) &&
           !strcmp(a->image_query, b->image_query) &&
           !strcmp(a->logout_query, b->logout_query);
}

/* The entry of c's database in entries, added when it is the first. */
static dbpool_entry *entry_of(apr_array_header_t *entries, const pv_srv_conf *c,
                              apr_pool_t *p)
{
    dbpool_entry *e;
    int i;

    for (i = 0; i < entries->nelts; i++) {
        e = APR_ARRAY_IDX(entries, i, dbpool_entry *);
        if (same_db(e->conf, c)) {
            return e;
        }
    }
    e = apr_pcalloc(p, sizeof(*e));
    e->conf = c;
    APR_ARRAY_PUSH(entries, dbpool_entry *) = e;
    return e;
}

void pv_dbpool_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *entries;
    apr_status_t rv;
    server_rec *sv;
    int i;

    entries = apr_array_make(pchild, 4, sizeof(dbpool_entry *));
    /* Group the servers by database first, then make one pool a group. */
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        dbpool_entry *e;

        if (!c->db_params) {
            continue;
        }
        e = entry_of(entries, c, pchild);
        if (c->db_pool_max > e->max) {
            e->max = (int)c->db_pool_max;
        }
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
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        if (c->db_params) {
            c->server->db = entry_of(entries, c, pchild)->pool;
        }
    }
}

/* ---------------------------------------------------- password profiles */

/* Whose users a profile describes: the database (parameters, without the
 * password) and the query that reads their hashes. */
static const char *profile_name(const pv_srv_conf *c, apr_pool_t *p)
{
    return apr_pstrcat(p,
                       "password-profile:", pv_db_params_str(c->db_params, p),
                       "\n", c->login_query, NULL);
}

/* --------------------------------------------------- a refused account */

/* One shared word per server with a database: the last time it logged
 * PV1610. Found by position: a restart that moves a server at worst logs
 * once too early or too late. */
static void refused_slots(apr_pool_t *pconf, server_rec *s)
{
    volatile apr_uint32_t *at;
    void *mem = NULL;
    int n = 0, fresh = 0;
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        n += pv_srv_conf_get(sv)->db_params != NULL;
    }
    if (n == 0 || pv_kept_shm(&mem, &fresh, s, "db-refused-log",
                              APR_ALIGN_DEFAULT(n * sizeof(apr_uint32_t))) !=
                      APR_SUCCESS) {
        /* Without it, every refused request logs. */
        return;
    }
    at = mem;
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        if (c->db_params) {
            c->server->db_refused_at = at++;
        }
    }
    (void)pconf;
}

void pv_dbpool_log_refused(request_rec *r, const char *err)
{
    volatile apr_uint32_t *at = pv_server_get(r->server)->db_refused_at;
    const pv_srv_conf *c = pv_srv_conf_get(r->server);
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time), last;

    if (at) {
        last = apr_atomic_read32(at);
        /* Within the interval, or another request logs it right now. */
        if ((last && now - last < PV_DB_REFUSED_LOG_INTERVAL) ||
            apr_atomic_cas32(at, now, last) != last) {
            return;
        }
    }
    /* ERR in this server's own log: a misconfiguration, not an outage,
     * that lasts until PreviewDBParams (or the account) is fixed. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  PVLOGNO(1610) "PreviewDBParams \"%s\": MariaDB refuses the "
                                "account (%s); every request that needs the "
                                "database gets 503 until the account or "
                                "PreviewDBParams is fixed (logged again "
                                "after %d s)",
                  c->db_params ? pv_db_params_str(c->db_params, r->pool) : "",
                  err ? err : "?", PV_DB_REFUSED_LOG_INTERVAL);
}

int pv_dbpool_post_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *sv;

    refused_slots(pconf, s);

    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        pv_password_profile_t *learned;
        void *mem = NULL;
        int fresh = 0;
        apr_status_t rv;

        if (!c->db_params) {
            continue;
        }
        rv = pv_kept_shm(&mem, &fresh, s, profile_name(c, pconf),
                         pv_password_profile_size());
        if (rv != APR_SUCCESS) {
            /* Each process learns alone, as a new process after a
             * restart would without shared memory. */
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, sv,
                         PVLOGNO(0702) "no shared memory for the password "
                                       "profile of %s: each process learns "
                                       "its own",
                         pv_db_params_str(c->db_params, pconf));
            continue;
        }
        learned = fresh ? pv_password_profile_init(mem) : mem;
        c->server->profile = learned;
    }
    return OK;
}

pv_password_profile_t *pv_dbpool_profile(request_rec *r, pv_db_pool_t *db,
                                         int sample)
{
    pv_password_profile_t *learned = pv_server_get(r->server)->profile;
    const char *hash = NULL, *err = NULL;
    apr_status_t rv;

    if (!sample || pv_password_profile_known(learned)) {
        return learned;
    }
    /* Nothing checked since a cold start: an unknown user must not be
     * answered with the cheap built-in default. */
    rv = pv_db_password_sample(&hash, &err, db, r->pool);
    if (rv == APR_SUCCESS) {
        rv = pv_password_profile_learn(learned, hash);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                      PVLOGNO(0703) "password profile learned from the "
                                    "newest user's hash (%s)",
                      pv_password_kind(hash));
    }
    else if (rv != APR_ENOTIMPL && rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0704) "no password hash sample: %s",
                      err ? err : "?");
    }
    return learned;
}
