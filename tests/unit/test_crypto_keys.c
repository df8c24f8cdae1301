/*
 * Keys, key files and privacy tiers. The key-file format is restated here independently of the
 * library (make_file below follows docs/formats/keys.md), first to check that the library writes
 * exactly that, then to build files the library would never write: other versions, mismatched
 * headers, keys that do not belong together. Then every bit flip and every truncation of real
 * files must be rejected with the right kind of error.
 */
#include "test_crypto_util.h"

#include "crypto/armor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static const char *const all_algs[] = {"ml-kem-512", "ml-kem-768", "ml-kem-1024", "x-wing",
                                       "ml-dsa-44", "ml-dsa-65", "ml-dsa-87"};
#define NALGS (sizeof(all_algs) / sizeof(all_algs[0]))

/* Cheap Argon2id costs so tests that encrypt many times stay fast. */
static const hz_key_write_opts_t cheap = {"correct horse", 13, 1, 64 * 1024, false};
static const hz_key_read_opts_t cheap_read = {"correct horse", 13, false, 0, 0};

static hz_key_t *gen(const char *alg) {
    hz_key_t *k = NULL;
    if (hz_key_generate(alg, &k) != 0) fail_msg("generate %s: %s", alg, hz_error_last());
    return k;
}

static char *encode(const hz_key_t *k, bool secret, const hz_key_write_opts_t *o, size_t *len) {
    hz_buf_t b = HZ_BUF_INIT;
    if (hz_key_encode(k, secret, o, &b) != 0) fail_msg("encode %s: %s", k->alg, hz_error_last());
    return hz_buf_detach(&b, len);
}

/* ---- an independent writer of the version 1 format --------------------------------------- */

static char *make_file(const char *title, const char *const *hdr, size_t nh, const uint8_t *body, size_t len) {
    hz_buf_t m = HZ_BUF_INIT, out = HZ_BUF_INIT;
    hz_buf_printf(&m, "-----BEGIN HANZO %s-----\n", title);
    for (size_t i = 0; i < nh; i++) hz_buf_printf(&m, "%s\n", hdr[i]);
    hz_buf_putc(&m, '\n');
    hz_buf_append(&out, m.data, m.len);
    hz_buf_append(&m, body, len);
    uint8_t sum[6];
    hz_blake3_derive_key("hanzo-node 2026 key file checksum v1", m.data, m.len, sum, sizeof(sum));
    char line[128];
    for (size_t at = 0; at < len; at += 48) {
        sodium_bin2base64(line, sizeof(line), body + at, len - at < 48 ? len - at : 48, sodium_base64_VARIANT_ORIGINAL);
        hz_buf_printf(&out, "%s\n", line);
    }
    sodium_bin2base64(line, sizeof(line), sum, sizeof(sum), sodium_base64_VARIANT_ORIGINAL);
    hz_buf_printf(&out, "=%s\n-----END HANZO %s-----\n", line, title);
    hz_buf_free(&m);
    return hz_buf_detach(&out, NULL);
}

/* Body of an unencrypted file: version | kind | type | alg id | pk [| 0 | sk]. */
static uint8_t *make_body(const hz_key_t *k, bool secret, size_t *len) {
    *len = 4 + k->pk_len + (secret ? 1 + k->sk_len : 0);
    uint8_t *b = hz_malloc(*len);
    b[0] = 1;
    b[1] = secret ? 2 : 1;
    b[2] = (uint8_t)k->type;
    b[3] = (uint8_t)(k->kem ? k->kem->id : k->sig->id);
    memcpy(b + 4, k->pk, k->pk_len);
    if (secret) {
        b[4 + k->pk_len] = 0;
        memcpy(b + 5 + k->pk_len, k->sk, k->sk_len);
    }
    return b;
}

static void title_of(const hz_key_t *k, bool secret, char *out) {
    size_t i = 0;
    for (; k->alg[i]; i++) out[i] = (char)((k->alg[i] >= 'a' && k->alg[i] <= 'z') ? k->alg[i] - 32 : k->alg[i]);
    strcpy(out + i, secret ? " SECRET KEY" : " PUBLIC KEY");
}

