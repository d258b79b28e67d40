/* MariaDB access through Connector/C: PreviewDBParams, a per-process pool on
 * apr_reslist, three prepared statements per connection, and the fault rules
 * (reconnect and retry a read once; fail fast and log once while down). */
/* <stddef.h> before any APR header: APR_OFFSETOF() is offsetof() only then,
 * else pointer arithmetic on a null pointer (undefined). */
#include <stddef.h>
#include <string.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_atomic.h>
#include <apr_reslist.h>
#include <apr_time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "pv_db.h"
#include "pv_log.h"
#include "pv_num.h"

#define PV_DB_DEFAULT_CONNECT_TIMEOUT 3
#define PV_DB_DEFAULT_RW_TIMEOUT      10
#define PV_DB_TIMEOUT_MAX             3600
/* Idle connections older than this are closed on the next acquire: fewer
 * sockets held open between bursts, and well under MariaDB's wait_timeout. */
#define PV_DB_IDLE_TTL apr_time_from_sec(60)

struct pv_db_params_t {
    const char *host;
    const char *user;
    const char *pass;
    const char *dbname;
    const char *sock;
    unsigned int port;            /* 0: unset */
    unsigned int connect_timeout; /* seconds, 0: unset */
    unsigned int read_timeout;
    unsigned int write_timeout;
    /* TLS (MYSQL_OPT_SSL_*): any of them set turns TLS on and enforced. */
    const char *ssl_ca, *ssl_capath, *ssl_cert, *ssl_key, *ssl_cipher;
    const char *ssl_verify; /* "on"/"off" (1/0); on when unset */
    const char *group;      /* MYSQL_READ_DEFAULT_GROUP */
};

/* apr_dbd_mysql's separators, so a mod_dbd DBDParams line works as is. */
static const char params_delims[] = " \r\n\t;|,";

static int parse_uint(unsigned int *out, const char *s, unsigned int min,
                      unsigned int max)
{
    apr_uint64_t v;

    if (pv_num_parse(&v, s, strlen(s), max, 0) != APR_SUCCESS || v < min) {
        return 0;
    }
    *out = (unsigned int)v;
    return 1;
}

/* The keys of PreviewDBParams: the field each sets, and a number's largest
 * value (0: the value is text) and unit, for messages. */
typedef struct {
    const char *name;
    apr_size_t offset;
    unsigned int max;
    const char *unit;
} db_key_t;

#define DB_KEY(name, field, max, unit)                                         \
    {                                                                          \
        name, APR_OFFSETOF(pv_db_params_t, field), max, unit                   \
    }

static const db_key_t db_keys[] = {
    DB_KEY("host", host, 0, ""),
    DB_KEY("user", user, 0, ""),
    DB_KEY("pass", pass, 0, ""),
    DB_KEY("dbname", dbname, 0, ""),
    DB_KEY("sock", sock, 0, ""),
    DB_KEY("port", port, 65535, ""),
    DB_KEY("connecttimeout", connect_timeout, PV_DB_TIMEOUT_MAX, " (seconds)"),
    DB_KEY("readtimeout", read_timeout, PV_DB_TIMEOUT_MAX, " (seconds)"),
    DB_KEY("writetimeout", write_timeout, PV_DB_TIMEOUT_MAX, " (seconds)"),
    DB_KEY("ssl_ca", ssl_ca, 0, ""),
    DB_KEY("ssl_capath", ssl_capath, 0, ""),
    DB_KEY("ssl_cert", ssl_cert, 0, ""),
    DB_KEY("ssl_key", ssl_key, 0, ""),
    DB_KEY("ssl_cipher", ssl_cipher, 0, ""),
    DB_KEY("ssl_verify", ssl_verify, 0, ""),
    DB_KEY("group", group, 0, "")};

/* mod_dbd's MySQL driver takes these too; they have no meaning here. */
static const struct {
    const char *name, *why;
} db_refused_keys[] = {{"reconnect",
                        "the module reconnects itself (the library's reconnect "
                        "would drop the prepared statements)"},
                       {"flags", "client flags are the module's own"},
                       {"fldsz", "no BLOB column is fetched"}};

#define DB_KNOWN_KEYS                                                          \
    "host port user pass dbname sock connecttimeout readtimeout "              \
    "writetimeout ssl_ca ssl_capath ssl_cert ssl_key ssl_cipher ssl_verify "   \
    "group"

static const db_key_t *db_key(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < sizeof(db_keys) / sizeof(db_keys[0]); i++) {
        if (strlen(db_keys[i].name) == len &&
            !memcmp(s, db_keys[i].name, len)) {
            return &db_keys[i];
        }
    }
    return NULL;
}

/* One key's value into params: NULL, or why it cannot be. */
static const char *db_key_set(pv_db_params_t *params, const db_key_t *k,
                              const char *value, apr_size_t vlen, apr_pool_t *p)
{
    char *field = (char *)params + k->offset;
    unsigned int *num = (unsigned int *)field;
    const char **text = (const char **)field;

    if (k->max ? *num != 0 : *text != NULL) {
        return apr_psprintf(p, "key '%s' given twice", k->name);
    }
    if (!k->max) {
        /* an empty password is a valid account setting; nothing else is */
        if (vlen == 0 && strcmp(k->name, "pass")) {
            return apr_psprintf(p, "key '%s' has an empty value", k->name);
        }
        *text = value;
        return NULL;
    }
    if (!parse_uint(num, value, 1, k->max)) {
        return apr_psprintf(p,
                            "key '%s': '%.20s' is not a number from %u to %u%s",
                            k->name, value, 1, k->max, k->unit);
    }
    return NULL;
}

/* Why a key is refused: one of mod_dbd's that means nothing here, or
 * unknown. */
static const char *db_key_unknown(const char *name, apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(db_refused_keys) / sizeof(db_refused_keys[0]); i++) {
        if (!strcmp(name, db_refused_keys[i].name)) {
            return apr_psprintf(p, "key '%s' is not supported: %s", name,
                                db_refused_keys[i].why);
        }
    }
    return apr_psprintf(p, "unknown key '%.40s' (known: " DB_KNOWN_KEYS ")",
                        name);
}

/* ssl_verify's value: 1 (on), 0 (off), -1 (neither). */
static int db_flag(const char *v)
{
    if (!strcasecmp(v, "on") || !strcmp(v, "1")) {
        return 1;
    }
    if (!strcasecmp(v, "off") || !strcmp(v, "0")) {
        return 0;
    }
    return -1;
}

