/*
 * Key files: what the armor (armor.c) of a key carries, version 1. docs/formats/keys.md is the
 * byte-by-byte reference; in short, the title is "<ALGORITHM> PUBLIC KEY" or "<ALGORITHM> SECRET
 * KEY", the headers are Version, Key-Id and (secret files) Encryption, and the body is
 *
 *   version (1) | kind (1 public, 2 secret) | type (1 KEM, 2 signature) | algorithm id | pk
 *   secret files add: encryption (0 none, 1 argon2id-xchacha20poly1305) and then either sk, or
 *   Argon2id passes (u32 LE) | memory KiB (u32 LE) | salt (16) | nonce (24) | sk sealed (+16)
 *
 * Everything the headers say is also in the body, and both must agree: the headers are there
 * for people, the body for programs. An encrypted secret key is XChaCha20-Poly1305 under an
 * Argon2id key from the passphrase, with every body byte before the ciphertext as associated
 * data, so the public key, the algorithm and the Argon2id costs are bound to it too.
 *
 * The order of checks decides which error a damaged file gets. The armor and its checksum come
 * first (any accidental change is found there, whatever the version), then the version, then
 * the meaning. So "wrong passphrase" is only ever said of a file that is intact, and a secret
 * key is only accepted once the public key recomputed from it equals the stored one.
 */
#include "crypto/armor.h"
#include "crypto/key_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KIND_PUBLIC = 1, KIND_SECRET = 2 };
enum { ENC_NONE = 0, ENC_ARGON2ID_XCHACHA = 1 };
#define ENC_NONE_NAME "none"
#define ENC_ARGON_NAME "argon2id-xchacha20poly1305"
#define NONCE_LEN 24
#define PARAMS_LEN (4 + 4 + HZ_ARGON2ID_SALT_LEN + NONCE_LEN)

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void upper(char *dst, const char *src, size_t cap) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 32) : src[i];
    dst[i] = '\0';
}

static size_t sk_len_of(const hz_key_t *key) {
    return key->kem ? key->kem->sk_len : key->sig->sk_len;
}

static int argon2_limits(uint64_t ops, uint64_t mem, uint64_t ops_max, uint64_t mem_max, const char *whose) {
    if (ops < 1 || mem < 8192 || mem % 1024 != 0)
        return hz_error_set(HZ_EINVAL, "%s Argon2id costs (%llu passes, %llu bytes) are invalid: at least 1 pass "
                            "and 8 KiB, in whole KiB", whose, (unsigned long long)ops, (unsigned long long)mem);
    if (ops > ops_max)
        return hz_error_set(HZ_ETOOBIG, "%s Argon2id asks for %llu passes; the limit is %llu", whose,
                            (unsigned long long)ops, (unsigned long long)ops_max);
    if (mem > mem_max)
        return hz_error_set(HZ_ETOOBIG, "%s Argon2id asks for %llu KiB of memory; the limit is %llu KiB", whose,
                            (unsigned long long)(mem >> 10), (unsigned long long)(mem_max >> 10));
    return 0;
}

