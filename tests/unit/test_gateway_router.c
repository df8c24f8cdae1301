/*
 * Unit tests for the gateway's router, transport, provider table and probes, against a real
 * HTTP/1.1 server started inside the test (a small socket server on 127.0.0.1 port 0, a thread
 * per connection, keep-alive). Each test scripts what the server does for the next requests
 * under a path prefix ("/a", "/b", ...): answer, answer slowly, stall mid-stream, end a stream
 * without [DONE], reset the connection, send 429 with Retry-After or 500. The server records
 * what arrived (count, times, body, Authorization) so the tests can check what the gateway sent
 * as well as what it returned. Providers are OpenAI-wire, so this exercises the real SSE parser
 * and wire too; the wires themselves are tested in test_gateway_wire.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gw_internal.h"

#define SECRET_KEY "sk-test-SECRETSECRETSECRET-9f8e7d1234"

/* ---- the scripted upstream ---------------------------------------------------------------- */

typedef enum {
    B_OK = 0,           /* a proper answer for the path (JSON, SSE stream, model list, ...) */
    B_SLOW_HEADERS,     /* wait ms, then answer */
    B_STALL,            /* stream: two content chunks, then silence for ms, then close */
    B_TRUNC,            /* stream: two content chunks, then a clean end without [DONE] */
    B_RESET_MID,        /* stream: two content chunks, then a TCP reset */
    B_RESET,            /* read the request, reset the connection */
    B_429,              /* 429 with Retry-After: arg */
    B_500,
    B_401_ECHO,         /* 401 whose message quotes the Authorization header */
    B_SLOW_STREAM,      /* stream with ms between events (each gap below the idle timeout) */
} behaviour_t;

typedef struct step {
    behaviour_t kind;
    int ms;
    char arg[64];
} step_t;

#define MAX_PREFIX 4
#define MAX_STEPS 16
#define MAX_CONN 128

typedef struct route {
    char prefix[8];
    step_t steps[MAX_STEPS];
    int n_steps, next_step;
    int requests;
    int64_t times_ns[64];
    char last_body[8192];
    char last_auth[256];
    char last_path[256];
} route_t;

static struct {
    int lfd, port;
    pthread_t accept_thread;
    pthread_mutex_t lock;
    route_t routes[MAX_PREFIX];
    int conn_fds[MAX_CONN];
    pthread_t conn_threads[MAX_CONN];
    int n_conn;
    atomic_bool stop;
} srv;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep that ends early when the server stops, so teardown never waits on a stall. */
static void nap(int ms) {
    for (int i = 0; i < ms && !atomic_load(&srv.stop); i += 10) usleep(10000);
}

static route_t *route_for(const char *path) {
    for (int i = 0; i < MAX_PREFIX; i++) {
        size_t n = strlen(srv.routes[i].prefix);
        if (n && strncmp(path, srv.routes[i].prefix, n) == 0 && path[n] == '/') return &srv.routes[i];
    }
    return NULL;
}

static void script(const char *prefix, behaviour_t kind, int ms, const char *arg) {
    pthread_mutex_lock(&srv.lock);
    for (int i = 0; i < MAX_PREFIX; i++) {
        route_t *r = &srv.routes[i];
        if (strcmp(r->prefix, prefix) == 0) {
            assert_true(r->n_steps < MAX_STEPS);
            step_t *s = &r->steps[r->n_steps++];
            s->kind = kind;
            s->ms = ms;
            snprintf(s->arg, sizeof s->arg, "%s", arg ? arg : "");
        }
    }
    pthread_mutex_unlock(&srv.lock);
}

