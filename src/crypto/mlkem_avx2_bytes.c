/*
 * ML-KEM kernels in AVX2 at the byte level: SampleNTT's rejection step, the eta = 2 binomial
 * sampler, and Compress/Decompress with their bit packing.
 *
 * Rejection: 24 stream bytes give sixteen 12-bit candidates; a compare against q gives a mask
 * per 128-bit half, and a byte shuffle from a 256-entry table moves the accepted words to the
 * front. The stream is public (the matrix seed). Compression uses no division, so nothing here
 * depends on secret data for its timing: see hz__kpoly_compress.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>
#include <string.h>

#include "crypto/mlkem_poly.h"

HZ_AVX2_BEGIN

#define Q HZ_KQ

/* ---- SampleNTT rejection ------------------------------------------------------------------ */

/* For each 8-bit mask: the byte shuffle that moves the 16-bit words whose bit is set to the
 * front, in order. Filled once by hz__mlkem_avx2_init; read-only afterwards. */
static _Alignas(16) uint8_t rej_idx[256][16];

void hz__mlkem_avx2_bytes_init(void) {
    for (unsigned mask = 0; mask < 256; mask++) {
        unsigned n = 0;
        memset(rej_idx[mask], 0, 16);
        for (unsigned i = 0; i < 8; i++)
            if (mask >> i & 1) {
                rej_idx[mask][2 * n] = (uint8_t)(2 * i);
                rej_idx[mask][2 * n + 1] = (uint8_t)(2 * i + 1);
                n++;
            }
    }
}


unsigned hz__kpoly_rej_uniform(int16_t *r, unsigned need, const uint8_t *buf, size_t len) {
    /* 24 bytes give 16 candidates: after spreading 64-bit words 0,1,1,2 over the vector, each
     * 128-bit half holds the 12 bytes of its 8 candidates, and a byte shuffle puts bytes
     * (3i, 3i+1) / (3i+1, 3i+2) of candidate pair i into 16-bit words. */
    const __m256i spread = _mm256_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 4, 5, 5, 6, 7, 8,
                                            8, 9, 10, 11, 11, 12, 13, 14, 14, 15);
    const __m256i mask12 = _mm256_set1_epi16(0x0FFF), q = _mm256_set1_epi16(Q);
    unsigned ctr = 0;
    size_t pos = 0;
    while (ctr + 16 <= need && pos + 32 <= len) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(buf + pos));
        v = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(v, 0x94), spread);
        v = _mm256_blend_epi16(_mm256_and_si256(v, mask12), _mm256_srli_epi16(v, 4), 0xAA);
        __m256i good = _mm256_cmpgt_epi16(q, v);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_packs_epi16(_mm256_castsi256_si128(good), _mm256_extracti128_si256(good, 1)));
        __m128i lo = _mm_shuffle_epi8(_mm256_castsi256_si128(v), _mm_load_si128((const __m128i *)rej_idx[m & 0xFF]));
        __m128i hi = _mm_shuffle_epi8(_mm256_extracti128_si256(v, 1), _mm_load_si128((const __m128i *)rej_idx[m >> 8]));
        _mm_storeu_si128((__m128i *)(r + ctr), lo);
        ctr += (unsigned)_mm_popcnt_u32(m & 0xFF);
        _mm_storeu_si128((__m128i *)(r + ctr), hi);
        ctr += (unsigned)_mm_popcnt_u32(m >> 8);
        pos += 24;
    }
    while (ctr < need && pos + 3 <= len) {
        uint16_t d1 = (uint16_t)(buf[pos] | (buf[pos + 1] & 0x0F) << 8);
        uint16_t d2 = (uint16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);
        pos += 3;
        if (d1 < Q) r[ctr++] = (int16_t)d1;
        if (d2 < Q && ctr < need) r[ctr++] = (int16_t)d2;
    }
    return ctr;
}

/* ---- sampling and compression -------------------------------------------------------------- */

void hz__kpoly_cbd2(hz_kpoly_t *r, const uint8_t buf[128]) {
    /* Per byte: four 2-bit sums of bit pairs s0..s3 (low to high); its two coefficients are
     * s0 - s1 and s2 - s3. Biasing the minuends by 4 keeps each nibble's difference in [2, 6],
     * so one byte subtraction computes both without borrows. */
    const __m128i m55 = _mm_set1_epi8(0x55), m33 = _mm_set1_epi8(0x33), m0f = _mm_set1_epi8(0x0F);
    const __m256i four = _mm256_set1_epi16(4);
    for (int i = 0; i < 8; i++) {
        __m128i f = _mm_loadu_si128((const __m128i *)(buf + 16 * i));
        __m128i d = _mm_add_epi8(_mm_and_si128(f, m55), _mm_and_si128(_mm_srli_epi16(f, 1), m55));
        __m128i x = _mm_and_si128(d, m33), y = _mm_and_si128(_mm_srli_epi16(d, 2), m33);
        __m128i z = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x44)), y);
        __m128i lo = _mm_and_si128(z, m0f), hi = _mm_and_si128(_mm_srli_epi16(z, 4), m0f);
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(lo, hi));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(lo, hi));
        _mm256_store_si256((__m256i *)r->c + 2 * i, _mm256_sub_epi16(c0, four));
        _mm256_store_si256((__m256i *)r->c + 2 * i + 1, _mm256_sub_epi16(c1, four));
    }
}

