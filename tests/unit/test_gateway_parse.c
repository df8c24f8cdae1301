/*
 * Unit tests for the gateway's incremental stream parsers (src/gateway/sse.c, ndjson.c). Each
 * sample stream has a transcript of what the parser must deliver; the stream is then fed whole,
 * split at every single point, split at every pair of points (the short samples), and one byte
 * at a time, and every way of feeding must give the identical transcript. That is what
 * "any chunk boundaries" means in practice: CRLF split between feeds, a BOM split between feeds,
 * a field name split from its colon. The rest covers limits, stop values, errors and the edges
 * of the WHATWG grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw_internal.h"

/* ---- SSE -------------------------------------------------------------------------------- */

typedef struct {
    hz_buf_t log;       /* "[event]data\n" per event, data with \n shown as | */
    int events;
    int stop_after;     /* return 7 after this many events; 0: never */
} sse_rec_t;

static int sse_cb(const char *event, const char *data, size_t len, void *ud) {
    sse_rec_t *r = ud;
    assert_int_equal(strlen(data), len);        /* NUL-terminated, no embedded NUL in samples */
    hz_buf_printf(&r->log, "[%s]", event ? event : "");
    for (size_t i = 0; i < len; i++) hz_buf_putc(&r->log, data[i] == '\n' ? '|' : data[i]);
    hz_buf_putc(&r->log, '\n');
    r->events++;
    return r->stop_after && r->events >= r->stop_after ? 7 : 0;
}

/* Feed s split at the given cut points (sorted), then finish; returns the transcript (owned). */
static char *sse_run(const char *s, size_t len, const size_t *cuts, size_t ncuts, size_t max_line, int *rc_out) {
    sse_rec_t r = {HZ_BUF_INIT, 0, 0};
    hz_buf_puts(&r.log, "");
    hz_gw_sse_t *p = hz_gw_sse_new(max_line, sse_cb, &r);
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k <= ncuts && rc == 0; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        rc = hz_gw_sse_feed(p, s + at, end - at);
        at = end;
    }
    if (rc == 0) rc = hz_gw_sse_finish(p);
    hz_gw_sse_free(p);
    if (rc_out) *rc_out = rc;
    return hz_buf_detach(&r.log, NULL);
}

