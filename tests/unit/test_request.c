/* pv_request: image id, query parameters, size box, format negotiation,
 * Bearer and cookie extraction; a preview's token pairs (pv_request_token)
 * and If-None-Match (pv_http_cond). Every rule with exact values. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_http_cond.h"
#include "pv_request.h"
#include "pv_request_token.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Image id */

static apr_status_t id_of(apr_uint64_t *id, const char *s)
{
    return pv_request_parse_id(id, s, strlen(s));
}

START_TEST(id_valid)
{
    apr_uint64_t id = 0;

    ck_assert_int_eq(id_of(&id, "7"), APR_SUCCESS);
    ck_assert_uint_eq(id, 7);
    ck_assert_int_eq(id_of(&id, "0"), APR_SUCCESS);
    ck_assert_uint_eq(id, 0);
    ck_assert_int_eq(id_of(&id, "1234567890"), APR_SUCCESS);
    ck_assert_uint_eq(id, 1234567890);
    ck_assert_int_eq(id_of(&id, "18446744073709551615"), APR_SUCCESS);
    ck_assert_uint_eq(id, APR_UINT64_MAX);
    ck_assert_int_eq(id_of(&id, "18446744073709551609"), APR_SUCCESS);
    ck_assert_uint_eq(id, APR_UINT64_C(18446744073709551609));
    ck_assert_int_eq(id_of(&id, "9999999999999999999"), APR_SUCCESS);
    ck_assert_uint_eq(id, APR_UINT64_C(9999999999999999999));
    /* leading zeros: still digits, still at most 20 of them */
    ck_assert_int_eq(id_of(&id, "007"), APR_SUCCESS);
    ck_assert_uint_eq(id, 7);
    ck_assert_int_eq(id_of(&id, "00000000000000000042"), APR_SUCCESS);
    ck_assert_uint_eq(id, 42);
}
END_TEST

START_TEST(id_invalid)
{
    static const char *bad[] = {
        "",
        "18446744073709551616", /* 2^64 */
        "18446744073709551620",
        "99999999999999999999",
        "000000000000000000001", /* 21 digits */
        "+7",
        "-7",
        " 7",
        "7 ",
        "7a",
        "a7",
        "0x10",
        "1e3",
        "7.0",
        "7/",
        "%37",
        "\xd9\xa7", /* Arabic-Indic seven */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_uint64_t id = 12345;

        ck_assert_msg(id_of(&id, bad[i]) == APR_EINVAL, "accepted '%s'",
                      bad[i]);
        ck_assert_uint_eq(id, 12345); /* untouched */
    }
    /* an embedded NUL: the length counts, not strlen */
    {
        apr_uint64_t id = 1;
        ck_assert_int_eq(pv_request_parse_id(&id,
                                             "7\0"
                                             "8",
                                             3),
                         APR_EINVAL);
        ck_assert_int_eq(pv_request_parse_id(&id, NULL, 0), APR_EINVAL);
    }
}
END_TEST

START_TEST(id_from_path)
{
    apr_uint64_t id = 0;

    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/7", "/preview"),
                     APR_SUCCESS);
    ck_assert_uint_eq(id, 7);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/8", "/preview/"),
                     APR_SUCCESS);
    ck_assert_uint_eq(id, 8);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/9", "/"), APR_SUCCESS);
    ck_assert_uint_eq(id, 9);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/a/b/10", NULL),
                     APR_SUCCESS);
    ck_assert_uint_eq(id, 10);
    ck_assert_int_eq(pv_request_id_from_path(&id, "11", NULL), APR_SUCCESS);
    ck_assert_uint_eq(id, 11);

    id = 99;
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/7/", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview7", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview//7", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/a/7", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/other/7", "/preview"),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/7.jpg", NULL),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, "/preview/7/", NULL),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_id_from_path(&id, NULL, NULL), APR_EINVAL);
    ck_assert_uint_eq(id, 99);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Query */

static pv_request_query_t *query_ok(const char *args)
{
    pv_request_query_t *q = NULL;
    const char *err = NULL;
    apr_status_t rv = pv_request_parse_query(&q, &err, args, pool);

    ck_assert_msg(rv == APR_SUCCESS, "'%s' refused naming %s", args,
                  err ? err : "(null)");
    ck_assert_ptr_nonnull(q);
    return q;
}

static const char *query_err(const char *args)
{
    pv_request_query_t *q = NULL;
    const char *err = NULL;
    apr_status_t rv = pv_request_parse_query(&q, &err, args, pool);

    ck_assert_msg(rv == APR_EINVAL, "'%s' accepted", args);
    ck_assert_ptr_null(q); /* *pout untouched on error */
    ck_assert_ptr_nonnull(err);
    return err;
}

START_TEST(query_defaults)
{
    pv_request_query_t *q;

    q = query_ok(NULL);
    ck_assert_int_eq(q->w, 0);
    ck_assert_int_eq(q->h, 0);
    ck_assert_int_eq(q->fit, PV_FIT_INSIDE);
    ck_assert_int_eq(q->format, PV_REQ_FMT_AUTO);
    ck_assert_int_eq(q->quality, 0);
    ck_assert_ptr_null(q->token);
    ck_assert_ptr_null(q->access_token);
    q = query_ok("");
    ck_assert_int_eq(q->w, 0);
    q = query_ok("&&&");
    ck_assert_int_eq(q->w, 0);
}
END_TEST

