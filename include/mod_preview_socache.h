/* The one socache (PreviewSOCache) the login limiter and the owner cache
 * keep their entries in: shmcb (one machine's shared memory, the default),
 * or a store every node reaches (redis, memcache), so that several httpd
 * nodes share counts and entries.
 *
 * The instance and its lock are made once and kept across restarts of the
 * configuration (mod_preview_kept.h) while PreviewSOCache stays the same,
 * so a graceful restart keeps every entry of shmcb too. A store that stops
 * answering (redis down) is "down": it is logged once per node, not asked
 * again for a few seconds (each call then answers PV_SOCACHE_DOWN at once,
 * no timeout per request), then asked again; the first answer after that
 * is logged once as well. The providers' own per-call error lines are not
 * written: ours say it once. */
#ifndef MOD_PREVIEW_SOCACHE_H
#define MOD_PREVIEW_SOCACHE_H

#include "httpd.h"

/* The store did not answer (now, or a moment ago): the caller degrades. */
#define PV_SOCACHE_DOWN (APR_OS_START_USERERR + 1500)

/* Seconds a store that failed is left alone before it is asked again. */
#define PV_SOCACHE_RETRY_SECONDS 2

/* Longest key and value the callers use (bytes). */
#define PV_SOCACHE_KEY_MAX 64

/* pre_config: our mutex type ("Mutex preview-login", the name it had when
 * the login limiter alone used it). */
void pv_socache_pre_config(apr_pool_t *pconf);

/* post_config: the provider of PreviewSOCache (main server) found and its
 * instance made (or the kept one reused); shmcb without arguments gets a
 * file in the runtime folder of PreviewLoginLimitCacheSize bytes. Nothing
 * when !needed. An error naming the module to load when the provider is
 * not loaded. */
int pv_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                           int needed);

void pv_socache_child_init(apr_pool_t *p, server_rec *s);

/* 1 when a socache was made (some server needs it). */
int pv_socache_enabled(void);

/* 1 when the provider is shmcb (a random limiter secret is fine: no other
 * node reads its entries). */
int pv_socache_local(void);

/* The lock of a critical section over several calls (the limiter's check
 * and count). APR_SUCCESS, or the lock's error. */
apr_status_t pv_socache_lock(void);
void pv_socache_unlock(void);

/* locked: the caller holds pv_socache_lock(); else the call takes it when
 * the provider needs one (shmcb), and no lock for redis and memcache.
 * retrieve: APR_SUCCESS (*len set), APR_NOTFOUND, PV_SOCACHE_DOWN. */
apr_status_t pv_socache_retrieve(request_rec *r, int locked,
                                 const unsigned char *key, unsigned int klen,
                                 unsigned char *val, unsigned int *len);
/* store: expiry is absolute; APR_SUCCESS, PV_SOCACHE_DOWN, or the
 * provider's refusal of this entry (too big). */
apr_status_t pv_socache_store(request_rec *r, int locked,
                              const unsigned char *key, unsigned int klen,
                              apr_time_t expiry, const unsigned char *val,
                              unsigned int len);
apr_status_t pv_socache_remove(request_rec *r, int locked,
                               const unsigned char *key, unsigned int klen);

#endif /* MOD_PREVIEW_SOCACHE_H */
