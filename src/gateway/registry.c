/*
 * The provider registry: providers persisted in the store's llm_providers table and pushed into
 * the gateway, with their API keys sealed under the node secret (secret.c).
 *
 * The database is the truth and the gateway a copy: every change is written and committed in
 * one transaction first, then applied to the gateway, all under the registry's mutex so that two
 * concurrent changes reach the gateway in the order they committed. Opening loads every row; a
 * row that cannot be used (a key sealed under another secret, a type this binary no longer
 * knows) costs that provider its key or its place with a warning naming it, never the node its
 * start.
 *
 * modify merges: the stored row is turned back into an API body, the patch's fields replace
 * its fields (null resets one to its default), and the result is parsed exactly as an add is,
 * so both paths accept the same things. api_key absent keeps the sealed key; null or "" removes
 * it. Plaintext keys exist only between unsealing and the gateway's copy, and are wiped then.
 */
#include <pthread.h>
#include <string.h>

#include "gw_internal.h"
#include "hanzo/crypto.h"
#include "hanzo/store.h"

static const char *MOD = "gateway";

/* secret.c */
typedef struct gw_secret gw_secret_t;
int gw_secret_open(const char *path, gw_secret_t **out);
void gw_secret_close(gw_secret_t *s);
const char *gw_secret_path(const gw_secret_t *s);
int gw_secret_seal(const gw_secret_t *s, const char *provider_id, const char *key, hz_buf_t *out);
int gw_secret_unseal(const gw_secret_t *s, const char *provider_id, const void *blob, size_t len,
                     char **key_out, size_t *key_len);

/* Not yet in hanzo/gateway.h: test a stored provider ({id}) or a full config, see below. */
int hz_gw_registry_test(hz_gw_registry_t *reg, json_object *body, json_object **out, hz_gw_error_t *err);

struct hz_gw_registry {
    hz_store_t *store;
    hz_gw_t *gw;
    gw_secret_t *secret;
    pthread_mutex_t mu;     /* one change at a time, from BEGIN to the gateway's update */
};

#define ROW_COLUMNS \
    "id, type, base_url, api_key_sealed, models, connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, max_retries"

/* A stored row: its API body (without the key) and its sealed key (owned copy, may be empty). */
typedef struct {
    json_object *body;
    hz_buf_t sealed;
} row_t;

static void row_free(row_t *r) {
    json_object_put(r->body);
    hz_buf_free(&r->sealed);
    memset(r, 0, sizeof(*r));
}

static void add_int_if(json_object *o, const char *k, int64_t v) {
    if (v) json_object_object_add(o, k, json_object_new_int64(v));
}

/* The current row of a statement selecting ROW_COLUMNS. */
static int row_read(sqlite3_stmt *st, row_t *r) {
    memset(r, 0, sizeof(*r));
    const char *id = (const char *)sqlite3_column_text(st, 0);
    r->body = json_object_new_object();
    json_object_object_add(r->body, "id", json_object_new_string(id ? id : ""));
    const char *type = (const char *)sqlite3_column_text(st, 1);
    json_object_object_add(r->body, "type", json_object_new_string(type ? type : ""));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_object_add(r->body, "base_url", json_object_new_string((const char *)sqlite3_column_text(st, 2)));
    if (sqlite3_column_type(st, 3) == SQLITE_BLOB && sqlite3_column_bytes(st, 3) > 0)
        hz_buf_append(&r->sealed, sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3));
    const char *models = (const char *)sqlite3_column_text(st, 4);
    json_object *arr = NULL;
    if (models && hz_json_parse(models, strlen(models), &arr) != 0) {
        int rc = hz_error_wrap(HZ_EPARSE, "provider \"%s\": stored models", id);
        row_free(r);
        return rc;
    }
    if (arr) json_object_object_add(r->body, "models", arr);
    add_int_if(r->body, "connect_timeout_ms", sqlite3_column_int64(st, 5));
    add_int_if(r->body, "first_byte_timeout_ms", sqlite3_column_int64(st, 6));
    add_int_if(r->body, "idle_timeout_ms", sqlite3_column_int64(st, 7));
    add_int_if(r->body, "max_retries", sqlite3_column_int64(st, 8));
    return 0;
}

