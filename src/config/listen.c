/*
 * Listen addresses: "host:port", with IPv6 literals in brackets ("[::1]:9550") as in URLs.
 *
 * A bare IPv6 literal is refused rather than guessed at: in "::1:9550" the port cannot be told
 * apart from the last group. The host must be given (no ":9550" meaning "every interface"),
 * because the design asks for explicit binds: exposing the node beyond loopback has to be a
 * visible choice such as 0.0.0.0. Port 0 is accepted and means "any free port", which tests use.
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <string.h>

#define HOST_MAX 253  /* longest DNS name, RFC 1035 */

static bool valid_hostname(const char *h, size_t n) {
    if (n == 0 || n > HOST_MAX) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) return false;
        if (++label > 63) return false;
    }
    return label > 0 && h[n - 1] != '-';
}

int hz_config_parse_listen(const char *listen, char *host, size_t host_len, int *port) {
    if (!listen || !*listen) return hz_error_set(HZ_EINVAL, "empty listen address (expected HOST:PORT)");
    const char *h, *colon;
    size_t hn;
    char tmp[HOST_MAX + 1];
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close) return hz_error_set(HZ_EINVAL, "\"%s\": missing ']' after the IPv6 address", listen);
        h = listen + 1;
        hn = (size_t)(close - h);
        if (close[1] != ':')
            return hz_error_set(HZ_EINVAL, "\"%s\": expected :PORT after ']'", listen);
        colon = close + 1;
        if (hn == 0 || hn > 45) return hz_error_set(HZ_EINVAL, "\"%s\": bad IPv6 address", listen);
        struct in6_addr a6;
        memcpy(tmp, h, hn);
        tmp[hn] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return hz_error_set(HZ_EINVAL, "\"%s\": bad IPv6 address \"%s\"", listen, tmp);
    } else {
        colon = strrchr(listen, ':');
        if (!colon) return hz_error_set(HZ_EINVAL, "\"%s\": missing port (expected HOST:PORT)", listen);
        if (memchr(listen, ':', (size_t)(colon - listen)))
            return hz_error_set(HZ_EINVAL, "\"%s\": write IPv6 addresses in brackets, as [::1]:9550", listen);
        h = listen;
        hn = (size_t)(colon - listen);
        if (hn == 0)
            return hz_error_set(HZ_EINVAL, "\"%s\": missing host (use 0.0.0.0 for every interface)", listen);
        if (hn > HOST_MAX) return hz_error_set(HZ_EINVAL, "host name longer than %d bytes", HOST_MAX);
        memcpy(tmp, h, hn);
        tmp[hn] = '\0';
        if (strspn(tmp, "0123456789.") == hn) {
            struct in_addr a4;
            if (inet_pton(AF_INET, tmp, &a4) != 1)
                return hz_error_set(HZ_EINVAL, "\"%s\": bad IPv4 address \"%s\"", listen, tmp);
        } else if (!valid_hostname(tmp, hn)) {
            return hz_error_set(HZ_EINVAL, "\"%s\": bad host name \"%s\"", listen, tmp);
        }
    }
    const char *p = colon + 1;
    size_t pn = strlen(p);
    if (pn == 0 || pn > 5 || strspn(p, "0123456789") != pn)
        return hz_error_set(HZ_EINVAL, "\"%s\": port must be a number from 0 to 65535", listen);
    long v = strtol(p, NULL, 10);
    if (v > 65535) return hz_error_set(HZ_EINVAL, "\"%s\": port must be a number from 0 to 65535", listen);
    if (host) {
        if (hn + 1 > host_len) return hz_error_set(HZ_EINVAL, "\"%s\": host longer than the buffer", listen);
        memcpy(host, h, hn);
        host[hn] = '\0';
    }
    if (port) *port = (int)v;
    return 0;
}

int config_check_listen(const char *value) {
    return hz_config_parse_listen(value, NULL, 0, NULL);
}

bool hz_config_host_is_loopback(const char *host) {
    if (!host) return false;
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { host++; n -= 2; }
    if (n == 0 || n >= sizeof(tmp)) return false;
    memcpy(tmp, host, n);
    tmp[n] = '\0';
    if (hz_str_ieq(tmp, "localhost")) return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, tmp, &a4) == 1) return ((const uint8_t *)&a4.s_addr)[0] == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, tmp, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}
