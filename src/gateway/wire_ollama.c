/*
 * Ollama's native API: POST {base}/api/chat (an NDJSON stream, or one object with
 * "stream":false), /api/embed and /api/tags. The chat request keeps OpenAI's message list with
 * three differences that matter: sampling parameters live under "options" (max_tokens is
 * num_predict), images travel as bare base64 strings in the message's "images" array, and tool
 * call arguments are JSON objects where OpenAI has a JSON text, in both directions. Tool results
 * name their tool ("tool_name") instead of a call id, so the names are recovered from the
 * assistant turns that made the calls. response_format maps onto "format": "json" or a schema.
 * Ollama has no tool_choice; "none" is honoured by not offering the tools, the rest is left to
 * the model.
 *
 * Streams: every line carries a message fragment; tool calls arrive whole, so each becomes one
 * tool_calls delta with a generated call id when Ollama gave none. The line with "done": true
 * carries done_reason and the token counts (prompt_eval_count, eval_count) and ends the stream.
 * A line {"error": "..."} is Ollama reporting a failure mid-stream.
 */
#include "gateway/gw_internal.h"

#include <string.h>

static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) HZ_PRINTF(2, 3);
static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL, "ollama: %s", msg);
}

static int bad_param(hz_gw_error_t *err, const char *param, const char *fmt, ...) HZ_PRINTF(3, 4);
static int bad_param(hz_gw_error_t *err, const char *param, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hz_gw_error_set(err, 400, "invalid_request_error", NULL, param, "%s", msg);
}

static json_object *str(const char *s) { return json_object_new_string(s); }

static void headers(const gw_provider_t *p, gw_http_req_t *out) {
    /* Ollama itself needs no key; one configured is for a proxy in front of it. */
    if (p->api_key && *p->api_key) gw_http_req_header(out, "Authorization: Bearer %s", p->api_key);
}

/* ---- request ---------------------------------------------------------------------------- */

/* content (string or parts) -> text in *text, base64 images appended to images. */
static int flatten_content(json_object *content, size_t i, hz_buf_t *text, json_object *images, hz_gw_error_t *err) {
    char param[64];
    if (!content) return 0;
    if (json_object_is_type(content, json_type_string)) {
        hz_buf_puts(text, json_object_get_string(content));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array)) {
        snprintf(param, sizeof param, "messages[%zu].content", i);
        return bad_param(err, param, "%s must be a string or an array of content parts", param);
    }
    for (size_t j = 0; j < json_object_array_length(content); j++) {
        json_object *part = json_object_array_get_idx(content, j), *iu = NULL;
        const char *type = NULL, *t = NULL, *url = NULL;
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, j);
        if (hz_json_get_string(part, "type", true, &type) != 0)
            return bad_param(err, param, "%s needs a string \"type\"", param);
        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            if (hz_json_get_string(part, type, true, &t) != 0)
                return bad_param(err, param, "%s needs a string \"%s\"", param, type);
            if (text->len > 0 && *t) hz_buf_putc(text, '\n');
            hz_buf_puts(text, t);
        } else if (strcmp(type, "image_url") == 0 && images) {
            if (json_object_object_get_ex(part, "image_url", &iu) && json_object_is_type(iu, json_type_string))
                url = json_object_get_string(iu);
            else if (iu)
                hz_json_get_string(iu, "url", false, &url);
            const char *b64 = url && hz_str_starts_with(url, "data:") ? strstr(url, ";base64,") : NULL;
            if (!b64)
                return bad_param(err, param, "%s: Ollama takes images only as data: URLs with base64 content", param);
            json_object_array_add(images, str(b64 + 8));
        } else {
            return bad_param(err, param, "%s: content part type \"%s\" cannot be sent to Ollama", param, type);
        }
    }
    return 0;
}

