/* The JPEG fast path: DC-only decode and a finish in C; see
 * include/pv_fast_jpeg.h. Measured on a 4032x3024 4:2:0 photo to 256 px
 * (the numbers are in README's Images section). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <jpeglib.h>
#include <jerror.h>
#include <lcms2.h>

#include "pv_fast_jpeg.h"
#include "pv_image_budget.h"
#include "pv_jpeg_dc.h"
#include "pv_scratch.h"

/* vips_thumbnail's target for a missing side (VIPS_MAX_COORD). */
#define OPEN_SIDE 10000000
/* Lanczos3: three lobes each side of the centre */
#define LOBES 3
/* weights in 1/2^14 */
#define WBITS 14

/* ---------------------------------------------------------- the size */

/* One axis of libvips 8.14's vips_reduceh()/vips_reducev(): the size
 * is rounded to nearest, whatever integer pre-shrink its "gap" takes. */
static int resized(int in, double shrink)
{
    int n = (int)((double)in / shrink + 0.5);

    return n > 0 ? n : 1;
}

void pv_fast_jpeg_size(int *out_w, int *out_h, int in_w, int in_h, int box_w,
                       int box_h, int swap)
{
    /* vips_thumbnail_calculate_shrink() for "inside", size "down" */
    int tw = box_w > 0 ? box_w : OPEN_SIDE, th = box_h > 0 ? box_h : OPEN_SIDE;
    int target_w = swap ? th : tw, target_h = swap ? tw : th;
    double hs = (double)in_w / target_w, vs = (double)in_h / target_h;

    if (hs < vs) {
        hs = vs;
    }
    else {
        vs = hs;
    }
    hs = hs < 1.0 ? 1.0 : hs;
    vs = vs < 1.0 ? 1.0 : vs;
    hs = hs > in_w ? in_w : hs;
    vs = vs > in_h ? in_h : vs;
    *out_w = resized(in_w, hs);
    *out_h = resized(in_h, vs);
}

/* ------------------------------------------------------------ resize */

typedef struct {
    int first, n; /* input samples first .. first + n - 1 */
    int16_t *w;   /* n weights, summing to 1 << WBITS */
} taps_t;

static double lanczos(double x)
{
    if (x == 0.0) {
        return 1.0;
    }
    if (x <= -LOBES || x >= LOBES) {
        return 0.0;
    }
    x *= M_PI;
    return LOBES * sin(x) * sin(x / LOBES) / (x * x);
}

/* The filter of each of out samples from in (out <= in), sample j of in
 * standing for [j, j + 1) of an axis scale * out long (its centre at
 * j + 0.5, as libvips samples): Lanczos3 stretched by the scale, so that
 * it also averages what it drops, the edge sample repeated past either
 * end (libvips' reduce extends by copy). The scale is the source's own
 * over the preview's, not in over out: the DC image's last sample may
 * stand for a partial block. */
static taps_t *make_taps(int in, int out, double scale, apr_pool_t *p)
{
    double support = LOBES * scale;
    int nmax = (int)ceil(support) * 2 + 2, i, j;
    taps_t *t = apr_palloc(p, sizeof(*t) * (size_t)out);
    int16_t *w = apr_palloc(p, sizeof(*w) * (size_t)nmax * (size_t)out);
    double *f = apr_palloc(p, sizeof(*f) * (size_t)nmax);

    for (i = 0; i < out; i++, w += nmax) {
        double centre = (i + 0.5) * scale, sum = 0;
        int lo = (int)floor(centre - support + 0.5), hi;
        int first, last, total = 0, big = 0;
        hi = (int)floor(centre + support + 0.5);
        if (hi - lo > nmax) {
            hi = lo + nmax;
        }
        first = lo < 0 ? 0 : lo > in - 1 ? in - 1 : lo;
        last = hi - 1 < 0 ? 0 : hi - 1 > in - 1 ? in - 1 : hi - 1;
        for (j = 0; j <= last - first; j++) {
            f[j] = 0;
        }
        for (j = lo; j < hi; j++) {
            double v = lanczos((j + 0.5 - centre) / scale);
            int at = j < first ? first : j > last ? last : j;
            f[at - first] += v;
            sum += v;
        }
        for (j = 0; j <= last - first; j++) {
            w[j] = (int16_t)lrint(f[j] / sum * (1 << WBITS));
            total += w[j];
            big = w[j] > w[big] ? j : big;
        }
        w[big] = (int16_t)(w[big] + ((1 << WBITS) - total));
        t[i].first = first;
        t[i].n = last - first + 1;
        t[i].w = w;
    }
    return t;
}

