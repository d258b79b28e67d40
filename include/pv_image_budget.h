/* How much memory a render will hold at its peak, estimated from the
 * source's header alone (libvips' header and the file's own, see
 * pv_image_header.h) and the request, before any pixel is decoded; and
 * the shrink-on-load the render uses, which the estimate must follow.
 *
 * The estimate is an upper bound of the rise of the process' resident
 * memory during one render on libvips 8.14 with one worker thread, as
 * measured for every loader, shape and output format in
 * mod_preview/pv_image_budget.c (the numbers are there). Pure arithmetic:
 * no libvips, no I/O. */
#ifndef PV_IMAGE_BUDGET_H
#define PV_IMAGE_BUDGET_H

#include <apr_errno.h>
#include <apr_pools.h>

#include "pv_image.h"

/* Default of PreviewMaxRenderMemory. */
#define PV_IMAGE_DEFAULT_MAX_MEMORY ((apr_uint64_t)256 * 1024 * 1024)

typedef struct pv_image_estimate_t {
    apr_uint64_t total;    /* the bound: the sum below, with the margin */
    apr_uint64_t held;     /* whole-image buffers of the decoder */
    apr_uint64_t pipeline; /* libvips' strips from the decoder to the resize */
    apr_uint64_t output;   /* copies of the preview (rotate, crop), encoder */
    apr_uint64_t file;     /* the source file, read or mapped whole */
    int shrink;            /* the load shrink (JPEG DCT scale, WebP scale,
                              the PNG fast path's box) */
    int png_fast;          /* the PNG fast path's box factor, 0: not taken */
    apr_uint64_t png_fast_raw; /* its inflated image's bound in bytes */
    int worst_case;            /* the file's header said too little: the worst
                                  case of its format was assumed */
    /* The JPEG fast path's own (pv_fast_jpeg.h): the parts above are what
     * it holds. Should its decoder decline the file after all, libvips
     * renders it and needs fallback, libvips' estimate of that render. */
    int jpeg_fast;
    apr_uint64_t fallback;
} pv_image_estimate_t;

/* The integer shrink the render asks the JPEG loader for (1, 2, 4, 8):
 * the largest DCT scale whose output still covers the final size, so the
 * last resize only ever shrinks. box_w/box_h 0: that side follows the
 * other; cover: the box is filled (both sides given). */
int pv_image_jpeg_shrink(const pv_image_info_t *info, int box_w, int box_h,
                         int cover);

/* Whether the header lets the JPEG fast path (pv_fast_jpeg.h) take info
 * for req: an 8-bit JPEG of 1 or 3 components in one scan or
 * progressive, a box that 1/8 of it still covers (the load shrink libvips
 * would use is 8), "inside" (no attention crop). Its decoder may still
 * decline the file. */
int pv_image_jpeg_fast(const pv_image_info_t *info, const pv_render_req_t *req);

/* The estimate of rendering the probed source info with req (its box,
 * fit and format; of its limits, max_memory decides whether the PNG fast
 * path's whole-image buffers fit, else libvips' streaming is estimated
 * and used). A source the JPEG fast path takes gets that path's own
 * (jpeg_fast, and libvips' as fallback). APR_EINVAL without info or
 * req. */
apr_status_t pv_image_estimate(pv_image_estimate_t **pout,
                               const pv_image_info_t *info,
                               const pv_render_req_t *req, apr_pool_t *p);

#endif /* PV_IMAGE_BUDGET_H */
