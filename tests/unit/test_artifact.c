/*
 * The .ai format: type specs and metadata validation, a pack -> verify -> unpack round trip for
 * every artifact type HIP-0024 lists, placement and compression, the content hash recomputed here
 * from the source files (independently of the library's pipeline), repacking an unpacked folder,
 * an archive laid out the way the reference implementation writes it, signatures and trust lists,
 * progress and cancellation, and limits. Malicious archives are in test_artifact_malicious.c.
 */
#include "test_artifact_util.h"

/* ---- type specs -------------------------------------------------------------------------- */

static const struct {
    const char *spec;
    const char *json;
} specs[] = {
    {"Model", "\"Model\""},
    {"Weights", "\"Weights\""},
    {"QuantizedModel:format=GGUF,bits=4", "{\"QuantizedModel\":{\"format\":\"GGUF\",\"bits\":4}}"},
    {"Delta:base_model=llama-3-8b,method=LoRA,rank=64,alpha=32",
     "{\"Delta\":{\"base_model\":\"llama-3-8b\",\"method\":{\"LoRA\":{\"rank\":64,\"alpha\":32.0}}}}"},
    {"Dataset:task=Conversation,split=train", "{\"Dataset\":{\"task\":\"Conversation\",\"split\":\"train\"}}"},
    {"Embeddings:model=bge-small,dimensions=384", "{\"Embeddings\":{\"model\":\"bge-small\",\"dimensions\":384}}"},
    {"VectorStore:index_type=hnsw,dimensions=384", "{\"VectorStore\":{\"index_type\":\"hnsw\",\"dimensions\":384}}"},
    {"AgentState:agent_type=assistant", "{\"AgentState\":{\"agent_type\":\"assistant\"}}"},
    {"Tokenizer", "\"Tokenizer\""},
    {"Config", "\"Config\""},
    {"Checkpoint:epoch=3,step=1200", "{\"Checkpoint\":{\"epoch\":3,\"step\":1200}}"},
    {"Custom:my-thing", "{\"Custom\":\"my-thing\"}"},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static void test_type_specs(void **state) {
    (void)state;
    /* every HIP type is covered above, in the HIP's order */
    for (size_t i = 0; i < NSPECS; i++) {
        assert_non_null(hz_ai_type_at(i));
        assert_true(hz_str_starts_with(specs[i].spec, hz_ai_type_at(i)));
    }
    assert_null(hz_ai_type_at(NSPECS));
    for (size_t i = 0; i < NSPECS; i++) {
        json_object *v;
        if (hz_ai_type_parse(specs[i].spec, &v) != 0) fail_msg("%s: %s", specs[i].spec, hz_error_last());
        assert_string_equal(hz_json_dump(v, NULL), specs[i].json);
        json_object *w; /* the JSON form parses to the same thing */
        if (hz_ai_type_parse(specs[i].json, &w) != 0) fail_msg("%s: %s", specs[i].json, hz_error_last());
        assert_string_equal(hz_json_dump(w, NULL), specs[i].json);
        json_object_put(v);
        json_object_put(w);
    }
    json_object *v;
    assert_int_equal(hz_ai_type_parse("Delta:base_model=x,method=QLoRA,rank=8,alpha=16,bits=4", &v), 0);
    assert_string_equal(hz_json_dump(v, NULL), "{\"Delta\":{\"base_model\":\"x\",\"method\":{\"QLoRA\":{\"rank\":8,\"alpha\":16.0,\"bits\":4}}}}");
    json_object_put(v);
    assert_int_equal(hz_ai_type_parse("Delta:base_model=x,method=FullDiff", &v), 0);
    assert_string_equal(hz_json_dump(v, NULL), "{\"Delta\":{\"base_model\":\"x\",\"method\":\"FullDiff\"}}");
    json_object_put(v);
    assert_int_equal(hz_ai_type_parse("Dataset:task=Custom:ranking", &v), 0);
    assert_string_equal(hz_json_dump(v, NULL), "{\"Dataset\":{\"task\":{\"Custom\":\"ranking\"},\"split\":null}}");
    json_object_put(v);
    assert_int_equal(hz_ai_type_parse("QuantizedModel:format=Custom:hqq,bits=3", &v), 0);
    json_object_put(v);
}

static void expect_type_error(const char *spec, const char *needle) {
    json_object *v = NULL;
    int rc = hz_ai_type_parse(spec, &v);
    if (rc == 0) fail_msg("%s: accepted", spec);
    if (!strstr(hz_error_last(), needle)) fail_msg("%s: error \"%s\" lacks \"%s\"", spec, hz_error_last(), needle);
    assert_null(v);
}

static void test_type_spec_errors(void **state) {
    (void)state;
    expect_type_error("Modle", "unknown artifact type \"Modle\"");
    expect_type_error("model", "unknown artifact type");             /* names are case-sensitive, as in the HIP */
    expect_type_error("QuantizedModel", "needs format=");
    expect_type_error("QuantizedModel:format=GGUF", "needs bits=");
    expect_type_error("QuantizedModel:format=GGUF,bits=300", "bad value \"300\" for bits");
    expect_type_error("QuantizedModel:format=gguf,bits=4", "unknown quantization format \"gguf\"");
    expect_type_error("QuantizedModel:format=GGUF,bits=4,extra=1", "unknown parameter \"extra\"");
    expect_type_error("Delta:base_model=x,method=LoRA,rank=-1,alpha=2", "bad value \"-1\" for rank");
    expect_type_error("Delta:base_model=x,method=LoRA,rank=1,alpha=nan", "bad value \"nan\"");
    expect_type_error("Model:x=1", "unknown parameter \"x\"");
    expect_type_error("Checkpoint:epoch=1", "needs step=");
    expect_type_error("Custom:", "Custom");
    expect_type_error("{\"Model\":null}", "unit artifact type is written as a bare string");
    expect_type_error("{\"QuantizedModel\":{\"format\":\"GGUF\"}}", "artifact_type.QuantizedModel.bits: missing");
    expect_type_error("{\"QuantizedModel\":{\"format\":\"GGUF\",\"bits\":4,\"x\":1}}", "QuantizedModel.x: unknown field");
    expect_type_error("{\"Model\":1,\"Weights\":2}", "object with one key");
    expect_type_error("\"Nope\"", "unknown artifact type \"Nope\"");
    expect_type_error("{\"Delta\":{\"base_model\":\"x\",\"method\":{\"LoRA\":{\"rank\":1.5,\"alpha\":1}}}}", "rank: expected a non-negative integer");
}

/* ---- metadata ------------------------------------------------------------------------------ */

static json_object *valid_metadata(void) {
    const char *text =
        "{\"id\":\"7c1c0d4e-4f3a-4b6e-9a51-0f2b8c7d6e5f\",\"name\":\"m\",\"version\":\"1.0.0\",\"description\":null,"
        "\"artifact_type\":\"Model\",\"author\":null,\"license\":\"Apache2\",\"tags\":[],"
        "\"created_at\":\"2025-01-02T03:04:05.123456789Z\",\"updated_at\":\"2025-01-02T03:04:05Z\",\"size_bytes\":0,"
        "\"content_hash\":\"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\","
        "\"requirements\":{\"min_vram_mb\":null,\"min_ram_mb\":null,\"gpu_required\":false,\"backends\":[],"
        "\"recommended_batch_size\":null},\"networks\":[\"All\"],\"locations\":[],\"dependencies\":[],\"custom\":{}}";
    json_object *m;
    assert_int_equal(hz_json_parse(text, strlen(text), &m), 0);
    return m;
}

static void expect_meta_error(const char *key, const char *json_value, const char *needle) {
    json_object *m = valid_metadata(), *v = NULL;
    if (json_value) assert_int_equal(hz_json_parse(json_value, strlen(json_value), &v), 0);
    if (json_value) json_object_object_add(m, key, v);
    else json_object_object_del(m, key);
    int rc = hz_ai_metadata_validate(m);
    if (rc == 0) fail_msg("%s=%s accepted", key, json_value ? json_value : "(absent)");
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_METADATA);
    if (!strstr(hz_error_last(), needle)) fail_msg("%s: \"%s\" lacks \"%s\"", key, hz_error_last(), needle);
    json_object_put(m);
}

