/*
 * /v2/artifacts: the node's store of .ai artifacts (HIP-0024), over the artifact module's local
 * content-addressed store (<storage>/artifacts).
 *
 *   POST   /v2/artifacts                 upload an archive (the body); verified, then stored
 *   GET    /v2/artifacts                 list every artifact's summary
 *   GET    /v2/artifacts/{hash}          download the archive; Range supported (one range)
 *   GET    /v2/artifacts/{hash}/manifest its manifest.json, as stored
 *   DELETE /v2/artifacts/{hash}
 *
 * Archives can be far larger than memory, so neither direction holds one: the upload route streams
 * its body to a file in the server's upload folder (HZ_ROUTE_BODY_TO_FILE, bounded by the server's
 * max_upload_bytes), and downloads are sent from the stored file with hz_http_respond_fd. Verifying
 * an upload reads every byte (BLAKE3 of many GiB takes seconds), so it runs on the server's worker
 * threads (hz_http_defer_work), not on a thread that serves requests; if the server shuts down
 * first, the verification is cancelled through its progress callback. An upload that fails
 * verification is a 400 whose error code is the rejection reason ("path_traversal", ...).
 *
 * A Model or QuantizedModel artifact with GGUF weights becomes a model the node serves: its
 * weights are copied out of the archive once (verified on the way) and registered with the
 * engine under the artifact's name; deleting the artifact unregisters it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "hanzo/artifact.h"
#include "hanzo/llm.h"

static int status_of(int rc) {
    switch (rc) {
    case HZ_ENOTFOUND: return 404;
    case HZ_ETOOBIG: return 413;
    case HZ_EAUTH: return 403;
    case HZ_EEXIST: return 409;
    case HZ_EIO: case HZ_EINTERNAL: return 500;
    default: return 400;
    }
}

static void respond_failure(hz_http_req_t *req, int rc) {
    int status = status_of(rc);
    hz_ai_err_t reason = hz_ai_error_reason();
    const char *code = reason != HZ_AI_OK ? hz_ai_error_name(reason) : status == 404 ? "not_found" : "invalid_artifact";
    hz_http_respond_error(req, status, status >= 500 ? "server_error" : status == 404 ? "not_found_error" : "invalid_request_error",
                          code, "%s", hz_error_last());
}

static bool store_ready(hz_http_req_t *req, hz_api_t *api) {
    if (api->artifacts) return true;
    hz_http_respond_error(req, 503, "server_error", "artifacts_unavailable", "the artifact store is not open");
    return false;
}

typedef struct {
    hz_api_t *api;
    char *path;      /* the uploaded body, ours to move or delete */
    uint64_t len;
} upload_t;

static bool keep_going(void *ctx, const char *phase, uint64_t done, uint64_t total) {
    (void)phase, (void)done, (void)total;
    return !hz_http_req_abandoned(ctx);
}

/* Engine names cannot hold '/' (that means provider/model) or spaces. */
static char *model_name_of(json_object *summary, const char *hash) {
    json_object *md, *nm;
    const char *name = json_object_object_get_ex(summary, "metadata", &md) &&
                               json_object_object_get_ex(md, "name", &nm) && json_object_is_type(nm, json_type_string)
                           ? json_object_get_string(nm) : "";
    char *out = *name ? hz_strdup(name) : hz_sprintf("ai-%.12s", hash);
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '\t') *p = '-';
    return out;
}

/* Register one stored artifact's GGUF with the engine; *name_out (may be NULL) gets the name. */
static int register_model(hz_api_t *api, const char *hash, json_object *summary, char **name_out) {
    if (name_out) *name_out = NULL;
    if (!api->llm || !json_object_object_get_ex(summary, "gguf", NULL)) return HZ_ENOTFOUND;
    char *path = NULL;
    int rc = hz_ai_store_model_path(api->artifacts, hash, &path);
    if (rc) return rc;
    hz_llm_model_info_t info;  /* a file named .gguf that is not one would only fail at load */
    if ((rc = hz_llm_gguf_read(path, &info)) != 0) { hz_free(path); return rc; }
    bool servable = !info.adapter;
    hz_llm_model_info_free(&info);
    if (!servable) { hz_free(path); return hz_error_set(HZ_EINVAL, "its GGUF is a LoRA adapter, not a model"); }
    char *name = model_name_of(summary, hash);
    rc = hz_llm_engine_add(api->llm, name, path);
    if (rc == HZ_EEXIST) {
        char *alt = hz_sprintf("%s-%.12s", name, hash);
        hz_free(name);
        name = alt;
        rc = hz_llm_engine_add(api->llm, name, path);
    }
    if (!rc) hz_log_info("api", "artifact %.12s serves model \"%s\" (%s)", hash, name, path);
    if (!rc && name_out) *name_out = name;
    else hz_free(name);
    hz_free(path);
    return rc;
}