int hz_key_encode(const hz_key_t *key, bool secret, const hz_key_write_opts_t *opts, hz_buf_t *out) {
    if (!key || !out) return hz_error_set(HZ_EINVAL, "hz_key_encode: key and out are required");
    if (secret && !key->sk) return hz_error_set(HZ_EINVAL, "the %s key has no secret half to write", key->alg);
    const char *pass = secret && opts ? opts->passphrase : NULL;
    uint64_t ops = 0;
    size_t mem = 0;
    if (pass) {
        if (opts->passphrase_len == 0) return hz_error_set(HZ_EINVAL, "the passphrase is empty");
        ops = opts->argon2_ops ? opts->argon2_ops : HZ_ARGON2ID_OPS_DEFAULT;
        mem = opts->argon2_mem ? opts->argon2_mem : HZ_ARGON2ID_MEM_DEFAULT;
        int rc = argon2_limits(ops, mem, HZ_KEYFILE_ARGON2_OPS_MAX, HZ_KEYFILE_ARGON2_MEM_MAX, "the requested");
        if (rc) return rc;
    }
    size_t sk_len = sk_len_of(key);
    size_t body_len = 4 + key->pk_len + (secret ? 1 + (pass ? PARAMS_LEN + sk_len + HZ_AEAD_TAG_LEN : sk_len) : 0);
    uint8_t *body = hz_malloc(body_len);
    body[0] = HZ_KEYFILE_VERSION;
    body[1] = secret ? KIND_SECRET : KIND_PUBLIC;
    body[2] = (uint8_t)key->type;
    body[3] = (uint8_t)hz__key_alg_id(key);
    memcpy(body + 4, key->pk, key->pk_len);
    size_t at = 4 + key->pk_len;
    int rc = 0;
    if (secret) {
        body[at++] = pass ? ENC_ARGON2ID_XCHACHA : ENC_NONE;
        if (pass) {
            put_le32(body + at, (uint32_t)ops);
            put_le32(body + at + 4, (uint32_t)(mem / 1024));
            uint8_t *salt = body + at + 8, *nonce = salt + HZ_ARGON2ID_SALT_LEN;
            hz_crypto_random(salt, HZ_ARGON2ID_SALT_LEN);
            hz_crypto_random(nonce, NONCE_LEN);
            at += PARAMS_LEN;
            uint8_t kek[HZ_AEAD_KEY_LEN];
            rc = hz_argon2id(kek, sizeof(kek), pass, opts->passphrase_len, salt, ops, mem);
            if (rc == 0)
                rc = hz_aead_encrypt(HZ_AEAD_XCHACHA20_POLY1305, body + at, key->sk, sk_len, body, at, nonce,
                                     NONCE_LEN, kek);
            hz_secure_zero(kek, sizeof(kek));
        } else {
            memcpy(body + at, key->sk, sk_len);
        }
    }
    if (rc == 0) {
        hz__armor_header_t h[3];
        memset(h, 0, sizeof(h));
        snprintf(h[0].name, sizeof(h[0].name), "Version");
        snprintf(h[0].value, sizeof(h[0].value), "%d", HZ_KEYFILE_VERSION);
        snprintf(h[1].name, sizeof(h[1].name), "Key-Id");
        hz_key_id_hex(key, h[1].value);
        snprintf(h[2].name, sizeof(h[2].name), "Encryption");
        snprintf(h[2].value, sizeof(h[2].value), "%s", pass ? ENC_ARGON_NAME : ENC_NONE_NAME);
        char alg[32], title[HZ__ARMOR_TITLE_MAX + 1];
        upper(alg, key->alg, sizeof(alg));
        snprintf(title, sizeof(title), "%s %s KEY", alg, secret ? "SECRET" : "PUBLIC");
        hz__armor_write(out, title, h, secret ? 3 : 2, body, body_len);
    }
    hz_secure_free(body, body_len);
    return rc;
}

/* Title "<ALG> PUBLIC KEY" / "<ALG> SECRET KEY" -> algorithm and kind. */
static int parse_title(const char *title, int *kind, hz_key_type_t *type, const hz_kem_t **kem, const hz_sig_t **sig) {
    size_t n = strlen(title);
    const char *pub = " PUBLIC KEY", *sec = " SECRET KEY";
    if (n > strlen(pub) && strcmp(title + n - strlen(pub), pub) == 0) *kind = KIND_PUBLIC;
    else if (n > strlen(sec) && strcmp(title + n - strlen(sec), sec) == 0) *kind = KIND_SECRET;
    else return hz_error_set(HZ_EPARSE, "line 1: \"%s\" is not a key: the BEGIN line must name \"<ALGORITHM> "
                             "PUBLIC KEY\" or \"<ALGORITHM> SECRET KEY\"", title);
    char alg[HZ__ARMOR_TITLE_MAX + 1];
    size_t alen = n - strlen(pub);
    memcpy(alg, title, alen);
    alg[alen] = '\0';
    if (hz_key_alg_by_name(alg, type, kem, sig) != 0)
        return hz_error_wrap(HZ_EUNSUPPORTED, "line 1");
    char canon[32];
    upper(canon, *kem ? (*kem)->name : (*sig)->name, sizeof(canon));
    if (strcmp(canon, alg) != 0)
        return hz_error_set(HZ_EPARSE, "line 1: the algorithm is written \"%s\" in key files, not \"%s\"", canon, alg);
    return 0;
}

