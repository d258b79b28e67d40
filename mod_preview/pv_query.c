/* Splitting form-encoded text into pairs (pv_query.h). */
#include <string.h>

#include "pv_query.h"

int pv_query_next(pv_query_pair_t *pair, const char **ppos, const char *end)
{
    const char *s = *ppos, *amp, *pe, *eq;

    if (!s || s >= end) {
        return 0;
    }
    amp = memchr(s, '&', (apr_size_t)(end - s));
    pe = amp ? amp : end;
    eq = memchr(s, '=', (apr_size_t)(pe - s));
    pair->text = s;
    pair->len = (apr_size_t)(pe - s);
    pair->name = s;
    pair->name_len = (apr_size_t)((eq ? eq : pe) - s);
    pair->has_value = eq != NULL;
    pair->value = eq ? eq + 1 : pe;
    pair->value_len = (apr_size_t)(pe - pair->value);
    *ppos = amp ? amp + 1 : end;
    return 1;
}

const char *pv_query_end(const char *args)
{
    const char *hash = strchr(args, '#');

    return hash ? hash : args + strlen(args);
}
