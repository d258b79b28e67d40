/* PreviewLoginLimit: login attempts counted in a socache shared by all
 * processes, in fixed windows, under keys of a fixed size (a hash of vhost,
 * kind and who); an attempt is counted before it is made and given back
 * when it was not a failed guess. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "apr_strings.h"

#include <openssl/evp.h>

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
    static struct ap_socache_hints hints = {
        PV_LIMIT_KEY_LEN, sizeof(limit_entry), apr_time_from_sec(300)};
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

/* A fixed-size key: SHA-256 of vhost, kind and who. However long a
 * username is, every entry takes the same room in the small shared cache,
 * so long names cannot crowd out other clients' counts. */
static void limit_key(unsigned char key[PV_LIMIT_KEY_LEN], request_rec *r,
                      const char *kind, const char *who, apr_size_t who_len)
{
    const char *vhost = apr_psprintf(
        r->pool, "%s:%u",
        r->server->server_hostname ? r->server->server_hostname : "",
        (unsigned)r->server->port);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;

    /* NULs between the parts: none of them holds one (the login checked
     * the username), so no two triples hash the same text. */
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, vhost, strlen(vhost) + 1) ||
        !EVP_DigestUpdate(md, kind, strlen(kind) + 1) ||
        !EVP_DigestUpdate(md, who, who_len) ||
        !EVP_DigestFinal_ex(md, key, &len)) {
        /* Out of memory in OpenSSL: one shared key still meters. */
        memset(key, 0, PV_LIMIT_KEY_LEN);
    }
    EVP_MD_CTX_free(md);
}

/* Caller holds the mutex. A missing or stale entry reads as empty. */
static void limit_get(request_rec *r, const unsigned char *key, apr_int64_t now,
                      int window, limit_entry *e)
{
    unsigned int len = sizeof(*e);

    if (limit_provider->retrieve(limit_cache, r->server, key, PV_LIMIT_KEY_LEN,
                                 (unsigned char *)e, &len,
                                 r->pool) != APR_SUCCESS ||
        len != sizeof(*e) || e->start + window <= now) {
        e->count = 0;
        e->start = now;
    }
}

static void limit_put(request_rec *r, const unsigned char *key,
                      const limit_entry *e, int window)
{
    limit_provider->store(limit_cache, r->server, key, PV_LIMIT_KEY_LEN,
                          apr_time_from_sec(e->start + window),
                          (unsigned char *)e, sizeof(*e), r->pool);
}

apr_int64_t pv_limit_take(pv_limit_hold_t *hold, request_rec *r,
                          const char *kind, const char *who, apr_size_t who_len,
                          int failures, int window)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t wait = 0;
    limit_entry e;

    memset(hold, 0, sizeof(*hold));
    if (!limit_cache || failures <= 0) {
        return 0;
    }
    limit_key(hold->key, r, kind, who, who_len);
    if (apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        /* Refusing is safer than letting a guesser through unmetered. */
        return 1;
    }
    /* Check and count in one critical section: of a burst, only the first
     * `failures` attempts get through, however many arrive at once. */
    limit_get(r, hold->key, now, window, &e);
    if (e.count >= (apr_uint32_t)failures) {
        wait = e.start + window - now;
    }
    else {
        e.count++;
        limit_put(r, hold->key, &e, window);
        hold->start = e.start;
        hold->window = window;
        hold->held = 1;
    }
    apr_global_mutex_unlock(limit_mutex);
    return wait > 0 ? wait : (hold->held ? 0 : 1);
}

void pv_limit_give_back(request_rec *r, pv_limit_hold_t *hold)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    limit_entry e;

    if (!hold->held || apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        return;
    }
    /* Only into the window it was taken from: a new window starts at 0. */
    limit_get(r, hold->key, now, hold->window, &e);
    if (e.start == hold->start && e.count > 0) {
        e.count--;
        limit_put(r, hold->key, &e, hold->window);
    }
    apr_global_mutex_unlock(limit_mutex);
    hold->held = 0;
}

void pv_limit_forget(request_rec *r, pv_limit_hold_t *hold)
{
    if (!hold->held || apr_global_mutex_lock(limit_mutex) != APR_SUCCESS) {
        return;
    }
    limit_provider->remove(limit_cache, r->server, hold->key, PV_LIMIT_KEY_LEN,
                           r->pool);
    apr_global_mutex_unlock(limit_mutex);
    hold->held = 0;
}
