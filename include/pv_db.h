/* MariaDB access: connection parameters, a per-process pool, and the
 * prepared statements (login, image ownership, logout, a sample of the
 * stored hashes, a username's key for the login limiter). */
#ifndef PV_DB_H
#define PV_DB_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Statuses of this unit, besides APR_SUCCESS and APR_NOTFOUND. */
#define PV_DB_UNAVAILABLE (APR_OS_START_USERERR + 300) /* glue: 503 */
#define PV_DB_ERROR       (APR_OS_START_USERERR + 301) /* glue: 500 */
/* MariaDB refused the account (1045, 1044, 1698): a configuration error
 * of PreviewDBParams; glue: 503, and an error line. */
#define PV_DB_REFUSED (APR_OS_START_USERERR + 302)

/* Bounds on what a row may hold: longer is an error, never a truncation. */
#define PV_DB_PATH_MAX     1024
#define PV_DB_HASH_MAX     255
#define PV_DB_USERNAME_MAX 760 /* bytes: VARCHAR(190) of utf8mb4 */

typedef struct pv_db_params_t pv_db_params_t;

/* Parse PreviewDBParams, mod_dbd's syntax: "key=value" pairs separated by
 * spaces, tabs, newlines, commas, ';' or '|' (as apr_dbd_mysql); keys host
 * port user pass dbname sock connecttimeout readtimeout writetimeout, the
 * TLS keys ssl_ca ssl_capath ssl_cert ssl_key ssl_cipher ssl_verify, and
 * group (an option-file group). An unknown or repeated key, one of mod_dbd's
 * that means nothing here (reconnect flags fldsz), or a bad value fails
 * with *perr naming the key (never the password's value). */
apr_status_t pv_db_params_parse(pv_db_params_t **pout, const char **perr,
                                const char *text, apr_pool_t *p);

/* The parameters for a log line: every key but the password, which shows as
 * "pass=***" when set. */
const char *pv_db_params_str(const pv_db_params_t *params, apr_pool_t *p);

/* 1 when an ssl_* key is set: the connection uses TLS, enforced. */
int pv_db_params_tls(const pv_db_params_t *params);

/* Timeouts in seconds, defaults applied (connect 3, read 10, write 10). */
unsigned int pv_db_params_connect_timeout(const pv_db_params_t *params);

/* Non-zero when a and b name the same server, account and timeouts: two
 * vhosts may then share one pool. */
int pv_db_params_equal(const pv_db_params_t *a, const pv_db_params_t *b);

/* The number of '?' placeholders of sql outside quotes and comments
 * (MariaDB's: '', "", `` and \x escapes; #, "-- " and C comments); -1
 * when a quote or a comment is not closed. */
int pv_db_placeholders(const char *sql);

/* SQL texts; NULL fields take the defaults below. */
typedef struct pv_db_queries_t {
    const char *login;  /* username -> id, password_hash, token_version */
    const char *image;  /* image id, user id -> token_version, path|NULL */
    const char *logout; /* user id -> (affected rows) */
} pv_db_queries_t;

#define PV_DB_DEFAULT_LOGIN_QUERY                                              \
    "SELECT id, password_hash, token_version FROM users WHERE username = ?"
#define PV_DB_DEFAULT_IMAGE_QUERY                                              \
    "SELECT u.token_version, i.path FROM users u LEFT JOIN images i "          \
    "ON i.id = ? AND i.owner_id = u.id WHERE u.id = ?"
#define PV_DB_DEFAULT_LOGOUT_QUERY                                             \
    "UPDATE users SET token_version = token_version + 1 WHERE id = ?"

/* The newest user's hash, for the dummy check's profile before any login
 * was checked (default schema only: another PreviewLoginQuery may name
 * other tables). */
#define PV_DB_SAMPLE_HASH_QUERY                                                \
    "SELECT password_hash FROM users WHERE password_hash IS NOT NULL "         \
    "ORDER BY id DESC LIMIT 1"

/* Once per process, before any thread uses the pool (child_init; the CLI and
 * tests call it in main). Safe to call again. */
apr_status_t pv_db_library_init(void);

typedef struct pv_db_pool_t pv_db_pool_t;

/* A pool of at most max connections (apr_reslist; none opened here: each is
 * opened on first use and its statements prepared once). Thread-safe.
 * The connections close when p is destroyed. */
apr_status_t pv_db_pool_create(pv_db_pool_t **pout,
                               const pv_db_params_t *params,
                               const pv_db_queries_t *queries, int max,
                               apr_pool_t *p);

typedef struct pv_db_user_t {
    apr_uint64_t id;
    const char *password_hash; /* NULL when the column is NULL: such a user
                                  must fail every password check */
    apr_size_t password_hash_len;
    apr_uint32_t token_version;
} pv_db_user_t;

