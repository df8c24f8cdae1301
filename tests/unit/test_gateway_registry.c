/*
 * Unit tests for the provider registry (registry.c, secret.c, provider_json.c): add, modify and
 * remove persisted across a reopen of the store; API keys sealed (the raw key never appears in
 * the database files, the blob opens only under the node secret and only for its provider); a
 * replaced secret costs the providers their keys with a warning, not the node its start; the
 * secret file's creation, mode and size checks; strict parsing of API bodies, each error a 400
 * naming the field; concurrent changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_internal.h"
#include "hanzo/crypto.h"
#include "hanzo/gateway.h"
#include "hanzo/store.h"

/* gw.c: a reference to the gateway's snapshot of a provider, to see the key it was given */
gw_provider_t *gw_provider_get(hz_gw_t *gw, const char *id);
/* secret.c */
typedef struct gw_secret gw_secret_t;
int gw_secret_open(const char *path, gw_secret_t **out);
void gw_secret_close(gw_secret_t *s);
int gw_secret_unseal(const gw_secret_t *s, const char *provider_id, const void *blob, size_t len, char **key_out,
                     size_t *key_len);

#define KEY1 "gsk-live-7f3a9c21e8b04d6f95aa0c1d2e3f4b5c"
#define KEY2 "sk-ant-other-key-0123456789abcdefXYZW"

typedef struct {
    char dir[64];
    char db[128];
    char secret[128];
    char log[128];
    hz_store_t *store;
    hz_gw_t *gw;
    hz_gw_registry_t *reg;
} fixture_t;

/* Send the log to f->log until log_restore, to check warnings and that no key is ever logged. */
static FILE *log_fp;
static void log_capture(const fixture_t *f) {
    log_fp = fopen(f->log, "w");
    assert_non_null(log_fp);
    hz_log_configure("info", HZ_LOG_TEXT, log_fp);
}
static void log_restore(void) {
    hz_log_configure("info", HZ_LOG_TEXT, NULL);
    if (log_fp) fclose(log_fp);
    log_fp = NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void open_all(fixture_t *f) {
    assert_int_equal(hz_store_open(f->db, NULL, &f->store), 0);
    hz_gw_options_t o = {0};
    f->gw = hz_gw_new(&o);
    assert_non_null(f->gw);
    int rc = hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg);
    if (rc) fail_msg("registry open: %s", hz_error_last());
}

static void close_all(fixture_t *f) {
    hz_gw_registry_close(f->reg);
    hz_gw_free(f->gw);
    hz_store_close(f->store);
    f->reg = NULL;
    f->gw = NULL;
    f->store = NULL;
}

static int setup(void **state) {
    fixture_t *f = hz_calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/hz_test_gw_reg.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof(f->db), "%s/hanzo.db", f->dir);
    snprintf(f->secret, sizeof(f->secret), "%s/secret.key", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/log.txt", f->dir);
    open_all(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    close_all(f);
    log_restore();
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    hz_free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static json_object *js(const char *text) {
    json_object *o = NULL;
    if (hz_json_parse(text, strlen(text), &o) != 0) fail_msg("bad test JSON %s: %s", text, hz_error_last());
    return o;
}

static hz_gw_error_t noerr(void) {
    hz_gw_error_t e;
    memset(&e, 0, sizeof(e));
    e.retry_after_ms = -1;
    return e;
}

static void add_ok(fixture_t *f, const char *body) {
    json_object *b = js(body);
    hz_gw_error_t e = noerr();
    int rc = hz_gw_registry_add(f->reg, b, &e);
    if (rc) fail_msg("add %s: %d %s", body, e.status, e.message);
    json_object_put(b);
}

static int modify(fixture_t *f, const char *body, hz_gw_error_t *e) {
    json_object *b = js(body);
    *e = noerr();
    int rc = hz_gw_registry_modify(f->reg, b, e);
    json_object_put(b);
    return rc;
}

/* The provider as /v2/llm_providers lists it, or NULL. Owned. */
static json_object *listed(fixture_t *f, const char *id) {
    json_object *all = hz_gw_providers_json(f->gw), *found = NULL;
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *p = json_object_array_get_idx(all, i), *v;
        if (json_object_object_get_ex(p, "id", &v) && strcmp(json_object_get_string(v), id) == 0)
            found = json_object_get(p);
    }
    json_object_put(all);
    return found;
}

static const char *str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* The key the gateway holds for id ("" for none); asserts the provider is there. */
static char *gw_key(fixture_t *f, const char *id) {
    gw_provider_t *p = gw_provider_get(f->gw, id);
    if (!p) fail_msg("provider %s is not in the gateway", id);
    char *k = hz_strdup(p->api_key ? p->api_key : "");
    gw_provider_release(p);
    return k;
}

static void assert_gw_key(fixture_t *f, const char *id, const char *want) {
    char *k = gw_key(f, id);
    assert_string_equal(k, want);
    hz_free(k);
}

static int64_t count_rows(fixture_t *f) {
    sqlite3 *db = hz_store_reader_acquire(f->store);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM llm_providers", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    hz_store_reader_release(f->store, db);
    return n;
}

/* The sealed blob stored for id (owned; len 0 when NULL). */
static uint8_t *sealed_of(const char *dbpath, const char *id, size_t *len) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT api_key_sealed FROM llm_providers WHERE id = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    uint8_t *b = hz_malloc(*len + 1);
    if (*len) memcpy(b, sqlite3_column_blob(st, 0), *len);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return b;
}

