/* Tokens out of the logs: redact at post_read_request, restore for other
 * handlers at fixups, redact again at log_transaction. The string work is
 * the core's (pv_redact.c). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_preview.h"
#include "mod_preview_config.h"
#include "mod_preview_redact.h"
#include "pv_log.h"
#include "pv_redact.h"

APLOG_USE_MODULE(preview);

/* What the request held before redaction (r->request_config). */
typedef struct {
    const char *the_request;
    const char *unparsed_uri;
    const char *uri;
    const char *args;
    const char *query;
} pv_req_orig;

/* Redact the five fields in place; 1 when any changed. */
static int redact_fields(request_rec *r)
{
    const char *out;
    int changed, any = 0;

    if (pv_redact_query(&out, &changed, r->the_request, r->pool) ==
            APR_SUCCESS &&
        changed) {
        r->the_request = (char *)out;
        any = 1;
    }
    if (pv_redact_query(&out, &changed, r->unparsed_uri, r->pool) ==
            APR_SUCCESS &&
        changed) {
        r->unparsed_uri = (char *)out;
        any = 1;
    }
    if (pv_redact_query(&out, &changed, r->uri, r->pool) == APR_SUCCESS &&
        changed) {
        r->uri = (char *)out;
        any = 1;
    }
    if (pv_redact_args(&out, &changed, r->args, r->pool) == APR_SUCCESS &&
        changed) {
        r->args = (char *)out;
        any = 1;
    }
    if (pv_redact_args(&out, &changed, r->parsed_uri.query, r->pool) ==
            APR_SUCCESS &&
        changed) {
        r->parsed_uri.query = (char *)out;
        any = 1;
    }
    return any;
}

int pv_redact_post_read_request(request_rec *r)
{
    pv_req_orig o;

    o.the_request = r->the_request;
    o.unparsed_uri = r->unparsed_uri;
    o.uri = r->uri;
    o.args = r->args;
    o.query = r->parsed_uri.query;
    if (redact_fields(r)) {
        pv_req_orig *keep = apr_pmemdup(r->pool, &o, sizeof(o));

        ap_set_module_config(r->request_config, &preview_module, keep);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      PVLOGNO(0900) "token redacted from the request line");
    }
    return DECLINED;
}

static int is_our_handler(const char *h)
{
    return h && (!strcmp(h, PV_HANDLER_PREVIEW) ||
                 !strcmp(h, PV_HANDLER_LOGIN) || !strcmp(h, PV_HANDLER_LOGOUT));
}

int pv_redact_fixups(request_rec *r)
{
    pv_req_orig *o;

    if (r->main || is_our_handler(r->handler)) {
        return DECLINED;
    }
    o = ap_get_module_config(r->request_config, &preview_module);
    if (!o) {
        return DECLINED;
    }
    /* Not one of ours: its "token" parameter is its own business. */
    r->the_request = (char *)o->the_request;
    r->unparsed_uri = (char *)o->unparsed_uri;
    r->uri = (char *)o->uri;
    r->args = (char *)o->args;
    r->parsed_uri.query = (char *)o->query;
    return DECLINED;
}

int pv_redact_log_transaction(request_rec *r)
{
    request_rec *rr = r;

    /* mod_log_config reads the first request of the chain (%r, %q, %U) and
     * the last (%>s): redact them all. */
    while (rr->prev) {
        rr = rr->prev;
    }
    for (; rr; rr = rr->next) {
        redact_fields(rr);
    }
    return DECLINED;
}

const char *pv_redact_original_args(request_rec *r)
{
    pv_req_orig *o = ap_get_module_config(r->request_config, &preview_module);

    return o ? o->args : r->args;
}
