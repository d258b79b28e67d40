/* PreviewSOCache: the socache provider and instance shared by the login
 * limiter and the owner cache, kept across restarts, and its "down" state
 * (see mod_preview_socache.h). */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_kept.h"
#include "mod_preview_socache.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

static const char *const socache_mutex_type = "preview-login";
static const char *const socache_kept_name = "socache";
static const char *const socache_shm_name = "socache-state";

/* What a generation finds again: the instance of one PreviewSOCache text
 * (in the kept pool) and the lock every generation shares. */
typedef struct {
    const char *spec; /* provider name and its argument, as made */
    const char *provider_name;
    ap_socache_instance_t *cache;
    apr_global_mutex_t *mutex;
} socache_kept;

/* Node-wide, in kept shared memory: 1 while the store is known down, 1
 * while an outage has been logged and its end not yet, and when (seconds)
 * the last outage was logged. One process of the node logs an outage and
 * one its end; a store that fails again within SOCACHE_LOG_QUIET of the
 * last logged outage is not logged again: after a redis restart each
 * process's connection from before fails once more (and apr_redis holds
 * the server for dead 5 s each time), which is the same outage ending. */
typedef struct {
    volatile apr_uint32_t down;
    volatile apr_uint32_t announced;
    volatile apr_uint32_t logged_at;
} socache_shared;

#define SOCACHE_LOG_QUIET 60

static ap_socache_provider_t *provider;
static socache_kept *kept;
static socache_shared *shared;
/* Per process: the second (apr_time_sec) before which a store that failed
 * is not asked again; 0 while it answers. */
static volatile apr_uint32_t retry_at;
/* The server_rec handed to the provider: the main server's, its log level
 * lowered to emerg, so that a store that is down does not write a line
 * per request (mod_socache_redis logs every failed call at crit). */
static server_rec quiet;

void pv_socache_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, socache_mutex_type, NULL, APR_LOCK_DEFAULT, 0);
}

/* "shmcb" alone: a file in the runtime folder, of size bytes (shmcb uses
 * it only where anonymous shared memory is not available). */
static const char *socache_arg(const char *name, const char *arg,
                               apr_int64_t size, apr_pool_t *p)
{
    if (!strcmp(name, "shmcb") && !arg) {
        return apr_psprintf(p, "%s(%" APR_INT64_T_FMT ")",
                            ap_runtime_dir_relative(p, "preview-socache"),
                            size);
    }
    return arg;
}

