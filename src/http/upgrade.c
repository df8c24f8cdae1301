/*
 * The HTTP half of a WebSocket: checking the handshake, answering 101 through libmicrohttpd's
 * upgrade response, and running each connection on a detached thread of its own with
 * hz_ws_run (websocket.c does the framing). libmicrohttpd keeps the upgraded connection
 * suspended until we tell it to close the socket with MHD_upgrade_action, which websocket.c
 * does for us through its release hook, on the connection's thread.
 *
 * Lifetime: hz_ws_shutdown may only be called while hz_ws_run has not returned, and the ws is
 * freed right after on_close returns. So every live connection sits on srv->ws_head, and our
 * on_close wrapper takes itself off that list (under srv->lock) before the user's on_close
 * runs: whoever holds srv->lock and finds a connection on the list knows its ws is alive.
 * srv->ws_threads counts threads that have not finished, so shutdown can wait for all of them
 * before it stops the daemon (libmicrohttpd must not be stopped under an upgraded socket).
 */
#include <string.h>

#include "http_internal.h"
#include "websocket.h"

struct hz_ws_conn {
    hz_http_server_t *srv;
    hz_ws_callbacks_t cb;
    void *ctx;
    hz_ws_t *ws;
    struct MHD_UpgradeResponseHandle *urh;
    bool listed;
    hz_ws_conn_t *prev, *next;
};

/* Does a comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *value, const char *token) {
    size_t tlen = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',') end++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - p) == tlen && strncasecmp(p, token, tlen) == 0) return true;
        p = end;
    }
    return false;
}

static void unlist(hz_ws_conn_t *c) {
    hz_http_server_t *srv = c->srv;
    pthread_mutex_lock(&srv->lock);
    if (c->listed) {
        if (c->prev) c->prev->next = c->next; else srv->ws_head = c->next;
        if (c->next) c->next->prev = c->prev;
        c->listed = false;
        atomic_fetch_sub_explicit(&srv->metrics.ws_open, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&srv->lock);
}

static void w_open(hz_ws_t *ws, void *ctx) {
    hz_ws_conn_t *c = ctx;
    if (c->cb.on_open) c->cb.on_open(ws, c->ctx);
}

static void w_message(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx) {
    hz_ws_conn_t *c = ctx;
    if (c->cb.on_message) c->cb.on_message(ws, binary, data, len, c->ctx);
}

static void w_close(hz_ws_t *ws, int code, const char *reason, void *ctx) {
    hz_ws_conn_t *c = ctx;
    unlist(c);
    if (c->cb.on_close) c->cb.on_close(ws, code, reason, c->ctx);
}

static void w_release(int fd, void *arg) {
    hz_ws_conn_t *c = arg;
    if (MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE) != MHD_YES)
        hz_log_warn("http", "websocket: libmicrohttpd refused to close upgraded socket %d", fd);
}

static void thread_done(hz_ws_conn_t *c) {
    hz_http_server_t *srv = c->srv;
    pthread_mutex_lock(&srv->lock);
    srv->ws_threads--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    hz_free(c);
}

static void *ws_thread(void *arg) {
    hz_ws_conn_t *c = arg;
    pthread_setname_np(pthread_self(), "hz-ws");
    hz_ws_run(c->ws);
    thread_done(c);
    return NULL;
}

static const hz_ws_callbacks_t wrap = {w_open, w_message, w_close};

/* Runs on a libmicrohttpd thread once the 101 has been handed to the kernel; must not block. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra, size_t extra_len,
                       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
    hz_ws_conn_t *c = cls;
    hz_http_req_t *req = req_cls;
    hz_http_server_t *srv = c->srv;
    if (req) req->ws_started = true;  /* from now on this thread owns c, not the request */
    c->urh = urh;
    c->ws = hz_ws_new(sock, &wrap, c, srv->ws_max);
    if (!c->ws) {
        hz_log_error("http", "websocket: %s", hz_error_last());
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        hz_free(c);
        return;
    }
    hz_ws_set_release(c->ws, w_release, c);
    if (extra_len) hz_ws_feed(c->ws, extra, extra_len);

    pthread_mutex_lock(&srv->lock);
    c->next = srv->ws_head;
    if (c->next) c->next->prev = c;
    srv->ws_head = c;
    c->listed = true;
    srv->ws_threads++;
    atomic_fetch_add_explicit(&srv->metrics.ws_open, 1, memory_order_relaxed);
    pthread_mutex_unlock(&srv->lock);

    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, ws_thread, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        /* No thread to run it: end the connection here. hz_ws_run still has to run to release
         * the socket and call on_close; with the shutdown deadline set it returns within
         * about a second, which is the price of running out of threads. */
        hz_log_error("http", "websocket: cannot start a thread: %s", strerror(rc));
        pthread_mutex_lock(&srv->lock);
        hz_ws_shutdown(c->ws);
        pthread_mutex_unlock(&srv->lock);
        hz_ws_run(c->ws);
        thread_done(c);
    }
}

