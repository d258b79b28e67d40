/* The preview request: strict parsing of id, query, Accept, Authorization
 * and Cookie. Every scan is linear and bounded; nothing here logs. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pv_request.h"
#include "pv_num.h"
#include "pv_query.h"

/* PreviewDefaultSize's default, used when a caller passes none. */
#define PV_REQUEST_DEFAULT_SIZE 256
/* Longest raw parameter name we decode: "access_token" fully %-encoded. */
#define PV_NAME_RAW_MAX 36

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode len bytes of s into out (room for len bytes): returns the decoded
 * length, or -1 on a bad escape. */
static apr_ssize_t unescape_into(char *out, const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        }
        else if (s[i] == '%') {
            int hi, lo;

            if (len - i < 3) {
                return -1;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            out[n++] = s[i];
        }
    }
    return (apr_ssize_t)n;
}

apr_status_t pv_request_unescape(const char **pout, apr_size_t *plen,
                                 const char *s, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, len + 1);
    apr_ssize_t n = unescape_into(out, s, len);

    if (n < 0) {
        return APR_EINVAL;
    }
    out[n] = '\0';
    *pout = out;
    *plen = (apr_size_t)n;
    return APR_SUCCESS;
}

/* A query number: digits only, no leading zero, min..max. */
static int parse_number(int *pv, const char *s, apr_size_t len, int min,
                        int max)
{
    apr_uint64_t v;

    if (pv_num_parse(&v, s, len, (apr_uint64_t)max, PV_NUM_CANONICAL) !=
            APR_SUCCESS ||
        v < (apr_uint64_t)min) {
        return 0;
    }
    *pv = (int)v;
    return 1;
}

