/* pv_source: the path rules, the under-root rule, and opening a source
 * under a real root (regular files, symlinks in and out of it, missing
 * files, directories, FIFOs), with the reasons the glue logs; each open
 * test runs twice: by path (pv_source_open) and beneath the root held open
 * (pv_source_open_at), which must answer alike. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_source.h"

static apr_pool_t *pool;
/* 1: the open tests go through pv_source_open_at() (their loop index) */
static int via_root;
static char base[] = "/tmp/pv_source_XXXXXX";
static const char *root;

static void put(const char *rel, const char *bytes)
{
    FILE *f = fopen(apr_pstrcat(pool, base, "/", rel, NULL), "w");

    ck_assert_ptr_nonnull(f);
    fputs(bytes, f);
    fclose(f);
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    strcpy(base, "/tmp/pv_source_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    root = apr_pstrcat(pool, base, "/root", NULL);
    ck_assert_int_eq(mkdir(root, 0700), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, root, "/sub", NULL), 0700), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, base, "/root2", NULL), 0700), 0);
    put("root/a.jpg", "12345");
    put("root/sub/b.png", "1234567");
    put("root2/c.jpg", "xyz");
    put("outside.jpg", "out");
    ck_assert_int_eq(symlink("sub/b.png", apr_pstrcat(pool, root, "/in", NULL)),
                     0);
    ck_assert_int_eq(
        symlink("../outside.jpg", apr_pstrcat(pool, root, "/out", NULL)), 0);
    /* The sibling whose name starts with the root's. */
    ck_assert_int_eq(
        symlink("../root2/c.jpg", apr_pstrcat(pool, root, "/sib", NULL)), 0);
    ck_assert_int_eq(symlink("..", apr_pstrcat(pool, root, "/up", NULL)), 0);
    ck_assert_int_eq(mkfifo(apr_pstrcat(pool, root, "/fifo", NULL), 0600), 0);
}

static void teardown(void)
{
    ck_assert_int_eq(system(apr_pstrcat(pool, "rm -rf '", base, "'", NULL)), 0);
    apr_pool_destroy(pool);
}

START_TEST(under_root_rule)
{
    ck_assert_int_eq(pv_source_under_root("/srv/img/a", "/srv/img", 8), 1);
    ck_assert_int_eq(pv_source_under_root("/srv/img/a/b", "/srv/img", 8), 1);
    ck_assert_int_eq(pv_source_under_root("/srv/img/a", "/srv/img/", 9), 1);
    ck_assert_int_eq(pv_source_under_root("/srv/img2/a", "/srv/img", 8), 0);
    ck_assert_int_eq(pv_source_under_root("/srv/img", "/srv/img", 8), 0);
    ck_assert_int_eq(pv_source_under_root("/srv/img/", "/srv/img/", 9), 0);
    ck_assert_int_eq(pv_source_under_root("/srv/im", "/srv/img", 8), 0);
    ck_assert_int_eq(pv_source_under_root("/etc/passwd", "/srv/img", 8), 0);
    ck_assert_int_eq(pv_source_under_root("/a", "/", 1), 1);
    ck_assert_int_eq(pv_source_under_root("/", "/", 1), 0);
}
END_TEST

static const char *why_of(const char *path, apr_size_t len)
{
    const char *why = NULL;
    apr_status_t rv = pv_source_check_path(&why, path, len);

    return rv == APR_SUCCESS ? "ok" : rv == PV_SOURCE_REFUSED ? why : "?";
}

START_TEST(path_rules)
{
    ck_assert_str_eq(why_of("a.jpg", 5), "ok");
    ck_assert_str_eq(why_of("a/b/c.jpg", 9), "ok");
    ck_assert_str_eq(why_of("..a", 3), "ok");
    ck_assert_str_eq(why_of("a/..b/c", 7), "ok");
    ck_assert_str_eq(why_of("a./.b", 5), "ok");
    ck_assert_str_eq(why_of("", 0), "empty path");
    ck_assert_str_eq(why_of("a\0b", 3), "NUL byte in the path");
    ck_assert_str_eq(why_of("/etc/passwd", 11), "absolute path");
    ck_assert_str_eq(why_of("..", 2), "'..' segment");
    ck_assert_str_eq(why_of("../a", 4), "'..' segment");
    ck_assert_str_eq(why_of("a/../b", 6), "'..' segment");
    ck_assert_str_eq(why_of("a/..", 4), "'..' segment");
    ck_assert_str_eq(why_of("a//../b", 7), "'..' segment");
}
END_TEST

