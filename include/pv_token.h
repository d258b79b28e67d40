/* Signed tokens: compact JWS (HS256/384/512) with our claims, and, when
 * enabled, the legacy itsdangerous TimedJSONWebSignatureSerializer format. */
#ifndef PV_TOKEN_H
#define PV_TOKEN_H

#include <apr_pools.h>
#include <apr_time.h>

#include "pv_keyring.h"

#define PV_TOKEN_MAX_LEN  4096
#define PV_TOKEN_AUDIENCE "preview"

typedef enum {
    PV_ALG_HS256 = 1 << 0,
    PV_ALG_HS384 = 1 << 1,
    PV_ALG_HS512 = 1 << 2
} pv_alg_e;

/* Why a token was refused. The glue maps each to a log line; none carries
 * the token, its signature or a key. */
typedef enum {
    PV_TOKEN_OK = 0,
    PV_TOKEN_EMPTY,         /* no token at all */
    PV_TOKEN_TOO_LONG,      /* over PV_TOKEN_MAX_LEN, refused before parsing */
    PV_TOKEN_MALFORMED,     /* not three base64url parts */
    PV_TOKEN_BAD_JSON,      /* header or claims not a strict JSON object */
    PV_TOKEN_DUPLICATE_KEY, /* a JSON object repeats a key */
    PV_TOKEN_BAD_ALG,       /* alg missing, "none", or not allowed */
    PV_TOKEN_UNKNOWN_KID,   /* kid names no key of the ring */
    PV_TOKEN_BAD_SIGNATURE, /* HMAC does not match */
    PV_TOKEN_MISSING_CLAIM, /* exp, sub or aud absent */
    PV_TOKEN_BAD_CLAIM,     /* a claim of the wrong type or range */
    PV_TOKEN_EXPIRED,       /* exp + leeway <= now */
    PV_TOKEN_NOT_YET_VALID, /* iat > now + leeway */
    PV_TOKEN_BAD_AUDIENCE,  /* aud is not "preview" */
    PV_TOKEN_BAD_SUBJECT,   /* sub is not a decimal user id */
    PV_TOKEN_LEGACY_DISABLED, /* an itsdangerous token while they are off */
    PV_TOKEN_BAD_HEADER       /* "crit", or kid/typ of the wrong type */
} pv_token_result_e;

/* A short, stable, lower-case reason ("expired", "bad signature"...). */
const char *pv_token_result_str(pv_token_result_e r);

/* The result as one lower-case word for log lines (malformed,
 * bad_signature, expired, ...): several results share a word. */
const char *pv_token_result_word(pv_token_result_e r);

typedef enum { PV_LEGACY_OFF = 0, PV_LEGACY_ITSDANGEROUS } pv_legacy_e;

typedef struct pv_token_verifier_t pv_token_verifier_t;

typedef struct pv_token_config_t {
    const pv_keyring_t *ring; /* required */
    int algs;                 /* pv_alg_e mask; 0 means HS256 only */
    apr_int64_t leeway;       /* seconds, PreviewClockSkew */
    pv_legacy_e legacy;
    const unsigned char *legacy_secret; /* SECRET_KEY bytes */
    apr_size_t legacy_secret_len;
    const char *legacy_salt;      /* NULL: raw key; else SHA1 derivation */
    const char *legacy_uid_field; /* NULL means "uid" */
} pv_token_config_t;

/* "HS256", "HS384", "HS512" (NULL for anything else), and back (0 when the
 * name is none of them; the match is exact, "hs256" is not a name). */
const char *pv_token_alg_str(pv_alg_e alg);
pv_alg_e pv_token_alg_parse(const char *name);

typedef struct pv_token_claims_t {
    apr_uint64_t sub; /* user id */
    apr_int64_t iat;  /* 0 when absent */
    apr_int64_t exp;
    apr_uint32_t ver; /* token_version */
    int has_ver;      /* 1 for every JWS (ver is required); 0 legacy */
    int legacy;       /* 1 for an itsdangerous token */
    pv_alg_e alg;
    const char *kid; /* key that verified it (NULL for legacy); lives
                        as long as the ring */
    /* The image of a URL token (claim "img", a decimal string like sub);
     * 0 for a login token, which has no img. */
    apr_uint64_t img;
} pv_token_claims_t;

