/* The preview cache: keys, sharded files written by temp + rename, LRU by
 * mtime, single flight per process, and the size-bounding sweep. The
 * design is in include/pv_cache.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>

#include "pv_bytes.h"
#include "pv_cache.h"
#include "pv_log.h"

/* Temp files carry this prefix: the sweep removes only these and keys. */
#define PV_CACHE_TEMP_PREFIX ".pvtmp."
#define PV_CACHE_LOCK_NAME   ".pvsweep.lock"
/* Bumped when the key encoding changes, so old entries are never hit. */
#define PV_CACHE_KEY_DOMAIN "mod_preview cache key 2"

struct pv_cache_usage_t {
    volatile apr_uint64_t bytes;       /* running total, approximate */
    volatile apr_uint32_t known;       /* 1 once a sweep has counted */
    volatile apr_uint32_t pad;         /* keeps retry_after 8-aligned */
    volatile apr_uint64_t retry_after; /* apr_time_t: no sweep before */
};

/* One in-flight key, shared by its leader and its waiters; recycled
 * through a free list (never freed: bounded by the concurrency). */
typedef struct flight_entry_t {
    struct flight_entry_t *next_free;
    apr_thread_cond_t *cond;
    unsigned refs; /* the leader until it ends, plus each waiter */
    int done;
    int stored;
    char key[PV_CACHE_KEY_LEN + 1];
} flight_entry_t;

struct pv_cache_flight_t {
    pv_cache_t *cache;
    flight_entry_t *e; /* the leader's entry; NULL for a waiter */
    apr_pool_t *pool;
    int stored;
};

struct pv_cache_t {
    const char *dir;
    apr_off_t max_size;
    pv_cache_usage_t *usage;
    pv_cache_tuning_t tuning;
    volatile apr_uint64_t warn_last; /* apr_time_t of the last warning */
    apr_thread_mutex_t *mutex;       /* guards flights, free, fpool */
    apr_pool_t *fpool; /* own allocator: touched only under mutex */
    apr_hash_t *flights;
    flight_entry_t *free;
};

/* One sweeper per process: fcntl locks belong to the process, and closing
 * any descriptor of the lock file would drop a lock another thread holds. */
static volatile apr_uint32_t sweeping;

static const char hexdigits[] = "0123456789abcdef";

static int key_valid(const char *key)
{
    int i;

    if (!key) {
        return 0;
    }
    for (i = 0; i < PV_CACHE_KEY_LEN; i++) {
        if (!((key[i] >= '0' && key[i] <= '9') ||
              (key[i] >= 'a' && key[i] <= 'f'))) {
            return 0;
        }
    }
    return key[PV_CACHE_KEY_LEN] == '\0';
}

/* Fixed-width big-endian fields after a domain string, then the path and
 * the variant, whose lengths are among the fixed fields: no two different
 * inputs encode alike. */
static apr_status_t key_digest(unsigned char md[32], const pv_cache_key_t *k)
{
    unsigned char fixed[sizeof(PV_CACHE_KEY_DOMAIN) + 4 * 8 + 6 * 4];
    unsigned char *b = fixed;
    const char *variant = k->variant ? k->variant : "";
    apr_size_t vlen = strlen(variant);
    EVP_MD_CTX *ctx = NULL;
    unsigned int mdlen = 0;
    apr_status_t rv = APR_EGENERAL;

    if (vlen > 0xffff) {
        return APR_EINVAL;
    }
    memcpy(b, PV_CACHE_KEY_DOMAIN, sizeof(PV_CACHE_KEY_DOMAIN));
    b += sizeof(PV_CACHE_KEY_DOMAIN);
    b = pv_put_u64(b, k->image_id);
    b = pv_put_u64(b, k->path ? (apr_uint64_t)k->path_len : 0);
    b = pv_put_u64(b, k->size);
    b = pv_put_u64(b, (apr_uint64_t)k->mtime);
    b = pv_put_u32(b, k->width);
    b = pv_put_u32(b, k->height);
    b = pv_put_u32(b, k->fit);
    b = pv_put_u32(b, k->format);
    b = pv_put_u32(b, k->quality);
    b = pv_put_u32(b, (apr_uint32_t)vlen);

    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, fixed, (size_t)(b - fixed)) != 1 ||
        (k->path && EVP_DigestUpdate(ctx, k->path, k->path_len) != 1) ||
        EVP_DigestUpdate(ctx, variant, vlen) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        goto cleanup;
    }
    rv = APR_SUCCESS;
