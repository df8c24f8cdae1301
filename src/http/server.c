/*
 * The HTTP server: libmicrohttpd in epoll thread-pool mode, and the request pipeline.
 *
 * libmicrohttpd calls the access handler at least twice per request: first with the headers
 * (we allocate the request, take or make its id, route it, check CORS, the key and the declared
 * body size), then once per piece of body, then a last time with no data. Replies are queued on
 * that last call: a reply queued earlier makes libmicrohttpd close the connection after it,
 * because the rest of the body was never read. So an error decided from the headers waits for
 * the last call too, unless the request carries a body; then it goes out at once (we do not
 * want the body of a 413 or a 401) and the connection closes, which is what a client sending
 * such a body should expect. libmicrohttpd accepts a reply only on the first or the last call,
 * never while the body streams in, so a chunked body that outgrows the limit is read to its
 * end and dropped (up to a bound) before its 413 goes out. Routes marked HZ_ROUTE_BODY_TO_FILE
 * take the same path with max_upload_bytes as the limit and a file (upload.c) instead of memory;
 * a write that fails there (disk full) is answered the same way, with 507 or 500.
 *
 * The completion callback ends every request whatever happened: it records metrics, writes the
 * access log line, tells an SSE stream its client is gone, and frees the request. Nothing on
 * this path takes a lock; the per-request allocation is the request object itself (small
 * enough for malloc's thread cache) plus what the reply needs.
 *
 * Shutdown: quiesce the daemon (the listening socket closes, established connections keep
 * going), wait for requests and streams in flight up to the deadline, then end SSE streams,
 * answer deferred requests with 503, close WebSockets, and stop the daemon.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_internal.h"
#include "websocket.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define DEFAULT_MAX_UPLOAD ((uint64_t)64 << 30)
#define DEFAULT_WORK_THREADS 2
#define DEFAULT_TIMEOUT_S 300
#define CONNECTION_LIMIT 4096u
#define BODY_PRERESERVE (1u << 20)
#define SHUTDOWN_POLL_MS 5
#define SHUTDOWN_GRACE_MS 2000   /* after the deadline: time for forced stream ends to flush */

/* ---- server object ---------------------------------------------------------------------- */

int hz_http_server_new(const hz_http_options_t *opts, hz_http_server_t **out) {
    hz_http_options_t o = opts ? *opts : (hz_http_options_t){0};
    *out = NULL;
    if (o.port < 0 || o.port > 65535) return hz_error_set(HZ_EINVAL, "HTTP port %d is out of range 0-65535", o.port);
    if (o.threads < 0 || o.threads > 1024)
        return hz_error_set(HZ_EINVAL, "HTTP threads %d is out of range 0-1024", o.threads);
    if (o.request_timeout_s < 0)
        return hz_error_set(HZ_EINVAL, "HTTP request timeout %d s is negative", o.request_timeout_s);
    if (o.work_threads < 0 || o.work_threads > 256)
        return hz_error_set(HZ_EINVAL, "HTTP work_threads %d is out of range 0-256", o.work_threads);
    hz_http_server_t *srv = hz_calloc(1, sizeof(*srv));
    srv->host = hz_strdup(o.host && *o.host ? o.host : "127.0.0.1");
    srv->port = o.port;
    srv->threads = o.threads;
    if (srv->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        srv->threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
    }
    srv->max_body = o.max_body_bytes ? o.max_body_bytes : DEFAULT_MAX_BODY;
    srv->timeout_s = o.request_timeout_s ? o.request_timeout_s : DEFAULT_TIMEOUT_S;
    srv->ws_max = o.ws_max_frame_bytes ? o.ws_max_frame_bytes : DEFAULT_MAX_BODY;
    srv->max_upload = o.max_upload_bytes ? o.max_upload_bytes : DEFAULT_MAX_UPLOAD;
    srv->work_threads = o.work_threads ? o.work_threads : DEFAULT_WORK_THREADS;
    const char *tmpdir = getenv("TMPDIR");
    srv->upload_dir = hz_strdup(o.upload_dir && *o.upload_dir ? o.upload_dir : tmpdir && *tmpdir ? tmpdir : "/tmp");
    srv->auth = o.auth;
    srv->auth_ctx = o.auth_ctx;
    if (o.cors_origins && o.cors_origins[0]) {
        size_t n = 0;
        while (o.cors_origins[n]) n++;
        srv->cors = hz_calloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) srv->cors[i] = hz_strdup(o.cors_origins[i]);
    }
    hz_router_init(&srv->router);
    hz_metrics_prepare(&srv->metrics);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    *out = srv;
    return 0;
}

