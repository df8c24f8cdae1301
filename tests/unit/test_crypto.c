/*
 * The crypto module's basics: initialisation, randomness, constant-time compare, wiping,
 * describe; AEAD against RFC 8439 / draft-irtf-cfrg-xchacha-03 vectors plus tamper detection of
 * every bit of ciphertext, tag, associated data and nonce; HKDF against RFC 5869 and SHA-384
 * values computed independently (Python hmac/hashlib); Argon2id against the reference
 * implementation's CLI (Debian argon2 0~20171227), values recorded in tests/vectors/PROVENANCE.md.
 */
#include "test_crypto_util.h"

#include <pthread.h>

static uint8_t *unhex(const char *hex, size_t *n) {
    return tv_unhex(hex, n);
}

static void *init_thread(void *arg) {
    *(int *)arg = hz_crypto_init();
    return NULL;
}

static void test_init_random_ct_equal(void **state) {
    (void)state;
    pthread_t t[4];
    int rc[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, init_thread, &rc[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(rc[i], 0);
    assert_int_equal(hz_crypto_init(), 0);

    uint8_t a[64] = {0}, b[64] = {0}, zero[64] = {0};
    hz_crypto_random(a, sizeof(a));
    hz_crypto_random(b, sizeof(b));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));

    assert_true(hz_ct_equal(a, a, sizeof(a)));
    assert_true(hz_ct_equal(a, b, 0));
    memcpy(b, a, sizeof(a));
    for (size_t i = 0; i < sizeof(a) * 8; i++) {
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_false(hz_ct_equal(a, b, sizeof(a)));
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    assert_true(hz_ct_equal(a, b, sizeof(a)));

    hz_secure_zero(a, sizeof(a));
    assert_memory_equal(a, zero, sizeof(a));
    uint8_t *p = hz_malloc(100);
    memset(p, 0xAA, 100);
    hz_secure_free(p, 100);
    hz_secure_free(NULL, 10);
    hz_secure_zero(NULL, 10);
}

static void test_describe(void **state) {
    (void)state;
    hz_buf_t b = HZ_BUF_INIT;
    hz_crypto_describe(&b);
    assert_non_null(strstr(b.data, "BLAKE3 1.3.1 ("));
    assert_non_null(strstr(b.data, hz_blake3_simd()));
    assert_non_null(strstr(b.data, "libsodium 1.0."));
    assert_non_null(strstr(b.data, "OpenSSL 3."));
    assert_non_null(strstr(b.data, "ml-kem-768"));
    assert_non_null(strstr(b.data, "ml-dsa-87"));
    assert_non_null(strstr(b.data, "x-wing"));
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_ptr_equal(strchr(b.data, '\n'), b.data + b.len - 1); /* exactly one line */
    printf("%s", b.data);
    hz_buf_free(&b);
}

/* ---- AEAD --------------------------------------------------------------------------------- */

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
                                "the future, sunscreen would be it.";

typedef struct {
    hz_aead_id_t alg;
    const char *nonce, *ct_and_tag;
} aead_kat_t;

static const aead_kat_t aead_kats[] = {
    /* RFC 8439 section 2.8.2 */
    {HZ_AEAD_CHACHA20_POLY1305, "070000004041424344454647",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e0"
     "60b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d2"
     "6586cec64b6116" "1ae10b594f09e26a7e902ecbd0600691"},
    /* draft-irtf-cfrg-xchacha-03 appendix A.3.1 */
    {HZ_AEAD_XCHACHA20_POLY1305, "404142434445464748494a4b4c4d4e4f5051525354555657",
     "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c5"
     "4c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812"
     "f615c68b13b52e" "c0875924c1c7987947deafd8780acf49"},
};

static void test_aead_vectors_and_tamper(void **state) {
    (void)state;
    uint8_t key[32], ad[12];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(0x80 + i);
    size_t adl;
    uint8_t *adp = unhex("50515253c0c1c2c3c4c5c6c7", &adl);
    memcpy(ad, adp, sizeof(ad));
    hz_free(adp);
    size_t ptl = strlen(sunscreen);
    const uint8_t *pt = (const uint8_t *)sunscreen;

    for (size_t k = 0; k < sizeof(aead_kats) / sizeof(aead_kats[0]); k++) {
        const aead_kat_t *v = &aead_kats[k];
        size_t nl, wl;
        uint8_t *nonce = unhex(v->nonce, &nl), *want = unhex(v->ct_and_tag, &wl);
        assert_int_equal(nl, hz_aead_nonce_len(v->alg));
        assert_int_equal(wl, ptl + HZ_AEAD_TAG_LEN);
        uint8_t *ct = hz_malloc(wl), *out = hz_malloc(ptl);
        assert_int_equal(hz_aead_encrypt(v->alg, ct, pt, ptl, ad, sizeof(ad), nonce, nl, key), 0);
        assert_memory_equal(ct, want, wl);
        assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), 0);
        assert_memory_equal(out, pt, ptl);

        /* every bit of ciphertext+tag, associated data and nonce matters */
        size_t flips = 0;
        for (size_t bit = 0; bit < wl * 8; bit++, flips++) {
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
            ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < sizeof(ad) * 8; bit++, flips++) {
            ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
            ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < nl * 8; bit++, flips++) {
            nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
            nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* a failed decryption leaves no plaintext behind */
        ct[0] ^= 1;
        memset(out, 0x55, ptl);
        assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
        for (size_t j = 0; j < ptl; j++) assert_int_equal(out[j], 0);
        assert_non_null(strstr(hz_error_last(), "authentication failed"));
        ct[0] ^= 1;
        /* truncation, wrong nonce length, wrong key */
        assert_int_equal(hz_aead_decrypt(v->alg, out, ct, 15, ad, sizeof(ad), nonce, nl, key), HZ_EINVAL);
        assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl - 1, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
        assert_int_equal(hz_aead_encrypt(v->alg, ct, pt, ptl, ad, sizeof(ad), nonce, nl - 1, key), HZ_EINVAL);
        assert_non_null(strstr(hz_error_last(), "nonce is"));
        key[31] ^= 0x80;
        assert_int_equal(hz_aead_decrypt(v->alg, out, ct, wl, ad, sizeof(ad), nonce, nl, key), HZ_ECRYPTO);
        key[31] ^= 0x80;
        printf("%s: RFC vector matches, %zu single-bit changes rejected\n", hz_aead_name(v->alg), flips);
        hz_free(nonce), hz_free(want), hz_free(ct), hz_free(out);
    }
    /* in place, empty plaintext, unknown algorithm */
    uint8_t buf[16 + 5] = "hello", n24[24] = {0}, tag_only[16];
    assert_int_equal(hz_aead_encrypt(HZ_AEAD_XCHACHA20_POLY1305, buf, buf, 5, NULL, 0, n24, 24, key), 0);
    assert_int_equal(hz_aead_decrypt(HZ_AEAD_XCHACHA20_POLY1305, buf, buf, sizeof(buf), NULL, 0, n24, 24, key), 0);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(hz_aead_encrypt(HZ_AEAD_CHACHA20_POLY1305, tag_only, NULL, 0, NULL, 0, n24, 12, key), 0);
    assert_int_equal(hz_aead_decrypt(HZ_AEAD_CHACHA20_POLY1305, NULL, tag_only, 16, NULL, 0, n24, 12, key), 0);
    assert_int_equal(hz_aead_encrypt((hz_aead_id_t)9, buf, buf, 5, NULL, 0, n24, 24, key), HZ_EUNSUPPORTED);
    assert_int_equal(hz_aead_nonce_len((hz_aead_id_t)9), 0);
}

