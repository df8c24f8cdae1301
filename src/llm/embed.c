/*
 * Embeddings: one vector per input, pooled the model's way, batched.
 *
 * A model keeps one embedding context, created on first use and guarded by the model's aux_mu;
 * it is separate from the chat runner's context, so an embedding call never waits behind a
 * long generation (llama.cpp allows several contexts on one model). Encoders such as BERT see
 * the whole input at once, so the context's batch and micro-batch are both its full size and an
 * input longer than that is refused rather than silently cut.
 *
 * Inputs are packed into batches as distinct sequences, as many as fit in the tokens and
 * sequence slots, and llama.cpp pools each sequence (mean, CLS or last token) for us. Models
 * without a pooling type of their own (chat models) pool by mean unless told otherwise.
 */
#include "llm/llm_internal.h"

#include <math.h>
#include <string.h>

enum { EMB_MAX_SEQ = 16 };

void hz_llm_embeddings_free(hz_llm_embeddings_t *emb) {
    if (!emb) return;
    hz_free(emb->data);
    memset(emb, 0, sizeof(*emb));
}

void llm_embed_unload(llm_model_t *m) {
    if (m->emb_ctx) llama_free(m->emb_ctx);
    m->emb_ctx = NULL;
}

static int ensure_ctx(hz_llm_engine_t *e, llm_model_t *m, int pooling) {
    if (m->emb_ctx && m->emb_pooling == pooling) return 0;
    llm_embed_unload(m);
    struct llama_context_params cp = llama_context_default_params();
    uint32_t n = m->info.ctx_train ? m->info.ctx_train : 512;
    if (n > 8192) n = 8192;
    const hz_llm_engine_config_t *cfg = llm_engine_config(e);
    if (cfg->n_ctx > 0 && (uint32_t)cfg->n_ctx < n) n = (uint32_t)cfg->n_ctx;
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_ubatch = n;
    cp.n_seq_max = EMB_MAX_SEQ;
    cp.kv_unified = true;
    cp.embeddings = true;
    cp.pooling_type = (enum llama_pooling_type)pooling;
    cp.n_threads = cp.n_threads_batch = cfg->n_threads;
    cp.no_perf = true;
    llm_llama_error_clear();
    m->emb_ctx = llama_init_from_model(m->lm, cp);
    if (!m->emb_ctx)
        return hz_error_set(HZ_ENOMEM, "model %s: creating the embedding context failed%s%s", m->name,
                            *llm_llama_error() ? ": " : "", llm_llama_error());
    m->emb_pooling = pooling;
    return 0;
}

static int run_batch(llm_model_t *m, struct llama_batch *b, int n_seq, float *out, int dim, bool normalize) {
    llama_memory_t mem = llama_get_memory(m->emb_ctx);
    if (mem) llama_memory_clear(mem, true);
    int32_t rc = llama_decode(m->emb_ctx, *b);
    if (rc != 0) return hz_error_set(HZ_EINTERNAL, "model %s: embedding batch failed (%d)%s%s", m->name, rc,
                                     *llm_llama_error() ? ": " : "", llm_llama_error());
    for (int s = 0; s < n_seq; s++) {
        const float *v = llama_get_embeddings_seq(m->emb_ctx, s);
        if (!v) return hz_error_set(HZ_EINTERNAL, "model %s: no pooled embedding for sequence %d", m->name, s);
        float *dst = out + (size_t)s * (size_t)dim;
        double norm = 0;
        for (int i = 0; i < dim; i++) norm += (double)v[i] * v[i];
        norm = sqrt(norm);
        float k = normalize && norm > 0 ? (float)(1.0 / norm) : 1.0f;
        for (int i = 0; i < dim; i++) dst[i] = v[i] * k;
    }
    b->n_tokens = 0;
    return 0;
}

int hz_llm_embed(hz_llm_engine_t *e, const hz_llm_embed_request_t *req, hz_llm_embeddings_t *out) {
    memset(out, 0, sizeof(*out));
    if (!req->n_inputs) return hz_error_set(HZ_EINVAL, "input: at least one input is required");
    for (size_t i = 0; i < req->n_inputs; i++)
        if (!req->inputs[i]) return hz_error_set(HZ_EINVAL, "input[%zu]: missing", i);
    int pooling = req->pooling;
    if (pooling != HZ_LLM_POOL_MODEL && pooling != HZ_LLM_POOL_MEAN && pooling != HZ_LLM_POOL_CLS && pooling != HZ_LLM_POOL_LAST)
        return hz_error_set(HZ_EINVAL, "pooling: %d is not model, mean, cls or last", pooling);
    llm_model_t *m;
    int rc = llm_acquire(e, req->model, &m);
    if (rc) return rc;
    if (pooling == HZ_LLM_POOL_MODEL)
        pooling = m->info.pooling > 0 ? m->info.pooling : (int)LLAMA_POOLING_TYPE_MEAN;
    int dim = llama_model_n_embd_out(m->lm);
    if (dim <= 0) dim = llama_model_n_embd(m->lm);
    const struct llama_vocab *vocab = llama_model_get_vocab(m->lm);
    pthread_mutex_lock(&m->aux_mu);
    struct llama_batch b = {0};
    float *data = hz_calloc(req->n_inputs, sizeof(float) * (size_t)dim);
    int32_t total = 0;
    if ((rc = ensure_ctx(e, m, pooling)) != 0) goto out;
    int32_t cap = (int32_t)llama_n_batch(m->emb_ctx);
    b = llama_batch_init(cap, 0, 1);
    size_t first = 0;   /* first input of the batch being built */
    int n_seq = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        llama_token *toks = NULL;
        int32_t n = 0;
        if ((rc = llm_tokenize(vocab, req->inputs[i], true, &toks, &n)) != 0) goto out;
        if (n == 0 || n > cap) {
            hz_free(toks);
            rc = n == 0 ? hz_error_set(HZ_EINVAL, "input[%zu]: empty", i)
                        : hz_error_set(HZ_ETOOBIG, "input[%zu]: %d tokens, the model takes at most %d", i, n, cap);
            goto out;
        }
        if (b.n_tokens + n > cap || n_seq == EMB_MAX_SEQ) {
            if ((rc = run_batch(m, &b, n_seq, data + first * (size_t)dim, dim, req->normalize)) != 0) { hz_free(toks); goto out; }
            first = i;
            n_seq = 0;
        }
        for (int32_t k = 0; k < n; k++) {
            int t = b.n_tokens++;
            b.token[t] = toks[k];
            b.pos[t] = k;
            b.n_seq_id[t] = 1;
            b.seq_id[t][0] = n_seq;
            b.logits[t] = 1;
        }
        n_seq++;
        total += n;
        hz_free(toks);
    }
    if (n_seq) rc = run_batch(m, &b, n_seq, data + first * (size_t)dim, dim, req->normalize);
out:
    if (b.token) llama_batch_free(b);
    pthread_mutex_unlock(&m->aux_mu);
    llm_release(e, m);
    if (rc) { hz_free(data); return rc; }
    out->data = data;
    out->n = req->n_inputs;
    out->dim = (size_t)dim;
    out->prompt_tokens = total;
    return 0;
}
