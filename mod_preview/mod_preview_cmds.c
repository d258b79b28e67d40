/* Directives of mod_preview: the setters and the command table.
 *
 * Setters validate and return an error naming the directive and the bad
 * value (httpd prefixes it with the config file and line); they never log.
 * Files (key ring, legacy secret) are read by their setter so that
 * `apachectl configtest` reports a bad one. Defaults are not applied here
 * (mod_preview_config.c). */
/* <stddef.h> before any APR header: APR_OFFSETOF() is offsetof() only then,
 * else pointer arithmetic on a null pointer (undefined). */
#include <stddef.h>
#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_file_io.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "pv_num.h"
#include "pv_origin.h"

#define PV_QUERY_MAX 4096
#define PV_NAME_MAX  64

/* ---------------------------------------------------------------- parsing */

/* A number's suffixes, as the unit K stands for. */
typedef enum {
    PV_SFX_NONE = 0,   /* none */
    PV_SFX_DEC = 1000, /* K M G T: powers of 1000 (pixel counts) */
    PV_SFX_BIN = 1024  /* K M G T: powers of 1024 (bytes) */
} pv_suffix_e;

/* Strict: decimal digits, at most one suffix letter, nothing else; no sign,
 * no blanks, no overflow. Returns NULL or why the text is not a number. */
static const char *pv_parse_num(apr_int64_t *out, const char *arg,
                                pv_suffix_e sfx)
{
    apr_uint64_t v;
    apr_status_t rv = pv_num_parse_scaled(&v, arg, sfx, APR_INT64_MAX);

    if (rv == APR_ERANGE) {
        return "too large";
    }
    if (rv != APR_SUCCESS) {
        return sfx == PV_SFX_NONE || !apr_isdigit(*arg)
                   ? "not a non-negative integer"
                   : "not a number with a K, M, G or T suffix";
    }
    *out = (apr_int64_t)v;
    return NULL;
}

/* A bounded number of a directive: error text names both. */
static const char *pv_parse_bounded(apr_int64_t *out, cmd_parms *cmd,
                                    const char *arg, pv_suffix_e sfx,
                                    apr_int64_t min, apr_int64_t max)
{
    apr_int64_t v;
    const char *why = pv_parse_num(&v, arg, sfx);

    if (why) {
        return apr_psprintf(cmd->pool, "%s: '%s' is %s", cmd->cmd->name, arg,
                            why);
    }
    if (v < min || v > max) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is out of range (%" APR_INT64_T_FMT
                            "..%" APR_INT64_T_FMT ")",
                            cmd->cmd->name, arg, min, max);
    }
    *out = v;
    return NULL;
}

/* RFC 6265 cookie-name: an RFC 2616 token. */
static int pv_is_token_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* A JSON member name written in a config: printable, no escapes. */
static int pv_is_json_name_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* 1 when arg is 1 to PV_NAME_MAX characters, each one is_char() takes. */
static int pv_name_valid(const char *arg, int (*is_char)(unsigned char))
{
    const char *s;

    for (s = arg; *s && is_char((unsigned char)*s); s++) {
    }
    return *arg && !*s && s - arg <= PV_NAME_MAX;
}

static pv_srv_conf *pv_cmd_srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &preview_module);
}

/* Folders named by directives that do not exist: kept in the
 * configuration pool (forgotten with it) so that check_config names them
 * all in one run instead of configtest stopping at the first. */
static apr_array_header_t *missing_dirs;

static apr_status_t pv_forget_missing_dirs(void *unused)
{
    missing_dirs = NULL;
    return APR_SUCCESS;
}

const apr_array_header_t *pv_cmds_missing_dirs(void)
{
    return missing_dirs;
}

static void pv_note_missing_dir(cmd_parms *cmd, const char *path)
{
    pv_missing_dir *m;

    if (!missing_dirs) {
        missing_dirs = apr_array_make(cmd->pool, 4, sizeof(pv_missing_dir));
        apr_pool_cleanup_register(cmd->pool, NULL, pv_forget_missing_dirs,
                                  apr_pool_cleanup_null);
    }
    m = apr_array_push(missing_dirs);
    m->directive = cmd->cmd->name;
    m->path = apr_pstrdup(cmd->pool, path);
    m->file = cmd->directive ? cmd->directive->filename : NULL;
    m->line = cmd->directive ? cmd->directive->line_num : 0;
}

