/*
 * ML-KEM-512/768/1024 (FIPS 203) on the AVX2 kernels: K-PKE (Algorithms 13-15) and the
 * derandomised ML-KEM internal functions (Algorithms 16-18), for any k in one body.
 *
 * Where the time goes and what is done about it: the matrix A (k^2 SampleNTT calls, three or
 * more SHAKE128 blocks each) and the noise (2k+1 PRF calls) are generated four at a time with
 * the four-way Keccak (keccak_x4.c), and the candidates of SampleNTT are filtered with vector
 * compares; the NTTs and products are mlkem_avx2.c; the single-stream hashes (H, G, J) use our
 * scalar Keccak. A is generated whole before use (at most 16 polynomials, 8 KiB of stack).
 * Compression, decompression and the eta = 2 binomial sampler are vector kernels too; the
 * 12-bit encodings are scalar.
 *
 * Nothing branches on or indexes memory by secret data: compression (also of the decrypted
 * message) is multiplications, decapsulation's re-encryption check and the choice between K'
 * and K-bar are branch-free. Secret intermediates are wiped before returning.
 */
#include "crypto/pqfast.h"

#if HZ_PQFAST_X86

#include <string.h>

#include "crypto/internal.h"
#include "crypto/keccak.h"
#include "crypto/mlkem_poly.h"

#define Q HZ_KQ
#define KMAX 4
#define POLYBYTES 384

typedef struct {
    unsigned k, eta1, du, dv; /* eta2 is 2 in every parameter set */
} params_t;

static params_t params(unsigned k) {
    params_t p = {k, k == 2 ? 3 : 2, k == 4 ? 11 : 10, k == 4 ? 5 : 4};
    return p;
}

/* ---- encodings ---------------------------------------------------------------------------- */

/* ByteEncode12 of a canonical polynomial. */
static void encode12(uint8_t *r, const hz_kpoly_t *a) {
    for (int i = 0; i < 128; i++) {
        uint16_t t0 = (uint16_t)a->c[2 * i], t1 = (uint16_t)a->c[2 * i + 1];
        r[3 * i] = (uint8_t)t0;
        r[3 * i + 1] = (uint8_t)(t0 >> 8 | t1 << 4);
        r[3 * i + 2] = (uint8_t)(t1 >> 4);
    }
}

/* ByteDecode12 without the reduction mod q: values < 4096, which every consumer accepts. */
static void decode12(hz_kpoly_t *r, const uint8_t *a) {
    for (int i = 0; i < 128; i++) {
        r->c[2 * i] = (int16_t)(a[3 * i] | (a[3 * i + 1] & 0x0F) << 8);
        r->c[2 * i + 1] = (int16_t)(a[3 * i + 1] >> 4 | a[3 * i + 2] << 4);
    }
}

/* ---- sampling ----------------------------------------------------------------------------- */

/* SamplePolyCBD_eta: eta = 2 in vectors; eta = 3 (ML-KEM-512's eta1, 192 bytes) here, each
 * coefficient being the difference of two 3-bit sums of consecutive stream bits. */
static void cbd(hz_kpoly_t *r, const uint8_t *buf, unsigned eta) {
    if (eta == 2) {
        hz__kpoly_cbd2(r, buf);
        return;
    }
    for (int i = 0; i < 64; i++) {
        uint32_t t = (uint32_t)buf[3 * i] | (uint32_t)buf[3 * i + 1] << 8 | (uint32_t)buf[3 * i + 2] << 16;
        uint32_t d = (t & 0x249249) + (t >> 1 & 0x249249) + (t >> 2 & 0x249249);
        r->c[4 * i] = (int16_t)((int)(d & 7) - (int)(d >> 3 & 7));
        r->c[4 * i + 1] = (int16_t)((int)(d >> 6 & 7) - (int)(d >> 9 & 7));
        r->c[4 * i + 2] = (int16_t)((int)(d >> 12 & 7) - (int)(d >> 15 & 7));
        r->c[4 * i + 3] = (int16_t)((int)(d >> 18 & 7) - (int)(d >> 21 & 7));
    }
}

/* SampleNTT(rho || x || y) for n <= 4 polynomials; xy[j] holds the two index bytes. One
 * polynomial alone takes the scalar sponge, which costs a third of a four-way permutation. */
