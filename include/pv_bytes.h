/* Big-endian fixed-width fields, for the byte strings the core hashes and
 * MACs (cache keys, owner-cache keys and values): one encoding, no two
 * inputs alike. */
#ifndef PV_BYTES_H
#define PV_BYTES_H

#include <apr.h>

static inline unsigned char *pv_put_u32(unsigned char *b, apr_uint32_t v)
{
    int i;

    for (i = 3; i >= 0; i--) {
        *b++ = (unsigned char)(v >> (i * 8));
    }
    return b;
}

static inline unsigned char *pv_put_u64(unsigned char *b, apr_uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        *b++ = (unsigned char)(v >> (i * 8));
    }
    return b;
}

/* The n-byte (n <= 8) big-endian number at b. */
static inline apr_uint64_t pv_get_be(const unsigned char *b, int n)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

#endif /* PV_BYTES_H */