static uint8_t clamp_round(int32_t acc)
{
    acc = (acc + (1 << (WBITS - 1))) >> WBITS;
    return (uint8_t)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

/* The columns' pass in chunks of this many bytes of a row: a loop of
 * fixed length, which gcc's -O2 makes vector operations of (its cost
 * model vectorises no loop of unknown length); 25 % off the resize of a
 * 504x378 image to 256x192, the same bytes. */
#define CHUNK 16

/* in (iw x ih, b bands) to out (ow x oh), sx and sy source samples to an
 * output one: rows first, then columns. */
static void resize(uint8_t *out, int ow, int oh, const uint8_t *in, int iw,
                   int ih, int b, double sx, double sy, apr_pool_t *p)
{
    taps_t *tx = make_taps(iw, ow, sx, p), *ty = make_taps(ih, oh, sy, p);
    size_t rowb = (size_t)ow * (size_t)b;
    /* mid's rows padded to whole chunks, the padding zero (summed, never
     * written out) */
    size_t stride = (rowb + CHUNK - 1) / CHUNK * CHUNK;
    uint8_t *mid = apr_palloc(p, stride * (size_t)ih);
    int x, y, k, c;

    for (y = 0; y < ih; y++) {
        const uint8_t *src = in + (size_t)y * (size_t)iw * (size_t)b;
        uint8_t *dst = mid + (size_t)y * stride;
        memset(dst + rowb, 0, stride - rowb);
        for (x = 0; x < ow; x++) {
            const taps_t *t = &tx[x];
            const uint8_t *s = src + (size_t)t->first * (size_t)b;
            if (b == 3) {
                /* the three channels of a tap at once */
                int32_t a0 = 0, a1 = 0, a2 = 0;
                for (k = 0; k < t->n; k++, s += 3) {
                    a0 += t->w[k] * s[0];
                    a1 += t->w[k] * s[1];
                    a2 += t->w[k] * s[2];
                }
                dst[3 * (size_t)x] = clamp_round(a0);
                dst[3 * (size_t)x + 1] = clamp_round(a1);
                dst[3 * (size_t)x + 2] = clamp_round(a2);
                continue;
            }
            for (c = 0; c < b; c++) {
                int32_t a = 0;
                for (k = 0; k < t->n; k++) {
                    a += t->w[k] * s[(size_t)k * (size_t)b + (size_t)c];
                }
                dst[(size_t)x * (size_t)b + (size_t)c] = clamp_round(a);
            }
        }
    }
    for (y = 0; y < oh; y++) {
        const taps_t *t = &ty[y];
        const uint8_t *top = mid + (size_t)t->first * stride;
        uint8_t *row = out + (size_t)y * rowb;
        size_t i, j;
        for (i = 0; i < stride; i += CHUNK) {
            int32_t acc[CHUNK] = {0};
            uint8_t px[CHUNK];
            const uint8_t *s = top + i;
            for (k = 0; k < t->n; k++, s += stride) {
                int32_t wk = t->w[k];
                for (j = 0; j < CHUNK; j++) {
                    acc[j] += wk * s[j];
                }
            }
            for (j = 0; j < CHUNK; j++) {
                px[j] = clamp_round(acc[j]);
            }
            memcpy(row + i, px, rowb - i < CHUNK ? rowb - i : CHUNK);
        }
    }
}

/* ------------------------------------------------------- orientation */

/* EXIF orientation o applied to in (w x h, b bands): the upright image,
 * *pw x *ph (swapped for 5..8). */
static uint8_t *orient(const uint8_t *in, int w, int h, int b, int o, int *pw,
                       int *ph, apr_pool_t *p)
{
    int swap = o >= 5, ow = swap ? h : w, oh = swap ? w : h, x, y;
    uint8_t *out;

    if (o <= 1 || o > 8) {
        *pw = w;
        *ph = h;
        return (uint8_t *)in;
    }
    out = apr_palloc(p, (size_t)w * (size_t)h * (size_t)b);
    for (y = 0; y < oh; y++) {
        for (x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
                case 2: /* mirrored */
                    sx = w - 1 - x, sy = y;
                    break;
                case 3: /* upside down */
                    sx = w - 1 - x, sy = h - 1 - y;
                    break;
                case 4: /* mirrored upside down */
                    sx = x, sy = h - 1 - y;
                    break;
                case 5: /* transposed */
                    sx = y, sy = x;
                    break;
                case 6: /* turned 90 degrees clockwise to view */
                    sx = y, sy = h - 1 - x;
                    break;
                case 7: /* transversed */
                    sx = w - 1 - y, sy = h - 1 - x;
                    break;
                default: /* 8: turned 270 degrees clockwise to view */
                    sx = w - 1 - y, sy = x;
                    break;
            }
            memcpy(out + ((size_t)y * (size_t)ow + (size_t)x) * (size_t)b,
                   in + ((size_t)sy * (size_t)w + (size_t)sx) * (size_t)b,
                   (size_t)b);
        }
    }
    *pw = ow;
    *ph = oh;
    return out;
}

