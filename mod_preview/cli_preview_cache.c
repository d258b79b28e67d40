/* preview-cache: report on, trim, purge a PreviewCacheDir, or remove one
 * image's previews, while httpd runs (as htcacheclean does for
 * mod_cache_disk). The layout, the eviction order and the lock are
 * pv_cache's, the module's own. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "pv_cache.h"
#include "pv_num.h"
#include "pv_request.h"

#define PROG "preview-cache"

/* Exit statuses (README: CLI preview-cache). */
#define EXIT_FAILED     1 /* a file could not be read or removed */
#define EXIT_USAGE      2
#define EXIT_NOT_CACHE  3 /* DIR is missing, not a folder, or not a cache */
#define EXIT_PERMISSION 4 /* permission denied */

static const char usage[] =
    "usage: " PROG " --dir DIR [--limit SIZE | --purge | --image ID]\n"
    "\n"
    "Tends a mod_preview cache folder (PreviewCacheDir) while httpd runs.\n"
    "  --dir DIR     the cache folder; alone: a report of its entries,\n"
    "                bytes, image folders and least recently used entry\n"
    "  --limit SIZE  remove least recently used entries (the module's\n"
    "                sweep order) until they take at most SIZE: bytes, or\n"
    "                with K, M, G or T (powers of 1024) as\n"
    "                PreviewCacheMaxSize; 0 removes every entry\n"
    "  --purge       remove every entry; the folder and the sweeper's lock\n"
    "                file stay\n"
    "  --image ID    remove every preview of one image (images.id)\n"
    "  --help        this text\n"
    "\n"
    "Leftovers (an older layout's entries, abandoned temp files) are\n"
    "counted by the report and removed by --limit and --purge. Run it as\n"
    "httpd's user or as root.\n"
    "exit status: 0 success, 1 a file could not be read or removed, 2 usage\n"
    "error, 3 DIR is not a preview cache folder, 4 permission denied.\n";

typedef enum { OP_REPORT, OP_LIMIT, OP_PURGE, OP_IMAGE } op_e;

typedef struct cli_args_t {
    const char *dir;
    op_e op;
    apr_uint64_t limit;
    apr_uint64_t image;
} cli_args_t;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

/* 0, or the exit status of a bad command line. */
static int parse_args(cli_args_t *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'},
        {"purge", no_argument, NULL, 'p'},
        {"image", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch, ops = 0;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
            case 'd':
                if (a->dir) {
                    return usage_error("--dir given twice%s", "");
                }
                a->dir = optarg;
                break;
            case 'l':
                if (pv_num_parse_scaled(&a->limit, optarg, 1024,
                                        APR_INT64_MAX) != APR_SUCCESS) {
                    return usage_error(
                        "bad --limit SIZE '%s' (bytes, or a number "
                        "with K, M, G or T)",
                        optarg);
                }
                a->op = OP_LIMIT;
                ops++;
                break;
            case 'p':
                a->op = OP_PURGE;
                ops++;
                break;
            case 'i':
                if (pv_request_parse_id(&a->image, optarg, strlen(optarg)) !=
                    APR_SUCCESS) {
                    return usage_error(
                        "bad --image ID '%s' (a decimal image id, "
                        "at most 18446744073709551615)",
                        optarg);
                }
                a->op = OP_IMAGE;
                ops++;
                break;
            case 'h':
                fputs(usage, stdout);
                return -1;
            case ':':
                return usage_error("%s needs a value", argv[optind - 1]);
            default:
                return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (!a->dir || !*a->dir) {
        return usage_error("--dir DIR is required%s", "");
    }
    if (ops > 1) {
        return usage_error("give at most one of --limit, --purge, --image%s",
                           "");
    }
    return 0;
}

static int exit_for(apr_status_t rv)
{
    return APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM)
               ? EXIT_PERMISSION
               : EXIT_FAILED;
}

/* "preview-cache: <path>: <reason>", the exit status for it. */
static int fail(const char *path, apr_status_t rv, const char *what)
{
    char buf[256];

    if (rv == PV_CACHE_NOT_A_CACHE) {
        fprintf(stderr,
                PROG ": %s: not a preview cache folder (it holds other files "
                     "and neither .pvsweep.lock nor a 00..ff folder)\n",
                path);
        return EXIT_NOT_CACHE;
    }
    fprintf(stderr, PROG ": %s%s%s: %s\n", what ? what : "", what ? " " : "",
            path, apr_strerror(rv, buf, sizeof(buf)));
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        return EXIT_NOT_CACHE;
    }
    return exit_for(rv);
}

