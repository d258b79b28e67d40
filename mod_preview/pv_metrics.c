/* Shared counters: counting with relaxed atomic adds, and the text
 * formats they are read out in. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "pv_db.h"
#include "pv_metrics.h"

/* Relaxed: each counter is read alone; no reader needs two counters to
 * agree (a histogram's count is summed from the same loads as its
 * buckets). A lock-prefixed add, no lock taken. */
#define ADD(p, n) __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define LOAD(p)   __atomic_load_n((p), __ATOMIC_RELAXED)

static const int codes[PV_METRICS_CODE_COUNT - 1] = {
    200, 204, 304, 400, 401, 403, 404, 405, 413, 415, 429, 500, 503};

static const char *const handler_names[PV_METRICS_H_COUNT] = {
    "login", "logout", "preview", "sign", "metrics"};
static const char *const cache_names[PV_METRICS_CACHE_COUNT] = {"hit", "miss",
                                                                "off"};
static const char *const source_names[PV_METRICS_SRC_COUNT] = {
    "jpeg", "png", "webp", "gif", "heif", "tiff", "other"};
static const char *const db_names[PV_METRICS_DB_COUNT] = {"unavailable",
                                                          "query", "refused"};
static const char *const login_names[PV_METRICS_LOGIN_COUNT] = {
    "ok", "bad_password", "unknown_user", "limited"};
static const char *const token_names[PV_METRICS_TOKEN_COUNT] = {
    "missing",       "malformed",       "bad_alg", "unknown_kid",
    "bad_signature", "bad_claim",       "expired", "not_yet_valid",
    "bad_audience",  "legacy_disabled", "revoked", "unknown_user",
    "query_refused", "url_token"};

/* Bucket bounds: a hit's wait is 0, a thumbnail of a phone photo takes
 * 40-200 ms, PreviewRenderTimeout defaults to 10 s. */