apr_status_t pv_db_params_parse(pv_db_params_t **pout, const char **perr,
                                const char *text, apr_pool_t *p)
{
    pv_db_params_t *params = apr_pcalloc(p, sizeof(*params));
    const char *s = text ? text : "";
    const char *err = NULL;
    int after_pass = 0;

    while (!err) {
        const char *kstart, *vstart;
        const db_key_t *k;
        apr_size_t klen, vlen;

        s += strspn(s, params_delims);
        if (!*s) {
            break;
        }
        for (kstart = s; apr_isalnum(*s) || *s == '_'; s++) {
        }
        klen = (apr_size_t)(s - kstart);
        k = db_key(kstart, klen);
        /* "key = value" is accepted, as apr_dbd_mysql does */
        s += strspn(s, " \t");
        /* a password holding a separator would leak its tail in a message */
        if (after_pass && (!k || *s != '=')) {
            err = "unexpected text after the value of 'pass' (a password "
                  "cannot contain spaces, tabs, newlines, ',', ';' or '|')";
            break;
        }
        if (klen == 0 || *s != '=') {
            apr_size_t n = strcspn(kstart, params_delims);
            err = apr_psprintf(p, "expected key=value, found '%.*s'",
                               (int)(n > 40 ? 40 : n), kstart);
            break;
        }
        s++;
        /* "key= next=x" is an empty value, not the value "next=x" */
        vstart = s + strspn(s, " \t");
        if (vstart != s &&
            memchr(vstart, '=', strcspn(vstart, params_delims)) != NULL) {
            vstart = s;
        }
        vlen = strcspn(vstart, params_delims);
        s = vstart + vlen;
        if (!k) {
            err = db_key_unknown(apr_pstrmemdup(p, kstart, klen), p);
            break;
        }
        after_pass = !strcmp(k->name, "pass");
        err = db_key_set(params, k, apr_pstrmemdup(p, vstart, vlen), vlen, p);
    }
    if (!err && params->ssl_verify && db_flag(params->ssl_verify) < 0) {
        err = apr_psprintf(p, "key 'ssl_verify': '%.20s' is not on or off",
                           params->ssl_verify);
    }
    if (err) {
        if (perr) {
            *perr = err;
        }
        return APR_EINVAL;
    }
    *pout = params;
    return APR_SUCCESS;
}

int pv_db_placeholders(const char *q)
{
    const char *s = q;
    int n = 0;

    while (*s) {
        if (*s == '\'' || *s == '"' || *s == '`') {
            char quote = *s++;

            for (;;) {
                if (!*s) {
                    return -1;
                }
                if (*s == '\\' && quote != '`') {
                    if (!s[1]) {
                        return -1;
                    }
                    s += 2;
                }
                else if (*s == quote && s[1] == quote) {
                    s += 2;
                }
                else if (*s == quote) {
                    s++;
                    break;
                }
                else {
                    s++;
                }
            }
        }
        else if (*s == '#' ||
                 (s[0] == '-' && s[1] == '-' &&
                  (s[2] == ' ' || s[2] == '\t' || s[2] == '\n' || !s[2]))) {
            while (*s && *s != '\n') {
                s++;
            }
        }
        else if (s[0] == '/' && s[1] == '*') {
            const char *end = strstr(s + 2, "*/");

            if (!end) {
                return -1;
            }
            s = end + 2;
        }
        else {
            if (*s == '?') {
                n++;
            }
            s++;
        }
    }
    return n;
}

int pv_db_params_tls(const pv_db_params_t *params)
{
    return params->ssl_ca || params->ssl_capath || params->ssl_cert ||
           params->ssl_key || params->ssl_cipher || params->ssl_verify;
}

/* The server's certificate is checked unless ssl_verify=off. */
static int db_tls_verify(const pv_db_params_t *params)
{
    return !params->ssl_verify || db_flag(params->ssl_verify) == 1;
}

const char *pv_db_params_str(const pv_db_params_t *params, apr_pool_t *p)
{
    const char *s = "";

    if (params->sock) {
        s = apr_pstrcat(p, s, " sock=", params->sock, NULL);
    }
    if (params->host) {
        s = apr_pstrcat(p, s, " host=", params->host, NULL);
    }
    if (params->port) {
        s = apr_psprintf(p, "%s port=%u", s, params->port);
    }
    if (params->user) {
        s = apr_pstrcat(p, s, " user=", params->user, NULL);
    }
    if (params->pass) {
        s = apr_pstrcat(p, s, " pass=***", NULL);
    }
    if (params->dbname) {
        s = apr_pstrcat(p, s, " dbname=", params->dbname, NULL);
    }
    if (params->connect_timeout) {
        s = apr_psprintf(p, "%s connecttimeout=%u", s, params->connect_timeout);
    }
    if (params->read_timeout) {
        s = apr_psprintf(p, "%s readtimeout=%u", s, params->read_timeout);
    }
    if (params->write_timeout) {
        s = apr_psprintf(p, "%s writetimeout=%u", s, params->write_timeout);
    }
    if (pv_db_params_tls(params)) {
        s = apr_pstrcat(p, s, " tls", db_tls_verify(params) ? "" : "(noverify)",
                        NULL);
    }
    return *s ? s + 1 : "(defaults)";
}

unsigned int pv_db_params_connect_timeout(const pv_db_params_t *params)
{
    return params->connect_timeout ? params->connect_timeout
                                   : PV_DB_DEFAULT_CONNECT_TIMEOUT;
}

static unsigned int read_timeout(const pv_db_params_t *params)
{
    return params->read_timeout ? params->read_timeout
                                : PV_DB_DEFAULT_RW_TIMEOUT;
}

static unsigned int write_timeout(const pv_db_params_t *params)
{
    return params->write_timeout ? params->write_timeout
                                 : PV_DB_DEFAULT_RW_TIMEOUT;
}

