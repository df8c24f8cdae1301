/*
 * Multi-threaded BLAKE3 of one in-memory input (usually a memory-mapped file).
 *
 * BLAKE3 is a binary tree over 1 KiB chunks in which every left subtree holds the largest power
 * of two number of chunks that leaves at least one byte for the right. So if the input is cut
 * into equal segments of 2^s chunks, every segment that is complete is a node of the tree, and
 * every node above them splits exactly at segment boundaries. Threads hash complete segments
 * independently (each one with the library's SIMD kernels, 16 chunks per blake3_hash_many call),
 * storing one chaining value per segment; then one recursive walk of the tree above the
 * segments reads those values, hashes the short tail (the last, incomplete segment) directly,
 * and compresses the root with the ROOT flag to give the output - any length, as extended
 * output. The result is by construction the sequential hash; the unit tests and b3sum check it.
 *
 * Work is handed out through an atomic segment counter, so a thread slowed by page faults does
 * not hold up the others. The calling thread works too.
 */
#include "crypto/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <blake3_impl.h>

#define CHUNK BLAKE3_CHUNK_LEN
#define BATCH 16                       /* chunks per blake3_hash_many call */
#define SEG_MAX ((uint64_t)1 << 20)    /* segment size to aim for: 1 MiB = 1024 chunks */
#define SEG_MIN ((uint64_t)64 << 10)   /* never smaller than 64 chunks */
#define PARALLEL_MIN ((size_t)4 << 20) /* below this, threads cost more than they save */

typedef struct {
    uint32_t key[8];
    uint8_t flags; /* 0, KEYED_HASH or DERIVE_KEY_MATERIAL */
} b3mode_t;

static void parent_cv(const b3mode_t *m, const uint8_t block[64], uint8_t out[32]) {
    uint32_t cv[8];
    memcpy(cv, m->key, sizeof(cv));
    blake3_compress_in_place(cv, block, BLAKE3_BLOCK_LEN, 0, (uint8_t)(m->flags | PARENT));
    store_cv_words(out, cv);
}

/* Chaining value of one chunk of 1..1024 bytes that is not the root. */
static void chunk_cv(const b3mode_t *m, const uint8_t *in, size_t len, uint64_t index, uint8_t out[32]) {
    uint32_t cv[8];
    memcpy(cv, m->key, sizeof(cv));
    size_t nblocks = (len + BLAKE3_BLOCK_LEN - 1) / BLAKE3_BLOCK_LEN;
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t block[BLAKE3_BLOCK_LEN] = {0};
        size_t n = len - b * BLAKE3_BLOCK_LEN;
        if (n > BLAKE3_BLOCK_LEN) n = BLAKE3_BLOCK_LEN;
        memcpy(block, in + b * BLAKE3_BLOCK_LEN, n);
        uint8_t f = m->flags;
        if (b == 0) f |= CHUNK_START;
        if (b == nblocks - 1) f |= CHUNK_END;
        blake3_compress_in_place(cv, block, (uint8_t)n, index, f);
    }
    store_cv_words(out, cv);
}

/* Chaining value of a complete subtree of nchunks = 2^j full chunks starting at chunk `index`.
 * Chunks go through blake3_hash_many 16 at a time and each batch is reduced to one value, also
 * with blake3_hash_many; batch values then merge on a stack, a pair whenever the number of
 * batches done so far is even at that level - the same lazy merge the streaming hasher does. */
static void subtree_cv(const b3mode_t *m, const uint8_t *in, uint64_t nchunks, uint64_t index,
                       uint8_t out[32]) {
    uint8_t stack[64][32];
    size_t depth = 0;
    uint8_t cvs[BATCH * 32], tmp[BATCH / 2 * 32];
    const uint8_t *ptrs[BATCH];
    uint64_t batch = nchunks < BATCH ? nchunks : BATCH;

    for (uint64_t done = 0; done < nchunks; done += batch) {
        for (uint64_t i = 0; i < batch; i++) ptrs[i] = in + (done + i) * CHUNK;
        blake3_hash_many(ptrs, (size_t)batch, CHUNK / BLAKE3_BLOCK_LEN, m->key, index + done, true,
                         m->flags, CHUNK_START, CHUNK_END, cvs);
        for (size_t n = (size_t)batch; n > 1; n /= 2) {
            for (size_t i = 0; i < n / 2; i++) ptrs[i] = cvs + 64 * i;
            blake3_hash_many(ptrs, n / 2, 1, m->key, 0, false, (uint8_t)(m->flags | PARENT), 0, 0, tmp);
            memcpy(cvs, tmp, n / 2 * 32);
        }
        memcpy(stack[depth++], cvs, 32);
        for (uint64_t completed = done / batch + 1; (completed & 1) == 0; completed >>= 1) {
            parent_cv(m, stack[depth - 2], stack[depth - 2]); /* stack rows are contiguous: a 64-byte block */
            depth--;
        }
    }
    memcpy(out, stack[0], 32);
}

