/*
 * GGUF header reader: what a model file is, without loading it.
 *
 * `hanzo models` lists dozens of multi-gigabyte files, so it must read only the header: the
 * key/value metadata and the tensor table. We parse the format ourselves (rather than through
 * gguf_init_from_file) for three reasons: we can skip the big arrays (a 150k-token vocabulary)
 * with fseek instead of materialising them, every error can name the byte offset and the field,
 * and the parser is small enough to fuzz over a memory stream. Every count and length is checked
 * against the bytes that remain before anything is allocated, so a hostile header cannot make us
 * allocate more than the file holds. The last check compares the end of the last tensor with the
 * file size, which is how a truncated download shows up.
 */
#include "llm/llm_internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <ggml.h>
#include <gguf.h>
#include <llama.h>

enum { MAX_KEY = 65536, MAX_KEPT_STRING = 4 << 20, MAX_DIMS = 4 };

typedef struct reader {
    FILE *f;
    uint64_t pos, size;
    const char *what;   /* field being read, for messages */
} reader_t;

static int short_read(reader_t *r, uint64_t need) {
    return hz_error_set(HZ_EPARSE, "GGUF truncated at byte %llu reading %s (need %llu bytes, file has %llu)",
                        (unsigned long long)r->pos, r->what, (unsigned long long)need,
                        (unsigned long long)r->size);
}

static int rd(reader_t *r, void *p, uint64_t n) {
    if (n > r->size - r->pos) return short_read(r, n);
    if (n && fread(p, 1, (size_t)n, r->f) != n) return short_read(r, n);
    r->pos += n;
    return 0;
}

static int skip(reader_t *r, uint64_t n) {
    if (n > r->size - r->pos) return short_read(r, n);
    if (fseeko(r->f, (off_t)n, SEEK_CUR) != 0) return hz_error_errno(HZ_EIO, errno, "GGUF seek at byte %llu", (unsigned long long)r->pos);
    r->pos += n;
    return 0;
}

static int rd_u32(reader_t *r, uint32_t *v) { return rd(r, v, 4); }
static int rd_u64(reader_t *r, uint64_t *v) { return rd(r, v, 8); }

/* A string: u64 length then bytes. Kept (NUL-terminated, owned) when out != NULL and it is at
 * most `keep_max` bytes; otherwise skipped. */
static int rd_str(reader_t *r, char **out, uint64_t keep_max) {
    uint64_t n;
    int rc = rd_u64(r, &n);
    if (rc) return rc;
    if (n > r->size - r->pos) return short_read(r, n);
    if (!out || n > keep_max) {
        if (out) *out = NULL;
        return skip(r, n);
    }
    char *s = hz_malloc((size_t)n + 1);
    if ((rc = rd(r, s, n)) != 0) { hz_free(s); return rc; }
    s[n] = '\0';
    *out = s;
    return 0;
}

static uint64_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* An integer value of any integer type, for the few numeric keys we keep. */
static int rd_int(reader_t *r, uint32_t t, int64_t *v) {
    uint64_t n = scalar_size(t);
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64; int64_t i64; } u = {0};
    int rc = rd(r, &u, n);
    if (rc) return rc;
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: *v = u.u8; break;
    case GGUF_TYPE_INT8: *v = u.i8; break;
    case GGUF_TYPE_UINT16: *v = u.u16; break;
    case GGUF_TYPE_INT16: *v = u.i16; break;
    case GGUF_TYPE_UINT32: *v = u.u32; break;
    case GGUF_TYPE_INT32: *v = u.i32; break;
    case GGUF_TYPE_UINT64: *v = (int64_t)u.u64; break;
    case GGUF_TYPE_INT64: *v = u.i64; break;
    default: *v = 0; break; /* floats: not an integer key */
    }
    return 0;
}

