/*
 * libFuzzer target: the gateway's SSE parser and the SSE stream translators behind it.
 *
 * Input layout: byte 0 is the number of cut points (mod 16), followed by that many bytes, each
 * the length of the next piece (mod 32); the rest is the event stream. The stream is fed in
 * those pieces, and again whole, and one byte at a time. Oracles:
 *  - the three feedings deliver the identical sequence of events (name and data) and end with
 *    the same result: chunk boundaries never matter;
 *  - every delivered data is NUL-terminated at its length and no longer than max_line, and a
 *    failure is HZ_ETOOBIG and nothing else;
 *  - every event also goes through the OpenAI, Anthropic and Gemini stream translators, as a
 *    provider's stream would: each chunk they emit must carry the call's id, created and model,
 *    a choices array and an object that serialises; an error must be a filled hz_gw_error_t with
 *    a 4xx/5xx status and a message; after a translator says the stream is complete it is not
 *    called again. The OpenAI translator's chunks also drive an Anthropic Messages event stream
 *    (hz_gw_msgstream_*), whose events must all be typed objects.
 */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 256

static void die(const char *what) {
    fprintf(stderr, "fuzz_gateway_sse: %s\n", what);
    abort();
}

typedef struct {
    const gw_wire_ops_t *ops;
    gw_stream_t *s;
    bool over;          /* completed or failed: no more events */
} tr_t;

typedef struct {
    hz_buf_t log;
    tr_t tr[3];
    hz_gw_msgstream_t *ms;
    bool translate;
} ctx_t;

static int check_chunk(json_object *c) {
    if (!json_object_is_type(c, json_type_object)) die("chunk is not an object");
    json_object *v = NULL;
    if (!json_object_object_get_ex(c, "id", &v) || strcmp(json_object_get_string(v), "chatcmpl-fuzz") != 0) die("chunk id not kept");
    if (!json_object_object_get_ex(c, "model", &v) || strcmp(json_object_get_string(v), "client/model") != 0) die("chunk model not kept");
    if (!json_object_object_get_ex(c, "created", &v) || json_object_get_int64(v) != 1700000000) die("chunk created not kept");
    if (!json_object_object_get_ex(c, "choices", &v) || !json_object_is_type(v, json_type_array)) die("chunk without choices");
    if (json_object_object_get_ex(c, "usage", NULL)) die("usage passed through in a chunk");
    size_t n = 0;
    hz_json_dump(c, &n);
    if (n == 0) die("chunk does not serialise");
    return 0;
}

static int emit_openai(json_object *c, void *ud) {
    ctx_t *x = ud;
    check_chunk(c);
    if (x->ms) {
        int rc = hz_gw_msgstream_chunk(x->ms, c);
        if (rc != 0 && rc != HZ_EPARSE) die("msgstream failed with an unexpected code");
        if (rc != 0) {
            hz_gw_msgstream_free(x->ms);
            x->ms = NULL;
        }
    }
    return 0;
}

static int emit_other(json_object *c, void *ud) {
    (void)ud;
    return check_chunk(c);
}

static int on_msg_event(const char *event, json_object *data, void *ud) {
    (void)ud;
    json_object *t = NULL;
    if (!json_object_object_get_ex(data, "type", &t) || strcmp(json_object_get_string(t), event) != 0)
        die("message event without its type");
    return 0;
}

static void translate(ctx_t *x, const char *event, const char *data, size_t len) {
    for (int i = 0; i < 3; i++) {
        tr_t *t = &x->tr[i];
        if (t->over) continue;
        hz_gw_error_t err;
        memset(&err, 0, sizeof err);
        int rc = t->ops->stream_event(t->s, event, data, len, NULL, i == 0 ? emit_openai : emit_other, x, &err);
        if (rc == 1) {
            t->over = true;
        } else if (rc < 0) {
            if (err.status < 400 || err.status > 599 || !err.message[0] || !err.type[0]) die("stream error without a filled error");
            t->over = true;
        } else if (rc != 0) {
            die("stream_event returned an undocumented value");
        }
    }
}

static int on_event(const char *event, const char *data, size_t len, void *ud) {
    ctx_t *x = ud;
    if (data[len] != '\0') die("data not NUL-terminated");
    if (len > MAX_LINE) die("event data above max_line delivered");
    hz_buf_printf(&x->log, "%zu:%s|%zu:", event ? strlen(event) : (size_t)0, event ? event : "", len);
    hz_buf_append(&x->log, data, len);
    hz_buf_putc(&x->log, '\n');
    if (x->translate) translate(x, event, data, len);
    return 0;
}

/* Feed text in pieces of the given lengths (the rest in one piece); returns the result and the
 * transcript in log (owned). */
static int run(const char *text, size_t len, const size_t *pieces, size_t npieces, bool translate_events, char **log) {
    ctx_t x;
    memset(&x, 0, sizeof x);
    hz_buf_puts(&x.log, "");
    x.translate = translate_events;
    if (translate_events) {
        const gw_wire_ops_t *ops[3] = {&gw_wire_openai, &gw_wire_anthropic, &gw_wire_gemini};
        for (int i = 0; i < 3; i++) {
            x.tr[i].ops = ops[i];
            x.tr[i].s = ops[i]->stream_new("chatcmpl-fuzz", 1700000000, "client/model");
        }
        x.ms = hz_gw_msgstream_new("client/model", on_msg_event, NULL);
    }
    hz_gw_sse_t *p = hz_gw_sse_new(MAX_LINE, on_event, &x);
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < npieces && rc == 0 && at < len; k++) {
        size_t n = pieces[k] < len - at ? pieces[k] : len - at;
        rc = hz_gw_sse_feed(p, text + at, n);
        at += n;
    }
    if (rc == 0 && at < len) rc = hz_gw_sse_feed(p, text + at, len - at);
    if (rc == 0) rc = hz_gw_sse_finish(p);
    if (rc != 0 && rc != HZ_ETOOBIG) die("SSE parser failed with an unexpected code");
    hz_gw_sse_free(p);
    if (translate_events) {
        for (int i = 0; i < 3; i++) {
            hz_gw_usage_t u;
            char finish[24];
            x.tr[i].ops->stream_result(x.tr[i].s, &u, finish);
            if (u.prompt_tokens < 0 || u.completion_tokens < 0 || u.cached_tokens < 0) die("negative usage");
            if (memchr(finish, '\0', sizeof finish) == NULL) die("finish reason not terminated");
            x.tr[i].ops->stream_free(x.tr[i].s);
        }
        if (x.ms && hz_gw_msgstream_end(x.ms, NULL, NULL) != 0) die("msgstream end failed");
        hz_gw_msgstream_free(x.ms);
    }
    *log = hz_buf_detach(&x.log, NULL);
    return rc;
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
    /* On HZ_ETOOBIG the events before the long line may differ only in how far the parser got
     * before seeing the line was too long, which cannot happen before the line: compare all. */
    if (strcmp(whole, split) != 0 || strcmp(whole, bytes) != 0) die("events depend on chunk boundaries");
    hz_free(whole);
    hz_free(split);
    hz_free(bytes);
    return 0;
}
