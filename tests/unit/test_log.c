/* pv_log: what the callback gets (file and line of the caller, level,
 * status, the formatted text), the bound on a message, and silence without
 * a callback. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <apr_errno.h>

#include "pv_log.h"

static struct {
    int calls;
    void *baton;
    const char *file;
    int line;
    pv_log_level_e level;
    apr_status_t rv;
    char msg[2048];
} got;

static void capture(void *baton, const char *file, int line,
                    pv_log_level_e level, apr_status_t rv, const char *msg)
{
    got.calls++;
    got.baton = baton;
    got.file = file;
    got.line = line;
    got.level = level;
    got.rv = rv;
    snprintf(got.msg, sizeof(got.msg), "%s", msg);
}

static void setup(void)
{
    memset(&got, 0, sizeof(got));
}

static void teardown(void)
{
    pv_log_set(NULL, NULL);
}

START_TEST(callback_gets_mark_level_status_text)
{
    int baton, line;

    pv_log_set(capture, &baton);
    pv_log_(PV_LOG_MARK, PV_LOG_WARNING, APR_ENOENT, "%s %d", "seven", 7);
    line = __LINE__ - 1;
    ck_assert_int_eq(got.calls, 1);
    ck_assert_ptr_eq(got.baton, &baton);
    ck_assert_str_eq(got.file, __FILE__);
    ck_assert_int_eq(got.line, line);
    ck_assert_int_eq(got.level, PV_LOG_WARNING);
    ck_assert_int_eq(got.rv, APR_ENOENT);
    ck_assert_str_eq(got.msg, "seven 7");
}
END_TEST

START_TEST(tag_prefix)
{
    pv_log_set(capture, NULL);
    pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0, PVLOGNO(0000) "x");
    ck_assert_str_eq(got.msg, "PV0000: x");
    ck_assert_int_eq(got.rv, 0);
}
END_TEST

START_TEST(long_message_cut_at_1023_bytes)
{
    char big[1500];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pv_log_set(capture, NULL);
    pv_log_(PV_LOG_MARK, PV_LOG_ERR, 0, "%s", big);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_uint_eq(strlen(got.msg), 1023);
    ck_assert_int_eq(strspn(got.msg, "a"), 1023);
}
END_TEST

START_TEST(no_callback_no_call)
{
    pv_log_set(capture, NULL);
    pv_log_set(NULL, NULL);
    pv_log_(PV_LOG_MARK, PV_LOG_ERR, 0, "%s", "dropped");
    ck_assert_int_eq(got.calls, 0);
}
END_TEST

Suite *pv_test_log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, callback_gets_mark_level_status_text);
    tcase_add_test(tc, tag_prefix);
    tcase_add_test(tc, long_message_cut_at_1023_bytes);
    tcase_add_test(tc, no_callback_no_call);
    suite_add_tcase(s, tc);
    return s;
}
