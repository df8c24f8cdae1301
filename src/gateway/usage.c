/*
 * Usage accounting: one row per model request in the store's usage table, and the totals the
 * /v2/usage endpoint reports over a time range.
 *
 * Rows are appended in their own durable transaction (the store's writer serialises them), so
 * a request that was answered is accounted even if the node dies a moment later. Queries run on
 * a reader connection, in parallel with the writer, and filter on the indexed ts_ms column; the
 * grouping column is one of a fixed set of SQL expressions, never text from the request, so the
 * statement cache sees at most five statements. Days are UTC calendar days.
 */
#include <string.h>

#include "gw_internal.h"
#include "hanzo/store.h"

int hz_gw_usage_record(struct hz_store *store, const hz_gw_usage_record_t *rec) {
    if (!store || !rec) return hz_error_set(HZ_EINVAL, "usage record: no store or record");
    sqlite3 *db;
    int rc = hz_store_begin(store, &db);
    if (rc) return hz_error_wrap(rc, "usage record");
    sqlite3_stmt *st;
    rc = hz_store_prepare(store, db,
                          "INSERT INTO usage (ts_ms, key_id, endpoint, model, provider, upstream_model, status, "
                          "prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                          &st);
    if (rc) {
        hz_store_rollback(store);
        return rc;
    }
    sqlite3_bind_int64(st, 1, rec->ts_ms ? rec->ts_ms : hz_time_now_ms());
    sqlite3_bind_text(st, 2, rec->key_id ? rec->key_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, rec->endpoint ? rec->endpoint : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, rec->model ? rec->model : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, rec->provider ? rec->provider : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, rec->upstream_model ? rec->upstream_model : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, rec->status);
    sqlite3_bind_int64(st, 8, rec->usage.prompt_tokens);
    sqlite3_bind_int64(st, 9, rec->usage.completion_tokens);
    sqlite3_bind_int64(st, 10, rec->usage.cached_tokens);
    sqlite3_bind_double(st, 11, rec->latency_ms);
    sqlite3_bind_double(st, 12, rec->ttft_ms);
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : hz_store_error(db, src, "usage insert");
    hz_store_stmt_done(store, st);
    if (rc) {
        hz_store_rollback(store);
        return rc;
    }
    return hz_store_commit(store);
}

/* The aggregate columns every query returns after its (optional) group key. */
#define USAGE_AGG                                                                          \
    "COUNT(*), TOTAL(prompt_tokens), TOTAL(completion_tokens), TOTAL(cached_tokens), "     \
    "TOTAL(status >= 400), AVG(latency_ms), AVG(ttft_ms) FROM usage WHERE ts_ms >= ?1 AND ts_ms < ?2"

static const struct {
    const char *name;
    const char *sql;
} GROUPS[] = {
    {"model", "SELECT model, " USAGE_AGG " GROUP BY 1 ORDER BY 1"},
    {"provider", "SELECT provider, " USAGE_AGG " GROUP BY 1 ORDER BY 1"},
    {"key", "SELECT key_id, " USAGE_AGG " GROUP BY 1 ORDER BY 1"},
    {"day", "SELECT strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch'), " USAGE_AGG " GROUP BY 1 ORDER BY 1"},
};

/* Columns from `col` on: the aggregates of USAGE_AGG, as one JSON object. */
static json_object *agg_json(sqlite3_stmt *st, int col) {
    json_object *o = json_object_new_object();
    int64_t prompt = (int64_t)sqlite3_column_double(st, col + 1);
    int64_t completion = (int64_t)sqlite3_column_double(st, col + 2);
    json_object_object_add(o, "requests", json_object_new_int64(sqlite3_column_int64(st, col)));
    json_object_object_add(o, "prompt_tokens", json_object_new_int64(prompt));
    json_object_object_add(o, "completion_tokens", json_object_new_int64(completion));
    json_object_object_add(o, "total_tokens", json_object_new_int64(prompt + completion));
    json_object_object_add(o, "cached_tokens", json_object_new_int64((int64_t)sqlite3_column_double(st, col + 3)));
    json_object_object_add(o, "errors", json_object_new_int64((int64_t)sqlite3_column_double(st, col + 4)));
    /* AVG over no rows is NULL: report 0 rather than a null the client must special-case */
    json_object_object_add(o, "avg_latency_ms", json_object_new_double(sqlite3_column_double(st, col + 5)));
    json_object_object_add(o, "avg_ttft_ms", json_object_new_double(sqlite3_column_double(st, col + 6)));
    return o;
}

static int run(hz_store_t *store, sqlite3 *db, const char *sql, int64_t lo, int64_t hi, bool grouped,
               json_object *into_arr, json_object **into_obj) {
    sqlite3_stmt *st;
    int rc = hz_store_prepare(store, db, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (!grouped) {
            *into_obj = agg_json(st, 0);
            continue;
        }
        json_object *g = agg_json(st, 1);
        const char *key = (const char *)sqlite3_column_text(st, 0);
        /* "key" first, for people reading the JSON */
        json_object *row = json_object_new_object();
        json_object_object_add(row, "key", json_object_new_string(key ? key : ""));
        json_object_object_foreach(g, k, v) json_object_object_add(row, k, json_object_get(v));
        json_object_put(g);
        json_object_array_add(into_arr, row);
    }
    rc = src == SQLITE_DONE ? 0 : hz_store_error(db, src, "usage query");
    hz_store_stmt_done(store, st);
    return rc;
}

int hz_gw_usage_query(struct hz_store *store, int64_t from_ms, int64_t to_ms, const char *group_by,
                      json_object **out) {
    *out = NULL;
    if (!store) return hz_error_set(HZ_EINVAL, "usage query: no store");
    const char *group_sql = NULL;
    if (group_by && *group_by) {
        for (size_t i = 0; i < sizeof(GROUPS) / sizeof(GROUPS[0]); i++)
            if (strcmp(group_by, GROUPS[i].name) == 0) group_sql = GROUPS[i].sql;
        if (!group_sql)
            return hz_error_set(HZ_EINVAL, "group_by: unknown grouping \"%s\" (known: model, provider, key, day)",
                                group_by);
    }
    if (from_ms && to_ms && to_ms < from_ms)
        return hz_error_set(HZ_EINVAL, "to: %lld is before from: %lld", (long long)to_ms, (long long)from_ms);
    int64_t lo = from_ms ? from_ms : INT64_MIN, hi = to_ms ? to_ms : INT64_MAX;

    json_object *groups = json_object_new_array();
    json_object *total = NULL;
    sqlite3 *db = hz_store_reader_acquire(store);
    /* one read transaction, so the total and the groups describe the same rows */
    int src = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    int rc = src == SQLITE_OK ? 0 : hz_store_error(db, src, "usage query");
    if (!rc) rc = run(store, db, "SELECT " USAGE_AGG, lo, hi, false, NULL, &total);
    if (!rc && group_sql) rc = run(store, db, group_sql, lo, hi, true, groups, NULL);
    if (src == SQLITE_OK) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    hz_store_reader_release(store, db);
    if (rc) {
        json_object_put(groups);
        json_object_put(total);
        return hz_error_wrap(rc, "usage");
    }

    json_object *o = json_object_new_object();
    json_object_object_add(o, "from", from_ms ? json_object_new_int64(from_ms) : NULL);
    json_object_object_add(o, "to", to_ms ? json_object_new_int64(to_ms) : NULL);
    json_object_object_add(o, "group_by", group_sql ? json_object_new_string(group_by) : NULL);
    json_object_object_add(o, "total", total);
    json_object_object_add(o, "groups", groups);
    *out = o;
    return 0;
}
