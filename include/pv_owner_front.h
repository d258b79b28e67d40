/* The owner cache's front in each process: the last answers a process
 * read or made for (namespace, user, image), so that a hit needs neither
 * the shared cache's answer nor any MAC.
 *
 * An entry is only as good as the generation it was made under: the glue
 * uses one only while that generation still holds (the very bytes it
 * checked are read back from the shared store; or, for a store on this
 * machine alone, no logout of that user was written since: the logout
 * epoch below), and never past the earlier of its answer's and its
 * generation's expiry, so it revokes no later than the shared cache.
 *
 * A fixed table (bounded memory, the oldest entry of a slot replaced),
 * its slots guarded by a few read-write locks (threads of one process). */
#ifndef PV_OWNER_FRONT_H
#define PV_OWNER_FRONT_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "pv_owner.h"

/* Slots per process: each holds a path of up to PV_OWNER_PATH_MAX bytes,
 * so about 1.1 MB per process. */
#define PV_OWNER_FRONT_SLOTS 1024

typedef struct pv_owner_front_t pv_owner_front_t;

/* What an entry keeps: the key (ns, user, image), the generation's bytes
 * as checked (and its key, to read it again), the epoch seen before that
 * read, and the answer. */
typedef struct pv_owner_front_entry_t {
    const void *ns;
    apr_uint64_t user, image;
    unsigned char gen_key[PV_OWNER_KEY_LEN];
    unsigned char gen_raw[PV_OWNER_GEN_LEN];
    apr_uint32_t epoch;
    apr_uint32_t min_version;
    apr_uint32_t token_version;
    const char *path; /* NULL: missing or someone else's image */
    apr_size_t path_len;
    apr_time_t expires; /* the earlier of the answer's and generation's */
} pv_owner_front_entry_t;

apr_status_t pv_owner_front_create(pv_owner_front_t **pout, apr_pool_t *p);

/* The entry for (ns, user, image) unexpired at now, its path copied into
 * p. APR_NOTFOUND: none. */
apr_status_t pv_owner_front_get(pv_owner_front_entry_t *out,
                                pv_owner_front_t *f, const void *ns,
                                apr_uint64_t user, apr_uint64_t image,
                                apr_time_t now, apr_pool_t *p);

/* Keep e (its path copied). APR_EINVAL: a path too long to keep. */
apr_status_t pv_owner_front_put(pv_owner_front_t *f,
                                const pv_owner_front_entry_t *e);

/* The entry for (ns, user, image) dropped: its generation was read back
 * changed. */
void pv_owner_front_drop(pv_owner_front_t *f, const void *ns, apr_uint64_t user,
                         apr_uint64_t image);

/* Logout epochs, in shared memory: a counter per group of users that a
 * logout through this machine bumps after it wrote the user's new
 * generation. PV_OWNER_EPOCHS counters of 32 bits. */
#define PV_OWNER_EPOCHS 4096

apr_uint32_t pv_owner_epoch_read(const apr_uint32_t *epochs, apr_uint64_t user);
void pv_owner_epoch_bump(apr_uint32_t *epochs, apr_uint64_t user);

#endif /* PV_OWNER_FRONT_H */
