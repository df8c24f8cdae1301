/*
 * hz_config_load: resolving the configuration from its four sources.
 *
 * The sources are applied in increasing precedence, each overwriting what came before:
 * defaults, then hanzo.toml, then the environment, then the flags. Every value is checked as
 * it is applied, so an error always names the source that supplied the bad value, even one a
 * later source would have overridden (a broken file is worth hearing about). Flags are parsed
 * first, though applied last, because --config decides which file to read. Paths are
 * expanded and database_url derived only at the end, once storage.path is final.
 *
 * An environment variable that is set but empty counts as unset, as container tooling tends
 * to define variables it has no value for. The environment is read from the array the caller
 * passes, never mutated, so tests and embedders can run several loads side by side.
 */
#include "config/config_internal.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

const char *config_getenv(char **env, const char *name) {
    if (!env) env = environ;
    size_t n = strlen(name);
    for (char **p = env; *p; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=') return *p + n + 1;
    return NULL;
}

/* $HOME, or the passwd entry when HOME is not set (as under some service managers). */
static char *home_dir(char **env) {
    const char *home = config_getenv(env, "HOME");
    if (home && *home) return hz_strdup(home);
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir && *res->pw_dir)
        return hz_strdup(res->pw_dir);
    return NULL;
}

static int expand_tilde(const char *path, char **env, char **out) {
    if (path[0] != '~') {
        *out = hz_strdup(path);
        return 0;
    }
    if (path[1] != '\0' && path[1] != '/')
        return hz_error_set(HZ_EINVAL, "\"%s\": only \"~\" and \"~/...\" are expanded, not ~user", path);
    char *home = home_dir(env);
    if (!home) return hz_error_set(HZ_EINVAL, "cannot expand \"~\" in \"%s\": HOME is not set", path);
    size_t hn = strlen(home);
    const char *rest = path + 1;
    if (hn > 1 && home[hn - 1] == '/' && rest[0] == '/') rest++;
    *out = hz_sprintf("%s%s", home, rest);
    hz_free(home);
    return 0;
}

int config_begin(hz_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->priv = hz_calloc(config_nkeys, sizeof(config_slot_t));
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        if (k->type == CFG_LIST) config_list_reset(cfg, k, 0);
        if (k->def && config_set_text(cfg, k, k->def) != 0)
            return hz_error_wrap(HZ_EINTERNAL, "default of %s", k->name);
    }
    return 0;
}

static int finish_database(hz_config_t *cfg, char **env) {
    if (!cfg->database_url) {
        const char *dir = cfg->storage_path;
        cfg->database_path = hz_sprintf("%s%shanzo.db", dir, hz_str_ends_with(dir, "/") ? "" : "/");
        cfg->database_url = hz_sprintf("sqlite://%s", cfg->database_path);
        return 0;
    }
    /* sqlx-style URLs may carry options ("?mode=rwc"); they are kept in the URL but are not
     * part of the file name. */
    const char *rest = cfg->database_url + strlen("sqlite://");
    const char *query = strchr(rest, '?');
    char *raw = hz_strndup(rest, query ? (size_t)(query - rest) : strlen(rest));
    int rc = expand_tilde(raw, env, &cfg->database_path);
    hz_free(raw);
    if (rc) return hz_error_wrap(rc, "storage.database_url");
    char *url = hz_sprintf("sqlite://%s%s", cfg->database_path, query ? query : "");
    hz_free(cfg->database_url);
    cfg->database_url = url;
    return 0;
}

int config_finish(hz_config_t *cfg, char **env) {
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        char **field = (char **)((char *)cfg + k->offset);
        if (!k->is_path || k->type != CFG_STRING || !*field) continue;
        char *expanded;
        int rc = expand_tilde(*field, env, &expanded);
        if (rc) return hz_error_wrap(rc, "%s", k->name);
        hz_free(*field);
        *field = expanded;
    }
    return finish_database(cfg, env);
}

int config_load_buffer(hz_config_t *cfg, const char *name, const char *text, size_t len, char **env) {
    int rc = config_begin(cfg);
    if (rc == 0) rc = config_apply_toml(cfg, name, text, len);
    if (rc == 0) rc = config_finish(cfg, env);
    if (rc) hz_config_free(cfg);
    return rc;
}

typedef struct {
    const config_key_t *key;
    const char *value;          /* points into argv */
} flag_value_t;

static bool is_bool_text(const char *s) {
    return hz_str_ieq(s, "true") || hz_str_ieq(s, "false") || strcmp(s, "1") == 0 || strcmp(s, "0") == 0;
}

