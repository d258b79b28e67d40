/* pv_image: probe limits, render sizes, rotation, metadata stripping,
 * alpha, refusals, and no leaks. Fixtures are made at run time with
 * libvips itself (no binary file in the repository), in a temp dir. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <orc/orc.h>
#include <vips/vips.h>
#include <vips/vector.h>

#include "pv_image.h"
#include "image_tests.h"

static char fixdir[256];
static apr_pool_t *pool;

static const char *fx(const char *name)
{
    return apr_pstrcat(pool, fixdir, "/", name, NULL);
}

/* ---- fixtures (made in a child process, see suite_fixtures_make) ---- */

static void die_vips(const char *what)
{
    fprintf(stderr, "fixture %s: %s\n", what, vips_error_buffer());
    _exit(2);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fixture: cannot write %s\n", path);
        _exit(2);
    }
}

static const char xmp[] =
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
    "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
    "<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
    "dc:creator=\"SecretXmpCreator\"/></rdf:RDF></x:xmpmeta>";

/* A 4032x3024 photo-like JPEG (blurred noise) as a phone stores it: the
 * sensor's landscape pixels plus EXIF orientation 6, GPS, maker, XMP and
 * an ICC profile. A white block marks the stored top-left corner. */
static void make_photo(const char *dir)
{
    VipsImage *base = vips_image_new();
    VipsImage **t =
        (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 10);
    VipsBlob *icc = NULL;
    char path[512];

    if (vips_gaussnoise(&t[0], 4032, 3024, "mean", 110.0, "sigma", 40.0,
                        NULL) ||
        vips_gaussblur(t[0], &t[1], 3.0, NULL) ||
        vips_cast_uchar(t[1], &t[2], NULL) ||
        vips_black(&t[3], 600, 600, NULL) ||
        vips_linear1(t[3], &t[4], 1.0, 255.0, "uchar", TRUE, NULL) ||
        vips_insert(t[2], t[4], &t[5], 0, 0, NULL) ||
        vips_bandjoin_const1(t[5], &t[6], 0.0, NULL) ||
        vips_bandjoin_const1(t[6], &t[7], 0.0, NULL) ||
        vips_copy(t[7], &t[8], "interpretation", VIPS_INTERPRETATION_sRGB,
                  NULL)) {
        die_vips("photo");
    }
    /* bands: grey noise in R, 0 in G and B; the white block is red */
    vips_image_set_int(t[8], "orientation", 6);
    vips_image_set_string(t[8], "exif-ifd0-Make", "SecretMaker");
    vips_image_set_string(t[8], "exif-ifd3-GPSLatitudeRef", "N");
    vips_image_set_string(t[8], "exif-ifd3-GPSLatitude", "51/1 30/1 1234/100");
    vips_image_set_string(t[8], "exif-ifd3-GPSLongitudeRef", "W");
    vips_image_set_string(t[8], "exif-ifd3-GPSLongitude", "0/1 7/1 3900/100");
    vips_image_set_blob_copy(t[8], "xmp-data", xmp, sizeof(xmp) - 1);
    if (vips_profile_load("srgb", &icc, NULL) == 0) {
        size_t n;
        const void *d = vips_blob_get(icc, &n);
        vips_image_set_blob_copy(t[8], "icc-profile-data", d, n);
        vips_area_unref(VIPS_AREA(icc));
    }
    snprintf(path, sizeof(path), "%s/photo.jpg", dir);
    if (vips_jpegsave(t[8], path, "Q", 85, NULL)) {
        die_vips("photo save");
    }
    g_object_unref(base);
}

static void make_small_and_alpha(const char *dir)
{
    VipsImage *base = vips_image_new();
    VipsImage **t =
        (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 16);
    char path[512];
    double red[3] = {255, 0, 0};

    /* 100x80 JPEG, no orientation */
    if (vips_gaussnoise(&t[0], 100, 80, NULL) ||
        vips_cast_uchar(t[0], &t[1], NULL) ||
        vips_colourspace(t[1], &t[2], VIPS_INTERPRETATION_sRGB, NULL)) {
        die_vips("small");
    }
    snprintf(path, sizeof(path), "%s/small.jpg", dir);
    if (vips_jpegsave(t[2], path, NULL)) {
        die_vips("small save");
    }
    /* 300x200 RGBA: left half transparent black, right half opaque red */
    if (vips_black(&t[3], 300, 200, "bands", 3, NULL) ||
        vips_linear(t[3], &t[4], (double[]){1, 1, 1}, red, 3, "uchar", TRUE,
                    NULL) ||
        vips_black(&t[5], 150, 200, "bands", 3, NULL) ||
        vips_cast_uchar(t[5], &t[6], NULL) ||
        vips_insert(t[4], t[6], &t[7], 0, 0, NULL) ||
        vips_black(&t[8], 300, 200, NULL) ||
        vips_linear1(t[8], &t[9], 1.0, 255.0, "uchar", TRUE, NULL) ||
        vips_black(&t[10], 150, 200, NULL) ||
        vips_cast_uchar(t[10], &t[11], NULL) ||
        vips_insert(t[9], t[11], &t[12], 0, 0, NULL) ||
        vips_bandjoin2(t[7], t[12], &t[13], NULL) ||
        vips_copy(t[13], &t[14], "interpretation", VIPS_INTERPRETATION_sRGB,
                  NULL)) {
        die_vips("alpha");
    }
    snprintf(path, sizeof(path), "%s/alpha.png", dir);
    if (vips_pngsave(t[14], path, NULL)) {
        die_vips("alpha save");
    }
    /* grey JPEG: stays one band */
    snprintf(path, sizeof(path), "%s/grey.jpg", dir);
    if (vips_jpegsave(t[1], path, NULL)) {
        die_vips("grey save");
    }
    /* AVIF input (heifload), when libheif has an AV1 encoder here */
    snprintf(path, sizeof(path), "%s/small.avif", dir);
    if (vips_heifsave(t[2], path, "compression",
                      VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL)) {
        vips_error_clear();
    }
    /* the same pixels as TIFF: a format outside the allow-list */
    snprintf(path, sizeof(path), "%s/photo.tif", dir);
    if (vips_tiffsave(t[2], path, NULL)) {
        die_vips("tiff save");
    }
    /* PPM: an untrusted loader */
    snprintf(path, sizeof(path), "%s/small.ppm", dir);
    if (vips_ppmsave(t[2], path, NULL)) {
        die_vips("ppm save");
    }
    g_object_unref(base);
}

