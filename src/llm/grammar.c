/*
 * JSON Schema to GBNF, for JSON mode and structured outputs.
 *
 * llama.cpp constrains generation with a GBNF grammar; clients speak JSON Schema. This file
 * translates the part of JSON Schema that clients actually send for structured output: types
 * (also as a list), object properties with required ones, arrays with items and minItems /
 * maxItems, string length, enum and const, anyOf/oneOf, nullable. Each schema node becomes one
 * rule "rN"; the shared JSON lexical rules (string, number, value, ...) come last.
 *
 * Object properties are emitted in schema order with the required ones first. A schema that
 * needs something the grammar cannot express here ($ref, pattern, allOf, not, ...) is refused
 * with HZ_EUNSUPPORTED naming the keyword: a silently weaker grammar would hand the client JSON
 * that breaks its own validation. Numeric bounds (minimum, maximum) are the exception: they are
 * not expressible in a context-free grammar in general, so they are accepted but not enforced,
 * as llama.cpp's own converter does.
 */
#include "llm/llm_internal.h"

#include <string.h>

enum { MAX_RULES = 4096, MAX_PROPS = 64, MAX_REPEAT = 1000 };

typedef struct gctx {
    hz_buf_t rules;
    int n;
} gctx_t;

static const char BASE[] =
    "ws ::= [ \\t\\n]{0,16}\n"
    "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "integer ::= \"-\"? ([0-9] | [1-9] [0-9]{1,15})\n"
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws ( string ws \":\" ws value ws ( \",\" ws string ws \":\" ws value ws )* )? \"}\"\n"
    "array ::= \"[\" ws ( value ws ( \",\" ws value ws )* )? \"]\"\n";

/* A GBNF string literal for the given bytes. */
static void literal(hz_buf_t *b, const char *s) {
    hz_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { hz_buf_putc(b, '\\'); hz_buf_putc(b, (char)c); }
        else if (c == '\n') hz_buf_puts(b, "\\n");
        else if (c == '\r') hz_buf_puts(b, "\\r");
        else if (c == '\t') hz_buf_puts(b, "\\t");
        else if (c < 0x20) hz_buf_printf(b, "\\x%02X", c);
        else hz_buf_putc(b, (char)c);
    }
    hz_buf_putc(b, '"');
}

/* The JSON text of a value as a GBNF literal: enum and const match it exactly. */
static void json_literal(hz_buf_t *b, json_object *v) {
    const char *txt = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
    literal(b, txt);
}

static int gen(gctx_t *g, json_object *schema, char name[16], int depth);

static int new_rule(gctx_t *g, char name[16]) {
    if (++g->n > MAX_RULES) return hz_error_set(HZ_ETOOBIG, "schema needs more than %d grammar rules", MAX_RULES);
    snprintf(name, 16, "r%d", g->n);
    return 0;
}

static const char *const UNSUPPORTED[] = {"$ref", "pattern", "allOf", "not", "if", "then", "else", "patternProperties",
                                          "dependentRequired", "dependentSchemas", "multipleOf", "uniqueItems",
                                          "contains", "prefixItems", "propertyNames", NULL};

