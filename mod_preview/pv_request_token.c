/* A query's token=/access_token= pairs, the rest left out. */
#include <string.h>

#include <apr_strings.h>

#include "pv_query.h"
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
    pv_query_pair_t pair;
    char *out, *o;

    if (!args) {
        return NULL;
    }
    end = pv_query_end(args);
    out = o = apr_palloc(p, (end - args) + 1);
    while (pv_query_next(&pair, &s, end)) {
        if (is_token_name(pair.name, pair.name_len, p)) {
            if (o > out) {
                *o++ = '&';
            }
            memcpy(o, pair.text, pair.len);
            o += pair.len;
        }
    }
    *o = '\0';
    return out;
}
