/* The core's only way to log: the glue (or the CLI, or a test) installs a
 * callback; the core never writes to stderr or to httpd's log itself. */
#ifndef PV_LOG_H
#define PV_LOG_H

#include <apr_general.h>

typedef enum {
    PV_LOG_ERR = 3,
    PV_LOG_WARNING = 4,
    PV_LOG_NOTICE = 5,
    PV_LOG_INFO = 6,
    PV_LOG_DEBUG = 7
} pv_log_level_e;

/* Our own message numbers (httpd's AHnnnnn are for httpd's modules). Each
 * number is used once; an operator greps it, a test can fail on it. */
#define PVLOGNO(n) "PV" #n ": "

typedef void pv_log_cb(void *baton, pv_log_level_e level, const char *msg);

/* Not thread-safe to change: set once at start-up (post_config/child_init). */
void pv_log_set(pv_log_cb *cb, void *baton);

void pv_log(pv_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* PV_LOG_H */