static int requests(const char *prefix) {
    pthread_mutex_lock(&srv.lock);
    int n = -1;
    for (int i = 0; i < MAX_PREFIX; i++)
        if (strcmp(srv.routes[i].prefix, prefix) == 0) n = srv.routes[i].requests;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static route_t snapshot(const char *prefix) {
    route_t copy;
    memset(&copy, 0, sizeof copy);
    pthread_mutex_lock(&srv.lock);
    for (int i = 0; i < MAX_PREFIX; i++)
        if (strcmp(srv.routes[i].prefix, prefix) == 0) copy = srv.routes[i];
    pthread_mutex_unlock(&srv.lock);
    return copy;
}

static int connections(void) {
    pthread_mutex_lock(&srv.lock);
    int n = srv.n_conn;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_str(int fd, const char *s) { return send_all(fd, s, strlen(s)); }

static bool send_response(int fd, int status, const char *extra_headers, const char *body) {
    char head[512];
    snprintf(head, sizeof head,
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n", status,
             strlen(body), extra_headers ? extra_headers : "");
    return send_str(fd, head) && send_str(fd, body);
}

static bool send_chunk(int fd, const char *data) {
    char len[32];
    snprintf(len, sizeof len, "%zx\r\n", strlen(data));
    return send_str(fd, len) && send_str(fd, data) && send_str(fd, "\r\n");
}

static void sse_event(char *out, size_t cap, const char *delta, const char *finish) {
    snprintf(out, cap,
             "data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
             "\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n",
             delta, finish);
}

static void reset_conn(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    shutdown(fd, SHUT_RDWR);
}

/* Answer one request; false to close the connection. */
static bool serve(int fd, const char *path, const char *body, step_t st) {
    bool stream = strstr(body, "\"stream\":true") != NULL;
    char ev[512];
    if (st.kind == B_RESET) {
        reset_conn(fd);
        return false;
    }
    if (st.kind == B_SLOW_HEADERS) nap(st.ms);
    if (st.kind == B_429) {
        char h[128];
        snprintf(h, sizeof h, "Retry-After: %s\r\n", st.arg);
        return send_response(fd, 429, h, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit\"}}");
    }
    if (st.kind == B_500) return send_response(fd, 500, NULL, "{\"error\":{\"message\":\"boom\",\"type\":\"server\"}}");
    if (st.kind == B_401_ECHO) {
        char msg[512];
        route_t *r = route_for(path);
        snprintf(msg, sizeof msg, "{\"error\":{\"message\":\"Incorrect API key provided: %s\",\"type\":\"auth\"}}",
                 r ? r->last_auth : "");
        return send_response(fd, 401, NULL, msg);
    }
    if (strstr(path, "/api/chat")) {
        if (!send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"))
            return false;
        static const char *const lines[] = {
            "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n",
            "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}\n",
            "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
            "\"done_reason\":\"stop\",\"prompt_eval_count\":7,\"eval_count\":2}\n",
        };
        for (int i = 0; i < 3; i++) {
            if (i == 2 && st.kind == B_TRUNC) return send_str(fd, "0\r\n\r\n");
            if (!send_chunk(fd, lines[i])) return false;
        }
        return send_str(fd, "0\r\n\r\n");
    }
    if (strstr(path, "/api/tags"))
        return send_response(fd, 200, NULL,
                             "{\"models\":[{\"name\":\"llama3:8b\",\"model\":\"llama3:8b\",\"size\":4661224676,"
                             "\"modified_at\":\"2024-05-01T10:00:00Z\",\"details\":{\"family\":\"llama\"}}]}");
    if (strstr(path, "/models"))
        return send_response(fd, 200, NULL,
                             "{\"object\":\"list\",\"data\":[{\"id\":\"m1\",\"object\":\"model\"},"
                             "{\"id\":\"m2\",\"object\":\"model\"}]}");
    if (strstr(path, "/embeddings"))
        return send_response(fd, 200, NULL,
                             "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                             "\"embedding\":[1.0,-2.0,0.5]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":4,"
                             "\"total_tokens\":4}}");
    if (!stream)
        return send_response(fd, 200, NULL,
                             "{\"id\":\"chatcmpl-up\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
                             "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},"
                             "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
                             "\"total_tokens\":5}}");

    if (!send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"))
        return false;
    sse_event(ev, sizeof ev, "{\"role\":\"assistant\",\"content\":\"\"}", "null");
    if (!send_chunk(fd, ev)) return false;
    if (st.kind == B_SLOW_STREAM) nap(st.ms);
    sse_event(ev, sizeof ev, "{\"content\":\"Hel\"}", "null");
    if (!send_chunk(fd, ev)) return false;
    if (st.kind == B_SLOW_STREAM) nap(st.ms);
    if (st.kind == B_STALL) {
        nap(st.ms);
        return false;
    }
    if (st.kind == B_RESET_MID) {
        reset_conn(fd);
        return false;
    }
    if (st.kind == B_TRUNC) return send_str(fd, "0\r\n\r\n");
    sse_event(ev, sizeof ev, "{\"content\":\"lo\"}", "null");
    if (!send_chunk(fd, ev)) return false;
    sse_event(ev, sizeof ev, "{}", "\"stop\"");
    if (!send_chunk(fd, ev)) return false;
    if (!send_chunk(fd, "data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                       "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"))
        return false;
    if (!send_chunk(fd, "data: [DONE]\n\n")) return false;
    return send_str(fd, "0\r\n\r\n");
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) return NULL;
            ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r <= 0) return NULL;
            have += (size_t)r;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char head[8192];
        size_t hl = head_len < sizeof head ? head_len : sizeof head - 1;
        memcpy(head, buf, hl);
        head[hl] = '\0';
        size_t clen = 0;
        char *cl = strcasestr(head, "\r\nContent-Length:");
        if (cl) clen = strtoul(cl + 17, NULL, 10);
        while (have < head_len + clen) {
            if (have == sizeof buf) return NULL;
            ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r <= 0) return NULL;
            have += (size_t)r;
        }
        char path[256] = "";
        sscanf(head, "%*s %255s", path);
        char body[8192];
        size_t bl = clen < sizeof body ? clen : sizeof body - 1;
        memcpy(body, buf + head_len, bl);
        body[bl] = '\0';
        memmove(buf, buf + head_len + clen, have - head_len - clen);
        have -= head_len + clen;

        step_t st = {B_OK, 0, ""};
        pthread_mutex_lock(&srv.lock);
        route_t *r = route_for(path);
        if (r) {
            if (r->requests < 64) r->times_ns[r->requests] = mono_ns();
            r->requests++;
            snprintf(r->last_body, sizeof r->last_body, "%s", body);
            snprintf(r->last_path, sizeof r->last_path, "%s", path);
            r->last_auth[0] = '\0';
            char *auth = strcasestr(head, "\r\nAuthorization: ");
            if (auth) sscanf(auth + 17, "%255[^\r]", r->last_auth);
            if (r->next_step < r->n_steps) st = r->steps[r->next_step++];
        }
        pthread_mutex_unlock(&srv.lock);
        if (!serve(fd, path, body, st)) return NULL;
    }
}

static void *accept_main(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&srv.stop)) return NULL;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return NULL;
        }
        pthread_mutex_lock(&srv.lock);
        if (srv.n_conn == MAX_CONN || atomic_load(&srv.stop)) {
            pthread_mutex_unlock(&srv.lock);
            close(fd);
            continue;
        }
        /* headers and body go out in separate writes: without this, Nagle holds the body for
         * the client's delayed ACK and every answer takes 40 ms */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int i = srv.n_conn++;
        srv.conn_fds[i] = fd;
        pthread_create(&srv.conn_threads[i], NULL, conn_main, (void *)(intptr_t)fd);
        pthread_mutex_unlock(&srv.lock);
    }
}

