/*
 * From messages to tokens: the chat template and the tokenizer.
 *
 * llama_chat_apply_template understands the model's own Jinja template only by recognising it
 * (it matches known markers such as "<|im_start|>" and renders that family's format); a name
 * such as "chatml" or "llama3" selects a built-in format directly. So the engine passes the
 * model's template string when there is one and a built-in name otherwise, and reports an
 * unrecognised template as an error naming the fallback to use rather than guessing.
 */
#include "llm/llm_internal.h"

#include <string.h>

static bool role_valid(const char *r) {
    return r && (strcmp(r, "system") == 0 || strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0 ||
                 strcmp(r, "tool") == 0);
}

int llm_apply_template(const char *tmpl, const hz_llm_message_t *msgs, size_t n, char **out) {
    *out = NULL;
    if (n == 0) return hz_error_set(HZ_EINVAL, "messages: at least one message is required");
    llama_chat_message *lm = hz_malloc(sizeof(*lm) * n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!role_valid(msgs[i].role)) {
            hz_free(lm);
            return hz_error_set(HZ_EINVAL, "messages[%zu].role: \"%s\" is not system, user, assistant or tool", i,
                                msgs[i].role ? msgs[i].role : "(null)");
        }
        if (!msgs[i].content) {
            hz_free(lm);
            return hz_error_set(HZ_EINVAL, "messages[%zu].content: missing", i);
        }
        lm[i].role = msgs[i].role;
        lm[i].content = msgs[i].content;
        total += strlen(msgs[i].content) + 64;
    }
    if (total > INT32_MAX / 2) { hz_free(lm); return hz_error_set(HZ_ETOOBIG, "messages: too long"); }
    int32_t cap = (int32_t)(total * 2 + 256);
    char *buf = hz_malloc((size_t)cap);
    int32_t len = llama_chat_apply_template(tmpl, lm, n, true, buf, cap);
    if (len > cap) {
        cap = len + 1;
        buf = hz_realloc(buf, (size_t)cap);
        len = llama_chat_apply_template(tmpl, lm, n, true, buf, cap);
    }
    hz_free(lm);
    if (len < 0) {
        hz_free(buf);
        return hz_error_set(HZ_EUNSUPPORTED, "chat template not recognised by llama.cpp; pass a built-in template name such as \"chatml\" or \"llama3\"");
    }
    buf[len < cap ? len : cap - 1] = '\0';
    *out = buf;
    return 0;
}

int llm_tokenize(const struct llama_vocab *vocab, const char *text, bool add_special, llama_token **out, int32_t *n) {
    size_t len = strlen(text);
    if (len > INT32_MAX / 2) return hz_error_set(HZ_ETOOBIG, "prompt: %zu bytes is too long", len);
    int32_t cap = (int32_t)len + 8;
    llama_token *toks = hz_malloc(sizeof(llama_token) * (size_t)cap);
    /* parse_special: the template's control tokens ("<|im_start|>") must become single tokens */
    int32_t k = llama_tokenize(vocab, text, (int32_t)len, toks, cap, add_special, true);
    if (k < 0) {
        cap = -k;
        toks = hz_realloc(toks, sizeof(llama_token) * (size_t)cap);
        k = llama_tokenize(vocab, text, (int32_t)len, toks, cap, add_special, true);
    }
    if (k < 0) { hz_free(toks); return hz_error_set(HZ_EINTERNAL, "tokenizer failed"); }
    *out = toks;
    *n = k;
    return 0;
}
