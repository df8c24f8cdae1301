/*
 * The gateway object: a table of providers, a table of aliases and each provider's health,
 * behind one mutex. Everything a request needs is copied or referenced out under the lock
 * (a provider snapshot with gw_provider_ref, an alias's target list duplicated), so the lock
 * is held for microseconds and never across I/O; management calls can replace or remove
 * entries while requests run. Health is the count of consecutive failed requests and the end
 * of a cooldown, kept per provider id on the monotonic clock and reset when the provider is
 * replaced (a new key or URL deserves a fresh chance).
 *
 * The router reaches this state only through the gw_* functions at the end of this file; their
 * prototypes are repeated in router.c and probe.c because gw_internal.h has no place for them.
 */
#include "gw_internal.h"

#include <pthread.h>
#include <string.h>

typedef struct gw_slot {
    gw_provider_t *p;
    int32_t failures;           /* consecutive failed requests */
    int64_t cooldown_until_ns;  /* hz_time_mono_ns; 0: none */
} gw_slot_t;

typedef struct gw_alias {
    char *name;
    char **targets;
    size_t n;
} gw_alias_t;

struct hz_gw {
    hz_gw_options_t opts;       /* defaults resolved */
    int64_t created_s;          /* "created" of the advertised models */
    pthread_mutex_t lock;
    gw_slot_t *slots;
    size_t n_slots, cap_slots;
    gw_alias_t *aliases;
    size_t n_aliases, cap_aliases;
};

/* Prototypes of the router seam (see the header comment). */
const hz_gw_options_t *gw_options(hz_gw_t *gw);
gw_provider_t *gw_provider_get(hz_gw_t *gw, const char *id);
char **gw_alias_get(hz_gw_t *gw, const char *alias, size_t *n);
void gw_strv_free(char **v, size_t n);
bool gw_cooling(hz_gw_t *gw, const char *id);
void gw_provider_outcome(hz_gw_t *gw, const char *id, bool ok);

hz_gw_t *hz_gw_new(const hz_gw_options_t *opts) {
    hz_gw_t *gw = hz_calloc(1, sizeof(*gw));
    if (opts) gw->opts = *opts;
    if (gw->opts.backoff_base_ms <= 0) gw->opts.backoff_base_ms = 200;
    if (gw->opts.backoff_max_ms <= 0) gw->opts.backoff_max_ms = 10000;
    if (gw->opts.backoff_max_ms < gw->opts.backoff_base_ms) gw->opts.backoff_max_ms = gw->opts.backoff_base_ms;
    if (gw->opts.cooldown_failures <= 0) gw->opts.cooldown_failures = 3;
    if (gw->opts.cooldown_ms <= 0) gw->opts.cooldown_ms = 30000;
    gw->created_s = hz_time_now_ms() / 1000;
    pthread_mutex_init(&gw->lock, NULL);
    return gw;
}

void gw_strv_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) hz_free(v[i]);
    hz_free(v);
}

void hz_gw_free(hz_gw_t *gw) {
    if (!gw) return;
    for (size_t i = 0; i < gw->n_slots; i++) gw_provider_release(gw->slots[i].p);
    hz_free(gw->slots);
    for (size_t i = 0; i < gw->n_aliases; i++) {
        hz_free(gw->aliases[i].name);
        gw_strv_free(gw->aliases[i].targets, gw->aliases[i].n);
    }
    hz_free(gw->aliases);
    pthread_mutex_destroy(&gw->lock);
    hz_free(gw);
}

/* Callers hold the lock. */
static gw_slot_t *slot_find(hz_gw_t *gw, const char *id) {
    for (size_t i = 0; i < gw->n_slots; i++)
        if (strcmp(gw->slots[i].p->id, id) == 0) return &gw->slots[i];
    return NULL;
}

static gw_alias_t *alias_find(hz_gw_t *gw, const char *name) {
    for (size_t i = 0; i < gw->n_aliases; i++)
        if (strcmp(gw->aliases[i].name, name) == 0) return &gw->aliases[i];
    return NULL;
}

int hz_gw_provider_set(hz_gw_t *gw, const hz_gw_provider_config_t *cfg) {
    if (!gw) return hz_error_set(HZ_EINVAL, "gateway is NULL");
    gw_provider_t *p = gw_provider_new(cfg);
    if (!p) return hz_error_wrap(HZ_EINVAL, "provider");
    gw_provider_t *old = NULL;
    pthread_mutex_lock(&gw->lock);
    gw_slot_t *s = slot_find(gw, p->id);
    if (s) {
        old = s->p;
    } else {
        if (gw->n_slots == gw->cap_slots) {
            gw->cap_slots = gw->cap_slots ? 2 * gw->cap_slots : 8;
            gw->slots = hz_realloc(gw->slots, gw->cap_slots * sizeof(*gw->slots));
        }
        s = &gw->slots[gw->n_slots++];
    }
    s->p = p;
    s->failures = 0;
    s->cooldown_until_ns = 0;
    pthread_mutex_unlock(&gw->lock);
    gw_provider_release(old);    /* outside the lock: it may wipe and free */
    return 0;
}

