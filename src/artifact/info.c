/*
 * hz_ai_info_t: freeing it and its JSON form, which the CLI's `info --json`, the node's API and
 * the store's per-artifact summary files all share, so the three never drift apart.
 */
#include "artifact/internal.h"

#include <stdlib.h>
#include <string.h>

void hz_ai_info_free(hz_ai_info_t *info) {
    if (!info) return;
    for (size_t i = 0; i < info->nfiles; i++) hz_free(info->files[i].path);
    hz_free(info->files);
    hz_free(info->signers);
    json_object_put(info->metadata);
    hz_free(info);
}

static int cmp_signer(const void *a, const void *b) {
    return strcmp(((const hz_ai_signer_t *)a)->key_id, ((const hz_ai_signer_t *)b)->key_id);
}

void ai_info_sort_signers(hz_ai_info_t *info) {
    qsort(info->signers, info->nsigners, sizeof(hz_ai_signer_t), cmp_signer);
}

json_object *hz_ai_info_to_json(const hz_ai_info_t *info) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "format_version", json_object_new_int64(info->format_version));
    json_object_object_add(o, "archive_size", json_object_new_uint64(info->archive_size));
    json_object_object_add(o, "content_hash", json_object_new_string(info->content_hash));
    json_object_object_add(o, "data_verified", json_object_new_boolean(info->data_verified));
    json_object_object_add(o, "metadata", json_object_get(info->metadata));
    json_object *files = json_object_new_array();
    for (size_t i = 0; i < info->nfiles; i++) {
        const hz_ai_file_t *f = &info->files[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "path", json_object_new_string(f->path));
        json_object_object_add(j, "size", json_object_new_uint64(f->size));
        json_object_object_add(j, "compressed_size", json_object_new_uint64(f->compressed_size));
        json_object_object_add(j, "stored", json_object_new_boolean(f->stored));
        json_object_object_add(j, "hash", json_object_new_string(f->hash));
        json_object_array_add(files, j);
    }
    json_object_object_add(o, "files", files);
    json_object *sigs = json_object_new_array();
    for (size_t i = 0; i < info->nsigners; i++) {
        const hz_ai_signer_t *s = &info->signers[i];
        char ts[32];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "key_id", json_object_new_string(s->key_id));
        json_object_object_add(j, "algorithm", json_object_new_string(s->algorithm));
        json_object_object_add(j, "signed_at", json_object_new_string(hz_time_format_rfc3339(s->signed_at_ms, ts)));
        json_object_object_add(j, "checked", json_object_new_boolean(s->checked));
        json_object_object_add(j, "trusted", json_object_new_boolean(s->trusted));
        json_object_array_add(sigs, j);
    }
    json_object_object_add(o, "signatures", sigs);
    return o;
}
