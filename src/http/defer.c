/*
 * Deferred answers. libmicrohttpd accepts a reply only from inside its access handler, on its
 * own thread, so an answer produced elsewhere travels like this: the handler calls
 * hz_http_defer, which suspends the connection; the producer later builds the reply and parks
 * it in req->pending, then resumes the connection; libmicrohttpd calls the access handler once
 * more, and server.c queues the parked reply there.
 *
 * Two parties hold the request: libmicrohttpd (until the completion callback) and the producer
 * (until its answer). Normally the producer answers first, but at shutdown the server answers
 * 503 itself, the connection completes, and a late producer must still find the request alive
 * so its answer can be dropped safely; hence the reference count. Who answers is decided under
 * srv->lock by setting req->responded, and the request stays on srv->defer_head until its
 * answer is parked, so shutdown knows when no suspended connection is left (libmicrohttpd
 * aborts if stopped with one).
 *
 * hz_http_defer_work adds a small pool of threads owned by the server for work too long for a
 * server thread (verifying a multi-GiB upload). The server joins it at shutdown, after it has
 * answered the parked requests, so the work never outlives what its owner frees afterwards.
 */
#include <string.h>

#include "http_internal.h"

static void unlist(hz_http_server_t *srv, hz_http_req_t *req) {
    if (req->dprev) req->dprev->dnext = req->dnext; else if (srv->defer_head == req) srv->defer_head = req->dnext;
    if (req->dnext) req->dnext->dprev = req->dprev;
    req->dprev = req->dnext = NULL;
}

void hz_http_defer(hz_http_req_t *req) {
    if (!req->in_handler || req->deferred || req->responded) {
        hz_log_error("http", "request %s: hz_http_defer outside its handler or after an answer", req->id);
        return;
    }
    hz_http_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->lock);
    if (srv->defer_closed) {
        pthread_mutex_unlock(&srv->lock);
        hz_http_respond_error(req, 503, "server_error", "shutting_down", "the server is shutting down");
        return;
    }
    req->path_copy = hz_strdup(req->path ? req->path : "");
    req->path = req->path_copy;
    atomic_store(&req->refs, 2);
    req->dnext = srv->defer_head;
    if (req->dnext) req->dnext->dprev = req;
    srv->defer_head = req;
    req->deferred = true;
    MHD_suspend_connection(req->conn);
    pthread_mutex_unlock(&srv->lock);
}

bool hz_defer_claim(hz_http_req_t *req) {
    hz_http_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->lock);
    bool mine = !req->responded;
    req->responded = true;
    pthread_mutex_unlock(&srv->lock);
    if (!mine) {
        /* the server answered 503 at shutdown; this late answer goes nowhere */
        hz_log_debug("http", "request %s: answer after shutdown dropped", req->id);
        hz_req_unref(req);
    }
    return mine;
}

void hz_defer_queue(hz_http_req_t *req, int status, struct MHD_Response *res) {
    hz_http_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->lock);
    req->pending = res;
    req->pending_status = status;
    unlist(srv, req);
    MHD_resume_connection(req->conn);
    pthread_mutex_unlock(&srv->lock);
    hz_req_unref(req);
}

void hz_req_free(hz_http_req_t *req) {
    if (req->pending) MHD_destroy_response(req->pending);  /* never queued: the connection died */
    hz_upload_drop(req);
    hz_buf_free(&req->body);
    hz_buf_free(&req->headers);
    hz_free(req->pheap);
    hz_free(req->path_copy);
    hz_free(req);
}

void hz_req_unref(hz_http_req_t *req) {
    if (atomic_fetch_sub_explicit(&req->refs, 1, memory_order_acq_rel) == 1) hz_req_free(req);
}

int hz_defer_close_all(hz_http_server_t *srv) {
    pthread_mutex_lock(&srv->lock);
    srv->defer_closed = true;
    int busy = 0;
    for (hz_http_req_t *req = srv->defer_head, *next; req; req = next) {
        next = req->dnext;
        if (req->responded) {  /* its producer is between claiming and parking the answer */
            busy++;
            continue;
        }
        req->responded = true;
        size_t len;
        char *body = hz_http_error_body("server_error", "shutting_down",
                                        "the server shut down before this request was answered", &len);
        struct MHD_Response *res = MHD_create_response_from_buffer_with_free_callback(len, body, hz_free);
        if (!res) {
            hz_free(body);
            res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(res, "X-Request-Id", req->id);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONNECTION, "close");
        req->pending = res;
        req->pending_status = 503;
        unlist(srv, req);
        MHD_resume_connection(req->conn);
    }
    pthread_mutex_unlock(&srv->lock);
    return busy;
}

/* ---- work on the server's threads ---------------------------------------------------------- */

typedef struct {
    hz_http_req_t *req;
    hz_http_work_fn fn;
    void *arg;
} work_t;

static void run_work(void *p) {
    work_t *w = p;
    w->fn(w->req, w->arg);
    hz_free(w);
}

int hz_http_defer_work(hz_http_req_t *req, hz_http_work_fn fn, void *arg) {
    hz_http_server_t *srv = req->srv;
    hz_http_defer(req);
    if (!req->deferred) /* answered 503 (shutting down), or misuse, logged by hz_http_defer */
        return hz_error_set(HZ_ECLOSED, "request %s was not deferred", req->id);
    work_t *w = hz_malloc(sizeof(*w));
    *w = (work_t){.req = req, .fn = fn, .arg = arg};
    pthread_mutex_lock(&srv->lock);
    int rc = HZ_ECLOSED;
    if (!srv->defer_closed) {
        if (!srv->work) srv->work = hz_pool_new(srv->work_threads, 1024, "http-work");
        rc = srv->work ? hz_pool_submit(srv->work, run_work, w) : HZ_EINTERNAL;
    }
    pthread_mutex_unlock(&srv->lock);
    if (rc == 0) return 0;
    hz_free(w);
    /* Answered here, or dropped when shutdown answered first; either way our reference goes. */
    if (rc == HZ_EBUSY)
        hz_http_respond_error(req, 503, "server_error", "server_busy", "the server is busy; try again later");
    else
        hz_http_respond_error(req, 503, "server_error", "shutting_down", "the server is shutting down");
    return rc;
}

bool hz_http_req_abandoned(hz_http_req_t *req) {
    if (!req->deferred) return false;
    pthread_mutex_lock(&req->srv->lock);
    bool gone = req->responded;
    pthread_mutex_unlock(&req->srv->lock);
    return gone;
}
