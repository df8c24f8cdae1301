/*
 * The local content-addressed store and the backend locations: add (copy and move, verified,
 * idempotent, refusing bad archives without leaving anything), get, list, path, delete, the GGUF
 * extraction for model loading, and how every location spec and metadata location maps to a URL.
 * Fetching over HTTP is tested against a real server in tests/integration/ai_backends.sh.
 */
#include "test_artifact_util.h"

static char *g_root;

static char *make_artifact(const char *name, const char *type, const char *weights_name, size_t weights_len) {
    char *src = tu_path(g_root, "src-%s", name), *ai = tu_path(g_root, "%s.ai", name);
    uint8_t *w = hz_malloc(weights_len + 1);
    tu_fill(w, weights_len, strlen(name));
    tu_write(src, weights_name, w, weights_len);
    tu_write_str(src, "config.json", "{\"n\": 1}");
    hz_ai_info_free(tu_pack(src, ai, type, name));
    hz_free(w);
    hz_free(src);
    return ai;
}

static void test_store_add_get_list_delete(void **state) {
    (void)state;
    char *root = tu_path(g_root, "store");
    hz_ai_store_t *s;
    assert_int_equal(hz_ai_store_open(root, &s), 0);
    assert_string_equal(hz_ai_store_root(s), root);
    char *a = make_artifact("alpha", "Model", "model.gguf", 300000), *b = make_artifact("beta", "Weights", "w.bin", 1000);
    char ha[65], hb[65];
    bool existed = true;
    if (hz_ai_store_add(s, a, false, NULL, ha, &existed) != 0) fail_msg("%s", hz_error_last());
    assert_false(existed);
    assert_true(tu_exists(a)); /* copied, not moved */
    assert_int_equal(hz_ai_store_add(s, a, false, NULL, ha, &existed), 0);
    assert_true(existed);
    char *bcopy = tu_path(g_root, "beta-copy.ai");
    char *cmd = hz_sprintf("cp %s %s", b, bcopy);
    assert_int_equal(system(cmd), 0);
    hz_free(cmd);
    assert_int_equal(hz_ai_store_add(s, bcopy, true, NULL, hb, &existed), 0);
    assert_false(tu_exists(bcopy)); /* moved */

    char *p;
    assert_int_equal(hz_ai_store_path(s, ha, &p), 0);
    char *want = hz_sprintf("%s/%.2s/%s.ai", root, ha, ha);
    assert_string_equal(p, want);
    hz_free(p), hz_free(want);
    json_object *j, *v;
    assert_int_equal(hz_ai_store_get(s, ha, &j), 0);
    assert_true(json_object_object_get_ex(j, "cid", &v));
    assert_true(hz_str_starts_with(json_object_get_string(v), "bafkr4i"));
    uint8_t digest[32], fromcid[32];
    assert_int_equal(ai_file_blake3(a, digest), 0);
    assert_int_equal(hz_ai_cid_parse(json_object_get_string(v), fromcid), 0);
    assert_memory_equal(digest, fromcid, 32); /* the CID is over the archive's bytes */
    assert_true(json_object_object_get_ex(j, "data_verified", &v) && json_object_get_boolean(v));
    json_object_put(j);

    assert_int_equal(hz_ai_store_list(s, &j), 0);
    assert_int_equal(json_object_array_length(j), 2);
    json_object *first;
    first = json_object_array_get_idx(j, 0);
    json_object_object_get_ex(first, "content_hash", &v);
    assert_string_equal(json_object_get_string(v), strcmp(ha, hb) < 0 ? ha : hb); /* sorted */
    json_object_put(j);

    /* GGUF weights of a Model come out as a plain file, verified; other types have none */
    char *gguf;
    if (hz_ai_store_model_path(s, ha, &gguf) != 0) fail_msg("%s", hz_error_last());
    assert_true(hz_str_ends_with(gguf, "/model.gguf"));
    size_t len;
    char *bytes = tu_read(gguf, &len);
    assert_int_equal(len, 300000);
    uint8_t *expect = hz_malloc(300000);
    tu_fill(expect, 300000, strlen("alpha"));
    assert_memory_equal(bytes, expect, 300000);
    hz_free(bytes), hz_free(expect);
    char *again;
    assert_int_equal(hz_ai_store_model_path(s, ha, &again), 0); /* second time: already there */
    assert_string_equal(again, gguf);
    hz_free(again);
    assert_int_equal(hz_ai_store_model_path(s, hb, &again), HZ_ENOTFOUND);

    /* a bad archive is refused and leaves nothing in the store */
    char *bad = tu_path(g_root, "bad.ai");
    tu_write_str(g_root, "bad.ai", "PK\x05\x06 not really");
    assert_int_not_equal(hz_ai_store_add(s, bad, false, NULL, hb, &existed), 0);
    assert_int_equal(hz_ai_error_reason(), HZ_AI_ERR_NOT_ZIP);
    char *tmpdir = tu_path(root, "tmp");
    assert_int_equal(tu_count_prefix(tmpdir, "") - 2, 0);

    /* bad hashes are bad input, unknown ones not found */
    assert_int_equal(hz_ai_store_path(s, "../../etc/passwd", &p), HZ_EINVAL);
    assert_int_equal(hz_ai_store_get(s, "ABCDEF", &j), HZ_EINVAL);
    assert_int_equal(hz_ai_store_delete(s, "0000000000000000000000000000000000000000000000000000000000000000"), HZ_ENOTFOUND);

    assert_int_equal(hz_ai_store_delete(s, ha), 0);
    assert_int_equal(hz_ai_store_path(s, ha, &p), HZ_ENOTFOUND);
    assert_false(tu_exists(gguf));
    assert_int_equal(hz_ai_store_list(s, &j), 0);
    assert_int_equal(json_object_array_length(j), 1);
    json_object_put(j);
    hz_ai_store_close(s);
    hz_free(gguf), hz_free(bad), hz_free(tmpdir), hz_free(root), hz_free(a), hz_free(b), hz_free(bcopy);
}

