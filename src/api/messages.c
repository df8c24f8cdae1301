/*
 * Anthropic-style POST /v1/messages, served by the same gateway as /v1/chat/completions: the
 * request is translated to the chat shape (hz_gw_messages_to_chat), runs through hz_gw_chat, and
 * the answer is translated back, as a Message object or as Anthropic's named event stream
 * ("event: content_block_delta\ndata: {...}"), by the translation in gateway/messages.c. So any
 * model the node can reach, local or remote, answers clients written for Anthropic's SDK.
 *
 * As in openai.c, the stream opens on the first event, so failures before any output are an
 * ordinary JSON error with its status; later ones are an in-band "error" event, the way
 * Anthropic reports an overloaded stream, with no message_stop after it. Errors use Anthropic's
 * shape {"type":"error","error":{"type","message"}} and its type names.
 */
#include <stdatomic.h>
#include <string.h>

#include "api_internal.h"
#include "hanzo/gateway.h"

/* openai.c (see the note there). */
int api_v1_admit(hz_api_t *api, const char *key_id, hz_gw_error_t *err);
void api_v1_account(hz_api_t *api, const char *key_id, const char *endpoint, const char *model,
                    const hz_gw_result_t *res, const hz_gw_usage_t *usage, int status, int64_t t0_ns);

typedef struct msg_job {
    hz_api_t *api;
    hz_http_req_t *req;
    json_object *body;
    char key_id[17];
    int64_t t0_ns;
    bool stream;
    hz_sse_t *sse;
    hz_gw_msgstream_t *ms;
    atomic_bool cancel;
    bool gone;
    char bad_chunk[256];        /* why the translation refused a chunk, or "" */
} msg_job_t;

/* Anthropic's error type for a status (its SDKs pick the exception class from the status). */
static const char *anthropic_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return "api_error";
    }
}

static json_object *anthropic_error(const hz_gw_error_t *err) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string(anthropic_type(err->status)));
    json_object_object_add(e, "message", json_object_new_string(err->message[0] ? err->message : "internal error"));
    json_object *root = json_object_new_object();
    json_object_object_add(root, "type", json_object_new_string("error"));
    json_object_object_add(root, "error", e);
    return root;
}

static void respond_error(hz_http_req_t *req, const hz_gw_error_t *err) {
    if (err->retry_after_ms >= 0) {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)((err->retry_after_ms + 999) / 1000));
        hz_http_set_header(req, "Retry-After", secs);
    }
    hz_http_respond_json(req, err->status > 0 ? err->status : 500, anthropic_error(err));
}

static const char *body_model(json_object *body) {
    const char *m = NULL;
    return hz_json_get_string(body, "model", false, &m) == 0 ? m : "";
}

static int send_event(msg_job_t *job, const char *event, json_object *data) {
    size_t len;
    const char *text = hz_json_dump(data, &len);
    if (hz_sse_send(job->sse, event, text, len) != 0) {
        job->gone = true;
        atomic_store(&job->cancel, true);
        return 1;
    }
    return 0;
}

static int on_event(const char *event, json_object *data, void *ud) {
    msg_job_t *job = ud;
    if (job->gone) return 1;
    if (!job->sse) job->sse = hz_http_respond_sse(job->req);
    return send_event(job, event, data);
}

static int on_chunk(json_object *chunk, void *ud) {
    msg_job_t *job = ud;
    /* before the stream opens, the server may have answered at shutdown; after, req is spent */
    if (job->gone || (!job->sse && hz_http_req_abandoned(job->req))) {
        atomic_store(&job->cancel, true);
        return 1;
    }
    int rc = hz_gw_msgstream_chunk(job->ms, chunk);
    if (rc != 0 && !job->gone) {
        /* a chunk the translation could not carry: stop the call, report it below */
        snprintf(job->bad_chunk, sizeof job->bad_chunk, "%s", hz_error_last());
        atomic_store(&job->cancel, true);
    }
    return rc;
}

