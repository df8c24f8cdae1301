/*
 * ML-DSA-44/65/87 (FIPS 204) on the AVX2 kernels: KeyGen_internal (Algorithm 6), Sign_internal
 * from mu (Algorithm 7, lines 7 on) and Verify_internal from mu (Algorithm 8), for every
 * parameter set in one body.
 *
 * The signing loop follows the reference implementation's arrangement, which PQClean shares
 * and the known-answer tests pin down: w is decomposed once, the low-bits check is made on
 * w0 - c*s2, and the hint comes from MakeHint(w0 - c*s2 + c*t0, w1). Each norm check runs as
 * soon as its polynomial is ready, so a rejected attempt stops at the first polynomial that
 * fails; c*s2 and c*t0 are computed only for attempts whose z passed. The products with the
 * challenge c (tau entries +-1) are sparse sums of rotations (mldsa_avx2.c) rather than NTT
 * products, so s1, s2 and t0 never enter the NTT domain. A is expanded once per call and kept
 * (k * l KiB on the stack, 56 KiB for ML-DSA-87, as PQClean does).
 *
 * Verification recomputes w'approx = NTT^-1(A z - c t1 2^d) with the product and difference
 * done in the NTT domain, applies the hint, and compares c~ (public data: plain compare).
 * Secret intermediates of key generation and signing are wiped before returning.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <string.h>

#include "crypto/internal.h"
#include "crypto/keccak.h"
#include "crypto/mldsa_poly.h"

#define KMAX HZ_MLDSA_KMAX
#define LMAX HZ_MLDSA_LMAX

void hz__mldsa_fast_keypair(int set, uint8_t *pk, uint8_t *sk, const uint8_t xi[32]) {
    const hz_mldsa_params_t *p = hz__mldsa_params(set);
    uint8_t in[34], seeds[128], tr[64]; /* rho (32) || rho' (64) || K (32) = H(xi || k || l) */
    memcpy(in, xi, 32);
    in[32] = (uint8_t)p->k;
    in[33] = (uint8_t)p->l;
    hz__shake256(seeds, sizeof(seeds), in, sizeof(in));

    hz_dpoly_t a[KMAX * LMAX], s1[LMAX], s2[KMAX], s1hat[LMAX], t1[KMAX], t0[KMAX], t;
    hz__mldsa_expand_a(p, a, seeds);
    hz__mldsa_expand_s(p, s1, s2, seeds + 32);
    for (unsigned j = 0; j < p->l; j++) {
        s1hat[j] = s1[j];
        hz__dpoly_ntt(&s1hat[j]);
    }
    for (unsigned i = 0; i < p->k; i++) {
        hz__dpoly_dot(&t, &a[p->l * i], s1hat, p->l);
        hz__dpoly_invntt(&t);
        hz__dpoly_add(&t, &t, &s2[i]);
        hz__dpoly_reduce(&t);
        hz__dpoly_caddq(&t);
        hz__dpoly_power2round(&t1[i], &t0[i], &t);
    }
    hz__mldsa_pack_pk(p, pk, seeds, t1);
    hz__shake256(tr, sizeof(tr), pk, p->pk_len);
    hz__mldsa_pack_sk(p, sk, seeds, seeds + 96, tr, s1, s2, t0);

    hz_secure_zero(in, sizeof(in));
    hz_secure_zero(seeds, sizeof(seeds));
    hz_secure_zero(s1, sizeof(s1));
    hz_secure_zero(s2, sizeof(s2));
    hz_secure_zero(s1hat, sizeof(s1hat));
    hz_secure_zero(t0, sizeof(t0));
    hz_secure_zero(&t, sizeof(t));
}

