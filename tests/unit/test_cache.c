/* The preview cache core: keys and ETags, store/open, atomic replacement,
 * single flight, the LRU sweep, the shared counter across processes, and
 * degrading on a folder it cannot use. Every test works in its own
 * temporary folder. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "pv_cache.h"
#include "pv_log.h"

static apr_pool_t *pool;
static char tmpdir[256];

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");

    apr_initialize();
    apr_pool_create(&pool, NULL);
    snprintf(tmpdir, sizeof(tmpdir), "%s/pvcache.XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    chmod(tmpdir, 0700);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

static pv_cache_key_t base_key(void)
{
    pv_cache_key_t k;

    memset(&k, 0, sizeof(k));
    k.image_id = 42;
    k.path = "alice/beach.jpg";
    k.path_len = strlen(k.path);
    k.size = 3456789;
    k.mtime = APR_INT64_C(1700000000123456);
    k.width = 256;
    k.height = 0;
    k.fit = 0;
    k.format = 0;
    k.quality = 80;
    return k;
}

static const char *key_of(const pv_cache_key_t *k)
{
    const char *key = NULL;

    ck_assert_int_eq(pv_cache_key(&key, k, pool), APR_SUCCESS);
    ck_assert_uint_eq(strlen(key), PV_CACHE_KEY_LEN);
    return key;
}

/* The ETag of these inputs; the one made from their key is the same. */
static const char *etag_of(const pv_cache_key_t *k)
{
    const char *etag = NULL, *again = NULL;

    ck_assert_int_eq(pv_cache_etag(&etag, k, pool), APR_SUCCESS);
    ck_assert_uint_eq(strlen(etag), PV_CACHE_ETAG_LEN);
    ck_assert_int_eq(pv_cache_etag_of_key(&again, key_of(k), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(again, etag);
    ck_assert_int_eq(pv_cache_etag_of_key(&again, "abc", pool), APR_EINVAL);
    return etag;
}

static pv_cache_t *make_cache(const char *dir, apr_off_t max)
{
    pv_cache_t *c = NULL;

    ck_assert_int_eq(pv_cache_create(&c, dir, max, NULL, pool), APR_SUCCESS);
    return c;
}

/* The entry id of these inputs: "<image>/<key>". */
static const char *entry_of(const pv_cache_key_t *k)
{
    const char *id = NULL;

    ck_assert_int_eq(pv_cache_entry_id(&id, k->image_id, key_of(k), pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(id), PV_CACHE_ENTRY_LEN);
    return id;
}

/* An entry id whose shard we choose: image folder s (in shard s), key n. */
static const char *test_key(int s, int n)
{
    return apr_psprintf(pool, "%02x%030x/%064x", s & 0xff, s & 0xff, n);
}

/* <dir>/<ab>/<image> and <dir>/<ab>/<image>/<key> of an entry id. */
static const char *image_dir(const char *dir, const char *id)
{
    return apr_pstrcat(pool, dir, "/", apr_pstrndup(pool, id, 2), "/",
                       apr_pstrndup(pool, id, PV_CACHE_IMAGE_LEN), NULL);
}

static const char *entry_file(const char *dir, const char *id)
{
    return apr_pstrcat(pool, image_dir(dir, id), "/",
                       id + PV_CACHE_IMAGE_LEN + 1, NULL);
}

static void set_mtime(pv_cache_t *c, const char *key, apr_time_t t)
{
    ck_assert_int_eq(
        apr_file_mtime_set(entry_file(pv_cache_dir(c), key), t, pool),
        APR_SUCCESS);
}

static char last_log[1024];
static const char *last_log_file;
static int log_count;

static void log_capture(void *baton, const char *file, int line,
                        pv_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)line;
    (void)level;
    (void)rv;
    snprintf(last_log, sizeof(last_log), "%s", msg);
    last_log_file = file;
    log_count++;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(key_known_vector)
{
    pv_cache_key_t k = base_key();

    /* The encoding is pinned: hashlib.sha256(b"mod_preview cache key 2\0" +
     * struct.pack(">QQQqIIIIII", 42, 15, 3456789, 1700000000123456, 256, 0,
     * 0, 0, 80, 0) + b"alice/beach.jpg"): no device, no inode. */
    ck_assert_str_eq(
        key_of(&k),
        "0ce8d828cbd3ae53a5098a96da332c6ad02dbbf9063bc6baceeecc3982e899e7");
    k.variant = "vips-8.14";
    ck_assert_str_eq(
        key_of(&k),
        "d52b72f6887e1c5384875f6045f433eb4a4b20d7cb77476c0d96f13dc0ccdfcb");
    ck_assert_str_eq(etag_of(&k), "\"d52b72f6887e1c5384875f6045f433eb\"");
}
END_TEST

START_TEST(key_stable_and_changes_with_every_input)
{
    pv_cache_key_t k = base_key(), v;
    const char *base = key_of(&k), *betag = etag_of(&k);
    const char *seen[16];
    int n = 0, i, j;

    /* stable: same inputs, same key; NULL variant is the empty one */
    ck_assert_str_eq(key_of(&k), base);
    v = k;
    v.variant = "";
    ck_assert_str_eq(key_of(&v), base);
    ck_assert_str_eq(etag_of(&v), betag);

#define VARY(stmt)                                                             \
    do {                                                                       \
        v = k;                                                                 \
        stmt;                                                                  \
        seen[n] = key_of(&v);                                                  \
        ck_assert_str_ne(seen[n], base);                                       \
        ck_assert_str_ne(etag_of(&v), betag);                                  \
        n++;                                                                   \
    } while (0)
    VARY(v.image_id = 43);
    VARY((v.path = "alice/beach.jpeg", v.path_len = 16));
    VARY((v.path = "alice/beach.jpg", v.path_len = 14));
    /* path and variant are both text: a byte moved between them is
     * another key (their lengths are encoded) */
    VARY((v.path = "alice/beach.jp", v.path_len = 14, v.variant = "g"));
    VARY(v.size = 3456788);
    VARY(v.mtime += 1);
    VARY(v.width = 512);
    VARY(v.height = 256);
    VARY(v.fit = 1);
    VARY(v.format = 1);
    VARY(v.quality = 81);
    VARY(v.variant = "vips-8.15");
    /* a value moved between fields is another key (fixed-width fields) */
    VARY((v.width = 0, v.height = 256));
#undef VARY
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            ck_assert_str_ne(seen[i], seen[j]);
        }
    }
}
END_TEST

START_TEST(etag_shape_no_input_text)
{
    pv_cache_key_t k = base_key();
    const char *etag, *key;
    int i;

    k.image_id = APR_UINT64_C(987654321987);
    k.path = "secret/path.jpg";
    k.path_len = strlen(k.path);
    k.variant = "secret-variant";
    etag = etag_of(&k);
    key = key_of(&k);
    ck_assert_int_eq(etag[0], '"');
    ck_assert_int_eq(etag[PV_CACHE_ETAG_LEN - 1], '"');
    for (i = 1; i < PV_CACHE_ETAG_LEN - 1; i++) {
        ck_assert_ptr_nonnull(strchr("0123456789abcdef", etag[i]));
    }
    /* the ETag is the key's prefix: they cannot disagree */
    ck_assert_int_eq(strncmp(etag + 1, key, 32), 0);
    ck_assert_ptr_null(strstr(etag, "987654321987"));
    ck_assert_ptr_null(strstr(etag, "path.jpg"));
    ck_assert_ptr_null(strstr(etag, "secret"));
    ck_assert_ptr_null(strstr(etag, "3456789"));
}
END_TEST

START_TEST(store_then_open_same_bytes)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    pv_cache_key_t k = base_key();
    const char *key = entry_of(&k);
    char buf[3000], got[4000];
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_size_t n = sizeof(got);
    struct stat st;
    const char *path;
    int i;

    for (i = 0; i < (int)sizeof(buf); i++) {
        buf[i] = (char)(i * 7 + 3);
    }
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, key, pool), APR_NOTFOUND);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(pv_cache_store(c, key, buf, sizeof(buf), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, key, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fi.size, sizeof(buf));
    ck_assert_int_eq(apr_file_read_full(f, got, sizeof(got), &n), APR_EOF);
    ck_assert_uint_eq(n, sizeof(buf));
    ck_assert_int_eq(memcmp(got, buf, sizeof(buf)), 0);
    apr_file_close(f);

    /* layout <dir>/<ab>/<image>/<key>, owner-only, no temp file left */
    path = entry_file(tmpdir, key);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, sizeof(buf));
    {
        apr_dir_t *d;
        apr_finfo_t e;
        int names = 0;
        ck_assert_int_eq(apr_dir_open(&d, image_dir(tmpdir, key), pool),
                         APR_SUCCESS);
        while (apr_dir_read(&e, APR_FINFO_NAME, d) == APR_SUCCESS) {
            if (strcmp(e.name, ".") && strcmp(e.name, "..")) {
                ck_assert_str_eq(e.name, key + PV_CACHE_IMAGE_LEN + 1);
                names++;
            }
        }
        apr_dir_close(d);
        ck_assert_int_eq(names, 1);
    }

    /* a second store replaces the entry whole */
    ck_assert_int_eq(pv_cache_store(c, key, "xyz", 3, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, key, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.size, 3);
    n = sizeof(got);
    ck_assert_int_eq(apr_file_read_full(f, got, sizeof(got), &n), APR_EOF);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(got, "xyz", 3), 0);
    apr_file_close(f);
}
END_TEST

