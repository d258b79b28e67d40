/* pv_origin: canonical origins, and the login's cross-site verdict for
 * every combination of Origin and Sec-Fetch-Site. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_origin.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

static void canon(const char *text, const char *want)
{
    const char *out = NULL, *err = NULL;
    apr_status_t rv = pv_origin_parse(&out, &err, text, pool);

    ck_assert_msg(rv == APR_SUCCESS, "'%s' refused: %s", text, err ? err : "?");
    ck_assert_str_eq(out, want);
}

static void refused(const char *text, const char *why)
{
    const char *out = "untouched", *err = NULL;
    apr_status_t rv = pv_origin_parse(&out, &err, text, pool);

    ck_assert_msg(rv == APR_EINVAL, "'%s' accepted as %s", text, out);
    ck_assert_str_eq(out, "untouched");
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, why) != NULL, "'%s': '%s' lacks '%s'", text, err,
                  why);
}

START_TEST(parse_valid)
{
    canon("https://drive.example.com", "https://drive.example.com");
    canon("http://localhost:8529", "http://localhost:8529");
    /* case folded, default ports dropped */
    canon("HTTPS://Drive.Example.COM", "https://drive.example.com");
    canon("https://drive.example.com:443", "https://drive.example.com");
    canon("http://drive.example.com:80", "http://drive.example.com");
    /* another scheme's default is kept */
    canon("http://drive.example.com:443", "http://drive.example.com:443");
    canon("https://drive.example.com:80", "https://drive.example.com:80");
    canon("https://x:1", "https://x:1");
    canon("https://x:65535", "https://x:65535");
    /* addresses, app schemes (WebViews) */
    canon("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    canon("http://[::1]:8080", "http://[::1]:8080");
    canon("https://[2001:DB8::1]", "https://[2001:db8::1]");
    canon("capacitor://localhost", "capacitor://localhost");
    canon("app+x.y-z://my_host", "app+x.y-z://my_host");
}
END_TEST

START_TEST(parse_invalid)
{
    char big[PV_ORIGIN_MAX + 16];

    refused("null", "opaque");
    refused("", "scheme");
    refused("drive.example.com", "scheme");
    refused("://drive.example.com", "scheme");
    refused("1http://x", "scheme");
    refused("ht tp://x", "scheme");
    refused("https://", "host");
    refused("https://:443", "host");
    refused("https://[]", "host");
    refused("https://[::1", "host");
    refused("https://a%2eb", "path, query");
    refused("https://drive.example.com/", "trailing '/'");
    refused("https://drive.example.com/login", "path");
    refused("https://drive.example.com?x", "path");
    refused("https://drive.example.com#x", "path");
    refused("https://user@drive.example.com", "path");
    refused("https://drive.example.com ", "blank");
    refused(" https://drive.example.com", "scheme");
    refused("https://a, https://b", "path");
    refused("https://x:", "port");
    refused("https://x:0", "port");
    refused("https://x:0443", "port");
    refused("https://x:65536", "port");
    refused("https://x:123456", "port");
    refused("https://x:8o", "path");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "https://", 8);
    refused(big, "longer");
    /* a host name of 254 bytes: one more than DNS allows */
    big[8 + 254] = '\0';
    refused(big, "host");
    big[8 + 253] = '\0';
    canon(big, big);
}
END_TEST

