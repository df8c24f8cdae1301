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
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = hz_http_route(srv, routes[i].methods, routes[i].pattern, routes[i].flags,
                               routes[i].handler, api);
        if (rc) return rc;
    }
    return 0;
}
