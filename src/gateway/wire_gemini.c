/*
 * Google Gemini (Generative Language API v1beta): POST {base}/models/{model}:generateContent, or
 * :streamGenerateContent?alt=sse for a stream of GenerateContentResponse objects as SSE, the key
 * in the x-goog-api-key header (never in the URL, where it would end up in logs). Requests:
 * "contents" with roles user and model, each a list of parts (text, inlineData for data: images,
 * functionCall for an assistant's tool call with its arguments as an object, functionResponse
 * for a tool result, which Gemini matches by function name, so names are recovered from the
 * calls); system and developer messages go to systemInstruction; sampling settings, stop
 * sequences and JSON output (responseMimeType plus responseSchema) to generationConfig; tools
 * to functionDeclarations and tool_choice to toolConfig.functionCallingConfig.
 *
 * Gemini's schemas are an OpenAPI subset: keywords it does not know make it reject the whole
 * request, and OpenAI strict-mode schemas always carry some ("additionalProperties": false,
 * "strict"). Schemas are therefore rewritten to the supported keywords, with a JSON Schema
 * type list such as ["string","null"] turned into type plus "nullable".
 *
 * Responses: text parts (not thought summaries) concatenate into content, functionCall parts
 * become tool_calls with generated ids (Gemini's own id is used when present), finishReason
 * maps STOP to stop (tool_calls when the model called a function), MAX_TOKENS to length and
 * the safety family to content_filter; usageMetadata gives the usage, thinking tokens counted
 * as completion tokens because they are billed as output. A stream has no end marker other
 * than the chunk that carries finishReason, so that chunk ends it.
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
    return hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL, "gemini: %s", msg);
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
    if (p->api_key && *p->api_key) gw_http_req_header(out, "x-goog-api-key: %s", p->api_key);
}

/* models/<model, percent-encoded>: a model id must not reach into the path or query. */
static char *model_path(const char *model) {
    if (hz_str_starts_with(model, "models/")) model += 7;
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_puts(&b, "models/");
    for (const unsigned char *c = (const unsigned char *)model; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
            *c == '.' || *c == '_' || *c == '~')
            hz_buf_putc(&b, (char)*c);
        else
            hz_buf_printf(&b, "%%%02X", *c);
    }
    return hz_buf_detach(&b, NULL);
}

/* ---- schemas ---------------------------------------------------------------------------- */

static json_object *clean_schema(json_object *s);

static json_object *clean_map(json_object *props) {
    json_object *out = json_object_new_object();
    json_object_object_foreach(props, k, v) json_object_object_add(out, k, clean_schema(v));
    return out;
}

/* A JSON Schema -> Gemini's Schema subset (a new object). */
static json_object *clean_schema(json_object *s) {
    static const char *const keep[] = {"format", "description", "nullable", "enum", "maxItems", "minItems", "required",
                                       "propertyOrdering", "minimum", "maximum", "title", "minLength", "maxLength",
                                       "pattern", "minProperties", "maxProperties", "default", "example"};
    if (!json_object_is_type(s, json_type_object)) return json_object_get(s);
    json_object *out = json_object_new_object();
    json_object *v = NULL;
    if (json_object_object_get_ex(s, "type", &v)) {
        if (json_object_is_type(v, json_type_array)) {
            const char *t = NULL;
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) continue;
                if (strcmp(json_object_get_string(e), "null") == 0) json_object_object_add(out, "nullable", json_object_new_boolean(true));
                else if (!t) t = json_object_get_string(e);
            }
            if (t) json_object_object_add(out, "type", str(t));
        } else {
            json_object_object_add(out, "type", json_object_get(v));
        }
    }
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        if (json_object_object_get_ex(s, keep[i], &v) && !json_object_object_get_ex(out, keep[i], NULL))
            json_object_object_add(out, keep[i], json_object_get(v));
    }
    if (json_object_object_get_ex(s, "const", &v) && !json_object_object_get_ex(out, "enum", NULL)) {
        json_object *e = json_object_new_array();
        json_object_array_add(e, json_object_get(v));
        json_object_object_add(out, "enum", e);
    }
    if (json_object_object_get_ex(s, "properties", &v) && json_object_is_type(v, json_type_object))
        json_object_object_add(out, "properties", clean_map(v));
    if (json_object_object_get_ex(s, "items", &v) && json_object_is_type(v, json_type_object))
        json_object_object_add(out, "items", clean_schema(v));
    if (json_object_object_get_ex(s, "anyOf", &v) && json_object_is_type(v, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++) json_object_array_add(a, clean_schema(json_object_array_get_idx(v, i)));
        json_object_object_add(out, "anyOf", a);
    }
    return out;
}

