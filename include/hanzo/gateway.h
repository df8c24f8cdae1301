/*
 * hanzo/gateway.h - one way to reach every model: the local engine and remote providers, behind
 * the OpenAI chat shape.
 *
 * The lingua franca is the OpenAI Chat Completions JSON. A caller hands the gateway an OpenAI
 * request object (whatever API it arrived on: /v1/chat/completions as is, /v1/messages after
 * hz_gw_messages_to_chat), and gets back an OpenAI `chat.completion` object or a sequence of
 * `chat.completion.chunk` objects. Each provider kind ("wire") translates that shape to its
 * upstream protocol and back: the OpenAI-compatible family (OpenAI, Groq, DeepSeek, Together,
 * OpenRouter, xAI, Exo, any base URL) almost unchanged, Anthropic Messages, Google Gemini
 * generateContent, and Ollama's native /api/chat. The local llama.cpp engine is one more
 * target, reached in-process.
 *
 * Layers, each in its own files:
 *   stream parsers  hz_gw_sse_* and hz_gw_ndjson_*: incremental, any chunk boundaries, bounded.
 *   wires           request/response/stream/error translation per provider kind (pure JSON).
 *   transport       libcurl: one blocking call per attempt with connect, first-byte and idle
 *                   timeouts, streaming bodies through a parser as they arrive.
 *   router          model ids to targets (local name, "provider/model", aliases with ordered
 *                   fallbacks), retries with backoff on connection errors, 429 and 5xx
 *                   (honouring Retry-After), a cooldown for providers that keep failing.
 *   registry        providers persisted in the store with their API keys sealed at rest.
 *   usage, limits   per-request accounting in the store; per-key request/token rate limits.
 *
 * Threading: a gateway is shared by any number of threads; calls block the calling thread and
 * stream callbacks run on it.
 */
#ifndef HANZO_GATEWAY_H
#define HANZO_GATEWAY_H

#include <stdatomic.h>

#include "hanzo/base.h"

struct hz_llm_engine;
struct hz_store;

/* ---- errors ------------------------------------------------------------------------------ */

/* An error in the shape the API answers with: {"error":{"message","type","code","param"}}. */
typedef struct hz_gw_error {
    int status;                 /* HTTP status for the client: 400, 401, 404, 429, 502, 503, 504 */
    char type[40];              /* "invalid_request_error", "authentication_error",
                                   "rate_limit_error", "api_error", "upstream_error", "timeout" */
    char code[40];              /* "model_not_found", "rate_limited", "upstream_timeout", ... or "" */
    char param[64];             /* the request field at fault, or "" */
    char message[512];
    int64_t retry_after_ms;     /* from the upstream's Retry-After (or our limiter); -1: none */
    bool retryable;             /* a connection error, timeout, 429 or 5xx */
} hz_gw_error_t;

/* Fill err (message formatted). Returns HZ_EINVAL for 4xx statuses, HZ_EIO otherwise, so a
 * function can `return hz_gw_error_set(err, 400, ...)`. */
int hz_gw_error_set(hz_gw_error_t *err, int status, const char *type, const char *code,
                    const char *param, const char *fmt, ...) HZ_PRINTF(6, 7);
/* {"error":{...}} for the client. Owned. */
json_object *hz_gw_error_json(const hz_gw_error_t *err);

/* ---- incremental stream parsers ---------------------------------------------------------- */

/* Server-sent events (the WHATWG event-stream grammar): feed bytes as they arrive in chunks of
 * any size; each complete event is delivered once, with its `event:` name (NULL for the default
 * "message") and its data lines joined by "\n". Comments, `id:` and `retry:` are tolerated.
 * Return non-zero from the callback to stop; hz_gw_sse_feed then returns that value. A line
 * longer than max_line (default 4 MiB) fails with HZ_ETOOBIG. */
typedef int (*hz_gw_sse_fn)(const char *event, const char *data, size_t len, void *ud);
typedef struct hz_gw_sse hz_gw_sse_t;
hz_gw_sse_t *hz_gw_sse_new(size_t max_line, hz_gw_sse_fn fn, void *ud);
int hz_gw_sse_feed(hz_gw_sse_t *p, const char *buf, size_t len);
/* End of input: dispatches a final event that was not followed by a blank line. */
int hz_gw_sse_finish(hz_gw_sse_t *p);
void hz_gw_sse_free(hz_gw_sse_t *p);

