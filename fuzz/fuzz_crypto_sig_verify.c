/*
 * libFuzzer target: ML-DSA signature verification on hostile input. Byte 0 picks the parameter
 * set, byte 1 the mode; short inputs are zero-extended to the sizes a mode needs, so the fuzzer
 * reaches full-size keys and signatures at once.
 *
 *   mode 0  the input is XORed into a valid signature of a fixed message under a fixed key:
 *           mutations explore signature decoding, the hint checks and the norm checks from a
 *           valid starting point. ML-DSA is strongly unforgeable, so the signature may verify
 *           exactly when the difference is all zeros.
 *   mode 1  a raw signature from the input under the fixed key, through one of the four
 *           interfaces (pure with a context, HashML-DSA, internal M', external mu). The fixed
 *           key never signed these messages: nothing may verify.
 *   mode 2  public key and signature both from the input.
 *   mode 3  a signature of arbitrary length: anything but the exact length is HZ_EINVAL.
 * In every mode the result is 0, HZ_ECRYPTO or HZ_EINVAL, and sanitizers see every access.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/crypto.h"

static const uint8_t fixed_msg[] = "hanzo fuzz: fixed message";
static const uint8_t fixed_ctx[] = "fuzz";
static uint8_t fixed_pk[3][2592], valid_sig[3][4627];

static void init_keys(void) {
    static int done;
    if (done) return;
    for (size_t i = 0; i < 3; i++) {
        const hz_sig_t *alg = hz_sig_at(i);
        uint8_t seed[32], *sk = malloc(alg->sk_len);
        memset(seed, (int)i + 1, sizeof(seed));
        hz_sig_opts_t o = {.ctx = fixed_ctx, .ctx_len = sizeof(fixed_ctx) - 1, .deterministic = true};
        if (hz_sig_keypair_derand(alg, fixed_pk[i], sk, seed, sizeof(seed)) != 0 ||
            hz_sig_sign(alg, valid_sig[i], fixed_msg, sizeof(fixed_msg) - 1, sk, alg->sk_len, &o) != 0)
            abort();
        free(sk);
    }
    done = 1;
}

/* The first n bytes of the input, zero-extended; advances the input. */
static void take(uint8_t *out, size_t n, const uint8_t **data, size_t *size) {
    size_t k = *size < n ? *size : n;
    memcpy(out, *data, k);
    memset(out + k, 0, n - k);
    *data += k, *size -= k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_keys();
    if (size < 3) return 0;
    const hz_sig_t *alg = hz_sig_at(data[0] % 3);
    int mode = data[1] % 4, iface = data[2] % 4;
    data += 3, size -= 3;
    size_t idx = (size_t)alg->id - 1;
    static uint8_t pk[2592], sig[4627 + 64];
    memcpy(pk, fixed_pk[idx], alg->pk_len);
    int rc;

    if (mode == 0) {
        uint8_t diff[4627];
        take(diff, alg->sig_len, &data, &size);
        bool zero = true;
        for (size_t i = 0; i < alg->sig_len; i++) {
            sig[i] = valid_sig[idx][i] ^ diff[i];
            zero &= diff[i] == 0;
        }
        hz_sig_opts_t o = {.ctx = fixed_ctx, .ctx_len = sizeof(fixed_ctx) - 1};
        rc = hz_sig_verify(alg, sig, alg->sig_len, fixed_msg, sizeof(fixed_msg) - 1, pk, alg->pk_len, &o);
        if ((rc == 0) != zero) abort();
    } else {
        size_t sig_len = alg->sig_len;
        if (mode == 2) take(pk, alg->pk_len, &data, &size);
        if (mode == 3) {
            uint8_t l[2];
            take(l, 2, &data, &size);
            sig_len = ((size_t)l[0] << 8 | l[1]) % (alg->sig_len + 64);
        }
        take(sig, sig_len, &data, &size);
        const uint8_t *msg = data;
        size_t msg_len = size;
        if (iface == 0) {
            hz_sig_opts_t o = {.ctx = msg, .ctx_len = msg_len < 300 ? msg_len : 300};
            rc = hz_sig_verify(alg, sig, sig_len, msg, msg_len, pk, alg->pk_len, &o);
        } else if (iface == 1) {
            hz_sig_opts_t o = {.prehash = (hz_prehash_t)(1 + msg_len % 12)};
            rc = hz_sig_verify(alg, sig, sig_len, msg, msg_len, pk, alg->pk_len, &o);
        } else if (iface == 2) {
            rc = hz_sig_verify_internal(alg, sig, sig_len, msg, msg_len, pk, alg->pk_len);
        } else {
            uint8_t mu[64];
            take(mu, sizeof(mu), &msg, &msg_len);
            rc = hz_sig_verify_mu(alg, sig, sig_len, mu, pk, alg->pk_len);
        }
        if (mode == 1 && rc == 0) abort();
        if (mode == 3 && (sig_len != alg->sig_len) != (rc == HZ_EINVAL)) abort();
    }
    if (rc != 0 && rc != HZ_ECRYPTO && rc != HZ_EINVAL) abort();
    return 0;
}
