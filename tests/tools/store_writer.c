/*
 * store_writer - the process tests/integration/store_crash.sh kills.
 *
 *   store_writer DB_PATH [--max-batches N]
 *       Open the store through hz_store_open, then commit batches of 1-4 rows into a test table
 *       forever (or N batches). Only after hz_store_commit returned 0 are the batch's ids printed
 *       on stdout, one per line, flushed at once: a printed id is an acknowledged write.
 *   store_writer --verify DB_PATH ACKED_FILE
 *       Reopen the store (the product's own recovery path) and check that every acknowledged id
 *       is present with the right payload, that every committed batch is complete (no torn
 *       transaction), that ids have no gaps, and that PRAGMA integrity_check says "ok".
 *
 * The table is created with plain SQL inside a write transaction, not as a product migration:
 * it exists only for this test. Each row's payload is a deterministic function of its id, of a
 * size that varies with the id, so a page that was half-written or belongs to another row is
 * caught, and WAL frames and checkpoints see realistic, uneven traffic.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/store.h"

#define PAYLOAD_MAX 1600

static size_t payload_for(int64_t id, uint8_t *out) {
    size_t n = 64 + (size_t)((id * 7919) % 1500);
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    for (size_t j = 0; j < n; j++) {
        x ^= x >> 29, x *= 0xBF58476D1CE4E5B9ull, x ^= x >> 32;  /* splitmix-style stream */
        out[j] = (uint8_t)x;
    }
    return n;
}

static int die(const char *what) {
    fprintf(stderr, "store_writer: %s: %s\n", what, hz_error_last());
    return 1;
}

static int query_i64(hz_store_t *s, const char *sql, int64_t *out) {
    sqlite3 *db = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    int rc = hz_store_prepare(s, db, sql, &st);
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
        else rc = hz_store_error(db, step == SQLITE_DONE ? SQLITE_ERROR : step, sql);
        hz_store_stmt_done(s, st);
    }
    hz_store_reader_release(s, db);
    return rc;
}

static int run_writer(const char *path, long max_batches) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    hz_store_t *s;
    if (hz_store_open(path, NULL, &s)) return die("open");
    sqlite3 *db;
    if (hz_store_begin(s, &db)) return die("begin");
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS crash_rows ("
                     " id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, batch_size INTEGER NOT NULL,"
                     " payload BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        hz_store_error(db, sqlite3_extended_errcode(db), "creating the test table");
        hz_store_rollback(s);
        return die("setup");
    }
    if (hz_store_commit(s)) return die("commit of the test table");

    int64_t next_id, batch;
    if (query_i64(s, "SELECT coalesce(max(id), 0) + 1 FROM crash_rows", &next_id) ||
        query_i64(s, "SELECT coalesce(max(batch), 0) + 1 FROM crash_rows", &batch))
        return die("reading where to continue");

    uint8_t payload[PAYLOAD_MAX];
    for (long done = 0; max_batches < 0 || done < max_batches; done++, batch++) {
        int k = 1 + (int)(batch % 4);
        if (hz_store_begin(s, &db)) return die("begin");
        for (int i = 0; i < k; i++) {
            sqlite3_stmt *st;
            if (hz_store_prepare(s, db, "INSERT INTO crash_rows (id, batch, batch_size, payload) VALUES (?1, ?2, ?3, ?4)", &st)) {
                hz_store_rollback(s);
                return die("prepare");
            }
            size_t n = payload_for(next_id + i, payload);
            sqlite3_bind_int64(st, 1, next_id + i);
            sqlite3_bind_int64(st, 2, batch);
            sqlite3_bind_int(st, 3, k);
            sqlite3_bind_blob(st, 4, payload, (int)n, SQLITE_STATIC);
            int step = sqlite3_step(st);
            if (step != SQLITE_DONE) hz_store_error(db, step, "insert");
            hz_store_stmt_done(s, st);
            if (step != SQLITE_DONE) {
                hz_store_rollback(s);
                return die("insert");
            }
        }
        if (hz_store_commit(s)) return die("commit");
        /* Acknowledge only now that the commit is durable. */
        char line[256];
        size_t len = 0;
        for (int i = 0; i < k; i++)
            len += (size_t)snprintf(line + len, sizeof(line) - len, "%" PRId64 "\n", next_id + i);
        if (fwrite(line, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "store_writer: writing acknowledgements: %s\n", strerror(errno));
            return 1;
        }
        next_id += k;
    }
    hz_store_close(s);
    return 0;
}

/* ---- verification ------------------------------------------------------------------------ */

/* Acknowledged ids, in order. A last line without its newline was being printed when the
 * process died: that acknowledgement never completed, so it is not counted. */
static int64_t *load_acked(const char *file, size_t *n_out) {
    FILE *fp = fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "store_writer: cannot open %s: %s\n", file, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 1024;
    int64_t *ids = hz_malloc(cap * sizeof(*ids));
    char line[64];
    int lineno = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            fprintf(stderr, "store_writer: %s:%d: incomplete last line \"%s\" ignored (killed while printing)\n",
                    file, lineno, line);
            break;
        }
        char *end;
        errno = 0;
        long long v = strtoll(line, &end, 10);
        if (errno || end == line || *end != '\n' || v <= 0 || (n && v <= ids[n - 1])) {
            fprintf(stderr, "store_writer: %s:%d: bad acknowledged id \"%.*s\" (must be increasing positive integers)\n",
                    file, lineno, (int)len - 1, line);
            fclose(fp);
            hz_free(ids);
            return NULL;
        }
        if (n == cap) ids = hz_realloc(ids, (cap *= 2) * sizeof(*ids));
        ids[n++] = v;
    }
    fclose(fp);
    *n_out = n;
    return ids;
}

