/* Tokens out of every module's sight and every log: the bytes of an
 * HTTP/1.x request line and Referer lines redacted by an input filter as
 * they arrive (before httpd core reads, parses or logs them), the fields of
 * a request that had no such line (HTTP/2) at post_read_request, mod_preview's
 * handlers given the values back, and everything a log format reads
 * redacted again at log_transaction. The string work is the core's
 * (pv_redact.c, pv_redact_stream.c). */
/* Before any APR header: APR_OFFSETOF() is offsetof() only when <stddef.h>
 * came first, else a member access through a null pointer (undefined; UBSan
 * reports it in APR_BRIGADE_INSERT_TAIL). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_buckets.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "mod_preview.h"
#include "mod_preview_redact.h"
#include "pv_log.h"
#include "pv_redact.h"
#include "pv_redact_stream.h"

APLOG_USE_MODULE(preview);

#define PV_REDACT_FILTER "PREVIEW_REDACT_IN"

/* Per request read from a connection (r->request_config of the initial
 * request): the filter's scanner, and the token values it took out. */
typedef struct {
    pv_redact_stream_t *st;     /* NULL: no HTTP/1 request line (HTTP/2) */
    ap_filter_t *f;             /* the filter, until post_read_request */
    apr_bucket_brigade *tmp;    /* what the filter below gave */
    apr_array_header_t *values; /* pv_redact_value_t, as sent, in order */
    apr_status_t failed;        /* for the next read: a line too long */
} pv_redact_req;

static ap_filter_rec_t *redact_filter;

#define PV_QS_SUFFIX "QUERY_STRING"

/* *field redacted as a request line or URI; 1 when it changed. */
static int redact_uri(char **field, apr_pool_t *p)
{
    const char *out;
    int changed = 0;

    if (pv_redact_query(&out, &changed, *field, p) == APR_SUCCESS && changed) {
        *field = (char *)out;
    }
    return changed;
}

/* *field redacted as a query (no '?' before it). */
static void redact_args(char **field, apr_pool_t *p)
{
    const char *out;
    int changed = 0;

    if (pv_redact_args(&out, &changed, *field, p) == APR_SUCCESS && changed) {
        *field = (char *)out;
    }
}

static int is_query_string_key(const char *key)
{
    apr_size_t klen = strlen(key), slen = sizeof(PV_QS_SUFFIX) - 1;

    return klen >= slen && !strcasecmp(key + klen - slen, PV_QS_SUFFIX);
}

/* Values replaced in place (keys, and so the table's index, unchanged).
 * name: only the entries of that header, as URIs; NULL: every entry, those
 * named *QUERY_STRING as queries (CGI's QUERY_STRING, its REDIRECT_ copies
 * after each internal redirect), the others as URIs. */
static void redact_table(apr_table_t *t, const char *name, apr_pool_t *p)
{
    const apr_array_header_t *arr;
    apr_table_entry_t *e;
    int i;

    if (!t) {
        return;
    }
    arr = apr_table_elts(t);
    e = (apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (!e[i].key || !e[i].val) {
            continue;
        }
        if (name) {
            if (!strcasecmp(e[i].key, name)) {
                redact_uri(&e[i].val, p);
            }
        }
        else if (is_query_string_key(e[i].key)) {
            redact_args(&e[i].val, p);
        }
        else {
            redact_uri(&e[i].val, p);
        }
    }
}

/* One bucket through the scanner into bb; *pmade set when it gave bytes. */
static apr_status_t redact_bucket(pv_redact_req *rq, apr_bucket_brigade *bb,
                                  apr_bucket *e, apr_read_type_e block,
                                  int *pmade)
{
    apr_bucket_alloc_t *ba = bb->bucket_alloc;
    const char *data;
    apr_size_t len, cap, olen = 0;
    char *out;
    apr_status_t rv;

    rv = apr_bucket_read(e, &data, &len, block);
    if (rv != APR_SUCCESS || len == 0) {
        return rv;
    }
    cap = PV_REDACT_STREAM_OUT_MAX(len);
    out = apr_bucket_alloc(cap, ba);
    rv = pv_redact_stream_feed(rq->st, out, cap, &olen, data, len);
    if (olen == 0) {
        apr_bucket_free(out);
        return rv;
    }
    APR_BRIGADE_INSERT_TAIL(
        bb, apr_bucket_heap_create(out, olen, apr_bucket_free, ba));
    *pmade = 1;
    /* A line over its limit: httpd gets what came before the limit, then
     * the error on its next read, and logs that much (redacted), as it
     * would have without the filter. */
    rq->failed = rv;
    return APR_SUCCESS;
}

/* Between httpd core's line reader and the connection filters (mod_ssl,
 * mod_reqtimeout, CORE_IN): a line whose bytes were all inside a token
 * value gives nothing, so a blocking read reads on (an empty answer would
 * be an error to ap_rgetline). APR_ENOSPC (a line over its limit counted
 * as sent) makes httpd answer 414, or 400 for a Referer line. */