cleanup:
    EVP_MD_CTX_free(ctx);
    return rv;
}

apr_status_t pv_cache_key(const char **pout, const pv_cache_key_t *k,
                          apr_pool_t *p)
{
    unsigned char md[32];
    char *hex;
    apr_status_t rv;
    int i;

    if ((rv = key_digest(md, k)) != APR_SUCCESS) {
        return rv;
    }
    hex = apr_palloc(p, PV_CACHE_KEY_LEN + 1);
    for (i = 0; i < 32; i++) {
        hex[2 * i] = hexdigits[md[i] >> 4];
        hex[2 * i + 1] = hexdigits[md[i] & 0x0f];
    }
    hex[PV_CACHE_KEY_LEN] = '\0';
    *pout = hex;
    return APR_SUCCESS;
}

apr_status_t pv_cache_etag(const char **pout, const pv_cache_key_t *k,
                           apr_pool_t *p)
{
    const char *key;
    apr_status_t rv;

    /* Same digest as the file name: ETag and cache entry cannot diverge. */
    if ((rv = pv_cache_key(&key, k, p)) != APR_SUCCESS) {
        return rv;
    }
    *pout = apr_psprintf(p, "\"%.32s\"", key);
    return APR_SUCCESS;
}

apr_size_t pv_cache_usage_size(void)
{
    return sizeof(pv_cache_usage_t);
}

pv_cache_usage_t *pv_cache_usage_init(void *mem)
{
    pv_cache_usage_t *u = mem;

    memset(u, 0, sizeof(*u));
    return u;
}

void pv_cache_tuning_default(pv_cache_tuning_t *t)
{
    t->touch_interval = apr_time_from_sec(60);
    t->temp_max_age = apr_time_from_sec(15 * 60);
    t->warn_interval = apr_time_from_sec(60);
    t->retry_interval = apr_time_from_sec(30);
    t->target_percent = 90;
    t->fsync = 0;
}

void pv_cache_tune(pv_cache_t *c, const pv_cache_tuning_t *t)
{
    c->tuning = *t;
    if (c->tuning.target_percent < 1 || c->tuning.target_percent > 100) {
        c->tuning.target_percent = 90;
    }
}

apr_status_t pv_cache_create(pv_cache_t **pout, const char *dir,
                             apr_off_t max_size, pv_cache_usage_t *usage,
                             apr_pool_t *p)
{
    apr_allocator_t *alloc = NULL;
    pv_cache_t *c;
    apr_size_t len;
    apr_status_t rv;

    if (!dir || !*dir || max_size < 0) {
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') {
        len--;
    }
    c->dir = apr_pstrmemdup(p, dir, len);
    c->max_size = max_size;
    c->usage =
        usage ? usage : pv_cache_usage_init(apr_palloc(p, sizeof(*usage)));
    pv_cache_tuning_default(&c->tuning);
    /* The flight table allocates while other threads use p's allocator:
     * give it an allocator of its own, used only under c->mutex. */
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(&c->fpool, p, NULL, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, c->fpool);
    rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c->flights = apr_hash_make(c->fpool);
    *pout = c;
    return APR_SUCCESS;
}

const char *pv_cache_dir(const pv_cache_t *c)
{
    return c->dir;
}

apr_off_t pv_cache_usage_bytes(const pv_cache_t *c)
{
    if (!apr_atomic_read32(&c->usage->known)) {
        return -1;
    }
    return (apr_off_t)apr_atomic_read64(&c->usage->bytes);
}

static const char *entry_path(const pv_cache_t *c, const char *key,
                              apr_pool_t *p)
{
    return apr_pstrcat(p, c->dir, "/", apr_pstrmemdup(p, key, 2), "/", key,
                       NULL);
}