START_TEST(bad_keys_refused)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    const char *bad[] = {
        "",
        "../../../../etc/passwd",
        "F9854AA2A9CC04DC895F1401687658224C686130BE32F497D4D008779A95C869",
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c86",
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c8690",
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c8/.",
        /* a key without its image folder (the older layout's name) */
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c869",
        "5b98132011c7c5105ecf00e84d6e17df/"
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c86",
        "5b98132011c7c5105ecf00e84d6e17d//"
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c869",
        "5b98132011c7c5105ecf00e84d6e17df/"
        "../54aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c869",
        "5b98132011c7c5105ecf00e84d6e17df/"
        "f9854aa2a9cc04dc895f1401687658224c686130be32f497d4d008779a95c8690",
    };
    pv_cache_flight_t *fl = NULL;
    int leader = -1;
    unsigned i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(pv_cache_store(c, bad[i], "x", 1, pool), APR_EINVAL);
        ck_assert_int_eq(pv_cache_open(&f, &fi, c, bad[i], pool), APR_EINVAL);
        ck_assert_int_eq(pv_cache_flight_begin(&fl, &leader, c, bad[i],
                                               apr_time_from_sec(1), pool),
                         APR_EINVAL);
    }
    ck_assert_int_eq(pv_cache_store(c, NULL, "x", 1, pool), APR_EINVAL);
    /* an empty preview is never stored */
    ck_assert_int_eq(pv_cache_store(c, test_key(1, 1), "x", 0, pool),
                     APR_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_ptr_null(fl);
    ck_assert_int_eq(leader, -1);
    ck_assert_int_eq(pv_cache_create(&c, "", 0, NULL, pool), APR_EINVAL);
}
END_TEST

START_TEST(empty_entry_is_a_miss_and_removed)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *key = test_key(0xab, 7);
    const char *shard = apr_pstrcat(pool, tmpdir, "/ab", NULL);
    const char *path = entry_file(tmpdir, key);
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    FILE *fp;

    ck_assert_int_eq(mkdir(shard, 0700), 0);
    ck_assert_int_eq(mkdir(image_dir(tmpdir, key), 0700), 0);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, key, pool), APR_NOTFOUND);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(exists(path), 0);
}
END_TEST

START_TEST(too_big_not_stored)
{
    pv_cache_t *c = make_cache(tmpdir, 1000);
    char buf[1001];
    apr_file_t *f = NULL;
    apr_finfo_t fi;

    memset(buf, 'a', sizeof(buf));
    ck_assert_int_eq(pv_cache_store(c, test_key(1, 1), buf, 1001, pool),
                     PV_CACHE_TOO_BIG);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(1, 1), pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(pv_cache_store(c, test_key(1, 1), buf, 1000, pool),
                     APR_SUCCESS);
}
END_TEST

START_TEST(hit_touches_mtime_at_most_once_per_interval)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *old = test_key(1, 1), *fresh = test_key(1, 2);
    apr_time_t now = apr_time_now();
    apr_file_t *f;
    apr_finfo_t fi, st;

    ck_assert_int_eq(pv_cache_store(c, old, "old", 3, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_cache_store(c, fresh, "new", 3, pool), APR_SUCCESS);
    set_mtime(c, old, now - apr_time_from_sec(120));
    set_mtime(c, fresh, now - apr_time_from_sec(10));
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, old, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, fresh, pool), APR_SUCCESS);
    ck_assert_int_eq(
        apr_stat(&st, entry_file(tmpdir, old), APR_FINFO_MTIME, pool),
        APR_SUCCESS);
    ck_assert(st.mtime >= now - apr_time_from_sec(2));
    ck_assert_int_eq(
        apr_stat(&st, entry_file(tmpdir, fresh), APR_FINFO_MTIME, pool),
        APR_SUCCESS);
    /* within the interval: left alone (µs precision of the stamp) */
    ck_assert(st.mtime / 1000000 == (now - apr_time_from_sec(10)) / 1000000);
}
END_TEST

/* A reader during a store never sees part of a file. */
#define BIG_A (4 * 1024 * 1024)
#define BIG_B (6 * 1024 * 1024 + 17)

