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

void pv_log(pv_log_level_e level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!log_cb) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_cb(log_baton, level, buf);
}
