/*
 * Incremental server-sent-events parser, following the WHATWG event-stream grammar: lines end
 * in CRLF, LF or a lone CR; "field: value" lines build an event (one space after the colon is
 * dropped); a blank line dispatches it; lines starting with ':' are comments; a UTF-8 BOM at the
 * very start of the stream is skipped. Bytes arrive in whatever pieces the network delivers, so
 * the only state carried between feeds is the unfinished line, the event being built, and
 * whether the previous piece ended in CR (then a leading LF of the next piece belongs to the same
 * line break). Complete lines inside a piece are parsed straight from the caller's buffer; only
 * a line split across pieces is copied. Both the line and the event's data are bounded by
 * max_line, so a peer that never sends a newline cannot grow memory without limit.
 *
 * After a callback stops the parser or an error occurs the parser is spent: every later call
 * returns the same code, so a caller cannot accidentally deliver events past an error.
 */
#include "gateway/gw_internal.h"

#include <string.h>

#define SSE_DEFAULT_MAX (4u << 20)

struct hz_gw_sse {
    size_t max_line;
    hz_gw_sse_fn fn;
    void *ud;
    hz_buf_t line;          /* a line split across feeds */
    hz_buf_t data;          /* data lines of the event being built, each followed by '\n' */
    hz_buf_t event;         /* the event type, "" for the default */
    bool saw_data;          /* at least one data field in this event */
    bool skip_lf;           /* the last feed ended in CR */
    bool at_start;          /* nothing but a possible BOM seen yet */
    bool finished;          /* hz_gw_sse_finish ran */
    int done;               /* non-zero: the code every later call returns */
};

hz_gw_sse_t *hz_gw_sse_new(size_t max_line, hz_gw_sse_fn fn, void *ud) {
    hz_gw_sse_t *p = hz_calloc(1, sizeof *p);
    p->max_line = max_line ? max_line : SSE_DEFAULT_MAX;
    p->fn = fn;
    p->ud = ud;
    hz_buf_init(&p->line);
    hz_buf_init(&p->data);
    hz_buf_init(&p->event);
    p->at_start = true;
    return p;
}

void hz_gw_sse_free(hz_gw_sse_t *p) {
    if (!p) return;
    hz_buf_free(&p->line);
    hz_buf_free(&p->data);
    hz_buf_free(&p->event);
    hz_free(p);
}

static int dispatch(hz_gw_sse_t *p) {
    if (!p->saw_data) {
        hz_buf_reset(&p->event);
        return 0;
    }
    size_t len = p->data.len;
    if (len > 0 && p->data.data[len - 1] == '\n') len--;   /* the last line's separator */
    /* Reuse the buffer as a C string for the callback: data[len] is '\n' or the NUL. */
    p->data.data[len] = '\0';
    const char *ev = p->event.len > 0 ? p->event.data : NULL;
    int rc = p->fn ? p->fn(ev, p->data.data, len, p->ud) : 0;
    hz_buf_reset(&p->data);
    hz_buf_reset(&p->event);
    p->saw_data = false;
    return rc;
}

static int process_line(hz_gw_sse_t *p, const char *s, size_t n) {
    if (n == 0) return dispatch(p);
    if (s[0] == ':') return 0;
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - val);
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (p->data.len + vlen + 1 > p->max_line)
            return hz_error_set(HZ_ETOOBIG, "SSE event data exceeds %zu bytes", p->max_line);
        hz_buf_append(&p->data, val, vlen);
        hz_buf_putc(&p->data, '\n');
        p->saw_data = true;
    } else if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        hz_buf_reset(&p->event);
        hz_buf_append(&p->event, val, vlen);
    }
    /* id, retry and unknown fields carry nothing a provider stream needs. */
    return 0;
}

/* Drop a UTF-8 BOM that starts the stream (possibly delivered across feeds). Returns how many
 * bytes of buf were consumed as BOM; while undecided the bytes are held in p->line. */
static size_t skip_bom(hz_gw_sse_t *p, const char *buf, size_t len) {
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    size_t used = 0;
    while (p->at_start && used < len) {
        size_t have = p->line.len;
        if (buf[used] != bom[have]) {
            p->at_start = false;   /* not a BOM: the held bytes are ordinary line content */
            break;
        }
        hz_buf_putc(&p->line, buf[used++]);
        if (p->line.len == 3) {
            hz_buf_reset(&p->line);
            p->at_start = false;
        }
    }
    return used;
}

int hz_gw_sse_feed(hz_gw_sse_t *p, const char *buf, size_t len) {
    if (p->done) return p->done;
    if (p->finished) return hz_error_set(HZ_ESTATE, "SSE parser fed after finish");
    size_t i = skip_bom(p, buf, len);
    if (p->at_start) return 0;
    if (p->skip_lf && i < len) {
        if (buf[i] == '\n') i++;
        p->skip_lf = false;
    }
    while (i < len) {
        const char *start = buf + i;
        size_t rest = len - i;
        const char *cr = memchr(start, '\r', rest);
        const char *lf = memchr(start, '\n', cr ? (size_t)(cr - start) : rest);
        const char *eol = lf ? lf : cr;
        if (!eol) {
            if (p->line.len + rest > p->max_line) {
                p->done = hz_error_set(HZ_ETOOBIG, "SSE line exceeds %zu bytes", p->max_line);
                return p->done;
            }
            hz_buf_append(&p->line, start, rest);
            return 0;
        }
        size_t n = (size_t)(eol - start);
        int rc;
        if (p->line.len > 0) {
            if (p->line.len + n > p->max_line) {
                p->done = hz_error_set(HZ_ETOOBIG, "SSE line exceeds %zu bytes", p->max_line);
                return p->done;
            }
            hz_buf_append(&p->line, start, n);
            rc = process_line(p, p->line.data, p->line.len);
            hz_buf_reset(&p->line);
        } else {
            if (n > p->max_line) {
                p->done = hz_error_set(HZ_ETOOBIG, "SSE line exceeds %zu bytes", p->max_line);
                return p->done;
            }
            rc = process_line(p, start, n);
        }
        i += n + 1;
        if (*eol == '\r') {
            if (i < len) {
                if (buf[i] == '\n') i++;
            } else {
                p->skip_lf = true;
            }
        }
        if (rc != 0) {
            p->done = rc;
            return rc;
        }
    }
    return 0;
}

int hz_gw_sse_finish(hz_gw_sse_t *p) {
    if (p->done) return p->done;
    if (p->finished) return hz_error_set(HZ_ESTATE, "SSE parser finished twice");
    p->finished = true;
    p->skip_lf = false;
    int rc = 0;
    if (p->line.len > 0) {
        /* Bytes held as a possible BOM prefix, or an unterminated last line. */
        rc = process_line(p, p->line.data, p->line.len);
        hz_buf_reset(&p->line);
    }
    if (rc == 0) rc = dispatch(p);
    p->done = rc;
    return rc;
}
