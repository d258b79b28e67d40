/* libFuzzer target: pv_jpeg_dc_decode, the DC-only JPEG decoder, on
 * hostile bytes. Checks beyond "no crash": the result is set exactly on
 * success, its sizes are the frame's 1/8 and within what the decoder was
 * allowed, every output byte is readable (ASan checks the sum's reads),
 * nothing leaks across the pool's cleanups, and, differential, a file it
 * decodes that libjpeg-turbo's 1/8 decode (TurboJPEG, stopping at its
 * first warning) decodes too gives the very same bytes, 4:2:0 excepted
 * (its chroma is within a bound, see tests/unit/test_jpeg_dc.c): the
 * lookups' block ends checked on mutated bitstreams, not only on files
 * libjpeg wrote. Seeds: tests/fuzz/run makes small JPEGs of every layout
 * the decoder takes (vips, cjpeg) at run time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <sanitizer/lsan_interface.h>
#include <turbojpeg.h>

#include "pv_jpeg_dc.h"

/* What the fuzzer lets the decoder allocate: a 1/8 image of a frame up
 * to 16 Mpx or so; larger frames must say APR_ENOSPC. */
#define FUZZ_MAX_ALLOC (8u * 1024 * 1024)

static apr_pool_t *pool;
static tjhandle tj;

/* TurboJPEG's 1/8 decode of what the decoder took: the same size, and the
 * same bytes unless 4:2:0 or TurboJPEG refuses the file. A frame of 4x4
 * or less is not compared: its 1/8 size is also a larger scale's (1/4,
 * 1/2, 1/1), which TurboJPEG would take. */
static void same_as_libjpeg(const unsigned char *buf, size_t size,
                            const pv_jpeg_dc_t *out)
{
    int w, h, ss, cs, pw, ph;
    size_t n;
    unsigned char *ref;

    if (tjDecompressHeader3(tj, buf, (unsigned long)size, &w, &h, &ss, &cs)) {
        return;
    }
    pw = (w + 7) / 8;
    ph = (h + 7) / 8;
    if (pw != out->width || ph != out->height) {
        abort();
    }
    if (ss == TJSAMP_420 || (w <= 4 && h <= 4)) {
        return;
    }
    n = (size_t)pw * (size_t)ph * (size_t)out->bands;
    ref = malloc(n);
    if (!ref) {
        return;
    }
    if (tjDecompress2(tj, buf, (unsigned long)size, ref, pw, 0, ph,
                      out->bands == 1 ? TJPF_GRAY : TJPF_RGB,
                      TJFLAG_STOPONWARNING) == 0 &&
        memcmp(ref, out->pixels, n) != 0) {
        abort();
    }
    free(ref);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    __lsan_disable();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    tj = tjInitDecompress();
    __lsan_enable();
    if (!tj) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pv_jpeg_dc_t *out = NULL;
    apr_status_t rv;
    unsigned char *copy;

    /* an exact-size heap copy, so that a read past the end is caught */
    copy = malloc(size ? size : 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    rv = pv_jpeg_dc_decode(&out, copy, size, FUZZ_MAX_ALLOC, pool);
    if (rv == APR_SUCCESS) {
        size_t n, i;
        unsigned sum = 0;
        if (!out || out->width < 1 || out->height < 1 ||
            (out->bands != 1 && out->bands != 3) || out->orientation < 1 ||
            out->orientation > 8 || (out->icc && out->icc_len == 0) ||
            out->icc_len > PV_JPEG_DC_MAX_ICC) {
            abort();
        }
        n = (size_t)out->width * (size_t)out->height * (size_t)out->bands;
        if (n > FUZZ_MAX_ALLOC) {
            abort();
        }
        for (i = 0; i < n; i++) {
            sum += out->pixels[i];
        }
        for (i = 0; i < out->icc_len; i++) {
            sum += out->icc[i];
        }
        if (sum == 0xFFFFFFFFu) {
            abort(); /* keeps the reads */
        }
        same_as_libjpeg(copy, size, out);
    }
    else if (out) {
        abort();
    }
    free(copy);
    apr_pool_clear(pool);
    return 0;
}
