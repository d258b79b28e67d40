/* pv_password: every supported format against hashes made by the real tools
 * (htpasswd, openssl passwd, Werkzeug), malformed and hostile hashes, input
 * bounds, and the dummy check. Timings are printed, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "pv_password.h"

typedef struct {
    const char *name;
    const char *hash;
    const char *password;
} pw_vector_t;

/* clang-format off */
/* BEGIN VECTORS: made by tests/unit/make_password_vectors.py */
#define GOOD_PW "correct horse \xc3""\xa9"" battery"
#define WRONG_PW "correct horse \xc3""\xa9"" batterz"
static const pw_vector_t vectors[] = {
    {"htpasswd -nbB",
     "$2y$05$VByoqW79i0v2v.ugYvN8iuwe6ghif0UG/g60ykCJDt80kxUuIDLvy",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nb -2",
     "$5$ZBvdns.NTzxVB5wF$HUzeAOA3WE23A9wScJQGWcyp0U9UHJYw/NKN/7pt0qC",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug pbkdf2:sha256:1000",
     "pbkdf2:sha256:1000$binqkAjnkQrucEq0$357bc80f6072a4a1245b34359df0d38a1fa5dc4eea3f9a28990dde9ec65e37fc",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug 3 scrypt:1024:8:1",
     "scrypt:1024:8:1$tYKZZ4GNNxH1K6Xa$e890ffef7bed39cbc81551474ebba92ae8a6089dcbfa47ad3e384ce7ba84ce94f0d9dae443b84e12c00883ea32b4ce960b6e8e502b113d668dc7b91f35fbdbd7",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nbB (empty password)",
     "$2y$05$CQRXBqdVHOpU8iYuMomn/.aagNvo2T1n11Woa7bwTFCu/Ke4PKzwS",
     ""},
    {"htpasswd -nb -2 (empty password)",
     "$5$8GSGf3.qjMhCWpWK$1Z5.p2Xz5VZK78wqnyE9hkzHDZTML1Ep1WGQr/mTUUB",
     ""},
    {"werkzeug pbkdf2:sha256:1000 (empty password)",
     "pbkdf2:sha256:1000$rBVtir9OdjQkZx7F$4f88d87468857daf074121a7361f8f4f015cdf1495e82398d6974fcb23e25565",
     ""},
    {"werkzeug 3 scrypt:1024:8:1 (empty password)",
     "scrypt:1024:8:1$wGmwUUGEcZAGfIfb$746654f14cfd5e514bd0ce5ce7264e0d2166b33efbd384f0da5277f852703163491f3ddd58d41742ab788e18eceb27dae9e2394f78d00cf438b1f6748592bbb2",
     ""},
    {"htpasswd -nbB -C 10",
     "$2y$10$Jtncl4H.A/J2uJKAnOWEreb6OwVUDLJh29VkCDg7hZnJP1seox0B6",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nb -5",
     "$6$FJKl07HMYzwx90L7$/rOwjaFuicK7aj.iM0OlzSeQxl2DgQ7N0L0hElBdSTkosT6Oo0NeXmFPCYCbpaNTCWCGO6gJtLsI5ASZMhpQl.",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nb -5 -r 10000",
     "$6$rounds=10000$.moZFC48cE.eVV/p$8p9TbRrxnHR634uxPSbZpWLcqU/iBDIZshoVWcAtCOrnnA3/RbPTybyhq9ZuADeYORO.EmHogpUSdmxJb18lJ1",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nbm (apr1)",
     "$apr1$o65XVFDR$hRyBTPUSNjBYT/8SPFQ7z.",
     "correct horse \xc3""\xa9"" battery"},
    {"htpasswd -nbs ({SHA})",
     "{SHA}gSCeZkHPIESyHejANHy1SzLAAj4=",
     "correct horse \xc3""\xa9"" battery"},
    {"openssl passwd -1 (md5-crypt)",
     "$1$Gyk4afrb$hPaIJkCjevGFbN/Uou/d11",
     "correct horse \xc3""\xa9"" battery"},
    {"python crypt bcrypt $2b$",
     "$2b$05$XDWvZXISwO3SvbgscEhYmuVuJUFaHj5RuCg/vEuBh.689UbOB0gAu",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug pbkdf2:sha1:1000",
     "pbkdf2:sha1:1000$ZujLzPLwhI5j8s30$dbdccdefd14d11302cb2c3ee9908f2adb727a3a8",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug pbkdf2:sha512:1000",
     "pbkdf2:sha512:1000$JrbLop7XPaPcpR0j$ea6b636c04a9bdb8576f4f91be00d648a1137abdf64b57affd7ffb60c9c4c50b9b7eade834d65b44b9aaa3f5de4774206ee660199f95bc7ae7db6e5ed594a965",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug default (Debian 12: pbkdf2:sha256:260000)",
     "scrypt:32768:8:1$DdIBCAtpBviAvMLS$fe2c6401f969a2493829a2eba7851622101f67ea980e552e0e3cbc089563b48cf84825a9854a43550c5cac819bcb96001a230ce9789c7bd09d28c340136b3c86",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug 3 default scrypt:32768:8:1",
     "scrypt:32768:8:1$S73BG2TIbGk0HXDL$da86b5fff39f2e0237ccbb630d1ac15554f5de4a0a061c24c5bda90f357fd390d2bd309e3853f1690260d1c9eca6be102defe66f133151fcd9d61b055b495ae4",
     "correct horse \xc3""\xa9"" battery"},
    {"werkzeug 3 scrypt:1024:8:2, 8-byte salt",
     "scrypt:1024:8:2$hVOrBybF$f900ecddf784170a04885b5db02bf133ef6aed1336e58164e53eec23c613d01b09999fae30a4cc35e08e79ad5e92eed11dba8719c8ea913289369717be487e5c",
     "correct horse \xc3""\xa9"" battery"},
};
/* END VECTORS */
/* clang-format on */

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* pv_password_check on a C-string password; match is -1 when untouched. */
static apr_status_t check(int *match, const char *pw, const char *hash)
{
    *match = -1;
    return pv_password_check(match, NULL, pw, strlen(pw), hash, pool);
}

