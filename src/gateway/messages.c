/*
 * The Anthropic Messages API (/v1/messages) served on top of the chat shape: the reverse of the
 * Anthropic wire. A Messages request becomes an OpenAI chat request (system prompt first,
 * content blocks to parts, tool_use blocks to assistant tool_calls, each tool_result block to a
 * "tool" message placed before the rest of its user turn, as OpenAI requires tool answers to
 * follow the call directly), runs through the gateway like any chat call, and the answer comes
 * back as a Message object or as Anthropic's event sequence: message_start, then for each
 * content block content_block_start / content_block_delta... / content_block_stop with indexes
 * counting from 0, then message_delta with the stop reason and cumulative usage, then
 * message_stop. Text and tool calls become separate blocks in the order they arrive; a block is
 * closed when the next one starts, because Anthropic blocks never interleave.
 *
 * What cannot be carried is refused with a 400 naming the field (documents, server tools, MCP
 * servers, images inside tool results); extended-thinking settings are accepted and ignored,
 * so clients that always send them still work (the answer simply has no thinking blocks).
 */
#include "gateway/gw_internal.h"

#include <string.h>

/* ---- request: Messages -> chat ---------------------------------------------------------- */

static int bad_field(hz_gw_error_t *err, const char *param, const char *fmt, ...) HZ_PRINTF(3, 4);
static int bad_field(hz_gw_error_t *err, const char *param, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hz_gw_error_set(err, 400, "invalid_request_error", NULL, param, "%s", msg);
}

static json_object *str(const char *s) { return json_object_new_string(s); }

/* Text of a tool_result's content (a string or text blocks). */
static int tool_result_text(json_object *content, const char *where, hz_buf_t *out, hz_gw_error_t *err) {
    if (!content) return 0;
    if (json_object_is_type(content, json_type_string)) {
        hz_buf_puts(out, json_object_get_string(content));
        return 0;
    }
    char param[128];
    size_t start = out->len;       /* an "Error: " prefix may already be there */
    if (!json_object_is_type(content, json_type_array)) {
        snprintf(param, sizeof param, "%s.content", where);
        return bad_field(err, param, "%s must be a string or an array of content blocks", param);
    }
    for (size_t k = 0; k < json_object_array_length(content); k++) {
        json_object *b = json_object_array_get_idx(content, k);
        const char *type = NULL, *text = NULL;
        snprintf(param, sizeof param, "%s.content[%zu]", where, k);
        if (hz_json_get_string(b, "type", true, &type) != 0)
            return bad_field(err, param, "%s needs a string \"type\"", param);
        if (strcmp(type, "text") != 0)
            return bad_field(err, param, "%s: a \"%s\" block inside a tool_result cannot be passed on; only text", param, type);
        if (hz_json_get_string(b, "text", true, &text) != 0)
            return bad_field(err, param, "%s needs a string \"text\"", param);
        if (out->len > start) hz_buf_putc(out, '\n');
        hz_buf_puts(out, text);
    }
    return 0;
}

static int image_part(json_object *block, const char *param, json_object **part, hz_gw_error_t *err) {
    json_object *src = NULL;
    const char *type = NULL;
    if (hz_json_get_object(block, "source", true, &src) != 0 || hz_json_get_string(src, "type", true, &type) != 0)
        return bad_field(err, param, "%s: an image block needs \"source\" with a \"type\"", param);
    char *url;
    if (strcmp(type, "base64") == 0) {
        const char *mt = NULL, *data = NULL;
        if (hz_json_get_string(src, "media_type", true, &mt) != 0 || hz_json_get_string(src, "data", true, &data) != 0)
            return bad_field(err, param, "%s: a base64 image source needs \"media_type\" and \"data\"", param);
        url = hz_sprintf("data:%s;base64,%s", mt, data);
    } else if (strcmp(type, "url") == 0) {
        const char *u = NULL;
        if (hz_json_get_string(src, "url", true, &u) != 0)
            return bad_field(err, param, "%s: a url image source needs \"url\"", param);
        url = hz_strdup(u);
    } else {
        return bad_field(err, param, "%s: image source type \"%s\" is not supported (base64 or url)", param, type);
    }
    json_object *iu = json_object_new_object();
    json_object_object_add(iu, "url", str(url));
    hz_free(url);
    *part = json_object_new_object();
    json_object_object_add(*part, "type", str("image_url"));
    json_object_object_add(*part, "image_url", iu);
    return 0;
}

