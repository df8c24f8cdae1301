/*
 * The transport: one upstream HTTP request, blocking the calling thread, with libcurl.
 *
 * Latency is the point of a gateway, so a call must not pay for DNS, TCP and TLS set-up each
 * time. Each thread keeps one curl multi handle (which owns the connection cache, DNS cache and
 * TLS sessions) and one easy handle reset between calls; the API's worker threads live long, so
 * every worker talks to an upstream over warm keep-alive connections without any lock between
 * threads. The handles are freed when the thread exits. A call made while the thread's handles
 * are busy (a stream callback that itself calls the gateway) gets fresh ones.
 *
 * Driving the multi handle ourselves, rather than curl_easy_perform, is what makes the timers
 * exact: the loop wakes on socket activity or every 50 ms at the latest, and checks the cancel
 * flag, the first-byte deadline (no response headers yet) and the idle deadline (no body bytes
 * for idle_timeout_ms) with timestamps the header and write callbacks keep. The connect timeout
 * is curl's own (the only curl timer set, so a curl timeout always means the connect phase).
 * Request bodies are handed to curl by pointer, never copied; 2xx streamed bodies go to the
 * parse callback as they arrive; other bodies are collected, error bodies capped at 1 MiB.
 *
 * Errors never quote the URL (Gemini-style keys can live in a query string) or a header.
 */
#include "gw_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_BODY_MAX ((size_t)1 << 20)
#define OK_BODY_MAX ((size_t)64 << 20)
#define POLL_MS 50

typedef struct thread_curl {
    CURLM *multi;
    CURL *easy;
    bool busy;
} thread_curl_t;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;

static void thread_curl_free(void *v) {
    thread_curl_t *tc = v;
    if (!tc) return;
    curl_easy_cleanup(tc->easy);
    curl_multi_cleanup(tc->multi);
    hz_free(tc);
}

static void transport_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&g_key, thread_curl_free);
}

static thread_curl_t *thread_curl_new(void) {
    thread_curl_t *tc = hz_calloc(1, sizeof(*tc));
    tc->multi = curl_multi_init();
    tc->easy = curl_easy_init();
    if (!tc->multi || !tc->easy) {
        thread_curl_free(tc);
        return NULL;
    }
    curl_multi_setopt(tc->multi, CURLMOPT_MAXCONNECTS, 32L);
    return tc;
}

/* The calling thread's handles, marked busy; *temp when they had to be made for this call. */
static thread_curl_t *thread_curl_acquire(bool *temp) {
    pthread_once(&g_once, transport_init);
    thread_curl_t *tc = pthread_getspecific(g_key);
    *temp = false;
    if (tc && tc->busy) {
        *temp = true;
        tc = thread_curl_new();
    } else if (!tc) {
        tc = thread_curl_new();
        if (tc && pthread_setspecific(g_key, tc) != 0) {
            thread_curl_free(tc);
            tc = NULL;
        }
    }
    if (tc) tc->busy = true;
    return tc;
}

typedef enum { ABORT_NONE = 0, ABORT_CANCEL, ABORT_FIRST_BYTE, ABORT_IDLE } abort_t;

typedef struct xfer {
    gw_transport_result_t *res;
    gw_body_fn parse;
    void *ud;
    int64_t start_ns;
    int64_t last_data_ns;       /* headers end, then each body write */
    bool headers_done;          /* the final (non-1xx) response's headers are complete */
    int status;
    int parse_rc;               /* non-zero: the parse callback stopped the transfer */
    bool capped;                /* the body hit its size cap */
    bool ra_ms_seen;            /* a retry-after-ms header set retry_after_ms */
} xfer_t;

/* Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); -1 when unreadable. */
static int64_t parse_retry_after(const char *v) {
    bool digits = *v != '\0';
    for (const char *c = v; *c; c++) digits &= *c >= '0' && *c <= '9';
    if (digits) {
        long long s = strtoll(v, NULL, 10);
        return s > 86400 ? 86400000 : (int64_t)s * 1000;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1) return -1;
    int64_t delta = (int64_t)when * 1000 - hz_time_now_ms();
    return delta < 0 ? 0 : delta;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 1xx, or the only one): start over */
        const char *sp = memchr(buf, ' ', n);
        x->status = sp ? atoi(sp + 1) : 0;
        x->res->retry_after_ms = -1;
        x->ra_ms_seen = false;
        return n;
    }
    if ((n == 2 && buf[0] == '\r') || (n == 1 && buf[0] == '\n')) {
        if (x->status >= 200) {
            x->headers_done = true;
            x->last_data_ns = hz_time_mono_ns();
            x->res->status = x->status;
            x->res->ttfb_ms = (double)(x->last_data_ns - x->start_ns) / 1e6;
        }
        return n;
    }
    static const char ra[] = "retry-after:", ram[] = "retry-after-ms:";
    bool is_ms = n > sizeof ram - 1 && strncasecmp(buf, ram, sizeof ram - 1) == 0;
    bool is_s = !is_ms && n > sizeof ra - 1 && strncasecmp(buf, ra, sizeof ra - 1) == 0;
    if (is_ms || is_s) {
        size_t skip = is_ms ? sizeof ram - 1 : sizeof ra - 1;
        char v[96];
        size_t vl = n - skip < sizeof v - 1 ? n - skip : sizeof v - 1;
        memcpy(v, buf + skip, vl);
        v[vl] = '\0';
        hz_str_trim(v);
        if (is_ms) {
            /* OpenAI's retry-after-ms is the more precise of the two: it wins */
            char *end = NULL;
            double d = strtod(v, &end);
            if (end != v && d >= 0 && d < 86400000.0) {
                x->res->retry_after_ms = (int64_t)d;
                x->ra_ms_seen = true;
            }
        } else if (!x->ra_ms_seen) {
            x->res->retry_after_ms = parse_retry_after(v);
        }
    }
    return n;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nmemb;
    x->last_data_ns = hz_time_mono_ns();
    bool ok = x->status >= 200 && x->status <= 299;
    if (ok && x->parse) {
        int rc = x->parse(x->ud, buf, n);
        if (rc) {
            x->parse_rc = rc;
            return 0;   /* any other count aborts the transfer */
        }
        return n;
    }
    size_t cap = ok ? OK_BODY_MAX : ERROR_BODY_MAX;
    hz_buf_t *b = &x->res->body;
    if (b->len + n > cap) {
        hz_buf_append(b, buf, cap - b->len);
        x->capped = true;
        return 0;
    }
    hz_buf_append(b, buf, n);
    return n;
}

static int curl_error(const gw_provider_t *p, CURLcode cc, const char *detail, bool got_headers,
                      hz_gw_error_t *err) {
    const char *what = detail && *detail ? detail : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return hz_gw_error_set(err, 504, "timeout", "upstream_timeout", NULL,
                               "provider %s: could not connect within %d ms (connect timeout)", p->id,
                               p->connect_timeout_ms);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
        hz_gw_error_set(err, 502, "upstream_error", "upstream_unavailable", NULL, "provider %s: %s%s", p->id,
                        got_headers ? "connection failed mid-response: " : "", what);
        err->retryable = true;
        return HZ_EIO;
    default:
        hz_gw_error_set(err, 502, "upstream_error", "upstream_error", NULL, "provider %s: %s", p->id, what);
        err->retryable = false;
        return HZ_EIO;
    }
}

