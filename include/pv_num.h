/* The one strict decimal parser of mod_preview: a directive's number, a
 * query parameter, an image id, a DB parameter, a hash's cost. Digits
 * only: no sign, no blank, no base prefix; never wraps. */
#ifndef PV_NUM_H
#define PV_NUM_H

#include <apr.h>
#include <apr_errno.h>

/* Refuse a leading zero ("07"; "0" itself only with PV_NUM_ZERO_OK too):
 * the canonical spelling, one text per value. */
#define PV_NUM_CANONICAL 0x1
/* With PV_NUM_CANONICAL: "0" is allowed. */
#define PV_NUM_ZERO_OK 0x2

/* The value of the len bytes at s, at most max. APR_SUCCESS and *pout;
 * APR_EINVAL: empty, a byte that is not a digit, or a leading zero
 * refused by flags; APR_ERANGE: digits, but a value above max (however
 * many digits). *pout untouched on failure. */
apr_status_t pv_num_parse(apr_uint64_t *pout, const char *s, apr_size_t len,
                          apr_uint64_t max, int flags);

/* A size or a count as a directive writes it: the NUL-terminated digits at
 * s, with at most one K, M, G or T (any case) after them for unit to the
 * power 1 to 4 (unit 1000 for counts, 1024 for bytes; 0: no suffix
 * allowed), the product at most max. APR_EINVAL: no leading digit, or
 * anything after them but one suffix letter; APR_ERANGE: over max (the
 * digits alone, or once scaled). *pout untouched on failure. */
apr_status_t pv_num_parse_scaled(apr_uint64_t *pout, const char *s,
                                 apr_uint64_t unit, apr_uint64_t max);

#endif /* PV_NUM_H */