static int server_start(void **state) {
    (void)state;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.lock, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(srv.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(srv.lfd, 64) != 0) return -1;
    socklen_t sl = sizeof sa;
    getsockname(srv.lfd, (struct sockaddr *)&sa, &sl);
    srv.port = ntohs(sa.sin_port);
    pthread_create(&srv.accept_thread, NULL, accept_main, NULL);
    return 0;
}

static int server_stop(void **state) {
    (void)state;
    atomic_store(&srv.stop, true);
    shutdown(srv.lfd, SHUT_RDWR);
    close(srv.lfd);
    pthread_join(srv.accept_thread, NULL);
    for (int i = 0; i < srv.n_conn; i++) shutdown(srv.conn_fds[i], SHUT_RDWR);
    for (int i = 0; i < srv.n_conn; i++) {
        pthread_join(srv.conn_threads[i], NULL);
        close(srv.conn_fds[i]);
    }
    return 0;
}

/* Fresh routes and a fresh gateway for each test. */
static hz_gw_t *g_gw;

static int reset_routes(void) {
    pthread_mutex_lock(&srv.lock);
    memset(srv.routes, 0, sizeof srv.routes);
    snprintf(srv.routes[0].prefix, sizeof srv.routes[0].prefix, "/a");
    snprintf(srv.routes[1].prefix, sizeof srv.routes[1].prefix, "/b");
    snprintf(srv.routes[2].prefix, sizeof srv.routes[2].prefix, "/c");
    pthread_mutex_unlock(&srv.lock);
    return 0;
}

static int setup(void **state) {
    (void)state;
    reset_routes();
    hz_gw_options_t o = {.backoff_base_ms = 20, .backoff_max_ms = 300, .cooldown_failures = 2, .cooldown_ms = 60000};
    g_gw = hz_gw_new(&o);
    return g_gw ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    hz_gw_free(g_gw);
    g_gw = NULL;
    return 0;
}

typedef struct pcfg {
    int retries;        /* max_retries as configured */
    int first_byte_ms, idle_ms;
    const char *const *models;
    size_t n_models;
} pcfg_t;

static void add_provider(const char *id, const char *prefix, pcfg_t c) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s/v1", srv.port, prefix);
    hz_gw_provider_config_t cfg = {
        .id = id, .type = "openai-compatible", .base_url = url, .api_key = SECRET_KEY,
        .models = c.models, .n_models = c.n_models,
        .connect_timeout_ms = 1000, .first_byte_timeout_ms = c.first_byte_ms, .idle_timeout_ms = c.idle_ms,
        .max_retries = c.retries,
    };
    assert_int_equal(hz_gw_provider_set(g_gw, &cfg), 0);
}

static json_object *parse(const char *s) {
    json_object *o = NULL;
    assert_int_equal(hz_json_parse(s, strlen(s), &o), 0);
    return o;
}

static json_object *chat_req(const char *model) {
    char s[256];
    snprintf(s, sizeof s, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", model);
    return parse(s);
}

typedef struct sink {
    int n;
    char text[256];
    char ids[8][64];
    char models[8][64];
    json_object *last;
    atomic_bool *cancel_on_first;   /* set this flag when the first chunk arrives */
    int stop_after;                 /* return non-zero at this chunk (1-based); 0: never */
} sink_t;

static int on_chunk(json_object *chunk, void *ud) {
    sink_t *s = ud;
    s->n++;
    if (s->n <= 8) {
        snprintf(s->ids[s->n - 1], 64, "%s", json_object_get_string(json_object_object_get(chunk, "id")));
        snprintf(s->models[s->n - 1], 64, "%s", json_object_get_string(json_object_object_get(chunk, "model")));
    }
    json_object *choices = json_object_object_get(chunk, "choices");
    json_object *c0 = choices ? json_object_array_get_idx(choices, 0) : NULL;
    json_object *content = c0 ? json_object_object_get(json_object_object_get(c0, "delta"), "content") : NULL;
    if (content) strncat(s->text, json_object_get_string(content), sizeof s->text - strlen(s->text) - 1);
    json_object_put(s->last);
    s->last = json_object_get(chunk);
    if (s->cancel_on_first && s->n == 1) atomic_store(s->cancel_on_first, true);
    return s->stop_after && s->n >= s->stop_after;
}

static void sink_reset(sink_t *s) {
    json_object_put(s->last);
    memset(s, 0, sizeof *s);
}

static int run_chat(json_object *req, bool stream, sink_t *sink, atomic_bool *cancel, hz_gw_result_t *res) {
    hz_gw_call_t call = {.request = req, .stream = stream, .on_chunk = on_chunk, .ud = sink, .cancel = cancel};
    return hz_gw_chat(g_gw, &call, res);
}

static double elapsed_ms(int64_t t0) { return (double)(mono_ns() - t0) / 1e6; }

/* ---- transport ---------------------------------------------------------------------------- */

static gw_provider_t *provider(const char *prefix, int first_byte_ms, int idle_ms) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s/v1", srv.port, prefix);
    hz_gw_provider_config_t cfg = {.id = "t", .type = "custom", .base_url = url, .api_key = SECRET_KEY,
                                   .first_byte_timeout_ms = first_byte_ms, .idle_timeout_ms = idle_ms};
    gw_provider_t *p = gw_provider_new(&cfg);
    assert_non_null(p);
    return p;
}

