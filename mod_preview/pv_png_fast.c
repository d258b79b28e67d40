/* The PNG preview decoder: chunks, libdeflate, unfilter and box in one
 * pass; see include/pv_png_fast.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libdeflate.h>

#include "pv_png_fast.h"

static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};

/* Ancillary chunks that do not change the pixels libvips' pngload (libpng
 * 1.6 as libvips 8.14 drives it: no gamma, no background, no shift)
 * shows: text and time become metadata the render strips, the rest libpng
 * keeps to itself. Any chunk not here, nor critical, sends the file to
 * libvips. */
static const char *const inert_chunks[] = {"gAMA", "cHRM", "sRGB", "pHYs",
                                           "tEXt", "zTXt", "iTXt", "tIME",
                                           "bKGD", NULL};

static apr_uint32_t be32(const unsigned char *b)
{
    return (apr_uint32_t)b[0] << 24 | (apr_uint32_t)b[1] << 16 |
           (apr_uint32_t)b[2] << 8 | (apr_uint32_t)b[3];
}

static int is_type(const unsigned char *t, const char *name)
{
    return memcmp(t, name, 4) == 0;
}

static int is_inert(const unsigned char *t)
{
    int i;

    for (i = 0; inert_chunks[i]; i++) {
        if (is_type(t, inert_chunks[i])) {
            return 1;
        }
    }
    return 0;
}

/* Channels as stored (a palette index is one). */
static int stored_channels(int colour_type)
{
    switch (colour_type) {
        case 0:
        case 3:
            return 1;
        case 4:
            return 2;
        case 2:
            return 3;
        case 6:
            return 4;
    }
    return 0;
}

/* The PNG specification's allowed depths for each colour type. */
static int depth_valid(int colour_type, int depth)
{
    switch (colour_type) {
        case 0:
            return depth == 1 || depth == 2 || depth == 4 || depth == 8 ||
                   depth == 16;
        case 3:
            return depth == 1 || depth == 2 || depth == 4 || depth == 8;
        case 2:
        case 4:
        case 6:
            return depth == 8 || depth == 16;
    }
    return 0;
}

/* What a walk over the chunks found, beyond the public info. */
typedef struct {
    pv_png_fast_info_t info;
    apr_size_t idat_at; /* offset of the first IDAT chunk (its length) */
    apr_size_t idat_bytes;
    unsigned char palette[256 * 4]; /* RGBA, alpha 255 past tRNS */
    int palette_n;
} png_walk_t;

static apr_status_t read_ihdr(png_walk_t *w, const unsigned char *d,
                              apr_uint32_t n)
{
    pv_png_fast_info_t *info = &w->info;
    int channels;

    if (n != 13) {
        return APR_EINVAL;
    }
    info->width = be32(d);
    info->height = be32(d + 4);
    info->bit_depth = d[8];
    info->colour_type = d[9];
    info->interlaced = d[12];
    /* libpng's own limits: at most 2^31 - 1 a side, methods 0 only. */
    if (info->width == 0 || info->height == 0 || info->width > 0x7fffffffu ||
        info->height > 0x7fffffffu ||
        !depth_valid(info->colour_type, info->bit_depth) || d[10] != 0 ||
        d[11] != 0 || d[12] > 1) {
        return APR_EINVAL;
    }
    channels = stored_channels(info->colour_type);
    info->bands = info->colour_type == 3 ? 3 : channels;
    /* Below 2^31 x 8 bytes a row and 2^31 rows: no overflow in 64 bits. */
    info->raw = (apr_uint64_t)info->height *
                (1 + ((apr_uint64_t)info->width * (apr_uint64_t)channels *
                          (apr_uint64_t)info->bit_depth +
                      7) /
                         8);
    return APR_SUCCESS;
}

static void not_mine(png_walk_t *w, const char *reason)
{
    if (!w->info.reason) {
        w->info.reason = reason;
    }
}

/* Every chunk up to IEND, checked: length inside the file, CRC, type
 * letters, IHDR first, PLTE and tRNS before the IDATs, which follow one
 * another. APR_EINVAL on what libpng would refuse too (or might: the
 * caller falls back either way). */
