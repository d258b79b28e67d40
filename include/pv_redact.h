/* Keep tokens out of logs: the value of every token=/access_token= query
 * parameter becomes REDACTED in a request line, a URI or an args string. */
#ifndef PV_REDACT_H
#define PV_REDACT_H

#include <apr_pools.h>

#define PV_REDACTED "REDACTED"

/* For r->the_request, r->unparsed_uri, r->uri: the query starts after the
 * first '?' (or '#': OAuth's implicit flow puts access_token in the
 * fragment). No '?' or '#': nothing to do.
 *
 * What counts as a token parameter is a superset of what
 * pv_request_parse_query() reads as one, so that no token it accepts can
 * reach a log: a parameter starts at the query's start or after '&', ';',
 * '#', '?', a space or a tab; its name is percent-decoded ('+' is a space)
 * and compared case-insensitively with "token" and "access_token"; its
 * value runs up to the next '&' or '#' (';' and spaces included) or the
 * end. A request line's trailing " HTTP/x.y" is never part of a value.
 * Empty values stay empty. "xtoken=" and "token" without '=' are left as
 * they are.
 *
 * *pout is s itself when nothing was redacted (*pchanged 0, no
 * allocation), else a new string in p (*pchanged 1). s NULL: *pout NULL. */
apr_status_t pv_redact_query(const char **pout, int *pchanged, const char *s,
                             apr_pool_t *p);

/* The same for r->args / r->parsed_uri.query: the whole string is the
 * query (no '?' before it). */
apr_status_t pv_redact_args(const char **pout, int *pchanged, const char *s,
                            apr_pool_t *p);

#endif /* PV_REDACT_H */
