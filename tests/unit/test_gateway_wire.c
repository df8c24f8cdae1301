/*
 * Unit tests for the gateway's wires (src/gateway/wire_*.c) and the shapes they share (error.c,
 * types.c, chunk.c, http_req.c). Requests are checked field by field by comparing the whole
 * upstream body with the JSON the provider's documentation says it takes, so a field that goes
 * missing or appears unasked fails the test. Responses and streams are the recorded shapes
 * from each provider's documentation; every stream is replayed through the real SSE or NDJSON
 * parser fed whole, split at every point and byte by byte, and must give the same chunks each
 * time. Errors cover each provider's error body, mid-stream error events and malformed data
 * (which must come back as a 502 "upstream_error" naming what was wrong, never a crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw_internal.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static json_object *J(const char *s) {
    json_object *o = NULL;
    if (hz_json_parse(s, strlen(s), &o) != 0) fail_msg("bad JSON in test: %s: %s", hz_error_last(), s);
    return o;
}

static void check_json(json_object *got, const char *expect, const char *file, int line) {
    json_object *e = J(expect);
    if (!json_object_equal(got, e)) {
        print_error("%s:%d: JSON differs\n   got: %s\n", file, line, got ? hz_json_dump(got, NULL) : "NULL");
        print_error("expect: %s\n", hz_json_dump(e, NULL));
        json_object_put(e);
        fail();
    }
    json_object_put(e);
}
#define assert_json(got, expect) check_json((got), (expect), __FILE__, __LINE__)

static gw_provider_t provider(hz_gw_wire_t wire, const char *base, const char *key) {
    gw_provider_t p;
    memset(&p, 0, sizeof p);
    p.id = (char *)"p";
    p.type = (char *)hz_gw_wire_name(wire);
    p.wire = wire;
    p.base_url = (char *)base;
    p.api_key = (char *)key;
    return p;
}

static bool has_header(const gw_http_req_t *r, const char *line) {
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i], line) == 0) return true;
    }
    return false;
}

static bool has_header_prefix(const gw_http_req_t *r, const char *prefix) {
    for (size_t i = 0; i < r->n_headers; i++) {
        if (hz_str_starts_with(r->headers[i], prefix)) return true;
    }
    return false;
}

/* Build the upstream request for req and return its parsed body (owned). */
static json_object *build(const gw_wire_ops_t *ops, const gw_provider_t *p, const char *req, bool stream,
                          gw_http_req_t *r) {
    json_object *o = J(req);
    hz_gw_error_t err;
    int rc = ops->chat_request(p, o, stream, r, &err);
    if (rc != 0) fail_msg("chat_request failed: %s", err.message);
    json_object_put(o);
    return J(r->body.data);
}

/* chat_request must fail with a 400 naming param. */
static void build_fails(const gw_wire_ops_t *ops, const gw_provider_t *p, const char *req, const char *param) {
    json_object *o = J(req);
    hz_gw_error_t err;
    gw_http_req_t r;
    memset(&r, 0, sizeof r);
    int rc = ops->chat_request(p, o, false, &r, &err);
    json_object_put(o);
    if (rc == 0) {
        gw_http_req_free(&r);
        fail_msg("chat_request accepted %s", req);
    }
    assert_int_equal(rc, HZ_EINVAL);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    if (strcmp(err.param, param) != 0) fail_msg("param \"%s\", expected \"%s\" (%s)", err.param, param, err.message);
    assert_false(err.retryable);
}

/* Ids the gateway makes up (prefix + 24 random characters) masked, so runs compare. */
static void mask_ids(json_object *o) {
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) mask_ids(json_object_array_get_idx(o, i));
        return;
    }
    if (!json_object_is_type(o, json_type_object)) return;
    json_object_object_foreach(o, k, v) {
        if (strcmp(k, "id") == 0 && json_object_is_type(v, json_type_string)) {
            const char *s = json_object_get_string(v);
            if ((hz_str_starts_with(s, "call_") && strlen(s) == 29) || (hz_str_starts_with(s, "chatcmpl-") && strlen(s) == 33))
                json_object_object_add(o, k, json_object_new_string(hz_str_starts_with(s, "call_") ? "call_GEN" : "chatcmpl-GEN"));
        } else if (strcmp(k, "created") == 0 && json_object_is_type(v, json_type_int) && json_object_get_int64(v) != 1700000000) {
            json_object_object_add(o, k, json_object_new_int(0));
        } else {
            mask_ids(v);
        }
    }
}

/* ---- stream runner ---------------------------------------------------------------------- */

typedef struct {
    const gw_wire_ops_t *ops;
    gw_stream_t *s;
    json_object *chunks;
    hz_gw_error_t err;
    int rc;                 /* last stream_event result */
    int stop_emit_after;    /* emit returns 1 after this many chunks; 0 never */
} run_t;

static int run_emit(json_object *chunk, void *ud) {
    run_t *r = ud;
    json_object *copy = NULL;
    assert_int_equal(json_object_deep_copy(chunk, &copy, NULL), 0);
    mask_ids(copy);
    json_object_array_add(r->chunks, copy);
    return r->stop_emit_after && (int)json_object_array_length(r->chunks) >= r->stop_emit_after ? 1 : 0;
}

static int run_sse_event(const char *event, const char *data, size_t len, void *ud) {
    run_t *r = ud;
    r->rc = r->ops->stream_event(r->s, event, data, len, NULL, run_emit, r, &r->err);
    return r->rc;           /* 1 (complete) or an error stops the parser */
}

static int run_nd_line(json_object *obj, void *ud) {
    run_t *r = ud;
    r->rc = r->ops->stream_event(r->s, NULL, NULL, 0, obj, run_emit, r, &r->err);
    return r->rc;
}

/* Feed text split at cuts; returns the run (chunks owned by caller via run_done). */
static void run_stream(run_t *r, const gw_wire_ops_t *ops, const char *text, const size_t *cuts, size_t ncuts) {
    memset(r, 0, sizeof *r);
    r->ops = ops;
    r->s = ops->stream_new("chatcmpl-test", 1700000000, "client/model");
    r->chunks = json_object_new_array();
    size_t len = strlen(text), at = 0;
    int prc = 0;
    if (ops->framing == GW_FRAMING_SSE) {
        hz_gw_sse_t *p = hz_gw_sse_new(0, run_sse_event, r);
        for (size_t k = 0; k <= ncuts && prc == 0; k++) {
            size_t end = k < ncuts ? cuts[k] : len;
            prc = hz_gw_sse_feed(p, text + at, end - at);
            at = end;
        }
        if (prc == 0) hz_gw_sse_finish(p);
        hz_gw_sse_free(p);
    } else {
        hz_gw_ndjson_t *p = hz_gw_ndjson_new(0, run_nd_line, r);
        for (size_t k = 0; k <= ncuts && prc == 0; k++) {
            size_t end = k < ncuts ? cuts[k] : len;
            prc = hz_gw_ndjson_feed(p, text + at, end - at);
            at = end;
        }
        if (prc == 0) hz_gw_ndjson_finish(p);
        hz_gw_ndjson_free(p);
    }
}

static void run_done(run_t *r) {
    r->ops->stream_free(r->s);
    json_object_put(r->chunks);
}

/* Run text whole, at every split point and byte by byte: the chunks, the final rc, the usage
 * and finish reason must agree. Leaves the whole-feed run in *out. */
static void run_all_splits(run_t *out, const gw_wire_ops_t *ops, const char *text) {
    run_stream(out, ops, text, NULL, 0);
    const char *want = hz_json_dump(out->chunks, NULL);
    hz_gw_usage_t wu;
    char wf[24];
    ops->stream_result(out->s, &wu, wf);
    size_t len = strlen(text);
    size_t *cuts = hz_malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i <= len + 1; i++) {
        run_t r;
        size_t n;
        if (i <= len) {
            cuts[0] = i;
            n = 1;
        } else {
            for (size_t k = 0; k < len; k++) cuts[k] = k + 1;
            n = len ? len - 1 : 0;
        }
        run_stream(&r, ops, text, cuts, n);
        if (strcmp(hz_json_dump(r.chunks, NULL), want) != 0)
            fail_msg("split at %zu gives different chunks:\n%s\nvs\n%s", i, hz_json_dump(r.chunks, NULL), want);
        assert_int_equal(r.rc, out->rc);
        hz_gw_usage_t u;
        char f[24];
        ops->stream_result(r.s, &u, f);
        assert_memory_equal(&u, &wu, sizeof u);
        assert_string_equal(f, wf);
        run_done(&r);
    }
    hz_free(cuts);
}

