/* pv_jpeg_dc: the DC-only JPEG decoder against libjpeg-turbo's own scale
 * 1/8 output (tjDecompress2) on JPEGs written here with libjpeg (every
 * sampling layout, progressive, restart markers, sizes that are not
 * multiples of 8 or 16): bit-identical where a DC-only decode can be, the
 * measured bound at 4:2:0 (libjpeg's chroma there has AC terms); and malformed
 * or truncated input an error, never an image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jpeglib.h>
#include <turbojpeg.h>
#include <apr_general.h>

#include "pv_jpeg_dc.h"

/* 4:2:0 chroma, sequential or progressive, from its DC alone (the AC
 * codes parsed for their length, as luma's; a progressive file's AC scans
 * skipped): libjpeg's 2x2 IDCT (AC terms in it) against the DC's triangle
 * upsampling. Absolute differences of the RGB samples measured on the
 * fixture below (smooth colour, a sharp-edged blob, a little noise): max 23,
 * mean 2.19 at 203x117; at 64x48, 17x9 and 8x200, where the blob's edge is
 * most of the 1/8 image, max 24/23/12, mean 4.8/9.1/5.5; 1x1 exact; strong
 * colour noise (+-60) at Q85, Q95 and Q100: max 22, mean 3.97/3.95/3.94.
 * (A photo-like 1920x1440: max 39, mean 4.9.) The bounds leave a margin over
 * the worst of these. */
#define BOUND_420_MEAN 10.0
#define BOUND_420_MAX  32

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* A photo-like RGB image: smooth colour gradients, a few blobs, and a
 * little deterministic noise (+-4, or +-noise, each channel its own: colour
 * detail in the chroma blocks). */
static unsigned char *make_rgb(int w, int h, int noise, int checker)
{
    unsigned char *px = malloc((size_t)w * h * 3);
    unsigned seed = 12345;
    int x, y, c;

    ck_assert_ptr_nonnull(px);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            for (c = 0; c < 3; c++) {
                int v = 40 + (x * (60 + 40 * c)) / (w + 1) +
                        (y * (150 - 50 * c)) / (h + 1);
                int dx = x - w / 3, dy = y - h / 2;
                if (dx * dx + dy * dy < (w * w) / 25) {
                    v += c == 0 ? 60 : -30;
                }
                seed = seed * 1103515245u + 12345u;
                noise = noise ? noise : 4;
                if (checker && c == 2) {
                    /* the finest pattern 4:2:0 chroma keeps: its blocks'
                     * last coefficient after a run of zeros */
                    v += ((x / 2 + y / 2) & 1) ? 40 : -40;
                }
                v += (int)((seed >> 16) % (unsigned)(2 * noise + 1)) - noise;
                px[((size_t)y * w + x) * 3 + c] =
                    (unsigned char)(v < 0     ? 0
                                    : v > 255 ? 255
                                              : v);
            }
        }
    }
    return px;
}

typedef struct {
    int w, h;
    int grey;     /* one component */
    int hs, vs;   /* luma sampling (chroma is 1x1) */
    int progress; /* progressive scans */
    int restart;  /* restart interval in MCUs, 0 none */
    int cmyk;     /* four components, Adobe marker */
    int arith;    /* arithmetic coding */
    int exif;     /* EXIF orientation 1..8, 0 none */
    int icc_len;  /* an ICC "profile" of this many bytes, 0 none */
    int quality;  /* 0: 85 */
    int optimize; /* optimised Huffman tables (libjpeg's optimize_coding) */
    int noise;    /* make_rgb()'s, 0: its default */
    int checker;  /* make_rgb()'s 2x2 checkerboard in blue */
    /* progressive scans of this script (grey), instead of libjpeg's */
    const jpeg_scan_info *scans;
    int nscans;
} spec_t;

