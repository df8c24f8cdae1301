/*
 * The store's connections and who may use them.
 *
 * SQLite serialises writers per database anyway, so the store keeps exactly one writer
 * connection behind a mutex that hz_store_begin takes and commit/rollback release; BEGIN
 * IMMEDIATE then takes SQLite's write lock at once, so a transaction never fails halfway with
 * SQLITE_BUSY because another process started writing (it waits up to the busy timeout at begin
 * instead). Readers are a fixed pool handed out under a second mutex; in WAL mode they read the
 * last committed snapshot while the writer works. Connections are opened with NOMUTEX: our own
 * locking already guarantees one thread per connection, so SQLite's per-call mutex would be
 * pure cost.
 *
 * Durability: journal_mode=WAL with synchronous=FULL fsyncs the WAL at every commit, which is
 * what lets a commit that returned 0 survive a power cut (NORMAL would only survive a crash of
 * the process). Every connection also gets foreign_keys=ON, trusted_schema=OFF and SQLite's
 * defensive mode, since the file lives in a user-writable directory; readers are query_only so
 * a write can never bypass the writer mutex.
 */
#include "store/store_internal.h"

#include <string.h>
#include <unistd.h>

void hz_store_options_default(hz_store_options_t *opts) {
    opts->wal = true;
    opts->busy_timeout_ms = 5000;
    opts->readers = 4;
}

static int exec(sqlite3 *db, const char *sql) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : hz_store_error(db, rc, sql);
}

static int conn_open(hz_conn_t *c, const char *path, const hz_store_options_t *o, bool reader) {
    memset(c, 0, sizeof(*c));
    /* No SQLITE_OPEN_CREATE: file.c made the file with the right mode, so a file that vanished
     * in between is an error rather than a new database with the umask's mode. */
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
    if (rc != SQLITE_OK) {
        int err = hz_store_error(c->db, rc, "opening the database");
        sqlite3_close(c->db);
        c->db = NULL;
        return hz_error_wrap(err, "%s", path);
    }
    sqlite3_busy_timeout(c->db, o->busy_timeout_ms);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);  /* "x" is a name, not a string */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    /* The first read of the header: a file SQLite cannot parse (NOTADB) is refused here,
     * before any pragma or write could touch it. */
    int64_t ignored;
    rc = hz_store_query_int(c->db, "PRAGMA schema_version", &ignored);
    if (rc) return hz_error_wrap(rc, "%s: refusing to open it", path);
    rc = exec(c->db, "PRAGMA foreign_keys = ON");
    if (!rc) rc = exec(c->db, "PRAGMA synchronous = FULL");
    if (!rc && reader) rc = exec(c->db, "PRAGMA query_only = ON");
    if (rc) return hz_error_wrap(rc, "%s", path);
    return 0;
}

static int set_journal_mode(sqlite3 *db, const char *path, bool wal) {
    const char *want = wal ? "wal" : "delete";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, wal ? "PRAGMA journal_mode = WAL" : "PRAGMA journal_mode = DELETE", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(st, 0);
        if (!got || strcmp(got, want) != 0)
            err = hz_error_set(HZ_EIO, "%s: journal_mode is \"%s\" after asking for \"%s\" (WAL needs a local "
                               "file system with shared memory)", path, got ? got : "", want);
    } else {
        err = hz_error_wrap(hz_store_error(db, rc, "setting journal_mode"), "%s", path);
    }
    sqlite3_finalize(st);
    return err;
}

static int open_writer(hz_store_t *s, const hz_store_options_t *o) {
    int rc = conn_open(&s->writer, s->path, o, false);
    if (rc) return rc;
    /* A schema newer than ours is refused while the file is still untouched. */
    int64_t version;
    rc = hz_store_query_int(s->writer.db, "PRAGMA user_version", &version);
    if (rc) return hz_error_wrap(rc, "%s: reading the schema version", s->path);
    rc = hz_store_check_version(s->path, version, hz_store_schema_latest());
    if (rc) return rc;
    hz_store_restrict_modes(s->path);
    rc = set_journal_mode(s->writer.db, s->path, o->wal);
    /* Bound the WAL file after a burst; checkpoints truncate it back to this. */
    if (!rc) rc = exec(s->writer.db, "PRAGMA journal_size_limit = 67108864");
    if (!rc) {
        size_t n;
        const hz_migration_t *list = hz_store_migrations(&n);
        rc = hz_store_migrate(s->writer.db, s->path, list, n);
    }
    return rc;
}

