/*
 * Test models: GGUF files that llama.cpp loads and runs like real ones, with random weights.
 *
 * Tests and benchmarks need models that exercise the real code paths (tokenizer, chat template,
 * KV cache, pooling, LoRA) but are small, free and reproducible. The tokenizer is the real one:
 * every "tokenizer.*" key is copied from a vocab-only GGUF shipped in the llama.cpp source
 * (qwen2 for the chat models, which brings its ChatML template and special tokens; bert-bge for
 * the embedding model). The tensors are the ones llama.cpp's loader asks for (src/models/llama.cpp
 * and bert.cpp), filled from a splitmix64 stream seeded by the seed and the tensor's name, so the
 * same options give the same bytes, and a tensor does not change when another is added.
 *
 * Weights are scaled so activations keep unit variance (uniform in +-sqrt(3/fan_in)) and the
 * embeddings are large, which makes the next-token distribution peaked: greedy decoding then has
 * clear winners, so results do not hinge on rounding differences between batch shapes.
 *
 * The file is written header first (gguf_write_to_file_ptr with only_meta), then each tensor is
 * generated and converted in row chunks and appended, so the 0.5B benchmark model never needs
 * more than a few megabytes of memory. It is written to a temporary name and renamed.
 */
#include "llm/llm_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ggml.h>
#include <gguf.h>

typedef enum { INIT_ONES, INIT_UNIFORM } init_t;

typedef struct shape {
    const char *arch, *vocab, *name;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    enum ggml_type wtype, etype;   /* matrices, token embeddings */
    int ftype;                     /* general.file_type */
} shape_t;

static const shape_t SHAPES[] = {
    [HZ_LLM_TESTMODEL_CHAT] = {"llama", "qwen2", "hanzo-test-chat", 64, 2, 4, 2, 160, 4096, GGML_TYPE_F32, GGML_TYPE_F16, 1},
    [HZ_LLM_TESTMODEL_EMBED] = {"bert", "bert-bge", "hanzo-test-embed", 64, 2, 4, 4, 128, 512, GGML_TYPE_F32, GGML_TYPE_F16, 1},
    [HZ_LLM_TESTMODEL_LORA] = {"llama", "qwen2", "hanzo-test-lora", 64, 2, 4, 2, 160, 4096, GGML_TYPE_F32, GGML_TYPE_F32, 0},
    /* the shape of Qwen2.5-0.5B: 24 layers of 896 wide, 14 query and 2 KV heads, 4864 FFN */
    [HZ_LLM_TESTMODEL_BENCH] = {"llama", "qwen2", "hanzo-bench-0.5b", 896, 24, 14, 2, 4864, 32768, GGML_TYPE_Q8_0, GGML_TYPE_Q8_0, 7},
};

enum { LORA_RANK = 8 };

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

char *hz_llm_testmodel_vocab_dir(const char *hint) {
    const char *env = getenv("HZ_VOCAB_DIR");
    char *cands[4] = {0};
    int n = 0;
    if (hint && *hint) cands[n++] = hz_strdup(hint);
    if (env && *env) cands[n++] = hz_strdup(env);
    const char *src = getenv("HZ_SOURCE_DIR");
    if (src && *src) cands[n++] = hz_sprintf("%s/.deps/src/llama.cpp/models", src);
    /* this file is compiled from <root>/src/llm/testmodel.c: the bootstrap put llama.cpp's
     * source, with its vocab files, under <root>/.deps */
    const char *me = __FILE__, *cut = strstr(me, "src/llm/testmodel.c");
    if (cut && me[0] == '/') cands[n++] = hz_sprintf("%.*s.deps/src/llama.cpp/models", (int)(cut - me), me);
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        char *probe = hz_sprintf("%s/ggml-vocab-qwen2.gguf", cands[i]);
        if (!found && access(probe, R_OK) == 0) { found = cands[i]; cands[i] = NULL; }
        hz_free(probe);
        hz_free(cands[i]);
    }
    return found;
}

