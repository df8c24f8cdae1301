/*
 * The runner: one llama.cpp context per loaded chat model, driven by one worker thread that
 * decodes all running requests together (continuous batching).
 *
 * The context has n_parallel sequences, each with its own KV stream of n_ctx_seq tokens. A slot
 * is one sequence. Each step, the worker builds one batch holding the next token of every
 * generating slot plus as many prompt tokens of newly admitted slots as fit in n_batch, decodes
 * it once, and samples one token for every slot whose logits came out. A new request therefore
 * joins the running batch at the next step instead of waiting for the others to finish, and a
 * long prompt is evaluated in chunks between the generation steps of the others.
 *
 * Prefix reuse: a slot remembers the tokens that are in its KV stream. A new request goes to
 * the free slot sharing the longest prefix with its prompt (the same conversation's slot, one
 * turn later), and only the tokens after that prefix are evaluated. llama_memory_seq_rm drops
 * the rest. Slots are picked least-recently-used among equals, so a conversation keeps its
 * slot as long as it is not the oldest.
 *
 * LoRA adapters apply to the whole context, so only requests with the same adapter set run
 * together: a request with another set waits until the running ones finish, and switching sets
 * clears the slots' caches (their KV was computed with other weights).
 *
 * Locking: r->mu guards the queue, the jobs' shared fields and the counters. Slots and the
 * context are touched by the worker thread only. Text is handed over in job->out and signalled
 * on job->cv; llm_runner_wait drains it on the caller's thread.
 */
#include "llm/llm_internal.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#include <math.h>
#include <string.h>

typedef struct slot {
    int id;
    llm_job_t *job;
    llama_token *cache;           /* tokens in this sequence's KV stream */
    int32_t n_cache, cap;
    int32_t n_prompt_done;        /* prompt tokens in the KV (including the reused prefix) */
    llama_token last;             /* sampled, not yet decoded */
    bool generating;
    int32_t batch_idx;            /* output row in the current batch, -1 if none */
    int64_t last_used;
    hz_buf_t raw;                 /* answer bytes as the tokens spelt them */
    size_t raw_done;              /* bytes of raw already turned into text */
    hz_buf_t text;                /* valid UTF-8 answer */
    size_t emitted;               /* bytes of text handed to the caller */
    hz_buf_t pend;                /* text to hand over at the next publish */
    bool finished;
} slot_t;

struct llm_runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* work arrived or stop */
    pthread_t thread;
    bool stop;
    char *name;
    struct llama_model *model;
    const struct llama_vocab *vocab;
    struct llama_context *ctx;
    struct ggml_threadpool *tp;   /* persistent, polling CPU workers; NULL: ggml's per-graph threads */
    void (*tp_free)(struct ggml_threadpool *);
    llm_runner_config_t cfg;
    slot_t *slots;
    int n_active;
    llm_job_t **queue;            /* FIFO ring */
    int q_head, q_len, q_cap;
    char *lora_key;               /* adapter set the context has now */
    struct llama_batch batch;
};

static int64_t now_us(void) { return hz_time_mono_ns() / 1000; }

int32_t llm_runner_n_ctx_seq(const llm_runner_t *r) { return r->cfg.n_ctx_seq; }

/* ---- slots -------------------------------------------------------------------------------- */

static void cache_push(slot_t *s, llama_token t) {
    if (s->n_cache == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->cache = hz_realloc(s->cache, sizeof(llama_token) * (size_t)s->cap);
    }
    s->cache[s->n_cache++] = t;
}

static int32_t common_prefix(const slot_t *s, const llm_job_t *j) {
    int32_t n = 0;
    while (n < s->n_cache && n < j->n_prompt && s->cache[n] == j->prompt[n]) n++;
    return n;
}

/* Finish the slot's job: flush its text and mark it for publishing. */
static void slot_finish(slot_t *s, hz_llm_finish_t why) {
    llm_job_t *j = s->job;
    if (s->raw_done < s->raw.len) {   /* an unfinished character at the end: U+FFFD */
        llm_utf8_sanitize_append(&s->text, s->raw.data + s->raw_done, s->raw.len - s->raw_done);
        s->raw_done = s->raw.len;
    }
    if (s->text.len > s->emitted) hz_buf_append(&s->pend, s->text.data + s->emitted, s->text.len - s->emitted);
    s->emitted = s->text.len;
    j->finish = why;
    j->t_end = now_us();
    s->finished = true;
}

