/* The preview request, parsed strictly and without httpd: image id from the
 * path, query parameters, size box, output format by Accept, and the token
 * from an Authorization header or a cookie. Pure functions: no I/O, no log. */
#ifndef PV_REQUEST_H
#define PV_REQUEST_H

#include <apr_pools.h>

#include "pv_image.h"
#include "pv_query.h"

/* Largest w or h accepted in a query (400 above); a box side is then
 * clamped to the largest PreviewSizes entry anyway. */
#define PV_REQUEST_MAX_SIDE 100000
/* Header values scanned at most this far (httpd's LimitRequestFieldSize
 * default is 8190); anything after is ignored, never an error. */
#define PV_REQUEST_MAX_HEADER 16384

/* The query's format= (a PV_FORMAT_BIT() of pv_image.h) when it names
 * none: negotiated by Accept. */
#define PV_REQ_FMT_AUTO 0

/* The query of GET /preview/<id>?..., as parsed. Absent numbers are 0. */
typedef struct pv_request_query_t {
    int w;              /* 1..PV_REQUEST_MAX_SIDE, 0: absent */
    int h;              /* 1..PV_REQUEST_MAX_SIDE, 0: absent */
    pv_image_fit_e fit; /* PV_FIT_INSIDE when absent */
    int format;         /* one PV_FORMAT_BIT(), PV_REQ_FMT_AUTO when absent */
    int quality; /* q, 1..100, 0: absent (PreviewQuality applies); as sent,
                  * snapped by pv_request_snap_quality() */
    /* Percent-decoded token values, NUL-terminated, with their length (a
     * decoded %00 makes strlen shorter: verify with the length). NULL when
     * absent or empty. A value with a bad %-escape is kept as sent (it then
     * fails verification: 401, not 400). */
    const char *token;
    apr_size_t token_len;
    const char *access_token;
    apr_size_t access_token_len;
} pv_request_query_t;

/* Parse r->args (the query without '?'; NULL or "" is an empty query).
 * Parameters are separated by '&' only (WHATWG; ';' is data) and the query
 * ends at a '#'. Names and values are percent-decoded ('+' is a space);
 * names are case-sensitive. w, h, q: decimal digits only, no sign, no
 * leading zero, in range. fit: inside|cover. format: auto|jpeg|webp|avif|png
 * (lower case). Each of w, h, fit, format, q may appear once, with a valid
 * value ("w", "w=" and "w=1&w=1" are errors). token/access_token: the first
 * non-empty occurrence wins. Other parameters (cache busters like v=) are
 * ignored whatever they hold.
 * On error: APR_EINVAL and *perr = the parameter's name ("w", "h", "fit",
 * "format" or "q") for the 400 body; *pout untouched. */
apr_status_t pv_request_parse_query(pv_request_query_t **pout,
                                    const char **perr, const char *args,
                                    apr_pool_t *p);

/* An image id: exactly 1..20 decimal digits (len bytes of s), value at most
 * 2^64-1; no sign, no space, nothing else. Leading zeros are allowed ("007"
 * is 7: the id is a number, and digits-only is what keeps it safe).
 * APR_EINVAL otherwise (the glue answers 404). */
apr_status_t pv_request_parse_id(apr_uint64_t *pout, const char *s,
                                 apr_size_t len);

/* The image id from a request path (r->uri, already %-decoded by httpd).
 * base: the <Location> path the handler is mounted on; the path must be
 * base, one '/', and the id, nothing after (no trailing '/'). base NULL (a
 * <LocationMatch>, say): the id is the last segment after the last '/'.
 * A trailing '/' on base is ignored. APR_EINVAL when it does not match. */
apr_status_t pv_request_id_from_path(apr_uint64_t *pout, const char *path,
                                     const char *base);

/* The box to render into, from the query's w/h (0: absent), PreviewSizes
 * (sizes[0..nsizes-1], any order) and PreviewDefaultSize:
 * - neither: default_size x default_size (fit inside that square);
 * - one: that side rounded up to the next PreviewSizes entry (the largest
 *   entry when above it), the other 0 (it follows the aspect ratio);
 * - both: each rounded up that way.
 * nsizes 0: no rounding, sides kept (they are already <= MAX_SIDE).
 * Never upscaling past the source is the image core's job, not this one. */