START_TEST(right_password_matches)
{
    const pw_vector_t *v = &vectors[_i];
    int match;

    ck_assert_msg(check(&match, v->password, v->hash) == APR_SUCCESS, "%s",
                  v->name);
    ck_assert_msg(match == 1, "%s: right password refused", v->name);
}
END_TEST

START_TEST(wrong_password_does_not_match)
{
    const pw_vector_t *v = &vectors[_i];
    const char *wrong = v->password[0] ? WRONG_PW : "x";
    int match;

    ck_assert_msg(check(&match, wrong, v->hash) == APR_SUCCESS, "%s", v->name);
    ck_assert_msg(match == 0, "%s: wrong password accepted", v->name);
    /* The empty password is a wrong password too, and vice versa. */
    ck_assert_int_eq(check(&match, v->password[0] ? "" : GOOD_PW, v->hash),
                     APR_SUCCESS);
    ck_assert_int_eq(match, 0);
}
END_TEST

START_TEST(truncated_hash_is_an_error)
{
    const pw_vector_t *v = &vectors[_i];
    apr_size_t len = strlen(v->hash), cut;
    int match;

    for (cut = 0; cut < len; cut += (cut < 8 ? 1 : 7)) {
        char *t = apr_pstrndup(pool, v->hash, cut);
        apr_status_t rv = check(&match, v->password, t);
        ck_assert_msg(rv == PV_PASSWORD_EFORMAT, "%s cut at %zu: %d", v->name,
                      (size_t)cut, rv);
        ck_assert_int_eq(match, -1);
    }
    /* One character more is malformed too. */
    ck_assert_int_eq(
        check(&match, v->password, apr_pstrcat(pool, v->hash, "a", NULL)),
        PV_PASSWORD_EFORMAT);
}
END_TEST