int hz_http_route(hz_http_server_t *srv, unsigned methods, const char *pattern, unsigned flags,
                  hz_http_handler_fn handler, void *ctx) {
    if (srv->started) return hz_error_set(HZ_ESTATE, "route %s: routes must be registered before the server starts",
                                          pattern ? pattern : "(null)");
    return hz_router_add(&srv->router, methods, pattern, flags, handler, ctx);
}

int hz_http_server_port(hz_http_server_t *srv) { return srv->port; }

void hz_http_metrics_render(hz_http_server_t *srv, hz_buf_t *out) { hz_metrics_render(&srv->metrics, out); }

/* ---- the pipeline ----------------------------------------------------------------------- */

/* 1-128 of [A-Za-z0-9._-]: safe to echo in a header and to print in a log line. */
static bool request_id_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n == HZ_HTTP_REQID_MAX) return false;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return n > 0;
}

/* "Authorization: Bearer <token>", scheme case-insensitive, spaces around the token ignored.
 * Without an Authorization header, "x-api-key: <token>" is accepted too: it is how Anthropic's
 * clients send their key, and they must work against /v1/messages unchanged. */
static hz_early_t check_auth(hz_http_server_t *srv, struct MHD_Connection *conn) {
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *tok;
    if (h) {
        while (*h == ' ' || *h == '\t') h++;
        if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return HZ_EARLY_BAD_KEY;
        tok = h + 7;
    } else {
        tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
        if (!tok) return HZ_EARLY_NO_KEY;
    }
    while (*tok == ' ' || *tok == '\t') tok++;
    size_t len = strlen(tok);
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) len--;
    if (!len) return HZ_EARLY_NO_KEY;
    return srv->auth(tok, len, srv->auth_ctx) ? HZ_EARLY_NONE : HZ_EARLY_BAD_KEY;
}

static void capture_params(hz_http_req_t *req, const char *path, const hz_route_match_t *m) {
    size_t need = 0;
    for (int i = 0; i < m->nparams; i++) need += m->cap[i].len + 1;
    char *p = need <= sizeof(req->pbuf) ? req->pbuf : (req->pheap = hz_malloc(need));
    req->nparams = m->nparams;
    for (int i = 0; i < m->nparams; i++) {
        req->pnames[i] = req->route->params[i];
        req->pvals[i] = p;
        memcpy(p, path + m->cap[i].off, m->cap[i].len);
        p[m->cap[i].len] = '\0';
        p += m->cap[i].len + 1;
    }
}

