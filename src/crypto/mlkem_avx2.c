/*
 * ML-KEM polynomial kernels in AVX2: NTT, inverse NTT, base-case multiplication and reductions.
 * Sixteen int16 coefficients fill one vector. (Sampling and compression are mlkem_avx2_bytes.c.)
 *
 * Montgomery multiplication by a constant z uses the precomputed z * q^-1 mod 2^16: the low
 * halves of a * z * q^-1 give m, and a * z * 2^-16 mod q is high(a * z) - high(m * q) (the low
 * halves cancel exactly). So a product is three multiplies and a subtraction, |result| < q for
 * |a| < 2^15 and |z| < q / 2.
 *
 * The NTT keeps FIPS 203's coefficient order. Its first four layers pair whole vectors; the last
 * three (distances 8, 4, 2) pair coefficients inside a vector, so each pair of vectors is
 * reshuffled in registers - 128-bit halves swapped, then 64-bit, then 32-bit units interleaved -
 * so that every butterfly again has its two operands at the same position of two vectors, and
 * shuffled back afterwards. The twiddle vectors for those layers follow the same layout and are
 * built once at start-up from 17, the primitive 256th root of unity, with the rest of the tables.
 * Coefficients grow by at most q per forward layer, so the forward transform needs no reduction
 * until the end (|x| < 8q < 2^15); the inverse doubles them per layer and reduces after the
 * third and sixth layers.
 *
 * Base-case multiplication (FIPS 203 Algorithm 12) uses VPMADDWD: with the right operand
 * prepared as (b0, b1 * gamma) and (b1, b0), each output pair is two multiply-adds of 32-bit
 * results, accumulated over the whole row (k <= 4 products stay below q * 2^15) and reduced
 * once.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <immintrin.h>

#include "crypto/mlkem_poly.h"

HZ_AVX2_BEGIN

#define Q HZ_KQ
#define QINV (-3327) /* q^-1 mod 2^16 */
#define BARRETT_V 20159 /* round(2^26 / q) */

static struct {
    int16_t zeta[128], zetaq[128]; /* 17^brv7(i) * 2^16 mod q, centred; times q^-1 mod 2^16 */
    /* Twiddles of the in-vector layers, per pair m of vectors (2m, 2m+1): forward and inverse. */
    _Alignas(32) int16_t f8[8][2][16], f4[8][2][16], f2[8][2][16];
    _Alignas(32) int16_t i8[8][2][16], i4[8][2][16], i2[8][2][16];
    _Alignas(32) int16_t gamma[16][2][16]; /* gamma_i * 2^16 mod q at odd positions */
    int16_t inv_scale, inv_scaleq;         /* 128^-1 * 2^32 mod q: inverse NTT output * 2^16 */
    int16_t inv_last, inv_lastq;           /* inv_scale * zeta[1] * 2^-16: both at once */
    int16_t r2, r2q;                       /* 2^32 mod q: to Montgomery form */
} T;

/* ---- tables ------------------------------------------------------------------------------ */

static int32_t powmod(int32_t b, unsigned e) {
    int64_t r = 1, x = b;
    for (; e; e >>= 1, x = x * x % Q)
        if (e & 1) r = r * x % Q;
    return (int32_t)r;
}

static unsigned brv7(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 7; i++) r |= ((x >> i) & 1) << (6 - i);
    return r;
}

/* x * 2^16 mod q, centred in (-q/2, q/2]. */
static int16_t to_mont(int32_t x) {
    int32_t r = (int32_t)((int64_t)((x % Q + Q) % Q) * 65536 % Q);
    return (int16_t)(r > Q / 2 ? r - Q : r);
}

static int16_t times_qinv(int16_t z) {
    return (int16_t)(uint16_t)((uint32_t)(uint16_t)z * (uint16_t)QINV);
}

/* Fills a [2][16] twiddle entry: values for 16 positions, then their q^-1 multiples. */
static void put(int16_t dst[2][16], const int16_t idx[16], const int16_t *zeta) {
    for (int i = 0; i < 16; i++) {
        dst[0][i] = zeta[idx[i]];
        dst[1][i] = times_qinv(zeta[idx[i]]);
    }
}

