/* libFuzzer target: pv_redact_stream on hostile bytes, split anywhere,
 * and pv_redact_restore on what it leaves. The first byte picks the test:
 *   'Q' the rest is a query (bytes below 0x21 and 0x7f dropped) sent as
 *       "GET /p?<query> HTTP/1.1": the query that comes out holds no token
 *       value but REDACTED, and restored with the kept values it is the
 *       query as sent (what mod_preview's handlers read);
 *   anything else: it seeds the split and the limits, the rest is a
 *       header block: fed whole or in pieces, the output and the values
 *       are the same, each piece's output fits PV_REDACT_STREAM_OUT_MAX,
 *       the limits only ever stop it with APR_ENOSPC, and a second pass
 *       over the output changes nothing (no value but REDACTED is left). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <sanitizer/lsan_interface.h>

#include "pv_redact.h"
#include "pv_redact_stream.h"

#define BIG 1000000

static apr_pool_t *pool;

typedef struct {
    char *out;
    apr_size_t len;
    apr_status_t rv;
    apr_array_header_t *values;
} run_t;

/* in fed in pieces: piece i is 1 + (seed * (i + 7)) % 23 bytes long, or
 * all of it when seed is 0. */
static run_t run(const char *in, apr_size_t len, unsigned seed,
                 apr_size_t line_max, apr_size_t field_max)
{
    run_t r = {apr_palloc(pool, PV_REDACT_STREAM_OUT_MAX(len) + 1), 0,
               APR_SUCCESS, NULL};
    pv_redact_stream_t *st;
    apr_size_t at = 0, i = 0;

    if (pv_redact_stream_make(&st, line_max, field_max, pool)) {
        abort();
    }
    while (at < len && r.rv == APR_SUCCESS) {
        apr_size_t n = seed ? 1 + (seed * (i + 7)) % 23 : len, o = 0;

        if (n > len - at) {
            n = len - at;
        }
        r.rv = pv_redact_stream_feed(
            st, r.out + r.len, PV_REDACT_STREAM_OUT_MAX(n), &o, in + at, n);
        if (o > PV_REDACT_STREAM_OUT_MAX(n)) {
            abort();
        }
        r.len += o;
        at += n;
        i++;
    }
    r.values = pv_redact_stream_values(st, pool);
    return r;
}

static int same_values(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        const pv_redact_value_t *x = &APR_ARRAY_IDX(a, i, pv_redact_value_t);
        const pv_redact_value_t *y = &APR_ARRAY_IDX(b, i, pv_redact_value_t);

        if (x->len != y->len || memcmp(x->s, y->s, x->len)) {
            return 0;
        }
    }
    return 1;
}

static void block(const char *in, apr_size_t len, unsigned seed)
{
    run_t whole = run(in, len, 0, BIG, BIG);
    run_t split = run(in, len, seed | 1, BIG, BIG);
    run_t again, tight;
    int i;

    if (whole.rv != APR_SUCCESS || split.rv != APR_SUCCESS ||
        whole.len != split.len || memcmp(whole.out, split.out, whole.len) ||
        !same_values(whole.values, split.values)) {
        abort();
    }
    again = run(whole.out, whole.len, seed, BIG, BIG);
    if (again.rv != APR_SUCCESS || again.len != whole.len ||
        memcmp(again.out, whole.out, whole.len)) {
        abort();
    }
    for (i = 0; i < again.values->nelts; i++) {
        const pv_redact_value_t *v =
            &APR_ARRAY_IDX(again.values, i, pv_redact_value_t);

        if (v->len != strlen(PV_REDACTED) ||
            memcmp(v->s, PV_REDACTED, v->len)) {
            abort();
        }
    }
    /* small limits: the same output up to where it stops, and only ENOSPC */
    tight = run(in, len, seed, 1 + seed % 64, 1 + seed % 32);
    if ((tight.rv != APR_SUCCESS && tight.rv != APR_ENOSPC) ||
        (tight.rv == APR_SUCCESS &&
         (tight.len != whole.len || memcmp(tight.out, whole.out, whole.len)))) {
        abort();
    }
}

static void query(const char *in, apr_size_t len, unsigned seed)
{
    char *q = apr_palloc(pool, len + 1);
    apr_size_t n = 0, i;
    const char *line, *got, *back;
    char *end;
    run_t r;
    int changed;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c >= 0x21 && c != 0x7f) {
            q[n++] = (char)c;
        }
    }
    q[n] = '\0';
    line = apr_pstrcat(pool, "GET /p?", q, " HTTP/1.1\r\n\r\n", NULL);
    r = run(line, strlen(line), seed, BIG, BIG);
    if (r.rv != APR_SUCCESS || r.len < 7) {
        abort();
    }
    r.out[r.len] = '\0';
    got = apr_pstrdup(pool, r.out + 7);
    end = strchr(got, ' ');
    if (!end) {
        abort();
    }
    *end = '\0';
    /* nothing left for the string redaction to hide */
    if (pv_redact_args(&back, &changed, got, pool) || changed) {
        abort();
    }
    if (pv_redact_restore(&back, got, r.values, pool) || strcmp(back, q)) {
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* APR pool memory may come from mmap, where LeakSanitizer sees no
     * pointers to it */
    __lsan_disable();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    __lsan_enable();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    if (data[0] == 'Q') {
        query((const char *)data + 1, size - 1, size);
    }
    else {
        block((const char *)data + 1, size - 1, data[0]);
    }
    apr_pool_clear(pool);
    return 0;
}
