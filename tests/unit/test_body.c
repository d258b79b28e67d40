/* pv_body: a POST body's form pairs, its strict JSON object, the text
 * check (strict UTF-8, no NUL) and the login's username and password from
 * a form or JSON, with the exact 400 messages. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_body.h"
#include "pv_db.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

/* The pairs of a form as "name=value|name=value|", or "" when none. */
static const char *pairs_of(const char *body)
{
    const char *pos = body, *end = body + strlen(body), *out = "";
    pv_body_pair_t pair;

    while (pv_body_form_next(&pair, &pos, end)) {
        out = apr_psprintf(pool, "%s%.*s=%.*s|", out, (int)pair.name_len,
                           pair.name, (int)pair.value_len, pair.value);
    }
    ck_assert_ptr_eq(pos, end);
    return out;
}

START_TEST(form_pairs)
{
    ck_assert_str_eq(pairs_of(""), "");
    ck_assert_str_eq(pairs_of("&"), "");
    ck_assert_str_eq(pairs_of("&&&"), "");
    ck_assert_str_eq(pairs_of("a=1"), "a=1|");
    ck_assert_str_eq(pairs_of("a=1&b=2"), "a=1|b=2|");
    ck_assert_str_eq(pairs_of("a=1&&b=2&"), "a=1|b=2|");
    ck_assert_str_eq(pairs_of("&a=1"), "a=1|");
    /* no '=': an empty value; the first '=' splits, the rest is value */
    ck_assert_str_eq(pairs_of("a&b="), "a=|b=|");
    ck_assert_str_eq(pairs_of("a==1=2"), "a==1=2|");
    ck_assert_str_eq(pairs_of("=x"), "=x|");
    /* escapes are left as sent; ';' is data */
    ck_assert_str_eq(pairs_of("a%3D=b%26c;d"), "a%3D=b%26c;d|");
}
END_TEST

START_TEST(form_pairs_bounded)
{
    /* only len bytes are read: a pair stops at the end, not at a NUL */
    const char body[] = "a=1&b=2&c=3";
    const char *pos = body, *end = body + 5;
    pv_body_pair_t pair;

    ck_assert_int_eq(pv_body_form_next(&pair, &pos, end), 1);
    ck_assert_int_eq(pair.name_len, 1);
    ck_assert_int_eq(pair.value_len, 1);
    ck_assert_int_eq(pv_body_form_next(&pair, &pos, end), 1);
    ck_assert_int_eq(pair.name_len, 1);
    ck_assert_int_eq(pair.value_len, 0);
    ck_assert_ptr_eq(pair.value, body + 5);
    ck_assert_int_eq(pv_body_form_next(&pair, &pos, end), 0);
    ck_assert_ptr_eq(pos, end);
}
END_TEST

START_TEST(json_objects)
{
    static const char *const bad[] = {
        "",
        "[]",
        "\"a\"",
        "1",
        "null",
        "{",
        "{\"a\":1,}",
        "{} {}",
        "{'a':1}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":\"\\u0000\"}",
    };
    const char *err = NULL;
    json_t *root = NULL;
    size_t i;

    ck_assert_int_eq(pv_body_json_object(&root, &err, "{\"a\":[1]}", 9),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(root);
    ck_assert(json_is_object(root));
    ck_assert_ptr_null(err);
    json_decref(root);
    /* a length, not a NUL, ends the text */
    root = NULL;
    ck_assert_int_eq(pv_body_json_object(&root, &err, "{}garbage", 2),
                     APR_SUCCESS);
    json_decref(root);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = NULL;
        err = NULL;
        ck_assert_msg(pv_body_json_object(&root, &err, bad[i],
                                          strlen(bad[i])) == APR_EINVAL,
                      "%s", bad[i]);
        ck_assert_ptr_null(root);
        ck_assert_str_eq(err, "malformed JSON body");
    }
}
END_TEST

static int text(const char *s)
{
    return pv_body_text_valid(s, strlen(s));
}