/* A path relative to ServerRoot that must be an existing directory; its
 * real path, so a later containment check compares like with like. A
 * missing one is noted for check_config (pv_cmds_missing_dirs). */
static const char *pv_parse_dir(const char **out, cmd_parms *cmd,
                                const char *arg)
{
    const char *path = ap_server_root_relative(cmd->temp_pool, arg);
    apr_finfo_t fi;
    apr_status_t rv;
    char *real;

    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", cmd->cmd->name,
                            arg);
    }
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool);
    if (APR_STATUS_IS_ENOENT(rv)) {
        pv_note_missing_dir(cmd, path);
        return NULL;
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s': %pm", cmd->cmd->name, path,
                            &rv);
    }
    if (fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a directory",
                            cmd->cmd->name, path);
    }
    real = realpath(path, NULL);
    if (!real) {
        return apr_psprintf(cmd->pool, "%s: cannot resolve '%s'",
                            cmd->cmd->name, path);
    }
    *out = apr_pstrdup(cmd->pool, real);
    free(real);
    return NULL;
}

/* ---------------------------------------------------------------- setters */

static const char *set_key_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *err = NULL;
    pv_keyring_t *ring;

    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "PreviewKeyFile: bad path '%s'", arg);
    }
    /* Loaded here, so configtest names the file and the bad line. */
    if (pv_keyring_load(&ring, &err, path, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "PreviewKeyFile: %s", err ? err : path);
    }
    if (pv_keyring_count(ring) < 1) {
        return apr_psprintf(cmd->pool, "PreviewKeyFile: %s holds no key", path);
    }
    c->key_file = path;
    c->ring = ring;
    return NULL;
}

static const char *set_db_params(cmd_parms *cmd, void *dummy, const char *arg)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    const char *err = NULL;
    pv_db_params_t *params;

    /* Never echo the text: it holds the password. */
    if (pv_db_params_parse(&params, &err, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "PreviewDBParams: %s",
                            err ? err : "cannot parse");
    }
    c->db_params_text = arg;
    c->db_params = params;
    return NULL;
}

static const char *set_storage_root(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    return pv_parse_dir(&pv_cmd_srv(cmd)->storage_root, cmd, arg);
}

static const char *set_cache_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    return pv_parse_dir(&pv_cmd_srv(cmd)->cache_dir, cmd, arg);
}

/* Plain server numbers: the field and its bounds come with the command. */
typedef struct {
    apr_size_t offset; /* of an apr_int64_t in pv_srv_conf */
    pv_suffix_e suffix;
    apr_int64_t min, max;
} pv_num_spec;

#define PV_NUM(name, field, sfx, lo, hi)                                       \
    static const pv_num_spec name = {APR_OFFSETOF(pv_srv_conf, field), sfx,    \
                                     lo, hi}

PV_NUM(spec_db_pool_max, db_pool_max, PV_SFX_NONE, 1, 10000);
/* At least 1 MiB: a cache smaller than a few previews only churns. */
PV_NUM(spec_cache_max_size, cache_max_size, PV_SFX_BIN, APR_INT64_C(1) << 20,
       APR_INT64_C(1) << 50);
/* Ten years: beyond that a "token" is a password in a URL. */
PV_NUM(spec_token_ttl, token_ttl, PV_SFX_NONE, 1, APR_INT64_C(315360000));
PV_NUM(spec_clock_skew, clock_skew, PV_SFX_NONE, 0, 3600);
/* 10 G pixels: far past any camera, still below libvips' own limits. */
PV_NUM(spec_max_source_pixels, max_source_pixels, PV_SFX_DEC, 1,
       APR_INT64_C(10000000000));
PV_NUM(spec_max_source_bytes, max_source_bytes, PV_SFX_BIN, 1,
       APR_INT64_C(1) << 36);
PV_NUM(spec_max_renders, max_renders, PV_SFX_NONE, 1, 1024);
PV_NUM(spec_render_timeout, render_timeout, PV_SFX_NONE, 1, 3600);
PV_NUM(spec_max_renders_per_user, max_renders_per_user, PV_SFX_NONE, 1, 1024);
/* 64 KiB holds about 900 counts; 1 GiB about 15 million. */
PV_NUM(spec_login_limit_cache_size, login_limit_cache_size, PV_SFX_BIN,
       APR_INT64_C(64) * 1024, APR_INT64_C(1) << 30);
