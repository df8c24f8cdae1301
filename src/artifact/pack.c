/*
 * hz_ai_pack: a folder in, an .ai archive out, in two passes over the data.
 *
 * The manifest (with every file's BLAKE3) and the metadata (with the content hash) come first in
 * the archive, as in the reference, so the hashes must be known before writing starts: pass one
 * streams every file through the hashing pipeline (hasher.c, two threads); pass two is libzip's
 * zip_close, which streams the files again into the archive with their CRC-32s. Neither pass
 * holds more than a few buffers, whatever the sizes.
 *
 * Compression: large files and everything under data/weights/ are stored, so the verifier and the
 * model loader read them in place; small text files (at most AI_DEFLATE_MAX bytes, no NUL and
 * valid UTF-8 in their first 64 KiB) are deflated, unless deflate would not make them smaller. The manifest records each entry's compressed
 * size, which libzip only learns while writing; so each deflated file is first compressed into
 * memory once with the same libzip settings (deflate is deterministic) to learn it, and after
 * writing, the archive's central directory is checked against the manifest.
 *
 * The archive is written by libzip to a temporary file beside the output and renamed into place;
 * a source file that changes between the passes (size or mtime) fails the pack.
 */
#include "artifact/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AI_DEFLATE_MAX ((uint64_t)16 << 20)
#define TEXT_SNIFF ((size_t)64 << 10)
#define PROGRESS_STEP ((uint64_t)32 << 20)

typedef struct {
    char *src;
    char *path;
    uint64_t size;
    struct timespec mtime;
    uint8_t hash[32];
    bool deflate;
    uint64_t csize;
} pfile_t;

typedef struct {
    pfile_t *v;
    size_t n, cap;
    json_object *base;    /* metadata.json found at the top of the folder */
    const char *type_name;
} plist_t;

static void plist_free(plist_t *l) {
    for (size_t i = 0; i < l->n; i++) { hz_free(l->v[i].src); hz_free(l->v[i].path); }
    hz_free(l->v);
    json_object_put(l->base);
}

/* Walk dir/rel. Hidden names (".git", ".cache", ...) are skipped; so, at the top, are the format's
 * own files, which are regenerated. */
static int walk(plist_t *l, const char *root, const char *rel) {
    char *dirpath = *rel ? hz_sprintf("%s/%s", root, rel) : hz_strdup(root);
    DIR *d = opendir(dirpath);
    if (!d) {
        int rc = hz_error_errno(HZ_EIO, errno, "%s", dirpath);
        hz_free(dirpath);
        return rc;
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (!*rel && (ai_name_is_reserved(de->d_name) || strcmp(de->d_name, "signatures") == 0)) continue;
        char *sub = *rel ? hz_sprintf("%s/%s", rel, de->d_name) : hz_strdup(de->d_name);
        char *full = hz_sprintf("%s/%s", root, sub);
        struct stat st, lst;
        if (lstat(full, &lst) != 0 || stat(full, &st) != 0) {
            rc = hz_error_errno(HZ_EIO, errno, "%s", full);
        } else if (S_ISDIR(st.st_mode)) {
            if (S_ISLNK(lst.st_mode)) rc = hz_error_set(HZ_EINVAL, "%s is a symbolic link to a folder; links to folders are not followed", full);
            else rc = walk(l, root, sub);
        } else if (!S_ISREG(st.st_mode)) {
            rc = hz_error_set(HZ_EINVAL, "%s is not a regular file", full);
        } else {
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->v = hz_realloc(l->v, l->cap * sizeof(pfile_t));
            }
            pfile_t *f = &l->v[l->n++];
            memset(f, 0, sizeof(*f));
            f->src = full;
            full = NULL;
            f->path = ai_layout_place(sub, l->type_name);
            f->size = (uint64_t)st.st_size;
            f->mtime = st.st_mtim;
        }
        hz_free(full);
        hz_free(sub);
    }
    closedir(d);
    hz_free(dirpath);
    return rc;
}

