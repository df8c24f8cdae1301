/*
 * The local store: a folder addressed by content hash.
 *
 *   <root>/<hh>/<hash>.ai     the archive (hh = the hash's first two hex digits)
 *   <root>/<hh>/<hash>.json   its summary: hz_ai_info_to_json plus archive_blake3 and cid
 *   <root>/tmp/               additions in progress
 *
 * An addition copies (or moves) the archive into tmp/ first and verifies that copy, never the
 * source, so what was checked is what gets stored even if the source changes meanwhile. Then the
 * archive is renamed into place, then its summary; listing reads summaries only, so a reader sees
 * either nothing or a complete, verified archive. The store keeps no state in memory besides its
 * root, so any number of threads and processes can share it; two additions of the same content
 * race harmlessly to rename identical bytes.
 */
#include "artifact/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hz_ai_store {
    char *root;
};

int hz_ai_store_open(const char *root, hz_ai_store_t **out) {
    *out = NULL;
    char *tmp = hz_sprintf("%s/tmp", root);
    int rc = ai_mkdirs(tmp, 0755);
    hz_free(tmp);
    if (rc) return hz_error_wrap(rc, "artifact store");
    hz_ai_store_t *s = hz_calloc(1, sizeof(*s));
    s->root = hz_strdup(root);
    *out = s;
    return 0;
}

void hz_ai_store_close(hz_ai_store_t *store) {
    if (!store) return;
    hz_free(store->root);
    hz_free(store);
}

const char *hz_ai_store_root(const hz_ai_store_t *store) { return store->root; }

char *hz_ai_store_tmp_path(hz_ai_store_t *store) {
    char id[HZ_UUID_STRLEN + 1];
    hz_uuid_v4(id);
    return hz_sprintf("%s/tmp/%s.part", store->root, id);
}

static char *obj_path(const hz_ai_store_t *s, const char *hash, const char *ext) {
    return hz_sprintf("%s/%.2s/%s.%s", s->root, hash, hash, ext);
}

static int write_atomic(const char *path, const char *text, size_t len) {
    char *tmp = hz_sprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? hz_error_errno(HZ_EIO, errno, "%s", tmp) : ai_write_all(fd, text, len, tmp);
    if (fd >= 0) {
        if (!rc && fsync(fd) != 0) rc = hz_error_errno(HZ_EIO, errno, "fsync %s", tmp);
        close(fd);
    }
    if (!rc && rename(tmp, path) != 0) rc = hz_error_errno(HZ_EIO, errno, "rename %s", tmp);
    if (rc) unlink(tmp);
    hz_free(tmp);
    return rc;
}

int hz_ai_store_add(hz_ai_store_t *s, const char *path, bool move, const hz_ai_read_opts_t *opts,
                    char hash_out[HZ_AI_HASH_HEX_LEN + 1], bool *existed) {
    ai_reason_clear();
    if (existed) *existed = false;
    char *tmp = hz_ai_store_tmp_path(s);
    int rc = 0;
    if (!(move && rename(path, tmp) == 0)) rc = ai_copy_file(path, tmp);
    if (rc) { hz_free(tmp); return rc; }
    hz_ai_info_t *info = NULL;
    char *ai = NULL, *js = NULL;
    if ((rc = hz_ai_verify(tmp, opts, &info))) goto out;
    uint8_t ab[32];
    if ((rc = ai_file_blake3(tmp, ab))) goto out;
    ai = obj_path(s, info->content_hash, "ai");
    js = obj_path(s, info->content_hash, "json");
    snprintf(hash_out, HZ_AI_HASH_HEX_LEN + 1, "%s", info->content_hash);
    struct stat st;
    if (stat(ai, &st) == 0 && stat(js, &st) == 0) {
        if (existed) *existed = true;
        goto out;
    }
    char *dir = hz_sprintf("%s/%.2s", s->root, info->content_hash);
    rc = ai_mkdirs(dir, 0755);
    hz_free(dir);
    if (rc) goto out;
    json_object *j = hz_ai_info_to_json(info);
    char hex[65], cid[80];
    hz_hex_encode(ab, 32, hex);
    hz_ai_cid_from_blake3(ab, cid, sizeof(cid));
    json_object_object_add(j, "archive_blake3", json_object_new_string(hex));
    json_object_object_add(j, "cid", json_object_new_string(cid));
    json_object_object_add(j, "added_at", json_object_new_int64(hz_time_now_ms()));
    /* Model and QuantizedModel artifacts with GGUF weights can be served by llama.cpp (via
     * hz_ai_store_model_path): say so, so a model catalogue need not open every archive. */
    const char *type = info->type_name ? info->type_name : "";
    for (size_t i = 0; i < info->nfiles && (!strcmp(type, "Model") || !strcmp(type, "QuantizedModel")); i++)
        if (hz_str_starts_with(info->files[i].path, "data/weights/") && hz_str_ends_with(info->files[i].path, ".gguf")) {
            json_object_object_add(j, "gguf", json_object_new_string(info->files[i].path));
            break;
        }
    if (rename(tmp, ai) != 0) rc = hz_error_errno(HZ_EIO, errno, "rename into %s", ai);
    size_t len;
    const char *text = hz_json_dump(j, &len);
    if (!rc) rc = write_atomic(js, text, len);
    json_object_put(j);
out:
    unlink(tmp); /* gone after a successful rename; removed otherwise */
    hz_free(tmp);
    hz_free(ai);
    hz_free(js);
    hz_ai_info_free(info);
    return rc;
}