static void print_left(const pv_cache_stats_t *st, apr_time_t now)
{
    char date[APR_RFC822_DATE_LEN];

    printf("entries:  %" APR_UINT64_T_FMT "\n", st->entries);
    printf("bytes:    %" APR_UINT64_T_FMT "\n", st->bytes);
    printf("images:   %" APR_UINT64_T_FMT "\n", st->images);
    if (st->entries && apr_rfc822_date(date, st->oldest) == APR_SUCCESS) {
        printf("oldest:   %s, last used %" APR_INT64_T_FMT " s ago\n", date,
               (apr_int64_t)apr_time_sec(now - st->oldest));
    }
    else {
        printf("oldest:   -\n");
    }
}

/* What went, what failed: the exit status of the operation. */
static int print_done(const pv_cache_stats_t *st, const char *what)
{
    printf("removed:  %" APR_UINT64_T_FMT " entries, %" APR_UINT64_T_FMT
           " bytes%s\n",
           st->removed, st->removed_bytes, what);
    if (st->failed) {
        fprintf(stderr,
                PROG ": %" APR_UINT64_T_FMT " names could not be read or "
                     "removed; the first:\n",
                st->failed);
        return fail(st->error_path, st->error, NULL);
    }
    return 0;
}

static int run(const cli_args_t *a, apr_pool_t *p)
{
    pv_cache_t *c = NULL;
    pv_cache_stats_t st;
    apr_file_t *lock = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if ((rv = pv_cache_create(&c, a->dir, 0, NULL, p)) != APR_SUCCESS ||
        (rv = pv_cache_check(c, p)) != APR_SUCCESS) {
        return fail(a->dir, rv, NULL);
    }
    printf("cache:    %s\n", pv_cache_dir(c));
    if (a->op == OP_REPORT) {
        if ((rv = pv_cache_scan(&st, c, p)) != APR_SUCCESS) {
            return fail(a->dir, rv, NULL);
        }
        print_left(&st, now);
        printf("leftover: %" APR_UINT64_T_FMT " files, %" APR_UINT64_T_FMT
               " bytes (an older layout's entries, abandoned temp files)\n",
               st.leftovers, st.leftover_bytes);
        return st.failed ? fail(st.error_path, st.error, NULL) : 0;
    }
    /* One walker at a time with the module's sweeper (it waits for us,
     * we wait for it). */
    if ((rv = pv_cache_lock(&lock, c, 1, p)) != APR_SUCCESS) {
        return fail(apr_pstrcat(p, pv_cache_dir(c), "/.pvsweep.lock", NULL), rv,
                    "cannot lock");
    }
    switch (a->op) {
        case OP_LIMIT:
            rv = pv_cache_trim(&st, c, (apr_off_t)a->limit, p);
            break;
        case OP_PURGE:
            rv = pv_cache_purge(&st, c, p);
            break;
        default:
            rv = pv_cache_remove_image(&st, c, a->image, p);
            printf("image:    %" APR_UINT64_T_FMT "\n", a->image);
            break;
    }
    apr_file_close(lock);
    if (rv != APR_SUCCESS) {
        return fail(a->dir, rv, NULL);
    }
    if (a->op != OP_IMAGE) {
        print_left(&st, now);
        printf("leftover: %" APR_UINT64_T_FMT
               " files removed, %" APR_UINT64_T_FMT " bytes\n",
               st.leftovers, st.leftover_bytes);
    }
    return print_done(&st, a->op == OP_IMAGE ? " (of this image)" : "");
}

int main(int argc, char **argv)
{
    cli_args_t a;
    apr_pool_t *p;
    int rc;

    memset(&a, 0, sizeof(a));
    a.op = OP_REPORT;
    if ((rc = parse_args(&a, argc, argv)) != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, PROG ": APR did not initialise\n");
        return EXIT_FAILED;
    }
    apr_pool_create(&p, NULL);
    rc = run(&a, p);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
