/*
 * hanzo pqc encaps / decaps / seal / open: KEMs by hand, and whole files sealed to a KEM key.
 *
 * encaps and decaps expose the bare KEM (FIPS 203 ML-KEM or X-Wing): a ciphertext file and the
 * 32-byte shared secret in hex. They exist for interoperability tests and for people learning the
 * primitives; to encrypt data, use seal, which adds the key schedule and authenticated chunks
 * (docs/formats/sealed.md). seal and open stream, so a file of any size needs constant memory.
 * With -o the output file appears only when complete and authentic; on standard output, open
 * writes each chunk as soon as it authenticates, and says so if a later chunk fails.
 */
#include "cmd_pqc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void encaps_usage(void) {
    printf("usage: hanzo pqc encaps --key PUB -o CT [--format raw|hex] [--json]\n\n"
           "Encapsulate a fresh shared secret to a KEM public key (ML-KEM or X-Wing): write the ciphertext\n"
           "to CT and print the 32-byte shared secret in hex.\n\n"
           "options:\n"
           "  -k, --key PUB           public key file (or secret key file)\n"
           "  --key-format armor|raw  raw: PUB holds the bare key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  -o, --out CT            the ciphertext file\n"
           "  --format raw|hex        ciphertext as bare bytes (default) or hex\n"
           "  --json                  {\"alg\", \"key_id\", \"ciphertext\", \"shared_secret\"} (hex); -o optional\n");
}

static void decaps_usage(void) {
    printf("usage: hanzo pqc decaps --key KEY [--format hex|raw] [-o OUT] [--json] [CT]\n\n"
           "Recover the shared secret from the KEM ciphertext CT (bare bytes or hex; standard input when\n"
           "absent or \"-\"). ML-KEM rejects implicitly: a modified ciphertext gives an unrelated secret,\n"
           "not an error.\n\n"
           "options:\n"
           "  -k, --key KEY           secret key file (encrypted: --passphrase-file FILE or HANZO_KEY_PASSPHRASE)\n"
           "  --key-format armor|raw  raw: KEY holds the bare secret key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  --format hex|raw        the shared secret as hex (default) or 32 bare bytes\n"
           "  -o, --out OUT           write the shared secret here instead of standard output\n"
           "  --json                  {\"alg\", \"key_id\", \"shared_secret\"}\n");
}

static void seal_usage(void) {
    printf("usage: hanzo pqc seal --key PUB [-o OUT] [--chunk-size BYTES] [--tier N] [--json] [FILE]\n\n"
           "Encrypt FILE (standard input when absent or \"-\") to a KEM public key: X-Wing (hybrid\n"
           "ML-KEM-768 + X25519, the default kind of key) or ML-KEM. Streams in authenticated chunks\n"
           "(64 KiB by default), so any size works in constant memory.\n\n"
           "options:\n"
           "  -k, --key PUB           the recipient's public key file\n"
           "  --key-format armor|raw  raw: PUB holds the bare key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  -o, --out OUT           write here (created only when complete) instead of standard output\n"
           "  --chunk-size BYTES      a power of two from 1024 to 16777216 (suffix k or m allowed)\n"
           "  --tier N                refuse unless privacy tier N allows this key here\n"
           "  --json                  print {\"alg\", \"key_id\", \"bytes_in\", \"bytes_out\"} (needs -o)\n\n"
           "example: hanzo pqc seal --key bob.pub -o report.pdf.sealed report.pdf\n");
}

static void open_usage(void) {
    printf("usage: hanzo pqc open --key KEY [-o OUT] [--json] [FILE]\n\n"
           "Decrypt a sealed FILE (standard input when absent or \"-\"). Every chunk is authenticated;\n"
           "truncated, reordered or modified data is refused. With -o, OUT is created only when the\n"
           "whole file authenticated.\n\n"
           "options:\n"
           "  -k, --key KEY           the secret key file (encrypted: --passphrase-file FILE or\n"
           "                          HANZO_KEY_PASSPHRASE)\n"
           "  --key-format armor|raw  raw: KEY holds the bare secret key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  -o, --out OUT           write here instead of standard output\n"
           "  --json                  print {\"alg\", \"key_id\", \"bytes_in\", \"bytes_out\"} (needs -o)\n");
}

static void print_json_key(const hz_key_t *key, const char *more) {
    char id[2 * HZ_KEY_ID_LEN + 1];
    hz_key_id_hex(key, id);
    printf("{\"alg\":\"%s\",\"key_id\":\"%s\"%s}\n", key->alg, id, more);
}