/* The keys we keep, found by their name after the "<arch>." prefix when it matches. */
typedef struct header {
    char *arch, *name, *type, *tmpl;
    int64_t file_type, ctx, embd, layer, head, head_kv, pooling, causal, alignment, vocab_size;
    int64_t tokens;
} header_t;

static int64_t *arch_key(header_t *h, const char *key) {
    if (!h->arch) return NULL;
    size_t n = strlen(h->arch);
    if (strncmp(key, h->arch, n) != 0 || key[n] != '.') return NULL;
    key += n + 1;
    if (strcmp(key, "context_length") == 0) return &h->ctx;
    if (strcmp(key, "embedding_length") == 0) return &h->embd;
    if (strcmp(key, "block_count") == 0) return &h->layer;
    if (strcmp(key, "attention.head_count") == 0) return &h->head;
    if (strcmp(key, "attention.head_count_kv") == 0) return &h->head_kv;
    if (strcmp(key, "pooling_type") == 0) return &h->pooling;
    if (strcmp(key, "attention.causal") == 0) return &h->causal;
    if (strcmp(key, "vocab_size") == 0) return &h->vocab_size;
    return NULL;
}

static int read_kv(reader_t *r, header_t *h, uint64_t index) {
    char *key = NULL;
    r->what = "key";
    int rc = rd_str(r, &key, MAX_KEY);
    if (rc) return rc;
    if (!key) return hz_error_set(HZ_EPARSE, "GGUF key %llu at byte %llu is longer than %d bytes",
                                  (unsigned long long)index, (unsigned long long)r->pos, MAX_KEY);
    uint32_t t;
    r->what = "value type";
    if ((rc = rd_u32(r, &t)) != 0) goto out;
    r->what = "value";
    if (t == GGUF_TYPE_STRING) {
        char **slot = strcmp(key, "general.architecture") == 0 ? &h->arch
                    : strcmp(key, "general.name") == 0 ? &h->name
                    : strcmp(key, "general.type") == 0 ? &h->type
                    : strcmp(key, "tokenizer.chat_template") == 0 ? &h->tmpl : NULL;
        if (slot) { hz_free(*slot); *slot = NULL; }
        rc = rd_str(r, slot, MAX_KEPT_STRING);
    } else if (t == GGUF_TYPE_ARRAY) {
        uint32_t et;
        uint64_t n;
        if ((rc = rd_u32(r, &et)) != 0 || (rc = rd_u64(r, &n)) != 0) goto out;
        if (strcmp(key, "tokenizer.ggml.tokens") == 0) h->tokens = (int64_t)n;
        if (et == GGUF_TYPE_STRING) {
            /* each string has at least its 8-byte length */
            if (n > (r->size - r->pos) / 8) { rc = short_read(r, n * 8); goto out; }
            for (uint64_t i = 0; i < n && rc == 0; i++) rc = rd_str(r, NULL, 0);
        } else if (scalar_size(et)) {
            if (n > (r->size - r->pos) / scalar_size(et)) { rc = short_read(r, n); goto out; }
            rc = skip(r, n * scalar_size(et));
        } else {
            rc = hz_error_set(HZ_EPARSE, "GGUF key \"%s\": array element type %u is not valid (nested arrays are not allowed)", key, et);
        }
    } else if (scalar_size(t)) {
        int64_t v;
        if ((rc = rd_int(r, t, &v)) != 0) goto out;
        int64_t *slot = arch_key(h, key);
        if (strcmp(key, "general.file_type") == 0) slot = &h->file_type;
        else if (strcmp(key, GGUF_KEY_GENERAL_ALIGNMENT) == 0) slot = &h->alignment;
        if (slot && t != GGUF_TYPE_FLOAT32 && t != GGUF_TYPE_FLOAT64) *slot = v;
    } else {
        rc = hz_error_set(HZ_EPARSE, "GGUF key \"%s\" at byte %llu: value type %u is not valid", key,
                          (unsigned long long)r->pos - 4, t);
    }
out:
    hz_free(key);
    return rc;
}

