/* preview-login: a password (or an upstream auth module's r->user) -> a
 * token, as JSON and as the login cookie. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_ssl.h"

#include <jansson.h>

#include "mod_preview.h"
#include "mod_preview_auth.h"
#include "mod_preview_config.h"
#include "mod_preview_cors.h"
#include "mod_preview_db.h"
#include "mod_preview_http.h"
#include "mod_preview_limit.h"
#include "mod_preview_socache.h"
#include "mod_preview_login.h"
#include "mod_preview_redact.h"
#include "mod_preview_server.h"
#include "pv_body.h"
#include "pv_db.h"
#include "pv_log.h"
#include "pv_origin.h"
#include "pv_password.h"
#include "pv_slots.h"
#include "pv_token.h"

APLOG_USE_MODULE(preview);

static APR_OPTIONAL_FN_TYPE(ssl_is_https) * login_is_https;

void pv_login_optional_fn_retrieve(void)
{
    login_is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

/* ------------------------------------------------------------ responses */

static int send_bad_request(request_rec *r, const char *message)
{
    return pv_http_error(r, HTTP_BAD_REQUEST, "bad_request", message, NULL, 0);
}

int pv_login_db_failure(request_rec *r, apr_status_t rv, const char *err)
{
    return pv_http_db_failure(r, rv, err, PVLOGNO(0720), PVLOGNO(0721));
}

/* One body for an unknown user and a wrong password: nothing to tell
 * which it was. */
static int send_login_failed(request_rec *r)
{
    return pv_http_error(r, HTTP_UNAUTHORIZED, "invalid_credentials",
                         "unknown user or wrong password", NULL, 0);
}

static int request_is_https(request_rec *r)
{
    const char *scheme = ap_http_scheme(r);

    if (scheme && !strcasecmp(scheme, "https")) {
        return 1;
    }
    return login_is_https && login_is_https(r->connection);
}

void pv_login_set_cookie(request_rec *r, const pv_srv_conf *c,
                         const char *value, apr_int64_t max_age)
{
    apr_table_addn(r->headers_out, "Set-Cookie",
                   apr_psprintf(r->pool,
                                "%s=%s; Path=/; Max-Age=%" APR_INT64_T_FMT
                                "; HttpOnly; SameSite=Lax%s",
                                c->cookie_name, value, max_age,
                                request_is_https(r) ? "; Secure" : ""));
}

static const char *login_allow(const pv_srv_conf *c)
{
    return c->login_from_remote_user ? "GET, POST" : "POST";
}

/* --------------------------------------------------------------- login */

static int issue_token(request_rec *r, const pv_srv_conf *c,
                       const pv_db_user_t *u)
{
    const char *token;
    json_t *obj;
    apr_status_t rv;

    rv = pv_token_mint(&token, c->ring, PV_ALG_HS256, u->id, u->token_version,
                       apr_time_sec(r->request_time), c->token_ttl, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      PVLOGNO(0722) "cannot mint a token for user "
                                    "%" APR_UINT64_T_FMT,
                      u->id);
        return pv_http_server_error(r);
    }
    /* user_id as a string, like the token's sub: a u64 does not fit a
     * JavaScript number. */
    obj = json_pack("{s:s, s:s, s:I, s:s}", "token", token, "token_type",
                    "Bearer", "expires_in", (json_int_t)c->token_ttl, "user_id",
                    apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, u->id));
    if (!obj) {
        return pv_http_server_error(r);
    }
    apr_table_setn(r->notes, PV_NOTE_USER,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, u->id));
    pv_login_set_cookie(r, c, token, c->token_ttl);
    pv_metrics_login(PV_METRICS_OF(r), PV_METRICS_LOGIN_OK);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  PVLOGNO(0723) "login: token issued to user %" APR_UINT64_T_FMT
                                " (ver %u, ttl %" APR_INT64_T_FMT " s)",
                  u->id, (unsigned)u->token_version, c->token_ttl);
    return pv_http_json(r, obj);
}

/* One line a failed login, at WARN with the client's address and a fixed
 * word first (bad_password, unknown_user, no_hash, bad_hash, too_long,
 * limited, account_limited): what fail2ban (conf/fail2ban) and an
 * administrator at the default LogLevel act on. The username is not
 * logged (people type passwords into it), the password never. */
static void log_login_failed(request_rec *r, const char *reason,
                             const char *detail)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  PVLOGNO(1600) "login failed from %s: %s (%s)",
                  r->useragent_ip, reason, detail);
}

