/*
 * Known-answer tests against NIST ACVP vectors (tests/vectors/acvp, see PROVENANCE.md):
 * ML-KEM keyGen and encapDecap (encapsulation, decapsulation and both FIPS 203 key-check
 * groups), ML-DSA keyGen, sigGen and sigVer for every group of every parameter set: pure and
 * pre-hash external interface, internal interface with and without external mu, deterministic
 * and hedged (given rnd). Each test prints how many cases every group ran and asserts the total,
 * so a truncated or missing vector file fails instead of passing on nothing.
 */
#include "test_crypto_util.h"

static json_object *groups_of(json_object *root) {
    json_object *groups;
    assert_int_equal(hz_json_get_array(root, "testGroups", true, &groups), 0);
    return groups;
}

static json_object *tests_of(json_object *group) {
    json_object *tests;
    assert_int_equal(hz_json_get_array(group, "tests", true, &tests), 0);
    return tests;
}

static const hz_kem_t *kem_of(json_object *group) {
    const hz_kem_t *kem = hz_kem_by_name(tv_str(group, "parameterSet"));
    if (!kem) fail_msg("%s", hz_error_last());
    return kem;
}

static const hz_sig_t *sig_of(json_object *group) {
    const hz_sig_t *sig = hz_sig_by_name(tv_str(group, "parameterSet"));
    if (!sig) fail_msg("%s", hz_error_last());
    return sig;
}

/* ---- ML-KEM ----------------------------------------------------------------------------- */

static void test_mlkem_keygen(void **state) {
    (void)state;
    json_object *prompt = tv_json("acvp/ML-KEM-keyGen-FIPS203/prompt.json.xz");
    tv_answers_t ans;
    tv_answers_load(&ans, "acvp/ML-KEM-keyGen-FIPS203/expectedResults.json.xz");
    json_object *groups = groups_of(prompt);
    size_t total = 0;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *tests = tests_of(grp);
        const hz_kem_t *kem = kem_of(grp);
        size_t ran = 0;
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t), *exp = tv_answer(&ans, tc);
            size_t dl, zl, ekl, dkl;
            uint8_t *d = tv_field(tc, "d", &dl), *z = tv_field(tc, "z", &zl);
            uint8_t *ek = tv_field(exp, "ek", &ekl), *dk = tv_field(exp, "dk", &dkl);
            uint8_t seed[64], *pk = hz_malloc(kem->pk_len), *sk = hz_malloc(kem->sk_len);
            assert_int_equal(dl + zl, 64);
            memcpy(seed, d, 32);
            memcpy(seed + 32, z, 32);
            assert_int_equal(hz_kem_keypair_derand(kem, pk, sk, seed, 64), 0);
            tv_expect_bytes("ML-KEM keyGen ek", tv_int(tc, "tcId"), pk, kem->pk_len, ek, ekl);
            tv_expect_bytes("ML-KEM keyGen dk", tv_int(tc, "tcId"), sk, kem->sk_len, dk, dkl);
            hz_free(d), hz_free(z), hz_free(ek), hz_free(dk), hz_free(pk), hz_free(sk);
            ran++;
        }
        printf("ML-KEM keyGen tgId %lld %s: %zu cases passed\n", (long long)tv_int(grp, "tgId"), kem->name, ran);
        total += ran;
    }
    assert_int_equal(total, 75);
    tv_answers_free(&ans);
    json_object_put(prompt);
}