START_TEST(query_all)
{
    pv_request_query_t *q;

    q = query_ok("w=256&h=128&fit=cover&format=webp&q=75&token=t.o.k&"
                 "access_token=a.t");
    ck_assert_int_eq(q->w, 256);
    ck_assert_int_eq(q->h, 128);
    ck_assert_int_eq(q->fit, PV_FIT_COVER);
    ck_assert_int_eq(q->format, PV_FORMAT_BIT(PV_FORMAT_WEBP));
    ck_assert_int_eq(q->quality, 75);
    ck_assert_str_eq(q->token, "t.o.k");
    ck_assert_uint_eq(q->token_len, 5);
    ck_assert_str_eq(q->access_token, "a.t");
    ck_assert_uint_eq(q->access_token_len, 3);

    q = query_ok("fit=inside&format=auto");
    ck_assert_int_eq(q->fit, PV_FIT_INSIDE);
    ck_assert_int_eq(q->format, PV_REQ_FMT_AUTO);
    ck_assert_int_eq(query_ok("format=jpeg")->format,
                     PV_FORMAT_BIT(PV_FORMAT_JPEG));
    ck_assert_int_eq(query_ok("format=avif")->format,
                     PV_FORMAT_BIT(PV_FORMAT_AVIF));
    ck_assert_int_eq(query_ok("format=png")->format,
                     PV_FORMAT_BIT(PV_FORMAT_PNG));
    /* the bits are the image core's enum, shifted */
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_JPEG), 1);
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_WEBP), 2);
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_AVIF), 4);
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_PNG), 8);
}
END_TEST

START_TEST(query_numbers)
{
    ck_assert_int_eq(query_ok("w=1")->w, 1);
    ck_assert_int_eq(query_ok("w=100000")->w, PV_REQUEST_MAX_SIDE);
    ck_assert_int_eq(query_ok("h=99999")->h, 99999);
    ck_assert_int_eq(query_ok("q=1")->quality, 1);
    ck_assert_int_eq(query_ok("q=100")->quality, 100);
    /* %-encoded digits are digits */
    ck_assert_int_eq(query_ok("w=%32%35%36")->w, 256);

    ck_assert_str_eq(query_err("w=0"), "w");
    ck_assert_str_eq(query_err("w=100001"), "w");
    ck_assert_str_eq(query_err("w=007"), "w");
    ck_assert_str_eq(query_err("w=+7"), "w");
    ck_assert_str_eq(query_err("w=-7"), "w");
    ck_assert_str_eq(query_err("w=7px"), "w");
    ck_assert_str_eq(query_err("w=7.0"), "w");
    ck_assert_str_eq(query_err("w= 7"), "w");
    ck_assert_str_eq(query_err("w=+"), "w"); /* '+' is a space */
    ck_assert_str_eq(query_err("w=0x10"), "w");
    ck_assert_str_eq(query_err("w=1e3"), "w");
    ck_assert_str_eq(query_err("w="), "w");
    ck_assert_str_eq(query_err("w"), "w");
    ck_assert_str_eq(query_err("w=%"), "w");
    ck_assert_str_eq(query_err("w=%3"), "w");
    ck_assert_str_eq(query_err("w=%zz"), "w");
    ck_assert_str_eq(query_err("w=256%00"), "w");
    ck_assert_str_eq(query_err("w=99999999999999999999999999"), "w");
    ck_assert_str_eq(query_err("w=2147483648"), "w");
    ck_assert_str_eq(query_err("w=4294967552"), "w"); /* 2^32 + 256 */
    ck_assert_str_eq(query_err("h=0"), "h");
    ck_assert_str_eq(query_err("h=100001"), "h");
    ck_assert_str_eq(query_err("h=abc"), "h");
    ck_assert_str_eq(query_err("h="), "h");
    ck_assert_str_eq(query_err("q=0"), "q");
    ck_assert_str_eq(query_err("q=101"), "q");
    ck_assert_str_eq(query_err("q=050"), "q");
    ck_assert_str_eq(query_err("q=high"), "q");
    ck_assert_str_eq(query_err("q="), "q");
}
END_TEST

START_TEST(query_words)
{
    ck_assert_str_eq(query_err("fit=Cover"), "fit");
    ck_assert_str_eq(query_err("fit=fill"), "fit");
    ck_assert_str_eq(query_err("fit="), "fit");
    ck_assert_str_eq(query_err("fit"), "fit");
    ck_assert_str_eq(query_err("fit=cover "), "fit");
    ck_assert_str_eq(query_err("fit=cove"), "fit");
    ck_assert_str_eq(query_err("fit=coverx"), "fit");
    ck_assert_int_eq(query_ok("fit=%63over")->fit, PV_FIT_COVER);
    ck_assert_str_eq(query_err("format=jpg"), "format");
    ck_assert_str_eq(query_err("format=JPEG"), "format");
    ck_assert_str_eq(query_err("format=gif"), "format");
    ck_assert_str_eq(query_err("format="), "format");
    ck_assert_str_eq(query_err("format"), "format");
    ck_assert_str_eq(query_err("format=png%00"), "format");
}
END_TEST

