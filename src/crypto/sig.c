/*
 * ML-DSA-44/65/87 (FIPS 204) signature objects and the public wrappers.
 *
 * Each operation runs on our AVX2 implementation (mldsa_fast.c) when the CPU has AVX2, else on
 * PQClean: its own entry points for pure ML-DSA, which take the context string, and mldsa_mu.h
 * for HashML-DSA and the internal interface. Randomness (xi at key generation, rnd when
 * signing) is drawn through PQCLEAN_randombytes on both paths, so every call runs under a
 * derandomisation source (rng.c) holding exactly the bytes FIPS 204 says the step consumes:
 * fresh CSPRNG bytes for hedged signing, 32 zeros for deterministic signing, the caller's bytes
 * for known-answer tests. mu, tr and the pre-hash message M' are formed here with our Keccak.
 */
#include "crypto/internal.h"
#include "crypto/keccak.h"
#include "crypto/pqfast.h"

#include <string.h>

#include <crypto_sign/ml-dsa-44/clean/api.h>
#include <crypto_sign/ml-dsa-65/clean/api.h>
#include <crypto_sign/ml-dsa-87/clean/api.h>
#include <openssl/evp.h>

#define MU_LEN 64
#define TR_LEN 64
#define RND_LEN 32
#define SK_TR_OFFSET 64 /* sk = rho (32) || K (32) || tr (64) || ... */

int PQCLEAN_randombytes(uint8_t *output, size_t n); /* rng.c: the CSPRNG or the derand source */

/* mu = H(tr || 0 || |ctx| || ctx || M, 64) for pure ML-DSA (FIPS 204 Algorithms 2 and 7). */
static void pure_mu(uint8_t mu[MU_LEN], const uint8_t tr[TR_LEN], const uint8_t *ctx, size_t ctx_len,
                    const uint8_t *msg, size_t msg_len) {
    uint8_t pre[2] = {0, (uint8_t)ctx_len};
    hz_keccak_t h;
    hz__keccak_init(&h, HZ_SHAKE256_RATE);
    hz__keccak_absorb(&h, tr, TR_LEN);
    hz__keccak_absorb(&h, pre, sizeof(pre));
    if (ctx_len) hz__keccak_absorb(&h, ctx, ctx_len);
    hz__keccak_absorb(&h, msg, msg_len);
    hz__keccak_finalize(&h, HZ_KECCAK_SHAKE);
    hz__keccak_squeeze(&h, mu, MU_LEN);
}

/* One parameter set's operations: each takes the AVX2 path (mldsa_fast.c) when the CPU has it,
 * else PQClean's functions (pure ML-DSA) and mldsa_mu.h (from mu). Both draw xi and rnd through
 * PQCLEAN_randombytes, so the derandomisation of rng.c works the same on either path. */
