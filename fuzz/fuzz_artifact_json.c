/*
 * libFuzzer target: the .ai format's text parsers on arbitrary bytes. The first byte chooses:
 *   0  manifest.json (ai_manifest_parse)          2  a signatures/<key-id>.sig entry
 *   1  metadata.json (strict JSON + the schema)   3  a type spec (hz_ai_type_parse)
 * Oracles: a failure has a negative code and a message; an accepted manifest, rendered again and
 * reparsed, lists the same files with the same sizes and hashes, its paths pass the name rules
 * and are sorted; an accepted type spec's JSON value validates again and reparses to the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/internal.h"

static void die(const char *what) {
    fprintf(stderr, "fuzz_artifact_json: %s (last error: %s)\n", what, hz_error_last());
    abort();
}

static void manifest(const char *text, size_t len) {
    ai_manifest_t m;
    int rc = ai_manifest_parse(text, len, &m);
    if (rc) {
        if (rc >= 0 || !*hz_error_last()) die("bad failure");
        return;
    }
    hz_buf_t b = HZ_BUF_INIT;
    ai_manifest_render(&b, m.files, m.n);
    ai_manifest_t again;
    if (ai_manifest_parse(b.data, b.len, &again) != 0) die("a rendered manifest does not parse");
    if (again.n != m.n || again.total_size != m.total_size) die("round trip changed the manifest");
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.files[i].path, again.files[i].path) || m.files[i].size != again.files[i].size ||
            strcmp(m.files[i].hash, again.files[i].hash) || m.files[i].has_csize != again.files[i].has_csize ||
            (m.files[i].has_csize && m.files[i].csize != again.files[i].csize))
            die("round trip changed a file");
        if (ai_name_check(m.files[i].path, strlen(m.files[i].path), "f") != 0) die("accepted path breaks the rules");
        if (i && strcmp(m.files[i - 1].path, m.files[i].path) >= 0) die("not sorted");
    }
    ai_manifest_free(&again);
    hz_buf_free(&b);
    ai_manifest_free(&m);
}

static void metadata(const char *text, size_t len) {
    json_object *o = NULL;
    if (hz_json_parse(text, len, &o) != 0) return;
    int rc = hz_ai_metadata_validate(o);
    if (rc && (rc >= 0 || !*hz_error_last())) die("bad failure");
    if (!rc) {
        hz_buf_t b = HZ_BUF_INIT;
        ai_json_pretty(&b, o);
        json_object *again = NULL;
        if (hz_json_parse(b.data, b.len, &again) != 0 || hz_ai_metadata_validate(again) != 0) die("pretty output does not validate");
        json_object_put(again);
        hz_buf_free(&b);
    }
    json_object_put(o);
}

static void signature(const char *text, size_t len) {
    ai_sigentry_t s;
    memset(&s, 0, sizeof(s));
    int rc = ai_sig_parse(&s, text, len);
    if (rc && (rc >= 0 || !*hz_error_last())) die("bad failure");
    ai_sig_free(&s);
}

static void type_spec(const char *text) {
    json_object *v = NULL;
    int rc = hz_ai_type_parse(text, &v);
    if (rc) {
        if (v) die("value set on failure");
        return;
    }
    if (ai_type_validate(v, "t") != 0) die("accepted type does not validate");
    const char *dump = hz_json_dump(v, NULL);
    json_object *w = NULL;
    if (hz_ai_type_parse(dump, &w) != 0 || strcmp(hz_json_dump(w, NULL), dump) != 0) die("type JSON does not round-trip");
    json_object_put(w);
    json_object_put(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = hz_strndup((const char *)data + 1, size - 1);
    size_t len = size - 1;
    switch (data[0] & 3) {
    case 0: manifest((const char *)data + 1, len); break;
    case 1: metadata((const char *)data + 1, len); break;
    case 2: signature((const char *)data + 1, len); break;
    case 3: type_spec(text); break;
    }
    hz_free(text);
    return 0;
}
