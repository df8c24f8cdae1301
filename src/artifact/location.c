/*
 * Backend locations: where an artifact can be fetched from, as the CLI spells them and as
 * metadata.json's `locations` (the reference's StorageLocation enum) records them, and the one URL
 * each of them means for a given content hash:
 *
 *   HTTP         the URL itself
 *   HuggingFace  {base}/{repo}/resolve/{revision}/{file}   (file defaults to "<hash>.ai")
 *   IPFS         {gateway}/ipfs/{cid}
 *   NodeStorage  {peer base URL}{path}                     (path defaults to /v2/artifacts/<hash>)
 *   Local        a file, or a store folder holding <hh>/<hash>.ai (no URL)
 *
 * Until nodes have network identities, a NodeStorage peer_id is the peer's base URL.
 */
#include "artifact/internal.h"

#include <string.h>

#define HF_DEFAULT "https://huggingface.co"
#define IPFS_DEFAULT "https://ipfs.io"

void hz_ai_location_clear(hz_ai_location_t *loc) {
    hz_free(loc->target);
    hz_free(loc->base);
    hz_free(loc->revision);
    hz_free(loc->file);
    hz_free(loc->api_key);
    memset(loc, 0, sizeof(*loc));
}

static char *trim_slash(const char *s) {
    char *c = hz_strdup(s);
    size_t n = strlen(c);
    while (n > 0 && c[n - 1] == '/') c[--n] = '\0';
    return c;
}

static bool is_http(const char *s) { return hz_str_starts_with(s, "http://") || hz_str_starts_with(s, "https://"); }

/* "org/name[@rev][/file...]" */
static int parse_hf(const char *s, hz_ai_location_t *out) {
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1]) return hz_error_set(HZ_EINVAL, "hf:%s: expected hf:ORG/NAME[@REVISION][/FILE]", s);
    const char *end = slash + 1 + strcspn(slash + 1, "@/");
    out->target = hz_strndup(s, (size_t)(end - s));
    const char *rest = end;
    if (*rest == '@') {
        size_t n = strcspn(rest + 1, "/");
        if (n == 0) return hz_error_set(HZ_EINVAL, "hf:%s: empty revision", s);
        out->revision = hz_strndup(rest + 1, n);
        rest += 1 + n;
    }
    if (*rest == '/' && rest[1]) out->file = hz_strdup(rest + 1);
    if (!out->revision) out->revision = hz_strdup("main");
    if (strstr(out->target, "..") || (out->file && strstr(out->file, "..")))
        return hz_error_set(HZ_EINVAL, "hf:%s: \"..\" is not allowed", s);
    return 0;
}

int hz_ai_location_parse(const char *spec, const char *hf_base, const char *ipfs_base, const char *node_key,
                         hz_ai_location_t *out) {
    memset(out, 0, sizeof(*out));
    int rc = 0;
    if (!spec || !*spec) return hz_error_set(HZ_EINVAL, "empty location");
    if (is_http(spec)) {
        out->kind = HZ_AI_LOC_HTTP;
        out->target = hz_strdup(spec);
    } else if (hz_str_starts_with(spec, "hf:")) {
        out->kind = HZ_AI_LOC_HF;
        out->base = trim_slash(hf_base ? hf_base : HF_DEFAULT);
        rc = parse_hf(spec + 3, out);
    } else if (hz_str_starts_with(spec, "ipfs:")) {
        uint8_t d[32];
        out->kind = HZ_AI_LOC_IPFS;
        out->base = trim_slash(ipfs_base ? ipfs_base : IPFS_DEFAULT);
        out->target = hz_strdup(spec + 5);
        rc = hz_ai_cid_parse(out->target, d);
    } else if (hz_str_starts_with(spec, "node:")) {
        out->kind = HZ_AI_LOC_NODE;
        if (!is_http(spec + 5)) rc = hz_error_set(HZ_EINVAL, "%s: expected node:http://HOST:PORT", spec);
        out->target = trim_slash(spec + 5);
        if (node_key && *node_key) out->api_key = hz_strdup(node_key);
    } else {
        out->kind = HZ_AI_LOC_LOCAL;
        out->target = hz_strdup(hz_str_starts_with(spec, "file:") ? spec + 5 : spec);
    }
    if (rc) hz_ai_location_clear(out);
    return rc;
}

static const char *str_of(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

int hz_ai_location_from_json(json_object *loc, const char *hf_base, const char *ipfs_base, hz_ai_location_t *out) {
    memset(out, 0, sizeof(*out));
    int rc = ai_location_validate(loc, "location");
    if (rc) return rc;
    json_object_object_foreach(loc, kind, v) {
        if (!strcmp(kind, "Local")) {
            out->kind = HZ_AI_LOC_LOCAL;
            out->target = hz_strdup(json_object_get_string(v));
        } else if (!strcmp(kind, "Http")) {
            out->kind = HZ_AI_LOC_HTTP;
            out->target = hz_strdup(json_object_get_string(v));
            if (!is_http(out->target)) rc = hz_error_set(HZ_EINVAL, "Http location \"%s\" is not an http(s) URL", out->target);
        } else if (!strcmp(kind, "HuggingFace")) {
            out->kind = HZ_AI_LOC_HF;
            out->base = trim_slash(hf_base ? hf_base : HF_DEFAULT);
            out->target = hz_strdup(str_of(v, "repo_id"));
            const char *rev = str_of(v, "revision");
            out->revision = hz_strdup(rev ? rev : "main");
        } else if (!strcmp(kind, "Ipfs")) {
            uint8_t d[32];
            out->kind = HZ_AI_LOC_IPFS;
            out->base = trim_slash(ipfs_base ? ipfs_base : IPFS_DEFAULT);
            out->target = hz_strdup(json_object_get_string(v));
            rc = hz_ai_cid_parse(out->target, d);
        } else if (!strcmp(kind, "NodeStorage")) {
            out->kind = HZ_AI_LOC_NODE;
            out->target = trim_slash(str_of(v, "peer_id"));
            const char *path = str_of(v, "path");
            if (path && *path) out->file = hz_strdup(path);
            if (!is_http(out->target)) rc = hz_error_set(HZ_EINVAL, "NodeStorage peer_id \"%s\" is not a node URL", out->target);
        } else {
            rc = hz_error_set(HZ_EUNSUPPORTED, "%s locations are not supported", kind);
        }
    }
    if (rc) hz_ai_location_clear(out);
    return rc;
}

char *hz_ai_location_url(const hz_ai_location_t *loc, const char *hash) {
    switch (loc->kind) {
    case HZ_AI_LOC_HTTP:
        return hz_strdup(loc->target);
    case HZ_AI_LOC_HF:
        if (loc->file) return hz_sprintf("%s/%s/resolve/%s/%s", loc->base, loc->target, loc->revision, loc->file);
        return hz_sprintf("%s/%s/resolve/%s/%s.ai", loc->base, loc->target, loc->revision, hash ? hash : "artifact");
    case HZ_AI_LOC_IPFS:
        return hz_sprintf("%s/ipfs/%s", loc->base, loc->target);
    case HZ_AI_LOC_NODE:
        if (loc->file) return hz_sprintf("%s%s%s", loc->target, loc->file[0] == '/' ? "" : "/", loc->file);
        return hash ? hz_sprintf("%s/v2/artifacts/%s", loc->target, hash) : hz_sprintf("%s/v2/artifacts", loc->target);
    case HZ_AI_LOC_LOCAL:
        break;
    }
    return NULL;
}