static int fail(const char *fmt, ...) HZ_PRINTF(1, 2);
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "store_writer: verify FAILED: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int check_integrity(hz_store_t *s) {
    sqlite3 *db = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    int bad = 0;
    if (hz_store_prepare(s, db, "PRAGMA integrity_check", &st) != 0) {
        hz_store_reader_release(s, db);
        return die("integrity_check");
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (msg && strcmp(msg, "ok") == 0) continue;
        fprintf(stderr, "store_writer: verify FAILED: integrity_check: %s\n", msg ? msg : "(null)");
        bad = 1;
    }
    if (step != SQLITE_DONE) {
        fprintf(stderr, "store_writer: verify FAILED: integrity_check: %s\n", sqlite3_errmsg(db));
        bad = 1;
    }
    hz_store_stmt_done(s, st);
    hz_store_reader_release(s, db);
    return bad;
}

/* Every row, acknowledged or not: right payload, complete batch, no gaps. */
static int check_rows(hz_store_t *s, int64_t *rows_out) {
    sqlite3 *db = hz_store_reader_acquire(s);
    sqlite3_stmt *st;
    int bad = 0;
    *rows_out = 0;
    /* Killed before the first run created the table: no rows, which is right if nothing was
     * acknowledged (the caller checks that). */
    if (hz_store_prepare(s, db, "SELECT count(*) FROM sqlite_schema WHERE name = 'crash_rows'", &st) != 0) {
        hz_store_reader_release(s, db);
        return die("reading the schema");
    }
    bool have_table = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    hz_store_stmt_done(s, st);
    if (!have_table) {
        hz_store_reader_release(s, db);
        return 0;
    }
    if (hz_store_prepare(s, db, "SELECT id, batch, batch_size, payload FROM crash_rows ORDER BY id", &st) != 0) {
        hz_store_reader_release(s, db);
        return die("reading rows");
    }
    uint8_t want[PAYLOAD_MAX];
    int64_t expect_id = 1, cur_batch = 0, in_batch = 0, cur_size = 0, last_batch = 0;
    int step;
    while (!bad && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1), k = sqlite3_column_int64(st, 2);
        if (id != expect_id) bad = fail("row ids have a gap: expected id %" PRId64 ", found %" PRId64, expect_id, id);
        size_t n = payload_for(id, want);
        if (!bad && ((size_t)sqlite3_column_bytes(st, 3) != n || memcmp(sqlite3_column_blob(st, 3), want, n) != 0))
            bad = fail("row %" PRId64 " has a wrong payload (%" PRId64 " bytes)", id, (int64_t)sqlite3_column_bytes(st, 3));
        if (!bad && b != cur_batch) {
            if (in_batch != cur_size)
                bad = fail("batch %" PRId64 " is torn: %" PRId64 " rows present", cur_batch, in_batch);
            else if (b != last_batch + 1)
                bad = fail("batch numbers jump from %" PRId64 " to %" PRId64, last_batch, b);
            cur_batch = last_batch = b, in_batch = 0, cur_size = k;
        }
        if (!bad && k != cur_size) bad = fail("batch %" PRId64 " disagrees on its size at row %" PRId64, b, id);
        in_batch++;
        expect_id++;
    }
    if (!bad && step != SQLITE_DONE) {
        fprintf(stderr, "store_writer: verify FAILED: reading rows: %s\n", sqlite3_errmsg(db));
        bad = 1;
    }
    if (!bad && in_batch != cur_size)
        bad = fail("last batch %" PRId64 " is torn: %" PRId64 " rows present", cur_batch, in_batch);
    hz_store_stmt_done(s, st);
    hz_store_reader_release(s, db);
    *rows_out = expect_id - 1;
    return bad;
}

static int run_verify(const char *path, const char *acked_file) {
    size_t n_acked = 0;
    int64_t *acked = load_acked(acked_file, &n_acked);
    if (!acked) return 1;
    hz_store_t *s;
    if (hz_store_open(path, NULL, &s)) {
        hz_free(acked);
        return die("verify: reopening the store after the crash");
    }
    int bad = check_integrity(s);
    int64_t rows = 0;
    if (!bad) bad = check_rows(s, &rows);
    /* Rows are ids 1..rows with no gaps (checked above), so an acknowledged id is present
     * exactly when it is <= rows. */
    for (size_t i = 0; !bad && i < n_acked; i++)
        if (acked[i] > rows)
            bad = fail("acknowledged id %" PRId64 " is missing (the table ends at id %" PRId64 ")", acked[i], rows);
    if (!bad && hz_store_schema_version(s) != hz_store_schema_latest())
        bad = fail("schema version %d after reopen, expected %d", hz_store_schema_version(s), hz_store_schema_latest());
    if (!bad)
        printf("verify ok: %zu acknowledged ids all present; %" PRId64 " rows (%" PRId64
               " committed but killed before acknowledging), integrity ok\n",
               n_acked, rows, rows - (int64_t)n_acked);
    hz_store_close(s);
    hz_free(acked);
    return bad;
}

int main(int argc, char **argv) {
    hz_log_configure("warn", HZ_LOG_TEXT, NULL);
    if (argc == 4 && strcmp(argv[1], "--verify") == 0) return run_verify(argv[2], argv[3]);
    if (argc == 2 && argv[1][0] != '-') return run_writer(argv[1], -1);
    if (argc == 4 && strcmp(argv[2], "--max-batches") == 0) {
        char *end;
        long n = strtol(argv[3], &end, 10);
        if (*end == '\0' && n >= 0) return run_writer(argv[1], n);
    }
    fprintf(stderr,
            "usage: store_writer DB_PATH [--max-batches N]\n"
            "       store_writer --verify DB_PATH ACKED_FILE\n");
    return 2;
}
