/* Helpers shared by the artifact unit tests: scratch folders, files, and a small artifact. */
#ifndef TEST_ARTIFACT_UTIL_H
#define TEST_ARTIFACT_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "artifact/internal.h"
#include "hanzo/artifact.h"

static inline char *tu_tmpdir(void) {
    char *t = hz_strdup("/tmp/hz-test-artifact-XXXXXX");
    if (!mkdtemp(t)) fail_msg("mkdtemp: %s", strerror(errno));
    return t;
}

static inline char *tu_path(const char *dir, const char *fmt, ...) HZ_PRINTF(2, 3);
static inline char *tu_path(const char *dir, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char rel[1024];
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    return hz_sprintf("%s/%s", dir, rel);
}

static inline void tu_write(const char *dir, const char *rel, const void *data, size_t len) {
    char *p = hz_sprintf("%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    if (ai_mkdirs(p, 0755) != 0) fail_msg("mkdirs %s: %s", p, hz_error_last());
    *slash = '/';
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ai_write_all(fd, data, len, p), 0);
    close(fd);
    hz_free(p);
}

static inline void tu_write_str(const char *dir, const char *rel, const char *s) { tu_write(dir, rel, s, strlen(s)); }

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static inline void tu_fill(uint8_t *p, size_t n, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static inline char *tu_read(const char *path, size_t *len) {
    char *out;
    size_t n;
    if (ai_read_file(path, (uint64_t)1 << 32, &out, &n) != 0) return NULL;
    if (len) *len = n;
    return out;
}

static inline bool tu_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Names of entries in dir that start with prefix. */
static inline int tu_count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) n += hz_str_starts_with(de->d_name, prefix);
    closedir(d);
    return n;
}

static inline hz_ai_info_t *tu_pack(const char *dir, const char *out, const char *type, const char *name) {
    hz_ai_pack_opts_t o = {.type = type, .name = name, .overwrite = true};
    hz_ai_info_t *info = NULL;
    if (hz_ai_pack(dir, out, &o, &info) != 0) fail_msg("pack %s: %s", dir, hz_error_last());
    return info;
}

#endif
