/*
 * Our own strict reader of a ZIP archive's structure. libzip is forgiving by design (it opens what
 * other tools wrote, quirks and all) and hides what a hostile-input check needs - where each
 * entry's bytes lie, which extra fields were present - so the structure is parsed here and every
 * inconsistency is an error with its own reason:
 *
 *   - the end of central directory record (EOCD) must be unique: exactly one candidate whose
 *     comment runs to the end of the file; single disk; counts that agree;
 *   - ZIP64: a locator right before the EOCD and a ZIP64 EOCD right before the locator, whose
 *     fields agree with every EOCD field that is not the 0xFFFF.. marker; a marker without them,
 *     an entry field of 0xFFFFFFFF without a ZIP64 extra field, a duplicate or short or padded
 *     ZIP64 extra field - all rejected;
 *   - the central directory ends exactly where the (ZIP64) EOCD starts and holds exactly the
 *     announced number of entries; extra fields tile their area exactly;
 *   - each entry: no encryption, store or deflate only, stored sizes equal, a path that passes
 *     ai_name_check, no symlink / directory / device (Unix mode in the external attributes, or the
 *     MS-DOS directory bit), deflate ratio and total size within limits;
 *   - each local header: present, same name, method, flags and (without a data descriptor) CRC
 *     and sizes as its central entry; its data ends before the central directory; and no two
 *     entries' byte ranges overlap (overlapping entries are how "zip bombs" without compression
 *     limits multiply their output);
 *   - no two entries share a name.
 *
 * Memory: the central directory is read in one piece (bounded by AI_CD_MAX) and the entries keep
 * only their names; nothing else grows with the archive.
 */
#include "artifact/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64_EOCD 0x06064b50u
#define SIG_Z64_LOC 0x07064b50u
#define EOCD_LEN 22
#define Z64_LOC_LEN 20
#define Z64_EOCD_LEN 56
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define MAX_COMMENT 65535
#define AI_CD_MAX ((uint64_t)128 << 20)
#define RATIO_MIN_SIZE ((uint64_t)64 << 10)

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_STRONG_ENC 0x0040u
#define FLAG_CD_ENC 0x2000u

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int pread_full(int fd, void *buf, size_t len, uint64_t off, const char *what) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { ai_reason_set(HZ_AI_ERR_IO); return hz_error_errno(HZ_EIO, errno, "read %s at offset %llu", what, (unsigned long long)(off + done)); }
        if (n == 0) return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%s at offset %llu is cut off by the end of the file",
                                   what, (unsigned long long)off);
        done += (size_t)n;
    }
    return 0;
}

/* Find the unique EOCD: the record whose comment length reaches exactly the end of the file. */
static int find_eocd(ai_zip_t *z, uint8_t eocd[EOCD_LEN], uint64_t *pos_out) {
    if (z->file_size < EOCD_LEN)
        return ai_fail(HZ_AI_ERR_NOT_ZIP, HZ_EPARSE, "file of %llu bytes is too short to be a ZIP archive",
                       (unsigned long long)z->file_size);
    uint64_t tail = z->file_size < EOCD_LEN + MAX_COMMENT ? z->file_size : EOCD_LEN + MAX_COMMENT;
    uint8_t *buf = hz_malloc((size_t)tail);
    int rc = pread_full(z->fd, buf, (size_t)tail, z->file_size - tail, "end of central directory");
    if (rc) { hz_free(buf); return rc; }
    int found = 0;
    uint64_t pos = 0;
    for (int64_t i = (int64_t)tail - EOCD_LEN; i >= 0; i--) {
        if (le32(buf + i) != SIG_EOCD) continue;
        uint64_t abs = z->file_size - tail + (uint64_t)i;
        if (abs + EOCD_LEN + le16(buf + i + 20) != z->file_size) continue;
        if (found++ == 0) { pos = abs; memcpy(eocd, buf + i, EOCD_LEN); }
    }
    hz_free(buf);
    if (found == 0)
        return ai_fail(HZ_AI_ERR_NOT_ZIP, HZ_EPARSE, "no end of central directory record (not a ZIP archive)");
    if (found > 1)
        return ai_fail(HZ_AI_ERR_NOT_ZIP, HZ_EPARSE, "%d candidate end of central directory records: ambiguous archive", found);
    *pos_out = pos;
    return 0;
}

/* Read the ZIP64 locator and record when present; fill entries/cd_size/cd_offset, checking them
 * against the plain EOCD values. cd_end receives where the central directory must end. */
