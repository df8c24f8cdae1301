/*
 * metadata.json: the HIP-0024 schema as the reference implementation (de)serialises it. Every
 * field the reference requires is required here too, with the same JSON types; Option fields may
 * be null or absent; unknown top-level fields are ignored, as serde does, so a newer writer's
 * additions do not break us. The closed vocabularies (type, licence, network, location) are
 * checked by vocab.c.
 *
 * Building metadata for a pack starts from an existing metadata.json when the packed folder has
 * one (so unpack + pack keeps id, description, requirements, ...), applies the caller's options,
 * and writes the fields in the reference's order.
 */
#include "artifact/internal.h"

#include <string.h>

static int bad(const char *field, const char *msg) {
    return ai_fail(HZ_AI_ERR_METADATA, HZ_EINVAL, "metadata.json: %s: %s", field, msg);
}

static int need(json_object *m, const char *key, json_type t, bool optional, json_object **out) {
    json_object *v = NULL;
    bool present = json_object_object_get_ex(m, key, &v);
    if (out) *out = v;
    if (!present || !v) {
        if (optional) return 0;
        return bad(key, present ? "must not be null" : "missing");
    }
    if (!json_object_is_type(v, t)) {
        static const char *names[] = {"null", "a boolean", "a number", "an integer", "an object", "an array", "a string"};
        char msg[64];
        snprintf(msg, sizeof(msg), "expected %s", (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?");
        return bad(key, msg);
    }
    return 0;
}

static int check_strings(json_object *arr, const char *field) {
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (!json_object_is_type(json_object_array_get_idx(arr, i), json_type_string)) {
            char f[96];
            snprintf(f, sizeof(f), "%s[%zu]", field, i);
            return bad(f, "expected a string");
        }
    return 0;
}

static int check_time(json_object *m, const char *key) {
    json_object *v;
    int rc = need(m, key, json_type_string, false, &v);
    if (rc) return rc;
    int64_t ms;
    if (hz_time_parse_rfc3339(json_object_get_string(v), &ms) != 0) return bad(key, "not an RFC 3339 timestamp");
    return 0;
}

static int check_opt_uint(json_object *o, const char *key, uint64_t max, const char *field) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 0;
    if (!ai_json_uint(v, max, NULL)) {
        char f[96];
        snprintf(f, sizeof(f), "%s.%s", field, key);
        return bad(f, "expected a non-negative integer in range, or null");
    }
    return 0;
}

static int check_locations(json_object *arr, const char *field) {
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        char f[128];
        snprintf(f, sizeof(f), "metadata.json: %s[%zu]", field, i);
        int rc = ai_location_validate(json_object_array_get_idx(arr, i), f);
        if (rc) return rc;
    }
    return 0;
}

int hz_ai_metadata_validate(json_object *m) {
    ai_reason_clear();
    if (!m || !json_object_is_type(m, json_type_object)) return bad("(top level)", "expected an object");
    json_object *v;
    int rc;
    if ((rc = need(m, "id", json_type_string, false, NULL))) return rc;
    if ((rc = need(m, "name", json_type_string, false, &v))) return rc;
    if (json_object_get_string_len(v) == 0) return bad("name", "must not be empty");
    if ((rc = need(m, "version", json_type_string, false, NULL))) return rc;
    if ((rc = need(m, "description", json_type_string, true, NULL))) return rc;
    if ((rc = need(m, "author", json_type_string, true, NULL))) return rc;
    if (!json_object_object_get_ex(m, "artifact_type", &v)) return bad("artifact_type", "missing");
    if ((rc = ai_type_validate(v, "metadata.json: artifact_type"))) return rc;
    if (!json_object_object_get_ex(m, "license", &v)) return bad("license", "missing");
    if ((rc = ai_license_validate(v, "metadata.json: license"))) return rc;
    if ((rc = need(m, "tags", json_type_array, false, &v)) || (rc = check_strings(v, "tags"))) return rc;
    if ((rc = check_time(m, "created_at")) || (rc = check_time(m, "updated_at"))) return rc;
    if (!json_object_object_get_ex(m, "size_bytes", &v) || !ai_json_uint(v, UINT64_MAX, NULL))
        return bad("size_bytes", "expected a non-negative integer");
    if ((rc = need(m, "content_hash", json_type_string, false, &v))) return rc;
    if (!ai_hex64_valid(json_object_get_string(v))) return bad("content_hash", "expected 64 lowercase hex digits");

    json_object *req;
    if ((rc = need(m, "requirements", json_type_object, false, &req))) return rc;
    if ((rc = check_opt_uint(req, "min_vram_mb", UINT32_MAX, "requirements")) ||
        (rc = check_opt_uint(req, "min_ram_mb", UINT32_MAX, "requirements")) ||
        (rc = check_opt_uint(req, "recommended_batch_size", UINT64_MAX, "requirements")))
        return rc;
    if (!json_object_object_get_ex(req, "gpu_required", &v) || !json_object_is_type(v, json_type_boolean))
        return bad("requirements.gpu_required", "expected a boolean");
    if (!json_object_object_get_ex(req, "backends", &v) || !json_object_is_type(v, json_type_array))
        return bad("requirements.backends", "expected an array of strings");
    if ((rc = check_strings(v, "requirements.backends"))) return rc;

    if ((rc = need(m, "networks", json_type_array, false, &v))) return rc;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        char f[96];
        snprintf(f, sizeof(f), "metadata.json: networks[%zu]", i);
        if ((rc = ai_network_validate(json_object_array_get_idx(v, i), f))) return rc;
    }
    if ((rc = need(m, "locations", json_type_array, false, &v)) || (rc = check_locations(v, "locations"))) return rc;
    json_object *deps;
    if ((rc = need(m, "dependencies", json_type_array, false, &deps))) return rc;
    for (size_t i = 0; i < json_object_array_length(deps); i++) {
        json_object *d = json_object_array_get_idx(deps, i), *x;
        char f[96];
        snprintf(f, sizeof(f), "dependencies[%zu]", i);
        if (!d || !json_object_is_type(d, json_type_object)) return bad(f, "expected an object");
        static const char *keys[] = {"hash", "name", "version"};
        for (size_t k = 0; k < 3; k++)
            if (!json_object_object_get_ex(d, keys[k], &x) || !json_object_is_type(x, json_type_string)) {
                char f2[128];
                snprintf(f2, sizeof(f2), "%s.%s", f, keys[k]);
                return bad(f2, "expected a string");
            }
        if (!json_object_object_get_ex(d, "locations", &x) || !json_object_is_type(x, json_type_array)) {
            char f2[128];
            snprintf(f2, sizeof(f2), "%s.locations", f);
            return bad(f2, "expected an array");
        }
        char f3[128];
        snprintf(f3, sizeof(f3), "%s.locations", f);
        if ((rc = check_locations(x, f3))) return rc;
    }
    /* `custom` is required by the reference's deserialiser; we write it always and accept its
     * absence in what we read. */
    if ((rc = need(m, "custom", json_type_object, true, NULL))) return rc;
    return 0;
}

