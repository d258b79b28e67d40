/* A DC-only JPEG decoder to 1/8 scale; see include/pv_jpeg_dc.h. The
 * checks follow libjpeg-turbo 2.1's (jdmarker.c, jdhuff.c, jdphuff.c,
 * jdinput.c); where libjpeg would only warn, this decoder fails, so that
 * the caller's libjpeg path gives such a file the answer it always had. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pv_jpeg_dc.h"
#include "pv_scratch.h"

#define NCOMP_MAX   3
#define NTABLES     4
#define MAX_MARKERS 4096 /* segments before EOI: real files have dozens */
#define MAX_SCANS   256  /* libjpeg's default scan limit is 0 (none) */
#define LOOK_BITS   9
/* a plane's start in its block (a cache line) */
#define PLANE_ALIGN 64
#define SKIP_BITS   12
/* a skip entry: the bits to drop (bits 0-5: a shift count as it is), how
 * far k moves (6-11), the block's end (bit 12) */
#define SKIP_TOTAL(e) ((int)((e)&63))
#define SKIP_ADV(e)   ((int)((e) >> 6 & 63))
#define SKIP_END      0x1000u

typedef struct {
    int defined;
    int is_dc;
    int32_t maxcode[18];
    int32_t valoffset[18];
    uint8_t huffval[256];
    /* (length << 8 | symbol) of the code in the next LOOK_BITS bits; 0
     * when longer */
    uint16_t look[1 << LOOK_BITS];
} huff_t;

/* An AC table with the lookups of the sequential block decoders. */
typedef struct {
    huff_t h;
    /* AC only, by the next SKIP_BITS bits: skip[0] skips every symbol
     * whose code lies in those bits, with their extra bits (the last one's
     * may lie past them), up to an end of block; skip[1] one symbol (for
     * the block's last places, where a later symbol in the same bits may be
     * the next block's). 0: a code longer than SKIP_BITS. */
    uint16_t skip[2][1 << SKIP_BITS];
} ac_huff_t;

typedef struct {
    int id, h, v, tq;
    int wb, hb;      /* blocks holding image data (libjpeg width_in_blocks) */
    int pw, ph;      /* blocks of the MCU grid (padded to whole MCUs) */
    int16_t *dc;     /* pw * ph DC coefficients */
    int dc_pred;     /* predictor of the current scan (int: libjpeg's) */
    int8_t bits[64]; /* libjpeg's coef_bits: -1, or the last Al */
    int td, ta;
} comp_t;

typedef struct {
    const uint8_t *p, *end;
    uint64_t buf;
    int bits; /* valid bits at the top of buf, fake ones included */
    int fake; /* zero bits put in after a marker or the end */
    int hit;  /* p is at a marker (or the end) */
} bits_t;

typedef struct {
    const uint8_t *b, *end;
    const uint8_t *p;
    apr_pool_t *pool;
    apr_uint64_t max_alloc;
    uint8_t *px; /* the output's bytes, after the planes in their block */
    int frame, progressive, scans, eoi;
    int width, height, ncomp, hmax, vmax, mcux, mcuy;
    int restart;
    int jfif, adobe, adobe_transform;
    int orientation, exif_seen;
    uint16_t q[NTABLES][64];
    int q_defined[NTABLES];
    huff_t dc[NTABLES];
    ac_huff_t ac[NTABLES];
    comp_t c[NCOMP_MAX];
    /* ICC chunks, by sequence number */
    int icc_count;
    const uint8_t *icc_part[256];
    apr_size_t icc_part_len[256];
} dec_t;

#define FAIL(code)                                                             \
    do {                                                                       \
        rv = (code);                                                           \
        goto cleanup;                                                          \
    } while (0)

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* ----------------------------------------------------------- tables */

/* One AC symbol as a skip entry: its advance of k, its bits (code l and
 * extra bits), whether it ends the block. */
static unsigned skip_one(int l, int sym)
{
    int r = sym >> 4, sz = sym & 15;

    if (!sz && r != 15) {
        return (unsigned)l | SKIP_END;
    }
    return (unsigned)(l + sz) | (unsigned)(sz ? r + 1 : 16) << 6;
}

/* HUFF_EXTEND: the signed value of s bits v. */
static inline int extend(unsigned v, int s)
{
    /* branch-free: a coefficient's sign is a coin toss for the
     * predictor */
    int m = (int)(v >> (s - 1)) - 1;
    return (int)v + (m & (int)(1u - (1u << s)));
}

/* The AC lookups (see ac_huff_t) from the canonical codes. */
static void skip_build(ac_huff_t *t, const uint8_t *counts, const uint8_t *vals,
                       const uint32_t *code)
{
    uint16_t lk[1 << SKIP_BITS]; /* (length << 8 | symbol), 0: longer */
    const uint32_t mask = (1u << SKIP_BITS) - 1;
    uint32_t idx;
    int p, l, i;

    memset(lk, 0, sizeof(lk));
    for (p = 0, l = 1; l <= SKIP_BITS; l++) {
        for (i = 0; i < counts[l - 1]; i++, p++) {
            uint32_t lo = code[p] << (SKIP_BITS - l);
            uint32_t n = 1u << (SKIP_BITS - l), k;
            for (k = 0; k < n; k++) {
                lk[lo + k] = (uint16_t)(l << 8 | vals[p]);
            }
        }
    }
    for (idx = 0; idx <= mask; idx++) {
        unsigned one, all, e2;
        int t1;

        if (!lk[idx]) {
            t->skip[0][idx] = t->skip[1][idx] = 0;
            continue;
        }
        one = skip_one(lk[idx] >> 8, lk[idx] & 0xFF);
        all = one;
        t1 = SKIP_TOTAL(one);
        /* the next symbols while their codes lie in the bits, k's move
         * within its 6 bits (a run of 16s, ZRL codes, moves it far) */
        while (!(all & SKIP_END) && t1 < SKIP_BITS &&
               (e2 = lk[(idx << t1) & mask]) != 0 &&
               (int)(e2 >> 8) <= SKIP_BITS - t1) {
            unsigned next = skip_one(e2 >> 8, e2 & 0xFF);
            if (SKIP_ADV(all) + SKIP_ADV(next) > 63) {
                break;
            }
            all = (unsigned)(t1 + SKIP_TOTAL(next)) |
                  (unsigned)(SKIP_ADV(all) + SKIP_ADV(next)) << 6 |
                  (next & SKIP_END);
            t1 = SKIP_TOTAL(all);
        }
        t->skip[0][idx] = (uint16_t)all;
        t->skip[1][idx] = (uint16_t)one;
    }
}

