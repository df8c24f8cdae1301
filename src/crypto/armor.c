/*
 * ASCII armor for key files: "-----BEGIN HANZO <TITLE>-----", "Name: value" header lines, a
 * blank line, the body in base64 (64 characters a line), "=" and a 6-byte checksum in base64,
 * and "-----END HANZO <TITLE>-----". This file knows nothing about keys; keyfile.c gives the
 * title, headers and body their meaning.
 *
 * The syntax is strict so that one content has exactly one spelling (apart from LF or CRLF line
 * endings and trailing blank lines): header names and values have a fixed shape, every body line
 * but the last is 64 characters, base64 must be canonical (no stray padding bits). Together with
 * the checksum, which covers the BEGIN line, every header and the decoded body, that makes every
 * bit flip anywhere in a file an error, and the errors say where: a character that may not
 * appear is named with its line and column; a flip that leaves the syntax intact is a checksum
 * mismatch. The armor and its checksum rule do not depend on the Version header, so a file of a
 * later version is still recognised as intact before its version is refused.
 *
 * Truncation is told apart from damage by the last line: a file that stops before a complete
 * END line is "truncated"; a last line that looks like an END line but differs is "damaged".
 */
#include "crypto/armor.h"

#include <string.h>

#include <sodium.h>

#define BEGIN_PREFIX "-----BEGIN HANZO "
#define ANY_BEGIN "-----BEGIN "
#define END_PREFIX "-----END HANZO "
#define DASHES "-----"
#define CHECKSUM_CONTEXT "hanzo-node 2026 key file checksum v1"
#define CHECKSUM_LEN 6 /* 8 base64 characters */

typedef struct {
    const char *s;  /* the line without its line ending */
    size_t len;
    size_t off;     /* byte offset of the line in the file */
    bool nl;        /* ended with "\n" (possibly "\r\n") */
} line_t;

static size_t split_lines(const char *text, size_t len, line_t *lines) {
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        if (i == len && start == len) break; /* no empty line after a final newline */
        size_t end = i;
        if (i < len && end > start && text[end - 1] == '\r') end--;
        lines[n++] = (line_t){text + start, end - start, start, i < len};
        start = i + 1;
    }
    return n;
}

