/*
 * hanzo ai push / pull: the storage backends. Locations are given on the command line (--from,
 * --to) or read from an artifact's metadata (`locations`, tried in order), and the node's API key
 * comes from HANZO_NODE_KEY rather than the command line.
 */
#include "cmd_ai.h"

#include <stdlib.h>
#include <string.h>

static void pull_usage(void) {
    printf("usage: hanzo ai pull [HASH] --from LOCATION [--from LOCATION]... -o OUT.ai [options]\n\n"
           "Download the artifact with content hash HASH, trying each location in order; an\n"
           "interrupted download resumes (HTTP Range) on the next attempt. What arrives is verified\n"
           "in full and must carry HASH before it is written to OUT.ai. Without HASH, any artifact\n"
           "that verifies is accepted (for a direct URL).\n\n"
           "locations:\n"
           "  PATH                   an .ai file, or a store folder holding <hh>/<hash>.ai\n"
           "  https://...            a direct URL\n"
           "  hf:ORG/NAME[@REV][/FILE]  a mirror in Hugging Face's layout: {base}/ORG/NAME/resolve/REV/FILE\n"
           "                         (REV defaults to main, FILE to <hash>.ai)\n"
           "  ipfs:CID               an IPFS gateway: {gateway}/ipfs/CID (CIDv1, BLAKE3)\n"
           "  node:http://HOST:PORT  another hanzo node (GET /v2/artifacts/HASH)\n\n"
           "options:\n"
           "  -o, --output FILE      where to write the artifact (required unless --store)\n"
           "  --store DIR            add it to this content-addressed store folder\n"
           "  --locations FILE       also try the `locations` listed in this metadata.json or .ai\n"
           "  --hf-base URL          the mirror for hf: locations (default https://huggingface.co)\n"
           "  --ipfs-gateway URL     the gateway for ipfs: locations (default https://ipfs.io)\n"
           "  --trust KEYFILE        require a valid signature by this key; repeatable\n"
           "environment: HANZO_NODE_KEY (API key for node: locations)\n%s", cli_ai_common_help());
}

static void push_usage(void) {
    printf("usage: hanzo ai push FILE.ai --to LOCATION [options]\n\n"
           "Verify FILE.ai, then upload it:\n"
           "  node:http://HOST:PORT  POST /v2/artifacts on another hanzo node (key from HANZO_NODE_KEY)\n"
           "  https://...            PUT to the URL\n"
           "  hf:ORG/NAME[@REV][/FILE]  PUT to the mirror's resolve URL (a writable mirror)\n"
           "  DIR                    add to a local content-addressed store folder\n\n"
           "options:\n"
           "  --to LOCATION          where to upload (required)\n"
           "  --hf-base URL          the mirror for hf: locations\n%s", cli_ai_common_help());
}

typedef struct {
    hz_ai_location_t *v;
    size_t n;
} locs_t;

static int add_spec(locs_t *l, const char *spec, const char *hf, const char *ipfs) {
    l->v = hz_realloc(l->v, (l->n + 1) * sizeof(*l->v));
    if (hz_ai_location_parse(spec, hf, ipfs, getenv("HANZO_NODE_KEY"), &l->v[l->n]) != 0)
        return cli_fail("ai", "location \"%s\": %s", spec, hz_error_last());
    l->n++;
    return 0;
}

/* The `locations` of a metadata.json, or of an .ai file's metadata. */
static int add_from_metadata(locs_t *l, const char *path, const char *hf, const char *ipfs) {
    json_object *meta = NULL;
    hz_ai_info_t *info = NULL;
    if (hz_str_ends_with(path, ".ai")) {
        if (hz_ai_info(path, NULL, &info) != 0) return cli_fail("ai pull", "%s", hz_error_last());
        meta = json_object_get(info->metadata);
        hz_ai_info_free(info);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) return cli_fail("ai pull", "cannot open %s", path);
        hz_buf_t b = HZ_BUF_INIT;
        char tmp[8192];
        size_t n;
        while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) hz_buf_append(&b, tmp, n);
        fclose(f);
        int rc = hz_json_parse(b.data ? b.data : "", b.len, &meta);
        hz_buf_free(&b);
        if (rc) return cli_fail("ai pull", "%s: %s", path, hz_error_last());
    }
    json_object *arr;
    int status = 0;
    if (!meta || !json_object_object_get_ex(meta, "locations", &arr) || !json_object_is_type(arr, json_type_array)) {
        status = cli_fail("ai pull", "%s has no locations list", path);
    } else {
        for (size_t i = 0; i < json_object_array_length(arr) && !status; i++) {
            hz_ai_location_t loc;
            if (hz_ai_location_from_json(json_object_array_get_idx(arr, i), hf, ipfs, &loc) != 0) {
                fprintf(stderr, "hanzo ai pull: skipping location %zu of %s: %s\n", i, path, hz_error_last());
                continue;
            }
            if (loc.kind == HZ_AI_LOC_NODE) {
                const char *k = getenv("HANZO_NODE_KEY");
                if (k && *k) loc.api_key = hz_strdup(k);
            }
            l->v = hz_realloc(l->v, (l->n + 1) * sizeof(*l->v));
            l->v[l->n++] = loc;
        }
    }
    json_object_put(meta);
    return status;
}

static void locs_free(locs_t *l) {
    for (size_t i = 0; i < l->n; i++) hz_ai_location_clear(&l->v[i]);
    hz_free(l->v);
}

