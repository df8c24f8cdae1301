/*
 * The OpenAI wire: OpenAI itself and the compatible family (Groq, DeepSeek, Together,
 * OpenRouter, xAI, Exo, llama-server, vLLM, any base URL). Requests pass through nearly as
 * they are, since they are already in this shape; what the wire does is keep the gateway's
 * promises on the way back. Streaming requests always ask for stream_options.include_usage so
 * the usage is known for accounting whatever the client asked for; the usage-only chunk that
 * produces is swallowed here (the router emits its own when the client wanted it), and usage
 * attached to an ordinary chunk is lifted off it. Every chunk is re-stamped with the call's
 * id, created and the model name the client used, so aliases and fallbacks are invisible.
 * Everything else in a chunk (tool_calls deltas, logprobs, refusal) passes through untouched.
 * Upstream data is checked for the types the gateway relies on and anything else is reported
 * as a 502 naming the field, never trusted.
 */
#include "gateway/gw_internal.h"

#include <string.h>

typedef struct {
    char *id;
    int64_t created;
    char *model;
    hz_gw_usage_t usage;
    char finish[24];
} oa_stream_t;

static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) HZ_PRINTF(2, 3);
static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL, "%s", msg);
}

/* The status the client sees for an upstream failure: its own 4xx stay (they describe the
 * request), 429 stays (Retry-After is passed on), overload is 503, the rest of 5xx is 502. */
static int gw_client_status(int upstream) {
    if (upstream == 429) return 429;
    if (upstream == 408 || upstream == 504) return 504;
    if (upstream >= 400 && upstream < 500) return upstream;
    if (upstream == 503 || upstream == 529) return 503;
    return 502;
}

static void add_auth(const gw_provider_t *p, gw_http_req_t *out) {
    if (p->api_key && *p->api_key) gw_http_req_header(out, "Authorization: Bearer %s", p->api_key);
}

