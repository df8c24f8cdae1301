/*
 * The Anthropic Messages wire (POST {base}/v1/messages, x-api-key, anthropic-version
 * 2023-06-01). Requests: system and developer messages are hoisted into the top-level "system";
 * user content parts become text and image blocks; assistant tool_calls become tool_use blocks
 * with their JSON arguments parsed into "input"; tool messages become tool_result blocks in a
 * user turn; consecutive turns of the same role are merged, which keeps parallel tool results
 * in the one user message Anthropic expects. max_tokens is required upstream, so 4096 is sent
 * when the client gave none. response_format json_object / json_schema is emulated with a
 * system instruction (and, for a schema, the schema itself): Anthropic has no JSON mode, and
 * refusing the parameter would break clients that always send it; the instruction is what
 * Anthropic's own documentation recommends for consistent JSON.
 *
 * Streams: Anthropic's typed events are turned into OpenAI chunks as they arrive. message_start
 * gives the role chunk, text_delta gives content deltas, a tool_use block gives a tool_calls
 * delta with id and name and then one with each input_json_delta fragment as "arguments", all
 * under an OpenAI tool index counted separately from Anthropic's block index. message_delta
 * carries the stop reason and cumulative usage; message_stop sends the final chunk and ends
 * the stream. Thinking blocks and unknown events are skipped, as Anthropic asks clients to do.
 * Usage: Anthropic counts cache reads and writes apart from input_tokens, OpenAI includes them
 * in prompt_tokens, so they are added back.
 */
#include "gateway/gw_internal.h"

#include <string.h>

#define ANTHROPIC_VERSION "2023-06-01"
#define DEFAULT_MAX_TOKENS 4096
#define MAX_BLOCKS 4096         /* content block indexes we track per stream */

static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) HZ_PRINTF(2, 3);
static int bad_upstream(hz_gw_error_t *err, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL, "anthropic: %s", msg);
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

/* {base}/v1/...: tolerate a base URL configured with the /v1 already on it. */
static const char *v1(const gw_provider_t *p) { return hz_str_ends_with(p->base_url, "/v1") ? "" : "/v1"; }

static void headers(const gw_provider_t *p, gw_http_req_t *out) {
    if (p->api_key && *p->api_key) gw_http_req_header(out, "x-api-key: %s", p->api_key);
    gw_http_req_header(out, "anthropic-version: " ANTHROPIC_VERSION);
}

/* ---- request ---------------------------------------------------------------------------- */

static json_object *text_block(const char *text, size_t len) {
    json_object *b = json_object_new_object();
    json_object_object_add(b, "type", str("text"));
    json_object_object_add(b, "text", json_object_new_string_len(text, (int)len));
    return b;
}

static int image_block(json_object *part, const char *param, json_object **out, hz_gw_error_t *err) {
    json_object *iu = NULL;
    const char *url = NULL;
    if (!json_object_object_get_ex(part, "image_url", &iu)) iu = NULL;
    if (json_object_is_type(iu, json_type_string)) url = json_object_get_string(iu);
    else if (iu) hz_json_get_string(iu, "url", false, &url);
    if (!url) return bad_param(err, param, "%s: image_url needs a \"url\"", param);
    json_object *src = json_object_new_object();
    if (hz_str_starts_with(url, "data:")) {
        const char *comma = strchr(url, ',');
        const char *semi = strstr(url, ";base64,");
        if (!comma || !semi || semi + 7 != comma) {
            json_object_put(src);
            return bad_param(err, param, "%s: a data: image URL must be base64 (data:<type>;base64,...)", param);
        }
        json_object_object_add(src, "type", str("base64"));
        json_object_object_add(src, "media_type", json_object_new_string_len(url + 5, (int)(semi - url - 5)));
        json_object_object_add(src, "data", str(comma + 1));
    } else if (hz_str_starts_with(url, "https://") || hz_str_starts_with(url, "http://")) {
        json_object_object_add(src, "type", str("url"));
        json_object_object_add(src, "url", str(url));
    } else {
        json_object_put(src);
        return bad_param(err, param, "%s: image URL must be data: or http(s):", param);
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "type", str("image"));
    json_object_object_add(*out, "source", src);
    return 0;
}

/* OpenAI content (string or parts) -> Anthropic blocks appended to blocks. Empty text is
 * dropped: Anthropic rejects empty text blocks. */
