/*
 * Unit tests for the gateway's usage accounting (usage.c: rows in the store, totals and groups
 * over [from, to)) and per-key rate limits (limits.c: the sliding minute, Retry-After, token
 * charges, eviction of idle keys, and exact counting under concurrent admits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/gateway.h"
#include "hanzo/store.h"

/* limits.c, for the tests: keys currently tracked */
size_t gw_limits_count(hz_gw_limits_t *l);

typedef struct {
    char dir[64];
    char db[128];
    hz_store_t *store;
} fixture_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    fixture_t *f = hz_calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/hz_test_gw_usage.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof(f->db), "%s/hanzo.db", f->dir);
    if (hz_store_open(f->db, NULL, &f->store) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    hz_store_close(f->store);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    hz_free(f);
    return 0;
}

/* ---- usage ---------------------------------------------------------------------------------- */

/* 2026-03-01T00:00:00Z and the next two days */
#define DAY0 INT64_C(1772323200000)
#define DAY_MS INT64_C(86400000)

static void rec(hz_store_t *s, int64_t ts, const char *key, const char *model, const char *provider, int status,
                int64_t prompt, int64_t completion, double latency) {
    hz_gw_usage_record_t r = {
        .ts_ms = ts, .key_id = key, .endpoint = "chat", .model = model, .provider = provider,
        .upstream_model = model, .status = status,
        .usage = {.prompt_tokens = prompt, .completion_tokens = completion, .cached_tokens = prompt / 2},
        .latency_ms = latency, .ttft_ms = latency / 2,
    };
    assert_int_equal(hz_gw_usage_record(s, &r), 0);
}

static void fill(hz_store_t *s) {
    rec(s, DAY0 + 1000, "k1", "openai/gpt-4o-mini", "openai", 200, 10, 20, 100);
    rec(s, DAY0 + 2000, "k1", "openai/gpt-4o-mini", "openai", 200, 30, 40, 300);
    rec(s, DAY0 + 3000, "k2", "tiny", "local", 200, 5, 6, 10);
    rec(s, DAY0 + DAY_MS + 5, "k2", "tiny", "local", 429, 0, 0, 1);
    rec(s, DAY0 + 2 * DAY_MS, "k3", "groq/llama", "groq", 502, 7, 0, 50);
}

static int64_t num(json_object *o, const char *k) {
    json_object *v;
    assert_true(json_object_object_get_ex(o, k, &v));
    return json_object_get_int64(v);
}

static double dbl(json_object *o, const char *k) {
    json_object *v;
    assert_true(json_object_object_get_ex(o, k, &v));
    return json_object_get_double(v);
}

static json_object *member(json_object *o, const char *k) {
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, k, &v));
    return v;
}

static json_object *group(json_object *out, const char *key) {
    json_object *groups = member(out, "groups");
    for (size_t i = 0; i < json_object_array_length(groups); i++) {
        json_object *g = json_object_array_get_idx(groups, i);
        if (strcmp(json_object_get_string(member(g, "key")), key) == 0) return g;
    }
    fail_msg("no group \"%s\" in %s", key, json_object_to_json_string(out));
    return NULL;
}

static void test_usage_totals(void **state) {
    fixture_t *f = *state;
    fill(f->store);
    json_object *out;
    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, NULL, &out), 0);
    json_object *t = member(out, "total");
    assert_int_equal(num(t, "requests"), 5);
    assert_int_equal(num(t, "prompt_tokens"), 52);
    assert_int_equal(num(t, "completion_tokens"), 66);
    assert_int_equal(num(t, "total_tokens"), 118);
    assert_int_equal(num(t, "cached_tokens"), 5 + 15 + 2 + 0 + 3);
    assert_int_equal(num(t, "errors"), 2);
    assert_true(dbl(t, "avg_latency_ms") > 92.19 && dbl(t, "avg_latency_ms") < 92.21);
    assert_int_equal(json_object_array_length(member(out, "groups")), 0);
    assert_null(member(out, "from"));
    json_object_put(out);
}

static void test_usage_ranges(void **state) {
    fixture_t *f = *state;
    fill(f->store);
    json_object *out;
    /* [from, to): the row at exactly `to` is out, the row at exactly `from` is in */
    assert_int_equal(hz_gw_usage_query(f->store, DAY0 + 2000, DAY0 + DAY_MS + 5, NULL, &out), 0);
    assert_int_equal(num(member(out, "total"), "requests"), 2);
    assert_int_equal(num(member(out, "total"), "prompt_tokens"), 35);
    assert_int_equal(num(out, "from"), DAY0 + 2000);
    assert_int_equal(num(out, "to"), DAY0 + DAY_MS + 5);
    json_object_put(out);
    /* open start, open end */
    assert_int_equal(hz_gw_usage_query(f->store, 0, DAY0 + 1001, NULL, &out), 0);
    assert_int_equal(num(member(out, "total"), "requests"), 1);
    json_object_put(out);
    assert_int_equal(hz_gw_usage_query(f->store, DAY0 + DAY_MS, 0, NULL, &out), 0);
    assert_int_equal(num(member(out, "total"), "requests"), 2);
    json_object_put(out);
    /* an empty range has zero totals, not nulls */
    assert_int_equal(hz_gw_usage_query(f->store, DAY0 + 10 * DAY_MS, 0, "model", &out), 0);
    assert_int_equal(num(member(out, "total"), "requests"), 0);
    assert_true(dbl(member(out, "total"), "avg_latency_ms") == 0.0);
    assert_int_equal(json_object_array_length(member(out, "groups")), 0);
    json_object_put(out);
    /* to before from */
    out = (json_object *)1;
    assert_int_equal(hz_gw_usage_query(f->store, DAY0 + 5, DAY0, NULL, &out), HZ_EINVAL);
    assert_null(out);
    assert_non_null(strstr(hz_error_last(), "to"));
}