static int check_hash(const char *hash) {
    if (!ai_hex64_valid(hash)) return hz_error_set(HZ_EINVAL, "\"%s\" is not a content hash (64 lowercase hex digits)", hash);
    return 0;
}

int hz_ai_store_path(hz_ai_store_t *s, const char *hash, char **path_out) {
    *path_out = NULL;
    int rc = check_hash(hash);
    if (rc) return rc;
    char *p = obj_path(s, hash, "ai");
    struct stat st;
    if (stat(p, &st) != 0) {
        hz_free(p);
        return hz_error_set(HZ_ENOTFOUND, "no artifact %s in the store", hash);
    }
    *path_out = p;
    return 0;
}

int hz_ai_store_get(hz_ai_store_t *s, const char *hash, json_object **out) {
    *out = NULL;
    int rc = check_hash(hash);
    if (rc) return rc;
    char *p = obj_path(s, hash, "json"), *text;
    size_t len;
    rc = ai_read_file(p, (uint64_t)64 << 20, &text, &len);
    hz_free(p);
    if (rc == HZ_ENOTFOUND) return hz_error_set(HZ_ENOTFOUND, "no artifact %s in the store", hash);
    if (rc) return rc;
    rc = hz_json_parse(text, len, out);
    hz_free(text);
    return rc;
}

static int cmp_summary(const void *a, const void *b) {
    json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b, *hx, *hy;
    json_object_object_get_ex(x, "content_hash", &hx);
    json_object_object_get_ex(y, "content_hash", &hy);
    return strcmp(json_object_get_string(hx), json_object_get_string(hy));
}

int hz_ai_store_list(hz_ai_store_t *s, json_object **out) {
    *out = json_object_new_array();
    DIR *d = opendir(s->root);
    if (!d) return hz_error_errno(HZ_EIO, errno, "%s", s->root);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n2 = de->d_name;
        bool hex2 = strlen(n2) == 2 && strchr("0123456789abcdef", n2[0]) && strchr("0123456789abcdef", n2[1]);
        if (!hex2) continue;
        char *sub = hz_sprintf("%s/%s", s->root, de->d_name);
        DIR *e = opendir(sub);
        struct dirent *fe;
        while (e && (fe = readdir(e))) {
            size_t n = strlen(fe->d_name);
            if (n != HZ_AI_HASH_HEX_LEN + 5 || !hz_str_ends_with(fe->d_name, ".json")) continue;
            char hash[HZ_AI_HASH_HEX_LEN + 1];
            memcpy(hash, fe->d_name, HZ_AI_HASH_HEX_LEN);
            hash[HZ_AI_HASH_HEX_LEN] = '\0';
            json_object *j;
            if (ai_hex64_valid(hash) && hz_ai_store_get(s, hash, &j) == 0 && j) json_object_array_add(*out, j);
        }
        if (e) closedir(e);
        hz_free(sub);
    }
    closedir(d);
    json_object_array_sort(*out, cmp_summary);
    return 0;
}

