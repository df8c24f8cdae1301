/*
 * Unit tests for the long-lived parts of the HTTP server, against a real server with real
 * clients: server-sent events (order, per-event flushing, no CPU while idle, client
 * disconnect), graceful shutdown (drains a slow request, ends open streams), and the HTTP
 * side of the WebSocket handshake (validation, 101, the socket handed over to websocket.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_http_util.h"

/* ---- an SSE client on its own thread ------------------------------------------------------- */

typedef struct {
    int port;
    const char *path;
    pthread_mutex_t lock;
    hz_buf_t got;
    size_t abort_after;          /* close the connection once this many bytes arrived (0 = never) */
    CURLcode rc;
    long status;
    hz_buf_t headers;
    atomic_bool done;
} sse_client_t;

static size_t sse_on_data(char *p, size_t size, size_t n, void *ud) {
    sse_client_t *c = ud;
    pthread_mutex_lock(&c->lock);
    hz_buf_append(&c->got, p, size * n);
    bool stop = c->abort_after && c->got.len >= c->abort_after;
    pthread_mutex_unlock(&c->lock);
    return stop ? 0 : size * n;
}

static void *sse_client_run(void *arg) {
    sse_client_t *c = arg;
    CURL *h = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sse_on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, tu_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    c->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_cleanup(h);
    atomic_store(&c->done, true);
    return NULL;
}

static void sse_client_start(sse_client_t *c, pthread_t *t, int port, const char *path, size_t abort_after) {
    memset(c, 0, sizeof(*c));
    c->port = port;
    c->path = path;
    c->abort_after = abort_after;
    pthread_mutex_init(&c->lock, NULL);
    assert_int_equal(pthread_create(t, NULL, sse_client_run, c), 0);
}

static void sse_client_free(sse_client_t *c) {
    hz_buf_free(&c->got);
    hz_buf_free(&c->headers);
    pthread_mutex_destroy(&c->lock);
}

/* Wait until the client has received at least `len` bytes; false after 5 s. */
static bool sse_wait_for(sse_client_t *c, size_t len) {
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&c->lock);
        size_t have = c->got.len;
        pthread_mutex_unlock(&c->lock);
        if (have >= len) return true;
        hz_sleep_ms(5);
    }
    return false;
}

/* ---- server ---------------------------------------------------------------------------------- */

static _Atomic(hz_sse_t *) g_sse;
static atomic_int g_slow_entered;

static void h_sse(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_sse_t *s = hz_http_respond_sse(req);
    assert_non_null(s);
    assert_null(hz_http_respond_sse(req));  /* one answer per request */
    atomic_store(&g_sse, s);
}

static void h_slow(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    atomic_fetch_add(&g_slow_entered, 1);
    hz_sleep_ms(400);
    hz_http_respond(req, 200, "text/plain", "done", 4);
}

static void h_health(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond(req, 200, "text/plain", "ok", 2);
}

static hz_sse_t *wait_sse(void) {
    for (int i = 0; i < 1000; i++) {
        hz_sse_t *s = atomic_exchange(&g_sse, NULL);
        if (s) return s;
        hz_sleep_ms(5);
    }
    fail_msg("the SSE handler never ran");
    return NULL;
}

/* WebSocket: echo every message back, remember how it ended. */
static atomic_int g_ws_closes, g_ws_close_code;

static void ws_on_message(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx) {
    (void)ctx;
    hz_ws_send(ws, binary, data, len);
}

static void ws_on_close(hz_ws_t *ws, int code, const char *reason, void *ctx) {
    (void)ws;
    (void)reason;
    (void)ctx;
    atomic_store(&g_ws_close_code, code);
    atomic_fetch_add(&g_ws_closes, 1);
}

static const hz_ws_callbacks_t ws_cb = {NULL, ws_on_message, ws_on_close};

static void h_ws(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_upgrade_websocket(req, &ws_cb, NULL);
}

/* Deferred answers: the producer runs on a thread of its own. */
static _Atomic(hz_http_req_t *) g_parked;

