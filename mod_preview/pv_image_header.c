/* A bounded parser of image headers for the render memory estimate; see
 * include/pv_image_header.h. Every read goes through need(), which checks
 * the bytes are there; lengths from the file are compared with what is
 * left before they are added to a position. */
#include <string.h>

#include <apr_strings.h>

#include "pv_image_header.h"

/* Segments, chunks, blocks or boxes walked at one level before giving up:
 * a real header has a few dozen at most. */
#define PV_HEADER_MAX_STEPS 512

typedef struct {
    const unsigned char *b;
    apr_size_t len;
} bytes_t;

/* Whether n bytes are there from pos (no overflow: n is small). */
static int need(const bytes_t *in, apr_size_t pos, apr_size_t n)
{
    return pos <= in->len && in->len - pos >= n;
}

static apr_uint32_t be16(const unsigned char *p)
{
    return (apr_uint32_t)p[0] << 8 | p[1];
}

static apr_uint32_t be32(const unsigned char *p)
{
    return (apr_uint32_t)p[0] << 24 | (apr_uint32_t)p[1] << 16 |
           (apr_uint32_t)p[2] << 8 | p[3];
}

static apr_uint32_t le16(const unsigned char *p)
{
    return (apr_uint32_t)p[0] | (apr_uint32_t)p[1] << 8;
}

static apr_uint32_t le24(const unsigned char *p)
{
    return le16(p) | (apr_uint32_t)p[2] << 16;
}

static apr_uint32_t le32(const unsigned char *p)
{
    return le24(p) | (apr_uint32_t)p[3] << 24;
}

/* ---------------------------------------------------------------- JPEG */

static int is_sof(unsigned m)
{
    /* C4 (DHT), C8 (reserved) and CC (DAC) sit among the SOFn codes. */
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static apr_status_t jpeg_frame(pv_image_header_t *h, const unsigned char *s,
                               apr_size_t slen, unsigned m)
{
    int i, n;

    /* P, Y, X, Nf, then Nf x (C, H<<4|V, Tq): libjpeg's get_sof checks
     * the length exactly. */
    if (slen < 6) {
        return APR_EINVAL;
    }
    n = s[5];
    if (n < 1 || n > PV_JPEG_MAX_COMPONENTS || slen != 6 + 3 * (apr_size_t)n) {
        return APR_EINVAL;
    }
    h->u.jpeg.precision = s[0];
    h->height = be16(s + 1);
    h->width = be16(s + 3);
    h->u.jpeg.components = n;
    for (i = 0; i < n; i++) {
        int hf = s[6 + 3 * i + 1] >> 4, vf = s[6 + 3 * i + 1] & 0x0F;

        if (hf < 1 || hf > 4 || vf < 1 || vf > 4) {
            return APR_EINVAL;
        }
        h->u.jpeg.h[i] = (unsigned char)hf;
        h->u.jpeg.v[i] = (unsigned char)vf;
    }
    h->u.jpeg.progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
    return APR_SUCCESS;
}

/* Markers in file order, as libjpeg reads them, up to the first scan:
 * the frame header gives the components, the first scan header whether
 * it holds all of them (libjpeg's has_multiple_scans). */
static apr_status_t parse_jpeg(pv_image_header_t *h, const bytes_t *in)
{
    apr_size_t pos = 2;
    int steps, have_sof = 0;

    for (steps = 0; steps < PV_HEADER_MAX_STEPS; steps++) {
        apr_size_t slen;
        unsigned m;

        if (!need(in, pos, 2)) {
            return APR_INCOMPLETE;
        }
        if (in->b[pos] != 0xFF) {
            /* libjpeg would skip such bytes with a warning: the estimate
             * does not follow it, it assumes the worst. */
            return APR_EINVAL;
        }
        /* Any number of 0xFF fill bytes may precede a marker. */
        while (need(in, pos + 1, 1) && in->b[pos + 1] == 0xFF) {
            pos++;
        }
        if (!need(in, pos, 2)) {
            return APR_INCOMPLETE;
        }
        m = in->b[pos + 1];
        pos += 2;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            continue; /* TEM, RSTn: no length */
        }
        if (m == 0xD8 || m == 0xD9 || m == 0x00) {
            return APR_EINVAL; /* a second SOI, EOI before a scan, 0xFF00 */
        }
        if (!need(in, pos, 2)) {
            return APR_INCOMPLETE;
        }
        slen = be16(in->b + pos);
        if (slen < 2) {
            return APR_EINVAL;
        }
        if (!need(in, pos, slen)) {
            return APR_INCOMPLETE;
        }
        if (is_sof(m)) {
            apr_status_t rv;

            if (have_sof) {
                return APR_EINVAL; /* libjpeg refuses a second frame */
            }
            rv = jpeg_frame(h, in->b + pos + 2, slen - 2, m);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            have_sof = 1;
        }
        else if (m == 0xDA) {
            apr_size_t ns;

            if (!have_sof || slen < 3) {
                return APR_EINVAL;
            }
            ns = in->b[pos + 2];
            if (ns < 1 || ns > 4 || slen != 6 + 2 * ns) {
                return APR_EINVAL;
            }
            h->u.jpeg.multiscan =
                h->u.jpeg.progressive || (int)ns < h->u.jpeg.components;
            return APR_SUCCESS;
        }
        pos += slen;
    }
    return APR_EINVAL;
}

