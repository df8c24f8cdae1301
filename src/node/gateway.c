/*
 * The node's gateway: the local engine plus the providers stored in the database, behind one
 * router. Provider API keys are sealed under a node secret kept beside the database
 * (<storage>/secret.key, 0600), so a copy of hanzo.db alone reveals no key.
 */
#include "node_internal.h"

static const char *MOD = "gateway";

int node_gateway_start(hz_node_t *node, const hz_config_t *cfg) {
    hz_gw_options_t gopts = {.engine = node->llm};
    node->gw = hz_gw_new(&gopts);
    if (!node->gw) return hz_error_wrap(HZ_EINTERNAL, "gateway");

    char *secret = hz_sprintf("%s/secret.key", cfg->storage_path);
    int rc = hz_gw_registry_open(node->store, secret, node->gw, &node->providers);
    hz_free(secret);
    if (rc) return hz_error_wrap(rc, "LLM providers");

    if (cfg->requests_per_minute > 0 || cfg->tokens_per_minute > 0) {
        node->limits = hz_gw_limits_new(cfg->requests_per_minute, cfg->tokens_per_minute);
        hz_log_info(MOD, "per-key limits: %lld requests/min, %lld tokens/min (0: unlimited)",
                    (long long)cfg->requests_per_minute, (long long)cfg->tokens_per_minute);
    }
    return 0;
}