/* A day: an answer kept longer is a revocation delayed as long. */
PV_NUM(spec_owner_cache_timeout, owner_cache_timeout, PV_SFX_NONE, 0, 86400);
/* The bound of PreviewTokenTTL: a URL token never outlives its login
 * token anyway. */
PV_NUM(spec_url_token_ttl, url_token_ttl, PV_SFX_NONE, 1,
       APR_INT64_C(315360000));

static const char *set_srv_num(cmd_parms *cmd, void *dummy, const char *arg)
{
    const pv_num_spec *spec = cmd->info;
    apr_int64_t v;
    const char *err =
        pv_parse_bounded(&v, cmd, arg, spec->suffix, spec->min, spec->max);

    if (err) {
        return err;
    }
    *(apr_int64_t *)((char *)pv_cmd_srv(cmd) + spec->offset) = v;
    return NULL;
}

/* PreviewRenderDeadline <n>[s] | <n>ms, 10 ms to an hour (httpd's own
 * time units, strictly); kept in microseconds. */
static const char *set_render_deadline(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    apr_size_t len = strlen(arg), ulen = 0;
    apr_int64_t v = 0, unit = APR_USEC_PER_SEC;
    const char *err;

    if (len > 2 && !strcmp(arg + len - 2, "ms")) {
        ulen = 2;
        unit = 1000;
    }
    else if (len > 1 && arg[len - 1] == 's') {
        ulen = 1;
    }
    err =
        pv_parse_bounded(&v, cmd, apr_pstrndup(cmd->temp_pool, arg, len - ulen),
                         PV_SFX_NONE, 0, APR_INT64_MAX);
    if (err) {
        return apr_psprintf(cmd->pool,
                            "PreviewRenderDeadline: '%s' is not seconds or "
                            "milliseconds (e.g. 10, 10s, 500ms)",
                            arg);
    }
    if (v > APR_INT64_C(3600) * APR_USEC_PER_SEC / unit ||
        v * unit < 10 * 1000) {
        return apr_psprintf(cmd->pool,
                            "PreviewRenderDeadline: '%s' is out of range "
                            "(10ms..3600s)",
                            arg);
    }
    pv_cmd_srv(cmd)->render_deadline = v * unit;
    return NULL;
}

/* A number of the main server only (one thing for every server). */
static const char *set_global_num(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    return err ? err : set_srv_num(cmd, dummy, arg);
}

/* PreviewSOCache <provider>[:<args>]: the provider is looked up at
 * post_config (its module may be loaded after this line); here only the
 * form. */
static const char *set_socache(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *colon = strchr(arg, ':');
    apr_size_t nlen = colon ? (apr_size_t)(colon - arg) : strlen(arg), i;

    if (err) {
        return err;
    }
    for (i = 0; i < nlen; i++) {
        if (!apr_isalnum(arg[i]) && arg[i] != '_') {
            break;
        }
    }
    if (nlen == 0 || nlen > 32 || i < nlen) {
        return apr_psprintf(cmd->pool,
                            "PreviewSOCache: '%s' is not <provider>[:<args>] "
                            "(shmcb, redis:host:port, memcache:host:port)",
                            arg);
    }
    pv_cmd_srv(cmd)->socache = arg;
    return NULL;
}

static const char *set_legacy_tokens(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);

    if (!strcasecmp(arg, "off")) {
        c->legacy = PV_LEGACY_OFF;
    }
    else if (!strcasecmp(arg, "itsdangerous")) {
        c->legacy = PV_LEGACY_ITSDANGEROUS;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "PreviewLegacyTokens: '%s' is not Off or "
                            "itsdangerous",
                            arg);
    }
    return NULL;
}

static const char *set_legacy_secret_file(cmd_parms *cmd, void *dummy,
                                          const char *arg)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const unsigned char *secret;
    const char *err = NULL;
    apr_size_t len;

    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "PreviewLegacySecretFile: bad path '%s'",
                            arg);
    }
    /* Read here, so configtest reports a bad file; never echo the bytes. */
    if (pv_token_legacy_secret_load(&secret, &len, &err, path, cmd->pool) !=
        APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "PreviewLegacySecretFile: %s",
                            err ? err : path);
    }
    c->legacy_secret_file = path;
    c->legacy_secret = secret;
    c->legacy_secret_len = len;
    return NULL;
}

static const char *set_legacy_salt(cmd_parms *cmd, void *dummy, const char *arg)
{
    pv_cmd_srv(cmd)->legacy_salt = arg;
    return NULL;
}

