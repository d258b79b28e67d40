/* The key ring of PreviewKeyFile: lines "<kid> <secret>", the secret
 * base64url of at least 32 bytes, '#' comments and blank lines ignored.
 * The first key signs; every key verifies (rotation). */
#ifndef PV_KEYRING_H
#define PV_KEYRING_H

#include <apr_pools.h>
#include <apr_tables.h>

#define PV_KEY_MIN_BYTES 32
#define PV_KID_MAX_LEN   64

typedef struct pv_key_t {
    const char *kid;
    const unsigned char *secret;
    apr_size_t secret_len;
} pv_key_t;

typedef struct pv_keyring_t pv_keyring_t;

/* Load a key file. On failure returns non-zero and sets *perr to a message
 * naming the file and line (never the secret). */
apr_status_t pv_keyring_load(pv_keyring_t **pout, const char **perr,
                             const char *path, apr_pool_t *p);

/* Read a file of secrets whole: a regular file of at most max bytes, into
 * p, NUL-terminated, its bytes cleansed when p is cleared. On failure
 * returns non-zero and sets *perr to "<path>: cannot open|stat|read <what>:
 * <reason>" or "<path>: not a regular file of at most <max> bytes". */
apr_status_t pv_keyring_file_read(unsigned char **pout, apr_size_t *plen,
                                  const char **perr, const char *path,
                                  const char *what, apr_size_t max,
                                  apr_pool_t *p);

/* Parse key file text already in memory (tests, fuzzers); name is used in
 * error messages only. */
apr_status_t pv_keyring_parse(pv_keyring_t **pout, const char **perr,
                              const char *text, apr_size_t len,
                              const char *name, apr_pool_t *p);

/* An empty ring to fill with pv_keyring_add (legacy secret, tests). */
pv_keyring_t *pv_keyring_make(apr_pool_t *p);
void pv_keyring_add(pv_keyring_t *ring, const char *kid,
                    const unsigned char *secret, apr_size_t len);

/* The signing key (the first), or NULL for an empty ring. */
const pv_key_t *pv_keyring_signer(const pv_keyring_t *ring);
/* The key with that kid, or NULL. */
const pv_key_t *pv_keyring_find(const pv_keyring_t *ring, const char *kid,
                                apr_size_t kid_len);
int pv_keyring_count(const pv_keyring_t *ring);
/* The i-th key (0 signs), or NULL when out of range. */
const pv_key_t *pv_keyring_get(const pv_keyring_t *ring, int i);
/* 1 when kid is 1..PV_KID_MAX_LEN characters of A-Z a-z 0-9 . _ - (safe to
 * put in a JSON header unescaped), else 0. */
int pv_keyring_kid_valid(const char *kid, apr_size_t len);

/* A fresh "<kid> <secret>" line (no newline), secret of 32 random bytes. */
apr_status_t pv_keyring_genkey(const char **pout, apr_pool_t *p);

#endif /* PV_KEYRING_H */
