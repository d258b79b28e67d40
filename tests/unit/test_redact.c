/* pv_redact: token values leave request lines, URIs and args as REDACTED;
 * everything else is kept byte for byte; the kept values come back for
 * the handlers. pv_redact_stream: the same for a request's header block as
 * its bytes come, whatever the split, under httpd's line limits counted as
 * sent. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_redact.h"
#include "pv_redact_stream.h"
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

/* ------------------------------------------ pv_redact_stream: bytes */

typedef struct {
    const char *out;
    apr_size_t outlen;
    apr_status_t rv;
    pv_redact_stream_t *st;
} fed_t;

/* in (len bytes) fed in pieces of step bytes (0: all at once). */
static fed_t feed_n(const char *in, apr_size_t len, apr_size_t step,
                    apr_size_t line_max, apr_size_t field_max)
{
    fed_t f = {NULL, 0, APR_SUCCESS, NULL};
    char *out = apr_palloc(pool, PV_REDACT_STREAM_OUT_MAX(len) + 1);
    apr_size_t at = 0;

    ck_assert_int_eq(pv_redact_stream_make(&f.st, line_max, field_max, pool),
                     APR_SUCCESS);
    while (at < len) {
        apr_size_t n = step && step < len - at ? step : len - at, o = 0;

        f.rv = pv_redact_stream_feed(
            f.st, out + f.outlen, PV_REDACT_STREAM_OUT_MAX(n), &o, in + at, n);
        ck_assert_uint_le(o, PV_REDACT_STREAM_OUT_MAX(n));
        f.outlen += o;
        at += n;
        if (f.rv != APR_SUCCESS) {
            break;
        }
    }
    out[f.outlen] = '\0';
    f.out = out;
    return f;
}

static fed_t feed_s(const char *in, apr_size_t step, apr_size_t line_max,
                    apr_size_t field_max)
{
    return feed_n(in, strlen(in), step, line_max, field_max);
}

static fed_t feed(const char *in)
{
    return feed_n(in, strlen(in), 0, 8191, 8191);
}

/* Every value of st joined with '|'. */
static const char *values(const pv_redact_stream_t *st)
{
    apr_array_header_t *v = pv_redact_stream_values(st, pool);
    const char *s = "";
    int i;

    for (i = 0; i < v->nelts; i++) {
        const pv_redact_value_t *kv = &APR_ARRAY_IDX(v, i, pv_redact_value_t);

        s = apr_pstrcat(pool, s, i ? "|" : "",
                        apr_pstrmemdup(pool, kv->s, kv->len), NULL);
    }
    return s;
}

/* The output must be the same for one feed, for every two-piece split and
 * byte by byte; values too. */
static void check(const char *in, const char *want, const char *want_values)
{
    apr_size_t len = strlen(in), cut;
    fed_t f = feed(in), g;

    ck_assert_int_eq(f.rv, APR_SUCCESS);
    ck_assert_str_eq(f.out, want);
    ck_assert_str_eq(values(f.st), want_values);
    g = feed_n(in, len, 1, 8191, 8191);
    ck_assert_str_eq(g.out, want);
    ck_assert_str_eq(values(g.st), want_values);
    for (cut = 1; cut < len; cut++) {
        fed_t h = {NULL, 0, APR_SUCCESS, NULL};
        char *out = apr_palloc(pool, PV_REDACT_STREAM_OUT_MAX(len));
        apr_size_t o1 = 0, o2 = 0;

        pv_redact_stream_make(&h.st, 8191, 8191, pool);
        ck_assert_int_eq(pv_redact_stream_feed(h.st, out,
                                               PV_REDACT_STREAM_OUT_MAX(cut),
                                               &o1, in, cut),
                         APR_SUCCESS);
        ck_assert_int_eq(
            pv_redact_stream_feed(h.st, out + o1,
                                  PV_REDACT_STREAM_OUT_MAX(len - cut), &o2,
                                  in + cut, len - cut),
            APR_SUCCESS);
        ck_assert_uint_eq(o1 + o2, strlen(want));
        ck_assert_int_eq(memcmp(out, want, o1 + o2), 0);
        ck_assert_str_eq(values(h.st), want_values);
    }
}