static apr_status_t open_rel(pv_source_t **src, pv_source_error_t *e,
                             const char *rel)
{
    memset(e, 0, sizeof(*e));
    if (via_root) {
        pv_source_root_t *sr = NULL;

        ck_assert_int_eq(pv_source_root_open(&sr, root, pool), APR_SUCCESS);
        return pv_source_open_at(src, e, sr, rel, strlen(rel), pool);
    }
    return pv_source_open(src, e, root, rel, strlen(rel), pool);
}

START_TEST(open_regular_and_inner_symlink)
{
    via_root = _i;
    pv_source_t *src = NULL;
    pv_source_error_t e;
    struct stat st;
    char link[4096];
    ssize_t n;

    ck_assert_int_eq(open_rel(&src, &e, "a.jpg"), APR_SUCCESS);
    ck_assert_ptr_nonnull(src);
    ck_assert_int_eq(strncmp(src->name, "/proc/self/fd/", 14), 0);
    ck_assert_int_eq(src->st.st_size, 5);
    ck_assert(S_ISREG(src->st.st_mode));
    ck_assert_int_eq(stat(apr_pstrcat(pool, root, "/a.jpg", NULL), &st), 0);
    ck_assert_uint_eq(src->st.st_ino, st.st_ino);
    n = readlink(src->name, link, sizeof(link) - 1);
    ck_assert_int_gt(n, 0);
    link[n] = '\0';
    ck_assert_str_eq(link, apr_pstrcat(pool, root, "/a.jpg", NULL));

    /* A symlink inside the root to a file inside it: the target's inode. */
    src = NULL;
    ck_assert_int_eq(open_rel(&src, &e, "in"), APR_SUCCESS);
    ck_assert_int_eq(src->st.st_size, 7);
    ck_assert_int_eq(open_rel(&src, &e, "sub/b.png"), APR_SUCCESS);
    /* A trailing slash on the root changes nothing. */
    ck_assert_int_eq(pv_source_open(&src, &e,
                                    apr_pstrcat(pool, root, "/", NULL), "a.jpg",
                                    5, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(src->st.st_size, 5);
}
END_TEST

START_TEST(open_refused)
{
    via_root = _i;
    static const struct {
        const char *rel, *why;
    } v[] = {
        {"out", "resolves outside PreviewStorageRoot (symlink?)"},
        {"sib", "resolves outside PreviewStorageRoot (symlink?)"},
        {"up/outside.jpg", "resolves outside PreviewStorageRoot (symlink?)"},
        {"up/root", "resolves outside PreviewStorageRoot (symlink?)"},
        {"sub", "not a regular file"},
        {"fifo", "not a regular file"},
        {"a/../a.jpg", "'..' segment"},
        {"/etc/passwd", "absolute path"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        pv_source_t *src = NULL;
        pv_source_error_t e;

        ck_assert_msg(open_rel(&src, &e, v[i].rel) == PV_SOURCE_REFUSED, "%s",
                      v[i].rel);
        ck_assert_ptr_null(src);
        ck_assert_int_eq(e.status, PV_SOURCE_REFUSED);
        ck_assert_int_eq(e.missing, 0);
        ck_assert_str_eq(e.why, v[i].why);
    }
}
END_TEST

START_TEST(open_missing)
{
    via_root = _i;
    pv_source_t *src = NULL;
    pv_source_error_t e;

    ck_assert_int_eq(open_rel(&src, &e, "nope.jpg"), APR_FROM_OS_ERROR(ENOENT));
    ck_assert_ptr_null(src);
    ck_assert_int_eq(e.status, APR_FROM_OS_ERROR(ENOENT));
    ck_assert_int_eq(e.step, PV_SOURCE_STEP_RESOLVE);
    ck_assert_int_eq(e.missing, 1);
    ck_assert_str_eq(e.why, "cannot resolve");
    /* A file where a folder should be: missing too. */
    ck_assert_int_eq(open_rel(&src, &e, "a.jpg/x"), APR_FROM_OS_ERROR(ENOTDIR));
    ck_assert_int_eq(e.missing, 1);
    ck_assert_int_eq(e.step, PV_SOURCE_STEP_RESOLVE);
    /* A dangling symlink. */
    ck_assert_int_eq(symlink("gone", apr_pstrcat(pool, root, "/dang", NULL)),
                     0);
    ck_assert_int_eq(open_rel(&src, &e, "dang"), APR_FROM_OS_ERROR(ENOENT));
    ck_assert_int_eq(e.missing, 1);
}
END_TEST

START_TEST(open_loop_is_refused_not_missing)
{
    via_root = _i;
    pv_source_t *src = NULL;
    pv_source_error_t e;

    ck_assert_int_eq(symlink("loop", apr_pstrcat(pool, root, "/loop", NULL)),
                     0);
    ck_assert_int_eq(open_rel(&src, &e, "loop"), APR_FROM_OS_ERROR(ELOOP));
    ck_assert_int_eq(e.missing, 0);
    ck_assert_int_eq(e.step, PV_SOURCE_STEP_RESOLVE);
    ck_assert_str_eq(e.why, "cannot resolve");
}
END_TEST

/* The descriptor lives as long as the pool. */
START_TEST(descriptor_closed_with_pool)
{
    apr_pool_t *sub;
    pv_source_t *src = NULL;
    pv_source_error_t e;
    int fd;

    apr_pool_create(&sub, pool);
    ck_assert_int_eq(pv_source_open(&src, &e, root, "a.jpg", 5, sub),
                     APR_SUCCESS);
    fd = atoi(src->name + 14);
    ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    apr_pool_destroy(sub);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}
END_TEST

/* Beneath the held root: an absolute symlink to a file inside the root is
 * refused by openat2 and accepted by the path check, as before; a root
 * replaced since it was opened is read by its path again. */
START_TEST(open_at_falls_back_to_the_path_rules)
{
    pv_source_root_t *sr = NULL;
    pv_source_t *src = NULL;
    pv_source_error_t e;
    const char *moved = apr_pstrcat(pool, base, "/moved", NULL);

    ck_assert_int_eq(pv_source_root_open(&sr, root, pool), APR_SUCCESS);
    ck_assert_int_eq(symlink(apr_pstrcat(pool, root, "/a.jpg", NULL),
                             apr_pstrcat(pool, root, "/abs", NULL)),
                     0);
    ck_assert_int_eq(pv_source_open_at(&src, &e, sr, "abs", 3, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(src->st.st_size, 5);
    /* The held root renamed away, a new one at its path: the new one's
     * file, not the old one's. */
    ck_assert_int_eq(rename(root, moved), 0);
    ck_assert_int_eq(mkdir(root, 0700), 0);
    put("root/a.jpg", "123456789");
    sleep(1); /* the root is looked at once a second */
    ck_assert_int_eq(pv_source_open_at(&src, &e, sr, "a.jpg", 5, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(src->st.st_size, 9);
    ck_assert_int_eq(pv_source_open_at(&src, &e, sr, "sub/b.png", 9, pool),
                     APR_FROM_OS_ERROR(ENOENT));
    ck_assert_int_eq(e.missing, 1);
}
END_TEST

Suite *pv_test_source_suite(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, under_root_rule);
    tcase_add_test(tc, path_rules);
    tcase_add_loop_test(tc, open_regular_and_inner_symlink, 0, 2);
    tcase_add_loop_test(tc, open_refused, 0, 2);
    tcase_add_loop_test(tc, open_missing, 0, 2);
    tcase_add_loop_test(tc, open_loop_is_refused_not_missing, 0, 2);
    tcase_add_test(tc, descriptor_closed_with_pool);
    tcase_add_test(tc, open_at_falls_back_to_the_path_rules);
    suite_add_tcase(s, tc);
    return s;
}
