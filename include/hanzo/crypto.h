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

/* ---- keys and key files ------------------------------------------------------------------- */

/* A key of any algorithm above: a key pair, or only its public half. Its id is 32 bytes of
 * BLAKE3 (derive-key mode) over the key type, the algorithm id and the public key, so the public
 * and the secret file of one pair carry the same id.
 *
 * Key files are armored text a person can read and paste:
 *
 *   -----BEGIN HANZO ML-DSA-65 SECRET KEY-----
 *   Version: 1
 *   Key-Id: 3f9a...                      (64 hex digits)
 *   Encryption: argon2id-xchacha20poly1305
 *
 *   AQICAs...                            (base64, 64 characters a line)
 *   =k3JfQ9aB                            (checksum)
 *   -----END HANZO ML-DSA-65 SECRET KEY-----
 *
 * docs/formats/keys.md gives the layout byte by byte. A secret file holds the public key beside
 * the secret one, in the clear even when the secret is encrypted, so the public key and the id
 * can be read without the passphrase. Reading a file checks everything: the armor lines, the
 * checksum over headers and body (a bit flip anywhere is reported), the version, the algorithm
 * named in the BEGIN line against the body, the Key-Id header against the public key, the public
 * key itself (FIPS 203 modulus check for ML-KEM), and that the secret key belongs to the public
 * key (recomputed from it). Errors, each with line/offset detail:
 *   HZ_EPARSE        malformed or truncated file (the message starts with "truncated")
 *   HZ_ECRYPTO       checksum mismatch (modified or damaged), Key-Id or key-pair mismatch
 *   HZ_EVERSION      a key file version this program does not read
 *   HZ_EUNSUPPORTED  an algorithm name it does not know
 *   HZ_EAUTH         encrypted and no passphrase given, or the passphrase is wrong
 *   HZ_ETOOBIG       a file over HZ_KEYFILE_MAX_LEN, or Argon2id costs over the caller's limit
 * Secret bytes are wiped from every buffer the library frees. */

typedef enum { HZ_KEY_KEM = 1, HZ_KEY_SIG = 2 } hz_key_type_t;

#define HZ_KEY_ID_LEN 32
#define HZ_KEYFILE_VERSION 1
#define HZ_KEYFILE_MAX_LEN ((size_t)64 << 10)
/* What a key file may ask Argon2id for unless the reader sets its own limits. */
#define HZ_KEYFILE_ARGON2_OPS_MAX 16
#define HZ_KEYFILE_ARGON2_MEM_MAX ((size_t)1 << 30)

typedef struct hz_key {
    hz_key_type_t type;
    const hz_kem_t *kem;        /* type HZ_KEY_KEM, else NULL */
    const hz_sig_t *sig;        /* type HZ_KEY_SIG, else NULL */
    const char *alg;            /* canonical algorithm name: "ml-dsa-65", "x-wing" */
    uint8_t id[HZ_KEY_ID_LEN];
    uint8_t *pk;
    size_t pk_len;
    uint8_t *sk;                /* NULL for a public key */
    size_t sk_len;
} hz_key_t;

/* Any algorithm by name, case-insensitively: sets *type and one of *kem / *sig (either out
 * pointer may be NULL). HZ_EUNSUPPORTED, listing every known name, when unknown. */
int hz_key_alg_by_name(const char *name, hz_key_type_t *type, const hz_kem_t **kem, const hz_sig_t **sig);

/* A fresh key pair from the CSPRNG. Free with hz_key_free. */
int hz_key_generate(const char *alg, hz_key_t **out);
/* Wrap raw key bytes in the format of the algorithm's standard (PQClean's, which is FIPS 203/204's
 * and @noble/post-quantum's). from_public runs the ML-KEM encapsulation-key check; from_secret
 * recomputes the public key from the secret one (ML-KEM: the stored ek after the 7.3 hash check;
 * X-Wing: from its seed; ML-DSA: t = A*s1 + s2) and checks the secret key is self-consistent. */
int hz_key_from_public(const char *alg, const uint8_t *pk, size_t pk_len, hz_key_t **out);
int hz_key_from_secret(const char *alg, const uint8_t *sk, size_t sk_len, hz_key_t **out);
/* Wipes the secret key, then frees. NULL is a no-op. */
void hz_key_free(hz_key_t *key);
/* Lowercase hex of key->id. */
void hz_key_id_hex(const hz_key_t *key, char out[2 * HZ_KEY_ID_LEN + 1]);
/* 0 when key is of `type`, of algorithm `alg` (NULL: any) and has a secret half if need_secret;
 * otherwise HZ_EINVAL naming what the key is and what was wanted ("alice.key holds an
 * ml-kem-768 key, not an ml-dsa-65 key"). */
int hz_key_expect(const hz_key_t *key, hz_key_type_t type, const char *alg, bool need_secret);

