/* A request's authentication: where its token is looked for, what a
 * refusal looks like, and the token against its user's row. The checks of
 * the token itself are the core's (pv_token_verify). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_preview_auth.h"
#include "mod_preview_config.h"
#include "mod_preview_http.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "pv_log.h"

APLOG_USE_MODULE(preview);

const char *pv_auth_source_str(pv_auth_source_e src)
{
    switch (src) {
        case PV_AUTH_SRC_BEARER:
            return "Authorization header";
        case PV_AUTH_SRC_QUERY_TOKEN:
            return "query token";
        case PV_AUTH_SRC_QUERY_ACCESS_TOKEN:
            return "query access_token";
        case PV_AUTH_SRC_COOKIE:
            return "cookie";
        case PV_AUTH_SRC_NONE:
            break;
    }
    return "none";
}

apr_status_t pv_auth_find(const char **ptok, apr_size_t *plen,
                          pv_auth_source_e *psrc, request_rec *r,
                          const pv_request_query_t *q)
{
    const pv_srv_conf *c = pv_srv_conf_get(r->server);
    pv_request_query_t *parsed = NULL;
    const char *perr = NULL, *args;
    const char *tok;
    apr_size_t len;
    apr_status_t rv;

    /* RFC 6750 order: the header is the client's deliberate choice. */
    rv = pv_request_bearer(
        &tok, &len, apr_table_get(r->headers_in, "Authorization"), r->pool);
    if (rv == APR_SUCCESS) {
        *ptok = tok;
        *plen = len;
        *psrc = PV_AUTH_SRC_BEARER;
        return APR_SUCCESS;
    }
    if (rv != APR_NOTFOUND) {
        *psrc = PV_AUTH_SRC_BEARER;
        return APR_EINVAL;
    }
    /* The query as sent (or as a rewrite left it): every other module
     * sees REDACTED, this one the values the client sent. */
    args = pv_redact_handler_args(r);
    if (!q && args &&
        pv_request_parse_query(&parsed, &perr, args, r->pool) == APR_SUCCESS) {
        q = parsed;
    }
    if (q && q->token) {
        *ptok = q->token;
        *plen = q->token_len;
        *psrc = PV_AUTH_SRC_QUERY_TOKEN;
        return APR_SUCCESS;
    }
    if (q && q->access_token) {
        *ptok = q->access_token;
        *plen = q->access_token_len;
        *psrc = PV_AUTH_SRC_QUERY_ACCESS_TOKEN;
        return APR_SUCCESS;
    }
    if (pv_request_cookie(&tok, &len, apr_table_get(r->headers_in, "Cookie"),
                          c->cookie_name, r->pool) == APR_SUCCESS) {
        *ptok = tok;
        *plen = len;
        *psrc = PV_AUTH_SRC_COOKIE;
        return APR_SUCCESS;
    }
    *psrc = PV_AUTH_SRC_NONE;
    return APR_NOTFOUND;
}

void pv_auth_log_refused(request_rec *r, const char *reason, const char *detail,
                         pv_auth_source_e src)
{
    /* WARN, the client's address and a fixed word first: a line fail2ban
     * (conf/fail2ban) and an administrator at the default LogLevel act
     * on. Never the token. */
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  PVLOGNO(1601) "token refused from %s: %s (%s)%s%s",
                  r->useragent_ip, reason, detail ? detail : reason,
                  src == PV_AUTH_SRC_NONE ? "" : ", source: ",
                  src == PV_AUTH_SRC_NONE ? "" : pv_auth_source_str(src));
}

int pv_auth_refuse(request_rec *r, const char *reason, const char *detail,
                   pv_auth_source_e src)
{
    pv_auth_log_refused(r, reason, detail, src);
    return pv_http_error(r, HTTP_UNAUTHORIZED, "invalid_token",
                         "missing, invalid, expired or revoked token", NULL, 0);
}

static int from_query(pv_auth_source_e src)
{
    return src == PV_AUTH_SRC_QUERY_TOKEN ||
           src == PV_AUTH_SRC_QUERY_ACCESS_TOKEN;
}

