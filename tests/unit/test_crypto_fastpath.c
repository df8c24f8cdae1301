/*
 * The AVX2 ML-KEM / ML-DSA path against PQClean's portable one, and its kernels against
 * independent definitions.
 *
 * Our Keccak (used on both paths) is compared with PQClean's fips202 for every input length up to
 * four blocks, one-shot and absorbed in random pieces, and the four-way sponge with the scalar
 * one. The ACVP known-answer tests fix the results for their inputs; this test widens the net: for
 * thousands of random seeds, messages, contexts and tampered inputs (including decapsulation
 * keys whose K-PKE part is garbage and secret keys that are random bytes), both paths must give
 * the same bytes and the same verdicts. The kernels are checked exhaustively where the domain is
 * small (Decompose, UseHint, Power2Round for every a in [0, q); Compress/Decompress for every
 * input) and against schoolbook negacyclic multiplication for the transforms. On a CPU without
 * AVX2 the comparisons are skipped (the portable path is what runs there, and the known-answer
 * tests cover it); the test says so.
 *
 * Inputs come from a fixed-seed generator (HZ_TEST_SEED overrides it), so a failure names a
 * reproducible case.
 */
#include "test_crypto_util.h"

#include <fips202.h>

#include "crypto/keccak.h"
#include "crypto/mldsa_poly.h"
#include "crypto/mlkem_poly.h"
#include "crypto/pqfast.h"

/* PQClean's scalar rounding functions, the reference for the vector ones. */
int32_t PQCLEAN_MLDSA65_CLEAN_decompose(int32_t *a0, int32_t a);
int32_t PQCLEAN_MLDSA44_CLEAN_decompose(int32_t *a0, int32_t a);
int32_t PQCLEAN_MLDSA65_CLEAN_use_hint(int32_t a, unsigned int hint);
int32_t PQCLEAN_MLDSA44_CLEAN_use_hint(int32_t a, unsigned int hint);
unsigned int PQCLEAN_MLDSA65_CLEAN_make_hint(int32_t a0, int32_t a1);
unsigned int PQCLEAN_MLDSA44_CLEAN_make_hint(int32_t a0, int32_t a1);
int32_t PQCLEAN_MLDSA65_CLEAN_power2round(int32_t *a0, int32_t a);

static uint64_t rng_state;

static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void fill(void *p, size_t n) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rng();
}

static int setup(void **state) {
    (void)state;
    const char *s = getenv("HZ_TEST_SEED");
    rng_state = s ? strtoull(s, NULL, 0) : 0x68616e7a6f;
    printf("seed 0x%llx\n", (unsigned long long)rng_state);
    return 0;
}

static bool have_fast(void) {
    if (hz__pqfast()) return true;
    printf("no AVX2 fast path on this CPU (or HANZO_CRYPTO_PORTABLE is set): comparisons skipped\n");
    return false;
}

/* Runs an operation on the portable path, then on the fast path. */
#define BOTH(portable_stmt, fast_stmt)                                                           \
    do {                                                                                         \
        hz__pqfast_set_portable(true);                                                           \
        portable_stmt;                                                                           \
        hz__pqfast_set_portable(false);                                                          \
        fast_stmt;                                                                               \
    } while (0)

static void expect_same(const char *what, const char *alg, size_t iter, const uint8_t *a, const uint8_t *b, size_t n) {
    if (memcmp(a, b, n) == 0) return;
    size_t i = 0;
    while (a[i] == b[i]) i++;
    fail_msg("%s %s, case %zu: fast path differs from PQClean at byte %zu", alg, what, iter, i);
}