static bool type_valid(uint32_t t) {
    return t < GGML_TYPE_COUNT && ggml_blck_size((enum ggml_type)t) > 0 && ggml_type_size((enum ggml_type)t) > 0;
}

int hz_llm_gguf_read_stream(FILE *f, uint64_t size, hz_llm_model_info_t *out) {
    memset(out, 0, sizeof(*out));
    out->pooling = -1;
    reader_t r = {f, 0, size, "magic"};
    header_t h = {0};
    h.file_type = h.ctx = h.embd = h.layer = h.head = h.head_kv = h.pooling = h.causal = h.alignment = h.vocab_size = h.tokens = -1;
    char magic[4];
    uint32_t version;
    int rc = rd(&r, magic, 4);
    if (rc) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        rc = hz_error_set(HZ_EPARSE, "not a GGUF file: the first 4 bytes are not \"GGUF\"");
        goto fail;
    }
    r.what = "version";
    if ((rc = rd_u32(&r, &version)) != 0) goto fail;
    if (version < 2 || version > 3) {
        rc = hz_error_set(HZ_EVERSION, "GGUF version %u is not supported (2 and 3 are)", version);
        goto fail;
    }
    uint64_t n_tensors, n_kv;
    r.what = "tensor count";
    if ((rc = rd_u64(&r, &n_tensors)) != 0) goto fail;
    r.what = "key/value count";
    if ((rc = rd_u64(&r, &n_kv)) != 0) goto fail;
    /* a key/value needs >= 12 bytes, a tensor entry >= 24: reject counts the file cannot hold */
    if (n_kv > size / 12 || n_tensors > size / 24) {
        rc = hz_error_set(HZ_EPARSE, "GGUF header claims %llu keys and %llu tensors, more than a %llu-byte file can hold",
                          (unsigned long long)n_kv, (unsigned long long)n_tensors, (unsigned long long)size);
        goto fail;
    }
    for (uint64_t i = 0; i < n_kv; i++)
        if ((rc = read_kv(&r, &h, i)) != 0) goto fail;

    uint64_t align = h.alignment > 0 ? (uint64_t)h.alignment : GGUF_DEFAULT_ALIGNMENT;
    if (align & (align - 1)) {
        rc = hz_error_set(HZ_EPARSE, "GGUF general.alignment %llu is not a power of two", (unsigned long long)align);
        goto fail;
    }
    uint64_t end = 0, params = 0, type_elems[GGML_TYPE_COUNT] = {0};
    char *tname = NULL;
    for (uint64_t i = 0; i < n_tensors; i++) {
        r.what = "tensor name";
        if ((rc = rd_str(&r, &tname, 1024)) != 0) goto fail;
        uint32_t nd, type;
        uint64_t ne = 1, offset, row;
        r.what = "tensor dimensions";
        if ((rc = rd_u32(&r, &nd)) != 0) goto tfail;
        if (nd > MAX_DIMS) {
            rc = hz_error_set(HZ_EPARSE, "GGUF tensor %llu (\"%s\"): %u dimensions (at most %d)", (unsigned long long)i,
                              tname ? tname : "?", nd, MAX_DIMS);
            goto tfail;
        }
        uint64_t d0 = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t dim;
            if ((rc = rd_u64(&r, &dim)) != 0) goto tfail;
            if (d == 0) d0 = dim;
            if (dim == 0 || (dim > INT64_MAX / ne)) {
                rc = hz_error_set(HZ_EPARSE, "GGUF tensor \"%s\": dimension %u is %llu (zero or overflowing)",
                                  tname ? tname : "?", d, (unsigned long long)dim);
                goto tfail;
            }
            ne *= dim;
        }
        r.what = "tensor type";
        if ((rc = rd_u32(&r, &type)) != 0) goto tfail;
        if (!type_valid(type)) {
            rc = hz_error_set(HZ_EPARSE, "GGUF tensor \"%s\": type %u is not a known ggml type", tname ? tname : "?", type);
            goto tfail;
        }
        uint64_t blk = (uint64_t)ggml_blck_size((enum ggml_type)type);
        if (d0 % blk) {
            rc = hz_error_set(HZ_EPARSE, "GGUF tensor \"%s\": row of %llu is not a multiple of the %s block (%llu)",
                              tname ? tname : "?", (unsigned long long)d0, ggml_type_name((enum ggml_type)type), (unsigned long long)blk);
            goto tfail;
        }
        r.what = "tensor offset";
        if ((rc = rd_u64(&r, &offset)) != 0) goto tfail;
        row = ne / blk;
        uint64_t ts = (uint64_t)ggml_type_size((enum ggml_type)type);
        if (row > UINT64_MAX / ts || offset % align || offset > UINT64_MAX - row * ts) {
            rc = hz_error_set(HZ_EPARSE, "GGUF tensor \"%s\": offset %llu is misaligned or its size overflows",
                              tname ? tname : "?", (unsigned long long)offset);
            goto tfail;
        }
        uint64_t tend = offset + row * ts;
        if (tend > end) end = tend;
        params += ne;
        if (nd >= 2) type_elems[type] += ne;
        hz_free(tname);
        tname = NULL;
        continue;
    tfail:
        hz_free(tname);
        goto fail;
    }
    uint64_t data_off = (r.pos + align - 1) / align * align;
    if (n_tensors && (data_off > size || end > size - data_off)) {
        rc = hz_error_set(HZ_EPARSE, "GGUF truncated: tensor data ends at byte %llu but the file has %llu bytes",
                          (unsigned long long)(data_off + end), (unsigned long long)size);
        goto fail;
    }

    out->gguf_version = version;
    out->n_tensors = n_tensors;
    out->n_kv = n_kv;
    out->n_params = params;
    out->file_size = size;
    out->data_size = end;
    out->arch = h.arch ? h.arch : hz_strdup("unknown");
    out->general_name = h.name;
    out->general_type = h.type;
    out->chat_template = h.tmpl;
    out->ctx_train = h.ctx > 0 && h.ctx <= UINT32_MAX ? (uint32_t)h.ctx : 0;
    out->n_embd = h.embd > 0 && h.embd <= UINT32_MAX ? (uint32_t)h.embd : 0;
    out->n_layer = h.layer > 0 && h.layer <= UINT32_MAX ? (uint32_t)h.layer : 0;
    out->n_head = h.head > 0 && h.head <= UINT32_MAX ? (uint32_t)h.head : 0;
    out->n_head_kv = h.head_kv > 0 && h.head_kv <= UINT32_MAX ? (uint32_t)h.head_kv : out->n_head;
    out->n_vocab = h.tokens > 0 && h.tokens <= UINT32_MAX ? (uint32_t)h.tokens
                 : h.vocab_size > 0 && h.vocab_size <= UINT32_MAX ? (uint32_t)h.vocab_size : 0;
    out->pooling = h.pooling >= 0 && h.pooling < 16 ? (int32_t)h.pooling : -1;
    out->causal = h.causal != 0;
    out->adapter = h.type && strcmp(h.type, "adapter") == 0;
    out->embedding = !out->adapter && (h.causal == 0 || out->pooling > 0);
    /* the quantisation people mean is the type of most weight-matrix elements */
    if (h.file_type >= 0 && h.file_type < 1024) {
        const char *ft = llama_ftype_name((enum llama_ftype)h.file_type);
        if (hz_str_starts_with(ft, "MOSTLY ")) ft += 7;
        if (hz_str_starts_with(ft, "all ")) ft += 4;
        out->quant = hz_strdup(ft);
    }
    if (!out->quant || strcmp(out->quant, "unknown") == 0 || hz_str_starts_with(out->quant, "unknown")) {
        hz_free(out->quant);
        int best = -1;
        for (int t = 0; t < GGML_TYPE_COUNT; t++)
            if (type_elems[t] && (best < 0 || type_elems[t] > type_elems[best])) best = t;
        out->quant = hz_strdup(best >= 0 ? ggml_type_name((enum ggml_type)best) : "none");
        for (char *c = out->quant; *c; c++) *c = (char)toupper((unsigned char)*c);
    }
    out->mem_recommended = hz_llm_model_info_memory(out, out->ctx_train && out->ctx_train < 4096 ? out->ctx_train : 4096);
    return 0;
