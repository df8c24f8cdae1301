/*
 * ML-KEM, X-Wing and ML-DSA behaviour beyond the known answers: algorithm lookup and sizes,
 * round trips, rejection of every single-bit change to ciphertexts, signatures and messages,
 * the FIPS 203 input checks failing with precise errors, deterministic versus hedged signing,
 * context strings and pre-hash domain separation, and thread isolation of the derandomisation.
 */
#include "test_crypto_util.h"

#include <pthread.h>

static void test_lookup_and_sizes(void **state) {
    (void)state;
    const hz_kem_t *k = hz_kem_by_name("ML-KEM-768");
    assert_non_null(k);
    assert_ptr_equal(k, hz_kem_by_name("ml-kem-768"));
    assert_ptr_equal(k, hz_kem_by_id(HZ_KEM_ML_KEM_768));
    assert_int_equal(k->pk_len, 1184);
    assert_int_equal(k->ct_len, 1088);
    assert_int_equal(k->ss_len, 32);
    assert_int_equal(k->sk_len, 2400);
    assert_int_equal(hz_kem_by_name("ml-kem-1024")->pk_len, 1568);
    assert_int_equal(hz_kem_by_name("ML-KEM-512")->ct_len, 768);
    assert_ptr_equal(hz_kem_by_name("xwing"), hz_kem_by_name("X-WING"));
    assert_null(hz_kem_by_name("kyber768"));
    assert_non_null(strstr(hz_error_last(), "unknown KEM \"kyber768\""));
    assert_null(hz_kem_by_name(NULL));

    const hz_sig_t *s = hz_sig_by_name("ML-DSA-65");
    assert_non_null(s);
    assert_ptr_equal(s, hz_sig_by_id(HZ_SIG_ML_DSA_65));
    assert_int_equal(s->pk_len, 1952);
    assert_int_equal(s->sk_len, 4032);
    assert_int_equal(s->sig_len, 3309);
    assert_int_equal(s->nist_level, 3);
    assert_int_equal(hz_sig_by_name("ml-dsa-87")->sig_len, 4627);
    assert_int_equal(hz_sig_by_name("ml-dsa-44")->sig_len, 2420);
    assert_null(hz_sig_by_name("dilithium3"));

    size_t nk = 0, ns = 0;
    while (hz_kem_at(nk)) nk++;
    while (hz_sig_at(ns)) ns++;
    assert_int_equal(nk, 4);
    assert_int_equal(ns, 3);

    hz_prehash_t ph;
    assert_int_equal(hz_prehash_by_name("sha2-512/256", &ph), 0);
    assert_int_equal(ph, HZ_PREHASH_SHA2_512_256);
    assert_string_equal(hz_prehash_name(ph), "SHA2-512/256");
    assert_int_equal(hz_prehash_by_name("md5", &ph), HZ_EUNSUPPORTED);
}

/* Every KEM: round trip, and each bit flip of the ciphertext decapsulates to a different secret
 * (ML-KEM's implicit rejection) - every bit for the defaults, one bit per byte for the rest. */
static void test_kem_roundtrip_and_tamper(void **state) {
    (void)state;
    for (size_t i = 0; hz_kem_at(i); i++) {
        const hz_kem_t *kem = hz_kem_at(i);
        uint8_t *pk = hz_malloc(kem->pk_len), *sk = hz_malloc(kem->sk_len), *ct = hz_malloc(kem->ct_len);
        uint8_t ss[32], ss2[32];
        assert_int_equal(hz_kem_keypair(kem, pk, sk), 0);
        assert_int_equal(hz_kem_check_pk(kem, pk, kem->pk_len), 0);
        assert_int_equal(hz_kem_check_sk(kem, sk, kem->sk_len), 0);
        assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, kem->pk_len), 0);
        assert_int_equal(hz_kem_decaps(kem, ss2, ct, kem->ct_len, sk, kem->sk_len), 0);
        assert_memory_equal(ss, ss2, 32);

        bool every_bit = kem->id == HZ_KEM_ML_KEM_768 || kem->id == HZ_KEM_XWING;
        size_t flips = 0;
        for (size_t bit = 0; bit < kem->ct_len * 8; bit += every_bit ? 1 : 8 + (bit / 8) % 8) {
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(hz_kem_decaps(kem, ss2, ct, kem->ct_len, sk, kem->sk_len), 0);
            if (memcmp(ss, ss2, 32) == 0) fail_msg("%s: flipping ciphertext bit %zu kept the shared secret", kem->name, bit);
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            flips++;
        }
        printf("%s: %zu ciphertext bit flips all rejected\n", kem->name, flips);

        /* another key pair's secret key gives another secret */
        uint8_t *pk2 = hz_malloc(kem->pk_len), *sk2 = hz_malloc(kem->sk_len);
        assert_int_equal(hz_kem_keypair(kem, pk2, sk2), 0);
        assert_int_equal(hz_kem_decaps(kem, ss2, ct, kem->ct_len, sk2, kem->sk_len), 0);
        assert_memory_not_equal(ss, ss2, 32);
        hz_free(pk), hz_free(sk), hz_free(ct), hz_free(pk2), hz_free(sk2);
    }
}