START_TEST(query_duplicates)
{
    ck_assert_str_eq(query_err("w=1&w=1"), "w");
    ck_assert_str_eq(query_err("w=1&h=2&w=3"), "w");
    ck_assert_str_eq(query_err("h=1&h=2"), "h");
    ck_assert_str_eq(query_err("fit=cover&fit=cover"), "fit");
    ck_assert_str_eq(query_err("format=png&format=jpeg"), "format");
    ck_assert_str_eq(query_err("q=1&q=2"), "q");
    /* %-encoded name is the same parameter */
    ck_assert_str_eq(query_err("w=1&%77=2"), "w");
    /* the first bad one is named */
    ck_assert_str_eq(query_err("h=x&w=x"), "h");
    ck_assert_str_eq(query_err("w=1&q=0&w=2"), "q");
}
END_TEST

START_TEST(query_tokens)
{
    pv_request_query_t *q;

    /* first non-empty occurrence wins */
    q = query_ok("token=first&token=second");
    ck_assert_str_eq(q->token, "first");
    q = query_ok("token=&token=second");
    ck_assert_str_eq(q->token, "second");
    q = query_ok("token&token=second");
    ck_assert_str_eq(q->token, "second");
    q = query_ok("token=");
    ck_assert_ptr_null(q->token);
    ck_assert_uint_eq(q->token_len, 0);
    q = query_ok("access_token=a&access_token=b");
    ck_assert_str_eq(q->access_token, "a");
    ck_assert_ptr_null(q->token);
    /* percent-decoded, '+' is a space */
    q = query_ok("token=a%2Eb%2ec+d");
    ck_assert_str_eq(q->token, "a.b.c d");
    ck_assert_uint_eq(q->token_len, 7);
    /* a decoded NUL: the length tells */
    q = query_ok("token=ab%00cd");
    ck_assert_uint_eq(q->token_len, 5);
    ck_assert_int_eq(memcmp(q->token, "ab\0cd", 6), 0);
    /* a bad escape: kept raw, refused later by the verifier (401) */
    q = query_ok("token=abc%zz");
    ck_assert_str_eq(q->token, "abc%zz");
    ck_assert_uint_eq(q->token_len, 6);
    q = query_ok("token=abc%4");
    ck_assert_str_eq(q->token, "abc%4");
    /* '=' inside the value belongs to it; ';' does not separate */
    q = query_ok("token=a=b;w=1");
    ck_assert_str_eq(q->token, "a=b;w=1");
    ck_assert_int_eq(q->w, 0);
    /* names are case-sensitive, exact */
    q = query_ok("TOKEN=x&Token=y&xtoken=z&token_=w&access_token2=v");
    ck_assert_ptr_null(q->token);
    ck_assert_ptr_null(q->access_token);
    /* %-encoded names count */
    q = query_ok("%74oken=x&access%5Ftoken=y");
    ck_assert_str_eq(q->token, "x");
    ck_assert_str_eq(q->access_token, "y");
    /* the query ends at '#' */
    q = query_ok("token=abc#def&w=x");
    ck_assert_str_eq(q->token, "abc");
    ck_assert_int_eq(q->w, 0);
}
END_TEST

START_TEST(query_unknown_ignored)
{
    pv_request_query_t *q;

    q = query_ok("v=3&w=64&_=1700000000&x=%zz&y&=&=5&W=abc&%zz=1&fit2=x");
    ck_assert_int_eq(q->w, 64);
    ck_assert_int_eq(q->h, 0);
    ck_assert_int_eq(q->fit, PV_FIT_INSIDE);
    /* ';' is not a separator: "w=64;h=32" is w's value, and bad */
    ck_assert_str_eq(query_err("w=64;h=32"), "w");
    /* '+' in a name makes another name */
    q = query_ok("w+=abc");
    ck_assert_int_eq(q->w, 0);
}
END_TEST

START_TEST(query_huge)
{
    /* 200 000 unknown parameters, then one of ours */
    apr_size_t n = 200000, i;
    char *in = apr_palloc(pool, n * 4 + 16);
    pv_request_query_t *q;

    for (i = 0; i < n; i++) {
        memcpy(in + i * 4, "v=1&", 4);
    }
    strcpy(in + n * 4, "w=512");
    q = query_ok(in);
    ck_assert_int_eq(q->w, 512);
    /* one huge unknown name and value */
    in = apr_palloc(pool, 2000020);
    memset(in, 'n', 1000000);
    in[1000000] = '=';
    memset(in + 1000001, 'v', 1000000);
    strcpy(in + 2000001, "&h=64");
    q = query_ok(in);
    ck_assert_int_eq(q->h, 64);
    /* a huge w */
    in = apr_palloc(pool, 1000010);
    memcpy(in, "w=", 2);
    memset(in + 2, '9', 1000000);
    in[1000002] = '\0';
    ck_assert_str_eq(query_err(in), "w");
}
END_TEST

