/* A preview's source: the database's relative path resolved under
 * PreviewStorageRoot, refused unless the file it names lies strictly below
 * the root, and held open so that what is read is what was checked.
 *
 * The check: no NUL, not empty, not absolute, no ".." segment; then, with
 * /proc, an O_PATH descriptor (symlinks followed; O_PATH opens nothing for
 * reading, so a device or FIFO outside the root is never opened) whose
 * /proc/self/fd/N link must lie under the root: 3 system calls where
 * realpath() makes one readlink() per component. Without /proc: realpath()
 * (every symlink resolved) must lie under the root, the resolved path is
 * opened with O_NOFOLLOW, and /proc/self/fd/N, when it exists, must name
 * that same path. The name handed on is /proc/self/fd/N, so libvips
 * reopens the very inode that was checked and nothing swapped in between
 * check and use is read; without /proc the resolved path (a narrow race
 * with someone who can write inside the root). Chosen over an O_NOFOLLOW
 * walk of each component so that symlinks inside the root keep working. */
#ifndef PV_SOURCE_H
#define PV_SOURCE_H

#include <apr_errno.h>
#include <apr_pools.h>

#include <sys/stat.h>

/* The path is refused (a rule, not a system error): *pwhy says which. */
#define PV_SOURCE_REFUSED (APR_OS_START_USERERR + 900)

/* The call that failed with a system error. */
typedef enum {
    PV_SOURCE_STEP_RESOLVE,  /* open(O_PATH) */
    PV_SOURCE_STEP_REALPATH, /* realpath(), without /proc */
    PV_SOURCE_STEP_OPEN      /* open(O_NOFOLLOW) of the resolved path */
} pv_source_step_e;

typedef struct pv_source_t {
    const char *name; /* what to read: /proc/self/fd/N or the resolved path */
    struct stat st;   /* fstat() of the inode checked: ETag and cache key */
} pv_source_t;

/* Why a source could not be had. status: PV_SOURCE_REFUSED, or the errno
 * (APR_FROM_OS_ERROR) of the call in step. why: for a refusal, a phrase
 * for the log ("absolute path", "not a regular file", ...); else
 * "cannot resolve" or "cannot open". missing: the error means no such
 * file (ENOENT, or ENOTDIR while resolving), not a refused path. */
typedef struct pv_source_error_t {
    apr_status_t status;
    pv_source_step_e step;
    const char *why;
    int missing;
} pv_source_error_t;

/* Whether the absolute, resolved path lies strictly below root (rlen
 * bytes, rlen > 0): "/srv/images2/x" is not below "/srv/images", and the
 * root itself is not a source. */
int pv_source_under_root(const char *path, const char *root, apr_size_t rlen);

/* The rules on the database's path alone (len bytes, as the row holds
 * it): APR_SUCCESS, or PV_SOURCE_REFUSED with *pwhy ("empty path", "NUL
 * byte in the path", "absolute path", "'..' segment"). */
apr_status_t pv_source_check_path(const char **pwhy, const char *path,
                                  apr_size_t len);

/* Resolve path (len bytes) under root and open it as described above. The
 * descriptor is closed by a cleanup of p. APR_SUCCESS: *pout. Otherwise
 * *perr (status is the return value). */
apr_status_t pv_source_open(pv_source_t **pout, pv_source_error_t *perr,
                            const char *root, const char *path, apr_size_t len,
                            apr_pool_t *p);

/* The root held open in a process (an O_PATH descriptor), so that a
 * source is opened beneath it in one call (openat2, RESOLVE_BENEATH: no
 * component may leave it, symlinks included) instead of an open and a
 * readlink of /proc. */
typedef struct pv_source_root_t pv_source_root_t;

/* root: absolute and resolved (realpath). Closed with p. APR_ENOTIMPL:
 * no openat2 or no /proc here (pv_source_open() alone then). */
apr_status_t pv_source_root_open(pv_source_root_t **pout, const char *root,
                                 apr_pool_t *p);

/* pv_source_open() under root, the same answers: a regular file that
 * openat2 reaches beneath the held root, while the root's path still
 * names the inode held (looked at once a second), is opened that way;
 * anything else (the root replaced or mounted over since: from then on,
 * a symlink openat2 refuses, any error) is decided by pv_source_open()
 * itself. Safe from any thread. */
apr_status_t pv_source_open_at(pv_source_t **pout, pv_source_error_t *perr,
                               pv_source_root_t *root, const char *path,
                               apr_size_t len, apr_pool_t *p);

#endif /* PV_SOURCE_H */
