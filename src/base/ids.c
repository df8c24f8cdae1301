/* UUIDs, kernel randomness and hex. */
#include "hanzo/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void hz_random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "hanzo: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

void hz_hex_encode(const uint8_t *in, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hz_hex_decode(const char *hex, uint8_t *out, size_t n) {
    if (strlen(hex) != 2 * n)
        return hz_error_set(HZ_EPARSE, "hex string has %zu characters, expected %zu", strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return hz_error_set(HZ_EPARSE, "bad hex digit at position %zu", 2 * i + (hi < 0 ? 0 : 1));
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void uuid_format(const uint8_t b[16], char out[37]) {
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

/* UUIDv7s are made on hot paths (every HTTP request without an id of its own) and need to be
 * unique, not secret, so their random bits come from a per-thread xoshiro256** seeded once from
 * the kernel rather than from a system call per id. */
static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_seeded;

static uint64_t rng_next(void) {
    if (!rng_seeded) {
        do hz_random_bytes(rng, sizeof(rng)); while (!(rng[0] | rng[1] | rng[2] | rng[3]));
        rng_seeded = true;
    }
    uint64_t r = rng[1] * 5;
    r = ((r << 7) | (r >> 57)) * 9;
    uint64_t t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = (rng[3] << 45) | (rng[3] >> 19);
    return r;
}

void hz_uuid_v4(char out[HZ_UUID_STRLEN + 1]) {
    uint8_t b[16];
    hz_random_bytes(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    uuid_format(b, out);
}

void hz_uuid_v7(char out[HZ_UUID_STRLEN + 1]) {
    uint8_t b[16];
    uint64_t ms = (uint64_t)hz_time_now_ms(), r1 = rng_next(), r2 = rng_next();
    for (int i = 0; i < 6; i++) b[i] = (uint8_t)(ms >> (40 - 8 * i));
    for (int i = 0; i < 8; i++) b[6 + i] = (uint8_t)(r1 >> (8 * i));
    b[14] = (uint8_t)r2;
    b[15] = (uint8_t)(r2 >> 8);
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x70);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    uuid_format(b, out);
}

bool hz_uuid_valid(const char *s) {
    if (strlen(s) != HZ_UUID_STRLEN) return false;
    for (int i = 0; i < HZ_UUID_STRLEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (hexval(s[i]) < 0) {
            return false;
        }
    }
    return true;
}
