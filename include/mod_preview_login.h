/* The preview-login handler, and what preview-logout shares with it: the
 * server's keys and database, a failed lookup's answer, the login cookie. */
#ifndef MOD_PREVIEW_LOGIN_H
#define MOD_PREVIEW_LOGIN_H

#include "httpd.h"

#include "mod_preview_config.h"
#include "pv_db.h"

/* Largest login body (413 beyond), and the Retry-After of a 503 when no
 * password check slot is free. */
#define PV_LOGIN_BODY_MAX    8192
#define PV_LOGIN_RETRY_AFTER 2

/* optional_fn_retrieve: find mod_ssl's ssl_is_https, if loaded. */
void pv_login_optional_fn_retrieve(void);

/* handler: SetHandler preview-login. */
int pv_login_handler(request_rec *r);

/* Both handlers need the server's keys and database: OK with *pdb, or
 * DONE with the 500 sent (and logged). */
int pv_login_server_db(pv_db_pool_t **pdb, request_rec *r,
                       const pv_srv_conf *c);

/* A database lookup that failed (rv, err from pv_db): logged, then 503
 * while MariaDB is unreachable (PV_DB_UNAVAILABLE), else 500. DONE. */
int pv_login_db_failure(request_rec *r, apr_status_t rv, const char *err);

/* Add the login cookie (PreviewCookieName) with value (empty to clear it)
 * and Max-Age; Secure when the request came over https. */
void pv_login_set_cookie(request_rec *r, const pv_srv_conf *c,
                         const char *value, apr_int64_t max_age);

#endif /* MOD_PREVIEW_LOGIN_H */
