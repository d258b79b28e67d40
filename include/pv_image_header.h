/* What a source's own header bytes say about the memory its decoder will
 * hold, where libvips' header does not tell: a JPEG's components and their
 * sampling factors and whether it has more than one scan (libjpeg then
 * keeps every DCT coefficient of the image), a PNG's bit depth and
 * interlace, a GIF's first-frame disposal (libnsgif then keeps a second
 * frame), a WebP's lossless or alpha bitstream (decoded at full size
 * whatever the scale), a HEIF/AVIF's chroma subsampling and bit depth.
 *
 * A bounded parser of hostile bytes: it reads only [buf, buf + len), never
 * past a length field, walks a bounded number of segments, boxes or
 * blocks, and allocates only the result. Pure: no libvips, no I/O. */
#ifndef PV_IMAGE_HEADER_H
#define PV_IMAGE_HEADER_H

#include <apr_errno.h>
#include <apr_pools.h>

/* How many bytes of a file the callers hand in: enough for the headers of
 * every photo seen in practice (EXIF and ICC segments come before a
 * JPEG's frame header, and a CMYK profile takes some 560 KB; HEIF's meta
 * box comes before its pixel data). A header past them is "incomplete",
 * and the estimate assumes the worst. */
#define PV_IMAGE_HEADER_READ (1024 * 1024)

/* libjpeg's own limit (MAX_COMPONENTS); a frame with more fails there. */
#define PV_JPEG_MAX_COMPONENTS 10

typedef enum {
    PV_HEADER_UNKNOWN = 0,
    PV_HEADER_JPEG,
    PV_HEADER_PNG,
    PV_HEADER_GIF,
    PV_HEADER_WEBP,
    PV_HEADER_HEIF
} pv_header_kind_e;

typedef struct pv_image_header_t {
    pv_header_kind_e kind;
    apr_uint32_t width; /* as the header says; 0 when it does not */
    apr_uint32_t height;
    union {
        struct {
            int progressive; /* SOF2, SOF6, SOF10, SOF14 */
            int multiscan;   /* progressive, or a first scan without every
                                component: libjpeg buffers the whole image */
            int precision;   /* bits per sample */
            int components;  /* 1..PV_JPEG_MAX_COMPONENTS */
            unsigned char h[PV_JPEG_MAX_COMPONENTS]; /* sampling, 1..4 */
            unsigned char v[PV_JPEG_MAX_COMPONENTS];
        } jpeg;
        struct {
            int bit_depth;   /* 1, 2, 4, 8, 16 */
            int colour_type; /* 0, 2, 3, 4, 6 */
            int interlaced;  /* Adam7 */
        } png;
        struct {
            int interlaced;       /* first frame */
            int restore_previous; /* first frame's disposal is 3 (or 4) */
        } gif;
        struct {
            int lossless; /* a VP8L bitstream, or an animation (any frame) */
            int alpha;    /* an ALPH chunk or VP8X's alpha flag */
            int animated;
        } webp;
        struct {
            /* The largest of every av1C/hvcC configuration in ipco (the
             * primary image, its alpha and thumbnails alike). */
            int bit_depth;  /* 8, 10, 12 */
            int chroma_div; /* chroma samples per 4 luma: 4 (4:4:4), 2
                               (4:2:2), 1 (4:2:0), 0 (monochrome) */
            int configs;    /* how many were found */
        } heif;
    } u;
} pv_image_header_t;

/* Parse the first len bytes of a file. APR_SUCCESS: *pout filled (in p).
 * APR_INCOMPLETE: the bytes end before the fields needed (a JPEG's frame
 * header, a GIF's first frame, HEIF's ipco), *pout not set. APR_EINVAL:
 * not one of these formats, or malformed where the fields are (a length
 * that runs past its segment, a sampling factor of 0 or over 4, no
 * component); the caller then assumes the worst case of the format. */
apr_status_t pv_image_header_parse(pv_image_header_t **pout,
                                   const unsigned char *buf, apr_size_t len,
                                   apr_pool_t *p);

#endif /* PV_IMAGE_HEADER_H */
