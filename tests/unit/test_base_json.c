/*
 * Unit tests for the strict JSON parser in src/base/json.c. Most cases are tables: a document and
 * either its compact dump or the exact error message, byte offset included, so a change in what
 * is accepted or in where an error is reported shows up as a failing row. The rest cover what
 * tables cannot: sizes (depth limit, big arrays and objects), embedded NUL bytes, and getters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/base.h"

/* Parse s (strlen) and return the dump, owned; NULL and a message in hz_error_last() on error. */
static char *roundtrip(const char *s, size_t len) {
    json_object *o;
    if (hz_json_parse(s, len, &o) != 0) return NULL;
    char *d = hz_strdup(hz_json_dump(o, NULL));
    json_object_put(o);
    return d;
}

/* ---- accepted documents -------------------------------------------------------------------- */

static const struct { const char *in, *dump; } valid[] = {
    {"0", "0"},
    {"-0", "0"},
    {"123", "123"},
    {" \t\r\n123 \t\r\n", "123"},
    {"-9223372036854775808", "-9223372036854775808"},
    {"9223372036854775807", "9223372036854775807"},
    /* outside int64: kept as a double that remembers its literal */
    {"9223372036854775808", "9223372036854775808"},
    {"-9223372036854775809", "-9223372036854775809"},
    {"123456789012345678901234567890", "123456789012345678901234567890"},
    {"1.5", "1.5"},
    {"2.50", "2.50"},
    {"-0.0", "-0.0"},
    {"1e5", "1e5"},
    {"1E+5", "1E+5"},
    {"1.25e-3", "1.25e-3"},
    {"1e400", "1e400"},
    {"true", "true"},
    {"false", "false"},
    {"null", "null"},
    {"\"\"", "\"\""},
    {"\"plain\"", "\"plain\""},
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""},
    {"\"\\u0041\\u00e9\\u20AC\"", "\"A\xC3\xA9\xE2\x82\xAC\""},
    {"\"\\ud834\\udd1e\"", "\"\xF0\x9D\x84\x9E\""},         /* surrogate pair, G clef */
    {"\"\\uD83D\\uDE00\"", "\"\xF0\x9F\x98\x80\""},         /* upper-case hex */
    {"\"\\udbff\\udfff\"", "\"\xF4\x8F\xBF\xBF\""},         /* U+10FFFF */
    {"\"\\u0000\"", "\"\\u0000\""},                         /* NUL allowed in values */
    {"\"\\u001f\\u007f\"", "\"\\u001f\x7f\""},
    {"\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E\"", "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E\""},
    {"\"\xEF\xBF\xBF\"", "\"\xEF\xBF\xBF\""},               /* noncharacter U+FFFF is valid */
    {"\"a/b\"", "\"a/b\""},
    {"[]", "[]"},
    {"{}", "{}"},
    {"[ ]", "[]"},
    {"{ }", "{}"},
    {"[1, \"two\", 3.0, true, false, null, [], {}]", "[1,\"two\",3.0,true,false,null,[],{}]"},
    {"{\"b\": 1, \"a\": [2, {\"c\": null}]}", "{\"b\":1,\"a\":[2,{\"c\":null}]}"},
    {"{\"\": 1}", "{\"\":1}"},
    {"{\"a\": 1, \"A\": 2}", "{\"a\":1,\"A\":2}"},                 /* keys are case-sensitive */
    {"{\"a\": {\"a\": {\"a\": 1}}}", "{\"a\":{\"a\":{\"a\":1}}}"},   /* same key, other levels */
    {"[{\"a\": 1}, {\"a\": 2}]", "[{\"a\":1},{\"a\":2}]"},
};

static void test_valid_documents(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        char *d = roundtrip(valid[i].in, strlen(valid[i].in));
        if (!d) fail_msg("row %zu %s: %s", i, valid[i].in, hz_error_last());
        if (strcmp(d, valid[i].dump) != 0) fail_msg("row %zu %s: dump %s, want %s", i, valid[i].in, d, valid[i].dump);
        /* and the dump parses back to itself */
        char *d2 = roundtrip(d, strlen(d));
        assert_non_null(d2);
        assert_string_equal(d2, d);
        hz_free(d);
        hz_free(d2);
    }
}

/* ---- rejected documents: exact message and offset ------------------------------------------ */

