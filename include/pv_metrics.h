/* Counters of one server (virtual host) in memory shared by every process:
 * fixed label sets, so that the layout is one static struct; counted with
 * relaxed atomic adds (no lock on any request's path); read and written
 * out as Prometheus text (exposition format 0.0.4) or as mod_status'
 * "Key: value" lines. */
#ifndef PV_METRICS_H
#define PV_METRICS_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "pv_token.h"

/* The handler label of mod_preview_requests_total. */
typedef enum {
    PV_METRICS_H_LOGIN = 0,
    PV_METRICS_H_LOGOUT,
    PV_METRICS_H_PREVIEW,
    PV_METRICS_H_SIGN,
    PV_METRICS_H_METRICS,
    PV_METRICS_H_COUNT
} pv_metrics_handler_e;

/* The code label: the statuses the handlers answer, and "other". */
#define PV_METRICS_CODE_COUNT 14

typedef enum {
    PV_METRICS_CACHE_HIT = 0,
    PV_METRICS_CACHE_MISS,
    PV_METRICS_CACHE_OFF,
    PV_METRICS_CACHE_COUNT
} pv_metrics_cache_e;

/* The source format label of mod_preview_render_seconds, by the libvips
 * loader that read the source. */
typedef enum {
    PV_METRICS_SRC_JPEG = 0,
    PV_METRICS_SRC_PNG,
    PV_METRICS_SRC_WEBP,
    PV_METRICS_SRC_GIF,
    PV_METRICS_SRC_HEIF,
    PV_METRICS_SRC_TIFF,
    PV_METRICS_SRC_OTHER,
    PV_METRICS_SRC_COUNT
} pv_metrics_source_e;

typedef enum {
    PV_METRICS_DB_UNAVAILABLE = 0, /* 503: unreachable, lost, pool empty */
    PV_METRICS_DB_QUERY,           /* 500: SQL error, a bad row */
    PV_METRICS_DB_REFUSED,         /* 503: our account refused (1045...) */
    PV_METRICS_DB_COUNT
} pv_metrics_db_e;

typedef enum {
    PV_METRICS_LOGIN_OK = 0,
    PV_METRICS_LOGIN_BAD_PASSWORD,
    PV_METRICS_LOGIN_UNKNOWN_USER,
    PV_METRICS_LOGIN_LIMITED,
    PV_METRICS_LOGIN_COUNT
} pv_metrics_login_e;

/* Why a token was refused (pv_token_result_e folded, and the refusals
 * the glue adds after the token verified). */
typedef enum {
    PV_METRICS_TOKEN_MISSING = 0,
    PV_METRICS_TOKEN_MALFORMED,
    PV_METRICS_TOKEN_BAD_ALG,
    PV_METRICS_TOKEN_UNKNOWN_KID,
    PV_METRICS_TOKEN_BAD_SIGNATURE,
    PV_METRICS_TOKEN_BAD_CLAIM,
    PV_METRICS_TOKEN_EXPIRED,
    PV_METRICS_TOKEN_NOT_YET_VALID,
    PV_METRICS_TOKEN_BAD_AUDIENCE,
    PV_METRICS_TOKEN_LEGACY_DISABLED,
    PV_METRICS_TOKEN_REVOKED,
    PV_METRICS_TOKEN_UNKNOWN_USER,
    PV_METRICS_TOKEN_QUERY_REFUSED, /* a token where the query may not hold
                                       one (PreviewQueryTokens, logout) */
    PV_METRICS_TOKEN_URL_TOKEN,     /* a URL token where a login token is
                                       needed */
    PV_METRICS_TOKEN_COUNT
} pv_metrics_token_e;

/* Upper bounds of the duration histograms' buckets, in microseconds; the
 * last bucket is +Inf. */
#define PV_METRICS_BUCKETS 13

/* The longest server label kept ("name:port"); longer ones are cut. */
#define PV_METRICS_SERVER_MAX 128