static int content_blocks(json_object *content, size_t i, bool allow_images, json_object *blocks, hz_gw_error_t *err) {
    char param[64];
    if (!content) return 0;
    if (json_object_is_type(content, json_type_string)) {
        size_t n = (size_t)json_object_get_string_len(content);
        if (n > 0) json_object_array_add(blocks, text_block(json_object_get_string(content), n));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array)) {
        snprintf(param, sizeof param, "messages[%zu].content", i);
        return bad_param(err, param, "%s must be a string or an array of content parts", param);
    }
    for (size_t j = 0; j < json_object_array_length(content); j++) {
        json_object *part = json_object_array_get_idx(content, j);
        const char *type = NULL, *text = NULL;
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, j);
        if (hz_json_get_string(part, "type", true, &type) != 0)
            return bad_param(err, param, "%s needs a string \"type\"", param);
        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            if (hz_json_get_string(part, strcmp(type, "text") == 0 ? "text" : "refusal", true, &text) != 0)
                return bad_param(err, param, "%s needs a string \"%s\"", param, type);
            if (*text) json_object_array_add(blocks, text_block(text, strlen(text)));
        } else if (strcmp(type, "image_url") == 0 && allow_images) {
            json_object *b = NULL;
            int rc = image_block(part, param, &b, err);
            if (rc != 0) return rc;
            json_object_array_add(blocks, b);
        } else {
            return bad_param(err, param, "%s: content part type \"%s\" cannot be sent to Anthropic", param, type);
        }
    }
    return 0;
}

static int content_text(json_object *content, size_t i, hz_buf_t *out, hz_gw_error_t *err) {
    json_object *blocks = json_object_new_array();
    int rc = content_blocks(content, i, false, blocks, err);
    for (size_t k = 0; rc == 0 && k < json_object_array_length(blocks); k++) {
        const char *t = NULL;
        hz_json_get_string(json_object_array_get_idx(blocks, k), "text", false, &t);
        if (out->len > 0 && k == 0) hz_buf_puts(out, "\n\n");
        if (t) hz_buf_puts(out, t);
    }
    json_object_put(blocks);
    return rc;
}

static int tool_use_blocks(json_object *calls, size_t i, json_object *blocks, hz_gw_error_t *err) {
    char param[128];
    if (!json_object_is_type(calls, json_type_array)) {
        snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
        return bad_param(err, param, "%s must be an array", param);
    }
    for (size_t k = 0; k < json_object_array_length(calls); k++) {
        json_object *call = json_object_array_get_idx(calls, k), *fn = NULL;
        const char *id = NULL, *name = NULL, *args = NULL;
        snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu]", i, k);
        if (hz_json_get_string(call, "id", true, &id) != 0 || hz_json_get_object(call, "function", true, &fn) != 0 ||
            hz_json_get_string(fn, "name", true, &name) != 0)
            return bad_param(err, param, "%s needs \"id\" and \"function\" with a \"name\"", param);
        json_object *input = NULL;
        if (hz_json_get_string(fn, "arguments", false, &args) == 0 && *args) {
            if (hz_json_parse(args, strlen(args), &input) != 0 || !json_object_is_type(input, json_type_object)) {
                json_object_put(input);
                snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu].function.arguments", i, k);
                return bad_param(err, param, "%s must be a JSON object in a string", param);
            }
        } else {
            input = json_object_new_object();
        }
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", str("tool_use"));
        json_object_object_add(b, "id", str(id));
        json_object_object_add(b, "name", str(name));
        json_object_object_add(b, "input", input);
        json_object_array_add(blocks, b);
    }
    return 0;
}

/* Append blocks as a turn of role, merging into the previous turn when it has the same role. */
static void add_turn(json_object *msgs, const char *role, json_object *blocks) {
    size_t n = json_object_array_length(msgs);
    if (json_object_array_length(blocks) == 0) return;
    if (n > 0) {
        json_object *last = json_object_array_get_idx(msgs, n - 1), *lc = NULL;
        const char *lr = NULL;
        if (hz_json_get_string(last, "role", false, &lr) == 0 && strcmp(lr, role) == 0 &&
            json_object_object_get_ex(last, "content", &lc)) {
            for (size_t k = 0; k < json_object_array_length(blocks); k++)
                json_object_array_add(lc, json_object_get(json_object_array_get_idx(blocks, k)));
            return;
        }
    }
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", str(role));
    json_object_object_add(m, "content", json_object_get(blocks));
    json_object_array_add(msgs, m);
}