/* Copy the tokenizer: every "tokenizer.*" key of the vocab file. */
static int copy_tokenizer(struct gguf_context *dst, const char *vocab_path) {
    struct gguf_init_params p = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *src = gguf_init_from_file(vocab_path, p);
    if (!src) return hz_error_set(HZ_EPARSE, "%s: cannot read the vocabulary GGUF", vocab_path);
    int64_t n = gguf_get_n_kv(src);
    for (int64_t i = 0; i < n; i++) {
        const char *key = gguf_get_key(src, i);
        if (!hz_str_starts_with(key, "tokenizer.")) continue;
        enum gguf_type t = gguf_get_kv_type(src, i);
        switch (t) {
        case GGUF_TYPE_STRING: gguf_set_val_str(dst, key, gguf_get_val_str(src, i)); break;
        case GGUF_TYPE_UINT32: gguf_set_val_u32(dst, key, gguf_get_val_u32(src, i)); break;
        case GGUF_TYPE_INT32: gguf_set_val_i32(dst, key, gguf_get_val_i32(src, i)); break;
        case GGUF_TYPE_BOOL: gguf_set_val_bool(dst, key, gguf_get_val_bool(src, i)); break;
        case GGUF_TYPE_FLOAT32: gguf_set_val_f32(dst, key, gguf_get_val_f32(src, i)); break;
        case GGUF_TYPE_ARRAY: {
            enum gguf_type at = gguf_get_arr_type(src, i);
            size_t an = gguf_get_arr_n(src, i);
            if (at == GGUF_TYPE_STRING) {
                const char **strs = hz_malloc(sizeof(char *) * (an ? an : 1));
                for (size_t j = 0; j < an; j++) strs[j] = gguf_get_arr_str(src, i, j);
                gguf_set_arr_str(dst, key, strs, an);
                hz_free(strs);
            } else {
                gguf_set_arr_data(dst, key, at, gguf_get_arr_data(src, i), an);
            }
            break;
        }
        default:
            gguf_free(src);
            return hz_error_set(HZ_EUNSUPPORTED, "%s: key %s has a type (%d) the generator does not copy", vocab_path, key, (int)t);
        }
    }
    gguf_free(src);
    return 0;
}

typedef struct tensor_spec {
    struct ggml_tensor *t;
    init_t init;
    float scale;
} tensor_spec_t;

typedef struct builder {
    struct ggml_context *ctx;
    struct gguf_context *gguf;
    tensor_spec_t *specs;
    size_t n, cap;
} builder_t;

static void add(builder_t *b, const char *name, enum ggml_type type, int64_t ne0, int64_t ne1, init_t init, float scale) {
    struct ggml_tensor *t = ne1 ? ggml_new_tensor_2d(b->ctx, type, ne0, ne1) : ggml_new_tensor_1d(b->ctx, type, ne0);
    ggml_set_name(t, name);
    gguf_add_tensor(b->gguf, t);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->specs = hz_realloc(b->specs, b->cap * sizeof(*b->specs));
    }
    b->specs[b->n++] = (tensor_spec_t){t, init, scale};
}

static void addf(builder_t *b, enum ggml_type type, int64_t ne0, int64_t ne1, init_t init, float scale, const char *fmt, int i) {
    char name[GGML_MAX_NAME];
    snprintf(name, sizeof(name), fmt, i);
    add(b, name, type, ne0, ne1, init, scale);
}

static float fan_in_scale(int64_t fan_in) { return sqrtf(3.0f / (float)fan_in); }

