/*
 * The local engine on the generated tiny models: headers, catalog, loading, chat, streaming,
 * concurrency, embeddings, LoRA, JSON mode and bad files. Expected values are never hard-coded
 * model output: each test derives them from another run (the same prompt alone, the same seed,
 * the text before a stop string), so they hold for any weights the generator writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hanzo/llm.h"
#include "llm/llm_internal.h"

static char dir[256];
static char chat_path[300], chat2_path[300], embed_path[300], lora_path[300];

static void write_model(const char *path, hz_llm_testmodel_kind_t kind, uint64_t seed) {
    hz_llm_testmodel_opts_t o = {.kind = kind, .seed = seed};
    int rc = hz_llm_testmodel_write(path, &o);
    if (rc) fprintf(stderr, "testmodel: %s\n", hz_error_last());
    assert_int_equal(rc, 0);
}

static int setup(void **state) {
    (void)state;
    hz_log_configure("warn", HZ_LOG_TEXT, NULL);
    snprintf(dir, sizeof(dir), "/tmp/hz-test-llm.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(chat_path, sizeof(chat_path), "%s/chat.gguf", dir);
    snprintf(chat2_path, sizeof(chat2_path), "%s/chat2.gguf", dir);
    snprintf(embed_path, sizeof(embed_path), "%s/embed.gguf", dir);
    snprintf(lora_path, sizeof(lora_path), "%s/lora.gguf", dir);
    write_model(chat_path, HZ_LLM_TESTMODEL_CHAT, 1);
    write_model(chat2_path, HZ_LLM_TESTMODEL_CHAT, 2);
    write_model(embed_path, HZ_LLM_TESTMODEL_EMBED, 1);
    write_model(lora_path, HZ_LLM_TESTMODEL_LORA, 1);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char *cmd = hz_sprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    hz_free(cmd);
    return rc == 0 ? 0 : -1;
}

static hz_llm_engine_t *engine(int n_parallel, int queue_max) {
    hz_llm_engine_config_t cfg = {.n_ctx = 512, .n_parallel = n_parallel, .n_threads = 1, .queue_max = queue_max};
    hz_llm_engine_t *e = hz_llm_engine_new(&cfg);
    assert_int_equal(hz_llm_engine_add(e, "chat", chat_path), 0);
    assert_int_equal(hz_llm_engine_add(e, "embed", embed_path), 0);
    return e;
}

static hz_llm_chat_request_t greedy(const char *user, const hz_llm_message_t *msg, int max_tokens) {
    (void)user;
    hz_llm_chat_request_t r = {.model = "chat", .messages = msg, .n_messages = 1, .max_tokens = max_tokens};
    hz_llm_sampling_default(&r.sampling);
    r.sampling.temperature = 0;
    return r;
}

static char *run(hz_llm_engine_t *e, hz_llm_chat_request_t *req, hz_llm_result_t *res) {
    int rc = hz_llm_chat(e, req, NULL, NULL, res);
    if (rc) fprintf(stderr, "chat: %s\n", hz_error_last());
    assert_int_equal(rc, 0);
    return res->text;
}

/* ---- headers and generator ----------------------------------------------------------------- */

static void test_header(void **state) {
    (void)state;
    hz_llm_model_info_t m;
    assert_int_equal(hz_llm_gguf_read(chat_path, &m), 0);
    assert_string_equal(m.arch, "llama");
    assert_int_equal(m.n_layer, 2);
    assert_int_equal(m.n_embd, 64);
    assert_int_equal(m.n_vocab, 151936);
    assert_non_null(m.chat_template);
    assert_non_null(strstr(m.chat_template, "<|im_start|>"));
    assert_false(m.embedding);
    assert_false(m.adapter);
    assert_true(m.n_params > 151936u * 64u);
    assert_true(m.mem_recommended > m.data_size);
    struct stat st;
    stat(chat_path, &st);
    assert_int_equal(m.file_size, (uint64_t)st.st_size);
    hz_llm_model_info_free(&m);

    assert_int_equal(hz_llm_gguf_read(embed_path, &m), 0);
    assert_string_equal(m.arch, "bert");
    assert_true(m.embedding);
    assert_int_equal(m.pooling, 1);
    hz_llm_model_info_free(&m);

    assert_int_equal(hz_llm_gguf_read(lora_path, &m), 0);
    assert_true(m.adapter);
    hz_llm_model_info_free(&m);
}