START_TEST(text_valid)
{
    ck_assert_int_eq(text(""), 1);
    ck_assert_int_eq(text("alice"), 1);
    ck_assert_int_eq(text("\x7f"), 1);
    ck_assert_int_eq(text("\xc2\x80"), 1);         /* U+0080 */
    ck_assert_int_eq(text("\xc3\xa1lice"), 1);     /* álice */
    ck_assert_int_eq(text("\xdf\xbf"), 1);         /* U+07FF */
    ck_assert_int_eq(text("\xe0\xa0\x80"), 1);     /* U+0800 */
    ck_assert_int_eq(text("\xed\x9f\xbf"), 1);     /* U+D7FF */
    ck_assert_int_eq(text("\xee\x80\x80"), 1);     /* U+E000 */
    ck_assert_int_eq(text("\xef\xbf\xbf"), 1);     /* U+FFFF */
    ck_assert_int_eq(text("\xf0\x90\x80\x80"), 1); /* U+10000 */
    ck_assert_int_eq(text("\xf4\x8f\xbf\xbf"), 1); /* U+10FFFF */
    ck_assert_int_eq(text("\xe2\x82\xac 5"), 1);   /* € 5 */
    /* overlong forms */
    ck_assert_int_eq(text("\xc0\x80"), 0);
    ck_assert_int_eq(text("\xc1\xbf"), 0);
    ck_assert_int_eq(text("\xe0\x9f\xbf"), 0);
    ck_assert_int_eq(text("\xf0\x8f\xbf\xbf"), 0);
    /* surrogates, above U+10FFFF, bytes no sequence starts with */
    ck_assert_int_eq(text("\xed\xa0\x80"), 0);
    ck_assert_int_eq(text("\xed\xbf\xbf"), 0);
    ck_assert_int_eq(text("\xf4\x90\x80\x80"), 0);
    ck_assert_int_eq(text("\xf5\x80\x80\x80"), 0);
    ck_assert_int_eq(text("\x80"), 0);
    ck_assert_int_eq(text("a\xbf"), 0);
    ck_assert_int_eq(text("\xff"), 0);
    /* truncated, or a continuation byte missing */
    ck_assert_int_eq(text("\xc3"), 0);
    ck_assert_int_eq(text("a\xe2\x82"), 0);
    ck_assert_int_eq(text("\xf0\x90\x80"), 0);
    ck_assert_int_eq(text("\xe2\x28\xa1"), 0);
    ck_assert_int_eq(text("\xc3\xc3\xa1"), 0);
    /* a NUL is no text; len, not the NUL, bounds the scan */
    ck_assert_int_eq(pv_body_text_valid("a\0b", 3), 0);
    ck_assert_int_eq(pv_body_text_valid("ab\xc3", 2), 1);
    ck_assert_int_eq(pv_body_text_valid("\xc3\xa1", 1), 0);
}
END_TEST

static pv_body_login_t *ok_login(const char *body, apr_size_t len, int json)
{
    pv_body_login_t *f = NULL;
    const char *err = NULL;

    ck_assert_msg(pv_body_login_parse(&f, &err, body, len, json, pool) ==
                      APR_SUCCESS,
                  "%s: %s", body, err ? err : "?");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_null(err);
    return f;
}

START_TEST(login_form)
{
    const char *b;
    pv_body_login_t *f;

    b = "username=alice&password=s3cret";
    f = ok_login(b, strlen(b), 0);
    ck_assert_str_eq(f->user, "alice");
    ck_assert_int_eq(f->user_len, 5);
    ck_assert_str_eq(f->pass, "s3cret");
    ck_assert_int_eq(f->pass_len, 6);
    /* decoded: '+' a space, %-escapes, names too; others ignored unread */
    b = "x=%zz&pass%77ord=a+b%26c%3D&&user%6eame=%C3%A1lice&y";
    f = ok_login(b, strlen(b), 0);
    ck_assert_str_eq(f->user, "\xc3\xa1lice");
    ck_assert_str_eq(f->pass, "a b&c=");
    ck_assert_int_eq(f->pass_len, 6);
    /* the order does not matter; a value may hold '=' */
    b = "password=a=b&username=bob";
    f = ok_login(b, strlen(b), 0);
    ck_assert_str_eq(f->user, "bob");
    ck_assert_str_eq(f->pass, "a=b");
    /* a name is case-sensitive: Username is some other field */
    b = "Username=x&username=y&password=z";
    f = ok_login(b, strlen(b), 0);
    ck_assert_str_eq(f->user, "y");
}
END_TEST

START_TEST(login_json)
{
    const char *b;
    pv_body_login_t *f;

    b = "{\"username\":\"alice\",\"password\":\"s3cret\",\"remember\":true}";
    f = ok_login(b, strlen(b), 1);
    ck_assert_str_eq(f->user, "alice");
    ck_assert_int_eq(f->user_len, 5);
    ck_assert_str_eq(f->pass, "s3cret");
    b = "{\"password\":\"p \\u00e1\\\"\",\"username\":\"\\u00e1lice\"}";
    f = ok_login(b, strlen(b), 1);
    ck_assert_str_eq(f->user, "\xc3\xa1lice");
    ck_assert_int_eq(f->user_len, 6);
    ck_assert_str_eq(f->pass, "p \xc3\xa1\"");
    ck_assert_int_eq(f->pass_len, 5);
}
END_TEST

