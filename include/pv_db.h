/* MariaDB access: connection parameters, a per-process pool, and the three
 * prepared statements (login, image ownership, logout). */
#ifndef PV_DB_H
#define PV_DB_H

#include <apr_pools.h>

typedef struct pv_db_params_t pv_db_params_t;

/* Parse PreviewDBParams, mod_dbd's syntax: "key=value" pairs separated by
 * spaces or commas; keys host port user pass dbname sock connecttimeout
 * readtimeout writetimeout. An unknown key or a bad value fails with *perr
 * naming the key (never the password's value). */
apr_status_t pv_db_params_parse(pv_db_params_t **pout, const char **perr,
                                const char *text, apr_pool_t *p);

#endif /* PV_DB_H */
