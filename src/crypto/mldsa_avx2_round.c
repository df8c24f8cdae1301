/*
 * ML-DSA polynomial kernels in AVX2, part two: FIPS 204's rounding functions (Decompose,
 * MakeHint, UseHint, Power2Round), the infinity-norm check, and the products with the sparse
 * challenge c.
 *
 * Decompose divides by 2 * gamma2 in single precision (exact for these magnitudes up to one
 * unit), then corrects r1 by comparing the exact integer remainder, so the result is FIPS 204's
 * to the bit; a test checks it against the reference formula for every a in [0, q).
 *
 * c has tau <= 60 coefficients +-1, so c * s is the sum of tau rotations of s, each negated
 * where it wraps past X^256 (negacyclic) and as a whole where c has -1. With s laid out once as
 * the rows (-s, s) and (s, -s), each rotation is one unaligned load per vector from the right
 * row and offset. Signing multiplies c by s1, s2 and t0 this way: for these small or sparse
 * products it is cheaper than pointwise products and inverse NTTs, gives the exact integers,
 * and keeps s1, s2 and t0 out of the NTT domain altogether. c is public (it is part of the
 * signature), so its positions may steer memory accesses; s only ever gets added.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>

#include "crypto/mldsa_poly.h"

HZ_AVX2_BEGIN

#define Q HZ_DQ

#define EACH(i) for (int i = 0; i < 32; i++)
#define LD(p, i) _mm256_load_si256((const __m256i *)(p)->c + (i))
#define ST(p, i, x) _mm256_store_si256((__m256i *)(p)->c + (i), (x))

/* r1, r0 of Decompose for one vector of a in [0, q). */
static inline void decompose(__m256i *r1, __m256i *r0, __m256i a, int32_t gamma2) {
    const int32_t alpha = 2 * gamma2;
    const __m256i al = _mm256_set1_epi32(alpha);
    __m256i h = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_set1_ps(1.0f / (float)alpha)));
    __m256i l = _mm256_sub_epi32(a, _mm256_mullo_epi32(h, al));
    /* bring l into (-gamma2, gamma2] */
    __m256i up = _mm256_cmpgt_epi32(l, _mm256_set1_epi32(gamma2));
    h = _mm256_sub_epi32(h, up);
    l = _mm256_sub_epi32(l, _mm256_and_si256(up, al));
    __m256i down = _mm256_cmpgt_epi32(_mm256_set1_epi32(1 - gamma2), l);
    h = _mm256_add_epi32(h, down);
    l = _mm256_add_epi32(l, _mm256_and_si256(down, al));
    /* a - l = q - 1: r1 = 0 and r0 = l - 1 */
    __m256i wrap = _mm256_cmpeq_epi32(h, _mm256_set1_epi32((Q - 1) / alpha));
    *r1 = _mm256_andnot_si256(wrap, h);
    *r0 = _mm256_add_epi32(l, wrap);
}

void hz__dpoly_decompose(hz_dpoly_t *a1, hz_dpoly_t *a0, const hz_dpoly_t *a, int32_t gamma2) {
    EACH(i) {
        __m256i h, l;
        decompose(&h, &l, LD(a, i), gamma2);
        ST(a1, i, h);
        ST(a0, i, l);
    }
}

unsigned hz__dpoly_make_hint(hz_dpoly_t *h, const hz_dpoly_t *a0, const hz_dpoly_t *a1, int32_t gamma2) {
    const __m256i g = _mm256_set1_epi32(gamma2), ng = _mm256_set1_epi32(-gamma2), one = _mm256_set1_epi32(1);
    unsigned n = 0;
    EACH(i) {
        __m256i x = LD(a0, i);
        __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(x, g), _mm256_cmpgt_epi32(ng, x));
        __m256i edge = _mm256_andnot_si256(_mm256_cmpeq_epi32(LD(a1, i), _mm256_setzero_si256()),
                                           _mm256_cmpeq_epi32(x, ng));
        out = _mm256_or_si256(out, edge);
        ST(h, i, _mm256_and_si256(out, one));
        n += (unsigned)_mm_popcnt_u32((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(out)));
    }
    return n;
}

void hz__dpoly_use_hint(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *h, int32_t gamma2) {
    const int32_t m = (Q - 1) / (2 * gamma2);
    EACH(i) {
        __m256i r1, r0;
        decompose(&r1, &r0, LD(a, i), gamma2);
        /* +1 where r0 > 0, else -1; applied where h = 1; then mod m */
        __m256i delta = _mm256_sub_epi32(_mm256_and_si256(_mm256_cmpgt_epi32(r0, _mm256_setzero_si256()),
                                                          _mm256_set1_epi32(2)),
                                         _mm256_set1_epi32(1));
        r1 = _mm256_add_epi32(r1, _mm256_and_si256(delta, _mm256_sub_epi32(_mm256_setzero_si256(), LD(h, i))));
        r1 = _mm256_add_epi32(r1, _mm256_and_si256(_mm256_srai_epi32(r1, 31), _mm256_set1_epi32(m)));
        r1 = _mm256_andnot_si256(_mm256_cmpeq_epi32(r1, _mm256_set1_epi32(m)), r1);
        ST(r, i, r1);
    }
}

