/* Files that hold secrets (key rings, the legacy SECRET_KEY): written so
 * that no other user can read them at any instant, and checked for who
 * else may read them. */
#ifndef PV_SECRET_FILE_H
#define PV_SECRET_FILE_H

#include <sys/types.h>

#include <apr_errno.h>
#include <apr_pools.h>

/* Write len bytes of text to path, created with mode 0600, or 0640 and
 * group gid when gid is not (gid_t)-1 (the group set before the group may
 * read). The umask cannot widen it: the file is made 0600 whatever the
 * umask, then given its mode. An existing path is refused (APR_EEXIST)
 * unless force; with force the new file is written beside it and renamed
 * over it, so it is never a mix of both, nor readable by others meanwhile.
 * A symlink at path is refused, forced or not. On failure *perr says what
 * failed, and nothing is left behind. */
apr_status_t pv_secret_file_write(const char **perr, const char *path,
                                  const char *text, apr_size_t len, gid_t gid,
                                  int force, apr_pool_t *p);

/* *pmode: the permission bits of path (07777), by stat(2). APR_SUCCESS,
 * or the error of stat. */
apr_status_t pv_secret_file_mode(unsigned int *pmode, const char *path);

#endif /* PV_SECRET_FILE_H */
