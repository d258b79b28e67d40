/* A counting limiter for one process: at most n holders at once, shared by
 * the threads of the process (PreviewMaxRenders); a caller waits at most a
 * given time for a free slot (PreviewRenderTimeout). */
#ifndef PV_SLOTS_H
#define PV_SLOTS_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

typedef struct pv_slots_t pv_slots_t;

/* n slots (n >= 1, else APR_EINVAL). The mutex and condition variable are
 * released with p. */
apr_status_t pv_slots_create(pv_slots_t **pout, int n, apr_pool_t *p);

/* Take a slot, waiting at most timeout (0: do not wait). APR_SUCCESS: the
 * slot is held until pv_slots_release(), or until pool `owner` is cleared
 * (owner may be NULL: then only pv_slots_release() gives it back).
 * APR_TIMEUP: no slot freed in time. A slot released by an owner pool's
 * cleanup is never released twice. */
apr_status_t pv_slots_acquire(pv_slots_t *s, apr_interval_time_t timeout,
                              apr_pool_t *owner);

/* Give back the slot taken with this owner (NULL: one taken without). */
void pv_slots_release(pv_slots_t *s, apr_pool_t *owner);

/* Slots held now, and the most ever held at once (for tests). */
int pv_slots_in_use(pv_slots_t *s);
int pv_slots_peak(pv_slots_t *s);

#endif /* PV_SLOTS_H */
