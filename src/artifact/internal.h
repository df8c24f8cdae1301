/*
 * Private to src/artifact. The module's files and what each one owns:
 *
 *   error.c     the per-thread rejection reason beside hz_error_set
 *   crc32.c     CRC-32 (ZIP polynomial), table-driven slicing-by-8
 *   names.c     the rules an archive path must follow
 *   zipread.c   our strict ZIP reader: EOCD, ZIP64, central directory, local headers
 *   zipentry.c  reading one entry's bytes: stored in place with pread, deflated through libzip
 *   hasher.c    the two-thread hashing pipeline (per-file BLAKE3 + CRC, and the content hash)
 *   json.c      pretty JSON rendering (the layout serde_json::to_vec_pretty produces)
 *   vocab.c     artifact types, licences, networks: tables, type-spec parsing
 *   metadata.c  the HIP-0024 metadata schema: validation and creation
 *   manifest.c  manifest.json: parse, validate, render
 *   reader.c    opening an archive: structure, _format, manifest, metadata, cross-checks
 *   verify.c    the data pass: hz_ai_verify and hz_ai_unpack
 *   layout.c    where a packed file goes (data/weights/, delta/, ...)
 *   pack.c      hz_ai_pack: walk, hash prepass, write with libzip
 *   sign.c      the signature entries: message, sign, parse, verify
 *   signfile.c  hz_ai_sign: adding signatures to an existing archive
 *   info.c      hz_ai_info_t helpers and its JSON form
 *   util.c      limits' defaults, small file helpers
 *   cid.c       CIDv1 with the BLAKE3 multihash
 *   store.c     the local content-addressed store
 *   location.c  backend locations and their URLs
 *   fetch.c     downloads with Range resume, uploads (libcurl)
 */
#ifndef HZ_ARTIFACT_INTERNAL_H
#define HZ_ARTIFACT_INTERNAL_H

#include <sys/types.h>
#include <zip.h>

#include "hanzo/artifact.h"

#define AI_NAME_FORMAT "_format"
#define AI_NAME_MANIFEST "manifest.json"
#define AI_NAME_METADATA "metadata.json"
#define AI_SIG_DIR "signatures/"
#define AI_SIG_MAX_BYTES ((uint64_t)64 << 10)
#define AI_FORMAT_SIZE 8

/* ---- error.c ----------------------------------------------------------------------------- */

/* hz_error_set(code, "<reason name>: <fmt>") and remember reason for hz_ai_error_reason. */
int ai_fail(hz_ai_err_t reason, int code, const char *fmt, ...) HZ_PRINTF(3, 4);
void ai_reason_set(hz_ai_err_t reason);
void ai_reason_clear(void);

/* ---- crc32.c ----------------------------------------------------------------------------- */

uint32_t ai_crc32(uint32_t crc, const void *data, size_t len);
uint32_t ai_crc32_portable(uint32_t crc, const void *data, size_t len); /* tables only, for tests */

/* ---- names.c ----------------------------------------------------------------------------- */

/* 0, or ai_fail with the matching reason naming `what` (e.g. "entry 3"). */
int ai_name_check(const char *name, size_t len, const char *what);
/* _format, manifest.json, metadata.json */
bool ai_name_is_reserved(const char *name);
bool ai_name_is_signature_dir(const char *name);
/* Bytewise comparison, as Rust sorts Strings: the content-hash order. */
int ai_name_cmp(const char *a, const char *b);

/* ---- zipread.c --------------------------------------------------------------------------- */

typedef struct ai_zentry {
    char *name;           /* NUL-terminated; checked by ai_name_check */
    uint32_t index;       /* position in the central directory (= libzip's index) */
    uint16_t method;      /* 0 store, 8 deflate */
    uint16_t flags;
    uint32_t crc;
    uint64_t csize;
    uint64_t usize;
    uint64_t header_offset;
    uint64_t data_offset;
} ai_zentry_t;

typedef struct ai_zip {
    int fd;               /* borrowed */
    uint64_t file_size;
    uint64_t cd_offset;
    uint64_t cd_size;
    bool zip64;
    size_t n;
    ai_zentry_t *entries;     /* central directory order */
    ai_zentry_t **by_name;    /* sorted by name */
    zip_t *za;                /* libzip view, opened on first deflated read */
} ai_zip_t;