static apr_status_t socache_exit_cleanup(void *data)
{
    socache_kept *k = data;

    /* At the parent's final exit only: a sysvsem or fcntl lock would
     * outlive the never-destroyed kept pool. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING && k->mutex) {
        apr_global_mutex_destroy(k->mutex);
        k->mutex = NULL;
    }
    return APR_SUCCESS;
}

static socache_kept *kept_get(server_rec *s)
{
    apr_pool_t *kp = pv_kept_pool(s);
    socache_kept *k = pv_kept_get(s, socache_kept_name);
    apr_status_t rv;

    if (!k && kp) {
        k = apr_pcalloc(kp, sizeof(*k));
        pv_kept_set(s, socache_kept_name, k);
    }
    if (!k) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     PVLOGNO(1500) "no memory for the shared cache");
        return NULL;
    }
    if (!k->mutex) {
        rv = ap_global_mutex_create(&k->mutex, NULL, socache_mutex_type, NULL,
                                    s, kp, 0);
        if (rv != APR_SUCCESS) {
            k->mutex = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         PVLOGNO(1501) "cannot create the %s mutex",
                         socache_mutex_type);
            return NULL;
        }
    }
    return k;
}

/* A new instance of name:arg in the kept pool, replacing the old one. */
static int socache_make(socache_kept *k, server_rec *s, const char *name,
                        const char *arg, const char *spec, apr_pool_t *ptemp)
{
    /* Both callers' keys are 32 bytes. The object size is the limiter's
     * (a count: 16 bytes, plus shmcb's 24-byte index record), so that
     * PreviewLoginLimitCacheSize holds as many counts as it did; an owner
     * entry, which holds a path, takes more of the data area. */
    static struct ap_socache_hints hints = {32, 16 + 24,
                                            apr_time_from_sec(300)};
    apr_pool_t *kp = pv_kept_pool(s);
    const char *err;
    apr_status_t rv;

    if (k->cache) {
        ap_socache_provider_t *old =
            ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, k->provider_name,
                               AP_SOCACHE_PROVIDER_VERSION);

        /* Processes of the older generation keep their own mapping. */
        if (old) {
            old->destroy(k->cache, s);
        }
        k->cache = NULL;
    }
    err = provider->create(&k->cache, arg, ptemp, kp);
    if (err) {
        k->cache = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     PVLOGNO(1502) "PreviewSOCache %s: %s", name, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = provider->init(k->cache, socache_mutex_type, &hints, s, kp);
    if (rv != APR_SUCCESS) {
        k->cache = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(1503) "PreviewSOCache %s: cannot initialise it",
                     name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    k->spec = apr_pstrdup(kp, spec);
    k->provider_name = apr_pstrdup(kp, name);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 PVLOGNO(1504) "shared cache made: %s", spec);
    return OK;
}

int pv_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                           int needed)
{
    const pv_srv_conf *c = pv_srv_conf_get(s);
    const char *name = c->socache, *colon, *arg = NULL, *spec;
    socache_kept *k;
    void *mem;
    int fresh, rc;

    provider = NULL;
    kept = NULL;
    if (!needed) {
        return OK;
    }
    if ((colon = strchr(name, ':'))) {
        arg = colon + 1;
        name = apr_pstrmemdup(ptemp, name, (apr_size_t)(colon - name));
    }
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (!provider) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     PVLOGNO(1505) "PreviewSOCache %s: no such socache "
                                   "provider; load mod_socache_%s "
                                   "(a2enmod socache_%s)",
                     name, name, name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    arg = socache_arg(name, arg, c->login_limit_cache_size, ptemp);
    spec = apr_pstrcat(ptemp, name, ":", arg ? arg : "", NULL);
    if (!(k = kept_get(s))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (k->cache && k->spec && !strcmp(k->spec, spec)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     PVLOGNO(1506) "shared cache kept, with its entries: %s",
                     spec);
    }
    else if ((rc = socache_make(k, s, name, arg, spec, ptemp)) != OK) {
        return rc;
    }
    if (pv_kept_shm(&mem, &fresh, s, socache_shm_name, sizeof(*shared)) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     PVLOGNO(1507) "no shared memory for the shared cache's "
                                   "state");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    shared = mem;
    apr_pool_cleanup_register(pconf, k, socache_exit_cleanup,
                              apr_pool_cleanup_null);
    kept = k;
    quiet = *s;
    quiet.log.level = APLOG_EMERG;
    quiet.log.module_levels = NULL;
    return OK;
}

void pv_socache_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!kept) {
        return;
    }
    rv = apr_global_mutex_child_init(&kept->mutex,
                                     apr_global_mutex_lockfile(kept->mutex), p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(1508) "cannot attach the %s mutex in a child",
                     socache_mutex_type);
    }
}

int pv_socache_enabled(void)
{
    return kept != NULL;
}

int pv_socache_local(void)
{
    return kept && !strcmp(kept->provider_name, "shmcb");
}

apr_status_t pv_socache_lock(void)
{
    return kept ? apr_global_mutex_lock(kept->mutex) : APR_EINIT;
}

void pv_socache_unlock(void)
{
    apr_global_mutex_unlock(kept->mutex);
}

/* Whether a store that failed may be asked again yet. */
static int socache_resting(void)
{
    apr_uint32_t at = apr_atomic_read32(&retry_at);

    return at && (apr_uint32_t)apr_time_sec(apr_time_now()) < at;
}