#define MLDSA_OPS(P, NS, LEVEL)                                                                  \
    static int keypair_##P(uint8_t *pk, uint8_t *sk) {                                          \
        if (!hz__pqfast()) return NS##_crypto_sign_keypair(pk, sk);                              \
        uint8_t xi[32];                                                                          \
        int rc = PQCLEAN_randombytes(xi, sizeof(xi));                                            \
        if (rc == 0) hz__mldsa_fast_keypair(P, pk, sk, xi);                                      \
        hz_secure_zero(xi, sizeof(xi));                                                          \
        return rc;                                                                               \
    }                                                                                            \
    static int sign_ctx_##P(uint8_t *sig, size_t *siglen, const uint8_t *m, size_t mlen, const uint8_t *ctx, \
                            size_t ctxlen, const uint8_t *sk) {                                  \
        if (!hz__pqfast()) return NS##_crypto_sign_signature_ctx(sig, siglen, m, mlen, ctx, ctxlen, sk); \
        uint8_t rnd[RND_LEN], mu[MU_LEN];                                                        \
        *siglen = 0;                                                                             \
        if (ctxlen > 255 || PQCLEAN_randombytes(rnd, sizeof(rnd)) != 0) return -1;              \
        pure_mu(mu, sk + SK_TR_OFFSET, ctx, ctxlen, m, mlen);                                    \
        int rc = hz__mldsa_fast_sign_mu(P, sig, mu, rnd, sk);                                    \
        if (rc == 0) *siglen = NS##_CRYPTO_BYTES;                                                \
        hz_secure_zero(rnd, sizeof(rnd));                                                        \
        return rc;                                                                               \
    }                                                                                            \
    static int verify_ctx_##P(const uint8_t *sig, size_t siglen, const uint8_t *m, size_t mlen,  \
                              const uint8_t *ctx, size_t ctxlen, const uint8_t *pk) {            \
        if (!hz__pqfast()) return NS##_crypto_sign_verify_ctx(sig, siglen, m, mlen, ctx, ctxlen, pk); \
        if (ctxlen > 255 || siglen != NS##_CRYPTO_BYTES) return -1;                              \
        uint8_t tr[TR_LEN], mu[MU_LEN];                                                          \
        hz__shake256(tr, TR_LEN, pk, NS##_CRYPTO_PUBLICKEYBYTES);                                \
        pure_mu(mu, tr, ctx, ctxlen, m, mlen);                                                   \
        return hz__mldsa_fast_verify_mu(P, sig, mu, pk);                                         \
    }                                                                                            \
    static int sign_mu_##P(uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk) { \
        return hz__pqfast() ? hz__mldsa_fast_sign_mu(P, sig, mu, rnd, sk) : hz_mldsa##P##_sign_mu(sig, mu, rnd, sk); \
    }                                                                                            \
    static int verify_mu_##P(const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk) {      \
        return hz__pqfast() ? hz__mldsa_fast_verify_mu(P, sig, mu, pk) : hz_mldsa##P##_verify_mu(sig, mu, pk); \
    }                                                                                            \
    static const struct hz_sig_ops ops_##P = {keypair_##P, sign_ctx_##P, verify_ctx_##P, sign_mu_##P, verify_mu_##P}; \
    static const hz_sig_t sig_mldsa##P = {HZ_SIG_ML_DSA_##P, "ml-dsa-" #P, "FIPS 204", LEVEL,    \
                                          NS##_CRYPTO_PUBLICKEYBYTES, NS##_CRYPTO_SECRETKEYBYTES,  \
                                          NS##_CRYPTO_BYTES, 32, &ops_##P};

MLDSA_OPS(44, PQCLEAN_MLDSA44_CLEAN, 2)
MLDSA_OPS(65, PQCLEAN_MLDSA65_CLEAN, 3)
MLDSA_OPS(87, PQCLEAN_MLDSA87_CLEAN, 5)

static const hz_sig_t *const sigs[] = {&sig_mldsa44, &sig_mldsa65, &sig_mldsa87};
#define NSIGS (sizeof(sigs) / sizeof(sigs[0]))

const hz_sig_t *hz_sig_at(size_t i) {
    return i < NSIGS ? sigs[i] : NULL;
}

const hz_sig_t *hz_sig_by_id(hz_sig_id_t id) {
    for (size_t i = 0; i < NSIGS; i++)
        if (sigs[i]->id == id) return sigs[i];
    hz_error_set(HZ_EUNSUPPORTED, "unknown signature algorithm id %d", (int)id);
    return NULL;
}

const hz_sig_t *hz_sig_by_name(const char *name) {
    if (!name) {
        hz_error_set(HZ_EINVAL, "signature algorithm name is NULL");
        return NULL;
    }
    for (size_t i = 0; i < NSIGS; i++)
        if (hz_str_ieq(name, sigs[i]->name)) return sigs[i];
    hz_error_set(HZ_EUNSUPPORTED, "unknown signature algorithm \"%s\" (known: ml-dsa-44, ml-dsa-65, ml-dsa-87)", name);
    return NULL;
}

/* ---- HashML-DSA pre-hash functions (FIPS 204 section 5.4.1) ----------------------------- */

typedef struct {
    const char *name;    /* FIPS 204 / ACVP spelling; also an OpenSSL 3 algorithm name */
    uint8_t oid_last;    /* DER OID 2.16.840.1.101.3.4.2.x: 06 09 60 86 48 01 65 03 04 02 x */
    size_t out_len;      /* bytes of PH(M); SHAKE lengths are fixed by FIPS 204 */
} prehash_info_t;

