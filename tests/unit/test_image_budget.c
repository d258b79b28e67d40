/* pv_image_budget: the render memory estimate. First its arithmetic on
 * probes written by hand (libjpeg's coefficient buffer to the byte, the
 * whole-frame loaders, the load shrink the render uses, the output side),
 * and which 10000 x 10000 sources the default PreviewMaxRenderMemory
 * (256 MiB) refuses or lets stream. Then the calibration: real renders of
 * every kind, each in its own process, whose peak resident memory
 * (VmHWM after clearing it, /proc/self/clear_refs) must stay below the
 * estimate, and, where a decoder's whole-image buffer dominates, above
 * half of it (an estimate that grew loose would fail too). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <vips/vips.h>

#include "pv_image.h"
#include "pv_image_budget.h"
#include "pv_image_header.h"
#include "image_tests.h"

#define MiB (APR_UINT64_C(1) << 20)

static char fixdir[256];
static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

/* ---- probes by hand ---- */

static pv_image_info_t *info_of(const char *loader, int w, int h, int bands,
                                int sample_bytes)
{
    pv_image_info_t *i = apr_pcalloc(pool, sizeof(*i));

    i->width = i->raw_width = w;
    i->height = i->raw_height = h;
    i->n_pages = 1;
    i->orientation = 1;
    i->loader = loader;
    i->bands = bands;
    i->has_alpha = bands == 2 || bands == 4;
    i->sample_bytes = sample_bytes;
    i->size = 1000000;
    return i;
}

static pv_image_header_t *jpeg_header(int w, int h, int n, const char *hv,
                                      int multiscan)
{
    pv_image_header_t *hd = apr_pcalloc(pool, sizeof(*hd));
    int c;

    hd->kind = PV_HEADER_JPEG;
    hd->width = (apr_uint32_t)w;
    hd->height = (apr_uint32_t)h;
    hd->u.jpeg.precision = 8;
    hd->u.jpeg.components = n;
    hd->u.jpeg.progressive = multiscan;
    hd->u.jpeg.multiscan = multiscan;
    for (c = 0; c < n; c++) {
        hd->u.jpeg.h[c] = (unsigned char)(hv[2 * c] - '0');
        hd->u.jpeg.v[c] = (unsigned char)(hv[2 * c + 1] - '0');
    }
    return hd;
}

/* A header of that kind, other fields 0, set as info's. */
static pv_image_header_t *header_kind(pv_image_info_t *i, pv_header_kind_e k)
{
    pv_image_header_t *hd = apr_pcalloc(pool, sizeof(*hd));

    hd->kind = k;
    i->header = hd;
    return hd;
}

static pv_image_estimate_t *estimate(const pv_image_info_t *i,
                                     pv_render_req_t r)
{
    pv_image_estimate_t *e = NULL;

    ck_assert_int_eq(pv_image_estimate(&e, i, &r, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_ge(e->total, e->held + e->pipeline + e->output + e->file);
    return e;
}

START_TEST(jpeg_coefficients_exact)
{
    /* cover: libvips' path (an "inside" box this small is the JPEG fast
     * path's, below) */
    pv_render_req_t r = req_box(256, 256, PV_FIT_COVER, PV_FORMAT_JPEG);
    pv_image_info_t *i = info_of("jpegload", 10000, 10000, 3, 1);
    pv_image_estimate_t *e;

    /* progressive 4:4:4: 3 x 1250 x 1250 blocks of 128 bytes */
    i->interlaced = 1;
    i->header = jpeg_header(10000, 10000, 3, "111111", 1);
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(600000000));
    ck_assert_int_eq(e->worst_case, 0);
    ck_assert_int_eq(e->shrink, 8);

    /* progressive 4:2:0 4000x3000: luma 500 x 375 blocks, rounded up to
     * whole 2x2 units (500 x 376); chroma 250 x 188 each */
    i = info_of("jpegload", 4000, 3000, 3, 1);
    i->interlaced = 1;
    i->header = jpeg_header(4000, 3000, 3, "221111", 1);
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(128) * (500 * 376 + 2 * 250 * 188));

    /* sequential, but libvips says more than one scan (a first scan
     * without every component): the same buffer */
    i->header = jpeg_header(4000, 3000, 3, "221111", 0);
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(128) * (500 * 376 + 2 * 250 * 188));

    /* baseline, one scan: streamed */
    i->interlaced = 0;
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, 0);
}
END_TEST