void hz__mlkem_avx2_init(void) {
    for (unsigned i = 0; i < 128; i++) {
        T.zeta[i] = to_mont(powmod(17, brv7(i)));
        T.zetaq[i] = times_qinv(T.zeta[i]);
    }
    /* Forward layer of distance len uses zeta[128/len + block]; the inverse (FIPS 203
     * Algorithm 10) uses zeta[256/len - 1 - block]. Vector a = 2m holds coefficients 16a..16a+15.
     * In-register layouts (see hz__kpoly_ntt): distance 8: [a 0-7 | b 0-7] against [a 8-15 |
     * b 8-15]; distance 4: [a 0-3, a 8-11 | b 0-3, b 8-11]; distance 2: 2-word units
     * [a 0-1, a 4-5, a 8-9, a 12-13 | same of b]. */
    for (unsigned m = 0; m < 8; m++) {
        int16_t i8f[16], i8i[16], i4f[16], i4i[16], i2f[16], i2i[16];
        for (unsigned p = 0; p < 16; p++) {
            unsigned v = 2 * m + p / 8, w = p % 8; /* vector and position within its half */
            unsigned b8 = v;                       /* blocks of 16 */
            unsigned b4 = 2 * v + w / 4;           /* blocks of 8 */
            unsigned b2 = 4 * v + w / 2;           /* blocks of 4 */
            i8f[p] = (int16_t)(16 + b8), i8i[p] = (int16_t)(31 - b8);
            i4f[p] = (int16_t)(32 + b4), i4i[p] = (int16_t)(63 - b4);
            i2f[p] = (int16_t)(64 + b2), i2i[p] = (int16_t)(127 - b2);
        }
        put(T.f8[m], i8f, T.zeta), put(T.i8[m], i8i, T.zeta);
        put(T.f4[m], i4f, T.zeta), put(T.i4[m], i4i, T.zeta);
        put(T.f2[m], i2f, T.zeta), put(T.i2[m], i2i, T.zeta);
    }
    for (unsigned v = 0; v < 16; v++)
        for (unsigned p = 0; p < 16; p++) {
            unsigned pair = 8 * v + p / 2;
            int16_t g = (p & 1) ? to_mont(powmod(17, 2 * brv7(pair) + 1)) : 0;
            T.gamma[v][0][p] = g;
            T.gamma[v][1][p] = times_qinv(g);
        }
    /* to_mont(x) is x * 2^16; applying it twice gives the constants multiplied by 2^32. */
    T.inv_scale = to_mont(to_mont(powmod(128, Q - 2)));
    T.inv_scaleq = times_qinv(T.inv_scale);
    int32_t rinv = powmod(powmod(2, 16), Q - 2); /* fqmul(x, c) = x c 2^-16, so c = s z 2^-16 */
    T.inv_last = to_mont((int32_t)((int64_t)T.inv_scale * T.zeta[1] % Q * rinv % Q * rinv % Q));
    T.inv_lastq = times_qinv(T.inv_last);
    T.r2 = to_mont(to_mont(1));
    T.r2q = times_qinv(T.r2);
    hz__mlkem_avx2_bytes_init();
}

/* ---- arithmetic -------------------------------------------------------------------------- */

static inline __m256i fqmul(__m256i a, __m256i z, __m256i zq) {
    __m256i hi = _mm256_mulhi_epi16(a, z);
    __m256i m = _mm256_mullo_epi16(a, zq);
    return _mm256_sub_epi16(hi, _mm256_mulhi_epi16(m, _mm256_set1_epi16(Q)));
}

static inline __m256i barrett(__m256i a) {
    __m256i t = _mm256_mulhi_epi16(a, _mm256_set1_epi16(BARRETT_V)); /* a * v / 2^16 */
    t = _mm256_mulhrs_epi16(t, _mm256_set1_epi16(1 << 5));          /* round(that / 2^10) */
    return _mm256_sub_epi16(a, _mm256_mullo_epi16(t, _mm256_set1_epi16(Q)));
}

static inline void ct(__m256i *a, __m256i *b, __m256i z, __m256i zq) {
    __m256i t = fqmul(*b, z, zq);
    *b = _mm256_sub_epi16(*a, t);
    *a = _mm256_add_epi16(*a, t);
}

