/*
 * ML-DSA's samplers for the fast path (FIPS 204 section 7.3): ExpandA, ExpandS, ExpandMask and
 * SampleInBall.
 *
 * The first three run one SHAKE instance per polynomial over a seed that differs only in a
 * two-byte index, so they go four at a time through the four-way Keccak; a single leftover
 * polynomial takes the scalar sponge instead (a third of the cost of a four-way permutation).
 * Each instance first squeezes the blocks that almost always suffice (five SHAKE128 blocks give
 * 280 candidates for RejNTTPoly's 256; two SHAKE256 blocks give 544 half-bytes for
 * RejBoundedPoly); any instance that came up short gets more blocks, so the result is FIPS 204's
 * whatever the stream holds. ExpandMask needs no rejection: 5 SHAKE256 blocks cover its 576 or
 * 640 bytes.
 *
 * RejBoundedPoly runs on secret seeds (key generation's s1, s2), so its step has no branch on
 * the stream's values and divides by 5 with a multiply and shift.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <string.h>

#include "crypto/internal.h"
#include "crypto/keccak.h"
#include "crypto/mldsa_poly.h"

#define MAX_BLOCKS 5

/* A batch of up to four SHAKE instances over equal-length seeds, squeezed block by block. */
typedef struct {
    unsigned n, rate;
    hz_keccakx4_t x4;
    hz_keccak_t one;
    _Alignas(32) uint8_t buf[4][MAX_BLOCKS * HZ_SHAKE128_RATE];
} batch_t;

static void batch_start(batch_t *b, unsigned n, unsigned rate, uint8_t seeds[4][66], size_t len) {
    b->n = n;
    b->rate = rate;
    if (n == 1) {
        hz__keccak_init(&b->one, rate);
        hz__keccak_absorb(&b->one, seeds[0], len);
        hz__keccak_finalize(&b->one, HZ_KECCAK_SHAKE);
    } else {
        for (unsigned j = n; j < 4; j++) memcpy(seeds[j], seeds[0], len);
        hz__shakex4_absorb_once(&b->x4, rate, seeds[0], seeds[1], seeds[2], seeds[3], len);
    }
}

/* The next `blocks` blocks of every instance into buf[j]. */
static void batch_squeeze(batch_t *b, unsigned blocks) {
    if (b->n == 1)
        hz__keccak_squeeze(&b->one, b->buf[0], (size_t)blocks * b->rate);
    else
        hz__shakex4_squeezeblocks(&b->x4, b->rate, b->buf[0], b->buf[1], b->buf[2], b->buf[3], blocks);
}

static void batch_wipe(batch_t *b) {
    hz_secure_zero(b, sizeof(*b));
}

void hz__mldsa_expand_a(const hz_mldsa_params_t *p, hz_dpoly_t *a, const uint8_t rho[32]) {
    unsigned total = p->k * p->l;
    batch_t b;
    for (unsigned e = 0; e < total; e += 4) {
        unsigned n = total - e < 4 ? total - e : 4, ctr[4] = {0, 0, 0, 0};
        uint8_t seeds[4][66];
        for (unsigned j = 0; j < n; j++) {
            memcpy(seeds[j], rho, 32);
            seeds[j][32] = (uint8_t)((e + j) % p->l); /* column s, then row r */
            seeds[j][33] = (uint8_t)((e + j) / p->l);
        }
        batch_start(&b, n, HZ_SHAKE128_RATE, seeds, 34);
        batch_squeeze(&b, MAX_BLOCKS);
        for (unsigned j = 0; j < n; j++)
            ctr[j] = hz__dpoly_rej_uniform(a[e + j].c, 256, b.buf[j], MAX_BLOCKS * HZ_SHAKE128_RATE);
        for (;;) {
            bool more = false;
            for (unsigned j = 0; j < n; j++) more |= ctr[j] < 256;
            if (!more) break;
            batch_squeeze(&b, 1);
            for (unsigned j = 0; j < n; j++)
                ctr[j] += hz__dpoly_rej_uniform(a[e + j].c + ctr[j], 256 - ctr[j], b.buf[j], HZ_SHAKE128_RATE);
        }
    }
}

/* RejBoundedPoly's step: half-bytes below 15 (eta 2) or 9 (eta 4) become eta - (b mod 5) or
 * eta - b. Each candidate is stored and the count advanced by the comparison's result, so the
 * loop does not branch on the (secret) stream, only on having filled the polynomial. */
