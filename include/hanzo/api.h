/*
 * hanzo/api.h - the node's HTTP API: which routes exist and the thin handlers behind them.
 *
 * Handlers parse and validate the request, call a module, and render the result; the logic
 * lives in the modules so the CLI, the API and the tests share it. Routes are added here only
 * when the module behind them exists.
 */
#ifndef HANZO_API_H
#define HANZO_API_H

#include "hanzo/http.h"

typedef struct hz_api {
    const char *node_name;
    int64_t started_mono_ns;   /* for uptime */
    hz_http_server_t *http;    /* for /metrics */
    struct hz_ai_store *artifacts; /* /v2/artifacts (hanzo/artifact.h); NULL answers 503 */
    struct hz_llm_engine *llm; /* stored Model artifacts with GGUF weights are served by it */
    struct hz_store *store;    /* usage accounting (/v2/usage) */
    struct hz_gw *gw;          /* /v1: local models and providers (hanzo/gateway.h) */
    struct hz_gw_registry *providers; /* /v2/..._llm_provider */
    struct hz_gw_limits *limits;      /* per-key rate limits on /v1; NULL: none */
} hz_api_t;

/* Register every route on srv. api must outlive the server. */
int hz_api_register(hz_http_server_t *srv, hz_api_t *api);

/* Make every stored Model/QuantizedModel artifact with GGUF weights a model of api->llm, named
 * by its metadata name (or "<name>-<hash prefix>" when that name is taken). Uploads do the same
 * as they arrive. Returns how many were registered; failures are logged, not fatal. */
int hz_api_register_artifact_models(hz_api_t *api);

#endif