START_TEST(jpeg_worst_case)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_COVER, PV_FORMAT_JPEG);
    pv_image_info_t *i = info_of("jpegload", 4000, 3000, 3, 1);
    pv_image_estimate_t *e;
    apr_uint64_t full = APR_UINT64_C(3) * 500 * 375 * 128;

    /* no frame header read: every component at full resolution */
    i->interlaced = 1;
    e = estimate(i, r);
    ck_assert_int_eq(e->worst_case, 1);
    ck_assert_uint_ge(e->held, full);
    /* nor for a multi-scan file whose header libvips did not flag */
    i->interlaced = 0;
    e = estimate(i, r);
    ck_assert_uint_ge(e->held, full);
    /* a frame header of another size than libjpeg's: not trusted */
    i->interlaced = 1;
    i->header = jpeg_header(40, 30, 3, "221111", 1);
    e = estimate(i, r);
    ck_assert_int_eq(e->worst_case, 1);
    ck_assert_uint_ge(e->held, full);
    /* ten components, all full size */
    i->header = jpeg_header(4000, 3000, 10, "11111111111111111111", 1);
    i->bands = 10;
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(10) * 500 * 375 * 128);
}
END_TEST

START_TEST(jpeg_load_shrink)
{
    pv_image_info_t *i = info_of("jpegload", 10000, 10000, 3, 1);

    ck_assert_int_eq(pv_image_jpeg_shrink(i, 256, 256, 0), 8);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 2048, 2048, 0), 4);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 4096, 0, 0), 2);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 8192, 8192, 0), 1);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 0, 1250, 0), 8);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 0, 1251, 0), 4);
    /* cover fills the box on the larger scale */
    i = info_of("jpegload", 8000, 2000, 3, 1);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 512, 512, 0), 8);
    ck_assert_int_eq(pv_image_jpeg_shrink(i, 512, 512, 1), 2);
    /* the estimate follows it: baseline 10000x10000 at 256 decodes
     * 1250 columns */
    i = info_of("jpegload", 10000, 10000, 3, 1);
    i->header = jpeg_header(10000, 10000, 3, "221111", 0);
    ck_assert_int_eq(
        estimate(i, req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG))->shrink,
        8);
}
END_TEST

