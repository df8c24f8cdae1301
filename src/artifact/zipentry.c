/*
 * Reading one entry's bytes, after zipread.c has vetted the structure. Stored entries - all large
 * weights - are read in place with pread at the data offset our own parser found: no copy through
 * a decompression layer, no dependence on libzip's view. Deflated entries (small text files) go
 * through libzip, opened lazily on a dup of the same descriptor; before its first use we check
 * that libzip sees the same entries in the same order, so the two parsers cannot disagree about
 * which bytes a name means.
 *
 * Size is enforced here: a stream delivers exactly the central directory's size, and a deflated
 * stream that ends early or still has bytes after it is rejected, so a lying header cannot make
 * us write more (or less) than declared. libzip checks a deflated entry's CRC when it reaches the
 * end; stored entries' CRCs are checked by the hashing pipeline (and by ai_zip_read_small).
 */
#include "artifact/internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int open_libzip(ai_zip_t *z) {
    if (z->za) return 0;
    int fd = dup(z->fd);
    if (fd < 0) { ai_reason_set(HZ_AI_ERR_IO); return hz_error_errno(HZ_EIO, errno, "dup"); }
    int zerr = 0;
    zip_t *za = zip_fdopen(fd, ZIP_CHECKCONS, &zerr);
    if (!za) {
        close(fd);
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int rc = ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "libzip cannot open the archive: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || (uint64_t)n != z->n) {
        zip_discard(za);
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "libzip sees %lld entries, the central directory has %zu", (long long)n, z->n);
    }
    for (size_t i = 0; i < z->n; i++) {
        const char *name = zip_get_name(za, i, ZIP_FL_ENC_RAW);
        if (!name || strcmp(name, z->entries[i].name) != 0) {
            zip_discard(za);
            return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "libzip names entry %zu differently", i);
        }
    }
    z->za = za;
    return 0;
}

int ai_zstream_open(ai_zip_t *z, const ai_zentry_t *e, ai_zstream_t *s) {
    memset(s, 0, sizeof(*s));
    s->z = z;
    s->e = e;
    if (e->method == 0) return 0;
    int rc = open_libzip(z);
    if (rc) return rc;
    s->zf = zip_fopen_index(z->za, e->index, 0);
    if (!s->zf)
        return ai_fail(HZ_AI_ERR_COMPRESSION, HZ_EPARSE, "\"%s\": cannot open for reading: %s", e->name, zip_strerror(z->za));
    return 0;
}

static int zfile_error(ai_zstream_t *s) {
    zip_error_t *ze = zip_file_get_error(s->zf);
    if (zip_error_code_zip(ze) == ZIP_ER_CRC)
        return ai_fail(HZ_AI_ERR_CRC_MISMATCH, HZ_EPARSE, "\"%s\": CRC-32 of the inflated data differs from the header's %08x", s->e->name, s->e->crc);
    return ai_fail(HZ_AI_ERR_COMPRESSION, HZ_EPARSE, "\"%s\": inflating failed after %llu bytes: %s", s->e->name,
                   (unsigned long long)s->pos, zip_error_strerror(ze));
}

int ai_zstream_read(ai_zstream_t *s, void *buf, size_t cap, size_t *got) {
    *got = 0;
    const ai_zentry_t *e = s->e;
    uint64_t left = e->usize - s->pos;
    size_t want = left < cap ? (size_t)left : cap;
    if (e->method == 0) {
        size_t done = 0;
        while (done < want) {
            ssize_t n = pread(s->z->fd, (char *)buf + done, want - done, (off_t)(e->data_offset + s->pos + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) { ai_reason_set(HZ_AI_ERR_IO); return hz_error_errno(HZ_EIO, errno, "read \"%s\"", e->name); }
            if (n == 0) return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "\"%s\": file ends inside the entry's data", e->name);
            done += (size_t)n;
        }
        s->pos += done;
        *got = done;
        return 0;
    }
    if (want == 0) { /* at the declared end: the stream must end here too, CRC intact */
        uint8_t extra;
        zip_int64_t n = zip_fread(s->zf, &extra, 1);
        if (n < 0) return zfile_error(s);
        if (n > 0)
            return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "\"%s\" inflates to more than its declared %llu bytes", e->name,
                           (unsigned long long)e->usize);
        return 0;
    }
    size_t done = 0;
    while (done < want) {
        zip_int64_t n = zip_fread(s->zf, (char *)buf + done, want - done);
        if (n < 0) return zfile_error(s);
        if (n == 0)
            return ai_fail(HZ_AI_ERR_SIZE_MISMATCH, HZ_EPARSE, "\"%s\" inflates to %llu bytes, not its declared %llu", e->name,
                           (unsigned long long)(s->pos + done), (unsigned long long)e->usize);
        done += (size_t)n;
    }
    s->pos += done;
    *got = done;
    return 0;
}

void ai_zstream_close(ai_zstream_t *s) {
    if (s->zf) zip_fclose(s->zf);
    s->zf = NULL;
}

int ai_zip_read_small(ai_zip_t *z, const ai_zentry_t *e, uint64_t max, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (e->usize > max)
        return ai_fail(HZ_AI_ERR_BOMB_TOTAL, HZ_ETOOBIG, "\"%s\" is %llu bytes, over the limit of %llu", e->name,
                       (unsigned long long)e->usize, (unsigned long long)max);
    ai_zstream_t s;
    int rc = ai_zstream_open(z, e, &s);
    if (rc) return rc;
    char *buf = hz_malloc((size_t)e->usize + 1);
    size_t have = 0, got;
    do {
        rc = ai_zstream_read(&s, buf + have, (size_t)e->usize - have, &got);
        have += got;
    } while (!rc && got > 0);
    ai_zstream_close(&s);
    if (!rc && e->method == 0 && ai_crc32(0, buf, have) != e->crc)
        rc = ai_fail(HZ_AI_ERR_CRC_MISMATCH, HZ_EPARSE, "\"%s\": CRC-32 %08x differs from the header's %08x", e->name,
                     ai_crc32(0, buf, have), e->crc);
    if (rc) { hz_free(buf); return rc; }
    buf[have] = '\0';
    *out = buf;
    *len = have;
    return 0;
}