static const char *set_legacy_uid_field(cmd_parms *cmd, void *dummy,
                                        const char *arg)
{
    if (!pv_name_valid(arg, pv_is_json_name_char)) {
        return apr_psprintf(cmd->pool,
                            "PreviewLegacyUidField: '%s' is not a name of 1 to "
                            "%d printable characters without quotes",
                            arg, PV_NAME_MAX);
    }
    pv_cmd_srv(cmd)->legacy_uid_field = arg;
    return NULL;
}

/* The three queries: the field and how many '?' it must bind. */
typedef struct {
    apr_size_t offset; /* of a const char * in pv_srv_conf */
    int placeholders;
} pv_query_spec;

static const pv_query_spec spec_login_query = {
    APR_OFFSETOF(pv_srv_conf, login_query), 1};
static const pv_query_spec spec_image_query = {
    APR_OFFSETOF(pv_srv_conf, image_query), 2};
static const pv_query_spec spec_logout_query = {
    APR_OFFSETOF(pv_srv_conf, logout_query), 1};

static const char *set_query(cmd_parms *cmd, void *dummy, const char *arg)
{
    const pv_query_spec *spec = cmd->info;
    int n;

    if (!*arg || strlen(arg) > PV_QUERY_MAX) {
        return apr_psprintf(cmd->pool, "%s: empty or longer than %d bytes",
                            cmd->cmd->name, PV_QUERY_MAX);
    }
    n = pv_db_placeholders(arg);
    if (n < 0) {
        return apr_psprintf(cmd->pool,
                            "%s: unterminated quote or comment in '%s'",
                            cmd->cmd->name, arg);
    }
    if (n != spec->placeholders) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' has %d '?' placeholders, expected %d",
                            cmd->cmd->name, arg, n, spec->placeholders);
    }
    *(const char **)((char *)pv_cmd_srv(cmd) + spec->offset) = arg;
    return NULL;
}

static const char *set_login_limit(cmd_parms *cmd, void *dummy, const char *a1,
                                   const char *a2)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    apr_int64_t failures, seconds;
    const char *err;

    if (!a2) {
        if (strcasecmp(a1, "off")) {
            return apr_psprintf(cmd->pool,
                                "PreviewLoginLimit: '%s': expected Off or "
                                "<failures> <seconds>",
                                a1);
        }
        c->login_limit_failures = 0;
        c->login_limit_seconds = 0;
        return NULL;
    }
    if ((err = pv_parse_bounded(&failures, cmd, a1, PV_SFX_NONE, 1, 1000000)) ||
        (err = pv_parse_bounded(&seconds, cmd, a2, PV_SFX_NONE, 1, 604800))) {
        return err;
    }
    c->login_limit_failures = failures;
    c->login_limit_seconds = seconds;
    return NULL;
}

/* PreviewMaxLogins <n> [<seconds>]: password checks at once per process,
 * and how long a login waits for one (default PV_DEFAULT_LOGIN_WAIT). */
static const char *set_max_logins(cmd_parms *cmd, void *dummy, const char *a1,
                                  const char *a2)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    apr_int64_t n, seconds = PV_DEFAULT_LOGIN_WAIT;
    const char *err;

    if ((err = pv_parse_bounded(&n, cmd, a1, PV_SFX_NONE, 1, 1024)) ||
        (a2 &&
         (err = pv_parse_bounded(&seconds, cmd, a2, PV_SFX_NONE, 1, 60)))) {
        return err;
    }
    c->max_logins = n;
    c->login_wait = seconds;
    return NULL;
}

/* PreviewMaxRenderMemory <size> [<size>]: the largest memory estimate of
 * one render, and what the renders of one process may hold at once (not
 * below the first: a render between the two could never start). Under 16
 * MiB even a small render's fixed part would not fit. */
static const char *set_max_render_memory(cmd_parms *cmd, void *dummy,
                                         const char *a1, const char *a2)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    apr_int64_t one, all;
    const char *err;

    if ((err = pv_parse_bounded(&one, cmd, a1, PV_SFX_BIN,
                                APR_INT64_C(16) << 20, APR_INT64_C(1) << 40))) {
        return err;
    }
    all = one;
    if (a2 &&
        (err = pv_parse_bounded(&all, cmd, a2, PV_SFX_BIN,
                                APR_INT64_C(16) << 20, APR_INT64_C(1) << 40))) {
        return err;
    }
    if (all < one) {
        return apr_psprintf(cmd->pool,
                            "%s: the process bound '%s' is below the "
                            "bound of one render '%s'",
                            cmd->cmd->name, a2, a1);
    }
    c->max_render_memory = one;
    c->process_render_memory = all;
    return NULL;
}

