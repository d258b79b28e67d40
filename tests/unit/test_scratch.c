/* pv_scratch: a block given back is the next one taken (the smallest that
 * fits, not much larger than asked), the keep holds at most PV_SCRATCH_KEEP
 * blocks and PV_SCRATCH_KEEP_BYTES (the oldest freed first), a block over
 * PV_SCRATCH_BLOCK_MAX is freed, a pool's cleanup gives its block back,
 * and many threads at once never share a block nor pass the bounds. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "pv_scratch.h"

#define KIB 1024
#define MIB (1024 * 1024)

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    pv_scratch_clear();
}

static void teardown(void)
{
    pv_scratch_clear();
    apr_pool_destroy(pool);
}

static void *take(apr_size_t size)
{
    void *b = NULL;

    ck_assert_int_eq(pv_scratch_take(&b, size), APR_SUCCESS);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq((int)((uintptr_t)b % 64), 0);
    memset(b, 0xA5, size); /* all of it is the caller's */
    return b;
}

START_TEST(reused)
{
    apr_size_t bytes = 0;
    void *a = take(3 * MIB + 123), *b;

    ck_assert_int_eq(pv_scratch_kept(&bytes), 0);
    pv_scratch_give(a);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 1);
    ck_assert_uint_ge(bytes, 3 * MIB + 123);
    /* the same block, taken out of the keep */
    b = take(3 * MIB + 123);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 0);
    ck_assert_uint_eq(bytes, 0);
    pv_scratch_give(b);
    /* a slightly larger file of about that size fits it too (sizes are
     * rounded up to a quarter of their power of two) */
    b = take(3 * MIB + 64 * KIB);
    ck_assert_ptr_eq(a, b);
    pv_scratch_give(b);
    /* one that does not fit is a new block; the kept one stays */
    b = take(5 * MIB);
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(pv_scratch_kept(NULL), 1);
    pv_scratch_give(b);
    ck_assert_int_eq(pv_scratch_kept(NULL), 2);
    pv_scratch_give(NULL);
    ck_assert_int_eq(pv_scratch_kept(NULL), 2);
}
END_TEST

START_TEST(smallest_that_fits)
{
    void *s = take(100 * KIB), *m = take(1 * MIB), *l = take(4 * MIB);
    void *got[5];
    int i;

    pv_scratch_give(l);
    pv_scratch_give(s);
    pv_scratch_give(m);
    ck_assert_ptr_eq(got[0] = take(900 * KIB), m);
    /* none much larger than asked: s is 112 KiB */
    ck_assert_ptr_ne(got[1] = take(50 * KIB), s);
    ck_assert_ptr_eq(got[2] = take(80 * KIB), s);
    ck_assert_ptr_ne(got[3] = take(2 * MIB), l);
    ck_assert_ptr_eq(got[4] = take(3 * MIB), l);
    ck_assert_int_eq(pv_scratch_kept(NULL), 0);
    for (i = 0; i < 5; i++) {
        pv_scratch_give(got[i]);
    }
}
END_TEST

START_TEST(count_bounded)
{
    void *b[PV_SCRATCH_KEEP + 2], *got[PV_SCRATCH_KEEP];
    apr_size_t bytes;
    int i, j, n = PV_SCRATCH_KEEP + 2;

    for (i = 0; i < n; i++) {
        b[i] = take(64 * KIB);
    }
    for (i = 0; i < n; i++) {
        pv_scratch_give(b[i]);
        ck_assert_int_le(pv_scratch_kept(NULL), PV_SCRATCH_KEEP);
    }
    ck_assert_int_eq(pv_scratch_kept(&bytes), PV_SCRATCH_KEEP);
    ck_assert_uint_eq(bytes, (apr_size_t)PV_SCRATCH_KEEP * 64 * KIB);
    /* the two given back first were freed: what comes out is the rest */
    for (i = 0; i < PV_SCRATCH_KEEP; i++) {
        int found = 0;
        got[i] = take(64 * KIB);
        for (j = 2; j < n; j++) {
            found |= got[i] == b[j];
        }
        ck_assert_msg(found, "block %d is not one of the last kept", i);
    }
    ck_assert_int_eq(pv_scratch_kept(NULL), 0);
    for (i = 0; i < PV_SCRATCH_KEEP; i++) {
        pv_scratch_give(got[i]);
    }
}
END_TEST

