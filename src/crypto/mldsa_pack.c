/*
 * ML-DSA parameter sets and encodings for the fast path (FIPS 204 sections 4 and 7.1-7.3):
 * public key, secret key, signature with its hint encoding, w1Encode, and ExpandMask's
 * BitUnpack. Plain C: these run once or twice per operation on a few thousand coefficients.
 *
 * Every field is a run of fixed-width little-endian bit groups, so one packer serves them all:
 * values are gathered in groups whose width is a whole number of bytes (eight 13-bit t0
 * values = 13 bytes, four 10-bit t1 values = 5 bytes, ...) and written byte by byte. The
 * signed fields are stored as offset - value (eta - s, 2^12 - t0, gamma1 - z), as FIPS 204's
 * BitPack(w, a, b) does with b - w.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <string.h>

#include "crypto/mldsa_poly.h"

static const hz_mldsa_params_t sets[] = {
    {44, 4, 4, 2, 39, 78, 80, 32, 1 << 17, (HZ_DQ - 1) / 88, 18, 6, 3, 1312, 2560, 2420},
    {65, 6, 5, 4, 49, 196, 55, 48, 1 << 19, (HZ_DQ - 1) / 32, 20, 4, 4, 1952, 4032, 3309},
    {87, 8, 7, 2, 60, 120, 75, 64, 1 << 19, (HZ_DQ - 1) / 32, 20, 4, 3, 2592, 4896, 4627},
};

const hz_mldsa_params_t *hz__mldsa_params(int set) {
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        if (sets[i].set == set) return &sets[i];
    return NULL;
}

/* 256 values of d bits, groups of g values (g * d a multiple of 8, at most 128). Stored value is
 * off - c when neg, else c. Inlined with constant d and g, so the loops unroll into shifts on a
 * 64-bit word, or a 128-bit one for groups wider than 64 bits. */
#define PACK_BODY(W)                                                                             \
    for (unsigned i = 0; i < 256 / g; i++) {                                                     \
        W v = 0;                                                                                 \
        _Pragma("GCC unroll 8") for (unsigned j = 0; j < g; j++) {                               \
            uint32_t x = (uint32_t)(neg ? off - c[g * i + j] : c[g * i + j]) & ((1u << d) - 1);  \
            v |= (W)x << (d * j);                                                                \
        }                                                                                        \
        _Pragma("GCC unroll 16") for (unsigned j = 0; j < bytes; j++) r[bytes * i + j] = (uint8_t)(v >> (8 * j)); \
    }
#define UNPACK_BODY(W)                                                                           \
    for (unsigned i = 0; i < 256 / g; i++) {                                                     \
        W v = 0;                                                                                 \
        _Pragma("GCC unroll 16") for (unsigned j = 0; j < bytes; j++) v |= (W)a[bytes * i + j] << (8 * j); \
        _Pragma("GCC unroll 8") for (unsigned j = 0; j < g; j++) {                               \
            int32_t x = (int32_t)((uint32_t)(v >> (d * j)) & ((1u << d) - 1));                   \
            c[g * i + j] = neg ? off - x : x;                                                    \
        }                                                                                        \
    }

static inline __attribute__((always_inline)) void pack(uint8_t *r, const int32_t *c, unsigned d, unsigned g,
                                                       int neg, int32_t off) {
    const unsigned bytes = g * d / 8;
    if (g * d <= 64) {
        PACK_BODY(uint64_t)
    } else {
        PACK_BODY(unsigned __int128)
    }
}

static inline __attribute__((always_inline)) void unpack(int32_t *c, const uint8_t *a, unsigned d, unsigned g,
                                                         int neg, int32_t off) {
    const unsigned bytes = g * d / 8;
    if (g * d <= 64) {
        UNPACK_BODY(uint64_t)
    } else {
        UNPACK_BODY(unsigned __int128)
    }
}

/* The widths that occur, each a separate instantiation. */
static void pack_eta(const hz_mldsa_params_t *p, uint8_t *r, const hz_dpoly_t *a) {
    if (p->eta == 2) pack(r, a->c, 3, 8, 1, 2);
    else pack(r, a->c, 4, 2, 1, 4);
}
static void unpack_eta(const hz_mldsa_params_t *p, hz_dpoly_t *a, const uint8_t *r) {
    if (p->eta == 2) unpack(a->c, r, 3, 8, 1, 2);
    else unpack(a->c, r, 4, 2, 1, 4);
}
static void pack_z(const hz_mldsa_params_t *p, uint8_t *r, const hz_dpoly_t *a) {
    if (p->z_bits == 18) pack(r, a->c, 18, 4, 1, 1 << 17);
    else hz__dpoly_pack_z20(r, a);
}

#define ETA_BYTES(p) (32 * (p)->eta_bits)
#define Z_BYTES(p) (32 * (p)->z_bits)
#define T1_BYTES 320
#define T0_BYTES 416

