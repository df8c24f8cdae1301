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
 * they run in parallel with the writer under WAL.
 */
#ifndef HANZO_STORE_H
#define HANZO_STORE_H

#include <sqlite3.h>

#include "hanzo/base.h"

typedef struct hz_store hz_store_t;

typedef struct hz_store_options {
    bool wal;               /* default true */
    int busy_timeout_ms;    /* default 5000 */
    int readers;            /* reader connections; default 4 */
} hz_store_options_t;

/* One schema step. Modules contribute their migrations to the table in src/store/schema.c;
 * versions start at 1 and never change once released. */
typedef struct hz_migration {
    int version;
    const char *name;
    const char *sql;
} hz_migration_t;

/* Open (creating if needed) the database at path and bring its schema up to date in one
 * transaction per migration. opts may be NULL. HZ_EVERSION when the file's schema is newer
 * than this binary knows, HZ_EIO/HZ_EPARSE for a file that is not a usable SQLite database. */
int hz_store_open(const char *path, const hz_store_options_t *opts, hz_store_t **out);
/* Checkpoint the WAL and close every connection. Safe with NULL. */
void hz_store_close(hz_store_t *store);

int hz_store_schema_version(hz_store_t *store);
/* The newest schema version this binary knows. */
int hz_store_schema_latest(void);

/* Small key/value settings table (node identity, the API key hash, ...). Values are owned
 * strings (hz_free). HZ_ENOTFOUND when absent. */
int hz_store_setting_get(hz_store_t *store, const char *key, char **value_out);
int hz_store_setting_set(hz_store_t *store, const char *key, const char *value);

/* Write transactions. Between begin and commit the calling thread holds the writer; a commit
 * that returns 0 is durable. Always pair begin with commit or rollback. */
int hz_store_begin(hz_store_t *store, sqlite3 **db_out);
int hz_store_commit(hz_store_t *store);
void hz_store_rollback(hz_store_t *store);

/* Read access: borrow a reader connection (blocks while all are busy) and give it back. */
sqlite3 *hz_store_reader_acquire(hz_store_t *store);
void hz_store_reader_release(hz_store_t *store, sqlite3 *db);

/* Map an SQLite result code to an HZ_E* code with a message naming `what`. */
int hz_store_error(sqlite3 *db, int rc, const char *what);

#endif