static void assert_usage(const gw_wire_ops_t *ops, gw_stream_t *s, int64_t p, int64_t c, int64_t cached, const char *finish) {
    hz_gw_usage_t u;
    char f[24];
    ops->stream_result(s, &u, f);
    assert_int_equal(u.prompt_tokens, p);
    assert_int_equal(u.completion_tokens, c);
    assert_int_equal(u.cached_tokens, cached);
    assert_string_equal(f, finish);
}

/* A single event must fail with a 502 upstream_error whose message contains what. */
static void event_fails(const gw_wire_ops_t *ops, const char *event, const char *data, json_object *obj,
                        int status, const char *what) {
    gw_stream_t *s = ops->stream_new("chatcmpl-test", 1700000000, "client/model");
    run_t r;
    memset(&r, 0, sizeof r);
    r.chunks = json_object_new_array();
    hz_gw_error_t err;
    int rc = ops->stream_event(s, event, data, data ? strlen(data) : 0, obj, run_emit, &r, &err);
    if (rc >= 0) fail_msg("event accepted: %s", data ? data : hz_json_dump(obj, NULL));
    assert_int_equal(err.status, status);
    if (status == 502) assert_string_equal(err.type, "upstream_error");
    if (!strstr(err.message, what)) fail_msg("error \"%s\" does not mention \"%s\"", err.message, what);
    ops->stream_free(s);
    json_object_put(r.chunks);
}

static void response_fails(const gw_wire_ops_t *ops, const char *body, const char *what) {
    json_object *out = (json_object *)1;
    hz_gw_error_t err;
    int rc = ops->chat_response(body, strlen(body), "m", &out, &err);
    assert_true(rc < 0);
    assert_null(out);
    assert_int_equal(err.status, 502);
    if (!strstr(err.message, what)) fail_msg("error \"%s\" does not mention \"%s\"", err.message, what);
}

static void error_maps(const gw_wire_ops_t *ops, int status, const char *body, int want_status, const char *want_type,
                       const char *want_code, bool retryable, const char *want_msg) {
    hz_gw_error_t err;
    ops->error_from(status, body, strlen(body), &err);
    assert_int_equal(err.status, want_status);
    assert_string_equal(err.type, want_type);
    assert_string_equal(err.code, want_code);
    assert_int_equal(err.retryable, retryable);
    if (!strstr(err.message, want_msg)) fail_msg("error \"%s\" does not mention \"%s\"", err.message, want_msg);
}

/* ---- shared shapes ---------------------------------------------------------------------- */