static void test_kem_paths_agree(void **state) {
    (void)state;
    if (!have_fast()) return;
    for (size_t a = 0; hz_kem_at(a); a++) {
        const hz_kem_t *kem = hz_kem_at(a);
        size_t n = kem->id == HZ_KEM_ML_KEM_768 ? 400 : 150;
        uint8_t *pk[2], *sk[2], *ct[2], ss[2][32], seed[64], m[64];
        for (int p = 0; p < 2; p++) {
            pk[p] = hz_malloc(kem->pk_len), sk[p] = hz_malloc(kem->sk_len), ct[p] = hz_malloc(kem->ct_len);
        }
        for (size_t it = 0; it < n; it++) {
            fill(seed, sizeof(seed));
            fill(m, sizeof(m));
            BOTH(assert_int_equal(hz_kem_keypair_derand(kem, pk[0], sk[0], seed, kem->keygen_seed_len), 0),
                 assert_int_equal(hz_kem_keypair_derand(kem, pk[1], sk[1], seed, kem->keygen_seed_len), 0));
            expect_same("public key", kem->name, it, pk[0], pk[1], kem->pk_len);
            expect_same("secret key", kem->name, it, sk[0], sk[1], kem->sk_len);
            BOTH(assert_int_equal(hz_kem_encaps_derand(kem, ct[0], ss[0], pk[0], kem->pk_len, m, kem->encaps_seed_len), 0),
                 assert_int_equal(hz_kem_encaps_derand(kem, ct[1], ss[1], pk[0], kem->pk_len, m, kem->encaps_seed_len), 0));
            expect_same("ciphertext", kem->name, it, ct[0], ct[1], kem->ct_len);
            expect_same("encapsulated secret", kem->name, it, ss[0], ss[1], 32);
            /* decapsulation of the ciphertext, then of a tampered one (implicit rejection) */
            for (int round = 0; round < 2; round++) {
                if (round) ct[0][rng() % kem->ct_len] ^= (uint8_t)(1u << (rng() % 8));
                BOTH(assert_int_equal(hz_kem_decaps(kem, ss[0], ct[0], kem->ct_len, sk[0], kem->sk_len), 0),
                     assert_int_equal(hz_kem_decaps(kem, ss[1], ct[0], kem->ct_len, sk[0], kem->sk_len), 0));
                expect_same(round ? "decapsulation of a tampered ciphertext" : "decapsulation", kem->name, it, ss[0], ss[1], 32);
            }
            /* A decapsulation key whose K-PKE part is random bytes passes the H(ek) check (it
             * covers ek only), so both paths must also agree on 12-bit values >= q. */
            if (kem->id != HZ_KEM_XWING && it % 4 == 0) {
                fill(sk[0], kem->pk_len - 32);
                BOTH(assert_int_equal(hz_kem_decaps(kem, ss[0], ct[0], kem->ct_len, sk[0], kem->sk_len), 0),
                     assert_int_equal(hz_kem_decaps(kem, ss[1], ct[0], kem->ct_len, sk[0], kem->sk_len), 0));
                expect_same("decapsulation with a garbage K-PKE key", kem->name, it, ss[0], ss[1], 32);
            }
        }
        printf("%s: %zu key pairs, encapsulations and decapsulations agree\n", kem->name, n);
        for (int p = 0; p < 2; p++) hz_free(pk[p]), hz_free(sk[p]), hz_free(ct[p]);
    }
}