static void expect_url(const char *spec, const char *hash, const char *url) {
    hz_ai_location_t l;
    if (hz_ai_location_parse(spec, "http://mirror/", "http://gw", "k", &l) != 0) fail_msg("%s: %s", spec, hz_error_last());
    char *u = hz_ai_location_url(&l, hash);
    if (!url) assert_null(u);
    else if (!u || strcmp(u, url) != 0) fail_msg("%s: %s, expected %s", spec, u ? u : "(null)", url);
    hz_free(u);
    hz_ai_location_clear(&l);
}

static void test_locations(void **state) {
    (void)state;
    const char *h = "f4b308cc79cea16b1a0d6ae76c8e24382e902b49c2414fd97def606da5d71744";
    const char *cid = "bafkr4idusmivbojhn6m4c4k4uh4eaysw3duiozcftwjfdnccfbc7qsfb4q";
    expect_url("https://example.com/x.ai", h, "https://example.com/x.ai");
    expect_url("hf:org/model", h, "http://mirror/org/model/resolve/main/f4b308cc79cea16b1a0d6ae76c8e24382e902b49c2414fd97def606da5d71744.ai");
    expect_url("hf:org/model@v2", h, "http://mirror/org/model/resolve/v2/f4b308cc79cea16b1a0d6ae76c8e24382e902b49c2414fd97def606da5d71744.ai");
    expect_url("hf:org/model@v2/sub/file.ai", h, "http://mirror/org/model/resolve/v2/sub/file.ai");
    expect_url("hf:org/model/file.ai", h, "http://mirror/org/model/resolve/main/file.ai");
    expect_url("ipfs:bafkr4idusmivbojhn6m4c4k4uh4eaysw3duiozcftwjfdnccfbc7qsfb4q", h,
               "http://gw/ipfs/bafkr4idusmivbojhn6m4c4k4uh4eaysw3duiozcftwjfdnccfbc7qsfb4q");
    expect_url("node:http://n:9550/", h, "http://n:9550/v2/artifacts/f4b308cc79cea16b1a0d6ae76c8e24382e902b49c2414fd97def606da5d71744");
    expect_url("/srv/store", h, NULL);
    expect_url("file:/srv/x.ai", h, NULL);
    hz_ai_location_t l;
    assert_int_equal(hz_ai_location_parse("node:http://n:9550", NULL, NULL, "secret", &l), 0);
    assert_string_equal(l.api_key, "secret");
    hz_ai_location_clear(&l);
    assert_int_equal(hz_ai_location_parse("hf:../x", NULL, NULL, NULL, &l), HZ_EINVAL);
    assert_int_equal(hz_ai_location_parse("hf:org", NULL, NULL, NULL, &l), HZ_EINVAL);
    assert_int_equal(hz_ai_location_parse("hf:org/m@", NULL, NULL, NULL, &l), HZ_EINVAL);
    assert_int_equal(hz_ai_location_parse("ipfs:QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", NULL, NULL, NULL, &l), HZ_EINVAL);
    assert_int_equal(hz_ai_location_parse("node:ftp://x", NULL, NULL, NULL, &l), HZ_EINVAL);
    assert_int_equal(hz_ai_location_parse("", NULL, NULL, NULL, &l), HZ_EINVAL);
    /* defaults */
    assert_int_equal(hz_ai_location_parse("hf:a/b", NULL, NULL, NULL, &l), 0);
    assert_string_equal(l.base, "https://huggingface.co");
    hz_ai_location_clear(&l);

    /* metadata locations */
    struct { const char *json; const char *url; int rc; } m[] = {
        {"{\"Http\":\"https://x/y.ai\"}", "https://x/y.ai", 0},
        {"{\"HuggingFace\":{\"repo_id\":\"a/b\",\"revision\":null}}", "http://mirror/a/b/resolve/main/HASH.ai", 0},
        {"{\"HuggingFace\":{\"repo_id\":\"a/b\",\"revision\":\"r1\"}}", "http://mirror/a/b/resolve/r1/HASH.ai", 0},
        {"{\"NodeStorage\":{\"peer_id\":\"http://n:1\",\"path\":\"/v2/artifacts/HASH\"}}", "http://n:1/v2/artifacts/HASH", 0},
        {"{\"Local\":\"/x.ai\"}", NULL, 0},
        {"{\"Swarm\":{\"info_hash\":\"x\",\"peers\":[]}}", NULL, HZ_EUNSUPPORTED},
        {"{\"Http\":\"file:///etc/passwd\"}", NULL, HZ_EINVAL},
        {"{\"Ftp\":\"x\"}", NULL, HZ_EINVAL},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        json_object *o;
        assert_int_equal(hz_json_parse(m[i].json, strlen(m[i].json), &o), 0);
        int rc = hz_ai_location_from_json(o, "http://mirror", NULL, &l);
        if (rc != m[i].rc) fail_msg("%s: rc %d (%s)", m[i].json, rc, hz_error_last());
        if (!rc) {
            char *u = hz_ai_location_url(&l, "HASH");
            if (m[i].url) assert_string_equal(u, m[i].url);
            else assert_null(u);
            hz_free(u);
            hz_ai_location_clear(&l);
        }
        json_object_put(o);
    }
    json_object *o;
    char *ipfs = hz_sprintf("{\"Ipfs\":\"%s\"}", cid);
    assert_int_equal(hz_json_parse(ipfs, strlen(ipfs), &o), 0);
    assert_int_equal(hz_ai_location_from_json(o, NULL, NULL, &l), 0);
    char *u = hz_ai_location_url(&l, h);
    char *want = hz_sprintf("https://ipfs.io/ipfs/%s", cid);
    assert_string_equal(u, want);
    hz_free(u), hz_free(want), hz_free(ipfs);
    hz_ai_location_clear(&l);
    json_object_put(o);
}

