/* The one splitter of application/x-www-form-urlencoded text (a URL's
 * query, a form body) into its '&'-separated name=value pairs. The pairs
 * stay raw (still %-escaped): each caller decodes what it reads, with
 * pv_request_unescape(). */
#ifndef PV_QUERY_H
#define PV_QUERY_H

#include <apr.h>

typedef struct {
    const char *text; /* the whole pair, len bytes */
    apr_size_t len;
    const char *name; /* up to the first '=', or the whole pair */
    apr_size_t name_len;
    /* after the '='; without one, the pair's end with value_len 0 */
    const char *value;
    apr_size_t value_len;
    int has_value; /* the pair has an '=' */
} pv_query_pair_t;

/* The pair at *ppos of [*ppos, end): 1, *pair set and *ppos past it and
 * its '&'; 0 when *ppos is at end. An empty pair ("a&&b") is one too. */
int pv_query_next(pv_query_pair_t *pair, const char **ppos, const char *end);

/* Where a URL's query ends: at its '#' (a fragment is never part of it),
 * else at its NUL. */
const char *pv_query_end(const char *args);

#endif /* PV_QUERY_H */
