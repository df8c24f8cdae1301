/*
 * hanzo pqc hash: a BLAKE3 command that behaves like b3sum (1.x), so scripts and checkfiles move
 * between the two unchanged: the same options, the same output ("<hex>  <name>", "-" for standard
 * input), b3sum's escaping of names holding a backslash or newline (a leading "\" on the line),
 * names that are not UTF-8 shown with U+FFFD, and --check with b3sum's checkfile rules and its
 * "name: OK" / "name: FAILED" lines and exit status. Only the prefix of error messages differs.
 *
 * Files are hashed through hz_blake3_fd, which maps regular files and hashes them on several
 * threads (--num-threads; 0 or absent = one per CPU, as b3sum, which also honours
 * RAYON_NUM_THREADS then). --no-mmap and outputs longer than 1 MiB take the streaming path.
 */
#include "cmd_pqc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_MAX_DIRECT ((uint64_t)1 << 20)

typedef struct {
    uint64_t length;
    const char *length_str, *threads_str, *derive_key;
    bool keyed, no_mmap, no_names, raw, check, quiet, json;
    int threads;
    char **files;
    int nfiles;
    hz_blake3_hasher_t base;
} hash_args_t;

static void usage(void) {
    printf("usage: hanzo pqc hash [options] [FILE]...\n\n"
           "BLAKE3 of each FILE (standard input when none, or \"-\"), printed as b3sum prints it:\n"
           "\"<hex>  <name>\". Compatible with b3sum, including --check.\n\n"
           "options:\n"
           "  -l, --length LEN        output bytes before hex encoding (default 32)\n"
           "  --keyed                 keyed mode: the 32-byte key is read from standard input\n"
           "  --derive-key CONTEXT    key derivation mode with this context string\n"
           "  --no-names              print only the hashes\n"
           "  --raw                   write the raw output bytes (one input only)\n"
           "  -c, --check             read \"<hex>  <name>\" lines from the FILEs and check each name\n"
           "  --quiet                 with --check: print only failures\n"
           "  --num-threads NUM       threads per file (default: one per CPU)\n"
           "  --no-mmap               read files instead of mapping them (single-threaded)\n"
           "  --json                  {\"algorithm\", \"length\", \"files\": [{\"name\", \"hash\" | \"error\"}]}\n");
}

/* "No such file or directory (os error 2)", the way b3sum (Rust's io::Error) words it. */
static const char *os_error(int e, char *buf, size_t cap) {
    snprintf(buf, cap, "%s (os error %d)", strerror(e), e);
    return buf;
}

