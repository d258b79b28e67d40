/* A query's token=/access_token= pairs, the rest left out. */
#include <string.h>

#include <apr_strings.h>

#include "pv_request.h"
#include "pv_request_token.h"

static int is_token_name(const char *s, apr_size_t len, apr_pool_t *p)
{
    const char *name;
    apr_size_t nlen;

    return pv_request_unescape(&name, &nlen, s, len, p) == APR_SUCCESS &&
           ((nlen == 5 && !memcmp(name, "token", 5)) ||
            (nlen == 12 && !memcmp(name, "access_token", 12)));
}

const char *pv_request_token_pairs(const char *args, apr_pool_t *p)
{
    const char *s = args, *end;
    char *out, *o;

    if (!args) {
        return NULL;
    }
    end = strchr(args, '#');
    if (!end) {
        end = args + strlen(args);
    }
    out = o = apr_palloc(p, (end - args) + 1);
    while (s < end) {
        const char *amp = memchr(s, '&', end - s);
        const char *pe = amp ? amp : end;
        const char *eq = memchr(s, '=', pe - s);

        if (is_token_name(s, (eq ? eq : pe) - s, p)) {
            if (o > out) {
                *o++ = '&';
            }
            memcpy(o, s, pe - s);
            o += pe - s;
        }
        s = amp ? amp + 1 : end;
    }
    *o = '\0';
    return out;
}