static void test_provider_types(void **state) {
    (void)state;
    static const struct { const char *name; hz_gw_wire_t wire; const char *base; } cases[] = {
        {"openai", HZ_GW_WIRE_OPENAI, "https://api.openai.com/v1"},
        {"groq", HZ_GW_WIRE_OPENAI, "https://api.groq.com/openai/v1"},
        {"deepseek", HZ_GW_WIRE_OPENAI, "https://api.deepseek.com/v1"},
        {"together", HZ_GW_WIRE_OPENAI, "https://api.together.xyz/v1"},
        {"openrouter", HZ_GW_WIRE_OPENAI, "https://openrouter.ai/api/v1"},
        {"xai", HZ_GW_WIRE_OPENAI, "https://api.x.ai/v1"},
        {"grok", HZ_GW_WIRE_OPENAI, "https://api.x.ai/v1"},
        {"exo", HZ_GW_WIRE_OPENAI, "http://127.0.0.1:52415/v1"},
        {"openai-compatible", HZ_GW_WIRE_OPENAI, NULL},
        {"custom", HZ_GW_WIRE_OPENAI, NULL},
        {"anthropic", HZ_GW_WIRE_ANTHROPIC, "https://api.anthropic.com"},
        {"gemini", HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta"},
        {"google", HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta"},
        {"ollama", HZ_GW_WIRE_OLLAMA, "http://127.0.0.1:11434"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hz_gw_wire_t w = 0;
        const char *base = "unset";
        assert_int_equal(hz_gw_provider_type(cases[i].name, &w, &base), 0);
        assert_int_equal(w, cases[i].wire);
        if (cases[i].base) assert_string_equal(base, cases[i].base);
        else assert_null(base);
        assert_non_null(gw_wire_ops(w));
        assert_int_equal(gw_wire_ops(w)->wire, w);
    }
    assert_int_equal(hz_gw_provider_type("OpenAI ", NULL, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "known: openai, groq"));
    assert_int_equal(hz_gw_provider_type(NULL, NULL, NULL), HZ_EINVAL);
    assert_string_equal(hz_gw_wire_name(HZ_GW_WIRE_OPENAI), "openai");
    assert_string_equal(hz_gw_wire_name(HZ_GW_WIRE_ANTHROPIC), "anthropic");
    assert_string_equal(hz_gw_wire_name(HZ_GW_WIRE_GEMINI), "gemini");
    assert_string_equal(hz_gw_wire_name(HZ_GW_WIRE_OLLAMA), "ollama");
    assert_null(gw_wire_ops((hz_gw_wire_t)99));
    /* the ops tables are complete where the wire has the feature */
    for (int w = HZ_GW_WIRE_OPENAI; w <= HZ_GW_WIRE_OLLAMA; w++) {
        const gw_wire_ops_t *o = gw_wire_ops((hz_gw_wire_t)w);
        assert_non_null(o->chat_request);
        assert_non_null(o->chat_response);
        assert_non_null(o->stream_new);
        assert_non_null(o->stream_event);
        assert_non_null(o->stream_result);
        assert_non_null(o->stream_free);
        assert_non_null(o->error_from);
        assert_non_null(o->models_request);
        assert_non_null(o->models_response);
        assert_int_equal(o->framing, w == HZ_GW_WIRE_OLLAMA ? GW_FRAMING_NDJSON : GW_FRAMING_SSE);
        assert_int_equal(o->completion_request != NULL, w == HZ_GW_WIRE_OPENAI);
        assert_int_equal(o->embed_request != NULL, w != HZ_GW_WIRE_ANTHROPIC);
    }
}

static void test_config_check(void **state) {
    (void)state;
    const char *models[] = {"gpt-4o-mini", "o3"};
    hz_gw_provider_config_t ok = {.id = "openai", .type = "openai", .models = models, .n_models = 2};
    assert_int_equal(hz_gw_provider_config_check(&ok), 0);
    hz_gw_provider_config_t c = ok;
    c.id = "my-local_1.x";
    c.type = "custom";
    c.base_url = "http://127.0.0.1:8080/v1";
    assert_int_equal(hz_gw_provider_config_check(&c), 0);

    static const struct { hz_gw_provider_config_t cfg; const char *msg; } bad[] = {
        {{.id = NULL, .type = "openai"}, "\"id\" is required"},
        {{.id = "Open", .type = "openai"}, "'O' at offset 0"},
        {{.id = "-x", .type = "openai"}, "'-' at offset 0"},
        {{.id = "a/b", .type = "openai"}, "'/' at offset 1"},
        {{.id = "a", .type = "nope"}, "unknown provider type \"nope\""},
        {{.id = "a", .type = NULL}, "\"type\" is required"},
        {{.id = "a", .type = "custom"}, "\"base_url\" is required for type \"custom\""},
        {{.id = "a", .type = "openai", .base_url = "ftp://x"}, "not an http:// or https:// URL"},
        {{.id = "a", .type = "openai", .base_url = "http://"}, "has no host"},
        {{.id = "a", .type = "openai", .base_url = "http://h/v1 x"}, "offset 11"},
        {{.id = "a", .type = "openai", .base_url = "http://h/v1?key=1"}, "query or fragment"},
        {{.id = "a", .type = "openai", .api_key = "sk-1\r\nX-Evil: 1"}, "\"api_key\": control character at offset 4"},
        {{.id = "a", .type = "openai", .n_models = 1}, "\"models\": 1 models but no array"},
        {{.id = "a", .type = "openai", .connect_timeout_ms = -1}, "\"connect_timeout_ms\": -1 is negative"},
        {{.id = "a", .type = "openai", .idle_timeout_ms = -5}, "\"idle_timeout_ms\""},
        {{.id = "a", .type = "openai", .max_retries = -2}, "\"max_retries\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hz_gw_provider_config_check(&bad[i].cfg), HZ_EINVAL);
        if (!strstr(hz_error_last(), bad[i].msg)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, hz_error_last(), bad[i].msg);
    }
    char longid[70];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    c = ok;
    c.id = longid;
    assert_int_equal(hz_gw_provider_config_check(&c), HZ_EINVAL);
    longid[64] = '\0';
    assert_int_equal(hz_gw_provider_config_check(&c), 0);
    const char *empty[] = {""};
    c = ok;
    c.models = empty;
    c.n_models = 1;
    assert_int_equal(hz_gw_provider_config_check(&c), HZ_EINVAL);
    assert_int_equal(hz_gw_provider_config_check(NULL), HZ_EINVAL);
}

static void test_errors(void **state) {
    (void)state;
    hz_gw_error_t e;
    assert_int_equal(hz_gw_error_set(&e, 400, NULL, NULL, "temperature", "temperature %d is out of range", 7), HZ_EINVAL);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(hz_error_last(), "temperature 7 is out of range");
    assert_false(e.retryable);
    assert_int_equal(e.retry_after_ms, -1);
    json_object *j = hz_gw_error_json(&e);
    assert_json(j, "{\"error\":{\"message\":\"temperature 7 is out of range\",\"type\":\"invalid_request_error\","
                   "\"param\":\"temperature\",\"code\":null}}");
    json_object_put(j);

    assert_int_equal(hz_gw_error_set(&e, 404, NULL, "model_not_found", NULL, "no model"), HZ_EINVAL);
    j = hz_gw_error_json(&e);
    assert_json(j, "{\"error\":{\"message\":\"no model\",\"type\":\"invalid_request_error\",\"param\":null,"
                   "\"code\":\"model_not_found\"}}");
    json_object_put(j);

    static const struct { int status; const char *type; bool retry; } defaults[] = {
        {401, "authentication_error", false}, {403, "permission_error", false}, {429, "rate_limit_error", true},
        {500, "api_error", true}, {502, "upstream_error", true}, {503, "api_error", true}, {504, "timeout", true},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int rc = hz_gw_error_set(&e, defaults[i].status, "", NULL, NULL, "x");
        assert_int_equal(rc, defaults[i].status < 500 ? HZ_EINVAL : HZ_EIO);
        assert_string_equal(e.type, defaults[i].type);
        assert_int_equal(e.retryable, defaults[i].retry);
    }
    /* long messages are cut, not overflowed; NULL err still records the message */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hz_gw_error_set(&e, 502, NULL, NULL, NULL, "%s", big);
    assert_int_equal(strlen(e.message), sizeof e.message - 1);
    assert_int_equal(hz_gw_error_set(NULL, 400, NULL, NULL, NULL, "lonely"), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "lonely");
}

static void test_chunks(void **state) {
    (void)state;
    json_object *d = J("{\"content\":\"hi\"}");
    json_object *c = gw_chunk_new("chatcmpl-1", 1700000000, "openai/gpt-4o-mini", d, NULL);
    assert_json(c, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                   "\"model\":\"openai/gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
                   "\"logprobs\":null,\"finish_reason\":null}]}");
    json_object_put(c);
    c = gw_chunk_new("i", 1, "m", NULL, "length");
    assert_json(c, "{\"id\":\"i\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
                   "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}]}");
    json_object_put(c);
    hz_gw_usage_t u = {12, 5, 0};
    c = gw_chunk_usage("i", 1, "m", &u);
    assert_json(c, "{\"id\":\"i\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
                   "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}}");
    json_object_put(c);
    u.cached_tokens = 4;
    c = gw_usage_json(&u);
    assert_json(c, "{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":4}}");
    json_object_put(c);

    char *a = gw_completion_id(NULL), *b = gw_completion_id("msg_");
    assert_int_equal(strlen(a), 9 + 24);
    assert_true(hz_str_starts_with(a, "chatcmpl-"));
    assert_true(hz_str_starts_with(b, "msg_"));
    assert_int_equal(strlen(b), 4 + 24);
    for (const char *p = a + 9; *p; p++) assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    assert_string_not_equal(a + 9, b + 4);
    hz_free(a);
    hz_free(b);

    /* little-endian float32, standard alphabet with padding: 1.0f = 00 00 80 3f */
    const float one[] = {1.0f}, two[] = {1.0f, -2.0f}, three[] = {0.0f, 1.0f, 0.5f};
    char *s = gw_base64_floats(one, 1);
    assert_string_equal(s, "AACAPw==");
    hz_free(s);
    s = gw_base64_floats(two, 2);
    assert_string_equal(s, "AACAPwAAAMA=");
    hz_free(s);
    s = gw_base64_floats(three, 3);                 /* 12 bytes: no padding */
    assert_string_equal(s, "AAAAAAAAgD8AAAA/");
    hz_free(s);
    s = gw_base64_floats(NULL, 0);
    assert_string_equal(s, "");
    hz_free(s);
}

static void test_http_req(void **state) {
    (void)state;
    gw_http_req_t r;
    gw_http_req_init(&r, "POST", "%s/chat/completions", "https://api.openai.com/v1");
    assert_string_equal(r.url, "https://api.openai.com/v1/chat/completions");
    assert_string_equal(r.method, "POST");
    gw_http_req_header(&r, "Authorization: Bearer %s", "sk-a\r\nX-Injected: 1");
    assert_string_equal(r.headers[0], "Authorization: Bearer sk-a  X-Injected: 1");
    json_object *o = J("{\"model\":\"m\",\"url\":\"a/b\"}");
    gw_http_req_json(&r, o);
    json_object_put(o);
    assert_string_equal(r.body.data, "{\"model\":\"m\",\"url\":\"a/b\"}");
    assert_int_equal(r.n_headers, 2);
    assert_string_equal(r.headers[1], "Content-Type: application/json");
    gw_http_req_free(&r);
    assert_null(r.url);
    gw_http_req_free(&r);       /* twice is harmless */
}

/* ---- OpenAI ----------------------------------------------------------------------------- */

static void test_openai_request(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_openai;
    gw_provider_t p = provider(HZ_GW_WIRE_OPENAI, "https://api.openai.com/v1", "sk-test");
    const char *req = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
                      "\"stream_options\":{\"include_usage\":false,\"x\":1},\"temperature\":0.5,\"stream\":false}";
    gw_http_req_t r;
    json_object *b = build(w, &p, req, true, &r);
    assert_string_equal(r.url, "https://api.openai.com/v1/chat/completions");
    assert_string_equal(r.method, "POST");
    assert_true(has_header(&r, "Authorization: Bearer sk-test"));
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_json(b, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                   "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
                   "\"stream_options\":{\"include_usage\":true,\"x\":1},\"temperature\":0.5,\"stream\":true}");
    json_object_put(b);
    gw_http_req_free(&r);

    /* non-stream: stream_options removed (OpenAI rejects it without stream); no key, no header */
    p.api_key = NULL;
    b = build(w, &p, req, false, &r);
    assert_false(has_header_prefix(&r, "Authorization"));
    assert_json(b, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                   "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
                   "\"temperature\":0.5,\"stream\":false}");
    json_object_put(b);
    gw_http_req_free(&r);

    json_object *o = J("{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say\",\"max_tokens\":5}");
    hz_gw_error_t err;
    assert_int_equal(w->completion_request(&p, o, true, &r, &err), 0);
    assert_string_equal(r.url, "https://api.openai.com/v1/completions");
    json_object *body = J(r.body.data);
    assert_json(body, "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say\",\"max_tokens\":5,\"stream\":true,"
                      "\"stream_options\":{\"include_usage\":true}}");
    json_object_put(body);
    gw_http_req_free(&r);
    json_object_put(o);

    o = J("[1]");
    assert_int_equal(w->chat_request(&p, o, false, &r, &err), HZ_EINVAL);
    json_object_put(o);

    o = J("{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\",\"dimensions\":8}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), 0);
    assert_string_equal(r.url, "https://api.openai.com/v1/embeddings");
    body = J(r.body.data);
    assert_json(body, "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"float\",\"dimensions\":8}");
    json_object_put(body);
    gw_http_req_free(&r);
    json_object_put(o);

    p.api_key = "k";
    w->models_request(&p, &r);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://api.openai.com/v1/models");
    assert_true(has_header(&r, "Authorization: Bearer k"));
    assert_int_equal(r.body.len, 0);
    gw_http_req_free(&r);
}

static void test_openai_response(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_openai;
    /* the documented chat.completion, with a tool call */
    const char *body =
        "{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion\",\"created\":1741570283,"
        "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}}],\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":1117,\"completion_tokens\":46,\"total_tokens\":1163,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1024,\"audio_tokens\":0}},\"system_fingerprint\":\"fp_fc9f1d7035\"}";
    json_object *out = NULL;
    hz_gw_error_t err;
    assert_int_equal(w->chat_response(body, strlen(body), "openai/gpt-4o", &out, &err), 0);
    assert_json(out,
        "{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion\",\"created\":1741570283,"
        "\"model\":\"openai/gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}}],\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":1117,\"completion_tokens\":46,\"total_tokens\":1163,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1024}},\"system_fingerprint\":\"fp_fc9f1d7035\"}");
    json_object_put(out);

    /* a compatible server that omits usage, id and created: they are filled in */
    body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}";
    assert_int_equal(w->chat_response(body, strlen(body), "m", &out, &err), 0);
    mask_ids(out);
    assert_json(out, "{\"id\":\"chatcmpl-GEN\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"m\",\"choices\":"
                     "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
    json_object_put(out);

    /* /v1/completions answers */
    body = "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":5,\"model\":\"x\",\"choices\":[{\"text\":\" there\","
           "\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}";
    assert_int_equal(w->chat_response(body, strlen(body), "m", &out, &err), 0);
    assert_json(out, "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":5,\"model\":\"m\",\"choices\":[{\"text\":\" there\","
                     "\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}");
    json_object_put(out);

    response_fails(w, "not json", "not JSON");
    response_fails(w, "[1]", "not a JSON object");
    response_fails(w, "{\"id\":\"x\"}", "choices");
    response_fails(w, "{\"choices\":{}}", "choices");
    response_fails(w, "{\"choices\":[3]}", "choices[0] is not an object");
    response_fails(w, "{\"choices\":[{\"message\":\"hi\"}]}", "choices[0] has neither");
    response_fails(w, "{\"choices\":[],\"usage\":{\"prompt_tokens\":\"many\"}}", "usage");
    response_fails(w, "{\"choices\":[],\"usage\":{\"prompt_tokens\":-1}}", "negative");
    response_fails(w, "{\"error\":{\"message\":\"in a 200\"}}", "in a 200");
}

static const char openai_sse[] =
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\n"
    "data: [DONE]\n\n"
    "data: {\"after\":\"done is ignored\"}\n\n";

static void test_openai_stream(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_openai;
    run_t r;
    run_all_splits(&r, w, openai_sse);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks,
        "[{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\",\"system_fingerprint\":\"fp\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]},"
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\","
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}]},"
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\","
        "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]},"
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\","
        "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":null}]},"
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\","
        "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}]");
    assert_usage(w, r.s, 10, 5, 2, "tool_calls");
    run_done(&r);

    /* a stream that ends without [DONE] is not complete: rc stays 0 for the transport to judge */
    run_stream(&r, w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n", NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(json_object_array_length(r.chunks), 1);
    run_done(&r);

    /* usage on the finish chunk itself (some compatible servers) is lifted off it */
    run_stream(&r, w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
                      "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n", NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_null(json_object_object_get(json_object_array_get_idx(r.chunks, 0), "usage"));
    assert_usage(w, r.s, 3, 4, 0, "stop");
    run_done(&r);

    /* text_completion chunks keep their object type */
    run_stream(&r, w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"a\",\"index\":0,\"finish_reason\":null}]}\n\n", NULL, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(r.chunks, 0), "object")), "text_completion");
    run_done(&r);

    /* the client going away stops the stream with HZ_ECLOSED */
    run_stream(&r, w, "", NULL, 0);
    r.stop_emit_after = 1;
    const char *d = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}";
    assert_int_equal(w->stream_event(r.s, NULL, d, strlen(d), NULL, run_emit, &r, &r.err), HZ_ECLOSED);
    assert_string_equal(r.err.code, "cancelled");
    assert_false(r.err.retryable);
    run_done(&r);

    event_fails(w, NULL, "{\"choices\":[{\"delta\":{\"content\":\"x\"}", NULL, 502, "not JSON");
    event_fails(w, NULL, "[]", NULL, 502, "not a JSON object");
    event_fails(w, NULL, "{\"choices\":{}}", NULL, 502, "choices");
    event_fails(w, NULL, "{\"choices\":[1]}", NULL, 502, "choices[0] is not an object");
    event_fails(w, NULL, "{\"choices\":[{\"delta\":\"x\"}]}", NULL, 502, "choices[0].delta");
    event_fails(w, NULL, "{\"choices\":[{\"delta\":{},\"finish_reason\":3}]}", NULL, 502, "finish_reason");
    event_fails(w, NULL, "{\"choices\":[],\"usage\":{\"completion_tokens\":\"x\"}}", NULL, 502, "usage");
    event_fails(w, NULL, NULL, NULL, 502, "without data");
    /* an error event mid-stream carries the upstream's message */
    event_fails(w, NULL, "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}", NULL, 502,
                "The server had an error");
    event_fails(w, "error", "{\"message\":\"overloaded\"}", NULL, 502, "overloaded");
}

