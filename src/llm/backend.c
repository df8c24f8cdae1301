/*
 * The llama.cpp backend as the rest of the module sees it: initialised once per process, its log
 * routed into ours, and what it logged as an error kept per thread.
 *
 * llama.cpp reports most failures (a missing tensor, a bad grammar, an adapter for another
 * architecture) only through its log and returns NULL. So the log callback remembers the last
 * ERROR line of the calling thread, and callers turn a NULL into an hz_error with that text:
 * "model.gguf: missing tensor 'blk.0.attn_q.weight'" rather than "failed to load". Everything
 * else it logs goes to our logger at DEBUG under module "llama", so a normal run is quiet.
 */
#include "llm/llm_internal.h"

#include <pthread.h>
#include <string.h>

static __thread char last_error[512];

static void on_log(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (!text) return;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) n--;
    if (n == 0) return;
    if (level == GGML_LOG_LEVEL_ERROR) {
        size_t m = n < sizeof(last_error) - 1 ? n : sizeof(last_error) - 1;
        memcpy(last_error, text, m);
        last_error[m] = '\0';
        hz_log_debug("llama", "error: %.*s", (int)n, text);
    } else {
        hz_log_trace("llama", "%.*s", (int)n, text);
    }
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    llama_log_set(on_log, NULL);
    llama_backend_init();
}

void llm_backend_init(void) { pthread_once(&once, init_once); }

const char *llm_llama_error(void) { return last_error; }
void llm_llama_error_clear(void) { last_error[0] = '\0'; }

void hz_llm_backend_describe(hz_buf_t *out) {
    llm_backend_init();
    /* llama_print_system_info() ends in " | "; trim it so the line reads cleanly. */
    const char *info = llama_print_system_info();
    size_t n = strlen(info);
    while (n && (info[n - 1] == ' ' || info[n - 1] == '|')) n--;
    hz_buf_puts(out, "llama.cpp: ");
    hz_buf_append(out, info, n);
}