static int read_trailer(ai_zip_t *z, const uint8_t e[EOCD_LEN], uint64_t eocd_pos, uint64_t *entries,
                        uint64_t *cd_end) {
    uint16_t disk = le16(e + 4), cd_disk = le16(e + 6), n_disk = le16(e + 8), n_total = le16(e + 10);
    uint32_t cd_size = le32(e + 12), cd_off = le32(e + 16);
    bool markers = disk == 0xFFFF || cd_disk == 0xFFFF || n_disk == 0xFFFF || n_total == 0xFFFF ||
                   cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu;
    uint8_t loc[Z64_LOC_LEN];
    bool has_loc = false;
    if (eocd_pos >= Z64_LOC_LEN) {
        int rc = pread_full(z->fd, loc, sizeof(loc), eocd_pos - Z64_LOC_LEN, "ZIP64 locator");
        if (rc) return rc;
        has_loc = le32(loc) == SIG_Z64_LOC;
    }
    if (!has_loc) {
        if (markers)
            return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "end of central directory at offset %llu uses ZIP64 markers but no ZIP64 locator precedes it",
                           (unsigned long long)eocd_pos);
        if (disk != 0 || cd_disk != 0)
            return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "multi-disk archive (disk %u, central directory on disk %u)", disk, cd_disk);
        if (n_disk != n_total)
            return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "end of central directory: %u entries on this disk but %u in total", n_disk, n_total);
        *entries = n_total;
        z->cd_size = cd_size;
        z->cd_offset = cd_off;
        *cd_end = eocd_pos;
        return 0;
    }
    uint64_t loc_pos = eocd_pos - Z64_LOC_LEN;
    uint32_t loc_disk = le32(loc + 4), loc_disks = le32(loc + 16);
    uint64_t rec_off = le64(loc + 8);
    if (loc_disk != 0 || loc_disks > 1)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "ZIP64 locator names disk %u of %u: multi-disk archives are not supported", loc_disk, loc_disks);
    if (rec_off > loc_pos || loc_pos - rec_off < Z64_EOCD_LEN)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "ZIP64 locator points at offset %llu, which leaves no room for a ZIP64 end record before offset %llu",
                       (unsigned long long)rec_off, (unsigned long long)loc_pos);
    uint8_t r[Z64_EOCD_LEN];
    int rc = pread_full(z->fd, r, sizeof(r), rec_off, "ZIP64 end of central directory");
    if (rc) return rc;
    if (le32(r) != SIG_Z64_EOCD)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "no ZIP64 end of central directory record at offset %llu", (unsigned long long)rec_off);
    uint64_t rec_size = le64(r + 4);
    if (rec_size < Z64_EOCD_LEN - 12 || rec_size > loc_pos - rec_off - 12 || rec_off + 12 + rec_size != loc_pos)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "ZIP64 end record at offset %llu declares %llu bytes but the locator is at offset %llu",
                       (unsigned long long)rec_off, (unsigned long long)rec_size, (unsigned long long)loc_pos);
    uint32_t zdisk = le32(r + 16), zcd_disk = le32(r + 20);
    uint64_t zn_disk = le64(r + 24), zn_total = le64(r + 32), zcd_size = le64(r + 40), zcd_off = le64(r + 48);
    if (zdisk != 0 || zcd_disk != 0)
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "multi-disk archive (ZIP64 disk %u, central directory on disk %u)", zdisk, zcd_disk);
    if (zn_disk != zn_total)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "ZIP64 end record: %llu entries on this disk but %llu in total",
                       (unsigned long long)zn_disk, (unsigned long long)zn_total);
    if ((disk != 0xFFFF && disk != 0) || (cd_disk != 0xFFFF && cd_disk != 0) ||
        (n_total != 0xFFFF && n_total != zn_total) || (n_disk != 0xFFFF && n_disk != zn_disk) ||
        (cd_size != 0xFFFFFFFFu && cd_size != zcd_size) || (cd_off != 0xFFFFFFFFu && cd_off != zcd_off))
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "end of central directory (%u entries, %u bytes at %u) disagrees with the ZIP64 end record (%llu entries, %llu bytes at %llu)",
                       n_total, cd_size, cd_off, (unsigned long long)zn_total, (unsigned long long)zcd_size, (unsigned long long)zcd_off);
    z->zip64 = true;
    *entries = zn_total;
    z->cd_size = zcd_size;
    z->cd_offset = zcd_off;
    *cd_end = rec_off;
    return 0;
}

