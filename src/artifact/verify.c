/*
 * The data pass: every data file, in content-hash order, read once in pieces through the hashing
 * pipeline, checked against its manifest BLAKE3 and its ZIP CRC-32, and - when unpacking - written
 * below a temporary folder as it goes. Only after the content hash and every signature check out
 * does hz_ai_unpack rename that folder into place, so a rejected archive leaves nothing behind but
 * the error. Files are created with O_EXCL | O_NOFOLLOW inside a folder we just made, under names
 * zipread.c has already vetted, so no name can reach outside it.
 */
#include "artifact/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRESS_STEP ((uint64_t)32 << 20)

/* Open rel (a vetted archive path) for writing below dirfd, creating its parent folders. */
static int create_below(int dirfd, const char *rel, int *out) {
    char *p = hz_strdup(rel);
    int cur = dirfd, rc = 0;
    char *s = p;
    for (char *slash; (slash = strchr(s, '/')); s = slash + 1) {
        *slash = '\0';
        if (mkdirat(cur, s, 0755) != 0 && errno != EEXIST) { rc = hz_error_errno(HZ_EIO, errno, "mkdir %s", p); break; }
        int next = openat(cur, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) { rc = hz_error_errno(HZ_EIO, errno, "open folder %s", p); break; }
        if (cur != dirfd) close(cur);
        cur = next;
        *slash = '/';
    }
    if (!rc) {
        int fd = openat(cur, s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) rc = hz_error_errno(HZ_EIO, errno, "create %s", rel);
        else *out = fd;
    }
    if (cur != dirfd) close(cur);
    hz_free(p);
    if (rc) ai_reason_set(HZ_AI_ERR_IO);
    return rc;
}

int ai_verify_data(ai_reader_t *r, const hz_ai_read_opts_t *opts, int dest_fd, uint8_t content_out[32]) {
    ai_hasher_t *h = ai_hasher_new(opts ? opts->threads : 0, true);
    const char *phase = dest_fd >= 0 ? "unpack" : "verify";
    uint64_t total = r->manifest.total_size, done = 0, next_report = 0;
    int rc = 0;
    for (size_t i = 0; i < r->manifest.n && !rc; i++) {
        const ai_mfile_t *f = &r->manifest.files[i];
        const ai_zentry_t *e = r->data[i];
        int out = -1;
        if (dest_fd >= 0 && (rc = create_below(dest_fd, f->path, &out))) break;
        ai_zstream_t s;
        if ((rc = ai_zstream_open(&r->zip, e, &s))) { if (out >= 0) close(out); break; }
        ai_hasher_begin(h, f->path);
        for (;;) {
            uint8_t *buf = ai_hasher_buf(h);
            size_t got;
            if ((rc = ai_zstream_read(&s, buf, AI_HASH_BUF, &got)) || got == 0) break;
            ai_hasher_feed(h, buf, got);
            if (out >= 0 && (rc = ai_write_all(out, buf, got, f->path))) break;
            done += got;
            if (done >= next_report) {
                next_report = done + PROGRESS_STEP;
                if (!ai_progress(opts, phase, done, total)) { rc = hz_error_set(HZ_ECLOSED, "cancelled"); break; }
            }
        }
        ai_zstream_close(&s);
        uint8_t fh[32];
        uint32_t crc;
        ai_hasher_end(h, fh, &crc);
        if (out >= 0) {
            if (!rc && fsync(out) != 0) rc = hz_error_errno(HZ_EIO, errno, "fsync %s", f->path);
            close(out);
        }
        if (rc) break;
        char hex[HZ_AI_HASH_HEX_LEN + 1];
        hz_hex_encode(fh, 32, hex);
        if (strcmp(hex, f->hash) != 0)
            rc = ai_fail(HZ_AI_ERR_HASH_MISMATCH, HZ_ECRYPTO, "\"%s\": BLAKE3 is %s, manifest.json says %s", f->path, hex, f->hash);
        else if (e->method == 0 && crc != e->crc)
            rc = ai_fail(HZ_AI_ERR_CRC_MISMATCH, HZ_EPARSE, "\"%s\": CRC-32 is %08x, the ZIP header says %08x", f->path, crc, e->crc);
    }
    if (!rc) {
        ai_hasher_content(h, content_out);
        char hex[HZ_AI_HASH_HEX_LEN + 1];
        hz_hex_encode(content_out, 32, hex);
        json_object *v;
        json_object_object_get_ex(r->metadata, "content_hash", &v);
        if (strcmp(hex, json_object_get_string(v)) != 0)
            rc = ai_fail(HZ_AI_ERR_CONTENT_HASH, HZ_ECRYPTO, "content hash is %s, metadata.json says %s", hex, json_object_get_string(v));
        else
            ai_progress(opts, phase, done, total);
    }
    ai_hasher_free(h);
    return rc;
}