static bool same_file(const char *a, const char *b) {
    char *cmd = hz_sprintf("cmp -s '%s' '%s'", a, b);
    int rc = system(cmd);
    hz_free(cmd);
    return rc == 0;
}

static void test_generator_deterministic(void **state) {
    (void)state;
    char again[320];
    snprintf(again, sizeof(again), "%s/again.gguf", dir);
    write_model(again, HZ_LLM_TESTMODEL_CHAT, 1);
    assert_true(same_file(again, chat_path));
    assert_false(same_file(chat2_path, chat_path));
    unlink(again);

    /* the node's default model: written once, then reused */
    char ddir[320], *p1 = NULL, *p2 = NULL;
    snprintf(ddir, sizeof(ddir), "%s/default", dir);
    assert_int_equal(hz_llm_default_model_ensure(ddir, &p1), 0);
    struct stat st1, st2;
    assert_int_equal(stat(p1, &st1), 0);
    assert_int_equal(hz_llm_default_model_ensure(ddir, &p2), 0);
    assert_string_equal(p1, p2);
    assert_int_equal(stat(p2, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_true(hz_str_ends_with(p1, "/hanzo-tiny-chat.gguf"));
    hz_free(p1);
    hz_free(p2);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_bad_files(void **state) {
    (void)state;
    hz_llm_model_info_t m;
    char path[320];
    snprintf(path, sizeof(path), "%s/missing.gguf", dir);
    assert_int_equal(hz_llm_gguf_read(path, &m), HZ_ENOTFOUND);
    assert_non_null(strstr(hz_error_last(), "missing.gguf"));

    snprintf(path, sizeof(path), "%s/corrupt.gguf", dir);
    write_bytes(path, "this is not a model at all", 26);
    assert_int_equal(hz_llm_gguf_read(path, &m), HZ_EPARSE);
    assert_non_null(strstr(hz_error_last(), "not a GGUF"));

    /* a header that claims a huge key: refused before any allocation */
    uint8_t evil[64] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    write_bytes(path, evil, sizeof(evil));
    assert_int_equal(hz_llm_gguf_read(path, &m), HZ_EPARSE);

    /* the chat model cut in half: the tensor table says more data than the file has */
    snprintf(path, sizeof(path), "%s/truncated.gguf", dir);
    FILE *in = fopen(chat_path, "rb");
    struct stat st;
    stat(chat_path, &st);
    size_t half = (size_t)st.st_size / 2;
    char *buf = hz_malloc(half);
    assert_int_equal(fread(buf, 1, half, in), half);
    fclose(in);
    write_bytes(path, buf, half);
    hz_free(buf);
    assert_int_equal(hz_llm_gguf_read(path, &m), HZ_EPARSE);
    assert_non_null(strstr(hz_error_last(), "truncated"));

    /* and the engine reports it the same way, without crashing */
    hz_llm_engine_t *e = engine(1, 0);
    assert_int_equal(hz_llm_engine_add(e, "cut", path), 0);
    assert_int_equal(hz_llm_engine_load(e, "cut"), HZ_EPARSE);
    assert_non_null(strstr(hz_error_last(), "truncated"));
    assert_false(hz_llm_engine_is_loaded(e, "cut"));
    assert_int_equal(hz_llm_engine_load(e, "no-such-model"), HZ_ENOTFOUND);
    hz_llm_engine_free(e);
}

static void test_catalog(void **state) {
    (void)state;
    char cdir[320];
    snprintf(cdir, sizeof(cdir), "%s/catalog", dir);
    const char *digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char *cmd = hz_sprintf(
             "mkdir -p %1$s/models/sub %1$s/ollama/blobs %1$s/ollama/manifests/registry.ollama.ai/library/tiny && "
             "cp %2$s %1$s/models/alpha.gguf && cp %3$s %1$s/models/sub/vectors.gguf && "
             "echo junk > %1$s/models/broken.gguf && cp %2$s %1$s/ollama/blobs/sha256-%4$s && "
             "printf '{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%4$s\"}]}' "
             "> %1$s/ollama/manifests/registry.ollama.ai/library/tiny/latest",
             cdir, chat_path, embed_path, digest);
    assert_int_equal(system(cmd), 0);
    hz_free(cmd);
    char mdir[400], odir[400];
    snprintf(mdir, sizeof(mdir), "%s/models", cdir);
    snprintf(odir, sizeof(odir), "%s/ollama", cdir);
    const char *dirs[] = {mdir, "/nonexistent/hz"};
    hz_llm_catalog_t *cat;
    assert_int_equal(hz_llm_catalog_scan(dirs, 2, odir, &cat), 0);
    assert_int_equal(hz_llm_catalog_count(cat), 3);
    const hz_llm_model_info_t *a = hz_llm_catalog_find(cat, "alpha");
    assert_non_null(a);
    assert_string_equal(a->source, "dir");
    const hz_llm_model_info_t *v = hz_llm_catalog_find(cat, "vec");   /* unique prefix */
    assert_non_null(v);
    assert_true(v->embedding);
    const hz_llm_model_info_t *o = hz_llm_catalog_find(cat, "tiny:latest");
    assert_non_null(o);
    assert_string_equal(o->source, "ollama");
    assert_non_null(strstr(hz_llm_catalog_skipped(cat), "broken.gguf"));
    json_object *j = hz_llm_model_info_json(a);
    assert_string_equal(json_object_get_string(json_object_object_get(j, "architecture")), "llama");
    json_object_put(j);
    hz_llm_catalog_free(cat);
}

/* ---- text helpers --------------------------------------------------------------------------- */

static void test_text_helpers(void **state) {
    (void)state;
    const char *e_acute = "caf\xc3\xa9";
    assert_int_equal(llm_utf8_complete_prefix(e_acute, 4), 3);          /* lead byte alone: wait */
    assert_int_equal(llm_utf8_complete_prefix(e_acute, 5), 5);
    assert_int_equal(llm_utf8_complete_prefix("\xf0\x9f\x98", 3), 0);    /* 3 of 4 emoji bytes */
    hz_buf_t b = HZ_BUF_INIT;
    llm_utf8_sanitize_append(&b, "a\xff" "b\xc3", 4);
    assert_string_equal(b.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    hz_buf_free(&b);
    const char *stops[] = {"</end>", "STOP"};
    assert_int_equal(llm_stop_holdback("hello </e", 9, stops, 2), 3);
    assert_int_equal(llm_stop_holdback("hello ST", 8, stops, 2), 2);
    assert_int_equal(llm_stop_holdback("hello", 5, stops, 2), 0);
    assert_int_equal(llm_stop_find("abc STOP d", 10, 5, stops, 2), 4);
}

/* ---- chat ----------------------------------------------------------------------------------- */

static void test_template(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msgs[] = {{"system", "Be brief."}, {"user", "Hello"}};
    char *out = NULL;
    assert_int_equal(hz_llm_render_chat(e, "chat", NULL, msgs, 2, &out), 0);
    assert_non_null(strstr(out, "<|im_start|>system\nBe brief.<|im_end|>"));
    assert_true(hz_str_ends_with(out, "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"));
    hz_free(out);
    assert_int_equal(hz_llm_render_chat(e, "chat", "llama3", msgs, 2, &out), 0);
    assert_non_null(strstr(out, "<|start_header_id|>user<|end_header_id|>"));
    hz_free(out);
    hz_llm_message_t bad = {"wizard", "x"};
    assert_int_equal(hz_llm_render_chat(e, "chat", NULL, &bad, 1, &out), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "messages[0].role"));
    hz_llm_engine_free(e);
}

static void test_greedy_and_seed(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msg = {"user", "Tell me about the sea."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 16);
    hz_llm_result_t a, b;
    run(e, &r, &a);
    run(e, &r, &b);
    assert_true(a.text_len > 0);
    assert_string_equal(a.text, b.text);
    assert_true(a.prompt_tokens > 5);
    assert_int_equal(a.completion_tokens, 16);
    assert_int_equal(a.finish, HZ_LLM_FINISH_LENGTH);
    assert_true(b.cached_tokens >= b.prompt_tokens - 1);   /* the second run reused the prompt's KV */
    hz_llm_result_free(&a);
    hz_llm_result_free(&b);

    r.sampling.temperature = 1.0f;
    r.sampling.seed = 42;
    hz_llm_result_t s1, s2, s3;
    run(e, &r, &s1);
    run(e, &r, &s2);
    r.sampling.seed = 43;
    run(e, &r, &s3);
    assert_string_equal(s1.text, s2.text);
    assert_string_not_equal(s1.text, s3.text);
    hz_llm_result_free(&s1);
    hz_llm_result_free(&s2);
    hz_llm_result_free(&s3);
    hz_llm_engine_free(e);
}

typedef struct stream_log {
    hz_buf_t all;
    int chunks;
    bool invalid;
    const char *forbidden;
    bool saw_forbidden;
    int cancel_after;
} stream_log_t;

static int on_text(const char *t, size_t n, void *ud) {
    stream_log_t *s = ud;
    if (hz_utf8_valid_prefix(t, n) != n) s->invalid = true;
    if (s->forbidden && memmem(t, n, s->forbidden, strlen(s->forbidden))) s->saw_forbidden = true;
    hz_buf_append(&s->all, t, n);
    s->chunks++;
    return s->cancel_after && s->chunks >= s->cancel_after;
}

static void test_stop_and_stream(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msg = {"user", "Write a story."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 40);
    r.sampling.temperature = 0.9f;   /* varied text, still reproducible with the seed */
    r.sampling.seed = 7;
    hz_llm_result_t full;
    run(e, &r, &full);
    assert_true(full.text_len > 12);
    /* a stop string taken from the middle of the answer, on a character boundary */
    size_t at = full.text_len / 2;
    while (at > 0 && ((unsigned char)full.text[at] & 0xc0) == 0x80) at--;
    size_t end = at + 1;
    while (end < full.text_len && ((unsigned char)full.text[end] & 0xc0) == 0x80) end++;
    char *stop = hz_strndup(full.text + at, end - at + (end < full.text_len ? 1 : 0));
    const char *first = strstr(full.text, stop);
    assert_non_null(first);
    const char *stops[] = {stop};
    r.stop = stops;
    r.n_stop = 1;
    stream_log_t log = {.forbidden = stop};
    hz_buf_init(&log.all);
    hz_llm_result_t cut;
    assert_int_equal(hz_llm_chat(e, &r, on_text, &log, &cut), 0);
    assert_int_equal(cut.finish, HZ_LLM_FINISH_STOP);
    assert_int_equal(cut.text_len, (size_t)(first - full.text));
    assert_memory_equal(cut.text, full.text, cut.text_len);
    assert_int_equal(log.all.len, cut.text_len);           /* the stream is the result */
    assert_false(log.saw_forbidden);
    assert_false(log.invalid);
    hz_buf_free(&log.all);
    hz_free(stop);
    hz_llm_result_free(&full);
    hz_llm_result_free(&cut);
    hz_llm_engine_free(e);
}

static void test_utf8_stream(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(1, 0);
    hz_llm_message_t msg = {"user", "\xe4\xbd\xa0\xe5\xa5\xbd, \xf0\x9f\x8c\x8d!"};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 200);
    r.sampling.temperature = 1.5f;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1;
    r.sampling.min_p = 0;
    r.sampling.seed = 3;
    stream_log_t log = {0};
    hz_buf_init(&log.all);
    hz_llm_result_t res;
    assert_int_equal(hz_llm_chat(e, &r, on_text, &log, &res), 0);
    assert_false(log.invalid);
    assert_int_equal(hz_utf8_valid_prefix(res.text, res.text_len), res.text_len);
    /* a byte-level vocabulary sampled this freely produces multi-byte characters */
    bool multibyte = false;
    for (size_t i = 0; i < res.text_len; i++) multibyte |= (unsigned char)res.text[i] >= 0x80;
    assert_true(multibyte);
    hz_buf_free(&log.all);
    hz_llm_result_free(&res);
    hz_llm_engine_free(e);
}

static void test_cancel(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(1, 0);
    hz_llm_message_t msg = {"user", "Count forever."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 400);
    stream_log_t log = {.cancel_after = 3};
    hz_buf_init(&log.all);
    hz_llm_result_t res;
    assert_int_equal(hz_llm_chat(e, &r, on_text, &log, &res), 0);
    assert_int_equal(res.finish, HZ_LLM_FINISH_CANCELLED);
    assert_true(res.completion_tokens < 50);
    hz_llm_result_free(&res);
    hz_buf_free(&log.all);

    /* a flag set from outside, before the request even starts */
    atomic_bool flag;
    atomic_init(&flag, true);
    r.cancel = &flag;
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), 0);
    assert_int_equal(res.finish, HZ_LLM_FINISH_CANCELLED);
    hz_llm_result_free(&res);
    hz_llm_engine_free(e);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

static const char *PROMPTS[] = {"The first question.", "A second, longer question about rivers and mountains.",
                                "Third.", "And a fourth one, about the stars above.", "Five", "Sixth prompt here"};
enum { NP = 6 };

typedef struct par {
    hz_llm_engine_t *e;
    int i;
    hz_llm_result_t res;
    int rc;
} par_t;

static void *par_main(void *arg) {
    par_t *p = arg;
    hz_llm_message_t msg = {"user", PROMPTS[p->i]};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 24);
    p->rc = hz_llm_chat(p->e, &r, NULL, NULL, &p->res);
    return NULL;
}