/* A JPEG of spec s (libjpeg), malloc'd into *pbuf. */
static unsigned long make_jpeg(unsigned char **pbuf, const spec_t *s)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *rgb = make_rgb(s->w, s->h, s->noise, s->checker),
                  *row = NULL;
    unsigned long len = 0;
    int y, x;

    *pbuf = NULL;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, pbuf, &len);
    ci.image_width = (JDIMENSION)s->w;
    ci.image_height = (JDIMENSION)s->h;
    ci.input_components = s->grey ? 1 : s->cmyk ? 4 : 3;
    ci.in_color_space = s->grey ? JCS_GRAYSCALE : s->cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, s->quality ? s->quality : 85, TRUE);
    ci.optimize_coding = s->optimize ? TRUE : FALSE;
    if (!s->grey && !s->cmyk) {
        ci.comp_info[0].h_samp_factor = s->hs;
        ci.comp_info[0].v_samp_factor = s->vs;
    }
    if (s->progress) {
        jpeg_simple_progression(&ci);
    }
    if (s->scans) {
        ci.scan_info = s->scans;
        ci.num_scans = s->nscans;
    }
    ci.restart_interval = (unsigned)s->restart;
    ci.arith_code = s->arith ? TRUE : FALSE;
    jpeg_start_compress(&ci, TRUE);
    if (s->exif) {
        /* "Exif", big-endian TIFF, one IFD entry: Orientation SHORT 1 */
        unsigned char e[] = {'E',  'x',
                             'i',  'f',
                             0,    0,
                             'M',  'M',
                             0,    42,
                             0,    0,
                             0,    8,
                             0,    1,
                             0x01, 0x12,
                             0,    3,
                             0,    0,
                             0,    1,
                             0,    (unsigned char)s->exif,
                             0,    0,
                             0,    0,
                             0,    0};
        jpeg_write_marker(&ci, JPEG_APP0 + 1, e, sizeof(e));
    }
    if (s->icc_len) {
        unsigned char *icc = malloc((size_t)s->icc_len);
        int i;
        for (i = 0; i < s->icc_len; i++) {
            icc[i] = (unsigned char)(i * 7 + 3);
        }
        jpeg_write_icc_profile(&ci, icc, (unsigned)s->icc_len);
        free(icc);
    }
    row = malloc((size_t)s->w * 4);
    for (y = 0; y < s->h; y++) {
        JSAMPROW r = row;
        for (x = 0; x < s->w; x++) {
            const unsigned char *p = rgb + ((size_t)y * s->w + x) * 3;
            if (s->grey) {
                row[x] = p[1];
            }
            else if (s->cmyk) {
                row[4 * x] = p[0], row[4 * x + 1] = p[1];
                row[4 * x + 2] = p[2], row[4 * x + 3] = 20;
            }
            else {
                memcpy(row + 3 * x, p, 3);
            }
        }
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    free(rgb);
    return len;
}

/* libjpeg-turbo's 1/8 decode of buf: w8 x h8 x bands, malloc'd. */
static unsigned char *reference(const unsigned char *buf, unsigned long len,
                                int bands, int *pw, int *ph)
{
    tjhandle tj = tjInitDecompress();
    int w, h, ss, cs;
    unsigned char *out;

    ck_assert_int_eq(tjDecompressHeader3(tj, buf, len, &w, &h, &ss, &cs), 0);
    *pw = (w + 7) / 8;
    *ph = (h + 7) / 8;
    out = malloc((size_t)*pw * *ph * bands);
    ck_assert_int_eq(tjDecompress2(tj, buf, len, out, *pw, 0, *ph,
                                   bands == 1 ? TJPF_GRAY : TJPF_RGB, 0),
                     0);
    tjDestroy(tj);
    return out;
}

/* Decode s both ways: *pmax and *pmean of the absolute differences. */
static void compare(const spec_t *s, int *pmax, double *pmean)
{
    unsigned char *buf, *ref;
    unsigned long len = make_jpeg(&buf, s);
    pv_jpeg_dc_t *out = NULL;
    int w, h, bands = s->grey ? 1 : 3, mx = 0;
    size_t i, n;
    double sum = 0;

    ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 26, pool),
                     APR_SUCCESS);
    ref = reference(buf, len, bands, &w, &h);
    ck_assert_int_eq(out->width, w);
    ck_assert_int_eq(out->height, h);
    ck_assert_int_eq(out->bands, bands);
    n = (size_t)w * h * bands;
    for (i = 0; i < n; i++) {
        int d = abs(out->pixels[i] - ref[i]);
        mx = d > mx ? d : mx;
        sum += d;
    }
    *pmax = mx;
    *pmean = sum / (double)n;
    free(ref);
    free(buf);
}