/* parts: OpenAI content parts; a single text part collapses to a plain string. */
static json_object *parts_content(json_object *parts) {
    size_t n = json_object_array_length(parts);
    if (n == 1) {
        json_object *p = json_object_array_get_idx(parts, 0), *t = NULL;
        const char *type = NULL;
        if (hz_json_get_string(p, "type", false, &type) == 0 && strcmp(type, "text") == 0 &&
            json_object_object_get_ex(p, "text", &t))
            return json_object_get(t);
    }
    return json_object_get(parts);
}

static int user_message(json_object *content, size_t i, json_object *out_msgs, hz_gw_error_t *err) {
    if (json_object_is_type(content, json_type_string)) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role", str("user"));
        json_object_object_add(m, "content", json_object_get(content));
        json_object_array_add(out_msgs, m);
        return 0;
    }
    json_object *parts = json_object_new_array();
    int rc = 0;
    for (size_t j = 0; j < json_object_array_length(content) && rc == 0; j++) {
        json_object *b = json_object_array_get_idx(content, j);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, j);
        const char *type = NULL;
        if (!json_object_is_type(b, json_type_object) || hz_json_get_string(b, "type", true, &type) != 0) {
            rc = bad_field(err, param, "%s must be a content block with a string \"type\"", param);
            break;
        }
        if (strcmp(type, "text") == 0) {
            const char *text = NULL;
            if (hz_json_get_string(b, "text", true, &text) != 0) {
                rc = bad_field(err, param, "%s needs a string \"text\"", param);
                break;
            }
            json_object *p = json_object_new_object();
            json_object_object_add(p, "type", str("text"));
            json_object_object_add(p, "text", str(text));
            json_object_array_add(parts, p);
        } else if (strcmp(type, "image") == 0) {
            json_object *p = NULL;
            if ((rc = image_part(b, param, &p, err)) == 0) json_object_array_add(parts, p);
        } else if (strcmp(type, "tool_result") == 0) {
            const char *id = NULL;
            if (hz_json_get_string(b, "tool_use_id", true, &id) != 0) {
                rc = bad_field(err, param, "%s: a tool_result needs a string \"tool_use_id\"", param);
                break;
            }
            bool is_error = false;
            hz_json_get_bool(b, "is_error", false, &is_error);
            hz_buf_t text = HZ_BUF_INIT;
            if (is_error) hz_buf_puts(&text, "Error: ");
            json_object *c = NULL;
            json_object_object_get_ex(b, "content", &c);
            if ((rc = tool_result_text(c, param, &text, err)) == 0) {
                json_object *m = json_object_new_object();
                json_object_object_add(m, "role", str("tool"));
                json_object_object_add(m, "tool_call_id", str(id));
                json_object_object_add(m, "content", json_object_new_string_len(text.len ? text.data : "", (int)text.len));
                /* Tool answers go right after the assistant turn that asked for them, before any
                 * text of this user turn. */
                json_object_array_add(out_msgs, m);
            }
            hz_buf_free(&text);
        } else {
            rc = bad_field(err, param, "%s: content block type \"%s\" is not supported here", param, type);
        }
    }
    if (rc == 0 && json_object_array_length(parts) > 0) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role", str("user"));
        json_object_object_add(m, "content", parts_content(parts));
        json_object_array_add(out_msgs, m);
    }
    json_object_put(parts);
    return rc;
}

