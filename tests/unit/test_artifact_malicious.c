/*
 * A corpus of malicious and broken archives, built here byte by byte, each of which must be
 * rejected by info, verify and unpack with its own reason - and unpack must leave nothing behind,
 * in the destination or anywhere else.
 *
 * The archives start from a real artifact made by hz_ai_pack, re-written by the small ZIP writer
 * below with every entry stored, which must itself verify (so each case fails because of its one
 * change, not because the writer is off). Set HZ_AI_CORPUS_OUT to a folder to also save every
 * archive there: that is how fuzz/corpus/artifact_reader/ was seeded.
 */
#include "test_artifact_util.h"

/* ---- a ZIP writer that does what it is told ------------------------------------------------- */

typedef struct {
    char *name;
    size_t name_len;
    uint8_t *data;
    size_t len;
    uint16_t method;
    uint16_t flags;
    uint16_t made_by;
    uint32_t ext_attr;
    bool crc_set;
    uint32_t crc;
    bool usize_set;          /* central (and local) uncompressed size */
    uint32_t usize;
    bool local_usize_set;    /* local header only */
    uint32_t local_usize;
    char *local_name;        /* NULL: same as name */
    bool skip_local;         /* no local header of its own (it lives inside another entry) */
    bool offset_set;
    uint32_t offset;
    uint32_t offset_written; /* filled by the writer */
} rent_t;

typedef struct {
    rent_t e[32];
    size_t n;
    bool eocd_marker;        /* 0xFFFF entry counts without any ZIP64 record */
    bool fake_eocd_in_comment;
    size_t junk_before_eocd;
} rzip_t;

static void put16(hz_buf_t *b, uint16_t v) { uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; hz_buf_append(b, x, 2); }
static void put32(hz_buf_t *b, uint32_t v) { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }

static uint32_t ecrc(const rent_t *e) { return e->crc_set ? e->crc : ai_crc32(0, e->data, e->len); }
static uint32_t eusize(const rent_t *e) { return e->usize_set ? e->usize : (uint32_t)e->len; }

static void local_header(hz_buf_t *b, const rent_t *e) {
    const char *name = e->local_name ? e->local_name : e->name;
    size_t nlen = e->local_name ? strlen(e->local_name) : e->name_len;
    put32(b, 0x04034b50);
    put16(b, 20);
    put16(b, e->flags);
    put16(b, e->method);
    put16(b, 0);
    put16(b, 0x21);
    put32(b, ecrc(e));
    put32(b, (uint32_t)e->len);
    put32(b, e->local_usize_set ? e->local_usize : eusize(e));
    put16(b, (uint16_t)nlen);
    put16(b, 0);
    hz_buf_append(b, name, nlen);
}

static void rzip_write(rzip_t *z, const char *path) {
    hz_buf_t b = HZ_BUF_INIT;
    for (size_t i = 0; i < z->n; i++) {
        rent_t *e = &z->e[i];
        if (e->skip_local) continue;
        e->offset_written = (uint32_t)b.len;
        local_header(&b, e);
        hz_buf_append(&b, e->data, e->len);
    }
    uint32_t cd_off = (uint32_t)b.len;
    for (size_t i = 0; i < z->n; i++) {
        rent_t *e = &z->e[i];
        put32(&b, 0x02014b50);
        put16(&b, e->made_by ? e->made_by : 0x0314);
        put16(&b, 20);
        put16(&b, e->flags);
        put16(&b, e->method);
        put16(&b, 0);
        put16(&b, 0x21);
        put32(&b, ecrc(e));
        put32(&b, (uint32_t)e->len);
        put32(&b, eusize(e));
        put16(&b, (uint16_t)e->name_len);
        put16(&b, 0);
        put16(&b, 0);
        put16(&b, 0);
        put16(&b, 0);
        put32(&b, e->ext_attr ? e->ext_attr : 0100644u << 16);
        put32(&b, e->offset_set ? e->offset : e->offset_written);
        hz_buf_append(&b, e->name, e->name_len);
    }
    uint32_t cd_size = (uint32_t)(b.len - cd_off);
    for (size_t i = 0; i < z->junk_before_eocd; i++) hz_buf_putc(&b, 'J');
    put32(&b, 0x06054b50);
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, z->eocd_marker ? 0xFFFF : (uint16_t)z->n);
    put16(&b, z->eocd_marker ? 0xFFFF : (uint16_t)z->n);
    put32(&b, cd_size);
    put32(&b, cd_off);
    if (z->fake_eocd_in_comment) { /* a second, self-consistent EOCD inside the comment */
        put16(&b, 22);
        put32(&b, 0x06054b50);
        for (int i = 0; i < 8; i++) put16(&b, 0);
        put16(&b, 0);
    } else {
        put16(&b, 0);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ai_write_all(fd, b.data, b.len, path), 0);
    close(fd);
    hz_buf_free(&b);
}