static void test_fetch_local_and_failures(void **state) {
    (void)state;
    char *a = make_artifact("gamma", "Model", "w.safetensors", 5000), *b = make_artifact("delta", "Model", "w.safetensors", 6000);
    hz_ai_info_t *ia, *ib;
    assert_int_equal(hz_ai_info(a, NULL, &ia), 0);
    assert_int_equal(hz_ai_info(b, NULL, &ib), 0);
    hz_ai_location_t locs[3];
    char *missing = tu_path(g_root, "missing.ai");
    assert_int_equal(hz_ai_location_parse(missing, NULL, NULL, NULL, &locs[0]), 0);
    assert_int_equal(hz_ai_location_parse(b, NULL, NULL, NULL, &locs[1]), 0);
    assert_int_equal(hz_ai_location_parse(a, NULL, NULL, NULL, &locs[2]), 0);
    char *dest = tu_path(g_root, "fetched.ai");
    size_t used = 99;
    /* missing file, then the wrong artifact, then the right one */
    if (hz_ai_fetch(ia->content_hash, locs, 3, dest, NULL, &used) != 0) fail_msg("%s", hz_error_last());
    assert_int_equal(used, 2);
    size_t la, ld;
    char *x = tu_read(a, &la), *y = tu_read(dest, &ld);
    assert_int_equal(la, ld);
    assert_memory_equal(x, y, la);
    hz_free(x), hz_free(y);
    /* no location has it: the error lists each attempt, nothing is left behind */
    char *dest2 = tu_path(g_root, "fetched2.ai");
    assert_int_not_equal(hz_ai_fetch(ia->content_hash, locs, 2, dest2, NULL, &used), 0);
    assert_non_null(strstr(hz_error_last(), "[0 local]"));
    assert_non_null(strstr(hz_error_last(), "[1 local] content_hash_mismatch"));
    assert_false(tu_exists(dest2));
    char *part = hz_sprintf("%s.part", dest2);
    assert_false(tu_exists(part));
    assert_int_equal(hz_ai_fetch("nothex", locs, 3, dest2, NULL, NULL), HZ_EINVAL);
    assert_int_equal(hz_ai_fetch(ia->content_hash, locs, 0, dest2, NULL, NULL), HZ_EINVAL);
    /* a connection refused is a failed location, not a crash */
    hz_ai_location_t dead;
    assert_int_equal(hz_ai_location_parse("http://127.0.0.1:1/x.ai", NULL, NULL, NULL, &dead), 0);
    hz_ai_fetch_opts_t fo = {.connect_timeout_s = 2};
    assert_int_not_equal(hz_ai_fetch(ia->content_hash, &dead, 1, dest2, &fo, NULL), 0);
    assert_false(tu_exists(dest2));
    hz_ai_location_clear(&dead);
    for (int i = 0; i < 3; i++) hz_ai_location_clear(&locs[i]);
    hz_free(missing);
    hz_ai_info_free(ia), hz_ai_info_free(ib);
    hz_free(a), hz_free(b), hz_free(dest), hz_free(dest2), hz_free(part);
}

static int setup(void **state) {
    (void)state;
    g_root = tu_tmpdir();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ai_rmtree(g_root);
    hz_free(g_root);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_add_get_list_delete),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_fetch_local_and_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
