/* pv_sign: the body of a preview-sign request (form and JSON), every rule
 * with exact values, and the canonical query of the URLs. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_sign.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

static pv_sign_request_t *ok_body(const char *body, int json)
{
    pv_sign_request_t *req = NULL;
    const char *err = NULL;

    ck_assert_msg(pv_sign_parse(&req, &err, body, strlen(body), json, pool) ==
                      APR_SUCCESS,
                  "%s: %s", body, err ? err : "?");
    ck_assert_ptr_nonnull(req);
    return req;
}

/* The 400 message of a refused body. */
static const char *bad_body(const char *body, int json)
{
    pv_sign_request_t *req = NULL;
    const char *err = NULL;

    ck_assert_msg(pv_sign_parse(&req, &err, body, strlen(body), json, pool) ==
                      APR_EINVAL,
                  "%s: accepted", body);
    ck_assert_ptr_null(req);
    ck_assert_ptr_nonnull(err);
    return err;
}

/* The ids as "1 2 3". */
static const char *ids_of(const pv_sign_request_t *req)
{
    const char *s = "";
    int i;

    for (i = 0; i < req->nids; i++) {
        s = apr_psprintf(pool, "%s%s%" APR_UINT64_T_FMT, s, i ? " " : "",
                         req->ids[i]);
    }
    return s;
}

START_TEST(form_ids)
{
    ck_assert_str_eq(ids_of(ok_body("ids=1,2,3", 0)), "1 2 3");
    /* repeated and comma-separated mix; repeats count once, first order */
    ck_assert_str_eq(ids_of(ok_body("ids=3&ids=1,2&ids=3,1", 0)), "3 1 2");
    /* the preview path's rules: leading zeros read as the number */
    ck_assert_str_eq(ids_of(ok_body("ids=007", 0)), "7");
    ck_assert_str_eq(ids_of(ok_body("ids=18446744073709551615", 0)),
                     "18446744073709551615");
    /* percent-decoded like any form value */
    ck_assert_str_eq(ids_of(ok_body("ids=%31%2C2&%69ds=4", 0)), "1 2 4");
    /* other fields, the token among them, are not ids */
    ck_assert_str_eq(ids_of(ok_body("x=1&ids=5&token=abc&v=2", 0)), "5");
}
END_TEST

START_TEST(form_ids_bound)
{
    const char *list = "1", *rep = "ids=1";
    int i;

    for (i = 2; i <= PV_SIGN_MAX_IDS; i++) {
        list = apr_psprintf(pool, "%s,%d", list, i);
        rep = apr_pstrcat(pool, rep, "&ids=1", NULL);
    }
    ck_assert_int_eq(ok_body(apr_pstrcat(pool, "ids=", list, NULL), 0)->nids,
                     PV_SIGN_MAX_IDS);
    ck_assert_int_eq(ok_body(rep, 0)->nids, 1);
    /* 201 as listed, even when they are repeats */
    ck_assert_str_eq(bad_body(apr_pstrcat(pool, "ids=", list, ",201", NULL), 0),
                     "too many ids: at most 200");
    ck_assert_str_eq(bad_body(apr_pstrcat(pool, rep, "&ids=1", NULL), 0),
                     "too many ids: at most 200");
    ck_assert_str_eq(bad_body(apr_pstrcat(pool, rep, "&ids=x", NULL), 0),
                     "too many ids: at most 200");
}
END_TEST

START_TEST(form_params)
{
    pv_sign_request_t *req;

    req = ok_body("ids=1&w=256&h=128&fit=cover&format=webp&q=75", 0);
    ck_assert_int_eq(req->query->w, 256);
    ck_assert_int_eq(req->query->h, 128);
    ck_assert_int_eq(req->query->fit, PV_FIT_COVER);
    ck_assert_int_eq(req->query->format, PV_FORMAT_BIT(PV_FORMAT_WEBP));
    ck_assert_int_eq(req->query->quality, 75);
    ck_assert_int_eq(req->ttl, 0);
    ck_assert_str_eq(pv_sign_query(req->query, pool),
                     "w=256&h=128&fit=cover&format=webp&q=75");
    /* the defaults are left out: the same preview, one URL */
    ck_assert_str_eq(
        pv_sign_query(ok_body("fit=inside&format=auto&ids=1", 0)->query, pool),
        "");
    ck_assert_str_eq(pv_sign_query(ok_body("ids=1&h=64", 0)->query, pool),
                     "h=64");
    ck_assert_str_eq(
        pv_sign_query(ok_body("ids=1&format=jpeg&q=1", 0)->query, pool),
        "format=jpeg&q=1");
    /* the preview's own refusals */
    /* text the preview parser cannot see whole */
    {
        static const char nul[] = "ids=1&w=6\0004";
        pv_sign_request_t *r = NULL;
        const char *err = NULL;

        ck_assert_int_eq(pv_sign_parse(&r, &err, nul, sizeof(nul) - 1, 0, pool),
                         APR_EINVAL);
        ck_assert_str_eq(err, "malformed form body");
    }
}
END_TEST

