/* preview: GET/HEAD <location>/<image-id>?token=...&w=&h=&fit=&format=&q=
 *
 * In order: method (405), token (401), query (400), image id (404), one
 * database round trip for ownership and revocation (401/404), the source
 * path checked under PreviewStorageRoot (404), the format negotiated as
 * far as the request decides it, the ETag from the source's fstat() and
 * the request (304 on If-None-Match), the preview cache (a hit is sent
 * from its file, no render slot taken; concurrent misses of one key render
 * once); on a miss only: the header probed (413/415), the format settled
 * by the alpha channel, the render's memory estimated from the header
 * (413 over PreviewMaxRenderMemory) and reserved from the process' budget
 * (503), a render slot (503), the render, stored in the cache, and the
 * bytes sent without a copy. A hit and a 304 never touch
 * libvips. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_preview.h"
#include "mod_preview_auth.h"
#include "mod_preview_cache.h"
#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "mod_preview_http.h"
#include "mod_preview_login.h"
#include "mod_preview_preview.h"
#include "mod_preview_redact.h"
#include "mod_preview_slots.h"
#include "pv_cache.h"
#include "pv_db.h"
#include "pv_image.h"
#include "pv_image_budget.h"
#include "pv_log.h"
#include "pv_request.h"
#include "pv_slots.h"

APLOG_USE_MODULE(preview);

/* server_rec -> pv_slots_t, and -> pv_user_slots_t; written in
 * child_init only. */
static apr_hash_t *render_slots;
static apr_hash_t *user_slots;
/* server_rec -> pv_budget_t (render memory), written in child_init only. */
static apr_hash_t *render_budgets;

static apr_int64_t max_renders(const pv_srv_conf *c)
{
    return c->max_renders;
}

static apr_uint64_t process_render_memory(const pv_srv_conf *c)
{
    return (apr_uint64_t)c->process_render_memory;
}

void pv_preview_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = pv_image_init(1);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     PVLOGNO(0901) "libvips did not start: previews will "
                                   "fail with 500");
    }
    render_slots =
        pv_server_slots_make(s, max_renders, PVLOGNO(0902), "render", pchild);
    user_slots =
        pv_server_user_slots_make(s, render_slots, PVLOGNO(0940), pchild);
    render_budgets =
        pv_server_budget_make(s, process_render_memory, PVLOGNO(0947), pchild);
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
        default:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          PVLOGNO(0906) "image %" APR_UINT64_T_FMT
                                        ": render failed: %s",
                          id, pv_image_status_str(st));
            return send_server_error(r);
    }
}

/* ---------------------------------------------------------- the token */

/* Only the token=/access_token= pairs of a query: the token must be found
 * even when another parameter is malformed, so that an unauthenticated
 * client gets 401 and learns nothing about the parameters (401 before
 * 400). Names are matched as pv_request_parse_query() reads them. */
static const char *token_pairs(const char *args, apr_pool_t *p)
{
    const char *s = args, *end;
    char *out, *o;

    if (!args) {
        return NULL;
    }
    end = strchr(args, '#');
    if (!end) {
        end = args + strlen(args);
    }
    out = o = apr_palloc(p, (end - args) + 1);
    while (s < end) {
        const char *amp = memchr(s, '&', end - s);
        const char *pe = amp ? amp : end;
        const char *eq = memchr(s, '=', pe - s);
        const char *name;
        apr_size_t nlen;

        if (pv_request_unescape(&name, &nlen, s, (eq ? eq : pe) - s, p) ==
                APR_SUCCESS &&
            ((nlen == 5 && !memcmp(name, "token", 5)) ||
             (nlen == 12 && !memcmp(name, "access_token", 12)))) {
            if (o > out) {
                *o++ = '&';
            }
            memcpy(o, s, pe - s);
            o += pe - s;
        }
        s = amp ? amp + 1 : end;
    }
    *o = '\0';
    return out;
}

/* -------------------------------------------------------- the source */

static apr_status_t close_fd(void *data)
{
    close((int)(apr_uintptr_t)data);
    return APR_SUCCESS;
}

/* Whether an absolute, resolved path lies strictly below root (rlen bytes):
 * "/srv/images2/x" is not below "/srv/images", and the root itself is not a
 * source. */