static int convert_messages(json_object *msgs, json_object *body, hz_buf_t *sys, hz_gw_error_t *err) {
    json_object *out = json_object_new_array();
    json_object_object_add(body, "messages", out);
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *content = NULL, *calls = NULL;
        const char *role = NULL;
        char param[64];
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (hz_json_get_string(m, "role", true, &role) != 0)
            return bad_param(err, param, "%s must be a string", param);
        json_object_object_get_ex(m, "content", &content);
        int rc = 0;
        json_object *blocks = json_object_new_array();
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            rc = content_text(content, i, sys, err);
        } else if (strcmp(role, "user") == 0) {
            if ((rc = content_blocks(content, i, true, blocks, err)) == 0) add_turn(out, "user", blocks);
        } else if (strcmp(role, "assistant") == 0) {
            rc = content_blocks(content, i, false, blocks, err);
            if (rc == 0 && json_object_object_get_ex(m, "tool_calls", &calls) && calls)
                rc = tool_use_blocks(calls, i, blocks, err);
            if (rc == 0) add_turn(out, "assistant", blocks);
        } else if (strcmp(role, "tool") == 0) {
            const char *id = NULL;
            hz_buf_t text = HZ_BUF_INIT;
            if (hz_json_get_string(m, "tool_call_id", true, &id) != 0) {
                snprintf(param, sizeof param, "messages[%zu].tool_call_id", i);
                rc = bad_param(err, param, "%s is required for a tool message", param);
            } else if ((rc = content_text(content, i, &text, err)) == 0) {
                json_object *b = json_object_new_object();
                json_object_object_add(b, "type", str("tool_result"));
                json_object_object_add(b, "tool_use_id", str(id));
                json_object_object_add(b, "content", json_object_new_string_len(text.len ? text.data : "", (int)text.len));
                json_object_array_add(blocks, b);
                add_turn(out, "user", blocks);
            }
            hz_buf_free(&text);
        } else {
            rc = bad_param(err, param, "%s: role \"%s\" cannot be sent to Anthropic", param, role);
        }
        json_object_put(blocks);
        if (rc != 0) return rc;
    }
    if (json_object_array_length(out) == 0)
        return bad_param(err, "messages", "messages has no user or assistant content to send");
    return 0;
}

static int convert_tools(json_object *tools, json_object *body, hz_gw_error_t *err) {
    if (!json_object_is_type(tools, json_type_array)) return bad_param(err, "tools", "tools must be an array");
    json_object *out = json_object_new_array();
    json_object_object_add(body, "tools", out);
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i), *fn = NULL, *params = NULL;
        const char *type = NULL, *name = NULL, *desc = NULL;
        char param[48];
        snprintf(param, sizeof param, "tools[%zu]", i);
        if (hz_json_get_string(t, "type", true, &type) != 0 || strcmp(type, "function") != 0)
            return bad_param(err, param, "%s: only tools of type \"function\" can be sent to Anthropic", param);
        if (hz_json_get_object(t, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0)
            return bad_param(err, param, "%s needs \"function\" with a string \"name\"", param);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "name", str(name));
        if (hz_json_get_string(fn, "description", false, &desc) == 0) json_object_object_add(a, "description", str(desc));
        if (hz_json_get_object(fn, "parameters", false, &params) == 0) {
            json_object_object_add(a, "input_schema", json_object_get(params));
        } else {
            json_object *schema = json_object_new_object();
            json_object_object_add(schema, "type", str("object"));
            json_object_object_add(schema, "properties", json_object_new_object());
            json_object_object_add(a, "input_schema", schema);
        }
        json_object_array_add(out, a);
    }
    return 0;
}

