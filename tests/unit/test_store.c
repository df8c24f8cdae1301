/*
 * Unit tests for src/store: opening and file safety, the migration runner (with test-only
 * migration lists through the internal hz_store_migrate), the schema-version guard, settings,
 * write transactions and rollback, readers running while a writer holds a transaction, the
 * statement cache, and the error mapping. Every test works in its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hanzo/store.h"
#include "store/store_internal.h"

typedef struct {
    char dir[64];
    char db[128];
} fixture_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    fixture_t *f = hz_calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/hz_test_store.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof(f->db), "%s/hanzo.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    hz_free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
    int64_t v = -1;
    assert_int_equal(hz_store_query_int(db, sql, &v), 0);
    return v;
}

static void raw_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, err ? err : "?");
}

static char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    hz_buf_t b = HZ_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) hz_buf_append(&b, chunk, n);
    fclose(fp);
    return hz_buf_detach(&b, len);
}

static void spit(const char *path, const void *data, size_t len, mode_t mode) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static unsigned mode_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

static void exec_tx(hz_store_t *s, const char *sql) {
    sqlite3 *db;
    assert_int_equal(hz_store_begin(s, &db), 0);
    raw_exec(db, sql);
    assert_int_equal(hz_store_commit(s), 0);
}

static int64_t read_int(hz_store_t *s, const char *sql) {
    sqlite3 *db = hz_store_reader_acquire(s);
    int64_t v = raw_int(db, sql);
    hz_store_reader_release(s, db);
    return v;
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* ---- open ----------------------------------------------------------------------------------- */