/* A 3-frame 100x100 GIF: 30000 pixels over its pages. */
static void make_gif(const char *dir)
{
    VipsImage *base = vips_image_new();
    VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 4);
    char path[512];

    if (vips_gaussnoise(&t[0], 100, 300, NULL) ||
        vips_cast_uchar(t[0], &t[1], NULL) ||
        vips_colourspace(t[1], &t[2], VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_copy(t[2], &t[3], NULL)) {
        die_vips("gif");
    }
    vips_image_set_int(t[3], "page-height", 100);
    snprintf(path, sizeof(path), "%s/anim.gif", dir);
    if (vips_gifsave(t[3], path, NULL)) {
        die_vips("gif save");
    }
    g_object_unref(base);
}

static apr_uint32_t crc32_update(apr_uint32_t crc, const unsigned char *b,
                                 size_t n)
{
    size_t i;
    int k;

    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= b[i];
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

static size_t png_chunk(unsigned char *out, const char *type,
                        const unsigned char *data, apr_uint32_t len)
{
    apr_uint32_t crc;

    out[0] = len >> 24;
    out[1] = len >> 16;
    out[2] = len >> 8;
    out[3] = len;
    memcpy(out + 4, type, 4);
    if (len) {
        memcpy(out + 8, data, len);
    }
    crc = crc32_update(0, out + 4, len + 4);
    out[8 + len] = crc >> 24;
    out[9 + len] = crc >> 16;
    out[10 + len] = crc >> 8;
    out[11 + len] = crc;
    return 12 + len;
}

/* A decompression bomb's header: a 20000x20000 1-bit PNG of 200 bytes
 * whose IDAT holds the zlib start of its zero rows. Building the full
 * stream takes seconds; the header is all the probe may look at. */
static void make_bomb(const char *dir)
{
    static const unsigned char sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 1, 0};
    /* zlib header, then a stored block of 16 zero bytes (not final) */
    unsigned char idat[2 + 5 + 16] = {0x78, 0x01, 0x00, 0x10, 0x00, 0xef, 0xff};
    unsigned char buf[256];
    size_t n = 0;
    char path[512];

    memcpy(buf, sig, 8);
    n = 8;
    n += png_chunk(buf + n, "IHDR", ihdr, sizeof(ihdr));
    n += png_chunk(buf + n, "IDAT", idat, sizeof(idat));
    n += png_chunk(buf + n, "IEND", NULL, 0);
    snprintf(path, sizeof(path), "%s/bomb.png", dir);
    write_file(path, buf, n);
}

static void make_others(const char *dir)
{
    char path[512], src[512];
    static const char text[] = "hello, this is not an image\n";
    FILE *f;
    char *data;
    long len;

    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    write_file(path, text, sizeof(text) - 1);
    /* a matrix file: libvips' matrixload is trusted but not ours */
    snprintf(path, sizeof(path), "%s/matrix.mat", dir);
    write_file(path, "2 2\n1 2\n3 4\n", 12);

    /* the photo cut in half: the header is whole, the scan is not */
    snprintf(src, sizeof(src), "%s/photo.jpg", dir);
    f = fopen(src, "rb");
    if (!f) {
        _exit(2);
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(len);
    if (!data || fread(data, 1, len, f) != (size_t)len) {
        _exit(2);
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/truncated.jpg", dir);
    write_file(path, data, len / 2);
    /* and a copy whose entropy-coded data is garbage from 40% on */
    memset(data + len * 2 / 5, 0x5a, len / 10);
    snprintf(path, sizeof(path), "%s/garbage.jpg", dir);
    write_file(path, data, len);
    free(data);

    /* a PNG of noise cut in half: libpng reads "not enough data" */
    {
        VipsImage *n = NULL, *u = NULL;
        void *buf = NULL;
        size_t blen = 0;

        if (vips_gaussnoise(&n, 300, 200, NULL) ||
            vips_cast_uchar(n, &u, NULL) ||
            vips_pngsave_buffer(u, &buf, &blen, NULL)) {
            die_vips("noise png");
        }
        snprintf(path, sizeof(path), "%s/truncated.png", dir);
        write_file(path, buf, blen / 2);
        g_free(buf);
        g_object_unref(u);
        g_object_unref(n);
    }

    snprintf(path, sizeof(path), "%s/fifo.jpg", dir);
    mkfifo(path, 0600);
    snprintf(path, sizeof(path), "%s/subdir", dir);
    mkdir(path, 0700);
}

static void make_fixtures(const char *dir)
{
    if (VIPS_INIT("test_image")) {
        die_vips("init");
    }
    make_photo(dir);
    make_small_and_alpha(dir);
    make_gif(dir);
    make_bomb(dir);
    make_others(dir);
    _exit(0);
}

/* ---- helpers ---- */

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(pv_image_init(1), PV_IMAGE_OK);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reload a rendered preview with libvips (header and pixels). */
static VipsImage *reload(const pv_image_out_t *o)
{
    VipsImage *im = vips_image_new_from_buffer(o->data, o->len, "", NULL);

    ck_assert_msg(im != NULL, "reload: %s", vips_error_buffer());
    return im;
}

static int memfind(const unsigned char *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle), i;

    for (i = 0; i + nn <= hn; i++) {
        if (memcmp(h + i, needle, nn) == 0) {
            return 1;
        }
    }
    return 0;
}

static double pixel(VipsImage *im, int x, int y, int band)
{
    double *v = NULL;
    int n = 0;
    double r;

    ck_assert_int_eq(vips_getpoint(im, &v, &n, x, y, NULL), 0);
    ck_assert_int_gt(n, band);
    r = v[band];
    g_free(v);
    return r;
}

static void *count_object(void *item, void *a, void *b)
{
    (void)item;
    (void)b;
    (*(int *)a)++;
    return NULL;
}

static int live_objects(void)
{
    int n = 0;

    vips_object_map(count_object, &n, NULL);
    return n;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        n++;
    }
    closedir(d);
    return n;
}

