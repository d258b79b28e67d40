/* Token redaction for logs. It errs on the side of hiding: any parameter
 * the query parser could read as a token is hidden, and more. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pv_redact.h"

/* Longest raw name that can decode to "access_token" (12 bytes, %XX each). */
#define PV_REDACT_NAME_RAW_MAX 36

typedef struct {
    const char *s;
    apr_size_t end; /* the scanned region: a request line's protocol is out */
    apr_size_t pos;
    int at_param; /* pos starts a parameter */
} scan_t;

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Characters after which a new parameter may start. */
static int is_sep(char c)
{
    return c == '&' || c == ';' || c == '#' || c == '?' || is_ws(c);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Lenient decoding: a bad escape stays literal (it cannot spell a token
 * name then); case-insensitive compare with both names. */
static int is_token_name(const char *s, apr_size_t len)
{
    char name[PV_REDACT_NAME_RAW_MAX];
    apr_size_t i, n = 0;

    if (len == 0 || len > sizeof(name)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] == '+') {
            name[n++] = ' ';
        }
        else if (s[i] == '%' && len - i >= 3 &&
                 (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                 (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            name[n++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            name[n++] = s[i];
        }
    }
    return (n == 5 && strncasecmp(name, "token", 5) == 0) ||
           (n == 12 && strncasecmp(name, "access_token", 12) == 0);
}

/* Where a request line's " HTTP/x.y" starts, or len when there is none. */
static apr_size_t region_end(const char *s, apr_size_t len)
{
    apr_size_t i = len;

    while (i > 0 && !is_ws(s[i - 1])) {
        i--;
    }
    if (i == 0 || i == len || strncmp(s + i, "HTTP/", 5) != 0) {
        return len;
    }
    while (i > 0 && is_ws(s[i - 1])) {
        i--;
    }
    return i;
}

/* The next non-empty token value [*vs, *ve); 0 when there is none left. */
static int next_value(scan_t *sc, apr_size_t *vs, apr_size_t *ve)
{
    const char *s = sc->s;

    while (sc->pos < sc->end) {
        apr_size_t j;

        if (!sc->at_param) {
            sc->at_param = is_sep(s[sc->pos]);
            sc->pos++;
            continue;
        }
        sc->at_param = 0;
        for (j = sc->pos; j < sc->end && !is_sep(s[j]) && s[j] != '='; j++) {
        }
        if (j < sc->end && s[j] == '=' &&
            is_token_name(s + sc->pos, j - sc->pos)) {
            apr_size_t k = j + 1;

            /* Up to '&' or '#' only: hide too much rather than a part. */
            while (k < sc->end && s[k] != '&' && s[k] != '#') {
                k++;
            }
            sc->pos = k;
            if (k > j + 1) {
                *vs = j + 1;
                *ve = k;
                return 1;
            }
            continue;
        }
        sc->pos = j;
    }
    return 0;
}

static apr_status_t redact(const char **pout, int *pchanged, const char *s,
                           int whole, apr_pool_t *p)
{
    scan_t sc;
    apr_size_t len, start, vs, ve, outlen, o = 0, from = 0;
    apr_size_t rlen = sizeof(PV_REDACTED) - 1;
    char *out;

    *pchanged = 0;
    *pout = s;
    if (!s) {
        return APR_SUCCESS;
    }
    len = strlen(s);
    sc.s = s;
    sc.end = region_end(s, len);
    if (whole) {
        start = 0;
    }
    else {
        start = strcspn(s, "?#");
        if (start >= sc.end) {
            return APR_SUCCESS;
        }
        start++;
    }
    /* First pass: measure, so that a clean string costs no allocation. */
    sc.pos = start;
    sc.at_param = 1;
    outlen = len;
    while (next_value(&sc, &vs, &ve)) {
        outlen = outlen - (ve - vs) + rlen;
        *pchanged = 1;
    }
    if (!*pchanged) {
        return APR_SUCCESS;
    }
    out = apr_palloc(p, outlen + 1);
    sc.pos = start;
    sc.at_param = 1;
    while (next_value(&sc, &vs, &ve)) {
        memcpy(out + o, s + from, vs - from);
        o += vs - from;
        memcpy(out + o, PV_REDACTED, rlen);
        o += rlen;
        from = ve;
    }
    memcpy(out + o, s + from, len - from);
    o += len - from;
    out[o] = '\0';
    *pout = out;
    return APR_SUCCESS;
}

apr_status_t pv_redact_query(const char **pout, int *pchanged, const char *s,
                             apr_pool_t *p)
{
    return redact(pout, pchanged, s, 0, p);
}

apr_status_t pv_redact_args(const char **pout, int *pchanged, const char *s,
                            apr_pool_t *p)
{
    return redact(pout, pchanged, s, 1, p);
}
