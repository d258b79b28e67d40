/* pv_token_memo: a kept token is accepted exactly when pv_token_verify()
 * accepts it (expiry checked at each use), only the very same bytes
 * match, and nothing refused is kept. Tokens are minted by the core. */
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_keyring.h"
#include "pv_token.h"
#include "pv_token_memo.h"

#define RING_TEXT                                                              \
    "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"                         \
    "k2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"
#define IAT    APR_INT64_C(1700000000)
#define LEEWAY 30

static apr_pool_t *pool;
static pv_keyring_t *ring;
static pv_token_verifier_t *verifier, *other;
static pv_token_memo_t *memo;

static pv_token_verifier_t *make_verifier(void)
{
    pv_token_verifier_t *v = NULL;
    pv_token_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    cfg.leeway = LEEWAY;
    ck_assert_int_eq(pv_token_verifier_make(&v, &cfg, pool), APR_SUCCESS);
    return v;
}

static void setup(void)
{
    const char *err = NULL;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(pv_keyring_parse(&ring, &err, RING_TEXT, strlen(RING_TEXT),
                                      "ring", pool),
                     APR_SUCCESS);
    verifier = make_verifier();
    other = make_verifier();
    ck_assert_int_eq(pv_token_memo_create(&memo, pool), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static const char *mint(apr_uint64_t sub, apr_int64_t exp)
{
    pv_token_mint_t m;
    const char *tok = NULL;

    memset(&m, 0, sizeof(m));
    m.sub = sub;
    m.iat = IAT;
    m.exp = exp;
    m.ver = 4;
    ck_assert_int_eq(pv_token_mint_claims(&tok, ring, PV_ALG_HS256, &m, pool),
                     APR_SUCCESS);
    return tok;
}

static pv_token_result_e via_memo(pv_token_claims_t *c, const char *tok,
                                  const pv_token_verifier_t *v, apr_int64_t now)
{
    return pv_token_memo_verify(c, memo, v, tok, strlen(tok), now);
}

START_TEST(same_claims_as_verify)
{
    const char *tok = mint(7, IAT + 600);
    pv_token_claims_t a, b, c;

    ck_assert_int_eq(pv_token_verify(&a, verifier, tok, strlen(tok), IAT + 1),
                     PV_TOKEN_OK);
    ck_assert_int_eq(via_memo(&b, tok, verifier, IAT + 1), PV_TOKEN_OK);
    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 2), PV_TOKEN_OK);
    ck_assert_uint_eq(b.sub, a.sub);
    ck_assert_uint_eq(c.sub, 7);
    ck_assert_int_eq(c.iat, a.iat);
    ck_assert_int_eq(c.exp, a.exp);
    ck_assert_uint_eq(c.ver, 4);
    ck_assert_int_eq(c.has_ver, 1);
    ck_assert_int_eq(c.legacy, 0);
    ck_assert_int_eq(c.alg, a.alg);
    ck_assert_uint_eq(c.img, 0);
    ck_assert_ptr_eq(c.kid, a.kid);
    ck_assert_str_eq(c.kid, "k1");
}
END_TEST

START_TEST(expiry_checked_at_each_use)
{
    const char *tok = mint(7, IAT + 600);
    pv_token_claims_t c;

    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 1), PV_TOKEN_OK);
    /* Kept, but past exp + leeway: refused, as verify refuses it. */
    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 600 + LEEWAY),
                     PV_TOKEN_EXPIRED);
    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 600 + LEEWAY - 1),
                     PV_TOKEN_OK);
    /* A clock set back before the verification: verified again. */
    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT - LEEWAY - 1),
                     PV_TOKEN_NOT_YET_VALID);
}
END_TEST

START_TEST(only_the_same_bytes)
{
    const char *tok = mint(7, IAT + 600);
    char *forged = apr_pstrdup(pool, tok);
    apr_size_t n = strlen(forged);
    pv_token_claims_t c;

    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 1), PV_TOKEN_OK);
    /* Same length, one byte of the signature changed. */
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(via_memo(&c, forged, verifier, IAT + 1),
                     PV_TOKEN_BAD_SIGNATURE);
    /* Refused, so not kept: refused again. */
    ck_assert_int_eq(via_memo(&c, forged, verifier, IAT + 1),
                     PV_TOKEN_BAD_SIGNATURE);
    /* The original is still there and still good. */
    ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 1), PV_TOKEN_OK);
}
END_TEST

START_TEST(kept_per_verifier)
{
    const char *tok = mint(7, IAT + 600);
    pv_token_claims_t a, b;

    ck_assert_int_eq(via_memo(&a, tok, verifier, IAT + 1), PV_TOKEN_OK);
    ck_assert_int_eq(via_memo(&b, tok, other, IAT + 1), PV_TOKEN_OK);
    ck_assert_uint_eq(a.sub, b.sub);
}
END_TEST

START_TEST(many_tokens)
{
    pv_token_claims_t c;
    apr_uint64_t sub;

    for (sub = 1; sub <= 4 * PV_TOKEN_MEMO_SLOTS; sub++) {
        const char *tok = mint(sub, IAT + 600);

        ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 1), PV_TOKEN_OK);
        ck_assert_uint_eq(c.sub, sub);
        ck_assert_int_eq(via_memo(&c, tok, verifier, IAT + 1), PV_TOKEN_OK);
        ck_assert_uint_eq(c.sub, sub);
    }
}
END_TEST

START_TEST(no_memo_is_verify)
{
    const char *tok = mint(7, IAT + 600);
    pv_token_claims_t c;

    ck_assert_int_eq(
        pv_token_memo_verify(&c, NULL, verifier, tok, strlen(tok), IAT + 1),
        PV_TOKEN_OK);
    ck_assert_int_eq(pv_token_memo_verify(&c, memo, verifier, "", 0, IAT + 1),
                     PV_TOKEN_EMPTY);
}
END_TEST

Suite *pv_test_token_memo_suite(void)
{
    Suite *s = suite_create("token_memo");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, same_claims_as_verify);
    tcase_add_test(tc, expiry_checked_at_each_use);
    tcase_add_test(tc, only_the_same_bytes);
    tcase_add_test(tc, kept_per_verifier);
    tcase_add_test(tc, many_tokens);
    tcase_add_test(tc, no_memo_is_verify);
    suite_add_tcase(s, tc);
    return s;
}
