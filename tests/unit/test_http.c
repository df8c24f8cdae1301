/*
 * Unit tests for the HTTP server pipeline, against a real server on 127.0.0.1 port 0 with
 * libcurl as the client: routing and parameters, 404/405, authentication, request ids, body
 * limits (declared and streamed), bad JSON, CORS, keep-alive, concurrency, metrics, binding.
 * Streams (SSE, WebSocket handshake) and shutdown live in test_http_stream.c.
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
#include <sys/socket.h>
#include <unistd.h>

#include "test_http_util.h"

/* ---- handlers ----------------------------------------------------------------------------- */

static void h_health(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void h_echo(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    const char *a = hz_http_req_param(req, "a"), *b = hz_http_req_param(req, "b");
    const char *q = hz_http_req_query(req, "q"), *nope = hz_http_req_param(req, "nope");
    char out[512];
    snprintf(out, sizeof(out), "a=%s b=%s q=%s nope=%s path=%s", a ? a : "-", b ? b : "-", q ? q : "-",
             nope ? nope : "-", hz_http_req_path(req));
    hz_http_respond(req, 200, "text/plain", out, strlen(out));
}

static void h_item(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    char out[512];
    snprintf(out, sizeof(out), "item %s", hz_http_req_param(req, "id"));
    hz_http_respond(req, 200, "text/plain", out, strlen(out));
}

static void h_item_count(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond(req, 200, "text/plain", "count", 5);
}

static void h_item_delete(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond(req, 204, NULL, NULL, 0);
}

static void h_body_len(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    size_t len;
    const char *body = hz_http_req_body(req, &len);
    char out[64];
    /* checksum proves the bytes arrived intact, not just their count */
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) sum = sum * 31 + (unsigned char)body[i];
    snprintf(out, sizeof(out), "%zu %u", len, sum);
    hz_http_respond(req, 200, "text/plain", out, strlen(out));
}

static void h_json(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    json_object *obj;
    if (hz_http_req_json(req, &obj) != 0) return;
    json_object *reply = json_object_new_object();
    json_object *name = json_object_object_get(obj, "name");
    json_object_object_add(reply, "hello", name ? json_object_get(name) : json_object_new_string("?"));
    json_object_put(obj);
    hz_http_set_header(req, "X-Custom", "yes");
    hz_http_respond_json(req, 201, reply);
}

static void h_silent(hz_http_req_t *req, void *ctx) {
    (void)req;
    (void)ctx;
}

static void h_twice(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond(req, 200, "text/plain", "first", 5);
    hz_http_respond_error(req, 500, "server_error", NULL, "second");
}

static void h_error(hz_http_req_t *req, void *ctx) {
    (void)ctx;
    hz_http_respond_error(req, 409, "conflict_error", NULL, "quote \" and bad utf8 \xff end");
}

static void h_metrics(hz_http_req_t *req, void *ctx) {
    hz_http_server_t *srv = ctx;
    hz_buf_t b = HZ_BUF_INIT;
    hz_http_metrics_render(srv, &b);
    hz_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    hz_buf_free(&b);
}

static bool auth_cb(const char *token, size_t len, void *ctx) {
    (void)ctx;
    return len == 6 && memcmp(token, "secret", 6) == 0;
}

/* ---- server fixture ----------------------------------------------------------------------- */

static const char *const test_origins[] = {"https://app.example", "http://localhost:3000", NULL};

static hz_http_server_t *start(hz_http_options_t *o) {
    hz_http_server_t *srv = NULL;
    assert_int_equal(hz_http_server_new(o, &srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/health", HZ_ROUTE_PUBLIC, h_health, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/echo/{a}/x/{b}", 0, h_echo, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/items/{id}", 0, h_item, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_DELETE, "/items/{id}", 0, h_item_delete, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/items/count", 0, h_item_count, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_POST | HZ_HTTP_PUT, "/body", 0, h_body_len, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_POST, "/json", 0, h_json, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/silent", 0, h_silent, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/twice", 0, h_twice, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/error", 0, h_error, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/metrics", 0, h_metrics, srv), 0);
    assert_int_equal(hz_http_server_start(srv), 0);
    assert_true(hz_http_server_port(srv) > 0);
    return srv;
}

