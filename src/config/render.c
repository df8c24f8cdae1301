/*
 * Showing the configuration: `hanzo config show` and the flag list of --help.
 *
 * Both are generated from the key table, so they can never disagree with what the loader
 * accepts. Each value is shown with its source: "default", "file PATH:LINE", "env NAME" or
 * "flag --name", which answers the usual question "why is it set to that?". Secrets are shown
 * only as set ("********") or "(unset)": the value itself never reaches the output buffer.
 */
#include "config/config_internal.h"

#include <string.h>

#define MASK "********"

static const void *field(const hz_config_t *cfg, const config_key_t *k) {
    return (const char *)cfg + k->offset;
}

static void value_text(const hz_config_t *cfg, const config_key_t *k, hz_buf_t *out) {
    switch (k->type) {
    case CFG_STRING: {
        const char *s = *(char *const *)field(cfg, k);
        hz_buf_puts(out, !s ? "(unset)" : k->secret ? MASK : s);
        break;
    }
    case CFG_INT:
        hz_buf_printf(out, "%lld", (long long)*(const int64_t *)field(cfg, k));
        break;
    case CFG_BOOL:
        hz_buf_puts(out, *(const bool *)field(cfg, k) ? "true" : "false");
        break;
    case CFG_LIST: {
        char *const *list = *(char **const *)field(cfg, k);
        if (!list || !list[0]) { hz_buf_puts(out, "(empty)"); break; }
        for (size_t i = 0; list[i]; i++) {
            if (i) hz_buf_putc(out, ',');
            hz_buf_puts(out, k->secret ? MASK : list[i]);
        }
        break;
    }
    }
}

static void value_json(const hz_config_t *cfg, const config_key_t *k, hz_buf_t *out) {
    switch (k->type) {
    case CFG_STRING: {
        const char *s = *(char *const *)field(cfg, k);
        if (!s) hz_buf_puts(out, "null");
        else if (k->secret) hz_buf_puts(out, "\"" MASK "\"");
        else hz_buf_put_json_string(out, s, strlen(s));
        break;
    }
    case CFG_INT:
    case CFG_BOOL:
        value_text(cfg, k, out);
        break;
    case CFG_LIST: {
        char *const *list = *(char **const *)field(cfg, k);
        hz_buf_putc(out, '[');
        for (size_t i = 0; list && list[i]; i++) {
            if (i) hz_buf_putc(out, ',');
            if (k->secret) hz_buf_puts(out, "\"" MASK "\"");
            else hz_buf_put_json_string(out, list[i], strlen(list[i]));
        }
        hz_buf_putc(out, ']');
        break;
    }
    }
}

static void source_text(const hz_config_t *cfg, const config_key_t *k, hz_buf_t *out) {
    const config_slot_t *slot = config_slot(cfg, k);
    hz_buf_puts(out, hz_config_source_name(slot->source));
    if (slot->source == HZ_CONFIG_FILE)
        hz_buf_printf(out, " %s:%d", cfg->config_file ? cfg->config_file : "?", slot->line);
    else if (slot->origin)
        hz_buf_printf(out, " %s", slot->origin);
}

static void source_json(const hz_config_t *cfg, const config_key_t *k, hz_buf_t *out) {
    const config_slot_t *slot = config_slot(cfg, k);
    hz_buf_printf(out, ",\"source\":\"%s\"", hz_config_source_name(slot->source));
    if (slot->source == HZ_CONFIG_FILE) {
        const char *file = cfg->config_file ? cfg->config_file : "";
        hz_buf_puts(out, ",\"file\":");
        hz_buf_put_json_string(out, file, strlen(file));
        hz_buf_printf(out, ",\"line\":%d", slot->line);
    } else if (slot->origin) {
        hz_buf_printf(out, ",\"%s\":", slot->source == HZ_CONFIG_ENV ? "env" : "flag");
        hz_buf_put_json_string(out, slot->origin, strlen(slot->origin));
    }
}

void hz_config_render(const hz_config_t *cfg, bool json, hz_buf_t *out) {
    if (!cfg->priv) return;
    if (json) {
        hz_buf_putc(out, '{');
        for (size_t i = 0; i < config_nkeys; i++) {
            const config_key_t *k = &config_keys[i];
            if (i) hz_buf_putc(out, ',');
            hz_buf_put_json_string(out, k->name, strlen(k->name));
            hz_buf_puts(out, ":{\"value\":");
            value_json(cfg, k, out);
            source_json(cfg, k, out);
            hz_buf_putc(out, '}');
        }
        hz_buf_puts(out, "}\n");
        return;
    }
    /* Two passes: measure the columns, then print them aligned. */
    size_t name_w = 0, value_w = 0;
    hz_buf_t tmp = HZ_BUF_INIT;
    for (size_t i = 0; i < config_nkeys; i++) {
        hz_buf_reset(&tmp);
        value_text(cfg, &config_keys[i], &tmp);
        if (tmp.len > value_w) value_w = tmp.len;
        if (strlen(config_keys[i].name) > name_w) name_w = strlen(config_keys[i].name);
    }
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        hz_buf_reset(&tmp);
        value_text(cfg, k, &tmp);
        hz_buf_printf(out, "%-*s  %-*s  ", (int)name_w, k->name, (int)value_w, tmp.data);
        source_text(cfg, k, out);
        hz_buf_putc(out, '\n');
    }
    hz_buf_free(&tmp);
}

void hz_config_flags_help(hz_buf_t *out) {
    size_t width = strlen("--config FILE");
    for (size_t i = 0; i < config_nkeys; i++) {
        size_t w = strlen(config_keys[i].flag) + 1 + strlen(config_keys[i].metavar);
        if (w > width) width = w;
    }
    hz_buf_printf(out, "  %-*s  read settings from FILE (env HANZO_CONFIG; default ~/.hanzo/hanzo.toml)\n",
                  (int)width, "--config FILE");
    hz_buf_t left = HZ_BUF_INIT;
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        hz_buf_reset(&left);
        hz_buf_printf(&left, "%s %s", k->flag, k->metavar);
        hz_buf_printf(out, "  %-*s  %s", (int)width, left.data, k->help);
        if (k->def && !k->secret) hz_buf_printf(out, " [%s]", k->def);
        if (k->env) hz_buf_printf(out, " (env %s)", k->env);
        hz_buf_putc(out, '\n');
    }
    hz_buf_free(&left);
}