static const struct { const char *in, *err; } invalid[] = {
    /* structure */
    {"", "JSON error at byte 0: unexpected end of input, expected a value"},
    {"   ", "JSON error at byte 3: unexpected end of input, expected a value"},
    {"[1] x", "JSON error at byte 4: trailing garbage after the value: 'x'"},
    {"{}{}", "JSON error at byte 2: trailing garbage after the value: '{'"},
    {"true false", "JSON error at byte 5: trailing garbage after the value: 'f'"},
    {"\"a\"\"b\"", "JSON error at byte 3: trailing garbage after the value: '\"'"},
    {"123abc", "JSON error at byte 3: trailing garbage after the value: 'a'"},
    {"{\"k\":1}}", "JSON error at byte 7: trailing garbage after the value: '}'"},
    {"[1]\x7f", "JSON error at byte 3: trailing garbage after the value: byte 0x7F"},
    {"[1,]", "JSON error at byte 3: unexpected ']', expected a value"},
    {"[,1]", "JSON error at byte 1: unexpected ',', expected a value"},
    {"[1 2]", "JSON error at byte 3: unexpected '2', expected ',' or ']' in array"},
    {"[1", "JSON error at byte 2: unexpected end of input, expected ',' or ']' in array"},
    {"[", "JSON error at byte 1: unexpected end of input, expected a value"},
    {"{\"a\":1,}", "JSON error at byte 7: unexpected '}', expected a string key"},
    {"{\"a\" 1}", "JSON error at byte 5: unexpected '1', expected ':' after the object key"},
    {"{\"a\":1 \"b\":2}", "JSON error at byte 7: unexpected '\"', expected ',' or '}' in object"},
    {"{1:2}", "JSON error at byte 1: unexpected '1', expected a string key"},
    {"{'a':1}", "JSON error at byte 1: unexpected ''', expected a string key"},
    {"{a:1}", "JSON error at byte 1: unexpected 'a', expected a string key"},
    {"{\"a\":}", "JSON error at byte 5: unexpected '}', expected a value"},
    {"{\"a\"", "JSON error at byte 4: unexpected end of input, expected ':' after the object key"},
    {"]", "JSON error at byte 0: unexpected ']', expected a value"},
    {"'a'", "JSON error at byte 0: unexpected ''', expected a value"},
    {"/* c */ 1", "JSON error at byte 0: unexpected '/', expected a value"},
    {"[1] // c", "JSON error at byte 4: trailing garbage after the value: '/'"},
    {"\f1", "JSON error at byte 0: unexpected byte 0x0C, expected a value"},
    {"\v1", "JSON error at byte 0: unexpected byte 0x0B, expected a value"},
    {"\xEF\xBB\xBF[]", "JSON error at byte 0: byte order mark (U+FEFF) is not allowed before the value"},
    {"[\xC3\xA9]", "JSON error at byte 1: unexpected byte 0xC3, expected a value"},
    /* literals */
    {"tru", "JSON error at byte 3: unexpected end of input in literal, expected \"true\""},
    {"trUe", "JSON error at byte 2: invalid literal, expected \"true\""},
    {"True", "JSON error at byte 0: unexpected 'T', expected a value"},
    {"nul", "JSON error at byte 3: unexpected end of input in literal, expected \"null\""},
    {"fals", "JSON error at byte 4: unexpected end of input in literal, expected \"false\""},
    {"nulll", "JSON error at byte 4: trailing garbage after the value: 'l'"},
    {"NaN", "JSON error at byte 0: unexpected 'N', expected a value"},
    {"Infinity", "JSON error at byte 0: unexpected 'I', expected a value"},
    {"-Infinity", "JSON error at byte 1: unexpected 'I', expected a digit after '-'"},
    /* numbers */
    {"00", "JSON error at byte 0: leading zero in number"},
    {"-01", "JSON error at byte 1: leading zero in number"},
    {"[1, 012]", "JSON error at byte 4: leading zero in number"},
    {"1.", "JSON error at byte 2: unexpected end of input, expected a digit after the decimal point"},
    {"1.e5", "JSON error at byte 2: unexpected 'e', expected a digit after the decimal point"},
    {".5", "JSON error at byte 0: unexpected '.', expected a value"},
    {"+1", "JSON error at byte 0: unexpected '+', expected a value"},
    {"-", "JSON error at byte 1: unexpected end of input, expected a digit after '-'"},
    {"- 1", "JSON error at byte 1: unexpected ' ', expected a digit after '-'"},
    {"1e", "JSON error at byte 2: unexpected end of input, expected a digit in the exponent"},
    {"1e+", "JSON error at byte 3: unexpected end of input, expected a digit in the exponent"},
    {"1e+x", "JSON error at byte 3: unexpected 'x', expected a digit in the exponent"},
    {"0x10", "JSON error at byte 1: trailing garbage after the value: 'x'"},
    {"[1.5.2]", "JSON error at byte 4: unexpected '.', expected ',' or ']' in array"},
    /* strings */
    {"\"abc", "JSON error at byte 4: unexpected end of input in the string starting at byte 0"},
    {"[\"a\\", "JSON error at byte 4: unexpected end of input in the string starting at byte 1"},
    {"\"\\x\"", "JSON error at byte 1: invalid escape: backslash followed by 'x'"},
    {"\"\\a\"", "JSON error at byte 1: invalid escape: backslash followed by 'a'"},
    {"\"\\U0041\"", "JSON error at byte 1: invalid escape: backslash followed by 'U'"},
    {"\"\\u12g4\"", "JSON error at byte 1: invalid \\u escape, expected 4 hex digits"},
    {"\"\\u12\"", "JSON error at byte 1: invalid \\u escape, expected 4 hex digits"},
    {"\"\\u12", "JSON error at byte 5: unexpected end of input in \\u escape"},
    {"\"a\tb\"", "JSON error at byte 2: unescaped control character U+0009 in string"},
    {"\"a\nb\"", "JSON error at byte 2: unescaped control character U+000A in string"},
    {"\"\x1f\"", "JSON error at byte 1: unescaped control character U+001F in string"},
    /* surrogate escapes json-c would turn into U+FFFD */
    {"\"\\ud800\"", "JSON error at byte 1: lone high surrogate \\ud800 in string"},
    {"\"ab\\uDBFF\"", "JSON error at byte 3: lone high surrogate \\udbff in string"},
    {"\"\\ud800x\"", "JSON error at byte 1: lone high surrogate \\ud800 in string"},
    {"\"\\ud800\\u0041\"", "JSON error at byte 1: lone high surrogate \\ud800 in string"},
    {"\"\\ud800\\ud800\"", "JSON error at byte 1: lone high surrogate \\ud800 in string"},
    {"\"\\ud800\\n\"", "JSON error at byte 1: lone high surrogate \\ud800 in string"},
    {"\"\\udc00\"", "JSON error at byte 1: lone low surrogate \\udc00 in string"},
    {"\"\\ud83d\\ude00\\ude00\"", "JSON error at byte 13: lone low surrogate \\ude00 in string"},
    {"{\"\\ud800\":1}", "JSON error at byte 2: lone high surrogate \\ud800 in string"},
    /* invalid UTF-8, in values and in keys */
    {"\"\xC0\xAF\"", "JSON error at byte 1: invalid UTF-8 in string"},          /* overlong '/' */
    {"\"\xE0\x80\xAF\"", "JSON error at byte 1: invalid UTF-8 in string"},      /* overlong, 3 bytes */
    {"\"ab\xED\xA0\x80\"", "JSON error at byte 3: invalid UTF-8 in string"},    /* UTF-8 surrogate */
    {"\"\xF4\x90\x80\x80\"", "JSON error at byte 1: invalid UTF-8 in string"},  /* > U+10FFFF */
    {"\"\x80\"", "JSON error at byte 1: invalid UTF-8 in string"},              /* lone continuation */
    {"\"\xF8\x88\x80\x80\x80\"", "JSON error at byte 1: invalid UTF-8 in string"},
    {"\"\xFF\"", "JSON error at byte 1: invalid UTF-8 in string"},
    {"\"\xC3\"", "JSON error at byte 1: invalid UTF-8 in string"},              /* cut sequence */
    {"\"\xC3", "JSON error at byte 1: invalid UTF-8 in string"},
    {"\"\xE2\x82\"", "JSON error at byte 1: invalid UTF-8 in string"},
    {"\"ok \xC3\xA9 \xE9t\xE9\"", "JSON error at byte 7: invalid UTF-8 in string"}, /* Latin-1 */
    {"{\"k\xFF\":1}", "JSON error at byte 3: invalid UTF-8 in string"},
    /* duplicate keys, compared after unescaping */
    {"{\"a\":1,\"a\":2}", "JSON error at byte 7: duplicate key \"a\""},
    {"{\"model\": \"x\", \"stream\": true, \"model\": \"y\"}",
     "JSON error at byte 31: duplicate key \"model\""},
    {"{\"a\":1,\"\\u0061\":2}", "JSON error at byte 7: duplicate key \"a\""},
    {"{\"\\u00e9\":1,\"\xC3\xA9\":2}", "JSON error at byte 12: duplicate key \"\xC3\xA9\""},
    {"{\"a\":null,\"a\":null}", "JSON error at byte 10: duplicate key \"a\""},
    {"{\"\":1,\"\":2}", "JSON error at byte 6: duplicate key \"\""},
    {"{\"x\":{\"a\":1,\"b\":2,\"a\":3}}", "JSON error at byte 18: duplicate key \"a\""},
    {"{\"q\\\"\\n\":1,\"q\\\"\\u000a\":2}", "JSON error at byte 11: duplicate key \"q\\\"\\n\""},
    /* the first error in the text wins */
    {"{\"a\":1,\"a\":2} x", "JSON error at byte 7: duplicate key \"a\""},
    {"[\"\\ud800\", 00]", "JSON error at byte 2: lone high surrogate \\ud800 in string"},
    /* keys json-c cannot hold */
    {"{\"a\\u0000\":1}", "JSON error at byte 1: object key contains U+0000, which is not supported"},
};