typedef struct {
    pv_cache_t *c;
    const char *key;
    volatile apr_uint32_t done;
    int rounds;
    int hits;
    int bad;
} race_t;

static void *APR_THREAD_FUNC race_writer(apr_thread_t *t, void *data)
{
    race_t *r = data;
    apr_pool_t *p;
    char *a = malloc(BIG_A), *b = malloc(BIG_B);
    int i;

    apr_pool_create(&p, NULL);
    memset(a, 'a', BIG_A);
    memset(b, 'b', BIG_B);
    for (i = 0; i < r->rounds; i++) {
        if (pv_cache_store(r->c, r->key, i % 2 ? b : a, i % 2 ? BIG_B : BIG_A,
                           p) != APR_SUCCESS) {
            r->bad++;
        }
        apr_pool_clear(p);
    }
    apr_atomic_set32(&r->done, 1);
    free(a);
    free(b);
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(reader_never_sees_partial_file)
{
    race_t r;
    apr_thread_t *t;
    apr_status_t trv;
    apr_pool_t *p;
    char *buf = malloc(BIG_B + 1);

    memset(&r, 0, sizeof(r));
    r.c = make_cache(tmpdir, 0);
    r.key = test_key(0x5e, 1);
    r.rounds = 24;
    apr_pool_create(&p, pool);
    ck_assert_int_eq(apr_thread_create(&t, NULL, race_writer, &r, pool),
                     APR_SUCCESS);
    while (!apr_atomic_read32(&r.done)) {
        apr_file_t *f;
        apr_finfo_t fi;
        apr_size_t n = 0;
        if (pv_cache_open(&f, &fi, r.c, r.key, p) == APR_SUCCESS) {
            char want = fi.size == BIG_A ? 'a' : 'b';
            r.hits++;
            ck_assert(fi.size == BIG_A || fi.size == BIG_B);
            ck_assert_int_eq(apr_file_read_full(f, buf, BIG_B + 1, &n),
                             APR_EOF);
            ck_assert_int_eq(n, fi.size);
            ck_assert_int_eq(buf[0], want);
            ck_assert_int_eq(buf[n - 1], want);
            ck_assert_ptr_null(memchr(buf, want == 'a' ? 'b' : 'a', n));
        }
        apr_pool_clear(p);
    }
    apr_thread_join(&trv, t);
    free(buf);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_gt(r.hits, 0);
}
END_TEST

/* Single flight: 8 threads miss one key, one renders. */
#define FLIGHT_THREADS 8

typedef struct {
    pv_cache_t *c;
    const char *key;
    volatile apr_uint32_t renders;
    volatile apr_uint32_t ready;
    volatile apr_uint32_t served;
    volatile apr_uint32_t leaders;
    int leader_stores; /* 0: the leader fails */
} flight_t;

static void *APR_THREAD_FUNC flight_worker(apr_thread_t *t, void *data)
{
    flight_t *fl = data;
    apr_pool_t *p;
    apr_file_t *f;
    apr_finfo_t fi;
    pv_cache_flight_t *h;
    int leader = 0;
    char got[16];
    apr_size_t n;

    apr_pool_create(&p, NULL);
    /* start together: every thread misses before anyone stores */
    apr_atomic_inc32(&fl->ready);
    while (apr_atomic_read32(&fl->ready) < FLIGHT_THREADS) {
        apr_sleep(100);
    }
    if (pv_cache_open(&f, &fi, fl->c, fl->key, p) != APR_SUCCESS) {
        if (pv_cache_flight_begin(&h, &leader, fl->c, fl->key,
                                  apr_time_from_sec(10), p) == APR_SUCCESS) {
            if (leader) {
                apr_atomic_inc32(&fl->leaders);
                if (pv_cache_open(&f, &fi, fl->c, fl->key, p) != APR_SUCCESS) {
                    apr_atomic_inc32(&fl->renders);
                    apr_sleep(apr_time_from_msec(300)); /* the render */
                    if (fl->leader_stores) {
                        pv_cache_store(fl->c, fl->key, "preview", 7, p);
                    }
                }
                pv_cache_flight_end(h, fl->leader_stores);
            }
            else {
                pv_cache_flight_end(h, 0); /* a waiter's end: no-op */
            }
        }
        if (pv_cache_open(&f, &fi, fl->c, fl->key, p) != APR_SUCCESS) {
            apr_pool_destroy(p);
            apr_thread_exit(t, APR_SUCCESS);
            return NULL;
        }
    }
    n = 0;
    if (apr_file_read_full(f, got, sizeof(got), &n) == APR_EOF && n == 7 &&
        memcmp(got, "preview", 7) == 0) {
        apr_atomic_inc32(&fl->served);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void run_flight(flight_t *fl)
{
    apr_thread_t *t[FLIGHT_THREADS];
    apr_status_t trv;
    int i;

    for (i = 0; i < FLIGHT_THREADS; i++) {
        ck_assert_int_eq(
            apr_thread_create(&t[i], NULL, flight_worker, fl, pool),
            APR_SUCCESS);
    }
    for (i = 0; i < FLIGHT_THREADS; i++) {
        apr_thread_join(&trv, t[i]);
    }
}

START_TEST(single_flight_renders_once)
{
    flight_t fl;

    memset(&fl, 0, sizeof(fl));
    fl.c = make_cache(tmpdir, 0);
    fl.key = test_key(0x77, 1);
    fl.leader_stores = 1;
    run_flight(&fl);
    ck_assert_uint_eq(apr_atomic_read32(&fl.renders), 1);
    ck_assert_uint_eq(apr_atomic_read32(&fl.leaders), 1);
    ck_assert_uint_eq(apr_atomic_read32(&fl.served), FLIGHT_THREADS);

    /* the key is free again: the next miss leads */
    {
        pv_cache_flight_t *h;
        int leader = 0;
        ck_assert_int_eq(pv_cache_flight_begin(&h, &leader, fl.c, fl.key,
                                               apr_time_from_sec(1), pool),
                         APR_SUCCESS);
        ck_assert_int_eq(leader, 1);
        pv_cache_flight_end(h, 1);
    }
}
END_TEST

START_TEST(single_flight_leader_fails_waiters_miss)
{
    flight_t fl;

    memset(&fl, 0, sizeof(fl));
    fl.c = make_cache(tmpdir, 0);
    fl.key = test_key(0x77, 2);
    fl.leader_stores = 0;
    run_flight(&fl);
    /* one render, nothing stored: the waiters woke up and found a miss */
    ck_assert_uint_eq(apr_atomic_read32(&fl.renders), 1);
    ck_assert_uint_eq(apr_atomic_read32(&fl.leaders), 1);
    ck_assert_uint_eq(apr_atomic_read32(&fl.served), 0);
}
END_TEST

START_TEST(single_flight_timeout_and_aborted_leader)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *key = test_key(0x10, 1);
    pv_cache_flight_t *h = NULL, *w = NULL;
    apr_pool_t *lp;
    apr_time_t t0;
    int leader = 0;

    apr_pool_create(&lp, pool);
    ck_assert_int_eq(
        pv_cache_flight_begin(&h, &leader, c, key, apr_time_from_sec(1), lp),
        APR_SUCCESS);
    ck_assert_int_eq(leader, 1);
    /* a leader that never ends: the waiter gives up after its timeout */
    leader = -1;
    t0 = apr_time_now();
    ck_assert_int_eq(pv_cache_flight_begin(&w, &leader, c, key,
                                           apr_time_from_msec(150), pool),
                     APR_TIMEUP);
    ck_assert(apr_time_now() - t0 >= apr_time_from_msec(140));
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(2));
    ck_assert_ptr_null(w);
    ck_assert_int_eq(leader, -1);
    /* the leader's request dies without ending: the key is released */
    apr_pool_destroy(lp);
    ck_assert_int_eq(pv_cache_flight_begin(&w, &leader, c, key,
                                           apr_time_from_msec(150), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(leader, 1);
    pv_cache_flight_end(w, 0);
    pv_cache_flight_end(w, 0); /* twice is harmless */
}
END_TEST

static void put_file(const char *path, apr_size_t size, apr_time_t mtime)
{
    FILE *fp = fopen(path, "w");
    char *b = calloc(1, size + 1);

    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, size, fp), size);
    fclose(fp);
    free(b);
    ck_assert_int_eq(apr_file_mtime_set(path, mtime, pool), APR_SUCCESS);
}

START_TEST(sweep_keeps_most_recent_and_removes_stale_temps)
{
    pv_cache_t *c = make_cache(tmpdir, 150000);
    apr_time_t now = apr_time_now();
    char buf[10000];
    const char *keys[20];
    const char *old_tmp, *young_tmp, *foreign, *foreign_top;
    apr_off_t total = -1;
    apr_file_t *f;
    apr_finfo_t fi;
    int i;

    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(pv_cache_usage_bytes(c), -1);
    /* 20 entries of 10000 bytes over 4 shards, last used i minutes after
     * the oldest: the 10 with the highest i must survive */
    for (i = 0; i < 20; i++) {
        keys[i] = test_key(i % 4, 100 + i);
        ck_assert_int_eq(pv_cache_store(c, keys[i], buf, sizeof(buf), pool),
                         APR_SUCCESS);
        set_mtime(c, keys[i],
                  now - apr_time_from_sec(3600) + apr_time_from_sec(60 * i));
    }
    old_tmp =
        apr_pstrcat(pool, tmpdir, "/02/.pvtmp.0200000000000000.aaaaaa", NULL);
    young_tmp =
        apr_pstrcat(pool, tmpdir, "/02/.pvtmp.0200000000000000.bbbbbb", NULL);
    foreign = apr_pstrcat(pool, tmpdir, "/02/notes.txt", NULL);
    foreign_top = apr_pstrcat(pool, tmpdir, "/README", NULL);
    put_file(old_tmp, 500, now - apr_time_from_sec(16 * 60));
    put_file(young_tmp, 500, now - apr_time_from_sec(60));
    put_file(foreign, 50000, now - apr_time_from_sec(7200));
    put_file(foreign_top, 50000, now - apr_time_from_sec(7200));

    /* target < 0: count only */
    pv_log_set(log_capture, NULL);
    log_count = 0;
    ck_assert_int_eq(pv_cache_sweep(&total, c, -1, pool), APR_SUCCESS);
    pv_log_set(NULL, NULL);
    ck_assert_int_eq(log_count, 1);
    /* the core's file, not the glue's callback */
    ck_assert_str_eq(last_log_file, "mod_preview/pv_cache.c");
    ck_assert_str_eq(last_log,
                     apr_psprintf(pool,
                                  "PV0800: cache sweep of %s: 20 entries, "
                                  "200000 bytes found, 0 removed, 200000 "
                                  "bytes kept, 1 leftover files removed "
                                  "(stale temp files, entries of the older "
                                  "layout)",
                                  tmpdir));
    ck_assert_int_eq(total, 200000);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 200000);
    ck_assert_int_eq(exists(old_tmp), 0);
    ck_assert_int_eq(exists(young_tmp), 1);

    ck_assert_int_eq(pv_cache_sweep(&total, c, 100000, pool), APR_SUCCESS);
    ck_assert_int_eq(total, 100000);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 100000);
    for (i = 0; i < 20; i++) {
        ck_assert_int_eq(pv_cache_open(&f, &fi, c, keys[i], pool),
                         i >= 10 ? APR_SUCCESS : APR_NOTFOUND);
    }
    /* not ours: never removed */
    ck_assert_int_eq(exists(foreign), 1);
    ck_assert_int_eq(exists(foreign_top), 1);
    ck_assert_int_eq(exists(young_tmp), 1);
}
END_TEST

