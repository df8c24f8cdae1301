/*
 * FIPS 204 ML-DSA.Sign_internal and Verify_internal starting from mu, over PQClean's primitives.
 *
 * PQClean's signing functions always form mu = H(tr || 0 || |ctx| || ctx || M) themselves, which
 * covers pure ML-DSA but not HashML-DSA (domain byte 1, OID, PH(M)) nor the internal interface
 * (arbitrary M', or mu supplied by the caller). These two functions are the steps of Algorithms 7
 * and 8 after mu is known, written against PQClean's polynomial, packing and sampling routines so
 * the arithmetic is PQClean's. They are included once per parameter set by mldsa44.c, mldsa65.c
 * and mldsa87.c, which first include that set's PQClean headers (params.h gives K, L, GAMMA1, ...)
 * and define MLDSA(name) to that set's symbol prefix and MU_FN(name) to our function names.
 * The ACVP internal-interface and pre-hash groups check them; a unit test checks that for pure
 * ML-DSA they give the same signatures as PQClean's own path.
 */
#include <string.h>

#include <fips202.h>

int MU_FN(sign_mu)(uint8_t *sig, const uint8_t mu[CRHBYTES], const uint8_t rnd[RNDBYTES],
                   const uint8_t *sk) {
    uint8_t rho[SEEDBYTES], tr[TRBYTES];
    uint8_t seed[SEEDBYTES + RNDBYTES + CRHBYTES]; /* K || rnd || mu, hashed into rho'' */
    uint8_t rhopp[CRHBYTES];
    polyvecl mat[K], s1, y, z;
    polyveck t0, s2, w1, w0, h;
    poly cp;
    shake256incctx st;
    int rc = -1;

    MLDSA(unpack_sk)(rho, tr, seed, &t0, &s1, &s2, sk);
    memcpy(seed + SEEDBYTES, rnd, RNDBYTES);
    memcpy(seed + SEEDBYTES + RNDBYTES, mu, CRHBYTES);
    shake256(rhopp, CRHBYTES, seed, sizeof(seed));

    MLDSA(polyvec_matrix_expand)(mat, rho);
    MLDSA(polyvecl_ntt)(&s1);
    MLDSA(polyveck_ntt)(&s2);
    MLDSA(polyveck_ntt)(&t0);

    /* Rejection loop; kappa counts attempts (ExpandMask offsets it by L internally). FIPS 204
     * leaves the loop unbounded; 2^16 attempts would take a 2^-many-thousand event. */
    for (uint32_t kappa = 0; kappa <= UINT16_MAX; kappa++) {
        MLDSA(polyvecl_uniform_gamma1)(&y, rhopp, (uint16_t)kappa);

        /* w = NTT^-1(A * NTT(y)); (w1, w0) = Decompose(w) */
        z = y;
        MLDSA(polyvecl_ntt)(&z);
        MLDSA(polyvec_matrix_pointwise_montgomery)(&w1, mat, &z);
        MLDSA(polyveck_reduce)(&w1);
        MLDSA(polyveck_invntt_tomont)(&w1);
        MLDSA(polyveck_caddq)(&w1);
        MLDSA(polyveck_decompose)(&w1, &w0, &w1);

        /* c~ = H(mu || w1Encode(w1)), written straight into the signature's first bytes */
        MLDSA(polyveck_pack_w1)(sig, &w1);
        shake256_inc_init(&st);
        shake256_inc_absorb(&st, mu, CRHBYTES);
        shake256_inc_absorb(&st, sig, K * POLYW1_PACKEDBYTES);
        shake256_inc_finalize(&st);
        shake256_inc_squeeze(sig, CTILDEBYTES, &st);
        shake256_inc_ctx_release(&st);
        MLDSA(poly_challenge)(&cp, sig);
        MLDSA(poly_ntt)(&cp);

        /* z = y + c*s1; reject if ||z||inf >= gamma1 - beta */
        MLDSA(polyvecl_pointwise_poly_montgomery)(&z, &cp, &s1);
        MLDSA(polyvecl_invntt_tomont)(&z);
        MLDSA(polyvecl_add)(&z, &z, &y);
        MLDSA(polyvecl_reduce)(&z);
        if (MLDSA(polyvecl_chknorm)(&z, GAMMA1 - BETA)) continue;

        /* r0 = LowBits(w - c*s2); reject if ||r0||inf >= gamma2 - beta */
        MLDSA(polyveck_pointwise_poly_montgomery)(&h, &cp, &s2);
        MLDSA(polyveck_invntt_tomont)(&h);
        MLDSA(polyveck_sub)(&w0, &w0, &h);
        MLDSA(polyveck_reduce)(&w0);
        if (MLDSA(polyveck_chknorm)(&w0, GAMMA2 - BETA)) continue;

        /* hint from c*t0; reject if ||c*t0||inf >= gamma2 or too many hint bits */
        MLDSA(polyveck_pointwise_poly_montgomery)(&h, &cp, &t0);
        MLDSA(polyveck_invntt_tomont)(&h);
        MLDSA(polyveck_reduce)(&h);
        if (MLDSA(polyveck_chknorm)(&h, GAMMA2)) continue;
        MLDSA(polyveck_add)(&w0, &w0, &h);
        if (MLDSA(polyveck_make_hint)(&h, &w0, &w1) > OMEGA) continue;

        MLDSA(pack_sig)(sig, sig, &z, &h);
        rc = 0;
        break;
    }
    hz_secure_zero(seed, sizeof(seed));
    hz_secure_zero(rhopp, sizeof(rhopp));
    hz_secure_zero(&s1, sizeof(s1));
    hz_secure_zero(&s2, sizeof(s2));
    hz_secure_zero(&t0, sizeof(t0));
    hz_secure_zero(&y, sizeof(y));
    return rc;
}

