/*
 * ML-DSA kernels in AVX2, part three: byte-level work on the hot paths - RejNTTPoly's rejection
 * step (ExpandA), BitUnpack of z and of ExpandMask's output, and the signature's z, w1 and hint
 * encodings.
 *
 * Each packs or unpacks fixed-width little-endian fields with byte shuffles and lane shifts. The
 * vector loads and stores run a few bytes past the field they handle; every caller has those
 * bytes (the next field, the signature's hint area, or slack in its buffer), as the header
 * says for each function.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>

#include "crypto/mldsa_poly.h"

HZ_AVX2_BEGIN

#define Q HZ_DQ
#define QV _mm256_set1_epi32(Q)

/* ---- RejNTTPoly --------------------------------------------------------------------------- */

unsigned hz__dpoly_rej_uniform(int32_t *r, unsigned need, const uint8_t *buf, size_t len) {
    /* 24 bytes give 8 candidates: 64-bit words 0,1,1,2 spread over the vector put each half's
     * 12 bytes in reach of a byte shuffle into four 32-bit lanes. The data is public (the
     * matrix seed), so branching on the acceptance mask is fine. */
    const __m256i spread = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 4, 5, 6, -1, 7,
                                            8, 9, -1, 10, 11, 12, -1, 13, 14, 15, -1);
    const __m256i mask23 = _mm256_set1_epi32(0x7FFFFF);
    unsigned ctr = 0;
    size_t pos = 0;
    while (ctr + 8 <= need && pos + 32 <= len) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(buf + pos));
        v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_permute4x64_epi64(v, 0x94), spread), mask23);
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(QV, v)));
        if (m == 0xFF) { /* all eight below q, 99.2% of the time: no compaction needed */
            _mm256_storeu_si256((__m256i *)(r + ctr), v);
            ctr += 8;
        } else { /* move the accepted lanes to the front */
            int32_t idx[8] = {0};
            unsigned n = 0;
            for (int i = 0; i < 8; i++)
                if (m >> i & 1) idx[n++] = i;
            __m256i perm = _mm256_loadu_si256((const __m256i *)idx);
            _mm256_storeu_si256((__m256i *)(r + ctr), _mm256_permutevar8x32_epi32(v, perm));
            ctr += n;
        }
        pos += 24;
    }
    while (ctr < need && pos + 3 <= len) {
        uint32_t t = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)(buf[pos + 2] & 0x7F) << 16;
        pos += 3;
        if (t < Q) r[ctr++] = (int32_t)t;
    }
    return ctr;
}

/* ---- BitUnpack of z and of ExpandMask's output --------------------------------------------- */

void hz__dpoly_unpack_z(hz_dpoly_t *r, const uint8_t *a, unsigned bits) {
    /* Four coefficients per 128-bit half: 20-bit ones start at bit 0, 20, 40, 60 (bytes 0, 2,
     * 5, 7, shifts 0, 4, 0, 4) of 10 bytes; 18-bit ones at bytes 0, 2, 4, 6 with shifts 0, 2,
     * 4, 6 of 9 bytes. Three bytes per lane hold each field; a variable shift aligns it. */
    const bool wide = bits == 20;
    const __m256i spread = wide ? _mm256_setr_epi8(0, 1, 2, -1, 2, 3, 4, -1, 5, 6, 7, -1, 7, 8, 9, -1, 0, 1, 2, -1, 2, 3,
                                                   4, -1, 5, 6, 7, -1, 7, 8, 9, -1)
                                : _mm256_setr_epi8(0, 1, 2, -1, 2, 3, 4, -1, 4, 5, 6, -1, 6, 7, 8, -1, 0, 1, 2, -1, 2, 3,
                                                   4, -1, 4, 5, 6, -1, 6, 7, 8, -1);
    const __m256i shift = wide ? _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4) : _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m256i mask = _mm256_set1_epi32((1 << bits) - 1), gamma1 = _mm256_set1_epi32(1 << (bits - 1));
    const size_t half = bits / 2; /* bytes per four coefficients */
    for (int i = 0; i < 32; i++) {
        const uint8_t *p = a + 2 * half * (size_t)i;
        __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                            _mm_loadu_si128((const __m128i *)(p + half)), 1);
        v = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(v, spread), shift), mask);
        _mm256_store_si256((__m256i *)r->c + i, _mm256_sub_epi32(gamma1, v));
    }
}

/* ---- packing helpers for the hot encodings -------------------------------------------------- */

void hz__dpoly_pack_z20(uint8_t *r, const hz_dpoly_t *z) {
    /* gamma1 - z in 20 bits; each 64-bit lane joins two into 40 bits (5 bytes), a byte shuffle
     * closes the gaps, and each 128-bit half stores its 10 bytes (16 written, the excess
     * overwritten by the next store or lying in the caller's slack). */
    const __m256i gamma1 = _mm256_set1_epi32(1 << 19), lo32 = _mm256_set1_epi64x(0xFFFFFFFF);
    const __m128i close = _mm_setr_epi8(0, 1, 2, 3, 4, 8, 9, 10, 11, 12, -1, -1, -1, -1, -1, -1);
    for (int i = 0; i < 32; i++) {
        __m256i x = _mm256_sub_epi32(gamma1, _mm256_load_si256((const __m256i *)z->c + i));
        x = _mm256_or_si256(_mm256_and_si256(x, lo32), _mm256_slli_epi64(_mm256_srli_epi64(x, 32), 20));
        _mm_storeu_si128((__m128i *)(r + 20 * i), _mm_shuffle_epi8(_mm256_castsi256_si128(x), close));
        _mm_storeu_si128((__m128i *)(r + 20 * i + 10), _mm_shuffle_epi8(_mm256_extracti128_si256(x, 1), close));
    }
}

void hz__dpoly_pack_w1_4(uint8_t r[128], const hz_dpoly_t *w1) {
    /* 32 coefficients (< 16) per step: narrow to bytes, restore their order, then join pairs of
     * bytes into one with a multiply-add by (1, 16). */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i join = _mm256_set1_epi16(0x1001); /* bytes 1, 16 */
    for (int i = 0; i < 8; i++) {
        const __m256i *v = (const __m256i *)w1->c + 4 * i;
        __m256i p01 = _mm256_packs_epi32(_mm256_load_si256(v), _mm256_load_si256(v + 1));
        __m256i p23 = _mm256_packs_epi32(_mm256_load_si256(v + 2), _mm256_load_si256(v + 3));
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23), order);
        __m256i m = _mm256_maddubs_epi16(b, join);
        m = _mm256_permute4x64_epi64(_mm256_packus_epi16(m, m), 0x08);
        _mm_storeu_si128((__m128i *)(r + 16 * i), _mm256_castsi256_si128(m));
    }
}

unsigned hz__dpoly_hint_positions(uint8_t *out, const hz_dpoly_t *h) {
    unsigned n = 0;
    for (int i = 0; i < 32; i++) {
        __m256i x = _mm256_slli_epi32(_mm256_load_si256((const __m256i *)h->c + i), 31);
        for (unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(x)); m; m &= m - 1)
            out[n++] = (uint8_t)(8 * i + __builtin_ctz(m));
    }
    return n;
}

HZ_AVX2_END

#endif
