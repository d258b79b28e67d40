/* Per-server and per-directory configuration of mod_preview (glue only). */
#ifndef MOD_PREVIEW_CONFIG_H
#define MOD_PREVIEW_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "pv_keyring.h"
#include "pv_token.h"

typedef struct pv_srv_conf {
    const char *key_file;       /* PreviewKeyFile, NULL when unset */
    pv_keyring_t *ring;         /* loaded at start-up from key_file */
} pv_srv_conf;

typedef struct pv_dir_conf {
    int unused;
} pv_dir_conf;

extern module AP_MODULE_DECLARE_DATA preview_module;
extern const command_rec pv_cmds[];

void *pv_create_srv_conf(apr_pool_t *p, server_rec *s);
void *pv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
void *pv_create_dir_conf(apr_pool_t *p, char *dir);
void *pv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Load every server's key ring; an error names file and line. */
int pv_config_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s);

#endif /* MOD_PREVIEW_CONFIG_H */