/* ---- HKDF ------------------------------------------------------------------------------- */

typedef struct {
    hz_hkdf_hash_t hash;
    const char *ikm, *salt, *info, *prk, *okm;
} hkdf_kat_t;

static const hkdf_kat_t hkdf_kats[] = {
    /* RFC 5869 A.1 */
    {HZ_HKDF_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9", "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
    /* RFC 5869 A.3: no salt, no info */
    {HZ_HKDF_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    /* SHA-384 with the A.1 and A.3 inputs, computed with Python hmac + hashlib */
    {HZ_HKDF_SHA384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9",
     "704b39990779ce1dc548052c7dc39f303570dd13fb39f7acc564680bef80e8dec70ee9a7e1f3e293ef68eceb072a5ade",
     "9b5097a86038b805309076a44b3a9f38063e25b516dcbf369f394cfab43685f748b6457763e4f0204fc5"},
    {HZ_HKDF_SHA384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
     "10e40cf072a4c5626e43dd22c1cf727d4bb140975c9ad0cbc8e45b40068f8f0ba57cdb598af9dfa6963a96899af047e5",
     "c8c96e710f89b0d7990bca68bcdec8cf854062e54c73a7abc743fade9b242daacc1cea5670415b52849c97c4e787c1f2130fdaaed2e"
     "fee2fd43ab373b705464ffbc36e70ca2a61a5ebf44d1bf8217df59cbe9dcf94a5a4546503e7f9c02e97b0fac5cb8f"},
};

static void test_hkdf(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t k = 0; k < sizeof(hkdf_kats) / sizeof(hkdf_kats[0]); k++) {
        const hkdf_kat_t *v = &hkdf_kats[k];
        size_t il, sl, nl, pl, ol;
        uint8_t *ikm = unhex(v->ikm, &il), *salt = unhex(v->salt, &sl), *info = unhex(v->info, &nl);
        uint8_t *prk = unhex(v->prk, &pl), *okm = unhex(v->okm, &ol), out[200], p[48];
        memset(out, 0, sizeof(out));
        assert_int_equal(hz_hkdf(v->hash, out, ol, ikm, il, sl ? salt : NULL, sl, nl ? info : NULL, nl), 0);
        assert_memory_equal(out, okm, ol);
        assert_int_equal(hz_hkdf_extract(v->hash, p, ikm, il, sl ? salt : NULL, sl), 0);
        assert_memory_equal(p, prk, pl);
        assert_int_equal(hz_hkdf_expand(v->hash, out, ol, prk, pl, info, nl), 0);
        assert_memory_equal(out, okm, ol);
        hz_free(ikm), hz_free(salt), hz_free(info), hz_free(prk), hz_free(okm);
        checked++;
    }
    assert_int_equal(checked, 4);
    uint8_t big[255 * 48 + 1], prk[32] = {1};
    assert_int_equal(hz_hkdf(HZ_HKDF_SHA256, big, 255 * 32, prk, 32, NULL, 0, NULL, 0), 0);
    assert_int_equal(hz_hkdf(HZ_HKDF_SHA256, big, 255 * 32 + 1, prk, 32, NULL, 0, NULL, 0), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "must be 1..8160"));
    assert_int_equal(hz_hkdf(HZ_HKDF_SHA384, big, 255 * 48, prk, 32, NULL, 0, NULL, 0), 0);
    assert_int_equal(hz_hkdf_expand(HZ_HKDF_SHA384, big, 32, prk, 32, NULL, 0), HZ_EINVAL);
    assert_int_equal(hz_hkdf((hz_hkdf_hash_t)7, big, 32, prk, 32, NULL, 0, NULL, 0), HZ_EUNSUPPORTED);
}

