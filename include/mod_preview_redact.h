/* Keeping tokens out of logs (DESIGN "Privacy of the token"): the value of
 * token=/access_token= in the request line, URI and query becomes REDACTED
 * as soon as the request has been read, before any module can log it; the
 * original query stays readable by mod_preview's own handlers only. */
#ifndef MOD_PREVIEW_REDACT_H
#define MOD_PREVIEW_REDACT_H

#include "httpd.h"

/* post_read_request, before every other module (mod_log_forensic
 * included): keep the originals, redact r->the_request, r->unparsed_uri,
 * r->uri, r->args and r->parsed_uri.query. */
int pv_redact_post_read_request(request_rec *r);

/* fixups, last: a request that none of mod_preview's handlers serves gets
 * its original query and request line back (another application on the
 * server may use a "token" parameter of its own); log_transaction redacts
 * them again. */
int pv_redact_fixups(request_rec *r);

/* log_transaction, before mod_log_config: redact again every request of
 * the internal-redirect chain (a fixup, a rewrite or a restore may have
 * put a token back). */
int pv_redact_log_transaction(request_rec *r);

/* The query as the client sent it (r->args before redaction); r->args when
 * nothing was redacted. For mod_preview's handlers, which read the token
 * from it. */
const char *pv_redact_original_args(request_rec *r);

#endif /* MOD_PREVIEW_REDACT_H */