static void *later_producer(void *arg) {
    hz_http_req_t *req = arg;
    hz_sleep_ms(300);
    char out[128];
    snprintf(out, sizeof(out), "later %s %s", hz_http_req_param(req, "n"), hz_http_req_path(req));
    hz_http_respond(req, 200, "text/plain", out, strlen(out));
    return NULL;
}

static void *later_sse_producer(void *arg) {
    hz_http_req_t *req = arg;
    hz_sleep_ms(50);
    hz_sse_t *s = hz_http_respond_sse(req);
    for (int i = 0; i < 3 && s; i++) {
        char d[8];
        snprintf(d, sizeof(d), "%d", i);
        hz_sse_send(s, NULL, d, strlen(d));
        hz_sleep_ms(20);
    }
    hz_sse_close(s);
    return NULL;
}

static void spawn(void *(*fn)(void *), void *arg) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    pthread_detach(t);
}

static void h_later(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_defer(req);
    spawn(later_producer, req);
}

static void h_later_sse(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_defer(req);
    spawn(later_sse_producer, req);
}

static void h_parked(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_defer(req);
    atomic_store(&g_parked, req);
}

static hz_http_server_t *start(int threads) {
    hz_http_options_t o = {.threads = threads, .request_timeout_s = 10};
    hz_http_server_t *srv;
    assert_int_equal(hz_http_server_new(&o, &srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/events", 0, h_sse, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/slow", 0, h_slow, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/health", 0, h_health, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/ws", 0, h_ws, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/later/{n}", 0, h_later, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/later-sse", 0, h_later_sse, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/parked", 0, h_parked, NULL), 0);
    assert_int_equal(hz_http_server_start(srv), 0);
    atomic_store(&g_sse, NULL);
    return srv;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- SSE ------------------------------------------------------------------------------------- */

static void test_sse_events_in_order(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    sse_client_t c;
    pthread_t t;
    sse_client_start(&c, &t, hz_http_server_port(srv), "/events", 0);
    hz_sse_t *s = wait_sse();

    hz_buf_t expect = HZ_BUF_INIT;
    for (int i = 0; i < 20; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        assert_int_equal(hz_sse_send(s, i % 2 ? "tick" : NULL, data, strlen(data)), 0);
        if (i % 2) hz_buf_printf(&expect, "event: tick\n");
        hz_buf_printf(&expect, "data: %s\n\n", data);
        /* each event reaches the client on its own, without waiting for more */
        assert_true(sse_wait_for(&c, expect.len));
    }
    /* multi-line data becomes several data: lines; CR, LF and CRLF all split */
    assert_int_equal(hz_sse_send(s, "multi", "a\nb\r\nc\rd\n", 9), 0);
    hz_buf_puts(&expect, "event: multi\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n");
    assert_int_equal(hz_sse_send(s, NULL, "", 0), 0);
    hz_buf_puts(&expect, "data: \n\n");
    assert_int_equal(hz_sse_comment(s, "keep-alive"), 0);
    hz_buf_puts(&expect, ": keep-alive\n");
    assert_int_equal(hz_sse_send(s, "bad\nname", "x", 1), HZ_EINVAL);
    assert_true(sse_wait_for(&c, expect.len));

    /* idle: the connection is suspended, nobody spins */
    double cpu0 = cpu_seconds();
    hz_sleep_ms(600);
    double idle_cpu = cpu_seconds() - cpu0;
    assert_true(idle_cpu < 0.15);
    assert_false(hz_sse_client_gone(s));

    /* a burst from another thread's point of view: many sends before the reader runs */
    for (int i = 0; i < 500; i++) {
        char data[32];
        snprintf(data, sizeof(data), "burst %d", i);
        assert_int_equal(hz_sse_send(s, NULL, data, strlen(data)), 0);
        hz_buf_printf(&expect, "data: %s\n\n", data);
    }
    hz_sse_close(s);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.status, 200);
    assert_int_equal(c.got.len, expect.len);
    assert_memory_equal(c.got.data, expect.data, expect.len);
    char v[128];
    resp_t head = {.headers = c.headers};
    assert_string_equal(resp_header(&head, "Content-Type", v, sizeof(v)), "text/event-stream");
    assert_string_equal(resp_header(&head, "Cache-Control", v, sizeof(v)), "no-cache");
    assert_string_equal(resp_header(&head, "Transfer-Encoding", v, sizeof(v)), "chunked");
    assert_non_null(resp_header(&head, "X-Request-Id", v, sizeof(v)));
    hz_buf_free(&expect);
    sse_client_free(&c);
    hz_http_server_free(srv);
}

static void test_sse_client_disconnect(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    sse_client_t c;
    pthread_t t;
    sse_client_start(&c, &t, hz_http_server_port(srv), "/events", 1);  /* leave after the first byte */
    hz_sse_t *s = wait_sse();
    assert_int_equal(hz_sse_send(s, NULL, "hello", 5), 0);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, CURLE_WRITE_ERROR);

    /* the producer notices within a few sends */
    int rc = 0, sends = 0;
    int64_t t0 = hz_time_mono_ns();
    while ((rc = hz_sse_send(s, NULL, "anyone?", 7)) == 0 && hz_time_mono_ns() - t0 < 5000000000LL) {
        sends++;
        hz_sleep_ms(10);
    }
    assert_int_equal(rc, HZ_ECLOSED);
    assert_true(sends < 100);
    assert_true(hz_sse_client_gone(s));
    assert_int_equal(hz_sse_comment(s, "x"), HZ_ECLOSED);
    hz_sse_close(s);

    /* the server is unaffected */
    resp_t r;
    tu_get(hz_http_server_port(srv), "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    sse_client_free(&c);
    hz_http_server_free(srv);
}

/* A stream whose producer finishes before the client ever reads. */
static void test_sse_close_immediately(void **state) {
    (void)state;
    hz_http_server_t *srv = start(1);
    sse_client_t c;
    pthread_t t;
    sse_client_start(&c, &t, hz_http_server_port(srv), "/events", 0);
    hz_sse_t *s = wait_sse();
    assert_int_equal(hz_sse_send(s, "only", "1", 1), 0);
    hz_sse_close(s);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.got.len, strlen("event: only\ndata: 1\n\n"));
    sse_client_free(&c);
    hz_http_server_free(srv);
}

/* ---- deferred answers ------------------------------------------------------------------------ */

typedef struct {
    int port;
    const char *path;
    resp_t r, r2;
} later_t;

static void *later_client(void *arg) {
    later_t *l = arg;
    CURL *c = curl_easy_init();
    const char *const hdrs[] = {"X-Request-Id: later-1", NULL};
    tu_request(c, l->port, "GET", l->path, hdrs, NULL, 0, &l->r);
    tu_request(c, l->port, "GET", "/health", NULL, NULL, 0, &l->r2);  /* same connection again */
    curl_easy_cleanup(c);
    return NULL;
}

static void test_defer(void **state) {
    (void)state;
    hz_http_server_t *srv = start(1);  /* one server thread: a blocked handler would stall all */
    int port = hz_http_server_port(srv);
    later_t l = {.port = port, .path = "/later/7"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, later_client, &l), 0);
    hz_sleep_ms(50);
    for (int i = 0; i < 5; i++) {
        int64_t t0 = hz_time_mono_ns();
        resp_t r;
        tu_get(port, "/health", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_true(hz_time_mono_ns() - t0 < 150000000LL);
        resp_free(&r);
    }
    pthread_join(t, NULL);
    assert_int_equal(l.r.status, 200);
    assert_string_equal(l.r.body.data, "later 7 /later/7");
    char v[64];
    assert_string_equal(resp_header(&l.r, "X-Request-Id", v, sizeof(v)), "later-1");
    assert_int_equal(l.r2.status, 200);
    assert_int_equal(l.r2.connects, 0);
    resp_free(&l.r);
    resp_free(&l.r2);

    /* an event stream started from the other thread */
    l = (later_t){.port = port, .path = "/later-sse"};
    assert_int_equal(pthread_create(&t, NULL, later_client, &l), 0);
    pthread_join(t, NULL);
    assert_int_equal(l.r.status, 200);
    assert_string_equal(l.r.body.data, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    resp_free(&l.r);
    resp_free(&l.r2);
    hz_http_server_free(srv);
}

static void test_defer_unanswered_at_shutdown(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    atomic_store(&g_parked, NULL);
    later_t l = {.port = hz_http_server_port(srv), .path = "/parked"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, later_client, &l), 0);
    while (!atomic_load(&g_parked)) hz_sleep_ms(2);
    int64_t t0 = hz_time_mono_ns();
    hz_http_server_shutdown(srv, 200);
    assert_true(hz_time_mono_ns() - t0 >= 150000000LL);
    pthread_join(t, NULL);
    assert_int_equal(l.r.status, 503);
    assert_non_null(strstr(l.r.body.data, "\"code\":\"shutting_down\""));
    resp_free(&l.r);
    resp_free(&l.r2);
    /* the producer answers after all: dropped, and the request is released (ASan checks) */
    hz_http_req_t *req = atomic_exchange(&g_parked, NULL);
    assert_string_equal(hz_http_req_id(req), "later-1");
    hz_http_respond(req, 200, "text/plain", "too late", 8);
    hz_http_server_free(srv);
}

/* ---- shutdown -------------------------------------------------------------------------------- */

typedef struct {
    int port;
    resp_t r;
} slow_t;

static void *slow_client(void *arg) {
    slow_t *s = arg;
    tu_get(s->port, "/slow", NULL, &s->r);
    return NULL;
}

static void test_shutdown_drains_in_flight(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    int port = hz_http_server_port(srv);
    atomic_store(&g_slow_entered, 0);
    slow_t s = {.port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_client, &s), 0);
    while (atomic_load(&g_slow_entered) == 0) hz_sleep_ms(2);

    int64_t t0 = hz_time_mono_ns();
    hz_http_server_shutdown(srv, 5000);
    int64_t took_ms = (hz_time_mono_ns() - t0) / 1000000;
    pthread_join(t, NULL);
    assert_int_equal(s.r.rc, CURLE_OK);
    assert_int_equal(s.r.status, 200);
    assert_string_equal(s.r.body.data, "done");
    char v[32];
    assert_string_equal(resp_header(&s.r, "Connection", v, sizeof(v)), "close");
    assert_true(took_ms >= 200 && took_ms < 3000);  /* waited for it, not for the deadline */
    resp_free(&s.r);

    /* nothing listens any more */
    resp_t r;
    tu_get(port, "/health", NULL, &r);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
    resp_free(&r);
    hz_http_server_shutdown(srv, 1000);  /* idempotent */
    hz_http_server_free(srv);
}

