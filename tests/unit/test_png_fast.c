/* pv_png_fast against libvips' pngload: PNGs written here chunk by chunk
 * (every colour type, every filter type, odd sizes, palettes with and
 * without tRNS, chunks that must send a file back to libvips) are decoded
 * by both; libvips' pixels, box-reduced by the plain C below, must equal
 * the fast path's bit for bit. Malformed and truncated files must be
 * errors (the render then falls back to libvips, whose answer stands). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <libdeflate.h>
#include <vips/vips.h>

#include "pv_image.h"
#include "pv_png_fast.h"
#include "image_tests.h"

static apr_pool_t *pool;

static char fixdir[256];

/* ---- a PNG writer of our own (so that every filter type is used) ---- */

typedef struct {
    unsigned char *b;
    size_t len, cap;
} pngbuf_t;

static void put(pngbuf_t *o, const void *d, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->b = realloc(o->b, o->cap);
        ck_assert_ptr_nonnull(o->b);
    }
    memcpy(o->b + o->len, d, n);
    o->len += n;
}

static void put32(pngbuf_t *o, apr_uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(o, b, 4);
}

static void chunk(pngbuf_t *o, const char *type, const void *d, size_t n)
{
    size_t at;

    put32(o, (apr_uint32_t)n);
    at = o->len;
    put(o, type, 4);
    if (n) {
        put(o, d, n);
    }
    put32(o, (apr_uint32_t)libdeflate_crc32(0, o->b + at, n + 4));
}

typedef struct {
    int w, h, ct, depth;
    int filter;       /* 0..4 each row, -1: y % 5, -2: y % 7 (5, 6 invalid) */
    int npal, ntrns;  /* palette entries, tRNS entries */
    const char *xtra; /* a chunk to add before IDAT, or NULL */
    int idat_split;   /* IDAT chunks of this many bytes (0: one) */
    int plte;         /* PLTE entries written (0: npal) */
} spec_t;

static int channels(int ct)
{
    return ct == 0 || ct == 3 ? 1 : ct == 4 ? 2 : ct == 2 ? 3 : 4;
}

/* Deterministic content: gradients, a hard edge and noise. */
static unsigned char sample(int x, int y, int c, int seed)
{
    unsigned v = (unsigned)(x * 7 + y * 3 + c * 50 + seed);
    v ^= (unsigned)((x * 2654435761u) >> 28) ^ (unsigned)((y * 40503u) >> 12);
    if ((x / 9 + y / 5) % 3 == 0) {
        v += 97;
    }
    return (unsigned char)v;
}