/* Copy req, set the stream flags the gateway needs, and build the POST. */
static int post_json(const gw_provider_t *p, json_object *req, bool stream, const char *path,
                     gw_http_req_t *out, hz_gw_error_t *err) {
    if (!json_object_is_type(req, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", NULL, NULL, "request body must be a JSON object");
    json_object *body = NULL;
    if (json_object_deep_copy(req, &body, NULL) != 0 || !body)
        return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "could not copy the request");
    json_object_object_add(body, "stream", json_object_new_boolean(stream));
    if (stream) {
        json_object *so = NULL;
        if (!json_object_object_get_ex(body, "stream_options", &so) || !json_object_is_type(so, json_type_object)) {
            so = json_object_new_object();
            json_object_object_add(body, "stream_options", so);
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(true));
    } else {
        /* OpenAI rejects stream_options on a non-streaming request. */
        json_object_object_del(body, "stream_options");
    }
    gw_http_req_init(out, "POST", "%s%s", p->base_url, path);
    add_auth(p, out);
    if (stream) gw_http_req_header(out, "Accept: text/event-stream");
    gw_http_req_json(out, body);
    json_object_put(body);
    return 0;
}

static int chat_request(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out,
                        hz_gw_error_t *err) {
    return post_json(p, req, stream, "/chat/completions", out, err);
}

static int completion_request(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out,
                              hz_gw_error_t *err) {
    return post_json(p, req, stream, "/completions", out, err);
}

/* Read an OpenAI usage object into u. Absent fields count as 0; wrong types are an error. */
static int read_usage(json_object *uo, hz_gw_usage_t *u, hz_gw_error_t *err) {
    if (!json_object_is_type(uo, json_type_object)) return bad_upstream(err, "upstream usage is not an object");
    int64_t v;
    int rc;
    if ((rc = hz_json_get_int(uo, "prompt_tokens", false, &v)) == 0) u->prompt_tokens = v;
    else if (rc != HZ_ENOTFOUND) return bad_upstream(err, "upstream usage: %s", hz_error_last());
    if ((rc = hz_json_get_int(uo, "completion_tokens", false, &v)) == 0) u->completion_tokens = v;
    else if (rc != HZ_ENOTFOUND) return bad_upstream(err, "upstream usage: %s", hz_error_last());
    json_object *d = NULL;
    if (hz_json_get_object(uo, "prompt_tokens_details", false, &d) == 0 &&
        hz_json_get_int(d, "cached_tokens", false, &v) == 0)
        u->cached_tokens = v;
    if (u->prompt_tokens < 0 || u->completion_tokens < 0 || u->cached_tokens < 0)
        return bad_upstream(err, "upstream usage: negative token count");
    return 0;
}

/* {"error":{...}} inside a 2xx body or a stream chunk. */
static void error_object(int status, json_object *eo, hz_gw_error_t *err) {
    const char *msg = NULL, *type = NULL, *code = NULL, *param = NULL;
    char codebuf[24] = "";
    if (json_object_is_type(eo, json_type_string)) {
        msg = json_object_get_string(eo);
    } else if (json_object_is_type(eo, json_type_object)) {
        hz_json_get_string(eo, "message", false, &msg);
        hz_json_get_string(eo, "type", false, &type);
        hz_json_get_string(eo, "param", false, &param);
        json_object *c = NULL;
        if (json_object_object_get_ex(eo, "code", &c)) {
            if (json_object_is_type(c, json_type_string)) code = json_object_get_string(c);
            else if (json_object_is_type(c, json_type_int)) {
                /* Some compatible servers put the HTTP status here. */
                snprintf(codebuf, sizeof codebuf, "%lld", (long long)json_object_get_int64(c));
                code = codebuf;
            }
        }
    }
    int client = gw_client_status(status);
    if (client >= 500) type = client == 504 ? "timeout" : "upstream_error";
    else if (client == 429) type = "rate_limit_error";
    hz_gw_error_set(err, client, type, code, param, "%s", msg && *msg ? msg : "upstream error without a message");
}

static void error_from(int status, const char *body, size_t len, hz_gw_error_t *err) {
    json_object *root = NULL, *eo = NULL;
    if (len > 0 && hz_json_parse(body, len, &root) == 0 && json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "error", &eo) &&
        (json_object_is_type(eo, json_type_object) || json_object_is_type(eo, json_type_string))) {
        error_object(status, eo, err);
    } else {
        /* Not the documented shape: keep a printable prefix of the body for the person debugging. */
        char text[200];
        size_t n = 0;
        for (size_t i = 0; i < len && n + 1 < sizeof text; i++)
            text[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
        text[n] = '\0';
        error_object(status, NULL, err);
        snprintf(err->message, sizeof err->message, "upstream returned HTTP %d: %s", status,
                 n ? text : "(empty body)");
    }
    json_object_put(root);
}

static int chat_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "upstream response is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return bad_upstream(err, "upstream response is not a JSON object");
    }
    json_object *eo = NULL;
    if (json_object_object_get_ex(root, "error", &eo) && eo) {
        error_object(502, eo, err);
        json_object_put(root);
        return HZ_EIO;
    }
    json_object *choices = NULL;
    if (hz_json_get_array(root, "choices", true, &choices) != 0) {
        json_object_put(root);
        return bad_upstream(err, "upstream response: %s", hz_error_last());
    }
    bool text_completion = false;
    for (size_t i = 0; i < json_object_array_length(choices); i++) {
        json_object *c = json_object_array_get_idx(choices, i), *m = NULL;
        const char *t;
        if (!json_object_is_type(c, json_type_object)) {
            json_object_put(root);
            return bad_upstream(err, "upstream response: choices[%zu] is not an object", i);
        }
        if (hz_json_get_object(c, "message", false, &m) == 0) continue;
        if (hz_json_get_string(c, "text", false, &t) == 0) {
            text_completion = true;
            continue;
        }
        json_object_put(root);
        return bad_upstream(err, "upstream response: choices[%zu] has neither a \"message\" object nor \"text\"", i);
    }
    hz_gw_usage_t u = {0, 0, 0};
    json_object *uo = NULL;
    if (json_object_object_get_ex(root, "usage", &uo) && uo && read_usage(uo, &u, err) != 0) {
        json_object_put(root);
        return HZ_EIO;
    }
    json_object_object_add(root, "usage", gw_usage_json(&u));
    const char *id = NULL;
    if (hz_json_get_string(root, "id", false, &id) != 0) {
        char *nid = gw_completion_id(text_completion ? "cmpl-" : "chatcmpl-");
        json_object_object_add(root, "id", json_object_new_string(nid));
        hz_free(nid);
    }
    json_object_object_add(root, "object", json_object_new_string(text_completion ? "text_completion" : "chat.completion"));
    int64_t created;
    if (hz_json_get_int(root, "created", false, &created) != 0)
        json_object_object_add(root, "created", json_object_new_int64(hz_time_now_ms() / 1000));
    json_object_object_add(root, "model", json_object_new_string(model));
    *out = root;
    return 0;
}

