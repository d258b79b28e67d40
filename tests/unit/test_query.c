/* pv_query: form-encoded text split into raw pairs, every edge exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>

#include "pv_query.h"

/* "name|value|has_value" of each pair of text, joined with ' '. */
static const char *split(const char *text)
{
    static char out[512];
    const char *pos = text, *end = text + strlen(text);
    pv_query_pair_t pair;
    char *o = out;

    *o = '\0';
    while (pv_query_next(&pair, &pos, end)) {
        ck_assert_ptr_eq(pair.text, pair.name);
        ck_assert_uint_eq(pair.len, pair.has_value
                                        ? pair.name_len + 1 + pair.value_len
                                        : pair.name_len);
        ck_assert_ptr_eq(pair.value, pair.has_value
                                         ? pair.name + pair.name_len + 1
                                         : pair.name + pair.name_len);
        o +=
            sprintf(o, "%s%.*s|%.*s|%d", o > out ? " " : "", (int)pair.name_len,
                    pair.name, (int)pair.value_len, pair.value, pair.has_value);
    }
    ck_assert_ptr_eq(pos, end);
    return out;
}

START_TEST(pairs)
{
    ck_assert_str_eq(split(""), "");
    ck_assert_str_eq(split("a=1"), "a|1|1");
    ck_assert_str_eq(split("a=1&b=2"), "a|1|1 b|2|1");
    ck_assert_str_eq(split("a"), "a||0");
    ck_assert_str_eq(split("a="), "a||1");
    ck_assert_str_eq(split("=1"), "|1|1");
    /* the first '=' splits; the rest is the value's */
    ck_assert_str_eq(split("a=b=c"), "a|b=c|1");
    /* empty pairs are pairs; a trailing '&' ends the text */
    ck_assert_str_eq(split("a&&b"), "a||0 ||0 b||0");
    ck_assert_str_eq(split("&"), "||0");
    ck_assert_str_eq(split("a=1&"), "a|1|1");
    /* raw: escapes are the caller's */
    ck_assert_str_eq(split("t%3D=%26"), "t%3D|%26|1");
}
END_TEST

START_TEST(bounded)
{
    const char *text = "w=1&h=2", *pos = text;
    pv_query_pair_t pair;

    /* only up to end: "w=1&h" */
    ck_assert_int_eq(pv_query_next(&pair, &pos, text + 5), 1);
    ck_assert_int_eq(pv_query_next(&pair, &pos, text + 5), 1);
    ck_assert_uint_eq(pair.name_len, 1);
    ck_assert_int_eq(pair.has_value, 0);
    ck_assert_int_eq(pv_query_next(&pair, &pos, text + 5), 0);
    pos = NULL;
    ck_assert_int_eq(pv_query_next(&pair, &pos, text), 0);
}
END_TEST

START_TEST(query_end)
{
    const char *q = "a=1#frag&b=2";

    ck_assert_ptr_eq(pv_query_end(q), q + 3);
    q = "a=1";
    ck_assert_ptr_eq(pv_query_end(q), q + 3);
    q = "";
    ck_assert_ptr_eq(pv_query_end(q), q);
}
END_TEST

Suite *pv_test_query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, pairs);
    tcase_add_test(tc, bounded);
    tcase_add_test(tc, query_end);
    suite_add_tcase(s, tc);
    return s;
}
