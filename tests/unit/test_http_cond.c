/* pv_http_cond: If-None-Match lists against our ETag. Exact values. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>

#include "pv_http_cond.h"

#define ETAG "\"0123456789abcdef0123456789abcdef\""

START_TEST(none_match_matches)
{
    static const char *yes[] = {
        ETAG,
        "W/" ETAG, /* the weak comparison */
        "*",
        "  *",
        "\"x\", " ETAG,
        "\"x\"," ETAG ",\"y\"",
        "\t,," ETAG,
        "W/\"x\", W/" ETAG,
        "junk, " ETAG, /* not an entity-tag: skipped to the comma */
        "\"x\", *",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_assert_msg(pv_http_cond_none_match(yes[i], ETAG) == 1, "%s", yes[i]);
    }
}
END_TEST

START_TEST(none_match_misses)
{
    static const char *no[] = {
        "",
        " , ",
        "\"0123456789abcdef0123456789abcdee\"",
        "\"0123456789abcdef0123456789abcdef", /* unterminated */
        "0123456789abcdef0123456789abcdef",   /* unquoted */
        "\"0123456789abcdef0123456789abcde\"",
        "\"0123456789abcdef0123456789abcdef0\"",
        "w/" ETAG,    /* lowercase w: not the weak prefix */
        "junk " ETAG, /* no comma: the rest is skipped with it */
        "\"a\", \"b",
    };
    apr_size_t i;

    ck_assert_int_eq(pv_http_cond_none_match(NULL, ETAG), 0);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        ck_assert_msg(pv_http_cond_none_match(no[i], ETAG) == 0, "%s", no[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_cond");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    apr_initialize();
    atexit(apr_terminate);
    tcase_add_test(tc, none_match_matches);
    tcase_add_test(tc, none_match_misses);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
