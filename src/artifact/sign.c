/*
 * Signatures. HIP-0024 names the signatures/ folder and defines nothing in it; this is our
 * definition (docs/formats/ai.md, "Signatures", version 1).
 *
 * Each signer adds one entry, signatures/<key-id>.sig, a JSON object that carries the algorithm,
 * the public key, the time, the three hashes it binds and the ML-DSA signature. The signed message
 * is built from those values, never taken from the file, and is domain-separated twice: it starts
 * with the ASCII tag "hanzo.ai-signature", a zero byte and the signature version, and ML-DSA's
 * FIPS 204 context string is "hanzo.ai artifact v1", so the bytes cannot be replayed as a signature
 * over anything else this project (or anyone using ML-DSA contexts) signs:
 *
 *   "hanzo.ai-signature" 0x00 | u32le 1 | u8 len | algorithm name | content hash (32) |
 *   BLAKE3(manifest.json bytes) (32) | BLAKE3(metadata.json bytes) (32) | u64le signed_at ms
 *
 * The content hash covers every data byte (and the paths); the manifest hash adds each file's size
 * and BLAKE3, removing any ambiguity in how the content-hash stream splits into files; the
 * metadata hash binds name, type, licence and the rest exactly as stored. Signatures are outside
 * the content hash (they cannot sign themselves), so adding one never changes an artifact's
 * identity, and several signers can sign the same artifact independently.
 */
#include "artifact/internal.h"

#include <string.h>
#include <time.h>

#define SIG_TAG "hanzo.ai-signature"
#define SIG_FORMAT "hanzo.ai-signature"

static void put_le(hz_buf_t *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) hz_buf_putc(b, (char)(v >> (8 * i)));
}

static void build_message(hz_buf_t *m, const hz_sig_t *alg, const uint8_t content[32], const uint8_t manifest[32],
                          const uint8_t metadata[32], int64_t signed_at_ms) {
    hz_buf_append(m, SIG_TAG, sizeof(SIG_TAG)); /* includes the terminating zero byte */
    put_le(m, HZ_AI_SIG_VERSION, 4);
    size_t nlen = strlen(alg->name);
    hz_buf_putc(m, (char)nlen);
    hz_buf_append(m, alg->name, nlen);
    hz_buf_append(m, content, 32);
    hz_buf_append(m, manifest, 32);
    hz_buf_append(m, metadata, 32);
    put_le(m, (uint64_t)signed_at_ms, 8);
}

static const hz_sig_opts_t sig_opts = {.ctx = (const uint8_t *)AI_SIG_CONTEXT, .ctx_len = sizeof(AI_SIG_CONTEXT) - 1};

static void hex_add(json_object *o, const char *key, const uint8_t *p, size_t n) {
    char *hex = hz_malloc(2 * n + 1);
    hz_hex_encode(p, n, hex);
    json_object_object_add(o, key, json_object_new_string(hex));
    hz_free(hex);
}

