/* pv_image_header: the bounded parser of JPEG, PNG, GIF, WebP and HEIF
 * headers. Headers are built here byte by byte, so that each field and
 * each malformation is exact; every prefix of every valid header is parsed
 * too (a prefix never succeeds early, never reads past its length). */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "pv_image_header.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

/* ---- a byte builder ---- */

typedef struct {
    unsigned char b[4096];
    apr_size_t n;
} buf_t;

static void put(buf_t *o, const void *p, apr_size_t n)
{
    ck_assert_uint_le(o->n + n, sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put8(buf_t *o, unsigned v)
{
    unsigned char c = (unsigned char)v;

    put(o, &c, 1);
}

static void put16be(buf_t *o, unsigned v)
{
    put8(o, v >> 8);
    put8(o, v);
}

static void put32be(buf_t *o, apr_uint32_t v)
{
    put16be(o, v >> 16);
    put16be(o, v & 0xFFFF);
}

static void put16le(buf_t *o, unsigned v)
{
    put8(o, v);
    put8(o, v >> 8);
}

static void put24le(buf_t *o, apr_uint32_t v)
{
    put16le(o, v & 0xFFFF);
    put8(o, v >> 16);
}

static void put32le(buf_t *o, apr_uint32_t v)
{
    put16le(o, v & 0xFFFF);
    put16le(o, v >> 16);
}

static apr_status_t parse(pv_image_header_t **h, const buf_t *o)
{
    *h = NULL;
    return pv_image_header_parse(h, o->b, o->n, pool);
}

/* Every prefix of [from, to) bytes of a header that parses: never a
 * success (the fields end at `to`), never a crash. */
static void prefixes_incomplete_to(const buf_t *o, apr_size_t from,
                                   apr_size_t to)
{
    apr_size_t n;

    for (n = from; n < to; n++) {
        pv_image_header_t *h = NULL;
        /* a copy of exactly n bytes, so that a read past them is caught by
         * ASan in the fuzz build */
        unsigned char *copy = malloc(n ? n : 1);
        apr_status_t rv;

        memcpy(copy, o->b, n);
        rv = pv_image_header_parse(&h, copy, n, pool);
        free(copy);
        ck_assert_msg(rv == APR_INCOMPLETE, "prefix of %lu bytes: %d",
                      (unsigned long)n, rv);
        ck_assert_ptr_null(h);
    }
}

static void prefixes_incomplete(const buf_t *o, apr_size_t from)
{
    prefixes_incomplete_to(o, from, o->n);
}

/* ---- JPEG ---- */

static void jpeg_segment(buf_t *o, unsigned marker, const buf_t *body)
{
    put8(o, 0xFF);
    put8(o, marker);
    put16be(o, (unsigned)body->n + 2);
    put(o, body->b, body->n);
}

/* SOI, APP0, DQT, SOF(marker) w x h with n components sampled hv[i]
 * (H<<4|V), DHT, SOS with ns components. */
static void make_jpeg(buf_t *o, unsigned sof, unsigned w, unsigned h, int n,
                      const unsigned char *hv, int ns)
{
    buf_t s;
    int i;

    memset(o, 0, sizeof(*o));
    put8(o, 0xFF);
    put8(o, 0xD8);
    memset(&s, 0, sizeof(s));
    put(&s, "JFIF\0\1\1\0\0\1\0\1\0\0", 14);
    jpeg_segment(o, 0xE0, &s);
    memset(&s, 0, sizeof(s));
    put8(&s, 0);
    for (i = 0; i < 64; i++) {
        put8(&s, 1);
    }
    jpeg_segment(o, 0xDB, &s);
    memset(&s, 0, sizeof(s));
    put8(&s, 8);
    put16be(&s, h);
    put16be(&s, w);
    put8(&s, (unsigned)n);
    for (i = 0; i < n; i++) {
        put8(&s, (unsigned)i + 1);
        put8(&s, hv[i]);
        put8(&s, 0);
    }
    jpeg_segment(o, sof, &s);
    memset(&s, 0, sizeof(s));
    put8(&s, 0);
    for (i = 0; i < 16; i++) {
        put8(&s, 0);
    }
    jpeg_segment(o, 0xC4, &s);
    memset(&s, 0, sizeof(s));
    put8(&s, (unsigned)ns);
    for (i = 0; i < ns; i++) {
        put8(&s, (unsigned)i + 1);
        put8(&s, 0);
    }
    put8(&s, 0);
    put8(&s, 63);
    put8(&s, 0);
    jpeg_segment(o, 0xDA, &s);
}

/* make_jpeg(), parsed: a success with these scan facts. */
static pv_image_header_t *jpeg_parsed(unsigned sof, int n,
                                      const unsigned char *hv, int ns,
                                      int progressive, int multiscan)
{
    pv_image_header_t *h;
    buf_t o;

    make_jpeg(&o, sof, 800, 600, n, hv, ns);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.jpeg.components, n);
    ck_assert_int_eq(h->u.jpeg.progressive, progressive);
    ck_assert_int_eq(h->u.jpeg.multiscan, multiscan);
    return h;
}

static const unsigned char s420[3] = {0x22, 0x11, 0x11};
static const unsigned char s444[3] = {0x11, 0x11, 0x11};

START_TEST(jpeg_baseline_420)
{
    pv_image_header_t *h;
    buf_t o;

    make_jpeg(&o, 0xC0, 4032, 3024, 3, s420, 3);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->kind, PV_HEADER_JPEG);
    ck_assert_uint_eq(h->width, 4032);
    ck_assert_uint_eq(h->height, 3024);
    ck_assert_int_eq(h->u.jpeg.precision, 8);
    ck_assert_int_eq(h->u.jpeg.components, 3);
    ck_assert_int_eq(h->u.jpeg.h[0], 2);
    ck_assert_int_eq(h->u.jpeg.v[0], 2);
    ck_assert_int_eq(h->u.jpeg.h[1], 1);
    ck_assert_int_eq(h->u.jpeg.v[2], 1);
    ck_assert_int_eq(h->u.jpeg.progressive, 0);
    ck_assert_int_eq(h->u.jpeg.multiscan, 0);
    prefixes_incomplete(&o, 3);
}
END_TEST