static int convert_tool_choice(json_object *req, json_object *body, hz_gw_error_t *err) {
    json_object *tc = NULL, *out = NULL;
    bool parallel = true;
    int prc = hz_json_get_bool(req, "parallel_tool_calls", false, &parallel);
    if (prc == HZ_EINVAL) return bad_param(err, "parallel_tool_calls", "parallel_tool_calls must be a boolean");
    if (json_object_object_get_ex(req, "tool_choice", &tc) && tc) {
        out = json_object_new_object();
        if (json_object_is_type(tc, json_type_string)) {
            const char *s = json_object_get_string(tc);
            if (strcmp(s, "auto") == 0) json_object_object_add(out, "type", str("auto"));
            else if (strcmp(s, "required") == 0) json_object_object_add(out, "type", str("any"));
            else if (strcmp(s, "none") == 0) json_object_object_add(out, "type", str("none"));
            else {
                json_object_put(out);
                return bad_param(err, "tool_choice", "tool_choice \"%s\" is not auto, required or none", s);
            }
        } else {
            json_object *fn = NULL;
            const char *name = NULL;
            if (hz_json_get_object(tc, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0) {
                json_object_put(out);
                return bad_param(err, "tool_choice", "tool_choice must be a string or {\"type\":\"function\",\"function\":{\"name\"}}");
            }
            json_object_object_add(out, "type", str("tool"));
            json_object_object_add(out, "name", str(name));
        }
    }
    if (prc == 0 && !parallel && json_object_object_get_ex(body, "tools", NULL)) {
        if (!out) {
            out = json_object_new_object();
            json_object_object_add(out, "type", str("auto"));
        }
        const char *type = NULL;
        hz_json_get_string(out, "type", false, &type);
        if (type && strcmp(type, "none") != 0) json_object_object_add(out, "disable_parallel_tool_use", json_object_new_boolean(true));
    }
    if (out) json_object_object_add(body, "tool_choice", out);
    return 0;
}

static int response_format(json_object *req, hz_buf_t *sys, hz_gw_error_t *err) {
    json_object *rf = NULL, *js = NULL, *schema = NULL;
    const char *type = NULL;
    if (!json_object_object_get_ex(req, "response_format", &rf) || !rf) return 0;
    if (hz_json_get_string(rf, "type", true, &type) != 0)
        return bad_param(err, "response_format", "response_format needs a string \"type\"");
    if (strcmp(type, "text") == 0) return 0;
    if (sys->len > 0) hz_buf_puts(sys, "\n\n");
    if (strcmp(type, "json_object") == 0) {
        hz_buf_puts(sys, "Respond with a single valid JSON object and nothing else: no prose, no code fences.");
        return 0;
    }
    if (strcmp(type, "json_schema") == 0) {
        if (hz_json_get_object(rf, "json_schema", true, &js) != 0 || hz_json_get_object(js, "schema", true, &schema) != 0)
            return bad_param(err, "response_format.json_schema", "response_format.json_schema needs a \"schema\" object");
        hz_buf_puts(sys, "Respond with a single valid JSON value that conforms to this JSON Schema, and nothing "
                         "else: no prose, no code fences.\n");
        hz_buf_puts(sys, hz_json_dump(schema, NULL));
        return 0;
    }
    return bad_param(err, "response_format.type", "response_format type \"%s\" is not text, json_object or json_schema", type);
}

static int copy_number(json_object *req, const char *from, json_object *body, const char *to, bool integer,
                       hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, from, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int) && (integer || !json_object_is_type(v, json_type_double)))
        return bad_param(err, from, "%s must be a%s", from, integer ? "n integer" : " number");
    json_object_object_add(body, to, json_object_get(v));
    return 0;
}

static int chat_request(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out, hz_gw_error_t *err) {
    const char *model = NULL;
    json_object *msgs = NULL, *v = NULL;
    if (!json_object_is_type(req, json_type_object))
        return bad_param(err, NULL, "request body must be a JSON object");
    if (hz_json_get_string(req, "model", true, &model) != 0) return bad_param(err, "model", "model must be a string");
    if (hz_json_get_array(req, "messages", true, &msgs) != 0)
        return bad_param(err, "messages", "messages is required and must be an array");
    int64_t n = 1;
    if (hz_json_get_int(req, "n", false, &n) == HZ_EINVAL || n != 1)
        return bad_param(err, "n", "n must be 1 for Anthropic models");
    int64_t max_tokens = DEFAULT_MAX_TOKENS;
    const char *mt_key = json_object_object_get_ex(req, "max_completion_tokens", &v) && v ? "max_completion_tokens" : "max_tokens";
    int rc = hz_json_get_int(req, mt_key, false, &max_tokens);
    if (rc == HZ_EINVAL || max_tokens < 1) return bad_param(err, mt_key, "%s must be a positive integer", mt_key);

    json_object *body = json_object_new_object();
    hz_buf_t sys = HZ_BUF_INIT;
    json_object_object_add(body, "model", str(model));
    json_object_object_add(body, "max_tokens", json_object_new_int64(max_tokens));
    rc = convert_messages(msgs, body, &sys, err);
    if (rc == 0) rc = response_format(req, &sys, err);
    if (rc == 0 && sys.len > 0) json_object_object_add(body, "system", json_object_new_string_len(sys.data, (int)sys.len));
    if (rc == 0 && json_object_object_get_ex(req, "stop", &v) && v) {
        json_object *seqs = json_object_new_array();
        if (json_object_is_type(v, json_type_string)) {
            json_object_array_add(seqs, json_object_get(v));
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t k = 0; k < json_object_array_length(v) && rc == 0; k++) {
                json_object *s = json_object_array_get_idx(v, k);
                if (!json_object_is_type(s, json_type_string)) rc = bad_param(err, "stop", "stop[%zu] is not a string", k);
                else json_object_array_add(seqs, json_object_get(s));
            }
        } else {
            rc = bad_param(err, "stop", "stop must be a string or an array of strings");
        }
        if (rc == 0 && json_object_array_length(seqs) > 0) json_object_object_add(body, "stop_sequences", json_object_get(seqs));
        json_object_put(seqs);
    }
    if (rc == 0) rc = copy_number(req, "temperature", body, "temperature", false, err);
    if (rc == 0) rc = copy_number(req, "top_p", body, "top_p", false, err);
    if (rc == 0) rc = copy_number(req, "top_k", body, "top_k", true, err);
    if (rc == 0 && json_object_object_get_ex(req, "tools", &v) && v) rc = convert_tools(v, body, err);
    if (rc == 0) rc = convert_tool_choice(req, body, err);
    if (rc == 0) {
        const char *user = NULL;
        if (hz_json_get_string(req, "user", false, &user) == 0) {
            json_object *md = json_object_new_object();
            json_object_object_add(md, "user_id", str(user));
            json_object_object_add(body, "metadata", md);
        }
        if (stream) json_object_object_add(body, "stream", json_object_new_boolean(true));
        gw_http_req_init(out, "POST", "%s%s/messages", p->base_url, v1(p));
        headers(p, out);
        if (stream) gw_http_req_header(out, "Accept: text/event-stream");
        gw_http_req_json(out, body);
    }
    hz_buf_free(&sys);
    json_object_put(body);
    return rc;
}