static int convert_tool_calls(json_object *calls, size_t i, json_object *out, json_object *names, hz_gw_error_t *err) {
    char param[128];
    if (!json_object_is_type(calls, json_type_array)) {
        snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
        return bad_param(err, param, "%s must be an array", param);
    }
    json_object *list = json_object_new_array();
    for (size_t k = 0; k < json_object_array_length(calls); k++) {
        json_object *call = json_object_array_get_idx(calls, k), *fn = NULL, *args = NULL;
        const char *name = NULL, *id = NULL, *text = NULL;
        snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu]", i, k);
        if (hz_json_get_object(call, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0) {
            json_object_put(list);
            return bad_param(err, param, "%s needs \"function\" with a string \"name\"", param);
        }
        if (hz_json_get_string(fn, "arguments", false, &text) == 0 && *text) {
            if (hz_json_parse(text, strlen(text), &args) != 0 || !json_object_is_type(args, json_type_object)) {
                json_object_put(args);
                json_object_put(list);
                snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu].function.arguments", i, k);
                return bad_param(err, param, "%s must be a JSON object in a string", param);
            }
        } else {
            args = json_object_new_object();
        }
        if (hz_json_get_string(call, "id", false, &id) == 0) json_object_object_add(names, id, str(name));
        json_object *ofn = json_object_new_object();
        json_object_object_add(ofn, "name", str(name));
        json_object_object_add(ofn, "arguments", args);
        json_object *oc = json_object_new_object();
        json_object_object_add(oc, "function", ofn);
        json_object_array_add(list, oc);
    }
    json_object_object_add(out, "tool_calls", list);
    return 0;
}

static int convert_messages(json_object *msgs, json_object *body, hz_gw_error_t *err) {
    json_object *out = json_object_new_array();
    json_object *names = json_object_new_object();     /* tool call id -> function name */
    json_object_object_add(body, "messages", out);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *content = NULL, *calls = NULL;
        const char *role = NULL;
        char param[64];
        if (hz_json_get_string(m, "role", true, &role) != 0) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            rc = bad_param(err, param, "%s must be a string", param);
            break;
        }
        json_object_object_get_ex(m, "content", &content);
        bool user = strcmp(role, "user") == 0;
        if (strcmp(role, "developer") == 0) role = "system";
        if (!user && strcmp(role, "system") != 0 && strcmp(role, "assistant") != 0 && strcmp(role, "tool") != 0) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            rc = bad_param(err, param, "%s: role \"%s\" cannot be sent to Ollama", param, role);
            break;
        }
        hz_buf_t text = HZ_BUF_INIT;
        json_object *images = user ? json_object_new_array() : NULL;
        json_object *om = json_object_new_object();
        json_object_object_add(om, "role", str(role));
        rc = flatten_content(content, i, &text, images, err);
        json_object_object_add(om, "content", json_object_new_string_len(text.len ? text.data : "", (int)text.len));
        if (rc == 0 && images && json_object_array_length(images) > 0) json_object_object_add(om, "images", json_object_get(images));
        if (rc == 0 && strcmp(role, "assistant") == 0 && json_object_object_get_ex(m, "tool_calls", &calls) && calls)
            rc = convert_tool_calls(calls, i, om, names, err);
        if (rc == 0 && strcmp(role, "tool") == 0) {
            const char *id = NULL;
            json_object *name = NULL;
            if (hz_json_get_string(m, "tool_call_id", false, &id) == 0 && json_object_object_get_ex(names, id, &name))
                json_object_object_add(om, "tool_name", json_object_get(name));
        }
        json_object_array_add(out, om);
        json_object_put(images);
        hz_buf_free(&text);
    }
    json_object_put(names);
    return rc;
}

static int put_option(json_object *req, const char *from, json_object *opts, const char *to, bool integer,
                      hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, from, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int) && (integer || !json_object_is_type(v, json_type_double)))
        return bad_param(err, from, "%s must be a%s", from, integer ? "n integer" : " number");
    json_object_object_add(opts, to, json_object_get(v));
    return 0;
}