START_TEST(stream_request_line)
{
    check("GET /preview/7?w=1&token=abc.def HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET /preview/7?w=1&token=REDACTED HTTP/1.1\r\nHost: x\r\n\r\n",
          "abc.def");
    check("GET /p?access_token=a&TOKEN=b&%74oken=c;d HTTP/1.1\r\n\r\n",
          "GET /p?access_token=REDACTED&TOKEN=REDACTED&%74oken=REDACTED "
          "HTTP/1.1\r\n\r\n",
          "a|b|c;d");
    /* the fragment, a second '?', '=' inside a value */
    check("GET /p?a=1?token=x=y#access_token=z HTTP/1.1\n\n",
          "GET /p?a=1?token=REDACTED#access_token=REDACTED HTTP/1.1\n\n",
          "x=y|z");
    /* no query: nothing */
    check("GET /token=abc HTTP/1.1\r\n\r\n", "GET /token=abc HTTP/1.1\r\n\r\n",
          "");
    /* not ours: other names, no '=', a %26 that is no separator */
    check("GET /p?xtoken=a&token&tokens=b&x=%26token=c HTTP/1.1\r\n\r\n",
          "GET /p?xtoken=a&token&tokens=b&x=%26token=c HTTP/1.1\r\n\r\n", "");
    /* empty values are kept as they are; a literal REDACTED is a value */
    check("GET /p?token=&token=REDACTED HTTP/1.1\r\n\r\n",
          "GET /p?token=&token=REDACTED HTTP/1.1\r\n\r\n", "REDACTED");
    /* HTTP/0.9 style: the line ends the value */
    check("GET /p?token=abc\r\n", "GET /p?token=REDACTED\r\n", "abc");
}
END_TEST

/* Bytes httpd refuses a line for end a value and go through: the line is
 * still refused, its protocol still found. */
START_TEST(stream_what_httpd_checks_passes)
{
    check("GET /p?token=ab cd HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED cd HTTP/1.1\r\n\r\n", "ab");
    check("GET /p?token=ab\tcd HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED\tcd HTTP/1.1\r\n\r\n", "ab");
    check("GET /p?token=ab\x01token=cd HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED\x01token=REDACTED HTTP/1.1\r\n\r\n", "ab|cd");
    /* a bare CR inside the line, a DEL */
    check("GET /p?token=ab\rx HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED\rx HTTP/1.1\r\n\r\n", "ab");
    check("GET /p?token=ab\x7f HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED\x7f HTTP/1.1\r\n\r\n", "ab");
    /* obs-text is URI data: part of the value */
    check("GET /p?token=a\xc3\xa9 HTTP/1.1\r\n\r\n",
          "GET /p?token=REDACTED HTTP/1.1\r\n\r\n", "a\xc3\xa9");
}
END_TEST

START_TEST(stream_nul_byte)
{
    static const char in[] = "GET /p?token=ab\0cd HTTP/1.1\r\n\r\n";
    static const char want[] = "GET /p?token=REDACTED\0cd HTTP/1.1\r\n\r\n";
    fed_t f = feed_n(in, sizeof(in) - 1, 0, 8191, 8191);

    ck_assert_int_eq(f.rv, APR_SUCCESS);
    ck_assert_uint_eq(f.outlen, sizeof(want) - 1);
    ck_assert_int_eq(memcmp(f.out, want, f.outlen), 0);
    ck_assert_str_eq(values(f.st), "ab");
}
END_TEST

START_TEST(stream_referer)
{
    check(
        "GET / HTTP/1.1\r\nReferer: https://a.example/p?token=abc&x=1\r\n"
        "X-Other: /?token=kept\r\n\r\n",
        "GET / HTTP/1.1\r\nReferer: https://a.example/p?token=REDACTED&x=1\r\n"
        "X-Other: /?token=kept\r\n\r\n",
        "");
    /* any case, no space after the colon, access_token, the fragment */
    check("GET / HTTP/1.1\r\nREFERER:/?access_token=abc\r\n"
          "referer: /x#token=def\r\n\r\n",
          "GET / HTTP/1.1\r\nREFERER:/?access_token=REDACTED\r\n"
          "referer: /x#token=REDACTED\r\n\r\n",
          "");
    /* other names that start alike */
    check("GET / HTTP/1.1\r\nReferer2: /?token=a\r\nRefere: /?token=b\r\n"
          "X-Referer: /?token=c\r\n\r\n",
          "GET / HTTP/1.1\r\nReferer2: /?token=a\r\nRefere: /?token=b\r\n"
          "X-Referer: /?token=c\r\n\r\n",
          "");
    /* obs-fold continues the Referer, not another field */
    check("GET / HTTP/1.1\r\nReferer: /?a=1\r\n &token=abc\r\n"
          "X: /?a=1\r\n &token=def\r\n\r\n",
          "GET / HTTP/1.1\r\nReferer: /?a=1\r\n &token=REDACTED\r\n"
          "X: /?a=1\r\n &token=def\r\n\r\n",
          "");
}
END_TEST