START_TEST(unescape)
{
    const char *out;
    apr_size_t len;

    ck_assert_int_eq(pv_request_unescape(&out, &len, "a%41+%7e", 8, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "aA ~");
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(pv_request_unescape(&out, &len, "", 0, pool), APR_SUCCESS);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(len, 0);
    out = "keep";
    ck_assert_int_eq(pv_request_unescape(&out, &len, "%", 1, pool), APR_EINVAL);
    ck_assert_int_eq(pv_request_unescape(&out, &len, "%4", 2, pool),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_unescape(&out, &len, "%g0", 3, pool),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_unescape(&out, &len, "%0g", 3, pool),
                     APR_EINVAL);
    /* the length bounds the escape: "%41" cut to "%4" */
    ck_assert_int_eq(pv_request_unescape(&out, &len, "%41", 2, pool),
                     APR_EINVAL);
    ck_assert_str_eq(out, "keep");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Size box */

static const int sizes[] = {64, 128, 256, 512, 1024, 2048};

static void box(int w, int h, int want_w, int want_h)
{
    int bw = -1, bh = -1;

    pv_request_resolve_size(&bw, &bh, w, h, sizes, 6, 256);
    ck_assert_msg(bw == want_w && bh == want_h, "w=%d h=%d: %dx%d, want %dx%d",
                  w, h, bw, bh, want_w, want_h);
}

START_TEST(size_resolution)
{
    box(0, 0, 256, 256);
    box(1, 0, 64, 0);
    box(64, 0, 64, 0);
    box(65, 0, 128, 0);
    box(200, 0, 256, 0);
    box(256, 0, 256, 0);
    box(257, 0, 512, 0);
    box(2048, 0, 2048, 0);
    box(2049, 0, 2048, 0); /* clamped to the largest */
    box(PV_REQUEST_MAX_SIDE, 0, 2048, 0);
    box(0, 100, 0, 128);
    box(0, 5000, 0, 2048);
    box(100, 300, 128, 512);
    box(3000, 1, 2048, 64);
}
END_TEST

START_TEST(size_config_variants)
{
    static const int unsorted[] = {512, 64, 256};
    static const int one[] = {300};
    int bw, bh;

    /* any order works */
    pv_request_resolve_size(&bw, &bh, 100, 600, unsorted, 3, 256);
    ck_assert_int_eq(bw, 256);
    ck_assert_int_eq(bh, 512);
    pv_request_resolve_size(&bw, &bh, 10, 0, unsorted, 3, 256);
    ck_assert_int_eq(bw, 64);
    ck_assert_int_eq(bh, 0);
    /* a single entry: everything goes to it */
    pv_request_resolve_size(&bw, &bh, 1, 9999, one, 1, 300);
    ck_assert_int_eq(bw, 300);
    ck_assert_int_eq(bh, 300);
    /* the default size is used as is */
    pv_request_resolve_size(&bw, &bh, 0, 0, sizes, 6, 100);
    ck_assert_int_eq(bw, 100);
    ck_assert_int_eq(bh, 100);
    /* no default given: 256 */
    pv_request_resolve_size(&bw, &bh, 0, 0, sizes, 6, 0);
    ck_assert_int_eq(bw, 256);
    ck_assert_int_eq(bh, 256);
    /* no sizes: sides kept */
    pv_request_resolve_size(&bw, &bh, 333, 0, NULL, 0, 256);
    ck_assert_int_eq(bw, 333);
    ck_assert_int_eq(bh, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Quality snapping (PreviewQualities) */

static void snap(const int *qs, int n, int q, int want)
{
    int got = pv_request_snap_quality(q, qs, n);

    ck_assert_msg(got == want, "q=%d: %d, want %d", q, got, want);
}

START_TEST(quality_snapping)
{
    static const int def[] = {80};
    static const int three[] = {40, 60, 90};
    static const int unsorted[] = {90, 40, 60};
    static const int ends[] = {1, 100};
    int q, n80 = 0;

    /* the default list: every q 1..100 is 80, so one variant */
    for (q = 1; q <= 100; q++) {
        n80 += pv_request_snap_quality(q, def, 1) == 80;
    }
    ck_assert_int_eq(n80, 100);
    snap(def, 1, 79, 80);
    snap(def, 1, 1, 80);
    snap(def, 1, 100, 80);
    /* nearest, either way */
    snap(three, 3, 1, 40);
    snap(three, 3, 40, 40);
    snap(three, 3, 49, 40);
    snap(three, 3, 51, 60);
    snap(three, 3, 74, 60);
    snap(three, 3, 76, 90);
    snap(three, 3, 100, 90);
    /* a tie goes to the higher entry */
    snap(three, 3, 50, 60);
    snap(three, 3, 75, 90);
    /* 1 and 100: the midpoint is 50.5, no q is a tie */
    snap(ends, 2, 50, 1);
    snap(ends, 2, 51, 100);
    /* the order of the list does not matter */
    for (q = 1; q <= 100; q++) {
        ck_assert_int_eq(pv_request_snap_quality(q, unsorted, 3),
                         pv_request_snap_quality(q, three, 3));
    }
    /* no list: q as it is */
    snap(NULL, 0, 37, 37);
    snap(three, 0, 37, 37);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Accept and format */

START_TEST(accept_q_values)
{
    ck_assert_int_eq(pv_request_accept_q("image/webp", "image/webp"), 1000);
    ck_assert_int_eq(pv_request_accept_q("IMAGE/WebP", "image/webp"), 1000);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=0.5", "image/webp"),
                     500);
    ck_assert_int_eq(pv_request_accept_q("image/webp ; Q=0.25", "image/webp"),
                     250);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=0.001", "image/webp"),
                     1);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=1.000", "image/webp"),
                     1000);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=1.", "image/webp"),
                     1000);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=0", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=0.000", "image/webp"),
                     0);
    /* invalid q values count as a refusal */
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=1.5", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=2", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=.5", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=0.5555", "image/webp"),
                     0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/webp;q=-1", "image/webp"), 0);
    /* other parameters are fine, before or after q */
    ck_assert_int_eq(
        pv_request_accept_q("image/webp;level=1;q=0.7;ext=\"a,b;q=0\"",
                            "image/webp"),
        700);
    /* a comma inside a quoted string does not end the element */
    ck_assert_int_eq(
        pv_request_accept_q("text/html;x=\"a,image/webp\"", "image/webp"), 0);
    /* wildcards do not count */
    ck_assert_int_eq(pv_request_accept_q("*/*", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/*", "image/webp"), 0);
    /* exact type, not prefixes */
    ck_assert_int_eq(pv_request_accept_q("image/webpx", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("image/web", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q("ximage/webp", "image/webp"), 0);
    /* several: any q=0 refuses, else the highest */
    ck_assert_int_eq(
        pv_request_accept_q("image/webp;q=0.3, image/webp;q=0.6", "image/webp"),
        600);
    ck_assert_int_eq(
        pv_request_accept_q("image/webp, image/webp;q=0", "image/webp"), 0);
    /* junk after the range: that element does not count */
    ck_assert_int_eq(pv_request_accept_q("image/webp junk", "image/webp"), 0);
    ck_assert_int_eq(
        pv_request_accept_q("image/webp junk, image/webp;q=0.2", "image/webp"),
        200);
    ck_assert_int_eq(pv_request_accept_q("", "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q(NULL, "image/webp"), 0);
    ck_assert_int_eq(pv_request_accept_q(",,, ,image/webp,,", "image/webp"),
                     1000);
    ck_assert_int_eq(pv_request_accept_q(";;;q=1,image/webp", "image/webp"),
                     1000);
}
END_TEST

#define CHROME                                                                 \
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
#define FIREFOX "image/avif,image/webp,*/*"
#define SAFARI                                                                 \
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,"          \
    "video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
#define OLD "image/png,image/*;q=0.8,*/*;q=0.5"

static pv_image_format_e pick(int requested, const char *accept, int allowed,
                              int alpha, int want_vary)
{
    pv_image_format_e f = (pv_image_format_e)-1;
    int vary = -1;

    ck_assert_int_eq(
        pv_request_pick_format(&f, &vary, requested, accept, allowed, alpha),
        APR_SUCCESS);
    ck_assert_int_eq(vary, want_vary);
    return f;
}

START_TEST(format_auto)
{
    int all = PV_FORMATS_ALL, def = PV_FORMATS_DEFAULT;

    /* AVIF first when allowed, WebP next, JPEG otherwise */
    ck_assert_int_eq(pick(0, CHROME, all, 0, 1), PV_FORMAT_AVIF);
    ck_assert_int_eq(pick(0, CHROME, def, 0, 1), PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, FIREFOX, def, 0, 1), PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, SAFARI, all, 0, 1), PV_FORMAT_AVIF);
    ck_assert_int_eq(pick(0, OLD, all, 0, 1), PV_FORMAT_JPEG);
    ck_assert_int_eq(pick(0, NULL, all, 0, 1), PV_FORMAT_JPEG);
    ck_assert_int_eq(pick(0, "*/*", all, 0, 1), PV_FORMAT_JPEG);
    ck_assert_int_eq(pick(0, "image/*", all, 0, 1), PV_FORMAT_JPEG);
    /* the client's q decides between AVIF and WebP; a tie goes to AVIF */
    ck_assert_int_eq(pick(0, "image/avif;q=0.5,image/webp", all, 0, 1),
                     PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, "image/avif;q=0.5,image/webp;q=0.5", all, 0, 1),
                     PV_FORMAT_AVIF);
    /* q=0 is a refusal */
    ck_assert_int_eq(pick(0, "image/avif;q=0,image/webp", all, 0, 1),
                     PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, "image/avif;q=0,image/webp;q=0", all, 0, 1),
                     PV_FORMAT_JPEG);
    /* WebP accepted but not allowed */
    ck_assert_int_eq(
        pick(0, "image/webp",
             PV_FORMAT_BIT(PV_FORMAT_JPEG) | PV_FORMAT_BIT(PV_FORMAT_AVIF), 0,
             1),
        PV_FORMAT_JPEG);
    /* nothing negotiable: no Vary */
    ck_assert_int_eq(
        pick(0, CHROME,
             PV_FORMAT_BIT(PV_FORMAT_JPEG) | PV_FORMAT_BIT(PV_FORMAT_PNG), 0,
             0),
        PV_FORMAT_JPEG);
    /* an empty mask means the default (jpeg webp png) */
    ck_assert_int_eq(pick(0, CHROME, 0, 0, 1), PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, "image/avif", 0, 0, 1), PV_FORMAT_JPEG);
}
END_TEST

