/* preview-sign's request body: image ids, the preview parameters (read by
 * the preview handler's own parser, so a URL carries nothing it would
 * refuse) and a ttl; and the canonical query of the URLs. Every scan is
 * bounded by the body, which the glue bounds. */
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pv_body.h"
#include "pv_sign.h"

/* The ids seen so far: distinct, in order; listed counts repeats too, so
 * that the bound holds for what was sent, not what was kept. */
typedef struct id_set_t {
    apr_uint64_t ids[PV_SIGN_MAX_IDS];
    int n;
    int listed;
} id_set_t;

static const char *take_id_value(id_set_t *set, apr_uint64_t id)
{
    int i;

    if (++set->listed > PV_SIGN_MAX_IDS) {
        return "too many ids: at most 200";
    }
    if (id == 0) {
        return "invalid parameter: ids";
    }
    for (i = 0; i < set->n; i++) {
        if (set->ids[i] == id) {
            return NULL;
        }
    }
    set->ids[set->n++] = id;
    return NULL;
}

/* One id as text: what the preview path takes, 1..2^64-1. */
static const char *take_id(id_set_t *set, const char *s, apr_size_t len)
{
    apr_uint64_t id = 0;

    if (pv_request_parse_id(&id, s, len) != APR_SUCCESS) {
        id = 0; /* refused, after the count */
    }
    return take_id_value(set, id);
}

/* "1,2,3": no empty element, so "1,,2" and "1," are refused. */
static const char *take_id_list(id_set_t *set, const char *s, apr_size_t len)
{
    const char *end = s + len, *msg;

    for (;;) {
        const char *comma = memchr(s, ',', (apr_size_t)(end - s));
        const char *e = comma ? comma : end;

        if ((msg = take_id(set, s, (apr_size_t)(e - s))) || !comma) {
            return msg;
        }
        s = comma + 1;
    }
}

/* Seconds: digits, no sign, no leading zero, 1..PV_SIGN_TTL_MAX, once. */
static const char *take_ttl(apr_int64_t *pttl, const char *s, apr_size_t len)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (*pttl || len == 0 || s[0] == '0') {
        return "invalid parameter: ttl";
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return "invalid parameter: ttl";
        }
        v = v * 10 + (s[i] - '0');
        if (v > PV_SIGN_TTL_MAX) {
            return "invalid parameter: ttl";
        }
    }
    *pttl = v;
    return NULL;
}

