/*
 * The engine: which models are loaded, and the chat entry point.
 *
 * Models load on first use. A model moves UNLOADED -> LOADING -> READY under the engine mutex;
 * the load itself runs unlocked on the first requester's thread, and everyone else asking for
 * the same model waits on the engine's condition variable for the state to leave LOADING, so a
 * model is never loaded twice. A request holds the model (users > 0) for its whole duration;
 * only models nobody holds can be unloaded.
 *
 * Memory: every loaded model is charged an estimate from its GGUF header (weights, KV cache at
 * the configured context, compute buffers; see hz_llm_model_info_memory). Before a load, idle
 * models are evicted least-recently-used first until the new one fits the budget. A model that
 * alone exceeds the budget is refused; if the budget is held by models in use, the request gets
 * HZ_EBUSY rather than pushing the machine into swap.
 *
 * Keep-alive: a timer thread unloads models idle longer than keep_alive_ms.
 */
#include "llm/llm_internal.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hz_llm_engine {
    hz_llm_engine_config_t cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* a model changed state or was released */
    llm_model_t *models;
    uint64_t loads;
    pthread_t reaper;
    pthread_cond_t reaper_cv;
    bool stop;
};

static int64_t now_ms(void) { return hz_time_mono_ns() / 1000000; }

const hz_llm_engine_config_t *llm_engine_config(const hz_llm_engine_t *e) { return &e->cfg; }

