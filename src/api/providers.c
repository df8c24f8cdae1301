/*
 * The /v2 provider routes: managing the remote providers the gateway routes to. The registry
 * (gateway/registry.c) does the work: strict parsing, sealing the API key, persisting, applying.
 * Answers show a provider as hz_gw_providers_json does, which never includes the key (only
 * has_api_key and a short hint).
 *
 *   POST /v2/add_llm_provider      {id, type, base_url?, api_key?, models?, *_timeout_ms?, max_retries?}
 *   POST /v2/modify_llm_provider   {id, fields to change}; api_key absent keeps it, null/"" drops it
 *   POST /v2/remove_llm_provider   {id}
 *   POST /v2/test_llm_provider     {id} of a stored provider or a full config; optional model
 *   GET  /v2/llm_providers
 *   GET  /v2/scan_ollama_models?base_url=&timeout_ms=
 *
 * Testing and scanning talk to the network, so they run on the server's worker threads
 * (hz_http_defer_work) rather than on a thread that serves requests. Changes write to the store
 * on the request thread: one small durable transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "hanzo/gateway.h"

/* gateway/registry.c; belongs in hanzo/gateway.h beside the other registry calls. */
int hz_gw_registry_test(hz_gw_registry_t *reg, json_object *body, json_object **out, hz_gw_error_t *err);

#define SCAN_TIMEOUT_DEFAULT_MS 5000
#define SCAN_TIMEOUT_MAX_MS 60000

static hz_gw_error_t no_error(void) {
    hz_gw_error_t e;
    memset(&e, 0, sizeof(e));
    e.retry_after_ms = -1;
    return e;
}

static bool registry_ready(hz_http_req_t *req, hz_api_t *api) {
    if (api->providers && api->gw) return true;
    hz_http_respond_error(req, 503, "api_error", "providers_unavailable", "the provider registry is not open");
    return false;
}

/* The provider as /v2/llm_providers lists it. Owned; NULL if the gateway does not have it. */
static json_object *provider_view(hz_api_t *api, const char *id) {
    json_object *all = hz_gw_providers_json(api->gw), *found = NULL;
    for (size_t i = 0; all && i < json_object_array_length(all); i++) {
        json_object *p = json_object_array_get_idx(all, i), *pid;
        if (json_object_object_get_ex(p, "id", &pid) && strcmp(json_object_get_string(pid), id) == 0) {
            found = json_object_get(p);
            break;
        }
    }
    json_object_put(all);
    return found;
}

static void respond_provider(hz_http_req_t *req, hz_api_t *api, int status, const char *id) {
    json_object *p = provider_view(api, id);
    if (!p) {
        hz_http_respond_error(req, 500, "api_error", "provider_missing", "provider \"%s\" was saved but is not in the gateway", id);
        return;
    }
    hz_http_respond_json(req, status, p);
}

/* The "id" of a body already parsed, for the reply; copied because the body goes away. */
static char *body_id(json_object *body) {
    json_object *v;
    return json_object_object_get_ex(body, "id", &v) && json_object_is_type(v, json_type_string)
               ? hz_strdup(json_object_get_string(v)) : hz_strdup("");
}

void api_provider_add(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!registry_ready(req, api)) return;
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    hz_gw_error_t err = no_error();
    if (hz_gw_registry_add(api->providers, body, &err) != 0) {
        json_object_put(body);
        api_respond_gw_error(req, &err);
        return;
    }
    char *id = body_id(body);
    json_object_put(body);
    respond_provider(req, api, 201, id);
    hz_free(id);
}

void api_provider_modify(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!registry_ready(req, api)) return;
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    hz_gw_error_t err = no_error();
    if (hz_gw_registry_modify(api->providers, body, &err) != 0) {
        json_object_put(body);
        api_respond_gw_error(req, &err);
        return;
    }
    char *id = body_id(body);
    json_object_put(body);
    respond_provider(req, api, 200, id);
    hz_free(id);
}