static void slot_fail(slot_t *s, int rc, const char *msg) {
    llm_job_t *j = s->job;
    j->rc = rc;
    snprintf(j->err, sizeof(j->err), "%s", msg);
    slot_finish(s, HZ_LLM_FINISH_NONE);
}

/* A new token for a generating slot: text, stop strings, limits. */
static void slot_token(llm_runner_t *r, slot_t *s, llama_token tok) {
    llm_job_t *j = s->job;
    if (j->n_gen == 0) j->t_first = now_us();
    if (llama_vocab_is_eog(r->vocab, tok)) { slot_finish(s, HZ_LLM_FINISH_STOP); return; }
    j->n_gen++;
    char piece[256];
    int32_t n = llama_token_to_piece(r->vocab, tok, piece, sizeof(piece), 0, false);
    if (n > 0) hz_buf_append(&s->raw, piece, (size_t)n);
    size_t complete = llm_utf8_complete_prefix(s->raw.data + s->raw_done, s->raw.len - s->raw_done);
    size_t checked = s->text.len;
    llm_utf8_sanitize_append(&s->text, s->raw.data + s->raw_done, complete);
    s->raw_done += complete;
    if (j->n_stop) {
        ptrdiff_t at = llm_stop_find(s->text.data ? s->text.data : "", s->text.len, checked, j->stop, j->n_stop);
        if (at >= 0) {
            s->text.len = (size_t)at;
            s->text.data[at] = '\0';
            s->raw_done = s->raw.len;   /* bytes after the stop string are dropped */
            slot_finish(s, HZ_LLM_FINISH_STOP);
            return;
        }
    }
    s->last = tok;
    if ((j->max_tokens > 0 && j->n_gen >= j->max_tokens) || s->n_cache + 1 >= r->cfg.n_ctx_seq) {
        slot_finish(s, HZ_LLM_FINISH_LENGTH);
        return;
    }
    size_t hold = llm_stop_holdback(s->text.data ? s->text.data : "", s->text.len, j->stop, j->n_stop);
    size_t end = s->text.len - hold;
    if (end > s->emitted) {
        hz_buf_append(&s->pend, s->text.data + s->emitted, end - s->emitted);
        s->emitted = end;
    }
}

/* ---- admission (under r->mu) ------------------------------------------------------------- */

static void job_done_locked(llm_job_t *j) {
    j->done = true;
    pthread_cond_signal(&j->cv);
}

static void admit_locked(llm_runner_t *r) {
    while (r->q_len > 0) {
        llm_job_t *j = r->queue[r->q_head];
        if (atomic_load(&j->cancel)) {     /* gone before it started */
            r->q_head = (r->q_head + 1) % r->q_cap;
            r->q_len--;
            j->finish = HZ_LLM_FINISH_CANCELLED;
            j->t_start = j->t_end = now_us();
            job_done_locked(j);
            continue;
        }
        if (strcmp(j->lora_key, r->lora_key ? r->lora_key : "") != 0) {
            if (r->n_active > 0) return;   /* wait for the other adapter set to drain */
            /* switch adapter sets: every cached prefix was computed with other weights */
            int32_t rc = llama_set_adapters_lora(r->ctx, j->loras, j->n_lora, j->lora_scales);
            if (rc != 0) {
                r->q_head = (r->q_head + 1) % r->q_cap;
                r->q_len--;
                j->rc = HZ_EINTERNAL;
                snprintf(j->err, sizeof(j->err), "applying the LoRA adapters failed (%d)", rc);
                job_done_locked(j);
                continue;
            }
            llama_memory_clear(llama_get_memory(r->ctx), true);
            for (int i = 0; i < r->cfg.n_parallel; i++) r->slots[i].n_cache = 0;
            hz_free(r->lora_key);
            r->lora_key = hz_strdup(j->lora_key);
        }
        /* the free slot with the longest common prefix; least recently used among equals */
        slot_t *best = NULL;
        int32_t best_n = -1;
        for (int i = 0; i < r->cfg.n_parallel; i++) {
            slot_t *s = &r->slots[i];
            if (s->job) continue;
            int32_t n = common_prefix(s, j);
            if (n > best_n || (n == best_n && s->last_used < best->last_used)) { best = s; best_n = n; }
        }
        if (!best) return;
        r->q_head = (r->q_head + 1) % r->q_cap;
        r->q_len--;
        slot_t *s = best;
        int32_t keep = best_n < j->n_prompt ? best_n : j->n_prompt - 1; /* the last prompt token gives logits */
        llama_memory_t mem = llama_get_memory(r->ctx);
        if (!llama_memory_seq_rm(mem, s->id, keep, -1)) {
            llama_memory_seq_rm(mem, s->id, -1, -1);
            keep = 0;
        }
        s->n_cache = keep;
        s->n_prompt_done = keep;
        s->job = j;
        s->generating = false;
        s->finished = false;
        hz_buf_reset(&s->raw);
        hz_buf_reset(&s->text);
        hz_buf_reset(&s->pend);
        s->raw_done = s->emitted = 0;
        j->cached = keep;
        j->t_start = now_us();
        r->n_active++;
    }
}