/* --------------------------------------------------------------- ICC */

/* The embedded RGB profile's colours to sRGB, in place, with relative
 * colorimetric intent (libvips' icc_transform default). APR_ENOTIMPL for
 * a profile lcms2 will not open or that is not RGB. (libvips 8.14's
 * thumbnail, main's path, converts only when given an export profile: it
 * keeps the numbers and drops the profile, so a Display P3 photo comes out
 * duller there.) */
static apr_status_t to_srgb(uint8_t *px, int w, int h, const unsigned char *icc,
                            apr_size_t len)
{
    cmsHPROFILE in = NULL, out = NULL;
    cmsHTRANSFORM xf = NULL;
    apr_status_t rv = APR_ENOTIMPL;

    if (len > 0xFFFFFFFFu) {
        return APR_ENOTIMPL;
    }
    in = cmsOpenProfileFromMem(icc, (cmsUInt32Number)len);
    if (!in || cmsGetColorSpace(in) != cmsSigRgbData) {
        goto cleanup;
    }
    if (!(out = cmsCreate_sRGBProfile())) {
        goto cleanup;
    }
    xf = cmsCreateTransform(in, TYPE_RGB_8, out, TYPE_RGB_8,
                            INTENT_RELATIVE_COLORIMETRIC, 0);
    if (!xf) {
        goto cleanup;
    }
    cmsDoTransform(xf, px, px, (cmsUInt32Number)w * (cmsUInt32Number)h);
    rv = APR_SUCCESS;
cleanup:
    if (xf) {
        cmsDeleteTransform(xf);
    }
    if (out) {
        cmsCloseProfile(out);
    }
    if (in) {
        cmsCloseProfile(in);
    }
    return rv;
}

/* ------------------------------------------------------------ encode */

/* libjpeg's errors: back to encode_jpeg (its longjmp), never to stderr
 * nor exit(). */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
} jpeg_fail_t;

static void jpeg_fail(j_common_ptr ci)
{
    longjmp(((jpeg_fail_t *)ci->err)->back, 1);
}

static void jpeg_quiet(j_common_ptr ci)
{
    (void)ci;
}

/* The encoder's output, in a buffer of ours that grows by doubling
 * (freed by encode_jpeg whatever happens; libjpeg's own memory
 * destination keeps a grown buffer where an error cannot reach it). */