int hz_ai_store_delete(hz_ai_store_t *s, const char *hash) {
    int rc = check_hash(hash);
    if (rc) return rc;
    char *js = obj_path(s, hash, "json"), *ai = obj_path(s, hash, "ai"), *models = obj_path(s, hash, "models");
    bool had = unlink(js) == 0;
    had |= unlink(ai) == 0;
    ai_rmtree(models);
    hz_free(models);
    hz_free(js);
    hz_free(ai);
    return had ? 0 : hz_error_set(HZ_ENOTFOUND, "no artifact %s in the store", hash);
}

/* Copy entry e out of the open archive into dst, checking its BLAKE3 against the manifest. */
static int extract_checked(ai_reader_t *r, size_t idx, const char *dst) {
    const ai_zentry_t *e = r->data[idx];
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", dst);
    ai_zstream_t zs;
    int rc = ai_zstream_open(&r->zip, e, &zs);
    hz_blake3_hasher_t h;
    hz_blake3_init(&h);
    uint8_t *buf = hz_malloc(AI_HASH_BUF);
    size_t got;
    while (!rc && !(rc = ai_zstream_read(&zs, buf, AI_HASH_BUF, &got)) && got > 0) {
        hz_blake3_update(&h, buf, got);
        rc = ai_write_all(fd, buf, got, dst);
    }
    ai_zstream_close(&zs);
    hz_free(buf);
    if (!rc) {
        uint8_t d[32];
        char hex[HZ_AI_HASH_HEX_LEN + 1];
        hz_blake3_final(&h, d, 32);
        hz_hex_encode(d, 32, hex);
        if (strcmp(hex, r->manifest.files[idx].hash) != 0)
            rc = ai_fail(HZ_AI_ERR_HASH_MISMATCH, HZ_ECRYPTO, "\"%s\": BLAKE3 is %s, manifest.json says %s", e->name, hex,
                         r->manifest.files[idx].hash);
    }
    if (!rc && fsync(fd) != 0) rc = hz_error_errno(HZ_EIO, errno, "fsync %s", dst);
    close(fd);
    if (rc) unlink(dst);
    return rc;
}

int hz_ai_store_model_path(hz_ai_store_t *s, const char *hash, char **path_out) {
    ai_reason_clear();
    *path_out = NULL;
    char *ai;
    int rc = hz_ai_store_path(s, hash, &ai);
    if (rc) return rc;
    ai_reader_t r;
    if ((rc = ai_reader_open(&r, ai, NULL))) goto out;
    json_object *t;
    json_object_object_get_ex(r.metadata, "artifact_type", &t);
    const char *type = ai_type_name(t);
    size_t idx = SIZE_MAX;
    if (type && (!strcmp(type, "Model") || !strcmp(type, "QuantizedModel")))
        for (size_t i = 0; i < r.manifest.n && idx == SIZE_MAX; i++)
            if (hz_str_starts_with(r.manifest.files[i].path, "data/weights/") && hz_str_ends_with(r.manifest.files[i].path, ".gguf"))
                idx = i;
    if (idx == SIZE_MAX) {
        rc = hz_error_set(HZ_ENOTFOUND, "artifact %s is not a Model or QuantizedModel with GGUF weights", hash);
        goto out;
    }
    const char *base = strrchr(r.manifest.files[idx].path, '/') + 1;
    char *dir = hz_sprintf("%s/%.2s/%s.models", s->root, hash, hash);
    char *final = hz_sprintf("%s/%s", dir, base);
    struct stat st;
    if (stat(final, &st) == 0 && (uint64_t)st.st_size == r.manifest.files[idx].size) {
        *path_out = final;
        final = NULL;
    } else if (!(rc = ai_mkdirs(dir, 0755))) {
        char *tmp = hz_ai_store_tmp_path(s);
        rc = extract_checked(&r, idx, tmp);
        if (!rc && rename(tmp, final) != 0) rc = hz_error_errno(HZ_EIO, errno, "rename into %s", final);
        if (rc) unlink(tmp);
        hz_free(tmp);
        if (!rc) { *path_out = final; final = NULL; }
    }
    hz_free(final);
    hz_free(dir);
out:
    ai_reader_close(&r);
    hz_free(ai);
    return rc;
}