START_TEST(form_ttl)
{
    ck_assert_int_eq(ok_body("ids=1&ttl=600", 0)->ttl, 600);
    ck_assert_int_eq(ok_body("ttl=315360000&ids=1", 0)->ttl, 315360000);
    ck_assert_int_eq(ok_body("ids=1&ttl=1", 0)->ttl, 1);
}
END_TEST

START_TEST(json_body)
{
    pv_sign_request_t *req;

    req = ok_body("{\"ids\":[1,\"2\",3,\"0001\"]}", 1);
    ck_assert_str_eq(ids_of(req), "1 2 3");
    ck_assert_str_eq(pv_sign_query(req->query, pool), "");
    ck_assert_str_eq(
        ids_of(ok_body(
            "{\"ids\":[\"18446744073709551615\",9223372036854775807]}", 1)),
        "18446744073709551615 9223372036854775807");
    req = ok_body("{\"ids\":[5],\"w\":256,\"h\":\"128\",\"fit\":\"cover\","
                  "\"format\":\"png\",\"q\":75,\"ttl\":60,\"other\":[1]}",
                  1);
    ck_assert_str_eq(pv_sign_query(req->query, pool),
                     "w=256&h=128&fit=cover&format=png&q=75");
    ck_assert_int_eq(req->ttl, 60);
    ck_assert_int_eq(ok_body("{\"ids\":[5],\"ttl\":\"60\"}", 1)->ttl, 60);

    /* beyond a JSON integer jansson reads: the body is malformed */
    /* the preview's rules, whatever the JSON type */
    /* a value stays one value: no second parameter smuggled in */
}
END_TEST

START_TEST(json_ids_bound)
{
    const char *list = "1";
    int i;

    for (i = 2; i <= PV_SIGN_MAX_IDS; i++) {
        list = apr_psprintf(pool, "%s,%d", list, i % 2 ? i : 1);
    }
    ck_assert_int_eq(
        ok_body(apr_pstrcat(pool, "{\"ids\":[", list, "]}", NULL), 1)->nids,
        PV_SIGN_MAX_IDS / 2);
    ck_assert_str_eq(
        bad_body(apr_pstrcat(pool, "{\"ids\":[", list, ",1]}", NULL), 1),
        "too many ids: at most 200");
}
END_TEST