static void test_openai_errors(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_openai;
    error_maps(w, 401, "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc.\",\"type\":\"invalid_request_error\","
                       "\"param\":null,\"code\":\"invalid_api_key\"}}",
               401, "invalid_request_error", "invalid_api_key", false, "Incorrect API key");
    error_maps(w, 404, "{\"error\":{\"message\":\"The model `gpt-9` does not exist\",\"type\":\"invalid_request_error\","
                       "\"param\":null,\"code\":\"model_not_found\"}}",
               404, "invalid_request_error", "model_not_found", false, "gpt-9");
    error_maps(w, 400, "{\"error\":{\"message\":\"bad temp\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":null}}",
               400, "invalid_request_error", "", false, "bad temp");
    error_maps(w, 429, "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
               429, "rate_limit_error", "rate_limit_exceeded", true, "Rate limit");
    error_maps(w, 500, "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}",
               502, "upstream_error", "", true, "The server had an error");
    error_maps(w, 503, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}", 503, "upstream_error", "", true, "overloaded");
    error_maps(w, 504, "", 504, "timeout", "", true, "HTTP 504: (empty body)");
    error_maps(w, 502, "<html>\n<h1>Bad Gateway</h1></html>", 502, "upstream_error", "", true, "HTTP 502: <html> <h1>Bad Gateway");
    error_maps(w, 422, "{\"error\":\"plain string error\"}", 422, "invalid_request_error", "", false, "plain string error");
    error_maps(w, 400, "{\"error\":{\"message\":\"m\",\"code\":400}}", 400, "invalid_request_error", "400", false, "m");
    hz_gw_error_t err;
    const char *pb = "{\"error\":{\"message\":\"m\",\"param\":\"messages[0]\"}}";
    w->error_from(400, pb, strlen(pb), &err);
    assert_string_equal(err.param, "messages[0]");
}

static void test_openai_embeddings_models(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_openai;
    const char *body = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-1]},"
                       "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.25,2.0]}],\"model\":\"text-embedding-3-small\","
                       "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";
    json_object *out = NULL;
    hz_gw_usage_t u;
    hz_gw_error_t err;
    assert_int_equal(w->embed_response(body, strlen(body), "openai/text-embedding-3-small", &out, &u, &err), 0);
    assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-1.0]},"
                     "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.25,2.0]}],\"model\":\"openai/text-embedding-3-small\","
                     "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}");
    assert_int_equal(u.prompt_tokens, 8);
    json_object_put(out);
    body = "{\"data\":[{\"embedding\":\"AACAPw==\"}]}";
    assert_true(w->embed_response(body, strlen(body), "m", &out, &u, &err) < 0);
    assert_int_equal(err.status, 502);
    assert_non_null(strstr(err.message, "data[0].embedding"));
    body = "{\"data\":[{\"embedding\":[1,\"x\"]}]}";
    assert_true(w->embed_response(body, strlen(body), "m", &out, &u, &err) < 0);
    assert_non_null(strstr(err.message, "data[0].embedding[1]"));

    body = "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":1,\"owned_by\":\"openai\"},"
           "{\"id\":\"o3\",\"object\":\"model\"}]}";
    assert_int_equal(w->models_response(body, strlen(body), &out, &err), 0);
    assert_json(out, "[\"gpt-4o-mini\",\"o3\"]");
    json_object_put(out);
    body = "{\"data\":[{\"name\":\"x\"}]}";
    assert_true(w->models_response(body, strlen(body), &out, &err) < 0);
    assert_null(out);
}

/* ---- Anthropic -------------------------------------------------------------------------- */

