/*
 * Why an archive was rejected. hz_error_last() carries the human detail; the reason code beside
 * it lets a caller (the CLI's exit message, the node's HTTP status, the malicious-archive tests)
 * tell the rules apart without parsing text. Like the base error message it is per thread, and
 * every message starts with the reason's name so a person reading a log sees the same thing.
 */
#include "artifact/internal.h"

#include <stdarg.h>

static _Thread_local hz_ai_err_t last_reason;

static const char *const names[HZ_AI_ERR__COUNT] = {
    [HZ_AI_OK] = "ok",
    [HZ_AI_ERR_IO] = "io",
    [HZ_AI_ERR_NOT_ZIP] = "not_zip",
    [HZ_AI_ERR_ZIP_STRUCTURE] = "zip_structure",
    [HZ_AI_ERR_ZIP64] = "zip64",
    [HZ_AI_ERR_OVERLAP] = "overlap",
    [HZ_AI_ERR_HEADER_MISMATCH] = "header_mismatch",
    [HZ_AI_ERR_ENCRYPTED] = "encrypted",
    [HZ_AI_ERR_COMPRESSION] = "compression",
    [HZ_AI_ERR_BAD_NAME] = "bad_name",
    [HZ_AI_ERR_TRAVERSAL] = "path_traversal",
    [HZ_AI_ERR_ABSOLUTE] = "absolute_path",
    [HZ_AI_ERR_BACKSLASH] = "backslash",
    [HZ_AI_ERR_SYMLINK] = "symlink",
    [HZ_AI_ERR_SPECIAL_FILE] = "special_file",
    [HZ_AI_ERR_DUPLICATE] = "duplicate_name",
    [HZ_AI_ERR_BOMB_RATIO] = "bomb_ratio",
    [HZ_AI_ERR_BOMB_TOTAL] = "bomb_total",
    [HZ_AI_ERR_BAD_FORMAT] = "bad_format",
    [HZ_AI_ERR_VERSION] = "version",
    [HZ_AI_ERR_MANIFEST] = "manifest",
    [HZ_AI_ERR_METADATA] = "metadata",
    [HZ_AI_ERR_UNLISTED] = "unlisted_file",
    [HZ_AI_ERR_MISSING_FILE] = "missing_file",
    [HZ_AI_ERR_SIZE_MISMATCH] = "size_mismatch",
    [HZ_AI_ERR_HASH_MISMATCH] = "hash_mismatch",
    [HZ_AI_ERR_CRC_MISMATCH] = "crc_mismatch",
    [HZ_AI_ERR_CONTENT_HASH] = "content_hash_mismatch",
    [HZ_AI_ERR_SIGNATURE] = "bad_signature",
    [HZ_AI_ERR_UNTRUSTED] = "untrusted",
};

hz_ai_err_t hz_ai_error_reason(void) { return last_reason; }

const char *hz_ai_error_name(hz_ai_err_t reason) {
    if ((int)reason < 0 || reason >= HZ_AI_ERR__COUNT) return "unknown";
    return names[reason];
}

void ai_reason_set(hz_ai_err_t reason) { last_reason = reason; }
void ai_reason_clear(void) { last_reason = HZ_AI_OK; }

int ai_fail(hz_ai_err_t reason, int code, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    last_reason = reason;
    return hz_error_set(code, "%s: %s", hz_ai_error_name(reason), detail);
}
