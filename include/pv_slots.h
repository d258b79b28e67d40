/* Counting limiters for one process, shared by its threads: at most n
 * holders at once (PreviewMaxRenders), and at most n per user
 * (PreviewMaxRendersPerUser); a caller waits at most a given time for a
 * free slot (PreviewRenderTimeout). */
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

/* Holdings per user in one process (PreviewMaxRendersPerUser): a user
 * waits while holding `max` already, other users pass. A user is a realm
 * (whose ids these are, e.g. the database a vhost reads; NULL for one id
 * space) and an id. Only users holding something take memory: an entry
 * is recycled when its count drops to 0. */
typedef struct pv_user_slots_t pv_user_slots_t;
typedef struct pv_user_hold_t pv_user_hold_t;

apr_status_t pv_user_slots_create(pv_user_slots_t **pout, apr_pool_t *p);

/* Take one of the user's slots (max >= 1, else APR_EINVAL), waiting at
 * most timeout (0: do not wait). APR_SUCCESS: *phold, in `owner`, is held
 * until pv_user_slots_release() or until owner is cleared, whichever
 * comes first (never released twice). APR_TIMEUP: the user still held
 * max when the time was up. */
apr_status_t pv_user_slots_acquire(pv_user_hold_t **phold, pv_user_slots_t *us,
                                   const void *realm, apr_uint64_t user,
                                   int max, apr_interval_time_t timeout,
                                   apr_pool_t *owner);

void pv_user_slots_release(pv_user_hold_t *h);

/* What the user holds now, and how many users hold something (tests). */
int pv_user_slots_held(pv_user_slots_t *us, const void *realm,
                       apr_uint64_t user);
int pv_user_slots_users(pv_user_slots_t *us);
/* A weighted counter for one process, beside the slots: each holder takes
 * an amount (a render's memory estimate) of a capacity (the process bound
 * of PreviewMaxRenderMemory); one whose amount does not fit waits, at
 * most a given time (PreviewRenderTimeout). Waiters are served in their
 * order of arrival, so that a large amount is not starved by a stream of
 * small ones (a small one waits behind a large one). */
typedef struct pv_budget_t pv_budget_t;
typedef struct pv_budget_hold_t pv_budget_hold_t;

/* capacity >= 1, else APR_EINVAL. Released with p. */
apr_status_t pv_budget_create(pv_budget_t **pout, apr_uint64_t capacity,
                              apr_pool_t *p);

/* Take amount, waiting at most timeout (0: do not wait) for it to fit.
 * An amount over the capacity is taken as the whole capacity: it runs
 * alone. APR_SUCCESS: *phold is held until pv_budget_release(*phold) or
 * until pool owner (required) is cleared, whichever comes first; never
 * given back twice. APR_TIMEUP: it did not fit in time. APR_EINVAL: no
 * owner. */
apr_status_t pv_budget_acquire(pv_budget_hold_t **phold, pv_budget_t *b,
                               apr_uint64_t amount, apr_interval_time_t timeout,
                               apr_pool_t *owner);

void pv_budget_release(pv_budget_hold_t *hold);

/* Taken now, the most ever taken at once, the capacity, and how many
 * callers wait now (for tests and logs). */
apr_uint64_t pv_budget_in_use(pv_budget_t *b);
apr_uint64_t pv_budget_peak(pv_budget_t *b);
apr_uint64_t pv_budget_capacity(const pv_budget_t *b);
int pv_budget_waiting(pv_budget_t *b);

#endif /* PV_SLOTS_H */
