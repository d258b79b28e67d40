/* Per-process MariaDB pools of mod_preview: one per distinct database
 * (PreviewDBParams and the three queries), shared by the virtual hosts that
 * name the same one. */
#ifndef MOD_PREVIEW_DB_H
#define MOD_PREVIEW_DB_H

#include "httpd.h"

#include "pv_db.h"

/* child_init: MariaDB's library started once, then the pools created (no
 * connection opened: each opens on first use). */
void pv_dbpool_child_init(apr_pool_t *pchild, server_rec *s);

/* The pool of this (virtual) server, NULL when it has no PreviewDBParams.
 * Read-only after child_init: safe from any thread. */
pv_db_pool_t *pv_dbpool_get(server_rec *s);

#endif /* MOD_PREVIEW_DB_H */
