/*
 * The in-process llama.cpp engine as one more gateway target. An OpenAI chat (or legacy
 * completions) request is checked field by field and turned into an hz_llm_chat_request_t; the
 * engine's text then comes back as the same chat.completion.chunk objects a remote provider's
 * stream is translated into (gw_chunk_new, one id/created/model per call), or as one
 * chat.completion. Everything the request carries that the engine cannot honour is refused with
 * a 400 naming the parameter rather than silently dropped: a client that asks for tools, images
 * or logit_bias and gets an answer that ignored them has no way to know it was ignored.
 *
 * Limits stated here once: the engine has no tool calling, so a request with tools is refused
 * unless tool_choice is "none" (then the tools are only context the model never sees); content
 * is text only; n and best_of must be 1. Extensions in llama-server's spirit are accepted:
 * top_k, min_p, repeat_penalty and grammar (GBNF).
 *
 * Errors from the engine map onto HTTP: unknown model 404 model_not_found, a full queue 429
 * with a retry hint (the router may fall back elsewhere), a prompt longer than the context 400
 * context_length_exceeded, a bad value 400 naming the field the engine named.
 */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hanzo/llm.h"

#define LOCAL_MAX_STOP 16               /* OpenAI allows 4; local models often need a few more */
#define LOCAL_MAX_EMBED_INPUTS 2048     /* OpenAI's own cap on one embeddings request */
#define LOCAL_BUSY_RETRY_MS 1000        /* a queue slot frees up when one answer ends */
#define LOCAL_COMPLETIONS_MAX_TOKENS 16 /* OpenAI's documented default for /v1/completions */

/* ---- request translation ----------------------------------------------------------------- */

typedef struct local_req {
    hz_llm_chat_request_t r;
    hz_llm_message_t *msgs;
    const char **stop;
    char **owned;               /* strings built here (joined parts, schema text); freed at end */
    size_t n_owned;
    bool echo;                  /* completions: the prompt is part of the answer */
    bool completion;
} local_req_t;

static const char *keep(local_req_t *lr, char *s) {
    lr->owned = hz_realloc(lr->owned, (lr->n_owned + 1) * sizeof(char *));
    lr->owned[lr->n_owned++] = s;
    return s;
}

static void local_req_free(local_req_t *lr) {
    for (size_t i = 0; i < lr->n_owned; i++) hz_free(lr->owned[i]);
    hz_free(lr->owned);
    hz_free(lr->msgs);
    hz_free(lr->stop);
}

static int bad(hz_gw_error_t *err, const char *code, const char *param, const char *msg) {
    return hz_gw_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
}

/* A present, non-null member. */
static json_object *member(json_object *o, const char *key) {
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Optional number in [lo, hi]; *have false when absent or null. */
static int opt_num(json_object *req, const char *key, double lo, double hi, bool *have, double *out,
                   hz_gw_error_t *err) {
    *have = false;
    int rc = hz_json_get_double(req, key, false, out);
    if (rc == HZ_ENOTFOUND) return 0;
    if (rc) return bad(err, "invalid_type", key, hz_error_last());
    if (!(*out >= lo && *out <= hi)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: %g is out of range; it must be between %g and %g", key, *out, lo, hi);
        return bad(err, "invalid_value", key, msg);
    }
    *have = true;
    return 0;
}

static int opt_int(json_object *req, const char *key, int64_t lo, int64_t hi, bool *have, int64_t *out,
                   hz_gw_error_t *err) {
    *have = false;
    int rc = hz_json_get_int(req, key, false, out);
    if (rc == HZ_ENOTFOUND) return 0;
    if (rc) return bad(err, "invalid_type", key, hz_error_last());
    if (*out < lo || *out > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: %lld is out of range; it must be between %lld and %lld", key,
                 (long long)*out, (long long)lo, (long long)hi);
        return bad(err, "invalid_value", key, msg);
    }
    *have = true;
    return 0;
}

