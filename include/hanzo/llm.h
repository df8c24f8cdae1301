/*
 * hanzo/llm.h - language models: the local engine on llama.cpp (and, later, remote providers
 * and the router that chooses between them).
 *
 * Four layers, each usable on its own:
 *
 *   GGUF headers   hz_llm_gguf_read(): what a model file is (architecture, size, template,
 *                  quantisation, a memory figure) read from its header, never its weights.
 *   catalog        hz_llm_catalog_scan(): the GGUF files in the model folders and the Ollama
 *                  store, by name.
 *   engine         hz_llm_engine_*(): loads models on first use, keeps them for a keep-alive
 *                  period, evicts the least recently used under a memory budget, and serves
 *                  chat and embedding requests. Each loaded chat model has one llama.cpp context
 *                  with N parallel sequences driven by one worker thread (continuous batching);
 *                  requests beyond N wait in a bounded queue, beyond that HZ_EBUSY.
 *   test models    hz_llm_testmodel_write(): tiny GGUF models with random weights and a real
 *                  tokenizer, for tests and benchmarks.
 *
 * Thread safety: an engine is shared by any number of threads. Calls block the calling thread;
 * streaming callbacks run on the calling thread too, so an HTTP handler can write to its own
 * connection from them.
 */
#ifndef HANZO_LLM_H
#define HANZO_LLM_H

#include <stdatomic.h>

#include "hanzo/base.h"

/* Describe the linked llama.cpp/ggml build: its version and the CPU features ggml will use
 * ("AVX2 = 1 | ..."). Appends one line to out. */
void hz_llm_backend_describe(hz_buf_t *out);

/* ---- GGUF headers ------------------------------------------------------------------------ */

typedef struct hz_llm_model_info {
    char *name;            /* catalog name ("qwen2.5-0.5b-q8_0", "llama3:8b"); file stem by default */
    char *path;
    char *source;          /* "dir", "ollama" or "path" */
    char *arch;            /* general.architecture */
    char *general_name;    /* general.name, or NULL */
    char *general_type;    /* general.type ("model", "adapter"), or NULL */
    char *quant;           /* "Q8_0", "F16", ... from general.file_type or the tensors */
    char *chat_template;   /* tokenizer.chat_template, or NULL */
    uint32_t gguf_version;
    uint64_t n_tensors;
    uint64_t n_kv;
    uint64_t n_params;     /* sum of tensor elements */
    uint64_t file_size;
    uint64_t data_size;    /* bytes of tensor data */
    uint32_t ctx_train;    /* <arch>.context_length (0 if absent) */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_vocab;
    int32_t pooling;       /* <arch>.pooling_type, -1 when absent */
    bool causal;           /* false for encoders such as BERT */
    bool embedding;        /* an embedding model: non-causal or with a pooling type */
    bool adapter;          /* a LoRA adapter, not a model */
    uint64_t mem_recommended; /* weights + KV cache for min(ctx_train, 4096) tokens + compute */
} hz_llm_model_info_t;

/* Read the header of a GGUF file (metadata and tensor table, not the weights) and check that the
 * file is long enough for every tensor. HZ_ENOTFOUND/HZ_EIO for a missing or unreadable file,
 * HZ_EPARSE for a corrupt or truncated one, with the byte offset and field in the message.
 * Free with hz_llm_model_info_free. */
int hz_llm_gguf_read(const char *path, hz_llm_model_info_t *out);
/* The same over an open stream positioned at the start of the GGUF data; `size` is the number
 * of bytes available (used for the truncation check). For fuzzing and for Ollama blobs. */
int hz_llm_gguf_read_stream(FILE *f, uint64_t size, hz_llm_model_info_t *out);
void hz_llm_model_info_free(hz_llm_model_info_t *info);
/* Memory to expect for the model with a context of n_ctx tokens in total (all sequences). */
uint64_t hz_llm_model_info_memory(const hz_llm_model_info_t *info, uint32_t n_ctx);
/* {name, path, source, arch, params, quant, context_length, embedding_length, ...}. Owned. */
json_object *hz_llm_model_info_json(const hz_llm_model_info_t *info);

/* ---- catalog ----------------------------------------------------------------------------- */

typedef struct hz_llm_catalog hz_llm_catalog_t;

