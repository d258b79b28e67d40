/* The preview cache (PreviewCacheDir, PreviewCacheMaxSize): rendered
 * previews as files, named by a hash of exactly the ETag inputs, so the
 * ETag and the cache can never disagree and a replaced source (new path,
 * size or mtime) never finds an old entry.
 *
 * Layout: <dir>/<ab>/<image>/<key>. <image> is 32 hex digits of a SHA-256
 * of the image id alone, <ab> its first two: 256 shard folders, then one
 * folder per image, so that every preview of one image is one folder
 * (pv_cache_remove_image(): one readdir, no scan); a sweep reads 256 +
 * (number of images) folders. The hash gives fixed-width names, not
 * secrecy (ids are few and enumerable): the folder must stay readable by
 * httpd's user alone (it holds the users' pictures anyway). No path holds
 * a user id, a file name or a source path. pv_cache_entry_id() makes the
 * "<image>/<key>" that open and store take. Shard and image folders are
 * made on first store; an image folder that a sweep, a purge or
 * pv_cache_remove_image() empties is removed (a store that loses that
 * race makes it again). <dir> itself must exist (a missing <dir> is a
 * failure the glue degrades on, never created here).
 *
 * The older layout (<dir>/<ab>/<key>, before image folders): its entries
 * are never looked up; a sweep, pv_cache_trim() and pv_cache_purge()
 * remove them with stale temp files ("leftovers"), pv_cache_scan() counts
 * them apart. The key and so the ETag did not change: clients' copies stay
 * valid, the server renders each preview once more.
 *
 * Store: write to "<dir>/<ab>/<image>/.pvtmp.<key prefix>.XXXXXX" (mkstemp,
 * mode 0600) then rename() over the final name. rename is atomic, so a
 * reader sees no file or the whole file; a process that dies mid-write
 * leaves only a temp file, which a sweep removes once older than
 * temp_max_age; a younger one is a store in progress, which a purge leaves
 * alone too (its rename then lands one whole entry). No
 * fsync by default (tuning.fsync): after a power loss a delayed-allocation
 * file system may leave an empty entry, so pv_cache_open treats an empty
 * file as a miss and removes it (a valid preview is never empty).
 *
 * Last use (LRU): the entry's mtime. atime is not used: noatime/relatime
 * mounts make it unreliable. A hit re-stamps mtime only when it is older
 * than touch_interval (default 60 s), so a hot entry costs one utimes()
 * a minute, not one per request. The source's own mtime is in the key,
 * so the cache file's mtime is free for this.
 *
 * Size bound: a running total of bytes stored, in a pv_cache_usage_t that
 * the glue places in shared memory (apr_shm, post_config) so that every
 * child adds to one counter with apr_atomic ops; without one each process
 * counts alone. It starts "unknown". pv_cache_sweep_due() is a cheap check
 * (total unknown, or over max_size). pv_cache_maintain() then lets ONE
 * sweeper run: one thread per process (an atomic flag; also because fcntl
 * locks are per process and closing any descriptor of the lock file drops
 * them) and one process per cache folder (a non-blocking fcntl lock on
 * <dir>/.pvsweep.lock). The sweep scans the tree, removes stale temp
 * files, then removes least recently used entries until the total is at
 * most target_percent (default 90) of max_size, and re-syncs the running
 * total from what it found on disk (and logs one PV_LOG_INFO line,
 * PV0800, with what it found and removed). The glue runs pv_cache_maintain()
 * where no client waits: a background thread, or after the response has
 * been sent. A sweep that cannot get under the bound (files it may not
 * remove) is retried no sooner than retry_interval. Sizes are apparent
 * file sizes; folders and temp files are not counted.
 *
 * Single flight: within a process, concurrent misses of one key render
 * once. pv_cache_flight_begin() makes the first caller the leader; the
 * others wait (bounded) for the leader to end, then open the entry, or
 * render themselves when it is still a miss. Across processes, at worst a
 * duplicate render; never a torn file.
 *
 * Degrade: every failure (missing, unwritable or full folder) is an
 * apr_status_t; the glue renders without caching and logs at most one
 * warning per warn_interval (pv_cache_warn_due()).
 *
 * Thread safety: every function may be called from any thread once the
 * pv_cache_t exists; create it once per process (child_init, or
 * post_config before the fork). Only pv_cache_tune() must run before
 * other threads use the cache. */
