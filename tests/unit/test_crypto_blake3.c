/*
 * BLAKE3: the official test vectors (tests/vectors/blake3/test_vectors.json: hash, keyed_hash
 * and derive_key, every input length, 131-byte extended outputs) through the one-shot helpers,
 * the streaming hasher fed in uneven pieces, final_seek, and the multi-threaded tree code with
 * segments from one chunk up; then large random inputs where the parallel path must equal the
 * streaming hash, in every mode and thread count, and file/pipe hashing.
 */
#include "test_crypto_util.h"

#include <fcntl.h>
#include <unistd.h>

#include "crypto/internal.h"

enum { MODE_HASH, MODE_KEYED, MODE_DERIVE };
static const char *mode_names[] = {"hash", "keyed_hash", "derive_key"};

static void init_mode(hz_blake3_hasher_t *h, int mode, const uint8_t *key, const char *context) {
    if (mode == MODE_HASH) hz_blake3_init(h);
    else if (mode == MODE_KEYED) hz_blake3_init_keyed(h, key);
    else hz_blake3_init_derive_key(h, context);
}

static void test_official_vectors(void **state) {
    (void)state;
    json_object *root = tv_json("blake3/test_vectors.json");
    const char *key_str = tv_str(root, "key"), *context = tv_str(root, "context_string");
    assert_int_equal(strlen(key_str), 32);
    const uint8_t *key = (const uint8_t *)key_str;
    json_object *cases;
    assert_int_equal(hz_json_get_array(root, "cases", true, &cases), 0);
    uint8_t *input = hz_malloc(200000);
    for (size_t i = 0; i < 200000; i++) input[i] = (uint8_t)(i % 251);

    size_t checked = 0, tree_checked = 0;
    for (size_t c = 0; c < json_object_array_length(cases); c++) {
        json_object *tc = json_object_array_get_idx(cases, c);
        size_t len = (size_t)tv_int(tc, "input_len");
        assert_true(len <= 200000);
        for (int mode = 0; mode < 3; mode++) {
            size_t xl;
            uint8_t *want = tv_field(tc, mode_names[mode], &xl), got[256];
            assert_true(xl > 32 && xl <= sizeof(got));

            /* one-shot helpers (32 bytes, or any length for derive_key) */
            if (mode == MODE_HASH) hz_blake3(input, len, got);
            else if (mode == MODE_KEYED) hz_blake3_keyed(key, input, len, got);
            else hz_blake3_derive_key(context, input, len, got, xl);
            tv_expect_bytes(mode_names[mode], (int64_t)len, got, mode == MODE_DERIVE ? xl : 32, want,
                            mode == MODE_DERIVE ? xl : 32);
            if (mode == MODE_HASH) {
                char hex[65], whex[65];
                hz_blake3_hex(input, len, hex);
                hz_hex_encode(want, 32, whex);
                assert_string_equal(hex, whex);
            }

            /* streaming in uneven pieces, extended output, and output from an offset */
            hz_blake3_hasher_t h;
            init_mode(&h, mode, key, context);
            for (size_t off = 0, piece = 1; off < len; off += piece, piece = piece * 3 + 1) {
                if (piece > len - off) piece = len - off;
                hz_blake3_update(&h, input + off, piece);
            }
            hz_blake3_final(&h, got, xl);
            tv_expect_bytes(mode_names[mode], (int64_t)len, got, xl, want, xl);
            hz_blake3_final_seek(&h, 37, got, xl - 37);
            tv_expect_bytes(mode_names[mode], (int64_t)len, got, xl - 37, want + 37, xl - 37);
            hz_blake3_reset(&h);
            hz_blake3_update(&h, input, len);
            hz_blake3_final(&h, got, xl);
            tv_expect_bytes(mode_names[mode], (int64_t)len, got, xl, want, xl);
            checked++;

            /* the multi-threaded tree with tiny segments, so every vector crosses segment
             * boundaries, the tail path and the root path */
            hz_blake3_hasher_t m;
            init_mode(&m, mode, key, context);
            for (uint64_t seg = 1024; seg <= 16384; seg *= 4)
                for (int threads = 1; threads <= 3; threads++) {
                    memset(got, 0, sizeof(got));
                    hz__blake3_tree(&m, threads, input, len, seg, got, xl);
                    if (memcmp(got, want, xl) != 0)
                        fail_msg("tree %s len %zu seg %llu threads %d differs", mode_names[mode], len,
                                 (unsigned long long)seg, threads);
                    tree_checked++;
                }
            hz_free(want);
        }
    }
    printf("BLAKE3 official vectors: %zu (length, mode) cases, %zu tree-path checks passed\n", checked, tree_checked);
    assert_int_equal(checked, 35 * 3);
    assert_int_equal(tree_checked, 35 * 3 * 9);
    hz_free(input);
    json_object_put(root);
}

