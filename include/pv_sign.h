/* The body of a preview-sign request (image ids, preview parameters, ttl)
 * parsed strictly, and the query of the preview URLs it asks for. Pure
 * functions: no I/O, no log. */
#ifndef PV_SIGN_H
#define PV_SIGN_H

#include <apr_pools.h>

#include "pv_request.h"

/* At most this many ids per request (pv_db_owned_images' batch). */
#define PV_SIGN_MAX_IDS 200

typedef struct pv_sign_request_t {
    apr_uint64_t *ids; /* distinct, in the order first given */
    int nids;          /* 1..PV_SIGN_MAX_IDS */
    /* w, h, fit, format, q, read by the preview handler's own parser
     * (pv_request_parse_query): what a preview URL may carry */
    pv_request_query_t *query;
    apr_int64_t ttl; /* seconds, 1..PV_SIGN_TTL_MAX; 0: not given */
} pv_sign_request_t;

/* A ttl beyond any lifetime a server takes (PreviewURLTokenTTL's bound):
 * larger is refused rather than lowered, the number is malformed. */
#define PV_SIGN_TTL_MAX APR_INT64_C(315360000)

/* Parse a body: json 0, application/x-www-form-urlencoded (the preview
 * query's syntax: '&'-separated, %-decoded, '+' a space); json 1, one
 * strict JSON object (duplicate keys refused).
 * - ids, required: form: ids=1,2,3 and/or ids=1&ids=2 (every value a
 *   comma-separated list); JSON: an array of strings ("42") or positive
 *   integers (42; above 2^63-1 only as strings). Each id 1-20 decimal
 *   digits, 1..2^64-1, as the preview path takes them (leading zeros
 *   allowed: "007" is 7); 1 to PV_SIGN_MAX_IDS of them as listed; repeats
 *   count once.
 * - w, h, fit, format, q, optional: the preview's rules (repeats, w=007,
 *   w=0 refused); in JSON w, h, q an integer or a string of digits, fit and
 *   format strings.
 * - ttl, optional: seconds, digits without sign or leading zero,
 *   1..PV_SIGN_TTL_MAX; once; in JSON an integer or a string of digits.
 * Other fields are ignored. APR_EINVAL with *perr, the 400 message ("ids:
 * 201 ids, at most 200", "invalid parameter: w", ...); *pout untouched. */
apr_status_t pv_sign_parse(pv_sign_request_t **pout, const char **perr,
                           const char *body, apr_size_t len, int json,
                           apr_pool_t *p);

/* The preview parameters of q as a query ("w=256&fit=cover&format=webp&q=75")
 * in canonical form: only those given that differ from the defaults (fit
 * inside, format auto), in that order; "" when none. pv_request_parse_query
 * reads it back to the same values. */
const char *pv_sign_query(const pv_request_query_t *q, apr_pool_t *p);

#endif /* PV_SIGN_H */