/* ---- one decode step (worker thread, unlocked) -------------------------------------------- */

/* Log-probabilities from the raw logits (the model's own distribution, as OpenAI reports it),
 * with the top alternatives found by insertion into a short sorted list: one pass over the
 * vocabulary, no copy of it. Worker thread only; the caller reads the list after the job ends. */
static void record_logprob(llm_job_t *j, const float *lg, int nv, llama_token tok) {
    float mx = lg[0];
    for (int v = 1; v < nv; v++) if (lg[v] > mx) mx = lg[v];
    double sum = 0;
    for (int v = 0; v < nv; v++) sum += exp((double)(lg[v] - mx));
    double lse = (double)mx + log(sum);
    j->logprob_sum += (double)lg[tok] - lse;
    if (j->n_lp == j->cap_lp) {
        j->cap_lp = j->cap_lp ? 2 * j->cap_lp : 64;
        j->lp = hz_realloc(j->lp, j->cap_lp * sizeof(*j->lp));
    }
    hz_llm_token_logprob_t *e = &j->lp[j->n_lp++];
    memset(e, 0, sizeof(*e));
    e->token = tok;
    e->logprob = (float)((double)lg[tok] - lse);
    int k = j->top_logprobs, n = 0;
    for (int v = 0; v < nv && k > 0; v++) {
        if (n == k && lg[v] <= e->top[n - 1].logprob) continue;
        int at = n < k ? n++ : n - 1;
        while (at > 0 && e->top[at - 1].logprob < lg[v]) { e->top[at] = e->top[at - 1]; at--; }
        e->top[at].token = v;
        e->top[at].logprob = lg[v];   /* raw logit while ranking; normalised below */
    }
    for (int i = 0; i < n; i++) e->top[i].logprob = (float)((double)e->top[i].logprob - lse);
    e->n_top = n;
}

static void step(llm_runner_t *r) {
    struct llama_batch *b = &r->batch;
    b->n_tokens = 0;
    int n_batch = r->cfg.n_batch;
    for (int i = 0; i < r->cfg.n_parallel; i++) {
        slot_t *s = &r->slots[i];
        s->batch_idx = -1;
        if (!s->job || s->finished) continue;
        if (atomic_load(&s->job->cancel)) { slot_finish(s, HZ_LLM_FINISH_CANCELLED); continue; }
        if (!s->generating) continue;
        int k = b->n_tokens++;
        b->token[k] = s->last;
        b->pos[k] = s->n_cache;
        b->n_seq_id[k] = 1;
        b->seq_id[k][0] = s->id;
        b->logits[k] = 1;
        s->batch_idx = k;
        cache_push(s, s->last);
    }
    for (int i = 0; i < r->cfg.n_parallel && b->n_tokens < n_batch; i++) {
        slot_t *s = &r->slots[i];
        if (!s->job || s->finished || s->generating) continue;
        llm_job_t *j = s->job;
        while (s->n_prompt_done < j->n_prompt && b->n_tokens < n_batch) {
            int k = b->n_tokens++;
            llama_token t = j->prompt[s->n_prompt_done++];
            b->token[k] = t;
            b->pos[k] = s->n_cache;
            b->n_seq_id[k] = 1;
            b->seq_id[k][0] = s->id;
            b->logits[k] = s->n_prompt_done == j->n_prompt;
            if (b->logits[k]) s->batch_idx = k;
            cache_push(s, t);
        }
    }
    if (b->n_tokens == 0) return;
    int32_t rc = llama_decode(r->ctx, *b);
    if (rc != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "llama_decode failed (%d)%s%s", rc, *llm_llama_error() ? ": " : "", llm_llama_error());
        hz_log_error("llm", "%s: %s", r->name, msg);
        /* the batch's tokens are not in the KV: forget the slots' caches and fail their jobs */
        for (int i = 0; i < r->cfg.n_parallel; i++) {
            slot_t *s = &r->slots[i];
            if (!s->job || s->finished) continue;
            llama_memory_seq_rm(llama_get_memory(r->ctx), s->id, -1, -1);
            s->n_cache = 0;
            slot_fail(s, HZ_EINTERNAL, msg);
        }
        return;
    }
    for (int i = 0; i < r->cfg.n_parallel; i++) {
        slot_t *s = &r->slots[i];
        if (!s->job || s->finished || s->batch_idx < 0) continue;
        llama_token tok;
        int nv = llama_vocab_n_tokens(r->vocab);
        if (s->job->argmax) {
            /* the sampler chain would copy the whole vocabulary into a candidate array first:
             * for greedy decoding a scan of the logits gives the same token for less */
            const float *lg = llama_get_logits_ith(r->ctx, s->batch_idx);
            tok = 0;
            for (int v = 1; v < nv; v++) if (lg[v] > lg[tok]) tok = v;
        } else {
            tok = llama_sampler_sample(s->job->sampler, r->ctx, s->batch_idx);
        }
        if (s->job->logprobs) record_logprob(s->job, llama_get_logits_ith(r->ctx, s->batch_idx), nv, tok);
        s->generating = true;
        slot_token(r, s, tok);
    }
}

