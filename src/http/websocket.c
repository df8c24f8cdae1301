/*
 * One WebSocket connection after the 101: a reader loop on the thread that calls hz_ws_run,
 * and senders on any thread.
 *
 * The reader owns the input side. It keeps a small input buffer for headers and short frames and
 * reads large payloads straight into the message buffer, which grows as bytes actually arrive
 * (never past max_message), so a peer cannot make us allocate by merely announcing a length.
 * Callbacks run on the reader thread; on_message never runs once a close frame has gone out.
 *
 * Writers take `wlock` for a whole frame, so frames from concurrent hz_ws_send calls never
 * interleave. The socket is non-blocking and every write waits with poll: a peer that stops
 * reading for HZ_WS_SEND_STALL_MS breaks the connection instead of pinning a thread forever.
 * A failed write leaves a half-written frame on the wire, so it breaks the connection at once
 * (shutdown(SHUT_RDWR)), which also wakes the reader.
 *
 * Closing: whoever sends the first close frame records the code and reason and sets a deadline;
 * the reader then waits for the peer's close until that deadline, waking on an eventfd when
 * another thread sent the close, and ends. On a protocol error the reader sends the close,
 * shuts down its write side and drains input until the peer hangs up. on_close reports the
 * code of whoever closed first (1005 for an empty peer close, 1006 when the transport failed
 * without any close), exactly once.
 *
 * Teardown: the reader marks the connection as closing (new calls get HZ_ECLOSED), shuts the
 * socket down to wake any stuck writer, waits until no other thread is using the socket,
 * releases it, calls on_close and drops its reference; the struct goes away with the last
 * reference, so a public call racing with the end never touches freed memory.
 */
#include "http/websocket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WS_INBUF 16384
#define WS_DEFAULT_MAX ((size_t)16 << 20)
#define WS_KEEP_MSG_CAP ((size_t)256 << 10)  /* keep a message buffer this big between messages */
#define WS_REASON_MAX 123                     /* 125-byte control payload minus the status code */

/* How the transport ended, for the reader's own reads. */
enum { RD_OK = 0, RD_EOF, RD_TIMEOUT, RD_ERROR };

struct hz_ws {
    int fd;
    int wake_fd;
    hz_ws_callbacks_t cb;
    void *ctx;
    size_t max_message;
    void (*release)(int fd, void *arg);
    void *release_arg;

    /* `lock` guards the fields from here to wlock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;              /* hz_ws_run plus public calls in progress */
    int fd_users;          /* non-reader threads currently using fd or wake_fd */
    bool tearing_down;     /* hz_ws_run is ending: no new fd users */
    bool done;             /* on_close has returned */
    bool close_sent;
    int local_code;
    char local_reason[WS_REASON_MAX + 1];
    int64_t deadline_ns;   /* monotonic time the reader gives up waiting (0 = none) */
    bool broken;           /* a write failed; the byte stream is unusable */
    char broken_reason[128];
    pthread_t reader;
    bool reader_known;

    pthread_mutex_t wlock; /* one frame on the wire at a time */

    /* Reader-only state. */
    uint8_t *in;
    size_t in_pos, in_len, in_cap;
    char *msg;
    size_t msg_len, msg_cap;
    int msg_opcode;        /* 1 or 2 while a message is being assembled, else 0 */
    size_t msg_utf8;       /* how far the text message has been validated */
    char io_error[128];
};

/* The outcome handed to on_close. */
typedef struct {
    int code;
    char reason[WS_REASON_MAX + 1];
} ws_end_t;