static rent_t *rz_add(rzip_t *z, const char *name, size_t name_len, const void *data, size_t len) {
    assert_true(z->n < sizeof(z->e) / sizeof(z->e[0]));
    rent_t *e = &z->e[z->n++];
    memset(e, 0, sizeof(*e));
    e->name = hz_malloc(name_len + 1);
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    e->name_len = name_len;
    e->data = hz_malloc(len + 1);
    memcpy(e->data, data, len);
    e->len = len;
    return e;
}

static rent_t *rz_find(rzip_t *z, const char *name) {
    for (size_t i = 0; i < z->n; i++)
        if (z->e[i].name_len == strlen(name) && memcmp(z->e[i].name, name, z->e[i].name_len) == 0) return &z->e[i];
    fail_msg("no entry %s", name);
    return NULL;
}

static void rz_set(rent_t *e, const void *data, size_t len) {
    hz_free(e->data);
    e->data = hz_malloc(len + 1);
    memcpy(e->data, data, len);
    e->len = len;
}

static void rz_remove(rzip_t *z, const char *name) {
    rent_t *e = rz_find(z, name);
    hz_free(e->name), hz_free(e->data), hz_free(e->local_name);
    memmove(e, e + 1, (size_t)(&z->e[z->n] - (e + 1)) * sizeof(rent_t));
    z->n--;
}

static void rz_free(rzip_t *z) {
    for (size_t i = 0; i < z->n; i++) hz_free(z->e[i].name), hz_free(z->e[i].data), hz_free(z->e[i].local_name);
    z->n = 0;
}

/* ---- the base artifact -------------------------------------------------------------------------- */

static char *g_root;
static hz_key_t *g_key;

#define W_PATH "data/weights/w.bin"
#define C_PATH "data/config/config.json"

/* Load an archive's entries (inflated) into z, all to be written stored; the manifest's
 * compressed sizes become null, as the reference writes them. */
static void load_entries(rzip_t *z, const char *ai) {
    int fd = open(ai, O_RDONLY);
    hz_ai_limits_t lim;
    hz_ai_limits_default(&lim);
    ai_zip_t zip;
    assert_int_equal(ai_zip_open(&zip, fd, &lim), 0);
    memset(z, 0, sizeof(*z));
    for (size_t i = 0; i < zip.n; i++) {
        char *data;
        size_t len;
        assert_int_equal(ai_zip_read_small(&zip, &zip.entries[i], 1 << 20, &data, &len), 0);
        if (strcmp(zip.entries[i].name, AI_NAME_MANIFEST) == 0) {
            ai_manifest_t m;
            assert_int_equal(ai_manifest_parse(data, len, &m), 0);
            for (size_t k = 0; k < m.n; k++) m.files[k].has_csize = false;
            hz_buf_t b = HZ_BUF_INIT;
            ai_manifest_render(&b, m.files, m.n);
            rz_add(z, AI_NAME_MANIFEST, strlen(AI_NAME_MANIFEST), b.data, b.len);
            hz_buf_free(&b);
            ai_manifest_free(&m);
        } else {
            rz_add(z, zip.entries[i].name, strlen(zip.entries[i].name), data, len);
        }
        hz_free(data);
    }
    ai_zip_close(&zip);
    close(fd);
}

/* The base: a packed artifact re-written with every entry stored; the signed base is that,
 * signed afterwards by g_key (so the signature covers the re-written manifest). */
static void load_base(rzip_t *z, bool signed_) {
    char *src = tu_path(g_root, "src"), *packed = tu_path(g_root, "packed.ai"), *stored = tu_path(g_root, "stored.ai"),
         *sgn = tu_path(g_root, "signed.ai");
    if (!tu_exists(stored)) {
        uint8_t w[4096];
        tu_fill(w, sizeof(w), 11);
        tu_write(src, W_PATH, w, sizeof(w));
        tu_write_str(src, C_PATH, "{\"hidden_size\": 64, \"layers\": 2}\n");
        hz_ai_pack_opts_t o = {.type = "Model", .name = "base"};
        if (hz_ai_pack(src, packed, &o, NULL) != 0) fail_msg("%s", hz_error_last());
        load_entries(z, packed);
        rzip_write(z, stored);
        rz_free(z);
        char *cmd = hz_sprintf("cp %s %s", stored, sgn);
        assert_int_equal(system(cmd), 0);
        hz_free(cmd);
        const hz_key_t *keys[] = {g_key};
        if (hz_ai_sign(sgn, keys, 1, NULL) != 0) fail_msg("%s", hz_error_last());
    }
    load_entries(z, signed_ ? sgn : stored);
    hz_free(src), hz_free(packed), hz_free(stored), hz_free(sgn);
}

