/* Keeping tokens out of logs (DESIGN "Privacy of the token") without
 * changing what other modules see: the value of token=/access_token=
 * becomes REDACTED in the request line and the Referer header as soon as
 * the request has been read; the URI and query only once mod_preview's own
 * handler has read its token; and everything a log format can print, for
 * every request, when the request is logged. */
#ifndef MOD_PREVIEW_REDACT_H
#define MOD_PREVIEW_REDACT_H

#include "httpd.h"

/* post_read_request, before every other module (mod_log_forensic
 * included): redact r->the_request (%r, server-status) and the Referer
 * request header (the ", referer: ..." of error lines). The URI and query
 * stay as sent: mod_rewrite, mod_proxy and other handlers need them. */
int pv_redact_post_read_request(request_rec *r);

/* For mod_preview's handlers, once the token has been read: redact
 * r->the_request, r->unparsed_uri, r->uri, r->args and r->parsed_uri.query
 * of this request, so that no error line written later shows the token. */
void pv_redact_request(request_rec *r);

/* log_transaction, before mod_log_config: for every request of the chain
 * (r->main, r->prev, r->next), redact the five fields above, the Referer
 * header and r->subprocess_env (QUERY_STRING, REDIRECT_QUERY_STRING, ... as
 * a query; REQUEST_URI, REDIRECT_URL, HTTP_REFERER, ... after '?' or '#'). */
int pv_redact_log_transaction(request_rec *r);

#endif /* MOD_PREVIEW_REDACT_H */