START_TEST(jpeg_progressive_and_multiscan)
{
    static const unsigned sofs[] = {0xC2, 0xC6, 0xCA, 0xCE};
    static const unsigned char s4[4] = {0x11, 0x11, 0x11, 0x11};
    int i;

    for (i = 0; i < 4; i++) {
        jpeg_parsed(sofs[i], 3, s444, 3, 1, 1);
    }
    /* sequential, but the first scan holds one of three components:
     * libjpeg buffers the whole image as for a progressive file */
    jpeg_parsed(0xC1, 3, s444, 1, 0, 1);
    /* arithmetic sequential, all components in the scan: one pass */
    jpeg_parsed(0xC9, 4, s4, 4, 0, 0);
    /* grey */
    jpeg_parsed(0xC0, 1, s444, 1, 0, 0);
}
END_TEST

START_TEST(jpeg_fill_bytes_and_standalone_markers)
{
    pv_image_header_t *h;
    buf_t o, f;

    make_jpeg(&o, 0xC2, 640, 480, 3, s420, 3);
    /* after SOI: fill bytes, a TEM and an RST0 marker */
    memset(&f, 0, sizeof(f));
    put(&f, o.b, 2);
    put(&f, "\xFF\xFF\xFF\x01\xFF\xD0", 6);
    put(&f, o.b + 2, o.n - 2);
    ck_assert_int_eq(parse(&h, &f), APR_SUCCESS);
    ck_assert_uint_eq(h->width, 640);
    ck_assert_int_eq(h->u.jpeg.multiscan, 1);
}
END_TEST

