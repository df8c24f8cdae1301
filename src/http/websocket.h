/*
 * Private to src/http: RFC 6455 framing over a connected socket.
 *
 * server.c completes the HTTP side of the handshake (101 with Sec-WebSocket-Accept from
 * hz_ws_accept_key) through libmicrohttpd's upgrade mechanism, then hands the raw socket to
 * hz_ws_new and runs hz_ws_run on a thread of its own. Everything after the 101 lives here:
 * frame parsing, masking rules (client frames must be masked, ours never are), fragmentation
 * and reassembly, control frames (ping answered with pong, close handshake), UTF-8 validation of
 * text messages, and the frame/message size limit (1009 when exceeded).
 *
 * Lifetime: hz_ws_run owns the connection. hz_ws_send, hz_ws_close and hz_ws_shutdown hold a
 * reference while they run, so a call racing with the end of the connection returns
 * HZ_ECLOSED instead of touching freed memory; the struct is freed when the last of them
 * leaves. The socket itself is released by hz_ws_run (after every concurrent writer has left
 * it), so server.c knows the socket is gone once hz_ws_run returns.
 */
#ifndef HANZO_HTTP_WEBSOCKET_H
#define HANZO_HTTP_WEBSOCKET_H

#include "hanzo/http.h"

#define HZ_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define HZ_WS_MAX_HEADER 14             /* 2 + 8 (64-bit length) + 4 (mask) */
#define HZ_WS_CLOSE_TIMEOUT_MS 5000     /* wait for the peer's close after sending ours */
#define HZ_WS_SHUTDOWN_GRACE_MS 1000    /* hz_ws_shutdown: how long the peer gets to answer */
#define HZ_WS_SEND_STALL_MS 30000       /* a send making no progress this long kills the connection */

/* base64(SHA-1(client_key + GUID)) into out (29 bytes with NUL). HZ_EINVAL when the client
 * key is not base64 of 16 bytes. */
int hz_ws_accept_key(const char *client_key, char out[29]);

typedef struct hz_ws_frame {
    bool fin;
    int opcode;             /* 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong */
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;      /* bytes before the payload */
} hz_ws_frame_t;

/* Parse one frame header from buf[0..len). Returns the header length (> 0) when complete,
 * 0 when more bytes are needed, or a negative HZ_E* code for a protocol violation (reserved
 * bits, unknown opcode, fragmented or oversized control frame, non-minimal length encoding,
 * unmasked client frame when require_mask, data-frame payload above max_payload) with the
 * RFC 6455 close code to send in *close_code (1002, or 1009 with HZ_ETOOBIG). A violation is
 * reported as soon as the bytes that show it have arrived, even if the header is incomplete.
 * Pure: used by the fuzz target. */
int hz_ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, uint64_t max_payload,
                       hz_ws_frame_t *out, int *close_code);

/* Encode a frame header into out and return its length (2..14). mask NULL = unmasked. */
size_t hz_ws_build_header(uint8_t out[HZ_WS_MAX_HEADER], bool fin, int opcode, uint64_t len,
                          const uint8_t *mask);

/* True for a status code a peer may put in a close frame: 1000-1003 and 1007-1014 (RFC 6455
 * 7.4.1 and the IANA registry; 1004-1006 and 1015 must never be sent) or 3000-4999. */
bool hz_ws_close_code_valid(int code);

/* XOR data with the 4-byte mask, starting at mask position `offset` (frames may be unmasked in
 * pieces); returns the position to continue from. */
size_t hz_ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Incremental UTF-8 check of a text message that arrives in pieces: s[0..n) is everything
 * received so far and *checked how far earlier calls got (start at 0; on failure it is the
 * offset of the first bad byte). Returns false as soon as the bytes cannot begin valid UTF-8;
 * with final, also when the text stops inside a sequence. Linear over the whole message. */
bool hz_ws_utf8_feed(const char *s, size_t n, size_t *checked, bool final);

/* Take ownership of fd (closed when the connection ends, see hz_ws_set_release). The socket is
 * switched to non-blocking mode. max_message bounds one reassembled message (0 = 16 MiB).
 * NULL with hz_error_last() when no wake-up eventfd can be made; fd then stays the caller's. */
hz_ws_t *hz_ws_new(int fd, const hz_ws_callbacks_t *cb, void *ctx, size_t max_message);
/* Bytes the HTTP layer read past the upgrade request (libmicrohttpd's extra_in): the start of
 * the client's first frames. Call before hz_ws_run. */
void hz_ws_feed(hz_ws_t *ws, const void *data, size_t len);
/* Release the socket with release(fd, arg) instead of close(fd): libmicrohttpd forbids close()
 * on an upgraded socket and wants MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE). Called by
 * hz_ws_run on its own thread, before on_close. Call before hz_ws_run. */
void hz_ws_set_release(hz_ws_t *ws, void (*release)(int fd, void *arg), void *arg);
/* Read and dispatch until the connection closes; calls on_open first and on_close last, then
 * frees ws. Blocks the calling thread. */
void hz_ws_run(hz_ws_t *ws);
/* Server shutdown: send close 1001 (going away) and make hz_ws_run return within about
 * HZ_WS_SHUTDOWN_GRACE_MS. Thread-safe; only valid while hz_ws_run has not returned
 * (server.c tracks live connections). */
void hz_ws_shutdown(hz_ws_t *ws);

#endif