static void test_transport_reuses_connections(void **state) {
    (void)state;
    gw_provider_t *p = provider("/a", 0, 0);
    int before = -1;
    for (int i = 0; i < 5; i++) {
        gw_http_req_t r;
        gw_http_req_init(&r, "GET", "%s/models", p->base_url);
        gw_http_req_header(&r, "Authorization: Bearer %s", p->api_key);
        gw_transport_result_t tr;
        hz_gw_error_t err;
        assert_int_equal(gw_transport_send(p, &r, NULL, NULL, NULL, &tr, &err), 0);
        assert_int_equal(tr.status, 200);
        assert_non_null(strstr(tr.body.data, "\"m2\""));
        assert_true(tr.ttfb_ms >= 0);
        gw_transport_result_free(&tr);
        gw_http_req_free(&r);
        if (i == 0) before = connections();
    }
    /* one keep-alive connection carried the four later requests */
    assert_int_equal(connections(), before);
    assert_int_equal(requests("/a"), 5);
    route_t r = snapshot("/a");
    assert_string_equal(r.last_auth, "Bearer " SECRET_KEY);
    gw_provider_release(p);
}

static void test_transport_retry_after_forms(void **state) {
    (void)state;
    gw_provider_t *p = provider("/a", 0, 0);
    char date[64];
    time_t when = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    script("/a", B_429, 0, "7");
    script("/a", B_429, 0, date);
    script("/a", B_429, 0, "soon");
    int64_t expect_lo[] = {7000, 1000, -1}, expect_hi[] = {7000, 3100, -1};
    for (int i = 0; i < 3; i++) {
        gw_http_req_t r;
        gw_http_req_init(&r, "POST", "%s/chat/completions", p->base_url);
        json_object *body = chat_req("m");
        gw_http_req_json(&r, body);
        json_object_put(body);
        gw_transport_result_t tr;
        hz_gw_error_t err;
        assert_int_equal(gw_transport_send(p, &r, NULL, NULL, NULL, &tr, &err), 0);
        assert_int_equal(tr.status, 429);
        assert_non_null(strstr(tr.body.data, "slow down"));
        assert_in_range(tr.retry_after_ms + 1, expect_lo[i] + 1, expect_hi[i] + 1);
        gw_transport_result_free(&tr);
        gw_http_req_free(&r);
    }
    gw_provider_release(p);
}

static void test_transport_refused(void **state) {
    (void)state;
    /* a port nothing listens on: bind one, note it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
    hz_gw_provider_config_t cfg = {.id = "dead", .type = "custom", .base_url = url, .api_key = SECRET_KEY};
    assert_int_equal(hz_gw_provider_set(g_gw, &cfg), 0);
    json_object *req = chat_req("dead/m");
    hz_gw_result_t res;
    sink_t sink = {0};
    int64_t t0 = mono_ns();
    assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 502);
    assert_string_equal(res.error.code, "upstream_unavailable");
    assert_true(res.error.retryable);
    assert_int_equal(res.attempts, 3);   /* max_retries 0 means the default 2 */
    assert_null(strstr(res.error.message, SECRET_KEY));
    assert_null(strstr(hz_error_last(), SECRET_KEY));
    assert_true(elapsed_ms(t0) < 2000);
    hz_gw_result_free(&res);
    json_object_put(req);
}

/* ---- router: retries, Retry-After, fallback, cooldown ------------------------------------- */