static apr_status_t walk_chunks(png_walk_t *w, const unsigned char *buf,
                                apr_size_t len)
{
    pv_png_fast_info_t *info = &w->info;
    apr_size_t at = 8;
    int seen_ihdr = 0, seen_plte = 0, seen_trns = 0, seen_iend = 0;
    int idat_state = 0; /* 0 none yet, 1 in the run, 2 after it */
    apr_status_t rv;
    int i;

    memset(w, 0, sizeof(*w));
    if (len < 8 || memcmp(buf, png_sig, 8) != 0) {
        return APR_EINVAL;
    }
    while (!seen_iend) {
        const unsigned char *t, *d;
        apr_uint32_t n;

        if (len - at < 12) {
            return APR_EINVAL; /* truncated: no IEND */
        }
        n = be32(buf + at);
        t = buf + at + 4;
        d = t + 4;
        if (n > 0x7fffffffu || n > len - at - 12) {
            return APR_EINVAL;
        }
        for (i = 0; i < 4; i++) {
            if (!((t[i] >= 'A' && t[i] <= 'Z') ||
                  (t[i] >= 'a' && t[i] <= 'z'))) {
                return APR_EINVAL;
            }
        }
        /* libpng checks the CRC of every chunk it reads (an ancillary one's
         * mismatch is only a warning, but a warning is a doubt). */
        if ((apr_uint32_t)libdeflate_crc32(0, t, (size_t)n + 4) !=
            be32(d + n)) {
            return APR_EINVAL;
        }
        if (!seen_ihdr) {
            if (!is_type(t, "IHDR") || (rv = read_ihdr(w, d, n))) {
                return APR_EINVAL;
            }
            seen_ihdr = 1;
        }
        else if (is_type(t, "IHDR")) {
            return APR_EINVAL;
        }
        else if (is_type(t, "IDAT")) {
            if (idat_state == 2) {
                not_mine(w, "IDAT chunks apart");
            }
            if (idat_state == 0) {
                w->idat_at = at;
                idat_state = 1;
            }
            w->idat_bytes += n;
        }
        else if (is_type(t, "IEND")) {
            if (n != 0) {
                return APR_EINVAL;
            }
            seen_iend = 1;
        }
        else if (is_type(t, "PLTE")) {
            if (seen_plte || idat_state || seen_trns || n == 0 || n % 3 ||
                n / 3 > 256) {
                return APR_EINVAL;
            }
            seen_plte = 1;
            if (info->colour_type == 0 || info->colour_type == 4) {
                not_mine(w, "PLTE in a grey image");
            }
            w->palette_n = (int)(n / 3);
            for (i = 0; i < w->palette_n; i++) {
                w->palette[4 * i] = d[3 * i];
                w->palette[4 * i + 1] = d[3 * i + 1];
                w->palette[4 * i + 2] = d[3 * i + 2];
                w->palette[4 * i + 3] = 255;
            }
        }
        else if (is_type(t, "tRNS")) {
            if (seen_trns || idat_state) {
                return APR_EINVAL;
            }
            seen_trns = 1;
            if (info->colour_type != 3) {
                not_mine(w, "tRNS outside a palette");
            }
            else if (!seen_plte || n > (apr_uint32_t)w->palette_n) {
                not_mine(w, "tRNS longer than PLTE");
            }
            else {
                for (i = 0; i < (int)n; i++) {
                    w->palette[4 * i + 3] = d[i];
                }
                info->bands = 4;
            }
        }
        else if (!(t[0] & 0x20)) {
            return APR_EINVAL; /* an unknown critical chunk */
        }
        else if (!is_inert(t)) {
            not_mine(w, "a chunk that may change the pixels");
        }
        if (idat_state == 1 && !is_type(t, "IDAT")) {
            idat_state = 2;
        }
        at += 12 + (apr_size_t)n;
    }
    if (!idat_state) {
        return APR_EINVAL;
    }
    if (info->colour_type == 3 && !seen_plte) {
        return APR_EINVAL;
    }
    if (info->bit_depth != 8) {
        not_mine(w, "not 8 bits a sample");
    }
    if (info->interlaced) {
        not_mine(w, "interlaced");
    }
    info->eligible = info->reason == NULL;
    return APR_SUCCESS;
}

