/* The image core on libvips; see include/pv_image.h. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <vips/vips.h>
/* vips_vector_set_enabled() (pv_image_init): not in vips.h */
#include <vips/vector.h>

#include "pv_fast_jpeg.h"
#include "pv_image.h"
#include "pv_image_budget.h"
#include "pv_image_header.h"
#include "pv_log.h"
#include "pv_png_fast.h"

/* Truncation and decode errors fail the load: a half-grey preview could be
 * taken for the real picture, and would be cached as if it were. */
#define PV_FAIL_ON        VIPS_FAIL_ON_ERROR
#define PV_FAIL_ON_OPTION "fail_on=error"

/* Loaders we let near untrusted uploads: fuzzed by libvips (not
 * "untrusted"), and the formats phones and browsers produce. TIFF is left
 * out on purpose (many codecs and layouts, rare as a photo upload). */
static const char *const allowed_loaders[] = {
    "jpegload_source", "pngload_source",  "webpload_source",
    "gifload_source",  "heifload_source", NULL};

static const char *const format_names[] = {"jpeg", "webp", "avif", "png"};
static const char *const format_mimes[] = {"image/jpeg", "image/webp",
                                           "image/avif", "image/png"};

static int vips_started;

/* Allocations from this size up get their own mapping, returned to the
 * kernel on free. A progressive JPEG makes libjpeg hold every DCT
 * coefficient of the file (42 MB for 14 Mpx at 4:2:0, whatever the shrink):
 * with glibc's default the mmap threshold climbs past such a block after
 * the first free, later ones land in per-thread arenas, and each of a
 * server's threads keeps its own ~45 MB after its first render. The price
 * is faulting a fresh mapping in on each such render (~20 ms of system time
 * per 14 Mpx progressive JPEG here); baseline JPEGs need no such block. */
#define PV_MMAP_THRESHOLD (1024 * 1024)

/* -1 not yet tested, 0 no, 1 yes; see pv_image_format_available(). */
static int format_ok[4] = {-1, -1, -1, -1};

/* pv_image_status_str() of the statuses after PV_IMAGE_STATUS_BASE. */
static const char *const status_names[] = {
    [PV_IMAGE_NOT_FOUND - PV_IMAGE_STATUS_BASE] = "not found",
    [PV_IMAGE_TOO_BIG - PV_IMAGE_STATUS_BASE] = "too big",
    [PV_IMAGE_UNSUPPORTED - PV_IMAGE_STATUS_BASE] = "unsupported",
    [PV_IMAGE_CORRUPT - PV_IMAGE_STATUS_BASE] = "corrupt",
    [PV_IMAGE_BAD_REQUEST - PV_IMAGE_STATUS_BASE] = "bad request",
    [PV_IMAGE_NO_ENCODER - PV_IMAGE_STATUS_BASE] = "no encoder",
    [PV_IMAGE_FAILED - PV_IMAGE_STATUS_BASE] = "failed",
    [PV_IMAGE_DEADLINE - PV_IMAGE_STATUS_BASE] = "past its deadline",
    [PV_IMAGE_BUSY - PV_IMAGE_STATUS_BASE] = "no memory to render it",
};
#define NSTATUS (sizeof(status_names) / sizeof(status_names[0]))

const char *pv_image_status_str(apr_status_t st)
{
    apr_status_t i = st - PV_IMAGE_STATUS_BASE;

    if (st == PV_IMAGE_OK) {
        return "ok";
    }
    return i > 0 && (apr_size_t)i < NSTATUS && status_names[i] ? status_names[i]
                                                               : "unknown";
}

const char *pv_image_format_mime(pv_image_format_e f)
{
    return ((unsigned)f < 4) ? format_mimes[f] : NULL;
}

const char *pv_image_format_name(pv_image_format_e f)
{
    return ((unsigned)f < 4) ? format_names[f] : NULL;
}

apr_status_t pv_image_format_parse(pv_image_format_e *pout, const char *name,
                                   apr_size_t len, int flags)
{
    int loose = (flags & PV_FORMAT_NAME_LOOSE) != 0;
    unsigned f;

    for (f = 0; f < 4; f++) {
        if (strlen(format_names[f]) == len &&
            (loose ? !strncasecmp(name, format_names[f], len)
                   : !memcmp(name, format_names[f], len))) {
            *pout = (pv_image_format_e)f;
            return APR_SUCCESS;
        }
    }
    if (loose && len == 3 && !strncasecmp(name, "jpg", 3)) {
        *pout = PV_FORMAT_JPEG;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

const char *pv_image_version(void)
{
    return vips_version_string();
}

/* Take libvips' (global) error text so that it does not pile up, and keep
 * it at debug level: the status is what the caller acts on. */
static void drain_vips_error(const char *what, const char *path)
{
    char *msg = vips_error_buffer_copy();

    if (msg && *msg) {
        size_t n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n') {
            msg[--n] = '\0';
        }
        pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0, PVLOGNO(0401) "libvips %s %s: %s",
                what, path ? path : "-", msg);
    }
    g_free(msg);
}

/* libvips reports pipeline trouble ("error in tile", decoder warnings)
 * through GLib's log, some of it structured (its loadable modules): one
 * writer catches both kinds and routes libvips' to our log at debug level
 * instead of httpd's stderr. The status of the call is what matters. */
