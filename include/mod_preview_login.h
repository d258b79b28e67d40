/* The preview-login and preview-logout handlers. */
#ifndef MOD_PREVIEW_LOGIN_H
#define MOD_PREVIEW_LOGIN_H

#include "httpd.h"

/* Largest login body (413 beyond), and the Retry-After of a 503 (database
 * down; no password check slot free). */
#define PV_LOGIN_BODY_MAX    8192
#define PV_DB_RETRY_AFTER    5
#define PV_LOGIN_RETRY_AFTER 2

/* optional_fn_retrieve: find mod_ssl's ssl_is_https, if loaded. */
void pv_login_optional_fn_retrieve(void);

/* child_init: the per-process slots of PreviewMaxLogins. */
void pv_login_child_init(apr_pool_t *pchild, server_rec *s);

/* handler: SetHandler preview-login. */
int pv_login_handler(request_rec *r);

/* handler: SetHandler preview-logout. */
int pv_logout_handler(request_rec *r);

#endif /* MOD_PREVIEW_LOGIN_H */
