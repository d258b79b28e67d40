/* pv_owner: the owner cache's keys and values, and every way a value read
 * back from a shared (possibly hostile) store is refused. */
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "pv_owner.h"

#define NOW    (APR_INT64_C(1700000000) * APR_USEC_PER_SEC)
#define MAXAGE apr_time_from_sec(60)

static apr_pool_t *ns_pool;

static const pv_owner_ns_t *ns_of(const char *secret)
{
    pv_owner_ns_t *ns = NULL;

    if (!ns_pool) {
        apr_pool_create(&ns_pool, NULL);
    }
    ck_assert_int_eq(pv_owner_ns(&ns, (const unsigned char *)secret,
                                 strlen(secret), ns_pool),
                     APR_SUCCESS);
    return ns;
}

START_TEST(keys_separate_users_images_generations_keys)
{
    const pv_owner_ns_t *a = ns_of("first secret of 32 bytes or more"),
                        *b = ns_of("second secret of 32 bytes or mor");
    unsigned char k[6][PV_OWNER_KEY_LEN];
    int i, j;

    pv_owner_entry_key(k[0], a, 5, 7, 1);
    pv_owner_entry_key(k[1], a, 7, 5, 1); /* user and image swapped */
    pv_owner_entry_key(k[2], a, 5, 7, 2); /* next generation */
    pv_owner_entry_key(k[3], b, 5, 7, 1); /* another signing key */
    pv_owner_gen_key(k[4], a, 5);
    pv_owner_gen_key(k[5], a, 6);
    for (i = 0; i < 6; i++) {
        for (j = i + 1; j < 6; j++) {
            ck_assert_int_ne(memcmp(k[i], k[j], PV_OWNER_KEY_LEN), 0);
        }
    }
}
END_TEST

START_TEST(answer_round_trip_and_refusals)
{
    apr_pool_t *p;
    const pv_owner_ns_t *ns = ns_of("first secret of 32 bytes or more"),
                        *other = ns_of("second secret of 32 bytes or mor");
    unsigned char key[PV_OWNER_KEY_LEN], key2[PV_OWNER_KEY_LEN];
    unsigned char buf[PV_OWNER_ENTRY_MAX], bad[PV_OWNER_ENTRY_MAX];
    pv_owner_answer_t a = {3, "alice/beach.jpg", 15, NOW + MAXAGE}, *out;
    apr_size_t len, i;

    apr_pool_create(&p, NULL);
    pv_owner_entry_key(key, ns, 5, 7, 1);
    pv_owner_entry_key(key2, ns, 6, 7, 1);
    ck_assert_int_eq(pv_owner_answer_encode(buf, &len, ns, key, &a),
                     APR_SUCCESS);
    ck_assert_int_eq(
        pv_owner_answer_decode(&out, ns, key, buf, len, NOW, MAXAGE, p),
        APR_SUCCESS);
    ck_assert_uint_eq(out->token_version, 3);
    ck_assert_str_eq(out->path, "alice/beach.jpg");
    ck_assert_uint_eq(out->path_len, 15);
    /* moved to another user's key, or read under another signing key */
    ck_assert_int_eq(
        pv_owner_answer_decode(&out, ns, key2, buf, len, NOW, MAXAGE, p),
        PV_OWNER_BAD);
    ck_assert_int_eq(
        pv_owner_answer_decode(&out, other, key, buf, len, NOW, MAXAGE, p),
        PV_OWNER_BAD);
    /* any byte changed, any length */
    for (i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 1;
        ck_assert_int_eq(
            pv_owner_answer_decode(&out, ns, key, bad, len, NOW, MAXAGE, p),
            PV_OWNER_BAD);
        ck_assert_int_eq(
            pv_owner_answer_decode(&out, ns, key, buf, i, NOW, MAXAGE, p),
            PV_OWNER_BAD);
    }
    /* expired, or claiming to live longer than the timeout */
    ck_assert_int_eq(pv_owner_answer_decode(&out, ns, key, buf, len,
                                            NOW + MAXAGE, MAXAGE, p),
                     PV_OWNER_BAD);
    ck_assert_int_eq(
        pv_owner_answer_decode(&out, ns, key, buf, len, NOW - 1, MAXAGE, p),
        PV_OWNER_BAD);
    /* no path: not this user's image */
    a.path = NULL;
    a.path_len = 0;
    ck_assert_int_eq(pv_owner_answer_encode(buf, &len, ns, key, &a),
                     APR_SUCCESS);
    ck_assert_int_eq(
        pv_owner_answer_decode(&out, ns, key, buf, len, NOW, MAXAGE, p),
        APR_SUCCESS);
    ck_assert_ptr_null(out->path);
    /* a path too long, or with a NUL, is not kept */
    a.path = "a\0b";
    a.path_len = 3;
    ck_assert_int_eq(pv_owner_answer_encode(buf, &len, ns, key, &a),
                     APR_EINVAL);
    a.path = (const char *)bad;
    memset(bad, 'x', sizeof(bad));
    a.path_len = PV_OWNER_PATH_MAX + 1;
    ck_assert_int_eq(pv_owner_answer_encode(buf, &len, ns, key, &a),
                     APR_EINVAL);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(generation_round_trip_and_refusals)
{
    const pv_owner_ns_t *ns = ns_of("first secret of 32 bytes or more");
    unsigned char key[PV_OWNER_KEY_LEN], buf[PV_OWNER_GEN_LEN];
    pv_owner_gen_t g, h, out;
    apr_size_t i;

    pv_owner_gen_key(key, ns, 5);
    ck_assert_int_eq(pv_owner_gen_new(&g, 4, NOW + MAXAGE), APR_SUCCESS);
    ck_assert_int_eq(pv_owner_gen_new(&h, 4, NOW + MAXAGE), APR_SUCCESS);
    ck_assert_uint_ne(g.gen, h.gen); /* random */
    pv_owner_gen_encode(buf, ns, key, &g);
    ck_assert_int_eq(
        pv_owner_gen_decode(&out, ns, key, buf, sizeof(buf), NOW, MAXAGE),
        APR_SUCCESS);
    ck_assert_uint_eq(out.gen, g.gen);
    ck_assert_uint_eq(out.min_version, 4);
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] ^= 0x80;
        ck_assert_int_eq(
            pv_owner_gen_decode(&out, ns, key, buf, sizeof(buf), NOW, MAXAGE),
            PV_OWNER_BAD);
        buf[i] ^= 0x80;
    }
    ck_assert_int_eq(
        pv_owner_gen_decode(&out, ns, key, buf, sizeof(buf) - 1, NOW, MAXAGE),
        PV_OWNER_BAD);
    ck_assert_int_eq(pv_owner_gen_decode(&out, ns, key, buf, sizeof(buf),
                                         NOW + MAXAGE, MAXAGE),
                     PV_OWNER_BAD);
}
END_TEST

Suite *pv_test_owner_suite(void)
{
    Suite *s = suite_create("owner");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, keys_separate_users_images_generations_keys);
    tcase_add_test(tc, answer_round_trip_and_refusals);
    tcase_add_test(tc, generation_round_trip_and_refusals);
    suite_add_tcase(s, tc);
    return s;
}
