/*
 * Sealed data (hz_seal / hz_open). The format is opened here a second time by hand, from the
 * primitives and docs/formats/sealed.md alone, to check the library writes what the document
 * says. Then: round trips across chunk boundaries for every KEM, every bit flip and every
 * truncation of a small sealed file rejected, chunks reordered, repeated, dropped or appended
 * rejected, the wrong key refused, the fd and stdio variants, and memory that stays flat while
 * a large stream goes through.
 */
#include "test_crypto_util.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *const kems[] = {"x-wing", "ml-kem-512", "ml-kem-768", "ml-kem-1024"};

static hz_key_t *gen(const char *alg) {
    hz_key_t *k = NULL;
    if (hz_key_generate(alg, &k) != 0) fail_msg("generate %s: %s", alg, hz_error_last());
    return k;
}

static uint8_t *pattern(size_t n, uint32_t seed) {
    uint8_t *p = hz_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

static void seal(const hz_key_t *k, size_t chunk, const uint8_t *pt, size_t len, hz_buf_t *out) {
    hz_seal_opts_t o = {chunk, NULL, 0};
    hz_buf_reset(out);
    if (hz_seal_buf(k, &o, pt, len, out) != 0) fail_msg("seal %s: %s", k->alg, hz_error_last());
}

/* ---- the format, opened by hand -------------------------------------------------------------- */

static void open_by_hand(const hz_key_t *k, const uint8_t *f, size_t flen, const uint8_t *want, size_t want_len) {
    const hz_kem_t *kem = k->kem;
    assert_memory_equal(f, "HZSEAL", 6);
    assert_int_equal(f[6], 1);
    assert_int_equal(f[7], kem->id);
    size_t chunk = (size_t)1 << f[8];
    assert_memory_equal(f + 9, k->id, 32);
    size_t hlen = 41 + kem->ct_len;
    uint8_t ss[32], salt[32], okm[64], tag[32];
    assert_int_equal(hz_kem_decaps(kem, ss, f + 41, kem->ct_len, k->sk, k->sk_len), 0);
    hz_blake3(f, hlen, salt);
    const char *info = "hanzo-node 2026 sealed v1";
    assert_int_equal(hz_hkdf(HZ_HKDF_SHA256, okm, 64, ss, 32, salt, 32, (const uint8_t *)info, strlen(info)), 0);
    hz_blake3_keyed(okm, f, hlen, tag);
    assert_memory_equal(tag, f + hlen, 32);
    size_t at = hlen + 32, got = 0;
    uint8_t *pt = hz_malloc(chunk);
    for (uint64_t i = 0;; i++) {
        size_t left = flen - at, n = left < chunk + 16 ? left : chunk + 16;
        bool final = n < chunk + 16;
        uint8_t nonce[12] = {0};
        for (int b = 0; b < 8; b++) nonce[3 + b] = (uint8_t)(i >> (56 - 8 * b));
        nonce[11] = final;
        assert_int_equal(hz_aead_decrypt(HZ_AEAD_CHACHA20_POLY1305, pt, f + at, n, NULL, 0, nonce, 12, okm + 32), 0);
        assert_true(got + n - 16 <= want_len);
        assert_memory_equal(pt, want + got, n - 16);
        got += n - 16;
        at += n;
        if (final) break;
    }
    assert_int_equal(at, flen);
    assert_int_equal(got, want_len);
    hz_free(pt);
}

static void test_documented_format(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(kems) / sizeof(kems[0]); i++) {
        hz_key_t *k = gen(kems[i]);
        size_t sizes[] = {0, 1, 1024, 2500};
        for (size_t s = 0; s < 4; s++) {
            uint8_t *pt = pattern(sizes[s], 7);
            hz_buf_t out = HZ_BUF_INIT;
            seal(k, 1024, pt, sizes[s], &out);
            assert_int_equal(out.len, hz_sealed_size(k->kem, 1024, sizes[s]));
            open_by_hand(k, (uint8_t *)out.data, out.len, pt, sizes[s]);
            hz_buf_free(&out);
            hz_free(pt);
        }
        hz_key_free(k);
    }
}