/* ---- request ---------------------------------------------------------------------------- */

static int user_parts(json_object *content, size_t i, bool images, json_object *parts, hz_gw_error_t *err) {
    char param[64];
    if (!content) return 0;
    if (json_object_is_type(content, json_type_string)) {
        if (json_object_get_string_len(content) > 0) {
            json_object *p = json_object_new_object();
            json_object_object_add(p, "text", json_object_get(content));
            json_object_array_add(parts, p);
        }
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
        if (hz_json_get_string(part, "type", true, &type) != 0) return bad_param(err, param, "%s needs a string \"type\"", param);
        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            if (hz_json_get_string(part, type, true, &t) != 0) return bad_param(err, param, "%s needs a string \"%s\"", param, type);
            if (*t) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "text", str(t));
                json_object_array_add(parts, p);
            }
        } else if (strcmp(type, "image_url") == 0 && images) {
            if (json_object_object_get_ex(part, "image_url", &iu) && json_object_is_type(iu, json_type_string))
                url = json_object_get_string(iu);
            else if (iu)
                hz_json_get_string(iu, "url", false, &url);
            const char *b64 = url && hz_str_starts_with(url, "data:") ? strstr(url, ";base64,") : NULL;
            if (!b64) return bad_param(err, param, "%s: Gemini takes images here only as data: URLs with base64 content", param);
            json_object *inl = json_object_new_object();
            json_object_object_add(inl, "mimeType", json_object_new_string_len(url + 5, (int)(b64 - url - 5)));
            json_object_object_add(inl, "data", str(b64 + 8));
            json_object *p = json_object_new_object();
            json_object_object_add(p, "inlineData", inl);
            json_object_array_add(parts, p);
        } else {
            return bad_param(err, param, "%s: content part type \"%s\" cannot be sent to Gemini", param, type);
        }
    }
    return 0;
}

static int call_parts(json_object *calls, size_t i, json_object *parts, json_object *names, hz_gw_error_t *err) {
    char param[128];
    if (!json_object_is_type(calls, json_type_array)) {
        snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
        return bad_param(err, param, "%s must be an array", param);
    }
    for (size_t k = 0; k < json_object_array_length(calls); k++) {
        json_object *call = json_object_array_get_idx(calls, k), *fn = NULL, *args = NULL;
        const char *name = NULL, *id = NULL, *text = NULL;
        snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu]", i, k);
        if (hz_json_get_object(call, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0)
            return bad_param(err, param, "%s needs \"function\" with a string \"name\"", param);
        if (hz_json_get_string(fn, "arguments", false, &text) == 0 && *text) {
            if (hz_json_parse(text, strlen(text), &args) != 0 || !json_object_is_type(args, json_type_object)) {
                json_object_put(args);
                snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu].function.arguments", i, k);
                return bad_param(err, param, "%s must be a JSON object in a string", param);
            }
        } else {
            args = json_object_new_object();
        }
        if (hz_json_get_string(call, "id", false, &id) == 0) json_object_object_add(names, id, str(name));
        json_object *fc = json_object_new_object();
        json_object_object_add(fc, "name", str(name));
        json_object_object_add(fc, "args", args);
        json_object *p = json_object_new_object();
        json_object_object_add(p, "functionCall", fc);
        json_object_array_add(parts, p);
    }
    return 0;
}

static void add_turn(json_object *contents, const char *role, json_object *parts) {
    size_t n = json_object_array_length(contents);
    if (json_object_array_length(parts) == 0) return;
    if (n > 0) {
        json_object *last = json_object_array_get_idx(contents, n - 1), *lp = NULL;
        const char *lr = NULL;
        if (hz_json_get_string(last, "role", false, &lr) == 0 && strcmp(lr, role) == 0 &&
            json_object_object_get_ex(last, "parts", &lp)) {
            for (size_t k = 0; k < json_object_array_length(parts); k++)
                json_object_array_add(lp, json_object_get(json_object_array_get_idx(parts, k)));
            return;
        }
    }
    json_object *c = json_object_new_object();
    json_object_object_add(c, "role", str(role));
    json_object_object_add(c, "parts", json_object_get(parts));
    json_object_array_add(contents, c);
}

