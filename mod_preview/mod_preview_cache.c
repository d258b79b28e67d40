/* The preview cache in httpd: shared counters (post_config), caches and
 * the sweeper thread (child_init), lookup / store / send (the handler).
 * The cache itself is pv_cache (include/pv_cache.h). */
/* Before any APR header: APR_OFFSETOF() is offsetof() only when <stddef.h>
 * came first, else a member access through a null pointer (undefined; UBSan
 * reports it in APR_BRIGADE_INSERT_TAIL). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include <string.h>
#include <unistd.h>

#include "mod_preview.h"
#include "mod_preview_cache.h"
#include "mod_preview_config.h"
#include "pv_cache.h"
#include "pv_image.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* How often the sweeper looks at the counters when nobody wakes it. A
 * store that pushes a folder over its bound wakes it at once. */
#define SWEEP_POLL apr_time_from_sec(1)

/* One PreviewCacheDir, as post_config sees it. */
typedef struct cache_dir_t {
    const char *dir;
    apr_off_t max_size;       /* the smallest of its servers' bounds */
    pv_cache_usage_t *usage;  /* in shared memory; NULL: per process */
    pv_cache_t *cache;        /* this process's, made in child_init */
    server_rec *first_server; /* for its log lines */
} cache_dir_t;

/* cache_dir_t *, one per folder, made in post_config (pconf), inherited
 * by the children; a few folders at most, searched in order. */
static apr_array_header_t *cache_dirs;
static const char *variant = "";

/* The sweeper: one thread per process, so that no request, and no
 * keep-alive client waiting behind one, ever pays for a sweep (a sweep
 * reads the whole tree). log_transaction would run it on a worker after
 * the response, but that worker's connection would wait; a thread costs
 * one stack and one wake-up a second. */
typedef struct sweeper_t {
    apr_thread_t *thread;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    apr_pool_t *pool; /* own allocator: touched by the thread alone */
    server_rec *s;
    apr_array_header_t *caches; /* pv_cache_t *, the bounded ones */
    int stop;
    int nudged;
} sweeper_t;

static sweeper_t *sweeper;

/* ---------------------------------------------------------- post_config */

/* The folder dir of cache_dirs, NULL when it is not there (yet). */
static cache_dir_t *cache_dir_of(const char *dir)
{
    int i;

    for (i = 0; cache_dirs && i < cache_dirs->nelts; i++) {
        cache_dir_t *cd = APR_ARRAY_IDX(cache_dirs, i, cache_dir_t *);

        if (!strcmp(cd->dir, dir)) {
            return cd;
        }
    }
    return NULL;
}

int pv_preview_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;

    cache_dirs = apr_array_make(pconf, 4, sizeof(cache_dir_t *));
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        cache_dir_t *cd;
        apr_shm_t *shm = NULL;
        apr_status_t rv;

        if (!c->cache_dir) {
            continue;
        }
        cd = cache_dir_of(c->cache_dir);
        if (cd) {
            if (c->cache_max_size != cd->max_size) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sv,
                             PVLOGNO(1000) "PreviewCacheDir %s is shared by "
                                           "servers with different "
                                           "PreviewCacheMaxSize: the smallest "
                                           "bounds it",
                             cd->dir);
                if (c->cache_max_size < cd->max_size) {
                    cd->max_size = c->cache_max_size;
                }
            }
            continue;
        }
        cd = apr_pcalloc(pconf, sizeof(*cd));
        cd->dir = c->cache_dir;
        cd->max_size = c->cache_max_size;
        cd->first_server = sv;
        /* Anonymous: inherited by every child through fork; a graceful
         * restart makes a new one (the total is counted again by the first
         * sweep) while the old children keep theirs until they exit. */
        rv = apr_shm_create(&shm, pv_cache_usage_size(), NULL, pconf);
        if (rv == APR_SUCCESS) {
            cd->usage = pv_cache_usage_init(apr_shm_baseaddr_get(shm));
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, sv,
                         PVLOGNO(1001) "PreviewCacheDir %s: no shared memory "
                                       "for its size counter; each process "
                                       "counts alone",
                         cd->dir);
        }
        APR_ARRAY_PUSH(cache_dirs, cache_dir_t *) = cd;
    }
    return OK;
}

/* ------------------------------------------------------------- sweeper */

static void sweep_all(sweeper_t *sw)
{
    int i;

    for (i = 0; i < sw->caches->nelts; i++) {
        pv_cache_t *c = APR_ARRAY_IDX(sw->caches, i, pv_cache_t *);
        apr_off_t total = 0;
        apr_status_t rv;

        if (!pv_cache_sweep_due(c)) {
            continue;
        }
        rv = pv_cache_maintain(&total, c, sw->pool);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv) &&
            !APR_STATUS_IS_EBUSY(rv) && pv_cache_warn_due(c)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, sw->s,
                         PVLOGNO(1002) "preview cache %s: the size sweep "
                                       "failed",
                         pv_cache_dir(c));
        }
        apr_pool_clear(sw->pool);
    }
}

