/*
 * Private to src/crypto: ML-DSA polynomial arithmetic for the fast path, between the scheme
 * (mldsa_fast.c, mldsa_pack.c) and its AVX2 kernels (mldsa_avx2.c).
 *
 * A polynomial is 256 int32 coefficients mod q = 8380417, 32-byte aligned, in FIPS 204's order
 * in both domains. Products are Montgomery products (a * b * 2^-32); the inverse NTT multiplies
 * by 2^32 to cancel one, so NTT^-1(NTT(a) o NTT(b)) is a * b. Each function states the bound
 * it needs and the bound it leaves.
 */
#ifndef HZ_CRYPTO_MLDSA_POLY_H
#define HZ_CRYPTO_MLDSA_POLY_H

#include <stddef.h>
#include <stdint.h>

#define HZ_DQ 8380417

typedef struct {
    _Alignas(32) int32_t c[256];
} hz_dpoly_t;

/* In: |x| < q. Out: |x| < 9q. */
void hz__dpoly_ntt(hz_dpoly_t *p);
/* NTT^-1 times 2^32. In: |x| < q. Out: |x| < q. */
void hz__dpoly_invntt(hz_dpoly_t *p);
/* r = a o b * 2^-32. In: |a|, |b| < 9q. Out: |r| < q. */
void hz__dpoly_pointwise(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b);
/* r = sum over j < n of a[j] o v[j] * 2^-32, reduced once. In: |a| < q, |v| < 9q, n <= 7. Out: |r| < q. */
void hz__dpoly_dot(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *v, unsigned n);
/* Centred-ish reduction: |out| <= 6283009; small values come out as their centred representative. */
void hz__dpoly_reduce(hz_dpoly_t *p);
/* Canonical [0, q) from |x| < q. */
void hz__dpoly_caddq(hz_dpoly_t *p);
void hz__dpoly_add(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b);
void hz__dpoly_sub(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *b);
/* FIPS 204 Decompose for a in [0, q): a1 = HighBits, a0 = LowBits (centred). */
void hz__dpoly_decompose(hz_dpoly_t *a1, hz_dpoly_t *a0, const hz_dpoly_t *a, int32_t gamma2);
/* h = MakeHint in the form of the reference implementation: 1 where a0 (the low part of the
 * value with the hint applied) lies outside [-gamma2, gamma2], or equals -gamma2 with a1 != 0.
 * Returns the number of ones. */
unsigned hz__dpoly_make_hint(hz_dpoly_t *h, const hz_dpoly_t *a0, const hz_dpoly_t *a1, int32_t gamma2);
/* FIPS 204 UseHint for a in [0, q) and h in {0, 1}. */
void hz__dpoly_use_hint(hz_dpoly_t *r, const hz_dpoly_t *a, const hz_dpoly_t *h, int32_t gamma2);
/* 1 if some |a_i| >= bound (a centred and small), else 0. */
int hz__dpoly_chknorm(const hz_dpoly_t *a, int32_t bound);
/* FIPS 204 Power2Round (d = 13) for a in [0, q). */
void hz__dpoly_power2round(hz_dpoly_t *a1, hz_dpoly_t *a0, const hz_dpoly_t *a);
/* BitUnpack(a, gamma1 - 1, gamma1) of one polynomial with bits = 18 or 20: reads 32 * bits
 * bytes and up to 8 more, which the caller must have readable. */
void hz__dpoly_unpack_z(hz_dpoly_t *r, const uint8_t *a, unsigned bits);
/* BitPack(z, gamma1 - 1, gamma1) for gamma1 = 2^19: 640 bytes, writing up to 6 more. */
void hz__dpoly_pack_z20(uint8_t *r, const hz_dpoly_t *z);
/* w1Encode of one polynomial with coefficients below 16. */
void hz__dpoly_pack_w1_4(uint8_t r[128], const hz_dpoly_t *w1);
/* The positions of the ones of a 0/1 polynomial, in order; returns how many. */
unsigned hz__dpoly_hint_positions(uint8_t *out, const hz_dpoly_t *h);
/* RejNTTPoly's rejection step: 23-bit candidates from 3 bytes each, kept below q. */
unsigned hz__dpoly_rej_uniform(int32_t *r, unsigned need, const uint8_t *buf, size_t len);

/* ---- products with the challenge c --------------------------------------------------------
 * c has tau <= 60 coefficients +-1 and the rest 0, so c * s is a sum of tau signed rotations of
 * s (negacyclic: what wraps past X^256 changes sign). For the small secret vectors that is
 * cheaper than a pointwise product and an inverse NTT, and it gives the exact integer result. */

typedef struct {
    uint16_t off[64]; /* per nonzero at position i: where its rotation starts in the prepared
                         rows, (sign < 0 ? 512 : 0) + 256 - i */
    unsigned n;
} hz_dchal_t;