/* The same encapsulation seed gives the same file; a fresh one never does. */
static void test_derandomised(void **state) {
    (void)state;
    hz_key_t *k = gen("x-wing");
    uint8_t seed[64];
    memset(seed, 0x42, sizeof(seed));
    hz_seal_opts_t o = {0, seed, sizeof(seed)};
    hz_buf_t a = HZ_BUF_INIT, b = HZ_BUF_INIT, c = HZ_BUF_INIT;
    assert_int_equal(hz_seal_buf(k, &o, "hello", 5, &a), 0);
    assert_int_equal(hz_seal_buf(k, &o, "hello", 5, &b), 0);
    assert_int_equal(hz_seal_buf(k, NULL, "hello", 5, &c), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len == c.len && memcmp(a.data, c.data, a.len) != 0);
    assert_int_equal((uint8_t)a.data[8], 16); /* 64 KiB default chunk */
    o.encaps_seed_len = 63;
    assert_int_equal(hz_seal_buf(k, &o, "hello", 5, &a), HZ_EINVAL);
    hz_buf_free(&a);
    hz_buf_free(&b);
    hz_buf_free(&c);
    hz_key_free(k);
}

static void test_roundtrip(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 5000, 65536, 200000};
    size_t chunks[] = {1024, 4096, 65536};
    for (size_t i = 0; i < sizeof(kems) / sizeof(kems[0]); i++) {
        hz_key_t *k = gen(kems[i]);
        for (size_t c = 0; c < 3; c++)
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                uint8_t *pt = pattern(sizes[s], (uint32_t)(s + 1));
                hz_buf_t sealed = HZ_BUF_INIT, back = HZ_BUF_INIT;
                seal(k, chunks[c], pt, sizes[s], &sealed);
                assert_int_equal(sealed.len, hz_sealed_size(k->kem, chunks[c], sizes[s]));
                if (hz_open_buf(k, sealed.data, sealed.len, &back) != 0)
                    fail_msg("%s chunk %zu size %zu: %s", k->alg, chunks[c], sizes[s], hz_error_last());
                assert_int_equal(back.len, sizes[s]);
                if (sizes[s]) assert_memory_equal(back.data, pt, sizes[s]);
                hz_buf_free(&sealed);
                hz_buf_free(&back);
                hz_free(pt);
            }
        hz_key_free(k);
    }
    hz_key_t *k = gen("x-wing");
    hz_buf_t out = HZ_BUF_INIT;
    hz_seal_opts_t bad = {3000, NULL, 0};
    assert_int_equal(hz_seal_buf(k, &bad, "x", 1, &out), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "chunk size 3000 is not a power of two"));
    bad.chunk_size = 512;
    assert_int_equal(hz_seal_buf(k, &bad, "x", 1, &out), HZ_EINVAL);
    assert_int_equal(out.len, 0);
    hz_buf_free(&out);
    hz_key_free(k);
}

/* Every single-bit change of a small sealed file is rejected; the kind of error depends on
 * where the bit is. */
