/* Counting limiters for one process (see pv_slots.h): a mutex, a
 * condition variable and a counter; per user, a counter per user in a
 * hash; and a weighted counter (the render memory budget). */
#include <string.h>

#include <apr_hash.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "pv_slots.h"

/* The lock and condition variable every limiter below waits on. */
static apr_status_t waitable_create(apr_thread_mutex_t **plock,
                                    apr_thread_cond_t **pcond, apr_pool_t *p)
{
    apr_status_t rv;

    rv = apr_thread_mutex_create(plock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    rv = apr_thread_cond_create(pcond, p);

cleanup:
    return rv;
}

/* One wait on cond (lock held) until it is signalled or deadline passes:
 * APR_TIMEUP once the deadline is past, an error of the wait itself, else
 * APR_SUCCESS (signalled, spuriously woken or timed out: the caller's loop
 * looks again). */
static apr_status_t wait_until(apr_thread_cond_t *cond,
                               apr_thread_mutex_t *lock, apr_time_t deadline)
{
    apr_interval_time_t left = deadline - apr_time_now();
    apr_status_t rv;

    if (left <= 0) {
        return APR_TIMEUP;
    }
    rv = apr_thread_cond_timedwait(cond, lock, left);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)) {
        return rv;
    }
    return APR_SUCCESS;
}

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
    rv = waitable_create(&s->lock, &s->freed, p);
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
        rv = wait_until(s->freed, s->lock, deadline);
        if (rv != APR_SUCCESS) {
            goto cleanup;
        }
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

static int slots_read(pv_slots_t *s, int peak)
{
    int n;

    apr_thread_mutex_lock(s->lock);
    n = peak ? s->peak : s->used;
    apr_thread_mutex_unlock(s->lock);
    return n;
}

int pv_slots_in_use(pv_slots_t *s)
{
    return slots_read(s, 0);
}

int pv_slots_peak(pv_slots_t *s)
{
    return slots_read(s, 1);
}

/* ------------------------------------------------------- slots per user */

/* The key of a user: realm and id, zeroed first (padding on 32 bits). */
typedef struct {
    const void *realm;
    apr_uint64_t user;
} user_key_t;

typedef struct user_entry_t user_entry_t;
struct user_entry_t {
    user_key_t key;
    int held;
    user_entry_t *next_free;
};

struct pv_user_slots_t {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *freed;
    apr_hash_t *users;       /* user_key_t -> user_entry_t, held > 0 only */
    user_entry_t *free_list; /* entries of users who hold nothing now */
    apr_pool_t *pool;
};

struct pv_user_hold_t {
    pv_user_slots_t *us;
    user_key_t key;
    apr_pool_t *owner;
};