static void sample_ntt(hz_kpoly_t *const out[4], const uint8_t rho[32], const uint8_t xy[4][2], unsigned n) {
    uint8_t seed[4][34];
    for (unsigned j = 0; j < 4; j++) {
        memcpy(seed[j], rho, 32);
        memcpy(seed[j] + 32, xy[j < n ? j : 0], 2);
    }
    uint8_t buf[4][3 * HZ_SHAKE128_RATE];
    unsigned ctr[4] = {0, 0, 0, 0};
    if (n == 1) {
        hz_keccak_t k;
        hz__keccak_init(&k, HZ_SHAKE128_RATE);
        hz__keccak_absorb(&k, seed[0], 34);
        hz__keccak_finalize(&k, HZ_KECCAK_SHAKE);
        hz__keccak_squeeze(&k, buf[0], sizeof(buf[0]));
        ctr[0] = hz__kpoly_rej_uniform(out[0]->c, 256, buf[0], sizeof(buf[0]));
        while (ctr[0] < 256) {
            hz__keccak_squeeze(&k, buf[0], HZ_SHAKE128_RATE);
            ctr[0] += hz__kpoly_rej_uniform(out[0]->c + ctr[0], 256 - ctr[0], buf[0], HZ_SHAKE128_RATE);
        }
        return;
    }
    hz_keccakx4_t st;
    hz__shakex4_absorb_once(&st, HZ_SHAKE128_RATE, seed[0], seed[1], seed[2], seed[3], 34);
    hz__shakex4_squeezeblocks(&st, HZ_SHAKE128_RATE, buf[0], buf[1], buf[2], buf[3], 3);
    for (unsigned j = 0; j < n; j++) ctr[j] = hz__kpoly_rej_uniform(out[j]->c, 256, buf[j], sizeof(buf[j]));
    for (;;) {
        bool more = false;
        for (unsigned j = 0; j < n; j++) more |= ctr[j] < 256;
        if (!more) break;
        hz__shakex4_squeezeblocks(&st, HZ_SHAKE128_RATE, buf[0], buf[1], buf[2], buf[3], 1);
        for (unsigned j = 0; j < n; j++)
            ctr[j] += hz__kpoly_rej_uniform(out[j]->c + ctr[j], 256 - ctr[j], buf[j], HZ_SHAKE128_RATE);
    }
}

/* A[i*k + j] = A-hat[i][j] = SampleNTT(rho || j || i), or its transpose. */
static void gen_matrix(hz_kpoly_t *a, const uint8_t rho[32], unsigned k, bool transposed) {
    for (unsigned e = 0; e < k * k; e += 4) {
        hz_kpoly_t *out[4];
        uint8_t xy[4][2];
        unsigned n = k * k - e < 4 ? k * k - e : 4;
        for (unsigned j = 0; j < n; j++) {
            unsigned row = (e + j) / k, col = (e + j) % k;
            out[j] = &a[e + j];
            xy[j][0] = (uint8_t)(transposed ? row : col);
            xy[j][1] = (uint8_t)(transposed ? col : row);
        }
        sample_ntt(out, rho, xy, n);
    }
}

/* out[i] = SamplePolyCBD_eta[i](PRF_eta[i](seed, nonce0 + i)) for i < n. */
static void sample_noise(hz_kpoly_t *const out[], const unsigned eta[], const uint8_t seed[32], unsigned nonce0,
                         unsigned n) {
    uint8_t in[4][33], buf[4][2 * HZ_SHAKE256_RATE];
    for (unsigned b = 0; b < n; b += 4) {
        unsigned m = n - b < 4 ? n - b : 4, blocks = 1;
        for (unsigned j = 0; j < 4; j++) {
            memcpy(in[j], seed, 32);
            in[j][32] = (uint8_t)(nonce0 + b + (j < m ? j : 0));
            if (j < m && eta[b + j] == 3) blocks = 2;
        }
        if (m == 1) {
            hz__shake256(buf[0], 64 * eta[b], in[0], 33);
        } else {
            hz_keccakx4_t st;
            hz__shakex4_absorb_once(&st, HZ_SHAKE256_RATE, in[0], in[1], in[2], in[3], 33);
            hz__shakex4_squeezeblocks(&st, HZ_SHAKE256_RATE, buf[0], buf[1], buf[2], buf[3], blocks);
            hz_secure_zero(&st, sizeof(st));
        }
        for (unsigned j = 0; j < m; j++) cbd(out[b + j], buf[j], eta[b + j]);
    }
    hz_secure_zero(buf, sizeof(buf));
    hz_secure_zero(in, sizeof(in));
}

