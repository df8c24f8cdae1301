/*
 * The catalog: every model we can find on disk, by name, read from headers only.
 *
 * Two sources. Model folders hold GGUF files, named after the file without ".gguf"; folders are
 * walked a few levels deep so "models/qwen/qwen2.5-0.5b-q8_0.gguf" is found too. The Ollama
 * store keeps content-addressed blobs and one JSON manifest per model and tag under
 * manifests/<registry>/<namespace>/<model>/<tag>; the layer with media type
 * "application/vnd.ollama.image.model" names the GGUF blob (blobs/sha256-<hex>), and the model
 * is called as Ollama calls it: "llama3.2:1b" for the default registry's library, with the
 * namespace or registry prefixed otherwise. A file that cannot be read is reported in the
 * skipped list, never fatal: one bad download must not hide the other models.
 */
#include "llm/llm_internal.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 4, MAX_MANIFEST = 1 << 20 };

struct hz_llm_catalog {
    hz_llm_model_info_t *items;
    size_t n, cap;
    hz_buf_t skipped;
};

static char *home_path(const char *suffix) {
    const char *home = getenv("HOME");
    return hz_sprintf("%s/%s", home && *home ? home : ".", suffix);
}

char *hz_llm_default_models_dir(void) { return home_path(".hanzo/models"); }

char *hz_llm_default_ollama_dir(void) {
    const char *env = getenv("OLLAMA_MODELS");
    return env && *env ? hz_strdup(env) : home_path(".ollama/models");
}

static bool name_taken(const hz_llm_catalog_t *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0) return true;
    return false;
}

static void add(hz_llm_catalog_t *c, const char *path, const char *name, const char *source) {
    hz_llm_model_info_t info;
    if (hz_llm_gguf_read(path, &info) != 0) {
        hz_buf_printf(&c->skipped, "%s\n", hz_error_last());
        return;
    }
    char *unique = hz_strdup(name);
    for (int k = 2; name_taken(c, unique); k++) {
        hz_free(unique);
        unique = hz_sprintf("%s-%d", name, k);
    }
    info.name = unique;
    info.source = hz_strdup(source);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = hz_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->n++] = info;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Directory entries sorted, so the catalog (and "-2" suffixes) do not depend on readdir order. */
static char **list_dir(const char *dir, size_t *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (*n == cap) { cap = cap ? cap * 2 : 32; names = hz_realloc(names, cap * sizeof(char *)); }
        names[(*n)++] = hz_strdup(de->d_name);
    }
    closedir(d);
    if (*n) qsort(names, *n, sizeof(char *), cmp_names);
    return names;
}

static void free_list(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) hz_free(names[i]);
    hz_free(names);
}

static void scan_dir(hz_llm_catalog_t *c, const char *dir, int depth) {
    size_t n;
    char **names = list_dir(dir, &n);
    for (size_t i = 0; i < n; i++) {
        char *path = hz_sprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) scan_dir(c, path, depth + 1);
            else if (S_ISREG(st.st_mode) && hz_str_ends_with(names[i], ".gguf") && !strstr(names[i], ".tmp.")) {
                char *stem = hz_strndup(names[i], strlen(names[i]) - 5);
                add(c, path, stem, "dir");
                hz_free(stem);
            }
        }
        hz_free(path);
    }
    free_list(names, n);
}