/* Replace a JSON entry after editing it. */
static json_object *json_of(rzip_t *z, const char *name) {
    rent_t *e = rz_find(z, name);
    json_object *o;
    assert_int_equal(hz_json_parse((char *)e->data, e->len, &o), 0);
    return o;
}

static void json_put_back(rzip_t *z, const char *name, json_object *o) {
    hz_buf_t b = HZ_BUF_INIT;
    ai_json_pretty(&b, o);
    rz_set(rz_find(z, name), b.data, b.len);
    hz_buf_free(&b);
    json_object_put(o);
}

/* ---- the cases ----------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    void (*mutate)(rzip_t *z, const char *path); /* may write the file itself and clear z->n */
    hz_ai_err_t reason;
    const char *needle;       /* in the message */
    bool needs_data_pass;     /* only verify/unpack see it, not info */
    bool signed_base;
} mcase_t;

static void m_not_zip(rzip_t *z, const char *p) {
    uint8_t junk[200];
    tu_fill(junk, sizeof(junk), 4);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ai_write_all(fd, junk, sizeof(junk), p), 0);
    close(fd);
    rz_free(z);
}

static void m_truncated(rzip_t *z, const char *p) {
    rzip_write(z, p);
    rz_free(z);
    struct stat st;
    stat(p, &st);
    assert_int_equal(truncate(p, st.st_size - 30), 0);
}

static void m_bad_magic(rzip_t *z, const char *p) { (void)p; rz_set(rz_find(z, "_format"), "HAIX\x01\0\0\0", 8); }
static void m_version2(rzip_t *z, const char *p) { (void)p; rz_set(rz_find(z, "_format"), "HAIF\x02\0\0\0", 8); }
static void m_format_long(rzip_t *z, const char *p) { (void)p; rz_set(rz_find(z, "_format"), "HAIF\x01\0\0\0\0", 9); }
static void m_no_format(rzip_t *z, const char *p) { (void)p; rz_remove(z, "_format"); }

static void rename_entry(rzip_t *z, const char *from, const char *to, size_t to_len) {
    rent_t *e = rz_find(z, from);
    hz_free(e->name);
    e->name = hz_malloc(to_len + 1);
    memcpy(e->name, to, to_len);
    e->name[to_len] = '\0';
    e->name_len = to_len;
}

static void m_traversal(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "data/../../evil.txt", 19); }
static void m_traversal_deep(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "../../../../../tmp/hz-evil.txt", 30); }
static void m_absolute(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "/tmp/hz-evil-abs.txt", 20); }
static void m_drive(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "C:/evil.txt", 11); }
static void m_backslash(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "data\\..\\..\\evil.txt", 19); }
static void m_nul(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "data/config/config.json\0.exe", 28); }
static void m_bad_utf8(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "data/config/\xc0\xaf.json", 18); }
static void m_empty_component(rzip_t *z, const char *p) { (void)p; rename_entry(z, C_PATH, "data//config.json", 17); }

static void m_symlink(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_add(z, "data/config/link", 16, "/etc/passwd", 11);
    e->ext_attr = 0120777u << 16;
}

static void m_directory(rzip_t *z, const char *p) { (void)p; rz_add(z, "data/", 5, "", 0); }

static void m_device(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_add(z, "data/config/tty", 15, "", 0);
    e->ext_attr = 0020644u << 16;
}

static void m_dos_dir(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_add(z, "data/config/d", 13, "", 0);
    e->made_by = 0x0014; /* MS-DOS host */
    e->ext_attr = 0x10;
}

static void m_duplicate(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, C_PATH);
    rz_add(z, C_PATH, strlen(C_PATH), "{\"evil\": true}\n", 15);
    (void)e;
}

static void m_unlisted(rzip_t *z, const char *p) { (void)p; rz_add(z, "data/config/extra.json", 22, "{}", 2); }
static void m_missing(rzip_t *z, const char *p) { (void)p; rz_remove(z, C_PATH); }

static void set_manifest_size(rzip_t *z, const char *path, int64_t delta) {
    json_object *m = json_of(z, AI_NAME_MANIFEST), *files, *f, *v;
    json_object_object_get_ex(m, "files", &files);
    json_object_object_get_ex(files, path, &f);
    json_object_object_get_ex(f, "size", &v);
    json_object_object_add(f, "size", json_object_new_int64(json_object_get_int64(v) + delta));
    json_object_object_get_ex(m, "total_size", &v);
    int64_t total = json_object_get_int64(v) + delta;
    json_object_object_add(m, "total_size", json_object_new_int64(total));
    json_put_back(z, AI_NAME_MANIFEST, m);
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "size_bytes", json_object_new_int64(total));
    json_put_back(z, AI_NAME_METADATA, md);
}

static void m_size_mismatch(rzip_t *z, const char *p) { (void)p; set_manifest_size(z, W_PATH, -1); }

static void m_header_mismatch(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, W_PATH);
    e->local_usize_set = true;
    e->local_usize = (uint32_t)e->len + 1000;
}