/* Parameters the engine cannot honour: present and meaningful -> 400 naming them. */
static int refuse_unsupported(json_object *req, const char *model, hz_gw_error_t *err) {
    static const char *const NAMES[] = {"modalities", "audio", "prediction", "web_search_options", "suffix"};
    char msg[320];
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        json_object *v = member(req, NAMES[i]);
        if (!v) continue;
        if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0) continue;
        snprintf(msg, sizeof msg, "%s: not supported by the local model %s", NAMES[i], model);
        return bad(err, "unsupported_parameter", NAMES[i], msg);
    }
    json_object *lb = member(req, "logit_bias");
    if (lb && !(json_object_is_type(lb, json_type_object) && json_object_object_length(lb) == 0)) {
        snprintf(msg, sizeof msg, "logit_bias: not supported by the local model %s", model);
        return bad(err, "unsupported_parameter", "logit_bias", msg);
    }
    /* The engine has no tool calling. tool_choice "none" keeps the tools out of the model's
     * view entirely, which is an honest answer; anything else would silently not call them. */
    static const char *const TOOLS[][2] = {{"tools", "tool_choice"}, {"functions", "function_call"}};
    for (size_t i = 0; i < 2; i++) {
        json_object *tools = member(req, TOOLS[i][0]), *choice = member(req, TOOLS[i][1]);
        if (tools && !json_object_is_type(tools, json_type_array)) {
            snprintf(msg, sizeof msg, "%s: must be an array", TOOLS[i][0]);
            return bad(err, "invalid_type", TOOLS[i][0], msg);
        }
        bool none = choice && json_object_is_type(choice, json_type_string) &&
                    strcmp(json_object_get_string(choice), "none") == 0;
        bool auto_ = choice && json_object_is_type(choice, json_type_string) &&
                     strcmp(json_object_get_string(choice), "auto") == 0;
        if (tools && json_object_array_length(tools) > 0 && !none) {
            snprintf(msg, sizeof msg, "%s: the local model %s cannot call tools (the local engine has no tool "
                     "calling); remove them or set %s to \"none\"", TOOLS[i][0], model, TOOLS[i][1]);
            return bad(err, "unsupported_parameter", TOOLS[i][0], msg);
        }
        if (choice && !none && !auto_) {
            snprintf(msg, sizeof msg, "%s: there are no tools to choose from", TOOLS[i][1]);
            return bad(err, "invalid_value", TOOLS[i][1], msg);
        }
    }
    return 0;
}

/* Text of one message's content: a string, null (assistant only), or text parts. */
static int message_content(local_req_t *lr, json_object *m, size_t i, const char *role, const char **out,
                           hz_gw_error_t *err) {
    char param[96], msg[320];
    json_object *c = member(m, "content");
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (!c) {
        if (strcmp(role, "assistant") == 0) { *out = ""; return 0; }
        snprintf(msg, sizeof msg, "%s: required for a %s message", param, role);
        return bad(err, "missing_required_parameter", param, msg);
    }
    if (json_object_is_type(c, json_type_string)) {
        const char *s = json_object_get_string(c);
        if (strlen(s) != (size_t)json_object_get_string_len(c)) {
            snprintf(msg, sizeof msg, "%s: must not contain a NUL character", param);
            return bad(err, "invalid_value", param, msg);
        }
        *out = s;
        return 0;
    }
    if (!json_object_is_type(c, json_type_array)) {
        snprintf(msg, sizeof msg, "%s: must be a string or an array of content parts", param);
        return bad(err, "invalid_type", param, msg);
    }
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_puts(&b, "");
    for (size_t k = 0; k < json_object_array_length(c); k++) {
        json_object *part = json_object_array_get_idx(c, k);
        const char *type = NULL, *text = NULL;
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, k);
        if (!part || !json_object_is_type(part, json_type_object) || hz_json_get_string(part, "type", true, &type)) {
            hz_buf_free(&b);
            snprintf(msg, sizeof msg, "%s: must be an object with a \"type\"", param);
            return bad(err, "invalid_type", param, msg);
        }
        const char *key = strcmp(type, "text") == 0 ? "text" : strcmp(type, "refusal") == 0 ? "refusal" : NULL;
        if (!key) {
            hz_buf_free(&b);
            snprintf(param, sizeof param, "messages[%zu].content[%zu].type", i, k);
            snprintf(msg, sizeof msg, "%s: \"%.40s\" parts are not supported; local models take text only", param, type);
            return bad(err, "unsupported_parameter", param, msg);
        }
        if (hz_json_get_string(part, key, true, &text)) {
            hz_buf_free(&b);
            snprintf(msg, sizeof msg, "%s.%s: %s", param, key, hz_error_last());
            return bad(err, "invalid_type", param, msg);
        }
        if (b.len) hz_buf_putc(&b, '\n');
        hz_buf_puts(&b, text);
    }
    *out = keep(lr, hz_buf_detach(&b, NULL));
    return 0;
}

/* An earlier assistant turn that called tools: shown to the model as text in the Hermes/Qwen
 * <tool_call> convention, so the transcript stays truthful. */
static const char *with_tool_calls(local_req_t *lr, const char *content, json_object *calls) {
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_puts(&b, content);
    for (size_t k = 0; k < json_object_array_length(calls); k++) {
        json_object *fn = member(json_object_array_get_idx(calls, k), "function");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_get(member(fn, "name")));
        json_object_object_add(o, "arguments", json_object_get(member(fn, "arguments")));
        hz_buf_printf(&b, "%s<tool_call>\n%s\n</tool_call>", b.len ? "\n" : "", hz_json_dump(o, NULL));
        json_object_put(o);
    }
    return keep(lr, hz_buf_detach(&b, NULL));
}

