/*
 * hanzo/crypto.h - the cryptographic core: post-quantum KEMs and signatures, BLAKE3, AEAD, KDFs.
 *
 * Algorithms are objects, in the spirit of liboqs' OQS_KEM / OQS_SIG: a const descriptor with a
 * stable id, a name ("ml-kem-768", looked up case-insensitively) and every size a caller needs to
 * allocate buffers. Operations are functions taking the descriptor, and every byte string that can
 * come from outside (keys, ciphertexts, signatures) is passed with its length, so a wrong-sized
 * input is an HZ_EINVAL naming the field instead of a read past a buffer.
 *
 *   ML-KEM (FIPS 203) and ML-DSA (FIPS 204) run on PQClean's "clean" C. We add what PQClean
 *   leaves out: the FIPS 203 input checks (section 7.2 modulus check of an encapsulation key,
 *   section 7.3 hash check of a decapsulation key), run on every encaps/decaps; the FIPS 204
 *   context string, HashML-DSA (pre-hash) and the "internal" interface with an external mu.
 *   X-Wing (draft-connolly-cfrg-xwing-kem) is the hybrid KEM: ML-KEM-768 + X25519.
 *
 *   Derandomised variants (keygen from a seed, encaps from m, sign with an explicit rnd) exist for
 *   known-answer tests and for deriving keys from a seed. Never feed them a predictable seed.
 *
 *   BLAKE3 is the official C implementation (SIMD with runtime dispatch). hz_blake3_file and
 *   hz_blake3_parallel hash one input on several threads and give b3sum's exact output.
 *
 * Errors: HZ_EINVAL for malformed input (with the field and offset in hz_error_last()),
 * HZ_ECRYPTO when a signature, tag or key-integrity check fails, HZ_EUNSUPPORTED for an unknown
 * algorithm. All functions are thread-safe; none keeps global mutable state except the one-time
 * libsodium initialisation.
 *
 * Secrets: functions that hold secrets on the stack wipe them before returning. Buffers the
 * caller owns are the caller's to wipe (hz_secure_zero / hz_secure_free).
 */
#ifndef HANZO_CRYPTO_H
#define HANZO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <blake3.h>

#include "hanzo/base.h"

/* ---- library ------------------------------------------------------------------------- */

/* Initialise libsodium. Idempotent and thread-safe; every function below calls it on first use,
 * so calling it explicitly only moves the cost (and a possible failure) to startup.
 * Returns HZ_EINTERNAL if libsodium cannot initialise (no usable randomness source). */
int hz_crypto_init(void);

/* Append one line describing the crypto stack, for `hanzo version`: BLAKE3 version and the SIMD
 * level it dispatches to on this CPU, libsodium and OpenSSL versions, the PQ algorithms. */
void hz_crypto_describe(hz_buf_t *out);

/* Fill buf with bytes from the CSPRNG (libsodium randombytes_buf: getrandom on Linux). */
void hz_crypto_random(void *buf, size_t n);

/* Compare n bytes in time independent of their contents. n == 0 compares equal. */
bool hz_ct_equal(const void *a, const void *b, size_t n);

/* Wipe n bytes in a way the compiler cannot elide (sodium_memzero). NULL is a no-op. */
void hz_secure_zero(void *p, size_t n);

/* Wipe n bytes at p, then hz_free(p). NULL is a no-op. */
void hz_secure_free(void *p, size_t n);

/* ---- KEMs: ML-KEM-512/768/1024, X-Wing ------------------------------------------------- */

/* Stable numbers: they are written into key files and sealed-file headers. */
typedef enum {
    HZ_KEM_ML_KEM_512 = 1,
    HZ_KEM_ML_KEM_768 = 2,
    HZ_KEM_ML_KEM_1024 = 3,
    HZ_KEM_XWING = 4, /* ML-KEM-768 + X25519, draft-connolly-cfrg-xwing-kem-10 */
} hz_kem_id_t;

struct hz_kem_ops; /* private */

typedef struct hz_kem {
    hz_kem_id_t id;
    const char *name;        /* canonical lower-case name: "ml-kem-768", "x-wing" */
    const char *standard;    /* "FIPS 203", "draft-connolly-cfrg-xwing-kem-10" */
    int nist_level;          /* claimed NIST security category */
    size_t pk_len;           /* encapsulation (public) key */
    size_t sk_len;           /* decapsulation (secret) key; X-Wing's is its 32-byte seed */
    size_t ct_len;
    size_t ss_len;           /* always 32 here */
    size_t keygen_seed_len;  /* ML-KEM: 64 = d || z; X-Wing: 32 (the secret key itself) */
    size_t encaps_seed_len;  /* ML-KEM: 32 = m; X-Wing: 64 = m || ephemeral X25519 key */
    const struct hz_kem_ops *ops;
} hz_kem_t;