static void m_local_name(rzip_t *z, const char *p) { (void)p; rz_find(z, W_PATH)->local_name = hz_strdup("data/weights/other.bin"); }

static void m_hash_mismatch(rzip_t *z, const char *p) { (void)p; rz_find(z, W_PATH)->data[100] ^= 0x40; }

static void m_crc_mismatch(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, W_PATH);
    e->crc_set = true;
    e->crc = ai_crc32(0, e->data, e->len) ^ 1;
}

static void m_content_hash(rzip_t *z, const char *p) {
    (void)p;
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "content_hash", json_object_new_string("0000000000000000000000000000000000000000000000000000000000000000"));
    json_put_back(z, AI_NAME_METADATA, md);
}

static void m_metadata_size(rzip_t *z, const char *p) {
    (void)p;
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "size_bytes", json_object_new_int64(12345));
    json_put_back(z, AI_NAME_METADATA, md);
}

static void m_unknown_type(rzip_t *z, const char *p) {
    (void)p;
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "artifact_type", json_object_new_string("Foo"));
    json_put_back(z, AI_NAME_METADATA, md);
}

static void m_unknown_license(rzip_t *z, const char *p) {
    (void)p;
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "license", json_object_new_string("WTFPL"));
    json_put_back(z, AI_NAME_METADATA, md);
}

static void m_metadata_not_json(rzip_t *z, const char *p) { (void)p; rz_set(rz_find(z, AI_NAME_METADATA), "{\"name\": ", 9); }

static void m_manifest_dupkey(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, AI_NAME_MANIFEST);
    /* the same path twice: one reader might take the first, another the second */
    char *s = hz_strndup((char *)e->data, e->len);
    char *at = strstr(s, "\"" W_PATH "\"");
    assert_non_null(at);
    char *end = strstr(at, "}");
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_append(&b, s, (size_t)(end + 1 - s));
    hz_buf_puts(&b, ",\n    ");
    hz_buf_append(&b, at, (size_t)(end + 1 - at));
    hz_buf_puts(&b, end + 1);
    rz_set(e, b.data, b.len);
    hz_buf_free(&b);
    hz_free(s);
}

static void m_manifest_total(rzip_t *z, const char *p) {
    (void)p;
    json_object *m = json_of(z, AI_NAME_MANIFEST);
    json_object_object_add(m, "total_size", json_object_new_int64(1));
    json_put_back(z, AI_NAME_MANIFEST, m);
}

static void m_manifest_version(rzip_t *z, const char *p) {
    (void)p;
    json_object *m = json_of(z, AI_NAME_MANIFEST);
    json_object_object_add(m, "version", json_object_new_int64(2));
    json_put_back(z, AI_NAME_MANIFEST, m);
}

static void m_manifest_traversal(rzip_t *z, const char *p) {
    (void)p;
    json_object *m = json_of(z, AI_NAME_MANIFEST), *files, *f;
    json_object_object_get_ex(m, "files", &files);
    json_object_object_get_ex(files, C_PATH, &f);
    json_object_object_add(files, "../config.json", json_object_get(f));
    json_object_object_del(files, C_PATH);
    json_put_back(z, AI_NAME_MANIFEST, m);
}

static void m_overlap(rzip_t *z, const char *p) {
    (void)p;
    /* "outer" stores bytes that are themselves a complete local entry "inner", and the central
     * directory points at both: the same bytes counted twice. */
    rent_t inner = {.name = "data/config/inner.bin", .name_len = 21, .data = (uint8_t *)"AAAAAAAAAAAAAAAA", .len = 16};
    hz_buf_t b = HZ_BUF_INIT;
    local_header(&b, &inner);
    hz_buf_append(&b, inner.data, inner.len);
    size_t at = z->n;
    rz_add(z, "data/config/outer.bin", 21, b.data, b.len);
    rent_t *in = rz_add(z, inner.name, inner.name_len, inner.data, inner.len);
    in->skip_local = true;
    in->offset_set = true;
    hz_buf_free(&b);
    /* its offset is known only after writing: write once to learn it, then point into outer */
    rzip_write(z, p);
    in->offset = z->e[at].offset_written + 30 + 21;
}

static void m_eocd_marker(rzip_t *z, const char *p) { (void)p; z->eocd_marker = true; }

static void m_zip64_no_extra(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, C_PATH);
    e->usize_set = true;
    e->usize = 0xFFFFFFFFu;
}

static void m_encrypted(rzip_t *z, const char *p) { (void)p; rz_find(z, C_PATH)->flags |= 1; }
static void m_bzip2(rzip_t *z, const char *p) { (void)p; rz_find(z, C_PATH)->method = 12; }

static void m_stored_sizes(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = rz_find(z, C_PATH);
    e->usize_set = true;
    e->usize = (uint32_t)e->len + 5;
}