static int parse_messages(local_req_t *lr, json_object *req, hz_gw_error_t *err) {
    json_object *arr = member(req, "messages");
    if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0)
        return bad(err, arr ? "invalid_type" : "missing_required_parameter", "messages",
                   "messages: a non-empty array of messages is required");
    size_t n = json_object_array_length(arr);
    lr->msgs = hz_calloc(n, sizeof(hz_llm_message_t));
    char param[96], msg[320];
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        const char *role = NULL;
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!m || !json_object_is_type(m, json_type_object) || hz_json_get_string(m, "role", true, &role)) {
            snprintf(msg, sizeof msg, "messages[%zu]: must be an object with a string \"role\"", i);
            return bad(err, "invalid_type", param, msg);
        }
        if (strcmp(role, "developer") == 0) role = "system";    /* OpenAI's newer name for it */
        else if (strcmp(role, "function") == 0) role = "tool";  /* the legacy function result */
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) {
            snprintf(msg, sizeof msg, "%s: \"%.40s\" is not one of system, developer, user, assistant, tool", param, role);
            return bad(err, "invalid_value", param, msg);
        }
        const char *content = "";
        int rc = message_content(lr, m, i, role, &content, err);
        if (rc) return rc;
        json_object *calls = member(m, "tool_calls");
        if (calls && strcmp(role, "assistant") == 0 && json_object_is_type(calls, json_type_array))
            content = with_tool_calls(lr, content, calls);
        lr->msgs[i].role = role;
        lr->msgs[i].content = content;
    }
    lr->r.messages = lr->msgs;
    lr->r.n_messages = n;
    return 0;
}

static int parse_prompt(local_req_t *lr, json_object *req, hz_gw_error_t *err) {
    json_object *p = member(req, "prompt");
    if (p && json_object_is_type(p, json_type_array) && json_object_array_length(p) == 1)
        p = json_object_array_get_idx(p, 0);
    if (!p) return bad(err, "missing_required_parameter", "prompt", "prompt: required");
    if (!json_object_is_type(p, json_type_string))
        return bad(err, "invalid_type", "prompt",
                   "prompt: must be a string (or an array of one string); token arrays and batches of prompts "
                   "are not supported by local models");
    const char *s = json_object_get_string(p);
    if (strlen(s) != (size_t)json_object_get_string_len(p))
        return bad(err, "invalid_value", "prompt", "prompt: must not contain a NUL character");
    if (!*s) return bad(err, "invalid_value", "prompt", "prompt: must not be empty");
    lr->r.prompt = s;
    return hz_json_get_bool(req, "echo", false, &lr->echo) == HZ_EINVAL
               ? bad(err, "invalid_type", "echo", hz_error_last()) : 0;
}

static int parse_stop(local_req_t *lr, json_object *req, hz_gw_error_t *err) {
    json_object *s = member(req, "stop");
    if (!s) return 0;
    if (json_object_is_type(s, json_type_string)) {
        lr->stop = hz_calloc(1, sizeof(char *));
        lr->stop[0] = json_object_get_string(s);
        lr->r.n_stop = 1;
    } else if (json_object_is_type(s, json_type_array)) {
        size_t n = json_object_array_length(s);
        if (n > LOCAL_MAX_STOP) return bad(err, "invalid_value", "stop", "stop: at most 16 stop strings");
        lr->stop = hz_calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(s, i);
            if (!v || !json_object_is_type(v, json_type_string))
                return bad(err, "invalid_type", "stop", "stop: must be a string or an array of strings");
            lr->stop[i] = json_object_get_string(v);
        }
        lr->r.n_stop = n;
    } else {
        return bad(err, "invalid_type", "stop", "stop: must be a string or an array of strings");
    }
    for (size_t i = 0; i < lr->r.n_stop; i++)
        if (!*lr->stop[i]) return bad(err, "invalid_value", "stop", "stop: stop strings must not be empty");
    lr->r.stop = lr->stop;
    return 0;
}

static int parse_response_format(local_req_t *lr, json_object *req, hz_gw_error_t *err) {
    json_object *rf = member(req, "response_format");
    const char *type = NULL;
    if (!rf) return 0;
    if (!json_object_is_type(rf, json_type_object) || hz_json_get_string(rf, "type", true, &type))
        return bad(err, "invalid_type", "response_format", "response_format: must be an object with a \"type\"");
    if (strcmp(type, "text") == 0) return 0;
    if (strcmp(type, "json_object") == 0) {
        lr->r.json_mode = true;
        return 0;
    }
    if (strcmp(type, "json_schema") != 0)
        return bad(err, "invalid_value", "response_format.type",
                   "response_format.type: must be \"text\", \"json_object\" or \"json_schema\"");
    json_object *js = member(rf, "json_schema");
    if (!js || !json_object_is_type(js, json_type_object))
        return bad(err, "missing_required_parameter", "response_format.json_schema",
                   "response_format.json_schema: an object {name, schema} is required");
    json_object *schema = member(js, "schema");
    if (schema && !json_object_is_type(schema, json_type_object))
        return bad(err, "invalid_type", "response_format.json_schema.schema",
                   "response_format.json_schema.schema: must be a JSON Schema object");
    lr->r.json_mode = true;
    if (schema) lr->r.json_schema = keep(lr, hz_strdup(hz_json_dump(schema, NULL)));
    return 0;
}