/* One row by id on db (the writer inside a transaction, or a reader). HZ_ENOTFOUND if absent. */
static int row_get(hz_store_t *store, sqlite3 *db, const char *id, row_t *r) {
    sqlite3_stmt *st;
    int rc = hz_store_prepare(store, db, "SELECT " ROW_COLUMNS " FROM llm_providers WHERE id = ?1", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) rc = row_read(st, r);
    else if (src == SQLITE_DONE) rc = hz_error_set(HZ_ENOTFOUND, "no provider \"%s\"", id);
    else rc = hz_store_error(db, src, "reading llm_providers");
    hz_store_stmt_done(store, st);
    return rc;
}

/* The plaintext key of a row, or NULL when it has none or it cannot be opened (then a warning
 * names the provider). Wipe with wipe_key. */
static char *row_key(hz_gw_registry_t *reg, const char *id, const hz_buf_t *sealed, size_t *len) {
    *len = 0;
    if (!sealed->len) return NULL;
    char *key = NULL;
    if (gw_secret_unseal(reg->secret, id, sealed->data, sealed->len, &key, len) != 0) {
        hz_log_warn(MOD, "provider \"%s\" is loaded without its API key: %s; set the key again with "
                    "/v2/modify_llm_provider", id, hz_error_last());
        return NULL;
    }
    return key;
}

static void wipe_key(char *key, size_t len) {
    if (key) hz_secure_free(key, len + 1);
}

/* Insert or replace the row for cfg with the given sealed key (NULL: none). */
static int row_write(hz_gw_registry_t *reg, sqlite3 *db, const hz_gw_provider_config_t *cfg, const hz_buf_t *sealed,
                     bool insert) {
    json_object *models = json_object_new_array();
    for (size_t i = 0; i < cfg->n_models; i++) json_object_array_add(models, json_object_new_string(cfg->models[i]));
    const char *sql = insert
        ? "INSERT INTO llm_providers (id, type, base_url, api_key_sealed, models, connect_timeout_ms, "
          "first_byte_timeout_ms, idle_timeout_ms, max_retries, created_at, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
        : "UPDATE llm_providers SET type = ?2, base_url = ?3, api_key_sealed = ?4, models = ?5, "
          "connect_timeout_ms = ?6, first_byte_timeout_ms = ?7, idle_timeout_ms = ?8, max_retries = ?9, "
          "updated_at = ?10 WHERE id = ?1";
    sqlite3_stmt *st;
    int rc = hz_store_prepare(reg->store, db, sql, &st);
    if (rc) {
        json_object_put(models);
        return rc;
    }
    sqlite3_bind_text(st, 1, cfg->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, cfg->type, -1, SQLITE_TRANSIENT);
    if (cfg->base_url) sqlite3_bind_text(st, 3, cfg->base_url, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 3);
    if (sealed && sealed->len) sqlite3_bind_blob(st, 4, sealed->data, (int)sealed->len, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, hz_json_dump(models, NULL), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, cfg->connect_timeout_ms);
    sqlite3_bind_int(st, 7, cfg->first_byte_timeout_ms);
    sqlite3_bind_int(st, 8, cfg->idle_timeout_ms);
    sqlite3_bind_int(st, 9, cfg->max_retries);
    sqlite3_bind_int64(st, 10, hz_time_now_ms());
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : hz_store_error(db, src, "writing llm_providers");
    hz_store_stmt_done(reg->store, st);
    json_object_put(models);
    return rc;
}

/* A store failure as the API reports it. */
static int store_failed(hz_gw_error_t *err, int rc, const char *what) {
    if (rc == HZ_EEXIST) return hz_gw_error_set(err, 409, "invalid_request_error", "provider_exists", "id", "%s", what);
    if (rc == HZ_ENOTFOUND) return hz_gw_error_set(err, 404, "invalid_request_error", "provider_not_found", "id", "%s", what);
    if (rc == HZ_EBUSY) return hz_gw_error_set(err, 503, "api_error", "store_busy", "", "%s: %s", what, hz_error_last());
    return hz_gw_error_set(err, 500, "api_error", "store_error", "", "%s: %s", what, hz_error_last());
}