START_TEST(whole_frame_loaders)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_header_t *hd;
    pv_image_info_t *i;
    pv_image_estimate_t *e;

    /* Adam7 PNG, 16-bit RGBA: read whole at full depth */
    i = info_of("pngload", 10000, 10000, 4, 2);
    i->interlaced = 1;
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(800000000));
    ck_assert_uint_eq(e->file, 0);
    i->interlaced = 0;
    header_kind(i, PV_HEADER_PNG);
    ck_assert_uint_eq(estimate(i, r)->held, 0);

    /* GIF: one RGBA screen, two when the first frame restores */
    i = info_of("gifload", 10000, 10000, 4, 1);
    hd = header_kind(i, PV_HEADER_GIF);
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(400000000));
    ck_assert_uint_eq(e->file, 1000000);
    hd->u.gif.restore_previous = 1;
    ck_assert_uint_eq(estimate(i, r)->held, APR_UINT64_C(800000000));
    i->header = NULL;
    e = estimate(i, r);
    ck_assert_uint_eq(e->held, APR_UINT64_C(800000000));
    ck_assert_int_eq(e->worst_case, 1);

    /* WebP: lossless decodes at full size; lossy at the load scale */
    i = info_of("webpload", 4000, 3000, 3, 1);
    hd = header_kind(i, PV_HEADER_WEBP);
    hd->u.webp.lossless = 1;
    e = estimate(i, r);
    ck_assert_uint_ge(e->held, APR_UINT64_C(48000000));
    ck_assert_uint_gt(e->shrink, 1);
    hd->u.webp.lossless = 0;
    ck_assert_uint_lt(estimate(i, r)->held, APR_UINT64_C(1000000));

    /* HEIF: RGB out plus decoded planes; 4:4:4 dearer than 4:2:0 */
    i = info_of("heifload", 10000, 10000, 3, 1);
    hd = header_kind(i, PV_HEADER_HEIF);
    hd->u.heif.bit_depth = 8;
    hd->u.heif.chroma_div = 1;
    hd->u.heif.configs = 1;
    e = estimate(i, r);
    ck_assert_uint_ge(e->held, APR_UINT64_C(300000000) + 150000000);
    hd->u.heif.chroma_div = 4;
    ck_assert_uint_gt(estimate(i, r)->held, e->held);
    hd->u.heif.bit_depth = 10;
    ck_assert_uint_gt(estimate(i, r)->held, e->held);
}
END_TEST

START_TEST(output_side)
{
    pv_image_info_t *i = info_of("jpegload", 4000, 3000, 3, 1);
    apr_uint64_t plain, rotated, cover, webp, avif;

    i->header = jpeg_header(4000, 3000, 3, "221111", 0);
    plain =
        estimate(i, req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_JPEG))->output;
    webp =
        estimate(i, req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_WEBP))->output;
    avif =
        estimate(i, req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_AVIF))->output;
    cover =
        estimate(i, req_box(2048, 2048, PV_FIT_COVER, PV_FORMAT_JPEG))->output;
    i->orientation = 6;
    rotated =
        estimate(i, req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_JPEG))->output;
    ck_assert_uint_gt(webp, plain);
    ck_assert_uint_gt(avif, webp);
    ck_assert_uint_gt(cover, plain);
    /* the rotation copies the resized image: 2048 x 1536 x 3 */
    ck_assert_uint_ge(rotated - plain, APR_UINT64_C(2048) * 1536 * 3);
}
END_TEST

START_TEST(refusals)
{
    pv_image_info_t *i = info_of("jpegload", 0, 3000, 3, 1);
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_estimate_t *e = NULL;

    ck_assert_int_eq(pv_image_estimate(&e, NULL, &r, pool), APR_EINVAL);
    ck_assert_int_eq(pv_image_estimate(&e, i, NULL, pool), APR_EINVAL);
    ck_assert_int_eq(pv_image_estimate(&e, i, &r, pool), APR_EINVAL);
    ck_assert_ptr_null(e);
}
END_TEST

/* The bombs against the default bound, and the same size
 * streamed: JPEG baseline and PNG without interlace stay allowed up to
 * the largest default box (2048), RGBA included. */
START_TEST(jpeg_fast_estimate)
{
    pv_image_info_t *i = info_of("jpegload", 5120, 2880, 3, 1);
    pv_image_estimate_t *e;
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);

    /* progressive 4:4:4 (the bench's big.jpg): the fast path's planes,
     * 2 bytes a block, not libjpeg's 128 */
    i->interlaced = 1;
    i->size = 4600000;
    i->header = jpeg_header(5120, 2880, 3, "111111", 1);
    e = estimate(i, r);
    ck_assert_int_eq(e->jpeg_fast, 1);
    ck_assert_int_eq(e->shrink, 8);
    ck_assert_uint_eq(e->file, 4600000);
    ck_assert_uint_ge(e->held, APR_UINT64_C(3) * 640 * 360 * 2);
    ck_assert_uint_lt(e->total, 24 * MiB);
    ck_assert_uint_gt(e->fallback, APR_UINT64_C(3) * 640 * 360 * 128);
    ck_assert_uint_gt(e->fallback, 4 * e->total);
    /* libvips' own for what the fast path does not take: a 2048 box,
     * cover, a header of another size, CMYK */
    ck_assert_int_eq(
        estimate(i, req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_JPEG))
            ->jpeg_fast,
        0);
    ck_assert_int_eq(
        estimate(i, req_box(256, 256, PV_FIT_COVER, PV_FORMAT_JPEG))->jpeg_fast,
        0);
    i->header = jpeg_header(5120, 2872, 3, "111111", 1);
    ck_assert_int_eq(estimate(i, r)->jpeg_fast, 0);
    i->header = jpeg_header(5120, 2880, 4, "11111111", 1);
    i->bands = 4;
    ck_assert_int_eq(estimate(i, r)->jpeg_fast, 0);
}
END_TEST