/* Hand text and finished jobs to their callers (under r->mu). */
static void publish_locked(llm_runner_t *r) {
    for (int i = 0; i < r->cfg.n_parallel; i++) {
        slot_t *s = &r->slots[i];
        if (!s->job) continue;
        llm_job_t *j = s->job;
        bool signal = false;
        if (s->pend.len) {
            hz_buf_append(&j->out, s->pend.data, s->pend.len);
            hz_buf_reset(&s->pend);
            signal = j->streaming;   /* a caller without a callback need not wake per token */
        }
        if (s->finished) {
            s->job = NULL;
            s->last_used = now_us();
            r->n_active--;
            j->done = true;
            signal = true;
        }
        if (signal) pthread_cond_signal(&j->cv);
    }
}

static void *worker(void *arg) {
    llm_runner_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        admit_locked(r);
        if (r->n_active == 0) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        step(r);
        pthread_mutex_lock(&r->mu);
        publish_locked(r);
    }
    /* shutting down: whatever is running or waiting ends as cancelled */
    for (int i = 0; i < r->cfg.n_parallel; i++)
        if (r->slots[i].job && !r->slots[i].finished) slot_finish(&r->slots[i], HZ_LLM_FINISH_CANCELLED);
    publish_locked(r);
    while (r->q_len > 0) {
        llm_job_t *j = r->queue[r->q_head];
        r->q_head = (r->q_head + 1) % r->q_cap;
        r->q_len--;
        j->rc = HZ_ECLOSED;
        snprintf(j->err, sizeof(j->err), "model %s was unloaded", r->name);
        job_done_locked(j);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- public to the module ----------------------------------------------------------------- */

int llm_runner_new(struct llama_model *model, const llm_runner_config_t *cfg, const char *name, llm_runner_t **out) {
    *out = NULL;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)cfg->n_ctx_seq * (uint32_t)cfg->n_parallel;
    cp.n_batch = (uint32_t)cfg->n_batch;
    cp.n_ubatch = (uint32_t)cfg->n_batch;
    cp.n_seq_max = (uint32_t)cfg->n_parallel;
    cp.n_threads = cfg->n_threads;
    cp.n_threads_batch = cfg->n_threads;
    cp.no_perf = true;
    cp.kv_unified = false;   /* one KV stream per sequence: parallel requests do not share context */
    llm_llama_error_clear();
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx)
        return hz_error_set(HZ_ENOMEM, "%s: creating a context of %u tokens failed%s%s", name, cp.n_ctx,
                            *llm_llama_error() ? ": " : "", llm_llama_error());
    llm_runner_t *r = hz_calloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->name = hz_strdup(name);
    r->model = model;
    r->vocab = llama_model_get_vocab(model);
    r->ctx = ctx;
    r->cfg = *cfg;
    r->slots = hz_calloc((size_t)cfg->n_parallel, sizeof(slot_t));
    for (int i = 0; i < cfg->n_parallel; i++) r->slots[i].id = i;
    r->q_cap = cfg->n_parallel + (cfg->queue_max > 0 ? cfg->queue_max : 0) + 1;
    r->queue = hz_calloc((size_t)r->q_cap, sizeof(llm_job_t *));
    r->batch = llama_batch_init(cfg->n_batch + cfg->n_parallel, 0, 1);
    /* Without an attached threadpool the CPU backend starts and joins its threads on every
     * llama_decode, which for one-token generation steps is a measurable share of the step.
     * A persistent pool whose idle workers spin briefly (ggml's default poll) is what
     * llama-bench and llama-server use; looked up through the registry as the CPU backend
     * may be a loadable module. */
    ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
    void *tp_new = cpu ? ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new") : NULL;
    void *tp_free = cpu ? ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_free") : NULL;
    if (tp_new && tp_free) {
        struct ggml_threadpool_params tpp = ggml_threadpool_params_default(cfg->n_threads);
        r->tp = ((struct ggml_threadpool *(*)(struct ggml_threadpool_params *))tp_new)(&tpp);
        r->tp_free = (void (*)(struct ggml_threadpool *))tp_free;
        if (r->tp) llama_attach_threadpool(ctx, r->tp, NULL);
    }
    int err = pthread_create(&r->thread, NULL, worker, r);
    if (err) {
        llama_batch_free(r->batch);
        llama_free(ctx);
        if (r->tp) r->tp_free(r->tp);
        hz_free(r->queue); hz_free(r->slots); hz_free(r->name);
        hz_free(r);
        return hz_error_errno(HZ_EINTERNAL, err, "starting the worker thread");
    }
    *out = r;
    return 0;
}

