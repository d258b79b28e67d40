/* JSON responses of mod_preview, with the headers each status needs. */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_preview_http.h"

static int send_json(request_rec *r, json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);

    json_decref(obj);
    if (!body) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, strlen(body));
    /* Tokens and error details are per user: no cache may keep them. */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (!r->header_only) {
        ap_rwrite(body, strlen(body), r);
    }
    free(body);
    return OK;
}

int pv_http_error(request_rec *r, int status, const char *code,
                  const char *message, const char *allow,
                  apr_int64_t retry_after)
{
    r->status = status;
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer realm=\"preview\", error=\"invalid_token\"");
    }
    if (allow) {
        apr_table_setn(r->err_headers_out, "Allow", allow);
    }
    if (retry_after > 0) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, retry_after));
    }
    return send_json(
        r, json_pack("{s:s, s:s}", "error", code, "message", message));
}

int pv_http_json(request_rec *r, json_t *obj)
{
    r->status = HTTP_OK;
    return send_json(r, obj);
}