static unsigned char paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (unsigned char)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* The PNG of spec s in *o; pixels as stored (palette indices) in *ppix. */
static void png_make(pngbuf_t *o, unsigned char **ppix, const spec_t *s)
{
    int ch = channels(s->ct), x, y, i;
    size_t rb = (size_t)s->w * ch, rawn = (size_t)s->h * (rb + 1);
    unsigned char *pix = malloc((size_t)s->h * rb), *raw = malloc(rawn);
    unsigned char ihdr[13], pal[768], trns[256];
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t zcap = libdeflate_zlib_compress_bound(c, rawn), zn, at;
    unsigned char *z = malloc(zcap);

    for (y = 0; y < s->h; y++) {
        for (x = 0; x < s->w; x++) {
            for (i = 0; i < ch; i++) {
                unsigned char v = sample(x, y, i, s->ct * 31 + s->w);
                if (s->ct == 3) {
                    v = (unsigned char)(v % s->npal);
                }
                pix[(size_t)y * rb + (size_t)x * ch + i] = v;
            }
        }
    }
    for (y = 0; y < s->h; y++) {
        const unsigned char *cur = pix + (size_t)y * rb;
        const unsigned char *up = y ? cur - rb : NULL;
        unsigned char *d = raw + (size_t)y * (rb + 1);
        int f = s->filter >= 0 ? s->filter : y % (s->filter == -1 ? 5 : 7);
        size_t k;

        d[0] = (unsigned char)f;
        for (k = 0; k < rb; k++) {
            int a = k >= (size_t)ch ? cur[k - ch] : 0;
            int b = up ? up[k] : 0;
            int cc = up && k >= (size_t)ch ? up[k - ch] : 0;
            int pred = f == 1   ? a
                       : f == 2 ? b
                       : f == 3 ? (a + b) / 2
                       : f == 4 ? paeth(a, b, cc)
                                : 0;
            d[1 + k] = (unsigned char)(cur[k] - pred);
        }
    }
    zn = libdeflate_zlib_compress(c, raw, rawn, z, zcap);
    ck_assert_uint_gt(zn, 0);

    memset(o, 0, sizeof(*o));
    put(o, "\x89PNG\r\n\x1a\n", 8);
    ihdr[0] = (unsigned char)(s->w >> 24);
    ihdr[1] = (unsigned char)(s->w >> 16);
    ihdr[2] = (unsigned char)(s->w >> 8);
    ihdr[3] = (unsigned char)s->w;
    ihdr[4] = (unsigned char)(s->h >> 24);
    ihdr[5] = (unsigned char)(s->h >> 16);
    ihdr[6] = (unsigned char)(s->h >> 8);
    ihdr[7] = (unsigned char)s->h;
    ihdr[8] = (unsigned char)(s->depth ? s->depth : 8);
    ihdr[9] = (unsigned char)s->ct;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(o, "IHDR", ihdr, 13);
    chunk(o, "gAMA", "\0\0\xb1\x8f", 4);
    if (s->ct == 3) {
        for (i = 0; i < s->npal * 3; i++) {
            pal[i] = (unsigned char)(i * 37 + 11);
        }
        chunk(o, "PLTE", pal, (size_t)(s->plte ? s->plte : s->npal) * 3);
        if (s->ntrns) {
            for (i = 0; i < s->ntrns; i++) {
                trns[i] = (unsigned char)(i * 53);
            }
            chunk(o, "tRNS", trns, (size_t)s->ntrns);
        }
    }
    if (s->xtra) {
        chunk(o, s->xtra, "\0\0\0\1MM\0*", 8);
    }
    chunk(o, "tEXt", "Comment\0made here", 17);
    for (at = 0; at < zn;) {
        size_t n = s->idat_split ? (size_t)s->idat_split : zn;
        n = n > zn - at ? zn - at : n;
        chunk(o, "IDAT", z + at, n);
        at += n;
    }
    chunk(o, "IEND", NULL, 0);
    libdeflate_free_compressor(c);
    free(z);
    free(raw);
    if (ppix) {
        *ppix = pix;
    }
    else {
        free(pix);
    }
}

/* ---- the reference: libvips' pngload, then a box in plain C ---- */

/* libvips' pixels of the PNG in buf (w x h x *pbands, 8-bit). */
static unsigned char *vips_pixels(const pngbuf_t *o, int *pbands, int *pw,
                                  int *ph)
{
    VipsImage *im = NULL;
    unsigned char *px;
    size_t n;

    ck_assert_int_eq(vips_pngload_buffer(o->b, o->len, &im, "fail_on",
                                         VIPS_FAIL_ON_ERROR, NULL),
                     0);
    ck_assert_int_eq(vips_image_get_format(im), VIPS_FORMAT_UCHAR);
    px = vips_image_write_to_memory(im, &n);
    ck_assert_ptr_nonnull(px);
    *pbands = vips_image_get_bands(im);
    *pw = vips_image_get_width(im);
    *ph = vips_image_get_height(im);
    g_object_unref(im);
    return px;
}

/* Mean of each f x f box (partial at the right and bottom edges), rounded
 * half up; with alpha (2 or 4 bands) colour weighted by alpha, 0 where the
 * box is wholly transparent. */
