/*
 * Strict JSON (RFC 8259) over json-c's object model.
 *
 * json-c 0.16's tokener, even with JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, accepts
 * much that RFC 8259 forbids: "00", "-01", "1.", NaN and Infinity, raw control characters in
 * strings, lone surrogate escapes (silently turned into U+FFFD), overlong and surrogate UTF-8;
 * it keeps the last of duplicate keys, cuts keys at "\u0000", clamps integers outside int64 to
 * INT64_MIN or UINT64_MAX, and its depth limit counts scalars as levels. Checking all that after
 * the fact would need a second full pass over the grammar anyway, so this file is that pass: a
 * recursive-descent recogniser of RFC 8259 that builds the tree with json-c's constructors as it
 * goes. Every error names the byte offset where the input stopped being valid, and since the scan
 * only moves forward, the first error in the text is the one reported.
 *
 * Duplicate keys are found with the object being built: json-c's hash table answers "is this key
 * already here" in O(1) expected, so no side set is needed and the whole parse stays O(n).
 * Unescaped strings go to one scratch buffer used as a stack: an object key stays on it while its
 * value (which may hold keys of its own) is parsed, and is popped once the member is added.
 *
 * Numbers: an integer literal inside int64 becomes a json-c int; anything else becomes a double
 * that keeps its literal (json_object_new_double_s), so dumps reproduce the input digits exactly.
 * That includes integers outside int64, which is how hz_json_get_int can tell "too big" from
 * "fractional" and name the right problem.
 */
#include "hanzo/base.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

typedef struct {
    const unsigned char *s;
    size_t n;
    size_t pos;
    int depth;       /* containers currently open */
    size_t containers; /* containers seen so far, see HZ_JSON_MAX_CONTAINERS */
    hz_buf_t stack;  /* unescaped strings; see the top comment */
} parser_t;

static int parse_value(parser_t *p, json_object **out);

/* ---- errors ------------------------------------------------------------------------------ */

static int fail(size_t at, const char *fmt, ...) HZ_PRINTF(2, 3);
static int fail(size_t at, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return hz_error_set(HZ_EPARSE, "JSON error at byte %zu: %s", at, reason);
}

static int fail_oom(void) { return hz_error_set(HZ_ENOMEM, "out of memory building a JSON value"); }

/* A byte as a person should read it in a message: 'x', NUL byte, byte 0xC3. */
static const char *describe(unsigned char c, char buf[16]) {
    if (c == 0) return "NUL byte";
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 16, "'%c'", c);
    else snprintf(buf, 16, "byte 0x%02X", c);
    return buf;
}

static int fail_unexpected(parser_t *p, const char *expected) {
    if (p->pos >= p->n) return fail(p->n, "unexpected end of input, expected %s", expected);
    char b[16];
    if (p->pos == 0 && p->n >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
        return fail(0, "byte order mark (U+FEFF) is not allowed before the value");
    return fail(p->pos, "unexpected %s, expected %s", describe(p->s[p->pos], b), expected);
}

/* ---- lexical helpers --------------------------------------------------------------------- */

static void skip_ws(parser_t *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        p->pos++;
    }
}

/* Four hex digits: 0, -1 on a non-hex byte, -2 when the input ends first. */
static int hex4(const unsigned char *s, size_t avail, unsigned *out) {
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= avail) return -2;
        unsigned char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static void put_utf8(hz_buf_t *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    hz_buf_append(b, u, n);
}

/* Length of the UTF-8 sequence a lead byte announces, 0 for a byte that cannot lead one. */
static size_t utf8_len(unsigned char c) {
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}

