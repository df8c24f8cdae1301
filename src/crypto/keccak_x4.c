/*
 * Four Keccak-f[1600] permutations at once with AVX2, and the four-way SHAKE built on it.
 *
 * ML-KEM's matrix, ML-DSA's ExpandA/ExpandS/ExpandMask and the noise samplers each run many
 * independent SHAKE instances over short seeds that differ only in a nonce. One 256-bit vector
 * holds the same lane of four states, so the round of keccak.h runs unchanged on __m256i: XOR
 * and ANDN are single instructions, and a rotation is two shifts and an OR, except by 8 and 56
 * bits, which are byte shuffles. Four permutations then cost well under twice one scalar
 * permutation. Only the permutation touches vectors; absorbing a seed and reading out blocks are
 * byte and word copies into the interleaved state.
 *
 * The file is compiled for AVX2 with a target pragma and only ever called after the runtime
 * check in pqfast.c, so the library still runs on CPUs without AVX2.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>
#include <string.h>

#include "crypto/keccak.h"

HZ_AVX2_BEGIN

#define XOR(a, b) _mm256_xor_si256(a, b)
#define ANDN(a, b) _mm256_andnot_si256(a, b)
#define ROL(a, n)                                                                                \
    ((n) == 8 ? _mm256_shuffle_epi8(a, rot8)                                                     \
              : (n) == 56 ? _mm256_shuffle_epi8(a, rot56)                                        \
                          : _mm256_or_si256(_mm256_slli_epi64(a, (n)), _mm256_srli_epi64(a, 64 - (n))))

void hz__keccakf1600x4(hz_keccakx4_t *st) {
    /* Byte permutations that rotate each 64-bit lane left by one byte and by seven bytes. */
    const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14, 7, 0, 1, 2,
                                          3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3,
                                           4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    KECCAK_LANES(__m256i, a);
    KECCAK_LANES(__m256i, e);
#define LOAD_LANE(l, i) l = _mm256_load_si256((const __m256i *)st->s[i])
#define STORE_LANE(l, i) _mm256_store_si256((__m256i *)st->s[i], l)
    KECCAK_EACH(LOAD_LANE, a);
    for (int r = 0; r < 24; r += 2) {
        KECCAK_ROUND(__m256i, a, e, _mm256_set1_epi64x((long long)hz__keccak_rc[r]));
        KECCAK_ROUND(__m256i, e, a, _mm256_set1_epi64x((long long)hz__keccak_rc[r + 1]));
    }
    KECCAK_EACH(STORE_LANE, a);
#undef LOAD_LANE
#undef STORE_LANE
}

void hz__shakex4_absorb_once(hz_keccakx4_t *st, unsigned rate, const uint8_t *in0, const uint8_t *in1,
                             const uint8_t *in2, const uint8_t *in3, size_t len) {
    const uint8_t *in[4] = {in0, in1, in2, in3};
    memset(st->s, 0, sizeof(st->s));
    for (int j = 0; j < 4; j++) {
        size_t i = 0;
        for (; i + 8 <= len; i += 8) memcpy(&st->s[i / 8][j], in[j] + i, 8);
        for (; i < len; i++) st->s[i / 8][j] |= (uint64_t)in[j][i] << 8 * (i % 8);
        st->s[len / 8][j] ^= (uint64_t)HZ_KECCAK_SHAKE << 8 * (len % 8);
        st->s[(rate - 1) / 8][j] ^= 0x80ULL << 8 * ((rate - 1) % 8);
    }
}

void hz__shakex4_squeezeblocks(hz_keccakx4_t *st, unsigned rate, uint8_t *out0, uint8_t *out1,
                               uint8_t *out2, uint8_t *out3, size_t nblocks) {
    /* Four lanes of the four states form a 4x4 matrix of words; transposing it gives 32
     * consecutive output bytes of each state. */
    uint8_t *out[4] = {out0, out1, out2, out3};
    for (size_t b = 0; b < nblocks; b++) {
        hz__keccakf1600x4(st);
        unsigned i = 0;
        for (; i + 4 <= rate / 8; i += 4) {
            __m256i l0 = _mm256_load_si256((const __m256i *)st->s[i]);
            __m256i l1 = _mm256_load_si256((const __m256i *)st->s[i + 1]);
            __m256i l2 = _mm256_load_si256((const __m256i *)st->s[i + 2]);
            __m256i l3 = _mm256_load_si256((const __m256i *)st->s[i + 3]);
            __m256i t0 = _mm256_unpacklo_epi64(l0, l1), t1 = _mm256_unpackhi_epi64(l0, l1);
            __m256i t2 = _mm256_unpacklo_epi64(l2, l3), t3 = _mm256_unpackhi_epi64(l2, l3);
            _mm256_storeu_si256((__m256i *)(out[0] + b * rate + 8 * i), _mm256_permute2x128_si256(t0, t2, 0x20));
            _mm256_storeu_si256((__m256i *)(out[1] + b * rate + 8 * i), _mm256_permute2x128_si256(t1, t3, 0x20));
            _mm256_storeu_si256((__m256i *)(out[2] + b * rate + 8 * i), _mm256_permute2x128_si256(t0, t2, 0x31));
            _mm256_storeu_si256((__m256i *)(out[3] + b * rate + 8 * i), _mm256_permute2x128_si256(t1, t3, 0x31));
        }
        for (; i < rate / 8; i++)
            for (int j = 0; j < 4; j++) memcpy(out[j] + b * rate + 8 * i, &st->s[i][j], 8);
    }
}

HZ_AVX2_END

#endif
