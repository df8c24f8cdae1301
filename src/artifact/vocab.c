/*
 * The closed vocabularies of HIP-0024 metadata, exactly as the reference implementation defines
 * them, and how they look in JSON. The reference serialises its Rust enums with serde's default
 * "externally tagged" representation, so a variant without data is a bare string ("Model",
 * "Apache2"), a variant with fields is an object with one key holding an object of the fields
 * ({"QuantizedModel":{"format":"GGUF","bits":4}}), and a variant wrapping one string is an object
 * with one key holding that string ({"Custom":"my-type"}). One table-driven checker validates all
 * of them; anything not in a table is rejected, with the JSON path of the offending value.
 *
 * The type spec the CLI takes ("Delta:base_model=llama-3-8b,method=LoRA,rank=64,alpha=32") is a
 * flat spelling of the same values; it is turned into the JSON form and then validated by the
 * same checker, so there is one definition of what is valid.
 */
#include "artifact/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { P_STR, P_OPT_STR, P_U8, P_U32, P_USIZE, P_F32, P_ENUM, P_STR_ARRAY } ptype_t;
typedef enum { V_UNIT, V_STRUCT, V_NEWTYPE } vkind_t;

struct venum;

typedef struct {
    const char *name;
    ptype_t type;
    const struct venum *sub; /* P_ENUM */
} param_t;

typedef struct {
    const char *name;
    vkind_t kind;
    param_t params[4];
} variant_t;

typedef struct venum {
    const char *what;
    const variant_t *v;
    size_t n;
} venum_t;

#define VENUM(var, what) static const venum_t var = {what, var##_v, sizeof(var##_v) / sizeof(var##_v[0])}

static const variant_t quant_v[] = {
    {"GGUF", V_UNIT, {{0}}}, {"AWQ", V_UNIT, {{0}}}, {"GPTQ", V_UNIT, {{0}}}, {"ExL2", V_UNIT, {{0}}},
    {"BnB", V_UNIT, {{0}}},  {"MLX", V_UNIT, {{0}}}, {"Custom", V_NEWTYPE, {{0}}},
};
VENUM(quant, "quantization format");

static const variant_t method_v[] = {
    {"LoRA", V_STRUCT, {{"rank", P_USIZE, 0}, {"alpha", P_F32, 0}}},
    {"QLoRA", V_STRUCT, {{"rank", P_USIZE, 0}, {"alpha", P_F32, 0}, {"bits", P_U8, 0}}},
    {"FullDiff", V_UNIT, {{0}}},
    {"Adapter", V_UNIT, {{0}}},
    {"Prefix", V_STRUCT, {{"num_tokens", P_USIZE, 0}}},
    {"Custom", V_NEWTYPE, {{0}}},
};
VENUM(method, "delta method");

static const variant_t task_v[] = {
    {"TextGeneration", V_UNIT, {{0}}}, {"Conversation", V_UNIT, {{0}}},      {"Classification", V_UNIT, {{0}}},
    {"QuestionAnswering", V_UNIT, {{0}}}, {"Summarization", V_UNIT, {{0}}},  {"Translation", V_UNIT, {{0}}},
    {"CodeGeneration", V_UNIT, {{0}}}, {"Embedding", V_UNIT, {{0}}},         {"Custom", V_NEWTYPE, {{0}}},
};
VENUM(task, "dataset task");

static const variant_t type_v[] = {
    {"Model", V_UNIT, {{0}}},
    {"Weights", V_UNIT, {{0}}},
    {"QuantizedModel", V_STRUCT, {{"format", P_ENUM, &quant}, {"bits", P_U8, 0}}},
    {"Delta", V_STRUCT, {{"base_model", P_STR, 0}, {"method", P_ENUM, &method}}},
    {"Dataset", V_STRUCT, {{"task", P_ENUM, &task}, {"split", P_OPT_STR, 0}}},
    {"Embeddings", V_STRUCT, {{"model", P_STR, 0}, {"dimensions", P_USIZE, 0}}},
    {"VectorStore", V_STRUCT, {{"index_type", P_STR, 0}, {"dimensions", P_USIZE, 0}}},
    {"AgentState", V_STRUCT, {{"agent_type", P_STR, 0}}},
    {"Tokenizer", V_UNIT, {{0}}},
    {"Config", V_UNIT, {{0}}},
    {"Checkpoint", V_STRUCT, {{"epoch", P_USIZE, 0}, {"step", P_USIZE, 0}}},
    {"Custom", V_NEWTYPE, {{0}}},
};
VENUM(type, "artifact type");