static void test_parallel_matches_sequential(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(4, 8);
    char *seq[NP];
    for (int i = 0; i < NP; i++) {
        hz_llm_message_t msg = {"user", PROMPTS[i]};
        hz_llm_chat_request_t r = greedy(NULL, &msg, 24);
        hz_llm_result_t res;
        run(e, &r, &res);
        seq[i] = hz_strdup(res.text);
        hz_llm_result_free(&res);
    }
    /* a fresh engine so no slot holds a cached prefix: every prompt is evaluated in the batch */
    hz_llm_engine_free(e);
    e = engine(4, 8);
    pthread_t th[NP];
    par_t p[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = (par_t){.e = e, .i = i};
        pthread_create(&th[i], NULL, par_main, &p[i]);
    }
    for (int i = 0; i < NP; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NP; i++) {
        assert_int_equal(p[i].rc, 0);
        assert_string_equal(p[i].res.text, seq[i]);
        hz_llm_result_free(&p[i].res);
        hz_free(seq[i]);
    }
    hz_llm_engine_free(e);
}

typedef struct blocker {
    hz_llm_engine_t *e;
    atomic_bool started, release;
    int rc;
} blocker_t;

static int block_cb(const char *t, size_t n, void *ud) {
    (void)t; (void)n;
    blocker_t *b = ud;
    atomic_store(&b->started, true);
    while (!atomic_load(&b->release)) hz_sleep_ms(5);
    return 1;
}