static int tool_response_part(json_object *m, size_t i, json_object *names, json_object *parts, hz_gw_error_t *err) {
    const char *id = NULL;
    json_object *name = NULL, *content = NULL;
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].tool_call_id", i);
    if (hz_json_get_string(m, "tool_call_id", true, &id) != 0) return bad_param(err, param, "%s is required for a tool message", param);
    if (!json_object_object_get_ex(names, id, &name))
        return bad_param(err, param, "%s: no earlier assistant tool call has id \"%s\" (Gemini needs the function name)", param, id);
    hz_buf_t text = HZ_BUF_INIT;
    json_object_object_get_ex(m, "content", &content);
    json_object *tparts = json_object_new_array();
    int rc = user_parts(content, i, false, tparts, err);
    for (size_t k = 0; rc == 0 && k < json_object_array_length(tparts); k++) {
        const char *t = NULL;
        hz_json_get_string(json_object_array_get_idx(tparts, k), "text", false, &t);
        if (t) hz_buf_puts(&text, t);
    }
    json_object_put(tparts);
    if (rc != 0) {
        hz_buf_free(&text);
        return rc;
    }
    /* The response must be an object: a JSON object result is passed as is, anything else wrapped. */
    json_object *resp = NULL;
    if (text.len == 0 || hz_json_parse(text.data, text.len, &resp) != 0 || !json_object_is_type(resp, json_type_object)) {
        json_object_put(resp);
        resp = json_object_new_object();
        json_object_object_add(resp, "result", json_object_new_string_len(text.len ? text.data : "", (int)text.len));
    }
    hz_buf_free(&text);
    json_object *fr = json_object_new_object();
    json_object_object_add(fr, "name", json_object_get(name));
    json_object_object_add(fr, "response", resp);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "functionResponse", fr);
    json_object_array_add(parts, p);
    return 0;
}

static int convert_messages(json_object *msgs, json_object *body, hz_gw_error_t *err) {
    json_object *contents = json_object_new_array();
    json_object *names = json_object_new_object();
    hz_buf_t sys = HZ_BUF_INIT;
    json_object_object_add(body, "contents", contents);
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
        json_object *parts = json_object_new_array();
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            if ((rc = user_parts(content, i, false, parts, err)) == 0) {
                for (size_t k = 0; k < json_object_array_length(parts); k++) {
                    const char *t = NULL;
                    hz_json_get_string(json_object_array_get_idx(parts, k), "text", false, &t);
                    if (sys.len > 0) hz_buf_puts(&sys, "\n\n");
                    if (t) hz_buf_puts(&sys, t);
                }
            }
        } else if (strcmp(role, "user") == 0) {
            if ((rc = user_parts(content, i, true, parts, err)) == 0) add_turn(contents, "user", parts);
        } else if (strcmp(role, "assistant") == 0) {
            rc = user_parts(content, i, false, parts, err);
            if (rc == 0 && json_object_object_get_ex(m, "tool_calls", &calls) && calls)
                rc = call_parts(calls, i, parts, names, err);
            if (rc == 0) add_turn(contents, "model", parts);
        } else if (strcmp(role, "tool") == 0) {
            if ((rc = tool_response_part(m, i, names, parts, err)) == 0) add_turn(contents, "user", parts);
        } else {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            rc = bad_param(err, param, "%s: role \"%s\" cannot be sent to Gemini", param, role);
        }
        json_object_put(parts);
    }
    if (rc == 0 && json_object_array_length(contents) == 0)
        rc = bad_param(err, "messages", "messages has no user or assistant content to send");
    if (rc == 0 && sys.len > 0) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "text", json_object_new_string_len(sys.data, (int)sys.len));
        json_object *parts = json_object_new_array();
        json_object_array_add(parts, p);
        json_object *si = json_object_new_object();
        json_object_object_add(si, "parts", parts);
        json_object_object_add(body, "systemInstruction", si);
    }
    hz_buf_free(&sys);
    json_object_put(names);
    return rc;
}

static int put_config(json_object *req, const char *from, json_object *cfg, const char *to, bool integer, hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, from, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int) && (integer || !json_object_is_type(v, json_type_double)))
        return bad_param(err, from, "%s must be a%s", from, integer ? "n integer" : " number");
    json_object_object_add(cfg, to, json_object_get(v));
    return 0;
}

