/*
 * The table of settings: one row per key, in the order `hanzo config show` prints them.
 *
 * A row says everything the rest of the module needs: the TOML path, the environment
 * variable, the flag, the type with its bounds or validator, the default (written as an
 * environment value would be, so defaults go through the same parser and checks as user
 * input) and whether it is a secret. Adding a setting is a new hz_config_t field plus a row.
 * The validators here are the per-value rules that do not fit a type: listen addresses, the
 * RUST_LOG-style log spec, URLs. Messages never echo a secret.
 */
#include "config/config_internal.h"

#include <stddef.h>
#include <string.h>

static int check_name(const char *v) {
    if (strlen(v) > 255) return hz_error_set(HZ_EINVAL, "longer than 255 bytes");
    return 0;
}

/* The key travels in an Authorization header, so it must be a header-safe token. */
static int check_api_key(const char *v) {
    for (size_t i = 0; v[i]; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return hz_error_set(HZ_EINVAL, "byte %zu is not printable ASCII (spaces are not allowed)", i);
    return 0;
}

/* A browser sends Origin as scheme://host[:port], never with a path. */
static int check_origin(const char *v) {
    if (strcmp(v, "*") == 0) return 0;
    const char *rest = hz_str_starts_with(v, "https://") ? v + 8 : hz_str_starts_with(v, "http://") ? v + 7 : NULL;
    if (!rest || !*rest || strchr(rest, '/'))
        return hz_error_set(HZ_EINVAL, "origin \"%s\" must be \"*\" or scheme://host[:port] (http or https, no path)", v);
    return 0;
}

/* "~user/..." would need a passwd lookup for someone else's home; say so instead of guessing. */
static int check_tilde(const char *path) {
    if (path[0] == '~' && path[1] != '\0' && path[1] != '/')
        return hz_error_set(HZ_EINVAL, "\"%s\": only \"~\" and \"~/...\" are expanded, not ~user", path);
    return 0;
}

static int check_path(const char *v) { return check_tilde(v); }

static int check_database_url(const char *v) {
    if (!hz_str_starts_with(v, "sqlite://"))
        return hz_error_set(HZ_EINVAL, "\"%s\": must start with sqlite:// (SQLite is the only database)", v);
    const char *path = v + strlen("sqlite://");
    if (*path == '\0' || *path == '?')
        return hz_error_set(HZ_EINVAL, "\"%s\": missing the database file after sqlite://", v);
    return check_tilde(path);
}

static int check_log_format(const char *v) {
    if (strcmp(v, "text") == 0 || strcmp(v, "json") == 0) return 0;
    return hz_error_set(HZ_EINVAL, "\"%s\": expected text or json", v);
}

/* Mirrors the grammar and limits of hz_log_configure (src/base/log.c) without touching the
 * process-wide logger: comma-separated items, each a level or MODULE=level, where a RUST_LOG
 * target "a::b" names module "b", at most 16 overrides of modules shorter than 32 bytes. */
int config_check_log_spec(const char *value) {
    enum { MAX_OVERRIDES = 16, MODULE_MAX = 32 };
    char *copy = hz_strdup(value), *save = NULL;
    int overrides = 0, items = 0, rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        hz_str_trim(item);
        if (!*item) continue;
        items++;
        hz_log_level_t lv;
        char *eq = strchr(item, '=');
        if (!eq) {
            rc = hz_log_level_parse(item, &lv);
            continue;
        }
        *eq = '\0';
        const char *mod = strrchr(item, ':') ? strrchr(item, ':') + 1 : item;
        if (!*mod || strlen(mod) >= MODULE_MAX)
            rc = hz_error_set(HZ_EINVAL, "bad module name \"%s\" in log filter", item);
        else if (++overrides > MAX_OVERRIDES)
            rc = hz_error_set(HZ_EINVAL, "more than %d per-module log levels", MAX_OVERRIDES);
        else
            rc = hz_log_level_parse(eq + 1, &lv);
    }
    if (rc == 0 && items == 0) rc = hz_error_set(HZ_EINVAL, "empty log filter (expected e.g. \"info\" or \"warn,http=debug\")");
    hz_free(copy);
    return rc;
}

#define OFF(field) offsetof(hz_config_t, field)

