/* If-None-Match against an ETag (RFC 9110 13.1.2), the weak comparison. */
#include <string.h>

#include <apr.h>

#include "pv_http_cond.h"

int pv_http_cond_none_match(const char *header, const char *etag)
{
    apr_size_t elen = strlen(etag);
    const char *s = header;

    if (!s) {
        return 0;
    }
    while (*s) {
        const char *e;

        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (!*s) {
            break;
        }
        if (*s == '*') {
            return 1;
        }
        if (s[0] == 'W' && s[1] == '/') {
            s += 2;
        }
        if (*s != '"') {
            /* Not an entity-tag: skip to the next comma. */
            e = strchr(s, ',');
            if (!e) {
                break;
            }
            s = e;
            continue;
        }
        e = strchr(s + 1, '"');
        if (!e) {
            break;
        }
        if ((apr_size_t)(e + 1 - s) == elen && !memcmp(s, etag, elen)) {
            return 1;
        }
        s = e + 1;
    }
    return 0;
}