static void test_metadata_schema(void **state) {
    (void)state;
    json_object *m = valid_metadata();
    if (hz_ai_metadata_validate(m) != 0) fail_msg("%s", hz_error_last());
    /* every licence and network of the HIP, the Custom licence, every location shape */
    for (size_t i = 0; hz_ai_license_at(i); i++) {
        const char *l = hz_ai_license_at(i);
        json_object_object_add(m, "license", strcmp(l, "Custom") == 0 ? json_tokener_parse("{\"Custom\":\"My licence 1.0\"}")
                                                                       : json_object_new_string(l));
        if (hz_ai_metadata_validate(m) != 0) fail_msg("licence %s: %s", l, hz_error_last());
    }
    json_object_object_add(m, "networks", json_tokener_parse("[\"HanzoMainnet\",\"HanzoTestnet\",\"ZooMainnet\",\"ZooTestnet\",\"All\"]"));
    json_object_object_add(m, "locations", json_tokener_parse(
        "[{\"Local\":\"/x.ai\"},{\"HuggingFace\":{\"repo_id\":\"a/b\",\"revision\":null}},{\"HuggingFace\":{\"repo_id\":\"a/b\"}},"
        "{\"Swarm\":{\"info_hash\":\"ab\",\"peers\":[\"p\"]}},{\"Ipfs\":\"bafk\"},{\"Http\":\"https://x/y.ai\"},"
        "{\"NodeStorage\":{\"peer_id\":\"http://n:9550\",\"path\":\"/v2/artifacts/x\"}}]"));
    json_object_object_add(m, "dependencies", json_tokener_parse("[{\"hash\":\"h\",\"name\":\"n\",\"version\":\"1\",\"locations\":[]}]"));
    json_object_object_add(m, "newer_field", json_object_new_int(1)); /* unknown top-level fields are ignored */
    json_object_object_del(m, "custom");                               /* tolerated on read */
    if (hz_ai_metadata_validate(m) != 0) fail_msg("%s", hz_error_last());
    json_object_put(m);

    expect_meta_error("license", "\"Apache-2.0\"", "unknown licence \"Apache-2.0\"");
    expect_meta_error("license", "\"mit\"", "unknown licence");
    expect_meta_error("license", "{\"Custom\":5}", "license.Custom: expected a string");
    expect_meta_error("artifact_type", "\"LoRA\"", "unknown artifact type \"LoRA\"");
    expect_meta_error("artifact_type", NULL, "artifact_type: missing");
    expect_meta_error("name", "\"\"", "name: must not be empty");
    expect_meta_error("name", NULL, "name: missing");
    expect_meta_error("version", "1", "version: expected a string");
    expect_meta_error("tags", "[\"a\",2]", "tags[1]: expected a string");
    expect_meta_error("created_at", "\"yesterday\"", "created_at: not an RFC 3339 timestamp");
    expect_meta_error("size_bytes", "-1", "size_bytes");
    expect_meta_error("size_bytes", "1.5", "size_bytes");
    expect_meta_error("content_hash", "\"AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262\"", "64 lowercase hex");
    expect_meta_error("requirements", "{\"gpu_required\":false}", "requirements.backends");
    expect_meta_error("requirements", "{\"gpu_required\":false,\"backends\":[],\"min_vram_mb\":4294967296}", "min_vram_mb");
    expect_meta_error("networks", "[\"Mainnet\"]", "unknown network \"Mainnet\"");
    expect_meta_error("locations", "[{\"Ftp\":\"x\"}]", "unknown storage location \"Ftp\"");
    expect_meta_error("locations", "[{\"HuggingFace\":{\"revision\":\"main\"}}]", "HuggingFace.repo_id: missing");
    expect_meta_error("dependencies", "[{\"hash\":\"h\",\"name\":\"n\",\"version\":\"1\"}]", "dependencies[0].locations");
    expect_meta_error("custom", "[]", "custom: expected an object");
}

