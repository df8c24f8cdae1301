/*
 * RFC 6455 wire format, without any I/O: the handshake accept key, frame headers in both
 * directions, masking and the close-code rules. Everything here is a pure function of its
 * arguments so the connection code (websocket.c), the unit tests and the fuzz target share one
 * definition of what a valid frame is.
 *
 * The header parser is strict in the ways the RFC says a receiver must be (reserved bits,
 * unknown opcodes, control-frame rules, masking) and also rejects non-minimal length encodings
 * and 64-bit lengths with the top bit set, which the RFC forbids senders to produce. It reports
 * a violation from the first byte that proves it, so a peer cannot make us wait for the rest of
 * a header that is already known to be bad.
 */
#include "http/websocket.h"

#include <string.h>

#include <openssl/evp.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hz_ws_accept_key(const char *client_key, char out[29]) {
    out[0] = '\0';
    if (!client_key)
        return hz_error_set(HZ_EINVAL, "Sec-WebSocket-Key: missing");
    /* 16 bytes encode to 22 significant characters plus "==". The key is hashed as text, so
     * only its shape matters here; the two spare bits of the last character are not checked,
     * as common decoders accept them too. */
    size_t n = strlen(client_key);
    if (n != 24 || client_key[22] != '=' || client_key[23] != '=')
        return hz_error_set(HZ_EINVAL, "Sec-WebSocket-Key: expected 24 base64 characters ending "
                            "in \"==\" (16 bytes), got %zu characters", n);
    for (size_t i = 0; i < 22; i++) {
        if (!client_key[i] || !strchr(b64_alphabet, client_key[i]))
            return hz_error_set(HZ_EINVAL, "Sec-WebSocket-Key: byte %zu is not a base64 character", i);
    }
    char text[24 + sizeof(HZ_WS_GUID)];
    memcpy(text, client_key, 24);
    memcpy(text + 24, HZ_WS_GUID, sizeof(HZ_WS_GUID));
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(text, 24 + sizeof(HZ_WS_GUID) - 1, digest, &dlen, EVP_sha1(), NULL) || dlen != 20)
        return hz_error_set(HZ_EINTERNAL, "Sec-WebSocket-Accept: SHA-1 unavailable in libcrypto");
    /* 20 bytes -> 28 characters plus NUL. */
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return 0;
}

static int header_error(int *close_code, int code, int ws_code, const char *fmt, ...) HZ_PRINTF(4, 5);

static int header_error(int *close_code, int code, int ws_code, const char *fmt, ...) {
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (close_code) *close_code = ws_code;
    return hz_error_set(code, "%s", msg);
}

int hz_ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, uint64_t max_payload,
                       hz_ws_frame_t *out, int *close_code) {
    if (close_code) *close_code = 0;
    if (len < 1) return 0;
    uint8_t b0 = buf[0];
    if (b0 & 0x70)
        return header_error(close_code, HZ_EPARSE, 1002,
                            "frame byte 0: reserved bits 0x%02x set without an extension", b0 & 0x70);
    int opcode = b0 & 0x0F;
    bool fin = (b0 & 0x80) != 0;
    bool control = (opcode & 0x08) != 0;
    if (opcode != 0 && opcode != 1 && opcode != 2 && opcode != 8 && opcode != 9 && opcode != 10)
        return header_error(close_code, HZ_EPARSE, 1002, "frame byte 0: unknown opcode 0x%x", opcode);
    if (control && !fin)
        return header_error(close_code, HZ_EPARSE, 1002,
                            "frame byte 0: control frame (opcode 0x%x) without FIN", opcode);
    if (len < 2) return 0;

    uint8_t b1 = buf[1];
    bool masked = (b1 & 0x80) != 0;
    uint64_t plen = b1 & 0x7F;
    if (require_mask && !masked)
        return header_error(close_code, HZ_EPARSE, 1002, "frame byte 1: client frame is not masked");
    if (control && plen > 125)
        return header_error(close_code, HZ_EPARSE, 1002,
                            "frame byte 1: control frame payload longer than 125 bytes");
    size_t pos = 2;
    if (plen == 126) {
        if (len < 4) return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        if (plen < 126)
            return header_error(close_code, HZ_EPARSE, 1002,
                                "frame byte 2: 16-bit length %llu should have used the 7-bit form",
                                (unsigned long long)plen);
        pos = 4;
    } else if (plen == 127) {
        /* The top bit shows up in the first length byte, so reject it before the rest. */
        if (len < 3) return 0;
        if (buf[2] & 0x80)
            return header_error(close_code, HZ_EPARSE, 1002,
                                "frame byte 2: 64-bit length has the most significant bit set");
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = (plen << 8) | buf[2 + i];
        if (plen <= 0xFFFF)
            return header_error(close_code, HZ_EPARSE, 1002,
                                "frame byte 2: 64-bit length %llu should have used a shorter form",
                                (unsigned long long)plen);
        pos = 10;
    }
    if (!control && plen > max_payload)
        return header_error(close_code, HZ_ETOOBIG, 1009,
                            "frame payload of %llu bytes exceeds the %llu-byte message limit",
                            (unsigned long long)plen, (unsigned long long)max_payload);
    if (masked) {
        if (len < pos + 4) return 0;
        if (out) memcpy(out->mask, buf + pos, 4);
        pos += 4;
    } else if (out) {
        memset(out->mask, 0, 4);
    }
    if (out) {
        out->fin = fin;
        out->opcode = opcode;
        out->masked = masked;
        out->payload_len = plen;
        out->header_len = pos;
    }
    return (int)pos;
}

