/* The render memory estimate; see include/pv_image_budget.h.
 *
 * What libvips 8.14 holds per loader (read in its sources, then measured):
 * - jpegload: a baseline JPEG is decoded in strips, at the DCT scale the
 *   render asks for; a progressive one (or any whose first scan lacks a
 *   component: libjpeg's has_multiple_scans) makes libjpeg keep every DCT
 *   coefficient of the image, 128 bytes a block, whatever the scale.
 * - pngload: non-interlaced rows are read in strips; an Adam7 file is
 *   read whole into memory at full depth first. The PNG fast path
 *   (pv_png_fast.h) holds the whole file and the whole inflated image,
 *   then libvips streams its box-reduced copy: taken only when that fits
 *   the render's bound, else libvips' strips are what is estimated.
 * - gifload (libnsgif): one RGBA frame of the whole screen, and a second
 *   when the first frame's disposal restores the previous one.
 * - webpload: the whole file, an RGBA canvas and a frame at the load
 *   scale; a lossless bitstream (or a lossy one's alpha plane) is decoded
 *   at full size first.
 * - heifload (libheif): the whole image, as decoded YUV planes (more than
 *   one copy on the way) and as interleaved RGB(A).
 * Then, for all: the strips of the pipeline up to the resize (wide when
 * the source is wide, four times wider in float when there is alpha to
 * premultiply), a copy of the resized image to rotate it and another to
 * crop it, and the encoder's own buffers. */
#include <math.h>
#include <string.h>

#include "pv_image_budget.h"
#include "pv_jpeg_dc.h"
#include "pv_png_fast.h"

/* Largest coordinate libvips takes (VIPS_MAX_COORD): a box side left
 * open. */
#define PV_OPEN_SIDE 10000000

/* ---- the calibration ----
 * Measured on libvips 8.14.1 (Debian 12: libjpeg-turbo 2.1.5, libpng
 * 1.6.39, libwebp 1.2.4, libheif 1.15.1 with dav1d/aom, its own libnsgif),
 * one worker thread as in httpd: 441 renders of 29 sources (2000x1500 to
 * 20000x5000; baseline, progressive, grey and CMYK JPEG; PNG plain,
 * palette, 16-bit, Adam7; GIF; WebP lossy, lossy+alpha, lossless; AVIF
 * 4:2:0, 4:4:4, 12-bit, with alpha; HEIC), boxes 256 to 8192, both fits,
 * all four output formats, each render in a fresh process after a warm-up
 * render, its peak the VmHWM after /proc/self/clear_refs minus the VmRSS
 * before. Every peak was below its estimate: at most 94 % of it (a
 * progressive JPEG, whose coefficient buffer is exact), median 59 %, 11 %
 * at the least (a black lossless WebP, which libwebp decodes packed where
 * the estimate takes the full-size buffer; small boxes of wide sources
 * are low too: the strip term below is the largest seen at any box).
 * tests/unit/test_image_budget.c repeats a set of these on every run.
 *
 * Above the parts, all that was measured and not modelled (libjpeg's and
 * libpng's own rows, libvips' regions, malloc rounding), with room: */
#define PV_EST_FIXED ((apr_uint64_t)8 << 20)
/* and 1/16 of the parts. */
#define PV_EST_MARGIN 16
/* Strips between the decoder and the resize, counted in rows of the
 * decoded width: at most 1337 rows in float were seen with alpha
 * (premultiplied: 16 bytes a pixel; 10000 wide, box 2048), 2060 rows
 * without (1 byte a sample). */
#define PV_EST_ROWS_ALPHA 1408
#define PV_EST_ROWS_PLAIN 2304
/* libheif: the RGB(A) image and up to three copies of the YUV planes
 * (the AV1/HEVC decoder's frames and libheif's own): 12.4 bytes a pixel
 * measured for 8-bit 4:4:4 RGB, 6.9 for 4:2:0, 6.1 for HEVC 4:2:0. */
#define PV_EST_HEIF_YUV 3
/* smartcrop's attention pass: about one more copy of the resized image
 * beside the copy it crops. */
#define PV_EST_ATTENTION 1
/* lcms' transform of a CMYK JPEG to sRGB: its tables (up to 4.7 MiB over
 * the estimate without this, at small boxes). */
#define PV_EST_CMYK ((apr_uint64_t)8 << 20)
/* The JPEG fast path, all it holds that is not modelled below: libjpeg's
 * and lcms' state (an ICC transform's tables), malloc rounding. Measured
 * peaks of fast renders: see estimate_jpeg_fast(). */