int hz__dpoly_chknorm(const hz_dpoly_t *a, int32_t bound) {
    const __m256i b = _mm256_set1_epi32(bound - 1);
    __m256i bad = _mm256_setzero_si256();
    EACH(i) bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(_mm256_abs_epi32(LD(a, i)), b));
    return !_mm256_testz_si256(bad, bad);
}

void hz__dpoly_power2round(hz_dpoly_t *a1, hz_dpoly_t *a0, const hz_dpoly_t *a) {
    EACH(i) {
        __m256i x = LD(a, i);
        __m256i h = _mm256_srai_epi32(_mm256_add_epi32(x, _mm256_set1_epi32((1 << 12) - 1)), 13);
        ST(a1, i, h);
        ST(a0, i, _mm256_sub_epi32(x, _mm256_slli_epi32(h, 13)));
    }
}

/* ---- multiplication by the sparse challenge c ------------------------------------------------ */

void hz__dchal_from(hz_dchal_t *ch, const hz_dpoly_t *c) {
    /* eight coefficients per step: a mask of the nonzero ones and of the negative ones */
    ch->n = 0;
    for (int i = 0; i < 32; i++) {
        __m256i x = LD(c, i);
        unsigned nz = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(x, _mm256_setzero_si256()))) & 0xFF;
        unsigned neg = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(x));
        for (; nz; nz &= nz - 1) {
            unsigned j = (unsigned)__builtin_ctz(nz);
            ch->off[ch->n++] = (uint16_t)((neg >> j & 1 ? 512 : 0) + 256 - (8 * i + (int)j));
        }
    }
}

void hz__dsmall_prep(hz_dsmall_t *e, const hz_dpoly_t *s) {
    /* v[0] = (-s, s) and v[1] = (s, -s) as int16: row v[sign] from 256 - p on is s * X^p times
     * the sign, mod X^256 + 1. */
    for (int i = 0; i < 256; i += 16) {
        __m256i lo = _mm256_load_si256((const __m256i *)(s->c + i));
        __m256i hi = _mm256_load_si256((const __m256i *)(s->c + i + 8));
        __m256i x = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
        __m256i nx = _mm256_sub_epi16(_mm256_setzero_si256(), x);
        _mm256_store_si256((__m256i *)(e->v[0] + i), nx);
        _mm256_store_si256((__m256i *)(e->v[0] + 256 + i), x);
        _mm256_store_si256((__m256i *)(e->v[1] + i), x);
        _mm256_store_si256((__m256i *)(e->v[1] + 256 + i), nx);
    }
}

/* Eight output vectors at a time in registers: for each nonzero of c, eight unaligned loads
 * from the prepared rows and eight additions, in eight independent chains. */
#define SPARSE_MUL(T, ADD, LANES, r, ch, e)                                                      \
    for (int v = 0; v < 256; v += 8 * (LANES)) {                                                 \
        __m256i acc[8];                                                                          \
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_si256();     \
        for (unsigned j = 0; j < (ch)->n; j++) {                                                 \
            const T *b = &(e)->v[0][0] + (ch)->off[j] + v;                                       \
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                                  \
                acc[k] = ADD(acc[k], _mm256_loadu_si256((const __m256i *)(b + (LANES) * k)));    \
        }                                                                                        \
        STORE_##T(r, v, acc)                                                                     \
    }
#define STORE_int16_t(r, v, acc)                                                                 \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {                                        \
        _mm256_store_si256((__m256i *)((r)->c + (v) + 16 * k), _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[k]))); \
        _mm256_store_si256((__m256i *)((r)->c + (v) + 16 * k + 8), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[k], 1))); \
    }
#define STORE_int32_t(r, v, acc)                                                                 \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) _mm256_store_si256((__m256i *)((r)->c + (v) + 8 * k), acc[k]);

void hz__dsmall_mul(hz_dpoly_t *r, const hz_dchal_t *ch, const hz_dsmall_t *e) {
    /* sums of tau terms of |s| <= 2^8 fit in 16-bit lanes */
    SPARSE_MUL(int16_t, _mm256_add_epi16, 16, r, ch, e)
}

void hz__dwide_prep(hz_dwide_t *e, const hz_dpoly_t *s) {
    for (int i = 0; i < 256; i += 8) {
        __m256i x = _mm256_load_si256((const __m256i *)(s->c + i));
        __m256i nx = _mm256_sub_epi32(_mm256_setzero_si256(), x);
        _mm256_store_si256((__m256i *)(e->v[0] + i), nx);
        _mm256_store_si256((__m256i *)(e->v[0] + 256 + i), x);
        _mm256_store_si256((__m256i *)(e->v[1] + i), x);
        _mm256_store_si256((__m256i *)(e->v[1] + 256 + i), nx);
    }
}

void hz__dwide_mul(hz_dpoly_t *r, const hz_dchal_t *ch, const hz_dwide_t *e) {
    SPARSE_MUL(int32_t, _mm256_add_epi32, 8, r, ch, e)
}

HZ_AVX2_END

#endif
