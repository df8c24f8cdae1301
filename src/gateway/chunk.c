/*
 * The OpenAI response shapes every target converges on: chat.completion.chunk objects, the
 * usage object, completion ids and the base64 float encoding of embeddings. Building them in one
 * place is what makes a stream look the same to a client whichever upstream produced it: the
 * id, created and model are chosen once per call by the caller and stamped on every chunk, and
 * usage is spelled the way the OpenAI SDKs read it (cached tokens only when there are some, as
 * OpenAI itself omits the details for models without prompt caching).
 */
#include "gateway/gw_internal.h"

#include <string.h>

static json_object *chunk_base(const char *id, int64_t created, const char *model) {
    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", json_object_new_string(id ? id : ""));
    json_object_object_add(c, "object", json_object_new_string("chat.completion.chunk"));
    json_object_object_add(c, "created", json_object_new_int64(created));
    json_object_object_add(c, "model", json_object_new_string(model ? model : ""));
    return c;
}

json_object *gw_chunk_new(const char *id, int64_t created, const char *model, json_object *delta,
                          const char *finish_reason) {
    json_object *c = chunk_base(id, created, model);
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "delta", delta ? delta : json_object_new_object());
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason",
                           finish_reason && *finish_reason ? json_object_new_string(finish_reason) : NULL);
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    json_object_object_add(c, "choices", choices);
    return c;
}

json_object *gw_chunk_usage(const char *id, int64_t created, const char *model, const hz_gw_usage_t *u) {
    json_object *c = chunk_base(id, created, model);
    json_object_object_add(c, "choices", json_object_new_array());
    hz_gw_usage_t zero = {0, 0, 0};
    json_object_object_add(c, "usage", gw_usage_json(u ? u : &zero));
    return c;
}

json_object *gw_usage_json(const hz_gw_usage_t *u) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "prompt_tokens", json_object_new_int64(u->prompt_tokens));
    json_object_object_add(o, "completion_tokens", json_object_new_int64(u->completion_tokens));
    json_object_object_add(o, "total_tokens", json_object_new_int64(u->prompt_tokens + u->completion_tokens));
    if (u->cached_tokens > 0) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "cached_tokens", json_object_new_int64(u->cached_tokens));
        json_object_object_add(o, "prompt_tokens_details", d);
    }
    return o;
}

char *gw_completion_id(const char *prefix) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (!prefix) prefix = "chatcmpl-";
    size_t plen = strlen(prefix);
    uint8_t rnd[24];
    hz_random_bytes(rnd, sizeof rnd);
    char *s = hz_malloc(plen + sizeof rnd + 1);
    memcpy(s, prefix, plen);
    /* 256 is a multiple of 64, so the low six bits of each byte are uniform. */
    for (size_t i = 0; i < sizeof rnd; i++) s[plen + i] = alphabet[rnd[i] & 63];
    s[plen + sizeof rnd] = '\0';
    return s;
}

char *gw_base64_floats(const float *v, size_t n) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t nbytes = n * 4;
    char *out = hz_malloc((nbytes + 2) / 3 * 4 + 1);
    size_t o = 0;
    uint8_t tri[3];
    size_t k = 0;
    for (size_t i = 0; i < nbytes; i++) {
        /* OpenAI's base64 embeddings are little-endian float32 whatever the host order. */
        uint32_t bits;
        memcpy(&bits, &v[i / 4], 4);
        tri[k++] = (uint8_t)(bits >> (8 * (i % 4)));
        if (k == 3) {
            out[o++] = b64[tri[0] >> 2];
            out[o++] = b64[((tri[0] & 3) << 4) | (tri[1] >> 4)];
            out[o++] = b64[((tri[1] & 15) << 2) | (tri[2] >> 6)];
            out[o++] = b64[tri[2] & 63];
            k = 0;
        }
    }
    if (k > 0) {
        if (k == 1) tri[1] = 0;
        out[o++] = b64[tri[0] >> 2];
        out[o++] = b64[((tri[0] & 3) << 4) | (tri[1] >> 4)];
        out[o++] = k == 2 ? b64[(tri[1] & 15) << 2] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}
