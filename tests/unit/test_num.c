/* pv_num: the strict decimal parser, with exact values at each bound. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>

#include "pv_num.h"

static apr_status_t num(apr_uint64_t *v, const char *s, apr_uint64_t max,
                        int flags)
{
    return pv_num_parse(v, s, strlen(s), max, flags);
}

START_TEST(valid)
{
    apr_uint64_t v = 0;

    ck_assert_int_eq(num(&v, "0", 10, 0), APR_SUCCESS);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(num(&v, "10", 10, 0), APR_SUCCESS);
    ck_assert_uint_eq(v, 10);
    ck_assert_int_eq(num(&v, "007", 10, 0), APR_SUCCESS);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(num(&v, "18446744073709551615", APR_UINT64_MAX, 0),
                     APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_MAX);
    ck_assert_int_eq(num(&v, "9223372036854775807", APR_INT64_MAX, 0),
                     APR_SUCCESS);
    ck_assert_uint_eq(v, APR_INT64_MAX);
    /* only len bytes are read */
    ck_assert_int_eq(pv_num_parse(&v, "42x", 2, 100, 0), APR_SUCCESS);
    ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(syntax)
{
    static const char *bad[] = {"",   "-1",  "+1",  " 1", "1 ",
                                "1a", "0x1", "1.0", "١",  "1\n"};
    apr_uint64_t v = 99;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(num(&v, bad[i], APR_UINT64_MAX, 0), APR_EINVAL);
        ck_assert_uint_eq(v, 99);
    }
    ck_assert_int_eq(pv_num_parse(&v, NULL, 0, 10, 0), APR_EINVAL);
    /* a byte after the digits is a syntax error even past max */
    ck_assert_int_eq(num(&v, "99999999999999999999999x", 10, 0), APR_EINVAL);
    ck_assert_uint_eq(v, 99);
}
END_TEST

START_TEST(range)
{
    apr_uint64_t v = 99;

    ck_assert_int_eq(num(&v, "11", 10, 0), APR_ERANGE);
    ck_assert_int_eq(num(&v, "1", 0, 0), APR_ERANGE);
    ck_assert_int_eq(num(&v, "18446744073709551616", APR_UINT64_MAX, 0),
                     APR_ERANGE);
    ck_assert_int_eq(num(&v, "9223372036854775808", APR_INT64_MAX, 0),
                     APR_ERANGE);
    ck_assert_int_eq(num(&v, "184467440737095516150", APR_UINT64_MAX, 0),
                     APR_ERANGE);
    ck_assert_int_eq(num(&v, "65536", 65535, 0), APR_ERANGE);
    ck_assert_uint_eq(v, 99);
    ck_assert_int_eq(num(&v, "65535", 65535, 0), APR_SUCCESS);
    ck_assert_uint_eq(v, 65535);
}
END_TEST

START_TEST(canonical)
{
    apr_uint64_t v = 99;

    ck_assert_int_eq(num(&v, "07", 100, PV_NUM_CANONICAL), APR_EINVAL);
    ck_assert_int_eq(num(&v, "0", 100, PV_NUM_CANONICAL), APR_EINVAL);
    ck_assert_int_eq(num(&v, "00", 100, PV_NUM_CANONICAL | PV_NUM_ZERO_OK),
                     APR_EINVAL);
    ck_assert_uint_eq(v, 99);
    ck_assert_int_eq(num(&v, "0", 100, PV_NUM_CANONICAL | PV_NUM_ZERO_OK),
                     APR_SUCCESS);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(num(&v, "70", 100, PV_NUM_CANONICAL), APR_SUCCESS);
    ck_assert_uint_eq(v, 70);
}
END_TEST

static apr_status_t scaled(apr_uint64_t *v, const char *s, apr_uint64_t unit)
{
    return pv_num_parse_scaled(v, s, unit, APR_INT64_MAX);
}

START_TEST(scaled_values)
{
    apr_uint64_t v = 0;

    ck_assert_int_eq(scaled(&v, "64", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, 64);
    ck_assert_int_eq(scaled(&v, "64k", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(scaled(&v, "256M", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_C(268435456));
    ck_assert_int_eq(scaled(&v, "1g", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_C(1073741824));
    ck_assert_int_eq(scaled(&v, "2T", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_C(2199023255552));
    ck_assert_int_eq(scaled(&v, "100M", 1000), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_C(100000000));
    ck_assert_int_eq(scaled(&v, "007K", 1000), APR_SUCCESS);
    ck_assert_uint_eq(v, 7000);
    /* the largest that fits, scaled */
    ck_assert_int_eq(scaled(&v, "8388607T", 1024), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_UINT64_C(8388607) << 40);
}
END_TEST

START_TEST(scaled_refused)
{
    static const char *bad[] = {"",   "K",  "-1",   "1KB", "1 K",
                                "1X", " 1", "1.5G", "1k2"};
    apr_uint64_t v = 99;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(scaled(&v, bad[i], 1024), APR_EINVAL);
    }
    /* without a unit no suffix is one */
    ck_assert_int_eq(scaled(&v, "1K", 0), APR_EINVAL);
    ck_assert_uint_eq(v, 99);
    /* over the bound, as digits or once scaled; digits first */
    ck_assert_int_eq(scaled(&v, "8388608T", 1024), APR_ERANGE);
    ck_assert_int_eq(scaled(&v, "9223372036854775808", 0), APR_ERANGE);
    ck_assert_int_eq(scaled(&v, "99999999999999999999X", 1024), APR_ERANGE);
    ck_assert_int_eq(pv_num_parse_scaled(&v, "2K", 1000, 1999), APR_ERANGE);
    ck_assert_uint_eq(v, 99);
    ck_assert_int_eq(scaled(&v, "9223372036854775807", 0), APR_SUCCESS);
    ck_assert_uint_eq(v, APR_INT64_MAX);
}
END_TEST

Suite *pv_test_num_suite(void)
{
    Suite *s = suite_create("num");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, valid);
    tcase_add_test(tc, syntax);
    tcase_add_test(tc, range);
    tcase_add_test(tc, canonical);
    tcase_add_test(tc, scaled_values);
    tcase_add_test(tc, scaled_refused);
    suite_add_tcase(s, tc);
    return s;
}
