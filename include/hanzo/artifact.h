/*
 * hanzo/artifact.h - the `.ai` artifact format (HIP-0024): pack, verify, unpack, sign, store, fetch.
 *
 * An `.ai` file is a ZIP archive, byte-compatible with the reference implementation (the
 * hanzo-ai-format crate): an entry `_format` holding "HAIF" and a u32 little-endian format version
 * (1); `manifest.json` listing every data file with its size, BLAKE3 and compressed size;
 * `metadata.json` with the HIP-0024 schema (name, type, licence, content hash, ...); the data
 * files under data/weights, data/config, data/tokenizer, delta/, dataset/, embeddings/, state/;
 * and optional ML-DSA signatures under signatures/. The content hash is BLAKE3 over, for every
 * data file in bytewise-sorted path order, the path bytes followed by the file bytes. The exact
 * byte layout, the signature format and a worked example are in docs/formats/ai.md.
 *
 * Reading is hostile-input first. Before any data is touched the ZIP structure is parsed by our
 * own strict reader and every rule below is checked; a failure returns a negative HZ_E* code,
 * a message naming the entry, field or byte offset, and a reason (hz_ai_error_reason) that says
 * which rule failed, so callers and tests can tell a path traversal from a hash mismatch.
 * Unpacking writes into a fresh temporary folder beside the destination and renames it into
 * place only when everything, data hashes and signatures included, has verified.
 *
 * Memory is flat: data is streamed from disk in fixed pieces (large weights are stored, not
 * deflated, so they are read in place), and two threads hash each piece, one for the per-file
 * BLAKE3 and CRC-32, one for the content hash. Peak memory does not depend on artifact size.
 *
 * Thread safety: functions keep no shared state; the reason code is per thread, like
 * hz_error_last(). An hz_ai_store_t is safe to use from several threads (see below).
 */
#ifndef HANZO_ARTIFACT_H
#define HANZO_ARTIFACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanzo/base.h"
#include "hanzo/crypto.h"

#define HZ_AI_MAGIC "HAIF"
#define HZ_AI_FORMAT_VERSION 1
#define HZ_AI_SIG_VERSION 1
#define HZ_AI_HASH_HEX_LEN 64 /* lowercase hex of a 32-byte BLAKE3 */

/* ---- why an archive was rejected ---------------------------------------------------------- */

typedef enum {
    HZ_AI_OK = 0,
    HZ_AI_ERR_IO,              /* the file could not be read or written */
    HZ_AI_ERR_NOT_ZIP,         /* no (unique, well-placed) end of central directory record */
    HZ_AI_ERR_ZIP_STRUCTURE,   /* malformed central directory, extra fields, multi-disk, ... */
    HZ_AI_ERR_ZIP64,           /* ZIP64 record or extra field missing, malformed or disagreeing */
    HZ_AI_ERR_OVERLAP,         /* entries overlap each other or the central directory */
    HZ_AI_ERR_HEADER_MISMATCH, /* a local header disagrees with its central directory entry */
    HZ_AI_ERR_ENCRYPTED,
    HZ_AI_ERR_COMPRESSION,     /* a method other than store or deflate, or bad stored sizes */
    HZ_AI_ERR_BAD_NAME,        /* NUL, control character, invalid UTF-8, empty or "." part, too long */
    HZ_AI_ERR_TRAVERSAL,       /* a ".." path component */
    HZ_AI_ERR_ABSOLUTE,        /* a leading "/" or a drive letter */
    HZ_AI_ERR_BACKSLASH,
    HZ_AI_ERR_SYMLINK,
    HZ_AI_ERR_SPECIAL_FILE,    /* a directory entry, device or FIFO */
    HZ_AI_ERR_DUPLICATE,       /* two entries with the same name */
    HZ_AI_ERR_BOMB_RATIO,      /* a deflated entry expands more than limits.max_ratio */
    HZ_AI_ERR_BOMB_TOTAL,      /* total size, entry count or a JSON entry over its limit */
    HZ_AI_ERR_BAD_FORMAT,      /* `_format` missing, wrong size or wrong magic */
    HZ_AI_ERR_VERSION,         /* format (or manifest, or signature) version we do not know */
    HZ_AI_ERR_MANIFEST,        /* manifest.json missing, malformed or inconsistent */
    HZ_AI_ERR_METADATA,        /* metadata.json missing, malformed, unknown type or licence */
    HZ_AI_ERR_UNLISTED,        /* an entry that the manifest does not list */
    HZ_AI_ERR_MISSING_FILE,    /* a manifest file with no entry */
    HZ_AI_ERR_SIZE_MISMATCH,   /* manifest size / compressed_size vs the ZIP headers or data */
    HZ_AI_ERR_HASH_MISMATCH,   /* a file's BLAKE3 differs from the manifest */
    HZ_AI_ERR_CRC_MISMATCH,    /* a file's CRC-32 differs from its ZIP header */
    HZ_AI_ERR_CONTENT_HASH,    /* the content hash differs from metadata.content_hash */
    HZ_AI_ERR_SIGNATURE,       /* a signature entry is malformed or does not verify */
    HZ_AI_ERR_UNTRUSTED,       /* no valid signature by a key on the trust list */
    HZ_AI_ERR__COUNT
} hz_ai_err_t;

