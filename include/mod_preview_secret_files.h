/* Start-up warnings about the files that hold mod_preview's secrets. */
#ifndef MOD_PREVIEW_SECRET_FILES_H
#define MOD_PREVIEW_SECRET_FILES_H

#include "httpd.h"

/* One warning (PV1620, with flags, e.g. APLOG_STARTUP for configtest's
 * console) per PreviewKeyFile or PreviewLegacySecretFile that every local
 * user may read (mode & 0004), naming the file and its mode. */
void pv_warn_readable_secrets(server_rec *s, int flags, apr_pool_t *ptemp);

#endif /* MOD_PREVIEW_SECRET_FILES_H */