static void copy_reason(char dst[WS_REASON_MAX + 1], const char *src, size_t len) {
    if (len > WS_REASON_MAX) len = WS_REASON_MAX;
    /* Cut at a character boundary (or before invalid bytes) so the reason stays valid UTF-8. */
    len = src ? hz_utf8_valid_prefix(src, len) : 0;
    if (len) memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ---- references and socket users ----------------------------------------------------- */

static void ws_destroy(hz_ws_t *ws) {
    pthread_mutex_destroy(&ws->lock);
    pthread_cond_destroy(&ws->cond);
    pthread_mutex_destroy(&ws->wlock);
    hz_free(ws);
}

static void ws_unref(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    bool last = --ws->refs == 0;
    pthread_mutex_unlock(&ws->lock);
    if (last) ws_destroy(ws);
}

/* A non-reader thread wants to use the socket: take a reference and count it as a user.
 * False once teardown has begun. */
static bool ws_enter(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    bool ok = !ws->tearing_down;
    if (ok) {
        ws->refs++;
        ws->fd_users++;
    }
    pthread_mutex_unlock(&ws->lock);
    return ok;
}

/* Stop using the socket (the reference stays). */
static void ws_leave_fd(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    if (--ws->fd_users == 0) pthread_cond_broadcast(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
}

static void ws_wake_reader(hz_ws_t *ws) {
    uint64_t one = 1;
    ssize_t n = write(ws->wake_fd, &one, sizeof(one));
    (void)n; /* the counter can only overflow after 2^64 wakes; a pending wake is enough */
}

static int64_t deadline_after(int ms) { return hz_time_mono_ns() + (int64_t)ms * 1000000; }

/* Caller holds lock. Deadlines only ever move earlier. */
static void set_deadline_locked(hz_ws_t *ws, int64_t when) {
    if (ws->deadline_ns == 0 || when < ws->deadline_ns) ws->deadline_ns = when;
}

/* ---- writing ------------------------------------------------------------------------- */

static void ws_break(hz_ws_t *ws, const char *why) {
    pthread_mutex_lock(&ws->lock);
    if (!ws->broken) {
        ws->broken = true;
        snprintf(ws->broken_reason, sizeof(ws->broken_reason), "%s", why);
    }
    pthread_mutex_unlock(&ws->lock);
    shutdown(ws->fd, SHUT_RDWR);
}

/* Write one frame. Caller holds wlock. Any failure breaks the connection: part of the frame
 * may already be on the wire. */
static int write_frame_locked(hz_ws_t *ws, int opcode, const void *payload, size_t len, int stall_ms) {
    uint8_t hdr[HZ_WS_MAX_HEADER];
    struct iovec iov[2] = {
        {hdr, hz_ws_build_header(hdr, true, opcode, len, NULL)},
        {(void *)payload, len},
    };
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    char why[128];
    while (mh.msg_iovlen > 0) {
        ssize_t n = sendmsg(ws->fd, &mh, MSG_NOSIGNAL);
        if (n >= 0) {
            size_t left = (size_t)n;
            while (mh.msg_iovlen > 0 && left >= mh.msg_iov[0].iov_len) {
                left -= mh.msg_iov[0].iov_len;
                mh.msg_iov++;
                mh.msg_iovlen--;
            }
            if (mh.msg_iovlen > 0) {
                mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + left;
                mh.msg_iov[0].iov_len -= left;
            }
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(why, sizeof(why), "websocket write failed: %s", strerror(errno));
            goto fail;
        }
        struct pollfd p = {ws->fd, POLLOUT, 0};
        int r = poll(&p, 1, stall_ms);
        if (r < 0 && errno != EINTR) {
            snprintf(why, sizeof(why), "websocket write: poll failed: %s", strerror(errno));
            goto fail;
        }
        if (r == 0) {
            snprintf(why, sizeof(why), "websocket write: peer read nothing for %d ms", stall_ms);
            goto fail;
        }
    }
    return 0;
fail:
    ws_break(ws, why);
    return hz_error_set(HZ_ECLOSED, "%s", why);
}

/* Send a data or pong frame unless a close frame went out already. Caller is the reader or an
 * entered user. */
static int send_data(hz_ws_t *ws, int opcode, const void *data, size_t len) {
    pthread_mutex_lock(&ws->wlock);
    pthread_mutex_lock(&ws->lock);
    bool closed = ws->close_sent || ws->broken;
    pthread_mutex_unlock(&ws->lock);
    int rc = closed ? hz_error_set(HZ_ECLOSED, "websocket: connection is closing")
                    : write_frame_locked(ws, opcode, data, len, HZ_WS_SEND_STALL_MS);
    pthread_mutex_unlock(&ws->wlock);
    return rc;
}

/* Send our close frame unless one went out already; the first caller's code and reason are
 * the ones on_close reports. code 0 sends an empty close (echo of an empty peer close). The
 * reader stops waiting for the peer's answer wait_ms from now. Caller holds wlock. */
static int send_close_locked(hz_ws_t *ws, int code, const char *reason, int wait_ms, int stall_ms) {
    pthread_mutex_lock(&ws->lock);
    if (ws->close_sent || ws->broken) {
        set_deadline_locked(ws, deadline_after(wait_ms));
        pthread_mutex_unlock(&ws->lock);
        return 0;
    }
    ws->close_sent = true;
    ws->local_code = code ? code : 1005;
    copy_reason(ws->local_reason, reason, reason ? strlen(reason) : 0);
    set_deadline_locked(ws, deadline_after(wait_ms));
    uint8_t payload[2 + WS_REASON_MAX];
    size_t len = 0;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        size_t rlen = strlen(ws->local_reason);
        memcpy(payload + 2, ws->local_reason, rlen);
        len = 2 + rlen;
    }
    pthread_mutex_unlock(&ws->lock);
    return write_frame_locked(ws, 8, payload, len, stall_ms);
}

/* ---- reading ------------------------------------------------------------------------- */

/* Wait until the socket is readable, or the closing deadline passes. The eventfd only tells us
 * the deadline may have changed, so after a wake we just look again. */
static int wait_readable(hz_ws_t *ws) {
    for (;;) {
        pthread_mutex_lock(&ws->lock);
        int64_t deadline = ws->deadline_ns;
        pthread_mutex_unlock(&ws->lock);
        int timeout = -1;
        if (deadline) {
            int64_t left = deadline - hz_time_mono_ns();
            if (left <= 0) {
                snprintf(ws->io_error, sizeof(ws->io_error), "timed out waiting for the peer's close frame");
                return RD_TIMEOUT;
            }
            timeout = (int)((left + 999999) / 1000000);
        }
        struct pollfd p[2] = {{ws->fd, POLLIN, 0}, {ws->wake_fd, POLLIN, 0}};
        int r = poll(p, 2, timeout);
        if (r < 0) {
            if (errno == EINTR) continue;
            snprintf(ws->io_error, sizeof(ws->io_error), "poll failed: %s", strerror(errno));
            return RD_ERROR;
        }
        if (p[1].revents & POLLIN) {
            uint64_t v;
            ssize_t n = read(ws->wake_fd, &v, sizeof(v));
            (void)n;
        }
        if (p[0].revents) return RD_OK; /* readable, hung up or in error: recv says which */
    }
}

/* Read up to cap bytes into dst: > 0 bytes read, or -RD_* when the transport ended. */
static ssize_t ws_recv(hz_ws_t *ws, void *dst, size_t cap) {
    for (;;) {
        ssize_t n = recv(ws->fd, dst, cap, 0);
        if (n > 0) return n;
        if (n == 0) {
            snprintf(ws->io_error, sizeof(ws->io_error), "peer closed the connection without a close frame");
            return -RD_EOF;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_readable(ws);
            if (w != RD_OK) return -w;
            continue;
        }
        snprintf(ws->io_error, sizeof(ws->io_error), "read failed: %s", strerror(errno));
        return -RD_ERROR;
    }
}

/* Read more into the input buffer (compacting it first). */
static int fill(hz_ws_t *ws) {
    if (ws->in_pos > 0) {
        memmove(ws->in, ws->in + ws->in_pos, ws->in_len - ws->in_pos);
        ws->in_len -= ws->in_pos;
        ws->in_pos = 0;
    }
    ssize_t n = ws_recv(ws, ws->in + ws->in_len, ws->in_cap - ws->in_len);
    if (n < 0) return (int)-n;
    ws->in_len += (size_t)n;
    return RD_OK;
}

/* Exactly n bytes into dst: buffered bytes first, then large remainders straight from the
 * socket so big payloads are not copied twice. */
static int read_exact(hz_ws_t *ws, uint8_t *dst, size_t n) {
    size_t got = 0;
    while (got < n) {
        size_t avail = ws->in_len - ws->in_pos;
        if (avail) {
            size_t k = avail < n - got ? avail : n - got;
            memcpy(dst + got, ws->in + ws->in_pos, k);
            ws->in_pos += k;
            got += k;
        } else if (n - got >= ws->in_cap / 2) {
            ssize_t r = ws_recv(ws, dst + got, n - got);
            if (r < 0) return (int)-r;
            got += (size_t)r;
        } else {
            int r = fill(ws);
            if (r) return r;
        }
    }
    return RD_OK;
}

/* Append one data frame's payload to the message, growing the buffer only as bytes come in. */
static int read_data_payload(hz_ws_t *ws, const hz_ws_frame_t *f) {
    size_t left = (size_t)f->payload_len;
    size_t moff = 0;
    while (left > 0) {
        if (ws->msg_cap - ws->msg_len <= 1) {
            size_t want = ws->msg_cap ? ws->msg_cap * 2 : 4096;
            size_t need = ws->msg_len + (left < 65536 ? left : 65536) + 1;
            if (want < need) want = need;
            if (want > ws->max_message + 1) want = ws->max_message + 1;
            ws->msg = hz_realloc(ws->msg, want);
            ws->msg_cap = want;
        }
        size_t room = ws->msg_cap - ws->msg_len - 1; /* keep one byte for the NUL */
        size_t k = left < room ? left : room;
        uint8_t *dst = (uint8_t *)ws->msg + ws->msg_len;
        int r = read_exact(ws, dst, k);
        if (r) return r;
        moff = hz_ws_unmask(dst, k, f->mask, moff);
        ws->msg_len += k;
        left -= k;
    }
    return RD_OK;
}

static bool deadline_passed(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    int64_t d = ws->deadline_ns;
    pthread_mutex_unlock(&ws->lock);
    return d != 0 && hz_time_mono_ns() >= d;
}

static bool closing(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    bool c = ws->close_sent || ws->broken;
    pthread_mutex_unlock(&ws->lock);
    return c;
}

/* The connection ended without a close frame from the peer; work out what on_close reports:
 * a transport failure (1006), else our own close when we sent one, else 1006. */
static void end_result(hz_ws_t *ws, ws_end_t *end) {
    pthread_mutex_lock(&ws->lock);
    if (ws->broken) {
        end->code = 1006;
        copy_reason(end->reason, ws->broken_reason, strlen(ws->broken_reason));
    } else if (ws->close_sent) {
        end->code = ws->local_code;
        copy_reason(end->reason, ws->local_reason, strlen(ws->local_reason));
    } else {
        end->code = 1006;
        copy_reason(end->reason, ws->io_error, strlen(ws->io_error));
    }
    pthread_mutex_unlock(&ws->lock);
}

/* Fail the connection (RFC 6455 7.1.7): send our close, stop writing, and read until the peer
 * hangs up or the deadline passes, so our close frame is not lost to a reset. */
static void fail(hz_ws_t *ws, ws_end_t *end, int code, const char *why) {
    char reason[WS_REASON_MAX + 1];
    copy_reason(reason, why, strlen(why));
    hz_log_debug("http", "websocket: failing the connection with %d: %s", code, reason);
    if (!closing(ws)) {
        pthread_mutex_lock(&ws->wlock);
        int rc = send_close_locked(ws, code, reason, HZ_WS_CLOSE_TIMEOUT_MS, HZ_WS_CLOSE_TIMEOUT_MS);
        pthread_mutex_unlock(&ws->wlock);
        if (rc == 0) {
            shutdown(ws->fd, SHUT_WR);
            for (;;) {
                ws->in_pos = ws->in_len = 0;
                if (fill(ws) != RD_OK) break;
            }
        }
    }
    end_result(ws, end);
}

/* A close frame arrived: validate it, answer it unless our close went out first, and end. */
static void on_close_frame(hz_ws_t *ws, ws_end_t *end, const uint8_t *p, size_t len) {
    int code = 1005;
    char reason[WS_REASON_MAX + 1] = "";
    if (len == 1) return fail(ws, end, 1002, "close frame with a 1-byte payload");
    if (len >= 2) {
        code = (p[0] << 8) | p[1];
        if (!hz_ws_close_code_valid(code)) {
            char why[64];
            snprintf(why, sizeof(why), "close frame with invalid status code %d", code);
            return fail(ws, end, 1002, why);
        }
        if (hz_utf8_valid_prefix((const char *)p + 2, len - 2) != len - 2)
            return fail(ws, end, 1002, "close frame reason is not valid UTF-8");
        memcpy(reason, p + 2, len - 2);
        reason[len - 2] = '\0';
    }
    /* Decide who was first under wlock, so no other thread's close can slip in between. */
    pthread_mutex_lock(&ws->wlock);
    pthread_mutex_lock(&ws->lock);
    bool peer_first = !ws->close_sent && !ws->broken;
    pthread_mutex_unlock(&ws->lock);
    if (peer_first) /* echo the status code (RFC 6455 5.5.1) */
        send_close_locked(ws, code == 1005 ? 0 : code, "", HZ_WS_CLOSE_TIMEOUT_MS, HZ_WS_CLOSE_TIMEOUT_MS);
    pthread_mutex_unlock(&ws->wlock);
    if (peer_first) {
        end->code = code;
        copy_reason(end->reason, reason, strlen(reason));
    } else {
        end_result(ws, end);
    }
}

static void dispatch_message(hz_ws_t *ws) {
    bool binary = ws->msg_opcode == 2;
    ws->msg_opcode = 0;
    ws->msg[ws->msg_len] = '\0';
    if (!closing(ws) && ws->cb.on_message)
        ws->cb.on_message(ws, binary, ws->msg, ws->msg_len, ws->ctx);
    ws->msg_len = 0;
    ws->msg_utf8 = 0;
    if (ws->msg_cap > WS_KEEP_MSG_CAP) {
        hz_free(ws->msg);
        ws->msg = NULL;
        ws->msg_cap = 0;
    }
}

static void read_loop(hz_ws_t *ws, ws_end_t *end) {
    uint8_t ctl[125];
    char why[160];
    for (;;) {
        hz_ws_frame_t f;
        int wscode = 0, h, r;
        /* A peer that keeps sending after our close must not keep us past the deadline. */
        if (deadline_passed(ws)) {
            snprintf(ws->io_error, sizeof(ws->io_error), "timed out waiting for the peer's close frame");
            return end_result(ws, end);
        }
        while ((h = hz_ws_parse_header(ws->in + ws->in_pos, ws->in_len - ws->in_pos, true,
                                       ws->max_message, &f, &wscode)) == 0) {
            if ((r = fill(ws)) != RD_OK) return end_result(ws, end);
        }
        if (h < 0) {
            snprintf(why, sizeof(why), "%s", hz_error_last());
            return fail(ws, end, wscode, why);
        }
        ws->in_pos += (size_t)h;

        if (f.opcode & 0x08) {
            size_t len = (size_t)f.payload_len;
            if ((r = read_exact(ws, ctl, len)) != RD_OK) return end_result(ws, end);
            hz_ws_unmask(ctl, len, f.mask, 0);
            if (f.opcode == 8) return on_close_frame(ws, end, ctl, len);
            if (f.opcode == 9 && !closing(ws) && send_data(ws, 10, ctl, len) != 0)
                return end_result(ws, end);
            continue; /* pongs need no answer */
        }

        if (f.opcode == 0 && ws->msg_opcode == 0)
            return fail(ws, end, 1002, "continuation frame without a message to continue");
        if (f.opcode != 0 && ws->msg_opcode != 0)
            return fail(ws, end, 1002, "new data frame while a fragmented message is unfinished");
        if (f.payload_len > ws->max_message - ws->msg_len) {
            snprintf(why, sizeof(why), "message exceeds the %zu-byte limit", ws->max_message);
            return fail(ws, end, 1009, why);
        }
        if (f.opcode != 0) ws->msg_opcode = f.opcode;
        if (!ws->msg) {
            ws->msg_cap = ws->max_message < 4095 ? ws->max_message + 1 : 4096;
            ws->msg = hz_malloc(ws->msg_cap);
        }
        if ((r = read_data_payload(ws, &f)) != RD_OK) return end_result(ws, end);
        if (ws->msg_opcode == 1 && !hz_ws_utf8_feed(ws->msg, ws->msg_len, &ws->msg_utf8, f.fin)) {
            snprintf(why, sizeof(why), "text message is not valid UTF-8 at byte %zu", ws->msg_utf8);
            return fail(ws, end, 1007, why);
        }
        if (f.fin) dispatch_message(ws);
    }
}

/* ---- lifecycle ----------------------------------------------------------------------- */

hz_ws_t *hz_ws_new(int fd, const hz_ws_callbacks_t *cb, void *ctx, size_t max_message) {
    int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) {
        hz_error_errno(HZ_EIO, errno, "websocket: eventfd");
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    hz_ws_t *ws = hz_calloc(1, sizeof(*ws));
    ws->fd = fd;
    ws->wake_fd = wake;
    if (cb) ws->cb = *cb;
    ws->ctx = ctx;
    ws->max_message = max_message ? max_message : WS_DEFAULT_MAX;
    ws->refs = 1;
    pthread_mutex_init(&ws->lock, NULL);
    pthread_cond_init(&ws->cond, NULL);
    pthread_mutex_init(&ws->wlock, NULL);
    ws->in_cap = WS_INBUF;
    ws->in = hz_malloc(ws->in_cap);
    return ws;
}

void hz_ws_feed(hz_ws_t *ws, const void *data, size_t len) {
    if (!len) return;
    if (ws->in_cap - ws->in_len < len) {
        ws->in_cap = ws->in_len + len;
        ws->in = hz_realloc(ws->in, ws->in_cap);
    }
    memcpy(ws->in + ws->in_len, data, len);
    ws->in_len += len;
}

void hz_ws_set_release(hz_ws_t *ws, void (*release)(int fd, void *arg), void *arg) {
    ws->release = release;
    ws->release_arg = arg;
}

void hz_ws_run(hz_ws_t *ws) {
    pthread_mutex_lock(&ws->lock);
    ws->reader = pthread_self();
    ws->reader_known = true;
    pthread_mutex_unlock(&ws->lock);

    if (ws->cb.on_open) ws->cb.on_open(ws, ws->ctx);
    ws_end_t end = {0, ""};
    read_loop(ws, &end);

    pthread_mutex_lock(&ws->lock);
    ws->tearing_down = true;
    pthread_mutex_unlock(&ws->lock);
    shutdown(ws->fd, SHUT_RDWR); /* wakes writers stuck waiting on a peer that reads nothing */
    pthread_mutex_lock(&ws->lock);
    while (ws->fd_users > 0) pthread_cond_wait(&ws->cond, &ws->lock);
    pthread_mutex_unlock(&ws->lock);

    if (ws->release) ws->release(ws->fd, ws->release_arg);
    else close(ws->fd);
    close(ws->wake_fd);
    hz_free(ws->in);
    ws->in = NULL;
    hz_free(ws->msg);
    ws->msg = NULL;
    hz_log_debug("http", "websocket closed: %d %s", end.code, end.reason);

    if (ws->cb.on_close) ws->cb.on_close(ws, end.code, end.reason, ws->ctx);

    pthread_mutex_lock(&ws->lock);
    ws->done = true;
    pthread_cond_broadcast(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    ws_unref(ws);
}

int hz_ws_send(hz_ws_t *ws, bool binary, const char *data, size_t len) {
    if (len && !data) return hz_error_set(HZ_EINVAL, "hz_ws_send: data is NULL");
    if (!binary) {
        size_t ok = hz_utf8_valid_prefix(data, len);
        if (ok != len)
            return hz_error_set(HZ_EINVAL, "hz_ws_send: text message is not valid UTF-8 at byte %zu", ok);
    }
    if (!ws_enter(ws)) return hz_error_set(HZ_ECLOSED, "websocket: connection is closed");
    int rc = send_data(ws, binary ? 2 : 1, data, len);
    ws_leave_fd(ws);
    ws_unref(ws);
    return rc;
}

void hz_ws_close(hz_ws_t *ws, int code, const char *reason) {
    if (!hz_ws_close_code_valid(code)) {
        hz_log_warn("http", "hz_ws_close: status code %d may not be sent; using 1011", code);
        code = 1011;
    }
    if (!ws_enter(ws)) return;
    pthread_mutex_lock(&ws->wlock);
    send_close_locked(ws, code, reason, HZ_WS_CLOSE_TIMEOUT_MS, HZ_WS_SEND_STALL_MS);
    pthread_mutex_unlock(&ws->wlock);
    ws_wake_reader(ws);
    ws_leave_fd(ws);

    /* On the reader thread (inside a callback) the read loop itself waits for the peer's close
     * once the callback returns; anywhere else, wait here until the connection has ended. */
    pthread_mutex_lock(&ws->lock);
    if (!(ws->reader_known && pthread_equal(ws->reader, pthread_self()))) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += HZ_WS_CLOSE_TIMEOUT_MS / 1000 + 1;
        while (!ws->done) {
            if (pthread_cond_timedwait(&ws->cond, &ws->lock, &ts) == ETIMEDOUT) break;
        }
    }
    pthread_mutex_unlock(&ws->lock);
    ws_unref(ws);
}

void hz_ws_shutdown(hz_ws_t *ws) {
    if (!ws_enter(ws)) return;
    pthread_mutex_lock(&ws->lock);
    set_deadline_locked(ws, deadline_after(HZ_WS_SHUTDOWN_GRACE_MS));
    pthread_mutex_unlock(&ws->lock);
    /* A sender stuck on a peer that reads nothing holds wlock; do not wait on it for long. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += HZ_WS_SHUTDOWN_GRACE_MS / 1000;
    ts.tv_nsec += (long)(HZ_WS_SHUTDOWN_GRACE_MS % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (pthread_mutex_timedlock(&ws->wlock, &ts) == 0) {
        send_close_locked(ws, 1001, "server shutting down", HZ_WS_SHUTDOWN_GRACE_MS,
                          HZ_WS_SHUTDOWN_GRACE_MS);
        pthread_mutex_unlock(&ws->wlock);
    } else {
        ws_break(ws, "server shut down while a send was stuck");
    }
    ws_wake_reader(ws);
    ws_leave_fd(ws);
    ws_unref(ws);
}