size_t hz_ws_build_header(uint8_t out[HZ_WS_MAX_HEADER], bool fin, int opcode, uint64_t len,
                          const uint8_t *mask) {
    size_t pos = 0;
    out[pos++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t mbit = mask ? 0x80 : 0;
    if (len < 126) {
        out[pos++] = (uint8_t)(mbit | len);
    } else if (len <= 0xFFFF) {
        out[pos++] = mbit | 126;
        out[pos++] = (uint8_t)(len >> 8);
        out[pos++] = (uint8_t)len;
    } else {
        out[pos++] = mbit | 127;
        for (int shift = 56; shift >= 0; shift -= 8) out[pos++] = (uint8_t)(len >> shift);
    }
    if (mask) {
        memcpy(out + pos, mask, 4);
        pos += 4;
    }
    return pos;
}

bool hz_ws_close_code_valid(int code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

size_t hz_ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset) {
    size_t i = 0;
    offset &= 3;
    /* Bring the mask position to 0 so the bulk loop can use one 32-bit key. */
    while (i < len && offset != 0) {
        data[i++] ^= mask[offset];
        offset = (offset + 1) & 3;
    }
    uint32_t key;
    memcpy(&key, mask, 4);
    for (; i + 4 <= len; i += 4) {
        uint32_t w;
        memcpy(&w, data + i, 4);
        w ^= key;
        memcpy(data + i, &w, 4);
    }
    for (; i < len; i++) {
        data[i] ^= mask[offset];
        offset = (offset + 1) & 3;
    }
    return offset;
}

/* Could s[0..n) (1..3 bytes) still grow into one valid UTF-8 sequence? Mirrors the RFC 3629
 * table, including the narrowed second-byte ranges that exclude overlongs, surrogates and
 * code points above U+10FFFF, so a bad fragment fails at once rather than at the end. */
static bool utf8_could_continue(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return false;
    if (n >= need) return false;
    for (size_t i = 1; i < n; i++) {
        uint8_t lo = 0x80, hi = 0xBF;
        if (i == 1) {
            if (c == 0xE0) lo = 0xA0;
            else if (c == 0xED) hi = 0x9F;
            else if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F;
        }
        if (s[i] < lo || s[i] > hi) return false;
    }
    return true;
}

bool hz_ws_utf8_feed(const char *s, size_t n, size_t *checked, bool final) {
    size_t p = *checked;
    if (p > n) p = n;
    p += hz_utf8_valid_prefix(s + p, n - p);
    *checked = p;
    if (p == n) return true;
    if (final || n - p > 3) return false;
    return utf8_could_continue((const uint8_t *)s + p, n - p);
}