static int str_equal(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int pv_db_params_equal(const pv_db_params_t *a, const pv_db_params_t *b)
{
    return str_equal(a->host, b->host) && str_equal(a->user, b->user) &&
           str_equal(a->pass, b->pass) && str_equal(a->dbname, b->dbname) &&
           str_equal(a->sock, b->sock) && a->port == b->port &&
           pv_db_params_connect_timeout(a) == pv_db_params_connect_timeout(b) &&
           read_timeout(a) == read_timeout(b) &&
           write_timeout(a) == write_timeout(b) &&
           str_equal(a->ssl_ca, b->ssl_ca) &&
           str_equal(a->ssl_capath, b->ssl_capath) &&
           str_equal(a->ssl_cert, b->ssl_cert) &&
           str_equal(a->ssl_key, b->ssl_key) &&
           str_equal(a->ssl_cipher, b->ssl_cipher) &&
           db_tls_verify(a) == db_tls_verify(b) &&
           pv_db_params_tls(a) == pv_db_params_tls(b) &&
           str_equal(a->group, b->group);
}

/* ------------------------------------------------------------------------ */
/* Pool and statements */

/* The three configured statements, then the module's own, prepared on
 * every connection: the newest user's hash (default schema only), and a
 * username's key under the collation the login compares it with (its text
 * names that collation: made per connection, see name_key_query). */
enum { Q_LOGIN = 0, Q_IMAGE, Q_LOGOUT, Q_SAMPLE, Q_NAME_KEY, Q_COUNT };

static const struct {
    const char *directive;
    unsigned long nparams;
    unsigned int nfields;
    const char *columns;
} query_shape[Q_COUNT] = {
    {"PreviewLoginQuery", 1, 3, "id, password_hash, token_version"},
    {"PreviewImageQuery", 2, 2, "token_version, path"},
    {"PreviewLogoutQuery", 1, 0, "no columns"},
    {"the password hash sample", 0, 1, "password_hash"},
    {"the username key", 1, 1, "a SHA-256 in hex"},
};

/* SHA-256 (hex) of the name's collation weights, so that two names get one
 * key exactly when the collation takes them for equal (case, accents,
 * full-width forms, ignorable characters). AS CHAR pads the weights to a
 * fixed number of characters: a PAD SPACE collation's padding weighs what
 * its trailing spaces weigh ("bob" = "bob  "), a NO PAD one's does not.
 * Names that share their first PV_DB_USERNAME_MAX weights share a key: a
 * stricter count, never a looser one. */
#define NAME_KEY_QUERY                                                         \
    "SELECT SHA2(WEIGHT_STRING(CONVERT(? USING %s) COLLATE %s AS CHAR(%d)), "  \
    "256)"
#define NAME_KEY_LEN 64

/* Where the default PreviewLoginQuery compares the name. */
#define USERNAME_COLLATION_QUERY                                               \
    "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM "                          \
    "information_schema.COLUMNS "                                              \
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND "            \
    "COLUMN_NAME = 'username'"
#define CONNECTION_COLLATION_QUERY                                             \
    "SELECT @@character_set_connection, @@collation_connection"

/* preview-sign's batch query: its IN list has one of these sizes, the
 * smallest that holds the batch (the rest repeats the first id), so that a
 * connection prepares at most OWNED_BUCKETS statements more, on first use,
 * whatever the batch sizes. */
#define OWNED_BUCKETS 4
static const int owned_sizes[OWNED_BUCKETS] = {1, 10, 50, PV_DB_OWNED_MAX};

#define OWNED_QUERY_HEAD                                                       \
    "SELECT u.token_version, i.id FROM users u LEFT JOIN images i "            \
    "ON i.owner_id = u.id AND i.id IN ("
#define OWNED_QUERY_TAIL ") WHERE u.id = ?"

struct pv_db_pool_t {
    const pv_db_params_t *params;
    /* NULL: not prepared (Q_SAMPLE), or made per connection (Q_NAME_KEY) */
    const char *query[Q_COUNT];
    const char *owned_query[OWNED_BUCKETS];
    const char *desc; /* params for log lines, without the password */
    apr_reslist_t *reslist;
    int max;
    /* Bumped on every lost connection: a connection opened before the bump
     * is reopened on its next acquire rather than failing a request (after a
     * MariaDB restart every idle connection is dead). */
    volatile apr_uint32_t lost_gen;
    volatile apr_uint32_t down;    /* 1: last connect failed, logged once */
    volatile apr_uint32_t probing; /* while down: one request tries at once */
    volatile apr_time_t down_since;
    volatile apr_uint32_t connects;
    volatile apr_uint32_t prepares;
    volatile apr_uint32_t retries;
};

typedef struct pv_db_conn_t {
    pv_db_pool_t *db;
    MYSQL *mysql; /* NULL: not connected (opened on use, in the caller) */
    MYSQL_STMT *stmt[Q_COUNT];
    MYSQL_STMT *owned[OWNED_BUCKETS]; /* prepared on first use */
    apr_uint32_t gen;                 /* db->lost_gen when opened */
} pv_db_conn_t;

/* Internal: the connection is gone; close it and reconnect. */
#define PV_DB_LOST (APR_OS_START_USERERR + 399)

apr_status_t pv_db_library_init(void)
{
    static int done;

    /* Not thread-safe (hence here, before threads start). Connector/C 3.x
     * needs no mysql_thread_init/end per thread: both are no-ops in it
     * (checked in libmariadb.so.3 of Debian 12), so worker threads need no
     * hook. */
    if (!done) {
        if (mysql_library_init(0, NULL, NULL)) {
            return PV_DB_ERROR;
        }
        done = 1;
    }
    return APR_SUCCESS;
}

static int errno_is_lost(unsigned int e)
{
    switch (e) {
        case CR_CONNECTION_ERROR:
        case CR_CONN_HOST_ERROR:
        case CR_SERVER_GONE_ERROR:
        case CR_SERVER_LOST:
        case CR_SERVER_LOST_EXTENDED:
        case ER_CONNECTION_KILLED:
        case ER_SERVER_SHUTDOWN:
        case ER_UNKNOWN_STMT_HANDLER:
            return 1;
        default:
            return 0;
    }
}

/* MariaDB refused our account (a wrong PreviewDBParams user, pass or
 * dbname grant): a configuration error, not an outage. */
static int errno_is_refused(unsigned int e)
{
    switch (e) {
        case ER_ACCESS_DENIED_ERROR:             /* 1045 */
        case ER_DBACCESS_DENIED_ERROR:           /* 1044 */
        case ER_ACCESS_DENIED_NO_PASSWORD_ERROR: /* 1698 */
            return 1;
        default:
            return 0;
    }
}

static void conn_close(pv_db_conn_t *c)
{
    int i;

    for (i = 0; i < Q_COUNT; i++) {
        if (c->stmt[i]) {
            mysql_stmt_close(c->stmt[i]);
            c->stmt[i] = NULL;
        }
    }
    for (i = 0; i < OWNED_BUCKETS; i++) {
        if (c->owned[i]) {
            mysql_stmt_close(c->owned[i]);
            c->owned[i] = NULL;
        }
    }
    if (c->mysql) {
        mysql_close(c->mysql);
        c->mysql = NULL;
    }
}

static apr_status_t conn_construct(void **resource, void *params,
                                   apr_pool_t *pool)
{
    /* malloc, not the reslist's long-lived pool: connections come and go
     * with the idle TTL for the life of the process. */
    pv_db_conn_t *c = calloc(1, sizeof(*c));

    (void)pool;
    if (!c) {
        return APR_ENOMEM;
    }
    c->db = params;
    *resource = c;
    return APR_SUCCESS;
}

static apr_status_t conn_destruct(void *resource, void *params,
                                  apr_pool_t *pool)
{
    pv_db_conn_t *c = resource;

    (void)params;
    (void)pool;
    conn_close(c);
    free(c);
    return APR_SUCCESS;
}

static void mark_down(pv_db_pool_t *db, const char *why)
{
    if (apr_atomic_cas32(&db->down, 1, 0) == 0) {
        db->down_since = apr_time_now();
        pv_log_(PV_LOG_MARK, PV_LOG_WARNING, 0,
                PVLOGNO(0301) "MariaDB unreachable (%s): %s; requests that "
                              "need it get 503 until it is back",
                db->desc, why);
    }
}

static void mark_up(pv_db_pool_t *db)
{
    if (apr_atomic_read32(&db->down) && apr_atomic_cas32(&db->down, 0, 1)) {
        pv_log_(
            PV_LOG_MARK, PV_LOG_NOTICE, 0,
            PVLOGNO(0302) "MariaDB reachable again (%s) after %" APR_TIME_T_FMT
                          " s",
            db->desc, apr_time_sec(apr_time_now() - db->down_since));
    }
}

/* A character set or collation name as MariaDB spells them, fit to be
 * written into a statement. */
static int is_sql_name(const char *s)
{
    apr_size_t n = 0;

    for (; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
              s[n] == '_')) {
            return 0;
        }
    }
    return n > 0 && n <= 64;
}

