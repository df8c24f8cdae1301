/*
 * ws_echo_server: a WebSocket echo service on the public hanzo/http.h API, for the Node
 * integration test (tests/integration/ws_node.test.mjs) to drive with a real client.
 *
 *   ws_echo_server [MAX_MESSAGE_BYTES]
 *
 * Listens on 127.0.0.1 on a free port and prints that port on a line of its own once it is
 * serving. GET /ws upgrades to a WebSocket that echoes every message with its type. A text
 * message "close CODE REASON" makes the server start the closing handshake itself with that
 * code and reason, so the test sees both directions of the close. MAX_MESSAGE_BYTES (default
 * 1 MiB) is the server's message limit; bigger messages are closed with 1009. SIGTERM or
 * SIGINT shuts the server down (open sockets get 1001) and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/http.h"

static void on_message(hz_ws_t *ws, bool binary, const char *data, size_t len, void *ctx) {
    if (!binary && len > 6 && strncmp(data, "close ", 6) == 0) {
        /* data is a NUL-terminated copy owned by the connection for this call. */
        char *end = NULL;
        long code = strtol(data + 6, &end, 10);
        const char *reason = end && *end == ' ' ? end + 1 : "";
        hz_ws_close(ws, (int)code, reason);
        return;
    }
    int rc = hz_ws_send(ws, binary, data, len);
    if (rc != 0 && rc != HZ_ECLOSED)
        fprintf(stderr, "ws_echo_server: echo failed: %s\n", hz_error_last());
}

static void on_close(hz_ws_t *ws, int code, const char *reason, void *ctx) {
    fprintf(stderr, "ws_echo_server: connection closed: %d %s\n", code, reason);
}

static const hz_ws_callbacks_t echo_cb = {NULL, on_message, on_close};

static void ws_route(hz_http_req_t *req, void *ctx) { hz_http_upgrade_websocket(req, &echo_cb, NULL); }

int main(int argc, char **argv) {
    size_t max_message = 1u << 20;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (!end || *end || v == 0) {
            fprintf(stderr, "usage: ws_echo_server [MAX_MESSAGE_BYTES]\n");
            return 2;
        }
        max_message = (size_t)v;
    }
    /* Block the signals before any thread starts so only sigwait below receives them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    hz_log_configure(getenv("HZ_LOG"), HZ_LOG_TEXT, NULL);

    hz_http_options_t opts = {.host = "127.0.0.1", .port = 0, .threads = 2, .ws_max_frame_bytes = max_message};
    hz_http_server_t *srv = NULL;
    if (hz_http_server_new(&opts, &srv) != 0 ||
        hz_http_route(srv, HZ_HTTP_GET, "/ws", 0, ws_route, NULL) != 0 ||
        hz_http_server_start(srv) != 0) {
        fprintf(stderr, "ws_echo_server: %s\n", hz_error_last());
        if (srv) hz_http_server_free(srv);
        return 1;
    }
    printf("%d\n", hz_http_server_port(srv));
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    hz_http_server_shutdown(srv, 1000);
    hz_http_server_free(srv);
    return 0;
}