static void scan_manifest(hz_llm_catalog_t *c, const char *ollama, const char *file, const char *host, const char *ns,
                          const char *model, const char *tag) {
    FILE *f = fopen(file, "rb");
    if (!f) return;
    char *buf = hz_malloc(MAX_MANIFEST);
    size_t len = fread(buf, 1, MAX_MANIFEST, f);
    fclose(f);
    json_object *root = NULL, *layers = NULL;
    if (len == MAX_MANIFEST || hz_json_parse(buf, len, &root) != 0 || hz_json_get_array(root, "layers", true, &layers) != 0) {
        hz_buf_printf(&c->skipped, "%s: not an Ollama manifest\n", file);
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(layers); i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        const char *mt = NULL, *digest = NULL;
        if (hz_json_get_string(l, "mediaType", true, &mt) != 0 || strcmp(mt, "application/vnd.ollama.image.model") != 0) continue;
        if (hz_json_get_string(l, "digest", true, &digest) != 0 || !hz_str_starts_with(digest, "sha256:") ||
            strlen(digest) != 7 + 64 || strspn(digest + 7, "0123456789abcdef") != 64) {
            hz_buf_printf(&c->skipped, "%s: layer %zu has no valid sha256 digest\n", file, i);
            continue;
        }
        char *blob = hz_sprintf("%s/blobs/sha256-%s", ollama, digest + 7);
        char *name = strcmp(host, "registry.ollama.ai") != 0 ? hz_sprintf("%s/%s/%s:%s", host, ns, model, tag)
                   : strcmp(ns, "library") != 0             ? hz_sprintf("%s/%s:%s", ns, model, tag)
                                                            : hz_sprintf("%s:%s", model, tag);
        add(c, blob, name, "ollama");
        hz_free(blob);
        hz_free(name);
    }
out:
    json_object_put(root);
    hz_free(buf);
}

static void scan_ollama(hz_llm_catalog_t *c, const char *ollama) {
    char *mdir = hz_sprintf("%s/manifests", ollama);
    size_t nh, nn, nm, nt;
    char **hosts = list_dir(mdir, &nh);
    for (size_t h = 0; h < nh; h++) {
        char *hp = hz_sprintf("%s/%s", mdir, hosts[h]);
        char **nss = list_dir(hp, &nn);
        for (size_t a = 0; a < nn; a++) {
            char *np = hz_sprintf("%s/%s", hp, nss[a]);
            char **models = list_dir(np, &nm);
            for (size_t b = 0; b < nm; b++) {
                char *mp = hz_sprintf("%s/%s", np, models[b]);
                char **tags = list_dir(mp, &nt);
                for (size_t t = 0; t < nt; t++) {
                    char *tp = hz_sprintf("%s/%s", mp, tags[t]);
                    struct stat st;
                    if (stat(tp, &st) == 0 && S_ISREG(st.st_mode)) scan_manifest(c, ollama, tp, hosts[h], nss[a], models[b], tags[t]);
                    hz_free(tp);
                }
                free_list(tags, nt);
                hz_free(mp);
            }
            free_list(models, nm);
            hz_free(np);
        }
        free_list(nss, nn);
        hz_free(hp);
    }
    free_list(hosts, nh);
    hz_free(mdir);
}

int hz_llm_catalog_scan(const char *const *dirs, size_t n_dirs, const char *ollama_dir, hz_llm_catalog_t **out) {
    hz_llm_catalog_t *c = hz_calloc(1, sizeof(*c));
    hz_buf_init(&c->skipped);
    hz_buf_puts(&c->skipped, "");
    for (size_t i = 0; i < n_dirs; i++)
        if (dirs[i] && *dirs[i]) scan_dir(c, dirs[i], 0);
    if (ollama_dir && *ollama_dir) scan_ollama(c, ollama_dir);
    *out = c;
    return 0;
}

void hz_llm_catalog_free(hz_llm_catalog_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) hz_llm_model_info_free(&c->items[i]);
    hz_free(c->items);
    hz_buf_free(&c->skipped);
    hz_free(c);
}

size_t hz_llm_catalog_count(const hz_llm_catalog_t *c) { return c ? c->n : 0; }

const hz_llm_model_info_t *hz_llm_catalog_at(const hz_llm_catalog_t *c, size_t i) { return c && i < c->n ? &c->items[i] : NULL; }

const hz_llm_model_info_t *hz_llm_catalog_find(const hz_llm_catalog_t *c, const char *name) {
    if (!c || !name) return NULL;
    const hz_llm_model_info_t *hit = NULL;
    size_t hits = 0, nl = strlen(name);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].name, name) == 0) return &c->items[i];
        if (strncmp(c->items[i].name, name, nl) == 0) { hit = &c->items[i]; hits++; }
    }
    return hits == 1 ? hit : NULL;
}

const char *hz_llm_catalog_skipped(const hz_llm_catalog_t *c) { return c && c->skipped.data ? c->skipped.data : ""; }
