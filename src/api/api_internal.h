/* Private to src/api: the handlers, one group per file. ctx is the hz_api_t. */
#ifndef HANZO_API_INTERNAL_H
#define HANZO_API_INTERNAL_H

#include "hanzo/api.h"

void api_health(hz_http_req_t *req, void *ctx);
void api_metrics(hz_http_req_t *req, void *ctx);
/* artifacts.c: /v2/artifacts */
void api_artifacts_upload(hz_http_req_t *req, void *ctx);
void api_artifacts_list(hz_http_req_t *req, void *ctx);
void api_artifacts_download(hz_http_req_t *req, void *ctx);
void api_artifacts_manifest(hz_http_req_t *req, void *ctx);
void api_artifacts_delete(hz_http_req_t *req, void *ctx);

#endif