static unsigned rej_eta(int32_t *r, unsigned need, const uint8_t *buf, size_t len, unsigned eta) {
    unsigned ctr = 0;
    for (size_t i = 0; i < len && ctr < need; i++) {
        uint32_t t0 = buf[i] & 0x0Fu, t1 = buf[i] >> 4u;
        if (eta == 2) {
            r[ctr] = 2 - (int32_t)(t0 - (205 * t0 >> 10) * 5);
            ctr += t0 < 15;
            if (ctr == need) break;
            r[ctr] = 2 - (int32_t)(t1 - (205 * t1 >> 10) * 5);
            ctr += t1 < 15;
        } else {
            r[ctr] = 4 - (int32_t)t0;
            ctr += t0 < 9;
            if (ctr == need) break;
            r[ctr] = 4 - (int32_t)t1;
            ctr += t1 < 9;
        }
    }
    return ctr;
}

void hz__mldsa_expand_s(const hz_mldsa_params_t *p, hz_dpoly_t *s1, hz_dpoly_t *s2, const uint8_t rhop[64]) {
    unsigned total = p->l + p->k;
    batch_t b;
    for (unsigned e = 0; e < total; e += 4) {
        unsigned n = total - e < 4 ? total - e : 4, ctr[4] = {0, 0, 0, 0};
        uint8_t seeds[4][66];
        hz_dpoly_t *out[4];
        for (unsigned j = 0; j < n; j++) {
            unsigned r = e + j;
            memcpy(seeds[j], rhop, 64);
            seeds[j][64] = (uint8_t)r;
            seeds[j][65] = (uint8_t)(r >> 8);
            out[j] = r < p->l ? &s1[r] : &s2[r - p->l];
        }
        batch_start(&b, n, HZ_SHAKE256_RATE, seeds, 66);
        batch_squeeze(&b, 2);
        for (unsigned j = 0; j < n; j++) ctr[j] = rej_eta(out[j]->c, 256, b.buf[j], 2 * HZ_SHAKE256_RATE, p->eta);
        for (;;) {
            bool more = false;
            for (unsigned j = 0; j < n; j++) more |= ctr[j] < 256;
            if (!more) break;
            batch_squeeze(&b, 1);
            for (unsigned j = 0; j < n; j++)
                ctr[j] += rej_eta(out[j]->c + ctr[j], 256 - ctr[j], b.buf[j], HZ_SHAKE256_RATE, p->eta);
        }
        hz_secure_zero(seeds, sizeof(seeds));
    }
    batch_wipe(&b);
}

void hz__mldsa_mask_init(hz_mldsa_mask_t *m, const hz_mldsa_params_t *p, const uint8_t rhopp[64]) {
    m->p = p;
    memcpy(m->rhopp, rhopp, 64);
    m->next = 0;
    m->have = m->used = 0;
}

void hz__mldsa_mask_next(hz_mldsa_mask_t *m, hz_dpoly_t *y, unsigned n) {
    batch_t b;
    bool used_batch = false;
    for (unsigned j = 0; j < n; j++) {
        if (m->used == m->have) {
            uint8_t seeds[4][66];
            for (unsigned i = 0; i < 4; i++) {
                uint16_t nonce = (uint16_t)(m->next + i);
                memcpy(seeds[i], m->rhopp, 64);
                seeds[i][64] = (uint8_t)nonce;
                seeds[i][65] = (uint8_t)(nonce >> 8);
            }
            batch_start(&b, 4, HZ_SHAKE256_RATE, seeds, 66);
            batch_squeeze(&b, MAX_BLOCKS);
            /* 5 blocks = 680 bytes: room for the unpacker's read past the 640 it uses */
            for (unsigned i = 0; i < 4; i++) hz__dpoly_unpack_z(&m->buf[i], b.buf[i], m->p->z_bits);
            hz_secure_zero(seeds, sizeof(seeds));
            m->next += 4;
            m->have = 4;
            m->used = 0;
            used_batch = true;
        }
        y[j] = m->buf[m->used++];
    }
    if (used_batch) batch_wipe(&b);
}

void hz__mldsa_sample_in_ball(const hz_mldsa_params_t *p, hz_dpoly_t *c, const uint8_t *ctilde) {
    hz_keccak_t h;
    uint8_t buf[HZ_SHAKE256_RATE];
    hz__keccak_init(&h, HZ_SHAKE256_RATE);
    hz__keccak_absorb(&h, ctilde, p->ctilde);
    hz__keccak_finalize(&h, HZ_KECCAK_SHAKE);
    hz__keccak_squeeze(&h, buf, sizeof(buf));
    uint64_t signs = 0;
    for (int i = 0; i < 8; i++) signs |= (uint64_t)buf[i] << (8 * i);
    size_t pos = 8;
    memset(c->c, 0, sizeof(c->c));
    for (unsigned i = 256 - p->tau; i < 256; i++) {
        unsigned j;
        do {
            if (pos == sizeof(buf)) {
                hz__keccak_squeeze(&h, buf, sizeof(buf));
                pos = 0;
            }
            j = buf[pos++];
        } while (j > i);
        c->c[i] = c->c[j];
        c->c[j] = 1 - 2 * (int32_t)(signs & 1);
        signs >>= 1;
    }
}

#endif