static void test_mlkem_encap_decap(void **state) {
    (void)state;
    json_object *prompt = tv_json("acvp/ML-KEM-encapDecap-FIPS203/prompt.json.xz");
    tv_answers_t ans;
    tv_answers_load(&ans, "acvp/ML-KEM-encapDecap-FIPS203/expectedResults.json.xz");
    json_object *groups = groups_of(prompt);
    size_t total = 0, rejected = 0;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *tests = tests_of(grp);
        const hz_kem_t *kem = kem_of(grp);
        const char *fn = tv_str(grp, "function");
        size_t ran = 0;
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t), *exp = tv_answer(&ans, tc);
            int64_t id = tv_int(tc, "tcId");
            if (strcmp(fn, "encapsulation") == 0) {
                size_t ekl, ml, cl, kl;
                uint8_t *ek = tv_field(tc, "ek", &ekl), *m = tv_field(tc, "m", &ml);
                uint8_t *c = tv_field(exp, "c", &cl), *k = tv_field(exp, "k", &kl);
                uint8_t *ct = hz_malloc(kem->ct_len), ss[32];
                assert_int_equal(hz_kem_encaps_derand(kem, ct, ss, ek, ekl, m, ml), 0);
                tv_expect_bytes("ML-KEM encaps c", id, ct, kem->ct_len, c, cl);
                tv_expect_bytes("ML-KEM encaps k", id, ss, 32, k, kl);
                hz_free(ek), hz_free(m), hz_free(c), hz_free(k), hz_free(ct);
            } else if (strcmp(fn, "decapsulation") == 0) {
                size_t dkl, cl, kl;
                uint8_t *dk = tv_field(tc, "dk", &dkl), *c = tv_field(tc, "c", &cl), *k = tv_field(exp, "k", &kl);
                uint8_t ss[32];
                assert_int_equal(hz_kem_decaps(kem, ss, c, cl, dk, dkl), 0);
                tv_expect_bytes("ML-KEM decaps k", id, ss, 32, k, kl);
                hz_free(dk), hz_free(c), hz_free(k);
            } else if (strcmp(fn, "decapsulationKeyCheck") == 0) {
                size_t dkl;
                uint8_t *dk = tv_field(tc, "dk", &dkl);
                int rc = hz_kem_check_sk(kem, dk, dkl);
                if (tv_bool(exp, "testPassed") != (rc == 0))
                    fail_msg("ML-KEM dk check tcId %lld: got %d (%s)", (long long)id, rc, hz_error_last());
                if (rc != 0) {
                    assert_int_equal(rc, HZ_ECRYPTO);
                    assert_non_null(strstr(hz_error_last(), "FIPS 203 hash check"));
                    rejected++;
                }
                hz_free(dk);
            } else if (strcmp(fn, "encapsulationKeyCheck") == 0) {
                size_t ekl;
                uint8_t *ek = tv_field(tc, "ek", &ekl);
                int rc = hz_kem_check_pk(kem, ek, ekl);
                if (tv_bool(exp, "testPassed") != (rc == 0))
                    fail_msg("ML-KEM ek check tcId %lld: got %d (%s)", (long long)id, rc, hz_error_last());
                if (rc != 0) {
                    assert_int_equal(rc, HZ_EINVAL);
                    assert_non_null(strstr(hz_error_last(), "FIPS 203 modulus check"));
                    /* and encapsulation refuses the key */
                    uint8_t *ct = hz_malloc(kem->ct_len), ss[32];
                    assert_int_equal(hz_kem_encaps(kem, ct, ss, ek, ekl), HZ_EINVAL);
                    hz_free(ct);
                    rejected++;
                }
                hz_free(ek);
            } else {
                fail_msg("unknown ML-KEM function %s", fn);
            }
            ran++;
        }
        printf("ML-KEM encapDecap tgId %lld %s %s: %zu cases passed\n", (long long)tv_int(grp, "tgId"),
               kem->name, fn, ran);
        total += ran;
    }
    printf("ML-KEM encapDecap: %zu cases, %zu invalid keys rejected as expected\n", total, rejected);
    assert_int_equal(total, 165);
    assert_true(rejected > 0);
    tv_answers_free(&ans);
    json_object_put(prompt);
}

/* ---- ML-DSA ----------------------------------------------------------------------------- */

