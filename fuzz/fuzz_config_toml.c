/*
 * libFuzzer target: arbitrary bytes as the content of hanzo.toml.
 *
 * The bytes go through the same path as a real file (toml++ via the shim, the key table, the
 * validators, "~" expansion, database_url derivation), then through both renderers. Besides
 * "no crash, no sanitizer report, no leak", the oracles check what callers rely on:
 *  - a rejection names the file with a position, "fuzz.toml:LINE:COLUMN: ...", LINE within
 *    the input, and leaves the config empty;
 *  - an accepted file yields a config whose every field satisfies its key's rules (listen
 *    addresses parse, integers lie in their bounds, database_url is sqlite://<database_path>);
 *  - the JSON rendering parses strictly, has one member per key, and neither rendering shows
 *    a secret.
 */
#include "hanzo/config.h"
#include "config/config_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_config_toml: %s\nerror: %s\ninput (%zu bytes): %.*s\n", what, hz_error_last(), size,
            (int)(size > 512 ? 512 : size), (const char *)data);
    abort();
}

static void check_rejection(int rc, const hz_config_t *cfg, const uint8_t *data, size_t size) {
    if (rc != HZ_EPARSE && rc != HZ_EINVAL) die("unexpected error code", data, size);
    if (cfg->priv || cfg->api_listen || cfg->config_file) die("config not emptied after an error", data, size);
    int line = 0, col = 0, n = 0;
    if (sscanf(hz_error_last(), "fuzz.toml:%d:%d: %n", &line, &col, &n) != 2 || n == 0)
        die("error message without fuzz.toml:LINE:COLUMN", data, size);
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (line < 1 || line > lines || col < 1) die("error position outside the input", data, size);
}

static void check_config(const hz_config_t *cfg, const uint8_t *data, size_t size) {
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        const void *f = (const char *)cfg + k->offset;
        if (k->type == CFG_INT) {
            int64_t v = *(const int64_t *)f;
            if (v < k->min || v > k->max) die("integer out of bounds", data, size);
        } else if (k->type == CFG_STRING) {
            const char *s = *(char *const *)f;
            if (!s && !k->optional) die("required string unset", data, size);
            if (s && !*s) die("empty string stored", data, size);
        } else if (k->type == CFG_LIST && !*(char **const *)f) {
            die("list left NULL", data, size);
        }
    }
    char host[256];
    int port;
    if (hz_config_parse_listen(cfg->api_listen, host, sizeof(host), &port) != 0) die("api.listen does not parse", data, size);
    if (cfg->ws_listen && hz_config_parse_listen(cfg->ws_listen, host, sizeof(host), &port) != 0)
        die("api.ws_listen does not parse", data, size);
    if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) die("bad log.format", data, size);
    if (config_check_log_spec(cfg->log_level) != 0) die("bad log.level", data, size);
    if (!cfg->database_path || !hz_str_starts_with(cfg->database_url, "sqlite://") ||
        strncmp(cfg->database_url + 9, cfg->database_path, strlen(cfg->database_path)) != 0)
        die("database_url is not sqlite://<database_path>", data, size);
    if (cfg->storage_path[0] == '~' || cfg->database_path[0] == '~') die("\"~\" left unexpanded", data, size);
}

/* Secrets are swapped for a value no setting can hold (DEL is refused everywhere), so finding
 * it in the output can only mean a secret leaked. */
#define SENTINEL "leak\x7fleak"

static void plant_sentinels(hz_config_t *cfg) {
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        char **f = (char **)((char *)cfg + k->offset);
        if (!k->secret || k->type != CFG_STRING || !*f) continue;
        config_clear(cfg, k);
        *f = hz_strdup(SENTINEL);
    }
}

static void check_render(const hz_config_t *cfg, const uint8_t *data, size_t size) {
    hz_buf_t text = HZ_BUF_INIT, js = HZ_BUF_INIT;
    hz_config_render(cfg, false, &text);
    hz_config_render(cfg, true, &js);
    json_object *root = NULL, *entry, *value;
    if (hz_json_parse(js.data, js.len, &root) != 0) die("rendered JSON does not parse", data, size);
    if (json_object_object_length(root) != (int)config_nkeys) die("rendered JSON lacks keys", data, size);
    if (!json_object_object_get_ex(root, "api.api_key", &entry) ||
        !json_object_object_get_ex(entry, "value", &value))
        die("rendered JSON lacks api.api_key", data, size);
    if (cfg->api_key ? strcmp(json_object_get_string(value), "********") != 0 : value != NULL)
        die("api.api_key not masked", data, size);
    if (strstr(text.data, SENTINEL) || strstr(js.data, SENTINEL)) die("a secret leaked into the rendering", data, size);
    json_object_put(root);
    hz_buf_free(&text);
    hz_buf_free(&js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char *env[] = {"HOME=/home/fuzz", NULL};
    hz_config_t cfg;
    int rc = config_load_buffer(&cfg, "fuzz.toml", (const char *)data, size, env);
    if (rc != 0) {
        check_rejection(rc, &cfg, data, size);
        return 0;
    }
    check_config(&cfg, data, size);
    plant_sentinels(&cfg);
    check_render(&cfg, data, size);
    hz_config_free(&cfg);
    return 0;
}