/* Newline-delimited JSON (Ollama): each non-empty line parsed strictly (hz_json_parse) and
 * handed over (borrowed). A line that is not valid JSON fails with HZ_EPARSE naming the line
 * number and offset; a line longer than max_line (default 4 MiB) with HZ_ETOOBIG. */
typedef int (*hz_gw_ndjson_fn)(json_object *obj, void *ud);
typedef struct hz_gw_ndjson hz_gw_ndjson_t;
hz_gw_ndjson_t *hz_gw_ndjson_new(size_t max_line, hz_gw_ndjson_fn fn, void *ud);
int hz_gw_ndjson_feed(hz_gw_ndjson_t *p, const char *buf, size_t len);
int hz_gw_ndjson_finish(hz_gw_ndjson_t *p);
void hz_gw_ndjson_free(hz_gw_ndjson_t *p);

/* ---- providers --------------------------------------------------------------------------- */

typedef enum {
    HZ_GW_WIRE_OPENAI = 1,      /* OpenAI Chat Completions and the compatible family */
    HZ_GW_WIRE_ANTHROPIC,       /* POST /v1/messages */
    HZ_GW_WIRE_GEMINI,          /* models/{m}:generateContent, :streamGenerateContent?alt=sse */
    HZ_GW_WIRE_OLLAMA,          /* /api/chat, /api/embed, /api/tags (NDJSON streams) */
} hz_gw_wire_t;

/* "openai", "anthropic", "gemini", "ollama"; and back. The known hosted providers map to their
 * wire and default base URL: openai, groq, deepseek, together, openrouter, xai (alias grok),
 * exo, anthropic, gemini (alias google), ollama. */
const char *hz_gw_wire_name(hz_gw_wire_t w);
/* Resolve a provider type name. *wire and *default_base_url (static, may be NULL for
 * "openai-compatible"/"custom", which need a base_url). HZ_EINVAL listing the known names. */
int hz_gw_provider_type(const char *type, hz_gw_wire_t *wire, const char **default_base_url);

typedef struct hz_gw_provider_config {
    const char *id;             /* the prefix in "id/model": [a-z0-9][a-z0-9_.-]{0,63} */
    const char *type;           /* see hz_gw_provider_type */
    const char *base_url;       /* NULL: the type's default */
    const char *api_key;        /* NULL or "" for none (Ollama, Exo, local servers) */
    const char *const *models;  /* models to advertise in /v1/models (may be empty) */
    size_t n_models;
    int32_t connect_timeout_ms; /* 0: 5000 */
    int32_t first_byte_timeout_ms; /* until the response headers; 0: 60000 */
    int32_t idle_timeout_ms;    /* longest silence inside a streamed body; 0: 60000 */
    int32_t max_retries;        /* attempts after the first on a retryable error; -1: 0; 0: 2 */
} hz_gw_provider_config_t;

/* Check a config: id syntax, known type, base_url is http(s). HZ_EINVAL naming the field. */
int hz_gw_provider_config_check(const hz_gw_provider_config_t *cfg);

/* ---- the gateway ------------------------------------------------------------------------- */

typedef struct hz_gw hz_gw_t;

typedef struct hz_gw_options {
    struct hz_llm_engine *engine;   /* local models; NULL: none */
    int32_t backoff_base_ms;        /* first retry delay, doubled each time (with jitter); 0: 200 */
    int32_t backoff_max_ms;         /* cap on one delay, and on a Retry-After we honour; 0: 10000 */
    int32_t cooldown_failures;      /* consecutive failed requests that put a provider on cooldown; 0: 3 */
    int32_t cooldown_ms;            /* 0: 30000 */
} hz_gw_options_t;

hz_gw_t *hz_gw_new(const hz_gw_options_t *opts);
void hz_gw_free(hz_gw_t *gw);

/* Add or replace a provider (copied; the key is wiped from the gateway's memory on replace and
 * free). Requests in flight keep the config they started with. */
int hz_gw_provider_set(hz_gw_t *gw, const hz_gw_provider_config_t *cfg);
/* HZ_ENOTFOUND when there is no such provider. */
int hz_gw_provider_remove(hz_gw_t *gw, const char *id);
/* [{id, type, wire, base_url, models, has_api_key, api_key_hint ("sk-...abcd" or null),
 *   cooldown_until_ms (0 if none), consecutive_failures}]. Never the key itself. Owned. */
json_object *hz_gw_providers_json(hz_gw_t *gw);

