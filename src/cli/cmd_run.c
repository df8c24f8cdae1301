/*
 * hanzo run MODEL [PROMPT]: chat with a local model in the terminal.
 *
 * With a PROMPT (or a prompt piped on stdin) it answers once; otherwise it is an interactive
 * chat that keeps the conversation, so each turn reuses the KV cache of the previous ones. The
 * answer streams to stdout as it is generated; progress, statistics and errors go to stderr, so
 * `hanzo run m "q" > answer.txt` captures only the answer. Ctrl-C stops the answer being
 * generated (the engine sees the flag at its next step), not the program; at the input prompt
 * it leaves.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hanzo/llm.h"

static atomic_bool interrupted;
static volatile sig_atomic_t generating;

static void on_sigint(int sig) {
    (void)sig;
    atomic_store(&interrupted, true);
    if (!generating) {
        /* at the input prompt: leave, as a shell would */
        static const char msg[] = "\n";
        ssize_t w = write(STDERR_FILENO, msg, 1);
        (void)w;
        _exit(130);
    }
}

static void usage(void) {
    printf("usage: hanzo run MODEL [PROMPT] [options]\n\n"
           "Chat with a local GGUF model. MODEL is a name from `hanzo models` or a path to a .gguf\n"
           "file. With PROMPT (or text on stdin) it answers once; otherwise it starts an interactive\n"
           "chat (an empty line or Ctrl-D ends it). Ctrl-C stops the current answer.\n\n"
           "options:\n"
           "  --system TEXT          system message\n"
           "  --max-tokens N         stop after N tokens (default 512; 0: until the context is full)\n"
           "  --temperature T        0 for greedy (default 0.8)\n"
           "  --top-k N, --top-p P, --min-p P, --repeat-penalty R, --presence-penalty P,\n"
           "  --frequency-penalty F  sampling\n"
           "  --seed N               seed for sampling (default: random)\n"
           "  --stop TEXT            stop string (repeatable)\n"
           "  --format json          constrain the answer to a JSON object\n"
           "  --schema FILE          constrain the answer to a JSON Schema\n"
           "  --template NAME        built-in chat template instead of the model's (chatml, llama3, ...)\n"
           "  --lora PATH[:SCALE]    apply a LoRA adapter\n"
           "  --ctx N                context tokens (default: the model's, at most 4096)\n"
           "  --threads N            CPU threads (default: all cores)\n"
           "  --json                 print the result as one JSON object instead of streaming\n"
           "  --verbose              timings and token counts on stderr\n"
           "  --models-dir DIR, --ollama-dir DIR, --no-ollama   where to look for MODEL\n");
}

static int stream_out(const char *t, size_t n, void *ud) {
    (void)ud;
    fwrite(t, 1, n, stdout);
    fflush(stdout);
    return 0;
}

static char *read_all(FILE *f) {
    hz_buf_t b = HZ_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) hz_buf_append(&b, chunk, n);
    hz_buf_puts(&b, "");
    return hz_buf_detach(&b, NULL);
}

static bool parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

typedef struct run_opts {
    const char *model, *prompt, *system, *tmpl, *schema_file;
    const char *stops[16];
    size_t n_stop;
    hz_llm_lora_t lora;
    bool has_lora, json, verbose, json_mode;
} run_opts_t;

static void print_json(const char *model, const hz_llm_result_t *res) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object_object_add(o, "text", json_object_new_string_len(res->text, (int)res->text_len));
    json_object_object_add(o, "finish_reason", json_object_new_string(hz_llm_finish_name(res->finish)));
    json_object *u = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int(res->prompt_tokens));
    json_object_object_add(u, "cached_tokens", json_object_new_int(res->cached_tokens));
    json_object_object_add(u, "completion_tokens", json_object_new_int(res->completion_tokens));
    json_object_object_add(o, "usage", u);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "ttft_ms", json_object_new_double(res->ttft_ms));
    json_object_object_add(t, "prompt_ms", json_object_new_double(res->prompt_ms));
    json_object_object_add(t, "generation_ms", json_object_new_double(res->gen_ms));
    json_object_object_add(o, "timings", t);
    printf("%s\n", hz_json_dump(o, NULL));
    json_object_put(o);
}