static int generation_config(json_object *req, json_object *body, hz_gw_error_t *err) {
    json_object *cfg = json_object_new_object(), *v = NULL;
    int rc = put_config(req, "temperature", cfg, "temperature", false, err);
    if (rc == 0) rc = put_config(req, "top_p", cfg, "topP", false, err);
    if (rc == 0) rc = put_config(req, "top_k", cfg, "topK", true, err);
    if (rc == 0) rc = put_config(req, "seed", cfg, "seed", true, err);
    if (rc == 0) rc = put_config(req, "presence_penalty", cfg, "presencePenalty", false, err);
    if (rc == 0) rc = put_config(req, "frequency_penalty", cfg, "frequencyPenalty", false, err);
    if (rc == 0) {
        bool mct = json_object_object_get_ex(req, "max_completion_tokens", &v) && v;
        rc = put_config(req, mct ? "max_completion_tokens" : "max_tokens", cfg, "maxOutputTokens", true, err);
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
        if (rc == 0 && json_object_array_length(stop) > 0) json_object_object_add(cfg, "stopSequences", json_object_get(stop));
        json_object_put(stop);
    }
    if (rc == 0 && json_object_object_get_ex(req, "response_format", &v) && v) {
        const char *type = NULL;
        json_object *js = NULL, *schema = NULL;
        if (hz_json_get_string(v, "type", true, &type) != 0) {
            rc = bad_param(err, "response_format", "response_format needs a string \"type\"");
        } else if (strcmp(type, "json_object") == 0) {
            json_object_object_add(cfg, "responseMimeType", str("application/json"));
        } else if (strcmp(type, "json_schema") == 0) {
            if (hz_json_get_object(v, "json_schema", true, &js) != 0 || hz_json_get_object(js, "schema", true, &schema) != 0) {
                rc = bad_param(err, "response_format.json_schema", "response_format.json_schema needs a \"schema\" object");
            } else {
                json_object_object_add(cfg, "responseMimeType", str("application/json"));
                json_object_object_add(cfg, "responseSchema", clean_schema(schema));
            }
        } else if (strcmp(type, "text") != 0) {
            rc = bad_param(err, "response_format.type", "response_format type \"%s\" is not text, json_object or json_schema", type);
        }
    }
    if (rc == 0 && json_object_object_length(cfg) > 0) json_object_object_add(body, "generationConfig", json_object_get(cfg));
    json_object_put(cfg);
    return rc;
}

static int tools_config(json_object *req, json_object *body, hz_gw_error_t *err) {
    json_object *tools = NULL, *tc = NULL;
    if (json_object_object_get_ex(req, "tools", &tools) && tools) {
        if (!json_object_is_type(tools, json_type_array)) return bad_param(err, "tools", "tools must be an array");
        json_object *decls = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(tools); i++) {
            json_object *t = json_object_array_get_idx(tools, i), *fn = NULL, *params = NULL, *props = NULL;
            const char *type = NULL, *name = NULL, *desc = NULL;
            char param[48];
            snprintf(param, sizeof param, "tools[%zu]", i);
            if (hz_json_get_string(t, "type", true, &type) != 0 || strcmp(type, "function") != 0 ||
                hz_json_get_object(t, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0) {
                json_object_put(decls);
                return bad_param(err, param, "%s must be {\"type\":\"function\",\"function\":{\"name\",...}}", param);
            }
            json_object *d = json_object_new_object();
            json_object_object_add(d, "name", str(name));
            if (hz_json_get_string(fn, "description", false, &desc) == 0) json_object_object_add(d, "description", str(desc));
            /* Gemini rejects an object schema without properties: a function with no
             * parameters simply has none. */
            if (hz_json_get_object(fn, "parameters", false, &params) == 0 &&
                hz_json_get_object(params, "properties", false, &props) == 0 && json_object_object_length(props) > 0)
                json_object_object_add(d, "parameters", clean_schema(params));
            json_object_array_add(decls, d);
        }
        json_object *tool = json_object_new_object();
        json_object_object_add(tool, "functionDeclarations", decls);
        json_object *list = json_object_new_array();
        json_object_array_add(list, tool);
        json_object_object_add(body, "tools", list);
    }
    if (json_object_object_get_ex(req, "tool_choice", &tc) && tc) {
        json_object *fcc = json_object_new_object();
        if (json_object_is_type(tc, json_type_string)) {
            const char *s = json_object_get_string(tc);
            const char *mode = strcmp(s, "auto") == 0 ? "AUTO" : strcmp(s, "none") == 0 ? "NONE"
                             : strcmp(s, "required") == 0 ? "ANY" : NULL;
            if (!mode) {
                json_object_put(fcc);
                return bad_param(err, "tool_choice", "tool_choice \"%s\" is not auto, required or none", s);
            }
            json_object_object_add(fcc, "mode", str(mode));
        } else {
            json_object *fn = NULL;
            const char *name = NULL;
            if (hz_json_get_object(tc, "function", true, &fn) != 0 || hz_json_get_string(fn, "name", true, &name) != 0) {
                json_object_put(fcc);
                return bad_param(err, "tool_choice", "tool_choice must be a string or {\"type\":\"function\",\"function\":{\"name\"}}");
            }
            json_object *allowed = json_object_new_array();
            json_object_array_add(allowed, str(name));
            json_object_object_add(fcc, "mode", str("ANY"));
            json_object_object_add(fcc, "allowedFunctionNames", allowed);
        }
        json_object *cfg = json_object_new_object();
        json_object_object_add(cfg, "functionCallingConfig", fcc);
        json_object_object_add(body, "toolConfig", cfg);
    }
    return 0;
}

