/*
 * The hashing pipeline. Every data byte of an artifact is hashed twice: once into its file's own
 * BLAKE3 (and CRC-32), once into the content hash, which runs over all files' paths and bytes in
 * order. The content hash is one sequential stream - the path bytes shift the chunk alignment of
 * each file, so it cannot be split into per-file trees - but it is independent of the per-file
 * work, so a helper thread computes it while the calling thread does the rest. Pieces are read
 * into a small ring of buffers; a buffer is reused only after the helper has hashed it, which is
 * the only synchronisation there is. Memory: AI_NBUF buffers of AI_HASH_BUF bytes.
 *
 * With threads == 1 (or when the helper cannot start) everything runs on the calling thread.
 */
#include "artifact/internal.h"

#include <pthread.h>
#include <string.h>

#define AI_NBUF 4

typedef enum { JOB_DATA, JOB_PATH } job_kind_t;

typedef struct {
    job_kind_t kind;
    const uint8_t *p;
    size_t len;
} job_t;

struct ai_hasher {
    bool threaded;
    bool with_crc;
    uint8_t *bufs[AI_NBUF];
    uint64_t buf_use[AI_NBUF];   /* job sequence number of each buffer's last use (0 = never) */
    size_t next_buf;
    hz_blake3_hasher_t file;
    uint32_t crc;
    hz_blake3_hasher_t content;  /* owned by the helper while threaded */
    char *paths[AI_NBUF * 2];    /* path copies handed to the helper */
    size_t next_path;
    uint64_t path_use[AI_NBUF * 2];

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t queue[AI_NBUF * 3];
    size_t qhead, qlen;
    uint64_t submitted, done;    /* job sequence numbers */
    bool stop;
};

static void *helper(void *arg) {
    ai_hasher_t *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->qlen == 0 && !h->stop) pthread_cond_wait(&h->cv, &h->mu);
        if (h->qlen == 0) break;
        job_t j = h->queue[h->qhead];
        pthread_mutex_unlock(&h->mu);
        hz_blake3_update(&h->content, j.p, j.len);
        pthread_mutex_lock(&h->mu);
        h->qhead = (h->qhead + 1) % (sizeof(h->queue) / sizeof(h->queue[0]));
        h->qlen--;
        h->done++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

ai_hasher_t *ai_hasher_new(int threads, bool with_crc) {
    ai_hasher_t *h = hz_calloc(1, sizeof(*h));
    h->with_crc = with_crc;
    for (int i = 0; i < AI_NBUF; i++) h->bufs[i] = hz_malloc(AI_HASH_BUF);
    hz_blake3_init(&h->content);
    hz_blake3_init(&h->file);
    if (threads != 1) {
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
        if (pthread_create(&h->thread, NULL, helper, h) == 0) {
            h->threaded = true;
        } else {
            pthread_mutex_destroy(&h->mu);
            pthread_cond_destroy(&h->cv);
        }
    }
    return h;
}

/* Wait until the helper has finished job number seq. */
static void wait_done(ai_hasher_t *h, uint64_t seq) {
    if (!h->threaded || seq == 0) return;
    pthread_mutex_lock(&h->mu);
    while (h->done < seq) pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static uint64_t submit(ai_hasher_t *h, job_kind_t kind, const uint8_t *p, size_t len) {
    if (!h->threaded) {
        hz_blake3_update(&h->content, p, len);
        return 0;
    }
    const size_t cap = sizeof(h->queue) / sizeof(h->queue[0]);
    pthread_mutex_lock(&h->mu);
    while (h->qlen == cap) pthread_cond_wait(&h->cv, &h->mu);
    h->queue[(h->qhead + h->qlen) % cap] = (job_t){kind, p, len};
    h->qlen++;
    uint64_t seq = ++h->submitted;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return seq;
}

void ai_hasher_free(ai_hasher_t *h) {
    if (!h) return;
    if (h->threaded) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
    }
    for (int i = 0; i < AI_NBUF; i++) hz_free(h->bufs[i]);
    for (size_t i = 0; i < sizeof(h->paths) / sizeof(h->paths[0]); i++) hz_free(h->paths[i]);
    hz_free(h);
}

uint8_t *ai_hasher_buf(ai_hasher_t *h) {
    size_t i = h->next_buf;
    h->next_buf = (i + 1) % AI_NBUF;
    wait_done(h, h->buf_use[i]);
    h->buf_use[i] = 0;
    return h->bufs[i];
}

void ai_hasher_begin(ai_hasher_t *h, const char *path) {
    hz_blake3_reset(&h->file);
    h->crc = 0;
    size_t i = h->next_path;
    h->next_path = (i + 1) % (sizeof(h->paths) / sizeof(h->paths[0]));
    wait_done(h, h->path_use[i]);
    hz_free(h->paths[i]);
    h->paths[i] = hz_strdup(path);
    h->path_use[i] = submit(h, JOB_PATH, (const uint8_t *)h->paths[i], strlen(path));
}

void ai_hasher_feed(ai_hasher_t *h, uint8_t *buf, size_t len) {
    if (len == 0) return;
    uint64_t seq = submit(h, JOB_DATA, buf, len);
    for (int i = 0; i < AI_NBUF; i++)
        if (h->bufs[i] == buf) h->buf_use[i] = seq;
    hz_blake3_update(&h->file, buf, len);
    if (h->with_crc) h->crc = ai_crc32(h->crc, buf, len);
}

void ai_hasher_end(ai_hasher_t *h, uint8_t file_hash[32], uint32_t *crc) {
    hz_blake3_final(&h->file, file_hash, 32);
    if (crc) *crc = h->crc;
}

void ai_hasher_content(ai_hasher_t *h, uint8_t out[32]) {
    wait_done(h, h->submitted);
    hz_blake3_final(&h->content, out, 32);
}
