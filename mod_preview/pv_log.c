/* The core's log: a message formatted once and handed, with its source
 * file and line, to the callback the glue installed (pv_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "pv_log.h"

static pv_log_cb *log_cb;
static void *log_baton;

void pv_log_set(pv_log_cb *cb, void *baton)
{
    log_cb = cb;
    log_baton = baton;
}

void pv_log_(const char *file, int line, pv_log_level_e level, apr_status_t rv,
             const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!log_cb) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_cb(log_baton, file, line, level, rv, buf);
}
