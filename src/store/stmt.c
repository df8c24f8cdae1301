/*
 * Per-connection prepared-statement cache. Compiling SQL costs more than running a typical
 * point query, so each connection keeps its statements keyed by SQL text in a small open-
 * addressing table (FNV-1a, linear probing, power-of-two capacity, never deleted from until the
 * connection closes). Only the thread holding the connection touches it, so there is no lock.
 *
 * A cached statement is handed out at most once at a time (in_use). Asking for the same SQL
 * again while it is out - a nested loop over the same query - gets a private statement instead,
 * as does any SQL once the cache is full; privates are kept on a short list and finalized when
 * handed back. Handing back finds the statement by pointer: the list of privates is nearly
 * always empty and the table holds a few dozen entries, so a scan costs less than a step.
 *
 * At the end of every borrow (commit, rollback, reader release) all statements are reset, so a
 * statement someone forgot cannot hold a read transaction open and pin an old WAL snapshot.
 */
#include "store/store_internal.h"

#include <string.h>

static uint64_t fnv1a(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Compile exactly one statement; trailing text other than whitespace and ';' is refused, since
 * it would silently never run. */
static int compile(sqlite3 *db, const char *sql, unsigned flags, sqlite3_stmt **out) {
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, flags, out, &tail);
    if (rc != SQLITE_OK) return hz_store_error(db, rc, "preparing SQL");
    if (!*out) return hz_error_set(HZ_EINVAL, "preparing SQL: no statement in \"%.60s\"", sql);
    for (const char *p = tail; p && *p; p++) {
        if (*p != ';' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            sqlite3_finalize(*out);
            *out = NULL;
            return hz_error_set(HZ_EINVAL, "preparing SQL: more than one statement (trailing text at byte %d: \"%.40s\")",
                                (int)(tail - sql), tail);
        }
    }
    return 0;
}

static void grow(hz_conn_t *c) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    hz_stmt_slot_t *slots = hz_calloc(cap, sizeof(*slots));
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].stmt) continue;
        size_t j = c->slots[i].hash & (cap - 1);
        while (slots[j].stmt) j = (j + 1) & (cap - 1);
        slots[j] = c->slots[i];
    }
    hz_free(c->slots);
    c->slots = slots;
    c->cap = cap;
}

static int make_private(hz_conn_t *c, const char *sql, sqlite3_stmt **out) {
    int rc = compile(c->db, sql, 0, out);
    if (rc) return rc;
    hz_conn_private_t *p = hz_malloc(sizeof(*p));
    p->stmt = *out;
    p->next = c->privates;
    c->privates = p;
    return 0;
}

int hz_conn_prepare(hz_conn_t *c, const char *sql, sqlite3_stmt **out) {
    *out = NULL;
    if (!sql) return hz_error_set(HZ_EINVAL, "preparing SQL: sql is NULL");
    uint64_t h = fnv1a(sql);
    if (c->cap) {
        for (size_t i = h & (c->cap - 1); c->slots[i].stmt; i = (i + 1) & (c->cap - 1)) {
            hz_stmt_slot_t *s = &c->slots[i];
            if (s->hash != h || strcmp(s->sql, sql) != 0) continue;
            if (s->in_use) return make_private(c, sql, out);
            s->in_use = true;
            *out = s->stmt;
            return 0;
        }
    }
    if (c->count >= HZ_STMT_CACHE_MAX) return make_private(c, sql, out);

    sqlite3_stmt *st;
    int rc = compile(c->db, sql, SQLITE_PREPARE_PERSISTENT, &st);
    if (rc) return rc;
    if ((c->count + 1) * 4 > c->cap * 3) grow(c);  /* keep the load under 3/4 */
    size_t i = h & (c->cap - 1);
    while (c->slots[i].stmt) i = (i + 1) & (c->cap - 1);
    c->slots[i] = (hz_stmt_slot_t){.hash = h, .sql = hz_strdup(sql), .stmt = st, .in_use = true};
    c->count++;
    *out = st;
    return 0;
}

void hz_conn_stmt_done(hz_conn_t *c, sqlite3_stmt *stmt) {
    for (hz_conn_private_t **pp = &c->privates; *pp; pp = &(*pp)->next) {
        if ((*pp)->stmt != stmt) continue;
        hz_conn_private_t *p = *pp;
        *pp = p->next;
        sqlite3_finalize(p->stmt);
        hz_free(p);
        return;
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].stmt != stmt) continue;
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        c->slots[i].in_use = false;
        return;
    }
    hz_log_warn("store", "hz_store_stmt_done: statement \"%.80s\" did not come from hz_store_prepare; left alone",
                sqlite3_sql(stmt));
}

void hz_conn_reset_all(hz_conn_t *c, const char *why) {
    while (c->privates) {
        hz_conn_private_t *p = c->privates;
        c->privates = p->next;
        hz_log_warn("store", "statement \"%.80s\" not handed back before %s; finalized", sqlite3_sql(p->stmt), why);
        sqlite3_finalize(p->stmt);
        hz_free(p);
    }
    for (size_t i = 0; i < c->cap; i++) {
        hz_stmt_slot_t *s = &c->slots[i];
        if (!s->stmt || !s->in_use) continue;
        hz_log_warn("store", "statement \"%.80s\" not handed back before %s; reset", s->sql, why);
        sqlite3_reset(s->stmt);
        sqlite3_clear_bindings(s->stmt);
        s->in_use = false;
    }
    /* Statements the caller prepared without the cache are theirs to finalize, but a running
     * one would keep the snapshot, so stop it. */
    for (sqlite3_stmt *st = sqlite3_next_stmt(c->db, NULL); st; st = sqlite3_next_stmt(c->db, st))
        if (sqlite3_stmt_busy(st)) sqlite3_reset(st);
}

void hz_conn_close(hz_conn_t *c) {
    if (!c->db) return;
    hz_conn_reset_all(c, "close");
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].stmt) continue;
        sqlite3_finalize(c->slots[i].stmt);
        hz_free(c->slots[i].sql);
    }
    hz_free(c->slots);
    c->slots = NULL;
    c->cap = c->count = 0;
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(c->db, NULL)) != NULL) {
        hz_log_warn("store", "statement \"%.80s\" still prepared at close; finalized", sqlite3_sql(st));
        sqlite3_finalize(st);
    }
    int rc = sqlite3_close(c->db);
    if (rc != SQLITE_OK) hz_log_error("store", "closing connection: %s", sqlite3_errstr(rc));
    c->db = NULL;
}