static void test_rejections(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        json_object *o = (json_object *)&o;  /* must be reset to NULL on failure */
        int rc = hz_json_parse(invalid[i].in, strlen(invalid[i].in), &o);
        if (rc != HZ_EPARSE) fail_msg("row %zu %s: rc %d, want EPARSE", i, invalid[i].in, rc);
        assert_null(o);
        if (strcmp(hz_error_last(), invalid[i].err) != 0)
            fail_msg("row %zu %s:\n  got  %s\n  want %s", i, invalid[i].in, hz_error_last(), invalid[i].err);
    }
}

static void expect_error(const char *in, size_t len, const char *err) {
    json_object *o = NULL;
    assert_int_equal(hz_json_parse(in, len, &o), HZ_EPARSE);
    assert_null(o);
    assert_string_equal(hz_error_last(), err);
}

static void test_embedded_nul(void **state) {
    (void)state;
    expect_error("\0", 1, "JSON error at byte 0: unexpected NUL byte, expected a value");
    expect_error("[1]\0", 4, "JSON error at byte 3: trailing garbage after the value: NUL byte");
    expect_error("\"a\0b\"", 5, "JSON error at byte 2: NUL byte in string");
    expect_error("[1,\0]", 5, "JSON error at byte 3: unexpected NUL byte, expected a value");
    expect_error("{\"a\0\":1}", 8, "JSON error at byte 3: NUL byte in string");
    expect_error("12\0", 3, "JSON error at byte 2: trailing garbage after the value: NUL byte");
}

