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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "hanzo/artifact.h"

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
    int rc = hz_ai_store_delete(api->artifacts, hash);
    if (rc) { respond_failure(req, rc); return; }
    hz_log_info("api", "artifact %s deleted", hash);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(hash));
    json_object_object_add(o, "deleted", json_object_new_boolean(1));
    hz_http_respond_json(req, 200, o);
}