static int chat_request(const gw_provider_t *p, json_object *req, bool stream, gw_http_req_t *out, hz_gw_error_t *err) {
    const char *model = NULL;
    json_object *msgs = NULL;
    if (!json_object_is_type(req, json_type_object)) return bad_param(err, NULL, "request body must be a JSON object");
    if (hz_json_get_string(req, "model", true, &model) != 0 || !*model) return bad_param(err, "model", "model must be a string");
    if (hz_json_get_array(req, "messages", true, &msgs) != 0)
        return bad_param(err, "messages", "messages is required and must be an array");
    int64_t n = 1;
    if (hz_json_get_int(req, "n", false, &n) == HZ_EINVAL || n != 1) return bad_param(err, "n", "n must be 1 for Gemini models");
    json_object *body = json_object_new_object();
    int rc = convert_messages(msgs, body, err);
    if (rc == 0) rc = generation_config(req, body, err);
    if (rc == 0) rc = tools_config(req, body, err);
    if (rc == 0) {
        char *path = model_path(model);
        if (stream) gw_http_req_init(out, "POST", "%s/%s:streamGenerateContent?alt=sse", p->base_url, path);
        else gw_http_req_init(out, "POST", "%s/%s:generateContent", p->base_url, path);
        hz_free(path);
        headers(p, out);
        gw_http_req_json(out, body);
    }
    json_object_put(body);
    return rc;
}

/* ---- responses -------------------------------------------------------------------------- */

static const char *finish_of(const char *reason, bool tools) {
    if (!reason || strcmp(reason, "STOP") == 0) return tools ? "tool_calls" : "stop";
    if (strcmp(reason, "MAX_TOKENS") == 0) return "length";
    static const char *const filtered[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                           "IMAGE_SAFETY", "LANGUAGE"};
    for (size_t i = 0; i < sizeof filtered / sizeof filtered[0]; i++) {
        if (strcmp(reason, filtered[i]) == 0) return "content_filter";
    }
    return tools ? "tool_calls" : "stop";
}

static int read_usage(json_object *um, hz_gw_usage_t *u, hz_gw_error_t *err) {
    static const char *const keys[] = {"promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
                                       "cachedContentTokenCount"};
    int64_t v[4] = {0, 0, 0, 0};
    if (!json_object_is_type(um, json_type_object)) return bad_upstream(err, "usageMetadata is not an object");
    for (size_t k = 0; k < 4; k++) {
        int rc = hz_json_get_int(um, keys[k], false, &v[k]);
        if (rc == HZ_EINVAL || v[k] < 0) return bad_upstream(err, "usageMetadata.%s is not a non-negative integer", keys[k]);
    }
    u->prompt_tokens = v[0];
    u->completion_tokens = v[1] + v[2];
    u->cached_tokens = v[3];
    return 0;
}

/* candidates[0] of a response: text and tool calls. *cand NULL when there is none. */
typedef struct {
    hz_buf_t text;
    json_object *calls;     /* OpenAI tool_calls (without index) */
    const char *finish;     /* Gemini finishReason, or NULL */
} g_cand_t;

