/*
 * Growable byte buffers. Capacity doubles, so n appends cost O(n) amortised; the byte after the
 * content is always NUL so text buffers can be handed to C string functions directly.
 */
#include "hanzo/base.h"

#include <string.h>

void hz_buf_init(hz_buf_t *b) { b->data = NULL; b->len = 0; b->cap = 0; }

void hz_buf_free(hz_buf_t *b) { hz_free(b->data); hz_buf_init(b); }

void hz_buf_reset(hz_buf_t *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

void hz_buf_reserve(hz_buf_t *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = hz_realloc(b->data, cap);
    b->cap = cap;
}

void hz_buf_append(hz_buf_t *b, const void *p, size_t n) {
    hz_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hz_buf_puts(hz_buf_t *b, const char *s) { hz_buf_append(b, s, strlen(s)); }

void hz_buf_putc(hz_buf_t *b, char c) { hz_buf_append(b, &c, 1); }

void hz_buf_vprintf(hz_buf_t *b, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) { hz_buf_append(b, small, (size_t)n); return; }
    hz_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hz_buf_printf(hz_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hz_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void hz_buf_put_json_string(hz_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    hz_buf_reserve(b, n + 2);
    hz_buf_putc(b, '"');
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        hz_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': hz_buf_puts(b, "\\\""); break;
        case '\\': hz_buf_puts(b, "\\\\"); break;
        case '\n': hz_buf_puts(b, "\\n"); break;
        case '\r': hz_buf_puts(b, "\\r"); break;
        case '\t': hz_buf_puts(b, "\\t"); break;
        case '\b': hz_buf_puts(b, "\\b"); break;
        case '\f': hz_buf_puts(b, "\\f"); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            hz_buf_append(b, esc, 6);
        }
        }
    }
    hz_buf_append(b, s + run, n - run);
    hz_buf_putc(b, '"');
}

char *hz_buf_detach(hz_buf_t *b, size_t *len_out) {
    if (!b->data) hz_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len_out) *len_out = b->len;
    hz_buf_init(b);
    return p;
}