int ai_sig_make(const hz_key_t *key, const uint8_t content_hash[32], const char *manifest, size_t manifest_len,
                const char *metadata, size_t metadata_len, int64_t now_ms, hz_buf_t *out, char key_id[HZ_AI_KEY_ID_LEN + 1]) {
    int krc = hz_key_expect(key, HZ_KEY_SIG, NULL, true);
    if (krc) return hz_error_wrap(krc, "signing key");
    const hz_sig_t *alg = key->sig;
    uint8_t mh[32], dh[32];
    hz_blake3(manifest, manifest_len, mh);
    hz_blake3(metadata, metadata_len, dh);
    hz_buf_t msg = HZ_BUF_INIT;
    build_message(&msg, alg, content_hash, mh, dh, now_ms);
    uint8_t *sig = hz_malloc(alg->sig_len);
    int rc = hz_sig_sign(alg, sig, (const uint8_t *)msg.data, msg.len, key->sk, key->sk_len, &sig_opts);
    hz_buf_free(&msg);
    if (rc) { hz_free(sig); return hz_error_wrap(rc, "signing with %s", alg->name); }
    /* Sign-then-verify: a corrupted key or a fault must not produce an archive that cannot verify. */
    hz_buf_t check = HZ_BUF_INIT;
    build_message(&check, alg, content_hash, mh, dh, now_ms);
    rc = hz_sig_verify(alg, sig, alg->sig_len, (const uint8_t *)check.data, check.len, key->pk, key->pk_len, &sig_opts);
    hz_buf_free(&check);
    if (rc) { hz_free(sig); return hz_error_set(HZ_ECRYPTO, "the signature does not verify under the given public key: wrong key pair?"); }

    hz_key_id_hex(key, key_id);
    char ts[32];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "format", json_object_new_string(SIG_FORMAT));
    json_object_object_add(o, "version", json_object_new_int(HZ_AI_SIG_VERSION));
    json_object_object_add(o, "algorithm", json_object_new_string(alg->name));
    json_object_object_add(o, "key_id", json_object_new_string(key_id));
    hex_add(o, "public_key", key->pk, key->pk_len);
    json_object_object_add(o, "signed_at", json_object_new_string(hz_time_format_rfc3339(now_ms, ts)));
    hex_add(o, "content_hash", content_hash, 32);
    hex_add(o, "manifest_blake3", mh, 32);
    hex_add(o, "metadata_blake3", dh, 32);
    hex_add(o, "signature", sig, alg->sig_len);
    ai_json_pretty(out, o);
    hz_buf_putc(out, '\n');
    json_object_put(o);
    hz_free(sig);
    return 0;
}

static int sig_bad(const ai_sigentry_t *s, const char *msg) {
    return ai_fail(HZ_AI_ERR_SIGNATURE, HZ_EPARSE, "%s: %s", s->entry ? s->entry->name : "signature", msg);
}

static int get_hex(ai_sigentry_t *s, const char *key, uint8_t *out, size_t n) {
    json_object *v;
    if (!json_object_object_get_ex(s->json, key, &v) || !json_object_is_type(v, json_type_string) ||
        (size_t)json_object_get_string_len(v) != 2 * n || hz_hex_decode(json_object_get_string(v), out, n) != 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s: expected %zu bytes of hex", key, n);
        return sig_bad(s, msg);
    }
    return 0;
}

int ai_sig_parse(ai_sigentry_t *s, const char *text, size_t len) {
    if (hz_json_parse(text, len, &s->json) != 0 || !s->json || !json_object_is_type(s->json, json_type_object)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "not a JSON object: %s", hz_error_last());
        return sig_bad(s, msg);
    }
    json_object *v;
    if (!json_object_object_get_ex(s->json, "format", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), SIG_FORMAT) != 0)
        return sig_bad(s, "format: expected \"" SIG_FORMAT "\"");
    uint64_t version;
    if (!json_object_object_get_ex(s->json, "version", &v) || !ai_json_uint(v, UINT32_MAX, &version) || version == 0)
        return sig_bad(s, "version: expected a positive integer");
    if (version > HZ_AI_SIG_VERSION)
        return ai_fail(HZ_AI_ERR_VERSION, HZ_EVERSION, "%s: signature version %llu is newer than this reader (%d)",
                       s->entry ? s->entry->name : "signature",
                       (unsigned long long)version, HZ_AI_SIG_VERSION);
    if (!json_object_object_get_ex(s->json, "algorithm", &v) || !json_object_is_type(v, json_type_string))
        return sig_bad(s, "algorithm: expected a string");
    s->alg = hz_sig_by_name(json_object_get_string(v));
    if (!s->alg) return sig_bad(s, "algorithm: not an ML-DSA parameter set (ml-dsa-44, ml-dsa-65, ml-dsa-87)");
    snprintf(s->signer.algorithm, sizeof(s->signer.algorithm), "%s", s->alg->name);
    uint8_t *pk = hz_malloc(s->alg->pk_len);
    int rc = get_hex(s, "public_key", pk, s->alg->pk_len);
    if (!rc && hz_key_from_public(s->alg->name, pk, s->alg->pk_len, &s->key) != 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "public_key: %s", hz_error_last());
        rc = sig_bad(s, msg);
    }
    hz_free(pk);
    if (rc) return rc;
    s->sig_len = s->alg->sig_len;
    s->sig = hz_malloc(s->sig_len);
    if ((rc = get_hex(s, "signature", s->sig, s->sig_len)) ||
        (rc = get_hex(s, "content_hash", s->content_hash, 32)) || (rc = get_hex(s, "manifest_blake3", s->manifest_b3, 32)) ||
        (rc = get_hex(s, "metadata_blake3", s->metadata_b3, 32)))
        return rc;
    if (!json_object_object_get_ex(s->json, "signed_at", &v) || !json_object_is_type(v, json_type_string) ||
        hz_time_parse_rfc3339(json_object_get_string(v), &s->signer.signed_at_ms) != 0)
        return sig_bad(s, "signed_at: expected an RFC 3339 timestamp");
    hz_key_id_hex(s->key, s->signer.key_id);
    if (!json_object_object_get_ex(s->json, "key_id", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), s->signer.key_id) != 0)
        return sig_bad(s, "key_id does not match the public key");
    if (s->entry && strncmp(s->entry->name + strlen(AI_SIG_DIR), s->signer.key_id, HZ_AI_KEY_ID_LEN) != 0)
        return sig_bad(s, "entry name does not match the key id of its public key");
    return 0;
}