typedef struct pv_metrics_hist_t {
    apr_uint64_t bucket[PV_METRICS_BUCKETS]; /* not cumulative */
    apr_uint64_t sum_us;
} pv_metrics_hist_t;

/* One server's counters. Plain memory: the glue places an array of them
 * in shared memory; zero-filled is the empty state. */
typedef struct pv_metrics_t {
    char server[PV_METRICS_SERVER_MAX];
    apr_uint64_t requests[PV_METRICS_H_COUNT][PV_METRICS_CODE_COUNT];
    apr_uint64_t cache[PV_METRICS_CACHE_COUNT];
    pv_metrics_hist_t render[PV_METRICS_SRC_COUNT];
    pv_metrics_hist_t render_wait;
    apr_uint64_t db_errors[PV_METRICS_DB_COUNT];
    apr_uint64_t login[PV_METRICS_LOGIN_COUNT];
    apr_uint64_t tokens_refused[PV_METRICS_TOKEN_COUNT];
    apr_uint32_t db_state; /* 0 no call yet, 1 up, 2 down */
    apr_uint32_t pad;
} pv_metrics_t;

/* Empty the counters and set the label (cut at PV_METRICS_SERVER_MAX-1). */
void pv_metrics_reset(pv_metrics_t *m, const char *server);

/* The counting points. Every one accepts m == NULL (no shared memory:
 * nothing is counted) and is safe from any thread of any process. */
void pv_metrics_request(pv_metrics_t *m, pv_metrics_handler_e h, int status);
void pv_metrics_cache(pv_metrics_t *m, pv_metrics_cache_e result);
/* loader: pv_image_info_t.loader ("jpegload"...), NULL for other. */
void pv_metrics_render(pv_metrics_t *m, const char *loader,
                       apr_interval_time_t took);
void pv_metrics_render_wait(pv_metrics_t *m, apr_interval_time_t waited);
/* The outcome of one database call (PV_DB_* or APR_SUCCESS/APR_NOTFOUND):
 * an error is counted by kind; db_up follows the last call. */
void pv_metrics_db(pv_metrics_t *m, apr_status_t rv);
void pv_metrics_login(pv_metrics_t *m, pv_metrics_login_e result);
void pv_metrics_token_refused(pv_metrics_t *m, pv_metrics_token_e reason);

pv_metrics_token_e pv_metrics_token_reason(pv_token_result_e res);
pv_metrics_source_e pv_metrics_source_of(const char *loader);

/* What is shown of one server: its counters, and the gauges the glue
 * reads elsewhere at that moment. */
typedef struct pv_metrics_view_t {
    const pv_metrics_t *m;
    int has_cache;               /* 0: no cache gauges */
    apr_int64_t cache_bytes;     /* -1: not counted yet */
    apr_int64_t cache_entries;   /* -1: not counted yet */
    apr_time_t cache_counted_at; /* the last count of the folder; 0: none */
} pv_metrics_view_t;

/* The output, written piece by piece. */
typedef void (*pv_metrics_write_fn)(void *baton, const char *s, apr_size_t len);

/* Prometheus text, one HELP and TYPE per family, then a sample per
 * server and label set that is not zero (histograms: count not zero;
 * gauges: when known). */
void pv_metrics_prometheus(const pv_metrics_view_t *views, int n,
                           pv_metrics_write_fn write, void *baton);

/* The same samples as mod_status ?auto lines: the family's name in
 * CamelCase after "Preview", the label values after it, separated by
 * spaces, ':' in a value written as a space (no line holds a ':' but the
 * one before its value): "PreviewRequestsTotal localhost 80 preview 200: 3".
 * html: the same as rows of an HTML table (values escaped). */
void pv_metrics_status(const pv_metrics_view_t *views, int n, int html,
                       pv_metrics_write_fn write, void *baton);

#endif /* PV_METRICS_H */