/* Decode, expecting failure with `code` and a message containing `needle`. */
static void expect_fail(const char *text, size_t len, const hz_key_read_opts_t *o, int code, const char *needle) {
    hz_key_t *k = (hz_key_t *)1;
    int rc = hz_key_decode(text, len, o, &k);
    if (rc != code || !strstr(hz_error_last(), needle))
        fail_msg("expected %s with \"%s\", got %s: %s", hz_error_name(code), needle, hz_error_name(rc), hz_error_last());
    assert_null(k);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_alg_lookup(void **state) {
    (void)state;
    hz_key_type_t t;
    const hz_kem_t *kem;
    const hz_sig_t *sig;
    assert_int_equal(hz_key_alg_by_name("ML-KEM-768", &t, &kem, &sig), 0);
    assert_int_equal(t, HZ_KEY_KEM);
    assert_ptr_equal(kem, hz_kem_by_id(HZ_KEM_ML_KEM_768));
    assert_null(sig);
    assert_int_equal(hz_key_alg_by_name("xwing", &t, &kem, &sig), 0);
    assert_int_equal(kem->id, HZ_KEM_XWING);
    assert_int_equal(hz_key_alg_by_name("Ml-Dsa-87", &t, &kem, &sig), 0);
    assert_int_equal(t, HZ_KEY_SIG);
    assert_int_equal(sig->id, HZ_SIG_ML_DSA_87);
    assert_null(kem);
    assert_int_equal(hz_key_alg_by_name("ml-dsa-99", &t, &kem, &sig), HZ_EUNSUPPORTED);
    assert_non_null(strstr(hz_error_last(), "ml-kem-512, ml-kem-768, ml-kem-1024, x-wing, ml-dsa-44, ml-dsa-65, ml-dsa-87"));
}

/* The library writes exactly what the format document describes, and reads it back. */
static void test_format_roundtrip(void **state) {
    (void)state;
    for (size_t a = 0; a < NALGS; a++) {
        hz_key_t *k = gen(all_algs[a]);
        char id[65], title[64];
        hz_key_id_hex(k, id);
        uint8_t want_id[32];
        uint8_t *idm = hz_malloc(k->pk_len + 2);
        idm[0] = (uint8_t)k->type;
        idm[1] = (uint8_t)(k->kem ? k->kem->id : k->sig->id);
        memcpy(idm + 2, k->pk, k->pk_len);
        hz_blake3_derive_key("hanzo-node 2026 key id v1", idm, k->pk_len + 2, want_id, 32);
        hz_free(idm);
        assert_memory_equal(k->id, want_id, 32);

        for (int secret = 0; secret <= 1; secret++) {
            size_t len, blen;
            char *text = encode(k, secret, NULL, &len);
            uint8_t *body = make_body(k, secret, &blen);
            title_of(k, secret, title);
            char h0[] = "Version: 1", h1[80], h2[] = "Encryption: none";
            snprintf(h1, sizeof(h1), "Key-Id: %s", id);
            const char *hdr[] = {h0, h1, h2};
            char *want = make_file(title, hdr, secret ? 3 : 2, body, blen);
            if (strcmp(text, want) != 0) fail_msg("%s %s file differs from the documented format", k->alg, secret ? "secret" : "public");
            assert_int_equal(len, strlen(want));
            /* the writer reserves exactly this much up front, so no copy of a secret is left in a
             * buffer that was grown and freed */
            hz__armor_header_t hh[3];
            memset(hh, 0, sizeof(hh));
            for (int i = 0; i < 3; i++) {
                const char *colon = strchr(hdr[i], ':');
                memcpy(hh[i].name, hdr[i], (size_t)(colon - hdr[i]));
                strcpy(hh[i].value, colon + 2);
            }
            assert_int_equal(hz__armor_size(title, hh, secret ? 3 : 2, blen), len);

            hz_key_t *back;
            assert_int_equal(hz_key_decode(text, len, NULL, &back), 0);
            assert_string_equal(back->alg, k->alg);
            assert_memory_equal(back->id, k->id, 32);
            assert_memory_equal(back->pk, k->pk, k->pk_len);
            if (secret) {
                assert_int_equal(back->sk_len, k->sk_len);
                assert_memory_equal(back->sk, k->sk, k->sk_len);
            } else {
                assert_null(back->sk);
            }
            /* the public half of a secret file, without decryption */
            hz_key_read_opts_t pub_only = {.public_only = true};
            hz_key_t *pub;
            assert_int_equal(hz_key_decode(text, len, &pub_only, &pub), 0);
            assert_null(pub->sk);
            assert_memory_equal(pub->pk, k->pk, k->pk_len);
            hz_key_free(pub);
            hz_key_free(back);
            hz_free(want);
            hz_free(body);
            hz_free(text);
        }
        hz_key_free(k);
    }
}

static void test_encrypted(void **state) {
    (void)state;
    hz_key_t *k = gen("ml-dsa-44");
    size_t len, len2;
    char *text = encode(k, true, &cheap, &len);
    char *text2 = encode(k, true, &cheap, &len2);
    assert_non_null(strstr(text, "\nEncryption: argon2id-xchacha20poly1305\n"));
    assert_true(len == len2 && memcmp(text, text2, len) != 0); /* fresh salt and nonce each time */

    hz_key_t *back;
    assert_int_equal(hz_key_decode(text, len, &cheap_read, &back), 0);
    assert_memory_equal(back->sk, k->sk, k->sk_len);
    hz_key_free(back);

    hz_key_read_opts_t wrong = {"correct horsf", 13, false, 0, 0};
    expect_fail(text, len, &wrong, HZ_EAUTH, "wrong passphrase");
    hz_key_read_opts_t none = {0};
    expect_fail(text, len, &none, HZ_EAUTH, "a passphrase is needed");
    expect_fail(text, len, NULL, HZ_EAUTH, "a passphrase is needed");
    hz_key_read_opts_t low = {"correct horse", 13, false, 0, 32 * 1024};
    expect_fail(text, len, &low, HZ_ETOOBIG, "asks for 64 KiB of memory; the limit is 32 KiB");
    hz_key_read_opts_t pub_only = {.public_only = true};
    assert_int_equal(hz_key_decode(text, len, &pub_only, &back), 0);
    assert_null(back->sk);
    assert_memory_equal(back->id, k->id, 32);
    hz_key_free(back);

    /* default Argon2id costs (the ones keygen --encrypt uses) */
    hz_key_write_opts_t dflt = {"pw", 2, 0, 0, false};
    hz_free(text2);
    text2 = encode(k, true, &dflt, &len2);
    hz_key_read_opts_t rd = {"pw", 2, false, 0, 0};
    assert_int_equal(hz_key_decode(text2, len2, &rd, &back), 0);
    assert_memory_equal(back->sk, k->sk, k->sk_len);
    hz_key_free(back);

    /* writer-side limits */
    hz_buf_t b = HZ_BUF_INIT;
    hz_key_write_opts_t bad = {"pw", 2, 17, 0, false};
    assert_int_equal(hz_key_encode(k, true, &bad, &b), HZ_ETOOBIG);
    hz_key_write_opts_t odd = {"pw", 2, 1, 10000, false};
    assert_int_equal(hz_key_encode(k, true, &odd, &b), HZ_EINVAL);
    hz_key_write_opts_t empty = {"", 0, 1, 65536, false};
    assert_int_equal(hz_key_encode(k, true, &empty, &b), HZ_EINVAL);
    assert_int_equal(b.len, 0);
    hz_key_t *pub;
    assert_int_equal(hz_key_from_public(k->alg, k->pk, k->pk_len, &pub), 0);
    assert_int_equal(hz_key_encode(pub, true, NULL, &b), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "no secret half"));
    hz_key_free(pub);
    hz_buf_free(&b);
    hz_free(text);
    hz_free(text2);
    hz_key_free(k);
}

