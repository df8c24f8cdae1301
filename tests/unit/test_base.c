/* Unit tests for src/base: errors, buffers, strings, UTF-8, logging levels, time, ids, pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <string.h>

#include "hanzo/base.h"

static void test_error_set_and_wrap(void **state) {
    (void)state;
    assert_int_equal(hz_error_set(HZ_EINVAL, "bad %s", "thing"), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "bad thing");
    assert_int_equal(hz_error_wrap(HZ_EINVAL, "loading %s", "x.toml"), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "loading x.toml: bad thing");
    hz_error_errno(HZ_EIO, 2, "open %s", "f");
    assert_string_equal(hz_error_last(), "open f: No such file or directory");
    assert_string_equal(hz_error_name(HZ_ENOTFOUND), "ENOTFOUND");
    hz_error_clear();
    assert_string_equal(hz_error_last(), "");
}

static void test_buf_growth_and_printf(void **state) {
    (void)state;
    hz_buf_t b = HZ_BUF_INIT;
    for (int i = 0; i < 1000; i++) hz_buf_printf(&b, "%d,", i);
    assert_true(b.len > 3000);
    assert_int_equal(b.data[b.len], '\0');
    assert_true(hz_str_starts_with(b.data, "0,1,2,"));
    assert_true(hz_str_ends_with(b.data, "998,999,"));
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hz_buf_reset(&b);
    hz_buf_printf(&b, "[%s]", big); /* longer than the small stack buffer */
    assert_int_equal(b.len, 601);
    size_t n;
    char *s = hz_buf_detach(&b, &n);
    assert_int_equal(n, 601);
    assert_null(b.data);
    hz_free(s);
}

static void test_buf_json_string(void **state) {
    (void)state;
    hz_buf_t b = HZ_BUF_INIT;
    const char in[] = "a\"b\\c\nd\x01" "é";
    hz_buf_put_json_string(&b, in, sizeof(in) - 1);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    hz_buf_free(&b);
}

static void test_utf8_validation(void **state) {
    (void)state;
    assert_int_equal(hz_utf8_valid_prefix("héllo €𝄞", strlen("héllo €𝄞")), strlen("héllo €𝄞"));
    assert_int_equal(hz_utf8_valid_prefix("ab\xC0\xAF", 4), 2);           /* overlong '/' */
    assert_int_equal(hz_utf8_valid_prefix("ab\xED\xA0\x80", 5), 2);       /* surrogate */
    assert_int_equal(hz_utf8_valid_prefix("\xF4\x90\x80\x80", 4), 0);     /* > U+10FFFF */
    assert_int_equal(hz_utf8_valid_prefix("abc\xE2\x82", 5), 3);          /* truncated */
    assert_int_equal(hz_utf8_valid_prefix("\xFF", 1), 0);
}

static void test_str_helpers(void **state) {
    (void)state;
    char s[] = "  \t trim me \n";
    assert_string_equal(hz_str_trim(s), "trim me");
    assert_true(hz_str_ieq("Bearer", "bEARER"));
    assert_false(hz_str_ieq("Bearer", "Bear"));
}

static void test_log_spec(void **state) {
    (void)state;
    FILE *sink = fopen("/dev/null", "w");
    assert_int_equal(hz_log_configure("warn,http=debug,hanzo::store=trace", HZ_LOG_JSON, sink), 0);
    assert_false(hz_log_enabled(HZ_LOG_INFO, "node"));
    assert_true(hz_log_enabled(HZ_LOG_WARN, "node"));
    assert_true(hz_log_enabled(HZ_LOG_DEBUG, "http"));
    assert_false(hz_log_enabled(HZ_LOG_TRACE, "http"));
    assert_true(hz_log_enabled(HZ_LOG_TRACE, "store"));
    assert_int_equal(hz_log_configure("loud", HZ_LOG_TEXT, sink), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "unknown log level \"loud\""));
    hz_log_configure("info", HZ_LOG_TEXT, NULL);
    fclose(sink);
}

static void test_log_json_line(void **state) {
    (void)state;
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    hz_log_configure("info", HZ_LOG_JSON, out);
    hz_log_info("http", "listening on %s \"quoted\"", "127.0.0.1:9550");
    hz_log_debug("http", "not shown");
    hz_log_configure("info", HZ_LOG_TEXT, NULL);
    fclose(out);
    json_object *obj = json_tokener_parse(mem);
    assert_non_null(obj);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "level")), "info");
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "module")), "http");
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "msg")),
                        "listening on 127.0.0.1:9550 \"quoted\"");
    assert_int_equal(strchr(mem, '\n') - mem + 1, (long)memlen); /* exactly one line */
    json_object_put(obj);
    free(mem);
}