static void test_mldsa_keygen(void **state) {
    (void)state;
    json_object *prompt = tv_json("acvp/ML-DSA-keyGen-FIPS204/prompt.json.xz");
    tv_answers_t ans;
    tv_answers_load(&ans, "acvp/ML-DSA-keyGen-FIPS204/expectedResults.json.xz");
    json_object *groups = groups_of(prompt);
    size_t total = 0;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *tests = tests_of(grp);
        const hz_sig_t *alg = sig_of(grp);
        size_t ran = 0;
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t), *exp = tv_answer(&ans, tc);
            size_t sl, pkl, skl;
            uint8_t *seed = tv_field(tc, "seed", &sl), *epk = tv_field(exp, "pk", &pkl), *esk = tv_field(exp, "sk", &skl);
            uint8_t *pk = hz_malloc(alg->pk_len), *sk = hz_malloc(alg->sk_len);
            assert_int_equal(hz_sig_keypair_derand(alg, pk, sk, seed, sl), 0);
            tv_expect_bytes("ML-DSA keyGen pk", tv_int(tc, "tcId"), pk, alg->pk_len, epk, pkl);
            tv_expect_bytes("ML-DSA keyGen sk", tv_int(tc, "tcId"), sk, alg->sk_len, esk, skl);
            hz_free(seed), hz_free(epk), hz_free(esk), hz_free(pk), hz_free(sk);
            ran++;
        }
        printf("ML-DSA keyGen tgId %lld %s: %zu cases passed\n", (long long)tv_int(grp, "tgId"), alg->name, ran);
        total += ran;
    }
    assert_int_equal(total, 75);
    tv_answers_free(&ans);
    json_object_put(prompt);
}

/* "external/pure", "external/preHash", "internal/mu", "internal/message" */
static void group_kind(json_object *grp, char *out, size_t n) {
    const char *iface = tv_str(grp, "signatureInterface");
    if (strcmp(iface, "external") == 0)
        snprintf(out, n, "external/%s", tv_str(grp, "preHash"));
    else
        snprintf(out, n, "internal/%s", tv_bool(grp, "externalMu") ? "externalMu" : "message");
}

static void opts_from(json_object *tc, hz_sig_opts_t *o, uint8_t **ctx_out, bool prehash) {
    memset(o, 0, sizeof(*o));
    o->ctx = *ctx_out = tv_field(tc, "context", &o->ctx_len);
    if (prehash && hz_prehash_by_name(tv_str(tc, "hashAlg"), &o->prehash) != 0) fail_msg("%s", hz_error_last());
}

static void test_mldsa_siggen(void **state) {
    (void)state;
    json_object *prompt = tv_json("acvp/ML-DSA-sigGen-FIPS204/prompt.json.xz");
    tv_answers_t ans;
    tv_answers_load(&ans, "acvp/ML-DSA-sigGen-FIPS204/expectedResults.json.xz");
    json_object *groups = groups_of(prompt);
    size_t total = 0;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *tests = tests_of(grp);
        const hz_sig_t *alg = sig_of(grp);
        bool det = tv_bool(grp, "deterministic");
        char kind[64];
        group_kind(grp, kind, sizeof(kind));
        size_t ran = 0;
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t), *exp = tv_answer(&ans, tc);
            size_t skl, rl = 0, el;
            uint8_t *sk = tv_field(tc, "sk", &skl), *esig = tv_field(exp, "signature", &el);
            uint8_t *rnd = det ? NULL : tv_field(tc, "rnd", &rl), *sig = hz_malloc(alg->sig_len);
            if (!det) assert_int_equal(rl, 32);
            int rc;
            if (strcmp(kind, "internal/externalMu") == 0) {
                size_t mul;
                uint8_t *mu = tv_field(tc, "mu", &mul);
                assert_int_equal(mul, 64);
                rc = hz_sig_sign_mu(alg, sig, mu, rnd, sk, skl);
                hz_free(mu);
            } else {
                size_t ml;
                uint8_t *msg = tv_field(tc, "message", &ml);
                if (strcmp(kind, "internal/message") == 0) {
                    rc = hz_sig_sign_internal(alg, sig, msg, ml, rnd, sk, skl);
                } else {
                    hz_sig_opts_t o;
                    uint8_t *ctx;
                    opts_from(tc, &o, &ctx, strcmp(kind, "external/preHash") == 0);
                    o.deterministic = det;
                    o.rnd = rnd;
                    rc = hz_sig_sign(alg, sig, msg, ml, sk, skl, &o);
                    hz_free(ctx);
                }
                hz_free(msg);
            }
            if (rc != 0) fail_msg("ML-DSA sigGen tcId %lld: %s", (long long)tv_int(tc, "tcId"), hz_error_last());
            tv_expect_bytes("ML-DSA sigGen signature", tv_int(tc, "tcId"), sig, alg->sig_len, esig, el);
            hz_free(sk), hz_free(esig), hz_free(rnd), hz_free(sig);
            ran++;
        }
        printf("ML-DSA sigGen tgId %lld %s %s %s: %zu cases passed\n", (long long)tv_int(grp, "tgId"),
               alg->name, kind, det ? "deterministic" : "hedged(rnd)", ran);
        total += ran;
    }
    assert_int_equal(total, 360);
    tv_answers_free(&ans);
    json_object_put(prompt);
}

