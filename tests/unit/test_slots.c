/* pv_slots: the render limiter: capacity, timed wait, release by pool
 * cleanup, and many threads never holding more than n at once; per user:
 * one user waits at its bound while others pass, realms kept apart,
 * entries recycled, and many threads of several users never over it. */
#include <check.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>
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

START_TEST(refuses_zero)
{
    pv_slots_t *s = NULL;

    ck_assert_int_eq(pv_slots_create(&s, 0, pool), APR_EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(capacity_and_timeout)
{
    pv_slots_t *s;
    apr_time_t t0;
    apr_interval_time_t dt;

    ck_assert_int_eq(pv_slots_create(&s, 2, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(pv_slots_in_use(s), 2);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_TIMEUP);
    t0 = apr_time_now();
    ck_assert_int_eq(pv_slots_acquire(s, apr_time_from_msec(150), NULL),
                     APR_TIMEUP);
    dt = apr_time_now() - t0;
    ck_assert_msg(dt >= apr_time_from_msec(140) && dt < apr_time_from_sec(2),
                  "waited %ld us", (long)dt);
    pv_slots_release(s, NULL);
    ck_assert_int_eq(pv_slots_in_use(s), 1);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(pv_slots_peak(s), 2);
}
END_TEST

START_TEST(released_with_owner_pool)
{
    pv_slots_t *s;
    apr_pool_t *req, *req2;

    ck_assert_int_eq(pv_slots_create(&s, 1, pool), APR_SUCCESS);
    apr_pool_create(&req, pool);
    ck_assert_int_eq(pv_slots_acquire(s, 0, req), APR_SUCCESS);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_TIMEUP);
    apr_pool_destroy(req); /* an aborted request gives its slot back */
    ck_assert_int_eq(pv_slots_in_use(s), 0);

    /* Released explicitly, then the pool dies: not released twice. */
    apr_pool_create(&req2, pool);
    ck_assert_int_eq(pv_slots_acquire(s, 0, req2), APR_SUCCESS);
    pv_slots_release(s, req2);
    ck_assert_int_eq(pv_slots_in_use(s), 0);
    ck_assert_int_eq(pv_slots_acquire(s, 0, NULL), APR_SUCCESS);
    apr_pool_destroy(req2);
    ck_assert_int_eq(pv_slots_in_use(s), 1);
}
END_TEST

typedef struct {
    pv_slots_t *s;
    volatile int over; /* set if a thread saw more than the max held */
    int got;
    apr_thread_mutex_t *m;
} race_t;

static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *data)
{
    race_t *r = data;
    int i;

    for (i = 0; i < 50; i++) {
        if (pv_slots_acquire(r->s, apr_time_from_sec(10), NULL) ==
            APR_SUCCESS) {
            if (pv_slots_in_use(r->s) > 3) {
                r->over = 1;
            }
            apr_sleep(1000);
            apr_thread_mutex_lock(r->m);
            r->got++;
            apr_thread_mutex_unlock(r->m);
            pv_slots_release(r->s, NULL);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(threads_bounded)
{
    race_t r = {NULL, 0, 0, NULL};
    apr_thread_t *th[8];
    apr_status_t st;
    int i;

    ck_assert_int_eq(pv_slots_create(&r.s, 3, pool), APR_SUCCESS);
    apr_thread_mutex_create(&r.m, APR_THREAD_MUTEX_DEFAULT, pool);
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, worker, &r, pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&st, th[i]);
    }
    ck_assert_int_eq(r.over, 0);
    ck_assert_int_eq(r.got, 8 * 50);
    ck_assert_int_eq(pv_slots_peak(r.s), 3);
    ck_assert_int_eq(pv_slots_in_use(r.s), 0);
}
END_TEST

START_TEST(user_refuses_bad_args)
{
    pv_user_slots_t *us;
    pv_user_hold_t *h = NULL;

    ck_assert_int_eq(pv_user_slots_create(&us, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&h, us, NULL, 1, 0, 0, pool),
                     APR_EINVAL);
    ck_assert_int_eq(pv_user_slots_acquire(&h, us, NULL, 1, 1, 0, NULL),
                     APR_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(pv_user_slots_users(us), 0);
}
END_TEST

START_TEST(user_bound_is_per_user)
{
    pv_user_slots_t *us;
    pv_user_hold_t *a1, *a2, *b1, *x = NULL;
    apr_pool_t *req;
    apr_time_t t0;
    apr_interval_time_t dt;
    int realm_a, realm_b;

    ck_assert_int_eq(pv_user_slots_create(&us, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&a1, us, &realm_a, 7, 2, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&a2, us, &realm_a, 7, 2, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 2);
    /* User 7 is at its bound: it waits, then gives up. */
    ck_assert_int_eq(pv_user_slots_acquire(&x, us, &realm_a, 7, 2, 0, pool),
                     APR_TIMEUP);
    t0 = apr_time_now();
    ck_assert_int_eq(pv_user_slots_acquire(&x, us, &realm_a, 7, 2,
                                           apr_time_from_msec(150), pool),
                     APR_TIMEUP);
    dt = apr_time_now() - t0;
    ck_assert_msg(dt >= apr_time_from_msec(140) && dt < apr_time_from_sec(2),
                  "waited %ld us", (long)dt);
    ck_assert_ptr_null(x);
    /* Another user, and the same id of another realm, pass at once. */
    ck_assert_int_eq(pv_user_slots_acquire(&b1, us, &realm_a, 8, 2, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&x, us, &realm_b, 7, 2, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_b, 7), 1);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 2);
    ck_assert_int_eq(pv_user_slots_users(us), 3);
    /* A bound given per call: a vhost with 3 lets user 7 take a third. */
    apr_pool_create(&req, pool);
    ck_assert_int_eq(pv_user_slots_acquire(&x, us, &realm_a, 7, 3, 0, req),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 3);
    /* Released by its pool, then explicitly: each counts once. */
    apr_pool_destroy(req);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 2);
    pv_user_slots_release(a1);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 1);
    ck_assert_int_eq(pv_user_slots_acquire(&x, us, &realm_a, 7, 2, 0, pool),
                     APR_SUCCESS);
    pv_user_slots_release(x);
    pv_user_slots_release(a2);
    pv_user_slots_release(b1);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 7), 0);
    ck_assert_int_eq(pv_user_slots_held(us, &realm_a, 8), 0);
    /* Only the realm_b hold is left. */
    ck_assert_int_eq(pv_user_slots_users(us), 1);
}
END_TEST