static void test_sig_paths_agree(void **state) {
    (void)state;
    if (!have_fast()) return;
    static const hz_prehash_t ph[] = {HZ_PREHASH_SHA2_256, HZ_PREHASH_SHAKE_256, HZ_PREHASH_SHA3_512};
    for (size_t a = 0; hz_sig_at(a); a++) {
        const hz_sig_t *alg = hz_sig_at(a);
        size_t n = alg->id == HZ_SIG_ML_DSA_65 ? 150 : 60;
        uint8_t *pk[2], *sk[2], *sig[2], xi[32], rnd[32], mu[64], msg[300], ctx[255];
        for (int p = 0; p < 2; p++) pk[p] = hz_malloc(alg->pk_len), sk[p] = hz_malloc(alg->sk_len), sig[p] = hz_malloc(alg->sig_len);
        for (size_t it = 0; it < n; it++) {
            fill(xi, sizeof(xi));
            BOTH(assert_int_equal(hz_sig_keypair_derand(alg, pk[0], sk[0], xi, 32), 0),
                 assert_int_equal(hz_sig_keypair_derand(alg, pk[1], sk[1], xi, 32), 0));
            expect_same("public key", alg->name, it, pk[0], pk[1], alg->pk_len);
            expect_same("secret key", alg->name, it, sk[0], sk[1], alg->sk_len);

            size_t msg_len = rng() % sizeof(msg), ctx_len = it % 3 ? 0 : rng() % sizeof(ctx);
            fill(msg, msg_len);
            fill(ctx, ctx_len);
            fill(rnd, sizeof(rnd));
            hz_sig_opts_t o = {.ctx = ctx, .ctx_len = ctx_len, .rnd = rnd};
            if (it % 5 == 4) o.prehash = ph[it % 3];
            BOTH(assert_int_equal(hz_sig_sign(alg, sig[0], msg, msg_len, sk[0], alg->sk_len, &o), 0),
                 assert_int_equal(hz_sig_sign(alg, sig[1], msg, msg_len, sk[0], alg->sk_len, &o), 0));
            expect_same("signature", alg->name, it, sig[0], sig[1], alg->sig_len);

            /* verdicts on the signature, a tampered signature and a tampered message */
            int v[2];
            for (int round = 0; round < 3; round++) {
                if (round == 1) sig[0][rng() % alg->sig_len] ^= (uint8_t)(1u << (rng() % 8));
                if (round == 2 && msg_len) msg[rng() % msg_len] ^= 1;
                BOTH(v[0] = hz_sig_verify(alg, sig[0], alg->sig_len, msg, msg_len, pk[0], alg->pk_len, &o),
                     v[1] = hz_sig_verify(alg, sig[0], alg->sig_len, msg, msg_len, pk[0], alg->pk_len, &o));
                if (v[0] != v[1]) fail_msg("%s case %zu round %d: verdicts differ (PQClean %d, fast %d)", alg->name, it, round, v[0], v[1]);
                if (round == 0 && v[0] != 0) fail_msg("%s case %zu: a fresh signature does not verify", alg->name, it);
            }

            /* the internal interface from mu, with a secret key of random bytes every few
             * cases: both paths must compute the same (meaningless) signature from it */
            fill(mu, sizeof(mu));
            if (it % 6 == 5) fill(sk[0] + 128, alg->sk_len - 128);
            BOTH(assert_int_equal(hz_sig_sign_mu(alg, sig[0], mu, rnd, sk[0], alg->sk_len), 0),
                 assert_int_equal(hz_sig_sign_mu(alg, sig[1], mu, rnd, sk[0], alg->sk_len), 0));
            expect_same("signature from mu", alg->name, it, sig[0], sig[1], alg->sig_len);
            BOTH(v[0] = hz_sig_verify_mu(alg, sig[0], alg->sig_len, mu, pk[0], alg->pk_len),
                 v[1] = hz_sig_verify_mu(alg, sig[0], alg->sig_len, mu, pk[0], alg->pk_len));
            if (v[0] != v[1]) fail_msg("%s case %zu: verdicts from mu differ", alg->name, it);

            /* random bytes as a signature: malformed hints, large z; both must reject alike */
            fill(sig[0], alg->sig_len);
            BOTH(v[0] = hz_sig_verify_mu(alg, sig[0], alg->sig_len, mu, pk[0], alg->pk_len),
                 v[1] = hz_sig_verify_mu(alg, sig[0], alg->sig_len, mu, pk[0], alg->pk_len));
            if (v[0] != v[1]) fail_msg("%s case %zu: verdicts on random bytes differ", alg->name, it);
        }
        printf("%s: %zu key pairs, signatures and verdicts agree\n", alg->name, n);
        for (int p = 0; p < 2; p++) hz_free(pk[p]), hz_free(sk[p]), hz_free(sig[p]);
    }
}

/* ---- Keccak ------------------------------------------------------------------------------- */