static int cmp_pfile(const void *a, const void *b) { return ai_name_cmp(((const pfile_t *)a)->path, ((const pfile_t *)b)->path); }

static bool looks_like_text(const uint8_t *p, size_t n) {
    if (memchr(p, 0, n)) return false;
    size_t ok = hz_utf8_valid_prefix((const char *)p, n);
    return ok == n || n - ok < 4; /* a sequence cut by the sniff window is fine */
}

/* Pass one: the file's BLAKE3 and its part of the content hash. */
static int hash_file(ai_hasher_t *h, pfile_t *f, const hz_ai_pack_opts_t *o, uint64_t *done, uint64_t total, uint64_t *next) {
    int fd = open(f->src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", f->src);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ai_hasher_begin(h, f->path);
    uint64_t have = 0;
    int rc = 0;
    bool first = true;
    for (;;) {
        uint8_t *buf = ai_hasher_buf(h);
        size_t fill = 0;
        while (fill < AI_HASH_BUF) {
            ssize_t n = read(fd, buf + fill, AI_HASH_BUF - fill);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) { rc = hz_error_errno(HZ_EIO, errno, "read %s", f->src); break; }
            if (n == 0) break;
            fill += (size_t)n;
        }
        if (rc || fill == 0) break;
        if (first) {
            f->deflate = f->size <= AI_DEFLATE_MAX && !hz_str_starts_with(f->path, "data/weights/") &&
                         looks_like_text(buf, fill < TEXT_SNIFF ? fill : TEXT_SNIFF);
            first = false;
        }
        ai_hasher_feed(h, buf, fill);
        have += fill;
        *done += fill;
        if (*done >= *next) {
            *next = *done + PROGRESS_STEP;
            if (o->progress && !o->progress(o->progress_ctx, "hash", *done, total)) { rc = hz_error_set(HZ_ECLOSED, "cancelled"); break; }
        }
    }
    close(fd);
    ai_hasher_end(h, f->hash, NULL);
    if (!rc && have != f->size) rc = hz_error_set(HZ_EIO, "%s changed while being packed (%llu bytes, then %llu)", f->src,
                                                  (unsigned long long)f->size, (unsigned long long)have);
    return rc;
}

static int zerr(int code, zip_error_t *ze, const char *what) {
    return hz_error_set(code, "%s: %s", what, zip_error_strerror(ze));
}

/* The compressed size libzip will give f, by compressing it into memory once. */
static int deflated_size(pfile_t *f) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!mem) { int rc = zerr(HZ_EINTERNAL, &ze, "libzip buffer"); zip_error_fini(&ze); return rc; }
    int rc = 0;
    zip_source_keep(mem);
    zip_t *za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze);
    zip_source_t *src = za ? zip_source_file_create(f->src, 0, -1, &ze) : NULL;
    zip_int64_t idx = -1;
    if (src && (idx = zip_file_add(za, "x", src, 0)) < 0) zip_source_free(src);
    if (idx < 0 || zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 0) != 0 || zip_close(za) != 0) {
        rc = hz_error_set(HZ_EIO, "compressing %s: %s", f->src, za ? zip_strerror(za) : zip_error_strerror(&ze));
        if (za) zip_discard(za);
    } else {
        zip_source_keep(mem);
        zip_t *rz = zip_open_from_source(mem, ZIP_RDONLY, &ze);
        zip_stat_t st;
        if (!rz || zip_stat_index(rz, 0, 0, &st) != 0) rc = hz_error_set(HZ_EINTERNAL, "reading back the compressed %s", f->src);
        else f->csize = st.comp_size;
        if (rz) zip_discard(rz);
        else zip_source_free(mem);
    }
    zip_source_free(mem);
    zip_error_fini(&ze);
    return rc;
}

typedef struct {
    const hz_ai_pack_opts_t *o;
    uint64_t total;
    bool cancelled;
} zprog_t;