/* ---- K-PKE --------------------------------------------------------------------------------- */

/* K-PKE.Encrypt(ek, m, r) -> ct (Algorithm 14). */
static void encrypt(const params_t *p, uint8_t *ct, const uint8_t *ek, const uint8_t m[32], const uint8_t r[32]) {
    unsigned k = p->k;
    hz_kpoly_t a[KMAX * KMAX], t[KMAX], y[KMAX], e1[KMAX], e2, u, mp;
    hz_kpoly_prep_t yp[KMAX];
    for (unsigned i = 0; i < k; i++) decode12(&t[i], ek + POLYBYTES * i);
    gen_matrix(a, ek + POLYBYTES * k, k, true);

    hz_kpoly_t *noise[2 * KMAX + 1] = {0};
    unsigned eta[2 * KMAX + 1] = {0};
    for (unsigned i = 0; i < k; i++) {
        noise[i] = &y[i], eta[i] = p->eta1;
        noise[k + i] = &e1[i], eta[k + i] = 2;
    }
    noise[2 * k] = &e2, eta[2 * k] = 2;
    sample_noise(noise, eta, r, 0, 2 * k + 1);

    for (unsigned i = 0; i < k; i++) {
        hz__kpoly_ntt(&y[i]);
        hz__kpoly_prep(&yp[i], &y[i]);
    }
    for (unsigned i = 0; i < k; i++) {
        hz__kpoly_basemul_acc(&u, &a[k * i], yp, k);
        hz__kpoly_invntt(&u);
        hz__kpoly_add(&u, &u, &e1[i]);
        hz__kpoly_canon(&u);
        hz__kpoly_compress(ct + 32 * p->du * i, &u, p->du);
    }
    hz__kpoly_basemul_acc(&u, t, yp, k);
    hz__kpoly_invntt(&u);
    hz__kpoly_add(&u, &u, &e2);
    hz__kpoly_decompress(&mp, m, 1); /* Decompress_1(ByteDecode_1(m)) */
    hz__kpoly_add(&u, &u, &mp);
    hz__kpoly_canon(&u);
    hz__kpoly_compress(ct + 32 * p->du * k, &u, p->dv);

    hz_secure_zero(y, sizeof(y));
    hz_secure_zero(yp, sizeof(yp));
    hz_secure_zero(e1, sizeof(e1));
    hz_secure_zero(&e2, sizeof(e2));
    hz_secure_zero(&mp, sizeof(mp));
    hz_secure_zero(&u, sizeof(u));
}

/* K-PKE.Decrypt(dk, c) -> m (Algorithm 15). */
static void decrypt(const params_t *p, uint8_t m[32], const uint8_t *ct, const uint8_t *dk) {
    unsigned k = p->k;
    hz_kpoly_t u[KMAX], v, w, s;
    hz_kpoly_prep_t sp[KMAX];
    for (unsigned i = 0; i < k; i++) {
        hz__kpoly_decompress(&u[i], ct + 32 * p->du * i, p->du);
        hz__kpoly_ntt(&u[i]);
        decode12(&s, dk + POLYBYTES * i);
        hz__kpoly_prep(&sp[i], &s);
    }
    hz__kpoly_decompress(&v, ct + 32 * p->du * k, p->dv);
    hz__kpoly_basemul_acc(&w, u, sp, k);
    hz__kpoly_invntt(&w);
    hz__kpoly_sub(&w, &v, &w);
    hz__kpoly_canon(&w);
    hz__kpoly_compress(m, &w, 1);
    hz_secure_zero(&s, sizeof(s));
    hz_secure_zero(sp, sizeof(sp));
    hz_secure_zero(&w, sizeof(w));
}

/* ---- ML-KEM internal functions ------------------------------------------------------------ */

