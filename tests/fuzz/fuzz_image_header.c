/* libFuzzer target: pv_image_header_parse on hostile bytes, then the
 * render memory estimate of what it parsed. Checks beyond "no crash":
 * a result is set exactly on success, its fields are in the ranges the
 * header documents, and the estimate never falls below its own parts
 * (an overflow would). Seeds: tests/fuzz/run makes tiny images of every
 * kind with vips at run time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <sanitizer/lsan_interface.h>

#include "pv_image_budget.h"
#include "pv_image_header.h"

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

static const char *loader_of(pv_header_kind_e k)
{
    switch (k) {
        case PV_HEADER_JPEG:
            return "jpegload";
        case PV_HEADER_PNG:
            return "pngload";
        case PV_HEADER_GIF:
            return "gifload";
        case PV_HEADER_WEBP:
            return "webpload";
        case PV_HEADER_HEIF:
            return "heifload";
        default:
            return "tiffload";
    }
}

static void check_fields(const pv_image_header_t *h)
{
    int c;

    switch (h->kind) {
        case PV_HEADER_JPEG:
            if (h->u.jpeg.components < 1 ||
                h->u.jpeg.components > PV_JPEG_MAX_COMPONENTS) {
                abort();
            }
            for (c = 0; c < h->u.jpeg.components; c++) {
                if (h->u.jpeg.h[c] < 1 || h->u.jpeg.h[c] > 4 ||
                    h->u.jpeg.v[c] < 1 || h->u.jpeg.v[c] > 4) {
                    abort();
                }
            }
            if (h->u.jpeg.progressive && !h->u.jpeg.multiscan) {
                abort();
            }
            break;
        case PV_HEADER_HEIF:
            if (h->u.heif.configs < 1 || h->u.heif.bit_depth < 8 ||
                h->u.heif.bit_depth > 15 ||
                (h->u.heif.chroma_div != 0 && h->u.heif.chroma_div != 1 &&
                 h->u.heif.chroma_div != 2 && h->u.heif.chroma_div != 4)) {
                abort();
            }
            break;
        case PV_HEADER_PNG:
        case PV_HEADER_GIF:
        case PV_HEADER_WEBP:
            break;
        default:
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pv_image_header_t *h = NULL;
    apr_status_t rv;
    /* a copy of exactly size bytes: ASan catches any read past them */
    unsigned char *copy = malloc(size ? size : 1);

    memcpy(copy, data, size);
    rv = pv_image_header_parse(&h, copy, size, pool);
    if ((rv == APR_SUCCESS) != (h != NULL) ||
        (rv != APR_SUCCESS && rv != APR_INCOMPLETE && rv != APR_EINVAL)) {
        abort();
    }
    if (h) {
        pv_image_info_t info;
        pv_render_req_t req;
        pv_image_estimate_t *e = NULL;
        int side = size > 0 ? copy[size - 1] : 0;

        check_fields(h);
        /* Sizes as libvips would report them (it refuses more than
         * 10,000,000 a side); the request from the input's last byte. */
        memset(&info, 0, sizeof(info));
        info.raw_width = h->width >= 1 && h->width <= 10000000 ? h->width : 1;
        info.raw_height =
            h->height >= 1 && h->height <= 10000000 ? h->height : 1;
        info.width = side & 1 ? info.raw_height : info.raw_width;
        info.height = side & 1 ? info.raw_width : info.raw_height;
        info.orientation = side & 1 ? 6 : 1;
        info.loader = loader_of(h->kind);
        info.bands = 1 + (side >> 1) % 4;
        info.has_alpha = info.bands == 2 || info.bands == 4;
        info.sample_bytes = side & 0x10 ? 2 : 1;
        info.size = (apr_off_t)size;
        info.header = h;
        memset(&req, 0, sizeof(req));
        req.width = side & 0x20 ? 8192 : 256;
        req.height = side & 0x40 ? 0 : req.width;
        req.fit = side & 0x80 ? PV_FIT_COVER : PV_FIT_INSIDE;
        req.format = (pv_image_format_e)((side >> 2) % 4);
        if (pv_image_estimate(&e, &info, &req, pool) != APR_SUCCESS ||
            e->total < e->held || e->total < e->pipeline ||
            e->total < e->output || e->total < e->file) {
            abort();
        }
    }
    free(copy);
    apr_pool_clear(pool);
    return 0;
}