static void test_open_creates_dirs_file_and_pragmas(void **state) {
    fixture_t *f = *state;
    char sub[128], db_path[192];
    snprintf(sub, sizeof(sub), "%s/a/b", f->dir);
    snprintf(db_path, sizeof(db_path), "%s/node.db", sub);
    hz_store_t *s = NULL;
    assert_int_equal(hz_store_open(db_path, NULL, &s), 0);
    assert_non_null(s);
    assert_string_equal(hz_store_path(s), db_path);

    char a[128];
    snprintf(a, sizeof(a), "%s/a", f->dir);
    assert_int_equal(mode_of(a), 0700);
    assert_int_equal(mode_of(sub), 0700);
    assert_int_equal(mode_of(db_path), 0600);

    assert_true(hz_store_schema_latest() >= 1);
    assert_int_equal(hz_store_schema_version(s), hz_store_schema_latest());

    sqlite3 *r = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    assert_int_equal(hz_store_prepare(s, r, "PRAGMA journal_mode", &st), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    hz_store_stmt_done(s, st);
    assert_int_equal(raw_int(r, "PRAGMA foreign_keys"), 1);
    assert_int_equal(raw_int(r, "PRAGMA query_only"), 1);
    /* Readers cannot write, so nothing bypasses the writer mutex. */
    assert_int_not_equal(sqlite3_exec(r, "INSERT INTO settings VALUES ('k', 'v', 0)", NULL, NULL, NULL), SQLITE_OK);
    hz_store_reader_release(s, r);

    sqlite3 *w;
    assert_int_equal(hz_store_begin(s, &w), 0);
    assert_int_equal(raw_int(w, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(raw_int(w, "PRAGMA foreign_keys"), 1);
    assert_int_equal(raw_int(w, "PRAGMA trusted_schema"), 0);
    raw_exec(w, "CREATE TABLE t (x)");
    assert_int_equal(hz_store_commit(s), 0);

    char wal[256];
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    assert_true(exists(wal));
    assert_int_equal(mode_of(wal), 0600);
    hz_store_close(s);
    /* Closed cleanly: the WAL was checkpointed into the file and removed. */
    assert_false(exists(wal));
    hz_store_close(NULL);
}

static void test_open_tightens_existing_file_mode(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    hz_store_close(s);
    assert_int_equal(chmod(f->db, 0644), 0);
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    assert_int_equal(mode_of(f->db), 0600);
    hz_store_close(s);
}

static void test_open_rejects_bad_arguments(void **state) {
    fixture_t *f = *state;
    hz_store_t *s = (hz_store_t *)1;
    assert_int_equal(hz_store_open(NULL, NULL, &s), HZ_EINVAL);
    assert_null(s);
    assert_int_equal(hz_store_open("", NULL, &s), HZ_EINVAL);
    assert_int_equal(hz_store_open(":memory:", NULL, &s), HZ_EINVAL);
    assert_contains(hz_error_last(), ":memory:");
    hz_store_options_t o;
    hz_store_options_default(&o);
    o.readers = 65;
    assert_int_equal(hz_store_open(f->db, &o, &s), HZ_EINVAL);
    assert_contains(hz_error_last(), "readers");
    hz_store_options_default(&o);
    o.busy_timeout_ms = -1;
    assert_int_equal(hz_store_open(f->db, &o, &s), HZ_EINVAL);
    assert_contains(hz_error_last(), "busy_timeout_ms");
    assert_false(exists(f->db)); /* options are checked before the file is created */

    /* The path is a directory, or its parent is a file. */
    assert_int_equal(hz_store_open(f->dir, NULL, &s), HZ_EIO);
    assert_contains(hz_error_last(), "not a regular file");
    char blocker[128], below[192];
    snprintf(blocker, sizeof(blocker), "%s/plainfile", f->dir);
    spit(blocker, "x", 1, 0644);
    snprintf(below, sizeof(below), "%s/db.sqlite", blocker);
    assert_int_equal(hz_store_open(below, NULL, &s), HZ_EIO);
    assert_contains(hz_error_last(), "is not a directory");
}

static void test_open_rollback_journal_mode(void **state) {
    fixture_t *f = *state;
    hz_store_options_t o = {.wal = false, .busy_timeout_ms = 0, .readers = 1};
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, &o, &s), 0);
    sqlite3 *r = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    assert_int_equal(hz_store_prepare(s, r, "PRAGMA journal_mode", &st), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    hz_store_stmt_done(s, st);
    hz_store_reader_release(s, r);
    assert_int_equal(hz_store_setting_set(s, "k", "v"), 0);
    hz_store_close(s);
}

/* ---- files that are not ours ------------------------------------------------------------- */

static void check_refused_untouched(const char *path, const void *content, size_t len) {
    spit(path, content, len, 0644);
    hz_store_t *s = (hz_store_t *)1;
    int rc = hz_store_open(path, NULL, &s);
    assert_int_equal(rc, HZ_EPARSE);
    assert_null(s);
    assert_contains(hz_error_last(), path);
    assert_contains(hz_error_last(), "not");
    size_t got_len;
    char *got = slurp(path, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, content, len);
    hz_free(got);
    assert_int_equal(mode_of(path), 0644);
    static const char *const companions[] = {"-wal", "-shm", "-journal"};
    for (int i = 0; i < 3; i++) {
        char *c = hz_sprintf("%s%s", path, companions[i]);
        if (exists(c)) fail_msg("%s was created next to a file that is not a database", c);
        hz_free(c);
    }
}

static void test_non_database_file_refused_and_untouched(void **state) {
    fixture_t *f = *state;
    const char text[] = "[node]\nlisten = \"127.0.0.1:9550\"\n# a config file, not a database\n";
    check_refused_untouched(f->db, text, sizeof(text) - 1);

    check_refused_untouched(f->db, "abc", 3);

    uint8_t noise[8192];
    hz_random_bytes(noise, sizeof(noise));
    check_refused_untouched(f->db, noise, sizeof(noise));

    /* The right magic followed by garbage: SQLite itself must refuse it, still without writing. */
    memcpy(noise, "SQLite format 3", 16);
    check_refused_untouched(f->db, noise, sizeof(noise));
    assert_contains(hz_error_last(), "refusing");

    /* The magic alone: shorter than a header. */
    check_refused_untouched(f->db, "SQLite format 3", 16);
}

/* ---- migrations ---------------------------------------------------------------------------- */

static const hz_migration_t M3[] = {
    {1, "log", "CREATE TABLE log (n INTEGER NOT NULL);"},
    {2, "first", "INSERT INTO log VALUES (2);"},
    {3, "second", "INSERT INTO log VALUES (3); CREATE TABLE extra (y);"},
};

static void test_migrations_applied_once_in_order(void **state) {
    fixture_t *f = *state;
    sqlite3 *db = raw_open(f->db);
    assert_int_equal(hz_store_migrate(db, "test db", M3, 2), 0);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM log"), 1);
    /* Same list again: nothing runs. */
    assert_int_equal(hz_store_migrate(db, "test db", M3, 2), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM log"), 1);
    /* A longer list: only the new step runs. */
    assert_int_equal(hz_store_migrate(db, "test db", M3, 3), 0);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
    assert_int_equal(raw_int(db, "SELECT group_concat(n, '') FROM (SELECT n FROM log ORDER BY rowid)"), 23);
    assert_int_equal(hz_store_migrate(db, "test db", M3, 3), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM log"), 2);
    /* Migrations run with foreign keys off; the connection gets them back on for normal work. */
    assert_int_equal(raw_int(db, "PRAGMA foreign_keys"), 1);
    /* An older binary (shorter list) refuses the newer database, naming both versions. */
    assert_int_equal(hz_store_migrate(db, "test db", M3, 1), HZ_EVERSION);
    assert_contains(hz_error_last(), "schema version 3");
    assert_contains(hz_error_last(), "up to 1");
    sqlite3_close(db);
}

static void test_migration_failure_rolls_back(void **state) {
    fixture_t *f = *state;
    sqlite3 *db = raw_open(f->db);
    const hz_migration_t bad[] = {
        M3[0],
        {2, "broken", "CREATE TABLE half (x); INSERT INTO log VALUES (2); INSERT INTO no_such_table VALUES (1);"},
    };
    assert_int_equal(hz_store_migrate(db, "test db", bad, 2), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "migration 2 (broken) failed and was rolled back");
    assert_contains(hz_error_last(), "no_such_table");
    /* Step 1 is committed, step 2 left nothing behind: neither its table nor its row. */
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM log"), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    /* The fixed binary carries on from version 1. */
    assert_int_equal(hz_store_migrate(db, "test db", M3, 3), 0);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);

    /* A migration that leaves a dangling foreign key is refused. */
    const hz_migration_t fk[] = {
        M3[0], M3[1], M3[2],
        {4, "dangling", "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                        "CREATE TABLE child (pid INTEGER REFERENCES parent (id));"
                        "INSERT INTO child VALUES (42);"},
    };
    assert_int_equal(hz_store_migrate(db, "test db", fk, 4), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "foreign key violation");
    assert_contains(hz_error_last(), "child");
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'child'"), 0);
    sqlite3_close(db);
}

static void test_migration_list_must_be_consecutive(void **state) {
    fixture_t *f = *state;
    sqlite3 *db = raw_open(f->db);
    const hz_migration_t gap[] = {M3[0], M3[2]};
    assert_int_equal(hz_store_migrate(db, "test db", gap, 2), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "consecutive");
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 0);
    /* The product's own list obeys the rule. */
    size_t n;
    const hz_migration_t *list = hz_store_migrations(&n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) assert_int_equal(list[i].version, (int)i + 1);
    assert_int_equal(hz_store_schema_latest(), list[n - 1].version);
    sqlite3_close(db);
}

static void test_reopen_is_noop(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    assert_int_equal(hz_store_setting_set(s, "node.name", "alpha"), 0);
    int64_t objects = read_int(s, "SELECT count(*) FROM sqlite_schema");
    hz_store_close(s);

    for (int round = 0; round < 3; round++) {
        assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
        assert_int_equal(hz_store_schema_version(s), hz_store_schema_latest());
        assert_int_equal(read_int(s, "SELECT count(*) FROM sqlite_schema"), objects);
        char *v = NULL;
        assert_int_equal(hz_store_setting_get(s, "node.name", &v), 0);
        assert_string_equal(v, "alpha");
        hz_free(v);
        hz_store_close(s);
    }
}

static void test_newer_schema_refused(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    hz_store_close(s);
    int newer = hz_store_schema_latest() + 7;
    sqlite3 *db = raw_open(f->db);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
    raw_exec(db, sql);
    sqlite3_close(db);

    size_t len_before;
    char *before = slurp(f->db, &len_before);
    s = (hz_store_t *)1;
    assert_int_equal(hz_store_open(f->db, NULL, &s), HZ_EVERSION);
    assert_null(s);
    char want_newer[64], want_latest[64];
    snprintf(want_newer, sizeof(want_newer), "schema version %d", newer);
    snprintf(want_latest, sizeof(want_latest), "up to %d", hz_store_schema_latest());
    assert_contains(hz_error_last(), want_newer);
    assert_contains(hz_error_last(), want_latest);
    assert_contains(hz_error_last(), f->db);

    size_t len_after;
    char *after = slurp(f->db, &len_after);
    assert_int_equal(len_after, len_before);
    assert_memory_equal(after, before, len_before);
    hz_free(before);
    hz_free(after);

    db = raw_open(f->db);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), newer);
    raw_exec(db, "PRAGMA user_version = -1");
    sqlite3_close(db);
    assert_int_equal(hz_store_open(f->db, NULL, &s), HZ_EVERSION);
    assert_contains(hz_error_last(), "negative");
}

