/*
 * The router: from a client's request to an answer from some target. A model id resolves to an
 * ordered list of targets (an alias's list, one "provider/model", or a local engine model);
 * each target gets up to 1 + max_retries attempts, spaced by exponential backoff with jitter
 * or by the upstream's Retry-After (capped by backoff_max_ms), as long as the failure is
 * retryable (connection error, timeout, 429, 5xx) and nothing has reached the client yet. When
 * a target gives up the next one is tried under the same promise. Once a chunk has been
 * delivered the call is committed: a later failure ends it with res->started set and the
 * caller reports the error in-band, because replaying a different answer after half of one
 * would corrupt what the client already has.
 *
 * Streams are never buffered: transport bytes go through the SSE or NDJSON parser to the
 * wire's stream_event, which emits chunks straight to the caller's on_chunk. Every chunk of a
 * call carries one id, created and the model name the client used, across retries and
 * fallbacks. A 2xx stream that ends without the wire's completion marker is a truncation, never
 * a silent short answer.
 *
 * Health: each request that reached a provider reports success or a retryable failure back to
 * the gateway (gw.c), which puts a provider that keeps failing on cooldown; the router skips a
 * cooling provider unless it is the last option left.
 */
#include "gw_internal.h"

#include <math.h>
#include <string.h>

/* The gateway seam, defined in gw.c (see its header comment). */
const hz_gw_options_t *gw_options(hz_gw_t *gw);
gw_provider_t *gw_provider_get(hz_gw_t *gw, const char *id);
char **gw_alias_get(hz_gw_t *gw, const char *alias, size_t *n);
void gw_strv_free(char **v, size_t n);
bool gw_cooling(hz_gw_t *gw, const char *id);
void gw_provider_outcome(hz_gw_t *gw, const char *id, bool ok);
void gw_redact_key(hz_gw_error_t *err, const gw_provider_t *p);   /* also used by probe.c */

#define MOD "gateway"

typedef enum { KIND_CHAT, KIND_COMPLETION, KIND_EMBED } call_kind_t;

typedef struct target {
    gw_provider_t *p;   /* NULL: the local engine */
    char *model;        /* the upstream (or local) model id */
} target_t;

static void targets_free(target_t *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        gw_provider_release(t[i].p);
        hz_free(t[i].model);
    }
    hz_free(t);
}

static double ms_since(int64_t t0_ns) { return (double)(hz_time_mono_ns() - t0_ns) / 1e6; }

static int cancelled_error(hz_gw_error_t *err) {
    hz_gw_error_set(err, 499, "api_error", "cancelled", NULL, "the request was cancelled");
    err->retryable = false;
    return HZ_ECLOSED;
}

static bool is_cancelled(atomic_bool *cancel) {
    return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

/* Upstreams sometimes echo what they were sent; the key must not travel on in a message (nor
 * in the thread's hz_error_last, which hz_gw_error_set also filled). A key cut off by the
 * message's size limit is caught by its surviving prefix. */
void gw_redact_key(hz_gw_error_t *err, const gw_provider_t *p) {
    if (!p || !p->api_key) return;
    const char *key = p->api_key;
    size_t klen = strlen(key);
    if (klen < 8) return;
    size_t mlen = strlen(err->message);
    bool cut = false;
    for (size_t k = 8; k < klen && k <= mlen && !cut; k++)
        cut = memcmp(err->message + mlen - k, key, k) == 0;
    if (!strstr(err->message, key) && !cut) return;
    hz_buf_t b = HZ_BUF_INIT;
    const char *s = err->message, *hit;
    while ((hit = strstr(s, key)) != NULL) {
        hz_buf_append(&b, s, (size_t)(hit - s));
        hz_buf_puts(&b, "[redacted]");
        s = hit + klen;
    }
    hz_buf_puts(&b, s);
    if (cut) {
        for (size_t k = klen - 1; k >= 8; k--) {
            if (b.len >= k && memcmp(b.data + b.len - k, key, k) == 0) {
                b.len -= k;
                b.data[b.len] = '\0';
                hz_buf_puts(&b, "[redacted]");
                break;
            }
        }
    }
    snprintf(err->message, sizeof err->message, "%s", b.data);
    hz_buf_free(&b);
    hz_error_set(HZ_EIO, "%s", err->message);
}

/* ---- validation --------------------------------------------------------------------------- */

static int bad_param(hz_gw_error_t *err, const char *param, const char *fmt, const char *detail) {
    return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_request_error", param, fmt, detail);
}

static int check_number(json_object *req, const char *key, double lo, double hi, hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return bad_param(err, key, "'%s' must be a number", key);
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < lo || d > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "'%s' must be between %g and %g", key, lo, hi);
        return bad_param(err, key, "%s", msg);
    }
    return 0;
}

