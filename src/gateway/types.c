/*
 * Provider types: the table of known hosted providers, each bound to the wire it speaks and the
 * base URL its documentation gives, plus the syntax check every provider config passes before
 * the gateway or the registry accepts it. The table is the only place a new OpenAI-compatible
 * host needs to be added. The check is strict about what later becomes part of an HTTP request
 * (the base URL, the API key in a header) because a stray CR/LF there would let a config inject
 * headers into every upstream call.
 */
#include "gateway/gw_internal.h"

#include <string.h>

static const struct {
    const char *name;
    hz_gw_wire_t wire;
    const char *base_url;
} provider_types[] = {
    {"openai", HZ_GW_WIRE_OPENAI, "https://api.openai.com/v1"},
    {"groq", HZ_GW_WIRE_OPENAI, "https://api.groq.com/openai/v1"},
    {"deepseek", HZ_GW_WIRE_OPENAI, "https://api.deepseek.com/v1"},
    {"together", HZ_GW_WIRE_OPENAI, "https://api.together.xyz/v1"},
    {"openrouter", HZ_GW_WIRE_OPENAI, "https://openrouter.ai/api/v1"},
    {"xai", HZ_GW_WIRE_OPENAI, "https://api.x.ai/v1"},
    {"grok", HZ_GW_WIRE_OPENAI, "https://api.x.ai/v1"},
    {"exo", HZ_GW_WIRE_OPENAI, "http://127.0.0.1:52415/v1"},
    {"openai-compatible", HZ_GW_WIRE_OPENAI, NULL},
    {"custom", HZ_GW_WIRE_OPENAI, NULL},
    {"anthropic", HZ_GW_WIRE_ANTHROPIC, "https://api.anthropic.com"},
    {"gemini", HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta"},
    {"google", HZ_GW_WIRE_GEMINI, "https://generativelanguage.googleapis.com/v1beta"},
    {"ollama", HZ_GW_WIRE_OLLAMA, "http://127.0.0.1:11434"},
};

#define KNOWN_TYPES "openai, groq, deepseek, together, openrouter, xai, grok, exo, " \
                    "openai-compatible, custom, anthropic, gemini, google, ollama"

const char *hz_gw_wire_name(hz_gw_wire_t w) {
    switch (w) {
    case HZ_GW_WIRE_OPENAI: return "openai";
    case HZ_GW_WIRE_ANTHROPIC: return "anthropic";
    case HZ_GW_WIRE_GEMINI: return "gemini";
    case HZ_GW_WIRE_OLLAMA: return "ollama";
    }
    return "unknown";
}

int hz_gw_provider_type(const char *type, hz_gw_wire_t *wire, const char **default_base_url) {
    for (size_t i = 0; type && i < sizeof provider_types / sizeof provider_types[0]; i++) {
        if (strcmp(type, provider_types[i].name) == 0) {
            if (wire) *wire = provider_types[i].wire;
            if (default_base_url) *default_base_url = provider_types[i].base_url;
            return 0;
        }
    }
    return hz_error_set(HZ_EINVAL, "unknown provider type \"%s\" (known: " KNOWN_TYPES ")",
                        type ? type : "(null)");
}

const gw_wire_ops_t *gw_wire_ops(hz_gw_wire_t w) {
    switch (w) {
    case HZ_GW_WIRE_OPENAI: return &gw_wire_openai;
    case HZ_GW_WIRE_ANTHROPIC: return &gw_wire_anthropic;
    case HZ_GW_WIRE_GEMINI: return &gw_wire_gemini;
    case HZ_GW_WIRE_OLLAMA: return &gw_wire_ollama;
    }
    return NULL;
}

static bool id_char(char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

/* http(s)://host[:port][/path], nothing that could break out of a URL or a request line. */
static int check_base_url(const char *url) {
    const char *host;
    if (hz_str_starts_with(url, "http://")) host = url + 7;
    else if (hz_str_starts_with(url, "https://")) host = url + 8;
    else return hz_error_set(HZ_EINVAL, "provider field \"base_url\": \"%s\" is not an http:// or https:// URL", url);
    if (*host == '\0' || *host == '/' || *host == ':')
        return hz_error_set(HZ_EINVAL, "provider field \"base_url\": \"%s\" has no host", url);
    for (const char *c = url; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u == 0x7f || u == '#' || u == '?')
            return hz_error_set(HZ_EINVAL, "provider field \"base_url\": character 0x%02x at offset %zu is not "
                                "allowed (no whitespace, control characters, query or fragment)",
                                u, (size_t)(c - url));
    }
    return 0;
}

int hz_gw_provider_config_check(const hz_gw_provider_config_t *cfg) {
    if (!cfg) return hz_error_set(HZ_EINVAL, "provider config is NULL");
    const char *id = cfg->id;
    if (!id || !*id) return hz_error_set(HZ_EINVAL, "provider field \"id\" is required");
    size_t n = strlen(id);
    if (n > 64) return hz_error_set(HZ_EINVAL, "provider field \"id\": longer than 64 characters");
    for (size_t i = 0; i < n; i++) {
        if (!id_char(id[i], i == 0))
            return hz_error_set(HZ_EINVAL, "provider field \"id\": \"%s\" has '%c' at offset %zu; ids are "
                                "[a-z0-9][a-z0-9_.-]{0,63}", id, id[i] >= 0x20 && id[i] < 0x7f ? id[i] : '?', i);
    }
    if (!cfg->type || !*cfg->type) return hz_error_set(HZ_EINVAL, "provider field \"type\" is required");
    const char *def = NULL;
    if (hz_gw_provider_type(cfg->type, NULL, &def) != 0)
        return hz_error_wrap(HZ_EINVAL, "provider field \"type\"");
    if (cfg->base_url && *cfg->base_url) {
        if (check_base_url(cfg->base_url) != 0) return HZ_EINVAL;
    } else if (!def) {
        return hz_error_set(HZ_EINVAL, "provider field \"base_url\" is required for type \"%s\"", cfg->type);
    }
    if (cfg->api_key) {
        for (const char *c = cfg->api_key; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (u < 0x20 || u == 0x7f)
                return hz_error_set(HZ_EINVAL, "provider field \"api_key\": control character at offset %zu",
                                    (size_t)(c - cfg->api_key));
        }
    }
    if (cfg->n_models > 0 && !cfg->models)
        return hz_error_set(HZ_EINVAL, "provider field \"models\": %zu models but no array", cfg->n_models);
    for (size_t i = 0; i < cfg->n_models; i++) {
        const char *m = cfg->models[i];
        if (!m || !*m) return hz_error_set(HZ_EINVAL, "provider field \"models[%zu]\" is empty", i);
        if (strlen(m) > 200) return hz_error_set(HZ_EINVAL, "provider field \"models[%zu]\": longer than 200 characters", i);
        for (const char *c = m; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return hz_error_set(HZ_EINVAL, "provider field \"models[%zu]\": control character at offset %zu",
                                    i, (size_t)(c - m));
        }
    }
    static const struct { const char *name; size_t off; } timeouts[] = {
        {"connect_timeout_ms", offsetof(hz_gw_provider_config_t, connect_timeout_ms)},
        {"first_byte_timeout_ms", offsetof(hz_gw_provider_config_t, first_byte_timeout_ms)},
        {"idle_timeout_ms", offsetof(hz_gw_provider_config_t, idle_timeout_ms)},
    };
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int32_t v;
        memcpy(&v, (const char *)cfg + timeouts[i].off, sizeof v);
        if (v < 0) return hz_error_set(HZ_EINVAL, "provider field \"%s\": %d is negative", timeouts[i].name, (int)v);
    }
    if (cfg->max_retries < -1 || cfg->max_retries > 10)
        return hz_error_set(HZ_EINVAL, "provider field \"max_retries\": %d is outside -1..10", (int)cfg->max_retries);
    return 0;
}