static bool file_contains(const char *path, const char *needle) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    hz_buf_t b = HZ_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) hz_buf_append(&b, chunk, n);
    fclose(fp);
    bool found = b.len && memmem(b.data, b.len, needle, strlen(needle)) != NULL;
    hz_buf_free(&b);
    return found;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode) {
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    fchmod(fd, mode);
    close(fd);
}

/* ---- add, modify, remove, persisted ---------------------------------------------------------- */

static void test_add_persists(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"groq\",\"type\":\"groq\",\"api_key\":\"" KEY1 "\",\"models\":[\"llama-3.1-8b\",\"mixtral\"],"
              "\"connect_timeout_ms\":1234,\"max_retries\":-1}");
    add_ok(f, "{\"id\":\"local-llama\",\"type\":\"openai-compatible\",\"base_url\":\"http://127.0.0.1:8080/v1\"}");
    assert_int_equal(count_rows(f), 2);
    assert_gw_key(f, "groq", KEY1);
    assert_gw_key(f, "local-llama", "");

    close_all(f);
    open_all(f);
    json_object *p = listed(f, "groq");
    assert_non_null(p);
    assert_string_equal(str(p, "type"), "groq");
    assert_string_equal(json_object_to_json_string(json_object_object_get(p, "models")), "[ \"llama-3.1-8b\", \"mixtral\" ]");
    assert_int_equal(json_object_get_int(json_object_object_get(p, "connect_timeout_ms")), 1234);
    assert_true(json_object_get_boolean(json_object_object_get(p, "has_api_key")));
    /* the listing never carries the key, only a hint */
    assert_null(strstr(json_object_to_json_string(p), KEY1));
    assert_null(strstr(json_object_to_json_string(p), "7f3a9c21"));
    json_object_put(p);
    assert_gw_key(f, "groq", KEY1);
    p = listed(f, "local-llama");
    assert_string_equal(str(p, "base_url"), "http://127.0.0.1:8080/v1");
    assert_false(json_object_get_boolean(json_object_object_get(p, "has_api_key")));
    json_object_put(p);

    /* a taken id is a 409 and leaves the stored provider alone */
    json_object *b = js("{\"id\":\"groq\",\"type\":\"openai\",\"api_key\":\"x\"}");
    hz_gw_error_t e = noerr();
    assert_int_equal(hz_gw_registry_add(f->reg, b, &e), HZ_EEXIST);
    json_object_put(b);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.param, "id");
    assert_non_null(strstr(e.message, "groq"));
    assert_gw_key(f, "groq", KEY1);
}