/* ---- responses -------------------------------------------------------------------------- */

static const char *finish_reason(const char *stop) {
    if (!stop) return "stop";
    if (strcmp(stop, "max_tokens") == 0 || strcmp(stop, "model_context_window_exceeded") == 0) return "length";
    if (strcmp(stop, "tool_use") == 0) return "tool_calls";
    if (strcmp(stop, "refusal") == 0) return "content_filter";
    return "stop";      /* end_turn, stop_sequence, pause_turn */
}

typedef struct {
    int64_t input, cache_read, cache_write, output;
} a_usage_t;

static int read_usage(json_object *uo, a_usage_t *u, hz_gw_error_t *err) {
    static const char *const keys[] = {"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                                       "output_tokens"};
    int64_t *dst[] = {&u->input, &u->cache_read, &u->cache_write, &u->output};
    if (!json_object_is_type(uo, json_type_object)) return bad_upstream(err, "usage is not an object");
    for (size_t k = 0; k < 4; k++) {
        int64_t v;
        int rc = hz_json_get_int(uo, keys[k], false, &v);
        if (rc == HZ_EINVAL || (rc == 0 && v < 0)) return bad_upstream(err, "usage.%s is not a non-negative integer", keys[k]);
        if (rc == 0) *dst[k] = v;
    }
    return 0;
}

static hz_gw_usage_t to_usage(const a_usage_t *a) {
    hz_gw_usage_t u = {a->input + a->cache_read + a->cache_write, a->output, a->cache_read};
    return u;
}

static int error_status(const char *type) {
    static const struct { const char *type; int status; } map[] = {
        {"invalid_request_error", 400}, {"authentication_error", 401}, {"permission_error", 403},
        {"not_found_error", 404}, {"request_too_large", 413}, {"rate_limit_error", 429},
        {"api_error", 502}, {"overloaded_error", 503}, {"timeout_error", 504},
    };
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(type, map[i].type) == 0) return map[i].status;
    }
    return 502;
}

/* err from an Anthropic error object {type, message}; status as the client sees it. */
static void error_object(int status, json_object *eo, hz_gw_error_t *err) {
    const char *type = NULL, *msg = NULL;
    hz_json_get_string(eo, "type", false, &type);
    hz_json_get_string(eo, "message", false, &msg);
    const char *our_type = status >= 500 ? (status == 504 ? "timeout" : "upstream_error")
                         : status == 429 ? "rate_limit_error" : type;
    const char *code = type;
    if (status == 404 && msg && strstr(msg, "model")) code = "model_not_found";
    hz_gw_error_set(err, status, our_type, code, NULL, "%s", msg && *msg ? msg : "Anthropic error without a message");
}

