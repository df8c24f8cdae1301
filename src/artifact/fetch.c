/*
 * Moving archives between machines: hz_ai_fetch (download with fallback and resume) and
 * hz_ai_push (upload), over libcurl's easy interface.
 *
 * A download goes to <dest>.part, with <dest>.part.src naming the URL it came from. When a
 * transfer is cut off, the bytes that arrived stay, and the next attempt at the same URL asks
 * for the rest with "Range: bytes=N-"; it appends only on a 206 whose Content-Range starts at N,
 * starts over on a 200 (a server that ignores Range), and treats a 416 whose total is N as done.
 * A URL different from the one recorded starts from zero: two mirrors need not hold the same
 * bytes for the same content. Each location gets a few attempts while it keeps making progress.
 *
 * Nothing that arrives is trusted: the finished part file is verified in full (structure, every
 * hash, signatures, the caller's trust list), its content hash must be the one asked for, and a
 * file from an IPFS gateway must also hash to its CID. Only then is it renamed to dest. A
 * location that fails in any way is followed by the next; the final error lists every attempt.
 */
#include "artifact/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ATTEMPTS 4

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    int fd;
    uint64_t offset;     /* bytes in the part file before this request */
    uint64_t received;   /* body bytes written by this request */
    long status;
    bool has_range;
    uint64_t range_start, range_total;
    bool started;        /* the body began: status handled */
    bool discard;        /* an error page: read and drop */
    uint64_t max_bytes;
    int err;             /* an error we raised inside a callback */
    const hz_ai_read_opts_t *ro;
} dl_t;

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    dl_t *d = ud;
    size_t len = size * n;
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (after a redirect or a 100) */
        const char *sp = memchr(p, ' ', len);
        d->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        d->has_range = false;
    } else if (len > 14 && strncasecmp(p, "content-range:", 14) == 0) {
        char buf[128];
        size_t m = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
        memcpy(buf, p, m);
        buf[m] = '\0';
        unsigned long long a, b, t;
        if (sscanf(buf + 14, " bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
            d->has_range = true;
            d->range_start = a;
            d->range_total = t;
        } else if (sscanf(buf + 14, " bytes */%llu", &t) == 1) {
            d->has_range = true;
            d->range_start = UINT64_MAX;
            d->range_total = t;
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    dl_t *d = ud;
    size_t len = size * n;
    if (!d->started) {
        d->started = true;
        if (d->status == 206) {
            if (!d->has_range || d->range_start != d->offset) {
                d->err = hz_error_set(HZ_EIO, "206 reply starts at byte %llu, asked for %llu",
                                      (unsigned long long)(d->has_range ? d->range_start : 0), (unsigned long long)d->offset);
                return 0;
            }
        } else if (d->status == 200) {
            if (d->offset > 0) { /* the server ignored Range: start over */
                if (ftruncate(d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) {
                    d->err = hz_error_errno(HZ_EIO, errno, "truncate the partial download");
                    return 0;
                }
                d->offset = 0;
            }
        } else {
            d->discard = true;
        }
    }
    if (d->discard) return len;
    if (d->offset + d->received + len > d->max_bytes) {
        d->err = hz_error_set(HZ_ETOOBIG, "download exceeds the limit of %llu bytes", (unsigned long long)d->max_bytes);
        return 0;
    }
    if (ai_write_all(d->fd, p, len, "partial download") != 0) { d->err = HZ_EIO; return 0; }
    d->received += len;
    return len;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    dl_t *d = ud;
    (void)ultotal, (void)ulnow;
    if (d->discard || !d->started) return 0;
    uint64_t total = dltotal > 0 ? d->offset + (uint64_t)dltotal : 0;
    return ai_progress(d->ro, "download", d->offset + (uint64_t)dlnow, total) ? 0 : 1;
}

static CURL *easy(const char *url, const char *api_key, const hz_ai_fetch_opts_t *o, struct curl_slist **hdrs) {
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* Hugging Face redirects resolve URLs to its CDN */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s > 0 ? o->connect_timeout_s : 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s > 0 ? o->stall_timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hanzo/" HZ_VERSION);
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    if (api_key) {
        char *h = hz_sprintf("Authorization: Bearer %s", api_key);
        *hdrs = curl_slist_append(*hdrs, h);
        hz_secure_zero(h, strlen(h));
        hz_free(h);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    return c;
}

/* One request; resumes from the part file's size. *progress says whether bytes arrived. */
static int download_once(const char *url, const char *api_key, int fd, const hz_ai_fetch_opts_t *o, uint64_t max,
                         bool *progress, bool *done) {
    *progress = false;
    *done = false;
    struct stat st;
    if (fstat(fd, &st) != 0) return hz_error_errno(HZ_EIO, errno, "fstat");
    dl_t d = {.fd = fd, .offset = (uint64_t)st.st_size, .max_bytes = max, .ro = &o->read};
    if (lseek(fd, 0, SEEK_END) < 0) return hz_error_errno(HZ_EIO, errno, "lseek");
    struct curl_slist *hdrs = NULL;
    CURL *c = easy(url, api_key, o, &hdrs);
    if (!c) return hz_error_set(HZ_EINTERNAL, "curl_easy_init failed");
    char range[64];
    if (d.offset > 0) {
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)d.offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    *progress = d.received > 0;
    if (d.err) return d.err;
    if (cc == CURLE_ABORTED_BY_CALLBACK) return hz_error_set(HZ_ECLOSED, "cancelled");
    if (cc == CURLE_OK && d.status == 416 && d.has_range && d.range_total == d.offset && d.offset > 0) {
        *done = true; /* we already had every byte */
        return 0;
    }
    if (cc == CURLE_OK && d.status == 416) { /* our part is not a prefix of what they have */
        if (ftruncate(fd, 0) != 0) return hz_error_errno(HZ_EIO, errno, "truncate");
        *progress = true; /* retry from zero */
        return hz_error_set(HZ_EIO, "%s: range not satisfiable; starting over", url);
    }
    if (cc != CURLE_OK)
        return hz_error_set(cc == CURLE_OPERATION_TIMEDOUT ? HZ_ETIMEOUT : HZ_EIO, "%s: %s after %llu bytes", url,
                            curl_easy_strerror(cc), (unsigned long long)(d.offset + d.received));
    if (d.status != 200 && d.status != 206)
        return hz_error_set(d.status == 404 ? HZ_ENOTFOUND : d.status == 401 || d.status == 403 ? HZ_EAUTH : HZ_EIO,
                            "%s: HTTP %ld", url, d.status);
    if (d.status == 206 && d.range_total != d.offset + d.received) {
        return hz_error_set(HZ_EIO, "%s: have %llu of %llu bytes", url, (unsigned long long)(d.offset + d.received),
                            (unsigned long long)d.range_total);
    }
    *done = true;
    return 0;
}

/* Download url into part, resuming what a previous attempt at the same URL left. */
static int download(const char *url, const char *api_key, const char *part, const hz_ai_fetch_opts_t *o, uint64_t max) {
    char *src = hz_sprintf("%s.src", part), *prev = NULL;
    size_t plen;
    bool same = ai_read_file(src, 8192, &prev, &plen) == 0 && strcmp(prev, url) == 0;
    hz_free(prev);
    hz_error_clear();
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (same ? 0 : O_TRUNC), 0644);
    int rc = fd < 0 ? hz_error_errno(HZ_EIO, errno, "%s", part) : 0;
    if (!rc && !same) {
        int sfd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (sfd < 0 || ai_write_all(sfd, url, strlen(url), src) != 0) rc = hz_error_errno(HZ_EIO, errno, "%s", src);
        if (sfd >= 0) close(sfd);
    }
    for (int attempt = 0; !rc && attempt < MAX_ATTEMPTS;) {
        bool progress, done;
        rc = download_once(url, api_key, fd, o, max, &progress, &done);
        if (!rc && done) break;
        if (rc == HZ_ECLOSED || rc == HZ_ETOOBIG || !progress) break;
        hz_log_info("artifact", "%s; resuming", hz_error_last());
        rc = 0; /* progress was made: try again from where it stopped */
        if (++attempt == MAX_ATTEMPTS) rc = hz_error_set(HZ_EIO, "%s: still incomplete after %d attempts", url, MAX_ATTEMPTS);
    }
    if (fd >= 0) close(fd);
    hz_free(src);
    return rc;
}

static void drop_part(const char *part) {
    char *src = hz_sprintf("%s.src", part);
    unlink(part);
    unlink(src);
    hz_free(src);
}

static int try_location(const char *hash, const hz_ai_location_t *loc, const char *dest, const char *part,
                        const hz_ai_fetch_opts_t *o, uint64_t max) {
    int rc;
    if (loc->kind == HZ_AI_LOC_LOCAL) {
        struct stat st;
        char *from = NULL;
        if (stat(loc->target, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!hash) return hz_error_set(HZ_EINVAL, "%s: a store folder needs the content hash", loc->target);
            from = hz_sprintf("%s/%.2s/%s.ai", loc->target, hash, hash);
        } else {
            from = hz_strdup(loc->target);
        }
        drop_part(part);
        rc = ai_copy_file(from, part);
        hz_free(from);
    } else {
        char *url = hz_ai_location_url(loc, hash);
        rc = download(url, loc->api_key, part, o, max);
        hz_free(url);
    }
    if (rc) return rc;
    hz_ai_info_t *info = NULL;
    if ((rc = hz_ai_verify(part, &o->read, &info))) goto bad;
    if (hash && strcmp(info->content_hash, hash) != 0) {
        rc = ai_fail(HZ_AI_ERR_CONTENT_HASH, HZ_ECRYPTO, "the artifact received has content hash %s, not %s", info->content_hash, hash);
        goto bad;
    }
    if (loc->kind == HZ_AI_LOC_IPFS) {
        uint8_t want[32], got[32];
        if ((rc = hz_ai_cid_parse(loc->target, want)) || (rc = ai_file_blake3(part, got))) goto bad;
        if (memcmp(want, got, 32) != 0) {
            rc = ai_fail(HZ_AI_ERR_HASH_MISMATCH, HZ_ECRYPTO, "the archive received does not hash to its CID %s", loc->target);
            goto bad;
        }
    }
    hz_ai_info_free(info);
    if (rename(part, dest) != 0) return hz_error_errno(HZ_EIO, errno, "rename %s to %s", part, dest);
    drop_part(part);
    return 0;
bad:
    hz_ai_info_free(info);
    drop_part(part); /* complete but wrong: resuming it would only repeat the failure */
    return rc;
}

static const char *kind_name(hz_ai_loc_kind_t k) {
    switch (k) {
    case HZ_AI_LOC_LOCAL: return "local";
    case HZ_AI_LOC_HTTP: return "http";
    case HZ_AI_LOC_HF: return "hf";
    case HZ_AI_LOC_IPFS: return "ipfs";
    case HZ_AI_LOC_NODE: return "node";
    }
    return "?";
}

int hz_ai_fetch(const char *hash, const hz_ai_location_t *locs, size_t nlocs, const char *dest_path,
                const hz_ai_fetch_opts_t *opts, size_t *used) {
    ai_reason_clear();
    hz_ai_fetch_opts_t o = opts ? *opts : (hz_ai_fetch_opts_t){0};
    if (hash && !ai_hex64_valid(hash)) return hz_error_set(HZ_EINVAL, "\"%s\" is not a content hash (64 lowercase hex digits)", hash);
    if (nlocs == 0) return hz_error_set(HZ_EINVAL, "no location to fetch from");
    hz_ai_limits_t lim;
    if (o.read.limits) lim = *o.read.limits;
    else hz_ai_limits_default(&lim);
    uint64_t max = o.max_bytes ? o.max_bytes : lim.max_total_bytes + ((uint64_t)64 << 20);
    char *part = hz_sprintf("%s.part", dest_path);
    hz_buf_t errs = HZ_BUF_INIT;
    int rc = HZ_ENOTFOUND;
    hz_ai_err_t reason = HZ_AI_OK;
    for (size_t i = 0; i < nlocs; i++) {
        ai_reason_clear();
        rc = try_location(hash, &locs[i], dest_path, part, &o, max);
        if (rc == 0) {
            if (used) *used = i;
            break;
        }
        reason = hz_ai_error_reason();
        hz_buf_printf(&errs, "%s[%zu %s] %s", errs.len ? "; " : "", i, kind_name(locs[i].kind), hz_error_last());
        if (rc == HZ_ECLOSED) break;
    }
    hz_free(part);
    if (rc) {
        ai_reason_set(reason);
        rc = hz_error_set(rc, "no location delivered the artifact: %s", errs.data ? errs.data : "");
    }
    hz_buf_free(&errs);
    return rc;
}

/* ---- upload ------------------------------------------------------------------------------- */

typedef struct {
    int fd;
    uint64_t sent, total;
    const hz_ai_read_opts_t *ro;
} up_t;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
    up_t *u = ud;
    ssize_t r;
    do r = read(u->fd, buf, size * n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return CURL_READFUNC_ABORT;
    u->sent += (uint64_t)r;
    if (!ai_progress(u->ro, "upload", u->sent, u->total)) return CURL_READFUNC_ABORT;
    return (size_t)r;
}

static size_t on_reply(char *p, size_t size, size_t n, void *ud) {
    hz_buf_t *b = ud;
    if (b->len < 4096) hz_buf_append(b, p, size * n);
    return size * n;
}

int hz_ai_push(const char *path, const hz_ai_location_t *loc, const hz_ai_fetch_opts_t *opts) {
    ai_reason_clear();
    hz_ai_fetch_opts_t o = opts ? *opts : (hz_ai_fetch_opts_t){0};
    hz_ai_info_t *info = NULL;
    int rc = hz_ai_verify(path, &o.read, &info); /* never push what does not verify */
    if (rc) return rc;
    if (loc->kind == HZ_AI_LOC_IPFS) {
        rc = hz_error_set(HZ_EUNSUPPORTED, "IPFS gateways are read-only: add the file with an IPFS node, then share ipfs:%s",
                          "<cid from `hanzo ai info`>");
    } else if (loc->kind == HZ_AI_LOC_LOCAL) {
        hz_ai_store_t *s;
        char hash[HZ_AI_HASH_HEX_LEN + 1];
        if (!(rc = hz_ai_store_open(loc->target, &s))) {
            rc = hz_ai_store_add(s, path, false, &o.read, hash, NULL);
            hz_ai_store_close(s);
        }
    } else {
        char *url = hz_ai_location_url(loc, info->content_hash);
        if (loc->kind == HZ_AI_LOC_NODE && !loc->file) { /* POST to the collection, not to the item */
            hz_free(url);
            url = hz_sprintf("%s/v2/artifacts", loc->target);
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct curl_slist *hdrs = NULL;
        CURL *c = fd < 0 ? NULL : easy(url, loc->api_key, &o, &hdrs);
        if (!c) rc = fd < 0 ? hz_error_errno(HZ_EIO, errno, "%s", path) : hz_error_set(HZ_EINTERNAL, "curl_easy_init failed");
        else {
            up_t u = {.fd = fd, .total = info->archive_size, .ro = &o.read};
            hz_buf_t reply = HZ_BUF_INIT;
            hdrs = curl_slist_append(hdrs, "Content-Type: application/zip");
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &u);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
            if (loc->kind == HZ_AI_LOC_NODE) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)info->archive_size);
            } else {
                curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)info->archive_size);
            }
            CURLcode cc = curl_easy_perform(c);
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (cc != CURLE_OK) rc = hz_error_set(HZ_EIO, "%s: %s", url, curl_easy_strerror(cc));
            else if (status < 200 || status > 299)
                rc = hz_error_set(status == 413 ? HZ_ETOOBIG : status == 401 || status == 403 ? HZ_EAUTH : HZ_EIO, "%s: HTTP %ld: %.300s",
                                  url, status, reply.data ? reply.data : "");
            hz_buf_free(&reply);
            curl_easy_cleanup(c);
        }
        curl_slist_free_all(hdrs);
        if (fd >= 0) close(fd);
        hz_free(url);
    }
    hz_ai_info_free(info);
    return rc;
}
