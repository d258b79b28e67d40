/* mod_preview: module record and hooks. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "mod_preview.h"
#include "mod_preview_config.h"
#include "pv_log.h"

/* The core's log lines go to the main server's error log. */
static void pv_log_to_httpd(void *baton, pv_log_level_e level, const char *msg)
{
    /* The module index, as APLOG_MARK would pass it (that macro needs
     * AP_DECLARE_MODULE, which comes below). */
    ap_log_error_(__FILE__, __LINE__, preview_module.module_index, (int)level,
                  0, baton, "%s", msg);
}

static int pv_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    pv_log_set(pv_log_to_httpd, s);
    return pv_config_post_config(pconf, plog, ptemp, s);
}

/* Hooks, in the order httpd runs them:
 * - check_config (LAST, so the MPM has settled its thread count, which is
 *   PreviewDBPoolMax's default): defaults applied, checks that need the
 *   merged vhost view; runs for `apachectl -t` too. Files named by
 *   directives were already read by their setters.
 * - post_config: the core's log goes to httpd; each server's token
 *   verifier is built. */
static void pv_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(pv_config_check_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_post_config(pv_post_config, NULL, NULL, APR_HOOK_MIDDLE);
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
