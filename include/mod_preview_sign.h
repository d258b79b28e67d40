/* The sign handler (SetHandler preview-sign): POST with a login token and a
 * list of image ids, answered with a preview URL per image of the user's,
 * each carrying a URL token for that one image. */
#ifndef MOD_PREVIEW_SIGN_H
#define MOD_PREVIEW_SIGN_H

#include "httpd.h"

/* Largest body (413 beyond): 200 ids of 20 digits fit twice over. */
#define PV_SIGN_BODY_MAX 8192

/* handler: SetHandler preview-sign; DECLINED for any other handler name. */
int pv_sign_handler(request_rec *r);

#endif /* MOD_PREVIEW_SIGN_H */
