/*
 * Thread-local error detail. Each thread keeps the message of the last error it set; callers
 * read it with hz_error_last() right after a call failed. Messages are truncated at 1 KiB.
 */
#include "hanzo/base.h"

#include <errno.h>
#include <string.h>

#define HZ_ERROR_MAX 1024

static _Thread_local char error_msg[HZ_ERROR_MAX];

const char *hz_error_last(void) { return error_msg; }

void hz_error_clear(void) { error_msg[0] = '\0'; }

int hz_error_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
    va_end(ap);
    return code;
}

int hz_error_errno(int code, int errnum, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(error_msg))
        snprintf(error_msg + n, sizeof(error_msg) - (size_t)n, ": %s", strerror(errnum));
    return code;
}

int hz_error_wrap(int code, const char *fmt, ...) {
    char old[HZ_ERROR_MAX];
    memcpy(old, error_msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
    va_end(ap);
    /* Append ": <old>" by hand: snprintf here trips -Wformat-truncation in sanitizer builds. */
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used + 2 < sizeof(error_msg) && old[0]) {
        memcpy(error_msg + used, ": ", 2);
        size_t room = sizeof(error_msg) - used - 3;
        size_t len = strnlen(old, room);
        memcpy(error_msg + used + 2, old, len);
        error_msg[used + 2 + len] = '\0';
    }
    return code;
}

const char *hz_error_name(int code) {
    switch (code) {
    case HZ_OK: return "OK";
    case HZ_EINVAL: return "EINVAL";
    case HZ_ENOMEM: return "ENOMEM";
    case HZ_EIO: return "EIO";
    case HZ_ENOTFOUND: return "ENOTFOUND";
    case HZ_EEXIST: return "EEXIST";
    case HZ_EPARSE: return "EPARSE";
    case HZ_ETOOBIG: return "ETOOBIG";
    case HZ_EBUSY: return "EBUSY";
    case HZ_ETIMEOUT: return "ETIMEOUT";
    case HZ_EAUTH: return "EAUTH";
    case HZ_ECRYPTO: return "ECRYPTO";
    case HZ_EVERSION: return "EVERSION";
    case HZ_ECLOSED: return "ECLOSED";
    case HZ_ESTATE: return "ESTATE";
    case HZ_EUNSUPPORTED: return "EUNSUPPORTED";
    case HZ_EINTERNAL: return "EINTERNAL";
    default: return "EUNKNOWN";
    }
}