/* ---- tests ---- */

START_TEST(status_strings)
{
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_OK), "ok");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_NOT_FOUND), "not found");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_TOO_BIG), "too big");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_UNSUPPORTED), "unsupported");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_CORRUPT), "corrupt");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_BAD_REQUEST), "bad request");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_DEADLINE),
                     "past its deadline");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_NO_ENCODER), "no encoder");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_FAILED), "failed");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_BUSY),
                     "no memory to render it");
    ck_assert_str_eq(pv_image_status_str(APR_EGENERAL), "unknown");
    /* the neighbours of the range are no statuses */
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_STATUS_BASE), "unknown");
    ck_assert_str_eq(pv_image_status_str(PV_IMAGE_BUSY + 1), "unknown");
    ck_assert_int_ne(PV_IMAGE_NOT_FOUND, APR_ENOENT);
    ck_assert_str_eq(pv_image_format_mime(PV_FORMAT_WEBP), "image/webp");
    ck_assert_str_eq(pv_image_format_mime(PV_FORMAT_AVIF), "image/avif");
    ck_assert_str_eq(pv_image_format_name(PV_FORMAT_PNG), "png");
    ck_assert_ptr_null(pv_image_format_mime((pv_image_format_e)7));
    ck_assert_int_eq(pv_image_format_available(PV_FORMAT_JPEG), 1);
    ck_assert_int_eq(pv_image_format_available(PV_FORMAT_PNG), 1);
    ck_assert_int_eq(pv_image_format_available(PV_FORMAT_WEBP), 1);
}
END_TEST

/* The one format vocabulary: names both ways, and the bits of a set. */
START_TEST(format_names)
{
    static const char *names[] = {"jpeg", "webp", "avif", "png"};
    pv_image_format_e f = PV_FORMAT_PNG;
    int i;

    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(
            pv_image_format_parse(&f, names[i], strlen(names[i]), 0),
            APR_SUCCESS);
        ck_assert_int_eq(f, i);
        ck_assert_str_eq(pv_image_format_name(f), names[i]);
    }
    /* the URL's spelling: lower case, no alias, exact length */
    f = PV_FORMAT_PNG;
    ck_assert_int_eq(pv_image_format_parse(&f, "JPEG", 4, 0), APR_EINVAL);
    ck_assert_int_eq(pv_image_format_parse(&f, "jpg", 3, 0), APR_EINVAL);
    ck_assert_int_eq(pv_image_format_parse(&f, "jpegx", 5, 0), APR_EINVAL);
    ck_assert_int_eq(pv_image_format_parse(&f, "jpeg", 3, 0), APR_EINVAL);
    ck_assert_int_eq(pv_image_format_parse(&f, "", 0, 0), APR_EINVAL);
    ck_assert_int_eq(pv_image_format_parse(&f, "auto", 4, 0), APR_EINVAL);
    ck_assert_int_eq(f, PV_FORMAT_PNG);
    /* a directive's: any case, jpg */
    ck_assert_int_eq(pv_image_format_parse(&f, "JpG", 3, PV_FORMAT_NAME_LOOSE),
                     APR_SUCCESS);
    ck_assert_int_eq(f, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_format_parse(&f, "AVIF", 4, PV_FORMAT_NAME_LOOSE),
                     APR_SUCCESS);
    ck_assert_int_eq(f, PV_FORMAT_AVIF);
    ck_assert_int_eq(pv_image_format_parse(&f, "gif", 3, PV_FORMAT_NAME_LOOSE),
                     APR_EINVAL);
    /* the bits the directive, the query and the negotiation share */
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_JPEG), 1);
    ck_assert_int_eq(PV_FORMAT_BIT(PV_FORMAT_PNG), 8);
    ck_assert_int_eq(PV_FORMATS_ALL, 15);
    ck_assert_int_eq(PV_FORMATS_DEFAULT, 11);
}
END_TEST