/* Statuses of the three operations:
 *   APR_SUCCESS        *pout set
 *   APR_NOTFOUND       no such user (login, image)
 *   PV_DB_UNAVAILABLE  MariaDB unreachable (connect failed, timed out, no
 *                      free connection in time): answer 503
 *   PV_DB_REFUSED      MariaDB refused the account of PreviewDBParams
 *                      (errors 1045, 1044, 1698): answer 503 too
 *   PV_DB_ERROR        anything else (SQL error, a column over its bound,
 *                      more than one row): answer 500
 * On failure *perr (if perr is not NULL) gets a message for the error log,
 * which never holds the password. */
apr_status_t pv_db_login_lookup(pv_db_user_t **pout, const char **perr,
                                pv_db_pool_t *db, const char *username,
                                apr_size_t username_len, apr_pool_t *p);

/* The name's key for counting login attempts (PreviewLoginLimit): 64 hex
 * digits, the same for every spelling that the login query's collation
 * takes for equal ("ALICE", "alice ", "álice", a full-width "ａlice" under
 * the default utf8mb4_unicode_ci), whether or not a user has the name.
 * Folded by MariaDB itself (WEIGHT_STRING), under the collation of
 * users.username with the default PreviewLoginQuery, or under the
 * connection's (utf8mb4's default collation) with another one, whose
 * column is not known. One round trip; statuses as below (never
 * APR_NOTFOUND). */
apr_status_t pv_db_login_key(const char **pkey, const char **perr,
                             pv_db_pool_t *db, const char *username,
                             apr_size_t username_len, apr_pool_t *p);

/* A stored hash to learn the dummy check's profile from (only its kind and
 * cost are of use; no password is checked against it): the newest user's,
 * by PV_DB_SAMPLE_HASH_QUERY. APR_NOTFOUND when there is none (no user, or
 * a value out of bounds), APR_ENOTIMPL when the pool's PreviewLoginQuery is
 * not the default (the schema is unknown), else as below. */
apr_status_t pv_db_password_sample(const char **phash, const char **perr,
                                   pv_db_pool_t *db, apr_pool_t *p);

typedef struct pv_db_image_t {
    apr_uint32_t token_version; /* the user's current one */
    const char *path;           /* NULL: no such image, or not this user's */
    apr_size_t path_len;
} pv_db_image_t;

/* One round trip: the user's token_version and, when the image is theirs,
 * its path. APR_NOTFOUND when the user does not exist. */
apr_status_t pv_db_image_lookup(pv_db_image_t **pout, const char **perr,
                                pv_db_pool_t *db, apr_uint64_t image_id,
                                apr_uint64_t user_id, apr_pool_t *p);

/* preview-sign's batch: at most this many image ids in one query. */
#define PV_DB_OWNED_MAX 200

typedef struct pv_db_owned_t {
    apr_uint32_t token_version; /* the user's current one */
    apr_uint64_t *ids;          /* the user's images among those asked */
    int nids;
} pv_db_owned_t;

/* One round trip for a batch: the user's token_version and which of
 * ids[0..nids-1] (1..PV_DB_OWNED_MAX of them; repeats allowed) are the
 * user's images. APR_NOTFOUND when the user does not exist, APR_EINVAL
 * for nids out of range. The query is the schema's own (users, images:
 * conf/schema.sql), with nids rounded up to a few fixed sizes, each
 * prepared once per connection on first use (the padding repeats
 * ids[0]). */
apr_status_t pv_db_owned_images(pv_db_owned_t **pout, const char **perr,
                                pv_db_pool_t *db, const apr_uint64_t *ids,
                                int nids, apr_uint64_t user_id, apr_pool_t *p);

/* Revoke every token of user_id; *paffected gets the rows changed (0: no
 * such user). Never retried once sent: a lost connection during it is
 * PV_DB_UNAVAILABLE. */
apr_status_t pv_db_logout(apr_uint64_t *paffected, const char **perr,
                          pv_db_pool_t *db, apr_uint64_t user_id,
                          apr_pool_t *p);

/* Counters for tests and server-status. */
typedef struct pv_db_stats_t {
    apr_uint32_t connects; /* connections opened */
    apr_uint32_t prepares; /* statements prepared (5 per connection with the
                              default PreviewLoginQuery, 4 with another, and
                              the batch sizes used) */
    apr_uint32_t retries;  /* reads retried after a lost connection */
    apr_uint32_t down;     /* 1 while MariaDB is unreachable */
} pv_db_stats_t;

void pv_db_pool_stats(pv_db_stats_t *out, pv_db_pool_t *db);

#endif /* PV_DB_H */