/* One row of two names from a query without parameters; APR_NOTFOUND
 * when it has no row or the row does not hold two names. */
static apr_status_t two_names(const char **pa, const char **pb, MYSQL *m,
                              const char *q, const char **perr, apr_pool_t *p)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    apr_status_t rv = APR_NOTFOUND;

    if (mysql_real_query(m, q, strlen(q)) || !(res = mysql_store_result(m))) {
        unsigned int e = mysql_errno(m);

        *perr = apr_psprintf(p, "%s: %u %s", query_shape[Q_NAME_KEY].directive,
                             e, mysql_error(m));
        return errno_is_lost(e) ? PV_DB_UNAVAILABLE : PV_DB_ERROR;
    }
    row = mysql_fetch_row(res);
    if (row && mysql_num_fields(res) == 2 && row[0] && row[1] &&
        is_sql_name(row[0]) && is_sql_name(row[1])) {
        *pa = apr_pstrdup(p, row[0]);
        *pb = apr_pstrdup(p, row[1]);
        rv = APR_SUCCESS;
    }
    mysql_free_result(res);
    return rv;
}

/* The username key's statement: under the collation of users.username when
 * the login query is the default, else (the schema is not known) under the
 * connection's. */
static apr_status_t name_key_query(const char **psql, pv_db_conn_t *c,
                                   const char **perr, apr_pool_t *p)
{
    const char *cs = NULL, *coll = NULL;
    apr_status_t rv = APR_NOTFOUND;

    if (c->db->query[Q_SAMPLE]) {
        rv = two_names(&cs, &coll, c->mysql, USERNAME_COLLATION_QUERY, perr, p);
    }
    if (rv == APR_NOTFOUND) {
        rv = two_names(&cs, &coll, c->mysql, CONNECTION_COLLATION_QUERY, perr,
                       p);
    }
    if (rv == APR_NOTFOUND) {
        *perr = "the username key: no collation to fold names with";
        rv = PV_DB_ERROR;
    }
    if (rv == APR_SUCCESS) {
        *psql = apr_psprintf(p, NAME_KEY_QUERY, cs, coll, PV_DB_USERNAME_MAX);
    }
    return rv;
}

/* TLS when any ssl_* key is set: required (no fallback to clear text),
 * the server's certificate checked against ssl_ca/ssl_capath (or the
 * system's CAs) and its name against host, unless ssl_verify=off. */
static void conn_tls(MYSQL *mysql, const pv_db_params_t *pa)
{
    my_bool enforce = 1, verify = db_tls_verify(pa) ? 1 : 0;

    if (!pv_db_params_tls(pa)) {
        return;
    }
    mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (pa->ssl_ca) {
        mysql_optionsv(mysql, MYSQL_OPT_SSL_CA, pa->ssl_ca);
    }
    if (pa->ssl_capath) {
        mysql_optionsv(mysql, MYSQL_OPT_SSL_CAPATH, pa->ssl_capath);
    }
    if (pa->ssl_cert) {
        mysql_optionsv(mysql, MYSQL_OPT_SSL_CERT, pa->ssl_cert);
    }
    if (pa->ssl_key) {
        mysql_optionsv(mysql, MYSQL_OPT_SSL_KEY, pa->ssl_key);
    }
    if (pa->ssl_cipher) {
        mysql_optionsv(mysql, MYSQL_OPT_SSL_CIPHER, pa->ssl_cipher);
    }
}

/* Connect and prepare the statements. PV_DB_UNAVAILABLE when MariaDB
 * cannot be reached, PV_DB_REFUSED when it refuses the account, PV_DB_ERROR
 * when a query does not prepare or has the wrong shape (a configuration error).
 */
