/*
 * store_internal.h - what the files of src/store share and nobody else sees.
 *
 * A connection (hz_conn_t) is an sqlite3 handle plus its statement cache. The store owns one
 * writer connection behind a mutex and a pool of reader connections behind a second mutex and
 * a condition variable. The holder of each connection is recorded as a kernel thread id, so
 * commit, rollback and prepare can tell a misuse (wrong thread, no begin, a reader used after
 * release) from correct use without touching a mutex.
 */
#ifndef HZ_STORE_INTERNAL_H
#define HZ_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "hanzo/store.h"

#define HZ_STORE_MAX_READERS 64
/* Distinct SQL texts cached per connection. The program's SQL is a fixed set of literals, far
 * below this; the cap only bounds memory when a caller builds SQL dynamically. */
#define HZ_STMT_CACHE_MAX 256

typedef struct hz_stmt_slot {
    uint64_t hash;       /* FNV-1a of sql */
    char *sql;           /* the caller's text, the key */
    sqlite3_stmt *stmt;  /* NULL: empty slot */
    bool in_use;         /* handed out and not yet done */
} hz_stmt_slot_t;

/* A statement made outside the cache (same SQL already out, or cache full). */
typedef struct hz_conn_private {
    sqlite3_stmt *stmt;
    struct hz_conn_private *next;
} hz_conn_private_t;

typedef struct hz_conn {
    sqlite3 *db;
    hz_stmt_slot_t *slots;  /* open addressing, power-of-two capacity */
    size_t cap, count;
    hz_conn_private_t *privates;
    _Atomic pid_t owner;  /* gettid() of the thread holding the connection; 0 when free */
} hz_conn_t;

struct hz_store {
    char *path;
    bool ready;  /* fully opened; until then close must not checkpoint (the file may not be ours) */
    hz_conn_t writer;
    pthread_mutex_t write_mu;  /* held from begin to commit/rollback */

    hz_conn_t *readers;
    int n_readers;
    int *free_readers;  /* stack of indexes into readers */
    int n_free;
    pthread_mutex_t read_mu;
    pthread_cond_t read_cv;
};

/* file.c: make the directory, refuse a file that is not SQLite, create the file 0600. */
int hz_store_prepare_file(const char *path);
/* file.c: chmod 0600 the database and its companions, once SQLite has accepted the file. */
void hz_store_restrict_modes(const char *path);

/* migrate.c: bring db (the writer, outside any transaction) up to the newest version in
 * list[0..n). `label` names the database in messages. */
int hz_store_migrate(sqlite3 *db, const char *label, const hz_migration_t *list, size_t n);
/* HZ_EVERSION naming both versions when version is not one this list (newest: latest) knows. */
int hz_store_check_version(const char *label, int64_t version, int latest);
/* schema.c: the product's migrations. */
const hz_migration_t *hz_store_migrations(size_t *n_out);

/* stmt.c */
int hz_conn_prepare(hz_conn_t *c, const char *sql, sqlite3_stmt **out);
/* Hand back a statement of c: reset a cached one, finalize a private one. */
void hz_conn_stmt_done(hz_conn_t *c, sqlite3_stmt *stmt);
/* Reset every statement still running on c and mark all cached ones free (end of a borrow). */
void hz_conn_reset_all(hz_conn_t *c, const char *why);
/* Finalize the cache and close the handle. */
void hz_conn_close(hz_conn_t *c);

/* Run one SQL statement that returns at most one integer (PRAGMA user_version and friends). */
int hz_store_query_int(sqlite3 *db, const char *sql, int64_t *out);

#endif