static void *blocker_main(void *arg) {
    blocker_t *b = arg;
    hz_llm_message_t msg = {"user", "hold the line"};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 300);
    hz_llm_result_t res;
    b->rc = hz_llm_chat(b->e, &r, block_cb, b, &res);
    if (b->rc == 0) hz_llm_result_free(&res);
    return NULL;
}

static void test_busy(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(1, -1);   /* one sequence, no waiting room */
    blocker_t b = {.e = e};
    atomic_init(&b.started, false);
    atomic_init(&b.release, false);
    pthread_t th;
    pthread_create(&th, NULL, blocker_main, &b);
    while (!atomic_load(&b.started)) hz_sleep_ms(5);
    hz_llm_message_t msg = {"user", "me too"};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 4);
    hz_llm_result_t res;
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), HZ_EBUSY);
    assert_non_null(strstr(hz_error_last(), "busy"));
    atomic_store(&b.release, true);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, 0);
    run(e, &r, &res);   /* free again */
    hz_llm_result_free(&res);
    hz_llm_engine_free(e);
}

static void test_prompt_too_long(void **state) {
    (void)state;
    hz_llm_engine_config_t cfg = {.n_ctx = 32, .n_parallel = 1, .n_threads = 1};
    hz_llm_engine_t *e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "chat", chat_path);
    hz_llm_message_t msg = {"user", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                                    "fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two"};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 4);
    hz_llm_result_t res;
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), HZ_ETOOBIG);
    assert_non_null(strstr(hz_error_last(), "context"));
    /* generation that reaches the end of the context ends with "length" */
    hz_llm_message_t shortmsg = {"user", "hi"};
    r = greedy(NULL, &shortmsg, 0);
    run(e, &r, &res);
    assert_int_equal(res.finish, HZ_LLM_FINISH_LENGTH);
    assert_true(res.prompt_tokens + res.completion_tokens <= 32);
    hz_llm_result_free(&res);
    hz_llm_engine_free(e);
}

