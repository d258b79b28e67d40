/* pv_budget (pv_slots.c): the weighted render memory counter: what fits
 * at once, the timed wait, an amount over the capacity, release by pool
 * cleanup (once), first come first served, a waiter that gives up letting
 * the next one in, and many threads never holding more than the
 * capacity. */
#include <check.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "pv_slots.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static pv_budget_hold_t *take(pv_budget_t *b, apr_uint64_t n, apr_pool_t *owner)
{
    pv_budget_hold_t *h = NULL;

    ck_assert_int_eq(pv_budget_acquire(&h, b, n, 0, owner), APR_SUCCESS);
    ck_assert_ptr_nonnull(h);
    return h;
}

START_TEST(refuses_zero_and_no_owner)
{
    pv_budget_t *b = NULL;
    pv_budget_hold_t *h = NULL;

    ck_assert_int_eq(pv_budget_create(&b, 0, pool), APR_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(pv_budget_create(&b, 100, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_budget_acquire(&h, b, 1, 0, NULL), APR_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(pv_budget_capacity(b), 100);
}
END_TEST

START_TEST(fits_or_waits)
{
    pv_budget_t *b;
    pv_budget_hold_t *a, *c, *h = NULL;
    apr_time_t t0;
    apr_interval_time_t dt;

    ck_assert_int_eq(pv_budget_create(&b, 100, pool), APR_SUCCESS);
    a = take(b, 60, pool);
    ck_assert_int_eq(pv_budget_acquire(&h, b, 50, 0, pool), APR_TIMEUP);
    ck_assert_ptr_null(h);
    t0 = apr_time_now();
    ck_assert_int_eq(
        pv_budget_acquire(&h, b, 41, apr_time_from_msec(150), pool),
        APR_TIMEUP);
    dt = apr_time_now() - t0;
    ck_assert_msg(dt >= apr_time_from_msec(140) && dt < apr_time_from_sec(2),
                  "waited %ld us", (long)dt);
    c = take(b, 40, pool); /* exactly full */
    ck_assert_uint_eq(pv_budget_in_use(b), 100);
    pv_budget_release(a);
    ck_assert_uint_eq(pv_budget_in_use(b), 40);
    take(b, 60, pool);
    ck_assert_uint_eq(pv_budget_in_use(b), 100);
    ck_assert_uint_eq(pv_budget_peak(b), 100);
    pv_budget_release(c);
    ck_assert_uint_eq(pv_budget_in_use(b), 60);
    take(b, 0, pool); /* nothing always fits */
}
END_TEST

START_TEST(over_capacity_runs_alone)
{
    pv_budget_t *b;
    pv_budget_hold_t *big, *h = NULL;

    ck_assert_int_eq(pv_budget_create(&b, 100, pool), APR_SUCCESS);
    big = take(b, 5000, pool);
    ck_assert_uint_eq(pv_budget_in_use(b), 100);
    ck_assert_int_eq(pv_budget_acquire(&h, b, 1, 0, pool), APR_TIMEUP);
    pv_budget_release(big);
    ck_assert_uint_eq(pv_budget_in_use(b), 0);
    /* and it waits for an empty budget */
    take(b, 1, pool);
    ck_assert_int_eq(pv_budget_acquire(&h, b, 5000, 0, pool), APR_TIMEUP);
}
END_TEST

START_TEST(released_with_owner_pool)
{
    pv_budget_t *b;
    pv_budget_hold_t *h;
    apr_pool_t *req, *req2;

    ck_assert_int_eq(pv_budget_create(&b, 100, pool), APR_SUCCESS);
    apr_pool_create(&req, pool);
    take(b, 70, req);
    ck_assert_uint_eq(pv_budget_in_use(b), 70);
    apr_pool_destroy(req); /* an aborted request gives its share back */
    ck_assert_uint_eq(pv_budget_in_use(b), 0);

    /* Released explicitly, then the pool dies: not given back twice. */
    apr_pool_create(&req2, pool);
    h = take(b, 30, req2);
    pv_budget_release(h);
    ck_assert_uint_eq(pv_budget_in_use(b), 0);
    take(b, 50, pool);
    apr_pool_destroy(req2);
    ck_assert_uint_eq(pv_budget_in_use(b), 50);
    pv_budget_release(NULL); /* nothing held: nothing to do */
}
END_TEST

/* ---- with threads ---- */

typedef struct {
    pv_budget_t *b;
    apr_uint64_t amount;
    apr_interval_time_t timeout;
    apr_thread_mutex_t *m;
    int *order; /* next place in the order of acquisition */
    int place;  /* this waiter's place, 0 when it gave up */
    apr_status_t rv;
    apr_pool_t *owner;
    volatile int done;
} waiter_t;

static void *APR_THREAD_FUNC waiter(apr_thread_t *t, void *data)
{
    waiter_t *w = data;
    pv_budget_hold_t *h = NULL;

    w->rv = pv_budget_acquire(&h, w->b, w->amount, w->timeout, w->owner);
    if (w->rv == APR_SUCCESS) {
        apr_thread_mutex_lock(w->m);
        w->place = ++*w->order;
        apr_thread_mutex_unlock(w->m);
    }
    w->done = 1;
    /* A plain return, not apr_thread_exit(): pthread_exit's unwinding
     * leaves the frames' ASan poison behind, which clang's runtime then
     * reports at thread exit (the join reads APR_SUCCESS either way). */
    (void)t;
    return NULL;
}

/* Until n callers wait (the thread has reached the queue), at most 10 s. */
static void until_waiting(pv_budget_t *b, int n)
{
    int i;

    for (i = 0; i < 10000 && pv_budget_waiting(b) < n; i++) {
        apr_sleep(1000);
    }
    ck_assert_int_eq(pv_budget_waiting(b), n);
}

static void start_waiter(apr_thread_t **th, waiter_t *w, pv_budget_t *b,
                         apr_uint64_t amount, apr_interval_time_t timeout,
                         apr_thread_mutex_t *m, int *order)
{
    w->b = b;
    w->amount = amount;
    w->timeout = timeout;
    w->m = m;
    w->order = order;
    w->place = 0;
    w->done = 0;
    apr_pool_create(&w->owner, pool);
    ck_assert_int_eq(apr_thread_create(th, NULL, waiter, w, pool), APR_SUCCESS);
}

/* 80 of 100 held (returned), then a waiter for 50 (a, giving up after
 * a_timeout) and, queued behind it, one for 10 (c) that would fit. */
typedef struct {
    pv_budget_t *b;
    pv_budget_hold_t *holder;
    apr_thread_mutex_t *m;
    apr_thread_t *ta, *tc;
    waiter_t a, c;
    int order;
} queue_t;

static void large_then_small(queue_t *q, apr_interval_time_t a_timeout)
{
    q->order = 0;
    ck_assert_int_eq(pv_budget_create(&q->b, 100, pool), APR_SUCCESS);
    apr_thread_mutex_create(&q->m, APR_THREAD_MUTEX_DEFAULT, pool);
    q->holder = take(q->b, 80, pool);
    start_waiter(&q->ta, &q->a, q->b, 50, a_timeout, q->m, &q->order);
    until_waiting(q->b, 1);
    start_waiter(&q->tc, &q->c, q->b, 10, apr_time_from_sec(10), q->m,
                 &q->order);
    until_waiting(q->b, 2);
}

START_TEST(first_come_first_served)
{
    queue_t q;
    apr_status_t st;

    large_then_small(&q, apr_time_from_sec(10));
    apr_sleep(apr_time_from_msec(50));
    ck_assert_msg(!q.c.done, "the small one went before the large one");
    ck_assert(!q.a.done);
    pv_budget_release(q.holder);
    apr_thread_join(&st, q.ta);
    apr_thread_join(&st, q.tc);
    /* then both fit */
    ck_assert_int_eq(q.a.rv, APR_SUCCESS);
    ck_assert_int_eq(q.c.rv, APR_SUCCESS);
    ck_assert_uint_eq(pv_budget_in_use(q.b), 60);
}
END_TEST

START_TEST(giving_up_lets_the_next_in)
{
    queue_t q;
    apr_status_t st;

    /* the 80 stay held for the whole test */
    large_then_small(&q, apr_time_from_sec(1));
    apr_thread_join(&st, q.ta);
    apr_thread_join(&st, q.tc);
    /* the head timed out; the small one behind it fitted all along */
    ck_assert_int_eq(q.a.rv, APR_TIMEUP);
    ck_assert_int_eq(q.c.rv, APR_SUCCESS);
    ck_assert_int_eq(q.c.place, 1);
    ck_assert_uint_eq(pv_budget_in_use(q.b), 90);
}
END_TEST

typedef struct {
    pv_budget_t *b;
    volatile int over;
    int got;
    unsigned seed;
    apr_thread_mutex_t *m;
} race_t;

static void *APR_THREAD_FUNC racer(apr_thread_t *t, void *data)
{
    race_t *r = data;
    apr_pool_t *p;
    unsigned seed;
    int i;

    apr_thread_mutex_lock(r->m);
    seed = ++r->seed;
    apr_thread_mutex_unlock(r->m);
    apr_pool_create(&p, NULL);
    for (i = 0; i < 50; i++) {
        pv_budget_hold_t *h = NULL;
        apr_uint64_t n = 1 + rand_r(&seed) % 60;

        if (pv_budget_acquire(&h, r->b, n, apr_time_from_sec(10), p) ==
            APR_SUCCESS) {
            if (pv_budget_in_use(r->b) > 100) {
                r->over = 1;
            }
            apr_sleep(500);
            apr_thread_mutex_lock(r->m);
            r->got++;
            apr_thread_mutex_unlock(r->m);
            pv_budget_release(h);
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    (void)t; /* a plain return: see waiter() */
    return NULL;
}

START_TEST(threads_bounded)
{
    race_t r = {NULL, 0, 0, 0, NULL};
    apr_thread_t *th[8];
    apr_status_t st;
    int i;

    ck_assert_int_eq(pv_budget_create(&r.b, 100, pool), APR_SUCCESS);
    apr_thread_mutex_create(&r.m, APR_THREAD_MUTEX_DEFAULT, pool);
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, racer, &r, pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&st, th[i]);
    }
    ck_assert_int_eq(r.over, 0);
    ck_assert_int_eq(r.got, 8 * 50);
    ck_assert_uint_le(pv_budget_peak(r.b), 100);
    ck_assert_uint_gt(pv_budget_peak(r.b), 60); /* they did overlap */
    ck_assert_uint_eq(pv_budget_in_use(r.b), 0);
}
END_TEST

Suite *pv_test_slots_budget_suite(void)
{
    Suite *su = suite_create("slots_budget");
    TCase *tc = tcase_create("budget");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, refuses_zero_and_no_owner);
    tcase_add_test(tc, fits_or_waits);
    tcase_add_test(tc, over_capacity_runs_alone);
    tcase_add_test(tc, released_with_owner_pool);
    tcase_add_test(tc, first_come_first_served);
    tcase_add_test(tc, giving_up_lets_the_next_in);
    tcase_add_test(tc, threads_bounded);
    suite_add_tcase(su, tc);
    return su;
}
