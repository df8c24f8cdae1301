/*
 * Keccak-f[1600] and the sponge on top of it (FIPS 202): SHA3-256, SHA3-512, SHAKE128, SHAKE256.
 *
 * ML-KEM and ML-DSA spend a large share of their time in Keccak, so the permutation is the fully
 * unrolled round of keccak.h over 25 local lanes, two rounds per loop iteration with the lanes
 * trading places, so nothing is copied between rounds. On x86-64 CPUs with BMI1/BMI2 the same
 * code is compiled a second time for them: ANDN does chi's ~a & b in one instruction and RORX
 * rotates without clobbering its input (about 15% faster on the development machine, and about
 * twice as fast as PQClean's permutation). The choice is made per call from the CPU's feature
 * bits (a load and a branch).
 *
 * The sponge keeps its state in a plain struct with no allocation (PQClean's incremental API
 * mallocs a context per hash). Whole input blocks are xored in as 64-bit little-endian words;
 * partial blocks byte by byte.
 */
#include "crypto/keccak.h"

#include <string.h>

const uint64_t hz__keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

#define XOR(a, b) ((a) ^ (b))
#define ANDN(a, b) (~(a) & (b))
#define ROL(a, n) (((a) << (n)) | ((a) >> (64 - (n))))

static inline __attribute__((always_inline)) void permute(uint64_t s[25]) {
    KECCAK_LANES(uint64_t, a);
    KECCAK_LANES(uint64_t, e);
#define LOAD_LANE(l, i) l = s[i]
#define STORE_LANE(l, i) s[i] = l
    KECCAK_EACH(LOAD_LANE, a);
    for (int r = 0; r < 24; r += 2) {
        KECCAK_ROUND(uint64_t, a, e, hz__keccak_rc[r]);
        KECCAK_ROUND(uint64_t, e, a, hz__keccak_rc[r + 1]);
    }
    KECCAK_EACH(STORE_LANE, a);
#undef LOAD_LANE
#undef STORE_LANE
}

static void permute_generic(uint64_t s[25]) {
    permute(s);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("bmi,bmi2"))) static void permute_bmi(uint64_t s[25]) {
    permute(s);
}
#endif

void hz__keccakf1600(uint64_t s[25]) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("bmi2")) {
        permute_bmi(s);
        return;
    }
#endif
    permute_generic(s);
}

/* ---- sponge ------------------------------------------------------------------------------ */

static inline uint64_t load64le(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store64le(uint8_t *p, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

void hz__keccak_init(hz_keccak_t *k, unsigned rate) {
    memset(k->s, 0, sizeof(k->s));
    k->pos = 0;
    k->rate = rate;
}

void hz__keccak_absorb(hz_keccak_t *k, const uint8_t *in, size_t len) {
    while (len > 0) {
        if (k->pos == 0 && len >= k->rate) {
            for (unsigned i = 0; i < k->rate / 8; i++) k->s[i] ^= load64le(in + 8 * i);
            hz__keccakf1600(k->s);
            in += k->rate;
            len -= k->rate;
            continue;
        }
        size_t n = k->rate - k->pos < len ? k->rate - k->pos : len;
        for (size_t i = 0; i < n; i++, k->pos++) k->s[k->pos / 8] ^= (uint64_t)in[i] << 8 * (k->pos % 8);
        in += n;
        len -= n;
        if (k->pos == k->rate) {
            hz__keccakf1600(k->s);
            k->pos = 0;
        }
    }
}

void hz__keccak_finalize(hz_keccak_t *k, uint8_t domain) {
    k->s[k->pos / 8] ^= (uint64_t)domain << 8 * (k->pos % 8);
    k->s[(k->rate - 1) / 8] ^= 0x80ULL << 8 * ((k->rate - 1) % 8);
    k->pos = k->rate; /* the first squeeze permutes */
}

void hz__keccak_squeeze(hz_keccak_t *k, uint8_t *out, size_t len) {
    while (len > 0) {
        if (k->pos == k->rate) {
            hz__keccakf1600(k->s);
            k->pos = 0;
        }
        if (k->pos == 0 && len >= k->rate) {
            for (unsigned i = 0; i < k->rate / 8; i++) store64le(out + 8 * i, k->s[i]);
            k->pos = k->rate;
            out += k->rate;
            len -= k->rate;
            continue;
        }
        size_t n = k->rate - k->pos < len ? k->rate - k->pos : len;
        for (size_t i = 0; i < n; i++, k->pos++) out[i] = (uint8_t)(k->s[k->pos / 8] >> 8 * (k->pos % 8));
        out += n;
        len -= n;
    }
}

static void oneshot(unsigned rate, uint8_t domain, uint8_t *out, size_t out_len, const uint8_t *in, size_t len) {
    hz_keccak_t k;
    hz__keccak_init(&k, rate);
    hz__keccak_absorb(&k, in, len);
    hz__keccak_finalize(&k, domain);
    hz__keccak_squeeze(&k, out, out_len);
}

void hz__sha3_256(uint8_t out[32], const uint8_t *in, size_t len) {
    oneshot(HZ_SHA3_256_RATE, HZ_KECCAK_SHA3, out, 32, in, len);
}

void hz__sha3_512(uint8_t out[64], const uint8_t *in, size_t len) {
    oneshot(HZ_SHA3_512_RATE, HZ_KECCAK_SHA3, out, 64, in, len);
}

void hz__shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len) {
    oneshot(HZ_SHAKE128_RATE, HZ_KECCAK_SHAKE, out, out_len, in, len);
}

void hz__shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len) {
    oneshot(HZ_SHAKE256_RATE, HZ_KECCAK_SHAKE, out, out_len, in, len);
}
