/*
 * Incremental newline-delimited JSON parser (Ollama's streaming format): one JSON value per
 * line, lines ending in LF (a CR before it is dropped), blank lines ignored, a UTF-8 BOM at the
 * start of the stream skipped. Each line is parsed with the strict hz_json_parse and handed to
 * the callback, borrowed for the duration of the call; a `null` line is handed over as NULL, and
 * judging whether a value has the right shape is the consumer's business. Complete lines inside
 * one feed are parsed in place; only a line split across feeds is copied, and its length is
 * bounded by max_line. Errors name the line number and the byte offset of the line in the
 * stream, followed by the JSON parser's own message with the offset inside the line.
 *
 * As with the SSE parser, an error or a callback's stop value is sticky.
 */
#include "gateway/gw_internal.h"

#include <string.h>

#define NDJSON_DEFAULT_MAX (4u << 20)

struct hz_gw_ndjson {
    size_t max_line;
    hz_gw_ndjson_fn fn;
    void *ud;
    hz_buf_t line;          /* a line split across feeds */
    uint64_t line_no;       /* lines completed so far */
    uint64_t offset;        /* stream offset of the start of the current line */
    int bom;                /* bytes of a leading BOM matched; -1 once past the start */
    bool finished;
    int done;
};

hz_gw_ndjson_t *hz_gw_ndjson_new(size_t max_line, hz_gw_ndjson_fn fn, void *ud) {
    hz_gw_ndjson_t *p = hz_calloc(1, sizeof *p);
    p->max_line = max_line ? max_line : NDJSON_DEFAULT_MAX;
    p->fn = fn;
    p->ud = ud;
    hz_buf_init(&p->line);
    return p;
}

void hz_gw_ndjson_free(hz_gw_ndjson_t *p) {
    if (!p) return;
    hz_buf_free(&p->line);
    hz_free(p);
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    }
    return true;
}

static int process_line(hz_gw_ndjson_t *p, const char *s, size_t n) {
    p->line_no++;
    if (n > 0 && s[n - 1] == '\r') n--;
    if (blank(s, n)) return 0;
    json_object *obj = NULL;
    if (hz_json_parse(s, n, &obj) != 0)
        return hz_error_wrap(HZ_EPARSE, "NDJSON line %llu (stream offset %llu)",
                             (unsigned long long)p->line_no, (unsigned long long)p->offset);
    int rc = p->fn ? p->fn(obj, p->ud) : 0;
    json_object_put(obj);
    return rc;
}

static size_t skip_bom(hz_gw_ndjson_t *p, const char *buf, size_t len) {
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    size_t used = 0;
    while (p->bom >= 0 && used < len) {
        if (buf[used] != bom[p->bom]) {
            p->bom = -1;
            break;
        }
        hz_buf_putc(&p->line, buf[used++]);
        if (++p->bom == 3) {
            hz_buf_reset(&p->line);
            p->offset = 3;
            p->bom = -1;
        }
    }
    return used;
}

static int fail(hz_gw_ndjson_t *p, int rc) {
    p->done = rc;
    return rc;
}

int hz_gw_ndjson_feed(hz_gw_ndjson_t *p, const char *buf, size_t len) {
    if (p->done) return p->done;
    if (p->finished) return hz_error_set(HZ_ESTATE, "NDJSON parser fed after finish");
    size_t i = skip_bom(p, buf, len);
    if (p->bom >= 0) return 0;
    while (i < len) {
        const char *start = buf + i;
        size_t rest = len - i;
        const char *lf = memchr(start, '\n', rest);
        if (!lf) {
            if (p->line.len + rest > p->max_line)
                return fail(p, hz_error_set(HZ_ETOOBIG, "NDJSON line %llu exceeds %zu bytes",
                                            (unsigned long long)p->line_no + 1, p->max_line));
            hz_buf_append(&p->line, start, rest);
            return 0;
        }
        size_t n = (size_t)(lf - start);
        int rc;
        if (p->line.len + n > p->max_line)
            return fail(p, hz_error_set(HZ_ETOOBIG, "NDJSON line %llu exceeds %zu bytes",
                                        (unsigned long long)p->line_no + 1, p->max_line));
        size_t whole;
        if (p->line.len > 0) {
            hz_buf_append(&p->line, start, n);
            whole = p->line.len;
            rc = process_line(p, p->line.data, p->line.len);
            hz_buf_reset(&p->line);
        } else {
            whole = n;
            rc = process_line(p, start, n);
        }
        p->offset += whole + 1;
        i += n + 1;
        if (rc != 0) return fail(p, rc);
    }
    return 0;
}

int hz_gw_ndjson_finish(hz_gw_ndjson_t *p) {
    if (p->done) return p->done;
    if (p->finished) return hz_error_set(HZ_ESTATE, "NDJSON parser finished twice");
    p->finished = true;
    int rc = 0;
    if (p->line.len > 0) {
        rc = process_line(p, p->line.data, p->line.len);
        hz_buf_reset(&p->line);
    }
    p->done = rc;
    return rc;
}
