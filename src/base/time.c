/* Clocks and RFC 3339 timestamps. Wall time for records, monotonic time for durations. */
#include "hanzo/base.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int64_t hz_time_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hz_time_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *hz_time_format_rfc3339(int64_t unix_ms, char buf[32]) {
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    if (ms < 0) { ms += 1000; secs -= 1; }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", ms);
    return buf;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int hz_time_parse_rfc3339(const char *s, int64_t *unix_ms) {
    int Y, M, D, h, m, sec, ms = 0;
    size_t n = strlen(s);
    if (n < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        goto bad;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int nd = 0, frac = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3) frac = frac * 10 + (*p - '0');
            nd++, p++;
        }
        if (nd == 0) goto bad;
        for (int i = nd; i < 3; i++) frac *= 10;
        ms = frac;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59) goto bad;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        goto bad;
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) goto bad;
    struct tm tm = {0};
    tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D;
    tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *unix_ms = ((int64_t)t - offset_min * 60) * 1000 + ms;
    return 0;
bad:
    return hz_error_set(HZ_EPARSE, "bad RFC 3339 timestamp \"%s\"", s);
}

void hz_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}