/* An alias: a model id that resolves to ordered targets ("groq/llama-3.1-8b",
 * "openai/gpt-4o-mini", "qwen2.5-0.5b"); each is tried in turn when the previous fails with a
 * retryable error before any output reached the client. Replaces an existing alias. */
int hz_gw_alias_set(hz_gw_t *gw, const char *alias, const char *const *targets, size_t n);
int hz_gw_alias_remove(hz_gw_t *gw, const char *alias);

/* Token usage as the OpenAI API counts it. */
typedef struct hz_gw_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t cached_tokens;
} hz_gw_usage_t;

/* Called with each chat.completion.chunk (borrowed; same id/created/model on every chunk of a
 * call). Return non-zero to cancel the call (the client went away). */
typedef int (*hz_gw_chunk_fn)(json_object *chunk, void *ud);

typedef struct hz_gw_call {
    json_object *request;       /* OpenAI chat (or completions) request; borrowed, not modified */
    bool stream;                /* deliver chunks through on_chunk instead of a completion */
    hz_gw_chunk_fn on_chunk;
    void *ud;
    atomic_bool *cancel;        /* may be NULL */
} hz_gw_call_t;

typedef struct hz_gw_result {
    json_object *completion;    /* non-stream: the chat.completion (or text_completion); owned */
    hz_gw_usage_t usage;
    char finish_reason[24];     /* "stop", "length", "tool_calls", "content_filter", "cancelled" */
    char provider[72];          /* the target that answered: provider id, or "local" */
    char model[256];            /* the model id as the client named it (alias or full id) */
    char upstream_model[256];   /* the model the target ran */
    int32_t attempts;           /* HTTP attempts in all, across retries and fallbacks */
    double ttft_ms;             /* to the first content (stream) or to the answer */
    double total_ms;
    bool started;               /* at least one chunk reached on_chunk */
    hz_gw_error_t error;        /* set when the call returns non-zero */
} hz_gw_result_t;

void hz_gw_result_free(hz_gw_result_t *res);

/* Validate the request (HZ_EINVAL and a 400 error naming the parameter), resolve its "model"
 * (404 model_not_found), and run it with retries and fallbacks. A stream that fails after
 * output began is not retried: the call returns non-zero with res->started set, and the caller
 * reports the error to its client in-band. */
int hz_gw_chat(hz_gw_t *gw, const hz_gw_call_t *call, hz_gw_result_t *res);
/* /v1/completions: "prompt" instead of "messages"; chunks are text_completion objects. Local
 * models and OpenAI-wire providers only (400 otherwise). */
int hz_gw_completion(hz_gw_t *gw, const hz_gw_call_t *call, hz_gw_result_t *res);
/* /v1/embeddings: request {model, input (string or array of strings), encoding_format,
 * dimensions}; *out is the OpenAI list object (base64 encoding done here when asked). */
int hz_gw_embeddings(hz_gw_t *gw, json_object *request, json_object **out, hz_gw_usage_t *usage,
                     hz_gw_error_t *err);
/* The OpenAI model list {object:"list", data:[{id, object:"model", created, owned_by}]}: local
 * models by name, each provider's advertised models as "id/model", and aliases. Owned. */
json_object *hz_gw_models(hz_gw_t *gw);
/* One model of that list, or NULL (unknown). Owned. */
json_object *hz_gw_model(hz_gw_t *gw, const char *id);
/* A real round trip to a provider: list its models where the wire can, else a one-token chat
 * with `model` (NULL: its first advertised model). *out: {ok, latency_ms, models?, error?}. */
int hz_gw_provider_test(hz_gw_t *gw, const hz_gw_provider_config_t *cfg, const char *model,
                        json_object **out);
/* Ask an Ollama server (base_url NULL: http://127.0.0.1:11434) for its models (/api/tags).
 * *out: [{name, size, modified_at, details}]. */
int hz_gw_ollama_scan(const char *base_url, int32_t timeout_ms, json_object **out, hz_gw_error_t *err);

/* ---- Anthropic Messages API on top of the chat shape ------------------------------------- */

/* Translate an Anthropic /v1/messages request to an OpenAI chat request (system, content
 * blocks, tools, tool_use/tool_result, stop_sequences, max_tokens, stream). 400 naming the
 * field on what it cannot carry. */
int hz_gw_messages_to_chat(json_object *messages_req, json_object **chat_req, hz_gw_error_t *err);
/* chat.completion -> Anthropic message object. Owned. */
json_object *hz_gw_chat_to_message(json_object *completion);
/* Turn a stream of chat.completion.chunk objects into Anthropic stream events
 * (message_start, content_block_start/delta/stop, message_delta, message_stop). The emitter
 * calls fn(event_name, event_json) for each; hz_gw_msgstream_end closes open blocks and sends
 * message_delta/message_stop with the usage. */