static void test_usage_group_by(void **state) {
    fixture_t *f = *state;
    fill(f->store);
    json_object *out, *g;

    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, "model", &out), 0);
    assert_int_equal(json_object_array_length(member(out, "groups")), 3);
    g = group(out, "openai/gpt-4o-mini");
    assert_int_equal(num(g, "requests"), 2);
    assert_int_equal(num(g, "prompt_tokens"), 40);
    assert_int_equal(num(g, "completion_tokens"), 60);
    assert_true(dbl(g, "avg_latency_ms") == 200.0);
    assert_true(dbl(g, "avg_ttft_ms") == 100.0);
    assert_int_equal(num(group(out, "tiny"), "errors"), 1);
    /* sorted by key */
    assert_string_equal(json_object_get_string(member(json_object_array_get_idx(member(out, "groups"), 0), "key")),
                        "groq/llama");
    assert_string_equal(json_object_get_string(member(out, "group_by")), "model");
    json_object_put(out);

    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, "provider", &out), 0);
    assert_int_equal(num(group(out, "local"), "requests"), 2);
    assert_int_equal(num(group(out, "groq"), "errors"), 1);
    json_object_put(out);

    assert_int_equal(hz_gw_usage_query(f->store, DAY0, DAY0 + DAY_MS, "key", &out), 0);
    assert_int_equal(json_object_array_length(member(out, "groups")), 2);
    assert_int_equal(num(group(out, "k1"), "requests"), 2);
    assert_int_equal(num(group(out, "k2"), "requests"), 1);
    json_object_put(out);

    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, "day", &out), 0);
    assert_int_equal(json_object_array_length(member(out, "groups")), 3);
    assert_int_equal(num(group(out, "2026-03-01"), "requests"), 3);
    assert_int_equal(num(group(out, "2026-03-02"), "errors"), 1);
    assert_int_equal(num(group(out, "2026-03-03"), "prompt_tokens"), 7);
    json_object_put(out);

    out = (json_object *)1;
    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, "model; DROP TABLE usage", &out), HZ_EINVAL);
    assert_null(out);
    assert_non_null(strstr(hz_error_last(), "group_by"));
    assert_non_null(strstr(hz_error_last(), "model, provider, key, day"));
}

static void test_usage_persists(void **state) {
    fixture_t *f = *state;
    fill(f->store);
    hz_store_close(f->store);
    assert_int_equal(hz_store_open(f->db, NULL, &f->store), 0);
    json_object *out;
    assert_int_equal(hz_gw_usage_query(f->store, 0, 0, "key", &out), 0);
    assert_int_equal(num(member(out, "total"), "requests"), 5);
    assert_int_equal(num(group(out, "k3"), "prompt_tokens"), 7);
    json_object_put(out);
}

/* ---- limits --------------------------------------------------------------------------------- */

#define T0 INT64_C(1772323200000)  /* a whole second */

static void test_limits_requests(void **state) {
    (void)state;
    hz_gw_limits_t *l = hz_gw_limits_new(3, 0);
    int64_t ra;
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 100, &ra), 0);
    assert_int_equal(ra, -1);
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 10500, &ra), 0);
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 20000, &ra), 0);
    /* the fourth within the minute waits until the first one's second leaves the window */
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 30000, &ra), HZ_EBUSY);
    assert_int_equal(ra, 30000);
    assert_non_null(strstr(hz_error_last(), "3 requests per minute"));
    /* refusals do not count: still exactly one slot frees at T0 + 60 s */
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 59999, &ra), HZ_EBUSY);
    assert_int_equal(ra, 1);
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 60000, &ra), 0);
    assert_int_equal(hz_gw_limits_admit(l, "a", T0 + 60001, &ra), HZ_EBUSY);
    assert_int_equal(ra, 70000 - 60001);  /* the T0+10.5 s request's second, 10, leaves at 70 s */
    /* another key has its own window */
    assert_int_equal(hz_gw_limits_admit(l, "b", T0 + 60001, &ra), 0);
    hz_gw_limits_free(l);
}

