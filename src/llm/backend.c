/*
 * What the linked llama.cpp build can do. Reported by `hanzo version` and at node start-up so a
 * user can see which CPU paths inference will take on this machine.
 */
#include "hanzo/llm.h"

#include <string.h>

#include <llama.h>

void hz_llm_backend_describe(hz_buf_t *out) {
    /* llama_print_system_info() ends in " | "; trim it so the line reads cleanly. */
    const char *info = llama_print_system_info();
    size_t n = strlen(info);
    while (n && (info[n - 1] == ' ' || info[n - 1] == '|')) n--;
    hz_buf_puts(out, "llama.cpp: ");
    hz_buf_append(out, info, n);
}
