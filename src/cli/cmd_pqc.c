/*
 * hanzo pqc: post-quantum keys, signatures, KEMs, sealed files and BLAKE3 from the command line.
 * This file dispatches to the subcommands (cmd_pqc_keys.c, cmd_pqc_sign.c, cmd_pqc_kem.c,
 * cmd_pqc_hash.c) and holds what they share: one option parser (each subcommand lists the
 * options it takes, so a misplaced option is an error rather than silently ignored), inputs from
 * files or standard input, outputs that appear only when complete, passphrases, and key loading.
 *
 * Passphrases never come from a command-line value (it would sit in `ps` and shell history):
 * only from --passphrase-file or the HANZO_KEY_PASSPHRASE environment variable.
 */
#include "cmd_pqc.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"keygen", "generate a key pair: NAME.pub and NAME.key", pqc_keygen},
    {"pubkey", "print the public key of a key file", pqc_pubkey},
    {"sign", "sign a file with an ML-DSA secret key", pqc_sign},
    {"verify", "verify a signature (exit 0 only when valid)", pqc_verify},
    {"encaps", "encapsulate a shared secret to a KEM public key", pqc_encaps},
    {"decaps", "recover the shared secret from a KEM ciphertext", pqc_decaps},
    {"seal", "encrypt a file to a KEM public key (X-Wing by default)", pqc_seal},
    {"open", "decrypt a sealed file", pqc_open},
    {"hash", "BLAKE3 hashes, b3sum-compatible (--check, --keyed, --length, ...)", pqc_hash},
};
#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out) {
    fprintf(out, "usage: hanzo pqc <command> [options] [FILE]\n\n"
                 "Post-quantum cryptography: ML-KEM (FIPS 203), ML-DSA (FIPS 204), X-Wing, BLAKE3.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < NSUB; i++) fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nalgorithms: ");
    for (size_t i = 0; hz_kem_at(i); i++) fprintf(out, "%s, ", hz_kem_at(i)->name);
    for (size_t i = 0; hz_sig_at(i); i++) fprintf(out, "%s%s", hz_sig_at(i)->name, hz_sig_at(i + 1) ? ", " : "\n");
    fprintf(out, "Every command takes --help. FILE \"-\" (or none) is standard input.\n");
}

int cmd_pqc(int argc, char **argv) {
    if (argc < 1) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NSUB; i++)
        if (strcmp(argv[0], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
    return cli_fail("pqc", "unknown command \"%s\" (see `hanzo pqc --help`)", argv[0]);
}

int pqc_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "hanzo pqc %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* ---- options --------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    char shortc;
    unsigned bit;
    size_t str;     /* offset of the const char * field, or 0 for a flag */
    size_t flag;    /* offset of the bool field */
} options[] = {
    {"alg", 0, PQC_ALG, offsetof(pqc_args_t, alg), 0},
    {"key", 'k', PQC_KEY, offsetof(pqc_args_t, key), 0},
    {"key-format", 0, PQC_KEY_FORMAT, offsetof(pqc_args_t, key_format), 0},
    {"out", 'o', PQC_OUT, offsetof(pqc_args_t, out), 0},
    {"format", 0, PQC_FORMAT, offsetof(pqc_args_t, format), 0},
    {"json", 0, PQC_JSON, 0, offsetof(pqc_args_t, json)},
    {"passphrase-file", 0, PQC_PASSFILE, offsetof(pqc_args_t, passphrase_file), 0},
    {"encrypt", 0, PQC_ENCRYPT, 0, offsetof(pqc_args_t, encrypt)},
    {"force", 'f', PQC_FORCE, 0, offsetof(pqc_args_t, force)},
    {"sig", 's', PQC_SIG, offsetof(pqc_args_t, sig), 0},
    {"context", 0, PQC_CONTEXT, offsetof(pqc_args_t, context), 0},
    {"context-hex", 0, PQC_CONTEXT, offsetof(pqc_args_t, context_hex), 0},
    {"deterministic", 0, PQC_DETERMINISTIC, 0, offsetof(pqc_args_t, deterministic)},
    {"tier", 0, PQC_TIER, offsetof(pqc_args_t, tier), 0},
    {"chunk-size", 0, PQC_CHUNK, offsetof(pqc_args_t, chunk_size), 0},
};
#define NOPT (sizeof(options) / sizeof(options[0]))

