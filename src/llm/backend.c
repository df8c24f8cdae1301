/*
 * What the linked llama.cpp build can do. Reported by `hanzo version` and at node start-up so a
 * user can see which CPU paths inference will take on this machine.
 */
#include "hanzo/llm.h"

#include <llama.h>

void hz_llm_backend_describe(hz_buf_t *out) {
    hz_buf_printf(out, "llama.cpp: %s", llama_print_system_info());
}
