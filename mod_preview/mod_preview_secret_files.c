/* Secret files readable by every local user: said once per file at
 * start-up (configtest too). Others' read bit only: a group-readable key
 * file is the usual root:<group> 0640 of Debian's private keys (ssl-cert),
 * and its group is the administrator's choice; httpd itself reads the file
 * as root, before it gives up its rights, and needs no group at all. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_preview_config.h"
#include "mod_preview_secret_files.h"
#include "pv_log.h"
#include "pv_secret_file.h"

APLOG_USE_MODULE(preview);

static void warn_if_readable(server_rec *s, int flags, apr_hash_t *seen,
                             const char *directive, const char *path)
{
    unsigned int mode = 0;

    if (!path || apr_hash_get(seen, path, APR_HASH_KEY_STRING)) {
        return;
    }
    apr_hash_set(seen, path, APR_HASH_KEY_STRING, path);
    if (pv_secret_file_mode(&mode, path) != APR_SUCCESS || !(mode & 0004)) {
        return;
    }
    ap_log_error(APLOG_MARK, flags | APLOG_WARNING, 0, s,
                 PVLOGNO(1620) "%s %s is readable by every local user (mode "
                               "%04o): chmod o-rwx it, or make a new one with "
                               "preview-token genkey --out (mode 0600)",
                 directive, path, mode);
}

void pv_warn_readable_secrets(server_rec *s, int flags, apr_pool_t *ptemp)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        const pv_srv_conf *c = pv_srv_conf_get(sv);

        warn_if_readable(sv, flags, seen, "PreviewKeyFile", c->key_file);
        warn_if_readable(sv, flags, seen, "PreviewLegacySecretFile",
                         c->legacy_secret_file);
    }
}