static GLogWriterOutput vips_log_writer(GLogLevelFlags level,
                                        const GLogField *fields, gsize n_fields,
                                        gpointer data)
{
    const char *domain = NULL, *message = NULL;
    gsize i;

    (void)data;
    for (i = 0; i < n_fields; i++) {
        if (fields[i].length < 0 && strcmp(fields[i].key, "GLIB_DOMAIN") == 0) {
            domain = fields[i].value;
        }
        else if (fields[i].length < 0 &&
                 strcmp(fields[i].key, "MESSAGE") == 0) {
            message = fields[i].value;
        }
    }
    if (!domain || strcmp(domain, "VIPS") != 0) {
        return g_log_writer_default(level, fields, n_fields, data);
    }
    /* its info and debug chatter ("selected loader is ...") is dropped */
    if (level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) {
        return G_LOG_WRITER_HANDLED;
    }
    pv_log_(PV_LOG_MARK,
            (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
                ? PV_LOG_WARNING
                : PV_LOG_DEBUG,
            0, PVLOGNO(0405) "libvips: %s", message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

/* Every libvips operation of a render is built, and unreffed, under this
 * one lock. liborc 0.4.33 (Debian 12's) hands out and takes back its code
 * memory without a lock of its own: orc_code_region_get_free_chunk() lets
 * go of orc's mutex before the chunk it found is marked used, and
 * orc_code_chunk_free() takes none (upstream's fix, "orccodemem: Fix for
 * potential race in codemem alloc/free", is in 0.4.34). libvips' reduce,
 * conv and smartcrop compile their programs in their builds and free them
 * when they go, so with the operation cache off renders in several
 * threads at once corrupted that memory: the bench's render mix crashed a
 * child twice in two minutes, ASan naming orc_code_allocate_codemem under
 * vips_reducev. Pixels are computed outside the lock (the save, and the
 * copies render_finish() makes), so renders still run side by side; the
 * unit test render_orc_locked checks that every orc compile and free of
 * its renders comes under it. */
static GMutex pipeline_lock;
static __thread int pipeline_held;

static void pipeline_take(void)
{
    g_mutex_lock(&pipeline_lock);
    pipeline_held++;
}

static void pipeline_give(void)
{
    pipeline_held--;
    g_mutex_unlock(&pipeline_lock);
}

int pv_image_pipeline_held(void)
{
    return pipeline_held > 0;
}

apr_status_t pv_image_init(int threads)
{
    if (!vips_started) {
        /* GLib allows one writer per process: this is the only call. */
        g_log_set_writer_func(vips_log_writer, NULL, NULL);
        if (VIPS_INIT("mod_preview")) {
            drain_vips_error("init", NULL);
            return PV_IMAGE_FAILED;
        }
        /* A server renders each request once: caching operations would
         * only hold memory and file descriptors. */
        vips_cache_set_max(0);
        vips_cache_set_max_mem(0);
        vips_cache_set_max_files(0);
        /* Loaders libvips has not fuzzed stay off even if named. */
        vips_block_untrusted_set(TRUE);
        /* orc, libvips' run-time compiled SIMD, stays on: every program
         * is compiled and freed under pipeline_lock. */
        vips_vector_set_enabled(TRUE);
        /* Setting it also stops glibc from raising it (and the trim
         * threshold) on its own. */
        if (!mallopt(M_MMAP_THRESHOLD, PV_MMAP_THRESHOLD)) {
            pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0,
                    PVLOGNO(1250) "mallopt(M_MMAP_THRESHOLD) "
                                  "refused");
        }
        vips_started = 1;
    }
    vips_concurrency_set(threads > 0 ? threads : 1);
    return PV_IMAGE_OK;
}

/* An 8x8 encode tells whether the saver and its codec are really there
 * (libheif may be built without an AV1 encoder). */
static int try_encode(pv_image_format_e f)
{
    VipsImage *black = NULL, *rgb = NULL;
    void *buf = NULL;
    size_t len = 0;
    int rc = -1;

    if (vips_black(&black, 8, 8, "bands", 3, NULL) ||
        vips_cast_uchar(black, &rgb, NULL)) {
        goto cleanup;
    }
    switch (f) {
        case PV_FORMAT_JPEG:
            rc = vips_jpegsave_buffer(rgb, &buf, &len, NULL);
            break;
        case PV_FORMAT_WEBP:
            rc = vips_webpsave_buffer(rgb, &buf, &len, NULL);
            break;
        case PV_FORMAT_AVIF:
            rc = vips_heifsave_buffer(rgb, &buf, &len, "compression",
                                      VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL);
            break;
        case PV_FORMAT_PNG:
            rc = vips_pngsave_buffer(rgb, &buf, &len, NULL);
            break;
    }
cleanup:
    if (rc) {
        drain_vips_error("encoder test", pv_image_format_name(f));
    }
    g_free(buf);
    VIPS_UNREF(rgb);
    VIPS_UNREF(black);
    return rc == 0 && len > 0;
}

int pv_image_format_available(pv_image_format_e f)
{
    if ((unsigned)f >= 4 || !vips_started) {
        return 0;
    }
    /* A race here only repeats the same idempotent test. */
    if (format_ok[f] < 0) {
        format_ok[f] = try_encode(f);
    }
    return format_ok[f];
}

/* One opened source: our descriptor, libvips' source on it, and the
 * header-only image. Released by src_close() on every path. */
typedef struct {
    int fd;
    VipsSource *source;
    VipsImage *header;
} pv_src_t;

static void src_close(pv_src_t *s)
{
    VIPS_UNREF(s->header);
    VIPS_UNREF(s->source);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

static int loader_allowed(const char *nick)
{
    int i;

    for (i = 0; allowed_loaders[i]; i++) {
        if (strcmp(nick, allowed_loaders[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The file's first n bytes (pread: libvips' offset stays) parsed into
 * *phdr. APR_INCOMPLETE only when the header runs on past n bytes and the
 * file is longer than that; a shorter file was read whole. */
static apr_status_t parse_prefix(pv_image_header_t **phdr, int fd, apr_size_t n,
                                 apr_pool_t *p)
{
    /* malloc, not the pool: a large block is its own mapping, given back
     * on free (PV_MMAP_THRESHOLD), not kept by the pool's allocator */
    unsigned char *buf = malloc(n);
    apr_status_t rv = APR_EINVAL;
    ssize_t got;

    if (!buf) {
        return APR_ENOMEM;
    }
    do {
        got = pread(fd, buf, n, 0);
    } while (got < 0 && errno == EINTR);
    if (got > 0) {
        rv = pv_image_header_parse(phdr, buf, (apr_size_t)got, p);
        if (rv == APR_INCOMPLETE && (apr_size_t)got < n) {
            rv = APR_EINVAL; /* the whole file was there */
        }
    }
    free(buf);
    return rv;
}

/* What the memory estimate needs beyond the sizes: libvips' bands,
 * sample size and interlace flag ("jpeg-multiscan" for a JPEG), and the
 * file's own header: from its first 64 KiB, or PV_IMAGE_HEADER_READ
 * bytes when it runs on (a large EXIF or ICC segment). A header that
 * cannot be read or parsed leaves NULL: the estimate then assumes the
 * worst of its format. */
static void read_shape(pv_image_info_t *info, const pv_src_t *s, apr_pool_t *p)
{
    pv_image_header_t *hdr = NULL;
    apr_status_t rv;
    int flag = 0;

    info->bands = vips_image_get_bands(s->header);
    info->sample_bytes =
        (int)vips_format_sizeof(vips_image_get_format(s->header));
    if ((vips_image_get_typeof(s->header, "interlaced") &&
         !vips_image_get_int(s->header, "interlaced", &flag) && flag) ||
        (vips_image_get_typeof(s->header, "jpeg-multiscan") &&
         !vips_image_get_int(s->header, "jpeg-multiscan", &flag) && flag)) {
        info->interlaced = 1;
    }
    rv = parse_prefix(&hdr, s->fd, 64 * 1024, p);
    if (rv == APR_INCOMPLETE) {
        rv = parse_prefix(&hdr, s->fd, PV_IMAGE_HEADER_READ, p);
    }
    if (rv == APR_SUCCESS) {
        info->header = hdr;
    }
}

/* The descriptor's identity and size into info: a regular file of 1 to
 * max_bytes bytes. */
static apr_status_t src_stat(pv_image_info_t *info, const pv_src_t *s,
                             apr_off_t max_bytes)
{
    struct stat st;

    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return PV_IMAGE_NOT_FOUND;
    }
    info->device = (apr_uint64_t)st.st_dev;
    info->inode = (apr_uint64_t)st.st_ino;
    info->size = (apr_off_t)st.st_size;
    info->mtime = apr_time_from_sec(st.st_mtim.tv_sec) +
                  (apr_time_t)(st.st_mtim.tv_nsec / 1000);
    if (info->size > max_bytes) {
        return PV_IMAGE_TOO_BIG;
    }
    if (info->size == 0) {
        return PV_IMAGE_UNSUPPORTED;
    }
    return PV_IMAGE_OK;
}

/* libvips' source on the descriptor and the loader it sniffs, which must
 * be one of allowed_loaders; *pnick is its nickname. */
static apr_status_t src_sniff(const char **pnick, pv_src_t *s, const char *path)
{
    const char *cls, *nick;

    if (!(s->source = vips_source_new_from_descriptor(s->fd))) {
        drain_vips_error("source", path);
        return PV_IMAGE_FAILED;
    }
    /* Sniffs the first bytes only. */
    if (!(cls = vips_foreign_find_load_source(s->source))) {
        drain_vips_error("sniff", path);
        return PV_IMAGE_UNSUPPORTED;
    }
    nick = vips_nickname_find(g_type_from_name(cls));
    if (!nick || !loader_allowed(nick)) {
        pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0,
                PVLOGNO(0403) "%s: loader %s not allowed", path,
                nick ? nick : cls);
        return PV_IMAGE_UNSUPPORTED;
    }
    *pnick = nick;
    return PV_IMAGE_OK;
}

/* The header-only image and what it says into info: sizes bounded by
 * max_pixels, orientation, alpha. */
static apr_status_t src_header(pv_image_info_t *info, pv_src_t *s,
                               const char *path, apr_uint64_t max_pixels)
{
    apr_uint64_t pixels;

    /* Header only: libvips loads lazily, no pixel is decoded here. */
    s->header = vips_image_new_from_source(s->source, "", "access",
                                           VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                           PV_FAIL_ON, NULL);
    if (!s->header) {
        drain_vips_error("header", path);
        return PV_IMAGE_CORRUPT;
    }

    info->raw_width = vips_image_get_width(s->header);
    info->raw_height = vips_image_get_height(s->header);
    info->n_pages = vips_image_get_n_pages(s->header);
    if (info->raw_width <= 0 || info->raw_height <= 0 || info->n_pages <= 0) {
        return PV_IMAGE_CORRUPT;
    }
    /* Both sides are below 2^24 in libvips, so the product fits; the pages
     * factor is checked by division. */
    pixels = (apr_uint64_t)info->raw_width * (apr_uint64_t)info->raw_height;
    if (pixels > max_pixels ||
        (apr_uint64_t)info->n_pages > max_pixels / pixels) {
        return PV_IMAGE_TOO_BIG;
    }

    info->orientation = vips_image_get_orientation(s->header);
    if (vips_image_get_orientation_swap(s->header)) {
        info->width = info->raw_height;
        info->height = info->raw_width;
    }
    else {
        info->width = info->raw_width;
        info->height = info->raw_height;
    }
    info->has_alpha = vips_image_hasalpha(s->header) ? 1 : 0;
    return PV_IMAGE_OK;
}

/* Open path once and keep the descriptor: the size checked by fstat, the
 * header checked and the pixels decoded all come from the same file, even
 * if the path is replaced meanwhile. */
static apr_status_t src_open(pv_src_t *s, pv_image_info_t *info,
                             const char *path, const pv_image_limits_t *lim,
                             apr_pool_t *p)
{
    apr_off_t max_bytes = PV_IMAGE_DEFAULT_MAX_BYTES;
    apr_uint64_t max_pixels = PV_IMAGE_DEFAULT_MAX_PIXELS;
    const char *nick = NULL;
    apr_status_t rv;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    memset(info, 0, sizeof(*info));
    if (lim && lim->max_bytes > 0) {
        max_bytes = lim->max_bytes;
    }
    if (lim && lim->max_pixels > 0) {
        max_pixels = lim->max_pixels;
    }
    if (!vips_started) {
        return PV_IMAGE_FAILED;
    }

    /* O_NONBLOCK: a FIFO planted in the storage must not hang a worker. */
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (s->fd < 0) {
        int e = errno;
        pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0, PVLOGNO(0402) "open %s: %s", path,
                strerror(e));
        return (e == ENOENT || e == ENOTDIR || e == ELOOP || e == EACCES ||
                e == ENAMETOOLONG)
                   ? PV_IMAGE_NOT_FOUND
                   : PV_IMAGE_FAILED;
    }
    if ((rv = src_stat(info, s, max_bytes)) != PV_IMAGE_OK ||
        (rv = src_sniff(&nick, s, path)) != PV_IMAGE_OK ||
        (rv = src_header(info, s, path, max_pixels)) != PV_IMAGE_OK) {
        return rv;
    }
    info->loader = apr_pstrmemdup(p, nick, strlen(nick) - strlen("_source"));
    read_shape(info, s, p);
    return PV_IMAGE_OK;
}

apr_status_t pv_image_probe(pv_image_info_t **pout, const char *path,
                            const pv_image_limits_t *lim, apr_pool_t *p)
{
    pv_image_info_t *info = apr_pcalloc(p, sizeof(*info));
    pv_src_t s;
    apr_status_t rv;

    rv = src_open(&s, info, path, lim, p);
    if (rv != PV_IMAGE_OK) {
        goto cleanup;
    }
    *pout = info;
cleanup:
    src_close(&s);
    return rv;
}

/* Drop every metadata field (EXIF and GPS, XMP, IPTC, ICC, comments) from
 * a copy, on top of the savers' strip option: nothing of the source but
 * its pixels may reach the client. libvips' own "vips-" bookkeeping
 * stays. */
static int strip_metadata(VipsImage *in, VipsImage **out)
{
    gchar **names;
    int i;

    if (vips_copy(in, out, NULL)) {
        return -1;
    }
    names = vips_image_get_fields(*out);
    for (i = 0; names && names[i]; i++) {
        if (!vips_isprefix("vips-", names[i])) {
            vips_image_remove(*out, names[i]);
        }
    }
    g_strfreev(names);
    return 0;
}

static apr_uint32_t le32(const unsigned char *b)
{
    return (apr_uint32_t)b[0] | (apr_uint32_t)b[1] << 8 |
           (apr_uint32_t)b[2] << 16 | (apr_uint32_t)b[3] << 24;
}

/* libvips 8.14's webpsave ignores "strip" and always muxes in an EXIF
 * chunk it rebuilds from the image (orientation, resolution): drop the
 * EXIF, XMP and ICCP chunks from the RIFF container in place, and their
 * flags from VP8X. Returns -1 on a container it does not understand. */
static int webp_strip_chunks(unsigned char *b, size_t *plen)
{
    size_t len = *plen, in = 12, out = 12;

    if (len < 20 || memcmp(b, "RIFF", 4) != 0 ||
        memcmp(b + 8, "WEBP", 4) != 0 || le32(b + 4) != len - 8) {
        return -1;
    }
    while (in < len) {
        size_t size, total;

        if (len - in < 8) {
            return -1;
        }
        size = le32(b + in + 4);
        total = 8 + size + (size & 1);
        if (size > len - in - 8 || total > len - in) {
            return -1;
        }
        if (memcmp(b + in, "EXIF", 4) != 0 && memcmp(b + in, "XMP ", 4) != 0 &&
            memcmp(b + in, "ICCP", 4) != 0) {
            memmove(b + out, b + in, total);
            out += total;
        }
        in += total;
    }
    if (out - 12 >= 18 && memcmp(b + 12, "VP8X", 4) == 0) {
        b[20] &= (unsigned char)~(0x20 | 0x08 | 0x04); /* ICC, EXIF, XMP */
    }
    b[4] = (unsigned char)((out - 8) & 0xff);
    b[5] = (unsigned char)(((out - 8) >> 8) & 0xff);
    b[6] = (unsigned char)(((out - 8) >> 16) & 0xff);
    b[7] = (unsigned char)(((out - 8) >> 24) & 0xff);
    *plen = out;
    return 0;
}

static int save_buffer(VipsImage *in, pv_image_format_e f, int q, void **buf,
                       size_t *len)
{
    switch (f) {
        case PV_FORMAT_JPEG:
            return vips_jpegsave_buffer(in, buf, len, "Q", q, "strip", TRUE,
                                        "optimize_coding", TRUE, NULL);
        case PV_FORMAT_WEBP:
            return vips_webpsave_buffer(in, buf, len, "Q", q, "strip", TRUE,
                                        NULL);
        case PV_FORMAT_AVIF:
            return vips_heifsave_buffer(in, buf, len, "Q", q, "strip", TRUE,
                                        "compression",
                                        VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                                        "effort", PV_IMAGE_AVIF_EFFORT, NULL);
        case PV_FORMAT_PNG:
            return vips_pngsave_buffer(in, buf, len, "strip", TRUE,
                                       "compression", 6, NULL);
    }
    return -1;
}

/* A render's deadline, watched from libvips' "eval" signal, which the
 * sink of the save emits after each tile on the most-downstream image that
 * asked for progress (the signal follows an image down its pipeline). */
typedef struct {
    apr_time_t deadline;
    int killed; /* read and written with g_atomic_int_*: any thread */
} deadline_watch_t;

static void on_eval(VipsImage *img, VipsProgress *progress, void *data)
{
    deadline_watch_t *w = data;

    (void)progress;
    /* The next vips_region_prepare() on img fails, and with it the sink:
     * the save returns an error and no output. */
    if (apr_time_now() >= w->deadline) {
        g_atomic_int_set(&w->killed, 1);
        vips_image_set_kill(img, TRUE);
    }
}

/* Arm the watch on img, the last image before the saver. In p: the
 * signal may still run while img is being unreferenced. */
static deadline_watch_t *watch_deadline(VipsImage *img,
                                        apr_interval_time_t limit,
                                        apr_time_t start, apr_pool_t *p)
{
    deadline_watch_t *w;

    if (limit <= 0) {
        return NULL;
    }
    w = apr_pcalloc(p, sizeof(*w));
    w->deadline = start + limit;
    vips_image_set_progress(img, TRUE);
    g_signal_connect(img, "eval", G_CALLBACK(on_eval), w);
    return w;
}

static apr_status_t free_vips_buffer(void *data)
{
    g_free(data);
    return APR_SUCCESS;
}

/* One render on its way from the file to the encoded buffer, as the steps
 * below take it in turn (libvips' thumbnail.c keeps its own the same way):
 * the opened source, each step's image in scope's local array, and the
 * saver's output until it is handed to the pool. */
typedef struct {
    const char *path;
    const pv_render_req_t *req;
    pv_image_info_t *info;
    pv_src_t src;
    apr_time_t start;
    VipsImage *scope; /* owns t[] */
    VipsImage **t;
    VipsImage *img; /* the last step's output */
    pv_image_estimate_t *est;
    VipsArrayDouble *white;
    void *buf;
    size_t len;
    int fast;             /* answered before libvips' pipeline (or refused) */
    int turn;             /* render_finish() turns it upright (and crops) */
    VipsInteresting crop; /* render_finish()'s crop, or NONE */
    pv_png_fast_image_t *png; /* render_png_decode()'s boxes, or NULL */
} render_t;

static apr_status_t render_check(const pv_render_req_t *req)
{
    if (!req || req->width < 0 || req->height < 0 ||
        (req->width == 0 && req->height == 0) ||
        req->width > PV_IMAGE_MAX_BOX || req->height > PV_IMAGE_MAX_BOX ||
        req->quality < 0 || req->quality > 100 ||
        (req->fit != PV_FIT_INSIDE && req->fit != PV_FIT_COVER) ||
        !pv_image_format_name(req->format)) {
        return PV_IMAGE_BAD_REQUEST;
    }
    if (!pv_image_format_available(req->format)) {
        return PV_IMAGE_NO_ENCODER;
    }
    return PV_IMAGE_OK;
}

static apr_status_t render_open(render_t *r, apr_pool_t *p)
{
    const pv_render_req_t *req = r->req;
    pv_image_estimate_t *est;
    apr_status_t rv;

    rv = src_open(&r->src, r->info, r->path, &req->limits, p);
    if (rv != PV_IMAGE_OK) {
        return rv;
    }
    /* Before any pixel is decoded: a source whose decoder would hold more
     * than the bound is refused, not rendered. */
    if (pv_image_estimate(&est, r->info, req, p) != APR_SUCCESS ||
        est->total > (req->limits.max_memory ? req->limits.max_memory
                                             : PV_IMAGE_DEFAULT_MAX_MEMORY)) {
        return PV_IMAGE_TOO_BIG;
    }
    r->est = est;
    return PV_IMAGE_OK;
}

/* The file's size bytes into a malloc'd buffer (pread: libvips' offset
 * stays); NULL on a short read or no memory. */
static unsigned char *read_whole(int fd, apr_size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    apr_size_t got = 0;

    while (buf && got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (apr_size_t)n;
    }
    return buf;
}

/* An 8-bit non-interlaced PNG well above a fit-inside box, as the
 * estimate chose it (pv_image_estimate: within the render's bound):
 * decoded and box-reduced by pv_png_fast (2x the box kept, as libvips'
 * resize keeps for its last, Lanczos step), then resized by libvips to
 * the exact size the libvips path gives. The decode is here, before
 * pipeline_lock (r->png; NULL on any doubt or error: the caller renders
 * with libvips as before). */
static void render_png_decode(render_t *r, apr_pool_t *p)
{
    const pv_image_info_t *info = r->info;
    int factor = r->est->png_fast;
    pv_png_fast_image_t *img = NULL;
    unsigned char *buf;

    if (!factor || !(buf = read_whole(r->src.fd, (apr_size_t)info->size))) {
        return;
    }
    if (pv_png_fast_decode(&img, buf, (apr_size_t)info->size, factor,
                           r->est->png_fast_raw, p) == APR_SUCCESS &&
        img->width == (info->raw_width + factor - 1) / factor &&
        img->height == (info->raw_height + factor - 1) / factor) {
        r->png = img;
    }
    free(buf);
}

/* The pipeline on render_png_decode()'s boxes; not PV_IMAGE_OK: none. */
static apr_status_t render_png_fast(render_t *r)
{
    const pv_image_info_t *info = r->info;
    const pv_render_req_t *req = r->req;
    int factor = r->est->png_fast, ow, oh, alpha;
    pv_png_fast_image_t *img = r->png;
    VipsImage **t, *in;
    double s;

    if (!img) {
        return PV_IMAGE_UNSUPPORTED;
    }
    /* The size vips_thumbnail gives the whole image (fit inside, down). */
    s = VIPS_MAX((double)info->raw_width /
                     (req->width ? req->width : VIPS_MAX_COORD),
                 (double)info->raw_height /
                     (req->height ? req->height : VIPS_MAX_COORD));
    ow = VIPS_MAX(1, (int)VIPS_RINT(info->raw_width / s));
    oh = VIPS_MAX(1, (int)VIPS_RINT(info->raw_height / s));
    alpha = img->bands == 2 || img->bands == 4;
    /* The whole boxes only (a partial edge box stands for fewer pixels
     * than its place in the image: jpegload drops a partial DCT block
     * alike), resized by the source's own extent over the preview's, so
     * that each output pixel averages the source it stands for (fitting
     * the boxes' count instead was 1.9 dB worse on a noise PNG). Alpha:
     * premultiplied around the resize, as thumbnail does. */
    t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(r->scope), 6);
    if (!(t[0] = vips_image_new_from_memory_copy(
              img->pixels,
              (size_t)img->width * (size_t)img->height * (size_t)img->bands,
              img->width, img->height, img->bands, VIPS_FORMAT_UCHAR)) ||
        vips_copy(t[0], &t[1], "interpretation",
                  img->bands < 3 ? VIPS_INTERPRETATION_B_W
                                 : VIPS_INTERPRETATION_sRGB,
                  NULL) ||
        vips_crop(t[1], &t[2], 0, 0, info->raw_width / factor,
                  info->raw_height / factor, NULL) ||
        (alpha && vips_premultiply(t[2], &t[3], NULL))) {
        drain_vips_error("png fast path", r->path);
        return PV_IMAGE_FAILED;
    }
    in = alpha ? t[3] : t[2];
    if (vips_resize(in, &t[4], (double)ow * factor / info->raw_width, "vscale",
                    (double)oh * factor / info->raw_height, NULL) ||
        (alpha && vips_unpremultiply(t[4], &t[5], NULL)) ||
        vips_cast(alpha ? t[5] : t[4], &r->t[1], VIPS_FORMAT_UCHAR, NULL)) {
        drain_vips_error("png fast path", r->path);
        return PV_IMAGE_FAILED;
    }
    if (vips_image_get_width(r->t[1]) != ow ||
        vips_image_get_height(r->t[1]) != oh) {
        return PV_IMAGE_UNSUPPORTED;
    }
    return PV_IMAGE_OK;
}

/* libvips' thumbnail as main's render asked for it (fit inside or cover
 * the box, turned upright), built so that no pixel is computed under
 * pipeline_lock: thumbnail computes a rotated or cropped image whole
 * inside its build (vips_image_copy_memory before vips_autorot and
 * vips_smartcrop), so such a build is asked for upright-less and uncropped
 * with the box thumbnail itself would have used, and render_finish() does
 * those two steps as thumbnail does them, outside the lock. A cover of a
 * source thumbnail loads itself (no JPEG shrink of ours) is left to
 * thumbnail whole: its shrunk size, which picks the cover's axis, is
 * thumbnail's own to know. */
static apr_status_t render_thumbnail(render_t *r)
{
    const pv_render_req_t *req = r->req;
    VipsInteresting crop = VIPS_INTERESTING_NONE;
    VipsImage **t;
    int tw, th, bw, bh, shrink, swap;

    /* A missing side is unbounded: the other one sets the scale. */
    tw = req->width ? req->width : VIPS_MAX_COORD;
    th = req->height ? req->height : VIPS_MAX_COORD;
    if (req->fit == PV_FIT_COVER && req->width && req->height) {
        crop = VIPS_INTERESTING_ATTENTION;
    }
    /* thumbnail's target for a source it will turn: the box turned */
    swap = vips_image_get_orientation_swap(r->src.header);
    bw = swap ? th : tw;
    bh = swap ? tw : th;

    r->scope = vips_image_new();
    t = r->t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(r->scope), 8);

    if (render_png_fast(r) == PV_IMAGE_OK) {
        r->img = t[1];
        return PV_IMAGE_OK;
    }
    shrink = 1;
    if (strcmp(r->info->loader, "jpegload") == 0) {
        shrink = pv_image_jpeg_shrink(r->info, req->width, req->height,
                                      crop != VIPS_INTERESTING_NONE);
    }
    if (shrink > 1) {
        if (vips_jpegload_source(r->src.source, &t[0], "shrink", shrink,
                                 "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                 PV_FAIL_ON, NULL)) {
            drain_vips_error("thumbnail", r->path);
            return PV_IMAGE_CORRUPT;
        }
        if (crop != VIPS_INTERESTING_NONE) {
            /* vips_thumbnail_calculate_shrink() in crop mode: the axis
             * that shrinks less; an open other side makes fit-inside
             * shrink by that axis alone, by the same quotient. */
            double hs = (double)t[0]->Xsize / bw, vs = (double)t[0]->Ysize / bh;
            if (hs < vs) {
                bh = VIPS_MAX_COORD;
            }
            else {
                bw = VIPS_MAX_COORD;
            }
            r->crop = crop;
        }
        if (vips_thumbnail_image(t[0], &t[1], bw, "height", bh, "size",
                                 VIPS_SIZE_DOWN, "no_rotate", TRUE, NULL)) {
            drain_vips_error("thumbnail", r->path);
            return PV_IMAGE_CORRUPT;
        }
        r->turn = 1;
    }
    /* libvips 8.14's thumbnail_source does not pass its own "fail_on" on
     * to the loader; the loader option string does reach it. */
    else {
        /* a cover is thumbnail's whole: turned and cropped in its build */
        int whole = crop != VIPS_INTERESTING_NONE;
        if (vips_thumbnail_source(r->src.source, &t[1], whole ? tw : bw,
                                  "height", whole ? th : bh, "size",
                                  VIPS_SIZE_DOWN, "crop", crop, "no_rotate",
                                  !whole, "fail_on", PV_FAIL_ON,
                                  "option_string", PV_FAIL_ON_OPTION, NULL)) {
            drain_vips_error("thumbnail", r->path);
            return PV_IMAGE_CORRUPT;
        }
        r->turn = !whole;
    }
    /* the orientation the box was turned for is the one to turn by */
    if (r->turn && vips_image_get_orientation_swap(t[1]) != swap) {
        return PV_IMAGE_FAILED;
    }
    r->img = t[1];
    return PV_IMAGE_OK;
}

/* What render_thumbnail() left out, as libvips' thumbnail does it: each
 * step on a copy in memory (the load is sequential), turned upright by
 * the orientation tag, then the cover's crop of the box (smaller where
 * the image is), chosen by attention. The copies are computed outside
 * pipeline_lock; smartcrop's build, which compiles as it measures, under
 * it. */
static apr_status_t render_finish(render_t *r)
{
    VipsImage **t;
    int cw, ch;
    apr_status_t rv = PV_IMAGE_OK;

    if (!r->turn) {
        return PV_IMAGE_OK;
    }
    t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(r->scope), 4);
    if (vips_image_get_orientation(r->img) != 1) {
        if (!(t[0] = vips_image_copy_memory(r->img)) ||
            vips_autorot(t[0], &t[1], NULL)) {
            drain_vips_error("thumbnail", r->path);
            return PV_IMAGE_CORRUPT;
        }
        r->img = t[1];
    }
    if (r->crop == VIPS_INTERESTING_NONE) {
        return PV_IMAGE_OK;
    }
    cw = VIPS_MIN(r->req->width, r->img->Xsize);
    ch = VIPS_MIN(r->req->height, r->img->Ysize);
    if (!(t[2] = vips_image_copy_memory(r->img))) {
        drain_vips_error("thumbnail", r->path);
        return PV_IMAGE_CORRUPT;
    }
    pipeline_take();
    if (vips_smartcrop(t[2], &t[3], cw, ch, "interesting", r->crop, NULL)) {
        drain_vips_error("thumbnail", r->path);
        rv = PV_IMAGE_CORRUPT;
    }
    pipeline_give();
    r->img = t[3];
    return rv;
}

/* An embedded profile's numbers into sRGB. libvips 8.14's thumbnail
 * converts a CMYK image (and leaves its profile attached: not to be
 * applied twice) but leaves RGB and grey numbers as they are: a Display P3
 * photo would show duller once its profile is stripped. A profile lcms
 * refuses leaves the numbers as they are, as before. */
static apr_status_t render_icc(render_t *r)
{
    VipsImage **t =
        (VipsImage **)vips_object_local_array(VIPS_OBJECT(r->scope), 1);

    if (!vips_image_get_typeof(r->img, VIPS_META_ICC_NAME) ||
        vips_image_get_interpretation(r->src.header) ==
            VIPS_INTERPRETATION_CMYK) {
        return PV_IMAGE_OK;
    }
    if (vips_icc_transform(r->img, &t[0], "srgb", "embedded", TRUE, "intent",
                           VIPS_INTENT_RELATIVE, NULL)) {
        drain_vips_error("icc_transform (profile not applied)", r->path);
        return PV_IMAGE_OK;
    }
    r->img = t[0];
    return PV_IMAGE_OK;
}

static apr_status_t render_colour(render_t *r)
{
    VipsImage **t = r->t;
    int colour_bands;

    /* sRGB out; grey stays grey, 16-bit becomes 8-bit. */
    colour_bands =
        vips_image_get_bands(r->img) - (vips_image_hasalpha(r->img) ? 1 : 0);
    if (render_icc(r) != PV_IMAGE_OK) {
        return PV_IMAGE_FAILED;
    }
    if (vips_colourspace(r->img, &t[2],
                         colour_bands < 3 ? VIPS_INTERPRETATION_B_W
                                          : VIPS_INTERPRETATION_sRGB,
                         NULL)) {
        drain_vips_error("colourspace", r->path);
        return PV_IMAGE_UNSUPPORTED;
    }
    r->img = t[2];

    /* JPEG has no alpha: flatten on white rather than let the saver drop
     * the band and show whatever colour transparent pixels hold. */
    if (r->req->format == PV_FORMAT_JPEG && vips_image_hasalpha(r->img)) {
        r->white = vips_array_double_newv(1, 255.0);
        if (vips_flatten(r->img, &t[3], "background", r->white, NULL)) {
            drain_vips_error("flatten", r->path);
            return PV_IMAGE_FAILED;
        }
        r->img = t[3];
    }
    return PV_IMAGE_OK;
}

static apr_status_t render_strip(render_t *r)
{
    if (strip_metadata(r->img, &r->t[4])) {
        drain_vips_error("strip", r->path);
        return PV_IMAGE_FAILED;
    }
    r->img = r->t[4];
    return PV_IMAGE_OK;
}

static apr_status_t render_save(render_t *r, apr_pool_t *p)
{
    const pv_render_req_t *req = r->req;
    int q = req->quality ? req->quality : PV_IMAGE_DEFAULT_QUALITY;
    deadline_watch_t *watch;

    /* Decoding really happens here (libvips is lazy): a truncated or
     * corrupt source fails now, with fail_on set, and the deadline is
     * watched tile by tile. */
    /* Past its deadline already (a slow header or load): the encode is not
     * started. An encoder that takes every pixel before its first output
     * (AVIF) may finish a small image before any "eval" signal comes. */
    if (req->time_limit > 0 && apr_time_now() >= r->start + req->time_limit) {
        return PV_IMAGE_DEADLINE;
    }
    watch = watch_deadline(r->img, req->time_limit, r->start, p);
    if (save_buffer(r->img, req->format, q, &r->buf, &r->len)) {
        drain_vips_error("save", r->path);
        return watch && g_atomic_int_get(&watch->killed) ? PV_IMAGE_DEADLINE
                                                         : PV_IMAGE_CORRUPT;
    }
    if (req->format == PV_FORMAT_WEBP && webp_strip_chunks(r->buf, &r->len)) {
        pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0,
                PVLOGNO(0404) "%s: unexpected WebP container", r->path);
        return PV_IMAGE_FAILED;
    }
    return PV_IMAGE_OK;
}

/* The encoded buffer handed to p, and what the client is told of it. */
static pv_image_out_t *render_output(render_t *r, apr_pool_t *p)
{
    pv_image_out_t *out = apr_pcalloc(p, sizeof(*out));

    out->data = r->buf;
    out->len = r->len;
    apr_pool_cleanup_register(p, r->buf, free_vips_buffer,
                              apr_pool_cleanup_null);
    r->buf = NULL;
    out->mime = pv_image_format_mime(r->req->format);
    out->width = vips_image_get_width(r->img);
    out->height = vips_image_get_height(r->img);
    out->has_alpha = vips_image_hasalpha(r->img) ? 1 : 0;
    out->source = r->info;
    return out;
}

/* A source the fast path takes (pv_fast_jpeg.h) rendered by it, libvips
 * only saving formats other than JPEG; APR_ENOTIMPL leaves it to
 * libvips' pipeline. */
static apr_status_t render_fast(render_t *r, pv_image_out_t **pout,
                                apr_pool_t *p)
{
    const pv_render_req_t *req = r->req;
    pv_image_out_t *out;
    pv_fast_out_t *f;
    apr_status_t rv;

    rv = pv_fast_jpeg_render(&f, r->src.fd, r->info, req, p);
    if (rv == APR_EINVAL) {
        pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0,
                PVLOGNO(1401) "%s: left to libvips by the JPEG fast path "
                              "(its decoder refused the file)",
                r->path);
        return APR_ENOTIMPL;
    }
    if (rv != APR_SUCCESS) {
        return rv == APR_ENOTIMPL ? rv : PV_IMAGE_FAILED;
    }
    pv_log_(PV_LOG_MARK, PV_LOG_DEBUG, 0,
            PVLOGNO(1400) "%s: rendered by the JPEG fast path (1/8 scale "
                          "DC decode) to %dx%d",
            r->path, f->width, f->height);
    if (req->time_limit > 0 && apr_time_now() >= r->start + req->time_limit) {
        return PV_IMAGE_DEADLINE;
    }
    if (f->pixels) {
        r->scope = vips_image_new();
        r->t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(r->scope), 8);
        if (!(r->t[0] = vips_image_new_from_memory(
                  f->pixels, (size_t)f->width * f->height * f->bands, f->width,
                  f->height, f->bands, VIPS_FORMAT_UCHAR)) ||
            vips_copy(r->t[0], &r->t[1], "interpretation",
                      f->bands == 1 ? VIPS_INTERPRETATION_B_W
                                    : VIPS_INTERPRETATION_sRGB,
                      NULL)) {
            drain_vips_error("fast", r->path);
            return PV_IMAGE_FAILED;
        }
        r->img = r->t[1];
        if ((rv = render_strip(r)) != PV_IMAGE_OK ||
            (rv = render_save(r, p)) != PV_IMAGE_OK) {
            return rv;
        }
        *pout = render_output(r, p);
        return PV_IMAGE_OK;
    }
    out = apr_pcalloc(p, sizeof(*out));
    out->data = f->data;
    out->len = f->len;
    out->mime = pv_image_format_mime(req->format);
    out->width = f->width;
    out->height = f->height;
    out->source = r->info;
    *pout = out;
    return PV_IMAGE_OK;
}