/* Build a verifier once (at start-up): keys are prepared for HMAC here so
 * a verify does no allocation of key material. The verifier is read-only
 * afterwards and may be shared by threads. */
apr_status_t pv_token_verifier_make(pv_token_verifier_t **pout,
                                    const pv_token_config_t *cfg,
                                    apr_pool_t *p);

/* Verify at time now (seconds since the epoch). Returns PV_TOKEN_OK and
 * fills *claims, or the reason it failed (claims untouched). Never logs.
 * Uses no pool; the token is decoded into stack buffers and the HMAC
 * contexts are reused (a context is created only when more threads verify
 * at once than ever before). jansson allocates while it parses the header
 * and, once the signature matched, the claims. Thread-safe. */
/* The leeway v applies (seconds, PreviewClockSkew as clamped). */
apr_int64_t pv_token_verifier_leeway(const pv_token_verifier_t *v);

pv_token_result_e pv_token_verify(pv_token_claims_t *claims,
                                  const pv_token_verifier_t *v,
                                  const char *token, apr_size_t len,
                                  apr_int64_t now);

/* Mint a login token signed by the ring's first key with alg (one of
 * pv_alg_e): sub, aud "preview", iat now, exp now + ttl, ver (no img).
 * APR_EINVAL for sub 0, now < 0, ttl outside 1 s .. 100 years, an unknown
 * alg, an empty ring, or a signing kid outside [A-Za-z0-9._-]. */
apr_status_t pv_token_mint(const char **pout, const pv_keyring_t *ring,
                           pv_alg_e alg, apr_uint64_t sub, apr_uint32_t ver,
                           apr_int64_t now, apr_int64_t ttl, apr_pool_t *p);

/* What a token to mint says: sub, ver, img (0: a login token, no img
 * claim), iat and exp (seconds since the epoch). */
typedef struct pv_token_mint_t {
    apr_uint64_t sub;
    apr_uint32_t ver;
    apr_uint64_t img;
    apr_int64_t iat;
    apr_int64_t exp;
} pv_token_mint_t;

/* Mint a token with exactly these claims (aud "preview"; img only when
 * not 0), signed by the ring's first key with alg: the same claims give
 * the same token. APR_EINVAL for sub 0, iat < 0, exp <= iat, exp - iat
 * over 100 years, an unknown alg, an empty ring, or a signing kid outside
 * [A-Za-z0-9._-]. */
apr_status_t pv_token_mint_claims(const char **pout, const pv_keyring_t *ring,
                                  pv_alg_e alg, const pv_token_mint_t *m,
                                  apr_pool_t *p);

/* The iat and exp of a URL token minted at now to live ttl seconds, so
 * that the same image gets the same token (the same URL, which client
 * caches keep) for a while: iat is the start of the window of ttl / 2
 * seconds (at least 1) holding now, exp is iat + ttl, lowered to cap (the
 * login token's own exp) when cap is not 0. exp - now is then above
 * ttl - ttl / 2 and at most ttl. APR_EINVAL for now < 0, ttl outside
 * 1 s .. 100 years, or a cap at or before now. */
apr_status_t pv_token_url_times(apr_int64_t *piat, apr_int64_t *pexp,
                                apr_int64_t now, apr_int64_t ttl,
                                apr_int64_t cap);

/* Read PreviewLegacySecretFile: the bytes of the Flask app's SECRET_KEY
 * (UTF-8, as itsdangerous encodes a str key), trailing CR and LF
 * dropped. Empty or unreadable: non-zero, *perr names the file. */
apr_status_t pv_token_legacy_secret_load(const unsigned char **pout,
                                         apr_size_t *plen, const char **perr,
                                         const char *path, apr_pool_t *p);

#endif /* PV_TOKEN_H */