static void test_anthropic_request(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_anthropic;
    gw_provider_t p = provider(HZ_GW_WIRE_ANTHROPIC, "https://api.anthropic.com", "sk-ant-test");
    const char *req =
        "{\"model\":\"claude-sonnet-4-5\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Use metric.\"}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather here?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.jpg\"}}]},"
        "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
        "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]},"
        "{\"role\":\"user\",\"content\":\"Thanks\"},"
        "{\"role\":\"assistant\",\"content\":\"\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],"
        "\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"stop\":\"END\",\"temperature\":0.2,\"top_p\":0.9,"
        "\"top_k\":40,\"user\":\"u-1\",\"response_format\":{\"type\":\"json_object\"},\"seed\":1,\"stream_options\":{\"include_usage\":true}}";
    gw_http_req_t r;
    json_object *b = build(w, &p, req, true, &r);
    assert_string_equal(r.url, "https://api.anthropic.com/v1/messages");
    assert_true(has_header(&r, "x-api-key: sk-ant-test"));
    assert_true(has_header(&r, "anthropic-version: 2023-06-01"));
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_false(has_header_prefix(&r, "Authorization"));
    assert_json(b,
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
        "\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather here?\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.jpg\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"noon\"},"
        "{\"type\":\"text\",\"text\":\"Thanks\"}]}],"
        "\"system\":\"Be brief.\\n\\nUse metric.\\n\\nRespond with a single valid JSON object and nothing else: no prose, no code fences.\","
        "\"stop_sequences\":[\"END\"],\"temperature\":0.2,\"top_p\":0.9,\"top_k\":40,"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},"
        "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
        "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
        "\"metadata\":{\"user_id\":\"u-1\"},\"stream\":true}");
    json_object_put(b);
    gw_http_req_free(&r);

    /* a base URL that already ends in /v1; max_completion_tokens wins; tool_choice variants */
    p.base_url = "http://127.0.0.1:9/v1";
    b = build(w, &p, "{\"model\":\"m\",\"max_completion_tokens\":50,\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
                     "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{\"type\":\"object\"}}},"
                     "\"stop\":[\"a\",\"b\"]}", false, &r);
    assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages");
    assert_json(b, "{\"model\":\"m\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}],"
                   "\"system\":\"Respond with a single valid JSON value that conforms to this JSON Schema, and nothing else: "
                   "no prose, no code fences.\\n{\\\"type\\\":\\\"object\\\"}\","
                   "\"stop_sequences\":[\"a\",\"b\"],"
                   "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
                   "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"}}");
    json_object_put(b);
    gw_http_req_free(&r);
    b = build(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"none\","
                     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"parallel_tool_calls\":false}", false, &r);
    assert_json(json_object_object_get(b, "tool_choice"), "{\"type\":\"none\"}");
    json_object_put(b);
    gw_http_req_free(&r);
    b = build(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"auto\","
                     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", false, &r);
    assert_json(json_object_object_get(b, "tool_choice"), "{\"type\":\"auto\"}");
    json_object_put(b);
    gw_http_req_free(&r);

    build_fails(w, &p, "{\"model\":\"m\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "n");
    build_fails(w, &p, "{\"model\":\"m\"}", "messages");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"only\"}]}", "messages");
    build_fails(w, &p, "{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "max_tokens");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
                "messages[0].content[0]");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"file:///etc/passwd\"}}]}]}",
                "messages[0].content[0]");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
                       "\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
                "messages[0].tool_calls[0].function.arguments");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[0].tool_call_id");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages[0].role");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"web_search\"}]}", "tools[0]");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"sometimes\"}", "tool_choice");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", "stop");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}",
                "response_format.type");
}

static void test_anthropic_response(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_anthropic;
    const char *body =
        "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"x\"},{\"type\":\"text\",\"text\":\"I'll check.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\",\"input\":{\"location\":\"San Francisco, CA\"}}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":2095,\"output_tokens\":503,\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":100}}";
    json_object *out = NULL;
    hz_gw_error_t err;
    assert_int_equal(w->chat_response(body, strlen(body), "anthropic/claude", &out, &err), 0);
    mask_ids(out);
    assert_json(out,
        "{\"id\":\"chatcmpl-GEN\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"anthropic/claude\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"I'll check.\",\"tool_calls\":[{\"id\":\"toolu_01A\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"San Francisco, CA\\\"}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":2205,\"completion_tokens\":503,\"total_tokens\":2708,\"prompt_tokens_details\":{\"cached_tokens\":100}}}");
    json_object_put(out);

    static const struct { const char *stop, *finish; } stops[] = {
        {"end_turn", "stop"}, {"stop_sequence", "stop"}, {"max_tokens", "length"}, {"tool_use", "tool_calls"},
        {"refusal", "content_filter"}, {"pause_turn", "stop"}, {"model_context_window_exceeded", "length"},
    };
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"%s\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
                 stops[i].stop);
        assert_int_equal(w->chat_response(b, strlen(b), "m", &out, &err), 0);
        json_object *c0 = json_object_array_get_idx(json_object_object_get(out, "choices"), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(c0, "finish_reason")), stops[i].finish);
        json_object_put(out);
    }
    response_fails(w, "{\"content\":\"x\"}", "content");
    response_fails(w, "{\"content\":[{\"type\":\"text\"}]}", "content[0].text");
    response_fails(w, "{\"content\":[{\"text\":\"a\"}]}", "content[0]");
    response_fails(w, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":\"{}\"}]}", "tool_use");
    response_fails(w, "{\"content\":[],\"usage\":{\"input_tokens\":\"1\"}}", "usage.input_tokens");
    response_fails(w, "{\"content\":[],\"stop_reason\":5}", "stop_reason");
    response_fails(w, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal\"}}", "Internal");
}

/* The documented streaming example: text, then a tool_use block streamed as partial JSON. */
static const char anthropic_sse[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2,"
    "\"cache_read_input_tokens\":8},\"content\":[],\"stop_reason\":null}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", let's check\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
    "\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"SF\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

#define ACHUNK(delta, finish) \
    "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"client/model\"," \
    "\"choices\":[{\"index\":0,\"delta\":" delta ",\"logprobs\":null,\"finish_reason\":" finish "}]}"

static void test_anthropic_stream(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_anthropic;
    run_t r;
    run_all_splits(&r, w, anthropic_sse);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks,
        "[" ACHUNK("{\"content\":\"\",\"role\":\"assistant\"}", "null") ","
        ACHUNK("{\"content\":\"Okay\"}", "null") ","
        ACHUNK("{\"content\":\", let's check\"}", "null") ","
        ACHUNK("{\"tool_calls\":[{\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
               "\"arguments\":\"\"},\"index\":0}]}", "null") ","
        ACHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}", "null") ","
        ACHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"SF\\\"}\"}}]}", "null") ","
        ACHUNK("{}", "\"tool_calls\"") "]");
    assert_usage(w, r.s, 480, 89, 8, "tool_calls");
    run_done(&r);

    /* two tool_use blocks get OpenAI indexes 0 and 1 whatever their block indexes; a stream
     * without message_start still sends the role first; message_delta may update input usage */
    run_stream(&r, w,
        "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":{}}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":5,\"content_block\":{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"g\",\"input\":{\"k\":1}}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":4,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":4,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}\n\n"
        "data: {\"type\":\"some_future_event\"}\n\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n", NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks,
        "[" ACHUNK("{\"content\":null,\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"},\"index\":0}],"
                   "\"role\":\"assistant\"}", "null") ","
        ACHUNK("{\"tool_calls\":[{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"k\\\":1}\"},\"index\":1}]}", "null") ","
        ACHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}", "null") ","
        ACHUNK("{}", "\"length\"") "]");
    assert_usage(w, r.s, 7, 3, 0, "length");
    run_done(&r);

    /* the documented mid-stream error */
    event_fails(w, "error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", NULL, 503, "Overloaded");
    gw_stream_t *s = w->stream_new("i", 1, "m");
    hz_gw_error_t err;
    const char *d = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    assert_true(w->stream_event(s, "error", d, strlen(d), NULL, NULL, NULL, &err) < 0);
    assert_true(err.retryable);
    assert_string_equal(err.code, "overloaded_error");
    d = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}";
    assert_true(w->stream_event(s, "error", d, strlen(d), NULL, NULL, NULL, &err) < 0);
    assert_int_equal(err.status, 429);
    d = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}";
    assert_true(w->stream_event(s, "error", d, strlen(d), NULL, NULL, NULL, &err) < 0);
    assert_int_equal(err.status, 502);
    assert_true(err.retryable);
    w->stream_free(s);

    event_fails(w, NULL, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}", NULL, 502,
                "never started");
    event_fails(w, NULL, "{\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":\"text\"}}", NULL, 502, "index");
    event_fails(w, NULL, "{\"type\":\"content_block_start\",\"index\":99999999,\"content_block\":{\"type\":\"text\"}}", NULL, 502, "index");
    event_fails(w, NULL, "{\"type\":\"content_block_start\",\"index\":0}", NULL, 502, "content_block");
    event_fails(w, NULL, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":1}}", NULL, 502, "tool_use");
    event_fails(w, NULL, "{\"type\":\"message_start\"}", NULL, 502, "message");
    event_fails(w, NULL, "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":-4}}}", NULL, 502, "input_tokens");
    event_fails(w, NULL, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":1}}", NULL, 502, "stop_reason");
    event_fails(w, NULL, "{\"type\":", NULL, 502, "not JSON");
    event_fails(w, NULL, "\"message_stop\"", NULL, 502, "not a JSON object");
    event_fails(w, NULL, "{\"index\":0}", NULL, 502, "no \"type\"");

    /* a text_delta aimed at a tool block, an input_json_delta at a text block */
    run_stream(&r, w, "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
               NULL, 0);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.message, "not tool_use"));
    run_done(&r);
    run_stream(&r, w, "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", NULL, 0);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.message, "started twice"));
    run_done(&r);
}

