/*
 * The rules an archive path must follow before anything is written under its name. A path is
 * relative, '/'-separated UTF-8: no NUL (a name whose length runs past an embedded NUL would be
 * read one way by us and another by C string APIs), no backslash (a separator on Windows), no
 * leading '/' or drive letter, no empty, "." or ".." component, no control characters, at most
 * 4096 bytes with components of at most 255. Anything else is rejected, not normalised: an
 * honest writer never produces such names, so there is nothing to repair.
 */
#include "artifact/internal.h"

#include <string.h>

#define NAME_MAX_BYTES 4096
#define COMPONENT_MAX 255

int ai_name_check(const char *name, size_t len, const char *what) {
    if (len == 0) return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s has an empty name", what);
    if (memchr(name, '\0', len))
        return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s: name contains a NUL byte at offset %zu", what,
                       (size_t)((const char *)memchr(name, '\0', len) - name));
    if (len > NAME_MAX_BYTES)
        return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s: name of %zu bytes exceeds %d", what, len, NAME_MAX_BYTES);
    if (hz_utf8_valid_prefix(name, len) != len)
        return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s: name is not valid UTF-8 (byte %zu)", what,
                       hz_utf8_valid_prefix(name, len));
    const char *bs = memchr(name, '\\', len);
    if (bs) return ai_fail(HZ_AI_ERR_BACKSLASH, HZ_EINVAL, "%s \"%.*s\": backslash at offset %zu", what,
                           (int)len, name, (size_t)(bs - name));
    if (name[0] == '/')
        return ai_fail(HZ_AI_ERR_ABSOLUTE, HZ_EINVAL, "%s \"%.*s\": absolute path", what, (int)len, name);
    if (len >= 2 && name[1] == ':' && ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return ai_fail(HZ_AI_ERR_ABSOLUTE, HZ_EINVAL, "%s \"%.*s\": drive-letter path", what, (int)len, name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s: control character 0x%02x at offset %zu", what, c, i);
    }
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') continue;
        size_t clen = i - start;
        const char *comp = name + start;
        if (clen == 2 && comp[0] == '.' && comp[1] == '.')
            return ai_fail(HZ_AI_ERR_TRAVERSAL, HZ_EINVAL, "%s \"%.*s\": \"..\" component at offset %zu", what,
                           (int)len, name, start);
        if (clen == 0)
            return ai_fail(i == len && len > 0 ? HZ_AI_ERR_SPECIAL_FILE : HZ_AI_ERR_BAD_NAME, HZ_EINVAL,
                           i == len ? "%s \"%.*s\": a directory entry (name ends in '/')"
                                    : "%s \"%.*s\": empty path component", what, (int)len, name);
        if (clen == 1 && comp[0] == '.')
            return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s \"%.*s\": \".\" component at offset %zu", what,
                           (int)len, name, start);
        if (clen > COMPONENT_MAX)
            return ai_fail(HZ_AI_ERR_BAD_NAME, HZ_EINVAL, "%s: path component of %zu bytes exceeds %d", what,
                           clen, COMPONENT_MAX);
        start = i + 1;
    }
    return 0;
}

bool ai_name_is_reserved(const char *name) {
    return strcmp(name, AI_NAME_FORMAT) == 0 || strcmp(name, AI_NAME_MANIFEST) == 0 ||
           strcmp(name, AI_NAME_METADATA) == 0;
}

bool ai_name_is_signature_dir(const char *name) { return hz_str_starts_with(name, AI_SIG_DIR); }

int ai_name_cmp(const char *a, const char *b) { return strcmp(a, b); /* C compares as unsigned char */ }
