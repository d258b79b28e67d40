/* Per-process MariaDB pools of mod_preview: one per distinct database
 * (PreviewDBParams and the three queries), shared by the virtual hosts that
 * name the same one. */
#ifndef MOD_PREVIEW_DB_H
#define MOD_PREVIEW_DB_H

#include "httpd.h"

#include "pv_db.h"
#include "pv_password.h"

/* child_init: MariaDB's library started once, then the pools created (no
 * connection opened: each opens on first use), each server's kept as the
 * db of its group (mod_preview_server.h; NULL without PreviewDBParams). */
void pv_dbpool_child_init(apr_pool_t *pchild, server_rec *s);

/* post_config: each server's slot of the refused-account log times, and
 * one dummy password profile (its group's profile) per
 * distinct database and PreviewLoginQuery, in shared memory that every process
 * uses and that later generations find again (mod_preview_kept.h): a new child,
 * after a graceful restart too, starts with what the others learned. */
int pv_dbpool_post_config(apr_pool_t *pconf, server_rec *s);

/* How often (seconds) a server logs that MariaDB refuses its account. */
#define PV_DB_REFUSED_LOG_INTERVAL 60

/* PV_DB_REFUSED (err from pv_db): a configuration error, logged at error in
 * the request's server's own error log, naming PreviewDBParams and
 * MariaDB's error, at most once per PV_DB_REFUSED_LOG_INTERVAL across the
 * processes of the server. */
void pv_dbpool_log_refused(request_rec *r, const char *err);

/* The profile of the request's server (NULL: this process's own, when no
 * shared memory could be made). With sample set and nothing learned yet
 * (the first login since a cold start), first learned from the newest
 * user's stored hash (default schema only), so that even the first unknown
 * user costs what a wrong password does. */
pv_password_profile_t *pv_dbpool_profile(request_rec *r, pv_db_pool_t *db,
                                         int sample);

#endif /* MOD_PREVIEW_DB_H */
