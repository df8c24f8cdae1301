/*
 * Per-key rate limits: requests per minute and tokens per minute over a sliding minute.
 *
 * Each key has a ring of 60 one-second buckets; bucket i holds the requests admitted and the
 * tokens charged during one epoch second (remembered beside the counts, so a bucket left over
 * from an earlier lap of the ring is recognised as stale and reads as zero). The window at time
 * t is the 60 seconds ending with t's second, so a limit is exact to within one second and costs
 * 60 additions per check, with no allocation on the hot path once a key is known.
 *
 * A request is admitted while the requests in the window are below the limit and the tokens are
 * below theirs; tokens are only known once a request finishes, so the token limit lets the
 * request that crosses it finish and refuses the next ones. When refused, Retry-After is the
 * moment enough of the oldest buckets leave the window to bring both counts under their limits.
 *
 * Memory stays bounded by the keys active in the last minute: a key idle for longer has an
 * empty window, so it is dropped by a sweep that runs at most once a second. One mutex guards
 * the table; the work under it is a hash lookup and a 60-slot scan.
 */
#include <pthread.h>
#include <string.h>

#include "gw_internal.h"

#define LIM_SLOTS 60
#define LIM_WINDOW_MS (LIM_SLOTS * 1000)

typedef struct lim_key {
    struct lim_key *next;
    uint64_t hash;
    int64_t last_ms;            /* last admit or charge */
    int64_t sec[LIM_SLOTS];     /* the epoch second bucket i counts; -1 never used */
    int64_t req[LIM_SLOTS];
    int64_t tok[LIM_SLOTS];
    char id[];
} lim_key_t;

struct hz_gw_limits {
    int64_t rpm, tpm;
    pthread_mutex_t mu;
    lim_key_t **table;          /* chained hash table, power-of-two size */
    size_t cap, count;
    int64_t last_sweep_s;
};

