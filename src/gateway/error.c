/*
 * Gateway errors: one record that carries what the client must see (status, OpenAI error type,
 * code, the parameter at fault) and what the router needs to decide (retryable, Retry-After).
 * Every layer fills the same hz_gw_error_t, so the API handler renders whatever failed without
 * knowing which layer it was. hz_gw_error_set also records the message as the thread's
 * hz_error_last(), so code that only looks at the return value still gets a useful detail.
 * Retryability defaults from the status (429 and 5xx, which is what connection failures and
 * timeouts are mapped to); a caller that knows better overwrites the flag afterwards.
 */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <string.h>

static const char *default_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "invalid_request_error";
    case 408: return "timeout";
    case 429: return "rate_limit_error";
    case 502: return "upstream_error";
    case 504: return "timeout";
    default: return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
    }
}

static void copy_field(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

int hz_gw_error_set(hz_gw_error_t *err, int status, const char *type, const char *code,
                    const char *param, const char *fmt, ...) {
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = status >= 400 && status < 500 ? HZ_EINVAL : HZ_EIO;
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = status;
        copy_field(err->type, sizeof err->type, type && *type ? type : default_type(status));
        copy_field(err->code, sizeof err->code, code);
        copy_field(err->param, sizeof err->param, param);
        memcpy(err->message, msg, sizeof msg);
        err->retry_after_ms = -1;
        err->retryable = status == 408 || status == 429 || status >= 500;
    }
    hz_error_set(rc, "%s", msg);
    return rc;
}

json_object *hz_gw_error_json(const hz_gw_error_t *err) {
    json_object *e = json_object_new_object();
    const char *msg = err && err->message[0] ? err->message : "internal error";
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(e, "type", json_object_new_string(err && err->type[0] ? err->type : "api_error"));
    json_object_object_add(e, "param", err && err->param[0] ? json_object_new_string(err->param) : NULL);
    json_object_object_add(e, "code", err && err->code[0] ? json_object_new_string(err->code) : NULL);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "error", e);
    return root;
}
