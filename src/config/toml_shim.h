/*
 * A C view of a parsed TOML document, produced by toml_shim.cpp around toml++.
 *
 * The shim parses the text and then walks the tree, handing each item to a C callback with
 * its dotted path, its type, its scalar value and where it sits in the text. The callback
 * decides whether to descend into a table or an array, so the walk only goes as deep as the
 * configuration schema does. Nothing C++ crosses this boundary: the strings handed to the
 * callback are plain NUL-terminated bytes valid only during the call, and every C++ failure
 * (a parse error, an allocation failure) comes back as an error code plus a message.
 */
#ifndef HZ_CONFIG_TOML_SHIM_H
#define HZ_CONFIG_TOML_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HZ_TOML_TABLE = 0,
    HZ_TOML_ARRAY,
    HZ_TOML_STRING,
    HZ_TOML_INTEGER,
    HZ_TOML_FLOAT,
    HZ_TOML_BOOLEAN,
    HZ_TOML_DATE,
    HZ_TOML_TIME,
    HZ_TOML_DATETIME,
} hz_toml_type_t;

typedef struct hz_toml_item {
    /* Dotted path from the root, "api.listen". A key that is not bare (letters, digits, '_'
     * and '-') is written quoted as TOML would, so `"api.listen" = 1` at the root reads
     * "\"api.listen\"" and can never be mistaken for the nested key. */
    const char *path;
    int index;                  /* array elements: position in the array; otherwise -1 */
    hz_toml_type_t type;
    int key_line, key_column;   /* where the key is written (for elements: the value) */
    int line, column;           /* where the value starts; 1-based */
    const char *str;            /* HZ_TOML_STRING: the bytes, which may contain NUL */
    size_t str_len;
    int64_t integer;            /* HZ_TOML_INTEGER */
    double real;                /* HZ_TOML_FLOAT */
    bool boolean;               /* HZ_TOML_BOOLEAN */
    size_t count;               /* HZ_TOML_TABLE and HZ_TOML_ARRAY: number of children */
} hz_toml_item_t;

/* Return HZ_TOML_DESCEND to have the children of a table or array visited next, 0 to go on
 * with the next sibling, or a negative HZ_E* code to stop the walk with that code. */
#define HZ_TOML_DESCEND 1
typedef int (*hz_toml_visit_fn)(void *ud, const hz_toml_item_t *item);

typedef struct hz_toml_error {
    int line, column;           /* 0 when the failure has no position (out of memory) */
    char message[256];
} hz_toml_error_t;

/* Parse text[0..len) and visit the children of the root table in key order. Returns 0,
 * HZ_EPARSE with *err filled on a TOML syntax error, HZ_ENOMEM / HZ_EINTERNAL with *err
 * filled if the C++ side failed, or whatever negative code the callback returned. */
int hz_toml_walk(const char *text, size_t len, hz_toml_visit_fn visit, void *ud, hz_toml_error_t *err);

/* "a string", "an integer", ... for messages. */
const char *hz_toml_type_name(hz_toml_type_t type);

#ifdef __cplusplus
}
#endif

#endif