static hz_http_req_t *req_begin(hz_http_server_t *srv, struct MHD_Connection *conn, const char *url,
                                const char *method) {
    /* Zero the bookkeeping only: the inline buffers at the end are written before they are read. */
    hz_http_req_t *req = hz_malloc(sizeof(*req));
    memset(req, 0, offsetof(hz_http_req_t, pbuf));
    req->srv = srv;
    req->conn = conn;
    req->path = url;
    req->t0_ns = hz_time_mono_ns();
    req->method = hz_http_method_bit(method);
    req->method_index = hz_http_method_index(req->method);
    atomic_fetch_add_explicit(&srv->metrics.in_flight, 1, memory_order_relaxed);

    /* 1. request id */
    const char *cid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (cid && request_id_ok(cid))
        strcpy(req->id, cid);
    else
        hz_uuid_v7(req->id); /* cheap: no system call per id */

    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t clen = cl ? strtoull(cl, NULL, 10) : 0;  /* libmicrohttpd already rejected a malformed one */
    req->content_length = clen;
    req->has_body = clen > 0 || MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

    /* CORS origin (looked up first: even a 404 carries the CORS headers, or the browser could
     * not show the error to the page) */
    if (srv->cors) {
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
        if (origin)
            for (char **o = srv->cors; *o; o++)
                if (strcmp(*o, origin) == 0) { req->cors_origin = *o; break; }
    }

    /* 2. routing */
    hz_route_match_t m;
    const hz_route_t *rt = hz_router_match(&srv->router, url, &m);
    if (!rt) { req->early = HZ_EARLY_NOT_FOUND; return req; }
    req->route = rt;
    unsigned bit = req->method;
    if (bit == HZ_HTTP_OPTIONS) {
        /* 3. CORS preflight: answered here, before authentication, since browsers never send
         * credentials on a preflight. A plain OPTIONS gets the Allow list. */
        if (req->cors_origin &&
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCESS_CONTROL_REQUEST_METHOD)) {
            req->early = HZ_EARLY_PREFLIGHT;
            return req;
        }
        if (!(rt->methods & HZ_HTTP_OPTIONS)) { req->early = HZ_EARLY_OPTIONS; return req; }
    }
    if (bit == HZ_HTTP_HEAD && !(rt->methods & HZ_HTTP_HEAD) && (rt->methods & HZ_HTTP_GET)) bit = HZ_HTTP_GET;
    if (!(rt->methods & bit)) { req->early = HZ_EARLY_METHOD; return req; }
    int idx = hz_http_method_index(bit);
    req->fn = rt->h[idx].fn;
    req->fn_ctx = rt->h[idx].ctx;
    if (m.nparams) capture_params(req, url, &m);

    /* 4. authentication */
    if (srv->auth && !(rt->h[idx].flags & HZ_ROUTE_PUBLIC)) {
        req->early = check_auth(srv, conn);
        if (req->early) return req;
    }

    /* 5. declared body size */
    bool to_file = rt->h[idx].flags & HZ_ROUTE_BODY_TO_FILE;
    req->body_limit = to_file ? srv->max_upload : srv->max_body;
    if (clen > req->body_limit) {
        req->early = HZ_EARLY_TOO_LARGE;
        return req;
    }
    if (to_file) {
        if (!hz_upload_open(req)) req->early = HZ_EARLY_UPLOAD_FAILED;
        return req;
    }
    /* Reserve what was announced, up to a point: a client announcing 16 MiB on many connections
     * and sending nothing must not make us commit that much memory up front. */
    if (clen) hz_buf_reserve(&req->body, (size_t)(clen < BODY_PRERESERVE ? clen : BODY_PRERESERVE));
    return req;
}

static void respond_too_large(hz_http_req_t *req) {
    if (req->content_length > req->body_limit)
        hz_http_respond_error(req, 413, "invalid_request_error", "request_too_large",
                              "request body of %llu bytes exceeds the limit of %llu bytes",
                              (unsigned long long)req->content_length, (unsigned long long)req->body_limit);
    else
        hz_http_respond_error(req, 413, "invalid_request_error", "request_too_large",
                              "request body exceeds the limit of %llu bytes", (unsigned long long)req->body_limit);
}

static void respond_upload_failed(hz_http_req_t *req) {
    int err = req->file_errno;
    bool full = err == ENOSPC || err == EDQUOT;
    hz_log_error("http", "request %s: cannot %s the body file in %s after %llu bytes: %s", req->id, req->file_step,
                 req->srv->upload_dir, (unsigned long long)req->file_len, strerror(err));
    hz_http_respond_error(req, full ? 507 : 500, "server_error",
                          full ? "insufficient_storage" : "upload_failed",
                          "the server cannot store the request body (%s the file in its upload folder failed after "
                          "%llu bytes: %s)",
                          strcmp(req->file_step, "create") == 0 ? "creating" : strcmp(req->file_step, "name") == 0
                                                                                   ? "naming" : "writing",
                          (unsigned long long)req->file_len, strerror(err));
}