static int finish_stream(msg_job_t *job, int rc, hz_gw_result_t *res) {
    if (job->bad_chunk[0]) {
        hz_gw_error_set(&res->error, 502, "api_error", "translation_error", "",
                        "the answer could not be carried as Anthropic events: %s", job->bad_chunk);
        rc = -1;
    }
    int status = 200;
    if (rc != 0) {
        status = res->error.status ? res->error.status : 500;
        if (!job->sse) {
            respond_error(job->req, &res->error);
            return status;
        }
        if (!job->gone) {
            json_object *e = anthropic_error(&res->error);
            send_event(job, "error", e);
            json_object_put(e);
        }
    } else if (job->gone || strcmp(res->finish_reason, "cancelled") == 0) {
        status = 499;   /* the client closed the request (nginx's convention) */
    } else if (hz_gw_msgstream_end(job->ms, &res->usage, res->finish_reason) != 0 && !job->gone) {
        status = 500;
    }
    if (job->sse) {
        hz_sse_close(job->sse);
        job->sse = NULL;
    } else {
        /* cancelled (server shutting down) or the end events failed before any output */
        hz_gw_error_set(&res->error, status == 499 ? 503 : 500, "api_error", "", "",
                        status == 499 ? "the request was cancelled" : "the stream could not be started");
        respond_error(job->req, &res->error);
    }
    return status;
}

static void work(hz_http_req_t *req, void *arg) {
    msg_job_t *job = arg;
    job->req = req;
    hz_gw_result_t res;
    memset(&res, 0, sizeof res);
    res.error.retry_after_ms = -1;
    json_object *chat = NULL;
    int status;
    if (hz_gw_messages_to_chat(job->body, &chat, &res.error) != 0) {
        respond_error(req, &res.error);
        status = res.error.status ? res.error.status : 400;
        goto out;
    }
    hz_gw_call_t call = {.request = chat, .stream = job->stream, .on_chunk = on_chunk, .ud = job, .cancel = &job->cancel};
    if (job->stream) job->ms = hz_gw_msgstream_new(body_model(job->body), on_event, job);
    int rc = hz_gw_chat(job->api->gw, &call, &res);
    if (job->stream) {
        status = finish_stream(job, rc, &res);
    } else if (rc != 0) {
        respond_error(req, &res.error);
        status = res.error.status ? res.error.status : 500;
    } else {
        json_object *msg = hz_gw_chat_to_message(res.completion);
        if (msg) {
            hz_http_respond_json(req, 200, msg);
            status = 200;
        } else {
            hz_gw_error_set(&res.error, 500, "api_error", "translation_error", "", "%s", hz_error_last());
            respond_error(req, &res.error);
            status = 500;
        }
    }
out:
    api_v1_account(job->api, job->key_id, "messages", body_model(job->body), &res, NULL, status, job->t0_ns);
    hz_gw_result_free(&res);
    hz_gw_msgstream_free(job->ms);
    json_object_put(chat);
    json_object_put(job->body);
    hz_free(job);
}

void api_v1_messages(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    int64_t t0 = hz_time_mono_ns();
    hz_gw_error_t err;
    memset(&err, 0, sizeof err);
    err.retry_after_ms = -1;
    if (!api->gw) {
        hz_gw_error_set(&err, 503, "api_error", "gateway_unavailable", "", "the model gateway is not running");
        respond_error(req, &err);
        return;
    }
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    if (!body || !json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "", "the request body must be a JSON object");
        respond_error(req, &err);
        return;
    }
    msg_job_t *job = hz_calloc(1, sizeof *job);
    job->api = api;
    job->body = body;
    job->t0_ns = t0;
    atomic_init(&job->cancel, false);
    api_key_id(req, job->key_id);
    int rc = 0;
    if (hz_json_get_bool(body, "stream", false, &job->stream) == HZ_EINVAL)
        rc = hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "stream", "%s", hz_error_last());
    if (rc == 0) rc = api_v1_admit(api, job->key_id, &err);
    if (rc != 0) {
        respond_error(req, &err);
        api_v1_account(api, job->key_id, "messages", body_model(body), NULL, NULL, err.status, t0);
        json_object_put(body);
        hz_free(job);
        return;
    }
    if (hz_http_defer_work(req, work, job) != 0) {
        json_object_put(body);
        hz_free(job);
    }
}
