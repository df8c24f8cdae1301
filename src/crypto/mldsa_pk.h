/*
 * ML-DSA public key from a secret key, over PQClean's primitives: the steps of FIPS 204
 * ML-DSA.KeyGen_internal after the secret vectors are sampled, started from the secret key's
 * own rho, s1 and s2 instead. A PQClean-format secret key (rho, K, tr, s1, s2, t0) is enough:
 * t = NTT^-1(A * NTT(s1)) + s2 and (t1, t0) = Power2Round(t), pk = (rho, t1).
 *
 * The secret key is then rebuilt from its parts with the recomputed tr = H(pk) and t0 and must
 * equal the input byte for byte; this proves the key is self-consistent (a flipped bit in any
 * part shows up) without signing anything. Included once per parameter set, after that set's
 * PQClean headers, with MLDSA(name) and PK_FN defined (see key_mldsa65.c).
 */
#include <string.h>

#include <fips202.h>

#include "crypto/key_internal.h"

int PK_FN(uint8_t *pk, const uint8_t *sk) {
    uint8_t rho[SEEDBYTES], tr[TRBYTES], key[SEEDBYTES];
    uint8_t *again = hz_malloc(MLDSA(CRYPTO_SECRETKEYBYTES));
    polyvecl mat[K], s1, s1hat;
    polyveck s2, t0, t1, t0_again;

    MLDSA(unpack_sk)(rho, tr, key, &t0, &s1, &s2, sk);
    MLDSA(polyvec_matrix_expand)(mat, rho);
    s1hat = s1;
    MLDSA(polyvecl_ntt)(&s1hat);
    MLDSA(polyvec_matrix_pointwise_montgomery)(&t1, mat, &s1hat);
    MLDSA(polyveck_reduce)(&t1);
    MLDSA(polyveck_invntt_tomont)(&t1);
    MLDSA(polyveck_add)(&t1, &t1, &s2);
    MLDSA(polyveck_caddq)(&t1);
    MLDSA(polyveck_power2round)(&t1, &t0_again, &t1);
    MLDSA(pack_pk)(pk, rho, &t1);

    shake256(tr, TRBYTES, pk, MLDSA(CRYPTO_PUBLICKEYBYTES));
    MLDSA(pack_sk)(again, rho, tr, key, &t0_again, &s1, &s2);
    int same = hz_ct_equal(again, sk, MLDSA(CRYPTO_SECRETKEYBYTES));

    hz_secure_free(again, MLDSA(CRYPTO_SECRETKEYBYTES));
    hz_secure_zero(key, sizeof(key));
    hz_secure_zero(&s1, sizeof(s1));
    hz_secure_zero(&s1hat, sizeof(s1hat));
    hz_secure_zero(&s2, sizeof(s2));
    hz_secure_zero(&t0, sizeof(t0));
    hz_secure_zero(&t0_again, sizeof(t0_again));
    return same ? 0 : -1;
}