static void test_mldsa_sigver(void **state) {
    (void)state;
    json_object *prompt = tv_json("acvp/ML-DSA-sigVer-FIPS204/prompt.json.xz");
    tv_answers_t ans;
    tv_answers_load(&ans, "acvp/ML-DSA-sigVer-FIPS204/expectedResults.json.xz");
    json_object *groups = groups_of(prompt);
    size_t total = 0, invalid = 0;
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *tests = tests_of(grp);
        const hz_sig_t *alg = sig_of(grp);
        char kind[64];
        group_kind(grp, kind, sizeof(kind));
        size_t ran = 0;
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t), *exp = tv_answer(&ans, tc);
            size_t pkl, sl;
            uint8_t *pk = tv_field(tc, "pk", &pkl), *sig = tv_field(tc, "signature", &sl);
            int rc;
            if (strcmp(kind, "internal/externalMu") == 0) {
                size_t mul;
                uint8_t *mu = tv_field(tc, "mu", &mul);
                assert_int_equal(mul, 64);
                rc = hz_sig_verify_mu(alg, sig, sl, mu, pk, pkl);
                hz_free(mu);
            } else {
                size_t ml;
                uint8_t *msg = tv_field(tc, "message", &ml);
                if (strcmp(kind, "internal/message") == 0) {
                    rc = hz_sig_verify_internal(alg, sig, sl, msg, ml, pk, pkl);
                } else {
                    hz_sig_opts_t o;
                    uint8_t *ctx;
                    opts_from(tc, &o, &ctx, strcmp(kind, "external/preHash") == 0);
                    rc = hz_sig_verify(alg, sig, sl, msg, ml, pk, pkl, &o);
                    hz_free(ctx);
                }
                hz_free(msg);
            }
            bool want = tv_bool(exp, "testPassed");
            if (want != (rc == 0))
                fail_msg("ML-DSA sigVer tcId %lld: expected %s, got %d (%s)", (long long)tv_int(tc, "tcId"),
                         want ? "valid" : "invalid", rc, hz_error_last());
            if (!want) {
                assert_int_equal(rc, HZ_ECRYPTO);
                invalid++;
            }
            hz_free(pk), hz_free(sig);
            ran++;
        }
        printf("ML-DSA sigVer tgId %lld %s %s: %zu cases passed\n", (long long)tv_int(grp, "tgId"), alg->name, kind, ran);
        total += ran;
    }
    printf("ML-DSA sigVer: %zu cases, %zu invalid signatures rejected as expected\n", total, invalid);
    assert_int_equal(total, 180);
    assert_true(invalid > 0);
    tv_answers_free(&ans);
    json_object_put(prompt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlkem_keygen),
        cmocka_unit_test(test_mlkem_encap_decap),
        cmocka_unit_test(test_mldsa_keygen),
        cmocka_unit_test(test_mldsa_siggen),
        cmocka_unit_test(test_mldsa_sigver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
