/*
 * hanzo.toml: reading the file and mapping its TOML tree onto the key table.
 *
 * The shim walks the parsed document and this file decides, item by item, what it means: a
 * known table is descended into, a known key is type-checked and stored, anything else is an
 * error at the key's line and column with the closest known name as a hint. Typos therefore
 * fail loudly instead of silently leaving a default in place. Type and value errors point at
 * the value; unknown keys point at the key.
 *
 * toml++ recurses once per level of table nesting while building and tearing down its tree,
 * so a line of thousands of dotted keys ("a.a.a...") would overflow the stack before we see a
 * single item. Nesting deeper than a line allows comes only from table headers plus dotted
 * keys (inline values are capped by toml++ itself), so capping the dots on a line caps the
 * depth. No real configuration comes near the limit.
 */
#include "config/config_internal.h"
#include "config/toml_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DOTS_PER_LINE 256

int config_read_file(const char *path, char **text, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hz_error_errno(errno == ENOENT ? HZ_ENOTFOUND : HZ_EIO, errno, "cannot open config file %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hz_error_errno(HZ_EIO, e, "cannot stat config file %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hz_error_set(HZ_EINVAL, "config file %s is not a regular file", path);
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        close(fd);
        return hz_error_set(HZ_ETOOBIG, "config file %s is larger than %d bytes", path, CONFIG_FILE_MAX);
    }
    /* Read up to one byte past the limit: the file may have grown since fstat. */
    char *buf = hz_malloc(CONFIG_FILE_MAX + 2);
    size_t n = 0;
    while (n <= CONFIG_FILE_MAX) {
        ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            hz_free(buf);
            return hz_error_errno(HZ_EIO, e, "cannot read config file %s", path);
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > CONFIG_FILE_MAX) {
        explicit_bzero(buf, n);
        hz_free(buf);
        return hz_error_set(HZ_ETOOBIG, "config file %s is larger than %d bytes", path, CONFIG_FILE_MAX);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static int check_nesting(const char *name, const char *text, size_t len) {
    int line = 1, col = 0, dots = 0;
    for (size_t i = 0; i < len; i++) {
        col++;
        if (text[i] == '\n') { line++; col = 0; dots = 0; continue; }
        if (text[i] == '.' && ++dots > MAX_DOTS_PER_LINE)
            return hz_error_set(HZ_EPARSE, "%s:%d:%d: more than %d '.' on one line (keys nested too deeply)",
                                name, line, col, MAX_DOTS_PER_LINE);
    }
    return 0;
}

typedef struct {
    hz_config_t *cfg;
    const char *name;
    const config_key_t *list;   /* the CFG_LIST whose array elements are being visited */
} file_ctx_t;

static hz_toml_type_t toml_type_for(config_type_t t) {
    switch (t) {
    case CFG_STRING: return HZ_TOML_STRING;
    case CFG_INT: return HZ_TOML_INTEGER;
    case CFG_BOOL: return HZ_TOML_BOOLEAN;
    case CFG_LIST: return HZ_TOML_ARRAY;
    }
    return HZ_TOML_STRING;
}

static int visit_element(file_ctx_t *ctx, const hz_toml_item_t *it) {
    const config_key_t *k = ctx->list;
    if (it->type != HZ_TOML_STRING)
        return hz_error_set(HZ_EINVAL, "%s:%d:%d: %s[%d]: expected a string, got %s", ctx->name, it->line,
                            it->column, it->path, it->index, hz_toml_type_name(it->type));
    int rc = config_list_push(ctx->cfg, k, it->str, it->str_len);
    if (rc) return hz_error_wrap(rc, "%s:%d:%d: %s[%d]", ctx->name, it->line, it->column, it->path, it->index);
    return 0;
}

static int visit(void *ud, const hz_toml_item_t *it) {
    file_ctx_t *ctx = ud;
    if (it->index >= 0) return visit_element(ctx, it);

    const config_key_t *k = config_key_find(it->path);
    if (!k) {
        if (config_is_table(it->path)) {
            if (it->type != HZ_TOML_TABLE)
                return hz_error_set(HZ_EINVAL, "%s:%d:%d: %s: expected a table, got %s", ctx->name, it->line,
                                    it->column, it->path, hz_toml_type_name(it->type));
            return HZ_TOML_DESCEND;
        }
        char hint[64];
        bool close = config_suggest(it->path, false, hint, sizeof(hint));
        /* A path with quoted segments is wrapped in single quotes to stay readable. */
        const char *q = strchr(it->path, '"') ? "'" : "\"";
        return hz_error_set(HZ_EINVAL, "%s:%d:%d: unknown key %s%s%s%s%s%s", ctx->name, it->key_line,
                            it->key_column, q, it->path, q, close ? " (did you mean \"" : "", close ? hint : "",
                            close ? "\"?)" : "");
    }
    if (it->type != toml_type_for(k->type))
        return hz_error_set(HZ_EINVAL, "%s:%d:%d: %s: expected %s, got %s", ctx->name, it->line, it->column,
                            k->name, hz_toml_type_name(toml_type_for(k->type)), hz_toml_type_name(it->type));
    int rc = 0;
    switch (k->type) {
    case CFG_STRING: rc = config_set_string(ctx->cfg, k, it->str, it->str_len); break;
    case CFG_INT: rc = config_set_int(ctx->cfg, k, it->integer); break;
    case CFG_BOOL: config_set_bool(ctx->cfg, k, it->boolean); break;
    case CFG_LIST: config_list_reset(ctx->cfg, k, it->count); break;
    }
    if (rc) return hz_error_wrap(rc, "%s:%d:%d: %s", ctx->name, it->line, it->column, k->name);
    config_mark(ctx->cfg, k, HZ_CONFIG_FILE, NULL, it->key_line);
    if (k->type == CFG_LIST) {
        ctx->list = k;
        return HZ_TOML_DESCEND;
    }
    return 0;
}

int config_apply_toml(hz_config_t *cfg, const char *name, const char *text, size_t len) {
    int rc = check_nesting(name, text, len);
    if (rc) return rc;
    file_ctx_t ctx = {cfg, name, NULL};
    hz_toml_error_t err;
    rc = hz_toml_walk(text, len, visit, &ctx, &err);
    if (rc == HZ_EPARSE)
        return hz_error_set(rc, "%s:%d:%d: %s", name, err.line, err.column, err.message);
    if (rc == HZ_ENOMEM || rc == HZ_EINTERNAL)
        return hz_error_set(rc, "%s: %s", name, err.message);
    return rc;
}
