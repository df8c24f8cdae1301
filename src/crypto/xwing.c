/*
 * X-Wing: the hybrid KEM of draft-connolly-cfrg-xwing-kem-10 (ML-KEM-768 + X25519), our default.
 *
 * The secret key is a 32-byte seed; both component key pairs are expanded from it with
 * SHAKE256(sk, 96 bytes) = d || z (ML-KEM-768 KeyGen_internal) || sk_X. Keeping only the seed
 * is what gives X-Wing its binding properties (the draft forbids exchanging expanded keys), at the
 * price of redoing the expansion on each decapsulation (an ML-KEM key generation, ~30 us).
 *
 *   ct = ct_M (1088) || ct_X (32)      pk = pk_M (1184) || pk_X (32)
 *   ss = SHA3-256(ss_M || ss_X || ct_X || pk_X || "\.//^\")
 *
 * X25519 is libsodium's. libsodium refuses (returns -1 for) a peer point of small order, where
 * RFC 7748's X25519 returns the all-zero string; X-Wing is specified over RFC 7748 and does not
 * reject such points (ML-KEM alone then carries the security), so we use zeros as the standard
 * does rather than fail: the result must equal every other implementation's.
 */
#include "crypto/internal.h"

#include <string.h>

#include <fips202.h>
#include <sodium.h>

#define MLKEM768_PK 1184
#define MLKEM768_SK 2400
#define MLKEM768_CT 1088

static const uint8_t xwing_label[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c}; /* \./ /^\ */

typedef struct {
    uint8_t sk_m[MLKEM768_SK];
    uint8_t pk_m[MLKEM768_PK];
    uint8_t sk_x[32];
    uint8_t pk_x[32];
} expanded_t;

static void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
    if (crypto_scalarmult_curve25519(out, scalar, point) != 0)
        memset(out, 0, 32); /* small-order point: RFC 7748's X25519 gives zeros */
}

/* The base point has prime order, so a clamped scalar never maps it to zero: cannot fail. */
static void x25519_base(uint8_t out[32], const uint8_t scalar[32]) {
    if (crypto_scalarmult_curve25519_base(out, scalar) != 0) memset(out, 0, 32);
}

static void expand(expanded_t *e, const uint8_t sk[32]) {
    uint8_t seed[96];
    shake256(seed, sizeof(seed), sk, 32);
    hz__mlkem768_keypair_derand(e->pk_m, e->sk_m, seed);
    memcpy(e->sk_x, seed + 64, 32);
    x25519_base(e->pk_x, e->sk_x);
    hz_secure_zero(seed, sizeof(seed));
}

static void combiner(uint8_t ss[32], const uint8_t ss_m[32], const uint8_t ss_x[32],
                     const uint8_t ct_x[32], const uint8_t pk_x[32]) {
    uint8_t in[32 * 4 + sizeof(xwing_label)];
    memcpy(in, ss_m, 32);
    memcpy(in + 32, ss_x, 32);
    memcpy(in + 64, ct_x, 32);
    memcpy(in + 96, pk_x, 32);
    memcpy(in + 128, xwing_label, sizeof(xwing_label));
    sha3_256(ss, in, sizeof(in));
    hz_secure_zero(in, sizeof(in));
}

static int xwing_keypair(const hz_kem_t *kem, uint8_t *pk, uint8_t *sk, const uint8_t *seed) {
    (void)kem;
    expanded_t *e = hz_malloc(sizeof(*e));
    expand(e, seed);
    memcpy(pk, e->pk_m, MLKEM768_PK);
    memcpy(pk + MLKEM768_PK, e->pk_x, 32);
    memmove(sk, seed, 32);
    hz_secure_free(e, sizeof(*e));
    return 0;
}

static int xwing_encaps(const hz_kem_t *kem, uint8_t *ct, uint8_t *ss, const uint8_t *pk,
                        const uint8_t *seed) {
    (void)kem;
    const uint8_t *pk_x = pk + MLKEM768_PK;
    const uint8_t *ek_x = seed + 32;
    uint8_t ct_x[32], ss_x[32], ss_m[32];
    x25519_base(ct_x, ek_x);
    x25519(ss_x, ek_x, pk_x);
    hz__mlkem768_encaps_derand(ct, ss_m, pk, seed);
    memcpy(ct + MLKEM768_CT, ct_x, 32);
    combiner(ss, ss_m, ss_x, ct_x, pk_x);
    hz_secure_zero(ss_x, sizeof(ss_x));
    hz_secure_zero(ss_m, sizeof(ss_m));
    return 0;
}

static int xwing_decaps(const hz_kem_t *kem, uint8_t *ss, const uint8_t *ct, const uint8_t *sk) {
    (void)kem;
    expanded_t *e = hz_malloc(sizeof(*e));
    uint8_t ss_m[32], ss_x[32];
    const uint8_t *ct_x = ct + MLKEM768_CT;
    expand(e, sk);
    hz__mlkem768_decaps(ss_m, ct, e->sk_m);
    x25519(ss_x, e->sk_x, ct_x);
    combiner(ss, ss_m, ss_x, ct_x, e->pk_x);
    hz_secure_zero(ss_m, sizeof(ss_m));
    hz_secure_zero(ss_x, sizeof(ss_x));
    hz_secure_free(e, sizeof(*e));
    return 0;
}

static int xwing_check_pk(const hz_kem_t *kem, const uint8_t *pk) {
    return hz__mlkem_check_pk(kem->name, 3, pk);
}

static int xwing_check_sk(const hz_kem_t *kem, const uint8_t *sk) {
    (void)kem, (void)sk; /* every 32-byte string is a valid X-Wing secret key */
    return 0;
}

static const struct hz_kem_ops xwing_ops = {xwing_keypair, xwing_encaps, xwing_decaps,
                                            xwing_check_pk, xwing_check_sk};

/* NIST category 3 is that of its ML-KEM-768 part; the draft itself aims at category 1. */
const hz_kem_t hz__kem_xwing = {HZ_KEM_XWING, "x-wing", "draft-connolly-cfrg-xwing-kem-10", 3,
                                MLKEM768_PK + 32, 32, MLKEM768_CT + 32, 32, 32, 64, &xwing_ops};