static const char *set_login_from_remote_user(cmd_parms *cmd, void *dummy,
                                              int on)
{
    pv_cmd_srv(cmd)->login_from_remote_user = on ? 1 : 0;
    return NULL;
}

static const char *set_metrics(cmd_parms *cmd, void *dummy, int on)
{
    pv_cmd_srv(cmd)->metrics = on ? 1 : 0;
    return NULL;
}

/* PreviewLoginOrigins, PreviewCORSOrigins <origin> ...: each one checked
 * and kept canonical, so that a request's Origin is compared as text.
 * cmd->info: the offset of the list in pv_srv_conf. No "*": a login
 * answers with a token and a cookie, and credentials are only ever
 * granted to an origin named exactly. */
static const char *set_origin(cmd_parms *cmd, void *dummy, const char *arg)
{
    pv_srv_conf *c = pv_cmd_srv(cmd);
    apr_array_header_t **list =
        (apr_array_header_t **)((char *)c + (apr_size_t)cmd->info);
    const char *origin = NULL, *why = NULL;

    if (!strcmp(arg, "*")) {
        return apr_psprintf(cmd->pool,
                            "%s: '*' is not allowed: name each origin "
                            "(scheme://host[:port])",
                            cmd->cmd->name);
    }
    if (pv_origin_parse(&origin, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an origin "
                            "(scheme://host[:port]): %s",
                            cmd->cmd->name, arg, why);
    }
    if (!*list) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = origin;
    return NULL;
}

static const char *set_cookie_name(cmd_parms *cmd, void *dummy, const char *arg)
{
    if (!pv_name_valid(arg, pv_is_token_char)) {
        return apr_psprintf(cmd->pool,
                            "PreviewCookieName: '%s' is not a cookie name (1 "
                            "to %d characters, no separators or blanks)",
                            arg, PV_NAME_MAX);
    }
    pv_cmd_srv(cmd)->cookie_name = arg;
    return NULL;
}

/* ------------------------------------------------- per-directory setters */

static const char *set_sizes(cmd_parms *cmd, void *dconf, int argc,
                             char *const argv[])
{
    pv_dir_conf *d = dconf;
    int *sizes, i;

    if (argc < 1 || argc > PV_SIZES_MAX) {
        return apr_psprintf(cmd->pool, "PreviewSizes: expected 1 to %d sizes",
                            PV_SIZES_MAX);
    }
    sizes = apr_palloc(cmd->pool, sizeof(*sizes) * argc);
    for (i = 0; i < argc; i++) {
        apr_int64_t v;
        const char *err =
            pv_parse_bounded(&v, cmd, argv[i], PV_SFX_NONE, 1, PV_SIZE_MAX);

        if (err) {
            return err;
        }
        if (i > 0 && v <= sizes[i - 1]) {
            return apr_psprintf(cmd->pool,
                                "PreviewSizes: '%s' after '%s': sizes must be "
                                "in ascending order, each once",
                                argv[i], argv[i - 1]);
        }
        sizes[i] = (int)v;
    }
    if (d->default_size != PV_UNSET && d->default_size > sizes[argc - 1]) {
        return apr_psprintf(cmd->pool,
                            "PreviewSizes: largest size %d is below "
                            "PreviewDefaultSize %d",
                            sizes[argc - 1], d->default_size);
    }
    d->sizes = sizes;
    d->nsizes = argc;
    return NULL;
}

static const char *set_default_size(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    pv_dir_conf *d = dconf;
    apr_int64_t v;
    const char *err =
        pv_parse_bounded(&v, cmd, arg, PV_SFX_NONE, 1, PV_SIZE_MAX);

    if (err) {
        return err;
    }
    if (d->sizes && v > d->sizes[d->nsizes - 1]) {
        return apr_psprintf(cmd->pool,
                            "PreviewDefaultSize: '%s' is above the largest of "
                            "PreviewSizes (%d)",
                            arg, d->sizes[d->nsizes - 1]);
    }
    d->default_size = (int)v;
    return NULL;
}

