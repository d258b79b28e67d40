/* base64url without padding: RFC 4648 vectors and the strict refusals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pv_b64url.h"

static const struct {
    const char *raw;
    const char *enc;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(encode_rfc4648)
{
    char out[16];
    size_t n = strlen(rfc4648[_i].raw);

    ck_assert_uint_eq(
        pv_b64url_encode(out, (const unsigned char *)rfc4648[_i].raw, n),
        strlen(rfc4648[_i].enc));
    ck_assert_str_eq(out, rfc4648[_i].enc);
    ck_assert_uint_eq(PV_B64URL_ENC_LEN(n), strlen(rfc4648[_i].enc));
}
END_TEST

START_TEST(decode_rfc4648)
{
    unsigned char out[16];
    apr_size_t n = 99;

    ck_assert_int_eq(pv_b64url_decode(out, &n, sizeof(out), rfc4648[_i].enc,
                                      strlen(rfc4648[_i].enc)),
                     0);
    ck_assert_uint_eq(n, strlen(rfc4648[_i].raw));
    ck_assert_int_eq(memcmp(out, rfc4648[_i].raw, n), 0);
}
END_TEST

START_TEST(url_alphabet)
{
    const unsigned char raw[] = {0xfb, 0xff, 0xbf};
    unsigned char back[4];
    char out[8];
    apr_size_t n;

    pv_b64url_encode(out, raw, sizeof(raw));
    ck_assert_str_eq(out, "-_-_");
    ck_assert_int_eq(pv_b64url_decode(back, &n, sizeof(back), "-_-_", 4), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(back, raw, 3), 0);
}
END_TEST

/* every one of these must be refused */
static const char *const refused[] = {
    "Zg==",      /* padding */
    "Zg=",       /* padding */
    "Zm9v+",     /* standard alphabet */
    "Zm9/",      /* standard alphabet */
    "Z",         /* 4k+1 characters decode to nothing whole */
    "Zm9vY",     /* same */
    "Zh",        /* non-zero unused bits: second spelling of "f" */
    "Zm9",       /* same for "fo" */
    "Zm 9v",     /* space */
    "Zm9v\n",    /* newline */
    "Zm9v.",     /* dot */
    "\xc3\xa9Zm" /* non-ASCII */
};

START_TEST(decode_refuses)
{
    unsigned char out[16];
    apr_size_t n = 77;

    ck_assert_int_eq(pv_b64url_decode(out, &n, sizeof(out), refused[_i],
                                      strlen(refused[_i])),
                     -1);
    ck_assert_uint_eq(n, 77);
}
END_TEST

START_TEST(decode_nul_refused)
{
    unsigned char out[16];
    apr_size_t n;

    ck_assert_int_eq(pv_b64url_decode(out, &n, sizeof(out), "Zm\0v", 4), -1);
}
END_TEST

START_TEST(decode_bounded)
{
    unsigned char out[3];
    apr_size_t n;

    ck_assert_int_eq(pv_b64url_decode(out, &n, 3, "Zm9v", 4), 0);
    ck_assert_uint_eq(n, 3);
    /* would need 4 bytes: refused before writing past out */
    ck_assert_int_eq(pv_b64url_decode(out, &n, 3, "Zm9vYg", 6), -1);
}
END_TEST

START_TEST(roundtrip_all_lengths)
{
    unsigned char raw[70], back[70];
    char enc[100];
    apr_size_t n, len, i;

    for (i = 0; i < sizeof(raw); i++) {
        raw[i] = (unsigned char)(i * 37 + 11);
    }
    for (len = 0; len <= sizeof(raw); len++) {
        n = pv_b64url_encode(enc, raw, len);
        ck_assert_uint_eq(n, PV_B64URL_ENC_LEN(len));
        ck_assert_int_eq(pv_b64url_decode(back, &n, sizeof(back), enc, n), 0);
        ck_assert_uint_eq(n, len);
        ck_assert_int_eq(memcmp(back, raw, len), 0);
    }
}
END_TEST

Suite *pv_test_b64url_suite(void)
{
    Suite *s = suite_create("b64url");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, encode_rfc4648, 0,
                        sizeof(rfc4648) / sizeof(rfc4648[0]));
    tcase_add_loop_test(tc, decode_rfc4648, 0,
                        sizeof(rfc4648) / sizeof(rfc4648[0]));
    tcase_add_test(tc, url_alphabet);
    tcase_add_loop_test(tc, decode_refuses, 0,
                        sizeof(refused) / sizeof(refused[0]));
    tcase_add_test(tc, decode_nul_refused);
    tcase_add_test(tc, decode_bounded);
    tcase_add_test(tc, roundtrip_all_lengths);
    suite_add_tcase(s, tc);
    return s;
}