/* The reason of the last failing hz_ai_* call on this thread (HZ_AI_OK when it failed for a
 * reason that is not about the archive: bad arguments, out of disk, ...). */
hz_ai_err_t hz_ai_error_reason(void);
/* Stable snake_case name: "path_traversal", "hash_mismatch", ... ("ok" for HZ_AI_OK). */
const char *hz_ai_error_name(hz_ai_err_t reason);

/* ---- limits on load ----------------------------------------------------------------------- */

typedef struct hz_ai_limits {
    uint64_t max_total_bytes;    /* sum of all uncompressed sizes; default 1 TiB */
    uint64_t max_entries;        /* default 100000 */
    uint64_t max_ratio;          /* deflated entries over 64 KiB: size / compressed; default 200 */
    uint64_t max_deflated_bytes; /* one deflated entry, uncompressed; default 1 GiB */
    uint64_t max_json_bytes;     /* manifest.json, metadata.json; default 64 MiB */
} hz_ai_limits_t;

/* Fill *l with the defaults above. */
void hz_ai_limits_default(hz_ai_limits_t *l);

/* ---- progress ----------------------------------------------------------------------------- */

/* Called from the working thread at most every few MiB: phase is "hash", "write", "verify",
 * "unpack" or "download"; total is 0 when unknown. Return false to cancel (the call then fails
 * with HZ_ECLOSED). */
typedef bool (*hz_ai_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);

/* ---- keys --------------------------------------------------------------------------------- */

/* Signing and trust use the crypto module's keys (hz_key_t, loaded from key files with
 * hz_key_load): a signer is an ML-DSA key with its secret half, a trusted key an ML-DSA public
 * key. A signer is named by its key id (hz_key_id_hex: 64 hex digits), which is also the name of
 * its entry, signatures/<key-id>.sig. */
#define HZ_AI_KEY_ID_LEN (2 * HZ_KEY_ID_LEN)

/* ---- artifact information ------------------------------------------------------------------ */

typedef struct hz_ai_file {
    char *path;              /* archive path, e.g. "data/weights/model.gguf" */
    uint64_t size;           /* uncompressed */
    uint64_t compressed_size;
    bool stored;             /* not deflated: readable in place at data_offset */
    uint64_t data_offset;    /* byte offset of the data in the archive (stored files) */
    char hash[HZ_AI_HASH_HEX_LEN + 1];
} hz_ai_file_t;

typedef struct hz_ai_signer {
    char key_id[HZ_AI_KEY_ID_LEN + 1];
    char algorithm[16];      /* "ml-dsa-65" */
    int64_t signed_at_ms;
    bool checked;            /* the signature was verified (hz_ai_verify / hz_ai_unpack) */
    bool trusted;            /* ... and its key is on the caller's trust list */
} hz_ai_signer_t;

