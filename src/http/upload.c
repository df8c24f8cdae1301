/*
 * Request bodies streamed to a file, for routes marked HZ_ROUTE_BODY_TO_FILE (artifact uploads
 * of many GiB must not live in memory). The file is created in the server's upload_dir with
 * O_TMPFILE where the file system supports it: it has no name while the body streams in, so a
 * crash or a failed upload leaves nothing behind. Only when the body is complete is it linked
 * under a fresh name (through /proc/self/fd, which needs no privilege) for the handler to read.
 * Where O_TMPFILE is missing, mkstemp names it from the start and a failure deletes it.
 *
 * A failed write (ENOSPC, EDQUOT, EFBIG, EIO) drops the partial file at once and records errno;
 * server.c then discards the rest of the body and answers 507 or 500 naming the folder. The
 * file is deleted when the request completes unless the handler took it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

#define NAME_TRIES 8

static bool fail(hz_http_req_t *req, const char *step, int err) {
    req->file_step = step;
    req->file_errno = err;
    hz_upload_drop(req);
    return false;
}

bool hz_upload_open(hz_http_req_t *req) {
    const char *dir = req->srv->upload_dir;
    req->to_file = true;
    req->file_fd = -1;
#ifdef O_TMPFILE
    req->file_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (req->file_fd >= 0) return true;
    /* EISDIR / EOPNOTSUPP: the kernel or file system has no O_TMPFILE; other errors (EACCES,
     * ENOENT) would fail below as well and are reported from there. */
#endif
    req->file_path = hz_sprintf("%s/upload-XXXXXX", dir);
    req->file_fd = mkostemp(req->file_path, O_CLOEXEC);  /* mode 0600 */
    if (req->file_fd < 0) return fail(req, "create", errno);
    req->file_named = true;
    return true;
}

bool hz_upload_write(hz_http_req_t *req, const char *data, size_t n) {
    while (n) {
        ssize_t w = write(req->file_fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(req, "write", w < 0 ? errno : ENOSPC);  /* 0 bytes: no room left */
        data += w;
        n -= (size_t)w;
        req->file_len += (uint64_t)w;
    }
    return true;
}

bool hz_upload_finish(hz_http_req_t *req) {
    if (!req->file_named) {
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", req->file_fd);
        int err = EEXIST;
        for (int i = 0; i < NAME_TRIES && err == EEXIST; i++) {
            uint8_t r[8];
            hz_random_bytes(r, sizeof(r));
            char *path = hz_sprintf("%s/upload-%02x%02x%02x%02x%02x%02x%02x%02x", req->srv->upload_dir, r[0], r[1],
                                    r[2], r[3], r[4], r[5], r[6], r[7]);
            if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) {
                req->file_path = path;
                req->file_named = true;
                err = 0;
            } else {
                err = errno;
                hz_free(path);
            }
        }
        if (err) return fail(req, "name", err);
    }
    if (close(req->file_fd) != 0 && errno != EINTR) {  /* NFS reports a late ENOSPC here */
        int err = errno;
        req->file_fd = -1;
        return fail(req, "write", err);
    }
    req->file_fd = -1;
    return true;
}

void hz_upload_drop(hz_http_req_t *req) {
    if (!req->to_file) return;
    if (req->file_fd >= 0) close(req->file_fd);
    req->file_fd = -1;
    if (req->file_path) {
        if (req->file_named && unlink(req->file_path) != 0 && errno != ENOENT)
            hz_log_warn("http", "request %s: cannot delete the body file %s: %s", req->id, req->file_path,
                        strerror(errno));
        hz_free(req->file_path);
        req->file_path = NULL;
    }
    req->file_named = false;
}

const char *hz_http_req_body_file(const hz_http_req_t *req, uint64_t *len) {
    if (len) *len = req->to_file && req->file_path ? req->file_len : 0;
    return req->to_file && req->file_named && req->file_fd < 0 ? req->file_path : NULL;
}

char *hz_http_req_take_body_file(hz_http_req_t *req) {
    if (!hz_http_req_body_file(req, NULL)) return NULL;
    char *path = req->file_path;
    req->file_path = NULL;
    req->file_named = false;
    return path;
}