START_TEST(maintain_sweeps_when_over_bound)
{
    pv_cache_t *c = make_cache(tmpdir, 50000);
    pv_cache_tuning_t t;
    apr_time_t now = apr_time_now();
    char buf[10000];
    apr_off_t total = -1;
    apr_file_t *f;
    apr_finfo_t fi;
    int i;

    pv_cache_tuning_default(&t);
    t.target_percent = 80;
    pv_cache_tune(c, &t);
    memset(buf, 'y', sizeof(buf));
    /* unknown total: due at once, a sweep counts what is there */
    ck_assert_int_eq(pv_cache_sweep_due(c), 1);
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_SUCCESS);
    ck_assert_int_eq(total, 0);
    ck_assert_int_eq(pv_cache_sweep_due(c), 0);
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_EAGAIN);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(pv_cache_store(c, test_key(9, i), buf, 10000, pool),
                         APR_SUCCESS);
        set_mtime(c, test_key(9, i), now - apr_time_from_sec(600 - i * 60));
    }
    ck_assert_int_eq(pv_cache_usage_bytes(c), 50000);
    ck_assert_int_eq(pv_cache_sweep_due(c), 0); /* at the bound, not over */
    ck_assert_int_eq(pv_cache_store(c, test_key(9, 5), buf, 10000, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_cache_sweep_due(c), 1);
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_SUCCESS);
    /* down to 80% of 50000: the two oldest go */
    ck_assert_int_eq(total, 40000);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 40000);
    ck_assert_int_eq(pv_cache_sweep_due(c), 0);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(9, 0), pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(9, 1), pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(9, 2), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(9, 5), pool),
                     APR_SUCCESS);
}
END_TEST