apr_status_t pv_cache_open(apr_file_t **pf, apr_finfo_t *pfinfo, pv_cache_t *c,
                           const char *key, apr_pool_t *p)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    const char *path;
    apr_time_t now;
    apr_status_t rv;

    if (!key_valid(key)) {
        return APR_EINVAL;
    }
    path = entry_path(c, key, p);
    rv = apr_file_open(&f, path,
                       APR_FOPEN_READ | APR_FOPEN_BINARY |
                           APR_FOPEN_SENDFILE_ENABLED,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        f = NULL;
        if (APR_STATUS_IS_ENOENT(rv)) {
            rv = APR_NOTFOUND;
        }
        goto cleanup;
    }
    rv = apr_file_info_get(
        &fi, APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_TYPE, f);
    if (rv == APR_INCOMPLETE && (fi.valid & APR_FINFO_SIZE) &&
        (fi.valid & APR_FINFO_MTIME) && (fi.valid & APR_FINFO_TYPE)) {
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    if (fi.filetype != APR_REG) {
        rv = APR_EINVAL;
        goto cleanup;
    }
    if (fi.size == 0) {
        /* What a power loss leaves of an unsynced write: not an entry. */
        apr_file_remove(path, p);
        rv = APR_NOTFOUND;
        goto cleanup;
    }
    now = apr_time_now();
    if (now - fi.mtime >= c->tuning.touch_interval) {
        /* Last use for the LRU sweep; a failure only ages the entry. */
        apr_file_mtime_set(path, now, p);
        fi.mtime = now;
    }
    *pf = f;
    *pfinfo = fi;
    f = NULL;
cleanup:
    if (f) {
        apr_file_close(f);
    }
    return rv;
}

static char *temp_template(const pv_cache_t *c, const char *key, apr_pool_t *p)
{
    return apr_pstrcat(p, c->dir, "/", apr_pstrmemdup(p, key, 2),
                       "/" PV_CACHE_TEMP_PREFIX, apr_pstrmemdup(p, key, 16),
                       ".XXXXXX", NULL);
}

apr_status_t pv_cache_store(pv_cache_t *c, const char *key, const void *buf,
                            apr_size_t len, apr_pool_t *p)
{
    const apr_int32_t flags =
        APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BINARY;
    apr_pool_t *tp = NULL;
    apr_file_t *f = NULL;
    char *tmp = NULL;
    const char *shard;
    apr_status_t rv;

    if (!key_valid(key) || !buf || len == 0) {
        return APR_EINVAL;
    }
    if (c->max_size > 0 && (apr_uint64_t)len > (apr_uint64_t)c->max_size) {
        return PV_CACHE_TOO_BIG;
    }
    if ((rv = apr_pool_create(&tp, p)) != APR_SUCCESS) {
        return rv;
    }
    tmp = temp_template(c, key, tp);
    rv = apr_file_mktemp(&f, tmp, flags, tp);
    if (APR_STATUS_IS_ENOENT(rv)) {
        /* First entry of this shard; a missing c->dir stays an error. */
        shard = apr_pstrcat(tp, c->dir, "/", apr_pstrmemdup(tp, key, 2), NULL);
        rv = apr_dir_make(
            shard, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, tp);
        if (rv == APR_SUCCESS || APR_STATUS_IS_EEXIST(rv)) {
            tmp = temp_template(c, key, tp);
            rv = apr_file_mktemp(&f, tmp, flags, tp);
        }
    }
    if (rv != APR_SUCCESS) {
        f = NULL;
        tmp = NULL;
        goto cleanup;
    }
    if ((rv = apr_file_write_full(f, buf, len, NULL)) != APR_SUCCESS) {
        goto cleanup;
    }
    if (c->tuning.fsync && (rv = apr_file_sync(f)) != APR_SUCCESS) {
        goto cleanup;
    }
    rv = apr_file_close(f);
    f = NULL;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* Atomic: a reader opens the old entry, none, or this whole file. */
    if ((rv = apr_file_rename(tmp, entry_path(c, key, tp), tp)) !=
        APR_SUCCESS) {
        goto cleanup;
    }
    tmp = NULL;
    apr_atomic_add64(&c->usage->bytes, (apr_uint64_t)len);
cleanup:
    if (f) {
        apr_file_close(f);
    }
    if (tmp) {
        apr_file_remove(tmp, tp);
    }
    apr_pool_destroy(tp);
    return rv;
}

