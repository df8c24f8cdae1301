/*
 * The settings table: node-wide key/value strings created by migration 1. Reads go through a
 * reader connection so they never wait for a writer; writes are an upsert, so setting a key is
 * one statement whether or not it existed, and updated_at records when it last changed.
 */
#include "store/store_internal.h"

#include <string.h>

static int check_key(const char *key) {
    if (!key || !*key) return hz_error_set(HZ_EINVAL, "setting key is empty");
    return 0;
}

int hz_store_setting_get(hz_store_t *s, const char *key, char **value_out) {
    if (!value_out) return hz_error_set(HZ_EINVAL, "hz_store_setting_get: value_out is NULL");
    *value_out = NULL;
    if (!s) return hz_error_set(HZ_EINVAL, "hz_store_setting_get: store is NULL");
    int rc = check_key(key);
    if (rc) return rc;
    sqlite3 *db = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    rc = hz_store_prepare(s, db, "SELECT value FROM settings WHERE key = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            *value_out = hz_strndup(v ? v : "", (size_t)sqlite3_column_bytes(st, 0));
        } else if (step == SQLITE_DONE) {
            rc = hz_error_set(HZ_ENOTFOUND, "setting \"%s\" is not set", key);
        } else {
            rc = hz_store_error(db, step, "reading a setting");
        }
        hz_store_stmt_done(s, st);
    }
    hz_store_reader_release(s, db);
    return rc;
}

int hz_store_setting_set_tx(hz_store_t *s, sqlite3 *db, const char *key, const char *value) {
    if (!s) return hz_error_set(HZ_EINVAL, "hz_store_setting_set: store is NULL");
    int rc = check_key(key);
    if (rc) return rc;
    if (!value) return hz_error_set(HZ_EINVAL, "setting \"%s\": value is NULL", key);
    sqlite3_stmt *st;
    rc = hz_store_prepare(s, db,
                          "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                          &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, hz_time_now_ms());
    int step = sqlite3_step(st);
    if (step != SQLITE_DONE) rc = hz_store_error(db, step, "writing a setting");
    hz_store_stmt_done(s, st);
    return rc;
}

int hz_store_setting_set(hz_store_t *s, const char *key, const char *value) {
    sqlite3 *db;
    int rc = hz_store_begin(s, &db);
    if (rc) return rc;
    rc = hz_store_setting_set_tx(s, db, key, value);
    if (rc) {
        hz_store_rollback(s);
        return rc;
    }
    return hz_store_commit(s);
}