static void send_early(hz_http_req_t *req) {
    const hz_route_t *rt = req->route;
    switch (req->early) {
    case HZ_EARLY_NONE:
        break;
    case HZ_EARLY_NOT_FOUND:
        hz_http_respond_error(req, 404, "not_found_error", "route_not_found", "no route for %s",
                              req->path ? req->path : "(none)");
        break;
    case HZ_EARLY_METHOD:
        hz_http_set_header(req, MHD_HTTP_HEADER_ALLOW, rt->allow);
        hz_http_respond_error(req, 405, "invalid_request_error", "method_not_allowed",
                              "method not allowed on %s (allowed: %s)", rt->pattern, rt->allow);
        break;
    case HZ_EARLY_NO_KEY:
        hz_http_set_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        hz_http_respond_error(req, 401, "authentication_error", "missing_api_key",
                              "missing API key: send \"Authorization: Bearer <key>\"");
        break;
    case HZ_EARLY_BAD_KEY:
        hz_http_set_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
        hz_http_respond_error(req, 401, "authentication_error", "invalid_api_key", "invalid API key");
        break;
    case HZ_EARLY_TOO_LARGE:
        respond_too_large(req);
        break;
    case HZ_EARLY_UPLOAD_FAILED:
        respond_upload_failed(req);
        break;
    case HZ_EARLY_PREFLIGHT:
        hz_http_set_header(req, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS, rt->allow);
        hz_http_set_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
        hz_http_set_header(req, "Access-Control-Max-Age", "600");
        hz_http_respond(req, 204, NULL, NULL, 0);
        break;
    case HZ_EARLY_OPTIONS:
        hz_http_set_header(req, MHD_HTTP_HEADER_ALLOW, rt->allow);
        hz_http_respond(req, 204, NULL, NULL, 0);
        break;
    }
}

/* From now on the rest of the body is read and dropped, so that the error can be answered at
 * its end; but only so much of it: past that we stop reading and drop the connection. */
static void start_discarding(hz_http_req_t *req, hz_early_t why, uint64_t already) {
    uint64_t extra = req->body_limit < (1u << 20) ? (1u << 20) : req->body_limit;
    if (extra > ((uint64_t)64 << 20)) extra = (uint64_t)64 << 20;
    req->early = why;
    req->discarded = already;
    req->discard_max = (why == HZ_EARLY_TOO_LARGE ? req->body_limit : already) + extra;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls) {
    hz_http_server_t *srv = cls;
    hz_http_req_t *req = *req_cls;
    if (!req) {
        *req_cls = req = req_begin(srv, conn, url, method);
        if (req->early && req->has_body) send_early(req);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (req->responded) return MHD_YES;  /* an early reply is out; the rest is discarded */
        if (req->early == HZ_EARLY_TOO_LARGE || req->early == HZ_EARLY_UPLOAD_FAILED) {
            /* libmicrohttpd 0.9.75 cannot queue a reply in the middle of a body, so the 413
             * waits for the end of it; bytes past the limit are counted, not kept, and a
             * client that keeps going far beyond the limit is cut off without a reply. */
            req->discarded += n;
            return req->discarded > req->discard_max ? MHD_NO : MHD_YES;
        }
        if (req->to_file) {
            if (n > req->body_limit - req->file_len) {
                start_discarding(req, HZ_EARLY_TOO_LARGE, req->file_len + n);
                hz_upload_drop(req);
            } else if (!hz_upload_write(req, upload, n)) {
                start_discarding(req, HZ_EARLY_UPLOAD_FAILED, 0);
            }
            return MHD_YES;
        }
        if (n > srv->max_body - req->body.len) {
            start_discarding(req, HZ_EARLY_TOO_LARGE, req->body.len + n);
            hz_buf_free(&req->body);
            return MHD_YES;
        }
        hz_buf_append(&req->body, upload, n);
        return MHD_YES;
    }
    if (req->deferred) {
        /* resumed by hz_defer_queue or by shutdown: queue the answer parked for us */
        struct MHD_Response *res = req->pending;
        req->pending = NULL;
        if (!res) return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(conn, (unsigned)req->pending_status, res);
        MHD_destroy_response(res);
        if (ok == MHD_YES) req->status = req->pending_status;
        return ok;
    }
    if (req->responded) return MHD_YES;
    if (!req->early && req->to_file && !hz_upload_finish(req)) req->early = HZ_EARLY_UPLOAD_FAILED;
    if (req->early) {
        send_early(req);
        return MHD_YES;
    }
    req->in_handler = true;
    req->fn(req, req->fn_ctx);
    if (req->deferred) return MHD_YES;  /* the answer belongs to another thread now: hands off */
    req->in_handler = false;
    if (!req->responded) {
        hz_log_error("http", "request %s: handler for %s %s returned without answering", req->id,
                     hz_http_method_name(req->method_index), req->route->pattern);
        hz_http_respond_error(req, 500, "server_error", "internal_error",
                              "the handler for %s did not produce a response", req->route->pattern);
    }
    return MHD_YES;
}

