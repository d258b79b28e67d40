/* Start-up checks of mod_preview that no setter can make alone: the merged
 * view of each section and the cross-vhost rules (check_config, so
 * `apachectl -t` runs them too), and each server's token verifier
 * (post_config). */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_secret_files.h"
#include "mod_preview_server.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

/* Where a server was defined, for messages. */
static const char *pv_server_where(server_rec *s, apr_pool_t *p)
{
    if (!s->is_virtual) {
        return "main server";
    }
    return apr_psprintf(p, "virtual host %s (%s:%u)",
                        s->server_hostname ? s->server_hostname : "?",
                        s->defn_name ? s->defn_name : "?", s->defn_line_number);
}

/* An explicit default_size must fit the sizes that apply with it (an unset
 * one is clamped by the getter); an explicit quality must be one of the
 * explicit qualities that apply with it (an unset one is snapped). */
static int pv_check_dir(server_rec *s, const pv_dir_conf *base,
                        const pv_dir_conf *add, apr_pool_t *ptemp)
{
    pv_dir_conf *d = add ? pv_merge_dir_conf(ptemp, (void *)base, (void *)add)
                         : apr_pmemdup(ptemp, base, sizeof(*base));
    const char *where = d->section
                            ? apr_psprintf(ptemp, "section '%s'", d->section)
                            : "the server config";
    int default_size = d->default_size;

    if (d->quality != PV_UNSET && d->nqualities &&
        !pv_quality_listed(d->qualities, d->nqualities, d->quality)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                     PVLOGNO(0008) "PreviewQuality %d is not one of "
                                   "PreviewQualities (%s) in %s of the %s",
                     d->quality,
                     pv_qualities_text(d->qualities, d->nqualities, ptemp),
                     where, pv_server_where(s, ptemp));
        return 0;
    }
    if (default_size == PV_UNSET) {
        return 1;
    }
    pv_dir_conf_apply_defaults(d);
    if (default_size > d->sizes[d->nsizes - 1]) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                     PVLOGNO(0001) "PreviewDefaultSize %d is above the largest "
                                   "of PreviewSizes (%d) in %s of the %s",
                     default_size, d->sizes[d->nsizes - 1], where,
                     pv_server_where(s, ptemp));
        return 0;
    }
    return 1;
}

/* 1 when a and b hold a key with the same secret: a token one signs, the
 * other accepts (an inherited ring, the same file, or a copy of a line). */
