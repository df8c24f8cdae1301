/*
 * Unit tests for large payloads through the HTTP server, with a real server on port 0 and
 * libcurl clients: bodies of HZ_ROUTE_BODY_TO_FILE routes streamed to a file (100 MiB with flat
 * memory, the 413s by Content-Length and by a chunked body, a failing write, the file deleted
 * unless the handler takes it), hz_http_respond_fd (whole files past the old 64 MiB cap, and
 * offset/length slices), and hz_http_defer_work (answers from the worker threads; shutdown
 * waiting for work that notices it was abandoned).
 *
 * Client data is generated on the fly from its position, and the server side checksums what it
 * got, so neither side holds a large buffer and the RSS check means something.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_http_util.h"

#define MiB ((uint64_t)1 << 20)

static uint8_t byte_at(uint64_t i) { return (uint8_t)((i * 2654435761u) >> 13 ^ (i >> 20)); }

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static uint64_t expected_sum(uint64_t from, uint64_t len) {
    uint8_t buf[65536];
    uint64_t h = FNV0;
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        for (size_t i = 0; i < n; i++) buf[i] = byte_at(from + done + i);
        h = fnv(h, buf, n);
        done += n;
    }
    return h;
}

static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* The file goes when the request completes, which libmicrohttpd reports just after the last
 * byte of the reply went out: the client may be a moment ahead of it. */
static int settle_files(const char *dir, int want) {
    int n = count_files(dir);
    for (int i = 0; i < 400 && n != want; i++) {
        hz_sleep_ms(5);
        n = count_files(dir);
    }
    return n;
}

/* ---- the server ------------------------------------------------------------------------------ */

typedef struct {
    char dir[128];                /* upload_dir */
    char last_path[256];          /* the body file the last upload handler saw */
    uint64_t last_len;
    char big[256];                /* a file for hz_http_respond_fd */
    atomic_bool work_started;
} fx_t;

/* POST /up: answer {"len":N,"sum":"hex"} computed from the body file. ?keep=NAME takes the file
 * and renames it to <dir>/NAME. */
static void h_upload(hz_http_req_t *req, void *ctx) {
    fx_t *fx = ctx;
    uint64_t len;
    const char *path = hz_http_req_body_file(req, &len);
    if (!path) {
        hz_http_respond_error(req, 500, "server_error", NULL, "no body file");
        return;
    }
    snprintf(fx->last_path, sizeof(fx->last_path), "%s", path);
    fx->last_len = len;
    struct stat st;
    if (stat(path, &st) != 0 || (uint64_t)st.st_size != len || (st.st_mode & 0777) != 0600) {
        hz_http_respond_error(req, 500, "server_error", NULL, "body file disagrees (size or mode)");
        return;
    }
    int fd = open(path, O_RDONLY);
    uint8_t buf[65536];
    uint64_t h = FNV0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) h = fnv(h, buf, (size_t)n);
    close(fd);
    const char *keep = hz_http_req_query(req, "keep");
    if (keep) {
        char *own = hz_http_req_take_body_file(req);
        assert_non_null(own);
        assert_null(hz_http_req_take_body_file(req));
        assert_null(hz_http_req_body_file(req, NULL));
        char dest[256];
        snprintf(dest, sizeof(dest), "%s/%s", fx->dir, keep);
        assert_int_equal(rename(own, dest), 0);
        hz_free(own);
    }
    char out[128];
    int m = snprintf(out, sizeof(out), "{\"len\":%llu,\"sum\":\"%016llx\"}", (unsigned long long)len,
                     (unsigned long long)h);
    hz_http_respond(req, 200, "application/json", out, (size_t)m);
}

/* GET /file?off=A&len=B (both optional): the slice of fx->big. */
static void h_file(hz_http_req_t *req, void *ctx) {
    fx_t *fx = ctx;
    int fd = open(fx->big, O_RDONLY | O_CLOEXEC);
    struct stat st;
    assert_true(fd >= 0 && fstat(fd, &st) == 0);
    const char *o = hz_http_req_query(req, "off"), *l = hz_http_req_query(req, "len");
    uint64_t off = o ? strtoull(o, NULL, 10) : 0;
    uint64_t len = l ? strtoull(l, NULL, 10) : (uint64_t)st.st_size - off;
    hz_http_respond_fd(req, o || l ? 206 : 200, "application/octet-stream", fd, off, len);
}