/* ---- round trips ------------------------------------------------------------------------------ */

typedef struct {
    const char *rel;
    size_t len;
    bool text;
} srcfile_t;

static const srcfile_t src_files[] = {
    {"model.gguf", 300 * 1024 + 7, false},
    {"config.json", 0, true},
    {"tokenizer.json", 0, true},
    {"sub/notes.txt", 0, true},
    {"empty.txt", 0, false},
    {"donn\xc3\xa9" "es.txt", 0, true},
};
#define NSRC (sizeof(src_files) / sizeof(src_files[0]))

static uint8_t *src_content(size_t i, size_t *len) {
    if (src_files[i].text) {
        char *s = hz_sprintf("{\"file\": %zu, \"text\": \"%s\", \"pad\": \"%0300d\"}\n", i, src_files[i].rel, 7);
        *len = strlen(s);
        return (uint8_t *)s;
    }
    *len = src_files[i].len;
    uint8_t *p = hz_malloc(*len + 1);
    tu_fill(p, *len, i + 1);
    return p;
}

static void make_source(const char *dir) {
    for (size_t i = 0; i < NSRC; i++) {
        size_t len;
        uint8_t *p = src_content(i, &len);
        tu_write(dir, src_files[i].rel, p, len);
        hz_free(p);
    }
}

/* The content hash computed here, straight from the definition: BLAKE3 over, for each file in
 * bytewise-sorted archive-path order, the path bytes then the file bytes. */
static void expected_content_hash(const char *type_name, char out[65]) {
    char *paths[NSRC];
    size_t order[NSRC];
    for (size_t i = 0; i < NSRC; i++) {
        paths[i] = ai_layout_place(src_files[i].rel, type_name);
        order[i] = i;
    }
    for (size_t i = 0; i < NSRC; i++)
        for (size_t j = i + 1; j < NSRC; j++)
            if (strcmp(paths[order[j]], paths[order[i]]) < 0) { size_t t = order[i]; order[i] = order[j]; order[j] = t; }
    hz_blake3_hasher_t h;
    hz_blake3_init(&h);
    for (size_t k = 0; k < NSRC; k++) {
        size_t i = order[k], len;
        uint8_t *p = src_content(i, &len);
        hz_blake3_update(&h, paths[i], strlen(paths[i]));
        hz_blake3_update(&h, p, len);
        hz_free(p);
    }
    uint8_t d[32];
    hz_blake3_final(&h, d, 32);
    hz_hex_encode(d, 32, out);
    for (size_t i = 0; i < NSRC; i++) hz_free(paths[i]);
}