static bool is_b64(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static bool line_is(const line_t *l, const char *s, size_t n) {
    return l->len == n && memcmp(l->s, s, n) == 0;
}

/* A printable rendering of at most 60 bytes of s, for messages. */
static void show(char out[64], const char *s, size_t n) {
    size_t k = n < 60 ? n : 60;
    for (size_t i = 0; i < k; i++) out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[k] = '\0';
}

/* "character 'Q'" or "byte 0xc2", for messages. */
static const char *describe(unsigned char c, char out[24]) {
    if (c >= 0x20 && c < 0x7f) snprintf(out, 24, "character '%c'", c);
    else snprintf(out, 24, "byte 0x%02x", c);
    return out;
}

static int bad_char(const line_t *l, size_t lineno, size_t col, const char *where) {
    char d[24];
    return hz_error_set(HZ_EPARSE, "line %zu, column %zu (byte %zu): %s may not appear in %s", lineno, col + 1,
                        l->off + col, describe((unsigned char)l->s[col], d), where);
}

/* BEGIN line: "-----BEGIN HANZO " title "-----", title of [A-Z0-9 -] not starting or ending
 * with a space. */
static int parse_begin(const line_t *l, hz__armor_t *a) {
    size_t pre = strlen(BEGIN_PREFIX), dl = strlen(DASHES);
    if (l->len < pre + 1 + dl || memcmp(l->s + l->len - dl, DASHES, dl) != 0)
        return hz_error_set(HZ_EPARSE, "line 1: malformed BEGIN line (expected \"%sTITLE%s\")", BEGIN_PREFIX, DASHES);
    size_t tlen = l->len - pre - dl;
    if (tlen >= sizeof(a->title))
        return hz_error_set(HZ_EPARSE, "line 1: BEGIN line title is %zu characters, at most %zu", tlen, sizeof(a->title) - 1);
    for (size_t i = 0; i < tlen; i++) {
        char c = l->s[pre + i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || (c == ' ' && i > 0 && i + 1 < tlen);
        if (!ok) return bad_char(l, 1, pre + i, "the BEGIN line title");
    }
    memcpy(a->title, l->s + pre, tlen);
    a->title[tlen] = '\0';
    return 0;
}

/* "Name: value": name of [A-Za-z0-9-], value printable ASCII without leading/trailing space. */
static int parse_header(const line_t *l, size_t lineno, hz__armor_header_t *h) {
    size_t i = 0;
    while (i < l->len && ((l->s[i] >= 'A' && l->s[i] <= 'Z') || (l->s[i] >= 'a' && l->s[i] <= 'z') ||
                          (l->s[i] >= '0' && l->s[i] <= '9') || l->s[i] == '-'))
        i++;
    if (i > HZ__ARMOR_NAME_MAX)
        return hz_error_set(HZ_EPARSE, "line %zu: header name of %zu characters, at most %d", lineno, i, HZ__ARMOR_NAME_MAX);
    if (i == 0 || i + 2 > l->len || l->s[i] != ':' || l->s[i + 1] != ' ') {
        if (i < l->len && l->s[i] != ':') return bad_char(l, lineno, i, "a header name");
        return hz_error_set(HZ_EPARSE, "line %zu: malformed header (expected \"Name: value\")", lineno);
    }
    size_t v = i + 2;
    if (v == l->len) return hz_error_set(HZ_EPARSE, "line %zu: header \"%.*s\" has an empty value", lineno, (int)i, l->s);
    if (l->len - v > HZ__ARMOR_VALUE_MAX)
        return hz_error_set(HZ_EPARSE, "line %zu: header value is %zu characters, at most %d", lineno, l->len - v, HZ__ARMOR_VALUE_MAX);
    for (size_t k = v; k < l->len; k++) {
        unsigned char c = (unsigned char)l->s[k];
        if (c < 0x20 || c >= 0x7f || (c == ' ' && (k == v || k + 1 == l->len)))
            return bad_char(l, lineno, k, "a header value");
    }
    memcpy(h->name, l->s, i);
    h->name[i] = '\0';
    memcpy(h->value, l->s + v, l->len - v);
    h->value[l->len - v] = '\0';
    h->line = lineno;
    return 0;
}

/* The checksum material is the text of the BEGIN and header lines, each followed by "\n", one
 * "\n" for the blank line, then the body bytes. */
static void checksum(const char *title, const hz__armor_header_t *h, size_t nh, const uint8_t *body,
                     size_t body_len, uint8_t out[CHECKSUM_LEN]) {
    hz_blake3_hasher_t b3;
    hz_blake3_init_derive_key(&b3, CHECKSUM_CONTEXT);
    hz_blake3_update(&b3, BEGIN_PREFIX, strlen(BEGIN_PREFIX));
    hz_blake3_update(&b3, title, strlen(title));
    hz_blake3_update(&b3, DASHES "\n", strlen(DASHES) + 1);
    for (size_t i = 0; i < nh; i++) {
        hz_blake3_update(&b3, h[i].name, strlen(h[i].name));
        hz_blake3_update(&b3, ": ", 2);
        hz_blake3_update(&b3, h[i].value, strlen(h[i].value));
        hz_blake3_update(&b3, "\n", 1);
    }
    hz_blake3_update(&b3, "\n", 1);
    hz_blake3_update(&b3, body, body_len);
    hz_blake3_final(&b3, out, CHECKSUM_LEN);
    hz_secure_zero(&b3, sizeof(b3));
}

/* Where the END line should be, and whether the file was cut short or damaged there. */
static int check_end(const line_t *lines, size_t n, const char *end, size_t end_len, size_t *end_idx) {
    size_t last = n;
    while (last > 0 && lines[last - 1].len == 0) last--; /* trailing blank lines are allowed */
    if (last <= 1)
        return hz_error_set(HZ_EPARSE, "truncated: the file ends after its BEGIN line (line 1)");
    const line_t *l = &lines[last - 1];
    if (line_is(l, end, end_len)) {
        *end_idx = last - 1;
        return 0;
    }
    for (size_t i = 1; i + 1 < last; i++)
        if (line_is(&lines[i], end, end_len))
            return hz_error_set(HZ_EPARSE, "line %zu: text after the END line (line %zu)", i + 2, i + 1);
    if (l->len < end_len && memcmp(l->s, end, l->len) == 0)
        return hz_error_set(HZ_EPARSE, "truncated: the file ends inside its END line (line %zu)", last);
    size_t ep = strlen(END_PREFIX), dl = strlen(DASHES);
    if (l->len > ep + dl && memcmp(l->s, END_PREFIX, ep) == 0 && memcmp(l->s + l->len - dl, DASHES, dl) == 0) {
        char shown[64];
        show(shown, l->s + ep, l->len - ep - dl);
        return hz_error_set(HZ_EPARSE, "line %zu: the END line names \"%s\" but the BEGIN line (line 1) names \"%.*s\": "
                            "one of them is damaged", last, shown, (int)(end_len - ep - dl), end + ep);
    }
    size_t diff = 0;
    if (l->len == end_len)
        for (size_t i = 0; i < end_len; i++) diff += l->s[i] != end[i];
    if ((l->len == end_len && diff <= 3) || (l->len >= 5 && memcmp(l->s, DASHES, 5) == 0))
        return hz_error_set(HZ_EPARSE, "line %zu: damaged END line, or one that does not match the BEGIN line "
                            "(expected \"%.*s\")", last, (int)end_len, end);
    return hz_error_set(HZ_EPARSE, "truncated: the file ends at line %zu (byte %zu) without its END line",
                        last, l->off + l->len);
}

/* Lines [from, to) are the base64 body; decode them into a->body. */
static int parse_body(const line_t *lines, size_t from, size_t to, hz__armor_t *a) {
    if (from == to) return hz_error_set(HZ_EPARSE, "line %zu: the body is missing", from + 1);
    size_t total = 0;
    for (size_t i = from; i < to; i++) {
        const line_t *l = &lines[i];
        bool is_last = i + 1 == to;
        if (l->len == 0) return hz_error_set(HZ_EPARSE, "line %zu: blank line inside the body", i + 1);
        size_t pad = 0;
        for (size_t k = 0; k < l->len; k++) {
            unsigned char c = (unsigned char)l->s[k];
            if (c == '=' && is_last && k + 2 >= l->len && k > 0) {
                pad++;
                continue;
            }
            if (!is_b64(c) || pad) return bad_char(l, i + 1, k, "base64");
        }
        if (!is_last && l->len != HZ__ARMOR_LINE)
            return hz_error_set(HZ_EPARSE, "line %zu: body line of %zu characters; every body line but the "
                                "last has %d", i + 1, l->len, HZ__ARMOR_LINE);
        if (is_last && (l->len > HZ__ARMOR_LINE || l->len % 4 != 0))
            return hz_error_set(HZ_EPARSE, "line %zu: last body line of %zu characters; it must have a multiple "
                                "of 4, at most %d", i + 1, l->len, HZ__ARMOR_LINE);
        total += l->len;
    }
    char *b64 = hz_malloc(total + 1);
    size_t at = 0;
    for (size_t i = from; i < to; i++) {
        memcpy(b64 + at, lines[i].s, lines[i].len);
        at += lines[i].len;
    }
    size_t cap = total / 4 * 3;
    a->body = hz_malloc(cap ? cap : 1);
    a->body_cap = cap ? cap : 1;
    int rc = sodium_base642bin(a->body, cap, b64, total, NULL, &a->body_len, NULL, sodium_base64_VARIANT_ORIGINAL);
    hz_secure_free(b64, total + 1);
    if (rc != 0)
        return hz_error_set(HZ_EPARSE, "line %zu: the base64 body does not end canonically (bits after the "
                            "last byte must be zero)", to);
    return 0;
}

int hz__armor_parse(const char *text, size_t len, hz__armor_t *a) {
    memset(a, 0, sizeof(*a));
    if (len == 0) return hz_error_set(HZ_EPARSE, "empty file");
    size_t nl = 0;
    for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
    line_t *lines = hz_malloc((nl + 1) * sizeof(*lines));
    size_t n = split_lines(text, len, lines);
    int rc;
    char shown[64];
    const line_t *first = &lines[0];
    size_t pre = strlen(BEGIN_PREFIX);

    if (n == 1 && !first->nl && first->len < pre && memcmp(first->s, BEGIN_PREFIX, first->len) == 0) {
        rc = hz_error_set(HZ_EPARSE, "truncated: the file ends inside its BEGIN line");
        goto out;
    }
    if (first->len < pre || memcmp(first->s, BEGIN_PREFIX, pre) != 0) {
        /* A line that is "-----BEGIN HANZO " but for a character or two was one, once. */
        size_t diff = 0, at = pre;
        for (size_t i = 0; i < pre && i < first->len; i++)
            if (first->s[i] != BEGIN_PREFIX[i]) diff++, at = at < i ? at : i;
        if (first->len >= pre && diff <= 2) {
            char d[24];
            rc = hz_error_set(HZ_EPARSE, "line 1, column %zu (byte %zu): damaged BEGIN line: %s where \"%s\" has '%c'",
                              at + 1, at, describe((unsigned char)first->s[at], d), BEGIN_PREFIX, BEGIN_PREFIX[at]);
            goto out;
        }
        show(shown, first->s, first->len);
        if (first->len >= strlen(ANY_BEGIN) && memcmp(first->s, ANY_BEGIN, strlen(ANY_BEGIN)) == 0)
            rc = hz_error_set(HZ_EPARSE, "not a hanzo file: line 1 is \"%s\", not \"%s...\"", shown, BEGIN_PREFIX);
        else
            rc = hz_error_set(HZ_EPARSE, "not a hanzo file: it does not begin with \"%s\"", BEGIN_PREFIX);
        goto out;
    }
    if (n == 1) {
        rc = hz_error_set(HZ_EPARSE, "truncated: the file ends %s its BEGIN line", first->nl ? "after" : "inside");
        goto out;
    }
    if ((rc = parse_begin(first, a)) != 0) goto out;

    char end[HZ__ARMOR_TITLE_MAX + 32];
    int end_len = snprintf(end, sizeof(end), "%s%s%s", END_PREFIX, a->title, DASHES);
    size_t end_idx = 0;
    if ((rc = check_end(lines, n, end, (size_t)end_len, &end_idx)) != 0) goto out;

    size_t i = 1;
    for (; i < end_idx && lines[i].len > 0 && lines[i].s[0] != '='; i++) {
        if (a->nheaders == HZ__ARMOR_HEADERS_MAX) {
            rc = hz_error_set(HZ_EPARSE, "line %zu: more than %d headers", i + 1, HZ__ARMOR_HEADERS_MAX);
            goto out;
        }
        if ((rc = parse_header(&lines[i], i + 1, &a->headers[a->nheaders++])) != 0) goto out;
    }
    if (i == end_idx || lines[i].len != 0) {
        rc = hz_error_set(HZ_EPARSE, "line %zu: expected a blank line after the headers", i + 1);
        goto out;
    }
    size_t body_from = ++i;
    while (i < end_idx && !(lines[i].len > 0 && lines[i].s[0] == '=')) i++;
    if (i == end_idx) {
        rc = hz_error_set(HZ_EPARSE, "line %zu: the checksum line (\"=\" and 8 base64 characters) is missing "
                          "before the END line", end_idx + 1);
        goto out;
    }
    size_t cs_idx = i;
    if ((rc = parse_body(lines, body_from, cs_idx, a)) != 0) goto out;

    const line_t *cs = &lines[cs_idx];
    for (size_t k = 1; k < cs->len; k++)
        if (!is_b64((unsigned char)cs->s[k])) {
            rc = bad_char(cs, cs_idx + 1, k, "the checksum line");
            goto out;
        }
    if (cs->len != 9) {
        rc = hz_error_set(HZ_EPARSE, "line %zu: the checksum line has %zu characters, not 9 (\"=\" and 8 base64)",
                          cs_idx + 1, cs->len);
        goto out;
    }
    if (cs_idx + 1 != end_idx) {
        rc = hz_error_set(HZ_EPARSE, "line %zu: text between the checksum line and the END line", cs_idx + 2);
        goto out;
    }
    uint8_t want[CHECKSUM_LEN], got[CHECKSUM_LEN];
    size_t got_len = 0;
    if (sodium_base642bin(got, sizeof(got), cs->s + 1, 8, NULL, &got_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got_len != CHECKSUM_LEN) {
        rc = hz_error_set(HZ_EPARSE, "line %zu: the checksum is not valid base64", cs_idx + 1);
        goto out;
    }
    checksum(a->title, a->headers, a->nheaders, a->body, a->body_len, want);
    if (!hz_ct_equal(want, got, CHECKSUM_LEN)) {
        rc = hz_error_set(HZ_ECRYPTO, "checksum mismatch (line %zu): the file was modified or damaged after it "
                          "was written", cs_idx + 1);
        goto out;
    }
    a->body_line = body_from + 1;
    rc = 0;
out:
    hz_free(lines);
    if (rc) hz__armor_free(a);
    return rc;
}

void hz__armor_free(hz__armor_t *a) {
    hz_secure_free(a->body, a->body_cap);
    a->body = NULL;
    a->body_len = a->body_cap = 0;
}

size_t hz__armor_size(const char *title, const hz__armor_header_t *h, size_t nh, size_t body_len) {
    size_t n = strlen(BEGIN_PREFIX) + strlen(title) + strlen(DASHES) + 1;
    for (size_t i = 0; i < nh; i++) n += strlen(h[i].name) + 2 + strlen(h[i].value) + 1;
    size_t b64 = (body_len + 2) / 3 * 4;
    n += 1 + b64 + (b64 + HZ__ARMOR_LINE - 1) / HZ__ARMOR_LINE; /* blank line, body, its newlines */
    n += 10;                                                   /* checksum line */
    n += strlen(END_PREFIX) + strlen(title) + strlen(DASHES) + 1;
    return n;
}

void hz__armor_write(hz_buf_t *out, const char *title, const hz__armor_header_t *h, size_t nh,
                     const uint8_t *body, size_t body_len) {
    hz_buf_reserve(out, hz__armor_size(title, h, nh, body_len));
    hz_buf_printf(out, "%s%s%s\n", BEGIN_PREFIX, title, DASHES);
    for (size_t i = 0; i < nh; i++) hz_buf_printf(out, "%s: %s\n", h[i].name, h[i].value);
    hz_buf_putc(out, '\n');
    /* 48 bytes make one 64-character line; the stack copy of each line is wiped. */
    char line[HZ__ARMOR_LINE + 8];
    for (size_t at = 0; at < body_len; at += 48) {
        size_t k = body_len - at < 48 ? body_len - at : 48;
        sodium_bin2base64(line, sizeof(line), body + at, k, sodium_base64_VARIANT_ORIGINAL);
        hz_buf_puts(out, line);
        hz_buf_putc(out, '\n');
    }
    hz_secure_zero(line, sizeof(line));
    uint8_t sum[CHECKSUM_LEN];
    char sum64[16];
    checksum(title, h, nh, body, body_len, sum);
    sodium_bin2base64(sum64, sizeof(sum64), sum, sizeof(sum), sodium_base64_VARIANT_ORIGINAL);
    hz_buf_printf(out, "=%s\n%s%s%s\n", sum64, END_PREFIX, title, DASHES);
}