static int under_root(const char *path, const char *root, apr_size_t rlen)
{
    return strncmp(path, root, rlen) == 0 &&
           (root[rlen - 1] == '/' || path[rlen] == '/') && path[rlen] != '\0';
}

static int refuse_path(request_rec *r, apr_uint64_t id, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  PVLOGNO(0907) "image %" APR_UINT64_T_FMT
                                ": source path refused: %s",
                  id, why);
    return send_not_found(r);
}

/* A source that could not be reached (errno e from `what`). A missing file
 * (which errors mean that depends on the step) has a warning of its own,
 * tagged per step; anything else is a refused path. Both answer the one
 * 404. */
static int source_unreachable(request_rec *r, apr_uint64_t id, int e,
                              int missing, const char *tag, const char *what)
{
    if (missing) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "%simage %" APR_UINT64_T_FMT ": source file missing", tag,
                      id);
        return send_not_found(r);
    }
    return refuse_path(r, id,
                       apr_psprintf(r->pool, "%s: %s", what, strerror(e)));
}

/* The database's path, resolved under PreviewStorageRoot. Returns OK;
 * *psrc is set (the name to give libvips) only when the source may be
 * read, else the answer has been sent. The check: no NUL, not absolute, no ".."
 * segment; then, with /proc, an O_PATH descriptor whose /proc/self/fd/N
 * link must lie under the root (see below). Without it: realpath() (every
 * symlink resolved) must lie under the root
 * followed by '/'; the resolved path is opened with O_NOFOLLOW and
 * /proc/self/fd/N must name that same path; libvips then reads
 * /proc/self/fd/N, which reopens the very inode that was checked, so
 * nothing swapped in between check and use is read. *pst: that inode's
 * fstat(), the source identity of the ETag and cache key. Chosen over an
 * O_NOFOLLOW walk of each component so that symlinks inside the root keep
 * working. Without /proc the resolved path is used (a narrow race with
 * someone who can write inside the root). Any refusal: 404 and a
 * warning. */
static int resolve_source(const char **psrc, struct stat *pst, request_rec *r,
                          const pv_srv_conf *c, apr_uint64_t id,
                          const pv_db_image_t *img)
{
    const char *root = c->storage_root, *seg, *full, *proc;
    apr_size_t rlen;
    char *real, linkbuf[PATH_MAX];
    struct stat st;
    ssize_t n;
    int fd;

    if (!root) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0908) "no PreviewStorageRoot for this server");
        return send_server_error(r);
    }
    if (img->path_len == 0) {
        return refuse_path(r, id, "empty path");
    }
    if (strlen(img->path) != img->path_len) {
        return refuse_path(r, id, "NUL byte in the path");
    }
    if (img->path[0] == '/') {
        return refuse_path(r, id, "absolute path");
    }
    for (seg = img->path; seg; seg = strchr(seg, '/')) {
        if (*seg == '/') {
            seg++;
        }
        if (seg[0] == '.' && seg[1] == '.' && (seg[2] == '/' || !seg[2])) {
            return refuse_path(r, id, "'..' segment");
        }
    }
    full = apr_pstrcat(r->pool, root, "/", img->path, NULL);
    rlen = strlen(root);

    /* The fast way, 3 system calls where realpath() makes one readlink()
     * per component: an O_PATH descriptor (symlinks followed; O_PATH opens
     * nothing for reading, so a device or FIFO outside the root is never
     * opened), and /proc/self/fd/N names the very inode it holds, which
     * must lie under the root. libvips reopens that same /proc name. */
    fd = open(full, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        return source_unreachable(r, id, e, e == ENOENT || e == ENOTDIR,
                                  PVLOGNO(0909), "cannot resolve");
    }
    apr_pool_cleanup_register(r->pool, (void *)(apr_uintptr_t)fd, close_fd,
                              apr_pool_cleanup_null);
    proc = apr_psprintf(r->pool, "/proc/self/fd/%d", fd);
    n = readlink(proc, linkbuf, sizeof(linkbuf) - 1);
    if (n > 0 && linkbuf[0] == '/') {
        linkbuf[n] = '\0';
        if (!under_root(linkbuf, root, rlen)) {
            return refuse_path(
                r, id, "resolves outside PreviewStorageRoot (symlink?)");
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            return refuse_path(r, id, "not a regular file");
        }
        *psrc = proc;
        *pst = st;
        return OK;
    }
    /* No /proc: the realpath() way below. */
    apr_pool_cleanup_run(r->pool, (void *)(apr_uintptr_t)fd, close_fd);

    real = realpath(full, NULL);
    if (!real) {
        int e = errno;

        return source_unreachable(r, id, e, e == ENOENT || e == ENOTDIR,
                                  PVLOGNO(1200), "cannot resolve");
    }
    full = apr_pstrdup(r->pool, real);
    free(real);
    if (!under_root(full, root, rlen)) {
        return refuse_path(r, id,
                           "resolves outside PreviewStorageRoot (symlink?)");
    }
    fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;

        return source_unreachable(r, id, e, e == ENOENT, PVLOGNO(0910),
                                  "cannot open");
    }
    apr_pool_cleanup_register(r->pool, (void *)(apr_uintptr_t)fd, close_fd,
                              apr_pool_cleanup_null);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return refuse_path(r, id, "not a regular file");
    }
    proc = apr_psprintf(r->pool, "/proc/self/fd/%d", fd);
    n = readlink(proc, linkbuf, sizeof(linkbuf) - 1);
    if (n < 0) {
        *psrc = full;
        *pst = st;
        return OK;
    }
    linkbuf[n] = '\0';
    if (strcmp(linkbuf, full) != 0) {
        return refuse_path(r, id, "changed while it was opened");
    }
    *psrc = proc;
    *pst = st;
    return OK;
}

