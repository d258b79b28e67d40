/* pv_redact: token values leave request lines, URIs and args as REDACTED;
 * everything else is kept byte for byte; the kept values come back for
 * the handlers. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_redact.h"
#include "pv_request.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

static const char *rq(const char *in, int *changed)
{
    const char *out = NULL;
    int ch = -1;

    ck_assert_int_eq(pv_redact_query(&out, &ch, in, pool), APR_SUCCESS);
    if (changed) {
        *changed = ch;
    }
    /* unchanged means the same pointer: no copy was made */
    ck_assert_int_eq(ch, out != in);
    return out;
}

static const char *ra(const char *in, int *changed)
{
    const char *out = NULL;
    int ch = -1;

    ck_assert_int_eq(pv_redact_args(&out, &ch, in, pool), APR_SUCCESS);
    if (changed) {
        *changed = ch;
    }
    ck_assert_int_eq(ch, out != in);
    return out;
}

#define RQ(in, want) ck_assert_str_eq(rq(in, NULL), want)
#define RA(in, want) ck_assert_str_eq(ra(in, NULL), want)

START_TEST(request_line)
{
    int ch;

    ck_assert_str_eq(rq("GET /preview/7?w=1&token=abc HTTP/1.1", &ch),
                     "GET /preview/7?w=1&token=REDACTED HTTP/1.1");
    ck_assert_int_eq(ch, 1);
    RQ("GET /preview/7?token=abc.def.ghi&w=256 HTTP/1.1",
       "GET /preview/7?token=REDACTED&w=256 HTTP/1.1");
    RQ("HEAD /preview/7?access_token=abc HTTP/2.0",
       "HEAD /preview/7?access_token=REDACTED HTTP/2.0");
    /* HTTP/0.9 style: no protocol, the value runs to the end */
    RQ("GET /preview/7?token=abc", "GET /preview/7?token=REDACTED");
    /* several spaces before the protocol are kept */
    RQ("GET /p?token=abc   HTTP/1.1", "GET /p?token=REDACTED   HTTP/1.1");
    /* a raw space inside the URI (refused by httpd, but still logged) */
    RQ("GET /p?token=ab cd HTTP/1.1", "GET /p?token=REDACTED HTTP/1.1");
    RQ("GET /p?w=1 token=abc HTTP/1.1", "GET /p?w=1 token=REDACTED HTTP/1.1");
    /* junk after the protocol: no protocol to keep, hide to the end */
    RQ("GET /p?token=abc HTTP/1.1 junk", "GET /p?token=REDACTED");
}
END_TEST

START_TEST(uri_forms)
{
    RQ("/preview/7?token=abc", "/preview/7?token=REDACTED");
    RQ("http://example.com/preview/7?token=abc&w=64",
       "http://example.com/preview/7?token=REDACTED&w=64");
    RQ("/preview/7?w=64&token=abc", "/preview/7?w=64&token=REDACTED");
    /* r->uri after %3F and %20 decoding: a '?' and a space in the path */
    RQ("/preview/7?token=abc HTTP/1.1", "/preview/7?token=REDACTED HTTP/1.1");
}
END_TEST

START_TEST(multiple_and_both_names)
{
    RQ("/p?token=a&token=b&access_token=c",
       "/p?token=REDACTED&token=REDACTED&access_token=REDACTED");
    RA("token=a&w=1&access_token=c&h=2",
       "token=REDACTED&w=1&access_token=REDACTED&h=2");
    RA("access_token=xyz", "access_token=REDACTED");
}
END_TEST

START_TEST(empty_and_edges)
{
    int ch;

    /* empty values hold no secret: unchanged, not even copied */
    ck_assert_str_eq(ra("token=&w=1", &ch), "token=&w=1");
    ck_assert_int_eq(ch, 0);
    ck_assert_str_eq(ra("token=", &ch), "token=");
    ck_assert_int_eq(ch, 0);
    RA("token=&token=x", "token=&token=REDACTED");
    /* value at the very end */
    RA("w=1&token=x", "w=1&token=REDACTED");
    /* '=' inside the value is part of it */
    RA("token=a=b=c&w=1", "token=REDACTED&w=1");
    /* empty segments around */
    RA("&&token=x&&", "&&token=REDACTED&&");
    /* a single-character value */
    RA("token=x", "token=REDACTED");
    /* empty string */
    ck_assert_str_eq(ra("", &ch), "");
    ck_assert_int_eq(ch, 0);
}
END_TEST