/* Scan the model folders (recursively, *.gguf, adapters included and marked) and the Ollama
 * store at ollama_dir (its manifests/ and blobs/; NULL or missing: skipped). A folder that does
 * not exist is skipped; a file that is not valid GGUF is listed in the skipped report rather
 * than failing the scan. Names are unique: a later duplicate gets "-2", "-3". */
int hz_llm_catalog_scan(const char *const *dirs, size_t n_dirs, const char *ollama_dir,
                        hz_llm_catalog_t **out);
void hz_llm_catalog_free(hz_llm_catalog_t *cat);
size_t hz_llm_catalog_count(const hz_llm_catalog_t *cat);
const hz_llm_model_info_t *hz_llm_catalog_at(const hz_llm_catalog_t *cat, size_t i);
/* Exact name, then a unique prefix ("qwen" when only one name starts so); NULL otherwise. */
const hz_llm_model_info_t *hz_llm_catalog_find(const hz_llm_catalog_t *cat, const char *name);
/* Files that looked like models but could not be read: "path: reason" lines. */
const char *hz_llm_catalog_skipped(const hz_llm_catalog_t *cat);

/* The folder models live in when nothing is configured: $HOME/.hanzo/models. Owned. */
char *hz_llm_default_models_dir(void);
/* $HOME/.ollama/models, or $OLLAMA_MODELS when set. Owned. */
char *hz_llm_default_ollama_dir(void);

/* ---- engine ------------------------------------------------------------------------------ */

typedef struct hz_llm_engine hz_llm_engine_t;

typedef struct hz_llm_engine_config {
    int32_t n_ctx;          /* tokens of context per sequence; 0: min(model's, 4096) */
    int32_t n_parallel;     /* sequences decoded together per chat model; 0: 4 */
    int32_t n_threads;      /* 0: all cores */
    int32_t n_batch;        /* tokens per decode call; 0: 512 */
    int32_t queue_max;      /* requests waiting for a sequence, per model; 0: 16, -1: none */
    int64_t keep_alive_ms;  /* idle time before unloading; 0: 5 minutes; -1: forever */
    uint64_t mem_budget;    /* bytes all loaded models may use; 0: unlimited */
} hz_llm_engine_config_t;

hz_llm_engine_t *hz_llm_engine_new(const hz_llm_engine_config_t *cfg);
/* Waits for running requests to end (cancels them first), unloads everything. */
void hz_llm_engine_free(hz_llm_engine_t *e);
/* Make `name` refer to the GGUF at path. HZ_EEXIST if the name is taken by another path. */
int hz_llm_engine_add(hz_llm_engine_t *e, const char *name, const char *path);
/* Add every model (not adapter) of a catalog. */
int hz_llm_engine_add_catalog(hz_llm_engine_t *e, const hz_llm_catalog_t *cat);
/* Load now (normally done on first use). Concurrent callers wait for the one load. A name that
 * is not registered but is a path to a file is registered under that path. */
int hz_llm_engine_load(hz_llm_engine_t *e, const char *name);
/* Unload now; HZ_EBUSY while requests use it. Unloading an unloaded model is not an error. */
int hz_llm_engine_unload(hz_llm_engine_t *e, const char *name);
/* Unload and forget a model (its file was deleted, say). HZ_EBUSY while requests use it,
 * HZ_ENOTFOUND when no model has that name. */
int hz_llm_engine_remove(hz_llm_engine_t *e, const char *name);
bool hz_llm_engine_is_loaded(hz_llm_engine_t *e, const char *name);
/* Estimated bytes used by the loaded models. */
uint64_t hz_llm_engine_memory(hz_llm_engine_t *e);
/* How many times a model was loaded from disk since the engine started (for tests/metrics). */
uint64_t hz_llm_engine_load_count(hz_llm_engine_t *e);
/* [{name, path, loaded, memory, active, queued, idle_ms}]. Owned. */
json_object *hz_llm_engine_status(hz_llm_engine_t *e);
/* Unload idle models whose keep-alive expired. The engine calls it from its own timer thread;
 * exposed so tests need not sleep. Returns the number unloaded. */
int hz_llm_engine_reap(hz_llm_engine_t *e);

/* ---- generation -------------------------------------------------------------------------- */

