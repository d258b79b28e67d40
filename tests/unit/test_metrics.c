/* pv_metrics: the counting calls, the exact Prometheus and status text
 * they read out as, and counts from two threads adding up. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_db.h"
#include "pv_metrics.h"

typedef struct {
    char buf[65536];
    apr_size_t len;
} out_t;

static void collect(void *baton, const char *s, apr_size_t len)
{
    out_t *o = baton;

    ck_assert_uint_lt(o->len + len, sizeof(o->buf));
    memcpy(o->buf + o->len, s, len);
    o->len += len;
    o->buf[o->len] = '\0';
}

static pv_metrics_t m;
static out_t out;

/* Empty counters labelled server, an empty output; *v shows m. */
static out_t *fresh(pv_metrics_view_t *v, const char *server, int has_cache)
{
    pv_metrics_reset(&m, server);
    memset(&out, 0, sizeof(out));
    memset(v, 0, sizeof(*v));
    v->m = &m;
    v->has_cache = has_cache;
    v->cache_bytes = -1;
    v->cache_entries = -1;
    return &out;
}

/* The sample lines of out (no # lines). */
static char *samples(const out_t *o)
{
    static char buf[65536];
    const char *p = o->buf;
    apr_size_t n = 0;

    while (*p) {
        const char *e = strchr(p, '\n');
        apr_size_t l = e ? (apr_size_t)(e - p + 1) : strlen(p);

        if (*p != '#') {
            memcpy(buf + n, p, l);
            n += l;
        }
        p += l;
    }
    buf[n] = '\0';
    return buf;
}