static int is_name(const char *s, apr_size_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* format=: auto or a format's name, lower case; -1 when neither. */
static int format_from_value(const char *s, apr_size_t len)
{
    pv_image_format_e f;

    if (is_name(s, len, "auto")) {
        return PV_REQ_FMT_AUTO;
    }
    return pv_image_format_parse(&f, s, len, 0) == APR_SUCCESS
               ? PV_FORMAT_BIT(f)
               : -1;
}

/* Keep the first non-empty token; a bad %-escape keeps the raw text so
 * that the verifier refuses it (401) instead of a 400. */
static void take_token(const char **ptok, apr_size_t *plen, const char *v,
                       apr_size_t vlen, apr_pool_t *p)
{
    if (*ptok || vlen == 0) {
        return;
    }
    if (pv_request_unescape(ptok, plen, v, vlen, p) != APR_SUCCESS) {
        *ptok = apr_pstrmemdup(p, v, vlen);
        *plen = vlen;
    }
}

/* The parameters the preview reads, each at most once: names for the 400
 * body, the index a bit of "seen". */
static const char *const query_params[] = {"w", "h", "q", "fit", "format"};

/* Parameter i's decoded value into q: 1, or 0 when it is not valid. */
static int take_param(pv_request_query_t *q, int i, const char *v,
                      apr_size_t len)
{
    int f;

    switch (i) {
        case 0:
            return parse_number(&q->w, v, len, 1, PV_REQUEST_MAX_SIDE);
        case 1:
            return parse_number(&q->h, v, len, 1, PV_REQUEST_MAX_SIDE);
        case 2:
            return parse_number(&q->quality, v, len, 1, 100);
        case 3:
            if (is_name(v, len, "inside") || is_name(v, len, "cover")) {
                q->fit =
                    is_name(v, len, "cover") ? PV_FIT_COVER : PV_FIT_INSIDE;
                return 1;
            }
            return 0;
        default:
            f = format_from_value(v, len);
            q->format = f >= 0 ? f : q->format;
            return f >= 0;
    }
}

/* The index in query_params of the decoded name, -1 when not one. */
static int param_index(const char *name, apr_size_t len)
{
    int i;

    for (i = 0; i < (int)(sizeof(query_params) / sizeof(query_params[0]));
         i++) {
        if (is_name(name, len, query_params[i])) {
            return i;
        }
    }
    return -1;
}

apr_status_t pv_request_parse_query(pv_request_query_t **pout,
                                    const char **perr, const char *args,
                                    apr_pool_t *p)
{
    pv_request_query_t *q = apr_pcalloc(p, sizeof(*q));
    const char *end, *pos, *bad = NULL, *dv = NULL;
    char name[PV_NAME_RAW_MAX];
    pv_query_pair_t pair;
    apr_size_t dvlen = 0;
    int seen = 0, i;

    q->fit = PV_FIT_INSIDE;
    q->format = PV_REQ_FMT_AUTO;
    pos = args ? args : "";
    end = pv_query_end(pos);
    while (!bad && pv_query_next(&pair, &pos, end)) {
        /* Names longer than any of ours, or undecodable, are not ours. */
        apr_ssize_t dn = pair.name_len <= sizeof(name)
                             ? unescape_into(name, pair.name, pair.name_len)
                             : -1;

        if (dn <= 0) {
            continue;
        }
        if (is_name(name, (apr_size_t)dn, "token")) {
            take_token(&q->token, &q->token_len, pair.value, pair.value_len, p);
            continue;
        }
        if (is_name(name, (apr_size_t)dn, "access_token")) {
            take_token(&q->access_token, &q->access_token_len, pair.value,
                       pair.value_len, p);
            continue;
        }
        if ((i = param_index(name, (apr_size_t)dn)) < 0) {
            continue;
        }
        /* Each once, with a value that decodes and is valid. */
        if ((seen & (1 << i)) || !pair.has_value ||
            pv_request_unescape(&dv, &dvlen, pair.value, pair.value_len, p) ||
            !take_param(q, i, dv, dvlen)) {
            bad = query_params[i];
        }
        seen |= 1 << i;
    }
    if (bad) {
        *perr = bad;
        return APR_EINVAL;
    }
    *pout = q;
    return APR_SUCCESS;
}

apr_status_t pv_request_parse_id(apr_uint64_t *pout, const char *s,
                                 apr_size_t len)
{
    /* At most 20 digits, leading zeros too; 20 can exceed 2^64-1. */
    if (!s || len > 20 || pv_num_parse(pout, s, len, APR_UINT64_MAX, 0)) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t pv_request_id_from_path(apr_uint64_t *pout, const char *path,
                                     const char *base)
{
    const char *rest;

    if (!path) {
        return APR_EINVAL;
    }
    if (base) {
        apr_size_t blen = strlen(base);

        while (blen > 0 && base[blen - 1] == '/') {
            blen--;
        }
        if (strncmp(path, base, blen) != 0 || path[blen] != '/') {
            return APR_EINVAL;
        }
        rest = path + blen + 1;
    }
    else {
        rest = strrchr(path, '/');
        rest = rest ? rest + 1 : path;
    }
    return pv_request_parse_id(pout, rest, strlen(rest));
}

static int round_up_to_sizes(int v, const int *sizes, int nsizes)
{
    int i, best = 0, largest = 0;

    if (!sizes || nsizes <= 0) {
        return v;
    }
    for (i = 0; i < nsizes; i++) {
        if (sizes[i] > largest) {
            largest = sizes[i];
        }
        if (sizes[i] >= v && (best == 0 || sizes[i] < best)) {
            best = sizes[i];
        }
    }
    return best ? best : largest;
}

void pv_request_resolve_size(int *pw, int *ph, int w, int h, const int *sizes,
                             int nsizes, int default_size)
{
    if (w <= 0 && h <= 0) {
        if (default_size <= 0) {
            default_size = PV_REQUEST_DEFAULT_SIZE;
        }
        *pw = *ph = default_size;
        return;
    }
    *pw = w > 0 ? round_up_to_sizes(w, sizes, nsizes) : 0;
    *ph = h > 0 ? round_up_to_sizes(h, sizes, nsizes) : 0;
}

int pv_request_snap_quality(int q, const int *qualities, int nqualities)
{
    int i, best = 0, best_d = 0;

    if (!qualities || nqualities <= 0) {
        return q;
    }
    for (i = 0; i < nqualities; i++) {
        int d = qualities[i] > q ? qualities[i] - q : q - qualities[i];

        if (best == 0 || d < best_d || (d == best_d && qualities[i] > best)) {
            best = qualities[i];
            best_d = d;
        }
    }
    return best;
}

/* RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], in thousandths;
 * -1 when invalid. */
static int parse_qvalue(const char *s, apr_size_t len)
{
    apr_size_t i;
    int v, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1') || len > 5) {
        return -1;
    }
    v = (s[0] - '0') * 1000;
    if (len == 1) {
        return v;
    }
    if (s[1] != '.') {
        return -1;
    }
    for (i = 2; i < len; i++, scale /= 10) {
        if (!apr_isdigit(s[i]) || (s[0] == '1' && s[i] != '0')) {
            return -1;
        }
        v += (s[i] - '0') * scale;
    }
    return v;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static int is_tchar(char c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Skip a quoted-string starting at s[i] == '"'; returns the index after
 * the closing quote, or end when it is unterminated. */
static apr_size_t skip_quoted(const char *s, apr_size_t i, apr_size_t end)
{
    for (i++; i < end; i++) {
        if (s[i] == '\\') {
            i++;
        }
        else if (s[i] == '"') {
            return i + 1;
        }
    }
    return end;
}

int pv_request_accept_q(const char *accept, const char *type)
{
    apr_size_t end, i = 0, tlen;
    int best = 0, refused = 0;

    if (!accept || !type) {
        return 0;
    }
    tlen = strlen(type);
    end = strnlen(accept, PV_REQUEST_MAX_HEADER + 1);
    if (end > PV_REQUEST_MAX_HEADER) {
        /* Cut: drop the element the bound falls in, it may be partial. */
        end = PV_REQUEST_MAX_HEADER;
        while (end > 0 && accept[end - 1] != ',') {
            end--;
        }
    }
    while (i < end) {
        apr_size_t ts;
        int match, q = 1000, have_q = 0, ok = 1;

        while (i < end && (is_ows(accept[i]) || accept[i] == ',')) {
            i++;
        }
        ts = i;
        while (i < end && accept[i] != ',' && accept[i] != ';' &&
               !is_ows(accept[i])) {
            i++;
        }
        match = i - ts == tlen && strncasecmp(accept + ts, type, tlen) == 0;
        for (;;) {
            apr_size_t ns, ne, vs, ve;

            while (i < end && is_ows(accept[i])) {
                i++;
            }
            if (i >= end || accept[i] == ',') {
                break;
            }
            if (accept[i] != ';') {
                /* Junk after the range: skip the element, it is no match. */
                ok = 0;
                while (i < end && accept[i] != ',') {
                    i = accept[i] == '"' ? skip_quoted(accept, i, end) : i + 1;
                }
                break;
            }
            i++;
            while (i < end && is_ows(accept[i])) {
                i++;
            }
            ns = i;
            while (i < end && is_tchar(accept[i])) {
                i++;
            }
            ne = i;
            while (i < end && is_ows(accept[i])) {
                i++;
            }
            vs = ve = i;
            if (i < end && accept[i] == '=') {
                i++;
                while (i < end && is_ows(accept[i])) {
                    i++;
                }
                vs = i;
                if (i < end && accept[i] == '"') {
                    i = skip_quoted(accept, i, end);
                }
                else {
                    while (i < end && is_tchar(accept[i])) {
                        i++;
                    }
                }
                ve = i;
            }
            if (!have_q && ne - ns == 1 &&
                (accept[ns] == 'q' || accept[ns] == 'Q')) {
                have_q = 1;
                q = parse_qvalue(accept + vs, ve - vs);
            }
        }
        if (match && ok) {
            /* An invalid q counts as q=0: refuse rather than guess. */
            if (q <= 0) {
                refused = 1;
            }
            else if (q > best) {
                best = q;
            }
        }
    }
    return refused ? 0 : best;
}

/* First allowed format of a fallback order. */
static pv_image_format_e first_allowed(int allowed,
                                       const pv_image_format_e *order, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (allowed & (1 << order[i])) {
            return order[i];
        }
    }
    return PV_FORMAT_JPEG;
}

apr_status_t pv_request_pick_format(pv_image_format_e *pout, int *pvary,
                                    int requested, const char *accept,
                                    int allowed, int has_alpha)
{
    static const pv_image_format_e opaque_order[] = {
        PV_FORMAT_JPEG, PV_FORMAT_PNG, PV_FORMAT_WEBP, PV_FORMAT_AVIF};
    static const pv_image_format_e alpha_order[] = {
        PV_FORMAT_PNG, PV_FORMAT_JPEG, PV_FORMAT_WEBP, PV_FORMAT_AVIF};
    int qa = 0, qw = 0;
    pv_image_format_e fmt;

    allowed &= PV_FORMATS_ALL;
    if (!allowed) {
        allowed = PV_FORMATS_DEFAULT;
    }
    if (requested != PV_REQ_FMT_AUTO) {
        /* One known bit, and one the configuration lets out. */
        if ((requested & ~PV_FORMATS_ALL) || (requested & (requested - 1)) ||
            !(requested & allowed)) {
            return APR_EINVAL;
        }
        for (fmt = PV_FORMAT_JPEG; (1 << fmt) != requested; fmt++) {
        }
        *pout = fmt;
        *pvary = 0;
        return APR_SUCCESS;
    }
    if (allowed & PV_FORMAT_BIT(PV_FORMAT_AVIF)) {
        qa = pv_request_accept_q(accept, "image/avif");
    }
    if (allowed & PV_FORMAT_BIT(PV_FORMAT_WEBP)) {
        qw = pv_request_accept_q(accept, "image/webp");
    }
    if (qa > 0 || qw > 0) {
        fmt = qa >= qw ? PV_FORMAT_AVIF : PV_FORMAT_WEBP;
    }
    else if (has_alpha) {
        fmt = first_allowed(allowed, alpha_order, 4);
    }
    else {
        fmt = first_allowed(allowed, opaque_order, 4);
    }
    *pout = fmt;
    *pvary = (allowed & (PV_FORMAT_BIT(PV_FORMAT_AVIF) |
                         PV_FORMAT_BIT(PV_FORMAT_WEBP))) != 0;
    return APR_SUCCESS;
}

/* RFC 7235 token68 characters, before the trailing '='s. */
static int is_token68(char c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '+' || c == '/';
}

apr_status_t pv_request_bearer(const char **pout, apr_size_t *plen,
                               const char *authz, apr_pool_t *p)
{
    apr_size_t n, i = 0, ts, te;

    if (!authz) {
        return APR_NOTFOUND;
    }
    n = strnlen(authz, PV_REQUEST_MAX_HEADER + 1);
    while (i < n && is_ows(authz[i])) {
        i++;
    }
    if (n - i < 6 || strncasecmp(authz + i, "Bearer", 6) != 0 ||
        is_tchar(authz[i + 6])) {
        /* Another scheme (or "Bearerx"): someone else's header. */
        return APR_NOTFOUND;
    }
    if (n > PV_REQUEST_MAX_HEADER) {
        return APR_EINVAL;
    }
    i += 6;
    if (authz[i] != ' ') {
        return APR_EINVAL;
    }
    while (authz[i] == ' ') {
        i++;
    }
    ts = i;
    while (is_token68(authz[i])) {
        i++;
    }
    if (i == ts) {
        return APR_EINVAL; /* token68 needs one character before any '=' */
    }
    while (authz[i] == '=') {
        i++;
    }
    te = i;
    while (is_ows(authz[i])) {
        i++;
    }
    if (authz[i] != '\0') {
        return APR_EINVAL;
    }
    *pout = apr_pstrmemdup(p, authz + ts, te - ts);
    *plen = te - ts;
    return APR_SUCCESS;
}

apr_status_t pv_request_cookie(const char **pout, apr_size_t *plen,
                               const char *cookie, const char *name,
                               apr_pool_t *p)
{
    apr_size_t n, i = 0, nlen;
    int cut = 0;

    if (!cookie || !name || !*name) {
        return APR_NOTFOUND;
    }
    nlen = strlen(name);
    n = strnlen(cookie, PV_REQUEST_MAX_HEADER + 1);
    if (n > PV_REQUEST_MAX_HEADER) {
        n = PV_REQUEST_MAX_HEADER;
        cut = 1;
    }
    while (i < n) {
        apr_size_t ns, ne, vs, ve;

        while (i < n &&
               (is_ows(cookie[i]) || cookie[i] == ';' || cookie[i] == ',')) {
            i++;
        }
        ns = i;
        while (i < n && cookie[i] != '=' && cookie[i] != ';' &&
               cookie[i] != ',') {
            i++;
        }
        ne = i;
        while (ne > ns && is_ows(cookie[ne - 1])) {
            ne--;
        }
        if (i >= n || cookie[i] != '=') {
            continue; /* a pair without '=' names nothing */
        }
        i++;
        while (i < n && is_ows(cookie[i])) {
            i++;
        }
        vs = i;
        while (i < n && cookie[i] != ';' && cookie[i] != ',') {
            i++;
        }
        if (i >= n && cut) {
            /* The bound fell inside this value: never return a part. */
            break;
        }
        ve = i;
        while (ve > vs && is_ows(cookie[ve - 1])) {
            ve--;
        }
        if (ve - vs >= 2 && cookie[vs] == '"' && cookie[ve - 1] == '"') {
            vs++;
            ve--;
        }
        if (ne - ns == nlen && memcmp(cookie + ns, name, nlen) == 0 &&
            ve > vs) {
            *pout = apr_pstrmemdup(p, cookie + vs, ve - vs);
            *plen = ve - vs;
            return APR_SUCCESS;
        }
    }
    return APR_NOTFOUND;
}
