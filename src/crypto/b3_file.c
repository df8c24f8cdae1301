/*
 * BLAKE3 of a file or descriptor. A regular file is memory-mapped and hashed as one buffer
 * (hz_blake3_parallel: the threads then read the page cache directly, with no copy and no
 * reader thread to wait on), which is what b3sum does too. Anything else - a pipe, a terminal,
 * a file that will not map - is read in 1 MiB pieces into the streaming hasher.
 *
 * A mapped file that another process truncates while we hash it raises SIGBUS, as it does for
 * b3sum; callers hashing files they do not control should copy them first.
 */
#include "crypto/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF ((size_t)1 << 20)

static int hash_stream(const hz_blake3_hasher_t *mode, int fd, uint8_t *out, size_t out_len) {
    hz_blake3_hasher_t h = *mode;
    uint8_t *buf = hz_malloc(READ_BUF);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, READ_BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = hz_error_errno(HZ_EIO, errno, "read");
            break;
        }
        if (n == 0) break;
        hz_blake3_update(&h, buf, (size_t)n);
    }
    if (rc == 0) hz_blake3_final(&h, out, out_len);
    hz_free(buf);
    hz_secure_zero(&h, sizeof(h));
    return rc;
}

int hz_blake3_fd(const hz_blake3_hasher_t *mode, int threads, int fd, uint8_t *out, size_t out_len) {
    hz_blake3_hasher_t plain;
    if (!mode) {
        hz_blake3_init(&plain);
        mode = &plain;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) return hz_error_errno(HZ_EIO, errno, "fstat");
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return hash_stream(mode, fd, out, out_len);
    if ((uint64_t)st.st_size > SIZE_MAX) return hz_error_set(HZ_ETOOBIG, "file of %lld bytes cannot be mapped", (long long)st.st_size);

    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        if (lseek(fd, 0, SEEK_SET) != 0) return hz_error_errno(HZ_EIO, errno, "lseek");
        return hash_stream(mode, fd, out, out_len);
    }
    (void)madvise(map, len, MADV_SEQUENTIAL); /* advice only: hashing works without it */
    (void)madvise(map, len, MADV_WILLNEED);
    hz_blake3_parallel(mode, threads, map, len, out, out_len);
    munmap(map, len);
    return 0;
}

int hz_blake3_file(const hz_blake3_hasher_t *mode, int threads, const char *path, uint8_t *out,
                   size_t out_len) {
    if (strcmp(path, "-") == 0) return hz_blake3_fd(mode, threads, STDIN_FILENO, out, out_len);
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", path);
    int rc = hz_blake3_fd(mode, threads, fd, out, out_len);
    close(fd);
    return rc ? hz_error_wrap(rc, "%s", path) : 0;
}