apr_status_t pv_png_fast_probe(pv_png_fast_info_t **pout,
                               const unsigned char *buf, apr_size_t len,
                               apr_pool_t *p)
{
    png_walk_t *w = malloc(sizeof(*w));
    apr_status_t rv;

    if (!w) {
        return APR_ENOMEM;
    }
    rv = walk_chunks(w, buf, len);
    if (rv == APR_SUCCESS) {
        *pout = apr_pmemdup(p, &w->info, sizeof(w->info));
    }
    free(w);
    return rv;
}

int pv_png_fast_factor(apr_uint32_t width, apr_uint32_t height, int box_w,
                       int box_h, int margin)
{
    apr_uint64_t f = 1, g;

    if (margin < 1) {
        margin = 1;
    }
    /* Fit inside: the tighter side sets the scale, so the larger of the
     * two factors keeps at least margin x the target on both sides. */
    if (box_w > 0) {
        f = (apr_uint64_t)width / ((apr_uint64_t)box_w * (apr_uint64_t)margin);
    }
    if (box_h > 0) {
        g = (apr_uint64_t)height / ((apr_uint64_t)box_h * (apr_uint64_t)margin);
        f = g > f ? g : f;
    }
    if (f < 1) {
        return 1;
    }
    return f > PV_PNG_FAST_MAX_FACTOR ? PV_PNG_FAST_MAX_FACTOR : (int)f;
}

/* Undo one row's filter in place; prev is the row above, unfiltered (all
 * zero for the first). -1 on a filter type libpng refuses. */
static int unfilter(unsigned char *row, const unsigned char *prev, apr_size_t n,
                    int bpp, int type)
{
    apr_size_t i;

    switch (type) {
        case 0:
            return 0;
        case 1:
            for (i = (apr_size_t)bpp; i < n; i++) {
                row[i] = (unsigned char)(row[i] + row[i - bpp]);
            }
            return 0;
        case 2:
            for (i = 0; i < n; i++) {
                row[i] = (unsigned char)(row[i] + prev[i]);
            }
            return 0;
        case 3:
            for (i = 0; i < (apr_size_t)bpp && i < n; i++) {
                row[i] = (unsigned char)(row[i] + (prev[i] >> 1));
            }
            for (; i < n; i++) {
                row[i] =
                    (unsigned char)(row[i] + ((row[i - bpp] + prev[i]) >> 1));
            }
            return 0;
        case 4:
            for (i = 0; i < (apr_size_t)bpp && i < n; i++) {
                row[i] = (unsigned char)(row[i] + prev[i]);
            }
            for (; i < n; i++) {
                int a = row[i - bpp], b = prev[i], c = prev[i - bpp];
                int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
                int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
                row[i] = (unsigned char)(row[i] + pred);
            }
            return 0;
    }
    return -1;
}

/* Add one unfiltered row of w pixels of `bands` samples (alpha last when
 * `alpha`) into acc, factor pixels to a sum: with alpha, colour sums are
 * alpha-weighted (as libvips' thumbnail premultiplies before it shrinks).
 * Inlined with constant bands and alpha, one loop per shape. */
static inline __attribute__((always_inline)) void
add_row(apr_uint32_t *acc, const unsigned char *s, apr_uint32_t w, int factor,
        int bands, int alpha)
{
    apr_uint32_t x = 0;
    int c, k;

    while (x < w) {
        int n = (w - x) < (apr_uint32_t)factor ? (int)(w - x) : factor;
        apr_uint32_t sum[4] = {0, 0, 0, 0};

        for (k = 0; k < n; k++, s += bands) {
            if (alpha) {
                apr_uint32_t a = s[bands - 1];
                for (c = 0; c < bands - 1; c++) {
                    sum[c] += s[c] * a;
                }
                sum[bands - 1] += a;
            }
            else {
                for (c = 0; c < bands; c++) {
                    sum[c] += s[c];
                }
            }
        }
        for (c = 0; c < bands; c++) {
            acc[c] += sum[c];
        }
        acc += bands;
        x += (apr_uint32_t)n;
    }
}

