/* Keeping tokens out of every module's sight and every log (DESIGN
 * "Privacy of the token"): the value of token=/access_token= becomes
 * REDACTED in the bytes of the request line and of Referer lines before
 * httpd reads them (HTTP/1.x), in the request line, URI, query and Referer
 * at post_read_request when there was no such line (HTTP/2); mod_preview's
 * handlers get the values back; everything a log format can print is
 * redacted again when the request is logged. */
#ifndef MOD_PREVIEW_REDACT_H
#define MOD_PREVIEW_REDACT_H

#include "httpd.h"

/* register_hooks: the input filter PREVIEW_REDACT_IN (protocol type). */
void pv_redact_register_filter(void);

/* pre_read_request: for a request read from a client connection (not a
 * mod_http2 stream, not a proxy's backend), add the filter that redacts the
 * request line and Referer lines as they arrive, under httpd's
 * LimitRequestLine and LimitRequestFieldSize counted on the bytes as
 * sent, and keeps the request line's values. */
void pv_redact_pre_read_request(request_rec *r, conn_rec *c);

/* post_read_request, before every other module (mod_log_forensic
 * included): remove the filter and take its values; for a request that had
 * no HTTP/1 request line (mod_http2), redact r->the_request,
 * r->unparsed_uri, r->args, r->parsed_uri.query and the Referer header
 * here, keeping the query's values. */
int pv_redact_post_read_request(request_rec *r);

/* For mod_preview's handlers: r->args with each token value that reads
 * REDACTED given back as the client sent it (pv_redact_restore with the
 * values of the request read from the connection, also through internal
 * redirects, subrequests and a rewrite's [QSA]). r->args when there is
 * nothing to give back. */
const char *pv_redact_handler_args(request_rec *r);

/* For mod_preview's handlers, once the token has been read: redact
 * r->the_request, r->unparsed_uri, r->uri, r->args and r->parsed_uri.query
 * of this request, so that no error line written later shows a token
 * (r->uri can hold a '?' decoded from %3F). */
void pv_redact_request(request_rec *r);

/* log_transaction, before mod_log_config: for every request of the chain
 * (r->main, r->prev, r->next), redact the five fields above, the Referer
 * header and r->subprocess_env (QUERY_STRING, REDIRECT_QUERY_STRING, ... as
 * a query; REQUEST_URI, REDIRECT_URL, HTTP_REFERER, ... after '?' or '#'). */
int pv_redact_log_transaction(request_rec *r);

#endif /* MOD_PREVIEW_REDACT_H */