/* The length is authoritative: nothing past it is read, and text need not be NUL-terminated. */
static void test_length_bounds(void **state) {
    (void)state;
    char *d = roundtrip("[1,2]garbage", 5);
    assert_string_equal(d, "[1,2]");
    hz_free(d);
    d = roundtrip("12345", 3);
    assert_string_equal(d, "123");
    hz_free(d);
    expect_error("\"abc\"", 4, "JSON error at byte 4: unexpected end of input in the string starting at byte 0");
    expect_error("true", 3, "JSON error at byte 3: unexpected end of input in literal, expected \"true\"");
    /* a heap copy without terminator, so ASan would see any over-read */
    const char doc[] = "{\"k\":[1.5e3,\"\\u00e9\"]}";
    char *exact = hz_malloc(sizeof(doc) - 1);
    memcpy(exact, doc, sizeof(doc) - 1);
    d = roundtrip(exact, sizeof(doc) - 1);
    assert_string_equal(d, "{\"k\":[1.5e3,\"\xC3\xA9\"]}");
    hz_free(d);
    for (size_t cut = 0; cut < sizeof(doc) - 1; cut++) {
        json_object *o;
        assert_int_equal(hz_json_parse(exact, cut, &o), HZ_EPARSE);
        assert_non_null(strstr(hz_error_last(), "unexpected end of input"));
    }
    hz_free(exact);
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_int_equal(hz_json_parse("1", 1, NULL), HZ_EINVAL);
    json_object *o;
    assert_int_equal(hz_json_parse(NULL, 3, &o), HZ_EINVAL);
    expect_error(NULL, 0, "JSON error at byte 0: unexpected end of input, expected a value");
}