static gw_stream_t *stream_new(const char *id, int64_t created, const char *model) {
    oa_stream_t *s = hz_calloc(1, sizeof *s);
    s->id = hz_strdup(id);
    s->created = created;
    s->model = hz_strdup(model);
    return (gw_stream_t *)s;
}

static int stream_event(gw_stream_t *gs, const char *event, const char *data, size_t len, json_object *obj,
                        gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    oa_stream_t *s = (oa_stream_t *)gs;
    (void)obj;
    if (!data) return bad_upstream(err, "upstream stream: event without data");
    size_t a = 0, b = len;
    while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\n')) a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\n')) b--;
    if (b - a == 6 && memcmp(data + a, "[DONE]", 6) == 0) return 1;
    json_object *c = NULL;
    if (hz_json_parse(data, len, &c) != 0)
        return bad_upstream(err, "upstream stream chunk is not JSON: %s", hz_error_last());
    if (!json_object_is_type(c, json_type_object)) {
        json_object_put(c);
        return bad_upstream(err, "upstream stream chunk is not a JSON object");
    }
    json_object *eo = NULL;
    if ((json_object_object_get_ex(c, "error", &eo) && eo) || (event && strcmp(event, "error") == 0)) {
        error_object(502, eo ? eo : c, err);
        json_object_put(c);
        return HZ_EIO;
    }
    json_object *uo = NULL;
    if (json_object_object_get_ex(c, "usage", &uo)) {
        if (uo && read_usage(uo, &s->usage, err) != 0) {
            json_object_put(c);
            return HZ_EIO;
        }
        json_object_object_del(c, "usage");
    }
    json_object *choices = NULL;
    int rc = hz_json_get_array(c, "choices", false, &choices);
    if (rc == HZ_EINVAL) {
        json_object_put(c);
        return bad_upstream(err, "upstream stream chunk: %s", hz_error_last());
    }
    size_t n = choices ? json_object_array_length(choices) : 0;
    bool text_completion = false;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = json_object_array_get_idx(choices, i), *d = NULL, *fr = NULL;
        if (!json_object_is_type(ch, json_type_object)) {
            json_object_put(c);
            return bad_upstream(err, "upstream stream chunk: choices[%zu] is not an object", i);
        }
        if (json_object_object_get_ex(ch, "delta", &d) && d && !json_object_is_type(d, json_type_object)) {
            json_object_put(c);
            return bad_upstream(err, "upstream stream chunk: choices[%zu].delta is not an object", i);
        }
        if (!d && json_object_object_get_ex(ch, "text", NULL)) text_completion = true;
        if (json_object_object_get_ex(ch, "finish_reason", &fr) && fr) {
            if (!json_object_is_type(fr, json_type_string)) {
                json_object_put(c);
                return bad_upstream(err, "upstream stream chunk: choices[%zu].finish_reason is not a string", i);
            }
            snprintf(s->finish, sizeof s->finish, "%s", json_object_get_string(fr));
        }
    }
    if (n == 0) {
        /* The usage-only chunk, or a provider's bookkeeping chunk (prompt filter results). */
        json_object_put(c);
        return 0;
    }
    json_object_object_add(c, "id", json_object_new_string(s->id));
    json_object_object_add(c, "object", json_object_new_string(text_completion ? "text_completion" : "chat.completion.chunk"));
    json_object_object_add(c, "created", json_object_new_int64(s->created));
    json_object_object_add(c, "model", json_object_new_string(s->model));
    rc = emit ? emit(c, ud) : 0;
    json_object_put(c);
    if (rc != 0) {
        hz_gw_error_set(err, 499, "api_error", "cancelled", NULL, "the client stopped reading the stream");
        err->retryable = false;
        return HZ_ECLOSED;
    }
    return 0;
}

static void stream_result(gw_stream_t *gs, hz_gw_usage_t *usage, char finish_reason[24]) {
    oa_stream_t *s = (oa_stream_t *)gs;
    if (usage) *usage = s->usage;
    if (finish_reason) memcpy(finish_reason, s->finish, sizeof s->finish);
}

static void stream_free(gw_stream_t *gs) {
    oa_stream_t *s = (oa_stream_t *)gs;
    if (!s) return;
    hz_free(s->id);
    hz_free(s->model);
    hz_free(s);
}

