/*
 * Where a packed file goes. The HIP fixes the folders (data/weights, data/config, data/tokenizer,
 * delta/, dataset/, embeddings/, state/); a folder already laid out that way is packed as it is.
 * Loose files - a Hugging Face model folder, a LoRA output folder - are placed by what they are:
 * for model-like types, tokenizer files by their well-known names, weights by extension, and the
 * rest as configuration; for the other types, everything goes to the type's own folder. A file's
 * subfolders are kept below the chosen folder. The rules are listed in docs/formats/ai.md.
 */
#include "artifact/internal.h"

#include <string.h>

static const char *const known_dirs[] = {"data/", "delta/", "dataset/", "embeddings/", "state/"};

static const char *const tokenizer_names[] = {
    "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "vocab.txt", "merges.txt", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja",
};

static const char *const weight_exts[] = {
    ".safetensors", ".bin", ".gguf", ".ggml", ".pt", ".pth", ".ckpt", ".onnx", ".npz", ".npy", ".h5", ".msgpack",
    ".tflite", ".mlmodel", ".pb", ".pdparams",
};

char *ai_layout_place(const char *rel, const char *type_name) {
    for (size_t i = 0; i < sizeof(known_dirs) / sizeof(known_dirs[0]); i++)
        if (hz_str_starts_with(rel, known_dirs[i])) return hz_strdup(rel);
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    const char *dir;
    if (strcmp(type_name, "Delta") == 0) dir = "delta/";
    else if (strcmp(type_name, "Dataset") == 0) dir = "dataset/";
    else if (strcmp(type_name, "Embeddings") == 0 || strcmp(type_name, "VectorStore") == 0) dir = "embeddings/";
    else if (strcmp(type_name, "AgentState") == 0) dir = "state/";
    else if (strcmp(type_name, "Tokenizer") == 0) dir = "data/tokenizer/";
    else if (strcmp(type_name, "Config") == 0) dir = "data/config/";
    else if (strcmp(type_name, "Custom") == 0) dir = "data/";
    else { /* Model, Weights, QuantizedModel, Checkpoint */
        dir = "data/config/";
        for (size_t i = 0; i < sizeof(tokenizer_names) / sizeof(tokenizer_names[0]); i++)
            if (strcmp(base, tokenizer_names[i]) == 0) dir = "data/tokenizer/";
        for (size_t i = 0; i < sizeof(weight_exts) / sizeof(weight_exts[0]); i++)
            if (hz_str_ends_with(base, weight_exts[i])) dir = "data/weights/";
    }
    return hz_sprintf("%s%s", dir, rel);
}