typedef struct {
    bool have;
    uint64_t usize, csize, offset;
    uint32_t disk;
} z64_t;

/* Walk the extra fields of one header; they must tile [p, p+len) exactly. For the central
 * directory (central = true) the ZIP64 field must hold exactly the fields marked 0xFFFF..; in a
 * local header it holds both sizes. */
static int parse_extra(const uint8_t *p, size_t len, bool central, uint32_t usize32, uint32_t csize32,
                       uint32_t off32, uint16_t disk16, z64_t *z, const char *what) {
    memset(z, 0, sizeof(*z));
    size_t i = 0;
    while (i < len) {
        if (len - i < 4)
            return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%s: %zu stray bytes at the end of the extra field", what, len - i);
        uint16_t id = le16(p + i), sz = le16(p + i + 2);
        if (sz > len - i - 4)
            return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%s: extra field 0x%04x of %u bytes overruns the extra area", what, id, sz);
        if (id == 0x0001) {
            if (z->have) return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "%s: two ZIP64 extra fields", what);
            z->have = true;
            const uint8_t *f = p + i + 4;
            size_t need = 0;
            if (central) {
                if (usize32 == 0xFFFFFFFFu) { if (sz < need + 8) goto short_field; z->usize = le64(f + need); need += 8; }
                if (csize32 == 0xFFFFFFFFu) { if (sz < need + 8) goto short_field; z->csize = le64(f + need); need += 8; }
                if (off32 == 0xFFFFFFFFu) { if (sz < need + 8) goto short_field; z->offset = le64(f + need); need += 8; }
                if (disk16 == 0xFFFF) { if (sz < need + 4) goto short_field; z->disk = le32(f + need); need += 4; }
                if (sz != need)
                    return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "%s: ZIP64 extra field of %u bytes where the marked fields take %zu", what, sz, need);
            } else if (usize32 == 0xFFFFFFFFu || csize32 == 0xFFFFFFFFu) {
                if (sz < 16) goto short_field;
                z->usize = le64(f);
                z->csize = le64(f + 8);
            }
        }
        i += 4 + (size_t)sz;
    }
    return 0;
short_field:
    return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "%s: ZIP64 extra field too short for the fields marked 0xFFFFFFFF", what);
}

static int cmp_name(const void *a, const void *b) {
    return ai_name_cmp((*(ai_zentry_t *const *)a)->name, (*(ai_zentry_t *const *)b)->name);
}

typedef struct { uint64_t start, end; uint32_t index; } span_t;