static void test_modify_merges(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"oa\",\"type\":\"openai\",\"api_key\":\"" KEY1 "\",\"models\":[\"gpt-4o-mini\"],"
              "\"base_url\":\"http://127.0.0.1:9/v1\",\"idle_timeout_ms\":7000}");
    hz_gw_error_t e;
    /* api_key absent: kept; models replaced; other fields kept */
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"models\":[\"a\",\"b\"]}", &e), 0);
    close_all(f);
    open_all(f);
    assert_gw_key(f, "oa", KEY1);
    json_object *p = listed(f, "oa");
    assert_int_equal(json_object_array_length(json_object_object_get(p, "models")), 2);
    assert_string_equal(str(p, "base_url"), "http://127.0.0.1:9/v1");
    assert_int_equal(json_object_get_int(json_object_object_get(p, "idle_timeout_ms")), 7000);
    json_object_put(p);

    /* null resets a field to its default */
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"base_url\":null,\"idle_timeout_ms\":null}", &e), 0);
    p = listed(f, "oa");
    assert_string_equal(str(p, "base_url"), "https://api.openai.com/v1");
    json_object_put(p);

    /* a new key replaces the old one, sealed again */
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"api_key\":\"" KEY2 "\"}", &e), 0);
    assert_gw_key(f, "oa", KEY2);
    close_all(f);
    assert_false(file_contains(f->db, KEY2));
    open_all(f);
    assert_gw_key(f, "oa", KEY2);

    /* null and "" both remove it */
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"api_key\":null}", &e), 0);
    assert_gw_key(f, "oa", "");
    size_t len;
    hz_free(sealed_of(f->db, "oa", &len));
    assert_int_equal(len, 0);
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"api_key\":\"" KEY1 "\"}", &e), 0);
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"api_key\":\"\"}", &e), 0);
    close_all(f);
    open_all(f);
    assert_gw_key(f, "oa", "");

    /* a failed modify changes nothing, in the store or the gateway */
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"type\":\"no-such-type\",\"models\":[\"z\"]}", &e), HZ_EINVAL);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "type");
    assert_non_null(strstr(e.message, "no-such-type"));
    assert_int_equal(modify(f, "{\"id\":\"oa\",\"modles\":[\"z\"]}", &e), HZ_EINVAL);
    assert_string_equal(e.param, "modles");
    p = listed(f, "oa");
    assert_string_equal(str(p, "type"), "openai");
    assert_int_equal(json_object_array_length(json_object_object_get(p, "models")), 2);
    json_object_put(p);

    assert_int_equal(modify(f, "{\"id\":\"nobody\",\"models\":[]}", &e), HZ_ENOTFOUND);
    assert_int_equal(e.status, 404);
    assert_non_null(strstr(e.message, "nobody"));
    assert_int_equal(modify(f, "{\"models\":[]}", &e), HZ_EINVAL);
    assert_string_equal(e.param, "id");
}

static void test_remove(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"a\",\"type\":\"ollama\"}");
    add_ok(f, "{\"id\":\"b\",\"type\":\"ollama\",\"base_url\":\"http://10.0.0.2:11434\"}");
    hz_gw_error_t e = noerr();
    assert_int_equal(hz_gw_registry_remove(f->reg, "a", &e), 0);
    json_object *p = listed(f, "a");
    assert_null(p);
    assert_int_equal(hz_gw_registry_remove(f->reg, "a", &e), HZ_ENOTFOUND);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.param, "id");
    close_all(f);
    open_all(f);
    assert_null(listed(f, "a"));
    p = listed(f, "b");
    assert_non_null(p);
    json_object_put(p);
    assert_int_equal(count_rows(f), 1);
    /* re-adding a removed id works */
    add_ok(f, "{\"id\":\"a\",\"type\":\"anthropic\",\"api_key\":\"" KEY2 "\"}");
    assert_gw_key(f, "a", KEY2);
}

/* ---- sealing --------------------------------------------------------------------------------- */