/* ---- load management ------------------------------------------------------------------------ */

typedef struct loader {
    hz_llm_engine_t *e;
    int rc;
} loader_t;

static void *loader_main(void *arg) {
    loader_t *l = arg;
    l->rc = hz_llm_engine_load(l->e, "chat");
    return NULL;
}

static void test_single_flight_and_keep_alive(void **state) {
    (void)state;
    hz_llm_engine_config_t cfg = {.n_ctx = 256, .n_parallel = 1, .n_threads = 1, .keep_alive_ms = 60000};
    hz_llm_engine_t *e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "chat", chat_path);
    pthread_t th[4];
    loader_t l[4];
    for (int i = 0; i < 4; i++) { l[i] = (loader_t){e, -99}; pthread_create(&th[i], NULL, loader_main, &l[i]); }
    for (int i = 0; i < 4; i++) { pthread_join(th[i], NULL); assert_int_equal(l[i].rc, 0); }
    assert_int_equal(hz_llm_engine_load_count(e), 1);
    assert_true(hz_llm_engine_is_loaded(e, "chat"));
    assert_int_equal(hz_llm_engine_reap(e), 0);           /* not idle long enough */
    hz_llm_engine_free(e);

    cfg.keep_alive_ms = 50;
    e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "chat", chat_path);
    assert_int_equal(hz_llm_engine_load(e, "chat"), 0);
    for (int i = 0; i < 100 && hz_llm_engine_is_loaded(e, "chat"); i++) hz_sleep_ms(20);
    assert_false(hz_llm_engine_is_loaded(e, "chat"));     /* the timer unloaded it */
    assert_int_equal(hz_llm_engine_memory(e), 0);
    hz_llm_engine_free(e);
}