void hz_http_upgrade_websocket(hz_http_req_t *req, const hz_ws_callbacks_t *cb, void *ctx) {
    if (req->deferred) {
        hz_log_error("http", "request %s: a deferred request cannot become a WebSocket", req->id);
        hz_http_respond_error(req, 500, "server_error", "internal_error", "WebSocket upgrade on a deferred request");
        return;
    }
    if (req->responded) {
        hz_log_error("http", "request %s: websocket upgrade after the request was answered", req->id);
        return;
    }
    if (req->method != HZ_HTTP_GET) {
        hz_http_respond_error(req, 400, "invalid_request_error", "websocket_handshake",
                              "a WebSocket handshake must use GET");
        return;
    }
    const char *upgrade = hz_http_req_header(req, MHD_HTTP_HEADER_UPGRADE);
    if (!upgrade || !has_token(upgrade, "websocket")) {
        hz_http_set_header(req, MHD_HTTP_HEADER_UPGRADE, "websocket");
        hz_http_respond_error(req, 426, "invalid_request_error", "websocket_handshake",
                              "this endpoint speaks WebSocket: send \"Upgrade: websocket\"");
        return;
    }
    const char *connection = hz_http_req_header(req, MHD_HTTP_HEADER_CONNECTION);
    if (!connection || !has_token(connection, "upgrade")) {
        hz_http_respond_error(req, 400, "invalid_request_error", "websocket_handshake",
                              "WebSocket handshake without \"Connection: Upgrade\"");
        return;
    }
    const char *version = hz_http_req_header(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_VERSION);
    if (!version || strcmp(version, "13") != 0) {
        hz_http_set_header(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_VERSION, "13");
        hz_http_respond_error(req, 426, "invalid_request_error", "websocket_version",
                              "unsupported Sec-WebSocket-Version \"%s\" (this server speaks 13)",
                              version ? version : "");
        return;
    }
    const char *key = hz_http_req_header(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_KEY);
    char accept[29];
    if (!key || hz_ws_accept_key(key, accept) != 0) {
        hz_http_respond_error(req, 400, "invalid_request_error", "websocket_handshake",
                              "bad Sec-WebSocket-Key (expected base64 of 16 bytes)");
        return;
    }
    if (atomic_load(&req->srv->stopping)) {
        hz_http_respond_error(req, 503, "server_error", "shutting_down", "the server is shutting down");
        return;
    }
    hz_ws_conn_t *c = hz_calloc(1, sizeof(*c));
    c->srv = req->srv;
    if (cb) c->cb = *cb;
    c->ctx = ctx;
    struct MHD_Response *res = MHD_create_response_for_upgrade(on_upgrade, c);
    if (!res) {
        hz_free(c);
        hz_http_respond_error(req, 500, "server_error", "internal_error", "cannot create the upgrade response");
        return;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(res, MHD_HTTP_HEADER_SEC_WEBSOCKET_ACCEPT, accept);
    req->ws_pending = c;  /* freed by hz_ws_abandon if the 101 never makes it out */
    hz_http_queue(req, 101, res);
}

void hz_ws_abandon(hz_http_req_t *req) {
    hz_free(req->ws_pending);
    req->ws_pending = NULL;
}

void hz_ws_close_all(hz_http_server_t *srv) {
    pthread_mutex_lock(&srv->lock);
    for (hz_ws_conn_t *c = srv->ws_head; c; c = c->next) hz_ws_shutdown(c->ws);
    int waited_s = 0;
    while (srv->ws_threads > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (pthread_cond_timedwait(&srv->cond, &srv->lock, &ts) != 0 && srv->ws_threads > 0) {
            waited_s += 5;
            /* Stopping the daemon under a live upgraded socket would be a use-after-free, so
             * keep waiting; a handler stuck in on_message is a bug worth shouting about. */
            hz_log_warn("http", "shutdown: still waiting for %d WebSocket threads after %d s", srv->ws_threads,
                        waited_s);
        }
    }
    pthread_mutex_unlock(&srv->lock);
}
