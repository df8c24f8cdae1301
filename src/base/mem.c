/*
 * Allocation that never returns NULL. Out of memory is not a condition a request handler can
 * repair, so we report it once and abort rather than thread NULL checks through every caller.
 */
#include "hanzo/base.h"

#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n) {
    fprintf(stderr, "hanzo: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hz_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *hz_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *hz_realloc(void *old, size_t n) {
    void *p = realloc(old, n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

char *hz_strdup(const char *s) { return hz_strndup(s, strlen(s)); }

char *hz_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = hz_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *hz_sprintf(const char *fmt, ...) {
    hz_buf_t b = HZ_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    hz_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return hz_buf_detach(&b, NULL);
}

void hz_free(void *p) { free(p); }
