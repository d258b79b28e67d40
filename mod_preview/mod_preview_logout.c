/* preview-logout: a login token -> every token of that user revoked (the
 * user's token_version bumped), the login cookie cleared. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_preview.h"
#include "mod_preview_auth.h"
#include "mod_preview_config.h"
#include "mod_preview_cors.h"
#include "mod_preview_http.h"
#include "mod_preview_login.h"
#include "mod_preview_logout.h"
#include "mod_preview_owner.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "pv_db.h"
#include "pv_log.h"
#include "pv_token.h"

APLOG_USE_MODULE(preview);

/* The login token of the request, current. OK: *claims; DONE: the
 * answer (401, 503, 500) has been sent. */
static int logout_claims(pv_token_claims_t *claims, request_rec *r,
                         pv_db_pool_t *db)
{
    pv_db_image_t *img = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int rc;

    rc = pv_auth_account(claims, r, 1);
    /* Read: no error line from here on can show the token. */
    pv_redact_request(r);
    if (rc != OK) {
        return rc;
    }
    /* Image 0 is nobody's: one round trip for the current token_version. */
    rv = pv_db_image_lookup(&img, &err, db, 0, claims->sub, r->pool);
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return pv_login_db_failure(r, rv, err);
    }
    return pv_auth_check_user(r, claims, rv == APR_SUCCESS ? img : NULL);
}

/* Every token of the user revoked: 204, the cookie cleared. DONE. */
static int revoke_tokens(request_rec *r, const pv_srv_conf *c, pv_db_pool_t *db,
                         const pv_token_claims_t *claims)
{
    apr_uint64_t user = claims->sub;
    apr_uint64_t affected = 0;
    const char *err = NULL;
    apr_status_t rv;

    rv = pv_db_logout(&affected, &err, db, user, r->pool);
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv != APR_SUCCESS) {
        return pv_login_db_failure(r, rv, err);
    }
    /* Before the 204, on every node sharing the cache: the user's kept
     * answers are never found again, and a replica behind the primary
     * cannot bring the old token_version back (the token's ver is the
     * current one: logout_claims checked it). */
    pv_owner_logout(r, c, user, claims->ver + 1);
    apr_table_setn(r->notes, PV_NOTE_USER,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, user));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  PVLOGNO(0740) "logout: every token of user %" APR_UINT64_T_FMT
                                " revoked (%" APR_UINT64_T_FMT " row)",
                  user, affected);
    /* Clear the cookie too: the browser need not keep a dead token. */
    pv_login_set_cookie(r, c, "", 0);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    r->status = HTTP_NO_CONTENT;
    return DONE;
}

static int logout(request_rec *r, const pv_srv_conf *c)
{
    pv_token_claims_t claims;
    pv_db_pool_t *db = NULL;
    int rc;

    if ((rc = pv_cors_handle(r, c, "POST")) != OK) {
        return rc;
    }
    ap_discard_request_body(r);
    if (r->method_number != M_POST) {
        return pv_http_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method not allowed", "POST", 0);
    }
    if ((rc = pv_login_server_db(&db, r, c)) != OK ||
        (rc = logout_claims(&claims, r, db)) != OK) {
        return rc;
    }
    return revoke_tokens(r, c, db, &claims);
}

int pv_logout_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, PV_HANDLER_LOGOUT)) {
        return DECLINED;
    }
    return pv_http_handler_return(logout(r, pv_srv_conf_get(r->server)));
}