static void m_two_eocd(rzip_t *z, const char *p) { (void)p; z->fake_eocd_in_comment = true; }
static void m_gap_before_eocd(rzip_t *z, const char *p) { (void)p; z->junk_before_eocd = 7; }

/* A deflated entry made by libzip, copied raw (compressed bytes, real CRC) into our writer. */
static rent_t *add_deflated(rzip_t *z, const char *name, const void *data, size_t len) {
    char *tmp = tu_path(g_root, "deflate-src.zip");
    int zcode;
    zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zcode);
    zip_int64_t idx = zip_file_add(za, "x", zip_source_buffer(za, data, len, 0), 0);
    zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9);
    assert_int_equal(zip_close(za), 0);
    int fd = open(tmp, O_RDONLY);
    hz_ai_limits_t lim;
    hz_ai_limits_default(&lim);
    lim.max_ratio = UINT64_MAX;
    ai_zip_t zz;
    assert_int_equal(ai_zip_open(&zz, fd, &lim), 0);
    uint8_t *raw = hz_malloc(zz.entries[0].csize + 1);
    assert_int_equal(pread(fd, raw, zz.entries[0].csize, (off_t)zz.entries[0].data_offset), (ssize_t)zz.entries[0].csize);
    rent_t *e = rz_add(z, name, strlen(name), raw, zz.entries[0].csize);
    e->method = 8;
    e->crc_set = true;
    e->crc = zz.entries[0].crc;
    e->usize_set = true;
    e->usize = (uint32_t)len;
    ai_zip_close(&zz);
    close(fd);
    hz_free(raw);
    hz_free(tmp);
    return e;
}

static void m_bomb_ratio(rzip_t *z, const char *p) {
    (void)p;
    size_t n = 64u << 20;
    uint8_t *zeros = hz_calloc(1, n);
    add_deflated(z, "data/weights/zeros.bin", zeros, n);
    hz_free(zeros);
}

static void m_bomb_declared(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = add_deflated(z, "data/config/big.json", "{\"a\": 1}", 8);
    e->usize = 0xF0000000u; /* claims 3.75 GiB from a few bytes */
}

static void m_inflate_longer(rzip_t *z, const char *p) {
    (void)p;
    /* config.json deflated, but the headers (and the manifest) claim one byte less than it holds */
    rent_t *c = rz_find(z, C_PATH);
    uint8_t *data = hz_malloc(c->len);
    size_t len = c->len;
    memcpy(data, c->data, len);
    rz_remove(z, C_PATH);
    rent_t *e = add_deflated(z, C_PATH, data, len);
    e->usize = (uint32_t)len - 1;
    hz_free(data);
    set_manifest_size(z, C_PATH, -1);
}

static void m_deflate_crc(rzip_t *z, const char *p) {
    (void)p;
    rent_t *c = rz_find(z, C_PATH);
    uint8_t *data = hz_malloc(c->len);
    size_t len = c->len;
    memcpy(data, c->data, len);
    rz_remove(z, C_PATH);
    rent_t *e = add_deflated(z, C_PATH, data, len);
    e->crc ^= 0x100;
    hz_free(data);
}

static rent_t *sig_entry(rzip_t *z) {
    for (size_t i = 0; i < z->n; i++)
        if (hz_str_starts_with(z->e[i].name, "signatures/")) return &z->e[i];
    fail_msg("no signature entry");
    return NULL;
}

static void m_sig_flip(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = sig_entry(z);
    char *s = strstr((char *)e->data, "\"signature\": \"");
    assert_non_null(s);
    s += 14 + 100;
    *s = *s == '0' ? '1' : '0';
}

static void m_sig_name(rzip_t *z, const char *p) {
    (void)p;
    rent_t *e = sig_entry(z);
    e->name[11] = e->name[11] == 'a' ? 'b' : 'a';
}

static void m_sig_stray(rzip_t *z, const char *p) { (void)p; rz_add(z, "signatures/readme.txt", 21, "hi", 2); }

static void m_sig_metadata_changed(rzip_t *z, const char *p) {
    (void)p;
    json_object *md = json_of(z, AI_NAME_METADATA);
    json_object_object_add(md, "description", json_object_new_string("changed after signing"));
    json_put_back(z, AI_NAME_METADATA, md);
}