static void error_from(int status, const char *body, size_t len, hz_gw_error_t *err) {
    int client = status == 429 ? 429 : status == 529 || status == 503 ? 503 : status == 408 || status == 504 ? 504
               : status >= 400 && status < 500 ? status : 502;
    json_object *root = NULL, *eo = NULL;
    if (len > 0 && hz_json_parse(body, len, &root) == 0 && hz_json_get_object(root, "error", false, &eo) == 0) {
        error_object(client, eo, err);
    } else {
        char text[200];
        size_t n = 0;
        for (size_t i = 0; i < len && n + 1 < sizeof text; i++) text[n++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
        text[n] = '\0';
        hz_gw_error_set(err, client, client >= 500 ? "upstream_error" : NULL, NULL, NULL,
                        "Anthropic returned HTTP %d: %s", status, n ? text : "(empty body)");
    }
    json_object_put(root);
}

static json_object *tool_call(const char *id, const char *name, const char *args) {
    json_object *fn = json_object_new_object();
    json_object_object_add(fn, "name", str(name));
    json_object_object_add(fn, "arguments", str(args));
    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", str(id));
    json_object_object_add(c, "type", str("function"));
    json_object_object_add(c, "function", fn);
    return c;
}

static int chat_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *content = NULL, *uo = NULL, *eo = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "response is not JSON: %s", hz_error_last());
    int rc = 0;
    const char *stop = NULL;
    a_usage_t au = {0, 0, 0, 0};
    if (!json_object_is_type(root, json_type_object)) {
        rc = bad_upstream(err, "response is not a JSON object");
    } else if (hz_json_get_object(root, "error", false, &eo) == 0) {
        error_object(502, eo, err);
        rc = HZ_EIO;
    } else if (hz_json_get_array(root, "content", true, &content) != 0) {
        rc = bad_upstream(err, "response has no \"content\" array");
    } else if (hz_json_get_string(root, "stop_reason", false, &stop) == HZ_EINVAL) {
        rc = bad_upstream(err, "response stop_reason is not a string");
    } else if (json_object_object_get_ex(root, "usage", &uo) && uo) {
        rc = read_usage(uo, &au, err);
    }
    hz_buf_t text = HZ_BUF_INIT;
    json_object *calls = json_object_new_array();
    for (size_t k = 0; rc == 0 && k < json_object_array_length(content); k++) {
        json_object *b = json_object_array_get_idx(content, k), *input = NULL;
        const char *type = NULL, *t = NULL, *id = NULL, *name = NULL;
        if (hz_json_get_string(b, "type", true, &type) != 0) {
            rc = bad_upstream(err, "content[%zu] has no string \"type\"", k);
        } else if (strcmp(type, "text") == 0) {
            if (hz_json_get_string(b, "text", true, &t) != 0) rc = bad_upstream(err, "content[%zu].text is not a string", k);
            else hz_buf_puts(&text, t);
        } else if (strcmp(type, "tool_use") == 0) {
            if (hz_json_get_string(b, "id", true, &id) != 0 || hz_json_get_string(b, "name", true, &name) != 0 ||
                hz_json_get_object(b, "input", true, &input) != 0)
                rc = bad_upstream(err, "content[%zu] is a tool_use without string id, name and object input", k);
            else
                json_object_array_add(calls, tool_call(id, name, hz_json_dump(input, NULL)));
        }
        /* thinking, redacted_thinking and server-tool blocks have no place in a chat message */
    }
    if (rc != 0) {
        hz_buf_free(&text);
        json_object_put(calls);
        json_object_put(root);
        return rc;
    }
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "role", str("assistant"));
    json_object_object_add(msg, "content", text.len > 0 || json_object_array_length(calls) == 0
                                               ? json_object_new_string_len(text.len ? text.data : "", (int)text.len)
                                               : NULL);
    if (json_object_array_length(calls) > 0) json_object_object_add(msg, "tool_calls", json_object_get(calls));
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", msg);
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason", str(finish_reason(stop)));
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    char *id = gw_completion_id("chatcmpl-");
    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", str(id));
    json_object_object_add(c, "object", str("chat.completion"));
    json_object_object_add(c, "created", json_object_new_int64(hz_time_now_ms() / 1000));
    json_object_object_add(c, "model", str(model));
    json_object_object_add(c, "choices", choices);
    hz_gw_usage_t u = to_usage(&au);
    json_object_object_add(c, "usage", gw_usage_json(&u));
    hz_free(id);
    hz_buf_free(&text);
    json_object_put(calls);
    json_object_put(root);
    *out = c;
    return 0;
}

/* ---- streams ---------------------------------------------------------------------------- */

enum { B_NONE = -3, B_OTHER = -2, B_TEXT = -1 };   /* >= 0: the OpenAI tool index of a tool_use block */

typedef struct {
    char *id, *model;
    int64_t created;
    a_usage_t usage;
    char finish[24];
    bool role_sent, done;
    int n_tools;
    int *blocks;            /* by Anthropic block index: B_* or a tool index */
    size_t n_blocks;
} a_stream_t;

static gw_stream_t *stream_new(const char *id, int64_t created, const char *model) {
    a_stream_t *s = hz_calloc(1, sizeof *s);
    s->id = hz_strdup(id);
    s->model = hz_strdup(model);
    s->created = created;
    return (gw_stream_t *)s;
}

static void stream_free(gw_stream_t *gs) {
    a_stream_t *s = (a_stream_t *)gs;
    if (!s) return;
    hz_free(s->id);
    hz_free(s->model);
    hz_free(s->blocks);
    hz_free(s);
}

static void stream_result(gw_stream_t *gs, hz_gw_usage_t *usage, char finish[24]) {
    a_stream_t *s = (a_stream_t *)gs;
    if (usage) *usage = to_usage(&s->usage);
    if (finish) memcpy(finish, s->finish, 24);
}

