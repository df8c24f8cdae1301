/*
 * Private to src/config: the table of settings and the helpers that fill hz_config_t.
 *
 * A setting is one config_key_t row in keys.c. Everything else is generic over the table:
 * value.c converts and checks values and stores them at the row's offset, file.c maps TOML
 * paths to rows, load.c applies the sources in precedence order and render.c prints them. So
 * a new setting is one new field in hz_config_t plus one row, and nothing else changes.
 */
#ifndef HZ_CONFIG_INTERNAL_H
#define HZ_CONFIG_INTERNAL_H

#include "hanzo/config.h"

typedef enum {
    CFG_STRING,   /* char *; NULL when unset */
    CFG_INT,      /* int64_t within [min, max] */
    CFG_BOOL,     /* bool */
    CFG_LIST,     /* char **, NULL-terminated, never NULL after load; comma separated in env/flags */
} config_type_t;

typedef struct config_key {
    const char *name;       /* TOML path, "api.listen"; also the key for hz_config_source */
    const char *env;        /* environment variable, or NULL */
    const char *flag;       /* command-line flag with its dashes, "--api-listen" */
    const char *metavar;    /* the value's name in --help, "ADDR" */
    const char *help;       /* one line for --help */
    config_type_t type;
    const char *def;        /* default written as an env value would be; NULL: unset */
    bool secret;            /* masked when rendered, wiped when freed, never echoed in errors */
    bool optional;          /* CFG_STRING may be unset; an empty value means unset */
    bool is_path;           /* "~" / "~/..." expands to $HOME once all sources are applied */
    int64_t min, max;       /* CFG_INT bounds, inclusive */
    /* CFG_STRING and each CFG_LIST item: extra validation; sets the error detail. */
    int (*check)(const char *value);
    size_t offset;          /* of the field in hz_config_t */
} config_key_t;

extern const config_key_t config_keys[];
extern const size_t config_nkeys;

/* Where one setting's value came from. `origin` is static text: the env name or the flag. */
typedef struct config_slot {
    hz_config_source_t source;
    const char *origin;
    int line;               /* HZ_CONFIG_FILE: line of the key in cfg->config_file */
} config_slot_t;

/* ---- keys.c ---- */
const config_key_t *config_key_find(const char *name);
const config_key_t *config_key_by_flag(const char *flag, size_t len);
/* True when `path` is a table of the schema ("api"), i.e. a prefix of some key's name. */
bool config_is_table(const char *path);
/* Write into out the key or table name (the flag, when flags is true) closest to `word`;
 * false when nothing is close enough to be a likely typo. */
bool config_suggest(const char *word, bool flags, char *out, size_t out_len);

/* ---- value.c ---- */
/* Each returns 0 or HZ_EINVAL with a detail that does not repeat the source or key name. */
int config_set_text(hz_config_t *cfg, const config_key_t *k, const char *text);
int config_set_string(hz_config_t *cfg, const config_key_t *k, const char *s, size_t len);
int config_set_int(hz_config_t *cfg, const config_key_t *k, int64_t v);
void config_set_bool(hz_config_t *cfg, const config_key_t *k, bool v);
/* Replace a CFG_LIST with an empty list with room for `n` items, then push them one by one. */
void config_list_reset(hz_config_t *cfg, const config_key_t *k, size_t n);
int config_list_push(hz_config_t *cfg, const config_key_t *k, const char *s, size_t len);
/* Free a key's value (wiping secrets first) and leave the field empty. */
void config_clear(hz_config_t *cfg, const config_key_t *k);
void config_mark(hz_config_t *cfg, const config_key_t *k, hz_config_source_t src, const char *origin, int line);
const config_slot_t *config_slot(const hz_config_t *cfg, const config_key_t *k);

/* ---- file.c ---- */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Read a whole config file (at most CONFIG_FILE_MAX bytes). HZ_ENOTFOUND when it does not
 * exist, so the caller can treat the default location as optional. */
int config_read_file(const char *path, char **text, size_t *len);
/* Apply the settings in TOML text[0..len) as coming from file `name`. */
int config_apply_toml(hz_config_t *cfg, const char *name, const char *text, size_t len);

/* ---- load.c ---- */
/* Zero cfg and apply the defaults. Fails only if a default in the table is invalid. */
int config_begin(hz_config_t *cfg);
/* Expand "~" in paths and derive database_url / database_path. `env` may be NULL. */
int config_finish(hz_config_t *cfg, char **env);
/* Defaults, then the TOML in text[0..len) as file `name`, then config_finish: the whole load
 * minus environment and flags, from a buffer. On error cfg is freed. Used by the fuzzer. */
int config_load_buffer(hz_config_t *cfg, const char *name, const char *text, size_t len, char **env);
/* The value of `name` in an environ-style array (the process environment when env is NULL). */
const char *config_getenv(char **env, const char *name);

/* ---- listen.c / keys.c validators ---- */
int config_check_listen(const char *value);
int config_check_log_spec(const char *value);

#endif
