/* State that outlives a generation of httpd's configuration.
 *
 * A restart, graceful or not, clears pconf and unloads and reloads every
 * module, so statics and anything allocated from pconf start over; only the
 * parent process and its process pool stay. What must stay too (the login
 * limiter's counts and key, the dummy password profiles) is made once, by
 * the first generation that needs it, from a pool that is never destroyed,
 * and found again by later generations through the process pool's
 * userdata, as httpd keeps its scoreboard. Children inherit it by fork.
 * Only the parent, in post_config, makes or replaces anything here. */
#ifndef MOD_PREVIEW_KEPT_H
#define MOD_PREVIEW_KEPT_H

#include "httpd.h"

/* The pool that kept state is allocated from: made once per parent
 * process, never destroyed (no cleanup a module registered in it can run
 * after that module was unloaded). NULL when APR cannot make it. */
apr_pool_t *pv_kept_pool(server_rec *s);

/* The value kept under name by this or an earlier generation, or NULL. */
void *pv_kept_get(server_rec *s, const char *name);

/* Keep value (allocated from pv_kept_pool) under name. */
void pv_kept_set(server_rec *s, const char *name, void *value);

/* Anonymous shared memory of size bytes kept under name: the block an
 * earlier generation made (*pfresh 0), or a new one, zero-filled
 * (*pfresh 1), when there was none or its size was not size (the old block
 * is released here; processes of an older generation keep their own
 * mapping of it until they exit). */
apr_status_t pv_kept_shm(void **pbase, int *pfresh, server_rec *s,
                         const char *name, apr_size_t size);

#endif /* MOD_PREVIEW_KEPT_H */
