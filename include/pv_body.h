/* The body of a POST (preview-login, preview-sign) parsed strictly and
 * without httpd: the pairs of a form, one strict JSON object, text that
 * must be valid UTF-8, and the login's username and password. Pure
 * functions: no I/O, no log; every scan is bounded by the body's length,
 * which the glue bounds. */
#ifndef PV_BODY_H
#define PV_BODY_H

#include <apr_pools.h>
#include <jansson.h>

/* One name=value pair of an application/x-www-form-urlencoded body, as
 * sent (still %-escaped; pv_request_unescape decodes). A pair without '='
 * has an empty value. Not NUL-terminated. */
typedef struct pv_body_pair_t {
    const char *name;
    apr_size_t name_len;
    const char *value;
    apr_size_t value_len;
} pv_body_pair_t;

/* The next pair of a form body from *ppos up to end: pairs are separated
 * by '&' only, empty ones ("a=1&&b=2", a trailing '&') skipped. 1: *pair
 * set and *ppos past it; 0: no pair left. */
int pv_body_form_next(pv_body_pair_t *pair, const char **ppos, const char *end);

/* One JSON object, strict: duplicate keys refused (and, by jansson's
 * default, "\u0000" in strings). APR_SUCCESS: *pout, a new reference (the
 * caller json_decref()s it). APR_EINVAL: *perr "malformed JSON body" (not
 * JSON, or not an object). */
apr_status_t pv_body_json_object(json_t **pout, const char **perr,
                                 const char *body, apr_size_t len);

/* 1 when s[0..len-1] is text: no NUL, strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence). */
int pv_body_text_valid(const char *s, apr_size_t len);

/* A login's username and password, decoded; NUL-terminated copies. */
typedef struct pv_body_login_t {
    const char *user;
    apr_size_t user_len;
    const char *pass;
    apr_size_t pass_len;
} pv_body_login_t;

/* Parse a login body: json 0, a form (names and values %-decoded strictly,
 * '+' a space; username and password each exactly once, other names
 * ignored unread); json 1, one strict JSON object with username and
 * password strings (other members ignored). Then both must be non-empty
 * text (pv_body_text_valid), the username at most PV_DB_USERNAME_MAX
 * bytes (the column). APR_EINVAL with *perr, the 400 message: "malformed
 * form body", "malformed JSON body", "duplicate field: username",
 * "missing field: password", "field must be a string: username", "empty
 * field: username", "field too long: username", "field is not valid text:
 * password", ...; *pout untouched. */
apr_status_t pv_body_login_parse(pv_body_login_t **pout, const char **perr,
                                 const char *body, apr_size_t len, int json,
                                 apr_pool_t *p);

#endif /* PV_BODY_H */