START_TEST(maintain_one_process_at_a_time_shared_counter)
{
    apr_shm_t *shm;
    pv_cache_usage_t *u;
    pv_cache_t *c;
    apr_off_t total = -1;
    char buf[1000];
    int go[2], held[2];
    pid_t pid;
    int st;
    char ch;

    memset(buf, 'z', sizeof(buf));
    ck_assert_int_eq(apr_shm_create(&shm, pv_cache_usage_size(), NULL, pool),
                     APR_SUCCESS);
    u = pv_cache_usage_init(apr_shm_baseaddr_get(shm));
    ck_assert_int_eq(pv_cache_create(&c, tmpdir, 1500, u, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_SUCCESS);
    ck_assert_int_eq(total, 0);
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(held), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* another child of httpd: stores into the shared counter, then
         * holds the sweep lock until told to let go */
        apr_file_t *lock;
        pv_cache_t *cc;
        apr_pool_t *p;
        apr_pool_create(&p, NULL);
        if (pv_cache_create(&cc, tmpdir, 1500, u, p) != APR_SUCCESS ||
            pv_cache_store(cc, test_key(3, 1), buf, 1000, p) != APR_SUCCESS ||
            apr_file_mtime_set(entry_file(tmpdir, test_key(3, 1)),
                               apr_time_now() - apr_time_from_sec(100),
                               p) != APR_SUCCESS ||
            pv_cache_store(cc, test_key(3, 2), buf, 1000, p) != APR_SUCCESS ||
            apr_file_open(&lock, apr_pstrcat(p, tmpdir, "/.pvsweep.lock", NULL),
                          APR_FOPEN_CREATE | APR_FOPEN_WRITE,
                          APR_FPROT_UREAD | APR_FPROT_UWRITE,
                          p) != APR_SUCCESS ||
            apr_file_lock(lock, APR_FLOCK_EXCLUSIVE) != APR_SUCCESS) {
            _exit(1);
        }
        if (write(held[1], "h", 1) != 1 || read(go[0], &ch, 1) != 1) {
            _exit(2);
        }
        _exit(0);
    }
    ck_assert_int_eq(read(held[0], &ch, 1), 1);
    /* the child's stores show in this process's running total */
    ck_assert_int_eq(pv_cache_usage_bytes(c), 2000);
    ck_assert_int_eq(pv_cache_sweep_due(c), 1);
    total = -1;
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_EBUSY);
    ck_assert_int_eq(total, -1);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 2000);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* lock released: down to 90% of 1500, the older entry goes */
    ck_assert_int_eq(pv_cache_maintain(&total, c, pool), APR_SUCCESS);
    ck_assert_int_eq(total, 1000);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 1000);
    ck_assert_int_eq(exists(entry_file(tmpdir, test_key(3, 1))), 0);
    ck_assert_int_eq(exists(entry_file(tmpdir, test_key(3, 2))), 1);
}
END_TEST

