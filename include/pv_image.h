/* The image core: libvips start-up, a header-only probe of a source file
 * against size limits, and the render of a preview (shrink-on-load,
 * EXIF auto-rotate, sRGB, every metadata field stripped) into memory.
 *
 * Thread safety: pv_image_init() once per process before any thread uses
 * the core (child_init). After that pv_image_probe(), pv_image_render() and
 * pv_image_format_available() may run in any number of threads at once:
 * every call opens its own file descriptor and owns its own images, and
 * libvips' operation cache is off. The only shared state is libvips'
 * global error buffer, which the core reads and clears after a failure
 * (under concurrency a message may name another thread's error; the status
 * returned is always this call's). */
#ifndef PV_IMAGE_H
#define PV_IMAGE_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "pv_image_header.h"

/* Defaults of PreviewMaxSourceBytes and PreviewMaxSourcePixels. */
#define PV_IMAGE_DEFAULT_MAX_BYTES  ((apr_off_t)64 * 1024 * 1024)
#define PV_IMAGE_DEFAULT_MAX_PIXELS ((apr_uint64_t)100000000)
#define PV_IMAGE_DEFAULT_QUALITY    80
/* libvips' heifsave "effort" (0-9, its default 4; libaom's cpu-used is 9
 * minus it) for AVIF. Measured here: a noisy 3000x3000 JPEG to 2048 px at
 * q=100 took 9.6 s of CPU at 4, 1.7 s at 3, 1.3 s at 2; a 720x477 photo at
 * q=80, 3.8 s at 4 and 0.75 s at 3 for a file 5 % larger (11 % at 2). */
#define PV_IMAGE_AVIF_EFFORT 3
/* Largest box side a caller may ask for (PreviewSizes bounds it further). */
#define PV_IMAGE_MAX_BOX 16384

/* Results, distinct apr_status_t values (APR_SUCCESS is PV_IMAGE_OK). The
 * glue maps them: NOT_FOUND 404, TOO_BIG 413, UNSUPPORTED and CORRUPT 415,
 * BAD_REQUEST 400, NO_ENCODER and FAILED 500 (a bug or out of memory),
 * DEADLINE 503 (the source is fine; the server would not spend more),
 * BUSY 503 (retry later). */
#define PV_IMAGE_STATUS_BASE (APR_OS_START_USERERR + 400)
typedef enum {
    PV_IMAGE_OK = 0,
    PV_IMAGE_NOT_FOUND = PV_IMAGE_STATUS_BASE + 1, /* absent, not a file */
    PV_IMAGE_TOO_BIG,     /* over max bytes, or over max pixels (header) */
    PV_IMAGE_UNSUPPORTED, /* not an image, or a loader we do not allow */
    PV_IMAGE_CORRUPT,     /* header fine, pixels truncated or corrupt */
    PV_IMAGE_BAD_REQUEST, /* box, quality or format out of range */
    PV_IMAGE_NO_ENCODER,  /* this libvips cannot write the format */
    PV_IMAGE_FAILED,      /* anything else libvips refused (I/O, memory) */
    PV_IMAGE_DEADLINE,    /* stopped: still running at req->time_limit */
    PV_IMAGE_BUSY /* the fast path declined it: no memory for libvips' */
} pv_image_status_e;

/* A short, stable, lower-case name ("too big", "corrupt"...); any other
 * apr_status_t gives "unknown". */
const char *pv_image_status_str(apr_status_t st);

typedef enum {
    PV_FIT_INSIDE = 0, /* the whole image inside the box, aspect kept */
    PV_FIT_COVER       /* fill the box exactly, attention crop */
} pv_image_fit_e;

typedef enum {
    PV_FORMAT_JPEG = 0,
    PV_FORMAT_WEBP,
    PV_FORMAT_AVIF,
    PV_FORMAT_PNG
} pv_image_format_e;

/* A set of formats (PreviewFormats, what a request may ask for): the bit
 * of each format f. The one format vocabulary: the directive, the query
 * and the renderer all speak pv_image_format_e. */
#define PV_FORMAT_BIT(f) (1 << (f))
#define PV_FORMATS_ALL                                                         \
    (PV_FORMAT_BIT(PV_FORMAT_JPEG) | PV_FORMAT_BIT(PV_FORMAT_WEBP) |           \
     PV_FORMAT_BIT(PV_FORMAT_AVIF) | PV_FORMAT_BIT(PV_FORMAT_PNG))
/* PreviewFormats' default: AVIF only when asked for (slow to encode). */
#define PV_FORMATS_DEFAULT                                                     \
    (PV_FORMAT_BIT(PV_FORMAT_JPEG) | PV_FORMAT_BIT(PV_FORMAT_WEBP) |           \
     PV_FORMAT_BIT(PV_FORMAT_PNG))

/* "image/jpeg"... and the names used in URLs ("jpeg"...); NULL if out of
 * range. */
const char *pv_image_format_mime(pv_image_format_e f);
const char *pv_image_format_name(pv_image_format_e f);

/* With pv_image_format_parse: any case, and "jpg" for JPEG (a directive's
 * spelling); without, the URL's: lower case names only. */
#define PV_FORMAT_NAME_LOOSE 0x1

/* The format named by the len bytes at name (pv_image_format_name's
 * names). APR_EINVAL when it names none; *pout untouched. */
apr_status_t pv_image_format_parse(pv_image_format_e *pout, const char *name,
                                   apr_size_t len, int flags);

/* The libvips version this process runs ("8.14.1"), not the one built
 * against: part of every cache key and ETag, so that an upgrade that
 * changes the bytes changes them too. */