/* GET /deferfile: the whole file, answered from a worker thread. */
static void work_file(hz_http_req_t *req, void *arg) {
    fx_t *fx = arg;
    int fd = open(fx->big, O_RDONLY | O_CLOEXEC);
    struct stat st;
    assert_true(fd >= 0 && fstat(fd, &st) == 0);
    hz_http_respond_fd(req, 200, "application/octet-stream", fd, 0, (uint64_t)st.st_size);
}

static void h_deferfile(hz_http_req_t *req, void *ctx) { assert_int_equal(hz_http_defer_work(req, work_file, ctx), 0); }

/* GET /slow: work that runs until the server gives up on it. */
static void work_slow(hz_http_req_t *req, void *arg) {
    fx_t *fx = arg;
    atomic_store(&fx->work_started, true);
    for (int i = 0; i < 2000 && !hz_http_req_abandoned(req); i++) hz_sleep_ms(5);
    hz_http_respond(req, 200, "text/plain", "late", 4);  /* dropped: shutdown answered 503 */
}

static void h_slow(hz_http_req_t *req, void *ctx) { assert_int_equal(hz_http_defer_work(req, work_slow, ctx), 0); }

static hz_http_server_t *start(fx_t *fx, uint64_t max_upload) {
    hz_http_options_t o = {.port = 0, .threads = 2, .upload_dir = fx->dir, .max_upload_bytes = max_upload};
    hz_http_server_t *srv;
    assert_int_equal(hz_http_server_new(&o, &srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_POST, "/up", HZ_ROUTE_BODY_TO_FILE, h_upload, fx), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/file", 0, h_file, fx), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/deferfile", 0, h_deferfile, fx), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_GET, "/slow", 0, h_slow, fx), 0);
    assert_int_equal(hz_http_server_start(srv), 0);
    return srv;
}

static void fx_init(fx_t *fx) {
    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hz-upload-test-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
}

static void fx_free(fx_t *fx) {
    DIR *d = opendir(fx->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(fx->dir);
}

/* ---- a streaming client ---------------------------------------------------------------------- */

typedef struct {
    uint64_t pos, total;
} gen_t;

static size_t gen_read(char *p, size_t size, size_t n, void *ud) {
    gen_t *g = ud;
    size_t k = size * n;
    if (k > g->total - g->pos) k = (size_t)(g->total - g->pos);
    for (size_t i = 0; i < k; i++) p[i] = (char)byte_at(g->pos + i);
    g->pos += k;
    return k;
}

/* POST total generated bytes to path; chunked sends Transfer-Encoding: chunked (no length). */
static void post_stream(int port, const char *path, uint64_t total, bool chunked, resp_t *r) {
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(r, 0, sizeof(*r));
    gen_t g = {0, total};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, gen_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tu_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    struct curl_slist *h = NULL;
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    else
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r->body.data) hz_buf_reserve(&r->body, 1);
}

/* A download checked against the file as it arrives: nothing is kept. */
typedef struct {
    int fd;
    uint64_t off, got;
    uint64_t mismatches;
} cmp_t;

static size_t cmp_write(char *p, size_t size, size_t n, void *ud) {
    cmp_t *c = ud;
    size_t k = size * n;
    char buf[65536];
    for (size_t done = 0; done < k;) {
        size_t m = k - done < sizeof(buf) ? k - done : sizeof(buf);
        ssize_t r = pread(c->fd, buf, m, (off_t)(c->off + c->got + done));
        if (r != (ssize_t)m || memcmp(buf, p + done, m) != 0) c->mismatches++;
        done += m;
    }
    c->got += k;
    return k;
}