static int load_all(hz_gw_registry_t *reg) {
    sqlite3 *db = hz_store_reader_acquire(reg->store);
    sqlite3_stmt *st;
    int rc = hz_store_prepare(reg->store, db, "SELECT " ROW_COLUMNS " FROM llm_providers ORDER BY id", &st);
    if (rc) {
        hz_store_reader_release(reg->store, db);
        return rc;
    }
    int src, loaded = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        row_t r;
        if (row_read(st, &r) != 0) {
            hz_log_warn(MOD, "provider \"%s\" is not loaded: %s", id ? id : "", hz_error_last());
            continue;
        }
        hz_gw_provider_config_t cfg;
        hz_gw_error_t err;
        if (hz_gw_provider_config_from_json(r.body, &cfg, &err) != 0) {
            hz_log_warn(MOD, "provider \"%s\" is not loaded: its stored config is not valid: %s", id, err.message);
            row_free(&r);
            continue;
        }
        size_t klen;
        char *key = row_key(reg, cfg.id, &r.sealed, &klen);
        cfg.api_key = key;
        if (hz_gw_provider_set(reg->gw, &cfg) == 0) loaded++;
        else hz_log_warn(MOD, "provider \"%s\" is not loaded: %s", cfg.id, hz_error_last());
        wipe_key(key, klen);
        hz_gw_provider_config_release(&cfg);
        row_free(&r);
    }
    rc = src == SQLITE_DONE ? 0 : hz_store_error(db, src, "reading llm_providers");
    hz_store_stmt_done(reg->store, st);
    hz_store_reader_release(reg->store, db);
    if (!rc && loaded) hz_log_info(MOD, "loaded %d LLM provider%s", loaded, loaded == 1 ? "" : "s");
    return rc;
}

