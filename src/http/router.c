/*
 * The route table: a trie keyed by path segment. Each node has literal children and at most
 * one parameter child; a pattern's route hangs off the node its last segment reaches. Matching
 * walks the request path once, trying the literal child before the parameter child and
 * backtracking if that branch dead-ends, so "/v2/jobs/count" beats "/v2/jobs/{id}" but
 * "/v2/jobs/42" still finds the parameter route. The table is built before the server starts
 * and never changes afterwards, so matching needs no lock and allocates nothing: captures are
 * reported as offsets into the caller's path.
 *
 * Segments are what lies between slashes: "/" has none, "/a/" has "a" and "". A parameter
 * never matches an empty segment.
 */
#include <string.h>

#include "http_internal.h"

struct hz_rnode {
    char *seg;                  /* literal text (NULL for the parameter node) */
    size_t seglen;
    hz_rnode_t **kids;          /* literal children */
    int nkids;
    hz_rnode_t *param;          /* the {name} child */
    hz_route_t *route;
};

static const char *const method_names[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"};

unsigned hz_http_method_bit(const char *m) {
    switch (m[0]) {
    case 'G': return strcmp(m, "GET") == 0 ? HZ_HTTP_GET : 0;
    case 'P':
        if (strcmp(m, "POST") == 0) return HZ_HTTP_POST;
        if (strcmp(m, "PUT") == 0) return HZ_HTTP_PUT;
        if (strcmp(m, "PATCH") == 0) return HZ_HTTP_PATCH;
        return 0;
    case 'D': return strcmp(m, "DELETE") == 0 ? HZ_HTTP_DELETE : 0;
    case 'H': return strcmp(m, "HEAD") == 0 ? HZ_HTTP_HEAD : 0;
    case 'O': return strcmp(m, "OPTIONS") == 0 ? HZ_HTTP_OPTIONS : 0;
    default: return 0;
    }
}

int hz_http_method_index(unsigned bit) {
    if (!bit) return HZ_HTTP_METHOD_OTHER;
    return __builtin_ctz(bit);
}

const char *hz_http_method_name(int index) {
    return index >= 0 && index <= HZ_HTTP_METHOD_OTHER ? method_names[index] : "OTHER";
}

void hz_router_init(hz_router_t *r) {
    memset(r, 0, sizeof(*r));
    r->root = hz_calloc(1, sizeof(hz_rnode_t));
}

static void node_free(hz_rnode_t *n) {
    if (!n) return;
    for (int i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    hz_free(n->kids);
    node_free(n->param);
    hz_free(n->seg);
    hz_free(n);
}

void hz_router_free(hz_router_t *r) {
    node_free(r->root);
    for (int i = 0; i < r->nroutes; i++) {
        hz_route_t *rt = r->routes[i];
        for (int p = 0; p < rt->nparams; p++) hz_free(rt->params[p]);
        hz_free(rt->pattern);
        hz_free(rt);
    }
    hz_free(r->routes);
    memset(r, 0, sizeof(*r));
}

static bool param_name_ok(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static void build_allow(hz_route_t *rt) {
    static const unsigned order[] = {HZ_HTTP_GET, HZ_HTTP_HEAD, HZ_HTTP_POST, HZ_HTTP_PUT,
                                     HZ_HTTP_PATCH, HZ_HTTP_DELETE, HZ_HTTP_OPTIONS};
    unsigned m = rt->methods | HZ_HTTP_OPTIONS;     /* OPTIONS is always answered */
    if (m & HZ_HTTP_GET) m |= HZ_HTTP_HEAD;
    rt->allow[0] = '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!(m & order[i])) continue;
        if (rt->allow[0]) strcat(rt->allow, ", ");
        strcat(rt->allow, method_names[hz_http_method_index(order[i])]);
    }
}

int hz_router_add(hz_router_t *r, unsigned methods, const char *pattern, unsigned flags,
                  hz_http_handler_fn fn, void *ctx) {
    if (!pattern || pattern[0] != '/')
        return hz_error_set(HZ_EINVAL, "route pattern \"%s\" must start with '/'", pattern ? pattern : "(null)");
    if (!fn) return hz_error_set(HZ_EINVAL, "route %s: handler is NULL", pattern);
    if (methods == 0 || (methods & ~((1u << HZ_HTTP_NMETHODS) - 1)))
        return hz_error_set(HZ_EINVAL, "route %s: method mask 0x%x is empty or has unknown bits", pattern, methods);

    /* Validate the whole pattern before touching the trie, so a bad pattern leaves no trace. */
    const char *names[HZ_HTTP_MAX_PARAMS];
    size_t name_lens[HZ_HTTP_MAX_PARAMS];
    int nparams = 0, nseg = 0;
    for (const char *p = pattern + 1; pattern[1];) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (++nseg > HZ_HTTP_MAX_SEGMENTS)
            return hz_error_set(HZ_EINVAL, "route %s: more than %d segments", pattern, HZ_HTTP_MAX_SEGMENTS);
        const char *brace = memchr(p, '{', n), *close = memchr(p, '}', n);
        if (brace || close) {
            if (p[0] != '{' || p[n - 1] != '}' || !param_name_ok(p + 1, n - 2))
                return hz_error_set(HZ_EINVAL, "route %s: bad parameter segment \"%.*s\" at byte %zu "
                                    "(expected {name} with name of [A-Za-z0-9_])", pattern, (int)n, p,
                                    (size_t)(p - pattern));
            if (nparams == HZ_HTTP_MAX_PARAMS)
                return hz_error_set(HZ_EINVAL, "route %s: more than %d parameters", pattern, HZ_HTTP_MAX_PARAMS);
            for (int i = 0; i < nparams; i++)
                if (name_lens[i] == n - 2 && memcmp(names[i], p + 1, n - 2) == 0)
                    return hz_error_set(HZ_EINVAL, "route %s: parameter {%.*s} appears twice", pattern,
                                        (int)(n - 2), p + 1);
            names[nparams] = p + 1;
            name_lens[nparams++] = n - 2;
        }
        if (!end) break;
        p = end + 1;
    }

    hz_rnode_t *node = r->root;
    for (const char *p = pattern + 1; pattern[1];) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && p[0] == '{') {
            if (!node->param) node->param = hz_calloc(1, sizeof(hz_rnode_t));
            node = node->param;
        } else {
            hz_rnode_t *next = NULL;
            for (int i = 0; i < node->nkids && !next; i++)
                if (node->kids[i]->seglen == n && memcmp(node->kids[i]->seg, p, n) == 0) next = node->kids[i];
            if (!next) {
                next = hz_calloc(1, sizeof(hz_rnode_t));
                next->seg = hz_strndup(p, n);
                next->seglen = n;
                node->kids = hz_realloc(node->kids, sizeof(*node->kids) * (size_t)(node->nkids + 1));
                node->kids[node->nkids++] = next;
            }
            node = next;
        }
        if (!end) break;
        p = end + 1;
    }

    hz_route_t *rt = node->route;
    if (!rt) {
        rt = hz_calloc(1, sizeof(*rt));
        rt->pattern = hz_strdup(pattern);
        rt->id = r->nroutes;
        rt->nparams = nparams;
        for (int i = 0; i < nparams; i++) rt->params[i] = hz_strndup(names[i], name_lens[i]);
        node->route = rt;
        r->routes = hz_realloc(r->routes, sizeof(*r->routes) * (size_t)(r->nroutes + 1));
        r->routes[r->nroutes++] = rt;
    } else {
        /* Same shape, e.g. "/a/{x}" after "/a/{id}": one route must have one set of names. */
        for (int i = 0; i < nparams; i++)
            if (strlen(rt->params[i]) != name_lens[i] || memcmp(rt->params[i], names[i], name_lens[i]) != 0)
                return hz_error_set(HZ_EINVAL, "route %s conflicts with %s: parameter {%s} has another name",
                                    pattern, rt->pattern, rt->params[i]);
        unsigned dup = rt->methods & methods;
        if (dup)
            return hz_error_set(HZ_EEXIST, "route %s %s is already registered (as %s)",
                                method_names[__builtin_ctz(dup)], pattern, rt->pattern);
    }
    for (int i = 0; i < HZ_HTTP_NMETHODS; i++) {
        if (!(methods & (1u << i))) continue;
        rt->h[i].fn = fn;
        rt->h[i].ctx = ctx;
        rt->h[i].flags = flags;
    }
    rt->methods |= methods;
    build_allow(rt);
    return 0;
}