int pqc_parse(const char *cmd, unsigned allowed, int argc, char **argv, pqc_args_t *a) {
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->pos = hz_calloc((size_t)argc + 1, sizeof(char *));
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            a->pos[a->npos++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        const char *value = NULL;
        size_t k = NOPT;
        if (arg[1] == '-') {
            const char *eq = strchr(arg, '=');
            size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            for (k = 0; k < NOPT; k++)
                if (strlen(options[k].name) == n && strncmp(arg + 2, options[k].name, n) == 0) break;
            if (eq) value = eq + 1;
        } else if (arg[2] == '\0') {
            for (k = 0; k < NOPT; k++)
                if (options[k].shortc == arg[1]) break;
        }
        if (k == NOPT || !(allowed & options[k].bit)) {
            pqc_args_free(a);
            if (k == NOPT) return pqc_fail(cmd, "unknown option %s (see `hanzo pqc %s --help`)", arg, cmd);
            return pqc_fail(cmd, "option --%s is not for `hanzo pqc %s` (see --help)", options[k].name, cmd);
        }
        if (options[k].str) {
            if (!value) {
                if (i + 1 == argc) {
                    pqc_args_free(a);
                    return pqc_fail(cmd, "option --%s needs a value", options[k].name);
                }
                value = argv[++i];
            }
            *(const char **)((char *)a + options[k].str) = value;
        } else {
            if (value) {
                pqc_args_free(a);
                return pqc_fail(cmd, "option --%s takes no value", options[k].name);
            }
            *(bool *)((char *)a + options[k].flag) = true;
        }
    }
    if (a->context && a->context_hex) {
        pqc_args_free(a);
        return pqc_fail(cmd, "give --context or --context-hex, not both");
    }
    return 0;
}

void pqc_args_free(pqc_args_t *a) {
    hz_free(a->pos);
    a->pos = NULL;
    a->npos = 0;
}

/* ---- inputs ---------------------------------------------------------------------------------- */

bool pqc_is_stdout(const char *path) {
    return !path || strcmp(path, "-") == 0;
}

int pqc_blob_read(const char *path, size_t max, pqc_blob_t *b) {
    memset(b, 0, sizeof(*b));
    bool is_stdin = !path || strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hz_error_errno(HZ_EIO, errno, "%s", name);
    struct stat st;
    int rc = 0;
    /* Standard input is read from where it stands, so only named files are mapped. */
    if (!is_stdin && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > max) {
            rc = hz_error_set(HZ_ETOOBIG, "%s is %lld bytes, more than the %zu this command reads", name,
                              (long long)st.st_size, max);
        } else {
            void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map != MAP_FAILED) {
                b->data = map;
                b->len = b->cap = (size_t)st.st_size;
                b->mapped = true;
                close(fd);
                return 0;
            }
        }
    }
    if (rc == 0) {
        hz_buf_t buf = HZ_BUF_INIT;
        hz_buf_reserve(&buf, 1 << 16);
        for (;;) {
            if (buf.len > max) {
                rc = hz_error_set(HZ_ETOOBIG, "%s is more than the %zu bytes this command reads", name, max);
                break;
            }
            hz_buf_reserve(&buf, 1 << 16);
            ssize_t n = read(fd, buf.data + buf.len, buf.cap - buf.len - 1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                rc = hz_error_errno(HZ_EIO, errno, "%s", name);
                break;
            }
            if (n == 0) break;
            buf.len += (size_t)n;
        }
        b->cap = buf.cap;
        b->data = (uint8_t *)hz_buf_detach(&buf, &b->len);
        if (rc) pqc_blob_free(b, true);
    }
    if (!is_stdin) close(fd);
    return rc;
}

void pqc_blob_free(pqc_blob_t *b, bool wipe) {
    if (!b->data) return;
    if (b->mapped) {
        munmap(b->data, b->len);
    } else {
        if (wipe) hz_secure_zero(b->data, b->cap);
        hz_free(b->data);
    }
    memset(b, 0, sizeof(*b));
}

