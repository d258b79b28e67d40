/* The key ring: PreviewKeyFile parsed once at start-up. */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pv_b64url.h"
#include "pv_keyring.h"

/* A key file is a handful of lines; anything bigger is a wrong path. */
#define PV_KEYFILE_MAX_BYTES (64 * 1024)
/* Longest secret we accept: 512 bytes is far beyond any HMAC block size. */
#define PV_KEY_MAX_BYTES 512

struct pv_keyring_t {
    apr_pool_t *pool;
    apr_array_header_t *keys; /* pv_key_t, first one signs */
};

/* Secrets must not outlive the ring in freed heap memory. */
static apr_status_t ring_cleanse(void *data)
{
    pv_keyring_t *ring = data;
    int i;

    for (i = 0; i < ring->keys->nelts; i++) {
        pv_key_t *k = &APR_ARRAY_IDX(ring->keys, i, pv_key_t);
        OPENSSL_cleanse((void *)k->secret, k->secret_len);
    }
    return APR_SUCCESS;
}

pv_keyring_t *pv_keyring_make(apr_pool_t *p)
{
    pv_keyring_t *ring = apr_pcalloc(p, sizeof(*ring));

    ring->pool = p;
    ring->keys = apr_array_make(p, 4, sizeof(pv_key_t));
    apr_pool_cleanup_register(p, ring, ring_cleanse, apr_pool_cleanup_null);
    return ring;
}

void pv_keyring_add(pv_keyring_t *ring, const char *kid,
                    const unsigned char *secret, apr_size_t len)
{
    pv_key_t *k = apr_array_push(ring->keys);

    k->kid = apr_pstrdup(ring->pool, kid);
    k->secret = apr_pmemdup(ring->pool, secret, len);
    k->secret_len = len;
}

const pv_key_t *pv_keyring_signer(const pv_keyring_t *ring)
{
    if (!ring || ring->keys->nelts == 0) {
        return NULL;
    }
    return &APR_ARRAY_IDX(ring->keys, 0, pv_key_t);
}

const pv_key_t *pv_keyring_find(const pv_keyring_t *ring, const char *kid,
                                apr_size_t kid_len)
{
    int i;

    if (!ring) {
        return NULL;
    }
    for (i = 0; i < ring->keys->nelts; i++) {
        const pv_key_t *k = &APR_ARRAY_IDX(ring->keys, i, pv_key_t);
        if (strlen(k->kid) == kid_len && memcmp(k->kid, kid, kid_len) == 0) {
            return k;
        }
    }
    return NULL;
}

int pv_keyring_count(const pv_keyring_t *ring)
{
    return ring ? ring->keys->nelts : 0;
}

const pv_key_t *pv_keyring_get(const pv_keyring_t *ring, int i)
{
    if (!ring || i < 0 || i >= ring->keys->nelts) {
        return NULL;
    }
    return &APR_ARRAY_IDX(ring->keys, i, pv_key_t);
}

int pv_keyring_kid_valid(const char *kid, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > PV_KID_MAX_LEN) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = kid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The word at *ps (up to a blank or end) and its length; *ps moves past it
 * and the blanks after it. */
static const char *take_word(const char **ps, const char *end, apr_size_t *plen)
{
    const char *word = *ps, *s = *ps;

    while (s < end && !is_blank(*s)) {
        ++s;
    }
    *plen = (apr_size_t)(s - word);
    while (s < end && is_blank(*s)) {
        ++s;
    }
    *ps = s;
    return word;
}

/* One line "<kid> <secret>", trimmed and not a comment, into ring; on
 * failure *perr names name and lineno (never the secret). */
static apr_status_t parse_line(pv_keyring_t *ring, const char **perr,
                               const char *line, const char *end,
                               const char *name, int lineno, apr_pool_t *p)
{
    unsigned char secret[PV_KEY_MAX_BYTES];
    apr_size_t kid_len, sec_len, secret_len = 0;
    const char *kid, *sec;
    apr_status_t rv = APR_EINVAL;

    if (memchr(line, '\0', (apr_size_t)(end - line))) {
        *perr = apr_psprintf(p, "%s:%d: NUL byte in line", name, lineno);
        goto cleanup;
    }
    kid = take_word(&line, end, &kid_len);
    sec = take_word(&line, end, &sec_len);
    if (sec_len == 0) {
        *perr =
            apr_psprintf(p, "%s:%d: expected '<kid> <secret>'", name, lineno);
        goto cleanup;
    }
    if (line != end) {
        *perr = apr_psprintf(p,
                             "%s:%d: extra text after the secret "
                             "(expected '<kid> <secret>')",
                             name, lineno);
        goto cleanup;
    }
    if (!pv_keyring_kid_valid(kid, kid_len)) {
        *perr = apr_psprintf(p,
                             "%s:%d: bad key id (1 to %d characters of "
                             "A-Z a-z 0-9 . _ -)",
                             name, lineno, PV_KID_MAX_LEN);
        goto cleanup;
    }
    if (pv_keyring_find(ring, kid, kid_len)) {
        *perr = apr_psprintf(p, "%s:%d: duplicate key id '%.*s'", name, lineno,
                             (int)kid_len, kid);
        goto cleanup;
    }
    if (pv_b64url_decode(secret, &secret_len, sizeof(secret), sec, sec_len) !=
        0) {
        *perr = apr_psprintf(p,
                             "%s:%d: secret is not base64url without "
                             "padding (or longer than %d bytes)",
                             name, lineno, PV_KEY_MAX_BYTES);
        goto cleanup;
    }
    if (secret_len < PV_KEY_MIN_BYTES) {
        *perr = apr_psprintf(p,
                             "%s:%d: secret too short (%" APR_SIZE_T_FMT
                             " bytes, at least %d required)",
                             name, lineno, secret_len, PV_KEY_MIN_BYTES);
        goto cleanup;
    }
    pv_keyring_add(ring, apr_pstrndup(p, kid, kid_len), secret, secret_len);
    rv = APR_SUCCESS;

cleanup:
    OPENSSL_cleanse(secret, sizeof(secret));
    return rv;
}

