/*
 * ML-DSA-65 instance of the FIPS 204 internal-interface functions in mldsa_mu.h. The parameter
 * set's PQClean headers come first: they define K, L, GAMMA1, ... and the polynomial types that
 * the shared body is written against, which is why each parameter set is its own file.
 */
#include "crypto/internal.h"

#include <crypto_sign/ml-dsa-65/clean/packing.h>
#include <crypto_sign/ml-dsa-65/clean/params.h>
#include <crypto_sign/ml-dsa-65/clean/poly.h>
#include <crypto_sign/ml-dsa-65/clean/polyvec.h>

#define MLDSA(name) PQCLEAN_MLDSA65_CLEAN_##name
#define MU_FN(name) hz_mldsa65_##name

#include "crypto/mldsa_mu.h"
