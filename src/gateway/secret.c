/*
 * The node secret and the sealing of provider API keys under it.
 *
 * The secret is 32 random bytes in a file of their own (<storage>/secret.key), kept apart from
 * hanzo.db so that a copy of the database (a backup, a bug report) reveals no API key. The file
 * is created on first use without a window in which it exists half-written or with a loose
 * mode: the bytes go to a fresh 0600 temporary file (O_EXCL through mkstemp), are fsynced, and
 * the file is hard-linked into place, which, unlike rename, fails when another process created
 * the secret first; that process's secret then wins and is read back. A secret file that group
 * or others may read, that is not a regular file or that has the wrong size is refused with a
 * message saying how to fix it, as ssh does with private keys: guessing would risk sealing keys
 * under a secret the next start cannot read. In memory the secret lives in sodium_malloc'd
 * (guarded, mlock'd, read-only) pages, wiped when the registry closes.
 *
 * A sealed key is a versioned blob: byte 0 the format version (1), then the 24-byte random
 * XChaCha20-Poly1305 nonce, then the ciphertext and its 16-byte tag. The associated data is
 * "hanzo provider key v1\0" followed by the provider id, so a blob copied onto another provider's
 * row fails to open instead of handing that provider someone else's key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_internal.h"
#include "hanzo/crypto.h"

/* The secret API registry.c uses (see registry.c for the same declarations). */
typedef struct gw_secret gw_secret_t;
int gw_secret_open(const char *path, gw_secret_t **out);
void gw_secret_close(gw_secret_t *s);
const char *gw_secret_path(const gw_secret_t *s);
int gw_secret_seal(const gw_secret_t *s, const char *provider_id, const char *key, hz_buf_t *out);
int gw_secret_unseal(const gw_secret_t *s, const char *provider_id, const void *blob, size_t len,
                     char **key_out, size_t *key_len);

#define SECRET_LEN 32
#define SEAL_VERSION 1
#define SEAL_NONCE_LEN 24
#define SEAL_OVERHEAD (1 + SEAL_NONCE_LEN + HZ_AEAD_TAG_LEN)
#define SEAL_MAX_KEY 16384  /* far above any real API key; bounds what a row can make us allocate */

static const char AD_LABEL[] = "hanzo provider key v1"; /* sizeof includes the NUL separator */

struct gw_secret {
    uint8_t *key;   /* SECRET_LEN bytes from sodium_malloc, read-only after load */
    char *path;
};

/* Read and check an existing secret file into s->key. HZ_ENOTFOUND when there is none. */
static int load(gw_secret_t *s) {
    int fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return HZ_ENOTFOUND;
        return hz_error_errno(HZ_EIO, errno, "node secret %s", s->path);
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = hz_error_errno(HZ_EIO, errno, "node secret %s", s->path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = hz_error_set(HZ_EINVAL, "node secret %s is not a regular file", s->path);
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = hz_error_set(HZ_EAUTH, "node secret %s has mode %04o, so group or others can read it; "
                          "restrict it with `chmod 600 %s`",
                          s->path, (unsigned)(st.st_mode & 07777), s->path);
    } else if (st.st_size != SECRET_LEN) {
        rc = hz_error_set(HZ_EINVAL, "node secret %s holds %lld bytes, expected exactly %d; "
                          "it is damaged or not a node secret",
                          s->path, (long long)st.st_size, SECRET_LEN);
    } else {
        size_t got = 0;
        while (got < SECRET_LEN) {
            ssize_t n = read(fd, s->key + got, SECRET_LEN - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = n < 0 ? hz_error_errno(HZ_EIO, errno, "reading node secret %s", s->path)
                           : hz_error_set(HZ_EIO, "node secret %s shrank while being read", s->path);
                break;
            }
            got += (size_t)n;
        }
    }
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make a new secret file; HZ_EEXIST when another process got there first. */
static int create(gw_secret_t *s) {
    char *tmp = hz_sprintf("%s.tmp.XXXXXX", s->path);
    int fd = mkstemp(tmp);  /* O_CREAT|O_EXCL, mode 0600 */
    if (fd < 0) {
        int rc = hz_error_errno(HZ_EIO, errno, "creating node secret %s", s->path);
        hz_free(tmp);
        return rc;
    }
    hz_crypto_random(s->key, SECRET_LEN);
    int rc = 0;
    if (fchmod(fd, 0600) != 0 || write_all(fd, s->key, SECRET_LEN) != 0 || fsync(fd) != 0)
        rc = hz_error_errno(HZ_EIO, errno, "writing node secret %s", tmp);
    if (close(fd) != 0 && !rc) rc = hz_error_errno(HZ_EIO, errno, "writing node secret %s", tmp);
    if (!rc && link(tmp, s->path) != 0) {
        if (errno == EEXIST)
            rc = HZ_EEXIST;
        else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP) {
            /* a file system without hard links: no-clobber rename is the next best thing */
            if (renameat2(AT_FDCWD, tmp, AT_FDCWD, s->path, RENAME_NOREPLACE) != 0)
                rc = errno == EEXIST ? HZ_EEXIST : hz_error_errno(HZ_EIO, errno, "installing node secret %s", s->path);
        } else {
            rc = hz_error_errno(HZ_EIO, errno, "installing node secret %s", s->path);
        }
    }
    unlink(tmp);  /* the link (or nothing) remains; after a rename this finds nothing */
    hz_free(tmp);
    if (!rc) {
        /* make the new directory entry durable too */
        char *dir = hz_strdup(s->path);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        hz_free(dir);
        hz_log_info("gateway", "created node secret %s", s->path);
    } else {
        sodium_memzero(s->key, SECRET_LEN);
    }
    return rc;
}