static int check_headers(const hz__armor_t *a, int kind, int *enc) {
    static const char *const want[] = {"Version", "Key-Id", "Encryption"};
    size_t nwant = kind == KIND_SECRET ? 3 : 2;
    for (size_t i = 0; i < a->nheaders || i < nwant; i++) {
        if (i >= a->nheaders)
            return hz_error_set(HZ_EPARSE, "line %zu: header \"%s\" is missing", a->body_line - 1, want[i]);
        const hz__armor_header_t *h = &a->headers[i];
        if (i >= nwant)
            return hz_error_set(HZ_EPARSE, "line %zu: unexpected header \"%s\" in a version 1 %s key file", h->line,
                                h->name, kind == KIND_SECRET ? "secret" : "public");
        if (strcmp(h->name, want[i]) != 0)
            return hz_error_set(HZ_EPARSE, "line %zu: expected header \"%s\", found \"%s\"", h->line, want[i], h->name);
    }
    const hz__armor_header_t *id = &a->headers[1];
    bool hex = strlen(id->value) == 2 * HZ_KEY_ID_LEN;
    for (size_t i = 0; hex && id->value[i]; i++)
        hex = (id->value[i] >= '0' && id->value[i] <= '9') || (id->value[i] >= 'a' && id->value[i] <= 'f');
    if (!hex) return hz_error_set(HZ_EPARSE, "line %zu: Key-Id must be %d lowercase hex digits", id->line, 2 * HZ_KEY_ID_LEN);
    *enc = ENC_NONE;
    if (kind == KIND_SECRET) {
        const hz__armor_header_t *e = &a->headers[2];
        if (strcmp(e->value, ENC_ARGON_NAME) == 0) *enc = ENC_ARGON2ID_XCHACHA;
        else if (strcmp(e->value, ENC_NONE_NAME) != 0)
            return hz_error_set(HZ_EUNSUPPORTED, "line %zu: unknown encryption \"%s\" (known: %s, %s)", e->line, e->value,
                                ENC_NONE_NAME, ENC_ARGON_NAME);
    }
    return 0;
}

/* Decrypt the sealed secret key at b + at (PARAMS, then ciphertext) into plain. */
static int decrypt_sk(const uint8_t *b, size_t at, size_t sk_len, const hz_key_read_opts_t *o, uint8_t *plain) {
    uint64_t ops = get_le32(b + at), mem = (uint64_t)get_le32(b + at + 4) * 1024;
    int rc = argon2_limits(ops, mem, o->argon2_ops_max ? o->argon2_ops_max : HZ_KEYFILE_ARGON2_OPS_MAX,
                           o->argon2_mem_max ? o->argon2_mem_max : HZ_KEYFILE_ARGON2_MEM_MAX, "the key file's");
    if (rc) return rc;
    if (!o->passphrase)
        return hz_error_set(HZ_EAUTH, "the secret key is encrypted (%s): a passphrase is needed", ENC_ARGON_NAME);
    const uint8_t *salt = b + at + 8, *nonce = salt + HZ_ARGON2ID_SALT_LEN;
    uint8_t kek[HZ_AEAD_KEY_LEN];
    rc = hz_argon2id(kek, sizeof(kek), o->passphrase, o->passphrase_len, salt, ops, (size_t)mem);
    if (rc == 0) {
        rc = hz_aead_decrypt(HZ_AEAD_XCHACHA20_POLY1305, plain, b + at + PARAMS_LEN, sk_len + HZ_AEAD_TAG_LEN, b,
                             at + PARAMS_LEN, nonce, NONCE_LEN, kek);
        if (rc) rc = hz_error_set(HZ_EAUTH, "wrong passphrase: the encrypted secret key does not decrypt with it");
    }
    hz_secure_zero(kek, sizeof(kek));
    return rc;
}

