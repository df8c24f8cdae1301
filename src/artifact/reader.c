/*
 * Opening an archive: everything that can be checked without reading data files. Order matters
 * for the quality of the error: the ZIP structure first (a traversal name is reported as such even
 * if the manifest is also broken), then `_format` (so "not an .ai file" wins over "bad JSON"),
 * then manifest.json and metadata.json, then the manifest against the entries. The result holds
 * the data entries in content-hash order, ready for verify.c's single pass.
 */
#include "artifact/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_format(ai_reader_t *r) {
    const ai_zentry_t *e = ai_zip_find(&r->zip, AI_NAME_FORMAT);
    if (!e) return ai_fail(HZ_AI_ERR_BAD_FORMAT, HZ_EPARSE, "no _format entry: not an .ai archive");
    if (e->usize != AI_FORMAT_SIZE)
        return ai_fail(HZ_AI_ERR_BAD_FORMAT, HZ_EPARSE, "_format holds %llu bytes, expected %d (\"HAIF\" + u32 version)",
                       (unsigned long long)e->usize, AI_FORMAT_SIZE);
    char *buf;
    size_t len;
    int rc = ai_zip_read_small(&r->zip, e, AI_FORMAT_SIZE, &buf, &len);
    if (rc) return rc;
    const uint8_t *b = (const uint8_t *)buf;
    if (memcmp(b, HZ_AI_MAGIC, 4) != 0) {
        rc = ai_fail(HZ_AI_ERR_BAD_FORMAT, HZ_EPARSE, "_format magic is %02x %02x %02x %02x, expected \"HAIF\"", b[0], b[1], b[2], b[3]);
    } else {
        uint32_t v = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
        if (v > HZ_AI_FORMAT_VERSION)
            rc = ai_fail(HZ_AI_ERR_VERSION, HZ_EVERSION, "format version %u is newer than this reader (%d)", v, HZ_AI_FORMAT_VERSION);
        else if (v == 0)
            rc = ai_fail(HZ_AI_ERR_BAD_FORMAT, HZ_EPARSE, "format version 0 is not a valid version");
        r->format_version = v;
    }
    hz_free(buf);
    return rc;
}

static int read_json_entries(ai_reader_t *r) {
    const ai_zentry_t *e = ai_zip_find(&r->zip, AI_NAME_MANIFEST);
    if (!e) return ai_fail(HZ_AI_ERR_MANIFEST, HZ_EPARSE, "no manifest.json entry");
    int rc = ai_zip_read_small(&r->zip, e, r->lim.max_json_bytes, &r->manifest_text, &r->manifest_len);
    if (rc) return hz_error_wrap(rc, "manifest.json");
    if ((rc = ai_manifest_parse(r->manifest_text, r->manifest_len, &r->manifest))) return rc;

    e = ai_zip_find(&r->zip, AI_NAME_METADATA);
    if (!e) return ai_fail(HZ_AI_ERR_METADATA, HZ_EPARSE, "no metadata.json entry");
    if ((rc = ai_zip_read_small(&r->zip, e, r->lim.max_json_bytes, &r->metadata_text, &r->metadata_len)))
        return hz_error_wrap(rc, "metadata.json");
    if ((rc = hz_json_parse(r->metadata_text, r->metadata_len, &r->metadata)))
        return ai_fail(HZ_AI_ERR_METADATA, HZ_EPARSE, "metadata.json: %s", hz_error_last());
    if ((rc = hz_ai_metadata_validate(r->metadata))) return rc;
    json_object *v;
    uint64_t size_bytes = 0;
    json_object_object_get_ex(r->metadata, "size_bytes", &v);
    ai_json_uint(v, UINT64_MAX, &size_bytes);
    if (size_bytes != r->manifest.total_size)
        return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "metadata.json size_bytes %llu but manifest.json total_size %llu",
                       (unsigned long long)size_bytes, (unsigned long long)r->manifest.total_size);
    return 0;
}

/* "signatures/<32 lowercase hex>.sig" */
static bool sig_name_ok(const char *name) {
    const char *id = name + strlen(AI_SIG_DIR);
    if (strlen(id) != HZ_AI_KEY_ID_LEN + 4 || strcmp(id + HZ_AI_KEY_ID_LEN, ".sig") != 0) return false;
    for (int i = 0; i < HZ_AI_KEY_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return true;
}

static int cross_check(ai_reader_t *r) {
    ai_zip_t *z = &r->zip;
    size_t nsig = 0;
    for (size_t i = 0; i < z->n; i++) {
        const ai_zentry_t *e = &z->entries[i];
        if (ai_name_is_reserved(e->name)) continue;
        if (ai_name_is_signature_dir(e->name)) {
            if (!sig_name_ok(e->name))
                return ai_fail(HZ_AI_ERR_SIGNATURE, HZ_EPARSE, "entry \"%s\": signatures/ holds only <key-id>.sig files", e->name);
            nsig++;
            continue;
        }
        if (!ai_manifest_find(&r->manifest, e->name))
            return ai_fail(HZ_AI_ERR_UNLISTED, HZ_EPARSE, "entry %u \"%s\" is not listed in manifest.json", e->index, e->name);
    }
    r->data = hz_calloc(r->manifest.n ? r->manifest.n : 1, sizeof(*r->data));
    for (size_t i = 0; i < r->manifest.n; i++) {
        const ai_mfile_t *f = &r->manifest.files[i];
        const ai_zentry_t *e = ai_zip_find(z, f->path);
        if (!e) return ai_fail(HZ_AI_ERR_MISSING_FILE, HZ_EPARSE, "manifest.json lists \"%s\" but the archive has no such entry", f->path);
        if (e->usize != f->size)
            return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "\"%s\": manifest size %llu, ZIP header size %llu", f->path,
                           (unsigned long long)f->size, (unsigned long long)e->usize);
        if (f->has_csize && f->csize != e->csize)
            return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "\"%s\": manifest compressed_size %llu, ZIP header %llu", f->path,
                           (unsigned long long)f->csize, (unsigned long long)e->csize);
        r->data[i] = e;
    }
    r->sigs = hz_calloc(nsig ? nsig : 1, sizeof(ai_sigentry_t));
    for (size_t i = 0; i < z->n; i++) {
        const ai_zentry_t *e = z->by_name[i];
        if (!ai_name_is_signature_dir(e->name)) continue;
        ai_sigentry_t *s = &r->sigs[r->nsigs++];
        s->entry = e;
        char *text;
        size_t len;
        int rc = ai_zip_read_small(z, e, AI_SIG_MAX_BYTES, &text, &len);
        if (rc) return hz_error_wrap(rc, "%s", e->name);
        rc = ai_sig_parse(s, text, len);
        hz_free(text);
        if (rc) return rc;
    }
    return 0;
}