/* Flip every bit of a file: each flip must be rejected, as malformed (EPARSE, naming where),
 * an unknown algorithm (EUNSUPPORTED, a flip in the BEGIN line's name) or as a checksum mismatch
 * (ECRYPTO). Never accepted, never a wrong passphrase. */
static void flip_all(const char *what, const char *text, size_t len, const hz_key_read_opts_t *o) {
    char *copy = hz_malloc(len);
    size_t counts[3] = {0, 0, 0};
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, text, len);
            copy[i] ^= (char)(1 << bit);
            hz_key_t *k = NULL;
            int rc = hz_key_decode(copy, len, o, &k);
            if (rc == 0) fail_msg("%s: flipping bit %d of byte %zu was accepted", what, bit, i);
            if (rc == HZ_EPARSE) counts[0]++;
            else if (rc == HZ_ECRYPTO) counts[1]++;
            else if (rc == HZ_EUNSUPPORTED) counts[2]++;
            else fail_msg("%s: bit %d of byte %zu: unexpected %s: %s", what, bit, i, hz_error_name(rc), hz_error_last());
            if (!hz_error_last()[0]) fail_msg("%s: no message for byte %zu", what, i);
            assert_null(k);
        }
    print_message("%s: %zu bit flips rejected: %zu malformed, %zu checksum, %zu unknown algorithm\n", what, len * 8,
                  counts[0], counts[1], counts[2]);
    assert_true(counts[0] > 0 && counts[1] > 0);
    hz_free(copy);
}