START_TEST(default_bound_decisions)
{
    static const int boxes[] = {64, 256, 2048};
    pv_image_header_t *heif;
    pv_image_info_t *png16i, *prog, *gifi, *avif, *base, *png8, *pnga;
    pv_image_estimate_t *e;
    int b;

    png16i = info_of("pngload", 10000, 10000, 4, 2);
    png16i->interlaced = 1;
    prog = info_of("jpegload", 10000, 10000, 3, 1);
    prog->interlaced = 1;
    prog->header = jpeg_header(10000, 10000, 3, "111111", 1);
    gifi = info_of("gifload", 10000, 10000, 4, 1);
    header_kind(gifi, PV_HEADER_GIF);
    avif = info_of("heifload", 10000, 10000, 3, 1);
    heif = header_kind(avif, PV_HEADER_HEIF);
    heif->u.heif.bit_depth = 8;
    heif->u.heif.chroma_div = 1;
    heif->u.heif.configs = 1;
    base = info_of("jpegload", 10000, 10000, 3, 1);
    base->header = jpeg_header(10000, 10000, 3, "221111", 0);
    png8 = info_of("pngload", 10000, 10000, 3, 1);
    header_kind(png8, PV_HEADER_PNG);
    pnga = info_of("pngload", 10000, 10000, 4, 1);
    header_kind(pnga, PV_HEADER_PNG);
    for (b = 0; b < 3; b++) {
        pv_render_req_t r =
            req_box(boxes[b], boxes[b], PV_FIT_INSIDE, PV_FORMAT_JPEG);

        ck_assert_uint_gt(estimate(png16i, r)->total,
                          PV_IMAGE_DEFAULT_MAX_MEMORY);
        /* the JPEG fast path (64, 256) holds little; libvips would not */
        e = estimate(prog, r);
        ck_assert_uint_gt(e->jpeg_fast ? e->fallback : e->total,
                          PV_IMAGE_DEFAULT_MAX_MEMORY);
        ck_assert_int_eq(e->jpeg_fast, boxes[b] <= 256);
        if (e->jpeg_fast) {
            ck_assert_uint_lt(e->total, 32 * MiB);
        }
        ck_assert_uint_gt(estimate(gifi, r)->total,
                          PV_IMAGE_DEFAULT_MAX_MEMORY);
        ck_assert_uint_gt(estimate(avif, r)->total,
                          PV_IMAGE_DEFAULT_MAX_MEMORY);
        ck_assert_uint_lt(estimate(base, r)->total, 64 * MiB);
        ck_assert_uint_lt(estimate(png8, r)->total, 128 * MiB);
        ck_assert_uint_le(estimate(pnga, r)->total,
                          PV_IMAGE_DEFAULT_MAX_MEMORY);
    }
}
END_TEST

/* Under AddressSanitizer every allocation carries red zones and freed
 * memory waits in quarantine: a process' peak then says nothing of what
 * libvips holds, so the calibration is checked by the normal build only. */
#if defined(__SANITIZE_ADDRESS__)
#define PV_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_UNDER_ASAN 1
#endif
#endif