int hz_gw_registry_open(struct hz_store *store, const char *secret_key_path, hz_gw_t *gw, hz_gw_registry_t **out) {
    *out = NULL;
    if (!store || !gw) return hz_error_set(HZ_EINVAL, "provider registry: no store or gateway");
    hz_gw_registry_t *reg = hz_calloc(1, sizeof(*reg));
    reg->store = store;
    reg->gw = gw;
    pthread_mutex_init(&reg->mu, NULL);
    int rc = gw_secret_open(secret_key_path, &reg->secret);
    if (!rc) rc = load_all(reg);
    if (rc) {
        hz_gw_registry_close(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void hz_gw_registry_close(hz_gw_registry_t *reg) {
    if (!reg) return;
    gw_secret_close(reg->secret);
    pthread_mutex_destroy(&reg->mu);
    hz_free(reg);
}

/* Commit, then make the gateway match. Called with reg->mu held and the writer taken. */
static int commit_apply(hz_gw_registry_t *reg, const hz_gw_provider_config_t *cfg, hz_gw_error_t *err) {
    int rc = hz_store_commit(reg->store);
    if (rc) return store_failed(err, rc, "saving the provider");
    if (hz_gw_provider_set(reg->gw, cfg) != 0) {
        /* the config passed hz_gw_provider_config_check, so this is not the client's fault */
        hz_log_error(MOD, "provider \"%s\" was saved but the gateway refused it: %s", cfg->id, hz_error_last());
        return hz_gw_error_set(err, 500, "api_error", "gateway_error", "", "provider \"%s\" was saved but not applied: %s",
                               cfg->id, hz_error_last());
    }
    return 0;
}

int hz_gw_registry_add(hz_gw_registry_t *reg, json_object *body, hz_gw_error_t *err) {
    hz_gw_provider_config_t cfg;
    int rc = hz_gw_provider_config_from_json(body, &cfg, err);
    if (rc) return rc;
    hz_buf_t sealed = HZ_BUF_INIT;
    if (cfg.api_key && (rc = gw_secret_seal(reg->secret, cfg.id, cfg.api_key, &sealed)) != 0) {
        hz_gw_error_set(err, rc == HZ_ETOOBIG ? 400 : 500, rc == HZ_ETOOBIG ? "invalid_request_error" : "api_error",
                        "", rc == HZ_ETOOBIG ? "api_key" : "", "%s", hz_error_last());
        hz_gw_provider_config_release(&cfg);
        return rc;
    }
    pthread_mutex_lock(&reg->mu);
    sqlite3 *db;
    rc = hz_store_begin(reg->store, &db);
    if (rc) {
        store_failed(err, rc, "saving the provider");
    } else if ((rc = row_write(reg, db, &cfg, &sealed, true)) != 0) {
        hz_store_rollback(reg->store);
        if (rc == HZ_EEXIST)
            hz_gw_error_set(err, 409, "invalid_request_error", "provider_exists", "id",
                            "provider \"%s\" already exists; change it with /v2/modify_llm_provider", cfg.id);
        else
            store_failed(err, rc, "saving the provider");
    } else {
        rc = commit_apply(reg, &cfg, err);
    }
    pthread_mutex_unlock(&reg->mu);
    if (!rc) hz_log_info(MOD, "added LLM provider \"%s\" (%s)", cfg.id, cfg.type);
    hz_gw_provider_config_release(&cfg);
    hz_buf_free(&sealed);
    return rc;
}

int hz_gw_registry_modify(hz_gw_registry_t *reg, json_object *patch, hz_gw_error_t *err) {
    const char *id;
    if (!patch || !json_object_is_type(patch, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_type", "",
                               "the body must be a JSON object with the provider's id and the fields to change");
    if (hz_json_get_string(patch, "id", true, &id) != 0)
        return hz_gw_error_set(err, 400, "invalid_request_error", "missing_parameter", "id", "%s", hz_error_last());

    pthread_mutex_lock(&reg->mu);
    sqlite3 *db;
    row_t r = {0};
    hz_buf_t sealed = HZ_BUF_INIT;
    hz_gw_provider_config_t cfg = {0};
    char *key = NULL;
    size_t klen = 0;
    int rc = hz_store_begin(reg->store, &db);
    if (rc) {
        store_failed(err, rc, "reading the provider");
        goto done;
    }
    rc = row_get(reg->store, db, id, &r);
    if (rc) {
        store_failed(err, rc, hz_error_last());
        goto out_rollback;
    }

    /* the merged body: stored fields, then the patch's (null deletes); api_key handled apart */
    json_object *merged = r.body;
    json_object *patch_key = NULL;
    bool key_given = json_object_object_get_ex(patch, "api_key", &patch_key);
    json_object_object_foreach(patch, k, v) {
        if (strcmp(k, "id") == 0 || strcmp(k, "api_key") == 0) continue;
        if (v) json_object_object_add(merged, k, json_object_get(v));
        else json_object_object_del(merged, k);
    }
    if (key_given) json_object_object_add(merged, "api_key", json_object_get(patch_key));
    rc = hz_gw_provider_config_from_json(merged, &cfg, err);
    if (rc) goto out_rollback;

    if (key_given) {
        hz_buf_reset(&sealed);
        if (cfg.api_key && (rc = gw_secret_seal(reg->secret, cfg.id, cfg.api_key, &sealed)) != 0) {
            hz_gw_error_set(err, rc == HZ_ETOOBIG ? 400 : 500, rc == HZ_ETOOBIG ? "invalid_request_error" : "api_error",
                            "", rc == HZ_ETOOBIG ? "api_key" : "", "%s", hz_error_last());
            goto out_rollback;
        }
    } else {
        /* keep the stored key: the same blob in the row, its plaintext for the gateway */
        hz_buf_append(&sealed, r.sealed.data, r.sealed.len);
        key = row_key(reg, cfg.id, &r.sealed, &klen);
        cfg.api_key = key;
    }
    rc = row_write(reg, db, &cfg, &sealed, false);
    if (rc) {
        store_failed(err, rc, "saving the provider");
        goto out_rollback;
    }
    rc = commit_apply(reg, &cfg, err);
    if (!rc) hz_log_info(MOD, "modified LLM provider \"%s\"", cfg.id);
    goto done;

out_rollback:
    hz_store_rollback(reg->store);
done:
    pthread_mutex_unlock(&reg->mu);
    wipe_key(key, klen);
    hz_gw_provider_config_release(&cfg);
    row_free(&r);
    hz_buf_free(&sealed);
    return rc;
}

int hz_gw_registry_remove(hz_gw_registry_t *reg, const char *id, hz_gw_error_t *err) {
    if (!id || !*id) return hz_gw_error_set(err, 400, "invalid_request_error", "missing_parameter", "id", "\"id\" is required");
    pthread_mutex_lock(&reg->mu);
    sqlite3 *db;
    int rc = hz_store_begin(reg->store, &db);
    if (rc) {
        store_failed(err, rc, "removing the provider");
        pthread_mutex_unlock(&reg->mu);
        return rc;
    }
    sqlite3_stmt *st;
    rc = hz_store_prepare(reg->store, db, "DELETE FROM llm_providers WHERE id = ?1", &st);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        rc = src == SQLITE_DONE ? 0 : hz_store_error(db, src, "removing the provider");
        if (!rc && sqlite3_changes(db) == 0) rc = hz_error_set(HZ_ENOTFOUND, "no provider \"%s\"", id);
        hz_store_stmt_done(reg->store, st);
    }
    if (rc) {
        hz_store_rollback(reg->store);
        store_failed(err, rc, hz_error_last());
    } else if ((rc = hz_store_commit(reg->store)) != 0) {
        store_failed(err, rc, "removing the provider");
    } else {
        /* absent from the gateway when its row could not be loaded: nothing to undo then */
        hz_gw_provider_remove(reg->gw, id);
        hz_log_info(MOD, "removed LLM provider \"%s\"", id);
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

/* Run hz_gw_provider_test for an API body. {"id"} alone (plus an optional "model") names a
 * stored provider, tested with its own sealed key; anything else is a full config as add takes
 * it, tested without being saved. Blocks for the round trip. */
int hz_gw_registry_test(hz_gw_registry_t *reg, json_object *body, json_object **out, hz_gw_error_t *err) {
    *out = NULL;
    if (!body || !json_object_is_type(body, json_type_object))
        return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_type", "",
                               "the body must be {\"id\"} of a stored provider or a full provider config");
    const char *model = NULL;
    int rc = hz_json_get_string(body, "model", false, &model);
    if (rc && rc != HZ_ENOTFOUND)
        return hz_gw_error_set(err, 400, "invalid_request_error", "invalid_type", "model", "%s", hz_error_last());
    json_object *cfg_body = json_object_new_object();
    json_object_object_foreach(body, k, v) {
        if (strcmp(k, "model") != 0) json_object_object_add(cfg_body, k, json_object_get(v));
    }

    row_t r = {0};
    char *key = NULL;
    size_t klen = 0;
    hz_gw_provider_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    json_object *idv;
    if (json_object_object_length(cfg_body) == 1 && json_object_object_get_ex(cfg_body, "id", &idv)) {
        if (!json_object_is_type(idv, json_type_string)) {
            rc = hz_gw_error_set(err, 400, "invalid_request_error", "invalid_type", "id", "\"id\" must be a string");
            goto out;
        }
        sqlite3 *db = hz_store_reader_acquire(reg->store);
        rc = row_get(reg->store, db, json_object_get_string(idv), &r);
        hz_store_reader_release(reg->store, db);
        if (rc) {
            store_failed(err, rc, hz_error_last());
            goto out;
        }
        if ((rc = hz_gw_provider_config_from_json(r.body, &cfg, err)) != 0) goto out;
        key = row_key(reg, cfg.id, &r.sealed, &klen);
        cfg.api_key = key;
    } else if ((rc = hz_gw_provider_config_from_json(cfg_body, &cfg, err)) != 0) {
        goto out;
    }
    rc = hz_gw_provider_test(reg->gw, &cfg, model, out);
    if (rc == HZ_EINVAL) {
        hz_gw_error_set(err, 400, "invalid_request_error", "invalid_value", "", "testing provider \"%s\": %s", cfg.id,
                        hz_error_last());
        json_object_put(*out);
        *out = NULL;
    } else if (rc) {
        /* the round trip failed: that is the answer to "does this provider work?", not an error
         * of the test request */
        hz_gw_error_t e;
        hz_gw_error_set(&e, 502, "upstream_error", "", "", "%s", hz_error_last());
        json_object *wrapped = hz_gw_error_json(&e);
        json_object_put(*out);
        *out = json_object_new_object();
        json_object_object_add(*out, "ok", json_object_new_boolean(false));
        json_object_object_add(*out, "error", json_object_get(json_object_object_get(wrapped, "error")));
        json_object_put(wrapped);
        rc = 0;
    }
out:
    wipe_key(key, klen);
    hz_gw_provider_config_release(&cfg);
    row_free(&r);
    json_object_put(cfg_body);
    return rc;
}
