/*
 * The product's schema, as the list of migrations that builds it.
 *
 * This table is the only place the schema is defined. Rules, because databases in the field
 * were built by earlier binaries from earlier copies of this table:
 *
 *   - Later modules APPEND their migrations here, with the next consecutive version number.
 *   - A released migration NEVER changes, not even whitespace-insignificant SQL: a database that
 *     already ran it will not run it again, so an edit would make two databases with the same
 *     version differ. Fix a mistake with a new migration.
 *   - Each migration runs in its own transaction together with the user_version bump, with
 *     foreign_keys OFF (so SQLite's documented table-rebuild procedure works) and a
 *     foreign_key_check before commit. It must not contain BEGIN/COMMIT, and must not rely on
 *     anything outside the database (time, randomness) so every node ends up the same.
 *   - Keep a migration's SQL to what it needs; a comment above it says which module owns it.
 */
#include "store/store_internal.h"

static const hz_migration_t MIGRATIONS[] = {
    /* store: node-wide key/value settings (identity, API key hash, ...). updated_at is ms since
     * the Unix epoch. WITHOUT ROWID because the key is the only lookup, and because then the
     * PRIMARY KEY rejects NULL (a rowid table's TEXT PRIMARY KEY accepts it, a SQLite quirk). */
    {1, "settings",
     "CREATE TABLE settings (\n"
     "    key TEXT PRIMARY KEY,\n"
     "    value TEXT NOT NULL,\n"
     "    updated_at INTEGER NOT NULL\n"
     ") WITHOUT ROWID;\n"},
    /* gateway: remote LLM providers (registry.c) and per-request usage accounting (usage.c).
     * api_key_sealed is a versioned XChaCha20-Poly1305 blob under the node secret, never the
     * key; models is a JSON array of strings; timeouts are ms, 0 meaning the default. usage
     * rows are appended once per model request; every query filters on a ts_ms range (ms since
     * the epoch), hence its index. */
    {2, "llm_providers_usage",
     "CREATE TABLE llm_providers (\n"
     "    id TEXT PRIMARY KEY NOT NULL,\n"
     "    type TEXT NOT NULL,\n"
     "    base_url TEXT,\n"
     "    api_key_sealed BLOB,\n"
     "    models TEXT NOT NULL DEFAULT '[]',\n"
     "    connect_timeout_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    first_byte_timeout_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    idle_timeout_ms INTEGER NOT NULL DEFAULT 0,\n"
     "    max_retries INTEGER NOT NULL DEFAULT 0,\n"
     "    created_at INTEGER NOT NULL,\n"
     "    updated_at INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE usage (\n"
     "    ts_ms INTEGER NOT NULL,\n"
     "    key_id TEXT NOT NULL,\n"
     "    endpoint TEXT NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    provider TEXT NOT NULL,\n"
     "    upstream_model TEXT NOT NULL,\n"
     "    status INTEGER NOT NULL,\n"
     "    prompt_tokens INTEGER NOT NULL,\n"
     "    completion_tokens INTEGER NOT NULL,\n"
     "    cached_tokens INTEGER NOT NULL,\n"
     "    latency_ms REAL NOT NULL,\n"
     "    ttft_ms REAL NOT NULL\n"
     ");\n"
     "CREATE INDEX usage_ts ON usage (ts_ms);\n"},
};

const hz_migration_t *hz_store_migrations(size_t *n_out) {
    *n_out = sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]);
    return MIGRATIONS;
}

int hz_store_schema_latest(void) {
    size_t n;
    const hz_migration_t *m = hz_store_migrations(&n);
    return n ? m[n - 1].version : 0;
}
