/* A preview's source resolved under the storage root and held open: the
 * path rules, the under-root rule, and the two ways to open it (O_PATH and
 * /proc, else realpath()), and the held root's one call (openat2). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/openat2.h>
#endif

#include <apr_strings.h>

#include "pv_source.h"

static apr_status_t close_fd(void *data)
{
    close((int)(apr_uintptr_t)data);
    return APR_SUCCESS;
}

static void keep_fd(int fd, apr_pool_t *p)
{
    apr_pool_cleanup_register(p, (void *)(apr_uintptr_t)fd, close_fd,
                              apr_pool_cleanup_null);
}

static apr_status_t refused(pv_source_error_t *perr, const char *why)
{
    perr->status = PV_SOURCE_REFUSED;
    perr->why = why;
    perr->missing = 0;
    return PV_SOURCE_REFUSED;
}

/* errno e of the call in step; which errors mean "no such file" depends
 * on the step (ENOTDIR: a component of the path is a file). */
static apr_status_t sys_failed(pv_source_error_t *perr, pv_source_step_e step,
                               int e)
{
    perr->status = APR_FROM_OS_ERROR(e);
    perr->step = step;
    perr->why = step == PV_SOURCE_STEP_OPEN ? "cannot open" : "cannot resolve";
    perr->missing =
        e == ENOENT || (e == ENOTDIR && step != PV_SOURCE_STEP_OPEN);
    return perr->status;
}

int pv_source_under_root(const char *path, const char *root, apr_size_t rlen)
{
    return strncmp(path, root, rlen) == 0 &&
           (root[rlen - 1] == '/' || path[rlen] == '/') && path[rlen] != '\0';
}

apr_status_t pv_source_check_path(const char **pwhy, const char *path,
                                  apr_size_t len)
{
    const char *seg;

    if (len == 0) {
        *pwhy = "empty path";
        return PV_SOURCE_REFUSED;
    }
    if (strlen(path) != len) {
        *pwhy = "NUL byte in the path";
        return PV_SOURCE_REFUSED;
    }
    if (path[0] == '/') {
        *pwhy = "absolute path";
        return PV_SOURCE_REFUSED;
    }
    for (seg = path; seg; seg = strchr(seg, '/')) {
        if (*seg == '/') {
            seg++;
        }
        if (seg[0] == '.' && seg[1] == '.' && (seg[2] == '/' || !seg[2])) {
            *pwhy = "'..' segment";
            return PV_SOURCE_REFUSED;
        }
    }
    return APR_SUCCESS;
}

/* open(path, flags), the descriptor closed by a cleanup of p. */
static apr_status_t open_kept(int *pfd, pv_source_error_t *perr,
                              pv_source_step_e step, const char *path,
                              int flags, apr_pool_t *p)
{
    int fd = open(path, flags);

    if (fd < 0) {
        return sys_failed(perr, step, errno);
    }
    keep_fd(fd, p);
    *pfd = fd;
    return APR_SUCCESS;
}

/* The inode held by fd (resolved: the name it was reached by), its
 * fstat() into src->st: it must be a regular file under root. */
static apr_status_t check_held(pv_source_t *src, pv_source_error_t *perr,
                               int fd, const char *resolved, const char *root)
{
    if (!pv_source_under_root(resolved, root, strlen(root))) {
        return refused(perr, "resolves outside PreviewStorageRoot (symlink?)");
    }
    if (fstat(fd, &src->st) != 0 || !S_ISREG(src->st.st_mode)) {
        return refused(perr, "not a regular file");
    }
    return APR_SUCCESS;
}

/* /proc/self/fd/fd in *pproc, and its link in buf (NUL-terminated): the
 * link's length, or -1 without /proc. */
static ssize_t fd_link(const char **pproc, char *buf, apr_size_t size, int fd,
                       apr_pool_t *p)
{
    ssize_t n;

    *pproc = apr_psprintf(p, "/proc/self/fd/%d", fd);
    n = readlink(*pproc, buf, size - 1);
    if (n >= 0) {
        buf[n] = '\0';
    }
    return n;
}

/* The O_PATH way. APR_ENOTIMPL: no usable /proc link, the descriptor
 * closed again (the caller tries realpath()). */
