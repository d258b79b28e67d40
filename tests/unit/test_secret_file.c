/* pv_secret_file: 0600 whatever the umask, 0640 for a group, O_EXCL unless
 * forced, a rename when forced, symlinks refused; and what preview-token
 * hash and the admins' log lines take from the core: a bcrypt hash the
 * check takes, a pasted htpasswd line named as such, one word a token
 * result. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "pv_password.h"
#include "pv_secret_file.h"
#include "pv_token.h"

static apr_pool_t *pool;
static char dir[] = "/tmp/pv-unit-secret-XXXXXX";

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            unlink(apr_psprintf(pool, "%s/%s", dir, e->d_name));
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
    apr_pool_destroy(pool);
    apr_terminate();
}

static unsigned int mode_of(const char *path)
{
    unsigned int mode = 0;

    ck_assert_int_eq(pv_secret_file_mode(&mode, path), APR_SUCCESS);
    return mode;
}

static const char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(mode_0600_under_any_umask)
{
    static const mode_t masks[] = {0000, 0022, 0077, 0277};
    const char *err = NULL;
    int i;

    for (i = 0; i < 4; i++) {
        const char *f = apr_psprintf(pool, "%s/k%d", dir, i);
        mode_t old = umask(masks[i]);

        ck_assert_int_eq(
            pv_secret_file_write(&err, f, "a b\n", 4, (gid_t)-1, 0, pool),
            APR_SUCCESS);
        umask(old);
        ck_assert_uint_eq(mode_of(f), 0600);
        ck_assert_str_eq(slurp(f), "a b\n");
    }
}
END_TEST

START_TEST(group_gets_0640)
{
    const char *f = apr_psprintf(pool, "%s/g", dir);
    const char *err = NULL;
    struct stat st;

    ck_assert_int_eq(
        pv_secret_file_write(&err, f, "x\n", 2, getegid(), 0, pool),
        APR_SUCCESS);
    ck_assert_uint_eq(mode_of(f), 0640);
    ck_assert_int_eq(stat(f, &st), 0);
    ck_assert_uint_eq(st.st_gid, getegid());
}
END_TEST

START_TEST(existing_refused_unless_forced)
{
    const char *f = apr_psprintf(pool, "%s/e", dir);
    const char *err = NULL;
    apr_status_t rv;

    ck_assert_int_eq(
        pv_secret_file_write(&err, f, "old\n", 4, (gid_t)-1, 0, pool),
        APR_SUCCESS);
    chmod(f, 0644);
    rv = pv_secret_file_write(&err, f, "new\n", 4, (gid_t)-1, 0, pool);
    ck_assert(APR_STATUS_IS_EEXIST(rv));
    ck_assert_ptr_nonnull(strstr(err, "exists"));
    ck_assert_str_eq(slurp(f), "old\n");
    ck_assert_int_eq(
        pv_secret_file_write(&err, f, "new\n", 4, (gid_t)-1, 1, pool),
        APR_SUCCESS);
    ck_assert_str_eq(slurp(f), "new\n");
    /* a new file renamed over the old one: the old mode is gone */
    ck_assert_uint_eq(mode_of(f), 0600);
    ck_assert_int_ne(
        access(apr_psprintf(pool, "%s.new-%ld", f, (long)getpid()), F_OK), 0);
}
END_TEST

START_TEST(symlink_refused)
{
    const char *target = apr_psprintf(pool, "%s/target", dir);
    const char *link = apr_psprintf(pool, "%s/link", dir);
    const char *err = NULL;

    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_ne(
        pv_secret_file_write(&err, link, "x\n", 2, (gid_t)-1, 0, pool),
        APR_SUCCESS);
    ck_assert_int_ne(
        pv_secret_file_write(&err, link, "x\n", 2, (gid_t)-1, 1, pool),
        APR_SUCCESS);
    ck_assert_int_ne(access(target, F_OK), 0);
}
END_TEST

START_TEST(bcrypt_hash_checks)
{
    const char *h = NULL;
    int match = -1;

    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "s3cret", 6, 4, pool),
                     APR_SUCCESS);
    ck_assert_int_eq((int)strlen(h), 60);
    ck_assert(strncmp(h, "$2b$04$", 7) == 0);
    ck_assert_str_eq(pv_password_kind(h), "bcrypt");
    ck_assert_int_eq(pv_password_check(&match, NULL, "s3cret", 6, h, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(match, 1);
    ck_assert_int_eq(pv_password_check(&match, NULL, "s3cre", 5, h, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(match, 0);
    /* the bounds of the login's check, and of what bcrypt reads */
    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "x", 1, 3, pool),
                     PV_PASSWORD_EBOUNDS);
    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "x", 1, 15, pool),
                     PV_PASSWORD_EBOUNDS);
    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "", 0, 4, pool),
                     PV_PASSWORD_ETOOLONG);
    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "a\0b", 3, 4, pool),
                     PV_PASSWORD_ETOOLONG);
    ck_assert_int_eq(
        pv_password_hash_bcrypt(&h, apr_pstrcat(pool, "", NULL), 0, 4, pool),
        PV_PASSWORD_ETOOLONG);
    {
        char pw[74];

        memset(pw, 'a', sizeof(pw));
        ck_assert_int_eq(pv_password_hash_bcrypt(&h, pw, 72, 4, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(pv_password_hash_bcrypt(&h, pw, 73, 4, pool),
                         PV_PASSWORD_ETOOLONG);
    }
}
END_TEST

START_TEST(htpasswd_line_named)
{
    const char *h = NULL;
    const char *line;
    int match = -1;

    ck_assert_int_eq(pv_password_hash_bcrypt(&h, "pw", 2, 4, pool),
                     APR_SUCCESS);
    line = apr_pstrcat(pool, "alice:", h, NULL);
    ck_assert_int_eq(pv_password_check(&match, NULL, "pw", 2, line, pool),
                     PV_PASSWORD_EFORMAT);
    ck_assert_str_eq(pv_password_kind(line),
                     "an htpasswd line 'name:hash': store only the hash after "
                     "the ':'");
    /* Werkzeug's own colons are no htpasswd line, nor is garbage */
    ck_assert_str_eq(pv_password_kind("pbkdf2:sha256:1000$salt$00"), "pbkdf2");
    ck_assert_str_eq(pv_password_kind("alice:notahash"), "unknown");
    ck_assert_str_eq(pv_password_kind(":$2b$04$x"), "unknown");
}
END_TEST

START_TEST(token_words)
{
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_BAD_SIGNATURE),
                     "bad_signature");
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_EXPIRED), "expired");
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_MALFORMED), "malformed");
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_DUPLICATE_KEY), "malformed");
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_UNKNOWN_KID), "unknown_kid");
    ck_assert_str_eq(pv_token_result_word(PV_TOKEN_BAD_HEADER), "malformed");
    ck_assert_str_eq(pv_token_result_word((pv_token_result_e)999), "unknown");
}
END_TEST

Suite *pv_test_secret_file_suite(void)
{
    Suite *s = suite_create("secret_file");
    TCase *tc = tcase_create("secret_file");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mode_0600_under_any_umask);
    tcase_add_test(tc, group_gets_0640);
    tcase_add_test(tc, existing_refused_unless_forced);
    tcase_add_test(tc, symlink_refused);
    tcase_add_test(tc, bcrypt_hash_checks);
    tcase_add_test(tc, htpasswd_line_named);
    tcase_add_test(tc, token_words);
    suite_add_tcase(s, tc);
    return s;
}
