/*
 * The migration runner. The schema version is PRAGMA user_version, a 32-bit integer in the
 * database header, which SQLite writes inside the transaction like any other page: putting the
 * migration's SQL and the version bump in one transaction means a crash leaves either the old
 * schema with the old version or the new schema with the new one, never a mix. Each migration
 * takes the write lock (BEGIN IMMEDIATE) and reads the version again under it, so two processes
 * opening the same new database at once do not both apply a step.
 *
 * Migrations run with foreign_keys OFF, the setting SQLite's documented table-rebuild procedure
 * needs (it can only change outside a transaction), and PRAGMA foreign_key_check runs before
 * each commit so a migration cannot leave dangling references behind.
 */
#include "store/store_internal.h"

#include <string.h>

static int exec(sqlite3 *db, const char *sql, const char *what) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : hz_store_error(db, rc, what);
}

static int check_list(const hz_migration_t *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (list[i].version != (int)i + 1)
            return hz_error_set(HZ_EINTERNAL,
                                "migration table entry %zu has version %d, expected %zu "
                                "(versions must be consecutive from 1)", i, list[i].version, i + 1);
        if (!list[i].name || !list[i].sql)
            return hz_error_set(HZ_EINTERNAL, "migration %d has no name or no SQL", list[i].version);
    }
    return 0;
}

static int foreign_key_check(sqlite3 *db, const hz_migration_t *m) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc != SQLITE_OK) return hz_store_error(db, rc, "PRAGMA foreign_key_check");
    rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        const char *parent = (const char *)sqlite3_column_text(st, 2);
        err = hz_error_set(HZ_EINTERNAL,
                           "migration %d (%s) leaves a foreign key violation: row %lld of table %s "
                           "refers to a missing row of %s",
                           m->version, m->name, (long long)sqlite3_column_int64(st, 1),
                           table ? table : "?", parent ? parent : "?");
    } else if (rc != SQLITE_DONE) {
        err = hz_store_error(db, rc, "PRAGMA foreign_key_check");
    }
    sqlite3_finalize(st);
    return err;
}

static int apply_one(sqlite3 *db, const char *label, const hz_migration_t *m) {
    int rc = exec(db, "BEGIN IMMEDIATE", "starting a migration transaction");
    if (rc) return rc;
    int64_t cur;
    rc = hz_store_query_int(db, "PRAGMA user_version", &cur);
    if (rc == 0 && cur >= m->version) {  /* another process got there first */
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return 0;
    }
    if (rc == 0 && cur != m->version - 1)
        rc = hz_error_set(HZ_EINTERNAL, "%s: schema version %lld, cannot apply migration %d next",
                          label, (long long)cur, m->version);
    if (rc == 0) rc = exec(db, m->sql, "SQL");
    if (rc == 0) rc = foreign_key_check(db, m);
    if (rc == 0) {
        char bump[48];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", m->version);
        rc = exec(db, bump, bump);
    }
    if (rc == 0) rc = exec(db, "COMMIT", "COMMIT");
    if (rc) {
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return hz_error_wrap(rc, "%s: migration %d (%s) failed and was rolled back", label,
                             m->version, m->name);
    }
    hz_log_info("store", "%s: applied migration %d (%s)", label, m->version, m->name);
    return 0;
}

int hz_store_check_version(const char *label, int64_t version, int latest) {
    if (version < 0)
        return hz_error_set(HZ_EVERSION, "%s has schema version %lld; hanzo never writes a negative version, "
                            "so this database belongs to another program", label, (long long)version);
    if (version <= latest) return 0;
    return hz_error_set(HZ_EVERSION,
                        "%s has schema version %lld, but this hanzo %s knows schema versions up to %d; "
                        "refusing to open a database written by a newer hanzo (upgrade hanzo)",
                        label, (long long)version, HZ_VERSION, latest);
}

int hz_store_migrate(sqlite3 *db, const char *label, const hz_migration_t *list, size_t n) {
    int rc = check_list(list, n);
    if (rc) return rc;
    int latest = n ? list[n - 1].version : 0;
    int64_t version;
    rc = hz_store_query_int(db, "PRAGMA user_version", &version);
    if (rc) return hz_error_wrap(rc, "%s: reading the schema version", label);
    rc = hz_store_check_version(label, version, latest);
    if (rc || version == latest) return rc;

    rc = exec(db, "PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = OFF");
    if (rc) return rc;
    for (size_t i = (size_t)version; i < n && rc == 0; i++) rc = apply_one(db, label, &list[i]);
    int restore = exec(db, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys = ON");
    if (rc) return rc;
    if (restore) return restore;

    rc = hz_store_query_int(db, "PRAGMA user_version", &version);
    if (rc) return rc;
    return hz_store_check_version(label, version, latest);  /* a newer process may have raced us */
}