typedef struct {
    const char *path;
    int rc;
    char err[256];
} opener_t;

static void *open_in_thread(void *arg) {
    opener_t *o = arg;
    hz_store_t *s = NULL;
    o->rc = hz_store_open(o->path, NULL, &s);
    snprintf(o->err, sizeof(o->err), "%s", hz_error_last());
    if (o->rc == 0) o->rc = hz_store_setting_set(s, "k", "v");
    hz_store_close(s);
    return NULL;
}

/* Several processes starting at once on a new database (the daemon and a CLI command): each
 * migration must run exactly once and nobody may fail. Separate stores stand in for separate
 * processes; they share nothing but the file. */
static void test_concurrent_first_open(void **state) {
    fixture_t *f = *state;
    enum { N = 4 };
    pthread_t th[N];
    opener_t o[N];
    for (int i = 0; i < N; i++) {
        o[i] = (opener_t){.path = f->db};
        assert_int_equal(pthread_create(&th[i], NULL, open_in_thread, &o[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (o[i].rc != 0) fail_msg("opener %d: %s: %s", i, hz_error_name(o[i].rc), o[i].err);
    }
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    assert_int_equal(hz_store_schema_version(s), hz_store_schema_latest());
    hz_store_close(s);
}

/* ---- settings ------------------------------------------------------------------------------ */

static void test_settings_round_trip(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    char *v = (char *)1;
    assert_int_equal(hz_store_setting_get(s, "api.key_hash", &v), HZ_ENOTFOUND);
    assert_null(v);
    assert_contains(hz_error_last(), "api.key_hash");

    int64_t t0 = hz_time_now_ms();
    assert_int_equal(hz_store_setting_set(s, "api.key_hash", "argon2id$abc"), 0);
    assert_int_equal(hz_store_setting_get(s, "api.key_hash", &v), 0);
    assert_string_equal(v, "argon2id$abc");
    hz_free(v);
    int64_t t1 = read_int(s, "SELECT updated_at FROM settings WHERE key = 'api.key_hash'");
    assert_true(t1 >= t0 && t1 <= hz_time_now_ms());

    const char *uni = "nœud «é» 節點 \xF0\x9F\x94\x91 'quote' \"dq\"";
    assert_int_equal(hz_store_setting_set(s, "api.key_hash", uni), 0);
    assert_int_equal(hz_store_setting_get(s, "api.key_hash", &v), 0);
    assert_string_equal(v, uni);
    hz_free(v);
    assert_int_equal(read_int(s, "SELECT count(*) FROM settings"), 1);

    assert_int_equal(hz_store_setting_set(s, "empty", ""), 0);
    assert_int_equal(hz_store_setting_get(s, "empty", &v), 0);
    assert_string_equal(v, "");
    hz_free(v);

    assert_int_equal(hz_store_setting_set(s, "", "x"), HZ_EINVAL);
    assert_int_equal(hz_store_setting_set(s, NULL, "x"), HZ_EINVAL);
    assert_int_equal(hz_store_setting_set(s, "k", NULL), HZ_EINVAL);
    assert_int_equal(hz_store_setting_get(s, NULL, &v), HZ_EINVAL);

    /* set_tx joins the caller's transaction: rolled back with it, committed with it. */
    sqlite3 *db;
    assert_int_equal(hz_store_begin(s, &db), 0);
    assert_int_equal(hz_store_setting_set_tx(s, db, "a", "1"), 0);
    assert_int_equal(hz_store_setting_set_tx(s, db, "b", "2"), 0);
    assert_int_equal(hz_store_setting_get(s, "a", &v), HZ_ENOTFOUND); /* readers see committed data */
    hz_store_rollback(s);
    assert_int_equal(hz_store_setting_get(s, "b", &v), HZ_ENOTFOUND);
    assert_int_equal(hz_store_begin(s, &db), 0);
    assert_int_equal(hz_store_setting_set_tx(s, db, "a", "1"), 0);
    assert_int_equal(hz_store_setting_set_tx(s, db, "b", "2"), 0);
    assert_int_equal(hz_store_commit(s), 0);
    assert_int_equal(hz_store_setting_get(s, "b", &v), 0);
    assert_string_equal(v, "2");
    hz_free(v);
    hz_store_close(s);

    /* Durable across reopen. */
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    assert_int_equal(hz_store_setting_get(s, "api.key_hash", &v), 0);
    assert_string_equal(v, uni);
    hz_free(v);
    hz_store_close(s);
}

/* ---- transactions -------------------------------------------------------------------------- */

static void test_rollback_and_failed_commit(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    exec_tx(s, "CREATE TABLE t (x INTEGER PRIMARY KEY)");

    sqlite3 *db;
    assert_int_equal(hz_store_begin(s, &db), 0);
    raw_exec(db, "INSERT INTO t VALUES (1), (2)");
    assert_int_equal(raw_int(db, "SELECT count(*) FROM t"), 2);
    hz_store_rollback(s);
    assert_int_equal(read_int(s, "SELECT count(*) FROM t"), 0);

    /* The writer was released: another transaction works. */
    exec_tx(s, "INSERT INTO t VALUES (7)");
    assert_int_equal(read_int(s, "SELECT count(*) FROM t"), 1);

    /* A commit that fails (a deferred foreign key) rolls back and releases the writer. */
    exec_tx(s, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
               "CREATE TABLE c (pid INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)");
    assert_int_equal(hz_store_begin(s, &db), 0);
    raw_exec(db, "INSERT INTO c VALUES (99); INSERT INTO t VALUES (8)");
    assert_int_equal(hz_store_commit(s), HZ_EINVAL);
    assert_contains(hz_error_last(), "rolled back");
    assert_contains(hz_error_last(), "FOREIGN KEY");
    assert_int_equal(read_int(s, "SELECT count(*) FROM c"), 0);
    assert_int_equal(read_int(s, "SELECT count(*) FROM t"), 1);
    exec_tx(s, "INSERT INTO t VALUES (9)");
    assert_int_equal(read_int(s, "SELECT count(*) FROM t"), 2);

    /* Rollback after SQLite already ended the transaction itself is harmless. */
    assert_int_equal(hz_store_begin(s, &db), 0);
    raw_exec(db, "INSERT INTO t VALUES (10)");
    assert_int_not_equal(sqlite3_exec(db, "INSERT OR ROLLBACK INTO t VALUES (9)", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    hz_store_rollback(s);
    assert_int_equal(read_int(s, "SELECT count(*) FROM t"), 2);
    hz_store_close(s);
}

static void test_transaction_misuse(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    sqlite3 *db, *db2;
    assert_int_equal(hz_store_commit(s), HZ_ESTATE);
    hz_store_rollback(s); /* logged, ignored */
    sqlite3_stmt *st;
    assert_int_equal(hz_store_begin(s, &db), 0);
    assert_int_equal(hz_store_begin(s, &db2), HZ_ESTATE);
    assert_contains(hz_error_last(), "do not nest");
    assert_int_equal(hz_store_commit(s), 0);
    /* The writer outside a transaction, a reader after release, a foreign connection. */
    assert_int_equal(hz_store_prepare(s, db, "SELECT 1", &st), HZ_ESTATE);
    assert_null(st);
    sqlite3 *r = hz_store_reader_acquire(s);
    hz_store_reader_release(s, r);
    assert_int_equal(hz_store_prepare(s, r, "SELECT 1", &st), HZ_ESTATE);
    hz_store_reader_release(s, r); /* double release: logged, ignored */
    sqlite3 *other = raw_open(f->db);
    assert_int_equal(hz_store_prepare(s, other, "SELECT 1", &st), HZ_EINVAL);
    sqlite3_close(other);
    /* The pool still has all its readers: acquire them all without blocking. */
    sqlite3 *rs[4];
    for (int i = 0; i < 4; i++) assert_non_null(rs[i] = hz_store_reader_acquire(s));
    for (int i = 0; i < 4; i++) hz_store_reader_release(s, rs[i]);
    assert_int_equal(hz_store_begin(NULL, &db), HZ_EINVAL);
    assert_null(hz_store_reader_acquire(NULL));
    hz_store_close(s);
}

/* ---- concurrency -------------------------------------------------------------------------- */

typedef struct {
    hz_store_t *s;
    atomic_int readers_done;
    atomic_int readers_saw_uncommitted;
    atomic_int writer2_in;
    int writer2_rc;
} shared_t;

static void *reader_thread(void *arg) {
    shared_t *sh = arg;
    sqlite3 *db = hz_store_reader_acquire(sh->s);
    sqlite3_stmt *st;
    if (hz_store_prepare(sh->s, db, "SELECT count(*) FROM t", &st) == 0) {
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 0) atomic_fetch_add(&sh->readers_saw_uncommitted, 1);
        hz_store_stmt_done(sh->s, st);
    } else {
        atomic_fetch_add(&sh->readers_saw_uncommitted, 100);
    }
    hz_store_reader_release(sh->s, db);
    atomic_fetch_add(&sh->readers_done, 1);
    return NULL;
}

static void *writer2_thread(void *arg) {
    shared_t *sh = arg;
    sqlite3 *db;
    int rc = hz_store_begin(sh->s, &db);
    atomic_store(&sh->writer2_in, 1);
    if (rc == 0) {
        rc = sqlite3_exec(db, "INSERT INTO t VALUES (2)", NULL, NULL, NULL) == SQLITE_OK ? 0 : HZ_EINTERNAL;
        if (rc == 0) rc = hz_store_commit(sh->s);
        else hz_store_rollback(sh->s);
    }
    sh->writer2_rc = rc;
    return NULL;
}

static bool wait_for(atomic_int *v, int want, int ms) {
    for (int i = 0; i < ms; i++) {
        if (atomic_load(v) >= want) return true;
        hz_sleep_ms(1);
    }
    return atomic_load(v) >= want;
}

static void test_readers_run_while_writer_holds_transaction(void **state) {
    fixture_t *f = *state;
    hz_store_options_t o;
    hz_store_options_default(&o);
    o.readers = 3;
    shared_t sh = {0};
    assert_int_equal(hz_store_open(f->db, &o, &sh.s), 0);
    exec_tx(sh.s, "CREATE TABLE t (x INTEGER PRIMARY KEY)");

    sqlite3 *db;
    assert_int_equal(hz_store_begin(sh.s, &db), 0);
    raw_exec(db, "INSERT INTO t VALUES (1)");

    enum { NR = 6 }; /* more threads than readers: some wait for a connection, none for the writer */
    pthread_t rt[NR], wt;
    for (int i = 0; i < NR; i++) assert_int_equal(pthread_create(&rt[i], NULL, reader_thread, &sh), 0);
    assert_int_equal(pthread_create(&wt, NULL, writer2_thread, &sh), 0);

    /* All readers finish while this thread still holds the write transaction... */
    assert_true(wait_for(&sh.readers_done, NR, 10000));
    assert_int_equal(atomic_load(&sh.readers_saw_uncommitted), 0);
    /* ...and the second writer is still waiting for it. */
    hz_sleep_ms(100);
    assert_int_equal(atomic_load(&sh.writer2_in), 0);
    assert_int_equal(hz_store_commit(sh.s), 0);

    pthread_join(wt, NULL);
    for (int i = 0; i < NR; i++) pthread_join(rt[i], NULL);
    assert_int_equal(sh.writer2_rc, 0);
    assert_int_equal(read_int(sh.s, "SELECT group_concat(x, '') FROM (SELECT x FROM t ORDER BY x)"), 12);
    hz_store_close(sh.s);
}

static void *acquire_one(void *arg) {
    shared_t *sh = arg;
    sqlite3 *db = hz_store_reader_acquire(sh->s);
    atomic_store(&sh->writer2_in, 1);
    hz_store_reader_release(sh->s, db);
    return NULL;
}

static void test_reader_pool_blocks_when_exhausted(void **state) {
    fixture_t *f = *state;
    hz_store_options_t o;
    hz_store_options_default(&o);
    o.readers = 1;
    shared_t sh = {0};
    assert_int_equal(hz_store_open(f->db, &o, &sh.s), 0);
    sqlite3 *db = hz_store_reader_acquire(sh.s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, acquire_one, &sh), 0);
    hz_sleep_ms(100);
    assert_int_equal(atomic_load(&sh.writer2_in), 0);
    hz_store_reader_release(sh.s, db);
    assert_true(wait_for(&sh.writer2_in, 1, 10000));
    pthread_join(th, NULL);
    hz_store_close(sh.s);
}

/* ---- statement cache and errors ---------------------------------------------------------- */

static void test_statement_cache(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    exec_tx(s, "CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)");
    sqlite3 *db;
    assert_int_equal(hz_store_begin(s, &db), 0);

    sqlite3_stmt *a, *b, *c;
    assert_int_equal(hz_store_prepare(s, db, "INSERT INTO t VALUES (?1, ?2)", &a), 0);
    sqlite3_bind_int(a, 1, 1);
    sqlite3_bind_text(a, 2, "one", -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(a), SQLITE_DONE);
    hz_store_stmt_done(s, a);
    assert_int_equal(hz_store_prepare(s, db, "INSERT INTO t VALUES (?1, ?2)", &b), 0);
    assert_ptr_equal(a, b); /* reused, bindings cleared */
    sqlite3_bind_int(b, 1, 2);
    assert_int_equal(sqlite3_step(b), SQLITE_DONE);
    hz_store_stmt_done(s, b);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM t WHERE x = 2 AND y IS NULL"), 1);

    /* Same SQL while it is out: a private statement, so a nested loop works. */
    const char *q = "SELECT x FROM t ORDER BY x";
    assert_int_equal(hz_store_prepare(s, db, q, &a), 0);
    assert_int_equal(hz_store_prepare(s, db, q, &b), 0);
    assert_ptr_not_equal(a, b);
    int pairs = 0;
    while (sqlite3_step(a) == SQLITE_ROW) {
        sqlite3_reset(b);
        while (sqlite3_step(b) == SQLITE_ROW) pairs++;
    }
    assert_int_equal(pairs, 4);
    hz_store_stmt_done(s, b); /* finalized */
    hz_store_stmt_done(s, a);
    assert_int_equal(hz_store_prepare(s, db, q, &c), 0);
    assert_ptr_equal(c, a);
    hz_store_stmt_done(s, c);

    /* More distinct statements than the cache holds: still all work. */
    for (int i = 0; i < HZ_STMT_CACHE_MAX + 40; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        assert_int_equal(hz_store_prepare(s, db, sql, &a), 0);
        assert_int_equal(sqlite3_step(a), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(a, 0), i);
        hz_store_stmt_done(s, a);
    }

    /* Errors: two statements, a syntax error (with its byte offset), nothing at all. */
    assert_int_equal(hz_store_prepare(s, db, "SELECT 1; SELECT 2", &a), HZ_EINVAL);
    assert_contains(hz_error_last(), "more than one statement");
    assert_int_equal(hz_store_prepare(s, db, "SELECT 1;  \n", &a), 0);
    hz_store_stmt_done(s, a);
    assert_int_equal(hz_store_prepare(s, db, "SELECT x FROM t WHERE )", &a), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "syntax error");
    assert_contains(hz_error_last(), "at byte 22");
    assert_int_equal(hz_store_prepare(s, db, "SELEKT 1", &a), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "at byte 0");
    assert_int_equal(hz_store_prepare(s, db, "-- nothing", &a), HZ_EINVAL);
    assert_null(a);

    /* A statement left running is reset at commit, and its cache slot is free again. */
    assert_int_equal(hz_store_prepare(s, db, q, &a), 0);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(hz_store_commit(s), 0);
    assert_false(sqlite3_stmt_busy(a));
    sqlite3 *r = hz_store_reader_acquire(s);
    assert_int_equal(hz_store_prepare(s, r, q, &b), 0);
    assert_int_equal(sqlite3_step(b), SQLITE_ROW);
    hz_store_reader_release(s, r); /* forgotten on a reader: reset so it cannot pin a snapshot */
    assert_false(sqlite3_stmt_busy(b));
    assert_int_equal(hz_store_begin(s, &db), 0);
    assert_int_equal(hz_store_prepare(s, db, q, &c), 0);
    assert_ptr_equal(c, a);
    hz_store_stmt_done(s, c);
    hz_store_rollback(s);
    hz_store_close(s);
}

static void test_error_mapping(void **state) {
    fixture_t *f = *state;
    hz_store_t *s;
    assert_int_equal(hz_store_open(f->db, NULL, &s), 0);
    exec_tx(s, "CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT NOT NULL UNIQUE)");
    sqlite3 *db;
    assert_int_equal(hz_store_begin(s, &db), 0);
    raw_exec(db, "INSERT INTO t VALUES (1, 'a')");
    int rc = sqlite3_exec(db, "INSERT INTO t VALUES (2, 'a')", NULL, NULL, NULL);
    assert_int_equal(hz_store_error(db, rc, "adding a row"), HZ_EEXIST);
    assert_contains(hz_error_last(), "adding a row: UNIQUE constraint failed: t.y");
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (1, 'b')", NULL, NULL, NULL);
    assert_int_equal(hz_store_error(db, rc, "x"), HZ_EEXIST);
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (3, NULL)", NULL, NULL, NULL);
    assert_int_equal(hz_store_error(db, rc, "x"), HZ_EINVAL);
    rc = sqlite3_exec(db, "SELECT * FROM missing", NULL, NULL, NULL);
    assert_int_equal(hz_store_error(db, rc, "x"), HZ_EINTERNAL);
    assert_contains(hz_error_last(), "no such table: missing");
    hz_store_rollback(s);
    hz_store_close(s);

    assert_int_equal(hz_store_error(NULL, SQLITE_BUSY, "waiting"), HZ_EBUSY);
    assert_contains(hz_error_last(), "waiting: database is locked");
    assert_int_equal(hz_store_error(NULL, SQLITE_IOERR_FSYNC, "sync"), HZ_EIO);
    assert_int_equal(hz_store_error(NULL, SQLITE_FULL, "w"), HZ_EIO);
    assert_int_equal(hz_store_error(NULL, SQLITE_NOTADB, "w"), HZ_EPARSE);
    assert_int_equal(hz_store_error(NULL, SQLITE_CORRUPT, "w"), HZ_EPARSE);
    assert_int_equal(hz_store_error(NULL, SQLITE_TOOBIG, "w"), HZ_ETOOBIG);
    assert_int_equal(hz_store_error(NULL, SQLITE_DONE, "w"), HZ_OK);
}

int main(void) {
    FILE *devnull = fopen("/dev/null", "w");
    hz_log_configure("error", HZ_LOG_TEXT, getenv("HZ_TEST_VERBOSE") ? NULL : devnull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_dirs_file_and_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_tightens_existing_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rollback_journal_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_database_file_refused_and_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_applied_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_list_must_be_consecutive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_and_failed_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_run_while_writer_holds_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_pool_blocks_when_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
    fclose(devnull);
    return failed;
}