static int is_name(const char *s, apr_size_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* The preview parameters of a query text, by the preview's parser. */
static const char *take_query(pv_sign_request_t *req, const char *args,
                              apr_pool_t *p)
{
    const char *perr = "?";

    if (pv_request_parse_query(&req->query, &perr, args, p) != APR_SUCCESS) {
        return apr_pstrcat(p, "invalid parameter: ", perr, NULL);
    }
    return NULL;
}

static const char *parse_form(pv_sign_request_t *req, id_set_t *set,
                              const char *body, apr_size_t len, apr_pool_t *p)
{
    const char *pos = body, *msg = NULL, *name, *value;
    pv_body_pair_t pair;
    apr_size_t nlen, vlen;
    int ids;

    /* The preview's parser reads NUL-terminated text and stops at '#'. */
    if (memchr(body, '\0', len) || memchr(body, '#', len)) {
        return "malformed form body";
    }
    while (!msg && pv_body_form_next(&pair, &pos, body + len)) {
        /* An undecodable name is no one's (the preview parser's rule). */
        if (pv_request_unescape(&name, &nlen, pair.name, pair.name_len, p) !=
                APR_SUCCESS ||
            !((ids = is_name(name, nlen, "ids")) ||
              is_name(name, nlen, "ttl"))) {
            continue;
        }
        if (pv_request_unescape(&value, &vlen, pair.value, pair.value_len, p)) {
            msg = ids ? "invalid parameter: ids" : "invalid parameter: ttl";
        }
        else {
            msg = ids ? take_id_list(set, value, vlen)
                      : take_ttl(&req->ttl, value, vlen);
        }
    }
    return msg ? msg : take_query(req, body, p);
}

/* A JSON member as query text: a string, or (number_ok) an integer. */
static const char *json_text(json_t *v, int number_ok, apr_pool_t *p)
{
    if (json_is_string(v)) {
        return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    }
    if (number_ok && json_is_integer(v)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    }
    return NULL;
}

static const char *parse_json(pv_sign_request_t *req, id_set_t *set,
                              const char *body, apr_size_t len, apr_pool_t *p)
{
    static const struct {
        const char *name;
        int number_ok;
    } params[] = {{"w", 1}, {"h", 1}, {"fit", 0}, {"format", 0}, {"q", 1}};
    const char *msg = NULL, *query = "", *text;
    json_t *root = NULL, *ids, *v;
    apr_size_t i;

    if (pv_body_json_object(&root, &msg, body, len) != APR_SUCCESS) {
        return msg;
    }
    ids = json_object_get(root, "ids");
    if (ids && !json_is_array(ids)) {
        msg = "invalid parameter: ids";
        goto cleanup;
    }
    for (i = 0; ids && i < json_array_size(ids) && !msg; i++) {
        v = json_array_get(ids, i);
        if (json_is_integer(v) && json_integer_value(v) > 0) {
            msg = take_id_value(set, (apr_uint64_t)json_integer_value(v));
        }
        else if (json_is_string(v)) {
            msg = take_id(set, json_string_value(v), json_string_length(v));
        }
        else {
            msg = "invalid parameter: ids";
        }
    }
    if (!msg && (v = json_object_get(root, "ttl"))) {
        text = json_text(v, 1, p);
        msg = text ? take_ttl(&req->ttl, text, strlen(text))
                   : "invalid parameter: ttl";
    }
    /* The preview parameters as the query they would be, for its parser:
     * each value escaped, so that it stays one value. */
    for (i = 0; !msg && i < sizeof(params) / sizeof(params[0]); i++) {
        if (!(v = json_object_get(root, params[i].name))) {
            continue;
        }
        text = json_text(v, params[i].number_ok, p);
        if (!text) {
            msg = apr_pstrcat(p, "invalid parameter: ", params[i].name, NULL);
            break;
        }
        query = apr_pstrcat(p, query, *query ? "&" : "", params[i].name, "=",
                            apr_pescape_urlencoded(p, text), NULL);
    }
    if (!msg) {
        msg = take_query(req, query, p);
    }

cleanup:
    json_decref(root);
    return msg;
}

apr_status_t pv_sign_parse(pv_sign_request_t **pout, const char **perr,
                           const char *body, apr_size_t len, int json,
                           apr_pool_t *p)
{
    pv_sign_request_t *req = apr_pcalloc(p, sizeof(*req));
    id_set_t *set = apr_pcalloc(p, sizeof(*set));
    const char *msg;

    msg = json ? parse_json(req, set, body, len, p)
               : parse_form(req, set, body, len, p);
    if (!msg && set->n == 0) {
        msg = "missing parameter: ids";
    }
    if (msg) {
        *perr = msg;
        return APR_EINVAL;
    }
    req->ids = apr_pmemdup(p, set->ids, sizeof(apr_uint64_t) * set->n);
    req->nids = set->n;
    *pout = req;
    return APR_SUCCESS;
}

const char *pv_sign_query(const pv_request_query_t *q, apr_pool_t *p)
{
    const char *s = "";
    int f;

    if (q->w) {
        s = apr_psprintf(p, "&w=%d", q->w);
    }
    if (q->h) {
        s = apr_psprintf(p, "%s&h=%d", s, q->h);
    }
    if (q->fit == PV_FIT_COVER) {
        s = apr_pstrcat(p, s, "&fit=cover", NULL);
    }
    for (f = PV_FORMAT_JPEG; f <= PV_FORMAT_PNG; f++) {
        if (q->format == PV_FORMAT_BIT(f)) {
            s = apr_pstrcat(p, s, "&format=",
                            pv_image_format_name((pv_image_format_e)f), NULL);
        }
    }
    if (q->quality) {
        s = apr_psprintf(p, "%s&q=%d", s, q->quality);
    }
    return *s ? s + 1 : s;
}