static inline void gs(__m256i *a, __m256i *b, __m256i z, __m256i zq) {
    __m256i t = *a;
    *a = _mm256_add_epi16(t, *b);
    *b = fqmul(_mm256_sub_epi16(*b, t), z, zq);
}

#define TW(tab) _mm256_load_si256((const __m256i *)(tab)[0]), _mm256_load_si256((const __m256i *)(tab)[1])
#define ZETA(i) _mm256_set1_epi16(T.zeta[i]), _mm256_set1_epi16(T.zetaq[i])

/* The reshuffles between in-vector layers; each is its own inverse's mirror image. */
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

/* Layers of distance 8, 4, 2 on vectors 2m and 2m+1. */
static inline void ntt_tail(__m256i *a, __m256i *b, unsigned m) {
    __m256i x, y, p, q, u, w;
    halves(&x, &y, *a, *b);
    ct(&x, &y, TW(T.f8[m]));
    quads(&p, &q, x, y);
    ct(&p, &q, TW(T.f4[m]));
    pairs(&u, &w, p, q);
    ct(&u, &w, TW(T.f2[m]));
    pairs(&p, &q, u, w);
    quads(&x, &y, p, q);
    halves(a, b, x, y);
}

static inline void invntt_head(__m256i *a, __m256i *b, unsigned m) {
    __m256i x, y, p, q, u, w;
    halves(&x, &y, *a, *b);
    quads(&p, &q, x, y);
    pairs(&u, &w, p, q);
    gs(&u, &w, TW(T.i2[m]));
    pairs(&p, &q, u, w);
    gs(&p, &q, TW(T.i4[m]));
    quads(&x, &y, p, q);
    gs(&x, &y, TW(T.i8[m]));
    x = barrett(x); /* the sums reached 8q */
    halves(a, b, x, y);
}

/* The loops below are unrolled completely so the eight vectors of a pass stay in registers. */
void hz__kpoly_ntt(hz_kpoly_t *poly) {
    __m256i *v = (__m256i *)poly->c;
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        __m256i a = _mm256_load_si256(v + j), b = _mm256_load_si256(v + j + 8);
        ct(&a, &b, ZETA(1));
        _mm256_store_si256(v + j, a);
        _mm256_store_si256(v + j + 8, b);
    }
#pragma GCC unroll 2
    for (unsigned h = 0; h < 2; h++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) r[j] = _mm256_load_si256(v + 8 * h + j);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) ct(&r[j], &r[j + 4], ZETA(2 + h));
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            ct(&r[j], &r[j + 2], ZETA(4 + 2 * h));
            ct(&r[j + 4], &r[j + 6], ZETA(5 + 2 * h));
        }
#pragma GCC unroll 4
        for (unsigned j = 0; j < 4; j++) ct(&r[2 * j], &r[2 * j + 1], ZETA(8 + 4 * h + j));
#pragma GCC unroll 4
        for (unsigned j = 0; j < 4; j++) ntt_tail(&r[2 * j], &r[2 * j + 1], 4 * h + j);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_store_si256(v + 8 * h + j, barrett(r[j]));
    }
}

void hz__kpoly_invntt(hz_kpoly_t *poly) {
    __m256i *v = (__m256i *)poly->c;
#pragma GCC unroll 2
    for (unsigned h = 0; h < 2; h++) {
        __m256i r[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) r[j] = _mm256_load_si256(v + 8 * h + j);
#pragma GCC unroll 4
        for (unsigned j = 0; j < 4; j++) invntt_head(&r[2 * j], &r[2 * j + 1], 4 * h + j);
#pragma GCC unroll 4
        for (unsigned j = 0; j < 4; j++) gs(&r[2 * j], &r[2 * j + 1], ZETA(15 - (4 * h + j)));
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            gs(&r[j], &r[j + 2], ZETA(7 - 2 * h));
            gs(&r[j + 4], &r[j + 6], ZETA(6 - 2 * h));
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            gs(&r[j], &r[j + 4], ZETA(3 - h));
            r[j] = barrett(r[j]); /* the sums reached 8q again */
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_store_si256(v + 8 * h + j, r[j]);
    }
    /* The last layer also applies the final factor: sums times s, differences times s * zeta_1
     * (premultiplied), one multiplication each instead of two. */
    __m256i s = _mm256_set1_epi16(T.inv_scale), sq = _mm256_set1_epi16(T.inv_scaleq);
    __m256i zs = _mm256_set1_epi16(T.inv_last), zsq = _mm256_set1_epi16(T.inv_lastq);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        __m256i a = _mm256_load_si256(v + j), b = _mm256_load_si256(v + j + 8);
        _mm256_store_si256(v + j, fqmul(_mm256_add_epi16(a, b), s, sq));
        _mm256_store_si256(v + j + 8, fqmul(_mm256_sub_epi16(b, a), zs, zsq));
    }
}

