/*
 * hanzo pqc sign / verify: ML-DSA (FIPS 204) signatures over whole files.
 *
 * A signature file is the bare signature bytes by default (its length is fixed per algorithm),
 * or hex with --format hex; verify accepts either. The message is mapped, not copied, so large
 * files cost address space rather than memory. verify exits 0 only for a valid signature: an
 * invalid one, and any error on the way, exits 1 with the reason on one line.
 */
#include "cmd_pqc.h"

#include <string.h>
#include <unistd.h>

/* Messages up to this size are signed; ML-DSA needs the whole message (it is hashed with the
 * public key first), and mapping a larger file is still cheap. */
#define MAX_MESSAGE ((size_t)1 << 40)

static void sign_usage(void) {
    printf("usage: hanzo pqc sign --key KEY [-o SIG] [--format raw|hex] [--context TEXT] [--deterministic] [--json] [FILE]\n\n"
           "Sign FILE (standard input when absent or \"-\") with an ML-DSA secret key.\n\n"
           "options:\n"
           "  -k, --key KEY           secret key file (an encrypted one needs --passphrase-file FILE or\n"
           "                          HANZO_KEY_PASSPHRASE)\n"
           "  --key-format armor|raw  raw: KEY holds the bare secret key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  -o, --out SIG           write the signature here instead of standard output\n"
           "  --format raw|hex        the bare signature bytes (default) or hex\n"
           "  --context TEXT          FIPS 204 context string (0-255 bytes; verify needs the same)\n"
           "  --context-hex HEX       the context as hex\n"
           "  --deterministic         no fresh randomness: the same key and message give the same signature\n"
           "  --tier N                refuse unless privacy tier N allows this key here\n"
           "  --json                  {\"alg\", \"key_id\", \"signature\" (hex)} on standard output\n\n"
           "example: hanzo pqc sign --key alice.key -o msg.sig msg\n");
}

static void verify_usage(void) {
    printf("usage: hanzo pqc verify --key PUB --sig SIG [--context TEXT] [--json] [FILE]\n\n"
           "Verify the signature SIG of FILE (standard input when absent or \"-\"). Exit status 0 only for a\n"
           "valid signature; 1 when it is not valid or anything else goes wrong.\n\n"
           "options:\n"
           "  -k, --key PUB           public key file (a secret key file works too)\n"
           "  --key-format armor|raw  raw: PUB holds the bare key bytes of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked against the key)\n"
           "  -s, --sig SIG           the signature: bare bytes or hex\n"
           "  --context TEXT          the FIPS 204 context string it was signed with\n"
           "  --context-hex HEX       the context as hex\n"
           "  --json                  {\"valid\", \"alg\", \"key_id\"} (and \"error\") on standard output\n\n"
           "example: hanzo pqc verify --key alice.pub --sig msg.sig msg\n");
}

static int message_arg(const pqc_args_t *a, const char **path) {
    if (a->npos > 1) return pqc_fail(a->cmd, "one message file at a time (got \"%s\" and \"%s\")", a->pos[0], a->pos[1]);
    *path = a->npos ? a->pos[0] : "-";
    return 0;
}

