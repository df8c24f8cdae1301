/*
 * RFC 6455 framing (src/http/websocket*.c) driven over a socketpair: the server side is the
 * real hz_ws_run on its own thread, the client side is written out by hand here (masked
 * frames, header bytes built field by field) so the test does not share the code it checks.
 * Each case checks both what the client sees on the wire (frames, close codes, EOF) and what
 * the server application sees (on_message, on_close exactly once with the right code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/websocket.h"

#define MAX_MSG ((size_t)2 << 20)
#define CLIENT_TIMEOUT_MS 10000

/* ---- the server application under test ---------------------------------------------- */

typedef struct server {
    int client;                 /* the test's end of the socketpair */
    int server_fd;
    hz_ws_t *ws;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int opens, closes, messages;
    int close_code;
    char close_reason[128];
    hz_buf_t last;              /* last message received */
    bool last_binary;
    bool echo;
    int send_rc_after_close;    /* hz_ws_send result right after hz_ws_close in a callback */
    int released_fd;            /* set by the release hook */
} server_t;

static void on_open(hz_ws_t *ws, void *ctx) {
    server_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->opens++;
    pthread_mutex_unlock(&s->mu);
}

static void on_message(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx) {
    server_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->messages++;
    hz_buf_reset(&s->last);
    hz_buf_append(&s->last, data, len);
    s->last_binary = binary;
    pthread_mutex_unlock(&s->mu);
    if (!binary && len == 8 && memcmp(data, "close-me", 8) == 0) {
        hz_ws_close(ws, 4001, "as asked");
        s->send_rc_after_close = hz_ws_send(ws, false, "late", 4);
        return;
    }
    if (s->echo) hz_ws_send(ws, binary, data, len);
}