static int chat_request(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out, hz_gw_error_t *err) {
    const char *model = NULL;
    json_object *msgs = NULL, *v = NULL;
    if (!json_object_is_type(req, json_type_object)) return bad_param(err, NULL, "request body must be a JSON object");
    if (hz_json_get_string(req, "model", true, &model) != 0) return bad_param(err, "model", "model must be a string");
    if (hz_json_get_array(req, "messages", true, &msgs) != 0)
        return bad_param(err, "messages", "messages is required and must be an array");
    int64_t n = 1;
    if (hz_json_get_int(req, "n", false, &n) == HZ_EINVAL || n != 1) return bad_param(err, "n", "n must be 1 for Ollama models");

    json_object *body = json_object_new_object();
    json_object *opts = json_object_new_object();
    json_object_object_add(body, "model", str(model));
    int rc = convert_messages(msgs, body, err);
    json_object_object_add(body, "stream", json_object_new_boolean(stream));
    if (rc == 0) rc = put_option(req, "temperature", opts, "temperature", false, err);
    if (rc == 0) rc = put_option(req, "top_p", opts, "top_p", false, err);
    if (rc == 0) rc = put_option(req, "top_k", opts, "top_k", true, err);
    if (rc == 0) rc = put_option(req, "seed", opts, "seed", true, err);
    if (rc == 0) rc = put_option(req, "presence_penalty", opts, "presence_penalty", false, err);
    if (rc == 0) rc = put_option(req, "frequency_penalty", opts, "frequency_penalty", false, err);
    if (rc == 0) {
        bool mct = json_object_object_get_ex(req, "max_completion_tokens", &v) && v;
        rc = put_option(req, mct ? "max_completion_tokens" : "max_tokens", opts, "num_predict", true, err);
    }
    if (rc == 0 && json_object_object_get_ex(req, "stop", &v) && v) {
        json_object *stop = json_object_new_array();
        if (json_object_is_type(v, json_type_string)) {
            json_object_array_add(stop, json_object_get(v));
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t k = 0; rc == 0 && k < json_object_array_length(v); k++) {
                json_object *s = json_object_array_get_idx(v, k);
                if (!json_object_is_type(s, json_type_string)) rc = bad_param(err, "stop", "stop[%zu] is not a string", k);
                else json_object_array_add(stop, json_object_get(s));
            }
        } else {
            rc = bad_param(err, "stop", "stop must be a string or an array of strings");
        }
        if (rc == 0 && json_object_array_length(stop) > 0) json_object_object_add(opts, "stop", json_object_get(stop));
        json_object_put(stop);
    }
    if (rc == 0 && json_object_object_get_ex(req, "response_format", &v) && v) {
        const char *type = NULL;
        json_object *js = NULL, *schema = NULL;
        if (hz_json_get_string(v, "type", true, &type) != 0) {
            rc = bad_param(err, "response_format", "response_format needs a string \"type\"");
        } else if (strcmp(type, "json_object") == 0) {
            json_object_object_add(body, "format", str("json"));
        } else if (strcmp(type, "json_schema") == 0) {
            if (hz_json_get_object(v, "json_schema", true, &js) != 0 || hz_json_get_object(js, "schema", true, &schema) != 0)
                rc = bad_param(err, "response_format.json_schema", "response_format.json_schema needs a \"schema\" object");
            else
                json_object_object_add(body, "format", json_object_get(schema));
        } else if (strcmp(type, "text") != 0) {
            rc = bad_param(err, "response_format.type", "response_format type \"%s\" is not text, json_object or json_schema", type);
        }
    }
    if (rc == 0 && json_object_object_get_ex(req, "tools", &v) && v) {
        json_object *tc = NULL;
        bool none = json_object_object_get_ex(req, "tool_choice", &tc) && json_object_is_type(tc, json_type_string) &&
                    strcmp(json_object_get_string(tc), "none") == 0;
        if (!json_object_is_type(v, json_type_array)) rc = bad_param(err, "tools", "tools must be an array");
        else if (!none) json_object_object_add(body, "tools", json_object_get(v));  /* Ollama takes OpenAI's tool shape */
    }
    if (rc == 0) {
        if (json_object_object_length(opts) > 0) json_object_object_add(body, "options", json_object_get(opts));
        gw_http_req_init(out, "POST", "%s/api/chat", p->base_url);
        headers(p, out);
        gw_http_req_json(out, body);
    }
    json_object_put(opts);
    json_object_put(body);
    return rc;
}

/* ---- responses -------------------------------------------------------------------------- */

static int read_counts(json_object *o, hz_gw_usage_t *u, hz_gw_error_t *err) {
    int64_t v;
    int rc;
    if ((rc = hz_json_get_int(o, "prompt_eval_count", false, &v)) == 0 && v >= 0) u->prompt_tokens = v;
    else if (rc != HZ_ENOTFOUND) return bad_upstream(err, "prompt_eval_count is not a non-negative integer");
    if ((rc = hz_json_get_int(o, "eval_count", false, &v)) == 0 && v >= 0) u->completion_tokens = v;
    else if (rc != HZ_ENOTFOUND) return bad_upstream(err, "eval_count is not a non-negative integer");
    return 0;
}

