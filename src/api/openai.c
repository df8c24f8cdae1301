/*
 * The OpenAI-compatible /v1 API: chat completions, legacy completions, embeddings and the model
 * list. The handlers are thin: the gateway validates, routes and translates. What lives here is
 * the HTTP side of a call: the per-key rate limit (checked before any work, so a flood costs a
 * hash lookup), moving the call off the server thread (a model answer takes seconds), the SSE
 * framing of a stream, and accounting once the call ends.
 *
 * A stream's reply is opened lazily, on the first chunk, so that everything that fails before
 * output (a bad parameter, an unknown model, every fallback down) is still a plain JSON error
 * with a real status code. Once bytes went out the status is spent: a later failure is sent
 * in-band as a data event {"error":{...}} the way OpenAI does it, and the stream ends without
 * "[DONE]", so no client mistakes a cut-off answer for a complete one. A client that goes away
 * shows up as HZ_ECLOSED from hz_sse_send, which cancels the call so the model stops generating.
 *
 * Usage-only chunks from upstreams are dropped and one is written at the end when the client
 * asked for stream_options.include_usage: the counts then come from the gateway's result, the
 * same for every target.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "gateway/gw_internal.h"   /* gw_chunk_usage: the same usage chunk every target would send */
#include "hanzo/gateway.h"

static const char *MOD = "api";

/* Shared with messages.c (see the note in the report: these belong in api_internal.h). */
int api_v1_admit(hz_api_t *api, const char *key_id, hz_gw_error_t *err);
void api_v1_account(hz_api_t *api, const char *key_id, const char *endpoint, const char *model,
                    const hz_gw_result_t *res, const hz_gw_usage_t *usage, int status, int64_t t0_ns);

static void err_init(hz_gw_error_t *err) {
    memset(err, 0, sizeof *err);
    err->retry_after_ms = -1;
}

int api_v1_admit(hz_api_t *api, const char *key_id, hz_gw_error_t *err) {
    int64_t retry_ms = -1;
    if (!api->limits || hz_gw_limits_admit(api->limits, key_id, hz_time_now_ms(), &retry_ms) == 0) return 0;
    if (retry_ms < 1) retry_ms = 1000;
    int rc = hz_gw_error_set(err, 429, "rate_limit_error", "rate_limited", "",
                             "rate limit reached for this API key; retry in %lld ms", (long long)retry_ms);
    err->retry_after_ms = retry_ms;
    return rc;
}

void api_v1_account(hz_api_t *api, const char *key_id, const char *endpoint, const char *model,
                    const hz_gw_result_t *res, const hz_gw_usage_t *usage, int status, int64_t t0_ns) {
    hz_gw_usage_t zero = {0, 0, 0};
    if (!usage) usage = res ? &res->usage : &zero;
    int64_t now = hz_time_now_ms();
    if (api->limits) hz_gw_limits_charge(api->limits, key_id, now, usage->prompt_tokens + usage->completion_tokens);
    if (!api->store) return;
    hz_gw_usage_record_t rec = {
        .ts_ms = now,
        .key_id = key_id,
        .endpoint = endpoint,
        .model = model ? model : "",
        .provider = res ? res->provider : "",
        .upstream_model = res ? res->upstream_model : "",
        .status = status,
        .usage = *usage,
        .latency_ms = (double)(hz_time_mono_ns() - t0_ns) / 1e6,
        .ttft_ms = res ? res->ttft_ms : 0,
    };
    if (hz_gw_usage_record(api->store, &rec) != 0)
        hz_log_warn(MOD, "usage record for %s %s not saved: %s", endpoint, rec.model, hz_error_last());
}

/* ---- one call -------------------------------------------------------------------------- */

typedef enum { V1_CHAT, V1_COMPLETIONS, V1_EMBEDDINGS } v1_kind_t;

static const char *const ENDPOINT[] = {"chat", "completions", "embeddings"};

typedef struct v1_job {
    hz_api_t *api;
    hz_http_req_t *req;
    json_object *body;
    v1_kind_t kind;
    char key_id[17];
    int64_t t0_ns;
    bool stream, include_usage;
    /* streaming state */
    hz_sse_t *sse;
    atomic_bool cancel;
    bool gone;                  /* the client went away */
    char id[128];               /* of the first chunk, for the usage chunk */
    char model[256];
    int64_t created;
} v1_job_t;

