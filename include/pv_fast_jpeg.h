/* The fast path of a JPEG preview whose box its 1/8 scale still covers:
 * the DC-only decoder (pv_jpeg_dc.h) and a finish in C on the small
 * image (a Lanczos3 resize to the size libvips' thumbnail would give, the
 * EXIF orientation, ICC to sRGB with lcms2, a libjpeg encode as libvips'
 * jpegsave's), instead of libvips' pipeline. Chosen from the header; any source
 * it does not take, and any decode error, is left to libvips (APR_ENOTIMPL), so
 * that odd, malformed and truncated files get exactly the answers they had. */
#ifndef PV_FAST_JPEG_H
#define PV_FAST_JPEG_H

#include <apr_errno.h>
#include <apr_pools.h>

#include "pv_image.h"

typedef struct pv_fast_out_t {
    /* req->format JPEG: the encoded preview (in p), no metadata */
    const unsigned char *data;
    apr_size_t len;
    /* other formats: the preview's sRGB (or grey) pixels for libvips'
     * saver, rows top down, width * bands bytes each (in p) */
    unsigned char *pixels;
    int width;
    int height;
    int bands;
} pv_fast_out_t;

/* Render the probed source info (open as fd) with req, as
 * pv_image_render() would. APR_SUCCESS: *pout set. APR_ENOTIMPL: not a
 * source the header lets this path take (pv_image_jpeg_fast());
 * APR_EINVAL: taken, but the decoder refused the file (malformed,
 * truncated, a marker it leaves to libjpeg, planes over the render's
 * estimate) or its ICC profile: both left to libvips, nothing kept.
 * APR_ENOMEM. */
apr_status_t pv_fast_jpeg_render(pv_fast_out_t **pout, int fd,
                                 const pv_image_info_t *info,
                                 const pv_render_req_t *req, apr_pool_t *p);

/* The preview's size and the load the fast path would use, for tests:
 * the box (box_w/box_h, 0 follows the other) applied as libvips 8.14's
 * vips_thumbnail_image() with vips_resize()'s rounding, to an image of
 * in_w x in_h as stored, displayed swapped when swap. */
void pv_fast_jpeg_size(int *out_w, int *out_h, int in_w, int in_h, int box_w,
                       int box_h, int swap);

#endif /* PV_FAST_JPEG_H */
