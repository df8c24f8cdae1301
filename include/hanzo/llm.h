/*
 * hanzo/llm.h - language models: the local engine on llama.cpp (and, later, remote providers
 * and the router that chooses between them).
 */
#ifndef HANZO_LLM_H
#define HANZO_LLM_H

#include "hanzo/base.h"

/* Describe the linked llama.cpp/ggml build: its version and the CPU features ggml will use
 * ("AVX2 = 1 | ..."). Appends one line to out. */
void hz_llm_backend_describe(hz_buf_t *out);

#endif