static const variant_t license_v[] = {
    {"MIT", V_UNIT, {{0}}},     {"Apache2", V_UNIT, {{0}}}, {"GPL3", V_UNIT, {{0}}},    {"Llama2", V_UNIT, {{0}}},
    {"Llama3", V_UNIT, {{0}}},  {"Qwen", V_UNIT, {{0}}},    {"Gemma", V_UNIT, {{0}}},   {"CcBy4", V_UNIT, {{0}}},
    {"CcByNc4", V_UNIT, {{0}}}, {"CcBySa4", V_UNIT, {{0}}}, {"Custom", V_NEWTYPE, {{0}}}, {"Proprietary", V_UNIT, {{0}}},
};
VENUM(license, "licence");

static const variant_t network_v[] = {
    {"HanzoMainnet", V_UNIT, {{0}}}, {"HanzoTestnet", V_UNIT, {{0}}}, {"ZooMainnet", V_UNIT, {{0}}},
    {"ZooTestnet", V_UNIT, {{0}}},   {"All", V_UNIT, {{0}}},
};
VENUM(network, "network");

static const variant_t location_v[] = {
    {"Local", V_NEWTYPE, {{0}}},
    {"HuggingFace", V_STRUCT, {{"repo_id", P_STR, 0}, {"revision", P_OPT_STR, 0}}},
    {"Swarm", V_STRUCT, {{"info_hash", P_STR, 0}, {"peers", P_STR_ARRAY, 0}}},
    {"Ipfs", V_NEWTYPE, {{0}}},
    {"Http", V_NEWTYPE, {{0}}},
    {"NodeStorage", V_STRUCT, {{"peer_id", P_STR, 0}, {"path", P_STR, 0}}},
};
VENUM(location, "storage location");

static int bad(const char *field, const char *fmt, const char *detail) {
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, detail);
    return ai_fail(HZ_AI_ERR_METADATA, HZ_EINVAL, "%s: %s", field, msg);
}

static void names_of(const venum_t *e, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->n && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", e->v[i].name);
}

static int check_enum(const venum_t *e, json_object *v, const char *field);

static int check_param(const param_t *p, json_object *v, const char *field) {
    switch (p->type) {
    case P_STR:
        if (!json_object_is_type(v, json_type_string)) return bad(field, "expected a string%s", "");
        return 0;
    case P_OPT_STR:
        if (v && !json_object_is_type(v, json_type_string)) return bad(field, "expected a string or null%s", "");
        return 0;
    case P_U8:
        if (!ai_json_uint(v, 255, NULL)) return bad(field, "expected an integer 0..255%s", "");
        return 0;
    case P_U32:
        if (!ai_json_uint(v, UINT32_MAX, NULL)) return bad(field, "expected an integer 0..4294967295%s", "");
        return 0;
    case P_USIZE:
        if (!ai_json_uint(v, UINT64_MAX, NULL)) return bad(field, "expected a non-negative integer%s", "");
        return 0;
    case P_F32: {
        if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
            return bad(field, "expected a number%s", "");
        double d = json_object_get_double(v);
        if (!isfinite(d) || fabs(d) > 3.4028234663852886e38) return bad(field, "number out of the f32 range%s", "");
        return 0;
    }
    case P_ENUM:
        return check_enum(p->sub, v, field);
    case P_STR_ARRAY:
        if (!json_object_is_type(v, json_type_array)) return bad(field, "expected an array of strings%s", "");
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return bad(field, "expected an array of strings%s", "");
        return 0;
    }
    return 0;
}

static const variant_t *find_variant(const venum_t *e, const char *name) {
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].name, name) == 0) return &e->v[i];
    return NULL;
}

static int unknown_variant(const venum_t *e, const char *field, const char *name) {
    char list[512], msg[800];
    names_of(e, list, sizeof(list));
    snprintf(msg, sizeof(msg), "unknown %s \"%.64s\" (expected one of %s)", e->what, name, list);
    return ai_fail(HZ_AI_ERR_METADATA, HZ_EINVAL, "%s: %s", field, msg);
}