static int gen_type(gctx_t *g, json_object *schema, const char *type, hz_buf_t *alt, int depth) {
    if (strcmp(type, "string") == 0) {
        int64_t lo = 0, hi = -1;
        bool has_lo = hz_json_get_int(schema, "minLength", false, &lo) == 0;
        bool has_hi = hz_json_get_int(schema, "maxLength", false, &hi) == 0;
        if (!has_lo && !has_hi) { hz_buf_puts(alt, "string"); return 0; }
        if (lo < 0 || lo > MAX_REPEAT || (has_hi && (hi < lo || hi > MAX_REPEAT)))
            return hz_error_set(HZ_EUNSUPPORTED, "minLength/maxLength: must be 0..%d with minLength <= maxLength", MAX_REPEAT);
        if (has_hi) hz_buf_printf(alt, "\"\\\"\" char{%lld,%lld} \"\\\"\"", (long long)lo, (long long)hi);
        else hz_buf_printf(alt, "\"\\\"\" char{%lld,} \"\\\"\"", (long long)lo);
        return 0;
    }
    if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0 || strcmp(type, "boolean") == 0 ||
        strcmp(type, "null") == 0) {
        hz_buf_puts(alt, type);
        return 0;
    }
    if (strcmp(type, "array") == 0) {
        json_object *items = NULL;
        char item[16] = "value";
        int64_t lo = 0, hi = -1;
        bool has_hi;
        if (json_object_object_get_ex(schema, "items", &items) && items) {
            int rc = gen(g, items, item, depth + 1);
            if (rc) return hz_error_wrap(rc, "items");
        }
        hz_json_get_int(schema, "minItems", false, &lo);
        has_hi = hz_json_get_int(schema, "maxItems", false, &hi) == 0;
        if (lo < 0 || lo > MAX_REPEAT || (has_hi && (hi < lo || hi > MAX_REPEAT)))
            return hz_error_set(HZ_EUNSUPPORTED, "minItems/maxItems: must be 0..%d with minItems <= maxItems", MAX_REPEAT);
        if (has_hi && hi == 0) { hz_buf_puts(alt, "\"[\" ws \"]\""); return 0; }
        hz_buf_printf(alt, "\"[\" ws %s%s ws ( \",\" ws %s ws )", lo == 0 ? "( " : "", item, item);
        long long rlo = lo > 0 ? lo - 1 : 0;
        if (has_hi) hz_buf_printf(alt, "{%lld,%lld}", rlo, (long long)hi - 1);
        else hz_buf_printf(alt, "{%lld,}", rlo);
        hz_buf_printf(alt, "%s \"]\"", lo == 0 ? " )?" : "");
        return 0;
    }
    if (strcmp(type, "object") == 0) {
        json_object *props = NULL, *req = NULL;
        if (!json_object_object_get_ex(schema, "properties", &props) || !props) { hz_buf_puts(alt, "object"); return 0; }
        if (!json_object_is_type(props, json_type_object)) return hz_error_set(HZ_EINVAL, "properties: must be an object");
        if (json_object_object_get_ex(schema, "required", &req) && req && !json_object_is_type(req, json_type_array))
            return hz_error_set(HZ_EINVAL, "required: must be an array");
        size_t np = 0;
        hz_buf_t kv[MAX_PROPS];
        bool required[MAX_PROPS];
        int rc = 0;
        json_object_object_foreach(props, key, sub) {
            if (np == MAX_PROPS) { rc = hz_error_set(HZ_EUNSUPPORTED, "properties: more than %d", MAX_PROPS); break; }
            char sr[16];
            if ((rc = gen(g, sub, sr, depth + 1)) != 0) { rc = hz_error_wrap(rc, "properties.%s", key); break; }
            hz_buf_init(&kv[np]);
            /* the key as JSON text ("\"name\"") as a literal, then the value rule */
            json_object *ks = json_object_new_string(key);
            json_literal(&kv[np], ks);
            json_object_put(ks);
            hz_buf_printf(&kv[np], " ws \":\" ws %s", sr);
            required[np] = false;
            for (size_t i = 0; req && i < json_object_array_length(req); i++) {
                json_object *r = json_object_array_get_idx(req, i);
                if (json_object_is_type(r, json_type_string) && strcmp(json_object_get_string(r), key) == 0) required[np] = true;
            }
            np++;
        }
        if (rc == 0) {
            /* required first, comma-separated; then each optional one as ("," kv)? */
            hz_buf_puts(alt, "\"{\" ws ");
            size_t nreq = 0;
            for (size_t i = 0; i < np; i++)
                if (required[i]) hz_buf_printf(alt, "%s%s ws ", nreq++ ? "\",\" ws " : "", kv[i].data);
            if (nreq) {
                for (size_t i = 0; i < np; i++)
                    if (!required[i]) hz_buf_printf(alt, "( \",\" ws %s ws )? ", kv[i].data);
            } else {
                /* no required property: whichever optional one comes first has no comma */
                size_t nopt = 0;
                for (size_t i = 0; i < np; i++) {
                    hz_buf_puts(alt, nopt++ ? "| " : "( ");
                    hz_buf_printf(alt, "%s ws ", kv[i].data);
                    for (size_t j = i + 1; j < np; j++) hz_buf_printf(alt, "( \",\" ws %s ws )? ", kv[j].data);
                }
                if (nopt) hz_buf_puts(alt, ")? ");
            }
            hz_buf_puts(alt, "\"}\"");
        }
        for (size_t i = 0; i < np; i++) hz_buf_free(&kv[i]);
        return rc;
    }
    return hz_error_set(HZ_EINVAL, "type: \"%s\" is not a JSON Schema type", type);
}