START_TEST(changed_digest_does_not_match)
{
    const pw_vector_t *v = &vectors[_i];
    char *t = apr_pstrdup(pool, v->hash);
    apr_size_t last = strlen(t) - 1;
    int match;

    /* Replace the second-to-last digest character with another of the same
     * alphabet ('=' ends {SHA}; crypt's last character has spare bits). */
    last--;
    t[last] = t[last] == '0' ? '1' : '0';
    ck_assert_msg(check(&match, v->password, t) == APR_SUCCESS, "%s", v->name);
    ck_assert_msg(match == 0, "%s: altered digest matched", v->name);
}
END_TEST

/* Published known answers, independent of the tools above: crypt_blowfish's
 * own test ($2a$), RFC 6070 (PBKDF2-HMAC-SHA1) and RFC 7914 (scrypt), the
 * last two written the way Werkzeug stores them. */
START_TEST(known_answers)
{
    static const struct {
        const char *hash, *password;
    } kat[] = {
        {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
        {"pbkdf2:sha1:1$salt$0c60c80f961f0e71f3a9b524af6012062fe037a6",
         "password"},
        {"pbkdf2:sha1:4096$salt$4b007901b765489abead49d926f721d065a429c1",
         "password"},
        {"scrypt:1024:8:16$NaCl$"
         "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830"
         "e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360"
         "cbdfa2cc0640",
         "password"},
    };
    unsigned i;
    int match;

    for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        ck_assert_msg(check(&match, kat[i].password, kat[i].hash) ==
                          APR_SUCCESS,
                      "%s", kat[i].hash);
        ck_assert_msg(match == 1, "%s", kat[i].hash);
        ck_assert_int_eq(check(&match, "passwore", kat[i].hash), APR_SUCCESS);
        ck_assert_int_eq(match, 0);
    }
}
END_TEST

START_TEST(plain_text_and_unknown_formats_refused)
{
    static const char *const refused[] = {
        "secret",        /* plain text equal to the password */
        "plain$$secret", /* Werkzeug's "plain" method */
        "sha256$salt$"   /* Werkzeug < 2.3 salted HMAC, unsupported */
        "b0e0ec7fa0a89577c9341c16cff870789221b310a02cc465f464789407f83f37",
        "sha1$$e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
        "abQ9KY.KfrYrc",        /* DES crypt (htpasswd -d) */
        "_J9..CCCCXBrJUJV154M", /* BSDi extended DES */
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd."
        "Ez9nyf3", /* yescrypt: not one of ours */
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{SSHA}c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
        "",
        "$",
        "$$$",
        "pbkdf2",
        "pbkdf2:sha256$salt$0000", /* iterations absent: version-dependent */
        "pbkdf2:sha256:$salt$0000",
        "scrypt",
        "scrypt:::$s$00",
    };
    unsigned i;
    int match;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ck_assert_msg(check(&match, "secret", refused[i]) ==
                          PV_PASSWORD_EFORMAT,
                      "accepted: %s", refused[i]);
        ck_assert_int_eq(match, -1);
    }
    ck_assert_int_eq(pv_password_check(&match, NULL, "", 0, NULL, pool),
                     PV_PASSWORD_EFORMAT);
    ck_assert_int_eq(pv_password_check(&match, NULL, "", 0, "", pool),
                     PV_PASSWORD_EFORMAT);
    ck_assert_str_eq(pv_password_kind("secret"), "unknown");
    ck_assert_str_eq(pv_password_kind(NULL), "unknown");
}
END_TEST

