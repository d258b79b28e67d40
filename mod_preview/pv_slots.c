/* A counting limiter for one process (see pv_slots.h): a mutex, a
 * condition variable and a counter. */
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "pv_slots.h"

struct pv_slots_t {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *freed;
    int max;
    int used;
    int peak;
};

apr_status_t pv_slots_create(pv_slots_t **pout, int n, apr_pool_t *p)
{
    pv_slots_t *s;
    apr_status_t rv;

    if (n < 1) {
        return APR_EINVAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->max = n;
    rv = apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    rv = apr_thread_cond_create(&s->freed, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = s;

cleanup:
    return rv;
}

static void give_back(pv_slots_t *s)
{
    apr_thread_mutex_lock(s->lock);
    if (s->used > 0) {
        s->used--;
    }
    apr_thread_cond_signal(s->freed);
    apr_thread_mutex_unlock(s->lock);
}

static apr_status_t owner_cleanup(void *data)
{
    give_back(data);
    return APR_SUCCESS;
}

apr_status_t pv_slots_acquire(pv_slots_t *s, apr_interval_time_t timeout,
                              apr_pool_t *owner)
{
    apr_time_t deadline = apr_time_now() + (timeout > 0 ? timeout : 0);
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(s->lock);
    /* A loop: condition variables wake spuriously, and another waiter may
     * take the slot first. */
    while (s->used >= s->max) {
        apr_interval_time_t left = deadline - apr_time_now();

        if (left <= 0) {
            rv = APR_TIMEUP;
            goto cleanup;
        }
        rv = apr_thread_cond_timedwait(s->freed, s->lock, left);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)) {
            goto cleanup;
        }
        rv = APR_SUCCESS;
    }
    s->used++;
    if (s->used > s->peak) {
        s->peak = s->used;
    }
    if (owner) {
        apr_pool_cleanup_register(owner, s, owner_cleanup,
                                  apr_pool_cleanup_null);
    }

cleanup:
    apr_thread_mutex_unlock(s->lock);
    return rv;
}

void pv_slots_release(pv_slots_t *s, apr_pool_t *owner)
{
    if (owner) {
        /* Runs the cleanup once and unregisters it. */
        apr_pool_cleanup_run(owner, s, owner_cleanup);
        return;
    }
    give_back(s);
}

int pv_slots_in_use(pv_slots_t *s)
{
    int n;

    apr_thread_mutex_lock(s->lock);
    n = s->used;
    apr_thread_mutex_unlock(s->lock);
    return n;
}

int pv_slots_peak(pv_slots_t *s)
{
    int n;

    apr_thread_mutex_lock(s->lock);
    n = s->peak;
    apr_thread_mutex_unlock(s->lock);
    return n;
}
