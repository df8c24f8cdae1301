/*
 * Converting, checking and storing one setting's value, generic over the key table.
 *
 * Values arrive typed from TOML or as text from the environment, flags and the defaults; both
 * paths end in the same setters, so a value is checked the same way whatever its source.
 * Every string is checked for NUL bytes, invalid UTF-8 and control characters before the
 * key's own validator runs: config values end up in logs, JSON and file paths, where any of
 * those is a mistake or an attack. The setters report only the problem; the caller adds where
 * the value came from ("NODE_API_LISTEN_ADDRESS: ...", "hanzo.toml:3:10: api.listen: ...").
 * Secret values are never quoted back in a message and are wiped before their memory is freed.
 */
#include "config/config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(cfg, k, type) ((type *)((char *)(cfg) + (k)->offset))

const config_slot_t *config_slot(const hz_config_t *cfg, const config_key_t *k) {
    return &((const config_slot_t *)cfg->priv)[k - config_keys];
}

void config_mark(hz_config_t *cfg, const config_key_t *k, hz_config_source_t src, const char *origin, int line) {
    config_slot_t *slot = &((config_slot_t *)cfg->priv)[k - config_keys];
    slot->source = src;
    slot->origin = origin;
    slot->line = line;
}

static void free_string(char *s, bool secret) {
    if (s && secret) explicit_bzero(s, strlen(s));
    hz_free(s);
}

void config_clear(hz_config_t *cfg, const config_key_t *k) {
    if (k->type == CFG_STRING) {
        char **f = FIELD(cfg, k, char *);
        free_string(*f, k->secret);
        *f = NULL;
    } else if (k->type == CFG_LIST) {
        char ***f = FIELD(cfg, k, char **);
        if (*f)
            for (char **p = *f; *p; p++) free_string(*p, k->secret);
        hz_free(*f);
        *f = NULL;
    }
}

static int check_text(const char *s, size_t len) {
    const char *nul = memchr(s, '\0', len);
    if (nul) return hz_error_set(HZ_EINVAL, "contains a NUL byte at byte %zu", (size_t)(nul - s));
    size_t valid = hz_utf8_valid_prefix(s, len);
    if (valid != len) return hz_error_set(HZ_EINVAL, "not valid UTF-8 at byte %zu", valid);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return hz_error_set(HZ_EINVAL, "contains a control character at byte %zu", i);
    return 0;
}

int config_set_string(hz_config_t *cfg, const config_key_t *k, const char *s, size_t len) {
    int rc = check_text(s, len);
    if (rc) return rc;
    if (len == 0) {
        if (!k->optional) return hz_error_set(HZ_EINVAL, "must not be empty");
        config_clear(cfg, k);
        return 0;
    }
    char *copy = hz_strndup(s, len);
    if (k->check && (rc = k->check(copy)) != 0) {
        free_string(copy, k->secret);
        return rc;
    }
    config_clear(cfg, k);
    *FIELD(cfg, k, char *) = copy;
    return 0;
}

int config_set_int(hz_config_t *cfg, const config_key_t *k, int64_t v) {
    if (v < k->min || v > k->max)
        return hz_error_set(HZ_EINVAL, "must be from %lld to %lld, got %lld", (long long)k->min,
                            (long long)k->max, (long long)v);
    *FIELD(cfg, k, int64_t) = v;
    return 0;
}

void config_set_bool(hz_config_t *cfg, const config_key_t *k, bool v) { *FIELD(cfg, k, bool) = v; }

void config_list_reset(hz_config_t *cfg, const config_key_t *k, size_t n) {
    config_clear(cfg, k);
    *FIELD(cfg, k, char **) = hz_calloc(n + 1, sizeof(char *));
}

/* The list was sized by config_list_reset, so the first NULL slot is free and the one after
 * it is the terminator; callers push at most the `n` items they announced. */
int config_list_push(hz_config_t *cfg, const config_key_t *k, const char *s, size_t len) {
    int rc = check_text(s, len);
    if (rc) return rc;
    if (len == 0) return hz_error_set(HZ_EINVAL, "empty list item");
    char *copy = hz_strndup(s, len);
    if (k->check && (rc = k->check(copy)) != 0) {
        free_string(copy, k->secret);
        return rc;
    }
    char **list = *FIELD(cfg, k, char **);
    size_t i = 0;
    while (list[i]) i++;
    list[i] = copy;
    return 0;
}

static int parse_int(const char *text, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || text[0] == ' ' || text[0] == '+')
        return hz_error_set(HZ_EINVAL, "expected an integer, got \"%.64s\"", text);
    *out = v;
    return 0;
}

static int parse_bool(const char *text, bool *out) {
    if (hz_str_ieq(text, "true") || strcmp(text, "1") == 0) { *out = true; return 0; }
    if (hz_str_ieq(text, "false") || strcmp(text, "0") == 0) { *out = false; return 0; }
    return hz_error_set(HZ_EINVAL, "expected true, false, 1 or 0, got \"%.64s\"", text);
}

static int set_list_text(hz_config_t *cfg, const config_key_t *k, const char *text) {
    size_t n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    config_list_reset(cfg, k, n);
    char *copy = hz_strdup(text), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        hz_str_trim(item);
        if (*item) rc = config_list_push(cfg, k, item, strlen(item));
    }
    free_string(copy, k->secret);
    return rc;
}

int config_set_text(hz_config_t *cfg, const config_key_t *k, const char *text) {
    switch (k->type) {
    case CFG_STRING:
        return config_set_string(cfg, k, text, strlen(text));
    case CFG_INT: {
        int64_t v = 0;
        int rc = parse_int(text, &v);
        return rc ? rc : config_set_int(cfg, k, v);
    }
    case CFG_BOOL: {
        bool v = false;
        int rc = parse_bool(text, &v);
        if (rc == 0) config_set_bool(cfg, k, v);
        return rc;
    }
    case CFG_LIST:
        return set_list_text(cfg, k, text);
    }
    return hz_error_set(HZ_EINTERNAL, "key %s has no type", k->name);
}