/* Parse a known-good vector with one part replaced by another text. */
static const char *vector_hash(const char *prefix)
{
    unsigned i;
    for (i = 0; i < NVECTORS; i++) {
        if (strncmp(vectors[i].hash, prefix, strlen(prefix)) == 0) {
            return vectors[i].hash;
        }
    }
    ck_abort_msg("no vector starting with %s", prefix);
    return NULL;
}

static const char *with_method(const char *method, const char *like)
{
    return apr_pstrcat(pool, method, strchr(like, '$'), NULL);
}

START_TEST(hostile_costs_refused)
{
    const char *bc = vector_hash("$2y$05$") + 7;
    const char *pb = vector_hash("pbkdf2:sha256:1000$");
    const char *sc = vector_hash("scrypt:1024:8:1$");
    const char *sha = strchr(vector_hash("$6$rounds=10000$") + 3, '$');
    struct {
        const char *hash;
        apr_status_t rv;
    } cases[] = {
        {apr_pstrcat(pool, "$2y$15$", bc, NULL), PV_PASSWORD_EBOUNDS},
        {apr_pstrcat(pool, "$2y$31$", bc, NULL), PV_PASSWORD_EBOUNDS},
        {apr_pstrcat(pool, "$2y$03$", bc, NULL), PV_PASSWORD_EFORMAT},
        {apr_pstrcat(pool, "$2y$5$", bc, NULL), PV_PASSWORD_EFORMAT},
        {apr_pstrcat(pool, "$6$rounds=999999999", sha, NULL),
         PV_PASSWORD_EBOUNDS},
        {apr_pstrcat(pool, "$6$rounds=1000001", sha, NULL),
         PV_PASSWORD_EBOUNDS},
        {apr_pstrcat(pool, "$6$rounds=99999999999999999999999", sha, NULL),
         PV_PASSWORD_EBOUNDS},
        {apr_pstrcat(pool, "$6$rounds=999", sha, NULL), PV_PASSWORD_EFORMAT},
        {apr_pstrcat(pool, "$6$rounds=010000", sha, NULL), PV_PASSWORD_EFORMAT},
        {apr_pstrcat(pool, "$6$rounds=-5", sha, NULL), PV_PASSWORD_EFORMAT},
        {with_method("pbkdf2:sha256:2000001", pb), PV_PASSWORD_EBOUNDS},
        {with_method("pbkdf2:sha256:4294967296", pb), PV_PASSWORD_EBOUNDS},
        {with_method("pbkdf2:sha256:99999999999999999999999", pb),
         PV_PASSWORD_EBOUNDS},
        {with_method("pbkdf2:sha256:0", pb), PV_PASSWORD_EFORMAT},
        {with_method("pbkdf2:sha256:-1", pb), PV_PASSWORD_EFORMAT},
        {with_method("pbkdf2:sha256:1e9", pb), PV_PASSWORD_EFORMAT},
        {with_method("pbkdf2:md5:1000", pb), PV_PASSWORD_EFORMAT},
        {with_method("pbkdf2:sha256:1000:1", pb), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1048576:8:1", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:131072:8:1", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:2147483648:8:1", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:1024:8:17", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:65536:8:5", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:1024:999999999:1", sc), PV_PASSWORD_EBOUNDS},
        {with_method("scrypt:1000:8:1", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:65536:1:1", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1:8:1", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1024:0:1", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1024:8:0", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1024:8", sc), PV_PASSWORD_EFORMAT},
        {with_method("scrypt:1024:8:1:1", sc), PV_PASSWORD_EFORMAT},
    };
    unsigned i;
    int match;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_time_t t0 = apr_time_now();
        apr_status_t rv = check(&match, GOOD_PW, cases[i].hash);
        ck_assert_msg(rv == cases[i].rv, "%s: got %d want %d", cases[i].hash,
                      rv, cases[i].rv);
        ck_assert_int_eq(match, -1);
        printf("refused in %6.1f ms: %.40s...\n",
               (double)(apr_time_now() - t0) / 1000.0, cases[i].hash);
    }
    /* The bounds themselves are accepted (cheap ones only here). */
    ck_assert_int_eq(
        check(&match, GOOD_PW, with_method("scrypt:16:4096:16", sc)),
        APR_SUCCESS);
    ck_assert_int_eq(match, 0);
    ck_assert_int_eq(
        check(&match, GOOD_PW, with_method("scrypt:262144:2:1", sc)),
        APR_SUCCESS);
    ck_assert_int_eq(match, 0);
    ck_assert_int_eq(
        check(&match, GOOD_PW, apr_pstrcat(pool, "$6$rounds=1000", sha, NULL)),
        APR_SUCCESS);
    ck_assert_int_eq(match, 0);
}
END_TEST

