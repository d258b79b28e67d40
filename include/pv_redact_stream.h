/* Token values out of an HTTP/1.x request's header block as its bytes
 * arrive, before httpd has read (or logged) any of it: the request line
 * and every Referer line leave with each token=/access_token= value
 * replaced by REDACTED, the request line's values are kept for
 * mod_preview's handlers, every other byte passes unchanged. */
#ifndef PV_REDACT_STREAM_H
#define PV_REDACT_STREAM_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pv_redact.h"

/* Room pv_redact_stream_feed() needs for len bytes in: every value may
 * grow to REDACTED (a one-byte value at the very start, then one in at
 * most every 8 bytes: separator, "token", '=' and a byte). */
#define PV_REDACT_STREAM_OUT_MAX(len) (2 * (len) + sizeof(PV_REDACTED))

typedef struct pv_redact_stream_t pv_redact_stream_t;

/* A scanner for one request. line_max: the longest request line, and
 * field_max: the longest Referer line, in bytes without the CRLF (httpd
 * takes LimitRequestLine + 1 and LimitRequestFieldSize + 1), counted on
 * the bytes as sent: a long token cannot shrink a line under the limit.
 *
 * The rule is pv_redact_query()'s (names case-insensitive and
 * %-decoded, after the first '?' or '#', parameters also after ';', '?'
 * and control bytes) with one difference: in these raw bytes a value also
 * ends at a space or a control byte, which is emitted as it came, so that
 * httpd still refuses a line it would have refused (a NUL, a CTL in the
 * URI) and still finds its protocol. The first non-empty line is the
 * request line (httpd skips empty lines before it); a line starting with a
 * space or tab continues the field before it (obs-fold); the empty line
 * after the request line ends the block: from there on bytes pass
 * unchanged. */
apr_status_t pv_redact_stream_make(pv_redact_stream_t **pout,
                                   apr_size_t line_max, apr_size_t field_max,
                                   apr_pool_t *p);

/* The next len bytes of the connection (any split: a line, a name or a
 * value may continue in the next call). out: room for
 * PV_REDACT_STREAM_OUT_MAX(len) bytes (APR_EINVAL if outcap is smaller);
 * *poutlen: bytes written, 0 when all of in was inside a value.
 * APR_ENOSPC: the request line or a Referer line passed its maximum (httpd
 * answers 414 or 400); the scanner takes no more bytes after an error. */
apr_status_t pv_redact_stream_feed(pv_redact_stream_t *st, char *out,
                                   apr_size_t outcap, apr_size_t *poutlen,
                                   const char *in, apr_size_t len);

/* 1 once the empty line ending the header block has passed. */
int pv_redact_stream_done(const pv_redact_stream_t *st);

/* 1 once a whole request line has passed. */
int pv_redact_stream_has_request_line(const pv_redact_stream_t *st);

/* The request line's non-empty token values as sent (a literal REDACTED
 * too), in order: an array of pv_redact_value_t in p. A value cut by the
 * end of the input is kept as far as it came. */
apr_array_header_t *pv_redact_stream_values(const pv_redact_stream_t *st,
                                            apr_pool_t *p);

#endif /* PV_REDACT_STREAM_H */