START_TEST(format_auto_alpha)
{
    int all = PV_FORMATS_ALL, def = PV_FORMATS_DEFAULT;

    /* alpha: never JPEG while PNG, WebP or AVIF can go */
    ck_assert_int_eq(pick(0, CHROME, def, 1, 1), PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, CHROME, all, 1, 1), PV_FORMAT_AVIF);
    ck_assert_int_eq(pick(0, OLD, def, 1, 1), PV_FORMAT_PNG);
    ck_assert_int_eq(pick(0, NULL, def, 1, 1), PV_FORMAT_PNG);
    /* PNG not allowed: JPEG (flattened) is what is left */
    ck_assert_int_eq(
        pick(0, OLD,
             PV_FORMAT_BIT(PV_FORMAT_JPEG) | PV_FORMAT_BIT(PV_FORMAT_WEBP), 1,
             1),
        PV_FORMAT_JPEG);
    /* only WebP allowed, not accepted: served anyway */
    ck_assert_int_eq(pick(0, OLD, PV_FORMAT_BIT(PV_FORMAT_WEBP), 1, 1),
                     PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, OLD, PV_FORMAT_BIT(PV_FORMAT_WEBP), 0, 1),
                     PV_FORMAT_WEBP);
    ck_assert_int_eq(pick(0, OLD, PV_FORMAT_BIT(PV_FORMAT_AVIF), 0, 1),
                     PV_FORMAT_AVIF);
    /* opaque, JPEG not allowed: PNG */
    ck_assert_int_eq(
        pick(0, OLD,
             PV_FORMAT_BIT(PV_FORMAT_PNG) | PV_FORMAT_BIT(PV_FORMAT_WEBP), 0,
             1),
        PV_FORMAT_PNG);
}
END_TEST