/* libjpeg's jpeg_make_d_derived_tbl: canonical codes from the counts, an
 * error when they overflow their length (a table that is not a prefix
 * code) or, for DC, a symbol over 15. */
static apr_status_t huff_build(huff_t *t, ac_huff_t *ac, const uint8_t *counts,
                               const uint8_t *vals, int nvals)
{
    int is_dc = !ac;
    uint8_t size[257];
    uint32_t code[256];
    int p, l, i, si;
    uint32_t c;

    memset(t, 0, sizeof(*t));
    for (p = 0, l = 1; l <= 16; l++) {
        for (i = 0; i < counts[l - 1]; i++) {
            if (p >= 256) {
                return APR_EINVAL;
            }
            size[p++] = (uint8_t)l;
        }
    }
    if (p != nvals) {
        return APR_EINVAL;
    }
    size[p] = 0;
    c = 0;
    si = size[0];
    p = 0;
    while (size[p]) {
        while (size[p] == si) {
            code[p++] = c++;
        }
        if (c >= (1u << si)) {
            return APR_EINVAL;
        }
        c <<= 1;
        si++;
    }
    for (p = 0, l = 1; l <= 16; l++) {
        if (counts[l - 1]) {
            t->valoffset[l] = p - (int32_t)code[p];
            p += counts[l - 1];
            t->maxcode[l] = (int32_t)code[p - 1];
        }
        else {
            t->maxcode[l] = -1;
        }
    }
    t->maxcode[17] = 0xFFFFF;
    for (i = 0; i < nvals; i++) {
        if (is_dc && vals[i] > 15) {
            return APR_EINVAL;
        }
        t->huffval[i] = vals[i];
    }
    for (p = 0, l = 1; l <= LOOK_BITS; l++) {
        for (i = 0; i < counts[l - 1]; i++, p++) {
            uint32_t lo = code[p] << (LOOK_BITS - l);
            uint32_t n = 1u << (LOOK_BITS - l), k;
            for (k = 0; k < n; k++) {
                t->look[lo + k] = (uint16_t)(l << 8 | vals[p]);
            }
        }
    }
    if (ac) {
        skip_build(ac, counts, vals, code);
    }
    t->is_dc = is_dc;
    t->defined = 1;
    return APR_SUCCESS;
}

static apr_status_t read_dht(dec_t *d, const uint8_t *s, apr_size_t n)
{
    while (n > 0) {
        int cls, id, i, total = 0;
        apr_status_t rv;

        if (n < 17) {
            return APR_EINVAL;
        }
        cls = s[0] >> 4;
        id = s[0] & 0x0F;
        if (cls > 1 || id >= NTABLES) {
            return APR_EINVAL;
        }
        for (i = 1; i <= 16; i++) {
            total += s[i];
        }
        if (total > 256 || n - 17 < (apr_size_t)total) {
            return APR_EINVAL;
        }
        rv = cls ? huff_build(&d->ac[id].h, &d->ac[id], s + 1, s + 17, total)
                 : huff_build(&d->dc[id], NULL, s + 1, s + 17, total);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        s += 17 + total;
        n -= 17 + (apr_size_t)total;
    }
    return APR_SUCCESS;
}

