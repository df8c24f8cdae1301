/*
 * JSON helpers for the format files. manifest.json and metadata.json are written in the layout
 * serde_json's pretty printer gives the reference implementation - two-space indent, "key": value,
 * empty containers as {} and [] - so files from either side look alike; readers never depend on
 * layout. Scalars are rendered by json-c (doubles keep a ".0" when integral, as serde does for
 * f32 fields such as a LoRA alpha).
 */
#include "artifact/internal.h"

#include <string.h>

static void indent(hz_buf_t *out, int depth) {
    for (int i = 0; i < depth; i++) hz_buf_puts(out, "  ");
}

static void pretty(hz_buf_t *out, json_object *o, int depth) {
    switch (json_object_get_type(o)) {
    case json_type_object: {
        if (json_object_object_length(o) == 0) { hz_buf_puts(out, "{}"); return; }
        hz_buf_puts(out, "{\n");
        int i = 0, n = json_object_object_length(o);
        json_object_object_foreach(o, k, v) {
            indent(out, depth + 1);
            hz_buf_put_json_string(out, k, strlen(k));
            hz_buf_puts(out, ": ");
            pretty(out, v, depth + 1);
            hz_buf_puts(out, ++i < n ? ",\n" : "\n");
        }
        indent(out, depth);
        hz_buf_putc(out, '}');
        return;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        if (n == 0) { hz_buf_puts(out, "[]"); return; }
        hz_buf_puts(out, "[\n");
        for (size_t i = 0; i < n; i++) {
            indent(out, depth + 1);
            pretty(out, json_object_array_get_idx(o, i), depth + 1);
            hz_buf_puts(out, i + 1 < n ? ",\n" : "\n");
        }
        indent(out, depth);
        hz_buf_putc(out, ']');
        return;
    }
    case json_type_string:
        hz_buf_put_json_string(out, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        return;
    case json_type_null:
        hz_buf_puts(out, "null");
        return;
    default:
        hz_buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return;
    }
}

void ai_json_pretty(hz_buf_t *out, json_object *obj) {
    if (!obj) { hz_buf_puts(out, "null"); return; }
    pretty(out, obj, 0);
}

bool ai_json_uint(json_object *v, uint64_t max, uint64_t *out) {
    if (!v || !json_object_is_type(v, json_type_int)) return false;
    /* json-c keeps integers above INT64_MAX as uint64 (get_int64 then clamps to INT64_MAX) and
     * negative ones as int64 (get_uint64 then gives 0), so the sign comes from one view and the
     * value from the other. */
    if (json_object_get_int64(v) < 0) return false;
    uint64_t val = json_object_get_uint64(v);
    if (val > max) return false;
    if (out) *out = val;
    return true;
}

bool ai_hex64_valid(const char *s) {
    if (!s || strlen(s) != HZ_AI_HASH_HEX_LEN) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}