START_TEST(login_bounds)
{
    char *form = apr_palloc(pool, PV_DB_USERNAME_MAX + 32);
    const char *err = NULL;
    pv_body_login_t *f = NULL;
    apr_size_t n;

    /* the column's bound in bytes: 760 fit, 761 do not */
    memcpy(form, "username=", 9);
    memset(form + 9, 'a', PV_DB_USERNAME_MAX);
    memcpy(form + 9 + PV_DB_USERNAME_MAX, "&password=x", 12);
    n = strlen(form);
    f = ok_login(form, n, 0);
    ck_assert_int_eq(f->user_len, PV_DB_USERNAME_MAX);
    form = apr_pstrcat(pool, "username=a", form + 9, NULL);
    f = NULL;
    ck_assert_int_eq(pv_body_login_parse(&f, &err, form, strlen(form), 0, pool),
                     APR_EINVAL);
    ck_assert_str_eq(err, "field too long: username");
    ck_assert_ptr_null(f);
    /* only len bytes are read */
    f = ok_login("username=a&password=bc&password=d", 22, 0);
    ck_assert_str_eq(f->pass, "bc");
}
END_TEST

static const struct {
    const char *body;
    int json;
    const char *msg;
} refused[] = {
    /* form */
    {"", 0, "missing field: username"},
    {"password=x", 0, "missing field: username"},
    {"username=alice", 0, "missing field: password"},
    {"username=a&password=x&username=b", 0, "duplicate field: username"},
    {"username=a&password=x&pass%77ord=y", 0, "duplicate field: password"},
    {"username=a&password=x&password", 0, "duplicate field: password"},
    {"username=%zz&password=x", 0, "malformed form body"},
    {"username=a&password=%4", 0, "malformed form body"},
    {"user%zzname=a&username=a&password=x", 0, "malformed form body"},
    {"username=&password=x", 0, "empty field: username"},
    {"username&password=x", 0, "empty field: username"},
    {"username=a&password=", 0, "empty field: password"},
    {"username=a%00b&password=x", 0, "field is not valid text: username"},
    {"username=%C3%28&password=x", 0, "field is not valid text: username"},
    {"username=a&password=%ED%A0%80", 0, "field is not valid text: password"},
    {"username=a&password=x%00", 0, "field is not valid text: password"},
    /* JSON */
    {"", 1, "malformed JSON body"},
    {"{\"username\":\"a\"", 1, "malformed JSON body"},
    {"[\"a\",\"b\"]", 1, "malformed JSON body"},
    {"{\"username\":\"a\",\"username\":\"b\",\"password\":\"x\"}", 1,
     "malformed JSON body"},
    {"{\"username\":\"a\\u0000\",\"password\":\"x\"}", 1,
     "malformed JSON body"},
    {"{\"password\":\"x\"}", 1, "missing field: username"},
    {"{}", 1, "missing field: username"},
    {"{\"username\":\"a\"}", 1, "missing field: password"},
    {"{\"username\":1,\"password\":\"x\"}", 1,
     "field must be a string: username"},
    {"{\"username\":null}", 1, "field must be a string: username"},
    {"{\"username\":\"a\",\"password\":[\"x\"]}", 1,
     "field must be a string: password"},
    {"{\"username\":\"\",\"password\":\"x\"}", 1, "empty field: username"},
    {"{\"username\":\"\",\"password\":\"\"}", 1, "empty field: username"},
    {"{\"username\":\"a\",\"password\":\"\"}", 1, "empty field: password"},
    {"{\"username\":\"a\\ud800\",\"password\":\"x\"}", 1,
     "malformed JSON body"},
};

START_TEST(login_refusals)
{
    pv_body_login_t *f = NULL;
    const char *err = NULL;

    ck_assert_msg(pv_body_login_parse(&f, &err, refused[_i].body,
                                      strlen(refused[_i].body),
                                      refused[_i].json, pool) == APR_EINVAL,
                  "accepted: %s", refused[_i].body);
    ck_assert_ptr_null(f);
    ck_assert_str_eq(err, refused[_i].msg);
}
END_TEST

Suite *pv_test_body_suite(void)
{
    Suite *s = suite_create("body");
    TCase *tc = tcase_create("body");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, form_pairs);
    tcase_add_test(tc, form_pairs_bounded);
    tcase_add_test(tc, json_objects);
    tcase_add_test(tc, text_valid);
    tcase_add_test(tc, login_form);
    tcase_add_test(tc, login_json);
    tcase_add_test(tc, login_bounds);
    tcase_add_loop_test(tc, login_refusals, 0,
                        sizeof(refused) / sizeof(refused[0]));
    suite_add_tcase(s, tc);
    return s;
}