typedef struct hz_ai_info {
    uint32_t format_version;
    uint64_t archive_size;
    char content_hash[HZ_AI_HASH_HEX_LEN + 1];  /* as metadata.json declares it */
    bool data_verified;      /* every file's BLAKE3, CRC and the content hash were recomputed */
    json_object *metadata;   /* metadata.json, validated against the HIP-0024 schema */
    const char *name;        /* these point into metadata */
    const char *version;
    const char *type_name;   /* "Model", "QuantizedModel", ... */
    const char *license_name;/* "Apache2", ..., or the Custom string */
    uint64_t total_size;     /* manifest total_size (= metadata size_bytes) */
    size_t nfiles;
    hz_ai_file_t *files;     /* sorted bytewise by path */
    size_t nsigners;
    hz_ai_signer_t *signers; /* sorted by key id */
} hz_ai_info_t;

void hz_ai_info_free(hz_ai_info_t *info);
/* A JSON summary: {format_version, archive_size, content_hash, data_verified, metadata,
 * files: [{path, size, compressed_size, stored, hash}], signatures: [{key_id, algorithm,
 * signed_at, checked, trusted}]}. Caller owns the object. */
json_object *hz_ai_info_to_json(const hz_ai_info_t *info);

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct hz_ai_read_opts {
    const hz_ai_limits_t *limits;        /* NULL = defaults */
    const hz_key_t *const *trusted;      /* trust list; with ntrusted > 0 a valid signature by one */
    size_t ntrusted;                     /* of these keys is required (HZ_AI_ERR_UNTRUSTED) */
    int threads;                         /* 1 = hash on the calling thread only; else 2 */
    hz_ai_progress_fn progress;
    void *progress_ctx;
} hz_ai_read_opts_t;

/* Structure only: the ZIP rules, `_format`, manifest, metadata, the manifest against the entries,
 * and the signature entries' syntax. Reads no data file. opts may be NULL. */
int hz_ai_info(const char *path, const hz_ai_read_opts_t *opts, hz_ai_info_t **out);
/* The bytes of one small entry (at most max bytes), e.g. "manifest.json", after the structure
 * checks of hz_ai_info. *out is owned and NUL-terminated. */
int hz_ai_read_entry(const char *path, const char *name, uint64_t max, char **out, size_t *len);
/* hz_ai_info plus every data byte: each file's BLAKE3 and CRC-32, the content hash, and every
 * signature (each must verify; with a trust list one must be by a trusted key). out may be NULL. */
int hz_ai_verify(const char *path, const hz_ai_read_opts_t *opts, hz_ai_info_t **out);
/* Verify and extract into dest, which must not exist or be an empty folder: the data files at
 * their paths, plus manifest.json, metadata.json and signatures/. Nothing appears at dest unless
 * everything verified. out may be NULL. */
int hz_ai_unpack(const char *path, const char *dest, const hz_ai_read_opts_t *opts, hz_ai_info_t **out);

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct hz_ai_pack_opts {
    /* Metadata. With a metadata.json at the top of the folder (as hz_ai_unpack writes it), that is
     * the starting point and these override it; otherwise type and name are required. */
    const char *type;          /* "Model", "QuantizedModel:format=GGUF,bits=4", or the JSON form */
    const char *name;
    const char *version;       /* default "1.0.0" */
    const char *description;
    const char *author;
    const char *license;       /* "Apache2" (default), "MIT", ..., "Custom:<text>" */
    const char *const *tags;
    size_t ntags;
    bool overwrite;            /* replace an existing output file */
    const hz_key_t *const *signers;   /* ML-DSA keys with their secret halves */
    size_t nsigners;
    int threads;
    hz_ai_progress_fn progress;
    void *progress_ctx;
} hz_ai_pack_opts_t;

/* Pack the files under dir into out_path. Files already under a known folder (data/weights/,
 * data/config/, data/tokenizer/, delta/, dataset/, embeddings/, state/) keep their path; loose
 * files are placed by the rules of docs/formats/ai.md (weights by extension, tokenizer files by
 * name, the rest by artifact type). Symbolic links to regular files are followed. The archive is
 * written beside out_path and renamed into place. out may be NULL. */