START_TEST(not_a_token_parameter)
{
    int ch;
    const char *in;

    in = "/p?xtoken=abc&tokens=1&my_access_token=2&token_=3";
    ck_assert_ptr_eq(rq(in, &ch), in);
    ck_assert_int_eq(ch, 0);
    /* no '=': nothing to hide */
    in = "/p?token&access_token&w=1";
    ck_assert_ptr_eq(rq(in, &ch), in);
    ck_assert_int_eq(ch, 0);
    /* "token=" inside another parameter's value is that value */
    in = "/p?v=token";
    ck_assert_ptr_eq(rq(in, &ch), in);
    /* a token before the query is not a parameter */
    in = "/token=abc/p";
    ck_assert_ptr_eq(rq(in, &ch), in);
    /* a %-encoded '&' does not start a parameter (the parser reads it as
     * the value of x) */
    in = "/p?x=%26token=abc";
    ck_assert_ptr_eq(rq(in, &ch), in);
}
END_TEST

START_TEST(no_query_no_allocation)
{
    const char *in = "GET /preview/7 HTTP/1.1";
    const char *out = NULL;
    int ch = -1;

    ck_assert_int_eq(pv_redact_query(&out, &ch, in, pool), APR_SUCCESS);
    ck_assert_ptr_eq(out, in);
    ck_assert_int_eq(ch, 0);
    /* a query without tokens: same pointer too */
    in = "GET /preview/7?w=64&h=64&v=3 HTTP/1.1";
    ck_assert_ptr_eq(rq(in, &ch), in);
    ck_assert_int_eq(ch, 0);
    /* NULL in, NULL out */
    out = "x";
    ck_assert_int_eq(pv_redact_query(&out, &ch, NULL, pool), APR_SUCCESS);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(ch, 0);
    out = "x";
    ck_assert_int_eq(pv_redact_args(&out, &ch, NULL, pool), APR_SUCCESS);
    ck_assert_ptr_null(out);
    /* the args function on args without the '?' */
    in = "w=64";
    ck_assert_ptr_eq(ra(in, &ch), in);
    /* the query function on args (no '?'): nothing, by design */
    in = "token=abc";
    ck_assert_ptr_eq(rq(in, &ch), in);
}
END_TEST

START_TEST(case_insensitive_names)
{
    RA("TOKEN=abc", "TOKEN=REDACTED");
    RA("Token=abc&Access_Token=def", "Token=REDACTED&Access_Token=REDACTED");
    RQ("/p?ACCESS_TOKEN=x", "/p?ACCESS_TOKEN=REDACTED");
}
END_TEST

START_TEST(percent_encoded_names)
{
    RA("%74oken=abc", "%74oken=REDACTED");
    RA("%54%4F%4B%45%4E=abc", "%54%4F%4B%45%4E=REDACTED");
    RA("access%5ftoken=abc", "access%5ftoken=REDACTED");
    RA("%61%63%63%65%73%73%5f%74%6f%6b%65%6e=abc",
       "%61%63%63%65%73%73%5f%74%6f%6b%65%6e=REDACTED");
    /* a bad escape cannot spell the name */
    RA("%7oken=abc", "%7oken=abc");
    /* '+' is a space: "token " is another name */
    RA("token+=abc", "token+=abc");
    /* a %-encoded '=' keeps it inside the name: no value */
    RA("token%3Dabc", "token%3Dabc");
}
END_TEST

START_TEST(separators)
{
    /* ';' starts a parameter (superset of the '&'-only parser) */
    RA("w=1;token=abc", "w=1;token=REDACTED");
    /* the value runs past ';' up to '&': hide too much, never a part */
    RA("token=abc;def&w=1", "token=REDACTED&w=1");
    /* fragments: the value ends at '#', and the fragment is searched too */
    RQ("/p?token=abc#frag", "/p?token=REDACTED#frag");
    RQ("/p#access_token=abc&x=1", "/p#access_token=REDACTED&x=1");
    RQ("/p?w=1#token=abc", "/p?w=1#token=REDACTED");
    /* a second '?' inside the query */
    RQ("/p?a=1?token=abc", "/p?a=1?token=REDACTED");
}
END_TEST

/* Everything the query parser reads as a token is redacted. */
START_TEST(superset_of_parser)
{
    static const char *queries[] = {
        "token=abc",          "w=1&token=abc",       "access_token=abc",
        "%74oken=abc",        "token=a%2Eb",         "token=abc&token=def",
        "x=1&&token=abc&y=2", "token=a+b",           "v=1&access_token=a;b",
        "token=abc#x",        "access_%74oken=q%3D", "token=%zz"};
    apr_size_t i;

    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        pv_request_query_t *q = NULL;
        const char *err = NULL, *red;
        int ch;

        ck_assert_int_eq(pv_request_parse_query(&q, &err, queries[i], pool),
                         APR_SUCCESS);
        ck_assert_msg(q->token || q->access_token, "%s", queries[i]);
        red = ra(queries[i], &ch);
        ck_assert_int_eq(ch, 1);
        ck_assert_int_eq(pv_request_parse_query(&q, &err, red, pool),
                         APR_SUCCESS);
        /* after redaction, any token left is the word itself */
        if (q->token) {
            ck_assert_str_eq(q->token, PV_REDACTED);
        }
        if (q->access_token) {
            ck_assert_str_eq(q->access_token, PV_REDACTED);
        }
        ck_assert_ptr_null(strstr(red, "abc"));
    }
}
END_TEST