START_TEST(jpeg_malformed)
{
    static const unsigned char bad_hv[][3] = {{0x01, 0x11, 0x11},
                                              {0x10, 0x11, 0x11},
                                              {0x51, 0x11, 0x11},
                                              {0x15, 0x11, 0x11},
                                              {0x00, 0x11, 0x11}};
    unsigned char many[11];
    pv_image_header_t *h;
    buf_t o, s;
    apr_size_t i;

    for (i = 0; i < sizeof(bad_hv) / sizeof(bad_hv[0]); i++) {
        make_jpeg(&o, 0xC0, 64, 64, 3, bad_hv[i], 3);
        ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
        ck_assert_ptr_null(h);
    }
    /* 0 and 11 components (libjpeg's limit is 10) */
    make_jpeg(&o, 0xC0, 64, 64, 0, s444, 1);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    memset(many, 0x11, sizeof(many));
    make_jpeg(&o, 0xC0, 64, 64, 11, many, 1);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* 10 components are fine */
    make_jpeg(&o, 0xC2, 64, 64, 10, many, 1);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.jpeg.components, 10);
    /* SOS with 0 or 5 components, or a length that disagrees */
    make_jpeg(&o, 0xC0, 64, 64, 3, s444, 0);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    make_jpeg(&o, 0xC0, 64, 64, 3, s444, 5);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* the SOF length one too long: Nf says otherwise */
    make_jpeg(&o, 0xC0, 64, 64, 3, s444, 3);
    o.b[2 + 18 + 69 + 3] += 1; /* SOF's length, low byte */
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* a byte that is not a marker where one must be (DQT's) */
    make_jpeg(&o, 0xC0, 64, 64, 3, s444, 3);
    o.b[20] = 0x00;
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* a segment length under 2 */
    make_jpeg(&o, 0xC0, 64, 64, 3, s444, 3);
    o.b[4] = 0;
    o.b[5] = 1;
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* SOS before any frame; EOI, a second SOI or a second SOF */
    memset(&o, 0, sizeof(o));
    put(&o, "\xFF\xD8\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 12);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    memset(&o, 0, sizeof(o));
    put(&o, "\xFF\xD8\xFF\xD9", 4);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    memset(&o, 0, sizeof(o));
    put(&o, "\xFF\xD8\xFF\xD8", 4);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    make_jpeg(&s, 0xC0, 64, 64, 3, s444, 3);
    memset(&o, 0, sizeof(o));
    put(&o, s.b, 2 + 18 + 69);                       /* SOI APP0 DQT */
    put(&o, s.b + 2 + 18 + 69, 2 + 17);              /* SOF */
    put(&o, s.b + 2 + 18 + 69, s.n - (2 + 18 + 69)); /* SOF again ... */
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
}
END_TEST

START_TEST(jpeg_long_segment_incomplete)
{
    pv_image_header_t *h;
    buf_t o;

    /* an APP1 that claims 60000 bytes: the frame header lies past the
     * bytes handed in */
    memset(&o, 0, sizeof(o));
    put(&o, "\xFF\xD8\xFF\xE1\xEA\x60", 6);
    put(&o, "Exif\0\0", 6);
    ck_assert_int_eq(parse(&h, &o), APR_INCOMPLETE);
}
END_TEST

/* ---- PNG ---- */

static void make_png(buf_t *o, apr_uint32_t w, apr_uint32_t h, int depth,
                     int ct, int interlace)
{
    memset(o, 0, sizeof(*o));
    put(o, "\x89PNG\r\n\x1a\n", 8);
    put32be(o, 13);
    put(o, "IHDR", 4);
    put32be(o, w);
    put32be(o, h);
    put8(o, (unsigned)depth);
    put8(o, (unsigned)ct);
    put8(o, 0);
    put8(o, 0);
    put8(o, (unsigned)interlace);
    put32be(o, 0); /* CRC: libpng checks it, the estimate has no need */
}

START_TEST(png_ihdr)
{
    pv_image_header_t *h;
    buf_t o;

    make_png(&o, 10000, 10000, 16, 6, 1);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->kind, PV_HEADER_PNG);
    ck_assert_uint_eq(h->width, 10000);
    ck_assert_uint_eq(h->height, 10000);
    ck_assert_int_eq(h->u.png.bit_depth, 16);
    ck_assert_int_eq(h->u.png.colour_type, 6);
    ck_assert_int_eq(h->u.png.interlaced, 1);
    make_png(&o, 640, 480, 8, 2, 0);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.png.interlaced, 0);
    /* IHDR ends at byte 29 (before its CRC) */
    o.n = 29;
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    prefixes_incomplete(&o, 0);
    /* an interlace method libpng does not know; IHDR not first */
    make_png(&o, 640, 480, 8, 2, 2);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    make_png(&o, 640, 480, 8, 2, 0);
    memcpy(o.b + 12, "IDAT", 4);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    make_png(&o, 640, 480, 8, 2, 0);
    o.b[11] = 14;
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
}
END_TEST

/* ---- GIF ---- */

