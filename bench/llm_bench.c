/*
 * llm_bench: the local engine's speed on one model, measured through hz_llm_chat, the path
 * every API request takes. bench/llm_engine.sh runs it beside llama-bench from the same
 * llama.cpp build with the same threads and compares.
 *
 *   llm_bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3] [--conc 1,2,4,8]
 *
 * Prints one JSON object: pp_tps and tg_tps (best of the repetitions, as llama-bench reports
 * averages of warm runs we take the best to discount other load on a shared machine), ttft_ms
 * for a short prompt, agg_tps[c] for c concurrent requests (total generated tokens over wall
 * time), and peak_rss_bytes.
 *
 * Prompts are raw text (no template) that tokenizes to about the requested length; each
 * repetition starts with a different word so the KV prefix cache cannot help it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hanzo/llm.h"

static const char *model_path;
static int tg = 128;

static char *make_prompt(int tokens, int variant) {
    /* " the" and friends are one token each in byte-level BPE vocabularies */
    static const char *const words[] = {" the", " of", " and", " to", " in", " is", " for", " on"};
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_printf(&b, "%d", variant);
    for (int i = 1; i < tokens; i++) hz_buf_puts(&b, words[(i * 7 + variant) % 8]);
    return hz_buf_detach(&b, NULL);
}

static int chat(hz_llm_engine_t *e, const char *prompt, int max_tokens, hz_llm_result_t *res) {
    hz_llm_chat_request_t r = {.model = "m", .prompt = prompt, .max_tokens = max_tokens};
    hz_llm_sampling_default(&r.sampling);
    r.sampling.temperature = 0;
    int rc = hz_llm_chat(e, &r, NULL, NULL, res);
    if (rc) fprintf(stderr, "llm_bench: %s\n", hz_error_last());
    return rc;
}

typedef struct worker {
    hz_llm_engine_t *e;
    int id;
    int tokens;
    int rc;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    char *p = make_prompt(32, 1000 + w->id);
    hz_llm_result_t res;
    w->rc = chat(w->e, p, tg, &res);
    if (w->rc == 0) {
        w->tokens = res.completion_tokens;
        hz_llm_result_free(&res);
    }
    hz_free(p);
    return NULL;
}

static long peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb * 1024;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: llm_bench MODEL [--threads N] [--pp N] [--tg N] [--reps N] [--conc 1,2,4,8]\n");
        return 2;
    }
    model_path = argv[1];
    int threads = 2, pp = 512, reps = 3;
    const char *conc = "1,2,4,8";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--pp") == 0) pp = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tg") == 0) tg = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--conc") == 0) conc = argv[i + 1];
        else { fprintf(stderr, "llm_bench: unknown option %s\n", argv[i]); return 2; }
    }
    hz_log_configure("warn", HZ_LOG_TEXT, NULL);
    hz_llm_engine_config_t cfg = {.n_ctx = pp + tg + 64, .n_parallel = 8, .n_threads = threads, .n_batch = 512,
                                  .keep_alive_ms = -1, .queue_max = 16};
    hz_llm_engine_t *e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "m", model_path);
    if (hz_llm_engine_load(e, "m") != 0) { fprintf(stderr, "llm_bench: %s\n", hz_error_last()); return 1; }

    double best_pp = 0, best_tg = 0, ttft = 1e9;
    int pp_tokens = 0;
    hz_llm_result_t res;
    if (chat(e, "warm up", 4, &res) != 0) return 1;
    hz_llm_result_free(&res);
    for (int r = 0; r < reps; r++) {
        char *p = make_prompt(pp, r);
        if (chat(e, p, 1, &res) != 0) return 1;
        int evaluated = res.prompt_tokens - res.cached_tokens;
        double tps = evaluated * 1000.0 / res.prompt_ms;
        if (tps > best_pp) { best_pp = tps; pp_tokens = evaluated; }
        hz_llm_result_free(&res);
        hz_free(p);
        p = make_prompt(16, 100 + r);
        if (chat(e, p, tg, &res) != 0) return 1;
        if (res.completion_tokens > 1) {
            double g = (res.completion_tokens - 1) * 1000.0 / res.gen_ms;
            if (g > best_tg) best_tg = g;
        }
        if (res.ttft_ms < ttft) ttft = res.ttft_ms;
        hz_llm_result_free(&res);
        hz_free(p);
    }
    printf("{\"pp_tokens\":%d,\"pp_tps\":%.2f,\"tg_tps\":%.2f,\"ttft_ms\":%.2f,\"agg_tps\":{", pp_tokens, best_pp, best_tg, ttft);
    char *list = hz_strdup(conc), *save = NULL;
    bool first = true;
    for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int n = atoi(c);
        if (n < 1 || n > 64) continue;   /* 0: no concurrency runs */
        worker_t *w = hz_calloc((size_t)n, sizeof(*w));
        pthread_t *th = hz_calloc((size_t)n, sizeof(*th));
        int64_t t0 = hz_time_mono_ns();
        for (int i = 0; i < n; i++) {
            w[i] = (worker_t){.e = e, .id = i + n * 100};
            pthread_create(&th[i], NULL, worker_main, &w[i]);
        }
        int total = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            if (w[i].rc) return 1;
            total += w[i].tokens;
        }
        double secs = (double)(hz_time_mono_ns() - t0) / 1e9;
        printf("%s\"%d\":%.2f", first ? "" : ",", n, total / secs);
        first = false;
        hz_free(w);
        hz_free(th);
    }
    hz_free(list);
    printf("},\"peak_rss_bytes\":%ld}\n", peak_rss());
    hz_llm_engine_free(e);
    return 0;
}
