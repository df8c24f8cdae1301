/*
 * Request metrics in the Prometheus text format. Every request updates them, so the write side
 * is a handful of relaxed atomic adds and no lock: hanzo_http_requests_total lives in a fixed
 * open-addressing table whose key packs (route id, method, status); a key is claimed with one
 * compare-and-swap the first time it is seen and never removed, so a reader walking the table
 * sees either an empty slot or a complete key. Labels use the route PATTERN (or "unmatched"),
 * never the raw path, so the number of series is bounded by routes x methods x statuses and a
 * client cannot blow up the table by probing random URLs. The duration histogram is a flat
 * array of per-bucket counters per route; rendering turns them cumulative.
 *
 * Process metrics come from /proc when /metrics is scraped, not on the request path.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http_internal.h"

#define TABLE_SLOTS 4096

/* Upper bounds in microseconds; LLM requests and streams run for minutes, health checks for
 * microseconds, so the buckets span both. */
static const int64_t bucket_us[HZ_METRICS_NBUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 60000000, 300000000,
};

static const char *const bucket_le[HZ_METRICS_NBUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "60", "300",
};

static double read_process_start(void);

void hz_metrics_init(hz_http_metrics_t *m, const hz_router_t *r) {
    double start = m->process_start_s;
    memset(m, 0, sizeof(*m));
    m->process_start_s = start;
    m->cap = TABLE_SLOTS;
    m->keys = hz_calloc(m->cap, sizeof(*m->keys));
    m->counts = hz_calloc(m->cap, sizeof(*m->counts));
    m->nroutes = r->nroutes;
    m->route_names = hz_calloc((size_t)r->nroutes + 1, sizeof(*m->route_names));
    for (int i = 0; i < r->nroutes; i++) m->route_names[i] = r->routes[i]->pattern;
    m->route_names[r->nroutes] = "unmatched";
    m->hist = hz_calloc(((size_t)r->nroutes + 1) * (HZ_METRICS_NBUCKETS + 1), sizeof(*m->hist));
    m->hist_sum_us = hz_calloc((size_t)r->nroutes + 1, sizeof(*m->hist_sum_us));
}

void hz_metrics_prepare(hz_http_metrics_t *m) {
    memset(m, 0, sizeof(*m));
    m->process_start_s = read_process_start();
}

void hz_metrics_free(hz_http_metrics_t *m) {
    hz_free((void *)m->keys);
    hz_free((void *)m->counts);
    hz_free(m->route_names);
    hz_free((void *)m->hist);
    hz_free((void *)m->hist_sum_us);
    double start = m->process_start_s;
    memset(m, 0, sizeof(*m));
    m->process_start_s = start;
}

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

void hz_metrics_record(hz_http_metrics_t *m, int route, int method_index, int status, int64_t dur_ns) {
    if (!m->keys) return;
    int r = route < 0 || route >= m->nroutes ? m->nroutes : route;
    if (status < 0 || status > 999) status = 0;
    uint64_t key = ((uint64_t)(r + 1) << 32) | ((uint64_t)method_index << 16) | (uint64_t)status;
    size_t mask = m->cap - 1, h = mix(key) & mask;
    bool counted = false;
    for (size_t probe = 0; probe < m->cap; probe++, h = (h + 1) & mask) {
        uint64_t k = atomic_load_explicit(&m->keys[h], memory_order_acquire);
        if (k == 0) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong_explicit(&m->keys[h], &expect, key, memory_order_acq_rel,
                                                        memory_order_acquire))
                k = key;
            else
                k = expect;  /* someone claimed it first, maybe for our key */
        }
        if (k == key) {
            atomic_fetch_add_explicit(&m->counts[h], 1, memory_order_relaxed);
            counted = true;
            break;
        }
    }
    if (!counted) atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed);

    int64_t us = dur_ns / 1000;
    int b = 0;
    while (b < HZ_METRICS_NBUCKETS && us > bucket_us[b]) b++;
    atomic_fetch_add_explicit(&m->hist[(size_t)r * (HZ_METRICS_NBUCKETS + 1) + (size_t)b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->hist_sum_us[r], (uint64_t)(us > 0 ? us : 0), memory_order_relaxed);
}