START_TEST(unusable_folder_degrades)
{
    const char *file = apr_pstrcat(pool, tmpdir, "/plain", NULL);
    const char *under_file = apr_pstrcat(pool, file, "/sub", NULL);
    const char *missing = apr_pstrcat(pool, tmpdir, "/missing", NULL);
    pv_cache_t *c;
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_off_t total = -1;
    apr_status_t rv;
    FILE *fp;

    fp = fopen(file, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);

    /* a path under a regular file: ENOTDIR even for root */
    c = make_cache(under_file, 0);
    rv = pv_cache_store(c, test_key(1, 1), "abc", 3, pool);
    ck_assert_int_eq(rv, APR_ENOTDIR);
    ck_assert_int_ne(pv_cache_open(&f, &fi, c, test_key(1, 1), pool),
                     APR_SUCCESS);
    ck_assert_ptr_null(f);
    ck_assert_int_ne(pv_cache_sweep(&total, c, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(total, -1);

    /* a missing folder is not created */
    c = make_cache(missing, 0);
    ck_assert_int_eq(pv_cache_store(c, test_key(1, 1), "abc", 3, pool),
                     APR_ENOENT);
    ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(1, 1), pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(exists(missing), 0);

    /* read-only folder, where permissions bind (not root) */
    if (geteuid() != 0) {
        c = make_cache(tmpdir, 0);
        ck_assert_int_eq(chmod(tmpdir, 0555), 0);
        ck_assert_int_eq(pv_cache_store(c, test_key(1, 1), "abc", 3, pool),
                         APR_EACCES);
        ck_assert_int_eq(pv_cache_open(&f, &fi, c, test_key(1, 1), pool),
                         APR_NOTFOUND);
        chmod(tmpdir, 0700);
    }
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(probe_tells_writable)
{
    const char *file = apr_pstrcat(pool, tmpdir, "/plain", NULL);
    pv_cache_t *c = make_cache(tmpdir, 0);
    apr_dir_t *d;
    apr_finfo_t e;
    int names = 0;
    FILE *fp;

    ck_assert_int_eq(pv_cache_probe(c, pool), APR_SUCCESS);
    /* and leaves nothing behind */
    ck_assert_int_eq(apr_dir_open(&d, tmpdir, pool), APR_SUCCESS);
    while (apr_dir_read(&e, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(e.name, ".") && strcmp(e.name, "..")) {
            names++;
        }
    }
    apr_dir_close(d);
    ck_assert_int_eq(names, 0);
    fp = fopen(file, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    c = make_cache(apr_pstrcat(pool, file, "/sub", NULL), 0);
    ck_assert_int_eq(pv_cache_probe(c, pool), APR_ENOTDIR);
    c = make_cache(apr_pstrcat(pool, tmpdir, "/missing", NULL), 0);
    ck_assert_int_eq(pv_cache_probe(c, pool), APR_ENOENT);
}
END_TEST

START_TEST(store_failure_leaves_no_temp)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *key = test_key(0x42, 1);
    const char *shard = apr_pstrcat(pool, tmpdir, "/42", NULL);
    apr_dir_t *d;
    apr_finfo_t e;
    int names = 0;

    /* the final name is a folder: rename fails after the write */
    ck_assert_int_eq(mkdir(shard, 0700), 0);
    ck_assert_int_eq(mkdir(image_dir(tmpdir, key), 0700), 0);
    ck_assert_int_eq(mkdir(entry_file(tmpdir, key), 0700), 0);
    ck_assert_int_ne(pv_cache_store(c, key, "abc", 3, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dir_open(&d, image_dir(tmpdir, key), pool),
                     APR_SUCCESS);
    while (apr_dir_read(&e, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(e.name, ".") && strcmp(e.name, "..")) {
            ck_assert_str_eq(e.name, key + PV_CACHE_IMAGE_LEN + 1);
            names++;
        }
    }
    apr_dir_close(d);
    ck_assert_int_eq(names, 1);
    ck_assert_int_eq(pv_cache_usage_bytes(c), -1);
}
END_TEST

typedef struct {
    pv_cache_t *c;
    volatile apr_uint32_t ready;
    volatile apr_uint32_t yes;
} warn_t;

static void *APR_THREAD_FUNC warn_worker(apr_thread_t *t, void *data)
{
    warn_t *w = data;
    int i;

    apr_atomic_inc32(&w->ready);
    while (apr_atomic_read32(&w->ready) < 8) {
        apr_sleep(50);
    }
    for (i = 0; i < 100; i++) {
        if (pv_cache_warn_due(w->c)) {
            apr_atomic_inc32(&w->yes);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(warn_once_per_interval)
{
    warn_t w;
    pv_cache_tuning_t t;
    apr_thread_t *th[8];
    apr_status_t trv;
    int i;

    memset(&w, 0, sizeof(w));
    w.c = make_cache(tmpdir, 0);
    pv_cache_tuning_default(&t);
    ck_assert_int_eq(t.warn_interval, apr_time_from_sec(60));
    /* The race at the default interval: however slowly the threads start
     * (ASan, a loaded machine), they all come within one interval. */
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, warn_worker, &w, pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&trv, th[i]);
    }
    ck_assert_uint_eq(apr_atomic_read32(&w.yes), 1);
    ck_assert_int_eq(pv_cache_warn_due(w.c), 0);
    /* Then due again once a (shorter) interval has passed, and once. */
    t.warn_interval = apr_time_from_msec(1000);
    pv_cache_tune(w.c, &t);
    apr_sleep(apr_time_from_msec(1100));
    ck_assert_int_eq(pv_cache_warn_due(w.c), 1);
    ck_assert_int_eq(pv_cache_warn_due(w.c), 0);
}
END_TEST

/* The entry's format from its first 16 bytes: each signature, and what
 * is too short or none of them. */
START_TEST(sniff_signatures)
{
    static const struct {
        const char *b;
        apr_size_t len;
        apr_status_t rv;
        pv_image_format_e fmt;
    } v[] = {
        {"\xff\xd8\xff\xe0"
         "0123456789ab",
         16, APR_SUCCESS, PV_FORMAT_JPEG},
        {"\x89PNG\r\n\x1a\n"
         "\0\0\0\rIHDR",
         16, APR_SUCCESS, PV_FORMAT_PNG},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, APR_SUCCESS, PV_FORMAT_WEBP},
        {"\0\0\0\x1c"
         "ftypavif"
         "\0\0\0\0",
         16, APR_SUCCESS, PV_FORMAT_AVIF},
        {"\0\0\0\x1c"
         "ftypavis"
         "\0\0\0\0",
         16, APR_SUCCESS, PV_FORMAT_AVIF},
        /* a signature, but fewer than PV_CACHE_SNIFF_LEN bytes */
        {"\xff\xd8\xff\xe0"
         "0123456789a",
         15, APR_EINVAL, 0},
        {"", 0, APR_EINVAL, 0},
        /* near misses */
        {"\xff\xd8\xfe\xe0"
         "0123456789ab",
         16, APR_EINVAL, 0},
        {"\x89PNG\r\n\x1a\x0b"
         "\0\0\0\rIHDR",
         16, APR_EINVAL, 0},
        {"RIFF\x10\0\0\0WEBQVP8 ", 16, APR_EINVAL, 0},
        {"\0\0\0\x1c"
         "ftypheic"
         "\0\0\0\0",
         16, APR_EINVAL, 0},
        {"GIF89a"
         "0123456789",
         16, APR_EINVAL, 0},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        pv_image_format_e fmt = (pv_image_format_e)99;

        ck_assert_msg(pv_cache_sniff(&fmt, (const unsigned char *)v[i].b,
                                     v[i].len) == v[i].rv,
                      "case %d", (int)i);
        ck_assert_int_eq(fmt, v[i].rv == APR_SUCCESS ? (int)v[i].fmt : 99);
    }
}
END_TEST

/* The entry id of image id n and key number k (any valid hex key). */
static const char *image_entry(apr_uint64_t n, int k)
{
    const char *id = NULL;

    ck_assert_int_eq(
        pv_cache_entry_id(&id, n, apr_psprintf(pool, "%064x", k), pool),
        APR_SUCCESS);
    return id;
}

static void store_aged(pv_cache_t *c, const char *id, apr_size_t size,
                       apr_time_t mtime)
{
    char *b = apr_pcalloc(pool, size);

    memset(b, 'e', size);
    ck_assert_int_eq(pv_cache_store(c, id, b, size, pool), APR_SUCCESS);
    set_mtime(c, id, mtime);
}

static int is_open(pv_cache_t *c, const char *id)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_status_t rv = pv_cache_open(&f, &fi, c, id, pool);

    ck_assert(rv == APR_SUCCESS || rv == APR_NOTFOUND);
    if (f) {
        apr_file_close(f);
    }
    return rv == APR_SUCCESS;
}

START_TEST(entry_id_is_image_folder_then_key)
{
    pv_cache_key_t k = base_key();
    const char *key = key_of(&k), *id = NULL, *other = NULL;

    /* pinned: preview-cache --image and the module must name one folder */
    ck_assert_int_eq(pv_cache_entry_id(&id, 42, key, pool), APR_SUCCESS);
    ck_assert_str_eq(
        id, apr_pstrcat(pool, "5b98132011c7c5105ecf00e84d6e17df/", key, NULL));
    ck_assert_str_eq(entry_of(&k), id);
    ck_assert_int_eq(pv_cache_entry_id(&other, 43, key, pool), APR_SUCCESS);
    ck_assert_str_eq(
        other,
        apr_pstrcat(pool, "428a4650199e1f9a4d81a3ad845bdf22/", key, NULL));
    /* the key alone, never a path */
    ck_assert_int_eq(pv_cache_entry_id(&other, 42, "../x", pool), APR_EINVAL);
    ck_assert_int_eq(pv_cache_entry_id(&other, 42, id, pool), APR_EINVAL);
    ck_assert_int_eq(pv_cache_entry_id(&other, 42, NULL, pool), APR_EINVAL);
    /* the ETag did not change with the layout: key's first 32 digits */
    ck_assert_str_eq(etag_of(&k), apr_psprintf(pool, "\"%.32s\"", key));
}
END_TEST

START_TEST(one_image_is_one_folder_removed_alone)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    apr_time_t now = apr_time_now();
    pv_cache_stats_t st;
    const char *a[3], *b[2], *young;
    int i;

    for (i = 0; i < 3; i++) {
        a[i] = image_entry(42, i);
        store_aged(c, a[i], 1000 + i, now);
    }
    for (i = 0; i < 2; i++) {
        b[i] = image_entry(43, i);
        store_aged(c, b[i], 500, now);
    }
    ck_assert_str_eq(image_dir(tmpdir, a[0]), image_dir(tmpdir, a[2]));
    ck_assert_str_ne(image_dir(tmpdir, a[0]), image_dir(tmpdir, b[0]));

    ck_assert_int_eq(pv_cache_remove_image(&st, c, 42, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 3);
    ck_assert_uint_eq(st.removed_bytes, 1000 + 1001 + 1002);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.failed, 0);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(is_open(c, a[i]), 0);
    }
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(is_open(c, b[i]), 1);
    }
    ck_assert_int_eq(exists(image_dir(tmpdir, a[0])), 0);
    /* none left, or never cached: nothing to do, no error */
    ck_assert_int_eq(pv_cache_remove_image(&st, c, 42, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 0);

    /* a store of image 43 in progress: its temp file and folder stay */
    young = apr_pstrcat(pool, image_dir(tmpdir, b[0]),
                        "/.pvtmp.0000000000000000.cccccc", NULL);
    put_file(young, 10, now);
    ck_assert_int_eq(pv_cache_remove_image(&st, c, 43, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 2);
    ck_assert_uint_eq(st.removed_bytes, 1000);
    ck_assert_int_eq(exists(young), 1);
    /* a removed image folder is made again by the next store */
    store_aged(c, a[1], 7, now);
    ck_assert_int_eq(is_open(c, a[1]), 1);

    c = make_cache(apr_pstrcat(pool, tmpdir, "/missing", NULL), 0);
    ck_assert_int_eq(pv_cache_remove_image(&st, c, 42, pool), APR_ENOENT);
}
END_TEST

START_TEST(scan_counts_exactly_and_removes_nothing)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    apr_time_t now = apr_time_now();
    apr_time_t oldest = now - apr_time_from_sec(7200);
    pv_cache_stats_t st;
    const char *old_entry, *stale;
    int i;

    ck_assert_int_eq(pv_cache_scan(&st, c, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_int_eq(st.oldest, 0);
    for (i = 0; i < 5; i++) {
        store_aged(c, image_entry(100 + i % 2, i), 100 * (i + 1),
                   now - apr_time_from_sec(60 * i));
    }
    store_aged(c, image_entry(7, 9), 11, oldest);
    /* the older layout's entry <dir>/<ab>/<key> and a stale temp file */
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, tmpdir, "/ee", NULL), 0700), 0);
    old_entry = apr_pstrcat(pool, tmpdir, "/ee/ee", test_key(0, 5) + 35, NULL);
    ck_assert_uint_eq(strlen(old_entry), strlen(tmpdir) + 4 + 64);
    put_file(old_entry, 300, now);
    stale = apr_pstrcat(pool, image_dir(tmpdir, image_entry(7, 9)),
                        "/.pvtmp.0000000000000009.dddddd", NULL);
    put_file(stale, 20, now - apr_time_from_sec(3600));

    ck_assert_int_eq(pv_cache_scan(&st, c, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.entries, 6);
    ck_assert_uint_eq(st.bytes, 100 + 200 + 300 + 400 + 500 + 11);
    ck_assert_uint_eq(st.images, 3);
    ck_assert_int_eq(apr_time_sec(st.oldest), apr_time_sec(oldest));
    ck_assert_uint_eq(st.leftovers, 2);
    ck_assert_uint_eq(st.leftover_bytes, 320);
    ck_assert_uint_eq(st.removed, 0);
    ck_assert_int_eq(exists(old_entry), 1);
    ck_assert_int_eq(exists(stale), 1);
}
END_TEST

START_TEST(trim_lru_order_and_old_layout_swept)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    apr_time_t now = apr_time_now();
    pv_cache_stats_t st;
    const char *ids[6], *old_entry;
    int i;

    /* images 1, 2, 3 with two entries each; i minutes old, oldest first */
    for (i = 0; i < 6; i++) {
        ids[i] = image_entry(1 + i / 2, i);
        store_aged(c, ids[i], 1000, now - apr_time_from_sec(60 * (10 - i)));
    }
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, tmpdir, "/ab", NULL), 0700), 0);
    old_entry = apr_pstrcat(pool, tmpdir, "/ab/ab", test_key(0, 1) + 35, NULL);
    put_file(old_entry, 999, now);
    /* the old layout's entry is never a hit, whatever its name */
    ck_assert_int_eq(is_open(c, test_key(0xab, 1)), 0);

    ck_assert_int_eq(pv_cache_trim(&st, c, 3500, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 3);
    ck_assert_uint_eq(st.removed_bytes, 3000);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(st.bytes, 3000);
    ck_assert_uint_eq(st.images, 2);
    ck_assert_uint_eq(st.leftovers, 1);
    ck_assert_int_eq(apr_time_sec(st.oldest),
                     apr_time_sec(now - apr_time_from_sec(60 * 7)));
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(is_open(c, ids[i]), i >= 3);
    }
    /* image 1 lost both entries: its folder went too */
    ck_assert_int_eq(exists(image_dir(tmpdir, ids[0])), 0);
    ck_assert_int_eq(exists(image_dir(tmpdir, ids[2])), 1);
    ck_assert_int_eq(exists(old_entry), 0);
    ck_assert_int_eq(pv_cache_usage_bytes(c), 3000);

    /* at the bound: nothing more goes */
    ck_assert_int_eq(pv_cache_trim(&st, c, 3000, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 0);
    ck_assert_uint_eq(st.entries, 3);
    /* 0: every entry */
    ck_assert_int_eq(pv_cache_trim(&st, c, 0, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 3);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.images, 0);
    ck_assert_int_eq(st.oldest, 0);
}
END_TEST

