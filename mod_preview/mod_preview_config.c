/* The configuration of mod_preview: create and merge (every field), the
 * defaults (applied once, at check_config, into each server's resolved
 * copy; per directory, into a request's copy) and the getters, which never
 * modify what they read. The directives are in mod_preview_cmds.c, the
 * start-up checks in mod_preview_check.c. */
#include "httpd.h"
#include "http_config.h"
#include "ap_mpm.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_server.h"
#include "pv_request.h"

static const int pv_default_sizes[] = {64, 128, 256, 512, 1024, 2048};

/* ------------------------------------------------------- create and merge */

void *pv_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    pv_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* Pointers are NULL (unset) from pcalloc; numbers need a marker. */
    c->db_pool_max = PV_UNSET;
    c->cache_max_size = PV_UNSET;
    c->token_ttl = PV_UNSET;
    c->clock_skew = PV_UNSET;
    c->legacy = PV_UNSET;
    c->login_limit_failures = PV_UNSET;
    c->login_limit_seconds = PV_UNSET;
    c->login_limit_cache_size = PV_UNSET;
    c->owner_cache_timeout = PV_UNSET;
    c->login_from_remote_user = PV_UNSET;
    c->metrics = PV_UNSET;
    c->max_source_pixels = PV_UNSET;
    c->max_source_bytes = PV_UNSET;
    c->max_renders = PV_UNSET;
    c->render_timeout = PV_UNSET;
    c->max_renders_per_user = PV_UNSET;
    c->render_deadline = PV_UNSET;
    c->max_logins = PV_UNSET;
    c->login_wait = PV_UNSET;
    c->url_token_ttl = PV_UNSET;
    c->max_render_memory = PV_UNSET;
    c->process_render_memory = PV_UNSET;
    return c;
}

#define PV_MERGE_PTR(f) c->f = add->f ? add->f : base->f
#define PV_MERGE_NUM(f) c->f = (add->f == PV_UNSET) ? base->f : add->f

void *pv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const pv_srv_conf *base = basev, *add = addv, *from;
    pv_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* A file and what was read from it travel together. */
    from = add->key_file ? add : base;
    c->key_file = from->key_file;
    c->ring = from->ring;
    from = add->db_params_text ? add : base;
    c->db_params_text = from->db_params_text;
    c->db_params = from->db_params;
    from = add->legacy_secret_file ? add : base;
    c->legacy_secret_file = from->legacy_secret_file;
    c->legacy_secret = from->legacy_secret;
    c->legacy_secret_len = from->legacy_secret_len;
    /* So do the numbers of one directive: PreviewLoginLimit, ... */
    from = add->login_limit_failures != PV_UNSET ? add : base;
    c->login_limit_failures = from->login_limit_failures;
    c->login_limit_seconds = from->login_limit_seconds;
    /* ... PreviewMaxLogins ... */
    from = add->max_logins != PV_UNSET ? add : base;
    c->max_logins = from->max_logins;
    c->login_wait = from->login_wait;
    /* ... and PreviewMaxRenderMemory. */
    from = add->max_render_memory != PV_UNSET ? add : base;
    c->max_render_memory = from->max_render_memory;
    c->process_render_memory = from->process_render_memory;
    PV_MERGE_NUM(db_pool_max);
    PV_MERGE_NUM(login_limit_cache_size);
    PV_MERGE_PTR(socache);
    PV_MERGE_NUM(owner_cache_timeout);
    PV_MERGE_PTR(storage_root);
    PV_MERGE_PTR(cache_dir);
    PV_MERGE_NUM(cache_max_size);
    PV_MERGE_NUM(token_ttl);
    PV_MERGE_NUM(clock_skew);
    PV_MERGE_NUM(legacy);
    PV_MERGE_PTR(legacy_salt);
    PV_MERGE_PTR(legacy_uid_field);
    PV_MERGE_PTR(login_query);
    PV_MERGE_PTR(image_query);
    PV_MERGE_PTR(logout_query);
    PV_MERGE_NUM(login_from_remote_user);
    PV_MERGE_NUM(metrics);
    PV_MERGE_PTR(login_origins);
    PV_MERGE_PTR(cors_origins);
    PV_MERGE_PTR(cookie_name);
    PV_MERGE_NUM(max_source_pixels);
    PV_MERGE_NUM(max_source_bytes);
    PV_MERGE_NUM(max_renders);
    PV_MERGE_NUM(render_timeout);
    PV_MERGE_NUM(max_renders_per_user);
    PV_MERGE_NUM(render_deadline);
    PV_MERGE_NUM(url_token_ttl);
    /* server: made with the resolved copy (pv_srv_conf_resolve). */
    return c;
}