static void on_close(hz_ws_t *ws, int code, const char *reason, void *ctx) {
    server_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->closes++;
    s->close_code = code;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static const hz_ws_callbacks_t callbacks = {on_open, on_message, on_close};

static void *run_thread(void *arg) {
    server_t *s = arg;
    hz_ws_run(s->ws);
    return NULL;
}

static void release_hook(int fd, void *arg) {
    server_t *s = arg;
    s->released_fd = fd;
    close(fd);
}

/* Create the connection; start=false lets a test feed bytes or set hooks before hz_ws_run. */
static server_t *server_new(size_t max_message, bool start) {
    server_t *s = hz_calloc(1, sizeof(*s));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    s->client = sv[0];
    s->server_fd = sv[1];
    s->echo = true;
    s->released_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    hz_buf_init(&s->last);
    s->ws = hz_ws_new(sv[1], &callbacks, s, max_message);
    assert_non_null(s->ws);
    if (start) assert_int_equal(pthread_create(&s->thread, NULL, run_thread, s), 0);
    return s;
}

static void server_start(server_t *s) {
    assert_int_equal(pthread_create(&s->thread, NULL, run_thread, s), 0);
}

/* Wait for on_close (up to ms), join the reader and check on_close ran exactly once. */
static void server_wait_closed(server_t *s, int ms) {
    int64_t until = hz_time_mono_ns() + (int64_t)ms * 1000000;
    pthread_mutex_lock(&s->mu);
    while (s->closes == 0 && hz_time_mono_ns() < until) {
        pthread_mutex_unlock(&s->mu);
        hz_sleep_ms(2);
        pthread_mutex_lock(&s->mu);
    }
    int closes = s->closes;
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(closes, 1);
    pthread_join(s->thread, NULL);
    assert_int_equal(s->closes, 1);
    assert_int_equal(s->opens, 1);
}

static void server_free(server_t *s) {
    if (s->client >= 0) close(s->client);
    hz_buf_free(&s->last);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    hz_free(s);
}

/* ---- the hand-written client ---------------------------------------------------------- */

static void client_write(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* A client frame: header written out field by field, always masked unless told otherwise. */
static void client_frame(int fd, bool fin, int opcode, const void *payload, size_t len, bool masked) {
    uint8_t *frame = hz_malloc(len + 14);
    size_t pos = 0;
    frame[pos++] = (uint8_t)((fin ? 0x80 : 0x00) | opcode);
    uint8_t mbit = masked ? 0x80 : 0x00;
    if (len <= 125) {
        frame[pos++] = mbit | (uint8_t)len;
    } else if (len <= 65535) {
        frame[pos++] = mbit | 126;
        frame[pos++] = (uint8_t)(len >> 8);
        frame[pos++] = (uint8_t)(len & 0xFF);
    } else {
        frame[pos++] = mbit | 127;
        for (int i = 7; i >= 0; i--) frame[pos++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t mask[4] = {0, 0, 0, 0};
    if (masked) {
        hz_random_bytes(mask, 4);
        memcpy(frame + pos, mask, 4);
        pos += 4;
    }
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) frame[pos + i] = src[i] ^ mask[i % 4];
    client_write(fd, frame, pos + len);
    hz_free(frame);
}

static void client_close_frame(int fd, int code, const char *reason) {
    uint8_t p[125] = {0};
    size_t n = 0;
    if (code) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2;
        size_t r = strlen(reason);
        memcpy(p + 2, reason, r);
        n += r;
    }
    client_frame(fd, true, 8, p, n, true);
}

/* 0 on success, -1 on EOF or timeout. */
static int client_read_exact(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, CLIENT_TIMEOUT_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

typedef struct cframe {
    bool fin;
    int opcode;
    size_t header_len;
    hz_buf_t payload;
} cframe_t;

/* Read one server frame; -1 on EOF. Server frames must never be masked. */
static int client_recv(int fd, cframe_t *f) {
    uint8_t h[8];
    hz_buf_reset(&f->payload);
    if (client_read_exact(fd, h, 2) != 0) return -1;
    f->fin = (h[0] & 0x80) != 0;
    assert_int_equal(h[0] & 0x70, 0);
    f->opcode = h[0] & 0x0F;
    assert_int_equal(h[1] & 0x80, 0);
    uint64_t len = h[1] & 0x7F;
    f->header_len = 2;
    if (len == 126) {
        assert_int_equal(client_read_exact(fd, h, 2), 0);
        len = ((uint64_t)h[0] << 8) | h[1];
        f->header_len = 4;
    } else if (len == 127) {
        assert_int_equal(client_read_exact(fd, h, 8), 0);
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | h[i];
        f->header_len = 10;
    }
    hz_buf_reserve(&f->payload, (size_t)len);
    if (len) assert_int_equal(client_read_exact(fd, f->payload.data, (size_t)len), 0);
    f->payload.len = (size_t)len;
    f->payload.data[len] = '\0';
    return 0;
}

/* Read frames until a close arrives; return its code (1005 for an empty close). */
static int client_expect_close(int fd, char *reason, size_t cap) {
    cframe_t f = {.payload = HZ_BUF_INIT};
    int code = -1;
    while (client_recv(fd, &f) == 0) {
        if (f.opcode != 8) continue;
        assert_true(f.payload.len != 1);
        code = 1005;
        if (f.payload.len >= 2) {
            code = ((uint8_t)f.payload.data[0] << 8) | (uint8_t)f.payload.data[1];
            if (reason) snprintf(reason, cap, "%.*s", (int)(f.payload.len - 2), f.payload.data + 2);
        } else if (reason) {
            reason[0] = '\0';
        }
        break;
    }
    hz_buf_free(&f.payload);
    return code;
}

/* After the server's close the stream must end: nothing but EOF may follow. */
static void client_expect_eof(int fd) {
    uint8_t b;
    assert_int_equal(client_read_exact(fd, &b, 1), -1);
}

/* ---- pure functions ------------------------------------------------------------------- */

static void test_accept_key(void **state) {
    char out[29];
    /* RFC 6455 section 1.3: SHA-1 b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea. */
    assert_int_equal(hz_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* A second pair, checked with `openssl sha1 -binary | base64`. */
    assert_int_equal(hz_ws_accept_key("wDqumtseNBJdhkihL6PW7w==", out), 0);
    assert_string_equal(out, "0FFP+2nmNIf/h+4BP36k9uzrYGk=");
    /* Shape errors: length, padding, alphabet, missing. */
    assert_int_equal(hz_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), HZ_EINVAL);
    assert_int_equal(hz_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), HZ_EINVAL);
    assert_int_equal(hz_ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out), HZ_EINVAL);
    assert_int_equal(hz_ws_accept_key("dGhlIHNhbXBsZSBub2*jZQ==", out), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "byte 18"));
    assert_int_equal(hz_ws_accept_key(NULL, out), HZ_EINVAL);
    assert_int_equal(hz_ws_accept_key("", out), HZ_EINVAL);
}

typedef struct header_case {
    const char *name;
    uint8_t bytes[16];
    size_t len;
    bool require_mask;
    uint64_t max;
    int rc;            /* > 0 header length, 0 incomplete, < 0 error */
    int close_code;
    uint64_t payload_len;
} header_case_t;