static void test_keccak_against_pqclean(void **state) {
    (void)state;
    uint8_t in[4 * 168 + 1], ours[300], theirs[300];
    fill(in, sizeof(in));
    for (size_t len = 0; len <= sizeof(in); len++) {
        hz__sha3_256(ours, in, len);
        sha3_256(theirs, in, len);
        if (memcmp(ours, theirs, 32)) fail_msg("SHA3-256 of %zu bytes differs", len);
        hz__sha3_512(ours, in, len);
        sha3_512(theirs, in, len);
        if (memcmp(ours, theirs, 64)) fail_msg("SHA3-512 of %zu bytes differs", len);
        size_t out_len = 1 + rng() % sizeof(ours);
        hz__shake128(ours, out_len, in, len);
        shake128(theirs, out_len, in, len);
        if (memcmp(ours, theirs, out_len)) fail_msg("SHAKE128 of %zu bytes (%zu out) differs", len, out_len);
        hz__shake256(ours, out_len, in, len);
        shake256(theirs, out_len, in, len);
        if (memcmp(ours, theirs, out_len)) fail_msg("SHAKE256 of %zu bytes (%zu out) differs", len, out_len);
        /* the same input absorbed and squeezed in random pieces */
        hz_keccak_t k;
        hz__keccak_init(&k, HZ_SHAKE256_RATE);
        for (size_t at = 0; at < len;) {
            size_t n = rng() % (len - at + 1);
            hz__keccak_absorb(&k, in + at, n);
            at += n;
        }
        hz__keccak_finalize(&k, HZ_KECCAK_SHAKE);
        for (size_t at = 0; at < out_len;) {
            size_t n = 1 + rng() % (out_len - at);
            hz__keccak_squeeze(&k, ours + at, n);
            at += n;
        }
        if (memcmp(ours, theirs, out_len)) fail_msg("SHAKE256 of %zu bytes in pieces differs", len);
    }
    printf("SHA3-256/512, SHAKE128/256: every length 0..%zu, one-shot and in pieces\n", sizeof(in));
}

static void test_keccak_x4(void **state) {
    (void)state;
    if (!have_fast()) return;
    uint8_t seed[4][66], out[4][3 * 168], want[3 * 168];
    for (size_t len = 0; len <= 66; len++) {
        for (int rate = 0; rate < 2; rate++) {
            unsigned r = rate ? HZ_SHAKE256_RATE : HZ_SHAKE128_RATE;
            fill(seed, sizeof(seed));
            hz_keccakx4_t st;
            hz__shakex4_absorb_once(&st, r, seed[0], seed[1], seed[2], seed[3], len);
            hz__shakex4_squeezeblocks(&st, r, out[0], out[1], out[2], out[3], 2);
            hz__shakex4_squeezeblocks(&st, r, out[0] + 2 * r, out[1] + 2 * r, out[2] + 2 * r, out[3] + 2 * r, 1);
            for (int j = 0; j < 4; j++) {
                (rate ? hz__shake256 : hz__shake128)(want, 3 * r, seed[j], len);
                if (memcmp(out[j], want, 3 * r)) fail_msg("four-way SHAKE%d lane %d, %zu-byte seed differs", rate ? 256 : 128, j, len);
            }
        }
    }
    printf("four-way SHAKE128/256 equal the scalar sponge for seeds of 0..66 bytes\n");
}

/* ---- kernels ------------------------------------------------------------------------------- */