static void test_roundtrip_every_type(void **state) {
    (void)state;
    for (size_t t = 0; t < NSPECS; t++) {
        char *root = tu_tmpdir(), *src = tu_path(root, "src"), *ai = tu_path(root, "x.ai"), *dst = tu_path(root, "out");
        make_source(src);
        hz_ai_info_t *info = tu_pack(src, ai, specs[t].spec, "roundtrip");
        json_object *v;
        json_object_object_get_ex(info->metadata, "artifact_type", &v);
        assert_string_equal(hz_json_dump(v, NULL), specs[t].json);
        assert_string_equal(info->type_name, hz_ai_type_at(t));
        assert_int_equal(info->nfiles, NSRC);
        char want[65];
        expected_content_hash(info->type_name, want);
        assert_string_equal(info->content_hash, want);

        hz_ai_info_t *vi = NULL;
        if (hz_ai_verify(ai, NULL, &vi) != 0) fail_msg("%s: verify: %s", specs[t].spec, hz_error_last());
        assert_true(vi->data_verified);
        assert_string_equal(vi->content_hash, want);
        hz_ai_info_free(vi);

        if (hz_ai_unpack(ai, dst, NULL, NULL) != 0) fail_msg("%s: unpack: %s", specs[t].spec, hz_error_last());
        for (size_t i = 0; i < NSRC; i++) {
            char *placed = ai_layout_place(src_files[i].rel, info->type_name);
            char *p = tu_path(dst, "%s", placed);
            size_t got_len, want_len;
            char *got = tu_read(p, &got_len);
            uint8_t *exp = src_content(i, &want_len);
            if (!got) fail_msg("%s: %s missing after unpack", specs[t].spec, placed);
            assert_int_equal(got_len, want_len);
            assert_memory_equal(got, exp, want_len);
            hz_free(got);
            hz_free(exp);
            hz_free(p);
            hz_free(placed);
        }
        char *m = tu_path(dst, "metadata.json");
        assert_true(tu_exists(m));
        hz_free(m);
        assert_int_equal(tu_count_prefix(root, "out.partial-"), 0);
        hz_ai_info_free(info);
        ai_rmtree(root);
        hz_free(root), hz_free(src), hz_free(ai), hz_free(dst);
    }
}

static void test_layout_and_compression(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *src = tu_path(root, "src"), *ai = tu_path(root, "x.ai");
    make_source(src);
    size_t big = 5 * 1024 * 1024 + 17; /* several pipeline buffers */
    uint8_t *p = hz_malloc(big);
    tu_fill(p, big, 99);
    tu_write(src, "data/weights/shard-2.safetensors", p, big);
    tu_write_str(src, "merges.txt", "a b\nc d\n");
    tu_write_str(src, ".git/config", "[core]\n");           /* hidden: skipped */
    tu_write_str(src, "manifest.json", "{\"stale\": true}");  /* the format's own files: regenerated */
    hz_ai_info_t *info = tu_pack(src, ai, "Model", "layout");
    const char *expect[] = {"data/config/config.json", ("data/config/donn\xc3\xa9" "es.txt"), "data/config/empty.txt",
                            "data/config/sub/notes.txt", "data/tokenizer/merges.txt", "data/tokenizer/tokenizer.json",
                            "data/weights/model.gguf", "data/weights/shard-2.safetensors"};
    assert_int_equal(info->nfiles, 8);
    for (size_t i = 0; i < 8; i++) {
        const hz_ai_file_t *f = &info->files[i];
        assert_string_equal(f->path, expect[i]);
        bool weights = hz_str_starts_with(f->path, "data/weights/");
        /* an empty file has no text to sniff, and 8 bytes of merges.txt do not shrink */
        bool want_stored = weights || f->size == 0 || strcmp(f->path, "data/tokenizer/merges.txt") == 0;
        if (f->stored != want_stored) fail_msg("%s: stored=%d", f->path, f->stored);
        if (f->stored) assert_int_equal(f->compressed_size, f->size);
        else assert_true(f->compressed_size < f->size);
    }
    /* the manifest records what the ZIP headers say (reader.c cross-checks; verify must pass) */
    if (hz_ai_verify(ai, NULL, NULL) != 0) fail_msg("%s", hz_error_last());
    /* the archive starts with the stored _format entry: the magic sits at a fixed offset */
    size_t len;
    char *bytes = tu_read(ai, &len);
    assert_memory_equal(bytes, "PK\x03\x04", 4);
    assert_memory_equal(bytes + 30, "_format", 7);
    assert_memory_equal(bytes + 37, "HAIF\x01\x00\x00\x00", 8);
    hz_free(bytes);
    hz_free(p);
    hz_ai_info_free(info);
    ai_rmtree(root);
    hz_free(root), hz_free(src), hz_free(ai);
}