static long get_compare(int port, const char *path, const char *file, uint64_t off, cmp_t *c, char *crange,
                        size_t crange_len) {
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(c, 0, sizeof(*c));
    c->fd = open(file, O_RDONLY);
    c->off = off;
    resp_t r = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cmp_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, tu_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    close(c->fd);
    if (crange && !resp_header(&r, "Content-Length", crange, crange_len)) crange[0] = '\0';
    resp_free(&r);
    return rc == CURLE_OK ? status : -1;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_upload_100mib_flat_memory(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    hz_http_server_t *srv = start(&fx, 0);
    int port = hz_http_server_port(srv);
    resp_t r;
    post_stream(port, "/up", 1 * MiB, false, &r);  /* warm up: threads, pools, curl */
    assert_int_equal(r.status, 200);
    resp_free(&r);

    uint64_t total = 100 * MiB, before = rss_bytes();
    post_stream(port, "/up", total, false, &r);
    uint64_t growth = rss_bytes() - before;
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    char want[128];
    snprintf(want, sizeof(want), "{\"len\":%llu,\"sum\":\"%016llx\"}", (unsigned long long)total,
             (unsigned long long)expected_sum(0, total));
    assert_string_equal(r.body.data, want);
    if (growth >= 16 * MiB) fail_msg("RSS grew by %llu bytes during a 100 MiB upload", (unsigned long long)growth);
    resp_free(&r);
    /* not taken: deleted once the request completed */
    struct stat st;
    assert_int_equal(fx.last_len, total);
    assert_int_equal(settle_files(fx.dir, 0), 0);
    assert_int_not_equal(stat(fx.last_path, &st), 0);

    /* a chunked body arrives the same way */
    post_stream(port, "/up", 3 * MiB + 17, true, &r);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof(want), "{\"len\":%llu,\"sum\":\"%016llx\"}", (unsigned long long)(3 * MiB + 17),
             (unsigned long long)expected_sum(0, 3 * MiB + 17));
    assert_string_equal(r.body.data, want);
    resp_free(&r);

    /* an empty body is an empty file */
    CURL *c = curl_easy_init();
    tu_request(c, port, "POST", "/up", NULL, "", 0, &r);
    curl_easy_cleanup(c);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"len\":0,"));
    resp_free(&r);
    assert_int_equal(settle_files(fx.dir, 0), 0);
    hz_http_server_free(srv);
    fx_free(&fx);
}

static void test_upload_taken_file_is_kept(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    hz_http_server_t *srv = start(&fx, 0);
    resp_t r;
    post_stream(hz_http_server_port(srv), "/up?keep=kept.bin", 5 * MiB + 3, false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    char kept[256];
    snprintf(kept, sizeof(kept), "%s/kept.bin", fx.dir);
    struct stat st;
    assert_int_equal(stat(kept, &st), 0);
    assert_int_equal((uint64_t)st.st_size, 5 * MiB + 3);
    assert_int_equal(settle_files(fx.dir, 1), 1);  /* the kept file and nothing else */
    hz_http_server_free(srv);
    fx_free(&fx);
}

static void test_upload_too_large(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    hz_http_server_t *srv = start(&fx, 2 * MiB);
    int port = hz_http_server_port(srv);
    resp_t r;
    /* by Content-Length: answered before the body is sent */
    post_stream(port, "/up", 2 * MiB + 1, false, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body.data, "request body of 2097153 bytes exceeds the limit of 2097152 bytes"));
    resp_free(&r);
    /* chunked: found out while streaming, answered at the end */
    post_stream(port, "/up", 3 * MiB, true, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body.data, "\"code\":\"request_too_large\""));
    resp_free(&r);
    /* exactly the limit passes */
    post_stream(port, "/up", 2 * MiB, true, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(settle_files(fx.dir, 0), 0);
    hz_http_server_free(srv);
    fx_free(&fx);
}

static void test_upload_write_failure(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    hz_http_server_t *srv = start(&fx, 0);
    /* A file size limit makes the server's writes fail with EFBIG past 1 MiB, as a full disk
     * would with ENOSPC (507); the partial file must go and the client must hear why. */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = MiB;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    resp_t r;
    post_stream(hz_http_server_port(srv), "/up", 4 * MiB, false, &r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body.data, "\"code\":\"upload_failed\""));
    assert_non_null(strstr(r.body.data, "writing the file in its upload folder failed after 1048576 bytes"));
    resp_free(&r);
    assert_int_equal(settle_files(fx.dir, 0), 0);
    hz_http_server_free(srv);
    fx_free(&fx);
}

static void test_upload_dir_checked_at_start(void **state) {
    (void)state;
    hz_http_options_t o = {.port = 0, .upload_dir = "/nonexistent/hz-upload"};
    hz_http_server_t *srv;
    fx_t fx = {0};
    assert_int_equal(hz_http_server_new(&o, &srv), 0);
    assert_int_equal(hz_http_route(srv, HZ_HTTP_POST, "/up", HZ_ROUTE_BODY_TO_FILE, h_upload, &fx), 0);
    assert_int_equal(hz_http_server_start(srv), HZ_EIO);
    assert_non_null(strstr(hz_error_last(), "/nonexistent/hz-upload"));
    hz_http_server_free(srv);
}