START_TEST(make_self)
{
    const char *o = NULL;

    ck_assert_int_eq(
        pv_origin_make(&o, "https", "Drive.Example.com", 443, pool),
        APR_SUCCESS);
    ck_assert_str_eq(o, "https://drive.example.com");
    ck_assert_int_eq(pv_origin_make(&o, "http", "localhost", 8529, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(o, "http://localhost:8529");
    ck_assert_int_eq(pv_origin_make(&o, "http", "[::1]", 80, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(o, "http://[::1]");
    o = "untouched";
    ck_assert_int_eq(pv_origin_make(&o, "http", "", 80, pool), APR_EINVAL);
    ck_assert_int_eq(pv_origin_make(&o, "http", "a/b", 80, pool), APR_EINVAL);
    ck_assert_int_eq(pv_origin_make(&o, "http", "x", 0, pool), APR_EINVAL);
    ck_assert_int_eq(pv_origin_make(&o, NULL, "x", 80, pool), APR_EINVAL);
    ck_assert_int_eq(pv_origin_make(&o, "http", NULL, 80, pool), APR_EINVAL);
    ck_assert_str_eq(o, "untouched");
}
END_TEST

static const char *const listed[] = {"https://app.example.net",
                                     "http://localhost:3000"};

/* Against the request's own origin https://drive.example.com and listed. */
static const struct {
    const char *origin, *site;
    pv_origin_verdict_e want;
} verdicts[] = {
    {"https://drive.example.com", NULL, PV_ORIGIN_SAME},
    {"https://drive.example.com:443", NULL, PV_ORIGIN_SAME},
    {"HTTPS://DRIVE.example.com", NULL, PV_ORIGIN_SAME},
    /* another site, another scheme, another port: all cross */
    {"https://evil.example", NULL, PV_ORIGIN_CROSS},
    {"http://drive.example.com", NULL, PV_ORIGIN_CROSS},
    {"https://drive.example.com:8443", NULL, PV_ORIGIN_CROSS},
    {"https://drive.example.com.evil.example", NULL, PV_ORIGIN_CROSS},
    {"https://sub.drive.example.com", NULL, PV_ORIGIN_CROSS},
    /* listed */
    {"https://app.example.net", NULL, PV_ORIGIN_LISTED},
    {"https://app.example.net:443", NULL, PV_ORIGIN_LISTED},
    {"http://localhost:3000", NULL, PV_ORIGIN_LISTED},
    {"http://localhost:3001", NULL, PV_ORIGIN_CROSS},
    /* opaque, malformed, two merged: cross */
    {"null", NULL, PV_ORIGIN_CROSS},
    {"", NULL, PV_ORIGIN_CROSS},
    {"https://drive.example.com/", NULL, PV_ORIGIN_CROSS},
    {"https://drive.example.com, https://evil.example", NULL, PV_ORIGIN_CROSS},
    /* Origin decides when present, whatever Sec-Fetch-Site says */
    {"https://drive.example.com", "cross-site", PV_ORIGIN_SAME},
    {"https://evil.example", "same-origin", PV_ORIGIN_CROSS},
    {"https://app.example.net", "cross-site", PV_ORIGIN_LISTED},
    /* no Origin: only Sec-Fetch-Site: cross-site is refused */
    {NULL, NULL, PV_ORIGIN_NO_HEADER},
    {NULL, "cross-site", PV_ORIGIN_CROSS},
    {NULL, "Cross-Site", PV_ORIGIN_CROSS},
    {NULL, " cross-site\t", PV_ORIGIN_CROSS},
    {NULL, "same-origin", PV_ORIGIN_NO_HEADER},
    {NULL, "same-site", PV_ORIGIN_NO_HEADER},
    {NULL, "none", PV_ORIGIN_NO_HEADER},
    {NULL, "cross-sites", PV_ORIGIN_NO_HEADER},
    {NULL, "", PV_ORIGIN_NO_HEADER},
};

START_TEST(verdict)
{
    apr_size_t i;

    for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
        pv_origin_verdict_e got =
            pv_origin_check(verdicts[i].origin, verdicts[i].site,
                            "https://drive.example.com", listed, 2, pool);

        ck_assert_msg(got == verdicts[i].want,
                      "Origin %s, Sec-Fetch-Site %s: %d, want %d",
                      verdicts[i].origin ? verdicts[i].origin : "(none)",
                      verdicts[i].site ? verdicts[i].site : "(none)", got,
                      verdicts[i].want);
    }
}
END_TEST

START_TEST(verdict_without_self_or_list)
{
    /* a request without an origin of its own matches only the list */
    ck_assert_int_eq(pv_origin_check("https://drive.example.com", NULL, NULL,
                                     listed, 2, pool),
                     PV_ORIGIN_CROSS);
    ck_assert_int_eq(
        pv_origin_check("https://app.example.net", NULL, NULL, listed, 2, pool),
        PV_ORIGIN_LISTED);
    /* no list: only the request's own */
    ck_assert_int_eq(pv_origin_check("https://app.example.net", NULL,
                                     "https://drive.example.com", NULL, 0,
                                     pool),
                     PV_ORIGIN_CROSS);
}
END_TEST

Suite *pv_test_origin_suite(void)
{
    Suite *s = suite_create("origin");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, parse_valid);
    tcase_add_test(tc, parse_invalid);
    tcase_add_test(tc, make_self);
    tcase_add_test(tc, verdict);
    tcase_add_test(tc, verdict_without_self_or_list);
    suite_add_tcase(s, tc);
    return s;
}
