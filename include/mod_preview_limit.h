/* Failed-login counting per client IP and per username, shared by every
 * httpd process through a socache (shmcb), for PreviewLoginLimit. */
#ifndef MOD_PREVIEW_LIMIT_H
#define MOD_PREVIEW_LIMIT_H

#include "httpd.h"

/* pre_config: register our mutex type with httpd ("Mutex preview-login"). */
void pv_limit_pre_config(apr_pool_t *pconf);

/* post_config: create the shared cache once; an error when it is needed
 * and no socache provider is loaded. */
int pv_limit_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s, int needed);

void pv_limit_child_init(apr_pool_t *p, server_rec *s);

/* 0 when a login attempt for user from this client may go on; otherwise
 * the seconds until it may (for Retry-After). user may be NULL. */
apr_int64_t pv_limit_check(request_rec *r, const char *user, int failures,
                           int window);

/* Count one failed attempt against the client and the user. */
void pv_limit_fail(request_rec *r, const char *user, int window);

/* A success forgets the user's failures (not the client's). */
void pv_limit_success(request_rec *r, const char *user);

#endif /* MOD_PREVIEW_LIMIT_H */