#define PV_EST_FAST_FIXED ((apr_uint64_t)3 << 20)

static apr_uint64_t ceil_div(apr_uint64_t a, apr_uint64_t b)
{
    return (a + b - 1) / b;
}

static apr_uint64_t round_up(apr_uint64_t a, apr_uint64_t m)
{
    return ceil_div(a, m) * m;
}

static int is_loader(const pv_image_info_t *info, const char *nick)
{
    return info->loader && strcmp(info->loader, nick) == 0;
}

static const pv_image_header_t *header_of(const pv_image_info_t *info,
                                          pv_header_kind_e kind)
{
    return info->header && info->header->kind == kind ? info->header : NULL;
}

int pv_image_jpeg_shrink(const pv_image_info_t *info, int box_w, int box_h,
                         int cover)
{
    double tw = box_w > 0 ? box_w : PV_OPEN_SIDE;
    double th = box_h > 0 ? box_h : PV_OPEN_SIDE;
    double sx, sy, sc, need_w, need_h;
    int f;

    if (info->width <= 0 || info->height <= 0) {
        return 1;
    }
    /* The displayed sizes: a 90 degree orientation swaps the axes of the
     * box and of the file alike, and the DCT scale is the same on both. */
    sx = tw / info->width;
    sy = th / info->height;
    sc = cover ? (sx > sy ? sx : sy) : (sx < sy ? sx : sy);
    if (sc >= 1.0) {
        return 1;
    }
    need_w = ceil(info->width * sc);
    need_h = ceil(info->height * sc);
    for (f = 8; f > 1; f /= 2) {
        /* libjpeg rounds the scaled size up; floor is the safe side */
        if (info->width / f >= need_w && info->height / f >= need_h) {
            return f;
        }
    }
    return 1;
}

/* libjpeg's whole-image coefficient buffer (jdcoefct.c): per component,
 * its blocks (jdinput.c: width * h / (8 * hmax), rounded up) rounded up to
 * whole sampling units, 64 coefficients of 2 bytes each. Without the
 * frame header: every component at full resolution, plus the largest
 * rounding (3 blocks a side). */
static apr_uint64_t jpeg_coefficients(const pv_image_header_t *h,
                                      apr_uint64_t w, apr_uint64_t ht,
                                      int bands)
{
    apr_uint64_t sum = 0;
    int c, hmax = 1, vmax = 1;

    if (!h) {
        return (ceil_div(w, 8) + 3) * (ceil_div(ht, 8) + 3) * 128 *
               (apr_uint64_t)(bands > 0 ? bands : PV_JPEG_MAX_COMPONENTS);
    }
    for (c = 0; c < h->u.jpeg.components; c++) {
        hmax = h->u.jpeg.h[c] > hmax ? h->u.jpeg.h[c] : hmax;
        vmax = h->u.jpeg.v[c] > vmax ? h->u.jpeg.v[c] : vmax;
    }
    for (c = 0; c < h->u.jpeg.components; c++) {
        apr_uint64_t bw = ceil_div(w * h->u.jpeg.h[c], 8 * (apr_uint64_t)hmax);
        apr_uint64_t bh = ceil_div(ht * h->u.jpeg.v[c], 8 * (apr_uint64_t)vmax);

        sum +=
            round_up(bw, h->u.jpeg.h[c]) * round_up(bh, h->u.jpeg.v[c]) * 128;
    }
    return sum;
}

/* What the decoder holds whole (see the top of this file). lw x lh: the
 * size it decodes to (after a load shrink). */