/* ----------------------------------------------------------------- PNG */

static apr_status_t parse_png(pv_image_header_t *h, const bytes_t *in)
{
    const unsigned char *b = in->b;

    /* The signature, then IHDR must come first with length 13. */
    if (!need(in, 0, 29)) {
        return APR_INCOMPLETE;
    }
    if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0) {
        return APR_EINVAL;
    }
    h->width = be32(b + 16);
    h->height = be32(b + 20);
    h->u.png.bit_depth = b[24];
    h->u.png.colour_type = b[25];
    h->u.png.interlaced = b[28] != 0;
    if (b[28] > 1) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ----------------------------------------------------------------- GIF */

/* Blocks up to the first image descriptor: the graphic control
 * extensions before it set the first frame's disposal. libnsgif lets the
 * last one win; any that restores the previous frame counts here. */
static apr_status_t parse_gif(pv_image_header_t *h, const bytes_t *in)
{
    apr_size_t pos = 13;
    int steps, restore = 0;

    if (!need(in, 0, 13)) {
        return APR_INCOMPLETE;
    }
    h->width = le16(in->b + 6);
    h->height = le16(in->b + 8);
    if (in->b[10] & 0x80) {
        pos += (apr_size_t)3 << ((in->b[10] & 7) + 1);
    }
    for (steps = 0; steps < PV_HEADER_MAX_STEPS; steps++) {
        if (!need(in, pos, 1)) {
            return APR_INCOMPLETE;
        }
        if (in->b[pos] == 0x2C) {
            if (!need(in, pos, 10)) {
                return APR_INCOMPLETE;
            }
            h->u.gif.interlaced = (in->b[pos + 9] & 0x40) != 0;
            h->u.gif.restore_previous = restore;
            return APR_SUCCESS;
        }
        if (in->b[pos] != 0x21 || !need(in, pos, 2)) {
            return in->b[pos] != 0x21 ? APR_EINVAL : APR_INCOMPLETE;
        }
        if (in->b[pos + 1] == 0xF9 && need(in, pos, 4)) {
            int disposal = (in->b[pos + 3] >> 2) & 7;

            restore |= disposal == 3 || disposal == 4;
        }
        pos += 2;
        /* Data sub-blocks: a size byte, that many bytes; 0 ends them. */
        for (;;) {
            apr_size_t n;

            if (!need(in, pos, 1)) {
                return APR_INCOMPLETE;
            }
            n = in->b[pos++];
            if (n == 0) {
                break;
            }
            if (!need(in, pos, n)) {
                return APR_INCOMPLETE;
            }
            pos += n;
        }
    }
    return APR_EINVAL;
}

/* ---------------------------------------------------------------- WebP */

/* Chunks up to the first bitstream. Only the bytes read are needed: a
 * bitstream chunk runs on far past what is handed in. */