static void test_shutdown_ends_open_streams(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    sse_client_t c;
    pthread_t t;
    sse_client_start(&c, &t, hz_http_server_port(srv), "/events", 0);
    hz_sse_t *s = wait_sse();
    assert_int_equal(hz_sse_send(s, NULL, "first", 5), 0);
    assert_true(sse_wait_for(&c, 13));
    /* idle (suspended) stream, producer silent: shutdown must end it at the deadline */
    int64_t t0 = hz_time_mono_ns();
    hz_http_server_shutdown(srv, 300);
    int64_t took_ms = (hz_time_mono_ns() - t0) / 1000000;
    assert_true(took_ms >= 250 && took_ms < 4000);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, CURLE_OK);  /* a clean end of the chunked stream */
    assert_int_equal(c.got.len, 13);
    assert_int_equal(hz_sse_send(s, NULL, "late", 4), HZ_ECLOSED);
    assert_true(hz_sse_client_gone(s));
    hz_sse_close(s);
    sse_client_free(&c);
    hz_http_server_free(srv);
}

/* ---- WebSocket handshake -------------------------------------------------------------------- */

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Read until the end of the HTTP head; returns its length (the head is NUL-terminated). */
static size_t read_head(int fd, char *buf, size_t cap) {
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t got = read(fd, buf + n, 1);
        if (got <= 0) break;
        n++;
        buf[n] = '\0';
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) break;
    }
    buf[n] = '\0';
    return n;
}