/* ---- sizes --------------------------------------------------------------------------------- */

static char *nested(int levels, const char *open, const char *inner, const char *close) {
    hz_buf_t b = HZ_BUF_INIT;
    for (int i = 0; i < levels; i++) hz_buf_puts(&b, open);
    hz_buf_puts(&b, inner);
    for (int i = 0; i < levels; i++) hz_buf_puts(&b, close);
    return hz_buf_detach(&b, NULL);
}

static void test_depth_limit(void **state) {
    (void)state;
    char msg[128];
    snprintf(msg, sizeof(msg), "JSON error at byte %d: nesting deeper than %d levels",
             HZ_JSON_MAX_DEPTH, HZ_JSON_MAX_DEPTH);

    char *s = nested(HZ_JSON_MAX_DEPTH, "[", "1", "]");
    char *d = roundtrip(s, strlen(s));
    assert_non_null(d);
    assert_string_equal(d, s);
    hz_free(d);
    hz_free(s);

    s = nested(HZ_JSON_MAX_DEPTH, "[", "", "]");  /* empty innermost array counts as a level */
    d = roundtrip(s, strlen(s));
    assert_non_null(d);
    hz_free(d);
    hz_free(s);

    s = nested(HZ_JSON_MAX_DEPTH + 1, "[", "", "]");
    expect_error(s, strlen(s), msg);
    hz_free(s);

    s = nested(100000, "[", "", "]");  /* would overflow a naive recursive parser's stack */
    expect_error(s, strlen(s), msg);
    hz_free(s);

    /* objects: {"a":{"a":...}} opens a level every 5 bytes */
    s = nested(HZ_JSON_MAX_DEPTH, "{\"a\":", "null", "}");
    d = roundtrip(s, strlen(s));
    assert_non_null(d);
    hz_free(d);
    hz_free(s);
    s = nested(HZ_JSON_MAX_DEPTH + 1, "{\"a\":", "null", "}");
    snprintf(msg, sizeof(msg), "JSON error at byte %d: nesting deeper than %d levels",
             5 * HZ_JSON_MAX_DEPTH, HZ_JSON_MAX_DEPTH);
    expect_error(s, strlen(s), msg);
    hz_free(s);

    /* depth is nesting, not the number of containers: siblings do not add up */
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_putc(&b, '[');
    for (int i = 0; i < 1000; i++) hz_buf_puts(&b, i ? ",[[]]" : "[[]]");
    hz_buf_putc(&b, ']');
    d = roundtrip(b.data, b.len);
    assert_non_null(d);
    hz_free(d);
    hz_buf_free(&b);
}

static void test_big_array(void **state) {
    (void)state;
    enum { N = 200000 };
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_putc(&b, '[');
    for (int i = 0; i < N; i++) hz_buf_printf(&b, "%s%d", i ? "," : "", i * 7 - 3);
    hz_buf_putc(&b, ']');
    json_object *o;
    assert_int_equal(hz_json_parse(b.data, b.len, &o), 0);
    assert_int_equal(json_object_array_length(o), N);
    assert_int_equal(json_object_get_int64(json_object_array_get_idx(o, N - 1)), (N - 1) * 7 - 3);
    size_t len;
    const char *d = hz_json_dump(o, &len);
    assert_int_equal(len, b.len);
    assert_memory_equal(d, b.data, len);
    json_object_put(o);
    hz_buf_free(&b);
}

