/* The preview handler (SetHandler preview): GET/HEAD <location>/<image-id>
 * returns a resized preview of that image, only to its owner. */
#ifndef MOD_PREVIEW_PREVIEW_H
#define MOD_PREVIEW_PREVIEW_H

#include "httpd.h"

/* Retry-After of a 503 when every render slot stayed busy. */
#define PV_RENDER_RETRY_AFTER 2

/* child_init: libvips started for this process (after pv_log_set). */
void pv_preview_child_init(apr_pool_t *pchild, server_rec *s);

/* handler: SetHandler preview; DECLINED for any other handler name. */
int pv_preview_handler(request_rec *r);

#endif /* MOD_PREVIEW_PREVIEW_H */
