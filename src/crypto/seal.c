/*
 * Sealed data: KEM + HKDF + AEAD in the STREAM construction (Hoang, Reyhanitabar, Rogaway and
 * Vizar, "Online authenticated-encryption and its nonce-reuse misuse-resistance", 2015), the
 * shape age and Tink's streaming AEAD also have. docs/formats/sealed.md is the byte layout.
 *
 *   header  "HZSEAL" | version 1 | KEM id | log2(chunk size) | recipient key id (32) |
 *           KEM ciphertext | tag (32) = BLAKE3-keyed(header key, everything before it)
 *   chunks  ChaCha20-Poly1305 under the payload key; nonce = 3 zero bytes | index (u64 BE) |
 *           final flag (1 for the last chunk, else 0); no associated data
 *
 *   header key || payload key = HKDF-SHA256(ikm = KEM shared secret,
 *                                           salt = BLAKE3(header before the tag),
 *                                           info = "hanzo-node 2026 sealed v1", 64 bytes)
 *
 * Each file has its own keys (fresh KEM encapsulation), so counter nonces never repeat under
 * one key. Salting with the header hash binds every header byte to both keys; the header tag
 * lets a changed header be told apart from a changed chunk. Every chunk but the last carries a
 * full chunk of plaintext; the last carries less (possibly nothing) and has the final flag, so
 * the reader knows without look-ahead which chunk must be final: one that is shorter than a full
 * chunk. Dropping chunks at the end, appending, reordering or repeating them changes an index, a
 * flag or a length, and the chunk fails to authenticate or the input ends without a final chunk.
 *
 * Memory is two chunk buffers whatever the size of the data.
 */
#include "crypto/key_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "HZSEAL"
#define MAGIC_LEN 6
#define PREFIX_LEN (MAGIC_LEN + 3)          /* magic, version, KEM id, chunk exponent */
#define FIXED_LEN (PREFIX_LEN + HZ_KEY_ID_LEN) /* then the KEM ciphertext, then the tag */
#define TAG_LEN 32
#define INFO "hanzo-node 2026 sealed v1"
#define CHUNK_LOG_MIN 10
#define CHUNK_LOG_MAX 24

typedef struct {
    uint8_t header_key[32];
    uint8_t payload_key[HZ_AEAD_KEY_LEN];
} seal_keys_t;

static int chunk_log(size_t chunk, unsigned *out) {
    for (unsigned e = CHUNK_LOG_MIN; e <= CHUNK_LOG_MAX; e++)
        if (chunk == (size_t)1 << e) {
            *out = e;
            return 0;
        }
    return hz_error_set(HZ_EINVAL, "chunk size %zu is not a power of two from %zu to %zu", chunk, HZ_SEAL_CHUNK_MIN,
                        HZ_SEAL_CHUNK_MAX);
}

uint64_t hz_sealed_size(const hz_kem_t *kem, size_t chunk_size, uint64_t pt_len) {
    if (!chunk_size) chunk_size = HZ_SEAL_CHUNK_DEFAULT;
    return FIXED_LEN + kem->ct_len + TAG_LEN + pt_len + HZ_AEAD_TAG_LEN * (pt_len / chunk_size + 1);
}

/* header[0 .. hlen) is everything before the tag. Writes the tag to `tag`. */
static int derive(const uint8_t *ss, const uint8_t *header, size_t hlen, seal_keys_t *k, uint8_t tag[TAG_LEN]) {
    uint8_t salt[32], okm[64];
    hz_blake3(header, hlen, salt);
    int rc = hz_hkdf(HZ_HKDF_SHA256, okm, sizeof(okm), ss, 32, salt, sizeof(salt), (const uint8_t *)INFO, strlen(INFO));
    if (rc == 0) {
        memcpy(k->header_key, okm, 32);
        memcpy(k->payload_key, okm + 32, 32);
        hz_blake3_keyed(k->header_key, header, hlen, tag);
    }
    hz_secure_zero(okm, sizeof(okm));
    return rc;
}

static void nonce_for(uint64_t index, bool final, uint8_t nonce[12]) {
    memset(nonce, 0, 3);
    for (int i = 0; i < 8; i++) nonce[3 + i] = (uint8_t)(index >> (56 - 8 * i));
    nonce[11] = final ? 1 : 0;
}

