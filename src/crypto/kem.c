/*
 * KEM algorithm objects: ML-KEM-512/768/1024, X-Wing (xwing.c), and the length-checked public
 * wrappers every KEM operation goes through.
 *
 * Two implementations sit behind each ML-KEM object: our AVX2 one (mlkem_fast.c), taken when the
 * CPU has AVX2 (pqfast.c decides once), and PQClean's clean C otherwise. Both are driven through
 * their derandomised forms (coins = d || z, FIPS 203 ML-KEM.KeyGen_internal; m,
 * ML-KEM.Encaps_internal) with the seed drawn here, so the random and the known-answer paths are
 * one code path, and both produce the same bytes.
 *
 * What PQClean leaves out is FIPS 203's input checking, added here and run on every call:
 *   7.2 encapsulation key: ByteEncode12(ByteDecode12(ek)) == ek for the encoded vector, i.e.
 *       every 12-bit coefficient is already reduced below q = 3329 (otherwise two keys encode
 *       the same vector and the FO transform's binding argument breaks);
 *   7.3 decapsulation key: the H(ek) stored in dk equals SHA3-256 of the ek stored beside it.
 * The ciphertext and key "type checks" are the length checks of the wrappers.
 */
#include "crypto/internal.h"
#include "crypto/keccak.h"
#include "crypto/pqfast.h"

#include <string.h>

#include <crypto_kem/ml-kem-1024/clean/api.h>
#include <crypto_kem/ml-kem-512/clean/api.h>
#include <crypto_kem/ml-kem-768/clean/api.h>

/* Exported by PQClean's kem.c but declared only in its per-directory kem.h, which cannot be
 * included three times in one file (each defines the same KYBER_* macros). */
#define DECLARE_MLKEM(NS)                                                                        \
    int NS##_crypto_kem_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t *coins);         \
    int NS##_crypto_kem_enc_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *coins);
DECLARE_MLKEM(PQCLEAN_MLKEM512_CLEAN)
DECLARE_MLKEM(PQCLEAN_MLKEM768_CLEAN)
DECLARE_MLKEM(PQCLEAN_MLKEM1024_CLEAN)

#define MLKEM_Q 3329
#define MLKEM_POLYBYTES 384 /* 256 coefficients x 12 bits */

/* FIPS 203 section 7.2 over the first 384k bytes of an encapsulation key. Three bytes hold two
 * 12-bit little-endian coefficients; ByteDecode12 reduces them mod q, so re-encoding reproduces
 * the key exactly when every coefficient is already below q. The key is public: plain compares. */
int hz__mlkem_check_pk(const char *name, size_t k, const uint8_t *pk) {
    for (size_t i = 0; i < k * MLKEM_POLYBYTES; i += 3) {
        unsigned a = pk[i] | (pk[i + 1] & 0x0Fu) << 8;
        unsigned b = pk[i + 1] >> 4 | (unsigned)pk[i + 2] << 4;
        if (a >= MLKEM_Q || b >= MLKEM_Q) {
            size_t coef = i / 3 * 2 + (a >= MLKEM_Q ? 0 : 1);
            return hz_error_set(HZ_EINVAL,
                                "%s encapsulation key fails the FIPS 203 modulus check: polynomial %zu "
                                "coefficient %zu is %u, not below q = %d (byte offset %zu)",
                                name, coef / 256, coef % 256, a >= MLKEM_Q ? a : b, MLKEM_Q,
                                i + (a >= MLKEM_Q ? 0 : 1));
        }
    }
    return 0;
}

/* FIPS 203 section 7.3: dk = dk_PKE (384k) || ek (384k + 32) || H(ek) (32) || z (32). */
static int mlkem_check_sk(const hz_kem_t *kem, const uint8_t *sk) {
    size_t k = (kem->pk_len - 32) / MLKEM_POLYBYTES;
    const uint8_t *ek = sk + k * MLKEM_POLYBYTES;
    const uint8_t *h = ek + kem->pk_len;
    uint8_t hek[32];
    hz__sha3_256(hek, ek, kem->pk_len);
    if (!hz_ct_equal(hek, h, 32))
        return hz_error_set(HZ_ECRYPTO,
                            "%s decapsulation key fails the FIPS 203 hash check: H(ek) stored at byte "
                            "offset %zu does not match the encapsulation key at offset %zu "
                            "(corrupted or tampered key)",
                            kem->name, (size_t)(h - sk), (size_t)(ek - sk));
    return 0;
}

