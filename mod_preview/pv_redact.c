/* Token redaction for logs. It errs on the side of hiding: any parameter
 * the query parser could read as a token is hidden, and more. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pv_redact.h"

#define REDACTED_LEN (sizeof(PV_REDACTED) - 1)

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

/* Characters after which a new parameter may start: a control byte too,
 * so that "x=1<CTL>token=..." in a refused request line is hidden. */
static int is_sep(char c)
{
    unsigned char u = (unsigned char)c;

    return c == '&' || c == ';' || c == '#' || c == '?' || u < 0x21 ||
           u == 0x7f;
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
int pv_redact_is_token_name(const char *s, apr_size_t len)
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

/* Where a request line's " HTTP/d.d" starts, or len when it does not end
 * in one. Only that exact shape: an args string a rewrite made can hold
 * " HTTP/1&token=..." and nothing after that may escape the scan. */
static apr_size_t region_end(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len < 9) {
        return len;
    }
    i = len - 8;
    if (!is_ws(s[i - 1]) || strncasecmp(s + i, "HTTP/", 5) != 0 ||
        !apr_isdigit(s[i + 5]) || s[i + 6] != '.' || !apr_isdigit(s[i + 7])) {
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
            pv_redact_is_token_name(s + sc->pos, j - sc->pos)) {
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

static int is_redacted(const char *s, apr_size_t len)
{
    return len == REDACTED_LEN && memcmp(s, PV_REDACTED, len) == 0;
}

/* Where the scan of s starts (0 for an args string, after the first '?' or
 * '#' otherwise); 0 with *pnone set when there is nothing to scan. */
static void scan_start(scan_t *sc, int *pnone, const char *s, int whole)
{
    apr_size_t len = strlen(s), start = 0;

    sc->s = s;
    sc->end = whole ? len : region_end(s, len);
    *pnone = 0;
    if (!whole) {
        start = strcspn(s, "?#");
        if (start >= sc->end) {
            *pnone = 1;
        }
        start++;
    }
    sc->pos = start;
    sc->at_param = 1;
}

/* How a value found by the scan is rewritten: pick() returns the
 * replacement (its length in *prlen) or NULL to keep the value. It sees
 * the same values in the same order on both passes of rewrite(), which
 * calls reset() (when set) before each. */
typedef struct {
    const char *(*pick)(void *baton, const char *v, apr_size_t len,
                        apr_size_t *prlen);
    void (*reset)(void *baton);
    void *baton;
} rewriter_t;

/* s with the values the rewriter picks replaced; a first pass measures, so
 * that a string with nothing to replace costs no allocation. */
static apr_status_t rewrite(const char **pout, int *pchanged, const char *s,
                            int whole, const rewriter_t *rw, apr_pool_t *p)
{
    scan_t sc;
    apr_size_t vs, ve, start, len, rlen, outlen, o = 0, from = 0;
    int none, pass;
    char *out = NULL;

    *pchanged = 0;
    *pout = s;
    if (!s) {
        return APR_SUCCESS;
    }
    scan_start(&sc, &none, s, whole);
    if (none) {
        return APR_SUCCESS;
    }
    start = sc.pos;
    len = outlen = strlen(s);
    /* pass 0 measures, pass 1 writes */
    for (pass = 0; pass < 2; pass++) {
        sc.pos = start;
        sc.at_param = 1;
        if (rw->reset) {
            rw->reset(rw->baton);
        }
        while (next_value(&sc, &vs, &ve)) {
            const char *r = rw->pick(rw->baton, s + vs, ve - vs, &rlen);

            if (!r) {
                continue;
            }
            if (pass == 0) {
                outlen = outlen - (ve - vs) + rlen;
                *pchanged = 1;
                continue;
            }
            memcpy(out + o, s + from, vs - from);
            o += vs - from;
            memcpy(out + o, r, rlen);
            o += rlen;
            from = ve;
        }
        if (!*pchanged) {
            return APR_SUCCESS;
        }
        if (pass == 0) {
            out = apr_palloc(p, outlen + 1);
        }
    }
    memcpy(out + o, s + from, len - from);
    o += len - from;
    out[o] = '\0';
    *pout = out;
    return APR_SUCCESS;
}

/* Redaction: every value that does not read REDACTED already. */
static const char *pick_hide(void *baton, const char *v, apr_size_t len,
                             apr_size_t *prlen)
{
    (void)baton;
    *prlen = REDACTED_LEN;
    return is_redacted(v, len) ? NULL : PV_REDACTED;
}

static const rewriter_t hider = {pick_hide, NULL, NULL};

apr_status_t pv_redact_query(const char **pout, int *pchanged, const char *s,
                             apr_pool_t *p)
{
    return rewrite(pout, pchanged, s, 0, &hider, p);
}

apr_status_t pv_redact_args(const char **pout, int *pchanged, const char *s,
                            apr_pool_t *p)
{
    return rewrite(pout, pchanged, s, 1, &hider, p);
}

apr_status_t pv_redact_args_keep(const char **pout, int *pchanged,
                                 apr_array_header_t *values, const char *s,
                                 apr_pool_t *p)
{
    scan_t sc;
    apr_size_t vs, ve;
    int none;

    if (s && values) {
        scan_start(&sc, &none, s, 1);
        while (next_value(&sc, &vs, &ve)) {
            pv_redact_value_t *kv = apr_array_push(values);

            kv->s = s + vs;
            kv->len = ve - vs;
        }
    }
    return rewrite(pout, pchanged, s, 1, &hider, p);
}

/* Restoring: the n-th value that reads REDACTED gets the n-th kept value. */
typedef struct {
    const apr_array_header_t *values;
    int next;
} restorer_t;

static const char *pick_restore(void *baton, const char *v, apr_size_t len,
                                apr_size_t *prlen)
{
    restorer_t *rs = baton;
    const pv_redact_value_t *kv;

    if (!is_redacted(v, len) || rs->next >= rs->values->nelts) {
        return NULL;
    }
    kv = &APR_ARRAY_IDX(rs->values, rs->next, pv_redact_value_t);
    rs->next++;
    *prlen = kv->len;
    return kv->s;
}

static void reset_restore(void *baton)
{
    ((restorer_t *)baton)->next = 0;
}

apr_status_t pv_redact_restore(const char **pout, const char *args,
                               const apr_array_header_t *values, apr_pool_t *p)
{
    restorer_t rs = {values, 0};
    rewriter_t rw = {pick_restore, reset_restore, &rs};
    int changed;

    *pout = args;
    if (!values || values->nelts == 0) {
        return APR_SUCCESS;
    }
    return rewrite(pout, &changed, args, 1, &rw, p);
}
