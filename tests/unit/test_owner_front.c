/* pv_owner_front: the per-process front of the owner cache (keys kept
 * apart, expiry, drop, the path copied out, its bound) and the logout
 * epochs. */
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "pv_owner_front.h"

#define NOW (APR_INT64_C(1700000000) * APR_USEC_PER_SEC)

static apr_pool_t *pool;
static pv_owner_front_t *front;
static const int ns_a = 1, ns_b = 2;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(pv_owner_front_create(&front, pool), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static pv_owner_front_entry_t entry(const void *ns, apr_uint64_t user,
                                    apr_uint64_t image, const char *path)
{
    pv_owner_front_entry_t e;

    memset(&e, 0, sizeof(e));
    e.ns = ns;
    e.user = user;
    e.image = image;
    e.gen_raw[0] = 0x5a;
    e.epoch = 9;
    e.min_version = 2;
    e.token_version = 3;
    e.path = path;
    e.path_len = path ? strlen(path) : 0;
    e.expires = NOW + apr_time_from_sec(60);
    return e;
}

START_TEST(kept_and_read_back)
{
    pv_owner_front_entry_t e = entry(&ns_a, 5, 7, "alice/beach.jpg"), out;
    char path[] = "alice/beach.jpg";

    e.path = path;
    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
    /* The front keeps its own copy: the caller's buffer may go. */
    memset(path, 'x', sizeof(path) - 1);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 5, 7, NOW, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(out.path, "alice/beach.jpg");
    ck_assert_uint_eq(out.path_len, 15);
    ck_assert_uint_eq(out.token_version, 3);
    ck_assert_uint_eq(out.min_version, 2);
    ck_assert_uint_eq(out.epoch, 9);
    ck_assert_uint_eq(out.gen_raw[0], 0x5a);
}
END_TEST

START_TEST(keys_kept_apart)
{
    pv_owner_front_entry_t e = entry(&ns_a, 5, 7, "a.jpg"), out;

    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_b, 5, 7, NOW, pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 7, 5, NOW, pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 5, 8, NOW, pool),
                     APR_NOTFOUND);
}
END_TEST

START_TEST(missing_image_kept_without_path)
{
    pv_owner_front_entry_t e = entry(&ns_a, 5, 8, NULL), out;

    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 5, 8, NOW, pool),
                     APR_SUCCESS);
    ck_assert_ptr_null(out.path);
}
END_TEST

START_TEST(expiry_and_drop)
{
    pv_owner_front_entry_t e = entry(&ns_a, 5, 7, "a.jpg"), out;

    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
    ck_assert_int_eq(
        pv_owner_front_get(&out, front, &ns_a, 5, 7, e.expires, pool),
        APR_NOTFOUND);
    ck_assert_int_eq(
        pv_owner_front_get(&out, front, &ns_a, 5, 7, e.expires - 1, pool),
        APR_SUCCESS);
    pv_owner_front_drop(front, &ns_a, 5, 7);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 5, 7, NOW, pool),
                     APR_NOTFOUND);
}
END_TEST

START_TEST(path_bound)
{
    static char longest[PV_OWNER_PATH_MAX + 2];
    pv_owner_front_entry_t e, out;

    memset(longest, 'p', PV_OWNER_PATH_MAX + 1);
    e = entry(&ns_a, 5, 7, longest);
    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_EINVAL);
    e.path_len = PV_OWNER_PATH_MAX;
    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
    ck_assert_int_eq(pv_owner_front_get(&out, front, &ns_a, 5, 7, NOW, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(out.path), PV_OWNER_PATH_MAX);
    e = entry(&ns_a, 5, 7, "a\0b");
    e.path_len = 3;
    ck_assert_int_eq(pv_owner_front_put(front, &e), APR_EINVAL);
}
END_TEST

START_TEST(a_slot_holds_the_last)
{
    pv_owner_front_entry_t e, out;
    apr_uint64_t image;
    int kept = 0;

    /* More entries than slots: the table stays bounded, the last one put
     * is always there. */
    for (image = 1; image <= 3 * PV_OWNER_FRONT_SLOTS; image++) {
        e = entry(&ns_a, 5, image, "a.jpg");
        ck_assert_int_eq(pv_owner_front_put(front, &e), APR_SUCCESS);
        ck_assert_int_eq(
            pv_owner_front_get(&out, front, &ns_a, 5, image, NOW, pool),
            APR_SUCCESS);
    }
    for (image = 1; image <= 3 * PV_OWNER_FRONT_SLOTS; image++) {
        kept += pv_owner_front_get(&out, front, &ns_a, 5, image, NOW, pool) ==
                APR_SUCCESS;
    }
    ck_assert_int_le(kept, PV_OWNER_FRONT_SLOTS);
}
END_TEST

START_TEST(epochs_move_per_user)
{
    static apr_uint32_t epochs[PV_OWNER_EPOCHS];
    apr_uint32_t a = pv_owner_epoch_read(epochs, 5),
                 b = pv_owner_epoch_read(epochs, 6);

    pv_owner_epoch_bump(epochs, 5);
    ck_assert_uint_eq(pv_owner_epoch_read(epochs, 5), a + 1);
    ck_assert_uint_eq(pv_owner_epoch_read(epochs, 6), b);
    /* Users that share a counter only read their generation again. */
    ck_assert_uint_eq(pv_owner_epoch_read(epochs, 5 + PV_OWNER_EPOCHS), a + 1);
}
END_TEST

Suite *pv_test_owner_front_suite(void)
{
    Suite *s = suite_create("owner_front");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, kept_and_read_back);
    tcase_add_test(tc, keys_kept_apart);
    tcase_add_test(tc, missing_image_kept_without_path);
    tcase_add_test(tc, expiry_and_drop);
    tcase_add_test(tc, path_bound);
    tcase_add_test(tc, a_slot_holds_the_last);
    tcase_add_test(tc, epochs_move_per_user);
    suite_add_tcase(s, tc);
    return s;
}