static void test_repack_unpacked(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *src = tu_path(root, "src"), *a1 = tu_path(root, "a.ai"), *dst = tu_path(root, "out"),
         *a2 = tu_path(root, "b.ai");
    make_source(src);
    const char *tags[] = {"llm", "test"};
    hz_ai_pack_opts_t o = {.type = "QuantizedModel:format=GGUF,bits=4", .name = "rp", .version = "2.1.0", .description = "d",
                           .author = "me", .license = "MIT", .tags = tags, .ntags = 2};
    hz_ai_info_t *i1 = NULL, *i2 = NULL;
    assert_int_equal(hz_ai_pack(src, a1, &o, &i1), 0);
    assert_int_equal(hz_ai_pack(src, a1, &o, NULL), HZ_EEXIST); /* no overwrite without asking */
    assert_int_equal(hz_ai_unpack(a1, dst, NULL, NULL), 0);
    /* no options at all: everything comes from the unpacked metadata.json */
    hz_ai_pack_opts_t none = {0};
    if (hz_ai_pack(dst, a2, &none, &i2) != 0) fail_msg("%s", hz_error_last());
    assert_string_equal(i1->content_hash, i2->content_hash);
    static const char *keys[] = {"id", "name", "version", "description", "author", "license", "tags", "artifact_type", "created_at"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_object *x, *y;
        json_object_object_get_ex(i1->metadata, keys[k], &x);
        json_object_object_get_ex(i2->metadata, keys[k], &y);
        assert_string_equal(json_object_to_json_string(x), json_object_to_json_string(y));
    }
    /* unpacking onto a non-empty folder is refused and changes nothing */
    assert_int_equal(hz_ai_unpack(a1, dst, NULL, NULL), HZ_EEXIST);
    char *empty = tu_path(root, "empty");
    mkdir(empty, 0755);
    assert_int_equal(hz_ai_unpack(a1, empty, NULL, NULL), 0); /* an empty folder is fine */
    hz_ai_info_free(i1);
    hz_ai_info_free(i2);
    ai_rmtree(root);
    hz_free(root), hz_free(src), hz_free(a1), hz_free(dst), hz_free(a2), hz_free(empty);
}

/* An archive as the reference writes it: every entry deflated (even _format), compressed_size
 * null, entries in hash-map order, chrono's nanosecond timestamps, serde's enum encoding. */
static void test_reads_reference_layout(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *ai = tu_path(root, "ref.ai");
    const char *wname = "data/weights/model.safetensors", *cname = "config.json";
    uint8_t w[1000];
    tu_fill(w, sizeof(w), 5);
    const char *cfg = "{}";
    char hw[65], hc[65], content[65];
    hz_blake3_hex(w, sizeof(w), hw);
    hz_blake3_hex(cfg, 2, hc);
    hz_blake3_hasher_t h; /* sorted: "config.json" < "data/..." */
    hz_blake3_init(&h);
    hz_blake3_update(&h, cname, strlen(cname));
    hz_blake3_update(&h, cfg, 2);
    hz_blake3_update(&h, wname, strlen(wname));
    hz_blake3_update(&h, w, sizeof(w));
    uint8_t d[32];
    hz_blake3_final(&h, d, 32);
    hz_hex_encode(d, 32, content);
    char *manifest = hz_sprintf("{\n  \"version\": 1,\n  \"files\": {\n    \"%s\": {\n      \"size\": 1000,\n      \"hash\": \"%s\",\n"
                                "      \"compressed_size\": null\n    },\n    \"%s\": {\n      \"size\": 2,\n      \"hash\": \"%s\",\n"
                                "      \"compressed_size\": null\n    }\n  },\n  \"total_size\": 1002,\n  \"file_count\": 2\n}",
                                wname, hw, cname, hc);
    char *metadata = hz_sprintf(
        "{\n  \"id\": \"0b8f5b5e-1d7c-4c59-9f5e-2f3f0c1d2e3f\",\n  \"name\": \"ref\",\n  \"version\": \"1.0.0\",\n"
        "  \"description\": null,\n  \"artifact_type\": {\n    \"Delta\": {\n      \"base_model\": \"llama-3-8b\",\n"
        "      \"method\": {\n        \"LoRA\": {\n          \"rank\": 64,\n          \"alpha\": 32.0\n        }\n      }\n    }\n  },\n"
        "  \"author\": null,\n  \"license\": \"Apache2\",\n  \"tags\": [],\n  \"created_at\": \"2025-03-01T10:20:30.123456789Z\",\n"
        "  \"updated_at\": \"2025-03-01T10:20:31.5Z\",\n  \"size_bytes\": 1002,\n  \"content_hash\": \"%s\",\n"
        "  \"requirements\": {\n    \"min_vram_mb\": null,\n    \"min_ram_mb\": null,\n    \"gpu_required\": false,\n"
        "    \"backends\": [],\n    \"recommended_batch_size\": null\n  },\n  \"networks\": [\n    \"All\"\n  ],\n"
        "  \"locations\": [],\n  \"dependencies\": [],\n  \"custom\": {}\n}", content);
    static const uint8_t format[8] = {'H', 'A', 'I', 'F', 1, 0, 0, 0};
    int zcode;
    zip_t *za = zip_open(ai, ZIP_CREATE | ZIP_TRUNCATE, &zcode);
    assert_non_null(za);
    struct { const char *name; const void *p; size_t n; } e[] = {
        {"_format", format, 8}, {"manifest.json", manifest, strlen(manifest)}, {"metadata.json", metadata, strlen(metadata)},
        {wname, w, sizeof(w)}, {cname, cfg, 2}};
    for (size_t i = 0; i < 5; i++) {
        zip_int64_t idx = zip_file_add(za, e[i].name, zip_source_buffer(za, e[i].p, e[i].n, 0), 0);
        assert_true(idx >= 0);
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 0);
    }
    assert_int_equal(zip_close(za), 0);
    hz_ai_info_t *info = NULL;
    if (hz_ai_verify(ai, NULL, &info) != 0) fail_msg("%s", hz_error_last());
    assert_string_equal(info->content_hash, content);
    assert_string_equal(info->type_name, "Delta");
    assert_int_equal(info->nfiles, 2);
    assert_false(info->files[0].stored);
    char *dst = tu_path(root, "out");
    assert_int_equal(hz_ai_unpack(ai, dst, NULL, NULL), 0);
    char *cfgp = tu_path(dst, "config.json");
    size_t n;
    char *got = tu_read(cfgp, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(got, "{}", 2);
    hz_free(got), hz_free(cfgp), hz_free(dst);
    hz_ai_info_free(info);
    hz_free(manifest), hz_free(metadata);
    ai_rmtree(root);
    hz_free(root), hz_free(ai);
}