static void test_websocket_handshake(void **state) {
    (void)state;
    hz_http_server_t *srv = start(2);
    int port = hz_http_server_port(srv);
    resp_t r;
    char v[128];

    /* plain GET: 426 pointing at the upgrade */
    tu_get(port, "/ws", NULL, &r);
    assert_int_equal(r.status, 426);
    assert_string_equal(resp_header(&r, "Upgrade", v, sizeof(v)), "websocket");
    resp_free(&r);
    const char *const bad_version[] = {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8",
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", NULL};
    tu_get(port, "/ws", bad_version, &r);
    assert_int_equal(r.status, 426);
    assert_string_equal(resp_header(&r, "Sec-WebSocket-Version", v, sizeof(v)), "13");
    resp_free(&r);
    const char *const bad_key[] = {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                                   "Sec-WebSocket-Key: tooshort", NULL};
    tu_get(port, "/ws", bad_key, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "Sec-WebSocket-Key"));
    resp_free(&r);
    const char *const no_conn[] = {"Upgrade: websocket", "Sec-WebSocket-Version: 13",
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", NULL};
    tu_get(port, "/ws", no_conn, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    /* the RFC 6455 example key; Connection may list several tokens */
    atomic_store(&g_ws_closes, 0);
    int fd = connect_to(port);
    const char req[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    char head[2048];
    read_head(fd, head, sizeof(head));
    assert_true(hz_str_starts_with(head, "HTTP/1.1 101"));
    assert_non_null(strcasestr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strcasestr(head, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strcasestr(head, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strcasestr(head, "\r\nX-Request-Id: "));

    /* one masked text frame "hi", echoed unmasked */
    const unsigned char frame[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    assert_int_equal(write(fd, frame, sizeof(frame)), (ssize_t)sizeof(frame));
    unsigned char echo[4];
    size_t got = 0;
    while (got < sizeof(echo)) {
        ssize_t n = read(fd, echo + got, sizeof(echo) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(echo[0], 0x81);
    assert_int_equal(echo[1], 2);
    assert_memory_equal(echo + 2, "hi", 2);

    /* shutdown says "going away" (1001) and waits for the connection's thread */
    hz_http_server_shutdown(srv, 100);
    unsigned char closef[4];
    got = 0;
    while (got < sizeof(closef)) {
        ssize_t n = read(fd, closef + got, sizeof(closef) - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    assert_int_equal(got, 4);
    assert_int_equal(closef[0], 0x88);
    assert_int_equal((closef[2] << 8) | closef[3], 1001);
    assert_int_equal(atomic_load(&g_ws_closes), 1);
    close(fd);
    hz_http_server_free(srv);
}

/* A client that goes away in the middle of the handshake leaks nothing (checked under ASan). */
static void test_websocket_abandoned_handshake(void **state) {
    (void)state;
    hz_http_server_t *srv = start(1);
    for (int i = 0; i < 20; i++) {
        int fd = connect_to(hz_http_server_port(srv));
        const char req[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));  /* RST right away */
        close(fd);
    }
    hz_sleep_ms(100);
    hz_http_server_shutdown(srv, 2000);
    hz_http_server_free(srv);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hz_log_configure(getenv("HZ_TEST_LOG") ? getenv("HZ_TEST_LOG") : "error", HZ_LOG_TEXT, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_events_in_order),
        cmocka_unit_test(test_sse_client_disconnect),
        cmocka_unit_test(test_sse_close_immediately),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_defer_unanswered_at_shutdown),
        cmocka_unit_test(test_shutdown_drains_in_flight),
        cmocka_unit_test(test_shutdown_ends_open_streams),
        cmocka_unit_test(test_websocket_handshake),
        cmocka_unit_test(test_websocket_abandoned_handshake),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
