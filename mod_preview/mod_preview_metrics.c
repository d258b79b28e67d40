/* The counters in httpd: their shared block (post_config), the requests
 * counted at log_transaction, the preview-metrics handler and the
 * server-status section (see mod_preview_metrics.h). */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "mod_status.h"

#include <string.h>

#include "mod_preview.h"
#include "mod_preview_config.h"
#include "mod_preview_http.h"
#include "mod_preview_kept.h"
#include "mod_preview_metrics.h"
#include "mod_preview_server.h"
#include "pv_cache.h"
#include "pv_log.h"
#include "pv_metrics.h"

APLOG_USE_MODULE(preview);

/* Blocks are made for a multiple of this many servers, so that a restart
 * that adds a vhost or two finds the same size and keeps the counts. */
#define SLOT_ROUND 16

/* Every server's counters, in the order the parent placed them (pconf,
 * inherited by the children); nslots in use. */
static pv_metrics_t *slots;
static int nslots;

/* "name:port", as a Prometheus scraper names a target. */
static const char *label_of(server_rec *s, apr_pool_t *p)
{
    apr_port_t port = s->port;

    if (!port && s->addrs) {
        port = s->addrs->host_port;
    }
    return apr_psprintf(p, "%s:%u",
                        s->server_hostname ? s->server_hostname : "",
                        (unsigned)port);
}

/* The slot labelled label among the first n, or NULL. */
static pv_metrics_t *slot_of(pv_metrics_t *base, int n, const char *label)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!strncmp(base[i].server, label, PV_METRICS_SERVER_MAX - 1)) {
            return &base[i];
        }
    }
    return NULL;
}

void pv_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *labels = apr_array_make(ptemp, 8, sizeof(char *));
    pv_metrics_t *base = NULL;
    char *claimed;
    server_rec *sv;
    int i, n, fresh = 0;
    apr_status_t rv;

    slots = NULL;
    nslots = 0;
    /* The distinct labels: servers named alike share their counters. */
    for (sv = s; sv; sv = sv->next) {
        const char *l = label_of(sv, ptemp);

        for (i = 0; i < labels->nelts; i++) {
            if (!strcmp(APR_ARRAY_IDX(labels, i, const char *), l)) {
                break;
            }
        }
        if (i == labels->nelts) {
            APR_ARRAY_PUSH(labels, const char *) = l;
        }
    }
    n = (labels->nelts + SLOT_ROUND - 1) / SLOT_ROUND * SLOT_ROUND;
    rv = pv_kept_shm((void **)&base, &fresh, s, "metrics",
                     (apr_size_t)n * sizeof(pv_metrics_t));
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     PVLOGNO(1550) "no shared memory for the counters of "
                                   "%d servers: preview-metrics and "
                                   "server-status show none",
                     labels->nelts);
        return;
    }
    /* Labels an earlier generation counted keep their slot; the others
     * take a slot nobody claims now, emptied. */
    claimed = apr_pcalloc(ptemp, (apr_size_t)n);
    for (i = 0; i < labels->nelts; i++) {
        const char *l = APR_ARRAY_IDX(labels, i, const char *);
        pv_metrics_t *m = fresh ? NULL : slot_of(base, n, l);

        if (m) {
            claimed[m - base] = 1;
        }
    }
    for (i = 0; i < labels->nelts; i++) {
        const char *l = APR_ARRAY_IDX(labels, i, const char *);
        int j;

        if (!fresh && slot_of(base, n, l)) {
            continue;
        }
        for (j = 0; claimed[j]; j++) {
        }
        claimed[j] = 1;
        pv_metrics_reset(&base[j], l);
    }
    /* PreviewMetrics Off: nothing of this server is counted (its label's
     * counters show what servers named alike counted). */
    for (sv = s; sv; sv = sv->next) {
        pv_srv_conf_get(sv)->server->metrics =
            pv_srv_conf_get(sv)->metrics ? slot_of(base, n, label_of(sv, ptemp))
                                         : NULL;
    }
    slots = base;
    nslots = n;
}

/* ------------------------------------------------------------- output */

/* What is shown: every claimed slot once, with the cache gauges of the
 * first server counted in it. */
static pv_metrics_view_t *views_of(int *pn, server_rec *s, apr_pool_t *p)
{
    pv_metrics_view_t *v = apr_pcalloc(p, sizeof(*v) * (apr_size_t)nslots);
    server_rec *sv;
    int n = 0, i;

    for (sv = s; sv; sv = sv->next) {
        const pv_server_t *g = pv_server_get(sv);

        if (!g->metrics) {
            continue;
        }
        for (i = 0; i < n && v[i].m != g->metrics; i++) {
        }
        if (i < n) {
            continue;
        }
        v[n].m = g->metrics;
        v[n].has_cache = g->cache != NULL;
        v[n].cache_bytes = g->cache ? pv_cache_usage_bytes(g->cache) : -1;
        v[n].cache_entries = g->cache ? pv_cache_usage_entries(g->cache) : -1;
        v[n].cache_counted_at =
            g->cache ? pv_cache_usage_counted_at(g->cache) : 0;
        n++;
    }
    *pn = n;
    return v;
}

static void write_r(void *baton, const char *s, apr_size_t len)
{
    ap_rwrite(s, (int)len, baton);
}

int pv_metrics_handler(request_rec *r)
{
    pv_metrics_view_t *v;
    int n;

    if (!r->handler || strcmp(r->handler, PV_HANDLER_METRICS)) {
        return DECLINED;
    }
    ap_discard_request_body(r);
    if (r->method_number != M_GET) {
        return pv_http_handler_return(
            pv_http_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                          "method not allowed", "GET, HEAD", 0));
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    v = views_of(&n, ap_server_conf, r->pool);
    pv_metrics_prometheus(v, n, write_r, r);
    return OK;
}

int pv_metrics_status_hook(request_rec *r, int flags)
{
    pv_metrics_view_t *v;
    int n, html = !(flags & AP_STATUS_SHORT);

    if (!slots) {
        return OK;
    }
    v = views_of(&n, ap_server_conf, r->pool);
    if (html) {
        ap_rputs("<hr />\n<h2>mod_preview</h2>\n<table>\n<tr><th>counter"
                 "</th><th>server and labels</th><th>value</th></tr>\n",
                 r);
    }
    pv_metrics_status(v, n, html, write_r, r);
    if (html) {
        ap_rputs("</table>\n", r);
    }
    return OK;
}

/* ----------------------------------------------------------- counting */

static int handler_index(const char *h)
{
    static const char *const names[PV_METRICS_H_COUNT] = {
        PV_HANDLER_LOGIN, PV_HANDLER_LOGOUT, PV_HANDLER_PREVIEW,
        PV_HANDLER_SIGN, PV_HANDLER_METRICS};
    int i;

    for (i = 0; h && i < PV_METRICS_H_COUNT; i++) {
        if (!strcmp(h, names[i])) {
            return i;
        }
    }
    return -1;
}

/* Once per request, after the response, with its final status: the
 * request of the chain that had one of our handlers (an ErrorDocument
 * redirect moves the answer to another), counted for its server. */
int pv_metrics_log_transaction(request_rec *r)
{
    request_rec *last = r, *q;
    int h = -1;

    if (!slots) {
        return DECLINED;
    }
    while (last->next) {
        last = last->next;
    }
    for (q = r; q && (h = handler_index(q->handler)) < 0; q = q->next) {
    }
    if (q) {
        pv_metrics_request(PV_METRICS_OF(q), (pv_metrics_handler_e)h,
                           last->status);
    }
    return DECLINED;
}