static void flip_all(const char *alg, size_t pt_len) {
    hz_key_t *k = gen(alg);
    uint8_t *pt = pattern(pt_len, 3);
    hz_buf_t sealed = HZ_BUF_INIT, out = HZ_BUF_INIT;
    seal(k, 1024, pt, pt_len, &sealed);
    uint8_t *copy = hz_malloc(sealed.len);
    size_t n_parse = 0, n_version = 0, n_kem = 0, n_auth = 0, n_crypto = 0;
    for (size_t i = 0; i < sealed.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, sealed.data, sealed.len);
            copy[i] ^= (uint8_t)(1 << bit);
            int rc = hz_open_buf(k, copy, sealed.len, &out);
            if (rc == 0) fail_msg("%s: flipping bit %d of byte %zu was accepted", alg, bit, i);
            assert_int_equal(out.len, 0);
            switch (rc) {
            case HZ_EPARSE: n_parse++; break;
            case HZ_EVERSION: n_version++; break;
            case HZ_EUNSUPPORTED: n_kem++; break;
            case HZ_EAUTH: n_auth++; break;
            case HZ_ECRYPTO: n_crypto++; break;
            default: fail_msg("byte %zu bit %d: %s: %s", i, bit, hz_error_name(rc), hz_error_last());
            }
            /* The header (up to the tag) is bound by its tag, the chunks by theirs. */
            if (i >= 41 + k->kem->ct_len && rc != HZ_ECRYPTO)
                fail_msg("byte %zu: %s: %s", i, hz_error_name(rc), hz_error_last());
        }
    print_message("%s, %zu-byte sealed file: %zu bit flips rejected (%zu magic/format, %zu version, %zu KEM id, "
                  "%zu wrong key, %zu authentication)\n", alg, sealed.len, sealed.len * 8, n_parse, n_version, n_kem,
                  n_auth, n_crypto);
    assert_int_equal(n_version, 8); /* every flip of the version byte */
    hz_free(copy);
    hz_buf_free(&sealed);
    hz_buf_free(&out);
    hz_free(pt);
    hz_key_free(k);
}

static void test_bit_flips(void **state) {
    (void)state;
    flip_all("ml-kem-512", 2500);
    flip_all("x-wing", 1100);
}

static void test_truncation(void **state) {
    (void)state;
    hz_key_t *k = gen("ml-kem-768");
    size_t pt_len = 4096; /* exactly four chunks: then an empty final chunk */
    uint8_t *pt = pattern(pt_len, 5);
    hz_buf_t sealed = HZ_BUF_INIT, out = HZ_BUF_INIT;
    seal(k, 1024, pt, pt_len, &sealed);
    size_t header = 41 + k->kem->ct_len + 32, boundaries = 0;
    for (size_t cut = 0; cut < sealed.len; cut++) {
        int rc = hz_open_buf(k, sealed.data, cut, &out);
        if (rc == 0) fail_msg("truncated to %zu of %zu bytes: accepted", cut, sealed.len);
        assert_int_equal(out.len, 0);
        if (cut >= header && (cut - header) % (1024 + 16) == 0) {
            boundaries++;
            if (rc != HZ_ECRYPTO || strncmp(hz_error_last(), "truncated", 9) != 0)
                fail_msg("cut at chunk boundary %zu: %s", cut, hz_error_last());
        }
        if (cut < header && rc != HZ_EPARSE) fail_msg("cut in header at %zu: %s", cut, hz_error_last());
    }
    assert_int_equal(boundaries, 5); /* after the header and after each full chunk */
    print_message("ml-kem-768: %zu truncations rejected, %zu of them at chunk boundaries\n", sealed.len, boundaries);
    hz_buf_free(&sealed);
    hz_buf_free(&out);
    hz_free(pt);
    hz_key_free(k);
}