static int parse_sampling(local_req_t *lr, json_object *req, hz_gw_error_t *err) {
    hz_llm_sampling_t *s = &lr->r.sampling;
    hz_llm_sampling_default(s);
    bool have;
    double d;
    int64_t i;
    int rc;
    if ((rc = opt_num(req, "temperature", 0, 2, &have, &d, err))) return rc;
    if (have) s->temperature = (float)d;
    if ((rc = opt_num(req, "top_p", 0, 1, &have, &d, err))) return rc;
    if (have) {
        /* OpenAI allows 0 (keep only the likeliest token); the sampler wants (0, 1]. */
        s->top_p = d > 0 ? (float)d : 1.0f;
        if (d == 0) s->top_k = 1;
    }
    if ((rc = opt_int(req, "top_k", 0, 1000000, &have, &i, err))) return rc;
    if (have) s->top_k = (int32_t)i;
    if ((rc = opt_num(req, "min_p", 0, 0.999999, &have, &d, err))) return rc;
    if (have) s->min_p = (float)d;
    if ((rc = opt_num(req, "frequency_penalty", -2, 2, &have, &d, err))) return rc;
    if (have) s->frequency_penalty = (float)d;
    if ((rc = opt_num(req, "presence_penalty", -2, 2, &have, &d, err))) return rc;
    if (have) s->presence_penalty = (float)d;
    if ((rc = opt_num(req, "repeat_penalty", 0.000001, 10, &have, &d, err))) return rc;
    if (have) s->repeat_penalty = (float)d;
    if ((rc = opt_int(req, "seed", INT64_MIN, INT64_MAX, &have, &i, err))) return rc;
    /* Without a seed every answer at temperature > 0 would be the same one. */
    if (have) s->seed = (uint32_t)(uint64_t)i;
    else hz_random_bytes(&s->seed, sizeof s->seed);
    return 0;
}

static int parse_request(local_req_t *lr, const char *model, json_object *req, bool completion,
                         atomic_bool *cancel, hz_gw_error_t *err) {
    memset(lr, 0, sizeof *lr);
    lr->completion = completion;
    lr->r.model = model;
    lr->r.cancel = cancel;
    if (!req || !json_object_is_type(req, json_type_object))
        return bad(err, "invalid_type", "", "the request body must be a JSON object");
    int rc = refuse_unsupported(req, model, err);
    if (!rc) rc = completion ? parse_prompt(lr, req, err) : parse_messages(lr, req, err);
    if (!rc) rc = parse_sampling(lr, req, err);
    if (!rc) rc = parse_stop(lr, req, err);
    if (!rc) rc = parse_response_format(lr, req, err);
    if (rc) return rc;
    bool have;
    int64_t i;
    if ((rc = opt_int(req, "n", 1, 1, &have, &i, err))) return rc;
    if ((rc = opt_int(req, "best_of", 1, 1, &have, &i, err))) return rc;
    lr->r.max_tokens = completion ? LOCAL_COMPLETIONS_MAX_TOKENS : 0;
    if ((rc = opt_int(req, "max_tokens", 1, INT32_MAX, &have, &i, err))) return rc;
    if (have) lr->r.max_tokens = (int32_t)i;
    if ((rc = opt_int(req, "max_completion_tokens", 1, INT32_MAX, &have, &i, err))) return rc;
    if (have) lr->r.max_tokens = (int32_t)i;
    const char *grammar = NULL;
    if ((rc = hz_json_get_string(req, "grammar", false, &grammar)) == HZ_EINVAL)
        return bad(err, "invalid_type", "grammar", hz_error_last());
    if (grammar && lr->r.json_mode)
        return bad(err, "invalid_value", "grammar", "grammar: give either grammar or a JSON response_format, not both");
    lr->r.grammar = grammar;
    if (completion) {
        /* the legacy API: logprobs is the number of alternatives, 0..5 */
        if ((rc = opt_int(req, "logprobs", 0, 5, &have, &i, err))) return rc;
        lr->r.logprobs = have;
        lr->r.top_logprobs = have ? (int32_t)i : 0;
    } else {
        bool lp = false;
        if (hz_json_get_bool(req, "logprobs", false, &lp) == HZ_EINVAL)
            return bad(err, "invalid_type", "logprobs", hz_error_last());
        if ((rc = opt_int(req, "top_logprobs", 0, HZ_LLM_MAX_TOP_LOGPROBS, &have, &i, err))) return rc;
        if (have && i > 0 && !lp)
            return bad(err, "invalid_value", "top_logprobs", "top_logprobs: requires logprobs to be true");
        lr->r.logprobs = lp;
        lr->r.top_logprobs = have ? (int32_t)i : 0;
    }
    return 0;
}