static int read_candidate(json_object *root, g_cand_t *c, hz_gw_error_t *err) {
    json_object *cands = NULL, *cand = NULL, *content = NULL, *parts = NULL;
    int rc = hz_json_get_array(root, "candidates", false, &cands);
    if (rc == HZ_EINVAL) return bad_upstream(err, "\"candidates\" is not an array");
    if (!cands || json_object_array_length(cands) == 0) {
        json_object *pf = NULL;
        const char *block = NULL;
        if (hz_json_get_object(root, "promptFeedback", false, &pf) == 0 && hz_json_get_string(pf, "blockReason", false, &block) == 0)
            c->finish = "SAFETY";
        return 0;
    }
    cand = json_object_array_get_idx(cands, 0);
    if (!json_object_is_type(cand, json_type_object)) return bad_upstream(err, "candidates[0] is not an object");
    if (hz_json_get_string(cand, "finishReason", false, &c->finish) == HZ_EINVAL)
        return bad_upstream(err, "candidates[0].finishReason is not a string");
    rc = hz_json_get_object(cand, "content", false, &content);
    if (rc == HZ_EINVAL) return bad_upstream(err, "candidates[0].content is not an object");
    if (!content) return 0;
    rc = hz_json_get_array(content, "parts", false, &parts);
    if (rc == HZ_EINVAL) return bad_upstream(err, "candidates[0].content.parts is not an array");
    for (size_t k = 0; parts && k < json_object_array_length(parts); k++) {
        json_object *part = json_object_array_get_idx(parts, k), *fc = NULL, *args = NULL;
        const char *t = NULL, *name = NULL, *id = NULL;
        bool thought = false;
        if (!json_object_is_type(part, json_type_object)) return bad_upstream(err, "parts[%zu] is not an object", k);
        hz_json_get_bool(part, "thought", false, &thought);
        if (hz_json_get_string(part, "text", false, &t) == 0) {
            if (!thought) hz_buf_puts(&c->text, t);
        } else if (hz_json_get_object(part, "functionCall", false, &fc) == 0) {
            if (hz_json_get_string(fc, "name", true, &name) != 0) return bad_upstream(err, "parts[%zu].functionCall has no name", k);
            if (json_object_object_get_ex(fc, "args", &args) && args && !json_object_is_type(args, json_type_object))
                return bad_upstream(err, "parts[%zu].functionCall.args is not an object", k);
            json_object *fn = json_object_new_object();
            json_object_object_add(fn, "name", str(name));
            json_object_object_add(fn, "arguments", str(args ? hz_json_dump(args, NULL) : "{}"));
            json_object *call = json_object_new_object();
            char *gen = NULL;
            if (hz_json_get_string(fc, "id", false, &id) != 0 || !*id) id = gen = gw_completion_id("call_");
            json_object_object_add(call, "id", str(id));
            hz_free(gen);
            json_object_object_add(call, "type", str("function"));
            json_object_object_add(call, "function", fn);
            json_object_array_add(c->calls, call);
        }
    }
    return 0;
}

static void error_object(int status, json_object *eo, hz_gw_error_t *err) {
    const char *msg = NULL, *gstatus = NULL;
    json_object *details = NULL;
    hz_json_get_string(eo, "message", false, &msg);
    hz_json_get_string(eo, "status", false, &gstatus);
    /* A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID: it is an auth failure. */
    if (hz_json_get_array(eo, "details", false, &details) == 0) {
        for (size_t i = 0; i < json_object_array_length(details); i++) {
            const char *reason = NULL;
            if (hz_json_get_string(json_object_array_get_idx(details, i), "reason", false, &reason) == 0 &&
                strcmp(reason, "API_KEY_INVALID") == 0)
                status = 401;
        }
    }
    const char *type = status >= 500 ? (status == 504 ? "timeout" : "upstream_error") : status == 429 ? "rate_limit_error" : NULL;
    const char *code = status == 404 ? "model_not_found" : gstatus;
    hz_gw_error_set(err, status, type, code, NULL, "%s", msg && *msg ? msg : "Gemini error without a message");
}

static int client_status(int status) {
    if (status == 429) return 429;
    if (status == 503) return 503;
    if (status == 408 || status == 504) return 504;
    if (status >= 400 && status < 500) return status;
    return 502;
}

static void error_from(int status, const char *body, size_t len, hz_gw_error_t *err) {
    json_object *root = NULL, *eo = NULL;
    int client = client_status(status);
    if (len > 0 && hz_json_parse(body, len, &root) == 0 && json_object_is_type(root, json_type_array) &&
        json_object_array_length(root) > 0) {
        /* Some front ends answer a streaming call's error as a one-element array. */
        json_object *first = json_object_get(json_object_array_get_idx(root, 0));
        json_object_put(root);
        root = first;
    }
    if (root && hz_json_get_object(root, "error", false, &eo) == 0) {
        error_object(client, eo, err);
    } else {
        char text[200];
        size_t n = 0;
        for (size_t i = 0; i < len && n + 1 < sizeof text; i++) text[n++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
        text[n] = '\0';
        hz_gw_error_set(err, client, client >= 500 ? "upstream_error" : NULL, NULL, NULL, "Gemini returned HTTP %d: %s",
                        status, n ? text : "(empty body)");
    }
    json_object_put(root);
}

static int chat_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *um = NULL, *eo = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "response is not JSON: %s", hz_error_last());
    g_cand_t c = {HZ_BUF_INIT, json_object_new_array(), NULL};
    hz_gw_usage_t u = {0, 0, 0};
    int rc = 0;
    if (!json_object_is_type(root, json_type_object)) rc = bad_upstream(err, "response is not a JSON object");
    else if (hz_json_get_object(root, "error", false, &eo) == 0) {
        error_object(502, eo, err);
        rc = HZ_EIO;
    } else if ((rc = read_candidate(root, &c, err)) == 0 && json_object_object_get_ex(root, "usageMetadata", &um) && um)
        rc = read_usage(um, &u, err);
    if (rc != 0) {
        hz_buf_free(&c.text);
        json_object_put(c.calls);
        json_object_put(root);
        return rc;
    }
    bool tools = json_object_array_length(c.calls) > 0;
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "role", str("assistant"));
    json_object_object_add(msg, "content", c.text.len > 0 || !tools
                                               ? json_object_new_string_len(c.text.len ? c.text.data : "", (int)c.text.len)
                                               : NULL);
    if (tools) json_object_object_add(msg, "tool_calls", json_object_get(c.calls));
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", msg);
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason", str(finish_of(c.finish, tools)));
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    char *id = gw_completion_id("chatcmpl-");
    json_object *res = json_object_new_object();
    json_object_object_add(res, "id", str(id));
    hz_free(id);
    json_object_object_add(res, "object", str("chat.completion"));
    json_object_object_add(res, "created", json_object_new_int64(hz_time_now_ms() / 1000));
    json_object_object_add(res, "model", str(model));
    json_object_object_add(res, "choices", choices);
    json_object_object_add(res, "usage", gw_usage_json(&u));
    hz_buf_free(&c.text);
    json_object_put(c.calls);
    json_object_put(root);
    *out = res;
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
} g_stream_t;