static void test_mldsa_rounding_exhaustive(void **state) {
    (void)state;
    if (!have_fast()) return;
    static hz_dpoly_t in, a1, a0, h, r;
    for (int set = 0; set < 2; set++) {
        int32_t gamma2 = set ? (HZ_DQ - 1) / 32 : (HZ_DQ - 1) / 88;
        for (int32_t base = 0; base < HZ_DQ; base += 256) {
            for (int i = 0; i < 256; i++) in.c[i] = base + i < HZ_DQ ? base + i : HZ_DQ - 1;
            hz__dpoly_decompose(&a1, &a0, &in, gamma2);
            for (int i = 0; i < 256; i++) {
                int32_t w0, w1 = set ? PQCLEAN_MLDSA65_CLEAN_decompose(&w0, in.c[i]) : PQCLEAN_MLDSA44_CLEAN_decompose(&w0, in.c[i]);
                if (a1.c[i] != w1 || a0.c[i] != w0)
                    fail_msg("Decompose(%d), gamma2 %d: (%d, %d), expected (%d, %d)", in.c[i], gamma2, a1.c[i], a0.c[i], w1, w0);
            }
            for (int hint = 0; hint < 2; hint++) {
                for (int i = 0; i < 256; i++) h.c[i] = hint;
                hz__dpoly_use_hint(&r, &in, &h, gamma2);
                for (int i = 0; i < 256; i++) {
                    int32_t want = set ? PQCLEAN_MLDSA65_CLEAN_use_hint(in.c[i], (unsigned)hint)
                                       : PQCLEAN_MLDSA44_CLEAN_use_hint(in.c[i], (unsigned)hint);
                    if (r.c[i] != want) fail_msg("UseHint(%d, %d), gamma2 %d: %d, expected %d", hint, in.c[i], gamma2, r.c[i], want);
                }
            }
            if (set) {
                hz__dpoly_power2round(&a1, &a0, &in);
                for (int i = 0; i < 256; i++) {
                    int32_t w0, w1 = PQCLEAN_MLDSA65_CLEAN_power2round(&w0, in.c[i]);
                    if (a1.c[i] != w1 || a0.c[i] != w0) fail_msg("Power2Round(%d): (%d, %d), expected (%d, %d)", in.c[i], a1.c[i], a0.c[i], w1, w0);
                }
            }
        }
        /* MakeHint over the whole range its low-part argument takes, both kinds of high part */
        for (int32_t base = -2 * gamma2; base <= 2 * gamma2; base += 256) {
            for (int one = 0; one < 2; one++) {
                for (int i = 0; i < 256; i++) in.c[i] = base + i, a1.c[i] = one ? 1 + i % 7 : 0;
                unsigned n = hz__dpoly_make_hint(&h, &in, &a1, gamma2), want_n = 0;
                for (int i = 0; i < 256; i++) {
                    unsigned want = set ? PQCLEAN_MLDSA65_CLEAN_make_hint(in.c[i], a1.c[i]) : PQCLEAN_MLDSA44_CLEAN_make_hint(in.c[i], a1.c[i]);
                    want_n += want;
                    if ((unsigned)h.c[i] != want) fail_msg("MakeHint(%d, %d), gamma2 %d: %d, expected %u", in.c[i], a1.c[i], gamma2, h.c[i], want);
                }
                assert_int_equal(n, want_n);
            }
        }
    }
    printf("Decompose, UseHint, Power2Round: every a in [0, q); MakeHint over [-2 gamma2, 2 gamma2]\n");
}

static void test_mlkem_compress_exhaustive(void **state) {
    (void)state;
    if (!have_fast()) return;
    static const unsigned ds[] = {1, 4, 5, 10, 11};
    static hz_kpoly_t a, b;
    uint8_t buf[32 * 11];
    for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
        unsigned d = ds[k];
        for (int base = 0; base < HZ_KQ; base += 256) {
            for (int i = 0; i < 256; i++) a.c[i] = (int16_t)(base + i < HZ_KQ ? base + i : HZ_KQ - 1);
            hz__kpoly_compress(buf, &a, d);
            for (int i = 0; i < 256; i++) {
                uint32_t want = (uint32_t)((((uint64_t)a.c[i] << d) + HZ_KQ / 2) / HZ_KQ) & ((1u << d) - 1);
                uint32_t got = 0;
                for (unsigned j = 0; j < d; j++) got |= (uint32_t)(buf[(i * d + j) / 8] >> ((i * d + j) % 8) & 1) << j;
                if (got != want) fail_msg("Compress_%u(%d) = %u, expected %u", d, a.c[i], got, want);
            }
        }
        /* Decompress every d-bit value (256 at a time) */
        for (uint32_t base = 0; base < (1u << d); base += 256) {
            memset(buf, 0, sizeof(buf));
            for (unsigned i = 0; i < 256; i++) {
                uint32_t y = (base + i) & ((1u << d) - 1);
                for (unsigned j = 0; j < d; j++) buf[(i * d + j) / 8] |= (uint8_t)((y >> j & 1) << ((i * d + j) % 8));
            }
            hz__kpoly_decompress(&b, buf, d);
            for (unsigned i = 0; i < 256; i++) {
                uint32_t y = (base + i) & ((1u << d) - 1);
                int16_t want = (int16_t)(((uint64_t)y * HZ_KQ + (1u << (d - 1))) >> d);
                if (b.c[i] != want) fail_msg("Decompress_%u(%u) = %d, expected %d", d, y, b.c[i], want);
            }
        }
    }
    printf("Compress_d / Decompress_d: every input for d = 1, 4, 5, 10, 11\n");
}