#ifndef PV_CACHE_H
#define PV_CACHE_H

#include <apr_errno.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "pv_image.h"

/* Length of a key: SHA-256 in lowercase hex. */
#define PV_CACHE_KEY_LEN 64
/* Length of the ETag value, quotes included: "<32 hex>". */
#define PV_CACHE_ETAG_LEN 34
/* Length of an entry id, "<32 hex image>/<key>" (pv_cache_entry_id()). */
#define PV_CACHE_IMAGE_LEN 32
#define PV_CACHE_ENTRY_LEN (PV_CACHE_IMAGE_LEN + 1 + PV_CACHE_KEY_LEN)

/* pv_cache_store: the entry alone is bigger than the whole bound, so it is
 * not cached (not a failure worth a warning). */
#define PV_CACHE_TOO_BIG (APR_OS_START_USERERR + 800)
/* pv_cache_check: the folder holds other files and nothing of a cache. */
#define PV_CACHE_NOT_A_CACHE (APR_OS_START_USERERR + 801)

/* Exactly the inputs of the ETag. Fill every field (zero what is unset:
 * memset first); the hash covers each field in a fixed encoding. */
typedef struct pv_cache_key_t {
    apr_uint64_t image_id;
    /* The source's path as the database names it (never the device or
     * inode: every node that serves the same files agrees). */
    const char *path;
    apr_size_t path_len;
    apr_uint64_t size;    /* apr_finfo_t.size */
    apr_int64_t mtime;    /* apr_finfo_t.mtime (microseconds) */
    apr_uint32_t width;   /* box after PreviewSizes rounding, 0: unset */
    apr_uint32_t height;  /* 0: unset */
    apr_uint32_t fit;     /* pv_image_fit_e */
    apr_uint32_t format;  /* the format, or a code that fixes it */
    apr_uint32_t quality; /* 1..100 */
    /* Optional renderer identity (e.g. libvips version), so that an
     * upgrade that changes the bytes changes the ETag too; NULL = "". */
    const char *variant;
} pv_cache_key_t;

typedef struct pv_cache_t pv_cache_t;
typedef struct pv_cache_usage_t pv_cache_usage_t;
typedef struct pv_cache_flight_t pv_cache_flight_t;

typedef struct pv_cache_tuning_t {
    apr_interval_time_t touch_interval; /* 60 s: re-stamp mtime on a hit */
    apr_interval_time_t temp_max_age;   /* 15 min: temp files to remove */
    apr_interval_time_t warn_interval;  /* 60 s: pv_cache_warn_due() */
    apr_interval_time_t retry_interval; /* 30 s: after a stuck sweep */
    int target_percent;                 /* 90: a sweep stops at this */
    int fsync;                          /* 0: fsync before rename when 1 */
} pv_cache_tuning_t;

/* Hex key (PV_CACHE_KEY_LEN characters) of these inputs. */
apr_status_t pv_cache_key(const char **pout, const pv_cache_key_t *k,
                          apr_pool_t *p);

/* The strong ETag value, quotes included, of these inputs: the first 32
 * hex digits of the key. Never contains the inputs as text. */
apr_status_t pv_cache_etag(const char **pout, const pv_cache_key_t *k,
                           apr_pool_t *p);

/* The same ETag from a key pv_cache_key() made (one digest for both). */
apr_status_t pv_cache_etag_of_key(const char **pout, const char *key,
                                  apr_pool_t *p);

/* The entry id that open, store and single flight take: "<image>/<key>",
 * the image folder (a hash of image_id) and the key of pv_cache_key(). */
apr_status_t pv_cache_entry_id(const char **pout, apr_uint64_t image_id,
                               const char *key, apr_pool_t *p);

/* Shared running total: pv_cache_usage_size() bytes of memory (apr_shm
 * made in post_config), initialised once by pv_cache_usage_init(). */