/* ML-KEM.KeyGen_internal(d, z) with coins = d || z (Algorithms 13 and 16). */
void hz__mlkem_fast_keypair(unsigned k, uint8_t *pk, uint8_t *sk, const uint8_t coins[64]) {
    params_t p = params(k);
    size_t pk_len = POLYBYTES * k + 32;
    uint8_t in[33], rs[64]; /* d || k, then rho || sigma = G(d || k) */
    memcpy(in, coins, 32);
    in[32] = (uint8_t)k;
    hz__sha3_512(rs, in, sizeof(in));

    hz_kpoly_t a[KMAX * KMAX], s[KMAX], e[KMAX], t;
    hz_kpoly_prep_t sp[KMAX];
    gen_matrix(a, rs, k, false);
    hz_kpoly_t *noise[2 * KMAX] = {0};
    unsigned eta[2 * KMAX] = {0};
    for (unsigned i = 0; i < k; i++) {
        noise[i] = &s[i], noise[k + i] = &e[i];
        eta[i] = eta[k + i] = p.eta1;
    }
    sample_noise(noise, eta, rs + 32, 0, 2 * k);
    for (unsigned i = 0; i < k; i++) {
        hz__kpoly_ntt(&s[i]);
        hz__kpoly_ntt(&e[i]);
        hz__kpoly_prep(&sp[i], &s[i]);
    }
    for (unsigned i = 0; i < k; i++) {
        hz__kpoly_basemul_acc(&t, &a[k * i], sp, k);
        hz__kpoly_tomont(&t);
        hz__kpoly_add(&t, &t, &e[i]);
        hz__kpoly_canon(&t);
        encode12(pk + POLYBYTES * i, &t);
        hz__kpoly_canon(&s[i]);
        encode12(sk + POLYBYTES * i, &s[i]);
    }
    memcpy(pk + POLYBYTES * k, rs, 32);
    /* dk = dk_pke || ek || H(ek) || z */
    memcpy(sk + POLYBYTES * k, pk, pk_len);
    hz__sha3_256(sk + POLYBYTES * k + pk_len, pk, pk_len);
    memcpy(sk + POLYBYTES * k + pk_len + 32, coins + 32, 32);

    hz_secure_zero(in, sizeof(in));
    hz_secure_zero(rs, sizeof(rs));
    hz_secure_zero(s, sizeof(s));
    hz_secure_zero(e, sizeof(e));
    hz_secure_zero(sp, sizeof(sp));
}

/* ML-KEM.Encaps_internal(ek, m) (Algorithm 17). */
void hz__mlkem_fast_encaps(unsigned k, uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t m[32]) {
    params_t p = params(k);
    uint8_t in[64], kr[64]; /* m || H(ek), then K || r = G(m || H(ek)) */
    memcpy(in, m, 32);
    hz__sha3_256(in + 32, pk, POLYBYTES * k + 32);
    hz__sha3_512(kr, in, sizeof(in));
    encrypt(&p, ct, pk, m, kr + 32);
    memcpy(ss, kr, 32);
    hz_secure_zero(in, sizeof(in));
    hz_secure_zero(kr, sizeof(kr));
}

/* ML-KEM.Decaps_internal(dk, c) (Algorithm 18), with implicit rejection. */
void hz__mlkem_fast_decaps(unsigned k, uint8_t *ss, const uint8_t *ct, const uint8_t *sk) {
    params_t p = params(k);
    size_t ct_len = 32 * (p.du * k + p.dv);
    const uint8_t *ek = sk + POLYBYTES * k, *h = ek + POLYBYTES * k + 32, *z = h + 32;
    uint8_t in[64], kr[64], kbar[32], ct2[32 * (11 * KMAX + 5)];

    decrypt(&p, in, ct, sk);
    memcpy(in + 32, h, 32);
    hz__sha3_512(kr, in, sizeof(in));
    hz_keccak_t j; /* K-bar = J(z || c) */
    hz__keccak_init(&j, HZ_SHAKE256_RATE);
    hz__keccak_absorb(&j, z, 32);
    hz__keccak_absorb(&j, ct, ct_len);
    hz__keccak_finalize(&j, HZ_KECCAK_SHAKE);
    hz__keccak_squeeze(&j, kbar, 32);
    encrypt(&p, ct2, ek, in, kr + 32);

    uint8_t diff = 0;
    for (size_t i = 0; i < ct_len; i++) diff |= (uint8_t)(ct[i] ^ ct2[i]);
    /* all ones when the ciphertexts differ, computed without a branch */
    uint8_t reject = (uint8_t)(0 - (uint8_t)(((uint32_t)diff + 0xFF) >> 8));
    for (int i = 0; i < 32; i++) ss[i] = (uint8_t)(kr[i] ^ (reject & (kr[i] ^ kbar[i])));

    hz_secure_zero(in, sizeof(in));
    hz_secure_zero(kr, sizeof(kr));
    hz_secure_zero(kbar, sizeof(kbar));
    hz_secure_zero(&j, sizeof(j));
}

#endif
