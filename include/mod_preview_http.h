/* How mod_preview answers: JSON bodies and the headers each status needs. */
#ifndef MOD_PREVIEW_HTTP_H
#define MOD_PREVIEW_HTTP_H

#include "httpd.h"

#include <jansson.h>

/* Send {"error": code, "message": message} with status and its headers:
 * WWW-Authenticate on 401, Allow on 405 (allow), Retry-After on 429/503
 * (retry_after seconds, when > 0). Returns OK: the response is complete. */
int pv_http_error(request_rec *r, int status, const char *code,
                  const char *message, const char *allow,
                  apr_int64_t retry_after);

/* Send a JSON object with status 200 and Cache-Control: no-store; takes
 * the reference to obj. */
int pv_http_json(request_rec *r, json_t *obj);

#endif /* MOD_PREVIEW_HTTP_H */