static const mcase_t cases[] = {
    {"not_zip", m_not_zip, HZ_AI_ERR_NOT_ZIP, "not a ZIP", false, false},
    {"truncated", m_truncated, HZ_AI_ERR_NOT_ZIP, "end of central directory", false, false},
    {"two_eocd", m_two_eocd, HZ_AI_ERR_NOT_ZIP, "ambiguous", false, false},
    {"gap_before_eocd", m_gap_before_eocd, HZ_AI_ERR_ZIP_STRUCTURE, "does not end where", false, false},
    {"bad_magic", m_bad_magic, HZ_AI_ERR_BAD_FORMAT, "expected \"HAIF\"", false, false},
    {"format_version_2", m_version2, HZ_AI_ERR_VERSION, "format version 2 is newer", false, false},
    {"format_too_long", m_format_long, HZ_AI_ERR_BAD_FORMAT, "holds 9 bytes", false, false},
    {"no_format", m_no_format, HZ_AI_ERR_BAD_FORMAT, "no _format entry", false, false},
    {"traversal", m_traversal, HZ_AI_ERR_TRAVERSAL, "\"..\" component", false, false},
    {"traversal_deep", m_traversal_deep, HZ_AI_ERR_TRAVERSAL, "\"..\" component", false, false},
    {"absolute", m_absolute, HZ_AI_ERR_ABSOLUTE, "absolute path", false, false},
    {"drive_letter", m_drive, HZ_AI_ERR_ABSOLUTE, "drive-letter", false, false},
    {"backslash", m_backslash, HZ_AI_ERR_BACKSLASH, "backslash at offset 4", false, false},
    {"nul_in_name", m_nul, HZ_AI_ERR_BAD_NAME, "NUL byte at offset 23", false, false},
    {"bad_utf8_name", m_bad_utf8, HZ_AI_ERR_BAD_NAME, "not valid UTF-8", false, false},
    {"empty_component", m_empty_component, HZ_AI_ERR_BAD_NAME, "empty path component", false, false},
    {"symlink", m_symlink, HZ_AI_ERR_SYMLINK, "symbolic link", false, false},
    {"directory_entry", m_directory, HZ_AI_ERR_SPECIAL_FILE, "directory entry", false, false},
    {"device_file", m_device, HZ_AI_ERR_SPECIAL_FILE, "not a regular file", false, false},
    {"dos_directory", m_dos_dir, HZ_AI_ERR_SPECIAL_FILE, "directory attribute", false, false},
    {"duplicate_name", m_duplicate, HZ_AI_ERR_DUPLICATE, "both named \"" C_PATH "\"", false, false},
    {"unlisted_file", m_unlisted, HZ_AI_ERR_UNLISTED, "\"data/config/extra.json\" is not listed", false, false},
    {"missing_file", m_missing, HZ_AI_ERR_MISSING_FILE, "lists \"" C_PATH "\"", false, false},
    {"size_mismatch", m_size_mismatch, HZ_AI_ERR_SIZE_MISMATCH, "manifest size 4095, ZIP header size 4096", false, false},
    {"metadata_size", m_metadata_size, HZ_AI_ERR_SIZE_MISMATCH, "size_bytes 12345", false, false},
    {"header_mismatch", m_header_mismatch, HZ_AI_ERR_HEADER_MISMATCH, "local header sizes", false, false},
    {"local_name_mismatch", m_local_name, HZ_AI_ERR_HEADER_MISMATCH, "names \"data/weights/other.bin\"", false, false},
    {"hash_mismatch", m_hash_mismatch, HZ_AI_ERR_HASH_MISMATCH, "\"" W_PATH "\": BLAKE3 is", true, false},
    {"crc_mismatch", m_crc_mismatch, HZ_AI_ERR_CRC_MISMATCH, "CRC-32 is", true, false},
    {"deflate_crc_mismatch", m_deflate_crc, HZ_AI_ERR_CRC_MISMATCH, "CRC-32 of the inflated data", true, false},
    {"inflates_longer", m_inflate_longer, HZ_AI_ERR_SIZE_MISMATCH, "more than its declared", true, false},
    {"content_hash_mismatch", m_content_hash, HZ_AI_ERR_CONTENT_HASH, "metadata.json says 0000", true, false},
    {"bomb_ratio", m_bomb_ratio, HZ_AI_ERR_BOMB_RATIO, "a ratio over the limit of 200", false, false},
    {"bomb_declared_size", m_bomb_declared, HZ_AI_ERR_BOMB_TOTAL, "over the limit of 1073741824 for a deflated entry", false, false},
    {"overlap", m_overlap, HZ_AI_ERR_OVERLAP, "overlaps entry", false, false},
    {"zip64_marker_without_locator", m_eocd_marker, HZ_AI_ERR_ZIP64, "no ZIP64 locator", false, false},
    {"zip64_field_without_extra", m_zip64_no_extra, HZ_AI_ERR_ZIP64, "no ZIP64 extra field", false, false},
    {"encrypted", m_encrypted, HZ_AI_ERR_ENCRYPTED, "is encrypted", false, false},
    {"bzip2", m_bzip2, HZ_AI_ERR_COMPRESSION, "compression method 12", false, false},
    {"stored_sizes_differ", m_stored_sizes, HZ_AI_ERR_COMPRESSION, "is stored but its compressed size", false, false},
    {"unknown_type", m_unknown_type, HZ_AI_ERR_METADATA, "unknown artifact type \"Foo\"", false, false},
    {"unknown_license", m_unknown_license, HZ_AI_ERR_METADATA, "unknown licence \"WTFPL\"", false, false},
    {"metadata_not_json", m_metadata_not_json, HZ_AI_ERR_METADATA, "metadata.json: JSON error", false, false},
    {"manifest_duplicate_key", m_manifest_dupkey, HZ_AI_ERR_MANIFEST, "duplicate key", false, false},
    {"manifest_total", m_manifest_total, HZ_AI_ERR_MANIFEST, "total_size 1 but", false, false},
    {"manifest_version_2", m_manifest_version, HZ_AI_ERR_VERSION, "manifest.json: version 2", false, false},
    {"manifest_traversal", m_manifest_traversal, HZ_AI_ERR_TRAVERSAL, "\"..\" component", false, false},
    {"signature_flipped", m_sig_flip, HZ_AI_ERR_SIGNATURE, "does not verify", true, true},
    {"signature_misnamed", m_sig_name, HZ_AI_ERR_SIGNATURE, "does not match the key id", false, true},
    {"signature_stray_entry", m_sig_stray, HZ_AI_ERR_SIGNATURE, "holds only <key-id>.sig", false, true},
    {"signature_after_edit", m_sig_metadata_changed, HZ_AI_ERR_SIGNATURE, "signs a different metadata.json", true, true},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void check_rejected(const mcase_t *c, const char *ai, int (*op)(const char *), const char *what) {
    int rc = op(ai);
    if (rc == 0) fail_msg("%s: %s accepted it", c->name, what);
    if (hz_ai_error_reason() != c->reason)
        fail_msg("%s: %s: reason %s, expected %s (%s)", c->name, what, hz_ai_error_name(hz_ai_error_reason()),
                 hz_ai_error_name(c->reason), hz_error_last());
    if (!strstr(hz_error_last(), c->needle)) fail_msg("%s: %s: \"%s\" lacks \"%s\"", c->name, what, hz_error_last(), c->needle);
    if (!strstr(hz_error_last(), hz_ai_error_name(c->reason)))
        fail_msg("%s: message does not name the reason: %s", c->name, hz_error_last());
}

static int op_info(const char *p) {
    hz_ai_info_t *i = NULL;
    int rc = hz_ai_info(p, NULL, &i);
    hz_ai_info_free(i);
    return rc;
}

static int op_verify(const char *p) { return hz_ai_verify(p, NULL, NULL); }

static char *g_dest;
static int op_unpack(const char *p) { return hz_ai_unpack(p, g_dest, NULL, NULL); }

static void test_base_is_valid(void **state) {
    (void)state;
    for (int s = 0; s < 2; s++) {
        rzip_t z;
        load_base(&z, s == 1);
        char *p = tu_path(g_root, "rewritten-%d.ai", s);
        rzip_write(&z, p);
        if (hz_ai_verify(p, NULL, NULL) != 0) fail_msg("the rewritten base does not verify: %s", hz_error_last());
        const char *save = getenv("HZ_AI_CORPUS_OUT");
        if (save) {
            char *cmd = hz_sprintf("cp %s %s/valid_%s.ai", p, save, s ? "signed" : "stored");
            assert_int_equal(system(cmd), 0);
            hz_free(cmd);
        }
        rz_free(&z);
        hz_free(p);
    }
}

static void test_malicious_corpus(void **state) {
    (void)state;
    const char *save = getenv("HZ_AI_CORPUS_OUT");
    for (size_t i = 0; i < NCASES; i++) {
        const mcase_t *c = &cases[i];
        rzip_t z;
        load_base(&z, c->signed_base);
        char *ai = tu_path(g_root, "%s.ai", c->name);
        c->mutate(&z, ai);
        if (z.n) rzip_write(&z, ai);
        rz_free(&z);

        if (c->needs_data_pass) {
            if (op_info(ai) != 0) fail_msg("%s: info rejected it already: %s", c->name, hz_error_last());
        } else {
            check_rejected(c, ai, op_info, "info");
        }
        check_rejected(c, ai, op_verify, "verify");
        char *work = tu_path(g_root, "work-%s", c->name);
        mkdir(work, 0755);
        g_dest = tu_path(work, "out");
        check_rejected(c, ai, op_unpack, "unpack");
        /* nothing written: no destination, no temporary folder, nothing beside it */
        if (tu_exists(g_dest)) fail_msg("%s: unpack left %s", c->name, g_dest);
        if (tu_count_prefix(work, "") != 2) fail_msg("%s: unpack left files in %s", c->name, work);
        if (save) {
            char *dst = tu_path(save, "%s.ai", c->name);
            size_t len = 0;
            char *bytes = tu_read(ai, &len);
            int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) { ai_write_all(fd, bytes, len, dst); close(fd); }
            hz_free(bytes), hz_free(dst);
        }
        hz_free(ai), hz_free(work), hz_free(g_dest);
    }
    /* the traversal targets were never created */
    assert_false(tu_exists("/tmp/hz-evil.txt"));
    assert_false(tu_exists("/tmp/hz-evil-abs.txt"));
    char *evil = tu_path(g_root, "evil.txt");
    assert_false(tu_exists(evil));
    hz_free(evil);
}