static int assistant_message(json_object *content, size_t i, json_object *out_msgs, hz_gw_error_t *err) {
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", str("assistant"));
    if (json_object_is_type(content, json_type_string)) {
        json_object_object_add(m, "content", json_object_get(content));
        json_object_array_add(out_msgs, m);
        return 0;
    }
    hz_buf_t text = HZ_BUF_INIT;
    json_object *calls = json_object_new_array();
    int rc = 0;
    for (size_t j = 0; j < json_object_array_length(content) && rc == 0; j++) {
        json_object *b = json_object_array_get_idx(content, j);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, j);
        const char *type = NULL;
        if (!json_object_is_type(b, json_type_object) || hz_json_get_string(b, "type", true, &type) != 0) {
            rc = bad_field(err, param, "%s must be a content block with a string \"type\"", param);
        } else if (strcmp(type, "text") == 0) {
            const char *t = NULL;
            if (hz_json_get_string(b, "text", true, &t) != 0) rc = bad_field(err, param, "%s needs a string \"text\"", param);
            else hz_buf_puts(&text, t);
        } else if (strcmp(type, "tool_use") == 0) {
            const char *id = NULL, *name = NULL;
            json_object *input = NULL;
            if (hz_json_get_string(b, "id", true, &id) != 0 || hz_json_get_string(b, "name", true, &name) != 0) {
                rc = bad_field(err, param, "%s: a tool_use block needs string \"id\" and \"name\"", param);
                break;
            }
            json_object_object_get_ex(b, "input", &input);
            if (input && !json_object_is_type(input, json_type_object)) {
                rc = bad_field(err, param, "%s: tool_use \"input\" must be an object", param);
                break;
            }
            json_object *fn = json_object_new_object();
            json_object_object_add(fn, "name", str(name));
            json_object_object_add(fn, "arguments", str(input ? hz_json_dump(input, NULL) : "{}"));
            json_object *call = json_object_new_object();
            json_object_object_add(call, "id", str(id));
            json_object_object_add(call, "type", str("function"));
            json_object_object_add(call, "function", fn);
            json_object_array_add(calls, call);
        } else if (strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0) {
            /* Earlier thinking is the model's scratchpad; the chat shape has no place for it. */
        } else {
            rc = bad_field(err, param, "%s: content block type \"%s\" is not supported in an assistant turn", param, type);
        }
    }
    if (rc == 0) {
        json_object_object_add(m, "content", text.len > 0 || json_object_array_length(calls) == 0
                                                 ? json_object_new_string_len(text.len ? text.data : "", (int)text.len)
                                                 : NULL);
        if (json_object_array_length(calls) > 0) json_object_object_add(m, "tool_calls", json_object_get(calls));
        json_object_array_add(out_msgs, json_object_get(m));
    }
    json_object_put(calls);
    json_object_put(m);
    hz_buf_free(&text);
    return rc;
}

static int system_prompt(json_object *sys, json_object *out_msgs, hz_gw_error_t *err) {
    hz_buf_t text = HZ_BUF_INIT;
    if (json_object_is_type(sys, json_type_string)) {
        hz_buf_puts(&text, json_object_get_string(sys));
    } else if (json_object_is_type(sys, json_type_array)) {
        for (size_t k = 0; k < json_object_array_length(sys); k++) {
            json_object *b = json_object_array_get_idx(sys, k);
            const char *type = NULL, *t = NULL;
            if (hz_json_get_string(b, "type", true, &type) != 0 || strcmp(type, "text") != 0 ||
                hz_json_get_string(b, "text", true, &t) != 0) {
                char param[64];
                snprintf(param, sizeof param, "system[%zu]", k);
                hz_buf_free(&text);
                return bad_field(err, param, "%s must be a text block", param);
            }
            if (text.len > 0) hz_buf_puts(&text, "\n\n");
            hz_buf_puts(&text, t);
        }
    } else {
        return bad_field(err, "system", "system must be a string or an array of text blocks");
    }
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", str("system"));
    json_object_object_add(m, "content", json_object_new_string_len(text.len ? text.data : "", (int)text.len));
    json_object_array_add(out_msgs, m);
    hz_buf_free(&text);
    return 0;
}

static int convert_tools(json_object *tools, json_object *chat, hz_gw_error_t *err) {
    if (!json_object_is_type(tools, json_type_array)) return bad_field(err, "tools", "tools must be an array");
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i), *schema = NULL;
        const char *name = NULL, *desc = NULL, *type = NULL;
        char param[64];
        snprintf(param, sizeof param, "tools[%zu]", i);
        if (!json_object_is_type(t, json_type_object)) {
            json_object_put(out);
            return bad_field(err, param, "%s must be an object", param);
        }
        if (hz_json_get_string(t, "type", false, &type) == 0 && strcmp(type, "custom") != 0) {
            json_object_put(out);
            snprintf(param, sizeof param, "tools[%zu].type", i);
            return bad_field(err, param, "%s: server tool \"%s\" is not supported; only client tools with an input_schema",
                             param, type);
        }
        if (hz_json_get_string(t, "name", true, &name) != 0 || hz_json_get_object(t, "input_schema", true, &schema) != 0) {
            json_object_put(out);
            return bad_field(err, param, "%s needs a string \"name\" and an object \"input_schema\"", param);
        }
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", str(name));
        if (hz_json_get_string(t, "description", false, &desc) == 0) json_object_object_add(fn, "description", str(desc));
        json_object_object_add(fn, "parameters", json_object_get(schema));
        json_object *ot = json_object_new_object();
        json_object_object_add(ot, "type", str("function"));
        json_object_object_add(ot, "function", fn);
        json_object_array_add(out, ot);
    }
    json_object_object_add(chat, "tools", out);
    return 0;
}