static void test_anthropic_errors_models(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_anthropic;
    error_maps(w, 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
               503, "upstream_error", "overloaded_error", true, "Overloaded");
    error_maps(w, 400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: Field required\"}}",
               400, "invalid_request_error", "invalid_request_error", false, "max_tokens: Field required");
    error_maps(w, 401, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
               401, "authentication_error", "authentication_error", false, "invalid x-api-key");
    error_maps(w, 404, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model: claude-9\"}}",
               404, "not_found_error", "model_not_found", false, "claude-9");
    error_maps(w, 429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens\"}}",
               429, "rate_limit_error", "rate_limit_error", true, "Number of request tokens");
    error_maps(w, 500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}",
               502, "upstream_error", "api_error", true, "Internal server error");
    error_maps(w, 502, "upstream connect error", 502, "upstream_error", "", true, "HTTP 502: upstream connect error");

    gw_provider_t p = provider(HZ_GW_WIRE_ANTHROPIC, "https://api.anthropic.com", "k");
    gw_http_req_t r;
    w->models_request(&p, &r);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://api.anthropic.com/v1/models?limit=1000");
    assert_true(has_header(&r, "x-api-key: k"));
    assert_true(has_header(&r, "anthropic-version: 2023-06-01"));
    gw_http_req_free(&r);
    const char *body = "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-5\",\"display_name\":\"Claude Sonnet 4.5\","
                       "\"created_at\":\"2025-09-29T00:00:00Z\"}],\"has_more\":false,\"first_id\":\"a\",\"last_id\":\"a\"}";
    json_object *ids = NULL;
    hz_gw_error_t err;
    assert_int_equal(w->models_response(body, strlen(body), &ids, &err), 0);
    assert_json(ids, "[\"claude-sonnet-4-5\"]");
    json_object_put(ids);
}

/* ---- Gemini ----------------------------------------------------------------------------- */

static void test_gemini_request(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_gemini;
    gw_provider_t p = provider(HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta", "AIza-test");
    const char *req =
        "{\"model\":\"gemini-2.0-flash\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp\\\":18}\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"noon\"},"
        "{\"role\":\"assistant\",\"content\":\"18C at noon.\"}],"
        "\"temperature\":0.3,\"top_p\":0.8,\"top_k\":20,\"max_tokens\":100,\"stop\":[\"x\"],\"seed\":7,"
        "\"presence_penalty\":0.1,\"frequency_penalty\":0.2,"
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"w\",\"strict\":true,\"schema\":"
        "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":[\"number\",\"null\"],\"description\":\"temp\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"const\":\"a\"}}},"
        "\"required\":[\"t\"],\"additionalProperties\":false,\"$schema\":\"x\"}}},"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"W\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"additionalProperties\":false}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
        "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}";
    gw_http_req_t r;
    json_object *b = build(w, &p, req, false, &r);
    assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent");
    assert_true(has_header(&r, "x-goog-api-key: AIza-test"));
    assert_null(strstr(r.url, "key="));
    assert_json(b,
        "{\"contents\":["
        "{\"role\":\"user\",\"parts\":[{\"text\":\"Weather?\"},{\"inlineData\":{\"mimeType\":\"image/jpeg\",\"data\":\"/9j/4AAQ\"}}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}},"
        "{\"functionCall\":{\"name\":\"get_time\",\"args\":{}}}]},"
        "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"temp\":18}}},"
        "{\"functionResponse\":{\"name\":\"get_time\",\"response\":{\"result\":\"noon\"}}}]},"
        "{\"role\":\"model\",\"parts\":[{\"text\":\"18C at noon.\"}]}],"
        "\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]},"
        "\"generationConfig\":{\"temperature\":0.3,\"topP\":0.8,\"topK\":20,\"seed\":7,\"presencePenalty\":0.1,"
        "\"frequencyPenalty\":0.2,\"maxOutputTokens\":100,\"stopSequences\":[\"x\"],\"responseMimeType\":\"application/json\","
        "\"responseSchema\":{\"type\":\"object\",\"required\":[\"t\"],\"properties\":{\"t\":{\"nullable\":true,\"type\":\"number\","
        "\"description\":\"temp\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"a\"]}}}}},"
        "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"description\":\"W\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}}}},{\"name\":\"get_time\"}]}],"
        "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}}}");
    json_object_put(b);
    gw_http_req_free(&r);

    /* streaming URL; a model id cannot reach into the path or query */
    b = build(w, &p, "{\"model\":\"models/../x?key=1#f\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                     "\"response_format\":{\"type\":\"json_object\"},\"tool_choice\":\"none\"}", true, &r);
    assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models/..%2Fx%3Fkey%3D1%23f:streamGenerateContent?alt=sse");
    assert_json(b, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],\"generationConfig\":{\"responseMimeType\":"
                   "\"application/json\"},\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"NONE\"}}}");
    json_object_put(b);
    gw_http_req_free(&r);

    build_fails(w, &p, "{\"model\":\"g\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}", "messages[0].tool_call_id");
    build_fails(w, &p, "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"https://x/a.png\"}}]}]}", "messages[0].content[0]");
    build_fails(w, &p, "{\"model\":\"g\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "n");
    build_fails(w, &p, "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_k\":1.5}", "top_k");
    build_fails(w, &p, "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"code\"}]}", "tools[0]");
    build_fails(w, &p, "{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model");
}

static void test_gemini_response(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_gemini;
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"thinking...\",\"thought\":true},{\"text\":\"Hello\"},{\"text\":\" there\"}],"
        "\"role\":\"model\"},\"finishReason\":\"STOP\",\"avgLogprobs\":-0.1}],"
        "\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":10,\"totalTokenCount\":17,\"thoughtsTokenCount\":3,"
        "\"cachedContentTokenCount\":2},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}";
    json_object *out = NULL;
    hz_gw_error_t err;
    assert_int_equal(w->chat_response(body, strlen(body), "gemini/gemini-2.5-flash", &out, &err), 0);
    mask_ids(out);
    assert_json(out, "{\"id\":\"chatcmpl-GEN\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"gemini/gemini-2.5-flash\","
                     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there\"},\"logprobs\":null,"
                     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":13,\"total_tokens\":17,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":2}}}");
    json_object_put(out);

    body = "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}},"
           "{\"functionCall\":{\"id\":\"fc-1\",\"name\":\"noargs\"}}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],"
           "\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":2}}";
    assert_int_equal(w->chat_response(body, strlen(body), "m", &out, &err), 0);
    mask_ids(out);
    assert_json(json_object_object_get(out, "choices"),
        "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_GEN\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"fc-1\",\"type\":\"function\",\"function\":{\"name\":\"noargs\",\"arguments\":\"{}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]");
    json_object_put(out);

    static const struct { const char *body, *finish; } fins[] = {
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"MAX_TOKENS\"}]}", "length"},
        {"{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}]}", "content_filter"},
        {"{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"RECITATION\"}]}", "content_filter"},
        {"{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":3}}", "content_filter"},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"OTHER\"}]}", "stop"},
    };
    for (size_t i = 0; i < sizeof fins / sizeof fins[0]; i++) {
        assert_int_equal(w->chat_response(fins[i].body, strlen(fins[i].body), "m", &out, &err), 0);
        json_object *c0 = json_object_array_get_idx(json_object_object_get(out, "choices"), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(c0, "finish_reason")), fins[i].finish);
        json_object_put(out);
    }
    response_fails(w, "{\"candidates\":{}}", "candidates");
    response_fails(w, "{\"candidates\":[{\"content\":{\"parts\":{}}}]}", "parts");
    response_fails(w, "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}", "no name");
    response_fails(w, "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]}}]}}]}", "args");
    response_fails(w, "{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":-1}}", "promptTokenCount");
    response_fails(w, "{\"candidates\":[{\"finishReason\":7}]}", "finishReason");
}