const config_key_t config_keys[] = {
    {"node_name", "HANZO_NODE_NAME", "--node-name", "NAME", "name this node reports",
     CFG_STRING, "hanzo-node", false, false, false, 0, 0, check_name, OFF(node_name)},
    {"api.listen", "NODE_API_LISTEN_ADDRESS", "--api-listen", "ADDR", "address of the HTTP API",
     CFG_STRING, "127.0.0.1:9550", false, false, false, 0, 0, config_check_listen, OFF(api_listen)},
    {"api.ws_listen", "NODE_WS_LISTEN_ADDRESS", "--ws-listen", "ADDR", "separate WebSocket address (unset: on the API listener)",
     CFG_STRING, NULL, false, true, false, 0, 0, config_check_listen, OFF(ws_listen)},
    {"api.api_key", "HANZO_API_KEY", "--api-key", "KEY", "bearer key for the API (unset: the node makes one)",
     CFG_STRING, NULL, true, true, false, 0, 0, check_api_key, OFF(api_key)},
    {"api.cors_origins", "HANZO_CORS_ORIGINS", "--cors-origins", "LIST", "comma-separated allowed CORS origins (empty: CORS off)",
     CFG_LIST, NULL, false, false, false, 0, 0, check_origin, OFF(cors_origins)},
    {"api.max_body_bytes", "HANZO_MAX_BODY_BYTES", "--max-body-bytes", "N", "largest request body accepted",
     CFG_INT, "16777216", false, false, false, 1, INT64_C(1) << 40, NULL, OFF(max_body_bytes)},
    {"api.request_timeout_s", "HANZO_REQUEST_TIMEOUT", "--request-timeout", "SECS", "longest time one request may take",
     CFG_INT, "300", false, false, false, 1, 86400, NULL, OFF(request_timeout_s)},
    {"api.threads", "HANZO_HTTP_THREADS", "--http-threads", "N", "HTTP worker threads (0: one per core)",
     CFG_INT, "0", false, false, false, 0, 1024, NULL, OFF(http_threads)},
    {"api.workers", "HANZO_API_WORKERS", "--api-workers", "N", "threads for long requests: model calls, uploads",
     CFG_INT, "64", false, false, false, 1, 4096, NULL, OFF(api_workers)},
    {"api.requests_per_minute", "HANZO_RPM", "--rpm", "N", "model requests per minute per API key (0: unlimited)",
     CFG_INT, "0", false, false, false, 0, INT64_C(1) << 40, NULL, OFF(requests_per_minute)},
    {"api.tokens_per_minute", "HANZO_TPM", "--tpm", "N", "model tokens per minute per API key (0: unlimited)",
     CFG_INT, "0", false, false, false, 0, INT64_C(1) << 40, NULL, OFF(tokens_per_minute)},
    {"api.shutdown_timeout_s", "HANZO_SHUTDOWN_TIMEOUT", "--shutdown-timeout", "SECS", "grace period for requests at shutdown",
     CFG_INT, "5", false, false, false, 0, 3600, NULL, OFF(shutdown_timeout_s)},
    {"storage.path", "NODE_STORAGE_PATH", "--storage-path", "DIR", "data directory",
     CFG_STRING, "~/.hanzo/storage", false, false, true, 0, 0, check_path, OFF(storage_path)},
    {"storage.database_url", "DATABASE_URL", "--database-url", "URL", "sqlite://PATH (unset: DIR/hanzo.db)",
     CFG_STRING, NULL, false, true, false, 0, 0, check_database_url, OFF(database_url)},
    {"storage.sqlite_wal", "SQLITE_ENABLE_WAL", "--sqlite-wal", "BOOL", "SQLite write-ahead logging",
     CFG_BOOL, "true", false, false, false, 0, 0, NULL, OFF(sqlite_wal)},
    {"models_dir", "HANZO_MODELS_DIR", "--models-dir", "DIR", "folder of GGUF models",
     CFG_STRING, "~/.hanzo/models", false, false, true, 0, 0, check_path, OFF(models_dir)},
    {"llm.ollama_dir", "OLLAMA_MODELS", "--ollama-dir", "DIR", "Ollama model store (unset: ~/.ollama/models)",
     CFG_STRING, NULL, false, true, true, 0, 0, check_path, OFF(ollama_dir)},
    {"llm.ctx", "HANZO_LLM_CTX", "--llm-ctx", "N", "context tokens per sequence (0: the model's, at most 4096)",
     CFG_INT, "0", false, false, false, 0, 1 << 22, NULL, OFF(llm_ctx)},
    {"llm.parallel", "HANZO_LLM_PARALLEL", "--llm-parallel", "N", "sequences decoded together per model",
     CFG_INT, "4", false, false, false, 1, 256, NULL, OFF(llm_parallel)},
    {"llm.threads", "HANZO_LLM_THREADS", "--llm-threads", "N", "inference threads (0: all cores)",
     CFG_INT, "0", false, false, false, 0, 1024, NULL, OFF(llm_threads)},
    {"llm.queue_max", "HANZO_LLM_QUEUE", "--llm-queue", "N", "requests waiting per model before \"busy\"",
     CFG_INT, "16", false, false, false, 0, 100000, NULL, OFF(llm_queue_max)},
    {"llm.keep_alive_s", "HANZO_KEEP_ALIVE", "--keep-alive", "SECS", "idle time before a model is unloaded (-1: never)",
     CFG_INT, "300", false, false, false, -1, INT64_C(1) << 31, NULL, OFF(llm_keep_alive_s)},
    {"llm.memory_budget_mb", "HANZO_LLM_MEMORY_MB", "--llm-memory-mb", "MB", "memory all loaded models may use (0: unlimited)",
     CFG_INT, "0", false, false, false, 0, INT64_C(1) << 30, NULL, OFF(llm_memory_budget_mb)},
    {"log.level", "HANZO_LOG", "--log-level", "SPEC", "log levels, RUST_LOG-style: \"warn,http=debug\"",
     CFG_STRING, "info", false, false, false, 0, 0, config_check_log_spec, OFF(log_level)},
    {"log.format", "HANZO_LOG_FORMAT", "--log-format", "FMT", "log format: text or json",
     CFG_STRING, "text", false, false, false, 0, 0, check_log_format, OFF(log_format)},
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

const config_key_t *config_key_find(const char *name) {
    for (size_t i = 0; i < config_nkeys; i++)
        if (strcmp(config_keys[i].name, name) == 0) return &config_keys[i];
    return NULL;
}

const config_key_t *config_key_by_flag(const char *flag, size_t len) {
    for (size_t i = 0; i < config_nkeys; i++)
        if (strlen(config_keys[i].flag) == len && memcmp(config_keys[i].flag, flag, len) == 0)
            return &config_keys[i];
    return NULL;
}

bool config_is_table(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < config_nkeys; i++)
        if (strncmp(config_keys[i].name, path, n) == 0 && config_keys[i].name[n] == '.') return true;
    return false;
}