/* GIF89a w x h with a global table of 4 colours, then the blocks in
 * `blocks`, then an image descriptor (flags). */
static void make_gif(buf_t *o, unsigned w, unsigned h, const buf_t *blocks,
                     unsigned image_flags)
{
    int i;

    memset(o, 0, sizeof(*o));
    put(o, "GIF89a", 6);
    put16le(o, w);
    put16le(o, h);
    put8(o, 0x80 | 0x01); /* global table, 2^(1+1) entries */
    put8(o, 0);
    put8(o, 0);
    for (i = 0; i < 4 * 3; i++) {
        put8(o, (unsigned)i);
    }
    if (blocks) {
        put(o, blocks->b, blocks->n);
    }
    put8(o, 0x2C);
    put16le(o, 0);
    put16le(o, 0);
    put16le(o, w);
    put16le(o, h);
    put8(o, image_flags);
    put8(o, 2); /* LZW minimum code size: past what the parser reads */
}

static void gce(buf_t *b, int disposal)
{
    put(b, "\x21\xF9\x04", 3);
    put8(b, (unsigned)disposal << 2);
    put(b, "\x00\x00\x00\x00", 4);
}

START_TEST(gif_first_frame)
{
    pv_image_header_t *h;
    buf_t o, bl;
    int d;

    make_gif(&o, 10000, 10000, NULL, 0);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->kind, PV_HEADER_GIF);
    ck_assert_uint_eq(h->width, 10000);
    ck_assert_uint_eq(h->height, 10000);
    ck_assert_int_eq(h->u.gif.interlaced, 0);
    ck_assert_int_eq(h->u.gif.restore_previous, 0);
    make_gif(&o, 100, 50, NULL, 0x40);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.gif.interlaced, 1);

    /* disposal 3, and libnsgif's quirk 4, keep a second frame */
    for (d = 0; d < 8; d++) {
        memset(&bl, 0, sizeof(bl));
        put(&bl, "\x21\xFE\x05hello\x00", 9); /* a comment first */
        gce(&bl, d);
        make_gif(&o, 100, 50, &bl, 0);
        ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
        ck_assert_int_eq(h->u.gif.restore_previous, (d == 3 || d == 4));
    }
    /* two control blocks: any that restores counts */
    memset(&bl, 0, sizeof(bl));
    gce(&bl, 3);
    gce(&bl, 1);
    make_gif(&o, 100, 50, &bl, 0);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.gif.restore_previous, 1);
    /* the image descriptor is the 10th byte from its start */
    o.n -= 1;
    prefixes_incomplete(&o, 0);
}
END_TEST

START_TEST(gif_malformed)
{
    pv_image_header_t *h;
    buf_t o, bl;

    /* the trailer, or an unknown block, before any frame */
    memset(&bl, 0, sizeof(bl));
    put8(&bl, 0x3B);
    make_gif(&o, 100, 50, &bl, 0);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    memset(&bl, 0, sizeof(bl));
    put8(&bl, 0x99);
    make_gif(&o, 100, 50, &bl, 0);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
    /* a sub-block longer than the bytes */
    memset(&o, 0, sizeof(o));
    put(&o, "GIF87a\x10\x00\x10\x00\x00\x00\x00\x21\x01\xFF\x01", 17);
    ck_assert_int_eq(parse(&h, &o), APR_INCOMPLETE);
}
END_TEST

/* ---- WebP ---- */

static void riff_begin(buf_t *o)
{
    memset(o, 0, sizeof(*o));
    put(o, "RIFF", 4);
    put32le(o, 0); /* libwebp checks it; the estimate has no need */
    put(o, "WEBP", 4);
}

static void chunk(buf_t *o, const char *fourcc, const void *data, apr_size_t n)
{
    put(o, fourcc, 4);
    put32le(o, (apr_uint32_t)n);
    put(o, data, n);
    if (n & 1) {
        put8(o, 0);
    }
}

static void vp8x(buf_t *o, unsigned flags, apr_uint32_t w, apr_uint32_t h)
{
    buf_t d;

    memset(&d, 0, sizeof(d));
    put8(&d, flags);
    put24le(&d, 0);
    put24le(&d, w - 1);
    put24le(&d, h - 1);
    chunk(o, "VP8X", d.b, d.n);
}