static const apr_int64_t bounds_us[PV_METRICS_BUCKETS - 1] = {
    1000,   5000,   10000,   25000,   50000,   100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const bound_names[PV_METRICS_BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5",   "1",     "2.5",  "5",     "10",   "+Inf"};

void pv_metrics_reset(pv_metrics_t *m, const char *server)
{
    memset(m, 0, sizeof(*m));
    apr_cpystrn(m->server, server ? server : "", sizeof(m->server));
}

static int code_index(int status)
{
    int i;

    for (i = 0; i < PV_METRICS_CODE_COUNT - 1; i++) {
        if (codes[i] == status) {
            return i;
        }
    }
    return PV_METRICS_CODE_COUNT - 1;
}

void pv_metrics_request(pv_metrics_t *m, pv_metrics_handler_e h, int status)
{
    if (m && h >= 0 && h < PV_METRICS_H_COUNT) {
        ADD(&m->requests[h][code_index(status)], 1);
    }
}

void pv_metrics_cache(pv_metrics_t *m, pv_metrics_cache_e result)
{
    if (m && result >= 0 && result < PV_METRICS_CACHE_COUNT) {
        ADD(&m->cache[result], 1);
    }
}

static void observe(pv_metrics_hist_t *h, apr_interval_time_t us)
{
    int i;

    if (us < 0) {
        us = 0;
    }
    for (i = 0; i < PV_METRICS_BUCKETS - 1 && us > bounds_us[i]; i++) {
    }
    ADD(&h->bucket[i], 1);
    ADD(&h->sum_us, (apr_uint64_t)us);
}

pv_metrics_source_e pv_metrics_source_of(const char *loader)
{
    static const char *const prefixes[PV_METRICS_SRC_OTHER] = {
        "jpeg", "png", "webp", "gif", "heif", "tiff"};
    int i;

    for (i = 0; loader && i < PV_METRICS_SRC_OTHER; i++) {
        if (!strncmp(loader, prefixes[i], strlen(prefixes[i]))) {
            return (pv_metrics_source_e)i;
        }
    }
    return PV_METRICS_SRC_OTHER;
}

void pv_metrics_render(pv_metrics_t *m, const char *loader,
                       apr_interval_time_t took)
{
    if (m) {
        observe(&m->render[pv_metrics_source_of(loader)], took);
    }
}

void pv_metrics_render_wait(pv_metrics_t *m, apr_interval_time_t waited)
{
    if (m) {
        observe(&m->render_wait, waited);
    }
}

void pv_metrics_db(pv_metrics_t *m, apr_status_t rv)
{
    apr_uint32_t state = rv == PV_DB_UNAVAILABLE || rv == PV_DB_REFUSED ? 2 : 1;

    if (!m) {
        return;
    }
    if (rv == PV_DB_UNAVAILABLE) {
        ADD(&m->db_errors[PV_METRICS_DB_UNAVAILABLE], 1);
    }
    else if (rv == PV_DB_REFUSED) {
        ADD(&m->db_errors[PV_METRICS_DB_REFUSED], 1);
    }
    else if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        ADD(&m->db_errors[PV_METRICS_DB_QUERY], 1);
    }
    /* Written only on a change: every request stores otherwise, and each
     * store takes the line from the other cores. */
    if (LOAD(&m->db_state) != state) {
        __atomic_store_n(&m->db_state, state, __ATOMIC_RELAXED);
    }
}

void pv_metrics_login(pv_metrics_t *m, pv_metrics_login_e result)
{
    if (m && result >= 0 && result < PV_METRICS_LOGIN_COUNT) {
        ADD(&m->login[result], 1);
    }
}

void pv_metrics_token_refused(pv_metrics_t *m, pv_metrics_token_e reason)
{
    if (m && reason >= 0 && reason < PV_METRICS_TOKEN_COUNT) {
        ADD(&m->tokens_refused[reason], 1);
    }
}

pv_metrics_token_e pv_metrics_token_reason(pv_token_result_e res)
{
    switch (res) {
        case PV_TOKEN_EMPTY:
            return PV_METRICS_TOKEN_MISSING;
        case PV_TOKEN_BAD_ALG:
            return PV_METRICS_TOKEN_BAD_ALG;
        case PV_TOKEN_UNKNOWN_KID:
            return PV_METRICS_TOKEN_UNKNOWN_KID;
        case PV_TOKEN_BAD_SIGNATURE:
            return PV_METRICS_TOKEN_BAD_SIGNATURE;
        case PV_TOKEN_MISSING_CLAIM:
        case PV_TOKEN_BAD_CLAIM:
        case PV_TOKEN_BAD_SUBJECT:
            return PV_METRICS_TOKEN_BAD_CLAIM;
        case PV_TOKEN_EXPIRED:
            return PV_METRICS_TOKEN_EXPIRED;
        case PV_TOKEN_NOT_YET_VALID:
            return PV_METRICS_TOKEN_NOT_YET_VALID;
        case PV_TOKEN_BAD_AUDIENCE:
            return PV_METRICS_TOKEN_BAD_AUDIENCE;
        case PV_TOKEN_LEGACY_DISABLED:
            return PV_METRICS_TOKEN_LEGACY_DISABLED;
        default:
            /* too long, not three parts, bad JSON or header */
            return PV_METRICS_TOKEN_MALFORMED;
    }
}

/* ------------------------------------------------------------- output */

/* One sample: the family, a suffix (_bucket...), up to three labels after
 * server, and the value as text. */
typedef struct sample_t {
    const char *family;
    const char *suffix;
    const char *keys[3];
    const char *vals[3];
    const char *value;
} sample_t;

typedef struct walker_t {
    void (*family)(struct walker_t *w, const char *name, const char *type,
                   const char *help);
    void (*sample)(struct walker_t *w, const pv_metrics_t *m,
                   const sample_t *s);
    pv_metrics_write_fn write;
    void *baton;
    int html;
} walker_t;

static void put(walker_t *w, const char *s)
{
    w->write(w->baton, s, strlen(s));
}

static void counter(walker_t *w, const pv_metrics_t *m, const char *family,
                    const char *key, const char *val, const char *key2,
                    const char *val2, apr_uint64_t v)
{
    char num[32];
    sample_t s = {family, "", {key, key2, NULL}, {val, val2, NULL}, num};

    if (v) {
        apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, v);
        w->sample(w, m, &s);
    }
}

static void gauge(walker_t *w, const pv_metrics_t *m, const char *family,
                  const char *value)
{
    sample_t s = {family, "", {NULL}, {NULL}, value};

    w->sample(w, m, &s);
}

static void histogram(walker_t *w, const pv_metrics_t *m, const char *family,
                      const char *key, const char *val,
                      const pv_metrics_hist_t *h)
{
    apr_uint64_t b[PV_METRICS_BUCKETS], count = 0;
    char num[32];
    sample_t s = {family, "_bucket", {key, "le", NULL}, {val, NULL, NULL}, num};
    int i;

    for (i = 0; i < PV_METRICS_BUCKETS; i++) {
        b[i] = LOAD(&h->bucket[i]);
        count += b[i];
    }
    if (!count) {
        return;
    }
    if (!key) {
        s.keys[0] = "le";
        s.keys[1] = NULL;
    }
    for (i = 0, count = 0; i < PV_METRICS_BUCKETS; i++) {
        count += b[i];
        s.vals[key ? 1 : 0] = bound_names[i];
        apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, count);
        w->sample(w, m, &s);
    }
    s.keys[0] = key;
    s.keys[1] = NULL;
    s.vals[0] = val;
    s.suffix = "_sum";
    {
        apr_uint64_t us = LOAD(&h->sum_us);

        apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT ".%06u",
                     us / 1000000, (unsigned)(us % 1000000));
    }
    w->sample(w, m, &s);
    s.suffix = "_count";
    apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, count);
    w->sample(w, m, &s);
}

