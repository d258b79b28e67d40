/* PreviewLoginLimit: failed logins counted in a socache shared by all
 * processes, keyed by client IP and by username, in fixed windows. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "apr_strings.h"

#include "mod_preview_limit.h"
#include "pv_log.h"

static const char *const limit_mutex_type = "preview-login";
static apr_global_mutex_t *limit_mutex;
static ap_socache_provider_t *limit_provider;
static ap_socache_instance_t *limit_cache;

/* What one key holds: the failures of the window that starts at start. */
typedef struct {
    apr_uint32_t count;
    apr_int64_t start;
} limit_entry;

void pv_limit_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, limit_mutex_type, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t limit_cleanup(void *data)
{
    server_rec *s = data;

    if (limit_cache) {
        limit_provider->destroy(limit_cache, s);
        limit_cache = NULL;
    }
    if (limit_mutex) {
        apr_global_mutex_destroy(limit_mutex);
        limit_mutex = NULL;
    }
    return APR_SUCCESS;
}

int pv_limit_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s, int needed)
{
    static struct ap_socache_hints hints = {48, sizeof(limit_entry),
                                            apr_time_from_sec(300)};
    const char *err;
    apr_status_t rv;

    if (!needed) {
        return OK;
    }
    limit_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                        AP_SOCACHE_PROVIDER_VERSION);
    if (!limit_provider) {
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, 0, s,
            PVLOGNO(0600) "PreviewLoginLimit needs a shared cache: "
                          "load mod_socache_shmcb (a2enmod socache_shmcb)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = ap_global_mutex_create(&limit_mutex, NULL, limit_mutex_type, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0601) "cannot create the %s mutex",
                     limit_mutex_type);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    err = limit_provider->create(&limit_cache, NULL, ptemp, pconf);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, PVLOGNO(0602) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = limit_provider->init(limit_cache, limit_mutex_type, &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0603) "cannot initialise the login-limit cache");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, s, limit_cleanup, apr_pool_cleanup_null);
    return OK;
}

void pv_limit_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!limit_mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&limit_mutex,
                                     apr_global_mutex_lockfile(limit_mutex), p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0604) "cannot attach the %s mutex in a child",
                     limit_mutex_type);
    }
}

/* Keys carry the virtual host, so each vhost counts on its own. */
static const char *limit_key(request_rec *r, const char *kind, const char *who)
{
    return apr_psprintf(r->pool, "%s:%u|%s|%s", r->server->server_hostname,
                        (unsigned)r->server->port, kind, who);
}

/* Caller holds the mutex. A missing or stale entry reads as empty. */
static void limit_get(request_rec *r, const char *key, apr_int64_t now,
                      int window, limit_entry *e)
{
    unsigned int len = sizeof(*e);

    if (limit_provider->retrieve(
            limit_cache, r->server, (const unsigned char *)key, strlen(key),
            (unsigned char *)e, &len, r->pool) != APR_SUCCESS ||
        len != sizeof(*e) || e->start + window <= now) {
        e->count = 0;
        e->start = now;
    }
}

static apr_int64_t limit_wait(request_rec *r, const char *key, apr_int64_t now,
                              int failures, int window)
{
    limit_entry e;

    limit_get(r, key, now, window, &e);
    if (e.count >= (apr_uint32_t)failures) {
        return e.start + window - now;
    }
    return 0;
}

apr_int64_t pv_limit_check(request_rec *r, const char *user, int failures,
                           int window)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t wait, wait_user = 0;

    if (!limit_cache || failures <= 0) {
        return 0;
    }
    if (apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        /* Refusing is safer than letting a guesser through unmetered. */
        return 1;
    }
    wait = limit_wait(r, limit_key(r, "ip", r->useragent_ip), now, failures,
                      window);
    if (user) {
        wait_user =
            limit_wait(r, limit_key(r, "user", user), now, failures, window);
    }
    apr_global_mutex_unlock(limit_mutex);
    return wait > wait_user ? wait : wait_user;
}

static void limit_bump(request_rec *r, const char *key, apr_int64_t now,
                       int window)
{
    limit_entry e;

    limit_get(r, key, now, window, &e);
    e.count++;
    limit_provider->store(limit_cache, r->server, (const unsigned char *)key,
                          strlen(key), apr_time_from_sec(e.start + window),
                          (unsigned char *)&e, sizeof(e), r->pool);
}

void pv_limit_fail(request_rec *r, const char *user, int window)
{
    apr_int64_t now = apr_time_sec(apr_time_now());

    if (!limit_cache || apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        return;
    }
    limit_bump(r, limit_key(r, "ip", r->useragent_ip), now, window);
    if (user) {
        limit_bump(r, limit_key(r, "user", user), now, window);
    }
    apr_global_mutex_unlock(limit_mutex);
}

void pv_limit_success(request_rec *r, const char *user)
{
    const char *key;

    if (!limit_cache || !user ||
        apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        return;
    }
    key = limit_key(r, "user", user);
    limit_provider->remove(limit_cache, r->server, (const unsigned char *)key,
                           strlen(key), r->pool);
    apr_global_mutex_unlock(limit_mutex);
}