static int login_failed(request_rec *r, const char *reason, const char *detail)
{
    /* The attempt was counted against the limits before it was made. */
    log_login_failed(r, reason, detail);
    return send_login_failed(r);
}

static int send_too_many(request_rec *r, apr_int64_t wait, const char *what)
{
    if (wait == PV_LIMIT_DOWN) {
        /* Fail closed: no guess goes unmetered while the counts cannot
         * be read (logged once by the shared cache). */
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                             "the login limiter is unreachable; retry later",
                             NULL, PV_SOCACHE_RETRY_SECONDS);
    }
    /* account_limited: the client may be the victim of a guesser of its
     * account's password, so a filter can tell it from limited. */
    pv_metrics_login(PV_METRICS_OF(r), PV_METRICS_LOGIN_LIMITED);
    log_login_failed(r, strcmp(what, "account") ? "limited" : "account_limited",
                     apr_psprintf(r->pool,
                                  "%s over PreviewLoginLimit, retry in "
                                  "%" APR_INT64_T_FMT " s",
                                  what, wait));
    return pv_http_error(r, HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                         "too many failed logins; retry later", NULL, wait);
}

/* A password check (or the dummy of an unknown user) holds a slot: scrypt
 * takes 32 MiB and every hash a core, so a flood of logins must queue
 * rather than take the process's memory. OK: *pslots holds one; DONE: none
 * came in time, the answer has been sent. */
static int take_login_slot(pv_slots_t **pslots, request_rec *r,
                           const pv_srv_conf *c)
{
    pv_slots_t *slots = pv_server_get(r->server)->login_slots;

    if (!slots) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(1151) "no login slots in this process");
        return pv_http_server_error(r);
    }
    if (pv_slots_acquire(slots, apr_time_from_sec(c->login_wait), r->pool) !=
        APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(1152) "login from %s: no password check slot "
                                    "free within %d s (PreviewMaxLogins %d)",
                      r->useragent_ip, (int)c->login_wait, (int)c->max_logins);
        return pv_http_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                             "too many logins in progress; retry later", NULL,
                             PV_LOGIN_RETRY_AFTER);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  PVLOGNO(1153) "password check: %d of %d login slots in use",
                  pv_slots_in_use(slots), (int)c->max_logins);
    *pslots = slots;
    return OK;
}

/* The user of the name (*pu NULL: none) and, when a limit applies, the
 * account's key (the name as the database folds it: the limiter's only
 * use of it). OK, or DONE with the 503/500 sent. */
static int find_user(pv_db_user_t **pu, const char **paccount, request_rec *r,
                     pv_db_pool_t *db, const pv_body_login_t *f, int limited)
{
    const char *err = NULL;
    apr_status_t rv = APR_SUCCESS;

    *pu = NULL;
    *paccount = NULL;
    if (limited) {
        rv = pv_db_login_key(paccount, &err, db, f->user, f->user_len, r->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = pv_db_login_lookup(pu, &err, db, f->user, f->user_len, r->pool);
    }
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return pv_login_db_failure(r, rv, err);
    }
    if (rv != APR_SUCCESS) {
        *pu = NULL;
    }
    return OK;
}

/* One attempt taken on the account's count, then on the client's. The
 * account's by the database's own folding of the name, found user or not:
 * every spelling the collation matches ("ALICE", "alice ", "álice") shares
 * one count, and the answers are the same whether the account exists. The
 * client's checked and counted at once, so that of a burst from one client
 * only the limit gets through. OK, or DONE with the 429 sent; what was
 * taken is in the holds either way. */
static int take_attempts(pv_limit_hold_t *who_hold, pv_limit_hold_t *ip_hold,
                         request_rec *r, const pv_srv_conf *c,
                         const char *account)
{
    int failures = (int)c->login_limit_failures;
    int window = (int)c->login_limit_seconds;
    apr_int64_t wait;

    wait = pv_limit_take(who_hold, r, PV_LIMIT_ACCOUNT, account,
                         account ? strlen(account) : 0, failures, window);
    if (wait != 0) {
        return send_too_many(r, wait, "account");
    }
    wait = pv_limit_take(ip_hold, r, PV_LIMIT_IP, r->useragent_ip,
                         strlen(r->useragent_ip), failures, window);
    if (wait != 0) {
        return send_too_many(r, wait, "client");
    }
    return OK;
}

/* The password against the user's hash, or the dummy of the same cost when
 * there is none. NULL when it matches, else the reason word (and in
 * *pdetail the why, for the log). */