/* Emit a chunk with delta (taken); the role rides on the first one. */
static int emit_delta(a_stream_t *s, json_object *delta, const char *finish, gw_emit_fn emit, void *ud,
                      hz_gw_error_t *err) {
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

static int block_index(a_stream_t *s, json_object *ev, bool must_exist, size_t *out, hz_gw_error_t *err) {
    int64_t idx;
    if (hz_json_get_int(ev, "index", true, &idx) != 0 || idx < 0 || idx >= MAX_BLOCKS)
        return bad_upstream(err, "stream event has no valid content block \"index\"");
    if (must_exist && ((size_t)idx >= s->n_blocks || s->blocks[idx] == B_NONE))
        return bad_upstream(err, "stream event refers to content block %lld that was never started", (long long)idx);
    *out = (size_t)idx;
    return 0;
}

static int on_block_start(a_stream_t *s, json_object *ev, gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    size_t idx;
    json_object *cb = NULL;
    const char *type = NULL;
    if (block_index(s, ev, false, &idx, err) != 0) return HZ_EIO;
    if (hz_json_get_object(ev, "content_block", true, &cb) != 0 || hz_json_get_string(cb, "type", true, &type) != 0)
        return bad_upstream(err, "content_block_start without a typed \"content_block\"");
    if (idx >= s->n_blocks) {
        s->blocks = hz_realloc(s->blocks, (idx + 1) * sizeof *s->blocks);
        for (size_t k = s->n_blocks; k <= idx; k++) s->blocks[k] = B_NONE;
        s->n_blocks = idx + 1;
    }
    if (s->blocks[idx] != B_NONE) return bad_upstream(err, "content block %zu started twice", idx);
    if (strcmp(type, "text") == 0) {
        const char *t = NULL;
        s->blocks[idx] = B_TEXT;
        if (hz_json_get_string(cb, "text", false, &t) == 0 && *t) {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "content", str(t));
            return emit_delta(s, d, NULL, emit, ud, err);
        }
        return 0;
    }
    if (strcmp(type, "tool_use") == 0) {
        const char *id = NULL, *name = NULL;
        json_object *input = NULL;
        if (hz_json_get_string(cb, "id", true, &id) != 0 || hz_json_get_string(cb, "name", true, &name) != 0)
            return bad_upstream(err, "tool_use block %zu without string id and name", idx);
        int t = s->n_tools++;
        s->blocks[idx] = t;
        /* Streams start tool_use with input {}; the arguments follow as input_json_delta. */
        const char *args = "";
        if (hz_json_get_object(cb, "input", false, &input) == 0 && json_object_object_length(input) > 0)
            args = hz_json_dump(input, NULL);
        json_object *call = tool_call(id, name, args);
        json_object_object_add(call, "index", json_object_new_int(t));
        json_object *calls = json_object_new_array();
        json_object_array_add(calls, call);
        json_object *d = json_object_new_object();
        if (!s->role_sent) json_object_object_add(d, "content", NULL);
        json_object_object_add(d, "tool_calls", calls);
        return emit_delta(s, d, NULL, emit, ud, err);
    }
    s->blocks[idx] = B_OTHER;       /* thinking and the like */
    return 0;
}

static int on_block_delta(a_stream_t *s, json_object *ev, gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    size_t idx;
    json_object *delta = NULL;
    const char *type = NULL;
    if (block_index(s, ev, true, &idx, err) != 0) return HZ_EIO;
    if (hz_json_get_object(ev, "delta", true, &delta) != 0 || hz_json_get_string(delta, "type", true, &type) != 0)
        return bad_upstream(err, "content_block_delta without a typed \"delta\"");
    int kind = s->blocks[idx];
    if (strcmp(type, "text_delta") == 0) {
        const char *t = NULL;
        if (hz_json_get_string(delta, "text", true, &t) != 0) return bad_upstream(err, "text_delta without string \"text\"");
        if (kind != B_TEXT) return bad_upstream(err, "text_delta for content block %zu, which is not text", idx);
        json_object *d = json_object_new_object();
        json_object_object_add(d, "content", str(t));
        return emit_delta(s, d, NULL, emit, ud, err);
    }
    if (strcmp(type, "input_json_delta") == 0) {
        const char *pj = NULL;
        if (hz_json_get_string(delta, "partial_json", true, &pj) != 0)
            return bad_upstream(err, "input_json_delta without string \"partial_json\"");
        if (kind < 0) return bad_upstream(err, "input_json_delta for content block %zu, which is not tool_use", idx);
        if (!*pj) return 0;
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "arguments", str(pj));
        json_object *call = json_object_new_object();
        json_object_object_add(call, "index", json_object_new_int(kind));
        json_object_object_add(call, "function", fn);
        json_object *calls = json_object_new_array();
        json_object_array_add(calls, call);
        json_object *d = json_object_new_object();
        json_object_object_add(d, "tool_calls", calls);
        return emit_delta(s, d, NULL, emit, ud, err);
    }
    return 0;   /* thinking_delta, signature_delta, citations_delta */
}