void pv_request_resolve_size(int *pw, int *ph, int w, int h, const int *sizes,
                             int nsizes, int default_size);

/* The quality to encode with: q (1..100, the query's or PreviewQuality)
 * snapped to the nearest of qualities[0..nqualities-1] (PreviewQualities,
 * any order), so that one image has a small, known number of variants. A
 * tie (q halfway between two entries) goes to the higher one: the client
 * asked for at least that much. nqualities 0: q as it is. */
int pv_request_snap_quality(int q, const int *qualities, int nqualities);

/* The output format, as the image core's enum. requested: the query's
 * PV_FORMAT_BIT(), or AUTO. allowed: the
 * PreviewFormats mask (0 means PV_FORMATS_DEFAULT). accept: the Accept
 * header, NULL when absent. has_alpha: the source has an alpha channel.
 * - explicit format: returned as is (an alpha channel is flattened if it is
 *   JPEG: the client asked for it); not in allowed: APR_EINVAL (400 "format").
 * - auto: AVIF or WebP when allowed and listed in Accept with q > 0 (the
 *   higher q of the two; a tie goes to AVIF); otherwise JPEG, or PNG when
 *   the source has alpha. When that fallback is not allowed: the other of
 *   PNG/JPEG, then WebP, then AVIF (something is always served: an <img>
 *   cannot show a 406). Wildcard ranges (image/STAR, STAR/STAR) do not count
 *   as AVIF/WebP support: browsers list the types they decode explicitly.
 * *pvary: 1 when the response must carry "Vary: Accept" (auto, and the
 * allowed mask has AVIF or WebP, so Accept could change the answer). */
apr_status_t pv_request_pick_format(pv_image_format_e *pout, int *pvary,
                                    int requested, const char *accept,
                                    int allowed, int has_alpha);

/* The q-value (0..1000, thousandths) the Accept header gives to exactly
 * the media type "type/subtype" (case-insensitive); wildcard ranges are not
 * matched. 0 when absent, refused (q=0) or given an invalid q.
 * Several ranges for the type: any q=0 refuses it, else the highest q. */
int pv_request_accept_q(const char *accept, const char *type);

/* Find the token in an Authorization header value: scheme "Bearer"
 * (case-insensitive), one or more spaces, then a token68 (RFC 7235:
 * ALPHA DIGIT - . _ ~ + / then '='s) of at most PV_REQUEST_MAX_HEADER
 * bytes; surrounding spaces and tabs are tolerated.
 * APR_SUCCESS: *pout is the token (NUL-terminated copy in p), *plen its
 * length. APR_NOTFOUND: no header or another scheme (Basic is some other
 * module's business): try the next token source. APR_EINVAL: a Bearer
 * header that is malformed: the client did send a token: 401. */
apr_status_t pv_request_bearer(const char **pout, apr_size_t *plen,
                               const char *authz, apr_pool_t *p);

/* The value of the cookie called name (exact, case-sensitive) in a Cookie
 * header: "a=b; c=d" pairs separated by ';' (or ',', which joins repeated
 * headers); spaces around pairs are skipped; a value in double quotes is
 * unquoted. The first pair with that name and a non-empty value wins (an
 * empty value is how a logout clears the cookie: it counts as absent). Only the
 * first PV_REQUEST_MAX_HEADER bytes are looked at. APR_SUCCESS: *pout is a
 * NUL-terminated copy in p, *plen its length; APR_NOTFOUND otherwise. */
apr_status_t pv_request_cookie(const char **pout, apr_size_t *plen,
                               const char *cookie, const char *name,
                               apr_pool_t *p);

/* Percent-decode len bytes of s ('+' is a space): strict, '%' must be
 * followed by two hex digits. APR_EINVAL on a bad escape. The copy in p is
 * NUL-terminated; *plen is its length (it may hold a decoded NUL). */
apr_status_t pv_request_unescape(const char **pout, apr_size_t *plen,
                                 const char *s, apr_size_t len, apr_pool_t *p);

#endif /* PV_REQUEST_H */