START_TEST(werkzeug_hex_is_lower_case_only)
{
    char *t = apr_pstrdup(pool, vector_hash("pbkdf2:sha256:1000$"));
    char *p;
    int match;

    for (p = strrchr(t, '$'); *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    ck_assert_int_eq(check(&match, GOOD_PW, t), PV_PASSWORD_EFORMAT);
}
END_TEST

START_TEST(kinds)
{
    ck_assert_str_eq(pv_password_kind(vector_hash("$2y$")), "bcrypt");
    ck_assert_str_eq(pv_password_kind(vector_hash("$2b$")), "bcrypt");
    ck_assert_str_eq(pv_password_kind(vector_hash("$5$")), "sha256-crypt");
    ck_assert_str_eq(pv_password_kind(vector_hash("$6$")), "sha512-crypt");
    ck_assert_str_eq(pv_password_kind(vector_hash("$1$")), "md5-crypt");
    ck_assert_str_eq(pv_password_kind(vector_hash("$apr1$")), "apr1-md5");
    ck_assert_str_eq(pv_password_kind(vector_hash("{SHA}")), "sha1");
    ck_assert_str_eq(pv_password_kind(vector_hash("pbkdf2:")), "pbkdf2");
    ck_assert_str_eq(pv_password_kind(vector_hash("scrypt:")), "scrypt");
    /* Known even when refused by a bound. */
    ck_assert_str_eq(pv_password_kind("$2y$31$x"), "bcrypt");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_EBOUNDS),
                     "password hash cost parameters beyond the allowed bounds");
    ck_assert_str_eq(pv_password_strerror(APR_SUCCESS), "ok");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_EFORMAT),
                     "unrecognised or malformed password hash");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_ETOOLONG),
                     "password too long");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_ECRYPTO),
                     "password hashing failed in the crypto library");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_EFORMAT - 1),
                     "unknown password error");
    ck_assert_str_eq(pv_password_strerror(PV_PASSWORD_ECRYPTO + 1),
                     "unknown password error");
    ck_assert_str_eq(pv_password_strerror(APR_EGENERAL),
                     "unknown password error");
}
END_TEST

START_TEST(password_length_bounds)
{
    const char *h = vector_hash("pbkdf2:sha256:1000$");
    char *big = malloc(PV_PASSWORD_MAX_LEN + 2);
    int match = -1;

    memset(big, 'a', PV_PASSWORD_MAX_LEN + 1);
    big[PV_PASSWORD_MAX_LEN + 1] = '\0';
    ck_assert_int_eq(
        pv_password_check(&match, NULL, big, PV_PASSWORD_MAX_LEN + 1, h, pool),
        PV_PASSWORD_ETOOLONG);
    ck_assert_int_eq(match, -1);
    ck_assert_int_eq(
        pv_password_check_dummy(NULL, big, PV_PASSWORD_MAX_LEN + 1, NULL, pool),
        PV_PASSWORD_ETOOLONG);
    ck_assert_int_eq(
        pv_password_check(&match, NULL, big, PV_PASSWORD_MAX_LEN, h, pool),
        APR_SUCCESS);
    ck_assert_int_eq(match, 0);
    free(big);
    /* A hash over the column's 255 characters is refused unread. */
    big = apr_pstrcat(pool, h,
                      "0000000000000000000000000000000000000000"
                      "0000000000000000000000000000000000000000"
                      "0000000000000000000000000000000000000000"
                      "0000000000000000000000000000000000000000",
                      NULL);
    ck_assert_int_eq(check(&match, GOOD_PW, big), PV_PASSWORD_EFORMAT);
}
END_TEST