static int check_positive_int(json_object *req, const char *key, hz_gw_error_t *err) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0)
        return bad_param(err, key, "'%s' must be a positive integer", key);
    return 0;
}

static int check_messages(json_object *req, hz_gw_error_t *err) {
    json_object *msgs = NULL;
    if (!json_object_object_get_ex(req, "messages", &msgs) || !msgs)
        return bad_param(err, "messages", "%s", "'messages' is required");
    if (!json_object_is_type(msgs, json_type_array))
        return bad_param(err, "messages", "%s", "'messages' must be an array");
    size_t n = json_object_array_length(msgs);
    if (n == 0) return bad_param(err, "messages", "%s", "'messages' must not be empty");
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        char param[64];
        if (!json_object_is_type(m, json_type_object)) {
            snprintf(param, sizeof param, "messages[%zu]", i);
            return bad_param(err, param, "'%s' must be an object", param);
        }
        json_object *role = NULL, *content = NULL;
        if (!json_object_object_get_ex(m, "role", &role) || !json_object_is_type(role, json_type_string)) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            return bad_param(err, param, "'%s' is required and must be a string", param);
        }
        const char *r = json_object_get_string(role);
        static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
        bool known = false;
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++) known |= strcmp(r, roles[k]) == 0;
        if (!known) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            return bad_param(err, param,
                             "'%s' must be one of system, developer, user, assistant, tool, function", param);
        }
        bool has_content = json_object_object_get_ex(m, "content", &content);
        snprintf(param, sizeof param, "messages[%zu].content", i);
        if (has_content && content && !json_object_is_type(content, json_type_string) &&
            !json_object_is_type(content, json_type_array))
            return bad_param(err, param, "'%s' must be a string, an array of content parts or null", param);
        /* Only an assistant turn may stand on its tool_calls alone. */
        if (!has_content && strcmp(r, "assistant") != 0)
            return bad_param(err, param, "'%s' is required", param);
        if (content && json_object_is_type(content, json_type_array)) {
            for (size_t k = 0; k < json_object_array_length(content); k++) {
                if (!json_object_is_type(json_object_array_get_idx(content, k), json_type_object)) {
                    snprintf(param, sizeof param, "messages[%zu].content[%zu]", i, k);
                    return bad_param(err, param, "'%s' must be an object", param);
                }
            }
        }
    }
    return 0;
}

static int check_prompt(json_object *req, hz_gw_error_t *err) {
    json_object *p = NULL;
    if (!json_object_object_get_ex(req, "prompt", &p) || !p)
        return bad_param(err, "prompt", "%s", "'prompt' is required");
    if (json_object_is_type(p, json_type_string)) return 0;
    if (!json_object_is_type(p, json_type_array) || json_object_array_length(p) == 0)
        return bad_param(err, "prompt", "%s", "'prompt' must be a string or a non-empty array");
    return 0;
}