int llm_runner_submit(llm_runner_t *r, llm_job_t *j) {
    pthread_mutex_lock(&r->mu);
    int cap = r->cfg.n_parallel + (r->cfg.queue_max > 0 ? r->cfg.queue_max : 0);
    if (r->stop) {
        pthread_mutex_unlock(&r->mu);
        return hz_error_set(HZ_ECLOSED, "model %s is unloading", r->name);
    }
    if (r->n_active + r->q_len >= cap) {
        int q = r->q_len, a = r->n_active;
        pthread_mutex_unlock(&r->mu);
        return hz_error_set(HZ_EBUSY, "model %s is busy: %d requests running and %d waiting (the limit is %d)",
                            r->name, a, q, cap);
    }
    r->queue[(r->q_head + r->q_len) % r->q_cap] = j;
    r->q_len++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void llm_runner_cancel_all(llm_runner_t *r) {
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->cfg.n_parallel; i++)
        if (r->slots[i].job) atomic_store(&r->slots[i].job->cancel, true);
    for (int i = 0; i < r->q_len; i++) atomic_store(&r->queue[(r->q_head + i) % r->q_cap]->cancel, true);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void llm_runner_wait(llm_runner_t *r, llm_job_t *j, atomic_bool *ext_cancel, hz_llm_stream_fn on_text, void *ud,
                     hz_buf_t *all) {
    hz_buf_t take = HZ_BUF_INIT;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (j->out.len) {
            hz_buf_t t = j->out;
            j->out = take;
            take = t;
            pthread_mutex_unlock(&r->mu);
            hz_buf_append(all, take.data, take.len);
            if (on_text && !atomic_load(&j->cancel) && on_text(take.data, take.len, ud) != 0) {
                atomic_store(&j->cancel, true);
                pthread_mutex_lock(&r->mu);
                pthread_cond_signal(&r->cv);   /* a worker waiting for work must see it */
                pthread_mutex_unlock(&r->mu);
            }
            hz_buf_reset(&take);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (j->done) break;
        if (ext_cancel && atomic_load(ext_cancel)) atomic_store(&j->cancel, true);
        /* wake up now and then to notice an external cancel flag */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&j->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    hz_buf_free(&take);
}

int llm_runner_load(llm_runner_t *r, int *active, int *queued) {
    pthread_mutex_lock(&r->mu);
    *active = r->n_active;
    *queued = r->q_len;
    pthread_mutex_unlock(&r->mu);
    return *active + *queued;
}

void llm_runner_free(llm_runner_t *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->cfg.n_parallel; i++) {
        slot_t *s = &r->slots[i];
        hz_free(s->cache);
        hz_buf_free(&s->raw);
        hz_buf_free(&s->text);
        hz_buf_free(&s->pend);
    }
    llama_batch_free(r->batch);
    llama_free(r->ctx);
    if (r->tp) r->tp_free(r->tp);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    hz_free(r->slots);
    hz_free(r->queue);
    hz_free(r->lora_key);
    hz_free(r->name);
    hz_free(r);
}