/* One \uXXXX escape (or surrogate pair) at p->pos, appended to the stack as UTF-8. */
static int parse_unicode_escape(parser_t *p) {
    size_t at = p->pos;
    unsigned cp, lo;
    int rc = hex4(p->s + at + 2, p->n - at - 2, &cp);
    if (rc == -2) return fail(p->n, "unexpected end of input in \\u escape");
    if (rc != 0) return fail(at, "invalid \\u escape, expected 4 hex digits");
    p->pos += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(at, "lone low surrogate \\u%04x in string", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        size_t rest = p->n - p->pos;
        if (rest < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            hex4(p->s + p->pos + 2, rest - 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return fail(at, "lone high surrogate \\u%04x in string", cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    put_utf8(&p->stack, cp);
    return 0;
}

/*
 * The string starting at the '"' at p->pos. When the string has no escapes and `copy` is false,
 * *str points into the input and nothing is pushed; otherwise the unescaped bytes are pushed on
 * p->stack (NUL-terminated) starting at offset *mark, and *str points there until the stack
 * next grows.
 */
static int parse_string(parser_t *p, bool copy, size_t *mark, const char **str, size_t *len) {
    size_t start = p->pos++;
    size_t run = p->pos;  /* first byte not yet copied to the stack */
    bool copying = false;
    *mark = p->stack.len;
    for (;;) {
        while (p->pos < p->n) {
            unsigned char c = p->s[p->pos];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
            p->pos++;
        }
        if (p->pos >= p->n)
            return fail(p->n, "unexpected end of input in the string starting at byte %zu", start);
        unsigned char c = p->s[p->pos];
        if (c == '"') break;
        if (c >= 0x80) {
            size_t k = utf8_len(c);
            if (k == 0 || k > p->n - p->pos || hz_utf8_valid_prefix((const char *)p->s + p->pos, k) != k)
                return fail(p->pos, "invalid UTF-8 in string");
            p->pos += k;
            continue;
        }
        if (c < 0x20) {
            if (c == 0) return fail(p->pos, "NUL byte in string");
            return fail(p->pos, "unescaped control character U+%04X in string", c);
        }
        /* a backslash: flush the plain run, then append the unescaped character */
        hz_buf_append(&p->stack, p->s + run, p->pos - run);
        copying = true;
        if (p->pos + 1 >= p->n)
            return fail(p->n, "unexpected end of input in the string starting at byte %zu", start);
        char e = (char)p->s[p->pos + 1], out;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            int rc = parse_unicode_escape(p);
            if (rc) return rc;
            run = p->pos;
            continue;
        }
        default: {
            char b[16];
            return fail(p->pos, "invalid escape: backslash followed by %s", describe((unsigned char)e, b));
        }
        }
        hz_buf_putc(&p->stack, out);
        p->pos += 2;
        run = p->pos;
    }
    if (copying || copy) {
        hz_buf_append(&p->stack, p->s + run, p->pos - run);
        *str = p->stack.data + *mark;
        *len = p->stack.len - *mark;
    } else {
        *str = (const char *)p->s + start + 1;
        *len = p->pos - start - 1;
    }
    p->pos++;  /* the closing quote */
    return 0;
}

static void stack_pop(parser_t *p, size_t mark) {
    p->stack.len = mark;
    if (p->stack.data) p->stack.data[mark] = '\0';
}

/* ---- values ------------------------------------------------------------------------------ */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* Literal text of an integer: does it fit int64? */
static bool int64_from_digits(const unsigned char *s, size_t n, int64_t *out) {
    bool neg = s[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = neg; i < n; i++) {
        unsigned d = s[i] - '0';
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int parse_number(parser_t *p, json_object **out) {
    size_t start = p->pos;
    bool integral = true;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
        return fail_unexpected(p, "a digit after '-'");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            return fail(p->pos - 1, "leading zero in number");
    } else {
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        integral = false;
        p->pos++;
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail_unexpected(p, "a digit after the decimal point");
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail_unexpected(p, "a digit in the exponent");
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    size_t len = p->pos - start;
    int64_t i;
    if (integral && int64_from_digits(p->s + start, len, &i)) {
        *out = json_object_new_int64(i);
    } else {
        /* The literal needs a terminator for strtod and json-c; borrow the stack top. */
        size_t mark = p->stack.len;
        hz_buf_append(&p->stack, p->s + start, len);
        const char *lit = p->stack.data + mark;
        pthread_once(&c_locale_once, c_locale_init);
        double d = c_locale ? strtod_l(lit, NULL, c_locale) : strtod(lit, NULL);
        *out = json_object_new_double_s(d, lit);
        stack_pop(p, mark);
    }
    return *out ? 0 : fail_oom();
}

static int parse_literal(parser_t *p, json_object **out) {
    static const char *const words[] = {"true", "false", "null"};
    const char *w = words[p->s[p->pos] == 't' ? 0 : p->s[p->pos] == 'f' ? 1 : 2];
    for (size_t i = 0; w[i]; i++) {
        if (p->pos + i >= p->n)
            return fail(p->n, "unexpected end of input in literal, expected \"%s\"", w);
        if (p->s[p->pos + i] != (unsigned char)w[i])
            return fail(p->pos + i, "invalid literal, expected \"%s\"", w);
    }
    p->pos += strlen(w);
    if (w[0] == 'n') { *out = NULL; return 0; }  /* json-c's null is the NULL object */
    *out = json_object_new_boolean(w[0] == 't');
    return *out ? 0 : fail_oom();
}

static int enter(parser_t *p) {
    if (p->depth >= HZ_JSON_MAX_DEPTH)
        return fail(p->pos, "nesting deeper than %d levels", HZ_JSON_MAX_DEPTH);
    if (++p->containers > HZ_JSON_MAX_CONTAINERS)
        return fail(p->pos, "more than %d objects and arrays", HZ_JSON_MAX_CONTAINERS);
    p->depth++;
    p->pos++;  /* the opening bracket */
    return 0;
}

static int parse_array(parser_t *p, json_object **out) {
    int rc = enter(p);
    if (rc) return rc;
    /* json-c's default reserves 32 slots: 100+ bytes of heap per "[]," of input */
    json_object *arr = json_object_new_array_ext(2);
    if (!arr) return fail_oom();
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') goto done;
    for (;;) {
        json_object *v;
        if ((rc = parse_value(p, &v)) != 0) goto error;
        if (json_object_array_add(arr, v) != 0) { json_object_put(v); rc = fail_oom(); goto error; }
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->n && p->s[p->pos] == ']') break;
        rc = fail_unexpected(p, "',' or ']' in array");
        goto error;
    }
done:
    p->pos++;
    p->depth--;
    *out = arr;
    return 0;
error:
    json_object_put(arr);
    return rc;
}

/* A key for an error message: JSON-quoted, shortened at a character boundary when long. */
static int fail_duplicate(size_t at, const char *key, size_t len) {
    hz_buf_t b = HZ_BUF_INIT;
    size_t show = len;
    if (show > 64) {
        show = 64;
        while (show > 0 && ((unsigned char)key[show] & 0xC0) == 0x80) show--;
    }
    hz_buf_put_json_string(&b, key, show);
    if (show < len) {
        b.len--;  /* the closing quote goes after the ellipsis */
        hz_buf_puts(&b, "...\"");
    }
    int rc = fail(at, "duplicate key %s", b.data);
    hz_buf_free(&b);
    return rc;
}

static int parse_object(parser_t *p, json_object **out) {
    int rc = enter(p);
    if (rc) return rc;
    json_object *obj = json_object_new_object();
    if (!obj) return fail_oom();
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') goto done;
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') { rc = fail_unexpected(p, "a string key"); goto error; }
        size_t key_at = p->pos, mark, klen;
        const char *key;
        if ((rc = parse_string(p, true, &mark, &key, &klen)) != 0) goto error;
        if (memchr(key, 0, klen)) {
            /* json-c keys are C strings: such a key would silently lose its tail. */
            rc = fail(key_at, "object key contains U+0000, which is not supported");
            goto error;
        }
        if (json_object_object_get_ex(obj, key, NULL)) {
            rc = fail_duplicate(key_at, key, klen);
            goto error;
        }
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') { rc = fail_unexpected(p, "':' after the object key"); goto error; }
        p->pos++;
        json_object *v;
        if ((rc = parse_value(p, &v)) != 0) goto error;
        /* the stack may have moved while the value was parsed */
        key = p->stack.data + mark;
        if (json_object_object_add_ex(obj, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
            json_object_put(v);
            rc = fail_oom();
            goto error;
        }
        stack_pop(p, mark);
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->n && p->s[p->pos] == '}') break;
        rc = fail_unexpected(p, "',' or '}' in object");
        goto error;
    }
done:
    p->pos++;
    p->depth--;
    *out = obj;
    return 0;
error:
    json_object_put(obj);
    return rc;
}

static int parse_value(parser_t *p, json_object **out) {
    skip_ws(p);
    if (p->pos >= p->n) return fail_unexpected(p, "a value");
    switch (p->s[p->pos]) {
    case '{': return parse_object(p, out);
    case '[': return parse_array(p, out);
    case '"': {
        size_t mark, len;
        const char *str;
        int rc = parse_string(p, false, &mark, &str, &len);
        if (rc) return rc;
        *out = json_object_new_string_len(str, (int)len);
        stack_pop(p, mark);
        return *out ? 0 : fail_oom();
    }
    case 't': case 'f': case 'n': return parse_literal(p, out);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return parse_number(p, out);
    default: return fail_unexpected(p, "a value");
    }
}

int hz_json_parse(const char *text, size_t len, json_object **out) {
    if (!out || (!text && len)) return hz_error_set(HZ_EINVAL, "hz_json_parse: NULL argument");
    *out = NULL;
    /* json-c measures strings and dumps in int */
    if (len > INT_MAX) return fail(0, "input of %zu bytes is larger than the 2 GiB limit", len);
    parser_t p = {.s = (const unsigned char *)text, .n = len, .pos = 0, .depth = 0};
    hz_buf_init(&p.stack);
    json_object *v = NULL;
    int rc = parse_value(&p, &v);
    if (rc == 0) {
        skip_ws(&p);
        if (p.pos < p.n) {
            char b[16];
            rc = fail(p.pos, "trailing garbage after the value: %s", describe(p.s[p.pos], b));
            json_object_put(v);
            v = NULL;
        }
    }
    hz_buf_free(&p.stack);
    *out = v;
    return rc;
}

/* ---- typed access ------------------------------------------------------------------------ */

/*
 * The member `key` of obj. A member whose value is null counts as absent: clients of
 * OpenAI-style APIs send "stop": null to mean "not set".
 */
static int member(json_object *obj, const char *key, bool required, const char *what,
                  json_object **out) {
    *out = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return hz_error_set(HZ_EINVAL, "cannot read \"%s\": the value is not a JSON object", key);
    json_object *v = NULL;
    bool present = json_object_object_get_ex(obj, key, &v);
    if (present && v) {
        *out = v;
        return 0;
    }
    if (!required) return hz_error_set(HZ_ENOTFOUND, "\"%s\" is not set", key);
    if (present) return hz_error_set(HZ_EINVAL, "\"%s\" must be %s, not null", key, what);
    return hz_error_set(HZ_EINVAL, "missing required field \"%s\"", key);
}

/* member() plus a type check; `what` names the type for messages ("a string"). */
static int typed_member(json_object *obj, const char *key, bool required, json_type type,
                        const char *what, json_object **out) {
    int rc = member(obj, key, required, what, out);
    if (rc == 0 && !json_object_is_type(*out, type))
        return hz_error_set(HZ_EINVAL, "\"%s\" must be %s", key, what);
    return rc;
}

int hz_json_get_string(json_object *obj, const char *key, bool required, const char **out) {
    json_object *v;
    int rc = typed_member(obj, key, required, json_type_string, "a string", &v);
    if (rc) return rc;
    const char *s = json_object_get_string(v);
    /* callers get a C string: an embedded NUL would silently cut it short */
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return hz_error_set(HZ_EINVAL, "\"%s\" must not contain a NUL character", key);
    *out = s;
    return 0;
}

/* Does this double stand for an integer literal (one too large for int64)? */
static bool integer_literal(json_object *v) {
    const char *s = json_object_get_string(v);
    if (*s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

int hz_json_get_int(json_object *obj, const char *key, bool required, int64_t *out) {
    json_object *v;
    int rc = member(obj, key, required, "an integer", &v);
    if (rc) return rc;
    if (json_object_is_type(v, json_type_double) && integer_literal(v))
        return hz_error_set(HZ_EINVAL, "\"%s\" is out of the int64 range", key);
    if (!json_object_is_type(v, json_type_int))
        return hz_error_set(HZ_EINVAL, "\"%s\" must be an integer", key);
    int64_t i = json_object_get_int64(v);
    /* objects built in code may hold a uint64 that json-c clamps here */
    if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return hz_error_set(HZ_EINVAL, "\"%s\" is out of the int64 range", key);
    *out = i;
    return 0;
}

int hz_json_get_double(json_object *obj, const char *key, bool required, double *out) {
    json_object *v;
    int rc = member(obj, key, required, "a number", &v);
    if (rc) return rc;
    double d;
    if (json_object_is_type(v, json_type_int)) {
        int64_t i = json_object_get_int64(v);
        d = i == INT64_MAX ? (double)json_object_get_uint64(v) : (double)i;
    } else if (json_object_is_type(v, json_type_double)) {
        d = json_object_get_double(v);
    } else {
        return hz_error_set(HZ_EINVAL, "\"%s\" must be a number", key);
    }
    if (!isfinite(d)) return hz_error_set(HZ_EINVAL, "\"%s\" is out of the double range", key);
    *out = d;
    return 0;
}

int hz_json_get_bool(json_object *obj, const char *key, bool required, bool *out) {
    json_object *v;
    int rc = typed_member(obj, key, required, json_type_boolean, "a boolean", &v);
    if (rc) return rc;
    *out = json_object_get_boolean(v);
    return 0;
}

int hz_json_get_object(json_object *obj, const char *key, bool required, json_object **out) {
    json_object *v;
    int rc = typed_member(obj, key, required, json_type_object, "an object", &v);
    if (rc) return rc;
    *out = v;
    return 0;
}

int hz_json_get_array(json_object *obj, const char *key, bool required, json_object **out) {
    json_object *v;
    int rc = typed_member(obj, key, required, json_type_array, "an array", &v);
    if (rc) return rc;
    *out = v;
    return 0;
}

const char *hz_json_dump(json_object *obj, size_t *len_out) {
    size_t len = 0;
    const char *s = json_object_to_json_string_length(obj, DUMP_FLAGS, &len);
    if (len_out) *len_out = len;
    return s;
}
