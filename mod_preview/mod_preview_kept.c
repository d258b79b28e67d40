/* State kept across restarts of httpd's configuration: a never-destroyed
 * pool and named values found again through the process pool's userdata
 * (see mod_preview_kept.h). */
#include "httpd.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "mod_preview_kept.h"

/* Userdata keys: apr_pool_userdata_set copies them into the process pool,
 * so they stay valid after this module's text is unloaded. */
#define KEPT_POOL_KEY "mod_preview:kept-pool"
#define KEPT_PREFIX   "mod_preview:kept:"

typedef struct {
    apr_shm_t *shm;
    apr_size_t size;
} kept_shm;

apr_pool_t *pv_kept_pool(server_rec *s)
{
    apr_pool_t *kp = NULL;
    void *v = NULL;

    apr_pool_userdata_get(&v, KEPT_POOL_KEY, s->process->pool);
    if (v) {
        return v;
    }
    /* Without a parent: the process pool's destruction at exit, which
     * comes after every module was unloaded, never reaches it. */
    if (apr_pool_create_unmanaged_ex(&kp, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(kp, "mod_preview_kept");
    apr_pool_userdata_set(kp, KEPT_POOL_KEY, NULL, s->process->pool);
    return kp;
}

void *pv_kept_get(server_rec *s, const char *name)
{
    void *v = NULL;

    apr_pool_userdata_get(
        &v, apr_pstrcat(s->process->pconf, KEPT_PREFIX, name, NULL),
        s->process->pool);
    return v;
}

void pv_kept_set(server_rec *s, const char *name, void *value)
{
    apr_pool_userdata_set(
        value, apr_pstrcat(s->process->pconf, KEPT_PREFIX, name, NULL), NULL,
        s->process->pool);
}

apr_status_t pv_kept_shm(void **pbase, int *pfresh, server_rec *s,
                         const char *name, apr_size_t size)
{
    const char *key = apr_pstrcat(s->process->pconf, "shm:", name, NULL);
    apr_pool_t *kp = pv_kept_pool(s);
    kept_shm *k = pv_kept_get(s, key);
    apr_status_t rv;

    if (!kp) {
        return APR_ENOMEM;
    }
    if (k && k->shm && k->size == size) {
        *pbase = apr_shm_baseaddr_get(k->shm);
        *pfresh = 0;
        return APR_SUCCESS;
    }
    if (!k) {
        k = apr_pcalloc(kp, sizeof(*k));
        pv_kept_set(s, key, k);
    }
    if (k->shm) {
        apr_shm_destroy(k->shm);
        k->shm = NULL;
    }
    rv = apr_shm_create(&k->shm, size, NULL, kp);
    if (rv != APR_SUCCESS) {
        k->shm = NULL;
        return rv;
    }
    k->size = size;
    *pbase = apr_shm_baseaddr_get(k->shm);
    memset(*pbase, 0, size);
    *pfresh = 1;
    return APR_SUCCESS;
}