static int stream_event(gw_stream_t *gs, const char *event, const char *data, size_t len, json_object *obj,
                        gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
    a_stream_t *s = (a_stream_t *)gs;
    (void)obj;
    if (s->done) return 1;
    if (!data) return bad_upstream(err, "stream event without data");
    json_object *ev = NULL;
    if (hz_json_parse(data, len, &ev) != 0) return bad_upstream(err, "stream event is not JSON: %s", hz_error_last());
    int rc = 0;
    const char *type = NULL;
    if (!json_object_is_type(ev, json_type_object)) {
        rc = bad_upstream(err, "stream event is not a JSON object");
    } else if (hz_json_get_string(ev, "type", false, &type) != 0 && !(type = event)) {
        rc = bad_upstream(err, "stream event has no \"type\"");
    } else if (strcmp(type, "message_start") == 0) {
        json_object *m = NULL, *uo = NULL;
        if (hz_json_get_object(ev, "message", true, &m) != 0) rc = bad_upstream(err, "message_start without \"message\"");
        else if (json_object_object_get_ex(m, "usage", &uo) && uo) rc = read_usage(uo, &s->usage, err);
        if (rc == 0 && !s->role_sent) {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "content", str(""));
            rc = emit_delta(s, d, NULL, emit, ud, err);
        }
    } else if (strcmp(type, "content_block_start") == 0) {
        rc = on_block_start(s, ev, emit, ud, err);
    } else if (strcmp(type, "content_block_delta") == 0) {
        rc = on_block_delta(s, ev, emit, ud, err);
    } else if (strcmp(type, "message_delta") == 0) {
        json_object *d = NULL, *uo = NULL;
        const char *stop = NULL;
        if (hz_json_get_object(ev, "delta", true, &d) != 0) {
            rc = bad_upstream(err, "message_delta without \"delta\"");
        } else if (hz_json_get_string(d, "stop_reason", false, &stop) == HZ_EINVAL) {
            rc = bad_upstream(err, "message_delta stop_reason is not a string");
        } else {
            if (stop) snprintf(s->finish, sizeof s->finish, "%s", finish_reason(stop));
            if (json_object_object_get_ex(ev, "usage", &uo) && uo) rc = read_usage(uo, &s->usage, err);
        }
    } else if (strcmp(type, "message_stop") == 0) {
        if (!s->finish[0]) snprintf(s->finish, sizeof s->finish, "stop");
        rc = emit_delta(s, NULL, s->finish, emit, ud, err);
        s->done = true;
        if (rc == 0) rc = 1;
    } else if (strcmp(type, "error") == 0) {
        json_object *eo = NULL;
        if (hz_json_get_object(ev, "error", false, &eo) != 0) eo = ev;
        const char *et = NULL;
        hz_json_get_string(eo, "type", false, &et);
        error_object(error_status(et), eo, err);
        rc = HZ_EIO;
    }
    /* content_block_stop, ping and event types added later carry nothing to pass on */
    json_object_put(ev);
    return rc;
}

/* ---- models ----------------------------------------------------------------------------- */

static void models_request(const gw_provider_t *p, gw_http_req_t *out) {
    gw_http_req_init(out, "GET", "%s%s/models?limit=1000", p->base_url, v1(p));
    headers(p, out);
}

static int models_response(const char *body, size_t len, json_object **ids, hz_gw_error_t *err) {
    *ids = NULL;
    json_object *root = NULL, *data = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "model list is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "data", true, &data) != 0) {
        json_object_put(root);
        return bad_upstream(err, "model list has no \"data\" array");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        const char *id = NULL;
        if (hz_json_get_string(json_object_array_get_idx(data, i), "id", true, &id) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "model list: data[%zu] has no string \"id\"", i);
        }
        json_object_array_add(list, str(id));
    }
    json_object_put(root);
    *ids = list;
    return 0;
}

const gw_wire_ops_t gw_wire_anthropic = {
    .wire = HZ_GW_WIRE_ANTHROPIC,
    .framing = GW_FRAMING_SSE,
    .chat_request = chat_request,
    .chat_response = chat_response,
    .stream_new = stream_new,
    .stream_event = stream_event,
    .stream_result = stream_result,
    .stream_free = stream_free,
    .error_from = error_from,
    .models_request = models_request,
    .models_response = models_response,
};