static const header_case_t header_cases[] = {
    {"masked text 5", {0x81, 0x85, 1, 2, 3, 4}, 6, true, 100, 6, 0, 5},
    {"unmasked allowed", {0x82, 0x03}, 2, false, 100, 2, 0, 3},
    {"16-bit length", {0x82, 0xFE, 0x00, 0x7E, 1, 2, 3, 4}, 8, true, 1000, 8, 0, 126},
    {"64-bit length", {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14, true, 1 << 20, 14, 0, 65536},
    {"empty input", {0}, 0, true, 100, 0, 0, 0},
    {"one byte", {0x81}, 1, true, 100, 0, 0, 0},
    {"mask incomplete", {0x81, 0x85, 1, 2}, 4, true, 100, 0, 0, 0},
    {"16-bit incomplete", {0x81, 0xFE, 0x01}, 3, true, 1000, 0, 0, 0},
    {"64-bit incomplete", {0x81, 0xFF, 0, 0, 0}, 5, true, 1 << 20, 0, 0, 0},
    {"rsv1", {0xC1, 0x80, 1, 2, 3, 4}, 6, true, 100, HZ_EPARSE, 1002, 0},
    {"rsv2 on first byte alone", {0xA1}, 1, true, 100, HZ_EPARSE, 1002, 0},
    {"rsv3", {0x91, 0x80, 1, 2, 3, 4}, 6, true, 100, HZ_EPARSE, 1002, 0},
    {"opcode 3", {0x83, 0x80, 1, 2, 3, 4}, 6, true, 100, HZ_EPARSE, 1002, 0},
    {"opcode 7", {0x87}, 1, true, 100, HZ_EPARSE, 1002, 0},
    {"opcode 0xB", {0x8B, 0x80, 1, 2, 3, 4}, 6, true, 100, HZ_EPARSE, 1002, 0},
    {"opcode 0xF", {0x8F}, 1, true, 100, HZ_EPARSE, 1002, 0},
    {"fragmented ping", {0x09, 0x80, 1, 2, 3, 4}, 6, true, 100, HZ_EPARSE, 1002, 0},
    {"fragmented close", {0x08}, 1, true, 100, HZ_EPARSE, 1002, 0},
    {"ping 126", {0x89, 0xFE, 0x00, 0x7E}, 4, true, 1000, HZ_EPARSE, 1002, 0},
    {"pong 7-bit 126 marker", {0x8A, 0xFE}, 2, true, 1000, HZ_EPARSE, 1002, 0},
    {"unmasked client", {0x81, 0x05}, 2, true, 100, HZ_EPARSE, 1002, 0},
    {"non-minimal 16", {0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4}, 8, true, 1000, HZ_EPARSE, 1002, 0},
    {"non-minimal 64 small", {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5}, 10, true, 1000, HZ_EPARSE, 1002, 0},
    {"non-minimal 64 16-bit", {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 10, true, 1 << 20, HZ_EPARSE, 1002, 0},
    {"64-bit top bit", {0x82, 0xFF, 0x80}, 3, true, UINT64_MAX, HZ_EPARSE, 1002, 0},
    {"over max 7-bit", {0x82, 0x8B, 1, 2, 3, 4}, 6, true, 10, HZ_ETOOBIG, 1009, 0},
    {"over max 64-bit", {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0}, 10, true, 1 << 20, HZ_ETOOBIG, 1009, 0},
    {"control ignores max", {0x89, 0x8B, 1, 2, 3, 4}, 6, true, 10, 6, 0, 11},
    {"exactly max", {0x82, 0x8A, 1, 2, 3, 4}, 6, true, 10, 6, 0, 10},
};

static void test_parse_header(void **state) {
    for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        const header_case_t *c = &header_cases[i];
        hz_ws_frame_t f;
        int code = -1;
        int rc = hz_ws_parse_header(c->bytes, c->len, c->require_mask, c->max, &f, &code);
        if (rc != c->rc) fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, hz_error_last());
        if (c->rc < 0 && code != c->close_code)
            fail_msg("%s: close code %d, want %d", c->name, code, c->close_code);
        if (c->rc > 0) {
            if (f.payload_len != c->payload_len || f.header_len != (size_t)rc)
                fail_msg("%s: payload %llu header %zu", c->name, (unsigned long long)f.payload_len,
                         f.header_len);
            if (f.masked && memcmp(f.mask, c->bytes + rc - 4, 4) != 0) fail_msg("%s: mask", c->name);
        }
    }
}

static void test_build_header_roundtrip(void **state) {
    const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20, (uint64_t)1 << 32, INT64_MAX};
    const size_t want_hlen[] = {2, 2, 2, 4, 4, 4, 10, 10, 10, 10};
    const uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t h[HZ_WS_MAX_HEADER];
            size_t n = hz_ws_build_header(h, m == 0, 2, lens[i], m ? mask : NULL);
            assert_int_equal(n, want_hlen[i] + (m ? 4 : 0));
            hz_ws_frame_t f;
            int code;
            /* Every strict prefix is "incomplete", the whole header parses back. */
            for (size_t k = 0; k < n; k++)
                assert_int_equal(hz_ws_parse_header(h, k, m == 1, UINT64_MAX, &f, &code), 0);
            assert_int_equal(hz_ws_parse_header(h, n, m == 1, UINT64_MAX, &f, &code), (int)n);
            assert_true(f.payload_len == lens[i]);
            assert_int_equal(f.fin, m == 0);
            assert_int_equal(f.opcode, 2);
            assert_int_equal(f.masked, m == 1);
        }
    }
}