static int decode_armor(const hz__armor_t *a, const hz_key_read_opts_t *o, hz_key_t **out) {
    /* The version decides how everything else reads, so it is looked at first. */
    const hz__armor_header_t *v = a->nheaders ? &a->headers[0] : NULL;
    if (!v || strcmp(v->name, "Version") != 0)
        return hz_error_set(HZ_EPARSE, "line 2: the first header must be \"Version\"");
    size_t vlen = strlen(v->value);
    bool num = vlen >= 1 && vlen <= 9 && !(vlen > 1 && v->value[0] == '0');
    for (size_t i = 0; num && i < vlen; i++) num = v->value[i] >= '0' && v->value[i] <= '9';
    if (!num) return hz_error_set(HZ_EPARSE, "line 2: Version \"%s\" is not a version number", v->value);
    if (strcmp(v->value, "1") != 0)
        return hz_error_set(HZ_EVERSION, "key file version %s is not supported (this hanzo reads version %d)", v->value,
                            HZ_KEYFILE_VERSION);

    int kind = 0, enc = 0;
    hz_key_type_t type;
    const hz_kem_t *kem = NULL;
    const hz_sig_t *sig = NULL;
    int rc = parse_title(a->title, &kind, &type, &kem, &sig);
    if (rc == 0) rc = check_headers(a, kind, &enc);
    if (rc) return rc;

    const char *alg = kem ? kem->name : sig->name;
    int alg_id = kem ? (int)kem->id : (int)sig->id;
    size_t pk_len = kem ? kem->pk_len : sig->pk_len, sk_len = kem ? kem->sk_len : sig->sk_len;
    const uint8_t *b = a->body;
    size_t n = a->body_len;
    if (n < 4) return hz_error_set(HZ_EPARSE, "the body is %zu bytes, too short for its 4-byte prefix", n);
    if (b[0] != HZ_KEYFILE_VERSION)
        return hz_error_set(HZ_EPARSE, "body byte 0: format version %u, but the Version header says %d", b[0], HZ_KEYFILE_VERSION);
    if (b[1] != kind)
        return hz_error_set(HZ_EPARSE, "body byte 1: key kind %u, but the BEGIN line says %s (%d)", b[1],
                            kind == KIND_SECRET ? "SECRET" : "PUBLIC", kind);
    if (b[2] != type || b[3] != alg_id)
        return hz_error_set(HZ_EPARSE, "body bytes 2-3: algorithm %u/%u, but the BEGIN line says %s (%d/%d)", b[2], b[3],
                            alg, (int)type, alg_id);
    size_t want = 4 + pk_len;
    if (kind == KIND_SECRET) {
        if (n < want + 1)
            return hz_error_set(HZ_EPARSE, "the body is %zu bytes, too short for an %s secret key", n, alg);
        if (b[want] != enc)
            return hz_error_set(HZ_EPARSE, "body byte %zu: encryption %u, but the Encryption header says %s", want,
                                b[want], enc ? ENC_ARGON_NAME : ENC_NONE_NAME);
        want += 1 + (enc ? PARAMS_LEN + sk_len + HZ_AEAD_TAG_LEN : sk_len);
    }
    if (n != want)
        return hz_error_set(HZ_EPARSE, "the body is %zu bytes; an %s %s key file%s has %zu", n, alg,
                            kind == KIND_SECRET ? "secret" : "public", enc ? " (encrypted)" : "", want);

    const uint8_t *pk = b + 4;
    uint8_t id[HZ_KEY_ID_LEN];
    char id_hex[2 * HZ_KEY_ID_LEN + 1];
    hz__key_id(type, alg_id, pk, pk_len, id);
    hz_hex_encode(id, sizeof(id), id_hex);
    if (strcmp(id_hex, a->headers[1].value) != 0)
        return hz_error_set(HZ_ECRYPTO, "line %zu: Key-Id %.16s... does not match the public key in the body (whose id "
                            "is %.16s...)", a->headers[1].line, a->headers[1].value, id_hex);
    if (kem && (rc = hz_kem_check_pk(kem, pk, pk_len)) != 0) return hz_error_wrap(rc, "public key");
    if (kind == KIND_PUBLIC || o->public_only) {
        *out = hz__key_new(type, kem, sig, pk, NULL);
        return 0;
    }

    size_t at = 4 + pk_len + 1;
    uint8_t *plain = NULL, *again = hz_malloc(pk_len);
    const uint8_t *sk = b + at;
    if (enc) {
        plain = hz_malloc(sk_len);
        rc = decrypt_sk(b, at, sk_len, o, plain);
        sk = plain;
    }
    if (rc == 0 && (rc = hz__key_pk_from_sk(type, kem, sig, again, sk)) != 0) hz_error_wrap(rc, "secret key");
    if (rc == 0 && !hz_ct_equal(again, pk, pk_len))
        rc = hz_error_set(HZ_ECRYPTO, "the secret key does not belong to the public key stored beside it");
    if (rc == 0) *out = hz__key_new(type, kem, sig, pk, sk);
    hz_secure_free(plain, sk_len);
    hz_free(again);
    return rc;
}

