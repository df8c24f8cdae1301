/*
 * pq_bench: per-operation timings of the node's post-quantum operations (ML-KEM-768, ML-DSA-65,
 * X-Wing) through the public hz_* API, beside PQClean's clean implementation called directly, in
 * the same process and the same rounds, so a loaded machine slows both alike.
 *
 *   pq_bench [ROUNDS]        (default 25; bench/crypto_pq.sh formats and judges the output)
 *
 * Each round times one batch per operation and implementation, alternating hanzo and PQClean;
 * a batch runs long enough (a few ms) that clock reads do not matter, and its mean per call is
 * the round's sample. Output: one line per operation and implementation,
 *   RESULT <op> <impl> <median us> <best us> <rounds>
 * Inputs are fixed sets of keys and messages. Signing is timed over 128 messages with fixed rnd
 * values fed to both implementations (PQClean through the derandomisation hook), so both run
 * exactly the same number of rejection-loop iterations and the per-signature mean is an average
 * over the loop's distribution, not one lucky or unlucky message. Every batch checks results
 * (decapsulated secret, signature bytes, verification), so a broken fast path cannot look fast.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/internal.h"
#include "hanzo/crypto.h"

#include <crypto_kem/ml-kem-768/clean/api.h>
#include <crypto_sign/ml-dsa-65/clean/api.h>

#define NKEYS 8
#define NMSG 128
#define MSG_LEN 64

static const hz_kem_t *mlkem, *xwing;
static const hz_sig_t *mldsa;

static struct {
    uint8_t pk[NKEYS][1184], sk[NKEYS][2400], ct[NKEYS][1088], ss[NKEYS][32];
    uint8_t xpk[NKEYS][1216], xsk[NKEYS][32], xct[NKEYS][1120], xss[NKEYS][32];
    uint8_t spk[NKEYS][1952], ssk[NKEYS][4032];
    uint8_t msg[NMSG][MSG_LEN], rnd[NMSG][32], sig[NMSG][3309];
} in;

static void die(const char *what) {
    fprintf(stderr, "pq_bench: %s failed: %s\n", what, hz_error_last());
    exit(1);
}

/* ---- the operations: each runs call number i of a batch ----------------------------------- */

typedef void (*op_fn)(size_t i);

static void kem_keygen_hz(size_t i) {
    uint8_t pk[1184], sk[2400];
    if (hz_kem_keypair(mlkem, pk, sk)) die("hz_kem_keypair");
    (void)i;
}
static void kem_keygen_pq(size_t i) {
    uint8_t pk[1184], sk[2400];
    if (PQCLEAN_MLKEM768_CLEAN_crypto_kem_keypair(pk, sk)) die("PQClean keypair");
    (void)i;
}
static void kem_encaps_hz(size_t i) {
    uint8_t ct[1088], ss[32];
    if (hz_kem_encaps(mlkem, ct, ss, in.pk[i % NKEYS], 1184)) die("hz_kem_encaps");
}
static void kem_encaps_pq(size_t i) {
    uint8_t ct[1088], ss[32];
    if (PQCLEAN_MLKEM768_CLEAN_crypto_kem_enc(ct, ss, in.pk[i % NKEYS])) die("PQClean enc");
}
static void kem_decaps_hz(size_t i) {
    uint8_t ss[32];
    if (hz_kem_decaps(mlkem, ss, in.ct[i % NKEYS], 1088, in.sk[i % NKEYS], 2400)) die("hz_kem_decaps");
    if (memcmp(ss, in.ss[i % NKEYS], 32) != 0) die("hz_kem_decaps result");
}
static void kem_decaps_pq(size_t i) {
    uint8_t ss[32];
    if (PQCLEAN_MLKEM768_CLEAN_crypto_kem_dec(ss, in.ct[i % NKEYS], in.sk[i % NKEYS])) die("PQClean dec");
    if (memcmp(ss, in.ss[i % NKEYS], 32) != 0) die("PQClean dec result");
}