static void test_retries_then_success(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 3});
    script("/a", B_500, 0, NULL);
    script("/a", B_500, 0, NULL);
    json_object *req = chat_req("a/gpt-test");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(requests("/a"), 3);
    assert_string_equal(res.provider, "a");
    assert_string_equal(res.model, "a/gpt-test");
    assert_string_equal(res.upstream_model, "gpt-test");
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.usage.prompt_tokens, 3);
    assert_int_equal(res.usage.completion_tokens, 2);
    assert_false(res.started);
    assert_non_null(res.completion);
    assert_string_equal(json_object_get_string(json_object_object_get(res.completion, "model")), "a/gpt-test");
    /* the upstream saw its own model name, and the caller's request was not modified */
    route_t r = snapshot("/a");
    assert_non_null(strstr(r.last_body, "\"model\":\"gpt-test\""));
    assert_string_equal(json_object_get_string(json_object_object_get(req, "model")), "a/gpt-test");
    assert_true(res.total_ms > 0);
    hz_gw_result_free(&res);

    /* resets are retried too. (curl itself replays a request once when a reused keep-alive
     * connection turns out dead, so a reset may cost two of the scripted steps.) */
    add_provider("a", "/a", (pcfg_t){.retries = 1});
    for (int i = 0; i < 4; i++) script("/a", B_RESET, 0, NULL);
    assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(res.error.status, 502);
    assert_string_equal(res.error.code, "upstream_unavailable");
    assert_true(res.error.retryable);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_no_retry_on_client_error(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 3});
    script("/a", B_401_ECHO, 0, NULL);
    json_object *req = chat_req("a/gpt-test");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 401);
    assert_int_equal(res.attempts, 1);
    /* the upstream quoted our key back: it must not reach the client or the error log */
    assert_non_null(strstr(snapshot("/a").last_auth, SECRET_KEY));
    assert_null(strstr(res.error.message, SECRET_KEY));
    assert_non_null(strstr(res.error.message, "[redacted]"));
    assert_null(strstr(hz_error_last(), SECRET_KEY));
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_retry_after_honoured(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 2});
    script("/a", B_429, 0, "1");    /* one second, under backoff_max (raised below) */
    hz_gw_free(g_gw);
    hz_gw_options_t o = {.backoff_base_ms = 10, .backoff_max_ms = 5000};
    g_gw = hz_gw_new(&o);
    add_provider("a", "/a", (pcfg_t){.retries = 2});
    json_object *req = chat_req("a/m");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
    route_t r = snapshot("/a");
    assert_int_equal(r.requests, 2);
    double gap = (double)(r.times_ns[1] - r.times_ns[0]) / 1e6;
    assert_true(gap >= 950 && gap < 2500);
    hz_gw_result_free(&res);

    /* a Retry-After beyond backoff_max_ms is capped (the fixture's cap is 300 ms) */
    hz_gw_free(g_gw);
    setup(NULL);
    add_provider("a", "/a", (pcfg_t){.retries = 1});
    script("/a", B_429, 0, "30");
    assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
    r = snapshot("/a");
    assert_int_equal(r.requests, 2);
    gap = (double)(r.times_ns[1] - r.times_ns[0]) / 1e6;
    assert_true(gap >= 280 && gap < 1500);
    hz_gw_result_free(&res);

    /* the last attempt's 429 reaches the client with its Retry-After */
    script("/a", B_429, 0, "2");
    script("/a", B_429, 0, "2");
    assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 429);
    assert_int_equal(res.error.retry_after_ms, 2000);
    assert_int_equal(res.attempts, 2);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_fallback_rescues_stream(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = -1});
    add_provider("b", "/b", (pcfg_t){.retries = -1});
    const char *targets[] = {"a/m1", "nope/m", "b/m2"};
    assert_int_equal(hz_gw_alias_set(g_gw, "best", targets, 3), 0);
    script("/a", B_500, 0, NULL);
    json_object *req = parse("{\"model\":\"best\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_int_equal(requests("/a"), 1);
    assert_int_equal(requests("/b"), 1);
    assert_int_equal(res.attempts, 2);
    assert_string_equal(res.provider, "b");
    assert_string_equal(res.upstream_model, "m2");
    assert_string_equal(res.model, "best");
    assert_true(res.started);
    assert_string_equal(sink.text, "Hello");
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.usage.prompt_tokens, 3);
    assert_true(res.ttft_ms > 0 && res.ttft_ms <= res.total_ms);
    assert_true(sink.n >= 5);   /* role, Hel, lo, finish, usage */
    for (int i = 0; i < sink.n && i < 8; i++) {
        assert_string_equal(sink.ids[i], sink.ids[0]);
        assert_string_equal(sink.models[i], "best");
    }
    assert_true(hz_str_starts_with(sink.ids[0], "chatcmpl-"));
    /* the client asked for usage: the last chunk carries it, with no choices */
    json_object *u = json_object_object_get(sink.last, "usage");
    assert_non_null(u);
    assert_int_equal(json_object_get_int(json_object_object_get(u, "total_tokens")), 5);
    assert_int_equal(json_object_array_length(json_object_object_get(sink.last, "choices")), 0);
    assert_non_null(strstr(snapshot("/b").last_body, "\"model\":\"m2\""));
    sink_reset(&sink);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_cooldown(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = -1});
    add_provider("b", "/b", (pcfg_t){.retries = -1});
    const char *targets[] = {"a/m", "b/m"};
    assert_int_equal(hz_gw_alias_set(g_gw, "cd", targets, 2), 0);
    json_object *req = chat_req("cd");
    hz_gw_result_t res;
    sink_t sink = {0};
    for (int i = 0; i < 2; i++) {
        script("/a", B_500, 0, NULL);
        assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
        assert_string_equal(res.provider, "b");
        hz_gw_result_free(&res);
    }
    assert_int_equal(requests("/a"), 2);
    /* two failed requests in a row (cooldown_failures = 2): "a" is now skipped */
    assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_string_equal(res.provider, "b");
    assert_int_equal(res.attempts, 1);
    assert_int_equal(requests("/a"), 2);
    hz_gw_result_free(&res);
    json_object *list = hz_gw_providers_json(g_gw);
    json_object *pa = json_object_array_get_idx(list, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(pa, "id")), "a");
    assert_true(json_object_get_int64(json_object_object_get(pa, "cooldown_until_ms")) > hz_time_now_ms());
    json_object_put(list);
    /* as the last (only) option it is still tried */
    json_object *direct = chat_req("a/m");
    assert_int_equal(run_chat(direct, false, &sink, NULL, &res), 0);
    assert_int_equal(requests("/a"), 3);
    hz_gw_result_free(&res);
    /* success cleared it: the alias uses "a" again */
    assert_int_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_string_equal(res.provider, "a");
    assert_int_equal(requests("/a"), 4);
    hz_gw_result_free(&res);
    json_object_put(direct);
    json_object_put(req);
}

/* ---- timeouts, cancellation, truncation --------------------------------------------------- */