static const char *check_password(const char **pdetail, request_rec *r,
                                  pv_db_pool_t *db, const pv_db_user_t *u,
                                  const pv_body_login_t *f)
{
    apr_status_t rv;
    int match = 0;

    if (!u || !u->password_hash) {
        /* The same cost as a wrong password, from the first login after a
         * start on: the profile is the database's, shared and kept. */
        pv_password_check_dummy(pv_dbpool_profile(r, db, 1), f->pass,
                                f->pass_len, NULL, r->pool);
        if (!u) {
            *pdetail = "no such user";
            return "unknown_user";
        }
        *pdetail = apr_psprintf(r->pool,
                                "user %" APR_UINT64_T_FMT " has no password "
                                "hash",
                                u->id);
        return "no_hash";
    }
    rv = pv_password_check(&match, pv_dbpool_profile(r, db, 0), f->pass,
                           f->pass_len, u->password_hash, r->pool);
    if (rv == PV_PASSWORD_ETOOLONG) {
        *pdetail = pv_password_strerror(rv);
        return "too_long";
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      PVLOGNO(0726) "user %" APR_UINT64_T_FMT
                                    ": password hash (%s) unusable: %s",
                      u->id, pv_password_kind(u->password_hash),
                      pv_password_strerror(rv));
        *pdetail = apr_psprintf(r->pool, "user %" APR_UINT64_T_FMT ": %s (%s)",
                                u->id, pv_password_strerror(rv),
                                pv_password_kind(u->password_hash));
        return "bad_hash";
    }
    if (!match) {
        *pdetail = apr_psprintf(
            r->pool, "wrong password for user %" APR_UINT64_T_FMT, u->id);
        return "bad_password";
    }
    return NULL;
}

static int login_with_password(request_rec *r, const pv_srv_conf *c,
                               pv_db_pool_t *db, const pv_body_login_t *f)
{
    int failures = (int)c->login_limit_failures;
    pv_limit_hold_t ip_hold, who_hold;
    pv_db_user_t *u = NULL;
    pv_slots_t *slots = NULL;
    const char *account = NULL, *why, *detail = NULL;
    apr_int64_t wait;
    int rc;

    /* The client first, before the database: a guesser over the limit
     * costs neither a round trip nor a hash. Only a look, so that a
     * request refused below stores nothing: every count in the cache then
     * cost its maker a password check, and flooding the cache to push a
     * count out costs as many. */
    wait =
        pv_limit_peek(r, PV_LIMIT_IP, r->useragent_ip, strlen(r->useragent_ip),
                      failures, (int)c->login_limit_seconds);
    if (wait != 0) {
        return send_too_many(r, wait, "client");
    }
    if ((rc = find_user(&u, &account, r, db, f, failures > 0)) != OK) {
        return rc;
    }
    memset(&who_hold, 0, sizeof(who_hold));
    memset(&ip_hold, 0, sizeof(ip_hold));
    if ((rc = take_attempts(&who_hold, &ip_hold, r, c, account)) == OK &&
        (rc = take_login_slot(&slots, r, c)) == OK) {
        why = check_password(&detail, r, db, u, f);
        pv_slots_release(slots, r->pool);
        if (why) {
            pv_metrics_login(PV_METRICS_OF(r),
                             u ? PV_METRICS_LOGIN_BAD_PASSWORD
                               : PV_METRICS_LOGIN_UNKNOWN_USER);
            /* A failed guess: both attempts stay counted. */
            return login_failed(r, why, detail);
        }
        /* A success clears the account's failures. */
        pv_limit_forget(r, &who_hold);
        rc = issue_token(r, c, u);
    }
    /* Refused before the check (429, 503), or a success: no failed guess,
     * so what was taken is given back (a forgotten hold is no longer
     * held). */
    pv_limit_give_back(r, &who_hold);
    pv_limit_give_back(r, &ip_hold);
    return rc;
}

/* PreviewLoginFromRemoteUser On: another module authenticated r->user. */
static int login_remote_user(request_rec *r, const pv_srv_conf *c,
                             pv_db_pool_t *db)
{
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (!r->user || !*r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(0727) "login by remote user: no authenticated "
                                    "user (configure an auth module with "
                                    "Require valid-user here)");
        return send_login_failed(r);
    }
    rv = pv_db_login_lookup(&u, &err, db, r->user, strlen(r->user), r->pool);
    pv_metrics_db(PV_METRICS_OF(r), rv);
    if (rv == APR_NOTFOUND) {
        pv_metrics_login(PV_METRICS_OF(r), PV_METRICS_LOGIN_UNKNOWN_USER);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      PVLOGNO(0728) "login by remote user: '%s' is not in "
                                    "the database",
                      ap_escape_logitem(r->pool, r->user));
        return send_login_failed(r);
    }
    if (rv != APR_SUCCESS) {
        return pv_login_db_failure(r, rv, err);
    }
    return issue_token(r, c, u);
}