static void sig_keygen_hz(size_t i) {
    uint8_t pk[1952], sk[4032];
    if (hz_sig_keypair(mldsa, pk, sk)) die("hz_sig_keypair");
    (void)i;
}
static void sig_keygen_pq(size_t i) {
    uint8_t pk[1952], sk[4032];
    if (PQCLEAN_MLDSA65_CLEAN_crypto_sign_keypair(pk, sk)) die("PQClean sign_keypair");
    (void)i;
}
static void sig_sign_hz(size_t i) {
    uint8_t sig[3309];
    hz_sig_opts_t o = {.rnd = in.rnd[i % NMSG]};
    if (hz_sig_sign(mldsa, sig, in.msg[i % NMSG], MSG_LEN, in.ssk[i % NKEYS], 4032, &o)) die("hz_sig_sign");
    if (memcmp(sig, in.sig[i % NMSG], sizeof(sig)) != 0) die("hz_sig_sign result");
}
static void sig_sign_pq(size_t i) {
    uint8_t sig[3309];
    size_t siglen;
    hz__derand_begin(in.rnd[i % NMSG], 32);
    int rc = PQCLEAN_MLDSA65_CLEAN_crypto_sign_signature_ctx(sig, &siglen, in.msg[i % NMSG], MSG_LEN, NULL, 0,
                                                             in.ssk[i % NKEYS]);
    if (hz__derand_end("PQClean signing") || rc) die("PQClean signing");
    if (memcmp(sig, in.sig[i % NMSG], sizeof(sig)) != 0) die("PQClean signing result");
}
static void sig_verify_hz(size_t i) {
    if (hz_sig_verify(mldsa, in.sig[i % NMSG], 3309, in.msg[i % NMSG], MSG_LEN, in.spk[i % NKEYS], 1952, NULL))
        die("hz_sig_verify");
}
static void sig_verify_pq(size_t i) {
    if (PQCLEAN_MLDSA65_CLEAN_crypto_sign_verify_ctx(in.sig[i % NMSG], 3309, in.msg[i % NMSG], MSG_LEN, NULL, 0,
                                                     in.spk[i % NKEYS]))
        die("PQClean verify");
}

static void xw_keygen(size_t i) {
    uint8_t pk[1216], sk[32];
    if (hz_kem_keypair(xwing, pk, sk)) die("X-Wing keypair");
    (void)i;
}
static void xw_encaps(size_t i) {
    uint8_t ct[1120], ss[32];
    if (hz_kem_encaps(xwing, ct, ss, in.xpk[i % NKEYS], 1216)) die("X-Wing encaps");
}
static void xw_decaps(size_t i) {
    uint8_t ss[32];
    if (hz_kem_decaps(xwing, ss, in.xct[i % NKEYS], 1120, in.xsk[i % NKEYS], 32)) die("X-Wing decaps");
    if (memcmp(ss, in.xss[i % NKEYS], 32) != 0) die("X-Wing decaps result");
}

/* ---- timing --------------------------------------------------------------------------------- */

typedef struct {
    const char *op, *impl;
    op_fn fn;
    size_t batch;    /* calls per sample; sign batches cover every message once */
    double *samples; /* us per call, one per round */
} bench_t;

static double time_batch(op_fn fn, size_t batch) {
    int64_t t0 = hz_time_mono_ns();
    for (size_t i = 0; i < batch; i++) fn(i);
    return (double)(hz_time_mono_ns() - t0) / 1e3 / (double)batch;
}

