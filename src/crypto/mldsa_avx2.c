/*
 * ML-DSA polynomial kernels in AVX2, part one: NTT, inverse NTT, Montgomery products and
 * reductions. Eight int32 coefficients fill one vector. (Rounding, norms and the products with
 * the challenge are mldsa_avx2_round.c; sampling and packing helpers mldsa_avx2_bytes.c.)
 *
 * Montgomery multiplication: AVX2 multiplies 32-bit lanes into 64-bit products only at even
 * positions (VPMULDQ), so the odd lanes are shifted down and multiplied separately, and the two
 * halves are blended back. With z' = z * q^-1 mod 2^32 precomputed, m = a * z' mod 2^32 comes
 * from one VPMULLD over all eight lanes, and a * z * 2^-32 mod q is high(a * z - m * q), the low
 * words cancelling exactly; |result| < q whenever |a * z| < 2^31 q.
 *
 * The NTT keeps FIPS 204's order. Five layers pair whole vectors - done in two register-blocked
 * passes of eight vectors (layers 128, 64, 32 over vectors j, j+4, ..., j+28; layers 16, 8 over
 * eight consecutive vectors) - and the last three pair lanes inside a vector, reached by the
 * same 128-bit / 64-bit / 32-bit reshuffles as in mlkem_avx2.c, with twiddle vectors laid out to
 * match. No reduction happens inside either transform: forward layers add at most q each
 * (|x| < 9q at the end), and the inverse's sums stay below 256q < 2^31 for inputs below q.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>

#include "crypto/mldsa_poly.h"

HZ_AVX2_BEGIN

#define Q HZ_DQ
#define QINV 58728449 /* q^-1 mod 2^32 */

/* A twiddle vector: values, the odd lanes' values moved to even lanes, and values * q^-1. */
typedef struct {
    _Alignas(32) int32_t z[8], zo[8], zq[8];
} tw_t;

static struct {
    int32_t zeta[256], zetaq[256]; /* 1753^brv8(i) * 2^32 mod q, centred; times q^-1 mod 2^32 */
    tw_t f4[16], f2[16], f1[16];   /* in-vector layers, per pair m of vectors (2m, 2m+1) */
    tw_t i4[16], i2[16], i1[16];
    int32_t inv_scale, inv_scaleq; /* 256^-1 * 2^64 mod q */
    int32_t inv_last, inv_lastq;   /* inv_scale * zeta[1] * 2^-32: both at once */
} T;

/* ---- tables ------------------------------------------------------------------------------ */

static int64_t powmod(int64_t b, unsigned e) {
    int64_t r = 1;
    for (b %= Q; e; e >>= 1, b = b * b % Q)
        if (e & 1) r = r * b % Q;
    return r;
}

static unsigned brv8(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 8; i++) r |= ((x >> i) & 1) << (7 - i);
    return r;
}

/* x * 2^32 mod q, centred. */
static int32_t to_mont(int64_t x) {
    int64_t r = ((x % Q) + Q) % Q;
    r = (int64_t)(((__int128)r << 32) % Q);
    return (int32_t)(r > Q / 2 ? r - Q : r);
}

static int32_t times_qinv(int32_t z) {
    return (int32_t)((uint32_t)z * (uint32_t)QINV);
}

static void put(tw_t *t, const unsigned idx[8]) {
    for (int i = 0; i < 8; i++) {
        t->z[i] = T.zeta[idx[i]];
        t->zq[i] = T.zetaq[idx[i]];
    }
    for (int i = 0; i < 8; i += 2) t->zo[i] = t->zo[i + 1] = t->z[i + 1];
}

void hz__mldsa_avx2_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        T.zeta[i] = to_mont(powmod(1753, brv8(i)));
        T.zetaq[i] = times_qinv(T.zeta[i]);
    }
    /* Forward layer of distance len uses zeta[128/len + block], the inverse zeta[256/len - 1 -
     * block]. Lane layouts of vectors a = 2m, b = 2m+1 (coefficients 8a..8a+7): distance 4:
     * [a0-3 | b0-3]; distance 2: [a0 a1 a4 a5 | b...]; distance 1: [a0 a2 a4 a6 | b...]. */
    for (unsigned m = 0; m < 16; m++) {
        unsigned f4[8], i4[8], f2[8], i2[8], f1[8], i1[8];
        for (unsigned p = 0; p < 8; p++) {
            unsigned v = 2 * m + p / 4, w = p % 4;
            unsigned b4 = v, b2 = 2 * v + w / 2, b1 = 4 * v + w;
            f4[p] = 32 + b4, i4[p] = 63 - b4;
            f2[p] = 64 + b2, i2[p] = 127 - b2;
            f1[p] = 128 + b1, i1[p] = 255 - b1;
        }
        put(&T.f4[m], f4), put(&T.i4[m], i4);
        put(&T.f2[m], f2), put(&T.i2[m], i2);
        put(&T.f1[m], f1), put(&T.i1[m], i1);
    }
    T.inv_scale = to_mont(to_mont(powmod(256, Q - 2)));
    T.inv_scaleq = times_qinv(T.inv_scale);
    int64_t rinv = powmod(powmod(2, 32), Q - 2); /* mont(x, c) = x c 2^-32, so c = s z 2^-32 */
    T.inv_last = to_mont((int64_t)T.inv_scale * T.zeta[1] % Q * rinv % Q * rinv % Q);
    T.inv_lastq = times_qinv(T.inv_last);
}