/* Chunks moved around as whole units. */
static void test_chunk_surgery(void **state) {
    (void)state;
    hz_key_t *k = gen("x-wing");
    size_t C = 1024, E = C + 16, pt_len = 3 * C + 100;
    uint8_t *pt = pattern(pt_len, 9);
    hz_buf_t s = HZ_BUF_INIT, t = HZ_BUF_INIT, out = HZ_BUF_INIT;
    seal(k, C, pt, pt_len, &s);
    size_t h = 41 + k->kem->ct_len + 32;
    const char *d = s.data;
    assert_int_equal(s.len, h + 3 * E + 116);

#define TRY(what, needle)                                                              \
    do {                                                                               \
        int rc_ = hz_open_buf(k, t.data, t.len, &out);                                 \
        if (rc_ != HZ_ECRYPTO || !strstr(hz_error_last(), needle))                     \
            fail_msg("%s: %s: %s", what, hz_error_name(rc_), hz_error_last());         \
        assert_int_equal(out.len, 0);                                                  \
    } while (0)

    hz_buf_reset(&t); /* swap chunks 0 and 1 */
    hz_buf_append(&t, d, h);
    hz_buf_append(&t, d + h + E, E);
    hz_buf_append(&t, d + h, E);
    hz_buf_append(&t, d + h + 2 * E, s.len - h - 2 * E);
    TRY("swap", "chunk 0 (byte 1193) does not authenticate");
    hz_buf_reset(&t); /* repeat chunk 0 */
    hz_buf_append(&t, d, h + E);
    hz_buf_append(&t, d + h, s.len - h);
    TRY("repeat", "chunk 1 ");
    hz_buf_reset(&t); /* drop chunk 1 */
    hz_buf_append(&t, d, h + E);
    hz_buf_append(&t, d + h + 2 * E, s.len - h - 2 * E);
    TRY("drop", "chunk 1 ");
    hz_buf_reset(&t); /* the final chunk moved before a full one */
    hz_buf_append(&t, d, h + 2 * E);
    hz_buf_append(&t, d + h + 3 * E, 116);
    hz_buf_append(&t, d + h + 2 * E, E);
    TRY("final early", "chunk 2");
    hz_buf_reset(&t); /* drop the final chunk: the file now ends at a boundary */
    hz_buf_append(&t, d, h + 3 * E);
    TRY("drop final", "truncated: the data ends after chunk 3");
    hz_buf_reset(&t); /* append bytes */
    hz_buf_append(&t, d, s.len);
    hz_buf_append(&t, "x", 1);
    TRY("append 1", "final chunk 3");
    hz_buf_append(&t, d + h, E);
    TRY("append a chunk", "chunk 3");
    hz_buf_reset(&t); /* two sealed files back to back */
    hz_buf_append(&t, d, s.len);
    hz_buf_append(&t, d, s.len);
    TRY("concatenated", "chunk 3");

    /* the final chunk of another file sealed to the same key */
    hz_buf_t s2 = HZ_BUF_INIT;
    seal(k, C, pt, pt_len, &s2);
    hz_buf_reset(&t);
    hz_buf_append(&t, d, h + 3 * E);
    hz_buf_append(&t, s2.data + h + 3 * E, 116);
    TRY("spliced", "final chunk 3");
    hz_buf_reset(&t); /* another file's header on this file's chunks */
    hz_buf_append(&t, s2.data, h);
    hz_buf_append(&t, d + h, s.len - h);
    TRY("other header", "chunk 0");
#undef TRY
    hz_buf_free(&s2);
    hz_buf_free(&s);
    hz_buf_free(&t);
    hz_buf_free(&out);
    hz_free(pt);
    hz_key_free(k);
}