/* Forget the models whose weights were copied out of this artifact. */
static void unregister_models(hz_api_t *api, const char *hash) {
    if (!api->llm) return;
    char *prefix = hz_sprintf("%s/%.2s/%s.models/", hz_ai_store_root(api->artifacts), hash, hash);
    json_object *st = hz_llm_engine_status(api->llm);
    for (size_t i = 0; i < json_object_array_length(st); i++) {
        json_object *m = json_object_array_get_idx(st, i), *p, *n;
        if (json_object_object_get_ex(m, "path", &p) && hz_str_starts_with(json_object_get_string(p), prefix) &&
            json_object_object_get_ex(m, "name", &n) && hz_llm_engine_remove(api->llm, json_object_get_string(n)) != 0)
            hz_log_warn("api", "model %s stays registered: %s", json_object_get_string(n), hz_error_last());
    }
    json_object_put(st);
    hz_free(prefix);
}

int hz_api_register_artifact_models(hz_api_t *api) {
    if (!api->artifacts || !api->llm) return 0;
    json_object *arr = NULL;
    if (hz_ai_store_list(api->artifacts, &arr) != 0) {
        hz_log_warn("api", "listing artifacts for models: %s", hz_error_last());
        json_object_put(arr);
        return 0;
    }
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *sum = json_object_array_get_idx(arr, i), *h;
        if (!json_object_object_get_ex(sum, "gguf", NULL) || !json_object_object_get_ex(sum, "content_hash", &h)) continue;
        if (register_model(api, json_object_get_string(h), sum, NULL) == 0) n++;
        else hz_log_warn("api", "artifact %s: not served as a model: %s", json_object_get_string(h), hz_error_last());
    }
    json_object_put(arr);
    return n;
}

/* On a worker thread: verify the uploaded file and move it into the store. */
static void upload_work(hz_http_req_t *req, void *arg) {
    upload_t *up = arg;
    hz_ai_read_opts_t ro = {.progress = keep_going, .progress_ctx = req};
    char hash[HZ_AI_HASH_HEX_LEN + 1];
    bool existed = false;
    int rc = hz_ai_store_add(up->api->artifacts, up->path, true, &ro, hash, &existed);
    unlink(up->path);  /* still there when it was rejected, or copied rather than moved */
    json_object *summary = NULL;
    if (!rc) rc = hz_ai_store_get(up->api->artifacts, hash, &summary);
    if (rc) {
        respond_failure(req, rc);
    } else {
        json_object_object_add(summary, "existed", json_object_new_boolean(existed));
        char *model = NULL;
        int mrc = register_model(up->api, hash, summary, &model);
        if (mrc == 0) json_object_object_add(summary, "model", json_object_new_string(model));
        else if (mrc != HZ_ENOTFOUND) hz_log_warn("api", "artifact %s: not served as a model: %s", hash, hz_error_last());
        hz_free(model);
        hz_log_info("api", "artifact %s %s (%llu bytes)", hash, existed ? "already stored" : "stored",
                    (unsigned long long)up->len);
        hz_http_respond_json(req, existed ? 200 : 201, summary);
    }
    hz_free(up->path);
    hz_free(up);
}

void api_artifacts_upload(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!store_ready(req, api)) return;
    uint64_t len = 0;
    if (!hz_http_req_body_file(req, &len) || len == 0) {
        hz_http_respond_error(req, 400, "invalid_request_error", "empty_body", "send the .ai archive as the request body");
        return;
    }
    upload_t *up = hz_malloc(sizeof(*up));
    up->api = api;
    up->len = len;
    up->path = hz_http_req_take_body_file(req);
    if (hz_http_defer_work(req, upload_work, up) != 0) {  /* answered 503 already */
        unlink(up->path);
        hz_free(up->path);
        hz_free(up);
    }
}