/* Accepts "--flag value" and "--flag=value"; a boolean flag alone means true. */
static int parse_flags(int argc, char **argv, flag_value_t *out, size_t *n_out, const char **config_path) {
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!hz_str_starts_with(arg, "--") || arg[2] == '\0')
            return hz_error_set(HZ_EINVAL, "unexpected argument \"%s\" (settings are given as --flag VALUE)", arg);
        const char *eq = strchr(arg, '=');
        int nlen = eq ? (int)(eq - arg) : (int)strlen(arg);
        const char *value = eq ? eq + 1 : NULL;
        bool is_config = nlen == 8 && memcmp(arg, "--config", 8) == 0;
        const config_key_t *k = is_config ? NULL : config_key_by_flag(arg, (size_t)nlen);
        if (!is_config && !k) {
            char name[128], hint[64];
            snprintf(name, sizeof(name), "%.*s", nlen, arg);
            bool close = config_suggest(name, true, hint, sizeof(hint));
            return hz_error_set(HZ_EINVAL, "unknown flag \"%s\"%s%s%s", name, close ? " (did you mean " : "",
                                close ? hint : "", close ? "?)" : "");
        }
        if (!value) {
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            if (k && k->type == CFG_BOOL) {
                value = next && is_bool_text(next) ? argv[++i] : "true";
            } else {
                if (!next || hz_str_starts_with(next, "--"))
                    return hz_error_set(HZ_EINVAL, "%.*s: missing value", nlen, arg);
                value = argv[++i];
            }
        }
        if (is_config) {
            if (!*value) return hz_error_set(HZ_EINVAL, "--config: missing value");
            *config_path = value;
        } else {
            out[n].key = k;
            out[n].value = value;
            n++;
        }
    }
    *n_out = n;
    return 0;
}

/* --config, else $HANZO_CONFIG, else ~/.hanzo/hanzo.toml if it exists. */
static int load_file(hz_config_t *cfg, const char *flag_path, char **env) {
    const char *given = flag_path, *origin = "--config";
    if (!given) {
        given = config_getenv(env, "HANZO_CONFIG");
        origin = "HANZO_CONFIG";
        if (given && !*given) given = NULL;
    }
    char *path = NULL;
    if (given) {
        int rc = expand_tilde(given, env, &path);
        if (rc) return hz_error_wrap(rc, "%s", origin);
    } else {
        char *home = home_dir(env);
        if (!home) return 0;
        path = hz_sprintf("%s/.hanzo/hanzo.toml", home);
        hz_free(home);
    }
    char *text;
    size_t len;
    int rc = config_read_file(path, &text, &len);
    if (rc) {
        hz_free(path);
        return rc == HZ_ENOTFOUND && !given ? 0 : rc;
    }
    cfg->config_file = path;
    rc = config_apply_toml(cfg, path, text, len);
    explicit_bzero(text, len);   /* the file may hold the API key */
    hz_free(text);
    return rc;
}

static int apply_env(hz_config_t *cfg, char **env) {
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        const char *v = k->env ? config_getenv(env, k->env) : NULL;
        if (!v || !*v) continue;
        int rc = config_set_text(cfg, k, v);
        if (rc) return hz_error_wrap(rc, "%s", k->env);
        config_mark(cfg, k, HZ_CONFIG_ENV, k->env, 0);
    }
    return 0;
}

int hz_config_load(hz_config_t *cfg, int argc, char **argv, char **env) {
    memset(cfg, 0, sizeof(*cfg));
    if (!env) env = environ;
    flag_value_t *flags = hz_calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(*flags));
    size_t nflags = 0;
    const char *config_path = NULL;
    int rc = parse_flags(argc, argv, flags, &nflags, &config_path);
    if (rc == 0) rc = config_begin(cfg);
    if (rc == 0) rc = load_file(cfg, config_path, env);
    if (rc == 0) rc = apply_env(cfg, env);
    for (size_t i = 0; rc == 0 && i < nflags; i++) {
        const config_key_t *k = flags[i].key;
        rc = config_set_text(cfg, k, flags[i].value);
        if (rc) rc = hz_error_wrap(rc, "%s", k->flag);
        else config_mark(cfg, k, HZ_CONFIG_FLAG, k->flag, 0);
    }
    if (rc == 0) rc = config_finish(cfg, env);
    hz_free(flags);
    if (rc) hz_config_free(cfg);
    return rc;
}

void hz_config_free(hz_config_t *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < config_nkeys; i++) config_clear(cfg, &config_keys[i]);
    hz_free(cfg->database_path);
    hz_free(cfg->config_file);
    hz_free(cfg->priv);
    memset(cfg, 0, sizeof(*cfg));
}

hz_config_source_t hz_config_source(const hz_config_t *cfg, const char *key) {
    const config_key_t *k = config_key_find(key);
    if (!k || !cfg->priv) return HZ_CONFIG_DEFAULT;
    return config_slot(cfg, k)->source;
}

const char *hz_config_source_name(hz_config_source_t src) {
    switch (src) {
    case HZ_CONFIG_DEFAULT: return "default";
    case HZ_CONFIG_FILE: return "file";
    case HZ_CONFIG_ENV: return "env";
    case HZ_CONFIG_FLAG: return "flag";
    }
    return "?";
}