static void test_lru_budget(void **state) {
    (void)state;
    hz_llm_model_info_t info;
    assert_int_equal(hz_llm_gguf_read(chat_path, &info), 0);
    uint64_t one = hz_llm_model_info_memory(&info, 256);
    hz_llm_model_info_free(&info);
    hz_llm_engine_config_t cfg = {.n_ctx = 256, .n_parallel = 1, .n_threads = 1, .mem_budget = one + one / 2};
    hz_llm_engine_t *e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "a", chat_path);
    hz_llm_engine_add(e, "b", chat2_path);
    assert_int_equal(hz_llm_engine_load(e, "a"), 0);
    assert_int_equal(hz_llm_engine_load(e, "b"), 0);
    assert_false(hz_llm_engine_is_loaded(e, "a"));        /* evicted to make room */
    assert_true(hz_llm_engine_is_loaded(e, "b"));
    assert_true(hz_llm_engine_memory(e) <= cfg.mem_budget);
    hz_llm_engine_free(e);

    cfg.mem_budget = one / 2;
    e = hz_llm_engine_new(&cfg);
    hz_llm_engine_add(e, "a", chat_path);
    assert_int_equal(hz_llm_engine_load(e, "a"), HZ_ETOOBIG);
    hz_llm_engine_free(e);
}

