/*
 * libFuzzer target: hz_json_parse on arbitrary bytes.
 *
 * Besides "no crash, no sanitizer report", three oracles catch wrong answers:
 *  - a rejection is HZ_EPARSE with *out NULL and a message "JSON error at byte N: ..." where N
 *    lies within the input (or is its length, for a premature end);
 *  - an accepted document round-trips: its dump parses again, and dumping that gives the same
 *    bytes and an equal tree;
 *  - differential: json-c's own tokener in strict mode is looser than our parser, so it must
 *    accept every document we accept and build an equal tree, except where json-c is known to
 *    be wrong or lossy (see jsonc_differs).
 */
#include "hanzo/base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_base_json: %s\ninput (%zu bytes): %.*s\n", what, size,
            (int)(size > 512 ? 512 : size), (const char *)data);
    abort();
}

/*
 * json-c 0.16 decodes an escaped pair whose code point has bits 11-15 equal to 0xD800's (for
 * example "\ud836\udc00", U+1D800, or U+2D800 in CJK Extension F) as if it were a lone surrogate
 * and stores U+FFFD. Our parser keeps the character.
 */
static bool jsonc_mangles(const char *s, size_t n) {
    for (size_t i = 0; i + 3 < n; i++) {
        const unsigned char *u = (const unsigned char *)s + i;
        if ((u[0] & 0xF8) != 0xF0) continue;
        uint32_t cp = (uint32_t)(u[0] & 7) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
                      (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
        if ((cp & 0xF800) == 0xD800) return true;
    }
    return false;
}

/*
 * Where json-c's tree may rightly differ from ours: a double standing for an integer literal
 * outside int64 (json-c clamps those), or a string or key json-c mangles.
 */
static bool jsonc_differs(json_object *o) {
    switch (json_object_get_type(o)) {
    case json_type_double: {
        const char *s = json_object_get_string(o);
        s += *s == '-';
        return strspn(s, "0123456789") == strlen(s);
    }
    case json_type_string:
        return jsonc_mangles(json_object_get_string(o), (size_t)json_object_get_string_len(o));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (jsonc_differs(json_object_array_get_idx(o, i))) return true;
        return false;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            if (jsonc_mangles(key, strlen(key)) || jsonc_differs(val)) return true;
        }
        return false;
    }
    default:
        return false;
    }
}

/* json-c's strict tokener over the same bytes; *ok says whether it accepted them. */
static json_object *jsonc_parse(const uint8_t *data, size_t size, bool *ok) {
    json_tokener *tok = json_tokener_new_ex(HZ_JSON_MAX_DEPTH + 1);  /* it counts scalars too */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    if (json_tokener_get_error(tok) == json_tokener_continue)
        o = json_tokener_parse_ex(tok, "", 1);  /* end of input: finishes a trailing number */
    *ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_object *o = (json_object *)&o;
    int rc = hz_json_parse((const char *)data, size, &o);
    if (rc != 0) {
        if (rc != HZ_EPARSE) die("rejection is not HZ_EPARSE", data, size);
        if (o) die("*out not NULL after a rejection", data, size);
        unsigned long long at;
        if (sscanf(hz_error_last(), "JSON error at byte %llu: ", &at) != 1 || at > size)
            die(hz_error_last(), data, size);
        return 0;
    }

    size_t n1, n2;
    char *d1 = hz_strdup(hz_json_dump(o, &n1));
    if (strlen(d1) != n1) die("dump length disagrees with its text", data, size);
    json_object *o2 = NULL;
    if (hz_json_parse(d1, n1, &o2) != 0) die(hz_error_last(), data, size);
    const char *d2 = hz_json_dump(o2, &n2);
    if (n1 != n2 || memcmp(d1, d2, n1) != 0) die("dump of the dump differs", data, size);
    if (!json_object_equal(o, o2)) die("reparsed dump is not equal", data, size);

    bool ok;
    json_object *j = jsonc_parse(data, size, &ok);
    if (!ok) die("json-c rejects a document hz_json_parse accepts", data, size);
    if (!jsonc_differs(o) && !json_object_equal(o, j))
        die("json-c builds a different tree", data, size);

    json_object_put(j);
    json_object_put(o2);
    json_object_put(o);
    hz_free(d1);
    return 0;
}
