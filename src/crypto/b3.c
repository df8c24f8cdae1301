/*
 * BLAKE3 through the official C implementation (1.3.1, with its SSE2/SSE4.1/AVX2/AVX-512
 * assembly chosen at run time by blake3_dispatch.c): the streaming hasher and one-shot helpers.
 * The multi-threaded tree hashing is in b3_tree.c, file and descriptor hashing in b3_file.c.
 */
#include "crypto/internal.h"

#include <blake3_impl.h>

void hz_blake3_init(hz_blake3_hasher_t *h) {
    blake3_hasher_init(&h->impl);
}

void hz_blake3_init_keyed(hz_blake3_hasher_t *h, const uint8_t key[HZ_BLAKE3_KEY_LEN]) {
    blake3_hasher_init_keyed(&h->impl, key);
}

void hz_blake3_init_derive_key(hz_blake3_hasher_t *h, const char *context) {
    blake3_hasher_init_derive_key(&h->impl, context);
}

void hz_blake3_update(hz_blake3_hasher_t *h, const void *data, size_t len) {
    blake3_hasher_update(&h->impl, data, len);
}

void hz_blake3_final(const hz_blake3_hasher_t *h, uint8_t *out, size_t out_len) {
    blake3_hasher_finalize(&h->impl, out, out_len);
}

void hz_blake3_final_seek(const hz_blake3_hasher_t *h, uint64_t seek, uint8_t *out, size_t out_len) {
    blake3_hasher_finalize_seek(&h->impl, seek, out, out_len);
}

void hz_blake3_reset(hz_blake3_hasher_t *h) {
    blake3_hasher_reset(&h->impl);
}

void hz_blake3(const void *data, size_t len, uint8_t out[HZ_BLAKE3_LEN]) {
    blake3_hasher h;
    blake3_hasher_init(&h);
    blake3_hasher_update(&h, data, len);
    blake3_hasher_finalize(&h, out, HZ_BLAKE3_LEN);
}

void hz_blake3_hex(const void *data, size_t len, char out[2 * HZ_BLAKE3_LEN + 1]) {
    uint8_t d[HZ_BLAKE3_LEN];
    hz_blake3(data, len, d);
    hz_hex_encode(d, sizeof(d), out);
}

void hz_blake3_keyed(const uint8_t key[HZ_BLAKE3_KEY_LEN], const void *data, size_t len,
                     uint8_t out[HZ_BLAKE3_LEN]) {
    blake3_hasher h;
    blake3_hasher_init_keyed(&h, key);
    blake3_hasher_update(&h, data, len);
    blake3_hasher_finalize(&h, out, HZ_BLAKE3_LEN);
    hz_secure_zero(&h, sizeof(h)); /* holds the key */
}

void hz_blake3_derive_key(const char *context, const void *material, size_t len, uint8_t *out,
                          size_t out_len) {
    blake3_hasher h;
    blake3_hasher_init_derive_key(&h, context);
    blake3_hasher_update(&h, material, len);
    blake3_hasher_finalize(&h, out, out_len);
    hz_secure_zero(&h, sizeof(h));
}

const char *hz_blake3_simd(void) {
    /* blake3_dispatch.c keeps its CPU-feature result private, but its choice is a function of
     * the SIMD degree it reports plus, at degree 4, whether SSE4.1 is present. */
    switch (blake3_simd_degree()) {
    case 16: return "avx512";
    case 8: return "avx2";
    case 4:
#if defined(__x86_64__) || defined(__i386__)
        return __builtin_cpu_supports("sse4.1") ? "sse4.1" : "sse2";
#else
        return "neon";
#endif
    default: return "portable";
    }
}