START_TEST(probe_photo)
{
    pv_image_info_t *info = NULL;
    struct stat st;

    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(stat(fx("photo.jpg"), &st), 0);
    ck_assert_int_eq(info->raw_width, 4032);
    ck_assert_int_eq(info->raw_height, 3024);
    ck_assert_int_eq(info->width, 3024);
    ck_assert_int_eq(info->height, 4032);
    ck_assert_int_eq(info->orientation, 6);
    ck_assert_int_eq(info->n_pages, 1);
    ck_assert_int_eq(info->has_alpha, 0);
    ck_assert_str_eq(info->loader, "jpegload");
    ck_assert_int_eq(info->size, st.st_size);
    ck_assert_uint_eq(info->inode, st.st_ino);
    ck_assert_int_eq(apr_time_sec(info->mtime), st.st_mtime);
}
END_TEST

START_TEST(probe_kinds)
{
    pv_image_info_t *info = NULL;

    ck_assert_int_eq(pv_image_probe(&info, fx("alpha.png"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_str_eq(info->loader, "pngload");
    ck_assert_int_eq(info->has_alpha, 1);
    ck_assert_int_eq(info->orientation, 1);
    ck_assert_int_eq(info->width, 300);
    ck_assert_int_eq(info->height, 200);

    ck_assert_int_eq(pv_image_probe(&info, fx("anim.gif"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_str_eq(info->loader, "gifload");
    ck_assert_int_eq(info->n_pages, 3);
    ck_assert_int_eq(info->width, 100);
    ck_assert_int_eq(info->height, 100);
}
END_TEST

/* The headline case: default 256 box, phone photo with orientation 6. */
START_TEST(render_photo_default)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_out_t *o = NULL;
    VipsImage *im;

    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 192);
    ck_assert_int_eq(o->height, 256);
    ck_assert_str_eq(o->mime, "image/jpeg");
    ck_assert_int_eq(o->source->orientation, 6);
    ck_assert_msg(o->len > 300 && o->len < 200000, "len %zu", o->len);
    ck_assert(o->data[0] == 0xff && o->data[1] == 0xd8);

    im = reload(o);
    ck_assert_int_eq(im->Xsize, 192);
    ck_assert_int_eq(im->Ysize, 256);
    ck_assert_int_eq(im->Bands, 3);
    /* stored top-left (the red block) is displayed top-right after a
     * 90 degree clockwise turn */
    ck_assert(pixel(im, 191 - 5, 5, 0) > 220);
    ck_assert(pixel(im, 5, 5, 0) < 200);
    ck_assert(pixel(im, 191 - 5, 255 - 5, 0) < 200);
    /* nothing but pixels came through */
    ck_assert_int_eq(vips_image_get_typeof(im, "exif-data"), 0);
    ck_assert_int_eq(vips_image_get_typeof(im, "xmp-data"), 0);
    ck_assert_int_eq(vips_image_get_typeof(im, "iptc-data"), 0);
    ck_assert_int_eq(vips_image_get_typeof(im, "icc-profile-data"), 0);
    ck_assert_int_eq(vips_image_get_typeof(im, "exif-ifd3-GPSLatitude"), 0);
    ck_assert_int_eq(vips_image_get_orientation(im), 1);
    g_object_unref(im);
    ck_assert(!memfind(o->data, o->len, "Exif"));
    ck_assert(!memfind(o->data, o->len, "GPS"));
    ck_assert(!memfind(o->data, o->len, "SecretMaker"));
    ck_assert(!memfind(o->data, o->len, "SecretXmpCreator"));
    ck_assert(!memfind(o->data, o->len, "http://ns.adobe.com/xap"));
    ck_assert(!memfind(o->data, o->len, "ICC_PROFILE"));
    /* the fixture really had them */
    {
        int fd = open(fx("photo.jpg"), O_RDONLY);
        unsigned char head[65536];
        ssize_t n = read(fd, head, sizeof(head));
        close(fd);
        ck_assert(n > 0);
        ck_assert(memfind(head, n, "Exif"));
        ck_assert(memfind(head, n, "SecretMaker"));
        ck_assert(memfind(head, n, "SecretXmpCreator"));
        ck_assert(memfind(head, n, "ICC_PROFILE"));
    }
}
END_TEST

START_TEST(render_photo_other_formats)
{
    static const pv_image_format_e fmts[] = {PV_FORMAT_WEBP, PV_FORMAT_PNG};
    size_t i;

    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, fmts[i]);
        pv_image_out_t *o = NULL;
        VipsImage *im;

        ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                         PV_IMAGE_OK);
        ck_assert_str_eq(o->mime, pv_image_format_mime(fmts[i]));
        im = reload(o);
        ck_assert_int_eq(im->Xsize, 192);
        ck_assert_int_eq(im->Ysize, 256);
        ck_assert_int_eq(vips_image_get_typeof(im, "exif-data"), 0);
        ck_assert_int_eq(vips_image_get_typeof(im, "xmp-data"), 0);
        ck_assert_int_eq(vips_image_get_typeof(im, "icc-profile-data"), 0);
        ck_assert(pixel(im, 191 - 5, 5, 0) > 220);
        g_object_unref(im);
        ck_assert(!memfind(o->data, o->len, "Exif"));
        ck_assert(!memfind(o->data, o->len, "SecretMaker"));
        ck_assert(!memfind(o->data, o->len, "SecretXmpCreator"));
    }
}
END_TEST

START_TEST(render_avif)
{
    pv_render_req_t r = req_box(64, 64, PV_FIT_INSIDE, PV_FORMAT_AVIF);
    pv_image_out_t *o = NULL;
    VipsImage *im;

    if (!pv_image_format_available(PV_FORMAT_AVIF)) {
        ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                         PV_IMAGE_NO_ENCODER);
        return;
    }
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_str_eq(o->mime, "image/avif");
    ck_assert(memfind(o->data, 32, "ftypavif"));
    ck_assert(!memfind(o->data, o->len, "Exif"));
    im = reload(o);
    ck_assert_int_eq(im->Xsize, 48);
    ck_assert_int_eq(im->Ysize, 64);
    g_object_unref(im);
}
END_TEST

