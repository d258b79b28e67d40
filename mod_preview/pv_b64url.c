/* base64url without padding: the JWS alphabet, strict. */
#include "pv_b64url.h"

static const char enc_tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for the alphabet, 64 for anything else (a table: no branches on
 * the character, cheap on the verify path). A row a line, kept so by hand. */
/* clang-format off */
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
static const unsigned char dec_tab[256] = {
    /* 0x00 */ X64, X64,
    /* 0x20 */ 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    /* 0x40 */ 64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    /* 0x60 */ 64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    /* 0x80 */ X64, X64, X64, X64, X64, X64, X64, X64
};
#undef X64
/* clang-format on */

apr_size_t pv_b64url_encode(char *out, const unsigned char *in, apr_size_t n)
{
    apr_size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = enc_tab[in[i] >> 2];
        out[o++] = enc_tab[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
        out[o++] = enc_tab[((in[i + 1] & 0x0f) << 2) | (in[i + 2] >> 6)];
        out[o++] = enc_tab[in[i + 2] & 0x3f];
    }
    if (n - i == 1) {
        out[o++] = enc_tab[in[i] >> 2];
        out[o++] = enc_tab[(in[i] & 0x03) << 4];
    }
    else if (n - i == 2) {
        out[o++] = enc_tab[in[i] >> 2];
        out[o++] = enc_tab[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
        out[o++] = enc_tab[(in[i + 1] & 0x0f) << 2];
    }
    out[o] = '\0';
    return o;
}

int pv_b64url_decode(unsigned char *out, apr_size_t *outlen, apr_size_t outmax,
                     const char *in, apr_size_t n)
{
    apr_size_t i, o = 0, rem = n % 4;
    unsigned char a, b, c, d;

    if (rem == 1 || PV_B64URL_DEC_MAX(n) > outmax) {
        return -1;
    }
    for (i = 0; i + 4 <= n; i += 4) {
        a = dec_tab[(unsigned char)in[i]];
        b = dec_tab[(unsigned char)in[i + 1]];
        c = dec_tab[(unsigned char)in[i + 2]];
        d = dec_tab[(unsigned char)in[i + 3]];
        if ((a | b | c | d) & 64) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)((b << 4) | (c >> 2));
        out[o++] = (unsigned char)((c << 6) | d);
    }
    if (rem) {
        a = dec_tab[(unsigned char)in[i]];
        b = dec_tab[(unsigned char)in[i + 1]];
        c = rem == 3 ? dec_tab[(unsigned char)in[i + 2]] : 0;
        if ((a | b | c) & 64) {
            return -1;
        }
        /* unused low bits must be zero: one spelling per byte string */
        if ((rem == 2 && (b & 0x0f)) || (rem == 3 && (c & 0x03))) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        if (rem == 3) {
            out[o++] = (unsigned char)((b << 4) | (c >> 2));
        }
    }
    *outlen = o;
    return 0;
}