static void test_bit_flips(void **state) {
    (void)state;
    size_t len;
    hz_key_t *k = gen("ml-kem-512");
    char *text = encode(k, false, NULL, &len);
    flip_all("ml-kem-512 public", text, len, NULL);
    hz_free(text);
    hz_key_free(k);

    k = gen("ml-dsa-44");
    text = encode(k, true, NULL, &len);
    flip_all("ml-dsa-44 secret", text, len, NULL);
    hz_free(text);
    hz_key_free(k);

    k = gen("x-wing");
    text = encode(k, true, &cheap, &len);
    flip_all("x-wing encrypted secret", text, len, &cheap_read);
    hz_free(text);
    hz_key_free(k);
}

/* Every prefix of a file is "truncated", except the whole file without its final newline. */
static void test_truncation(void **state) {
    (void)state;
    hz_key_t *k = gen("ml-kem-768");
    size_t len;
    char *text = encode(k, true, &cheap, &len);
    expect_fail(text, 0, &cheap_read, HZ_EPARSE, "empty file");
    for (size_t cut = 1; cut < len - 1; cut++) {
        hz_key_t *out = NULL;
        int rc = hz_key_decode(text, cut, &cheap_read, &out);
        if (rc != HZ_EPARSE || strncmp(hz_error_last(), "truncated", 9) != 0)
            fail_msg("cut at %zu of %zu: %s: %s", cut, len, hz_error_name(rc), hz_error_last());
    }
    hz_key_t *out;
    assert_int_equal(hz_key_decode(text, len - 1, &cheap_read, &out), 0);
    hz_key_free(out);
    print_message("ml-kem-768 encrypted secret: %zu truncations rejected as truncated\n", len - 2);
    hz_free(text);
    hz_key_free(k);
}

static void test_line_endings(void **state) {
    (void)state;
    hz_key_t *k = gen("ml-dsa-65"), *out;
    size_t len;
    char *text = encode(k, false, NULL, &len);
    hz_buf_t crlf = HZ_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') hz_buf_putc(&crlf, '\r');
        hz_buf_putc(&crlf, text[i]);
    }
    assert_int_equal(hz_key_decode(crlf.data, crlf.len, NULL, &out), 0);
    hz_key_free(out);
    hz_buf_puts(&crlf, "\r\n\n\n");
    assert_int_equal(hz_key_decode(crlf.data, crlf.len, NULL, &out), 0);
    hz_key_free(out);
    hz_buf_puts(&crlf, " ");
    expect_fail(crlf.data, crlf.len, NULL, HZ_EPARSE, "text after the END line");

    hz_buf_reset(&crlf);
    hz_buf_printf(&crlf, "\n%s", text);
    expect_fail(crlf.data, crlf.len, NULL, HZ_EPARSE, "does not begin with");
    expect_fail("-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 37, NULL, HZ_EPARSE, "line 1 is \"-----BEGIN PGP PUBLIC KEY BLOCK-----\"");

    /* a re-wrapped body (lines of 76) is rejected, naming the line */
    hz_buf_reset(&crlf);
    char *body = strstr(text, "\n\n") + 2;
    hz_buf_append(&crlf, text, (size_t)(body - text));
    hz_buf_append(&crlf, body, 64);
    hz_buf_append(&crlf, body + 65, 12);
    hz_buf_putc(&crlf, '\n');
    hz_buf_puts(&crlf, body + 77);
    expect_fail(crlf.data, crlf.len, NULL, HZ_EPARSE, "line 5: body line of 76 characters");
    hz_buf_free(&crlf);
    hz_free(text);
    hz_key_free(k);
}

