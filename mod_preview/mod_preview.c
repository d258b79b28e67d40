/* mod_preview: module record and hooks. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional_hooks.h"
#include "mod_status.h"

#include "mod_preview.h"
#include "mod_preview_cache.h"
#include "mod_preview_config.h"
#include "mod_preview_db.h"
#include "mod_preview_limit.h"
#include "mod_preview_login.h"
#include "mod_preview_logout.h"
#include "mod_preview_metrics.h"
#include "mod_preview_owner.h"
#include "mod_preview_preview.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "mod_preview_sign.h"
#include "mod_preview_socache.h"
#include "pv_log.h"

/* The core's log lines go to the main server's error log, with the core's
 * file and line (shown at LogLevel debug) and status. */
static void pv_log_to_httpd(void *baton, const char *file, int line,
                            pv_log_level_e level, apr_status_t rv,
                            const char *msg)
{
    /* The module index, as APLOG_MARK would pass it (that macro needs
     * AP_DECLARE_MODULE, which comes below). */
    ap_log_error_(file, line, preview_module.module_index, (int)level, rv,
                  baton, "%s", msg);
}

static int pv_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    pv_socache_pre_config(pconf);
    return OK;
}

static int pv_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;
    int rc, limit_needed = 0, owner_needed = 0;

    pv_log_set(pv_log_to_httpd, s);
    rc = pv_config_post_config(pconf, plog, ptemp, s);
    if (rc == OK) {
        rc = pv_dbpool_post_config(pconf, s);
    }
    if (rc != OK) {
        return rc;
    }
    /* Only a server that can log in (it has a database) needs the
     * shared failure counts. */
    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        if (c->db_params && c->login_limit_failures > 0) {
            limit_needed = 1;
        }
        if (c->db_params && c->owner_cache_timeout > 0) {
            owner_needed = 1;
        }
    }
    rc = pv_socache_post_config(pconf, ptemp, s, limit_needed || owner_needed);
    if (rc == OK) {
        rc = pv_limit_post_config(s, limit_needed);
    }
    if (rc == OK) {
        rc = pv_owner_post_config(pconf, s);
    }
    if (rc != OK) {
        return rc;
    }
    pv_metrics_post_config(pconf, ptemp, s);
    return pv_preview_cache_post_config(pconf, plog, ptemp, s);
}

static void pv_child_init(apr_pool_t *pchild, server_rec *s)
{
    pv_socache_child_init(pchild, s);
    pv_owner_child_init(pchild, s);
    pv_preview_child_init(pchild, s);
    pv_preview_cache_child_init(pchild, s);
    pv_server_child_init(pchild, s);
}

