/*
 * hanzo ai: the .ai artifact format from the command line. This file dispatches and holds the
 * local commands (pack, unpack, verify, info, types); signing and key options are in
 * cmd_ai_keys.c, push and pull in cmd_ai_remote.c, the progress display in cmd_ai_progress.c.
 * Everything real happens in the artifact module; these functions parse flags and print.
 */
#include "cmd_ai.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: hanzo ai <command> [options]\n\n"
            "Package, verify and share AI artifacts in the .ai format (HIP-0024): a ZIP archive\n"
            "with a BLAKE3 manifest, HIP-0024 metadata and optional ML-DSA signatures.\n\n"
            "commands:\n"
            "  pack DIR -o OUT.ai --type TYPE --name NAME [options]   pack a folder\n"
            "  unpack FILE.ai -o DIR [--trust KEY]...                 verify, then extract\n"
            "  verify FILE.ai [--trust KEY]... [--json]               check every byte and signature\n"
            "  info FILE.ai [--json]                                  show metadata, files, signers\n"
            "  sign FILE.ai --key KEY [--key KEY]...                  add ML-DSA signatures\n"
            "  push FILE.ai --to LOCATION                             upload (node, HTTP, store folder)\n"
            "  pull HASH --from LOCATION [--from ...] -o OUT.ai       download with fallback and resume\n"
            "  types                                                  list artifact types and licences\n\n"
            "`hanzo ai <command> --help` shows each command's options.\n");
}

static void pack_usage(void) {
    printf("usage: hanzo ai pack DIR -o OUT.ai --type TYPE --name NAME [options]\n\n"
           "Pack the files under DIR. Files already under data/weights, data/config,\n"
           "data/tokenizer, delta, dataset, embeddings or state keep their place; loose files\n"
           "are placed by type (weights by extension, tokenizer files by name). A metadata.json\n"
           "in DIR (as `unpack` writes it) provides defaults for every option below.\n\n"
           "options:\n"
           "  -o, --output FILE      the archive to write (required)\n"
           "  --type TYPE            Model, Weights, Tokenizer, Config, or with parameters:\n"
           "                         QuantizedModel:format=GGUF,bits=4\n"
           "                         Delta:base_model=NAME,method=LoRA,rank=64,alpha=32\n"
           "                         Dataset:task=Conversation[,split=train]\n"
           "                         Embeddings:model=NAME,dimensions=768\n"
           "                         VectorStore:index_type=hnsw,dimensions=768\n"
           "                         AgentState:agent_type=NAME   Checkpoint:epoch=1,step=100\n"
           "                         Custom:NAME   or the JSON form (see `hanzo ai types`)\n"
           "  --name NAME            artifact name\n"
           "  --version V            default 1.0.0\n"
           "  --description TEXT\n"
           "  --author NAME\n"
           "  --license L            Apache2 (default), MIT, GPL3, ..., Custom:TEXT\n"
           "  --tag TAG              repeatable\n"
           "  --sign KEYFILE         sign with this ML-DSA secret key file; repeatable\n"
           "  --force                replace OUT.ai if it exists\n"
           "  --threads N            1 = hash on one thread (default 2)\n"
           "%s", cli_ai_common_help());
}

