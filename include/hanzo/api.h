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
} hz_api_t;

/* Register every route on srv. api must outlive the server. */
int hz_api_register(hz_http_server_t *srv, hz_api_t *api);

#endif