static void job_free(v1_job_t *job) {
    json_object_put(job->body);
    hz_free(job);
}

static const char *body_model(json_object *body) {
    const char *m = NULL;
    return hz_json_get_string(body, "model", false, &m) == 0 ? m : "";
}

static int send_json(v1_job_t *job, json_object *obj) {
    size_t len;
    const char *text = hz_json_dump(obj, &len);
    if (hz_sse_send(job->sse, NULL, text, len) != 0) {
        job->gone = true;
        atomic_store(&job->cancel, true);
        return 1;
    }
    return 0;
}

static int on_chunk(json_object *chunk, void *ud) {
    v1_job_t *job = ud;
    /* before the stream opens, the server may have answered at shutdown; after, req is spent */
    if (job->gone || (!job->sse && hz_http_req_abandoned(job->req))) {
        atomic_store(&job->cancel, true);
        return 1;
    }
    json_object *choices = json_object_object_get(chunk, "choices");
    if (json_object_object_get(chunk, "usage") && choices && json_object_array_length(choices) == 0)
        return 0;   /* ours comes at the end */
    if (!job->sse) {
        const char *id = json_object_get_string(json_object_object_get(chunk, "id"));
        const char *model = json_object_get_string(json_object_object_get(chunk, "model"));
        snprintf(job->id, sizeof job->id, "%s", id ? id : "");
        snprintf(job->model, sizeof job->model, "%s", model ? model : "");
        job->created = json_object_get_int64(json_object_object_get(chunk, "created"));
        job->sse = hz_http_respond_sse(job->req);
    }
    return send_json(job, chunk);
}

/* Ends the stream after a call that returned rc; the status it stands for, for accounting. */
static int finish_stream(v1_job_t *job, int rc, hz_gw_result_t *res) {
    if (!job->sse) {
        /* nothing went out: an ordinary error reply still has its status code */
        if (rc == 0 && strcmp(res->finish_reason, "cancelled") != 0)
            hz_gw_error_set(&res->error, 502, "api_error", "empty_stream", "", "the model produced no output");
        else if (rc == 0)
            hz_gw_error_set(&res->error, 503, "api_error", "cancelled", "", "the request was cancelled");
        api_respond_gw_error(job->req, &res->error);
        return rc == 0 && strcmp(res->finish_reason, "cancelled") == 0 ? 499 : res->error.status;
    }
    int status = 200;
    if (rc != 0) {
        json_object *e = hz_gw_error_json(&res->error);
        if (!job->gone) send_json(job, e);
        json_object_put(e);
        status = res->error.status ? res->error.status : 500;
    } else if (job->gone || strcmp(res->finish_reason, "cancelled") == 0) {
        status = 499;   /* the client closed the request (nginx's convention) */
    } else {
        if (job->include_usage) {
            json_object *u = gw_chunk_usage(job->id, job->created, job->model, &res->usage);
            if (job->kind == V1_COMPLETIONS) json_object_object_add(u, "object", json_object_new_string("text_completion"));
            send_json(job, u);
            json_object_put(u);
        }
        if (!job->gone && hz_sse_send(job->sse, NULL, "[DONE]", 6) != 0) job->gone = true;
    }
    hz_sse_close(job->sse);
    job->sse = NULL;
    return status;
}

static void run_generate(v1_job_t *job) {
    hz_gw_result_t res;
    memset(&res, 0, sizeof res);
    res.error.retry_after_ms = -1;
    hz_gw_call_t call = {
        .request = job->body, .stream = job->stream, .on_chunk = on_chunk, .ud = job, .cancel = &job->cancel,
    };
    int rc = job->kind == V1_CHAT ? hz_gw_chat(job->api->gw, &call, &res)
                                  : hz_gw_completion(job->api->gw, &call, &res);
    int status;
    if (job->stream) {
        status = finish_stream(job, rc, &res);
    } else if (rc != 0) {
        api_respond_gw_error(job->req, &res.error);
        status = res.error.status ? res.error.status : 500;
    } else {
        hz_http_respond_json(job->req, 200, res.completion);
        res.completion = NULL;
        status = 200;
    }
    api_v1_account(job->api, job->key_id, ENDPOINT[job->kind], body_model(job->body), &res, NULL, status, job->t0_ns);
    hz_gw_result_free(&res);
}