static apr_status_t open_by_proc(pv_source_t *src, pv_source_error_t *perr,
                                 const char *full, const char *root,
                                 apr_pool_t *p)
{
    char link[PATH_MAX];
    const char *proc;
    apr_status_t rv;
    int fd = -1;

    rv = open_kept(&fd, perr, PV_SOURCE_STEP_RESOLVE, full, O_PATH | O_CLOEXEC,
                   p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (fd_link(&proc, link, sizeof(link), fd, p) <= 0 || link[0] != '/') {
        apr_pool_cleanup_run(p, (void *)(apr_uintptr_t)fd, close_fd);
        return APR_ENOTIMPL;
    }
    rv = check_held(src, perr, fd, link, root);
    if (rv == APR_SUCCESS) {
        src->name = proc;
    }
    return rv;
}

/* Without /proc: realpath() under the root, then the resolved path opened
 * without following a last symlink, and /proc (should it exist after
 * all) naming that same path. */
static apr_status_t open_by_realpath(pv_source_t *src, pv_source_error_t *perr,
                                     const char *full, const char *root,
                                     apr_pool_t *p)
{
    char link[PATH_MAX];
    const char *proc;
    char *real = realpath(full, NULL);
    apr_status_t rv;
    int fd = -1;

    if (!real) {
        return sys_failed(perr, PV_SOURCE_STEP_REALPATH, errno);
    }
    full = apr_pstrdup(p, real);
    free(real);
    /* Before anything outside the root is opened (a FIFO, a device). */
    if (!pv_source_under_root(full, root, strlen(root))) {
        return refused(perr, "resolves outside PreviewStorageRoot (symlink?)");
    }
    rv =
        open_kept(&fd, perr, PV_SOURCE_STEP_OPEN, full,
                  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, p);
    if (rv != APR_SUCCESS ||
        (rv = check_held(src, perr, fd, full, root)) != APR_SUCCESS) {
        return rv;
    }
    if (fd_link(&proc, link, sizeof(link), fd, p) < 0) {
        src->name = full;
        return APR_SUCCESS;
    }
    if (strcmp(link, full) != 0) {
        return refused(perr, "changed while it was opened");
    }
    src->name = proc;
    return APR_SUCCESS;
}

apr_status_t pv_source_open(pv_source_t **pout, pv_source_error_t *perr,
                            const char *root, const char *path, apr_size_t len,
                            apr_pool_t *p)
{
    pv_source_t *src = apr_pcalloc(p, sizeof(*src));
    const char *why = NULL, *full;
    apr_status_t rv;

    rv = pv_source_check_path(&why, path, len);
    if (rv != APR_SUCCESS) {
        refused(perr, why);
        goto cleanup;
    }
    full = apr_pstrcat(p, root, "/", path, NULL);
    rv = open_by_proc(src, perr, full, root, p);
    if (rv == APR_ENOTIMPL) {
        rv = open_by_realpath(src, perr, full, root, p);
    }
    if (rv == APR_SUCCESS) {
        *pout = src;
    }
cleanup:
    return rv;
}

struct pv_source_root_t {
    const char *path;
    int fd;
    struct stat st; /* the directory held */
    /* The second its path was last found naming it; 1 once it did not
     * (then sources are opened by path for good). */
    apr_uint32_t checked_at, stale;
};

#if defined(__linux__) && defined(SYS_openat2) && defined(RESOLVE_BENEATH)
/* O_PATH beneath dirfd: -1 with errno when refused or unsupported. */
static int open_beneath(int dirfd, const char *path)
{
    struct open_how how;

    memset(&how, 0, sizeof(how));
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

apr_status_t pv_source_root_open(pv_source_root_t **pout, const char *root,
                                 apr_pool_t *p)
{
    pv_source_root_t *sr = apr_pcalloc(p, sizeof(*sr));
    char link[PATH_MAX];
    const char *proc;
    apr_status_t rv = APR_ENOTIMPL;
    int fd;

    sr->fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sr->fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    keep_fd(sr->fd, p);
    /* The names handed on are /proc links, and openat2 must exist. */
    if (fstat(sr->fd, &sr->st) != 0 ||
        fd_link(&proc, link, sizeof(link), sr->fd, p) <= 0 ||
        strcmp(link, root) != 0) {
        goto cleanup;
    }
    fd = open_beneath(sr->fd, ".");
    if (fd < 0) {
        goto cleanup;
    }
    close(fd);
    sr->path = apr_pstrdup(p, root);
    *pout = sr;
    rv = APR_SUCCESS;
cleanup:
    return rv;
}

/* The root's path still names the directory held (not renamed, replaced
 * or mounted over since it was opened), looked at once a second at most:
 * a stat() per request would cost a third of what openat2 saves. */
static int root_unchanged(pv_source_root_t *sr)
{
    apr_uint32_t now = (apr_uint32_t)time(NULL);
    struct stat st;

    if (__atomic_load_n(&sr->stale, __ATOMIC_RELAXED)) {
        return 0;
    }
    if (__atomic_load_n(&sr->checked_at, __ATOMIC_RELAXED) == now) {
        return 1;
    }
    if (stat(sr->path, &st) != 0 || st.st_dev != sr->st.st_dev ||
        st.st_ino != sr->st.st_ino) {
        __atomic_store_n(&sr->stale, 1, __ATOMIC_RELAXED);
        return 0;
    }
    __atomic_store_n(&sr->checked_at, now, __ATOMIC_RELAXED);
    return 1;
}

apr_status_t pv_source_open_at(pv_source_t **pout, pv_source_error_t *perr,
                               pv_source_root_t *sr, const char *path,
                               apr_size_t len, apr_pool_t *p)
{
    pv_source_t *src;
    const char *why = NULL;
    int fd;

    if (pv_source_check_path(&why, path, len) != APR_SUCCESS ||
        !root_unchanged(sr) || (fd = open_beneath(sr->fd, path)) < 0) {
        return pv_source_open(pout, perr, sr->path, path, len, p);
    }
    src = apr_pcalloc(p, sizeof(*src));
    if (fstat(fd, &src->st) != 0 || !S_ISREG(src->st.st_mode)) {
        close(fd);
        return pv_source_open(pout, perr, sr->path, path, len, p);
    }
    keep_fd(fd, p);
    src->name = apr_psprintf(p, "/proc/self/fd/%d", fd);
    *pout = src;
    return APR_SUCCESS;
}
#else
apr_status_t pv_source_root_open(pv_source_root_t **pout, const char *root,
                                 apr_pool_t *p)
{
    (void)pout;
    (void)root;
    (void)p;
    return APR_ENOTIMPL;
}

apr_status_t pv_source_open_at(pv_source_t **pout, pv_source_error_t *perr,
                               pv_source_root_t *sr, const char *path,
                               apr_size_t len, apr_pool_t *p)
{
    return pv_source_open(pout, perr, sr->path, path, len, p);
}
#endif
