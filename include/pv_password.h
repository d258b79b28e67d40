/* Password hashes as found in users.password_hash: the formats httpd's
 * htpasswd makes (bcrypt, SHA-crypt, apr1 MD5, {SHA}) and Werkzeug's pbkdf2
 * and scrypt, so a Flask app's database works as it is. Every comparison is
 * constant-time; every cost parameter is bounded so a hostile row cannot
 * stall a worker; anything unrecognised (plain text included) is refused. */
#ifndef PV_PASSWORD_H
#define PV_PASSWORD_H

#include <apr_errno.h>
#include <apr_pools.h>

/* Input bounds: longer input is refused before any hashing. */
#define PV_PASSWORD_MAX_LEN      1024 /* bytes of the password */
#define PV_PASSWORD_HASH_MAX_LEN 255  /* users.password_hash VARCHAR(255) */

/* Cost bounds. Each is about 1 s or less on one core of a 2020s server:
 * bcrypt cost 14 ~0.95 s; sha512-crypt 1e6 rounds ~0.4 s; pbkdf2-sha256
 * 2e6 iterations ~0.7 s (sha512: ~2 s); scrypt 65536:8:1 (64 MiB) ~0.5 s. */
#define PV_PASSWORD_BCRYPT_MAX_COST     14
#define PV_PASSWORD_SHACRYPT_MAX_ROUNDS 1000000
#define PV_PASSWORD_PBKDF2_MAX_ITER     2000000
#define PV_PASSWORD_SCRYPT_MAX_MEM      (64 * 1024 * 1024) /* 128 * n * r */
#define PV_PASSWORD_SCRYPT_MAX_P        16
#define PV_PASSWORD_SCRYPT_MAX_WORK     (256 * 1024 * 1024) /* 128 * n * r * p */

/* Errors (none of them carries the hash or the password). */
#define PV_PASSWORD_EFORMAT  (APR_OS_START_USERERR + 200) /* unrecognised */
#define PV_PASSWORD_EBOUNDS  (APR_OS_START_USERERR + 201) /* cost too high */
#define PV_PASSWORD_ETOOLONG (APR_OS_START_USERERR + 202) /* password */
#define PV_PASSWORD_ECRYPTO  (APR_OS_START_USERERR + 203) /* library failed */

/* Where the dummy check's profile is learned: the kind and cost parameters
 * of the most expensive usable hash checked or learned so far (never
 * downgraded, so that with mixed hash kinds an unknown user is at least as
 * slow as a known one; before any: bcrypt cost 5, what `htpasswd -B`
 * makes). One word, read and written atomically: it may live in shared
 * memory, so that every process of a server learns together and a new
 * process starts with what the others learned. Every function below takes
 * one; NULL means this process's own. */
typedef struct pv_password_profile_t pv_password_profile_t;

/* Bytes (and 8-byte alignment) that pv_password_profile_init needs. */
apr_size_t pv_password_profile_size(void);

/* A profile that has learned nothing, made at mem. */
pv_password_profile_t *pv_password_profile_init(void *mem);

/* 1 once a usable hash was checked or learned, 0 while the default holds. */
int pv_password_profile_known(pv_password_profile_t *learned);

/* Learn a hash's kind and cost without checking any password (a sample of
 * the stored hashes, before any was checked): APR_SUCCESS, or EFORMAT /
 * EBOUNDS for a hash pv_password_check would refuse (nothing learned). */
apr_status_t pv_password_profile_learn(pv_password_profile_t *learned,
                                       const char *hash);

/* Check password (pw_len bytes, not NUL-terminated) against hash (a
 * NUL-terminated string from the database). Sets *pmatch to 1 or 0 and
 * returns APR_SUCCESS; or returns an error (*pmatch untouched) when the hash
 * is unusable (EFORMAT, EBOUNDS), the password is too long (ETOOLONG), or
 * the crypto library failed. An unusable hash still costs the time of a
 * dummy check, so it cannot be told from a wrong password by timing.
 * Each usable hash checked is learned into `learned`. Thread-safe. */
apr_status_t pv_password_check(int *pmatch, pv_password_profile_t *learned,
                               const char *password, apr_size_t pw_len,
                               const char *hash, apr_pool_t *p);

/* Spend the time a wrong password would cost, for an unknown user: runs the
 * same code on a fixed hash of the same kind and cost parameters as `like`,
 * or, when like is NULL, as the profile `learned` holds.
 * Returns what pv_password_check would (ETOOLONG for a long password;
 * EFORMAT/EBOUNDS when `like` is unusable, after the like-NULL dummy). */
apr_status_t pv_password_check_dummy(pv_password_profile_t *learned,
                                     const char *password, apr_size_t pw_len,
                                     const char *like, apr_pool_t *p);

/* The fixed hash the dummy check (like NULL) runs now: the learned kind and
 * cost, filler salt and digest (no secret). For tests and debug lines. */
const char *pv_password_dummy_hash(pv_password_profile_t *learned,
                                   apr_pool_t *p);

/* A short name of the hash's format for a log line ("bcrypt", "sha512-crypt",
 * "pbkdf2", "scrypt", ...; "unknown"; for an htpasswd line "name:hash" a
 * sentence saying so). Never includes the name, salt or digest. */
const char *pv_password_kind(const char *hash);

/* A short description of one of the errors above, for a log line. */
const char *pv_password_strerror(apr_status_t rv);

/* The bytes of a password bcrypt reads. */
#define PV_PASSWORD_BCRYPT_MAX_LEN 72
/* The cost preview-token hash uses unless told (libxcrypt's and PHP's). */
#define PV_PASSWORD_BCRYPT_DEFAULT_COST 10

/* A new bcrypt hash ("$2b$", cost 4 to PV_PASSWORD_BCRYPT_MAX_COST, so
 * that pv_password_check takes it) of password, pw_len bytes (1 to
 * PV_PASSWORD_BCRYPT_MAX_LEN, no NUL: else ETOOLONG, as bcrypt would
 * silently ignore the rest), salted from the kernel's random source.
 * EBOUNDS for another cost, ECRYPTO when libxcrypt fails. */
apr_status_t pv_password_hash_bcrypt(const char **pout, const char *password,
                                     apr_size_t pw_len, unsigned int cost,
                                     apr_pool_t *p);

#endif /* PV_PASSWORD_H */