START_TEST(webp_kinds)
{
    pv_image_header_t *h;
    buf_t o, d;
    apr_uint32_t bits;

    /* simple lossy: the key frame's 14-bit sizes */
    riff_begin(&o);
    memset(&d, 0, sizeof(d));
    put(&d, "\x10\x02\x00\x9d\x01\x2a", 6);
    put16le(&d, 4000);
    put16le(&d, 3000);
    chunk(&o, "VP8 ", d.b, d.n);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->kind, PV_HEADER_WEBP);
    ck_assert_uint_eq(h->width, 4000);
    ck_assert_uint_eq(h->height, 3000);
    ck_assert_int_eq(h->u.webp.lossless, 0);
    ck_assert_int_eq(h->u.webp.alpha, 0);
    prefixes_incomplete(&o, 0);

    /* simple lossless with its alpha bit */
    riff_begin(&o);
    memset(&d, 0, sizeof(d));
    put8(&d, 0x2F);
    bits = (16383 - 1) | (apr_uint32_t)(9999 - 1) << 14 | 1u << 28;
    put32le(&d, bits);
    chunk(&o, "VP8L", d.b, d.n);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_uint_eq(h->width, 16383);
    ck_assert_uint_eq(h->height, 9999);
    ck_assert_int_eq(h->u.webp.lossless, 1);
    ck_assert_int_eq(h->u.webp.alpha, 1);
    o.b[20] = 0x2E; /* not VP8L's signature */
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);

    /* extended: canvas from VP8X, an ICC chunk skipped, ALPH then VP8 */
    riff_begin(&o);
    vp8x(&o, 0x10 | 0x20, 6000, 4000);
    chunk(&o, "ICCP", "abc", 3);
    chunk(&o, "ALPH", "\x00\x00", 2);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_uint_eq(h->width, 6000);
    ck_assert_uint_eq(h->height, 4000);
    ck_assert_int_eq(h->u.webp.alpha, 1);
    ck_assert_int_eq(h->u.webp.lossless, 0);

    /* an animation: any frame may be lossless */
    riff_begin(&o);
    vp8x(&o, 0x02, 640, 480);
    chunk(&o, "ANIM", "\0\0\0\0\0\0", 6);
    ck_assert_int_eq(parse(&h, &o), APR_SUCCESS);
    ck_assert_int_eq(h->u.webp.animated, 1);
    ck_assert_int_eq(h->u.webp.lossless, 1);

    /* a skipped chunk longer than the bytes; a VP8X too short */
    riff_begin(&o);
    put(&o, "EXIF", 4);
    put32le(&o, 100000);
    put(&o, "xx", 2);
    ck_assert_int_eq(parse(&h, &o), APR_INCOMPLETE);
    riff_begin(&o);
    chunk(&o, "VP8X", "\0\0\0\0", 4);
    ck_assert_int_eq(parse(&h, &o), APR_EINVAL);
}
END_TEST

/* ---- HEIF ---- */

static void box(buf_t *o, const char *type, const buf_t *body)
{
    put32be(o, (apr_uint32_t)(8 + body->n));
    put(o, type, 4);
    put(o, body->b, body->n);
}

static void av1c(buf_t *o, int high, int twelve, int mono, int sx, int sy)
{
    buf_t d;

    memset(&d, 0, sizeof(d));
    put8(&d, 0x81);
    put8(&d, 0x00);
    put8(&d,
         (unsigned)(high << 6 | twelve << 5 | mono << 4 | sx << 3 | sy << 2));
    put8(&d, 0x00);
    box(o, "av1C", &d);
}

static void hvcc(buf_t *o, int chroma_format, int luma8, int chroma8)
{
    buf_t d;
    int i;

    memset(&d, 0, sizeof(d));
    for (i = 0; i < 16; i++) {
        put8(&d, 0);
    }
    put8(&d, 0xFC | (unsigned)chroma_format);
    put8(&d, 0xF8 | (unsigned)luma8);
    put8(&d, 0xF8 | (unsigned)chroma8);
    for (i = 0; i < 4; i++) {
        put8(&d, 0);
    }
    box(o, "hvcC", &d);
}

static void ispe(buf_t *o, apr_uint32_t w, apr_uint32_t h)
{
    buf_t d;

    memset(&d, 0, sizeof(d));
    put32be(&d, 0);
    put32be(&d, w);
    put32be(&d, h);
    box(o, "ispe", &d);
}