apr_size_t pv_cache_usage_size(void);
pv_cache_usage_t *pv_cache_usage_init(void *mem);

/* A cache on folder dir, bounded by max_size bytes (0: unbounded). usage:
 * the shared total, or NULL for one of this process's own. Does not touch
 * the disk. */
apr_status_t pv_cache_create(pv_cache_t **pout, const char *dir,
                             apr_off_t max_size, pv_cache_usage_t *usage,
                             apr_pool_t *p);

void pv_cache_tuning_default(pv_cache_tuning_t *t);
void pv_cache_tune(pv_cache_t *c, const pv_cache_tuning_t *t);

const char *pv_cache_dir(const pv_cache_t *c);
/* The running total in bytes, or -1 while unknown (before a sweep). */
apr_off_t pv_cache_usage_bytes(const pv_cache_t *c);
/* The entries, counted as the bytes are (a store adds one, a replaced
 * entry too, until the next sweep counts again), or -1 while unknown; and
 * when a sweep last counted the folder (0: never). */
apr_int64_t pv_cache_usage_entries(const pv_cache_t *c);
apr_time_t pv_cache_usage_counted_at(const pv_cache_t *c);

/* Lookup of an entry id (pv_cache_entry_id()). APR_SUCCESS: a hit, *pf open for
 * reading in pool p (send it with a file bucket: apr_brigade_insert_file(bb,
 * *pf, 0, finfo->size, p)), *pfinfo filled (size, mtime). APR_NOTFOUND: a miss.
 * Anything else: a failure (the glue treats it as a miss). Outputs are set only
 * on hit. */
apr_status_t pv_cache_open(apr_file_t **pf, apr_finfo_t *pfinfo, pv_cache_t *c,
                           const char *key, apr_pool_t *p);

/* Store len bytes (len > 0) under an entry id. Errors: the OS error (ENOENT for
 * a missing folder, EACCES, ENOSPC, ...), PV_CACHE_TOO_BIG, APR_EINVAL for a
 * malformed entry id. A failed store leaves no file behind. */
apr_status_t pv_cache_store(pv_cache_t *c, const char *key, const void *buf,
                            apr_size_t len, apr_pool_t *p);

/* Single flight. *pleader = 1: render, store, then call
 * pv_cache_flight_end(f, stored) (open the cache once more first: a
 * previous leader may have just stored it). *pleader = 0: a leader has
 * ended; open the cache, and render yourself on a miss; calling
 * pv_cache_flight_end() is allowed and does nothing. APR_TIMEUP: the
 * leader did not end within timeout; render yourself (*pout untouched).
 * If pool p is destroyed before pv_cache_flight_end(), the leader's flight
 * ends as failed, so waiters never hang on an aborted request. */
apr_status_t pv_cache_flight_begin(pv_cache_flight_t **pout, int *pleader,
                                   pv_cache_t *c, const char *key,
                                   apr_interval_time_t timeout, apr_pool_t *p);
void pv_cache_flight_end(pv_cache_flight_t *f, int stored);

/* 1 when a sweep looks needed (running total unknown or over max_size)
 * and is not held back by retry_interval. Cheap: atomic reads only. */
int pv_cache_sweep_due(pv_cache_t *c);

/* If a sweep is due and nobody else (thread or process) is sweeping this
 * folder: sweep down to target_percent of max_size, set *ptotal, return
 * APR_SUCCESS. APR_EAGAIN: not due. APR_EBUSY: another sweeper holds it.
 * Other errors: the folder could not be scanned or locked. */
apr_status_t pv_cache_maintain(apr_off_t *ptotal, pv_cache_t *c, apr_pool_t *p);

/* What a walk of the tree found and did. Sizes are apparent file sizes. */
typedef struct pv_cache_stats_t {
    apr_uint64_t entries; /* entries left */
    apr_uint64_t bytes;   /* their total size */
    apr_uint64_t images;  /* image folders holding them */
    apr_time_t oldest;    /* least recent use (mtime) among them; 0: none */
    apr_uint64_t removed; /* entries removed */
    apr_uint64_t removed_bytes;
    apr_uint64_t leftovers; /* pv_cache_scan(): older layout's entries and
                               stale temp files found; else removed */
    apr_uint64_t leftover_bytes;
    apr_uint64_t failed; /* names that could not be read or removed */
    apr_status_t error;  /* the first of those failures, and its path */
    const char *error_path;
} pv_cache_stats_t;