/* Files the library would not write, built with make_file so their checksums are right: each
 * reaches the check it is aimed at. */
static void test_crafted(void **state) {
    (void)state;
    hz_key_t *k = gen("ml-dsa-44"), *other = gen("ml-dsa-44");
    char id[65], h1[80], title[64];
    hz_key_id_hex(k, id);
    snprintf(h1, sizeof(h1), "Key-Id: %s", id);
    size_t blen;
    uint8_t *body = make_body(k, true, &blen);
    title_of(k, true, title);
    const char *good[] = {"Version: 1", h1, "Encryption: none"};
    char *f;

#define CASE(t, hdr, nh, b, bl, code, needle)               \
    do {                                                    \
        f = make_file(t, hdr, nh, b, bl);                   \
        expect_fail(f, strlen(f), NULL, code, needle);      \
        hz_free(f);                                         \
    } while (0)

    const char *v2[] = {"Version: 2", "Something-New: yes"};
    CASE(title, v2, 2, body, blen, HZ_EVERSION, "key file version 2 is not supported (this hanzo reads version 1)");
    const char *v01[] = {"Version: 01", h1, "Encryption: none"};
    CASE(title, v01, 3, body, blen, HZ_EPARSE, "Version \"01\" is not a version number");
    const char *nov[] = {h1, "Version: 1", "Encryption: none"};
    CASE(title, nov, 3, body, blen, HZ_EPARSE, "first header must be \"Version\"");
    CASE("ML-DSA-99 SECRET KEY", good, 3, body, blen, HZ_EUNSUPPORTED, "line 1: unknown algorithm \"ML-DSA-99\"");
    CASE("XWING SECRET KEY", good, 3, body, blen, HZ_EPARSE, "written \"X-WING\" in key files");
    CASE("ML-DSA-44 PRIVATE KEY", good, 3, body, blen, HZ_EPARSE, "is not a key");
    CASE("ML-DSA-65 SECRET KEY", good, 3, body, blen, HZ_EPARSE, "body bytes 2-3: algorithm 2/1, but the BEGIN line says ml-dsa-65");
    CASE("ML-DSA-44 PUBLIC KEY", good, 3, body, blen, HZ_EPARSE, "unexpected header \"Encryption\" in a version 1 public key file");
    CASE("ML-DSA-44 PUBLIC KEY", good, 2, body, blen, HZ_EPARSE, "body byte 1: key kind 2, but the BEGIN line says PUBLIC");
    CASE(title, good, 2, body, blen, HZ_EPARSE, "header \"Encryption\" is missing");
    const char *extra[] = {"Version: 1", h1, "Encryption: none", "Comment: hi"};
    CASE(title, extra, 4, body, blen, HZ_EPARSE, "line 5: unexpected header \"Comment\"");
    const char *swapped[] = {"Version: 1", "Encryption: none", h1};
    CASE(title, swapped, 3, body, blen, HZ_EPARSE, "line 3: expected header \"Key-Id\", found \"Encryption\"");
    const char *aes[] = {"Version: 1", h1, "Encryption: aes-256-gcm"};
    CASE(title, aes, 3, body, blen, HZ_EUNSUPPORTED, "unknown encryption \"aes-256-gcm\"");
    const char *argon[] = {"Version: 1", h1, "Encryption: argon2id-xchacha20poly1305"};
    CASE(title, argon, 3, body, blen, HZ_EPARSE, "encryption 0, but the Encryption header says argon2id-xchacha20poly1305");
    char upper_id[80];
    snprintf(upper_id, sizeof(upper_id), "Key-Id: %s", id);
    for (char *p = upper_id + 8; *p; p++) *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    const char *uid[] = {"Version: 1", upper_id, "Encryption: none"};
    CASE(title, uid, 3, body, blen, HZ_EPARSE, "Key-Id must be 64 lowercase hex digits");
    char other_id[65], h1o[80];
    hz_key_id_hex(other, other_id);
    snprintf(h1o, sizeof(h1o), "Key-Id: %s", other_id);
    const char *wrong_id[] = {"Version: 1", h1o, "Encryption: none"};
    CASE(title, wrong_id, 3, body, blen, HZ_ECRYPTO, "does not match the public key in the body");
    CASE(title, good, 3, body, blen - 1, HZ_EPARSE, "an ml-dsa-44 secret key file has");
    body[0] = 2;
    CASE(title, good, 3, body, blen, HZ_EPARSE, "body byte 0: format version 2, but the Version header says 1");
    body[0] = 1;

    /* a secret key next to someone else's public key (the id matches that public key) */
    uint8_t *mixed = hz_malloc(blen);
    memcpy(mixed, body, blen);
    memcpy(mixed + 4, other->pk, other->pk_len);
    CASE(title, wrong_id, 3, mixed, blen, HZ_ECRYPTO, "does not belong to the public key stored beside it");
    /* a secret key with one bit of s1 changed, and the public key that would match it unknown */
    memcpy(mixed, body, blen);
    mixed[4 + k->pk_len + 1 + 32 + 32 + 64 + 10] ^= 0x01;
    CASE(title, good, 3, mixed, blen, HZ_ECRYPTO, "secret key: ml-dsa-44 secret key is inconsistent");
    hz_free(mixed);

    /* an ML-KEM public key with a coefficient >= q (FIPS 203 section 7.2) */
    hz_key_t *kem = gen("ml-kem-512");
    size_t klen;
    uint8_t *kbody = make_body(kem, false, &klen);
    kbody[4] = 0xff;
    kbody[5] |= 0x0f;
    char kid[65], kh1[80], ktitle[64];
    uint8_t idb[32];
    uint8_t *idm = hz_malloc(kem->pk_len + 2);
    idm[0] = 1, idm[1] = 1;
    memcpy(idm + 2, kbody + 4, kem->pk_len);
    hz_blake3_derive_key("hanzo-node 2026 key id v1", idm, kem->pk_len + 2, idb, 32);
    hz_hex_encode(idb, 32, kid);
    snprintf(kh1, sizeof(kh1), "Key-Id: %s", kid);
    const char *khdr[] = {"Version: 1", kh1};
    title_of(kem, false, ktitle);
    CASE(ktitle, khdr, 2, kbody, klen, HZ_EINVAL, "public key: ");
#undef CASE
    hz_free(idm);
    hz_free(kbody);
    hz_key_free(kem);
    hz_free(body);
    hz_key_free(k);
    hz_key_free(other);
}

