/* The token parameters of a preview's query, alone: the token must be
 * found even when another parameter is malformed, so that an
 * unauthenticated client gets 401 and learns nothing about the parameters
 * (401 before 400). */
#ifndef PV_REQUEST_TOKEN_H
#define PV_REQUEST_TOKEN_H

#include <apr_pools.h>

/* Only the token=/access_token= pairs of args (up to a '#'), in order,
 * joined by '&', each as it was sent; names are matched as
 * pv_request_parse_query() reads them (strict %-decoding, exact case), not
 * as the redaction does (pv_redact_is_token_name: lenient, any case, a
 * superset for the logs). args NULL: NULL; none: "". The copy is in p. */
const char *pv_request_token_pairs(const char *args, apr_pool_t *p);

#endif /* PV_REQUEST_TOKEN_H */