static void test_unmask_offsets(void **state) {
    uint8_t data[37], copy[37];
    const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)(i * 7);
    memcpy(copy, data, sizeof(data));
    /* Unmasking in uneven pieces equals unmasking at once. */
    size_t off = 0;
    off = hz_ws_unmask(copy, 3, mask, off);
    off = hz_ws_unmask(copy + 3, 10, mask, off);
    off = hz_ws_unmask(copy + 13, 24, mask, off);
    assert_int_equal(off, 37 % 4);
    for (size_t i = 0; i < sizeof(data); i++) assert_int_equal(copy[i], data[i] ^ mask[i % 4]);
}

static void test_close_codes(void **state) {
    const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999};
    const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, -1};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) assert_true(hz_ws_close_code_valid(ok[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) assert_false(hz_ws_close_code_valid(bad[i]));
}

static void test_utf8_feed(void **state) {
    /* U+1F600 split over pieces is fine until the end. */
    const char smile[] = "a\xF0\x9F\x98\x80";
    size_t checked = 0;
    assert_true(hz_ws_utf8_feed(smile, 2, &checked, false));
    assert_true(hz_ws_utf8_feed(smile, 4, &checked, false));
    assert_false(hz_ws_utf8_feed(smile, 4, &checked, true)); /* ends inside the sequence */
    assert_int_equal(checked, 1);
    assert_true(hz_ws_utf8_feed(smile, 5, &checked, true));
    /* Fail fast: bytes that can never become valid. */
    const char *never[] = {"\xC0", "\xC1\x80", "\xF5", "\xED\xA0", "\xF4\x90", "\xE0\x80", "\xF0\x80",
                           "ab\xFF", "\x80", "\xE2\x82\x41"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        checked = 0;
        if (hz_ws_utf8_feed(never[i], strlen(never[i]), &checked, false))
            fail_msg("case %zu accepted", i);
    }
    checked = 0;
    assert_false(hz_ws_utf8_feed("ok\xC3\x28", 4, &checked, false));
    assert_int_equal(checked, 2);
}

/* ---- echo ----------------------------------------------------------------------------- */

static void fill_text(char *buf, size_t len) {
    /* ASCII with some 2- and 3-byte characters mixed in, kept whole at the end. */
    static const char *pieces[] = {"hello ", "\xC3\xA9t\xC3\xA9 ", "\xE2\x82\xAC", "x"};
    size_t pos = 0, k = 0;
    while (pos < len) {
        const char *p = pieces[k++ % 4];
        size_t n = strlen(p);
        if (pos + n > len) p = "x", n = 1;
        memcpy(buf + pos, p, n);
        pos += n;
    }
}

static void echo_roundtrip(server_t *s, bool binary, size_t len) {
    char *data = hz_malloc(len + 1);
    if (binary) hz_random_bytes(data, len);
    else fill_text(data, len);
    client_frame(s->client, true, binary ? 2 : 1, data, len, true);
    cframe_t f = {.payload = HZ_BUF_INIT};
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_true(f.fin);
    assert_int_equal(f.opcode, binary ? 2 : 1);
    assert_int_equal(f.payload.len, len);
    assert_int_equal(f.header_len, len <= 125 ? 2 : len <= 65535 ? 4 : 10);
    assert_memory_equal(f.payload.data, data, len);
    hz_buf_free(&f.payload);
    hz_free(data);
}

static void test_echo_sizes(void **state) {
    const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
    server_t *s = server_new(MAX_MSG, true);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        echo_roundtrip(s, false, sizes[i]);
        echo_roundtrip(s, true, sizes[i]);
    }
    assert_int_equal(s->messages, 14);
    client_close_frame(s->client, 1000, "done");
    char reason[128];
    assert_int_equal(client_expect_close(s->client, reason, sizeof(reason)), 1000);
    client_expect_eof(s->client);
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1000);
    assert_string_equal(s->close_reason, "done");
    server_free(s);
}

static void test_ping_pong(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    uint8_t payload[125];
    hz_random_bytes(payload, sizeof(payload));
    const size_t lens[] = {0, 1, 125};
    cframe_t f = {.payload = HZ_BUF_INIT};
    for (size_t i = 0; i < 3; i++) {
        client_frame(s->client, true, 9, payload, lens[i], true);
        assert_int_equal(client_recv(s->client, &f), 0);
        assert_int_equal(f.opcode, 10);
        assert_true(f.fin);
        assert_int_equal(f.payload.len, lens[i]);
        if (lens[i]) assert_memory_equal(f.payload.data, payload, lens[i]);
    }
    /* An unsolicited pong gets no answer: the next frame is the echo. */
    client_frame(s->client, true, 10, "x", 1, true);
    client_frame(s->client, true, 1, "after", 5, true);
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_int_equal(f.opcode, 1);
    assert_string_equal(f.payload.data, "after");
    hz_buf_free(&f.payload);
    close(s->client);
    s->client = -1;
    server_wait_closed(s, 5000);
    server_free(s);
}