/* Read until buf is full or the input ends. */
static int fill(hz_seal_read_fn read, void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    *got = 0;
    while (*got < cap) {
        size_t n = 0;
        int rc = read(ctx, buf + *got, cap - *got, &n);
        if (rc) return rc;
        if (n == 0) break;
        *got += n;
    }
    return 0;
}

int hz_seal(const hz_key_t *to, const hz_seal_opts_t *opts, hz_seal_read_fn read, void *rctx,
            hz_seal_write_fn write, void *wctx) {
    static const hz_seal_opts_t defaults;
    if (!opts) opts = &defaults;
    int rc = hz_key_expect(to, HZ_KEY_KEM, NULL, false);
    if (rc) return hz_error_wrap(rc, "seal");
    size_t chunk = opts->chunk_size ? opts->chunk_size : HZ_SEAL_CHUNK_DEFAULT;
    unsigned e = 0;
    if ((rc = chunk_log(chunk, &e)) != 0) return rc;

    const hz_kem_t *kem = to->kem;
    size_t hlen = FIXED_LEN + kem->ct_len;
    uint8_t *header = hz_malloc(hlen + TAG_LEN), ss[32];
    memcpy(header, MAGIC, MAGIC_LEN);
    header[MAGIC_LEN] = HZ_SEAL_VERSION;
    header[MAGIC_LEN + 1] = (uint8_t)kem->id;
    header[MAGIC_LEN + 2] = (uint8_t)e;
    memcpy(header + PREFIX_LEN, to->id, HZ_KEY_ID_LEN);
    if (opts->encaps_seed)
        rc = hz_kem_encaps_derand(kem, header + FIXED_LEN, ss, to->pk, to->pk_len, opts->encaps_seed, opts->encaps_seed_len);
    else
        rc = hz_kem_encaps(kem, header + FIXED_LEN, ss, to->pk, to->pk_len);
    seal_keys_t k;
    if (rc == 0) rc = derive(ss, header, hlen, &k, header + hlen);
    hz_secure_zero(ss, sizeof(ss));
    if (rc == 0) rc = write(wctx, header, hlen + TAG_LEN);
    hz_free(header);

    uint8_t *pt = hz_malloc(chunk), *ct = hz_malloc(chunk + HZ_AEAD_TAG_LEN), nonce[12];
    for (uint64_t index = 0; rc == 0; index++) {
        size_t got;
        if ((rc = fill(read, rctx, pt, chunk, &got)) != 0) break;
        bool final = got < chunk;
        nonce_for(index, final, nonce);
        rc = hz_aead_encrypt(HZ_AEAD_CHACHA20_POLY1305, ct, pt, got, NULL, 0, nonce, sizeof(nonce), k.payload_key);
        if (rc == 0) rc = write(wctx, ct, got + HZ_AEAD_TAG_LEN);
        if (final) break;
    }
    hz_secure_free(pt, chunk);
    hz_free(ct);
    hz_secure_zero(&k, sizeof(k));
    return rc;
}