static hz_http_server_t *start_default(void) {
    hz_http_options_t o = {.host = "127.0.0.1", .port = 0, .threads = 2, .max_body_bytes = 1024,
                           .request_timeout_s = 10, .cors_origins = test_origins, .auth = auth_cb};
    return start(&o);
}

static const char *const AUTH[] = {"Authorization: Bearer secret", NULL};

/* Parse an error reply and check its shape. */
static void assert_error(const resp_t *r, long status, const char *type, const char *code) {
    assert_int_equal(r->status, status);
    json_object *obj = NULL;
    assert_int_equal(hz_json_parse(r->body.data, r->body.len, &obj), 0);
    json_object *err = json_object_object_get(obj, "error");
    assert_non_null(err);
    assert_string_equal(json_object_get_string(json_object_object_get(err, "type")), type);
    json_object *c = json_object_object_get(err, "code");
    if (code)
        assert_string_equal(json_object_get_string(c), code);
    else
        assert_null(c);
    assert_true(json_object_is_type(json_object_object_get(err, "message"), json_type_string));
    json_object_put(obj);
    char ct[128];
    assert_non_null(resp_header(r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json");
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_routing_and_params(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    resp_t r;
    tu_get(port, "/echo/foo/x/bar?q=hello%20world", AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "a=foo b=bar q=hello world nope=- path=/echo/foo/x/bar");
    resp_free(&r);

    /* literal beats parameter, parameter still matches other values, values are decoded */
    tu_get(port, "/items/count", AUTH, &r);
    assert_string_equal(r.body.data, "count");
    resp_free(&r);
    tu_get(port, "/items/42", AUTH, &r);
    assert_string_equal(r.body.data, "item 42");
    resp_free(&r);
    tu_get(port, "/items/a%20b", AUTH, &r);
    assert_string_equal(r.body.data, "item a b");
    resp_free(&r);
    /* a long parameter (beyond the inline buffer) */
    char path[400] = "/items/";
    memset(path + 7, 'z', 300);
    path[307] = '\0';
    tu_get(port, path, AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 5 + 300);
    resp_free(&r);

    /* a parameter never matches an empty segment; extra or missing segments are 404 */
    const char *missing[] = {"/items/", "/echo/foo/x", "/echo/foo/x/bar/baz", "/health/", "/", "/nope", "//health"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        tu_get(port, missing[i], AUTH, &r);
        assert_error(&r, 404, "not_found_error", "route_not_found");
        char id[200];
        assert_non_null(resp_header(&r, "X-Request-Id", id, sizeof(id)));
        resp_free(&r);
    }
    hz_http_server_free(srv);
}

static void test_method_not_allowed_and_head(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    CURL *c = curl_easy_init();
    resp_t r;
    char v[256];

    tu_request(c, port, "POST", "/health", NULL, "x", 1, &r);
    assert_error(&r, 405, "invalid_request_error", "method_not_allowed");
    assert_string_equal(resp_header(&r, "Allow", v, sizeof(v)), "GET, HEAD, OPTIONS");
    resp_free(&r);

    tu_request(c, port, "PATCH", "/items/7", AUTH, NULL, 0, &r);
    assert_error(&r, 405, "invalid_request_error", "method_not_allowed");
    assert_string_equal(resp_header(&r, "Allow", v, sizeof(v)), "GET, HEAD, DELETE, OPTIONS");
    resp_free(&r);

    tu_request(c, port, "DELETE", "/items/7", AUTH, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);

    /* HEAD runs the GET handler; the body is suppressed but its length is announced */
    tu_request(c, port, "HEAD", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(resp_header(&r, "Content-Length", v, sizeof(v)), "15");
    resp_free(&r);

    /* an unknown method on a known path is 405, on an unknown path 404 */
    tu_request(c, port, "BREW", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    tu_request(c, port, "BREW", "/coffee", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* plain OPTIONS (no CORS preflight) lists the methods */
    tu_request(c, port, "OPTIONS", "/items/3", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(resp_header(&r, "Allow", v, sizeof(v)), "GET, HEAD, DELETE, OPTIONS");
    resp_free(&r);
    curl_easy_cleanup(c);
    hz_http_server_free(srv);
}

static void test_auth(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    resp_t r;
    char v[256];

    tu_get(port, "/items/1", NULL, &r);
    assert_error(&r, 401, "authentication_error", "missing_api_key");
    assert_non_null(resp_header(&r, "WWW-Authenticate", v, sizeof(v)));
    resp_free(&r);

    const char *const wrong[] = {"Authorization: Bearer wrong", NULL};
    tu_get(port, "/items/1", wrong, &r);
    assert_error(&r, 401, "authentication_error", "invalid_api_key");
    resp_free(&r);

    const char *const basic[] = {"Authorization: Basic c2VjcmV0", NULL};
    tu_get(port, "/items/1", basic, &r);
    assert_error(&r, 401, "authentication_error", "invalid_api_key");
    resp_free(&r);

    const char *const prefix[] = {"Authorization: Bearer secretX", NULL};
    tu_get(port, "/items/1", prefix, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);

    const char *const empty[] = {"Authorization: Bearer ", NULL};
    tu_get(port, "/items/1", empty, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);

    /* scheme is case-insensitive */
    const char *const lower[] = {"Authorization: bearer secret", NULL};
    tu_get(port, "/items/1", lower, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "item 1");
    resp_free(&r);
    const char *const upper[] = {"Authorization: BEARER   secret", NULL};
    tu_get(port, "/items/1", upper, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* public routes need nothing; unknown paths are 404 even without a key */
    tu_get(port, "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"status\":\"ok\"}");
    resp_free(&r);
    tu_get(port, "/unknown", NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* a 401 on a request with a body goes out without reading the body */
    CURL *c = curl_easy_init();
    tu_request(c, port, "POST", "/body", NULL, "0123456789", 10, &r);
    assert_error(&r, 401, "authentication_error", "missing_api_key");
    resp_free(&r);
    curl_easy_cleanup(c);
    hz_http_server_free(srv);
}

static void test_no_auth_callback_means_public(void **state) {
    (void)state;
    hz_http_options_t o = {.threads = 1};
    hz_http_server_t *srv = start(&o);
    resp_t r;
    tu_get(hz_http_server_port(srv), "/items/9", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    hz_http_server_free(srv);
}

static void test_request_ids(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    resp_t r;
    char id[300], id2[300];

    const char *const mine[] = {"X-Request-Id: abc.DEF_123-xyz", "Authorization: Bearer secret", NULL};
    tu_get(port, "/items/1", mine, &r);
    assert_string_equal(resp_header(&r, "X-Request-Id", id, sizeof(id)), "abc.DEF_123-xyz");
    resp_free(&r);
    /* echoed on errors too */
    tu_get(port, "/nowhere", mine, &r);
    assert_string_equal(resp_header(&r, "X-Request-Id", id, sizeof(id)), "abc.DEF_123-xyz");
    resp_free(&r);
    const char *const mine_noauth[] = {"X-Request-Id: unauth-1", NULL};
    tu_get(port, "/items/1", mine_noauth, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(resp_header(&r, "X-Request-Id", id, sizeof(id)), "unauth-1");
    resp_free(&r);

    /* none, or unacceptable ones, get a fresh UUIDv7 */
    char longid[160] = "X-Request-Id: ";
    memset(longid + 14, 'a', 129);
    longid[14 + 129] = '\0';
    char ok128[160] = "X-Request-Id: ";
    memset(ok128 + 14, 'b', 128);
    ok128[14 + 128] = '\0';
    const char *const bad[][2] = {{NULL, NULL}, {"X-Request-Id: has space", NULL}, {"X-Request-Id: semi;colon", NULL},
                                  {longid, NULL}, {"X-Request-Id: \xc3\xa9t\xc3\xa9", NULL}};
    id2[0] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tu_get(port, "/health", bad[i], &r);
        assert_int_equal(r.status, 200);
        assert_non_null(resp_header(&r, "X-Request-Id", id, sizeof(id)));
        assert_true(hz_uuid_valid(id));
        assert_int_equal(id[14], '7');
        assert_string_not_equal(id, id2);
        strcpy(id2, id);
        resp_free(&r);
    }
    const char *const max[] = {ok128, NULL};
    tu_get(port, "/health", max, &r);
    assert_string_equal(resp_header(&r, "X-Request-Id", id, sizeof(id)), ok128 + 14);
    resp_free(&r);
    hz_http_server_free(srv);
}

static size_t read_chunks(char *buf, size_t size, size_t n, void *ud) {
    size_t *left = ud;
    size_t give = size * n < 100 ? size * n : 100;
    if (give > *left) give = *left;
    memset(buf, 'k', give);
    *left -= give;
    return give;
}

/* POST a body of `total` bytes with chunked encoding (no Content-Length). */
static void post_chunked(int port, size_t total, resp_t *r) {
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/body", port);
    memset(r, 0, sizeof(*r));
    size_t left = total;
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Authorization: Bearer secret");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_chunks);
    curl_easy_setopt(c, CURLOPT_READDATA, &left);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tu_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r->body.data) hz_buf_reserve(&r->body, 1);
}

static void test_body_limits(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();  /* limit 1024 */
    int port = hz_http_server_port(srv);
    CURL *c = curl_easy_init();
    resp_t r;
    char body[4096];
    for (size_t i = 0; i < sizeof(body); i++) body[i] = (char)('a' + i % 26);
    unsigned sum = 0;
    for (size_t i = 0; i < 1024; i++) sum = sum * 31 + (unsigned char)body[i];
    char expect[64];
    snprintf(expect, sizeof(expect), "1024 %u", sum);

    /* exactly at the limit: accepted, bytes intact */
    tu_request(c, port, "POST", "/body", AUTH, body, 1024, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, expect);
    resp_free(&r);

    /* declared too large: 413 from the headers, before any body is sent */
    const char *const expect100[] = {"Authorization: Bearer secret", "Expect: 100-continue", NULL};
    tu_request(c, port, "POST", "/body", expect100, body, 4096, &r);
    assert_error(&r, 413, "invalid_request_error", "request_too_large");
    assert_non_null(strstr(r.body.data, "4096 bytes exceeds the limit of 1024"));
    curl_off_t sent = -1;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &sent);
    assert_int_equal(sent, 0);
    resp_free(&r);
    /* ... and also when the client does not wait for 100 Continue */
    tu_request(c, port, "PUT", "/body", AUTH, body, 1025, &r);
    assert_error(&r, 413, "invalid_request_error", "request_too_large");
    resp_free(&r);

    /* streamed (chunked, no length): fine under the limit, 413 once it passes */
    post_chunked(port, 1000, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "1000 "));
    resp_free(&r);
    post_chunked(port, 3000, &r);
    assert_error(&r, 413, "invalid_request_error", "request_too_large");
    resp_free(&r);
    /* a stream that runs on far past the limit is cut off instead of being read forever */
    post_chunked(port, 3u << 20, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_int_not_equal(r.status, 413);
    resp_free(&r);

    /* the server is still fine afterwards */
    tu_request(c, port, "POST", "/body", AUTH, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "0 0");
    resp_free(&r);
    curl_easy_cleanup(c);
    hz_http_server_free(srv);
}

static void test_json_bodies(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    CURL *c = curl_easy_init();
    resp_t r;
    char v[64];
    const char *const hdrs[] = {"Authorization: Bearer secret", "Content-Type: application/json", NULL};

    const char *good = "{\"name\":\"hanzo\"}";
    tu_request(c, port, "POST", "/json", hdrs, good, (long)strlen(good), &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "{\"hello\":\"hanzo\"}");
    assert_string_equal(resp_header(&r, "X-Custom", v, sizeof(v)), "yes");
    assert_string_equal(resp_header(&r, "Content-Type", v, sizeof(v)), "application/json");
    resp_free(&r);

    /* trailing garbage starts at byte 17 */
    const char *bad = "{\"name\":\"hanzo\"} x";
    tu_request(c, port, "POST", "/json", hdrs, bad, (long)strlen(bad), &r);
    assert_error(&r, 400, "invalid_request_error", "invalid_json");
    assert_non_null(strstr(r.body.data, "byte 17"));
    resp_free(&r);

    const char *dup = "{\"a\":1,\"a\":2}";
    tu_request(c, port, "POST", "/json", hdrs, dup, (long)strlen(dup), &r);
    assert_error(&r, 400, "invalid_request_error", "invalid_json");
    assert_non_null(strstr(r.body.data, "byte "));
    resp_free(&r);

    tu_request(c, port, "POST", "/json", hdrs, "", 0, &r);
    assert_error(&r, 400, "invalid_request_error", "invalid_json");
    assert_non_null(strstr(r.body.data, "byte 0"));
    resp_free(&r);
    curl_easy_cleanup(c);
    hz_http_server_free(srv);
}

static void test_handler_mistakes(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    resp_t r;
    tu_get(port, "/silent", AUTH, &r);
    assert_error(&r, 500, "server_error", "internal_error");
    resp_free(&r);
    tu_get(port, "/twice", AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "first");
    resp_free(&r);
    /* quotes are escaped and invalid UTF-8 replaced, so the error is still valid JSON */
    tu_get(port, "/error", AUTH, &r);
    assert_error(&r, 409, "conflict_error", NULL);
    assert_non_null(strstr(r.body.data, "quote \\\" and bad utf8 ? end"));
    resp_free(&r);
    hz_http_server_free(srv);
}

static void test_cors(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    CURL *c = curl_easy_init();
    resp_t r;
    char v[256];

    const char *const allowed[] = {"Origin: https://app.example", NULL};
    tu_request(c, port, "GET", "/health", allowed, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), "https://app.example");
    assert_string_equal(resp_header(&r, "Vary", v, sizeof(v)), "Origin");
    resp_free(&r);

    /* errors carry CORS headers too, so the page can read them */
    tu_request(c, port, "GET", "/items/1", allowed, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), "https://app.example");
    resp_free(&r);

    const char *const denied[] = {"Origin: https://evil.example", NULL};
    tu_request(c, port, "GET", "/health", denied, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    assert_null(resp_header(&r, "Vary", v, sizeof(v)));
    resp_free(&r);

    /* preflight: answered without a key */
    const char *const pre[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: POST",
                               "Access-Control-Request-Headers: authorization, content-type", NULL};
    tu_request(c, port, "OPTIONS", "/json", pre, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), "http://localhost:3000");
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)), "POST, OPTIONS");
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)),
                        "Authorization, Content-Type, X-Request-Id");
    assert_non_null(resp_header(&r, "Access-Control-Max-Age", v, sizeof(v)));
    assert_string_equal(resp_header(&r, "Vary", v, sizeof(v)), "Origin");
    resp_free(&r);

    const char *const pre_denied[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST", NULL};
    tu_request(c, port, "OPTIONS", "/json", pre_denied, NULL, 0, &r);
    assert_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    assert_null(resp_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)));
    resp_free(&r);
    curl_easy_cleanup(c);
    hz_http_server_free(srv);

    /* CORS off: no headers even for an origin that was on the list */
    hz_http_options_t o = {.threads = 1, .auth = auth_cb};
    srv = start(&o);
    tu_get(hz_http_server_port(srv), "/health", allowed, &r);
    assert_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    resp_free(&r);
    hz_http_server_free(srv);
}