static int fail(const char *fmt, ...) HZ_PRINTF(1, 2);
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("hanzo pqc hash: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int take_value(int argc, char **argv, int *i, const char *arg, const char *name, const char **out) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n) == 0 && arg[n] == '=') {
        *out = arg + n + 1;
        return 1;
    }
    if (strcmp(arg, name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *out = argv[++*i];
    return 1;
}

static int parse_args(int argc, char **argv, hash_args_t *h) {
    memset(h, 0, sizeof(*h));
    h->files = hz_calloc((size_t)argc + 2, sizeof(char *));
    bool only_files = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_files || arg[0] != '-' || strcmp(arg, "-") == 0) {
            h->files[h->nfiles++] = argv[i];
            continue;
        }
        int r;
        if (strcmp(arg, "--") == 0) only_files = true;
        else if (strcmp(arg, "--keyed") == 0) h->keyed = true;
        else if (strcmp(arg, "--no-mmap") == 0) h->no_mmap = true;
        else if (strcmp(arg, "--no-names") == 0) h->no_names = true;
        else if (strcmp(arg, "--raw") == 0) h->raw = true;
        else if (strcmp(arg, "--check") == 0 || strcmp(arg, "-c") == 0) h->check = true;
        else if (strcmp(arg, "--quiet") == 0) h->quiet = true;
        else if (strcmp(arg, "--json") == 0) h->json = true;
        else if ((r = take_value(argc, argv, &i, arg, "--length", &h->length_str)) != 0 ||
                 (r = take_value(argc, argv, &i, arg, "-l", &h->length_str)) != 0 ||
                 (r = take_value(argc, argv, &i, arg, "--num-threads", &h->threads_str)) != 0 ||
                 (r = take_value(argc, argv, &i, arg, "--derive-key", &h->derive_key)) != 0) {
            if (r < 0) return fail("option %s needs a value", arg);
        } else if (strncmp(arg, "-l", 2) == 0 && arg[2]) h->length_str = arg + 2;
        else return fail("unknown option %s (see `hanzo pqc hash --help`)", arg);
    }
    struct { bool set; const char *name; } conflicts[] = {
        {h->derive_key != NULL, "--derive-key"}, {h->keyed, "--keyed"}, {h->length_str != NULL, "--length"},
        {h->raw, "--raw"}, {h->no_names, "--no-names"}, {h->json, "--json"},
    };
    for (size_t i = 0; h->check && i < sizeof(conflicts) / sizeof(conflicts[0]); i++)
        if (conflicts[i].set) return fail("%s cannot be used with --check", conflicts[i].name);
    if (h->quiet && !h->check) return fail("--quiet requires --check");
    if (h->keyed && h->derive_key) return fail("--keyed cannot be used with --derive-key");
    if (h->keyed && h->nfiles == 0) return fail("--keyed needs FILE arguments (standard input carries the key)");
    if (h->raw && h->json) return fail("--raw cannot be used with --json");
    if (h->nfiles == 0) h->files[h->nfiles++] = "-";
    if (h->raw && h->nfiles > 1) return fail("Only one filename can be provided when using --raw");

    h->length = HZ_BLAKE3_LEN;
    if (h->length_str) {
        char *end;
        errno = 0;
        h->length = strtoull(h->length_str, &end, 10);
        if (!h->length_str[0] || *end || errno || h->length_str[0] == '-') return fail("Failed to parse length.");
    }
    const char *threads = h->threads_str;
    if (threads) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(threads, &end, 10);
        if (!threads[0] || *end || errno || threads[0] == '-' || v > 4096) return fail("Failed to parse num threads.");
        h->threads = (int)v;
    }
    if (h->threads == 0 && (threads = getenv("RAYON_NUM_THREADS")) != NULL) h->threads = atoi(threads) > 0 ? atoi(threads) : 0;

    if (h->keyed) {
        uint8_t key[HZ_BLAKE3_KEY_LEN + 1];
        size_t n = 0;
        for (;;) {
            ssize_t r = read(STDIN_FILENO, key + n, sizeof(key) - n);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            n += (size_t)r;
            if (n == sizeof(key)) break;
        }
        if (n < HZ_BLAKE3_KEY_LEN) return fail("expected %d key bytes from stdin, found %zu", HZ_BLAKE3_KEY_LEN, n);
        if (n > HZ_BLAKE3_KEY_LEN) return fail("read more than %d key bytes from stdin", HZ_BLAKE3_KEY_LEN);
        hz_blake3_init_keyed(&h->base, key);
        hz_secure_zero(key, sizeof(key));
    } else if (h->derive_key) {
        hz_blake3_init_derive_key(&h->base, h->derive_key);
    } else {
        hz_blake3_init(&h->base);
    }
    return 0;
}

/* Replace invalid UTF-8 by U+FFFD, one per maximal invalid subpart (as Rust's to_string_lossy),
 * then escape "\" and newline as b3sum does. Returns whether anything was escaped. */
static bool display_name(const char *name, hz_buf_t *out) {
    hz_buf_t lossy = HZ_BUF_INIT;
    size_t n = strlen(name), i = 0;
    while (i < n) {
        size_t ok = hz_utf8_valid_prefix(name + i, n - i);
        hz_buf_append(&lossy, name + i, ok);
        i += ok;
        if (i == n) break;
        const unsigned char *p = (const unsigned char *)name + i;
        size_t left = n - i, skip = 1;
        unsigned char lo = 0x80, hi = 0xbf;
        size_t need = 0;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) need = 1;
        else if (p[0] >= 0xe0 && p[0] <= 0xef) need = 2, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4) need = 3, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
        for (size_t k = 1; k <= need && k < left; k++) {
            unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (p[k] < l || p[k] > h) break;
            skip = k + 1;
        }
        hz_buf_puts(&lossy, "\xef\xbf\xbd");
        i += skip;
    }
    bool escaped = false;
    for (size_t k = 0; k < lossy.len; k++) {
        char c = lossy.data[k];
        if (c == '\\' || c == '\n') {
            hz_buf_puts(out, c == '\\' ? "\\\\" : "\\n");
            escaped = true;
        } else {
            hz_buf_putc(out, c);
        }
    }
    hz_buf_free(&lossy);
    return escaped;
}

/* Hash one input into out (length bytes, which may be large: streamed to `emit`). On error
 * writes b3sum's wording into err. */
typedef int (*emit_fn)(void *ctx, const uint8_t *p, size_t n);