/* Read and check the header; on success *k holds the keys and *chunk the chunk size. */
static int open_header(const hz_key_t *key, hz_seal_read_fn read, void *rctx, seal_keys_t *k, size_t *chunk) {
    uint8_t prefix[PREFIX_LEN];
    size_t got;
    int rc = fill(read, rctx, prefix, sizeof(prefix), &got);
    if (rc) return rc;
    if (got == 0) return hz_error_set(HZ_EPARSE, "empty input: not a sealed file");
    size_t m = got < MAGIC_LEN ? got : MAGIC_LEN;
    if (memcmp(prefix, MAGIC, m) != 0) return hz_error_set(HZ_EPARSE, "not a hanzo sealed file (it does not begin with \"%s\")", MAGIC);
    if (got < PREFIX_LEN) return hz_error_set(HZ_EPARSE, "truncated header: the input ends at byte %zu", got);
    if (prefix[MAGIC_LEN] != HZ_SEAL_VERSION)
        return hz_error_set(HZ_EVERSION, "sealed-file version %u is not supported (this hanzo reads version %d)",
                            prefix[MAGIC_LEN], HZ_SEAL_VERSION);
    const hz_kem_t *kem = hz_kem_by_id((hz_kem_id_t)prefix[MAGIC_LEN + 1]);
    if (!kem) return hz_error_set(HZ_EUNSUPPORTED, "byte %d: unknown KEM id %u", MAGIC_LEN + 1, prefix[MAGIC_LEN + 1]);
    unsigned e = prefix[MAGIC_LEN + 2];
    if (e < CHUNK_LOG_MIN || e > CHUNK_LOG_MAX)
        return hz_error_set(HZ_EPARSE, "byte %d: chunk size 2^%u is outside 2^%d..2^%d", MAGIC_LEN + 2, e, CHUNK_LOG_MIN, CHUNK_LOG_MAX);
    if (kem != key->kem)
        return hz_error_set(HZ_EAUTH, "the data is sealed to an %s key, but the key given is an %s key", kem->name, key->alg);

    size_t hlen = FIXED_LEN + kem->ct_len;
    uint8_t *header = hz_malloc(hlen + TAG_LEN), tag[TAG_LEN], ss[32];
    memcpy(header, prefix, PREFIX_LEN);
    rc = fill(read, rctx, header + PREFIX_LEN, hlen + TAG_LEN - PREFIX_LEN, &got);
    if (rc == 0 && got < hlen + TAG_LEN - PREFIX_LEN)
        rc = hz_error_set(HZ_EPARSE, "truncated header: the input ends at byte %zu of its %zu-byte header", PREFIX_LEN + got,
                          hlen + TAG_LEN);
    if (rc == 0 && !hz_ct_equal(header + PREFIX_LEN, key->id, HZ_KEY_ID_LEN)) {
        char want[2 * HZ_KEY_ID_LEN + 1], have[2 * HZ_KEY_ID_LEN + 1];
        hz_hex_encode(header + PREFIX_LEN, HZ_KEY_ID_LEN, want);
        hz_key_id_hex(key, have);
        rc = hz_error_set(HZ_EAUTH, "the data is sealed to key %.16s..., not to this key (%.16s...)", want, have);
    }
    if (rc == 0) rc = hz_kem_decaps(kem, ss, header + FIXED_LEN, kem->ct_len, key->sk, key->sk_len);
    if (rc == 0) rc = derive(ss, header, hlen, k, tag);
    if (rc == 0 && !hz_ct_equal(tag, header + hlen, TAG_LEN))
        rc = hz_error_set(HZ_ECRYPTO, "the header does not authenticate: its bytes or the KEM ciphertext were modified");
    hz_secure_zero(ss, sizeof(ss));
    hz_free(header);
    *chunk = (size_t)1 << e;
    return rc;
}

int hz_open(const hz_key_t *key, hz_seal_read_fn read, void *rctx, hz_seal_write_fn write, void *wctx) {
    int rc = hz_key_expect(key, HZ_KEY_KEM, NULL, true);
    if (rc) return hz_error_wrap(rc, "open");
    seal_keys_t k;
    size_t chunk = HZ_SEAL_CHUNK_DEFAULT;
    if ((rc = open_header(key, read, rctx, &k, &chunk)) != 0) {
        hz_secure_zero(&k, sizeof(k));
        return rc;
    }
    size_t full = chunk + HZ_AEAD_TAG_LEN;
    uint8_t *ct = hz_malloc(full), *pt = hz_malloc(chunk), nonce[12];
    uint64_t offset = FIXED_LEN + key->kem->ct_len + TAG_LEN;
    for (uint64_t index = 0; rc == 0; index++) {
        size_t got;
        if ((rc = fill(read, rctx, ct, full, &got)) != 0) break;
        if (got == 0) {
            rc = hz_error_set(HZ_ECRYPTO, "truncated: the data ends after chunk %llu (byte %llu) without its final chunk",
                              (unsigned long long)index, (unsigned long long)offset);
            break;
        }
        if (got < HZ_AEAD_TAG_LEN) {
            rc = hz_error_set(HZ_ECRYPTO, "truncated: chunk %llu (byte %llu) is %zu bytes, shorter than its tag",
                              (unsigned long long)index, (unsigned long long)offset, got);
            break;
        }
        bool final = got < full;
        nonce_for(index, final, nonce);
        rc = hz_aead_decrypt(HZ_AEAD_CHACHA20_POLY1305, pt, ct, got, NULL, 0, nonce, sizeof(nonce), k.payload_key);
        if (rc) {
            rc = hz_error_set(HZ_ECRYPTO, "%schunk %llu (byte %llu) does not authenticate: the data was modified, "
                              "reordered, truncated or extended", final ? "final " : "", (unsigned long long)index,
                              (unsigned long long)offset);
            break;
        }
        rc = write(wctx, pt, got - HZ_AEAD_TAG_LEN);
        offset += got;
        if (final) break;
    }
    hz_free(ct);
    hz_secure_free(pt, chunk);
    hz_secure_zero(&k, sizeof(k));
    return rc;
}