/* Look up by name, case-insensitively ("ML-KEM-768", "ml-kem-768", "xwing", "x-wing").
 * NULL (and an HZ_EUNSUPPORTED message listing the known names) when unknown. */
const hz_kem_t *hz_kem_by_name(const char *name);
const hz_kem_t *hz_kem_by_id(hz_kem_id_t id);
/* The i-th KEM (0-based), NULL past the end: for listings. */
const hz_kem_t *hz_kem_at(size_t i);

/* pk: kem->pk_len bytes, sk: kem->sk_len bytes. */
int hz_kem_keypair(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk);
/* Deterministic key generation from seed (kem->keygen_seed_len bytes). */
int hz_kem_keypair_derand(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk,
                          const uint8_t *seed, size_t seed_len);
/* ct: kem->ct_len bytes, ss: kem->ss_len bytes. Runs the FIPS 203 encapsulation-key check. */
int hz_kem_encaps(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk, size_t pk_len);
int hz_kem_encaps_derand(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk,
                         size_t pk_len, const uint8_t *seed, size_t seed_len);
/* Runs the FIPS 203 decapsulation-key check. A ciphertext that was tampered with is NOT an error:
 * ML-KEM rejects implicitly, so ss is then a pseudo-random value that matches nobody's. */
int hz_kem_decaps(const hz_kem_t *kem, uint8_t *ss, const uint8_t *ct, size_t ct_len,
                  const uint8_t *sk, size_t sk_len);

/* The input checks on their own. FIPS 203 section 7.2: every coefficient of the encoded vector
 * in an encapsulation key is below q = 3329 (HZ_EINVAL, naming polynomial, coefficient, offset).
 * Section 7.3: the H(ek) stored in a decapsulation key matches the ek stored beside it
 * (HZ_ECRYPTO). For X-Wing the pk check covers its ML-KEM part; every 32-byte sk is valid. */
int hz_kem_check_pk(const hz_kem_t *kem, const uint8_t *pk, size_t pk_len);
int hz_kem_check_sk(const hz_kem_t *kem, const uint8_t *sk, size_t sk_len);

/* ---- signatures: ML-DSA-44/65/87 ------------------------------------------------------- */

typedef enum {
    HZ_SIG_ML_DSA_44 = 1,
    HZ_SIG_ML_DSA_65 = 2,
    HZ_SIG_ML_DSA_87 = 3,
} hz_sig_id_t;

struct hz_sig_ops; /* private */

typedef struct hz_sig {
    hz_sig_id_t id;
    const char *name;        /* "ml-dsa-65" */
    const char *standard;    /* "FIPS 204" */
    int nist_level;
    size_t pk_len;
    size_t sk_len;
    size_t sig_len;          /* ML-DSA signatures have exactly this length */
    size_t keygen_seed_len;  /* 32 = xi */
    const struct hz_sig_ops *ops;
} hz_sig_t;

const hz_sig_t *hz_sig_by_name(const char *name);
const hz_sig_t *hz_sig_by_id(hz_sig_id_t id);
const hz_sig_t *hz_sig_at(size_t i);

/* HashML-DSA pre-hash functions (FIPS 204 section 5.4), named as FIPS 204 / ACVP name them. */
typedef enum {
    HZ_PREHASH_NONE = 0, /* pure ML-DSA */
    HZ_PREHASH_SHA2_224,
    HZ_PREHASH_SHA2_256,
    HZ_PREHASH_SHA2_384,
    HZ_PREHASH_SHA2_512,
    HZ_PREHASH_SHA2_512_224,
    HZ_PREHASH_SHA2_512_256,
    HZ_PREHASH_SHA3_224,
    HZ_PREHASH_SHA3_256,
    HZ_PREHASH_SHA3_384,
    HZ_PREHASH_SHA3_512,
    HZ_PREHASH_SHAKE_128, /* 256-bit output */
    HZ_PREHASH_SHAKE_256, /* 512-bit output */
} hz_prehash_t;

/* "SHA2-256", "sha3-512", "SHAKE-128", ... -> *out. HZ_EUNSUPPORTED when unknown. */
int hz_prehash_by_name(const char *name, hz_prehash_t *out);
const char *hz_prehash_name(hz_prehash_t ph);

/* Signing and verification options. A zeroed struct (or NULL) means: empty context, hedged
 * signing (fresh 32-byte rnd from the CSPRNG, FIPS 204's default), pure ML-DSA. */
