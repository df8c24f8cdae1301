/*
 * hanzo/http.h - the HTTP server: routing, middleware, SSE and WebSocket.
 *
 * Built on libmicrohttpd in epoll thread-pool mode. A request passes, in order: request id
 * (X-Request-Id taken from the client when sane, else a new UUID; echoed on every reply),
 * routing (404 unknown path, 405 known path with another method, with Allow), CORS (only for
 * origins on the allow-list; preflight answered here), authentication (Bearer key checked by
 * the server's auth callback for every route not marked public; 401 otherwise), body limit
 * (413 from Content-Length before reading, or as soon as the body outgrows the limit), then the
 * handler. Every error uses the JSON shape {"error":{"message","type","code"}}.
 *
 * Large payloads: a route marked HZ_ROUTE_BODY_TO_FILE receives its body in a temporary file
 * (bounded by max_upload_bytes, not by memory), and hz_http_respond_fd serves a file region
 * without reading it into memory (sendfile where the kernel allows).
 *
 * Handlers run on a server thread, must not block for long, and must answer exactly once with
 * one of the hz_http_respond* calls (or start an SSE stream or a WebSocket, or hz_http_defer the
 * answer to another thread). A handler that returns without answering gets a 500.
 *
 * Threading: the server object is thread-safe after start. Request objects belong to the
 * handler call. SSE streams and WebSockets may be used from any one thread at a time.
 */
#ifndef HANZO_HTTP_H
#define HANZO_HTTP_H

#include "hanzo/base.h"

typedef struct hz_http_server hz_http_server_t;
typedef struct hz_http_req hz_http_req_t;
typedef struct hz_sse hz_sse_t;
typedef struct hz_ws hz_ws_t;

enum {
    HZ_HTTP_GET = 1 << 0,
    HZ_HTTP_POST = 1 << 1,
    HZ_HTTP_PUT = 1 << 2,
    HZ_HTTP_DELETE = 1 << 3,
    HZ_HTTP_PATCH = 1 << 4,
    HZ_HTTP_HEAD = 1 << 5,
    HZ_HTTP_OPTIONS = 1 << 6,
};

/* Route flags. */
enum {
    HZ_ROUTE_PUBLIC = 1 << 0,   /* no authentication (health routes only) */
    /* Stream the body to a temporary file in upload_dir instead of memory, up to
     * max_upload_bytes; read it with hz_http_req_body_file. */
    HZ_ROUTE_BODY_TO_FILE = 1 << 1,
};

typedef void (*hz_http_handler_fn)(hz_http_req_t *req, void *ctx);
/* Return true when token (the text after "Bearer ") is a valid key. Compare in constant time. */
typedef bool (*hz_http_auth_fn)(const char *token, size_t len, void *ctx);

typedef struct hz_http_options {
    const char *host;           /* bind address, default "127.0.0.1" */
    int port;                   /* 0 picks a free port; read it back with hz_http_server_port */
    int threads;                /* worker threads; 0 = number of cores */
    size_t max_body_bytes;      /* default 16 MiB */
    int request_timeout_s;      /* idle connection timeout, default 300 */
    const char *const *cors_origins; /* NULL-terminated allow-list; NULL or empty = CORS off */
    hz_http_auth_fn auth;       /* NULL = every route public (tests only) */
    void *auth_ctx;
    size_t ws_max_frame_bytes;  /* default 16 MiB */
    const char *upload_dir;     /* HZ_ROUTE_BODY_TO_FILE bodies; default $TMPDIR, else /tmp */
    uint64_t max_upload_bytes;  /* body limit of HZ_ROUTE_BODY_TO_FILE routes; default 64 GiB */
    int work_threads;           /* threads of hz_http_defer_work, started on first use; default 2 */
} hz_http_options_t;

int hz_http_server_new(const hz_http_options_t *opts, hz_http_server_t **out);
/* Register a route before start. Patterns are literal segments and {name} parameters:
 * "/v2/artifacts/{hash}/manifest". methods is a mask of HZ_HTTP_*. */
int hz_http_route(hz_http_server_t *srv, unsigned methods, const char *pattern, unsigned flags,
                  hz_http_handler_fn handler, void *ctx);
/* Bind and start serving. HZ_EIO naming the address when the bind fails, or naming upload_dir
 * when a route streams bodies to files and that folder is not a writable directory. */
int hz_http_server_start(hz_http_server_t *srv);
int hz_http_server_port(hz_http_server_t *srv);
/* Stop accepting, let in-flight requests and streams finish for up to deadline_ms, then close
 * everything that is left (SSE streams and WebSockets see HZ_ECLOSED). */
void hz_http_server_shutdown(hz_http_server_t *srv, int deadline_ms);
void hz_http_server_free(hz_http_server_t *srv);

/* Prometheus text exposition: hanzo_http_requests_total{route,method,status},
 * hanzo_http_request_duration_seconds (histogram), hanzo_http_requests_in_flight,
 * hanzo_process_resident_memory_bytes, ... */
void hz_http_metrics_render(hz_http_server_t *srv, hz_buf_t *out);

/* ---- requests ------------------------------------------------------------------------- */