int hz_ai_verify(const char *path, const hz_ai_read_opts_t *opts, hz_ai_info_t **out) {
    ai_reason_clear();
    if (out) *out = NULL;
    ai_reader_t r;
    uint8_t content[32];
    int rc = ai_reader_open(&r, path, opts ? opts->limits : NULL);
    if (!rc) rc = ai_verify_data(&r, opts, -1, content);
    hz_ai_info_t *info = rc ? NULL : ai_reader_info(&r);
    if (!rc) rc = ai_sigs_verify(&r, content, opts, info);
    ai_reader_close(&r);
    if (rc) {
        hz_ai_info_free(info);
        return hz_error_wrap(rc, "%s", path);
    }
    info->data_verified = true;
    if (out) *out = info;
    else hz_ai_info_free(info);
    return 0;
}

/* The format's own files, written beside the data so the folder can be packed again. */
static int write_meta_files(ai_reader_t *r, int dirfd) {
    struct { const char *name; const char *text; size_t len; } files[] = {
        {AI_NAME_MANIFEST, r->manifest_text, r->manifest_len},
        {AI_NAME_METADATA, r->metadata_text, r->metadata_len},
    };
    int rc = 0;
    for (size_t i = 0; i < 2 && !rc; i++) {
        int fd;
        if ((rc = create_below(dirfd, files[i].name, &fd))) break;
        rc = ai_write_all(fd, files[i].text, files[i].len, files[i].name);
        close(fd);
    }
    for (size_t i = 0; i < r->nsigs && !rc; i++) {
        char *text;
        size_t len;
        int fd;
        if ((rc = ai_zip_read_small(&r->zip, r->sigs[i].entry, AI_SIG_MAX_BYTES, &text, &len))) break;
        if (!(rc = create_below(dirfd, r->sigs[i].entry->name, &fd))) {
            rc = ai_write_all(fd, text, len, r->sigs[i].entry->name);
            close(fd);
        }
        hz_free(text);
    }
    return rc;
}

static int check_dest(const char *dest) {
    struct stat st;
    if (lstat(dest, &st) != 0) {
        if (errno == ENOENT) return 0;
        return hz_error_errno(HZ_EIO, errno, "%s", dest);
    }
    if (!S_ISDIR(st.st_mode)) return hz_error_set(HZ_EEXIST, "%s exists and is not a folder", dest);
    /* An empty folder is fine: rename(2) replaces an empty directory atomically. */
    DIR *d = opendir(dest);
    if (!d) return hz_error_errno(HZ_EIO, errno, "%s", dest);
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) { empty = false; break; }
    closedir(d);
    return empty ? 0 : hz_error_set(HZ_EEXIST, "%s exists and is not empty", dest);
}

int hz_ai_unpack(const char *path, const char *dest, const hz_ai_read_opts_t *opts, hz_ai_info_t **out) {
    ai_reason_clear();
    if (out) *out = NULL;
    int rc = check_dest(dest);
    if (rc) return rc;
    char *tmpl = hz_sprintf("%s.partial-XXXXXX", dest);
    if (!mkdtemp(tmpl)) {
        rc = hz_error_errno(HZ_EIO, errno, "create a temporary folder beside %s", dest);
        hz_free(tmpl);
        return rc;
    }
    int dirfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ai_reader_t r;
    uint8_t content[32];
    hz_ai_info_t *info = NULL;
    rc = ai_reader_open(&r, path, opts ? opts->limits : NULL);
    if (!rc && dirfd < 0) rc = hz_error_errno(HZ_EIO, errno, "open %s", tmpl);
    if (!rc) rc = ai_verify_data(&r, opts, dirfd, content);
    if (!rc) info = ai_reader_info(&r);
    if (!rc) rc = ai_sigs_verify(&r, content, opts, info);
    if (!rc) rc = write_meta_files(&r, dirfd);
    if (!rc && fsync(dirfd) != 0) rc = hz_error_errno(HZ_EIO, errno, "fsync %s", tmpl);
    ai_reader_close(&r);
    if (dirfd >= 0) close(dirfd);
    if (!rc && rename(tmpl, dest) != 0) rc = hz_error_errno(HZ_EIO, errno, "rename %s to %s", tmpl, dest);
    if (rc) {
        ai_rmtree(tmpl);
        hz_free(tmpl);
        hz_ai_info_free(info);
        return hz_error_wrap(rc, "%s", path);
    }
    hz_free(tmpl);
    chmod(dest, 0755);
    info->data_verified = true;
    if (out) *out = info;
    else hz_ai_info_free(info);
    return 0;
}