typedef int (*hz_gw_event_fn)(const char *event, json_object *data, void *ud);
typedef struct hz_gw_msgstream hz_gw_msgstream_t;
hz_gw_msgstream_t *hz_gw_msgstream_new(const char *model, hz_gw_event_fn fn, void *ud);
int hz_gw_msgstream_chunk(hz_gw_msgstream_t *ms, json_object *chunk);
int hz_gw_msgstream_end(hz_gw_msgstream_t *ms, const hz_gw_usage_t *usage, const char *finish_reason);
void hz_gw_msgstream_free(hz_gw_msgstream_t *ms);

/* ---- registry: providers persisted in the store ------------------------------------------ */

/* Providers live in the store's llm_providers table with their API keys sealed (XChaCha20-
 * Poly1305 under a 256-bit node secret kept in <storage>/secret.key, mode 0600, bound to the
 * provider id as associated data). Loading pushes them into the gateway. */
typedef struct hz_gw_registry hz_gw_registry_t;

int hz_gw_registry_open(struct hz_store *store, const char *secret_key_path, hz_gw_t *gw,
                        hz_gw_registry_t **out);
void hz_gw_registry_close(hz_gw_registry_t *reg);
/* Persist then apply. add: HZ_EEXIST for a taken id. modify: fields present in patch replace
 * the stored ones (api_key absent keeps the old key). remove: HZ_ENOTFOUND. The JSON is the API
 * body: {id, type, base_url?, api_key?, models?, connect_timeout_ms?, ...}. */
int hz_gw_registry_add(hz_gw_registry_t *reg, json_object *body, hz_gw_error_t *err);
int hz_gw_registry_modify(hz_gw_registry_t *reg, json_object *patch, hz_gw_error_t *err);
int hz_gw_registry_remove(hz_gw_registry_t *reg, const char *id, hz_gw_error_t *err);
/* Parse an API body into a config (strings borrowed from body, models array hz_malloc'd: free
 * with hz_gw_provider_config_release). */
int hz_gw_provider_config_from_json(json_object *body, hz_gw_provider_config_t *cfg, hz_gw_error_t *err);
void hz_gw_provider_config_release(hz_gw_provider_config_t *cfg);

/* ---- usage accounting and limits --------------------------------------------------------- */

typedef struct hz_gw_usage_record {
    int64_t ts_ms;              /* wall clock, ms since the epoch */
    const char *key_id;         /* which API key (a short hash, never the key) */
    const char *endpoint;       /* "chat", "completions", "embeddings", "messages" */
    const char *model;          /* as requested */
    const char *provider;       /* the target that answered ("local" or provider id), or "" */
    const char *upstream_model;
    int32_t status;             /* HTTP status we answered with */
    hz_gw_usage_t usage;
    double latency_ms, ttft_ms;
} hz_gw_usage_record_t;

/* Append one row to the store's usage table. */
int hz_gw_usage_record(struct hz_store *store, const hz_gw_usage_record_t *rec);
/* Totals over [from_ms, to_ms) (0 = unbounded) grouped by "model", "provider", "key" or "day",
 * or not grouped (group_by NULL): {from, to, total:{requests, prompt_tokens, completion_tokens,
 * errors, avg_latency_ms}, groups:[{key, ...same}]}. HZ_EINVAL for an unknown group_by. */
int hz_gw_usage_query(struct hz_store *store, int64_t from_ms, int64_t to_ms, const char *group_by,
                      json_object **out);

/* Per-key sliding-minute limits: requests per minute and tokens per minute (0: unlimited). */
typedef struct hz_gw_limits hz_gw_limits_t;
hz_gw_limits_t *hz_gw_limits_new(int64_t requests_per_minute, int64_t tokens_per_minute);
void hz_gw_limits_free(hz_gw_limits_t *l);
/* Admit one request for key_id at now_ms: 0, or HZ_EBUSY with *retry_after_ms set. */
int hz_gw_limits_admit(hz_gw_limits_t *l, const char *key_id, int64_t now_ms, int64_t *retry_after_ms);
/* Charge the tokens a finished request used (counted against the tokens-per-minute window). */
void hz_gw_limits_charge(hz_gw_limits_t *l, const char *key_id, int64_t now_ms, int64_t tokens);

#endif
