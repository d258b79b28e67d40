/* Per-server and per-directory configuration of mod_preview (glue only).
 *
 * Setters (mod_preview_cmds.c) parse and validate at start-up; create_*
 * marks every field unset; merge_* merges every field; defaults are applied
 * once: into each server's resolved copy at check_config, and per
 * directory into a copy when something was left unset. */
#ifndef MOD_PREVIEW_CONFIG_H
#define MOD_PREVIEW_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "pv_db.h"
#include "pv_image.h"
#include "pv_keyring.h"
#include "pv_token.h"

/* "Not set here": the value a vhost or section inherits through. */
#define PV_UNSET (-1)

/* Defaults (DESIGN "Directives"). */
#define PV_DEFAULT_TOKEN_TTL        86400
#define PV_DEFAULT_CLOCK_SKEW       30
#define PV_DEFAULT_LEGACY_UID_FIELD "uid"
/* Connections per process: Debian's event MPM (6 children of 25 threads)
 * then takes 24 per node, so six nodes fit MariaDB's default
 * max_connections of 151. */
#define PV_DEFAULT_DB_POOL_MAX 4
/* Query defaults: PV_DB_DEFAULT_*_QUERY in pv_db.h. */
#define PV_DEFAULT_LOGIN_FAILURES 10
#define PV_DEFAULT_LOGIN_WINDOW   300
/* About 116,000 counts (128 shmcb subcaches of 910): see README "Login
 * limit" for what evicting one costs. */
#define PV_DEFAULT_LOGIN_LIMIT_CACHE_SIZE (APR_INT64_C(8) * 1024 * 1024)
#define PV_DEFAULT_SOCACHE                "shmcb"
#define PV_DEFAULT_COOKIE_NAME            "preview_token"
#define PV_DEFAULT_MAX_SOURCE_PIXELS      APR_INT64_C(100000000)
#define PV_DEFAULT_MAX_SOURCE_BYTES       (APR_INT64_C(64) * 1024 * 1024)
#define PV_DEFAULT_CACHE_MAX_SIZE         (APR_INT64_C(1024) * 1024 * 1024)
#define PV_DEFAULT_MAX_RENDERS            2
#define PV_DEFAULT_RENDER_TIMEOUT         10
#define PV_DEFAULT_MAX_LOGINS             4

/* Renders: slots one user may hold per process, and how long a render may
 * run (microseconds): the default PreviewRenderTimeout, and about three
 * times the slowest render measured within the default limits (3.1 s, a
 * 100 Mpx interlaced 16-bit PNG). */
#define PV_DEFAULT_MAX_RENDERS_PER_USER 1
#define PV_DEFAULT_RENDER_DEADLINE      (APR_INT64_C(10) * APR_USEC_PER_SEC)
#define PV_DEFAULT_MAX_RENDER_MEMORY    (APR_INT64_C(256) * 1024 * 1024)

/* A legacy secret shorter than this is warned about at start-up. */
#define PV_LEGACY_SECRET_MIN    32
#define PV_DEFAULT_LOGIN_WAIT   5
#define PV_DEFAULT_DEFAULT_SIZE 256
#define PV_DEFAULT_QUALITY      80
/* URL tokens (preview-sign): their lifetime, and where the preview
 * handler their URLs name lives. */
#define PV_DEFAULT_URL_TOKEN_TTL 3600
#define PV_DEFAULT_SIGN_LOCATION "/preview"

/* Bounds of PreviewSizes: a box side in pixels, and how many entries. */
#define PV_SIZE_MAX  8192
#define PV_SIZES_MAX 32
/* How many entries PreviewQualities takes: each is a variant of every
 * lossy preview, so the list stays short. */
#define PV_QUALITIES_MAX 16