/* ---- engine errors ----------------------------------------------------------------------- */

/* The engine names the field at fault as "field: ..." (or "field[3]: ..."). */
static void param_of(const char *msg, char *param, size_t cap) {
    size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyz_[]0123456789.");
    if (n == 0 || n >= cap || msg[n] != ':') n = 0;
    memcpy(param, msg, n);
    param[n] = '\0';
}

static int engine_error(int rc, const char *model, bool completion, hz_gw_error_t *err) {
    const char *msg = hz_error_last();
    char param[64];
    param_of(msg, param, sizeof param);
    switch (rc) {
    case HZ_ENOTFOUND:
        return hz_gw_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                               "The model `%s` does not exist or you do not have access to it.", model);
    case HZ_EBUSY:
        rc = hz_gw_error_set(err, 429, "rate_limit_error", "model_busy", "",
                             "the local model %s is busy (%s); retry shortly", model, msg);
        err->retry_after_ms = LOCAL_BUSY_RETRY_MS;
        return rc;
    case HZ_ETOOBIG:
        return hz_gw_error_set(err, 400, "invalid_request_error", "context_length_exceeded",
                               completion ? "prompt" : "messages", "%s", msg);
    case HZ_EINVAL:
    case HZ_EUNSUPPORTED:
        if (strncmp(msg, "json_schema", 11) == 0) snprintf(param, sizeof param, "response_format");
        else if (strncmp(msg, "model ", 6) == 0) snprintf(param, sizeof param, "model");
        return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", param, "%s", msg);
    case HZ_ECLOSED:
        return hz_gw_error_set(err, 503, "api_error", "shutting_down", "", "%s", msg);
    default:
        return hz_gw_error_set(err, 500, "api_error", "local_engine_error", "", "local model %s: %s", model, msg);
    }
}

/* ---- answers ----------------------------------------------------------------------------- */

/* A token's text as a JSON string: a token can be part of a UTF-8 sequence, which JSON cannot
 * carry, so invalid bytes become U+FFFD (the exact bytes go in "bytes"). */
static json_object *token_string(const char *s) {
    hz_buf_t b = HZ_BUF_INIT;
    size_t n = strlen(s);
    hz_buf_puts(&b, "");
    while (n > 0) {
        size_t ok = hz_utf8_valid_prefix(s, n);
        hz_buf_append(&b, s, ok);
        if (ok == n) break;
        hz_buf_puts(&b, "\xEF\xBF\xBD");
        s += ok + 1;
        n -= ok + 1;
    }
    json_object *o = json_object_new_string_len(b.data, (int)b.len);
    hz_buf_free(&b);
    return o;
}

static json_object *token_bytes(const char *s) {
    json_object *a = json_object_new_array();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) json_object_array_add(a, json_object_new_int(*p));
    return a;
}

/* Chat shape: {"content":[{token, logprob, bytes, top_logprobs:[{token, logprob, bytes}]}], "refusal":null}. */
static json_object *chat_logprobs(const hz_llm_result_t *r) {
    json_object *content = json_object_new_array();
    for (size_t i = 0; i < r->n_logprobs; i++) {
        const hz_llm_token_logprob_t *t = &r->logprobs[i];
        json_object *o = json_object_new_object(), *top = json_object_new_array();
        json_object_object_add(o, "token", token_string(t->text));
        json_object_object_add(o, "logprob", json_object_new_double(t->logprob));
        json_object_object_add(o, "bytes", token_bytes(t->text));
        for (int32_t k = 0; k < t->n_top; k++) {
            json_object *a = json_object_new_object();
            json_object_object_add(a, "token", token_string(t->top[k].text));
            json_object_object_add(a, "logprob", json_object_new_double(t->top[k].logprob));
            json_object_object_add(a, "bytes", token_bytes(t->top[k].text));
            json_object_array_add(top, a);
        }
        json_object_object_add(o, "top_logprobs", top);
        json_object_array_add(content, o);
    }
    json_object *lp = json_object_new_object();
    json_object_object_add(lp, "content", content);
    json_object_object_add(lp, "refusal", NULL);
    return lp;
}

