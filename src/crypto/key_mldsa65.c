/*
 * ML-DSA-65 instance of the public-key derivation in mldsa_pk.h. The parameter set's PQClean
 * headers come first: they define K, L and the polynomial types the shared body is written
 * against, which is why each parameter set is its own file.
 */
#include <crypto_sign/ml-dsa-65/clean/packing.h>
#include <crypto_sign/ml-dsa-65/clean/params.h>
#include <crypto_sign/ml-dsa-65/clean/poly.h>
#include <crypto_sign/ml-dsa-65/clean/polyvec.h>

#define MLDSA(name) PQCLEAN_MLDSA65_CLEAN_##name
#define PK_FN hz__mldsa65_pk_from_sk

#include "crypto/mldsa_pk.h"