/* A palette row through the RGBA table into acc (3 or 4 bands); -1 on an
 * index past the palette (libpng only warns and shows black: doubt). */
static int add_palette_row(apr_uint32_t *acc, const unsigned char *s,
                           apr_uint32_t w, int factor, const unsigned char *lut,
                           int palette_n, int bands)
{
    apr_uint32_t x = 0;
    int k;

    while (x < w) {
        int n = (w - x) < (apr_uint32_t)factor ? (int)(w - x) : factor;
        apr_uint32_t r = 0, g = 0, b = 0, a = 0;

        for (k = 0; k < n; k++, s++) {
            const unsigned char *e = lut + 4 * *s;
            if (*s >= palette_n) {
                return -1;
            }
            if (bands == 4) {
                r += e[0] * (apr_uint32_t)e[3];
                g += e[1] * (apr_uint32_t)e[3];
                b += e[2] * (apr_uint32_t)e[3];
                a += e[3];
            }
            else {
                r += e[0];
                g += e[1];
                b += e[2];
            }
        }
        acc[0] += r;
        acc[1] += g;
        acc[2] += b;
        if (bands == 4) {
            acc[3] += a;
        }
        acc += bands;
        x += (apr_uint32_t)n;
    }
    return 0;
}

/* One output row from the sums of boxes of `rows` source rows: rounded
 * means; with alpha, colour is the alpha-weighted mean (0 where all is
 * transparent, as libvips' unpremultiply gives). */
static void emit_row(unsigned char *out, const apr_uint32_t *acc,
                     apr_uint32_t w, int factor, int rows, int bands, int alpha)
{
    apr_uint32_t ox,
        ow = w / (apr_uint32_t)factor + (w % (apr_uint32_t)factor != 0);
    int c;

    for (ox = 0; ox < ow; ox++, acc += bands, out += bands) {
        apr_uint32_t cols =
            ox + 1 < ow ? (apr_uint32_t)factor : w - ox * (apr_uint32_t)factor;
        apr_uint32_t count = cols * (apr_uint32_t)rows;
        int colour = alpha ? bands - 1 : bands;

        for (c = 0; c < colour; c++) {
            if (alpha) {
                apr_uint32_t as = acc[bands - 1];
                out[c] = (unsigned char)(as ? (acc[c] + as / 2) / as : 0);
            }
            else {
                out[c] = (unsigned char)((acc[c] + count / 2) / count);
            }
        }
        if (alpha) {
            out[bands - 1] =
                (unsigned char)((acc[bands - 1] + count / 2) / count);
        }
    }
}

static int add_any_row(apr_uint32_t *acc, const unsigned char *s,
                       const png_walk_t *w, int factor)
{
    apr_uint32_t width = w->info.width;

    switch (w->info.colour_type) {
        case 0:
            add_row(acc, s, width, factor, 1, 0);
            return 0;
        case 2:
            add_row(acc, s, width, factor, 3, 0);
            return 0;
        case 4:
            add_row(acc, s, width, factor, 2, 1);
            return 0;
        case 6:
            add_row(acc, s, width, factor, 4, 1);
            return 0;
        case 3:
            return add_palette_row(acc, s, width, factor, w->palette,
                                   w->palette_n, w->info.bands);
    }
    return -1;
}

/* The IDAT payloads moved together (left, in place) from the first IDAT
 * chunk on; returns where they start. Chunks were checked by the walk. */
static unsigned char *gather_idat(unsigned char *buf, const png_walk_t *w)
{
    apr_size_t at = w->idat_at, out = w->idat_at;

    while (is_type(buf + at + 4, "IDAT")) {
        apr_uint32_t n = be32(buf + at);
        memmove(buf + out, buf + at + 8, n);
        out += n;
        at += 12 + (apr_size_t)n;
    }
    return buf + w->idat_at;
}

static apr_uint32_t ceil_div(apr_uint32_t a, apr_uint32_t b)
{
    return a / b + (a % b != 0);
}