static void entry_unref(pv_cache_t *c, flight_entry_t *e)
{
    if (--e->refs == 0) {
        e->next_free = c->free;
        c->free = e;
    }
}

/* The leader's end, explicit or by its pool's destruction. */
static apr_status_t flight_leader_end(void *data)
{
    pv_cache_flight_t *h = data;
    pv_cache_t *c = h->cache;
    flight_entry_t *e = h->e;

    if (!e) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(c->mutex);
    e->done = 1;
    e->stored = h->stored;
    apr_hash_set(c->flights, e->key, PV_CACHE_KEY_LEN, NULL);
    apr_thread_cond_broadcast(e->cond);
    entry_unref(c, e);
    apr_thread_mutex_unlock(c->mutex);
    h->e = NULL;
    return APR_SUCCESS;
}

apr_status_t pv_cache_flight_begin(pv_cache_flight_t **pout, int *pleader,
                                   pv_cache_t *c, const char *key,
                                   apr_interval_time_t timeout, apr_pool_t *p)
{
    pv_cache_flight_t *h;
    flight_entry_t *e;
    apr_time_t deadline;
    apr_status_t rv = APR_SUCCESS;
    int done;

    if (!key_valid(key)) {
        return APR_EINVAL;
    }
    h = apr_pcalloc(p, sizeof(*h));
    h->cache = c;
    h->pool = p;
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->flights, key, PV_CACHE_KEY_LEN);
    if (!e) {
        if (c->free) {
            e = c->free;
            c->free = e->next_free;
        }
        else {
            e = apr_pcalloc(c->fpool, sizeof(*e));
            rv = apr_thread_cond_create(&e->cond, c->fpool);
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
        }
        memcpy(e->key, key, PV_CACHE_KEY_LEN + 1);
        e->next_free = NULL;
        e->refs = 1;
        e->done = 0;
        e->stored = 0;
        apr_hash_set(c->flights, e->key, PV_CACHE_KEY_LEN, e);
        h->e = e;
        apr_pool_cleanup_register(p, h, flight_leader_end,
                                  apr_pool_cleanup_null);
        *pleader = 1;
        *pout = h;
        goto cleanup;
    }
    e->refs++;
    deadline = apr_time_now() + timeout;
    while (!e->done) {
        apr_interval_time_t left = deadline - apr_time_now();
        if (left <= 0) {
            break;
        }
        apr_thread_cond_timedwait(e->cond, c->mutex, left);
    }
    done = e->done;
    entry_unref(c, e);
    if (!done) {
        rv = APR_TIMEUP;
        goto cleanup;
    }
    *pleader = 0;
    *pout = h;
cleanup:
    apr_thread_mutex_unlock(c->mutex);
    return rv;
}

void pv_cache_flight_end(pv_cache_flight_t *f, int stored)
{
    if (!f || !f->e) {
        return;
    }
    f->stored = stored ? 1 : 0;
    apr_pool_cleanup_run(f->pool, f, flight_leader_end);
}

int pv_cache_warn_due(pv_cache_t *c)
{
    apr_uint64_t now = (apr_uint64_t)apr_time_now();
    apr_uint64_t last = apr_atomic_read64(&c->warn_last);

    if (last != 0 && now - last < (apr_uint64_t)c->tuning.warn_interval) {
        return 0;
    }
    /* Of the threads that saw it due, the one that swaps the time wins. */
    return apr_atomic_cas64(&c->warn_last, now, last) == last;
}

int pv_cache_sweep_due(pv_cache_t *c)
{
    pv_cache_usage_t *u = c->usage;
    apr_uint64_t retry = apr_atomic_read64(&u->retry_after);

    if (c->max_size <= 0) {
        return 0;
    }
    if (retry && (apr_uint64_t)apr_time_now() < retry) {
        return 0;
    }
    return !apr_atomic_read32(&u->known) ||
           apr_atomic_read64(&u->bytes) > (apr_uint64_t)c->max_size;
}