static int convert_tool_choice(json_object *tc, json_object *chat, hz_gw_error_t *err) {
    const char *type = NULL;
    if (hz_json_get_string(tc, "type", true, &type) != 0)
        return bad_field(err, "tool_choice", "tool_choice needs a string \"type\"");
    if (strcmp(type, "auto") == 0) {
        json_object_object_add(chat, "tool_choice", str("auto"));
    } else if (strcmp(type, "any") == 0) {
        json_object_object_add(chat, "tool_choice", str("required"));
    } else if (strcmp(type, "none") == 0) {
        json_object_object_add(chat, "tool_choice", str("none"));
    } else if (strcmp(type, "tool") == 0) {
        const char *name = NULL;
        if (hz_json_get_string(tc, "name", true, &name) != 0)
            return bad_field(err, "tool_choice.name", "tool_choice of type \"tool\" needs a string \"name\"");
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", str(name));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", str("function"));
        json_object_object_add(o, "function", fn);
        json_object_object_add(chat, "tool_choice", o);
    } else {
        return bad_field(err, "tool_choice.type", "tool_choice type \"%s\" is not one of auto, any, tool, none", type);
    }
    bool no_parallel = false;
    if (hz_json_get_bool(tc, "disable_parallel_tool_use", false, &no_parallel) == 0 && no_parallel)
        json_object_object_add(chat, "parallel_tool_calls", json_object_new_boolean(false));
    return 0;
}

static int copy_number(json_object *req, json_object *chat, const char *key, bool integer, hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, key, &v) || !v) return 0;
    bool ok = integer ? json_object_is_type(v, json_type_int)
                      : json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    if (!ok) return bad_field(err, key, "%s must be a%s", key, integer ? "n integer" : " number");
    json_object_object_add(chat, key, json_object_get(v));
    return 0;
}

