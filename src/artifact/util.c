/*
 * Small file-system helpers shared by the module, and the limits' defaults. Nothing here follows
 * a path it did not create: ai_rmtree only ever runs on our own temporary folders and uses
 * unlinkat/openat with O_NOFOLLOW, so a symlink planted inside one cannot redirect the deletion.
 */
#include "artifact/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hz_ai_limits_default(hz_ai_limits_t *l) {
    l->max_total_bytes = (uint64_t)1 << 40;
    l->max_entries = 100000;
    l->max_ratio = 200;
    l->max_deflated_bytes = (uint64_t)1 << 30;
    l->max_json_bytes = (uint64_t)64 << 20;
}

int ai_read_file(const char *path, uint64_t max, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(errno == ENOENT ? HZ_ENOTFOUND : HZ_EIO, errno, "%s", path);
    hz_buf_t b = HZ_BUF_INIT;
    char tmp[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = hz_error_errno(HZ_EIO, errno, "read %s", path); break; }
        if (n == 0) break;
        if (b.len + (size_t)n > max) { rc = hz_error_set(HZ_ETOOBIG, "%s is larger than %llu bytes", path, (unsigned long long)max); break; }
        hz_buf_append(&b, tmp, (size_t)n);
    }
    close(fd);
    if (rc) { hz_buf_free(&b); return rc; }
    hz_buf_reserve(&b, 1);
    *out = hz_buf_detach(&b, len);
    return 0;
}

int ai_write_all(int fd, const void *buf, size_t len, const char *what) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { ai_reason_set(HZ_AI_ERR_IO); return hz_error_errno(HZ_EIO, errno, "write %s", what); }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ai_mkdirs(const char *path, mode_t mode) {
    char *p = hz_strdup(path);
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) { rc = hz_error_errno(HZ_EIO, errno, "mkdir %s", p); break; }
            *s = c;
            if (!c) break;
        }
    }
    hz_free(p);
    return rc;
}

static void rm_at(int dirfd) {
    DIR *d = fdopendir(dirfd);
    if (!d) { close(dirfd); return; }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (unlinkat(dirfd, de->d_name, 0) == 0) continue;
        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            rm_at(sub);
            unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

void ai_rmtree(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) { unlink(path); return; }
    rm_at(fd);
    rmdir(path);
}

bool ai_progress(const hz_ai_read_opts_t *o, const char *phase, uint64_t done, uint64_t total) {
    if (!o || !o->progress) return true;
    return o->progress(o->progress_ctx, phase, done, total);
}

int ai_copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return hz_error_errno(errno == ENOENT ? HZ_ENOTFOUND : HZ_EIO, errno, "%s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) { int e = errno; close(in); return hz_error_errno(HZ_EIO, e, "%s", to); }
    char *buf = hz_malloc(1 << 20);
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = hz_error_errno(HZ_EIO, errno, "read %s", from); break; }
        if (n == 0) break;
        if ((rc = ai_write_all(out, buf, (size_t)n, to))) break;
    }
    if (!rc && fsync(out) != 0) rc = hz_error_errno(HZ_EIO, errno, "fsync %s", to);
    hz_free(buf);
    close(in);
    close(out);
    if (rc) unlink(to);
    return rc;
}

/* Streamed rather than mapped: a mapping would count the whole file as resident memory. */
int ai_file_blake3(const char *path, uint8_t out[32]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", path);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    hz_blake3_hasher_t h;
    hz_blake3_init(&h);
    uint8_t *buf = hz_malloc(1 << 20);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = hz_error_errno(HZ_EIO, errno, "read %s", path); break; }
        if (n == 0) break;
        hz_blake3_update(&h, buf, (size_t)n);
    }
    hz_blake3_final(&h, out, 32);
    hz_free(buf);
    close(fd);
    return rc;
}