int hz_ai_pack(const char *dir, const char *out_path, const hz_ai_pack_opts_t *opts, hz_ai_info_t **out);

/* Add a signature by each key to an existing archive (replacing an earlier signature by the same
 * key). The archive is verified first (opts: limits, threads, progress); the data is not changed,
 * so the content hash stays the same. */
int hz_ai_sign(const char *path, const hz_key_t *const *keys, size_t nkeys, const hz_ai_read_opts_t *opts);

/* ---- metadata vocabulary ----------------------------------------------------------------------- */

/* The artifact types and licences exactly as HIP-0024 lists them, for help texts and validation.
 * NULL past the end. */
const char *hz_ai_type_at(size_t i);
const char *hz_ai_license_at(size_t i);
/* Parse a type spec ("Model", "Delta:base_model=llama-3-8b,method=LoRA,rank=64,alpha=32", or
 * JSON such as {"QuantizedModel":{"format":"GGUF","bits":4}}) into its metadata JSON value.
 * Caller owns *out. HZ_EINVAL naming the parameter on error. */
int hz_ai_type_parse(const char *spec, json_object **out);
/* Validate a whole metadata.json document (the HIP-0024 schema). HZ_EINVAL naming the field. */
int hz_ai_metadata_validate(json_object *meta);

/* ---- content addressing ------------------------------------------------------------------------- */

/* CIDv1 (base32, raw codec, BLAKE3-256 multihash) of a 32-byte digest: "bafkr4i...". out holds
 * at least 64 bytes. */
void hz_ai_cid_from_blake3(const uint8_t digest[32], char *out, size_t out_len);
/* Parse such a CID; HZ_EINVAL when it is not CIDv1 raw + BLAKE3-256 in base32. */
int hz_ai_cid_parse(const char *cid, uint8_t digest[32]);

/* ---- the local store ---------------------------------------------------------------------- */

/* A content-addressed folder: <root>/<first two hex>/<content hash>.ai, with a <hash>.json beside
 * each holding its summary (hz_ai_info_to_json) so listing does not reopen archives. Additions go
 * through <root>/tmp/ and a rename, so readers never see a partial archive; any number of threads
 * and processes may use one store. */
typedef struct hz_ai_store hz_ai_store_t;

int hz_ai_store_open(const char *root, hz_ai_store_t **out);
void hz_ai_store_close(hz_ai_store_t *store);
const char *hz_ai_store_root(const hz_ai_store_t *store);
/* Verify the archive at path and add it (a copy; with move, a rename when possible). Existing
 * content is kept and reported with *existed = true. hash_out receives the content hash. */
int hz_ai_store_add(hz_ai_store_t *store, const char *path, bool move, const hz_ai_read_opts_t *opts,
                    char hash_out[HZ_AI_HASH_HEX_LEN + 1], bool *existed);
/* Path of the archive with this content hash (owned string) or HZ_ENOTFOUND. */
int hz_ai_store_path(hz_ai_store_t *store, const char *hash, char **path_out);
/* The summary JSON of one artifact (caller owns) or HZ_ENOTFOUND. */
int hz_ai_store_get(hz_ai_store_t *store, const char *hash, json_object **out);
/* A JSON array of every summary, sorted by content hash. */
int hz_ai_store_list(hz_ai_store_t *store, json_object **out);
int hz_ai_store_delete(hz_ai_store_t *store, const char *hash);
/* For a Model or QuantizedModel artifact with GGUF weights: the path of its first
 * data/weights/ file ending in .gguf as a plain file, for llama.cpp to load. It is copied out of the archive
 * (verified against the manifest on the way) once, to <root>/<hh>/<hash>.models/<name>.gguf.
 * HZ_ENOTFOUND when the artifact has no such weights. Owned string. */