int hz_gw_messages_to_chat(json_object *req, json_object **chat_req, hz_gw_error_t *err) {
    *chat_req = NULL;
    if (!json_object_is_type(req, json_type_object))
        return bad_field(err, NULL, "request body must be a JSON object");
    static const char *const refused[] = {"mcp_servers", "container"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(req, refused[k], &v) && v)
            return bad_field(err, refused[k], "%s is not supported by this server", refused[k]);
    }
    const char *model = NULL;
    if (hz_json_get_string(req, "model", true, &model) != 0 || !*model)
        return bad_field(err, "model", "model is required and must be a non-empty string");
    int64_t max_tokens = 0;
    if (hz_json_get_int(req, "max_tokens", true, &max_tokens) != 0 || max_tokens < 1)
        return bad_field(err, "max_tokens", "max_tokens is required and must be an integer of at least 1");
    json_object *msgs = NULL;
    if (hz_json_get_array(req, "messages", true, &msgs) != 0)
        return bad_field(err, "messages", "messages is required and must be an array");

    json_object *chat = json_object_new_object();
    json_object *out = json_object_new_array();
    json_object_object_add(chat, "model", str(model));
    json_object_object_add(chat, "messages", out);
    json_object_object_add(chat, "max_tokens", json_object_new_int64(max_tokens));
    int rc = 0;
    json_object *v = NULL;
    if (json_object_object_get_ex(req, "system", &v) && v) rc = system_prompt(v, out, err);
    for (size_t i = 0; rc == 0 && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *content = NULL;
        const char *role = NULL;
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_object_is_type(m, json_type_object) || hz_json_get_string(m, "role", true, &role) != 0) {
            rc = bad_field(err, param, "%s must be an object with a string \"role\"", param);
            break;
        }
        if (!json_object_object_get_ex(m, "content", &content) ||
            !(json_object_is_type(content, json_type_string) || json_object_is_type(content, json_type_array))) {
            snprintf(param, sizeof param, "messages[%zu].content", i);
            rc = bad_field(err, param, "%s must be a string or an array of content blocks", param);
            break;
        }
        if (strcmp(role, "user") == 0) rc = user_message(content, i, out, err);
        else if (strcmp(role, "assistant") == 0) rc = assistant_message(content, i, out, err);
        else {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            rc = bad_field(err, param, "%s: role \"%s\" is not \"user\" or \"assistant\" (the system prompt is the "
                           "top-level \"system\" field)", param, role);
        }
    }
    if (rc == 0 && json_object_object_get_ex(req, "stop_sequences", &v) && v) {
        if (!json_object_is_type(v, json_type_array)) {
            rc = bad_field(err, "stop_sequences", "stop_sequences must be an array of strings");
        } else {
            for (size_t k = 0; k < json_object_array_length(v); k++) {
                if (!json_object_is_type(json_object_array_get_idx(v, k), json_type_string)) {
                    rc = bad_field(err, "stop_sequences", "stop_sequences[%zu] is not a string", k);
                    break;
                }
            }
            if (rc == 0 && json_object_array_length(v) > 0) json_object_object_add(chat, "stop", json_object_get(v));
        }
    }
    if (rc == 0) rc = copy_number(req, chat, "temperature", false, err);
    if (rc == 0) rc = copy_number(req, chat, "top_p", false, err);
    if (rc == 0) rc = copy_number(req, chat, "top_k", true, err);
    if (rc == 0 && json_object_object_get_ex(req, "stream", &v) && v) {
        if (!json_object_is_type(v, json_type_boolean)) {
            rc = bad_field(err, "stream", "stream must be a boolean");
        } else if (json_object_get_boolean(v)) {
            json_object_object_add(chat, "stream", json_object_new_boolean(true));
            json_object *so = json_object_new_object();
            json_object_object_add(so, "include_usage", json_object_new_boolean(true));
            json_object_object_add(chat, "stream_options", so);
        }
    }
    if (rc == 0 && json_object_object_get_ex(req, "tools", &v) && v) rc = convert_tools(v, chat, err);
    if (rc == 0 && json_object_object_get_ex(req, "tool_choice", &v) && v) rc = convert_tool_choice(v, chat, err);
    if (rc == 0 && json_object_object_get_ex(req, "metadata", &v) && v) {
        const char *uid = NULL;
        if (!json_object_is_type(v, json_type_object)) rc = bad_field(err, "metadata", "metadata must be an object");
        else if (hz_json_get_string(v, "user_id", false, &uid) == 0) json_object_object_add(chat, "user", str(uid));
    }
    if (rc != 0) {
        json_object_put(chat);
        return rc;
    }
    *chat_req = chat;
    return 0;
}

/* ---- response: chat.completion -> Message ----------------------------------------------- */

static const char *stop_reason(const char *finish) {
    if (!finish || !*finish || strcmp(finish, "stop") == 0) return "end_turn";
    if (strcmp(finish, "length") == 0) return "max_tokens";
    if (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0) return "tool_use";
    if (strcmp(finish, "content_filter") == 0) return "refusal";
    return "end_turn";
}

static json_object *usage_object(const hz_gw_usage_t *u, bool with_cache_creation) {
    json_object *o = json_object_new_object();
    /* Anthropic counts cache reads apart from input_tokens; OpenAI includes them. */
    int64_t cached = u->cached_tokens > 0 && u->cached_tokens <= u->prompt_tokens ? u->cached_tokens : 0;
    json_object_object_add(o, "input_tokens", json_object_new_int64(u->prompt_tokens - cached));
    if (with_cache_creation) json_object_object_add(o, "cache_creation_input_tokens", json_object_new_int64(0));
    json_object_object_add(o, "cache_read_input_tokens", json_object_new_int64(cached));
    json_object_object_add(o, "output_tokens", json_object_new_int64(u->completion_tokens));
    return o;
}

static void read_usage(json_object *uo, hz_gw_usage_t *u) {
    int64_t v;
    json_object *d = NULL;
    if (hz_json_get_int(uo, "prompt_tokens", false, &v) == 0 && v >= 0) u->prompt_tokens = v;
    if (hz_json_get_int(uo, "completion_tokens", false, &v) == 0 && v >= 0) u->completion_tokens = v;
    if (hz_json_get_object(uo, "prompt_tokens_details", false, &d) == 0 &&
        hz_json_get_int(d, "cached_tokens", false, &v) == 0 && v >= 0)
        u->cached_tokens = v;
}