static void test_raw_import(void **state) {
    (void)state;
    for (size_t a = 0; a < NALGS; a++) {
        hz_key_t *k = gen(all_algs[a]), *pub, *sec;
        assert_int_equal(hz_key_from_public(all_algs[a], k->pk, k->pk_len, &pub), 0);
        assert_memory_equal(pub->id, k->id, 32);
        assert_null(pub->sk);
        /* the public key recomputed from the secret key is the generated one */
        assert_int_equal(hz_key_from_secret(all_algs[a], k->sk, k->sk_len, &sec), 0);
        assert_memory_equal(sec->pk, k->pk, k->pk_len);
        assert_memory_equal(sec->id, k->id, 32);
        hz_key_t *none = (hz_key_t *)1;
        assert_int_equal(hz_key_from_public(all_algs[a], k->pk, k->pk_len - 1, &none), HZ_EINVAL);
        assert_non_null(strstr(hz_error_last(), "public key is"));
        assert_null(none);
        hz_key_free(pub);
        hz_key_free(sec);
        if (k->sk_len > 32) { /* X-Wing's 32-byte seed has no redundancy to check */
            uint8_t *bad = hz_malloc(k->sk_len);
            memcpy(bad, k->sk, k->sk_len);
            bad[k->sk_len - 40] ^= 0x80; /* ML-KEM: H(ek); ML-DSA: t0 */
            assert_int_equal(hz_key_from_secret(all_algs[a], bad, k->sk_len, &sec), HZ_ECRYPTO);
            assert_null(sec);
            hz_free(bad);
        }
        hz_key_free(k);
    }
}