START_TEST(format_explicit)
{
    pv_image_format_e f = PV_FORMAT_AVIF;
    int vary = 5;

    ck_assert_int_eq(
        pick(PV_FORMAT_BIT(PV_FORMAT_PNG), CHROME, PV_FORMATS_DEFAULT, 0, 0),
        PV_FORMAT_PNG);
    ck_assert_int_eq(
        pick(PV_FORMAT_BIT(PV_FORMAT_JPEG), CHROME, PV_FORMATS_DEFAULT, 1, 0),
        PV_FORMAT_JPEG);
    ck_assert_int_eq(
        pick(PV_FORMAT_BIT(PV_FORMAT_WEBP), NULL, PV_FORMATS_DEFAULT, 0, 0),
        PV_FORMAT_WEBP);
    ck_assert_int_eq(
        pick(PV_FORMAT_BIT(PV_FORMAT_AVIF), NULL, PV_FORMATS_ALL, 0, 0),
        PV_FORMAT_AVIF);
    /* not allowed: 400 "format", outputs untouched */
    ck_assert_int_eq(pv_request_pick_format(&f, &vary,
                                            PV_FORMAT_BIT(PV_FORMAT_AVIF),
                                            CHROME, PV_FORMATS_DEFAULT, 0),
                     APR_EINVAL);
    ck_assert_int_eq(pv_request_pick_format(&f, &vary,
                                            PV_FORMAT_BIT(PV_FORMAT_AVIF),
                                            CHROME, 0, 0),
                     APR_EINVAL);
    ck_assert_int_eq(
        pv_request_pick_format(&f, &vary, PV_FORMAT_BIT(PV_FORMAT_PNG), CHROME,
                               PV_FORMAT_BIT(PV_FORMAT_JPEG), 0),
        APR_EINVAL);
    /* not one known bit */
    ck_assert_int_eq(pv_request_pick_format(&f, &vary,
                                            PV_FORMAT_BIT(PV_FORMAT_PNG) |
                                                PV_FORMAT_BIT(PV_FORMAT_JPEG),
                                            NULL, PV_FORMATS_ALL, 0),
                     APR_EINVAL);
    ck_assert_int_eq(
        pv_request_pick_format(&f, &vary, 16, NULL, PV_FORMATS_ALL | 16, 0),
        APR_EINVAL);
    ck_assert_int_eq(
        pv_request_pick_format(&f, &vary, -1, NULL, PV_FORMATS_ALL, 0),
        APR_EINVAL);
    ck_assert_int_eq(f, PV_FORMAT_AVIF);
    ck_assert_int_eq(vary, 5);
}
END_TEST