static void on_zip_progress(zip_t *za, double p, void *ud) {
    (void)za;
    zprog_t *z = ud;
    if (z->o->progress && !z->o->progress(z->o->progress_ctx, "write", (uint64_t)(p * (double)z->total), z->total)) z->cancelled = true;
}

static int on_zip_cancel(zip_t *za, void *ud) {
    (void)za;
    return ((zprog_t *)ud)->cancelled;
}

/* Add name from a buffer that outlives zip_close. */
static int add_buffer(zip_t *za, const char *name, const void *data, size_t len, bool deflate) {
    zip_source_t *s = zip_source_buffer(za, data, len, 0);
    zip_int64_t idx = s ? zip_file_add(za, name, s, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
        if (s) zip_source_free(s);
        return hz_error_set(HZ_EINTERNAL, "adding %s: %s", name, zip_strerror(za));
    }
    zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16);
    return 0;
}

static int add_file(zip_t *za, const pfile_t *f) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *s = zip_source_file_create(f->src, 0, -1, &ze);
    zip_int64_t idx = s ? zip_file_add(za, f->path, s, ZIP_FL_ENC_UTF_8) : -1;
    int rc = 0;
    if (idx < 0) {
        rc = hz_error_set(HZ_EIO, "adding %s: %s", f->src, s ? zip_strerror(za) : zip_error_strerror(&ze));
        if (s) zip_source_free(s);
    } else {
        zip_set_file_compression(za, (zip_uint64_t)idx, f->deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
        zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16);
    }
    zip_error_fini(&ze);
    return rc;
}

typedef struct {
    char name[96];
    hz_buf_t text;
} psig_t;

/* Write the archive. */
static int write_archive(const char *out_path, const plist_t *l, const hz_buf_t *manifest, const hz_buf_t *metadata,
                         const psig_t *sigs, size_t nsigs, const hz_ai_pack_opts_t *o, uint64_t total) {
    static const uint8_t format[AI_FORMAT_SIZE] = {'H', 'A', 'I', 'F', HZ_AI_FORMAT_VERSION, 0, 0, 0};
    int zcode = 0;
    zip_t *za = zip_open(out_path, ZIP_CREATE | ZIP_TRUNCATE, &zcode);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zcode);
        int rc = hz_error_set(HZ_EIO, "%s: %s", out_path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    int rc = add_buffer(za, AI_NAME_FORMAT, format, sizeof(format), false);
    if (!rc) rc = add_buffer(za, AI_NAME_MANIFEST, manifest->data, manifest->len, true);
    if (!rc) rc = add_buffer(za, AI_NAME_METADATA, metadata->data, metadata->len, true);
    for (size_t i = 0; i < nsigs && !rc; i++) rc = add_buffer(za, sigs[i].name, sigs[i].text.data, sigs[i].text.len, true);
    for (size_t i = 0; i < l->n && !rc; i++) rc = add_file(za, &l->v[i]);
    if (rc) { zip_discard(za); return rc; }
    zprog_t zp = {o, total, false};
    zip_register_progress_callback_with_state(za, 0.002, on_zip_progress, NULL, &zp);
    zip_register_cancel_callback_with_state(za, on_zip_cancel, NULL, &zp);
    if (zip_close(za) != 0) {
        rc = zp.cancelled ? hz_error_set(HZ_ECLOSED, "cancelled") : hz_error_set(HZ_EIO, "writing %s: %s", out_path, zip_strerror(za));
        zip_discard(za);
    }
    return rc;
}

