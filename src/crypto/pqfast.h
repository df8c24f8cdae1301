/*
 * Private to src/crypto: the fast (AVX2) ML-KEM and ML-DSA, and the choice between them and
 * PQClean's clean C.
 *
 * kem.c and sig.c call hz__pqfast() before each operation: true on x86-64 CPUs with AVX2,
 * BMI1/2 and POPCNT (the parts of the x86-64-v3 level the kernels use) unless the environment
 * variable HANZO_CRYPTO_PORTABLE is set to a non-empty value other than "0", or the calling
 * thread asked for the portable path with hz__pqfast_set_portable (tests compare both paths in
 * one process). Both paths implement the
 * same FIPS 203 / FIPS 204 algorithms and produce the same bytes; the ACVP known-answer tests
 * pass on each. The fast path is our own code (mlkem_*.c, mldsa_*.c, keccak*.c); PQClean stays
 * the portable path and the reference it is checked against.
 */
#ifndef HZ_CRYPTO_PQFAST_H
#define HZ_CRYPTO_PQFAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HZ_PQFAST_X86 1
#else
#define HZ_PQFAST_X86 0
#endif

/* Compiles the functions between them for AVX2 (with BMI1/2 and POPCNT: the x86-64-v3 level)
 * whatever the build's -march, so the vector kernels live in ordinary files of the portable
 * build and only run after hz__pqfast() said the CPU has them. GCC takes a target pragma, clang
 * an attribute applied to every function. */
#if defined(__clang__)
#define HZ_AVX2_BEGIN                                                                            \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,bmi,bmi2,popcnt\"))), apply_to = function)")
#define HZ_AVX2_END _Pragma("clang attribute pop")
#else
#define HZ_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,bmi,bmi2,popcnt\")")
#define HZ_AVX2_END _Pragma("GCC pop_options")
#endif

bool hz__pqfast(void);
/* Per thread: true = take PQClean's portable path whatever the CPU can do. */
void hz__pqfast_set_portable(bool portable);

/* Lookup tables of the AVX2 kernels, filled once by the first hz__pqfast() that returns true. */
void hz__mlkem_avx2_init(void);
void hz__mldsa_avx2_init(void);

/* ML-KEM with k = 2, 3, 4 (ML-KEM-512/768/1024), the derandomised FIPS 203 internal functions.
 * Lengths are the parameter set's; the caller has checked them (and the input checks). */
void hz__mlkem_fast_keypair(unsigned k, uint8_t *pk, uint8_t *sk, const uint8_t coins[64]);
void hz__mlkem_fast_encaps(unsigned k, uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t m[32]);
void hz__mlkem_fast_decaps(unsigned k, uint8_t *ss, const uint8_t *ct, const uint8_t *sk);

/* ML-DSA for one parameter set: 44, 65 or 87. FIPS 204 KeyGen_internal from xi, and
 * Sign_internal / Verify_internal from mu = H(tr || M'). sign returns -1 only if the rejection
 * loop runs out of nonces (never in practice); verify returns 0 when valid, -1 otherwise. */
void hz__mldsa_fast_keypair(int set, uint8_t *pk, uint8_t *sk, const uint8_t xi[32]);
int hz__mldsa_fast_sign_mu(int set, uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk);
int hz__mldsa_fast_verify_mu(int set, const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk);

#endif
