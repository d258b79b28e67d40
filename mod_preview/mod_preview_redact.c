/* Tokens out of the logs, other applications untouched: the request line
 * and Referer at post_read_request, the URI and query in our handlers
 * (pv_redact_request), everything a log format reads at log_transaction.
 * The string work is the core's (pv_redact.c). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "mod_preview.h"
#include "mod_preview_redact.h"
#include "pv_log.h"
#include "pv_redact.h"

APLOG_USE_MODULE(preview);

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

int pv_redact_post_read_request(request_rec *r)
{
    int changed = redact_uri(&r->the_request, r->pool);

    /* Informational only; error lines end with ", referer: <value>". */
    redact_table(r->headers_in, "Referer", r->pool);
    if (changed) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      PVLOGNO(0900) "token redacted from the request line");
    }
    return DECLINED;
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
