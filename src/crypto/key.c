/*
 * hz_key_t: one algorithm-neutral key object for the key files, sealing and the CLI, so they need
 * not carry a KEM/signature switch each. A key always has its public half; the secret half is
 * optional. The key id is BLAKE3 in derive-key mode over (type, algorithm id, public key): it
 * names the pair, and binding the type and algorithm means two algorithms that happened to share
 * public-key bytes would still get different ids.
 *
 * Raw secret keys are trusted only after the public key has been recomputed from them (see
 * hz__key_pk_from_sk): a secret key is then known to be one key generation could have made, and
 * the public key, id and any stored copy of the public key can be checked against it.
 */
#include "crypto/key_internal.h"

#include <string.h>

int hz_key_alg_by_name(const char *name, hz_key_type_t *type, const hz_kem_t **kem, const hz_sig_t **sig) {
    const hz_kem_t *k = NULL;
    const hz_sig_t *s = NULL;
    if (!name) return hz_error_set(HZ_EINVAL, "algorithm name is NULL");
    for (size_t i = 0; hz_kem_at(i); i++)
        if (hz_str_ieq(name, hz_kem_at(i)->name)) k = hz_kem_at(i);
    if (hz_str_ieq(name, "xwing")) k = hz_kem_by_id(HZ_KEM_XWING);
    for (size_t i = 0; hz_sig_at(i); i++)
        if (hz_str_ieq(name, hz_sig_at(i)->name)) s = hz_sig_at(i);
    if (!k && !s) {
        hz_buf_t known = HZ_BUF_INIT;
        for (size_t i = 0; hz_kem_at(i); i++) hz_buf_printf(&known, "%s, ", hz_kem_at(i)->name);
        for (size_t i = 0; hz_sig_at(i); i++) hz_buf_printf(&known, "%s%s", hz_sig_at(i)->name, hz_sig_at(i + 1) ? ", " : "");
        int rc = hz_error_set(HZ_EUNSUPPORTED, "unknown algorithm \"%s\" (known: %s)", name, known.data);
        hz_buf_free(&known);
        return rc;
    }
    if (type) *type = k ? HZ_KEY_KEM : HZ_KEY_SIG;
    if (kem) *kem = k;
    if (sig) *sig = s;
    return 0;
}

int hz__key_alg_id(const hz_key_t *key) {
    return key->type == HZ_KEY_KEM ? (int)key->kem->id : (int)key->sig->id;
}

void hz__key_id(hz_key_type_t type, int alg_id, const uint8_t *pk, size_t pk_len, uint8_t out[HZ_KEY_ID_LEN]) {
    hz_blake3_hasher_t h;
    uint8_t prefix[2] = {(uint8_t)type, (uint8_t)alg_id};
    hz_blake3_init_derive_key(&h, HZ__KEY_ID_CONTEXT);
    hz_blake3_update(&h, prefix, sizeof(prefix));
    hz_blake3_update(&h, pk, pk_len);
    hz_blake3_final(&h, out, HZ_KEY_ID_LEN);
}

hz_key_t *hz__key_new(hz_key_type_t type, const hz_kem_t *kem, const hz_sig_t *sig, const uint8_t *pk,
                      const uint8_t *sk) {
    hz_key_t *key = hz_calloc(1, sizeof(*key));
    key->type = type;
    key->kem = type == HZ_KEY_KEM ? kem : NULL;
    key->sig = type == HZ_KEY_SIG ? sig : NULL;
    key->alg = key->kem ? key->kem->name : key->sig->name;
    key->pk_len = key->kem ? key->kem->pk_len : key->sig->pk_len;
    key->pk = hz_malloc(key->pk_len);
    memcpy(key->pk, pk, key->pk_len);
    if (sk) {
        key->sk_len = key->kem ? key->kem->sk_len : key->sig->sk_len;
        key->sk = hz_malloc(key->sk_len);
        memcpy(key->sk, sk, key->sk_len);
    }
    hz__key_id(type, hz__key_alg_id(key), key->pk, key->pk_len, key->id);
    return key;
}

void hz_key_free(hz_key_t *key) {
    if (!key) return;
    hz_secure_free(key->sk, key->sk_len);
    hz_free(key->pk);
    hz_free(key);
}

void hz_key_id_hex(const hz_key_t *key, char out[2 * HZ_KEY_ID_LEN + 1]) {
    hz_hex_encode(key->id, HZ_KEY_ID_LEN, out);
}

