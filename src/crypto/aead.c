/*
 * AEAD: ChaCha20-Poly1305 (IETF, RFC 8439, 96-bit nonce) and XChaCha20-Poly1305 (192-bit
 * nonce, safe to draw at random), both libsodium's combined mode: ciphertext followed by the
 * 16-byte tag. Decryption verifies the tag before releasing any plaintext and zeroes the output
 * when it fails, so a caller that ignores the error still sees nothing forged.
 */
#include "crypto/internal.h"

#include <string.h>

#include <sodium.h>

size_t hz_aead_nonce_len(hz_aead_id_t alg) {
    switch (alg) {
    case HZ_AEAD_CHACHA20_POLY1305: return crypto_aead_chacha20poly1305_ietf_NPUBBYTES;
    case HZ_AEAD_XCHACHA20_POLY1305: return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    }
    return 0;
}

const char *hz_aead_name(hz_aead_id_t alg) {
    switch (alg) {
    case HZ_AEAD_CHACHA20_POLY1305: return "chacha20-poly1305";
    case HZ_AEAD_XCHACHA20_POLY1305: return "xchacha20-poly1305";
    }
    return "unknown";
}

static int check_args(hz_aead_id_t alg, size_t nonce_len) {
    size_t want = hz_aead_nonce_len(alg);
    if (want == 0) return hz_error_set(HZ_EUNSUPPORTED, "unknown AEAD id %d", (int)alg);
    if (nonce_len != want)
        return hz_error_set(HZ_EINVAL, "%s nonce is %zu bytes, expected %zu", hz_aead_name(alg), nonce_len, want);
    return 0;
}

int hz_aead_encrypt(hz_aead_id_t alg, uint8_t *ct, const uint8_t *pt, size_t pt_len,
                    const uint8_t *ad, size_t ad_len, const uint8_t *nonce, size_t nonce_len,
                    const uint8_t key[HZ_AEAD_KEY_LEN]) {
    int rc = check_args(alg, nonce_len);
    if (rc) return rc;
    if (pt_len > SIZE_MAX - HZ_AEAD_TAG_LEN || pt_len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return hz_error_set(HZ_ETOOBIG, "%s plaintext of %zu bytes is too long", hz_aead_name(alg), pt_len);
    hz__crypto_ready();
    unsigned long long clen = 0;
    if (alg == HZ_AEAD_CHACHA20_POLY1305)
        rc = crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, pt, pt_len, ad, ad_len, NULL, nonce, key);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, pt_len, ad, ad_len, NULL, nonce, key);
    if (rc != 0) return hz_error_set(HZ_EINTERNAL, "%s encryption failed", hz_aead_name(alg));
    return 0;
}

int hz_aead_decrypt(hz_aead_id_t alg, uint8_t *pt, const uint8_t *ct, size_t ct_len,
                    const uint8_t *ad, size_t ad_len, const uint8_t *nonce, size_t nonce_len,
                    const uint8_t key[HZ_AEAD_KEY_LEN]) {
    int rc = check_args(alg, nonce_len);
    if (rc) return rc;
    if (ct_len < HZ_AEAD_TAG_LEN)
        return hz_error_set(HZ_EINVAL, "%s ciphertext is %zu bytes, shorter than its %d-byte tag",
                            hz_aead_name(alg), ct_len, HZ_AEAD_TAG_LEN);
    hz__crypto_ready();
    unsigned long long mlen = 0;
    if (alg == HZ_AEAD_CHACHA20_POLY1305)
        rc = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &mlen, NULL, ct, ct_len, ad, ad_len, nonce, key);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen, NULL, ct, ct_len, ad, ad_len, nonce, key);
    if (rc != 0) {
        if (ct_len > HZ_AEAD_TAG_LEN) memset(pt, 0, ct_len - HZ_AEAD_TAG_LEN);
        return hz_error_set(HZ_ECRYPTO, "%s authentication failed: wrong key, nonce or associated "
                            "data, or the ciphertext was modified", hz_aead_name(alg));
    }
    return 0;
}