static apr_status_t parse_webp(pv_image_header_t *h, const bytes_t *in)
{
    apr_size_t pos = 12;
    int steps;

    for (steps = 0; steps < PV_HEADER_MAX_STEPS; steps++) {
        const unsigned char *c;
        apr_size_t size;

        if (!need(in, pos, 8)) {
            return APR_INCOMPLETE;
        }
        c = in->b + pos;
        size = le32(c + 4);
        if (memcmp(c, "VP8X", 4) == 0) {
            if (size < 10) {
                return APR_EINVAL;
            }
            if (!need(in, pos + 8, 10)) {
                return APR_INCOMPLETE;
            }
            h->u.webp.alpha = (c[8] & 0x10) != 0;
            h->u.webp.animated = (c[8] & 0x02) != 0;
            h->width = le24(c + 12) + 1;
            h->height = le24(c + 15) + 1;
        }
        else if (memcmp(c, "ALPH", 4) == 0) {
            /* libwebp's demuxer accepts ALPH only before a lossy VP8
             * bitstream (VP8L carries its own alpha). */
            h->u.webp.alpha = 1;
            return APR_SUCCESS;
        }
        else if (memcmp(c, "ANIM", 4) == 0 || memcmp(c, "ANMF", 4) == 0) {
            /* Frames of either kind may follow: assume the dearer. */
            h->u.webp.animated = 1;
            h->u.webp.lossless = 1;
            h->u.webp.alpha = 1;
            return APR_SUCCESS;
        }
        else if (memcmp(c, "VP8L", 4) == 0) {
            apr_uint32_t bits;

            if (size < 5) {
                return APR_EINVAL;
            }
            if (!need(in, pos + 8, 5)) {
                return APR_INCOMPLETE;
            }
            if (c[8] != 0x2F) {
                return APR_EINVAL;
            }
            bits = le32(c + 9);
            h->u.webp.lossless = 1;
            if (!h->width) {
                h->width = (bits & 0x3FFF) + 1;
                h->height = ((bits >> 14) & 0x3FFF) + 1;
            }
            h->u.webp.alpha |= (bits >> 28) & 1;
            return APR_SUCCESS;
        }
        else if (memcmp(c, "VP8 ", 4) == 0) {
            if (size < 10) {
                return APR_EINVAL;
            }
            if (!need(in, pos + 8, 10)) {
                return APR_INCOMPLETE;
            }
            if (!h->width) {
                h->width = le16(c + 14) & 0x3FFF;
                h->height = le16(c + 16) & 0x3FFF;
            }
            return APR_SUCCESS;
        }
        /* ICCP, EXIF, XMP, unknown: skipped, padded to even. */
        if (!need(in, pos + 8, size)) {
            return APR_INCOMPLETE;
        }
        pos += 8 + size + (size & 1);
    }
    return APR_EINVAL;
}

/* ---------------------------------------------------------------- HEIF */

typedef struct {
    apr_size_t body; /* first byte after the header */
    apr_size_t end;  /* first byte after the box */
    const unsigned char *type;
} box_t;

/* What a box that does not fit in [.., end) means: past the bytes we were
 * given, we cannot tell (incomplete); past its parent, it is malformed. */
static apr_status_t box_overrun(const bytes_t *in, apr_size_t end)
{
    return end < in->len ? APR_EINVAL : APR_INCOMPLETE;
}

/* The box at pos < end <= in->len, wholly inside [pos, end): a box is
 * only ever read once all of it is there. */
static apr_status_t box_at(box_t *bx, const bytes_t *in, apr_size_t pos,
                           apr_size_t end)
{
    apr_uint64_t size;
    apr_size_t hdr = 8;

    if (end - pos < 8) {
        return box_overrun(in, end);
    }
    size = be32(in->b + pos);
    bx->type = in->b + pos + 4;
    if (size == 1) {
        if (end - pos < 16) {
            return box_overrun(in, end);
        }
        size =
            (apr_uint64_t)be32(in->b + pos + 8) << 32 | be32(in->b + pos + 12);
        hdr = 16;
    }
    else if (size == 0) {
        size = end - pos; /* to the end of its parent (or of the file) */
    }
    if (size < hdr) {
        return APR_EINVAL;
    }
    if (size > end - pos) {
        return box_overrun(in, end);
    }
    bx->body = pos + hdr;
    bx->end = pos + (apr_size_t)size;
    return APR_SUCCESS;
}

/* The first child of type t in [pos, end); FullBox headers (version and
 * flags) are the caller's to skip. */
static apr_status_t find_box(box_t *out, const bytes_t *in, apr_size_t pos,
                             apr_size_t end, const char *t)
{
    int steps;

    for (steps = 0; steps < PV_HEADER_MAX_STEPS && pos < end; steps++) {
        apr_status_t rv = box_at(out, in, pos, end);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (memcmp(out->type, t, 4) == 0) {
            return APR_SUCCESS;
        }
        pos = out->end;
    }
    return steps < PV_HEADER_MAX_STEPS ? box_overrun(in, end) : APR_EINVAL;
}

static void heif_config(pv_image_header_t *h, int depth, int div)
{
    if (depth > h->u.heif.bit_depth) {
        h->u.heif.bit_depth = depth;
    }
    if (div > h->u.heif.chroma_div) {
        h->u.heif.chroma_div = div;
    }
    h->u.heif.configs++;
}