typedef struct hz_key_write_opts {
    const char *passphrase;     /* NULL: the secret key is stored unencrypted */
    size_t passphrase_len;
    uint64_t argon2_ops;        /* 0: HZ_ARGON2ID_OPS_DEFAULT */
    size_t argon2_mem;          /* bytes, a multiple of 1024; 0: HZ_ARGON2ID_MEM_DEFAULT */
    bool overwrite;             /* hz_key_save: replace an existing file (else HZ_EEXIST) */
} hz_key_write_opts_t;

typedef struct hz_key_read_opts {
    const char *passphrase;     /* NULL: none (an encrypted secret file is then HZ_EAUTH) */
    size_t passphrase_len;
    bool public_only;           /* from a secret file take only the public key: no passphrase,
                                   no decryption; the result has sk == NULL */
    uint64_t argon2_ops_max;    /* 0: HZ_KEYFILE_ARGON2_OPS_MAX */
    size_t argon2_mem_max;      /* 0: HZ_KEYFILE_ARGON2_MEM_MAX */
} hz_key_read_opts_t;

/* Append the armored public (secret == false) or secret key file to out. The buffer is grown
 * once, to the exact size, so no copy of a secret is left behind in freed memory; the caller
 * wipes it (hz_secure_zero(out->data, out->len)) when it held a secret. opts may be NULL. */
int hz_key_encode(const hz_key_t *key, bool secret, const hz_key_write_opts_t *opts, hz_buf_t *out);
/* Parse a key file (public or secret). opts may be NULL. */
int hz_key_decode(const char *text, size_t len, const hz_key_read_opts_t *opts, hz_key_t **out);
/* Write the file: a secret one with mode 0600, a public one 0644 (less the umask). Without
 * opts->overwrite an existing file is HZ_EEXIST; with it, the new file replaces the old one
 * atomically (written beside it, then renamed). */
int hz_key_save(const hz_key_t *key, bool secret, const char *path, const hz_key_write_opts_t *opts);
/* Read and decode path; errors are prefixed with the path. */
int hz_key_load(const char *path, const hz_key_read_opts_t *opts, hz_key_t **out);

/* ---- sealed data ---------------------------------------------------------------------------- */

/* Encryption to a recipient's KEM public key (X-Wing, the default hybrid, or ML-KEM), streamed in
 * chunks so any size is sealed and opened in constant memory:
 *
 *   header  "HZSEAL", version, KEM id, chunk size, recipient key id, KEM ciphertext, header tag
 *   chunks  ChaCha20-Poly1305, each a full chunk of plaintext except the last, which is shorter
 *           (possibly empty) and flagged final; the nonce is (chunk index, final flag)
 *
 * Keys come from HKDF-SHA256 over the KEM shared secret, salted with the BLAKE3 hash of the
 * header, so every header byte is authenticated. Reordered, duplicated, dropped, truncated or
 * appended chunks all fail. docs/formats/sealed.md has the layout.
 *
 * hz_open releases each chunk's plaintext as soon as that chunk authenticates. If a later chunk
 * fails, what was written is authentic but incomplete: a caller writing a file removes it (the
 * buffer variant resets its output itself). Errors:
 *   HZ_EPARSE        not a sealed file, or a truncated or malformed header
 *   HZ_EVERSION      a sealed-file version this program does not read
 *   HZ_EUNSUPPORTED  an unknown KEM id
 *   HZ_EAUTH         sealed to another key (KEM or key id differ)
 *   HZ_ECRYPTO       the header or a chunk fails authentication, or the data ends early
 *   HZ_EIO           from the read / write callbacks */

#define HZ_SEAL_VERSION 1
#define HZ_SEAL_CHUNK_DEFAULT ((size_t)64 << 10)
#define HZ_SEAL_CHUNK_MIN ((size_t)1 << 10)
#define HZ_SEAL_CHUNK_MAX ((size_t)16 << 20)

typedef struct hz_seal_opts {
    size_t chunk_size;          /* power of two, HZ_SEAL_CHUNK_MIN..MAX; 0: the default */
    const uint8_t *encaps_seed; /* known-answer tests only: derandomised encapsulation with this */
    size_t encaps_seed_len;     /* many bytes (kem->encaps_seed_len) */
} hz_seal_opts_t;

/* Read up to cap bytes into buf, setting *got; *got == 0 means the end of the input. Write all
 * len bytes. Both return 0 or a negative HZ_E* code (with hz_error_set), which aborts the call. */