void api_provider_remove(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!registry_ready(req, api)) return;
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    hz_gw_error_t err = no_error();
    const char *id = NULL;
    int rc = 0;
    if (!body || !json_object_is_type(body, json_type_object)) {
        rc = hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_type", "", "the body must be {\"id\": \"...\"}");
    } else {
        json_object_object_foreach(body, k, v) {
            (void)v;
            if (strcmp(k, "id") != 0) {
                rc = hz_gw_error_set(&err, 400, "invalid_request_error", "unknown_parameter", k,
                                     "unknown field \"%s\" (the body is {\"id\": \"...\"})", k);
                break;
            }
        }
        if (!rc && hz_json_get_string(body, "id", true, &id) != 0)
            rc = hz_gw_error_set(&err, 400, "invalid_request_error", "missing_parameter", "id", "%s", hz_error_last());
    }
    if (!rc) rc = hz_gw_registry_remove(api->providers, id, &err);
    if (rc) {
        api_respond_gw_error(req, &err);
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "deleted", json_object_new_boolean(true));
        hz_http_respond_json(req, 200, o);
    }
    json_object_put(body);
}

typedef struct {
    hz_api_t *api;
    json_object *body;
} test_job_t;

static void test_work(hz_http_req_t *req, void *arg) {
    test_job_t *job = arg;
    json_object *out = NULL;
    hz_gw_error_t err = no_error();
    if (hz_gw_registry_test(job->api->providers, job->body, &out, &err) != 0) api_respond_gw_error(req, &err);
    else hz_http_respond_json(req, 200, out);
    json_object_put(job->body);
    hz_free(job);
}

void api_provider_test(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!registry_ready(req, api)) return;
    json_object *body;
    if (hz_http_req_json(req, &body) != 0) return;
    test_job_t *job = hz_malloc(sizeof(*job));
    job->api = api;
    job->body = body;
    if (hz_http_defer_work(req, test_work, job) != 0) {  /* answered 503 already */
        json_object_put(body);
        hz_free(job);
    }
}

void api_provider_list(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!api->gw) {
        hz_http_respond_error(req, 503, "api_error", "gateway_unavailable", "the gateway is not running");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", hz_gw_providers_json(api->gw));
    hz_http_respond_json(req, 200, o);
}

typedef struct {
    char *base_url;     /* NULL: Ollama's default */
    int32_t timeout_ms;
} scan_job_t;

static void scan_work(hz_http_req_t *req, void *arg) {
    scan_job_t *job = arg;
    json_object *models = NULL;
    hz_gw_error_t err = no_error();
    if (hz_gw_ollama_scan(job->base_url, job->timeout_ms, &models, &err) != 0) {
        json_object_put(models);
        api_respond_gw_error(req, &err);
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "base_url",
                               json_object_new_string(job->base_url ? job->base_url : "http://127.0.0.1:11434"));
        json_object_object_add(o, "models", models ? models : json_object_new_array());
        hz_http_respond_json(req, 200, o);
    }
    hz_free(job->base_url);
    hz_free(job);
}

void api_scan_ollama(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_gw_error_t err = no_error();
    const char *base = hz_http_req_query(req, "base_url");
    const char *tmo = hz_http_req_query(req, "timeout_ms");
    if (base && *base && !hz_str_starts_with(base, "http://") && !hz_str_starts_with(base, "https://")) {
        hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_value", "base_url",
                        "base_url must be an http:// or https:// URL, not \"%s\"", base);
        api_respond_gw_error(req, &err);
        return;
    }
    long long timeout = SCAN_TIMEOUT_DEFAULT_MS;
    if (tmo) {
        char *end;
        timeout = strtoll(tmo, &end, 10);
        if (!*tmo || *end || timeout <= 0 || timeout > SCAN_TIMEOUT_MAX_MS) {
            hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_value", "timeout_ms",
                            "timeout_ms must be an integer from 1 to %d, not \"%s\"", SCAN_TIMEOUT_MAX_MS, tmo);
            api_respond_gw_error(req, &err);
            return;
        }
    }
    /* query arguments are gone after the defer: copy what the worker needs */
    scan_job_t *job = hz_malloc(sizeof(*job));
    job->base_url = base && *base ? hz_strdup(base) : NULL;
    job->timeout_ms = (int32_t)timeout;
    if (hz_http_defer_work(req, scan_work, job) != 0) {
        hz_free(job->base_url);
        hz_free(job);
    }
}