/* ftyp, then meta > iprp > ipco: every av1C and hvcC property there. */
static apr_status_t parse_heif(pv_image_header_t *h, const bytes_t *in)
{
    box_t ftyp, meta, iprp, ipco, bx;
    apr_size_t pos;
    apr_status_t rv;
    int steps;

    /* The top level runs to the end of the file: the bytes we have are a
     * prefix of it. meta is a FullBox (4 bytes of version and flags). */
    if ((rv = box_at(&ftyp, in, 0, in->len)) != APR_SUCCESS ||
        (rv = find_box(&meta, in, ftyp.end, in->len, "meta")) != APR_SUCCESS) {
        return rv;
    }
    if (meta.end - meta.body < 4) {
        return APR_EINVAL;
    }
    if ((rv = find_box(&iprp, in, meta.body + 4, meta.end, "iprp")) !=
            APR_SUCCESS ||
        (rv = find_box(&ipco, in, iprp.body, iprp.end, "ipco")) !=
            APR_SUCCESS) {
        return rv;
    }
    for (steps = 0, pos = ipco.body;
         steps < PV_HEADER_MAX_STEPS && pos < ipco.end; steps++) {
        const unsigned char *c;
        apr_size_t n;

        if ((rv = box_at(&bx, in, pos, ipco.end)) != APR_SUCCESS) {
            return rv;
        }
        c = in->b + bx.body;
        n = bx.end - bx.body;
        if (memcmp(bx.type, "av1C", 4) == 0) {
            int hbd, twelve, mono, sx, sy;

            if (n < 4 || c[0] != 0x81) {
                return APR_EINVAL;
            }
            hbd = (c[2] >> 6) & 1;
            twelve = (c[2] >> 5) & 1;
            mono = (c[2] >> 4) & 1;
            sx = (c[2] >> 3) & 1;
            sy = (c[2] >> 2) & 1;
            heif_config(h, hbd ? (twelve ? 12 : 10) : 8,
                        mono         ? 0
                        : (sx && sy) ? 1
                        : sx         ? 2
                                     : 4);
        }
        else if (memcmp(bx.type, "hvcC", 4) == 0) {
            int fmt, luma, chroma;

            if (n < 23) {
                return APR_EINVAL;
            }
            fmt = c[16] & 3;
            luma = (c[17] & 7) + 8;
            chroma = (c[18] & 7) + 8;
            heif_config(h, luma > chroma ? luma : chroma,
                        fmt == 0   ? 0
                        : fmt == 1 ? 1
                        : fmt == 2 ? 2
                                   : 4);
        }
        else if (memcmp(bx.type, "ispe", 4) == 0 && n >= 12) {
            apr_uint32_t w = be32(c + 4), hh = be32(c + 8);

            if ((apr_uint64_t)w * hh > (apr_uint64_t)h->width * h->height) {
                h->width = w;
                h->height = hh;
            }
        }
        pos = bx.end;
    }
    /* A property left unread could be the dearest one. */
    if (pos < ipco.end) {
        return APR_EINVAL;
    }
    return h->u.heif.configs > 0 ? APR_SUCCESS : APR_EINVAL;
}

/* ------------------------------------------------------------ dispatch */

apr_status_t pv_image_header_parse(pv_image_header_t **pout,
                                   const unsigned char *buf, apr_size_t len,
                                   apr_pool_t *p)
{
    static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                             '\r', '\n', 0x1A, '\n'};
    pv_image_header_t h;
    bytes_t in;
    apr_status_t rv;

    memset(&h, 0, sizeof(h));
    in.b = buf;
    in.len = buf ? len : 0;
    if (need(&in, 0, 3) && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
        h.kind = PV_HEADER_JPEG;
        rv = parse_jpeg(&h, &in);
    }
    else if (need(&in, 0, 8) && memcmp(buf, png_sig, 8) == 0) {
        h.kind = PV_HEADER_PNG;
        rv = parse_png(&h, &in);
    }
    else if (need(&in, 0, 6) &&
             (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0)) {
        h.kind = PV_HEADER_GIF;
        rv = parse_gif(&h, &in);
    }
    else if (need(&in, 0, 12) && memcmp(buf, "RIFF", 4) == 0 &&
             memcmp(buf + 8, "WEBP", 4) == 0) {
        h.kind = PV_HEADER_WEBP;
        rv = parse_webp(&h, &in);
    }
    else if (need(&in, 0, 8) && memcmp(buf + 4, "ftyp", 4) == 0) {
        h.kind = PV_HEADER_HEIF;
        rv = parse_heif(&h, &in);
    }
    else {
        rv = need(&in, 0, 12) ? APR_EINVAL : APR_INCOMPLETE;
    }
    if (rv == APR_SUCCESS) {
        *pout = apr_pmemdup(p, &h, sizeof(h));
    }
    return rv;
}