START_TEST(render_cover_exact)
{
    pv_render_req_t r = req_box(128, 128, PV_FIT_COVER, PV_FORMAT_JPEG);
    pv_image_out_t *o = NULL;
    VipsImage *im;

    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 128);
    ck_assert_int_eq(o->height, 128);
    im = reload(o);
    ck_assert_int_eq(im->Xsize, 128);
    ck_assert_int_eq(im->Ysize, 128);
    g_object_unref(im);

    r = req_box(300, 100, PV_FIT_COVER, PV_FORMAT_WEBP);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 300);
    ck_assert_int_eq(o->height, 100);
}
END_TEST

START_TEST(render_one_side)
{
    pv_render_req_t r = req_box(120, 0, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_out_t *o = NULL;

    /* displayed 3024x4032: 120 wide is 160 high */
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 120);
    ck_assert_int_eq(o->height, 160);

    r = req_box(0, 400, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 300);
    ck_assert_int_eq(o->height, 400);

    /* cover with one side is inside: nothing to crop against */
    r = req_box(120, 0, PV_FIT_COVER, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 120);
    ck_assert_int_eq(o->height, 160);
}
END_TEST

START_TEST(render_never_upscales)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_out_t *o = NULL;

    ck_assert_int_eq(pv_image_render(&o, fx("small.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 100);
    ck_assert_int_eq(o->height, 80);

    r = req_box(2048, 0, PV_FIT_INSIDE, PV_FORMAT_PNG);
    ck_assert_int_eq(pv_image_render(&o, fx("small.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 100);
    ck_assert_int_eq(o->height, 80);

    /* cover crops to the box but never grows the source */
    r = req_box(128, 128, PV_FIT_COVER, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("small.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 100);
    ck_assert_int_eq(o->height, 80);

    /* a box just under the photo: the JPEG shrink must not undershoot */
    r = req_box(3000, 4000, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 3000);
    ck_assert_int_eq(o->height, 4000);
}
END_TEST

START_TEST(render_alpha)
{
    pv_render_req_t r = req_box(150, 150, PV_FIT_INSIDE, PV_FORMAT_PNG);
    pv_image_out_t *o = NULL;
    VipsImage *im;

    ck_assert_int_eq(pv_image_render(&o, fx("alpha.png"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 150);
    ck_assert_int_eq(o->height, 100);
    ck_assert_int_eq(o->has_alpha, 1);
    im = reload(o);
    ck_assert_int_eq(im->Bands, 4);
    ck_assert(pixel(im, 10, 50, 3) < 1);
    ck_assert(pixel(im, 140, 50, 3) > 254);
    ck_assert(pixel(im, 140, 50, 0) > 250);
    g_object_unref(im);

    r.format = PV_FORMAT_WEBP;
    ck_assert_int_eq(pv_image_render(&o, fx("alpha.png"), &r, pool),
                     PV_IMAGE_OK);
    im = reload(o);
    ck_assert_int_eq(im->Bands, 4);
    ck_assert(pixel(im, 10, 50, 3) < 1);
    g_object_unref(im);

    /* JPEG: flattened on white, not on whatever transparent pixels hold */
    r.format = PV_FORMAT_JPEG;
    ck_assert_int_eq(pv_image_render(&o, fx("alpha.png"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->has_alpha, 0);
    im = reload(o);
    ck_assert_int_eq(im->Bands, 3);
    ck_assert(pixel(im, 10, 50, 0) > 245);
    ck_assert(pixel(im, 10, 50, 1) > 245);
    ck_assert(pixel(im, 140, 50, 1) < 10);
    g_object_unref(im);
}
END_TEST

START_TEST(render_gif_first_frame)
{
    pv_render_req_t r = req_box(64, 64, PV_FIT_INSIDE, PV_FORMAT_PNG);
    pv_image_out_t *o = NULL;

    ck_assert_int_eq(pv_image_render(&o, fx("anim.gif"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 64);
    ck_assert_int_eq(o->height, 64);
}
END_TEST

START_TEST(render_grey_and_avif_input)
{
    pv_render_req_t r = req_box(50, 50, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_info_t *info = NULL;
    pv_image_out_t *o = NULL;
    VipsImage *im;

    ck_assert_int_eq(pv_image_render(&o, fx("grey.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 50);
    ck_assert_int_eq(o->height, 40);
    im = reload(o);
    ck_assert_int_eq(im->Bands, 1);
    g_object_unref(im);

    if (access(fx("small.avif"), R_OK) != 0) {
        return; /* no AV1 encoder to make the fixture with */
    }
    ck_assert_int_eq(pv_image_probe(&info, fx("small.avif"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_str_eq(info->loader, "heifload");
    ck_assert_int_eq(info->width, 100);
    ck_assert_int_eq(info->height, 80);
    r.format = PV_FORMAT_PNG;
    ck_assert_int_eq(pv_image_render(&o, fx("small.avif"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 50);
    ck_assert_int_eq(o->height, 40);
}
END_TEST

/* A render a thread's job asks for: the source, the box, the format, the
 * size out (oh 0: any height). */
typedef struct {
    const char *path;
    int w, h, cover, ow, oh;
    pv_image_format_e f;
} render_case_t;

typedef struct {
    const render_case_t *cases;
    size_t n;
    int rounds, seed;
    int ok;
} render_job_t;

/* The job's rounds, case (round + seed) mod n each, in a pool of the
 * thread's own (the paths made before: a pool is one thread's). */
static void *render_thread(void *arg)
{
    render_job_t *job = arg;
    apr_pool_t *p;
    int i;

    apr_pool_create_unmanaged(&p);
    job->ok = 1;
    for (i = 0; i < job->rounds; i++) {
        const render_case_t *c = &job->cases[(size_t)(i + job->seed) % job->n];
        pv_render_req_t r =
            req_box(c->w, c->h, c->cover ? PV_FIT_COVER : PV_FIT_INSIDE, c->f);
        pv_image_out_t *o = NULL;

        if (pv_image_render(&o, c->path, &r, p) != PV_IMAGE_OK ||
            o->width != c->ow || (c->oh && o->height != c->oh)) {
            job->ok = 0;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

/* Runs the jobs in a thread each; every one rendered all its cases. */
static void run_render_jobs(render_job_t *jobs, int n)
{
    pthread_t th[8];
    int i;

    ck_assert_int_le(n, 8);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, render_thread, &jobs[i]),
                         0);
    }
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(jobs[i].ok, "thread %d failed", i);
    }
}

/* liborc's compile and free as libvips calls them, through its PLT (the
 * test binary's definitions come first): counted, any call outside the
 * render's lock noted, then passed on to liborc's own. */
static OrcCompileResult (*real_orc_compile)(OrcProgram *);
static void (*real_orc_free)(OrcProgram *);
static int orc_calls, orc_unlocked;

__attribute__((constructor)) static void orc_watch_init(void)
{
    *(void **)&real_orc_compile = dlsym(RTLD_NEXT, "orc_program_compile");
    *(void **)&real_orc_free = dlsym(RTLD_NEXT, "orc_program_free");
}

static void orc_seen(void)
{
    __atomic_add_fetch(&orc_calls, 1, __ATOMIC_RELAXED);
    if (!pv_image_pipeline_held()) {
        __atomic_add_fetch(&orc_unlocked, 1, __ATOMIC_RELAXED);
    }
}

OrcCompileResult orc_program_compile(OrcProgram *program)
{
    orc_seen();
    return real_orc_compile(program);
}

void orc_program_free(OrcProgram *program)
{
    orc_seen();
    real_orc_free(program);
}

/* Every orc program of libvips' paths of a render (shrink-on-load and
 * reduce, turned upright, cover crops by attention, a PNG, WebP out), in
 * four threads at once, over and over, is compiled and freed under the
 * render's lock (pv_image.c: liborc 0.4.33 corrupts its code memory
 * otherwise), and there are such programs: orc is on. */
START_TEST(render_orc_locked)
{
    render_case_t cases[] = {
        {"photo.jpg", 600, 0, 0, 600, 800, PV_FORMAT_JPEG},
        {"photo.jpg", 200, 150, 1, 200, 150, PV_FORMAT_JPEG},
        {"photo.jpg", 90, 160, 1, 90, 160, PV_FORMAT_WEBP},
        {"alpha.png", 37, 0, 0, 37, 0, PV_FORMAT_PNG},
        {"alpha.png", 30, 30, 1, 30, 30, PV_FORMAT_JPEG},
        {"small.jpg", 70, 0, 0, 70, 0, PV_FORMAT_JPEG},
    };
    const size_t n = sizeof(cases) / sizeof(*cases);
    render_job_t jobs[4];
    size_t c;
    int i;

    ck_assert_msg(vips_vector_isenabled(), "orc is off");
    ck_assert_ptr_nonnull(real_orc_compile);
    ck_assert_ptr_nonnull(real_orc_free);
    for (c = 0; c < n; c++) {
        cases[c].path = fx(cases[c].path);
    }
    for (i = 0; i < 4; i++) {
        render_job_t j = {cases, n, 12, i, 0};
        jobs[i] = j;
    }
    __atomic_store_n(&orc_calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&orc_unlocked, 0, __ATOMIC_RELAXED);
    run_render_jobs(jobs, 4);
    ck_assert_int_gt(__atomic_load_n(&orc_calls, __ATOMIC_RELAXED), 40);
    ck_assert_int_eq(__atomic_load_n(&orc_unlocked, __ATOMIC_RELAXED), 0);
    ck_assert(!pv_image_pipeline_held());
}
END_TEST

/* Renders in several threads at once (a worker MPM's case), with orc on
 * (its programs compiled and freed under the render's lock: see
 * render_orc_locked). */
START_TEST(render_threads)
{
    render_case_t cases[] = {
        {"photo.jpg", 128, 128, 1, 128, 128, PV_FORMAT_JPEG},
        {"photo.jpg", 128, 128, 1, 128, 128, PV_FORMAT_WEBP},
        {"alpha.png", 128, 128, 1, 128, 128, PV_FORMAT_PNG},
        {"alpha.png", 128, 128, 1, 128, 128, PV_FORMAT_JPEG}};
    render_job_t jobs[4];
    int i;

    ck_assert_int_eq(pv_image_init(1), PV_IMAGE_OK);
    ck_assert_msg(vips_vector_isenabled(), "orc is off");
    for (i = 0; i < 4; i++) {
        render_job_t j = {&cases[i], 1, 3, 0, 0};
        cases[i].path = fx(cases[i].path);
        jobs[i] = j;
    }
    run_render_jobs(jobs, 4);
}
END_TEST

/* A deadline already passed at the first tile stops the pipeline through
 * libvips' eval signal and kill flag, for every saver: no output. No
 * deadline, or a far one, renders; a killed render leaves libvips fit for
 * the next one. */
START_TEST(render_deadline)
{
    static const pv_image_format_e fmts[] = {PV_FORMAT_JPEG, PV_FORMAT_WEBP,
                                             PV_FORMAT_PNG, PV_FORMAT_AVIF};
    pv_image_out_t *o;
    size_t i;

    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        pv_render_req_t r = req_box(1024, 1024, PV_FIT_INSIDE, fmts[i]);

        if (!pv_image_format_available(fmts[i])) {
            continue;
        }
        o = NULL;
        r.time_limit = 1; /* one microsecond: past at the first tile */
        ck_assert_msg(pv_image_render(&o, fx("photo.jpg"), &r, pool) ==
                          PV_IMAGE_DEADLINE,
                      "%s not stopped", pv_image_format_name(fmts[i]));
        ck_assert_ptr_null(o);
        r.time_limit = apr_time_from_sec(600);
        ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                         PV_IMAGE_OK);
        ck_assert_int_eq(o->width, 768);
        ck_assert_int_eq(o->height, 1024);
    }
    {
        pv_render_req_t r = req_box(1024, 1024, PV_FIT_COVER, PV_FORMAT_JPEG);

        o = NULL;
        r.time_limit = 0; /* no bound */
        ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                         PV_IMAGE_OK);
        ck_assert_int_eq(o->width, 1024);
    }
}
END_TEST

START_TEST(bomb_refused_fast)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_info_t *info = NULL;
    pv_image_out_t *o = NULL;
    struct stat st;
    double t0, dt;

    ck_assert_int_eq(stat(fx("bomb.png"), &st), 0);
    ck_assert(st.st_size < 4096);
    t0 = now_s();
    ck_assert_int_eq(pv_image_probe(&info, fx("bomb.png"), NULL, pool),
                     PV_IMAGE_TOO_BIG);
    ck_assert_int_eq(pv_image_render(&o, fx("bomb.png"), &r, pool),
                     PV_IMAGE_TOO_BIG);
    dt = now_s() - t0;
    ck_assert_msg(dt < 0.1, "bomb took %.3f s", dt);
    ck_assert_ptr_null(info);
    ck_assert_ptr_null(o);

    /* 400 M pixels pass a 500 M limit: the header was read fine */
    r.limits.max_pixels = 500000000;
    ck_assert_int_eq(pv_image_probe(&info, fx("bomb.png"), &r.limits, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(info->width, 20000);
    ck_assert_int_eq(info->height, 20000);
}
END_TEST

START_TEST(limits)
{
    pv_image_limits_t lim;
    pv_image_info_t *info = NULL;
    pv_render_req_t r = req_box(64, 64, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_out_t *o = NULL;
    struct stat st;

    ck_assert_int_eq(stat(fx("photo.jpg"), &st), 0);
    memset(&lim, 0, sizeof(lim));
    lim.max_bytes = st.st_size - 1;
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg"), &lim, pool),
                     PV_IMAGE_TOO_BIG);
    lim.max_bytes = st.st_size;
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg"), &lim, pool),
                     PV_IMAGE_OK);
    r.limits.max_bytes = 1000;
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_TOO_BIG);

    /* pixels: exactly at the limit passes, one under fails */
    memset(&lim, 0, sizeof(lim));
    lim.max_pixels = 4032 * 3024;
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg"), &lim, pool),
                     PV_IMAGE_OK);
    lim.max_pixels = 4032 * 3024 - 1;
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg"), &lim, pool),
                     PV_IMAGE_TOO_BIG);

    /* pages count: 3 frames of 100x100 */
    lim.max_pixels = 30000;
    ck_assert_int_eq(pv_image_probe(&info, fx("anim.gif"), &lim, pool),
                     PV_IMAGE_OK);
    lim.max_pixels = 29999;
    ck_assert_int_eq(pv_image_probe(&info, fx("anim.gif"), &lim, pool),
                     PV_IMAGE_TOO_BIG);
}
END_TEST

START_TEST(refusals)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_info_t *info = NULL;
    pv_image_out_t *o = NULL;
    double t0;

    ck_assert_int_eq(pv_image_probe(&info, fx("notes.txt"), NULL, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_render(&o, fx("notes.txt"), &r, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_probe(&info, fx("matrix.mat"), NULL, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.tif"), NULL, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_probe(&info, fx("small.ppm"), NULL, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_render(&o, fx("small.ppm"), &r, pool),
                     PV_IMAGE_UNSUPPORTED);
    ck_assert_int_eq(pv_image_probe(&info, fx("no-such.jpg"), NULL, pool),
                     PV_IMAGE_NOT_FOUND);
    ck_assert_int_eq(pv_image_render(&o, fx("no-such.jpg"), &r, pool),
                     PV_IMAGE_NOT_FOUND);
    ck_assert_int_eq(pv_image_probe(&info, fx("subdir"), NULL, pool),
                     PV_IMAGE_NOT_FOUND);
    ck_assert_int_eq(pv_image_probe(&info, fx("photo.jpg/x"), NULL, pool),
                     PV_IMAGE_NOT_FOUND);
    /* a FIFO neither hangs nor renders */
    t0 = now_s();
    ck_assert_int_eq(pv_image_render(&o, fx("fifo.jpg"), &r, pool),
                     PV_IMAGE_NOT_FOUND);
    ck_assert(now_s() - t0 < 1.0);
    ck_assert_ptr_null(info);
    ck_assert_ptr_null(o);
}
END_TEST

START_TEST(truncated_and_garbage)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_info_t *info = NULL;
    pv_image_out_t *o = NULL;

    /* the header is whole, so the probe passes ... */
    ck_assert_int_eq(pv_image_probe(&info, fx("truncated.jpg"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(info->width, 3024);
    /* ... and the render refuses rather than return a partial picture */
    ck_assert_int_eq(pv_image_render(&o, fx("truncated.jpg"), &r, pool),
                     PV_IMAGE_CORRUPT);
    ck_assert_ptr_null(o);
    r.format = PV_FORMAT_PNG;
    ck_assert_int_eq(pv_image_render(&o, fx("truncated.jpg"), &r, pool),
                     PV_IMAGE_CORRUPT);
    ck_assert_int_eq(pv_image_probe(&info, fx("truncated.png"), NULL, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(pv_image_render(&o, fx("truncated.png"), &r, pool),
                     PV_IMAGE_CORRUPT);
    ck_assert_ptr_null(o);
    /* garbage inside the scan is a libjpeg warning, not an error: it
     * decodes (to garbage pixels) as in every viewer */
    ck_assert_int_eq(pv_image_render(&o, fx("garbage.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_int_eq(o->width, 192);
    ck_assert_int_eq(o->height, 256);
}
END_TEST

START_TEST(bad_requests)
{
    pv_render_req_t r;
    pv_image_out_t *o = NULL;

    r = req_box(0, 0, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    r = req_box(-1, 10, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    r = req_box(PV_IMAGE_MAX_BOX + 1, 10, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    r = req_box(10, 10, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    r.quality = 101;
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    r = req_box(10, 10, (pv_image_fit_e)5, PV_FORMAT_JPEG);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    r = req_box(10, 10, PV_FIT_INSIDE, (pv_image_format_e)9);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_BAD_REQUEST);
    ck_assert_int_eq(pv_image_render(&o, fx("photo.jpg"), NULL, pool),
                     PV_IMAGE_BAD_REQUEST);
    ck_assert_ptr_null(o);
}
END_TEST

START_TEST(quality_changes_size)
{
    pv_render_req_t r = req_box(256, 256, PV_FIT_INSIDE, PV_FORMAT_JPEG);
    pv_image_out_t *lo = NULL, *hi = NULL;

    r.quality = 20;
    ck_assert_int_eq(pv_image_render(&lo, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    r.quality = 95;
    ck_assert_int_eq(pv_image_render(&hi, fx("photo.jpg"), &r, pool),
                     PV_IMAGE_OK);
    ck_assert_uint_lt(lo->len, hi->len);
}
END_TEST

/* Every path releases its images, sources and descriptors; the output
 * buffer goes with the pool. */
START_TEST(no_leaks)
{
    static const char *const files[] = {
        "photo.jpg", "alpha.png",     "anim.gif",    "bomb.png", "notes.txt",
        "small.ppm", "truncated.jpg", "garbage.jpg", "fifo.jpg", "missing"};
    pv_render_req_t r = req_box(128, 128, PV_FIT_COVER, PV_FORMAT_WEBP);
    pv_image_info_t *info;
    pv_image_out_t *o;
    apr_pool_t *sub;
    int objs, fds, round;
    size_t i;

    /* warm up: libvips creates some singletons on first use */
    apr_pool_create(&sub, pool);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        pv_image_render(&o, fx(files[i]), &r, sub);
    }
    apr_pool_destroy(sub);
    objs = live_objects();
    fds = open_fds();
    for (round = 0; round < 2; round++) {
        apr_pool_create(&sub, pool);
        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            pv_image_probe(&info, fx(files[i]), NULL, sub);
            pv_image_render(&o, fx(files[i]), &r, sub);
        }
        r.fit = PV_FIT_INSIDE;
        r.format = PV_FORMAT_JPEG;
        apr_pool_destroy(sub);
    }
    ck_assert_int_eq(live_objects(), objs);
    ck_assert_int_eq(open_fds(), fds);
}
END_TEST

/* Once, in the runner's process, before the tests fork (image_tests.h
 * says why a child makes them). */
static void suite_fixtures_make(void)
{
    ck_assert_msg(fixtures_make(fixdir, sizeof(fixdir), "pv_image_test",
                                make_fixtures) == 0,
                  "could not make fixtures in %s", fixdir);
}

static void suite_fixtures_remove(void)
{
    fixtures_remove(fixdir);
}

Suite *pv_test_image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, suite_fixtures_make, suite_fixtures_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, format_names);
    tcase_add_test(tc, probe_photo);
    tcase_add_test(tc, probe_kinds);
    tcase_add_test(tc, render_photo_default);
    tcase_add_test(tc, render_photo_other_formats);
    tcase_add_test(tc, render_avif);
    tcase_add_test(tc, render_cover_exact);
    tcase_add_test(tc, render_one_side);
    tcase_add_test(tc, render_never_upscales);
    tcase_add_test(tc, render_alpha);
    tcase_add_test(tc, render_gif_first_frame);
    tcase_add_test(tc, render_grey_and_avif_input);
    tcase_add_test(tc, render_threads);
    tcase_add_test(tc, render_orc_locked);
    tcase_add_test(tc, render_deadline);
    tcase_add_test(tc, bomb_refused_fast);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, truncated_and_garbage);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, quality_changes_size);
    tcase_add_test(tc, no_leaks);
    suite_add_tcase(s, tc);
    return s;
}
