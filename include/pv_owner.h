/* The owner cache's keys and values (PreviewOwnerCacheTimeout): what the
 * glue stores in the shared cache (PreviewSOCache) for an answer of
 * PreviewImageQuery, and checks when it reads it back.
 *
 * The store is shared by every node and may be written by anyone who
 * reaches it (a redis on the network), so nothing read from it is trusted:
 * every key and value is made under a namespace secret derived from the
 * signing key that verified the token (every node that accepts the token
 * holds it; none who lacks it can compute a key or forge a value), a
 * value's MAC covers its key (a value moved to another key, another
 * user's or image's, is refused), and its expiry and lengths are checked.
 *
 * Two kinds of entry:
 * - a user's generation: a random 64-bit number, and the least
 *   token_version that user's tokens may still carry (the one after the
 *   last logout through the module). A logout writes a new one: every
 *   entry made under the old one is never found again.
 * - an answer: (user, image, generation) -> token_version and path (or
 *   none: the image is missing or someone else's). */
#ifndef PV_OWNER_H
#define PV_OWNER_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

#define PV_OWNER_KEY_LEN 32
#define PV_OWNER_NS_LEN  32
/* The longest path kept: the database's own bound on a path it returns
 * (PV_DB_PATH_MAX). */
#define PV_OWNER_PATH_MAX 1024
#define PV_OWNER_MAC_LEN  32
/* A user's generation: magic, min_version, gen, expires, MAC. */
#define PV_OWNER_GEN_LEN (4 + 4 + 8 + 8 + PV_OWNER_MAC_LEN)
/* An answer, longest: magic, token_version, expires, flags, path length,
 * path, MAC. */
#define PV_OWNER_ENTRY_MAX                                                     \
    (4 + 4 + 8 + 2 + 2 + PV_OWNER_PATH_MAX + PV_OWNER_MAC_LEN)

/* A value read back is refused: wrong length, magic, MAC or expiry. */
#define PV_OWNER_BAD (APR_OS_START_USERERR + 1510)

/* A namespace: its HMAC-SHA256 keyed once (made at start-up, read-only
 * afterwards: every MAC duplicates it, so threads may share it). */
typedef struct pv_owner_ns_t {
    struct evp_mac_ctx_st *mac;
} pv_owner_ns_t;

typedef struct pv_owner_gen_t {
    apr_uint64_t gen;
    apr_uint32_t min_version; /* tokens with a lower ver are revoked */
    apr_time_t expires;
} pv_owner_gen_t;

typedef struct pv_owner_answer_t {
    apr_uint32_t token_version;
    const char *path; /* NULL: no such image, or not this user's */
    apr_size_t path_len;
    apr_time_t expires;
} pv_owner_answer_t;

/* The namespace of a signing key: keyed with HMAC-SHA256 of a label under
 * the key's secret; released with pool p. */
apr_status_t pv_owner_ns(pv_owner_ns_t **pout, const unsigned char *key_secret,
                         apr_size_t key_len, apr_pool_t *p);

void pv_owner_gen_key(unsigned char key[PV_OWNER_KEY_LEN],
                      const pv_owner_ns_t *ns, apr_uint64_t user);
void pv_owner_entry_key(unsigned char key[PV_OWNER_KEY_LEN],
                        const pv_owner_ns_t *ns, apr_uint64_t user,
                        apr_uint64_t image, apr_uint64_t gen);

/* A fresh generation (random gen) expiring at expires. */
apr_status_t pv_owner_gen_new(pv_owner_gen_t *out, apr_uint32_t min_version,
                              apr_time_t expires);

/* buf: PV_OWNER_GEN_LEN bytes. */
void pv_owner_gen_encode(unsigned char *buf, const pv_owner_ns_t *ns,
                         const unsigned char key[PV_OWNER_KEY_LEN],
                         const pv_owner_gen_t *g);
/* PV_OWNER_BAD unless len, magic and MAC are right and now < expires <=
 * now + max_age. */
apr_status_t pv_owner_gen_decode(pv_owner_gen_t *out, const pv_owner_ns_t *ns,
                                 const unsigned char key[PV_OWNER_KEY_LEN],
                                 const unsigned char *buf, apr_size_t len,
                                 apr_time_t now, apr_interval_time_t max_age);

/* *plen: bytes written to buf (PV_OWNER_ENTRY_MAX long). APR_EINVAL: the
 * path is too long (or holds a NUL) to be kept. */
apr_status_t pv_owner_answer_encode(unsigned char *buf, apr_size_t *plen,
                                    const pv_owner_ns_t *ns,
                                    const unsigned char key[PV_OWNER_KEY_LEN],
                                    const pv_owner_answer_t *a);
/* The path is copied into p. PV_OWNER_BAD as for the generation. */
apr_status_t pv_owner_answer_decode(pv_owner_answer_t **pout,
                                    const pv_owner_ns_t *ns,
                                    const unsigned char key[PV_OWNER_KEY_LEN],
                                    const unsigned char *buf, apr_size_t len,
                                    apr_time_t now, apr_interval_time_t max_age,
                                    apr_pool_t *p);

#endif /* PV_OWNER_H */