int ai_reader_open(ai_reader_t *r, const char *path, const hz_ai_limits_t *lim) {
    memset(r, 0, sizeof(*r));
    r->zip.fd = -1;
    if (lim) r->lim = *lim;
    else hz_ai_limits_default(&r->lim);
    do r->fd = open(path, O_RDONLY | O_CLOEXEC);
    while (r->fd < 0 && errno == EINTR);
    if (r->fd < 0) {
        ai_reason_set(HZ_AI_ERR_IO);
        return hz_error_errno(errno == ENOENT ? HZ_ENOTFOUND : HZ_EIO, errno, "%s", path);
    }
    int rc = ai_zip_open(&r->zip, r->fd, &r->lim);
    if (!rc) rc = read_format(r);
    if (!rc) rc = read_json_entries(r);
    if (!rc) rc = cross_check(r);
    return rc;
}

void ai_reader_close(ai_reader_t *r) {
    ai_zip_close(&r->zip);
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    hz_free(r->manifest_text);
    hz_free(r->metadata_text);
    ai_manifest_free(&r->manifest);
    json_object_put(r->metadata);
    hz_free(r->data);
    for (size_t i = 0; i < r->nsigs; i++) ai_sig_free(&r->sigs[i]);
    hz_free(r->sigs);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

hz_ai_info_t *ai_reader_info(const ai_reader_t *r) {
    hz_ai_info_t *info = hz_calloc(1, sizeof(*info));
    info->format_version = r->format_version;
    info->archive_size = r->zip.file_size;
    info->metadata = json_object_get(r->metadata);
    json_object *v;
    if (json_object_object_get_ex(info->metadata, "content_hash", &v))
        snprintf(info->content_hash, sizeof(info->content_hash), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(info->metadata, "name", &v)) info->name = json_object_get_string(v);
    if (json_object_object_get_ex(info->metadata, "version", &v)) info->version = json_object_get_string(v);
    if (json_object_object_get_ex(info->metadata, "artifact_type", &v)) info->type_name = ai_type_name(v);
    if (json_object_object_get_ex(info->metadata, "license", &v)) info->license_name = ai_license_name(v);
    info->total_size = r->manifest.total_size;
    info->nfiles = r->manifest.n;
    info->files = hz_calloc(r->manifest.n ? r->manifest.n : 1, sizeof(hz_ai_file_t));
    for (size_t i = 0; i < r->manifest.n; i++) {
        hz_ai_file_t *f = &info->files[i];
        const ai_zentry_t *e = r->data[i];
        f->path = hz_strdup(r->manifest.files[i].path);
        f->size = e->usize;
        f->compressed_size = e->csize;
        f->stored = e->method == 0;
        f->data_offset = e->data_offset;
        memcpy(f->hash, r->manifest.files[i].hash, sizeof(f->hash));
    }
    info->nsigners = r->nsigs;
    info->signers = hz_calloc(r->nsigs ? r->nsigs : 1, sizeof(hz_ai_signer_t));
    for (size_t i = 0; i < r->nsigs; i++) info->signers[i] = r->sigs[i].signer;
    return info;
}

int hz_ai_info(const char *path, const hz_ai_read_opts_t *opts, hz_ai_info_t **out) {
    ai_reason_clear();
    *out = NULL;
    ai_reader_t r;
    int rc = ai_reader_open(&r, path, opts ? opts->limits : NULL);
    if (!rc) *out = ai_reader_info(&r);
    ai_reader_close(&r);
    return rc ? hz_error_wrap(rc, "%s", path) : 0;
}

int hz_ai_read_entry(const char *path, const char *name, uint64_t max, char **out, size_t *len) {
    ai_reason_clear();
    *out = NULL;
    *len = 0;
    ai_reader_t r;
    int rc = ai_reader_open(&r, path, NULL);
    if (!rc) {
        const ai_zentry_t *e = ai_zip_find(&r.zip, name);
        rc = e ? ai_zip_read_small(&r.zip, e, max, out, len) : hz_error_set(HZ_ENOTFOUND, "no entry \"%s\"", name);
    }
    ai_reader_close(&r);
    return rc ? hz_error_wrap(rc, "%s", path) : 0;
}