/* ---- signatures ------------------------------------------------------------------------------ */

static hz_key_t *gen_key(const char *alg) {
    hz_key_t *k = NULL;
    if (hz_key_generate(alg, &k) != 0) fail_msg("keygen: %s", hz_error_last());
    return k;
}

static hz_key_t *public_of(const hz_key_t *k) {
    hz_key_t *p = NULL;
    assert_int_equal(hz_key_from_public(k->alg, k->pk, k->pk_len, &p), 0);
    return p;
}

static void test_signatures(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *src = tu_path(root, "src"), *ai = tu_path(root, "s.ai");
    make_source(src);
    hz_key_t *alice = gen_key("ml-dsa-65"), *bob = gen_key("ml-dsa-87"), *carol = gen_key("ml-dsa-65");
    hz_key_t *alice_pub = public_of(alice), *bob_pub = public_of(bob), *carol_pub = public_of(carol);
    const hz_key_t *signers[] = {alice};
    hz_ai_pack_opts_t o = {.type = "Model", .name = "signed", .signers = signers, .nsigners = 1};
    hz_ai_info_t *info = NULL;
    if (hz_ai_pack(src, ai, &o, &info) != 0) fail_msg("%s", hz_error_last());
    char content[65];
    snprintf(content, sizeof(content), "%s", info->content_hash);
    assert_int_equal(info->nsigners, 1);
    char alice_id[65];
    hz_key_id_hex(alice, alice_id);
    assert_string_equal(info->signers[0].key_id, alice_id);
    assert_false(info->signers[0].checked); /* hz_ai_info reads, it does not verify */
    hz_ai_info_free(info);

    /* no trust list: every signature must still verify */
    assert_int_equal(hz_ai_verify(ai, NULL, &info), 0);
    assert_true(info->signers[0].checked);
    assert_false(info->signers[0].trusted);
    hz_ai_info_free(info);
    /* trusted key */
    const hz_key_t *trust_alice[] = {carol_pub, alice_pub};
    hz_ai_read_opts_t ro = {.trusted = trust_alice, .ntrusted = 2};
    assert_int_equal(hz_ai_verify(ai, &ro, &info), 0);
    assert_true(info->signers[0].trusted);
    hz_ai_info_free(info);
    /* only someone else trusted */
    const hz_key_t *trust_carol[] = {carol_pub};
    ro = (hz_ai_read_opts_t){.trusted = trust_carol, .ntrusted = 1};
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), HZ_EAUTH);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_UNTRUSTED);
    char *dst = tu_path(root, "out");
    assert_int_equal(hz_ai_unpack(ai, dst, &ro, NULL), HZ_EAUTH);
    assert_false(tu_exists(dst));
    assert_int_equal(tu_count_prefix(root, "out.partial-"), 0);

    /* a second signer (another parameter set) added later; the first stays valid */
    const hz_key_t *more[] = {bob};
    if (hz_ai_sign(ai, more, 1, NULL) != 0) fail_msg("%s", hz_error_last());
    const hz_key_t *trust_bob[] = {bob_pub};
    ro = (hz_ai_read_opts_t){.trusted = trust_bob, .ntrusted = 1};
    assert_int_equal(hz_ai_verify(ai, &ro, &info), 0);
    assert_int_equal(info->nsigners, 2);
    assert_string_equal(info->content_hash, content);
    size_t trusted = 0, checked = 0;
    for (size_t i = 0; i < 2; i++) trusted += info->signers[i].trusted, checked += info->signers[i].checked;
    assert_int_equal(trusted, 1);
    assert_int_equal(checked, 2);
    hz_ai_info_free(info);
    /* signing again with the same key replaces its entry */
    assert_int_equal(hz_ai_sign(ai, more, 1, NULL), 0);
    assert_int_equal(hz_ai_info(ai, NULL, &info), 0);
    assert_int_equal(info->nsigners, 2);
    hz_ai_info_free(info);
    /* an unsigned artifact with a trust list: untrusted */
    char *plain = tu_path(root, "plain.ai");
    hz_ai_info_free(tu_pack(src, plain, "Model", "plain"));
    assert_int_equal(hz_ai_verify(plain, &ro, NULL), HZ_EAUTH);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_UNTRUSTED);
    assert_non_null(strstr(hz_error_last(), "not signed"));
    /* a public key cannot sign */
    const hz_key_t *pubonly[] = {alice_pub};
    assert_int_not_equal(hz_ai_sign(plain, pubonly, 1, NULL), 0);
    /* neither can a KEM key */
    hz_key_t *kem = gen_key("ml-kem-768");
    const hz_key_t *kems[] = {kem};
    assert_int_not_equal(hz_ai_sign(plain, kems, 1, NULL), 0);
    hz_key_free(kem);

    hz_key_free(alice), hz_key_free(bob), hz_key_free(carol);
    hz_key_free(alice_pub), hz_key_free(bob_pub), hz_key_free(carol_pub);
    ai_rmtree(root);
    hz_free(root), hz_free(src), hz_free(ai), hz_free(dst), hz_free(plain);
}

