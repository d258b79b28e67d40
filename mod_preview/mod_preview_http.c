/* JSON responses of mod_preview, with the headers each status needs, and
 * the form or JSON body of a POST (login, sign), read within a bound. */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_preview_db.h"
#include "mod_preview_http.h"
#include "pv_db.h"

APLOG_USE_MODULE(preview);

/* DONE once sent; HTTP_INTERNAL_SERVER_ERROR (nothing sent: httpd
 * answers) when obj is NULL or cannot be written out. */
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
    return DONE;
}

int pv_http_handler_return(int rc)
{
    /* httpd 2.4 takes DONE from a handler as OK (ap_process_async_request,
     * ap_run_sub_req, ap_die), but ap_invoke_handler hands it unchanged to
     * whatever module called it: OK is what a handler that has served its
     * answer returns, so that no caller needs to know DONE. */
    return rc == DONE ? OK : rc;
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

int pv_http_server_error(request_rec *r)
{
    return pv_http_error(r, HTTP_INTERNAL_SERVER_ERROR, "server_error",
                         "internal server error", NULL, 0);
}

int pv_http_db_unavailable(request_rec *r)
{
    return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the database is unreachable; retry later", NULL,
                         PV_DB_RETRY_AFTER);
}

int pv_http_db_failure(request_rec *r, apr_status_t rv, const char *err,
                       const char *down_tag, const char *error_tag)
{
    if (rv == PV_DB_UNAVAILABLE || rv == PV_DB_REFUSED) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%sdatabase unavailable: %s", down_tag, err ? err : "?");
        if (rv == PV_DB_REFUSED) {
            pv_dbpool_log_refused(r, err);
        }
        return pv_http_db_unavailable(r);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%sdatabase error: %s",
                  error_tag, err ? err : "?");
    return pv_http_server_error(r);
}

int pv_http_json(request_rec *r, json_t *obj)
{
    r->status = HTTP_OK;
    return send_json(r, obj);
}

int pv_http_media_type_is(const char *ct, const char *type)
{
    apr_size_t n = strlen(type);

    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strncasecmp(ct, type, n) != 0) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

/* Read at most max bytes: Content-Length is checked before anything is
 * read, and a chunked body is counted as it comes. Returns OK or the
 * status to answer. */
static int read_body(const char **pbody, apr_size_t *plen, request_rec *r,
                     apr_size_t max)
{
    apr_size_t len = 0;
    long n;
    char *buf;
    int rc;

    rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        return rc;
    }
    if (r->remaining > (apr_off_t)max) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    buf = apr_palloc(r->pool, max + 1);
    if (ap_should_client_block(r)) {
        /* One byte of room past the limit tells "exactly max" from
         * "more". */
        while ((n = ap_get_client_block(r, buf + len, max + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > max) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buf[len] = '\0';
    *pbody = buf;
    *plen = len;
    return OK;
}

int pv_http_read_form_or_json(const char **pbody, apr_size_t *plen, int *pjson,
                              request_rec *r, apr_size_t max, const char *what)
{
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    int json = pv_http_media_type_is(ctype, "application/json"), rc;

    if (!json &&
        !pv_http_media_type_is(ctype, "application/x-www-form-urlencoded")) {
        /* The body is not read: drop the connection after the answer. */
        r->connection->keepalive = AP_CONN_CLOSE;
        return pv_http_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                             "unsupported_media_type",
                             "send application/x-www-form-urlencoded or "
                             "application/json",
                             NULL, 0);
    }
    rc = read_body(pbody, plen, r, max);
    if (rc != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
        if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return pv_http_error(
                r, rc, "body_too_large",
                apr_psprintf(r->pool,
                             "%s is limited to %" APR_SIZE_T_FMT " bytes", what,
                             max),
                NULL, 0);
        }
        return pv_http_error(r, HTTP_BAD_REQUEST, "bad_request",
                             "unreadable body", NULL, 0);
    }
    *pjson = json;
    return OK;
}
