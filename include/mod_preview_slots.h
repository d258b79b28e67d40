/* The per-process slots (pv_slots_t) of each server for one bound, such as
 * PreviewMaxRenders or PreviewMaxLogins: made in child_init, looked up per
 * request. */
#ifndef MOD_PREVIEW_SLOTS_H
#define MOD_PREVIEW_SLOTS_H

#include "httpd.h"
#include "apr_hash.h"

#include "mod_preview_config.h"
#include "pv_slots.h"

/* A server's bound, read from its configuration. */
typedef apr_int64_t pv_slots_bound_fn(const pv_srv_conf *c);

/* server_rec -> pv_slots_t for s and every server after it, sized by
 * bound(). A server whose slots cannot be made is left out, logged at crit
 * as "<tag>cannot create <n> <what> slots". */
apr_hash_t *pv_server_slots_make(server_rec *s, pv_slots_bound_fn *bound,
                                 const char *tag, const char *what,
                                 apr_pool_t *pchild);

/* The slots of server s in map (NULL: none, or no map yet). */
pv_slots_t *pv_server_slots_get(apr_hash_t *map, const server_rec *s);

/* server_rec -> pv_user_slots_t (PreviewMaxRendersPerUser) for s and every
 * server after it: one table per pv_slots_t of slots_map, so that servers
 * sharing slots share the count of each user too. A table that cannot be
 * made is left out, logged at crit with tag. */
apr_hash_t *pv_server_user_slots_make(server_rec *s, apr_hash_t *slots_map,
                                      const char *tag, apr_pool_t *pchild);

/* The per-user table of server s in map (NULL: none, or no map yet). */
pv_user_slots_t *pv_server_user_slots_get(apr_hash_t *map, const server_rec *s);

/* A server's budget in bytes, read from its configuration. */
typedef apr_uint64_t pv_budget_bound_fn(const pv_srv_conf *c);

/* server_rec -> pv_budget_t for s and every server after it: servers
 * with the same bound share one budget, so that it holds per process. A
 * budget that cannot be made leaves its servers out, logged at crit as
 * "<tag>cannot create a render memory budget of <n> bytes". */
apr_hash_t *pv_server_budget_make(server_rec *s, pv_budget_bound_fn *bound,
                                  const char *tag, apr_pool_t *pchild);

/* The budget of server s in map (NULL: none, or no map yet). */
pv_budget_t *pv_server_budget_get(apr_hash_t *map, const server_rec *s);

#endif /* MOD_PREVIEW_SLOTS_H */