static void test_key_sealed_at_rest(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"groq\",\"type\":\"groq\",\"api_key\":\"" KEY1 "\"}");
    add_ok(f, "{\"id\":\"anth\",\"type\":\"anthropic\",\"api_key\":\"" KEY2 "\"}");
    /* the write-ahead log holds the pages before the checkpoint: search it too */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_false(file_contains(f->db, KEY1));
    assert_false(file_contains(wal, KEY1));
    assert_false(file_contains(wal, "7f3a9c21e8b04d6f"));
    close_all(f);
    assert_false(file_contains(f->db, KEY1));
    assert_false(file_contains(f->db, KEY2));
    assert_false(file_contains(f->db, "7f3a9c21e8b04d6f"));
    assert_true(file_contains(f->db, "groq"));  /* the search does find what is there */

    /* the blob: version 1, 24-byte nonce, ciphertext, 16-byte tag; it opens only for its id */
    size_t len;
    uint8_t *blob = sealed_of(f->db, "groq", &len);
    assert_int_equal(len, 1 + 24 + strlen(KEY1) + 16);
    assert_int_equal(blob[0], 1);
    gw_secret_t *s;
    assert_int_equal(gw_secret_open(f->secret, &s), 0);
    char *key;
    size_t klen;
    assert_int_equal(gw_secret_unseal(s, "groq", blob, len, &key, &klen), 0);
    assert_string_equal(key, KEY1);
    hz_secure_free(key, klen + 1);
    assert_int_equal(gw_secret_unseal(s, "anth", blob, len, &key, &klen), HZ_ECRYPTO);
    assert_null(key);
    blob[30] ^= 1;
    assert_int_equal(gw_secret_unseal(s, "groq", blob, len, &key, &klen), HZ_ECRYPTO);
    blob[30] ^= 1;
    blob[0] = 2;
    assert_int_equal(gw_secret_unseal(s, "groq", blob, len, &key, &klen), HZ_EVERSION);
    assert_int_equal(gw_secret_unseal(s, "groq", blob, 20, &key, &klen), HZ_EPARSE);
    gw_secret_close(s);
    hz_free(blob);

    /* two seals of one key differ (random nonces) */
    open_all(f);
    hz_gw_error_t e;
    assert_int_equal(modify(f, "{\"id\":\"anth\",\"api_key\":\"" KEY1 "\"}", &e), 0);
    size_t l1, l2;
    uint8_t *b1 = sealed_of(f->db, "groq", &l1), *b2 = sealed_of(f->db, "anth", &l2);
    assert_int_equal(l1, l2);
    assert_true(memcmp(b1 + 1, b2 + 1, 24) != 0);
    hz_free(b1);
    hz_free(b2);
}

/* A blob moved onto another provider's row does not give that provider the key. */
static void test_blob_bound_to_id(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"a\",\"type\":\"openai\",\"api_key\":\"" KEY1 "\"}");
    add_ok(f, "{\"id\":\"b\",\"type\":\"openai\"}");
    close_all(f);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE llm_providers SET api_key_sealed = "
                                      "(SELECT api_key_sealed FROM llm_providers WHERE id = 'a') WHERE id = 'b'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    log_capture(f);
    open_all(f);
    assert_gw_key(f, "a", KEY1);
    assert_gw_key(f, "b", "");
    log_restore();
    assert_true(file_contains(f->log, "provider \"b\" is loaded without its API key"));
    assert_false(file_contains(f->log, KEY1));
}

static void test_wrong_secret(void **state) {
    fixture_t *f = *state;
    add_ok(f, "{\"id\":\"groq\",\"type\":\"groq\",\"api_key\":\"" KEY1 "\"}");
    add_ok(f, "{\"id\":\"free\",\"type\":\"ollama\"}");
    close_all(f);
    uint8_t other[32];
    hz_crypto_random(other, sizeof(other));
    write_file(f->secret, other, sizeof(other), 0600);

    log_capture(f);
    open_all(f);  /* opens: the provider loses its key, the node keeps running */
    log_restore();
    json_object *p = listed(f, "groq");
    assert_non_null(p);
    assert_false(json_object_get_boolean(json_object_object_get(p, "has_api_key")));
    json_object_put(p);
    assert_gw_key(f, "groq", "");
    p = listed(f, "free");
    assert_non_null(p);
    json_object_put(p);
    assert_true(file_contains(f->log, "WARN"));
    assert_true(file_contains(f->log, "provider \"groq\" is loaded without its API key"));
    assert_true(file_contains(f->log, "secret.key"));
    assert_false(file_contains(f->log, KEY1));

    /* modify without a key keeps the (unreadable) blob; setting the key again repairs it */
    hz_gw_error_t e;
    assert_int_equal(modify(f, "{\"id\":\"groq\",\"models\":[\"m\"]}", &e), 0);
    size_t len;
    hz_free(sealed_of(f->db, "groq", &len));
    assert_true(len > 0);
    assert_int_equal(modify(f, "{\"id\":\"groq\",\"api_key\":\"" KEY2 "\"}", &e), 0);
    close_all(f);
    open_all(f);
    assert_gw_key(f, "groq", KEY2);
}