/* httpd skips empty lines before the request line; the empty line after
 * the fields ends the scan: a body, or the next request, passes as it is. */
START_TEST(stream_block_bounds)
{
    fed_t f;

    check("\r\n\r\nGET /?token=a HTTP/1.1\r\n\r\n",
          "\r\n\r\nGET /?token=REDACTED HTTP/1.1\r\n\r\n", "a");
    check("POST /?token=a HTTP/1.1\r\nContent-Length: 7\r\n\r\ntoken=b",
          "POST /?token=REDACTED HTTP/1.1\r\nContent-Length: 7\r\n\r\ntoken=b",
          "a");
    check("GET /?token=a HTTP/1.1\r\n\r\nGET /?token=b HTTP/1.1\r\n\r\n",
          "GET /?token=REDACTED HTTP/1.1\r\n\r\nGET /?token=b HTTP/1.1\r\n\r\n",
          "a");
    f = feed("GET /?token=a HTTP/1.1\r\nHost: x\r\n");
    ck_assert(pv_redact_stream_has_request_line(f.st));
    ck_assert(!pv_redact_stream_done(f.st));
    f = feed("GET /?token=a HTTP/1.1\r\n\r\n");
    ck_assert(pv_redact_stream_done(f.st));
    /* a line with only a CR before the request line is empty too */
    f = feed("\r\n");
    ck_assert(!pv_redact_stream_has_request_line(f.st));
    /* a value the input has not finished yet is kept as far as it came */
    f = feed("GET /?token=abc");
    ck_assert(!pv_redact_stream_has_request_line(f.st));
    ck_assert_str_eq(f.out, "GET /?token=REDACTED");
    ck_assert_str_eq(values(f.st), "abc");
}
END_TEST

START_TEST(stream_names)
{
    /* the longest raw name that can be ours, and one byte more */
    check(
        "GET /?%61%63%63%65%73%73%5f%74%6f%6b%65%6e=a HTTP/1.1\r\n\r\n",
        "GET /?%61%63%63%65%73%73%5f%74%6f%6b%65%6e=REDACTED HTTP/1.1\r\n\r\n",
        "a");
    check("GET /?x%61%63%63%65%73%73%5f%74%6f%6b%65%6e=a HTTP/1.1\r\n\r\n",
          "GET /?x%61%63%63%65%73%73%5f%74%6f%6b%65%6e=a HTTP/1.1\r\n\r\n", "");
    /* after a long name's separator, the next one counts */
    check("GET /?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;token=a "
          "HTTP/1.1\r\n\r\n",
          "GET /?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;token=REDACTED "
          "HTTP/1.1\r\n\r\n",
          "a");
    /* '+' is a space: another name */
    check("GET /?token+=a HTTP/1.1\r\n\r\n", "GET /?token+=a HTTP/1.1\r\n\r\n",
          "");
}
END_TEST

/* httpd takes up to limit + 1 bytes before the line end: line_max bytes
 * pass, one more is ENOSPC, counted on the bytes as sent. */
