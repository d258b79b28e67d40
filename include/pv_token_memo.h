/* Tokens a process verified lately, with their claims, so that a client
 * that sends the same token again (a gallery's previews) is not parsed
 * and MAC'd again: the token's bytes are compared in full (constant time)
 * with the one kept, and the claims' times are checked again at each use
 * with the verifier's rules (exp against now minus the leeway), so that a
 * kept token is accepted exactly when pv_token_verify() would accept it.
 * Only what verified is kept: no forgery gets in. Revocation is not the
 * memo's: the ownership query checks ver at every request.
 *
 * A fixed table (bounded memory, a slot's entry replaced), guarded by a
 * few read-write locks (threads of one process). */
#ifndef PV_TOKEN_MEMO_H
#define PV_TOKEN_MEMO_H

#include <apr_errno.h>
#include <apr_pools.h>

#include "pv_token.h"

/* Entries per process, and the longest token kept (bytes). */
#define PV_TOKEN_MEMO_SLOTS 256
#define PV_TOKEN_MEMO_MAX   1024

typedef struct pv_token_memo_t pv_token_memo_t;

apr_status_t pv_token_memo_create(pv_token_memo_t **pout, apr_pool_t *p);

/* pv_token_verify() through the memo: the same result and claims. */
pv_token_result_e pv_token_memo_verify(pv_token_claims_t *claims,
                                       pv_token_memo_t *m,
                                       const pv_token_verifier_t *v,
                                       const char *token, apr_size_t len,
                                       apr_int64_t now);

#endif /* PV_TOKEN_MEMO_H */
