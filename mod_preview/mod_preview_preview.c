/* preview: GET/HEAD <location>/<image-id>?token=...&w=&h=&fit=&format=&q=
 *
 * In order: method (405), token (401), query (400), image id (404), one
 * database round trip for ownership and revocation (401/404), the source
 * path checked under PreviewStorageRoot (404), the format negotiated as
 * far as the request decides it, the ETag from the row's path, the
 * source's size and mtime and the request (304 on If-None-Match), the preview
 * cache (a hit is sent from its file, no render slot taken; concurrent misses
 * of one key render once); on a miss only: the header probed (413/415), the
 * format settled by the alpha channel, the render's memory estimated from the
 * header (413 over PreviewMaxRenderMemory) and reserved from the process'
 * budget (503), a render slot (503), the render, stored in the cache, and the
 * bytes sent without a copy. A hit and a 304 never touch
 * libvips. */
/* Before any APR header: APR_OFFSETOF() is offsetof() only when <stddef.h>
 * came first, else a member access through a null pointer (undefined; UBSan
 * reports it in APR_BRIGADE_INSERT_TAIL). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#include <string.h>

#include "mod_preview.h"
#include "mod_preview_owner.h"
#include "mod_preview_auth.h"
#include "mod_preview_cache.h"
#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "mod_preview_http.h"
#include "mod_preview_login.h"
#include "mod_preview_preview.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "pv_cache.h"
#include "pv_db.h"
#include "pv_http_cond.h"
#include "pv_image.h"
#include "pv_image_budget.h"
#include "pv_log.h"
#include "pv_request.h"
#include "pv_request_token.h"
#include "pv_slots.h"
#include "pv_source.h"

APLOG_USE_MODULE(preview);

void pv_preview_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = pv_image_init(1);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0901) "libvips did not start: previews will "
                                   "fail with 500");
    }
}

/* ------------------------------------------------------------ responses */

static int send_not_found(request_rec *r)
{
    /* The one 404 of this handler: a missing image and someone else's
     * image must be indistinguishable, body and headers alike. */
    return pv_http_error(r, HTTP_NOT_FOUND, "not_found", "no such image", NULL,
                         0);
}

static int send_server_error(request_rec *r)
{
    return pv_http_error(r, HTTP_INTERNAL_SERVER_ERROR, "server_error",
                         "internal server error", NULL, 0);
}

/* A render libvips stopped at PreviewRenderDeadline: nothing was made,
 * nothing is cached. Retry-After: the deadline itself, so that a client
 * that waits as told does not bring the same render straight back. */
static int send_past_deadline(request_rec *r, apr_uint64_t id)
{
    const pv_srv_conf *c = pv_srv_conf_get(r->server);
    apr_int64_t ms = c->render_deadline / 1000;
    apr_int64_t retry =
        (c->render_deadline + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;

    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  PVLOGNO(0941) "image %" APR_UINT64_T_FMT
                                ": render stopped at PreviewRenderDeadline "
                                "(%" APR_INT64_T_FMT " ms)",
                  id, ms);
    return pv_http_error(
        r, HTTP_SERVICE_UNAVAILABLE, "busy",
        "this preview takes too long to make; retry later", NULL,
        (int)(retry > PV_RENDER_RETRY_AFTER ? retry : PV_RENDER_RETRY_AFTER));
}

/* Map an image core status to the answer (and a log line). */
static int send_image_error(request_rec *r, apr_uint64_t id, apr_status_t st)
{
    switch (st) {
        case PV_IMAGE_NOT_FOUND:
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          PVLOGNO(0903) "image %" APR_UINT64_T_FMT
                                        ": source file missing or not a "
                                        "regular file",
                          id);
            return send_not_found(r);
        case PV_IMAGE_TOO_BIG:
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          PVLOGNO(0904) "image %" APR_UINT64_T_FMT
                                        ": source over PreviewMaxSourceBytes "
                                        "or PreviewMaxSourcePixels",
                          id);
            return pv_http_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                                 "the source image is over this server's "
                                 "size limits",
                                 NULL, 0);
        case PV_IMAGE_UNSUPPORTED:
        case PV_IMAGE_CORRUPT:
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          PVLOGNO(0905) "image %" APR_UINT64_T_FMT
                                        ": source %s",
                          id, pv_image_status_str(st));
            return pv_http_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "unsupported_image",
                                 "the source is not an image this server "
                                 "renders",
                                 NULL, 0);
        case PV_IMAGE_DEADLINE:
            return send_past_deadline(r, id);
        case PV_IMAGE_BUSY: /* logged by grow_render_memory (PV1421) */
            return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                                 "too many previews are being made; retry "
                                 "later",
                                 NULL, PV_RENDER_RETRY_AFTER);
        default:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          PVLOGNO(0906) "image %" APR_UINT64_T_FMT
                                        ": render failed: %s",
                          id, pv_image_status_str(st));
            return send_server_error(r);
    }
}