int hz_gw_provider_remove(hz_gw_t *gw, const char *id) {
    if (!gw || !id) return hz_error_set(HZ_EINVAL, "gateway or provider id is NULL");
    gw_provider_t *old = NULL;
    pthread_mutex_lock(&gw->lock);
    gw_slot_t *s = slot_find(gw, id);
    if (s) {
        old = s->p;
        *s = gw->slots[--gw->n_slots];
    }
    pthread_mutex_unlock(&gw->lock);
    if (!old) return hz_error_set(HZ_ENOTFOUND, "no provider \"%s\"", id);
    gw_provider_release(old);
    return 0;
}

/* "sk-...abcd": enough to recognise a key, never enough to use it. Short keys get no hint
 * since seven characters of a short key are too large a share of it. */
static json_object *key_hint(const char *key) {
    size_t n = key ? strlen(key) : 0;
    if (n < 20) return NULL;
    char hint[16];
    snprintf(hint, sizeof(hint), "%.3s...%s", key, key + n - 4);
    return json_object_new_string(hint);
}

json_object *hz_gw_providers_json(hz_gw_t *gw) {
    json_object *arr = json_object_new_array();
    if (!gw) return arr;
    int64_t now_ns = hz_time_mono_ns(), now_wall = hz_time_now_ms();
    pthread_mutex_lock(&gw->lock);
    for (size_t i = 0; i < gw->n_slots; i++) {
        const gw_slot_t *s = &gw->slots[i];
        const gw_provider_t *p = s->p;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(p->id));
        json_object_object_add(o, "type", json_object_new_string(p->type));
        json_object_object_add(o, "wire", json_object_new_string(hz_gw_wire_name(p->wire)));
        json_object_object_add(o, "base_url", json_object_new_string(p->base_url));
        json_object *models = json_object_new_array();
        for (size_t m = 0; m < p->n_models; m++)
            json_object_array_add(models, json_object_new_string(p->models[m]));
        json_object_object_add(o, "models", models);
        json_object_object_add(o, "has_api_key", json_object_new_boolean(p->api_key != NULL));
        json_object_object_add(o, "api_key_hint", key_hint(p->api_key));
        json_object_object_add(o, "connect_timeout_ms", json_object_new_int(p->connect_timeout_ms));
        json_object_object_add(o, "first_byte_timeout_ms", json_object_new_int(p->first_byte_timeout_ms));
        json_object_object_add(o, "idle_timeout_ms", json_object_new_int(p->idle_timeout_ms));
        json_object_object_add(o, "max_retries", json_object_new_int(p->max_retries));
        int64_t until = 0;
        if (s->cooldown_until_ns > now_ns) until = now_wall + (s->cooldown_until_ns - now_ns) / 1000000;
        json_object_object_add(o, "cooldown_until_ms", json_object_new_int64(until));
        json_object_object_add(o, "consecutive_failures", json_object_new_int(s->failures));
        json_object_array_add(arr, o);
    }
    pthread_mutex_unlock(&gw->lock);
    return arr;
}

static int check_model_id(const char *what, const char *s) {
    if (!s || !s[0]) return hz_error_set(HZ_EINVAL, "%s is empty", what);
    size_t n = strlen(s);
    if (n > 255) return hz_error_set(HZ_EINVAL, "%s is longer than 255 bytes", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return hz_error_set(HZ_EINVAL, "%s \"%s\" has a space or control character at byte %zu", what, s, i);
    }
    if (hz_utf8_valid_prefix(s, n) != n) return hz_error_set(HZ_EINVAL, "%s is not valid UTF-8", what);
    return 0;
}

int hz_gw_alias_set(hz_gw_t *gw, const char *alias, const char *const *targets, size_t n) {
    if (!gw) return hz_error_set(HZ_EINVAL, "gateway is NULL");
    int rc = check_model_id("alias", alias);
    if (rc) return rc;
    if (n == 0 || !targets) return hz_error_set(HZ_EINVAL, "alias %s: targets is empty", alias);
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof(what), "alias target %zu", i);
        if ((rc = check_model_id(what, targets[i]))) return rc;
        if (strcmp(targets[i], alias) == 0)
            return hz_error_set(HZ_EINVAL, "alias %s: target %zu names the alias itself", alias, i);
    }
    char **copy = hz_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) copy[i] = hz_strdup(targets[i]);

    char **old = NULL;
    size_t old_n = 0;
    pthread_mutex_lock(&gw->lock);
    gw_alias_t *a = alias_find(gw, alias);
    if (a) {
        old = a->targets;
        old_n = a->n;
    } else {
        if (gw->n_aliases == gw->cap_aliases) {
            gw->cap_aliases = gw->cap_aliases ? 2 * gw->cap_aliases : 8;
            gw->aliases = hz_realloc(gw->aliases, gw->cap_aliases * sizeof(*gw->aliases));
        }
        a = &gw->aliases[gw->n_aliases++];
        a->name = hz_strdup(alias);
    }
    a->targets = copy;
    a->n = n;
    pthread_mutex_unlock(&gw->lock);
    gw_strv_free(old, old_n);
    return 0;
}

