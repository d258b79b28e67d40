/* The core's only way to log: the glue (or the CLI, or a test) installs a
 * callback; the core never writes to stderr or to httpd's log itself. */
#ifndef PV_LOG_H
#define PV_LOG_H

#include <apr_errno.h>
#include <apr_general.h>

typedef enum {
    PV_LOG_ERR = 3,
    PV_LOG_WARNING = 4,
    PV_LOG_NOTICE = 5,
    PV_LOG_INFO = 6,
    PV_LOG_DEBUG = 7
} pv_log_level_e;

/* Our own message numbers (httpd's AHnnnnn are for httpd's modules). Each
 * number is used once; an operator greps it, a test can fail on it. The
 * list of numbers is README's "Log tags". */
#define PVLOGNO(n) "PV" #n ": "

/* The caller's source file and line, as APLOG_MARK is for httpd: a line
 * of the error log then names the core's code, not the glue's callback. */
#define PV_LOG_MARK __FILE__, __LINE__

/* file and line: where the message was logged (PV_LOG_MARK); rv: the
 * status it is about, 0 for none (httpd adds "(rv)reason: "). */
typedef void pv_log_cb(void *baton, const char *file, int line,
                       pv_log_level_e level, apr_status_t rv, const char *msg);

/* Not thread-safe to change: set once at start-up (post_config/child_init). */
void pv_log_set(pv_log_cb *cb, void *baton);

/* pv_log_(PV_LOG_MARK, PV_LOG_ERR, rv, PVLOGNO(nnnn) "...", ...) */
void pv_log_(const char *file, int line, pv_log_level_e level, apr_status_t rv,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* PV_LOG_H */
