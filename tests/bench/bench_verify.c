/* Micro-benchmark of pv_token_verify: HS256 tokens, a ring of two keys,
 * one thread and then two threads sharing one verifier (as httpd's worker
 * threads do). Prints verifications per second. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>

#include "pv_keyring.h"
#include "pv_token.h"

#define RING_TEXT                                                              \
    "new ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"                        \
    "old AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
#define NOW     1700000060
#define SECONDS 2.0

typedef struct {
    const pv_token_verifier_t *v;
    const char *token;
    double seconds;
    long count;
    int failed;
} run_t;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *data)
{
    run_t *r = data;
    size_t len = strlen(r->token);
    pv_token_claims_t c;
    double start = now_s(), end = start + r->seconds;
    long n = 0;
    int i;

    while (now_s() < end) {
        /* check the clock every 1000 runs: it costs as much as a verify */
        for (i = 0; i < 1000; i++) {
            if (pv_token_verify(&c, r->v, r->token, len, NOW) != PV_TOKEN_OK) {
                r->failed = 1;
                return NULL;
            }
        }
        n += 1000;
    }
    r->count = n;
    r->seconds = now_s() - start;
    return NULL;
}

static int bench(const char *what, const pv_token_verifier_t *v,
                 const char *token, int threads)
{
    pthread_t th[8];
    run_t runs[8];
    double rate = 0;
    int i;

    for (i = 0; i < threads; i++) {
        runs[i].v = v;
        runs[i].token = token;
        runs[i].seconds = SECONDS;
        runs[i].count = 0;
        runs[i].failed = 0;
        pthread_create(&th[i], NULL, run, &runs[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (runs[i].failed) {
            fprintf(stderr, "bench_verify: %s: token refused\n", what);
            return 1;
        }
        rate += (double)runs[i].count / runs[i].seconds;
    }
    printf("bench_verify: %-34s %d thread%s %10.0f verifications/s "
           "(%.2f us each per thread)\n",
           what, threads, threads > 1 ? "s" : " ", rate, 1e6 * threads / rate);
    return 0;
}

int main(void)
{
    apr_pool_t *p;
    pv_keyring_t *ring, *old;
    pv_token_verifier_t *v;
    pv_token_config_t cfg;
    const char *err, *tok_new, *tok_old;
    int rc = 0;

    apr_initialize();
    apr_pool_create(&p, NULL);
    if (pv_keyring_parse(&ring, &err, RING_TEXT, strlen(RING_TEXT), "bench",
                         p) ||
        pv_keyring_parse(&old, &err, RING_TEXT + 48, strlen(RING_TEXT) - 48,
                         "bench", p)) {
        fprintf(stderr, "bench_verify: %s\n", err);
        return 1;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.ring = ring;
    cfg.leeway = 30;
    if (pv_token_verifier_make(&v, &cfg, p) ||
        pv_token_mint(&tok_new, ring, PV_ALG_HS256, 123456, 3, NOW - 60, 86400,
                      p) ||
        pv_token_mint(&tok_old, old, PV_ALG_HS256, 123456, 3, NOW - 60, 86400,
                      p)) {
        fprintf(stderr, "bench_verify: setup failed\n");
        return 1;
    }
    printf("bench_verify: token of %zu bytes, HS256, ring of %d keys\n",
           strlen(tok_new), pv_keyring_count(ring));
    rc |= bench("HS256, first key", v, tok_new, 1);
    rc |= bench("HS256, second key (rotation)", v, tok_old, 1);
    rc |= bench("HS256, first key", v, tok_new, 2);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