static apr_status_t redact_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                     ap_input_mode_t mode,
                                     apr_read_type_e block, apr_off_t readbytes)
{
    pv_redact_req *rq = f->ctx;
    apr_status_t rv;
    int made = 0;

    if (rq->failed != APR_SUCCESS) {
        return rq->failed;
    }
    /* A speculative read is a peek: the bytes come again, scan them then. */
    if (pv_redact_stream_done(rq->st) ||
        (mode != AP_MODE_GETLINE && mode != AP_MODE_READBYTES &&
         mode != AP_MODE_EXHAUSTIVE)) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    do {
        rv = ap_get_brigade(f->next, rq->tmp, mode, block, readbytes);
        if (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(rq->tmp)) {
            return APR_SUCCESS;
        }
        while (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(rq->tmp)) {
            apr_bucket *e = APR_BRIGADE_FIRST(rq->tmp);

            if (APR_BUCKET_IS_METADATA(e)) {
                APR_BUCKET_REMOVE(e);
                APR_BRIGADE_INSERT_TAIL(bb, e);
                made = 1;
                continue;
            }
            rv = redact_bucket(rq, bb, e, block, &made);
            apr_bucket_delete(e);
            if (rq->failed != APR_SUCCESS) {
                break;
            }
        }
        if (rv != APR_SUCCESS || rq->failed != APR_SUCCESS) {
            /* the rest of a line that is refused anyway */
            apr_brigade_cleanup(rq->tmp);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    } while (!made && block == APR_BLOCK_READ);
    return made ? APR_SUCCESS : APR_EAGAIN;
}

void pv_redact_register_filter(void)
{
    redact_filter = ap_register_input_filter(PV_REDACT_FILTER, redact_in_filter,
                                             NULL, AP_FTYPE_PROTOCOL);
}

void pv_redact_pre_read_request(request_rec *r, conn_rec *c)
{
    pv_redact_req *rq;

    /* mod_http2's streams (c->master) carry no request line; a proxy's
     * backend connections are not requests to us. */
    if (c->master || c->outgoing) {
        return;
    }
    rq = apr_pcalloc(r->pool, sizeof(*rq));
    /* httpd's own limits, +1: ap_rgetline takes limit + 1 bytes before
     * the line end (r->server is the connection's base server here, as
     * for httpd's reads). */
    if (pv_redact_stream_make(&rq->st,
                              (apr_size_t)r->server->limit_req_line + 1,
                              (apr_size_t)r->server->limit_req_fieldsize + 1,
                              r->pool) != APR_SUCCESS) {
        return;
    }
    rq->tmp = apr_brigade_create(r->pool, c->bucket_alloc);
    rq->f = ap_add_input_filter_handle(redact_filter, rq, r, c);
    ap_set_module_config(r->request_config, &preview_module, rq);
}

int pv_redact_post_read_request(request_rec *r)
{
    pv_redact_req *rq =
        ap_get_module_config(r->request_config, &preview_module);
    apr_array_header_t *keep = NULL;
    const char *args;
    int changed, from_line;

    if (!rq) {
        rq = apr_pcalloc(r->pool, sizeof(*rq));
        ap_set_module_config(r->request_config, &preview_module, rq);
    }
    if (rq->f) {
        /* the header block has been read */
        ap_remove_input_filter(rq->f);
        rq->f = NULL;
    }
    from_line = rq->st && pv_redact_stream_has_request_line(rq->st);
    if (from_line) {
        rq->values = pv_redact_stream_values(rq->st, r->pool);
    }
    else {
        /* HTTP/2: mod_http2 made the request line and URI from its
         * :path, so they are redacted here, before every other module's
         * post_read_request, and the values kept from the query. */
        rq->values = keep =
            apr_array_make(r->pool, 2, sizeof(pv_redact_value_t));
    }
    /* Also a second layer for HTTP/1 (the fields hold REDACTED already,
     * so nothing changes and nothing is copied). */
    redact_uri(&r->the_request, r->pool);
    redact_uri(&r->unparsed_uri, r->pool);
    if (pv_redact_args_keep(&args, &changed, keep, r->args, r->pool) ==
        APR_SUCCESS) {
        r->args = (char *)args;
    }
    redact_args(&r->parsed_uri.query, r->pool);
    /* Informational only; error lines end with ", referer: <value>". */
    redact_table(r->headers_in, "Referer", r->pool);
    if (rq->values->nelts > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      PVLOGNO(0900) "%d token value(s) redacted from the "
                                    "request (%s)",
                      rq->values->nelts,
                      from_line ? "as read" : "built by another module");
    }
    return DECLINED;
}

const char *pv_redact_handler_args(request_rec *r)
{
    const request_rec *root = r;
    const pv_redact_req *rq;
    const char *out;

    /* internal redirects and subrequests: the values are the initial
     * request's, the one read from the connection */
    while (root->prev || root->main) {
        root = root->prev ? root->prev : root->main;
    }
    rq = ap_get_module_config(root->request_config, &preview_module);
    if (!rq || !rq->values ||
        pv_redact_restore(&out, r->args, rq->values, r->pool) != APR_SUCCESS) {
        return r->args;
    }
    return out;
}

void pv_redact_request(request_rec *r)
{
    redact_uri(&r->the_request, r->pool);
    redact_uri(&r->unparsed_uri, r->pool);
    redact_uri(&r->uri, r->pool);
    redact_args(&r->args, r->pool);
    redact_args(&r->parsed_uri.query, r->pool);
}

int pv_redact_log_transaction(request_rec *r)
{
    request_rec *rr = r;

    /* mod_log_config reads the first request of the chain (%r, %U by
     * default) and the last (%q, %>s, %{...}e): redact them all. */
    while (rr->main) {
        rr = rr->main;
    }
    while (rr->prev) {
        rr = rr->prev;
    }
    for (; rr; rr = rr->next) {
        pv_redact_request(rr);
        redact_table(rr->headers_in, "Referer", rr->pool);
        redact_table(rr->subprocess_env, NULL, rr->pool);
    }
    return DECLINED;
}
