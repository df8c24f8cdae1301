/*
 * The sampler chain of one request, in the order llama.cpp's own server uses: the grammar first
 * (so the other samplers only see tokens the grammar allows), then repetition penalties, then
 * top-k, top-p and min-p truncation, then temperature and a seeded draw - or greedy selection
 * when the temperature is zero, which makes the output a pure function of the prompt.
 */
#include "llm/llm_internal.h"

#include <string.h>

void hz_llm_sampling_default(hz_llm_sampling_t *s) {
    memset(s, 0, sizeof(*s));
    s->temperature = 0.8f;
    s->top_k = 40;
    s->top_p = 0.95f;
    s->min_p = 0.05f;
    s->repeat_penalty = 1.0f;
    s->penalty_last_n = 64;
}

static int check(const hz_llm_sampling_t *s) {
    if (!(s->temperature >= 0 && s->temperature <= 100)) return hz_error_set(HZ_EINVAL, "temperature: must be 0..100");
    if (s->top_k < 0) return hz_error_set(HZ_EINVAL, "top_k: must be >= 0");
    if (!(s->top_p > 0 && s->top_p <= 1)) return hz_error_set(HZ_EINVAL, "top_p: must be in (0, 1]");
    if (!(s->min_p >= 0 && s->min_p < 1)) return hz_error_set(HZ_EINVAL, "min_p: must be in [0, 1)");
    if (!(s->repeat_penalty > 0 && s->repeat_penalty <= 10)) return hz_error_set(HZ_EINVAL, "repeat_penalty: must be in (0, 10]");
    if (!(s->frequency_penalty >= -2 && s->frequency_penalty <= 2)) return hz_error_set(HZ_EINVAL, "frequency_penalty: must be -2..2");
    if (!(s->presence_penalty >= -2 && s->presence_penalty <= 2)) return hz_error_set(HZ_EINVAL, "presence_penalty: must be -2..2");
    if (s->penalty_last_n < 0) return hz_error_set(HZ_EINVAL, "penalty_last_n: must be >= 0");
    return 0;
}

struct llama_sampler *llm_sampler_new(const struct llama_model *model, const hz_llm_sampling_t *s, const char *gbnf) {
    if (check(s) != 0) return NULL;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    struct llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf = true;
    struct llama_sampler *c = llama_sampler_chain_init(cp);
    if (gbnf && *gbnf) {
        llm_llama_error_clear();
        struct llama_sampler *g = llama_sampler_init_grammar(vocab, gbnf, "root");
        if (!g) {
            llama_sampler_free(c);
            hz_error_set(HZ_EINVAL, "grammar: %s", *llm_llama_error() ? llm_llama_error() : "does not parse");
            return NULL;
        }
        llama_sampler_chain_add(c, g);
    }
    if (s->repeat_penalty != 1.0f || s->frequency_penalty != 0 || s->presence_penalty != 0)
        llama_sampler_chain_add(c, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), s->penalty_last_n, s->repeat_penalty,
                                                                s->frequency_penalty, s->presence_penalty));
    if (s->temperature <= 0) {
        llama_sampler_chain_add(c, llama_sampler_init_greedy());
        return c;
    }
    if (s->top_k > 0) llama_sampler_chain_add(c, llama_sampler_init_top_k(s->top_k));
    if (s->top_p < 1) llama_sampler_chain_add(c, llama_sampler_init_top_p(s->top_p, 1));
    if (s->min_p > 0) llama_sampler_chain_add(c, llama_sampler_init_min_p(s->min_p, 1));
    llama_sampler_chain_add(c, llama_sampler_init_temp(s->temperature));
    llama_sampler_chain_add(c, llama_sampler_init_dist(s->seed));
    return c;
}

int llm_request_grammar(const hz_llm_chat_request_t *req, char **gbnf) {
    *gbnf = NULL;
    int n = (req->grammar != NULL) + (req->json_schema != NULL);
    if (n > 1) return hz_error_set(HZ_EINVAL, "grammar and json_schema: give one, not both");
    if (req->grammar) { *gbnf = hz_strdup(req->grammar); return 0; }
    if (!req->json_schema && !req->json_mode) return 0;
    json_object *schema = NULL;
    if (req->json_schema) {
        int rc = hz_json_parse(req->json_schema, strlen(req->json_schema), &schema);
        if (rc) return hz_error_wrap(rc, "json_schema");
    }
    hz_buf_t b = HZ_BUF_INIT;
    int rc = hz_llm_schema_to_gbnf(schema, &b);
    json_object_put(schema);
    if (rc) { hz_buf_free(&b); return hz_error_wrap(rc, "json_schema"); }
    *gbnf = hz_buf_detach(&b, NULL);
    return 0;
}
