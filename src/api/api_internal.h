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
/* openai.c: the OpenAI-compatible /v1 API */
void api_v1_chat_completions(hz_http_req_t *req, void *ctx);
void api_v1_completions(hz_http_req_t *req, void *ctx);
void api_v1_embeddings(hz_http_req_t *req, void *ctx);
void api_v1_models(hz_http_req_t *req, void *ctx);
void api_v1_model(hz_http_req_t *req, void *ctx);
/* messages.c: Anthropic-style /v1/messages */
void api_v1_messages(hz_http_req_t *req, void *ctx);
/* providers.c: /v2/add_llm_provider and the rest, /v2/scan_ollama_models */
void api_provider_add(hz_http_req_t *req, void *ctx);
void api_provider_modify(hz_http_req_t *req, void *ctx);
void api_provider_remove(hz_http_req_t *req, void *ctx);
void api_provider_test(hz_http_req_t *req, void *ctx);
void api_provider_list(hz_http_req_t *req, void *ctx);
void api_scan_ollama(hz_http_req_t *req, void *ctx);
/* usage.c: /v2/usage */
void api_usage(hz_http_req_t *req, void *ctx);

/* common.c */
struct hz_gw_error;
/* Answer with an OpenAI-shaped error (and Retry-After when it carries one). */
void api_respond_gw_error(hz_http_req_t *req, const struct hz_gw_error *err);
/* Which API key made the request: the first 16 hex digits of BLAKE3(key), never the key
 * ("anonymous" when there is no bearer token). Read in the handler, before any defer. */
void api_key_id(hz_http_req_t *req, char out[17]);

#endif