static int cmp_span(const void *a, const void *b) {
    const span_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* One central directory entry at cd[*pos]; advances *pos. */
static int parse_central(ai_zip_t *z, const uint8_t *cd, size_t cd_len, size_t *pos, uint32_t idx,
                         const hz_ai_limits_t *lim, uint64_t *total, ai_zentry_t *e) {
    char what[48];
    snprintf(what, sizeof(what), "entry %u", idx);
    size_t p = *pos;
    if (cd_len - p < CENTRAL_LEN || le32(cd + p) != SIG_CENTRAL)
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "central directory entry %u at offset %llu: %s", idx,
                       (unsigned long long)(z->cd_offset + p), cd_len - p < CENTRAL_LEN ? "truncated" : "bad signature");
    const uint8_t *h = cd + p;
    uint16_t made_by = le16(h + 4), flags = le16(h + 8), method = le16(h + 10);
    uint32_t crc = le32(h + 16), csize32 = le32(h + 20), usize32 = le32(h + 24);
    uint16_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32), disk16 = le16(h + 34);
    uint32_t ext = le32(h + 38), off32 = le32(h + 42);
    if (cd_len - p - CENTRAL_LEN < (size_t)nlen + xlen + clen)
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%s: name, extra and comment run past the central directory", what);
    const char *name = (const char *)h + CENTRAL_LEN;
    e->index = idx;
    e->name = hz_strndup(name, nlen); /* ai_name_check below rejects an embedded NUL */
    int rc = ai_name_check(name, nlen, what);
    if (rc) return rc;
    snprintf(what, sizeof(what), "entry %u", idx);
    z64_t x;
    char named[64 + 48];
    snprintf(named, sizeof(named), "entry %u \"%.48s\"", idx, e->name);
    if ((rc = parse_extra(h + CENTRAL_LEN + nlen, xlen, true, usize32, csize32, off32, disk16, &x, named))) return rc;
    if ((usize32 == 0xFFFFFFFFu || csize32 == 0xFFFFFFFFu || off32 == 0xFFFFFFFFu || disk16 == 0xFFFF) && !x.have)
        return ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "%s: a field is 0xFFFFFFFF but there is no ZIP64 extra field", named);
    e->usize = usize32 == 0xFFFFFFFFu ? x.usize : usize32;
    e->csize = csize32 == 0xFFFFFFFFu ? x.csize : csize32;
    e->header_offset = off32 == 0xFFFFFFFFu ? x.offset : off32;
    uint32_t disk = disk16 == 0xFFFF ? x.disk : disk16;
    e->crc = crc;
    e->flags = flags;
    e->method = method;
    *pos = p + CENTRAL_LEN + nlen + xlen + clen;

    if (disk != 0) return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%s starts on disk %u: multi-disk archives are not supported", named, disk);
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENC | FLAG_CD_ENC) || method == 99)
        return ai_fail(HZ_AI_ERR_ENCRYPTED, HZ_EPARSE, "%s is encrypted (flags 0x%04x, method %u)", named, flags, method);
    unsigned host = made_by >> 8;
    unsigned mode = ext >> 16;
    if (host == 3 || host == 19) { /* Unix, OS X: st_mode in the high half */
        unsigned type = mode & 0170000u;
        if (type == 0120000u) return ai_fail(HZ_AI_ERR_SYMLINK, HZ_EPARSE, "%s is a symbolic link (mode 0%o)", named, mode);
        if (type != 0 && type != 0100000u)
            return ai_fail(HZ_AI_ERR_SPECIAL_FILE, HZ_EPARSE, "%s is not a regular file (mode 0%o)", named, mode);
    }
    if (ext & 0x10) return ai_fail(HZ_AI_ERR_SPECIAL_FILE, HZ_EPARSE, "%s has the directory attribute", named);
    if (method != 0 && method != 8)
        return ai_fail(HZ_AI_ERR_COMPRESSION, HZ_EPARSE, "%s uses compression method %u (only 0 store and 8 deflate are allowed)", named, method);
    if (method == 0 && e->csize != e->usize)
        return ai_fail(HZ_AI_ERR_COMPRESSION, HZ_EPARSE, "%s is stored but its compressed size %llu differs from its size %llu", named,
                       (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (method == 8) {
        if (e->usize > lim->max_deflated_bytes)
            return ai_fail(HZ_AI_ERR_BOMB_TOTAL, HZ_ETOOBIG, "%s inflates to %llu bytes, over the limit of %llu for a deflated entry", named,
                           (unsigned long long)e->usize, (unsigned long long)lim->max_deflated_bytes);
        if (e->usize > RATIO_MIN_SIZE && e->usize / (e->csize ? e->csize : 1) > lim->max_ratio)
            return ai_fail(HZ_AI_ERR_BOMB_RATIO, HZ_ETOOBIG, "%s inflates %llu bytes into %llu, a ratio over the limit of %llu", named,
                           (unsigned long long)e->csize, (unsigned long long)e->usize, (unsigned long long)lim->max_ratio);
    }
    if (e->usize > lim->max_total_bytes - *total)
        return ai_fail(HZ_AI_ERR_BOMB_TOTAL, HZ_ETOOBIG, "entries up to %s add up to more than the limit of %llu bytes", named,
                       (unsigned long long)lim->max_total_bytes);
    *total += e->usize;
    return 0;
}

/* The local header of e: same identity as the central entry, and where its data lies. */
static int check_local(ai_zip_t *z, ai_zentry_t *e, span_t *span) {
    char named[64 + 48];
    snprintf(named, sizeof(named), "entry %u \"%.48s\"", e->index, e->name);
    if (e->header_offset > z->cd_offset || z->cd_offset - e->header_offset < LOCAL_LEN)
        return ai_fail(HZ_AI_ERR_OVERLAP, HZ_EPARSE, "%s: local header at offset %llu runs into the central directory at %llu", named,
                       (unsigned long long)e->header_offset, (unsigned long long)z->cd_offset);
    uint8_t h[LOCAL_LEN];
    int rc = pread_full(z->fd, h, sizeof(h), e->header_offset, "local header");
    if (rc) return rc;
    if (le32(h) != SIG_LOCAL)
        return ai_fail(HZ_AI_ERR_HEADER_MISMATCH, HZ_EPARSE, "%s: no local header signature at offset %llu", named, (unsigned long long)e->header_offset);
    uint16_t flags = le16(h + 6), method = le16(h + 8), nlen = le16(h + 26), xlen = le16(h + 28);
    uint32_t crc = le32(h + 14), csize32 = le32(h + 18), usize32 = le32(h + 22);
    uint64_t var_end = e->header_offset + LOCAL_LEN + nlen + xlen;
    if (var_end > z->cd_offset)
        return ai_fail(HZ_AI_ERR_OVERLAP, HZ_EPARSE, "%s: local header name and extra run into the central directory", named);
    uint8_t *var = hz_malloc((size_t)nlen + xlen + 1);
    if ((rc = pread_full(z->fd, var, (size_t)nlen + xlen, e->header_offset + LOCAL_LEN, "local header name"))) goto out;
    if (nlen != strlen(e->name) || memcmp(var, e->name, nlen) != 0) {
        rc = ai_fail(HZ_AI_ERR_HEADER_MISMATCH, HZ_EPARSE, "%s: local header at offset %llu names \"%.*s\"", named,
                     (unsigned long long)e->header_offset, (int)(nlen > 64 ? 64 : nlen), (char *)var);
        goto out;
    }
    if (method != e->method || ((flags ^ e->flags) & (FLAG_ENCRYPTED | FLAG_DESCRIPTOR))) {
        rc = ai_fail(HZ_AI_ERR_HEADER_MISMATCH, HZ_EPARSE, "%s: local header says method %u flags 0x%04x, central directory method %u flags 0x%04x",
                     named, method, flags, e->method, e->flags);
        goto out;
    }
    z64_t x;
    if ((rc = parse_extra(var + nlen, xlen, false, usize32, csize32, 0, 0, &x, named))) goto out;
    if ((usize32 == 0xFFFFFFFFu || csize32 == 0xFFFFFFFFu) && !x.have) {
        rc = ai_fail(HZ_AI_ERR_ZIP64, HZ_EPARSE, "%s: local header size is 0xFFFFFFFF but there is no ZIP64 extra field", named);
        goto out;
    }
    uint64_t lusize = usize32 == 0xFFFFFFFFu ? x.usize : usize32;
    uint64_t lcsize = csize32 == 0xFFFFFFFFu ? x.csize : csize32;
    bool descriptor = (e->flags & FLAG_DESCRIPTOR) != 0;
    /* With a data descriptor the local fields may be zero; whatever is there must still agree. */
    if ((!descriptor || crc != 0) && crc != e->crc) {
        rc = ai_fail(HZ_AI_ERR_HEADER_MISMATCH, HZ_EPARSE, "%s: local header CRC %08x, central directory %08x", named, crc, e->crc);
        goto out;
    }
    if ((!descriptor || lusize != 0 || lcsize != 0) && (lusize != e->usize || lcsize != e->csize)) {
        rc = ai_fail(HZ_AI_ERR_HEADER_MISMATCH, HZ_EPARSE, "%s: local header sizes %llu/%llu, central directory %llu/%llu", named,
                     (unsigned long long)lusize, (unsigned long long)lcsize, (unsigned long long)e->usize, (unsigned long long)e->csize);
        goto out;
    }
    e->data_offset = var_end;
    if (e->csize > z->cd_offset - var_end) {
        rc = ai_fail(HZ_AI_ERR_OVERLAP, HZ_EPARSE, "%s: %llu bytes of data at offset %llu run into the central directory at %llu", named,
                     (unsigned long long)e->csize, (unsigned long long)var_end, (unsigned long long)z->cd_offset);
        goto out;
    }
    span->start = e->header_offset;
    span->end = var_end + e->csize + (descriptor ? 12 : 0);
    span->index = e->index;
out:
    hz_free(var);
    return rc;
}

int ai_zip_open(ai_zip_t *z, int fd, const hz_ai_limits_t *lim) {
    memset(z, 0, sizeof(*z));
    z->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) { ai_reason_set(HZ_AI_ERR_IO); return hz_error_errno(HZ_EIO, errno, "fstat"); }
    if (!S_ISREG(st.st_mode)) return ai_fail(HZ_AI_ERR_NOT_ZIP, HZ_EINVAL, "not a regular file");
    z->file_size = (uint64_t)st.st_size;

    uint8_t eocd[EOCD_LEN] = {0};
    uint64_t eocd_pos = 0, nentries = 0, cd_end = 0;
    int rc = find_eocd(z, eocd, &eocd_pos);
    if (!rc) rc = read_trailer(z, eocd, eocd_pos, &nentries, &cd_end);
    if (rc) return rc;
    if (z->cd_offset > cd_end || cd_end - z->cd_offset != z->cd_size)
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "central directory of %llu bytes at offset %llu does not end where the end record starts (offset %llu)",
                       (unsigned long long)z->cd_size, (unsigned long long)z->cd_offset, (unsigned long long)cd_end);
    if (nentries > lim->max_entries)
        return ai_fail(HZ_AI_ERR_BOMB_TOTAL, HZ_ETOOBIG, "%llu entries exceed the limit of %llu", (unsigned long long)nentries,
                       (unsigned long long)lim->max_entries);
    if (z->cd_size > AI_CD_MAX)
        return ai_fail(HZ_AI_ERR_BOMB_TOTAL, HZ_ETOOBIG, "central directory of %llu bytes exceeds %llu", (unsigned long long)z->cd_size,
                       (unsigned long long)AI_CD_MAX);
    if (nentries > z->cd_size / CENTRAL_LEN)
        return ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "%llu entries cannot fit in a central directory of %llu bytes",
                       (unsigned long long)nentries, (unsigned long long)z->cd_size);

    uint8_t *cd = hz_malloc(z->cd_size ? (size_t)z->cd_size : 1);
    if ((rc = pread_full(fd, cd, (size_t)z->cd_size, z->cd_offset, "central directory"))) { hz_free(cd); return rc; }
    z->entries = hz_calloc(nentries ? (size_t)nentries : 1, sizeof(ai_zentry_t));
    size_t pos = 0;
    uint64_t total = 0;
    for (uint64_t i = 0; i < nentries; i++) {
        z->n = (size_t)i + 1;
        if ((rc = parse_central(z, cd, (size_t)z->cd_size, &pos, (uint32_t)i, lim, &total, &z->entries[i]))) break;
    }
    if (!rc && pos != z->cd_size)
        rc = ai_fail(HZ_AI_ERR_ZIP_STRUCTURE, HZ_EPARSE, "central directory has %llu bytes after its %llu announced entries",
                     (unsigned long long)(z->cd_size - pos), (unsigned long long)nentries);
    hz_free(cd);
    if (rc) return rc;

    span_t *spans = hz_calloc(z->n ? z->n : 1, sizeof(span_t));
    for (size_t i = 0; i < z->n && !rc; i++) rc = check_local(z, &z->entries[i], &spans[i]);
    if (!rc) {
        qsort(spans, z->n, sizeof(span_t), cmp_span);
        for (size_t i = 1; i < z->n; i++) {
            if (spans[i].start < spans[i - 1].end) {
                rc = ai_fail(HZ_AI_ERR_OVERLAP, HZ_EPARSE, "entry %u (offset %llu) overlaps entry %u (bytes %llu..%llu)", spans[i].index,
                             (unsigned long long)spans[i].start, spans[i - 1].index, (unsigned long long)spans[i - 1].start,
                             (unsigned long long)spans[i - 1].end);
                break;
            }
        }
    }
    hz_free(spans);
    if (rc) return rc;

    z->by_name = hz_calloc(z->n ? z->n : 1, sizeof(ai_zentry_t *));
    for (size_t i = 0; i < z->n; i++) z->by_name[i] = &z->entries[i];
    qsort(z->by_name, z->n, sizeof(ai_zentry_t *), cmp_name);
    for (size_t i = 1; i < z->n; i++)
        if (ai_name_cmp(z->by_name[i]->name, z->by_name[i - 1]->name) == 0)
            return ai_fail(HZ_AI_ERR_DUPLICATE, HZ_EPARSE, "entries %u and %u are both named \"%s\"", z->by_name[i - 1]->index,
                           z->by_name[i]->index, z->by_name[i]->name);
    return 0;
}

void ai_zip_close(ai_zip_t *z) {
    if (z->za) zip_discard(z->za);
    for (size_t i = 0; i < z->n; i++) hz_free(z->entries[i].name);
    hz_free(z->entries);
    hz_free(z->by_name);
    memset(z, 0, sizeof(*z));
    z->fd = -1;
}

const ai_zentry_t *ai_zip_find(const ai_zip_t *z, const char *name) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ai_name_cmp(z->by_name[mid]->name, name);
        if (c == 0) return z->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