static int pv_rings_share_key(const pv_keyring_t *a, const pv_keyring_t *b)
{
    int i, j;

    if (a == b) {
        return 1;
    }
    for (i = 0; i < pv_keyring_count(a); i++) {
        const pv_key_t *ka = pv_keyring_get(a, i);

        for (j = 0; j < pv_keyring_count(b); j++) {
            const pv_key_t *kb = pv_keyring_get(b, j);

            if (ka->secret_len == kb->secret_len &&
                !memcmp(ka->secret, kb->secret, ka->secret_len)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Legacy tokens of a and b are interchangeable: same secret, same salt. */
static int pv_legacy_shared(const pv_srv_conf *a, const pv_srv_conf *b)
{
    if (a->legacy != PV_LEGACY_ITSDANGEROUS ||
        b->legacy != PV_LEGACY_ITSDANGEROUS || !a->legacy_secret ||
        !b->legacy_secret || a->legacy_secret_len != b->legacy_secret_len ||
        memcmp(a->legacy_secret, b->legacy_secret, a->legacy_secret_len)) {
        return 0;
    }
    return (!a->legacy_salt && !b->legacy_salt) ||
           (a->legacy_salt && b->legacy_salt &&
            !strcmp(a->legacy_salt, b->legacy_salt));
}

/* 1 when a comes before b in the configuration (the main server first):
 * messages name two servers in the order a reader finds them. */
static int pv_server_before(const server_rec *a, const server_rec *b)
{
    int d;

    if (!a->is_virtual || !b->is_virtual) {
        return !a->is_virtual;
    }
    d = strcmp(a->defn_name ? a->defn_name : "",
               b->defn_name ? b->defn_name : "");
    return d != 0 ? d < 0 : a->defn_line_number < b->defn_line_number;
}

/* Token users are ids in one database: two servers that accept each other's
 * tokens must look them up in the same one, or user 5 of A is user 5 of
 * B. Returns 0 (and logs both servers) when they do not. */
static int pv_check_token_scopes(server_rec *s, apr_pool_t *ptemp)
{
    server_rec *a, *b, *x, *y;

    for (a = s; a; a = a->next) {
        const pv_srv_conf *ca = pv_srv_conf_get(a);

        if (!ca->ring || !ca->db_params) {
            continue;
        }
        for (b = a->next; b; b = b->next) {
            const pv_srv_conf *cb = pv_srv_conf_get(b);
            const char *what;

            if (!cb->ring || !cb->db_params) {
                continue;
            }
            if (!pv_db_params_equal(ca->db_params, cb->db_params)) {
                what = "PreviewDBParams";
            }
            else if (strcmp(ca->image_query, cb->image_query)) {
                what = "PreviewImageQuery";
            }
            else if (strcmp(ca->logout_query, cb->logout_query)) {
                what = "PreviewLogoutQuery";
            }
            else {
                continue;
            }
            x = pv_server_before(a, b) ? a : b;
            y = x == a ? b : a;
            if (pv_rings_share_key(ca->ring, cb->ring)) {
                ap_log_error(
                    APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, y,
                    PVLOGNO(1154) "the %s and the %s accept each other's "
                                  "tokens (a key of PreviewKeyFile %s is in "
                                  "%s) but their %s differ: a token of one "
                                  "would be taken for the user with the same "
                                  "id in the other. Give each its own "
                                  "PreviewKeyFile",
                    pv_server_where(x, ptemp), pv_server_where(y, ptemp),
                    pv_srv_conf_get(x)->key_file, pv_srv_conf_get(y)->key_file,
                    what);
                return 0;
            }
            if (pv_legacy_shared(ca, cb)) {
                ap_log_error(
                    APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, y,
                    PVLOGNO(1155) "the %s and the %s accept each other's "
                                  "legacy tokens (the same "
                                  "PreviewLegacySecretFile secret and salt) "
                                  "but their %s differ: a token of one would "
                                  "be taken for the user with the same id in "
                                  "the other. Turn PreviewLegacyTokens off in "
                                  "one of them",
                    pv_server_where(x, ptemp), pv_server_where(y, ptemp), what);
                return 0;
            }
        }
    }
    return 1;
}

/* A short SECRET_KEY can be found offline from one captured legacy token
 * (HMAC of known text): say so, once per secret, without the secret. */
static void pv_warn_weak_legacy_secrets(server_rec *s, int flags,
                                        apr_pool_t *ptemp)
{
    apr_array_header_t *seen = apr_array_make(ptemp, 4, sizeof(void *));
    server_rec *sv;
    int i;

    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        if (c->legacy != PV_LEGACY_ITSDANGEROUS || !c->legacy_secret ||
            c->legacy_secret_len >= PV_LEGACY_SECRET_MIN) {
            continue;
        }
        for (i = 0; i < seen->nelts; i++) {
            if (APR_ARRAY_IDX(seen, i, const void *) == c->legacy_secret) {
                break;
            }
        }
        if (i < seen->nelts) {
            continue;
        }
        APR_ARRAY_PUSH(seen, const void *) = c->legacy_secret;
        ap_log_error(APLOG_MARK, flags | APLOG_WARNING, 0, sv,
                     PVLOGNO(1156) "PreviewLegacySecretFile %s holds a "
                                   "%" APR_SIZE_T_FMT "-byte secret, under "
                                   "%d bytes: one captured legacy token "
                                   "lets anyone search for it offline (%s)",
                     c->legacy_secret_file, c->legacy_secret_len,
                     PV_LEGACY_SECRET_MIN, pv_server_where(sv, ptemp));
    }
}

/* Every missing folder at once: an admin creates them all in one go
 * rather than meeting them one configtest at a time. */
static int pv_check_missing_dirs(server_rec *s)
{
    const apr_array_header_t *missing = pv_cmds_missing_dirs();
    int i;

    if (!missing || missing->nelts == 0) {
        return 1;
    }
    for (i = 0; i < missing->nelts; i++) {
        const pv_missing_dir *m = &APR_ARRAY_IDX(missing, i, pv_missing_dir);

        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                     PVLOGNO(1750) "%s: '%s': no such directory (line %d of "
                                   "%s)",
                     m->directive, m->path, m->line, m->file ? m->file : "?");
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                 PVLOGNO(1751) "%d folder%s named above %s missing: create "
                               "%s (the cache folder writable by the User "
                               "httpd runs as)",
                 missing->nelts, missing->nelts == 1 ? "" : "s",
                 missing->nelts == 1 ? "is" : "are",
                 missing->nelts == 1 ? "it" : "them");
    return 0;
}

int pv_config_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;

    if (!pv_check_missing_dirs(s)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    pv_srv_conf_resolve(s, pconf);
    if (!pv_check_token_scopes(s, ptemp)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Shown on the console in the first pass (and by configtest); the
     * error log gets it from post_config. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        pv_warn_weak_legacy_secrets(s, APLOG_STARTUP, ptemp);
        pv_warn_readable_secrets(s, APLOG_STARTUP, ptemp);
    }

    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        core_server_config *core = ap_get_core_module_config(sv->module_config);
        const pv_dir_conf *base =
            ap_get_module_config(sv->lookup_defaults, &preview_module);
        apr_array_header_t *secs[2];
        int i, j;

        if (c->legacy == PV_LEGACY_ITSDANGEROUS && !c->legacy_secret) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, sv,
                         PVLOGNO(0002) "PreviewLegacyTokens itsdangerous needs "
                                       "PreviewLegacySecretFile (%s)",
                         pv_server_where(sv, ptemp));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->legacy == PV_LEGACY_ITSDANGEROUS && !c->ring) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, sv,
                         PVLOGNO(0003) "PreviewLegacyTokens itsdangerous needs "
                                       "PreviewKeyFile too (%s)",
                         pv_server_where(sv, ptemp));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (!pv_check_dir(sv, base, NULL, ptemp)) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        secs[0] = core->sec_dir;
        secs[1] = core->sec_url;
        for (i = 0; i < 2; i++) {
            for (j = 0; secs[i] && j < secs[i]->nelts; j++) {
                ap_conf_vector_t *v =
                    APR_ARRAY_IDX(secs[i], j, ap_conf_vector_t *);
                const pv_dir_conf *d = ap_get_module_config(v, &preview_module);

                if (d && !pv_check_dir(sv, base, d, ptemp)) {
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }
    return OK;
}

int pv_config_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;

    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        pv_warn_weak_legacy_secrets(s, 0, ptemp);
        pv_warn_readable_secrets(s, 0, ptemp);
    }
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);
        pv_token_config_t tc;
        apr_status_t rv;

        if (!c->ring) {
            continue;
        }
        memset(&tc, 0, sizeof(tc));
        tc.ring = c->ring;
        tc.algs = PV_ALG_HS256 | PV_ALG_HS384 | PV_ALG_HS512;
        tc.leeway = c->clock_skew;
        tc.legacy = (pv_legacy_e)c->legacy;
        if (c->legacy == PV_LEGACY_ITSDANGEROUS) {
            tc.legacy_secret = c->legacy_secret;
            tc.legacy_secret_len = c->legacy_secret_len;
            tc.legacy_salt = c->legacy_salt;
            tc.legacy_uid_field = c->legacy_uid_field;
        }
        rv = pv_token_verifier_make(&c->server->verifier, &tc, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, sv,
                         PVLOGNO(0004) "cannot prepare the token verifier of "
                                       "the %s",
                         pv_server_where(sv, ptemp));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}
