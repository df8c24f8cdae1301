/*
 * Private to src/llm: what the files of the module share and nothing else sees.
 */
#ifndef HZ_LLM_INTERNAL_H
#define HZ_LLM_INTERNAL_H

#include "hanzo/llm.h"

#include <llama.h>

/* Initialise the llama.cpp backend once per process and route its log into ours. */
void llm_backend_init(void);
/* The last error llama.cpp logged on this thread ("" if none); cleared by llm_llama_error_clear. */
const char *llm_llama_error(void);
void llm_llama_error_clear(void);

/* Text assembly (text.c). */
/* Length of the prefix of s[0..n) that does not end inside a UTF-8 sequence that could still be
 * completed by more bytes. */
size_t llm_utf8_complete_prefix(const char *s, size_t n);
/* Append s[0..n) to out with every invalid UTF-8 sequence replaced by U+FFFD. */
void llm_utf8_sanitize_append(hz_buf_t *out, const char *s, size_t n);
/* Earliest occurrence of any stop string in text[from..n): its offset, or -1. */
ptrdiff_t llm_stop_find(const char *text, size_t n, size_t from, const char *const *stop, size_t n_stop);
/* How many bytes at the end of text[0..n) could be the start of a stop string. */
size_t llm_stop_holdback(const char *text, size_t n, const char *const *stop, size_t n_stop);

/* Sampler chain for a request (sampler.c); NULL with the error set for a bad grammar. */
struct llama_sampler *llm_sampler_new(const struct llama_model *model, const hz_llm_sampling_t *s,
                                      const char *gbnf);
/* The grammar text a request asks for (its grammar, JSON schema or JSON mode), or NULL. */
int llm_request_grammar(const hz_llm_chat_request_t *req, char **gbnf);

/* Render a chat with a llama.cpp template string or built-in name (chat.c). */
int llm_apply_template(const char *tmpl, const hz_llm_message_t *msgs, size_t n, char **out);
/* Tokenize text; *out owned. */
int llm_tokenize(const struct llama_vocab *vocab, const char *text, bool add_special, llama_token **out, int32_t *n);

/* ---- engine internals (engine.c, runner.c, embed.c) ----------------------------------- */

#include <pthread.h>

typedef struct llm_runner llm_runner_t;

/* One generation request as the worker sees it. Fields under "caller" are set before submit
 * and read-only afterwards; "shared" ones are guarded by the runner's mutex. */
typedef struct llm_job {
    /* caller */
    llama_token *prompt;
    int32_t n_prompt;
    struct llama_sampler *sampler;
    const char *const *stop;
    size_t n_stop;
    int32_t max_tokens;
    bool logprobs;
    int32_t top_logprobs;         /* alternatives recorded per token (logprobs only) */
    bool argmax;                  /* plain greedy: pick the top logit without the sampler chain */
    bool streaming;               /* the caller wants text as it comes, not only at the end */
    struct llama_adapter_lora **loras;
    float *lora_scales;
    size_t n_lora;
    char *lora_key;               /* "" for none; jobs with equal keys can share a batch */
    int64_t t_submit;
    atomic_bool cancel;
    /* shared */
    pthread_cond_t cv;
    hz_buf_t out;                 /* text not yet handed to the caller */
    bool done;
    int rc;                       /* 0, or an error code with err set */
    char err[256];
    hz_llm_finish_t finish;
    int32_t cached, n_gen;
    int64_t t_start, t_first, t_end;
    double logprob_sum;
    hz_llm_token_logprob_t *lp;   /* written by the worker; token texts filled in by the caller */
    size_t n_lp, cap_lp;
} llm_job_t;

typedef struct llm_runner_config {
    int32_t n_ctx_seq, n_parallel, n_threads, n_batch, queue_max;
} llm_runner_config_t;

/* Create the context and start the worker thread. */
int llm_runner_new(struct llama_model *model, const llm_runner_config_t *cfg, const char *name, llm_runner_t **out);
/* Queue a job; HZ_EBUSY when active + waiting jobs reach n_parallel + queue_max. */
int llm_runner_submit(llm_runner_t *r, llm_job_t *job);
/* Wait for the job, handing text to on_text on this thread and appending it to all; then the
 * job is the caller's again. */
void llm_runner_wait(llm_runner_t *r, llm_job_t *job, atomic_bool *ext_cancel, hz_llm_stream_fn on_text, void *ud,
                     hz_buf_t *all);
/* Mark every running and waiting job cancelled. */
void llm_runner_cancel_all(llm_runner_t *r);
/* Requests running or queued. */
int llm_runner_load(llm_runner_t *r, int *active, int *queued);
/* Cancel everything, stop the worker, free the context. */
void llm_runner_free(llm_runner_t *r);
int32_t llm_runner_n_ctx_seq(const llm_runner_t *r);

/* A registered model. The engine's mutex guards state, users, last_used and the list links;
 * while users > 0 the loaded fields (lm, info, runner) are stable. */
typedef struct llm_lora_entry {
    char *path;
    struct llama_adapter_lora *adapter;
    struct llm_lora_entry *next;
} llm_lora_entry_t;

typedef struct llm_model {
    char *name, *path;
    enum { LLM_UNLOADED = 0, LLM_LOADING, LLM_READY } state;
    int users;
    int64_t last_used;            /* monotonic ms */
    uint64_t memory;              /* estimate while loaded */
    struct llama_model *lm;
    hz_llm_model_info_t info;
    llm_runner_t *runner;         /* chat models */
    pthread_mutex_t aux_mu;       /* guards the embedding context and the adapters */
    struct llama_context *emb_ctx;
    int emb_pooling;
    llm_lora_entry_t *loras;
    struct llm_model *next;
} llm_model_t;

/* Find (or register a path as) the model and hold it loaded; release when done. */
int llm_acquire(hz_llm_engine_t *e, const char *name, llm_model_t **out);
void llm_release(hz_llm_engine_t *e, llm_model_t *m);
const hz_llm_engine_config_t *llm_engine_config(const hz_llm_engine_t *e);
/* Free the embedding context of a model being unloaded (embed.c). */
void llm_embed_unload(llm_model_t *m);

#endif