START_TEST(user_released_with_owner_pool)
{
    pv_user_slots_t *us;
    pv_user_hold_t *h;
    apr_pool_t *req;
    int i;

    ck_assert_int_eq(pv_user_slots_create(&us, pool), APR_SUCCESS);
    /* Many users come and go: entries are recycled, none is left. */
    for (i = 0; i < 1000; i++) {
        apr_pool_create(&req, pool);
        ck_assert_int_eq(
            pv_user_slots_acquire(&h, us, NULL, (apr_uint64_t)i, 1, 0, req),
            APR_SUCCESS);
        if (i % 2) {
            pv_user_slots_release(h);
        }
        apr_pool_destroy(req);
        ck_assert_int_eq(pv_user_slots_users(us), 0);
    }
    ck_assert_int_eq(pv_user_slots_acquire(&h, us, NULL, 1, 1, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_held(us, NULL, 1), 1);
}
END_TEST

/* A waiting user is woken by its own release, not only by a timeout. */
typedef struct {
    pv_user_slots_t *us;
    pv_user_hold_t *h;
} handoff_t;

static void *APR_THREAD_FUNC release_later(apr_thread_t *t, void *data)
{
    handoff_t *ho = data;

    apr_sleep(apr_time_from_msec(100));
    pv_user_slots_release(ho->h);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(user_waiter_woken)
{
    handoff_t ho;
    pv_user_hold_t *h;
    apr_thread_t *th;
    apr_status_t st;

    ck_assert_int_eq(pv_user_slots_create(&ho.us, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&ho.h, ho.us, NULL, 5, 1, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_create(&th, NULL, release_later, &ho, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_user_slots_acquire(&h, ho.us, NULL, 5, 1,
                                           apr_time_from_sec(10), pool),
                     APR_SUCCESS);
    apr_thread_join(&st, th);
    ck_assert_int_eq(pv_user_slots_held(ho.us, NULL, 5), 1);
}
END_TEST

typedef struct {
    pv_user_slots_t *us;
    apr_uint64_t user;
    volatile int *over; /* set if a thread saw its user over the bound */
    int got;
} user_race_t;

static void *APR_THREAD_FUNC user_worker(apr_thread_t *t, void *data)
{
    user_race_t *r = data;
    apr_pool_t *p;
    pv_user_hold_t *h;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < 50; i++) {
        if (pv_user_slots_acquire(&h, r->us, NULL, r->user, 2,
                                  apr_time_from_sec(10), p) == APR_SUCCESS) {
            if (pv_user_slots_held(r->us, NULL, r->user) > 2) {
                *r->over = 1;
            }
            apr_sleep(500);
            r->got++;
            pv_user_slots_release(h);
        }
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(user_threads_bounded)
{
    pv_user_slots_t *us;
    user_race_t r[9];
    apr_thread_t *th[9];
    volatile int over = 0;
    apr_status_t st;
    int i;

    ck_assert_int_eq(pv_user_slots_create(&us, pool), APR_SUCCESS);
    /* Three users, three threads each, a bound of 2 per user. */
    for (i = 0; i < 9; i++) {
        r[i].us = us;
        r[i].user = (apr_uint64_t)(i % 3);
        r[i].over = &over;
        r[i].got = 0;
        ck_assert_int_eq(
            apr_thread_create(&th[i], NULL, user_worker, &r[i], pool),
            APR_SUCCESS);
    }
    for (i = 0; i < 9; i++) {
        apr_thread_join(&st, th[i]);
    }
    ck_assert_int_eq(over, 0);
    for (i = 0; i < 9; i++) {
        ck_assert_int_eq(r[i].got, 50);
    }
    ck_assert_int_eq(pv_user_slots_users(us), 0);
}
END_TEST

Suite *pv_test_slots_suite(void)
{
    Suite *su = suite_create("slots");
    TCase *tc = tcase_create("slots");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, refuses_zero);
    tcase_add_test(tc, capacity_and_timeout);
    tcase_add_test(tc, released_with_owner_pool);
    tcase_add_test(tc, threads_bounded);
    tcase_add_test(tc, user_refuses_bad_args);
    tcase_add_test(tc, user_bound_is_per_user);
    tcase_add_test(tc, user_released_with_owner_pool);
    tcase_add_test(tc, user_waiter_woken);
    tcase_add_test(tc, user_threads_bounded);
    suite_add_tcase(su, tc);
    return su;
}