static void test_keep_alive(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    CURL *c = curl_easy_init();
    resp_t r;
    char v[64];
    tu_request(c, port, "GET", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 1);
    assert_null(resp_header(&r, "Connection", v, sizeof(v)));
    resp_free(&r);
    /* reused for successes, bodies, and errors decided before the handler */
    struct { const char *method, *path; const char *body; long status; } seq[] = {
        {"GET", "/health", NULL, 200}, {"POST", "/body", "hello", 200}, {"GET", "/nope", NULL, 404},
        {"GET", "/items/1", NULL, 200}, {"DELETE", "/health", NULL, 405}, {"GET", "/health", NULL, 200},
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        tu_request(c, port, seq[i].method, seq[i].path, AUTH, seq[i].body, seq[i].body ? (long)strlen(seq[i].body) : 0, &r);
        assert_int_equal(r.status, seq[i].status);
        assert_int_equal(r.connects, 0);
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    hz_http_server_free(srv);
}

typedef struct {
    int port;
    int n;
    int ok;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    CURL *c = curl_easy_init();
    for (int i = 0; i < w->n; i++) {
        resp_t r;
        char path[64];
        if (i % 2) {
            snprintf(path, sizeof(path), "/items/%d", i);
            tu_request(c, w->port, "GET", path, AUTH, NULL, 0, &r);
            char expect[64];
            snprintf(expect, sizeof(expect), "item %d", i);
            if (r.status == 200 && strcmp(r.body.data, expect) == 0) w->ok++;
        } else {
            tu_request(c, w->port, "GET", "/health", NULL, NULL, 0, &r);
            if (r.status == 200) w->ok++;
        }
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* The value of a sample line "<series> <value>" (HELP and TYPE lines do not count). */
static long long metric_value(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return atoll(p + n + 1);
    return -1;
}

static void test_concurrency_and_metrics(void **state) {
    (void)state;
    hz_http_server_t *srv = start_default();
    int port = hz_http_server_port(srv);
    enum { THREADS = 6, PER = 60 };
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){port, PER, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, PER);
    }
    resp_t r;
    tu_get(port, "/nope/1", NULL, &r);
    resp_free(&r);
    tu_get(port, "/nope/2", NULL, &r);
    resp_free(&r);
    tu_get(port, "/items/1", NULL, &r);  /* 401 */
    resp_free(&r);

    /* a request is counted when libmicrohttpd reports it complete, which can be a moment after
     * the client has read the reply */
    hz_buf_t m = HZ_BUF_INIT;
    for (int i = 0; i < 200; i++) {
        hz_buf_reset(&m);
        hz_http_metrics_render(srv, &m);
        if (metric_value(m.data, "hanzo_http_requests_in_flight") == 0) break;
        hz_sleep_ms(5);
    }
    const char *text = m.data;
    assert_non_null(strstr(text, "# TYPE hanzo_http_requests_total counter\n"));
    assert_non_null(strstr(text, "# HELP hanzo_http_requests_total "));
    assert_int_equal(metric_value(text, "hanzo_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}"),
                     THREADS * PER / 2);
    assert_int_equal(metric_value(text, "hanzo_http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"200\"}"),
                     THREADS * PER / 2);
    assert_int_equal(metric_value(text, "hanzo_http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"401\"}"), 1);
    /* raw paths never become labels */
    assert_int_equal(metric_value(text, "hanzo_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"), 2);
    assert_null(strstr(text, "/nope"));
    assert_null(strstr(text, "/items/1\""));
    assert_non_null(strstr(text, "# TYPE hanzo_http_request_duration_seconds histogram\n"));
    assert_int_equal(metric_value(text, "hanzo_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"}"),
                     THREADS * PER / 2);
    assert_int_equal(metric_value(text, "hanzo_http_request_duration_seconds_count{route=\"/health\"}"), THREADS * PER / 2);
    assert_non_null(strstr(text, "hanzo_http_request_duration_seconds_sum{route=\"/health\"} "));
    /* buckets are cumulative: never decreasing */
    long long prev = 0;
    for (const char *p = text; (p = strstr(p, "hanzo_http_request_duration_seconds_bucket{route=\"/health\""));) {
        const char *val = strchr(p, '}') + 2;
        long long v = atoll(val);
        assert_true(v >= prev);
        prev = v;
        p = val;
    }
    assert_int_equal(metric_value(text, "hanzo_http_requests_in_flight"), 0);
    assert_true(metric_value(text, "hanzo_process_resident_memory_bytes") > 1000000);
    long long start_s = metric_value(text, "hanzo_process_start_time_seconds");
    assert_true(start_s > 1600000000 && start_s <= hz_time_now_ms() / 1000 + 1);
    assert_non_null(strstr(text, "# TYPE hanzo_process_resident_memory_bytes gauge\n"));
    hz_buf_free(&m);

    /* over HTTP, the scrape itself is in flight */
    tu_get(port, "/metrics", AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(metric_value(r.body.data, "hanzo_http_requests_in_flight"), 1);
    resp_free(&r);
    hz_http_server_free(srv);
}

static void dummy(hz_http_req_t *req, void *ctx) {
    (void)req;
    (void)ctx;
}

static void test_route_registration(void **state) {
    (void)state;
    hz_http_server_t *srv;
    assert_int_equal(hz_http_server_new(NULL, &srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/a/{id}/b", 0, dummy, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_POST, "/a/{id}/b", 0, dummy, NULL), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET | HZ_HTTP_PUT, "/a/{id}/b", 0, dummy, NULL), HZ_EEXIST);
    assert_non_null(strstr(hz_error_last(), "GET"));
    assert_int_equal(hz_http_route(srv, HZ_HTTP_PUT, "/a/{other}/b", 0, dummy, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "{id}"));
    const char *bad[] = {"", "a/b", "/a/{", "/a/{}", "/a/x{id}", "/a/{id}x", "/a/{i-d}", "/{x}/{x}",
                         "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/22/23/24/25/26/27/28/29/30/31/32/33"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, bad[i], 0, dummy, NULL), HZ_EINVAL);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, NULL, 0, dummy, NULL), HZ_EINVAL);
    assert_int_equal(hz_http_route(srv, 0, "/z", 0, dummy, NULL), HZ_EINVAL);
    assert_int_equal(hz_http_route(srv, 1u << 9, "/z", 0, dummy, NULL), HZ_EINVAL);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/z", 0, NULL, NULL), HZ_EINVAL);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/", 0, dummy, NULL), 0);
    hz_buf_t m = HZ_BUF_INIT;
    hz_http_metrics_render(srv, &m);  /* before start: process metrics only */
    assert_non_null(strstr(m.data, "hanzo_process_resident_memory_bytes "));
    assert_null(strstr(m.data, "hanzo_http_requests_total{"));
    hz_buf_free(&m);
    assert_int_equal(hz_http_server_start(srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/late", 0, dummy, NULL), HZ_ESTATE);
    assert_int_equal(hz_http_server_start(srv), HZ_ESTATE);
    hz_http_server_free(srv);

    hz_http_options_t o = {.port = 70000};
    assert_int_equal(hz_http_server_new(&o, &srv), HZ_EINVAL);
}

static void test_bind(void **state) {
    (void)state;
    hz_http_options_t o = {.threads = 1};
    hz_http_server_t *a = start(&o);
    /* the same port again: a clear error naming the address */
    hz_http_options_t o2 = {.threads = 1, .port = hz_http_server_port(a)};
    hz_http_server_t *b;
    assert_int_equal(hz_http_server_new(&o2, &b), 0);
    assert_int_equal(hz_http_server_start(b), HZ_EIO);
    char expect[64];
    snprintf(expect, sizeof(expect), "127.0.0.1:%d", hz_http_server_port(a));
    assert_non_null(strstr(hz_error_last(), expect));
    assert_non_null(strstr(hz_error_last(), "in use"));
    hz_http_server_free(b);
    hz_http_server_free(a);

    hz_http_options_t o3 = {.host = "not a host", .threads = 1};
    assert_int_equal(hz_http_server_new(&o3, &b), 0);
    assert_int_equal(hz_http_server_start(b), HZ_EIO);
    assert_non_null(strstr(hz_error_last(), "not a host"));
    hz_http_server_free(b);

    /* IPv6 loopback, when the machine has it */
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = s6 >= 0 && bind(s6, (struct sockaddr *)&sa6, sizeof(sa6)) == 0;
    if (s6 >= 0) close(s6);
    if (!have_v6) return;
    const char *hosts[] = {"::1", "[::1]"};
    for (int i = 0; i < 2; i++) {
        hz_http_options_t o6 = {.host = hosts[i], .threads = 2};
        hz_http_server_t *srv = start(&o6);
        char url[128];
        snprintf(url, sizeof(url), "http://[::1]:%d/health", hz_http_server_port(srv));
        CURL *c = curl_easy_init();
        hz_buf_t body = HZ_BUF_INIT;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        curl_easy_cleanup(c);
        hz_buf_free(&body);
        /* bound to ::1 only, not to IPv4 */
        resp_t r;
        tu_get(hz_http_server_port(srv), "/health", NULL, &r);
        assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
        resp_free(&r);
        hz_http_server_free(srv);
    }
}

static void test_idle_timeout(void **state) {
    (void)state;
    hz_http_options_t o = {.threads = 1, .request_timeout_s = 1};
    hz_http_server_t *srv = start(&o);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hz_http_server_port(srv))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char partial[] = "GET /health HTTP/1.1\r\nHost: x\r\n";  /* never finished */
    assert_int_equal(write(fd, partial, sizeof(partial) - 1), (ssize_t)sizeof(partial) - 1);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int64_t t0 = hz_time_mono_ns();
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {}
    int64_t waited_ms = (hz_time_mono_ns() - t0) / 1000000;
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));  /* closed by the server, not our 5 s timeout */
    assert_true(waited_ms >= 500 && waited_ms < 4000);
    close(fd);
    hz_http_server_free(srv);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hz_log_configure(getenv("HZ_TEST_LOG") ? getenv("HZ_TEST_LOG") : "error", HZ_LOG_TEXT, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_and_params),
        cmocka_unit_test(test_method_not_allowed_and_head),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_no_auth_callback_means_public),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_json_bodies),
        cmocka_unit_test(test_handler_mistakes),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_concurrency_and_metrics),
        cmocka_unit_test(test_route_registration),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_idle_timeout),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
