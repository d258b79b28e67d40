/* A render's large scratch blocks, kept for the next render of the
 * process; see include/pv_scratch.h for why and for the bounds. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "pv_scratch.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_SCRATCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PV_SCRATCH_ASAN 1
#endif
#ifdef PV_SCRATCH_ASAN
#include <sanitizer/asan_interface.h>
/* a kept block is nobody's: a read or write of it through a stale
 * pointer is an error under ASan, as after free() */
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The block's size, in front of what the caller gets (whose alignment it
 * keeps). */
#define HEAD 64

typedef struct {
    apr_size_t size; /* usable bytes after the head */
} head_t;

static pthread_mutex_t keep_mutex = PTHREAD_MUTEX_INITIALIZER;
/* oldest first */
static head_t *kept[PV_SCRATCH_KEEP];
static int kept_n;
static apr_size_t kept_bytes;

/* Sizes in steps of a quarter of their power of two (at most 25 % over),
 * so that files of about one size share blocks. */
static apr_size_t rounded(apr_size_t size)
{
    apr_size_t top = 4096, step;

    if (size <= top) {
        return top;
    }
    if (size > PV_SCRATCH_BLOCK_MAX) {
        return size; /* never kept */
    }
    while (top * 2 <= size) {
        top *= 2;
    }
    step = top / 4;
    return (size + step - 1) / step * step;
}

static void drop(int i)
{
    kept_bytes -= kept[i]->size;
    for (; i + 1 < kept_n; i++) {
        kept[i] = kept[i + 1];
    }
    kept[--kept_n] = NULL;
}

apr_status_t pv_scratch_take(void **pout, apr_size_t size)
{
    head_t *h = NULL;
    void *mem;
    int i, best = -1;
    /* Not much larger than asked: a block is resident as far as its
     * largest user wrote it, so a small request in a large block would
     * hold more than its render counts (and a large one then find no
     * block). */
    apr_size_t most = rounded(size) + rounded(size) / 2;

    pthread_mutex_lock(&keep_mutex);
    for (i = 0; i < kept_n; i++) {
        if (kept[i]->size >= size && kept[i]->size <= most &&
            (best < 0 || kept[i]->size < kept[best]->size)) {
            best = i;
        }
    }
    if (best >= 0) {
        h = kept[best];
        drop(best);
    }
    pthread_mutex_unlock(&keep_mutex);
    if (h) {
        /* only what was asked for: a read past it is ASan's to catch */
        UNPOISON((char *)h + HEAD, size);
        *pout = (char *)h + HEAD;
        return APR_SUCCESS;
    }
    if (rounded(size) > SIZE_MAX - HEAD ||
        posix_memalign(&mem, HEAD, HEAD + rounded(size))) {
        return APR_ENOMEM;
    }
    h = mem;
    h->size = rounded(size);
    POISON((char *)h + HEAD + size, h->size - size);
    *pout = (char *)h + HEAD;
    return APR_SUCCESS;
}

void pv_scratch_give(void *block)
{
    head_t *h, *out[PV_SCRATCH_KEEP + 1];
    int n = 0;

    if (!block) {
        return;
    }
    h = (head_t *)(void *)((char *)block - HEAD);
    if (h->size > PV_SCRATCH_BLOCK_MAX) {
        free(h);
        return;
    }
    POISON(block, h->size);
    pthread_mutex_lock(&keep_mutex);
    while (kept_n > 0 && (kept_n == PV_SCRATCH_KEEP ||
                          kept_bytes + h->size > PV_SCRATCH_KEEP_BYTES)) {
        out[n++] = kept[0];
        drop(0);
    }
    kept[kept_n++] = h;
    kept_bytes += h->size;
    pthread_mutex_unlock(&keep_mutex);
    /* freed outside the lock: an munmap each */
    while (n > 0) {
        free(out[--n]);
    }
}

void pv_scratch_fence(void *at, apr_size_t n)
{
    POISON(at, n);
}

static apr_status_t give_back(void *block)
{
    pv_scratch_give(block);
    return APR_SUCCESS;
}

apr_status_t pv_scratch_palloc(void **pout, apr_size_t size, apr_pool_t *p)
{
    void *block;
    apr_status_t rv;

    if ((rv = pv_scratch_take(&block, size)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, block, give_back, apr_pool_cleanup_null);
    *pout = block;
    return APR_SUCCESS;
}

int pv_scratch_kept(apr_size_t *pbytes)
{
    int n;

    pthread_mutex_lock(&keep_mutex);
    n = kept_n;
    if (pbytes) {
        *pbytes = kept_bytes;
    }
    pthread_mutex_unlock(&keep_mutex);
    return n;
}

void pv_scratch_clear(void)
{
    head_t *out[PV_SCRATCH_KEEP];
    int n = 0;

    pthread_mutex_lock(&keep_mutex);
    while (kept_n > 0) {
        out[n++] = kept[0];
        drop(0);
    }
    pthread_mutex_unlock(&keep_mutex);
    while (n > 0) {
        free(out[--n]);
    }
}