/* tool_use input from an OpenAI arguments string; text that is not a JSON object is kept
 * under "_raw" rather than lost, since a Message must carry an object. */
static json_object *tool_input(const char *args) {
    json_object *o = NULL;
    if (!args || !*args) return json_object_new_object();
    if (hz_json_parse(args, strlen(args), &o) == 0 && json_object_is_type(o, json_type_object)) return o;
    json_object_put(o);
    o = json_object_new_object();
    json_object_object_add(o, "_raw", str(args));
    return o;
}

json_object *hz_gw_chat_to_message(json_object *completion) {
    json_object *content = json_object_new_array();
    const char *model = "", *finish = NULL;
    hz_gw_usage_t u = {0, 0, 0};
    json_object *choices = NULL, *uo = NULL;
    hz_json_get_string(completion, "model", false, &model);
    if (hz_json_get_object(completion, "usage", false, &uo) == 0) read_usage(uo, &u);
    if (hz_json_get_array(completion, "choices", false, &choices) == 0 && json_object_array_length(choices) > 0) {
        json_object *c = json_object_array_get_idx(choices, 0), *m = NULL, *calls = NULL, *cv = NULL;
        hz_json_get_string(c, "finish_reason", false, &finish);
        if (hz_json_get_object(c, "message", false, &m) == 0) {
            hz_buf_t text = HZ_BUF_INIT;
            if (json_object_object_get_ex(m, "content", &cv) && json_object_is_type(cv, json_type_string)) {
                hz_buf_puts(&text, json_object_get_string(cv));
            } else if (json_object_is_type(cv, json_type_array)) {
                for (size_t k = 0; k < json_object_array_length(cv); k++) {
                    const char *t = NULL;
                    if (hz_json_get_string(json_object_array_get_idx(cv, k), "text", false, &t) == 0) hz_buf_puts(&text, t);
                }
            }
            const char *refusal = NULL;
            if (text.len == 0 && hz_json_get_string(m, "refusal", false, &refusal) == 0) hz_buf_puts(&text, refusal);
            if (text.len > 0) {
                json_object *b = json_object_new_object();
                json_object_object_add(b, "type", str("text"));
                json_object_object_add(b, "text", json_object_new_string_len(text.data, (int)text.len));
                json_object_array_add(content, b);
            }
            hz_buf_free(&text);
            if (hz_json_get_array(m, "tool_calls", false, &calls) == 0) {
                for (size_t k = 0; k < json_object_array_length(calls); k++) {
                    json_object *call = json_object_array_get_idx(calls, k), *fn = NULL;
                    const char *id = NULL, *name = "", *args = NULL;
                    if (hz_json_get_object(call, "function", false, &fn) != 0) continue;
                    hz_json_get_string(fn, "name", false, &name);
                    hz_json_get_string(fn, "arguments", false, &args);
                    json_object *b = json_object_new_object();
                    json_object_object_add(b, "type", str("tool_use"));
                    if (hz_json_get_string(call, "id", false, &id) == 0) {
                        json_object_object_add(b, "id", str(id));
                    } else {
                        char *nid = gw_completion_id("toolu_");
                        json_object_object_add(b, "id", str(nid));
                        hz_free(nid);
                    }
                    json_object_object_add(b, "name", str(name));
                    json_object_object_add(b, "input", tool_input(args));
                    json_object_array_add(content, b);
                }
            }
        }
    }
    char *id = gw_completion_id("msg_");
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "id", str(id));
    hz_free(id);
    json_object_object_add(msg, "type", str("message"));
    json_object_object_add(msg, "role", str("assistant"));
    json_object_object_add(msg, "model", str(model));
    json_object_object_add(msg, "content", content);
    json_object_object_add(msg, "stop_reason", str(stop_reason(finish)));
    json_object_object_add(msg, "stop_sequence", NULL);
    json_object_object_add(msg, "usage", usage_object(&u, true));
    return msg;
}

/* ---- streams: chunks -> Anthropic events ------------------------------------------------- */

enum { BLOCK_NONE, BLOCK_TEXT, BLOCK_TOOL };