static gw_stream_t *stream_new(const char *id, int64_t created, const char *model) {
    g_stream_t *s = hz_calloc(1, sizeof *s);
    s->id = hz_strdup(id);
    s->model = hz_strdup(model);
    s->created = created;
    return (gw_stream_t *)s;
}

static void stream_free(gw_stream_t *gs) {
    g_stream_t *s = (g_stream_t *)gs;
    if (!s) return;
    hz_free(s->id);
    hz_free(s->model);
    hz_free(s);
}

static void stream_result(gw_stream_t *gs, hz_gw_usage_t *usage, char finish[24]) {
    g_stream_t *s = (g_stream_t *)gs;
    if (usage) *usage = s->usage;
    if (finish) memcpy(finish, s->finish, 24);
}

static int emit_delta(g_stream_t *s, json_object *delta, const char *finish, gw_emit_fn emit, void *ud, hz_gw_error_t *err) {
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
    g_stream_t *s = (g_stream_t *)gs;
    (void)event;
    (void)obj;
    if (s->done) return 1;
    if (!data) return bad_upstream(err, "stream event without data");
    json_object *root = NULL, *um = NULL, *eo = NULL;
    if (hz_json_parse(data, len, &root) != 0) return bad_upstream(err, "stream chunk is not JSON: %s", hz_error_last());
    g_cand_t c = {HZ_BUF_INIT, json_object_new_array(), NULL};
    int rc = 0;
    if (!json_object_is_type(root, json_type_object)) {
        rc = bad_upstream(err, "stream chunk is not a JSON object");
    } else if (hz_json_get_object(root, "error", false, &eo) == 0) {
        int64_t code = 0;
        hz_json_get_int(eo, "code", false, &code);
        error_object(client_status((int)code), eo, err);
        rc = HZ_EIO;
    } else if ((rc = read_candidate(root, &c, err)) == 0 && json_object_object_get_ex(root, "usageMetadata", &um) && um) {
        rc = read_usage(um, &s->usage, err);
    }
    if (rc == 0 && c.text.len > 0) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "content", json_object_new_string_len(c.text.data, (int)c.text.len));
        rc = emit_delta(s, d, NULL, emit, ud, err);
    }
    size_t ncalls = json_object_array_length(c.calls);
    if (rc == 0 && ncalls > 0) {
        for (size_t k = 0; k < ncalls; k++)
            json_object_object_add(json_object_array_get_idx(c.calls, k), "index", json_object_new_int(s->n_tools++));
        json_object *d = json_object_new_object();
        json_object_object_add(d, "tool_calls", json_object_get(c.calls));
        rc = emit_delta(s, d, NULL, emit, ud, err);
    }
    if (rc == 0 && c.finish) {
        snprintf(s->finish, sizeof s->finish, "%s", finish_of(c.finish, s->n_tools > 0));
        s->done = true;
        rc = emit_delta(s, NULL, s->finish, emit, ud, err);
        if (rc == 0) rc = 1;
    }
    hz_buf_free(&c.text);
    json_object_put(c.calls);
    json_object_put(root);
    return rc;
}

/* ---- embeddings and models -------------------------------------------------------------- */