/* A sparse 80 MiB file (past the old 64 MiB response cap) with data written at a few places. */
static void make_big(fx_t *fx) {
    snprintf(fx->big, sizeof(fx->big), "%s/big.bin", fx->dir);
    int fd = open(fx->big, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(80 * MiB)), 0);
    uint8_t buf[4096];
    uint64_t at[] = {0, 33 * MiB - 100, 64 * MiB - 2048, 70 * MiB + 5, 80 * MiB - sizeof(buf)};
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        for (size_t i = 0; i < sizeof(buf); i++) buf[i] = byte_at(at[k] + i);
        assert_int_equal(pwrite(fd, buf, sizeof(buf), (off_t)at[k]), (ssize_t)sizeof(buf));
    }
    close(fd);
}

static void test_respond_fd(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    make_big(&fx);
    hz_http_server_t *srv = start(&fx, 0);
    int port = hz_http_server_port(srv);
    cmp_t c;
    char clen[64];
    uint64_t before = rss_bytes();
    assert_int_equal(get_compare(port, "/file", fx.big, 0, &c, clen, sizeof(clen)), 200);
    assert_int_equal(c.got, 80 * MiB);
    assert_int_equal(c.mismatches, 0);
    assert_string_equal(clen, "83886080");
    uint64_t growth = rss_bytes() - before;
    if (growth >= 16 * MiB) fail_msg("RSS grew by %llu bytes serving 80 MiB", (unsigned long long)growth);

    /* a slice across a written region, past 64 MiB */
    char path[128];
    uint64_t off = 64 * MiB - 3000, len = 6 * MiB + 4096;
    snprintf(path, sizeof(path), "/file?off=%llu&len=%llu", (unsigned long long)off, (unsigned long long)len);
    assert_int_equal(get_compare(port, path, fx.big, off, &c, clen, sizeof(clen)), 206);
    assert_int_equal(c.got, len);
    assert_int_equal(c.mismatches, 0);
    /* the last byte alone, and an empty slice */
    snprintf(path, sizeof(path), "/file?off=%llu&len=1", (unsigned long long)(80 * MiB - 1));
    assert_int_equal(get_compare(port, path, fx.big, 80 * MiB - 1, &c, NULL, 0), 206);
    assert_int_equal(c.got, 1);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(get_compare(port, "/file?off=5&len=0", fx.big, 5, &c, clen, sizeof(clen)), 206);
    assert_int_equal(c.got, 0);
    assert_string_equal(clen, "0");

    /* from a worker thread, after hz_http_defer */
    assert_int_equal(get_compare(port, "/deferfile", fx.big, 0, &c, NULL, 0), 200);
    assert_int_equal(c.got, 80 * MiB);
    assert_int_equal(c.mismatches, 0);
    hz_http_server_free(srv);
    fx_free(&fx);
}

typedef struct {
    int port;
    long status;
} slow_client_t;

static void *slow_client(void *arg) {
    slow_client_t *sc = arg;
    resp_t r;
    tu_get(sc->port, "/slow", NULL, &r);
    sc->status = r.status;
    resp_free(&r);
    return NULL;
}

static void test_work_abandoned_at_shutdown(void **state) {
    (void)state;
    fx_t fx;
    fx_init(&fx);
    hz_http_server_t *srv = start(&fx, 0);
    int port = hz_http_server_port(srv);
    /* the request runs on a client thread while this one shuts the server down */
    slow_client_t sc = {.port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_client, &sc), 0);
    for (int i = 0; i < 2000 && !atomic_load(&fx.work_started); i++) hz_sleep_ms(5);
    assert_true(atomic_load(&fx.work_started));
    int64_t t0 = hz_time_mono_ns();
    hz_http_server_shutdown(srv, 100);
    int64_t ms = (hz_time_mono_ns() - t0) / 1000000;
    assert_true(ms < 3000);  /* the work saw it was abandoned instead of running its 10 s */
    pthread_join(t, NULL);
    assert_int_equal(sc.status, 503);
    hz_http_server_free(srv);
    fx_free(&fx);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hz_log_configure(getenv("HZ_TEST_LOG") ? getenv("HZ_TEST_LOG") : "error", HZ_LOG_TEXT, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_100mib_flat_memory),
        cmocka_unit_test(test_upload_taken_file_is_kept),
        cmocka_unit_test(test_upload_too_large),
        cmocka_unit_test(test_upload_write_failure),
        cmocka_unit_test(test_upload_dir_checked_at_start),
        cmocka_unit_test(test_respond_fd),
        cmocka_unit_test(test_work_abandoned_at_shutdown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