/* Parse and check the structure of the ZIP archive open on fd. */
int ai_zip_open(ai_zip_t *z, int fd, const hz_ai_limits_t *lim);
void ai_zip_close(ai_zip_t *z);
const ai_zentry_t *ai_zip_find(const ai_zip_t *z, const char *name);

/* ---- zipentry.c -------------------------------------------------------------------------- */

typedef struct ai_zstream {
    ai_zip_t *z;
    const ai_zentry_t *e;
    uint64_t pos;         /* uncompressed bytes delivered */
    zip_file_t *zf;       /* deflated entries */
} ai_zstream_t;

int ai_zstream_open(ai_zip_t *z, const ai_zentry_t *e, ai_zstream_t *s);
/* Up to cap bytes; *got == 0 only at the end, after which the entry is known to hold exactly
 * e->usize bytes (and, when deflated, to have passed libzip's CRC check). */
int ai_zstream_read(ai_zstream_t *s, void *buf, size_t cap, size_t *got);
void ai_zstream_close(ai_zstream_t *s);
/* A whole small entry (at most max bytes) into an owned NUL-terminated buffer; checks its CRC. */
int ai_zip_read_small(ai_zip_t *z, const ai_zentry_t *e, uint64_t max, char **out, size_t *len);

/* ---- hasher.c ---------------------------------------------------------------------------- */

typedef struct ai_hasher ai_hasher_t;

#define AI_HASH_BUF ((size_t)2 << 20)

/* threads 1: everything on the calling thread; otherwise a helper thread computes the content
 * hash while the caller computes per-file hashes and CRCs. with_crc false skips the CRC. */
ai_hasher_t *ai_hasher_new(int threads, bool with_crc);
void ai_hasher_free(ai_hasher_t *h);
/* A buffer of AI_HASH_BUF bytes that no one is reading; fill it and pass it to feed. */
uint8_t *ai_hasher_buf(ai_hasher_t *h);
void ai_hasher_begin(ai_hasher_t *h, const char *path);
/* Hash len bytes of buf (from ai_hasher_buf). The caller may keep reading buf (e.g. to write it
 * out) until its next ai_hasher_buf call, but must not change it. */
void ai_hasher_feed(ai_hasher_t *h, uint8_t *buf, size_t len);
void ai_hasher_end(ai_hasher_t *h, uint8_t file_hash[32], uint32_t *crc);
/* Wait for the helper and produce the content hash of everything fed so far. */
void ai_hasher_content(ai_hasher_t *h, uint8_t out[32]);

/* ---- json.c ------------------------------------------------------------------------------ */

/* Render obj with two-space indentation, "key": value, empty containers as {} and [] (the
 * layout of serde_json's pretty printer), keys in insertion order. */
void ai_json_pretty(hz_buf_t *out, json_object *obj);
/* Strict integer checks used by the schema code: a JSON integer in [0, max]. */
bool ai_json_uint(json_object *v, uint64_t max, uint64_t *out);
bool ai_hex64_valid(const char *s);

/* ---- vocab.c / metadata.c ------------------------------------------------------------------ */

/* Validate the artifact_type value; err names the problem relative to "artifact_type". */
int ai_type_validate(json_object *t, const char *field);
const char *ai_type_name(json_object *t);     /* "Model", "Delta", ... (points into t or static) */
int ai_license_validate(json_object *l, const char *field);
const char *ai_license_name(json_object *l);
int ai_license_parse(const char *spec, json_object **out);
int ai_network_validate(json_object *n, const char *field);
int ai_location_validate(json_object *loc, const char *field);

typedef struct ai_meta_in {
    json_object *base;        /* an existing metadata.json to start from, or NULL */
    const hz_ai_pack_opts_t *opts;
    const char *content_hash;
    uint64_t size_bytes;
    int64_t now_ms;
} ai_meta_in_t;

/* Build metadata.json for a pack (owned object, validated). */
int ai_metadata_build(const ai_meta_in_t *in, json_object **out);

/* ---- manifest.c --------------------------------------------------------------------------- */

typedef struct ai_mfile {
    char *path;
    uint64_t size;
    bool has_csize;
    uint64_t csize;
    char hash[HZ_AI_HASH_HEX_LEN + 1];
} ai_mfile_t;

