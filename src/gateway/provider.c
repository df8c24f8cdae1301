/*
 * Provider snapshots. The router never reads a provider's configuration through the gateway's
 * table while a request runs: it takes a reference to an immutable gw_provider_t under the
 * gateway lock and works from that. Replacing or removing a provider only drops the table's
 * reference, so requests in flight finish with the configuration they started with, and the
 * last release (whoever holds it) wipes the API key before the memory goes back to the heap.
 * Defaults for the timeouts and retry count are resolved here, once, so the layers above never
 * see the "0 means default" convention of the public config.
 */
#include "gw_internal.h"

#include <string.h>

#include "hanzo/crypto.h"

gw_provider_t *gw_provider_new(const hz_gw_provider_config_t *cfg) {
    if (!cfg) {
        hz_error_set(HZ_EINVAL, "provider config is NULL");
        return NULL;
    }
    if (hz_gw_provider_config_check(cfg) != 0) return NULL;

    hz_gw_wire_t wire;
    const char *default_url = NULL;
    if (hz_gw_provider_type(cfg->type, &wire, &default_url) != 0) return NULL;
    const char *base = (cfg->base_url && cfg->base_url[0]) ? cfg->base_url : default_url;
    if (!base) {
        hz_error_set(HZ_EINVAL, "provider %s: base_url is required for type \"%s\"", cfg->id, cfg->type);
        return NULL;
    }

    gw_provider_t *p = hz_calloc(1, sizeof(*p));
    atomic_init(&p->refs, 1);
    p->id = hz_strdup(cfg->id);
    p->type = hz_strdup(cfg->type);
    p->wire = wire;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;   /* paths are appended with a leading '/' */
    p->base_url = hz_strndup(base, blen);
    p->api_key = (cfg->api_key && cfg->api_key[0]) ? hz_strdup(cfg->api_key) : NULL;
    if (cfg->n_models > 0) {
        p->models = hz_calloc(cfg->n_models, sizeof(char *));
        for (size_t i = 0; i < cfg->n_models; i++) p->models[i] = hz_strdup(cfg->models[i]);
        p->n_models = cfg->n_models;
    }
    p->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    p->first_byte_timeout_ms = cfg->first_byte_timeout_ms > 0 ? cfg->first_byte_timeout_ms : 60000;
    p->idle_timeout_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 60000;
    if (cfg->max_retries < 0)
        p->max_retries = 0;
    else if (cfg->max_retries == 0)
        p->max_retries = 2;
    else
        p->max_retries = cfg->max_retries;
    return p;
}

gw_provider_t *gw_provider_ref(gw_provider_t *p) {
    if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void gw_provider_release(gw_provider_t *p) {
    if (!p) return;
    /* acq_rel so the thread that frees sees every write made under the other references */
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    if (p->api_key) {
        hz_secure_zero(p->api_key, strlen(p->api_key));
        hz_free(p->api_key);
    }
    for (size_t i = 0; i < p->n_models; i++) hz_free(p->models[i]);
    hz_free(p->models);
    hz_free(p->id);
    hz_free(p->type);
    hz_free(p->base_url);
    hz_free(p);
}