/* ---------------------------------------------------- conditional GET */

/* RFC 9110 13.1.2: If-None-Match uses the weak comparison, "*" matches
 * any current representation. etag is ours, quoted. */
static int none_match(const char *header, const char *etag)
{
    apr_size_t elen = strlen(etag);
    const char *s = header;

    if (!s) {
        return 0;
    }
    while (*s) {
        const char *e;

        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (!*s) {
            break;
        }
        if (*s == '*') {
            return 1;
        }
        if (s[0] == 'W' && s[1] == '/') {
            s += 2;
        }
        if (*s != '"') {
            /* Not an entity-tag: skip to the next comma. */
            e = strchr(s, ',');
            if (!e) {
                break;
            }
            s = e;
            continue;
        }
        e = strchr(s + 1, '"');
        if (!e) {
            break;
        }
        if ((apr_size_t)(e + 1 - s) == elen && !memcmp(s, etag, elen)) {
            return 1;
        }
        s = e + 1;
    }
    return 0;
}

/* ------------------------------------------------------- render memory */

static apr_uint64_t mib(apr_uint64_t bytes)
{
    return (bytes + (APR_UINT64_C(1) << 20) - 1) >> 20;
}

/* The render's memory, before any pixel is decoded: its estimate over
 * PreviewMaxRenderMemory is 413; else it waits, until deadline, for that
 * much of the process' budget (503 after). OK: *phold is held (NULL
 * without a budget); DONE: answered. */
static int reserve_render_memory(pv_budget_hold_t **phold, request_rec *r,
                                 const pv_srv_conf *c, apr_uint64_t id,
                                 const pv_image_info_t *info,
                                 const pv_render_req_t *req,
                                 apr_time_t deadline)
{
    pv_image_estimate_t *e;
    pv_budget_t *budget;
    apr_interval_time_t left;

    *phold = NULL;
    if (pv_image_estimate(&e, info, req, r->pool) != APR_SUCCESS) {
        send_server_error(r);
        return DONE;
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
            id, mib(e->total), mib(e->held), mib(e->pipeline), mib(e->output),
            mib(e->file), e->worst_case ? "; header unread, worst case" : "",
            mib((apr_uint64_t)c->max_render_memory));
        pv_http_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                      "the source image is over this server's size limits",
                      NULL, 0);
        return DONE;
    }
    budget = pv_server_budget_get(render_budgets, r->server);
    if (!budget) {
        return OK;
    }
    left = deadline - apr_time_now();
    if (pv_budget_acquire(phold, budget, e->total, left > 0 ? left : 0,
                          r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(0945) "image %" APR_UINT64_T_FMT
                                    ": no render memory free within "
                                    "PreviewRenderTimeout (%" APR_INT64_T_FMT
                                    " s): needs %" APR_UINT64_T_FMT
                                    " MiB of %" APR_UINT64_T_FMT " MiB",
                      id, c->render_timeout, mib(e->total),
                      mib(pv_budget_capacity(budget)));
        pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                      "too many previews are being made; retry later", NULL,
                      PV_RENDER_RETRY_AFTER);
        return DONE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(0946) "image %" APR_UINT64_T_FMT
                                ": render memory %" APR_UINT64_T_FMT
                                " MiB estimated (load shrink %d), "
                                "%" APR_UINT64_T_FMT " of %" APR_UINT64_T_FMT
                                " MiB held in this process",
                  id, mib(e->total), e->shrink, mib(pv_budget_in_use(budget)),
                  mib(pv_budget_capacity(budget)));
    return OK;
}

