/*
 * Helpers shared by the crypto unit tests: find and read the vector files under
 * $HZ_SOURCE_DIR/tests/vectors (decompressing .xz through `xz -dc`), parse them as JSON, and
 * turn hex strings into bytes. Header-only because each tests/unit/test_*.c is its own program.
 */
#ifndef HZ_TEST_CRYPTO_UTIL_H
#define HZ_TEST_CRYPTO_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/base.h"
#include "hanzo/crypto.h"

/* The whole content of tests/vectors/<rel> (NUL-terminated, hz_free it); fails the test if the
 * file is missing, so a KAT can never pass by not finding its vectors. */
static inline char *tv_read(const char *rel, size_t *len_out) {
    const char *src = getenv("HZ_SOURCE_DIR");
    if (!src) fail_msg("HZ_SOURCE_DIR is not set (run the tests through ctest)");
    char *path = hz_sprintf("%s/tests/vectors/%s", src, rel);
    FILE *f;
    bool piped = hz_str_ends_with(path, ".xz");
    if (piped) {
        char *cmd = hz_sprintf("xz -dc '%s'", path);
        f = popen(cmd, "r");
        hz_free(cmd);
    } else {
        f = fopen(path, "rb");
    }
    if (!f) fail_msg("cannot open %s", path);
    hz_buf_t b = HZ_BUF_INIT;
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) hz_buf_append(&b, chunk, n);
    int status = piped ? pclose(f) : fclose(f);
    if (status != 0 || b.len == 0) fail_msg("reading %s failed (status %d, %zu bytes)", path, status, b.len);
    hz_free(path);
    return hz_buf_detach(&b, len_out);
}

static inline json_object *tv_json(const char *rel) {
    size_t len;
    char *text = tv_read(rel, &len);
    json_object *obj = NULL;
    if (hz_json_parse(text, len, &obj) != 0) fail_msg("%s: %s", rel, hz_error_last());
    hz_free(text);
    return obj;
}

/* Decode a hex string of any even length into a new buffer (hz_free it). */
static inline uint8_t *tv_unhex(const char *hex, size_t *len_out) {
    size_t n = strlen(hex) / 2;
    uint8_t *out = hz_malloc(n ? n : 1);
    if (strlen(hex) % 2 || hz_hex_decode(hex, out, n) != 0) fail_msg("bad hex in vector: %.40s", hex);
    *len_out = n;
    return out;
}

/* Member `key` of obj as bytes (hex-decoded). */
static inline uint8_t *tv_field(json_object *obj, const char *key, size_t *len_out) {
    const char *hex;
    if (hz_json_get_string(obj, key, true, &hex) != 0) fail_msg("vector lacks \"%s\": %s", key, hz_error_last());
    return tv_unhex(hex, len_out);
}

static inline const char *tv_str(json_object *obj, const char *key) {
    const char *s;
    if (hz_json_get_string(obj, key, true, &s) != 0) fail_msg("vector lacks \"%s\"", key);
    return s;
}

static inline int64_t tv_int(json_object *obj, const char *key) {
    int64_t v;
    if (hz_json_get_int(obj, key, true, &v) != 0) fail_msg("vector lacks \"%s\"", key);
    return v;
}

static inline bool tv_bool(json_object *obj, const char *key) {
    bool v;
    if (hz_json_get_bool(obj, key, true, &v) != 0) fail_msg("vector lacks \"%s\"", key);
    return v;
}

/* ACVP: expectedResults.json indexed by tcId, so prompts and answers can be joined. */
typedef struct {
    json_object *root;
    json_object **by_tc;
    size_t max_tc;
} tv_answers_t;

static inline void tv_answers_load(tv_answers_t *a, const char *rel) {
    a->root = tv_json(rel);
    json_object *groups;
    if (hz_json_get_array(a->root, "testGroups", true, &groups) != 0) fail_msg("%s: no testGroups", rel);
    a->max_tc = 0;
    a->by_tc = NULL;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *tests;
        if (hz_json_get_array(json_object_array_get_idx(groups, g), "tests", true, &tests) != 0) fail_msg("%s: no tests", rel);
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t);
            size_t id = (size_t)tv_int(tc, "tcId");
            if (id >= a->max_tc) {
                size_t n = id + 1024;
                a->by_tc = hz_realloc(a->by_tc, n * sizeof(*a->by_tc));
                memset(a->by_tc + a->max_tc, 0, (n - a->max_tc) * sizeof(*a->by_tc));
                a->max_tc = n;
            }
            a->by_tc[id] = tc;
        }
    }
}

static inline json_object *tv_answer(const tv_answers_t *a, json_object *prompt_tc) {
    size_t id = (size_t)tv_int(prompt_tc, "tcId");
    if (id >= a->max_tc || !a->by_tc[id]) fail_msg("no expected result for tcId %zu", id);
    return a->by_tc[id];
}

static inline void tv_answers_free(tv_answers_t *a) {
    json_object_put(a->root);
    hz_free(a->by_tc);
}

/* Compare bytes; on mismatch fail with the test case named. */
static inline void tv_expect_bytes(const char *what, int64_t tc, const uint8_t *got, size_t got_len,
                            const uint8_t *want, size_t want_len) {
    if (got_len != want_len) fail_msg("%s tcId %lld: length %zu, expected %zu", what, (long long)tc, got_len, want_len);
    if (memcmp(got, want, want_len) != 0) {
        size_t i = 0;
        while (got[i] == want[i]) i++;
        fail_msg("%s tcId %lld: differs from the expected value at byte %zu", what, (long long)tc, i);
    }
}

#endif