int hz__mldsa_fast_sign_mu(int set, uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk) {
    const hz_mldsa_params_t *p = hz__mldsa_params(set);
    const unsigned k = p->k, l = p->l;
    uint8_t rho[32], tr[64], seed[32 + 32 + 64], rhopp[64]; /* seed = K || rnd || mu */
    uint8_t w1buf[KMAX * 32 * 6];
    hz_dpoly_t a[KMAX * LMAX], s1[LMAX], s2[KMAX], t0[KMAX];
    hz_dpoly_t y[LMAX], yhat[LMAX], z[LMAX], w1[KMAX], w0[KMAX], h[KMAX], c, t;
    hz_dsmall_t es;
    hz_dwide_t ew;
    hz_dchal_t ch;
    hz_mldsa_mask_t mask;
    int rc = -1;

    hz__mldsa_unpack_sk(p, rho, seed, tr, s1, s2, t0, sk);
    memcpy(seed + 32, rnd, 32);
    memcpy(seed + 64, mu, 64);
    hz__shake256(rhopp, sizeof(rhopp), seed, sizeof(seed));
    hz__mldsa_expand_a(p, a, rho);
    hz__mldsa_mask_init(&mask, p, rhopp);

    /* kappa advances by l per attempt and must fit the two-byte nonce; 2^16 / l attempts would
     * take an event of probability far below 2^-1000. */
    for (uint32_t kappa = 0; kappa + l <= UINT16_MAX + 1u; kappa += l) {
        hz__mldsa_mask_next(&mask, y, l); /* nonces kappa .. kappa + l - 1 */
        for (unsigned j = 0; j < l; j++) {
            yhat[j] = y[j];
            hz__dpoly_ntt(&yhat[j]);
        }
        for (unsigned i = 0; i < k; i++) {
            hz__dpoly_dot(&t, &a[l * i], yhat, l);
            hz__dpoly_invntt(&t);
            hz__dpoly_caddq(&t);
            hz__dpoly_decompose(&w1[i], &w0[i], &t, p->gamma2);
        }
        /* c~ = H(mu || w1Encode(w1)), written straight into the signature */
        hz_keccak_t hs;
        hz__mldsa_pack_w1(p, w1buf, w1);
        hz__keccak_init(&hs, HZ_SHAKE256_RATE);
        hz__keccak_absorb(&hs, mu, 64);
        hz__keccak_absorb(&hs, w1buf, 32 * p->w1_bits * k);
        hz__keccak_finalize(&hs, HZ_KECCAK_SHAKE);
        hz__keccak_squeeze(&hs, sig, p->ctilde);
        hz__mldsa_sample_in_ball(p, &c, sig);
        hz__dchal_from(&ch, &c);

        /* The products with c are exact small integers (sparse products, no reduction), the
         * values the reference reaches through the NTT and a reduction. */
        /* z = y + c s1; reject if ||z|| >= gamma1 - beta */
        bool reject = false;
        for (unsigned j = 0; j < l && !reject; j++) {
            hz__dsmall_prep(&es, &s1[j]);
            hz__dsmall_mul(&z[j], &ch, &es);
            hz__dpoly_add(&z[j], &z[j], &y[j]);
            reject = hz__dpoly_chknorm(&z[j], p->gamma1 - (int32_t)p->beta);
        }
        /* r0 = w0 - c s2; reject if ||r0|| >= gamma2 - beta */
        for (unsigned i = 0; i < k && !reject; i++) {
            hz__dsmall_prep(&es, &s2[i]);
            hz__dsmall_mul(&t, &ch, &es);
            hz__dpoly_sub(&w0[i], &w0[i], &t);
            reject = hz__dpoly_chknorm(&w0[i], p->gamma2 - (int32_t)p->beta);
        }
        /* hint from c t0; reject if ||c t0|| >= gamma2 or more than omega ones */
        unsigned ones = 0;
        for (unsigned i = 0; i < k && !reject; i++) {
            hz__dwide_prep(&ew, &t0[i]);
            hz__dwide_mul(&t, &ch, &ew);
            reject = hz__dpoly_chknorm(&t, p->gamma2);
            hz__dpoly_add(&w0[i], &w0[i], &t);
            ones += hz__dpoly_make_hint(&h[i], &w0[i], &w1[i], p->gamma2);
        }
        if (reject || ones > p->omega) continue;
        hz__mldsa_pack_sig(p, sig, z, h);
        rc = 0;
        break;
    }

    hz_secure_zero(seed, sizeof(seed));
    hz_secure_zero(rhopp, sizeof(rhopp));
    hz_secure_zero(&mask, sizeof(mask));
    hz_secure_zero(s1, sizeof(s1));
    hz_secure_zero(s2, sizeof(s2));
    hz_secure_zero(t0, sizeof(t0));
    hz_secure_zero(&es, sizeof(es));
    hz_secure_zero(&ew, sizeof(ew));
    hz_secure_zero(y, sizeof(y));
    hz_secure_zero(yhat, sizeof(yhat));
    hz_secure_zero(z, sizeof(z));
    hz_secure_zero(w0, sizeof(w0));
    hz_secure_zero(&t, sizeof(t));
    return rc;
}

int hz__mldsa_fast_verify_mu(int set, const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk) {
    const hz_mldsa_params_t *p = hz__mldsa_params(set);
    const unsigned k = p->k, l = p->l;
    uint8_t rho[32], ctilde2[64], w1buf[KMAX * 32 * 6];
    hz_dpoly_t a[KMAX * LMAX], t1[KMAX], z[LMAX], h[KMAX], w1[KMAX], c, t;

    hz__mldsa_unpack_pk(p, rho, t1, pk);
    if (hz__mldsa_unpack_sig(p, z, h, sig) != 0) return -1;
    for (unsigned j = 0; j < l; j++)
        if (hz__dpoly_chknorm(&z[j], p->gamma1 - (int32_t)p->beta)) return -1;

    hz__mldsa_sample_in_ball(p, &c, sig);
    hz__dpoly_ntt(&c);
    hz__mldsa_expand_a(p, a, rho);
    for (unsigned j = 0; j < l; j++) hz__dpoly_ntt(&z[j]);
    for (unsigned i = 0; i < k; i++) {
        /* w'approx_i = NTT^-1(A_i . z - c . t1_i 2^13) */
        for (int n = 0; n < 256; n++) t1[i].c[n] <<= 13;
        hz__dpoly_ntt(&t1[i]);
        hz__dpoly_pointwise(&t1[i], &c, &t1[i]);
        hz__dpoly_dot(&t, &a[l * i], z, l);
        hz__dpoly_sub(&t, &t, &t1[i]);
        hz__dpoly_reduce(&t);
        hz__dpoly_invntt(&t);
        hz__dpoly_caddq(&t);
        hz__dpoly_use_hint(&w1[i], &t, &h[i], p->gamma2);
    }
    hz_keccak_t hs;
    hz__mldsa_pack_w1(p, w1buf, w1);
    hz__keccak_init(&hs, HZ_SHAKE256_RATE);
    hz__keccak_absorb(&hs, mu, 64);
    hz__keccak_absorb(&hs, w1buf, 32 * p->w1_bits * k);
    hz__keccak_finalize(&hs, HZ_KECCAK_SHAKE);
    hz__keccak_squeeze(&hs, ctilde2, p->ctilde);
    return memcmp(sig, ctilde2, p->ctilde) == 0 ? 0 : -1;
}

#endif
