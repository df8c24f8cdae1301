/*
 * Helpers every /v1 and /v2 handler shares: answering with a gateway error in the OpenAI shape,
 * and naming the API key behind a request for accounting and rate limits without ever keeping
 * the key itself (a BLAKE3 prefix is enough to tell keys apart and reveals nothing).
 */
#include "api_internal.h"

#include <string.h>

#include "hanzo/crypto.h"
#include "hanzo/gateway.h"

void api_respond_gw_error(hz_http_req_t *req, const hz_gw_error_t *err) {
    if (err->retry_after_ms >= 0) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)((err->retry_after_ms + 999) / 1000));
        hz_http_set_header(req, "Retry-After", secs);
    }
    hz_http_respond_json(req, err->status > 0 ? err->status : 500, hz_gw_error_json(err));
}

void api_key_id(hz_http_req_t *req, char out[17]) {
    const char *auth = hz_http_req_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        /* Anthropic clients send the key as x-api-key */
        auth = hz_http_req_header(req, "x-api-key");
        if (!auth) { snprintf(out, 17, "anonymous"); return; }
    } else {
        auth += 7;
    }
    char hex[2 * HZ_BLAKE3_LEN + 1];
    hz_blake3_hex(auth, strlen(auth), hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}