static const prehash_info_t prehashes[] = {
    [HZ_PREHASH_SHA2_224] = {"SHA2-224", 0x04, 28},
    [HZ_PREHASH_SHA2_256] = {"SHA2-256", 0x01, 32},
    [HZ_PREHASH_SHA2_384] = {"SHA2-384", 0x02, 48},
    [HZ_PREHASH_SHA2_512] = {"SHA2-512", 0x03, 64},
    [HZ_PREHASH_SHA2_512_224] = {"SHA2-512/224", 0x05, 28},
    [HZ_PREHASH_SHA2_512_256] = {"SHA2-512/256", 0x06, 32},
    [HZ_PREHASH_SHA3_224] = {"SHA3-224", 0x07, 28},
    [HZ_PREHASH_SHA3_256] = {"SHA3-256", 0x08, 32},
    [HZ_PREHASH_SHA3_384] = {"SHA3-384", 0x09, 48},
    [HZ_PREHASH_SHA3_512] = {"SHA3-512", 0x0a, 64},
    [HZ_PREHASH_SHAKE_128] = {"SHAKE-128", 0x0b, 32},
    [HZ_PREHASH_SHAKE_256] = {"SHAKE-256", 0x0c, 64},
};
#define NPREHASH (sizeof(prehashes) / sizeof(prehashes[0]))

int hz_prehash_by_name(const char *name, hz_prehash_t *out) {
    for (size_t i = 1; name && i < NPREHASH; i++)
        if (hz_str_ieq(name, prehashes[i].name)) {
            *out = (hz_prehash_t)i;
            return 0;
        }
    return hz_error_set(HZ_EUNSUPPORTED, "unknown pre-hash function \"%s\"", name ? name : "(null)");
}

const char *hz_prehash_name(hz_prehash_t ph) {
    if (ph == HZ_PREHASH_NONE) return "none";
    return (size_t)ph < NPREHASH ? prehashes[ph].name : "unknown";
}

/* PH(M) with OpenSSL; out receives prehashes[ph].out_len bytes. */
static int prehash_digest(hz_prehash_t ph, const uint8_t *msg, size_t msg_len, uint8_t *out) {
    const prehash_info_t *info = &prehashes[ph];
    EVP_MD *md = EVP_MD_fetch(NULL, info->name, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = md && ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, msg, msg_len);
    if (ok) {
        if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
            ok = EVP_DigestFinalXOF(ctx, out, info->out_len);
        } else {
            unsigned int n = 0;
            ok = EVP_DigestFinal_ex(ctx, out, &n) && n == info->out_len;
        }
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return ok ? 0 : hz_error_set(HZ_EINTERNAL, "OpenSSL cannot compute %s", info->name);
}

/* ---- mu and the option plumbing ----------------------------------------------------------- */

/* mu = SHAKE256(tr || M', 64) (FIPS 204 Algorithm 7 line 6, Algorithm 8 line 7). */
static void compute_mu(uint8_t mu[MU_LEN], const uint8_t tr[TR_LEN], const uint8_t *mprime, size_t mprime_len) {
    hz_keccak_t h;
    hz__keccak_init(&h, HZ_SHAKE256_RATE);
    hz__keccak_absorb(&h, tr, TR_LEN);
    hz__keccak_absorb(&h, mprime, mprime_len);
    hz__keccak_finalize(&h, HZ_KECCAK_SHAKE);
    hz__keccak_squeeze(&h, mu, MU_LEN);
}

static int check_len(const hz_sig_t *alg, const char *what, size_t got, size_t want) {
    if (got != want)
        return hz_error_set(HZ_EINVAL, "%s %s is %zu bytes, expected %zu", alg->name, what, got, want);
    return 0;
}

