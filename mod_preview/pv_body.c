/* A POST body's form pairs, strict JSON object and text check, and the
 * login's username and password read from either format. */
#include <string.h>

#include <apr_strings.h>

#include "pv_body.h"
#include "pv_db.h"
#include "pv_query.h"
#include "pv_request.h"

int pv_body_form_next(pv_body_pair_t *pair, const char **ppos, const char *end)
{
    pv_query_pair_t q;

    while (pv_query_next(&q, ppos, end)) {
        if (q.len > 0) {
            pair->name = q.name;
            pair->name_len = q.name_len;
            pair->value = q.value;
            pair->value_len = q.value_len;
            return 1;
        }
    }
    return 0;
}

apr_status_t pv_body_json_object(json_t **pout, const char **perr,
                                 const char *body, apr_size_t len)
{
    json_error_t jerr;
    json_t *root;

    /* jansson refuses \u0000 in strings unless asked (JSON_ALLOW_NUL). */
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        *perr = "malformed JSON body";
        return APR_EINVAL;
    }
    *pout = root;
    return APR_SUCCESS;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
static int utf8_valid(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        apr_size_t n, k;
        apr_uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        }
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

int pv_body_text_valid(const char *s, apr_size_t len)
{
    return !memchr(s, '\0', len) && utf8_valid((const unsigned char *)s, len);
}

static int is_name(const char *s, apr_size_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* A form: username and password each exactly once, other names ignored
 * (their values not even decoded). NULL or the 400 message. */
static const char *login_form(pv_body_login_t *f, const char *body,
                              apr_size_t len, apr_pool_t *p)
{
    const char *pos = body, *end = body + len, *name;
    pv_body_pair_t pair;
    apr_size_t nlen;

    while (pv_body_form_next(&pair, &pos, end)) {
        const char **dst = NULL;
        apr_size_t *dlen = NULL;

        if (pv_request_unescape(&name, &nlen, pair.name, pair.name_len, p) !=
            APR_SUCCESS) {
            return "malformed form body";
        }
        if (is_name(name, nlen, "username")) {
            dst = &f->user;
            dlen = &f->user_len;
        }
        else if (is_name(name, nlen, "password")) {
            dst = &f->pass;
            dlen = &f->pass_len;
        }
        else {
            continue;
        }
        if (*dst) {
            return apr_psprintf(p, "duplicate field: %s", name);
        }
        if (pv_request_unescape(dst, dlen, pair.value, pair.value_len, p) !=
            APR_SUCCESS) {
            return "malformed form body";
        }
    }
    if (!f->user) {
        return "missing field: username";
    }
    if (!f->pass) {
        return "missing field: password";
    }
    return NULL;
}

/* A JSON object: username and password strings, other members ignored.
 * NULL or the 400 message. */
static const char *login_json(pv_body_login_t *f, const char *body,
                              apr_size_t len, apr_pool_t *p)
{
    static const char *const names[2] = {"username", "password"};
    const char *msg = NULL;
    json_t *root = NULL;
    int i;

    if (pv_body_json_object(&root, &msg, body, len) != APR_SUCCESS) {
        return msg;
    }
    for (i = 0; i < 2 && !msg; i++) {
        json_t *v = json_object_get(root, names[i]);

        if (!v) {
            msg = apr_psprintf(p, "missing field: %s", names[i]);
        }
        else if (!json_is_string(v)) {
            msg = apr_psprintf(p, "field must be a string: %s", names[i]);
        }
        else if (i == 0) {
            f->user_len = json_string_length(v);
            f->user = apr_pstrmemdup(p, json_string_value(v), f->user_len);
        }
        else {
            f->pass_len = json_string_length(v);
            f->pass = apr_pstrmemdup(p, json_string_value(v), f->pass_len);
        }
    }
    json_decref(root);
    return msg;
}

/* What both formats must hold. NULL or the 400 message. */
static const char *login_check(const pv_body_login_t *f)
{
    if (f->user_len == 0) {
        return "empty field: username";
    }
    if (f->pass_len == 0) {
        return "empty field: password";
    }
    if (f->user_len > PV_DB_USERNAME_MAX) {
        return "field too long: username";
    }
    if (!pv_body_text_valid(f->user, f->user_len)) {
        return "field is not valid text: username";
    }
    if (!pv_body_text_valid(f->pass, f->pass_len)) {
        return "field is not valid text: password";
    }
    return NULL;
}

apr_status_t pv_body_login_parse(pv_body_login_t **pout, const char **perr,
                                 const char *body, apr_size_t len, int json,
                                 apr_pool_t *p)
{
    pv_body_login_t *f = apr_pcalloc(p, sizeof(*f));
    const char *msg;

    msg = json ? login_json(f, body, len, p) : login_form(f, body, len, p);
    if (!msg) {
        msg = login_check(f);
    }
    if (msg) {
        *perr = msg;
        return APR_EINVAL;
    }
    *pout = f;
    return APR_SUCCESS;
}
