/*
 * b3hash: a b3sum-like driver for the crypto module's BLAKE3 paths, so an integration test can
 * compare each of them with Debian's b3sum on the same files.
 *
 *   b3hash [--stream | --threads N] [--length N] [--keyed-hex HEX | --derive-key CONTEXT] FILE...
 *
 * --stream reads each file with read(2) into the streaming hasher (hz_blake3_update); otherwise
 * hz_blake3_file maps it and hashes on N threads (0 = one per CPU, 1 = the library's single-
 * threaded hasher). Output is b3sum's: lowercase hex, two spaces, the name. "-" is stdin.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hanzo/crypto.h"

static int usage(void) {
    fprintf(stderr, "usage: b3hash [--stream | --threads N] [--length N] [--keyed-hex HEX | --derive-key CONTEXT] FILE...\n");
    return 2;
}

static int hash_stream(const hz_blake3_hasher_t *mode, const char *path, uint8_t *out, size_t out_len) {
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", path);
    hz_blake3_hasher_t h = *mode;
    static uint8_t buf[65536 + 17]; /* an odd size, so pieces straddle chunk boundaries */
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            if (fd != STDIN_FILENO) close(fd);
            return hz_error_errno(HZ_EIO, e, "%s", path);
        }
        if (n == 0) break;
        hz_blake3_update(&h, buf, (size_t)n);
    }
    if (fd != STDIN_FILENO) close(fd);
    hz_blake3_final(&h, out, out_len);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 0, stream = 0, i = 1;
    size_t length = 32;
    hz_blake3_hasher_t mode;
    hz_blake3_init(&mode);
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--stream") == 0) {
            stream = 1;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--length") == 0 && i + 1 < argc) {
            length = (size_t)strtoul(argv[++i], NULL, 10);
            if (length == 0 || length > 1 << 20) return usage();
        } else if (strcmp(argv[i], "--keyed-hex") == 0 && i + 1 < argc) {
            uint8_t key[32];
            if (hz_hex_decode(argv[++i], key, sizeof(key)) != 0) return usage();
            hz_blake3_init_keyed(&mode, key);
        } else if (strcmp(argv[i], "--derive-key") == 0 && i + 1 < argc) {
            hz_blake3_init_derive_key(&mode, argv[++i]);
        } else {
            return usage();
        }
    }
    if (i == argc) return usage();
    uint8_t *out = malloc(length);
    char *hex = malloc(2 * length + 1);
    int status = 0;
    for (; i < argc; i++) {
        int rc = stream ? hash_stream(&mode, argv[i], out, length) : hz_blake3_file(&mode, threads, argv[i], out, length);
        if (rc != 0) {
            fprintf(stderr, "b3hash: %s\n", hz_error_last());
            status = 1;
            continue;
        }
        hz_hex_encode(out, length, hex);
        printf("%s  %s\n", hex, argv[i]);
    }
    free(out);
    free(hex);
    return status;
}