/* One line per request at debug level. Never headers (Authorization) or bodies; the path is
 * client text, so control bytes are escaped to keep one request on one line. */
static void access_log(const hz_http_req_t *req, int status, int64_t dur_ns, enum MHD_RequestTerminationCode toe) {
    static const char *const why[] = {"", " (error)", " (timeout)", " (server shutdown)", " (read error)",
                                      " (client aborted)"};
    char path[512];
    size_t n = 0;
    for (const char *p = req->path ? req->path : ""; *p && n < sizeof(path) - 5; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(path + n, sizeof(path) - n, "\\x%02x", c);
        else
            path[n++] = (char)c;
    }
    path[n] = '\0';
    const char *end = (unsigned)toe < sizeof(why) / sizeof(why[0]) ? why[toe] : " (?)";
    hz_log_write(HZ_LOG_DEBUG, "http", "%s %s %d %.3f ms id=%s%s", hz_http_method_name(req->method_index), path,
                 status, (double)dur_ns / 1e6, req->id, end);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe) {
    hz_http_server_t *srv = cls;
    hz_http_req_t *req = *req_cls;
    if (!req) return;
    *req_cls = NULL;
    if (req->sse) hz_sse_detach(req->sse);
    if (req->ws_pending && !req->ws_started) hz_ws_abandon(req);

    /* 499 (nginx's "client closed request") for a client that left before any reply. */
    int status = req->status ? req->status : 499;
    int64_t dur = hz_time_mono_ns() - req->t0_ns;
    hz_metrics_record(&srv->metrics, req->route ? req->route->id : -1, req->method_index, status, dur);
    if (hz_log_enabled(HZ_LOG_DEBUG, "http")) access_log(req, status, dur, toe);
    atomic_fetch_sub_explicit(&srv->metrics.in_flight, 1, memory_order_release);
    if (req->deferred)
        hz_req_unref(req);  /* a producer may still hold it, see defer.c */
    else
        hz_req_free(req);
}

/* ---- start and stop --------------------------------------------------------------------- */

/* libmicrohttpd explains a failed start only through its logger; keep the last message of the
 * starting thread so the error can say why (e.g. "Address already in use"). */
static _Thread_local char *start_log;

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    if (start_log) snprintf(start_log, 512, "%s", msg);
    hz_log_debug("http", "libmicrohttpd: %s", msg);
}