/* ------------------------------------------------------------ handler */

/* The mask of formats this libvips can write (AVIF needs an encoder). */
static int formats_available(void)
{
    int mask = 0, f;

    for (f = PV_FORMAT_JPEG; f <= PV_FORMAT_PNG; f++) {
        if (pv_image_format_available((pv_image_format_e)f)) {
            mask |= 1 << f;
        }
    }
    return mask;
}

/* The slots a render holds: one of its user's (PreviewMaxRendersPerUser
 * at once per process), then its estimated memory from the process's
 * budget (PreviewMaxRenderMemory: 413 over the per-render bound), then
 * one of the process's slots (PreviewMaxRenders), all waits within one
 * PreviewRenderTimeout. The user's first, so that a user's requests over
 * its own bound never sit on the process's memory or slots while other
 * users wait. *pheld: 1 when all are held (in *pslots, *phold and
 * *pmemory, NULL when a table is missing) until give_render_slots() or
 * the end of the request; 0 when the 413 or 503 was sent, whose status is
 * returned. */
static int take_render_slots(int *pheld, pv_slots_t **pslots,
                             pv_user_hold_t **phold, pv_budget_hold_t **pmemory,
                             request_rec *r, const pv_srv_conf *c,
                             apr_uint64_t id, apr_uint64_t user,
                             const pv_image_info_t *info,
                             const pv_render_req_t *req)
{
    pv_slots_t *slots = pv_server_slots_get(render_slots, r->server);
    pv_user_slots_t *us = pv_server_user_slots_get(user_slots, r->server);
    apr_interval_time_t wait = apr_time_from_sec(c->render_timeout);
    apr_time_t until = apr_time_now() + wait;

    *pheld = 0;
    *pslots = NULL;
    *phold = NULL;
    *pmemory = NULL;
    if (us) {
        int max = (int)c->max_renders_per_user;
        apr_status_t rv = pv_user_slots_acquire(phold, us, c->db_params, user,
                                                max, 0, r->pool);

        if (APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          PVLOGNO(0943) "image %" APR_UINT64_T_FMT
                                        ": user %" APR_UINT64_T_FMT
                                        " waits: it holds "
                                        "PreviewMaxRendersPerUser (%d) "
                                        "render slots",
                          id, user, max);
            rv = pv_user_slots_acquire(phold, us, c->db_params, user, max, wait,
                                       r->pool);
        }
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING,
                          APR_STATUS_IS_TIMEUP(rv) ? 0 : rv, r,
                          PVLOGNO(0942) "image %" APR_UINT64_T_FMT
                                        ": user %" APR_UINT64_T_FMT
                                        " held PreviewMaxRendersPerUser (%d) "
                                        "render slots for "
                                        "PreviewRenderTimeout "
                                        "(%" APR_INT64_T_FMT " s)",
                          id, user, max, c->render_timeout);
            return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                                 "too many of your previews are being made; "
                                 "retry later",
                                 NULL, PV_RENDER_RETRY_AFTER);
        }
    }
    if (reserve_render_memory(pmemory, r, c, id, info, req, until) != OK) {
        if (*phold) {
            pv_user_slots_release(*phold);
            *phold = NULL;
        }
        return OK; /* answered: 413 or 503 */
    }
    wait = until - apr_time_now();
    if (slots &&
        pv_slots_acquire(slots, wait > 0 ? wait : 0, r->pool) != APR_SUCCESS) {
        pv_budget_release(*pmemory);
        *pmemory = NULL;
        if (*phold) {
            pv_user_slots_release(*phold);
            *phold = NULL;
        }
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(0916) "image %" APR_UINT64_T_FMT
                                    ": no render slot free within "
                                    "PreviewRenderTimeout (%" APR_INT64_T_FMT
                                    " s)",
                      id, c->render_timeout);
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "busy",
                             "too many previews are being made; retry later",
                             NULL, PV_RENDER_RETRY_AFTER);
    }
    *pslots = slots;
    *pheld = 1;
    return OK;
}

