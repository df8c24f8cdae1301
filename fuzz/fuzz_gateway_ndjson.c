/*
 * libFuzzer target: the gateway's NDJSON parser, the Ollama stream translator behind it, and
 * every wire's parsers for whole upstream bodies.
 *
 * Input layout as in fuzz_gateway_sse: byte 0 the number of cut points (mod 16), then that many
 * piece lengths (mod 32), then the stream. Oracles:
 *  - fed in those pieces, whole, and byte by byte, the parser delivers the identical sequence
 *    of values and ends with the same result; a failure is HZ_EPARSE or HZ_ETOOBIG only, and an
 *    HZ_EPARSE message names the line;
 *  - each value also goes through the Ollama stream translator: emitted chunks carry the call's
 *    id, created and model and a choices array; errors come back as a filled hz_gw_error_t;
 *  - the whole input is also handed to each wire's chat_response, error_from, embed_response
 *    and models_response as an upstream body: success means a well-formed object (a
 *    chat.completion with the requested model and usage), failure a filled 4xx/5xx error and
 *    no output.
 */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 512

static void die(const char *what) {
    fprintf(stderr, "fuzz_gateway_ndjson: %s\n", what);
    abort();
}

typedef struct {
    hz_buf_t log;
    gw_stream_t *s;
    bool over;
} ctx_t;

static int emit(json_object *c, void *ud) {
    (void)ud;
    json_object *v = NULL;
    if (!json_object_is_type(c, json_type_object)) die("chunk is not an object");
    if (!json_object_object_get_ex(c, "id", &v) || strcmp(json_object_get_string(v), "chatcmpl-fuzz") != 0) die("chunk id not kept");
    if (!json_object_object_get_ex(c, "model", &v) || strcmp(json_object_get_string(v), "client/model") != 0) die("chunk model not kept");
    if (!json_object_object_get_ex(c, "created", &v) || json_object_get_int64(v) != 1700000000) die("chunk created not kept");
    if (!json_object_object_get_ex(c, "choices", &v) || json_object_array_length(v) != 1) die("chunk without one choice");
    return 0;
}

static void check_error(const hz_gw_error_t *err) {
    if (err->status < 400 || err->status > 599 || !err->message[0] || !err->type[0]) die("error not filled");
}

static int on_value(json_object *obj, void *ud) {
    ctx_t *x = ud;
    hz_buf_puts(&x->log, obj ? hz_json_dump(obj, NULL) : "null");
    hz_buf_putc(&x->log, '\n');
    if (x->s && !x->over) {
        hz_gw_error_t err;
        memset(&err, 0, sizeof err);
        int rc = gw_wire_ollama.stream_event(x->s, NULL, NULL, 0, obj, emit, x, &err);
        if (rc < 0) check_error(&err);
        else if (rc > 1) die("stream_event returned an undocumented value");
        if (rc != 0) x->over = true;
    }
    return 0;
}

static int run(const char *text, size_t len, const size_t *pieces, size_t npieces, bool translate, char **log) {
    ctx_t x;
    memset(&x, 0, sizeof x);
    hz_buf_puts(&x.log, "");
    if (translate) x.s = gw_wire_ollama.stream_new("chatcmpl-fuzz", 1700000000, "client/model");
    hz_gw_ndjson_t *p = hz_gw_ndjson_new(MAX_LINE, on_value, &x);
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < npieces && rc == 0 && at < len; k++) {
        size_t n = pieces[k] < len - at ? pieces[k] : len - at;
        rc = hz_gw_ndjson_feed(p, text + at, n);
        at += n;
    }
    if (rc == 0 && at < len) rc = hz_gw_ndjson_feed(p, text + at, len - at);
    if (rc == 0) rc = hz_gw_ndjson_finish(p);
    if (rc != 0 && rc != HZ_EPARSE && rc != HZ_ETOOBIG) die("NDJSON parser failed with an unexpected code");
    if (rc == HZ_EPARSE && !strstr(hz_error_last(), "NDJSON line ")) die("parse error does not name the line");
    hz_gw_ndjson_free(p);
    if (x.s) {
        hz_gw_usage_t u;
        char finish[24];
        gw_wire_ollama.stream_result(x.s, &u, finish);
        if (u.prompt_tokens < 0 || u.completion_tokens < 0) die("negative usage");
        gw_wire_ollama.stream_free(x.s);
    }
    *log = hz_buf_detach(&x.log, NULL);
    return rc;
}

static void bodies(const char *text, size_t len) {
    const gw_wire_ops_t *ops[4] = {&gw_wire_openai, &gw_wire_anthropic, &gw_wire_gemini, &gw_wire_ollama};
    for (int i = 0; i < 4; i++) {
        const gw_wire_ops_t *w = ops[i];
        hz_gw_error_t err;
        json_object *out = NULL;
        memset(&err, 0, sizeof err);
        if (w->chat_response(text, len, "client/model", &out, &err) == 0) {
            json_object *v = NULL;
            if (!json_object_is_type(out, json_type_object)) die("completion is not an object");
            if (!json_object_object_get_ex(out, "model", &v) || strcmp(json_object_get_string(v), "client/model") != 0)
                die("completion model not set");
            if (!json_object_object_get_ex(out, "usage", &v) || !json_object_is_type(v, json_type_object)) die("completion without usage");
            if (!json_object_object_get_ex(out, "choices", &v) || !json_object_is_type(v, json_type_array)) die("completion without choices");
            json_object_put(out);
        } else {
            if (out) die("failed chat_response left output");
            check_error(&err);
        }
        memset(&err, 0, sizeof err);
        w->error_from(400 + (int)(len % 200), text, len, &err);
        check_error(&err);
        if (w->embed_response) {
            hz_gw_usage_t u;
            out = NULL;
            memset(&err, 0, sizeof err);
            if (w->embed_response(text, len, "client/model", &out, &u, &err) == 0) {
                if (!json_object_is_type(out, json_type_object)) die("embedding list is not an object");
                json_object_put(out);
            } else {
                if (out) die("failed embed_response left output");
                check_error(&err);
            }
        }
        out = NULL;
        memset(&err, 0, sizeof err);
        if (w->models_response(text, len, &out, &err) == 0) {
            if (!json_object_is_type(out, json_type_array)) die("model ids are not an array");
            json_object_put(out);
        } else {
            if (out) die("failed models_response left output");
            check_error(&err);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t ncuts = data[0] % 16;
    if (size < 1 + ncuts) return 0;
    size_t pieces[16];
    for (size_t i = 0; i < ncuts; i++) pieces[i] = data[1 + i] % 32;
    const char *text = (const char *)data + 1 + ncuts;
    size_t len = size - 1 - ncuts;

    char *whole = NULL, *split = NULL, *bytes = NULL;
    int rc_whole = run(text, len, NULL, 0, true, &whole);
    int rc_split = run(text, len, pieces, ncuts, false, &split);
    size_t *ones = malloc((len + 1) * sizeof *ones);
    if (!ones) return 0;
    for (size_t i = 0; i < len; i++) ones[i] = 1;
    int rc_bytes = run(text, len, ones, len, false, &bytes);
    free(ones);
    if (rc_whole != rc_split || rc_whole != rc_bytes) die("result depends on chunk boundaries");
    if (strcmp(whole, split) != 0 || strcmp(whole, bytes) != 0) die("values depend on chunk boundaries");
    hz_free(whole);
    hz_free(split);
    hz_free(bytes);
    bodies(text, len);
    return 0;
}
