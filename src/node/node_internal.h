/* Private to src/node. */
#ifndef HANZO_NODE_INTERNAL_H
#define HANZO_NODE_INTERNAL_H

#include <sodium.h>

#include "hanzo/api.h"
#include "hanzo/artifact.h"
#include "hanzo/gateway.h"
#include "hanzo/http.h"
#include "hanzo/llm.h"
#include "hanzo/node.h"
#include "hanzo/store.h"

struct hz_node {
    const hz_config_t *cfg;
    hz_store_t *store;
    hz_llm_engine_t *llm;    /* local models; registered at start, loaded on first use */
    hz_ai_store_t *artifacts;   /* <storage>/artifacts */
    hz_gw_t *gw;             /* every model behind /v1: local engine and remote providers */
    hz_gw_registry_t *providers; /* providers persisted in the store, keys sealed */
    hz_gw_limits_t *limits;  /* per-key rate limits; NULL when unlimited */
    hz_http_server_t *http;
    hz_api_t api;
    uint8_t api_key_hash[32];
    char *new_api_key;       /* shown once; wiped on stop */
    char *address_file;      /* <storage>/api_address while running */
};

int node_api_key_setup(hz_node_t *node, const hz_config_t *cfg);
bool node_api_key_check(const char *token, size_t len, void *ctx);
int node_models_start(hz_node_t *node, const hz_config_t *cfg);
int node_gateway_start(hz_node_t *node, const hz_config_t *cfg);

#endif