/* ---- arithmetic -------------------------------------------------------------------------- */

#define QV _mm256_set1_epi32(Q)

/* a * z * 2^-32 mod q; zo = z's odd lanes at even positions, zq = z * q^-1. */
static inline __m256i mont(__m256i a, __m256i z, __m256i zo, __m256i zq) {
    __m256i m = _mm256_mullo_epi32(a, zq);
    __m256i pe = _mm256_sub_epi64(_mm256_mul_epi32(a, z), _mm256_mul_epi32(m, QV));
    __m256i po = _mm256_sub_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), zo),
                                  _mm256_mul_epi32(_mm256_srli_epi64(m, 32), QV));
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

/* Montgomery reduction of 64-bit even and odd accumulators back to eight 32-bit lanes. */
static inline __m256i mont_reduce(__m256i ce, __m256i co) {
    const __m256i qinv = _mm256_set1_epi32(QINV);
    ce = _mm256_sub_epi64(ce, _mm256_mul_epi32(_mm256_mul_epi32(ce, qinv), QV));
    co = _mm256_sub_epi64(co, _mm256_mul_epi32(_mm256_mul_epi32(co, qinv), QV));
    return _mm256_blend_epi32(_mm256_srli_epi64(ce, 32), co, 0xAA);
}

static inline void ct(__m256i *a, __m256i *b, __m256i z, __m256i zo, __m256i zq) {
    __m256i t = mont(*b, z, zo, zq);
    *b = _mm256_sub_epi32(*a, t);
    *a = _mm256_add_epi32(*a, t);
}

static inline void gs(__m256i *a, __m256i *b, __m256i z, __m256i zo, __m256i zq) {
    __m256i t = *a;
    *a = _mm256_add_epi32(t, *b);
    *b = mont(_mm256_sub_epi32(*b, t), z, zo, zq);
}

#define ZETA(i) _mm256_set1_epi32(T.zeta[i]), _mm256_set1_epi32(T.zeta[i]), _mm256_set1_epi32(T.zetaq[i])
#define TW(t)                                                                                    \
    _mm256_load_si256((const __m256i *)(t).z), _mm256_load_si256((const __m256i *)(t).zo),        \
        _mm256_load_si256((const __m256i *)(t).zq)

static inline void halves(__m256i *x, __m256i *y, __m256i a, __m256i b) {
    *x = _mm256_permute2x128_si256(a, b, 0x20);
    *y = _mm256_permute2x128_si256(a, b, 0x31);
}
static inline void quads(__m256i *p, __m256i *q, __m256i x, __m256i y) {
    *p = _mm256_unpacklo_epi64(x, y);
    *q = _mm256_unpackhi_epi64(x, y);
}
static inline void pairs(__m256i *u, __m256i *w, __m256i p, __m256i q) {
    *u = _mm256_blend_epi32(p, _mm256_slli_epi64(q, 32), 0xAA);
    *w = _mm256_blend_epi32(_mm256_srli_epi64(p, 32), q, 0xAA);
}

static inline void ntt_tail(__m256i *a, __m256i *b, unsigned m) {
    __m256i x, y, p, q, u, w;
    halves(&x, &y, *a, *b);
    ct(&x, &y, TW(T.f4[m]));
    quads(&p, &q, x, y);
    ct(&p, &q, TW(T.f2[m]));
    pairs(&u, &w, p, q);
    ct(&u, &w, TW(T.f1[m]));
    pairs(&p, &q, u, w);
    quads(&x, &y, p, q);
    halves(a, b, x, y);
}

static inline void invntt_head(__m256i *a, __m256i *b, unsigned m) {
    __m256i x, y, p, q, u, w;
    halves(&x, &y, *a, *b);
    quads(&p, &q, x, y);
    pairs(&u, &w, p, q);
    gs(&u, &w, TW(T.i1[m]));
    pairs(&p, &q, u, w);
    gs(&p, &q, TW(T.i2[m]));
    quads(&x, &y, p, q);
    gs(&x, &y, TW(T.i4[m]));
    halves(a, b, x, y);
}

/* The loops below are unrolled completely so the eight vectors of a pass stay in registers. */
void hz__dpoly_ntt(hz_dpoly_t *poly) {
    __m256i *v = (__m256i *)poly->c;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256(v + j + 4 * i);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) ct(&r[i], &r[i + 4], ZETA(1));
        ct(&r[0], &r[2], ZETA(2)), ct(&r[1], &r[3], ZETA(2));
        ct(&r[4], &r[6], ZETA(3)), ct(&r[5], &r[7], ZETA(3));
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) ct(&r[2 * i], &r[2 * i + 1], ZETA(4 + i));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) _mm256_store_si256(v + j + 4 * i, r[i]);
    }