typedef struct {
    struct jpeg_destination_mgr mgr;
    unsigned char *buf;
    size_t size;
} jpeg_sink_t;

static void sink_init(j_compress_ptr ci)
{
    jpeg_sink_t *s = (jpeg_sink_t *)ci->dest;

    s->mgr.next_output_byte = s->buf;
    s->mgr.free_in_buffer = s->size;
}

static boolean sink_grow(j_compress_ptr ci)
{
    jpeg_sink_t *s = (jpeg_sink_t *)ci->dest;
    unsigned char *more = NULL;

    if (s->size <= SIZE_MAX / 2) {
        more = realloc(s->buf, s->size * 2);
    }
    if (!more) {
        ERREXIT(ci, JERR_OUT_OF_MEMORY); /* jpeg_fail: no return */
        return FALSE;
    }
    s->mgr.next_output_byte = more + s->size;
    s->mgr.free_in_buffer = s->size;
    s->buf = more;
    s->size *= 2;
    return TRUE;
}

static void sink_term(j_compress_ptr ci)
{
    (void)ci;
}

/* As libvips 8.14's jpegsave with "strip" and "optimize_coding" (main's
 * saver): libjpeg's defaults at quality q (baseline tables), optimised
 * Huffman tables, no marker but the frame's (no JFIF when stripping),
 * chroma subsampled 2x2 below quality 90 (its "auto"), grey stays grey.
 * TurboJPEG 2.1's tjCompress2 has no way to ask for optimised tables:
 * its files were 8-22 % larger. */
static apr_status_t encode_jpeg(pv_fast_out_t *o, const uint8_t *px, int q,
                                apr_pool_t *p)
{
    struct jpeg_compress_struct ci;
    jpeg_fail_t fail;
    jpeg_sink_t sink;
    volatile apr_status_t rv = APR_ENOMEM;
    int c;

    memset(&ci, 0, sizeof(ci));
    memset(&sink, 0, sizeof(sink));
    /* about what a preview at q 80 takes; a noisy one grows it */
    sink.size = 4096 + (size_t)o->width * (size_t)o->height * (size_t)o->bands;
    if (!(sink.buf = malloc(sink.size))) {
        return APR_ENOMEM;
    }
    sink.mgr.init_destination = sink_init;
    sink.mgr.empty_output_buffer = sink_grow;
    sink.mgr.term_destination = sink_term;
    ci.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_fail;
    fail.mgr.output_message = jpeg_quiet;
    if (setjmp(fail.back)) {
        goto cleanup;
    }
    jpeg_create_compress(&ci);
    ci.dest = &sink.mgr;
    ci.image_width = (JDIMENSION)o->width;
    ci.image_height = (JDIMENSION)o->height;
    ci.input_components = o->bands;
    ci.in_color_space = o->bands == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    ci.optimize_coding = TRUE;
    jpeg_set_quality(&ci, q, TRUE);
    if (q >= 90) {
        for (c = 0; c < ci.num_components; c++) {
            ci.comp_info[c].h_samp_factor = 1;
            ci.comp_info[c].v_samp_factor = 1;
        }
    }
    ci.write_JFIF_header = FALSE;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline *
                                           (size_t)o->width * (size_t)o->bands);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    o->len = sink.size - sink.mgr.free_in_buffer;
    o->data = apr_pmemdup(p, sink.buf, o->len);
    rv = APR_SUCCESS;
cleanup:
    jpeg_destroy_compress(&ci);
    free(sink.buf);
    return rv;
}

/* ------------------------------------------------------------- input */

/* The whole file (size bytes) from the descriptor libvips' probe read;
 * any short read is left to libvips. A block of pv_scratch: the last
 * render's, already faulted in, where one fits (a fresh one past glibc's
 * mmap threshold is a mapping of its own, faulted in page by page). Never
 * a mapping of the file itself: a file truncated under it would be a
 * SIGBUS in the server. */