static apr_uint64_t decoder_held(pv_image_estimate_t *e,
                                 const pv_image_info_t *info, apr_uint64_t lw,
                                 apr_uint64_t lh)
{
    apr_uint64_t w = (apr_uint64_t)info->raw_width;
    apr_uint64_t h = (apr_uint64_t)info->raw_height;
    apr_uint64_t px = w * h;
    apr_uint64_t bands = (apr_uint64_t)(info->bands > 0 ? info->bands : 4);
    apr_uint64_t sb = (apr_uint64_t)(info->sample_bytes > 1 ? 2 : 1);
    const pv_image_header_t *hd;

    if (is_loader(info, "jpegload")) {
        hd = header_of(info, PV_HEADER_JPEG);
        if (!hd) {
            e->worst_case = 1;
        }
        if (info->interlaced || !hd || hd->u.jpeg.multiscan) {
            if (hd && (hd->width != w || hd->height != h)) {
                hd = NULL; /* not the frame libjpeg read */
                e->worst_case = 1;
            }
            return jpeg_coefficients(hd, w, h, info->bands) +
                   (info->bands == 4 ? PV_EST_CMYK : 0);
        }
        /* CMYK: lcms' tables for the conversion to sRGB */
        return info->bands == 4 ? PV_EST_CMYK : 0;
    }
    if (is_loader(info, "pngload")) {
        hd = header_of(info, PV_HEADER_PNG);
        if (info->interlaced || !hd || hd->u.png.interlaced) {
            e->worst_case |= !hd;
            return px * bands * sb;
        }
        return 0;
    }
    if (is_loader(info, "gifload")) {
        hd = header_of(info, PV_HEADER_GIF);
        e->worst_case |= !hd;
        return px * 4 * (!hd || hd->u.gif.restore_previous ? 2 : 1);
    }
    if (is_loader(info, "webpload")) {
        apr_uint64_t held = lw * lh * 4 * 2;

        hd = header_of(info, PV_HEADER_WEBP);
        e->worst_case |= !hd;
        if (!hd || hd->u.webp.lossless) {
            held += px * 4;
        }
        else if (hd->u.webp.alpha) {
            held += px * 2; /* the alpha plane, and its lossless decoder */
        }
        return held;
    }
    if (is_loader(info, "heifload")) {
        /* chroma in quarters of a luma plane: 4:4:4 is 4 + 2 * 4 */
        apr_uint64_t quarters = 12, ysb = 2;

        hd = header_of(info, PV_HEADER_HEIF);
        e->worst_case |= !hd;
        if (hd) {
            quarters = 4 + 2 * (apr_uint64_t)hd->u.heif.chroma_div;
            ysb = hd->u.heif.bit_depth > 8 ? 2 : 1;
        }
        return px * bands * sb + px * ysb * quarters * PV_EST_HEIF_YUV / 4;
    }
    /* Any other loader: assume it holds the whole image. */
    e->worst_case = 1;
    return px * bands * sb;
}

/* Formats whose loader reads or maps the whole file. */
static int reads_whole_file(const pv_image_info_t *info)
{
    return !is_loader(info, "jpegload") && !is_loader(info, "pngload");
}

/* Encoder memory per output pixel, the encoded bytes included: measured
 * up to 3 (JPEG, noise at Q 80), 2 (PNG), 12 (WebP), 36 (WebP with alpha;
 * its lossless alpha encoder) and 35 (AVIF, libaom at libvips' default
 * effort). */
static apr_uint64_t encoder_per_pixel(pv_image_format_e f, int alpha)
{
    switch (f) {
        case PV_FORMAT_JPEG:
            return 4;
        case PV_FORMAT_PNG:
            return 4;
        case PV_FORMAT_WEBP:
            return alpha ? 40 : 16;
        case PV_FORMAT_AVIF:
            return 40;
    }
    return 40;
}

/* The PNG fast path's box factor for this source and request, before its
 * chunks are read (pv_png_fast_decode may still decline): an 8-bit,
 * non-interlaced PNG shown as stored, fit inside a box at least twice
 * smaller; 0 when not. */
static int png_fast_candidate(const pv_image_info_t *info,
                              const pv_render_req_t *req)
{
    const pv_image_header_t *hd = header_of(info, PV_HEADER_PNG);
    int f;

    if (!is_loader(info, "pngload") || !hd || hd->u.png.bit_depth != 8 ||
        hd->u.png.interlaced || info->interlaced || info->orientation > 1 ||
        info->sample_bytes > 1 || info->bands < 1 || info->bands > 4 ||
        (req->fit == PV_FIT_COVER && req->width > 0 && req->height > 0)) {
        return 0;
    }
    f = pv_png_fast_factor((apr_uint32_t)info->raw_width,
                           (apr_uint32_t)info->raw_height, req->width,
                           req->height, 2);
    return f >= 2 ? f : 0;
}

/* Its inflated image at most: every row's filter byte and its samples,
 * with libvips' bands (a palette's index is one byte, its RGB(A) three or
 * four: the larger side). */
static apr_uint64_t png_fast_raw(const pv_image_info_t *info)
{
    return (apr_uint64_t)info->raw_height *
           (1 + (apr_uint64_t)info->raw_width * (apr_uint64_t)info->bands);
}