/* The written archive's central directory must say what the manifest says. */
static int check_written(const char *out_path, const plist_t *l) {
    int fd = open(out_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", out_path);
    hz_ai_limits_t lim;
    hz_ai_limits_default(&lim);
    lim.max_total_bytes = UINT64_MAX;
    lim.max_entries = UINT64_MAX;
    ai_zip_t z;
    int rc = ai_zip_open(&z, fd, &lim);
    for (size_t i = 0; i < l->n && !rc; i++) {
        const ai_zentry_t *e = ai_zip_find(&z, l->v[i].path);
        uint64_t want = l->v[i].deflate ? l->v[i].csize : l->v[i].size;
        if (!e || e->usize != l->v[i].size || e->csize != want || (e->method == 8) != l->v[i].deflate)
            rc = hz_error_set(HZ_EINTERNAL, "the written entry \"%s\" differs from its manifest record", l->v[i].path);
    }
    ai_zip_close(&z);
    close(fd);
    return rc;
}

static int unchanged(const plist_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        struct stat st;
        if (stat(l->v[i].src, &st) != 0) return hz_error_errno(HZ_EIO, errno, "%s", l->v[i].src);
        if ((uint64_t)st.st_size != l->v[i].size || st.st_mtim.tv_sec != l->v[i].mtime.tv_sec ||
            st.st_mtim.tv_nsec != l->v[i].mtime.tv_nsec)
            return hz_error_set(HZ_EIO, "%s changed while being packed", l->v[i].src);
    }
    return 0;
}

static int load_base(const char *dir, json_object **base) {
    *base = NULL;
    char *p = hz_sprintf("%s/%s", dir, AI_NAME_METADATA);
    char *text;
    size_t len;
    int rc = ai_read_file(p, (uint64_t)64 << 20, &text, &len);
    if (rc == HZ_ENOTFOUND) { hz_error_clear(); hz_free(p); return 0; }
    if (!rc) {
        rc = hz_json_parse(text, len, base);
        if (!rc && (!*base || !json_object_is_type(*base, json_type_object))) rc = hz_error_set(HZ_EPARSE, "expected a JSON object");
        hz_free(text);
    }
    if (rc) {
        json_object_put(*base);
        *base = NULL;
        rc = hz_error_wrap(rc, "%s", p);
    }
    hz_free(p);
    return rc;
}