static const char gemini_sse[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" sky is blue\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 3,\"totalTokenCount\": 11}}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \".\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 5,\"totalTokenCount\": 13}}\r\n\r\n";

static void test_gemini_stream(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_gemini;
    run_t r;
    run_all_splits(&r, w, gemini_sse);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks, "[" ACHUNK("{\"content\":\"The\",\"role\":\"assistant\"}", "null") ","
                          ACHUNK("{\"content\":\" sky is blue\"}", "null") ","
                          ACHUNK("{\"content\":\".\"}", "null") ","
                          ACHUNK("{}", "\"stop\"") "]");
    assert_usage(w, r.s, 8, 5, 0, "stop");
    run_done(&r);

    run_stream(&r, w,
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}},"
        "{\"functionCall\":{\"name\":\"g\",\"args\":{}}}],\"role\":\"model\"}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"h\",\"args\":{}}}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":2,\"candidatesTokenCount\":4}}\n\n", NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks, "[" ACHUNK("{\"tool_calls\":[{\"id\":\"call_GEN\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                                     "\"arguments\":\"{\\\"a\\\":1}\"},\"index\":0},{\"id\":\"call_GEN\",\"type\":\"function\","
                                     "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"},\"index\":1}],\"role\":\"assistant\"}", "null") ","
                          ACHUNK("{\"tool_calls\":[{\"id\":\"call_GEN\",\"type\":\"function\",\"function\":{\"name\":\"h\","
                                 "\"arguments\":\"{}\"},\"index\":2}]}", "null") ","
                          ACHUNK("{}", "\"tool_calls\"") "]");
    assert_usage(w, r.s, 2, 4, 0, "tool_calls");
    run_done(&r);

    /* no finishReason: the stream is not complete */
    run_stream(&r, w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n", NULL, 0);
    assert_int_equal(r.rc, 0);
    run_done(&r);

    event_fails(w, NULL, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}", NULL, 503, "overloaded");
    event_fails(w, NULL, "{\"error\":{\"code\":500,\"message\":\"Internal error\",\"status\":\"INTERNAL\"}}", NULL, 502, "Internal error");
    event_fails(w, NULL, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}", NULL, 502, "not JSON");
    event_fails(w, NULL, "{\"candidates\":[\"x\"]}", NULL, 502, "candidates[0]");
    event_fails(w, NULL, "{\"candidates\":[],\"usageMetadata\":[]}", NULL, 502, "usageMetadata");
}

static void test_gemini_errors_embed_models(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_gemini;
    error_maps(w, 400, "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\",\"status\":\"INVALID_ARGUMENT\","
                       "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\"}]}}",
               401, "authentication_error", "INVALID_ARGUMENT", false, "API key not valid");
    error_maps(w, 400, "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload\",\"status\":\"INVALID_ARGUMENT\"}}",
               400, "invalid_request_error", "INVALID_ARGUMENT", false, "Invalid JSON payload");
    error_maps(w, 404, "{\"error\":{\"code\":404,\"message\":\"models/gemini-9 is not found\",\"status\":\"NOT_FOUND\"}}",
               404, "invalid_request_error", "model_not_found", false, "gemini-9");
    error_maps(w, 429, "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}",
               429, "rate_limit_error", "RESOURCE_EXHAUSTED", true, "exhausted");
    error_maps(w, 500, "{\"error\":{\"code\":500,\"message\":\"An internal error has occurred\",\"status\":\"INTERNAL\"}}",
               502, "upstream_error", "INTERNAL", true, "internal error");
    error_maps(w, 503, "[{\"error\":{\"code\":503,\"message\":\"The model is overloaded\",\"status\":\"UNAVAILABLE\"}}]",
               503, "upstream_error", "UNAVAILABLE", true, "overloaded");
    error_maps(w, 500, "oops", 502, "upstream_error", "", true, "HTTP 500: oops");

    gw_provider_t p = provider(HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta", "AIza");
    gw_http_req_t r;
    hz_gw_error_t err;
    json_object *o = J("{\"model\":\"text-embedding-004\",\"input\":[\"a\",\"b\"],\"dimensions\":64}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), 0);
    json_object_put(o);
    assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents");
    assert_true(has_header(&r, "x-goog-api-key: AIza"));
    json_object *b = J(r.body.data);
    assert_json(b, "{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"a\"}]},\"outputDimensionality\":64},"
                   "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"b\"}]},\"outputDimensionality\":64}]}");
    json_object_put(b);
    gw_http_req_free(&r);
    o = J("{\"model\":\"e\",\"input\":[[1,2]]}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), HZ_EINVAL);
    assert_string_equal(err.param, "input");
    json_object_put(o);
    const char *body = "{\"embeddings\":[{\"values\":[0.1,0.2]},{\"values\":[1,2]}]}";
    json_object *out = NULL;
    hz_gw_usage_t u;
    assert_int_equal(w->embed_response(body, strlen(body), "gemini/e", &out, &u, &err), 0);
    assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.1,0.2]},"
                     "{\"object\":\"embedding\",\"index\":1,\"embedding\":[1.0,2.0]}],\"model\":\"gemini/e\","
                     "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    json_object_put(out);
    body = "{\"embeddings\":[{\"value\":[1]}]}";
    assert_true(w->embed_response(body, strlen(body), "m", &out, &u, &err) < 0);

    w->models_request(&p, &r);
    assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000");
    gw_http_req_free(&r);
    body = "{\"models\":[{\"name\":\"models/gemini-2.0-flash\",\"version\":\"2.0\",\"supportedGenerationMethods\":[\"generateContent\"]},"
           "{\"name\":\"models/text-embedding-004\"}],\"nextPageToken\":\"x\"}";
    assert_int_equal(w->models_response(body, strlen(body), &out, &err), 0);
    assert_json(out, "[\"gemini-2.0-flash\",\"text-embedding-004\"]");
    json_object_put(out);
}

/* ---- Ollama ----------------------------------------------------------------------------- */

static void test_ollama_request(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_ollama;
    gw_provider_t p = provider(HZ_GW_WIRE_OLLAMA, "http://127.0.0.1:11434", NULL);
    const char *req =
        "{\"model\":\"llama3.2\",\"messages\":["
        "{\"role\":\"developer\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0K\"}}]},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Toronto\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_9\",\"content\":\"11 degrees\"}],"
        "\"temperature\":0,\"top_p\":0.9,\"top_k\":10,\"seed\":42,\"max_tokens\":64,\"stop\":\"\\n\",\"frequency_penalty\":0.5,"
        "\"response_format\":{\"type\":\"json_object\"},"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]}";
    gw_http_req_t r;
    json_object *b = build(w, &p, req, true, &r);
    assert_string_equal(r.url, "http://127.0.0.1:11434/api/chat");
    assert_false(has_header_prefix(&r, "Authorization"));
    assert_json(b,
        "{\"model\":\"llama3.2\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"What is this?\",\"images\":[\"iVBORw0K\"]},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Toronto\"}}}]},"
        "{\"role\":\"tool\",\"content\":\"11 degrees\",\"tool_name\":\"get_weather\"}],"
        "\"stream\":true,\"format\":\"json\","
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"options\":{\"temperature\":0,\"top_p\":0.9,\"top_k\":10,\"seed\":42,\"frequency_penalty\":0.5,\"num_predict\":64,\"stop\":[\"\\n\"]}}");
    json_object_put(b);
    gw_http_req_free(&r);

    /* a schema as format; tool_choice none drops the tools; a key for a proxy in front */
    p.api_key = "proxy-key";
    b = build(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"none\","
                     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                     "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{\"type\":\"object\"}}}}",
              false, &r);
    assert_true(has_header(&r, "Authorization: Bearer proxy-key"));
    assert_json(b, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":false,\"format\":{\"type\":\"object\"}}");
    json_object_put(b);
    gw_http_req_free(&r);

    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"http://x/a.png\"}}]}]}", "messages[0].content[0]");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
                       "\"arguments\":\"[1]\"}}]}]}", "messages[0].tool_calls[0].function.arguments");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":\"x\"}", "seed");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":[{\"role\":\"critic\",\"content\":\"x\"}]}", "messages[0].role");
    build_fails(w, &p, "{\"model\":\"m\",\"messages\":5}", "messages");
}