static void test_first_byte_timeout(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = -1, .first_byte_ms = 200});
    script("/a", B_SLOW_HEADERS, 1500, NULL);
    json_object *req = chat_req("a/m");
    hz_gw_result_t res;
    sink_t sink = {0};
    int64_t t0 = mono_ns();
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    double ms = elapsed_ms(t0);
    assert_true(ms >= 190 && ms < 800);
    assert_int_equal(res.error.status, 504);
    assert_string_equal(res.error.code, "upstream_timeout");
    assert_non_null(strstr(res.error.message, "first byte"));
    assert_false(res.started);
    assert_int_equal(sink.n, 0);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_idle_timeout_after_start(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 2, .idle_ms = 250});
    script("/a", B_STALL, 1500, NULL);
    json_object *req = chat_req("a/m");
    hz_gw_result_t res;
    sink_t sink = {0};
    int64_t t0 = mono_ns();
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    double ms = elapsed_ms(t0);
    assert_true(ms >= 240 && ms < 900);
    assert_int_equal(res.error.status, 504);
    assert_non_null(strstr(res.error.message, "idle"));
    /* output reached the client: no retry, and the caller is told so */
    assert_true(res.started);
    assert_false(res.error.retryable);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(sink.text, "Hel");
    hz_gw_result_free(&res);

    /* gaps shorter than the idle timeout are fine */
    script("/a", B_SLOW_STREAM, 120, NULL);
    sink_reset(&sink);
    assert_int_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_string_equal(sink.text, "Hello");
    sink_reset(&sink);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void *cancel_later(void *arg) {
    usleep(200000);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_cancel(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 2, .idle_ms = 10000});
    script("/a", B_STALL, 3000, NULL);
    json_object *req = chat_req("a/m");
    hz_gw_result_t res;
    atomic_bool cancel = false;
    sink_t sink = {.cancel_on_first = &cancel};
    int64_t t0 = mono_ns();
    assert_int_not_equal(run_chat(req, true, &sink, &cancel, &res), 0);
    assert_true(elapsed_ms(t0) < 600);   /* the flag is seen while the upstream is silent */
    assert_string_equal(res.error.code, "cancelled");
    assert_string_equal(res.finish_reason, "cancelled");
    assert_int_equal(res.attempts, 1);
    hz_gw_result_free(&res);

    /* on_chunk returning non-zero also ends the call, without retries */
    script("/a", B_STALL, 3000, NULL);
    sink_reset(&sink);
    sink.stop_after = 2;
    t0 = mono_ns();
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_true(elapsed_ms(t0) < 600);
    assert_string_equal(res.error.code, "cancelled");
    assert_int_equal(sink.n, 2);
    assert_int_equal(res.attempts, 1);
    sink_reset(&sink);
    hz_gw_result_free(&res);

    /* a cancel during the backoff before a retry */
    hz_gw_free(g_gw);
    hz_gw_options_t o = {.backoff_base_ms = 2000, .backoff_max_ms = 2000};
    g_gw = hz_gw_new(&o);
    add_provider("a", "/a", (pcfg_t){.retries = 2});
    script("/a", B_500, 0, NULL);
    atomic_bool c2 = false;
    sink_reset(&sink);
    pthread_t th;
    t0 = mono_ns();
    /* flip the flag from another thread while the router sleeps */
    pthread_create(&th, NULL, cancel_later, &c2);
    assert_int_not_equal(run_chat(req, false, &sink, &c2, &res), 0);
    pthread_join(th, NULL);
    assert_true(elapsed_ms(t0) < 800);
    assert_string_equal(res.error.code, "cancelled");
    assert_int_equal(res.attempts, 1);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_truncation(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){.retries = 2});
    script("/a", B_TRUNC, 0, NULL);
    json_object *req = chat_req("a/m");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 502);
    assert_string_equal(res.error.code, "upstream_truncated");
    assert_true(res.started);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(sink.text, "Hel");
    hz_gw_result_free(&res);

    /* a reset mid-stream is reported the same way, never as a short success */
    script("/a", B_RESET_MID, 0, NULL);
    sink_reset(&sink);
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 502);
    assert_true(res.started);
    assert_int_equal(res.attempts, 1);
    sink_reset(&sink);
    hz_gw_result_free(&res);
    json_object_put(req);
}

/* ---- validation and resolution ------------------------------------------------------------ */

static void test_unknown_model(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    const char *ids[] = {"no-such-model", "zz/m", "a/", "/m"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_object *req = chat_req(ids[i]);
        hz_gw_result_t res;
        sink_t sink = {0};
        assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
        assert_int_equal(res.error.status, 404);
        assert_string_equal(res.error.code, "model_not_found");
        assert_string_equal(res.error.param, "model");
        assert_non_null(strstr(res.error.message, ids[i]));
        hz_gw_result_free(&res);
        json_object_put(req);
    }
    assert_int_equal(requests("/a"), 0);
    /* an alias whose targets are all gone */
    const char *t[] = {"gone/m"};
    assert_int_equal(hz_gw_alias_set(g_gw, "ghost", t, 1), 0);
    json_object *req = chat_req("ghost");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_not_equal(run_chat(req, false, &sink, NULL, &res), 0);
    assert_int_equal(res.error.status, 404);
    hz_gw_result_free(&res);
    json_object_put(req);
}

static void test_bad_params(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    static const struct { const char *body; const char *param; } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
        {"{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
        {"{\"model\":\"a/m\"}", "messages"},
        {"{\"model\":\"a/m\",\"messages\":[]}", "messages"},
        {"{\"model\":\"a/m\",\"messages\":{}}", "messages"},
        {"{\"model\":\"a/m\",\"messages\":[\"hi\"]}", "messages[0]"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"content\":\"y\"}]}", "messages[1].role"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].content"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}", "max_tokens"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":-3}", "max_completion_tokens"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":2.5}", "temperature"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.01}", "top_p"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "n"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", "stop"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":{}}", "tools"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}", "response_format"},
        {"{\"model\":\"a/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\"}}", "response_format.json_schema"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *req = parse(cases[i].body);
        hz_gw_result_t res;
        sink_t sink = {0};
        int rc = run_chat(req, false, &sink, NULL, &res);
        if (rc == 0 || res.error.status != 400 || strcmp(res.error.param, cases[i].param) != 0)
            fail_msg("case %zu (%s): rc %d status %d param \"%s\", want 400 \"%s\"", i, cases[i].body, rc,
                     res.error.status, res.error.param, cases[i].param);
        assert_non_null(strstr(res.error.message, cases[i].param));
        hz_gw_result_free(&res);
        json_object_put(req);
    }
    /* nothing invalid reached the upstream; the valid forms do */
    assert_int_equal(requests("/a"), 0);
    json_object *ok = parse("{\"model\":\"a/m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
               "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},"
               "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}],"
               "\"stop\":[\"a\",\"b\"],\"temperature\":2,\"top_p\":0,\"n\":1,\"max_tokens\":5,"
               "\"response_format\":{\"type\":\"json_object\"}}");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_equal(run_chat(ok, false, &sink, NULL, &res), 0);
    assert_int_equal(requests("/a"), 1);
    hz_gw_result_free(&res);
    json_object_put(ok);
}

/* ---- the provider table, models, embeddings, probes --------------------------------------- */