int hz_key_decode(const char *text, size_t len, const hz_key_read_opts_t *opts, hz_key_t **out) {
    static const hz_key_read_opts_t none;
    *out = NULL;
    if (!text && len) return hz_error_set(HZ_EINVAL, "hz_key_decode: text is NULL");
    if (len > HZ_KEYFILE_MAX_LEN)
        return hz_error_set(HZ_ETOOBIG, "%zu bytes is too long for a key file (at most %zu)", len, HZ_KEYFILE_MAX_LEN);
    hz__armor_t a;
    int rc = hz__armor_parse(text, len, &a);
    if (rc) return rc;
    rc = decode_armor(&a, opts ? opts : &none, out);
    hz__armor_free(&a);
    return rc;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Write the whole file with exactly `mode`, and make it durable before it becomes visible. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode, bool overwrite) {
    char *tmp = overwrite ? hz_sprintf("%s.tmp-XXXXXX", path) : NULL;
    int fd = tmp ? mkstemp(tmp) : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        hz_free(tmp);
        if (e == EEXIST) return hz_error_set(HZ_EEXIST, "%s already exists", path);
        return hz_error_errno(HZ_EIO, e, "%s", path);
    }
    int e = fchmod(fd, mode) != 0 ? errno : 0;
    if (!e) e = -write_all(fd, data, len);
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && tmp && rename(tmp, path) != 0) e = errno;
    if (e) unlink(tmp ? tmp : path);
    hz_free(tmp);
    return e ? hz_error_errno(HZ_EIO, e, "writing %s", path) : 0;
}

int hz_key_save(const hz_key_t *key, bool secret, const char *path, const hz_key_write_opts_t *opts) {
    hz_buf_t text = HZ_BUF_INIT;
    int rc = hz_key_encode(key, secret, opts, &text);
    if (rc == 0) rc = write_file(path, text.data, text.len, secret ? 0600 : 0644, opts && opts->overwrite);
    hz_secure_zero(text.data, text.cap);
    hz_buf_free(&text);
    return rc;
}

int hz_key_load(const char *path, const hz_key_read_opts_t *opts, hz_key_t **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hz_error_errno(HZ_EIO, e, "%s", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > HZ_KEYFILE_MAX_LEN) {
        close(fd);
        return hz_error_set(HZ_ETOOBIG, "%s: %lld bytes is too long for a key file (at most %zu)", path,
                            (long long)st.st_size, HZ_KEYFILE_MAX_LEN);
    }
    /* Read one byte past the limit so an over-long pipe is noticed too. */
    size_t cap = HZ_KEYFILE_MAX_LEN + 1, len = 0;
    char *text = hz_malloc(cap);
    int rc = 0;
    while (len < cap) {
        ssize_t r = read(fd, text + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = hz_error_errno(HZ_EIO, errno, "%s", path);
            break;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (rc == 0) {
        rc = hz_key_decode(text, len, opts, out);
        if (rc) hz_error_wrap(rc, "%s", path);
    }
    hz_secure_free(text, cap);
    return rc;
}
