/* Web origins (RFC 6454) for the login's cross-site check: parsed strictly,
 * compared as canonical text. Pure functions: no I/O, no log. */
#ifndef PV_ORIGIN_H
#define PV_ORIGIN_H

#include <apr_pools.h>

/* Longest origin looked at: a 253-byte host name, a scheme and a port fit
 * with room to spare; anything longer is no browser's Origin. */
#define PV_ORIGIN_MAX 512

/* The canonical form of an origin "scheme://host[:port]" (what a browser
 * sends in Origin): scheme and host lower-cased, the port dropped when it
 * is the scheme's default (http 80, https 443). host: a DNS name or IPv4
 * address (letters, digits, '-', '.', '_') of 1..253 bytes, or an IPv6
 * address in brackets; port: 1..65535, no leading zero. Nothing else: no
 * path (not even a trailing '/'), query, fragment, userinfo or blank.
 * APR_EINVAL on anything else, "null" (an opaque origin: no site's)
 * included, with *perr saying why (static text); *pout untouched. */
apr_status_t pv_origin_parse(const char **pout, const char **perr,
                             const char *text, apr_pool_t *p);

/* The canonical origin of a request from its scheme ("http", "https"),
 * host as in a URL (an IPv6 address in brackets) and port. APR_EINVAL when
 * they make no valid origin. */
apr_status_t pv_origin_make(const char **pout, const char *scheme,
                            const char *host, unsigned port, apr_pool_t *p);

typedef enum {
    /* Neither Origin nor "Sec-Fetch-Site: cross-site": no browser, or
     * one that did not see another site in it. */
    PV_ORIGIN_NO_HEADER = 0,
    PV_ORIGIN_SAME,   /* Origin is the request's own */
    PV_ORIGIN_LISTED, /* Origin is another one, but allowed */
    PV_ORIGIN_CROSS   /* another site (or one we cannot tell): refuse */
} pv_origin_verdict_e;

/* Where a request comes from. origin: the Origin header, NULL when absent;
 * fetch_site: Sec-Fetch-Site, NULL when absent; self: the request's own
 * origin (pv_origin_make; NULL when it has none); allowed[0..nallowed-1]:
 * canonical origins (pv_origin_parse) that may log in too.
 * - Origin present: SAME when its canonical form is self, LISTED when it
 *   is one of allowed, else CROSS: another site, "null" (sandboxed frames,
 *   data: URLs, some redirects), or a value that is no origin (two headers
 *   merged into one included).
 * - Origin absent: CROSS when Sec-Fetch-Site is "cross-site" (ASCII case
 *   and blanks around it ignored); NO_HEADER otherwise ("same-origin",
 *   "same-site", "none", another value, or none at all). */
pv_origin_verdict_e pv_origin_check(const char *origin, const char *fetch_site,
                                    const char *self,
                                    const char *const *allowed, int nallowed,
                                    apr_pool_t *p);

#endif /* PV_ORIGIN_H */