/* ---- Argon2id --------------------------------------------------------------------------- */

static void test_argon2id(void **state) {
    (void)state;
    /* echo -n PASS | argon2 SALT -id -t T -k KiB -p 1 -l LEN -r   (reference implementation) */
    struct { const char *pass, *salt; uint64_t t; size_t kib, len; const char *want; } kats[] = {
        {"correct horse battery staple", "hanzo-salt-16byt", 3, 65536, 32,
         "02c4390d9f288565dcbca69bffc32eea81c0997a8c31fcbfbc413f6dfa8f6c97"},
        {"password", "somesaltsomesalt", 2, 1024, 64,
         "bf4c433158b24b33d6734e6ecea9ea3106c53acdef22eff119d3575d1858e767d97027f8319c00468c2641a499eff4b75cf41234ac46b4"
         "f565daca8088d706ea"},
    };
    for (size_t k = 0; k < 2; k++) {
        uint8_t out[64];
        size_t wl;
        uint8_t *want = unhex(kats[k].want, &wl);
        assert_int_equal(hz_argon2id(out, kats[k].len, kats[k].pass, strlen(kats[k].pass), (const uint8_t *)kats[k].salt,
                                     kats[k].t, kats[k].kib * 1024),
                         0);
        assert_memory_equal(out, want, wl);
        hz_free(want);
    }
    uint8_t out[32], salt[16] = {0};
    assert_int_equal(hz_argon2id(out, 32, "x", 1, salt, 0, 1 << 20), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "Argon2id ops"));
    assert_int_equal(hz_argon2id(out, 32, "x", 1, salt, 1, 1024), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "Argon2id memory"));
    assert_int_equal(hz_argon2id(out, 8, "x", 1, salt, 1, 1 << 20), HZ_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_random_ct_equal),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_aead_vectors_and_tamper),
        cmocka_unit_test(test_hkdf),
        cmocka_unit_test(test_argon2id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