START_TEST(purge_keeps_folder_lock_and_stores_in_progress)
{
    pv_cache_t *c = make_cache(tmpdir, 100000);
    apr_time_t now = apr_time_now();
    pv_cache_stats_t st;
    apr_file_t *lock = NULL;
    apr_off_t total = -1;
    const char *lock_path = apr_pstrcat(pool, tmpdir, "/.pvsweep.lock", NULL);
    const char *young, *stale, *foreign;
    int i;

    for (i = 0; i < 8; i++) {
        store_aged(c, image_entry(i % 3, i), 100, now);
    }
    /* the sweeper made its lock file once */
    ck_assert_int_eq(pv_cache_lock(&lock, c, 0, pool), APR_SUCCESS);
    apr_file_close(lock);
    young = apr_pstrcat(pool, image_dir(tmpdir, image_entry(0, 0)),
                        "/.pvtmp.0000000000000000.eeeeee", NULL);
    stale = apr_pstrcat(pool, image_dir(tmpdir, image_entry(1, 1)),
                        "/.pvtmp.0000000000000001.ffffff", NULL);
    foreign = apr_pstrcat(pool, image_dir(tmpdir, image_entry(2, 2)),
                          "/notes.txt", NULL);
    put_file(young, 10, now);
    put_file(stale, 10, now - apr_time_from_sec(20 * 60));
    put_file(foreign, 10, now);

    ck_assert_int_eq(pv_cache_purge(&st, c, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 8);
    ck_assert_uint_eq(st.removed_bytes, 800);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.leftovers, 1);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_int_eq(exists(tmpdir), 1);
    ck_assert_int_eq(exists(lock_path), 1);
    ck_assert_int_eq(exists(young), 1);
    ck_assert_int_eq(exists(stale), 0);
    ck_assert_int_eq(exists(foreign), 1);
    /* image 1's folder is empty: gone; 0's and 2's hold what is not ours */
    ck_assert_int_eq(exists(image_dir(tmpdir, image_entry(1, 1))), 0);
    ck_assert_int_eq(exists(image_dir(tmpdir, image_entry(0, 0))), 1);

    /* the lock is the sweeper's: held, the module's sweep waits */
    ck_assert_int_eq(pv_cache_lock(&lock, c, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_cache_sweep(&total, c, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(total, 0);
    apr_file_close(lock);
    /* and the cache works on: a miss is stored again */
    store_aged(c, image_entry(1, 1), 55, now);
    ck_assert_int_eq(is_open(c, image_entry(1, 1)), 1);
}
END_TEST

START_TEST(check_tells_a_cache_folder)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *file = apr_pstrcat(pool, tmpdir, "/plain", NULL);
    apr_file_t *lock = NULL;

    /* empty: a fresh PreviewCacheDir */
    ck_assert_int_eq(pv_cache_check(c, pool), APR_SUCCESS);
    put_file(file, 1, apr_time_now());
    ck_assert_int_eq(pv_cache_check(c, pool), PV_CACHE_NOT_A_CACHE);
    ck_assert_int_eq(pv_cache_lock(&lock, c, 0, pool), APR_SUCCESS);
    apr_file_close(lock);
    ck_assert_int_eq(pv_cache_check(c, pool), APR_SUCCESS);
    ck_assert_int_eq(remove(apr_pstrcat(pool, tmpdir, "/.pvsweep.lock", NULL)),
                     0);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, tmpdir, "/0f", NULL), 0700), 0);
    ck_assert_int_eq(pv_cache_check(c, pool), APR_SUCCESS);

    ck_assert_int_eq(pv_cache_check(make_cache(file, 0), pool), APR_ENOTDIR);
    ck_assert_int_eq(
        pv_cache_check(make_cache(apr_pstrcat(pool, tmpdir, "/none", NULL), 0),
                       pool),
        APR_ENOENT);
}
END_TEST

