/*
 * Private to src/http: RFC 6455 framing over a connected socket.
 *
 * server.c completes the HTTP side of the handshake (101 with Sec-WebSocket-Accept from
 * hz_ws_accept_key) through libmicrohttpd's upgrade mechanism, then hands the raw socket to
 * hz_ws_new and runs hz_ws_run on a thread of its own. Everything after the 101 lives here:
 * frame parsing, masking rules (client frames must be masked, ours never are), fragmentation
 * and reassembly, control frames (ping answered with pong, close handshake), UTF-8 validation of
 * text messages, and the frame/message size limit (1009 when exceeded).
 */
#ifndef HANZO_HTTP_WEBSOCKET_H
#define HANZO_HTTP_WEBSOCKET_H

#include "hanzo/http.h"

#define HZ_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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
 * unmasked client frame when require_mask, payload above max_payload) with the RFC 6455 close
 * code to send in *close_code. Pure: used by the fuzz target. */
int hz_ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, uint64_t max_payload,
                       hz_ws_frame_t *out, int *close_code);

/* Take ownership of fd (closed when the connection ends). */
hz_ws_t *hz_ws_new(int fd, const hz_ws_callbacks_t *cb, void *ctx, size_t max_message);
/* Read and dispatch until the connection closes; calls on_open first and on_close last, then
 * frees ws. Blocks the calling thread. */
void hz_ws_run(hz_ws_t *ws);
/* Server shutdown: send close 1001 (going away) and make hz_ws_run return soon. Thread-safe;
 * only valid while hz_ws_run has not returned (server.c tracks live connections). */
void hz_ws_shutdown(hz_ws_t *ws);

#endif