typedef struct hz_sig_opts {
    const uint8_t *ctx;     /* FIPS 204 context string, 0..255 bytes */
    size_t ctx_len;
    bool deterministic;     /* rnd = 32 zero bytes: same key + message = same signature */
    const uint8_t *rnd;     /* explicit 32-byte rnd (known-answer tests); wins over the above */
    hz_prehash_t prehash;   /* HashML-DSA with this pre-hash; verify must use the same */
} hz_sig_opts_t;

int hz_sig_keypair(const hz_sig_t *alg, uint8_t *pk, uint8_t *sk);
int hz_sig_keypair_derand(const hz_sig_t *alg, uint8_t *pk, uint8_t *sk,
                          const uint8_t *seed, size_t seed_len);

/* sig: alg->sig_len bytes. opts may be NULL. */
int hz_sig_sign(const hz_sig_t *alg, uint8_t *sig, const uint8_t *msg, size_t msg_len,
                const uint8_t *sk, size_t sk_len, const hz_sig_opts_t *opts);
/* 0 when valid; HZ_ECRYPTO when the signature does not verify; HZ_EINVAL for a wrong-length
 * key or signature or a context over 255 bytes. Only opts->ctx and opts->prehash matter here. */
int hz_sig_verify(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                  size_t msg_len, const uint8_t *pk, size_t pk_len, const hz_sig_opts_t *opts);

/* FIPS 204 internal interface (ML-DSA.Sign_internal / Verify_internal): the caller supplies
 * the already-formatted message M' (no context or domain byte is added), or mu = H(tr || M')
 * itself (64 bytes, "external mu"). For protocols and tests that build M' themselves. rnd is
 * 32 bytes; NULL means deterministic (zeros). */
int hz_sig_sign_internal(const hz_sig_t *alg, uint8_t *sig, const uint8_t *mprime, size_t mprime_len,
                         const uint8_t *rnd, const uint8_t *sk, size_t sk_len);
int hz_sig_sign_mu(const hz_sig_t *alg, uint8_t *sig, const uint8_t mu[64], const uint8_t *rnd,
                   const uint8_t *sk, size_t sk_len);
int hz_sig_verify_internal(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len,
                           const uint8_t *mprime, size_t mprime_len, const uint8_t *pk, size_t pk_len);
int hz_sig_verify_mu(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len, const uint8_t mu[64],
                     const uint8_t *pk, size_t pk_len);

/* ---- BLAKE3 ------------------------------------------------------------------------------ */

#define HZ_BLAKE3_LEN 32
#define HZ_BLAKE3_KEY_LEN 32

/* A streaming hasher. Fields are private; it lives on the stack, no allocation, no cleanup
 * (but hz_secure_zero it after keyed hashing if the key is secret). */
typedef struct hz_blake3_hasher {
    blake3_hasher impl;
} hz_blake3_hasher_t;

void hz_blake3_init(hz_blake3_hasher_t *h);
void hz_blake3_init_keyed(hz_blake3_hasher_t *h, const uint8_t key[HZ_BLAKE3_KEY_LEN]);
/* context: a hard-coded, globally unique string such as "hanzo 2026-01 key id v1". */
void hz_blake3_init_derive_key(hz_blake3_hasher_t *h, const char *context);
void hz_blake3_update(hz_blake3_hasher_t *h, const void *data, size_t len);
/* Any output length (extended output); does not change the hasher, so more input may follow. */
void hz_blake3_final(const hz_blake3_hasher_t *h, uint8_t *out, size_t out_len);
/* Extended output starting at byte offset seek of the output stream. */
void hz_blake3_final_seek(const hz_blake3_hasher_t *h, uint64_t seek, uint8_t *out, size_t out_len);
/* Back to the state right after init (same mode and key). */
void hz_blake3_reset(hz_blake3_hasher_t *h);

/* One-shot helpers. */
void hz_blake3(const void *data, size_t len, uint8_t out[HZ_BLAKE3_LEN]);
/* Lowercase hex of hz_blake3 (64 characters + NUL). */
void hz_blake3_hex(const void *data, size_t len, char out[2 * HZ_BLAKE3_LEN + 1]);
void hz_blake3_keyed(const uint8_t key[HZ_BLAKE3_KEY_LEN], const void *data, size_t len,
                     uint8_t out[HZ_BLAKE3_LEN]);
void hz_blake3_derive_key(const char *context, const void *material, size_t len, uint8_t *out,
                          size_t out_len);

/* Multi-threaded hashing of one large input. The input is cut into equal power-of-two-chunk
 * subtrees that threads hash independently; their chaining values are merged into BLAKE3's tree
 * exactly as the sequential hasher would, so the result equals the streaming hash.
 *   mode:    a freshly initialised hasher (plain, keyed or derive-key) whose mode and key are
 *            used; NULL = plain hash. It is not modified.
 *   threads: 0 = one per online CPU; 1 = the single-threaded library path.
 * Inputs below a few MiB are hashed on the calling thread whatever `threads` says. */