/* The pipeline from the source to the saver's input: built under
 * pipeline_lock, which render_finish() leaves for the pixels it
 * computes. */
static apr_status_t render_build(render_t *r, apr_pool_t *p)
{
    apr_status_t rv;

    /* the PNG fast path's decode is pixels: before the lock */
    render_png_decode(r, p);
    pipeline_take();
    rv = render_thumbnail(r);
    pipeline_give();
    if (rv != PV_IMAGE_OK || (rv = render_finish(r)) != PV_IMAGE_OK) {
        return rv;
    }
    pipeline_take();
    if ((rv = render_colour(r)) == PV_IMAGE_OK) {
        rv = render_strip(r);
    }
    pipeline_give();
    return rv;
}

/* The JPEG fast path declined a file its header let it take: libvips'
 * estimate of the render, within the bound, and the caller's budget
 * grown to it. */
static apr_status_t render_fallback_memory(render_t *r)
{
    const pv_render_req_t *req = r->req;

    if (!r->est->jpeg_fast) {
        return PV_IMAGE_OK;
    }
    if (r->est->fallback > (req->limits.max_memory
                                ? req->limits.max_memory
                                : PV_IMAGE_DEFAULT_MAX_MEMORY)) {
        return PV_IMAGE_TOO_BIG;
    }
    if (req->grow &&
        req->grow(req->grow_baton, r->est->fallback) != APR_SUCCESS) {
        return PV_IMAGE_BUSY;
    }
    return PV_IMAGE_OK;
}