typedef struct sweep_entry_t {
    apr_time_t mtime;
    apr_off_t size;
    char name[PV_CACHE_KEY_LEN + 1];
} sweep_entry_t;

static int sweep_entry_cmp(const void *a, const void *b)
{
    const sweep_entry_t *x = a, *y = b;

    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static int is_hex2(const char *s)
{
    return s[0] && s[1] && !s[2] && strchr(hexdigits, s[0]) &&
           strchr(hexdigits, s[1]);
}

/* The next name of a folder; 0 at its end or on a read error. */
static int dir_next(apr_finfo_t *fi, apr_dir_t *d)
{
    apr_status_t rv;

    for (;;) {
        fi->valid = 0;
        rv = apr_dir_read(fi, APR_FINFO_NAME, d);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            return 0;
        }
        if ((fi->valid & APR_FINFO_NAME) && fi->name) {
            return 1;
        }
    }
}

/* Entries and stale temp files of one shard folder. */
static void sweep_shard(apr_array_header_t *entries, apr_off_t *ptotal,
                        int *ptemps, pv_cache_t *c, const char *shard,
                        apr_time_t now, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi, st;
    const char *path;

    if (apr_dir_open(&d, shard, p) != APR_SUCCESS) {
        return;
    }
    while (dir_next(&fi, d)) {
        int temp = strncmp(fi.name, PV_CACHE_TEMP_PREFIX,
                           sizeof(PV_CACHE_TEMP_PREFIX) - 1) == 0;
        if (!temp && !key_valid(fi.name)) {
            continue; /* not ours: never removed, never counted */
        }
        path = apr_pstrcat(p, shard, "/", fi.name, NULL);
        if (apr_stat(&st, path,
                     APR_FINFO_LINK | APR_FINFO_TYPE | APR_FINFO_SIZE |
                         APR_FINFO_MTIME,
                     p) != APR_SUCCESS ||
            st.filetype != APR_REG) {
            continue;
        }
        if (temp) {
            if (now - st.mtime > c->tuning.temp_max_age &&
                apr_file_remove(path, p) == APR_SUCCESS) {
                (*ptemps)++;
            }
            continue;
        }
        {
            sweep_entry_t *e = apr_array_push(entries);
            e->mtime = st.mtime;
            e->size = st.size;
            memcpy(e->name, fi.name, PV_CACHE_KEY_LEN + 1);
            *ptotal += st.size;
        }
    }
    apr_dir_close(d);
}

apr_status_t pv_cache_sweep(apr_off_t *ptotal, pv_cache_t *c, apr_off_t target,
                            apr_pool_t *p)
{
    apr_pool_t *sp = NULL, *ip = NULL;
    apr_array_header_t *entries;
    apr_dir_t *top = NULL;
    apr_finfo_t fi;
    apr_uint64_t before = apr_atomic_read64(&c->usage->bytes);
    apr_time_t now = apr_time_now();
    apr_off_t total = 0, scanned;
    apr_status_t rv;
    int i, temps = 0, removed = 0;

    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&ip, sp);
    entries = apr_array_make(sp, 1024, sizeof(sweep_entry_t));
    if ((rv = apr_dir_open(&top, c->dir, sp)) != APR_SUCCESS) {
        goto cleanup;
    }
    while (dir_next(&fi, top)) {
        if (!is_hex2(fi.name)) {
            continue;
        }
        sweep_shard(entries, &total, &temps, c,
                    apr_pstrcat(ip, c->dir, "/", fi.name, NULL), now, ip);
        apr_pool_clear(ip);
    }
    apr_dir_close(top);
    scanned = total;
    if (target >= 0 && total > target) {
        qsort(entries->elts, (size_t)entries->nelts, sizeof(sweep_entry_t),
              sweep_entry_cmp);
        for (i = 0; i < entries->nelts && total > target; i++) {
            sweep_entry_t *e = &APR_ARRAY_IDX(entries, i, sweep_entry_t);
            apr_status_t r = apr_file_remove(entry_path(c, e->name, ip), ip);
            /* Gone already counts as removed (another sweep, a replace). */
            if (r == APR_SUCCESS || APR_STATUS_IS_ENOENT(r)) {
                total -= e->size;
                removed++;
            }
            if ((i & 255) == 255) {
                apr_pool_clear(ip);
            }
        }
    }
    /* Re-sync: what is on disk plus what others stored meanwhile. */
    apr_atomic_add64(&c->usage->bytes, (apr_uint64_t)total - before);
    apr_atomic_set32(&c->usage->known, 1);
    pv_log_(PV_LOG_MARK, PV_LOG_INFO, 0,
            PVLOGNO(0800) "cache sweep of %s: %d entries, %" APR_OFF_T_FMT
                          " bytes found, %d removed, %" APR_OFF_T_FMT
                          " bytes kept, %d stale temp files removed",
            c->dir, entries->nelts, scanned, removed, total, temps);
    *ptotal = total;
