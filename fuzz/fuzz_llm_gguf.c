/*
 * GGUF header reader (src/llm/gguf.c) on arbitrary bytes: `hanzo models` runs it over every
 * file in the model folders and the Ollama store, so a hostile or broken file must give an
 * error, never a crash, a hang or an allocation larger than the file.
 */
#include <stdint.h>
#include <stdio.h>

#include "hanzo/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    hz_llm_model_info_t info;
    if (hz_llm_gguf_read_stream(f, size, &info) == 0) {
        json_object *j = hz_llm_model_info_json(&info);
        json_object_put(j);
        hz_llm_model_info_free(&info);
    }
    fclose(f);
    return 0;
}