static void read_usage(const char *cmd) {
    if (strcmp(cmd, "unpack") == 0)
        printf("usage: hanzo ai unpack FILE.ai -o DIR [options]\n\n"
               "Verify everything, then extract into DIR (which must not exist or be empty):\n"
               "the data files, manifest.json, metadata.json and signatures/. Nothing is written\n"
               "to DIR unless the whole archive verifies.\n\n");
    else if (strcmp(cmd, "verify") == 0)
        printf("usage: hanzo ai verify FILE.ai [options]\n\n"
               "Check the ZIP structure, the format, manifest and metadata, every file's BLAKE3\n"
               "and CRC-32, the content hash, and every signature. With --trust, also require a\n"
               "valid signature by one of the given keys.\n\n");
    else
        printf("usage: hanzo ai info FILE.ai [options]\n\n"
               "Show the metadata, the files and the signers. Checks the structure but reads no\n"
               "data: use `verify` to check the bytes.\n\n");
    printf("options:\n");
    if (strcmp(cmd, "unpack") == 0) printf("  -o, --output DIR       where to extract (required)\n");
    if (strcmp(cmd, "info") != 0)
        printf("  --trust KEYFILE        require a valid signature by this ML-DSA public (or secret)\n"
               "                         key file; repeatable\n"
               "  --trust-dir DIR        trust every *.pub key file in DIR\n"
               "  --threads N            1 = hash on one thread (default 2)\n");
    if (strcmp(cmd, "unpack") != 0) printf("  --json                 print the result as JSON\n");
    printf("%s", cli_ai_common_help());
}

/* ---- human output ---------------------------------------------------------------------------- */

void cli_ai_human_size(uint64_t n, char *out, size_t cap) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) { v /= 1024; u++; }
    if (u == 0) snprintf(out, cap, "%llu B", (unsigned long long)n);
    else snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void print_info(const char *path, const hz_ai_info_t *info) {
    char sz[32], tot[32], ts[32];
    cli_ai_human_size(info->archive_size, sz, sizeof(sz));
    cli_ai_human_size(info->total_size, tot, sizeof(tot));
    json_object *v;
    printf("%s: .ai format %u, %s\n", path, info->format_version, sz);
    printf("  name         %s %s\n", info->name, info->version);
    json_object_object_get_ex(info->metadata, "artifact_type", &v);
    printf("  type         %s\n", json_object_is_type(v, json_type_string) ? json_object_get_string(v) : hz_json_dump(v, NULL));
    printf("  license      %s\n", info->license_name ? info->license_name : "?");
    if (json_object_object_get_ex(info->metadata, "author", &v) && v) printf("  author       %s\n", json_object_get_string(v));
    if (json_object_object_get_ex(info->metadata, "description", &v) && v) printf("  description  %s\n", json_object_get_string(v));
    if (json_object_object_get_ex(info->metadata, "tags", &v) && json_object_array_length(v) > 0) printf("  tags         %s\n", hz_json_dump(v, NULL));
    if (json_object_object_get_ex(info->metadata, "created_at", &v)) printf("  created      %s\n", json_object_get_string(v));
    printf("  content hash %s%s\n", info->content_hash, info->data_verified ? " (verified)" : "");
    printf("  files        %zu, %s\n", info->nfiles, tot);
    for (size_t i = 0; i < info->nfiles; i++) {
        const hz_ai_file_t *f = &info->files[i];
        cli_ai_human_size(f->size, sz, sizeof(sz));
        printf("    %-44s %10s  %-8s %.16s\n", f->path, sz, f->stored ? "stored" : "deflated", f->hash);
    }
    printf("  signatures   %zu\n", info->nsigners);
    for (size_t i = 0; i < info->nsigners; i++) {
        const hz_ai_signer_t *s = &info->signers[i];
        printf("    %s  %s  %s  %s\n", s->key_id, s->algorithm, hz_time_format_rfc3339(s->signed_at_ms, ts),
               !s->checked ? "not checked (run verify)" : s->trusted ? "valid, trusted" : "valid");
    }
}

static void print_json(const hz_ai_info_t *info) {
    json_object *j = hz_ai_info_to_json(info);
    printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
}

/* "hanzo ai verify: x.ai: hash_mismatch: ..." plus the exit status. */
int cli_ai_fail(const char *cmd) {
    char c[32];
    snprintf(c, sizeof(c), "ai %s", cmd);
    return cli_fail(c, "%s", hz_error_last());
}

/* ---- commands ------------------------------------------------------------------------------- */

