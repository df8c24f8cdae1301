/*
 * Private to src/http: the structures shared by the server's files.
 *
 *   server.c    daemon lifecycle and the libmicrohttpd access handler (the request pipeline)
 *   router.c    route table: a trie of path segments, literal before {param}
 *   request.c   request accessors and the hz_http_respond* family
 *   metrics.c   lock-free counters and the Prometheus text rendering
 *   sse.c       server-sent event streams over MHD suspend/resume
 *   defer.c     answers given later from another thread (MHD suspend/resume again), and
 *               the worker threads of hz_http_defer_work
 *   upload.c    request bodies streamed to temporary files (HZ_ROUTE_BODY_TO_FILE)
 *   upgrade.c   the HTTP side of the WebSocket handshake and the connection threads
 *
 * Locking: the route table is immutable after start, so matching takes no lock. Metrics use
 * atomics only. srv->lock guards the lists of live SSE streams and WebSockets, which change
 * only when a stream starts or ends, never per ordinary request.
 */
#ifndef HANZO_HTTP_INTERNAL_H
#define HANZO_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "hanzo/http.h"

#define HZ_HTTP_NMETHODS 7            /* the HZ_HTTP_* bits; index = bit position */
#define HZ_HTTP_METHOD_OTHER 7        /* metric label index for methods we do not route */
#define HZ_HTTP_MAX_PARAMS 8
#define HZ_HTTP_MAX_SEGMENTS 32
#define HZ_HTTP_REQID_MAX 128

/* ---- router ----------------------------------------------------------------------------- */

typedef struct hz_route {
    char *pattern;
    int id;                           /* dense index, the metrics label slot */
    unsigned methods;                 /* registered methods (HEAD implied by GET at match time) */
    struct {
        hz_http_handler_fn fn;
        void *ctx;
        unsigned flags;
    } h[HZ_HTTP_NMETHODS];
    int nparams;
    char *params[HZ_HTTP_MAX_PARAMS]; /* parameter names in path order */
    char allow[80];                   /* value of the Allow header, e.g. "GET, HEAD, OPTIONS" */
} hz_route_t;

typedef struct hz_rnode hz_rnode_t;

typedef struct hz_router {
    hz_rnode_t *root;
    hz_route_t **routes;
    int nroutes;
} hz_router_t;

/* Where each parameter's value lies in the matched path. */
typedef struct hz_route_match {
    int nparams;
    struct { size_t off, len; } cap[HZ_HTTP_MAX_PARAMS];
} hz_route_match_t;

void hz_router_init(hz_router_t *r);
void hz_router_free(hz_router_t *r);
int hz_router_add(hz_router_t *r, unsigned methods, const char *pattern, unsigned flags,
                  hz_http_handler_fn fn, void *ctx);
/* The route whose pattern matches path, or NULL. Literal segments win over parameters. */
const hz_route_t *hz_router_match(const hz_router_t *r, const char *path, hz_route_match_t *m);
/* HZ_HTTP_* bit for a method name, 0 for anything else. */
unsigned hz_http_method_bit(const char *method);
int hz_http_method_index(unsigned bit); /* 0..6, or HZ_HTTP_METHOD_OTHER */
const char *hz_http_method_name(int index);

/* ---- metrics ---------------------------------------------------------------------------- */

#define HZ_METRICS_NBUCKETS 16

typedef struct hz_http_metrics {
    /* (route, method, status) -> count, open addressing; a key is claimed once with a CAS and
     * never removed, so readers and writers need no lock. */
    _Atomic uint64_t *keys;
    _Atomic uint64_t *counts;
    size_t cap;                        /* power of two */
    _Atomic uint64_t dropped;          /* increments lost to a full table (never expected) */
    int nroutes;                       /* route ids 0..nroutes-1, nroutes = "unmatched" */
    const char **route_names;
    _Atomic uint64_t *hist;            /* [(nroutes + 1) * (NBUCKETS + 1)], per-bucket counts */
    _Atomic uint64_t *hist_sum_us;     /* [nroutes + 1] */
    _Atomic int64_t in_flight;
    _Atomic int64_t sse_open, ws_open;
    double process_start_s;
} hz_http_metrics_t;

/* At server creation: zero, and read the process start time once. */
void hz_metrics_prepare(hz_http_metrics_t *m);
/* At start, when the routes are known. */
void hz_metrics_init(hz_http_metrics_t *m, const hz_router_t *r);
void hz_metrics_free(hz_http_metrics_t *m);
/* route -1 = unmatched. */
void hz_metrics_record(hz_http_metrics_t *m, int route, int method_index, int status, int64_t dur_ns);
void hz_metrics_render(hz_http_metrics_t *m, hz_buf_t *out);

/* ---- server and requests ---------------------------------------------------------------- */

typedef struct hz_ws_conn hz_ws_conn_t;

struct hz_http_server {
    char *host;
    int port;
    int threads;
    size_t max_body;
    int timeout_s;
    char **cors;                       /* NULL-terminated copy, NULL when CORS is off */
    hz_http_auth_fn auth;
    void *auth_ctx;
    size_t ws_max;
    char *upload_dir;
    uint64_t max_upload;
    int work_threads;
    hz_pool_t *work;                   /* hz_http_defer_work; created on first use, under lock */

    hz_router_t router;
    hz_http_metrics_t metrics;
    struct MHD_Daemon *daemon;
    bool started, shut_down;
    atomic_bool stopping;              /* replies carry Connection: close from now on */