int MU_FN(verify_mu)(const uint8_t *sig, const uint8_t mu[CRHBYTES], const uint8_t *pk) {
    uint8_t rho[SEEDBYTES], c[CTILDEBYTES], c2[CTILDEBYTES];
    uint8_t w1buf[K * POLYW1_PACKEDBYTES];
    polyvecl mat[K], z;
    polyveck t1, w1, h;
    poly cp;
    shake256incctx st;

    MLDSA(unpack_pk)(rho, &t1, pk);
    if (MLDSA(unpack_sig)(c, &z, &h, sig)) return -1; /* malformed hint encoding */
    if (MLDSA(polyvecl_chknorm)(&z, GAMMA1 - BETA)) return -1;

    /* w1' = UseHint(h, A*z - c*t1*2^d) */
    MLDSA(poly_challenge)(&cp, c);
    MLDSA(polyvec_matrix_expand)(mat, rho);
    MLDSA(polyvecl_ntt)(&z);
    MLDSA(polyvec_matrix_pointwise_montgomery)(&w1, mat, &z);
    MLDSA(poly_ntt)(&cp);
    MLDSA(polyveck_shiftl)(&t1);
    MLDSA(polyveck_ntt)(&t1);
    MLDSA(polyveck_pointwise_poly_montgomery)(&t1, &cp, &t1);
    MLDSA(polyveck_sub)(&w1, &w1, &t1);
    MLDSA(polyveck_reduce)(&w1);
    MLDSA(polyveck_invntt_tomont)(&w1);
    MLDSA(polyveck_caddq)(&w1);
    MLDSA(polyveck_use_hint)(&w1, &w1, &h);
    MLDSA(polyveck_pack_w1)(w1buf, &w1);

    shake256_inc_init(&st);
    shake256_inc_absorb(&st, mu, CRHBYTES);
    shake256_inc_absorb(&st, w1buf, sizeof(w1buf));
    shake256_inc_finalize(&st);
    shake256_inc_squeeze(c2, CTILDEBYTES, &st);
    shake256_inc_ctx_release(&st);
    return hz_ct_equal(c, c2, CTILDEBYTES) ? 0 : -1;
}