static void sse_all_splits(const char *s, const char *expect, bool pairs) {
    size_t len = strlen(s);
    int rc;
    char *got = sse_run(s, len, NULL, 0, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, expect);
    hz_free(got);
    for (size_t i = 0; i <= len; i++) {
        got = sse_run(s, len, &i, 1, 0, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(got, expect);
        hz_free(got);
        for (size_t j = i; pairs && j <= len; j++) {
            size_t cuts[2] = {i, j};
            got = sse_run(s, len, cuts, 2, 0, &rc);
            assert_int_equal(rc, 0);
            assert_string_equal(got, expect);
            hz_free(got);
        }
    }
    size_t *cuts = hz_malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    got = sse_run(s, len, cuts, len ? len - 1 : 0, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, expect);
    hz_free(got);
    hz_free(cuts);
}

/* An OpenAI chat stream as the API sends it, CRLF line endings and all. */
static const char openai_stream[] =
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n"
    ": keep-alive\r\n\r\n"
    "data: [DONE]\r\n\r\n";

static void test_sse_openai_sample(void **state) {
    (void)state;
    sse_all_splits(openai_stream,
                   "[]{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n"
                   "[]{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n"
                   "[][DONE]\n",
                   false);
}

/* Anthropic names its events; LF endings; a ping. */
static void test_sse_anthropic_sample(void **state) {
    (void)state;
    sse_all_splits("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
                   "event: ping\ndata: {\"type\": \"ping\"}\n\n"
                   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"a\"}}\n\n"
                   "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                   "[message_start]{\"type\":\"message_start\"}\n"
                   "[ping]{\"type\": \"ping\"}\n"
                   "[content_block_delta]{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"a\"}}\n"
                   "[message_stop]{\"type\":\"message_stop\"}\n",
                   false);
}

/* The grammar's corners, short enough to try every pair of split points. */
static void test_sse_grammar(void **state) {
    (void)state;
    /* BOM, lone CR endings, multi-line data, no space after colon, two spaces, comment, id,
     * retry, unknown field, event with no data (not dispatched), field without colon. */
    sse_all_splits("\xEF\xBB\xBF" "data:a\rdata:  b\r\r"
                   ":c\nid: 7\nretry: 10\nfoo: bar\nevent: x\n\n"
                   "event: y\ndata\n\n"
                   "data: last\r\n\r\n",
                   "[]a| b\n[y]\n[]last\n", true);
    /* a BOM later in the stream is content, not skipped: it makes an unknown field here */
    sse_all_splits("data: 1\n\n\xEF\xBB\xBF" "data: 2\n\n", "[]1\n", true);
    /* an incomplete BOM is content too */
    sse_all_splits("\xEF\xBB" "data: 3\n\n", "", true);
    sse_all_splits("\xEF" "\n" "data: 4\n\n", "[]4\n", true);
    /* CRLF inside a multi-line event: a CR|LF split must not end the event early */
    sse_all_splits("data: a\r\ndata: b\r\n\r\nevent: e\r\ndata: c\r\n\r\n", "[]a|b\n[e]c\n", true);
    /* the event name is reset after each dispatch */
    sse_all_splits("event: e\ndata: 1\n\ndata: 2\n\n", "[e]1\n[]2\n", true);
    /* an empty data line gives an empty event; two give one newline */
    sse_all_splits("data:\n\ndata:\ndata:\n\n", "[]\n[]|\n", true);
}

static void test_sse_finish_dispatches_last(void **state) {
    (void)state;
    int rc;
    char *got = sse_run("data: a\ndata: b", 15, NULL, 0, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "[]a|b\n");
    hz_free(got);
    got = sse_run("data: a\n", 8, NULL, 0, 0, &rc);
    assert_string_equal(got, "[]a\n");
    hz_free(got);
    got = sse_run("event: x\n", 9, NULL, 0, 0, &rc);     /* no data: nothing */
    assert_int_equal(rc, 0);
    assert_string_equal(got, "");
    hz_free(got);
    got = sse_run("\xEF\xBB", 2, NULL, 0, 0, &rc);         /* a held partial BOM is a line */
    assert_int_equal(rc, 0);
    assert_string_equal(got, "");
    hz_free(got);
}

static void test_sse_limits(void **state) {
    (void)state;
    int rc;
    /* a 20-byte line in one feed, split, and one byte at a time all fail the same way */
    const char *s = "data: 0123456789abcdefghij\n\n";
    size_t len = strlen(s);
    char *got = sse_run(s, len, NULL, 0, 16, &rc);
    assert_int_equal(rc, HZ_ETOOBIG);
    assert_non_null(strstr(hz_error_last(), "16 bytes"));
    assert_string_equal(got, "");
    hz_free(got);
    for (size_t i = 0; i <= len; i++) {
        got = sse_run(s, len, &i, 1, 16, &rc);
        assert_int_equal(rc, HZ_ETOOBIG);
        hz_free(got);
    }
    /* many short data lines: the event as a whole is bounded too */
    hz_buf_t b = HZ_BUF_INIT;
    for (int i = 0; i < 10; i++) hz_buf_puts(&b, "data: 0123\n");
    hz_buf_puts(&b, "\n");
    got = sse_run(b.data, b.len, NULL, 0, 32, &rc);
    assert_int_equal(rc, HZ_ETOOBIG);
    hz_free(got);
    /* exactly at the limit is fine */
    got = sse_run("data: 0123456789\n\n", 18, NULL, 0, 16, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "[]0123456789\n");
    hz_free(got);
    hz_buf_free(&b);
}

static void test_sse_stop_is_sticky(void **state) {
    (void)state;
    sse_rec_t r = {HZ_BUF_INIT, 0, 2};
    hz_gw_sse_t *p = hz_gw_sse_new(0, sse_cb, &r);
    assert_int_equal(hz_gw_sse_feed(p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27), 7);
    assert_int_equal(r.events, 2);
    assert_int_equal(hz_gw_sse_feed(p, "data: 4\n\n", 9), 7);
    assert_int_equal(hz_gw_sse_finish(p), 7);
    assert_int_equal(r.events, 2);
    hz_gw_sse_free(p);
    hz_buf_free(&r.log);

    /* feeding after finish is a state error */
    p = hz_gw_sse_new(0, NULL, NULL);
    assert_int_equal(hz_gw_sse_finish(p), 0);
    assert_int_equal(hz_gw_sse_feed(p, "x", 1), HZ_ESTATE);
    hz_gw_sse_free(p);
}

/* ---- NDJSON ----------------------------------------------------------------------------- */

typedef struct {
    hz_buf_t log;
    int lines;
    int stop_after;
} nd_rec_t;

static int nd_cb(json_object *obj, void *ud) {
    nd_rec_t *r = ud;
    hz_buf_puts(&r->log, obj ? hz_json_dump(obj, NULL) : "NULL");
    hz_buf_putc(&r->log, '\n');
    r->lines++;
    return r->stop_after && r->lines >= r->stop_after ? 9 : 0;
}

static char *nd_run(const char *s, size_t len, const size_t *cuts, size_t ncuts, size_t max_line, int *rc_out) {
    nd_rec_t r = {HZ_BUF_INIT, 0, 0};
    hz_buf_puts(&r.log, "");
    hz_gw_ndjson_t *p = hz_gw_ndjson_new(max_line, nd_cb, &r);
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k <= ncuts && rc == 0; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        rc = hz_gw_ndjson_feed(p, s + at, end - at);
        at = end;
    }
    if (rc == 0) rc = hz_gw_ndjson_finish(p);
    hz_gw_ndjson_free(p);
    *rc_out = rc;
    return hz_buf_detach(&r.log, NULL);
}

static void nd_all_splits(const char *s, const char *expect, int expect_rc) {
    size_t len = strlen(s);
    int rc;
    char *got;
    for (size_t i = 0; i <= len; i++) {
        got = nd_run(s, len, &i, 1, 0, &rc);
        assert_int_equal(rc, expect_rc);
        assert_string_equal(got, expect);
        hz_free(got);
    }
    size_t *cuts = hz_malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    got = nd_run(s, len, cuts, len ? len - 1 : 0, 0, &rc);
    assert_int_equal(rc, expect_rc);
    assert_string_equal(got, expect);
    hz_free(got);
    hz_free(cuts);
}

/* Ollama /api/chat, as its documentation shows it. */
static const char ollama_stream[] =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":4883583458,\"prompt_eval_count\":26,\"eval_count\":282}\n";

static void test_ndjson_ollama_sample(void **state) {
    (void)state;
    int rc;
    char *expect = nd_run(ollama_stream, strlen(ollama_stream), NULL, 0, 0, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(expect, "\"content\":\" sky\""));
    assert_non_null(strstr(expect, "\"eval_count\":282"));
    size_t n = 0;
    for (const char *c = expect; *c; c++) n += *c == '\n';
    assert_int_equal(n, 3);
    nd_all_splits(ollama_stream, expect, 0);
    hz_free(expect);
}

static void test_ndjson_edges(void **state) {
    (void)state;
    /* BOM, CRLF, blank and whitespace lines, no final newline, scalars and null */
    nd_all_splits("\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \t\n[1,2]\n\"s\"\nnull\n{\"b\":2}", "{\"a\":1}\n[1,2]\n\"s\"\nNULL\n{\"b\":2}\n", 0);
    /* a bad line: everything before it delivered, then HZ_EPARSE naming line and offsets */
    nd_all_splits("{\"a\":1}\n\n{\"a\":}\n{\"b\":2}\n", "{\"a\":1}\n", HZ_EPARSE);
    int rc;
    char *got = nd_run("{\"a\":1}\n\n{\"a\":}\n", 16, NULL, 0, 0, &rc);
    assert_int_equal(rc, HZ_EPARSE);
    assert_non_null(strstr(hz_error_last(), "NDJSON line 3 (stream offset 9)"));
    assert_non_null(strstr(hz_error_last(), "byte 5"));
    hz_free(got);
    /* duplicate keys are rejected as the strict parser does */
    got = nd_run("{\"a\":1,\"a\":2}\n", 14, NULL, 0, 0, &rc);
    assert_int_equal(rc, HZ_EPARSE);
    hz_free(got);
    /* an unterminated last line that is bad fails at finish */
    got = nd_run("{\"a\":1}\n{", 9, NULL, 0, 0, &rc);
    assert_int_equal(rc, HZ_EPARSE);
    assert_string_equal(got, "{\"a\":1}\n");
    hz_free(got);
}

static void test_ndjson_limits_and_stop(void **state) {
    (void)state;
    int rc;
    const char *s = "{\"k\":\"0123456789abcdef\"}\n";
    size_t len = strlen(s);
    for (size_t i = 0; i <= len; i++) {
        char *got = nd_run(s, len, &i, 1, 16, &rc);
        assert_int_equal(rc, HZ_ETOOBIG);
        hz_free(got);
    }
    assert_non_null(strstr(hz_error_last(), "line 1 exceeds 16 bytes"));

    nd_rec_t r = {HZ_BUF_INIT, 0, 1};
    hz_gw_ndjson_t *p = hz_gw_ndjson_new(0, nd_cb, &r);
    assert_int_equal(hz_gw_ndjson_feed(p, "1\n2\n3\n", 6), 9);
    assert_int_equal(r.lines, 1);
    assert_int_equal(hz_gw_ndjson_feed(p, "4\n", 2), 9);
    assert_int_equal(hz_gw_ndjson_finish(p), 9);
    hz_gw_ndjson_free(p);
    hz_buf_free(&r.log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_openai_sample),
        cmocka_unit_test(test_sse_anthropic_sample),
        cmocka_unit_test(test_sse_grammar),
        cmocka_unit_test(test_sse_finish_dispatches_last),
        cmocka_unit_test(test_sse_limits),
        cmocka_unit_test(test_sse_stop_is_sticky),
        cmocka_unit_test(test_ndjson_ollama_sample),
        cmocka_unit_test(test_ndjson_edges),
        cmocka_unit_test(test_ndjson_limits_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
