/* CORS for login, logout and sign: a preflight answered, the actual
 * response opened to the listed origins only, with credentials (login
 * sets a cookie, logout and sign read it). */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_preview.h"
#include "mod_preview_cors.h"
#include "mod_preview_http.h"
#include "pv_log.h"
#include "pv_origin.h"

APLOG_USE_MODULE(preview);

const char *pv_cors_listed(request_rec *r, const pv_srv_conf *c)
{
    const apr_array_header_t *list = c->cors_origins;
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *canon = NULL, *why = NULL;

    if (!list || !origin ||
        pv_origin_check(origin, NULL, NULL, (const char *const *)list->elts,
                        list->nelts, r->pool) != PV_ORIGIN_LISTED ||
        pv_origin_parse(&canon, &why, origin, r->pool) != APR_SUCCESS) {
        return NULL;
    }
    return canon;
}

int pv_cors_handle(request_rec *r, const pv_srv_conf *c, const char *allow)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *listed = pv_cors_listed(r, c);
    int preflight =
        r->method_number == M_OPTIONS && origin &&
        apr_table_get(r->headers_in, "Access-Control-Request-Method");

    /* The answer depends on Origin: no shared cache may mix them up. */
    if (c->cors_origins) {
        apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    }
    if (listed) {
        /* err_headers_out: an error body must be readable by the page too
         * (its error code, Retry-After, WWW-Authenticate). */
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       listed);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Credentials",
                       "true");
    }
    if (!preflight) {
        if (listed) {
            apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers",
                           "Retry-After, WWW-Authenticate");
        }
        return OK;
    }
    ap_discard_request_body(r);
    if (!listed) {
        /* Refused with a reason a developer can read in the network tab;
         * without Access-Control-Allow-Origin the browser stops here. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(1700) "CORS preflight from %s refused: %s is "
                                    "not in PreviewCORSOrigins",
                      r->useragent_ip,
                      ap_escape_logitem(r->pool, apr_pstrndup(r->pool, origin,
                                                              PV_ORIGIN_MAX)));
        return pv_http_error(r, HTTP_FORBIDDEN, "cross_origin",
                             "this origin is not allowed", NULL, 0);
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods", allow);
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers",
                   "Authorization, Content-Type");
    apr_table_setn(r->err_headers_out, "Access-Control-Max-Age",
                   PV_CORS_MAX_AGE);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(1701) "CORS preflight from %s answered for %s",
                  listed, r->handler);
    r->status = HTTP_NO_CONTENT;
    return DONE;
}
