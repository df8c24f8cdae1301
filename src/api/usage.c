/*
 * GET /v2/usage?from=&to=&group_by=: token and latency totals over [from, to), optionally per
 * model, provider, API key or UTC day (gateway/usage.c does the counting).
 *
 * from and to take either RFC 3339 ("2026-01-31T00:00:00Z") or milliseconds since the epoch,
 * because people type the first and scripts compute the second; either may be left out for an
 * open end (so does 0). A value that is neither is a 400 naming the parameter.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "hanzo/gateway.h"

/* A time argument into *ms (0 when absent). false when it is malformed. */
static bool parse_time(const char *s, int64_t *ms) {
    *ms = 0;
    if (!s || !*s) return true;
    bool digits = true;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) digits = false;
    if (digits) {
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || *end) return false;
        *ms = v;
        return true;
    }
    return hz_time_parse_rfc3339(s, ms) == 0;
}

void api_usage(hz_http_req_t *req, void *ctx) {
    hz_api_t *api = ctx;
    hz_gw_error_t err;
    memset(&err, 0, sizeof(err));
    err.retry_after_ms = -1;
    if (!api->store) {
        hz_http_respond_error(req, 503, "api_error", "store_unavailable", "the store is not open");
        return;
    }
    static const char *const NAMES[] = {"from", "to"};
    int64_t range[2];
    for (int i = 0; i < 2; i++) {
        const char *v = hz_http_req_query(req, NAMES[i]);
        if (!parse_time(v, &range[i])) {
            hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_value", NAMES[i],
                            "%s: \"%s\" is neither an RFC 3339 time (2026-01-31T00:00:00Z) nor milliseconds since "
                            "the epoch", NAMES[i], v);
            api_respond_gw_error(req, &err);
            return;
        }
    }
    if (range[0] && range[1] && range[1] < range[0]) {
        hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_value", "to", "to is before from");
        api_respond_gw_error(req, &err);
        return;
    }
    const char *group_by = hz_http_req_query(req, "group_by");
    json_object *out = NULL;
    int rc = hz_gw_usage_query(api->store, range[0], range[1], group_by && *group_by ? group_by : NULL, &out);
    if (rc == HZ_EINVAL) {
        hz_gw_error_set(&err, 400, "invalid_request_error", "invalid_value", "group_by", "%s", hz_error_last());
        api_respond_gw_error(req, &err);
    } else if (rc) {
        hz_gw_error_set(&err, rc == HZ_EBUSY ? 503 : 500, "api_error", "store_error", "", "%s", hz_error_last());
        api_respond_gw_error(req, &err);
    } else {
        hz_http_respond_json(req, 200, out);
    }
}
