/*
 * libFuzzer target: RFC 6455 framing, from the header parser up to a whole connection.
 *
 * 1. hz_ws_parse_header on the input. Oracles: an accepted header re-encodes byte for byte
 *    with hz_ws_build_header (the parser only accepts minimal encodings, so encoding is a
 *    bijection); every strict prefix of an accepted header reports "need more"; a rejection
 *    comes with close code 1002 or 1009 and every prefix reports "need more" or the same error
 *    (errors are reported from the first byte that proves them).
 * 2. The input as the client's byte stream of a real connection. It is handed over with
 *    hz_ws_feed and the client side of the socketpair is shut for writing, so hz_ws_run sees
 *    exactly these bytes and then EOF: no timing, no timeouts, deterministic. A drain thread
 *    reads what the server writes and checks it is a well-formed sequence of unmasked, whole
 *    frames with nothing after a close. The application echoes messages starting with 'e'
 *    and closes on messages starting with 'c', to reach the send and closing paths.
 *    on_close must run exactly once with a code a close frame may carry, or 1005/1006.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/websocket.h"

#define FUZZ_MAX_MESSAGE 1024

static void die(const char *what) {
    fprintf(stderr, "fuzz_http_ws: %s\n", what);
    abort();
}

static void check_header(const uint8_t *data, size_t size) {
    bool require_mask = size > 0 && (data[0] & 0x01);
    uint64_t max = FUZZ_MAX_MESSAGE;
    hz_ws_frame_t f;
    int code = 0;
    int rc = hz_ws_parse_header(data, size, require_mask, max, &f, &code);
    if (rc > 0) {
        if ((size_t)rc > size || (size_t)rc != f.header_len || rc > HZ_WS_MAX_HEADER) die("bad header length");
        uint8_t again[HZ_WS_MAX_HEADER];
        size_t n = hz_ws_build_header(again, f.fin, f.opcode, f.payload_len, f.masked ? f.mask : NULL);
        if (n != (size_t)rc || memcmp(again, data, n) != 0) die("accepted header does not re-encode identically");
        if ((f.opcode & 8) && (!f.fin || f.payload_len > 125)) die("bad control frame accepted");
        if (!(f.opcode & 8) && f.payload_len > max) die("oversized data frame accepted");
        if (require_mask && !f.masked) die("unmasked frame accepted");
    } else if (rc < 0) {
        if (code != 1002 && code != 1009) die("rejection without close code 1002/1009");
        if ((rc == HZ_ETOOBIG) != (code == 1009)) die("HZ_ETOOBIG and 1009 disagree");
    } else if (size >= HZ_WS_MAX_HEADER) {
        die("a full-size header reported as incomplete");
    }
    size_t limit = rc > 0 ? (size_t)rc : size < HZ_WS_MAX_HEADER ? size : HZ_WS_MAX_HEADER;
    for (size_t k = 0; k < limit; k++) {
        int pc = 0;
        int prc = hz_ws_parse_header(data, k, require_mask, max, &f, &pc);
        if (prc > 0) die("a prefix of the input parsed as a whole header");
        if (rc >= 0 && prc != 0) die("a prefix of a valid header was rejected");
        if (prc < 0 && (prc != rc || pc != code)) die("a prefix failed differently from the whole");
    }
}

/* ---- whole connection ----------------------------------------------------------------- */

typedef struct app {
    int closes;
    int code;
} app_t;

static void a_message(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx) {
    if (len > FUZZ_MAX_MESSAGE) die("message above the limit delivered");
    if (data[len] != '\0') die("message not NUL-terminated");
    if (!binary && hz_utf8_valid_prefix(data, len) != len) die("invalid UTF-8 text delivered");
    if (len > 0 && data[0] == 'e') {
        int rc = hz_ws_send(ws, binary, data, len);
        if (rc != 0 && rc != HZ_ECLOSED) die("echo failed with an unexpected code");
    } else if (len > 0 && data[0] == 'c') {
        hz_ws_close(ws, 4000, "fuzz close");
        if (hz_ws_send(ws, true, "x", 1) != HZ_ECLOSED) die("send after close not refused");
    }
}

static void a_close(hz_ws_t *ws, int code, const char *reason, void *ctx) {
    app_t *a = ctx;
    a->closes++;
    a->code = code;
    if (!hz_ws_close_code_valid(code) && code != 1005 && code != 1006) die("on_close with an invalid code");
    if (hz_utf8_valid_prefix(reason, strlen(reason)) != strlen(reason)) die("on_close reason not UTF-8");
}

static const hz_ws_callbacks_t app_cb = {NULL, a_message, a_close};

typedef struct drain {
    int fd;
    uint8_t *buf;
    size_t len, cap;
} drain_t;

/* Collect everything the server writes, until EOF. */
static void *drain_thread(void *arg) {
    drain_t *d = arg;
    for (;;) {
        if (d->cap - d->len < 65536) {
            d->cap = d->cap * 2 + 65536;
            d->buf = realloc(d->buf, d->cap);
            if (!d->buf) die("out of memory");
        }
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len);
        if (n <= 0) break;
        d->len += (size_t)n;
    }
    return NULL;
}

/* The server's output must be whole, unmasked, unfragmented frames; nothing after a close. */
static void check_output(const uint8_t *p, size_t len) {
    size_t pos = 0;
    bool closed = false;
    while (pos < len) {
        if (closed) die("server wrote after its close frame");
        hz_ws_frame_t f;
        int code;
        int h = hz_ws_parse_header(p + pos, len - pos, false, UINT64_MAX, &f, &code);
        if (h <= 0) die("server wrote a malformed or truncated frame header");
        if (f.masked || !f.fin || f.opcode == 0 || f.opcode == 9) die("server frame flags wrong");
        if (f.payload_len > len - pos - (size_t)h) die("server frame truncated");
        const uint8_t *payload = p + pos + h;
        if (f.opcode == 8) {
            closed = true;
            if (f.payload_len == 1) die("server close frame with a 1-byte payload");
            if (f.payload_len >= 2 && !hz_ws_close_code_valid((payload[0] << 8) | payload[1]))
                die("server close frame with an invalid code");
        }
        if (f.opcode == 1 && hz_utf8_valid_prefix((const char *)payload, f.payload_len) != f.payload_len)
            die("server sent invalid UTF-8 text");
        pos += (size_t)h + f.payload_len;
    }
}

static void run_connection(const uint8_t *data, size_t size) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
    shutdown(sv[0], SHUT_WR); /* the client has said everything it will say */
    app_t app = {0, 0};
    hz_ws_t *ws = hz_ws_new(sv[1], &app_cb, &app, FUZZ_MAX_MESSAGE);
    if (!ws) die("hz_ws_new");
    hz_ws_feed(ws, data, size);
    drain_t d = {sv[0], NULL, 0, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, drain_thread, &d) != 0) die("pthread_create");
    hz_ws_run(ws);
    pthread_join(t, NULL);
    close(sv[0]);
    if (app.closes != 1) die("on_close did not run exactly once");
    check_output(d.buf, d.len);
    free(d.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_header(data, size);
    run_connection(data, size);
    return 0;
}