/* ---------------------------------------------------------- the request */

/* One preview request as the pipeline fills it in, step by step. */
typedef struct pv_preview_req_t {
    request_rec *r;
    const pv_srv_conf *c;
    const pv_dir_conf *d;
    /* The query with its token values as the client sent them (r->args
     * holds REDACTED for every other module). */
    const char *args;
    pv_request_query_t *q;
    pv_token_claims_t claims;
    apr_uint64_t id;
    pv_db_image_t *img; /* the row: ownership, revocation, path */
    pv_source_t *src;   /* the checked inode, its name and fstat() */
    pv_render_req_t render;
    /* The format when the alpha channel does not decide it (fmt_known:
     * both agree), and when the source has alpha. */
    pv_image_format_e fmt, fmt_alpha;
    int fmt_known, allowed, vary;
    pv_cache_key_t key;
    const char *hexkey; /* pv_cache_key() of key: the ETag's and entry's */
    const char *etag;
    pv_cache_t *cache;
    const char *ckey; /* NULL: no cache, nothing to store */
    pv_cache_flight_t *flight;
    pv_image_info_t *info;
    /* Held while rendering (NULL when the table is missing). */
    pv_slots_t *slots;
    pv_user_hold_t *hold;
    pv_budget_hold_t *memory;
    apr_time_t render_until; /* the end of the render's wait for all that */
    apr_time_t render_start;
} pv_preview_req_t;

/* ------------------------------------------------- authorize: the token */

static int check_method(pv_preview_req_t *pr)
{
    ap_discard_request_body(pr->r);
    if (pr->r->method_number != M_GET) {
        return pv_http_error(pr->r, HTTP_METHOD_NOT_ALLOWED,
                             "method_not_allowed", "method not allowed",
                             "GET, HEAD", 0);
    }
    return OK;
}

/* 401 before anything else about the request: only the token pairs of
 * the query are read for it. */
static int authenticate(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    pv_request_query_t *qtok = NULL;
    const char *perr = NULL;
    int rc;

    pv_request_parse_query(&qtok, &perr,
                           pv_request_token_pairs(pr->args, r->pool), r->pool);
    rc = pv_auth_request(&pr->claims, r, qtok);
    /* Read: no error line from here on can show the token. */
    pv_redact_request(r);
    if (rc != OK) {
        return rc; /* DONE: the 401 (or 500) has been sent */
    }
    apr_table_setn(r->notes, PV_NOTE_USER,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, pr->claims.sub));
    return OK;
}

/* The query (400) and the image id (404). */
static int parse_request(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    const char *perr = NULL;

    if (pv_request_parse_query(&pr->q, &perr, pr->args, r->pool) !=
        APR_SUCCESS) {
        return pv_http_error(
            r, HTTP_BAD_REQUEST, "bad_request",
            apr_pstrcat(r->pool, "invalid parameter: ", perr, NULL), NULL, 0);
    }
    if (pv_request_id_from_path(&pr->id, r->uri, NULL) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0911) "not an image id: %s",
                      ap_escape_logitem(r->pool, r->uri));
        return send_not_found(r);
    }
    apr_table_setn(r->notes, PV_NOTE_IMAGE,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, pr->id));
    return OK;
}

/* --------------------------------------------------- authorize: the row */

/* One round trip: revocation and ownership together. */
static int lookup_row(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    pv_db_pool_t *db = pv_server_get(r->server)->db;
    const char *err = NULL;
    apr_status_t rv;

    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0912) "preview needs PreviewDBParams in this "
                                    "server");
        return send_server_error(r);
    }
    rv = pv_owner_image_lookup(&pr->img, &err, r, pr->c, db, &pr->claims,
                               pr->id);
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv == PV_DB_UNAVAILABLE || rv == PV_DB_REFUSED) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0913) "database unavailable: %s",
                      err ? err : "?");
        if (rv == PV_DB_REFUSED) {
            pv_dbpool_log_refused(r, err);
        }
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                             "the database is unreachable; retry later", NULL,
                             PV_DB_RETRY_AFTER);
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0914) "database error: %s", err ? err : "?");
        return send_server_error(r);
    }
    if (rv != APR_SUCCESS) {
        pr->img = NULL;
    }
    return OK;
}