START_TEST(nul_in_password_never_matches)
{
    const char *formats[] = {"$2y$",  "$5$",     "$apr1$", "$1$",
                             "{SHA}", "pbkdf2:", "scrypt:"};
    char pw[256];
    apr_size_t len = strlen(GOOD_PW);
    unsigned i;
    int match;

    memcpy(pw, GOOD_PW, len);
    memcpy(pw + len, "\0tail", 5);
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        match = -1;
        ck_assert_int_eq(pv_password_check(&match, NULL, pw, len + 5,
                                           vector_hash(formats[i]), pool),
                         APR_SUCCESS);
        ck_assert_msg(match == 0, "%s: matched with a NUL", formats[i]);
        /* The same bytes up to the NUL do match. */
        ck_assert_int_eq(pv_password_check(&match, NULL, pw, len,
                                           vector_hash(formats[i]), pool),
                         APR_SUCCESS);
        ck_assert_int_eq(match, 1);
    }
}
END_TEST

START_TEST(dummy_check)
{
    unsigned i;

    ck_assert_int_eq(pv_password_check_dummy(NULL, "x", 1, NULL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_password_check_dummy(NULL, "", 0, NULL, pool),
                     APR_SUCCESS);
    for (i = 0; i < NVECTORS; i++) {
        ck_assert_msg(pv_password_check_dummy(NULL, WRONG_PW, strlen(WRONG_PW),
                                              vectors[i].hash,
                                              pool) == APR_SUCCESS,
                      "%s", vectors[i].name);
    }
    ck_assert_int_eq(pv_password_check_dummy(NULL, "x", 1, "secret", pool),
                     PV_PASSWORD_EFORMAT);
    ck_assert_int_eq(pv_password_check_dummy(NULL, "x", 1, "$2y$20$x", pool),
                     PV_PASSWORD_EFORMAT);
}
END_TEST

/* The dummy (like NULL) runs the dearest profile checked so far in this
 * process: the first usable hash replaces the default, cheaper ones never
 * downgrade it, unusable hashes and dummies with `like` never teach it.
 * Check forks a process per test, so this one starts from the default. */
START_TEST(dummy_keeps_the_dearest_profile)
{
    static const struct {
        const char *checked; /* prefix of a vector's hash, or a bad hash */
        const char *dummy;   /* what the dummy hash starts with afterwards */
    } steps[] = {
        {NULL, "$2y$05$"},
        {"pbkdf2:sha1:1000$", "pbkdf2:sha1:1000$"},
        {"$2y$10$", "$2y$10$"},
        {"pbkdf2:sha256:1000$", "$2y$10$"},
        {"$2y$05$", "$2y$10$"},
        {"$6$rounds=10000$", "$2y$10$"},
        {"scrypt:32768:8:1$", "scrypt:32768:8:1$"},
        {"$2y$10$", "scrypt:32768:8:1$"},
        {"scrypt:1024:8:2$", "scrypt:32768:8:1$"},
        {"bad", "scrypt:32768:8:1$"},
    };
    unsigned i;
    int match;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const char *dummy;

        if (steps[i].checked && !strcmp(steps[i].checked, "bad")) {
            ck_assert_int_eq(check(&match, WRONG_PW, "pbkdf2:sha256:9$x$00"),
                             PV_PASSWORD_EFORMAT);
        }
        else if (steps[i].checked) {
            ck_assert_int_eq(
                check(&match, WRONG_PW, vector_hash(steps[i].checked)),
                APR_SUCCESS);
            ck_assert_int_eq(match, 0);
        }
        dummy = pv_password_dummy_hash(NULL, pool);
        ck_assert_msg(strncmp(dummy, steps[i].dummy, strlen(steps[i].dummy)) ==
                          0,
                      "step %u (after %s): dummy is %.24s, expected %s", i,
                      steps[i].checked ? steps[i].checked : "nothing", dummy,
                      steps[i].dummy);
    }
    /* A dummy like a cheaper hash runs that hash, and teaches nothing. */
    ck_assert_int_eq(pv_password_check_dummy(NULL, WRONG_PW, strlen(WRONG_PW),
                                             vector_hash("$2y$05$"), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(pv_password_dummy_hash(NULL, pool),
                     "scrypt:32768:8:1$klmnopqrstuvwxyz$"
                     "00000000000000000000000000000000000000000000000000000000"
                     "00000000000000000000000000000000000000000000000000000000"
                     "0000000000000000");
}
END_TEST

/* A profile of the caller's (in shared memory, as the module keeps one per
 * database) learns on its own: the process's profile (NULL) and another one
 * stay as they were; a sample of a stored hash teaches without a check; an
 * unusable sample teaches nothing. */
START_TEST(profiles_learn_apart)
{
    void *mem_a = apr_palloc(pool, pv_password_profile_size());
    void *mem_b = apr_palloc(pool, pv_password_profile_size());
    pv_password_profile_t *a, *b;
    int match;

    memset(mem_a, 0xff, pv_password_profile_size());
    a = pv_password_profile_init(mem_a);
    b = pv_password_profile_init(mem_b);
    ck_assert_int_eq(pv_password_profile_known(a), 0);
    ck_assert_str_eq(pv_password_dummy_hash(a, pool),
                     pv_password_dummy_hash(b, pool));
    ck_assert_int_eq(strncmp(pv_password_dummy_hash(a, pool), "$2y$05$", 7), 0);

    ck_assert_int_eq(pv_password_check(&match, a, WRONG_PW, strlen(WRONG_PW),
                                       vector_hash("$2y$10$"), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(match, 0);
    ck_assert_int_eq(pv_password_profile_known(a), 1);
    ck_assert_int_eq(strncmp(pv_password_dummy_hash(a, pool), "$2y$10$", 7), 0);
    ck_assert_int_eq(pv_password_profile_known(b), 0);
    ck_assert_int_eq(pv_password_profile_known(NULL), 0);

    ck_assert_int_eq(pv_password_profile_learn(b, "secret"),
                     PV_PASSWORD_EFORMAT);
    ck_assert_int_eq(pv_password_profile_learn(b, "$2y$20$" /* cost bound */
                                                  "abcdefghijklmnopqrstuvwxyzAB"
                                                  "CDEFGHIJKLMNOPQRSTUVWXYZ0"),
                     PV_PASSWORD_EBOUNDS);
    ck_assert_int_eq(pv_password_profile_learn(b, NULL), PV_PASSWORD_EFORMAT);
    ck_assert_int_eq(pv_password_profile_known(b), 0);
    ck_assert_int_eq(
        pv_password_profile_learn(b, vector_hash("scrypt:32768:8:1$")),
        APR_SUCCESS);
    ck_assert_int_eq(
        strncmp(pv_password_dummy_hash(b, pool), "scrypt:32768:8:1$", 17), 0);
    /* A cheaper sample does not downgrade it. */
    ck_assert_int_eq(pv_password_profile_learn(b, vector_hash("$2y$05$")),
                     APR_SUCCESS);
    ck_assert_int_eq(
        strncmp(pv_password_dummy_hash(b, pool), "scrypt:32768:8:1$", 17), 0);
    ck_assert_int_eq(strncmp(pv_password_dummy_hash(a, pool), "$2y$10$", 7), 0);
    ck_assert_int_eq(pv_password_profile_known(NULL), 0);
}
END_TEST

/* In shared memory, what one process learns every other one runs: a child
 * checks a hash, its parent's dummy is then of that kind. */
START_TEST(profile_shared_between_processes)
{
    void *mem = mmap(NULL, pv_password_profile_size(), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pv_password_profile_t *shared;
    int status = -1, match;
    pid_t pid;

    ck_assert_ptr_ne(mem, MAP_FAILED);
    shared = pv_password_profile_init(mem);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(pv_password_check(&match, shared, WRONG_PW, strlen(WRONG_PW),
                                vector_hash("pbkdf2:sha256:1000$"),
                                pool) == APR_SUCCESS
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(pv_password_profile_known(shared), 1);
    ck_assert_int_eq(strncmp(pv_password_dummy_hash(shared, pool),
                             "pbkdf2:sha256:1000$", 19),
                     0);
    ck_assert_int_eq(pv_password_profile_known(NULL), 0);
    munmap(mem, pv_password_profile_size());
}
END_TEST

static double ms_per_call(const char *pw, const char *hash, int dummy, int reps)
{
    apr_time_t best = 0;
    int r, match;

    for (r = 0; r < reps; r++) {
        apr_time_t t0 = apr_time_now(), dt;
        if (dummy) {
            pv_password_check_dummy(NULL, pw, strlen(pw), hash, pool);
        }
        else {
            pv_password_check(&match, NULL, pw, strlen(pw), hash, pool);
        }
        dt = apr_time_now() - t0;
        if (r == 0 || dt < best) {
            best = dt;
        }
    }
    return (double)best / 1000.0;
}

/* Prints: wrong password, right password, dummy like this hash, and the
 * learned dummy (like NULL) right after checking this hash (the dearest
 * profile checked so far, so it only grows down the table). */
START_TEST(timings)
{
    unsigned i;

    printf("%-50s %9s %9s %9s %9s\n", "format (best of 3, ms)", "wrong",
           "right", "dummy", "learned");
    for (i = 0; i < NVECTORS; i++) {
        const pw_vector_t *v = &vectors[i];
        double wrong, right, dummy, learned;
        if (!v->password[0]) {
            continue;
        }
        wrong = ms_per_call(WRONG_PW, v->hash, 0, 3);
        right = ms_per_call(v->password, v->hash, 0, 3);
        dummy = ms_per_call(WRONG_PW, v->hash, 1, 3);
        learned = ms_per_call(WRONG_PW, NULL, 1, 3);
        printf("%-50s %9.2f %9.2f %9.2f %9.2f\n", v->name, wrong, right, dummy,
               learned);
    }
}
END_TEST

Suite *pv_test_password_suite(void)
{
    Suite *s = suite_create("password");
    TCase *tc = tcase_create("formats");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, right_password_matches, 0, NVECTORS);
    tcase_add_loop_test(tc, wrong_password_does_not_match, 0, NVECTORS);
    tcase_add_loop_test(tc, truncated_hash_is_an_error, 0, NVECTORS);
    tcase_add_loop_test(tc, changed_digest_does_not_match, 0, NVECTORS);
    tcase_add_test(tc, known_answers);
    tcase_add_test(tc, plain_text_and_unknown_formats_refused);
    tcase_add_test(tc, hostile_costs_refused);
    tcase_add_test(tc, werkzeug_hex_is_lower_case_only);
    tcase_add_test(tc, kinds);
    tcase_add_test(tc, password_length_bounds);
    tcase_add_test(tc, nul_in_password_never_matches);
    tcase_add_test(tc, dummy_check);
    tcase_add_test(tc, dummy_keeps_the_dearest_profile);
    tcase_add_test(tc, profiles_learn_apart);
    tcase_add_test(tc, profile_shared_between_processes);
    tcase_add_test(tc, timings);
    suite_add_tcase(s, tc);
    return s;
}
