/*
 * Private to src/gateway: the seams between its layers.
 *
 *   wire_*.c      one gw_wire_ops_t per upstream protocol: pure JSON translation, no I/O.
 *   transport.c   sends a gw_http_req_t with libcurl and feeds the body to a parser.
 *   router.c      resolves model ids, runs attempts, retries, falls back, keeps cooldowns.
 *   local.c       the in-process llama.cpp target, speaking the same chunk shape.
 *
 * Chunks: every target emits OpenAI chat.completion.chunk objects built with gw_chunk_new, so
 * id, created and model are the same on every chunk of a call whatever the upstream was.
 */
#ifndef HZ_GATEWAY_INTERNAL_H
#define HZ_GATEWAY_INTERNAL_H

#include <stdatomic.h>

#include "hanzo/gateway.h"

/* A provider as the router uses it: an immutable snapshot, reference-counted so a request in
 * flight keeps the config it started with while the provider is modified or removed. */
typedef struct gw_provider {
    atomic_int refs;
    char *id;
    char *type;
    hz_gw_wire_t wire;
    char *base_url;             /* without a trailing slash */
    char *api_key;              /* NULL for none; wiped on the last release */
    char **models;
    size_t n_models;
    int32_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, max_retries;
} gw_provider_t;

gw_provider_t *gw_provider_new(const hz_gw_provider_config_t *cfg);  /* refs = 1; cfg checked */
gw_provider_t *gw_provider_ref(gw_provider_t *p);
void gw_provider_release(gw_provider_t *p);

/* One upstream HTTP request. */
typedef struct gw_http_req {
    const char *method;         /* "POST" or "GET" (static) */
    char *url;                  /* absolute; owned */
    char **headers;             /* "Name: value"; owned */
    size_t n_headers;
    hz_buf_t body;              /* empty for GET */
} gw_http_req_t;

void gw_http_req_init(gw_http_req_t *r, const char *method, const char *url_fmt, ...) HZ_PRINTF(3, 4);
void gw_http_req_header(gw_http_req_t *r, const char *fmt, ...) HZ_PRINTF(2, 3);
/* Serialises obj as the body and adds "Content-Type: application/json". */
void gw_http_req_json(gw_http_req_t *r, json_object *obj);
void gw_http_req_free(gw_http_req_t *r);

typedef enum { GW_FRAMING_SSE = 1, GW_FRAMING_NDJSON } gw_framing_t;

/* Translation state of one streamed call (tool-call indexes, content blocks open, usage seen). */
typedef struct gw_stream gw_stream_t;

/* Deliver one chunk (borrowed) to the caller; non-zero means stop (client gone). */
typedef int (*gw_emit_fn)(json_object *chunk, void *ud);

typedef struct gw_wire_ops {
    hz_gw_wire_t wire;
    gw_framing_t framing;

    /* Build the upstream request for an OpenAI chat request. req["model"] is already the
     * upstream's model id. 400 (via err) for what the wire cannot express. */
    int (*chat_request)(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out,
                        hz_gw_error_t *err);
    /* A 2xx non-stream body -> chat.completion (with usage); `model` goes in its "model". */
    int (*chat_response)(const char *body, size_t len, const char *model, json_object **out,
                         hz_gw_error_t *err);

    /* Streaming. stream_event gets one upstream event: for SSE framing the event name (or
     * NULL) and data text, obj NULL; for NDJSON framing obj is the parsed line, data NULL. It
     * emits zero or more chunks. Returns 0 to go on, 1 when the upstream said the stream is
     * complete ([DONE], message_stop, done:true), a negative code with err filled for an error
     * event or a malformed chunk (502 "upstream_error" naming what was wrong). A stream that
     * ends without the completion marker is reported by the transport as a truncation. */
    gw_stream_t *(*stream_new)(const char *id, int64_t created, const char *model);
    int (*stream_event)(gw_stream_t *s, const char *event, const char *data, size_t len,
                        json_object *obj, gw_emit_fn emit, void *ud, hz_gw_error_t *err);
    /* After the stream: the usage the upstream reported (zeros if none) and the finish reason. */
    void (*stream_result)(gw_stream_t *s, hz_gw_usage_t *usage, char finish_reason[24]);
    void (*stream_free)(gw_stream_t *s);

    /* A non-2xx answer -> err: the client status (upstream 4xx auth/validation kept, 429 kept,
     * 5xx -> 502), type/code, the upstream's own message, retryable. Retry-After is parsed by
     * the transport, not here. */
    void (*error_from)(int status, const char *body, size_t len, hz_gw_error_t *err);

    /* Embeddings, NULL when the wire has none: OpenAI embeddings request -> upstream request;
     * upstream body -> OpenAI list of float vectors (the router does base64). */
    int (*embed_request)(const gw_provider_t *p, json_object *req, gw_http_req_t *out,
                         hz_gw_error_t *err);
    int (*embed_response)(const char *body, size_t len, const char *model, json_object **out,
                          hz_gw_usage_t *usage, hz_gw_error_t *err);

    /* Listing models (for test_llm_provider); NULL when the wire has none. *ids: array of
     * strings. */
    void (*models_request)(const gw_provider_t *p, gw_http_req_t *out);
    int (*models_response)(const char *body, size_t len, json_object **ids, hz_gw_error_t *err);

    /* /v1/completions, OpenAI wire only (NULL elsewhere): the request passes through with the
     * model replaced; responses and chunks are text_completion objects. */
    int (*completion_request)(const gw_provider_t *p, json_object *req, bool stream,
                              gw_http_req_t *out, hz_gw_error_t *err);
} gw_wire_ops_t;