/* The token against the row: current (401), and for this image (404). */
static int authorize(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    int rc;

    if ((rc = lookup_row(pr)) != OK) {
        return rc;
    }
    if ((rc = pv_auth_check_user(r, &pr->claims, pr->img)) != OK) {
        return rc; /* DONE: the 401 has been sent */
    }
    /* A URL token opens its own image only: any other is answered as
     * someone else's image is. */
    if (pr->claims.img && pr->claims.img != pr->id) {
        pv_auth_log_refused(r, "wrong_image",
                            apr_psprintf(r->pool,
                                         "a URL token for image "
                                         "%" APR_UINT64_T_FMT
                                         " used for image %" APR_UINT64_T_FMT,
                                         pr->claims.img, pr->id),
                            PV_AUTH_SRC_NONE);
        return send_not_found(r);
    }
    if (!pr->img->path) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(0915) "image %" APR_UINT64_T_FMT
                                    " does not exist or is not user "
                                    "%" APR_UINT64_T_FMT "'s",
                      pr->id, pr->claims.sub);
        return send_not_found(r);
    }
    return OK;
}

/* -------------------------------------------------------- the source */

static int refuse_path(request_rec *r, apr_uint64_t id, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  PVLOGNO(0907) "image %" APR_UINT64_T_FMT
                                ": source path refused: %s",
                  id, why);
    return send_not_found(r);
}

/* A missing source: a warning tagged by the step that found it missing. */
static int source_missing(request_rec *r, apr_uint64_t id, const char *tag)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "%simage %" APR_UINT64_T_FMT ": source file missing", tag,
                  id);
    return send_not_found(r);
}

/* Why pv_source_open() refused, logged: a missing file has a warning of
 * its own, tagged by the call that found it missing; anything else is a
 * refused path. Both answer the one 404. */
static int source_refused(request_rec *r, apr_uint64_t id,
                          const pv_source_error_t *e)
{
    if (e->status == PV_SOURCE_REFUSED) {
        return refuse_path(r, id, e->why);
    }
    if (e->missing) {
        switch (e->step) {
            case PV_SOURCE_STEP_RESOLVE:
                return source_missing(r, id, PVLOGNO(0909));
            case PV_SOURCE_STEP_REALPATH:
                return source_missing(r, id, PVLOGNO(1200));
            default:
                return source_missing(r, id, PVLOGNO(0910));
        }
    }
    return refuse_path(r, id,
                       apr_psprintf(r->pool, "%s: %s", e->why,
                                    strerror(APR_TO_OS_ERROR(e->status))));
}

/* The database's path resolved under PreviewStorageRoot and held open
 * (pv_source_open(), or beneath the root this process holds open:
 * pv_source_open_at(); any refusal is a 404 and a warning); a source refused
 * on its size alone is answered by the probe (413/415) before any ETag, as
 * for any other source it refuses. */
static int open_source(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    pv_image_limits_t *limits = &pr->render.limits;
    pv_source_root_t *sr;
    pv_source_error_t e;
    apr_status_t rv;
    apr_off_t size;

    if (!pr->c->storage_root) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0908) "no PreviewStorageRoot for this server");
        return send_server_error(r);
    }
    sr = pv_server_get(r->server)->source_root;
    rv = sr ? pv_source_open_at(&pr->src, &e, sr, pr->img->path,
                                pr->img->path_len, r->pool)
            : pv_source_open(&pr->src, &e, pr->c->storage_root, pr->img->path,
                             pr->img->path_len, r->pool);
    if (rv != APR_SUCCESS) {
        return source_refused(r, pr->id, &e);
    }
    limits->max_bytes = (apr_off_t)pr->c->max_source_bytes;
    limits->max_pixels = (apr_uint64_t)pr->c->max_source_pixels;
    size = pr->src->st.st_size;
    if (size == 0 || (limits->max_bytes > 0 && size > limits->max_bytes)) {
        apr_status_t rv =
            pv_image_probe(&pr->info, pr->src->name, limits, r->pool);

        return send_image_error(r, pr->id,
                                rv != PV_IMAGE_OK ? rv : PV_IMAGE_FAILED);
    }
    return OK;
}

/* ------------------------------------------------------- negotiate */

