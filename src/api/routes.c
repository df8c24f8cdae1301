/*
 * The route table. Reading this file should tell a person every URL the node answers and
 * whether it needs a key: only the health routes are public.
 */
#include "hanzo/api.h"

#include "api_internal.h"

int hz_api_register(hz_http_server_t *srv, hz_api_t *api) {
    struct {
        unsigned methods;
        const char *pattern;
        unsigned flags;
        hz_http_handler_fn handler;
    } routes[] = {
        {HZ_HTTP_GET, "/health", HZ_ROUTE_PUBLIC, api_health},
        {HZ_HTTP_GET, "/v2/health_check", HZ_ROUTE_PUBLIC, api_health},
        {HZ_HTTP_GET, "/metrics", 0, api_metrics},
        {HZ_HTTP_POST, "/v2/artifacts", HZ_ROUTE_BODY_TO_FILE, api_artifacts_upload},
        {HZ_HTTP_GET, "/v2/artifacts", 0, api_artifacts_list},
        {HZ_HTTP_GET, "/v2/artifacts/{hash}", 0, api_artifacts_download},
        {HZ_HTTP_DELETE, "/v2/artifacts/{hash}", 0, api_artifacts_delete},
        {HZ_HTTP_GET, "/v2/artifacts/{hash}/manifest", 0, api_artifacts_manifest},
        {HZ_HTTP_POST, "/v1/chat/completions", 0, api_v1_chat_completions},
        {HZ_HTTP_POST, "/v1/completions", 0, api_v1_completions},
        {HZ_HTTP_POST, "/v1/embeddings", 0, api_v1_embeddings},
        {HZ_HTTP_GET, "/v1/models", 0, api_v1_models},
        {HZ_HTTP_GET, "/v1/models/{id}", 0, api_v1_model},
        {HZ_HTTP_GET, "/v1/models/{provider}/{id}", 0, api_v1_model}, /* "groq/llama-3.1-8b" */
        {HZ_HTTP_POST, "/v1/messages", 0, api_v1_messages},
        {HZ_HTTP_POST, "/v2/add_llm_provider", 0, api_provider_add},
        {HZ_HTTP_POST, "/v2/modify_llm_provider", 0, api_provider_modify},
        {HZ_HTTP_POST, "/v2/remove_llm_provider", 0, api_provider_remove},
        {HZ_HTTP_POST, "/v2/test_llm_provider", 0, api_provider_test},
        {HZ_HTTP_GET, "/v2/llm_providers", 0, api_provider_list},
        {HZ_HTTP_GET, "/v2/scan_ollama_models", 0, api_scan_ollama},
        {HZ_HTTP_GET, "/v2/usage", 0, api_usage},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = hz_http_route(srv, routes[i].methods, routes[i].pattern, routes[i].flags,
                               routes[i].handler, api);
        if (rc) return rc;
    }
    return 0;
}