/* d-bit fields, least significant first: groups of g values fill g * d / 8 bytes exactly, in a
 * 64-bit word (or a 128-bit one for d = 11's 88-bit groups). Inlined with constant d and g. */
#define PACK_BODY(W)                                                                             \
    for (unsigned i = 0; i < 256 / g; i++) {                                                     \
        W v = 0;                                                                                 \
        _Pragma("GCC unroll 8") for (unsigned j = 0; j < g; j++) v |= (W)(uint16_t)t[g * i + j] << (d * j); \
        _Pragma("GCC unroll 11") for (unsigned j = 0; j < g * d / 8; j++) r[g * d / 8 * i + j] = (uint8_t)(v >> (8 * j)); \
    }
#define UNPACK_BODY(W)                                                                           \
    for (unsigned i = 0; i < 256 / g; i++) {                                                     \
        W v = 0;                                                                                 \
        _Pragma("GCC unroll 11") for (unsigned j = 0; j < g * d / 8; j++) v |= (W)a[g * d / 8 * i + j] << (8 * j); \
        _Pragma("GCC unroll 8") for (unsigned j = 0; j < g; j++) t[g * i + j] = (int16_t)((uint32_t)(v >> (d * j)) & ((1u << d) - 1)); \
    }

static inline __attribute__((always_inline)) void pack_bits(uint8_t *r, const int16_t *t, unsigned d, unsigned g) {
    if (g * d <= 64) {
        PACK_BODY(uint64_t)
    } else {
        PACK_BODY(unsigned __int128)
    }
}

static inline __attribute__((always_inline)) void unpack_bits(int16_t *t, const uint8_t *a, unsigned d, unsigned g) {
    if (g * d <= 64) {
        UNPACK_BODY(uint64_t)
    } else {
        UNPACK_BODY(unsigned __int128)
    }
}

void hz__kpoly_compress(uint8_t *r, const hz_kpoly_t *a, unsigned d) {
    /* c0 = round(x * m / 2^15) with m = round(2^(15+d) / q) is within one of round(x * 2^d / q);
     * the remainder x * 2^d - c0 * q, exact in 16-bit wrapping arithmetic because it is small,
     * says which way to correct. No division, no branch. */
    static const int16_t mult[12] = {[1] = 20, [4] = 157, [5] = 315, [10] = 10079, [11] = 20159};
    const __m256i m = _mm256_set1_epi16(mult[d]), q = _mm256_set1_epi16(Q);
    const __m256i half = _mm256_set1_epi16(Q / 2), nhalf = _mm256_set1_epi16(-(Q / 2));
    const __m256i mask = _mm256_set1_epi16((int16_t)((1 << d) - 1));
    const __m128i sh = _mm_cvtsi32_si128((int)d);
    _Alignas(32) int16_t t[256];
    for (int v = 0; v < 16; v++) {
        __m256i x = _mm256_load_si256((const __m256i *)a->c + v);
        __m256i c = _mm256_mulhrs_epi16(x, m);
        __m256i rem = _mm256_sub_epi16(_mm256_sll_epi16(x, sh), _mm256_mullo_epi16(c, q));
        c = _mm256_sub_epi16(c, _mm256_cmpgt_epi16(rem, half));
        c = _mm256_add_epi16(c, _mm256_cmpgt_epi16(nhalf, rem));
        _mm256_store_si256((__m256i *)t + v, _mm256_and_si256(c, mask));
    }
    switch (d) {
    case 1: pack_bits(r, t, 1, 8); break;
    case 4: pack_bits(r, t, 4, 2); break;
    case 5: pack_bits(r, t, 5, 8); break;
    case 10: pack_bits(r, t, 10, 4); break;
    default: pack_bits(r, t, 11, 8); break;
    }
}

void hz__kpoly_decompress(hz_kpoly_t *r, const uint8_t *a, unsigned d) {
    switch (d) {
    case 1: unpack_bits(r->c, a, 1, 8); break;
    case 4: unpack_bits(r->c, a, 4, 2); break;
    case 5: unpack_bits(r->c, a, 5, 8); break;
    case 10: unpack_bits(r->c, a, 10, 4); break;
    default: unpack_bits(r->c, a, 11, 8); break;
    }
    /* round(y * q / 2^d) = (y * 2^(15-d) * q + 2^14) >> 15, which is what VPMULHRSW computes */
    const __m256i q = _mm256_set1_epi16(Q);
    const __m128i sh = _mm_cvtsi32_si128(15 - (int)d);
    for (int v = 0; v < 16; v++) {
        __m256i *x = (__m256i *)r->c + v;
        _mm256_store_si256(x, _mm256_mulhrs_epi16(_mm256_sll_epi16(_mm256_load_si256(x), sh), q));
    }
}

HZ_AVX2_END

#endif