static void build_llama(builder_t *b, const shape_t *s, int n_layer, int64_t n_vocab) {
    int hd = s->n_embd / s->n_head, kv = hd * s->n_head_kv, E = s->n_embd;
    /* output.weight is absent: llama.cpp then ties the output to token_embd */
    add(b, "token_embd.weight", s->etype, E, n_vocab, INIT_UNIFORM, 1.0f);
    add(b, "output_norm.weight", GGML_TYPE_F32, E, 0, INIT_ONES, 1);
    for (int i = 0; i < n_layer; i++) {
        addf(b, GGML_TYPE_F32, E, 0, INIT_ONES, 1, "blk.%d.attn_norm.weight", i);
        addf(b, s->wtype, E, E, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_q.weight", i);
        addf(b, s->wtype, E, kv, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_k.weight", i);
        addf(b, s->wtype, E, kv, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_v.weight", i);
        addf(b, s->wtype, E, E, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_output.weight", i);
        addf(b, GGML_TYPE_F32, E, 0, INIT_ONES, 1, "blk.%d.ffn_norm.weight", i);
        addf(b, s->wtype, E, s->n_ff, INIT_UNIFORM, fan_in_scale(E), "blk.%d.ffn_gate.weight", i);
        addf(b, s->wtype, s->n_ff, E, INIT_UNIFORM, fan_in_scale(s->n_ff), "blk.%d.ffn_down.weight", i);
        addf(b, s->wtype, E, s->n_ff, INIT_UNIFORM, fan_in_scale(E), "blk.%d.ffn_up.weight", i);
    }
}

static void build_bert(builder_t *b, const shape_t *s, int n_layer, int64_t n_vocab) {
    int E = s->n_embd;
    add(b, "token_embd.weight", s->etype, E, n_vocab, INIT_UNIFORM, 1.0f);
    add(b, "token_types.weight", GGML_TYPE_F32, E, 2, INIT_UNIFORM, 0.1f);
    add(b, "position_embd.weight", GGML_TYPE_F32, E, s->n_ctx, INIT_UNIFORM, 0.1f);
    add(b, "token_embd_norm.weight", GGML_TYPE_F32, E, 0, INIT_ONES, 1);
    add(b, "token_embd_norm.bias", GGML_TYPE_F32, E, 0, INIT_UNIFORM, 0.05f);
    for (int i = 0; i < n_layer; i++) {
        static const char *const qkvo[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
        for (int j = 0; j < 4; j++) {
            char fmt[64];
            snprintf(fmt, sizeof(fmt), "blk.%%d.%s.weight", qkvo[j]);
            addf(b, s->wtype, E, E, INIT_UNIFORM, fan_in_scale(E), fmt, i);
            snprintf(fmt, sizeof(fmt), "blk.%%d.%s.bias", qkvo[j]);
            addf(b, GGML_TYPE_F32, E, 0, INIT_UNIFORM, 0.05f, fmt, i);
        }
        addf(b, GGML_TYPE_F32, E, 0, INIT_ONES, 1, "blk.%d.attn_output_norm.weight", i);
        addf(b, GGML_TYPE_F32, E, 0, INIT_UNIFORM, 0.05f, "blk.%d.attn_output_norm.bias", i);
        addf(b, s->wtype, E, s->n_ff, INIT_UNIFORM, fan_in_scale(E), "blk.%d.ffn_up.weight", i);
        addf(b, GGML_TYPE_F32, s->n_ff, 0, INIT_UNIFORM, 0.05f, "blk.%d.ffn_up.bias", i);
        addf(b, s->wtype, s->n_ff, E, INIT_UNIFORM, fan_in_scale(s->n_ff), "blk.%d.ffn_down.weight", i);
        addf(b, GGML_TYPE_F32, E, 0, INIT_UNIFORM, 0.05f, "blk.%d.ffn_down.bias", i);
        addf(b, GGML_TYPE_F32, E, 0, INIT_ONES, 1, "blk.%d.layer_output_norm.weight", i);
        addf(b, GGML_TYPE_F32, E, 0, INIT_UNIFORM, 0.05f, "blk.%d.layer_output_norm.bias", i);
    }
}

/* LoRA: W' = W + scale * B A for the query, value and FFN-up projections of every layer.
 * llama.cpp wants lora_a as {n_in, r} and lora_b as {r, n_out} (llama-adapter.cpp). B is large
 * on purpose: a test must see the logits move. */
static void build_lora(builder_t *b, const shape_t *s, int n_layer) {
    int E = s->n_embd, kv = s->n_embd / s->n_head * s->n_head_kv, r = LORA_RANK;
    for (int i = 0; i < n_layer; i++) {
        addf(b, GGML_TYPE_F32, E, r, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_q.weight.lora_a", i);
        addf(b, GGML_TYPE_F32, r, E, INIT_UNIFORM, 0.5f, "blk.%d.attn_q.weight.lora_b", i);
        addf(b, GGML_TYPE_F32, E, r, INIT_UNIFORM, fan_in_scale(E), "blk.%d.attn_v.weight.lora_a", i);
        addf(b, GGML_TYPE_F32, r, kv, INIT_UNIFORM, 0.5f, "blk.%d.attn_v.weight.lora_b", i);
        addf(b, GGML_TYPE_F32, E, r, INIT_UNIFORM, fan_in_scale(E), "blk.%d.ffn_up.weight.lora_a", i);
        addf(b, GGML_TYPE_F32, r, s->n_ff, INIT_UNIFORM, 0.5f, "blk.%d.ffn_up.weight.lora_b", i);
    }
}

/* Generate one tensor's values row chunk by row chunk, convert, append, pad. */
static int write_tensor(FILE *f, const tensor_spec_t *sp, uint64_t seed, size_t align) {
    struct ggml_tensor *t = sp->t;
    int64_t ne0 = t->ne[0], rows = ggml_nrows(t);
    size_t row_bytes = ggml_row_size(t->type, ne0);
    int64_t chunk = (int64_t)((4u << 20) / (size_t)(ne0 * 4)) + 1;
    float *vals = hz_malloc(sizeof(float) * (size_t)(ne0 * chunk));
    void *conv = hz_malloc(row_bytes * (size_t)chunk);
    uint64_t st = seed ^ fnv1a(ggml_get_name(t));
    int rc = 0;
    for (int64_t r0 = 0; r0 < rows && rc == 0; r0 += chunk) {
        int64_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        size_t nv = (size_t)(nr * ne0);
        for (size_t i = 0; i < nv; i++) {
            if (sp->init == INIT_ONES) { vals[i] = 1.0f; continue; }
            double u = (double)(splitmix(&st) >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
            vals[i] = (float)(u * 2.0 - 1.0) * sp->scale;
        }
        const void *out = vals;
        if (t->type == GGML_TYPE_F16) {
            ggml_fp32_to_fp16_row(vals, conv, (int64_t)nv);
            out = conv;
        } else if (t->type != GGML_TYPE_F32) {
            ggml_quantize_chunk(t->type, vals, conv, 0, nr, ne0, NULL);
            out = conv;
        }
        if (fwrite(out, row_bytes, (size_t)nr, f) != (size_t)nr) rc = hz_error_errno(HZ_EIO, errno, "writing tensor %s", ggml_get_name(t));
    }
    size_t total = row_bytes * (size_t)rows, pad = (align - total % align) % align;
    static const char zeros[64] = {0};
    if (rc == 0 && pad && fwrite(zeros, 1, pad, f) != pad) rc = hz_error_errno(HZ_EIO, errno, "writing padding");
    hz_free(vals);
    hz_free(conv);
    return rc;
}

int hz_llm_testmodel_write(const char *path, const hz_llm_testmodel_opts_t *o) {
    if (!path || !o || (unsigned)o->kind > HZ_LLM_TESTMODEL_BENCH)
        return hz_error_set(HZ_EINVAL, "testmodel: bad kind or path");
    if (o->n_layer < 0 || o->n_layer > 256) return hz_error_set(HZ_EINVAL, "testmodel: n_layer %d out of 0..256", o->n_layer);
    const shape_t *s = &SHAPES[o->kind];
    int n_layer = o->n_layer ? o->n_layer : s->n_layer;
    char *vdir = hz_llm_testmodel_vocab_dir(o->vocab_dir);
    if (!vdir) return hz_error_set(HZ_ENOTFOUND, "testmodel: no folder with ggml-vocab-qwen2.gguf (set HZ_VOCAB_DIR to llama.cpp's models/)");
    char *vpath = hz_sprintf("%s/ggml-vocab-%s.gguf", vdir, s->vocab);
    hz_free(vdir);

    struct gguf_context *g = gguf_init_empty();
    int rc = 0;
    bool lora = o->kind == HZ_LLM_TESTMODEL_LORA;
    gguf_set_val_str(g, "general.architecture", s->arch);
    gguf_set_val_str(g, "general.name", s->name);
    gguf_set_val_str(g, "general.type", lora ? "adapter" : "model");
    if (lora) {
        gguf_set_val_str(g, "adapter.type", "lora");
        gguf_set_val_f32(g, "adapter.lora.alpha", (float)LORA_RANK);
    } else {
        char key[128];
#define KEY(suffix) (snprintf(key, sizeof(key), "%s." suffix, s->arch), key)
        gguf_set_val_u32(g, "general.file_type", (uint32_t)s->ftype);
        gguf_set_val_u32(g, KEY("context_length"), (uint32_t)s->n_ctx);
        gguf_set_val_u32(g, KEY("embedding_length"), (uint32_t)s->n_embd);
        gguf_set_val_u32(g, KEY("block_count"), (uint32_t)n_layer);
        gguf_set_val_u32(g, KEY("feed_forward_length"), (uint32_t)s->n_ff);
        gguf_set_val_u32(g, KEY("attention.head_count"), (uint32_t)s->n_head);
        gguf_set_val_u32(g, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
        if (o->kind == HZ_LLM_TESTMODEL_EMBED) {
            gguf_set_val_f32(g, KEY("attention.layer_norm_epsilon"), 1e-12f);
            gguf_set_val_bool(g, KEY("attention.causal"), false);
            gguf_set_val_u32(g, KEY("pooling_type"), 1); /* mean */
        } else {
            gguf_set_val_f32(g, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
            gguf_set_val_f32(g, KEY("rope.freq_base"), 1000000.0f);
            gguf_set_val_u32(g, KEY("rope.dimension_count"), (uint32_t)(s->n_embd / s->n_head));
        }
#undef KEY
        rc = copy_tokenizer(g, vpath);
    }
    int64_t n_vocab = 0;
    if (rc == 0 && !lora) {
        int64_t id = gguf_find_key(g, "tokenizer.ggml.tokens");
        n_vocab = id >= 0 ? (int64_t)gguf_get_arr_n(g, id) : 0;
        if (n_vocab <= 0) rc = hz_error_set(HZ_EPARSE, "%s: no tokenizer.ggml.tokens", vpath);
    }
    hz_free(vpath);
    if (rc) { gguf_free(g); return rc; }

    struct ggml_init_params ip = {.mem_size = ggml_tensor_overhead() * (size_t)(16 * n_layer + 16), .mem_buffer = NULL, .no_alloc = true};
    builder_t b = {.ctx = ggml_init(ip), .gguf = g};
    if (lora) build_lora(&b, s, n_layer);
    else if (o->kind == HZ_LLM_TESTMODEL_EMBED) build_bert(&b, s, n_layer, n_vocab);
    else build_llama(&b, s, n_layer, n_vocab);

    char *tmp = hz_sprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) rc = hz_error_errno(HZ_EIO, errno, "%s", tmp);
    if (rc == 0 && !gguf_write_to_file_ptr(g, f, true)) rc = hz_error_set(HZ_EIO, "%s: writing the GGUF header failed", tmp);
    uint64_t seed = o->seed * 0x9e3779b97f4a7c15ull + (uint64_t)o->kind;
    for (size_t i = 0; rc == 0 && i < b.n; i++) rc = write_tensor(f, &b.specs[i], seed, gguf_get_alignment(g));
    if (f && fclose(f) != 0 && rc == 0) rc = hz_error_errno(HZ_EIO, errno, "%s", tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = hz_error_errno(HZ_EIO, errno, "rename %s -> %s", tmp, path);
    if (rc) unlink(tmp);
    hz_free(tmp);
    hz_free(b.specs);
    ggml_free(b.ctx);
    gguf_free(g);
    return rc;
}

int hz_llm_default_model_ensure(const char *dir, char **path_out) {
    *path_out = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return hz_error_errno(HZ_EIO, errno, "%s", dir);
    char *path = hz_sprintf("%s/" HZ_LLM_DEFAULT_MODEL_NAME ".gguf", dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        hz_llm_testmodel_opts_t o = {.kind = HZ_LLM_TESTMODEL_CHAT, .seed = 0};
        int rc = hz_llm_testmodel_write(path, &o);
        if (rc) { hz_free(path); return rc; }
    }
    *path_out = path;
    return 0;
}
