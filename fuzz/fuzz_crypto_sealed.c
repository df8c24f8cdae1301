/*
 * libFuzzer target: sealed data (hz_open). Byte 0 picks how the rest is used; keys are derived
 * from fixed seeds, so the seeds in fuzz/corpus/crypto_sealed/ stay valid across runs.
 *
 *   0  the bytes (after a key selector) are a sealed file, opened with an X-Wing or an ML-KEM-512
 *      key. A success is only possible for a file this harness's keys and encapsulation seed made
 *      (the corpus has some), so sealing the plaintext again with that seed and the file's chunk
 *      size must give back the input exactly. A failure leaves the output buffer unchanged.
 *   1  the harness seals the bytes itself (1 KiB chunks), then applies a truncation and an XOR
 *      taken from the input: hz_open must succeed, with the same plaintext, exactly when neither
 *      changed anything.
 *
 * Return codes must be among those hz_open documents, always with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/crypto.h"

static hz_key_t *keys[2];
static uint8_t encaps_seed[64];

static void init(void) {
    if (keys[0]) return;
    const char *algs[2] = {"x-wing", "ml-kem-512"};
    for (int i = 0; i < 2; i++) {
        const hz_kem_t *kem = hz_kem_by_name(algs[i]);
        uint8_t seed[64], pk[1600], sk[3200];
        memset(seed, 0x5a + i, sizeof(seed));
        if (hz_kem_keypair_derand(kem, pk, sk, seed, kem->keygen_seed_len) != 0) abort();
        if (hz_key_from_secret(algs[i], sk, kem->sk_len, &keys[i]) != 0) abort();
    }
    memset(encaps_seed, 0xa5, sizeof(encaps_seed));
}

static void check_code(int rc) {
    if (rc != HZ_EPARSE && rc != HZ_EVERSION && rc != HZ_EUNSUPPORTED && rc != HZ_EAUTH && rc != HZ_ECRYPTO) abort();
    if (!hz_error_last()[0]) abort();
}

static void seal_fixed(const hz_key_t *k, size_t chunk, const void *pt, size_t len, hz_buf_t *out) {
    hz_seal_opts_t o = {chunk, encaps_seed, k->kem->encaps_seed_len};
    if (hz_seal_buf(k, &o, pt, len, out) != 0) abort();
}

static void open_mode(const uint8_t *data, size_t size) {
    if (size < 1) return;
    const hz_key_t *k = keys[data[0] & 1];
    data++, size--;
    hz_buf_t out = HZ_BUF_INIT;
    hz_buf_append(&out, "prefix", 6);
    int rc = hz_open_buf(k, data, size, &out);
    if (rc != 0) {
        check_code(rc);
        if (out.len != 6 || memcmp(out.data, "prefix", 6) != 0) abort();
    } else {
        hz_buf_t again = HZ_BUF_INIT;
        seal_fixed(k, (size_t)1 << data[8], out.data + 6, out.len - 6, &again);
        if (again.len != size || memcmp(again.data, data, size) != 0) abort();
        hz_buf_free(&again);
    }
    hz_buf_free(&out);
}

static void tamper_mode(const uint8_t *data, size_t size) {
    if (size < 6) return;
    const hz_key_t *k = keys[data[0] & 1];
    size_t cut = (size_t)data[1] << 8 | data[2]; /* 0xffff: no truncation */
    size_t off = (size_t)data[3] << 8 | data[4];
    uint8_t x = data[5];
    data += 6, size -= 6;
    hz_buf_t sealed = HZ_BUF_INIT, out = HZ_BUF_INIT;
    seal_fixed(k, 1024, data, size, &sealed);
    bool changed = false;
    if (cut != 0xffff && cut < sealed.len) {
        sealed.len = cut;
        changed = true;
    }
    if (x && sealed.len) {
        sealed.data[off % sealed.len] ^= (char)x;
        changed = true;
    }
    int rc = hz_open_buf(k, sealed.data, sealed.len, &out);
    if (changed) {
        if (rc == 0) abort();
        check_code(rc);
        if (out.len != 0) abort();
    } else if (rc != 0 || out.len != size || (size && memcmp(out.data, data, size) != 0)) {
        abort();
    }
    hz_buf_free(&sealed);
    hz_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size < 1) return 0;
    if (data[0] & 1) tamper_mode(data + 1, size - 1);
    else open_mode(data + 1, size - 1);
    return 0;
}