static void test_fragmentation(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    /* "héllo wörld" with é split across two fragments, a ping and a pong in between. */
    client_frame(s->client, false, 1, "h\xC3", 2, true);
    client_frame(s->client, true, 9, "p1", 2, true);
    client_frame(s->client, false, 0, "\xA9llo ", 5, true);
    client_frame(s->client, true, 10, "", 0, true);
    client_frame(s->client, false, 0, "", 0, true);
    client_frame(s->client, true, 0, "w\xC3\xB6rld", 6, true);
    cframe_t f = {.payload = HZ_BUF_INIT};
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_int_equal(f.opcode, 10);
    assert_string_equal(f.payload.data, "p1");
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_int_equal(f.opcode, 1);
    assert_true(f.fin);
    assert_string_equal(f.payload.data, "h\xC3\xA9llo w\xC3\xB6rld");
    /* Binary in three fragments, large enough to take the direct-read path. */
    size_t part = 70000;
    uint8_t *bin = hz_malloc(part * 3);
    hz_random_bytes(bin, part * 3);
    client_frame(s->client, false, 2, bin, part, true);
    client_frame(s->client, false, 0, bin + part, part, true);
    client_frame(s->client, true, 0, bin + 2 * part, part, true);
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_int_equal(f.opcode, 2);
    assert_int_equal(f.payload.len, part * 3);
    assert_memory_equal(f.payload.data, bin, part * 3);
    hz_free(bin);
    hz_buf_free(&f.payload);
    assert_int_equal(s->messages, 2);
    client_close_frame(s->client, 1000, "");
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1000);
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1000);
    server_free(s);
}

/* ---- protocol errors ------------------------------------------------------------------ */

typedef struct error_case {
    const char *name;
    int expect;
    void (*send)(int fd);
} error_case_t;

static void send_raw(int fd, const uint8_t *b, size_t n) { client_write(fd, b, n); }

