/* CORS (PreviewCORSOrigins) for the handlers a web app of another origin
 * calls with fetch(): login, logout and sign. */
#ifndef MOD_PREVIEW_CORS_H
#define MOD_PREVIEW_CORS_H

#include "httpd.h"

#include "mod_preview_config.h"

/* Seconds a browser may keep a preflight's answer (Access-Control-Max-Age;
 * Chromium caps it at 7200): a changed PreviewCORSOrigins reaches every
 * client within ten minutes. */
#define PV_CORS_MAX_AGE "600"

/* Called first by each of the three handlers; allow: the methods it takes.
 * - A preflight (OPTIONS with Origin and Access-Control-Request-Method):
 *   204 with the Access-Control-* headers when Origin is one of
 *   PreviewCORSOrigins, else 403 cross_origin without them. DONE.
 * - Any other request whose Origin is listed: Access-Control-Allow-Origin
 *   (the listed origin), -Allow-Credentials and -Expose-Headers are set
 *   for whatever the handler answers, errors included. OK.
 * - Otherwise nothing (OK); Vary: Origin whenever the server has a list. */
int pv_cors_handle(request_rec *r, const pv_srv_conf *c, const char *allow);

/* The request's Origin, canonical, when it is one of PreviewCORSOrigins;
 * NULL otherwise (no Origin, another one, no list). */
const char *pv_cors_listed(request_rec *r, const pv_srv_conf *c);

#endif /* MOD_PREVIEW_CORS_H */