typedef struct pv_srv_conf {
    /* PreviewKeyFile: the ring is loaded by the setter, so a bad file
     * fails `apachectl configtest` with httpd's file:line prefix. */
    const char *key_file;
    pv_keyring_t *ring;
    /* PreviewDBParams: text as written, parsed by the setter. */
    const char *db_params_text;
    pv_db_params_t *db_params;
    apr_int64_t db_pool_max;            /* PreviewDBPoolMax */
    const char *storage_root;           /* PreviewStorageRoot, its real path */
    const char *cache_dir;              /* PreviewCacheDir, NULL: no cache */
    apr_int64_t cache_max_size;         /* PreviewCacheMaxSize, bytes */
    apr_int64_t token_ttl;              /* PreviewTokenTTL, seconds */
    apr_int64_t clock_skew;             /* PreviewClockSkew, seconds */
    int legacy;                         /* PreviewLegacyTokens, pv_legacy_e */
    const char *legacy_secret_file;     /* PreviewLegacySecretFile */
    const unsigned char *legacy_secret; /* its bytes, never logged */
    apr_size_t legacy_secret_len;
    const char *legacy_salt;          /* PreviewLegacySalt, NULL: none */
    const char *legacy_uid_field;     /* PreviewLegacyUidField */
    const char *login_query;          /* PreviewLoginQuery */
    const char *image_query;          /* PreviewImageQuery */
    const char *logout_query;         /* PreviewLogoutQuery */
    apr_int64_t login_limit_failures; /* PreviewLoginLimit, 0: no limit */
    apr_int64_t login_limit_seconds;
    /* PreviewLoginLimitCacheSize, bytes: one cache for every server, so
     * set in the main server only (vhosts inherit it). */
    apr_int64_t login_limit_cache_size;
    /* PreviewSOCache "<provider>[:<args>]": the shared cache of the
     * limiter and the owner cache, one for every server (main server
     * only). */
    const char *socache;
    /* PreviewOwnerCacheTimeout, seconds an ownership answer is kept in
     * the shared cache; 0: not kept. */
    apr_int64_t owner_cache_timeout;
    int login_from_remote_user; /* PreviewLoginFromRemoteUser */
    int metrics; /* PreviewMetrics: this server's requests counted */
    const char *cookie_name;       /* PreviewCookieName */
    apr_int64_t max_source_pixels; /* PreviewMaxSourcePixels */
    apr_int64_t max_source_bytes;  /* PreviewMaxSourceBytes */
    apr_int64_t max_renders;       /* PreviewMaxRenders, per process */
    apr_int64_t render_timeout;    /* PreviewRenderTimeout, seconds */
    apr_int64_t max_logins; /* PreviewMaxLogins: password checks at once */
    apr_int64_t login_wait; /* its second number: seconds one may wait */
    /* PreviewLoginOrigins: canonical origins (const char *) that may log
     * in besides the request's own; NULL: none. */
    apr_array_header_t *login_origins;
    /* PreviewCORSOrigins: canonical origins (const char *) whose pages may
     * call login, logout and sign with fetch(), credentials included (and
     * so may log in, as if listed in login_origins); NULL: none. */
    apr_array_header_t *cors_origins;
    apr_int64_t url_token_ttl; /* PreviewURLTokenTTL, seconds */

    /* PreviewMaxRendersPerUser: render slots of a process one user may
     * hold at once. */
    apr_int64_t max_renders_per_user;
    /* PreviewRenderDeadline, microseconds a render may run. */
    apr_int64_t render_deadline;
    /* PreviewMaxRenderMemory: bytes one render's estimate may reach, and
     * its second number: what the renders of one process may hold at
     * once (default: the first) */
    apr_int64_t max_render_memory;
    apr_int64_t process_render_memory;

    /* The server's runtime group (mod_preview_server.h), made with the
     * resolved copy and filled by post_config and child_init. */
    struct pv_server_t *server;
} pv_srv_conf;

/* PreviewQueryTokens any|scoped: scoped refuses a token without img (a
 * login token) in the query string. */
typedef enum {
    PV_QUERY_TOKENS_ANY = 0,
    PV_QUERY_TOKENS_SCOPED
} pv_query_tokens_e;

typedef struct pv_dir_conf {
    const char *section; /* the <Directory>/<Location> path, for messages */
    const int *sizes;    /* PreviewSizes, ascending; NULL: unset */
    int nsizes;
    int default_size; /* PreviewDefaultSize */
    int formats;      /* PreviewFormats, PV_FORMAT_BIT()s; 0: unset */
    int quality;      /* PreviewQuality */
    /* PreviewQualities, ascending; nqualities 0: unset (the list is then
     * PreviewQuality alone). */
    int qualities[PV_QUALITIES_MAX];
    int nqualities;
    /* PreviewQueryTokens: which tokens the query may carry. */
    int query_tokens; /* pv_query_tokens_e, PV_UNSET */
    /* PreviewSignLocation: the preview URLs preview-sign hands out start
     * with it (a path, or an absolute http(s) URL); NULL: unset. */
    const char *sign_location;
} pv_dir_conf;

extern module AP_MODULE_DECLARE_DATA preview_module;
/* The directives (mod_preview_cmds.c). */
extern const command_rec pv_cmds[];

void *pv_create_srv_conf(apr_pool_t *p, server_rec *s);
void *pv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
void *pv_create_dir_conf(apr_pool_t *p, char *dir);
void *pv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* check_config, first: each server's configuration replaced by a copy
 * (pconf) with every default applied, and its empty runtime group made.
 * The only place server defaults are applied. */
void pv_srv_conf_resolve(server_rec *s, apr_pool_t *pconf);

/* The server's resolved configuration. Valid from check_config on; never
 * modifies it. */
const pv_srv_conf *pv_srv_conf_get(const server_rec *s);

/* The defaults of a per-directory configuration applied to c itself: the
 * default size clamped to the largest size, the quality snapped to one of
 * the qualities. */
void pv_dir_conf_apply_defaults(pv_dir_conf *c);

/* The request's per-directory configuration with defaults applied.
 * Allocates in r->pool only when something was left unset. */
const pv_dir_conf *pv_dir_conf_get(request_rec *r);

/* 1 when q is one of qualities[0..n-1]. */
int pv_quality_listed(const int *qualities, int n, int q);
/* "40 60 80", for messages. */
const char *pv_qualities_text(const int *qualities, int n, apr_pool_t *p);

/* A folder a directive named that did not exist when it was read. */
typedef struct {
    const char *directive; /* e.g. "PreviewStorageRoot" */
    const char *path;      /* as resolved against ServerRoot */
    const char *file;      /* config file and line of the directive */
    int line;
} pv_missing_dir;

/* Every such folder of the configuration being read, in order, or NULL
 * (mod_preview_cmds.c); pv_config_check_config names them all and fails. */
const apr_array_header_t *pv_cmds_missing_dirs(void);

/* Cross-directive checks that a single setter cannot make (they need the
 * merged vhost view), after the defaults are applied; runs for `apachectl
 * -t` too. Logs what is wrong (mod_preview_check.c). */
int pv_config_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s);

/* Builds each server's token verifier, kept in its runtime group
 * (mod_preview_check.c). */
int pv_config_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s);

#endif /* MOD_PREVIEW_CONFIG_H */