int hz_key_generate(const char *alg, hz_key_t **out) {
    hz_key_type_t type;
    const hz_kem_t *kem;
    const hz_sig_t *sig;
    *out = NULL;
    int rc = hz_key_alg_by_name(alg, &type, &kem, &sig);
    if (rc) return rc;
    size_t pk_len = kem ? kem->pk_len : sig->pk_len, sk_len = kem ? kem->sk_len : sig->sk_len;
    uint8_t *pk = hz_malloc(pk_len), *sk = hz_malloc(sk_len);
    rc = kem ? hz_kem_keypair(kem, pk, sk) : hz_sig_keypair(sig, pk, sk);
    if (rc == 0) *out = hz__key_new(type, kem, sig, pk, sk);
    hz_free(pk);
    hz_secure_free(sk, sk_len);
    return rc;
}

int hz__key_pk_from_sk(hz_key_type_t type, const hz_kem_t *kem, const hz_sig_t *sig, uint8_t *pk,
                       const uint8_t *sk) {
    if (type == HZ_KEY_SIG) {
        int (*derive)(uint8_t *, const uint8_t *) =
            sig->id == HZ_SIG_ML_DSA_44 ? hz__mldsa44_pk_from_sk :
            sig->id == HZ_SIG_ML_DSA_65 ? hz__mldsa65_pk_from_sk : hz__mldsa87_pk_from_sk;
        if (derive(pk, sk) != 0)
            return hz_error_set(HZ_ECRYPTO, "%s secret key is inconsistent: rebuilding it from its s1, s2 "
                                "and rho gives different tr or t0 bytes", sig->name);
        return 0;
    }
    if (kem->id == HZ_KEM_XWING) {
        /* The X-Wing secret key is the seed everything else expands from: every 32 bytes are valid. */
        uint8_t again[32];
        int rc = hz_kem_keypair_derand(kem, pk, again, sk, kem->sk_len);
        hz_secure_zero(again, sizeof(again));
        return rc;
    }
    /* ML-KEM: dk = dk_pke (384k bytes) || ek || H(ek) || z; ek is the public key. */
    int rc = hz_kem_check_sk(kem, sk, kem->sk_len);
    if (rc) return rc;
    size_t k = (kem->pk_len - 32) / 384;
    memcpy(pk, sk + 384 * k, kem->pk_len);
    return hz_kem_check_pk(kem, pk, kem->pk_len);
}

static int from_raw(const char *alg, const uint8_t *bytes, size_t len, bool secret, hz_key_t **out) {
    hz_key_type_t type;
    const hz_kem_t *kem;
    const hz_sig_t *sig;
    *out = NULL;
    int rc = hz_key_alg_by_name(alg, &type, &kem, &sig);
    if (rc) return rc;
    const char *name = kem ? kem->name : sig->name;
    size_t pk_len = kem ? kem->pk_len : sig->pk_len, sk_len = kem ? kem->sk_len : sig->sk_len;
    size_t want = secret ? sk_len : pk_len;
    if (len != want)
        return hz_error_set(HZ_EINVAL, "an %s %s key is %zu bytes, not %zu", name, secret ? "secret" : "public", want, len);
    if (!secret) {
        if (kem && (rc = hz_kem_check_pk(kem, bytes, len)) != 0) return rc;
        *out = hz__key_new(type, kem, sig, bytes, NULL);
        return 0;
    }
    uint8_t *pk = hz_malloc(pk_len);
    rc = hz__key_pk_from_sk(type, kem, sig, pk, bytes);
    if (rc == 0) *out = hz__key_new(type, kem, sig, pk, bytes);
    hz_free(pk);
    return rc;
}

int hz_key_from_public(const char *alg, const uint8_t *pk, size_t pk_len, hz_key_t **out) {
    return from_raw(alg, pk, pk_len, false, out);
}

int hz_key_from_secret(const char *alg, const uint8_t *sk, size_t sk_len, hz_key_t **out) {
    return from_raw(alg, sk, sk_len, true, out);
}

int hz_key_expect(const hz_key_t *key, hz_key_type_t type, const char *alg, bool need_secret) {
    if (!key) return hz_error_set(HZ_EINVAL, "no key");
    const char *want_kind = type == HZ_KEY_KEM ? "a KEM" : "a signature";
    if (key->type != type)
        return hz_error_set(HZ_EINVAL, "the key is an %s %s key; %s key is needed", key->alg,
                            key->type == HZ_KEY_KEM ? "KEM" : "signature", want_kind);
    if (alg) {
        hz_key_type_t t;
        const hz_kem_t *kem;
        const hz_sig_t *sig;
        int rc = hz_key_alg_by_name(alg, &t, &kem, &sig);
        if (rc) return rc;
        const char *want = kem ? kem->name : sig->name;
        if (strcmp(want, key->alg) != 0)
            return hz_error_set(HZ_EINVAL, "the key is an %s key, not an %s key", key->alg, want);
    }
    if (need_secret && !key->sk)
        return hz_error_set(HZ_EINVAL, "the %s key is a public key; its secret key is needed", key->alg);
    return 0;
}
