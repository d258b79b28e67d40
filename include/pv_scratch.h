/* Large scratch blocks of a render (the JPEG fast path's copy of the file,
 * its decoder's state and planes), kept for the next render of the
 * process instead of freed: a fresh block of a megabyte or more is a
 * mapping of its own (pv_image.c sets glibc's mmap threshold to 1 MB), so
 * each render mapped, faulted in page by page and unmapped its blocks
 * again, some 10 % of an httpd child's CPU on a 12 Mpx baseline JPEG. A
 * kept block is already faulted in.
 *
 * Bounded: at most PV_SCRATCH_KEEP blocks, PV_SCRATCH_KEEP_BYTES in all,
 * none over PV_SCRATCH_BLOCK_MAX, per process; a block given back beyond
 * that is freed (the oldest kept first, so the keep follows the files of
 * the moment). That is what an idle child holds at worst, on top of the
 * memory bound of its renders (a block in use is counted by the render's
 * own estimate, like any other); a server of small files keeps small
 * blocks.
 *
 * Thread safety: any number of threads at once (one mutex, held only to
 * pick or file a block, never while one is allocated or freed). */
#ifndef PV_SCRATCH_H
#define PV_SCRATCH_H

#include <apr_errno.h>
#include <apr_pools.h>

#define PV_SCRATCH_KEEP       8
#define PV_SCRATCH_KEEP_BYTES (32 * 1024 * 1024)
#define PV_SCRATCH_BLOCK_MAX  (16 * 1024 * 1024)

/* A block of at least size bytes, 64-byte aligned, its contents
 * undefined (a kept block holds what its last user left): the smallest
 * kept one that fits and is at most half as large again as size (rounded
 * up to a quarter of its power of two), else a new one. APR_ENOMEM. */
apr_status_t pv_scratch_take(void **pout, apr_size_t size);

/* Give back a block of pv_scratch_take() (NULL: nothing): kept while the
 * bounds above allow, else freed. */
void pv_scratch_give(void *block);

/* pv_scratch_take(), given back by a cleanup of p. */
apr_status_t pv_scratch_palloc(void **pout, apr_size_t size, apr_pool_t *p);

/* n bytes at `at`, inside a block taken, that its user leaves between two
 * of its parts: no one's until the block is given back (under ASan, an
 * access to them is an error, as past a malloc'd block; else a no-op). */
void pv_scratch_fence(void *at, apr_size_t n);

/* The blocks kept now and their bytes (for tests). */
int pv_scratch_kept(apr_size_t *pbytes);

/* Free every kept block (for tests). */
void pv_scratch_clear(void);

#endif /* PV_SCRATCH_H */
