/* The preview cache: keys, a folder per image under 256 shards, files
 * written by temp + rename, LRU by mtime, single flight per process, the
 * size-bounding sweep, and the tree walks of preview-cache (report, purge,
 * one image). The design is in include/pv_cache.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_portable.h>
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
/* The image folder's name: a hash of the image id alone. */
#define PV_CACHE_IMAGE_DOMAIN "mod_preview cache image 1"
/* A store that finds its image folder removed (emptied by a sweep or a
 * purge between its mkdir and its mkstemp) makes it again this often. */
#define STORE_ATTEMPTS 3

struct pv_cache_usage_t {
    volatile apr_uint64_t bytes;       /* running total, approximate */
    volatile apr_uint32_t known;       /* 1 once a sweep has counted */
    volatile apr_uint32_t pad;         /* keeps retry_after 8-aligned */
    volatile apr_uint64_t retry_after; /* apr_time_t: no sweep before */
    volatile apr_uint64_t entries;     /* as bytes: counted, then stored */
    volatile apr_uint64_t counted_at;  /* apr_time_t of the last count */
};

/* One in-flight key, shared by its leader and its waiters; recycled
 * through a free list (never freed: bounded by the concurrency). */
typedef struct flight_entry_t {
    struct flight_entry_t *next_free;
    apr_thread_cond_t *cond;
    unsigned refs; /* the leader until it ends, plus each waiter */
    int done;
    int stored;
    char key[PV_CACHE_ENTRY_LEN + 1];
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

/* n lowercase hex digits at s, then the end of s when whole is set. */
static int hex_run(const char *s, int n, int whole)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return !whole || s[n] == '\0';
}

/* An entry id, "<32 hex>/<64 hex>": nothing else reaches a path. */
static int key_valid(const char *id)
{
    return id && hex_run(id, PV_CACHE_IMAGE_LEN, 0) &&
           id[PV_CACHE_IMAGE_LEN] == '/' &&
           hex_run(id + PV_CACHE_IMAGE_LEN + 1, PV_CACHE_KEY_LEN, 1);
}

static void hex_of(char *hex, const unsigned char *md, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        hex[2 * i] = hexdigits[md[i] >> 4];
        hex[2 * i + 1] = hexdigits[md[i] & 0x0f];
    }
    hex[2 * n] = '\0';
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

    if ((rv = key_digest(md, k)) != APR_SUCCESS) {
        return rv;
    }
    hex = apr_palloc(p, PV_CACHE_KEY_LEN + 1);
    hex_of(hex, md, PV_CACHE_KEY_LEN / 2);
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
    return pv_cache_etag_of_key(pout, key, p);
}