static void test_limits_tokens(void **state) {
    (void)state;
    hz_gw_limits_t *l = hz_gw_limits_new(0, 1000);
    int64_t ra;
    assert_int_equal(hz_gw_limits_admit(l, "k", T0, &ra), 0);
    hz_gw_limits_charge(l, "k", T0 + 500, 600);
    assert_int_equal(hz_gw_limits_admit(l, "k", T0 + 5000, &ra), 0);
    hz_gw_limits_charge(l, "k", T0 + 5000, 600);  /* 1200 > 1000: the crossing request finished */
    assert_int_equal(hz_gw_limits_admit(l, "k", T0 + 6000, &ra), HZ_EBUSY);
    assert_int_equal(ra, 54000);  /* the 600 charged in second 0 leave at 60 s: 600 < 1000 */
    assert_non_null(strstr(hz_error_last(), "1000 tokens per minute"));
    assert_int_equal(hz_gw_limits_admit(l, "k", T0 + 60000, &ra), 0);
    /* charges need all of the window to clear when each alone is over the limit */
    hz_gw_limits_charge(l, "k", T0 + 61000, 5000);
    assert_int_equal(hz_gw_limits_admit(l, "k", T0 + 62000, &ra), HZ_EBUSY);
    assert_int_equal(ra, 121000 - 62000);
    /* unlimited requests means no request count is kept against the key */
    for (int i = 0; i < 100; i++) assert_int_equal(hz_gw_limits_admit(l, "other", T0 + i, &ra), 0);
    hz_gw_limits_free(l);
}

static void test_limits_both_and_unlimited(void **state) {
    (void)state;
    int64_t ra;
    hz_gw_limits_t *none = hz_gw_limits_new(0, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(hz_gw_limits_admit(none, "k", T0, &ra), 0);
    hz_gw_limits_charge(none, "k", T0, INT64_C(1) << 40);
    assert_int_equal(hz_gw_limits_admit(none, "k", T0, &ra), 0);
    assert_int_equal(gw_limits_count(none), 0);  /* nothing tracked when nothing is limited */
    hz_gw_limits_free(none);

    /* the longer of the two waits wins */
    hz_gw_limits_t *l = hz_gw_limits_new(2, 100);
    assert_int_equal(hz_gw_limits_admit(l, "k", T0, &ra), 0);
    assert_int_equal(hz_gw_limits_admit(l, "k", T0, &ra), 0);
    hz_gw_limits_charge(l, "k", T0 + 20000, 150);
    assert_int_equal(hz_gw_limits_admit(l, "k", T0 + 30000, &ra), HZ_EBUSY);
    assert_int_equal(ra, 50000);  /* tokens at 20 s leave at 80 s; a request slot would free at 60 s */
    assert_non_null(strstr(hz_error_last(), "tokens"));
    hz_gw_limits_admit(NULL, "k", T0, &ra);  /* no limits object: admitted */
    assert_int_equal(ra, -1);
    hz_gw_limits_free(l);
}

static void test_limits_eviction(void **state) {
    (void)state;
    hz_gw_limits_t *l = hz_gw_limits_new(10, 0);
    char key[32];
    int64_t ra;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(hz_gw_limits_admit(l, key, T0 + i / 100, &ra), 0);
    }
    assert_int_equal(gw_limits_count(l), 5000);
    /* within the minute every key is kept */
    assert_int_equal(hz_gw_limits_admit(l, "late", T0 + 59000, &ra), 0);
    assert_int_equal(gw_limits_count(l), 5001);
    /* a minute after their last use the idle keys go; the recent one stays */
    assert_int_equal(hz_gw_limits_admit(l, "late", T0 + 61000, &ra), 0);
    assert_int_equal(gw_limits_count(l), 1);
    /* and a returning key starts afresh, with its full allowance */
    for (int i = 0; i < 10; i++) assert_int_equal(hz_gw_limits_admit(l, "key-1", T0 + 61000, &ra), 0);
    assert_int_equal(hz_gw_limits_admit(l, "key-1", T0 + 61000, &ra), HZ_EBUSY);
    hz_gw_limits_free(l);
}

typedef struct {
    hz_gw_limits_t *l;
    atomic_int admitted;
} race_t;

static void *racer(void *arg) {
    race_t *r = arg;
    for (int i = 0; i < 2000; i++) {
        int64_t ra;
        if (hz_gw_limits_admit(r->l, i % 2 ? "x" : "y", T0 + 500, &ra) == 0) atomic_fetch_add(&r->admitted, 1);
    }
    return NULL;
}

static void test_limits_threads(void **state) {
    (void)state;
    race_t r = {.l = hz_gw_limits_new(700, 0)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r.admitted), 2 * 700);  /* exactly the limit of each of two keys */
    hz_gw_limits_free(r.l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_group_by, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_persists, setup, teardown),
        cmocka_unit_test(test_limits_requests),
        cmocka_unit_test(test_limits_tokens),
        cmocka_unit_test(test_limits_both_and_unlimited),
        cmocka_unit_test(test_limits_eviction),
        cmocka_unit_test(test_limits_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