static int resolve(const char *host, int port, struct sockaddr_storage *sa, int *family) {
    char h[256];
    size_t n = strlen(host);
    if (n >= sizeof(h)) return hz_error_set(HZ_EINVAL, "HTTP host \"%.40s...\" is too long", host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {  /* "[::1]" */
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
    } else {
        memcpy(h, host, n + 1);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof(ps), "%d", port);
    int rc = getaddrinfo(h, ps, &hints, &res);
    if (rc != 0 || !res) return hz_error_set(HZ_EIO, "cannot resolve HTTP host \"%s\": %s", host, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *family = res->ai_family;
    freeaddrinfo(res);
    return 0;
}

/* A route that streams bodies to files needs upload_dir now, not at the first upload. */
static int check_upload_dir(hz_http_server_t *srv) {
    bool needed = false;
    for (int i = 0; i < srv->router.nroutes && !needed; i++)
        for (int m = 0; m < HZ_HTTP_NMETHODS; m++)
            if (srv->router.routes[i]->h[m].fn && (srv->router.routes[i]->h[m].flags & HZ_ROUTE_BODY_TO_FILE))
                needed = true;
    struct stat st;
    if (!needed) return 0;
    if (stat(srv->upload_dir, &st) != 0) return hz_error_errno(HZ_EIO, errno, "HTTP upload_dir %s", srv->upload_dir);
    if (!S_ISDIR(st.st_mode)) return hz_error_set(HZ_EIO, "HTTP upload_dir %s is not a directory", srv->upload_dir);
    if (access(srv->upload_dir, W_OK | X_OK) != 0)
        return hz_error_errno(HZ_EIO, errno, "HTTP upload_dir %s is not writable", srv->upload_dir);
    return 0;
}

int hz_http_server_start(hz_http_server_t *srv) {
    if (srv->started) return hz_error_set(HZ_ESTATE, "HTTP server already started");
    int urc = check_upload_dir(srv);
    if (urc) return urc;
    struct sockaddr_storage sa;
    int family = 0, rc = resolve(srv->host, srv->port, &sa, &family);
    if (rc) return rc;
    if (family != AF_INET && family != AF_INET6)
        return hz_error_set(HZ_EINVAL, "HTTP host \"%s\" is neither IPv4 nor IPv6", srv->host);

    hz_metrics_init(&srv->metrics, &srv->router);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    char why[512] = "";
    start_log = why;
    errno = 0;
    /* The logger goes first so that it hears about the options after it. A pool of one is
     * just the daemon's own thread, and libmicrohttpd wants the option absent then. */
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, srv},
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout_s, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        {srv->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    int err = errno;
    start_log = NULL;
    bool v6 = family == AF_INET6 && srv->host[0] != '[';
    if (!srv->daemon) {
        hz_metrics_free(&srv->metrics);
        return hz_error_set(HZ_EIO, "cannot listen on %s%s%s:%d: %s", v6 ? "[" : "", srv->host, v6 ? "]" : "",
                            srv->port, why[0] ? why : err ? strerror(err) : "libmicrohttpd failed to start");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) srv->port = info->port;
    srv->started = true;
    hz_log_debug("http", "listening on %s%s%s:%d with %d threads", v6 ? "[" : "", srv->host, v6 ? "]" : "", srv->port,
                 srv->threads);
    return 0;
}

static int in_flight(hz_http_server_t *srv) {
    return (int)atomic_load_explicit(&srv->metrics.in_flight, memory_order_acquire);
}

static int ws_threads(hz_http_server_t *srv) {
    pthread_mutex_lock(&srv->lock);
    int n = srv->ws_threads;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

void hz_http_server_shutdown(hz_http_server_t *srv, int deadline_ms) {
    if (!srv || !srv->daemon || srv->shut_down) return;
    srv->shut_down = true;
    atomic_store(&srv->stopping, true);
    MHD_socket ls = MHD_quiesce_daemon(srv->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    else
        hz_log_warn("http", "shutdown: libmicrohttpd cannot stop accepting; new connections are served until the end");

    int64_t end = hz_time_mono_ns() + (int64_t)(deadline_ms > 0 ? deadline_ms : 0) * 1000000;
    while ((in_flight(srv) > 0 || ws_threads(srv) > 0) && hz_time_mono_ns() < end) hz_sleep_ms(SHUTDOWN_POLL_MS);

    int left = in_flight(srv), ws_left = ws_threads(srv);
    if (left || ws_left)
        hz_log_info("http", "shutdown deadline reached with %d requests and %d WebSockets open; closing them",
                    left, ws_left);
    /* libmicrohttpd aborts the process if it is stopped with a suspended connection, so every
     * idle stream is resumed and ended before MHD_stop_daemon. */
    hz_sse_close_all(srv);
    for (int waited = 0; hz_defer_close_all(srv) > 0; waited += SHUTDOWN_POLL_MS) {
        if (waited == 5000) hz_log_warn("http", "shutdown: still waiting for deferred answers being queued");
        hz_sleep_ms(SHUTDOWN_POLL_MS);
    }
    hz_ws_close_all(srv);
    end = hz_time_mono_ns() + (int64_t)SHUTDOWN_GRACE_MS * 1000000;
    while (in_flight(srv) > 0 && hz_time_mono_ns() < end) hz_sleep_ms(SHUTDOWN_POLL_MS);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    /* Work still running answers requests that were already answered (its answers are dropped)
     * but may use things its owner frees after shutdown: wait for it. */
    pthread_mutex_lock(&srv->lock);
    hz_pool_t *work = srv->work;
    srv->work = NULL;
    pthread_mutex_unlock(&srv->lock);
    if (work) hz_pool_free(work);
}

void hz_http_server_free(hz_http_server_t *srv) {
    if (!srv) return;
    hz_http_server_shutdown(srv, 0);
    hz_router_free(&srv->router);
    hz_metrics_free(&srv->metrics);
    hz_free(srv->upload_dir);
    if (srv->cors) {
        for (char **o = srv->cors; *o; o++) hz_free(*o);
        hz_free(srv->cors);
    }
    hz_free(srv->host);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    hz_free(srv);
}