static int mlkem_check_pk(const hz_kem_t *kem, const uint8_t *pk) {
    return hz__mlkem_check_pk(kem->name, (kem->pk_len - 32) / MLKEM_POLYBYTES, pk);
}

/* Each operation takes the AVX2 path (mlkem_fast.c) when the CPU has it, else PQClean's. */
#define MLKEM_OPS(SUFFIX, NS, K)                                                                 \
    static int keypair_##SUFFIX(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk, const uint8_t *seed) { \
        (void)kem;                                                                               \
        if (hz__pqfast()) {                                                                      \
            hz__mlkem_fast_keypair(K, pk, sk, seed);                                             \
            return 0;                                                                            \
        }                                                                                        \
        return NS##_crypto_kem_keypair_derand(pk, sk, seed);                                     \
    }                                                                                            \
    static int encaps_##SUFFIX(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk, \
                               const uint8_t *seed) {                                            \
        (void)kem;                                                                               \
        if (hz__pqfast()) {                                                                      \
            hz__mlkem_fast_encaps(K, ct, ss, pk, seed);                                          \
            return 0;                                                                            \
        }                                                                                        \
        return NS##_crypto_kem_enc_derand(ct, ss, pk, seed);                                     \
    }                                                                                            \
    static int decaps_##SUFFIX(const hz_kem_t *kem, uint8_t *ss, const uint8_t *ct, const uint8_t *sk) { \
        (void)kem;                                                                               \
        if (hz__pqfast()) {                                                                      \
            hz__mlkem_fast_decaps(K, ss, ct, sk);                                                \
            return 0;                                                                            \
        }                                                                                        \
        return NS##_crypto_kem_dec(ss, ct, sk);                                                  \
    }                                                                                            \
    static const struct hz_kem_ops ops_##SUFFIX = {keypair_##SUFFIX, encaps_##SUFFIX, decaps_##SUFFIX, \
                                                   mlkem_check_pk, mlkem_check_sk};

MLKEM_OPS(512, PQCLEAN_MLKEM512_CLEAN, 2)
MLKEM_OPS(768, PQCLEAN_MLKEM768_CLEAN, 3)
MLKEM_OPS(1024, PQCLEAN_MLKEM1024_CLEAN, 4)

int hz__mlkem768_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t coins[64]) {
    return keypair_768(NULL, pk, sk, coins);
}
int hz__mlkem768_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t m[32]) {
    return encaps_768(NULL, ct, ss, pk, m);
}
int hz__mlkem768_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk) {
    return decaps_768(NULL, ss, ct, sk);
}

static const hz_kem_t kem_mlkem512 = {
    HZ_KEM_ML_KEM_512, "ml-kem-512", "FIPS 203", 1,
    PQCLEAN_MLKEM512_CLEAN_CRYPTO_PUBLICKEYBYTES, PQCLEAN_MLKEM512_CLEAN_CRYPTO_SECRETKEYBYTES,
    PQCLEAN_MLKEM512_CLEAN_CRYPTO_CIPHERTEXTBYTES, PQCLEAN_MLKEM512_CLEAN_CRYPTO_BYTES, 64, 32, &ops_512};
static const hz_kem_t kem_mlkem768 = {
    HZ_KEM_ML_KEM_768, "ml-kem-768", "FIPS 203", 3,
    PQCLEAN_MLKEM768_CLEAN_CRYPTO_PUBLICKEYBYTES, PQCLEAN_MLKEM768_CLEAN_CRYPTO_SECRETKEYBYTES,
    PQCLEAN_MLKEM768_CLEAN_CRYPTO_CIPHERTEXTBYTES, PQCLEAN_MLKEM768_CLEAN_CRYPTO_BYTES, 64, 32, &ops_768};
static const hz_kem_t kem_mlkem1024 = {
    HZ_KEM_ML_KEM_1024, "ml-kem-1024", "FIPS 203", 5,
    PQCLEAN_MLKEM1024_CLEAN_CRYPTO_PUBLICKEYBYTES, PQCLEAN_MLKEM1024_CLEAN_CRYPTO_SECRETKEYBYTES,
    PQCLEAN_MLKEM1024_CLEAN_CRYPTO_CIPHERTEXTBYTES, PQCLEAN_MLKEM1024_CLEAN_CRYPTO_BYTES, 64, 32, &ops_1024};