/* The mask of formats this libvips can write (AVIF needs an encoder). */
static int formats_available(void)
{
    int mask = 0, f;

    for (f = PV_FORMAT_JPEG; f <= PV_FORMAT_PNG; f++) {
        if (pv_image_format_available((pv_image_format_e)f)) {
            mask |= PV_FORMAT_BIT(f);
        }
    }
    return mask;
}

/* pv_cache_key_t.format of an auto request that the JPEG/PNG fallback
 * answers, or'ed with the allowed mask: above every pv_image_format_e, so
 * it never equals a known format's key. */
#define KEY_FMT_FALLBACK 0x100u

/* Size box, format and quality, without libvips: the format's only source
 * input is the alpha channel. When both answers agree the format is known
 * now; when they differ (auto, no AVIF/WebP in Accept: the JPEG/PNG
 * fallback) it is decided by the probe on a miss. */
static int pick_variant(pv_preview_req_t *pr)
{
    const pv_dir_conf *d = pr->d;
    const char *accept = apr_table_get(pr->r->headers_in, "Accept");
    pv_request_query_t *q = pr->q;

    pv_request_resolve_size(&pr->render.width, &pr->render.height, q->w, q->h,
                            d->sizes, d->nsizes, d->default_size);
    pr->render.fit = q->fit;
    pr->allowed = d->formats & formats_available();
    if (pv_request_pick_format(&pr->fmt, &pr->vary, q->format, accept,
                               pr->allowed, 0) != APR_SUCCESS ||
        pv_request_pick_format(&pr->fmt_alpha, &pr->vary, q->format, accept,
                               pr->allowed, 1) != APR_SUCCESS) {
        return pv_http_error(pr->r, HTTP_BAD_REQUEST, "bad_request",
                             "invalid parameter: format", NULL, 0);
    }
    pr->fmt_known = pr->fmt == pr->fmt_alpha;
    /* Snapped before the key: q=1..100 is a handful of variants, not 100
     * renders and 100 cache entries of one image. */
    pr->render.quality = pv_request_snap_quality(
        q->quality ? q->quality : d->quality, d->qualities, d->nqualities);
    return OK;
}

/* The ETag and cache key from the row, fstat() and the request alone: no
 * libvips on a hit or a 304. The source identity (path, size, mtime)
 * fixes its alpha channel, so the negotiation's inputs fix the output
 * bytes: the format when known, else KEY_FMT_FALLBACK with the allowed
 * mask the fallback is chosen from. */
static void make_key(pv_preview_req_t *pr)
{
    const struct stat *st = &pr->src->st;
    pv_cache_key_t *key = &pr->key;

    memset(key, 0, sizeof(*key));
    key->image_id = pr->id;
    /* The row's path, not the device and inode: every node serving the
     * same files agrees on the ETag; a new path, size or mtime is a new
     * ETag and cache entry. */
    key->path = pr->img->path;
    key->path_len = pr->img->path_len;
    key->size = (apr_uint64_t)st->st_size;
    key->mtime = apr_time_from_sec(st->st_mtim.tv_sec) +
                 (apr_time_t)(st->st_mtim.tv_nsec / 1000);
    key->width = (apr_uint32_t)pr->render.width;
    key->height = (apr_uint32_t)pr->render.height;
    key->fit = (apr_uint32_t)pr->render.fit;
    key->format = pr->fmt_known ? (apr_uint32_t)pr->fmt
                                : KEY_FMT_FALLBACK | (apr_uint32_t)pr->allowed;
    /* PNG is lossless and ignores q: one ETag and cache entry for any q. */
    key->quality = pr->fmt_known && pr->fmt == PV_FORMAT_PNG
                       ? 0
                       : (apr_uint32_t)pr->render.quality;
    key->variant = pv_preview_cache_variant();
}

/* The variant, its ETag and caching headers, and 304 on If-None-Match. */
static int negotiate(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    apr_int64_t max_age;
    int rc;

    if ((rc = pick_variant(pr)) != OK) {
        return rc;
    }
    make_key(pr);
    if (pv_cache_key(&pr->hexkey, &pr->key, r->pool) != APR_SUCCESS ||
        pv_cache_etag_of_key(&pr->etag, pr->hexkey, r->pool) != APR_SUCCESS) {
        return send_server_error(r);
    }
    /* A browser keeps the preview no longer than the token that fetched
     * it; private: never in a shared cache. */
    max_age = pr->claims.exp - apr_time_sec(r->request_time);
    if (max_age < 0) {
        max_age = 0;
    }
    apr_table_setn(r->headers_out, "ETag", pr->etag);
    apr_table_setn(
        r->headers_out, "Cache-Control",
        apr_psprintf(r->pool, "private, max-age=%" APR_INT64_T_FMT, max_age));
    if (pr->vary) {
        apr_table_mergen(r->headers_out, "Vary", "Accept");
    }
    if (pv_http_cond_none_match(apr_table_get(r->headers_in, "If-None-Match"),
                                pr->etag)) {
        r->status = HTTP_NOT_MODIFIED;
        return DONE; /* headers only: httpd sends them */
    }
    return OK;
}