static unsigned char *box(const unsigned char *px, int w, int h, int bands,
                          int f, int *pow, int *poh)
{
    int ow = (w + f - 1) / f, oh = (h + f - 1) / f, ox, oy, x, y, c;
    int alpha = bands == 2 || bands == 4;
    unsigned char *out = malloc((size_t)ow * oh * bands);

    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++) {
            unsigned long sum[4] = {0, 0, 0, 0}, n = 0;
            for (y = oy * f; y < h && y < oy * f + f; y++) {
                for (x = ox * f; x < w && x < ox * f + f; x++) {
                    const unsigned char *p = px + ((size_t)y * w + x) * bands;
                    unsigned long a = alpha ? p[bands - 1] : 1;
                    for (c = 0; c < bands; c++) {
                        sum[c] += alpha && c == bands - 1 ? p[c] : p[c] * a;
                    }
                    n++;
                }
            }
            for (c = 0; c < bands; c++) {
                unsigned char *d = out + ((size_t)oy * ow + ox) * bands + c;
                if (alpha && c < bands - 1) {
                    unsigned long as = sum[bands - 1];
                    *d = (unsigned char)(as ? (sum[c] + as / 2) / as : 0);
                }
                else {
                    *d = (unsigned char)((sum[c] + n / 2) / n);
                }
            }
        }
    }
    *pow = ow;
    *poh = oh;
    return out;
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(pv_image_init(1), PV_IMAGE_OK);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Decode s both ways at factor f and compare every byte. */
static void differential(const spec_t *s, int f)
{
    pngbuf_t o;
    pv_png_fast_info_t *info = NULL;
    pv_png_fast_image_t *img = NULL;
    unsigned char *ref, *want;
    int bands, w, h, ow, oh;

    png_make(&o, NULL, s);
    ref = vips_pixels(&o, &bands, &w, &h);
    ck_assert_int_eq(pv_png_fast_probe(&info, o.b, o.len, pool), APR_SUCCESS);
    ck_assert_msg(info->eligible, "ct %d %dx%d: %s", s->ct, s->w, s->h,
                  info->reason);
    ck_assert_int_eq(info->bands, bands);
    want = box(ref, w, h, bands, f, &ow, &oh);
    ck_assert_int_eq(pv_png_fast_decode(&img, o.b, o.len, f, info->raw, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(img->width, ow);
    ck_assert_int_eq(img->height, oh);
    ck_assert_int_eq(img->bands, bands);
    ck_assert_msg(memcmp(img->pixels, want, (size_t)ow * oh * bands) == 0,
                  "ct %d %dx%d filter %d factor %d: pixels differ", s->ct, s->w,
                  s->h, s->filter, f);
    g_free(ref);
    free(want);
    free(o.b);
}

START_TEST(every_type_filter_and_factor)
{
    static const int cts[] = {0, 2, 4, 6};
    static const int sizes[][2] = {{1, 1}, {7, 3}, {33, 17}, {130, 61}};
    static const int factors[] = {1, 2, 3, 8};
    unsigned i, j, k;
    int f;

    for (i = 0; i < 4; i++) {
        for (j = 0; j < 4; j++) {
            for (f = -1; f <= 4; f++) {
                for (k = 0; k < 4; k++) {
                    spec_t s = {sizes[j][0], sizes[j][1], cts[i], 8, f,
                                0,           0,           NULL,   0, 0};
                    differential(&s, factors[k]);
                }
            }
        }
    }
}
END_TEST

START_TEST(palettes)
{
    /* full and short palettes, tRNS shorter than PLTE, many IDATs */
    spec_t a = {61, 29, 3, 8, -1, 256, 0, NULL, 0, 0};
    spec_t b = {61, 29, 3, 8, -1, 5, 0, NULL, 100, 0};
    spec_t c = {64, 64, 3, 8, -1, 200, 17, NULL, 0, 0};
    spec_t d = {3, 200, 3, 8, 4, 16, 16, NULL, 7, 0};

    differential(&a, 4);
    differential(&b, 3);
    differential(&c, 8);
    differential(&c, 1);
    differential(&d, 5);
}
END_TEST

START_TEST(large_factor)
{
    spec_t s = {1031, 517, 6, 8, -1, 0, 0, NULL, 65536, 0};

    differential(&s, 37);
    differential(&s, PV_PNG_FAST_MAX_FACTOR);
    ck_assert_int_eq(pv_png_fast_factor(3840, 2160, 256, 256, 2), 7);
    ck_assert_int_eq(pv_png_fast_factor(3840, 2160, 0, 256, 2), 4);
    ck_assert_int_eq(pv_png_fast_factor(3840, 2160, 4000, 4000, 2), 1);
    ck_assert_int_eq(pv_png_fast_factor(400000, 10, 16, 0, 1),
                     PV_PNG_FAST_MAX_FACTOR);
}
END_TEST

/* libvips' pngsave of b in *o: libpng choosing each row's filter (way 0),
 * libimagequant's palette (1), fast deflate (2), Paeth only (3). */
static void vips_png(pngbuf_t *o, VipsImage *b, int way)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = -1;

    switch (way) {
        case 0:
            rc = vips_pngsave_buffer(b, &buf, &len, NULL);
            break;
        case 1:
            rc = vips_pngsave_buffer(b, &buf, &len, "palette", TRUE, NULL);
            break;
        case 2:
            rc = vips_pngsave_buffer(b, &buf, &len, "compression", 1, NULL);
            break;
        case 3:
            rc = vips_pngsave_buffer(b, &buf, &len, "filter",
                                     VIPS_FOREIGN_PNG_FILTER_PAETH, NULL);
            break;
    }
    ck_assert_int_eq(rc, 0);
    o->b = buf;
    o->len = len;
    o->cap = len;
}

/* PNGs written by libvips (libpng) decode the same way, 1 to 4 bands. */
START_TEST(vips_written)
{
    VipsImage *n = NULL, *u = NULL;
    int way, k;

    ck_assert_int_eq(
        vips_gaussnoise(&n, 97, 61, "sigma", 70.0, "seed", 7, NULL), 0);
    ck_assert_int_eq(vips_cast_uchar(n, &u, NULL), 0);
    for (way = 0; way < 4; way++) {
        for (k = 1; k <= 4; k++) {
            VipsImage *in[4] = {u, u, u, u}, *j = NULL, *b = NULL;
            pv_png_fast_info_t *info = NULL;
            pv_png_fast_image_t *img = NULL;
            unsigned char *ref, *want;
            int bands, w, h, ow, oh;
            pngbuf_t o;

            ck_assert_int_eq(vips_bandjoin(in, &j, k, NULL), 0);
            ck_assert_int_eq(vips_copy(j, &b, "interpretation",
                                       k >= 3 ? VIPS_INTERPRETATION_sRGB
                                              : VIPS_INTERPRETATION_B_W,
                                       NULL),
                             0);
            vips_png(&o, b, way);
            ref = vips_pixels(&o, &bands, &w, &h);
            ck_assert_int_eq(pv_png_fast_probe(&info, o.b, o.len, pool),
                             APR_SUCCESS);
            ck_assert_msg(info->eligible, "way %d, %d bands: %s", way, k,
                          info->reason);
            want = box(ref, w, h, bands, 3, &ow, &oh);
            ck_assert_int_eq(
                pv_png_fast_decode(&img, o.b, o.len, 3, info->raw, pool),
                APR_SUCCESS);
            ck_assert_msg(memcmp(img->pixels, want, (size_t)ow * oh * bands) ==
                              0,
                          "way %d, %d bands: pixels differ", way, k);
            g_free(ref);
            free(want);
            g_free(o.b);
            g_object_unref(b);
            g_object_unref(j);
        }
    }
    g_object_unref(u);
    g_object_unref(n);
}
END_TEST

/* Chunks that change libvips' pixels or metadata it acts on, or files it
 * judges itself: not the fast path's. */
START_TEST(not_eligible)
{
    static const char *const xtra[] = {"iCCP", "eXIf", "acTL", "prVw", "sBIT"};
    pv_png_fast_info_t *info;
    pv_png_fast_image_t *img = NULL;
    pngbuf_t o;
    unsigned i;

    for (i = 0; i < sizeof(xtra) / sizeof(xtra[0]); i++) {
        spec_t s = {20, 10, 2, 8, 0, 0, 0, xtra[i], 0, 0};
        png_make(&o, NULL, &s);
        ck_assert_int_eq(pv_png_fast_probe(&info, o.b, o.len, pool),
                         APR_SUCCESS);
        ck_assert_msg(!info->eligible, "%s taken", xtra[i]);
        ck_assert_int_eq(pv_png_fast_decode(&img, o.b, o.len, 2, 1 << 20, pool),
                         APR_EINVAL);
        free(o.b);
    }
    {
        /* tRNS on RGB (a colour key): libvips adds an alpha band */
        spec_t s = {20, 10, 2, 8, 0, 0, 0, "tRNS", 0, 0};
        png_make(&o, NULL, &s);
        ck_assert_int_eq(pv_png_fast_probe(&info, o.b, o.len, pool),
                         APR_SUCCESS);
        ck_assert(!info->eligible);
        free(o.b);
    }
    {
        /* 16 bits a sample */
        spec_t s = {20, 10, 0, 16, 0, 0, 0, NULL, 0, 0};
        png_make(&o, NULL, &s);
        ck_assert_int_eq(pv_png_fast_probe(&info, o.b, o.len, pool),
                         APR_SUCCESS);
        ck_assert(!info->eligible);
        free(o.b);
    }
    ck_assert_ptr_null(img);
}
END_TEST

/* Every truncation, a flipped byte in each chunk (a CRC mismatch), a bad
 * filter type, a palette index past PLTE, an IDAT stream with a byte too
 * many or too few: errors, never an image; the raw-size cap refuses
 * before allocating. */
START_TEST(malformed)
{
    spec_t s = {40, 30, 6, 8, -1, 0, 0, NULL, 300, 0};
    spec_t bad_filter = {40, 30, 2, 8, -2, 0, 0, NULL, 0, 0};
    /* indices up to 249 under a palette of 10 entries */
    spec_t bad_index = {40, 30, 3, 8, 0, 250, 0, NULL, 0, 10};
    pv_png_fast_image_t *img = NULL;
    pv_png_fast_info_t *info = NULL;
    pngbuf_t o, b;
    unsigned char *copy;
    size_t n;

    png_make(&o, NULL, &s);
    copy = malloc(o.len);
    for (n = 0; n < o.len; n++) {
        memcpy(copy, o.b, n);
        ck_assert_int_ne(pv_png_fast_decode(&img, copy, n, 2, 1 << 20, pool),
                         APR_SUCCESS);
    }
    for (n = 8; n < o.len; n += 7) {
        memcpy(copy, o.b, o.len);
        copy[n] ^= 0x10;
        ck_assert_int_ne(
            pv_png_fast_decode(&img, copy, o.len, 2, 1 << 20, pool),
            APR_SUCCESS);
    }
    memcpy(copy, o.b, o.len);
    ck_assert_int_eq(pv_png_fast_probe(&info, copy, o.len, pool), APR_SUCCESS);
    ck_assert_int_eq(
        pv_png_fast_decode(&img, copy, o.len, 2, info->raw - 1, pool),
        APR_ENOSPC);
    ck_assert_ptr_null(img);
    free(copy);
    free(o.b);

    png_make(&b, NULL, &bad_filter);
    ck_assert_int_eq(pv_png_fast_decode(&img, b.b, b.len, 2, 1 << 20, pool),
                     APR_EINVAL);
    free(b.b);
    png_make(&b, NULL, &bad_index);
    ck_assert_int_eq(pv_png_fast_decode(&img, b.b, b.len, 2, 1 << 20, pool),
                     APR_EINVAL);
    free(b.b);
    ck_assert_int_eq(pv_png_fast_decode(&img, (unsigned char *)"\x89PNG", 4, 2,
                                        1 << 20, pool),
                     APR_EINVAL);
}
END_TEST

static void write_png(const char *dir, const char *name, const pngbuf_t *o)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(o->b, 1, o->len, f) != o->len || fclose(f) != 0) {
        _exit(2);
    }
}