/* ---- progress, cancellation, limits ------------------------------------------------------------ */

typedef struct {
    int calls;
    uint64_t last_done, last_total;
    int cancel_after;
    char phases[8][16];
    int nphases;
} prog_t;

static bool on_progress(void *ctx, const char *phase, uint64_t done, uint64_t total) {
    prog_t *p = ctx;
    p->calls++;
    if (p->nphases == 0 || strcmp(p->phases[p->nphases - 1], phase) != 0)
        if (p->nphases < 8) snprintf(p->phases[p->nphases++], 16, "%s", phase);
    p->last_done = done;
    p->last_total = total;
    return p->cancel_after == 0 || p->calls < p->cancel_after;
}

static void test_progress_cancel_limits(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *src = tu_path(root, "src"), *ai = tu_path(root, "p.ai");
    size_t big = 80u << 20;
    uint8_t *p = hz_calloc(1, big);
    tu_fill(p, 4096, 1);
    tu_write(src, "data/weights/w.bin", p, big);
    hz_free(p);
    prog_t pr = {0};
    hz_ai_pack_opts_t o = {.type = "Weights", .name = "p", .progress = on_progress, .progress_ctx = &pr};
    assert_int_equal(hz_ai_pack(src, ai, &o, NULL), 0);
    assert_true(pr.calls >= 3);
    assert_string_equal(pr.phases[0], "hash");
    assert_string_equal(pr.phases[pr.nphases - 1], "write");
    hz_ai_read_opts_t ro = {.progress = on_progress, .progress_ctx = &pr};
    pr = (prog_t){0};
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), 0);
    assert_string_equal(pr.phases[0], "verify");
    assert_int_equal(pr.last_done, big);
    assert_int_equal(pr.last_total, big);
    /* cancel halfway: the call fails, and an unpack leaves nothing */
    pr = (prog_t){.cancel_after = 2};
    char *dst = tu_path(root, "out");
    assert_int_equal(hz_ai_unpack(ai, dst, &ro, NULL), HZ_ECLOSED);
    assert_false(tu_exists(dst));
    assert_int_equal(tu_count_prefix(root, "out.partial-"), 0);
    pr = (prog_t){.cancel_after = 2};
    char *ai2 = tu_path(root, "q.ai");
    assert_int_equal(hz_ai_pack(src, ai2, &o, NULL), HZ_ECLOSED);
    assert_false(tu_exists(ai2));

    /* limits */
    hz_ai_limits_t lim;
    hz_ai_limits_default(&lim);
    lim.max_total_bytes = big - 1;
    ro = (hz_ai_read_opts_t){.limits = &lim};
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), HZ_ETOOBIG);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_BOMB_TOTAL);
    hz_ai_limits_default(&lim);
    lim.max_entries = 3; /* _format, manifest, metadata, one file = 4 */
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), HZ_ETOOBIG);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_BOMB_TOTAL);
    hz_ai_limits_default(&lim);
    lim.max_json_bytes = 100;
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), HZ_ETOOBIG);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_BOMB_TOTAL);
    /* single-threaded hashing gives the same answer */
    ro = (hz_ai_read_opts_t){.threads = 1};
    assert_int_equal(hz_ai_verify(ai, &ro, NULL), 0);
    ai_rmtree(root);
    hz_free(root), hz_free(src), hz_free(ai), hz_free(dst), hz_free(ai2);
}