void *pv_create_dir_conf(apr_pool_t *p, char *dir)
{
    pv_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->section = dir ? apr_pstrdup(p, dir) : NULL;
    c->sizes = NULL;
    c->nsizes = 0;
    c->default_size = PV_UNSET;
    c->formats = 0;
    c->quality = PV_UNSET;
    c->nqualities = 0;
    c->query_tokens = PV_UNSET;
    c->sign_location = NULL;
    return c;
}

void *pv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const pv_dir_conf *base = basev, *add = addv, *from;
    pv_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->section = add->section ? add->section : base->section;
    /* A list and its length travel together. */
    from = add->sizes ? add : base;
    c->sizes = from->sizes;
    c->nsizes = from->nsizes;
    PV_MERGE_NUM(default_size);
    c->formats = add->formats ? add->formats : base->formats;
    PV_MERGE_NUM(quality);
    from = add->nqualities ? add : base;
    memcpy(c->qualities, from->qualities, sizeof(c->qualities));
    c->nqualities = from->nqualities;
    PV_MERGE_NUM(query_tokens);
    PV_MERGE_PTR(sign_location);
    return c;
}

/* ---------------------------------------------------------------- getters */

/* A field left unset takes its default; a directive's second number
 * (f2) takes its default with the first. */
#define PV_DEFAULT_NUM(f, v)                                                   \
    do {                                                                       \
        if (c->f == PV_UNSET) {                                                \
            c->f = (v);                                                        \
        }                                                                      \
    } while (0)
#define PV_DEFAULT_PTR(f, v)                                                   \
    do {                                                                       \
        if (!c->f) {                                                           \
            c->f = (v);                                                        \
        }                                                                      \
    } while (0)
#define PV_DEFAULT_NUM2(f, v, f2, v2)                                          \
    do {                                                                       \
        if (c->f == PV_UNSET) {                                                \
            c->f = (v);                                                        \
            c->f2 = (v2);                                                      \
        }                                                                      \
    } while (0)

/* One connection per worker thread; prefork answers 1. */
static int pv_mpm_threads(void)
{
    int threads = 0;

    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS ||
        threads < 1) {
        threads = 1;
    }
    return threads;
}

static void pv_srv_conf_apply_defaults(pv_srv_conf *c)
{
    if (c->db_pool_max == PV_UNSET) {
        /* Not one per thread: nodes x children x pool must stay under
         * MariaDB's max_connections (README "Several nodes"). */
        c->db_pool_max = pv_mpm_threads() < PV_DEFAULT_DB_POOL_MAX
                             ? pv_mpm_threads()
                             : PV_DEFAULT_DB_POOL_MAX;
    }
    PV_DEFAULT_NUM(cache_max_size, PV_DEFAULT_CACHE_MAX_SIZE);
    PV_DEFAULT_NUM(token_ttl, PV_DEFAULT_TOKEN_TTL);
    PV_DEFAULT_NUM(clock_skew, PV_DEFAULT_CLOCK_SKEW);
    PV_DEFAULT_NUM(legacy, PV_LEGACY_OFF);
    PV_DEFAULT_PTR(legacy_uid_field, PV_DEFAULT_LEGACY_UID_FIELD);
    PV_DEFAULT_PTR(login_query, PV_DB_DEFAULT_LOGIN_QUERY);
    PV_DEFAULT_PTR(image_query, PV_DB_DEFAULT_IMAGE_QUERY);
    PV_DEFAULT_PTR(logout_query, PV_DB_DEFAULT_LOGOUT_QUERY);
    PV_DEFAULT_NUM2(login_limit_failures, PV_DEFAULT_LOGIN_FAILURES,
                    login_limit_seconds, PV_DEFAULT_LOGIN_WINDOW);
    PV_DEFAULT_NUM(login_limit_cache_size, PV_DEFAULT_LOGIN_LIMIT_CACHE_SIZE);
    PV_DEFAULT_PTR(socache, PV_DEFAULT_SOCACHE);
    PV_DEFAULT_NUM(owner_cache_timeout, 0);
    PV_DEFAULT_NUM(login_from_remote_user, 0);
    PV_DEFAULT_NUM(metrics, 1);
    PV_DEFAULT_PTR(cookie_name, PV_DEFAULT_COOKIE_NAME);
    PV_DEFAULT_NUM(max_source_pixels, PV_DEFAULT_MAX_SOURCE_PIXELS);
    PV_DEFAULT_NUM(max_source_bytes, PV_DEFAULT_MAX_SOURCE_BYTES);
    PV_DEFAULT_NUM(max_renders, PV_DEFAULT_MAX_RENDERS);
    PV_DEFAULT_NUM(render_timeout, PV_DEFAULT_RENDER_TIMEOUT);
    PV_DEFAULT_NUM(max_renders_per_user, PV_DEFAULT_MAX_RENDERS_PER_USER);
    PV_DEFAULT_NUM(render_deadline, PV_DEFAULT_RENDER_DEADLINE);
    PV_DEFAULT_NUM2(max_logins, PV_DEFAULT_MAX_LOGINS, login_wait,
                    PV_DEFAULT_LOGIN_WAIT);
    PV_DEFAULT_NUM(url_token_ttl, PV_DEFAULT_URL_TOKEN_TTL);
    PV_DEFAULT_NUM2(max_render_memory, PV_DEFAULT_MAX_RENDER_MEMORY,
                    process_render_memory, PV_DEFAULT_MAX_RENDER_MEMORY);
}