/* Bodies refused, with their 400 message. */
static const struct {
    const char *body;
    int json;
    const char *msg;
} refused[] = {
    /* form: ids as the preview path takes them, no empty element */
    {"", 0, "missing parameter: ids"},
    {"w=64", 0, "missing parameter: ids"},
    {"ids", 0, "invalid parameter: ids"},
    {"ids=", 0, "invalid parameter: ids"},
    {"ids=1,", 0, "invalid parameter: ids"},
    {"ids=,1", 0, "invalid parameter: ids"},
    {"ids=1,,2", 0, "invalid parameter: ids"},
    {"ids=0", 0, "invalid parameter: ids"},
    {"ids=18446744073709551616", 0, "invalid parameter: ids"},
    {"ids=123456789012345678901", 0, "invalid parameter: ids"},
    {"ids=-1", 0, "invalid parameter: ids"},
    {"ids=+1", 0, "invalid parameter: ids"},
    {"ids=1+", 0, "invalid parameter: ids"},
    {"ids=1;2", 0, "invalid parameter: ids"},
    {"ids=0x1", 0, "invalid parameter: ids"},
    {"ids=1%zz", 0, "invalid parameter: ids"},
    {"ids=1&ids=x", 0, "invalid parameter: ids"},
    /* the preview's own refusals */
    {"ids=1&w=007", 0, "invalid parameter: w"},
    {"ids=1&w=0", 0, "invalid parameter: w"},
    {"ids=1&w=1&w=2", 0, "invalid parameter: w"},
    {"ids=1&h=", 0, "invalid parameter: h"},
    {"ids=1&fit=fill", 0, "invalid parameter: fit"},
    {"ids=1&format=gif", 0, "invalid parameter: format"},
    {"ids=1&q=101", 0, "invalid parameter: q"},
    /* text the preview parser cannot see whole (a NUL: below) */
    {"ids=1&w=64#", 0, "malformed form body"},
    /* ttl: 1..315360000, digits, once */
    {"ids=1&ttl=0", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=060", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=-1", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=1.5", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=315360001", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=99999999999999999999999", 0, "invalid parameter: ttl"},
    {"ids=1&ttl=60&ttl=60", 0, "invalid parameter: ttl"},
    /* JSON: ids an array of positive integers or id strings */
    {"{}", 1, "missing parameter: ids"},
    {"{\"ids\":[]}", 1, "missing parameter: ids"},
    {"{\"ids\":\"1\"}", 1, "invalid parameter: ids"},
    {"{\"ids\":1}", 1, "invalid parameter: ids"},
    {"{\"ids\":[0]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[-1]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[1.0]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[null]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[[1]]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[\"1,2\"]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[\" 1\"]}", 1, "invalid parameter: ids"},
    {"{\"ids\":[\"\"]}", 1, "invalid parameter: ids"},
    /* beyond a JSON integer jansson reads: the body is malformed */
    {"{\"ids\":[18446744073709551615]}", 1, "malformed JSON body"},
    {"{\"ids\":[1],\"ids\":[2]}", 1, "malformed JSON body"},
    {"[1]", 1, "malformed JSON body"},
    {"{\"ids\":[1]} x", 1, "malformed JSON body"},
    {"{\"ids\":[\"1\\u0000\"]}", 1, "malformed JSON body"},
    /* the preview's rules, whatever the JSON type */
    {"{\"ids\":[1],\"w\":0}", 1, "invalid parameter: w"},
    {"{\"ids\":[1],\"w\":-64}", 1, "invalid parameter: w"},
    {"{\"ids\":[1],\"w\":64.0}", 1, "invalid parameter: w"},
    {"{\"ids\":[1],\"w\":null}", 1, "invalid parameter: w"},
    {"{\"ids\":[1],\"h\":\"064\"}", 1, "invalid parameter: h"},
    {"{\"ids\":[1],\"fit\":1}", 1, "invalid parameter: fit"},
    {"{\"ids\":[1],\"format\":\"JPEG\"}", 1, "invalid parameter: format"},
    {"{\"ids\":[1],\"q\":true}", 1, "invalid parameter: q"},
    /* a value stays one value: no second parameter smuggled in */
    {"{\"ids\":[1],\"w\":\"64&h=32\"}", 1, "invalid parameter: w"},
    {"{\"ids\":[1],\"fit\":\"cover&w=1\"}", 1, "invalid parameter: fit"},
    {"{\"ids\":[1],\"ttl\":0}", 1, "invalid parameter: ttl"},
    {"{\"ids\":[1],\"ttl\":1.5}", 1, "invalid parameter: ttl"},
    {"{\"ids\":[1],\"ttl\":[60]}", 1, "invalid parameter: ttl"},
};

START_TEST(refusals)
{
    ck_assert_str_eq(bad_body(refused[_i].body, refused[_i].json),
                     refused[_i].msg);
}
END_TEST

Suite *pv_test_sign_suite(void)
{
    Suite *s = suite_create("sign");
    TCase *tc = tcase_create("sign");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, form_ids);
    tcase_add_test(tc, form_ids_bound);
    tcase_add_test(tc, form_params);
    tcase_add_test(tc, form_ttl);
    tcase_add_test(tc, json_body);
    tcase_add_test(tc, json_ids_bound);
    tcase_add_loop_test(tc, refusals, 0, sizeof(refused) / sizeof(refused[0]));
    suite_add_tcase(s, tc);
    return s;
}