/* The counter families of one label: the label's values, and where their
 * counters are in pv_metrics_t. */
typedef struct counter_family_t {
    const char *name;
    const char *help;
    const char *key;
    const char *const *values;
    int n;
    size_t offset;
} counter_family_t;

static const counter_family_t counter_families[] = {
    {"mod_preview_cache_total",
     "Previews that reached the cache: hit, miss (rendered), off (no "
     "PreviewCacheDir).",
     "result", cache_names, PV_METRICS_CACHE_COUNT,
     offsetof(pv_metrics_t, cache)},
    {"mod_preview_db_errors_total",
     "Failed database calls: unavailable (503) or query (500).", "kind",
     db_names, PV_METRICS_DB_COUNT, offsetof(pv_metrics_t, db_errors)},
    {"mod_preview_login_total", "Logins by result.", "result", login_names,
     PV_METRICS_LOGIN_COUNT, offsetof(pv_metrics_t, login)},
    {"mod_preview_tokens_refused_total", "Tokens refused with 401, by reason.",
     "reason", token_names, PV_METRICS_TOKEN_COUNT,
     offsetof(pv_metrics_t, tokens_refused)}};

/* The gauges the glue reads for a view: -1 when unknown. */
typedef enum { G_CACHE_BYTES, G_CACHE_ENTRIES, G_CACHE_COUNTED } gauge_e;

static const struct {
    const char *name;
    const char *help;
} gauges[] = {
    {"mod_preview_cache_bytes",
     "Bytes in the server's PreviewCacheDir: the sweeper's last count plus "
     "what was stored since."},
    {"mod_preview_cache_entries",
     "Previews in the server's PreviewCacheDir: the sweeper's last count "
     "plus what was stored since."},
    {"mod_preview_cache_counted_timestamp_seconds",
     "When the sweeper last counted the server's PreviewCacheDir (Unix "
     "time)."}};

static apr_int64_t gauge_of(const pv_metrics_view_t *v, gauge_e g)
{
    if (!v->has_cache) {
        return -1;
    }
    switch (g) {
        case G_CACHE_BYTES:
            return v->cache_bytes;
        case G_CACHE_ENTRIES:
            return v->cache_entries;
        default:
            return v->cache_counted_at > 0 ? apr_time_sec(v->cache_counted_at)
                                           : -1;
    }
}

/* Each family once, each server's samples under it. */
static void walk(walker_t *w, const pv_metrics_view_t *views, int n)
{
    char num[32], code[8];
    size_t f;
    int i, j, k;

    w->family(w, "mod_preview_requests_total", "counter",
              "Requests answered by mod_preview's handlers, by handler and "
              "HTTP status (other: any status not listed).");
    for (i = 0; i < n; i++) {
        for (j = 0; j < PV_METRICS_H_COUNT; j++) {
            for (k = 0; k < PV_METRICS_CODE_COUNT; k++) {
                if (k < PV_METRICS_CODE_COUNT - 1) {
                    apr_snprintf(code, sizeof(code), "%d", codes[k]);
                }
                counter(w, views[i].m, "mod_preview_requests_total", "handler",
                        handler_names[j], "code",
                        k < PV_METRICS_CODE_COUNT - 1 ? code : "other",
                        LOAD(&views[i].m->requests[j][k]));
            }
        }
    }
    for (f = 0; f < sizeof(counter_families) / sizeof(counter_families[0]);
         f++) {
        const counter_family_t *cf = &counter_families[f];

        w->family(w, cf->name, "counter", cf->help);
        for (i = 0; i < n; i++) {
            const apr_uint64_t *c =
                (const apr_uint64_t *)((const char *)views[i].m + cf->offset);

            for (j = 0; j < cf->n; j++) {
                counter(w, views[i].m, cf->name, cf->key, cf->values[j], NULL,
                        NULL, LOAD(&c[j]));
            }
        }
    }
    w->family(w, "mod_preview_render_seconds", "histogram",
              "Time libvips took for one preview, by source format.");
    for (i = 0; i < n; i++) {
        for (j = 0; j < PV_METRICS_SRC_COUNT; j++) {
            histogram(w, views[i].m, "mod_preview_render_seconds", "format",
                      source_names[j], &views[i].m->render[j]);
        }
    }
    w->family(w, "mod_preview_render_wait_seconds", "histogram",
              "Time a miss waited for its render slots and memory.");
    for (i = 0; i < n; i++) {
        histogram(w, views[i].m, "mod_preview_render_wait_seconds", NULL, NULL,
                  &views[i].m->render_wait);
    }
    w->family(w, "mod_preview_db_up", "gauge",
              "1 when the last database call reached MariaDB, 0 when it "
              "found it unavailable; absent before the first call.");
    for (i = 0; i < n; i++) {
        apr_uint32_t st = LOAD(&views[i].m->db_state);

        if (st) {
            gauge(w, views[i].m, "mod_preview_db_up", st == 1 ? "1" : "0");
        }
    }
    for (f = 0; f < sizeof(gauges) / sizeof(gauges[0]); f++) {
        w->family(w, gauges[f].name, "gauge", gauges[f].help);
        for (i = 0; i < n; i++) {
            apr_int64_t v = gauge_of(&views[i], (gauge_e)f);

            if (v >= 0) {
                apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT, v);
                gauge(w, views[i].m, gauges[f].name, num);
            }
        }
    }
}