/* Enough calls for about 3 ms, judged from a warm-up call. */
static size_t pick_batch(op_fn fn) {
    fn(0);
    double us = time_batch(fn, 4);
    size_t n = (size_t)(3000.0 / (us > 0.1 ? us : 0.1));
    return n < 4 ? 4 : n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 25;
    if (rounds < 1 || rounds > 10000) {
        fprintf(stderr, "usage: pq_bench [ROUNDS]\n");
        return 2;
    }
    if (hz_crypto_init()) die("hz_crypto_init");
    mlkem = hz_kem_by_name("ml-kem-768");
    xwing = hz_kem_by_name("x-wing");
    mldsa = hz_sig_by_name("ml-dsa-65");

    for (int k = 0; k < NKEYS; k++) {
        if (hz_kem_keypair(mlkem, in.pk[k], in.sk[k])) die("setup keypair");
        if (hz_kem_encaps(mlkem, in.ct[k], in.ss[k], in.pk[k], 1184)) die("setup encaps");
        if (hz_kem_keypair(xwing, in.xpk[k], in.xsk[k])) die("setup X-Wing keypair");
        if (hz_kem_encaps(xwing, in.xct[k], in.xss[k], in.xpk[k], 1216)) die("setup X-Wing encaps");
        if (hz_sig_keypair(mldsa, in.spk[k], in.ssk[k])) die("setup sig keypair");
    }
    hz_crypto_random(in.msg, sizeof(in.msg));
    hz_crypto_random(in.rnd, sizeof(in.rnd));
    for (int m = 0; m < NMSG; m++) {
        hz_sig_opts_t o = {.rnd = in.rnd[m]};
        if (hz_sig_sign(mldsa, in.sig[m], in.msg[m], MSG_LEN, in.ssk[m % NKEYS], 4032, &o)) die("setup sign");
    }

    bench_t b[] = {
        {"ml-kem-768.keygen", "hanzo", kem_keygen_hz, 0, NULL},
        {"ml-kem-768.keygen", "pqclean", kem_keygen_pq, 0, NULL},
        {"ml-kem-768.encaps", "hanzo", kem_encaps_hz, 0, NULL},
        {"ml-kem-768.encaps", "pqclean", kem_encaps_pq, 0, NULL},
        {"ml-kem-768.decaps", "hanzo", kem_decaps_hz, 0, NULL},
        {"ml-kem-768.decaps", "pqclean", kem_decaps_pq, 0, NULL},
        {"ml-dsa-65.keygen", "hanzo", sig_keygen_hz, 0, NULL},
        {"ml-dsa-65.keygen", "pqclean", sig_keygen_pq, 0, NULL},
        {"ml-dsa-65.sign", "hanzo", sig_sign_hz, NMSG, NULL},
        {"ml-dsa-65.sign", "pqclean", sig_sign_pq, NMSG, NULL},
        {"ml-dsa-65.verify", "hanzo", sig_verify_hz, 0, NULL},
        {"ml-dsa-65.verify", "pqclean", sig_verify_pq, 0, NULL},
        {"x-wing.keygen", "hanzo", xw_keygen, 0, NULL},
        {"x-wing.encaps", "hanzo", xw_encaps, 0, NULL},
        {"x-wing.decaps", "hanzo", xw_decaps, 0, NULL},
    };
    size_t nb = sizeof(b) / sizeof(b[0]);
    for (size_t j = 0; j < nb; j++) {
        if (!b[j].batch) b[j].batch = pick_batch(b[j].fn);
        b[j].samples = hz_malloc((size_t)rounds * sizeof(double));
    }
    /* Signing batches are long (every message once), so they get a third of the rounds. */
    for (int r = 0; r < rounds; r++)
        for (size_t j = 0; j < nb; j++)
            b[j].samples[r] = b[j].batch == NMSG && r % 3 ? -1 : time_batch(b[j].fn, b[j].batch);

    for (size_t j = 0; j < nb; j++) {
        size_t n = 0;
        for (int r = 0; r < rounds; r++)
            if (b[j].samples[r] >= 0) b[j].samples[n++] = b[j].samples[r];
        qsort(b[j].samples, n, sizeof(double), cmp_double);
        printf("RESULT %s %s %.2f %.2f %zu\n", b[j].op, b[j].impl, b[j].samples[n / 2], b[j].samples[0], n);
        hz_free(b[j].samples);
    }
    return 0;
}