int pv_login_server_db(pv_db_pool_t **pdb, request_rec *r, const pv_srv_conf *c)
{
    pv_db_pool_t *db = pv_server_get(r->server)->db;

    if (!c->ring || !db) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      PVLOGNO(0729) "%s needs PreviewKeyFile and "
                                    "PreviewDBParams in this server",
                      r->handler);
        return pv_http_server_error(r);
    }
    *pdb = db;
    return OK;
}

/* Login CSRF: a page of another site must not log its visitor in (to an
 * account of the page's choosing). Browsers say where a POST comes from;
 * a client that sends neither header is no browser on another site. The
 * request's own origin is built the way httpd builds its own URLs
 * (UseCanonicalName, the port, https by mod_ssl or "ServerName https://").
 * OK, or DONE with the 403 sent, before the body is read, the limiter
 * consulted or a password hashed. */
static int check_login_origin(request_rec *r, const pv_srv_conf *c)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *self = NULL;
    const apr_array_header_t *list = c->login_origins;

    if (pv_origin_make(&self, request_is_https(r) ? "https" : "http",
                       ap_get_server_name_for_url(r), ap_get_server_port(r),
                       r->pool) != APR_SUCCESS) {
        self = NULL;
    }
    if (pv_origin_check(origin, site, self,
                        list ? (const char *const *)list->elts : NULL,
                        list ? list->nelts : 0, r->pool) != PV_ORIGIN_CROSS ||
        pv_cors_listed(r, c)) {
        /* An origin trusted with CORS may log in as a listed one may. */
        return OK;
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_WARNING, 0, r,
        PVLOGNO(0739) "login refused from %s: Origin %s, Sec-Fetch-Site %s: "
                      "another site than %s (allow it with "
                      "PreviewLoginOrigins)",
        r->useragent_ip,
        origin ? ap_escape_logitem(r->pool,
                                   apr_pstrndup(r->pool, origin, PV_ORIGIN_MAX))
               : "absent",
        site ? ap_escape_logitem(r->pool, apr_pstrndup(r->pool, site, 64))
             : "absent",
        self ? self : "(none)");
    /* The body is not read: drop the connection after the answer. */
    r->connection->keepalive = AP_CONN_CLOSE;
    return pv_http_error(r, HTTP_FORBIDDEN, "cross_origin",
                         "a login from another site is refused", NULL, 0);
}

/* The form or JSON body's username and password. OK: *pf; DONE: the
 * answer (415, 413, 400) has been sent. */
static int read_login_fields(pv_body_login_t **pf, request_rec *r)
{
    const char *body = NULL, *msg = NULL;
    apr_size_t len = 0;
    int json = 0, rc;

    rc = pv_http_read_form_or_json(&body, &len, &json, r, PV_LOGIN_BODY_MAX,
                                   "the login body");
    if (rc != OK) {
        return rc;
    }
    if (pv_body_login_parse(pf, &msg, body, len, json, r->pool) !=
        APR_SUCCESS) {
        return send_bad_request(r, msg);
    }
    return OK;
}

static int login(request_rec *r, const pv_srv_conf *c)
{
    pv_body_login_t *f = NULL;
    pv_db_pool_t *db = NULL;
    int rc;

    if ((rc = pv_cors_handle(r, c, login_allow(c))) != OK) {
        return rc;
    }
    if (r->method_number == M_GET && !r->header_only &&
        c->login_from_remote_user) {
        ap_discard_request_body(r);
        if ((rc = pv_login_server_db(&db, r, c)) != OK) {
            return rc;
        }
        return login_remote_user(r, c, db);
    }
    if (r->method_number != M_POST) {
        ap_discard_request_body(r);
        return pv_http_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method not allowed", login_allow(c), 0);
    }
    if ((rc = check_login_origin(r, c)) != OK ||
        (rc = read_login_fields(&f, r)) != OK ||
        (rc = pv_login_server_db(&db, r, c)) != OK) {
        return rc;
    }
    return login_with_password(r, c, db, f);
}

int pv_login_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, PV_HANDLER_LOGIN)) {
        return DECLINED;
    }
    /* A login reads no token from the URL: hide any from error lines. */
    pv_redact_request(r);
    return pv_http_handler_return(login(r, pv_srv_conf_get(r->server)));
}