static int embed_request(const gw_provider_t *p, json_object *req, gw_http_req_t *out, hz_gw_error_t *err) {
    const char *model = NULL;
    json_object *input = NULL, *dims = NULL;
    if (!json_object_is_type(req, json_type_object)) return bad_param(err, NULL, "request body must be a JSON object");
    if (hz_json_get_string(req, "model", true, &model) != 0 || !*model) return bad_param(err, "model", "model must be a string");
    if (!json_object_object_get_ex(req, "input", &input) || !input) return bad_param(err, "input", "input is required");
    if (json_object_object_get_ex(req, "dimensions", &dims) && dims &&
        (!json_object_is_type(dims, json_type_int) || json_object_get_int64(dims) < 1))
        return bad_param(err, "dimensions", "dimensions must be a positive integer");
    json_object *texts = json_object_new_array();
    if (json_object_is_type(input, json_type_string)) {
        json_object_array_add(texts, json_object_get(input));
    } else if (json_object_is_type(input, json_type_array)) {
        for (size_t k = 0; k < json_object_array_length(input); k++) {
            json_object *t = json_object_array_get_idx(input, k);
            if (!json_object_is_type(t, json_type_string)) {
                json_object_put(texts);
                return bad_param(err, "input", "input[%zu]: Gemini embeds text only, not token arrays", k);
            }
            json_object_array_add(texts, json_object_get(t));
        }
    } else {
        json_object_put(texts);
        return bad_param(err, "input", "input must be a string or an array of strings");
    }
    char *path = model_path(model);
    json_object *reqs = json_object_new_array();
    for (size_t k = 0; k < json_object_array_length(texts); k++) {
        json_object *part = json_object_new_object();
        json_object_object_add(part, "text", json_object_get(json_object_array_get_idx(texts, k)));
        json_object *parts = json_object_new_array();
        json_object_array_add(parts, part);
        json_object *content = json_object_new_object();
        json_object_object_add(content, "parts", parts);
        json_object *r = json_object_new_object();
        json_object_object_add(r, "model", str(path));
        json_object_object_add(r, "content", content);
        if (dims) json_object_object_add(r, "outputDimensionality", json_object_get(dims));
        json_object_array_add(reqs, r);
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "requests", reqs);
    gw_http_req_init(out, "POST", "%s/%s:batchEmbedContents", p->base_url, path);
    headers(p, out);
    gw_http_req_json(out, body);
    json_object_put(body);
    json_object_put(texts);
    hz_free(path);
    return 0;
}

static int embed_response(const char *body, size_t len, const char *model, json_object **out, hz_gw_usage_t *usage,
                          hz_gw_error_t *err) {
    *out = NULL;
    json_object *root = NULL, *embs = NULL;
    if (hz_json_parse(body, len, &root) != 0) return bad_upstream(err, "embed response is not JSON: %s", hz_error_last());
    if (!json_object_is_type(root, json_type_object) || hz_json_get_array(root, "embeddings", true, &embs) != 0) {
        json_object_put(root);
        return bad_upstream(err, "embed response has no \"embeddings\" array");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(embs); i++) {
        json_object *vec = NULL;
        if (hz_json_get_array(json_object_array_get_idx(embs, i), "values", true, &vec) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "embeddings[%zu] has no \"values\" array", i);
        }
        json_object *floats = json_object_new_array_ext((int)json_object_array_length(vec));
        for (size_t k = 0; k < json_object_array_length(vec); k++) {
            json_object *x = json_object_array_get_idx(vec, k);
            if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
                json_object_put(floats);
                json_object_put(list);
                json_object_put(root);
                return bad_upstream(err, "embeddings[%zu].values[%zu] is not a number", i, k);
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
    /* batchEmbedContents reports no token counts. */
    json_object *uj = json_object_new_object();
    json_object_object_add(uj, "prompt_tokens", json_object_new_int(0));
    json_object_object_add(uj, "total_tokens", json_object_new_int(0));
    json_object_object_add(res, "usage", uj);
    if (usage) memset(usage, 0, sizeof *usage);
    *out = res;
    return 0;
}

static void models_request(const gw_provider_t *p, gw_http_req_t *out) {
    gw_http_req_init(out, "GET", "%s/models?pageSize=1000", p->base_url);
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
        const char *name = NULL;
        if (hz_json_get_string(json_object_array_get_idx(models, i), "name", true, &name) != 0) {
            json_object_put(list);
            json_object_put(root);
            return bad_upstream(err, "model list: models[%zu] has no string \"name\"", i);
        }
        json_object_array_add(list, str(hz_str_starts_with(name, "models/") ? name + 7 : name));
    }
    json_object_put(root);
    *ids = list;
    return 0;
}

const gw_wire_ops_t gw_wire_gemini = {
    .wire = HZ_GW_WIRE_GEMINI,
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
};