struct hz_gw_msgstream {
    char *model;
    char *id;
    hz_gw_event_fn fn;
    void *ud;
    bool started, ended;
    int next_index;             /* index the next content block gets */
    int open;                   /* BLOCK_* of the block now open */
    int64_t open_tool;          /* OpenAI tool_calls index of the open tool block */
    int64_t *tools_seen;        /* OpenAI tool_calls indexes already given a block */
    size_t n_tools_seen;
    char finish[24];
    hz_gw_usage_t usage;
};

hz_gw_msgstream_t *hz_gw_msgstream_new(const char *model, hz_gw_event_fn fn, void *ud) {
    hz_gw_msgstream_t *ms = hz_calloc(1, sizeof *ms);
    ms->model = hz_strdup(model ? model : "");
    ms->id = gw_completion_id("msg_");
    ms->fn = fn;
    ms->ud = ud;
    ms->open = BLOCK_NONE;
    return ms;
}

void hz_gw_msgstream_free(hz_gw_msgstream_t *ms) {
    if (!ms) return;
    hz_free(ms->model);
    hz_free(ms->id);
    hz_free(ms->tools_seen);
    hz_free(ms);
}

/* Send one event (takes data). */
static int send(hz_gw_msgstream_t *ms, const char *event, json_object *data) {
    json_object *typed = json_object_new_object();
    json_object_object_add(typed, "type", str(event));
    json_object_object_foreach(data, k, v) json_object_object_add(typed, k, json_object_get(v));
    json_object_put(data);
    int rc = ms->fn ? ms->fn(event, typed, ms->ud) : 0;
    json_object_put(typed);
    return rc;
}

static int start(hz_gw_msgstream_t *ms) {
    if (ms->started) return 0;
    ms->started = true;
    json_object *m = json_object_new_object();
    json_object_object_add(m, "id", str(ms->id));
    json_object_object_add(m, "type", str("message"));
    json_object_object_add(m, "role", str("assistant"));
    json_object_object_add(m, "model", str(ms->model));
    json_object_object_add(m, "content", json_object_new_array());
    json_object_object_add(m, "stop_reason", NULL);
    json_object_object_add(m, "stop_sequence", NULL);
    /* The prompt's size is known only when the answer ends; message_delta carries it then. */
    hz_gw_usage_t zero = {0, 0, 0};
    json_object_object_add(m, "usage", usage_object(&zero, true));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "message", m);
    return send(ms, "message_start", d);
}

static int close_block(hz_gw_msgstream_t *ms) {
    if (ms->open == BLOCK_NONE) return 0;
    ms->open = BLOCK_NONE;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "index", json_object_new_int(ms->next_index - 1));
    return send(ms, "content_block_stop", d);
}

static int open_block(hz_gw_msgstream_t *ms, int kind, json_object *block) {
    int rc = close_block(ms);
    if (rc != 0) {
        json_object_put(block);
        return rc;
    }
    ms->open = kind;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "index", json_object_new_int(ms->next_index++));
    json_object_object_add(d, "content_block", block);
    return send(ms, "content_block_start", d);
}

static int block_delta(hz_gw_msgstream_t *ms, const char *type, const char *key, const char *text) {
    json_object *delta = json_object_new_object();
    json_object_object_add(delta, "type", str(type));
    json_object_object_add(delta, key, str(text));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "index", json_object_new_int(ms->next_index - 1));
    json_object_object_add(d, "delta", delta);
    return send(ms, "content_block_delta", d);
}

static int text_delta(hz_gw_msgstream_t *ms, const char *text) {
    int rc = 0;
    if (ms->open != BLOCK_TEXT) {
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", str("text"));
        json_object_object_add(b, "text", str(""));
        rc = open_block(ms, BLOCK_TEXT, b);
    }
    return rc != 0 ? rc : block_delta(ms, "text_delta", "text", text);
}

static bool tool_seen(hz_gw_msgstream_t *ms, int64_t index) {
    for (size_t i = 0; i < ms->n_tools_seen; i++) {
        if (ms->tools_seen[i] == index) return true;
    }
    return false;
}