/* A label value escaped for the text format: backslash, quote, newline. */
static void put_prom_value(walker_t *w, const char *v)
{
    const char *p;

    for (p = v; *p; p++) {
        if (*p == '\\' || *p == '"') {
            w->write(w->baton, "\\", 1);
            w->write(w->baton, p, 1);
        }
        else if (*p == '\n') {
            w->write(w->baton, "\\n", 2);
        }
        else {
            w->write(w->baton, p, 1);
        }
    }
}

static void prom_family(walker_t *w, const char *name, const char *type,
                        const char *help)
{
    put(w, "# HELP ");
    put(w, name);
    put(w, " ");
    put(w, help);
    put(w, "\n# TYPE ");
    put(w, name);
    put(w, " ");
    put(w, type);
    put(w, "\n");
}

static void prom_sample(walker_t *w, const pv_metrics_t *m, const sample_t *s)
{
    int i;

    put(w, s->family);
    put(w, s->suffix);
    put(w, "{server=\"");
    put_prom_value(w, m->server);
    put(w, "\"");
    for (i = 0; i < 3 && s->keys[i]; i++) {
        put(w, ",");
        put(w, s->keys[i]);
        put(w, "=\"");
        put_prom_value(w, s->vals[i]);
        put(w, "\"");
    }
    put(w, "} ");
    put(w, s->value);
    put(w, "\n");
}

void pv_metrics_prometheus(const pv_metrics_view_t *views, int n,
                           pv_metrics_write_fn write, void *baton)
{
    walker_t w = {prom_family, prom_sample, write, baton, 0};

    walk(&w, views, n);
}

/* Status lines carry no HELP or TYPE: the README describes each. */
static void status_family(walker_t *w, const char *name, const char *type,
                          const char *help)
{
    (void)w;
    (void)name;
    (void)type;
    (void)help;
}

/* mod_preview_requests_total -> PreviewRequestsTotal (into buf). */
static void camel(char *buf, apr_size_t size, const char *family,
                  const char *suffix)
{
    const char *parts[2] = {family + strlen("mod_"), suffix};
    apr_size_t o = 0;
    int i, up = 1;

    for (i = 0; i < 2; i++) {
        const char *p;

        for (p = parts[i]; *p && o + 1 < size; p++) {
            if (*p == '_') {
                up = 1;
                continue;
            }
            buf[o++] =
                up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
            up = 0;
        }
    }
    buf[o] = '\0';
}

/* A value for a status line: ':' and control bytes as spaces; in HTML,
 * the markup characters escaped. */
static void put_status_value(walker_t *w, const char *v)
{
    const char *p;

    for (p = v; *p; p++) {
        if (*p == ':' || (unsigned char)*p < 0x20) {
            w->write(w->baton, " ", 1);
        }
        else if (w->html && *p == '<') {
            put(w, "&lt;");
        }
        else if (w->html && *p == '>') {
            put(w, "&gt;");
        }
        else if (w->html && *p == '&') {
            put(w, "&amp;");
        }
        else if (w->html && *p == '"') {
            put(w, "&quot;");
        }
        else {
            w->write(w->baton, p, 1);
        }
    }
}

static void status_sample(walker_t *w, const pv_metrics_t *m, const sample_t *s)
{
    char name[96];
    int i;

    camel(name, sizeof(name), s->family, s->suffix);
    put(w, w->html ? "<tr><td>" : "");
    put(w, name);
    put(w, w->html ? "</td><td>" : " ");
    put_status_value(w, m->server);
    for (i = 0; i < 3 && s->keys[i]; i++) {
        put(w, " ");
        put_status_value(w, s->vals[i]);
    }
    put(w, w->html ? "</td><td>" : ": ");
    put(w, s->value);
    put(w, w->html ? "</td></tr>\n" : "\n");
}

void pv_metrics_status(const pv_metrics_view_t *views, int n, int html,
                       pv_metrics_write_fn write, void *baton)
{
    walker_t w = {status_family, status_sample, write, baton, html};

    walk(&w, views, n);
}