int hz_ai_store_model_path(hz_ai_store_t *store, const char *hash, char **path_out);
/* A temporary file path inside the store (same file system, so hz_ai_store_add can move it). */
char *hz_ai_store_tmp_path(hz_ai_store_t *store);

/* ---- remote backends ---------------------------------------------------------------------- */

typedef enum {
    HZ_AI_LOC_LOCAL = 1,   /* a file path, or a store folder holding <hh>/<hash>.ai */
    HZ_AI_LOC_HTTP,        /* a direct URL */
    HZ_AI_LOC_HF,          /* a mirror in Hugging Face's layout: {base}/{repo}/resolve/{rev}/{file} */
    HZ_AI_LOC_IPFS,        /* a gateway: {base}/ipfs/{cid} */
    HZ_AI_LOC_NODE,        /* another hanzo node: {base}/v2/artifacts/{hash} */
} hz_ai_loc_kind_t;

typedef struct hz_ai_location {
    hz_ai_loc_kind_t kind;
    char *target;   /* LOCAL: path; HTTP: URL; HF: repo id; IPFS: CID; NODE: base URL */
    char *base;     /* HF: mirror base URL; IPFS: gateway base URL; else NULL */
    char *revision; /* HF: revision (default "main") */
    char *file;     /* HF: file in the repo (default "<hash>.ai") */
    char *api_key;  /* NODE: bearer key, may be NULL */
} hz_ai_location_t;

/* Parse a location spec as the CLI takes it:
 *   PATH | file:PATH                 local file or store folder
 *   http(s)://...                    direct URL
 *   hf:REPO[@REV][/FILE]             mirror; base from hf_base (default https://huggingface.co)
 *   ipfs:CID                         gateway; base from ipfs_base (default https://ipfs.io)
 *   node:URL                         another hanzo node; api_key from node_key
 * Caller frees with hz_ai_location_clear. */
int hz_ai_location_parse(const char *spec, const char *hf_base, const char *ipfs_base,
                         const char *node_key, hz_ai_location_t *out);
/* The same for a metadata `locations` element ({"Local":..}, {"HuggingFace":{..}}, {"Ipfs":..},
 * {"Http":..}, {"NodeStorage":{"peer_id":URL,"path":..}}); Swarm is HZ_EUNSUPPORTED. */
int hz_ai_location_from_json(json_object *loc, const char *hf_base, const char *ipfs_base,
                             hz_ai_location_t *out);
void hz_ai_location_clear(hz_ai_location_t *loc);
/* The URL a location fetches for content hash `hash` (owned), or NULL for LOCAL. */
char *hz_ai_location_url(const hz_ai_location_t *loc, const char *hash);

typedef struct hz_ai_fetch_opts {
    hz_ai_read_opts_t read;   /* verification of what arrives */
    uint64_t max_bytes;       /* refuse downloads larger than this; 0 = limits.max_total_bytes */
    long connect_timeout_s;   /* default 15 */
    long stall_timeout_s;     /* abort when no byte arrives for this long; default 60 */
} hz_ai_fetch_opts_t;

/* Fetch the artifact with content hash `hash` (NULL = accept whatever verifies, for a direct
 * URL) into dest_path, trying the locations in order. Each download goes to dest_path.part and
 * resumes it with a Range request when a previous attempt from the same URL was cut off; what
 * arrives must verify and carry the expected content hash (and, from IPFS, match the CID),
 * otherwise the next location is tried. On success *used is the index of the location that
 * served it. The last failure's message names every location tried. */
int hz_ai_fetch(const char *hash, const hz_ai_location_t *locs, size_t nlocs, const char *dest_path,
                const hz_ai_fetch_opts_t *opts, size_t *used);

/* Upload an archive: HTTP (PUT to the URL), HF-layout mirror (PUT to its resolve URL), another
 * node (POST /v2/artifacts), or a LOCAL store folder (verified copy into it). IPFS is
 * HZ_EUNSUPPORTED (gateways are read-only). */
int hz_ai_push(const char *path, const hz_ai_location_t *loc, const hz_ai_fetch_opts_t *opts);

#endif
