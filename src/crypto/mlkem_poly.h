/*
 * Private to src/crypto: ML-KEM polynomial arithmetic for the fast path, between the scheme
 * (mlkem_fast.c) and its AVX2 kernels (mlkem_avx2.c).
 *
 * A polynomial is 256 int16 coefficients mod q = 3329, 32-byte aligned. In the NTT domain the
 * order is FIPS 203's: pairs (2i, 2i+1) are residues mod X^2 - gamma_i. Coefficients are kept
 * only partly reduced between steps; each function states the bound it needs and the bound it
 * leaves, and mlkem_fast.c canonicalises to [0, q) before anything is encoded.
 */
#ifndef HZ_CRYPTO_MLKEM_POLY_H
#define HZ_CRYPTO_MLKEM_POLY_H

#include <stddef.h>
#include <stdint.h>

#define HZ_KQ 3329

typedef struct {
    _Alignas(32) int16_t c[256];
} hz_kpoly_t;

/* The right-hand operand of base-case multiplication, prepared once and used against many
 * left-hand polynomials: z = (b0, b1 * gamma_i) and s = (b1, b0) per pair, so each product
 * pair is two multiply-adds. */
typedef struct {
    hz_kpoly_t z, s;
} hz_kpoly_prep_t;

/* Forward NTT, in place. In: |x| <= q. Out: |x| < q. */
void hz__kpoly_ntt(hz_kpoly_t *p);
/* Inverse NTT times 2^16 (cancelling the 2^-16 of basemul). In: |x| < q. Out: |x| < q. */
void hz__kpoly_invntt(hz_kpoly_t *p);
/* In: |b| < 4096 (so an unreduced decoded key is still safe). */
void hz__kpoly_prep(hz_kpoly_prep_t *r, const hz_kpoly_t *b);
/* r = sum over j < k of a[j] o b[j], times 2^-16. In: |a| < 4096, k <= 4. Out: |r| < q. */
void hz__kpoly_basemul_acc(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_prep_t *b, unsigned k);
/* p * 2^16 mod q. In: any int16. Out: |x| < q. */
void hz__kpoly_tomont(hz_kpoly_t *p);
/* Canonical [0, q) from |x| < 2^15 (a Barrett reduction, then + q if negative). */
void hz__kpoly_canon(hz_kpoly_t *p);
void hz__kpoly_add(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_t *b);
void hz__kpoly_sub(hz_kpoly_t *r, const hz_kpoly_t *a, const hz_kpoly_t *b);
/* The rejection step's table (mlkem_avx2_bytes.c), filled by hz__mlkem_avx2_init. */
void hz__mlkem_avx2_bytes_init(void);
/* FIPS 203 SampleNTT's rejection step: parses 12-bit candidates from buf (len a multiple of 3)
 * and stores those below q into r until `need` are stored. Returns how many were stored. */
unsigned hz__kpoly_rej_uniform(int16_t *r, unsigned need, const uint8_t *buf, size_t len);

/* SamplePolyCBD_2 of 128 PRF bytes. */
void hz__kpoly_cbd2(hz_kpoly_t *r, const uint8_t buf[128]);
/* ByteEncode_d(Compress_d(a)) for d in {1, 4, 5, 10, 11}; a canonical. 32d bytes. */
void hz__kpoly_compress(uint8_t *r, const hz_kpoly_t *a, unsigned d);
/* Decompress_d(ByteDecode_d(a)): values in [0, q). */
void hz__kpoly_decompress(hz_kpoly_t *r, const uint8_t *a, unsigned d);

#endif