static int check_common(json_object *req, call_kind_t kind, hz_gw_error_t *err) {
    if (!json_object_is_type(req, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", NULL, NULL, "the request body must be a JSON object");
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, "model", &v) || !v)
        return bad_param(err, "model", "%s", "'model' is required");
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return bad_param(err, "model", "%s", "'model' must be a non-empty string");
    int rc;
    if ((rc = kind == KIND_CHAT ? check_messages(req, err) : check_prompt(req, err))) return rc;
    if ((rc = check_positive_int(req, "max_tokens", err))) return rc;
    if ((rc = check_positive_int(req, "max_completion_tokens", err))) return rc;
    if ((rc = check_number(req, "temperature", 0, 2, err))) return rc;
    if ((rc = check_number(req, "top_p", 0, 1, err))) return rc;
    if ((rc = check_number(req, "presence_penalty", -2, 2, err))) return rc;
    if ((rc = check_number(req, "frequency_penalty", -2, 2, err))) return rc;
    if (json_object_object_get_ex(req, "n", &v) && v &&
        (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1))
        return bad_param(err, "n", "%s", "'n' must be 1: one choice per request is supported");
    if (json_object_object_get_ex(req, "stream", &v) && v && !json_object_is_type(v, json_type_boolean))
        return bad_param(err, "stream", "%s", "'stream' must be a boolean");
    if (json_object_object_get_ex(req, "stream_options", &v) && v && !json_object_is_type(v, json_type_object))
        return bad_param(err, "stream_options", "%s", "'stream_options' must be an object");
    if (json_object_object_get_ex(req, "stop", &v) && v && !json_object_is_type(v, json_type_string)) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 4)
            return bad_param(err, "stop", "%s", "'stop' must be a string or an array of at most 4 strings");
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return bad_param(err, "stop", "%s", "'stop' must be a string or an array of at most 4 strings");
    }
    if (kind != KIND_CHAT) return 0;
    if (json_object_object_get_ex(req, "tools", &v) && v) {
        if (!json_object_is_type(v, json_type_array)) return bad_param(err, "tools", "%s", "'tools' must be an array");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object)) {
                char param[32];
                snprintf(param, sizeof param, "tools[%zu]", i);
                return bad_param(err, param, "'%s' must be an object", param);
            }
        }
    }
    if (json_object_object_get_ex(req, "response_format", &v) && v) {
        const char *t = NULL;
        if (!json_object_is_type(v, json_type_object) || hz_json_get_string(v, "type", true, &t) != 0 ||
            (strcmp(t, "text") != 0 && strcmp(t, "json_object") != 0 && strcmp(t, "json_schema") != 0))
            return bad_param(err, "response_format", "%s",
                             "'response_format.type' must be one of text, json_object, json_schema");
        json_object *js = NULL;
        if (strcmp(t, "json_schema") == 0 && hz_json_get_object(v, "json_schema", true, &js) != 0)
            return bad_param(err, "response_format.json_schema", "%s",
                             "'response_format.json_schema' is required and must be an object");
    }
    return 0;
}