void api_artifacts_list(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!store_ready(req, api)) return;
    json_object *arr;
    int rc = hz_ai_store_list(api->artifacts, &arr);
    if (rc) { json_object_put(arr); respond_failure(req, rc); return; }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", arr);
    hz_http_respond_json(req, 200, o);
}

/* One "bytes=" range of a size-byte file: [*start, *start + *len). Returns 0 when absent (whole
 * file), 1 for a valid range, -1 when unsatisfiable or malformed (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *len) {
    *start = 0;
    *len = size;
    if (!h) return 0;
    if (!hz_str_starts_with(h, "bytes=") || strchr(h, ',')) return -1;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (!dash) return -1;
    char *end;
    if (dash == p) { /* suffix: the last N bytes */
        unsigned long long n = strtoull(dash + 1, &end, 10);
        if (*end || dash[1] == '\0' || n == 0 || size == 0) return -1;
        if (n > size) n = size;
        *start = size - n;
        *len = n;
        return 1;
    }
    unsigned long long a = strtoull(p, &end, 10);
    if (end != dash || a >= size) return -1;
    unsigned long long b = size - 1;
    if (dash[1]) {
        b = strtoull(dash + 1, &end, 10);
        if (*end || b < a) return -1;
        if (b >= size) b = size - 1;
    }
    *start = a;
    *len = b - a + 1;
    return 1;
}

void api_artifacts_download(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!store_ready(req, api)) return;
    const char *hash = hz_http_req_param(req, "hash");
    char *path;
    int rc = hz_ai_store_path(api->artifacts, hash, &path);
    if (rc) { respond_failure(req, rc); return; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = hz_error_errno(HZ_EIO, errno, "%s", path);
        if (fd >= 0) close(fd);
        hz_free(path);
        respond_failure(req, rc);
        return;
    }
    hz_free(path);
    uint64_t size = (uint64_t)st.st_size, start, len;
    int r = parse_range(hz_http_req_header(req, "Range"), size, &start, &len);
    char hdr[128];
    if (r < 0) {
        close(fd);
        snprintf(hdr, sizeof(hdr), "bytes */%llu", (unsigned long long)size);
        hz_http_set_header(req, "Content-Range", hdr);
        hz_http_respond_error(req, 416, "invalid_request_error", "range_not_satisfiable", "the archive has %llu bytes",
                              (unsigned long long)size);
        return;
    }
    hz_http_set_header(req, "Accept-Ranges", "bytes");
    snprintf(hdr, sizeof(hdr), "\"%s\"", hash);
    hz_http_set_header(req, "ETag", hdr);
    snprintf(hdr, sizeof(hdr), "attachment; filename=\"%s.ai\"", hash);
    hz_http_set_header(req, "Content-Disposition", hdr);
    if (r > 0) {
        snprintf(hdr, sizeof(hdr), "bytes %llu-%llu/%llu", (unsigned long long)start, (unsigned long long)(start + len - 1),
                 (unsigned long long)size);
        hz_http_set_header(req, "Content-Range", hdr);
    }
    /* Stored archives are replaced by rename, never rewritten in place, so the open file keeps
     * its size while it is sent. */
    hz_http_respond_fd(req, r > 0 ? 206 : 200, "application/zip", fd, start, len);
}

void api_artifacts_manifest(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!store_ready(req, api)) return;
    char *path, *text;
    size_t len;
    int rc = hz_ai_store_path(api->artifacts, hz_http_req_param(req, "hash"), &path);
    if (rc) { respond_failure(req, rc); return; }
    rc = hz_ai_read_entry(path, "manifest.json", (uint64_t)64 << 20, &text, &len);
    hz_free(path);
    if (rc) { respond_failure(req, rc); return; }
    hz_http_respond(req, 200, "application/json", text, len);
    hz_free(text);
}

void api_artifacts_delete(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    if (!store_ready(req, api)) return;
    const char *hash = hz_http_req_param(req, "hash");
    char *path = NULL;
    if (hz_ai_store_path(api->artifacts, hash, &path) == 0) unregister_models(api, hash); /* before its files go */
    hz_free(path);
    int rc = hz_ai_store_delete(api->artifacts, hash);
    if (rc) { respond_failure(req, rc); return; }
    hz_log_info("api", "artifact %s deleted", hash);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(hash));
    json_object_object_add(o, "deleted", json_object_new_boolean(1));
    hz_http_respond_json(req, 200, o);
}