static void print_stats(const hz_llm_result_t *res) {
    double gen_tps = res->gen_ms > 0 && res->completion_tokens > 1 ? (res->completion_tokens - 1) * 1000.0 / res->gen_ms : 0;
    int evaluated = res->prompt_tokens - res->cached_tokens;
    double pp_tps = res->prompt_ms > 0 ? evaluated * 1000.0 / res->prompt_ms : 0;
    fprintf(stderr, "[%s: %d prompt tokens (%d cached, %.0f t/s), %d generated (%.1f t/s), first token after %.0f ms]\n",
            hz_llm_finish_name(res->finish), res->prompt_tokens, res->cached_tokens, pp_tps, res->completion_tokens,
            gen_tps, res->ttft_ms);
}

int cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(); return 0; }
    run_opts_t o = {0};
    cli_models_opts_t mo = {0};
    hz_llm_engine_config_t ecfg = {.n_parallel = 1, .keep_alive_ms = -1, .queue_max = -1};
    hz_llm_chat_request_t req = {0};
    hz_llm_sampling_default(&req.sampling);
    req.max_tokens = 512;
    bool seeded = false;
    int status = 1;
    char *schema = NULL, *stdin_prompt = NULL;
    for (int i = 0; i < argc; i++) {
        bool matched;
        if (cli_models_parse(&mo, "run", &i, argc, argv, &matched) != 0) goto done;
        if (matched) continue;
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (!o.model) o.model = a;
            else if (!o.prompt) o.prompt = a;
            else { cli_fail("run", "unexpected argument \"%s\" (quote the prompt)", a); goto done; }
            continue;
        }
        if (strcmp(a, "--json") == 0) { o.json = true; continue; }
        if (strcmp(a, "--verbose") == 0) { o.verbose = true; continue; }
        if (i + 1 >= argc) { cli_fail("run", "%s needs a value", a); goto done; }
        const char *v = argv[++i];
        double d;
#define NUM(flag, lo, hi, dst)                                                                     \
    if (strcmp(a, flag) == 0) {                                                                    \
        if (!parse_num(v, lo, hi, &d)) { cli_fail("run", "%s: \"%s\" is not a number in %g..%g", flag, v, (double)(lo), (double)(hi)); goto done; } \
        dst;                                                                                       \
        continue;                                                                                  \
    }
        NUM("--max-tokens", 0, 1 << 20, req.max_tokens = (int32_t)d)
        NUM("--temperature", 0, 100, req.sampling.temperature = (float)d)
        NUM("--top-k", 0, 1 << 20, req.sampling.top_k = (int32_t)d)
        NUM("--top-p", 0.0001, 1, req.sampling.top_p = (float)d)
        NUM("--min-p", 0, 0.9999, req.sampling.min_p = (float)d)
        NUM("--repeat-penalty", 0.0001, 10, req.sampling.repeat_penalty = (float)d)
        NUM("--presence-penalty", -2, 2, req.sampling.presence_penalty = (float)d)
        NUM("--frequency-penalty", -2, 2, req.sampling.frequency_penalty = (float)d)
        NUM("--seed", 0, 4294967295.0, (req.sampling.seed = (uint32_t)d, seeded = true))
        NUM("--ctx", 16, 1 << 20, ecfg.n_ctx = (int32_t)d)
        NUM("--threads", 1, 1024, ecfg.n_threads = (int32_t)d)