static void e_rsv(int fd) { send_raw(fd, (const uint8_t[]){0xC1, 0x80, 0, 0, 0, 0}, 6); }
static void e_opcode3(int fd) { send_raw(fd, (const uint8_t[]){0x83, 0x80, 0, 0, 0, 0}, 6); }
static void e_opcode_b(int fd) { send_raw(fd, (const uint8_t[]){0x8B, 0x80, 0, 0, 0, 0}, 6); }
static void e_ping_nofin(int fd) { client_frame(fd, false, 9, "x", 1, true); }
static void e_ping_long(int fd) {
    char p[126];
    memset(p, 'a', sizeof(p));
    client_frame(fd, true, 9, p, sizeof(p), true);
}
static void e_nonminimal16(int fd) { send_raw(fd, (const uint8_t[]){0x82, 0xFE, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5}, 13); }
static void e_nonminimal64(int fd) {
    send_raw(fd, (const uint8_t[]){0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 0}, 14);
}
static void e_topbit(int fd) { send_raw(fd, (const uint8_t[]){0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, 14); }
static void e_unmasked(int fd) { client_frame(fd, true, 1, "hi", 2, false); }
static void e_cont_nostart(int fd) { client_frame(fd, true, 0, "x", 1, true); }
static void e_new_during_frag(int fd) {
    client_frame(fd, false, 1, "a", 1, true);
    client_frame(fd, true, 2, "b", 1, true);
}
static void e_close_1byte(int fd) { client_frame(fd, true, 8, "\x03", 1, true); }
static void e_close_1005(int fd) { client_close_frame(fd, 1005, ""); }
static void e_close_999(int fd) { client_close_frame(fd, 999, ""); }
static void e_close_1016(int fd) { client_close_frame(fd, 1016, "x"); }
static void e_close_5000(int fd) { client_close_frame(fd, 5000, ""); }
static void e_close_bad_reason(int fd) { client_close_frame(fd, 1000, "bad \xFF"); }
static void e_text_invalid(int fd) { client_frame(fd, true, 1, "ok \xC3\x28", 5, true); }
static void e_text_truncated(int fd) { client_frame(fd, true, 1, "ok \xE2\x82", 5, true); }
static void e_text_surrogate(int fd) { client_frame(fd, true, 1, "\xED\xA0\x80", 3, true); }
static void e_text_invalid_first_fragment(int fd) {
    /* Detected on the first fragment, without waiting for the rest. */
    client_frame(fd, false, 1, "\xFF", 1, true);
}
static void e_text_invalid_split(int fd) {
    client_frame(fd, false, 1, "a\xE2", 2, true);
    client_frame(fd, true, 0, "\x28\x41", 2, true);
}
static void e_oversize(int fd) {
    /* Only the header: the limit is enforced before reading the payload. */
    send_raw(fd, (const uint8_t[]){0x82, 0xFF, 0, 0, 0, 0, 0, 0x20, 0, 1, 1, 2, 3, 4}, 14);
}
static void e_oversize_fragments(int fd) {
    size_t half = MAX_MSG / 2 + 1;
    char *p = hz_calloc(1, half);
    client_frame(fd, false, 2, p, half, true);
    client_frame(fd, true, 0, p, half, true);
    hz_free(p);
}

static const error_case_t error_cases[] = {
    {"reserved bit", 1002, e_rsv},
    {"opcode 3", 1002, e_opcode3},
    {"opcode 0xB", 1002, e_opcode_b},
    {"fragmented ping", 1002, e_ping_nofin},
    {"126-byte ping", 1002, e_ping_long},
    {"non-minimal 16-bit length", 1002, e_nonminimal16},
    {"non-minimal 64-bit length", 1002, e_nonminimal64},
    {"64-bit length top bit", 1002, e_topbit},
    {"unmasked frame", 1002, e_unmasked},
    {"continuation without start", 1002, e_cont_nostart},
    {"new message during fragments", 1002, e_new_during_frag},
    {"close with 1-byte payload", 1002, e_close_1byte},
    {"close code 1005", 1002, e_close_1005},
    {"close code 999", 1002, e_close_999},
    {"close code 1016", 1002, e_close_1016},
    {"close code 5000", 1002, e_close_5000},
    {"close reason not UTF-8", 1002, e_close_bad_reason},
    {"invalid UTF-8 text", 1007, e_text_invalid},
    {"truncated UTF-8 text", 1007, e_text_truncated},
    {"surrogate in text", 1007, e_text_surrogate},
    {"invalid first fragment", 1007, e_text_invalid_first_fragment},
    {"invalid across fragments", 1007, e_text_invalid_split},
    {"oversize frame", 1009, e_oversize},
    {"oversize fragmented message", 1009, e_oversize_fragments},
};

static void test_protocol_errors(void **state) {
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        server_t *s = server_new(MAX_MSG, true);
        c->send(s->client);
        char reason[128] = "";
        int code = client_expect_close(s->client, reason, sizeof(reason));
        if (code != c->expect) fail_msg("%s: close code %d, want %d", c->name, code, c->expect);
        if (!reason[0]) fail_msg("%s: close frame without a reason", c->name);
        /* The server stops writing after failing the connection. */
        client_expect_eof(s->client);
        close(s->client);
        s->client = -1;
        server_wait_closed(s, 5000);
        if (s->close_code != c->expect)
            fail_msg("%s: on_close code %d, want %d", c->name, s->close_code, c->expect);
        if (s->messages != 0) fail_msg("%s: %d messages delivered", c->name, s->messages);
        server_free(s);
    }
}

/* ---- closing -------------------------------------------------------------------------- */

static void test_close_empty(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    client_close_frame(s->client, 0, NULL);
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1005);
    client_expect_eof(s->client);
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1005);
    server_free(s);
}

typedef struct closer {
    hz_ws_t *ws;
    int64_t returned_ns;
} closer_t;

static void *close_thread(void *arg) {
    closer_t *c = arg;
    hz_ws_close(c->ws, 4000, "done here");
    c->returned_ns = hz_time_mono_ns();
    return NULL;
}

/* hz_ws_close from another thread sends the close and returns once the peer answered. */
static void test_server_close_other_thread(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    echo_roundtrip(s, false, 10);
    closer_t c = {s->ws, 0};
    pthread_t t;
    pthread_create(&t, NULL, close_thread, &c);
    char reason[128];
    assert_int_equal(client_expect_close(s->client, reason, sizeof(reason)), 4000);
    assert_string_equal(reason, "done here");
    hz_sleep_ms(100);
    assert_int_equal(c.returned_ns, 0); /* still waiting for our answer */
    /* Data after the server's close is not delivered. */
    client_frame(s->client, true, 1, "ignored", 7, true);
    int64_t answered = hz_time_mono_ns();
    client_close_frame(s->client, 4000, "");
    pthread_join(t, NULL);
    assert_true(c.returned_ns >= answered);
    assert_true(c.returned_ns - answered < (int64_t)2000 * 1000000);
    client_expect_eof(s->client);
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 4000);
    assert_string_equal(s->close_reason, "done here");
    assert_int_equal(s->messages, 1);
    server_free(s);
}

/* hz_ws_close inside on_message: sends are refused from then on, the reader waits for the
 * peer's close. */
