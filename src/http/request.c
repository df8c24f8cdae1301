/*
 * What a handler sees of a request, and the ways it answers. Accessors read straight from
 * libmicrohttpd's parsed request (headers and query arguments are looked up on demand, not
 * copied), so they are valid only during the handler call.
 *
 * Every reply goes through hz_http_queue, which adds what the pipeline owes each response: the
 * request id, the CORS headers when the Origin is allowed, the headers the handler set, and
 * "Connection: close" once the server is shutting down so keep-alive clients move elsewhere.
 * A second answer to the same request is a handler bug: it is logged and dropped rather than
 * sent, because libmicrohttpd would reject it anyway.
 */
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

unsigned hz_http_req_method(const hz_http_req_t *req) { return req->method; }
const char *hz_http_req_path(const hz_http_req_t *req) { return req->path; }
const char *hz_http_req_id(const hz_http_req_t *req) { return req->id; }

const char *hz_http_req_param(const hz_http_req_t *req, const char *name) {
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->pnames[i], name) == 0) return req->pvals[i];
    return NULL;
}

const char *hz_http_req_query(const hz_http_req_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *hz_http_req_header(const hz_http_req_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *hz_http_req_body(const hz_http_req_t *req, size_t *len) {
    if (len) *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

int hz_http_req_json(hz_http_req_t *req, json_object **out) {
    size_t len;
    const char *body = hz_http_req_body(req, &len);
    *out = NULL;
    int rc = hz_json_parse(body, len, out);
    if (rc) {
        hz_http_respond_error(req, 400, "invalid_request_error", "invalid_json", "request body is not valid JSON: %s",
                              hz_error_last());
        return rc;
    }
    return 0;
}

void hz_http_set_header(hz_http_req_t *req, const char *name, const char *value) {
    if (!name || !value) return;
    hz_buf_append(&req->headers, name, strlen(name) + 1);
    hz_buf_append(&req->headers, value, strlen(value) + 1);
}

static void add_header(hz_http_req_t *req, struct MHD_Response *res, const char *name, const char *value) {
    if (MHD_add_response_header(res, name, value) != MHD_YES)
        hz_log_warn("http", "request %s: header \"%s\" dropped (bad characters or out of memory)", req->id, name);
}

bool hz_http_claim(hz_http_req_t *req) {
    if (req->deferred) return hz_defer_claim(req);
    if (req->responded) {
        hz_log_error("http", "request %s (%s): handler answered twice; the second answer is dropped", req->id,
                     req->path);
        return false;
    }
    return true;
}

bool hz_http_queue(hz_http_req_t *req, int status, struct MHD_Response *res) {
    if (!res) {  /* libmicrohttpd could not allocate: the connection will just close */
        if (req->deferred) hz_defer_queue(req, status, NULL);
        else req->responded = true;
        return false;
    }
    add_header(req, res, "X-Request-Id", req->id);
    if (req->cors_origin) {
        add_header(req, res, "Access-Control-Allow-Origin", req->cors_origin);
        add_header(req, res, "Vary", "Origin");
        add_header(req, res, "Access-Control-Expose-Headers", "X-Request-Id");
    }
    for (size_t off = 0; off < req->headers.len;) {
        const char *name = req->headers.data + off;
        const char *value = name + strlen(name) + 1;
        add_header(req, res, name, value);
        off = (size_t)(value + strlen(value) + 1 - req->headers.data);
    }
    if (atomic_load_explicit(&req->srv->stopping, memory_order_relaxed))
        MHD_add_response_header(res, "Connection", "close");
    if (req->deferred) {
        hz_defer_queue(req, status, res);  /* req may be gone after this */
        return true;
    }
    enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)status, res);
    MHD_destroy_response(res);
    req->responded = true;
    if (ok != MHD_YES) {
        hz_log_warn("http", "request %s: libmicrohttpd refused the %d reply", req->id, status);
        return false;
    }
    req->status = status;
    return true;
}

void hz_http_respond(hz_http_req_t *req, int status, const char *content_type, const void *body, size_t len) {
    if (!hz_http_claim(req)) return;
    struct MHD_Response *res = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!res) {
        hz_log_error("http", "request %s: cannot create a %zu-byte reply", req->id, len);
        res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 500;
        if (!res) return;
    }
    if (content_type) add_header(req, res, "Content-Type", content_type);
    hz_http_queue(req, status, res);
}