static void set_options(CURL *h, const gw_provider_t *p, const gw_http_req_t *req, struct curl_slist *hdrs,
                        xfer_t *x, char *errbuf) {
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hanzo-node/" HZ_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        /* by pointer: curl reads req->body in place for the life of the transfer */
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body.data ? req->body.data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
        if (strcmp(req->method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
}

int gw_transport_send(const gw_provider_t *p, const gw_http_req_t *req, gw_body_fn parse, void *ud,
                      atomic_bool *cancel, gw_transport_result_t *res, hz_gw_error_t *err) {
    memset(res, 0, sizeof *res);
    hz_buf_init(&res->body);
    res->retry_after_ms = -1;
    if (!p || !req || !req->url || !req->method)
        return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "transport: incomplete request");

    bool temp = false;
    thread_curl_t *tc = thread_curl_acquire(&temp);
    if (!tc) return hz_gw_error_set(err, 500, "api_error", NULL, NULL, "transport: libcurl could not start");
    CURL *h = tc->easy;
    curl_easy_reset(h);

    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < req->n_headers; i++) hdrs = curl_slist_append(hdrs, req->headers[i]);
    /* no "Expect: 100-continue" round trip before large bodies */
    hdrs = curl_slist_append(hdrs, "Expect:");

    xfer_t x = {.res = res, .parse = parse, .ud = ud, .start_ns = hz_time_mono_ns()};
    char errbuf[CURL_ERROR_SIZE] = "";
    set_options(h, p, req, hdrs, &x, errbuf);
    curl_multi_add_handle(tc->multi, h);

    const int64_t fb_ns = (int64_t)p->first_byte_timeout_ms * 1000000;
    const int64_t idle_ns = (int64_t)p->idle_timeout_ms * 1000000;
    abort_t why = ABORT_NONE;
    CURLcode cc = CURLE_OK;
    bool finished = false;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(tc->multi, &running);
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(tc->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == h) {
                cc = m->data.result;
                finished = true;
            }
        }
        if (finished) break;
        if (mc != CURLM_OK) {
            cc = CURLE_RECV_ERROR;
            snprintf(errbuf, sizeof errbuf, "%s", curl_multi_strerror(mc));
            break;
        }
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) {
            why = ABORT_CANCEL;
            break;
        }
        int64_t now = hz_time_mono_ns(), deadline;
        if (!x.headers_done)
            deadline = x.start_ns + fb_ns;
        else
            deadline = x.last_data_ns + idle_ns;
        if (now >= deadline) {
            why = x.headers_done ? ABORT_IDLE : ABORT_FIRST_BYTE;
            break;
        }
        int64_t wait = (deadline - now + 999999) / 1000000;
        if (wait > POLL_MS) wait = POLL_MS;
        curl_multi_poll(tc->multi, NULL, 0, (int)wait, NULL);
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    /* removing an unfinished transfer closes its connection, so no half-read response is reused */
    curl_multi_remove_handle(tc->multi, h);
    curl_slist_free_all(hdrs);
    if (temp)
        thread_curl_free(tc);
    else
        tc->busy = false;
    if (res->status == 0 && x.headers_done) res->status = (int)code;

    if (why == ABORT_CANCEL) {
        hz_gw_error_set(err, 499, "api_error", "cancelled", NULL, "the request was cancelled");
        err->retryable = false;
        return HZ_ECLOSED;
    }
    if (why == ABORT_FIRST_BYTE)
        return hz_gw_error_set(err, 504, "timeout", "upstream_timeout", NULL,
                               "provider %s: no response within %d ms (first byte timeout)", p->id,
                               p->first_byte_timeout_ms);
    if (why == ABORT_IDLE)
        return hz_gw_error_set(err, 504, "timeout", "upstream_timeout", NULL,
                               "provider %s: the response stalled for %d ms (idle timeout)", p->id,
                               p->idle_timeout_ms);
    if (cc == CURLE_WRITE_ERROR && x.parse_rc) return x.parse_rc;
    if (cc == CURLE_WRITE_ERROR && x.capped) {
        if (res->status >= 200 && res->status <= 299) {
            hz_gw_error_set(err, 502, "upstream_error", "bad_upstream_response", NULL,
                            "provider %s: response larger than %zu bytes", p->id, OK_BODY_MAX);
            err->retryable = false;
            return HZ_ETOOBIG;
        }
        return 0;   /* an error body, kept truncated */
    }
    if (cc != CURLE_OK) return curl_error(p, cc, errbuf, x.headers_done, err);
    if (!x.headers_done) {
        hz_gw_error_set(err, 502, "upstream_error", "upstream_unavailable", NULL,
                        "provider %s: the connection closed without a response", p->id);
        err->retryable = true;
        return HZ_EIO;
    }
    return 0;
}

void gw_transport_result_free(gw_transport_result_t *res) {
    if (!res) return;
    hz_buf_free(&res->body);
}
