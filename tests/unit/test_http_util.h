/*
 * Shared helpers for the HTTP server tests: start a real server on 127.0.0.1 port 0 and talk
 * to it with libcurl, so every test sees exactly what a real client sees on the wire
 * (status, headers, body, connection reuse).
 */
#ifndef TEST_HTTP_UTIL_H
#define TEST_HTTP_UTIL_H

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "hanzo/http.h"

typedef struct {
    long status;
    hz_buf_t body;
    hz_buf_t headers;   /* header lines of the final response */
    long connects;      /* new connections this transfer opened */
    CURLcode rc;
} resp_t;

static size_t tu_on_body(char *p, size_t size, size_t n, void *ud) {
    hz_buf_append(ud, p, size * n);
    return size * n;
}

static size_t tu_on_header(char *p, size_t size, size_t n, void *ud) {
    hz_buf_t *h = ud;
    if (size * n >= 5 && strncmp(p, "HTTP/", 5) == 0) hz_buf_reset(h);  /* 100 Continue, then the real one */
    hz_buf_append(h, p, size * n);
    return size * n;
}

static inline void resp_free(resp_t *r) {
    hz_buf_free(&r->body);
    hz_buf_free(&r->headers);
    memset(r, 0, sizeof(*r));
}

/* Value of a response header (first occurrence), copied into out; NULL when absent. */
static inline const char *resp_header(const resp_t *r, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *line = r->headers.data; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end) end = line + strlen(line);
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(end - v);
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        line = *end ? end + 2 : end;
    }
    return NULL;
}

/* One request on handle c (reused handles keep their connections). hdrs is NULL-terminated. */
static inline void tu_request(CURL *c, int port, const char *method, const char *path, const char *const *hdrs,
                              const char *body, long body_len, resp_t *r) {
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(r, 0, sizeof(*r));
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tu_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len);
    }
    struct curl_slist *list = NULL;
    for (int i = 0; hdrs && hdrs[i]; i++) list = curl_slist_append(list, hdrs[i]);
    if (list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_slist_free_all(list);
    if (!r->body.data) hz_buf_reserve(&r->body, 1);
}

static inline void tu_get(int port, const char *path, const char *const *hdrs, resp_t *r) {
    CURL *c = curl_easy_init();
    tu_request(c, port, "GET", path, hdrs, NULL, 0, r);
    curl_easy_cleanup(c);
}

#endif