static int check_embeddings(json_object *req, hz_gw_error_t *err) {
    if (!json_object_is_type(req, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", NULL, NULL, "the request body must be a JSON object");
    json_object *v = NULL;
    if (!json_object_object_get_ex(req, "model", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return bad_param(err, "model", "%s", "'model' is required and must be a non-empty string");
    if (!json_object_object_get_ex(req, "input", &v) || !v) return bad_param(err, "input", "%s", "'input' is required");
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        if (n == 0) return bad_param(err, "input", "%s", "'input' must not be empty");
        for (size_t i = 0; i < n; i++) {
            json_object *x = json_object_array_get_idx(v, i);
            /* strings, or token ids (one list of ints, or a list of such lists) */
            if (!json_object_is_type(x, json_type_string) && !json_object_is_type(x, json_type_int) &&
                !json_object_is_type(x, json_type_array))
                return bad_param(err, "input", "%s", "'input' must be a string or an array of strings");
        }
    } else if (!json_object_is_type(v, json_type_string)) {
        return bad_param(err, "input", "%s", "'input' must be a string or an array of strings");
    }
    const char *fmt = NULL;
    int rc = hz_json_get_string(req, "encoding_format", false, &fmt);
    if (rc == HZ_EINVAL || (rc == 0 && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0))
        return bad_param(err, "encoding_format", "%s", "'encoding_format' must be \"float\" or \"base64\"");
    return check_positive_int(req, "dimensions", err);
}

/* ---- resolution --------------------------------------------------------------------------- */

static bool resolve_one(hz_gw_t *gw, const char *id, target_t *t) {
    const char *slash = strchr(id, '/');
    if (slash && slash[1]) {
        char pid[72];
        size_t plen = (size_t)(slash - id);
        if (plen > 0 && plen < sizeof pid) {
            memcpy(pid, id, plen);
            pid[plen] = '\0';
            gw_provider_t *p = gw_provider_get(gw, pid);
            if (p) {
                t->p = p;
                t->model = hz_strdup(slash + 1);
                return true;
            }
        }
    }
    struct hz_llm_engine *e = gw_options(gw)->engine;
    if (e && gw_local_has(e, id)) {
        t->p = NULL;
        t->model = hz_strdup(id);
        return true;
    }
    return false;
}

static int resolve(hz_gw_t *gw, const char *model, target_t **out, size_t *n_out, hz_gw_error_t *err) {
    size_t n_alias = 0;
    char **alias = gw_alias_get(gw, model, &n_alias);
    target_t *t = hz_calloc(alias ? n_alias : 1, sizeof(*t));
    size_t n = 0;
    if (alias) {
        for (size_t i = 0; i < n_alias; i++) {
            if (resolve_one(gw, alias[i], &t[n]))
                n++;
            else
                hz_log_warn(MOD, "alias %s: target %s is not available, skipped", model, alias[i]);
        }
        gw_strv_free(alias, n_alias);
    } else if (resolve_one(gw, model, &t[0])) {
        n = 1;
    }
    if (n == 0) {
        hz_free(t);
        return hz_gw_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                               alias ? "The model '%s' is an alias none of whose targets is available"
                                     : "The model '%s' does not exist or you do not have access to it",
                               model);
    }
    *out = t;
    *n_out = n;
    return 0;
}

/* ---- one call: state shared by attempts, the stream path and the local target -------------- */

typedef struct call_ctx {
    hz_gw_t *gw;
    const hz_gw_call_t *call;       /* chat and completions; NULL for embeddings */
    hz_gw_result_t *res;
    call_kind_t kind;
    bool stream;
    const char *client_model;
    char *id;
    int64_t created;
    int64_t t0_ns;
    bool client_gone;               /* on_chunk asked to stop */

    /* the streamed attempt in progress */
    const gw_wire_ops_t *wire;
    gw_stream_t *st;
    hz_gw_sse_t *sse;
    hz_gw_ndjson_t *nd;
    bool done;                      /* the wire saw its completion marker */
    bool cb_failed;                 /* err was filled by the stream callbacks */
    hz_gw_error_t *err;

    /* embeddings */
    json_object *embed_out;
    hz_gw_usage_t embed_usage;
} call_ctx_t;

static int emit(json_object *chunk, void *ud) {
    call_ctx_t *c = ud;
    if (!c->res->started) {
        c->res->started = true;
        c->res->ttft_ms = ms_since(c->t0_ns);
        const char *id = NULL;
        int64_t created;
        if (hz_json_get_string(chunk, "id", false, &id) == 0 && strcmp(id, c->id) != 0) {
            hz_free(c->id);
            c->id = hz_strdup(id);
        }
        if (hz_json_get_int(chunk, "created", false, &created) == 0) c->created = created;
    }
    int rc = c->call->on_chunk ? c->call->on_chunk(chunk, c->call->ud) : 0;
    if (rc) c->client_gone = true;
    return rc;
}

static int stream_step(call_ctx_t *c, const char *event, const char *data, size_t len, json_object *obj) {
    if (c->done) return 0;  /* anything after the completion marker is ignored */
    int rc = c->wire->stream_event(c->st, event, data, len, obj, emit, c, c->err);
    if (rc == 1) {
        c->done = true;
        return 0;
    }
    if (rc < 0) {
        c->cb_failed = true;
        if (c->client_gone) cancelled_error(c->err);
        return rc;
    }
    return 0;
}

static int on_sse(const char *event, const char *data, size_t len, void *ud) {
    return stream_step(ud, event, data, len, NULL);
}

static int on_ndjson(json_object *obj, void *ud) { return stream_step(ud, NULL, NULL, 0, obj); }

static int on_body(void *ud, const char *buf, size_t len) {
    call_ctx_t *c = ud;
    int rc = c->sse ? hz_gw_sse_feed(c->sse, buf, len) : hz_gw_ndjson_feed(c->nd, buf, len);
    if (rc && !c->cb_failed) {
        /* the parser itself refused the bytes: an over-long line or, for NDJSON, bad JSON */
        hz_gw_error_set(c->err, 502, "upstream_error", "bad_upstream_response", NULL,
                        "upstream stream is malformed: %s", hz_error_last());
        c->err->retryable = !c->res->started;
        c->cb_failed = true;
    }
    return rc;
}

static void stream_reset(call_ctx_t *c) {
    if (c->st) c->wire->stream_free(c->st);
    hz_gw_sse_free(c->sse);
    hz_gw_ndjson_free(c->nd);
    c->st = NULL;
    c->sse = NULL;
    c->nd = NULL;
    c->done = c->cb_failed = false;
}

static void usage_from_json(json_object *u, hz_gw_usage_t *out) {
    int64_t v;
    json_object *d = NULL;
    if (hz_json_get_int(u, "prompt_tokens", false, &v) == 0) out->prompt_tokens = v;
    if (hz_json_get_int(u, "completion_tokens", false, &v) == 0) out->completion_tokens = v;
    if (hz_json_get_object(u, "prompt_tokens_details", false, &d) == 0 &&
        hz_json_get_int(d, "cached_tokens", false, &v) == 0)
        out->cached_tokens = v;
}

static void finish_from_completion(json_object *comp, hz_gw_result_t *res) {
    json_object *u = NULL, *choices = NULL;
    if (hz_json_get_object(comp, "usage", false, &u) == 0) usage_from_json(u, &res->usage);
    if (hz_json_get_array(comp, "choices", false, &choices) == 0 && json_object_array_length(choices) > 0) {
        const char *fr = NULL;
        if (hz_json_get_string(json_object_array_get_idx(choices, 0), "finish_reason", false, &fr) == 0)
            snprintf(res->finish_reason, sizeof res->finish_reason, "%s", fr);
    }
}

/* The request as the upstream must see it: a shallow copy (members shared by reference, the
 * caller's object is not touched) with "model" replaced. */
static json_object *request_for(json_object *req, const char *model) {
    json_object *copy = json_object_new_object();
    json_object_object_foreach(req, k, v) {
        if (strcmp(k, "model") != 0) json_object_object_add(copy, k, json_object_get(v));
    }
    json_object_object_add(copy, "model", json_object_new_string(model));
    return copy;
}

/* One HTTP attempt against a provider. 0 on success; otherwise err is filled. */
static int attempt(call_ctx_t *c, const gw_provider_t *p, const char *model, json_object *req,
                   hz_gw_error_t *err) {
    const gw_wire_ops_t *wire = gw_wire_ops(p->wire);
    gw_http_req_t http;
    memset(&http, 0, sizeof http);
    json_object *body = request_for(req, model);
    int rc;
    if (c->kind == KIND_EMBED)
        rc = wire->embed_request(p, body, &http, err);
    else if (c->kind == KIND_COMPLETION)
        rc = wire->completion_request(p, body, c->stream, &http, err);
    else
        rc = wire->chat_request(p, body, c->stream, &http, err);
    json_object_put(body);
    if (rc) {
        gw_http_req_free(&http);
        err->retryable = false;   /* what the wire cannot express will not improve on retry */
        return rc;
    }

    gw_transport_result_t tr;
    memset(&tr, 0, sizeof tr);
    bool streaming = c->stream && c->kind != KIND_EMBED;
    if (streaming) {
        c->wire = wire;
        c->err = err;
        c->st = wire->stream_new(c->id, c->created, c->client_model);
        if (wire->framing == GW_FRAMING_NDJSON)
            c->nd = hz_gw_ndjson_new(0, on_ndjson, c);
        else
            c->sse = hz_gw_sse_new(0, on_sse, c);
    }
    atomic_bool *cancel = c->call ? c->call->cancel : NULL;
    rc = gw_transport_send(p, &http, streaming ? on_body : NULL, c, cancel, &tr, err);
    gw_http_req_free(&http);

    if (rc == 0 && (tr.status < 200 || tr.status > 299)) {
        wire->error_from(tr.status, tr.body.data ? tr.body.data : "", tr.body.len, err);
        err->retry_after_ms = tr.retry_after_ms;
        if (tr.status == 429 || tr.status >= 500) err->retryable = true;
        rc = err->status >= 400 && err->status < 500 ? HZ_EINVAL : HZ_EIO;
    } else if (rc == 0 && streaming) {
        if (!c->done) {
            int frc = c->sse ? hz_gw_sse_finish(c->sse) : hz_gw_ndjson_finish(c->nd);
            if (frc) {
                if (!c->cb_failed)
                    hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL,
                                    "upstream stream is malformed at its end: %s", hz_error_last());
                rc = frc;
            }
        }
        if (rc == 0 && !c->done) {
            hz_gw_error_set(err, 502, "upstream_error", "upstream_truncated", NULL,
                            "the upstream stream from %s ended before its completion marker", p->id);
            rc = HZ_EIO;
        }
        if (rc == 0) wire->stream_result(c->st, &c->res->usage, c->res->finish_reason);
    } else if (rc == 0) {
        const char *b = tr.body.data ? tr.body.data : "";
        if (c->kind == KIND_EMBED) {
            memset(&c->embed_usage, 0, sizeof c->embed_usage);
            rc = wire->embed_response(b, tr.body.len, c->client_model, &c->embed_out, &c->embed_usage, err);
        } else {
            /* chat_response handles text_completion bodies too (OpenAI wire) */
            rc = wire->chat_response(b, tr.body.len, c->client_model, &c->res->completion, err);
            if (rc == 0) finish_from_completion(c->res->completion, c->res);
        }
        if (rc) err->retryable = false;   /* a malformed 2xx answer will be malformed again */
    }
    if (rc && c->client_gone) rc = cancelled_error(err);
    if (rc && c->res->started) err->retryable = false;
    if (streaming) stream_reset(c);
    gw_transport_result_free(&tr);
    return rc;
}

/* Cancellable sleep; false when cancelled. */
static bool pause_ms(int64_t ms, atomic_bool *cancel) {
    int64_t end = hz_time_mono_ns() + ms * 1000000;
    for (;;) {
        if (is_cancelled(cancel)) return false;
        int64_t left = (end - hz_time_mono_ns()) / 1000000;
        if (left <= 0) return true;
        hz_sleep_ms(left < 50 ? left : 50);
    }
}

static int64_t backoff_ms(const hz_gw_options_t *o, int attempt_no, int64_t retry_after_ms) {
    if (retry_after_ms >= 0) return retry_after_ms < o->backoff_max_ms ? retry_after_ms : o->backoff_max_ms;
    int64_t d = o->backoff_base_ms;
    for (int i = 0; i < attempt_no && d < o->backoff_max_ms; i++) d *= 2;
    if (d > o->backoff_max_ms) d = o->backoff_max_ms;
    /* "equal jitter": at least half the delay, so retries stay spaced, the rest random so
     * many clients failing together do not return together */
    uint32_t r;
    hz_random_bytes(&r, sizeof r);
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

static int run_remote(call_ctx_t *c, const gw_provider_t *p, const char *model, json_object *req,
                      hz_gw_error_t *err) {
    atomic_bool *cancel = c->call ? c->call->cancel : NULL;
    int rc = 0;
    for (int32_t a = 0; a <= p->max_retries; a++) {
        if (is_cancelled(cancel)) return cancelled_error(err);
        c->res->attempts++;
        rc = attempt(c, p, model, req, err);
        gw_redact_key(err, p);
        if (rc == 0) return 0;
        hz_log_debug(MOD, "%s/%s attempt %d: %d %s", p->id, model, a + 1, err->status, err->message);
        if (!err->retryable || c->res->started || c->client_gone || a == p->max_retries) break;
        if (!pause_ms(backoff_ms(gw_options(c->gw), a, err->retry_after_ms), cancel))
            return cancelled_error(err);
    }
    return rc;
}

/* The local engine stamps chunks from the request's own "model" (the client's name) and its
 * own id; emit() records that id so the usage chunk matches. */
static int run_local(call_ctx_t *c, const char *model, json_object *req, hz_gw_error_t *err) {
    struct hz_llm_engine *e = gw_options(c->gw)->engine;
    c->res->attempts++;
    if (c->kind == KIND_EMBED) {
        memset(&c->embed_usage, 0, sizeof c->embed_usage);
        return gw_local_embeddings(e, model, req, &c->embed_out, &c->embed_usage, err);
    }
    hz_gw_call_t lc = *c->call;
    lc.on_chunk = emit;
    lc.ud = c;
    hz_gw_result_t lr;
    memset(&lr, 0, sizeof lr);
    lr.error.retry_after_ms = -1;
    int rc = gw_local_chat(e, model, &lc, c->kind == KIND_COMPLETION, &lr);
    c->res->usage = lr.usage;
    if (rc == 0 && (c->client_gone || strcmp(lr.finish_reason, "cancelled") == 0)) {
        rc = cancelled_error(err);
    } else if (rc == 0) {
        memcpy(c->res->finish_reason, lr.finish_reason, sizeof lr.finish_reason);
        c->res->completion = lr.completion;
        lr.completion = NULL;
    } else {
        *err = lr.error;
        if (c->client_gone) rc = cancelled_error(err);
        if (c->res->started) err->retryable = false;
    }
    hz_gw_result_free(&lr);
    return rc;
}

/* Resolve, then try each target in turn. */
static int run(call_ctx_t *c, json_object *req, hz_gw_error_t *err) {
    target_t *t = NULL;
    size_t n = 0;
    int rc = resolve(c->gw, c->client_model, &t, &n, err);
    if (rc) return rc;
    atomic_bool *cancel = c->call ? c->call->cancel : NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].p && i + 1 < n && gw_cooling(c->gw, t[i].p->id)) {
            hz_log_debug(MOD, "%s: provider %s is cooling down, skipped", c->client_model, t[i].p->id);
            continue;
        }
        if (is_cancelled(cancel)) {
            rc = cancelled_error(err);
            break;
        }
        const gw_wire_ops_t *wire = t[i].p ? gw_wire_ops(t[i].p->wire) : NULL;
        if (wire && ((c->kind == KIND_COMPLETION && !wire->completion_request) ||
                     (c->kind == KIND_EMBED && !wire->embed_request))) {
            rc = hz_gw_error_set(err, 400, "invalid_request_error", "unsupported_model", "model",
                                 "provider %s (%s) does not support %s", t[i].p->id, hz_gw_wire_name(t[i].p->wire),
                                 c->kind == KIND_EMBED ? "embeddings" : "/v1/completions");
            err->retryable = n > 1;   /* another target of an alias may */
        } else if (t[i].p) {
            rc = run_remote(c, t[i].p, t[i].model, req, err);
            if (rc == 0)
                gw_provider_outcome(c->gw, t[i].p->id, true);
            else if (err->retryable || (err->status >= 500 && !c->client_gone))
                gw_provider_outcome(c->gw, t[i].p->id, false);
        } else {
            rc = run_local(c, t[i].model, req, err);
        }
        snprintf(c->res->provider, sizeof c->res->provider, "%s", t[i].p ? t[i].p->id : "local");
        snprintf(c->res->upstream_model, sizeof c->res->upstream_model, "%s", t[i].model);
        if (rc == 0 || !err->retryable || c->res->started || c->client_gone) break;
        if (i + 1 < n)
            hz_log_info(MOD, "%s: %s/%s failed (%d %s), falling back", c->client_model,
                        t[i].p ? t[i].p->id : "local", t[i].model, err->status, err->code);
    }
    targets_free(t, n);
    return rc;
}