static const hz_kem_t *const kems[] = {&kem_mlkem512, &kem_mlkem768, &kem_mlkem1024, &hz__kem_xwing};
#define NKEMS (sizeof(kems) / sizeof(kems[0]))

const hz_kem_t *hz_kem_at(size_t i) {
    return i < NKEMS ? kems[i] : NULL;
}

const hz_kem_t *hz_kem_by_id(hz_kem_id_t id) {
    for (size_t i = 0; i < NKEMS; i++)
        if (kems[i]->id == id) return kems[i];
    hz_error_set(HZ_EUNSUPPORTED, "unknown KEM id %d", (int)id);
    return NULL;
}

const hz_kem_t *hz_kem_by_name(const char *name) {
    if (!name) {
        hz_error_set(HZ_EINVAL, "KEM name is NULL");
        return NULL;
    }
    for (size_t i = 0; i < NKEMS; i++)
        if (hz_str_ieq(name, kems[i]->name)) return kems[i];
    if (hz_str_ieq(name, "xwing")) return &hz__kem_xwing;
    hz_error_set(HZ_EUNSUPPORTED, "unknown KEM \"%s\" (known: ml-kem-512, ml-kem-768, ml-kem-1024, x-wing)", name);
    return NULL;
}

/* ---- public wrappers: length checks, then the operation --------------------------------- */

static int check_len(const hz_kem_t *kem, const char *what, size_t got, size_t want) {
    if (got != want)
        return hz_error_set(HZ_EINVAL, "%s %s is %zu bytes, expected %zu", kem->name, what, got, want);
    return 0;
}

int hz_kem_check_pk(const hz_kem_t *kem, const uint8_t *pk, size_t pk_len) {
    int rc = check_len(kem, "encapsulation key", pk_len, kem->pk_len);
    return rc ? rc : kem->ops->check_pk(kem, pk);
}

int hz_kem_check_sk(const hz_kem_t *kem, const uint8_t *sk, size_t sk_len) {
    int rc = check_len(kem, "decapsulation key", sk_len, kem->sk_len);
    return rc ? rc : kem->ops->check_sk(kem, sk);
}

int hz_kem_keypair_derand(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk, const uint8_t *seed,
                          size_t seed_len) {
    int rc = check_len(kem, "key-generation seed", seed_len, kem->keygen_seed_len);
    if (rc) return rc;
    return kem->ops->keypair_derand(kem, pk, sk, seed);
}

int hz_kem_keypair(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk) {
    uint8_t seed[64];
    hz_crypto_random(seed, kem->keygen_seed_len);
    int rc = kem->ops->keypair_derand(kem, pk, sk, seed);
    hz_secure_zero(seed, sizeof(seed));
    return rc;
}

int hz_kem_encaps_derand(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk,
                         size_t pk_len, const uint8_t *seed, size_t seed_len) {
    int rc = check_len(kem, "encapsulation seed", seed_len, kem->encaps_seed_len);
    if (!rc) rc = hz_kem_check_pk(kem, pk, pk_len);
    if (rc) return rc;
    return kem->ops->encaps_derand(kem, ct, ss, pk, seed);
}

int hz_kem_encaps(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk, size_t pk_len) {
    int rc = hz_kem_check_pk(kem, pk, pk_len);
    if (rc) return rc;
    uint8_t seed[64];
    hz_crypto_random(seed, kem->encaps_seed_len);
    rc = kem->ops->encaps_derand(kem, ct, ss, pk, seed);
    hz_secure_zero(seed, sizeof(seed));
    return rc;
}

int hz_kem_decaps(const hz_kem_t *kem, uint8_t *ss, const uint8_t *ct, size_t ct_len,
                  const uint8_t *sk, size_t sk_len) {
    int rc = check_len(kem, "ciphertext", ct_len, kem->ct_len);
    if (!rc) rc = hz_kem_check_sk(kem, sk, sk_len);
    if (rc) return rc;
    return kem->ops->decaps(kem, ss, ct, sk);
}