const char *pv_image_version(void);

/* A zero field means its default (never "unlimited"). */
typedef struct pv_image_limits_t {
    apr_off_t max_bytes;     /* file size */
    apr_uint64_t max_pixels; /* width x height x pages, from the header */
    /* the render's memory estimate (pv_image_budget.h), checked by
     * pv_image_render() before any pixel is decoded */
    apr_uint64_t max_memory;
} pv_image_limits_t;

typedef struct pv_image_info_t {
    int width; /* as displayed: after the EXIF orientation */
    int height;
    int raw_width; /* as stored in the file */
    int raw_height;
    int n_pages;     /* frames of a GIF/WebP/HEIF; 1 for a still */
    int orientation; /* EXIF 1..8; 1 when absent */
    int has_alpha;
    const char *loader; /* libvips nickname: "jpegload", "pngload"... */
    /* for the memory estimate (pv_image_budget.h): */
    int bands;                       /* as loaded, alpha included */
    int sample_bytes;                /* 1, or 2 for more than 8 bits a sample */
    int interlaced;                  /* libvips: Adam7 PNG, multi-scan JPEG */
    const pv_image_header_t *header; /* the file's own; NULL: unreadable */
    /* identity of the file actually opened (fstat of the descriptor), for
     * ETags and cache keys */
    apr_uint64_t device;
    apr_uint64_t inode;
    apr_off_t size;
    apr_time_t mtime;
} pv_image_info_t;

/* Start libvips for this process: VIPS_INIT, operation cache off,
 * untrusted loaders blocked, `threads` worker threads per render (<= 0
 * means 1). Safe to call again (later calls only change the threads).
 * Not thread-safe; libvips is never shut down (it cannot restart). */
apr_status_t pv_image_init(int threads);

/* Whether this thread holds the lock every libvips operation of a render
 * is built and unreffed under (orc programs are compiled and freed only
 * there: see pv_image.c). For tests. */
int pv_image_pipeline_held(void);

/* Whether this libvips can write format f (AVIF needs libheif with an
 * AV1 encoder): checked once by a tiny encode, then remembered. Call from
 * start-up code to refuse a PreviewFormats it cannot honour. */
int pv_image_format_available(pv_image_format_e f);

/* Open path and read its header only: stat size against lim->max_bytes
 * before libvips sees the file, then the loader against the allow-list
 * (jpegload, pngload, webpload, gifload, heifload: JPEG, PNG, WebP, GIF,
 * HEIC and AVIF), then width x height x pages against lim->max_pixels.
 * No pixel is decoded. lim may be NULL (defaults). */
apr_status_t pv_image_probe(pv_image_info_t **pout, const char *path,
                            const pv_image_limits_t *lim, apr_pool_t *p);

typedef struct pv_render_req_t {
    int width;  /* box; 0 follows the aspect ratio (not both 0) */
    int height; /* cover needs both; with one side it acts as inside */
    pv_image_fit_e fit;
    pv_image_format_e format;
    int quality; /* 1..100; 0 means PV_IMAGE_DEFAULT_QUALITY */
    pv_image_limits_t limits;
    /* How long the render may run, from the call (0: no bound). Checked by
     * libvips between tiles of the pixel pipeline (its "eval" signal and
     * vips_image_set_kill()): decoding, resizing and feeding the encoder
     * stop at the next tile past it. A step that runs as one call (an
     * AVIF encode, a decoder that reads the whole frame at once) finishes
     * first; a render that completes is kept, however late. */
    apr_interval_time_t time_limit;
    /* The JPEG fast path is estimated at what it holds (pv_image_budget.h),
     * less than libvips would. Should it decline the file once read,
     * libvips renders it with its own estimate: over limits.max_memory it
     * is PV_IMAGE_TOO_BIG; else grow(grow_baton, bytes) is asked first for
     * that much in all (the caller's budget), and anything but
     * APR_SUCCESS gives PV_IMAGE_BUSY. NULL: nothing to ask. */
    apr_status_t (*grow)(void *grow_baton, apr_uint64_t bytes);
    void *grow_baton;
} pv_render_req_t;

typedef struct pv_image_out_t {
    /* The encoded preview, owned by the pool given to pv_image_render():
     * valid until that pool is cleared. Send it without a copy by wrapping
     * it in a bucket on the same pool (apr_bucket_pool_create(data, len,
     * p, ...)), whose own cleanup copies it should the pool die first. */
    const unsigned char *data;
    apr_size_t len;
    const char *mime; /* "image/jpeg"... */
    int width;        /* of the preview */
    int height;
    int has_alpha;
    const pv_image_info_t *source; /* the probe of the file rendered */
} pv_image_out_t;

/* Probe (as above, with req->limits), estimate the render's memory
 * (pv_image_estimate(); over req->limits.max_memory: PV_IMAGE_TOO_BIG,
 * nothing decoded), then render path into req's box:
 * never upscaled, rotated upright by its EXIF orientation, converted to
 * sRGB (grey stays grey), alpha kept for PNG/WebP/AVIF and flattened on
 * white for JPEG, first frame only for animations, and no metadata at all
 * in the output (no EXIF, GPS, XMP, IPTC, ICC profile or comment).
 * A truncated or corrupt source gives PV_IMAGE_CORRUPT, never a partial
 * image; one stopped by req->time_limit gives PV_IMAGE_DEADLINE and no
 * output. AVIF is encoded at PV_IMAGE_AVIF_EFFORT. */
apr_status_t pv_image_render(pv_image_out_t **pout, const char *path,
                             const pv_render_req_t *req, apr_pool_t *p);

#endif /* PV_IMAGE_H */