/* What the JPEG fast path holds at its peak (pv_fast_jpeg.c), an upper
 * bound from the frame header: the whole file; the decoder's planes (a DC
 * coefficient of 2 bytes a block of the MCU grid), its 1/8 image and
 * libjpeg's rows when TurboJPEG decodes (64 bytes a source column); the
 * resize's
 * rows (its output width by the 1/8 height) and filters, the preview
 * and its upright copy; the encoder: libjpeg's whole-image coefficients
 * (optimised tables take two passes, 128 bytes a block and component)
 * and its output, which grows by doubling from the raw size, and the
 * copy handed on; for the other formats the pixels handed to libvips'
 * saver and that saver. Measured on the calibration sources of
 * tests/unit/test_image_budget.c (3000x2000 progressive 4:4:4 and
 * baseline 4:2:0 turned by EXIF 6; 5120x2880 progressive 4:4:4, boxes
 * 64 and 256, JPEG, PNG and WebP out): every peak under its estimate. */
static void estimate_jpeg_fast(pv_image_estimate_t *e,
                               const pv_image_info_t *info,
                               const pv_render_req_t *req, apr_uint64_t rw,
                               apr_uint64_t rh)
{
    const pv_image_header_t *h = info->header;
    apr_uint64_t w = (apr_uint64_t)h->width, ht = (apr_uint64_t)h->height;
    apr_uint64_t w8 = ceil_div(w, 8), h8 = ceil_div(ht, 8), side, px, sum;
    apr_uint64_t b = h->u.jpeg.components == 1 ? 1 : 3;

    /* the preview's longer side bounds either side as stored */
    side = rw > rh ? rw : rh;
    px = rw * rh * b;
    e->shrink = 8;
    e->file = (apr_uint64_t)info->size;
    /* What the decoder says it allocates (DC planes, the 1/8 image, its
     * state and Huffman lookups), checked against this
     * before it decodes: the two cannot drift apart. */
    e->held =
        pv_jpeg_dc_memory((apr_uint32_t)w, (apr_uint32_t)ht,
                          h->u.jpeg.components, h->u.jpeg.h, h->u.jpeg.v) +
        64 * w;
    e->pipeline = side * h8 * b + 64 * (w8 + h8 + rw + rh) + side * b * 4;
    e->output = px * (info->orientation > 1 ? 2 : 1);
    if (req->format == PV_FORMAT_JPEG) {
        e->output += (ceil_div(rw, 8) + 2) * (ceil_div(rh, 8) + 2) * 128 * b +
                     6 * (4096 + px);
    }
    else {
        e->output += px + rw * rh * encoder_per_pixel(req->format, 0);
    }
    sum = e->held + e->pipeline + e->output + e->file;
    e->total = PV_EST_FAST_FIXED + sum + sum / PV_EST_MARGIN;
    e->jpeg_fast = 1;
}

