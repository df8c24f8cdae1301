/*
 * Turning token pieces into text a client can be given.
 *
 * A token is a byte string, not a character string: byte-level BPE vocabularies split a Chinese
 * character or an emoji across two or three tokens, and a random or confused model can emit byte
 * tokens that never form a valid character. The worker therefore keeps the raw bytes of the
 * answer, passes on only the prefix that cannot be completed by later bytes
 * (llm_utf8_complete_prefix), and replaces what is definitely invalid with U+FFFD, so the
 * stream is valid UTF-8 at every point, as JSON and SSE require.
 *
 * Stop strings are matched on that text; the tail that could still grow into a stop string is
 * held back (llm_stop_holdback), so a client never sees the first half of a stop string that
 * is then removed.
 */
#include "llm/llm_internal.h"

#include <string.h>

/* Expected length of a sequence starting with byte c; 0 for a byte that cannot start one. */
static size_t seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
}

size_t llm_utf8_complete_prefix(const char *s, size_t n) {
    /* look at most 3 bytes back for the lead byte of an unfinished sequence */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xc0) == 0x80) continue;       /* continuation byte: keep looking */
        if (seq_len(c) <= back) return n;       /* complete (or invalid: sanitize's business) */
        if (back >= 2) {
            /* second-byte ranges that exclude overlongs, surrogates and > U+10FFFF: such a
             * start can never become valid, so waiting for more bytes is pointless */
            unsigned char c1 = (unsigned char)s[n - back + 1];
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
                (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
                return n;
        }
        return n - back;
    }
    return n;
}

void llm_utf8_sanitize_append(hz_buf_t *out, const char *s, size_t n) {
    while (n) {
        size_t ok = hz_utf8_valid_prefix(s, n);
        hz_buf_append(out, s, ok);
        s += ok;
        n -= ok;
        if (!n) break;
        /* a broken sequence (lead byte and its continuation bytes) becomes one U+FFFD */
        size_t need = seq_len((unsigned char)*s), skip = 1;
        while (skip < need && skip < n && ((unsigned char)s[skip] & 0xc0) == 0x80) skip++;
        hz_buf_append(out, "\xef\xbf\xbd", 3);
        s += skip;
        n -= skip;
    }
}

ptrdiff_t llm_stop_find(const char *text, size_t n, size_t from, const char *const *stop, size_t n_stop) {
    ptrdiff_t best = -1;
    for (size_t i = 0; i < n_stop; i++) {
        size_t sl = strlen(stop[i]);
        if (!sl || sl > n) continue;
        /* a match can start up to sl-1 bytes before `from` (it ends in the new bytes) */
        size_t start = from >= sl - 1 ? from - (sl - 1) : 0;
        const char *p = memmem(text + start, n - start, stop[i], sl);
        if (p && (best < 0 || p - text < best)) best = p - text;
    }
    return best;
}

size_t llm_stop_holdback(const char *text, size_t n, const char *const *stop, size_t n_stop) {
    size_t hold = 0;
    for (size_t i = 0; i < n_stop; i++) {
        size_t sl = strlen(stop[i]);
        /* the longest proper prefix of the stop string that the text ends with */
        for (size_t k = sl > 1 ? sl - 1 : 0; k > hold; k--)
            if (k <= n && memcmp(text + n - k, stop[i], k) == 0) { hold = k; break; }
    }
    return hold;
}
