/* Keep tokens out of logs: the value of every token=/access_token= query
 * parameter becomes REDACTED in a request line, a URI or an args string;
 * the values it replaced can be kept, and put back for mod_preview's own
 * handlers (pv_redact_restore). */
#ifndef PV_REDACT_H
#define PV_REDACT_H

#include <apr_pools.h>
#include <apr_tables.h>

#define PV_REDACTED "REDACTED"

/* Longest raw name that can decode to "access_token" (12 bytes, %XX each). */
#define PV_REDACT_NAME_RAW_MAX 36

/* A value as it was sent (still %-encoded), not NUL-terminated. */
typedef struct {
    const char *s;
    apr_size_t len;
} pv_redact_value_t;

/* For r->the_request, r->unparsed_uri, r->uri: the query starts after the
 * first '?' (or '#': OAuth's implicit flow puts access_token in the
 * fragment). No '?' or '#': nothing to do.
 *
 * What counts as a token parameter is a superset of what
 * pv_request_parse_query() reads as one, so that no token it accepts can
 * reach a log: a parameter starts at the query's start or after '&', ';',
 * '#', '?', a space, or any other control byte (below 0x21, or 0x7f); its
 * name is percent-decoded ('+' is a space) and compared case-insensitively
 * with "token" and "access_token" (pv_redact_is_token_name); its value
 * runs up to the next '&' or '#' (';' and spaces included) or the end. A
 * request line's trailing " HTTP/d.d" is never part of a value. Empty
 * values stay empty, and a value that already reads REDACTED is left as
 * it is. "xtoken=" and "token" without '=' are left as they are.
 *
 * *pout is s itself when nothing was redacted (*pchanged 0, no
 * allocation), else a new string in p (*pchanged 1). s NULL: *pout NULL. */
apr_status_t pv_redact_query(const char **pout, int *pchanged, const char *s,
                             apr_pool_t *p);

/* The same for r->args / r->parsed_uri.query: the whole string is the
 * query (no '?' before it), and no "HTTP/" is special in it (a rewrite can
 * put a decoded " HTTP/1" anywhere in an args string). */
apr_status_t pv_redact_args(const char **pout, int *pchanged, const char *s,
                            apr_pool_t *p);

/* pv_redact_args, and every non-empty token value of s (a literal REDACTED
 * too), in order, appended to values (an array of pv_redact_value_t; the
 * values point into s). values NULL: pv_redact_args. */
apr_status_t pv_redact_args_keep(const char **pout, int *pchanged,
                                 apr_array_header_t *values, const char *s,
                                 apr_pool_t *p);

/* The inverse for mod_preview's handlers: args (an args string made from a
 * redacted query, possibly with more parameters around it, as a rewrite
 * with [QSA] leaves it) with each token value that reads exactly REDACTED
 * replaced by the next of values (pv_redact_value_t, in the order the
 * redaction kept them), as long as there are values left. Every value in
 * the list was sent by the client of this request, so whatever spot a
 * value lands on, the handler can only ever read a token that client sent.
 * *pout is args itself when nothing was replaced; args NULL: NULL. */
apr_status_t pv_redact_restore(const char **pout, const char *args,
                               const apr_array_header_t *values, apr_pool_t *p);

/* len bytes of s, a raw parameter name: does it decode (lenient %XX, '+'
 * a space) to "token" or "access_token", case-insensitively? */
int pv_redact_is_token_name(const char *s, apr_size_t len);

#endif /* PV_REDACT_H */