static const int sizes[][2] = {{203, 117}, {64, 48}, {17, 9}, {1, 1}, {8, 200}};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* 4:4:4, 4:2:2, 4:4:0 and grey, sequential and progressive, with and
 * without restart markers, at every size: identical bytes. */
START_TEST(bit_identical_layouts)
{
    static const int layouts[][3] = {
        {0, 1, 1}, {0, 2, 1}, {0, 1, 2}, {1, 1, 1}}; /* grey, hs, vs */
    size_t l, z;
    int prog, rst;

    for (l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
        for (z = 0; z < NSIZES; z++) {
            for (prog = 0; prog < 2; prog++) {
                for (rst = 0; rst < 3; rst += 2) {
                    spec_t s = {0};
                    int mx;
                    double mean;
                    s.w = sizes[z][0];
                    s.h = sizes[z][1];
                    s.grey = layouts[l][0];
                    s.hs = layouts[l][1];
                    s.vs = layouts[l][2];
                    s.progress = prog;
                    s.restart = rst;
                    compare(&s, &mx, &mean);
                    ck_assert_msg(mx == 0,
                                  "layout %zu size %dx%d prog %d rst %d: "
                                  "max diff %d",
                                  l, s.w, s.h, prog, rst, mx);
                }
            }
        }
    }
}
END_TEST

/* The skip lookups (every symbol whose code lies in 12 bits, one entry;
 * one symbol alone near the block's end) on sequential 4:4:4 and 4:2:2,
 * every block of which they parse: from blocks that end early (Q50,
 * little noise) to blocks with every coefficient (Q100, strong colour
 * noise: places past 48, codes longer than the lookups' 12 bits), a fine
 * checkerboard in the chroma (long zero runs before the last place),
 * libjpeg's standard tables and optimised ones, restart intervals of 1
 * and 3 MCUs, sizes that are not whole MCUs: identical bytes. */
START_TEST(bit_identical_skip)
{
    static const int quality[] = {50, 85, 95, 100};
    static const int noise[] = {4, 60, 0}; /* 0: the checkerboard */
    static const int size[][2] = {{203, 117}, {33, 17}, {16, 16}};
    static const int restart[] = {0, 1, 3};
    size_t q, z, n, rst;
    int opt, hs;

    for (hs = 1; hs <= 2; hs++) {
        for (q = 0; q < sizeof(quality) / sizeof(quality[0]); q++) {
            for (n = 0; n < 3; n++) {
                for (opt = 0; opt < 2; opt++) {
                    for (z = 0; z < 3; z++) {
                        for (rst = 0; rst < 3; rst++) {
                            spec_t s = {0};
                            int mx;
                            double mean;
                            s.w = size[z][0];
                            s.h = size[z][1];
                            s.hs = hs;
                            s.vs = 1;
                            s.quality = quality[q];
                            s.noise = noise[n];
                            s.checker = !noise[n];
                            s.optimize = opt;
                            s.restart = restart[rst];
                            compare(&s, &mx, &mean);
                            ck_assert_msg(mx == 0,
                                          "%d:1 Q%d noise %d opt %d %dx%d "
                                          "rst %d: max diff %d",
                                          hs, s.quality, s.noise, opt, s.w, s.h,
                                          s.restart, mx);
                        }
                    }
                }
            }
        }
    }
}
END_TEST

/* 4:2:0 spec s decoded both ways: within the bound. */
static void within_bound_420(const spec_t *s)
{
    int mx;
    double mean;

    compare(s, &mx, &mean);
    ck_assert_msg(mx <= BOUND_420_MAX && mean <= BOUND_420_MEAN,
                  "4:2:0 %dx%d prog %d Q%d noise %d: max %d mean %.3f", s->w,
                  s->h, s->progress, s->quality, s->noise, mx, mean);
}

/* 4:2:0, sequential and progressive: within the bound, with and without
 * restarts; and sequential files whose chroma has the most AC terms
 * (Q95 and Q100, strong colour noise), within it too. */