static void test_ollama_response(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_ollama;
    const char *body =
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-12-12T14:13:43.416799Z\",\"message\":{\"role\":\"assistant\","
        "\"content\":\"Hello! How are you today?\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":5191566416,"
        "\"load_duration\":2154458,\"prompt_eval_count\":26,\"prompt_eval_duration\":383809000,\"eval_count\":298,"
        "\"eval_duration\":4799921000}";
    json_object *out = NULL;
    hz_gw_error_t err;
    assert_int_equal(w->chat_response(body, strlen(body), "ollama/llama3.2", &out, &err), 0);
    mask_ids(out);
    assert_json(out, "{\"id\":\"chatcmpl-GEN\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"ollama/llama3.2\","
                     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How are you today?\"},"
                     "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":26,\"completion_tokens\":298,\"total_tokens\":324}}");
    json_object_put(out);

    body = "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
           "{\"name\":\"get_current_weather\",\"arguments\":{\"format\":\"celsius\",\"location\":\"Paris, FR\"}}}]},"
           "\"done_reason\":\"stop\",\"done\":true,\"prompt_eval_count\":1,\"eval_count\":2}";
    assert_int_equal(w->chat_response(body, strlen(body), "m", &out, &err), 0);
    mask_ids(out);
    assert_json(json_object_object_get(out, "choices"),
        "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_GEN\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_current_weather\",\"arguments\":\"{\\\"format\\\":\\\"celsius\\\",\\\"location\\\":\\\"Paris, FR\\\"}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]");
    json_object_put(out);

    body = "{\"message\":{\"role\":\"assistant\",\"content\":\"cut\"},\"done\":true,\"done_reason\":\"length\"}";
    assert_int_equal(w->chat_response(body, strlen(body), "m", &out, &err), 0);
    json_object *c0 = json_object_array_get_idx(json_object_object_get(out, "choices"), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(c0, "finish_reason")), "length");
    json_object_put(out);

    response_fails(w, "{\"done\":true}", "message");
    response_fails(w, "{\"message\":{\"content\":5}}", "message.content");
    response_fails(w, "{\"message\":{\"content\":\"\",\"tool_calls\":{}}}", "tool_calls");
    response_fails(w, "{\"message\":{\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":[1]}}]}}", "arguments");
    response_fails(w, "{\"message\":{\"content\":\"\"},\"eval_count\":\"x\"}", "eval_count");
    response_fails(w, "{\"error\":\"model runner crashed\"}", "model runner crashed");
}

static const char ollama_nd[] =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"done\":true,\"done_reason\":\"length\",\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,"
    "\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n";

static void test_ollama_stream(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_ollama;
    run_t r;
    run_all_splits(&r, w, ollama_nd);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks, "[" ACHUNK("{\"content\":\"The\",\"role\":\"assistant\"}", "null") ","
                          ACHUNK("{\"content\":\" sky\"}", "null") "," ACHUNK("{}", "\"length\"") "]");
    assert_usage(w, r.s, 26, 282, 0, "length");
    run_done(&r);

    run_stream(&r, w,
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
        "\"arguments\":{\"x\":1}}},{\"id\":\"call_own\",\"function\":{\"name\":\"g\",\"arguments\":{}}}]},\"done\":false}\n"
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
        "\"prompt_eval_count\":5,\"eval_count\":6}\n", NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_json(r.chunks, "[" ACHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"call_GEN\",\"type\":\"function\",\"function\":"
                                     "{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}},{\"index\":1,\"id\":\"call_own\",\"type\":\"function\","
                                     "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}],\"role\":\"assistant\"}", "null") ","
                          ACHUNK("{}", "\"tool_calls\"") "]");
    assert_usage(w, r.s, 5, 6, 0, "tool_calls");
    run_done(&r);

    /* the NDJSON parser's own error surfaces as its code, before any stream_event */
    run_stream(&r, w, "{\"message\":{\"content\":\"a\"},\"done\":false}\n{bad\n", NULL, 0);
    assert_int_equal(json_object_array_length(r.chunks), 1);
    assert_int_equal(r.rc, 0);
    run_done(&r);

    json_object *o = J("{\"error\":\"an error was encountered while running the model\"}");
    event_fails(w, NULL, NULL, o, 502, "while running the model");
    json_object_put(o);
    o = J("[1]");
    event_fails(w, NULL, NULL, o, 502, "not a JSON object");
    json_object_put(o);
    event_fails(w, NULL, NULL, NULL, 502, "not a JSON object");
    o = J("{\"message\":{\"content\":7},\"done\":false}");
    event_fails(w, NULL, NULL, o, 502, "message.content");
    json_object_put(o);
    o = J("{\"message\":\"x\",\"done\":false}");
    event_fails(w, NULL, NULL, o, 502, "\"message\"");
    json_object_put(o);
    o = J("{\"done\":\"yes\"}");
    event_fails(w, NULL, NULL, o, 502, "\"done\"");
    json_object_put(o);
    o = J("{\"done\":true,\"prompt_eval_count\":-3}");
    event_fails(w, NULL, NULL, o, 502, "prompt_eval_count");
    json_object_put(o);
    o = J("{\"message\":{\"content\":\"\",\"tool_calls\":[{\"function\":{}}]},\"done\":false}");
    event_fails(w, NULL, NULL, o, 502, "function name");
    json_object_put(o);
}

static void test_ollama_errors_embed_models(void **state) {
    (void)state;
    const gw_wire_ops_t *w = &gw_wire_ollama;
    error_maps(w, 404, "{\"error\":\"model \\\"llama9\\\" not found, try pulling it first\"}", 404, "invalid_request_error",
               "model_not_found", false, "llama9");
    error_maps(w, 400, "{\"error\":\"invalid options\"}", 400, "invalid_request_error", "", false, "invalid options");
    error_maps(w, 500, "{\"error\":\"llama runner process has terminated\"}", 502, "upstream_error", "", true, "terminated");
    error_maps(w, 503, "server busy", 503, "upstream_error", "", true, "server busy");

    gw_provider_t p = provider(HZ_GW_WIRE_OLLAMA, "http://127.0.0.1:11434", NULL);
    gw_http_req_t r;
    hz_gw_error_t err;
    json_object *o = J("{\"model\":\"all-minilm\",\"input\":[\"Why is the sky blue?\",\"Why is the grass green?\"],\"encoding_format\":\"base64\"}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), 0);
    json_object_put(o);
    assert_string_equal(r.url, "http://127.0.0.1:11434/api/embed");
    json_object *b = J(r.body.data);
    assert_json(b, "{\"model\":\"all-minilm\",\"input\":[\"Why is the sky blue?\",\"Why is the grass green?\"]}");
    json_object_put(b);
    gw_http_req_free(&r);
    o = J("{\"model\":\"m\",\"input\":[[1,2]]}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), HZ_EINVAL);
    json_object_put(o);
    o = J("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}");
    assert_int_equal(w->embed_request(&p, o, &r, &err), HZ_EINVAL);
    assert_string_equal(err.param, "dimensions");
    json_object_put(o);

    const char *body = "{\"model\":\"all-minilm\",\"embeddings\":[[0.010071029,-0.0017594862],[-0.0098027075,0.06042469]],"
                       "\"total_duration\":14143917,\"load_duration\":1019500,\"prompt_eval_count\":8}";
    json_object *out = NULL;
    hz_gw_usage_t u;
    assert_int_equal(w->embed_response(body, strlen(body), "ollama/all-minilm", &out, &u, &err), 0);
    assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.010071029,-0.0017594862]},"
                     "{\"object\":\"embedding\",\"index\":1,\"embedding\":[-0.0098027075,0.06042469]}],\"model\":\"ollama/all-minilm\","
                     "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}");
    assert_int_equal(u.prompt_tokens, 8);
    json_object_put(out);
    body = "{\"embeddings\":[[\"x\"]]}";
    assert_true(w->embed_response(body, strlen(body), "m", &out, &u, &err) < 0);
    assert_non_null(strstr(err.message, "embeddings[0][0]"));

    w->models_request(&p, &r);
    assert_string_equal(r.url, "http://127.0.0.1:11434/api/tags");
    assert_string_equal(r.method, "GET");
    gw_http_req_free(&r);
    body = "{\"models\":[{\"name\":\"deepseek-r1:latest\",\"model\":\"deepseek-r1:latest\",\"modified_at\":\"2025-05-10T08:06:48.639712648-07:00\","
           "\"size\":4683075271,\"digest\":\"0a8c\",\"details\":{\"format\":\"gguf\",\"family\":\"qwen2\"}},{\"model\":\"llama3.2:latest\"}]}";
    assert_int_equal(w->models_response(body, strlen(body), &out, &err), 0);
    assert_json(out, "[\"deepseek-r1:latest\",\"llama3.2:latest\"]");
    json_object_put(out);
    body = "{\"models\":[{\"size\":1}]}";
    assert_true(w->models_response(body, strlen(body), &out, &err) < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_types),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_http_req),
        cmocka_unit_test(test_openai_request),
        cmocka_unit_test(test_openai_response),
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_openai_errors),
        cmocka_unit_test(test_openai_embeddings_models),
        cmocka_unit_test(test_anthropic_request),
        cmocka_unit_test(test_anthropic_response),
        cmocka_unit_test(test_anthropic_stream),
        cmocka_unit_test(test_anthropic_errors_models),
        cmocka_unit_test(test_gemini_request),
        cmocka_unit_test(test_gemini_response),
        cmocka_unit_test(test_gemini_stream),
        cmocka_unit_test(test_gemini_errors_embed_models),
        cmocka_unit_test(test_ollama_request),
        cmocka_unit_test(test_ollama_response),
        cmocka_unit_test(test_ollama_stream),
        cmocka_unit_test(test_ollama_errors_embed_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