/* ------------------------------------------------------------- a hit */

/* Only now, the token and the row having said yes: the cache. The key
 * hashes exactly the ETag's inputs. DONE: the hit was sent; OK: a miss,
 * pr->flight (or NULL) this request's to end. */
static int send_hit(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    apr_file_t *cfile = NULL;
    apr_finfo_t cfinfo;

    pr->cache = pv_server_get(r->server)->cache;
    /* The entry lives in its image's folder (preview-cache --image). */
    if (!pr->cache || pv_cache_entry_id(&pr->ckey, pr->id, pr->hexkey,
                                        r->pool) != APR_SUCCESS) {
        pv_metrics_cache(PV_METRICS_OF(r), PV_METRICS_CACHE_OFF);
        pr->ckey = NULL;
        return OK;
    }
    if (pv_preview_cache_lookup(
            &cfile, &cfinfo, &pr->flight, r, pr->cache, pr->ckey,
            apr_time_from_sec(pr->c->render_timeout)) == APR_SUCCESS) {
        pv_image_format_e hfmt = pr->fmt;

        /* The fallback's format is in the entry's first bytes. */
        if (pr->fmt_known ||
            pv_preview_cache_sniff(&hfmt, cfile) == APR_SUCCESS) {
            apr_table_setn(r->notes, PV_NOTE_CACHE, "hit");
            pv_metrics_cache(PV_METRICS_OF(r), PV_METRICS_CACHE_HIT);
            return pv_preview_cache_send(r, cfile, &cfinfo,
                                         pv_image_format_mime(hfmt));
        }
        /* Not a preview of ours: rendered again and replaced. */
        apr_file_close(cfile);
    }
    apr_table_setn(r->notes, PV_NOTE_CACHE, "miss");
    pv_metrics_cache(PV_METRICS_OF(r), PV_METRICS_CACHE_MISS);
    return OK;
}

/* ------------------------------------------------------- render memory */

static apr_uint64_t mib(apr_uint64_t bytes)
{
    return (bytes + (APR_UINT64_C(1) << 20) - 1) >> 20;
}

/* The render's memory, before any pixel is decoded: its estimate over
 * PreviewMaxRenderMemory is 413; else it waits, until deadline, for that
 * much of the process' budget (503 after). OK: pr->memory is held (NULL
 * without a budget); DONE: answered. */
static int reserve_render_memory(pv_preview_req_t *pr, apr_time_t deadline)
{
    request_rec *r = pr->r;
    const pv_srv_conf *c = pr->c;
    pv_image_estimate_t *e;
    pv_budget_t *budget;
    apr_interval_time_t left;

    pr->memory = NULL;
    if (pv_image_estimate(&e, pr->info, &pr->render, r->pool) != APR_SUCCESS) {
        return send_server_error(r);
    }
    if (e->total > (apr_uint64_t)c->max_render_memory) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            PVLOGNO(0944) "image %" APR_UINT64_T_FMT ": render memory "
                          "estimate %" APR_UINT64_T_FMT " MiB (decoder "
                          "%" APR_UINT64_T_FMT ", pipeline %" APR_UINT64_T_FMT
                          ", output %" APR_UINT64_T_FMT ", file "
                          "%" APR_UINT64_T_FMT
                          "%s) over PreviewMaxRenderMemory "
                          "%" APR_UINT64_T_FMT " MiB",
            pr->id, mib(e->total), mib(e->held), mib(e->pipeline),
            mib(e->output), mib(e->file),
            e->worst_case ? "; header unread, worst case" : "",
            mib((apr_uint64_t)c->max_render_memory));
        return pv_http_error(
            r, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
            "the source image is over this server's size limits", NULL, 0);
    }
    budget = pv_server_get(r->server)->render_budget;
    if (!budget) {
        return OK;
    }
    left = deadline - apr_time_now();
    if (pv_budget_acquire(&pr->memory, budget, e->total, left > 0 ? left : 0,
                          r->pool) != APR_SUCCESS) {
        pr->memory = NULL;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(0945) "image %" APR_UINT64_T_FMT
                                    ": no render memory free within "
                                    "PreviewRenderTimeout (%" APR_INT64_T_FMT
                                    " s): needs %" APR_UINT64_T_FMT
                                    " MiB of %" APR_UINT64_T_FMT " MiB",
                      pr->id, c->render_timeout, mib(e->total),
                      mib(pv_budget_capacity(budget)));
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                             "too many previews are being made; retry later",
                             NULL, PV_RENDER_RETRY_AFTER);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(0946) "image %" APR_UINT64_T_FMT
                                ": render memory %" APR_UINT64_T_FMT
                                " MiB estimated (load shrink %d), "
                                "%" APR_UINT64_T_FMT " of %" APR_UINT64_T_FMT
                                " MiB held in this process",
                  pr->id, mib(e->total), e->shrink,
                  mib(pv_budget_in_use(budget)),
                  mib(pv_budget_capacity(budget)));
    return OK;
}