fail:
    hz_free(h.arch); hz_free(h.name); hz_free(h.type); hz_free(h.tmpl);
    memset(out, 0, sizeof(*out));
    return rc;
}

int hz_llm_gguf_read(const char *path, hz_llm_model_info_t *out) {
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) return hz_error_errno(errno == ENOENT ? HZ_ENOTFOUND : HZ_EIO, errno, "%s", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hz_error_set(HZ_EIO, "%s: not a regular file", path);
    }
    /* the header is read in small pieces: a big buffer turns thousands of freads into a few */
    char *iobuf = hz_malloc(1 << 16);
    setvbuf(f, iobuf, _IOFBF, 1 << 16);
    int rc = hz_llm_gguf_read_stream(f, (uint64_t)st.st_size, out);
    fclose(f);
    hz_free(iobuf);
    if (rc) return hz_error_wrap(rc, "%s", path);
    out->path = hz_strdup(path);
    return 0;
}

void hz_llm_model_info_free(hz_llm_model_info_t *m) {
    if (!m) return;
    hz_free(m->name); hz_free(m->path); hz_free(m->source); hz_free(m->arch);
    hz_free(m->general_name); hz_free(m->general_type); hz_free(m->quant); hz_free(m->chat_template);
    memset(m, 0, sizeof(*m));
}

