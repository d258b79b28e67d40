/* Directives of mod_preview: parsed and checked at start-up. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "pv_log.h"

void *pv_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(pv_srv_conf));
}

void *pv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    pv_srv_conf *base = basev, *add = addv;
    pv_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->key_file = add->key_file ? add->key_file : base->key_file;
    return c;
}

void *pv_create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(pv_dir_conf));
}

void *pv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    return apr_pcalloc(p, sizeof(pv_dir_conf));
}

static const char *set_key_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    pv_srv_conf *c = ap_get_module_config(cmd->server->module_config,
                                          &preview_module);

    c->key_file = ap_server_root_relative(cmd->pool, arg);
    if (!c->key_file) {
        return apr_psprintf(cmd->pool, "PreviewKeyFile: bad path '%s'", arg);
    }
    return NULL;
}

const command_rec pv_cmds[] = {
    AP_INIT_TAKE1("PreviewKeyFile", set_key_file, NULL, RSRC_CONF,
                  "file of '<kid> <secret>' lines; the first key signs"),
    {NULL}};

int pv_config_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    return OK;
}