/* ftyp, meta { hdlr, iprp { ipco { props } } }, mdat */
static void make_heif(buf_t *o, const buf_t *props)
{
    buf_t ftyp, hdlr, ipco, iprp, meta, mdat;

    memset(&ftyp, 0, sizeof(ftyp));
    put(&ftyp, "avif\0\0\0\0mif1avif", 16);
    memset(&hdlr, 0, sizeof(hdlr));
    put(&hdlr, "\0\0\0\0\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0", 25);
    memset(&ipco, 0, sizeof(ipco));
    box(&ipco, "ipco", props);
    memset(&iprp, 0, sizeof(iprp));
    box(&iprp, "iprp", &ipco);
    memset(&meta, 0, sizeof(meta));
    put32be(&meta, 0); /* FullBox: version, flags */
    box(&meta, "hdlr", &hdlr);
    put(&meta, iprp.b, iprp.n);
    memset(&mdat, 0, sizeof(mdat));
    put(&mdat, "pixels", 6);
    memset(o, 0, sizeof(*o));
    box(o, "ftyp", &ftyp);
    box(o, "meta", &meta);
    box(o, "mdat", &mdat);
}

/* make_heif(props), parsed: a success with the worst depth and chroma. */
static pv_image_header_t *heif_parsed(buf_t *o, const buf_t *props, int depth,
                                      int chroma_div, int configs)
{
    pv_image_header_t *h;

    make_heif(o, props);
    ck_assert_int_eq(parse(&h, o), APR_SUCCESS);
    ck_assert_int_eq(h->kind, PV_HEADER_HEIF);
    ck_assert_int_eq(h->u.heif.bit_depth, depth);
    ck_assert_int_eq(h->u.heif.chroma_div, chroma_div);
    ck_assert_int_eq(h->u.heif.configs, configs);
    return h;
}

START_TEST(heif_configs)
{
    pv_image_header_t *h;
    buf_t o, p;

    /* AVIF 4:2:0 8-bit, 10000x10000 */
    memset(&p, 0, sizeof(p));
    ispe(&p, 10000, 10000);
    av1c(&p, 0, 0, 0, 1, 1);
    h = heif_parsed(&o, &p, 8, 1, 1);
    ck_assert_uint_eq(h->width, 10000);
    ck_assert_uint_eq(h->height, 10000);
    /* plus a 12-bit monochrome alpha: the worst of both */
    av1c(&p, 1, 1, 1, 1, 1);
    heif_parsed(&o, &p, 12, 1, 2);
    /* 4:4:4 10-bit, and 4:2:2 */
    memset(&p, 0, sizeof(p));
    av1c(&p, 1, 0, 0, 0, 0);
    heif_parsed(&o, &p, 10, 4, 1);
    memset(&p, 0, sizeof(p));
    av1c(&p, 0, 0, 0, 1, 0);
    heif_parsed(&o, &p, 8, 2, 1);
    /* HEVC: chroma_format_idc 3, luma 8 bits, chroma 10 */
    memset(&p, 0, sizeof(p));
    hvcc(&p, 3, 0, 2);
    heif_parsed(&o, &p, 10, 4, 1);
    /* up to the end of meta; mdat (14 bytes) comes after */
    prefixes_incomplete_to(&o, 8, o.n - 14);
}
END_TEST

/* make_heif(props), parsed: its status. */
static apr_status_t heif_status(const buf_t *props)
{
    pv_image_header_t *h;
    buf_t o;

    make_heif(&o, props);
    return parse(&h, &o);
}

/* An av1C property (4:2:0, 8 bits) with byte `at` set to v. */
static void av1c_with(buf_t *p, apr_size_t at, unsigned char v)
{
    memset(p, 0, sizeof(*p));
    av1c(p, 0, 0, 0, 1, 1);
    p->b[at] = v;
}

