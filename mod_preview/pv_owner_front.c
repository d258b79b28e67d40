/* The owner cache's front in each process, and the logout epochs (see
 * pv_owner_front.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_rwlock.h>

#include "pv_owner_front.h"

/* Read-write locks over the slots: readers (hits) never wait for each
 * other, only for a writer of the same stripe. */
#define FRONT_LOCKS 32

typedef struct front_slot_t {
    pv_owner_front_entry_t e;
    int used;
    char path[PV_OWNER_PATH_MAX];
} front_slot_t;

struct pv_owner_front_t {
    apr_thread_rwlock_t *locks[FRONT_LOCKS];
    front_slot_t *slots;
};

/* The slot of a key: a 64-bit mix of its parts (ids are chosen by
 * clients: a collision only costs the shared cache's answer). */
static apr_size_t slot_of(const void *ns, apr_uint64_t user, apr_uint64_t image)
{
    apr_uint64_t h = (apr_uint64_t)(apr_uintptr_t)ns;

    h ^= user * APR_UINT64_C(0x9e3779b97f4a7c15);
    h ^= image * APR_UINT64_C(0xc2b2ae3d27d4eb4f);
    h ^= h >> 29;
    h *= APR_UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 32;
    return (apr_size_t)(h % PV_OWNER_FRONT_SLOTS);
}

static apr_thread_rwlock_t *lock_of(pv_owner_front_t *f, apr_size_t slot)
{
    return f->locks[slot % FRONT_LOCKS];
}

static int same_key(const pv_owner_front_entry_t *e, const void *ns,
                    apr_uint64_t user, apr_uint64_t image)
{
    return e->ns == ns && e->user == user && e->image == image;
}

apr_status_t pv_owner_front_create(pv_owner_front_t **pout, apr_pool_t *p)
{
    pv_owner_front_t *f = apr_pcalloc(p, sizeof(*f));
    apr_status_t rv = APR_SUCCESS;
    int i;

    f->slots = apr_pcalloc(p, sizeof(*f->slots) * PV_OWNER_FRONT_SLOTS);
    for (i = 0; i < FRONT_LOCKS && rv == APR_SUCCESS; i++) {
        rv = apr_thread_rwlock_create(&f->locks[i], p);
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = f;
cleanup:
    return rv;
}

apr_status_t pv_owner_front_get(pv_owner_front_entry_t *out,
                                pv_owner_front_t *f, const void *ns,
                                apr_uint64_t user, apr_uint64_t image,
                                apr_time_t now, apr_pool_t *p)
{
    apr_size_t i = slot_of(ns, user, image);
    front_slot_t *s = &f->slots[i];
    apr_status_t rv = APR_NOTFOUND;
    char path[PV_OWNER_PATH_MAX];

    if (apr_thread_rwlock_rdlock(lock_of(f, i)) != APR_SUCCESS) {
        return APR_NOTFOUND;
    }
    if (s->used && same_key(&s->e, ns, user, image) && s->e.expires > now) {
        *out = s->e;
        if (s->e.path) {
            memcpy(path, s->path, s->e.path_len);
        }
        rv = APR_SUCCESS;
    }
    apr_thread_rwlock_unlock(lock_of(f, i));
    /* The copy outside the lock: the pool is this thread's alone. */
    if (rv == APR_SUCCESS && out->path) {
        out->path = apr_pstrmemdup(p, path, out->path_len);
    }
    return rv;
}

apr_status_t pv_owner_front_put(pv_owner_front_t *f,
                                const pv_owner_front_entry_t *e)
{
    apr_size_t i = slot_of(e->ns, e->user, e->image);
    front_slot_t *s = &f->slots[i];

    if (e->path && (e->path_len > PV_OWNER_PATH_MAX ||
                    memchr(e->path, '\0', e->path_len))) {
        return APR_EINVAL;
    }
    if (apr_thread_rwlock_wrlock(lock_of(f, i)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    s->e = *e;
    if (e->path) {
        memcpy(s->path, e->path, e->path_len);
        s->e.path = s->path;
    }
    s->used = 1;
    apr_thread_rwlock_unlock(lock_of(f, i));
    return APR_SUCCESS;
}

void pv_owner_front_drop(pv_owner_front_t *f, const void *ns, apr_uint64_t user,
                         apr_uint64_t image)
{
    apr_size_t i = slot_of(ns, user, image);
    front_slot_t *s = &f->slots[i];

    if (apr_thread_rwlock_wrlock(lock_of(f, i)) != APR_SUCCESS) {
        return;
    }
    if (s->used && same_key(&s->e, ns, user, image)) {
        s->used = 0;
    }
    apr_thread_rwlock_unlock(lock_of(f, i));
}

apr_uint32_t pv_owner_epoch_read(const apr_uint32_t *epochs, apr_uint64_t user)
{
    return __atomic_load_n(&epochs[user % PV_OWNER_EPOCHS], __ATOMIC_ACQUIRE);
}

void pv_owner_epoch_bump(apr_uint32_t *epochs, apr_uint64_t user)
{
    __atomic_add_fetch(&epochs[user % PV_OWNER_EPOCHS], 1, __ATOMIC_SEQ_CST);
}