/* Ollama's tool call -> OpenAI's (arguments as JSON text; a call id made up when absent). */
static int openai_tool_call(json_object *call, int index, json_object **out, hz_gw_error_t *err) {
    json_object *fn = NULL, *args = NULL;
    const char *name = NULL, *id = NULL;
    if (hz_json_get_object(call, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0)
        return bad_upstream(err, "tool_calls[%d] has no function name", index);
    json_object_object_get_ex(fn, "arguments", &args);
    const char *text;
    if (!args) text = "{}";
    else if (json_object_is_type(args, json_type_string)) text = json_object_get_string(args);
    else if (json_object_is_type(args, json_type_object)) text = hz_json_dump(args, NULL);
    else return bad_upstream(err, "tool_calls[%d].function.arguments is neither an object nor a string", index);
    json_object *ofn = json_object_new_object();
    json_object_object_add(ofn, "name", str(name));
    json_object_object_add(ofn, "arguments", str(text));
    json_object *oc = json_object_new_object();
    if (index >= 0) json_object_object_add(oc, "index", json_object_new_int(index));
    char *gen = NULL;
    if (hz_json_get_string(call, "id", false, &id) != 0 || !*id) id = gen = gw_completion_id("call_");
    json_object_object_add(oc, "id", str(id));
    hz_free(gen);
    json_object_object_add(oc, "type", str("function"));
    json_object_object_add(oc, "function", ofn);
    *out = oc;
    return 0;
}

static const char *finish_of(const char *done_reason, bool tools) {
    if (tools) return "tool_calls";
    if (done_reason && strcmp(done_reason, "length") == 0) return "length";
    return "stop";
}

static void error_from(int status, const char *body, size_t len, hz_gw_error_t *err) {
    int client = status == 429 ? 429 : status == 503 ? 503 : status == 408 || status == 504 ? 504
               : status >= 400 && status < 500 ? status : 502;
    json_object *root = NULL;
    const char *msg = NULL;
    if (len > 0 && hz_json_parse(body, len, &root) == 0) hz_json_get_string(root, "error", false, &msg);
    char text[200];
    if (!msg) {
        size_t n = 0;
        for (size_t i = 0; i < len && n + 1 < sizeof text; i++) text[n++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
        text[n] = '\0';
        msg = n ? text : "(empty body)";
    }
    const char *code = client == 404 && strstr(msg, "not found") ? "model_not_found" : NULL;
    hz_gw_error_set(err, client, client >= 500 ? "upstream_error" : NULL, code, NULL, "Ollama (HTTP %d): %s", status, msg);
    json_object_put(root);
}

static int chat_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *m = NULL, *calls = NULL;
    const char *content = "", *reason = NULL, *emsg = NULL;
    hz_gw_usage_t u = {0, 0, 0};
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "response is not JSON: %s", hz_error_last());
    int rc = 0;
    if (!json_object_is_type(root, json_type_object)) rc = bad_upstream(err, "response is not a JSON object");
    else if (hz_json_get_string(root, "error", false, &emsg) == 0) rc = hz_gw_error_set(err, 502, "upstream_error", NULL, NULL, "Ollama: %s", emsg);
    else if (hz_json_get_object(root, "message", true, &m) != 0) rc = bad_upstream(err, "response has no \"message\" object");
    else if (hz_json_get_string(m, "content", false, &content) == HZ_EINVAL) rc = bad_upstream(err, "message.content is not a string");
    else if (hz_json_get_string(root, "done_reason", false, &reason) == HZ_EINVAL) rc = bad_upstream(err, "done_reason is not a string");
    else if (hz_json_get_array(m, "tool_calls", false, &calls) == HZ_EINVAL) rc = bad_upstream(err, "message.tool_calls is not an array");
    else rc = read_counts(root, &u, err);
    json_object *oc = json_object_new_array();
    for (size_t k = 0; rc == 0 && calls && k < json_object_array_length(calls); k++) {
        json_object *c = NULL;
        if ((rc = openai_tool_call(json_object_array_get_idx(calls, k), -1, &c, err)) == 0) json_object_array_add(oc, c);
    }
    if (rc != 0) {
        json_object_put(oc);
        json_object_put(root);
        return rc;
    }
    if (!content) content = "";
    bool tools = json_object_array_length(oc) > 0;
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "role", str("assistant"));
    json_object_object_add(msg, "content", *content || !tools ? str(content) : NULL);
    if (tools) json_object_object_add(msg, "tool_calls", json_object_get(oc));
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", msg);
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason", str(finish_of(reason, tools)));
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    char *id = gw_completion_id("chatcmpl-");
    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", str(id));
    hz_free(id);
    json_object_object_add(c, "object", str("chat.completion"));
    json_object_object_add(c, "created", json_object_new_int64(hz_time_now_ms() / 1000));
    json_object_object_add(c, "model", str(model));
    json_object_object_add(c, "choices", choices);
    json_object_object_add(c, "usage", gw_usage_json(&u));
    json_object_put(oc);
    json_object_put(root);
    *out = c;
    return 0;
}