static void test_kem_derand_is_deterministic(void **state) {
    (void)state;
    for (size_t i = 0; hz_kem_at(i); i++) {
        const hz_kem_t *kem = hz_kem_at(i);
        uint8_t seed[64], m[64];
        for (size_t j = 0; j < 64; j++) seed[j] = (uint8_t)j, m[j] = (uint8_t)(255 - j);
        uint8_t *pk1 = hz_malloc(kem->pk_len), *sk1 = hz_malloc(kem->sk_len), *ct1 = hz_malloc(kem->ct_len);
        uint8_t *pk2 = hz_malloc(kem->pk_len), *sk2 = hz_malloc(kem->sk_len), *ct2 = hz_malloc(kem->ct_len);
        uint8_t ss1[32], ss2[32];
        assert_int_equal(hz_kem_keypair_derand(kem, pk1, sk1, seed, kem->keygen_seed_len), 0);
        assert_int_equal(hz_kem_keypair_derand(kem, pk2, sk2, seed, kem->keygen_seed_len), 0);
        assert_memory_equal(pk1, pk2, kem->pk_len);
        assert_memory_equal(sk1, sk2, kem->sk_len);
        assert_int_equal(hz_kem_encaps_derand(kem, ct1, ss1, pk1, kem->pk_len, m, kem->encaps_seed_len), 0);
        assert_int_equal(hz_kem_encaps_derand(kem, ct2, ss2, pk1, kem->pk_len, m, kem->encaps_seed_len), 0);
        assert_memory_equal(ct1, ct2, kem->ct_len);
        assert_memory_equal(ss1, ss2, 32);
        /* wrong seed lengths are refused, naming the field */
        assert_int_equal(hz_kem_keypair_derand(kem, pk1, sk1, seed, kem->keygen_seed_len - 1), HZ_EINVAL);
        assert_non_null(strstr(hz_error_last(), "key-generation seed"));
        assert_int_equal(hz_kem_encaps_derand(kem, ct1, ss1, pk1, kem->pk_len, m, kem->encaps_seed_len + 1), HZ_EINVAL);
        assert_non_null(strstr(hz_error_last(), "encapsulation seed"));
        hz_free(pk1), hz_free(sk1), hz_free(ct1), hz_free(pk2), hz_free(sk2), hz_free(ct2);
    }
}

/* FIPS 203 section 7.2: a coefficient >= q anywhere in ek is refused, with its position. */
static void test_fips203_modulus_check(void **state) {
    (void)state;
    const hz_kem_t *kem = hz_kem_by_name("ml-kem-768");
    uint8_t pk[1184], sk[2400], ct[1088], ss[32];
    assert_int_equal(hz_kem_keypair(kem, pk, sk), 0);

    /* Polynomial 2, coefficient 5: an odd coefficient, the high 12 bits of bytes 7..8 of that
     * polynomial. Set it to exactly q = 3329 = 0xD01. */
    size_t base = 2 * 384 + 6;
    uint8_t saved[3];
    memcpy(saved, pk + base, 3);
    pk[base + 1] = (uint8_t)((pk[base + 1] & 0x0F) | 0x10); /* low nibble of 0xD01 = 1 */
    pk[base + 2] = 0xD0;
    assert_int_equal(hz_kem_check_pk(kem, pk, sizeof(pk)), HZ_EINVAL);
    assert_string_equal(hz_error_last(),
                        "ml-kem-768 encapsulation key fails the FIPS 203 modulus check: polynomial 2 coefficient 5 "
                        "is 3329, not below q = 3329 (byte offset 775)");
    assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, sizeof(pk)), HZ_EINVAL);
    uint8_t m[32] = {0};
    assert_int_equal(hz_kem_encaps_derand(kem, ct, ss, pk, sizeof(pk), m, 32), HZ_EINVAL);

    /* 3328 = q - 1 is the largest valid coefficient */
    pk[base + 1] = (uint8_t)((pk[base + 1] & 0x0F) | 0x00);
    pk[base + 2] = 0xD0;
    assert_int_equal(hz_kem_check_pk(kem, pk, sizeof(pk)), 0);
    memcpy(pk + base, saved, 3);

    /* the seed rho (last 32 bytes) is not a polynomial and takes any value */
    memset(pk + 1152, 0xFF, 32);
    assert_int_equal(hz_kem_check_pk(kem, pk, sizeof(pk)), 0);

    /* wrong lengths */
    assert_int_equal(hz_kem_check_pk(kem, pk, 1183), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "ml-kem-768 encapsulation key is 1183 bytes, expected 1184");
}

