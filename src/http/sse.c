/*
 * Server-sent event streams. The reply is a chunked 200 whose body comes from a libmicrohttpd
 * content-reader callback draining a byte queue that hz_sse_send fills from any thread. When
 * the queue is empty the reader suspends the connection (libmicrohttpd then neither polls nor
 * times it out, so an idle stream costs no CPU) and the next send resumes it. Both the suspend
 * and the resume happen under the stream's lock together with the "suspended" flag, so a
 * resume always pairs with a real suspend and never races it.
 *
 * Three parties hold a reference: the producer (until hz_sse_close), libmicrohttpd's response
 * (until its free callback, after which the reader is never called again), and the request
 * (until the completion callback, which is how we learn the client went away: sends fail with
 * HZ_ECLOSED from then on). The last one out frees the stream. A suspended connection cannot
 * notice a disconnect, so a dead client is discovered by the first send or comment after it
 * left; producers that may stay silent for long should send hz_sse_comment keep-alives.
 */
#include <string.h>

#include "http_internal.h"

/* A client reading slower than the producer writes must not grow the queue without bound. */
#define SSE_MAX_PENDING (32u << 20)
#define SSE_BLOCK 16384

struct hz_sse {
    pthread_mutex_t lock;
    int refs;
    hz_http_server_t *srv;
    struct MHD_Connection *conn;
    hz_buf_t q;
    size_t off;            /* bytes of q already handed to libmicrohttpd */
    bool suspended;        /* the reader suspended the connection and no one resumed it yet */
    bool finished;         /* the producer called hz_sse_close */
    bool gone;             /* the request ended: client left, error, or the stream is over */
    bool forced;           /* server shutdown ended the stream */
    bool listed;           /* on srv->sse_head */
    hz_sse_t *prev, *next;
};

static void sse_unref(hz_sse_t *s) {
    pthread_mutex_lock(&s->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&s->lock);
    if (left) return;
    pthread_mutex_destroy(&s->lock);
    hz_buf_free(&s->q);
    hz_free(s);
}

