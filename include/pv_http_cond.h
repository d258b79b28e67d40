/* Conditional requests: whether an If-None-Match header matches our ETag,
 * so that the glue answers 304 without a render or a cache read. */
#ifndef PV_HTTP_COND_H
#define PV_HTTP_COND_H

/* RFC 9110 13.1.2: header (NULL: absent) is a list of entity-tags or "*";
 * If-None-Match uses the weak comparison (a W/ prefix is ignored), "*"
 * matches any current representation. etag is ours, quoted. An element
 * that is not an entity-tag is skipped up to the next comma; an
 * unterminated one ends the list. 1 on a match, else 0. */
int pv_http_cond_none_match(const char *header, const char *etag);

#endif /* PV_HTTP_COND_H */
