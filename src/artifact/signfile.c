/*
 * hz_ai_sign: add signatures to an existing archive. The archive is verified in full first - a
 * signature vouches for content, so we only sign what we have just checked - and the new entries
 * are added with libzip, which copies every other entry unchanged (raw, without recompressing)
 * into a temporary file and renames it over the original. The content hash, manifest and metadata
 * do not change, so existing signatures stay valid; a key that already signed is replaced.
 */
#include "artifact/internal.h"

#include <string.h>

int hz_ai_sign(const char *path, const hz_key_t *const *keys, size_t nkeys, const hz_ai_read_opts_t *opts) {
    ai_reason_clear();
    if (nkeys == 0) return hz_error_set(HZ_EINVAL, "no signing key");
    ai_reader_t r;
    uint8_t content[32];
    int rc = ai_reader_open(&r, path, opts ? opts->limits : NULL);
    if (!rc) rc = ai_verify_data(&r, opts, -1, content);
    if (!rc) {
        hz_ai_read_opts_t no_trust = opts ? *opts : (hz_ai_read_opts_t){0};
        no_trust.ntrusted = 0; /* existing signatures must be valid; whose they are does not matter here */
        rc = ai_sigs_verify(&r, content, &no_trust, NULL);
    }
    hz_buf_t *texts = hz_calloc(nkeys, sizeof(hz_buf_t));
    char (*names)[96] = hz_calloc(nkeys, sizeof(*names));
    int64_t now = hz_time_now_ms();
    for (size_t i = 0; i < nkeys && !rc; i++) {
        char kid[HZ_AI_KEY_ID_LEN + 1];
        rc = ai_sig_make(keys[i], content, r.manifest_text, r.manifest_len, r.metadata_text, r.metadata_len, now, &texts[i], kid);
        snprintf(names[i], sizeof(names[i]), AI_SIG_DIR "%s.sig", kid);
    }
    ai_reader_close(&r);
    zip_t *za = NULL;
    if (!rc) {
        int zcode = 0;
        za = zip_open(path, 0, &zcode);
        if (!za) {
            zip_error_t ze;
            zip_error_init_with_code(&ze, zcode);
            rc = hz_error_set(HZ_EIO, "libzip cannot open %s: %s", path, zip_error_strerror(&ze));
            zip_error_fini(&ze);
        }
    }
    for (size_t i = 0; i < nkeys && !rc; i++) {
        zip_source_t *s = zip_source_buffer(za, texts[i].data, texts[i].len, 0);
        zip_int64_t idx = s ? zip_file_add(za, names[i], s, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            if (s) zip_source_free(s);
            rc = hz_error_set(HZ_EIO, "adding %s: %s", names[i], zip_strerror(za));
            break;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 0);
        zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16);
    }
    if (za) {
        if (rc) zip_discard(za);
        else if (zip_close(za) != 0) {
            rc = hz_error_set(HZ_EIO, "writing %s: %s", path, zip_strerror(za));
            zip_discard(za);
        }
    }
    for (size_t i = 0; i < nkeys; i++) hz_buf_free(&texts[i]);
    hz_free(texts);
    hz_free(names);
    return rc ? hz_error_wrap(rc, "%s", path) : 0;
}