START_TEST(heif_malformed)
{
    pv_image_header_t *h;
    buf_t o, p;

    /* no coding configuration at all */
    memset(&p, 0, sizeof(p));
    ispe(&p, 64, 64);
    ck_assert_int_eq(heif_status(&p), APR_EINVAL);
    /* av1C too short */
    memset(&p, 0, sizeof(p));
    put32be(&p, 10);
    put(&p, "av1C\x81\x00", 6);
    ck_assert_int_eq(heif_status(&p), APR_EINVAL);
    /* a wrong marker; a property past the end of ipco; a box size under
     * its header */
    av1c_with(&p, 8, 0x01);
    ck_assert_int_eq(heif_status(&p), APR_EINVAL);
    av1c_with(&p, 3, 40);
    ck_assert_int_eq(heif_status(&p), APR_EINVAL);
    av1c_with(&p, 3, 4);
    ck_assert_int_eq(heif_status(&p), APR_EINVAL);
    /* a 64-bit size (1, then 8 bytes) bigger than everything */
    memset(&o, 0, sizeof(o));
    put(&o,
        "\0\0\0\x10"
        "ftypavif\0\0\0\0",
        16);
    put(&o,
        "\0\0\0\x01"
        "meta\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        16);
    ck_assert_int_eq(parse(&h, &o), APR_INCOMPLETE);
    /* meta never comes */
    memset(&o, 0, sizeof(o));
    put(&o,
        "\0\0\0\x10"
        "ftypavif\0\0\0\0",
        16);
    put(&o,
        "\0\0\0\x10"
        "mdatxxxxxxxx",
        16);
    ck_assert_int_eq(parse(&h, &o), APR_INCOMPLETE);
}
END_TEST

/* ---- anything else ---- */

START_TEST(unknown_and_short)
{
    pv_image_header_t *h = NULL;

    ck_assert_int_eq(pv_image_header_parse(&h, NULL, 100, pool),
                     APR_INCOMPLETE);
    ck_assert_int_eq(
        pv_image_header_parse(&h, (const unsigned char *)"hello", 5, pool),
        APR_INCOMPLETE);
    ck_assert_int_eq(
        pv_image_header_parse(
            &h, (const unsigned char *)"this is not an image at all", 27, pool),
        APR_EINVAL);
    ck_assert_ptr_null(h);
}
END_TEST

/* Every byte of every valid sample changed to each of a few values: no
 * crash, no read past the bytes (ASan in the fuzz build), a result that
 * is one of the three. */
START_TEST(mutations_stay_bounded)
{
    static const unsigned char vals[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
    buf_t samples[5], p;
    int s, v;
    apr_size_t i;

    make_jpeg(&samples[0], 0xC2, 4000, 3000, 3, s420, 3);
    make_png(&samples[1], 100, 100, 16, 6, 1);
    make_gif(&samples[2], 100, 100, NULL, 0x40);
    riff_begin(&samples[3]);
    vp8x(&samples[3], 0x10, 100, 100);
    chunk(&samples[3], "ALPH", "\0", 1);
    memset(&p, 0, sizeof(p));
    ispe(&p, 64, 64);
    av1c(&p, 0, 0, 0, 1, 1);
    make_heif(&samples[4], &p);
    for (s = 0; s < 5; s++) {
        for (i = 0; i < samples[s].n; i++) {
            for (v = 0; v < 5; v++) {
                buf_t m = samples[s];
                pv_image_header_t *h = NULL;
                apr_status_t rv;

                m.b[i] = vals[v];
                rv = parse(&h, &m);
                ck_assert(rv == APR_SUCCESS || rv == APR_INCOMPLETE ||
                          rv == APR_EINVAL);
                ck_assert((rv == APR_SUCCESS) == (h != NULL));
            }
        }
    }
}
END_TEST

Suite *pv_test_image_header_suite(void)
{
    Suite *s = suite_create("image_header");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, jpeg_baseline_420);
    tcase_add_test(tc, jpeg_progressive_and_multiscan);
    tcase_add_test(tc, jpeg_fill_bytes_and_standalone_markers);
    tcase_add_test(tc, jpeg_malformed);
    tcase_add_test(tc, jpeg_long_segment_incomplete);
    tcase_add_test(tc, png_ihdr);
    tcase_add_test(tc, gif_first_frame);
    tcase_add_test(tc, gif_malformed);
    tcase_add_test(tc, webp_kinds);
    tcase_add_test(tc, heif_configs);
    tcase_add_test(tc, heif_malformed);
    tcase_add_test(tc, unknown_and_short);
    tcase_add_test(tc, mutations_stay_bounded);
    suite_add_tcase(s, tc);
    return s;
}
