/*
 * Private to src/crypto: our Keccak (FIPS 202) - the permutation, a sponge without allocation,
 * SHA3-256/512 and SHAKE128/256, and a four-way interleaved sponge for the AVX2 path.
 *
 * The round is written once, as KECCAK_ROUND below, over three operation macros (XOR, ANDN =
 * ~a & b, ROL) that each user defines: keccak.c instantiates it on uint64_t lanes and keccak_x4.c
 * on __m256i vectors holding the same lane of four independent states. The 25 lanes are named
 * <prefix><x><y> (x = column, y = row, lane index x + 5y), so the compiler keeps them in
 * registers, and two rounds ping-pong between two sets of names instead of copying.
 *
 * Per round (FIPS 202 section 3.2): theta makes the column parities c[x] and the masks
 * d[x] = c[x-1] ^ rol(c[x+1], 1); rho and pi move lane (x, y), xored with d[x] and rotated by
 * r[x][y], to position (y, 2x + 3y); so output row Y reads, for X = 0..4, input lane
 * (X + 3Y, X). chi then mixes each output row, and iota xors the round constant into lane (0, 0).
 */
#ifndef HZ_CRYPTO_KECCAK_H
#define HZ_CRYPTO_KECCAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HZ_SHAKE128_RATE 168
#define HZ_SHAKE256_RATE 136
#define HZ_SHA3_256_RATE 136
#define HZ_SHA3_512_RATE 72
#define HZ_KECCAK_SHA3 0x06  /* domain-separation and first padding bits, FIPS 202 B.2 */
#define HZ_KECCAK_SHAKE 0x1F

extern const uint64_t hz__keccak_rc[24];

/* One output row of chi (with iota's constant xored into its first lane by the caller). */
#define KECCAK_CHI_ROW(E, Y, b0, b1, b2, b3, b4)                                                 \
    E##0##Y = XOR(b0, ANDN(b1, b2));                                                             \
    E##1##Y = XOR(b1, ANDN(b2, b3));                                                             \
    E##2##Y = XOR(b2, ANDN(b3, b4));                                                             \
    E##3##Y = XOR(b3, ANDN(b4, b0));                                                             \
    E##4##Y = XOR(b4, ANDN(b0, b1));

