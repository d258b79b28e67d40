/* libFuzzer target: pv_jpeg_dc_decode, the DC-only JPEG decoder, on
 * hostile bytes. Checks beyond "no crash": the result is set exactly on
 * success, its sizes are the frame's 1/8 and within what the decoder was
 * allowed, every output byte is readable (ASan checks the sum's reads),
 * and nothing leaks across the pool's cleanups. Seeds: tests/fuzz/run
 * makes small JPEGs of every layout the decoder takes (vips, cjpeg) at
 * run time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <sanitizer/lsan_interface.h>

#include "pv_jpeg_dc.h"

/* What the fuzzer lets the decoder allocate: a 1/8 image of a frame up
 * to 16 Mpx or so; larger frames must say APR_ENOSPC. */
#define FUZZ_MAX_ALLOC (8u * 1024 * 1024)

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    __lsan_disable();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    __lsan_enable();
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
    }
    else if (out) {
        abort();
    }
    free(copy);
    apr_pool_clear(pool);
    return 0;
}