#pragma GCC unroll 4
    for (unsigned g = 0; g < 4; g++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256(v + 8 * g + i);
        ct(&r[0], &r[2], ZETA(8 + 2 * g)), ct(&r[1], &r[3], ZETA(8 + 2 * g));
        ct(&r[4], &r[6], ZETA(9 + 2 * g)), ct(&r[5], &r[7], ZETA(9 + 2 * g));
#pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++) ct(&r[2 * i], &r[2 * i + 1], ZETA(16 + 4 * g + i));
#pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++) ntt_tail(&r[2 * i], &r[2 * i + 1], 4 * g + i);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) _mm256_store_si256(v + 8 * g + i, r[i]);
    }
}

void hz__dpoly_invntt(hz_dpoly_t *poly) {
    __m256i *v = (__m256i *)poly->c;
#pragma GCC unroll 4
    for (unsigned g = 0; g < 4; g++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256(v + 8 * g + i);
#pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++) invntt_head(&r[2 * i], &r[2 * i + 1], 4 * g + i);
#pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++) gs(&r[2 * i], &r[2 * i + 1], ZETA(31 - (4 * g + i)));
        gs(&r[0], &r[2], ZETA(15 - 2 * g)), gs(&r[1], &r[3], ZETA(15 - 2 * g));
        gs(&r[4], &r[6], ZETA(14 - 2 * g)), gs(&r[5], &r[7], ZETA(14 - 2 * g));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) _mm256_store_si256(v + 8 * g + i, r[i]);
    }
    /* The last layer also applies the final factor: sums times s, differences times s * zeta_1
     * (both constants premultiplied), one multiplication each instead of two. */
    const __m256i s = _mm256_set1_epi32(T.inv_scale), sq = _mm256_set1_epi32(T.inv_scaleq);
    const __m256i zs = _mm256_set1_epi32(T.inv_last), zsq = _mm256_set1_epi32(T.inv_lastq);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256(v + j + 4 * i);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) gs(&r[2 * i], &r[2 * i + 1], ZETA(7 - i));
        gs(&r[0], &r[2], ZETA(3)), gs(&r[1], &r[3], ZETA(3));
        gs(&r[4], &r[6], ZETA(2)), gs(&r[5], &r[7], ZETA(2));
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m256i t = r[i];
            _mm256_store_si256(v + j + 4 * i, mont(_mm256_add_epi32(t, r[i + 4]), s, s, sq));
            _mm256_store_si256(v + j + 4 * (i + 4), mont(_mm256_sub_epi32(r[i + 4], t), zs, zs, zsq));
        }
    }
}

void hz__dpoly_pointwise(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b) {
    for (int i = 0; i < 32; i++) {
        __m256i x = _mm256_load_si256((const __m256i *)a->c + i), y = _mm256_load_si256((const __m256i *)b->c + i);
        __m256i pe = _mm256_mul_epi32(x, y);
        __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(y, 32));
        _mm256_store_si256((__m256i *)r->c + i, mont_reduce(pe, po));
    }
}

void hz__dpoly_dot(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *v, unsigned n) {
    for (int i = 0; i < 32; i++) {
        __m256i ce = _mm256_setzero_si256(), co = _mm256_setzero_si256();
        for (unsigned j = 0; j < n; j++) {
            __m256i x = _mm256_load_si256((const __m256i *)a[j].c + i);
            __m256i y = _mm256_load_si256((const __m256i *)v[j].c + i);
            ce = _mm256_add_epi64(ce, _mm256_mul_epi32(x, y));
            co = _mm256_add_epi64(co, _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(y, 32)));
        }
        _mm256_store_si256((__m256i *)r->c + i, mont_reduce(ce, co));
    }
}

/* ---- reductions ------------------------------------------------------------------------------- */

#define EACH(i) for (int i = 0; i < 32; i++)
#define LD(p, i) _mm256_load_si256((const __m256i *)(p)->c + (i))
#define ST(p, i, x) _mm256_store_si256((__m256i *)(p)->c + (i), (x))

void hz__dpoly_reduce(hz_dpoly_t *p) {
    /* a - round(a / 2^23) * q, with t * q = t * 2^23 - t * 2^13 + t */
    EACH(i) {
        __m256i a = LD(p, i);
        __m256i t = _mm256_srai_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(1 << 22)), 23);
        __m256i tq = _mm256_add_epi32(_mm256_sub_epi32(_mm256_slli_epi32(t, 23), _mm256_slli_epi32(t, 13)), t);
        ST(p, i, _mm256_sub_epi32(a, tq));
    }
}

void hz__dpoly_caddq(hz_dpoly_t *p) {
    EACH(i) {
        __m256i a = LD(p, i);
        ST(p, i, _mm256_add_epi32(a, _mm256_and_si256(_mm256_srai_epi32(a, 31), QV)));
    }
}

void hz__dpoly_add(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b) {
    EACH(i) ST(r, i, _mm256_add_epi32(LD(a, i), LD(b, i)));
}

void hz__dpoly_sub(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b) {
    EACH(i) ST(r, i, _mm256_sub_epi32(LD(a, i), LD(b, i)));
}

HZ_AVX2_END

#endif
