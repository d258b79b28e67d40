/* MariaDB access through Connector/C: PreviewDBParams, a per-process pool on
 * apr_reslist, three prepared statements per connection, and the fault rules
 * (reconnect and retry a read once; fail fast and log once while down). */
#include <string.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "pv_db.h"
#include "pv_log.h"

#define PV_DB_DEFAULT_CONNECT_TIMEOUT 3
#define PV_DB_DEFAULT_RW_TIMEOUT      10
#define PV_DB_TIMEOUT_MAX             3600

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
};

/* apr_dbd_mysql's separators, so a mod_dbd DBDParams line works as is. */
static const char params_delims[] = " \r\n\t;|,";

static int parse_uint(unsigned int *out, const char *s, unsigned int min,
                      unsigned int max)
{
    unsigned long v = 0;

    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isdigit(*s)) {
            return 0;
        }
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max) {
            return 0;
        }
    }
    if (v < min) {
        return 0;
    }
    *out = (unsigned int)v;
    return 1;
}

apr_status_t pv_db_params_parse(pv_db_params_t **pout, const char **perr,
                                const char *text, apr_pool_t *p)
{
    pv_db_params_t *params = apr_pcalloc(p, sizeof(*params));
    const char *s = text ? text : "";
    const char *err = NULL;
    int after_pass = 0;

    while (*s) {
        const char *kstart, *vstart;
        char *key, *value;
        const char **sfield = NULL;
        unsigned int *ufield = NULL, umin = 1, umax = PV_DB_TIMEOUT_MAX;
        apr_size_t klen, vlen;

        s += strspn(s, params_delims);
        if (!*s) {
            break;
        }
        kstart = s;
        while (apr_isalnum(*s) || *s == '_') {
            s++;
        }
        klen = (apr_size_t)(s - kstart);
        /* "key = value" is accepted, as apr_dbd_mysql does */
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        /* a password holding a separator would leak its tail in a message */
        if (after_pass &&
            (klen == 0 || *s != '=' ||
             !strstr(" host user pass dbname sock port "
                     "connecttimeout readtimeout writetimeout ",
                     apr_psprintf(p, " %.*s ", (int)klen, kstart)))) {
            err = "unexpected text after the value of 'pass' (a password "
                  "cannot contain spaces, tabs, newlines, ',', ';' or '|')";
            goto cleanup;
        }
        if (klen == 0 || *s != '=') {
            apr_size_t n = strcspn(kstart, params_delims);
            err = apr_psprintf(p, "expected key=value, found '%.*s'",
                               (int)(n > 40 ? 40 : n), kstart);
            goto cleanup;
        }
        key = apr_pstrmemdup(p, kstart, klen);
        s++;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        vstart = s;
        vlen = strcspn(vstart, params_delims);
        value = apr_pstrmemdup(p, vstart, vlen);
        s += vlen;

        if (!strcmp(key, "host")) {
            sfield = &params->host;
        }
        else if (!strcmp(key, "user")) {
            sfield = &params->user;
        }
        else if (!strcmp(key, "pass")) {
            sfield = &params->pass;
        }
        else if (!strcmp(key, "dbname")) {
            sfield = &params->dbname;
        }
        else if (!strcmp(key, "sock")) {
            sfield = &params->sock;
        }
        else if (!strcmp(key, "port")) {
            ufield = &params->port;
            umax = 65535;
        }
        else if (!strcmp(key, "connecttimeout")) {
            ufield = &params->connect_timeout;
        }
        else if (!strcmp(key, "readtimeout")) {
            ufield = &params->read_timeout;
        }
        else if (!strcmp(key, "writetimeout")) {
            ufield = &params->write_timeout;
        }
        else {
            err = apr_psprintf(p,
                               "unknown key '%.40s' (known: host port "
                               "user pass dbname sock connecttimeout "
                               "readtimeout writetimeout)",
                               key);
            goto cleanup;
        }

        after_pass = (sfield == &params->pass);
        if (sfield) {
            if (*sfield) {
                err = apr_psprintf(p, "key '%s' given twice", key);
                goto cleanup;
            }
            /* an empty password is a valid account setting; nothing else is */
            if (vlen == 0 && sfield != &params->pass) {
                err = apr_psprintf(p, "key '%s' has an empty value", key);
                goto cleanup;
            }
            *sfield = value;
        }
        else {
            if (*ufield) {
                err = apr_psprintf(p, "key '%s' given twice", key);
                goto cleanup;
            }
            if (!parse_uint(ufield, value, umin, umax)) {
                err = apr_psprintf(p,
                                   "key '%s': '%.20s' is not a number "
                                   "from %u to %u%s",
                                   key, value, umin, umax,
                                   ufield == &params->port ? "" : " (seconds)");
                goto cleanup;
            }
        }
    }

cleanup:
    if (err) {
        if (perr) {
            *perr = err;
        }
        return APR_EINVAL;
    }
    *pout = params;
    return APR_SUCCESS;
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
           write_timeout(a) == write_timeout(b);
}