/* ---- embeddings, LoRA, JSON ----------------------------------------------------------------- */

static double norm(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

static void test_embeddings(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    const char *inputs[] = {"the cat sat on the mat", "quantum chromodynamics", "the cat sat on the mat"};
    hz_llm_embed_request_t r = {.model = "embed", .inputs = inputs, .n_inputs = 3, .pooling = HZ_LLM_POOL_MODEL, .normalize = true};
    hz_llm_embeddings_t emb;
    assert_int_equal(hz_llm_embed(e, &r, &emb), 0);
    assert_int_equal(emb.n, 3);
    assert_int_equal(emb.dim, 64);
    assert_true(emb.prompt_tokens > 6);
    for (size_t i = 0; i < 3; i++) assert_true(fabs(norm(emb.data + i * emb.dim, emb.dim) - 1.0) < 1e-4);
    assert_memory_equal(emb.data, emb.data + 2 * emb.dim, emb.dim * sizeof(float));  /* same text, same vector */
    assert_memory_not_equal(emb.data, emb.data + emb.dim, emb.dim * sizeof(float));
    hz_llm_embeddings_t raw, cls;
    r.normalize = false;
    assert_int_equal(hz_llm_embed(e, &r, &raw), 0);
    assert_true(fabs(norm(raw.data, raw.dim) - 1.0) > 1e-3);
    r.pooling = HZ_LLM_POOL_CLS;
    assert_int_equal(hz_llm_embed(e, &r, &cls), 0);
    assert_memory_not_equal(raw.data, cls.data, raw.dim * sizeof(float));
    /* a chat model embeds too (mean pooling over its last hidden state) */
    r.model = "chat";
    r.pooling = HZ_LLM_POOL_MODEL;
    hz_llm_embeddings_t ce;
    assert_int_equal(hz_llm_embed(e, &r, &ce), 0);
    assert_int_equal(ce.dim, 64);
    /* and an embedding model cannot chat */
    hz_llm_message_t msg = {"user", "hi"};
    hz_llm_chat_request_t cr = greedy(NULL, &msg, 4);
    cr.model = "embed";
    hz_llm_result_t res;
    assert_int_equal(hz_llm_chat(e, &cr, NULL, NULL, &res), HZ_EINVAL);
    hz_llm_embeddings_free(&emb);
    hz_llm_embeddings_free(&raw);
    hz_llm_embeddings_free(&cls);
    hz_llm_embeddings_free(&ce);
    hz_llm_engine_free(e);
}

static void test_lora(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msg = {"user", "Adapt this."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 8);
    r.logprobs = true;
    hz_llm_result_t base, zero, on;
    run(e, &r, &base);
    hz_llm_lora_t l = {lora_path, 0.0f};
    r.lora = &l;
    r.n_lora = 1;
    run(e, &r, &zero);
    l.scale = 1.0f;
    run(e, &r, &on);
    assert_string_equal(base.text, zero.text);                  /* scale 0 is the base model */
    assert_true(fabs(base.logprob_sum - zero.logprob_sum) < 1e-3);
    assert_true(fabs(base.logprob_sum - on.logprob_sum) > 1e-2); /* the adapter moves the logits */
    hz_llm_result_free(&base);
    hz_llm_result_free(&zero);
    hz_llm_result_free(&on);
    /* a model file is not an adapter */
    l.path = chat2_path;
    hz_llm_result_t bad;
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &bad), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "not a LoRA adapter"));
    hz_llm_engine_free(e);
}

/* Per-token log-probabilities: one per generated token, each a real log-probability, the chosen
 * greedy token the most likely of its alternatives, alternatives sorted, texts joining up to the
 * answer, and the sum agreeing with logprob_sum. */
