/* The preview cache in httpd (PreviewCacheDir, PreviewCacheMaxSize): the
 * shared size counters, one pv_cache_t per folder and process, the lookup
 * with single flight, the store after a render, a hit sent from its file,
 * and the sweeper thread that keeps each folder under its bound.
 *
 * Servers that name the same folder share one cache (one counter, one
 * single-flight table per process); its bound is the smallest
 * PreviewCacheMaxSize among them. */
#ifndef MOD_PREVIEW_CACHE_H
#define MOD_PREVIEW_CACHE_H

#include "httpd.h"

#include "pv_cache.h"
#include "pv_image.h"

/* The render pipeline's revision: part of every ETag and cache key (with
 * the libvips version), so bump it when the bytes of a preview change. */
#define PV_RENDERER "mod_preview/2"

/* post_config: one shared usage counter (anonymous apr_shm, pconf
 * lifetime) per distinct PreviewCacheDir. */
int pv_preview_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s);

/* child_init (after the switch to the httpd user, and after libvips is
 * started): the renderer variant, one cache per folder, each probed (one
 * warning when this user cannot write it), the sweeper thread. */
void pv_preview_cache_child_init(apr_pool_t *pchild, server_rec *s);

/* "mod_preview/2 vips/8.14.1": pv_cache_key_t.variant of every request. */
const char *pv_preview_cache_variant(void);

/* This process's cache of folder dir (child_init on); NULL when it could
 * not be set up. */
pv_cache_t *pv_preview_cache_of(const char *dir);

/* Look key (an entry id, pv_cache_entry_id()) up. APR_SUCCESS: a hit,
 * *pf and *pfi set (send it with pv_preview_cache_send()). APR_NOTFOUND:
 * render; *pflight is then this request's flight (or NULL), to end with
 * pv_preview_cache_store() or pv_cache_flight_end(f, 0). On a miss, other
 * requests of this process for the same key wait (at most timeout) for
 * this one's render. Cache failures read as a miss (one warning per
 * interval). */
apr_status_t pv_preview_cache_lookup(apr_file_t **pf, apr_finfo_t *pfi,
                                     pv_cache_flight_t **pflight,
                                     request_rec *r, pv_cache_t *c,
                                     const char *key,
                                     apr_interval_time_t timeout);

/* After a render: store the bytes, end the flight, wake the sweeper when
 * the folder is over its bound. A failure is a warning (once per
 * interval), never an error for the client. */
void pv_preview_cache_store(request_rec *r, pv_cache_t *c, const char *key,
                            pv_cache_flight_t *flight, const void *buf,
                            apr_size_t len);

/* Send a hit: status 200, Content-Type mime, Content-Length of the file,
 * the body as a file bucket (sendfile under EnableSendfile On). ETag,
 * Cache-Control and Vary are the caller's, set as for a render. DONE:
 * sent; AP_FILTER_ERROR: the filters failed. */
int pv_preview_cache_send(request_rec *r, apr_file_t *f, const apr_finfo_t *fi,
                          const char *mime);

/* The format of a cache entry from its first PV_CACHE_SNIFF_LEN bytes,
 * read with one pread() (no libvips): pv_cache_sniff(). APR_EINVAL: not
 * a preview of ours (the caller renders again). */
apr_status_t pv_preview_cache_sniff(pv_image_format_e *pout, apr_file_t *f);

#endif /* MOD_PREVIEW_CACHE_H */
