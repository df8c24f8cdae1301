/*
 * gw_http_req_t: the description of one upstream HTTP request that a wire builds and the
 * transport sends. Keeping it a plain value (method, URL, header lines, body bytes) keeps the
 * wires free of libcurl and makes their output easy to check in unit tests. Header lines are
 * the one place where text from a config (an API key) meets the protocol framing, so CR and LF
 * are replaced here as a last line of defence behind hz_gw_provider_config_check.
 */
#include "gateway/gw_internal.h"

#include <string.h>

void gw_http_req_init(gw_http_req_t *r, const char *method, const char *url_fmt, ...) {
    memset(r, 0, sizeof *r);
    r->method = method;
    va_list ap;
    va_start(ap, url_fmt);
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_vprintf(&b, url_fmt, ap);
    va_end(ap);
    r->url = hz_buf_detach(&b, NULL);
    hz_buf_init(&r->body);
}

void gw_http_req_header(gw_http_req_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *line = hz_buf_detach(&b, NULL);
    for (char *c = line; *c; c++) {
        if (*c == '\r' || *c == '\n') *c = ' ';
    }
    r->headers = hz_realloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    r->headers[r->n_headers++] = line;
}

void gw_http_req_json(gw_http_req_t *r, json_object *obj) {
    size_t n = 0;
    const char *s = hz_json_dump(obj, &n);
    hz_buf_reset(&r->body);
    hz_buf_append(&r->body, s, n);
    gw_http_req_header(r, "Content-Type: application/json");
}

void gw_http_req_free(gw_http_req_t *r) {
    if (!r) return;
    hz_free(r->url);
    for (size_t i = 0; i < r->n_headers; i++) {
        /* Header lines may carry an API key. */
        size_t n = strlen(r->headers[i]);
        explicit_bzero(r->headers[i], n);
        hz_free(r->headers[i]);
    }
    hz_free(r->headers);
    hz_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}