static void test_server_close_in_callback(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    client_frame(s->client, true, 1, "close-me", 8, true);
    char reason[128];
    assert_int_equal(client_expect_close(s->client, reason, sizeof(reason)), 4001);
    assert_string_equal(reason, "as asked");
    client_frame(s->client, true, 9, "late ping", 9, true); /* no pong after our close */
    client_close_frame(s->client, 1000, "");
    client_expect_eof(s->client);
    server_wait_closed(s, 5000);
    assert_int_equal(s->send_rc_after_close, HZ_ECLOSED);
    assert_int_equal(s->close_code, 4001);
    server_free(s);
}

/* A peer that never answers our close: the reader gives up after HZ_WS_CLOSE_TIMEOUT_MS. */
static void test_close_timeout(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    int64_t t0 = hz_time_mono_ns();
    hz_ws_close(s->ws, 1000, "bye");
    int64_t waited_ms = (hz_time_mono_ns() - t0) / 1000000;
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1000);
    assert_true(waited_ms >= HZ_WS_CLOSE_TIMEOUT_MS - 100);
    assert_true(waited_ms < HZ_WS_CLOSE_TIMEOUT_MS + 2000);
    server_wait_closed(s, 1000);
    assert_int_equal(s->close_code, 1000);
    server_free(s);
}

static void test_peer_vanishes(void **state) {
    /* Mid-frame: half a header and payload, then gone. */
    server_t *s = server_new(MAX_MSG, true);
    send_raw(s->client, (const uint8_t[]){0x81, 0x8A, 1, 2, 3, 4, 'a', 'b'}, 8);
    hz_sleep_ms(20);
    close(s->client);
    s->client = -1;
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1006);
    assert_non_null(strstr(s->close_reason, "without a close frame"));
    server_free(s);

    /* Idle, between messages. */
    s = server_new(MAX_MSG, true);
    echo_roundtrip(s, true, 300);
    close(s->client);
    s->client = -1;
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1006);
    server_free(s);
}

static void test_shutdown(void **state) {
    /* A polite peer answers the 1001. */
    server_t *s = server_new(MAX_MSG, true);
    echo_roundtrip(s, false, 5);
    hz_ws_shutdown(s->ws);
    char reason[128];
    assert_int_equal(client_expect_close(s->client, reason, sizeof(reason)), 1001);
    client_close_frame(s->client, 1001, "");
    client_expect_eof(s->client);
    server_wait_closed(s, 5000);
    assert_int_equal(s->close_code, 1001);
    server_free(s);

    /* A silent peer: the reader ends within the grace period. */
    s = server_new(MAX_MSG, true);
    int64_t t0 = hz_time_mono_ns();
    hz_ws_shutdown(s->ws);
    server_wait_closed(s, HZ_WS_SHUTDOWN_GRACE_MS + 1000);
    assert_true((hz_time_mono_ns() - t0) / 1000000 < HZ_WS_SHUTDOWN_GRACE_MS + 1000);
    assert_int_equal(s->close_code, 1001);
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1001);
    server_free(s);
}

typedef struct stuck {
    hz_ws_t *ws;
    int rc;
} stuck_t;

static void *big_send_thread(void *arg) {
    stuck_t *st = arg;
    size_t n = 8u << 20;
    char *p = hz_calloc(1, n);
    st->rc = hz_ws_send(st->ws, true, p, n);
    hz_free(p);
    return NULL;
}

/* A sender blocked on a peer that reads nothing must not keep shutdown waiting. */
static void test_shutdown_with_stuck_sender(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    stuck_t st = {s->ws, 1};
    pthread_t t;
    pthread_create(&t, NULL, big_send_thread, &st);
    hz_sleep_ms(200);
    int64_t t0 = hz_time_mono_ns();
    hz_ws_shutdown(s->ws);
    pthread_join(t, NULL);
    server_wait_closed(s, 3000);
    assert_true((hz_time_mono_ns() - t0) / 1000000 < HZ_WS_SHUTDOWN_GRACE_MS + 1500);
    assert_int_equal(st.rc, HZ_ECLOSED);
    assert_int_equal(s->close_code, 1006);
    server_free(s);
}

/* ---- concurrent senders --------------------------------------------------------------- */

#define SENDERS 4
#define PER_SENDER 150

typedef struct sender {
    hz_ws_t *ws;
    int id;
    int failures;
} sender_t;

static size_t msg_size(int id, int seq) {
    /* Mix of all three length encodings. */
    static const size_t sizes[] = {3, 125, 126, 1000, 65535, 65536, 100000};
    return sizes[(id * 7 + seq) % 7];
}

static uint8_t msg_byte(int id, int seq, size_t i) { return (uint8_t)(id * 31 + seq * 7 + i * 13); }

