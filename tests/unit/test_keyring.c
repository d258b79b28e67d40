/* The key ring: PreviewKeyFile syntax, every refusal naming file and line,
 * and genkey's lines. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "pv_b64url.h"
#include "pv_keyring.h"

/* 32 bytes 0x00..0x1f and 32 bytes 0x20..0x3f */
#define SEC1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define SEC2 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
/* 64 bytes 0x00..0x3f */
#define SEC64                                                                  \
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1" \
    "Njc4OTo7PD0-Pw"
/* 31 bytes */
#define SEC31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"

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

static apr_status_t parse(pv_keyring_t **ring, const char **err,
                          const char *text)
{
    *ring = NULL;
    *err = NULL;
    return pv_keyring_parse(ring, err, text, strlen(text), "keys.txt", pool);
}

START_TEST(comments_blank_lines_crlf)
{
    pv_keyring_t *ring;
    const pv_key_t *k;
    const char *err;
    unsigned char want[32];
    int i;

    ck_assert_int_eq(parse(&ring, &err,
                           "# rotation: new key first\n"
                           "\n"
                           "   \t\n"
                           "  k-2024.b " SEC2 "  \r\n"
                           "    # the old key, until its tokens expire\n"
                           "k1\t" SEC1),
                     APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(pv_keyring_count(ring), 2);
    k = pv_keyring_signer(ring);
    ck_assert_str_eq(k->kid, "k-2024.b");
    ck_assert_uint_eq(k->secret_len, 32);
    for (i = 0; i < 32; i++) {
        want[i] = (unsigned char)(0x20 + i);
    }
    ck_assert_int_eq(memcmp(k->secret, want, 32), 0);
    k = pv_keyring_find(ring, "k1", 2);
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_eq(k, pv_keyring_get(ring, 1));
    ck_assert_uint_eq(k->secret[31], 0x1f);
    /* kid_len bounds the comparison: "k1x" with length 2 is "k1" */
    ck_assert_ptr_eq(pv_keyring_find(ring, "k1x", 2), k);
    ck_assert_ptr_null(pv_keyring_find(ring, "k", 1));
    ck_assert_ptr_null(pv_keyring_find(ring, "k1 ", 3));
    ck_assert_ptr_null(pv_keyring_get(ring, 2));
    ck_assert_ptr_null(pv_keyring_get(ring, -1));
}
END_TEST

START_TEST(secret_of_exactly_32_bytes)
{
    pv_keyring_t *ring;
    const char *err;

    ck_assert_int_eq(parse(&ring, &err, "a " SEC1 "\n"), APR_SUCCESS);
    ck_assert_int_eq(pv_keyring_count(ring), 1);
}
END_TEST

START_TEST(long_secret_ok)
{
    pv_keyring_t *ring;
    const char *err;

    ck_assert_int_eq(parse(&ring, &err, "a " SEC64 "\n"), APR_SUCCESS);
    ck_assert_uint_eq(pv_keyring_signer(ring)->secret_len, 64);
}
END_TEST

static const struct {
    const char *text;
    const char *err;
} bad[] = {
    {"# one\nk1 " SEC1 "\nk2 " SEC31 "\n",
     "keys.txt:3: secret too short (31 bytes, at least 32 required)"},
    {"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
     "keys.txt:1: secret is not base64url without padding (or longer than "
     "512 bytes)"},
    {"\n\nk1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+/\n",
     "keys.txt:3: secret is not base64url without padding (or longer than "
     "512 bytes)"},
    {"k1 " SEC1 "\n# c\nk1 " SEC2 "\n", "keys.txt:3: duplicate key id 'k1'"},
    {"", "keys.txt: no key (expected lines '<kid> <secret>')"},
    {"# only comments\n\n   \n", "keys.txt: no key (expected lines "
                                 "'<kid> <secret>')"},
    {"k1\n", "keys.txt:1: expected '<kid> <secret>'"},
    {"k1 " SEC1 " extra\n", "keys.txt:1: extra text after the secret "
                            "(expected '<kid> <secret>')"},
    {"k\"1 " SEC1 "\n", "keys.txt:1: bad key id (1 to 64 characters of "
                        "A-Z a-z 0-9 . _ -)"},
    {"0123456789012345678901234567890123456789012345678901234567890123X " SEC1
     "\n",
     "keys.txt:1: bad key id (1 to 64 characters of A-Z a-z 0-9 . _ -)"},
};

START_TEST(refused_naming_the_line)
{
    pv_keyring_t *ring;
    const char *err;

    ck_assert_int_eq(parse(&ring, &err, bad[_i].text), APR_EINVAL);
    ck_assert_ptr_null(ring);
    ck_assert_str_eq(err, bad[_i].err);
    /* never the secret in the message */
    ck_assert_ptr_null(strstr(err, "AAECAwQF"));
    ck_assert_ptr_null(strstr(err, "ICEiIyQl"));
}
END_TEST

START_TEST(nul_byte_refused)
{
    pv_keyring_t *ring = NULL;
    const char *err;
    const char text[] = "k1 " SEC1 "\nk2\0 " SEC2 "\n";

    ck_assert_int_eq(
        pv_keyring_parse(&ring, &err, text, sizeof(text) - 1, "f", pool),
        APR_EINVAL);
    ck_assert_str_eq(err, "f:2: NUL byte in line");
}
END_TEST

START_TEST(load_file)
{
    char path[] = "/tmp/pv-keyring-XXXXXX";
    pv_keyring_t *ring = NULL;
    const char *err;
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs("# test ring\nk1 " SEC1 "\nk2 " SEC2 "\n", f);
    fclose(f);
    ck_assert_int_eq(pv_keyring_load(&ring, &err, path, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_keyring_count(ring), 2);
    ck_assert_str_eq(pv_keyring_signer(ring)->kid, "k1");
    unlink(path);
}
END_TEST

START_TEST(load_bad_file_names_file_and_line)
{
    char path[] = "/tmp/pv-keyring-XXXXXX";
    pv_keyring_t *ring = NULL;
    const char *err;
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs("k1 " SEC1 "\nk2 AAAA\n", f);
    fclose(f);
    ck_assert_int_eq(pv_keyring_load(&ring, &err, path, pool), APR_EINVAL);
    ck_assert_str_eq(err, apr_psprintf(pool,
                                       "%s:2: secret too short (3 bytes, at "
                                       "least 32 required)",
                                       path));
    unlink(path);
}
END_TEST

START_TEST(missing_file_named)
{
    pv_keyring_t *ring = NULL;
    const char *err;

    ck_assert_int_ne(
        pv_keyring_load(&ring, &err, "/nonexistent/pv/keys.txt", pool),
        APR_SUCCESS);
    ck_assert_ptr_null(ring);
    ck_assert_str_eq(err, "/nonexistent/pv/keys.txt: cannot open key file: "
                          "No such file or directory");
}
END_TEST

START_TEST(directory_refused)
{
    pv_keyring_t *ring = NULL;
    const char *err;

    ck_assert_int_eq(pv_keyring_load(&ring, &err, "/tmp", pool), APR_EINVAL);
    ck_assert_str_eq(err, "/tmp: not a regular file of at most 65536 bytes");
}
END_TEST

START_TEST(file_read_whole_and_bounded)
{
    static const unsigned char bytes[10] = {'a', 'b', 'c',  0,   'd',
                                            'e', 'f', '\n', 'x', 'y'};
    char path[] = "/tmp/pv-keyring-XXXXXX";
    unsigned char *buf = NULL;
    apr_size_t len = 0;
    const char *err;
    int fd = mkstemp(path);

    ck_assert_int_eq(write(fd, bytes, sizeof(bytes)), (int)sizeof(bytes));
    close(fd);
    /* every byte, a NUL inside included, and a NUL after them */
    ck_assert_int_eq(
        pv_keyring_file_read(&buf, &len, &err, path, "secrets", 10, pool),
        APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_uint_eq(len, 10);
    ck_assert_mem_eq(buf, bytes, 10);
    ck_assert_int_eq(buf[10], 0);
    /* one byte over the bound: refused, nothing handed out */
    buf = NULL;
    ck_assert_int_eq(
        pv_keyring_file_read(&buf, &len, &err, path, "secrets", 9, pool),
        APR_EINVAL);
    ck_assert_ptr_null(buf);
    ck_assert_str_eq(
        err,
        apr_psprintf(pool, "%s: not a regular file of at most 9 bytes", path));
    /* an empty file is read (the callers judge it) */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    ck_assert_int_eq(
        pv_keyring_file_read(&buf, &len, &err, path, "secrets", 9, pool),
        APR_SUCCESS);
    ck_assert_uint_eq(len, 0);
    unlink(path);
    ck_assert_int_ne(
        pv_keyring_file_read(&buf, &len, &err, path, "secrets", 9, pool),
        APR_SUCCESS);
    ck_assert_str_eq(err, apr_psprintf(pool,
                                       "%s: cannot open secrets: No such file "
                                       "or directory",
                                       path));
}
END_TEST

START_TEST(make_and_add)
{
    pv_keyring_t *ring = pv_keyring_make(pool);
    unsigned char s[3] = {1, 2, 3};

    ck_assert_int_eq(pv_keyring_count(ring), 0);
    ck_assert_ptr_null(pv_keyring_signer(ring));
    ck_assert_ptr_null(pv_keyring_signer(NULL));
    pv_keyring_add(ring, "legacy", s, 3);
    s[0] = 9; /* the ring keeps its own copy */
    ck_assert_int_eq(pv_keyring_count(ring), 1);
    ck_assert_str_eq(pv_keyring_signer(ring)->kid, "legacy");
    ck_assert_uint_eq(pv_keyring_signer(ring)->secret[0], 1);
    ck_assert_uint_eq(pv_keyring_signer(ring)->secret_len, 3);
}
END_TEST

START_TEST(kid_valid)
{
    ck_assert_int_eq(pv_keyring_kid_valid("k1", 2), 1);
    ck_assert_int_eq(pv_keyring_kid_valid("a.b-c_D9", 8), 1);
    ck_assert_int_eq(pv_keyring_kid_valid("", 0), 0);
    ck_assert_int_eq(pv_keyring_kid_valid("a b", 3), 0);
    ck_assert_int_eq(pv_keyring_kid_valid("a\"b", 3), 0);
    ck_assert_int_eq(pv_keyring_kid_valid("a\\b", 3), 0);
    ck_assert_int_eq(pv_keyring_kid_valid("a/b", 3), 0);
}
END_TEST

START_TEST(genkey_line)
{
    const char *l1, *l2, *err, *sp;
    pv_keyring_t *ring;
    unsigned char sec[64];
    apr_size_t n;

    ck_assert_int_eq(pv_keyring_genkey(&l1, pool), APR_SUCCESS);
    ck_assert_int_eq(pv_keyring_genkey(&l2, pool), APR_SUCCESS);
    ck_assert_str_ne(l1, l2);
    /* "YYYYMMDD-xxxxxx <43 characters>" */
    ck_assert_uint_eq(strlen(l1), 15 + 1 + 43);
    sp = strchr(l1, ' ');
    ck_assert_ptr_nonnull(sp);
    ck_assert_int_eq(sp - l1, 15);
    ck_assert_int_eq(l1[8], '-');
    ck_assert_int_eq(pv_b64url_decode(sec, &n, sizeof(sec), sp + 1, 43), 0);
    ck_assert_uint_eq(n, 32);
    /* the lines make a valid key file, first line signing */
    ck_assert_int_eq(parse(&ring, &err, apr_pstrcat(pool, l1, "\n", l2, NULL)),
                     APR_SUCCESS);
    ck_assert_int_eq(pv_keyring_count(ring), 2);
    ck_assert_int_eq(strncmp(pv_keyring_signer(ring)->kid, l1, 15), 0);
    ck_assert_int_eq(memcmp(pv_keyring_signer(ring)->secret, sec, 32), 0);
}
END_TEST

Suite *pv_test_keyring_suite(void)
{
    Suite *s = suite_create("keyring");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, comments_blank_lines_crlf);
    tcase_add_test(tc, secret_of_exactly_32_bytes);
    tcase_add_test(tc, long_secret_ok);
    tcase_add_loop_test(tc, refused_naming_the_line, 0,
                        sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, nul_byte_refused);
    tcase_add_test(tc, load_file);
    tcase_add_test(tc, load_bad_file_names_file_and_line);
    tcase_add_test(tc, missing_file_named);
    tcase_add_test(tc, directory_refused);
    tcase_add_test(tc, file_read_whole_and_bounded);
    tcase_add_test(tc, make_and_add);
    tcase_add_test(tc, kid_valid);
    tcase_add_test(tc, genkey_line);
    suite_add_tcase(s, tc);
    return s;
}