int gw_secret_open(const char *path, gw_secret_t **out) {
    *out = NULL;
    if (!path || !*path) return hz_error_set(HZ_EINVAL, "node secret: no path");
    int rc = hz_crypto_init();
    if (rc) return rc;
    gw_secret_t *s = hz_calloc(1, sizeof(*s));
    s->path = hz_strdup(path);
    s->key = sodium_malloc(SECRET_LEN);
    if (!s->key) {
        hz_free(s->path);
        hz_free(s);
        return hz_error_set(HZ_ENOMEM, "node secret: no memory for a guarded buffer");
    }
    rc = load(s);
    if (rc == HZ_ENOTFOUND) {
        rc = create(s);
        if (rc == HZ_EEXIST) rc = load(s);  /* a concurrent start created it: use theirs */
    }
    if (rc) {
        gw_secret_close(s);
        return rc;
    }
    sodium_mprotect_readonly(s->key);
    *out = s;
    return 0;
}

void gw_secret_close(gw_secret_t *s) {
    if (!s) return;
    sodium_free(s->key);  /* wipes before unmapping */
    hz_free(s->path);
    hz_free(s);
}

const char *gw_secret_path(const gw_secret_t *s) {
    return s->path;
}

/* label, its NUL, then the id */
static uint8_t *make_ad(const char *provider_id, size_t *len) {
    size_t id_len = strlen(provider_id);
    uint8_t *ad = hz_malloc(sizeof(AD_LABEL) + id_len);
    memcpy(ad, AD_LABEL, sizeof(AD_LABEL));
    memcpy(ad + sizeof(AD_LABEL), provider_id, id_len);
    *len = sizeof(AD_LABEL) + id_len;
    return ad;
}

int gw_secret_seal(const gw_secret_t *s, const char *provider_id, const char *key, hz_buf_t *out) {
    size_t klen = strlen(key);
    if (klen > SEAL_MAX_KEY)
        return hz_error_set(HZ_ETOOBIG, "api_key: %zu bytes, at most %d", klen, SEAL_MAX_KEY);
    size_t ad_len;
    uint8_t *ad = make_ad(provider_id, &ad_len);
    hz_buf_reset(out);
    hz_buf_reserve(out, SEAL_OVERHEAD + klen);
    uint8_t *p = (uint8_t *)out->data;
    p[0] = SEAL_VERSION;
    hz_crypto_random(p + 1, SEAL_NONCE_LEN);
    int rc = hz_aead_encrypt(HZ_AEAD_XCHACHA20_POLY1305, p + 1 + SEAL_NONCE_LEN, (const uint8_t *)key, klen, ad,
                             ad_len, p + 1, SEAL_NONCE_LEN, s->key);
    hz_free(ad);
    if (rc) return hz_error_wrap(rc, "sealing the API key of provider \"%s\"", provider_id);
    out->len = SEAL_OVERHEAD + klen;
    out->data[out->len] = '\0';
    return 0;
}

int gw_secret_unseal(const gw_secret_t *s, const char *provider_id, const void *blob, size_t len,
                     char **key_out, size_t *key_len) {
    *key_out = NULL;
    *key_len = 0;
    const uint8_t *b = blob;
    if (len < SEAL_OVERHEAD || len > SEAL_OVERHEAD + SEAL_MAX_KEY)
        return hz_error_set(HZ_EPARSE, "sealed API key of provider \"%s\": %zu bytes is not a sealed key", provider_id,
                            len);
    if (b[0] != SEAL_VERSION)
        return hz_error_set(HZ_EVERSION, "sealed API key of provider \"%s\": format version %u, this node reads %d",
                            provider_id, b[0], SEAL_VERSION);
    size_t klen = len - SEAL_OVERHEAD;
    size_t ad_len;
    uint8_t *ad = make_ad(provider_id, &ad_len);
    char *key = hz_malloc(klen + 1);
    int rc = hz_aead_decrypt(HZ_AEAD_XCHACHA20_POLY1305, (uint8_t *)key, b + 1 + SEAL_NONCE_LEN,
                             len - 1 - SEAL_NONCE_LEN, ad, ad_len, b + 1, SEAL_NONCE_LEN, s->key);
    hz_free(ad);
    if (rc) {
        hz_secure_free(key, klen + 1);
        return hz_error_set(HZ_ECRYPTO, "the API key of provider \"%s\" does not decrypt with the node secret %s "
                            "(was the secret file replaced, or the database copied from another node?)",
                            provider_id, s->path);
    }
    key[klen] = '\0';
    if (memchr(key, '\0', klen)) {
        hz_secure_free(key, klen + 1);
        return hz_error_set(HZ_EPARSE, "the API key of provider \"%s\" holds a NUL byte", provider_id);
    }
    *key_out = key;
    *key_len = klen;
    return 0;
}