static int gen(gctx_t *g, json_object *schema, char name[16], int depth) {
    if (depth > 32) return hz_error_set(HZ_ETOOBIG, "schema nested deeper than 32");
    if (!schema || json_object_is_type(schema, json_type_boolean)) {
        if (schema && !json_object_get_boolean(schema)) return hz_error_set(HZ_EUNSUPPORTED, "schema false matches nothing");
        strcpy(name, "value");
        return 0;
    }
    if (!json_object_is_type(schema, json_type_object)) return hz_error_set(HZ_EINVAL, "a schema must be an object or a boolean");
    for (int i = 0; UNSUPPORTED[i]; i++)
        if (json_object_object_get_ex(schema, UNSUPPORTED[i], NULL))
            return hz_error_set(HZ_EUNSUPPORTED, "\"%s\" is not supported in JSON mode schemas", UNSUPPORTED[i]);
    int rc = new_rule(g, name);
    if (rc) return rc;
    hz_buf_t alt = HZ_BUF_INIT;
    json_object *v = NULL;
    bool nullable = false;
    hz_json_get_bool(schema, "nullable", false, &nullable);
    if (json_object_object_get_ex(schema, "const", &v)) {
        json_literal(&alt, v);
    } else if (json_object_object_get_ex(schema, "enum", &v)) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            rc = hz_error_set(HZ_EINVAL, "enum: must be a non-empty array");
        for (size_t i = 0; rc == 0 && i < json_object_array_length(v); i++) {
            if (i) hz_buf_puts(&alt, " | ");
            json_literal(&alt, json_object_array_get_idx(v, i));
        }
    } else if (json_object_object_get_ex(schema, "anyOf", &v) || json_object_object_get_ex(schema, "oneOf", &v)) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            rc = hz_error_set(HZ_EINVAL, "anyOf/oneOf: must be a non-empty array");
        for (size_t i = 0; rc == 0 && i < json_object_array_length(v); i++) {
            char sub[16];
            if ((rc = gen(g, json_object_array_get_idx(v, i), sub, depth + 1)) != 0) break;
            hz_buf_printf(&alt, "%s%s", i ? " | " : "", sub);
        }
    } else if (json_object_object_get_ex(schema, "type", &v)) {
        if (json_object_is_type(v, json_type_string)) {
            rc = gen_type(g, schema, json_object_get_string(v), &alt, depth);
        } else if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
            for (size_t i = 0; rc == 0 && i < json_object_array_length(v); i++) {
                json_object *t = json_object_array_get_idx(v, i);
                if (!json_object_is_type(t, json_type_string)) { rc = hz_error_set(HZ_EINVAL, "type: list items must be strings"); break; }
                if (i) hz_buf_puts(&alt, " | ");
                hz_buf_puts(&alt, "( ");
                rc = gen_type(g, schema, json_object_get_string(t), &alt, depth);
                hz_buf_puts(&alt, " )");
            }
        } else {
            rc = hz_error_set(HZ_EINVAL, "type: must be a string or a non-empty list");
        }
    } else if (json_object_object_get_ex(schema, "properties", NULL)) {
        rc = gen_type(g, schema, "object", &alt, depth);
    } else {
        hz_buf_puts(&alt, "value");
    }
    if (rc == 0) {
        if (nullable) hz_buf_puts(&alt, " | null");
        hz_buf_printf(&g->rules, "%s ::= %s\n", name, alt.data);
    }
    hz_buf_free(&alt);
    return rc;
}

int hz_llm_schema_to_gbnf(json_object *schema, hz_buf_t *out) {
    gctx_t g = {HZ_BUF_INIT, 0};
    int rc;
    if (!schema) {
        hz_buf_puts(out, "root ::= object\n");
        hz_buf_puts(out, BASE);
        return 0;
    }
    char top[16];
    if ((rc = gen(&g, schema, top, 0)) != 0) { hz_buf_free(&g.rules); return rc; }
    hz_buf_printf(out, "root ::= %s\n", top);
    if (g.rules.len) hz_buf_append(out, g.rules.data, g.rules.len);
    hz_buf_puts(out, BASE);
    hz_buf_free(&g.rules);
    return 0;
}