static int cmd_pack(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { pack_usage(); return 0; }
    hz_ai_pack_opts_t o = {0};
    cli_ai_common_t c;
    cli_ai_common_init(&c);
    const char *dir = NULL, *out = NULL;
    const char **tags = hz_calloc((size_t)argc + 1, sizeof(char *));
    int status = 0;
    for (int i = 0; i < argc && !status; i++) {
        const char *a = argv[i], *val = NULL;
        int used = cli_ai_common_parse(&c, argc, argv, &i, &status);
        if (used || status) continue;
#define VAL() (i + 1 < argc ? (val = argv[++i]) : (status = cli_fail("ai pack", "%s needs a value", a), (const char *)NULL))
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = VAL();
        else if (!strcmp(a, "--type")) o.type = VAL();
        else if (!strcmp(a, "--name")) o.name = VAL();
        else if (!strcmp(a, "--version")) o.version = VAL();
        else if (!strcmp(a, "--description")) o.description = VAL();
        else if (!strcmp(a, "--author")) o.author = VAL();
        else if (!strcmp(a, "--license")) o.license = VAL();
        else if (!strcmp(a, "--tag")) { if (VAL()) tags[o.ntags++] = val; }
        else if (!strcmp(a, "--sign")) { if (VAL()) status = cli_ai_load_key(&c, val, true); }
        else if (!strcmp(a, "--force")) o.overwrite = true;
        else if (a[0] == '-') status = cli_fail("ai pack", "unknown option %s (see --help)", a);
        else if (!dir) dir = a;
        else status = cli_fail("ai pack", "unexpected argument \"%s\"", a);
#undef VAL
    }
    if (!status && !dir) status = cli_fail("ai pack", "missing the folder to pack (see --help)");
    if (!status && !out) status = cli_fail("ai pack", "missing -o OUT.ai");
    if (!status) {
        o.tags = tags;
        o.signers = (const hz_key_t *const *)c.keys;
        o.nsigners = c.nkeys;
        o.threads = c.threads;
        o.progress = cli_ai_progress;
        o.progress_ctx = &c.progress;
        hz_ai_info_t *info = NULL;
        int64_t t0 = hz_time_mono_ns();
        int rc = hz_ai_pack(dir, out, &o, &info);
        cli_ai_progress_done(&c.progress);
        if (rc) status = cli_ai_fail("pack");
        else {
            char sz[32];
            cli_ai_human_size(info->archive_size, sz, sizeof(sz));
            fprintf(c.json ? stderr : stdout, "packed %s into %s: %zu files, %s, %zu signature%s, %.1f s\ncontent hash %s\n", dir, out,
                    info->nfiles, sz, info->nsigners, info->nsigners == 1 ? "" : "s",
                    (double)(hz_time_mono_ns() - t0) / 1e9, info->content_hash);
            if (c.json) print_json(info);
        }
        hz_ai_info_free(info);
    }
    hz_free(tags);
    cli_ai_common_free(&c);
    return status;
}