/* ---- streams ---------------------------------------------------------------------------- */

typedef struct {
    char *id, *model;
    int64_t created;
    hz_gw_usage_t usage;
    char finish[24];
    bool role_sent, done;
    int n_tools;
} o_stream_t;

static gw_stream_t *stream_new(const char *id, int64_t created, const char *model) {
    o_stream_t *s = hz_calloc(1, sizeof *s);
    s->id = hz_strdup(id);
    s->model = hz_strdup(model);
    s->created = created;
    return (gw_stream_t *)s;
}

static void stream_free(gw_stream_t *gs) {
    o_stream_t *s = (o_stream_t *)gs;
    if (!s) return;
    hz_free(s->id);
    hz_free(s->model);
    hz_free(s);
}

static void stream_result(gw_stream_t *gs, hz_gw_usage_t *usage, char finish[24]) {
    o_stream_t *s = (o_stream_t *)gs;
    if (usage) *usage = s->usage;
    if (finish) memcpy(finish, s->finish, 24);
}

static int emit_delta(o_stream_t *s, json_object *delta, const char *finish, gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    if (!delta) delta = json_object_new_object();
    if (!s->role_sent) {
        json_object_object_add(delta, "role", str("assistant"));
        s->role_sent = true;
    }
    json_object *c = gw_chunk_new(s->id, s->created, s->model, delta, finish);
    int rc = emit ? emit(c, ud) : 0;
    json_object_put(c);
    if (rc != 0) {
        hz_gw_error_set(err, 499, "api_error", "cancelled", NULL, "the client stopped reading the stream");
        err->retryable = false;
        return HZ_ECLOSED;
    }
    return 0;
}

static int stream_event(gw_stream_t *gs, const char *event, const char *data, size_t len, json_object *obj,
                        gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    o_stream_t *s = (o_stream_t *)gs;
    (void)event;
    (void)data;
    (void)len;
    if (s->done) return 1;
    json_object *m = NULL, *calls = NULL;
    const char *content = NULL, *emsg = NULL, *reason = NULL;
    bool done = false;
    if (!json_object_is_type(obj, json_type_object)) return bad_upstream(err, "stream line is not a JSON object");
    if (hz_json_get_string(obj, "error", false, &emsg) == 0)
        return hz_gw_error_set(err, 502, "upstream_error", NULL, NULL, "Ollama: %s", emsg);
    if (hz_json_get_bool(obj, "done", false, &done) == HZ_EINVAL) return bad_upstream(err, "\"done\" is not a boolean");
    int rc = hz_json_get_object(obj, "message", false, &m);
    if (rc == HZ_EINVAL) return bad_upstream(err, "\"message\" is not an object");
    if (m) {
        if (hz_json_get_string(m, "content", false, &content) == HZ_EINVAL) return bad_upstream(err, "message.content is not a string");
        if (hz_json_get_array(m, "tool_calls", false, &calls) == HZ_EINVAL) return bad_upstream(err, "message.tool_calls is not an array");
    }
    if (content && *content) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "content", str(content));
        if ((rc = emit_delta(s, d, NULL, emit, ud, err)) != 0) return rc;
    }
    if (calls && json_object_array_length(calls) > 0) {
        json_object *list = json_object_new_array();
        for (size_t k = 0; k < json_object_array_length(calls); k++) {
            json_object *c = NULL;
            if ((rc = openai_tool_call(json_object_array_get_idx(calls, k), s->n_tools, &c, err)) != 0) {
                json_object_put(list);
                return rc;
            }
            s->n_tools++;
            json_object_array_add(list, c);
        }
        json_object *d = json_object_new_object();
        json_object_object_add(d, "tool_calls", list);
        if ((rc = emit_delta(s, d, NULL, emit, ud, err)) != 0) return rc;
    }
    if (!done) return 0;
    if (hz_json_get_string(obj, "done_reason", false, &reason) == HZ_EINVAL) return bad_upstream(err, "done_reason is not a string");
    if ((rc = read_counts(obj, &s->usage, err)) != 0) return rc;
    snprintf(s->finish, sizeof s->finish, "%s", finish_of(reason, s->n_tools > 0));
    s->done = true;
    if ((rc = emit_delta(s, NULL, s->finish, emit, ud, err)) != 0) return rc;
    return 1;
}

/* ---- embeddings and models -------------------------------------------------------------- */