/* Visible for the unit tests: the number of keys currently tracked. */
size_t gw_limits_count(hz_gw_limits_t *l);

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Floor division, so times before 1970 (or a test's small clock) still map to whole seconds. */
static int64_t sec_of(int64_t ms) {
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

hz_gw_limits_t *hz_gw_limits_new(int64_t requests_per_minute, int64_t tokens_per_minute) {
    hz_gw_limits_t *l = hz_calloc(1, sizeof(*l));
    l->rpm = requests_per_minute > 0 ? requests_per_minute : 0;
    l->tpm = tokens_per_minute > 0 ? tokens_per_minute : 0;
    pthread_mutex_init(&l->mu, NULL);
    l->cap = 64;
    l->table = hz_calloc(l->cap, sizeof(*l->table));
    l->last_sweep_s = INT64_MIN;
    return l;
}

void hz_gw_limits_free(hz_gw_limits_t *l) {
    if (!l) return;
    for (size_t i = 0; i < l->cap; i++) {
        lim_key_t *k = l->table[i];
        while (k) {
            lim_key_t *next = k->next;
            hz_free(k);
            k = next;
        }
    }
    hz_free(l->table);
    pthread_mutex_destroy(&l->mu);
    hz_free(l);
}

static void grow(hz_gw_limits_t *l) {
    size_t cap = l->cap * 2;
    lim_key_t **t = hz_calloc(cap, sizeof(*t));
    for (size_t i = 0; i < l->cap; i++) {
        lim_key_t *k = l->table[i];
        while (k) {
            lim_key_t *next = k->next;
            size_t b = k->hash & (cap - 1);
            k->next = t[b];
            t[b] = k;
            k = next;
        }
    }
    hz_free(l->table);
    l->table = t;
    l->cap = cap;
}

/* Drop every key whose last activity left the window; their counts are all zero by now. */
static void sweep(hz_gw_limits_t *l, int64_t now_ms) {
    int64_t now_s = sec_of(now_ms);
    if (now_s == l->last_sweep_s) return;
    l->last_sweep_s = now_s;
    for (size_t i = 0; i < l->cap; i++) {
        lim_key_t **pp = &l->table[i];
        while (*pp) {
            lim_key_t *k = *pp;
            if (now_ms - k->last_ms > LIM_WINDOW_MS) {
                *pp = k->next;
                hz_free(k);
                l->count--;
            } else {
                pp = &k->next;
            }
        }
    }
}

static lim_key_t *lookup(hz_gw_limits_t *l, const char *id, bool create) {
    uint64_t h = fnv1a(id);
    for (lim_key_t *k = l->table[h & (l->cap - 1)]; k; k = k->next)
        if (k->hash == h && strcmp(k->id, id) == 0) return k;
    if (!create) return NULL;
    if (l->count >= l->cap) grow(l);
    size_t n = strlen(id);
    lim_key_t *k = hz_calloc(1, sizeof(*k) + n + 1);
    memcpy(k->id, id, n + 1);
    k->hash = h;
    for (int i = 0; i < LIM_SLOTS; i++) k->sec[i] = -1;
    size_t b = h & (l->cap - 1);
    k->next = l->table[b];
    l->table[b] = k;
    l->count++;
    return k;
}

/* The bucket for now_s, cleared if it still holds an older second. */
static int slot_for(lim_key_t *k, int64_t now_s) {
    int i = (int)(((now_s % LIM_SLOTS) + LIM_SLOTS) % LIM_SLOTS);
    if (k->sec[i] != now_s) {
        k->sec[i] = now_s;
        k->req[i] = 0;
        k->tok[i] = 0;
    }
    return i;
}

static bool in_window(int64_t sec, int64_t now_s) {
    return sec > now_s - LIM_SLOTS && sec <= now_s;
}

/* Milliseconds until the count in `v` over the window drops below `limit`, walking the buckets
 * from the oldest second; 0 if it already is. */
static int64_t wait_for(const lim_key_t *k, const int64_t *v, int64_t limit, int64_t now_ms) {
    int64_t now_s = sec_of(now_ms), total = 0;
    for (int i = 0; i < LIM_SLOTS; i++)
        if (in_window(k->sec[i], now_s)) total += v[i];
    if (total < limit) return 0;
    for (int64_t s = now_s - LIM_SLOTS + 1; s <= now_s; s++) {
        int i = (int)(((s % LIM_SLOTS) + LIM_SLOTS) % LIM_SLOTS);
        if (k->sec[i] != s) continue;
        total -= v[i];
        if (total < limit) {
            int64_t leaves_ms = (s + LIM_SLOTS) * 1000;   /* bucket s is out of the window then */
            return leaves_ms > now_ms ? leaves_ms - now_ms : 1;
        }
    }
    return LIM_WINDOW_MS;  /* unreachable with limit > 0; a full window is the safe answer */
}

int hz_gw_limits_admit(hz_gw_limits_t *l, const char *key_id, int64_t now_ms, int64_t *retry_after_ms) {
    if (retry_after_ms) *retry_after_ms = -1;
    if (!l || (!l->rpm && !l->tpm)) return 0;
    if (!key_id) key_id = "";
    pthread_mutex_lock(&l->mu);
    sweep(l, now_ms);
    lim_key_t *k = lookup(l, key_id, true);
    k->last_ms = now_ms;
    int64_t wait_req = l->rpm ? wait_for(k, k->req, l->rpm, now_ms) : 0;
    int64_t wait_tok = l->tpm ? wait_for(k, k->tok, l->tpm, now_ms) : 0;
    int64_t wait = wait_req > wait_tok ? wait_req : wait_tok;
    if (wait == 0) k->req[slot_for(k, sec_of(now_ms))]++;
    pthread_mutex_unlock(&l->mu);
    if (wait == 0) return 0;
    if (retry_after_ms) *retry_after_ms = wait;
    if (wait_req >= wait_tok)
        return hz_error_set(HZ_EBUSY, "rate limit reached: %lld requests per minute for this API key; retry in %lld ms",
                            (long long)l->rpm, (long long)wait);
    return hz_error_set(HZ_EBUSY, "rate limit reached: %lld tokens per minute for this API key; retry in %lld ms",
                        (long long)l->tpm, (long long)wait);
}

void hz_gw_limits_charge(hz_gw_limits_t *l, const char *key_id, int64_t now_ms, int64_t tokens) {
    if (!l || !l->tpm || tokens <= 0) return;
    if (!key_id) key_id = "";
    pthread_mutex_lock(&l->mu);
    lim_key_t *k = lookup(l, key_id, true);
    k->last_ms = now_ms;
    k->tok[slot_for(k, sec_of(now_ms))] += tokens;
    pthread_mutex_unlock(&l->mu);
}

size_t gw_limits_count(hz_gw_limits_t *l) {
    pthread_mutex_lock(&l->mu);
    size_t n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}