apr_status_t pv_user_slots_create(pv_user_slots_t **pout, apr_pool_t *p)
{
    pv_user_slots_t *us;
    apr_status_t rv;

    us = apr_pcalloc(p, sizeof(*us));
    us->pool = p;
    us->users = apr_hash_make(p);
    rv = waitable_create(&us->lock, &us->freed, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = us;

cleanup:
    return rv;
}

static void user_key(user_key_t *k, const void *realm, apr_uint64_t user)
{
    memset(k, 0, sizeof(*k));
    k->realm = realm;
    k->user = user;
}

/* Under the lock. */
static int user_held(pv_user_slots_t *us, const user_key_t *k)
{
    user_entry_t *e = apr_hash_get(us->users, k, sizeof(*k));

    return e ? e->held : 0;
}

static apr_status_t user_hold_cleanup(void *data)
{
    pv_user_hold_t *h = data;
    pv_user_slots_t *us = h->us;
    user_entry_t *e;

    apr_thread_mutex_lock(us->lock);
    e = apr_hash_get(us->users, &h->key, sizeof(h->key));
    if (e && --e->held == 0) {
        apr_hash_set(us->users, &e->key, sizeof(e->key), NULL);
        e->next_free = us->free_list;
        us->free_list = e;
    }
    /* Waiters are of several users: wake them all, each rechecks its own
     * count. */
    apr_thread_cond_broadcast(us->freed);
    apr_thread_mutex_unlock(us->lock);
    return APR_SUCCESS;
}

apr_status_t pv_user_slots_acquire(pv_user_hold_t **phold, pv_user_slots_t *us,
                                   const void *realm, apr_uint64_t user,
                                   int max, apr_interval_time_t timeout,
                                   apr_pool_t *owner)
{
    apr_time_t deadline = apr_time_now() + (timeout > 0 ? timeout : 0);
    pv_user_hold_t *h;
    user_entry_t *e;
    user_key_t k;
    apr_status_t rv = APR_SUCCESS;

    if (max < 1 || !owner) {
        return APR_EINVAL;
    }
    user_key(&k, realm, user);
    apr_thread_mutex_lock(us->lock);
    /* A loop, as in pv_slots_acquire(); and a broadcast may be for
     * another user. */
    while (user_held(us, &k) >= max) {
        rv = wait_until(us->freed, us->lock, deadline);
        if (rv != APR_SUCCESS) {
            goto cleanup;
        }
    }
    e = apr_hash_get(us->users, &k, sizeof(k));
    if (!e) {
        e = us->free_list;
        if (e) {
            us->free_list = e->next_free;
        }
        else {
            e = apr_palloc(us->pool, sizeof(*e));
        }
        /* memcpy: the hash reads every byte, padding included. */
        memcpy(&e->key, &k, sizeof(k));
        e->held = 0;
        e->next_free = NULL;
        apr_hash_set(us->users, &e->key, sizeof(e->key), e);
    }
    e->held++;
    h = apr_palloc(owner, sizeof(*h));
    h->us = us;
    memcpy(&h->key, &k, sizeof(k));
    h->owner = owner;
    apr_pool_cleanup_register(owner, h, user_hold_cleanup,
                              apr_pool_cleanup_null);
    *phold = h;

cleanup:
    apr_thread_mutex_unlock(us->lock);
    return rv;
}

void pv_user_slots_release(pv_user_hold_t *h)
{
    /* Runs the cleanup once and unregisters it. */
    apr_pool_cleanup_run(h->owner, h, user_hold_cleanup);
}

int pv_user_slots_held(pv_user_slots_t *us, const void *realm,
                       apr_uint64_t user)
{
    user_key_t k;
    int n;

    user_key(&k, realm, user);
    apr_thread_mutex_lock(us->lock);
    n = user_held(us, &k);
    apr_thread_mutex_unlock(us->lock);
    return n;
}

int pv_user_slots_users(pv_user_slots_t *us)
{
    int n;

    apr_thread_mutex_lock(us->lock);
    n = (int)apr_hash_count(us->users);
    apr_thread_mutex_unlock(us->lock);
    return n;
}

/* ------------------------------------------------------------ budget */

/* A waiter, on its own stack: the queue keeps arrival order. */
typedef struct budget_waiter_t {
    struct budget_waiter_t *next;
} budget_waiter_t;

struct pv_budget_t {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *changed; /* broadcast: waiters want different sizes */
    apr_uint64_t capacity;
    apr_uint64_t used;
    apr_uint64_t peak;
    budget_waiter_t *head, *tail;
    int waiting;
};

struct pv_budget_hold_t {
    pv_budget_t *budget;
    apr_uint64_t amount;
    apr_pool_t *owner;
};

apr_status_t pv_budget_create(pv_budget_t **pout, apr_uint64_t capacity,
                              apr_pool_t *p)
{
    pv_budget_t *b;
    apr_status_t rv;

    if (capacity < 1) {
        return APR_EINVAL;
    }
    b = apr_pcalloc(p, sizeof(*b));
    b->capacity = capacity;
    rv = waitable_create(&b->lock, &b->changed, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = b;

cleanup:
    return rv;
}

static apr_status_t hold_cleanup(void *data)
{
    pv_budget_hold_t *h = data;
    pv_budget_t *b = h->budget;

    apr_thread_mutex_lock(b->lock);
    b->used -= h->amount <= b->used ? h->amount : b->used;
    apr_thread_cond_broadcast(b->changed);
    apr_thread_mutex_unlock(b->lock);
    return APR_SUCCESS;
}

static void queue_remove(pv_budget_t *b, budget_waiter_t *w)
{
    budget_waiter_t **pp = &b->head, *prev = NULL;

    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = w->next;
        if (b->tail == w) {
            b->tail = prev;
        }
    }
}

apr_status_t pv_budget_acquire(pv_budget_hold_t **phold, pv_budget_t *b,
                               apr_uint64_t amount, apr_interval_time_t timeout,
                               apr_pool_t *owner)
{
    apr_time_t deadline = apr_time_now() + (timeout > 0 ? timeout : 0);
    budget_waiter_t me = {NULL};
    pv_budget_hold_t *h;
    apr_status_t rv = APR_SUCCESS;

    if (!owner) {
        return APR_EINVAL;
    }
    if (amount > b->capacity) {
        amount = b->capacity;
    }
    apr_thread_mutex_lock(b->lock);
    if (b->tail) {
        b->tail->next = &me;
    }
    else {
        b->head = &me;
    }
    b->tail = &me;
    b->waiting++;
    /* A loop: condition variables wake spuriously, and only the head of
     * the queue may take what it needs. */
    while (b->head != &me || b->used + amount > b->capacity) {
        rv = wait_until(b->changed, b->lock, deadline);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    queue_remove(b, &me);
    b->waiting--;
    /* The next in line may fit now, or be the head now. */
    apr_thread_cond_broadcast(b->changed);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    b->used += amount;
    if (b->used > b->peak) {
        b->peak = b->used;
    }
    h = apr_palloc(owner, sizeof(*h));
    h->budget = b;
    h->amount = amount;
    h->owner = owner;
    apr_pool_cleanup_register(owner, h, hold_cleanup, apr_pool_cleanup_null);
    *phold = h;

cleanup:
    apr_thread_mutex_unlock(b->lock);
    return rv;
}

void pv_budget_release(pv_budget_hold_t *hold)
{
    if (hold) {
        /* Runs the cleanup once and unregisters it. */
        apr_pool_cleanup_run(hold->owner, hold, hold_cleanup);
    }
}

static apr_uint64_t budget_read(pv_budget_t *b, int peak)
{
    apr_uint64_t n;

    apr_thread_mutex_lock(b->lock);
    n = peak ? b->peak : b->used;
    apr_thread_mutex_unlock(b->lock);
    return n;
}

apr_uint64_t pv_budget_in_use(pv_budget_t *b)
{
    return budget_read(b, 0);
}

apr_uint64_t pv_budget_peak(pv_budget_t *b)
{
    return budget_read(b, 1);
}

apr_uint64_t pv_budget_capacity(const pv_budget_t *b)
{
    return b->capacity;
}

int pv_budget_waiting(pv_budget_t *b)
{
    int n;

    apr_thread_mutex_lock(b->lock);
    n = b->waiting;
    apr_thread_mutex_unlock(b->lock);
    return n;
}