static void test_zip64_records_accepted(void **state) {
    (void)state;
    /* A writer may use ZIP64 records for small archives (Python's zipfile with force_zip64, Go's
     * archive/zip): consistent ZIP64 is not an oddity. Build one with a ZIP64 EOCD + locator and
     * entries whose 32-bit fields are markers backed by ZIP64 extra fields. */
    rzip_t z;
    load_base(&z, false);
    hz_buf_t b = HZ_BUF_INIT;
    uint32_t offs[32];
    for (size_t i = 0; i < z.n; i++) {
        rent_t *e = &z.e[i];
        offs[i] = (uint32_t)b.len;
        put32(&b, 0x04034b50); put16(&b, 45); put16(&b, 0); put16(&b, 0); put16(&b, 0); put16(&b, 0x21);
        put32(&b, ai_crc32(0, e->data, e->len)); put32(&b, 0xFFFFFFFFu); put32(&b, 0xFFFFFFFFu);
        put16(&b, (uint16_t)e->name_len); put16(&b, 20);
        hz_buf_append(&b, e->name, e->name_len);
        put16(&b, 1); put16(&b, 16); put32(&b, (uint32_t)e->len); put32(&b, 0); put32(&b, (uint32_t)e->len); put32(&b, 0);
        hz_buf_append(&b, e->data, e->len);
    }
    uint64_t cd_off = b.len;
    for (size_t i = 0; i < z.n; i++) {
        rent_t *e = &z.e[i];
        put32(&b, 0x02014b50); put16(&b, 0x032d); put16(&b, 45); put16(&b, 0); put16(&b, 0); put16(&b, 0); put16(&b, 0x21);
        put32(&b, ai_crc32(0, e->data, e->len)); put32(&b, 0xFFFFFFFFu); put32(&b, 0xFFFFFFFFu);
        put16(&b, (uint16_t)e->name_len); put16(&b, 28); put16(&b, 0); put16(&b, 0); put16(&b, 0); put32(&b, 0100644u << 16);
        put32(&b, 0xFFFFFFFFu);
        hz_buf_append(&b, e->name, e->name_len);
        put16(&b, 1); put16(&b, 24);
        put32(&b, (uint32_t)e->len); put32(&b, 0); put32(&b, (uint32_t)e->len); put32(&b, 0); put32(&b, offs[i]); put32(&b, 0);
    }
    uint64_t cd_size = b.len - cd_off, z64 = b.len;
    put32(&b, 0x06064b50); put32(&b, 44); put32(&b, 0); put16(&b, 45); put16(&b, 45); put32(&b, 0); put32(&b, 0);
    put32(&b, (uint32_t)z.n); put32(&b, 0); put32(&b, (uint32_t)z.n); put32(&b, 0);
    put32(&b, (uint32_t)cd_size); put32(&b, 0); put32(&b, (uint32_t)cd_off); put32(&b, 0);
    put32(&b, 0x07064b50); put32(&b, 0); put32(&b, (uint32_t)z64); put32(&b, 0); put32(&b, 1);
    put32(&b, 0x06054b50); put16(&b, 0); put16(&b, 0); put16(&b, 0xFFFF); put16(&b, 0xFFFF);
    put32(&b, 0xFFFFFFFFu); put32(&b, 0xFFFFFFFFu); put16(&b, 0);
    char *p = tu_path(g_root, "zip64.ai");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ai_write_all(fd, b.data, b.len, p), 0);
    close(fd);
    if (hz_ai_verify(p, NULL, NULL) != 0) fail_msg("consistent ZIP64 rejected: %s", hz_error_last());
    /* ... and the same archive with one ZIP64 count disagreeing is rejected */
    size_t at = (size_t)z64 + 24; /* entries on this disk */
    b.data[at] ^= 1;
    fd = open(p, O_WRONLY | O_TRUNC);
    assert_int_equal(ai_write_all(fd, b.data, b.len, p), 0);
    close(fd);
    assert_int_not_equal(hz_ai_verify(p, NULL, NULL), 0);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_ZIP64);
    hz_buf_free(&b);
    hz_free(p);
    rz_free(&z);
}

static int setup(void **state) {
    (void)state;
    g_root = tu_tmpdir();
    if (hz_key_generate("ml-dsa-65", &g_key) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ai_rmtree(g_root);
    hz_free(g_root);
    hz_key_free(g_key);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_is_valid),
        cmocka_unit_test(test_malicious_corpus),
        cmocka_unit_test(test_zip64_records_accepted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