static const char *set_formats(cmd_parms *cmd, void *dconf, int argc,
                               char *const argv[])
{
    pv_dir_conf *d = dconf;
    int formats = 0, i;

    if (argc < 1) {
        return "PreviewFormats: expected one or more of jpeg webp avif png";
    }
    for (i = 0; i < argc; i++) {
        pv_image_format_e f;
        int fmt = pv_image_format_parse(&f, argv[i], strlen(argv[i]),
                                        PV_FORMAT_NAME_LOOSE) == APR_SUCCESS
                      ? PV_FORMAT_BIT(f)
                      : 0;

        if (!fmt) {
            return apr_psprintf(cmd->pool,
                                "PreviewFormats: '%s' is not one of jpeg webp "
                                "avif png",
                                argv[i]);
        }
        if (formats & fmt) {
            return apr_psprintf(cmd->pool, "PreviewFormats: '%s' listed twice",
                                argv[i]);
        }
        formats |= fmt;
    }
    d->formats = formats;
    return NULL;
}

static const char *set_quality(cmd_parms *cmd, void *dconf, const char *arg)
{
    pv_dir_conf *d = dconf;
    apr_int64_t v;
    const char *err = pv_parse_bounded(&v, cmd, arg, PV_SFX_NONE, 1, 100);

    if (err) {
        return err;
    }
    if (d->nqualities &&
        !pv_quality_listed(d->qualities, d->nqualities, (int)v)) {
        return apr_psprintf(
            cmd->pool,
            "PreviewQuality: '%s' is not one of PreviewQualities (%s)", arg,
            pv_qualities_text(d->qualities, d->nqualities, cmd->temp_pool));
    }
    d->quality = (int)v;
    return NULL;
}

static const char *set_qualities(cmd_parms *cmd, void *dconf, int argc,
                                 char *const argv[])
{
    pv_dir_conf *d = dconf;
    int qualities[PV_QUALITIES_MAX], i;

    if (argc < 1 || argc > PV_QUALITIES_MAX) {
        return apr_psprintf(cmd->pool,
                            "PreviewQualities: expected 1 to %d qualities",
                            PV_QUALITIES_MAX);
    }
    for (i = 0; i < argc; i++) {
        apr_int64_t v;
        const char *err =
            pv_parse_bounded(&v, cmd, argv[i], PV_SFX_NONE, 1, 100);

        if (err) {
            return err;
        }
        if (i > 0 && v <= qualities[i - 1]) {
            return apr_psprintf(cmd->pool,
                                "PreviewQualities: '%s' after '%s': "
                                "qualities must be in ascending order, each "
                                "once",
                                argv[i], argv[i - 1]);
        }
        qualities[i] = (int)v;
    }
    if (d->quality != PV_UNSET &&
        !pv_quality_listed(qualities, argc, d->quality)) {
        return apr_psprintf(cmd->pool,
                            "PreviewQualities: '%s' does not hold "
                            "PreviewQuality %d",
                            pv_qualities_text(qualities, argc, cmd->temp_pool),
                            d->quality);
    }
    memcpy(d->qualities, qualities, sizeof(*qualities) * argc);
    d->nqualities = argc;
    return NULL;
}

/* ------------------------------------------------------- URL tokens */

static const char *set_query_tokens(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    pv_dir_conf *d = dconf;

    if (!strcasecmp(arg, "any")) {
        d->query_tokens = PV_QUERY_TOKENS_ANY;
    }
    else if (!strcasecmp(arg, "scoped")) {
        d->query_tokens = PV_QUERY_TOKENS_SCOPED;
    }
    else {
        return apr_psprintf(
            cmd->pool, "PreviewQueryTokens: '%s' is not any or scoped", arg);
    }
    return NULL;
}

/* A URL path ("/preview") or an absolute http(s) URL: what a client puts
 * "/<id>?token=..." after. Nothing that would need escaping in a URL or
 * change its meaning: no query, fragment, blank or quote; no trailing '/'
 * (and so not "/"), no "//" start (a URL of another host). */