/* Scan the tree, remove leftovers, then remove least recently used
 * entries (mtime, then name) until the total is <= target (target < 0:
 * remove none); image folders left empty go too. *pout: what is left and
 * what went; the running total is re-synced from it; one PV0800 line.
 * Takes no lock: pv_cache_maintain() does, and so must another caller
 * (pv_cache_lock()). An error: the top folder could not be read. */
apr_status_t pv_cache_trim(pv_cache_stats_t *pout, pv_cache_t *c,
                           apr_off_t target, apr_pool_t *p);

/* pv_cache_trim(), reporting the total bytes kept alone. */
apr_status_t pv_cache_sweep(apr_off_t *ptotal, pv_cache_t *c, apr_off_t target,
                            apr_pool_t *p);

/* Count without removing: entries, bytes, images, the oldest use, and
 * leftovers (found, not removed). */
apr_status_t pv_cache_scan(pv_cache_stats_t *pout, pv_cache_t *c,
                           apr_pool_t *p);

/* Remove every entry, leftovers and empty image folders; keep <dir>, the
 * shard folders, the lock file, temp files of stores in progress and
 * names that are not the cache's. Safe while httpd runs: a reader keeps
 * the file it opened, a miss renders and stores again. */
apr_status_t pv_cache_purge(pv_cache_stats_t *pout, pv_cache_t *c,
                            apr_pool_t *p);

/* Remove every entry of one image: its folder alone is read. A store of
 * that image in progress (a render that had passed the owner check
 * before) may still land one entry afterwards. */
apr_status_t pv_cache_remove_image(pv_cache_stats_t *pout, pv_cache_t *c,
                                   apr_uint64_t image_id, apr_pool_t *p);

/* Whether dir is a folder a cache may be in: APR_SUCCESS (it holds the
 * lock file or a shard folder, or nothing but names of ours), APR_ENOENT,
 * APR_ENOTDIR, PV_CACHE_NOT_A_CACHE (other files and nothing of ours), or
 * the OS error (EACCES) of reading it. Guards a tool pointed at a wrong
 * folder; the removals touch only names of ours anyway. */
apr_status_t pv_cache_check(pv_cache_t *c, apr_pool_t *p);

/* The sweeper lock <dir>/.pvsweep.lock, exclusive, in pool p (released
 * when *pout is closed or p destroyed). wait = 0: APR_EBUSY when another
 * process holds it. Made mode 0600 when missing; made by root, it is
 * given to the owner of <dir>, so that httpd's user can still open it. */
apr_status_t pv_cache_lock(apr_file_t **pout, pv_cache_t *c, int wait,
                           apr_pool_t *p);

/* Whether this process can write into the folder (creates and removes a
 * temp file): for a warning at start-up (child_init, after the switch to
 * the httpd user). APR_SUCCESS or the OS error. */
apr_status_t pv_cache_probe(pv_cache_t *c, apr_pool_t *p);

/* 1 at most once per warn_interval per process (thread-safe): whether the
 * glue should log that the cache is failing. */
int pv_cache_warn_due(pv_cache_t *c);

/* Bytes at the start of an entry's file the sniff needs. */
#define PV_CACHE_SNIFF_LEN 16

/* The format of an entry from its first len bytes (JPEG, PNG, WebP and
 * AVIF signatures): a hit's Content-Type when the request alone does not
 * decide it (auto, the JPEG/PNG fallback that the source's alpha picks).
 * Chosen over a format code in the file name or a header in the file: the
 * entry stays the plain image the cache stores and sends, and the file
 * cannot disagree with itself. APR_EINVAL: fewer than PV_CACHE_SNIFF_LEN
 * bytes, or none of these signatures (the caller renders again). */
apr_status_t pv_cache_sniff(pv_image_format_e *pout, const unsigned char *b,
                            apr_size_t len);

#endif /* PV_CACHE_H */