static void test_logprobs(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msg = {"user", "Count with me."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 6);
    r.logprobs = true;
    r.top_logprobs = 5;
    hz_llm_result_t res;
    run(e, &r, &res);
    assert_int_equal(res.n_logprobs, (size_t)res.completion_tokens);
    assert_true(res.n_logprobs > 0);
    double sum = 0;
    hz_buf_t joined = HZ_BUF_INIT;
    for (size_t i = 0; i < res.n_logprobs; i++) {
        const hz_llm_token_logprob_t *t = &res.logprobs[i];
        assert_true(t->logprob <= 0.0f);
        assert_int_equal(t->n_top, 5);
        assert_int_equal(t->top[0].token, t->token);          /* greedy picks the most likely */
        assert_true(fabsf(t->top[0].logprob - t->logprob) < 1e-5f);
        for (int k = 1; k < t->n_top; k++) assert_true(t->top[k].logprob <= t->top[k - 1].logprob);
        sum += t->logprob;
        hz_buf_puts(&joined, t->text);
    }
    assert_true(fabs(sum - res.logprob_sum) < 1e-3);
    assert_string_equal(joined.data ? joined.data : "", res.text);
    hz_buf_free(&joined);
    hz_llm_result_free(&res);
    r.top_logprobs = 21;
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "top_logprobs"));
    hz_llm_engine_free(e);
}

static void strip_ws(char *s) {
    char *w = s;
    for (char *p = s; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t') *w++ = *p;
    *w = '\0';
}

static void test_json_mode(void **state) {
    (void)state;
    hz_llm_engine_t *e = engine(2, 0);
    hz_llm_message_t msg = {"user", "Reply in JSON."};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 30);
    r.json_schema = "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"integer\"},"
                    "\"ok\":{\"type\":\"boolean\"}},\"required\":[\"answer\",\"ok\"]}";
    hz_llm_result_t res;
    run(e, &r, &res);
    strip_ws(res.text);
    assert_true(hz_str_starts_with(res.text, "{\"answer\":"));
    hz_llm_result_free(&res);

    r.json_schema = NULL;
    r.json_mode = true;
    run(e, &r, &res);
    strip_ws(res.text);
    assert_true(hz_str_starts_with(res.text, "{"));
    hz_llm_result_free(&res);

    r.json_schema = "{\"type\":\"string\",\"pattern\":\"^a+$\"}";
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), HZ_EUNSUPPORTED);
    assert_non_null(strstr(hz_error_last(), "pattern"));
    r.json_schema = NULL;
    r.json_mode = false;
    r.grammar = "root ::= (";
    assert_int_equal(hz_llm_chat(e, &r, NULL, NULL, &res), HZ_EINVAL);
    hz_llm_engine_free(e);
}

static void test_schema_grammar(void **state) {
    (void)state;
    const char *schema = "{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},"
                         "\"maxItems\":3},\"name\":{\"type\":[\"string\",\"null\"]}}}";
    json_object *o;
    assert_int_equal(hz_json_parse(schema, strlen(schema), &o), 0);
    hz_buf_t g = HZ_BUF_INIT;
    assert_int_equal(hz_llm_schema_to_gbnf(o, &g), 0);
    assert_non_null(strstr(g.data, "root ::= "));
    assert_non_null(strstr(g.data, "\"\\\"a\\\"\" | \"\\\"b\\\"\""));
    assert_non_null(strstr(g.data, "{0,2}"));
    json_object_put(o);
    hz_buf_free(&g);
    /* llama.cpp accepts what we generate */
    hz_llm_engine_t *e = engine(1, 0);
    hz_llm_message_t msg = {"user", "x"};
    hz_llm_chat_request_t r = greedy(NULL, &msg, 20);
    r.json_schema = schema;
    hz_llm_result_t res;
    run(e, &r, &res);
    strip_ws(res.text);
    assert_true(hz_str_starts_with(res.text, "{"));
    hz_llm_result_free(&res);
    hz_llm_engine_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_generator_deterministic),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_text_helpers),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_greedy_and_seed),
        cmocka_unit_test(test_stop_and_stream),
        cmocka_unit_test(test_utf8_stream),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_parallel_matches_sequential),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_prompt_too_long),
        cmocka_unit_test(test_single_flight_and_keep_alive),
        cmocka_unit_test(test_lru_budget),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_lora),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_json_mode),
        cmocka_unit_test(test_schema_grammar),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