static const char *set_sign_location(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    pv_dir_conf *d = dconf;
    const char *s = arg, *host = NULL;
    apr_size_t n = strlen(arg);

    if (!strncasecmp(arg, "https://", 8)) {
        host = arg + 8;
    }
    else if (!strncasecmp(arg, "http://", 7)) {
        host = arg + 7;
    }
    if (host) {
        for (s = host; *s && (apr_isalnum(*s) || strchr(".-:[]", *s)); s++) {
        }
        if (s == host || (*s && *s != '/')) {
            s = NULL;
        }
    }
    else if (arg[0] != '/' || arg[1] == '/') {
        s = NULL;
    }
    for (; s && *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || strchr("?#\"'<>\\`{}|^", *s)) {
            s = NULL;
            break;
        }
    }
    if (!s || n > PV_QUERY_MAX || arg[n - 1] == '/') {
        return apr_psprintf(cmd->pool,
                            "PreviewSignLocation: '%s' is not a URL path "
                            "(/preview) or an absolute http(s) URL, without "
                            "query, fragment, blanks or a trailing '/'",
                            arg);
    }
    d->sign_location = arg;
    return NULL;
}

/* Server directives: main server and <VirtualHost>; per-directory ones
 * also <Directory> and <Location>, never .htaccess (sizes bound the work
 * and the cache, which is the administrator's call). */
#define PV_SRV RSRC_CONF
#define PV_DIR (RSRC_CONF | ACCESS_CONF)

