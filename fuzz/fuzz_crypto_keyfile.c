/*
 * libFuzzer target: key files (hz_key_decode). Byte 0 picks how the rest is used:
 *
 *   0  the bytes are a key file. Passphrase "fuzz", Argon2id capped at 1 pass and 64 KiB so no
 *      input can make the target slow.
 *   1  the bytes are the body of a key file: the harness wraps them in a well-formed armor with
 *      the right checksum, Key-Id (computed from where the public key would be) and Encryption
 *      header (byte 1 picks the title), so the fuzzer gets past the checksum to the body checks,
 *      the decryption and the key-pair checks that random text never reaches.
 *   2  a genuine file (one of three made at start-up: public, secret, encrypted secret) with the
 *      bytes XORed in at an offset: any change must be rejected (the format has one spelling per
 *      content, and the checksum covers the rest).
 *
 * Always: the return code is one of those hz_key_decode documents, a failure leaves *out NULL
 * with a message, and a success re-encodes to a file that decodes to the same key with the id
 * recomputed from its public key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/armor.h"
#include "crypto/key_internal.h"
#include "hanzo/crypto.h"

static const char *const algs[] = {"ml-kem-512", "ml-kem-768", "ml-kem-1024", "x-wing",
                                   "ml-dsa-44", "ml-dsa-65", "ml-dsa-87"};
static const hz_key_read_opts_t read_opts = {"fuzz", 4, false, 1, 64 * 1024};

static hz_buf_t genuine[3];

static void init(void) {
    static int done;
    if (done) return;
    done = 1;
    const char *which[3] = {"ml-kem-512", "ml-dsa-44", "x-wing"};
    for (int i = 0; i < 3; i++) {
        hz_key_t *k;
        if (hz_key_generate(which[i], &k) != 0) abort();
        hz_key_write_opts_t wo = {i == 2 ? "fuzz" : NULL, 4, 1, 8192, false};
        if (hz_key_encode(k, i > 0, &wo, &genuine[i]) != 0) abort();
        hz_key_free(k);
    }
}

static void check_result(int rc, hz_key_t *k) {
    if (rc != 0) {
        if (k) abort();
        if (rc != HZ_EPARSE && rc != HZ_ECRYPTO && rc != HZ_EVERSION && rc != HZ_EUNSUPPORTED && rc != HZ_EAUTH &&
            rc != HZ_ETOOBIG && rc != HZ_EINVAL)
            abort();
        if (!hz_error_last()[0]) abort();
        return;
    }
    uint8_t id[HZ_KEY_ID_LEN];
    hz__key_id(k->type, hz__key_alg_id(k), k->pk, k->pk_len, id);
    if (memcmp(id, k->id, sizeof(id)) != 0) abort();
    for (int secret = 0; secret <= (k->sk != NULL); secret++) {
        hz_buf_t again = HZ_BUF_INIT;
        hz_key_t *k2 = NULL;
        if (hz_key_encode(k, secret, NULL, &again) != 0) abort();
        if (hz_key_decode(again.data, again.len, &read_opts, &k2) != 0) abort();
        if (k2->pk_len != k->pk_len || memcmp(k2->pk, k->pk, k->pk_len) != 0) abort();
        if (secret && (k2->sk_len != k->sk_len || memcmp(k2->sk, k->sk, k->sk_len) != 0)) abort();
        hz_key_free(k2);
        hz_buf_free(&again);
    }
    hz_key_free(k);
}

/* Mode 1: armor around a fuzzed body. */
static void body_mode(const uint8_t *data, size_t size) {
    if (size < 1) return;
    size_t a = data[0] % 7;
    bool secret = data[0] & 0x80;
    data++, size--;
    hz_key_type_t type;
    const hz_kem_t *kem;
    const hz_sig_t *sig;
    if (hz_key_alg_by_name(algs[a], &type, &kem, &sig) != 0) abort();
    size_t pk_len = kem ? kem->pk_len : sig->pk_len;
    hz__armor_header_t h[3];
    memset(h, 0, sizeof(h));
    strcpy(h[0].name, "Version");
    strcpy(h[0].value, "1");
    strcpy(h[1].name, "Key-Id");
    uint8_t id[HZ_KEY_ID_LEN] = {0};
    if (size >= 4 + pk_len) hz__key_id(type, kem ? (int)kem->id : (int)sig->id, data + 4, pk_len, id);
    hz_hex_encode(id, sizeof(id), h[1].value);
    strcpy(h[2].name, "Encryption");
    strcpy(h[2].value, size > 4 + pk_len && data[4 + pk_len] == 1 ? "argon2id-xchacha20poly1305" : "none");
    char title[64];
    size_t n = 0;
    for (const char *p = algs[a]; *p; p++) title[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    strcpy(title + n, secret ? " SECRET KEY" : " PUBLIC KEY");
    hz_buf_t text = HZ_BUF_INIT;
    hz__armor_write(&text, title, h, secret ? 3 : 2, data, size);
    hz_key_t *k = (hz_key_t *)1;
    int rc = hz_key_decode(text.data, text.len, &read_opts, &k);
    check_result(rc, k);
    /* the armor itself is right, so only the body can be wrong */
    if (rc == HZ_ECRYPTO && strstr(hz_error_last(), "checksum")) abort();
    hz_buf_free(&text);
}

/* Mode 2: a genuine file, XORed. */
static void xor_mode(const uint8_t *data, size_t size) {
    if (size < 3) return;
    const hz_buf_t *g = &genuine[data[0] % 3];
    size_t len = g->len - 1; /* the final newline may go: it is not content */
    size_t off = ((size_t)data[1] << 8 | data[2]) % len;
    data += 3, size -= 3;
    char *copy = malloc(len);
    memcpy(copy, g->data, len);
    bool changed = false;
    for (size_t i = 0; i < size && off + i < len; i++) {
        copy[off + i] ^= (char)data[i];
        changed |= data[i] != 0;
    }
    hz_key_t *k = (hz_key_t *)1;
    int rc = hz_key_decode(copy, len, &read_opts, &k);
    if (changed && rc == 0) abort();
    if (!changed && rc != 0) abort();
    check_result(rc, k);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0: {
        hz_key_t *k = (hz_key_t *)1;
        int rc = hz_key_decode((const char *)data + 1, size - 1, &read_opts, &k);
        check_result(rc, k);
        break;
    }
    case 1: body_mode(data + 1, size - 1); break;
    case 2: xor_mode(data + 1, size - 1); break;
    }
    return 0;
}
