/*
 * Which ML-KEM / ML-DSA implementation runs: the AVX2 one when the CPU has AVX2, BMI1/2 and
 * POPCNT (what the kernels are compiled for, HZ_AVX2_BEGIN), else PQClean's clean C. The check
 * and the AVX2 kernels' table setup happen once per process; after that the answer is a load
 * and a compare. The per-thread override exists so a test can run the
 * portable path beside the fast one on the same inputs without affecting other threads.
 */
#include "crypto/pqfast.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool cpu_ok; /* written once under `once`, read-only afterwards */
static _Thread_local bool tl_portable;

static void detect(void) {
#if HZ_PQFAST_X86
    const char *env = getenv("HANZO_CRYPTO_PORTABLE");
    bool forced = env && *env && strcmp(env, "0") != 0;
    __builtin_cpu_init();
    if (!forced && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
        __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt")) {
        hz__mlkem_avx2_init();
        hz__mldsa_avx2_init();
        cpu_ok = true;
    }
#endif
}

bool hz__pqfast(void) {
    pthread_once(&once, detect);
    return cpu_ok && !tl_portable;
}

void hz__pqfast_set_portable(bool portable) {
    tl_portable = portable;
}

#if !HZ_PQFAST_X86
/* Without x86-64 the fast path does not exist and hz__pqfast() is always false, so these are
 * never called; they only let the dispatching code in kem.c and sig.c link. */
void hz__mlkem_avx2_init(void) {}
void hz__mldsa_avx2_init(void) {}
void hz__mlkem_fast_keypair(unsigned k, uint8_t *pk, uint8_t *sk, const uint8_t coins[64]) {
    (void)k, (void)pk, (void)sk, (void)coins;
    abort();
}
void hz__mlkem_fast_encaps(unsigned k, uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t m[32]) {
    (void)k, (void)ct, (void)ss, (void)pk, (void)m;
    abort();
}
void hz__mlkem_fast_decaps(unsigned k, uint8_t *ss, const uint8_t *ct, const uint8_t *sk) {
    (void)k, (void)ss, (void)ct, (void)sk;
    abort();
}
void hz__mldsa_fast_keypair(int set, uint8_t *pk, uint8_t *sk, const uint8_t xi[32]) {
    (void)set, (void)pk, (void)sk, (void)xi;
    abort();
}
int hz__mldsa_fast_sign_mu(int set, uint8_t *sig, const uint8_t mu[64], const uint8_t rnd[32], const uint8_t *sk) {
    (void)set, (void)sig, (void)mu, (void)rnd, (void)sk;
    abort();
}
int hz__mldsa_fast_verify_mu(int set, const uint8_t *sig, const uint8_t mu[64], const uint8_t *pk) {
    (void)set, (void)sig, (void)mu, (void)pk;
    abort();
}
#endif