typedef struct ai_manifest {
    uint32_t version;
    size_t n;
    ai_mfile_t *files;      /* sorted by path */
    uint64_t total_size;
} ai_manifest_t;

int ai_manifest_parse(const char *text, size_t len, ai_manifest_t *m);
void ai_manifest_free(ai_manifest_t *m);
const ai_mfile_t *ai_manifest_find(const ai_manifest_t *m, const char *path);
/* Render files (sorted) as manifest.json text. */
void ai_manifest_render(hz_buf_t *out, const ai_mfile_t *files, size_t n);

/* ---- reader.c ---------------------------------------------------------------------------- */

typedef struct ai_sigentry {
    const ai_zentry_t *entry;
    json_object *json;
    hz_ai_signer_t signer;
    const hz_sig_t *alg;
    hz_key_t *key;          /* the signer's public key */
    uint8_t *sig;
    size_t sig_len;
    uint8_t content_hash[32], manifest_b3[32], metadata_b3[32];
} ai_sigentry_t;

typedef struct ai_reader {
    int fd;
    ai_zip_t zip;
    hz_ai_limits_t lim;
    uint32_t format_version;
    char *manifest_text;
    size_t manifest_len;
    char *metadata_text;
    size_t metadata_len;
    ai_manifest_t manifest;
    json_object *metadata;
    const ai_zentry_t **data;   /* data entries in manifest (sorted path) order */
    size_t nsigs;
    ai_sigentry_t *sigs;
} ai_reader_t;

int ai_reader_open(ai_reader_t *r, const char *path, const hz_ai_limits_t *lim);
void ai_reader_close(ai_reader_t *r);
/* Build the public info (caller frees) from an open reader. */
hz_ai_info_t *ai_reader_info(const ai_reader_t *r);

/* ---- sign.c ------------------------------------------------------------------------------- */

#define AI_SIG_CONTEXT "hanzo.ai artifact v1"

/* Parse a signatures/<key-id>.sig entry's JSON text into *s (entry set by the caller). */
int ai_sig_parse(ai_sigentry_t *s, const char *text, size_t len);
void ai_sig_free(ai_sigentry_t *s);
/* Verify every signature of r against the (already verified) content hash; apply the trust list. */
int ai_sigs_verify(ai_reader_t *r, const uint8_t content_hash[32], const hz_ai_read_opts_t *opts,
                   hz_ai_info_t *info);
/* The signature entry JSON text for key over the given hashes (owned buffer). */
int ai_sig_make(const hz_key_t *key, const uint8_t content_hash[32],
                const char *manifest, size_t manifest_len, const char *metadata, size_t metadata_len,
                int64_t now_ms, hz_buf_t *out, char key_id[HZ_AI_KEY_ID_LEN + 1]);

/* ---- info.c ------------------------------------------------------------------------------- */

void ai_info_sort_signers(hz_ai_info_t *info);

/* ---- verify.c ----------------------------------------------------------------------------- */

/* The data pass over an open reader. With dest_fd >= 0 each file is also written below that
 * directory. content_out receives the recomputed content hash. */
int ai_verify_data(ai_reader_t *r, const hz_ai_read_opts_t *opts, int dest_fd, uint8_t content_out[32]);

/* ---- layout.c ---------------------------------------------------------------------------- */

/* Archive path for a file found at rel (relative to the packed folder), for an artifact of the
 * given type name. Owned string. */
char *ai_layout_place(const char *rel, const char *type_name);

/* ---- util ------------------------------------------------------------------------------------ */

/* Read the whole small file at path (at most max bytes) into an owned NUL-terminated buffer. */
int ai_read_file(const char *path, uint64_t max, char **out, size_t *len);
/* Write all of buf to fd at the current offset. */
int ai_write_all(int fd, const void *buf, size_t len, const char *what);
int ai_mkdirs(const char *path, mode_t mode);
/* Copy a file (replacing `to`), fsync'd. */
int ai_copy_file(const char *from, const char *to);
/* BLAKE3 of a whole file, streamed. */
int ai_file_blake3(const char *path, uint8_t out[32]);
/* Remove a folder tree (used only on our own temporary folders). */
void ai_rmtree(const char *path);
bool ai_progress(const hz_ai_read_opts_t *o, const char *phase, uint64_t done, uint64_t total);

#endif
