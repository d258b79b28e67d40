/* The preview-login and preview-logout handlers. */
#ifndef MOD_PREVIEW_LOGIN_H
#define MOD_PREVIEW_LOGIN_H

#include "httpd.h"

/* Largest login body (413 beyond), and the Retry-After of a 503. */
#define PV_LOGIN_BODY_MAX 8192
#define PV_DB_RETRY_AFTER 5

/* optional_fn_retrieve: find mod_ssl's ssl_is_https, if loaded. */
void pv_login_optional_fn_retrieve(void);

/* handler: SetHandler preview-login. */
int pv_login_handler(request_rec *r);

/* handler: SetHandler preview-logout. */
int pv_logout_handler(request_rec *r);

#endif /* MOD_PREVIEW_LOGIN_H */
