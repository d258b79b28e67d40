/* Counters per server (virtual host) in shared memory, shown by the
 * preview-metrics handler (Prometheus text) and in mod_status'
 * server-status page (a mod_preview section; ?auto lines "Preview...").
 *
 * One block of pv_metrics_t per distinct "name:port" label, made by the
 * parent in post_config and kept across restarts (mod_preview_kept.h):
 * a graceful restart that keeps the same set of servers (within a round
 * of 16) keeps the counts; children inherit the mapping by fork. Each
 * server's group points at its block (PV_METRICS_OF(r)); the counting
 * calls are the core's pv_metrics_*() at each counted point, atomic adds
 * without a lock. Requests are counted here, in log_transaction, with the
 * final status. */
#ifndef MOD_PREVIEW_METRICS_H
#define MOD_PREVIEW_METRICS_H

#include "httpd.h"

#define PV_HANDLER_METRICS "preview-metrics"

/* post_config, after the groups exist: the shared block found again or
 * made, and each server's group pointed at its counters. Without shared
 * memory (logged once) nothing is counted; httpd still starts. */
void pv_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                            server_rec *s);

/* The handler preview-metrics: GET or HEAD, Prometheus text of every
 * server's counters (no token: protect it with Require). */
int pv_metrics_handler(request_rec *r);

/* mod_status' status_hook: the section (HTML, or ?auto lines). */
int pv_metrics_status_hook(request_rec *r, int flags);

/* log_transaction, before mod_log_config: the request counted with its
 * final status, when one of its chain had a handler of ours. */
int pv_metrics_log_transaction(request_rec *r);

#endif /* MOD_PREVIEW_METRICS_H */