int hz_ai_pack(const char *dir, const char *out_path, const hz_ai_pack_opts_t *o, hz_ai_info_t **out) {
    ai_reason_clear();
    if (out) *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0) return hz_error_errno(HZ_ENOTFOUND, errno, "%s", dir);
    if (!S_ISDIR(st.st_mode)) return hz_error_set(HZ_EINVAL, "%s is not a folder", dir);
    if (!o->overwrite && lstat(out_path, &st) == 0) return hz_error_set(HZ_EEXIST, "%s already exists", out_path);

    plist_t l = {0};
    hz_buf_t manifest = HZ_BUF_INIT, metadata = HZ_BUF_INIT;
    json_object *meta = NULL, *type = NULL;
    psig_t *sigs = NULL;
    ai_hasher_t *h = NULL;
    int rc = load_base(dir, &l.base);
    if (rc) goto out;
    /* The type decides where loose files go, so it is settled before the walk. */
    if (o->type) {
        if ((rc = hz_ai_type_parse(o->type, &type))) goto out;
    } else if (l.base && json_object_object_get_ex(l.base, "artifact_type", &type)) {
        json_object_get(type);
        if ((rc = ai_type_validate(type, "metadata.json: artifact_type"))) goto out;
    } else {
        rc = hz_error_set(HZ_EINVAL, "the artifact type is required (one of Model, Weights, QuantizedModel, Delta, Dataset, "
                                     "Embeddings, VectorStore, AgentState, Tokenizer, Config, Checkpoint, Custom)");
        goto out;
    }
    l.type_name = ai_type_name(type);
    if ((rc = walk(&l, dir, ""))) goto out;
    if (l.n == 0) { rc = hz_error_set(HZ_EINVAL, "%s holds no files to pack", dir); goto out; }
    qsort(l.v, l.n, sizeof(pfile_t), cmp_pfile);
    for (size_t i = 0; i < l.n; i++) {
        char what[64];
        snprintf(what, sizeof(what), "file %zu", i);
        if ((rc = ai_name_check(l.v[i].path, strlen(l.v[i].path), what))) { rc = hz_error_wrap(rc, "%s", l.v[i].src); goto out; }
        if (i && ai_name_cmp(l.v[i].path, l.v[i - 1].path) == 0) {
            rc = hz_error_set(HZ_EINVAL, "%s and %s would both be stored as %s", l.v[i - 1].src, l.v[i].src, l.v[i].path);
            goto out;
        }
    }

    uint64_t total = 0, done = 0, next = 0;
    for (size_t i = 0; i < l.n; i++) total += l.v[i].size;
    h = ai_hasher_new(o->threads, false);
    for (size_t i = 0; i < l.n && !rc; i++) rc = hash_file(h, &l.v[i], o, &done, total, &next);
    if (rc) goto out;
    uint8_t content[32];
    ai_hasher_content(h, content);
    char content_hex[HZ_AI_HASH_HEX_LEN + 1];
    hz_hex_encode(content, 32, content_hex);
    if (o->progress) o->progress(o->progress_ctx, "hash", done, total);

    ai_mfile_t *mf = hz_calloc(l.n, sizeof(ai_mfile_t));
    for (size_t i = 0; i < l.n && !rc; i++) {
        pfile_t *f = &l.v[i];
        if (f->deflate && (rc = deflated_size(f))) break;
        if (f->deflate && f->csize >= f->size) f->deflate = false; /* tiny files can grow: store them */
        mf[i].path = f->path;
        mf[i].size = f->size;
        mf[i].has_csize = true;
        mf[i].csize = f->deflate ? f->csize : f->size;
        hz_hex_encode(f->hash, 32, mf[i].hash);
    }
    if (!rc) ai_manifest_render(&manifest, mf, l.n);
    hz_free(mf);
    if (rc) goto out;

    ai_meta_in_t mi = {.base = l.base, .opts = o, .content_hash = content_hex, .size_bytes = total, .now_ms = hz_time_now_ms()};
    if ((rc = ai_metadata_build(&mi, &meta))) goto out;
    ai_json_pretty(&metadata, meta);
    /* What we write must be what a strict reader accepts (e.g. no invalid UTF-8 from options). */
    json_object *check = NULL;
    rc = hz_json_parse(metadata.data, metadata.len, &check);
    if (!rc) rc = hz_ai_metadata_validate(check);
    json_object_put(check);
    if (rc) { rc = hz_error_wrap(rc, "the metadata to write"); goto out; }

    sigs = hz_calloc(o->nsigners ? o->nsigners : 1, sizeof(psig_t));
    for (size_t i = 0; i < o->nsigners && !rc; i++) {
        char kid[HZ_AI_KEY_ID_LEN + 1];
        rc = ai_sig_make(o->signers[i], content, manifest.data, manifest.len, metadata.data, metadata.len, mi.now_ms, &sigs[i].text, kid);
        snprintf(sigs[i].name, sizeof(sigs[i].name), AI_SIG_DIR "%s.sig", kid);
    }
    if (rc) goto out;

    if ((rc = write_archive(out_path, &l, &manifest, &metadata, sigs, o->nsigners, o, total))) goto out;
    if ((rc = unchanged(&l)) || (rc = check_written(out_path, &l))) {
        unlink(out_path);
        goto out;
    }
    if (out) {
        ai_reader_t r;
        if ((rc = ai_reader_open(&r, out_path, NULL)) == 0) *out = ai_reader_info(&r);
        ai_reader_close(&r);
    }
out:
    ai_hasher_free(h);
    if (sigs)
        for (size_t i = 0; i < o->nsigners; i++) hz_buf_free(&sigs[i].text);
    hz_free(sigs);
    json_object_put(meta);
    json_object_put(type);
    hz_buf_free(&manifest);
    hz_buf_free(&metadata);
    plist_free(&l);
    return rc;
}