static void test_pack_input_errors(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *src = tu_path(root, "src"), *ai = tu_path(root, "x.ai");
    hz_ai_pack_opts_t o = {.type = "Model", .name = "x"};
    mkdir(src, 0755);
    assert_int_equal(hz_ai_pack(src, ai, &o, NULL), HZ_EINVAL); /* nothing to pack */
    assert_non_null(strstr(hz_error_last(), "no files"));
    tu_write_str(src, "a\\b.json", "{}");
    assert_int_equal(hz_ai_pack(src, ai, &o, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "backslash"));
    char *bs = tu_path(src, "a\\b.json");
    unlink(bs);
    tu_write_str(src, "config.json", "{}");
    tu_write_str(src, "data/config/config.json", "{}"); /* both land on data/config/config.json */
    assert_int_equal(hz_ai_pack(src, ai, &o, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "would both be stored as data/config/config.json"));
    hz_ai_pack_opts_t notype = {.name = "x"};
    assert_int_equal(hz_ai_pack(src, ai, &notype, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "type is required"));
    hz_ai_pack_opts_t badlic = {.type = "Model", .name = "x", .license = "WTFPL"};
    char *cfg = tu_path(src, "config.json");
    unlink(cfg);
    assert_int_not_equal(hz_ai_pack(src, ai, &badlic, NULL), 0);
    assert_non_null(strstr(hz_error_last(), "unknown licence \"WTFPL\""));
    hz_ai_pack_opts_t badutf8 = {.type = "Model", .name = "bad\xff name"};
    assert_int_not_equal(hz_ai_pack(src, ai, &badutf8, NULL), 0); /* we never write what we could not read */
    assert_non_null(strstr(hz_error_last(), "UTF-8"));
    hz_ai_pack_opts_t noname = {.type = "Model"};
    assert_int_equal(hz_ai_pack(src, ai, &noname, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "name is required"));
    assert_false(tu_exists(ai));
    /* a symlink to a file is followed; one to a folder is refused */
    char *target = tu_path(root, "outside.txt");
    tu_write_str(root, "outside.txt", "linked");
    char *link = tu_path(src, "link.txt");
    assert_int_equal(symlink(target, link), 0);
    hz_ai_info_t *info = NULL;
    assert_int_equal(hz_ai_pack(src, ai, &o, &info), 0);
    assert_int_equal(info->nfiles, 2);
    hz_ai_info_free(info);
    char *dlink = tu_path(src, "dirlink");
    assert_int_equal(symlink(root, dlink), 0);
    assert_int_equal(hz_ai_pack(src, ai, &(hz_ai_pack_opts_t){.type = "Model", .name = "x", .overwrite = true}, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "links to folders are not followed"));
    ai_rmtree(root);
    hz_free(root), hz_free(src), hz_free(ai), hz_free(bs), hz_free(cfg), hz_free(target), hz_free(link), hz_free(dlink);
}

static void test_cid(void **state) {
    (void)state;
    uint8_t d[32], back[32];
    tu_fill(d, 32, 3);
    char cid[128];
    hz_ai_cid_from_blake3(d, cid, sizeof(cid));
    assert_true(hz_str_starts_with(cid, "bafkr4i")); /* base32, CIDv1, raw (0x55), blake3 (0x1e), 32 bytes */
    assert_int_equal(strlen(cid), 59);
    assert_int_equal(hz_ai_cid_parse(cid, back), 0);
    assert_memory_equal(d, back, 32);
    /* the BLAKE3 of "hello world\n"'s well-known CID as given by `ipfs add --raw-leaves --hash blake3` */
    cid[10] ^= 1;
    assert_int_equal(hz_ai_cid_parse(cid, back), 0); /* still valid base32: a different digest */
    assert_memory_not_equal(d, back, 32);
    assert_int_equal(hz_ai_cid_parse("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", back), HZ_EINVAL); /* CIDv0 */
    assert_int_equal(hz_ai_cid_parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", back), HZ_EINVAL); /* sha2-256 */
    assert_int_equal(hz_ai_cid_parse("bafkr4i", back), HZ_EINVAL);
}

static void test_crc32(void **state) {
    (void)state;
    assert_int_equal(ai_crc32(0, "123456789", 9), 0xCBF43926u);      /* the check value of CRC-32/ISO-HDLC */
    assert_int_equal(ai_crc32(0, "", 0), 0);
    size_t n = 3 << 20;
    uint8_t *buf = hz_malloc(n + 64);
    tu_fill(buf, n + 64, 77);
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len < 1100; len += (len < 300 ? 1 : 7))
            if (ai_crc32(0, buf + off, len) != ai_crc32_portable(0, buf + off, len)) fail_msg("off %zu len %zu", off, len);
    uint32_t whole = ai_crc32(0, buf + 3, n);
    assert_int_equal(whole, ai_crc32_portable(0, buf + 3, n));
    uint32_t parts = ai_crc32(0, buf + 3, 1000003);                     /* incremental = one shot */
    parts = ai_crc32(parts, buf + 3 + 1000003, n - 1000003);
    assert_int_equal(parts, whole);
    memset(buf, 0, 4096);
    assert_int_equal(ai_crc32(0, buf, 4096), 0xC71C0011u);              /* zlib.crc32(bytes(4096)) */
    hz_free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_specs),
        cmocka_unit_test(test_type_spec_errors),
        cmocka_unit_test(test_metadata_schema),
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_layout_and_compression),
        cmocka_unit_test(test_repack_unpacked),
        cmocka_unit_test(test_reads_reference_layout),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_progress_cancel_limits),
        cmocka_unit_test(test_pack_input_errors),
        cmocka_unit_test(test_cid),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