typedef struct hz_llm_message {
    const char *role;       /* "system", "user", "assistant", "tool" */
    const char *content;
} hz_llm_message_t;

typedef struct hz_llm_sampling {
    float temperature;      /* <= 0: greedy */
    int32_t top_k;          /* 0: off */
    float top_p;            /* 1: off */
    float min_p;            /* 0: off */
    float repeat_penalty;   /* 1: off */
    float frequency_penalty;/* 0: off */
    float presence_penalty; /* 0: off */
    int32_t penalty_last_n; /* tokens the penalties look back at */
    uint32_t seed;
} hz_llm_sampling_t;

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off, seed 0. */
void hz_llm_sampling_default(hz_llm_sampling_t *s);

typedef struct hz_llm_lora {
    const char *path;       /* GGUF LoRA adapter made for the model's architecture */
    float scale;
} hz_llm_lora_t;

typedef struct hz_llm_chat_request {
    const char *model;
    const hz_llm_message_t *messages;
    size_t n_messages;
    const char *prompt;         /* raw text instead of messages: no template applied */
    const char *template_name;  /* a built-in template ("chatml", "llama3", ...) used when the
                                   model has none, or to override it; NULL: model's, else chatml */
    hz_llm_sampling_t sampling;
    int32_t max_tokens;         /* <= 0: until the context is full */
    const char *const *stop;    /* stop strings; not part of the answer */
    size_t n_stop;
    const char *grammar;        /* GBNF constraining the answer, or NULL */
    const char *json_schema;    /* JSON Schema text (common subset), or NULL */
    bool json_mode;             /* the answer is a JSON object (any, unless json_schema) */
    bool logprobs;              /* fill hz_llm_result_t.logprobs and logprob_sum */
    int32_t top_logprobs;       /* with logprobs: the most likely alternatives per token, 0..20 */
    const hz_llm_lora_t *lora;
    size_t n_lora;
    atomic_bool *cancel;        /* set by another thread to stop; may be NULL */
} hz_llm_chat_request_t;

typedef enum {
    HZ_LLM_FINISH_NONE = 0,
    HZ_LLM_FINISH_STOP,         /* end-of-generation token or a stop string */
    HZ_LLM_FINISH_LENGTH,       /* max_tokens or the context is full */
    HZ_LLM_FINISH_CANCELLED,
} hz_llm_finish_t;

const char *hz_llm_finish_name(hz_llm_finish_t f);   /* "stop", "length", "cancelled" */

#define HZ_LLM_MAX_TOP_LOGPROBS 20

typedef struct hz_llm_alt_logprob {
    int32_t token;
    char *text;                 /* the token's bytes (may be part of a UTF-8 sequence); owned */
    float logprob;
} hz_llm_alt_logprob_t;

/* One generated token and how likely it was under the model's distribution (before sampling
 * parameters reshaped it), with its most likely alternatives. */
typedef struct hz_llm_token_logprob {
    int32_t token;
    char *text;                 /* owned, as above */
    float logprob;
    int32_t n_top;
    hz_llm_alt_logprob_t top[HZ_LLM_MAX_TOP_LOGPROBS];
} hz_llm_token_logprob_t;

typedef struct hz_llm_result {
    char *text;                 /* the answer, valid UTF-8, stop string removed; owned */
    size_t text_len;
    hz_llm_finish_t finish;
    int32_t prompt_tokens;
    int32_t cached_tokens;      /* prompt tokens reused from the KV cache */
    int32_t completion_tokens;
    double queue_ms;            /* waiting for a sequence */
    double ttft_ms;             /* from the call to the first token */
    double prompt_ms;           /* prompt evaluation */
    double gen_ms;              /* from the first to the last token */
    double logprob_sum;         /* sum of the chosen tokens' log-probabilities (if asked) */
    hz_llm_token_logprob_t *logprobs; /* one per generated token (if asked), in order; owned */
    size_t n_logprobs;
} hz_llm_result_t;

void hz_llm_result_free(hz_llm_result_t *r);

/* Text as it is generated: complete UTF-8 only, never a piece of a stop string. Return non-zero
 * to cancel (the result then says HZ_LLM_FINISH_CANCELLED). */
