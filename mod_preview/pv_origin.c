/* Web origins: strict parsing to one canonical text, and the verdict of the
 * login's cross-site check. Every scan is bounded by PV_ORIGIN_MAX. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pv_num.h"
#include "pv_origin.h"

/* RFC 1035 allows 253 bytes of name (without the trailing dot). */
#define PV_HOST_MAX 253

static int is_scheme_char(char c)
{
    return apr_isalnum(c) || c == '+' || c == '-' || c == '.';
}

static int is_host_char(char c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int is_ipv6_char(char c)
{
    return apr_isxdigit(c) || c == ':' || c == '.';
}

static void lower_ascii(char *s)
{
    for (; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
}

apr_status_t pv_origin_parse(const char **pout, const char **perr,
                             const char *text, apr_pool_t *p)
{
    apr_size_t len = strnlen(text, PV_ORIGIN_MAX + 1);
    apr_size_t i = 0, scheme_len, host_at, host_len;
    unsigned port = 0;
    const char *sep;
    char *scheme, *host;

    if (len > PV_ORIGIN_MAX) {
        *perr = "longer than any origin";
        return APR_EINVAL;
    }
    if (!strcmp(text, "null")) {
        *perr = "'null' is an opaque origin, no site's";
        return APR_EINVAL;
    }
    sep = strstr(text, "://");
    if (!sep || sep == text || !apr_isalpha(text[0])) {
        *perr = "no scheme:// at its start";
        return APR_EINVAL;
    }
    scheme_len = (apr_size_t)(sep - text);
    for (i = 0; i < scheme_len; i++) {
        if (!is_scheme_char(text[i])) {
            *perr = "no scheme:// at its start";
            return APR_EINVAL;
        }
    }
    host_at = i = scheme_len + 3;
    if (text[i] == '[') {
        for (i++; is_ipv6_char(text[i]); i++) {
        }
        if (text[i] != ']' || i - host_at < 3) {
            *perr = "not a host name or a bracketed IPv6 address";
            return APR_EINVAL;
        }
        i++;
    }
    else {
        for (; is_host_char(text[i]); i++) {
        }
        if (i == host_at || i - host_at > PV_HOST_MAX) {
            *perr = "not a host name or a bracketed IPv6 address";
            return APR_EINVAL;
        }
    }
    host_len = i - host_at;
    if (text[i] == ':') {
        apr_size_t digits = strspn(text + i + 1, "0123456789");
        apr_uint64_t v = 0;
        apr_status_t rv =
            pv_num_parse(&v, text + i + 1, digits, 65535, PV_NUM_CANONICAL);

        port = (unsigned)v;
        i += 1 + digits;
        if (rv != APR_SUCCESS) {
            *perr = "the port is not a number 1 to 65535 without a leading "
                    "zero";
            return APR_EINVAL;
        }
    }
    if (text[i] == '/' && !text[i + 1]) {
        *perr = "an origin has no path: drop the trailing '/'";
        return APR_EINVAL;
    }
    if (text[i]) {
        *perr = "not scheme://host[:port] (a path, query, user or blank "
                "follows the host)";
        return APR_EINVAL;
    }

    scheme = apr_pstrmemdup(p, text, scheme_len);
    host = apr_pstrmemdup(p, text + host_at, host_len);
    lower_ascii(scheme);
    lower_ascii(host);
    if ((port == 80 && !strcmp(scheme, "http")) ||
        (port == 443 && !strcmp(scheme, "https"))) {
        port = 0;
    }
    *pout = port ? apr_psprintf(p, "%s://%s:%u", scheme, host, port)
                 : apr_pstrcat(p, scheme, "://", host, NULL);
    return APR_SUCCESS;
}

apr_status_t pv_origin_make(const char **pout, const char *scheme,
                            const char *host, unsigned port, apr_pool_t *p)
{
    const char *err = NULL;

    if (!scheme || !host || port == 0 || port > 65535) {
        return APR_EINVAL;
    }
    return pv_origin_parse(
        pout, &err, apr_psprintf(p, "%s://%s:%u", scheme, host, port), p);
}

/* 1 when a header value is the token t, ASCII case and blanks around it
 * ignored. */
static int header_is(const char *v, const char *t)
{
    apr_size_t n = strlen(t);

    while (*v == ' ' || *v == '\t') {
        v++;
    }
    if (strncasecmp(v, t, n)) {
        return 0;
    }
    for (v += n; *v == ' ' || *v == '\t'; v++) {
    }
    return *v == '\0';
}

pv_origin_verdict_e pv_origin_check(const char *origin, const char *fetch_site,
                                    const char *self,
                                    const char *const *allowed, int nallowed,
                                    apr_pool_t *p)
{
    const char *canon = NULL, *err = NULL;
    int i;

    if (!origin) {
        return fetch_site && header_is(fetch_site, "cross-site")
                   ? PV_ORIGIN_CROSS
                   : PV_ORIGIN_NO_HEADER;
    }
    if (pv_origin_parse(&canon, &err, origin, p) != APR_SUCCESS) {
        return PV_ORIGIN_CROSS;
    }
    if (self && !strcmp(canon, self)) {
        return PV_ORIGIN_SAME;
    }
    for (i = 0; i < nallowed; i++) {
        if (allowed[i] && !strcmp(canon, allowed[i])) {
            return PV_ORIGIN_LISTED;
        }
    }
    return PV_ORIGIN_CROSS;
}