static void test_providers_json_and_models(void **state) {
    (void)state;
    const char *models[] = {"m1", "m2"};
    add_provider("a", "/a", (pcfg_t){.models = models, .n_models = 2});
    hz_gw_provider_config_t shortkey = {.id = "b", .type = "custom", .base_url = "http://127.0.0.1:1/v1",
                                        .api_key = "sk-short"};
    assert_int_equal(hz_gw_provider_set(g_gw, &shortkey), 0);
    const char *t[] = {"a/m1"};
    assert_int_equal(hz_gw_alias_set(g_gw, "fast", t, 1), 0);

    json_object *list = hz_gw_providers_json(g_gw);
    const char *dump = json_object_to_json_string(list);
    assert_null(strstr(dump, SECRET_KEY));
    assert_null(strstr(dump, "sk-short"));
    json_object *pa = json_object_array_get_idx(list, 0), *pb = json_object_array_get_idx(list, 1);
    assert_string_equal(json_object_get_string(json_object_object_get(pa, "api_key_hint")), "sk-...1234");
    assert_true(json_object_get_boolean(json_object_object_get(pa, "has_api_key")));
    assert_null(json_object_object_get(pb, "api_key_hint"));
    assert_true(json_object_get_boolean(json_object_object_get(pb, "has_api_key")));
    assert_string_equal(json_object_get_string(json_object_object_get(pa, "wire")), "openai");
    json_object_put(list);

    json_object *m = hz_gw_models(g_gw);
    json_object *data = json_object_object_get(m, "data");
    assert_int_equal(json_object_array_length(data), 3);
    json_object *one = hz_gw_model(g_gw, "a/m2");
    assert_non_null(one);
    assert_string_equal(json_object_get_string(json_object_object_get(one, "owned_by")), "a");
    assert_string_equal(json_object_get_string(json_object_object_get(one, "object")), "model");
    json_object_put(one);
    one = hz_gw_model(g_gw, "fast");
    assert_string_equal(json_object_get_string(json_object_object_get(one, "owned_by")), "alias");
    json_object_put(one);
    assert_null(hz_gw_model(g_gw, "a/m3"));
    json_object_put(m);

    /* replace, then remove */
    assert_int_equal(hz_gw_provider_remove(g_gw, "b"), 0);
    assert_int_equal(hz_gw_provider_remove(g_gw, "b"), HZ_ENOTFOUND);
    assert_int_equal(hz_gw_alias_remove(g_gw, "fast"), 0);
    assert_int_equal(hz_gw_alias_remove(g_gw, "fast"), HZ_ENOTFOUND);
    assert_int_equal(hz_gw_alias_set(g_gw, "bad alias", t, 1), HZ_EINVAL);
    assert_int_equal(hz_gw_alias_set(g_gw, "x", t, 0), HZ_EINVAL);
    hz_gw_provider_config_t bad = {.id = "Bad!", .type = "custom", .base_url = "http://x"};
    assert_int_equal(hz_gw_provider_set(g_gw, &bad), HZ_EINVAL);
    m = hz_gw_models(g_gw);
    assert_int_equal(json_object_array_length(json_object_object_get(m, "data")), 2);
    json_object_put(m);
}

static void test_snapshot_survives_replace(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    gw_provider_t *before = gw_provider_new(&(hz_gw_provider_config_t){
        .id = "a", .type = "openai", .api_key = SECRET_KEY, .max_retries = -1});
    assert_non_null(before);
    assert_string_equal(before->base_url, "https://api.openai.com/v1");
    assert_int_equal(before->max_retries, 0);
    assert_int_equal(before->connect_timeout_ms, 5000);
    gw_provider_t *ref = gw_provider_ref(before);
    gw_provider_release(before);
    assert_string_equal(ref->api_key, SECRET_KEY);   /* still alive through the second reference */
    gw_provider_release(ref);
    assert_null(gw_provider_new(&(hz_gw_provider_config_t){.id = "c", .type = "custom"}));
}

static void test_embeddings(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    json_object *req = parse("{\"model\":\"a/e\",\"input\":[\"x\"],\"encoding_format\":\"base64\"}");
    json_object *out = NULL;
    hz_gw_usage_t u;
    hz_gw_error_t err;
    assert_int_equal(hz_gw_embeddings(g_gw, req, &out, &u, &err), 0);
    assert_int_equal(u.prompt_tokens, 4);
    assert_string_equal(json_object_get_string(json_object_object_get(out, "model")), "a/e");
    json_object *d0 = json_object_array_get_idx(json_object_object_get(out, "data"), 0);
    const float v[] = {1.0f, -2.0f, 0.5f};
    char *b64 = gw_base64_floats(v, 3);
    assert_string_equal(json_object_get_string(json_object_object_get(d0, "embedding")), b64);
    hz_free(b64);
    json_object_put(out);
    assert_non_null(strstr(snapshot("/a").last_body, "\"encoding_format\":\"float\""));
    assert_non_null(strstr(snapshot("/a").last_body, "\"model\":\"e\""));
    json_object_put(req);

    req = parse("{\"model\":\"a/e\",\"input\":[]}");
    assert_int_not_equal(hz_gw_embeddings(g_gw, req, &out, &u, &err), 0);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.param, "input");
    json_object_put(req);
    req = parse("{\"model\":\"a/e\",\"input\":\"x\",\"encoding_format\":\"hex\"}");
    assert_int_not_equal(hz_gw_embeddings(g_gw, req, &out, &u, &err), 0);
    assert_string_equal(err.param, "encoding_format");
    json_object_put(req);
    req = parse("{\"model\":\"zz/e\",\"input\":\"x\"}");
    assert_int_not_equal(hz_gw_embeddings(g_gw, req, &out, &u, &err), 0);
    assert_int_equal(err.status, 404);
    json_object_put(req);
}