cleanup:
    apr_pool_destroy(sp);
    return rv;
}

apr_status_t pv_cache_maintain(apr_off_t *ptotal, pv_cache_t *c, apr_pool_t *p)
{
    apr_pool_t *sp = NULL;
    apr_file_t *lock = NULL;
    apr_off_t total = 0, target;
    apr_status_t rv;

    if (!pv_cache_sweep_due(c)) {
        return APR_EAGAIN;
    }
    if (apr_atomic_cas32(&sweeping, 1, 0) != 0) {
        return APR_EBUSY;
    }
    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        apr_atomic_set32(&sweeping, 0);
        return rv;
    }
    rv = apr_file_open(&lock,
                       apr_pstrcat(sp, c->dir, "/" PV_CACHE_LOCK_NAME, NULL),
                       APR_FOPEN_CREATE | APR_FOPEN_WRITE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, sp);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    rv = apr_file_lock(lock, APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK);
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EACCES(rv)) {
            rv = APR_EBUSY;
        }
        goto cleanup;
    }
    /* Another process may have swept while we waited for the lock. */
    if (!pv_cache_sweep_due(c)) {
        rv = APR_EAGAIN;
        goto cleanup;
    }
    target = c->max_size / 100 * c->tuning.target_percent +
             c->max_size % 100 * c->tuning.target_percent / 100;
    if ((rv = pv_cache_sweep(&total, c, target, sp)) != APR_SUCCESS) {
        goto cleanup;
    }
    /* Could not get under the bound: do not rescan on every store. */
    apr_atomic_set64(
        &c->usage->retry_after,
        total > c->max_size
            ? (apr_uint64_t)(apr_time_now() + c->tuning.retry_interval)
            : 0);
    *ptotal = total;
cleanup:
    apr_pool_destroy(sp); /* closes the lock file: releases the lock */
    apr_atomic_set32(&sweeping, 0);
    return rv;
}

apr_status_t pv_cache_probe(pv_cache_t *c, apr_pool_t *p)
{
    apr_pool_t *tp = NULL;
    apr_file_t *f = NULL;
    char *tmp;
    apr_status_t rv;

    if ((rv = apr_pool_create(&tp, p)) != APR_SUCCESS) {
        return rv;
    }
    /* A name no entry can have; removed at once. */
    tmp =
        apr_pstrcat(tp, c->dir, "/" PV_CACHE_TEMP_PREFIX "probe.XXXXXX", NULL);
    rv = apr_file_mktemp(
        &f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, tp);
    if (rv == APR_SUCCESS) {
        apr_file_close(f);
        apr_file_remove(tmp, tp);
    }
    apr_pool_destroy(tp);
    return rv;
}

apr_status_t pv_cache_sniff(pv_image_format_e *pout, const unsigned char *b,
                            apr_size_t len)
{
    if (len < PV_CACHE_SNIFF_LEN) {
        return APR_EINVAL;
    }
    if (b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) {
        *pout = PV_FORMAT_JPEG;
    }
    else if (!memcmp(b, "\x89PNG\r\n\x1a\n", 8)) {
        *pout = PV_FORMAT_PNG;
    }
    else if (!memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) {
        *pout = PV_FORMAT_WEBP;
    }
    else if (!memcmp(b + 4, "ftypavif", 8) || !memcmp(b + 4, "ftypavis", 8)) {
        *pout = PV_FORMAT_AVIF;
    }
    else {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