int pqc_raw_or_hex(const pqc_blob_t *b, size_t want, uint8_t *out) {
    if (b->len == want) {
        memcpy(out, b->data, want);
        return 0;
    }
    size_t n = b->len;
    if (n && b->data[n - 1] == '\n') n--;
    if (n && b->data[n - 1] == '\r') n--;
    if (n == 2 * want) {
        char *hex = hz_strndup((const char *)b->data, n);
        int rc = hz_hex_decode(hex, out, want);
        hz_secure_free(hex, n + 1);
        if (rc == 0) return 0;
    }
    return hz_error_set(HZ_EINVAL, "%zu bytes: expected %zu raw bytes or %zu hex digits", b->len, want, 2 * want);
}

char *pqc_hex(const uint8_t *p, size_t n) {
    char *s = hz_malloc(2 * n + 1);
    hz_hex_encode(p, n, s);
    return s;
}

/* ---- outputs --------------------------------------------------------------------------------- */

int pqc_out_open(pqc_out_t *o, const char *path, mode_t mode) {
    memset(o, 0, sizeof(*o));
    o->mode = mode;
    if (pqc_is_stdout(path)) {
        o->fd = STDOUT_FILENO;
        return 0;
    }
    o->path = path;
    o->tmp = hz_sprintf("%s.tmp-XXXXXX", path);
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        int e = errno;
        hz_free(o->tmp);
        o->tmp = NULL;
        return hz_error_errno(HZ_EIO, e, "%s", path);
    }
    return 0;
}

int pqc_out_write(pqc_out_t *o, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(o->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hz_error_errno(HZ_EIO, errno, "writing %s", o->path ? o->path : "standard output");
        p += n, len -= (size_t)n;
    }
    return 0;
}

int pqc_out_commit(pqc_out_t *o) {
    if (!o->tmp) return 0;
    int e = fchmod(o->fd, o->mode) != 0 ? errno : 0;
    if (!e && fsync(o->fd) != 0) e = errno;
    if (close(o->fd) != 0 && !e) e = errno;
    if (!e && rename(o->tmp, o->path) != 0) e = errno;
    if (e) unlink(o->tmp);
    hz_free(o->tmp);
    o->tmp = NULL;
    return e ? hz_error_errno(HZ_EIO, e, "writing %s", o->path) : 0;
}

void pqc_out_abort(pqc_out_t *o) {
    if (!o->tmp) return;
    close(o->fd);
    unlink(o->tmp);
    hz_free(o->tmp);
    o->tmp = NULL;
}

int pqc_write_file(const char *path, const void *data, size_t len, mode_t mode) {
    pqc_out_t o;
    int rc = pqc_out_open(&o, path, mode);
    if (rc == 0) rc = pqc_out_write(&o, data, len);
    if (rc == 0) return pqc_out_commit(&o);
    pqc_out_abort(&o);
    return rc;
}

/* ---- passphrases, keys, tiers, contexts ------------------------------------------------------ */

int pqc_passphrase(const pqc_args_t *a, char **pass, size_t *len) {
    *pass = NULL;
    *len = 0;
    if (a->passphrase_file) {
        pqc_blob_t b;
        if (pqc_blob_read(a->passphrase_file, 4096, &b) != 0)
            return pqc_fail(a->cmd, "passphrase file: %s", hz_error_last());
        size_t n = 0;
        while (n < b.len && b.data[n] != '\n') n++;
        if (n > 0 && b.data[n - 1] == '\r') n--;
        *pass = hz_strndup((const char *)b.data, n);
        *len = n;
        pqc_blob_free(&b, true);
        if (n == 0) {
            pqc_passphrase_free(*pass, 0);
            *pass = NULL;
            return pqc_fail(a->cmd, "the passphrase file %s is empty", a->passphrase_file);
        }
        return 0;
    }
    const char *env = getenv("HANZO_KEY_PASSPHRASE");
    if (env) {
        if (!env[0]) return pqc_fail(a->cmd, "HANZO_KEY_PASSPHRASE is set but empty");
        *len = strlen(env);
        *pass = hz_strndup(env, *len);
    }
    return 0;
}

void pqc_passphrase_free(char *pass, size_t len) {
    if (pass) hz_secure_free(pass, len + 1);
}