/* pv_render_req_t's grow: the JPEG fast path declined a file its header
 * let it take (malformed, a marker it leaves to libjpeg), libvips renders
 * it and needs its own, larger estimate. The smaller hold is given back
 * first, not kept while waiting (two renders would each hold part of what
 * the other waits for), then the whole is waited for until the render's
 * one PreviewRenderTimeout ends. */
static apr_status_t grow_render_memory(void *baton, apr_uint64_t bytes)
{
    pv_preview_req_t *pr = baton;
    request_rec *r = pr->r;
    pv_budget_t *budget = pv_server_get(r->server)->render_budget;
    apr_interval_time_t left = pr->render_until - apr_time_now();
    apr_status_t rv;

    if (!budget) {
        return APR_SUCCESS;
    }
    pv_budget_release(pr->memory);
    pr->memory = NULL;
    rv = pv_budget_acquire(&pr->memory, budget, bytes, left > 0 ? left : 0,
                           r->pool);
    if (rv != APR_SUCCESS) {
        pr->memory = NULL;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(1421) "image %" APR_UINT64_T_FMT
                                    ": left to libvips by the JPEG fast "
                                    "path, no render memory free within "
                                    "PreviewRenderTimeout (%" APR_INT64_T_FMT
                                    " s): needs %" APR_UINT64_T_FMT
                                    " MiB of %" APR_UINT64_T_FMT " MiB",
                      pr->id, pr->c->render_timeout, mib(bytes),
                      mib(pv_budget_capacity(budget)));
        return rv;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(1420) "image %" APR_UINT64_T_FMT
                                ": left to libvips by the JPEG fast path, "
                                "render memory %" APR_UINT64_T_FMT
                                " MiB estimated, %" APR_UINT64_T_FMT
                                " of %" APR_UINT64_T_FMT
                                " MiB held in this process",
                  pr->id, mib(bytes), mib(pv_budget_in_use(budget)),
                  mib(pv_budget_capacity(budget)));
    return APR_SUCCESS;
}

/* ------------------------------------------------------- render slots */

/* One of the user's slots (PreviewMaxRendersPerUser at once per process),
 * waiting at most wait: OK, pr->hold held (NULL without the table); DONE
 * after the 503. */
static int take_user_slot(pv_preview_req_t *pr, apr_interval_time_t wait)
{
    request_rec *r = pr->r;
    const pv_srv_conf *c = pr->c;
    pv_user_slots_t *us = pv_server_get(r->server)->user_slots;
    apr_uint64_t user = pr->claims.sub;
    int max = (int)c->max_renders_per_user;
    apr_status_t rv;

    pr->hold = NULL;
    if (!us) {
        return OK;
    }
    rv = pv_user_slots_acquire(&pr->hold, us, c->db_params, user, max, 0,
                               r->pool);
    if (APR_STATUS_IS_TIMEUP(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0943) "image %" APR_UINT64_T_FMT
                                    ": user %" APR_UINT64_T_FMT
                                    " waits: it holds "
                                    "PreviewMaxRendersPerUser (%d) "
                                    "render slots",
                      pr->id, user, max);
        rv = pv_user_slots_acquire(&pr->hold, us, c->db_params, user, max, wait,
                                   r->pool);
    }
    if (rv != APR_SUCCESS) {
        pr->hold = NULL;
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, APR_STATUS_IS_TIMEUP(rv) ? 0 : rv, r,
            PVLOGNO(0942) "image %" APR_UINT64_T_FMT ": user %" APR_UINT64_T_FMT
                          " held PreviewMaxRendersPerUser (%d) "
                          "render slots for "
                          "PreviewRenderTimeout "
                          "(%" APR_INT64_T_FMT " s)",
            pr->id, user, max, c->render_timeout);
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                             "too many of your previews are being made; "
                             "retry later",
                             NULL, PV_RENDER_RETRY_AFTER);
    }
    return OK;
}