static int cmd_read(const char *cmd, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { read_usage(cmd); return 0; }
    cli_ai_common_t c;
    cli_ai_common_init(&c);
    const char *file = NULL, *out = NULL;
    int status = 0;
    char name[32];
    snprintf(name, sizeof(name), "ai %s", cmd);
    for (int i = 0; i < argc && !status; i++) {
        const char *a = argv[i];
        if (cli_ai_common_parse(&c, argc, argv, &i, &status) || status) continue;
        if (strcmp(cmd, "unpack") == 0 && (!strcmp(a, "-o") || !strcmp(a, "--output"))) {
            if (i + 1 < argc) out = argv[++i];
            else status = cli_fail(name, "%s needs a value", a);
        } else if (strcmp(cmd, "info") != 0 && !strcmp(a, "--trust")) {
            if (i + 1 < argc) status = cli_ai_load_key(&c, argv[++i], false);
            else status = cli_fail(name, "--trust needs a key file");
        } else if (strcmp(cmd, "info") != 0 && !strcmp(a, "--trust-dir")) {
            if (i + 1 < argc) status = cli_ai_load_trust_dir(&c, argv[++i]);
            else status = cli_fail(name, "--trust-dir needs a folder");
        } else if (a[0] == '-' && a[1]) {
            status = cli_fail(name, "unknown option %s (see --help)", a);
        } else if (!file) {
            file = a;
        } else {
            status = cli_fail(name, "unexpected argument \"%s\"", a);
        }
    }
    if (!status && !file) status = cli_fail(name, "missing the .ai file (see --help)");
    if (!status && strcmp(cmd, "unpack") == 0 && !out) status = cli_fail(name, "missing -o DIR");
    if (status) { cli_ai_common_free(&c); return status; }

    hz_ai_read_opts_t ro = {.trusted = (const hz_key_t *const *)c.keys, .ntrusted = c.nkeys, .threads = c.threads,
                            .progress = cli_ai_progress, .progress_ctx = &c.progress};
    hz_ai_info_t *info = NULL;
    int rc;
    int64_t t0 = hz_time_mono_ns();
    if (strcmp(cmd, "info") == 0) rc = hz_ai_info(file, &ro, &info);
    else if (strcmp(cmd, "verify") == 0) rc = hz_ai_verify(file, &ro, &info);
    else rc = hz_ai_unpack(file, out, &ro, &info);
    cli_ai_progress_done(&c.progress);
    double secs = (double)(hz_time_mono_ns() - t0) / 1e9;
    if (rc) {
        status = cli_ai_fail(cmd);
    } else if (c.json) {
        print_json(info);
    } else if (strcmp(cmd, "info") == 0) {
        print_info(file, info);
    } else {
        size_t trusted = 0;
        for (size_t i = 0; i < info->nsigners; i++) trusted += info->signers[i].trusted;
        char sz[32];
        cli_ai_human_size(info->total_size, sz, sizeof(sz));
        printf("%s: %s %s: %zu files, %s, content hash %s, %zu valid signature%s%s (%.1f s)\n", file,
               strcmp(cmd, "verify") == 0 ? "verified" : "unpacked to", strcmp(cmd, "verify") == 0 ? "ok" : out, info->nfiles, sz,
               info->content_hash, info->nsigners, info->nsigners == 1 ? "" : "s",
               c.nkeys ? (trusted ? ", trusted" : ", none trusted") : "", secs);
    }
    hz_ai_info_free(info);
    cli_ai_common_free(&c);
    return status;
}

static int cmd_types(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("artifact types (metadata artifact_type):\n");
    for (size_t i = 0; hz_ai_type_at(i); i++) printf("  %s\n", hz_ai_type_at(i));
    printf("\nlicences (metadata license):\n");
    for (size_t i = 0; hz_ai_license_at(i); i++) printf("  %s\n", hz_ai_license_at(i));
    printf("\nParameterised types take key=value parameters after a colon, e.g.\n"
           "  --type QuantizedModel:format=GGUF,bits=4, or their JSON form:\n"
           "  --type '{\"QuantizedModel\":{\"format\":\"GGUF\",\"bits\":4}}'\n");
    return 0;
}

int cmd_ai(int argc, char **argv) {
    if (argc < 1) { usage(stderr); return 2; }
    const char *sub = argv[0];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) { usage(stdout); return 0; }
    if (!strcmp(sub, "pack")) return cmd_pack(argc - 1, argv + 1);
    if (!strcmp(sub, "unpack") || !strcmp(sub, "verify") || !strcmp(sub, "info")) return cmd_read(sub, argc - 1, argv + 1);
    if (!strcmp(sub, "sign")) return cli_ai_sign(argc - 1, argv + 1);
    if (!strcmp(sub, "push")) return cli_ai_push(argc - 1, argv + 1);
    if (!strcmp(sub, "pull")) return cli_ai_pull(argc - 1, argv + 1);
    if (!strcmp(sub, "types")) return cmd_types(argc - 1, argv + 1);
    return cli_fail("ai", "unknown command \"%s\" (see `hanzo ai --help`)", sub);
}