typedef int (*hz_llm_stream_fn)(const char *text, size_t len, void *ud);

/* Generate an answer. Blocks until done; on_text (may be NULL) runs on the calling thread.
 * HZ_EBUSY when the model's queue is full, HZ_ETOOBIG when the prompt does not fit the
 * context, HZ_EINVAL for a bad request (names the field), HZ_ENOTFOUND for an unknown model. */
int hz_llm_chat(hz_llm_engine_t *e, const hz_llm_chat_request_t *req, hz_llm_stream_fn on_text,
                void *ud, hz_llm_result_t *res);

/* Render messages with a model's template (the model's own, else template_name, else chatml),
 * ending with the assistant prefix. Owned text in *out. */
int hz_llm_render_chat(hz_llm_engine_t *e, const char *model, const char *template_name,
                       const hz_llm_message_t *msgs, size_t n, char **out);

/* ---- embeddings -------------------------------------------------------------------------- */

typedef enum {
    HZ_LLM_POOL_MODEL = -1,     /* the model's own pooling (mean for models without one) */
    HZ_LLM_POOL_MEAN = 1,
    HZ_LLM_POOL_CLS = 2,
    HZ_LLM_POOL_LAST = 3,
} hz_llm_pooling_t;

typedef struct hz_llm_embed_request {
    const char *model;
    const char *const *inputs;
    size_t n_inputs;
    hz_llm_pooling_t pooling;
    bool normalize;             /* L2-normalise each vector */
} hz_llm_embed_request_t;

typedef struct hz_llm_embeddings {
    float *data;                /* n rows of dim floats; owned */
    size_t n, dim;
    int32_t prompt_tokens;
} hz_llm_embeddings_t;

int hz_llm_embed(hz_llm_engine_t *e, const hz_llm_embed_request_t *req, hz_llm_embeddings_t *out);
void hz_llm_embeddings_free(hz_llm_embeddings_t *emb);

/* ---- JSON schema to grammar -------------------------------------------------------------- */

/* Translate a JSON Schema (the subset: type object/array/string/number/integer/boolean/null,
 * properties, required, items, minItems/maxItems, enum, const, anyOf/oneOf, nullable type
 * lists; additionalProperties is ignored) to GBNF with root "root". NULL schema: any JSON
 * object. HZ_EUNSUPPORTED names the keyword it cannot honour ("$ref", "pattern"). */
int hz_llm_schema_to_gbnf(json_object *schema, hz_buf_t *out);

/* ---- test models ------------------------------------------------------------------------- */

typedef enum {
    HZ_LLM_TESTMODEL_CHAT = 0,  /* llama architecture, qwen2 tokenizer, ChatML template, tiny */
    HZ_LLM_TESTMODEL_EMBED,     /* BERT architecture, bert-bge tokenizer, mean pooling, tiny */
    HZ_LLM_TESTMODEL_LORA,      /* LoRA adapter for the CHAT model */
    HZ_LLM_TESTMODEL_BENCH,     /* llama architecture in the shape of a 0.5B model, Q8_0 */
} hz_llm_testmodel_kind_t;

typedef struct hz_llm_testmodel_opts {
    hz_llm_testmodel_kind_t kind;
    uint64_t seed;
    const char *vocab_dir;      /* folder with ggml-vocab-*.gguf; NULL: $HZ_VOCAB_DIR, then the
                                   llama.cpp source under .deps found from the build */
    int32_t n_layer;            /* 0: the kind's default; lets benchmarks scale the model */
} hz_llm_testmodel_opts_t;

/* Write a model: same bytes for the same options. */
int hz_llm_testmodel_write(const char *path, const hz_llm_testmodel_opts_t *opts);
/* The node's default when no model is configured (`make run`): the tiny chat model at
 * <dir>/hanzo-tiny-chat.gguf, written (seed 0) if it is not there yet. *path_out is owned. The
 * caller should say at start-up that this is a test model with random weights. */
int hz_llm_default_model_ensure(const char *dir, char **path_out);
#define HZ_LLM_DEFAULT_MODEL_NAME "hanzo-tiny-chat"

/* The vocab folder hz_llm_testmodel_write would use, or NULL if none is found. Owned. */
char *hz_llm_testmodel_vocab_dir(const char *hint);

#endif