START_TEST(long_input)
{
    /* 100 000 parameters: linear, exact length */
    apr_size_t n = 100000, i;
    char *in = apr_palloc(pool, n * 10 + 1), *want;
    const char *out;
    int ch;

    for (i = 0; i < n; i++) {
        memcpy(in + i * 10, "token=abc&", 10);
    }
    in[n * 10 - 1] = '\0'; /* drop the last '&' */
    out = ra(in, &ch);
    ck_assert_int_eq(ch, 1);
    want = apr_palloc(pool, n * 15 + 1);
    for (i = 0; i < n; i++) {
        memcpy(want + i * 15, "token=REDACTED&", 15);
    }
    want[n * 15 - 1] = '\0';
    ck_assert_uint_eq(strlen(out), n * 15 - 1);
    ck_assert_str_eq(out, want);

    /* one huge value */
    in = apr_palloc(pool, 1000007);
    memcpy(in, "token=", 6);
    memset(in + 6, 'x', 1000000);
    in[1000006] = '\0';
    ck_assert_str_eq(ra(in, &ch), "token=REDACTED");
    /* a huge name is never a token name */
    in = apr_palloc(pool, 2000);
    memset(in, 't', 1995);
    memcpy(in + 1995, "=abc", 5);
    ck_assert_ptr_eq(ra(in, &ch), in);
}
END_TEST

/* The issue's [PT,QSA] rewrite: a decoded " HTTP/1" inside an args string
 * is no request line's protocol; the scan goes on past it. */
START_TEST(args_have_no_protocol)
{
    RA("p=a HTTP/1&token=abc", "p=a HTTP/1&token=REDACTED");
    RA("p=a HTTP/1.1&token=abc", "p=a HTTP/1.1&token=REDACTED");
    RA("token=abc HTTP/1.1", "token=REDACTED");
    /* in a URI only an exact trailing " HTTP/d.d" is a protocol */
    RQ("/p?token=abc HTTP/1&token=def", "/p?token=REDACTED&token=REDACTED");
    RQ("/p?x=1 HTTP/1&token=def", "/p?x=1 HTTP/1&token=REDACTED");
    RQ("GET /p?token=abc http/1.0", "GET /p?token=REDACTED http/1.0");
    RQ("GET /p?token=abc HTTP/1.10", "GET /p?token=REDACTED");
}
END_TEST

/* A control byte (a refused request line is still logged) starts a
 * parameter, as a space does. */
START_TEST(control_bytes_separate)
{
    RQ("GET /p?x=1\x01token=abc HTTP/1.1",
       "GET /p?x=1\x01token=REDACTED HTTP/1.1");
    RQ("GET /p?x=1\x7ftoken=abc HTTP/1.1",
       "GET /p?x=1\x7ftoken=REDACTED HTTP/1.1");
    RA("x=1\rtoken=abc", "x=1\rtoken=REDACTED");
}
END_TEST

/* A value that reads REDACTED is left alone: a second pass over an
 * already redacted field copies nothing. */
START_TEST(already_redacted)
{
    const char *in;
    int ch;

    in = "GET /p?w=1&token=REDACTED HTTP/1.1";
    ck_assert_ptr_eq(rq(in, &ch), in);
    ck_assert_int_eq(ch, 0);
    in = "token=REDACTED&access_token=REDACTED";
    ck_assert_ptr_eq(ra(in, &ch), in);
    ck_assert_str_eq(ra("token=REDACTEDx", &ch), "token=REDACTED");
    ck_assert_int_eq(ch, 1);
    RA("token=REDACTED&token=abc", "token=REDACTED&token=REDACTED");
}
END_TEST

static apr_array_header_t *kept(const char *args, const char **pred)
{
    apr_array_header_t *v = apr_array_make(pool, 2, sizeof(pv_redact_value_t));
    int ch;

    ck_assert_int_eq(pv_redact_args_keep(pred, &ch, v, args, pool),
                     APR_SUCCESS);
    return v;
}

static const char *value_str(const apr_array_header_t *v, int i)
{
    const pv_redact_value_t *kv = &APR_ARRAY_IDX(v, i, pv_redact_value_t);

    return apr_pstrmemdup(pool, kv->s, kv->len);
}