typedef int (*hz_seal_read_fn)(void *ctx, uint8_t *buf, size_t cap, size_t *got);
typedef int (*hz_seal_write_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Seal everything `read` gives to `to` (a KEM key; the public half is enough). opts may be NULL. */
int hz_seal(const hz_key_t *to, const hz_seal_opts_t *opts, hz_seal_read_fn read, void *rctx,
            hz_seal_write_fn write, void *wctx);
/* Open with `key` (a KEM key with its secret half). */
int hz_open(const hz_key_t *key, hz_seal_read_fn read, void *rctx, hz_seal_write_fn write, void *wctx);

/* Buffers: append to out. hz_open_buf leaves out as it was (and wipes what it had added) on error. */
int hz_seal_buf(const hz_key_t *to, const hz_seal_opts_t *opts, const void *pt, size_t len, hz_buf_t *out);
int hz_open_buf(const hz_key_t *key, const void *sealed, size_t len, hz_buf_t *out);
/* File descriptors (pipes, sockets, files), from their current offsets. */
int hz_seal_fd(const hz_key_t *to, const hz_seal_opts_t *opts, int in_fd, int out_fd);
int hz_open_fd(const hz_key_t *key, int in_fd, int out_fd);
/* stdio streams. */
int hz_seal_stream(const hz_key_t *to, const hz_seal_opts_t *opts, FILE *in, FILE *out);
int hz_open_stream(const hz_key_t *key, FILE *in, FILE *out);

/* The exact size of a sealed file holding pt_len bytes (chunk_size 0 = default). */
uint64_t hz_sealed_size(const hz_kem_t *kem, size_t chunk_size, uint64_t pt_len);

/* ---- privacy tiers -------------------------------------------------------------------------- */

/* A tier says how much a workload's data is protected and which algorithms protect it:
 *
 *   0 Open         ML-KEM-768 / ML-DSA-65 (or X-Wing); nothing else required
 *   1 At-Rest      the same algorithms; secret keys and stored data encrypted
 *   2 CPU TEE      + the node runs in a CPU TEE (SEV-SNP, TDX), proven by attestation
 *   3 GPU CC       ML-KEM-1024 / ML-DSA-87; + a GPU in confidential-computing mode, attested
 *   4 GPU TEE-I/O  ML-KEM-1024 / ML-DSA-87; + TEE-I/O (the device bound into the TEE), attested
 *
 * A tier's algorithms are a floor: a key of a higher NIST category is accepted, a lower one is
 * not. Tiers 2-4 need a verified attestation that the key broker supplies; until it does, the
 * attestation is HZ_ATTESTATION_NONE and those tiers are refused. */

typedef enum {
    HZ_TIER_OPEN = 0,
    HZ_TIER_AT_REST = 1,
    HZ_TIER_CPU_TEE = 2,
    HZ_TIER_GPU_CC = 3,
    HZ_TIER_GPU_TEE_IO = 4,
} hz_tier_t;

#define HZ_TIER_COUNT 5

/* Features a tier requires; an attestation proves the last three. */
#define HZ_TIER_F_ENCRYPT_AT_REST 0x1u /* secret keys and stored data encrypted */
#define HZ_TIER_F_CPU_TEE 0x2u         /* the node runs inside a CPU TEE */
#define HZ_TIER_F_GPU_CC 0x4u          /* GPUs in confidential-computing mode */
#define HZ_TIER_F_TEE_IO 0x8u          /* devices bound into the TEE (TEE-I/O, TDISP) */
#define HZ_TIER_F_ATTESTED (HZ_TIER_F_CPU_TEE | HZ_TIER_F_GPU_CC | HZ_TIER_F_TEE_IO)

typedef struct hz_tier_info {
    hz_tier_t tier;
    const char *name;           /* "open", "at-rest", "cpu-tee", "gpu-cc", "gpu-tee-io" */
    const char *title;          /* "Open", "At-Rest", "CPU TEE", "GPU CC", "GPU TEE-I/O" */
    const char *kem;            /* default KEM: "ml-kem-768" or "ml-kem-1024" */
    const char *seal_kem;       /* default for sealing: "x-wing" (hybrid) or "ml-kem-1024" */
    const char *sig;            /* default signature: "ml-dsa-65" or "ml-dsa-87" */
    int min_level;              /* lowest NIST category accepted: 3 or 5 */
    unsigned features;          /* HZ_TIER_F_* required */
} hz_tier_info_t;

/* What the key broker found when it verified the node's attestation evidence. Only the broker
 * sets `verified`; everything else starts from HZ_ATTESTATION_NONE. */
typedef struct hz_attestation {
    bool verified;              /* the evidence was checked against its vendor's roots */
    unsigned features;          /* HZ_TIER_F_CPU_TEE | _GPU_CC | _TEE_IO that it proves */
    char platform[32];          /* "sev-snp", "tdx", "nvidia-h100-cc", ... (for messages) */
    int64_t expires_ms;         /* wall-clock expiry in ms since the epoch; 0: none */
} hz_attestation_t;

#define HZ_ATTESTATION_NONE ((hz_attestation_t){0})

/* The tier's description; NULL (with HZ_EINVAL) outside 0..4. */
const hz_tier_info_t *hz_tier_info(hz_tier_t tier);
/* "0".."4" or a name ("gpu-cc", "GPU CC", case-insensitive) -> *out. HZ_EINVAL when neither. */
int hz_tier_parse(const char *s, hz_tier_t *out);
/* May work of this tier run here? 0, or HZ_EAUTH saying which attested feature is missing, or
 * that the attestation is absent, unverified or expired. att NULL means none. */
int hz_tier_check(hz_tier_t tier, const hz_attestation_t *att);
/* Is key's algorithm strong enough for the tier? 0, or HZ_EINVAL naming the floor. */
int hz_tier_check_key(hz_tier_t tier, const hz_key_t *key);

#endif