unsigned hz_http_req_method(const hz_http_req_t *req);
const char *hz_http_req_path(const hz_http_req_t *req);
const char *hz_http_req_id(const hz_http_req_t *req);
/* Path parameter from the route pattern; NULL when the route has no such parameter. */
const char *hz_http_req_param(const hz_http_req_t *req, const char *name);
/* Query-string argument (decoded); NULL when absent. */
const char *hz_http_req_query(const hz_http_req_t *req, const char *name);
/* Request header (case-insensitive name); NULL when absent. */
const char *hz_http_req_header(const hz_http_req_t *req, const char *name);
const char *hz_http_req_body(const hz_http_req_t *req, size_t *len);
/* HZ_ROUTE_BODY_TO_FILE routes: the path of the file holding the complete body (mode 0600, in
 * upload_dir) and its length; NULL for other routes and after hz_http_req_take_body_file. The
 * file is deleted when the request completes unless the handler takes it. */
const char *hz_http_req_body_file(const hz_http_req_t *req, uint64_t *len);
/* Keep the body file: returns its path (owned, hz_free) and the file now belongs to the caller,
 * who renames, links or deletes it. NULL when there is no body file or it was already taken. */
char *hz_http_req_take_body_file(hz_http_req_t *req);
/* Parse the body as strict JSON. On failure the 400 reply has already been sent (naming the
 * byte offset) and the handler must just return. */
int hz_http_req_json(hz_http_req_t *req, json_object **out);

/* ---- responses ------------------------------------------------------------------------ */

/* Add a header to the reply that is about to be sent. */
void hz_http_set_header(hz_http_req_t *req, const char *name, const char *value);
void hz_http_respond(hz_http_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* Send len bytes of the open file fd from offset (a Range answer passes its slice). Takes fd in
 * every case: it is closed after the reply, or at once when the reply cannot be made. The file
 * must not shrink while it is being sent. Usable from a handler and after hz_http_defer. */
void hz_http_respond_fd(hz_http_req_t *req, int status, const char *content_type, int fd, uint64_t offset,
                        uint64_t len);
/* Takes ownership of obj (json_object_put after rendering). */
void hz_http_respond_json(hz_http_req_t *req, int status, json_object *obj);
/* {"error":{"message":...,"type":...,"code":...}}. type e.g. "invalid_request_error". */
void hz_http_respond_error(hz_http_req_t *req, int status, const char *type, const char *code,
                           const char *fmt, ...) HZ_PRINTF(5, 6);

/* Answer later, from any thread, so a slow upstream (a remote model, a queued job) does not hold
 * a server thread: call this in the handler, return, and when the answer is ready call exactly
 * one hz_http_respond* (or hz_http_respond_sse) on req from any thread. Until then the
 * connection is parked and costs nothing; it does not time out and a client that leaves is not
 * noticed. After hz_http_defer only the id, path, params and body of req remain readable (read
 * headers and query arguments in the handler). If the server shuts down first it answers 503
 * itself at the deadline and the late answer is dropped; req stays valid until that answer. */
void hz_http_defer(hz_http_req_t *req);

/* hz_http_defer, then run fn(req, arg) on the server's worker threads (work_threads of them):
 * for long work such as verifying an upload. fn must answer req exactly once. Returns 0 when
 * queued; otherwise req has been answered (503) and fn will not run, so the caller frees arg.
 * Shutdown waits for running work after answering its requests with 503; fn can notice that
 * with hz_http_req_abandoned and stop early. */
typedef void (*hz_http_work_fn)(hz_http_req_t *req, void *arg);
int hz_http_defer_work(hz_http_req_t *req, hz_http_work_fn fn, void *arg);
/* True once a deferred request no longer needs its answer (the server answered it at
 * shutdown). Any thread. */
bool hz_http_req_abandoned(hz_http_req_t *req);

/* ---- server-sent events --------------------------------------------------------------- */

/* Answer with 200 text/event-stream (chunked) and return a stream the caller feeds, from this
 * or any other thread, until hz_sse_close. The server keeps the connection until then. */
hz_sse_t *hz_http_respond_sse(hz_http_req_t *req);
/* Queue one event ("event: NAME\ndata: ...\n\n"; data split on newlines into data: lines;
 * event may be NULL). Returns HZ_ECLOSED once the client has gone away, so producers stop. */
int hz_sse_send(hz_sse_t *sse, const char *event, const char *data, size_t len);
/* A comment line (": text"), used as keep-alive. */
int hz_sse_comment(hz_sse_t *sse, const char *text);
bool hz_sse_client_gone(hz_sse_t *sse);
/* Finish the stream and release it; the sse pointer is invalid afterwards. */
void hz_sse_close(hz_sse_t *sse);

/* ---- WebSocket (RFC 6455) ------------------------------------------------------------- */

typedef struct hz_ws_callbacks {
    void (*on_open)(hz_ws_t *ws, void *ctx);
    /* A complete (reassembled) message. binary is false for text, which is valid UTF-8. */
    void (*on_message)(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx);
    /* Called once when the connection ends, for any reason; ws is freed after it returns. */
    void (*on_close)(hz_ws_t *ws, int code, const char *reason, void *ctx);
} hz_ws_callbacks_t;

/* Complete the WebSocket handshake for this request (validates Upgrade, Connection,
 * Sec-WebSocket-Key and Version 13; 400/426 otherwise). The callbacks run on a thread owned by
 * the connection. ctx must outlive the connection. */
void hz_http_upgrade_websocket(hz_http_req_t *req, const hz_ws_callbacks_t *cb, void *ctx);
/* Send a text or binary message; HZ_ECLOSED once closed. Thread-safe. */
int hz_ws_send(hz_ws_t *ws, bool binary, const char *data, size_t len);
/* Start the closing handshake with a status code (1000 normal) and reason. */
void hz_ws_close(hz_ws_t *ws, int code, const char *reason);

#endif