/* Legacy completions shape: {tokens, token_logprobs, top_logprobs:[{token: logprob}], text_offset}. */
static json_object *completion_logprobs(const hz_llm_result_t *r, size_t offset0) {
    json_object *tokens = json_object_new_array(), *lps = json_object_new_array();
    json_object *tops = json_object_new_array(), *offs = json_object_new_array();
    size_t off = offset0;
    for (size_t i = 0; i < r->n_logprobs; i++) {
        const hz_llm_token_logprob_t *t = &r->logprobs[i];
        json_object_array_add(tokens, token_string(t->text));
        json_object_array_add(lps, json_object_new_double(t->logprob));
        json_object *top = json_object_new_object();
        for (int32_t k = 0; k < t->n_top; k++) {
            json_object *name = token_string(t->top[k].text);
            json_object_object_add(top, json_object_get_string(name), json_object_new_double(t->top[k].logprob));
            json_object_put(name);
        }
        json_object_array_add(tops, top);
        json_object_array_add(offs, json_object_new_int64((int64_t)off));
        off += strlen(t->text);
    }
    json_object *lp = json_object_new_object();
    json_object_object_add(lp, "tokens", tokens);
    json_object_object_add(lp, "token_logprobs", lps);
    json_object_object_add(lp, "top_logprobs", tops);
    json_object_object_add(lp, "text_offset", offs);
    return lp;
}

static json_object *choice_logprobs(const local_req_t *lr, const hz_llm_result_t *r) {
    if (!lr->r.logprobs) return NULL;
    return lr->completion ? completion_logprobs(r, lr->echo ? strlen(lr->r.prompt) : 0) : chat_logprobs(r);
}

/* ---- running a call ---------------------------------------------------------------------- */

typedef struct local_run {
    const hz_gw_call_t *call;
    const local_req_t *lr;
    hz_gw_result_t *res;
    char *id;
    int64_t created;
    const char *model;          /* as the client named it */
    int64_t t0_ns;
    bool opened;                /* the first chunk (role, or echoed prompt) went out */
    bool stopped;               /* the caller's on_chunk asked to stop */
} local_run_t;

/* A legacy completions chunk: text_completion with choices [{text, index, logprobs, finish_reason}]. */
static json_object *text_chunk(const local_run_t *run, const char *text, size_t len, const char *finish) {
    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", json_object_new_string(run->id));
    json_object_object_add(c, "object", json_object_new_string("text_completion"));
    json_object_object_add(c, "created", json_object_new_int64(run->created));
    json_object_object_add(c, "model", json_object_new_string(run->model));
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "text", json_object_new_string_len(text, (int)len));
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason", finish ? json_object_new_string(finish) : NULL);
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    json_object_object_add(c, "choices", choices);
    return c;
}

static json_object *first_choice(json_object *chunk) {
    return json_object_array_get_idx(json_object_object_get(chunk, "choices"), 0);
}

/* Hand one chunk (taken) to the caller. */
static int emit(local_run_t *run, json_object *chunk) {
    if (run->stopped) {
        json_object_put(chunk);
        return 1;
    }
    int rc = run->call->on_chunk ? run->call->on_chunk(chunk, run->call->ud) : 0;
    json_object_put(chunk);
    run->res->started = true;
    if (rc) run->stopped = true;
    return rc;
}

static int open_stream(local_run_t *run) {
    run->opened = true;
    if (run->lr->completion) {
        if (!run->lr->echo) return 0;
        const char *p = run->lr->r.prompt;
        return emit(run, text_chunk(run, p, strlen(p), NULL));
    }
    json_object *delta = json_object_new_object();
    json_object_object_add(delta, "role", json_object_new_string("assistant"));
    json_object_object_add(delta, "content", json_object_new_string(""));
    return emit(run, gw_chunk_new(run->id, run->created, run->model, delta, NULL));
}

static int on_text(const char *text, size_t len, void *ud) {
    local_run_t *run = ud;
    if (run->res->ttft_ms == 0) run->res->ttft_ms = (double)(hz_time_mono_ns() - run->t0_ns) / 1e6;
    if (!run->opened && open_stream(run)) return 1;
    if (run->lr->completion) return emit(run, text_chunk(run, text, len, NULL));
    json_object *delta = json_object_new_object();
    json_object_object_add(delta, "content", json_object_new_string_len(text, (int)len));
    return emit(run, gw_chunk_new(run->id, run->created, run->model, delta, NULL));
}

static void finish_stream(local_run_t *run, const hz_llm_result_t *r) {
    if (!run->opened && open_stream(run)) return;
    const char *finish = run->res->finish_reason;
    json_object *c = run->lr->completion ? text_chunk(run, "", 0, finish)
                                         : gw_chunk_new(run->id, run->created, run->model, NULL, finish);
    json_object *lp = choice_logprobs(run->lr, r);
    if (lp) json_object_object_add(first_choice(c), "logprobs", lp);
    emit(run, c);
}

