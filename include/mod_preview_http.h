/* How mod_preview answers: JSON bodies and the headers each status needs;
 * and how it reads a POST's form or JSON body.
 *
 * The handler protocol: every step of a handler returns OK (go on) or DONE
 * (the answer has been sent), or an HTTP status for httpd to answer when
 * nothing was sent; a handler reads as
 * `if ((rc = step(...)) != OK) return rc;` and its hook function returns
 * pv_http_handler_return(rc). */
#ifndef MOD_PREVIEW_HTTP_H
#define MOD_PREVIEW_HTTP_H

#include "httpd.h"

#include <jansson.h>

/* What a hook function returns to httpd for a handler's rc: DONE (the
 * answer sent) as OK, anything else as it is. */
int pv_http_handler_return(int rc);

/* Send {"error": code, "message": message} with status and its headers:
 * WWW-Authenticate on 401, Allow on 405 (allow), Retry-After on 429/503
 * (retry_after seconds, when > 0). Returns DONE: the response is
 * complete. */
int pv_http_error(request_rec *r, int status, const char *code,
                  const char *message, const char *allow,
                  apr_int64_t retry_after);

/* The 500 of a bug or a broken configuration: server_error, "internal
 * server error". DONE. */
int pv_http_server_error(request_rec *r);

/* The Retry-After of a 503 while the database is unreachable. */
#define PV_DB_RETRY_AFTER 5

/* The 503 while the database is unreachable: unavailable, Retry-After
 * PV_DB_RETRY_AFTER. DONE. */
int pv_http_db_unavailable(request_rec *r);

/* A failed database call (rv, err from pv_db): the 503 above while it is
 * unreachable (logged at debug with down_tag: pv_db logs each outage
 * once) or refuses the account (pv_dbpool_log_refused too), else the 500
 * (logged at error with error_tag). The tags are each caller's own
 * (PVLOGNO(n)), so a line still names its handler. DONE. */
int pv_http_db_failure(request_rec *r, apr_status_t rv, const char *err,
                       const char *down_tag, const char *error_tag);

/* Send a JSON object with status 200 and Cache-Control: no-store; takes
 * the reference to obj (NULL: nothing sent, HTTP_INTERNAL_SERVER_ERROR).
 * Returns DONE. */
int pv_http_json(request_rec *r, json_t *obj);

/* 1 when the Content-Type value ct has the media type type (parameters
 * such as "; charset=utf-8" allowed, case-insensitive). */
int pv_http_media_type_is(const char *ct, const char *type);

/* The body of a POST that must be a form (x-www-form-urlencoded) or JSON,
 * of at most max bytes (Content-Length checked before anything is read, a
 * chunked body counted as it comes). OK: *pbody (NUL-terminated), *plen,
 * *pjson (1: application/json). Otherwise the answer has been sent (415
 * unsupported_media_type, 413 body_too_large "<what> is limited to <max>
 * bytes", 400 bad_request; the connection is closed after it, the body
 * left unread) and DONE is returned. */
int pv_http_read_form_or_json(const char **pbody, apr_size_t *plen, int *pjson,
                              request_rec *r, apr_size_t max, const char *what);

#endif /* MOD_PREVIEW_HTTP_H */
