/*
 * The API key. A configured key (api.api_key / HANZO_API_KEY) wins. Otherwise the node
 * generates one on first start: 32 random bytes shown to the user once and written to
 * <storage>/api_key (mode 0600, so scripts on the machine can read it), while the database keeps
 * only BLAKE3(key). Requests are checked by hashing the presented token and comparing hashes in
 * constant time, so neither the comparison nor an early exit leaks how much of a guess matched.
 */
#include "node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hanzo/crypto.h"

#define API_KEY_SETTING "api_key_blake3"

char *hz_node_api_key_generate(void) {
    uint8_t raw[32];
    char hex[65];
    hz_crypto_random(raw, sizeof(raw));
    hz_hex_encode(raw, sizeof(raw), hex);
    sodium_memzero(raw, sizeof(raw));
    char *key = hz_sprintf("%s%s", HZ_API_KEY_PREFIX, hex);
    sodium_memzero(hex, sizeof(hex));
    return key;
}

/* Write the key next to the database, atomically and readable only by the owner. */
static int write_key_file(const char *dir, const char *key) {
    char *path = hz_sprintf("%s/api_key", dir), *tmp = hz_sprintf("%s/.api_key.tmp", dir);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { rc = hz_error_errno(HZ_EIO, errno, "create %s", tmp); goto out; }
    size_t len = strlen(key);
    if (write(fd, key, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        rc = hz_error_errno(HZ_EIO, errno, "write %s", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) { rc = hz_error_errno(HZ_EIO, errno, "rename %s", tmp); unlink(tmp); }
out:
    hz_free(path);
    hz_free(tmp);
    return rc;
}

int node_api_key_setup(hz_node_t *node, const hz_config_t *cfg) {
    if (cfg->api_key && *cfg->api_key) {
        hz_blake3(cfg->api_key, strlen(cfg->api_key), node->api_key_hash);
        return 0;
    }
    char *stored = NULL;
    int rc = hz_store_setting_get(node->store, API_KEY_SETTING, &stored);
    if (rc == 0) {
        rc = hz_hex_decode(stored, node->api_key_hash, sizeof(node->api_key_hash));
        hz_free(stored);
        return rc ? hz_error_wrap(rc, "stored API key hash is corrupt") : 0;
    }
    if (rc != HZ_ENOTFOUND) return rc;

    char *key = hz_node_api_key_generate();
    char hex[65];
    hz_blake3(key, strlen(key), node->api_key_hash);
    hz_hex_encode(node->api_key_hash, sizeof(node->api_key_hash), hex);
    /* The file first: if we stored the hash and then failed to write the file, the user would
     * be locked out of a key nobody can read. */
    rc = write_key_file(cfg->storage_path, key);
    if (rc == 0) rc = hz_store_setting_set(node->store, API_KEY_SETTING, hex);
    if (rc) { hz_secure_free(key, strlen(key) + 1); return rc; }
    node->new_api_key = key;
    return 0;
}

bool node_api_key_check(const char *token, size_t len, void *ctx) {
    hz_node_t *node = ctx;
    uint8_t h[32];
    hz_blake3(token, len, h);
    return hz_ct_equal(h, node->api_key_hash, sizeof(h));
}