static json_object *completion_object(const local_run_t *run, const hz_llm_result_t *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(run->id));
    json_object_object_add(o, "object", json_object_new_string(run->lr->completion ? "text_completion" : "chat.completion"));
    json_object_object_add(o, "created", json_object_new_int64(run->created));
    json_object_object_add(o, "model", json_object_new_string(run->model));
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    if (run->lr->completion) {
        char *text = run->lr->echo ? hz_sprintf("%s%s", run->lr->r.prompt, r->text ? r->text : "") : NULL;
        json_object_object_add(choice, "text", text ? json_object_new_string(text)
                                                    : json_object_new_string_len(r->text ? r->text : "", (int)r->text_len));
        hz_free(text);
    } else {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role", json_object_new_string("assistant"));
        json_object_object_add(m, "content", json_object_new_string_len(r->text ? r->text : "", (int)r->text_len));
        json_object_object_add(m, "refusal", NULL);
        json_object_object_add(choice, "message", m);
    }
    json_object_object_add(choice, "logprobs", choice_logprobs(run->lr, r));
    json_object_object_add(choice, "finish_reason", json_object_new_string(run->res->finish_reason));
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    json_object_object_add(o, "choices", choices);
    json_object_object_add(o, "usage", gw_usage_json(&run->res->usage));
    return o;
}

static const char *request_model(json_object *req, const char *fallback) {
    const char *m = NULL;
    return hz_json_get_string(req, "model", false, &m) == 0 && *m ? m : fallback;
}

int gw_local_chat(struct hz_llm_engine *e, const char *model, const hz_gw_call_t *call, bool completion,
                  hz_gw_result_t *res) {
    int64_t t0 = hz_time_mono_ns();
    const char *client_model = request_model(call->request, model);
    snprintf(res->provider, sizeof res->provider, "local");
    if (!res->model[0]) snprintf(res->model, sizeof res->model, "%s", client_model);
    snprintf(res->upstream_model, sizeof res->upstream_model, "%s", model);
    res->attempts++;
    if (!e) return hz_gw_error_set(&res->error, 404, "invalid_request_error", "model_not_found", "model",
                                   "The model `%s` does not exist (no local engine).", client_model);
    local_req_t lr;
    int rc = parse_request(&lr, model, call->request, completion, call->cancel, &res->error);
    if (rc) {
        local_req_free(&lr);
        return rc;
    }
    local_run_t run = {
        .call = call, .lr = &lr, .res = res, .model = client_model, .t0_ns = t0,
        .id = gw_completion_id(completion ? "cmpl-" : "chatcmpl-"), .created = hz_time_now_ms() / 1000,
    };
    hz_llm_result_t r;
    rc = hz_llm_chat(e, &lr.r, call->stream ? on_text : NULL, &run, &r);
    res->total_ms = (double)(hz_time_mono_ns() - t0) / 1e6;
    if (rc) {
        rc = engine_error(rc, client_model, completion, &res->error);
        /* the engine gave up after text went out: the caller reports it in-band */
        res->error.retryable = res->error.retryable && !res->started;
        goto out;
    }
    res->usage.prompt_tokens = r.prompt_tokens;
    res->usage.completion_tokens = r.completion_tokens;
    res->usage.cached_tokens = r.cached_tokens;
    bool cancelled = r.finish == HZ_LLM_FINISH_CANCELLED || run.stopped;
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s",
             cancelled ? "cancelled" : r.finish == HZ_LLM_FINISH_LENGTH ? "length" : "stop");
    if (!call->stream) res->ttft_ms = res->total_ms;
    if (cancelled) {
        /* nobody is listening for the final chunk */
    } else if (call->stream) {
        finish_stream(&run, &r);
    } else {
        res->completion = completion_object(&run, &r);
    }
    hz_llm_result_free(&r);
out:
    hz_free(run.id);
    local_req_free(&lr);
    return rc;
}

/* ---- embeddings and models --------------------------------------------------------------- */