/* ---- the secret file ------------------------------------------------------------------------- */

static void test_secret_file(void **state) {
    fixture_t *f = *state;
    struct stat st;
    /* created on first open: 32 bytes, 0600, no temporary left behind */
    assert_int_equal(stat(f->secret, &st), 0);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(st.st_mode & 0777, 0600);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) assert_null(strstr(de->d_name, ".tmp."));
    closedir(d);
    uint8_t before[32], after[32];
    int fd = open(f->secret, O_RDONLY);
    assert_int_equal(read(fd, before, 32), 32);
    close(fd);
    /* reopening reads the same secret */
    close_all(f);
    open_all(f);
    fd = open(f->secret, O_RDONLY);
    assert_int_equal(read(fd, after, 32), 32);
    close(fd);
    assert_memory_equal(before, after, 32);
    close_all(f);

    hz_gw_options_t o = {0};
    assert_int_equal(hz_store_open(f->db, NULL, &f->store), 0);
    f->gw = hz_gw_new(&o);
    /* readable by the group: refused, saying how to fix it */
    chmod(f->secret, 0640);
    assert_int_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), HZ_EAUTH);
    assert_null(f->reg);
    assert_non_null(strstr(hz_error_last(), "chmod 600"));
    assert_non_null(strstr(hz_error_last(), f->secret));
    chmod(f->secret, 0604);
    assert_int_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), HZ_EAUTH);
    /* the wrong size */
    write_file(f->secret, before, 31, 0600);
    assert_int_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "31 bytes"));
    assert_non_null(strstr(hz_error_last(), "32"));
    write_file(f->secret, "", 0, 0600);
    assert_int_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), HZ_EINVAL);
    /* a directory, a symlink */
    unlink(f->secret);
    mkdir(f->secret, 0700);
    assert_int_not_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), 0);
    rmdir(f->secret);
    char target[160];
    snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
    write_file(target, before, 32, 0600);
    assert_int_equal(symlink(target, f->secret), 0);
    assert_int_not_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), 0);
    unlink(f->secret);
    /* a missing directory is an error naming the path, not a crash */
    char nodir[160];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/secret.key", f->dir);
    assert_int_equal(hz_gw_registry_open(f->store, nodir, f->gw, &f->reg), HZ_EIO);
    assert_non_null(strstr(hz_error_last(), nodir));
    /* and back to normal */
    assert_int_equal(hz_gw_registry_open(f->store, f->secret, f->gw, &f->reg), 0);
}

/* ---- strict bodies --------------------------------------------------------------------------- */

static void expect_bad(fixture_t *f, const char *body, const char *param, const char *in_message) {
    json_object *b = js(body);
    hz_gw_error_t e = noerr();
    int rc = hz_gw_registry_add(f->reg, b, &e);
    json_object_put(b);
    if (rc != HZ_EINVAL) fail_msg("%s: rc %d, want EINVAL", body, rc);
    if (e.status != 400) fail_msg("%s: status %d", body, e.status);
    if (strcmp(e.param, param) != 0) fail_msg("%s: param \"%s\", want \"%s\" (%s)", body, e.param, param, e.message);
    if (!strstr(e.message, in_message)) fail_msg("%s: message \"%s\" lacks \"%s\"", body, e.message, in_message);
    assert_string_equal(e.type, "invalid_request_error");
}