/* s prepared as rows (-s, s) and (s, -s): 16-bit for |s| <= 2^8 (s1, s2), 32-bit otherwise. */
typedef struct {
    _Alignas(32) int16_t v[2][512];
} hz_dsmall_t;
typedef struct {
    _Alignas(32) int32_t v[2][512];
} hz_dwide_t;

void hz__dchal_from(hz_dchal_t *ch, const hz_dpoly_t *c);
void hz__dsmall_prep(hz_dsmall_t *e, const hz_dpoly_t *s);
void hz__dwide_prep(hz_dwide_t *e, const hz_dpoly_t *s);
/* r = c * s exactly. Small: |s| <= 2^8 keeps tau * |s| in 16 bits. Wide: tau * |s| < 2^31. */
void hz__dsmall_mul(hz_dpoly_t *r, const hz_dchal_t *ch, const hz_dsmall_t *e);
void hz__dwide_mul(hz_dpoly_t *r, const hz_dchal_t *ch, const hz_dwide_t *e);

/* ---- one parameter set (mldsa_pack.c) and its encodings --------------------------------- */

typedef struct {
    int set;                           /* 44, 65, 87 */
    unsigned k, l, eta, tau, beta, omega;
    unsigned ctilde;                   /* bytes of c~: lambda / 4 */
    int32_t gamma1, gamma2;
    unsigned z_bits, w1_bits, eta_bits; /* packed widths */
    size_t pk_len, sk_len, sig_len;
} hz_mldsa_params_t;

#define HZ_MLDSA_KMAX 8
#define HZ_MLDSA_LMAX 7

/* NULL for an unknown set. */
const hz_mldsa_params_t *hz__mldsa_params(int set);

void hz__mldsa_pack_pk(const hz_mldsa_params_t *p, uint8_t *pk, const uint8_t rho[32], const hz_dpoly_t *t1);
void hz__mldsa_unpack_pk(const hz_mldsa_params_t *p, uint8_t rho[32], hz_dpoly_t *t1, const uint8_t *pk);
void hz__mldsa_pack_sk(const hz_mldsa_params_t *p, uint8_t *sk, const uint8_t rho[32], const uint8_t key[32],
                       const uint8_t tr[64], const hz_dpoly_t *s1, const hz_dpoly_t *s2, const hz_dpoly_t *t0);
void hz__mldsa_unpack_sk(const hz_mldsa_params_t *p, uint8_t rho[32], uint8_t key[32], uint8_t tr[64],
                         hz_dpoly_t *s1, hz_dpoly_t *s2, hz_dpoly_t *t0, const uint8_t *sk);
/* sig = c~ || z || h; c~ is already in place (written by the signer). */
void hz__mldsa_pack_sig(const hz_mldsa_params_t *p, uint8_t *sig, const hz_dpoly_t *z, const hz_dpoly_t *h);
/* -1 when the hint encoding is malformed (FIPS 204 HintBitUnpack returns bottom). */
int hz__mldsa_unpack_sig(const hz_mldsa_params_t *p, hz_dpoly_t *z, hz_dpoly_t *h, const uint8_t *sig);
/* w1Encode of k polynomials: k * 32 * w1_bits bytes. */
void hz__mldsa_pack_w1(const hz_mldsa_params_t *p, uint8_t *r, const hz_dpoly_t *w1);

/* ---- sampling (mldsa_sample.c) ------------------------------------------------------------ */

/* ExpandA: a[r * l + s] = RejNTTPoly(rho || s || r). */
void hz__mldsa_expand_a(const hz_mldsa_params_t *p, hz_dpoly_t *a, const uint8_t rho[32]);
/* ExpandS: s1 (l polynomials) and s2 (k) from rho' (64 bytes). */
void hz__mldsa_expand_s(const hz_mldsa_params_t *p, hz_dpoly_t *s1, hz_dpoly_t *s2, const uint8_t rhop[64]);
/* ExpandMask as a stream: y for nonces 0, 1, 2, ... of rho'' in order, so signing attempt a
 * (kappa = a * l) takes the next l. Holds secret state: wipe it after use. */
typedef struct {
    const hz_mldsa_params_t *p;
    uint8_t rhopp[64];
    uint32_t next;       /* nonce of the first polynomial of the next batch */
    unsigned have, used; /* polynomials in buf, and already handed out */
    hz_dpoly_t buf[4];
} hz_mldsa_mask_t;
void hz__mldsa_mask_init(hz_mldsa_mask_t *m, const hz_mldsa_params_t *p, const uint8_t rhopp[64]);
void hz__mldsa_mask_next(hz_mldsa_mask_t *m, hz_dpoly_t *y, unsigned n);
/* SampleInBall(c~) */
void hz__mldsa_sample_in_ball(const hz_mldsa_params_t *p, hz_dpoly_t *c, const uint8_t *ctilde);

#endif