static int check_opts(const hz_sig_t *alg, const hz_sig_opts_t *o) {
    if (o->ctx_len > 255)
        return hz_error_set(HZ_EINVAL, "%s context string is %zu bytes; FIPS 204 allows at most 255",
                            alg->name, o->ctx_len);
    if (o->ctx_len && !o->ctx) return hz_error_set(HZ_EINVAL, "%s context length given without bytes", alg->name);
    if ((size_t)o->prehash >= NPREHASH)
        return hz_error_set(HZ_EINVAL, "%s: unknown pre-hash function %d", alg->name, (int)o->prehash);
    return 0;
}

/* HashML-DSA's M' = 1 || |ctx| || ctx || OID(PH) || PH(M), at most 2 + 255 + 11 + 64 bytes. */
static int hash_mprime(const hz_sig_opts_t *o, const uint8_t *msg, size_t msg_len, uint8_t *mp,
                       size_t *mp_len) {
    const prehash_info_t *info = &prehashes[o->prehash];
    static const uint8_t oid_prefix[10] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02};
    size_t n = 0;
    mp[n++] = 1;
    mp[n++] = (uint8_t)o->ctx_len;
    if (o->ctx_len) memcpy(mp + n, o->ctx, o->ctx_len);
    n += o->ctx_len;
    memcpy(mp + n, oid_prefix, sizeof(oid_prefix));
    n += sizeof(oid_prefix);
    mp[n++] = info->oid_last;
    int rc = prehash_digest(o->prehash, msg, msg_len, mp + n);
    *mp_len = n + info->out_len;
    return rc;
}

#define MPRIME_MAX (2 + 255 + 11 + 64)

/* ---- public operations -------------------------------------------------------------------- */

int hz_sig_keypair_derand(const hz_sig_t *alg, uint8_t *pk, uint8_t *sk, const uint8_t *seed,
                          size_t seed_len) {
    int rc = check_len(alg, "key-generation seed", seed_len, alg->keygen_seed_len);
    if (rc) return rc;
    hz__derand_begin(seed, seed_len);
    alg->ops->keypair(pk, sk);
    rc = hz__derand_end("ML-DSA key generation");
    if (rc) hz_secure_zero(sk, alg->sk_len);
    return rc;
}

int hz_sig_keypair(const hz_sig_t *alg, uint8_t *pk, uint8_t *sk) {
    uint8_t xi[32];
    hz_crypto_random(xi, sizeof(xi));
    int rc = hz_sig_keypair_derand(alg, pk, sk, xi, sizeof(xi));
    hz_secure_zero(xi, sizeof(xi));
    return rc;
}

/* The rnd for one signature: explicit, zeros (deterministic) or fresh (hedged, the default). */
static void pick_rnd(const hz_sig_opts_t *o, uint8_t rnd[RND_LEN]) {
    if (o->rnd)
        memcpy(rnd, o->rnd, RND_LEN);
    else if (o->deterministic)
        memset(rnd, 0, RND_LEN);
    else
        hz_crypto_random(rnd, RND_LEN);
}

int hz_sig_sign(const hz_sig_t *alg, uint8_t *sig, const uint8_t *msg, size_t msg_len,
                const uint8_t *sk, size_t sk_len, const hz_sig_opts_t *opts) {
    static const hz_sig_opts_t defaults = {0};
    const hz_sig_opts_t *o = opts ? opts : &defaults;
    int rc = check_len(alg, "secret key", sk_len, alg->sk_len);
    if (!rc) rc = check_opts(alg, o);
    if (rc) return rc;

    uint8_t rnd[RND_LEN];
    pick_rnd(o, rnd);
    if (o->prehash == HZ_PREHASH_NONE) {
        size_t siglen = 0;
        hz__derand_begin(rnd, RND_LEN);
        alg->ops->sign_ctx(sig, &siglen, msg, msg_len, o->ctx, o->ctx_len, sk);
        rc = hz__derand_end("ML-DSA signing");
        if (!rc && siglen != alg->sig_len)
            rc = hz_error_set(HZ_EINTERNAL, "%s produced a %zu-byte signature", alg->name, siglen);
    } else {
        uint8_t mp[MPRIME_MAX], mu[MU_LEN];
        size_t mp_len;
        rc = hash_mprime(o, msg, msg_len, mp, &mp_len);
        if (!rc) {
            compute_mu(mu, sk + SK_TR_OFFSET, mp, mp_len);
            if (alg->ops->sign_mu(sig, mu, rnd, sk) != 0)
                rc = hz_error_set(HZ_EINTERNAL, "%s signing did not terminate", alg->name);
        }
    }
    hz_secure_zero(rnd, sizeof(rnd));
    if (rc) memset(sig, 0, alg->sig_len);
    return rc;
}