static void test_bad_bodies(void **state) {
    fixture_t *f = *state;
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"apiKey\":\"k\",\"baseUrl\":\"http://h\"}", "apiKey", "\"baseUrl\"");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"apiKey\":\"k\"}", "apiKey", "unknown field \"apiKey\"");
    expect_bad(f, "{\"type\":\"openai\"}", "id", "id");
    expect_bad(f, "{\"id\":7,\"type\":\"openai\"}", "id", "id");
    expect_bad(f, "{\"id\":\"x\"}", "type", "type");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"nope\"}", "type", "nope");
    expect_bad(f, "{\"id\":\"Bad Id\",\"type\":\"openai\"}", "id", "Bad Id");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"base_url\":\"ftp://h\"}", "base_url", "ftp://h");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai-compatible\"}", "base_url", "base_url");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"base_url\":5}", "base_url", "base_url");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"api_key\":123}", "api_key", "api_key");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"api_key\":\"a\\nb\"}", "api_key", "api_key");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"models\":\"gpt\"}", "models", "array");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"models\":[\"a\",3]}", "models", "[1]");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"models\":[\"\"]}", "models", "[0]");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"connect_timeout_ms\":\"5\"}", "connect_timeout_ms", "integer");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"idle_timeout_ms\":-1}", "idle_timeout_ms", "between");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"first_byte_timeout_ms\":1.5}", "first_byte_timeout_ms", "integer");
    expect_bad(f, "{\"id\":\"x\",\"type\":\"openai\",\"max_retries\":11}", "max_retries", "between");
    expect_bad(f, "[1,2]", "", "object");
    json_object *s = json_object_new_string("x");
    hz_gw_error_t e = noerr();
    assert_int_equal(hz_gw_registry_add(f->reg, s, &e), HZ_EINVAL);
    json_object_put(s);
    assert_int_equal(hz_gw_registry_add(f->reg, NULL, &e), HZ_EINVAL);
    /* nothing of that reached the store or the gateway */
    assert_int_equal(count_rows(f), 0);
    json_object *all = hz_gw_providers_json(f->gw);
    assert_int_equal(json_object_array_length(all), 0);
    json_object_put(all);

    /* the parser on its own: strings borrowed, models allocated */
    json_object *b = js("{\"id\":\"p\",\"type\":\"gemini\",\"models\":[\"m1\",\"m2\"],\"api_key\":null,\"base_url\":null}");
    hz_gw_provider_config_t cfg;
    assert_int_equal(hz_gw_provider_config_from_json(b, &cfg, &e), 0);
    assert_string_equal(cfg.id, "p");
    assert_null(cfg.api_key);
    assert_null(cfg.base_url);
    assert_int_equal(cfg.n_models, 2);
    assert_string_equal(cfg.models[1], "m2");
    hz_gw_provider_config_release(&cfg);
    assert_null(cfg.models);
    json_object_put(b);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

typedef struct {
    fixture_t *f;
    int t;
} worker_t;

static void *adder(void *arg) {
    worker_t *w = arg;
    for (int i = 0; i < 10; i++) {
        char body[256], id[32];
        snprintf(id, sizeof(id), "p%d-%d", w->t, i);
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"type\":\"openai\",\"api_key\":\"key-%s-0123456789abcdef\"}", id, id);
        json_object *b = js(body);
        hz_gw_error_t e = noerr();
        if (hz_gw_registry_add(w->f->reg, b, &e) != 0) fail_msg("add %s: %s", id, e.message);
        json_object_put(b);
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"models\":[\"m%d\"]}", id, i);
        b = js(body);
        if (hz_gw_registry_modify(w->f->reg, b, &e) != 0) fail_msg("modify %s: %s", id, e.message);
        json_object_put(b);
        if (i % 2 && hz_gw_registry_remove(w->f->reg, id, &e) != 0) fail_msg("remove %s: %s", id, e.message);
    }
    return NULL;
}

static void test_concurrent_changes(void **state) {
    fixture_t *f = *state;
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){f, i};
        assert_int_equal(pthread_create(&th[i], NULL, adder, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    assert_int_equal(count_rows(f), 20);
    close_all(f);
    open_all(f);
    json_object *all = hz_gw_providers_json(f->gw);
    assert_int_equal(json_object_array_length(all), 20);
    json_object_put(all);
    assert_gw_key(f, "p2-4", "key-p2-4-0123456789abcdef");
    json_object *p = listed(f, "p3-8");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(json_object_object_get(p, "models"), 0)), "m8");
    json_object_put(p);
    assert_null(listed(f, "p1-3"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modify_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_sealed_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_bound_to_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_changes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
