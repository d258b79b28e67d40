/* PreviewLoginLimit: login attempts counted in the shared cache
 * (PreviewSOCache, mod_preview_socache.h), in fixed windows, under keys of
 * a fixed size (HMAC-SHA256 of vhost, kind and who); an attempt is counted
 * before it is made and given back when it was not a failed guess. The
 * cache and the key's secret are kept across restarts, so a graceful
 * restart keeps every count. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mod_preview_kept.h"
#include "mod_preview_limit.h"
#include "mod_preview_socache.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* A key as long as the digest: no search for a second preimage is easier
 * than guessing the secret. */
#define LIMIT_SECRET_LEN 32

static const char *const limit_kept_name = "login-limit";

typedef struct {
    unsigned char secret[LIMIT_SECRET_LEN];
} limit_kept;

static limit_kept *limit;

/* What one key holds: the failures of the window that starts at start. */
typedef struct {
    apr_uint32_t count;
    apr_int64_t start;
} limit_entry;

/* The kept secret: random bytes made by the first generation for shmcb,
 * whose entries no other machine reads; all zeros for a store several
 * nodes share (redis, memcache), whose keys every node must compute alike.
 * What the secret guards is shmcb's: no client can pick the subcache (by
 * the key's first byte) its entries land in to push a victim's count out;
 * a redis or memcache hash table has no such subcaches. */
static limit_kept *limit_kept_get(server_rec *s)
{
    apr_pool_t *kp = pv_kept_pool(s);
    limit_kept *k = pv_kept_get(s, limit_kept_name);

    if (!k) {
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
    }
    return k;
}

int pv_limit_post_config(server_rec *s, int needed)
{
    static const unsigned char shared_secret[LIMIT_SECRET_LEN];
    limit_kept *k;

    limit = NULL;
    if (!needed || !pv_socache_enabled()) {
        return OK;
    }
    if (!(k = limit_kept_get(s))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!pv_socache_local()) {
        /* A copy, so that going back to shmcb finds its own secret. */
        k = apr_pmemdup(s->process->pconf, k, sizeof(*k));
        memcpy(k->secret, shared_secret, LIMIT_SECRET_LEN);
    }
    limit = k;
    return OK;
}

/* A fixed-size key: HMAC-SHA256 of vhost, kind and who under the secret.
 * However long a username is, every entry takes the same room in the
 * cache, so long names cannot crowd out other clients' counts. */
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

/* Caller holds the lock. A missing or stale entry reads as empty; a
 * store that does not answer: PV_SOCACHE_DOWN. Entries read back are
 * checked, since a shared store is written by other nodes too. */
static apr_status_t limit_get(request_rec *r, const unsigned char *key,
                              apr_int64_t now, int window, limit_entry *e)
{
    unsigned int len = sizeof(*e);
    apr_status_t rv = pv_socache_retrieve(r, 1, key, PV_LIMIT_KEY_LEN,
                                          (unsigned char *)e, &len);

    if (rv == PV_SOCACHE_DOWN) {
        return rv;
    }
    if (rv != APR_SUCCESS || len != sizeof(*e) || e->start + window <= now ||
        e->start > now) {
        e->count = 0;
        e->start = now;
    }
    return APR_SUCCESS;
}

static apr_status_t limit_put(request_rec *r, const unsigned char *key,
                              const limit_entry *e, int window)
{
    return pv_socache_store(r, 1, key, PV_LIMIT_KEY_LEN,
                            apr_time_from_sec(e->start + window),
                            (const unsigned char *)e, sizeof(*e));
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
    apr_status_t rv;
    limit_entry e;

    if (!limit || failures <= 0) {
        return 0;
    }
    limit_key(key, r, kind, who, who_len);
    if (pv_socache_lock() != APR_SUCCESS) {
        return PV_LIMIT_DOWN;
    }
    rv = limit_get(r, key, now, window, &e);
    pv_socache_unlock();
    if (rv != APR_SUCCESS) {
        return PV_LIMIT_DOWN;
    }
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
    if (pv_socache_lock() != APR_SUCCESS) {
        /* Refusing is safer than letting a guesser through unmetered. */
        return PV_LIMIT_DOWN;
    }
    /* Check and count in one critical section: of a burst, only the first
     * `failures` attempts get through, however many arrive at once (at
     * this node; see README "Several nodes" for a store they share). */
    if (limit_get(r, hold->key, now, window, &e) != APR_SUCCESS) {
        pv_socache_unlock();
        return PV_LIMIT_DOWN;
    }
    wait = limit_wait(&e, failures, window, now);
    if (!wait) {
        e.count++;
        /* A count that cannot be kept lets no guess through (a store held
         * for dead reads as empty: only the store tells). */
        if (limit_put(r, hold->key, &e, window) == PV_SOCACHE_DOWN) {
            pv_socache_unlock();
            return PV_LIMIT_DOWN;
        }
        hold->start = e.start;
        hold->window = window;
        hold->held = 1;
    }
    pv_socache_unlock();
    return wait > 0 ? wait : (hold->held ? 0 : 1);
}

void pv_limit_give_back(request_rec *r, pv_limit_hold_t *hold)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    limit_entry e;

    if (!hold->held || pv_socache_lock() != APR_SUCCESS) {
        return;
    }
    /* Only into the window it was taken from: a new window starts at 0. */
    if (limit_get(r, hold->key, now, hold->window, &e) == APR_SUCCESS &&
        e.start == hold->start && e.count > 0) {
        e.count--;
        limit_put(r, hold->key, &e, hold->window);
    }
    pv_socache_unlock();
    hold->held = 0;
}

void pv_limit_forget(request_rec *r, pv_limit_hold_t *hold)
{
    if (!hold->held || pv_socache_lock() != APR_SUCCESS) {
        return;
    }
    pv_socache_remove(r, 1, hold->key, PV_LIMIT_KEY_LEN);
    pv_socache_unlock();
    hold->held = 0;
}