static int64_t mod(int64_t x, int64_t q) {
    return ((x % q) + q) % q;
}

/* NTT^-1(NTT(a) o NTT(b)) against schoolbook multiplication mod X^256 + 1. */
static void test_transforms_multiply(void **state) {
    (void)state;
    if (!have_fast()) return;
    static hz_kpoly_t ka, kb, kr;
    static hz_kpoly_prep_t kp;
    static hz_dpoly_t da, db, dr;
    int64_t want[256];
    for (int it = 0; it < 40; it++) {
        for (int i = 0; i < 256; i++) {
            ka.c[i] = (int16_t)(rng() % (2 * HZ_KQ + 1) - HZ_KQ); /* |x| <= q */
            kb.c[i] = (int16_t)(rng() % (2 * HZ_KQ + 1) - HZ_KQ);
            da.c[i] = (int32_t)(rng() % (2 * HZ_DQ - 1)) - (HZ_DQ - 1); /* |x| < q */
            db.c[i] = (int32_t)(rng() % (2 * HZ_DQ - 1)) - (HZ_DQ - 1);
        }
        for (int pass = 0; pass < 2; pass++) {
            int64_t q = pass ? HZ_DQ : HZ_KQ;
            for (int i = 0; i < 256; i++) want[i] = 0;
            for (int i = 0; i < 256; i++)
                for (int j = 0; j < 256; j++) {
                    int64_t x = pass ? (int64_t)da.c[i] * db.c[j] % q : (int64_t)ka.c[i] * kb.c[j] % q;
                    if (i + j < 256) want[i + j] = (want[i + j] + x) % q;
                    else want[i + j - 256] = (want[i + j - 256] - x) % q;
                }
            if (pass == 0) {
                kr = ka;
                hz__kpoly_ntt(&kr);
                hz_kpoly_t t = kb;
                hz__kpoly_ntt(&t);
                hz__kpoly_prep(&kp, &t);
                hz__kpoly_basemul_acc(&kr, &kr, &kp, 1);
                hz__kpoly_invntt(&kr); /* the 2^16 of invntt cancels basemul's 2^-16 */
                for (int i = 0; i < 256; i++)
                    if (mod(kr.c[i], q) != mod(want[i], q)) fail_msg("ML-KEM product coefficient %d: %d, expected %lld", i, kr.c[i], (long long)mod(want[i], q));
            } else {
                dr = da;
                hz__dpoly_ntt(&dr);
                hz_dpoly_t t = db;
                hz__dpoly_ntt(&t);
                hz__dpoly_pointwise(&dr, &dr, &t);
                hz__dpoly_invntt(&dr);
                for (int i = 0; i < 256; i++)
                    if (mod(dr.c[i], q) != mod(want[i], q)) fail_msg("ML-DSA product coefficient %d: %d, expected %lld", i, dr.c[i], (long long)mod(want[i], q));
            }
        }
    }
    printf("ML-KEM and ML-DSA transforms: 40 products equal schoolbook multiplication mod X^256 + 1\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_keccak_against_pqclean, setup),
        cmocka_unit_test_setup(test_keccak_x4, setup),
        cmocka_unit_test_setup(test_kem_paths_agree, setup),
        cmocka_unit_test_setup(test_sig_paths_agree, setup),
        cmocka_unit_test(test_mldsa_rounding_exhaustive),
        cmocka_unit_test(test_mlkem_compress_exhaustive),
        cmocka_unit_test_setup(test_transforms_multiply, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