void hz__kpoly_prep(hz_kpoly_prep_t *r, const hz_kpoly_t *b) {
    const __m256i swap = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6,
                                          7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    for (int v = 0; v < 16; v++) {
        __m256i x = _mm256_load_si256((const __m256i *)b->c + v);
        __m256i g = fqmul(x, TW(T.gamma[v]));
        _mm256_store_si256((__m256i *)r->z.c + v, _mm256_blend_epi16(x, g, 0xAA));
        _mm256_store_si256((__m256i *)r->s.c + v, _mm256_shuffle_epi8(x, swap));
    }
}

void hz__kpoly_basemul_acc(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_prep_t *b, unsigned k) {
    const __m256i q = _mm256_set1_epi16(Q), qinv = _mm256_set1_epi16(QINV);
    for (int v = 0; v < 16; v++) {
        __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
        for (unsigned j = 0; j < k; j++) {
            __m256i x = _mm256_load_si256((const __m256i *)a[j].c + v);
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)b[j].z.c + v)));
            c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)b[j].s.c + v)));
        }
        /* Montgomery reduction of 32-bit lanes; c0's result lands in the low half, c1's in the
         * high half, which is the pair order of the output. */
        __m256i m0 = _mm256_mulhi_epi16(_mm256_mullo_epi16(c0, qinv), q);
        __m256i m1 = _mm256_mulhi_epi16(_mm256_mullo_epi16(c1, qinv), q);
        __m256i r0 = _mm256_sub_epi16(_mm256_srli_epi32(c0, 16), m0);
        __m256i r1 = _mm256_sub_epi16(c1, _mm256_slli_epi32(m1, 16));
        _mm256_store_si256((__m256i *)r->c + v, _mm256_blend_epi16(r0, r1, 0xAA));
    }
}

void hz__kpoly_tomont(hz_kpoly_t *p) {
    __m256i z = _mm256_set1_epi16(T.r2), zq = _mm256_set1_epi16(T.r2q);
    for (int v = 0; v < 16; v++) {
        __m256i *x = (__m256i *)p->c + v;
        _mm256_store_si256(x, fqmul(_mm256_load_si256(x), z, zq));
    }
}

void hz__kpoly_canon(hz_kpoly_t *p) {
    const __m256i q = _mm256_set1_epi16(Q);
    for (int v = 0; v < 16; v++) {
        __m256i *x = (__m256i *)p->c + v;
        __m256i y = barrett(_mm256_load_si256(x));
        y = _mm256_add_epi16(y, _mm256_and_si256(_mm256_srai_epi16(y, 15), q));
        _mm256_store_si256(x, y);
    }
}

void hz__kpoly_add(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_t *b) {
    for (int v = 0; v < 16; v++)
        _mm256_store_si256((__m256i *)r->c + v, _mm256_add_epi16(_mm256_load_si256((const __m256i *)a->c + v),
                                                                 _mm256_load_si256((const __m256i *)b->c + v)));
}

void hz__kpoly_sub(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_t *b) {
    for (int v = 0; v < 16; v++)
        _mm256_store_si256((__m256i *)r->c + v, _mm256_sub_epi16(_mm256_load_si256((const __m256i *)a->c + v),
                                                                 _mm256_load_si256((const __m256i *)b->c + v)));
}

HZ_AVX2_END

#endif