static int tool_delta(hz_gw_msgstream_t *ms, json_object *call, size_t pos) {
    int64_t index = (int64_t)pos;
    const char *id = NULL, *name = NULL, *args = NULL;
    json_object *fn = NULL;
    if (hz_json_get_int(call, "index", false, &index) == HZ_EINVAL)
        return hz_error_set(HZ_EPARSE, "chunk tool_calls[%zu].index is not an integer", pos);
    hz_json_get_string(call, "id", false, &id);
    if (hz_json_get_object(call, "function", false, &fn) == 0) {
        hz_json_get_string(fn, "name", false, &name);
        hz_json_get_string(fn, "arguments", false, &args);
    }
    bool is_open = ms->open == BLOCK_TOOL && ms->open_tool == index;
    if (!is_open) {
        if (tool_seen(ms, index))
            return hz_error_set(HZ_EPARSE, "arguments of tool call %lld arrived after another block began; Anthropic "
                                "blocks cannot interleave", (long long)index);
        ms->tools_seen = hz_realloc(ms->tools_seen, (ms->n_tools_seen + 1) * sizeof *ms->tools_seen);
        ms->tools_seen[ms->n_tools_seen++] = index;
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", str("tool_use"));
        char *gen = id ? NULL : gw_completion_id("toolu_");
        json_object_object_add(b, "id", str(id ? id : gen));
        hz_free(gen);
        json_object_object_add(b, "name", str(name ? name : ""));
        json_object_object_add(b, "input", json_object_new_object());
        int rc = open_block(ms, BLOCK_TOOL, b);
        ms->open_tool = index;
        if (rc != 0) return rc;
    }
    if (args && *args) return block_delta(ms, "input_json_delta", "partial_json", args);
    return 0;
}

int hz_gw_msgstream_chunk(hz_gw_msgstream_t *ms, json_object *chunk) {
    if (ms->ended) return hz_error_set(HZ_ESTATE, "message stream already ended");
    if (!json_object_is_type(chunk, json_type_object)) return hz_error_set(HZ_EPARSE, "chunk is not a JSON object");
    int rc = start(ms);
    if (rc != 0) return rc;
    json_object *uo = NULL, *choices = NULL;
    if (hz_json_get_object(chunk, "usage", false, &uo) == 0) read_usage(uo, &ms->usage);
    if (hz_json_get_array(chunk, "choices", false, &choices) != 0) return 0;
    for (size_t c = 0; c < json_object_array_length(choices); c++) {
        json_object *ch = json_object_array_get_idx(choices, c), *delta = NULL, *calls = NULL;
        int64_t idx = 0;
        if (hz_json_get_int(ch, "index", false, &idx) == 0 && idx != 0) continue;  /* one answer only */
        const char *finish = NULL, *text = NULL;
        if (hz_json_get_string(ch, "finish_reason", false, &finish) == 0)
            snprintf(ms->finish, sizeof ms->finish, "%s", finish);
        if (hz_json_get_object(ch, "delta", false, &delta) != 0) continue;
        if (hz_json_get_string(delta, "content", false, &text) == 0 && *text && (rc = text_delta(ms, text)) != 0)
            return rc;
        if (hz_json_get_string(delta, "refusal", false, &text) == 0 && *text && (rc = text_delta(ms, text)) != 0)
            return rc;
        if (hz_json_get_array(delta, "tool_calls", false, &calls) == 0) {
            for (size_t k = 0; k < json_object_array_length(calls); k++) {
                json_object *call = json_object_array_get_idx(calls, k);
                if (!json_object_is_type(call, json_type_object))
                    return hz_error_set(HZ_EPARSE, "chunk tool_calls[%zu] is not an object", k);
                if ((rc = tool_delta(ms, call, k)) != 0) return rc;
            }
        }
    }
    return 0;
}

int hz_gw_msgstream_end(hz_gw_msgstream_t *ms, const hz_gw_usage_t *usage, const char *finish_reason) {
    if (ms->ended) return hz_error_set(HZ_ESTATE, "message stream already ended");
    ms->ended = true;
    int rc = start(ms);
    if (rc == 0) rc = close_block(ms);
    if (rc != 0) return rc;
    if (usage) ms->usage = *usage;
    const char *finish = finish_reason && *finish_reason ? finish_reason : ms->finish;
    json_object *delta = json_object_new_object();
    json_object_object_add(delta, "stop_reason", str(stop_reason(finish)));
    json_object_object_add(delta, "stop_sequence", NULL);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "delta", delta);
    json_object_object_add(d, "usage", usage_object(&ms->usage, false));
    if ((rc = send(ms, "message_delta", d)) != 0) return rc;
    return send(ms, "message_stop", json_object_new_object());
}
