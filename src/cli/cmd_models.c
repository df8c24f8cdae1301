/*
 * hanzo models: the local models the node can serve, from GGUF headers only (nothing is
 * loaded, so listing a folder of 70B models is instant). Shares its folder options with
 * `hanzo run` through cli_models_scan.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "hanzo/llm.h"

static void usage(void) {
    printf("usage: hanzo models [list] [options]\n"
           "       hanzo models show NAME [options]\n\n"
           "List the GGUF models in the model folders and the Ollama store, with what their\n"
           "headers say (architecture, parameters, quantisation, context, memory to expect).\n\n"
           "options:\n"
           "  --models-dir DIR   a folder to scan (repeatable; env HANZO_MODELS_DIR, ':'-separated;\n"
           "                     default ~/.hanzo/models)\n"
           "  --ollama-dir DIR   the Ollama store (env OLLAMA_MODELS; default ~/.ollama/models)\n"
           "  --no-ollama        do not scan the Ollama store\n"
           "  --json             machine-readable output\n");
}

static void human_size(uint64_t n, char out[16]) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    snprintf(out, 16, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void human_count(uint64_t n, char out[16]) {
    if (n >= 1000000000ull) snprintf(out, 16, "%.1fB", (double)n / 1e9);
    else if (n >= 1000000ull) snprintf(out, 16, "%.1fM", (double)n / 1e6);
    else snprintf(out, 16, "%.1fK", (double)n / 1e3);
}

int cli_models_parse(cli_models_opts_t *o, const char *cmd, int *i, int argc, char **argv, bool *matched) {
    *matched = true;
    const char *a = argv[*i];
    if (strcmp(a, "--models-dir") == 0 || strcmp(a, "--ollama-dir") == 0) {
        if (*i + 1 >= argc) return cli_fail(cmd, "%s needs a folder", a);
        const char *v = argv[++*i];
        if (a[2] == 'm') {
            if (o->n_dirs == CLI_MAX_MODEL_DIRS) return cli_fail(cmd, "at most %d --models-dir", CLI_MAX_MODEL_DIRS);
            o->dirs[o->n_dirs++] = hz_strdup(v);
        } else {
            hz_free(o->ollama);
            o->ollama = hz_strdup(v);
        }
        return 0;
    }
    if (strcmp(a, "--no-ollama") == 0) { o->no_ollama = true; return 0; }
    *matched = false;
    return 0;
}

int cli_models_scan(cli_models_opts_t *o, hz_llm_catalog_t **cat) {
    if (o->n_dirs == 0) {
        const char *env = getenv("HANZO_MODELS_DIR");
        if (env && *env) {
            char *copy = hz_strdup(env), *save = NULL;
            for (char *p = strtok_r(copy, ":", &save); p && o->n_dirs < CLI_MAX_MODEL_DIRS; p = strtok_r(NULL, ":", &save))
                o->dirs[o->n_dirs++] = hz_strdup(p);
            hz_free(copy);
        } else {
            o->dirs[o->n_dirs++] = hz_llm_default_models_dir();
        }
    }
    if (!o->ollama && !o->no_ollama) o->ollama = hz_llm_default_ollama_dir();
    return hz_llm_catalog_scan((const char *const *)o->dirs, (size_t)o->n_dirs, o->no_ollama ? NULL : o->ollama, cat);
}

void cli_models_free(cli_models_opts_t *o) {
    for (int i = 0; i < o->n_dirs; i++) hz_free(o->dirs[i]);
    hz_free(o->ollama);
    memset(o, 0, sizeof(*o));
}

static void print_show(const hz_llm_model_info_t *m) {
    char size[16], mem[16], params[16];
    human_size(m->file_size, size);
    human_size(m->mem_recommended, mem);
    human_count(m->n_params, params);
    printf("name            %s\n", m->name);
    printf("path            %s\n", m->path);
    printf("source          %s\n", m->source);
    printf("type            %s\n", m->adapter ? "LoRA adapter" : m->embedding ? "embedding" : "chat");
    printf("architecture    %s\n", m->arch);
    if (m->general_name) printf("general name    %s\n", m->general_name);
    printf("parameters      %s (%llu)\n", params, (unsigned long long)m->n_params);
    printf("quantization    %s\n", m->quant);
    printf("context length  %u\n", m->ctx_train);
    printf("embedding       %u\n", m->n_embd);
    printf("layers          %u\n", m->n_layer);
    printf("heads           %u (KV %u)\n", m->n_head, m->n_head_kv);
    printf("vocabulary      %u\n", m->n_vocab);
    printf("file size       %s\n", size);
    printf("memory          %s recommended\n", mem);
    printf("chat template   %s\n", m->chat_template ? "yes (from the GGUF)" : "none (a built-in one is used)");
}

int cmd_models(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(); return 0; }
    cli_models_opts_t o = {0};
    bool json = false;
    const char *sub = NULL, *name = NULL;
    int status = 0;
    for (int i = 0; i < argc; i++) {
        bool matched;
        if (cli_models_parse(&o, "models", &i, argc, argv, &matched) != 0) { cli_models_free(&o); return 1; }
        if (matched) continue;
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (argv[i][0] == '-') { cli_models_free(&o); return cli_fail("models", "unknown option \"%s\" (see --help)", argv[i]); }
        else if (!sub) sub = argv[i];
        else if (!name) name = argv[i];
        else { cli_models_free(&o); return cli_fail("models", "unexpected argument \"%s\"", argv[i]); }
    }
    if (sub && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0) {
        cli_models_free(&o);
        return cli_fail("models", "unknown subcommand \"%s\" (list or show)", sub);
    }
    bool show = sub && strcmp(sub, "show") == 0;
    if (show && !name) { cli_models_free(&o); return cli_fail("models", "show needs a model name"); }
    if (!show && name) { cli_models_free(&o); return cli_fail("models", "unexpected argument \"%s\"", name); }

    hz_llm_catalog_t *cat = NULL;
    if (cli_models_scan(&o, &cat) != 0) { cli_models_free(&o); return cli_fail("models", "%s", hz_error_last()); }
    const char *skipped = hz_llm_catalog_skipped(cat);
    if (*skipped) fprintf(stderr, "hanzo models: skipped unreadable files:\n%s", skipped);
    if (show) {
        const hz_llm_model_info_t *m = hz_llm_catalog_find(cat, name);
        hz_llm_model_info_t direct = {0};
        if (!m && hz_llm_gguf_read(name, &direct) == 0) {   /* a path works too */
            direct.name = hz_strdup(name);
            direct.source = hz_strdup("path");
            m = &direct;
        }
        if (!m) status = cli_fail("models", "no model named \"%s\" (see `hanzo models`)", name);
        else if (json) {
            json_object *j = hz_llm_model_info_json(m);
            printf("%s\n", hz_json_dump(j, NULL));
            json_object_put(j);
        } else {
            print_show(m);
        }
        hz_llm_model_info_free(&direct);
    } else if (json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < hz_llm_catalog_count(cat); i++)
            json_object_array_add(arr, hz_llm_model_info_json(hz_llm_catalog_at(cat, i)));
        printf("%s\n", hz_json_dump(arr, NULL));
        json_object_put(arr);
    } else if (hz_llm_catalog_count(cat) == 0) {
        fprintf(stderr, "no models found in");
        for (int i = 0; i < o.n_dirs; i++) fprintf(stderr, " %s", o.dirs[i]);
        if (!o.no_ollama) fprintf(stderr, " or %s", o.ollama);
        fprintf(stderr, "\n");
    } else {
        printf("%-32s %-10s %-9s %-8s %-8s %-10s %-10s %s\n", "NAME", "TYPE", "ARCH", "PARAMS", "QUANT", "SIZE", "MEMORY", "CONTEXT");
        for (size_t i = 0; i < hz_llm_catalog_count(cat); i++) {
            const hz_llm_model_info_t *m = hz_llm_catalog_at(cat, i);
            char size[16], mem[16], params[16];
            human_size(m->file_size, size);
            human_size(m->mem_recommended, mem);
            human_count(m->n_params, params);
            printf("%-32s %-10s %-9s %-8s %-8s %-10s %-10s %u\n", m->name,
                   m->adapter ? "lora" : m->embedding ? "embedding" : "chat", m->arch, params, m->quant, size,
                   m->adapter ? "-" : mem, m->ctx_train);
        }
    }
    hz_llm_catalog_free(cat);
    cli_models_free(&o);
    return status;
}