static void test_header_errors(void **state) {
    (void)state;
    hz_key_t *k = gen("x-wing"), *other = gen("x-wing"), *mlkem = gen("ml-kem-768"), *sig = gen("ml-dsa-44"), *pub;
    hz_buf_t s = HZ_BUF_INIT, out = HZ_BUF_INIT;
    seal(k, 0, (const uint8_t *)"secret", 6, &s);

#define EXPECT(key, data, len, code, needle)                                                 \
    do {                                                                                     \
        int rc_ = hz_open_buf(key, data, len, &out);                                         \
        if (rc_ != (code) || !strstr(hz_error_last(), needle))                               \
            fail_msg("expected %s \"%s\", got %s: %s", hz_error_name(code), needle,           \
                     hz_error_name(rc_), hz_error_last());                                    \
    } while (0)

    EXPECT(k, "", 0, HZ_EPARSE, "empty input");
    EXPECT(k, "HZSE", 4, HZ_EPARSE, "truncated header: the input ends at byte 4");
    EXPECT(k, "age-encryption.org/v1\n", 22, HZ_EPARSE, "not a hanzo sealed file");
    EXPECT(other, s.data, s.len, HZ_EAUTH, "the data is sealed to key ");
    EXPECT(mlkem, s.data, s.len, HZ_EAUTH, "sealed to an x-wing key, but the key given is an ml-kem-768 key");
    EXPECT(sig, s.data, s.len, HZ_EINVAL, "open: the key is an ml-dsa-44 signature key; a KEM key is needed");
    assert_int_equal(hz_key_from_public("x-wing", k->pk, k->pk_len, &pub), 0);
    EXPECT(pub, s.data, s.len, HZ_EINVAL, "its secret key is needed");
    assert_int_equal(hz_seal_buf(sig, NULL, "x", 1, &out), HZ_EINVAL);
    /* sealing needs only the public half */
    hz_buf_t s2 = HZ_BUF_INIT;
    assert_int_equal(hz_seal_buf(pub, NULL, "x", 1, &s2), 0);
    assert_int_equal(hz_open_buf(k, s2.data, s2.len, &out), 0);
    assert_int_equal(out.len, 1);
    hz_buf_reset(&out);

    s.data[6] = 2;
    EXPECT(k, s.data, s.len, HZ_EVERSION, "sealed-file version 2 is not supported");
    s.data[6] = 1;
    s.data[7] = 9;
    EXPECT(k, s.data, s.len, HZ_EUNSUPPORTED, "unknown KEM id 9");
    s.data[7] = 4;
    s.data[8] = 9;
    EXPECT(k, s.data, s.len, HZ_EPARSE, "chunk size 2^9 is outside 2^10..2^24");
    s.data[8] = 16;
    s.data[100] ^= 1; /* the KEM ciphertext */
    EXPECT(k, s.data, s.len, HZ_ECRYPTO, "the header does not authenticate");
    s.data[100] ^= 1;
    EXPECT(k, s.data, 500, HZ_EPARSE, "truncated header: the input ends at byte 500 of its 1193-byte header");
    assert_int_equal(hz_open_buf(k, s.data, s.len, &out), 0);
    assert_int_equal(out.len, 6);
#undef EXPECT
    hz_buf_free(&s);
    hz_buf_free(&s2);
    hz_buf_free(&out);
    hz_key_free(k);
    hz_key_free(other);
    hz_key_free(mlkem);
    hz_key_free(sig);
    hz_key_free(pub);
}

static void test_fd_and_stdio(void **state) {
    (void)state;
    hz_key_t *k = gen("x-wing");
    size_t len = 3 * 1000 * 1000 + 17;
    uint8_t *pt = pattern(len, 11);
    FILE *in = tmpfile(), *sealed = tmpfile(), *back = tmpfile();
    assert_int_equal(fwrite(pt, 1, len, in), len);
    rewind(in);
    assert_int_equal(hz_seal_fd(k, NULL, fileno(in), fileno(sealed)), 0);
    assert_int_equal(lseek(fileno(sealed), 0, SEEK_END), (off_t)hz_sealed_size(k->kem, 0, len));
    assert_int_equal(lseek(fileno(sealed), 0, SEEK_SET), 0);
    assert_int_equal(hz_open_fd(k, fileno(sealed), fileno(back)), 0);
    uint8_t *got = hz_malloc(len + 1);
    assert_int_equal(pread(fileno(back), got, len + 1, 0), (ssize_t)len);
    assert_memory_equal(got, pt, len);

    /* stdio, with a different chunk size */
    FILE *sealed2 = tmpfile(), *back2 = tmpfile();
    hz_seal_opts_t o = {1 << 20, NULL, 0};
    rewind(in);
    assert_int_equal(hz_seal_stream(k, &o, in, sealed2), 0);
    rewind(sealed2);
    assert_int_equal(hz_open_stream(k, sealed2, back2), 0);
    rewind(back2);
    assert_int_equal(fread(got, 1, len + 1, back2), len);
    assert_memory_equal(got, pt, len);
    fclose(in);
    fclose(sealed);
    fclose(back);
    fclose(sealed2);
    fclose(back2);
    hz_free(got);
    hz_free(pt);
    hz_key_free(k);
}

