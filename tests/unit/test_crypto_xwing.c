/*
 * X-Wing against the published vectors of draft-connolly-cfrg-xwing-kem-10 (Appendix C, copied
 * to tests/vectors/xwing): key generation from the seed, derandomised encapsulation, and
 * decapsulation; plus X-Wing-specific behaviour the vectors do not cover.
 */
#include "test_crypto_util.h"

typedef struct {
    uint8_t *seed, *sk, *pk, *eseed, *ct, *ss;
    size_t seed_len, sk_len, pk_len, eseed_len, ct_len, ss_len;
} xw_vec_t;

/* Parse "NAME HEX" lines, paragraphs separated by blank lines, '#' comments. */
static size_t load_vectors(xw_vec_t *v, size_t max) {
    size_t len;
    char *text = tv_read("xwing/draft-connolly-cfrg-xwing-kem-10.txt", &len);
    size_t n = 0;
    bool in_vec = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char *sp = strchr(line, ' ');
        if (!sp) fail_msg("bad vector line: %.40s", line);
        *sp = '\0';
        const char *name = line, *hex = sp + 1;
        if (strcmp(name, "seed") == 0) {
            if (in_vec) n++;
            if (n >= max) fail_msg("too many vectors");
            memset(&v[n], 0, sizeof(v[n]));
            in_vec = true;
        }
        if (!in_vec) fail_msg("vector field %s before seed", name);
        struct { const char *name; uint8_t **p; size_t *l; } fields[] = {
            {"seed", &v[n].seed, &v[n].seed_len}, {"sk", &v[n].sk, &v[n].sk_len}, {"pk", &v[n].pk, &v[n].pk_len},
            {"eseed", &v[n].eseed, &v[n].eseed_len}, {"ct", &v[n].ct, &v[n].ct_len}, {"ss", &v[n].ss, &v[n].ss_len},
        };
        bool known = false;
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            if (strcmp(name, fields[i].name) == 0) {
                *fields[i].p = tv_unhex(hex, fields[i].l);
                known = true;
            }
        if (!known) fail_msg("unknown vector field %s", name);
    }
    if (in_vec) n++;
    hz_free(text);
    return n;
}

static void test_xwing_vectors(void **state) {
    (void)state;
    const hz_kem_t *kem = hz_kem_by_name("X-Wing");
    assert_non_null(kem);
    assert_int_equal(kem->id, HZ_KEM_XWING);
    assert_int_equal(kem->pk_len, 1216);
    assert_int_equal(kem->sk_len, 32);
    assert_int_equal(kem->ct_len, 1120);
    xw_vec_t v[8];
    size_t n = load_vectors(v, 8);
    for (size_t i = 0; i < n; i++) {
        uint8_t pk[1216], sk[32], ct[1120], ss[32], ss2[32];
        assert_int_equal(hz_kem_keypair_derand(kem, pk, sk, v[i].seed, v[i].seed_len), 0);
        tv_expect_bytes("X-Wing pk", (int64_t)i, pk, sizeof(pk), v[i].pk, v[i].pk_len);
        tv_expect_bytes("X-Wing sk", (int64_t)i, sk, sizeof(sk), v[i].sk, v[i].sk_len);
        assert_int_equal(hz_kem_encaps_derand(kem, ct, ss, v[i].pk, v[i].pk_len, v[i].eseed, v[i].eseed_len), 0);
        tv_expect_bytes("X-Wing ct", (int64_t)i, ct, sizeof(ct), v[i].ct, v[i].ct_len);
        tv_expect_bytes("X-Wing ss (encaps)", (int64_t)i, ss, sizeof(ss), v[i].ss, v[i].ss_len);
        assert_int_equal(hz_kem_decaps(kem, ss2, v[i].ct, v[i].ct_len, v[i].sk, v[i].sk_len), 0);
        tv_expect_bytes("X-Wing ss (decaps)", (int64_t)i, ss2, sizeof(ss2), v[i].ss, v[i].ss_len);
        hz_free(v[i].seed), hz_free(v[i].sk), hz_free(v[i].pk), hz_free(v[i].eseed), hz_free(v[i].ct), hz_free(v[i].ss);
    }
    printf("X-Wing draft-10 vectors: %zu passed (keygen, encaps, decaps)\n", n);
    assert_int_equal(n, 3);
}

/* An X25519 ciphertext half of small order (here u = 0) is not an error: RFC 7748 X25519 gives
 * zeros there, and X-Wing's combiner then rests on ML-KEM alone. Decapsulation must succeed,
 * be deterministic and differ from the honest shared secret. */
static void test_xwing_small_order_point(void **state) {
    (void)state;
    const hz_kem_t *kem = hz_kem_by_id(HZ_KEM_XWING);
    uint8_t pk[1216], sk[32], ct[1120], ss[32], a[32], b[32];
    assert_int_equal(hz_kem_keypair(kem, pk, sk), 0);
    assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, sizeof(pk)), 0);
    memset(ct + 1088, 0, 32);
    assert_int_equal(hz_kem_decaps(kem, a, ct, sizeof(ct), sk, sizeof(sk)), 0);
    assert_int_equal(hz_kem_decaps(kem, b, ct, sizeof(ct), sk, sizeof(sk)), 0);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, ss, 32);
}

/* The ML-KEM half of an X-Wing key goes through the FIPS 203 modulus check. */
static void test_xwing_pk_check(void **state) {
    (void)state;
    const hz_kem_t *kem = hz_kem_by_id(HZ_KEM_XWING);
    uint8_t pk[1216], sk[32], ct[1120], ss[32];
    assert_int_equal(hz_kem_keypair(kem, pk, sk), 0);
    pk[0] = 0xFF; /* coefficient 0 = 0x?FF | ... set to 4095 */
    pk[1] |= 0x0F;
    assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, sizeof(pk)), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "x-wing encapsulation key fails the FIPS 203 modulus check"));
    assert_int_equal(hz_kem_encaps(kem, ct, ss, pk, 1215), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "is 1215 bytes, expected 1216"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xwing_vectors),
        cmocka_unit_test(test_xwing_small_order_point),
        cmocka_unit_test(test_xwing_pk_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
