/*
 * Provider configs from API bodies (/v2/add_llm_provider and friends), parsed strictly.
 *
 * A field this parser does not know is an error naming it, not something to skip: a client that
 * sends "apiKey" or "baseUrl" would otherwise get a provider without a key or on the default
 * URL and find out only when requests fail. Each field's JSON type is checked here (the error
 * names the field), then hz_gw_provider_config_check judges the values (id syntax, known type,
 * http(s) base URL). null means "not set", as for the OpenAI parameters. Strings stay borrowed
 * from the body; only the array of model pointers is allocated.
 */
#include <string.h>

#include "gw_internal.h"

#define TIMEOUT_MAX_MS 3600000   /* one hour: anything longer is a typo, not a timeout */
#define RETRIES_MAX 10
#define MODELS_MAX 4096

static const char *const FIELDS[] = {
    "id", "type", "base_url", "api_key", "models",
    "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "max_retries",
};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static bool known(const char *k) {
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(k, FIELDS[i]) == 0) return true;
    return false;
}

static int bad(hz_gw_error_t *err, const char *param, const char *code, const char *msg) {
    return hz_gw_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
}

/* An integer field in [lo, hi]; absent or null leaves *out alone. */
static int get_int(json_object *body, const char *key, int64_t lo, int64_t hi, int32_t *out, hz_gw_error_t *err) {
    int64_t v;
    int rc = hz_json_get_int(body, key, false, &v);
    if (rc == HZ_ENOTFOUND) return 0;
    if (rc) return bad(err, key, "invalid_type", hz_error_last());
    if (v < lo || v > hi)
        return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", key,
                               "\"%s\" must be between %lld and %lld, not %lld", key, (long long)lo, (long long)hi,
                               (long long)v);
    *out = (int32_t)v;
    return 0;
}

/* Which field a message from hz_gw_provider_config_check is about: the first field it quotes
 * ("id", "models[2]"), so the 400 carries a param even though the check only has words. */
static const char *field_named_in(const char *msg) {
    const char *best = "", *at = NULL;
    for (size_t i = 0; i < N_FIELDS; i++) {
        size_t n = strlen(FIELDS[i]);
        for (const char *p = strchr(msg, '"'); p; p = strchr(p + 1, '"')) {
            if (strncmp(p + 1, FIELDS[i], n) == 0 && (p[1 + n] == '"' || p[1 + n] == '[')) {
                if (!at || p < at) at = p, best = FIELDS[i];
                break;
            }
        }
    }
    return best;
}

int hz_gw_provider_config_from_json(json_object *body, hz_gw_provider_config_t *cfg, hz_gw_error_t *err) {
    memset(cfg, 0, sizeof(*cfg));
    if (!body || !json_object_is_type(body, json_type_object))
        return bad(err, "", "invalid_type", "the body must be a JSON object describing the provider");

    /* every unknown field in one message, so a client fixes them all at once */
    hz_buf_t unknown = HZ_BUF_INIT;
    const char *first_unknown = NULL;
    size_t n_unknown = 0;
    json_object_object_foreach(body, k, v) {
        (void)v;
        if (known(k)) continue;
        if (!first_unknown) first_unknown = k;
        hz_buf_puts(&unknown, n_unknown++ ? ", " : "");
        hz_buf_put_json_string(&unknown, k, strlen(k));
    }
    if (n_unknown) {
        hz_buf_t known_list = HZ_BUF_INIT;
        for (size_t i = 0; i < N_FIELDS; i++) hz_buf_printf(&known_list, "%s%s", i ? ", " : "", FIELDS[i]);
        hz_gw_error_set(err, 400, "invalid_request_error", "unknown_parameter", first_unknown,
                        "unknown field%s %s (known fields: %s)", n_unknown > 1 ? "s" : "", unknown.data,
                        known_list.data);
        hz_buf_free(&known_list);
        hz_buf_free(&unknown);
        return HZ_EINVAL;
    }

    int rc;
    if ((rc = hz_json_get_string(body, "id", true, &cfg->id)) != 0)
        return bad(err, "id", rc == HZ_EINVAL && !json_object_object_get_ex(body, "id", NULL) ? "missing_parameter"
                                                                                               : "invalid_type",
                   hz_error_last());
    if ((rc = hz_json_get_string(body, "type", true, &cfg->type)) != 0)
        return bad(err, "type", "invalid_type", hz_error_last());
    if ((rc = hz_json_get_string(body, "base_url", false, &cfg->base_url)) != 0 && rc != HZ_ENOTFOUND)
        return bad(err, "base_url", "invalid_type", hz_error_last());
    if (cfg->base_url && !*cfg->base_url) cfg->base_url = NULL;
    if ((rc = hz_json_get_string(body, "api_key", false, &cfg->api_key)) != 0 && rc != HZ_ENOTFOUND)
        return bad(err, "api_key", "invalid_type", "\"api_key\" must be a string (or null for none)");
    if (cfg->api_key && !*cfg->api_key) cfg->api_key = NULL;

    if (get_int(body, "connect_timeout_ms", 0, TIMEOUT_MAX_MS, &cfg->connect_timeout_ms, err) ||
        get_int(body, "first_byte_timeout_ms", 0, TIMEOUT_MAX_MS, &cfg->first_byte_timeout_ms, err) ||
        get_int(body, "idle_timeout_ms", 0, TIMEOUT_MAX_MS, &cfg->idle_timeout_ms, err) ||
        get_int(body, "max_retries", -1, RETRIES_MAX, &cfg->max_retries, err))
        return HZ_EINVAL;

    json_object *models;
    rc = hz_json_get_array(body, "models", false, &models);
    if (rc && rc != HZ_ENOTFOUND) return bad(err, "models", "invalid_type", "\"models\" must be an array of model ids");
    if (!rc) {
        size_t n = json_object_array_length(models);
        if (n > MODELS_MAX)
            return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", "models",
                                   "\"models\" lists %zu models, at most %d", n, MODELS_MAX);
        const char **list = hz_calloc(n ? n : 1, sizeof(*list));
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_array_get_idx(models, i);
            const char *s = json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;
            if (!s || !*s || strlen(s) > 255) {
                hz_free(list);
                return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", "models",
                                       "\"models\"[%zu] must be a model id: a non-empty string of at most 255 bytes",
                                       i);
            }
            list[i] = s;
        }
        cfg->models = list;
        cfg->n_models = n;
    }

    if (hz_gw_provider_config_check(cfg) != 0) {
        const char *msg = hz_error_last();
        hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", field_named_in(msg), "%s", msg);
        hz_gw_provider_config_release(cfg);
        return HZ_EINVAL;
    }
    return 0;
}

void hz_gw_provider_config_release(hz_gw_provider_config_t *cfg) {
    if (!cfg) return;
    hz_free((void *)cfg->models);
    cfg->models = NULL;
    cfg->n_models = 0;
}