/* Bytes in the left subtree of a node spanning len > CHUNK bytes. */
static uint64_t left_len(uint64_t len) {
    uint64_t full = (len - 1) / CHUNK; /* chunks that leave at least one byte on the right */
    return ((uint64_t)1 << (63 - __builtin_clzll(full))) * CHUNK;
}

static bool is_full_pow2_subtree(uint64_t len) {
    return len % CHUNK == 0 && ((len / CHUNK) & (len / CHUNK - 1)) == 0;
}

typedef struct {
    b3mode_t mode;
    const uint8_t *data;
    uint64_t len;
    uint64_t seg;       /* segment size in bytes, a power-of-two number of chunks */
    uint64_t nseg;      /* complete segments */
    uint8_t *seg_cvs;   /* nseg x 32 bytes */
    atomic_uint_fast64_t next;
} tree_t;

/* Chaining value of the (non-root) node spanning [off, off + len). */
static void node_cv(const tree_t *t, uint64_t off, uint64_t len, uint8_t out[32]) {
    if (len == t->seg && off / t->seg < t->nseg) {
        memcpy(out, t->seg_cvs + off / t->seg * 32, 32);
    } else if (len <= CHUNK) {
        chunk_cv(&t->mode, t->data + off, (size_t)len, off / CHUNK, out);
    } else if (len < t->seg && is_full_pow2_subtree(len)) {
        subtree_cv(&t->mode, t->data + off, len / CHUNK, off / CHUNK, out);
    } else {
        uint8_t block[64];
        uint64_t l = left_len(len);
        node_cv(t, off, l, block);
        node_cv(t, off + l, len - l, block + 32);
        parent_cv(&t->mode, block, out);
    }
}

static void *worker(void *arg) {
    tree_t *t = arg;
    for (;;) {
        uint64_t i = atomic_fetch_add(&t->next, 1);
        if (i >= t->nseg) break;
        subtree_cv(&t->mode, t->data + i * t->seg, t->seg / CHUNK, i * (t->seg / CHUNK), t->seg_cvs + i * 32);
    }
    return NULL;
}

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

void hz__blake3_tree(const hz_blake3_hasher_t *mode, int threads, const void *data, size_t len,
                     uint64_t seg, uint8_t *out, size_t out_len) {
    if (len <= CHUNK) { /* the root is a chunk, not a parent: the library handles that case */
        blake3_hasher h = mode->impl;
        blake3_hasher_update(&h, data, len);
        blake3_hasher_finalize(&h, out, out_len);
        hz_secure_zero(&h, sizeof(h));
        return;
    }
    if (threads < 1) threads = 1;
    tree_t t = {.data = data, .len = len, .seg = seg, .nseg = len / seg};
    memcpy(t.mode.key, mode->impl.key, sizeof(t.mode.key));
    t.mode.flags = mode->impl.chunk.flags;
    t.seg_cvs = hz_malloc((size_t)(t.nseg ? t.nseg : 1) * 32);
    atomic_init(&t.next, 0);
    if ((uint64_t)threads > t.nseg) threads = t.nseg ? (int)t.nseg : 1;

    pthread_t *tids = hz_calloc((size_t)threads, sizeof(*tids));
    int started = 0;
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tids[started], NULL, worker, &t) != 0) break; /* fewer threads is fine */
        started++;
    }
    worker(&t);
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    hz_free(tids);

    /* The root: parent of the two top subtrees, compressed with ROOT as often as output needs. */
    uint8_t block[64];
    uint64_t l = left_len(len);
    node_cv(&t, 0, l, block);
    node_cv(&t, l, len - l, block + 32);
    for (uint64_t counter = 0; out_len > 0; counter++) {
        uint8_t wide[64];
        blake3_compress_xof(t.mode.key, block, BLAKE3_BLOCK_LEN, counter, (uint8_t)(t.mode.flags | PARENT | ROOT), wide);
        size_t n = out_len < sizeof(wide) ? out_len : sizeof(wide);
        memcpy(out, wide, n);
        out += n;
        out_len -= n;
    }
    hz_secure_zero(&t.mode, sizeof(t.mode));
    hz_secure_zero(block, sizeof(block));
    hz_free(t.seg_cvs);
}

void hz_blake3_parallel(const hz_blake3_hasher_t *mode, int threads, const void *data, size_t len,
                        uint8_t *out, size_t out_len) {
    hz_blake3_hasher_t plain;
    if (!mode) {
        hz_blake3_init(&plain);
        mode = &plain;
    }
    if (threads <= 0) threads = online_cpus();
    if (threads == 1 || len < PARALLEL_MIN) {
        blake3_hasher h = mode->impl;
        blake3_hasher_update(&h, data, len);
        blake3_hasher_finalize(&h, out, out_len);
        hz_secure_zero(&h, sizeof(h));
        return;
    }
    /* Enough segments for every thread to take several, so an unlucky one cannot dominate. */
    uint64_t seg = SEG_MAX;
    while (seg > SEG_MIN && len / seg < (uint64_t)threads * 8) seg /= 2;
    hz__blake3_tree(mode, threads, data, len, seg, out, out_len);
}
