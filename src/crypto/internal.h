/*
 * Private to src/crypto: the operation tables behind hz_kem_t / hz_sig_t, the derandomisation
 * hook PQClean's randombytes() reads from, and small helpers shared by the files of the module.
 */
#ifndef HZ_CRYPTO_INTERNAL_H
#define HZ_CRYPTO_INTERNAL_H

#include "hanzo/crypto.h"

/* A KEM's operations on fixed-size buffers whose lengths the public wrappers have checked. Every
 * random operation is expressed through its derandomised form: the wrapper draws the seed. */
struct hz_kem_ops {
    int (*keypair_derand)(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk, const uint8_t *seed);
    int (*encaps_derand)(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk,
                         const uint8_t *seed);
    int (*decaps)(const hz_kem_t *kem, uint8_t *ss, const uint8_t *ct, const uint8_t *sk);
    int (*check_pk)(const hz_kem_t *kem, const uint8_t *pk);
    int (*check_sk)(const hz_kem_t *kem, const uint8_t *sk);
};

/* One ML-DSA parameter set: PQClean's own entry points, plus our FIPS 204 internal-interface
 * functions (mldsa_mu.h) compiled once per parameter set against PQClean's primitives. */
struct hz_sig_ops {
    int (*keypair)(uint8_t *pk, uint8_t *sk); /* draws xi through PQCLEAN_randombytes */
    int (*sign_ctx)(uint8_t *sig, size_t *siglen, const uint8_t *m, size_t mlen,
                    const uint8_t *ctx, size_t ctxlen, const uint8_t *sk); /* draws rnd */
    int (*verify_ctx)(const uint8_t *sig, size_t siglen, const uint8_t *m, size_t mlen,
                      const uint8_t *ctx, size_t ctxlen, const uint8_t *pk);
    int (*sign_mu)(uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk);
    int (*verify_mu)(const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk);
};

/* The ML-DSA internal-interface functions, one set per parameter set (mldsa44.c, ...). Both
 * return 0 or -1; sign_mu fails only on a nonce overflow no real key reaches. */
int hz_mldsa44_sign_mu(uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk);
int hz_mldsa44_verify_mu(const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk);
int hz_mldsa65_sign_mu(uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk);
int hz_mldsa65_verify_mu(const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk);
int hz_mldsa87_sign_mu(uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk);
int hz_mldsa87_verify_mu(const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk);

/* Derandomisation (rng.c). Between begin and end, PQCLEAN_randombytes on this thread hands out
 * the bytes of src in order instead of CSPRNG output. end returns 0 when exactly src_len bytes
 * were drawn and HZ_EINTERNAL (naming `what`) otherwise, so a PQClean change in how much
 * randomness an operation draws fails loudly instead of silently using other bytes. */
void hz__derand_begin(const uint8_t *src, size_t src_len);
int hz__derand_end(const char *what);

/* hz_crypto_init without the error: for paths that cannot return one. Aborts if libsodium
 * cannot initialise, as it can only fail when the kernel has no randomness to give. */
void hz__crypto_ready(void);

/* ML-KEM-768 derandomised primitives, shared with X-Wing (kem.c). */
int hz__mlkem768_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t coins[64]);
int hz__mlkem768_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t m[32]);
int hz__mlkem768_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk);
int hz__mlkem_check_pk(const char *name, size_t k, const uint8_t *pk);

extern const hz_kem_t hz__kem_xwing;

/* hz_blake3_parallel without its size heuristics (b3_tree.c): segments of `seg` bytes, which
 * must be a power-of-two multiple of 1024, on up to `threads` threads, whatever len is. The
 * tests run the official vectors through it with segments of one chunk and up. */
void hz__blake3_tree(const hz_blake3_hasher_t *mode, int threads, const void *data, size_t len,
                     uint64_t seg, uint8_t *out, size_t out_len);

#endif