/* Unfilter raw's rows in place and reduce them into img. */
static apr_status_t reduce(pv_png_fast_image_t *img, unsigned char *raw,
                           const png_walk_t *w, apr_pool_t *p)
{
    const pv_png_fast_info_t *info = &w->info;
    int bpp = stored_channels(info->colour_type);
    apr_size_t rowbytes = (apr_size_t)info->width * (apr_size_t)bpp;
    int alpha = info->bands == 2 || info->bands == 4;
    apr_size_t accn = (apr_size_t)img->width * (apr_size_t)img->bands;
    unsigned char *zero = NULL, *out = img->pixels;
    const unsigned char *prev;
    apr_uint32_t *acc = NULL;
    apr_status_t rv = APR_ENOMEM;
    apr_uint32_t y;
    int rows = 0;

    if (!(zero = calloc(1, rowbytes)) || !(acc = calloc(accn, sizeof(*acc)))) {
        goto cleanup;
    }
    rv = APR_EINVAL;
    prev = zero;
    for (y = 0; y < info->height; y++) {
        unsigned char *row = raw + (apr_size_t)y * (rowbytes + 1);

        if (unfilter(row + 1, prev, rowbytes, bpp, row[0]) ||
            add_any_row(acc, row + 1, w, img->factor)) {
            goto cleanup;
        }
        prev = row + 1;
        if (++rows == img->factor || y + 1 == info->height) {
            emit_row(out, acc, info->width, img->factor, rows, img->bands,
                     alpha);
            out += accn;
            memset(acc, 0, accn * sizeof(*acc));
            rows = 0;
        }
    }
    rv = APR_SUCCESS;
cleanup:
    free(acc);
    free(zero);
    (void)p;
    return rv;
}

apr_status_t pv_png_fast_decode(pv_png_fast_image_t **pout, unsigned char *buf,
                                apr_size_t len, int factor,
                                apr_uint64_t max_raw, apr_pool_t *p)
{
    struct libdeflate_decompressor *dec = NULL;
    png_walk_t *w = malloc(sizeof(*w));
    pv_png_fast_image_t *img;
    unsigned char *raw = NULL, *idat;
    size_t got_in = 0, got_out = 0;
    apr_status_t rv;

    if (!w) {
        return APR_ENOMEM;
    }
    if ((rv = walk_chunks(w, buf, len)) != APR_SUCCESS) {
        goto cleanup;
    }
    rv = APR_EINVAL;
    if (!w->info.eligible || factor < 1 || factor > PV_PNG_FAST_MAX_FACTOR) {
        goto cleanup;
    }
    /* The bound before the allocation: what the caller's budget allows. */
    if (w->info.raw > max_raw || w->info.raw > (apr_uint64_t)(size_t)-1) {
        rv = APR_ENOSPC;
        goto cleanup;
    }
    img = apr_pcalloc(p, sizeof(*img));
    img->factor = factor;
    img->bands = w->info.bands;
    img->width = (int)ceil_div(w->info.width, (apr_uint32_t)factor);
    img->height = (int)ceil_div(w->info.height, (apr_uint32_t)factor);
    rv = APR_ENOMEM;
    if (!(raw = malloc((size_t)w->info.raw)) ||
        !(dec = libdeflate_alloc_decompressor())) {
        goto cleanup;
    }
    /* The whole zlib stream (its Adler-32 checked), exactly the image's
     * bytes, exactly the IDAT bytes: anything else is libpng's to judge. */
    idat = gather_idat(buf, w);
    rv = APR_EINVAL;
    if (libdeflate_zlib_decompress_ex(dec, idat, w->idat_bytes, raw,
                                      (size_t)w->info.raw, &got_in,
                                      &got_out) != LIBDEFLATE_SUCCESS ||
        got_in != w->idat_bytes || got_out != (size_t)w->info.raw) {
        goto cleanup;
    }
    img->pixels =
        apr_palloc(p, (apr_size_t)img->width * (apr_size_t)img->height *
                          (apr_size_t)img->bands);
    if ((rv = reduce(img, raw, w, p)) != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = img;
cleanup:
    if (dec) {
        libdeflate_free_decompressor(dec);
    }
    free(raw);
    free(w);
    return rv;
}