/* FIPS 203 section 7.3: a dk whose stored H(ek) no longer matches is refused by decaps. */
static void test_fips203_hash_check(void **state) {
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        const hz_kem_t *kem = hz_kem_at(i);
        uint8_t *pk = hz_malloc(kem->pk_len), *sk = hz_malloc(kem->sk_len), *ct = hz_malloc(kem->ct_len), ss[32];
        assert_int_equal(hz_kem_keypair(kem, pk, sk), 0);
        assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, kem->pk_len), 0);
        size_t h_off = kem->sk_len - 64, ek_off = kem->sk_len - 64 - kem->pk_len;
        char want[256];
        snprintf(want, sizeof(want), "%s decapsulation key fails the FIPS 203 hash check: H(ek) stored at byte offset %zu",
                 kem->name, h_off);
        /* a flipped bit in H(ek), and one in the stored ek: both break the check */
        size_t offs[2] = {h_off + 7, ek_off + 100};
        for (size_t j = 0; j < 2; j++) {
            sk[offs[j]] ^= 0x40;
            assert_int_equal(hz_kem_check_sk(kem, sk, kem->sk_len), HZ_ECRYPTO);
            assert_non_null(strstr(hz_error_last(), want));
            assert_int_equal(hz_kem_decaps(kem, ss, ct, kem->ct_len, sk, kem->sk_len), HZ_ECRYPTO);
            sk[offs[j]] ^= 0x40;
        }
        assert_int_equal(hz_kem_decaps(kem, ss, ct, kem->ct_len, sk, kem->sk_len - 1), HZ_EINVAL);
        assert_int_equal(hz_kem_decaps(kem, ss, ct, kem->ct_len + 1, sk, kem->sk_len), HZ_EINVAL);
        assert_non_null(strstr(hz_error_last(), "ciphertext is"));
        hz_free(pk), hz_free(sk), hz_free(ct);
    }
}

/* ---- ML-DSA --------------------------------------------------------------------------- */

static void test_sig_roundtrip_and_tamper(void **state) {
    (void)state;
    uint8_t msg[100];
    for (size_t j = 0; j < sizeof(msg); j++) msg[j] = (uint8_t)(j * 7);
    for (size_t i = 0; hz_sig_at(i); i++) {
        const hz_sig_t *alg = hz_sig_at(i);
        uint8_t *pk = hz_malloc(alg->pk_len), *sk = hz_malloc(alg->sk_len), *sig = hz_malloc(alg->sig_len);
        assert_int_equal(hz_sig_keypair(alg, pk, sk), 0);
        assert_int_equal(hz_sig_sign(alg, sig, msg, sizeof(msg), sk, alg->sk_len, NULL), 0);
        assert_int_equal(hz_sig_verify(alg, sig, alg->sig_len, msg, sizeof(msg), pk, alg->pk_len, NULL), 0);

        bool every_bit = alg->id == HZ_SIG_ML_DSA_65;
        size_t flips = 0;
        for (size_t bit = 0; bit < alg->sig_len * 8; bit += every_bit ? 1 : 8 + (bit / 8) % 8) {
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (hz_sig_verify(alg, sig, alg->sig_len, msg, sizeof(msg), pk, alg->pk_len, NULL) != HZ_ECRYPTO)
                fail_msg("%s: signature with bit %zu flipped was accepted", alg->name, bit);
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            flips++;
        }
        for (size_t bit = 0; bit < sizeof(msg) * 8; bit++) {
            msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (hz_sig_verify(alg, sig, alg->sig_len, msg, sizeof(msg), pk, alg->pk_len, NULL) != HZ_ECRYPTO)
                fail_msg("%s: message with bit %zu flipped was accepted", alg->name, bit);
            msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            flips++;
        }
        printf("%s: %zu signature and message bit flips all rejected\n", alg->name, flips);
        assert_int_equal(hz_sig_verify(alg, sig, alg->sig_len, msg, sizeof(msg), pk, alg->pk_len, NULL), 0);
        hz_free(pk), hz_free(sk), hz_free(sig);
    }
}