/* Label values are route patterns chosen by our own code, but escape them anyway: a stray
 * quote must not break the whole exposition. */
static void put_label(hz_buf_t *out, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') hz_buf_putc(out, '\\');
        if (*s == '\n') { hz_buf_puts(out, "\\n"); continue; }
        hz_buf_putc(out, *s);
    }
}

typedef struct { uint64_t key, count; } series_t;

static int series_cmp(const void *a, const void *b) {
    uint64_t x = ((const series_t *)a)->key, y = ((const series_t *)b)->key;
    return x < y ? -1 : x > y;
}

/* /proc/self/stat fields after the ")" that closes the command name (which may hold spaces). */
static bool read_stat(unsigned long *utime, unsigned long *stime, unsigned long long *start) {
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return false;
    /* state(3) ... utime(14) stime(15) ... starttime(22) */
    return sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu",
                  utime, stime, start) == 3;
}

static double read_process_start(void) {
    unsigned long ut, st;
    unsigned long long start;
    long tck = sysconf(_SC_CLK_TCK);
    if (!read_stat(&ut, &st, &start) || tck <= 0) return (double)hz_time_now_ms() / 1000.0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return (double)hz_time_now_ms() / 1000.0;
    char line[256];
    unsigned long long btime = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    if (!btime) return (double)hz_time_now_ms() / 1000.0;
    return (double)btime + (double)start / (double)tck;
}

