/* mod_preview: module record and hooks. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "mod_preview.h"
#include "mod_preview_config.h"

/* Hooks, in the order a request meets them:
 * - post_config: load and check every server's key ring (refuse to start
 *   on a bad one, naming file and line). */
static void pv_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(pv_config_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

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
