/* The header block's token values redacted byte by byte: a state machine
 * that holds no input back (a value's bytes are dropped as they come, the
 * REDACTED goes out with its first byte), so that any split of the input
 * gives the same output, in bounded memory. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pv_redact_stream.h"

#define REDACTED_LEN (sizeof(PV_REDACTED) - 1)
#define REFERER      "referer:"
#define REFERER_LEN  (sizeof(REFERER) - 1)

typedef enum {
    BLOCK_BEFORE, /* no request line yet */
    BLOCK_FIELDS, /* the request line has passed */
    BLOCK_DONE    /* the empty line after the fields has passed */
} block_e;

typedef enum {
    LINE_START,   /* no byte of this line yet */
    LINE_REQUEST, /* the request line */
    LINE_NAME,    /* a field, name still matched against "referer:" */
    LINE_REFERER, /* a Referer field (or its continuation) */
    LINE_OTHER    /* any other field: passes as it is */
} line_e;

typedef enum {
    Q_PATH,        /* before the first '?' or '#' */
    Q_NAME,        /* in a parameter name (or at its start) */
    Q_SKIP,        /* in a name too long to be ours, or another's value */
    Q_VALUE_START, /* right after "token=" */
    Q_VALUE        /* in a token value: its bytes are dropped */
} query_e;

struct pv_redact_stream_t {
    apr_pool_t *pool;
    apr_size_t line_max, field_max;
    block_e block;
    line_e line;
    query_e q;
    int fold_referer;   /* the last field was a Referer: a fold continues it */
    apr_size_t matched; /* bytes of "referer:" matched (LINE_NAME) */
    char name[PV_REDACT_NAME_RAW_MAX];
    apr_size_t nname;
    apr_size_t linelen; /* bytes of this line, a CR just read not counted */
    int cr;             /* the last byte was a CR */
    int failed;
    int request_line;
    /* the request line's values: bytes in buf, offsets in values */
    char *buf;
    apr_size_t buflen, bufcap;
    apr_array_header_t *offsets; /* apr_size_t pairs: start, length */
    apr_size_t value_off;        /* where the value in progress starts */
};

typedef struct {
    char *p;
    apr_size_t len, cap;
    int over; /* a write did not fit: a bug of PV_REDACT_STREAM_OUT_MAX */
} out_t;

/* A parameter may start after these (pv_redact.c's rule). */
static int is_sep(unsigned char c)
{
    return c == '&' || c == ';' || c == '#' || c == '?' || c < 0x21 ||
           c == 0x7f;
}

/* A value ends at these: httpd's URI bytes are VCHAR and obs-text, so a
 * value never swallows a byte httpd would refuse the line for. */
static int ends_value(unsigned char c)
{
    return c == '&' || c == '#' || c < 0x21 || c == 0x7f;
}