static void run_embeddings(v1_job_t *job) {
    hz_gw_error_t err;
    err_init(&err);
    hz_gw_usage_t usage = {0, 0, 0};
    json_object *out = NULL;
    int status = 200;
    if (hz_gw_embeddings(job->api->gw, job->body, &out, &usage, &err) != 0) {
        api_respond_gw_error(job->req, &err);
        status = err.status ? err.status : 500;
    } else {
        hz_http_respond_json(job->req, 200, out);
    }
    api_v1_account(job->api, job->key_id, "embeddings", body_model(job->body), NULL, &usage, status, job->t0_ns);
}

static void work(hz_http_req_t *req, void *arg) {
    v1_job_t *job = arg;
    job->req = req;
    if (job->kind == V1_EMBEDDINGS) run_embeddings(job);
    else run_generate(job);
    job_free(job);
}

/* Parse, admit, then hand the call to a worker thread. */
static void start(hz_http_req_t *req, hz_api_t *api, v1_kind_t kind) {
    int64_t t0 = hz_time_mono_ns();
    hz_gw_error_t err;
    err_init(&err);
    if (!api->gw) {
        hz_http_respond_error(req, 503, "api_error", "gateway_unavailable", "the model gateway is not running");
        return;
    }
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    if (!body || !json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "", "the request body must be a JSON object");
        api_respond_gw_error(req, &err);
        return;
    }
    v1_job_t *job = hz_calloc(1, sizeof *job);
    job->api = api;
    job->body = body;
    job->kind = kind;
    job->t0_ns = t0;
    atomic_init(&job->cancel, false);
    api_key_id(req, job->key_id);
    int rc = 0;
    if (kind != V1_EMBEDDINGS) {
        json_object *so = NULL;
        if (hz_json_get_bool(body, "stream", false, &job->stream) == HZ_EINVAL)
            rc = hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "stream", "%s", hz_error_last());
        else if (hz_json_get_object(body, "stream_options", false, &so) == HZ_EINVAL)
            rc = hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "stream_options", "%s", hz_error_last());
        else if (so && hz_json_get_bool(so, "include_usage", false, &job->include_usage) == HZ_EINVAL)
            rc = hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "stream_options.include_usage",
                                 "stream_options.include_usage: %s", hz_error_last());
    }
    if (rc == 0) rc = api_v1_admit(api, job->key_id, &err);
    if (rc != 0) {
        api_respond_gw_error(req, &err);
        api_v1_account(api, job->key_id, ENDPOINT[kind], body_model(body), NULL, NULL, err.status, t0);
        job_free(job);
        return;
    }
    if (hz_http_defer_work(req, work, job) != 0) job_free(job);   /* answered 503 already */
}

void api_v1_chat_completions(hz_http_req_t *req, void *ctx) { start(req, ctx, V1_CHAT); }
void api_v1_completions(hz_http_req_t *req, void *ctx) { start(req, ctx, V1_COMPLETIONS); }
void api_v1_embeddings(hz_http_req_t *req, void *ctx) { start(req, ctx, V1_EMBEDDINGS); }

/* ---- models ---------------------------------------------------------------------------- */

void api_v1_models(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!api->gw) {
        hz_http_respond_error(req, 503, "api_error", "gateway_unavailable", "the model gateway is not running");
        return;
    }
    hz_http_respond_json(req, 200, hz_gw_models(api->gw));
}

/* /v1/models/{id} and /v1/models/{provider}/{id}: a remote model's id has a slash in it. */
void api_v1_model(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!api->gw) {
        hz_http_respond_error(req, 503, "api_error", "gateway_unavailable", "the model gateway is not running");
        return;
    }
    const char *provider = hz_http_req_param(req, "provider"), *id = hz_http_req_param(req, "id");
    char *full = provider ? hz_sprintf("%s/%s", provider, id ? id : "") : hz_strdup(id ? id : "");
    json_object *m = hz_gw_model(api->gw, full);
    if (m) {
        hz_http_respond_json(req, 200, m);
    } else {
        hz_gw_error_t err;
        err_init(&err);
        hz_gw_error_set(&err, 404, "invalid_request_error", "model_not_found", "model",
                        "The model `%s` does not exist or you do not have access to it.", full);
        api_respond_gw_error(req, &err);
    }
    hz_free(full);
}