static void test_time_rfc3339(void **state) {
    (void)state;
    char buf[32];
    assert_string_equal(hz_time_format_rfc3339(1795316400123LL, buf), "2026-11-22T03:00:00.123Z");
    int64_t ms;
    assert_int_equal(hz_time_parse_rfc3339("2026-11-22T03:00:00.123Z", &ms), 0);
    assert_int_equal(ms, 1795316400123LL);
    assert_int_equal(hz_time_parse_rfc3339("2026-11-22T05:00:00+02:00", &ms), 0);
    assert_int_equal(ms, 1795316400000LL);
    assert_int_equal(hz_time_parse_rfc3339("2026-13-22T05:00:00Z", &ms), HZ_EPARSE);
    assert_int_equal(hz_time_parse_rfc3339("2026-11-22 05:00", &ms), HZ_EPARSE);
    int64_t a = hz_time_mono_ns();
    hz_sleep_ms(2);
    assert_true(hz_time_mono_ns() - a >= 2000000);
}

static void test_uuid_and_hex(void **state) {
    (void)state;
    char a[37], b[37];
    hz_uuid_v7(a);
    hz_uuid_v7(b);
    assert_true(hz_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '7');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_true(strncmp(a, b, 8) <= 0); /* time-ordered prefix */
    hz_uuid_v4(a);
    assert_int_equal(a[14], '4');
    assert_false(hz_uuid_valid("not-a-uuid"));
    uint8_t bytes[4] = {0xde, 0xad, 0xbe, 0xef}, back[4];
    char hex[9];
    hz_hex_encode(bytes, 4, hex);
    assert_string_equal(hex, "deadbeef");
    assert_int_equal(hz_hex_decode("DEADbeef", back, 4), 0);
    assert_memory_equal(bytes, back, 4);
    assert_int_equal(hz_hex_decode("deadbeeg", back, 4), HZ_EPARSE);
    assert_int_equal(hz_hex_decode("dead", back, 4), HZ_EPARSE);
}

static atomic_int counter;
static void count_task(void *arg) { (void)arg; hz_sleep_ms(1); atomic_fetch_add(&counter, 1); }

static void test_pool_runs_everything_and_bounds_queue(void **state) {
    (void)state;
    hz_pool_t *pool = hz_pool_new(4, 10000, "test");
    assert_non_null(pool);
    for (int i = 0; i < 500; i++) assert_int_equal(hz_pool_submit(pool, count_task, NULL), 0);
    hz_pool_free(pool); /* drains */
    assert_int_equal(atomic_load(&counter), 500);

    atomic_store(&counter, 0);
    pool = hz_pool_new(1, 2, "tiny");
    int busy = 0;
    for (int i = 0; i < 50; i++)
        if (hz_pool_submit(pool, count_task, NULL) == HZ_EBUSY) busy++;
    assert_true(busy > 0);
    hz_pool_free(pool);
    assert_int_equal(atomic_load(&counter), 50 - busy);
}

static void test_json_container_limit(void **state) {
    (void)state;
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_putc(&b, '[');
    for (int i = 0; i < HZ_JSON_MAX_CONTAINERS - 1; i++) hz_buf_puts(&b, "{},");
    hz_buf_puts(&b, "{}]");
    json_object *obj = NULL;
    assert_int_equal(hz_json_parse(b.data, b.len, &obj), HZ_EPARSE); /* limit + the outer array */
    assert_non_null(strstr(hz_error_last(), "more than 100000 objects and arrays"));
    assert_null(obj);
    b.data[b.len - 4] = ']'; /* drop the last {} : exactly at the limit */
    assert_int_equal(hz_json_parse(b.data, b.len - 3, &obj), 0);
    assert_int_equal(json_object_array_length(obj), HZ_JSON_MAX_CONTAINERS - 1);
    json_object_put(obj);
    hz_buf_free(&b);
}

static void test_error_wrap_truncates_safely(void **state) {
    (void)state;
    char long_msg[2000];
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    hz_error_set(HZ_EIO, "%s", long_msg);
    hz_error_wrap(HZ_EIO, "context");
    assert_true(hz_str_starts_with(hz_error_last(), "context: xxx"));
    assert_true(strlen(hz_error_last()) < 1024);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set_and_wrap),
        cmocka_unit_test(test_buf_growth_and_printf),
        cmocka_unit_test(test_buf_json_string),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_str_helpers),
        cmocka_unit_test(test_log_spec),
        cmocka_unit_test(test_log_json_line),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_uuid_and_hex),
        cmocka_unit_test(test_pool_runs_everything_and_bounds_queue),
        cmocka_unit_test(test_json_container_limit),
        cmocka_unit_test(test_error_wrap_truncates_safely),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
