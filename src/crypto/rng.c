/*
 * Randomness and the library basics: libsodium's one-time initialisation, the CSPRNG, constant-
 * time comparison and wiping, and PQCLEAN_randombytes.
 *
 * PQClean does not ship a random source; the build leaves common/randombytes.c out so that this
 * file supplies the one symbol it calls. Normally it returns libsodium's randombytes_buf. While a
 * derandomised operation runs on this thread (hz__derand_begin .. hz__derand_end) it instead
 * hands out the caller's bytes in order: that is how ML-DSA key generation from a seed xi and
 * signing with a given rnd reproduce FIPS 204's results through PQClean's unmodified code. The
 * source is thread-local, so concurrent operations on other threads are never affected, and the
 * end call checks that exactly the supplied bytes were consumed.
 */
#include "crypto/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* sodium.h first: PQClean's randombytes.h #defines randombytes, which sodium.h also declares. */
#include <sodium.h>

#include <randombytes.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_sodium(void) {
    init_result = sodium_init() < 0 ? HZ_EINTERNAL : 0;
}

int hz_crypto_init(void) {
    pthread_once(&init_once, init_sodium);
    if (init_result != 0)
        return hz_error_set(HZ_EINTERNAL, "libsodium failed to initialise (no kernel randomness?)");
    return 0;
}

void hz__crypto_ready(void) {
    if (hz_crypto_init() != 0) {
        hz_log_error("crypto", "%s", hz_error_last());
        abort();
    }
}

void hz_crypto_random(void *buf, size_t n) {
    hz__crypto_ready();
    randombytes_buf(buf, n);
}

bool hz_ct_equal(const void *a, const void *b, size_t n) {
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) d |= (uint8_t)(x[i] ^ y[i]);
    /* Turn "any bit set" into a bool without a data-dependent branch. */
    return (1 & ((uint32_t)(d - 1) >> 8)) == 1;
}

void hz_secure_zero(void *p, size_t n) {
    if (p) sodium_memzero(p, n);
}

void hz_secure_free(void *p, size_t n) {
    if (!p) return;
    sodium_memzero(p, n);
    hz_free(p);
}

/* ---- derandomisation ------------------------------------------------------------------ */

static _Thread_local struct {
    const uint8_t *src;
    size_t len, used;
    bool active, overrun;
} tl_derand;

void hz__derand_begin(const uint8_t *src, size_t src_len) {
    tl_derand.src = src;
    tl_derand.len = src_len;
    tl_derand.used = 0;
    tl_derand.active = true;
    tl_derand.overrun = false;
}

int hz__derand_end(const char *what) {
    bool overrun = tl_derand.overrun;
    size_t used = tl_derand.used, len = tl_derand.len;
    memset(&tl_derand, 0, sizeof(tl_derand));
    if (overrun)
        return hz_error_set(HZ_EINTERNAL, "%s drew more than the %zu seed bytes supplied", what, len);
    if (used != len)
        return hz_error_set(HZ_EINTERNAL, "%s drew %zu of the %zu seed bytes supplied", what, used, len);
    return 0;
}

int PQCLEAN_randombytes(uint8_t *output, size_t n) {
    if (!tl_derand.active) {
        hz_crypto_random(output, n);
        return 0;
    }
    if (n > tl_derand.len - tl_derand.used) {
        /* The operation's result is discarded by hz__derand_end; never hand out stale bytes. */
        tl_derand.overrun = true;
        memset(output, 0, n);
        return -1;
    }
    memcpy(output, tl_derand.src + tl_derand.used, n);
    tl_derand.used += n;
    return 0;
}