void hz_http_respond_fd(hz_http_req_t *req, int status, const char *content_type, int fd, uint64_t offset,
                        uint64_t len) {
    if (!hz_http_claim(req)) {
        close(fd);
        return;
    }
    /* libmicrohttpd reads the region with pread (or sends it with sendfile) and closes fd when
     * the response is destroyed; it refuses regions past INT64_MAX. */
    struct MHD_Response *res = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!res) {
        close(fd);
        hz_log_error("http", "request %s: cannot create a reply from a file (offset %llu, %llu bytes)", req->id,
                     (unsigned long long)offset, (unsigned long long)len);
        size_t blen;
        char *body = hz_http_error_body("server_error", "internal_error", "the reply could not be created", &blen);
        res = MHD_create_response_from_buffer_with_free_callback(blen, body, hz_free);
        if (!res) {
            hz_free(body);
            hz_http_queue(req, 500, NULL);  /* marks req answered; the connection just closes */
            return;
        }
        content_type = "application/json";
        status = 500;
    }
    if (content_type) add_header(req, res, "Content-Type", content_type);
    hz_http_queue(req, status, res);
}

void hz_http_respond_json(hz_http_req_t *req, int status, json_object *obj) {
    size_t len = 0;
    const char *s =
        json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    hz_http_respond(req, status, "application/json", s ? s : "null", s ? len : 4);
    json_object_put(obj);
}

/* Messages may quote client input (a path with %FF in it, a truncated vsnprintf): replace
 * bytes that are not UTF-8 so the reply is always valid JSON. */
static void put_json_text(hz_buf_t *b, const char *s) {
    size_t n = strlen(s), ok = hz_utf8_valid_prefix(s, n);
    if (ok == n) {
        hz_buf_put_json_string(b, s, n);
        return;
    }
    hz_buf_t clean = HZ_BUF_INIT;
    while (n) {
        ok = hz_utf8_valid_prefix(s, n);
        hz_buf_append(&clean, s, ok);
        if (ok == n) break;
        hz_buf_putc(&clean, '?');
        s += ok + 1;
        n -= ok + 1;
    }
    hz_buf_put_json_string(b, clean.data, clean.len);
    hz_buf_free(&clean);
}

char *hz_http_error_body(const char *type, const char *code, const char *msg, size_t *len) {
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_puts(&b, "{\"error\":{\"message\":");
    put_json_text(&b, msg);
    hz_buf_puts(&b, ",\"type\":");
    hz_buf_put_json_string(&b, type, strlen(type));
    hz_buf_puts(&b, ",\"code\":");
    if (code)
        hz_buf_put_json_string(&b, code, strlen(code));
    else
        hz_buf_puts(&b, "null");
    hz_buf_puts(&b, "}}");
    return hz_buf_detach(&b, len);
}

void hz_http_respond_error(hz_http_req_t *req, int status, const char *type, const char *code, const char *fmt, ...) {
    if (!hz_http_claim(req)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len;
    char *body = hz_http_error_body(type ? type : "api_error", code, msg, &len);
    struct MHD_Response *res = MHD_create_response_from_buffer_with_free_callback(len, body, hz_free);
    if (!res) {
        hz_free(body);
        hz_log_error("http", "request %s: cannot create an error reply", req->id);
        res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!res) return;
    }
    add_header(req, res, "Content-Type", "application/json");
    hz_http_queue(req, status, res);
}