static void *sender_thread(void *arg) {
    sender_t *se = arg;
    uint8_t *buf = hz_malloc(100000);
    for (int seq = 0; seq < PER_SENDER; seq++) {
        size_t n = msg_size(se->id, seq);
        buf[0] = (uint8_t)se->id;
        buf[1] = (uint8_t)seq;
        buf[2] = (uint8_t)(seq >> 8);
        for (size_t i = 3; i < n; i++) buf[i] = msg_byte(se->id, seq, i);
        if (hz_ws_send(se->ws, true, (const char *)buf, n) != 0) se->failures++;
    }
    hz_free(buf);
    return NULL;
}

static void test_concurrent_send(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    sender_t se[SENDERS];
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        se[i] = (sender_t){s->ws, i, 0};
        pthread_create(&t[i], NULL, sender_thread, &se[i]);
    }
    int next[SENDERS] = {0};
    cframe_t f = {.payload = HZ_BUF_INIT};
    for (int k = 0; k < SENDERS * PER_SENDER; k++) {
        assert_int_equal(client_recv(s->client, &f), 0);
        assert_true(f.fin);
        assert_int_equal(f.opcode, 2);
        const uint8_t *p = (const uint8_t *)f.payload.data;
        assert_true(f.payload.len >= 3);
        int id = p[0], seq = p[1] | (p[2] << 8);
        assert_true(id < SENDERS);
        assert_int_equal(seq, next[id]); /* each sender's messages arrive whole and in order */
        next[id]++;
        assert_int_equal(f.payload.len, msg_size(id, seq));
        for (size_t i = 3; i < f.payload.len; i++) {
            if (p[i] != msg_byte(id, seq, i)) fail_msg("sender %d message %d byte %zu corrupt", id, seq, i);
        }
    }
    hz_buf_free(&f.payload);
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(se[i].failures, 0);
    }
    client_close_frame(s->client, 1000, "");
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1000);
    server_wait_closed(s, 5000);
    server_free(s);
}

/* ---- handover details ----------------------------------------------------------------- */

static void test_feed_and_release(void **state) {
    server_t *s = server_new(MAX_MSG, false);
    hz_ws_set_release(s->ws, release_hook, s);
    /* One whole frame plus the first 3 bytes of the next, as libmicrohttpd might hand over. */
    uint8_t pre[64];
    size_t n = 0;
    const uint8_t mask[4] = {9, 8, 7, 6};
    const char *m1 = "first", *m2 = "second";
    pre[n++] = 0x81;
    pre[n++] = 0x80 | 5;
    memcpy(pre + n, mask, 4);
    n += 4;
    for (int i = 0; i < 5; i++) pre[n++] = (uint8_t)(m1[i] ^ mask[i % 4]);
    pre[n++] = 0x81;
    pre[n++] = 0x80 | 6;
    pre[n++] = mask[0];
    hz_ws_feed(s->ws, pre, n);
    uint8_t rest[16];
    size_t r = 0;
    for (int i = 1; i < 4; i++) rest[r++] = mask[i];
    for (int i = 0; i < 6; i++) rest[r++] = (uint8_t)(m2[i] ^ mask[i % 4]);
    server_start(s);
    client_write(s->client, rest, r);
    cframe_t f = {.payload = HZ_BUF_INIT};
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_string_equal(f.payload.data, "first");
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_string_equal(f.payload.data, "second");
    hz_buf_free(&f.payload);
    client_close_frame(s->client, 1000, "");
    assert_int_equal(client_expect_close(s->client, NULL, 0), 1000);
    server_wait_closed(s, 5000);
    assert_int_equal(s->released_fd, s->server_fd);
    server_free(s);
}

static void test_send_rejects_bad_text(void **state) {
    server_t *s = server_new(MAX_MSG, true);
    assert_int_equal(hz_ws_send(s->ws, false, "bad \xC0\xAF", 6), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "byte 4"));
    assert_int_equal(hz_ws_send(s->ws, true, "bin \xC0\xAF", 6), 0);
    cframe_t f = {.payload = HZ_BUF_INIT};
    assert_int_equal(client_recv(s->client, &f), 0);
    assert_int_equal(f.opcode, 2);
    assert_int_equal(f.payload.len, 6);
    hz_buf_free(&f.payload);
    close(s->client);
    s->client = -1;
    server_wait_closed(s, 5000);
    server_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_build_header_roundtrip),
        cmocka_unit_test(test_unmask_offsets),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_utf8_feed),
        cmocka_unit_test(test_echo_sizes),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_close_empty),
        cmocka_unit_test(test_server_close_other_thread),
        cmocka_unit_test(test_server_close_in_callback),
        cmocka_unit_test(test_close_timeout),
        cmocka_unit_test(test_peer_vanishes),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_shutdown_with_stuck_sender),
        cmocka_unit_test(test_concurrent_send),
        cmocka_unit_test(test_feed_and_release),
        cmocka_unit_test(test_send_rejects_bad_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