START_TEST(lock_made_by_root_belongs_to_the_folder_owner)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *lock_path = apr_pstrcat(pool, tmpdir, "/.pvsweep.lock", NULL);
    apr_file_t *lock = NULL;
    struct stat st;

    if (geteuid() != 0) {
        return; /* only root can give a file away */
    }
    ck_assert_int_eq(chown(tmpdir, 65534, 65534), 0);
    ck_assert_int_eq(pv_cache_lock(&lock, c, 1, pool), APR_SUCCESS);
    apr_file_close(lock);
    ck_assert_int_eq(stat(lock_path, &st), 0);
    ck_assert_int_eq(st.st_uid, 65534);
    ck_assert_int_eq(st.st_gid, 65534);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(walks_never_follow_symlinks)
{
    pv_cache_t *c = make_cache(tmpdir, 0);
    const char *out = apr_pstrcat(pool, tmpdir, "/outside", NULL);
    const char *id = image_entry(42, 1);
    const char *key_name = id + PV_CACHE_IMAGE_LEN + 1;
    const char *img_name = apr_pstrndup(pool, id, PV_CACHE_IMAGE_LEN);
    const char *victims[3];
    pv_cache_stats_t st;
    int i;

    /* a folder elsewhere holding names that look like the cache's */
    ck_assert_int_eq(mkdir(out, 0700), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, out, "/", img_name, NULL), 0700),
                     0);
    victims[0] = apr_pstrcat(pool, out, "/", key_name, NULL);
    victims[1] = apr_pstrcat(pool, out, "/", img_name, "/", key_name, NULL);
    victims[2] = apr_pstrcat(pool, out, "/", key_name + 2, "00", NULL);
    for (i = 0; i < 3; i++) {
        put_file(victims[i], 10, apr_time_now());
    }
    /* a shard that is a symlink to it, and an image folder that is one */
    ck_assert_int_eq(symlink(out, apr_pstrcat(pool, tmpdir, "/cd", NULL)), 0);
    ck_assert_int_eq(
        mkdir(apr_pstrcat(pool, tmpdir, "/", apr_pstrndup(pool, id, 2), NULL),
              0700),
        0);
    ck_assert_int_eq(symlink(out, image_dir(tmpdir, id)), 0);

    ck_assert_int_eq(pv_cache_purge(&st, c, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 0);
    ck_assert_int_eq(pv_cache_remove_image(&st, c, 42, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed, 0);
    ck_assert_int_eq(pv_cache_trim(&st, c, 0, pool), APR_SUCCESS);
    ck_assert_uint_eq(st.removed + st.leftovers, 0);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(exists(victims[i]), 1);
    }
}
END_TEST

Suite *pv_test_cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_known_vector);
    tcase_add_test(tc, key_stable_and_changes_with_every_input);
    tcase_add_test(tc, etag_shape_no_input_text);
    tcase_add_test(tc, store_then_open_same_bytes);
    tcase_add_test(tc, bad_keys_refused);
    tcase_add_test(tc, empty_entry_is_a_miss_and_removed);
    tcase_add_test(tc, too_big_not_stored);
    tcase_add_test(tc, hit_touches_mtime_at_most_once_per_interval);
    tcase_add_test(tc, reader_never_sees_partial_file);
    tcase_add_test(tc, single_flight_renders_once);
    tcase_add_test(tc, single_flight_leader_fails_waiters_miss);
    tcase_add_test(tc, single_flight_timeout_and_aborted_leader);
    tcase_add_test(tc, sweep_keeps_most_recent_and_removes_stale_temps);
    tcase_add_test(tc, maintain_sweeps_when_over_bound);
    tcase_add_test(tc, maintain_one_process_at_a_time_shared_counter);
    tcase_add_test(tc, unusable_folder_degrades);
    tcase_add_test(tc, probe_tells_writable);
    tcase_add_test(tc, store_failure_leaves_no_temp);
    tcase_add_test(tc, warn_once_per_interval);
    tcase_add_test(tc, sniff_signatures);
    tcase_add_test(tc, entry_id_is_image_folder_then_key);
    tcase_add_test(tc, one_image_is_one_folder_removed_alone);
    tcase_add_test(tc, scan_counts_exactly_and_removes_nothing);
    tcase_add_test(tc, trim_lru_order_and_old_layout_swept);
    tcase_add_test(tc, purge_keeps_folder_lock_and_stores_in_progress);
    tcase_add_test(tc, check_tells_a_cache_folder);
    tcase_add_test(tc, lock_made_by_root_belongs_to_the_folder_owner);
    tcase_add_test(tc, walks_never_follow_symlinks);
    suite_add_tcase(s, tc);
    return s;
}