void hz_blake3_parallel(const hz_blake3_hasher_t *mode, int threads, const void *data, size_t len,
                        uint8_t *out, size_t out_len);
/* Hash everything readable from fd (from its current offset for pipes; the whole file for
 * regular files, which are memory-mapped and hashed in parallel like hz_blake3_parallel).
 * HZ_EIO with errno text on read errors. */
int hz_blake3_fd(const hz_blake3_hasher_t *mode, int threads, int fd, uint8_t *out, size_t out_len);
/* Open, hash and close path ("-" is standard input). */
int hz_blake3_file(const hz_blake3_hasher_t *mode, int threads, const char *path, uint8_t *out,
                   size_t out_len);

/* "avx512", "avx2", "sse4.1", "sse2" or "portable": the kernel BLAKE3 dispatches to here. */
const char *hz_blake3_simd(void);

/* ---- AEAD: ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 ----------------------------- */

typedef enum {
    HZ_AEAD_CHACHA20_POLY1305 = 1,  /* 12-byte nonce: never reuse; use counters, not random */
    HZ_AEAD_XCHACHA20_POLY1305 = 2, /* 24-byte nonce: random nonces are safe */
} hz_aead_id_t;

#define HZ_AEAD_KEY_LEN 32
#define HZ_AEAD_TAG_LEN 16
#define HZ_AEAD_MAX_NONCE_LEN 24

/* Nonce length of alg (12 or 24); 0 for an unknown id. */
size_t hz_aead_nonce_len(hz_aead_id_t alg);
const char *hz_aead_name(hz_aead_id_t alg);

/* ct receives pt_len + HZ_AEAD_TAG_LEN bytes (ciphertext then tag). ct may equal pt. */
int hz_aead_encrypt(hz_aead_id_t alg, uint8_t *ct, const uint8_t *pt, size_t pt_len,
                    const uint8_t *ad, size_t ad_len, const uint8_t *nonce, size_t nonce_len,
                    const uint8_t key[HZ_AEAD_KEY_LEN]);
/* pt receives ct_len - HZ_AEAD_TAG_LEN bytes. HZ_ECRYPTO when the tag does not verify (pt is
 * then zeroed), HZ_EINVAL when ct_len is shorter than a tag or the nonce length is wrong. */
int hz_aead_decrypt(hz_aead_id_t alg, uint8_t *pt, const uint8_t *ct, size_t ct_len,
                    const uint8_t *ad, size_t ad_len, const uint8_t *nonce, size_t nonce_len,
                    const uint8_t key[HZ_AEAD_KEY_LEN]);

/* ---- key derivation ----------------------------------------------------------------------- */

typedef enum { HZ_HKDF_SHA256 = 1, HZ_HKDF_SHA384 = 2 } hz_hkdf_hash_t;

/* RFC 5869 extract-then-expand. salt may be NULL (= hash-length zeros), info may be NULL.
 * out_len is at most 255 * hash length (HZ_EINVAL beyond). */
int hz_hkdf(hz_hkdf_hash_t hash, uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
            const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len);
/* The two halves, for protocols that keep the PRK. prk receives the hash length (32 or 48). */
int hz_hkdf_extract(hz_hkdf_hash_t hash, uint8_t *prk, const uint8_t *ikm, size_t ikm_len,
                    const uint8_t *salt, size_t salt_len);
int hz_hkdf_expand(hz_hkdf_hash_t hash, uint8_t *out, size_t out_len, const uint8_t *prk,
                   size_t prk_len, const uint8_t *info, size_t info_len);

/* Argon2id (RFC 9106, version 0x13, parallelism 1) for passphrases, via libsodium crypto_pwhash.
 * ops = passes (t), mem = memory in bytes (m * 1024). The defaults cost ~0.1 s and 64 MiB here;
 * key files record the values they used. */
#define HZ_ARGON2ID_SALT_LEN 16
#define HZ_ARGON2ID_OPS_DEFAULT 3
#define HZ_ARGON2ID_MEM_DEFAULT ((size_t)64 << 20)
/* HZ_EINVAL for parameters outside libsodium's limits (ops >= 1, 8 KiB <= mem, 16 <= out_len),
 * HZ_ENOMEM when the memory cannot be had. */
int hz_argon2id(uint8_t *out, size_t out_len, const char *pass, size_t pass_len,
                const uint8_t salt[HZ_ARGON2ID_SALT_LEN], uint64_t ops, size_t mem);

#endif