static int verify_result(const hz_sig_t *alg, int ok) {
    return ok == 0 ? 0 : hz_error_set(HZ_ECRYPTO, "%s signature is not valid for this message and key", alg->name);
}

int hz_sig_verify(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                  size_t msg_len, const uint8_t *pk, size_t pk_len, const hz_sig_opts_t *opts) {
    static const hz_sig_opts_t defaults = {0};
    const hz_sig_opts_t *o = opts ? opts : &defaults;
    int rc = check_len(alg, "public key", pk_len, alg->pk_len);
    if (!rc) rc = check_len(alg, "signature", sig_len, alg->sig_len);
    if (!rc) rc = check_opts(alg, o);
    if (rc) return rc;
    if (o->prehash == HZ_PREHASH_NONE)
        return verify_result(alg, alg->ops->verify_ctx(sig, sig_len, msg, msg_len, o->ctx, o->ctx_len, pk));

    uint8_t mp[MPRIME_MAX], tr[TR_LEN], mu[MU_LEN];
    size_t mp_len;
    rc = hash_mprime(o, msg, msg_len, mp, &mp_len);
    if (rc) return rc;
    hz__shake256(tr, TR_LEN, pk, pk_len);
    compute_mu(mu, tr, mp, mp_len);
    return verify_result(alg, alg->ops->verify_mu(sig, mu, pk));
}

int hz_sig_sign_mu(const hz_sig_t *alg, uint8_t *sig, const uint8_t mu[64], const uint8_t *rnd,
                   const uint8_t *sk, size_t sk_len) {
    int rc = check_len(alg, "secret key", sk_len, alg->sk_len);
    if (rc) return rc;
    static const uint8_t zeros[RND_LEN] = {0};
    if (alg->ops->sign_mu(sig, mu, rnd ? rnd : zeros, sk) != 0) {
        memset(sig, 0, alg->sig_len);
        return hz_error_set(HZ_EINTERNAL, "%s signing did not terminate", alg->name);
    }
    return 0;
}

int hz_sig_sign_internal(const hz_sig_t *alg, uint8_t *sig, const uint8_t *mprime, size_t mprime_len,
                         const uint8_t *rnd, const uint8_t *sk, size_t sk_len) {
    int rc = check_len(alg, "secret key", sk_len, alg->sk_len);
    if (rc) return rc;
    uint8_t mu[MU_LEN];
    compute_mu(mu, sk + SK_TR_OFFSET, mprime, mprime_len);
    return hz_sig_sign_mu(alg, sig, mu, rnd, sk, sk_len);
}

int hz_sig_verify_mu(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len, const uint8_t mu[64],
                     const uint8_t *pk, size_t pk_len) {
    int rc = check_len(alg, "public key", pk_len, alg->pk_len);
    if (!rc) rc = check_len(alg, "signature", sig_len, alg->sig_len);
    if (rc) return rc;
    return verify_result(alg, alg->ops->verify_mu(sig, mu, pk));
}

int hz_sig_verify_internal(const hz_sig_t *alg, const uint8_t *sig, size_t sig_len,
                           const uint8_t *mprime, size_t mprime_len, const uint8_t *pk, size_t pk_len) {
    int rc = check_len(alg, "public key", pk_len, alg->pk_len);
    if (!rc) rc = check_len(alg, "signature", sig_len, alg->sig_len);
    if (rc) return rc;
    uint8_t tr[TR_LEN], mu[MU_LEN];
    hz__shake256(tr, TR_LEN, pk, pk_len);
    compute_mu(mu, tr, mprime, mprime_len);
    return verify_result(alg, alg->ops->verify_mu(sig, mu, pk));
}