#undef NUM
        if (strcmp(a, "--system") == 0) o.system = v;
        else if (strcmp(a, "--template") == 0) o.tmpl = v;
        else if (strcmp(a, "--schema") == 0) o.schema_file = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "json") != 0) { cli_fail("run", "--format: only \"json\" is supported"); goto done; }
            o.json_mode = true;
        } else if (strcmp(a, "--stop") == 0) {
            if (o.n_stop == 16) { cli_fail("run", "at most 16 --stop strings"); goto done; }
            o.stops[o.n_stop++] = v;
        } else if (strcmp(a, "--lora") == 0) {
            char *colon = strrchr(v, ':');
            o.lora.scale = 1.0f;
            o.lora.path = v;
            if (colon && parse_num(colon + 1, -100, 100, &d)) {
                *colon = '\0';
                o.lora.scale = (float)d;
            }
            o.has_lora = true;
        } else {
            cli_fail("run", "unknown option \"%s\" (see --help)", a);
            goto done;
        }
    }
    if (!o.model) { cli_fail("run", "which model? (hanzo run MODEL [PROMPT]; see `hanzo models`)"); goto done; }
    if (!seeded) hz_random_bytes(&req.sampling.seed, sizeof(req.sampling.seed));
    if (o.schema_file) {
        FILE *f = fopen(o.schema_file, "rb");
        if (!f) { cli_fail("run", "--schema %s: %s", o.schema_file, strerror(errno)); goto done; }
        schema = read_all(f);
        fclose(f);
    }
    if (!o.prompt && !isatty(STDIN_FILENO)) o.prompt = stdin_prompt = read_all(stdin);

    /* MODEL: a catalog name, else a path */
    hz_llm_catalog_t *cat = NULL;
    if (cli_models_scan(&mo, &cat) != 0) { cli_fail("run", "%s", hz_error_last()); goto done; }
    const hz_llm_model_info_t *mi = hz_llm_catalog_find(cat, o.model);
    char *path = hz_strdup(mi ? mi->path : o.model);
    hz_llm_catalog_free(cat);
    if (!mi && access(path, R_OK) != 0) {
        cli_fail("run", "no model named \"%s\" and no such file (see `hanzo models`)", o.model);
        hz_free(path);
        goto done;
    }
    hz_log_configure(getenv("HANZO_LOG") ? getenv("HANZO_LOG") : "warn", HZ_LOG_TEXT, NULL);
    hz_llm_engine_t *e = hz_llm_engine_new(&ecfg);
    hz_llm_engine_add(e, o.model, path);
    hz_free(path);
    if (!o.json) fprintf(stderr, "loading %s...\n", o.model);
    if (hz_llm_engine_load(e, o.model) != 0) {
        cli_fail("run", "%s", hz_error_last());
        hz_llm_engine_free(e);
        goto done;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;    /* no SA_RESTART: a Ctrl-C interrupts the input read */
    sigaction(SIGINT, &sa, NULL);
    req.model = o.model;
    req.template_name = o.tmpl;
    req.stop = o.stops;
    req.n_stop = o.n_stop;
    req.json_mode = o.json_mode;
    req.json_schema = schema;
    req.lora = o.has_lora ? &o.lora : NULL;
    req.n_lora = o.has_lora;
    req.cancel = &interrupted;

    /* the conversation: system, then user/assistant turns */
    size_t n_msgs = 0, cap = 16;
    hz_llm_message_t *msgs = hz_calloc(cap, sizeof(*msgs));
    char **owned = hz_calloc(cap, sizeof(char *));
    if (o.system) msgs[n_msgs++] = (hz_llm_message_t){"system", o.system};
    bool interactive = !o.prompt;
    status = 0;
    for (;;) {
        char *line = NULL;
        if (interactive) {
            fprintf(stderr, ">>> ");
            size_t lcap = 0;
            ssize_t n = getline(&line, &lcap, stdin);
            if (n <= 0) { free(line); fprintf(stderr, "\n"); break; }
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            if (n == 0) { free(line); break; }
        }
        if (n_msgs + 2 > cap) {
            cap *= 2;
            msgs = hz_realloc(msgs, cap * sizeof(*msgs));
            owned = hz_realloc(owned, cap * sizeof(char *));
        }
        owned[n_msgs] = interactive ? hz_strdup(line) : NULL;
        free(line);
        msgs[n_msgs] = (hz_llm_message_t){"user", interactive ? owned[n_msgs] : o.prompt};
        n_msgs++;
        req.messages = msgs;
        req.n_messages = n_msgs;
        hz_llm_result_t res;
        atomic_store(&interrupted, false);
        generating = 1;
        int rc = hz_llm_chat(e, &req, o.json ? NULL : stream_out, NULL, &res);
        generating = 0;
        if (rc != 0) {
            status = cli_fail("run", "%s", hz_error_last());
            n_msgs--;
            hz_free(owned[n_msgs]);
            if (!interactive) break;
            continue;
        }
        if (o.json) print_json(o.model, &res);
        else {
            if (res.text_len == 0 || res.text[res.text_len - 1] != '\n') fputc('\n', stdout);
            fflush(stdout);
            if (res.finish == HZ_LLM_FINISH_CANCELLED) fprintf(stderr, "[stopped]\n");
            if (o.verbose) print_stats(&res);
        }
        owned[n_msgs] = hz_strndup(res.text, res.text_len);
        msgs[n_msgs] = (hz_llm_message_t){"assistant", owned[n_msgs]};
        n_msgs++;
        hz_llm_result_free(&res);
        if (!interactive) break;
    }
    for (size_t i = 0; i < n_msgs; i++) hz_free(owned[i]);
    hz_free(owned);
    hz_free(msgs);
    hz_llm_engine_free(e);
done:
    cli_models_free(&mo);
    hz_free(schema);
    hz_free(stdin_prompt);
    return status;
}
