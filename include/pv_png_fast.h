/* A PNG decoder for previews only: the whole file in memory, its IDAT
 * stream inflated at once by libdeflate, unfiltered row by row and reduced
 * in the same pass by an integer box of the caller's factor, so that
 * libvips only finishes a small image. Twice as fast as libpng through
 * libvips' pngload on a 3840x2160 RGB file (zlib's inflate alone is half of
 * that cost).
 *
 * It takes what it can prove it decodes exactly as libvips' pngload does:
 * 8-bit grey, grey+alpha, RGB, RGBA and palette (with or without tRNS),
 * not interlaced, every chunk's CRC right, no chunk that changes the
 * pixels libvips would show (iCCP, eXIf, APNG's acTL, tRNS on grey or RGB,
 * any chunk it does not know). Everything else is "not mine" or an error,
 * and the caller then renders with libvips as before, so a malformed file
 * gets libvips' answer, never one of ours.
 *
 * A bounded parser of hostile bytes: every read inside [buf, buf + len),
 * every size checked before it is allocated. Pure: no libvips, no I/O. */
#ifndef PV_PNG_FAST_H
#define PV_PNG_FAST_H

#include <apr_errno.h>
#include <apr_pools.h>

/* The largest box factor: keeps each output sum of alpha-weighted samples
 * (255 x 255 x factor^2) inside 32 bits. */
#define PV_PNG_FAST_MAX_FACTOR 128

typedef struct pv_png_fast_info_t {
    apr_uint32_t width; /* IHDR */
    apr_uint32_t height;
    int bit_depth;
    int colour_type; /* 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA */
    int interlaced;
    int bands;          /* as decoded: 1..4, palette expanded */
    apr_uint64_t raw;   /* inflated bytes: height x (1 + row bytes) */
    int eligible;       /* the fast path takes it (above) */
    const char *reason; /* why not, when not eligible */
} pv_png_fast_info_t;

typedef struct pv_png_fast_image_t {
    int width; /* ceil(source / factor): edge boxes are partial */
    int height;
    int bands; /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int factor;
    unsigned char *pixels; /* width x height x bands, in the pool */
} pv_png_fast_image_t;

/* Walk the chunks of buf (a whole file) and check them (lengths, CRCs,
 * order, the IHDR fields) without inflating. APR_SUCCESS: *pout filled,
 * eligible or not (and why not). APR_EINVAL: not a PNG, or malformed. */
apr_status_t pv_png_fast_probe(pv_png_fast_info_t **pout,
                               const unsigned char *buf, apr_size_t len,
                               apr_pool_t *p);

/* The largest box factor (1..PV_PNG_FAST_MAX_FACTOR) whose output still
 * has at least `margin` times the pixels of the fit-inside target on each
 * side: box_w/box_h 0 follows the other side. 1: no reduction worth it. */
int pv_png_fast_factor(apr_uint32_t width, apr_uint32_t height, int box_w,
                       int box_h, int margin);

/* Decode buf (a whole PNG file, eligible by pv_png_fast_probe) reduced by
 * factor. buf is overwritten (the IDAT data are gathered in place). The
 * inflated image (info->raw bytes) is allocated only if info->raw is at
 * most max_raw, else APR_ENOSPC, nothing allocated. APR_EINVAL: not
 * eligible, or any error of the data (a bad CRC, zlib stream, filter
 * type, palette index, too little or too much data); APR_ENOMEM. */
apr_status_t pv_png_fast_decode(pv_png_fast_image_t **pout, unsigned char *buf,
                                apr_size_t len, int factor,
                                apr_uint64_t max_raw, apr_pool_t *p);

#endif /* PV_PNG_FAST_H */