/* The render test's files: the same 1001x777 RGB PNG as the fast path
 * takes it, with one unknown chunk (libvips' path), and cut at 2/3. */
static void make_files(const char *dir)
{
    spec_t fast = {1001, 777, 2, 8, -1, 0, 0, NULL, 8192, 0};
    spec_t slow = {1001, 777, 2, 8, -1, 0, 0, "prVw", 8192, 0};
    pngbuf_t a, b;

    png_make(&a, NULL, &fast);
    png_make(&b, NULL, &slow);
    write_png(dir, "fast.png", &a);
    write_png(dir, "slow.png", &b);
    a.len = a.len * 2 / 3;
    write_png(dir, "truncated.png", &a);
    _exit(0);
}

static void files_make(void)
{
    ck_assert_int_eq(
        fixtures_make(fixdir, sizeof(fixdir), "pv_png_fast", make_files), 0);
}

static void files_remove(void)
{
    fixtures_remove(fixdir);
}

static const char *fx(const char *name)
{
    return apr_pstrcat(pool, fixdir, "/", name, NULL);
}

/* Through pv_image_render: the fast path's preview has the size libvips'
 * path gives the same file (made ineligible by one unknown chunk), and
 * nearly its pixels; a truncated file is still "corrupt". */
START_TEST(render_same_as_libvips)
{
    static const int boxes[][2] = {{200, 200}, {100, 0}, {0, 77}, {128, 128}};
    const char *pa = fx("fast.png"), *pb = fx("slow.png");
    unsigned i;

    for (i = 0; i < 4; i++) {
        pv_render_req_t r =
            req_box(boxes[i][0], boxes[i][1], PV_FIT_INSIDE, PV_FORMAT_PNG);
        pv_image_out_t *oa = NULL, *ob = NULL;
        VipsImage *ia, *ib, *d = NULL, *ad = NULL;
        double mean;

        ck_assert_int_eq(pv_image_render(&oa, pa, &r, pool), PV_IMAGE_OK);
        ck_assert_int_eq(pv_image_render(&ob, pb, &r, pool), PV_IMAGE_OK);
        ck_assert_int_eq(oa->width, ob->width);
        ck_assert_int_eq(oa->height, ob->height);
        ia = vips_image_new_from_buffer(oa->data, oa->len, "", NULL);
        ib = vips_image_new_from_buffer(ob->data, ob->len, "", NULL);
        ck_assert_int_eq(vips_subtract(ia, ib, &d, NULL), 0);
        ck_assert_int_eq(vips_abs(d, &ad, NULL), 0);
        ck_assert_int_eq(vips_avg(ad, &mean, NULL), 0);
        /* box then Lanczos vs Lanczos alone, on noisy content */
        ck_assert_msg(mean < 12.0, "box %dx%d: mean difference %.2f",
                      boxes[i][0], boxes[i][1], mean);
        g_object_unref(ad);
        g_object_unref(d);
        g_object_unref(ia);
        g_object_unref(ib);
    }
    {
        pv_render_req_t r = req_box(64, 64, PV_FIT_INSIDE, PV_FORMAT_JPEG);
        pv_image_out_t *o = NULL;
        ck_assert_int_eq(pv_image_render(&o, fx("truncated.png"), &r, pool),
                         PV_IMAGE_CORRUPT);
        ck_assert_ptr_null(o);
    }
}
END_TEST

Suite *pv_test_png_fast_suite(void)
{
    Suite *s = suite_create("png_fast");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, files_make, files_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_type_filter_and_factor);
    tcase_add_test(tc, palettes);
    tcase_add_test(tc, large_factor);
    tcase_add_test(tc, vips_written);
    tcase_add_test(tc, not_eligible);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, render_same_as_libvips);
    suite_add_tcase(s, tc);
    return s;
}
