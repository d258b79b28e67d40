/* base64url without padding (RFC 4648 section 5, as JWS uses it): strict
 * decoding into caller buffers, no allocation. */
#ifndef PV_B64URL_H
#define PV_B64URL_H

#include <apr.h>

/* Characters needed to encode n bytes (no padding, no NUL). */
#define PV_B64URL_ENC_LEN(n) (((n)*4 + 2) / 3)
/* Upper bound of the bytes n characters decode to. */
#define PV_B64URL_DEC_MAX(n) (((n)*3) / 4)

/* Encode n bytes into out (room for PV_B64URL_ENC_LEN(n) + 1); writes a NUL
 * and returns the length without it. */
apr_size_t pv_b64url_encode(char *out, const unsigned char *in, apr_size_t n);

/* Decode n characters into out (room for outmax bytes). Refuses (returns
 * -1) any character outside A-Z a-z 0-9 - _, padding '=', a length of 4k+1,
 * non-zero unused trailing bits (a second spelling of the same bytes), and
 * output over outmax. On success returns 0 and sets *outlen. */
int pv_b64url_decode(unsigned char *out, apr_size_t *outlen, apr_size_t outmax,
                     const char *in, apr_size_t n);

#endif /* PV_B64URL_H */