static void test_sig_errors(void **state) {
    (void)state;
    const hz_sig_t *alg = hz_sig_by_name("ml-dsa-65");
    uint8_t pk[1952], sk[4032], sig[3309], ctx[256] = {0};
    assert_int_equal(hz_sig_keypair(alg, pk, sk), 0);
    assert_int_equal(hz_sig_sign(alg, sig, (const uint8_t *)"m", 1, sk, sizeof(sk), NULL), 0);
    /* wrong lengths, each naming the field */
    assert_int_equal(hz_sig_verify(alg, sig, 3308, (const uint8_t *)"m", 1, pk, sizeof(pk), NULL), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "ml-dsa-65 signature is 3308 bytes, expected 3309");
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), (const uint8_t *)"m", 1, pk, 1951, NULL), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "ml-dsa-65 public key is 1951 bytes, expected 1952");
    assert_int_equal(hz_sig_sign(alg, sig, (const uint8_t *)"m", 1, sk, 4031, NULL), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "ml-dsa-65 secret key is 4031 bytes, expected 4032");
    /* contexts: 255 bytes is the maximum */
    hz_sig_opts_t o = {.ctx = ctx, .ctx_len = 255};
    assert_int_equal(hz_sig_sign(alg, sig, (const uint8_t *)"m", 1, sk, sizeof(sk), &o), 0);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), (const uint8_t *)"m", 1, pk, sizeof(pk), &o), 0);
    o.ctx_len = 256;
    assert_int_equal(hz_sig_sign(alg, sig, (const uint8_t *)"m", 1, sk, sizeof(sk), &o), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "ml-dsa-65 context string is 256 bytes; FIPS 204 allows at most 255");
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), (const uint8_t *)"m", 1, pk, sizeof(pk), &o), HZ_EINVAL);
    uint8_t bad_seed[31] = {0};
    assert_int_equal(hz_sig_keypair_derand(alg, pk, sk, bad_seed, sizeof(bad_seed)), HZ_EINVAL);
}

/* Signatures are bound to the context and to pure versus pre-hash mode. */
static void test_sig_domain_separation(void **state) {
    (void)state;
    const hz_sig_t *alg = hz_sig_by_name("ml-dsa-44");
    uint8_t pk[1312], sk[2560], sig[2420];
    const uint8_t *m = (const uint8_t *)"transfer 10 to bob";
    size_t ml = strlen((const char *)m);
    assert_int_equal(hz_sig_keypair(alg, pk, sk), 0);
    hz_sig_opts_t a = {.ctx = (const uint8_t *)"ledger", .ctx_len = 6};
    hz_sig_opts_t b = {.ctx = (const uint8_t *)"ledgeR", .ctx_len = 6};
    hz_sig_opts_t pha = {.ctx = (const uint8_t *)"ledger", .ctx_len = 6, .prehash = HZ_PREHASH_SHA2_512};
    hz_sig_opts_t phb = {.ctx = (const uint8_t *)"ledger", .ctx_len = 6, .prehash = HZ_PREHASH_SHA3_512};
    assert_int_equal(hz_sig_sign(alg, sig, m, ml, sk, sizeof(sk), &a), 0);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &a), 0);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &b), HZ_ECRYPTO);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), NULL), HZ_ECRYPTO);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &pha), HZ_ECRYPTO);
    assert_int_equal(hz_sig_sign(alg, sig, m, ml, sk, sizeof(sk), &pha), 0);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &pha), 0);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &phb), HZ_ECRYPTO);
    assert_int_equal(hz_sig_verify(alg, sig, sizeof(sig), m, ml, pk, sizeof(pk), &a), HZ_ECRYPTO);
}

/* Deterministic signing repeats itself; hedged signing (the default) does not; both verify.
 * Our internal-interface path (mldsa_mu.h) must agree bit for bit with PQClean's own pure path
 * when given the same M' = 0 || |ctx| || ctx || M and rnd. */