/* ---- a large stream in constant memory ---------------------------------------------------- */

typedef struct {
    uint64_t left;
    uint32_t seed;
} gen_t;

static int gen_read(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    gen_t *g = ctx;
    size_t n = g->left < cap ? (size_t)g->left : cap;
    n = n > 10007 ? 10007 : n; /* odd-sized reads, so chunks are filled from several */
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(g->seed += 0x9e3779b9u) >> 3;
    g->left -= n;
    *got = n;
    return 0;
}

typedef struct {
    uint64_t n;
    hz_blake3_hasher_t h;
} sink_t;

static int sink_write(void *ctx, const uint8_t *buf, size_t len) {
    sink_t *s = ctx;
    s->n += len;
    hz_blake3_update(&s->h, buf, len);
    return 0;
}

typedef struct {
    const hz_key_t *key;
    uint64_t len;
    int fd, rc;
} sealer_t;

static int fd_write_cb(void *ctx, const uint8_t *buf, size_t len) {
    int fd = *(int *)ctx;
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w <= 0) return hz_error_set(HZ_EIO, "pipe write");
        buf += w, len -= (size_t)w;
    }
    return 0;
}

static void *sealer_main(void *arg) {
    sealer_t *s = arg;
    gen_t g = {s->len, 1};
    s->rc = hz_seal(s->key, NULL, gen_read, &g, fd_write_cb, &s->fd);
    close(s->fd);
    return NULL;
}

static int fd_read_cb(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    ssize_t n = read(*(int *)ctx, buf, cap);
    if (n < 0) return hz_error_set(HZ_EIO, "pipe read");
    *got = (size_t)n;
    return 0;
}

static long peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* 256 MiB sealed on one thread and opened on another through a pipe, never all in memory:
 * the process's peak RSS grows by far less than the data. Runs first, while the peak is low. */
static void test_constant_memory(void **state) {
    (void)state;
    hz_key_t *k = gen("x-wing");
    long before = peak_rss_kib();
    uint64_t len = (uint64_t)256 << 20;
    int p[2];
    assert_int_equal(pipe(p), 0);
    sealer_t s = {k, len, p[1], -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sealer_main, &s), 0);
    sink_t sink = {0};
    hz_blake3_init(&sink.h);
    int rc = hz_open(k, fd_read_cb, &p[0], sink_write, &sink);
    pthread_join(t, NULL);
    close(p[0]);
    if (rc) fail_msg("open: %s", hz_error_last());
    assert_int_equal(s.rc, 0);
    assert_int_equal(sink.n, len);

    /* the same bytes, hashed directly */
    gen_t g = {len, 1};
    hz_blake3_hasher_t h;
    hz_blake3_init(&h);
    uint8_t *buf = hz_malloc(1 << 16), a[32], b[32];
    for (size_t n; gen_read(&g, buf, 1 << 16, &n) == 0 && n;) hz_blake3_update(&h, buf, n);
    hz_blake3_final(&h, a, 32);
    hz_blake3_final(&sink.h, b, 32);
    assert_memory_equal(a, b, 32);
    long grew = peak_rss_kib() - before;
    print_message("256 MiB sealed and opened through a pipe: peak RSS grew by %ld KiB\n", grew);
    assert_true(grew < 16 * 1024);
    hz_free(buf);
    hz_key_free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_memory),
        cmocka_unit_test(test_documented_format),
        cmocka_unit_test(test_derandomised),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_chunk_surgery),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_fd_and_stdio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