/* ---- calibration: real renders ---- */

#ifndef PV_UNDER_ASAN
static const char *fx(const char *name)
{
    return apr_pstrcat(pool, fixdir, "/", name, NULL);
}
#endif

static void die_vips(const char *what)
{
    fprintf(stderr, "fixture %s: %s\n", what, vips_error_buffer());
    _exit(2);
}

/* Noise in every band (the encoders' worst case), w x h, sRGB, with a
 * noisy alpha when asked. */
static VipsImage *noise(VipsObject *scope, int w, int h, int alpha)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(scope, 10);
    int i, n = alpha ? 4 : 3;

    for (i = 0; i < n; i++) {
        if (vips_gaussnoise(&t[2 * i], w, h, "sigma", 60.0, NULL) ||
            vips_cast_uchar(t[2 * i], &t[2 * i + 1], NULL)) {
            die_vips("noise");
        }
    }
    {
        VipsImage *bands[4] = {t[1], t[3], t[5], t[7]};

        if (vips_bandjoin(bands, &t[8], n, NULL) ||
            vips_copy(t[8], &t[9], "interpretation", VIPS_INTERPRETATION_sRGB,
                      NULL)) {
            die_vips("bandjoin");
        }
    }
    return t[9];
}

static void make_fixtures(const char *dir)
{
    VipsImage *scope;
    VipsImage **t;
    char p[512];

    if (VIPS_INIT("test_image_budget")) {
        die_vips("init");
    }
    scope = vips_image_new();
    t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 4);
    snprintf(p, sizeof(p), "%s/prog444.jpg", dir);
    if (vips_jpegsave(noise(VIPS_OBJECT(scope), 3000, 2000, 0), p, "interlace",
                      TRUE, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF,
                      NULL)) {
        die_vips("prog444");
    }
    snprintf(p, sizeof(p), "%s/big444.jpg", dir);
    if (vips_jpegsave(noise(VIPS_OBJECT(scope), 5120, 2880, 0), p, "interlace",
                      TRUE, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF,
                      NULL)) {
        die_vips("big444");
    }
    snprintf(p, sizeof(p), "%s/png16i.png", dir);
    if (vips_cast_ushort(noise(VIPS_OBJECT(scope), 2000, 1500, 1), &t[0],
                         NULL) ||
        vips_copy(t[0], &t[1], "interpretation", VIPS_INTERPRETATION_RGB16,
                  NULL) ||
        vips_pngsave(t[1], p, "interlace", TRUE, "bitdepth", 16, "compression",
                     1, NULL)) {
        die_vips("png16i");
    }
    snprintf(p, sizeof(p), "%s/frame.gif", dir);
    if (vips_gifsave(noise(VIPS_OBJECT(scope), 2000, 1500, 0), p, NULL)) {
        die_vips("gif");
    }
    snprintf(p, sizeof(p), "%s/lossless.webp", dir);
    if (vips_webpsave(noise(VIPS_OBJECT(scope), 2000, 1500, 1), p, "lossless",
                      TRUE, NULL)) {
        die_vips("webp");
    }
    snprintf(p, sizeof(p), "%s/wide.png", dir);
    if (vips_pngsave(noise(VIPS_OBJECT(scope), 6000, 1000, 1), p, "compression",
                     1, NULL)) {
        die_vips("wide");
    }
    t[2] = noise(VIPS_OBJECT(scope), 3000, 2000, 0);
    vips_image_set_int(t[2], "orientation", 6);
    snprintf(p, sizeof(p), "%s/rotated.jpg", dir);
    if (vips_jpegsave(t[2], p, NULL)) {
        die_vips("rotated");
    }
    /* AVIF only where libheif has an AV1 encoder; the test skips it
     * otherwise */
    snprintf(p, sizeof(p), "%s/full.avif", dir);
    if (vips_heifsave(noise(VIPS_OBJECT(scope), 2000, 1500, 0), p,
                      "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                      "effort", 0, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF,
                      NULL)) {
        vips_error_clear();
    }
    g_object_unref(scope);
    _exit(0);
}