/* Large inputs: the parallel path (through its public entry point, so its own segment choice)
 * equals the streaming hash for sizes around segment and chunk boundaries, in all three modes. */
static void test_parallel_equals_streaming(void **state) {
    (void)state;
    static const size_t sizes[] = {
        (4u << 20) - 1, 4u << 20, (4u << 20) + 1, (4u << 20) + 1024, (4u << 20) + 1025,
        (5u << 20) + 7, (9u << 20) + 7777, (33u << 20) + 1,
    };
    size_t max = 33u << 20 | 1;
    uint8_t *data = hz_malloc(max);
    hz_crypto_random(data, max);
    uint8_t key[32];
    hz_crypto_random(key, sizeof(key));
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int mode = 0; mode < 3; mode++) {
            hz_blake3_hasher_t h, m;
            init_mode(&h, mode, key, "hanzo test 2026 parallel");
            init_mode(&m, mode, key, "hanzo test 2026 parallel");
            hz_blake3_update(&h, data, sizes[i] / 3);
            hz_blake3_update(&h, data + sizes[i] / 3, sizes[i] - sizes[i] / 3);
            uint8_t want[100], got[100];
            hz_blake3_final(&h, want, sizeof(want));
            for (int threads = 0; threads <= 4; threads++) {
                if (threads == 1) continue;
                memset(got, 0, sizeof(got));
                hz_blake3_parallel(&m, threads, data, sizes[i], got, sizeof(got));
                if (memcmp(got, want, sizeof(want)) != 0)
                    fail_msg("parallel %s of %zu bytes on %d threads differs", mode_names[mode], sizes[i], threads);
                checked++;
            }
        }
    }
    printf("BLAKE3 parallel == streaming: %zu checks\n", checked);
    assert_int_equal(checked, 8 * 3 * 4);
    hz_free(data);
}

/* hz_blake3_file on a regular file (mapped, parallel) and on a pipe (streamed) give the same
 * hash; missing files give HZ_EIO naming the path. */
static void test_file_and_pipe(void **state) {
    (void)state;
    size_t len = (6u << 20) + 12345;
    uint8_t *data = hz_malloc(len);
    hz_crypto_random(data, len);
    uint8_t want[32], got[32];
    hz_blake3(data, len, want);

    char path[] = "/tmp/hz_b3_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    for (int threads = 0; threads <= 3; threads++) {
        memset(got, 0, sizeof(got));
        assert_int_equal(hz_blake3_file(NULL, threads, path, got, sizeof(got)), 0);
        assert_memory_equal(got, want, 32);
    }
    close(fd);
    unlink(path);

    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        for (size_t off = 0; off < len;) {
            ssize_t n = write(p[1], data + off, len - off < 70000 ? len - off : 70000);
            if (n <= 0) _exit(1);
            off += (size_t)n;
        }
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(hz_blake3_fd(NULL, 2, p[0], got, sizeof(got)), 0);
    close(p[0]);
    assert_memory_equal(got, want, 32);

    /* empty file */
    char epath[] = "/tmp/hz_b3_empty_XXXXXX";
    fd = mkstemp(epath);
    close(fd);
    assert_int_equal(hz_blake3_file(NULL, 2, epath, got, sizeof(got)), 0);
    hz_blake3("", 0, want);
    assert_memory_equal(got, want, 32);
    unlink(epath);

    assert_int_equal(hz_blake3_file(NULL, 2, "/nonexistent/hz-b3", got, sizeof(got)), HZ_EIO);
    assert_string_equal(hz_error_last(), "/nonexistent/hz-b3: No such file or directory");
    hz_free(data);
}

static void test_simd_name(void **state) {
    (void)state;
    const char *s = hz_blake3_simd();
    assert_true(strcmp(s, "avx512") == 0 || strcmp(s, "avx2") == 0 || strcmp(s, "sse4.1") == 0 ||
                strcmp(s, "sse2") == 0 || strcmp(s, "neon") == 0 || strcmp(s, "portable") == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_vectors),
        cmocka_unit_test(test_parallel_equals_streaming),
        cmocka_unit_test(test_file_and_pipe),
        cmocka_unit_test(test_simd_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
