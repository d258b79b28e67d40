/* Secret files: created 0600 (or 0640 for a chosen group) with O_EXCL, and
 * replaced by a rename, never rewritten in place (pv_secret_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "pv_secret_file.h"

/* Create path exclusively, 0600 whatever the umask (which can only take
 * bits away from 0600), then the group and the mode asked for. */
static apr_status_t create_exclusive(int *pfd, const char **perr,
                                     const char *path, gid_t gid, apr_pool_t *p)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  S_IRUSR | S_IWUSR);
    apr_status_t rv;

    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "%s: %s", path,
                             errno == EEXIST ? "exists" : strerror(errno));
        return rv;
    }
    /* The group first: the group bit is set only once the group is the
     * one asked for, not the directory's. */
    if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "%s: cannot give it group %ld: %s", path,
                             (long)gid, strerror(errno));
        goto cleanup;
    }
    if (fchmod(fd, gid != (gid_t)-1 ? 0640 : 0600) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "%s: chmod: %s", path, strerror(errno));
        goto cleanup;
    }
    *pfd = fd;
    return APR_SUCCESS;

cleanup:
    close(fd);
    unlink(path);
    return rv;
}

static apr_status_t write_all(const char **perr, int fd, const char *path,
                              const char *text, apr_size_t len, apr_pool_t *p)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            *perr = apr_psprintf(p, "%s: write: %s", path,
                                 n < 0 ? strerror(errno) : "nothing written");
            return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
        }
        text += n;
        len -= (apr_size_t)n;
    }
    if (fsync(fd) != 0) {
        *perr = apr_psprintf(p, "%s: fsync: %s", path, strerror(errno));
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

apr_status_t pv_secret_file_write(const char **perr, const char *path,
                                  const char *text, apr_size_t len, gid_t gid,
                                  int force, apr_pool_t *p)
{
    const char *target = path;
    struct stat st;
    apr_status_t rv;
    int fd = -1;

    if (force) {
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            *perr = apr_psprintf(p, "%s: a symbolic link, not replaced", path);
            return APR_EINVAL;
        }
        /* Beside it, so that the rename stays on one file system. */
        target = apr_psprintf(p, "%s.new-%ld", path, (long)getpid());
    }
    rv = create_exclusive(&fd, perr, target, gid, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = write_all(perr, fd, target, text, len, p);
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: close: %s", target, strerror(errno));
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS && force && rename(target, path) != 0) {
        *perr = apr_psprintf(p, "%s: rename: %s", path, strerror(errno));
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv != APR_SUCCESS) {
        unlink(target);
    }
    return rv;
}

apr_status_t pv_secret_file_mode(unsigned int *pmode, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    *pmode = (unsigned int)(st.st_mode & 07777);
    return APR_SUCCESS;
}