static bool wants_usage_chunk(json_object *req) {
    json_object *so = NULL;
    bool inc = false;
    return hz_json_get_object(req, "stream_options", false, &so) == 0 &&
           hz_json_get_bool(so, "include_usage", false, &inc) == 0 && inc;
}

static int chat_like(hz_gw_t *gw, const hz_gw_call_t *call, hz_gw_result_t *res, call_kind_t kind) {
    if (!res) return hz_error_set(HZ_EINVAL, "result is NULL");
    memset(res, 0, sizeof *res);
    res->error.retry_after_ms = -1;
    int64_t t0 = hz_time_mono_ns();
    if (!gw || !call || !call->request)
        return hz_gw_error_set(&res->error, 400, "invalid_request_error", NULL, NULL, "no request");
    int rc = check_common(call->request, kind, &res->error);
    if (rc) return rc;
    if (call->stream && !call->on_chunk)
        return hz_gw_error_set(&res->error, 500, "api_error", NULL, NULL, "a streamed call needs on_chunk");

    const char *model = json_object_get_string(json_object_object_get(call->request, "model"));
    snprintf(res->model, sizeof res->model, "%s", model);
    call_ctx_t c;
    memset(&c, 0, sizeof c);
    c.gw = gw;
    c.call = call;
    c.res = res;
    c.kind = kind;
    c.stream = call->stream;
    c.client_model = res->model;
    c.id = gw_completion_id(kind == KIND_COMPLETION ? "cmpl-" : "chatcmpl-");
    c.created = hz_time_now_ms() / 1000;
    c.t0_ns = t0;

    rc = run(&c, call->request, &res->error);
    if (rc == 0 && call->stream && wants_usage_chunk(call->request)) {
        json_object *u = gw_chunk_usage(c.id, c.created, c.client_model, &res->usage);
        if (kind == KIND_COMPLETION) json_object_object_add(u, "object", json_object_new_string("text_completion"));
        emit(u, &c);
        json_object_put(u);
    }
    hz_free(c.id);
    res->total_ms = ms_since(t0);
    if (!call->stream || !res->started) res->ttft_ms = rc == 0 ? res->total_ms : 0;
    if (rc && strcmp(res->error.code, "cancelled") == 0)
        snprintf(res->finish_reason, sizeof res->finish_reason, "cancelled");
    if (rc) {
        json_object_put(res->completion);
        res->completion = NULL;
    }
    return rc;
}