START_TEST(bound_420)
{
    static const int quality[] = {85, 95, 100};
    static const int noise[] = {4, 60};
    size_t z, q, n;
    int prog;

    for (z = 0; z < NSIZES; z++) {
        for (prog = 0; prog < 2; prog++) {
            spec_t s = {0};
            s.w = sizes[z][0];
            s.h = sizes[z][1];
            s.hs = s.vs = 2;
            s.progress = prog;
            s.restart = z % 2 ? 0 : 5;
            within_bound_420(&s);
        }
    }
    for (q = 0; q < sizeof(quality) / sizeof(quality[0]); q++) {
        for (n = 0; n < 2; n++) {
            spec_t s = {0};
            s.w = 203;
            s.h = 117;
            s.hs = s.vs = 2;
            s.quality = quality[q];
            s.noise = noise[n];
            s.restart = 3;
            within_bound_420(&s);
        }
    }
}
END_TEST

START_TEST(metadata_read)
{
    spec_t s = {0};
    unsigned char *buf;
    unsigned long len;
    pv_jpeg_dc_t *out = NULL;
    int o, i;

    s.w = 40, s.h = 24, s.hs = s.vs = 1;
    for (o = 1; o <= 8; o++) {
        s.exif = o;
        len = make_jpeg(&buf, &s);
        out = NULL;
        ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 20, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(out->orientation, o);
        ck_assert_ptr_null(out->icc);
        free(buf);
    }
    /* a profile over two APP2 chunks comes back whole, in order */
    s.exif = 0;
    s.icc_len = 70000;
    len = make_jpeg(&buf, &s);
    out = NULL;
    ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 20, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(out->icc_len, 70000);
    for (i = 0; i < 70000; i++) {
        ck_assert_uint_eq(out->icc[i], (unsigned char)(i * 7 + 3));
    }
    free(buf);
}
END_TEST

/* What the decoder leaves to libjpeg: APR_ENOTIMPL, nothing set. */
START_TEST(refused_kinds)
{
    spec_t s = {0};
    unsigned char *buf;
    unsigned long len;
    pv_jpeg_dc_t *out = NULL;

    s.w = 40, s.h = 24, s.hs = s.vs = 1;
    s.cmyk = 1;
    len = make_jpeg(&buf, &s);
    ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 20, pool),
                     APR_ENOTIMPL);
    free(buf);
    s.cmyk = 0;
    s.arith = 1;
    len = make_jpeg(&buf, &s);
    ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 20, pool),
                     APR_ENOTIMPL);
    free(buf);
    /* allocation over the bound: refused before decoding */
    s.arith = 0;
    len = make_jpeg(&buf, &s);
    ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 100, pool), APR_ENOSPC);
    ck_assert_ptr_null(out);
    free(buf);
}
END_TEST

/* Progressive files that never send a component's AC coefficients 1 to
 * 9, whose DC libjpeg's block smoothing changes at 1/8: refused, left to
 * libjpeg; with places 1 to 9 sent (but not the rest), identical bytes. */
START_TEST(dc_smoothed_by_libjpeg)
{
    /* component, Ss, Se, Ah, Al */
    static const jpeg_scan_info dc_only[] = {{1, {0}, 0, 0, 0, 0}};
    static const jpeg_scan_info dc_al1[] = {{1, {0}, 0, 0, 0, 1}};
    static const jpeg_scan_info from_10[] = {{1, {0}, 0, 0, 0, 0},
                                             {1, {0}, 10, 63, 0, 0}};
    static const jpeg_scan_info to_9[] = {{1, {0}, 0, 0, 0, 0},
                                          {1, {0}, 1, 9, 0, 0}};
    static const jpeg_scan_info only_9[] = {{1, {0}, 0, 0, 0, 0},
                                            {1, {0}, 9, 9, 0, 0}};
    const jpeg_scan_info *refused[] = {dc_only, dc_al1, from_10};
    const int nrefused[] = {1, 1, 2};
    spec_t s = {0};
    unsigned char *buf;
    unsigned long len;
    pv_jpeg_dc_t *out = NULL;
    int i, mx;
    double mean;

    s.w = 203, s.h = 117, s.grey = 1;
    for (i = 0; i < 3; i++) {
        s.scans = refused[i];
        s.nscans = nrefused[i];
        len = make_jpeg(&buf, &s);
        ck_assert_int_eq(pv_jpeg_dc_decode(&out, buf, len, 1 << 26, pool),
                         APR_EINVAL);
        free(buf);
    }
    s.scans = to_9;
    s.nscans = 2;
    compare(&s, &mx, &mean);
    ck_assert_int_eq(mx, 0);
    s.scans = only_9;
    compare(&s, &mx, &mean);
    ck_assert_int_eq(mx, 0);
}
END_TEST