static void drop_user_slot(pv_preview_req_t *pr)
{
    if (pr->hold) {
        pv_user_slots_release(pr->hold);
        pr->hold = NULL;
    }
}

/* One of the process's slots (PreviewMaxRenders), waiting until
 * deadline. Its 503 comes after the memory and the user's slot are given
 * back. */
static int take_process_slot(pv_preview_req_t *pr, apr_time_t deadline)
{
    request_rec *r = pr->r;
    pv_slots_t *slots = pv_server_get(r->server)->render_slots;
    apr_interval_time_t wait = deadline - apr_time_now();

    if (slots &&
        pv_slots_acquire(slots, wait > 0 ? wait : 0, r->pool) != APR_SUCCESS) {
        pv_budget_release(pr->memory);
        pr->memory = NULL;
        drop_user_slot(pr);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(0916) "image %" APR_UINT64_T_FMT
                                    ": no render slot free within "
                                    "PreviewRenderTimeout (%" APR_INT64_T_FMT
                                    " s)",
                      pr->id, pr->c->render_timeout);
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                             "too many previews are being made; retry later",
                             NULL, PV_RENDER_RETRY_AFTER);
    }
    pr->slots = slots;
    return OK;
}

/* The slots a render holds: one of its user's, then its estimated memory
 * from the process's budget (413 over the per-render bound), then one of
 * the process's slots, all waits within one PreviewRenderTimeout. The
 * user's first, so that a user's requests over its own bound never sit on
 * the process's memory or slots while other users wait. OK: all held (in
 * pr, NULL when a table is missing) until give_render_slots() or the end
 * of the request; DONE: the 413 or 503 was sent, nothing is held. */
static int take_render_slots(pv_preview_req_t *pr)
{
    apr_interval_time_t wait = apr_time_from_sec(pr->c->render_timeout);
    apr_time_t until = apr_time_now() + wait;
    int rc;

    pr->slots = NULL;
    pr->memory = NULL;
    pr->render_until = until;
    if ((rc = take_user_slot(pr, wait)) != OK) {
        return rc;
    }
    if ((rc = reserve_render_memory(pr, until)) != OK) {
        drop_user_slot(pr);
        return rc;
    }
    return take_process_slot(pr, until);
}

static void give_render_slots(pv_preview_req_t *pr)
{
    if (pr->slots) {
        pv_slots_release(pr->slots, pr->r->pool);
    }
    pv_budget_release(pr->memory);
    if (pr->hold) {
        pv_user_slots_release(pr->hold);
    }
}

/* ------------------------------------------------------------ a miss */

/* Whether the file libvips opened is still the inode that was keyed. */
static int same_source(const pv_preview_req_t *pr, const pv_image_info_t *i)
{
    const struct stat *st = &pr->src->st;

    return i->device == (apr_uint64_t)st->st_dev &&
           i->inode == (apr_uint64_t)st->st_ino &&
           (apr_uint64_t)i->size == pr->key.size && i->mtime == pr->key.mtime;
}

/* The header (no pixel decoded) for the limits and the alpha channel,
 * from the very inode that was checked and keyed; the slots; the render.
 * OK: *pout. DONE: answered, nothing held. */