START_TEST(stream_limits)
{
    char line[64];
    fed_t f;
    apr_size_t n;

    /* "GET /?token=abcdefgh HTTP/1.1" is 29 bytes */
    strcpy(line, "GET /?token=abcdefgh HTTP/1.1\r\n\r\n");
    n = strlen(line);
    f = feed_n(line, n, 0, 29, 8191);
    ck_assert_int_eq(f.rv, APR_SUCCESS);
    f = feed_n(line, n, 0, 28, 8191);
    ck_assert_int_eq(f.rv, APR_ENOSPC);
    /* byte by byte: the same */
    f = feed_n(line, n, 1, 28, 8191);
    ck_assert_int_eq(f.rv, APR_ENOSPC);
    /* the CR of the CRLF is not counted, a bare LF line the same */
    f = feed_s("GET /?token=abcdefgh HTTP/1.1\n\n", 1, 29, 8191);
    ck_assert_int_eq(f.rv, APR_SUCCESS);
    /* a CR inside the line is */
    f = feed_s("GET /?token=abcdefg\r HTTP/1.1\r\n", 1, 29, 8191);
    ck_assert_int_eq(f.rv, APR_SUCCESS);
    f = feed_s("GET /?token=abcdefgh\r HTTP/1.1\r\n", 1, 29, 8191);
    ck_assert_int_eq(f.rv, APR_ENOSPC);
    /* no more bytes after an error */
    {
        char out[64];
        apr_size_t o = 1;

        ck_assert_int_eq(
            pv_redact_stream_feed(f.st, out, sizeof(out), &o, "x", 1),
            APR_EINVAL);
        ck_assert_uint_eq(o, 0);
    }
    /* a Referer line has field_max; other fields are left to httpd */
    f = feed_s("GET / HTTP/1.1\r\nReferer: /?token=abcdef\r\n\r\n", 0, 8191,
               23);
    ck_assert_int_eq(f.rv, APR_SUCCESS);
    f = feed_s("GET / HTTP/1.1\r\nReferer: /?token=abcdefg\r\n\r\n", 0, 8191,
               23);
    ck_assert_int_eq(f.rv, APR_ENOSPC);
    f = feed_s("GET / HTTP/1.1\r\nX-Long: /?token=abcdefghijklmnop\r\n\r\n", 0,
               8191, 23);
    ck_assert_int_eq(f.rv, APR_SUCCESS);
    /* and the fold of a Referer, per line */
    f = feed_s("GET / HTTP/1.1\r\nReferer: /?a=1\r\n &token=abcdefghijklmnopq"
               "rstuvw\r\n\r\n",
               0, 8191, 23);
    ck_assert_int_eq(f.rv, APR_ENOSPC);
}
END_TEST

START_TEST(stream_output_room)
{
    pv_redact_stream_t *st;
    char out[256];
    apr_size_t o, n, i;
    static const char pre[] = "GET /?token=";
    char in[200];

    ck_assert_int_eq(pv_redact_stream_make(&st, 0, 1, pool), APR_EINVAL);
    ck_assert_int_eq(pv_redact_stream_make(&st, 8191, 8191, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_redact_stream_feed(st, out, 2, &o, "GET", 3),
                     APR_EINVAL);
    /* the worst case: a value's first byte first, then "&token=x" again
     * and again; it fits in PV_REDACT_STREAM_OUT_MAX */
    ck_assert_int_eq(
        pv_redact_stream_feed(st, out, sizeof(out), &o, pre, sizeof(pre) - 1),
        APR_SUCCESS);
    in[0] = 'x';
    for (n = 1, i = 0; i < 12; i++, n += 8) {
        memcpy(in + n, "&token=x", 8);
    }
    ck_assert_uint_le(PV_REDACT_STREAM_OUT_MAX(n), sizeof(out));
    ck_assert_int_eq(
        pv_redact_stream_feed(st, out, PV_REDACT_STREAM_OUT_MAX(n), &o, in, n),
        APR_SUCCESS);
    /* "REDACTED", then "&token=REDACTED" twelve times */
    ck_assert_uint_eq(o, 8 + 12 * 15);
}
END_TEST

/* What the handler reads: the redacted request line's query, with the
 * kept values put back, is the query as sent. */
START_TEST(stream_restored_by_handler)
{
    static const char *queries[] = {
        "token=abc", "w=1&token=a.b.c&access_token=d",
        "token=&TOKEN=x%2Fy;z&a=token=", "token=REDACTED&token=real",
        "%74oken=1?token=2"};
    apr_size_t i;

    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        const char *in =
            apr_pstrcat(pool, "GET /p?", queries[i], " HTTP/1.1\r\n\r\n", NULL);
        fed_t f = feed(in);
        const char *q, *back;
        char *end;

        ck_assert_int_eq(f.rv, APR_SUCCESS);
        q = apr_pstrdup(pool, f.out + 7);
        end = strchr(q, ' ');
        *end = '\0';
        ck_assert_int_eq(pv_redact_restore(&back, q,
                                           pv_redact_stream_values(f.st, pool),
                                           pool),
                         APR_SUCCESS);
        ck_assert_str_eq(back, queries[i]);
    }
}
END_TEST

Suite *pv_test_redact_suite(void)
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

    tc = tcase_create("redact_stream");
    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, stream_request_line);
    tcase_add_test(tc, stream_what_httpd_checks_passes);
    tcase_add_test(tc, stream_nul_byte);
    tcase_add_test(tc, stream_referer);
    tcase_add_test(tc, stream_block_bounds);
    tcase_add_test(tc, stream_names);
    tcase_add_test(tc, stream_limits);
    tcase_add_test(tc, stream_output_room);
    tcase_add_test(tc, stream_restored_by_handler);
    suite_add_tcase(s, tc);
    return s;
}