const command_rec pv_cmds[] = {
    AP_INIT_TAKE1("PreviewKeyFile", set_key_file, NULL, PV_SRV,
                  "file of '<kid> <secret>' lines; the first key signs"),
    AP_INIT_TAKE1("PreviewDBParams", set_db_params, NULL, PV_SRV,
                  "MariaDB parameters, mod_dbd's 'key=value' syntax"),
    AP_INIT_TAKE1("PreviewDBPoolMax", set_srv_num, (void *)&spec_db_pool_max,
                  PV_SRV, "MariaDB connections per process"),
    AP_INIT_TAKE1("PreviewStorageRoot", set_storage_root, NULL, PV_SRV,
                  "directory that image paths from the database are under"),
    AP_INIT_TAKE1("PreviewCacheDir", set_cache_dir, NULL, PV_SRV,
                  "directory of rendered previews (no cache when unset)"),
    AP_INIT_TAKE1("PreviewCacheMaxSize", set_srv_num,
                  (void *)&spec_cache_max_size, PV_SRV,
                  "bound of the preview cache: bytes, or with K, M, G, T"),
    AP_INIT_TAKE1("PreviewTokenTTL", set_srv_num, (void *)&spec_token_ttl,
                  PV_SRV, "seconds a login token lives"),
    AP_INIT_TAKE1("PreviewClockSkew", set_srv_num, (void *)&spec_clock_skew,
                  PV_SRV, "seconds of leeway for exp and iat"),
    AP_INIT_TAKE1("PreviewLegacyTokens", set_legacy_tokens, NULL, PV_SRV,
                  "Off or itsdangerous: also accept the origin app's tokens"),
    AP_INIT_TAKE1("PreviewLegacySecretFile", set_legacy_secret_file, NULL,
                  PV_SRV, "file holding the origin app's SECRET_KEY"),
    AP_INIT_TAKE1("PreviewLegacySalt", set_legacy_salt, NULL, PV_SRV,
                  "salt the origin app gave its serializer"),
    AP_INIT_TAKE1("PreviewLegacyUidField", set_legacy_uid_field, NULL, PV_SRV,
                  "payload field of a legacy token holding the user id"),
    AP_INIT_TAKE1("PreviewLoginQuery", set_query, (void *)&spec_login_query,
                  PV_SRV, "SQL: username -> id, password_hash, token_version"),
    AP_INIT_TAKE1("PreviewImageQuery", set_query, (void *)&spec_image_query,
                  PV_SRV, "SQL: image id, user id -> token_version, path"),
    AP_INIT_TAKE1("PreviewLogoutQuery", set_query, (void *)&spec_logout_query,
                  PV_SRV, "SQL: user id -> bump token_version"),
    AP_INIT_TAKE12("PreviewLoginLimit", set_login_limit, NULL, PV_SRV,
                   "<failures> <seconds> per client IP and username, or Off"),
    AP_INIT_TAKE1("PreviewLoginLimitCacheSize", set_global_num,
                  (void *)&spec_login_limit_cache_size, RSRC_CONF,
                  "bytes of shared memory for every server's "
                  "PreviewLoginLimit counts, or with K, M, G"),
    AP_INIT_TAKE1("PreviewSOCache", set_socache, NULL, RSRC_CONF,
                  "<provider>[:<args>]: the socache of the login limit and "
                  "the owner cache (shmcb; redis or memcache for several "
                  "nodes)"),
    AP_INIT_TAKE1("PreviewOwnerCacheTimeout", set_srv_num,
                  (void *)&spec_owner_cache_timeout, PV_SRV,
                  "seconds an image's ownership answer is kept in the "
                  "PreviewSOCache; 0: off"),
    AP_INIT_TAKE12("PreviewMaxLogins", set_max_logins, NULL, PV_SRV,
                   "<n> [<seconds>]: password checks at once per process, "
                   "and the longest wait for one"),
    AP_INIT_FLAG("PreviewLoginFromRemoteUser", set_login_from_remote_user, NULL,
                 PV_SRV, "On: GET login trusts r->user of another module"),
    AP_INIT_FLAG("PreviewMetrics", set_metrics, NULL, PV_SRV,
                 "Off: this server's requests are not counted"),
    AP_INIT_ITERATE("PreviewLoginOrigins", set_origin,
                    (void *)APR_OFFSETOF(pv_srv_conf, login_origins), PV_SRV,
                    "origins (scheme://host[:port]) of other sites whose "
                    "pages may post a login"),
    AP_INIT_ITERATE("PreviewCORSOrigins", set_origin,
                    (void *)APR_OFFSETOF(pv_srv_conf, cors_origins), PV_SRV,
                    "origins (scheme://host[:port]) whose pages may call "
                    "login, logout and sign with fetch(), credentials "
                    "included"),
    AP_INIT_TAKE1("PreviewCookieName", set_cookie_name, NULL, PV_SRV,
                  "name of the login cookie"),
    AP_INIT_TAKE1("PreviewMaxSourcePixels", set_srv_num,
                  (void *)&spec_max_source_pixels, PV_SRV,
                  "largest source width x height, or with K, M, G (x1000)"),
    AP_INIT_TAKE1("PreviewMaxSourceBytes", set_srv_num,
                  (void *)&spec_max_source_bytes, PV_SRV,
                  "largest source file: bytes, or with K, M, G, T (x1024)"),
    AP_INIT_TAKE1("PreviewMaxRenders", set_srv_num, (void *)&spec_max_renders,
                  PV_SRV, "renders at once per process"),
    AP_INIT_TAKE1("PreviewRenderTimeout", set_srv_num,
                  (void *)&spec_render_timeout, PV_SRV,
                  "seconds a request waits for a render slot"),
    AP_INIT_TAKE1("PreviewMaxRendersPerUser", set_srv_num,
                  (void *)&spec_max_renders_per_user, PV_SRV,
                  "render slots of a process one user may hold at once"),
    AP_INIT_TAKE1("PreviewRenderDeadline", set_render_deadline, NULL, PV_SRV,
                  "how long a render may run: seconds, or <n>ms"),
    AP_INIT_TAKE12("PreviewMaxRenderMemory", set_max_render_memory, NULL,
                   PV_SRV,
                   "<size> [<size>]: the largest memory estimate of one "
                   "render, and of the renders of one process together"),
    AP_INIT_TAKE_ARGV("PreviewSizes", set_sizes, NULL, PV_DIR,
                      "ascending box sizes a request is rounded up to"),
    AP_INIT_TAKE1("PreviewDefaultSize", set_default_size, NULL, PV_DIR,
                  "box size when neither w nor h is given"),
    AP_INIT_TAKE_ARGV("PreviewFormats", set_formats, NULL, PV_DIR,
                      "output formats offered: jpeg webp avif png"),
    AP_INIT_TAKE1("PreviewQuality", set_quality, NULL, PV_DIR,
                  "encoder quality when q is not given, 1 to 100"),
    AP_INIT_TAKE_ARGV("PreviewQualities", set_qualities, NULL, PV_DIR,
                      "ascending qualities a requested q snaps to"),
    AP_INIT_TAKE1("PreviewURLTokenTTL", set_srv_num,
                  (void *)&spec_url_token_ttl, PV_SRV,
                  "seconds a URL token of preview-sign lives at most"),
    AP_INIT_TAKE1("PreviewQueryTokens", set_query_tokens, NULL, PV_DIR,
                  "any, or scoped: only URL tokens in the query string"),
    AP_INIT_TAKE1("PreviewSignLocation", set_sign_location, NULL, PV_DIR,
                  "where preview-sign's URLs point: the preview location"),
    {NULL}};