static apr_status_t conn_open(pv_db_conn_t *c, const char **perr, apr_pool_t *p)
{
    pv_db_pool_t *db = c->db;
    const pv_db_params_t *pa = db->params;
    unsigned int ct = pv_db_params_connect_timeout(pa);
    unsigned int rt = read_timeout(pa), wt = write_timeout(pa);
    unsigned int no_infile = 0;
    my_bool off = 0, on = 1;
    const char *text[Q_COUNT];
    apr_status_t rv = APR_SUCCESS;
    int i;

    c->mysql = mysql_init(NULL);
    if (!c->mysql) {
        *perr = "mysql_init failed (out of memory)";
        return APR_ENOMEM;
    }
    mysql_optionsv(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(c->mysql, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_optionsv(c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &wt);
    /* we reconnect ourselves: the library's reconnect would silently drop
     * the prepared statements */
    mysql_optionsv(c->mysql, MYSQL_OPT_RECONNECT, &off);
    mysql_optionsv(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(c->mysql, MYSQL_REPORT_DATA_TRUNCATION, &on);
    mysql_optionsv(c->mysql, MYSQL_OPT_LOCAL_INFILE, &no_infile);
    if (pa->sock && !pa->host) {
        unsigned int proto = MYSQL_PROTOCOL_SOCKET;
        mysql_optionsv(c->mysql, MYSQL_OPT_PROTOCOL, &proto);
    }
    if (pa->group) {
        mysql_optionsv(c->mysql, MYSQL_READ_DEFAULT_GROUP, pa->group);
    }
    conn_tls(c->mysql, pa);
    apr_atomic_inc32(&db->connects);
    if (!mysql_real_connect(c->mysql, pa->host, pa->user, pa->pass, pa->dbname,
                            pa->port, pa->sock, 0)) {
        unsigned int e = mysql_errno(c->mysql);

        *perr = apr_psprintf(p, "connect: %u %s", e, mysql_error(c->mysql));
        rv = errno_is_refused(e) ? PV_DB_REFUSED : PV_DB_UNAVAILABLE;
        goto cleanup;
    }
    memcpy(text, db->query, sizeof(text));
    rv = name_key_query(&text[Q_NAME_KEY], c, perr, p);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    for (i = 0; i < Q_COUNT; i++) {
        MYSQL_STMT *st;

        if (!text[i]) {
            continue;
        }
        st = mysql_stmt_init(c->mysql);
        if (!st) {
            *perr = "mysql_stmt_init failed (out of memory)";
            rv = APR_ENOMEM;
            goto cleanup;
        }
        c->stmt[i] = st;
        apr_atomic_inc32(&db->prepares);
        if (mysql_stmt_prepare(st, text[i], strlen(text[i]))) {
            unsigned int e = mysql_stmt_errno(st);
            *perr = apr_psprintf(p, "%s: %u %s", query_shape[i].directive, e,
                                 mysql_stmt_error(st));
            rv = errno_is_lost(e) ? PV_DB_UNAVAILABLE : PV_DB_ERROR;
            goto cleanup;
        }
        if (mysql_stmt_param_count(st) != query_shape[i].nparams ||
            mysql_stmt_field_count(st) != query_shape[i].nfields) {
            *perr = apr_psprintf(
                p,
                "%s must take %lu parameter(s) and return %u column(s) "
                "(%s); it takes %lu and returns %u",
                query_shape[i].directive, query_shape[i].nparams,
                query_shape[i].nfields, query_shape[i].columns,
                mysql_stmt_param_count(st), mysql_stmt_field_count(st));
            rv = PV_DB_ERROR;
            goto cleanup;
        }
    }
    c->gen = apr_atomic_read32(&db->lost_gen);

cleanup:
    if (rv != APR_SUCCESS) {
        conn_close(c);
    }
    return rv;
}

static apr_status_t conn_acquire(pv_db_conn_t **pout, const char **perr,
                                 pv_db_pool_t *db, apr_pool_t *p)
{
    pv_db_conn_t *c = NULL;
    apr_status_t rv;
    int prober = 0;

    rv = apr_reslist_acquire(db->reslist, (void **)&c);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p,
                             "no free MariaDB connection within %u s "
                             "(PreviewDBPoolMax %d)",
                             pv_db_params_connect_timeout(db->params), db->max);
        return PV_DB_UNAVAILABLE;
    }
    if (c->mysql && c->gen != apr_atomic_read32(&db->lost_gen)) {
        conn_close(c);
    }
    if (!c->mysql) {
        /* While down, one request probes and the others fail at once: no
         * queue of requests each waiting out the connect timeout. */
        if (apr_atomic_read32(&db->down)) {
            if (apr_atomic_cas32(&db->probing, 1, 0) != 0) {
                *perr = "MariaDB unreachable (another request is retrying)";
                rv = PV_DB_UNAVAILABLE;
                goto cleanup;
            }
            prober = 1;
        }
        rv = conn_open(c, perr, p);
        if (prober) {
            apr_atomic_set32(&db->probing, 0);
        }
        if (rv == PV_DB_UNAVAILABLE) {
            mark_down(db, *perr);
            goto cleanup;
        }
        if (rv == PV_DB_REFUSED) {
            /* It answers: no outage, and every request tries (the glue
             * logs the refusal, in the server's own log). */
            mark_up(db);
            goto cleanup;
        }
        if (rv != APR_SUCCESS) {
            goto cleanup;
        }
        mark_up(db);
    }

cleanup:
    if (rv != APR_SUCCESS) {
        apr_reslist_release(db->reslist, c);
        return rv;
    }
    *pout = c;
    return APR_SUCCESS;
}

static void conn_release(pv_db_conn_t *c, int lost)
{
    pv_db_pool_t *db = c->db;

    if (lost) {
        conn_close(c);
        apr_atomic_inc32(&db->lost_gen);
    }
    apr_reslist_release(db->reslist, c);
}

apr_status_t pv_db_pool_create(pv_db_pool_t **pout,
                               const pv_db_params_t *params,
                               const pv_db_queries_t *queries, int max,
                               apr_pool_t *p)
{
    pv_db_pool_t *db = apr_pcalloc(p, sizeof(*db));
    apr_status_t rv;
    int i;

    if (max < 1) {
        return APR_EINVAL;
    }
    db->params = params;
    db->max = max;
    db->desc = pv_db_params_str(params, p);
    db->query[Q_LOGIN] = (queries && queries->login)
                             ? queries->login
                             : PV_DB_DEFAULT_LOGIN_QUERY;
    db->query[Q_IMAGE] = (queries && queries->image)
                             ? queries->image
                             : PV_DB_DEFAULT_IMAGE_QUERY;
    db->query[Q_LOGOUT] = (queries && queries->logout)
                              ? queries->logout
                              : PV_DB_DEFAULT_LOGOUT_QUERY;
    /* Our own query knows only the default schema. */
    db->query[Q_SAMPLE] = !strcmp(db->query[Q_LOGIN], PV_DB_DEFAULT_LOGIN_QUERY)
                              ? PV_DB_SAMPLE_HASH_QUERY
                              : NULL;
    for (i = 0; i < OWNED_BUCKETS; i++) {
        char *list = apr_palloc(p, 2 * (apr_size_t)owned_sizes[i]), *o = list;
        int k;

        for (k = 0; k < owned_sizes[i]; k++) {
            *o++ = '?';
            *o++ = k + 1 < owned_sizes[i] ? ',' : '\0';
        }
        db->owned_query[i] =
            apr_pstrcat(p, OWNED_QUERY_HEAD, list, OWNED_QUERY_TAIL, NULL);
    }
    rv = apr_reslist_create(&db->reslist, 0, max, max, PV_DB_IDLE_TTL,
                            conn_construct, conn_destruct, db, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* all connections busy: wait no longer than a connect would */
    apr_reslist_timeout_set(
        db->reslist, apr_time_from_sec(pv_db_params_connect_timeout(params)));
    *pout = db;
    return APR_SUCCESS;
}

void pv_db_pool_stats(pv_db_stats_t *out, pv_db_pool_t *db)
{
    out->connects = apr_atomic_read32(&db->connects);
    out->prepares = apr_atomic_read32(&db->prepares);
    out->retries = apr_atomic_read32(&db->retries);
    out->down = apr_atomic_read32(&db->down);
}

/* Bind in, execute, and with result columns bind out and buffer the rows
 * (the row count is needed before a row is trusted). NULL, or the step
 * that failed. */
static const char *stmt_exec(MYSQL_STMT *st, MYSQL_BIND *in, MYSQL_BIND *out)
{
    if (in && mysql_stmt_bind_param(st, in)) {
        return "bind";
    }
    if (mysql_stmt_execute(st)) {
        return "execute";
    }
    if (out && mysql_stmt_bind_result(st, out)) {
        return "bind result";
    }
    if (out && mysql_stmt_store_result(st)) {
        return "store result";
    }
    return NULL;
}

/* The error of statement name's step what: PV_DB_LOST when the connection
 * is gone (the caller reconnects), else PV_DB_ERROR. */
static apr_status_t stmt_failed(MYSQL_STMT *st, const char *name,
                                const char *what, const char **perr,
                                apr_pool_t *p)
{
    unsigned int e = mysql_stmt_errno(st);

    *perr =
        apr_psprintf(p, "%s (%s): %u %s", name, what, e, mysql_stmt_error(st));
    return errno_is_lost(e) ? PV_DB_LOST : PV_DB_ERROR;
}

/* Execute statement q with its parameters bound; with result columns, read
 * at most one row into out. APR_NOTFOUND: no row. PV_DB_LOST: the connection
 * is gone (the caller reconnects). */
static apr_status_t stmt_run(pv_db_conn_t *c, int q, MYSQL_BIND *in,
                             MYSQL_BIND *out, apr_uint64_t *paffected,
                             const char **perr, apr_pool_t *p)
{
    MYSQL_STMT *st = c->stmt[q];
    const char *what;
    apr_status_t rv = APR_SUCCESS;
    int stored = 0, r;

    what = stmt_exec(st, in, out);
    if (what) {
        goto stmt_error;
    }
    if (!out) {
        *paffected = (apr_uint64_t)mysql_stmt_affected_rows(st);
        return APR_SUCCESS;
    }
    stored = 1;
    if (mysql_stmt_num_rows(st) == 0) {
        rv = APR_NOTFOUND;
        goto cleanup;
    }
    if (mysql_stmt_num_rows(st) > 1) {
        *perr = apr_psprintf(
            p, "%s returned %" APR_UINT64_T_FMT " rows, expected at most one",
            query_shape[q].directive, (apr_uint64_t)mysql_stmt_num_rows(st));
        rv = PV_DB_ERROR;
        goto cleanup;
    }
    r = mysql_stmt_fetch(st);
    if (r == MYSQL_DATA_TRUNCATED) {
        unsigned int i;

        for (i = 0; i < query_shape[q].nfields; i++) {
            if (*out[i].error) {
                break;
            }
        }
        *perr = apr_psprintf(p,
                             "%s: column %u is longer or wider than "
                             "allowed (%lu bytes)",
                             query_shape[q].directive, i + 1,
                             i < query_shape[q].nfields ? *out[i].length : 0);
        rv = PV_DB_ERROR;
        goto cleanup;
    }
    if (r != 0) {
        what = "fetch";
        goto stmt_error;
    }
    goto cleanup;

stmt_error:
    rv = stmt_failed(st, query_shape[q].directive, what, perr, p);

cleanup:
    if (stored) {
        mysql_stmt_free_result(st);
    }
    return rv;
}

/* A read on a connection; PV_DB_LOST when the connection is gone. */
typedef apr_status_t (*read_fn)(pv_db_conn_t *c, void *baton, const char **perr,
                                apr_pool_t *p);

/* A read: run once, and once more on a fresh connection if the first one
 * turned out to be dead (killed, timed out, server restarted). */
static apr_status_t retry_read(pv_db_pool_t *db, read_fn run, void *baton,
                               const char **perr, apr_pool_t *p)
{
    pv_db_conn_t *c;
    apr_status_t rv;
    int attempt;

    for (attempt = 0;; attempt++) {
        rv = conn_acquire(&c, perr, db, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = run(c, baton, perr, p);
        conn_release(c, rv == PV_DB_LOST);
        if (rv != PV_DB_LOST) {
            if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
                mark_up(db);
            }
            return rv;
        }
        if (attempt > 0) {
            return PV_DB_UNAVAILABLE;
        }
        apr_atomic_inc32(&db->retries);
    }
}

/* One of the three statements, at most one row. */
typedef struct one_row_t {
    int q;
    MYSQL_BIND *in, *out;
} one_row_t;

static apr_status_t run_one_row(pv_db_conn_t *c, void *baton, const char **perr,
                                apr_pool_t *p)
{
    one_row_t *o = baton;

    return stmt_run(c, o->q, o->in, o->out, NULL, perr, p);
}

static apr_status_t read_with_retry(pv_db_pool_t *db, int q, MYSQL_BIND *in,
                                    MYSQL_BIND *out, const char **perr,
                                    apr_pool_t *p)
{
    one_row_t o = {q, in, out};

    return retry_read(db, run_one_row, &o, perr, p);
}

static int nul_inside(const char *s, unsigned long len)
{
    return memchr(s, '\0', len) != NULL;
}

/* A text column of row id over max bytes or holding a NUL (a C string
 * would cut it): 1, with *perr naming the query, the column and the row. */
static int text_unusable(const char **perr, const char *query,
                         const char *column, const char *row_of,
                         apr_uint64_t id, const char *s, unsigned long len,
                         int max, apr_pool_t *p)
{
    if (len <= (unsigned long)max && !nul_inside(s, len)) {
        return 0;
    }
    *perr = apr_psprintf(
        p, "%s: %s of %s %" APR_UINT64_T_FMT " is over %d bytes or holds a NUL",
        query, column, row_of, id, max);
    return 1;
}

/* One parameter or result column, every other field of b zeroed. Integers
 * are bound unsigned: ids and token_version are. */
static void bind_u64(MYSQL_BIND *b, unsigned long long *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->is_unsigned = 1;
    b->buffer = v;
}

static void bind_u32(MYSQL_BIND *b, unsigned int *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONG;
    b->is_unsigned = 1;
    b->buffer = v;
}

static void bind_str(MYSQL_BIND *b, char *buf, unsigned long size)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = buf;
    b->buffer_length = size;
}

/* A username the column can hold (NULL only for the empty one). */
static int username_fits(const char *username, apr_size_t len)
{
    return len <= PV_DB_USERNAME_MAX && (username || len == 0);
}

/* A username parameter of *len bytes (not NUL-terminated; MariaDB only
 * reads the buffer). */
static void bind_username(MYSQL_BIND *b, const char *username,
                          unsigned long *len)
{
    bind_str(b, (char *)(username ? username : ""), *len);
    b->length = len;
}

/* Where a fetched row's columns report NULL, truncation and length; three
 * columns at the most. */
typedef struct {
    my_bool null[3];
    my_bool err[3];
    unsigned long len[3];
} row_state_t;

/* The state of the n result columns in out into *row, cleared. */
static void bind_row(MYSQL_BIND *out, unsigned int n, row_state_t *row)
{
    unsigned int i;

    memset(row, 0, sizeof(*row));
    for (i = 0; i < n; i++) {
        out[i].is_null = &row->null[i];
        out[i].error = &row->err[i];
        out[i].length = &row->len[i];
    }
}

apr_status_t pv_db_login_lookup(pv_db_user_t **pout, const char **perr,
                                pv_db_pool_t *db, const char *username,
                                apr_size_t username_len, apr_pool_t *p)
{
    row_state_t row;
    const char *dummy;
    MYSQL_BIND in[1], out[3];
    unsigned long ulen = (unsigned long)username_len, hash_len = 0;
    unsigned long long id = 0;
    unsigned int version = 0;
    char hash[PV_DB_HASH_MAX + 1];
    pv_db_user_t *user;
    apr_status_t rv;

    perr = perr ? perr : &dummy;
    /* longer than the column can hold: no such user, no query */
    if (!username_fits(username, username_len)) {
        return APR_NOTFOUND;
    }
    bind_username(&in[0], username, &ulen);
    bind_u64(&out[0], &id);
    bind_str(&out[1], hash, PV_DB_HASH_MAX + 1);
    bind_u32(&out[2], &version);
    bind_row(out, 3, &row);

    rv = read_with_retry(db, Q_LOGIN, in, out, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    hash_len = row.len[1];
    if (row.null[0] || row.null[2]) {
        *perr = "PreviewLoginQuery returned a NULL id or token_version";
        return PV_DB_ERROR;
    }
    if (!row.null[1] &&
        text_unusable(perr, "PreviewLoginQuery", "password_hash", "user",
                      (apr_uint64_t)id, hash, hash_len, PV_DB_HASH_MAX, p)) {
        return PV_DB_ERROR;
    }
    user = apr_pcalloc(p, sizeof(*user));
    user->id = (apr_uint64_t)id;
    user->token_version = (apr_uint32_t)version;
    if (!row.null[1]) {
        user->password_hash = apr_pstrmemdup(p, hash, hash_len);
        user->password_hash_len = hash_len;
    }
    *pout = user;
    return APR_SUCCESS;
}

apr_status_t pv_db_login_key(const char **pkey, const char **perr,
                             pv_db_pool_t *db, const char *username,
                             apr_size_t username_len, apr_pool_t *p)
{
    row_state_t row;
    const char *dummy;
    MYSQL_BIND in[1], out[1];
    unsigned long ulen = (unsigned long)username_len;
    char key[NAME_KEY_LEN + 1];
    apr_status_t rv;

    perr = perr ? perr : &dummy;
    if (!username_fits(username, username_len)) {
        *perr = "the username key: name longer than a username can be";
        return PV_DB_ERROR;
    }
    bind_username(&in[0], username, &ulen);
    bind_str(&out[0], key, sizeof(key));
    bind_row(out, 1, &row);
    rv = read_with_retry(db, Q_NAME_KEY, in, out, perr, p);
    if (rv == APR_SUCCESS && (row.null[0] || row.len[0] != NAME_KEY_LEN)) {
        *perr = "the username key: MariaDB returned no SHA-256";
        rv = PV_DB_ERROR;
    }
    if (rv != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? PV_DB_ERROR : rv;
    }
    *pkey = apr_pstrmemdup(p, key, row.len[0]);
    return APR_SUCCESS;
}

apr_status_t pv_db_password_sample(const char **phash, const char **perr,
                                   pv_db_pool_t *db, apr_pool_t *p)
{
    row_state_t row;
    const char *dummy;
    MYSQL_BIND out[1];
    char hash[PV_DB_HASH_MAX + 1];
    apr_status_t rv;

    perr = perr ? perr : &dummy;
    if (!db->query[Q_SAMPLE]) {
        return APR_ENOTIMPL;
    }
    bind_str(&out[0], hash, PV_DB_HASH_MAX + 1);
    bind_row(out, 1, &row);
    rv = read_with_retry(db, Q_SAMPLE, NULL, out, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (row.null[0] || row.len[0] > PV_DB_HASH_MAX ||
        nul_inside(hash, row.len[0])) {
        return APR_NOTFOUND;
    }
    *phash = apr_pstrmemdup(p, hash, row.len[0]);
    return APR_SUCCESS;
}

apr_status_t pv_db_image_lookup(pv_db_image_t **pout, const char **perr,
                                pv_db_pool_t *db, apr_uint64_t image_id,
                                apr_uint64_t user_id, apr_pool_t *p)
{
    row_state_t row;
    const char *dummy;
    MYSQL_BIND in[2], out[2];
    unsigned long long iid = image_id, uid = user_id;
    unsigned int version = 0;
    char *path = apr_palloc(p, PV_DB_PATH_MAX + 1);
    pv_db_image_t *img;
    apr_status_t rv;

    perr = perr ? perr : &dummy;
    bind_u64(&in[0], &iid);
    bind_u64(&in[1], &uid);

    bind_u32(&out[0], &version);
    bind_str(&out[1], path, PV_DB_PATH_MAX + 1);
    bind_row(out, 2, &row);

    rv = read_with_retry(db, Q_IMAGE, in, out, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (row.null[0]) {
        *perr = "PreviewImageQuery returned a NULL token_version";
        return PV_DB_ERROR;
    }
    if (!row.null[1] &&
        text_unusable(perr, "PreviewImageQuery", "path", "image",
                      (apr_uint64_t)iid, path, row.len[1], PV_DB_PATH_MAX, p)) {
        return PV_DB_ERROR;
    }
    img = apr_pcalloc(p, sizeof(*img));
    img->token_version = (apr_uint32_t)version;
    if (!row.null[1]) {
        path[row.len[1]] = '\0';
        img->path = path;
        img->path_len = row.len[1];
    }
    *pout = img;
    return APR_SUCCESS;
}

/* preview-sign's batch, bound and waiting for a connection. */
typedef struct owned_run_t {
    int bucket;
    MYSQL_BIND *in; /* owned_sizes[bucket] image ids, then the user id */
    pv_db_owned_t *res;
} owned_run_t;

static apr_status_t owned_prepare(MYSQL_STMT **pout, pv_db_conn_t *c,
                                  int bucket, const char **perr, apr_pool_t *p)
{
    const char *q = c->db->owned_query[bucket];
    MYSQL_STMT *st;
    unsigned int e;

    if (c->owned[bucket]) {
        *pout = c->owned[bucket];
        return APR_SUCCESS;
    }
    st = mysql_stmt_init(c->mysql);
    if (!st) {
        *perr = "mysql_stmt_init failed (out of memory)";
        return APR_ENOMEM;
    }
    apr_atomic_inc32(&c->db->prepares);
    if (mysql_stmt_prepare(st, q, strlen(q))) {
        e = mysql_stmt_errno(st);
        *perr = apr_psprintf(p, "preview-sign query (%d ids): %u %s",
                             owned_sizes[bucket], e, mysql_stmt_error(st));
        mysql_stmt_close(st);
        return errno_is_lost(e) ? PV_DB_LOST : PV_DB_ERROR;
    }
    *pout = c->owned[bucket] = st;
    return APR_SUCCESS;
}

static apr_status_t run_owned(pv_db_conn_t *c, void *baton, const char **perr,
                              apr_pool_t *p)
{
    row_state_t row;
    owned_run_t *o = baton;
    MYSQL_STMT *st = NULL;
    MYSQL_BIND out[2];
    unsigned long long iid = 0;
    unsigned int version = 0;
    const char *what;
    apr_uint64_t rows;
    apr_status_t rv;
    int r, n = 0;

    rv = owned_prepare(&st, c, o->bucket, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    bind_u32(&out[0], &version);
    bind_u64(&out[1], &iid);
    bind_row(out, 2, &row);
    what = stmt_exec(st, o->in, out);
    if (what) {
        return stmt_failed(st, "preview-sign query", what, perr, p);
    }
    /* One row per image found (the ids are distinct primary keys), or one
     * with a NULL id when none is the user's; none: no such user. */
    rows = (apr_uint64_t)mysql_stmt_num_rows(st);
    if (rows == 0) {
        rv = APR_NOTFOUND;
        goto cleanup;
    }
    if (rows > (apr_uint64_t)owned_sizes[o->bucket]) {
        *perr = apr_psprintf(p,
                             "preview-sign query returned %" APR_UINT64_T_FMT
                             " rows for %d ids",
                             rows, owned_sizes[o->bucket]);
        rv = PV_DB_ERROR;
        goto cleanup;
    }
    o->res->ids = apr_palloc(p, sizeof(apr_uint64_t) * (apr_size_t)rows);
    while ((r = mysql_stmt_fetch(st)) == 0) {
        if (row.null[0]) {
            *perr = "preview-sign query returned a NULL token_version";
            rv = PV_DB_ERROR;
            goto cleanup;
        }
        o->res->token_version = (apr_uint32_t)version;
        if (!row.null[1]) {
            o->res->ids[n++] = (apr_uint64_t)iid;
        }
    }
    if (r != MYSQL_NO_DATA) {
        rv = stmt_failed(st, "preview-sign query", "fetch", perr, p);
        goto cleanup;
    }
    o->res->nids = n;

cleanup:
    mysql_stmt_free_result(st);
    return rv;
}

apr_status_t pv_db_owned_images(pv_db_owned_t **pout, const char **perr,
                                pv_db_pool_t *db, const apr_uint64_t *ids,
                                int nids, apr_uint64_t user_id, apr_pool_t *p)
{
    const char *dummy;
    unsigned long long *vals;
    owned_run_t o;
    apr_status_t rv;
    int i, size;

    perr = perr ? perr : &dummy;
    if (!ids || nids < 1 || nids > PV_DB_OWNED_MAX) {
        return APR_EINVAL;
    }
    for (o.bucket = 0; owned_sizes[o.bucket] < nids; o.bucket++) {
    }
    size = owned_sizes[o.bucket];
    vals = apr_palloc(p, sizeof(*vals) * ((apr_size_t)size + 1));
    o.in = apr_palloc(p, sizeof(MYSQL_BIND) * ((apr_size_t)size + 1));
    for (i = 0; i < size; i++) {
        /* a repeat of an id asked for adds no row */
        vals[i] = ids[i < nids ? i : 0];
        bind_u64(&o.in[i], &vals[i]);
    }
    vals[size] = user_id;
    bind_u64(&o.in[size], &vals[size]);
    o.res = apr_pcalloc(p, sizeof(*o.res));
    rv = retry_read(db, run_owned, &o, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pout = o.res;
    return APR_SUCCESS;
}

apr_status_t pv_db_logout(apr_uint64_t *paffected, const char **perr,
                          pv_db_pool_t *db, apr_uint64_t user_id, apr_pool_t *p)
{
    const char *dummy;
    MYSQL_BIND in[1];
    unsigned long long uid = user_id;
    apr_uint64_t affected = 0;
    pv_db_conn_t *c;
    apr_status_t rv;

    perr = perr ? perr : &dummy;
    bind_u64(&in[0], &uid);

    rv = conn_acquire(&c, perr, db, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* A write is not retried once sent (we could not tell whether it ran),
     * so make sure first that this pooled connection is still alive. */
    if (mysql_ping(c->mysql)) {
        conn_release(c, 1);
        rv = conn_acquire(&c, perr, db, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = stmt_run(c, Q_LOGOUT, in, NULL, &affected, perr, p);
    conn_release(c, rv == PV_DB_LOST);
    if (rv == PV_DB_LOST) {
        *perr = apr_pstrcat(p, *perr, " (the logout may not have been applied)",
                            NULL);
        return PV_DB_UNAVAILABLE;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    mark_up(db);
    *paffected = affected;
    return APR_SUCCESS;
}