int gw_local_embeddings(struct hz_llm_engine *e, const char *model, json_object *req, json_object **out,
                        hz_gw_usage_t *usage, hz_gw_error_t *err) {
    *out = NULL;
    memset(usage, 0, sizeof *usage);
    const char *client_model = request_model(req, model);
    if (!e) return hz_gw_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                                   "The model `%s` does not exist (no local engine).", client_model);
    json_object *in = member(req, "input");
    if (!in) return bad(err, "missing_required_parameter", "input", "input: required");
    const char **inputs;
    size_t n;
    char msg[160];
    if (json_object_is_type(in, json_type_string)) {
        n = 1;
        inputs = hz_calloc(1, sizeof(char *));
        inputs[0] = json_object_get_string(in);
    } else if (json_object_is_type(in, json_type_array) && json_object_array_length(in) > 0) {
        n = json_object_array_length(in);
        if (n > LOCAL_MAX_EMBED_INPUTS) {
            snprintf(msg, sizeof msg, "input: %zu inputs; at most %d per request", n, LOCAL_MAX_EMBED_INPUTS);
            return bad(err, "invalid_value", "input", msg);
        }
        inputs = hz_calloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(in, i);
            if (!v || !json_object_is_type(v, json_type_string)) {
                hz_free(inputs);
                snprintf(msg, sizeof msg, "input[%zu]: must be a string (token arrays are not supported by local models)", i);
                return bad(err, "invalid_type", "input", msg);
            }
            inputs[i] = json_object_get_string(v);
        }
    } else {
        return bad(err, "invalid_type", "input", "input: must be a string or a non-empty array of strings");
    }
    for (size_t i = 0; i < n; i++) {
        if (!*inputs[i]) {
            hz_free(inputs);
            snprintf(msg, sizeof msg, "input[%zu]: must not be empty", i);
            return bad(err, "invalid_value", "input", msg);
        }
    }
    const char *fmt = NULL;
    bool have_dims;
    int64_t dims = 0;
    int rc = hz_json_get_string(req, "encoding_format", false, &fmt);
    if (rc == HZ_EINVAL || (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64"))) {
        hz_free(inputs);
        return bad(err, "invalid_value", "encoding_format", "encoding_format: must be \"float\" or \"base64\"");
    }
    if ((rc = opt_int(req, "dimensions", 1, 1 << 20, &have_dims, &dims, err))) {
        hz_free(inputs);
        return rc;
    }
    hz_llm_embed_request_t er = {
        .model = model, .inputs = inputs, .n_inputs = n, .pooling = HZ_LLM_POOL_MODEL, .normalize = true,
    };
    hz_llm_embeddings_t emb;
    memset(&emb, 0, sizeof emb);
    rc = hz_llm_embed(e, &er, &emb);
    hz_free(inputs);
    if (rc) {
        rc = engine_error(rc, client_model, false, err);
        if (err->status == 400 && strcmp(err->code, "context_length_exceeded") == 0)
            snprintf(err->param, sizeof err->param, "input");
        return rc;
    }
    /* A local model has one width; truncating a normalised vector would silently unnormalise it. */
    if (have_dims && (size_t)dims != emb.dim) {
        snprintf(msg, sizeof msg, "dimensions: the local model %s produces %zu dimensions, not %lld",
                 client_model, emb.dim, (long long)dims);
        hz_llm_embeddings_free(&emb);
        return bad(err, "unsupported_value", "dimensions", msg);
    }
    json_object *data = json_object_new_array();
    char num[32];
    for (size_t i = 0; i < emb.n; i++) {
        json_object *vec = json_object_new_array_ext((int)emb.dim);
        for (size_t k = 0; k < emb.dim; k++) {
            /* nine significant digits round-trip a float32 exactly, in half the text of %.17g */
            float f = emb.data[i * emb.dim + k];
            snprintf(num, sizeof num, "%.9g", (double)f);
            json_object_array_add(vec, json_object_new_double_s((double)f, num));
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "object", json_object_new_string("embedding"));
        json_object_object_add(o, "index", json_object_new_int64((int64_t)i));
        json_object_object_add(o, "embedding", vec);
        json_object_array_add(data, o);
    }
    usage->prompt_tokens = emb.prompt_tokens;
    json_object *list = json_object_new_object();
    json_object_object_add(list, "object", json_object_new_string("list"));
    json_object_object_add(list, "data", data);
    json_object_object_add(list, "model", json_object_new_string(client_model));
    json_object *u = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64(emb.prompt_tokens));
    json_object_object_add(u, "total_tokens", json_object_new_int64(emb.prompt_tokens));
    json_object_object_add(list, "usage", u);
    hz_llm_embeddings_free(&emb);
    *out = list;
    return 0;
}

bool gw_local_has(struct hz_llm_engine *e, const char *model) {
    if (!e || !model || !*model) return false;
    json_object *st = hz_llm_engine_status(e);
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(st) && !found; i++) {
        const char *name = json_object_get_string(json_object_object_get(json_object_array_get_idx(st, i), "name"));
        found = name && strcmp(name, model) == 0;
    }
    json_object_put(st);
    return found;
}

void gw_local_models(struct hz_llm_engine *e, json_object *data) {
    if (!e || !data) return;
    json_object *st = hz_llm_engine_status(e);
    for (size_t i = 0; i < json_object_array_length(st); i++) {
        json_object *m = json_object_array_get_idx(st, i);
        const char *name = json_object_get_string(json_object_object_get(m, "name"));
        const char *path = json_object_get_string(json_object_object_get(m, "path"));
        if (!name) continue;
        /* "created" is when the weights were written: the closest a local file has to a release */
        struct stat sb;
        int64_t created = path && stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : 0;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(name));
        json_object_object_add(o, "object", json_object_new_string("model"));
        json_object_object_add(o, "created", json_object_new_int64(created));
        json_object_object_add(o, "owned_by", json_object_new_string("local"));
        json_object_array_add(data, o);
    }
    json_object_put(st);
}