static void test_expect(void **state) {
    (void)state;
    hz_key_t *kem = gen("ml-kem-768"), *sig = gen("ml-dsa-65"), *pub;
    assert_int_equal(hz_key_expect(kem, HZ_KEY_KEM, "ML-KEM-768", true), 0);
    assert_int_equal(hz_key_expect(kem, HZ_KEY_SIG, NULL, false), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "the key is an ml-kem-768 KEM key; a signature key is needed");
    assert_int_equal(hz_key_expect(sig, HZ_KEY_SIG, "ml-dsa-87", false), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "the key is an ml-dsa-65 key, not an ml-dsa-87 key");
    assert_int_equal(hz_key_expect(sig, HZ_KEY_SIG, "ml-dsa-12", false), HZ_EUNSUPPORTED);
    assert_int_equal(hz_key_from_public("ml-dsa-65", sig->pk, sig->pk_len, &pub), 0);
    assert_int_equal(hz_key_expect(pub, HZ_KEY_SIG, NULL, true), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "the ml-dsa-65 key is a public key; its secret key is needed");
    hz_key_free(pub);
    hz_key_free(kem);
    hz_key_free(sig);
}

static void test_save_load(void **state) {
    (void)state;
    char dir[] = "/tmp/hz-keys-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *pubp = hz_sprintf("%s/a.pub", dir), *secp = hz_sprintf("%s/a.key", dir);
    hz_key_t *k = gen("x-wing"), *back;
    assert_int_equal(hz_key_save(k, false, pubp, NULL), 0);
    assert_int_equal(hz_key_save(k, true, secp, &cheap), 0);
    struct stat st;
    assert_int_equal(stat(pubp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(secp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(hz_key_save(k, true, secp, &cheap), HZ_EEXIST);
    hz_key_write_opts_t over = cheap;
    over.overwrite = true;
    assert_int_equal(hz_key_save(k, true, secp, &over), 0);
    assert_int_equal(stat(secp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(hz_key_load(secp, &cheap_read, &back), 0);
    assert_memory_equal(back->sk, k->sk, k->sk_len);
    hz_key_free(back);
    assert_int_equal(hz_key_load(pubp, NULL, &back), 0);
    assert_null(back->sk);
    hz_key_free(back);
    assert_int_equal(hz_key_load(secp, NULL, &back), HZ_EAUTH);
    assert_true(hz_str_starts_with(hz_error_last(), secp));

    char *missing = hz_sprintf("%s/missing.key", dir);
    assert_int_equal(hz_key_load(missing, NULL, &back), HZ_EIO);
    assert_non_null(strstr(hz_error_last(), "No such file"));
    int fd = open(missing, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 70000), 0);
    close(fd);
    assert_int_equal(hz_key_load(missing, NULL, &back), HZ_ETOOBIG);
    unlink(missing);
    unlink(pubp);
    unlink(secp);
    rmdir(dir);
    hz_free(missing);
    hz_free(pubp);
    hz_free(secp);
    hz_key_free(k);
}

static void test_tiers(void **state) {
    (void)state;
    const char *names[] = {"open", "at-rest", "cpu-tee", "gpu-cc", "gpu-tee-io"};
    for (int t = 0; t < HZ_TIER_COUNT; t++) {
        const hz_tier_info_t *info = hz_tier_info((hz_tier_t)t);
        assert_non_null(info);
        assert_string_equal(info->name, names[t]);
        assert_string_equal(info->kem, t < 3 ? "ml-kem-768" : "ml-kem-1024");
        assert_string_equal(info->sig, t < 3 ? "ml-dsa-65" : "ml-dsa-87");
        hz_tier_t parsed;
        char digit[2] = {(char)('0' + t), 0};
        assert_int_equal(hz_tier_parse(digit, &parsed), 0);
        assert_int_equal(parsed, t);
        assert_int_equal(hz_tier_parse(names[t], &parsed), 0);
        assert_int_equal(parsed, t);
        assert_int_equal(hz_tier_parse(info->title, &parsed), 0);
        assert_int_equal(parsed, t);
        assert_int_equal((info->features & HZ_TIER_F_ENCRYPT_AT_REST) != 0, t >= 1);
    }
    assert_null(hz_tier_info((hz_tier_t)5));
    hz_tier_t parsed;
    assert_int_equal(hz_tier_parse("5", &parsed), HZ_EINVAL);
    assert_int_equal(hz_tier_parse("secret", &parsed), HZ_EINVAL);

    hz_attestation_t none = HZ_ATTESTATION_NONE;
    assert_int_equal(hz_tier_check(HZ_TIER_OPEN, &none), 0);
    assert_int_equal(hz_tier_check(HZ_TIER_AT_REST, NULL), 0);
    assert_int_equal(hz_tier_check(HZ_TIER_CPU_TEE, &none), HZ_EAUTH);
    assert_string_equal(hz_error_last(), "privacy tier 2 (CPU TEE) needs a verified attestation of a CPU TEE; "
                                         "none is present (the key broker supplies it)");
    assert_int_equal(hz_tier_check(HZ_TIER_GPU_TEE_IO, NULL), HZ_EAUTH);
    assert_non_null(strstr(hz_error_last(), "of a CPU TEE, GPU confidential computing and TEE-I/O; none is present"));

    hz_attestation_t cpu = {true, HZ_TIER_F_CPU_TEE, "sev-snp", 0};
    assert_int_equal(hz_tier_check(HZ_TIER_CPU_TEE, &cpu), 0);
    assert_int_equal(hz_tier_check(HZ_TIER_GPU_CC, &cpu), HZ_EAUTH);
    assert_non_null(strstr(hz_error_last(), "the sev-snp attestation does not prove GPU confidential computing"));
    hz_attestation_t unverified = {false, HZ_TIER_F_ATTESTED, "tdx", 0};
    assert_int_equal(hz_tier_check(HZ_TIER_CPU_TEE, &unverified), HZ_EAUTH);
    assert_non_null(strstr(hz_error_last(), "is not verified"));
    hz_attestation_t expired = {true, HZ_TIER_F_ATTESTED, "tdx", hz_time_now_ms() - 1};
    assert_int_equal(hz_tier_check(HZ_TIER_GPU_TEE_IO, &expired), HZ_EAUTH);
    assert_non_null(strstr(hz_error_last(), "the tdx attestation expired"));
    hz_attestation_t all = {true, HZ_TIER_F_ATTESTED, "tdx+h100", hz_time_now_ms() + 60000};
    assert_int_equal(hz_tier_check(HZ_TIER_GPU_TEE_IO, &all), 0);

    struct { const char *alg; int min_ok, max_ok; } cases[] = {
        {"ml-kem-512", 9, -1}, {"ml-dsa-44", 9, -1}, {"ml-kem-768", 0, 2}, {"x-wing", 0, 2},
        {"ml-dsa-65", 0, 2}, {"ml-kem-1024", 0, 4}, {"ml-dsa-87", 0, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hz_key_t *k = gen(cases[i].alg);
        for (int t = 0; t < HZ_TIER_COUNT; t++) {
            int rc = hz_tier_check_key((hz_tier_t)t, k);
            bool want_ok = t >= cases[i].min_ok && t <= cases[i].max_ok;
            if ((rc == 0) != want_ok) fail_msg("tier %d, %s: %s", t, cases[i].alg, hz_error_last());
        }
        hz_key_free(k);
    }
    hz_key_t *k = gen("ml-kem-768");
    assert_int_equal(hz_tier_check_key(HZ_TIER_GPU_CC, k), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "privacy tier 3 (GPU CC) needs NIST category 5 algorithms (ml-kem-1024, "
                                         "ml-dsa-87); ml-kem-768 is category 3");
    hz_key_free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_lookup),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_raw_import),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_tiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