static apr_status_t estimate(pv_image_estimate_t **pout,
                             const pv_image_info_t *info,
                             const pv_render_req_t *req, int png_fast,
                             int jpeg_fast, apr_pool_t *p)
{
    pv_image_estimate_t *e;
    double tw, th, hs, vs, common;
    apr_uint64_t lw, lh, rw, rh, ow, oh, bands, bpw, rows, sum;
    int cover, alpha, copies;

    e = apr_pcalloc(p, sizeof(*e));
    cover = req->fit == PV_FIT_COVER && req->width > 0 && req->height > 0;
    alpha = info->has_alpha;
    bands = (apr_uint64_t)(info->bands > 0 ? info->bands : 4);
    if (bands > 4) {
        bands = 4; /* what the resize sees after the colour conversion */
    }

    /* The resize as vips_thumbnail() computes it, on the displayed sizes:
     * never up (SIZE_DOWN); inside takes the larger shrink on both axes,
     * cover the smaller. */
    tw = req->width > 0 ? req->width : PV_OPEN_SIDE;
    th = req->height > 0 ? req->height : PV_OPEN_SIDE;
    hs = info->width / tw;
    vs = info->height / th;
    common = cover ? (hs < vs ? hs : vs) : (hs > vs ? hs : vs);
    if (common < 1.0) {
        common = 1.0;
    }
    rw = (apr_uint64_t)(info->width / common) + 1;
    rh = (apr_uint64_t)(info->height / common) + 1;
    rw = rw > (apr_uint64_t)info->width ? (apr_uint64_t)info->width : rw;
    rh = rh > (apr_uint64_t)info->height ? (apr_uint64_t)info->height : rh;
    ow = cover && (apr_uint64_t)req->width < rw ? (apr_uint64_t)req->width : rw;
    oh = cover && (apr_uint64_t)req->height < rh ? (apr_uint64_t)req->height
                                                 : rh;

    if (jpeg_fast) {
        estimate_jpeg_fast(e, info, req, rw, rh);
        *pout = e;
        return APR_SUCCESS;
    }

    /* The size the loader decodes to, in the file's own orientation. */
    e->shrink = 1;
    lw = (apr_uint64_t)info->raw_width;
    lh = (apr_uint64_t)info->raw_height;
    if (is_loader(info, "jpegload")) {
        e->shrink = pv_image_jpeg_shrink(info, req->width, req->height, cover);
        lw = ceil_div(lw, (apr_uint64_t)e->shrink);
        lh = ceil_div(lh, (apr_uint64_t)e->shrink);
    }
    else if (png_fast) {
        e->shrink = e->png_fast = png_fast;
        lw = ceil_div(lw, (apr_uint64_t)png_fast);
        lh = ceil_div(lh, (apr_uint64_t)png_fast);
    }
    else if (is_loader(info, "webpload") && common > 1.0) {
        /* libwebp scales while it decodes (thumbnail's "scale") */
        lw = (apr_uint64_t)(lw / common) + 1;
        lh = (apr_uint64_t)(lh / common) + 1;
        e->shrink = (int)common;
    }

    if (png_fast) {
        /* the inflated image, and the reduced one with libvips' copy */
        e->held = png_fast_raw(info) + 2 * lw * lh * bands;
        e->file = (apr_uint64_t)info->size;
    }
    else {
        e->held = decoder_held(e, info, lw, lh);
        e->file = reads_whole_file(info) ? (apr_uint64_t)info->size : 0;
    }

    /* Strips of the whole decoded width up to the resize: float when the
     * alpha is premultiplied, at most `rows` of them at once. */
    bpw = alpha ? 4 : 1;
    rows = alpha ? PV_EST_ROWS_ALPHA : PV_EST_ROWS_PLAIN;
    e->pipeline = lw * bands * bpw * (lh < rows ? lh : rows);

    /* The preview: thumbnail copies the resized image to memory to rotate
     * it and again to crop it; then the encoder. */
    copies =
        (info->orientation > 1 ? 1 : 0) + (cover ? 1 + PV_EST_ATTENTION : 0);
    e->output = rw * rh * bands * (apr_uint64_t)copies +
                ow * oh *
                    encoder_per_pixel(req->format,
                                      alpha && req->format != PV_FORMAT_JPEG);

    sum = e->held + e->pipeline + e->output + e->file;
    e->total = PV_EST_FIXED + sum + sum / PV_EST_MARGIN;
    *pout = e;
    return APR_SUCCESS;
}

int pv_image_jpeg_fast(const pv_image_info_t *info, const pv_render_req_t *req)
{
    const pv_image_header_t *h = header_of(info, PV_HEADER_JPEG);

    /* (a frame header of another size than libvips read: not trusted) */
    if (!is_loader(info, "jpegload") || !h || h->u.jpeg.precision != 8 ||
        h->width != (apr_uint32_t)info->raw_width ||
        h->height != (apr_uint32_t)info->raw_height ||
        (h->u.jpeg.components != 1 && h->u.jpeg.components != 3) ||
        (h->u.jpeg.multiscan && !h->u.jpeg.progressive) || info->n_pages != 1 ||
        info->has_alpha) {
        return 0;
    }
    if (req->fit == PV_FIT_COVER && req->width && req->height) {
        return 0;
    }
    return pv_image_jpeg_shrink(info, req->width, req->height, 0) == 8;
}

apr_status_t pv_image_estimate(pv_image_estimate_t **pout,
                               const pv_image_info_t *info,
                               const pv_render_req_t *req, apr_pool_t *p)
{
    apr_uint64_t bound;
    int f;

    if (!info || !req || info->raw_width <= 0 || info->raw_height <= 0 ||
        info->width <= 0 || info->height <= 0) {
        return APR_EINVAL;
    }
    /* The fast path only where its whole-image buffers fit the bound; a
     * larger PNG is streamed by libvips as before. */
    bound = req->limits.max_memory ? req->limits.max_memory
                                   : PV_IMAGE_DEFAULT_MAX_MEMORY;
    if ((f = png_fast_candidate(info, req)) &&
        estimate(pout, info, req, f, 0, p) == APR_SUCCESS &&
        (*pout)->total <= bound) {
        (*pout)->png_fast_raw = png_fast_raw(info);
        return APR_SUCCESS;
    }
    if (pv_image_jpeg_fast(info, req)) {
        pv_image_estimate_t *vips;

        estimate(&vips, info, req, 0, 0, p);
        estimate(pout, info, req, 0, 1, p);
        (*pout)->fallback = vips->total;
        return APR_SUCCESS;
    }
    return estimate(pout, info, req, 0, 0, p);
}