uint64_t hz_llm_model_info_memory(const hz_llm_model_info_t *m, uint32_t n_ctx) {
    /* K and V in F16 for every layer and position; encoders keep no cache. The compute buffer
     * is dominated by the logits of one batch (n_vocab floats per output row) and activations;
     * 512 rows of logits plus 10% of the weights is what llama.cpp reports in practice. */
    uint64_t kv = 0;
    if (m->causal && m->n_head && m->n_layer) {
        uint64_t head_dim = m->n_embd / m->n_head;
        kv = (uint64_t)m->n_layer * n_ctx * 2 * head_dim * m->n_head_kv * 2;
    }
    uint64_t compute = (uint64_t)m->n_vocab * 4 * 512 / 8 + m->data_size / 10 + (16u << 20);
    return m->data_size + kv + compute;
}

json_object *hz_llm_model_info_json(const hz_llm_model_info_t *m) {
    json_object *o = json_object_new_object();
#define S(k, v) json_object_object_add(o, k, (v) ? json_object_new_string(v) : NULL)
#define I(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
    S("name", m->name);
    S("path", m->path);
    S("source", m->source);
    S("architecture", m->arch);
    S("general_name", m->general_name);
    S("type", m->adapter ? "adapter" : m->embedding ? "embedding" : "chat");
    I("parameters", m->n_params);
    S("quantization", m->quant);
    I("context_length", m->ctx_train);
    I("embedding_length", m->n_embd);
    I("layers", m->n_layer);
    I("heads", m->n_head);
    I("heads_kv", m->n_head_kv);
    I("vocab_size", m->n_vocab);
    I("file_size", m->file_size);
    I("memory_recommended", m->mem_recommended);
    json_object_object_add(o, "has_chat_template", json_object_new_boolean(m->chat_template != NULL));
    if (m->pooling >= 0) I("pooling_type", m->pooling);
    I("gguf_version", m->gguf_version);
    I("tensors", m->n_tensors);
#undef S
#undef I
    return o;
}