/* Find and verify; *psrc: where the token came from. OK or DONE. */
static int authenticate(pv_token_claims_t *claims, pv_auth_source_e *psrc,
                        request_rec *r, const pv_request_query_t *q)
{
    pv_token_verifier_t *verifier = pv_server_get(r->server)->verifier;
    pv_auth_source_e src = PV_AUTH_SRC_NONE;
    pv_token_result_e res;
    const char *tok = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    rv = pv_auth_find(&tok, &len, &src, r, q);
    *psrc = src;
    if (rv == APR_NOTFOUND) {
        pv_metrics_token_refused(PV_METRICS_OF(r), PV_METRICS_TOKEN_MISSING);
        return pv_auth_refuse(r, "no_token", "no token in the request", src);
    }
    if (rv != APR_SUCCESS) {
        pv_metrics_token_refused(PV_METRICS_OF(r), PV_METRICS_TOKEN_MALFORMED);
        return pv_auth_refuse(r, "malformed", "malformed Bearer header", src);
    }
    if (!verifier) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0711) "no PreviewKeyFile for this server: "
                                    "tokens cannot be verified");
        return pv_http_server_error(r);
    }
    res =
        pv_token_memo_verify(claims, pv_server_get(r->server)->token_memo,
                             verifier, tok, len, apr_time_sec(r->request_time));
    if (res != PV_TOKEN_OK) {
        pv_metrics_token_refused(PV_METRICS_OF(r),
                                 pv_metrics_token_reason(res));
        return pv_auth_refuse(r, pv_token_result_word(res),
                              pv_token_result_str(res), src);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(0712) "token of user %" APR_UINT64_T_FMT
                                " accepted (%s, kid %s), source: %s",
                  claims->sub, claims->legacy ? "legacy" : "JWS",
                  claims->kid ? claims->kid : "-", pv_auth_source_str(src));
    /* PreviewQueryTokens scoped: the query carries URL tokens only, so a
     * leaked URL never holds a login token. */
    if (!claims->img && from_query(src) &&
        pv_dir_conf_get(r)->query_tokens == PV_QUERY_TOKENS_SCOPED) {
        pv_metrics_token_refused(PV_METRICS_OF(r),
                                 PV_METRICS_TOKEN_QUERY_REFUSED);
        return pv_auth_refuse(r, "query_token",
                              "a login token in the query string, "
                              "PreviewQueryTokens scoped",
                              src);
    }
    return OK;
}

int pv_auth_request(pv_token_claims_t *claims, request_rec *r,
                    const pv_request_query_t *q)
{
    pv_auth_source_e src;

    return authenticate(claims, &src, r, q);
}

int pv_auth_account(pv_token_claims_t *claims, request_rec *r, int query_ok)
{
    pv_auth_source_e src;
    int rc = authenticate(claims, &src, r, NULL);

    if (rc != OK) {
        return rc;
    }
    if (!query_ok && from_query(src)) {
        pv_metrics_token_refused(PV_METRICS_OF(r),
                                 PV_METRICS_TOKEN_QUERY_REFUSED);
        return pv_auth_refuse(r, "query_token",
                              "a token in the query string is not taken here",
                              src);
    }
    /* A URL token opens one image; it never logs out or signs. */
    if (claims->img) {
        pv_metrics_token_refused(PV_METRICS_OF(r), PV_METRICS_TOKEN_URL_TOKEN);
        return pv_auth_refuse(
            r, "url_token",
            apr_psprintf(r->pool,
                         "a URL token (image %" APR_UINT64_T_FMT
                         ") where a login token is needed",
                         claims->img),
            src);
    }
    return OK;
}

int pv_auth_check_user(request_rec *r, const pv_token_claims_t *claims,
                       const pv_db_image_t *row)
{
    apr_uint32_t token_version = row ? row->token_version : 0;
    const char *why = NULL, *reason = "revoked";

    if (!row) {
        reason = "unknown_user";
        why = apr_psprintf(r->pool, "user %" APR_UINT64_T_FMT " does not exist",
                           claims->sub);
    }
    else if (claims->has_ver && claims->ver != token_version) {
        why = apr_psprintf(r->pool,
                           "revoked: user %" APR_UINT64_T_FMT
                           " is at token_version %u, the token has %u",
                           claims->sub, (unsigned)token_version,
                           (unsigned)claims->ver);
    }
    /* Legacy tokens carry no ver and all predate any logout: the first
     * logout (token_version above 0) ends every one of them. */
    else if (claims->legacy && token_version != 0) {
        why = apr_psprintf(r->pool,
                           "revoked: legacy token of user %" APR_UINT64_T_FMT
                           ", who logged out since (token_version %u)",
                           claims->sub, (unsigned)token_version);
    }
    if (why) {
        pv_metrics_token_refused(PV_METRICS_OF(r),
                                 row ? PV_METRICS_TOKEN_REVOKED
                                     : PV_METRICS_TOKEN_UNKNOWN_USER);
        return pv_auth_refuse(r, reason, why, PV_AUTH_SRC_NONE);
    }
    return OK;
}
