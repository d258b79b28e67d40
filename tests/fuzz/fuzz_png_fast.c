/* libFuzzer target: pv_png_fast_probe and pv_png_fast_decode on hostile
 * bytes. Random bytes rarely get past a chunk's CRC or the zlib stream's
 * Adler-32, so two more ways in, chosen by the last byte's low bits:
 *   0, 3  the input as a file, as is
 *   1  the input as a file, every chunk's CRC made right first
 *   2  the input as IHDR fields and filtered rows: compressed here and
 *      wrapped in a valid PNG (PLTE and tRNS of random lengths), so that
 *      unfilter, palette and box see any data at any size
 * Checks beyond "no crash": a result only on success, its size the
 * ceiling of the source's over the factor, and eligibility agreeing with
 * the decode. Seeds: tiny PNGs of every kind, made by vips at run time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <libdeflate.h>
#include <sanitizer/lsan_interface.h>

#include "pv_png_fast.h"

static apr_pool_t *pool;
static struct libdeflate_compressor *comp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    __lsan_disable();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    comp = libdeflate_alloc_compressor(1);
    __lsan_enable();
    return 0;
}

static apr_uint32_t be32(const unsigned char *b)
{
    return (apr_uint32_t)b[0] << 24 | (apr_uint32_t)b[1] << 16 |
           (apr_uint32_t)b[2] << 8 | (apr_uint32_t)b[3];
}

static void put32(unsigned char *b, apr_uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Mode 1: walk the lengths as the decoder would and rewrite each CRC. */
static void fix_crcs(unsigned char *b, size_t len)
{
    size_t at = 8;

    while (len >= 12 && at <= len - 12) {
        apr_uint32_t n = be32(b + at);
        if (n > len - at - 12) {
            return;
        }
        put32(b + at + 8 + n,
              (apr_uint32_t)libdeflate_crc32(0, b + at + 4, (size_t)n + 4));
        at += 12 + (size_t)n;
    }
}

static size_t chunk(unsigned char *o, const char *type, const unsigned char *d,
                    size_t n)
{
    put32(o, (apr_uint32_t)n);
    memcpy(o + 4, type, 4);
    if (n) {
        memcpy(o + 8, d, n);
    }
    put32(o + 8 + n, (apr_uint32_t)libdeflate_crc32(0, o + 4, n + 4));
    return 12 + n;
}

/* Mode 2: data[0] width, [2] height (1..256 each), [3] and [4] depth
 * and colour type, [5] palette entries, [6] tRNS entries, then the raw rows
 * (repeated to the size the header asks for). *plen its length. */
static unsigned char *synthesize(const uint8_t *data, size_t size, size_t *plen)
{
    static const int cts[] = {0, 2, 3, 4, 6};
    unsigned char ihdr[13] = {0}, pal[768], *raw, *png;
    apr_uint32_t w, h;
    int ct, ch, npal, ntrns, i;
    size_t rawn, zcap, zn, at = 0, k, rows;

    if (size < 8) {
        return NULL;
    }
    w = (apr_uint32_t)data[0] + 1;
    h = (apr_uint32_t)data[2] + 1;
    ct = cts[data[4] % 5];
    ch = ct == 0 || ct == 3 ? 1 : ct == 4 ? 2 : ct == 2 ? 3 : 4;
    npal = data[5] + 1;
    ntrns = data[6] % (npal + 2);
    rows = (size_t)w * (size_t)ch + 1;
    rawn = rows * h;
    raw = malloc(rawn);
    for (k = 0; k < rawn; k++) {
        raw[k] = size > 8 ? data[8 + k % (size - 8)] : 0;
    }
    /* most rows get a valid filter type, a few keep a random one */
    for (k = 0; k < h; k++) {
        if (raw[k * rows] > 4 && (raw[k * rows] & 0xf0) != 0xf0) {
            raw[k * rows] %= 5;
        }
    }
    zcap = libdeflate_zlib_compress_bound(comp, rawn);
    png = malloc(8 + 25 + 12 + 768 + 12 + 256 + 12 + zcap + 12);
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    at = 8;
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = (data[4] & 0x80) ? (unsigned char)(1 << (data[3] % 5)) : 8;
    ihdr[9] = (unsigned char)ct;
    at += chunk(png + at, "IHDR", ihdr, 13);
    for (i = 0; i < 768; i++) {
        pal[i] = (unsigned char)(data[(size_t)i % size] ^ i);
    }
    if (ct == 3 || (data[4] & 0x40)) {
        at += chunk(png + at, "PLTE", pal, (size_t)npal * 3);
    }
    if (ntrns) {
        at += chunk(png + at, "tRNS", pal + 3, (size_t)ntrns);
    }
    zn = libdeflate_zlib_compress(comp, raw, rawn, png + at + 8, zcap);
    free(raw);
    at += chunk(png + at, "IDAT", png + at + 8, zn);
    at += chunk(png + at, "IEND", NULL, 0);
    *plen = at;
    return png;
}

static void run(unsigned char *buf, size_t len, int factor)
{
    pv_png_fast_info_t *info = NULL;
    pv_png_fast_image_t *img = NULL;
    apr_status_t rv;

    rv = pv_png_fast_probe(&info, buf, len, pool);
    if (rv != APR_SUCCESS) {
        if (info) {
            abort();
        }
    }
    /* 64 MiB of inflated image at most: the fuzzer's memory limit. */
    rv = pv_png_fast_decode(&img, buf, len, factor, 64u << 20, pool);
    if (rv == APR_SUCCESS) {
        if (!img || !info || !info->eligible ||
            img->width != (int)((info->width + factor - 1) / factor) ||
            img->height != (int)((info->height + factor - 1) / factor) ||
            img->bands != info->bands) {
            abort();
        }
    }
    else if (img) {
        abort();
    }
    apr_pool_clear(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    size_t len = size;
    int mode, factor;

    if (size == 0) {
        return 0;
    }
    mode = data[size - 1] & 3;
    factor = 1 + (data[size - 1] >> 2) % 9;
    if (mode == 2) {
        buf = synthesize(data, size - 1, &len);
        if (!buf) {
            return 0;
        }
    }
    else {
        buf = malloc(size ? size : 1);
        memcpy(buf, data, size);
        if (mode == 1) {
            fix_crcs(buf, size);
        }
    }
    run(buf, len, factor);
    free(buf);
    return 0;
}
