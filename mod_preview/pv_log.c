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

static void log_va(const char *file, int line, pv_log_level_e level,
                   apr_status_t rv, const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    log_cb(log_baton, file, line, level, rv, buf);
}

void pv_log_(const char *file, int line, pv_log_level_e level, apr_status_t rv,
             const char *fmt, ...)
{
    va_list ap;

    if (!log_cb) {
        return;
    }
    va_start(ap, fmt);
    log_va(file, line, level, rv, fmt, ap);
    va_end(ap);
}

void pv_log(pv_log_level_e level, const char *fmt, ...)
{
    va_list ap;

    if (!log_cb) {
        return;
    }
    va_start(ap, fmt);
    log_va(PV_LOG_MARK, level, 0, fmt, ap);
    va_end(ap);
}