/* Every truncation of a sequential and a progressive file, and every
 * single-byte corruption in their headers and a sample of their data: an
 * error, or a whole image; never a crash or a read past the end (ASan). */
START_TEST(malformed_inputs)
{
    int prog;

    for (prog = 0; prog < 2; prog++) {
        spec_t s = {0};
        unsigned char *buf, *cut;
        unsigned long len, n, i;
        pv_jpeg_dc_t *out;

        s.w = 50, s.h = 30, s.hs = s.vs = 2, s.progress = prog;
        s.restart = 2;
        len = make_jpeg(&buf, &s);
        for (n = 0; n < len; n++) {
            cut = malloc(n ? n : 1);
            memcpy(cut, buf, n);
            out = NULL;
            ck_assert_msg(
                pv_jpeg_dc_decode(&out, cut, n, 1 << 20, pool) != APR_SUCCESS,
                "prog %d: a %lu of %lu byte prefix decoded", prog, n, len);
            ck_assert_ptr_null(out);
            free(cut);
        }
        cut = malloc(len);
        for (i = 0; i < len; i += (i < 700 ? 1 : 7)) {
            int v;
            for (v = 0; v < 256; v += 85) {
                apr_status_t rv;
                memcpy(cut, buf, len);
                cut[i] = (unsigned char)(cut[i] ^ (v | 1));
                out = NULL;
                rv = pv_jpeg_dc_decode(&out, cut, len, 1 << 20, pool);
                if (rv == APR_SUCCESS) {
                    /* a byte libjpeg would ignore too (or that changes
                     * the image only): all of it there */
                    size_t k, sz = (size_t)out->width * out->height * 3;
                    unsigned sum = 0;
                    for (k = 0; k < sz; k++) {
                        sum += out->pixels[k];
                    }
                    ck_assert_uint_lt(sum, 0xFFFFFFFFu);
                }
                else {
                    ck_assert_ptr_null(out);
                }
            }
        }
        free(cut);
        free(buf);
    }
}
END_TEST

/* A DHT whose counts overflow the code space (not a prefix code) and a
 * DC table with a symbol over 15: refused, as libjpeg refuses them. */
START_TEST(bad_huffman_tables)
{
    spec_t s = {0};
    unsigned char *buf;
    unsigned long len, i;
    pv_jpeg_dc_t *out = NULL;
    int found = 0;

    s.w = 16, s.h = 16, s.hs = s.vs = 1;
    len = make_jpeg(&buf, &s);
    for (i = 0; i + 21 < len; i++) {
        if (buf[i] == 0xFF && buf[i + 1] == 0xC4) {
            unsigned char *c = malloc(len);
            /* the first table: class/id at +4, counts at +5 */
            memcpy(c, buf, len);
            c[i + 5] = 3; /* three 1-bit codes */
            ck_assert_int_eq(pv_jpeg_dc_decode(&out, c, len, 1 << 20, pool),
                             APR_EINVAL);
            memcpy(c, buf, len);
            if ((c[i + 4] >> 4) == 0) {
                int k, nsym = 0;
                for (k = 0; k < 16; k++) {
                    nsym += c[i + 5 + k];
                }
                c[i + 21 + nsym - 1] = 16; /* a DC size of 16 bits */
                ck_assert_int_eq(pv_jpeg_dc_decode(&out, c, len, 1 << 20, pool),
                                 APR_EINVAL);
            }
            ck_assert_ptr_null(out);
            free(c);
            found = 1;
            break;
        }
    }
    ck_assert(found);
    free(buf);
}
END_TEST

Suite *pv_test_jpeg_dc_suite(void)
{
    Suite *s = suite_create("jpeg_dc");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bit_identical_layouts);
    tcase_add_test(tc, bit_identical_skip);
    tcase_add_test(tc, bound_420);
    tcase_add_test(tc, dc_smoothed_by_libjpeg);
    tcase_add_test(tc, metadata_read);
    tcase_add_test(tc, refused_kinds);
    tcase_add_test(tc, malformed_inputs);
    tcase_add_test(tc, bad_huffman_tables);
    suite_add_tcase(s, tc);
    return s;
}