static void test_completions_stream(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    json_object *req = parse("{\"model\":\"a/m\",\"prompt\":\"once\",\"stream\":true}");
    hz_gw_call_t call = {.request = req, .stream = false};
    hz_gw_result_t res;
    assert_int_equal(hz_gw_completion(g_gw, &call, &res), 0);
    assert_non_null(strstr(snapshot("/a").last_path, "/a/v1/completions"));
    hz_gw_result_free(&res);
    json_object_put(req);
    req = parse("{\"model\":\"a/m\"}");
    call.request = req;
    assert_int_not_equal(hz_gw_completion(g_gw, &call, &res), 0);
    assert_string_equal(res.error.param, "prompt");
    json_object_put(req);
}

static void test_ndjson_stream(void **state) {
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/c", srv.port);
    hz_gw_provider_config_t cfg = {.id = "ol", .type = "ollama", .base_url = url};
    assert_int_equal(hz_gw_provider_set(g_gw, &cfg), 0);
    json_object *req = chat_req("ol/llama3");
    hz_gw_result_t res;
    sink_t sink = {0};
    assert_int_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_string_equal(sink.text, "Hello");
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.usage.prompt_tokens, 7);
    assert_int_equal(res.usage.completion_tokens, 2);
    assert_string_equal(snapshot("/c").last_path, "/c/api/chat");
    assert_string_equal(snapshot("/c").last_auth, "");
    for (int i = 0; i < sink.n && i < 8; i++) assert_string_equal(sink.models[i], "ol/llama3");
    sink_reset(&sink);
    hz_gw_result_free(&res);

    /* no "done": true line: truncated, not a short success */
    script("/c", B_TRUNC, 0, NULL);
    assert_int_not_equal(run_chat(req, true, &sink, NULL, &res), 0);
    assert_string_equal(res.error.code, "upstream_truncated");
    assert_true(res.started);
    sink_reset(&sink);
    hz_gw_result_free(&res);
    json_object_put(req);
}

/* Requests from several threads while the provider is replaced and removed under them: each
 * request finishes on the snapshot it started with (ASan would see a use after free). */
typedef struct worker {
    int ok, failed;
} worker_t;

static void *chat_worker(void *arg) {
    worker_t *w = arg;
    json_object *req = chat_req("a/m");
    for (int i = 0; i < 15; i++) {
        hz_gw_result_t res;
        sink_t sink = {0};
        if (run_chat(req, i % 2 == 0, &sink, NULL, &res) == 0)
            w->ok++;
        else if (res.error.status == 404)
            w->failed++;   /* between remove and set: the model is briefly unknown */
        else
            fail_msg("unexpected error %d: %s", res.error.status, res.error.message);
        sink_reset(&sink);
        hz_gw_result_free(&res);
    }
    json_object_put(req);
    return NULL;
}

static void test_concurrent_replace(void **state) {
    (void)state;
    add_provider("a", "/a", (pcfg_t){0});
    pthread_t th[4];
    worker_t w[4] = {{0}};
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, chat_worker, &w[i]);
    for (int i = 0; i < 40; i++) {
        add_provider("a", "/a", (pcfg_t){.retries = i % 3});
        if (i % 10 == 9) hz_gw_provider_remove(g_gw, "a");
        usleep(2000);
    }
    add_provider("a", "/a", (pcfg_t){0});
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        assert_int_equal(w[i].ok + w[i].failed, 15);
    }
    assert_true(ok > 0);
}

static void test_probes(void **state) {
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/a/v1", srv.port);
    hz_gw_provider_config_t cfg = {.id = "probe", .type = "custom", .base_url = url, .api_key = SECRET_KEY};
    json_object *out = NULL;
    assert_int_equal(hz_gw_provider_test(g_gw, &cfg, NULL, &out), 0);
    assert_true(json_object_get_boolean(json_object_object_get(out, "ok")));
    assert_int_equal(json_object_array_length(json_object_object_get(out, "models")), 2);
    assert_true(json_object_get_double(json_object_object_get(out, "latency_ms")) > 0);
    json_object_put(out);

    /* with a model: a one-token chat; a failure is a result, not an error, and keeps the key out */
    script("/a", B_401_ECHO, 0, NULL);
    assert_int_equal(hz_gw_provider_test(g_gw, &cfg, "m1", &out), 0);
    assert_false(json_object_get_boolean(json_object_object_get(out, "ok")));
    json_object *e = json_object_object_get(out, "error");
    assert_int_equal(json_object_get_int(json_object_object_get(e, "status")), 401);
    assert_null(strstr(json_object_to_json_string(out), SECRET_KEY));
    json_object_put(out);
    assert_non_null(strstr(snapshot("/a").last_body, "\"max_tokens\":1"));

    hz_gw_provider_config_t bad = {.id = "probe", .type = "custom"};
    assert_int_equal(hz_gw_provider_test(g_gw, &bad, NULL, &out), HZ_EINVAL);
    assert_null(out);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/b", srv.port);
    hz_gw_error_t err;
    assert_int_equal(hz_gw_ollama_scan(url, 2000, &out, &err), 0);
    assert_int_equal(json_object_array_length(out), 1);
    json_object *m0 = json_object_array_get_idx(out, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(m0, "name")), "llama3:8b");
    assert_int_equal(json_object_get_int64(json_object_object_get(m0, "size")), 4661224676LL);
    assert_non_null(json_object_object_get(m0, "details"));
    assert_string_equal(snapshot("/b").last_path, "/b/api/tags");
    json_object_put(out);
    assert_int_not_equal(hz_gw_ollama_scan("ftp://x", 100, &out, &err), 0);
    assert_int_equal(err.status, 400);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transport_reuses_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_retry_after_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_retry_on_client_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_rescues_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_byte_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_after_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_providers_json_and_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_survives_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embeddings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completions_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ndjson_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