apr_status_t pv_keyring_parse(pv_keyring_t **pout, const char **perr,
                              const char *text, apr_size_t len,
                              const char *name, apr_pool_t *p)
{
    pv_keyring_t *ring = pv_keyring_make(p);
    apr_size_t pos = 0;
    apr_status_t rv = APR_SUCCESS;
    int lineno = 0;

    *perr = NULL;
    while (pos < len) {
        const char *line = text + pos, *nl, *end;

        nl = memchr(line, '\n', len - pos);
        end = nl ? nl : text + len;
        pos = (apr_size_t)(end - text) + (nl ? 1 : 0);
        ++lineno;

        while (line < end && is_blank(*line)) {
            ++line;
        }
        while (end > line && is_blank(end[-1])) {
            --end;
        }
        if (line == end || *line == '#') {
            continue;
        }
        rv = parse_line(ring, perr, line, end, name, lineno, p);
        if (rv != APR_SUCCESS) {
            goto cleanup;
        }
    }
    if (ring->keys->nelts == 0) {
        *perr = apr_psprintf(p, "%s: no key (expected lines '<kid> <secret>')",
                             name);
        rv = APR_EINVAL;
        goto cleanup;
    }
    *pout = ring;

cleanup:
    return rv;
}

/* The length sits in front of the bytes (see pv_keyring_file_read). */
static apr_status_t file_cleanse(void *data)
{
    unsigned char *s = data;

    OPENSSL_cleanse(s + sizeof(apr_size_t), *(apr_size_t *)s);
    return APR_SUCCESS;
}

apr_status_t pv_keyring_file_read(unsigned char **pout, apr_size_t *plen,
                                  const char **perr, const char *path,
                                  const char *what, apr_size_t max,
                                  apr_pool_t *p)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_size_t len = 0;
    unsigned char *mem, *buf;
    char ebuf[128];
    apr_status_t rv;

    *perr = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: cannot open %s: %s", path, what,
                             apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto cleanup;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: cannot stat %s: %s", path, what,
                             apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto cleanup;
    }
    if (fi.filetype != APR_REG || fi.size < 0 || (apr_size_t)fi.size > max) {
        *perr = apr_psprintf(
            p, "%s: not a regular file of at most %" APR_SIZE_T_FMT " bytes",
            path, max);
        rv = APR_EINVAL;
        goto cleanup;
    }
    mem = apr_palloc(p, sizeof(apr_size_t) + (apr_size_t)fi.size + 1);
    buf = mem + sizeof(apr_size_t);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &len);
    if (APR_STATUS_IS_EOF(rv) && len == 0) {
        rv = APR_SUCCESS;
    }
    memcpy(mem, &len, sizeof(len));
    apr_pool_cleanup_register(p, mem, file_cleanse, apr_pool_cleanup_null);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: cannot read %s: %s", path, what,
                             apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto cleanup;
    }
    buf[len] = '\0';
    *pout = buf;
    *plen = len;

cleanup:
    if (f) {
        apr_file_close(f);
    }
    return rv;
}

apr_status_t pv_keyring_load(pv_keyring_t **pout, const char **perr,
                             const char *path, apr_pool_t *p)
{
    unsigned char *text;
    apr_size_t len;
    apr_status_t rv = pv_keyring_file_read(&text, &len, perr, path, "key file",
                                           PV_KEYFILE_MAX_BYTES, p);

    if (rv == APR_SUCCESS) {
        rv = pv_keyring_parse(pout, perr, (const char *)text, len, path, p);
        /* the secrets are in the ring now: none left in the text */
        OPENSSL_cleanse(text, len);
    }
    return rv;
}

apr_status_t pv_keyring_genkey(const char **pout, apr_pool_t *p)
{
    unsigned char secret[32], tag[3];
    char sec64[PV_B64URL_ENC_LEN(sizeof(secret)) + 1], date[16];
    apr_time_exp_t tm;
    apr_size_t dlen;
    apr_status_t rv = APR_SUCCESS;

    if (RAND_bytes(secret, sizeof(secret)) != 1 ||
        RAND_bytes(tag, sizeof(tag)) != 1) {
        rv = APR_EGENERAL;
        goto cleanup;
    }
    /* kid: creation date for the operator, random tail against clashes */
    apr_time_exp_gmt(&tm, apr_time_now());
    apr_strftime(date, &dlen, sizeof(date), "%Y%m%d", &tm);
    pv_b64url_encode(sec64, secret, sizeof(secret));
    *pout = apr_psprintf(p, "%s-%02x%02x%02x %s", date, tag[0], tag[1], tag[2],
                         sec64);

cleanup:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(sec64, sizeof(sec64));
    return rv;
}