static int load_raw(const pqc_args_t *a, bool need_secret, hz_key_t **out) {
    if (!a->alg) return pqc_fail(a->cmd, "--key-format raw needs --alg (the bytes do not say which algorithm)");
    hz_key_type_t type;
    const hz_kem_t *kem;
    const hz_sig_t *sig;
    if (hz_key_alg_by_name(a->alg, &type, &kem, &sig) != 0) return pqc_fail(a->cmd, "%s", hz_error_last());
    size_t pk_len = kem ? kem->pk_len : sig->pk_len, sk_len = kem ? kem->sk_len : sig->sk_len;
    pqc_blob_t b;
    if (pqc_blob_read(a->key, HZ_KEYFILE_MAX_LEN, &b) != 0) return pqc_fail(a->cmd, "%s", hz_error_last());
    int rc;
    if (b.len == sk_len) rc = hz_key_from_secret(a->alg, b.data, b.len, out);
    else if (b.len == pk_len && !need_secret) rc = hz_key_from_public(a->alg, b.data, b.len, out);
    else if (b.len == pk_len) rc = hz_error_set(HZ_EINVAL, "this is an %s public key (%zu bytes); the secret key (%zu bytes) is needed", a->alg, pk_len, sk_len);
    else rc = hz_error_set(HZ_EINVAL, "%zu bytes is neither an %s public key (%zu) nor a secret key (%zu)", b.len, a->alg, pk_len, sk_len);
    pqc_blob_free(&b, true);
    return rc ? pqc_fail(a->cmd, "%s: %s", a->key, hz_error_last()) : 0;
}

int pqc_load_key(const pqc_args_t *a, int type, bool need_secret, hz_key_t **out) {
    *out = NULL;
    if (!a->key) return pqc_fail(a->cmd, "--key FILE is required");
    int status;
    if (a->key_format && strcmp(a->key_format, "raw") == 0) {
        if ((status = load_raw(a, need_secret, out)) != 0) return status;
    } else if (a->key_format && strcmp(a->key_format, "armor") != 0) {
        return pqc_fail(a->cmd, "unknown --key-format \"%s\" (armor or raw)", a->key_format);
    } else {
        char *pass = NULL;
        size_t pass_len = 0;
        if (need_secret && (status = pqc_passphrase(a, &pass, &pass_len)) != 0) return status;
        hz_key_read_opts_t ro = {pass, pass_len, !need_secret, 0, 0};
        int rc = hz_key_load(a->key, &ro, out);
        pqc_passphrase_free(pass, pass_len);
        if (rc == HZ_EAUTH && !pass)
            return pqc_fail(a->cmd, "%s (use --passphrase-file FILE or set HANZO_KEY_PASSPHRASE)", hz_error_last());
        if (rc) return pqc_fail(a->cmd, "%s", hz_error_last());
    }
    if (hz_key_expect(*out, type ? (hz_key_type_t)type : (*out)->type, a->alg, need_secret) != 0) {
        status = pqc_fail(a->cmd, "%s: %s", a->key, hz_error_last());
        hz_key_free(*out);
        *out = NULL;
        return status;
    }
    return 0;
}

int pqc_check_tier(const pqc_args_t *a, const hz_key_t *key) {
    if (!a->tier) return 0;
    hz_tier_t tier;
    /* No key broker yet: the node has no verified attestation to offer. */
    hz_attestation_t att = HZ_ATTESTATION_NONE;
    if (hz_tier_parse(a->tier, &tier) != 0 || hz_tier_check(tier, &att) != 0 || (key && hz_tier_check_key(tier, key) != 0))
        return pqc_fail(a->cmd, "%s", hz_error_last());
    return 0;
}

int pqc_context(const pqc_args_t *a, uint8_t **ctx, size_t *len) {
    *ctx = NULL;
    *len = 0;
    if (a->context) {
        *len = strlen(a->context);
        *ctx = (uint8_t *)hz_strndup(a->context, *len);
    } else if (a->context_hex) {
        size_t n = strlen(a->context_hex);
        *ctx = hz_malloc(n / 2 + 1);
        if (n % 2 || hz_hex_decode(a->context_hex, *ctx, n / 2) != 0) {
            hz_free(*ctx);
            *ctx = NULL;
            return pqc_fail(a->cmd, "--context-hex is not hex");
        }
        *len = n / 2;
    }
    if (*len > 255) {
        hz_free(*ctx);
        *ctx = NULL;
        return pqc_fail(a->cmd, "the context is %zu bytes; FIPS 204 allows at most 255", *len);
    }
    return 0;
}
