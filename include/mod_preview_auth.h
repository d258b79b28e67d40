/* A request's authentication (the glue's; the token itself is pv_token.h):
 * its token found (Authorization: Bearer, then the query's token, then
 * access_token, then the login cookie: first found wins) and verified with
 * the server's verifier; a refusal is a 401 and a log line with the
 * reason, never the token. */
#ifndef MOD_PREVIEW_AUTH_H
#define MOD_PREVIEW_AUTH_H

#include "httpd.h"

#include "pv_db.h"
#include "pv_request.h"
#include "pv_token.h"

/* Where the token came from, for log lines. */
typedef enum {
    PV_AUTH_SRC_NONE = 0,
    PV_AUTH_SRC_BEARER,
    PV_AUTH_SRC_QUERY_TOKEN,
    PV_AUTH_SRC_QUERY_ACCESS_TOKEN,
    PV_AUTH_SRC_COOKIE
} pv_auth_source_e;

const char *pv_auth_source_str(pv_auth_source_e src);

/* Find the request's token. q: the query already parsed by the caller, or
 * NULL to parse r->args here (a query that does not parse then holds no
 * token). APR_SUCCESS: *ptok, *plen and *psrc set. APR_NOTFOUND: no token.
 * APR_EINVAL: a malformed Authorization: Bearer header (a token was sent:
 * the caller answers 401, not "missing"). */
apr_status_t pv_auth_find(const char **ptok, apr_size_t *plen,
                          pv_auth_source_e *psrc, request_rec *r,
                          const pv_request_query_t *q);

/* Find and verify. OK: *claims filled (the caller still checks ver against
 * the database; claims->img set for a URL token, which only that image's
 * preview may take). DONE: the refusal (401; 500 when the server has
 * no key file) has been sent. With PreviewQueryTokens scoped, a token without
 * img from the query string is refused (401). */
int pv_auth_request(pv_token_claims_t *claims, request_rec *r,
                    const pv_request_query_t *q);

/* pv_auth_request for the handlers that act for the account (logout,
 * sign): a URL token is refused (401), so that it never turns into more
 * than its image. query_ok 0: a token found in the query string is refused
 * too (401), whatever it is. OK or DONE. */
int pv_auth_account(pv_token_claims_t *claims, request_rec *r, int query_ok);

/* The verified token against its user's row as pv_db_image_lookup() read
 * it (NULL: no such user): refused when the user does not exist, when the
 * token's ver is not the row's token_version (a logout since), or when it
 * is a legacy token and the user has logged out at least once. OK: the
 * token is current. DONE: the 401 has been sent (reason unknown_user or
 * revoked). */
int pv_auth_check_user(request_rec *r, const pv_token_claims_t *claims,
                       const pv_db_image_t *row);

/* Log a refused token: one line (PV1601, WARN) with the client's
 * address, reason (one word: no_token, malformed, bad_signature, expired,
 * revoked, wrong_image, ...), detail (NULL: none) and, unless
 * PV_AUTH_SRC_NONE, the source; never the token. */
void pv_auth_log_refused(request_rec *r, const char *reason, const char *detail,
                         pv_auth_source_e src);

/* pv_auth_log_refused, then the 401 JSON body with WWW-Authenticate.
 * Returns DONE. */
int pv_auth_refuse(request_rec *r, const char *reason, const char *detail,
                   pv_auth_source_e src);

#endif /* MOD_PREVIEW_AUTH_H */