static apr_status_t read_whole(unsigned char **pbuf, int fd, apr_off_t size,
                               apr_pool_t *p)
{
    unsigned char *buf;
    apr_size_t got = 0;

    if (size <= 0 || (apr_uint64_t)size > (apr_uint64_t)SIZE_MAX) {
        return APR_EINVAL;
    }
    if (pv_scratch_palloc((void **)&buf, (apr_size_t)size, p) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    while (got < (apr_size_t)size) {
        ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return APR_EINVAL;
        }
        got += (apr_size_t)n;
    }
    *pbuf = buf;
    return APR_SUCCESS;
}

apr_status_t pv_fast_jpeg_render(pv_fast_out_t **pout, int fd,
                                 const pv_image_info_t *info,
                                 const pv_render_req_t *req, apr_pool_t *p)
{
    const pv_image_header_t *h = info->header;
    pv_image_estimate_t *est;
    pv_jpeg_dc_t *dc = NULL;
    pv_fast_out_t *o;
    apr_pool_t *tmp = NULL;
    unsigned char *file = NULL;
    uint8_t *small, *up;
    apr_uint64_t need;
    int q = req->quality ? req->quality : PV_IMAGE_DEFAULT_QUALITY;
    int sw, sh, ow, oh;
    apr_status_t rv;

    if (!pv_image_jpeg_fast(info, req)) {
        return APR_ENOTIMPL;
    }
    /* The render reserved this path's own estimate (pv_image_budget.c):
     * its decoder is held to the planes counted there. A file it would
     * take more for is libvips' (with libvips' estimate: the caller's
     * fallback). */
    need = pv_jpeg_dc_memory(h->width, h->height, h->u.jpeg.components,
                             h->u.jpeg.h, h->u.jpeg.v);
    if (need == 0 || pv_image_estimate(&est, info, req, p) != APR_SUCCESS ||
        !est->jpeg_fast || need > est->held) {
        return APR_EINVAL;
    }
    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = read_whole(&file, fd, info->size, tmp)) != APR_SUCCESS) {
        rv = rv == APR_ENOMEM ? rv : APR_EINVAL;
        goto cleanup;
    }
    /* every decode error is libjpeg's to answer, through libvips */
    if (pv_jpeg_dc_decode(&dc, file, (apr_size_t)info->size, need, tmp) !=
            APR_SUCCESS ||
        dc->orientation != info->orientation ||
        dc->width != (int)((h->width + 7) / 8) ||
        dc->height != (int)((h->height + 7) / 8) ||
        (dc->icc && dc->bands != 3)) {
        rv = APR_EINVAL;
        goto cleanup;
    }

    /* Resize as stored, then turn upright (libvips' order). The size is
     * libvips' own, from the whole blocks (jpegload's 1/8 image drops a
     * partial last one); the filter spans the true source, every sample
     * in its place. */
    pv_fast_jpeg_size(&sw, &sh, (int)(h->width / 8), (int)(h->height / 8),
                      req->width, req->height, dc->orientation >= 5);
    small = apr_palloc(tmp, (size_t)sw * (size_t)sh * (size_t)dc->bands);
    resize(small, sw, sh, dc->pixels, dc->width, dc->height, dc->bands,
           h->width / 8.0 / sw, h->height / 8.0 / sh, tmp);
    up = orient(small, sw, sh, dc->bands, dc->orientation, &ow, &oh, tmp);
    if (dc->icc && to_srgb(up, ow, oh, dc->icc, dc->icc_len) != APR_SUCCESS) {
        rv = APR_EINVAL;
        goto cleanup;
    }

    o = apr_pcalloc(p, sizeof(*o));
    o->width = ow;
    o->height = oh;
    o->bands = dc->bands;
    if (req->format == PV_FORMAT_JPEG) {
        rv = encode_jpeg(o, up, q, p);
    }
    else {
        o->pixels =
            apr_pmemdup(p, up, (size_t)ow * (size_t)oh * (size_t)o->bands);
        rv = APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        *pout = o;
    }
cleanup:
    apr_pool_destroy(tmp);
    return rv;
}