static void *APR_THREAD_FUNC sweeper_main(apr_thread_t *thd, void *data)
{
    sweeper_t *sw = data;

    /* Returns rather than apr_thread_exit(): that destroys the thread's
     * pool, a subpool of pchild, from this thread. */
    for (;;) {
        sweep_all(sw);
        apr_thread_mutex_lock(sw->mutex);
        if (!sw->stop && !sw->nudged) {
            apr_thread_cond_timedwait(sw->cond, sw->mutex, SWEEP_POLL);
        }
        sw->nudged = 0;
        if (sw->stop) {
            apr_thread_mutex_unlock(sw->mutex);
            break;
        }
        apr_thread_mutex_unlock(sw->mutex);
    }
    return NULL;
}

static void sweeper_nudge(void)
{
    if (!sweeper) {
        return;
    }
    apr_thread_mutex_lock(sweeper->mutex);
    sweeper->nudged = 1;
    apr_thread_cond_signal(sweeper->cond);
    apr_thread_mutex_unlock(sweeper->mutex);
}

/* A pre-cleanup of pchild: the thread must be gone before pchild's
 * subpools (its pool, the caches') are destroyed. */
static apr_status_t sweeper_stop(void *data)
{
    sweeper_t *sw = data;
    apr_status_t trv;

    apr_thread_mutex_lock(sw->mutex);
    sw->stop = 1;
    apr_thread_cond_signal(sw->cond);
    apr_thread_mutex_unlock(sw->mutex);
    apr_thread_join(&trv, sw->thread);
    sweeper = NULL;
    return APR_SUCCESS;
}

static apr_status_t sweeper_start(apr_pool_t *pchild, server_rec *s,
                                  apr_array_header_t *caches)
{
    apr_allocator_t *alloc = NULL;
    sweeper_t *sw;
    apr_status_t rv;

    sw = apr_pcalloc(pchild, sizeof(*sw));
    sw->s = s;
    sw->caches = caches;
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(&sw->pool, pchild, NULL, alloc)) !=
        APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, sw->pool);
    if ((rv = apr_thread_mutex_create(&sw->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) != APR_SUCCESS ||
        (rv = apr_thread_cond_create(&sw->cond, pchild)) != APR_SUCCESS ||
        (rv = apr_thread_create(&sw->thread, NULL, sweeper_main, sw, pchild)) !=
            APR_SUCCESS) {
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, sw, sweeper_stop);
    sweeper = sw;
    return APR_SUCCESS;
}

/* ----------------------------------------------------------- child_init */

void pv_preview_cache_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *bounded;
    apr_status_t rv;
    int i;

    variant = apr_psprintf(pchild, PV_RENDERER " vips/%s", pv_image_version());
    if (!cache_dirs) {
        return;
    }
    bounded = apr_array_make(pchild, 4, sizeof(pv_cache_t *));
    for (i = 0; i < cache_dirs->nelts; i++) {
        cache_dir_t *cd = APR_ARRAY_IDX(cache_dirs, i, cache_dir_t *);

        rv = pv_cache_create(&cd->cache, cd->dir, cd->max_size, cd->usage,
                             pchild);
        if (rv != APR_SUCCESS) {
            cd->cache = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, cd->first_server,
                         PVLOGNO(1003) "preview cache %s: cannot be set up; "
                                       "previews are rendered without it",
                         cd->dir);
            continue;
        }
        /* child_init runs after the MPM's switch to the httpd user: this
         * is the user that will write. The warning counts as the first of
         * its interval. */
        rv = pv_cache_probe(cd->cache, pchild);
        if (rv != APR_SUCCESS && pv_cache_warn_due(cd->cache)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, cd->first_server,
                         PVLOGNO(1004) "preview cache %s: uid %ld cannot "
                                       "write there; previews are rendered "
                                       "without caching until it can",
                         cd->dir, (long)geteuid());
        }
        if (cd->max_size > 0) {
            APR_ARRAY_PUSH(bounded, pv_cache_t *) = cd->cache;
        }
    }
    if (bounded->nelts &&
        (rv = sweeper_start(pchild, s, bounded)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(1005) "cannot start the preview cache's sweeper "
                                   "thread: PreviewCacheMaxSize is not "
                                   "enforced by this process");
    }
}

/* ---------------------------------------------------------- per request */

const char *pv_preview_cache_variant(void)
{
    return variant;
}

pv_cache_t *pv_preview_cache_of(const char *dir)
{
    cache_dir_t *cd = cache_dir_of(dir);

    return cd ? cd->cache : NULL;
}