int hz_store_open(const char *path, const hz_store_options_t *opts, hz_store_t **out) {
    if (!out) return hz_error_set(HZ_EINVAL, "hz_store_open: out is NULL");
    *out = NULL;
    hz_store_options_t o;
    hz_store_options_default(&o);
    if (opts) {
        if (opts->busy_timeout_ms < 0)
            return hz_error_set(HZ_EINVAL, "store option busy_timeout_ms is %d; must be >= 0", opts->busy_timeout_ms);
        if (opts->readers < 0 || opts->readers > HZ_STORE_MAX_READERS)
            return hz_error_set(HZ_EINVAL, "store option readers is %d; must be 0..%d", opts->readers,
                                HZ_STORE_MAX_READERS);
        o.wal = opts->wal;
        if (opts->busy_timeout_ms) o.busy_timeout_ms = opts->busy_timeout_ms;
        if (opts->readers) o.readers = opts->readers;
    }
    int rc = hz_store_prepare_file(path);
    if (rc) return rc;

    hz_store_t *s = hz_calloc(1, sizeof(*s));
    s->path = hz_strdup(path);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->read_mu, NULL);
    pthread_cond_init(&s->read_cv, NULL);
    s->readers = hz_calloc((size_t)o.readers, sizeof(*s->readers));
    s->free_readers = hz_calloc((size_t)o.readers, sizeof(*s->free_readers));

    rc = open_writer(s, &o);
    /* Readers come after the writer has set WAL mode and migrated, so they never see an old
     * schema and never race the journal-mode change. */
    for (int i = 0; rc == 0 && i < o.readers; i++) {
        rc = conn_open(&s->readers[i], s->path, &o, true);
        s->n_readers = i + 1;  /* close what was opened, even the one that failed */
        s->free_readers[s->n_free++] = i;
    }
    if (rc) {
        hz_store_close(s);
        return rc;
    }
    hz_log_debug("store", "opened %s (schema version %d, %d readers, %s)", path, hz_store_schema_latest(),
                 o.readers, o.wal ? "WAL" : "rollback journal");
    s->ready = true;
    *out = s;
    return 0;
}

