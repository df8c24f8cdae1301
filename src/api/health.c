/*
 * GET /health and GET /v2/health_check: public liveness for load balancers and scripts.
 * Cheap on purpose (no store access): it is the route probed most often.
 */
#include <string.h>

#include "api_internal.h"

void api_health(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    double uptime = (double)(hz_time_mono_ns() - api->started_mono_ns) / 1e9;
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_s\":%.3f,\"node_name\":",
                  HZ_VERSION, uptime);
    hz_buf_put_json_string(&b, api->node_name, strlen(api->node_name));
    hz_buf_putc(&b, '}');
    hz_http_respond(req, 200, "application/json", b.data, b.len);
    hz_buf_free(&b);
}