/* One round from lanes A.. into lanes E..; T is the lane type, RC the round constant (as T). */
#define KECCAK_ROUND(T, A, E, RC)                                                                \
    do {                                                                                         \
        T c0 = XOR(XOR(XOR(A##00, A##01), XOR(A##02, A##03)), A##04);                            \
        T c1 = XOR(XOR(XOR(A##10, A##11), XOR(A##12, A##13)), A##14);                            \
        T c2 = XOR(XOR(XOR(A##20, A##21), XOR(A##22, A##23)), A##24);                            \
        T c3 = XOR(XOR(XOR(A##30, A##31), XOR(A##32, A##33)), A##34);                            \
        T c4 = XOR(XOR(XOR(A##40, A##41), XOR(A##42, A##43)), A##44);                            \
        T d0 = XOR(c4, ROL(c1, 1)), d1 = XOR(c0, ROL(c2, 1)), d2 = XOR(c1, ROL(c3, 1));          \
        T d3 = XOR(c2, ROL(c4, 1)), d4 = XOR(c3, ROL(c0, 1));                                    \
        T b0, b1, b2, b3, b4;                                                                    \
        b0 = XOR(A##00, d0);                                                                     \
        b1 = ROL(XOR(A##11, d1), 44);                                                            \
        b2 = ROL(XOR(A##22, d2), 43);                                                            \
        b3 = ROL(XOR(A##33, d3), 21);                                                            \
        b4 = ROL(XOR(A##44, d4), 14);                                                            \
        KECCAK_CHI_ROW(E, 0, b0, b1, b2, b3, b4)                                                 \
        E##00 = XOR(E##00, RC);                                                                  \
        b0 = ROL(XOR(A##30, d3), 28);                                                            \
        b1 = ROL(XOR(A##41, d4), 20);                                                            \
        b2 = ROL(XOR(A##02, d0), 3);                                                             \
        b3 = ROL(XOR(A##13, d1), 45);                                                            \
        b4 = ROL(XOR(A##24, d2), 61);                                                            \
        KECCAK_CHI_ROW(E, 1, b0, b1, b2, b3, b4)                                                 \
        b0 = ROL(XOR(A##10, d1), 1);                                                             \
        b1 = ROL(XOR(A##21, d2), 6);                                                             \
        b2 = ROL(XOR(A##32, d3), 25);                                                            \
        b3 = ROL(XOR(A##43, d4), 8);                                                             \
        b4 = ROL(XOR(A##04, d0), 18);                                                            \
        KECCAK_CHI_ROW(E, 2, b0, b1, b2, b3, b4)                                                 \
        b0 = ROL(XOR(A##40, d4), 27);                                                            \
        b1 = ROL(XOR(A##01, d0), 36);                                                            \
        b2 = ROL(XOR(A##12, d1), 10);                                                            \
        b3 = ROL(XOR(A##23, d2), 15);                                                            \
        b4 = ROL(XOR(A##34, d3), 56);                                                            \
        KECCAK_CHI_ROW(E, 3, b0, b1, b2, b3, b4)                                                 \
        b0 = ROL(XOR(A##20, d2), 62);                                                            \
        b1 = ROL(XOR(A##31, d3), 55);                                                            \
        b2 = ROL(XOR(A##42, d4), 39);                                                            \
        b3 = ROL(XOR(A##03, d0), 41);                                                            \
        b4 = ROL(XOR(A##14, d1), 2);                                                             \
        KECCAK_CHI_ROW(E, 4, b0, b1, b2, b3, b4)                                                 \
    } while (0)

/* Declares the 25 lanes P00..P44 of type T. */
#define KECCAK_LANES(T, P)                                                                       \
    T P##00, P##10, P##20, P##30, P##40, P##01, P##11, P##21, P##31, P##41, P##02, P##12, P##22, \
        P##32, P##42, P##03, P##13, P##23, P##33, P##43, P##04, P##14, P##24, P##34, P##44

/* Applies M(lane, index) to every lane of P, index = x + 5y. */
#define KECCAK_EACH(M, P)                                                                        \
    M(P##00, 0); M(P##10, 1); M(P##20, 2); M(P##30, 3); M(P##40, 4);                             \
    M(P##01, 5); M(P##11, 6); M(P##21, 7); M(P##31, 8); M(P##41, 9);                             \
    M(P##02, 10); M(P##12, 11); M(P##22, 12); M(P##32, 13); M(P##42, 14);                        \
    M(P##03, 15); M(P##13, 16); M(P##23, 17); M(P##33, 18); M(P##43, 19);                        \
    M(P##04, 20); M(P##14, 21); M(P##24, 22); M(P##34, 23); M(P##44, 24)

/* ---- one state ------------------------------------------------------------------------- */

/* Keccak-f[1600] on lanes in host order (lane i holds bytes 8i..8i+7 little-endian). */
void hz__keccakf1600(uint64_t s[25]);

/* A sponge: absorb any number of times, finalize once, then squeeze any number of times. */
typedef struct {
    uint64_t s[25];
    unsigned pos;  /* absorbing: bytes xored into the current block; squeezing: bytes taken */
    unsigned rate; /* bytes */
} hz_keccak_t;

void hz__keccak_init(hz_keccak_t *k, unsigned rate);
void hz__keccak_absorb(hz_keccak_t *k, const uint8_t *in, size_t len);
void hz__keccak_finalize(hz_keccak_t *k, uint8_t domain);
void hz__keccak_squeeze(hz_keccak_t *k, uint8_t *out, size_t len);

void hz__sha3_256(uint8_t out[32], const uint8_t *in, size_t len);
void hz__sha3_512(uint8_t out[64], const uint8_t *in, size_t len);
void hz__shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);
void hz__shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);

/* ---- four states at once (AVX2, keccak_x4.c) ------------------------------------------- */

/* Lane i of state j is s[i][j]: one 256-bit vector per lane index. */
typedef struct {
    _Alignas(32) uint64_t s[25][4];
} hz_keccakx4_t;

/* Four SHAKE instances (rate 168 or 136) absorbing one equal-length input each, in a single
 * call, then squeezed in whole blocks of `rate` bytes into four outputs. The inputs are short
 * seeds (< one block each), which is all ML-KEM and ML-DSA need. Requires AVX2. */
void hz__shakex4_absorb_once(hz_keccakx4_t *st, unsigned rate, const uint8_t *in0, const uint8_t *in1,
                             const uint8_t *in2, const uint8_t *in3, size_t len);
void hz__shakex4_squeezeblocks(hz_keccakx4_t *st, unsigned rate, uint8_t *out0, uint8_t *out1,
                               uint8_t *out2, uint8_t *out3, size_t nblocks);
void hz__keccakf1600x4(hz_keccakx4_t *st);

#endif