START_TEST(empty_has_families_only)
{
    pv_metrics_view_t v;
    out_t *o = fresh(&v, "localhost:80", 0);

    pv_metrics_prometheus(&v, 1, collect, o);
    ck_assert_str_eq(samples(o), "");
    ck_assert_ptr_nonnull(
        strstr(o->buf, "# TYPE mod_preview_requests_total counter\n"));
    ck_assert_ptr_nonnull(
        strstr(o->buf, "# TYPE mod_preview_render_seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(o->buf, "# TYPE mod_preview_db_up gauge\n"));
}
END_TEST

START_TEST(counts_exact_text)
{
    pv_metrics_view_t v;
    out_t *o = fresh(&v, "a.example:8080", 1);

    v.cache_bytes = 12345;
    v.cache_entries = 3;
    v.cache_counted_at = apr_time_from_sec(1700000000);
    pv_metrics_request(&m, PV_METRICS_H_PREVIEW, 200);
    pv_metrics_request(&m, PV_METRICS_H_PREVIEW, 200);
    pv_metrics_request(&m, PV_METRICS_H_PREVIEW, 401);
    pv_metrics_request(&m, PV_METRICS_H_LOGIN, 418); /* other */
    pv_metrics_cache(&m, PV_METRICS_CACHE_HIT);
    pv_metrics_render(&m, "jpegload_source", 30000); /* le 0.05 */
    pv_metrics_render(&m, "jpegload", 20000000);     /* +Inf */
    pv_metrics_render_wait(&m, 0);
    pv_metrics_db(&m, APR_SUCCESS);
    pv_metrics_db(&m, PV_DB_UNAVAILABLE);
    pv_metrics_db(&m, PV_DB_ERROR);
    pv_metrics_login(&m, PV_METRICS_LOGIN_LIMITED);
    pv_metrics_token_refused(&m, pv_metrics_token_reason(PV_TOKEN_EXPIRED));
    pv_metrics_prometheus(&v, 1, collect, o);
    ck_assert_str_eq(
        samples(o),
        "mod_preview_requests_total{server=\"a.example:8080\",handler="
        "\"login\","
        "code=\"other\"} 1\n"
        "mod_preview_requests_total{server=\"a.example:8080\",handler="
        "\"preview\",code=\"200\"} 2\n"
        "mod_preview_requests_total{server=\"a.example:8080\",handler="
        "\"preview\",code=\"401\"} 1\n"
        "mod_preview_cache_total{server=\"a.example:8080\",result=\"hit\"} 1\n"
        "mod_preview_db_errors_total{server=\"a.example:8080\",kind="
        "\"unavailable\"} 1\n"
        "mod_preview_db_errors_total{server=\"a.example:8080\",kind=\"query\"} "
        "1\n"
        "mod_preview_login_total{server=\"a.example:8080\",result=\"limited\"} "
        "1\n"
        "mod_preview_tokens_refused_total{server=\"a.example:8080\",reason="
        "\"expired\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.001\"} 0\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.005\"} 0\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.01\"} 0\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.025\"} 0\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.05\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.1\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.25\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"0.5\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"1\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"2.5\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"5\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"10\"} 1\n"
        "mod_preview_render_seconds_bucket{server=\"a.example:8080\",format="
        "\"jpeg\",le=\"+Inf\"} 2\n"
        "mod_preview_render_seconds_sum{server=\"a.example:8080\",format="
        "\"jpeg\"} 20.030000\n"
        "mod_preview_render_seconds_count{server=\"a.example:8080\",format="
        "\"jpeg\"} 2\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.001\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.005\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.01\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.025\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.05\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.1\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.25\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"0.5\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"1\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"2.5\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"5\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"10\"} 1\n"
        "mod_preview_render_wait_seconds_bucket{server=\"a.example:8080\",le="
        "\"+Inf\"} 1\n"
        "mod_preview_render_wait_seconds_sum{server=\"a.example:8080\"} "
        "0.000000\n"
        "mod_preview_render_wait_seconds_count{server=\"a.example:8080\"} 1\n"
        /* a query error reached MariaDB: up again */
        "mod_preview_db_up{server=\"a.example:8080\"} 1\n"
        "mod_preview_cache_bytes{server=\"a.example:8080\"} 12345\n"
        "mod_preview_cache_entries{server=\"a.example:8080\"} 3\n"
        "mod_preview_cache_counted_timestamp_seconds{server=\"a.example:"
        "8080\"} 1700000000\n");
}
END_TEST

START_TEST(status_lines)
{
    pv_metrics_view_t v;
    out_t *o = fresh(&v, "h:81", 1);

    pv_metrics_request(&m, PV_METRICS_H_METRICS, 200);
    pv_metrics_db(&m, PV_DB_UNAVAILABLE);
    pv_metrics_render(&m, "gifload", 1000);
    pv_metrics_status(&v, 1, 0, collect, o);
    ck_assert_str_eq(o->buf, "PreviewRequestsTotal h 81 metrics 200: 1\n"
                             "PreviewDbErrorsTotal h 81 unavailable: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.001: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.005: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.01: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.025: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.05: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.1: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.25: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 0.5: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 1: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 2.5: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 5: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif 10: 1\n"
                             "PreviewRenderSecondsBucket h 81 gif +Inf: 1\n"
                             "PreviewRenderSecondsSum h 81 gif: 0.001000\n"
                             "PreviewRenderSecondsCount h 81 gif: 1\n"
                             "PreviewDbUp h 81: 0\n");
}
END_TEST

START_TEST(labels_escaped)
{
    pv_metrics_view_t v;
    out_t *o = fresh(&v, "a\"b\\c<d>:1", 0);

    pv_metrics_login(&m, PV_METRICS_LOGIN_OK);
    pv_metrics_prometheus(&v, 1, collect, o);
    ck_assert_str_eq(samples(o),
                     "mod_preview_login_total{server=\"a\\\"b\\\\c<d>:1\","
                     "result=\"ok\"} 1\n");
    o->len = 0;
    pv_metrics_status(&v, 1, 1, collect, o);
    ck_assert_str_eq(o->buf, "<tr><td>PreviewLoginTotal</td><td>a&quot;b\\c"
                             "&lt;d&gt; 1 ok</td><td>1</td></tr>\n");
}
END_TEST

START_TEST(null_and_out_of_range)
{
    pv_metrics_view_t v;
    out_t *o = fresh(&v, "x:1", 0);

    pv_metrics_request(NULL, PV_METRICS_H_PREVIEW, 200);
    pv_metrics_db(NULL, PV_DB_ERROR);
    pv_metrics_request(&m, PV_METRICS_H_COUNT, 200);
    pv_metrics_login(&m, PV_METRICS_LOGIN_COUNT);
    pv_metrics_token_refused(&m, PV_METRICS_TOKEN_COUNT);
    pv_metrics_cache(&m, PV_METRICS_CACHE_COUNT);
    pv_metrics_prometheus(&v, 1, collect, o);
    ck_assert_str_eq(samples(o), "");
    ck_assert_int_eq(pv_metrics_source_of(NULL), PV_METRICS_SRC_OTHER);
    ck_assert_int_eq(pv_metrics_source_of("svgload"), PV_METRICS_SRC_OTHER);
    ck_assert_int_eq(pv_metrics_source_of("heifload_source"),
                     PV_METRICS_SRC_HEIF);
    ck_assert_int_eq(pv_metrics_token_reason(PV_TOKEN_DUPLICATE_KEY),
                     PV_METRICS_TOKEN_MALFORMED);
}
END_TEST

#define PER_THREAD 200000

static void *hammer(void *data)
{
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        pv_metrics_request(data, PV_METRICS_H_PREVIEW, 200);
        pv_metrics_render_wait(data, 1);
    }
    return NULL;
}

START_TEST(threads_add_up)
{
    pthread_t t[2];

    pv_metrics_reset(&m, "t:1");
    ck_assert_int_eq(pthread_create(&t[0], NULL, hammer, &m), 0);
    ck_assert_int_eq(pthread_create(&t[1], NULL, hammer, &m), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    ck_assert_uint_eq(m.requests[PV_METRICS_H_PREVIEW][0], 2 * PER_THREAD);
    ck_assert_uint_eq(m.render_wait.bucket[0], 2 * PER_THREAD);
    ck_assert_uint_eq(m.render_wait.sum_us, 2 * PER_THREAD);
}
END_TEST

Suite *pv_test_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, empty_has_families_only);
    tcase_add_test(tc, counts_exact_text);
    tcase_add_test(tc, status_lines);
    tcase_add_test(tc, labels_escaped);
    tcase_add_test(tc, null_and_out_of_range);
    tcase_add_test(tc, threads_add_up);
    suite_add_tcase(s, tc);
    return s;
}
