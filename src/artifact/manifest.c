/*
 * manifest.json: {version, files: {path: {size, hash, compressed_size}}, total_size, file_count}.
 * Parsing is strict JSON (duplicate keys, which would let two readers see different manifests, are
 * a parse error) followed by the schema and its arithmetic: every path passes the archive name
 * rules and is not one of the format's own entries, every hash is 64 lowercase hex digits,
 * total_size is the sum of the sizes and file_count their number. The reference writes
 * compressed_size as null; we write the entry's size in the archive, and accept both.
 */
#include "artifact/internal.h"

#include <stdlib.h>
#include <string.h>

static int bad(const char *fmt, const char *a) {
    char msg[600];
    snprintf(msg, sizeof(msg), fmt, a);
    return ai_fail(HZ_AI_ERR_MANIFEST, HZ_EPARSE, "manifest.json: %s", msg);
}

static int cmp_mfile(const void *a, const void *b) {
    return ai_name_cmp(((const ai_mfile_t *)a)->path, ((const ai_mfile_t *)b)->path);
}

void ai_manifest_free(ai_manifest_t *m) {
    for (size_t i = 0; i < m->n; i++) hz_free(m->files[i].path);
    hz_free(m->files);
    memset(m, 0, sizeof(*m));
}

static int parse_entry(const char *path, json_object *v, ai_mfile_t *f) {
    json_object *x;
    f->path = hz_strdup(path);
    if (!json_object_is_type(v, json_type_object)) return bad("files[\"%s\"]: expected an object", path);
    if (!json_object_object_get_ex(v, "size", &x) || !ai_json_uint(x, UINT64_MAX, &f->size))
        return bad("files[\"%s\"].size: expected a non-negative integer", path);
    if (!json_object_object_get_ex(v, "hash", &x) || !json_object_is_type(x, json_type_string) ||
        !ai_hex64_valid(json_object_get_string(x)))
        return bad("files[\"%s\"].hash: expected 64 lowercase hex digits (BLAKE3)", path);
    memcpy(f->hash, json_object_get_string(x), HZ_AI_HASH_HEX_LEN + 1);
    if (json_object_object_get_ex(v, "compressed_size", &x) && x) {
        if (!ai_json_uint(x, UINT64_MAX, &f->csize))
            return bad("files[\"%s\"].compressed_size: expected a non-negative integer or null", path);
        f->has_csize = true;
    }
    return 0;
}

int ai_manifest_parse(const char *text, size_t len, ai_manifest_t *m) {
    memset(m, 0, sizeof(*m));
    json_object *root = NULL, *v, *files;
    int rc = hz_json_parse(text, len, &root);
    if (rc) return bad("%s", hz_error_last());
    if (!root || !json_object_is_type(root, json_type_object)) { rc = bad("expected an object%s", ""); goto out; }
    uint64_t version, total, count;
    if (!json_object_object_get_ex(root, "version", &v) || !ai_json_uint(v, UINT32_MAX, &version)) {
        rc = bad("version: expected a non-negative integer%s", "");
        goto out;
    }
    if (version > HZ_AI_FORMAT_VERSION) {
        rc = ai_fail(HZ_AI_ERR_VERSION, HZ_EVERSION, "manifest.json: version %llu is newer than this reader (%d)",
                     (unsigned long long)version, HZ_AI_FORMAT_VERSION);
        goto out;
    }
    if (version == 0) { rc = bad("version 0 is not a valid version%s", ""); goto out; }
    m->version = (uint32_t)version;
    if (!json_object_object_get_ex(root, "files", &files) || !json_object_is_type(files, json_type_object)) {
        rc = bad("files: expected an object%s", "");
        goto out;
    }
    size_t n = (size_t)json_object_object_length(files);
    m->files = hz_calloc(n ? n : 1, sizeof(ai_mfile_t));
    uint64_t sum = 0;
    json_object_object_foreach(files, path, fv) {
        ai_mfile_t *f = &m->files[m->n++];
        char what[64];
        snprintf(what, sizeof(what), "manifest.json path");
        if ((rc = ai_name_check(path, strlen(path), what))) goto out;
        if (ai_name_is_reserved(path) || ai_name_is_signature_dir(path)) {
            rc = bad("files: \"%s\" is reserved for the format itself", path);
            goto out;
        }
        if ((rc = parse_entry(path, fv, f))) goto out;
        if (f->size > UINT64_MAX - sum) { rc = bad("files: sizes overflow 64 bits%s", ""); goto out; }
        sum += f->size;
    }
    if (!json_object_object_get_ex(root, "total_size", &v) || !ai_json_uint(v, UINT64_MAX, &total)) {
        rc = bad("total_size: expected a non-negative integer%s", "");
        goto out;
    }
    if (total != sum) {
        char msg[128];
        snprintf(msg, sizeof(msg), "total_size %llu but the files add up to %llu", (unsigned long long)total, (unsigned long long)sum);
        rc = bad("%s", msg);
        goto out;
    }
    if (!json_object_object_get_ex(root, "file_count", &v) || !ai_json_uint(v, UINT64_MAX, &count)) {
        rc = bad("file_count: expected a non-negative integer%s", "");
        goto out;
    }
    if (count != m->n) {
        char msg[128];
        snprintf(msg, sizeof(msg), "file_count %llu but %zu files are listed", (unsigned long long)count, m->n);
        rc = bad("%s", msg);
        goto out;
    }
    m->total_size = sum;
    qsort(m->files, m->n, sizeof(ai_mfile_t), cmp_mfile);
out:
    json_object_put(root);
    if (rc) ai_manifest_free(m);
    return rc;
}

const ai_mfile_t *ai_manifest_find(const ai_manifest_t *m, const char *path) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ai_name_cmp(m->files[mid].path, path);
        if (c == 0) return &m->files[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

void ai_manifest_render(hz_buf_t *out, const ai_mfile_t *files, size_t n) {
    uint64_t total = 0;
    hz_buf_printf(out, "{\n  \"version\": %d,\n  \"files\": ", HZ_AI_FORMAT_VERSION);
    if (n == 0) hz_buf_puts(out, "{}");
    else hz_buf_puts(out, "{\n");
    for (size_t i = 0; i < n; i++) {
        const ai_mfile_t *f = &files[i];
        hz_buf_puts(out, "    ");
        hz_buf_put_json_string(out, f->path, strlen(f->path));
        hz_buf_printf(out, ": {\n      \"size\": %llu,\n      \"hash\": \"%s\",\n      \"compressed_size\": ",
                      (unsigned long long)f->size, f->hash);
        if (f->has_csize) hz_buf_printf(out, "%llu", (unsigned long long)f->csize);
        else hz_buf_puts(out, "null");
        hz_buf_puts(out, i + 1 < n ? "\n    },\n" : "\n    }\n");
        total += f->size;
    }
    if (n) hz_buf_puts(out, "  }");
    hz_buf_printf(out, ",\n  \"total_size\": %llu,\n  \"file_count\": %zu\n}", (unsigned long long)total, n);
}