static apr_status_t read_dqt(dec_t *d, const uint8_t *s, apr_size_t n)
{
    /* A table redefined after the first scan would be latched per
     * component by libjpeg; such files are left to it. */
    if (d->scans) {
        return APR_ENOTIMPL;
    }
    while (n > 0) {
        int prec = s[0] >> 4, id = s[0] & 0x0F, i;
        apr_size_t need = prec ? 129 : 65;

        if (prec > 1 || id >= NTABLES || n < need) {
            return APR_EINVAL;
        }
        for (i = 0; i < 64; i++) {
            /* only entry 0 (the DC step) is used; zigzag order keeps it
             * first */
            d->q[id][i] = (uint16_t)(prec ? be16(s + 1 + 2 * i) : s[1 + i]);
        }
        d->q_defined[id] = 1;
        s += need;
        n -= need;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ frame */

static int ceil_div(long a, long b)
{
    return (int)((a + b - 1) / b);
}

/* The sampling layouts taken: grey (any factors: one component is never
 * interleaved), 4:4:4, 4:2:2, 4:4:0, 4:2:0 with luma first. */
static int layout_ok(int ncomp, const unsigned char *hs,
                     const unsigned char *vs)
{
    int i;

    if (ncomp == 1) {
        return hs[0] >= 1 && hs[0] <= 4 && vs[0] >= 1 && vs[0] <= 4;
    }
    if (ncomp != 3) {
        return 0;
    }
    for (i = 1; i < 3; i++) {
        if (hs[i] != 1 || vs[i] != 1) {
            return 0;
        }
    }
    return hs[0] >= 1 && hs[0] <= 2 && vs[0] >= 1 && vs[0] <= 2;
}

apr_uint64_t pv_jpeg_dc_memory(apr_uint32_t w, apr_uint32_t h, int components,
                               const unsigned char *hs, const unsigned char *vs)
{
    apr_uint64_t sum = 0, mx, my;
    int i, hmax = 1, vmax = 1;

    if (w == 0 || h == 0 || w > 65500 || h > 65500 ||
        !layout_ok(components, hs, vs)) {
        return 0;
    }
    for (i = 0; i < components; i++) {
        hmax = hs[i] > hmax ? hs[i] : hmax;
        vmax = vs[i] > vmax ? vs[i] : vmax;
    }
    mx = ((apr_uint64_t)w + 8 * hmax - 1) / (8 * hmax);
    my = ((apr_uint64_t)h + 8 * vmax - 1) / (8 * vmax);
    for (i = 0; i < components; i++) {
        sum += mx * hs[i] * my * vs[i] * sizeof(int16_t);
    }
    /* the output, one byte a sample */
    sum += (((apr_uint64_t)w + 7) / 8) * (((apr_uint64_t)h + 7) / 8) *
           (components == 1 ? 1 : 3);
    /* the decoder's state, its Huffman tables' lookups (some 80 KB) */
    sum += sizeof(dec_t);
    /* each plane's fence and start aligned (planes()) */
    sum += 2 * PLANE_ALIGN * (apr_uint64_t)components;
    return sum;
}

static apr_size_t fenced(apr_size_t n)
{
    return n ? (n + 2 * PLANE_ALIGN - 1) / PLANE_ALIGN * PLANE_ALIGN : 0;
}

/* Every plane of the frame, and the output after them, in one block of
 * pv_scratch (kept for the next file: no fresh pages to fault in), given
 * back with the pool; the planes zeroed, a fence of PLANE_ALIGN bytes or
 * more after each (an overrun is ASan's, as between malloc'd blocks).
 * The bytes are at most pv_jpeg_dc_memory()'s (less the state's). */
static apr_status_t planes(dec_t *d)
{
    apr_size_t sz[NCOMP_MAX], total = 0, out;
    uint8_t *b;
    int i;

    for (i = 0; i < d->ncomp; i++) {
        comp_t *c = &d->c[i];
        sz[i] = fenced((apr_size_t)c->pw * (apr_size_t)c->ph * sizeof(int16_t));
        total += sz[i];
    }
    out = (apr_size_t)ceil_div(d->width, 8) *
          (apr_size_t)ceil_div(d->height, 8) * (d->ncomp == 1 ? 1 : 3);
    if (pv_scratch_palloc((void **)&b, total + out, d->pool) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    memset(b, 0, total);
    for (i = 0; i < d->ncomp; i++) {
        comp_t *c = &d->c[i];
        apr_size_t used =
            (apr_size_t)c->pw * (apr_size_t)c->ph * sizeof(int16_t);
        c->dc = (int16_t *)(void *)b;
        pv_scratch_fence(b + used, sz[i] - used);
        b += sz[i];
    }
    d->px = b;
    return APR_SUCCESS;
}

static apr_status_t read_sof(dec_t *d, unsigned m, const uint8_t *s,
                             apr_size_t n)
{
    unsigned char hs[NCOMP_MAX], vs[NCOMP_MAX];
    int i, j;

    if (d->frame) {
        return APR_EINVAL;
    }
    d->frame = 1;
    d->progressive = (m == 0xC2);
    if (n < 6 || s[0] != 8) {
        return n < 6 ? APR_EINVAL : APR_ENOTIMPL;
    }
    d->height = (int)be16(s + 1);
    d->width = (int)be16(s + 3);
    d->ncomp = s[5];
    if (n != 6 + 3 * (apr_size_t)d->ncomp || d->ncomp == 0) {
        return APR_EINVAL;
    }
    if (d->height == 0 || d->width == 0 || d->width > 65500 ||
        d->height > 65500 || (d->ncomp != 1 && d->ncomp != 3)) {
        return APR_ENOTIMPL; /* DNL, CMYK/YCCK, odd component counts */
    }
    for (i = 0; i < d->ncomp; i++) {
        comp_t *c = &d->c[i];
        c->id = s[6 + 3 * i];
        c->h = s[7 + 3 * i] >> 4;
        c->v = s[7 + 3 * i] & 0x0F;
        c->tq = s[8 + 3 * i];
        if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq >= NTABLES) {
            return APR_EINVAL;
        }
        for (j = 0; j < i; j++) {
            if (d->c[j].id == c->id) {
                return APR_EINVAL;
            }
        }
        hs[i] = (unsigned char)c->h;
        vs[i] = (unsigned char)c->v;
        memset(c->bits, -1, sizeof(c->bits));
    }
    if (!layout_ok(d->ncomp, hs, vs)) {
        return APR_ENOTIMPL;
    }
    if (d->ncomp == 1) {
        /* one component: its own grid, no MCU padding */
        d->c[0].h = d->c[0].v = 1;
    }
    d->hmax = d->vmax = 1;
    for (i = 0; i < d->ncomp; i++) {
        d->hmax = d->c[i].h > d->hmax ? d->c[i].h : d->hmax;
        d->vmax = d->c[i].v > d->vmax ? d->c[i].v : d->vmax;
    }
    d->mcux = ceil_div(d->width, 8L * d->hmax);
    d->mcuy = ceil_div(d->height, 8L * d->vmax);
    if (pv_jpeg_dc_memory((apr_uint32_t)d->width, (apr_uint32_t)d->height,
                          d->ncomp, hs, vs) > d->max_alloc) {
        return APR_ENOSPC;
    }
    for (i = 0; i < d->ncomp; i++) {
        comp_t *c = &d->c[i];
        c->wb = ceil_div((long)d->width * c->h, 8L * d->hmax);
        c->hb = ceil_div((long)d->height * c->v, 8L * d->vmax);
        c->pw = d->mcux * c->h;
        c->ph = d->mcuy * c->v;
    }
    return planes(d);
}

/* ------------------------------------------------------ APP segments */

static apr_status_t read_exif(dec_t *d, const uint8_t *s, apr_size_t n)
{
    const uint8_t *t;
    apr_size_t tn, ifd;
    unsigned count, i;
    int le;

    if (n < 6 || memcmp(s, "Exif\0\0", 6) != 0) {
        return APR_SUCCESS; /* XMP and others */
    }
    if (d->exif_seen++) {
        return APR_ENOTIMPL; /* which one libexif reads is its business */
    }
    t = s + 6;
    tn = n - 6;
    if (tn < 8) {
        return APR_ENOTIMPL;
    }
    if (t[0] == 'I' && t[1] == 'I') {
        le = 1;
    }
    else if (t[0] == 'M' && t[1] == 'M') {
        le = 0;
    }
    else {
        return APR_ENOTIMPL;
    }
#define RD16(x) (le ? (unsigned)(x)[0] | (unsigned)(x)[1] << 8 : be16(x))
#define RD32(x)                                                                \
    (le ? (apr_size_t)RD16(x) | (apr_size_t)RD16((x) + 2) << 16                \
        : (apr_size_t)RD16(x) << 16 | (apr_size_t)RD16((x) + 2))
    if (RD16(t + 2) != 42) {
        return APR_ENOTIMPL;
    }
    ifd = RD32(t + 4);
    if (ifd < 8 || ifd > tn - 2) {
        return APR_ENOTIMPL;
    }
    count = RD16(t + ifd);
    if ((tn - ifd - 2) / 12 < count) {
        return APR_ENOTIMPL;
    }
    for (i = 0; i < count; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * (apr_size_t)i;
        if (RD16(e) == 0x0112) {
            unsigned v = RD16(e + 8);
            /* SHORT, one value, 1..8: anything else is libexif's call */
            if (RD16(e + 2) != 3 || RD32(e + 4) != 1 || v < 1 || v > 8) {
                return APR_ENOTIMPL;
            }
            d->orientation = (int)v;
        }
    }
#undef RD16
#undef RD32
    return APR_SUCCESS;
}

static apr_status_t read_icc_chunk(dec_t *d, const uint8_t *s, apr_size_t n)
{
    unsigned seq, total;

    if (n < 14 || memcmp(s, "ICC_PROFILE\0", 12) != 0) {
        return APR_SUCCESS;
    }
    seq = s[12];
    total = s[13];
    /* a chunk out of place, twice, or a count that changes: libjpeg and
     * libvips do not agree on such files, so they are left to libvips */
    if (seq == 0 || total == 0 || seq > total ||
        (d->icc_count && total != (unsigned)d->icc_count) ||
        d->icc_part[seq - 1]) {
        return APR_ENOTIMPL;
    }
    d->icc_count = (int)total;
    d->icc_part[seq - 1] = s + 14;
    d->icc_part_len[seq - 1] = n - 14;
    return APR_SUCCESS;
}

static apr_status_t read_app(dec_t *d, unsigned m, const uint8_t *s,
                             apr_size_t n)
{
    if (d->scans) {
        return APR_ENOTIMPL; /* metadata among the scans */
    }
    switch (m) {
        case 0xE0:
            /* libjpeg's examine_app0 needs 14 bytes */
            if (n >= 14 && memcmp(s, "JFIF\0", 5) == 0) {
                d->jfif = 1;
            }
            return APR_SUCCESS;
        case 0xE1:
            return read_exif(d, s, n);
        case 0xE2:
            return read_icc_chunk(d, s, n);
        case 0xEE:
            if (n >= 12 && memcmp(s, "Adobe", 5) == 0) {
                d->adobe = 1;
                d->adobe_transform = s[11];
            }
            return APR_SUCCESS;
    }
    return APR_SUCCESS;
}

/* -------------------------------------------------- entropy decoding */

/* Top up the bit buffer to more than 56 bits: 0xFF 0x00 is a 0xFF byte
 * (fill 0xFFs before it are dropped, as libjpeg does); at a marker or the
 * end, zeros are put in and counted as fake. */
static void fill(bits_t *br)
{
    /* the common case: plain bytes, as many whole ones as fit, read at
     * once when none of them is 0xFF */
    if (!br->hit && br->bits <= 56 && br->end - br->p >= 8) {
        uint64_t w, x, z;
        int k = (64 - br->bits) >> 3;
        memcpy(&w, br->p, 8);
        w = __builtin_bswap64(w);
        x = ~w; /* a 0xFF byte is now zero; flagged below (or a byte
                   before it, which only sends us the slow way) */
        z = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (k < 8) {
            uint64_t top = ~0ULL << (64 - 8 * k);
            z &= top;
            w &= top;
        }
        if (!z) {
            br->buf |= w >> br->bits;
            br->bits += 8 * k;
            br->p += k;
            return;
        }
    }
    while (br->bits <= 56 && !br->hit && br->p < br->end && *br->p != 0xFF) {
        br->buf |= (uint64_t)*br->p++ << (56 - br->bits);
        br->bits += 8;
    }
    while (br->bits <= 56) {
        unsigned c = 0;

        if (!br->hit && br->p < br->end) {
            c = *br->p;
            if (c == 0xFF) {
                const uint8_t *q = br->p + 1;
                while (q < br->end && *q == 0xFF) {
                    q++;
                }
                if (q < br->end && *q == 0x00) {
                    br->p = q + 1;
                }
                else {
                    br->hit = 1;
                    c = 0;
                }
            }
            else {
                br->p++;
            }
        }
        else {
            br->hit = 1;
        }
        if (br->hit) {
            br->fake += 8;
        }
        br->buf |= (uint64_t)c << (56 - br->bits);
        br->bits += 8;
    }
}

static inline unsigned get_bits(bits_t *br, int n)
{
    unsigned v;

    if (br->bits < n) {
        fill(br);
    }
    v = (unsigned)(br->buf >> (64 - n));
    br->buf <<= n;
    br->bits -= n;
    return v;
}

/* One Huffman symbol, or -1 for a code no table entry has (libjpeg warns
 * "bad Huffman code" and goes on with zeros). */
static inline int huff_decode(bits_t *br, const huff_t *t)
{
    unsigned look, e;
    int32_t code;
    int l;

    if (br->bits < 16) {
        fill(br);
    }
    look = (unsigned)(br->buf >> (64 - LOOK_BITS));
    if ((e = t->look[look]) != 0) {
        br->buf <<= (e >> 8);
        br->bits -= (int)(e >> 8);
        return (int)(e & 0xFF);
    }
    code = (int32_t)(br->buf >> (64 - LOOK_BITS));
    l = LOOK_BITS;
    br->buf <<= LOOK_BITS;
    br->bits -= LOOK_BITS;
    while (code > t->maxcode[l]) {
        code = (code << 1) | (int32_t)(br->buf >> 63);
        br->buf <<= 1;
        br->bits--;
        if (++l > 16) {
            return -1;
        }
    }
    code += t->valoffset[l];
    return code >= 0 && code < 256 ? t->huffval[code] : -1;
}

/* fill()'s common case inline, on the caller's copy of the buffer:
 * whole bytes up to 64 bits from the next 8 when none is 0xFF. */
static inline int refill_fast(bits_t *br, uint64_t *buf, int *bits)
{
    uint64_t w, x, z, top;
    int k = (64 - *bits) >> 3;

    if (br->hit || br->end - br->p < 8) {
        return 0;
    }
    memcpy(&w, br->p, 8);
    w = __builtin_bswap64(w);
    x = ~w;
    z = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
    top = k < 8 ? ~0ULL << (64 - 8 * k) : ~0ULL;
    if (z & top) {
        return 0;
    }
    *buf |= (w & top) >> *bits;
    *bits += 8 * k;
    br->p += k;
    return 1;
}

/* The bit buffer of the block decoders, kept in their locals buf and
 * bits (registers) and written back around the rare refills and slow
 * decodes. */
#define SYNC_OUT() (br->buf = buf, br->bits = bits)
#define SYNC_IN()  (buf = br->buf, bits = br->bits)
#define NEED(n)                                                                \
    do {                                                                       \
        if (bits < (n) && !refill_fast(br, &buf, &bits)) {                     \
            SYNC_OUT();                                                        \
            fill(br);                                                          \
            SYNC_IN();                                                         \
        }                                                                      \
    } while (0)

/* libjpeg's sequential block: DC difference, then AC run/size codes read
 * for their length only. */
static inline apr_status_t block_seq(bits_t *br, comp_t *c, const huff_t *dct,
                                     const ac_huff_t *act, int16_t *out)
{
    uint64_t buf = br->buf;
    int bits = br->bits;
    int s, k, r;
    long dc;

    NEED(32);
    {
        unsigned e = dct->look[buf >> (64 - LOOK_BITS)];
        if (e) {
            buf <<= (e >> 8);
            bits -= (int)(e >> 8);
            s = (int)(e & 0xFF);
        }
        else {
            SYNC_OUT();
            s = huff_decode(br, dct);
            SYNC_IN();
            if (s < 0) {
                return APR_EINVAL;
            }
            NEED(16);
        }
    }
    dc = c->dc_pred;
    if (s) {
        unsigned v = (unsigned)(buf >> (64 - s));
        buf <<= s;
        bits -= s;
        dc += extend(v, s);
    }
    if (dc < INT16_MIN || dc > INT16_MAX) {
        return APR_EINVAL; /* no 8-bit image has such a DC */
    }
    c->dc_pred = (int)dc;
    *out = (int16_t)dc;
/* one skip entry's step (its bits: 27 at most), to slow for a longer code;
 * one symbol alone where the entry's would take k to the block's end or
 * past it (the symbols after the one that gets there are the next
 * block's bits) */
#define SKIP_STEP()                                                            \
    do {                                                                       \
        e = act->skip[0][buf >> (64 - SKIP_BITS)];                             \
        if (!e) {                                                              \
            goto slow;                                                         \
        }                                                                      \
        if (k + SKIP_ADV(e) >= 64) {                                           \
            e = act->skip[1][buf >> (64 - SKIP_BITS)];                         \
        }                                                                      \
        buf <<= SKIP_TOTAL(e);                                                 \
        bits -= SKIP_TOTAL(e);                                                 \
        k += SKIP_ADV(e);                                                      \
        if ((e & SKIP_END) || k >= 64) {                                       \
            goto done;                                                         \
        }                                                                      \
    } while (0)
    /* two entries a refill */
    for (k = 1;;) {
        unsigned e;
        NEED(54);
        SKIP_STEP();
        SKIP_STEP();
        continue;
    slow:
        SYNC_OUT();
        s = huff_decode(br, &act->h);
        SYNC_IN();
        if (s < 0) {
            return APR_EINVAL;
        }
        r = s >> 4;
        s &= 15;
        if (s) {
            NEED(16);
            k += r + 1;
            buf <<= s;
            bits -= s;
        }
        else {
            if (r != 15) {
                break;
            }
            k += 16;
        }
        if (k >= 64) {
            break;
        }
    }
#undef SKIP_STEP
done:
    SYNC_OUT();
    /* bits past the scan's data were needed: truncated or corrupt */
    return br->bits < br->fake ? APR_EINVAL : APR_SUCCESS;
}

/* libjpeg-turbo's range_limit[x & RANGE_MASK] after its IDCTs: x wrapped
 * to 10 bits, + 128, clamped. Without a branch (a sample's clamping is
 * not for a predictor): t = (x + 128) & 1023 is the sample below 256,
 * an overflow (255) below 640, an underflow (0) above. */
static inline uint8_t range_limit(long v)
{
    unsigned t = (unsigned)((unsigned long)v + 128) & 1023;
    unsigned lo = (t - 256) >> 31, hi = (t - 640) >> 31;

    return (uint8_t)((t & -lo) | (255u & -(hi & ~lo)));
}

/* A progressive DC scan's block: first pass (Ah 0) or refinement. */
static apr_status_t block_dc(bits_t *br, comp_t *c, const huff_t *dct, int ah,
                             int al, int16_t *out)
{
    if (ah == 0) {
        int s = huff_decode(br, dct);
        long dc;

        if (s < 0) {
            return APR_EINVAL;
        }
        dc = c->dc_pred;
        if (s) {
            dc += extend(get_bits(br, s), s);
        }
        if (dc < INT16_MIN || dc > INT16_MAX) {
            return APR_EINVAL;
        }
        c->dc_pred = (int)dc;
        /* libjpeg: (JCOEF)LEFT_SHIFT(s, Al) */
        *out = (int16_t)(uint16_t)((uint32_t)dc << al);
    }
    else if (get_bits(br, 1)) {
        *out = (int16_t)(uint16_t)((uint16_t)*out | (1u << al));
    }
    return br->bits < br->fake ? APR_EINVAL : APR_SUCCESS;
}

/* After a restart interval or the scan: no whole byte of data left over
 * (libjpeg would skip it with a warning), and the reader at a marker. */
static apr_status_t end_of_data(bits_t *br)
{
    if (br->bits - br->fake >= 8) {
        return APR_EINVAL;
    }
    if (!br->hit) {
        /* the byte-aligned remainder: the next thing must be a marker */
        if (br->p >= br->end || *br->p != 0xFF) {
            return APR_EINVAL;
        }
        {
            const uint8_t *q = br->p + 1;
            while (q < br->end && *q == 0xFF) {
                q++;
            }
            if (q >= br->end || *q == 0x00) {
                return APR_EINVAL;
            }
        }
        br->hit = 1;
    }
    return APR_SUCCESS;
}

/* RSTn, expected number n, then a fresh reader. */
static apr_status_t restart(dec_t *d, bits_t *br, int n)
{
    const uint8_t *q;
    int i;

    if (end_of_data(br) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    q = br->p;
    while (q < br->end && *q == 0xFF) {
        q++;
    }
    if (q >= br->end || *q != 0xD0 + (n & 7)) {
        return APR_EINVAL;
    }
    memset(br, 0, sizeof(*br));
    br->p = q + 1;
    br->end = d->end;
    for (i = 0; i < d->ncomp; i++) {
        d->c[i].dc_pred = 0;
    }
    return APR_SUCCESS;
}

/* Past an AC scan's data, to the marker after it (restart markers are
 * part of the scan). */
static apr_status_t skip_scan(dec_t *d)
{
    const uint8_t *p = d->p;

    for (;;) {
        const uint8_t *q;
        p = memchr(p, 0xFF, (size_t)(d->end - p));
        if (!p) {
            return APR_EINVAL;
        }
        q = p + 1;
        while (q < d->end && *q == 0xFF) {
            q++;
        }
        if (q >= d->end) {
            return APR_EINVAL;
        }
        if (*q == 0x00 || (*q >= 0xD0 && *q <= 0xD7)) {
            p = q + 1;
            continue;
        }
        d->p = p;
        return APR_SUCCESS;
    }
}

typedef struct {
    int n;
    comp_t *c[4];
    int ss, se, ah, al;
} scan_t;

/* libjpeg's start_pass_phuff_decoder checks, warnings included. */
static apr_status_t check_progression(const scan_t *sc)
{
    int i, k;

    if (sc->ss == 0) {
        if (sc->se != 0) {
            return APR_EINVAL;
        }
    }
    else if (sc->ss > sc->se || sc->se > 63 || sc->n != 1) {
        return APR_EINVAL;
    }
    if ((sc->ah != 0 && sc->al != sc->ah - 1) || sc->al > 13) {
        return APR_EINVAL;
    }
    for (i = 0; i < sc->n; i++) {
        int8_t *bits = sc->c[i]->bits;
        if (sc->ss != 0 && bits[0] < 0) {
            return APR_EINVAL;
        }
        for (k = sc->ss; k <= sc->se; k++) {
            if (sc->ah != (bits[k] < 0 ? 0 : bits[k])) {
                return APR_EINVAL;
            }
            bits[k] = (int8_t)sc->al;
        }
    }
    return APR_SUCCESS;
}

/* One block of the scan at grid position (bx, by) of component c. */
static apr_status_t scan_block(dec_t *d, bits_t *br, const scan_t *sc,
                               comp_t *c, int bx, int by)
{
    int16_t *out = &c->dc[(size_t)by * (size_t)c->pw + (size_t)bx];

    if (!d->progressive) {
        return block_seq(br, c, &d->dc[c->td], &d->ac[c->ta], out);
    }
    return block_dc(br, c, &d->dc[c->td], sc->ah, sc->al, out);
}

static apr_status_t decode_scan(dec_t *d, const scan_t *sc)
{
    bits_t br;
    long mcus, m, mx, my, cols, rows;
    int i, next_rst = 0;
    apr_status_t rv = APR_SUCCESS;

    memset(&br, 0, sizeof(br));
    br.p = d->p;
    br.end = d->end;
    for (i = 0; i < d->ncomp; i++) {
        d->c[i].dc_pred = 0;
    }
    if (sc->n == 1) {
        /* non-interleaved: the component's own blocks, no padding */
        cols = sc->c[0]->wb;
        rows = sc->c[0]->hb;
    }
    else {
        cols = d->mcux;
        rows = d->mcuy;
    }
    mcus = cols * rows;
    /* the MCU's column and row counted, not divided out of m (a
     * division an MCU) */
    for (m = 0, mx = 0, my = 0; m < mcus; m++) {
        if (d->restart && m > 0 && m % d->restart == 0) {
            if ((rv = restart(d, &br, next_rst++)) != APR_SUCCESS) {
                return rv;
            }
        }
        if (sc->n == 1) {
            rv = scan_block(d, &br, sc, sc->c[0], (int)mx, (int)my);
        }
        for (i = 0; sc->n > 1 && i < sc->n && rv == APR_SUCCESS; i++) {
            comp_t *c = sc->c[i];
            int x, y;
            for (y = 0; y < c->v && rv == APR_SUCCESS; y++) {
                for (x = 0; x < c->h && rv == APR_SUCCESS; x++) {
                    rv = scan_block(d, &br, sc, c, (int)mx * c->h + x,
                                    (int)my * c->v + y);
                }
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (++mx == cols) {
            mx = 0;
            my++;
        }
    }
    if ((rv = end_of_data(&br)) != APR_SUCCESS) {
        return rv;
    }
    d->p = br.p;
    return APR_SUCCESS;
}

static apr_status_t read_sos(dec_t *d, const uint8_t *s, apr_size_t n)
{
    scan_t sc;
    int i, j;
    apr_status_t rv;

    if (!d->frame || n < 1) {
        return APR_EINVAL;
    }
    memset(&sc, 0, sizeof(sc));
    sc.n = s[0];
    if (sc.n < 1 || sc.n > 4 || n != 4 + 2 * (apr_size_t)sc.n ||
        sc.n > d->ncomp) {
        return APR_EINVAL;
    }
    for (i = 0; i < sc.n; i++) {
        int id = s[1 + 2 * i], t = s[2 + 2 * i];
        comp_t *c = NULL;
        for (j = 0; j < d->ncomp; j++) {
            if (d->c[j].id == id) {
                c = &d->c[j];
            }
        }
        for (j = 0; j < i; j++) {
            if (sc.c[j] == c) {
                return APR_EINVAL;
            }
        }
        if (!c || (t >> 4) >= NTABLES || (t & 15) >= NTABLES) {
            return APR_EINVAL;
        }
        c->td = t >> 4;
        c->ta = t & 15;
        if (!d->q_defined[c->tq]) {
            return APR_EINVAL;
        }
        sc.c[i] = c;
    }
    sc.ss = s[1 + 2 * sc.n];
    sc.se = s[2 + 2 * sc.n];
    sc.ah = s[3 + 2 * sc.n] >> 4;
    sc.al = s[3 + 2 * sc.n] & 15;
    if (++d->scans > MAX_SCANS) {
        return APR_EINVAL;
    }
    if (!d->progressive) {
        /* one scan with every component (else libjpeg buffers them all) */
        if (d->scans > 1 || sc.n != d->ncomp) {
            return APR_ENOTIMPL;
        }
        if (sc.ss != 0 || sc.se != 63 || sc.ah != 0 || sc.al != 0) {
            return APR_EINVAL;
        }
        for (i = 0; i < sc.n; i++) {
            if (!d->dc[sc.c[i]->td].defined || !d->ac[sc.c[i]->ta].h.defined) {
                return APR_EINVAL;
            }
        }
        for (i = 0; i < sc.n; i++) {
            sc.c[i]->bits[0] = 0;
        }
        return decode_scan(d, &sc);
    }
    if ((rv = check_progression(&sc)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < sc.n; i++) {
        const huff_t *t = sc.ss ? &d->ac[sc.c[i]->ta].h : &d->dc[sc.c[i]->td];
        if ((sc.ss || sc.ah == 0) && !t->defined) {
            return APR_EINVAL;
        }
    }
    return sc.ss ? skip_scan(d) : decode_scan(d, &sc);
}

/* ----------------------------------------------------------- output */

/* libjpeg-turbo's jpeg_idct_1x1 and its range limit: (DC * q + 4) >> 3,
 * wrapped to 10 bits, + 128, clamped. */
static uint8_t idct_1x1(int16_t coef, uint16_t q)
{
    int v = (int)coef * (int)(int16_t)q; /* ISLOW_MULT_TYPE is short */

    return range_limit((v + 4) >> 3);
}

/* jdcolor.c's fixed-point YCbCr to RGB. */
#define SCALEBITS 16
#define ONE_HALF  ((int32_t)1 << (SCALEBITS - 1))
#define FIX(x)    ((int32_t)((x) * (1L << SCALEBITS) + 0.5))

static uint8_t clamp8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* 4:2:0: libjpeg decodes chroma at 1/4 (a 2x2 IDCT, AC terms
 * included), which DC alone cannot give; the nearest is the triangle
 * filter of libjpeg's fancy upsampling over the blocks' samples: 3/4 of
 * this block and 1/4 of the neighbour each way, at the centres of the
 * 2x2 outputs. One output row of component c into row (w samples). */
static void chroma_420_row(const comp_t *c, int y, int w, int *colsum,
                           uint8_t *row)
{
    int by = y >> 1, ny = (y & 1) ? by + 1 : by - 1, bx, x;
    const int16_t *r0, *r1;

    ny = ny < 0 ? 0 : ny >= c->hb ? c->hb - 1 : ny;
    r0 = c->dc + (size_t)by * (size_t)c->pw;
    r1 = c->dc + (size_t)ny * (size_t)c->pw;
    for (bx = 0; bx < c->wb; bx++) {
        colsum[bx] = 3 * r0[bx] + r1[bx];
    }
    /* the first and last samples, whose neighbour is clamped to the edge,
     * apart: the loop between has no branch (and is vectorised) */
    for (x = 0; x < w && x < 2; x++) {
        int n = x == 1 && c->wb > 1 ? 1 : 0;
        row[x] = (uint8_t)((3 * colsum[0] + colsum[n] + 8) >> 4);
    }
    for (x = 2; x + 1 < w && (x >> 1) + 1 < c->wb; x += 2) {
        int b = x >> 1;
        row[x] = (uint8_t)((3 * colsum[b] + colsum[b - 1] + 8) >> 4);
        row[x + 1] = (uint8_t)((3 * colsum[b] + colsum[b + 1] + 8) >> 4);
    }
    for (; x < w; x++) {
        int b = x >> 1, n = (x & 1) ? b + 1 : b - 1;
        n = n < 0 ? 0 : n >= c->wb ? c->wb - 1 : n;
        row[x] = (uint8_t)((3 * colsum[b] + colsum[n] + 8) >> 4);
    }
}

/* Each block's DC coefficient replaced by its 1/8 sample, in place. */
static void to_samples(dec_t *d)
{
    int i, x, y;

    for (i = 0; i < d->ncomp; i++) {
        comp_t *c = &d->c[i];
        uint16_t q = d->q[c->tq][0];
        for (y = 0; y < c->hb; y++) {
            int16_t *row = c->dc + (size_t)y * (size_t)c->pw;
            for (x = 0; x < c->wb; x++) {
                row[x] = idct_1x1(row[x], q);
            }
        }
    }
}

static void ycc_rows(dec_t *d, uint8_t *px, int w, int h, int *colsum,
                     uint8_t *cbrow, uint8_t *crrow)
{
    int cr_r[256], cb_b[256], x, y, i;
    int32_t cr_g[256], cb_g[256];
    const comp_t *cy = &d->c[0], *cb = &d->c[1], *cr = &d->c[2];
    /* other than 4:2:0, chroma is replicated (libjpeg's upsampling has no
     * "fancy" at this scale) */
    int sx = d->hmax / cb->h, sy = d->vmax / cb->v;
    int fancy = sx == 2 && sy == 2;

    for (i = 0; i < 256; i++) {
        int32_t v = i - 128;
        cr_r[i] = (int)((FIX(1.40200) * v + ONE_HALF) >> SCALEBITS);
        cb_b[i] = (int)((FIX(1.77200) * v + ONE_HALF) >> SCALEBITS);
        cr_g[i] = -FIX(0.71414) * v;
        cb_g[i] = -FIX(0.34414) * v + ONE_HALF;
    }
    for (y = 0; y < h; y++) {
        const int16_t *ry = cy->dc + (size_t)y * (size_t)cy->pw;
        if (fancy) {
            chroma_420_row(cb, y, w, colsum, cbrow);
            chroma_420_row(cr, y, w, colsum, crrow);
        }
        else {
            const int16_t *rb = cb->dc + (size_t)(y / sy) * (size_t)cb->pw;
            const int16_t *rr = cr->dc + (size_t)(y / sy) * (size_t)cr->pw;
            for (x = 0; x < w; x++) {
                cbrow[x] = (uint8_t)rb[x / sx];
                crrow[x] = (uint8_t)rr[x / sx];
            }
        }
        for (x = 0; x < w; x++) {
            int Y = ry[x], Cb = cbrow[x], Cr = crrow[x];
            px[0] = clamp8(Y + cr_r[Cr]);
            px[1] = clamp8(Y + (int)((cb_g[Cb] + cr_g[Cr]) >> SCALEBITS));
            px[2] = clamp8(Y + cb_b[Cb]);
            px += 3;
        }
    }
}

static apr_status_t make_output(dec_t *d, pv_jpeg_dc_t *out)
{
    int w = ceil_div(d->width, 8), h = ceil_div(d->height, 8);
    int bands = d->ncomp == 1 ? 1 : 3, x, y, i;
    uint8_t *px = NULL, *rows;
    int *colsum;

    for (i = 0; i < d->ncomp; i++) {
        if (d->c[i].bits[0] < 0) {
            return APR_EINVAL; /* a component without its DC scan */
        }
    }
    to_samples(d);
    px = d->px;
    out->width = w;
    out->height = h;
    out->bands = bands;
    out->pixels = px;
    if (bands == 1) {
        const comp_t *c = &d->c[0];
        for (y = 0; y < h; y++) {
            const int16_t *row = c->dc + (size_t)y * (size_t)c->pw;
            for (x = 0; x < w; x++) {
                *px++ = (uint8_t)row[x];
            }
        }
    }
    else {
        /* w is at most 8189: scratch rows in the pool */
        rows = apr_palloc(d->pool, 2 * (size_t)w);
        colsum = apr_palloc(d->pool, sizeof(int) * (size_t)d->c[1].wb);
        ycc_rows(d, px, w, h, colsum, rows, rows + w);
    }
    return APR_SUCCESS;
}

/* libjpeg's jpeg_color_space guess for three components (jdapimin.c):
 * YCbCr, or something this decoder leaves alone. */
static apr_status_t check_colour(const dec_t *d)
{
    if (d->ncomp == 1 || d->jfif) {
        return APR_SUCCESS;
    }
    if (d->adobe) {
        return d->adobe_transform == 1 ? APR_SUCCESS : APR_ENOTIMPL;
    }
    if (d->c[0].id == 'R' && d->c[1].id == 'G' && d->c[2].id == 'B') {
        return APR_ENOTIMPL;
    }
    return APR_SUCCESS;
}

static apr_status_t take_icc(dec_t *d, pv_jpeg_dc_t *out)
{
    apr_size_t total = 0, off = 0;
    unsigned char *icc;
    int i;

    for (i = 0; i < d->icc_count; i++) {
        if (!d->icc_part[i]) {
            return APR_ENOTIMPL; /* a chunk missing */
        }
        total += d->icc_part_len[i];
        if (total > PV_JPEG_DC_MAX_ICC) {
            return APR_ENOTIMPL;
        }
    }
    if (total == 0) {
        return d->icc_count ? APR_ENOTIMPL : APR_SUCCESS;
    }
    icc = apr_palloc(d->pool, total);
    for (i = 0; i < d->icc_count; i++) {
        memcpy(icc + off, d->icc_part[i], d->icc_part_len[i]);
        off += d->icc_part_len[i];
    }
    out->icc = icc;
    out->icc_len = total;
    return APR_SUCCESS;
}

/* ----------------------------------------------------------- markers */

/* The next marker at d->p: 0xFF, fill 0xFFs, the code. No garbage before
 * it (libjpeg warns of "extraneous bytes"). */
static apr_status_t next_marker(dec_t *d, unsigned *pm)
{
    if (d->p >= d->end || *d->p != 0xFF) {
        return APR_EINVAL;
    }
    while (d->p < d->end && *d->p == 0xFF) {
        d->p++;
    }
    if (d->p >= d->end || *d->p == 0x00) {
        return APR_EINVAL;
    }
    *pm = *d->p++;
    return APR_SUCCESS;
}

static apr_status_t segment(dec_t *d, unsigned m)
{
    const uint8_t *s;
    apr_size_t n;

    if ((apr_size_t)(d->end - d->p) < 2) {
        return APR_EINVAL;
    }
    n = be16(d->p);
    if (n < 2 || (apr_size_t)(d->end - d->p) < n) {
        return APR_EINVAL;
    }
    s = d->p + 2;
    n -= 2;
    d->p += n + 2;
    if (m == 0xC0 || m == 0xC1 || m == 0xC2) {
        return read_sof(d, m, s, n);
    }
    if ((m >= 0xC3 && m <= 0xCF && m != 0xC4) || m == 0xDC || m == 0xDE ||
        m == 0xDF) {
        /* lossless, hierarchical, arithmetic; DNL, DHP, EXP */
        return APR_ENOTIMPL;
    }
    switch (m) {
        case 0xC4:
            return read_dht(d, s, n);
        case 0xDB:
            return read_dqt(d, s, n);
        case 0xDD:
            if (n != 2) {
                return APR_EINVAL;
            }
            d->restart = (int)be16(s);
            return APR_SUCCESS;
        case 0xDA:
            return read_sos(d, s, n);
        case 0xFE:
            return APR_SUCCESS;
    }
    if (m >= 0xE0 && m <= 0xEF) {
        return read_app(d, m, s, n);
    }
    return APR_EINVAL;
}

/* A progressive file in which a component's AC coefficients 1 to 9 never
 * came (its DC scans alone, or AC scans of later places only): libjpeg
 * (2.1's block smoothing) then estimates its DC from the neighbouring
 * blocks', which its 1/8 output shows. Declined, for libjpeg to decode as
 * it does; found by the differential fuzzer (tests/fuzz/fuzz_jpeg_dc.c). */
static apr_status_t check_smoothing(const dec_t *d)
{
    int i, k;

    for (i = 0; d->progressive && i < d->ncomp; i++) {
        for (k = 1; k <= 9 && d->c[i].bits[k] < 0; k++) {
        }
        if (k > 9) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t decode(pv_jpeg_dc_t **pout, const unsigned char *buf,
                           apr_size_t len, apr_uint64_t max_alloc,
                           apr_pool_t *p)
{
    dec_t *d;
    pv_jpeg_dc_t *out;
    apr_status_t rv = APR_SUCCESS;
    unsigned m;
    int steps;

    /* pv_scratch: kept, faulted in, for the next file */
    if (pv_scratch_take((void **)&d, sizeof(*d)) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    memset(d, 0, sizeof(*d));
    d->b = d->p = buf;
    d->end = buf + len;
    d->pool = p;
    d->max_alloc = max_alloc;
    d->orientation = 1;
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8) {
        FAIL(APR_EINVAL);
    }
    d->p += 2;
    for (steps = 0; !d->eoi; steps++) {
        if (steps > MAX_MARKERS) {
            FAIL(APR_EINVAL);
        }
        if ((rv = next_marker(d, &m)) != APR_SUCCESS) {
            goto cleanup;
        }
        if (m == 0xD9) {
            d->eoi = 1;
        }
        else if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            FAIL(APR_EINVAL);
        }
        else if ((rv = segment(d, m)) != APR_SUCCESS) {
            goto cleanup;
        }
    }
    if (!d->frame || !d->scans) {
        FAIL(APR_EINVAL);
    }
    if ((rv = check_smoothing(d)) != APR_SUCCESS ||
        (rv = check_colour(d)) != APR_SUCCESS) {
        goto cleanup;
    }
    out = apr_pcalloc(p, sizeof(*out));
    out->orientation = d->orientation;
    if ((rv = take_icc(d, out)) != APR_SUCCESS) {
        goto cleanup;
    }
    if ((rv = make_output(d, out)) != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = out;

cleanup:
    pv_scratch_give(d);
    return rv;
}

apr_status_t pv_jpeg_dc_decode(pv_jpeg_dc_t **pout, const unsigned char *buf,
                               apr_size_t len, apr_uint64_t max_alloc,
                               apr_pool_t *p)
{
    return decode(pout, buf, len, max_alloc, p);
}
