/*
 * Probes: one real round trip to check a provider before it is saved (test_llm_provider) and a
 * look at what a local Ollama has installed (scan_ollama_models). Both go through the same
 * transport and wires as real traffic, with no retries: a probe answers "does this work right
 * now", and retrying would hide exactly the failure the person asked about. A failed round trip
 * is a result ({ok:false, error}), not a failure of the probe itself; only a config that cannot
 * be tried at all is refused.
 */
#include "gw_internal.h"

#include <string.h>

/* router.c */
void gw_redact_key(hz_gw_error_t *err, const gw_provider_t *p);

#define OLLAMA_DEFAULT_URL "http://127.0.0.1:11434"

/* Send one request without retries; 0 with the 2xx body in tr, else err filled. */
static int round_trip(const gw_provider_t *p, const gw_wire_ops_t *wire, gw_http_req_t *http,
                      gw_transport_result_t *tr, hz_gw_error_t *err) {
    int rc = gw_transport_send(p, http, NULL, NULL, NULL, tr, err);
    if (rc == 0 && (tr->status < 200 || tr->status > 299)) {
        wire->error_from(tr->status, tr->body.data ? tr->body.data : "", tr->body.len, err);
        err->retry_after_ms = tr->retry_after_ms;
        rc = err->status >= 400 && err->status < 500 ? HZ_EINVAL : HZ_EIO;
    }
    return rc;
}

static json_object *error_member(const hz_gw_error_t *err) {
    json_object *wrapped = hz_gw_error_json(err);
    json_object *e = json_object_get(json_object_object_get(wrapped, "error"));
    json_object_object_add(e, "status", json_object_new_int(err->status));
    json_object_put(wrapped);
    return e;
}

int hz_gw_provider_test(hz_gw_t *gw, const hz_gw_provider_config_t *cfg, const char *model,
                        json_object **out) {
    (void)gw;   /* the probe runs on the config given, not on what the gateway holds */
    if (!out) return hz_error_set(HZ_EINVAL, "out is NULL");
    *out = NULL;
    gw_provider_t *p = gw_provider_new(cfg);
    if (!p) return HZ_EINVAL;
    const gw_wire_ops_t *wire = gw_wire_ops(p->wire);
    hz_gw_error_t err;
    memset(&err, 0, sizeof err);
    err.retry_after_ms = -1;
    gw_http_req_t http;
    memset(&http, 0, sizeof http);
    gw_transport_result_t tr;
    memset(&tr, 0, sizeof tr);
    json_object *result = json_object_new_object();
    int64_t t0 = hz_time_mono_ns();
    int rc;

    if (wire->models_request && !model) {
        wire->models_request(p, &http);
        rc = round_trip(p, wire, &http, &tr, &err);
        json_object *ids = NULL;
        if (rc == 0 && (rc = wire->models_response(tr.body.data ? tr.body.data : "", tr.body.len, &ids, &err)) == 0)
            json_object_object_add(result, "models", ids);
    } else {
        const char *m = model ? model : (p->n_models > 0 ? p->models[0] : NULL);
        if (!m) {
            rc = hz_gw_error_set(&err, 400, "invalid_request_error", "model_required", "model",
                                 "provider %s cannot list its models: name a model to test with", p->id);
        } else {
            json_object *req = json_object_new_object();
            json_object_object_add(req, "model", json_object_new_string(m));
            json_object *msgs = json_object_new_array();
            json_object *msg = json_object_new_object();
            json_object_object_add(msg, "role", json_object_new_string("user"));
            json_object_object_add(msg, "content", json_object_new_string("ping"));
            json_object_array_add(msgs, msg);
            json_object_object_add(req, "messages", msgs);
            json_object_object_add(req, "max_tokens", json_object_new_int(1));
            rc = wire->chat_request(p, req, false, &http, &err);
            json_object_put(req);
            if (rc == 0) rc = round_trip(p, wire, &http, &tr, &err);
            json_object *completion = NULL;
            if (rc == 0 && (rc = wire->chat_response(tr.body.data ? tr.body.data : "", tr.body.len, m,
                                                     &completion, &err)) == 0) {
                json_object_object_add(result, "model", json_object_new_string(m));
                json_object_put(completion);
            }
        }
    }
    double latency = (double)(hz_time_mono_ns() - t0) / 1e6;
    json_object_object_add(result, "ok", json_object_new_boolean(rc == 0));
    json_object_object_add(result, "latency_ms", json_object_new_double(latency));
    if (rc) {
        gw_redact_key(&err, p);
        json_object_object_add(result, "error", error_member(&err));
    }
    gw_http_req_free(&http);
    gw_transport_result_free(&tr);
    gw_provider_release(p);
    *out = result;
    return 0;
}

int hz_gw_ollama_scan(const char *base_url, int32_t timeout_ms, json_object **out, hz_gw_error_t *err) {
    hz_gw_error_t scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    err->retry_after_ms = -1;
    if (!out) return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "out is NULL");
    *out = NULL;
    if (timeout_ms <= 0) timeout_ms = 5000;
    hz_gw_provider_config_t cfg = {
        .id = "ollama-scan",
        .type = "ollama",
        .base_url = base_url && *base_url ? base_url : OLLAMA_DEFAULT_URL,
        .connect_timeout_ms = timeout_ms,
        .first_byte_timeout_ms = timeout_ms,
        .idle_timeout_ms = timeout_ms,
        .max_retries = -1,
    };
    gw_provider_t *p = gw_provider_new(&cfg);
    if (!p) return hz_gw_error_set(err, 400, "invalid_request_error", NULL, "base_url", "%s", hz_error_last());

    gw_http_req_t http;
    gw_http_req_init(&http, "GET", "%s/api/tags", p->base_url);
    gw_transport_result_t tr;
    memset(&tr, 0, sizeof tr);
    int rc = round_trip(p, gw_wire_ops(p->wire), &http, &tr, err);
    gw_http_req_free(&http);
    json_object *root = NULL, *models = NULL;
    if (rc == 0) {
        if (hz_json_parse(tr.body.data ? tr.body.data : "", tr.body.len, &root) != 0 ||
            !json_object_is_type(root, json_type_object) || hz_json_get_array(root, "models", true, &models) != 0)
            rc = hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL,
                                 "Ollama's /api/tags answer has no \"models\" array");
    }
    json_object *list = NULL;
    if (rc == 0) {
        list = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(models); i++) {
            json_object *m = json_object_array_get_idx(models, i), *v = NULL;
            const char *name = NULL;
            if (hz_json_get_string(m, "name", true, &name) != 0 &&
                hz_json_get_string(m, "model", true, &name) != 0) {
                rc = hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL,
                                     "Ollama's /api/tags: models[%zu] has no name", i);
                break;
            }
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(name));
            static const char *const keep[] = {"size", "modified_at", "digest", "details"};
            for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
                if (json_object_object_get_ex(m, keep[k], &v)) json_object_object_add(o, keep[k], json_object_get(v));
            json_object_array_add(list, o);
        }
    }
    json_object_put(root);
    gw_transport_result_free(&tr);
    gw_provider_release(p);
    if (rc) {
        json_object_put(list);
        return rc;
    }
    *out = list;
    return 0;
}