START_TEST(accept_huge)
{
    /* 1 MB of ranges: only the first PV_REQUEST_MAX_HEADER bytes count */
    apr_size_t n = 1000000;
    char *a = apr_palloc(pool, n + 32);

    memset(a, ' ', n);
    memcpy(a + n, ",image/webp", 12);
    ck_assert_int_eq(pv_request_accept_q(a, "image/webp"), 0);
    memcpy(a, "image/webp;q=0.4,", 17);
    ck_assert_int_eq(pv_request_accept_q(a, "image/webp"), 400);
    /* the bound cuts "image/webpx" to "image/webp": must not match */
    a = apr_palloc(pool, PV_REQUEST_MAX_HEADER + 32);
    memset(a, ' ', PV_REQUEST_MAX_HEADER);
    a[0] = ',';
    memcpy(a + PV_REQUEST_MAX_HEADER - 10, "image/webpx", 12);
    ck_assert_int_eq(pv_request_accept_q(a, "image/webp"), 0);
    /* exactly at the bound, whole: matches */
    memset(a, ' ', PV_REQUEST_MAX_HEADER);
    memcpy(a + PV_REQUEST_MAX_HEADER - 10, "image/webp", 11);
    ck_assert_int_eq(pv_request_accept_q(a, "image/webp"), 1000);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Authorization: Bearer */

static const char *bearer_ok(const char *h)
{
    const char *tok = NULL;
    apr_size_t len = 0;

    ck_assert_msg(pv_request_bearer(&tok, &len, h, pool) == APR_SUCCESS,
                  "refused '%s'", h);
    ck_assert_uint_eq(len, strlen(tok));
    return tok;
}

static apr_status_t bearer_rv(const char *h)
{
    const char *tok = "untouched";
    apr_size_t len = 77;
    apr_status_t rv = pv_request_bearer(&tok, &len, h, pool);

    if (rv != APR_SUCCESS) {
        ck_assert_str_eq(tok, "untouched");
        ck_assert_uint_eq(len, 77);
    }
    return rv;
}

START_TEST(bearer)
{
    ck_assert_str_eq(bearer_ok("Bearer abc.def.ghi"), "abc.def.ghi");
    ck_assert_str_eq(bearer_ok("bearer abc"), "abc");
    ck_assert_str_eq(bearer_ok("BEARER abc"), "abc");
    ck_assert_str_eq(bearer_ok("Bearer   abc"), "abc");
    ck_assert_str_eq(bearer_ok("  Bearer abc  "), "abc");
    ck_assert_str_eq(bearer_ok("Bearer abc\t"), "abc");
    ck_assert_str_eq(bearer_ok("Bearer aZ09-._~+/=="), "aZ09-._~+/==");

    /* not ours: another scheme or no header */
    ck_assert_int_eq(bearer_rv(NULL), APR_NOTFOUND);
    ck_assert_int_eq(bearer_rv(""), APR_NOTFOUND);
    ck_assert_int_eq(bearer_rv("Basic dXNlcjpwYXNz"), APR_NOTFOUND);
    ck_assert_int_eq(bearer_rv("Bearerabc"), APR_NOTFOUND);
    ck_assert_int_eq(bearer_rv("Bear abc"), APR_NOTFOUND);
    ck_assert_int_eq(bearer_rv("Digest username=x"), APR_NOTFOUND);
    /* ours but malformed: 401 */
    ck_assert_int_eq(bearer_rv("Bearer"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer "), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer\tabc"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer abc def"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer abc,def"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer a=b"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer ="), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer =abc"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer \"abc\""), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer abc;"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer ab%63"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer ab\x01"), APR_EINVAL);
    ck_assert_int_eq(bearer_rv("Bearer \xc3\xa9"), APR_EINVAL);
}
END_TEST

START_TEST(bearer_huge)
{
    char *h = apr_palloc(pool, PV_REQUEST_MAX_HEADER + 16);

    /* exactly at the bound: accepted */
    memcpy(h, "Bearer ", 7);
    memset(h + 7, 'a', PV_REQUEST_MAX_HEADER - 7);
    h[PV_REQUEST_MAX_HEADER] = '\0';
    ck_assert_uint_eq(strlen(bearer_ok(h)), PV_REQUEST_MAX_HEADER - 7);
    /* one byte over: refused, never cut */
    h[PV_REQUEST_MAX_HEADER] = 'a';
    h[PV_REQUEST_MAX_HEADER + 1] = '\0';
    ck_assert_int_eq(bearer_rv(h), APR_EINVAL);
    /* a huge Basic header stays someone else's */
    memcpy(h, "Basic  ", 7);
    ck_assert_int_eq(bearer_rv(h), APR_NOTFOUND);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cookie */

static const char *cookie(const char *hdr, const char *name)
{
    const char *v = NULL;
    apr_size_t len = 0;
    apr_status_t rv = pv_request_cookie(&v, &len, hdr, name, pool);

    if (rv == APR_NOTFOUND) {
        return NULL;
    }
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(v));
    return v;
}

START_TEST(cookies)
{
    const char *n = "preview_token";

    ck_assert_str_eq(cookie("preview_token=abc", n), "abc");
    ck_assert_str_eq(cookie("a=1; preview_token=abc; b=2", n), "abc");
    ck_assert_str_eq(cookie("a=1;preview_token=abc", n), "abc");
    ck_assert_str_eq(cookie("a=1 ;  preview_token = abc  ; b", n), "abc");
    ck_assert_str_eq(cookie("preview_token=\"abc\"", n), "abc");
    ck_assert_str_eq(cookie("preview_token=a.b.c", n), "a.b.c");
    /* '=' in the value stays */
    ck_assert_str_eq(cookie("preview_token=ab==", n), "ab==");
    /* first non-empty wins */
    ck_assert_str_eq(cookie("preview_token=one; preview_token=two", n), "one");
    ck_assert_str_eq(cookie("preview_token=; preview_token=two", n), "two");
    ck_assert_str_eq(cookie("preview_token=\"\"; preview_token=two", n), "two");
    /* ',' from joined headers separates */
    ck_assert_str_eq(cookie("a=1, preview_token=abc", n), "abc");
    ck_assert_str_eq(cookie("preview_token=abc,def", n), "abc");
    /* exact, case-sensitive name */
    ck_assert_ptr_null(cookie("Preview_Token=abc", n));
    ck_assert_ptr_null(cookie("xpreview_token=abc", n));
    ck_assert_ptr_null(cookie("preview_token2=abc", n));
    ck_assert_ptr_null(cookie("preview_tok=abc", n));
    ck_assert_ptr_null(cookie("a=preview_token=abc", n));
    ck_assert_ptr_null(cookie("preview_token", n));
    ck_assert_ptr_null(cookie("preview_token=", n));
    ck_assert_ptr_null(cookie("preview_token=  ", n));
    ck_assert_ptr_null(cookie("", n));
    ck_assert_ptr_null(cookie(NULL, n));
    ck_assert_ptr_null(cookie("preview_token=abc", ""));
    ck_assert_ptr_null(cookie("preview_token=abc", NULL));
    /* another name */
    ck_assert_str_eq(cookie("sid=1; tok=2", "tok"), "2");
    ck_assert_str_eq(cookie("sid=1; tok=2", "sid"), "1");
}
END_TEST

START_TEST(cookies_huge)
{
    apr_size_t n = PV_REQUEST_MAX_HEADER;
    char *h = apr_palloc(pool, 2 * n + 64);
    apr_size_t i;

    /* many small cookies before ours, ours within the bound */
    for (i = 0; i + 4 < n - 40; i += 4) {
        memcpy(h + i, "a=1;", 4);
    }
    strcpy(h + i, "preview_token=abc");
    ck_assert_str_eq(cookie(h, "preview_token"), "abc");
    /* ours beyond the bound: not seen */
    memset(h, ' ', n);
    strcpy(h + n, "; preview_token=abc");
    ck_assert_ptr_null(cookie(h, "preview_token"));
    /* ours cut by the bound: never a partial value */
    memset(h, ' ', n);
    memcpy(h + n - 20, "preview_token=abcdefghij", 25);
    ck_assert_ptr_null(cookie(h, "preview_token"));
    /* ours ending exactly at the bound with nothing after: whole */
    memset(h, ' ', 2 * n);
    memcpy(h + n - 17, "preview_token=abc", 18);
    ck_assert_str_eq(cookie(h, "preview_token"), "abc");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The token pairs of a preview's query (pv_request_token) */

START_TEST(token_pairs_kept)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},
        {"w=100", ""},
        {"token=abc", "token=abc"},
        {"w=1&token=abc&h=2", "token=abc"},
        {"access_token=x&token=y", "access_token=x&token=y"},
        {"w=%zz&token=t", "token=t"},   /* a malformed parameter is skipped */
        {"to%6Ben=t&w=1", "to%6Ben=t"}, /* as the query parser decodes */
        {"TOKEN=t&Token=u", ""},        /* exact case, unlike the redaction */
        {"to%zken=t", ""},              /* a bad escape is not a name */
        {"token", "token"},             /* no '=': the name alone */
        {"token=a#token=b", "token=a"}, /* a fragment is not the query */
        {"xtoken=a&tokenx=b&token=", "token="},
        {"&&token=a&&", "token=a"},
        {"token=a;w=1", "token=a;w=1"}, /* ';' is not a separator here */
    };
    apr_size_t i;

    ck_assert_ptr_null(pv_request_token_pairs(NULL, pool));
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_str_eq(pv_request_token_pairs(v[i].in, pool), v[i].out);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* If-None-Match against our ETag (pv_http_cond) */

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

