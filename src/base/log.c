/*
 * The process-wide logger. One line per record, written with a single fwrite under a lock so
 * lines from concurrent threads never interleave. Text for people:
 *   2026-11-22T03:00:00.000Z INFO  http: listening on 127.0.0.1:9550
 * or JSON lines for machines:
 *   {"ts":"2026-11-22T03:00:00.000Z","level":"info","module":"http","msg":"listening ..."}
 * Levels are configured RUST_LOG-style ("warn,http=debug"); module overrides are few, so a
 * linear scan of a small table is cheaper than anything cleverer.
 */
#include "hanzo/base.h"

#include <pthread.h>
#include <string.h>

#define LOG_MAX_OVERRIDES 16
#define LOG_MODULE_MAX 32

static struct {
    hz_log_level_t level;
    hz_log_format_t format;
    FILE *out;
    int n_overrides;
    struct { char module[LOG_MODULE_MAX]; hz_log_level_t level; } overrides[LOG_MAX_OVERRIDES];
    pthread_mutex_t lock;
} logger = {HZ_LOG_INFO, HZ_LOG_TEXT, NULL, 0, {{{0}, 0}}, PTHREAD_MUTEX_INITIALIZER};

static const char *level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *hz_log_level_name(hz_log_level_t level) {
    return level <= HZ_LOG_TRACE ? level_names[level] : "?";
}

int hz_log_level_parse(const char *name, hz_log_level_t *out) {
    for (int i = 0; i <= HZ_LOG_TRACE; i++)
        if (hz_str_ieq(name, level_names[i])) { *out = (hz_log_level_t)i; return 0; }
    if (hz_str_ieq(name, "warning")) { *out = HZ_LOG_WARN; return 0; }
    return hz_error_set(HZ_EINVAL, "unknown log level \"%s\" (expected error, warn, info, debug or trace)", name);
}

int hz_log_configure(const char *spec, hz_log_format_t format, FILE *out) {
    hz_log_level_t level = HZ_LOG_INFO;
    int n = 0;
    typeof(logger.overrides) overrides;
    if (spec && *spec) {
        char *copy = hz_strdup(spec), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            hz_str_trim(item);
            if (!*item) continue;
            char *eq = strchr(item, '=');
            hz_log_level_t lv;
            if (!eq) {
                if (hz_log_level_parse(item, &lv)) { hz_free(copy); return HZ_EINVAL; }
                level = lv;
                continue;
            }
            *eq = '\0';
            /* RUST_LOG targets look like "hanzo::http"; keep the last path segment. */
            const char *mod = strrchr(item, ':') ? strrchr(item, ':') + 1 : item;
            if (!*mod || strlen(mod) >= LOG_MODULE_MAX || n == LOG_MAX_OVERRIDES) {
                hz_free(copy);
                return hz_error_set(HZ_EINVAL, "bad log filter \"%s\"", item);
            }
            if (hz_log_level_parse(eq + 1, &lv)) { hz_free(copy); return HZ_EINVAL; }
            strcpy(overrides[n].module, mod);
            overrides[n].level = lv;
            n++;
        }
        hz_free(copy);
    }
    pthread_mutex_lock(&logger.lock);
    logger.level = level;
    logger.format = format;
    logger.out = out;
    logger.n_overrides = n;
    memcpy(logger.overrides, overrides, sizeof(overrides[0]) * (size_t)n);
    pthread_mutex_unlock(&logger.lock);
    return 0;
}

bool hz_log_enabled(hz_log_level_t level, const char *module) {
    hz_log_level_t limit = logger.level;
    if (module)
        for (int i = 0; i < logger.n_overrides; i++)
            if (strcmp(logger.overrides[i].module, module) == 0) { limit = logger.overrides[i].level; break; }
    return level <= limit;
}

void hz_log_write(hz_log_level_t level, const char *module, const char *fmt, ...) {
    if (!hz_log_enabled(level, module)) return;
    char ts[32], msg[2048];
    hz_time_format_rfc3339(hz_time_now_ms(), ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    hz_buf_t line = HZ_BUF_INIT;
    if (logger.format == HZ_LOG_JSON) {
        hz_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":", ts, hz_log_level_name(level));
        hz_buf_put_json_string(&line, module ? module : "", module ? strlen(module) : 0);
        hz_buf_puts(&line, ",\"msg\":");
        hz_buf_put_json_string(&line, msg, strlen(msg));
        hz_buf_puts(&line, "}\n");
    } else {
        static const char *upper[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};
        hz_buf_printf(&line, "%s %s %s: %s\n", ts, upper[level], module ? module : "-", msg);
    }
    pthread_mutex_lock(&logger.lock);
    FILE *out = logger.out ? logger.out : stderr;
    fwrite(line.data, 1, line.len, out);
    fflush(out);
    pthread_mutex_unlock(&logger.lock);
    hz_buf_free(&line);
}
