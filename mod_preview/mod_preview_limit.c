/* PreviewLoginLimit: login attempts counted in a socache shared by all
 * processes, in fixed windows, under keys of a fixed size that no client
 * can compute (HMAC-SHA256 of vhost, kind and who under a secret made at
 * start); an attempt is counted before it is made and given back when it
 * was not a failed guess. The cache, its lock and the secret are made once
 * and kept across restarts (mod_preview_kept.h), so a graceful restart
 * keeps every count. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "apr_strings.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mod_preview_kept.h"
#include "mod_preview_limit.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* A key as long as the digest: no search for a second preimage is easier
 * than guessing the secret. */
#define LIMIT_SECRET_LEN 32

/* What shmcb keeps per entry besides key and value: its index record
 * (SHMCBIndex: expiry, offset, two lengths, a flag; 24 bytes on 64-bit
 * platforms). shmcb sizes its index from the hint of an object's size, so
 * counting the record there makes index and data run out together instead
 * of leaving half the index unused. */
#define SHMCB_INDEX_BYTES 24

static const char *const limit_mutex_type = "preview-login";
static const char *const limit_kept_name = "login-limit";

/* The cache of this generation (and the older ones still running, which
 * use the same): found again or made in post_config. */
typedef struct {
    ap_socache_instance_t *cache;
    apr_global_mutex_t *mutex;
    apr_int64_t size;
    unsigned char secret[LIMIT_SECRET_LEN];
} limit_kept;

static ap_socache_provider_t *limit_provider;
static limit_kept *limit;

/* What one key holds: the failures of the window that starts at start. */
typedef struct {
    apr_uint32_t count;
    apr_int64_t start;
} limit_entry;

void pv_limit_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, limit_mutex_type, NULL, APR_LOCK_DEFAULT, 0);
}

/* The kept state: the secret on the first generation's first call; NULL
 * (logged) when there is no memory to keep it in or no random bytes. */
static limit_kept *limit_kept_get(server_rec *s)
{
    apr_pool_t *kp = pv_kept_pool(s);
    limit_kept *k = pv_kept_get(s, limit_kept_name);

    if (k) {
        return k;
    }
    if (!kp) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     PVLOGNO(0605) "no memory for the login-limit cache");
        return NULL;
    }
    k = apr_pcalloc(kp, sizeof(*k));
    if (RAND_bytes(k->secret, LIMIT_SECRET_LEN) != 1) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     PVLOGNO(0606) "no random bytes for the login-limit "
                                   "key");
        return NULL;
    }
    pv_kept_set(s, limit_kept_name, k);
    return k;
}

/* A cache of size bytes, from the kept pool (the shared memory outlives
 * this generation). */
static int limit_cache_make(limit_kept *k, server_rec *s, apr_int64_t size,
                            apr_pool_t *ptemp)
{
    static struct ap_socache_hints hints = {
        PV_LIMIT_KEY_LEN, sizeof(limit_entry) + SHMCB_INDEX_BYTES,
        apr_time_from_sec(300)};
    apr_pool_t *kp = pv_kept_pool(s);
    const char *err;
    apr_status_t rv;

    /* shmcb's argument: "file(size)"; the file is used only where
     * anonymous shared memory is not available. */
    err = limit_provider->create(
        &k->cache,
        apr_psprintf(ptemp, "%s(%" APR_INT64_T_FMT ")",
                     ap_runtime_dir_relative(ptemp, "preview-login-limit"),
                     size),
        ptemp, kp);
    if (err) {
        k->cache = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, PVLOGNO(0602) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = limit_provider->init(k->cache, limit_mutex_type, &hints, s, kp);
    if (rv != APR_SUCCESS) {
        k->cache = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0603) "cannot initialise the login-limit cache");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    k->size = size;
    return OK;
}

/* pconf's cleanup: at a restart nothing (the next generation goes on with
 * the kept lock); at the parent's final exit, the lock's semaphore or file
 * (a sysvsem or fcntl Mutex), which the never-destroyed kept pool would
 * leave behind. Children never exit in that state. */
static apr_status_t limit_exit_cleanup(void *data)
{
    limit_kept *k = data;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING && k->mutex) {
        apr_global_mutex_destroy(k->mutex);
        k->mutex = NULL;
    }
    return APR_SUCCESS;
}

int pv_limit_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s, int needed, apr_int64_t size)
{
    limit_kept *k;
    apr_status_t rv;
    int rc;

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
    if (!(k = limit_kept_get(s))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* One lock for every generation: children of the older one still
     * count in the same cache while they finish. */
    if (!k->mutex) {
        rv = ap_global_mutex_create(&k->mutex, NULL, limit_mutex_type, NULL, s,
                                    pv_kept_pool(s), 0);
        if (rv != APR_SUCCESS) {
            k->mutex = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         PVLOGNO(0601) "cannot create the %s mutex",
                         limit_mutex_type);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (k->cache && k->size == size) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     PVLOGNO(0607) "login-limit cache of %" APR_INT64_T_FMT
                                   " bytes kept, with its counts",
                     size);
    }
    else {
        if (k->cache) {
            /* A new size starts empty; the older generation's children
             * keep their mapping of the old cache until they exit. */
            limit_provider->destroy(k->cache, s);
            k->cache = NULL;
        }
        rc = limit_cache_make(k, s, size, ptemp);
        if (rc != OK) {
            return rc;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     PVLOGNO(0608) "login-limit cache of %" APR_INT64_T_FMT
                                   " bytes made",
                     size);
    }
    apr_pool_cleanup_register(pconf, k, limit_exit_cleanup,
                              apr_pool_cleanup_null);
    limit = k;
    return OK;
}