void hz_store_close(hz_store_t *s) {
    if (!s) return;
    for (int i = 0; i < s->n_readers; i++) hz_conn_close(&s->readers[i]);
    if (s->writer.db && s->ready) {
        /* The last connection to close checkpoints anyway; doing it explicitly with TRUNCATE
         * leaves a zero-length WAL even when another process keeps the database open. */
        int rc = sqlite3_exec(s->writer.db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            hz_log_debug("store", "%s: checkpoint at close: %s", s->path, sqlite3_errmsg(s->writer.db));
    }
    hz_conn_close(&s->writer);
    pthread_cond_destroy(&s->read_cv);
    pthread_mutex_destroy(&s->read_mu);
    pthread_mutex_destroy(&s->write_mu);
    hz_free(s->readers);
    hz_free(s->free_readers);
    hz_free(s->path);
    hz_free(s);
}

const char *hz_store_path(hz_store_t *s) { return s ? s->path : NULL; }

/* ---- write transactions ----------------------------------------------------------------- */

int hz_store_begin(hz_store_t *s, sqlite3 **db_out) {
    if (!s || !db_out) return hz_error_set(HZ_EINVAL, "hz_store_begin: store or db_out is NULL");
    *db_out = NULL;
    pid_t me = gettid();
    if (atomic_load(&s->writer.owner) == me)
        return hz_error_set(HZ_ESTATE, "hz_store_begin: this thread is already in a write transaction on %s "
                            "(transactions do not nest)", s->path);
    pthread_mutex_lock(&s->write_mu);
    int rc = sqlite3_exec(s->writer.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int err = hz_store_error(s->writer.db, rc, "BEGIN IMMEDIATE");
        pthread_mutex_unlock(&s->write_mu);
        return hz_error_wrap(err, "%s", s->path);
    }
    atomic_store(&s->writer.owner, me);
    *db_out = s->writer.db;
    return 0;
}

static void release_writer(hz_store_t *s) {
    atomic_store(&s->writer.owner, 0);
    pthread_mutex_unlock(&s->write_mu);
}

int hz_store_commit(hz_store_t *s) {
    if (!s) return hz_error_set(HZ_EINVAL, "hz_store_commit: store is NULL");
    if (atomic_load(&s->writer.owner) != gettid())
        return hz_error_set(HZ_ESTATE, "hz_store_commit: this thread has no write transaction on %s", s->path);
    sqlite3 *db = s->writer.db;
    hz_conn_reset_all(&s->writer, "commit");
    int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    int err = 0;
    if (rc != SQLITE_OK) {
        /* e.g. a deferred foreign key, or the disk is full. SQLite may keep the transaction
         * open after a failed COMMIT; the contract says a failed commit is rolled back. */
        err = hz_store_error(db, rc, "COMMIT");
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        err = hz_error_wrap(err, "%s: commit failed, the transaction was rolled back", s->path);
    }
    release_writer(s);
    return err;
}

void hz_store_rollback(hz_store_t *s) {
    if (!s) return;
    if (atomic_load(&s->writer.owner) != gettid()) {
        hz_log_error("store", "hz_store_rollback: this thread has no write transaction on %s; ignored", s->path);
        return;
    }
    hz_conn_reset_all(&s->writer, "rollback");
    /* A statement error may already have rolled the transaction back (autocommit is on again). */
    if (!sqlite3_get_autocommit(s->writer.db)) {
        int rc = sqlite3_exec(s->writer.db, "ROLLBACK", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            hz_log_error("store", "%s: ROLLBACK failed: %s", s->path, sqlite3_errmsg(s->writer.db));
    }
    release_writer(s);
}

/* ---- readers ------------------------------------------------------------------------------ */

sqlite3 *hz_store_reader_acquire(hz_store_t *s) {
    if (!s) return NULL;
    pthread_mutex_lock(&s->read_mu);
    while (s->n_free == 0) pthread_cond_wait(&s->read_cv, &s->read_mu);
    int i = s->free_readers[--s->n_free];
    pthread_mutex_unlock(&s->read_mu);
    atomic_store(&s->readers[i].owner, gettid());
    return s->readers[i].db;
}

static int reader_index(hz_store_t *s, sqlite3 *db) {
    for (int i = 0; i < s->n_readers; i++)
        if (s->readers[i].db == db) return i;
    return -1;
}

void hz_store_reader_release(hz_store_t *s, sqlite3 *db) {
    if (!s || !db) return;
    int i = reader_index(s, db);
    if (i < 0 || atomic_load(&s->readers[i].owner) == 0) {
        hz_log_error("store", "hz_store_reader_release: connection %p is not a borrowed reader of %s; ignored",
                     (void *)db, s->path);
        return;
    }
    hz_conn_reset_all(&s->readers[i], "reader release");
    if (!sqlite3_get_autocommit(db)) {
        hz_log_warn("store", "%s: reader released inside a transaction; rolled back", s->path);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    atomic_store(&s->readers[i].owner, 0);
    pthread_mutex_lock(&s->read_mu);
    s->free_readers[s->n_free++] = i;
    pthread_cond_signal(&s->read_cv);
    pthread_mutex_unlock(&s->read_mu);
}

/* ---- statements and small queries -------------------------------------------------------- */

/* The connection db of this store, provided the calling thread holds it. */
static int held_conn(hz_store_t *s, sqlite3 *db, hz_conn_t **out) {
    hz_conn_t *c = NULL;
    if (db && db == s->writer.db) {
        c = &s->writer;
    } else {
        int i = db ? reader_index(s, db) : -1;
        if (i < 0) return hz_error_set(HZ_EINVAL, "connection %p does not belong to the store %s", (void *)db, s->path);
        c = &s->readers[i];
    }
    if (atomic_load(&c->owner) != gettid())
        return hz_error_set(HZ_ESTATE, "%s connection of %s used by a thread that does not hold it",
                            c == &s->writer ? "writer" : "reader", s->path);
    *out = c;
    return 0;
}

int hz_store_prepare(hz_store_t *s, sqlite3 *db, const char *sql, sqlite3_stmt **out) {
    if (!out) return hz_error_set(HZ_EINVAL, "hz_store_prepare: out is NULL");
    *out = NULL;
    if (!s) return hz_error_set(HZ_EINVAL, "hz_store_prepare: store is NULL");
    hz_conn_t *c;
    int rc = held_conn(s, db, &c);
    return rc ? rc : hz_conn_prepare(c, sql, out);
}

void hz_store_stmt_done(hz_store_t *s, sqlite3_stmt *stmt) {
    if (!s || !stmt) return;
    hz_conn_t *c;
    if (held_conn(s, sqlite3_db_handle(stmt), &c) != 0) {
        hz_log_error("store", "hz_store_stmt_done: %s", hz_error_last());
        return;
    }
    hz_conn_stmt_done(c, stmt);
}

int hz_store_schema_version(hz_store_t *s) {
    if (!s) return hz_error_set(HZ_EINVAL, "hz_store_schema_version: store is NULL");
    sqlite3 *db = hz_store_reader_acquire(s);
    int64_t v = 0;
    int rc = hz_store_query_int(db, "PRAGMA user_version", &v);
    hz_store_reader_release(s, db);
    return rc ? rc : (int)v;
}