apr_status_t pv_cache_etag_of_key(const char **pout, const char *key,
                                  apr_pool_t *p)
{
    if (!key || strlen(key) != PV_CACHE_KEY_LEN) {
        return APR_EINVAL;
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

apr_int64_t pv_cache_usage_entries(const pv_cache_t *c)
{
    if (!apr_atomic_read32(&c->usage->known)) {
        return -1;
    }
    return (apr_int64_t)apr_atomic_read64(&c->usage->entries);
}

apr_time_t pv_cache_usage_counted_at(const pv_cache_t *c)
{
    return (apr_time_t)apr_atomic_read64(&c->usage->counted_at);
}

/* The image folder's 32 hex digits: SHA-256 of a domain and the id. */
static apr_status_t image_name(char hex[PV_CACHE_IMAGE_LEN + 1],
                               apr_uint64_t image_id)
{
    unsigned char in[sizeof(PV_CACHE_IMAGE_DOMAIN) + 8], md[32];
    unsigned int mdlen = 0;

    memcpy(in, PV_CACHE_IMAGE_DOMAIN, sizeof(PV_CACHE_IMAGE_DOMAIN));
    pv_put_u64(in + sizeof(PV_CACHE_IMAGE_DOMAIN), image_id);
    if (EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        return APR_EGENERAL;
    }
    hex_of(hex, md, PV_CACHE_IMAGE_LEN / 2);
    return APR_SUCCESS;
}

apr_status_t pv_cache_entry_id(const char **pout, apr_uint64_t image_id,
                               const char *key, apr_pool_t *p)
{
    char img[PV_CACHE_IMAGE_LEN + 1];
    apr_status_t rv;

    if (!key || !hex_run(key, PV_CACHE_KEY_LEN, 1)) {
        return APR_EINVAL;
    }
    if ((rv = image_name(img, image_id)) != APR_SUCCESS) {
        return rv;
    }
    *pout = apr_pstrcat(p, img, "/", key, NULL);
    return APR_SUCCESS;
}

/* <dir>/<ab>, and <dir>/<ab>/<image> of an entry id or an image name. */
static const char *shard_path(const pv_cache_t *c, const char *id,
                              apr_pool_t *p)
{
    return apr_pstrcat(p, c->dir, "/", apr_pstrmemdup(p, id, 2), NULL);
}

static const char *image_path(const pv_cache_t *c, const char *id,
                              apr_pool_t *p)
{
    return apr_pstrcat(p, shard_path(c, id, p), "/",
                       apr_pstrmemdup(p, id, PV_CACHE_IMAGE_LEN), NULL);
}

static const char *entry_path(const pv_cache_t *c, const char *id,
                              apr_pool_t *p)
{
    return apr_pstrcat(p, shard_path(c, id, p), "/", id, NULL);
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

static char *temp_template(const pv_cache_t *c, const char *id, apr_pool_t *p)
{
    return apr_pstrcat(p, image_path(c, id, p), "/" PV_CACHE_TEMP_PREFIX,
                       apr_pstrmemdup(p, id + PV_CACHE_IMAGE_LEN + 1, 16),
                       ".XXXXXX", NULL);
}

/* The shard and image folders of an entry; a missing c->dir stays an
 * error (ENOENT from the shard's mkdir). */
static apr_status_t make_folders(const pv_cache_t *c, const char *id,
                                 apr_pool_t *p)
{
    const apr_fileperms_t perms =
        APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE;
    apr_status_t rv = apr_dir_make(shard_path(c, id, p), perms, p);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return rv;
    }
    rv = apr_dir_make(image_path(c, id, p), perms, p);
    return APR_STATUS_IS_EEXIST(rv) ? APR_SUCCESS : rv;
}

apr_status_t pv_cache_store(pv_cache_t *c, const char *key, const void *buf,
                            apr_size_t len, apr_pool_t *p)
{
    const apr_int32_t flags =
        APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BINARY;
    apr_pool_t *tp = NULL;
    apr_file_t *f = NULL;
    char *tmp = NULL;
    apr_status_t rv;
    int attempt;

    if (!key_valid(key) || !buf || len == 0) {
        return APR_EINVAL;
    }
    if (c->max_size > 0 && (apr_uint64_t)len > (apr_uint64_t)c->max_size) {
        return PV_CACHE_TOO_BIG;
    }
    if ((rv = apr_pool_create(&tp, p)) != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0;; attempt++) {
        tmp = temp_template(c, key, tp);
        rv = apr_file_mktemp(&f, tmp, flags, tp);
        /* First entry of this image, or its folder just emptied and
         * removed by a sweep or a purge. */
        if (!APR_STATUS_IS_ENOENT(rv) || attempt == STORE_ATTEMPTS ||
            (rv = make_folders(c, key, tp)) != APR_SUCCESS) {
            break;
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
    apr_atomic_inc64(&c->usage->entries);
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
    apr_hash_set(c->flights, e->key, PV_CACHE_ENTRY_LEN, NULL);
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
    e = apr_hash_get(c->flights, key, PV_CACHE_ENTRY_LEN);
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
        memcpy(e->key, key, PV_CACHE_ENTRY_LEN + 1);
        e->next_free = NULL;
        e->refs = 1;
        e->done = 0;
        e->stored = 0;
        apr_hash_set(c->flights, e->key, PV_CACHE_ENTRY_LEN, e);
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
    char id[PV_CACHE_ENTRY_LEN + 1];
} sweep_entry_t;

static int sweep_entry_cmp(const void *a, const void *b)
{
    const sweep_entry_t *x = a, *y = b;

    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return strcmp(x->id, y->id);
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

/* What a walk does with the entries it finds; leftovers (the older
 * layout's entries, stale temp files) are counted by WALK_COUNT and
 * removed by the others. */
typedef enum {
    WALK_COUNT, /* the report: remove nothing */
    WALK_SWEEP, /* collect entries for the LRU order */
    WALK_PURGE  /* remove every entry */
} walk_mode_e;

typedef struct walk_t {
    pv_cache_t *c;
    walk_mode_e mode;
    apr_time_t now;
    pv_cache_stats_t *st;
    apr_array_header_t *entries; /* sweep_entry_t, WALK_SWEEP */
    apr_pool_t *pool;            /* the walk's: entries, error path */
} walk_t;

static void walk_failed(walk_t *w, apr_status_t rv, const char *path)
{
    if (w->st->failed++ == 0) {
        w->st->error = rv;
        w->st->error_path = apr_pstrdup(w->pool, path);
    }
}

/* Gone already counts as removed (another sweep, a replace). */
static int walk_remove(walk_t *w, const char *path, apr_pool_t *p)
{
    apr_status_t rv = apr_file_remove(path, p);

    if (rv == APR_SUCCESS || APR_STATUS_IS_ENOENT(rv)) {
        return 1;
    }
    walk_failed(w, rv, path);
    return 0;
}

/* The type, size and mtime of a name, not following a symlink; 0 when it
 * is gone or not of type want. */
static int walk_stat(apr_finfo_t *st, const char *path, apr_filetype_e want,
                     apr_pool_t *p)
{
    return apr_stat(st, path,
                    APR_FINFO_LINK | APR_FINFO_TYPE | APR_FINFO_SIZE |
                        APR_FINFO_MTIME,
                    p) == APR_SUCCESS &&
           st->filetype == want;
}

static int is_temp(const char *name)
{
    return strncmp(name, PV_CACHE_TEMP_PREFIX,
                   sizeof(PV_CACHE_TEMP_PREFIX) - 1) == 0;
}

/* A file of ours that no lookup reaches. A temp file younger than
 * temp_max_age is a store in progress: never a leftover. */
static void walk_leftover(walk_t *w, const char *path, int temp, apr_pool_t *p)
{
    apr_finfo_t st;

    if (!walk_stat(&st, path, APR_REG, p) ||
        (temp && w->now - st.mtime <= w->c->tuning.temp_max_age)) {
        return;
    }
    if (w->mode == WALK_COUNT || walk_remove(w, path, p)) {
        w->st->leftovers++;
        w->st->leftover_bytes += (apr_uint64_t)st.size;
    }
}

static void walk_entry(walk_t *w, const char *path, const char *img,
                       const char *name, apr_uint64_t *pkept, apr_pool_t *p)
{
    apr_finfo_t st;

    if (!walk_stat(&st, path, APR_REG, p)) {
        return;
    }
    if (w->mode == WALK_PURGE && walk_remove(w, path, p)) {
        w->st->removed++;
        w->st->removed_bytes += (apr_uint64_t)st.size;
        return;
    }
    if (w->mode == WALK_SWEEP) {
        sweep_entry_t *e = apr_array_push(w->entries);

        e->mtime = st.mtime;
        e->size = st.size;
        memcpy(e->id, img, PV_CACHE_IMAGE_LEN);
        e->id[PV_CACHE_IMAGE_LEN] = '/';
        memcpy(e->id + PV_CACHE_IMAGE_LEN + 1, name, PV_CACHE_KEY_LEN + 1);
    }
    if (w->st->entries++ == 0 || st.mtime < w->st->oldest) {
        w->st->oldest = st.mtime;
    }
    w->st->bytes += (apr_uint64_t)st.size;
    (*pkept)++;
}

/* One image folder <shard>/<img>: its entries and temp files. Left empty
 * by a sweep or a purge, it is removed (rmdir: only if really empty). A
 * folder of the tree is never a symlink: root running preview-cache must
 * not remove, in a folder httpd's user points it at, names that look ours. */
static void walk_image(walk_t *w, const char *shard, const char *img,
                       apr_pool_t *p)
{
    const char *dir = apr_pstrcat(p, shard, "/", img, NULL);
    apr_uint64_t kept = 0;
    apr_finfo_t fi;
    apr_dir_t *d;
    apr_status_t rv;

    if (!walk_stat(&fi, dir, APR_DIR, p)) {
        return;
    }
    if ((rv = apr_dir_open(&d, dir, p)) != APR_SUCCESS) {
        if (!APR_STATUS_IS_ENOENT(rv)) {
            walk_failed(w, rv, dir);
        }
        return;
    }
    while (dir_next(&fi, d)) {
        const char *path = apr_pstrcat(p, dir, "/", fi.name, NULL);

        if (is_temp(fi.name)) {
            walk_leftover(w, path, 1, p);
        }
        else if (hex_run(fi.name, PV_CACHE_KEY_LEN, 1)) {
            walk_entry(w, path, img, fi.name, &kept, p);
        }
        /* else not ours: never removed, never counted */
    }
    apr_dir_close(d);
    if (kept) {
        w->st->images++;
    }
    else if (w->mode != WALK_COUNT) {
        apr_dir_remove(dir, p);
    }
}

/* One shard <dir>/<ab>: image folders, and the older layout's files. An
 * image folder in another shard than its own is no lookup's: not ours. */
static void walk_shard(walk_t *w, const char *ab, apr_pool_t *p)
{
    const char *shard = apr_pstrcat(p, w->c->dir, "/", ab, NULL);
    apr_pool_t *ip = NULL;
    apr_finfo_t fi;
    apr_dir_t *d;
    apr_status_t rv;

    if (!walk_stat(&fi, shard, APR_DIR, p)) {
        return; /* gone, or not a folder (a symlink): not ours */
    }
    if ((rv = apr_dir_open(&d, shard, p)) != APR_SUCCESS) {
        walk_failed(w, rv, shard);
        return;
    }
    apr_pool_create(&ip, p);
    while (dir_next(&fi, d)) {
        const char *path = apr_pstrcat(ip, shard, "/", fi.name, NULL);

        if (is_temp(fi.name) || hex_run(fi.name, PV_CACHE_KEY_LEN, 1)) {
            walk_leftover(w, path, is_temp(fi.name), ip);
        }
        else if (hex_run(fi.name, PV_CACHE_IMAGE_LEN, 1) &&
                 !strncmp(fi.name, ab, 2)) {
            walk_image(w, shard, fi.name, ip);
        }
        apr_pool_clear(ip);
    }
    apr_dir_close(d);
    apr_pool_destroy(ip);
}

static apr_status_t walk(pv_cache_stats_t *pout, pv_cache_t *c,
                         walk_mode_e mode, apr_array_header_t *entries,
                         apr_pool_t *p)
{
    pv_cache_stats_t st;
    walk_t w = {c, mode, apr_time_now(), &st, entries, p};
    apr_pool_t *sp = NULL;
    apr_finfo_t fi;
    apr_dir_t *top = NULL;
    apr_status_t rv;

    memset(&st, 0, sizeof(st));
    if ((rv = apr_dir_open(&top, c->dir, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, p);
    while (dir_next(&fi, top)) {
        if (hex_run(fi.name, 2, 1)) {
            walk_shard(&w, fi.name, sp);
            apr_pool_clear(sp);
        }
    }
    apr_dir_close(top);
    apr_pool_destroy(sp);
    *pout = st;
    return APR_SUCCESS;
}

apr_status_t pv_cache_trim(pv_cache_stats_t *pout, pv_cache_t *c,
                           apr_off_t target, apr_pool_t *p)
{
    apr_pool_t *sp = NULL, *ip = NULL;
    apr_array_header_t *entries;
    apr_uint64_t before = apr_atomic_read64(&c->usage->bytes);
    apr_uint64_t entries_before = apr_atomic_read64(&c->usage->entries);
    pv_cache_stats_t st;
    apr_uint64_t found, scanned;
    apr_status_t rv;
    int i;

    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&ip, sp);
    entries = apr_array_make(sp, 1024, sizeof(sweep_entry_t));
    if ((rv = walk(&st, c, WALK_SWEEP, entries, sp)) != APR_SUCCESS) {
        goto cleanup;
    }
    found = st.entries;
    scanned = st.bytes;
    if (target >= 0 && st.bytes > (apr_uint64_t)target) {
        walk_t w = {c, WALK_SWEEP, 0, &st, NULL, sp};

        qsort(entries->elts, (size_t)entries->nelts, sizeof(sweep_entry_t),
              sweep_entry_cmp);
        st.oldest = 0; /* now: the first entry kept, in this order */
        for (i = 0; i < entries->nelts && st.bytes > (apr_uint64_t)target;
             i++) {
            sweep_entry_t *e = &APR_ARRAY_IDX(entries, i, sweep_entry_t);

            if ((i & 255) == 255) {
                apr_pool_clear(ip);
            }
            if (!walk_remove(&w, entry_path(c, e->id, ip), ip)) {
                st.oldest = st.oldest ? st.oldest : e->mtime;
                continue;
            }
            st.bytes -= (apr_uint64_t)e->size;
            st.entries--;
            st.removed++;
            st.removed_bytes += (apr_uint64_t)e->size;
            /* Its image's last entry: the folder goes too. */
            if (apr_dir_remove(image_path(c, e->id, ip), ip) == APR_SUCCESS) {
                st.images--;
            }
        }
        if (!st.oldest && i < entries->nelts) {
            st.oldest = APR_ARRAY_IDX(entries, i, sweep_entry_t).mtime;
        }
    }
    /* Re-sync: what is on disk plus what others stored meanwhile. */
    apr_atomic_add64(&c->usage->bytes, st.bytes - before);
    apr_atomic_add64(&c->usage->entries, (found - st.removed) - entries_before);
    apr_atomic_set64(&c->usage->counted_at, (apr_uint64_t)apr_time_now());
    apr_atomic_set32(&c->usage->known, 1);
    pv_log_(PV_LOG_MARK, PV_LOG_INFO, 0,
            PVLOGNO(0800) "cache sweep of %s: %" APR_UINT64_T_FMT
                          " entries, %" APR_UINT64_T_FMT
                          " bytes found, %" APR_UINT64_T_FMT
                          " removed, %" APR_UINT64_T_FMT
                          " bytes kept, %" APR_UINT64_T_FMT
                          " leftover files removed (stale temp files, "
                          "entries of the older layout)",
            c->dir, found, scanned, st.removed, st.bytes, st.leftovers);
    *pout = st;
cleanup:
    apr_pool_destroy(sp);
    return rv;
}

apr_status_t pv_cache_sweep(apr_off_t *ptotal, pv_cache_t *c, apr_off_t target,
                            apr_pool_t *p)
{
    pv_cache_stats_t st;
    apr_status_t rv = pv_cache_trim(&st, c, target, p);

    if (rv == APR_SUCCESS) {
        *ptotal = (apr_off_t)st.bytes;
    }
    return rv;
}

apr_status_t pv_cache_scan(pv_cache_stats_t *pout, pv_cache_t *c, apr_pool_t *p)
{
    return walk(pout, c, WALK_COUNT, NULL, p);
}

apr_status_t pv_cache_purge(pv_cache_stats_t *pout, pv_cache_t *c,
                            apr_pool_t *p)
{
    return walk(pout, c, WALK_PURGE, NULL, p);
}

apr_status_t pv_cache_remove_image(pv_cache_stats_t *pout, pv_cache_t *c,
                                   apr_uint64_t image_id, apr_pool_t *p)
{
    char img[PV_CACHE_IMAGE_LEN + 1];
    pv_cache_stats_t st;
    walk_t w = {c, WALK_PURGE, apr_time_now(), &st, NULL, p};
    apr_finfo_t fi;
    apr_status_t rv;

    memset(&st, 0, sizeof(st));
    if ((rv = image_name(img, image_id)) != APR_SUCCESS) {
        return rv;
    }
    /* A missing top folder is an error, a missing image folder is not. */
    if ((rv = apr_stat(&fi, c->dir, APR_FINFO_TYPE, p)) != APR_SUCCESS) {
        return rv;
    }
    if (fi.filetype != APR_DIR) {
        return APR_ENOTDIR;
    }
    if (walk_stat(&fi, shard_path(c, img, p), APR_DIR, p)) {
        walk_image(&w, shard_path(c, img, p), img, p);
    }
    *pout = st;
    return APR_SUCCESS;
}

apr_status_t pv_cache_check(pv_cache_t *c, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_dir_t *d = NULL;
    apr_status_t rv;
    int ours = 0, other = 0;

    if ((rv = apr_stat(&fi, c->dir, APR_FINFO_TYPE, p)) != APR_SUCCESS) {
        return rv;
    }
    if (fi.filetype != APR_DIR) {
        return APR_ENOTDIR;
    }
    if ((rv = apr_dir_open(&d, c->dir, p)) != APR_SUCCESS) {
        return rv;
    }
    while (dir_next(&fi, d)) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..") ||
            is_temp(fi.name)) {
            continue;
        }
        if (!strcmp(fi.name, PV_CACHE_LOCK_NAME) || hex_run(fi.name, 2, 1)) {
            ours = 1;
        }
        else {
            other = 1;
        }
    }
    apr_dir_close(d);
    return ours || !other ? APR_SUCCESS : PV_CACHE_NOT_A_CACHE;
}

apr_status_t pv_cache_lock(apr_file_t **pout, pv_cache_t *c, int wait,
                           apr_pool_t *p)
{
    apr_file_t *lock = NULL;
    apr_finfo_t dir;
    apr_os_file_t fd;
    struct stat st;
    apr_status_t rv;

    rv = apr_file_open(&lock,
                       apr_pstrcat(p, c->dir, "/" PV_CACHE_LOCK_NAME, NULL),
                       APR_FOPEN_CREATE | APR_FOPEN_WRITE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* root (preview-cache run by an admin) must not leave a lock file
     * that httpd's user cannot open: every later sweep would fail. */
    if (geteuid() == 0 && apr_os_file_get(&fd, lock) == APR_SUCCESS &&
        fstat(fd, &st) == 0 &&
        apr_stat(&dir, c->dir, APR_FINFO_OWNER, p) == APR_SUCCESS &&
        (st.st_uid != dir.user || st.st_gid != dir.group) &&
        fchown(fd, dir.user, dir.group) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        goto cleanup;
    }
    rv = apr_file_lock(lock,
                       APR_FLOCK_EXCLUSIVE | (wait ? 0 : APR_FLOCK_NONBLOCK));
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EACCES(rv)) {
            rv = APR_EBUSY;
        }
        goto cleanup;
    }
    *pout = lock;
    lock = NULL;
cleanup:
    if (lock) {
        apr_file_close(lock);
    }
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
    if ((rv = pv_cache_lock(&lock, c, 0, sp)) != APR_SUCCESS) {
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