static void put(out_t *o, const char *s, apr_size_t n)
{
    if (n > o->cap - o->len) {
        o->over = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void keep_byte(pv_redact_stream_t *st, char c)
{
    if (st->buflen == st->bufcap) {
        /* bounded by line_max: the line length is checked before */
        apr_size_t cap = st->bufcap ? st->bufcap * 2 : 128;
        char *nb;

        if (cap > st->line_max) {
            cap = st->line_max;
        }
        if (cap <= st->buflen) {
            return;
        }
        nb = apr_palloc(st->pool, cap);
        if (st->buflen) {
            memcpy(nb, st->buf, st->buflen);
        }
        st->buf = nb;
        st->bufcap = cap;
    }
    st->buf[st->buflen++] = c;
}

static void end_value(pv_redact_stream_t *st)
{
    if (st->line == LINE_REQUEST) {
        APR_ARRAY_PUSH(st->offsets, apr_size_t) = st->value_off;
        APR_ARRAY_PUSH(st->offsets, apr_size_t) = st->buflen - st->value_off;
    }
}

/* One byte of the request line or of a Referer line. */
static void scan(pv_redact_stream_t *st, out_t *o, char c)
{
    unsigned char u = (unsigned char)c;

    switch (st->q) {
        case Q_PATH:
            if (c == '?' || c == '#') {
                st->q = Q_NAME;
                st->nname = 0;
            }
            break;
        case Q_NAME:
            if (c == '=') {
                st->q = pv_redact_is_token_name(st->name, st->nname)
                            ? Q_VALUE_START
                            : Q_SKIP;
            }
            else if (is_sep(u)) {
                st->nname = 0;
            }
            else if (st->nname == sizeof(st->name)) {
                st->q = Q_SKIP;
            }
            else {
                st->name[st->nname++] = c;
            }
            break;
        case Q_SKIP:
            if (is_sep(u)) {
                st->q = Q_NAME;
                st->nname = 0;
            }
            break;
        case Q_VALUE_START:
            if (ends_value(u)) {
                /* an empty value holds nothing */
                st->q = Q_NAME;
                st->nname = 0;
                break;
            }
            put(o, PV_REDACTED, REDACTED_LEN);
            st->q = Q_VALUE;
            st->value_off = st->buflen;
            if (st->line == LINE_REQUEST) {
                keep_byte(st, c);
            }
            return;
        case Q_VALUE:
            if (ends_value(u)) {
                end_value(st);
                st->q = Q_NAME;
                st->nname = 0;
                break;
            }
            if (st->line == LINE_REQUEST) {
                keep_byte(st, c);
            }
            return;
    }
    put(o, &c, 1);
}

/* The first byte of a line decides what the line is. */
static void start_line(pv_redact_stream_t *st, char c)
{
    if (st->block == BLOCK_BEFORE) {
        st->line = LINE_REQUEST;
        st->q = Q_PATH;
    }
    else if ((c == ' ' || c == '\t') && st->fold_referer) {
        /* obs-fold: the scan of the Referer value goes on */
        st->line = LINE_REFERER;
    }
    else if (c == ' ' || c == '\t') {
        st->line = LINE_OTHER;
    }
    else {
        st->line = LINE_NAME;
        st->matched = 0;
        st->fold_referer = 0;
    }
}

static void end_line(pv_redact_stream_t *st)
{
    int empty = st->linelen == 0;

    if (st->block == BLOCK_BEFORE && !empty) {
        st->block = BLOCK_FIELDS;
        st->request_line = 1;
    }
    else if (st->block == BLOCK_FIELDS && empty) {
        st->block = BLOCK_DONE;
    }
    st->line = LINE_START;
    st->linelen = 0;
    st->cr = 0;
}

/* The line's length as httpd counts it: every byte but the LF and a CR
 * right before it. */
static apr_status_t count(pv_redact_stream_t *st, char c)
{
    apr_size_t max = st->line == LINE_REQUEST   ? st->line_max
                     : st->line == LINE_REFERER ? st->field_max
                                                : 0;

    if (st->cr) {
        st->linelen++;
    }
    st->cr = c == '\r';
    if (!st->cr) {
        st->linelen++;
    }
    if (max && st->linelen > max) {
        return APR_ENOSPC;
    }
    return APR_SUCCESS;
}

apr_status_t pv_redact_stream_make(pv_redact_stream_t **pout,
                                   apr_size_t line_max, apr_size_t field_max,
                                   apr_pool_t *p)
{
    pv_redact_stream_t *st;

    if (line_max == 0 || field_max == 0) {
        return APR_EINVAL;
    }
    st = apr_pcalloc(p, sizeof(*st));
    st->pool = p;
    st->line_max = line_max;
    st->field_max = field_max;
    st->offsets = apr_array_make(p, 4, sizeof(apr_size_t));
    *pout = st;
    return APR_SUCCESS;
}

apr_status_t pv_redact_stream_feed(pv_redact_stream_t *st, char *out,
                                   apr_size_t outcap, apr_size_t *poutlen,
                                   const char *in, apr_size_t len)
{
    out_t o = {out, 0, outcap, 0};
    apr_size_t i;
    apr_status_t rv = APR_SUCCESS;

    *poutlen = 0;
    if (st->failed || outcap < PV_REDACT_STREAM_OUT_MAX(len)) {
        return APR_EINVAL;
    }
    for (i = 0; i < len && st->block != BLOCK_DONE; i++) {
        char c = in[i];

        if (st->line == LINE_START && c != '\n') {
            start_line(st, c);
        }
        if (c != '\n' && (rv = count(st, c)) != APR_SUCCESS) {
            st->failed = 1;
            goto cleanup;
        }
        if (st->line == LINE_NAME) {
            if (st->matched < REFERER_LEN &&
                apr_tolower(c) == REFERER[st->matched]) {
                if (++st->matched == REFERER_LEN) {
                    st->line = LINE_REFERER;
                    st->fold_referer = 1;
                    st->q = Q_PATH;
                }
            }
            else {
                st->line = LINE_OTHER;
            }
            put(&o, &c, 1);
        }
        else if (st->line == LINE_REQUEST || st->line == LINE_REFERER) {
            scan(st, &o, c);
        }
        else {
            put(&o, &c, 1);
        }
        if (c == '\n') {
            end_line(st);
        }
    }
    /* after the block: the body or the next request, as it is */
    put(&o, in + i, len - i);
    if (o.over) {
        st->failed = 1;
        rv = APR_EGENERAL;
    }
cleanup:
    *poutlen = o.len;
    return rv;
}

int pv_redact_stream_done(const pv_redact_stream_t *st)
{
    return st->block == BLOCK_DONE;
}

int pv_redact_stream_has_request_line(const pv_redact_stream_t *st)
{
    return st->request_line;
}

apr_array_header_t *pv_redact_stream_values(const pv_redact_stream_t *st,
                                            apr_pool_t *p)
{
    int n = st->offsets->nelts / 2, i;
    int open = st->line == LINE_REQUEST && st->q == Q_VALUE;
    apr_array_header_t *vals =
        apr_array_make(p, n + open, sizeof(pv_redact_value_t));

    for (i = 0; i < n; i++) {
        pv_redact_value_t *v = apr_array_push(vals);

        v->s = st->buf + APR_ARRAY_IDX(st->offsets, 2 * i, apr_size_t);
        v->len = APR_ARRAY_IDX(st->offsets, 2 * i + 1, apr_size_t);
    }
    if (open) {
        pv_redact_value_t *v = apr_array_push(vals);

        v->s = st->buf + st->value_off;
        v->len = st->buflen - st->value_off;
    }
    return vals;
}