extern const gw_wire_ops_t gw_wire_openai;
extern const gw_wire_ops_t gw_wire_anthropic;
extern const gw_wire_ops_t gw_wire_gemini;
extern const gw_wire_ops_t gw_wire_ollama;
const gw_wire_ops_t *gw_wire_ops(hz_gw_wire_t w);

/* chunk.c: the chunk and completion shapes. */
/* {"id","object":"chat.completion.chunk","created","model","choices":[{"index":0,"delta":delta,
 *  "finish_reason":finish|null}]}; takes delta (may be NULL for {}). */
json_object *gw_chunk_new(const char *id, int64_t created, const char *model, json_object *delta,
                          const char *finish_reason);
/* The usage-only final chunk of stream_options.include_usage: choices [] and usage. */
json_object *gw_chunk_usage(const char *id, int64_t created, const char *model, const hz_gw_usage_t *u);
/* {"prompt_tokens","completion_tokens","total_tokens"[,"prompt_tokens_details":{"cached_tokens"}]} */
json_object *gw_usage_json(const hz_gw_usage_t *u);
/* "chatcmpl-" + 24 random url-safe characters. Owned. */
char *gw_completion_id(const char *prefix);

/* transport.c */
typedef struct gw_transport_result {
    int status;                 /* HTTP status, 0 when no response arrived */
    hz_buf_t body;              /* non-stream bodies and error bodies (capped at 1 MiB) */
    int64_t retry_after_ms;     /* parsed Retry-After (seconds or HTTP date), -1 none */
    double ttfb_ms;             /* to the response headers */
} gw_transport_result_t;

/* Send req. For a 2xx response with `parse` non-NULL, the body goes through parse(ud, bytes) as
 * it arrives (a streamed answer) and is not kept; otherwise it is collected in res->body.
 * Timeouts from p; cancel (may be NULL) aborts within ~100 ms. Returns 0 when a response
 * arrived (any status; check res->status) and the body completed, or a negative code with err
 * filled: connection refused/reset (502 retryable), timeouts (504 retryable, "upstream_timeout"
 * naming which), a parse callback failure (its code; err as the callback left it). */
typedef int (*gw_body_fn)(void *ud, const char *buf, size_t len);
int gw_transport_send(const gw_provider_t *p, const gw_http_req_t *req, gw_body_fn parse, void *ud,
                      atomic_bool *cancel, gw_transport_result_t *res, hz_gw_error_t *err);
void gw_transport_result_free(gw_transport_result_t *res);

/* local.c: the llama.cpp engine as a target. */
struct hz_llm_engine;
bool gw_local_has(struct hz_llm_engine *e, const char *model);
/* Run an OpenAI chat (completion=false) or completions request on a local model. Chunks go to
 * call->on_chunk when call->stream. Errors as 400/404/429(busy)/500 in res->error. */
int gw_local_chat(struct hz_llm_engine *e, const char *model, const hz_gw_call_t *call,
                  bool completion, hz_gw_result_t *res);
int gw_local_embeddings(struct hz_llm_engine *e, const char *model, json_object *req,
                        json_object **out, hz_gw_usage_t *usage, hz_gw_error_t *err);
/* Append the local models to an OpenAI model list's data array. */
void gw_local_models(struct hz_llm_engine *e, json_object *data);

/* base64 of a float vector, as OpenAI's encoding_format "base64" (little-endian float32). */
char *gw_base64_floats(const float *v, size_t n);

#endif