static int render(pv_image_out_t **pout, pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    const pv_srv_conf *c = pr->c;
    apr_status_t rv;
    int rc;

    rv = pv_image_probe(&pr->info, pr->src->name, &pr->render.limits, r->pool);
    if (rv != PV_IMAGE_OK) {
        return send_image_error(r, pr->id, rv);
    }
    if (!same_source(pr, pr->info)) {
        return refuse_path(r, pr->id, "changed while it was probed");
    }
    if (!pr->fmt_known) {
        pr->fmt = pr->info->has_alpha ? pr->fmt_alpha : pr->fmt;
    }
    pr->render.format = pr->fmt;
    pr->render.time_limit = c->render_deadline;
    pr->render.limits.max_memory = (apr_uint64_t)c->max_render_memory;
    pr->render.grow = grow_render_memory;
    pr->render.grow_baton = pr;
    pr->render_start = apr_time_now();
    if ((rc = take_render_slots(pr)) != OK) {
        return rc;
    }
    pv_metrics_render_wait(PV_METRICS_OF(r), apr_time_now() - pr->render_start);
    pr->render_start = apr_time_now();
    rv = pv_image_render(pout, pr->src->name, &pr->render, r->pool);
    give_render_slots(pr);
    if (rv != PV_IMAGE_OK) {
        return send_image_error(r, pr->id, rv);
    }
    pv_metrics_render(PV_METRICS_OF(r), pr->info->loader,
                      apr_time_now() - pr->render_start);
    /* The descriptor was checked; the render reopened it by name. */
    if ((*pout)->source->device != (apr_uint64_t)pr->src->st.st_dev ||
        (*pout)->source->inode != (apr_uint64_t)pr->src->st.st_ino) {
        return refuse_path(r, pr->id, "changed during the render");
    }
    return OK;
}

/* 200 with the rendered bytes. No copy: a pool bucket on the request pool
 * that owns the libvips buffer (its cleanup copies the bytes should the
 * pool go first). HEAD gets the same headers; httpd drops the body. */
static int send_rendered(request_rec *r, const pv_image_out_t *out)
{
    apr_bucket_brigade *bb;

    ap_set_content_type(r, out->mime);
    ap_set_content_length(r, (apr_off_t)out->len);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    r->status = HTTP_OK;
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(
        bb, apr_bucket_pool_create((const char *)out->data, out->len, r->pool,
                                   r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    if (ap_pass_brigade(r->output_filters, bb) != APR_SUCCESS &&
        !r->connection->aborted) {
        return AP_FILTER_ERROR;
    }
    return DONE;
}

/* A miss: render, store, send. Its flight (if this request leads one)
 * ends on every path: by the store, or here when nothing was made. */
static int render_miss(pv_preview_req_t *pr)
{
    request_rec *r = pr->r;
    pv_image_out_t *out = NULL;
    int rc;

    if ((rc = render(&out, pr)) != OK) {
        /* Waiters go on at once, and render themselves. */
        pv_cache_flight_end(pr->flight, 0);
        return rc;
    }
    if (pr->ckey) {
        pv_preview_cache_store(r, pr->cache, pr->ckey, pr->flight, out->data,
                               out->len);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(0917) "image %" APR_UINT64_T_FMT
                                " rendered: %dx%d %s, %" APR_SIZE_T_FMT
                                " bytes, %" APR_TIME_T_FMT " ms",
                  pr->id, out->width, out->height,
                  pv_image_format_name(pr->fmt), out->len,
                  apr_time_as_msec(apr_time_now() - pr->render_start));
    return send_rendered(r, out);
}

/* ------------------------------------------------------------ handler */

/* Each step returns OK (go on) or DONE (the answer has been sent), or an
 * HTTP status for httpd to answer. */
static int serve(request_rec *r)
{
    pv_preview_req_t *pr = apr_pcalloc(r->pool, sizeof(*pr));
    int rc;

    pr->r = r;
    pr->c = pv_srv_conf_get(r->server);
    pr->d = pv_dir_conf_get(r);
    pr->args = pv_redact_handler_args(r);
    if ((rc = check_method(pr)) != OK || (rc = authenticate(pr)) != OK ||
        (rc = parse_request(pr)) != OK || (rc = authorize(pr)) != OK ||
        (rc = open_source(pr)) != OK || (rc = negotiate(pr)) != OK ||
        (rc = send_hit(pr)) != OK) {
        return rc;
    }
    return render_miss(pr);
}

int pv_preview_handler(request_rec *r)
{
    apr_time_t t0;
    apr_interval_time_t dt;
    int rc;

    if (!r->handler || strcmp(r->handler, PV_HANDLER_PREVIEW)) {
        return DECLINED;
    }
    t0 = apr_time_now();
    apr_table_setn(r->notes, PV_NOTE_CACHE, "off");
    /* On every answer, errors included: the URL may hold the token. */
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    rc = serve(r);
    dt = apr_time_now() - t0;
    apr_table_setn(r->notes, PV_NOTE_MS,
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT ".%03d", dt / 1000,
                                (int)(dt % 1000)));
    return pv_http_handler_return(rc);
}
