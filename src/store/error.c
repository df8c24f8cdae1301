/*
 * SQLite result codes to HZ_E* codes. Callers above the store speak only HZ_E*, so the mapping
 * decides what an API user eventually sees (409 for a duplicate, 503 for busy, 500 for a bug in
 * our SQL). The message keeps SQLite's own text, its code name and, for a syntax error, the byte
 * offset into the SQL, because that is what a person needs to find the fault.
 */
#include "store/store_internal.h"

#include <string.h>

static int map_code(int rc) {
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return HZ_EEXIST;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HZ_EBUSY;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
        return HZ_EPARSE;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return HZ_EINVAL;
    case SQLITE_TOOBIG:
        return HZ_ETOOBIG;
    case SQLITE_NOMEM:
        return HZ_ENOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
        return HZ_EIO;
    case SQLITE_AUTH:
        return HZ_EAUTH;
    case SQLITE_INTERRUPT:
    case SQLITE_ABORT:
        return HZ_ECLOSED;
    default:
        return HZ_EINTERNAL;
    }
}

int hz_store_error(sqlite3 *db, int rc, const char *what) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return HZ_OK;
    int code = map_code(rc);
    if (!what) what = "database";
    const char *errstr = sqlite3_errstr(rc);
    /* The handle's message describes its latest failing call; trust it only when its code
     * agrees with rc, else it may be about something else entirely. */
    if (db && sqlite3_extended_errcode(db) == rc) {
        const char *msg = sqlite3_errmsg(db);
        int offset = sqlite3_error_offset(db);
        if (offset >= 0) return hz_error_set(code, "%s: %s (at byte %d of the SQL)", what, msg, offset);
        if (strcmp(msg, errstr) == 0) return hz_error_set(code, "%s: %s", what, msg);
        return hz_error_set(code, "%s: %s (%s)", what, msg, errstr);
    }
    return hz_error_set(code, "%s: %s (SQLite code %d)", what, errstr, rc);
}

int hz_store_query_int(sqlite3 *db, const char *sql, int64_t *out) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return hz_store_error(db, rc, sql);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    int err = rc == SQLITE_OK ? 0 : hz_store_error(db, rc, sql);
    sqlite3_finalize(st);
    return err;
}