Suite *pv_test_request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("request");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, id_valid);
    tcase_add_test(tc, id_invalid);
    tcase_add_test(tc, id_from_path);
    tcase_add_test(tc, query_defaults);
    tcase_add_test(tc, query_all);
    tcase_add_test(tc, query_numbers);
    tcase_add_test(tc, query_words);
    tcase_add_test(tc, query_duplicates);
    tcase_add_test(tc, query_tokens);
    tcase_add_test(tc, query_unknown_ignored);
    tcase_add_test(tc, query_huge);
    tcase_add_test(tc, unescape);
    tcase_add_test(tc, size_resolution);
    tcase_add_test(tc, size_config_variants);
    tcase_add_test(tc, quality_snapping);
    tcase_add_test(tc, accept_q_values);
    tcase_add_test(tc, format_auto);
    tcase_add_test(tc, format_auto_alpha);
    tcase_add_test(tc, format_explicit);
    tcase_add_test(tc, accept_huge);
    tcase_add_test(tc, bearer);
    tcase_add_test(tc, bearer_huge);
    tcase_add_test(tc, cookies);
    tcase_add_test(tc, cookies_huge);
    tcase_add_test(tc, token_pairs_kept);
    tcase_add_test(tc, none_match_matches);
    tcase_add_test(tc, none_match_misses);
    suite_add_tcase(s, tc);
    return s;
}