int pqc_encaps(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        encaps_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("encaps", PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_OUT | PQC_FORMAT | PQC_JSON, argc, argv, &a) != 0)
        return 1;
    int status;
    hz_key_t *key = NULL;
    uint8_t *ct = NULL, ss[32];
    hz_buf_t out = HZ_BUF_INIT;
    const char *fmt = a.format ? a.format : "raw";
    if (a.npos) {
        status = pqc_fail("encaps", "unexpected argument \"%s\"", a.pos[0]);
        goto out;
    }
    if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "hex") != 0) {
        status = pqc_fail("encaps", "unknown --format \"%s\" (raw or hex)", fmt);
        goto out;
    }
    if (!a.out && !a.json) {
        status = pqc_fail("encaps", "-o CT is required for the ciphertext (or --json)");
        goto out;
    }
    if ((status = pqc_load_key(&a, HZ_KEY_KEM, false, &key)) != 0) goto out;
    status = 1;
    ct = hz_malloc(key->kem->ct_len);
    if (hz_kem_encaps(key->kem, ct, ss, key->pk, key->pk_len) != 0) {
        status = pqc_fail("encaps", "%s", hz_error_last());
        goto out;
    }
    char *ct_hex = pqc_hex(ct, key->kem->ct_len), *ss_hex = pqc_hex(ss, sizeof(ss));
    if (strcmp(fmt, "hex") == 0) hz_buf_printf(&out, "%s\n", ct_hex);
    else hz_buf_append(&out, ct, key->kem->ct_len);
    int rc = a.out ? pqc_write_file(a.out, out.data, out.len, 0644) : 0;
    if (rc == 0) {
        if (a.json) {
            hz_buf_t more = HZ_BUF_INIT;
            hz_buf_printf(&more, ",\"ciphertext\":\"%s\",\"shared_secret\":\"%s\"", ct_hex, ss_hex);
            print_json_key(key, more.data);
            hz_buf_free(&more);
        } else {
            printf("%s\n", ss_hex);
        }
        status = 0;
    } else {
        status = pqc_fail("encaps", "%s", hz_error_last());
    }
    hz_free(ct_hex);
    hz_secure_free(ss_hex, 65);
out:
    hz_secure_zero(ss, sizeof(ss));
    hz_buf_free(&out);
    hz_free(ct);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}

int pqc_decaps(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        decaps_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("decaps", PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_PASSFILE | PQC_OUT | PQC_FORMAT | PQC_JSON, argc,
                  argv, &a) != 0)
        return 1;
    int status;
    hz_key_t *key = NULL;
    uint8_t *ct = NULL, ss[32];
    pqc_blob_t in = {0};
    const char *fmt = a.format ? a.format : "hex";
    if (a.npos > 1) {
        status = pqc_fail("decaps", "one ciphertext at a time");
        goto out;
    }
    if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "hex") != 0) {
        status = pqc_fail("decaps", "unknown --format \"%s\" (hex or raw)", fmt);
        goto out;
    }
    if ((status = pqc_load_key(&a, HZ_KEY_KEM, true, &key)) != 0) goto out;
    status = 1;
    if (pqc_blob_read(a.npos ? a.pos[0] : "-", 1 << 20, &in) != 0) {
        status = pqc_fail("decaps", "%s", hz_error_last());
        goto out;
    }
    ct = hz_malloc(key->kem->ct_len);
    if (pqc_raw_or_hex(&in, key->kem->ct_len, ct) != 0) {
        status = pqc_fail("decaps", "%s: not an %s ciphertext: %s", a.npos ? a.pos[0] : "standard input", key->alg,
                          hz_error_last());
        goto out;
    }
    if (hz_kem_decaps(key->kem, ss, ct, key->kem->ct_len, key->sk, key->sk_len) != 0) {
        status = pqc_fail("decaps", "%s", hz_error_last());
        goto out;
    }
    char *hex = pqc_hex(ss, sizeof(ss));
    int rc = 0;
    if (a.json) {
        char more[128];
        snprintf(more, sizeof(more), ",\"shared_secret\":\"%s\"", hex);
        print_json_key(key, more);
        hz_secure_zero(more, sizeof(more));
    } else if (strcmp(fmt, "raw") == 0) {
        rc = pqc_write_file(a.out, ss, sizeof(ss), 0600);
    } else {
        char line[66];
        snprintf(line, sizeof(line), "%s\n", hex);
        rc = pqc_write_file(a.out, line, 65, 0600);
        hz_secure_zero(line, sizeof(line));
    }
    hz_secure_free(hex, 65);
    status = rc ? pqc_fail("decaps", "%s", hz_error_last()) : 0;
out:
    hz_secure_zero(ss, sizeof(ss));
    pqc_blob_free(&in, false);
    hz_free(ct);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}

