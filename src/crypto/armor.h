/*
 * Private to src/crypto: the ASCII armor of key files (armor.c). Parsing checks the whole
 * syntax and the checksum; the caller interprets title, headers and body.
 */
#ifndef HZ_CRYPTO_ARMOR_H
#define HZ_CRYPTO_ARMOR_H

#include "hanzo/crypto.h"

#define HZ__ARMOR_LINE 64         /* base64 characters per body line */
#define HZ__ARMOR_TITLE_MAX 48
#define HZ__ARMOR_HEADERS_MAX 16
#define HZ__ARMOR_NAME_MAX 32
#define HZ__ARMOR_VALUE_MAX 200

typedef struct {
    char name[HZ__ARMOR_NAME_MAX + 1];
    char value[HZ__ARMOR_VALUE_MAX + 1];
    size_t line;                  /* 1-based line number, for messages */
} hz__armor_header_t;

typedef struct {
    char title[HZ__ARMOR_TITLE_MAX + 1]; /* "ML-DSA-65 SECRET KEY" */
    hz__armor_header_t headers[HZ__ARMOR_HEADERS_MAX];
    size_t nheaders;
    uint8_t *body;                /* decoded; wiped and freed by hz__armor_free */
    size_t body_len, body_cap;
    size_t body_line;             /* line number of the first body line */
} hz__armor_t;

/* Parse and verify the checksum. On error nothing is left to free. HZ_EPARSE for syntax
 * (including truncation: the message starts with "truncated"), HZ_ECRYPTO for a checksum
 * mismatch. */
int hz__armor_parse(const char *text, size_t len, hz__armor_t *a);
void hz__armor_free(hz__armor_t *a);

/* The exact length hz__armor_write appends. */
size_t hz__armor_size(const char *title, const hz__armor_header_t *h, size_t nh, size_t body_len);
/* Append the armored text; out is grown once, before anything is written. */
void hz__armor_write(hz_buf_t *out, const char *title, const hz__armor_header_t *h, size_t nh,
                     const uint8_t *body, size_t body_len);

#endif
