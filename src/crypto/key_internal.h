/*
 * Private to the key, key-file and sealing code of src/crypto: building an hz_key_t from parts,
 * recomputing a public key from a secret key, and the ML-DSA public-key derivation compiled once
 * per parameter set (mldsa_pk.h, included by key_mldsa44.c, key_mldsa65.c, key_mldsa87.c).
 */
#ifndef HZ_CRYPTO_KEY_INTERNAL_H
#define HZ_CRYPTO_KEY_INTERNAL_H

#include "hanzo/crypto.h"

/* The algorithm id byte written into key files and key ids. */
int hz__key_alg_id(const hz_key_t *key);

/* A new key owning copies of pk and (if not NULL) sk; computes the id. No checks. */
hz_key_t *hz__key_new(hz_key_type_t type, const hz_kem_t *kem, const hz_sig_t *sig,
                      const uint8_t *pk, const uint8_t *sk);

/* The key id of a public key (BLAKE3 derive-key, context HZ__KEY_ID_CONTEXT). */
#define HZ__KEY_ID_CONTEXT "hanzo-node 2026 key id v1"
void hz__key_id(hz_key_type_t type, int alg_id, const uint8_t *pk, size_t pk_len,
                uint8_t out[HZ_KEY_ID_LEN]);

/* Recompute the public key from sk (sizes checked by the caller) into pk, and check that sk is
 * a well-formed secret key of the algorithm. HZ_ECRYPTO when it is not. */
int hz__key_pk_from_sk(hz_key_type_t type, const hz_kem_t *kem, const hz_sig_t *sig, uint8_t *pk,
                       const uint8_t *sk);

/* ML-DSA: pk from sk via t = NTT^-1(A * NTT(s1)) + s2, t1 = Power2Round(t). Returns 0, or -1
 * when sk is not what key generation makes from its own parts (tr, t0 or a packing differs). */
int hz__mldsa44_pk_from_sk(uint8_t *pk, const uint8_t *sk);
int hz__mldsa65_pk_from_sk(uint8_t *pk, const uint8_t *sk);
int hz__mldsa87_pk_from_sk(uint8_t *pk, const uint8_t *sk);

#endif