static void give_render_slots(request_rec *r, pv_slots_t *slots,
                              pv_user_hold_t *hold, pv_budget_hold_t *memory)
{
    if (slots) {
        pv_slots_release(slots, r->pool);
    }
    pv_budget_release(memory);
    if (hold) {
        pv_user_slots_release(hold);
    }
}

/* pv_cache_key_t.format of an auto request that the JPEG/PNG fallback
 * answers, or'ed with the allowed mask: above every pv_image_format_e, so
 * it never equals a known format's key. */
#define KEY_FMT_FALLBACK 0x100u

static int serve(request_rec *r)
{
    const pv_srv_conf *c = pv_srv_conf_get(r->server);
    const pv_dir_conf *d = pv_dir_conf_get(r);
    /* The query with its token values as the client sent them (r->args
     * holds REDACTED for every other module). */
    const char *args = pv_redact_handler_args(r);
    pv_request_query_t *q = NULL, *qtok = NULL;
    pv_token_claims_t claims;
    pv_db_image_t *img = NULL;
    pv_image_info_t *info = NULL;
    pv_image_out_t *out = NULL;
    pv_render_req_t req;
    pv_cache_key_t key;
    pv_image_format_e fmt, fmt_alpha;
    struct stat st;
    pv_db_pool_t *db;
    pv_slots_t *slots;
    pv_user_hold_t *hold;
    pv_budget_hold_t *memory = NULL;
    pv_cache_t *cache;
    pv_cache_flight_t *flight = NULL;
    apr_file_t *cfile = NULL;
    apr_finfo_t cfinfo;
    apr_bucket_brigade *bb;
    const char *perr = NULL, *err = NULL, *src = NULL, *etag = NULL;
    const char *ckey = NULL;
    apr_uint64_t id;
    apr_int64_t max_age;
    apr_status_t rv;
    apr_time_t t0;
    int rc, vary = 0, allowed, bw, bh, quality, fmt_known, held;

    ap_discard_request_body(r);
    if (r->method_number != M_GET) {
        return pv_http_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method not allowed", "GET, HEAD", 0);
    }

    /* 401 before anything else about the request. */
    pv_request_parse_query(&qtok, &perr, token_pairs(args, r->pool), r->pool);
    rc = pv_auth_request(&claims, r, qtok);
    /* Read: no error line from here on can show the token. */
    pv_redact_request(r);
    if (rc != OK) {
        return OK;
    }
    apr_table_setn(r->notes, PV_NOTE_USER,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, claims.sub));

    if (pv_request_parse_query(&q, &perr, args, r->pool) != APR_SUCCESS) {
        return pv_http_error(
            r, HTTP_BAD_REQUEST, "bad_request",
            apr_pstrcat(r->pool, "invalid parameter: ", perr, NULL), NULL, 0);
    }
    if (pv_request_id_from_path(&id, r->uri, NULL) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0911) "not an image id: %s",
                      ap_escape_logitem(r->pool, r->uri));
        return send_not_found(r);
    }
    apr_table_setn(r->notes, PV_NOTE_IMAGE,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, id));

    /* One round trip: revocation and ownership together. */
    db = pv_dbpool_get(r->server);
    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0912) "preview needs PreviewDBParams in this "
                                    "server");
        return send_server_error(r);
    }
    rv = pv_db_image_lookup(&img, &err, db, id, claims.sub, r->pool);
    if (rv == PV_DB_UNAVAILABLE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      PVLOGNO(0913) "database unavailable: %s",
                      err ? err : "?");
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                             "the database is unreachable; retry later", NULL,
                             PV_DB_RETRY_AFTER);
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0914) "database error: %s", err ? err : "?");
        return send_server_error(r);
    }
    if (pv_auth_check_user(r, &claims, rv == APR_SUCCESS ? img : NULL) != OK) {
        return OK;
    }
    /* A URL token opens its own image only: any other is answered as
     * someone else's image is. */
    if (claims.img && claims.img != id) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(1340) "a URL token for image %" APR_UINT64_T_FMT
                                    " used for image %" APR_UINT64_T_FMT,
                      claims.img, id);
        return send_not_found(r);
    }
    if (!img->path) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(0915) "image %" APR_UINT64_T_FMT
                                    " does not exist or is not user "
                                    "%" APR_UINT64_T_FMT "'s",
                      id, claims.sub);
        return send_not_found(r);
    }

    rc = resolve_source(&src, &st, r, c, id, img);
    if (rc != OK || !src) {
        return OK;
    }
    memset(&req, 0, sizeof(req));
    req.limits.max_bytes = (apr_off_t)c->max_source_bytes;
    req.limits.max_pixels = (apr_uint64_t)c->max_source_pixels;
    if (st.st_size == 0 ||
        (req.limits.max_bytes > 0 && st.st_size > req.limits.max_bytes)) {
        /* Refused on its size alone: the probe gives the answer (413/415)
         * before any ETag, as for any other source it refuses. */
        rv = pv_image_probe(&info, src, &req.limits, r->pool);
        return send_image_error(r, id,
                                rv != PV_IMAGE_OK ? rv : PV_IMAGE_FAILED);
    }

    pv_request_resolve_size(&bw, &bh, q->w, q->h, d->sizes, d->nsizes,
                            d->default_size);
    allowed = d->formats & formats_available();
    /* The negotiation without libvips: its only source input is the alpha
     * channel. When both answers agree the format is known now; when they
     * differ (auto, no AVIF/WebP in Accept: the JPEG/PNG fallback) it is
     * decided by the probe on a miss. */
    if (pv_request_pick_format(&fmt, &vary, q->format,
                               apr_table_get(r->headers_in, "Accept"), allowed,
                               0) != APR_SUCCESS ||
        pv_request_pick_format(&fmt_alpha, &vary, q->format,
                               apr_table_get(r->headers_in, "Accept"), allowed,
                               1) != APR_SUCCESS) {
        return pv_http_error(r, HTTP_BAD_REQUEST, "bad_request",
                             "invalid parameter: format", NULL, 0);
    }
    fmt_known = fmt == fmt_alpha;
    /* Snapped before the key: q=1..100 is a handful of variants, not 100
     * renders and 100 cache entries of one image. */
    quality = pv_request_snap_quality(q->quality ? q->quality : d->quality,
                                      d->qualities, d->nqualities);

    /* The ETag and cache key from fstat() and the request alone: no
     * libvips on a hit or a 304. The source identity (device, inode, size,
     * mtime) fixes its alpha channel, so the negotiation's inputs fix the
     * output bytes: the format when known, else KEY_FMT_FALLBACK with the
     * allowed mask the fallback is chosen from. */
    memset(&key, 0, sizeof(key));
    key.image_id = id;
    key.device = (apr_uint64_t)st.st_dev;
    key.inode = (apr_uint64_t)st.st_ino;
    key.size = (apr_uint64_t)st.st_size;
    key.mtime = apr_time_from_sec(st.st_mtim.tv_sec) +
                (apr_time_t)(st.st_mtim.tv_nsec / 1000);
    key.width = (apr_uint32_t)bw;
    key.height = (apr_uint32_t)bh;
    key.fit = (apr_uint32_t)q->fit;
    key.format = fmt_known ? (apr_uint32_t)fmt
                           : KEY_FMT_FALLBACK | (apr_uint32_t)allowed;
    /* PNG is lossless and ignores q: one ETag and cache entry for any q. */
    key.quality = fmt_known && fmt == PV_FORMAT_PNG ? 0 : (apr_uint32_t)quality;
    key.variant = pv_preview_cache_variant();
    if (pv_cache_etag(&etag, &key, r->pool) != APR_SUCCESS) {
        return send_server_error(r);
    }

    /* A browser keeps the preview no longer than the token that fetched
     * it; private: never in a shared cache. */
    max_age = claims.exp - apr_time_sec(r->request_time);
    if (max_age < 0) {
        max_age = 0;
    }
    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(
        r->headers_out, "Cache-Control",
        apr_psprintf(r->pool, "private, max-age=%" APR_INT64_T_FMT, max_age));
    if (vary) {
        apr_table_mergen(r->headers_out, "Vary", "Accept");
    }
    if (none_match(apr_table_get(r->headers_in, "If-None-Match"), etag)) {
        r->status = HTTP_NOT_MODIFIED;
        return OK;
    }

    /* Only now, the token and the row having said yes: the cache. The
     * key hashes exactly the ETag's inputs. */
    cache = pv_preview_cache_get(r->server);
    if (cache && pv_cache_key(&ckey, &key, r->pool) == APR_SUCCESS) {
        if (pv_preview_cache_lookup(&cfile, &cfinfo, &flight, r, cache, ckey,
                                    apr_time_from_sec(c->render_timeout)) ==
            APR_SUCCESS) {
            pv_image_format_e hfmt = fmt;

            /* The fallback's format is in the entry's first bytes. */
            if (fmt_known ||
                pv_preview_cache_sniff(&hfmt, cfile) == APR_SUCCESS) {
                apr_table_setn(r->notes, PV_NOTE_CACHE, "hit");
                return pv_preview_cache_send(r, cfile, &cfinfo,
                                             pv_image_format_mime(hfmt));
            }
            /* Not a preview of ours: rendered again and replaced. */
            apr_file_close(cfile);
        }
        apr_table_setn(r->notes, PV_NOTE_CACHE, "miss");
    }

    /* A miss: the header (no pixel decoded) for the limits and the alpha
     * channel, from the very inode that was checked and keyed. */
    rv = pv_image_probe(&info, src, &req.limits, r->pool);
    if (rv != PV_IMAGE_OK) {
        pv_cache_flight_end(flight, 0);
        return send_image_error(r, id, rv);
    }
    if (info->device != key.device || info->inode != key.inode ||
        (apr_uint64_t)info->size != key.size || info->mtime != key.mtime) {
        pv_cache_flight_end(flight, 0);
        return refuse_path(r, id, "changed while it was probed");
    }
    if (!fmt_known) {
        fmt = info->has_alpha ? fmt_alpha : fmt;
    }

    req.width = bw;
    req.height = bh;
    req.fit = q->fit;
    req.format = fmt;
    req.quality = quality;
    req.time_limit = c->render_deadline;
    req.limits.max_memory = (apr_uint64_t)c->max_render_memory;
    rc = take_render_slots(&held, &slots, &hold, &memory, r, c, id, claims.sub,
                           info, &req);
    if (!held) {
        pv_cache_flight_end(flight, 0);
        return rc;
    }
    t0 = apr_time_now();
    rv = pv_image_render(&out, src, &req, r->pool);
    give_render_slots(r, slots, hold, memory);
    if (rv != PV_IMAGE_OK) {
        pv_cache_flight_end(flight, 0);
        return send_image_error(r, id, rv);
    }
    /* The descriptor was checked; the render reopened it by name. */
    if (out->source->device != key.device || out->source->inode != key.inode) {
        pv_cache_flight_end(flight, 0);
        return refuse_path(r, id, "changed during the render");
    }
    if (ckey) {
        pv_preview_cache_store(r, cache, ckey, flight, out->data, out->len);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(0917) "image %" APR_UINT64_T_FMT
                                " rendered: %dx%d %s, %" APR_SIZE_T_FMT
                                " bytes, %" APR_TIME_T_FMT " ms",
                  id, out->width, out->height, pv_image_format_name(fmt),
                  out->len, apr_time_as_msec(apr_time_now() - t0));

    ap_set_content_type(r, out->mime);
    ap_set_content_length(r, (apr_off_t)out->len);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    r->status = HTTP_OK;
    /* No copy: a pool bucket on the request pool that owns the libvips
     * buffer (its cleanup copies the bytes should the pool go first). HEAD
     * gets the same headers; httpd drops the body. */
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(
        bb, apr_bucket_pool_create((const char *)out->data, out->len, r->pool,
                                   r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        return AP_FILTER_ERROR;
    }
    return OK;
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