/* ---- seal / open: streams ------------------------------------------------------------------ */

typedef struct {
    int fd;
    const char *name;
    uint64_t n;
} counted_in_t;

static int counted_read(void *ctx, uint8_t *buf, size_t cap, size_t *got) {
    counted_in_t *in = ctx;
    for (;;) {
        ssize_t n = read(in->fd, buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hz_error_errno(HZ_EIO, errno, "reading %s", in->name);
        *got = (size_t)n;
        in->n += (uint64_t)n;
        return 0;
    }
}

typedef struct {
    pqc_out_t out;
    uint64_t n;
} counted_out_t;

static int counted_write(void *ctx, const uint8_t *buf, size_t len) {
    counted_out_t *o = ctx;
    o->n += len;
    return pqc_out_write(&o->out, buf, len);
}

static int parse_chunk(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno) return -1;
    if (*end == 'k' || *end == 'K') v <<= 10, end++;
    else if (*end == 'm' || *end == 'M') v <<= 20, end++;
    if (*end) return -1;
    *out = (size_t)v;
    return 0;
}

/* Shared body of seal and open. */
static int stream_cmd(const char *cmd, int argc, char **argv, bool sealing) {
    pqc_args_t a;
    unsigned allowed = PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_OUT | PQC_JSON;
    allowed |= sealing ? PQC_CHUNK | PQC_TIER : PQC_PASSFILE;
    if (pqc_parse(cmd, allowed, argc, argv, &a) != 0) return 1;
    int status;
    hz_key_t *key = NULL;
    counted_in_t in = {-1, NULL, 0};
    counted_out_t out = {{0}, 0};
    bool out_open = false;
    hz_seal_opts_t so = {0, NULL, 0};
    if (a.npos > 1) {
        status = pqc_fail(cmd, "one input file at a time (got \"%s\" and \"%s\")", a.pos[0], a.pos[1]);
        goto out;
    }
    if (a.json && !a.out) {
        status = pqc_fail(cmd, "--json needs -o OUT (standard output carries the data)");
        goto out;
    }
    if (a.chunk_size && parse_chunk(a.chunk_size, &so.chunk_size) != 0) {
        status = pqc_fail(cmd, "--chunk-size \"%s\" is not a number of bytes", a.chunk_size);
        goto out;
    }
    if ((status = pqc_load_key(&a, HZ_KEY_KEM, !sealing, &key)) != 0) goto out;
    if (sealing && (status = pqc_check_tier(&a, key)) != 0) goto out;
    status = 1;
    if (sealing && pqc_is_stdout(a.out) && isatty(STDOUT_FILENO)) {
        status = pqc_fail(cmd, "not writing sealed (binary) data to a terminal: use -o FILE or a redirection");
        goto out;
    }
    in.name = a.npos && strcmp(a.pos[0], "-") != 0 ? a.pos[0] : "standard input";
    in.fd = a.npos && strcmp(a.pos[0], "-") != 0 ? open(a.pos[0], O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (in.fd < 0) {
        status = pqc_fail(cmd, "%s: %s", a.pos[0], strerror(errno));
        goto out;
    }
    if (pqc_out_open(&out.out, a.out, sealing ? 0644 : 0600) != 0) {
        status = pqc_fail(cmd, "%s", hz_error_last());
        goto out;
    }
    out_open = true;
    int rc = sealing ? hz_seal(key, &so, counted_read, &in, counted_write, &out)
                     : hz_open(key, counted_read, &in, counted_write, &out);
    if (rc == 0) rc = pqc_out_commit(&out.out);
    out_open = rc != 0;
    if (rc) {
        if (!sealing && pqc_is_stdout(a.out) && out.n > 0)
            status = pqc_fail(cmd, "%s (the %llu bytes already written to standard output are incomplete)",
                              hz_error_last(), (unsigned long long)out.n);
        else
            status = pqc_fail(cmd, "%s: %s", in.name, hz_error_last());
        goto out;
    }
    if (a.json) {
        char more[96];
        snprintf(more, sizeof(more), ",\"bytes_in\":%llu,\"bytes_out\":%llu", (unsigned long long)in.n,
                 (unsigned long long)out.n);
        print_json_key(key, more);
    }
    status = 0;
out:
    if (out_open) pqc_out_abort(&out.out);
    if (in.fd > STDIN_FILENO) close(in.fd);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}

int pqc_seal(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        seal_usage();
        return 0;
    }
    return stream_cmd("seal", argc, argv, true);
}

int pqc_open(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        open_usage();
        return 0;
    }
    return stream_cmd("open", argc, argv, false);
}