static void test_big_object_and_late_duplicate(void **state) {
    (void)state;
    enum { N = 50000 };
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_putc(&b, '{');
    for (int i = 0; i < N; i++) hz_buf_printf(&b, "%s\"key%d\":%d", i ? "," : "", i, i);
    hz_buf_putc(&b, '}');
    json_object *o;
    assert_int_equal(hz_json_parse(b.data, b.len, &o), 0);
    assert_int_equal(json_object_object_length(o), N);
    int64_t v;
    assert_int_equal(hz_json_get_int(o, "key49999", true, &v), 0);
    assert_int_equal(v, 49999);
    /* key order is kept */
    size_t len;
    const char *d = hz_json_dump(o, &len);
    assert_int_equal(len, b.len);
    assert_memory_equal(d, b.data, len);
    json_object_put(o);

    /* the first key repeated at the very end */
    b.data[b.len - 1] = ',';
    size_t at = b.len;
    hz_buf_puts(&b, "\"key0\":1}");
    char msg[96];
    snprintf(msg, sizeof(msg), "JSON error at byte %zu: duplicate key \"key0\"", at);
    expect_error(b.data, b.len, msg);
    hz_buf_free(&b);
}

static void test_long_strings(void **state) {
    (void)state;
    enum { N = 1 << 20 };
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_putc(&b, '"');
    for (int i = 0; i < N / 8; i++) hz_buf_puts(&b, "ab\\n\\u00e9");  /* 10 bytes in, 5 out */
    hz_buf_putc(&b, '"');
    json_object *o;
    assert_int_equal(hz_json_parse(b.data, b.len, &o), 0);
    assert_int_equal(json_object_get_string_len(o), N / 8 * 5);
    assert_memory_equal(json_object_get_string(o), "ab\n\xC3\xA9" "ab\n", 8);
    json_object_put(o);
    hz_buf_free(&b);

    /* a long duplicate key is shown shortened, at a character boundary */
    hz_buf_puts(&b, "{\"");
    for (int i = 0; i < 63; i++) hz_buf_putc(&b, 'k');
    hz_buf_puts(&b, "\xC3\xA9xyz\":1,\"");
    size_t at = b.len - 1;
    for (int i = 0; i < 63; i++) hz_buf_putc(&b, 'k');
    hz_buf_puts(&b, "\\u00e9xyz\":2}");
    char msg[256];
    snprintf(msg, sizeof(msg), "JSON error at byte %zu: duplicate key \"%.63s...\"", at,
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    expect_error(b.data, b.len, msg);
    hz_buf_free(&b);
}

/* ---- values -------------------------------------------------------------------------------- */

static void test_unicode_values(void **state) {
    (void)state;
    static const struct { const char *in; const char *bytes; size_t n; } cases[] = {
        {"\"\\u0041\"", "A", 1},
        {"\"\\u00e9\"", "\xC3\xA9", 2},
        {"\"\\u07FF\"", "\xDF\xBF", 2},
        {"\"\\u0800\"", "\xE0\xA0\x80", 3},
        {"\"\\uFFFD\"", "\xEF\xBF\xBD", 3},
        {"\"\\ud800\\udc00\"", "\xF0\x90\x80\x80", 4},
        {"\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF", 4},
        /* json-c 0.16's own tokener turns these into U+FFFD (found by fuzz_base_json) */
        {"\"\\ud836\\udc00\"", "\xF0\x9D\xA0\x80", 4},             /* U+1D800 */
        {"\"\\ud877\\udfff\"", "\xF0\xAD\xBF\xBF", 4},             /* U+2DFFF, CJK Ext. F */
        {"\"x\\u0000y\"", "x\0y", 3},
        {"\"\xF0\x9F\x98\x80\\ud83d\\ude00\"", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 8},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *o;
        assert_int_equal(hz_json_parse(cases[i].in, strlen(cases[i].in), &o), 0);
        assert_true(json_object_is_type(o, json_type_string));
        assert_int_equal(json_object_get_string_len(o), cases[i].n);
        assert_memory_equal(json_object_get_string(o), cases[i].bytes, cases[i].n);
        json_object_put(o);
    }
}

static void test_numbers(void **state) {
    (void)state;
    json_object *o;
    const char *doc = "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                      "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
                      "\"huge\":100000000000000000000000,\"frac\":1.5,\"exp\":1e3,"
                      "\"inf\":1e400,\"tiny\":1e-400,\"zero\":-0}";
    assert_int_equal(hz_json_parse(doc, strlen(doc), &o), 0);
    int64_t i;
    double d;
    assert_int_equal(hz_json_get_int(o, "min", true, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(hz_json_get_int(o, "max", true, &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(hz_json_get_int(o, "zero", true, &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(hz_json_get_int(o, "over", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"over\" is out of the int64 range");
    assert_int_equal(hz_json_get_int(o, "under", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"under\" is out of the int64 range");
    assert_int_equal(hz_json_get_int(o, "huge", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"huge\" is out of the int64 range");
    assert_int_equal(hz_json_get_int(o, "frac", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"frac\" must be an integer");
    assert_int_equal(hz_json_get_int(o, "exp", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"exp\" must be an integer");

    /* doubles accept integers, and big integers keep their approximate value */
    assert_int_equal(hz_json_get_double(o, "max", true, &d), 0);
    assert_true(d == 9223372036854775807.0);
    assert_int_equal(hz_json_get_double(o, "under", true, &d), 0);
    assert_true(d == -9223372036854775809.0);
    assert_int_equal(hz_json_get_double(o, "huge", true, &d), 0);
    assert_true(d == 1e23);
    assert_int_equal(hz_json_get_double(o, "frac", true, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(hz_json_get_double(o, "exp", true, &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(hz_json_get_double(o, "tiny", true, &d), 0);
    assert_true(d == 0.0);
    assert_int_equal(hz_json_get_double(o, "inf", true, &d), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"inf\" is out of the double range");
    json_object_put(o);

    /* a uint64 put there by code, not by the parser */
    o = json_object_new_object();
    json_object_object_add(o, "u", json_object_new_uint64(UINT64_MAX));
    assert_int_equal(hz_json_get_int(o, "u", true, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"u\" is out of the int64 range");
    assert_int_equal(hz_json_get_double(o, "u", true, &d), 0);
    assert_true(d == 18446744073709551615.0);
    json_object_put(o);
}

/*
 * Doubles are read with the C locale whatever the process's LC_NUMERIC says. Machines often have
 * no decimal-comma locale installed, so when none is, the test compiles one with localedef into
 * a temporary LOCPATH.
 */
static void test_numbers_ignore_locale(void **state) {
    (void)state;
    char dir[] = "/tmp/hz-json-locale-XXXXXX";
    bool made = false;
    const char *set = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (!set && mkdtemp(dir)) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
        made = true;
        if (system(cmd) != -1) {
            setenv("LOCPATH", dir, 1);
            set = setlocale(LC_NUMERIC, "de_DE.UTF-8");
        }
    }
    if (set) {
        /* the locale really does change strtod, so the check below means something */
        assert_true(strtod("0.75", NULL) != 0.75);
        json_object *o;
        assert_int_equal(hz_json_parse("{\"t\":0.75}", 10, &o), 0);
        double d;
        assert_int_equal(hz_json_get_double(o, "t", true, &d), 0);
        setlocale(LC_NUMERIC, "C");
        assert_true(d == 0.75);
        json_object_put(o);
    }
    setlocale(LC_NUMERIC, "C");
    unsetenv("LOCPATH");
    if (made) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
    if (!set) skip();  /* no de_DE locale and no localedef to make one */
}

/* ---- getters ------------------------------------------------------------------------------- */

static json_object *parse_ok(const char *s) {
    json_object *o;
    if (hz_json_parse(s, strlen(s), &o) != 0) fail_msg("%s: %s", s, hz_error_last());
    return o;
}

static void test_getters(void **state) {
    (void)state;
    json_object *o = parse_ok("{\"model\":\"m\xC3\xA9\",\"max_tokens\":256,\"temperature\":0.5,"
                              "\"stream\":true,\"meta\":{\"a\":1},\"messages\":[1,2],\"stop\":null,"
                              "\"seed\":7,\"nul\":\"a\\u0000b\"}");
    const char *s;
    int64_t i;
    double d;
    bool b;
    json_object *v;

    assert_int_equal(hz_json_get_string(o, "model", true, &s), 0);
    assert_string_equal(s, "m\xC3\xA9");
    assert_int_equal(hz_json_get_int(o, "max_tokens", true, &i), 0);
    assert_int_equal(i, 256);
    assert_int_equal(hz_json_get_double(o, "temperature", true, &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(hz_json_get_double(o, "seed", true, &d), 0);
    assert_true(d == 7.0);
    assert_int_equal(hz_json_get_bool(o, "stream", false, &b), 0);
    assert_true(b);
    assert_int_equal(hz_json_get_object(o, "meta", true, &v), 0);
    assert_int_equal(hz_json_get_int(v, "a", true, &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(hz_json_get_array(o, "messages", true, &v), 0);
    assert_int_equal(json_object_array_length(v), 2);

    /* wrong types name the key and the expected type */
    static const struct { int which; const char *key, *err; } wrong[] = {
        {0, "max_tokens", "\"max_tokens\" must be a string"},
        {1, "model", "\"model\" must be an integer"},
        {1, "temperature", "\"temperature\" must be an integer"},
        {1, "stream", "\"stream\" must be an integer"},
        {2, "model", "\"model\" must be a number"},
        {2, "stream", "\"stream\" must be a number"},
        {3, "seed", "\"seed\" must be a boolean"},
        {3, "model", "\"model\" must be a boolean"},
        {4, "messages", "\"messages\" must be an object"},
        {5, "meta", "\"meta\" must be an array"},
        {0, "nul", "\"nul\" must not contain a NUL character"},
        /* absent but required */
        {0, "absent", "missing required field \"absent\""},
        {1, "absent", "missing required field \"absent\""},
        {4, "absent", "missing required field \"absent\""},
        /* null counts as absent, so a required one is still an error */
        {0, "stop", "\"stop\" must be a string, not null"},
        {5, "stop", "\"stop\" must be an array, not null"},
    };
    for (size_t k = 0; k < sizeof(wrong) / sizeof(wrong[0]); k++) {
        int rc;
        switch (wrong[k].which) {
        case 0: rc = hz_json_get_string(o, wrong[k].key, true, &s); break;
        case 1: rc = hz_json_get_int(o, wrong[k].key, true, &i); break;
        case 2: rc = hz_json_get_double(o, wrong[k].key, true, &d); break;
        case 3: rc = hz_json_get_bool(o, wrong[k].key, true, &b); break;
        case 4: rc = hz_json_get_object(o, wrong[k].key, true, &v); break;
        default: rc = hz_json_get_array(o, wrong[k].key, true, &v); break;
        }
        if (rc != HZ_EINVAL) fail_msg("row %zu: rc %d", k, rc);
        if (strcmp(hz_error_last(), wrong[k].err) != 0)
            fail_msg("row %zu: got %s, want %s", k, hz_error_last(), wrong[k].err);
    }

    /* optional: absent or null is ENOTFOUND and leaves *out alone */
    i = 42;
    assert_int_equal(hz_json_get_int(o, "absent", false, &i), HZ_ENOTFOUND);
    assert_int_equal(i, 42);
    s = "unchanged";
    assert_int_equal(hz_json_get_string(o, "stop", false, &s), HZ_ENOTFOUND);
    assert_string_equal(s, "unchanged");
    /* but present with the wrong type is still an error */
    assert_int_equal(hz_json_get_string(o, "seed", false, &s), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "\"seed\" must be a string");

    /* not an object at all */
    json_object *arr = parse_ok("[1]");
    assert_int_equal(hz_json_get_int(arr, "x", false, &i), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "cannot read \"x\": the value is not a JSON object");
    assert_int_equal(hz_json_get_int(NULL, "x", false, &i), HZ_EINVAL);
    json_object_put(arr);
    json_object_put(o);
}

static void test_dump(void **state) {
    (void)state;
    json_object *o = parse_ok(" { \"url\" : \"https://a/b\" , \"ctl\" : \"\\u0001\\t\" , \"q\" : \"\\\"\" } ");
    size_t len;
    const char *d = hz_json_dump(o, &len);
    assert_string_equal(d, "{\"url\":\"https://a/b\",\"ctl\":\"\\u0001\\t\",\"q\":\"\\\"\"}");
    assert_int_equal(len, strlen(d));
    assert_non_null(hz_json_dump(o, NULL));
    json_object_put(o);

    /* null is a NULL object; it still dumps */
    assert_int_equal(hz_json_parse("null", 4, &o), 0);
    assert_null(o);
    assert_string_equal(hz_json_dump(o, &len), "null");
    assert_int_equal(len, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_big_array),
        cmocka_unit_test(test_big_object_and_late_duplicate),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_unicode_values),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_ignore_locale),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