/* Levenshtein distance, or SIZE_MAX for words too long to be typos of our names. */
static size_t edit_distance(const char *a, const char *b) {
    enum { MAXLEN = 64 };
    size_t na = strlen(a), nb = strlen(b);
    if (na > MAXLEN || nb > MAXLEN) return SIZE_MAX;
    size_t prev[MAXLEN + 1], cur[MAXLEN + 1];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(size_t) * (nb + 1));
    }
    return prev[nb];
}

bool config_suggest(const char *word, bool flags, char *out, size_t out_len) {
    const char *best = NULL;
    size_t best_len = 0, best_d = SIZE_MAX;
    char table[64];
    for (size_t i = 0; i <= config_nkeys; i++) {
        const char *cand = i == config_nkeys ? (flags ? "--config" : NULL)
                                             : (flags ? config_keys[i].flag : config_keys[i].name);
        if (!cand) continue;
        size_t d = edit_distance(word, cand);
        if (d < best_d) { best_d = d; best = cand; best_len = strlen(cand); }
        /* Table names are candidates too, for a misspelt [section]. */
        const char *dot = flags ? NULL : strchr(cand, '.');
        if (dot && (size_t)(dot - cand) < sizeof(table)) {
            memcpy(table, cand, (size_t)(dot - cand));
            table[dot - cand] = '\0';
            d = edit_distance(word, table);
            if (d < best_d) { best_d = d; best = cand; best_len = (size_t)(dot - cand); }
        }
    }
    /* A third of the length allows a slip or two in a long name but not a different word. */
    size_t limit = strlen(word) / 3;
    if (limit < 1) limit = 1;
    if (!best || best_d > limit || best_len + 1 > out_len) return false;
    memcpy(out, best, best_len);
    out[best_len] = '\0';
    return true;
}