/* Caller holds s->lock. */
static void wake(hz_sse_t *s) {
    if (!s->suspended) return;
    s->suspended = false;
    MHD_resume_connection(s->conn);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    hz_sse_t *s = cls;
    pthread_mutex_lock(&s->lock);
    size_t avail = s->q.len - s->off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, s->q.data + s->off, n);
        s->off += n;
        if (s->off == s->q.len) {
            hz_buf_reset(&s->q);
            s->off = 0;
        }
        pthread_mutex_unlock(&s->lock);
        return (ssize_t)n;
    }
    if (s->finished || s->forced || s->gone) {
        pthread_mutex_unlock(&s->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* libmicrohttpd is done with the response: the reader will not run again. */
static void sse_release(void *cls) {
    hz_sse_t *s = cls;
    pthread_mutex_lock(&s->lock);
    s->gone = true;
    s->suspended = false;
    pthread_mutex_unlock(&s->lock);
    sse_unref(s);
}

static void unlist(hz_sse_t *s) {
    hz_http_server_t *srv = s->srv;
    pthread_mutex_lock(&srv->lock);
    if (s->listed) {
        if (s->prev) s->prev->next = s->next; else srv->sse_head = s->next;
        if (s->next) s->next->prev = s->prev;
        s->listed = false;
        atomic_fetch_sub_explicit(&srv->metrics.sse_open, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&srv->lock);
}

hz_sse_t *hz_http_respond_sse(hz_http_req_t *req) {
    if (!hz_http_claim(req)) {
        hz_error_set(HZ_ESTATE, "request %s already answered; cannot start an event stream", req->id);
        return NULL;
    }
    hz_sse_t *s = hz_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->refs = 3;  /* producer, libmicrohttpd's response, the request */
    s->srv = req->srv;
    s->conn = req->conn;
    struct MHD_Response *res =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_release);
    if (!res) {
        pthread_mutex_destroy(&s->lock);
        hz_free(s);
        hz_error_set(HZ_ENOMEM, "request %s: cannot create the event-stream reply", req->id);
        hz_http_queue(req, 500, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
        return NULL;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(res, "X-Accel-Buffering", "no");  /* reverse proxies: do not buffer */

    hz_http_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->lock);
    if (srv->sse_closed) s->forced = true;  /* shutdown already ended the others */
    s->next = srv->sse_head;
    if (s->next) s->next->prev = s;
    srv->sse_head = s;
    s->listed = true;
    atomic_fetch_add_explicit(&srv->metrics.sse_open, 1, memory_order_relaxed);
    pthread_mutex_unlock(&srv->lock);
    req->sse = s;
    hz_http_queue(req, 200, res);  /* on failure sse_release has run and the stream reads as gone */
    return s;
}

void hz_sse_detach(hz_sse_t *s) {
    pthread_mutex_lock(&s->lock);
    s->gone = true;
    pthread_mutex_unlock(&s->lock);
    unlist(s);
    sse_unref(s);
}

void hz_sse_close_all(hz_http_server_t *srv) {
    pthread_mutex_lock(&srv->lock);
    srv->sse_closed = true;
    for (hz_sse_t *s = srv->sse_head; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->forced = true;
        wake(s);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&srv->lock);
}

/* Append "<prefix><line>\n" for every line of text. CR, LF and CRLF all end a line, as in the
 * SSE grammar, and k line ends make k + 1 lines, so "a\n" arrives as "a\n" after the client
 * joins the data lines again. */
static void put_lines(hz_buf_t *q, const char *prefix, const char *text, size_t len) {
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < len && text[j] != '\n' && text[j] != '\r') j++;
        hz_buf_puts(q, prefix);
        hz_buf_append(q, text + i, j - i);
        hz_buf_putc(q, '\n');
        if (j == len) break;
        if (text[j] == '\r' && j + 1 < len && text[j + 1] == '\n') j++;
        i = j + 1;
    }
}

static int enqueue(hz_sse_t *s, const char *event, const char *prefix, const char *text, size_t len, bool blank) {
    pthread_mutex_lock(&s->lock);
    if (s->gone || s->forced) {
        pthread_mutex_unlock(&s->lock);
        return hz_error_set(HZ_ECLOSED, "event stream closed: %s",
                            s->forced ? "server shutting down" : "client went away");
    }
    if (s->q.len - s->off > SSE_MAX_PENDING) {
        pthread_mutex_unlock(&s->lock);
        return hz_error_set(HZ_EBUSY, "event stream: client is not reading (%zu bytes queued)", s->q.len - s->off);
    }
    if (event) {
        hz_buf_puts(&s->q, "event: ");
        hz_buf_puts(&s->q, event);
        hz_buf_putc(&s->q, '\n');
    }
    put_lines(&s->q, prefix, text, len);
    if (blank) hz_buf_putc(&s->q, '\n');
    wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int hz_sse_send(hz_sse_t *s, const char *event, const char *data, size_t len) {
    if (event && (!*event || strpbrk(event, "\r\n")))
        return hz_error_set(HZ_EINVAL, "SSE event name must be one non-empty line");
    if (!data) len = 0;
    return enqueue(s, event, "data: ", data ? data : "", len, true);
}

int hz_sse_comment(hz_sse_t *s, const char *text) {
    return enqueue(s, NULL, ": ", text ? text : "", text ? strlen(text) : 0, false);
}

bool hz_sse_client_gone(hz_sse_t *s) {
    pthread_mutex_lock(&s->lock);
    bool gone = s->gone || s->forced;
    pthread_mutex_unlock(&s->lock);
    return gone;
}

void hz_sse_close(hz_sse_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->finished = true;
    wake(s);
    pthread_mutex_unlock(&s->lock);
    sse_unref(s);
}
