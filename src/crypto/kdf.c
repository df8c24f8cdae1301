/*
 * Key derivation: HKDF (RFC 5869) over OpenSSL 3's EVP_KDF, and Argon2id over libsodium's
 * crypto_pwhash for passphrases. Argon2id's memory cost is the point of using it, so its
 * parameters are explicit arguments that key files store next to the salt.
 */
#include "crypto/internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

static const char *hkdf_digest(hz_hkdf_hash_t hash, size_t *len) {
    switch (hash) {
    case HZ_HKDF_SHA256: *len = 32; return "SHA2-256";
    case HZ_HKDF_SHA384: *len = 48; return "SHA2-384";
    }
    return NULL;
}

/* One EVP_KDF "HKDF" call in the given mode. */
static int hkdf_run(hz_hkdf_hash_t hash, int mode, uint8_t *out, size_t out_len, const uint8_t *key,
                    size_t key_len, const uint8_t *salt, size_t salt_len, const uint8_t *info,
                    size_t info_len) {
    size_t hlen;
    const char *digest = hkdf_digest(hash, &hlen);
    if (!digest) return hz_error_set(HZ_EUNSUPPORTED, "unknown HKDF hash %d", (int)hash);
    if (mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY && (out_len == 0 || out_len > 255 * hlen))
        return hz_error_set(HZ_EINVAL, "HKDF-%s output of %zu bytes: must be 1..%zu", digest + 5, out_len, 255 * hlen);

    static const uint8_t empty[1] = {0};
    OSSL_PARAM params[6], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    /* OpenSSL rejects a NULL key; an empty one is legal in RFC 5869 and is passed as such. */
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key_len ? key : empty), key_len);
    if (salt_len) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();

    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok ? 0 : hz_error_set(HZ_EINTERNAL, "OpenSSL HKDF-%s failed", digest + 5);
}

int hz_hkdf(hz_hkdf_hash_t hash, uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
            const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len) {
    return hkdf_run(hash, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, out, out_len, ikm, ikm_len, salt,
                    salt_len, info, info_len);
}

int hz_hkdf_extract(hz_hkdf_hash_t hash, uint8_t *prk, const uint8_t *ikm, size_t ikm_len,
                    const uint8_t *salt, size_t salt_len) {
    size_t hlen;
    if (!hkdf_digest(hash, &hlen)) return hz_error_set(HZ_EUNSUPPORTED, "unknown HKDF hash %d", (int)hash);
    return hkdf_run(hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, prk, hlen, ikm, ikm_len, salt, salt_len, NULL, 0);
}

int hz_hkdf_expand(hz_hkdf_hash_t hash, uint8_t *out, size_t out_len, const uint8_t *prk,
                   size_t prk_len, const uint8_t *info, size_t info_len) {
    size_t hlen;
    if (!hkdf_digest(hash, &hlen)) return hz_error_set(HZ_EUNSUPPORTED, "unknown HKDF hash %d", (int)hash);
    if (prk_len < hlen)
        return hz_error_set(HZ_EINVAL, "HKDF PRK is %zu bytes, at least %zu required", prk_len, hlen);
    return hkdf_run(hash, EVP_KDF_HKDF_MODE_EXPAND_ONLY, out, out_len, prk, prk_len, NULL, 0, info, info_len);
}

int hz_argon2id(uint8_t *out, size_t out_len, const char *pass, size_t pass_len,
                const uint8_t salt[HZ_ARGON2ID_SALT_LEN], uint64_t ops, size_t mem) {
    if (out_len < crypto_pwhash_BYTES_MIN || out_len > 1024)
        return hz_error_set(HZ_EINVAL, "Argon2id output of %zu bytes: must be %u..1024", out_len,
                            (unsigned)crypto_pwhash_BYTES_MIN);
    if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > crypto_pwhash_argon2id_OPSLIMIT_MAX)
        return hz_error_set(HZ_EINVAL, "Argon2id ops (passes) %llu: must be %u..%u", (unsigned long long)ops,
                            (unsigned)crypto_pwhash_argon2id_OPSLIMIT_MIN, (unsigned)crypto_pwhash_argon2id_OPSLIMIT_MAX);
    if (mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > crypto_pwhash_argon2id_MEMLIMIT_MAX)
        return hz_error_set(HZ_EINVAL, "Argon2id memory %zu bytes: must be %zu..%zu", mem,
                            (size_t)crypto_pwhash_argon2id_MEMLIMIT_MIN, (size_t)crypto_pwhash_argon2id_MEMLIMIT_MAX);
    if (pass_len > crypto_pwhash_PASSWD_MAX) return hz_error_set(HZ_EINVAL, "passphrase too long");
    hz__crypto_ready();
    if (crypto_pwhash(out, out_len, pass, pass_len, salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return hz_error_set(HZ_ENOMEM, "Argon2id could not allocate %zu bytes", mem);
    return 0;
}