int cli_ai_pull(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { pull_usage(); return 0; }
    cli_ai_common_t c;
    cli_ai_common_init(&c);
    const char *hash = NULL, *out = NULL, *store = NULL, *hf = NULL, *ipfs = NULL;
    const char *from[64], *meta_files[8];
    size_t nfrom = 0, nmeta = 0;
    int status = 0;
    for (int i = 0; i < argc && !status; i++) {
        const char *a = argv[i];
        if (cli_ai_common_parse(&c, argc, argv, &i, &status) || status) continue;
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--from") || !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--store") ||
                     !strcmp(a, "--locations") || !strcmp(a, "--hf-base") || !strcmp(a, "--ipfs-gateway") || !strcmp(a, "--trust");
        if (takes && !val) { status = cli_fail("ai pull", "%s needs a value", a); break; }
        if (takes) i++;
        if (!strcmp(a, "--from")) { if (nfrom < 64) from[nfrom++] = val; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = val;
        else if (!strcmp(a, "--store")) store = val;
        else if (!strcmp(a, "--locations")) { if (nmeta < 8) meta_files[nmeta++] = val; }
        else if (!strcmp(a, "--hf-base")) hf = val;
        else if (!strcmp(a, "--ipfs-gateway")) ipfs = val;
        else if (!strcmp(a, "--trust")) status = cli_ai_load_key(&c, val, false);
        else if (a[0] == '-') status = cli_fail("ai pull", "unknown option %s (see --help)", a);
        else if (!hash) hash = a;
        else status = cli_fail("ai pull", "unexpected argument \"%s\"", a);
    }
    locs_t l = {0};
    for (size_t i = 0; i < nfrom && !status; i++) status = add_spec(&l, from[i], hf, ipfs);
    for (size_t i = 0; i < nmeta && !status; i++) status = add_from_metadata(&l, meta_files[i], hf, ipfs);
    if (!status && l.n == 0) status = cli_fail("ai pull", "no location: give --from LOCATION (see --help)");
    if (!status && !out && !store) status = cli_fail("ai pull", "missing -o OUT.ai (or --store DIR)");
    if (!status) {
        char *dest = out ? hz_strdup(out) : NULL;
        hz_ai_store_t *s = NULL;
        if (store && hz_ai_store_open(store, &s) != 0) status = cli_ai_fail("pull");
        if (!status && !dest) dest = hz_ai_store_tmp_path(s);
        hz_ai_fetch_opts_t fo = {.read = {.trusted = (const hz_key_t *const *)c.keys, .ntrusted = c.nkeys, .threads = c.threads,
                                          .progress = cli_ai_progress, .progress_ctx = &c.progress}};
        size_t used = 0;
        if (!status) {
            int rc = hz_ai_fetch(hash, l.v, l.n, dest, &fo, &used);
            cli_ai_progress_done(&c.progress);
            if (rc) status = cli_ai_fail("pull");
        }
        char added[HZ_AI_HASH_HEX_LEN + 1] = "";
        if (!status && s) {
            bool existed;
            if (hz_ai_store_add(s, dest, !out, &fo.read, added, &existed) != 0) status = cli_ai_fail("pull");
        }
        if (!status) {
            char *url = hz_ai_location_url(&l.v[used], hash);
            printf("pulled %s from %s%s%s%s\n", hash ? hash : "artifact", url ? url : l.v[used].target, out ? " into " : "",
                   out ? out : "", s ? " (added to the store)" : "");
            hz_free(url);
        }
        hz_ai_store_close(s);
        hz_free(dest);
    }
    locs_free(&l);
    cli_ai_common_free(&c);
    return status;
}

int cli_ai_push(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { push_usage(); return 0; }
    cli_ai_common_t c;
    cli_ai_common_init(&c);
    const char *file = NULL, *to = NULL, *hf = NULL;
    int status = 0;
    for (int i = 0; i < argc && !status; i++) {
        const char *a = argv[i];
        if (cli_ai_common_parse(&c, argc, argv, &i, &status) || status) continue;
        if (!strcmp(a, "--to") || !strcmp(a, "--hf-base")) {
            if (i + 1 >= argc) { status = cli_fail("ai push", "%s needs a value", a); break; }
            if (!strcmp(a, "--to")) to = argv[++i];
            else hf = argv[++i];
        } else if (a[0] == '-') {
            status = cli_fail("ai push", "unknown option %s (see --help)", a);
        } else if (!file) {
            file = a;
        } else {
            status = cli_fail("ai push", "unexpected argument \"%s\"", a);
        }
    }
    if (!status && !file) status = cli_fail("ai push", "missing the .ai file (see --help)");
    if (!status && !to) status = cli_fail("ai push", "missing --to LOCATION");
    hz_ai_location_t loc = {0};
    if (!status && hz_ai_location_parse(to, hf, NULL, getenv("HANZO_NODE_KEY"), &loc) != 0)
        status = cli_fail("ai push", "location \"%s\": %s", to, hz_error_last());
    if (!status) {
        hz_ai_fetch_opts_t fo = {.read = {.threads = c.threads, .progress = cli_ai_progress, .progress_ctx = &c.progress}};
        int rc = hz_ai_push(file, &loc, &fo);
        cli_ai_progress_done(&c.progress);
        if (rc) status = cli_ai_fail("push");
        else printf("pushed %s to %s\n", file, to);
    }
    hz_ai_location_clear(&loc);
    cli_ai_common_free(&c);
    return status;
}