int hz_gw_alias_remove(hz_gw_t *gw, const char *alias) {
    if (!gw || !alias) return hz_error_set(HZ_EINVAL, "gateway or alias is NULL");
    gw_alias_t gone = {0};
    bool found = false;
    pthread_mutex_lock(&gw->lock);
    gw_alias_t *a = alias_find(gw, alias);
    if (a) {
        gone = *a;
        *a = gw->aliases[--gw->n_aliases];
        found = true;
    }
    pthread_mutex_unlock(&gw->lock);
    if (!found) return hz_error_set(HZ_ENOTFOUND, "no alias \"%s\"", alias);
    hz_free(gone.name);
    gw_strv_free(gone.targets, gone.n);
    return 0;
}

static json_object *model_entry(const char *id, int64_t created, const char *owned_by) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "object", json_object_new_string("model"));
    json_object_object_add(o, "created", json_object_new_int64(created));
    json_object_object_add(o, "owned_by", json_object_new_string(owned_by));
    return o;
}

json_object *hz_gw_models(hz_gw_t *gw) {
    json_object *list = json_object_new_object();
    json_object *data = json_object_new_array();
    json_object_object_add(list, "object", json_object_new_string("list"));
    json_object_object_add(list, "data", data);
    if (!gw) return list;
    if (gw->opts.engine) gw_local_models(gw->opts.engine, data);
    pthread_mutex_lock(&gw->lock);
    for (size_t i = 0; i < gw->n_slots; i++) {
        const gw_provider_t *p = gw->slots[i].p;
        for (size_t m = 0; m < p->n_models; m++) {
            char *id = hz_sprintf("%s/%s", p->id, p->models[m]);
            json_object_array_add(data, model_entry(id, gw->created_s, p->id));
            hz_free(id);
        }
    }
    for (size_t i = 0; i < gw->n_aliases; i++)
        json_object_array_add(data, model_entry(gw->aliases[i].name, gw->created_s, "alias"));
    pthread_mutex_unlock(&gw->lock);
    return list;
}

json_object *hz_gw_model(hz_gw_t *gw, const char *id) {
    if (!gw || !id) return NULL;
    json_object *list = hz_gw_models(gw);
    json_object *data = json_object_object_get(list, "data");
    json_object *found = NULL;
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n && !found; i++) {
        json_object *m = json_object_array_get_idx(data, i);
        const char *mid = json_object_get_string(json_object_object_get(m, "id"));
        if (mid && strcmp(mid, id) == 0) found = json_object_get(m);
    }
    json_object_put(list);
    return found;
}

/* ---- the router seam -------------------------------------------------------------------- */

const hz_gw_options_t *gw_options(hz_gw_t *gw) { return &gw->opts; }

/* A reference to the provider's current snapshot, or NULL. */
gw_provider_t *gw_provider_get(hz_gw_t *gw, const char *id) {
    pthread_mutex_lock(&gw->lock);
    gw_slot_t *s = slot_find(gw, id);
    gw_provider_t *p = s ? gw_provider_ref(s->p) : NULL;
    pthread_mutex_unlock(&gw->lock);
    return p;
}

/* A copy of the alias's targets (free with gw_strv_free), or NULL when there is no alias. */
char **gw_alias_get(hz_gw_t *gw, const char *alias, size_t *n) {
    char **out = NULL;
    *n = 0;
    pthread_mutex_lock(&gw->lock);
    gw_alias_t *a = alias_find(gw, alias);
    if (a) {
        out = hz_calloc(a->n, sizeof(char *));
        for (size_t i = 0; i < a->n; i++) out[i] = hz_strdup(a->targets[i]);
        *n = a->n;
    }
    pthread_mutex_unlock(&gw->lock);
    return out;
}

bool gw_cooling(hz_gw_t *gw, const char *id) {
    int64_t now = hz_time_mono_ns();
    pthread_mutex_lock(&gw->lock);
    gw_slot_t *s = slot_find(gw, id);
    bool cooling = s && s->cooldown_until_ns > now;
    pthread_mutex_unlock(&gw->lock);
    return cooling;
}

/* Called once per request that reached a provider: success clears its record; the
 * cooldown_failures-th failure in a row starts a cooldown. The count is kept, so once the
 * cooldown ends a single further failure starts the next one (a half-open circuit). */
void gw_provider_outcome(hz_gw_t *gw, const char *id, bool ok) {
    pthread_mutex_lock(&gw->lock);
    gw_slot_t *s = slot_find(gw, id);
    if (s) {
        if (ok) {
            s->failures = 0;
            s->cooldown_until_ns = 0;
        } else if (++s->failures >= gw->opts.cooldown_failures) {
            s->cooldown_until_ns = hz_time_mono_ns() + (int64_t)gw->opts.cooldown_ms * 1000000;
            hz_log_warn("gateway", "provider %s failed %d requests in a row: cooling down for %d ms",
                        id, s->failures, gw->opts.cooldown_ms);
        }
    }
    pthread_mutex_unlock(&gw->lock);
}