apr_status_t pv_image_render(pv_image_out_t **pout, const char *path,
                             const pv_render_req_t *req, apr_pool_t *p)
{
    render_t r;
    apr_status_t rv;

    memset(&r, 0, sizeof(r));
    r.src.fd = -1;
    r.path = path;
    r.req = req;
    r.info = apr_pcalloc(p, sizeof(*r.info));
    r.start = apr_time_now();
    if ((rv = render_check(req)) != PV_IMAGE_OK ||
        (rv = render_open(&r, p)) != PV_IMAGE_OK ||
        (rv = render_fast(&r, pout, p)) != APR_ENOTIMPL) {
        r.fast = 1;
        goto cleanup;
    }
    if ((rv = render_fallback_memory(&r)) != PV_IMAGE_OK ||
        (rv = render_build(&r, p)) != PV_IMAGE_OK ||
        (rv = render_save(&r, p)) != PV_IMAGE_OK) {
        goto cleanup;
    }
    *pout = render_output(&r, p);

cleanup:
    g_free(r.buf);
    if (r.white) {
        vips_area_unref(VIPS_AREA(r.white));
    }
    /* the pipeline's operations, and their orc programs, go here */
    pipeline_take();
    VIPS_UNREF(r.scope);
    src_close(&r.src);
    pipeline_give();
    /* Hand the arenas' free pages (decoder strips, libvips regions) back
     * now, so that a thread's idle heap does not hold its last render;
     * the fast path's large blocks are mappings of their own, already
     * gone. */
    if (!r.fast) {
        malloc_trim(0);
    }
    return rv;
}
