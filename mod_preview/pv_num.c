/* Strict decimal numbers (pv_num.h). */
#include <ctype.h>
#include <string.h>

#include "pv_num.h"

apr_status_t pv_num_parse(apr_uint64_t *pout, const char *s, apr_size_t len,
                          apr_uint64_t max, int flags)
{
    apr_uint64_t v = 0;
    int over = 0;
    apr_size_t i;

    if (!s || len == 0) {
        return APR_EINVAL;
    }
    if ((flags & PV_NUM_CANONICAL) && s[0] == '0' &&
        (len > 1 || !(flags & PV_NUM_ZERO_OK))) {
        return APR_EINVAL;
    }
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9) {
            return APR_EINVAL;
        }
        /* Past max stays past it: read on only to check the syntax. */
        if (over || v > (max - d) / 10 || max < d) {
            over = 1;
            continue;
        }
        v = v * 10 + d;
    }
    if (over) {
        return APR_ERANGE;
    }
    *pout = v;
    return APR_SUCCESS;
}

apr_status_t pv_num_parse_scaled(apr_uint64_t *pout, const char *s,
                                 apr_uint64_t unit, apr_uint64_t max)
{
    static const char suffixes[] = "KMGT";
    apr_size_t n = strspn(s, "0123456789");
    const char *sfx = s + n, *at;
    apr_uint64_t v, mult = 1;
    apr_status_t rv;

    /* The digits first: a number too large is that, whatever follows. */
    if ((rv = pv_num_parse(&v, s, n, max, 0)) != APR_SUCCESS) {
        return rv;
    }
    if (*sfx) {
        at = unit ? strchr(suffixes, toupper((unsigned char)*sfx)) : NULL;
        if (!at || sfx[1]) {
            return APR_EINVAL;
        }
        for (; at >= suffixes; at--) {
            mult *= unit;
        }
    }
    if (v > max / mult) {
        return APR_ERANGE;
    }
    *pout = v * mult;
    return APR_SUCCESS;
}