    pthread_mutex_t lock;              /* the two lists below */
    pthread_cond_t cond;               /* signalled when a WebSocket thread ends */
    hz_sse_t *sse_head;
    bool sse_closed;                   /* shutdown ended every stream; new ones start ended */
    hz_http_req_t *defer_head;         /* deferred requests whose answer is not queued yet */
    bool defer_closed;                 /* shutdown answered them; no new ones */
    hz_ws_conn_t *ws_head;
    int ws_threads;                    /* WebSocket threads not yet finished */
};

/* What the pipeline decided before the body was read. */
typedef enum {
    HZ_EARLY_NONE = 0,
    HZ_EARLY_NOT_FOUND,
    HZ_EARLY_METHOD,
    HZ_EARLY_NO_KEY,
    HZ_EARLY_BAD_KEY,
    HZ_EARLY_TOO_LARGE,
    HZ_EARLY_PREFLIGHT,
    HZ_EARLY_OPTIONS,
    HZ_EARLY_UPLOAD_FAILED,            /* the body file could not be created or written */
} hz_early_t;

struct hz_http_req {
    hz_http_server_t *srv;
    struct MHD_Connection *conn;
    const char *path;                  /* MHD's decoded path, valid for the request */
    unsigned method;                   /* HZ_HTTP_* bit, 0 for other methods */
    int method_index;
    const hz_route_t *route;
    hz_http_handler_fn fn;
    void *fn_ctx;
    int64_t t0_ns;
    uint64_t content_length;           /* declared, 0 when absent */
    uint64_t discarded;                /* body bytes received past the limit (then dropped) */
    uint64_t discard_max;              /* past this many, stop reading and drop the connection */
    uint64_t body_limit;               /* max_body, or max_upload for a body streamed to a file */
    const char *cors_origin;           /* our copy of the allowed Origin, or NULL */
    hz_early_t early;
    bool has_body;
    bool responded;
    bool in_handler;
    bool ws_started;                   /* upgrade.c: MHD called the upgrade handler */
    bool deferred;                     /* defer.c: answered later, maybe from another thread */
    atomic_int refs;                   /* deferred only: MHD's side and the answering side */
    struct MHD_Response *pending;      /* defer.c: the answer, queued when MHD calls back */
    int pending_status;
    char *path_copy;                   /* defer.c: MHD's path does not outlive a 503 at shutdown */
    hz_http_req_t *dprev, *dnext;      /* defer.c: srv->defer_head, under srv->lock */
    int status;
    hz_ws_conn_t *ws_pending;          /* upgrade.c: queued 101 not yet taken over */
    hz_sse_t *sse;                     /* sse.c: our reference, dropped at completion */
    hz_buf_t body;
    bool to_file;                      /* upload.c: the body goes to the file below, not to body */
    bool file_named;                   /* file_path names the file (else O_TMPFILE, unnamed yet) */
    int file_fd;                       /* open while the body streams in, -1 after */
    char *file_path;                   /* owned; NULL once taken by the handler */
    uint64_t file_len;
    int file_errno;                    /* why the body file failed (HZ_EARLY_UPLOAD_FAILED) */
    const char *file_step;             /* "create", "write" or "name" */
    hz_buf_t headers;                  /* hz_http_set_header: "name\0value\0" pairs */
    int nparams;
    const char *pnames[HZ_HTTP_MAX_PARAMS];
    char *pvals[HZ_HTTP_MAX_PARAMS];   /* point into pbuf or pheap */
    char *pheap;
    char pbuf[192];
    char id[HZ_HTTP_REQID_MAX + 1];
};

/* request.c: may req be answered now? False (and logged) when it already was. */
bool hz_http_claim(hz_http_req_t *req);
/* request.c: queue a reply carrying the pipeline's headers (request id, CORS, the handler's
 * own). Takes the response; returns false when libmicrohttpd refused it. */
bool hz_http_queue(hz_http_req_t *req, int status, struct MHD_Response *res);
/* The error JSON body, as an owned buffer. */
char *hz_http_error_body(const char *type, const char *code, const char *msg, size_t *len);

/* sse.c */
/* Request finished (client gone, or stream done): no more sends. Drops req's reference. */
void hz_sse_detach(hz_sse_t *sse);
/* Server shutdown: end every live stream; producers see HZ_ECLOSED. */
void hz_sse_close_all(hz_http_server_t *srv);

/* defer.c */
bool hz_defer_claim(hz_http_req_t *req);
/* Hand the answer to the MHD thread and wake the connection. Takes res. */
void hz_defer_queue(hz_http_req_t *req, int status, struct MHD_Response *res);
/* Drop one reference; the last one frees req. */
void hz_req_unref(hz_http_req_t *req);
void hz_req_free(hz_http_req_t *req);
/* Server shutdown: answer 503 to every deferred request; returns how many are still being
 * answered by their owners (wait for 0 before stopping the daemon). */
int hz_defer_close_all(hz_http_server_t *srv);

/* upload.c */
/* Create the body file in srv->upload_dir. False (file_errno, file_step set) on failure. */
bool hz_upload_open(hz_http_req_t *req);
/* Append a piece of body; false after a failed write, which also drops the file. */
bool hz_upload_write(hz_http_req_t *req, const char *data, size_t n);
/* The body is complete: close the file and give it its name. False on failure. */
bool hz_upload_finish(hz_http_req_t *req);
/* Drop the file (closed and deleted) unless the handler took it. Safe to call twice. */
void hz_upload_drop(hz_http_req_t *req);

/* upgrade.c */
/* Request finished: free a queued upgrade that never took over its socket. */
void hz_ws_abandon(hz_http_req_t *req);
/* Server shutdown: send 1001 to every live WebSocket and wait for their threads. */
void hz_ws_close_all(hz_http_server_t *srv);

#endif
