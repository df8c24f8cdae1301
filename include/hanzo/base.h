/*
 * hanzo/base.h - the primitives every other module stands on.
 *
 * Errors: functions return 0 or a negative HZ_E* code and put a human-readable detail into a
 * thread-local message, read with hz_error_last(). Nothing in a library prints or exits.
 *
 * Memory: hz_malloc and friends never return NULL; on exhaustion they log and abort, as Redis'
 * zmalloc does. A server that cannot allocate a few bytes cannot recover meaningfully, and not
 * having to check every small allocation removes a whole class of bugs.
 *
 * Buffers: hz_buf_t is a growable byte string, always NUL-terminated so it can be used as a C
 * string when it holds text.
 *
 * JSON: a strict parser over json-c. It rejects what RFC 8259 rejects plus what json-c tolerates:
 * invalid UTF-8, trailing garbage, duplicate object keys, nesting deeper than a limit. Every
 * error names the byte offset.
 */
#ifndef HANZO_BASE_H
#define HANZO_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#define HZ_VERSION "0.1.0"

#if defined(__GNUC__)
#define HZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define HZ_PRINTF(f, a)
#endif

/* ---- errors --------------------------------------------------------------------------- */

enum {
    HZ_OK = 0,
    HZ_EINVAL = -1,      /* bad argument or bad input */
    HZ_ENOMEM = -2,
    HZ_EIO = -3,         /* file or socket error; message carries errno text */
    HZ_ENOTFOUND = -4,
    HZ_EEXIST = -5,
    HZ_EPARSE = -6,      /* malformed input (JSON, TOML, headers, ...) */
    HZ_ETOOBIG = -7,     /* a size limit was exceeded */
    HZ_EBUSY = -8,       /* a queue or pool is full; try later */
    HZ_ETIMEOUT = -9,
    HZ_EAUTH = -10,      /* authentication or authorisation failed */
    HZ_ECRYPTO = -11,    /* verification or decryption failed */
    HZ_EVERSION = -12,   /* a format or schema version we do not understand */
    HZ_ECLOSED = -13,    /* the peer went away, or the object is shut down */
    HZ_ESTATE = -14,     /* the call is not valid in the object's current state */
    HZ_EUNSUPPORTED = -15,
    HZ_EINTERNAL = -16,
};

/* The detail of the last error set on this thread ("" if none). Valid until the next call
 * that sets an error on this thread. */
const char *hz_error_last(void);
/* Record an error for this thread and return code, so callers can write
 * `return hz_error_set(HZ_EINVAL, "bad %s", what);`. */
int hz_error_set(int code, const char *fmt, ...) HZ_PRINTF(2, 3);
/* Like hz_error_set, appending ": <strerror(errnum)>". */
int hz_error_errno(int code, int errnum, const char *fmt, ...) HZ_PRINTF(3, 4);
/* Prefix the current message with "<prefix>: " (adds context while unwinding); returns code. */
int hz_error_wrap(int code, const char *fmt, ...) HZ_PRINTF(2, 3);
void hz_error_clear(void);
/* Stable short name of a code: "EINVAL", "ENOTFOUND", ... */
const char *hz_error_name(int code);

/* ---- memory --------------------------------------------------------------------------- */

void *hz_malloc(size_t n);
void *hz_calloc(size_t count, size_t size);
void *hz_realloc(void *p, size_t n);
char *hz_strdup(const char *s);
char *hz_strndup(const char *s, size_t n);
/* Owned, formatted string. */
char *hz_sprintf(const char *fmt, ...) HZ_PRINTF(1, 2);
void hz_free(void *p);

/* ---- buffers -------------------------------------------------------------------------- */