START_TEST(bytes_bounded)
{
    /* 12 MiB each (a multiple of its quarter step): two fit in 32 MiB */
    void *a = take(12 * MIB), *b = take(12 * MIB), *c = take(12 * MIB);
    apr_size_t bytes;

    ck_assert_int_gt(3 * 12 * MIB, PV_SCRATCH_KEEP_BYTES);
    pv_scratch_give(a);
    pv_scratch_give(b);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 2);
    pv_scratch_give(c);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 2);
    ck_assert_uint_eq(bytes, 24 * MIB);
    /* the oldest, a, went */
    ck_assert_ptr_eq(a = take(12 * MIB), b);
    ck_assert_ptr_eq(b = take(12 * MIB), c);
    pv_scratch_give(a);
    pv_scratch_give(b);
}
END_TEST

START_TEST(over_the_cap_freed)
{
    void *big = take(PV_SCRATCH_BLOCK_MAX + 1), *max;
    apr_size_t bytes;

    pv_scratch_give(big);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 0);
    ck_assert_uint_eq(bytes, 0);
    /* the cap itself is kept */
    max = take(PV_SCRATCH_BLOCK_MAX);
    pv_scratch_give(max);
    ck_assert_int_eq(pv_scratch_kept(&bytes), 1);
    ck_assert_uint_eq(bytes, PV_SCRATCH_BLOCK_MAX);
}
END_TEST

START_TEST(pool_gives_back)
{
    apr_pool_t *p;
    void *a = NULL, *b = NULL;

    apr_pool_create(&p, pool);
    ck_assert_int_eq(pv_scratch_palloc(&a, 200 * KIB, p), APR_SUCCESS);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(pv_scratch_kept(NULL), 0);
    apr_pool_destroy(p);
    ck_assert_int_eq(pv_scratch_kept(NULL), 1);
    apr_pool_create(&p, pool);
    ck_assert_int_eq(pv_scratch_palloc(&b, 200 * KIB, p), APR_SUCCESS);
    ck_assert_ptr_eq(a, b);
    apr_pool_destroy(p);
    ck_assert_int_eq(pv_scratch_kept(NULL), 1);
}
END_TEST

typedef struct {
    int id;
    int bad;
} racer_t;

static void *APR_THREAD_FUNC racer(apr_thread_t *t, void *arg)
{
    racer_t *r = arg;
    unsigned seed = (unsigned)r->id * 2654435761u;
    int i;

    for (i = 0; i < 300; i++) {
        apr_size_t size, k;
        unsigned char *b = NULL;
        seed = seed * 1103515245u + 12345u;
        size = 1 + (seed >> 8) % (3 * MIB);
        if (pv_scratch_take((void **)&b, size) != APR_SUCCESS) {
            r->bad++;
            continue;
        }
        /* this thread's mark at the ends and every 4 KiB: another
         * thread holding the same block would overwrite it */
        for (k = 0; k < size; k += 4096) {
            b[k] = (unsigned char)r->id;
        }
        b[size - 1] = (unsigned char)r->id;
        apr_thread_yield();
        for (k = 0; k < size; k += 4096) {
            r->bad += b[k] != (unsigned char)r->id;
        }
        r->bad += b[size - 1] != (unsigned char)r->id;
        pv_scratch_give(b);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(threads_at_once)
{
    racer_t r[8];
    apr_thread_t *th[8];
    apr_status_t st;
    apr_size_t bytes;
    int i;

    for (i = 0; i < 8; i++) {
        r[i].id = i + 1;
        r[i].bad = 0;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, racer, &r[i], pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&st, th[i]);
        ck_assert_int_eq(r[i].bad, 0);
    }
    ck_assert_int_le(pv_scratch_kept(&bytes), PV_SCRATCH_KEEP);
    ck_assert_int_gt(pv_scratch_kept(NULL), 0);
    ck_assert_uint_le(bytes, PV_SCRATCH_KEEP_BYTES);
}
END_TEST

Suite *pv_test_scratch_suite(void)
{
    Suite *su = suite_create("scratch");
    TCase *tc = tcase_create("scratch");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reused);
    tcase_add_test(tc, smallest_that_fits);
    tcase_add_test(tc, count_bounded);
    tcase_add_test(tc, bytes_bounded);
    tcase_add_test(tc, over_the_cap_freed);
    tcase_add_test(tc, pool_gives_back);
    tcase_add_test(tc, threads_at_once);
    suite_add_tcase(su, tc);
    return su;
}