void ai_sig_free(ai_sigentry_t *s) {
    json_object_put(s->json);
    hz_key_free(s->key);
    hz_free(s->sig);
    memset(s, 0, sizeof(*s));
}

int ai_sigs_verify(ai_reader_t *r, const uint8_t content_hash[32], const hz_ai_read_opts_t *opts, hz_ai_info_t *info) {
    uint8_t mh[32], dh[32];
    hz_blake3(r->manifest_text, r->manifest_len, mh);
    hz_blake3(r->metadata_text, r->metadata_len, dh);
    size_t trusted = 0;
    for (size_t i = 0; i < r->nsigs; i++) {
        ai_sigentry_t *s = &r->sigs[i];
        if (memcmp(s->content_hash, content_hash, 32) != 0) return sig_bad(s, "signs a different content hash");
        if (memcmp(s->manifest_b3, mh, 32) != 0) return sig_bad(s, "signs a different manifest.json");
        if (memcmp(s->metadata_b3, dh, 32) != 0) return sig_bad(s, "signs a different metadata.json");
        hz_buf_t msg = HZ_BUF_INIT;
        build_message(&msg, s->alg, content_hash, mh, dh, s->signer.signed_at_ms);
        int rc = hz_sig_verify(s->alg, s->sig, s->sig_len, (const uint8_t *)msg.data, msg.len, s->key->pk, s->key->pk_len, &sig_opts);
        hz_buf_free(&msg);
        if (rc) return ai_fail(HZ_AI_ERR_SIGNATURE, HZ_ECRYPTO, "%s: the %s signature by key %s does not verify", s->entry->name,
                               s->alg->name, s->signer.key_id);
        s->signer.checked = true;
        for (size_t k = 0; opts && k < opts->ntrusted; k++) {
            const hz_key_t *t = opts->trusted[k];
            if (t && t->sig == s->alg && t->pk_len == s->key->pk_len && memcmp(t->pk, s->key->pk, t->pk_len) == 0) {
                s->signer.trusted = true;
                trusted++;
                break;
            }
        }
        if (info) info->signers[i] = s->signer;
    }
    if (opts && opts->ntrusted > 0 && trusted == 0) {
        if (r->nsigs == 0) return ai_fail(HZ_AI_ERR_UNTRUSTED, HZ_EAUTH, "the artifact is not signed, and a trusted signature is required");
        hz_buf_t ids = HZ_BUF_INIT;
        for (size_t i = 0; i < r->nsigs; i++) hz_buf_printf(&ids, "%s%s", i ? ", " : "", r->sigs[i].signer.key_id);
        int rc = ai_fail(HZ_AI_ERR_UNTRUSTED, HZ_EAUTH, "none of the %zu valid signatures (keys %s) is by a trusted key", r->nsigs, ids.data);
        hz_buf_free(&ids);
        return rc;
    }
    return 0;
}