void pv_srv_conf_resolve(server_rec *s, apr_pool_t *pconf)
{
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        pv_srv_conf *c = apr_pmemdup(
            pconf, ap_get_module_config(sv->module_config, &preview_module),
            sizeof(*c));

        pv_srv_conf_apply_defaults(c);
        c->server = apr_pcalloc(pconf, sizeof(*c->server));
        ap_set_module_config(sv->module_config, &preview_module, c);
    }
}

const pv_srv_conf *pv_srv_conf_get(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &preview_module);
}

void pv_dir_conf_apply_defaults(pv_dir_conf *c)
{
    if (!c->sizes) {
        c->sizes = pv_default_sizes;
        c->nsizes = sizeof(pv_default_sizes) / sizeof(pv_default_sizes[0]);
    }
    PV_DEFAULT_NUM(default_size, PV_DEFAULT_DEFAULT_SIZE);
    /* Nested sections may combine a default from one with sizes from
     * another; check_config cannot see every such mix, so clamp. */
    if (c->default_size > c->sizes[c->nsizes - 1]) {
        c->default_size = c->sizes[c->nsizes - 1];
    }
    if (!c->formats) {
        c->formats = PV_FORMATS_DEFAULT;
    }
    if (c->quality == PV_UNSET) {
        c->quality = pv_request_snap_quality(PV_DEFAULT_QUALITY, c->qualities,
                                             c->nqualities);
    }
    /* Unset, the list is PreviewQuality alone: a config written before
     * PreviewQualities keeps its quality, and q= no longer multiplies. */
    if (!c->nqualities) {
        c->qualities[0] = c->quality;
        c->nqualities = 1;
    }
    /* Nested sections may combine a quality from one with qualities from
     * another; check_config cannot see every such mix, so snap. */
    c->quality =
        pv_request_snap_quality(c->quality, c->qualities, c->nqualities);
    PV_DEFAULT_NUM(query_tokens, PV_QUERY_TOKENS_ANY);
    PV_DEFAULT_PTR(sign_location, PV_DEFAULT_SIGN_LOCATION);
}

const pv_dir_conf *pv_dir_conf_get(request_rec *r)
{
    const pv_dir_conf *d =
        ap_get_module_config(r->per_dir_config, &preview_module);
    pv_dir_conf *c;

    if (d->sizes && d->default_size != PV_UNSET && d->formats &&
        d->quality != PV_UNSET && d->default_size <= d->sizes[d->nsizes - 1] &&
        d->nqualities &&
        pv_request_snap_quality(d->quality, d->qualities, d->nqualities) ==
            d->quality &&
        d->query_tokens != PV_UNSET && d->sign_location) {
        return d;
    }
    c = apr_pmemdup(r->pool, d, sizeof(*c));
    pv_dir_conf_apply_defaults(c);
    return c;
}

/* ------------------------------------------------------------ qualities */

int pv_quality_listed(const int *qualities, int n, int q)
{
    int i;

    for (i = 0; i < n; i++) {
        if (qualities[i] == q) {
            return 1;
        }
    }
    return 0;
}

const char *pv_qualities_text(const int *qualities, int n, apr_pool_t *p)
{
    const char *t = "";
    int i;

    for (i = 0; i < n; i++) {
        t = apr_psprintf(p, "%s%s%d", t, i ? " " : "", qualities[i]);
    }
    return t;
}