static int embed_request(const gw_provider_t *p, json_object *req, gw_http_req_t *out, hz_gw_error_t *err) {
    const char *model = NULL;
    json_object *input = NULL, *dims = NULL;
    if (!json_object_is_type(req, json_type_object)) return bad_param(err, NULL, "request body must be a JSON object");
    if (hz_json_get_string(req, "model", true, &model) != 0) return bad_param(err, "model", "model must be a string");
    if (!json_object_object_get_ex(req, "input", &input) || !input) return bad_param(err, "input", "input is required");
    if (json_object_is_type(input, json_type_array)) {
        for (size_t k = 0; k < json_object_array_length(input); k++) {
            if (!json_object_is_type(json_object_array_get_idx(input, k), json_type_string))
                return bad_param(err, "input", "input[%zu]: Ollama embeds text only, not token arrays", k);
        }
    } else if (!json_object_is_type(input, json_type_string)) {
        return bad_param(err, "input", "input must be a string or an array of strings");
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "model", str(model));
    json_object_object_add(body, "input", json_object_get(input));
    if (json_object_object_get_ex(req, "dimensions", &dims) && dims) {
        if (!json_object_is_type(dims, json_type_int) || json_object_get_int64(dims) < 1) {
            json_object_put(body);
            return bad_param(err, "dimensions", "dimensions must be a positive integer");
        }
        json_object_object_add(body, "dimensions", json_object_get(dims));
    }
    gw_http_req_init(out, "POST", "%s/api/embed", p->base_url);
    headers(p, out);
    gw_http_req_json(out, body);
    json_object_put(body);
    return 0;
}

static int embed_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_usage_t *usage,
                          hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *embs = NULL;
    hz_gw_usage_t u = {0, 0, 0};
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "embed response is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "embeddings", true, &embs) != 0) {
        json_object_put(root);
        return bad_upstream(err, "embed response has no \"embeddings\" array");
    }
    if (read_counts(root, &u, err) != 0) {
        json_object_put(root);
        return HZ_EIO;
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(embs); i++) {
        json_object *vec = json_object_array_get_idx(embs, i);
        if (!json_object_is_type(vec, json_type_array)) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "embeddings[%zu] is not an array", i);
        }
        json_object *floats = json_object_new_array_ext((int)json_object_array_length(vec));
        for (size_t k = 0; k < json_object_array_length(vec); k++) {
            json_object *x = json_object_array_get_idx(vec, k);
            if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
                json_object_put(floats);
                json_object_put(list);
                json_object_put(root);
                return bad_upstream(err, "embeddings[%zu][%zu] is not a number", i, k);
            }
            json_object_array_add(floats, json_object_new_double(json_object_get_double(x)));
        }
        json_object *e = json_object_new_object();
        json_object_object_add(e, "object", str("embedding"));
        json_object_object_add(e, "index", json_object_new_int64((int64_t)i));
        json_object_object_add(e, "embedding", floats);
        json_object_array_add(list, e);
    }
    json_object_put(root);
    json_object *res = json_object_new_object();
    json_object_object_add(res, "object", str("list"));
    json_object_object_add(res, "data", list);
    json_object_object_add(res, "model", str(model));
    json_object *uj = json_object_new_object();
    json_object_object_add(uj, "prompt_tokens", json_object_new_int64(u.prompt_tokens));
    json_object_object_add(uj, "total_tokens", json_object_new_int64(u.prompt_tokens));
    json_object_object_add(res, "usage", uj);
    if (usage) *usage = u;
    *out = res;
    return 0;
}

static void models_request(const gw_provider_t *p, gw_http_req_t *out) {
    gw_http_req_init(out, "GET", "%s/api/tags", p->base_url);
    headers(p, out);
}

static int models_response(const char *body, size_t len, json_object **ids, hz_gw_error_t *err) {
    *ids = NULL;
    json_object *root = NULL, *models = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "model list is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "models", true, &models) != 0) {
        json_object_put(root);
        return bad_upstream(err, "model list has no \"models\" array");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(models); i++) {
        json_object *m = json_object_array_get_idx(models, i);
        const char *name = NULL;
        if (hz_json_get_string(m, "name", false, &name) != 0 && hz_json_get_string(m, "model", false, &name) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "model list: models[%zu] has no string \"name\"", i);
        }
        json_object_array_add(list, str(name));
    }
    json_object_put(root);
    *ids = list;
    return 0;
}

const gw_wire_ops_t gw_wire_ollama = {
    .wire = HZ_GW_WIRE_OLLAMA,
    .framing = GW_FRAMING_NDJSON,
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
};