typedef enum { SOCACHE_GET, SOCACHE_PUT, SOCACHE_DEL } socache_op_e;

/* What a call's status says about the store. A refusal of this one entry
 * (too big, no room, expiry too near) is no outage. APR_NOTFOUND is news
 * only from a store: apr_redis and apr_memcache answer it to every call
 * while they hold their server for dead (they ping it again every 5 s),
 * so a retrieve or remove that finds nothing may be either. */
static apr_status_t socache_seen(request_rec *r, socache_op_e op,
                                 apr_status_t rv)
{
    apr_uint32_t now, last;

    if (rv == APR_NOTFOUND && op != SOCACHE_PUT) {
        return rv;
    }
    if (rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_ENOSPC ||
        rv == APR_ENOMEM) {
        apr_atomic_set32(&retry_at, 0);
        if (rv == APR_SUCCESS && apr_atomic_cas32(&shared->down, 0, 1) == 1 &&
            apr_atomic_cas32(&shared->announced, 0, 1) == 1) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          PVLOGNO(1509) "shared cache %s answers again: "
                                        "login limit and owner cache back",
                          kept->provider_name);
        }
        return rv;
    }
    now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_atomic_set32(&retry_at, now + PV_SOCACHE_RETRY_SECONDS);
    last = apr_atomic_read32(&shared->logged_at);
    if (apr_atomic_cas32(&shared->down, 1, 0) == 0 &&
        (!last || now - last >= SOCACHE_LOG_QUIET) &&
        apr_atomic_cas32(&shared->logged_at, now, last) == last) {
        apr_atomic_set32(&shared->announced, 1);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      PVLOGNO(1510) "shared cache %s does not answer: logins "
                                    "get 503 and previews ask the database "
                                    "until it does (logged once)",
                      kept->provider_name);
    }
    return PV_SOCACHE_DOWN;
}

/* One call to the provider: not while the store rests after a failure,
 * under the lock where the provider needs it and the caller does not hold
 * it already. */
static apr_status_t socache_call(request_rec *r, int locked, socache_op_e op,
                                 const unsigned char *key, unsigned int klen,
                                 apr_time_t expiry, unsigned char *val,
                                 unsigned int *len)
{
    int lock = !locked && (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE);
    apr_status_t rv;

    if (!kept || socache_resting()) {
        return PV_SOCACHE_DOWN;
    }
    if (lock && apr_global_mutex_lock(kept->mutex) != APR_SUCCESS) {
        return PV_SOCACHE_DOWN;
    }
    switch (op) {
        case SOCACHE_GET:
            rv = provider->retrieve(kept->cache, &quiet, key, klen, val, len,
                                    r->pool);
            break;
        case SOCACHE_PUT:
            rv = provider->store(kept->cache, &quiet, key, klen, expiry, val,
                                 *len, r->pool);
            break;
        default:
            rv = provider->remove(kept->cache, &quiet, key, klen, r->pool);
            break;
    }
    if (lock) {
        apr_global_mutex_unlock(kept->mutex);
    }
    return socache_seen(r, op, rv);
}

apr_status_t pv_socache_retrieve(request_rec *r, int locked,
                                 const unsigned char *key, unsigned int klen,
                                 unsigned char *val, unsigned int *len)
{
    return socache_call(r, locked, SOCACHE_GET, key, klen, 0, val, len);
}

apr_status_t pv_socache_store(request_rec *r, int locked,
                              const unsigned char *key, unsigned int klen,
                              apr_time_t expiry, const unsigned char *val,
                              unsigned int len)
{
    /* The providers take a non-const buffer and only read it. */
    return socache_call(r, locked, SOCACHE_PUT, key, klen, expiry,
                        (unsigned char *)val, &len);
}

apr_status_t pv_socache_remove(request_rec *r, int locked,
                               const unsigned char *key, unsigned int klen)
{
    return socache_call(r, locked, SOCACHE_DEL, key, klen, 0, NULL, NULL);
}