#ifndef PV_UNDER_ASAN
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    size_t n = strlen(key);
    char line[256];
    long v = -1;

    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, n) == 0) {
            v = atol(line + n);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

/* Render name once to warm libvips up (its threads, the loader's module),
 * reset the peak, render again: the rise of the peak over the resident
 * size before, in bytes. *pest: the estimate of that render. */
static apr_uint64_t measure(const char *name, pv_render_req_t r,
                            pv_image_estimate_t **pest)
{
    pv_image_info_t *info;
    pv_image_out_t *out;
    long base, peak;
    int fd;

    r.limits.max_memory = APR_UINT64_C(1) << 40;
    ck_assert_int_eq(pv_image_init(1), PV_IMAGE_OK);
    ck_assert_int_eq(pv_image_render(&out, fx(name), &r, pool), PV_IMAGE_OK);
    ck_assert_int_eq(pv_image_probe(&info, fx(name), NULL, pool), PV_IMAGE_OK);
    ck_assert_ptr_nonnull(info->header);
    ck_assert_int_eq(pv_image_estimate(pest, info, &r, pool), APR_SUCCESS);
    fd = open("/proc/self/clear_refs", O_WRONLY);
    ck_assert_msg(fd >= 0 && write(fd, "5", 1) == 1,
                  "cannot reset VmHWM (/proc/self/clear_refs)");
    close(fd);
    base = status_kb("VmRSS:");
    ck_assert_int_eq(pv_image_render(&out, fx(name), &r, pool), PV_IMAGE_OK);
    peak = status_kb("VmHWM:");
    ck_assert_int_gt(base, 0);
    ck_assert_int_ge(peak, base);
    return (apr_uint64_t)(peak - base) * 1024;
}

static void calibrated(const char *name, pv_render_req_t r, int dominated)
{
    pv_image_estimate_t *e;
    apr_uint64_t peak = measure(name, r, &e);

    fprintf(stderr,
            "%-14s box %dx%d fit %d format %d: peak %.1f MiB, "
            "estimate %.1f MiB (%.0f %%)\n",
            name, r.width, r.height, (int)r.fit, (int)r.format,
            (double)peak / MiB, (double)e->total / MiB,
            100.0 * (double)peak / (double)e->total);
    ck_assert_msg(peak <= e->total, "%s: peak %lu over the estimate %lu", name,
                  (unsigned long)peak, (unsigned long)e->total);
    if (dominated) {
        ck_assert_msg(peak >= e->total / 2,
                      "%s: peak %lu under half the estimate %lu", name,
                      (unsigned long)peak, (unsigned long)e->total);
    }
}

START_TEST(calibration_progressive_jpeg)
{
    /* fit=cover: libjpeg's whole-image coefficients, as calibrated (an
     * "inside" box this small takes the JPEG fast path, estimated at what
     * it holds: calibration_fast_jpeg) */
    calibrated("prog444.jpg", req_box(256, 256, PV_FIT_COVER, PV_FORMAT_JPEG),
               1);
}
END_TEST

/* The JPEG fast path: DC planes (progressive), TurboJPEG at 1/8 (baseline
 * 4:2:0, turned by EXIF 6), each output format. */
START_TEST(calibration_fast_jpeg)
{
    static const pv_image_format_e fmts[] = {PV_FORMAT_JPEG, PV_FORMAT_PNG,
                                             PV_FORMAT_WEBP};
    int k;

    for (k = 0; k < 3; k++) {
        calibrated("prog444.jpg", req_box(256, 256, PV_FIT_INSIDE, fmts[k]), 0);
        calibrated("rotated.jpg", req_box(256, 256, PV_FIT_INSIDE, fmts[k]), 0);
        calibrated("big444.jpg", req_box(256, 256, PV_FIT_INSIDE, fmts[k]), 0);
    }
    calibrated("big444.jpg", req_box(64, 64, PV_FIT_INSIDE, PV_FORMAT_JPEG), 0);
}
END_TEST

START_TEST(calibration_interlaced_png)
{
    calibrated("png16i.png", req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_PNG),
               1);
}
END_TEST