static int hash_input(const hash_args_t *h, const char *path, uint64_t length, emit_fn emit, void *ctx, char *err,
                      size_t cap) {
    int fd = STDIN_FILENO;
    if (strcmp(path, "-") == 0) {
        if (h->keyed) {
            snprintf(err, cap, "Cannot open `-` in keyed mode");
            return -1;
        }
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            os_error(errno, err, cap);
            return -1;
        }
    }
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        os_error(errno, err, cap);
        rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
        os_error(EISDIR, err, cap);
        rc = -1;
    } else if (!h->no_mmap && length <= HASH_MAX_DIRECT) {
        uint8_t *out = hz_malloc(length ? (size_t)length : 1);
        if (hz_blake3_fd(&h->base, h->threads, fd, out, (size_t)length) != 0) {
            snprintf(err, cap, "%s", hz_error_last());
            rc = -1;
        } else {
            rc = emit(ctx, out, (size_t)length);
        }
        hz_free(out);
    } else {
        hz_blake3_hasher_t b3 = h->base;
        uint8_t *buf = hz_malloc(1 << 16);
        for (;;) {
            ssize_t n = read(fd, buf, 1 << 16);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                os_error(errno, err, cap);
                rc = -1;
                break;
            }
            if (n == 0) break;
            hz_blake3_update(&b3, buf, (size_t)n);
        }
        for (uint64_t at = 0; rc == 0 && at < length; at += 1 << 16) {
            size_t n = length - at < (1 << 16) ? (size_t)(length - at) : (size_t)1 << 16;
            hz_blake3_final_seek(&b3, at, buf, n);
            rc = emit(ctx, buf, n);
        }
        hz_free(buf);
        hz_secure_zero(&b3, sizeof(b3));
    }
    if (fd != STDIN_FILENO) close(fd);
    return rc;
}

/* Prints a hash line as its bytes arrive; the '\\' flag comes first. Output only starts once the
 * input has been read completely, so an error never leaves half a line. */
typedef struct {
    bool started, escaped, no_names;
} line_out_t;

static int emit_line(void *ctx, const uint8_t *p, size_t n) {
    line_out_t *l = ctx;
    if (!l->started && l->escaped && !l->no_names) fputc('\\', stdout);
    l->started = true;
    char hex[2 * 4096 + 1];
    for (size_t at = 0; at < n; at += 4096) {
        size_t k = n - at < 4096 ? n - at : 4096;
        hz_hex_encode(p + at, k, hex);
        fputs(hex, stdout);
    }
    return 0;
}