/* A failing folder: one warning per interval per process, the rest at
 * debug level; the request goes on without the cache. */
static void cache_failed(request_rec *r, pv_cache_t *c, const char *what,
                         apr_status_t rv)
{
    if (pv_cache_warn_due(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      PVLOGNO(1006) "preview cache %s: cannot %s an entry; "
                                    "previews are rendered without caching "
                                    "(next warning in a minute at the "
                                    "earliest)",
                      pv_cache_dir(c), what);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                      PVLOGNO(1007) "preview cache %s: cannot %s an entry",
                      pv_cache_dir(c), what);
    }
}

apr_status_t pv_preview_cache_lookup(apr_file_t **pf, apr_finfo_t *pfi,
                                     pv_cache_flight_t **pflight,
                                     request_rec *r, pv_cache_t *c,
                                     const char *key,
                                     apr_interval_time_t timeout)
{
    pv_cache_flight_t *flight = NULL;
    apr_status_t rv;
    int leader = 0;

    *pflight = NULL;
    rv = pv_cache_open(pf, pfi, c, key, r->pool);
    if (rv == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (rv != APR_NOTFOUND) {
        cache_failed(r, c, "read", rv);
    }
    rv = pv_cache_flight_begin(&flight, &leader, c, key, timeout, r->pool);
    if (rv == APR_TIMEUP) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(1008) "preview cache: another request's render "
                                    "of this preview took too long; "
                                    "rendering it again");
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS) {
        cache_failed(r, c, "wait for", rv);
        return APR_NOTFOUND;
    }
    /* A leader: an earlier leader may have stored it just now. A waiter:
     * the leader has ended, stored or not. */
    rv = pv_cache_open(pf, pfi, c, key, r->pool);
    if (rv == APR_SUCCESS) {
        pv_cache_flight_end(flight, 1);
        return APR_SUCCESS;
    }
    if (rv != APR_NOTFOUND) {
        cache_failed(r, c, "read", rv);
    }
    *pflight = leader ? flight : NULL;
    return APR_NOTFOUND;
}

void pv_preview_cache_store(request_rec *r, pv_cache_t *c, const char *key,
                            pv_cache_flight_t *flight, const void *buf,
                            apr_size_t len)
{
    apr_status_t rv = pv_cache_store(c, key, buf, len, r->pool);

    /* Waiters go on at once: they open the entry, or render. */
    pv_cache_flight_end(flight, rv == APR_SUCCESS);
    if (rv == PV_CACHE_TOO_BIG) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            PVLOGNO(1009) "preview cache %s: a preview of %" APR_SIZE_T_FMT
                          " bytes is over PreviewCacheMaxSize, not "
                          "cached",
            pv_cache_dir(c), len);
    }
    else if (rv != APR_SUCCESS) {
        cache_failed(r, c, "store", rv);
    }
    else if (pv_cache_sweep_due(c)) {
        sweeper_nudge();
    }
}

apr_status_t pv_preview_cache_sniff(pv_image_format_e *pout, apr_file_t *f)
{
    unsigned char b[PV_CACHE_SNIFF_LEN];
    apr_os_file_t fd;
    ssize_t n;

    /* pread: the file bucket's offsets stay untouched. */
    if (apr_os_file_get(&fd, f) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    n = pread(fd, b, sizeof(b), 0);
    if (n < 0) {
        return APR_EINVAL;
    }
    return pv_cache_sniff(pout, b, (apr_size_t)n);
}

int pv_preview_cache_send(request_rec *r, apr_file_t *f, const apr_finfo_t *fi,
                          const char *mime)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    apr_bucket_brigade *bb;
    apr_bucket *b;
    apr_file_t *body = f;
    apr_status_t rv;

    ap_set_content_type(r, mime);
    ap_set_content_length(r, fi->size);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    r->status = HTTP_OK;
    if (cd->enable_sendfile != ENABLE_SENDFILE_ON) {
        /* pv_cache_open() asks for sendfile; the same descriptor without
         * that flag honours EnableSendfile Off (f still owns and closes it). */
        apr_os_file_t fd;

        if (apr_os_file_get(&fd, f) != APR_SUCCESS ||
            apr_os_file_put(&body, &fd, APR_FOPEN_READ | APR_FOPEN_BINARY,
                            r->pool) != APR_SUCCESS) {
            body = f;
        }
    }
    /* HEAD: the same headers; httpd drops the body unread. */
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    b = apr_brigade_insert_file(bb, body, 0, fi->size, r->pool);
    if (cd->enable_mmap == ENABLE_MMAP_OFF) {
        apr_bucket_file_enable_mmap(b, 0);
    }
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        return AP_FILTER_ERROR;
    }
    return DONE;
}