/* Hooks, in the order httpd runs them:
 * - pre_config: the shared cache's mutex type is registered (so that
 *   "Mutex preview-login ..." is a known directive value).
 * - check_config (LAST, so the MPM has settled its thread count, which is
 *   PreviewDBPoolMax's default): each server's configuration replaced by a
 *   resolved copy with its defaults applied (the only time they are) and
 *   its empty runtime group (mod_preview_server.h); then the checks that
 *   need the merged vhost view; runs for `apachectl -t` too. Files named
 *   by directives were already read by their setters.
 * - post_config: the core's log goes to httpd; each server's token
 *   verifier is built into its group (it needs the merged config, hence
 *   after check_config); each database's dummy password profile is found again
 *   in the memory kept across restarts, or made there (mod_preview_kept.h);
 *   then the shared cache (PreviewSOCache), needed only when some
 *   server has PreviewDBParams and a PreviewLoginLimit or a
 *   PreviewOwnerCacheTimeout: the one an earlier generation made (same
 *   PreviewSOCache and PreviewLoginLimitCacheSize: the entries go on),
 *   else a new one, the limiter's key secret, and the owner cache's
 *   namespace of each key (keyed once: per request only copied); then the
 *   counters' shared block (mod_preview_metrics.h), kept across restarts;
 *   then one shared size counter (anonymous shm) per distinct PreviewCacheDir.
 * - optional_fn_retrieve: mod_ssl's ssl_is_https, for the cookie's Secure.
 * - child_init: the shared cache's mutex attached; the owner cache's
 *   front made (per process); libvips started (the core's
 *   log already goes to httpd); the preview caches (one per folder,
 *   probed: child_init runs as the httpd user already) and their sweeper
 *   thread (it keeps each folder under PreviewCacheMaxSize where no
 *   request waits for it). Then each server's group is filled, per
 *   process: MariaDB's client library started (once, before the worker
 *   threads) and one pool per distinct database created (connections open
 *   lazily, on first use), the login slots (PreviewMaxLogins), the render
 *   slots (PreviewMaxRenders), the per-user tables and the render memory
 *   budgets, and the server's cache.
 * - pre_read_request (REALLY_FIRST; once per request read from a client
 *   connection, before httpd reads its first byte): the input filter
 *   PREVIEW_REDACT_IN is added in front of the connection's filters (so
 *   above mod_ssl and mod_reqtimeout); it turns the token values of the
 *   request line and of Referer lines into REDACTED as the bytes come, so
 *   that httpd core itself (ap_read_request's 400/414 paths, AH10244,
 *   AH00026, mod_status' scoreboard) and every module only ever see
 *   REDACTED, and keeps the request line's values. Each request of a
 *   keep-alive connection gets its own filter and values.
 * - post_read_request (REALLY_FIRST, and before mod_log_forensic, which
 *   logs there too): the filter is removed (the header block has been
 *   read) and its values taken; a request with no HTTP/1 request line
 *   (mod_http2 builds it from :path) has its request line, URI, query and
 *   Referer redacted here instead, its values kept from the query.
 * - handler: preview-login, preview-logout, preview and preview-sign, each
 *   declining any other handler name; each is a list of steps that return
 *   OK (go on) or DONE (answered), and returns OK to httpd once it has
 *   answered (pv_http_handler_return); preview and logout read the token
 *   from r->args with the kept values put back for REDACTED
 *   (pv_redact_handler_args); once the token has been read, each redacts
 *   its request's URI (a %3F in the path) for the error lines written
 *   later.
 * - log_transaction (REALLY_FIRST, before mod_log_config): request line,
 *   URI, query, Referer and the environment (QUERY_STRING and its REDIRECT_
 *   copies) redacted for every request, along the whole internal-redirect
 *   chain; then (FIRST, before mod_log_config, so that a client that sees
 *   the access log line sees the count) the request counted for its
 *   server with its final status (mod_preview_metrics.h).
 * - handler preview-metrics, and mod_status' optional status_hook: the
 *   counters as Prometheus text, and as a server-status section. */
static void pv_register_hooks(apr_pool_t *p)
{
    static const char *const before_forensic[] = {"mod_log_forensic.c", NULL};
    static const char *const before_log[] = {"mod_log_config.c", NULL};

    ap_hook_pre_config(pv_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(pv_config_check_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_post_config(pv_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(pv_login_optional_fn_retrieve, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_child_init(pv_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pv_login_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pv_logout_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pv_preview_handler, NULL, NULL, APR_HOOK_MIDDLE);
    pv_redact_register_filter();
    ap_hook_pre_read_request(pv_redact_pre_read_request, NULL, NULL,
                             APR_HOOK_REALLY_FIRST);
    ap_hook_handler(pv_sign_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(pv_redact_post_read_request, NULL,
                              before_forensic, APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(pv_redact_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    ap_hook_handler(pv_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(pv_metrics_log_transaction, NULL, before_log,
                            APR_HOOK_FIRST);
    APR_OPTIONAL_HOOK(ap, status_hook, pv_metrics_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

/* clang-format off */
AP_DECLARE_MODULE(preview) = {
    STANDARD20_MODULE_STUFF,
    pv_create_dir_conf,
    pv_merge_dir_conf,
    pv_create_srv_conf,
    pv_merge_srv_conf,
    pv_cmds,
    pv_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
/* clang-format on */