int pqc_sign(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        sign_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("sign", PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_PASSFILE | PQC_OUT | PQC_FORMAT | PQC_CONTEXT |
                  PQC_DETERMINISTIC | PQC_TIER | PQC_JSON, argc, argv, &a) != 0)
        return 1;
    int status;
    const char *path = "-";
    hz_key_t *key = NULL;
    uint8_t *ctx = NULL, *sig = NULL;
    size_t ctx_len = 0;
    pqc_blob_t msg = {0};
    hz_buf_t out = HZ_BUF_INIT;
    const char *fmt = a.format ? a.format : "raw";
    if ((status = message_arg(&a, &path)) != 0) goto out;
    if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "hex") != 0) {
        status = pqc_fail("sign", "unknown --format \"%s\" (raw or hex)", fmt);
        goto out;
    }
    if ((status = pqc_context(&a, &ctx, &ctx_len)) != 0) goto out;
    if ((status = pqc_load_key(&a, HZ_KEY_SIG, true, &key)) != 0) goto out;
    if ((status = pqc_check_tier(&a, key)) != 0) goto out;
    status = 1;
    if (pqc_blob_read(path, MAX_MESSAGE, &msg) != 0) {
        status = pqc_fail("sign", "%s", hz_error_last());
        goto out;
    }
    sig = hz_malloc(key->sig->sig_len);
    hz_sig_opts_t so = {ctx, ctx_len, a.deterministic, NULL, HZ_PREHASH_NONE};
    if (hz_sig_sign(key->sig, sig, msg.data, msg.len, key->sk, key->sk_len, &so) != 0) {
        status = pqc_fail("sign", "%s", hz_error_last());
        goto out;
    }
    char *hex = pqc_hex(sig, key->sig->sig_len);
    if (strcmp(fmt, "hex") == 0) hz_buf_printf(&out, "%s\n", hex);
    else hz_buf_append(&out, sig, key->sig->sig_len);
    if (!a.json && pqc_is_stdout(a.out) && strcmp(fmt, "raw") == 0 && isatty(STDOUT_FILENO)) {
        hz_free(hex);
        status = pqc_fail("sign", "not writing a binary signature to a terminal: use -o FILE or --format hex");
        goto out;
    }
    if ((a.out || !a.json) && pqc_write_file(a.out, out.data, out.len, 0644) != 0) {
        hz_free(hex);
        status = pqc_fail("sign", "%s", hz_error_last());
        goto out;
    }
    if (a.json) {
        char id[2 * HZ_KEY_ID_LEN + 1];
        hz_key_id_hex(key, id);
        printf("{\"alg\":\"%s\",\"key_id\":\"%s\",\"signature\":\"%s\"}\n", key->alg, id, hex);
    }
    hz_free(hex);
    status = 0;
out:
    pqc_blob_free(&msg, false);
    hz_buf_free(&out);
    hz_free(sig);
    hz_free(ctx);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}

int pqc_verify(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        verify_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("verify", PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_SIG | PQC_CONTEXT | PQC_JSON, argc, argv, &a) != 0)
        return 1;
    int status;
    const char *path = "-";
    hz_key_t *key = NULL;
    uint8_t *ctx = NULL, *sig = NULL;
    size_t ctx_len = 0;
    pqc_blob_t msg = {0}, sigf = {0};
    if ((status = message_arg(&a, &path)) != 0) goto out;
    if (!a.sig) {
        status = pqc_fail("verify", "--sig FILE is required");
        goto out;
    }
    if ((status = pqc_context(&a, &ctx, &ctx_len)) != 0) goto out;
    if ((status = pqc_load_key(&a, HZ_KEY_SIG, false, &key)) != 0) goto out;
    status = 1;
    if (pqc_blob_read(a.sig, 1 << 20, &sigf) != 0) {
        status = pqc_fail("verify", "%s", hz_error_last());
        goto out;
    }
    sig = hz_malloc(key->sig->sig_len);
    if (pqc_raw_or_hex(&sigf, key->sig->sig_len, sig) != 0) {
        status = pqc_fail("verify", "%s: not an %s signature: %s", a.sig, key->alg, hz_error_last());
        goto out;
    }
    if (pqc_blob_read(path, MAX_MESSAGE, &msg) != 0) {
        status = pqc_fail("verify", "%s", hz_error_last());
        goto out;
    }
    hz_sig_opts_t so = {ctx, ctx_len, false, NULL, HZ_PREHASH_NONE};
    int rc = hz_sig_verify(key->sig, sig, key->sig->sig_len, msg.data, msg.len, key->pk, key->pk_len, &so);
    char id[2 * HZ_KEY_ID_LEN + 1];
    hz_key_id_hex(key, id);
    if (a.json) {
        hz_buf_t j = HZ_BUF_INIT;
        hz_buf_printf(&j, "{\"valid\":%s,\"alg\":\"%s\",\"key_id\":\"%s\"", rc == 0 ? "true" : "false", key->alg, id);
        if (rc) {
            hz_buf_puts(&j, ",\"error\":");
            hz_buf_put_json_string(&j, hz_error_last(), strlen(hz_error_last()));
        }
        hz_buf_puts(&j, "}\n");
        fputs(j.data, stdout);
        hz_buf_free(&j);
    }
    if (rc) {
        status = pqc_fail("verify", "INVALID signature: %s", hz_error_last());
        goto out;
    }
    if (!a.json) printf("valid %s signature by key %s\n", key->alg, id);
    status = 0;
out:
    pqc_blob_free(&msg, false);
    pqc_blob_free(&sigf, false);
    hz_free(sig);
    hz_free(ctx);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}