START_TEST(keep_values)
{
    const char *red;
    apr_array_header_t *v;
    int ch;

    v = kept("a=1&token=abc&TOKEN=&access_token=REDACTED&%74oken=x;y#token=z",
             &red);
    ck_assert_str_eq(red, "a=1&token=REDACTED&TOKEN=&access_token=REDACTED"
                          "&%74oken=REDACTED#token=REDACTED");
    /* in order, empty ones left out, a literal REDACTED kept */
    ck_assert_int_eq(v->nelts, 4);
    ck_assert_str_eq(value_str(v, 0), "abc");
    ck_assert_str_eq(value_str(v, 1), "REDACTED");
    ck_assert_str_eq(value_str(v, 2), "x;y");
    ck_assert_str_eq(value_str(v, 3), "z");
    /* no array: pv_redact_args */
    ck_assert_int_eq(pv_redact_args_keep(&red, &ch, NULL, "token=a", pool),
                     APR_SUCCESS);
    ck_assert_str_eq(red, "token=REDACTED");
    v = kept(NULL, &red);
    ck_assert_ptr_null(red);
    ck_assert_int_eq(v->nelts, 0);
}
END_TEST

static const char *restore(const char *args, const apr_array_header_t *v)
{
    const char *out = NULL;

    ck_assert_int_eq(pv_redact_restore(&out, args, v, pool), APR_SUCCESS);
    return out;
}

/* What a handler reads back is what the client sent. */
START_TEST(restore_round_trip)
{
    static const char *queries[] = {"token=abc",
                                    "w=1&token=abc.def.ghi&h=2",
                                    "access_token=abc&token=def",
                                    "%74oken=abc&TOKEN=x%2Ey",
                                    "token=&token=abc",
                                    "token=REDACTED&access_token=real",
                                    "a=1;token=abc;b&token=c?d",
                                    "token=abc#access_token=def",
                                    "x=token%3Dabc&token=a=b=c",
                                    "w=64"};
    apr_size_t i;

    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        const char *red;
        apr_array_header_t *v = kept(queries[i], &red);

        ck_assert_str_eq(restore(red, v), queries[i]);
    }
}
END_TEST

START_TEST(restore_after_rewrite)
{
    const char *red, *in;
    apr_array_header_t *v = kept("token=abc&d=1", &red);

    /* [QSA]: the rewrite's own parameters first */
    ck_assert_str_eq(restore(apr_pstrcat(pool, "w=64&", red, NULL), v),
                     "w=64&token=abc&d=1");
    /* a value the rewrite wrote itself takes no kept value */
    ck_assert_str_eq(restore(apr_pstrcat(pool, "token=lit&", red, NULL), v),
                     "token=lit&token=abc&d=1");
    /* the query dropped: nothing to give back */
    in = "w=64";
    ck_assert_ptr_eq(restore(in, v), in);
    /* more REDACTED than kept values: the rest stay */
    ck_assert_str_eq(restore("token=REDACTED&access_token=REDACTED", v),
                     "token=abc&access_token=REDACTED");
    /* nothing kept, or no args */
    in = "token=REDACTED";
    ck_assert_ptr_eq(restore(in, NULL), in);
    ck_assert_ptr_eq(
        restore(in, apr_array_make(pool, 1, sizeof(pv_redact_value_t))), in);
    ck_assert_ptr_null(restore(NULL, v));
}
END_TEST

START_TEST(token_names)
{
    ck_assert(pv_redact_is_token_name("token", 5));
    ck_assert(pv_redact_is_token_name("Access_Token", 12));
    ck_assert(pv_redact_is_token_name("%74%6F%6B%65%6E", 15));
    ck_assert(!pv_redact_is_token_name("tokens", 6));
    ck_assert(!pv_redact_is_token_name("", 0));
    ck_assert(!pv_redact_is_token_name("token+", 6));
}
END_TEST

static Suite *redact_suite(void)
{
    Suite *s = suite_create("redact");
    TCase *tc = tcase_create("redact");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, request_line);
    tcase_add_test(tc, uri_forms);
    tcase_add_test(tc, multiple_and_both_names);
    tcase_add_test(tc, empty_and_edges);
    tcase_add_test(tc, not_a_token_parameter);
    tcase_add_test(tc, no_query_no_allocation);
    tcase_add_test(tc, case_insensitive_names);
    tcase_add_test(tc, percent_encoded_names);
    tcase_add_test(tc, separators);
    tcase_add_test(tc, superset_of_parser);
    tcase_add_test(tc, long_input);
    tcase_add_test(tc, args_have_no_protocol);
    tcase_add_test(tc, control_bytes_separate);
    tcase_add_test(tc, already_redacted);
    tcase_add_test(tc, keep_values);
    tcase_add_test(tc, restore_round_trip);
    tcase_add_test(tc, restore_after_rewrite);
    tcase_add_test(tc, token_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    atexit(apr_terminate);
    sr = srunner_create(redact_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
