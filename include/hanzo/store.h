/*
 * hanzo/store.h - the node's durable state in SQLite.
 *
 * One database file, WAL mode, synchronous=FULL on the write path so that a write whose call
 * returned 0 survives a SIGKILL or power cut. Schema changes are forward-only migrations with
 * consecutive version numbers; the version lives in the database (PRAGMA user_version) and a
 * database newer than this binary is refused rather than misread.
 *
 * Threading: a hz_store_t may be shared by threads. Writes are serialised through one writer
 * connection (SQLite allows one writer anyway); reads use a small pool of reader connections so
 * they run in parallel with the writer under WAL. A connection is only ever used by the thread
 * that holds it (between begin and commit/rollback, or between acquire and release), so its
 * statement cache needs no lock of its own.
 *
 * Every connection has foreign_keys=ON, trusted_schema=OFF, the busy timeout, and SQLite's
 * defensive mode; reader connections are query_only, so a write can only go through the writer.
 */
#ifndef HANZO_STORE_H
#define HANZO_STORE_H

#include <sqlite3.h>

#include "hanzo/base.h"

typedef struct hz_store hz_store_t;

typedef struct hz_store_options {
    bool wal;               /* default true; false uses a rollback journal (readers then wait
                               for commits) */
    int busy_timeout_ms;    /* default 5000; 0 also means the default, negative is invalid */
    int readers;            /* reader connections; default 4; 0 means the default; at most 64 */
} hz_store_options_t;

/* Fill *opts with the defaults (a zeroed struct would mean wal=false). */
void hz_store_options_default(hz_store_options_t *opts);

/* One schema step. Modules contribute their migrations to the table in src/store/schema.c;
 * versions start at 1 and never change once released. */
typedef struct hz_migration {
    int version;
    const char *name;
    const char *sql;
} hz_migration_t;

/* Open (creating if needed) the database at path and bring its schema up to date in one
 * transaction per migration. opts may be NULL. The parent directory is created (mode 0700) when
 * missing and the database file is given mode 0600. HZ_EVERSION when the file's schema is newer
 * than this binary knows, HZ_EPARSE for a file that is not a SQLite database (such a file is
 * never written to), HZ_EIO when the file or directory cannot be used, HZ_EBUSY when another
 * process holds the write lock longer than the busy timeout. */
int hz_store_open(const char *path, const hz_store_options_t *opts, hz_store_t **out);
/* Checkpoint the WAL and close every connection. Safe with NULL. No thread may hold the writer
 * or a reader while the store closes. */
void hz_store_close(hz_store_t *store);

/* The schema version of the database file (>= 0), or a negative HZ_E* code. */
int hz_store_schema_version(hz_store_t *store);
/* The newest schema version this binary knows. */
int hz_store_schema_latest(void);
/* The path the store was opened with. */
const char *hz_store_path(hz_store_t *store);

/* Small key/value settings table (node identity, the API key hash, ...). Values are owned
 * strings (hz_free). HZ_ENOTFOUND when absent. get reads committed data through a reader, so
 * inside a write transaction it does not see that transaction's own changes. */
int hz_store_setting_get(hz_store_t *store, const char *key, char **value_out);
/* Set one setting in its own durable transaction. */
int hz_store_setting_set(hz_store_t *store, const char *key, const char *value);
/* Set a setting inside the write transaction the calling thread holds (db from
 * hz_store_begin), so it commits or rolls back together with the caller's other writes. */
int hz_store_setting_set_tx(hz_store_t *store, sqlite3 *db, const char *key, const char *value);

/* Write transactions (BEGIN IMMEDIATE). Between begin and commit the calling thread holds the
 * writer; a commit that returns 0 is durable. A commit that fails has rolled the transaction
 * back. Either way the writer is released, so always pair begin with exactly one commit or
 * rollback. A nested begin on the same thread, or commit/rollback from a thread that does not
 * hold the writer, is HZ_ESTATE (rollback logs it). */
int hz_store_begin(hz_store_t *store, sqlite3 **db_out);
int hz_store_commit(hz_store_t *store);
void hz_store_rollback(hz_store_t *store);

/* Read access: borrow a reader connection (blocks while all are busy) and give it back. A
 * transaction left open on it is rolled back on release and a statement left running is reset,
 * so a forgotten statement cannot pin an old WAL snapshot. Never NULL for a valid store. */
sqlite3 *hz_store_reader_acquire(hz_store_t *store);
void hz_store_reader_release(hz_store_t *store, sqlite3 *db);

/* Prepared statements from the per-connection cache. db is a connection the calling thread
 * holds (writer or reader of this store). The statement is compiled on first use and then
 * reused; hand it back with hz_store_stmt_done (which resets it and clears its bindings) and
 * never finalize it yourself. If the same SQL is already handed out, or the cache is full, a
 * private statement is made instead and stmt_done finalizes it, so nesting is safe. */
int hz_store_prepare(hz_store_t *store, sqlite3 *db, const char *sql, sqlite3_stmt **out);
void hz_store_stmt_done(hz_store_t *store, sqlite3_stmt *stmt);

/* Map an SQLite result code to an HZ_E* code with a message naming `what`:
 * BUSY/LOCKED -> HZ_EBUSY, NOTADB/CORRUPT/FORMAT -> HZ_EPARSE, UNIQUE/PRIMARY KEY -> HZ_EEXIST,
 * other constraints, MISMATCH, RANGE -> HZ_EINVAL, TOOBIG -> HZ_ETOOBIG, NOMEM -> HZ_ENOMEM,
 * IOERR, FULL, CANTOPEN, READONLY, PERM -> HZ_EIO, AUTH -> HZ_EAUTH, INTERRUPT/ABORT ->
 * HZ_ECLOSED, SQL errors and misuse -> HZ_EINTERNAL. The message keeps SQLite's text and, for a
 * syntax error, the byte offset in the SQL. db may be NULL. HZ_OK for SQLITE_OK/ROW/DONE. */
int hz_store_error(sqlite3 *db, int rc, const char *what);

#endif