static int embed_request(const gw_provider_t *p, json_object *req, gw_http_req_t *out, hz_gw_error_t *err) {
    if (!json_object_is_type(req, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", NULL, NULL, "request body must be a JSON object");
    json_object *body = NULL;
    if (json_object_deep_copy(req, &body, NULL) != 0 || !body)
        return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "could not copy the request");
    /* The router encodes base64 itself, so the upstream always sends plain floats. */
    json_object_object_add(body, "encoding_format", json_object_new_string("float"));
    gw_http_req_init(out, "POST", "%s/embeddings", p->base_url);
    add_auth(p, out);
    gw_http_req_json(out, body);
    json_object_put(body);
    return 0;
}

static int embed_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_usage_t *usage,
                          hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *data = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "upstream embeddings response is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "data", true, &data) != 0) {
        json_object_put(root);
        return bad_upstream(err, "upstream embeddings response has no \"data\" array");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        json_object *d = json_object_array_get_idx(data, i), *vec = NULL;
        if (!json_object_is_type(d, json_type_object) || hz_json_get_array(d, "embedding", true, &vec) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "upstream embeddings response: data[%zu].embedding is not an array", i);
        }
        int64_t index = (int64_t)i;
        if (hz_json_get_int(d, "index", false, &index) == HZ_EINVAL) index = (int64_t)i;
        json_object *floats = json_object_new_array_ext((int)json_object_array_length(vec));
        for (size_t k = 0; k < json_object_array_length(vec); k++) {
            json_object *x = json_object_array_get_idx(vec, k);
            if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
                json_object_put(floats);
                json_object_put(list);
                json_object_put(root);
                return bad_upstream(err, "upstream embeddings response: data[%zu].embedding[%zu] is not a number", i, k);
            }
            json_object_array_add(floats, json_object_new_double(json_object_get_double(x)));
        }
        json_object *e = json_object_new_object();
        json_object_object_add(e, "object", json_object_new_string("embedding"));
        json_object_object_add(e, "index", json_object_new_int64(index));
        json_object_object_add(e, "embedding", floats);
        json_object_array_add(list, e);
    }
    hz_gw_usage_t u = {0, 0, 0};
    json_object *uo = NULL;
    if (json_object_object_get_ex(root, "usage", &uo) && uo && read_usage(uo, &u, err) != 0) {
        json_object_put(list);
        json_object_put(root);
        return HZ_EIO;
    }
    json_object_put(root);
    json_object *res = json_object_new_object();
    json_object_object_add(res, "object", json_object_new_string("list"));
    json_object_object_add(res, "data", list);
    json_object_object_add(res, "model", json_object_new_string(model));
    json_object *uj = json_object_new_object();
    json_object_object_add(uj, "prompt_tokens", json_object_new_int64(u.prompt_tokens));
    json_object_object_add(uj, "total_tokens", json_object_new_int64(u.prompt_tokens + u.completion_tokens));
    json_object_object_add(res, "usage", uj);
    if (usage) *usage = u;
    *out = res;
    return 0;
}

static void models_request(const gw_provider_t *p, gw_http_req_t *out) {
    gw_http_req_init(out, "GET", "%s/models", p->base_url);
    add_auth(p, out);
}

static int models_response(const char *body, size_t len, json_object **ids, hz_gw_error_t *err) {
    *ids = NULL;
    json_object *root = NULL, *data = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "upstream model list is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "data", true, &data) != 0) {
        json_object_put(root);
        return bad_upstream(err, "upstream model list has no \"data\" array");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        const char *id;
        if (hz_json_get_string(json_object_array_get_idx(data, i), "id", true, &id) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "upstream model list: data[%zu] has no string \"id\"", i);
        }
        json_object_array_add(list, json_object_new_string(id));
    }
    json_object_put(root);
    *ids = list;
    return 0;
}

const gw_wire_ops_t gw_wire_openai = {
    .wire = HZ_GW_WIRE_OPENAI,
    .framing = GW_FRAMING_SSE,
    .chat_request = chat_request,
    .chat_response = chat_response,
    .stream_new = stream_new,
    .stream_event = stream_event,
    .stream_result = stream_result,
    .stream_free = stream_free,
    .error_from = error_from,
    .embed_request = embed_request,
    .embed_response = embed_response,
    .models_request = models_request,
    .models_response = models_response,
    .completion_request = completion_request,
};