typedef struct { const char *s; size_t len; } seg_t;

static const hz_rnode_t *match(const hz_rnode_t *n, const seg_t *segs, int i, int nseg,
                               const char *base, hz_route_match_t *m) {
    if (i == nseg) return n->route ? n : NULL;
    const seg_t *sg = &segs[i];
    for (int k = 0; k < n->nkids; k++) {
        const hz_rnode_t *kid = n->kids[k];
        if (kid->seglen == sg->len && memcmp(kid->seg, sg->s, sg->len) == 0) {
            const hz_rnode_t *hit = match(kid, segs, i + 1, nseg, base, m);
            if (hit) return hit;
            break;  /* literal children are unique */
        }
    }
    if (n->param && sg->len > 0 && m->nparams < HZ_HTTP_MAX_PARAMS) {
        int at = m->nparams++;
        m->cap[at].off = (size_t)(sg->s - base);
        m->cap[at].len = sg->len;
        const hz_rnode_t *hit = match(n->param, segs, i + 1, nseg, base, m);
        if (hit) return hit;
        m->nparams--;
    }
    return NULL;
}

const hz_route_t *hz_router_match(const hz_router_t *r, const char *path, hz_route_match_t *m) {
    m->nparams = 0;
    if (!path || path[0] != '/') return NULL;
    seg_t segs[HZ_HTTP_MAX_SEGMENTS];
    int nseg = 0;
    if (path[1]) {
        const char *p = path + 1;
        for (;;) {
            const char *end = strchr(p, '/');
            if (nseg == HZ_HTTP_MAX_SEGMENTS) return NULL;  /* deeper than any pattern can be */
            segs[nseg].s = p;
            segs[nseg].len = end ? (size_t)(end - p) : strlen(p);
            nseg++;
            if (!end) break;
            p = end + 1;
        }
    }
    const hz_rnode_t *hit = match(r->root, segs, 0, nseg, path, m);
    return hit ? hit->route : NULL;
}
