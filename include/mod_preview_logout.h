/* The preview-logout handler. */
#ifndef MOD_PREVIEW_LOGOUT_H
#define MOD_PREVIEW_LOGOUT_H

#include "httpd.h"

/* handler: SetHandler preview-logout; DECLINED for any other handler
 * name. */
int pv_logout_handler(request_rec *r);

#endif /* MOD_PREVIEW_LOGOUT_H */