START_TEST(calibration_gif)
{
    calibrated("frame.gif", req_box(512, 512, PV_FIT_INSIDE, PV_FORMAT_JPEG),
               1);
}
END_TEST

START_TEST(calibration_lossless_webp)
{
    calibrated("lossless.webp",
               req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_WEBP), 0);
}
END_TEST

START_TEST(calibration_wide_png)
{
    calibrated("wide.png", req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_JPEG),
               0);
    calibrated("wide.png", req_box(1024, 1024, PV_FIT_COVER, PV_FORMAT_PNG), 0);
    /* the PNG fast path: the whole file and inflated image */
    calibrated("wide.png", req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG), 0);
}
END_TEST

START_TEST(calibration_rotated_outputs)
{
    calibrated("rotated.jpg",
               req_box(2048, 2048, PV_FIT_INSIDE, PV_FORMAT_WEBP), 0);
    calibrated("rotated.jpg", req_box(2048, 2048, PV_FIT_COVER, PV_FORMAT_JPEG),
               0);
}
END_TEST

START_TEST(calibration_avif)
{
    if (access(fx("full.avif"), R_OK) != 0) {
        fprintf(stderr, "no AV1 encoder here: AVIF not calibrated\n");
        return;
    }
    calibrated("full.avif", req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG),
               1);
    if (pv_image_format_available(PV_FORMAT_AVIF)) {
        calibrated("full.avif",
                   req_box(1024, 1024, PV_FIT_INSIDE, PV_FORMAT_AVIF), 0);
    }
}
END_TEST
#endif /* PV_UNDER_ASAN */

/* Once, in the runner's process, before the tests fork (image_tests.h
 * says why a child makes them). Unused under ASan, where the calibration
 * that reads them is compiled out. */
__attribute__((unused)) static void suite_fixtures_make(void)
{
    ck_assert_msg(fixtures_make(fixdir, sizeof(fixdir), "pv_budget_test",
                                make_fixtures) == 0,
                  "could not make fixtures in %s", fixdir);
}

__attribute__((unused)) static void suite_fixtures_remove(void)
{
    fixtures_remove(fixdir);
}

Suite *pv_test_image_budget_suite(void)
{
    Suite *s = suite_create("image_budget");
    TCase *tc = tcase_create("arithmetic");
#ifndef PV_UNDER_ASAN
    TCase *cal = tcase_create("calibration");
#endif

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, jpeg_coefficients_exact);
    tcase_add_test(tc, jpeg_worst_case);
    tcase_add_test(tc, jpeg_load_shrink);
    tcase_add_test(tc, jpeg_fast_estimate);
    tcase_add_test(tc, whole_frame_loaders);
    tcase_add_test(tc, output_side);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, default_bound_decisions);
    suite_add_tcase(s, tc);

#ifndef PV_UNDER_ASAN
    tcase_add_unchecked_fixture(cal, suite_fixtures_make,
                                suite_fixtures_remove);
    tcase_add_checked_fixture(cal, setup_pool, teardown_pool);
    tcase_set_timeout(cal, 120);
    tcase_add_test(cal, calibration_progressive_jpeg);
    tcase_add_test(cal, calibration_fast_jpeg);
    tcase_add_test(cal, calibration_interlaced_png);
    tcase_add_test(cal, calibration_gif);
    tcase_add_test(cal, calibration_lossless_webp);
    tcase_add_test(cal, calibration_wide_png);
    tcase_add_test(cal, calibration_rotated_outputs);
    tcase_add_test(cal, calibration_avif);
    suite_add_tcase(s, cal);
#endif
    return s;
}
