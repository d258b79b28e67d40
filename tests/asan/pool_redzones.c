/* The ASan build only: a red zone after every apr_palloc() (and so
 * apr_pcalloc(), a macro over it) of our own code, so that ASan sees an
 * overflow from one pool allocation into the next: APR carves them from
 * blocks of 8 KB without gaps, and Debian's libapr has no pool debugging.
 * build/asan/ links the core, the module, the CLI and the unit tests with
 * -Wl,--wrap=apr_palloc, so their calls come here; APR's own allocations
 * (apr_pstrdup, apr_psprintf, ...) and httpd's do not. A red zone stays
 * poisoned until its pool is cleared or destroyed: a cleanup registered at
 * the pool's first allocation here unpoisons them all before APR hands the
 * memory out again. */
#include <sanitizer/asan_interface.h>

#include "apr_pools.h"

/* Past the size rounded up to APR's 8-byte alignment: two shadow granules. */
#define REDZONE 16

typedef struct redzone {
    struct redzone *next;
    char *at;
    apr_size_t len;
} redzone_t;

typedef struct {
    redzone_t *zones;
} redzones_t;

void *__real_apr_palloc(apr_pool_t *p, apr_size_t size);
void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size);

static const char redzones_key[] = "pv-asan-redzones";

static apr_status_t redzones_unpoison(void *data)
{
    redzones_t *rz = data;

    for (redzone_t *z = rz->zones; z != NULL; z = z->next) {
        ASAN_UNPOISON_MEMORY_REGION(z->at, z->len);
    }
    rz->zones = NULL;
    return APR_SUCCESS;
}

void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size)
{
    redzones_t *rz = NULL;
    redzone_t *z;
    apr_size_t len = APR_ALIGN_DEFAULT(size) + REDZONE;
    char *mem;

    apr_pool_userdata_get((void **)&rz, redzones_key, p);
    if (rz == NULL) {
        rz = __real_apr_palloc(p, sizeof(*rz));
        if (rz == NULL) {
            return NULL;
        }
        rz->zones = NULL;
        apr_pool_userdata_setn(rz, redzones_key, NULL, p);
        apr_pool_cleanup_register(p, rz, redzones_unpoison,
                                  apr_pool_cleanup_null);
    }
    mem = __real_apr_palloc(p, len);
    z = __real_apr_palloc(p, sizeof(*z));
    if (mem == NULL || z == NULL) {
        return mem;
    }
    /* From the first byte past the request: a partial shadow granule keeps
     * only its first size % 8 bytes addressable. */
    z->at = mem + size;
    z->len = len - size;
    z->next = rz->zones;
    rz->zones = z;
    ASAN_POISON_MEMORY_REGION(z->at, z->len);
    return mem;
}
