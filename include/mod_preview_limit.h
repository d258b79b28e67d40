/* Login attempts counted per client IP and per account, shared by every
 * httpd process, and by every node where PreviewSOCache is a store they
 * share, through the shared cache (mod_preview_socache.h), for
 * PreviewLoginLimit.
 *
 * An attempt is taken (counted as a failure) before it is made, in the same
 * critical section as the check, so a burst cannot slip more than the limit
 * through; it is given back when it was not a failed guess (success, 503),
 * and a success forgets the account's failures. Keys are keyed hashes (a
 * secret made at start), and the cache, its lock and the secret are kept
 * across restarts of the configuration: a graceful restart keeps every
 * count. */
#ifndef MOD_PREVIEW_LIMIT_H
#define MOD_PREVIEW_LIMIT_H

#include "httpd.h"

/* Keys are HMAC-SHA256 digests: every entry is the same small size. */
#define PV_LIMIT_KEY_LEN 32

/* Kinds of counter (part of the key). */
#define PV_LIMIT_IP "ip" /* who: the client IP (r->useragent_ip) */
#define PV_LIMIT_ACCOUNT                                                       \
    "account" /* who: the username's key, folded by                            \
                 MariaDB (pv_db_login_key), the same                           \
                 whether a user has it or not */

/* One taken attempt: where it was counted, to give it back. */
typedef struct pv_limit_hold_t {
    unsigned char key[PV_LIMIT_KEY_LEN];
    apr_int64_t start; /* the window it was counted in */
    int window;
    int held; /* 0: nothing was counted (no limit, or refused) */
} pv_limit_hold_t;

/* pv_limit_peek/pv_limit_take: the shared cache does not answer. The
 * login refuses (503): a guesser is never let through unmetered. */
#define PV_LIMIT_DOWN (-1)

/* post_config, after pv_socache_post_config: the key's secret found again
 * or made (kept across restarts). */
int pv_limit_post_config(server_rec *s, int needed);

/* Only look: the seconds until the counter (kind, who) of this virtual host
 * allows an attempt, 0 when it does now, PV_LIMIT_DOWN. Nothing is stored, so a
 * request refused later (another counter over its limit) leaves no entry
 * behind. */
apr_int64_t pv_limit_peek(request_rec *r, const char *kind, const char *who,
                          apr_size_t who_len, int failures, int window);

/* Take one attempt on the counter (kind, who) of this virtual host: 0 when
 * it may go on (it is counted now, *hold says where), else the seconds
 * until it may (for Retry-After; nothing counted), PV_LIMIT_DOWN. No limit
 * configured or no shared cache: 0 and nothing held. */
apr_int64_t pv_limit_take(pv_limit_hold_t *hold, request_rec *r,
                          const char *kind, const char *who, apr_size_t who_len,
                          int failures, int window);

/* The attempt was no failed guess (success, server error, 503): uncount it. */
void pv_limit_give_back(request_rec *r, pv_limit_hold_t *hold);

/* A success: forget every failure of this counter (used for the account). */
void pv_limit_forget(request_rec *r, pv_limit_hold_t *hold);

#endif /* MOD_PREVIEW_LIMIT_H */