typedef struct hz_buf {
    char *data;  /* NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
} hz_buf_t;

#define HZ_BUF_INIT {NULL, 0, 0}

void hz_buf_init(hz_buf_t *b);
void hz_buf_free(hz_buf_t *b);
void hz_buf_reset(hz_buf_t *b);               /* len = 0, keeps capacity */
void hz_buf_reserve(hz_buf_t *b, size_t extra); /* room for `extra` more bytes */
void hz_buf_append(hz_buf_t *b, const void *p, size_t n);
void hz_buf_puts(hz_buf_t *b, const char *s);
void hz_buf_putc(hz_buf_t *b, char c);
void hz_buf_printf(hz_buf_t *b, const char *fmt, ...) HZ_PRINTF(2, 3);
void hz_buf_vprintf(hz_buf_t *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included. */
void hz_buf_put_json_string(hz_buf_t *b, const char *s, size_t n);
/* Give up ownership of the bytes (never NULL; caller frees with hz_free). The buffer is reset. */
char *hz_buf_detach(hz_buf_t *b, size_t *len_out);

/* ---- strings -------------------------------------------------------------------------- */

bool hz_str_starts_with(const char *s, const char *prefix);
bool hz_str_ends_with(const char *s, const char *suffix);
/* Case-insensitive ASCII equality. */
bool hz_str_ieq(const char *a, const char *b);
/* Length of the valid UTF-8 prefix of s[0..n) (n when all valid). Rejects overlongs,
 * surrogates and code points above U+10FFFF, as RFC 3629 requires. */
size_t hz_utf8_valid_prefix(const char *s, size_t n);
/* Strip leading and trailing ASCII whitespace in place; returns s. */
char *hz_str_trim(char *s);

/* ---- logging -------------------------------------------------------------------------- */

typedef enum {
    HZ_LOG_ERROR = 0,
    HZ_LOG_WARN,
    HZ_LOG_INFO,
    HZ_LOG_DEBUG,
    HZ_LOG_TRACE,
} hz_log_level_t;

typedef enum { HZ_LOG_TEXT = 0, HZ_LOG_JSON } hz_log_format_t;

/* Configure the one process-wide logger. `spec` is RUST_LOG-style: a default level optionally
 * followed by per-module levels, e.g. "info" or "warn,http=debug,store=trace". NULL keeps
 * "info". Output goes to `out` (stderr when NULL). Call before starting threads. */
int hz_log_configure(const char *spec, hz_log_format_t format, FILE *out);
int hz_log_level_parse(const char *name, hz_log_level_t *out);
const char *hz_log_level_name(hz_log_level_t level);
bool hz_log_enabled(hz_log_level_t level, const char *module);
void hz_log_write(hz_log_level_t level, const char *module, const char *fmt, ...) HZ_PRINTF(3, 4);

#define hz_log_error(mod, ...) hz_log_write(HZ_LOG_ERROR, mod, __VA_ARGS__)
#define hz_log_warn(mod, ...) hz_log_write(HZ_LOG_WARN, mod, __VA_ARGS__)
#define hz_log_info(mod, ...) hz_log_write(HZ_LOG_INFO, mod, __VA_ARGS__)
#define hz_log_debug(mod, ...) \
    do { if (hz_log_enabled(HZ_LOG_DEBUG, mod)) hz_log_write(HZ_LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define hz_log_trace(mod, ...) \
    do { if (hz_log_enabled(HZ_LOG_TRACE, mod)) hz_log_write(HZ_LOG_TRACE, mod, __VA_ARGS__); } while (0)

/* ---- JSON ----------------------------------------------------------------------------- */

#define HZ_JSON_MAX_DEPTH 64
/* json-c spends ~700 bytes on even an empty object, so "{},{},..." would turn a 16 MiB body into
 * gigabytes of heap. Capping the containers per document bounds that at ~70 MB. */
#define HZ_JSON_MAX_CONTAINERS 100000

/* Parse exactly one JSON value from text[0..len). On success *out owns a json-c object (free
 * with json_object_put); a document that is just `null` gives *out == NULL. On failure returns HZ_EPARSE and hz_error_last() reads like
 * "JSON error at byte 17: duplicate key \"model\"". */
int hz_json_parse(const char *text, size_t len, json_object **out);

/* Typed member access. Each returns 0, HZ_ENOTFOUND when the key is absent or null (and
 * `required` is false: clients send "stop": null to mean "not set"), or HZ_EINVAL naming the key when it is present with the wrong type or absent and
 * required. Strings point into the object. */
int hz_json_get_string(json_object *obj, const char *key, bool required, const char **out);
int hz_json_get_int(json_object *obj, const char *key, bool required, int64_t *out);
int hz_json_get_double(json_object *obj, const char *key, bool required, double *out);
int hz_json_get_bool(json_object *obj, const char *key, bool required, bool *out);
int hz_json_get_object(json_object *obj, const char *key, bool required, json_object **out);
int hz_json_get_array(json_object *obj, const char *key, bool required, json_object **out);

/* Compact serialisation without escaping '/'. Points into obj; valid until obj changes. */
const char *hz_json_dump(json_object *obj, size_t *len_out);

/* ---- time ----------------------------------------------------------------------------- */

int64_t hz_time_now_ms(void);     /* wall clock, ms since the Unix epoch */
int64_t hz_time_mono_ns(void);    /* monotonic clock, for durations */
/* RFC 3339 UTC with milliseconds, "2026-11-22T03:00:00.000Z". buf must hold 32 bytes. */
char *hz_time_format_rfc3339(int64_t unix_ms, char buf[32]);
/* Parse RFC 3339 ("...Z" or "+hh:mm" offset) into ms since the epoch. */
int hz_time_parse_rfc3339(const char *s, int64_t *unix_ms);
void hz_sleep_ms(int64_t ms);

/* ---- identifiers and randomness ------------------------------------------------------- */

#define HZ_UUID_STRLEN 36
/* UUIDv7 (RFC 9562): time-ordered, so ids sort by creation and index well. out holds 37.
 * Unique, not secret: the random bits come from a per-thread generator seeded from the kernel,
 * so use hz_random_bytes for anything that must be unguessable. */
void hz_uuid_v7(char out[HZ_UUID_STRLEN + 1]);
void hz_uuid_v4(char out[HZ_UUID_STRLEN + 1]);
bool hz_uuid_valid(const char *s);
/* Fill buf with bytes from the kernel CSPRNG (getrandom); aborts if the kernel cannot. */
void hz_random_bytes(void *buf, size_t n);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hz_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly `n` bytes from a 2n-char hex string; HZ_EPARSE on anything else. */
int hz_hex_decode(const char *hex, uint8_t *out, size_t n);

/* ---- thread pool ---------------------------------------------------------------------- */

typedef struct hz_pool hz_pool_t;
typedef void (*hz_task_fn)(void *arg);

/* A fixed set of worker threads over a bounded FIFO queue. Thread-safe. */
hz_pool_t *hz_pool_new(int threads, size_t queue_max, const char *name);
/* Queue fn(arg). HZ_EBUSY when the queue is full, HZ_ECLOSED after shutdown began. */
int hz_pool_submit(hz_pool_t *pool, hz_task_fn fn, void *arg);
/* Number of queued plus running tasks. */
size_t hz_pool_pending(hz_pool_t *pool);
/* Stop accepting work, run what is queued, join the threads, free. */
void hz_pool_free(hz_pool_t *pool);

#endif