void hz__mldsa_pack_pk(const hz_mldsa_params_t *p, uint8_t *pk, const uint8_t rho[32], const hz_dpoly_t *t1) {
    memcpy(pk, rho, 32);
    for (unsigned i = 0; i < p->k; i++) pack(pk + 32 + T1_BYTES * i, t1[i].c, 10, 4, 0, 0);
}

void hz__mldsa_unpack_pk(const hz_mldsa_params_t *p, uint8_t rho[32], hz_dpoly_t *t1, const uint8_t *pk) {
    memcpy(rho, pk, 32);
    for (unsigned i = 0; i < p->k; i++) unpack(t1[i].c, pk + 32 + T1_BYTES * i, 10, 4, 0, 0);
}

void hz__mldsa_pack_sk(const hz_mldsa_params_t *p, uint8_t *sk, const uint8_t rho[32], const uint8_t key[32],
                       const uint8_t tr[64], const hz_dpoly_t *s1, const hz_dpoly_t *s2, const hz_dpoly_t *t0) {
    memcpy(sk, rho, 32);
    memcpy(sk + 32, key, 32);
    memcpy(sk + 64, tr, 64);
    sk += 128;
    for (unsigned i = 0; i < p->l; i++, sk += ETA_BYTES(p)) pack_eta(p, sk, &s1[i]);
    for (unsigned i = 0; i < p->k; i++, sk += ETA_BYTES(p)) pack_eta(p, sk, &s2[i]);
    for (unsigned i = 0; i < p->k; i++, sk += T0_BYTES) pack(sk, t0[i].c, 13, 8, 1, 1 << 12);
}

void hz__mldsa_unpack_sk(const hz_mldsa_params_t *p, uint8_t rho[32], uint8_t key[32], uint8_t tr[64],
                         hz_dpoly_t *s1, hz_dpoly_t *s2, hz_dpoly_t *t0, const uint8_t *sk) {
    memcpy(rho, sk, 32);
    memcpy(key, sk + 32, 32);
    memcpy(tr, sk + 64, 64);
    sk += 128;
    for (unsigned i = 0; i < p->l; i++, sk += ETA_BYTES(p)) unpack_eta(p, &s1[i], sk);
    for (unsigned i = 0; i < p->k; i++, sk += ETA_BYTES(p)) unpack_eta(p, &s2[i], sk);
    for (unsigned i = 0; i < p->k; i++, sk += T0_BYTES) unpack(t0[i].c, sk, 13, 8, 1, 1 << 12);
}

void hz__mldsa_pack_sig(const hz_mldsa_params_t *p, uint8_t *sig, const hz_dpoly_t *z, const hz_dpoly_t *h) {
    sig += p->ctilde;
    /* the vector z packer writes a few bytes past each field: into the next field, or into
     * the hint bytes, which are written afterwards */
    for (unsigned i = 0; i < p->l; i++, sig += Z_BYTES(p)) pack_z(p, sig, &z[i]);
    /* HintBitPack: the positions of the ones, polynomial by polynomial, then k running counts.
     * The signer checked that there are at most omega ones. */
    memset(sig, 0, p->omega + p->k);
    unsigned n = 0;
    for (unsigned i = 0; i < p->k; i++) {
        n += hz__dpoly_hint_positions(sig + n, &h[i]);
        sig[p->omega + i] = (uint8_t)n;
    }
}

int hz__mldsa_unpack_sig(const hz_mldsa_params_t *p, hz_dpoly_t *z, hz_dpoly_t *h, const uint8_t *sig) {
    sig += p->ctilde;
    /* the z fields are followed by the omega + k >= 61 hint bytes, which covers the
     * vector unpacker's read past each field */
    for (unsigned i = 0; i < p->l; i++, sig += Z_BYTES(p)) hz__dpoly_unpack_z(&z[i], sig, p->z_bits);
    /* HintBitUnpack: counts never decrease nor exceed omega, positions strictly increase within
     * a polynomial, and the unused position bytes are zero; anything else is malformed. */
    unsigned n = 0;
    for (unsigned i = 0; i < p->k; i++) {
        memset(h[i].c, 0, sizeof(h[i].c));
        unsigned end = sig[p->omega + i];
        if (end < n || end > p->omega) return -1;
        for (unsigned j = n; j < end; j++) {
            if (j > n && sig[j] <= sig[j - 1]) return -1;
            h[i].c[sig[j]] = 1;
        }
        n = end;
    }
    for (unsigned j = n; j < p->omega; j++)
        if (sig[j]) return -1;
    return 0;
}

void hz__mldsa_pack_w1(const hz_mldsa_params_t *p, uint8_t *r, const hz_dpoly_t *w1) {
    for (unsigned i = 0; i < p->k; i++, r += 32 * p->w1_bits) {
        if (p->w1_bits == 6) pack(r, w1[i].c, 6, 4, 0, 0);
        else hz__dpoly_pack_w1_4(r, &w1[i]);
    }
}


#endif