int hz_gw_chat(hz_gw_t *gw, const hz_gw_call_t *call, hz_gw_result_t *res) {
    return chat_like(gw, call, res, KIND_CHAT);
}

int hz_gw_completion(hz_gw_t *gw, const hz_gw_call_t *call, hz_gw_result_t *res) {
    return chat_like(gw, call, res, KIND_COMPLETION);
}

void hz_gw_result_free(hz_gw_result_t *res) {
    if (!res) return;
    json_object_put(res->completion);
    res->completion = NULL;
}

/* Replace each data[i].embedding float array by its base64 string. */
static int embeddings_to_base64(json_object *list, hz_gw_error_t *err) {
    json_object *data = NULL;
    if (hz_json_get_array(list, "data", true, &data) != 0)
        return hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL, "embeddings without data");
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        json_object *d = json_object_array_get_idx(data, i), *vec = NULL;
        if (hz_json_get_array(d, "embedding", true, &vec) != 0) continue;  /* already encoded */
        size_t n = json_object_array_length(vec);
        float *f = hz_malloc(n ? n * sizeof(float) : 1);
        for (size_t k = 0; k < n; k++) f[k] = (float)json_object_get_double(json_object_array_get_idx(vec, k));
        char *b64 = gw_base64_floats(f, n);
        hz_free(f);
        json_object_object_add(d, "embedding", json_object_new_string(b64));
        hz_free(b64);
    }
    return 0;
}

