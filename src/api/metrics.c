/* GET /metrics: Prometheus text exposition of the server's counters. Needs the API key. */
#include "api_internal.h"

void api_metrics(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    hz_buf_t b = HZ_BUF_INIT;
    hz_http_metrics_render(api->http, &b);
    hz_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    hz_buf_free(&b);
}