static int check_enum(const venum_t *e, json_object *v, const char *field) {
    if (v && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        const variant_t *var = find_variant(e, s);
        if (!var) return unknown_variant(e, field, s);
        if (var->kind != V_UNIT) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%s \"%s\" needs its fields: write {\"%s\": ...}", e->what, s, s);
            return ai_fail(HZ_AI_ERR_METADATA, HZ_EINVAL, "%s: %s", field, msg);
        }
        return 0;
    }
    if (!v || !json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1) {
        char msg[160];
        snprintf(msg, sizeof(msg), "expected a %s: a string or an object with one key", e->what);
        return ai_fail(HZ_AI_ERR_METADATA, HZ_EINVAL, "%s: %s", field, msg);
    }
    json_object_object_foreach(v, key, val) {
        const variant_t *var = find_variant(e, key);
        if (!var) return unknown_variant(e, field, key);
        char sub[256];
        snprintf(sub, sizeof(sub), "%s.%s", field, key);
        if (var->kind == V_UNIT) return bad(sub, "a unit %s is written as a bare string", e->what);
        if (var->kind == V_NEWTYPE) {
            if (!json_object_is_type(val, json_type_string)) return bad(sub, "expected a string%s", "");
            return 0;
        }
        if (!json_object_is_type(val, json_type_object)) return bad(sub, "expected an object%s", "");
        json_object_object_foreach(val, pk, unused) {
            (void)unused;
            bool known = false;
            for (int i = 0; i < 4 && var->params[i].name; i++) known |= strcmp(var->params[i].name, pk) == 0;
            if (!known) {
                char f2[320];
                snprintf(f2, sizeof(f2), "%s.%s", sub, pk);
                return bad(f2, "unknown field%s", "");
            }
        }
        for (int i = 0; i < 4 && var->params[i].name; i++) {
            const param_t *p = &var->params[i];
            json_object *pv = NULL;
            bool present = json_object_object_get_ex(val, p->name, &pv);
            char f2[320];
            snprintf(f2, sizeof(f2), "%s.%s", sub, p->name);
            if (!present && p->type != P_OPT_STR) return bad(f2, "missing%s", "");
            int rc = check_param(p, pv, f2);
            if (rc) return rc;
        }
    }
    return 0;
}

int ai_type_validate(json_object *t, const char *field) { return check_enum(&type, t, field); }
int ai_license_validate(json_object *l, const char *field) { return check_enum(&license, l, field); }
int ai_network_validate(json_object *n, const char *field) { return check_enum(&network, n, field); }
int ai_location_validate(json_object *loc, const char *field) { return check_enum(&location, loc, field); }

static const char *variant_name(json_object *v) {
    if (!v) return NULL;
    if (json_object_is_type(v, json_type_string)) return json_object_get_string(v);
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val) { (void)val; return k; }
    }
    return NULL;
}

const char *ai_type_name(json_object *t) { return variant_name(t); }

const char *ai_license_name(json_object *l) {
    json_object *c;
    if (l && json_object_is_type(l, json_type_object) && json_object_object_get_ex(l, "Custom", &c))
        return json_object_get_string(c);
    return variant_name(l);
}

const char *hz_ai_type_at(size_t i) { return i < type.n ? type.v[i].name : NULL; }
const char *hz_ai_license_at(size_t i) { return i < license.n ? license.v[i].name : NULL; }

/* ---- the flat spec ----------------------------------------------------------------------- */

typedef struct {
    char *key;
    char *val;
    bool used;
} kv_t;

/* "k=v,k=v" -> pairs (values may not contain ','). */
static int split_kv(const char *s, kv_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!*s) return 0;
    char *copy = hz_strdup(s);
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    kv_t *kv = hz_calloc(cap, sizeof(kv_t));
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            for (size_t i = 0; i < k; i++) { hz_free(kv[i].key); hz_free(kv[i].val); }
            hz_free(kv);
            int rc = hz_error_set(HZ_EINVAL, "type parameter \"%s\" is not key=value", tok);
            hz_free(copy);
            return rc;
        }
        kv[k].key = hz_strndup(tok, (size_t)(eq - tok));
        kv[k].val = hz_strdup(eq + 1);
        k++;
    }
    hz_free(copy);
    *out = kv;
    *n = k;
    return 0;
}

static kv_t *take(kv_t *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0 && !kv[i].used) { kv[i].used = true; return &kv[i]; }
    return NULL;
}

/* Value of one parameter from its text. */
static int param_value(const param_t *p, const char *text, kv_t *kv, size_t n, const char *ctx, json_object **out);

/* An enum value: "Name" (unit), "Custom:text", or a struct variant whose fields come from kv. */
static int enum_value(const venum_t *e, const char *text, kv_t *kv, size_t n, const char *ctx, json_object **out) {
    const char *colon = strchr(text, ':');
    char *name = colon ? hz_strndup(text, (size_t)(colon - text)) : hz_strdup(text);
    const variant_t *var = find_variant(e, name);
    int rc = 0;
    if (!var) {
        char list[512];
        names_of(e, list, sizeof(list));
        rc = hz_error_set(HZ_EINVAL, "%s: unknown %s \"%s\" (expected one of %s)", ctx, e->what, name, list);
    } else if (var->kind == V_NEWTYPE) {
        if (!colon || !colon[1]) rc = hz_error_set(HZ_EINVAL, "%s: write %s:<text>", ctx, name);
        else {
            *out = json_object_new_object();
            json_object_object_add(*out, name, json_object_new_string(colon + 1));
        }
    } else if (colon) {
        rc = hz_error_set(HZ_EINVAL, "%s: %s \"%s\" takes no \":\" suffix", ctx, e->what, name);
    } else if (var->kind == V_UNIT) {
        *out = json_object_new_string(name);
    } else {
        json_object *fields = json_object_new_object();
        for (int i = 0; i < 4 && var->params[i].name && !rc; i++) {
            const param_t *p = &var->params[i];
            kv_t *x = p->type == P_ENUM ? NULL : take(kv, n, p->name);
            json_object *v = NULL;
            if (p->type == P_ENUM) {
                x = take(kv, n, p->name);
                if (!x) { rc = hz_error_set(HZ_EINVAL, "%s: %s needs %s=", ctx, name, p->name); break; }
                rc = enum_value(p->sub, x->val, kv, n, ctx, &v);
            } else if (!x) {
                if (p->type == P_OPT_STR) v = NULL;
                else { rc = hz_error_set(HZ_EINVAL, "%s: %s needs %s=", ctx, name, p->name); break; }
            } else {
                rc = param_value(p, x->val, kv, n, ctx, &v);
            }
            if (!rc) json_object_object_add(fields, p->name, v);
        }
        if (rc) json_object_put(fields);
        else {
            *out = json_object_new_object();
            json_object_object_add(*out, name, fields);
        }
    }
    hz_free(name);
    return rc;
}