/* ---- buffers, file descriptors, stdio --------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len, at;
} mem_in_t;

static int mem_read(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    mem_in_t *in = ctx;
    size_t n = in->len - in->at < cap ? in->len - in->at : cap;
    if (n) memcpy(buf, in->p + in->at, n);
    in->at += n;
    *got = n;
    return 0;
}

static int buf_write(void *ctx, const uint8_t *buf, size_t len) {
    hz_buf_append(ctx, buf, len);
    return 0;
}

int hz_seal_buf(const hz_key_t *to, const hz_seal_opts_t *opts, const void *pt, size_t len, hz_buf_t *out) {
    mem_in_t in = {pt, len, 0};
    if (to && to->kem) {
        uint64_t size = hz_sealed_size(to->kem, opts ? opts->chunk_size : 0, len);
        if (size < SIZE_MAX) hz_buf_reserve(out, (size_t)size);
    }
    size_t before = out->len;
    int rc = hz_seal(to, opts, mem_read, &in, buf_write, out);
    if (rc) out->len = before;
    if (out->data) out->data[out->len] = '\0';
    return rc;
}

int hz_open_buf(const hz_key_t *key, const void *sealed, size_t len, hz_buf_t *out) {
    mem_in_t in = {sealed, len, 0};
    size_t before = out->len;
    hz_buf_reserve(out, len); /* the plaintext is shorter: no reallocation leaves copies behind */
    int rc = hz_open(key, mem_read, &in, buf_write, out);
    if (rc) {
        hz_secure_zero(out->data + before, out->len - before);
        out->len = before;
        out->data[before] = '\0';
    }
    return rc;
}

static int fd_read(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hz_error_errno(HZ_EIO, errno, "read");
        *got = (size_t)n;
        return 0;
    }
}

static int fd_write(void *ctx, const uint8_t *buf, size_t len) {
    int fd = *(int *)ctx;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hz_error_errno(HZ_EIO, errno, "write");
        buf += n, len -= (size_t)n;
    }
    return 0;
}

int hz_seal_fd(const hz_key_t *to, const hz_seal_opts_t *opts, int in_fd, int out_fd) {
    return hz_seal(to, opts, fd_read, &in_fd, fd_write, &out_fd);
}

int hz_open_fd(const hz_key_t *key, int in_fd, int out_fd) {
    return hz_open(key, fd_read, &in_fd, fd_write, &out_fd);
}

static int stdio_read(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    FILE *f = ctx;
    *got = fread(buf, 1, cap, f);
    if (*got == 0 && ferror(f)) return hz_error_errno(HZ_EIO, errno, "read");
    return 0;
}

static int stdio_write(void *ctx, const uint8_t *buf, size_t len) {
    FILE *f = ctx;
    if (len && fwrite(buf, 1, len, f) != len) return hz_error_errno(HZ_EIO, errno, "write");
    return 0;
}

int hz_seal_stream(const hz_key_t *to, const hz_seal_opts_t *opts, FILE *in, FILE *out) {
    int rc = hz_seal(to, opts, stdio_read, in, stdio_write, out);
    if (rc == 0 && fflush(out) != 0) rc = hz_error_errno(HZ_EIO, errno, "write");
    return rc;
}

int hz_open_stream(const hz_key_t *key, FILE *in, FILE *out) {
    int rc = hz_open(key, stdio_read, in, stdio_write, out);
    if (rc == 0 && fflush(out) != 0) rc = hz_error_errno(HZ_EIO, errno, "write");
    return rc;
}