static int emit_raw(void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int emit_buf(void *ctx, const uint8_t *p, size_t n) {
    hz_buf_t *b = ctx;
    hz_buf_reserve(b, 2 * n);
    hz_hex_encode(p, n, b->data + b->len);
    b->len += 2 * n;
    return 0;
}

static int hash_files(const hash_args_t *h) {
    int status = 0;
    char err[512];
    hz_buf_t json = HZ_BUF_INIT;
    if (h->json) hz_buf_printf(&json, "{\"algorithm\":\"blake3\",\"length\":%llu,\"files\":[", (unsigned long long)h->length);
    for (int i = 0; i < h->nfiles; i++) {
        const char *path = h->files[i];
        hz_buf_t name = HZ_BUF_INIT;
        bool escaped = display_name(path, &name);
        if (h->json) {
            hz_buf_t hex = HZ_BUF_INIT;
            hz_buf_reserve(&hex, 64);
            int rc = hash_input(h, path, h->length, emit_buf, &hex, err, sizeof(err));
            hz_buf_printf(&json, "%s{\"name\":", i ? "," : "");
            hz_buf_put_json_string(&json, name.data ? name.data : "", name.len);
            hz_buf_puts(&json, rc ? ",\"error\":" : ",\"hash\":");
            hz_buf_put_json_string(&json, rc ? err : hex.data, rc ? strlen(err) : hex.len);
            hz_buf_putc(&json, '}');
            if (rc) status = 1;
            hz_buf_free(&hex);
        } else {
            line_out_t line = {false, escaped, h->no_names};
            int rc = h->raw ? hash_input(h, path, h->length, emit_raw, NULL, err, sizeof(err))
                            : hash_input(h, path, h->length, emit_line, &line, err, sizeof(err));
            if (rc) {
                fail("%s: %s", name.data ? name.data : "", err);
                status = 1;
            } else if (!h->raw) {
                emit_line(&line, NULL, 0);
                if (h->no_names) fputc('\n', stdout);
                else printf("  %s\n", name.data ? name.data : "");
            }
        }
        hz_buf_free(&name);
    }
    if (h->json) {
        hz_buf_puts(&json, "]}\n");
        fputs(json.data, stdout);
        hz_buf_free(&json);
    }
    return status;
}

/* ---- --check ------------------------------------------------------------------------------- */

/* One checkfile line (without its "\n"); prints the result. Returns true when it checked OK. */
static bool check_line(const hash_args_t *h, const char *line, size_t len) {
    const char *why = NULL;
    bool escaped = false;
    if (len == 0) why = "Empty line";
    if (!why && line[0] == '\\') escaped = true, line++, len--;
    const size_t hex_len = 2 * HZ_BLAKE3_LEN, prefix = hex_len + 2;
    uint8_t want[HZ_BLAKE3_LEN];
    if (!why && len <= prefix) why = "Short line";
    for (size_t i = 0; !why && i < prefix; i++)
        if ((unsigned char)line[i] >= 0x80) why = "Non-ASCII prefix";
    if (!why && (line[hex_len] != ' ' || line[hex_len + 1] != ' ')) why = "Invalid space";
    for (size_t i = 0; !why && i < hex_len; i++)
        if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f'))) why = "Invalid hex";
    if (why) {
        fail("%s", why);
        return false;
    }
    char hex[2 * HZ_BLAKE3_LEN + 1];
    memcpy(hex, line, hex_len);
    hex[hex_len] = '\0';
    hz_hex_decode(hex, want, sizeof(want));
    const char *shown = line + prefix;
    size_t shown_len = len - prefix;
    hz_buf_t path = HZ_BUF_INIT;
    for (size_t i = 0; i < shown_len; i++) {
        if (escaped && shown[i] == '\\') {
            if (i + 1 == shown_len || (shown[i + 1] != 'n' && shown[i + 1] != '\\')) {
                why = "Invalid backslash escape";
                break;
            }
            hz_buf_putc(&path, shown[i + 1] == 'n' ? '\n' : '\\');
            i++;
        } else {
            hz_buf_putc(&path, shown[i]);
        }
    }
    if (!why && memchr(path.data, '\0', path.len)) why = "Null character in path";
    if (!why && memmem(path.data, path.len, "\xef\xbf\xbd", 3)) why = "Unicode replacement character in path";
    if (why) {
        fail("%s", why);
        hz_buf_free(&path);
        return false;
    }
    uint8_t got[HZ_BLAKE3_LEN];
    hz_buf_t out = HZ_BUF_INIT;
    char err[512];
    hz_buf_reserve(&out, 64);
    int rc = hash_input(h, path.data, HZ_BLAKE3_LEN, emit_buf, &out, err, sizeof(err));
    bool ok = false;
    if (rc) {
        printf("%s%.*s: FAILED (%s)\n", escaped ? "\\" : "", (int)shown_len, shown, err);
    } else {
        hz_hex_decode(out.data, got, sizeof(got));
        ok = hz_ct_equal(got, want, sizeof(got));
        if (!ok) printf("%s%.*s: FAILED\n", escaped ? "\\" : "", (int)shown_len, shown);
        else if (!h->quiet) printf("%s%.*s: OK\n", escaped ? "\\" : "", (int)shown_len, shown);
    }
    fflush(stdout);
    hz_buf_free(&out);
    hz_buf_free(&path);
    return ok;
}

static int check_files(const hash_args_t *h) {
    bool all_ok = true;
    char err[512];
    for (int i = 0; i < h->nfiles; i++) {
        pqc_blob_t b;
        const char *path = h->files[i];
        int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail("%s: %s", path, os_error(errno, err, sizeof(err)));
        if (fd != STDIN_FILENO) close(fd);
        if (pqc_blob_read(path, (size_t)1 << 30, &b) != 0) return fail("%s", hz_error_last());
        const char *text = (const char *)b.data;
        for (size_t at = 0; at < b.len;) {
            const char *nl = memchr(text + at, '\n', b.len - at);
            size_t len = nl ? (size_t)(nl - (text + at)) : b.len - at;
            if (hz_utf8_valid_prefix(text + at, len) != len) {
                pqc_blob_free(&b, false);
                return fail("%s: stream did not contain valid UTF-8", path);
            }
            if (!check_line(h, text + at, len)) all_ok = false;
            at += len + (nl ? 1 : 0);
        }
        pqc_blob_free(&b, false);
    }
    return all_ok ? 0 : 1;
}

int pqc_hash(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    hash_args_t h;
    int status = parse_args(argc, argv, &h);
    if (status == 0) status = h.check ? check_files(&h) : hash_files(&h);
    if (fflush(stdout) != 0 && status == 0) status = fail("writing standard output: %s", strerror(errno));
    hz_secure_zero(&h.base, sizeof(h.base));
    hz_free(h.files);
    return status;
}
