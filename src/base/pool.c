/*
 * A fixed thread pool over a bounded FIFO queue. The bound is the back-pressure: when work
 * arrives faster than it is done, submit says HZ_EBUSY and the caller answers "busy" instead of
 * queueing without limit. Shutdown drains: queued tasks still run before the threads exit.
 */
#include "hanzo/base.h"

#include <pthread.h>
#include <string.h>

typedef struct task {
    hz_task_fn fn;
    void *arg;
    struct task *next;
} task_t;

struct hz_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    task_t *head, *tail;
    size_t queued, running, queue_max;
    bool closing;
    int n_threads;
    pthread_t *threads;
};

static void *worker(void *arg) {
    hz_pool_t *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->closing) pthread_cond_wait(&pool->ready, &pool->lock);
        task_t *t = pool->head;
        if (!t) break; /* closing and drained */
        pool->head = t->next;
        if (!pool->head) pool->tail = NULL;
        pool->queued--;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);
        t->fn(t->arg);
        hz_free(t);
        pthread_mutex_lock(&pool->lock);
        pool->running--;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

hz_pool_t *hz_pool_new(int threads, size_t queue_max, const char *name) {
    hz_pool_t *pool = hz_calloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->queue_max = queue_max ? queue_max : 1024;
    pool->threads = hz_calloc((size_t)(threads > 0 ? threads : 1), sizeof(pthread_t));
    for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0) break;
        if (name) {
            char tname[32];
            snprintf(tname, sizeof(tname), "%.10s-%d", name, i);
            tname[15] = '\0'; /* the kernel's limit for thread names */
            pthread_setname_np(pool->threads[i], tname);
        }
        pool->n_threads++;
    }
    if (pool->n_threads == 0) {
        hz_pool_free(pool);
        hz_error_set(HZ_EINTERNAL, "could not start any worker thread");
        return NULL;
    }
    return pool;
}

int hz_pool_submit(hz_pool_t *pool, hz_task_fn fn, void *arg) {
    pthread_mutex_lock(&pool->lock);
    if (pool->closing) {
        pthread_mutex_unlock(&pool->lock);
        return hz_error_set(HZ_ECLOSED, "thread pool is shutting down");
    }
    if (pool->queued >= pool->queue_max) {
        pthread_mutex_unlock(&pool->lock);
        return hz_error_set(HZ_EBUSY, "thread pool queue is full (%zu tasks)", pool->queue_max);
    }
    task_t *t = hz_malloc(sizeof(*t));
    t->fn = fn, t->arg = arg, t->next = NULL;
    if (pool->tail) pool->tail->next = t; else pool->head = t;
    pool->tail = t;
    pool->queued++;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

size_t hz_pool_pending(hz_pool_t *pool) {
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->queued + pool->running;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void hz_pool_free(hz_pool_t *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->closing = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n_threads; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    hz_free(pool->threads);
    hz_free(pool);
}
