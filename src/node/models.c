/*
 * The node's models: at start-up, register every GGUF in the model folder and the Ollama store
 * with the inference engine. Nothing is loaded yet (models load on first use and unload after
 * the keep-alive), so a node with many models starts as fast as one with none. When there is no
 * chat model at all, the node serves a tiny generated test model so that a fresh `make run`
 * answers, and says loudly that its weights are random.
 */
#include "node_internal.h"

#include "hanzo/llm.h"

static const char *MOD = "models";

static bool has_chat_model(const hz_llm_catalog_t *cat) {
    for (size_t i = 0; i < hz_llm_catalog_count(cat); i++) {
        const hz_llm_model_info_t *m = hz_llm_catalog_at(cat, i);
        if (!m->embedding && !m->adapter) return true;
    }
    return false;
}

int node_models_start(hz_node_t *node, const hz_config_t *cfg) {
    hz_llm_engine_config_t ec = {
        .n_ctx = (int32_t)cfg->llm_ctx,
        .n_parallel = (int32_t)cfg->llm_parallel,
        .n_threads = (int32_t)cfg->llm_threads,
        .queue_max = cfg->llm_queue_max == 0 ? -1 : (int32_t)cfg->llm_queue_max, /* 0: nobody waits */
        .keep_alive_ms = cfg->llm_keep_alive_s < 0 ? -1 : cfg->llm_keep_alive_s == 0 ? 1 : cfg->llm_keep_alive_s * 1000,
        .mem_budget = (uint64_t)cfg->llm_memory_budget_mb << 20,
    };
    node->llm = hz_llm_engine_new(&ec);
    if (!node->llm) return hz_error_wrap(HZ_EINTERNAL, "inference engine");

    char *ollama = cfg->ollama_dir ? hz_strdup(cfg->ollama_dir) : hz_llm_default_ollama_dir();
    const char *dirs[] = {cfg->models_dir};
    hz_llm_catalog_t *cat = NULL;
    int rc = hz_llm_catalog_scan(dirs, 1, ollama, &cat);
    hz_free(ollama);
    if (rc) return hz_error_wrap(rc, "scanning models in %s", cfg->models_dir);
    const char *skipped = hz_llm_catalog_skipped(cat);
    if (skipped && *skipped) hz_log_warn(MOD, "files skipped while scanning models:\n%s", skipped);
    rc = hz_llm_engine_add_catalog(node->llm, cat);
    size_t n = hz_llm_catalog_count(cat);
    bool chat = has_chat_model(cat);
    hz_llm_catalog_free(cat);
    if (rc) return hz_error_wrap(rc, "registering models");
    hz_log_info(MOD, "%zu model(s) found in %s and the Ollama store", n, cfg->models_dir);
    if (chat) return 0;

    char *dir = hz_sprintf("%s/models", cfg->storage_path), *path = NULL;
    rc = hz_llm_default_model_ensure(dir, &path);
    if (rc == 0) rc = hz_llm_engine_add(node->llm, HZ_LLM_DEFAULT_MODEL_NAME, path);
    if (rc == 0)
        hz_log_warn(MOD, "no model configured: serving the built-in tiny test model \"%s\" (random "
                    "weights, for trying the node out) from %s; put GGUF files in %s",
                    HZ_LLM_DEFAULT_MODEL_NAME, path, cfg->models_dir);
    else /* the generator needs llama.cpp's vocab files; the node is still useful without it */
        hz_log_warn(MOD, "no model configured and the built-in test model is unavailable: %s",
                    hz_error_last());
    hz_free(dir);
    hz_free(path);
    return 0;
}
