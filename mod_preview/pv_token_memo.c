/* Tokens a process verified lately (see pv_token_memo.h). */
#include <string.h>

#include <apr_thread_rwlock.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pv_token_memo.h"

#define MEMO_LOCKS 16

typedef struct memo_slot_t {
    const pv_token_verifier_t *v; /* NULL: empty */
    apr_int64_t verified_at;      /* now of the verification */
    pv_token_claims_t claims;
    apr_size_t len;
    char token[PV_TOKEN_MEMO_MAX];
} memo_slot_t;

struct pv_token_memo_t {
    apr_thread_rwlock_t *locks[MEMO_LOCKS];
    apr_uint64_t seed; /* random: a client cannot aim at one slot */
    memo_slot_t *slots;
};

apr_status_t pv_token_memo_create(pv_token_memo_t **pout, apr_pool_t *p)
{
    pv_token_memo_t *m = apr_pcalloc(p, sizeof(*m));
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (RAND_bytes((unsigned char *)&m->seed, sizeof(m->seed)) != 1) {
        return APR_EGENERAL;
    }
    m->slots = apr_pcalloc(p, sizeof(*m->slots) * PV_TOKEN_MEMO_SLOTS);
    for (i = 0; i < MEMO_LOCKS && rv == APR_SUCCESS; i++) {
        rv = apr_thread_rwlock_create(&m->locks[i], p);
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *pout = m;
cleanup:
    return rv;
}

/* FNV-1a of the token's last bytes (its signature) from a random seed,
 * for the slot only: a match is decided by the whole token. */
static apr_size_t slot_of(const pv_token_memo_t *m,
                          const pv_token_verifier_t *v, const char *token,
                          apr_size_t len)
{
    apr_uint64_t h = m->seed ^ (apr_uint64_t)(apr_uintptr_t)v ^ len;
    apr_size_t i;

    for (i = len > 64 ? len - 64 : 0; i < len; i++) {
        h ^= (unsigned char)token[i];
        h *= APR_UINT64_C(0x100000001b3);
    }
    h ^= h >> 32;
    return (apr_size_t)(h % PV_TOKEN_MEMO_SLOTS);
}

/* The kept claims of token, if still good at now: the verifier's time
 * rules again (iat and nbf held at verified_at, and time only moves on
 * from there; exp against now). */
static int memo_get(pv_token_claims_t *claims, pv_token_memo_t *m,
                    const pv_token_verifier_t *v, apr_size_t i,
                    const char *token, apr_size_t len, apr_int64_t now)
{
    memo_slot_t *s = &m->slots[i];
    apr_int64_t leeway = pv_token_verifier_leeway(v);
    int found = 0;

    if (apr_thread_rwlock_rdlock(m->locks[i % MEMO_LOCKS]) != APR_SUCCESS) {
        return 0;
    }
    if (s->v == v && s->len == len && now >= s->verified_at &&
        s->claims.exp > now - leeway &&
        CRYPTO_memcmp(s->token, token, len) == 0) {
        *claims = s->claims;
        found = 1;
    }
    apr_thread_rwlock_unlock(m->locks[i % MEMO_LOCKS]);
    return found;
}

static void memo_put(pv_token_memo_t *m, const pv_token_verifier_t *v,
                     apr_size_t i, const pv_token_claims_t *claims,
                     const char *token, apr_size_t len, apr_int64_t now)
{
    memo_slot_t *s = &m->slots[i];

    if (apr_thread_rwlock_wrlock(m->locks[i % MEMO_LOCKS]) != APR_SUCCESS) {
        return;
    }
    s->v = v;
    s->verified_at = now;
    s->claims = *claims;
    s->len = len;
    memcpy(s->token, token, len);
    apr_thread_rwlock_unlock(m->locks[i % MEMO_LOCKS]);
}

pv_token_result_e pv_token_memo_verify(pv_token_claims_t *claims,
                                       pv_token_memo_t *m,
                                       const pv_token_verifier_t *v,
                                       const char *token, apr_size_t len,
                                       apr_int64_t now)
{
    pv_token_result_e r;
    apr_size_t i;

    if (!m || !token || len == 0 || len > PV_TOKEN_MEMO_MAX) {
        return pv_token_verify(claims, v, token, len, now);
    }
    i = slot_of(m, v, token, len);
    if (memo_get(claims, m, v, i, token, len, now)) {
        return PV_TOKEN_OK;
    }
    r = pv_token_verify(claims, v, token, len, now);
    if (r == PV_TOKEN_OK) {
        memo_put(m, v, i, claims, token, len, now);
    }
    return r;
}
