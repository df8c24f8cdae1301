/*
 * CRC-32 as ZIP uses it (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), so
 * the verifier can check stored entries it reads in place without going through libzip. zlib is
 * not linked directly (libzip brings it in privately), and this is the one zlib routine we need.
 *
 * Two implementations. On x86-64 CPUs with PCLMULQDQ (all of them since 2010), the buffer is
 * folded 64 bytes at a time with carry-less multiplication, as in Intel's white paper "Fast CRC
 * Computation for Generic Polynomials Using PCLMULQDQ Instruction" (Gopal et al., 2009) and the
 * Linux kernel's crc32-pclmul: four 128-bit lanes are folded forward by x^(4*128) mod P, then
 * into one lane, then reduced to 32 bits with a Barrett reduction. That runs at memory speed,
 * which matters because the verifier computes a CRC beside two BLAKE3 hashes for every byte.
 * Elsewhere, and for the unaligned head and the tail, slicing-by-8: eight 256-entry tables (built
 * once under pthread_once, read-only afterwards) consume 8 bytes per step.
 *
 * The constants are the published ones for the reflected polynomial 0x04C11DB7:
 *   k1 = x^(4*128+32) mod P, k2 = x^(4*128-32) mod P  (fold by 4 lanes)
 *   k3 = x^(128+32) mod P,   k4 = x^(128-32) mod P    (fold by 1 lane)
 *   k5 = x^64 mod P;  P' = 0x1DB710641, mu' = 0x1F7011641 (Barrett)
 * all bit-reflected. The unit tests compare both paths with each other and with zlib's values
 * for every length up to a few KiB and every alignment.
 */
#include "artifact/internal.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* The register-level CRC (no pre/post inversion) of len bytes with the tables. */
static uint32_t crc_tables(uint32_t c, const uint8_t *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= c; /* little-endian: x86-64 and every target we build for */
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* len >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_pclmul(uint32_t c, const uint8_t *p, size_t len) {
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
    const __m128i poly = _mm_set_epi64x(0x1F7011641, 0x1DB710641);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32)), x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
    p += 64;
    len -= 64;
#define FOLD(x, k, next) x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next)
    while (len >= 64) {
        FOLD(x1, k1k2, _mm_loadu_si128((const __m128i *)p));
        FOLD(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        FOLD(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        FOLD(x4, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    FOLD(x1, k3k4, x2);
    FOLD(x1, k3k4, x3);
    FOLD(x1, k3k4, x4);
    while (len >= 16) {
        FOLD(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
#undef FOLD
    /* 128 -> 64 bits (appending 32 zero bits), then 64 -> 32 with Barrett */
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(k3k4, x1, 0x01), _mm_srli_si128(x1, 8));
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), _mm_srli_si128(x1, 4));
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, x1), 1);
}

static bool have_pclmul(void) {
    static _Atomic int state; /* 0 unknown, 1 no, 2 yes: a benign race, every thread computes the same */
    int s = state;
    if (!s) state = s = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") ? 2 : 1;
    return s == 2;
}
#endif

uint32_t ai_crc32_portable(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, build_tables);
    return ~crc_tables(~crc, data, len);
}

uint32_t ai_crc32(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, build_tables);
    const uint8_t *p = data;
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (len >= 128 && have_pclmul()) {
        size_t head = (16 - ((uintptr_t)p & 15)) & 15;
        c = crc_tables(c, p, head);
        p += head;
        len -= head;
        size_t body = len & ~(size_t)15;
        c = crc_pclmul(c, p, body);
        p += body;
        len -= body;
    }
#endif
    return ~crc_tables(c, p, len);
}