static void *reaper_main(void *arg) {
    hz_llm_engine_t *e = arg;
    int64_t period = e->cfg.keep_alive_ms / 4;
    if (period < 100) period = 100;
    if (period > 5000) period = 5000;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period / 1000;
        ts.tv_nsec += (period % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&e->reaper_cv, &e->mu, &ts);
        if (e->stop) break;
        pthread_mutex_unlock(&e->mu);
        hz_llm_engine_reap(e);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

hz_llm_engine_t *hz_llm_engine_new(const hz_llm_engine_config_t *cfg) {
    llm_backend_init();
    hz_llm_engine_t *e = hz_calloc(1, sizeof(*e));
    if (cfg) e->cfg = *cfg;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (e->cfg.n_parallel <= 0) e->cfg.n_parallel = 4;
    if (e->cfg.n_parallel > 64) e->cfg.n_parallel = 64;
    if (e->cfg.n_threads <= 0) e->cfg.n_threads = cores > 0 ? (int32_t)cores : 1;
    if (e->cfg.n_batch <= 0) e->cfg.n_batch = 512;
    if (e->cfg.queue_max == 0) e->cfg.queue_max = 16;
    if (e->cfg.keep_alive_ms == 0) e->cfg.keep_alive_ms = 5 * 60 * 1000;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_cond_init(&e->reaper_cv, NULL);
    if (e->cfg.keep_alive_ms > 0 && pthread_create(&e->reaper, NULL, reaper_main, e) != 0) {
        hz_log_warn("llm", "no keep-alive timer thread: idle models stay loaded");
        e->cfg.keep_alive_ms = -1;
    }
    return e;
}

/* Detach what a model holds so it can be freed outside the lock (caller holds e->mu). */
typedef struct unloaded {
    struct llama_model *lm;
    llm_runner_t *runner;
    llm_model_t *m;
} unloaded_t;

static unloaded_t detach_locked(hz_llm_engine_t *e, llm_model_t *m) {
    unloaded_t u = {m->lm, m->runner, m};
    m->lm = NULL;
    m->runner = NULL;
    m->state = LLM_UNLOADED;
    m->memory = 0;
    pthread_cond_broadcast(&e->cv);
    return u;
}

static void free_unloaded(unloaded_t *u) {
    if (!u->m) return;
    llm_runner_free(u->runner);
    pthread_mutex_lock(&u->m->aux_mu);
    llm_embed_unload(u->m);
    for (llm_lora_entry_t *l = u->m->loras, *n; l; l = n) {
        n = l->next;
        llama_adapter_lora_free(l->adapter);
        hz_free(l->path);
        hz_free(l);
    }
    u->m->loras = NULL;
    pthread_mutex_unlock(&u->m->aux_mu);
    if (u->lm) llama_model_free(u->lm);
    hz_log_info("llm", "unloaded %s", u->m->name);
}

void hz_llm_engine_free(hz_llm_engine_t *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_broadcast(&e->reaper_cv);
    pthread_mutex_unlock(&e->mu);
    if (e->cfg.keep_alive_ms > 0) pthread_join(e->reaper, NULL);
    pthread_mutex_lock(&e->mu);
    /* requests still running end as cancelled; wait for their threads to let go */
    for (llm_model_t *m = e->models; m; m = m->next) {
        if (m->runner) llm_runner_cancel_all(m->runner);
        while (m->state == LLM_LOADING || m->users > 0) pthread_cond_wait(&e->cv, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    for (llm_model_t *m = e->models, *n; m; m = n) {
        n = m->next;
        unloaded_t u = {m->lm, m->runner, m};
        if (m->state == LLM_READY) free_unloaded(&u);
        hz_llm_model_info_free(&m->info);
        pthread_mutex_destroy(&m->aux_mu);
        hz_free(m->name);
        hz_free(m->path);
        hz_free(m);
    }
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    pthread_cond_destroy(&e->reaper_cv);
    hz_free(e);
}

static llm_model_t *find_locked(hz_llm_engine_t *e, const char *name) {
    for (llm_model_t *m = e->models; m; m = m->next)
        if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

static llm_model_t *add_locked(hz_llm_engine_t *e, const char *name, const char *path) {
    llm_model_t *m = hz_calloc(1, sizeof(*m));
    m->name = hz_strdup(name);
    m->path = hz_strdup(path);
    pthread_mutex_init(&m->aux_mu, NULL);
    m->next = e->models;
    e->models = m;
    return m;
}

int hz_llm_engine_add(hz_llm_engine_t *e, const char *name, const char *path) {
    if (!name || !*name || !path || !*path) return hz_error_set(HZ_EINVAL, "model name and path are required");
    pthread_mutex_lock(&e->mu);
    llm_model_t *m = find_locked(e, name);
    int rc = 0;
    if (m && strcmp(m->path, path) != 0) rc = hz_error_set(HZ_EEXIST, "model name \"%s\" already refers to %s", name, m->path);
    else if (!m) add_locked(e, name, path);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int hz_llm_engine_add_catalog(hz_llm_engine_t *e, const hz_llm_catalog_t *cat) {
    for (size_t i = 0; i < hz_llm_catalog_count(cat); i++) {
        const hz_llm_model_info_t *mi = hz_llm_catalog_at(cat, i);
        if (mi->adapter) continue;
        int rc = hz_llm_engine_add(e, mi->name, mi->path);
        if (rc) return rc;
    }
    return 0;
}

/* Evict idle models, least recently used first, until `need` more bytes fit (caller holds mu).
 * Returns 0, or HZ_EBUSY/HZ_ETOOBIG. Evicted models are appended to out[]. */
static int make_room_locked(hz_llm_engine_t *e, llm_model_t *self, uint64_t need, unloaded_t *out, int *n_out, int max_out) {
    if (!e->cfg.mem_budget) return 0;
    if (need > e->cfg.mem_budget)
        return hz_error_set(HZ_ETOOBIG, "model %s needs about %llu MiB, more than the whole memory budget (%llu MiB)",
                            self->name, (unsigned long long)(need >> 20), (unsigned long long)(e->cfg.mem_budget >> 20));
    for (;;) {
        uint64_t used = 0;
        llm_model_t *lru = NULL;
        for (llm_model_t *m = e->models; m; m = m->next) {
            if (m->state == LLM_UNLOADED) continue;
            used += m->memory;
            if (m->state == LLM_READY && m->users == 0 && m != self && (!lru || m->last_used < lru->last_used)) lru = m;
        }
        if (used + need <= e->cfg.mem_budget) return 0;
        if (!lru || *n_out == max_out)
            return hz_error_set(HZ_EBUSY, "memory budget: %llu MiB in use by models serving requests, %s needs %llu MiB more",
                                (unsigned long long)(used >> 20), self->name, (unsigned long long)(need >> 20));
        hz_log_info("llm", "evicting %s (least recently used) to make room for %s", lru->name, self->name);
        out[(*n_out)++] = detach_locked(e, lru);
    }
}

/* Load m (its state is LOADING, we are the loader; mu not held). */
static int load_model(hz_llm_engine_t *e, llm_model_t *m, struct llama_model **lm_out, llm_runner_t **runner_out) {
    /* our header reader first: it gives precise errors for truncated and corrupt files */
    hz_llm_model_info_free(&m->info);
    int rc = hz_llm_gguf_read(m->path, &m->info);
    if (rc) return strcmp(m->name, m->path) ? hz_error_wrap(rc, "model %s", m->name) : rc;
    if (m->info.adapter) return hz_error_set(HZ_EINVAL, "%s is a LoRA adapter, not a model", m->path);
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    int64_t t0 = now_ms();
    llm_llama_error_clear();
    struct llama_model *lm = llama_model_load_from_file(m->path, mp);
    if (!lm)
        return hz_error_set(HZ_EPARSE, "model %s: llama.cpp cannot load %s%s%s", m->name, m->path,
                            *llm_llama_error() ? ": " : "", llm_llama_error());
    llm_runner_t *runner = NULL;
    if (!m->info.embedding && llama_model_has_decoder(lm)) {
        llm_runner_config_t rc_cfg = {
            .n_ctx_seq = e->cfg.n_ctx > 0 ? e->cfg.n_ctx : (m->info.ctx_train && m->info.ctx_train < 4096 ? (int32_t)m->info.ctx_train : 4096),
            .n_parallel = e->cfg.n_parallel,
            .n_threads = e->cfg.n_threads,
            .n_batch = e->cfg.n_batch,
            .queue_max = e->cfg.queue_max,
        };
        if ((rc = llm_runner_new(lm, &rc_cfg, m->name, &runner)) != 0) {
            llama_model_free(lm);
            return rc;
        }
    }
    hz_log_info("llm", "loaded %s (%s, %.1fM parameters, %s) in %lld ms", m->name, m->info.arch,
                (double)m->info.n_params / 1e6, m->info.quant, (long long)(now_ms() - t0));
    *lm_out = lm;
    *runner_out = runner;
    return 0;
}

static uint64_t estimate(const hz_llm_engine_t *e, const hz_llm_model_info_t *info) {
    uint32_t per_seq = e->cfg.n_ctx > 0 ? (uint32_t)e->cfg.n_ctx : (info->ctx_train && info->ctx_train < 4096 ? info->ctx_train : 4096);
    return hz_llm_model_info_memory(info, per_seq * (uint32_t)(info->embedding ? 1 : e->cfg.n_parallel));
}

int llm_acquire(hz_llm_engine_t *e, const char *name, llm_model_t **out) {
    *out = NULL;
    if (!name || !*name) return hz_error_set(HZ_EINVAL, "model: required");
    pthread_mutex_lock(&e->mu);
    llm_model_t *m = find_locked(e, name);
    if (!m) {
        struct stat st;
        if (stat(name, &st) != 0 || !S_ISREG(st.st_mode)) {
            pthread_mutex_unlock(&e->mu);
            return hz_error_set(HZ_ENOTFOUND, "model \"%s\" not found (not a known name nor a GGUF file)", name);
        }
        m = add_locked(e, name, name);
    }
    for (;;) {
        if (e->stop) {
            pthread_mutex_unlock(&e->mu);
            return hz_error_set(HZ_ECLOSED, "the engine is shutting down");
        }
        if (m->state == LLM_READY) break;
        if (m->state == LLM_LOADING) { pthread_cond_wait(&e->cv, &e->mu); continue; }
        /* we load it; size it from the header first so the budget can be enforced */
        hz_llm_model_info_t info;
        pthread_mutex_unlock(&e->mu);
        int rc = hz_llm_gguf_read(m->path, &info);
        pthread_mutex_lock(&e->mu);
        if (rc) {
            pthread_mutex_unlock(&e->mu);
            return strcmp(m->name, m->path) ? hz_error_wrap(rc, "model %s", name) : rc;
        }
        if (m->state != LLM_UNLOADED) { hz_llm_model_info_free(&info); continue; } /* someone else won */
        uint64_t need = estimate(e, &info);
        hz_llm_model_info_free(&info);
        unloaded_t evicted[16];
        int n_ev = 0;
        rc = make_room_locked(e, m, need, evicted, &n_ev, 16);
        if (rc) {
            pthread_mutex_unlock(&e->mu);
            for (int i = 0; i < n_ev; i++) free_unloaded(&evicted[i]);
            return rc;
        }
        m->state = LLM_LOADING;
        m->memory = need;
        pthread_mutex_unlock(&e->mu);
        for (int i = 0; i < n_ev; i++) free_unloaded(&evicted[i]);
        struct llama_model *lm = NULL;
        llm_runner_t *runner = NULL;
        rc = load_model(e, m, &lm, &runner);
        pthread_mutex_lock(&e->mu);
        if (rc) {
            m->state = LLM_UNLOADED;
            m->memory = 0;
            pthread_cond_broadcast(&e->cv);
            pthread_mutex_unlock(&e->mu);
            return rc;
        }
        m->lm = lm;
        m->runner = runner;
        m->state = LLM_READY;
        e->loads++;
        pthread_cond_broadcast(&e->cv);
    }
    m->users++;
    m->last_used = now_ms();
    pthread_mutex_unlock(&e->mu);
    *out = m;
    return 0;
}

void llm_release(hz_llm_engine_t *e, llm_model_t *m) {
    pthread_mutex_lock(&e->mu);
    m->users--;
    m->last_used = now_ms();
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

int hz_llm_engine_load(hz_llm_engine_t *e, const char *name) {
    llm_model_t *m;
    int rc = llm_acquire(e, name, &m);
    if (rc == 0) llm_release(e, m);
    return rc;
}

int hz_llm_engine_unload(hz_llm_engine_t *e, const char *name) {
    pthread_mutex_lock(&e->mu);
    llm_model_t *m = find_locked(e, name);
    if (!m) { pthread_mutex_unlock(&e->mu); return hz_error_set(HZ_ENOTFOUND, "model \"%s\" not found", name); }
    if (m->state == LLM_LOADING || m->users > 0) {
        pthread_mutex_unlock(&e->mu);
        return hz_error_set(HZ_EBUSY, "model %s is %s", name, m->users > 0 ? "serving requests" : "loading");
    }
    unloaded_t u = {0};
    if (m->state == LLM_READY) u = detach_locked(e, m);
    pthread_mutex_unlock(&e->mu);
    free_unloaded(&u);
    return 0;
}

int hz_llm_engine_remove(hz_llm_engine_t *e, const char *name) {
    pthread_mutex_lock(&e->mu);
    llm_model_t **pp = &e->models;
    while (*pp && strcmp((*pp)->name, name) != 0) pp = &(*pp)->next;
    llm_model_t *m = *pp;
    if (!m) { pthread_mutex_unlock(&e->mu); return hz_error_set(HZ_ENOTFOUND, "model \"%s\" not found", name); }
    if (m->state == LLM_LOADING || m->users > 0) {
        pthread_mutex_unlock(&e->mu);
        return hz_error_set(HZ_EBUSY, "model %s is %s", name, m->users > 0 ? "serving requests" : "loading");
    }
    unloaded_t u = {0};
    if (m->state == LLM_READY) u = detach_locked(e, m);
    *pp = m->next;   /* unreachable from now on: nobody else can acquire it */
    pthread_mutex_unlock(&e->mu);
    free_unloaded(&u);
    hz_llm_model_info_free(&m->info);
    pthread_mutex_destroy(&m->aux_mu);
    hz_free(m->name);
    hz_free(m->path);
    hz_free(m);
    return 0;
}

int hz_llm_engine_reap(hz_llm_engine_t *e) {
    if (e->cfg.keep_alive_ms < 0) return 0;
    int n = 0;
    for (;;) {
        unloaded_t u = {0};
        pthread_mutex_lock(&e->mu);
        int64_t now = now_ms();
        for (llm_model_t *m = e->models; m; m = m->next)
            if (m->state == LLM_READY && m->users == 0 && now - m->last_used >= e->cfg.keep_alive_ms) {
                hz_log_info("llm", "%s idle for %lld s: unloading", m->name, (long long)(now - m->last_used) / 1000);
                u = detach_locked(e, m);
                break;
            }
        pthread_mutex_unlock(&e->mu);
        if (!u.m) return n;
        free_unloaded(&u);
        n++;
    }
}

bool hz_llm_engine_is_loaded(hz_llm_engine_t *e, const char *name) {
    pthread_mutex_lock(&e->mu);
    llm_model_t *m = find_locked(e, name);
    bool loaded = m && m->state == LLM_READY;
    pthread_mutex_unlock(&e->mu);
    return loaded;
}

uint64_t hz_llm_engine_memory(hz_llm_engine_t *e) {
    uint64_t used = 0;
    pthread_mutex_lock(&e->mu);
    for (llm_model_t *m = e->models; m; m = m->next) used += m->memory;
    pthread_mutex_unlock(&e->mu);
    return used;
}

uint64_t hz_llm_engine_load_count(hz_llm_engine_t *e) {
    pthread_mutex_lock(&e->mu);
    uint64_t n = e->loads;
    pthread_mutex_unlock(&e->mu);
    return n;
}

json_object *hz_llm_engine_status(hz_llm_engine_t *e) {
    json_object *arr = json_object_new_array();
    pthread_mutex_lock(&e->mu);
    int64_t now = now_ms();
    for (llm_model_t *m = e->models; m; m = m->next) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(m->name));
        json_object_object_add(o, "path", json_object_new_string(m->path));
        json_object_object_add(o, "loaded", json_object_new_boolean(m->state == LLM_READY));
        json_object_object_add(o, "memory", json_object_new_int64((int64_t)m->memory));
        int active = 0, queued = 0;
        if (m->state == LLM_READY && m->runner) llm_runner_load(m->runner, &active, &queued);
        json_object_object_add(o, "active", json_object_new_int(active));
        json_object_object_add(o, "queued", json_object_new_int(queued));
        json_object_object_add(o, "idle_ms", json_object_new_int64(m->state == LLM_READY && !m->users ? now - m->last_used : 0));
        json_object_array_add(arr, o);
    }
    pthread_mutex_unlock(&e->mu);
    return arr;
}

/* ---- chat --------------------------------------------------------------------------------- */

const char *hz_llm_finish_name(hz_llm_finish_t f) {
    switch (f) {
    case HZ_LLM_FINISH_STOP: return "stop";
    case HZ_LLM_FINISH_LENGTH: return "length";
    case HZ_LLM_FINISH_CANCELLED: return "cancelled";
    default: return "none";
    }
}

static void logprobs_free(hz_llm_token_logprob_t *lp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        hz_free(lp[i].text);
        for (int32_t k = 0; k < lp[i].n_top; k++) hz_free(lp[i].top[k].text);
    }
    hz_free(lp);
}

/* The bytes of one token, exactly (a piece of a multi-byte character stays a piece). */
static char *token_text(const struct llama_vocab *vocab, llama_token tok) {
    char buf[256];
    int32_t n = llama_token_to_piece(vocab, tok, buf, sizeof(buf), 0, false);
    if (n < 0) n = 0;
    return hz_strndup(buf, (size_t)n);
}

void hz_llm_result_free(hz_llm_result_t *r) {
    if (!r) return;
    hz_free(r->text);
    logprobs_free(r->logprobs, r->n_logprobs);
    memset(r, 0, sizeof(*r));
}

static int render(llm_model_t *m, const char *template_name, const hz_llm_message_t *msgs, size_t n, char **out) {
    const char *own = llama_model_chat_template(m->lm, NULL);
    if (!template_name && own) {
        int rc = llm_apply_template(own, msgs, n, out);
        if (rc != HZ_EUNSUPPORTED) return rc;
        hz_log_debug("llm", "%s: template not recognised, using chatml", m->name);
    }
    return llm_apply_template(template_name ? template_name : "chatml", msgs, n, out);
}

int hz_llm_render_chat(hz_llm_engine_t *e, const char *model, const char *template_name,
                       const hz_llm_message_t *msgs, size_t n, char **out) {
    llm_model_t *m;
    int rc = llm_acquire(e, model, &m);
    if (rc) return rc;
    rc = render(m, template_name, msgs, n, out);
    llm_release(e, m);
    return rc;
}

/* The adapters of a request, loaded once per model and path. */
static int resolve_loras(llm_model_t *m, const hz_llm_chat_request_t *req, llm_job_t *j) {
    if (!req->n_lora) { j->lora_key = hz_strdup(""); return 0; }
    if (req->n_lora > 8) return hz_error_set(HZ_EINVAL, "lora: at most 8 adapters per request");
    j->loras = hz_calloc(req->n_lora, sizeof(*j->loras));
    j->lora_scales = hz_calloc(req->n_lora, sizeof(float));
    hz_buf_t key = HZ_BUF_INIT;
    int rc = 0;
    pthread_mutex_lock(&m->aux_mu);
    for (size_t i = 0; i < req->n_lora && rc == 0; i++) {
        const hz_llm_lora_t *l = &req->lora[i];
        if (!l->path || !(l->scale >= -100 && l->scale <= 100)) { rc = hz_error_set(HZ_EINVAL, "lora[%zu]: needs a path and a scale in -100..100", i); break; }
        llm_lora_entry_t *ent = m->loras;
        while (ent && strcmp(ent->path, l->path) != 0) ent = ent->next;
        if (!ent) {
            hz_llm_model_info_t info;
            if ((rc = hz_llm_gguf_read(l->path, &info)) != 0) { rc = hz_error_wrap(rc, "lora[%zu]", i); break; }
            bool ok = info.adapter;
            hz_llm_model_info_free(&info);
            if (!ok) { rc = hz_error_set(HZ_EINVAL, "lora[%zu]: %s is not a LoRA adapter (general.type is not \"adapter\")", i, l->path); break; }
            llm_llama_error_clear();
            struct llama_adapter_lora *a = llama_adapter_lora_init(m->lm, l->path);
            if (!a) { rc = hz_error_set(HZ_EINVAL, "lora[%zu]: %s does not fit model %s%s%s", i, l->path, m->name, *llm_llama_error() ? ": " : "", llm_llama_error()); break; }
            ent = hz_calloc(1, sizeof(*ent));
            ent->path = hz_strdup(l->path);
            ent->adapter = a;
            ent->next = m->loras;
            m->loras = ent;
        }
        j->loras[i] = ent->adapter;
        j->lora_scales[i] = l->scale;
        hz_buf_printf(&key, "%p:%g;", (void *)ent->adapter, (double)l->scale);
    }
    pthread_mutex_unlock(&m->aux_mu);
    j->n_lora = req->n_lora;
    j->lora_key = hz_buf_detach(&key, NULL);
    return rc;
}

static void job_free(llm_job_t *j) {
    hz_free(j->prompt);
    if (j->sampler) llama_sampler_free(j->sampler);
    hz_free(j->loras);
    hz_free(j->lora_scales);
    hz_free(j->lora_key);
    hz_buf_free(&j->out);
    logprobs_free(j->lp, j->n_lp);
    pthread_cond_destroy(&j->cv);
}

int hz_llm_chat(hz_llm_engine_t *e, const hz_llm_chat_request_t *req, hz_llm_stream_fn on_text, void *ud,
                hz_llm_result_t *res) {
    memset(res, 0, sizeof(*res));
    int64_t t_call = hz_time_mono_ns() / 1000;
    if (!req->prompt && !req->n_messages) return hz_error_set(HZ_EINVAL, "messages: at least one message (or a prompt) is required");
    for (size_t i = 0; i < req->n_stop; i++)
        if (!req->stop[i] || !*req->stop[i]) return hz_error_set(HZ_EINVAL, "stop[%zu]: must be a non-empty string", i);
    char *gbnf = NULL;
    int rc = llm_request_grammar(req, &gbnf);
    if (rc) return rc;
    llm_model_t *m;
    if ((rc = llm_acquire(e, req->model, &m)) != 0) { hz_free(gbnf); return rc; }
    llm_job_t j;
    memset(&j, 0, sizeof(j));
    pthread_cond_init(&j.cv, NULL);
    atomic_init(&j.cancel, false);
    char *text = NULL;
    if (!m->runner) { rc = hz_error_set(HZ_EINVAL, "model %s is an embedding model; it cannot chat", m->name); goto out; }
    if (req->prompt) text = hz_strdup(req->prompt);
    else if ((rc = render(m, req->template_name, req->messages, req->n_messages, &text)) != 0) goto out;
    if ((rc = llm_tokenize(llama_model_get_vocab(m->lm), text, true, &j.prompt, &j.n_prompt)) != 0) goto out;
    if (j.n_prompt == 0) { rc = hz_error_set(HZ_EINVAL, "prompt: empty after tokenization"); goto out; }
    int32_t n_ctx = llm_runner_n_ctx_seq(m->runner);
    if (j.n_prompt >= n_ctx) {
        rc = hz_error_set(HZ_ETOOBIG, "prompt: %d tokens does not fit the context of %d tokens", j.n_prompt, n_ctx);
        goto out;
    }
    if (!(j.sampler = llm_sampler_new(m->lm, &req->sampling, gbnf))) { rc = hz_error_wrap(HZ_EINVAL, "sampling"); goto out; }
    if ((rc = resolve_loras(m, req, &j)) != 0) goto out;
    j.stop = req->stop;
    j.n_stop = req->n_stop;
    j.max_tokens = req->max_tokens;
    j.logprobs = req->logprobs;
    if (req->top_logprobs < 0 || req->top_logprobs > HZ_LLM_MAX_TOP_LOGPROBS) {
        rc = hz_error_set(HZ_EINVAL, "top_logprobs: must be between 0 and %d", HZ_LLM_MAX_TOP_LOGPROBS);
        goto out;
    }
    j.top_logprobs = req->logprobs ? req->top_logprobs : 0;
    j.streaming = on_text != NULL;
    {
        const hz_llm_sampling_t *sp = &req->sampling;
        j.argmax = sp->temperature <= 0 && !gbnf && sp->repeat_penalty == 1.0f && sp->frequency_penalty == 0 &&
                   sp->presence_penalty == 0;
    }
    j.t_submit = t_call;
    if ((rc = llm_runner_submit(m->runner, &j)) != 0) goto out;
    hz_buf_t all = HZ_BUF_INIT;
    llm_runner_wait(m->runner, &j, req->cancel, on_text, ud, &all);
    res->text = hz_buf_detach(&all, &res->text_len);
    if (j.rc) { rc = hz_error_set(j.rc, "%s", j.err); hz_llm_result_free(res); goto out; }
    res->finish = j.finish;
    res->prompt_tokens = j.n_prompt;
    res->cached_tokens = j.cached;
    res->completion_tokens = j.n_gen;
    res->queue_ms = (double)(j.t_start - j.t_submit) / 1000.0;
    int64_t first = j.t_first ? j.t_first : j.t_end;
    res->ttft_ms = (double)(first - t_call) / 1000.0;
    res->prompt_ms = (double)(first - j.t_start) / 1000.0;
    res->gen_ms = (double)(j.t_end - first) / 1000.0;
    res->logprob_sum = j.logprob_sum;
    if (j.logprobs) {
        /* the end-of-generation token is not part of the answer (nor counted in n_gen) */
        if (j.n_lp > (size_t)j.n_gen) j.n_lp = (size_t)j.n_gen;
        const struct llama_vocab *vocab = llama_model_get_vocab(m->lm);
        for (size_t i = 0; i < j.n_lp; i++) {
            j.lp[i].text = token_text(vocab, j.lp[i].token);
            for (int32_t k = 0; k < j.lp[i].n_top; k++) j.lp[i].top[k].text = token_text(vocab, j.lp[i].top[k].token);
        }
        res->logprobs = j.lp;
        res->n_logprobs = j.n_lp;
        j.lp = NULL;
        j.n_lp = 0;
    }
out:
    llm_release(e, m);
    job_free(&j);
    hz_free(text);
    hz_free(gbnf);
    return rc;
}