int hz_gw_embeddings(hz_gw_t *gw, json_object *request, json_object **out, hz_gw_usage_t *usage,
                     hz_gw_error_t *err) {
    hz_gw_error_t scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    err->retry_after_ms = -1;
    if (out) *out = NULL;
    if (usage) memset(usage, 0, sizeof *usage);
    if (!gw || !out) return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "no gateway or output");
    int rc = check_embeddings(request, err);
    if (rc) return rc;
    const char *model = json_object_get_string(json_object_object_get(request, "model"));
    hz_gw_result_t res;   /* attempts and provider, for the log */
    memset(&res, 0, sizeof res);
    call_ctx_t c;
    memset(&c, 0, sizeof c);
    c.gw = gw;
    c.res = &res;
    c.kind = KIND_EMBED;
    c.client_model = model;
    c.t0_ns = hz_time_mono_ns();
    rc = run(&c, request, err);
    if (rc) return rc;
    const char *fmt = NULL;
    if (hz_json_get_string(request, "encoding_format", false, &fmt) == 0 && strcmp(fmt, "base64") == 0 &&
        (rc = embeddings_to_base64(c.embed_out, err)) != 0) {
        json_object_put(c.embed_out);
        return rc;
    }
    json_object_object_add(c.embed_out, "model", json_object_new_string(model));
    *out = c.embed_out;
    if (usage) *usage = c.embed_usage;
    hz_log_debug(MOD, "embeddings %s via %s/%s in %.1f ms (%d attempts)", model, res.provider,
                 res.upstream_model, ms_since(c.t0_ns), res.attempts);
    return 0;
}