static void render_process(hz_http_metrics_t *m, hz_buf_t *out) {
    long page = sysconf(_SC_PAGESIZE), tck = sysconf(_SC_CLK_TCK);
    unsigned long long vsz = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) != 2) vsz = rss = 0;
        fclose(f);
    }
    hz_buf_puts(out, "# HELP hanzo_process_resident_memory_bytes Resident memory size in bytes.\n"
                     "# TYPE hanzo_process_resident_memory_bytes gauge\n");
    hz_buf_printf(out, "hanzo_process_resident_memory_bytes %llu\n", rss * (unsigned long long)page);
    hz_buf_puts(out, "# HELP hanzo_process_virtual_memory_bytes Virtual memory size in bytes.\n"
                     "# TYPE hanzo_process_virtual_memory_bytes gauge\n");
    hz_buf_printf(out, "hanzo_process_virtual_memory_bytes %llu\n", vsz * (unsigned long long)page);

    unsigned long ut = 0, st = 0;
    unsigned long long start = 0;
    if (read_stat(&ut, &st, &start) && tck > 0) {
        hz_buf_puts(out, "# HELP hanzo_process_cpu_seconds_total Total user and system CPU time in seconds.\n"
                         "# TYPE hanzo_process_cpu_seconds_total counter\n");
        hz_buf_printf(out, "hanzo_process_cpu_seconds_total %.2f\n", (double)(ut + st) / (double)tck);
    }
    hz_buf_puts(out, "# HELP hanzo_process_start_time_seconds Start time of the process since the Unix epoch.\n"
                     "# TYPE hanzo_process_start_time_seconds gauge\n");
    hz_buf_printf(out, "hanzo_process_start_time_seconds %.3f\n", m->process_start_s);

    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        fds--;  /* the descriptor opendir itself holds */
        hz_buf_puts(out, "# HELP hanzo_process_open_fds Number of open file descriptors.\n"
                         "# TYPE hanzo_process_open_fds gauge\n");
        hz_buf_printf(out, "hanzo_process_open_fds %d\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        hz_buf_puts(out, "# HELP hanzo_process_max_fds Maximum number of open file descriptors.\n"
                         "# TYPE hanzo_process_max_fds gauge\n");
        hz_buf_printf(out, "hanzo_process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

void hz_metrics_render(hz_http_metrics_t *m, hz_buf_t *out) {
    if (!m->keys) {  /* not started: nothing counted yet */
        render_process(m, out);
        return;
    }
    series_t *s = hz_malloc(sizeof(*s) * m->cap);
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = atomic_load_explicit(&m->keys[i], memory_order_acquire);
        uint64_t c = k ? atomic_load_explicit(&m->counts[i], memory_order_relaxed) : 0;
        if (c) s[n++] = (series_t){k, c};
    }
    qsort(s, n, sizeof(*s), series_cmp);
    hz_buf_puts(out, "# HELP hanzo_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
                     "# TYPE hanzo_http_requests_total counter\n");
    for (size_t i = 0; i < n; i++) {
        int r = (int)(s[i].key >> 32) - 1;
        int method = (int)((s[i].key >> 16) & 0xffff), status = (int)(s[i].key & 0xffff);
        hz_buf_puts(out, "hanzo_http_requests_total{route=\"");
        put_label(out, m->route_names[r]);
        hz_buf_printf(out, "\",method=\"%s\",status=\"%d\"} %llu\n", hz_http_method_name(method), status,
                      (unsigned long long)s[i].count);
    }
    hz_free(s);

    hz_buf_puts(out, "# HELP hanzo_http_request_duration_seconds Time from request headers to the end of the reply.\n"
                     "# TYPE hanzo_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= m->nroutes; r++) {
        _Atomic uint64_t *h = &m->hist[(size_t)r * (HZ_METRICS_NBUCKETS + 1)];
        uint64_t counts[HZ_METRICS_NBUCKETS + 1], total = 0;
        for (int b = 0; b <= HZ_METRICS_NBUCKETS; b++) {
            counts[b] = atomic_load_explicit(&h[b], memory_order_relaxed);
            total += counts[b];
        }
        if (!total) continue;
        uint64_t cum = 0;
        for (int b = 0; b <= HZ_METRICS_NBUCKETS; b++) {
            cum += counts[b];
            hz_buf_puts(out, "hanzo_http_request_duration_seconds_bucket{route=\"");
            put_label(out, m->route_names[r]);
            hz_buf_printf(out, "\",le=\"%s\"} %llu\n", b < HZ_METRICS_NBUCKETS ? bucket_le[b] : "+Inf",
                          (unsigned long long)cum);
        }
        hz_buf_puts(out, "hanzo_http_request_duration_seconds_sum{route=\"");
        put_label(out, m->route_names[r]);
        hz_buf_printf(out, "\"} %.6f\n", (double)atomic_load_explicit(&m->hist_sum_us[r], memory_order_relaxed) / 1e6);
        hz_buf_puts(out, "hanzo_http_request_duration_seconds_count{route=\"");
        put_label(out, m->route_names[r]);
        hz_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
    }

    hz_buf_puts(out, "# HELP hanzo_http_requests_in_flight Requests being handled, open streams included.\n"
                     "# TYPE hanzo_http_requests_in_flight gauge\n");
    hz_buf_printf(out, "hanzo_http_requests_in_flight %lld\n",
                  (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    hz_buf_puts(out, "# HELP hanzo_http_streams_open Open server-sent event streams and WebSockets.\n"
                     "# TYPE hanzo_http_streams_open gauge\n");
    hz_buf_printf(out, "hanzo_http_streams_open{kind=\"sse\"} %lld\n",
                  (long long)atomic_load_explicit(&m->sse_open, memory_order_relaxed));
    hz_buf_printf(out, "hanzo_http_streams_open{kind=\"websocket\"} %lld\n",
                  (long long)atomic_load_explicit(&m->ws_open, memory_order_relaxed));
    uint64_t dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
    if (dropped) {
        hz_buf_puts(out, "# HELP hanzo_http_metrics_dropped_total Request counts lost to a full series table.\n"
                         "# TYPE hanzo_http_metrics_dropped_total counter\n");
        hz_buf_printf(out, "hanzo_http_metrics_dropped_total %llu\n", (unsigned long long)dropped);
    }
    render_process(m, out);
}