/* base[key] (a new reference), or fallback (taken). */
static json_object *from_base(json_object *base, const char *key, json_object *fallback) {
    json_object *v;
    if (base && json_object_object_get_ex(base, key, &v) && v) {
        json_object_put(fallback);
        return json_object_get(v);
    }
    return fallback;
}

int ai_metadata_build(const ai_meta_in_t *in, json_object **out) {
    const hz_ai_pack_opts_t *o = in->opts;
    json_object *base = in->base;
    json_object *m = json_object_new_object();
    int rc = 0;
    char ts[32], uuid[HZ_UUID_STRLEN + 1];

    hz_uuid_v4(uuid);
    json_object_object_add(m, "id", from_base(base, "id", json_object_new_string(uuid)));
    json_object_object_add(m, "name", o->name ? json_object_new_string(o->name) : from_base(base, "name", NULL));
    json_object_object_add(m, "version", o->version ? json_object_new_string(o->version)
                                                    : from_base(base, "version", json_object_new_string("1.0.0")));
    json_object_object_add(m, "description", o->description ? json_object_new_string(o->description)
                                                            : from_base(base, "description", NULL));
    json_object *type = NULL;
    if (o->type) {
        if ((rc = hz_ai_type_parse(o->type, &type))) goto fail;
    } else {
        type = from_base(base, "artifact_type", NULL);
    }
    if (!type) { rc = hz_error_set(HZ_EINVAL, "the artifact type is required (--type; one of Model, Weights, QuantizedModel, ...)"); goto fail; }
    json_object_object_add(m, "artifact_type", type);
    json_object_object_add(m, "author", o->author ? json_object_new_string(o->author) : from_base(base, "author", NULL));
    json_object *lic = NULL;
    if (o->license) {
        if ((rc = ai_license_parse(o->license, &lic))) goto fail;
    } else {
        lic = from_base(base, "license", json_object_new_string("Apache2"));
    }
    json_object_object_add(m, "license", lic);
    if (o->ntags) {
        json_object *tags = json_object_new_array();
        for (size_t i = 0; i < o->ntags; i++) json_object_array_add(tags, json_object_new_string(o->tags[i]));
        json_object_object_add(m, "tags", tags);
    } else {
        json_object_object_add(m, "tags", from_base(base, "tags", json_object_new_array()));
    }
    hz_time_format_rfc3339(in->now_ms, ts);
    json_object_object_add(m, "created_at", from_base(base, "created_at", json_object_new_string(ts)));
    json_object_object_add(m, "updated_at", json_object_new_string(ts));
    json_object_object_add(m, "size_bytes", json_object_new_uint64(in->size_bytes));
    json_object_object_add(m, "content_hash", json_object_new_string(in->content_hash));
    json_object *req = json_object_new_object();
    json_object_object_add(req, "min_vram_mb", NULL);
    json_object_object_add(req, "min_ram_mb", NULL);
    json_object_object_add(req, "gpu_required", json_object_new_boolean(0));
    json_object_object_add(req, "backends", json_object_new_array());
    json_object_object_add(req, "recommended_batch_size", NULL);
    json_object_object_add(m, "requirements", from_base(base, "requirements", req));
    json_object *nets = json_object_new_array();
    json_object_array_add(nets, json_object_new_string("All"));
    json_object_object_add(m, "networks", from_base(base, "networks", nets));
    json_object_object_add(m, "locations", from_base(base, "locations", json_object_new_array()));
    json_object_object_add(m, "dependencies", from_base(base, "dependencies", json_object_new_array()));
    json_object_object_add(m, "custom", from_base(base, "custom", json_object_new_object()));
    if (base) { /* fields a newer writer added: keep them, after ours */
        json_object_object_foreach(base, k, v) {
            if (!json_object_object_get_ex(m, k, NULL)) json_object_object_add(m, k, json_object_get(v));
        }
    }
    json_object *name = NULL;
    if (!json_object_object_get_ex(m, "name", &name) || !name) {
        rc = hz_error_set(HZ_EINVAL, "the artifact name is required (--name)");
        goto fail;
    }
    if ((rc = hz_ai_metadata_validate(m))) goto fail;
    *out = m;
    return 0;
fail:
    json_object_put(m);
    *out = NULL;
    return rc;
}