void pv_limit_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!limit) {
        return;
    }
    rv = apr_global_mutex_child_init(
        &limit->mutex, apr_global_mutex_lockfile(limit->mutex), p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0604) "cannot attach the %s mutex in a child",
                     limit_mutex_type);
    }
}

/* A fixed-size key: HMAC-SHA256 of vhost, kind and who under the kept
 * secret. However long a username is, every entry takes the same room in
 * the small shared cache, so long names cannot crowd out other clients'
 * counts; and since no client can compute a key, none can choose which of
 * shmcb's subcaches (picked by the key's first byte) its entries land in,
 * to push a victim's count out of its subcache with a few dozen. */
static void limit_key(unsigned char key[PV_LIMIT_KEY_LEN], request_rec *r,
                      const char *kind, const char *who, apr_size_t who_len)
{
    const char *vhost = apr_psprintf(
        r->pool, "%s:%u",
        r->server->server_hostname ? r->server->server_hostname : "",
        (unsigned)r->server->port);
    apr_size_t vlen = strlen(vhost) + 1, klen = strlen(kind) + 1;
    unsigned char *text = apr_palloc(r->pool, vlen + klen + who_len);
    unsigned int len = 0;

    /* NULs between the parts: none of them holds one (the login checked
     * the username), so no two triples make the same text. */
    memcpy(text, vhost, vlen);
    memcpy(text + vlen, kind, klen);
    memcpy(text + vlen + klen, who, who_len);
    if (!HMAC(EVP_sha256(), limit->secret, LIMIT_SECRET_LEN, text,
              vlen + klen + who_len, key, &len) ||
        len != PV_LIMIT_KEY_LEN) {
        /* Out of memory in OpenSSL: one shared key still meters. */
        memset(key, 0, PV_LIMIT_KEY_LEN);
    }
}

/* Caller holds the mutex. A missing or stale entry reads as empty. */
static void limit_get(request_rec *r, const unsigned char *key, apr_int64_t now,
                      int window, limit_entry *e)
{
    unsigned int len = sizeof(*e);

    if (limit_provider->retrieve(limit->cache, r->server, key, PV_LIMIT_KEY_LEN,
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
    limit_provider->store(limit->cache, r->server, key, PV_LIMIT_KEY_LEN,
                          apr_time_from_sec(e->start + window),
                          (unsigned char *)e, sizeof(*e), r->pool);
}

/* Seconds until the entry allows an attempt again; 0 when it does now. */
static apr_int64_t limit_wait(const limit_entry *e, int failures, int window,
                              apr_int64_t now)
{
    return e->count >= (apr_uint32_t)failures ? e->start + window - now : 0;
}

apr_int64_t pv_limit_peek(request_rec *r, const char *kind, const char *who,
                          apr_size_t who_len, int failures, int window)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    unsigned char key[PV_LIMIT_KEY_LEN];
    apr_int64_t wait;
    limit_entry e;

    if (!limit || failures <= 0) {
        return 0;
    }
    limit_key(key, r, kind, who, who_len);
    if (apr_global_mutex_lock(limit->mutex) != APR_SUCCESS) {
        return 1;
    }
    limit_get(r, key, now, window, &e);
    apr_global_mutex_unlock(limit->mutex);
    wait = limit_wait(&e, failures, window, now);
    return wait > 0 ? wait : 0;
}

apr_int64_t pv_limit_take(pv_limit_hold_t *hold, request_rec *r,
                          const char *kind, const char *who, apr_size_t who_len,
                          int failures, int window)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t wait = 0;
    limit_entry e;

    memset(hold, 0, sizeof(*hold));
    if (!limit || failures <= 0) {
        return 0;
    }
    limit_key(hold->key, r, kind, who, who_len);
    if (apr_global_mutex_lock(limit->mutex) != APR_SUCCESS) {
        /* Refusing is safer than letting a guesser through unmetered. */
        return 1;
    }
    /* Check and count in one critical section: of a burst, only the first
     * `failures` attempts get through, however many arrive at once. */
    limit_get(r, hold->key, now, window, &e);
    wait = limit_wait(&e, failures, window, now);
    if (!wait) {
        e.count++;
        limit_put(r, hold->key, &e, window);
        hold->start = e.start;
        hold->window = window;
        hold->held = 1;
    }
    apr_global_mutex_unlock(limit->mutex);
    return wait > 0 ? wait : (hold->held ? 0 : 1);
}

void pv_limit_give_back(request_rec *r, pv_limit_hold_t *hold)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    limit_entry e;

    if (!hold->held || apr_global_mutex_lock(limit->mutex) != APR_SUCCESS) {
        return;
    }
    /* Only into the window it was taken from: a new window starts at 0. */
    limit_get(r, hold->key, now, hold->window, &e);
    if (e.start == hold->start && e.count > 0) {
        e.count--;
        limit_put(r, hold->key, &e, hold->window);
    }
    apr_global_mutex_unlock(limit->mutex);
    hold->held = 0;
}

void pv_limit_forget(request_rec *r, pv_limit_hold_t *hold)
{
    if (!hold->held || apr_global_mutex_lock(limit->mutex) != APR_SUCCESS) {
        return;
    }
    limit_provider->remove(limit->cache, r->server, hold->key, PV_LIMIT_KEY_LEN,
                           r->pool);
    apr_global_mutex_unlock(limit->mutex);
    hold->held = 0;
}
