/*
 * gguf_gen: write a test model (tests and benchmarks call it; the generator itself is
 * hz_llm_testmodel_write in src/llm/testmodel.c).
 *
 *   gguf_gen chat|embed|lora|bench OUT.gguf [--seed N] [--layers N] [--vocab-dir DIR]
 */
#include <stdlib.h>
#include <string.h>

#include "hanzo/llm.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: gguf_gen chat|embed|lora|bench OUT.gguf [--seed N] [--layers N] [--vocab-dir DIR]\n");
        return 2;
    }
    hz_llm_testmodel_opts_t o = {0};
    static const char *const kinds[] = {"chat", "embed", "lora", "bench"};
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(argv[1], kinds[i]) == 0) k = i;
    if (k < 0) { fprintf(stderr, "gguf_gen: unknown kind \"%s\"\n", argv[1]); return 2; }
    o.kind = (hz_llm_testmodel_kind_t)k;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seed") == 0) o.seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--layers") == 0) o.n_layer = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--vocab-dir") == 0) o.vocab_dir = argv[i + 1];
        else { fprintf(stderr, "gguf_gen: unknown option \"%s\"\n", argv[i]); return 2; }
    }
    if (hz_llm_testmodel_write(argv[2], &o) != 0) {
        fprintf(stderr, "gguf_gen: %s\n", hz_error_last());
        return 1;
    }
    return 0;
}