static void test_sig_determinism_and_mu_path(void **state) {
    (void)state;
    for (size_t i = 0; hz_sig_at(i); i++) {
        const hz_sig_t *alg = hz_sig_at(i);
        uint8_t *pk = hz_malloc(alg->pk_len), *sk = hz_malloc(alg->sk_len);
        uint8_t *s1 = hz_malloc(alg->sig_len), *s2 = hz_malloc(alg->sig_len);
        assert_int_equal(hz_sig_keypair(alg, pk, sk), 0);
        for (int round = 0; round < 8; round++) {
            uint8_t msg[300], ctx[40], rnd[32], mp[2 + 40 + 300];
            size_t ml = (size_t)round * 37, cl = (size_t)round * 5;
            hz_crypto_random(msg, ml);
            hz_crypto_random(ctx, cl);
            hz_crypto_random(rnd, sizeof(rnd));
            hz_sig_opts_t det = {.ctx = ctx, .ctx_len = cl, .deterministic = true};
            assert_int_equal(hz_sig_sign(alg, s1, msg, ml, sk, alg->sk_len, &det), 0);
            assert_int_equal(hz_sig_sign(alg, s2, msg, ml, sk, alg->sk_len, &det), 0);
            assert_memory_equal(s1, s2, alg->sig_len);
            mp[0] = 0;
            mp[1] = (uint8_t)cl;
            memcpy(mp + 2, ctx, cl);
            memcpy(mp + 2 + cl, msg, ml);
            assert_int_equal(hz_sig_sign_internal(alg, s2, mp, 2 + cl + ml, NULL, sk, alg->sk_len), 0);
            assert_memory_equal(s1, s2, alg->sig_len);
            assert_int_equal(hz_sig_verify_internal(alg, s1, alg->sig_len, mp, 2 + cl + ml, pk, alg->pk_len), 0);

            hz_sig_opts_t given = {.ctx = ctx, .ctx_len = cl, .rnd = rnd};
            assert_int_equal(hz_sig_sign(alg, s1, msg, ml, sk, alg->sk_len, &given), 0);
            assert_int_equal(hz_sig_sign_internal(alg, s2, mp, 2 + cl + ml, rnd, sk, alg->sk_len), 0);
            assert_memory_equal(s1, s2, alg->sig_len);

            hz_sig_opts_t hedged = {.ctx = ctx, .ctx_len = cl};
            assert_int_equal(hz_sig_sign(alg, s1, msg, ml, sk, alg->sk_len, &hedged), 0);
            assert_int_equal(hz_sig_sign(alg, s2, msg, ml, sk, alg->sk_len, &hedged), 0);
            assert_memory_not_equal(s1, s2, alg->sig_len);
            assert_int_equal(hz_sig_verify(alg, s1, alg->sig_len, msg, ml, pk, alg->pk_len, &hedged), 0);
            assert_int_equal(hz_sig_verify(alg, s2, alg->sig_len, msg, ml, pk, alg->pk_len, &hedged), 0);
        }
        hz_free(pk), hz_free(sk), hz_free(s1), hz_free(s2);
    }
}

/* The derandomisation source is per thread: concurrent seeded key generations on four threads
 * must each get exactly the key their own seed gives. */
typedef struct {
    uint8_t seed[32];
    uint8_t pk[1952];
    int rc;
} keygen_job_t;

static void *keygen_worker(void *arg) {
    keygen_job_t *job = arg;
    const hz_sig_t *alg = hz_sig_by_id(HZ_SIG_ML_DSA_65);
    uint8_t sk[4032];
    job->rc = 0;
    for (int i = 0; i < 20 && job->rc == 0; i++) {
        uint8_t pk[1952];
        job->rc = hz_sig_keypair_derand(alg, pk, sk, job->seed, 32);
        if (i > 0 && memcmp(pk, job->pk, sizeof(pk)) != 0) job->rc = -100;
        memcpy(job->pk, pk, sizeof(pk));
    }
    return NULL;
}

static void test_derand_is_thread_local(void **state) {
    (void)state;
    keygen_job_t jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(jobs[i].seed, i + 1, 32);
        assert_int_equal(pthread_create(&t[i], NULL, keygen_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    const hz_sig_t *alg = hz_sig_by_id(HZ_SIG_ML_DSA_65);
    for (int i = 0; i < 4; i++) {
        uint8_t pk[1952], sk[4032];
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(hz_sig_keypair_derand(alg, pk, sk, jobs[i].seed, 32), 0);
        assert_memory_equal(pk, jobs[i].pk, sizeof(pk));
    }
    assert_memory_not_equal(jobs[0].pk, jobs[1].pk, 1952);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_and_sizes),
        cmocka_unit_test(test_kem_roundtrip_and_tamper),
        cmocka_unit_test(test_kem_derand_is_deterministic),
        cmocka_unit_test(test_fips203_modulus_check),
        cmocka_unit_test(test_fips203_hash_check),
        cmocka_unit_test(test_sig_roundtrip_and_tamper),
        cmocka_unit_test(test_sig_errors),
        cmocka_unit_test(test_sig_domain_separation),
        cmocka_unit_test(test_sig_determinism_and_mu_path),
        cmocka_unit_test(test_derand_is_thread_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
