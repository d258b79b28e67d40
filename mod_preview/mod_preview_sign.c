/* preview-sign: POST ids (and preview parameters) with a login token from
 * the Authorization header or the cookie; answers a preview URL per image
 * of the user's, each with a URL token for that image alone.
 *
 * In order: method (405), the login token (401: a URL token, one from the
 * query, a bad one), the body (415, 413, 400), one database round trip
 * for the user's token_version and which ids are theirs (503, 401), then
 * the tokens: the same within a window of half their lifetime (see
 * pv_token_url_times), so that a gallery's URLs stay the same and client
 * caches keep them. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <jansson.h>

#include "mod_preview.h"
#include "mod_preview_auth.h"
#include "mod_preview_config.h"
#include "mod_preview_cors.h"
#include "mod_preview_db.h"
#include "mod_preview_http.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "mod_preview_sign.h"
#include "pv_db.h"
#include "pv_log.h"
#include "pv_sign.h"
#include "pv_token.h"

APLOG_USE_MODULE(preview);

/* A failed batch lookup: 503 while MariaDB is unreachable, else 500. */
static int send_db_failure(request_rec *r, apr_status_t rv, const char *err)
{
    return pv_http_db_failure(r, rv, err, PVLOGNO(1342), PVLOGNO(1343));
}

static int is_owned(const pv_db_owned_t *owned, apr_uint64_t id)
{
    int i;

    for (i = 0; i < owned->nids; i++) {
        if (owned->ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

/* 200 {"expires_in": N, "urls": {"<id>": "<location>/<id>?token=...", ...}}
 * for the user's images among those asked, in the order asked. */
static int send_urls(request_rec *r, const pv_srv_conf *c,
                     const pv_token_claims_t *claims,
                     const pv_sign_request_t *req, const pv_db_owned_t *owned)
{
    const char *loc = pv_dir_conf_get(r)->sign_location;
    const char *query = pv_sign_query(req->query, r->pool), *tok;
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_int64_t ttl = c->url_token_ttl;
    pv_token_mint_t m;
    json_t *urls;
    int i, n = 0;

    /* A longer ttl than the server's is lowered to it, not refused. */
    if (req->ttl && req->ttl < ttl) {
        ttl = req->ttl;
    }
    memset(&m, 0, sizeof(m));
    m.sub = claims->sub;
    m.ver = owned->token_version;
    if (pv_token_url_times(&m.iat, &m.exp, now, ttl, claims->exp) !=
        APR_SUCCESS) {
        /* accepted within PreviewClockSkew, but nothing left to hand on */
        return pv_auth_refuse(r, "expired", "the login token expires now",
                              PV_AUTH_SRC_NONE);
    }
    urls = json_object();
    if (!urls) {
        return pv_http_server_error(r);
    }
    for (i = 0; i < req->nids; i++) {
        const char *id;

        if (!is_owned(owned, req->ids[i])) {
            continue;
        }
        m.img = req->ids[i];
        if (pv_token_mint_claims(&tok, c->ring, PV_ALG_HS256, &m, r->pool) !=
            APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          PVLOGNO(1344) "cannot mint a URL token for user "
                                        "%" APR_UINT64_T_FMT,
                          claims->sub);
            json_decref(urls);
            return pv_http_server_error(r);
        }
        id = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, m.img);
        json_object_set_new(
            urls, id,
            json_string(apr_pstrcat(r->pool, loc, "/", id, "?token=", tok,
                                    *query ? "&" : "", query, NULL)));
        n++;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  PVLOGNO(1341) "sign: %d URL token(s) for user "
                                "%" APR_UINT64_T_FMT " (%d id(s) asked), "
                                "exp %" APR_INT64_T_FMT,
                  n, claims->sub, req->nids, m.exp);
    return pv_http_json(r, json_pack("{s:I, s:o}", "expires_in",
                                     (json_int_t)(m.exp - now), "urls", urls));
}

/* The server's keys and database. OK, or DONE with the 500 sent. */
static int check_server(request_rec *r, const pv_srv_conf *c,
                        const pv_db_pool_t *db)
{
    if (c->ring && db) {
        return OK;
    }
    pv_redact_request(r);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  PVLOGNO(1345) "preview-sign needs PreviewKeyFile and "
                                "PreviewDBParams in this server");
    return pv_http_server_error(r);
}

/* The login token, never from the query (that is a URL of its own), then
 * the body. OK: *claims and the body; DONE: the answer has been sent. */
static int read_request(pv_token_claims_t *claims, const char **pbody,
                        apr_size_t *plen, int *pjson, request_rec *r)
{
    int rc = pv_auth_account(claims, r, 0);

    /* Read: no error line from here on can show the token. */
    pv_redact_request(r);
    if (rc != OK) {
        return rc;
    }
    return pv_http_read_form_or_json(pbody, plen, pjson, r, PV_SIGN_BODY_MAX,
                                     "the sign body");
}

/* One round trip: revocation and the ownership of the whole batch. OK:
 * *powned, the user's images among those asked; DONE: the answer (503,
 * 500, 401) has been sent. */
static int owned_images(pv_db_owned_t **powned, request_rec *r,
                        pv_db_pool_t *db, const pv_token_claims_t *claims,
                        const pv_sign_request_t *req)
{
    const char *err = NULL;
    pv_db_image_t row;
    apr_status_t rv;

    rv = pv_db_owned_images(powned, &err, db, req->ids, req->nids, claims->sub,
                            r->pool);
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return send_db_failure(r, rv, err);
    }
    memset(&row, 0, sizeof(row));
    if (rv == APR_SUCCESS) {
        row.token_version = (*powned)->token_version;
    }
    return pv_auth_check_user(r, claims, rv == APR_SUCCESS ? &row : NULL);
}

static int sign(request_rec *r, const pv_srv_conf *c)
{
    pv_token_claims_t claims;
    pv_sign_request_t *req = NULL;
    pv_db_owned_t *owned = NULL;
    const char *body = NULL, *msg = NULL;
    apr_size_t len = 0;
    pv_db_pool_t *db;
    int rc, json = 0, keepalive;

    if ((rc = pv_cors_handle(r, c, "POST")) != OK) {
        pv_redact_request(r);
        return rc;
    }
    if (r->method_number != M_POST) {
        ap_discard_request_body(r);
        pv_redact_request(r);
        return pv_http_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method not allowed", "POST", 0);
    }
    /* The answers before the body is read drop the connection after
     * them: the body is not read. */
    keepalive = r->connection->keepalive;
    r->connection->keepalive = AP_CONN_CLOSE;
    db = pv_server_get(r->server)->db;
    if ((rc = check_server(r, c, db)) != OK ||
        (rc = read_request(&claims, &body, &len, &json, r)) != OK) {
        return rc;
    }
    r->connection->keepalive = keepalive;
    if (pv_sign_parse(&req, &msg, body, len, json, r->pool) != APR_SUCCESS) {
        return pv_http_error(r, HTTP_BAD_REQUEST, "bad_request", msg, NULL, 0);
    }
    if ((rc = owned_images(&owned, r, db, &claims, req)) != OK) {
        return rc;
    }
    apr_table_setn(r->notes, PV_NOTE_USER,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, claims.sub));
    return send_urls(r, c, &claims, req, owned);
}

int pv_sign_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, PV_HANDLER_SIGN)) {
        return DECLINED;
    }
    return pv_http_handler_return(sign(r, pv_srv_conf_get(r->server)));
}
