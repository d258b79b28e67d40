/* The owner cache (PreviewOwnerCacheTimeout): PreviewImageQuery's answer
 * for (image, user) kept in the shared cache (PreviewSOCache), so that a
 * preview whose answer is there costs no database round trip; a logout
 * through the module makes every kept answer of that user unreachable on
 * every node that shares the cache (a new generation per user, part of
 * every answer's key) before it answers 204. Keys and values: pv_owner.h.
 * Each process keeps the answers it used last in a front of its own
 * (pv_owner_front.h), used only while the user's generation holds. */
#ifndef MOD_PREVIEW_OWNER_H
#define MOD_PREVIEW_OWNER_H

#include "httpd.h"

#include "mod_preview_config.h"
#include "pv_db.h"
#include "pv_token.h"

/* The request note PV_NOTE_OWNER: front (this process's front), hit, miss
 * or off (not kept: cache off, legacy token, the shared cache down). */
#define PV_NOTE_OWNER "preview-owner"

/* post_config: each ring key's namespace keyed once, for the servers with
 * the owner cache on. */
int pv_owner_post_config(apr_pool_t *pconf, server_rec *s);

/* child_init: this process's front of the owner cache (pv_owner_front.h),
 * when some server has the owner cache on. */
void pv_owner_child_init(apr_pool_t *pchild, server_rec *s);

/* pv_db_image_lookup() for the preview, through the owner cache when it
 * is on for this server: the same statuses, *pout the same row. A token
 * older than the user's last logout through the module gets a row that
 * pv_auth_check_user() refuses, even from a database replica that has not
 * seen the logout yet. */
apr_status_t pv_owner_image_lookup(pv_db_image_t **pout, const char **perr,
                                   request_rec *r, const pv_srv_conf *c,
                                   pv_db_pool_t *db,
                                   const pv_token_claims_t *claims,
                                   apr_uint64_t image_id);

/* After the logout query: a new generation for the user under every key
 * of the ring, min_version the token_version after the logout. Failures
 * are logged (the kept answers then live until their timeout). */
void pv_owner_logout(request_rec *r, const pv_srv_conf *c, apr_uint64_t user,
                     apr_uint32_t min_version);

#endif /* MOD_PREVIEW_OWNER_H */