static int param_value(const param_t *p, const char *text, kv_t *kv, size_t n, const char *ctx, json_object **out) {
    char *end = NULL;
    errno = 0;
    switch (p->type) {
    case P_STR:
    case P_OPT_STR:
        *out = json_object_new_string(text);
        return 0;
    case P_U8:
    case P_U32:
    case P_USIZE: {
        if (!*text || *text == '-') break;
        unsigned long long v = strtoull(text, &end, 10);
        uint64_t max = p->type == P_U8 ? 255 : p->type == P_U32 ? UINT32_MAX : UINT64_MAX;
        if (errno || *end || v > max) break;
        *out = json_object_new_uint64(v);
        return 0;
    }
    case P_F32: {
        double d = strtod(text, &end);
        if (errno || !*text || *end || !isfinite(d)) break;
        *out = json_object_new_double(d);
        return 0;
    }
    case P_ENUM:
        return enum_value(p->sub, text, kv, n, ctx, out);
    case P_STR_ARRAY:
        break;
    }
    return hz_error_set(HZ_EINVAL, "%s: bad value \"%s\" for %s", ctx, text, p->name);
}

int hz_ai_type_parse(const char *spec, json_object **out) {
    *out = NULL;
    if (!spec || !*spec) return hz_error_set(HZ_EINVAL, "empty artifact type");
    size_t slen = strlen(spec);
    if (hz_utf8_valid_prefix(spec, slen) != slen)
        return hz_error_set(HZ_EINVAL, "artifact type: invalid UTF-8 at byte %zu", hz_utf8_valid_prefix(spec, slen));
    json_object *v = NULL;
    int rc;
    if (spec[0] == '{' || spec[0] == '"') {
        if ((rc = hz_json_parse(spec, strlen(spec), &v)) != 0) return hz_error_wrap(rc, "artifact type");
    } else if (hz_str_starts_with(spec, "Custom:")) {
        if (!spec[7]) return hz_error_set(HZ_EINVAL, "artifact type Custom needs a name: Custom:<name>");
        v = json_object_new_object();
        json_object_object_add(v, "Custom", json_object_new_string(spec + 7));
    } else {
        const char *colon = strchr(spec, ':');
        char *name = colon ? hz_strndup(spec, (size_t)(colon - spec)) : hz_strdup(spec);
        kv_t *kv;
        size_t n;
        if ((rc = split_kv(colon ? colon + 1 : "", &kv, &n)) != 0) { hz_free(name); return rc; }
        rc = enum_value(&type, name, kv, n, "artifact type", &v);
        for (size_t i = 0; i < n && !rc; i++)
            if (!kv[i].used) rc = hz_error_set(HZ_EINVAL, "artifact type %s: unknown parameter \"%s\"", name, kv[i].key);
        for (size_t i = 0; i < n; i++) { hz_free(kv[i].key); hz_free(kv[i].val); }
        hz_free(kv);
        hz_free(name);
        if (rc) { json_object_put(v); return rc; }
    }
    if ((rc = ai_type_validate(v, "artifact_type")) != 0) { json_object_put(v); return rc; }
    *out = v;
    return 0;
}

int ai_license_parse(const char *spec, json_object **out) {
    *out = NULL;
    if (hz_utf8_valid_prefix(spec, strlen(spec)) != strlen(spec)) return hz_error_set(HZ_EINVAL, "license: invalid UTF-8");
    json_object *v;
    if (hz_str_starts_with(spec, "Custom:")) {
        v = json_object_new_object();
        json_object_object_add(v, "Custom", json_object_new_string(spec + 7));
    } else {
        v = json_object_new_string(spec);
    }
    int rc = ai_license_validate(v, "license");
    if (rc) { json_object_put(v); return rc; }
    *out = v;
    return 0;
}
