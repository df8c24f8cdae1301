/*
 * hanzo pqc keygen / pubkey: make key pairs and read public keys out of key files.
 *
 * keygen writes NAME.key (mode 0600) before NAME.pub and refuses to replace either unless
 * --force, since overwriting a secret key loses it for good. Keys are armored key files by
 * default (docs/formats/keys.md); --format raw writes the bare key bytes of the standard, for
 * other tools. pubkey reads a public or secret key file (without needing the passphrase: the
 * public key is stored in the clear) or raw key bytes, and prints the public key.
 */
#include "cmd_pqc.h"

#include <string.h>
#include <unistd.h>

static void keygen_usage(void) {
    printf("usage: hanzo pqc keygen [--alg ALG] -o NAME [--encrypt] [--force] [--tier N] [--format armor|raw] [--json]\n\n"
           "Generate a key pair and write NAME.pub and NAME.key (mode 0600).\n\n"
           "options:\n"
           "  --alg ALG               ml-dsa-44|65|87 (signatures), ml-kem-512|768|1024 or x-wing (KEMs);\n"
           "                          default ml-dsa-65, or the signature algorithm of --tier\n"
           "  -o, --out NAME          base name of the two files\n"
           "  --encrypt               encrypt the secret key with a passphrase (Argon2id +\n"
           "                          XChaCha20-Poly1305), read from --passphrase-file FILE or the\n"
           "                          HANZO_KEY_PASSPHRASE environment variable\n"
           "  --passphrase-file FILE  the passphrase is the first line of FILE\n"
           "  -f, --force             replace existing files\n"
           "  --tier N                privacy tier 0-4: the tier's algorithms; tiers 1-4 need --encrypt,\n"
           "                          tiers 2-4 a verified attestation\n"
           "  --format armor|raw      armored key files (default), or the bare key bytes\n"
           "  --json                  print what was written as JSON\n\n"
           "example: hanzo pqc keygen --alg ml-dsa-65 -o alice\n");
}

int pqc_keygen(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        keygen_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("keygen", PQC_ALG | PQC_OUT | PQC_ENCRYPT | PQC_PASSFILE | PQC_FORCE | PQC_TIER | PQC_FORMAT | PQC_JSON,
                  argc, argv, &a) != 0)
        return 1;
    int status = 1;
    char *pass = NULL, *pub_path = NULL, *key_path = NULL;
    size_t pass_len = 0;
    hz_key_t *key = NULL;
    bool raw = a.format && strcmp(a.format, "raw") == 0;

    if (a.npos > 0) {
        status = pqc_fail("keygen", "unexpected argument \"%s\" (the output is named with -o NAME)", a.pos[0]);
        goto out;
    }
    if (!a.out || !a.out[0]) {
        status = pqc_fail("keygen", "-o NAME is required: keygen writes NAME.pub and NAME.key");
        goto out;
    }
    if (a.format && !raw && strcmp(a.format, "armor") != 0) {
        status = pqc_fail("keygen", "unknown --format \"%s\" (armor or raw)", a.format);
        goto out;
    }
    const char *alg = a.alg ? a.alg : "ml-dsa-65";
    if (a.tier) {
        hz_tier_t tier;
        if (hz_tier_parse(a.tier, &tier) != 0) {
            status = pqc_fail("keygen", "%s", hz_error_last());
            goto out;
        }
        if (!a.alg) alg = hz_tier_info(tier)->sig;
        if ((hz_tier_info(tier)->features & HZ_TIER_F_ENCRYPT_AT_REST) && !a.encrypt) {
            status = pqc_fail("keygen", "privacy tier %d (%s) keeps secret keys encrypted at rest: add --encrypt",
                              (int)tier, hz_tier_info(tier)->title);
            goto out;
        }
        if ((status = pqc_check_tier(&a, NULL)) != 0) goto out;
    }
    if (a.encrypt && raw) {
        status = pqc_fail("keygen", "--encrypt needs the armored format (raw keys have nowhere to keep the salt)");
        goto out;
    }
    if (a.encrypt) {
        if ((status = pqc_passphrase(&a, &pass, &pass_len)) != 0) goto out;
        status = 1;
        if (!pass) {
            status = pqc_fail("keygen", "--encrypt needs a passphrase: --passphrase-file FILE or HANZO_KEY_PASSPHRASE");
            goto out;
        }
    } else if (a.passphrase_file) {
        status = pqc_fail("keygen", "--passphrase-file without --encrypt: the key would not be encrypted");
        goto out;
    }
    pub_path = hz_sprintf("%s.pub", a.out);
    key_path = hz_sprintf("%s.key", a.out);
    if (!a.force) {
        const char *exists = access(key_path, F_OK) == 0 ? key_path : access(pub_path, F_OK) == 0 ? pub_path : NULL;
        if (exists) {
            status = pqc_fail("keygen", "%s already exists (use --force to replace it)", exists);
            goto out;
        }
    }
    if (hz_key_generate(alg, &key) != 0) {
        status = pqc_fail("keygen", "%s", hz_error_last());
        goto out;
    }
    if ((status = pqc_check_tier(&a, key)) != 0) goto out;
    status = 1;

    /* The secret key first: a public key without its secret key is useless. If the public key
     * then cannot be written, the new secret key goes too, so no half pair is left. */
    hz_key_write_opts_t wo = {pass, pass_len, 0, 0, a.force};
    int rc = raw ? pqc_write_file(key_path, key->sk, key->sk_len, 0600) : hz_key_save(key, true, key_path, &wo);
    if (rc) {
        status = pqc_fail("keygen", "%s", hz_error_last());
        goto out;
    }
    rc = raw ? pqc_write_file(pub_path, key->pk, key->pk_len, 0644) : hz_key_save(key, false, pub_path, &wo);
    if (rc) {
        status = pqc_fail("keygen", "%s", hz_error_last());
        unlink(key_path);
        goto out;
    }
    char id[2 * HZ_KEY_ID_LEN + 1];
    hz_key_id_hex(key, id);
    if (a.json) {
        hz_buf_t j = HZ_BUF_INIT;
        hz_buf_printf(&j, "{\"alg\":\"%s\",\"key_id\":\"%s\",\"public\":", key->alg, id);
        hz_buf_put_json_string(&j, pub_path, strlen(pub_path));
        hz_buf_puts(&j, ",\"secret\":");
        hz_buf_put_json_string(&j, key_path, strlen(key_path));
        hz_buf_printf(&j, ",\"format\":\"%s\",\"encrypted\":%s}\n", raw ? "raw" : "armor", pass ? "true" : "false");
        fputs(j.data, stdout);
        hz_buf_free(&j);
    } else {
        printf("%s key pair: %s (public), %s (secret%s)\nkey id: %s\n", key->alg, pub_path, key_path,
               pass ? ", encrypted" : "", id);
    }
    status = 0;
out:
    pqc_passphrase_free(pass, pass_len);
    hz_key_free(key);
    hz_free(pub_path);
    hz_free(key_path);
    pqc_args_free(&a);
    return status;
}

static void pubkey_usage(void) {
    printf("usage: hanzo pqc pubkey --key FILE [-o OUT] [--format armor|raw|hex] [--json]\n\n"
           "Print the public key of a key file (public or secret; an encrypted secret key file needs\n"
           "no passphrase, the public key is stored in the clear), or of raw key bytes.\n\n"
           "options:\n"
           "  -k, --key FILE          the key file\n"
           "  --key-format armor|raw  raw: FILE holds the bare bytes of a public or secret key of --alg\n"
           "  --alg ALG               the algorithm (required with raw; else checked)\n"
           "  -o, --out OUT           write here instead of standard output\n"
           "  --format armor|raw|hex  an armored public key file (default), the bare bytes, or hex\n"
           "  --json                  {\"alg\", \"key_id\", \"public_key\" (hex)}\n");
}

int pqc_pubkey(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        pubkey_usage();
        return 0;
    }
    pqc_args_t a;
    if (pqc_parse("pubkey", PQC_KEY | PQC_KEY_FORMAT | PQC_ALG | PQC_OUT | PQC_FORMAT | PQC_JSON, argc, argv, &a) != 0)
        return 1;
    int status = 1;
    hz_key_t *key = NULL;
    hz_buf_t text = HZ_BUF_INIT;
    const char *fmt = a.format ? a.format : "armor";
    if (a.npos > 0) {
        status = pqc_fail("pubkey", "unexpected argument \"%s\" (the key is given with --key)", a.pos[0]);
        goto out;
    }
    if (strcmp(fmt, "armor") != 0 && strcmp(fmt, "raw") != 0 && strcmp(fmt, "hex") != 0) {
        status = pqc_fail("pubkey", "unknown --format \"%s\" (armor, raw or hex)", fmt);
        goto out;
    }
    if ((status = pqc_load_key(&a, 0, false, &key)) != 0) goto out;
    status = 1;
    if (strcmp(fmt, "raw") == 0) {
        hz_buf_append(&text, key->pk, key->pk_len);
    } else if (strcmp(fmt, "hex") == 0) {
        char *hex = pqc_hex(key->pk, key->pk_len);
        hz_buf_printf(&text, "%s\n", hex);
        hz_free(hex);
    } else if (hz_key_encode(key, false, NULL, &text) != 0) {
        status = pqc_fail("pubkey", "%s", hz_error_last());
        goto out;
    }
    if ((a.out || !a.json) && pqc_write_file(a.out, text.data, text.len, 0644) != 0) {
        status = pqc_fail("pubkey", "%s", hz_error_last());
        goto out;
    }
    if (a.json) {
        char id[2 * HZ_KEY_ID_LEN + 1], *hex = pqc_hex(key->pk, key->pk_len);
        hz_key_id_hex(key, id);
        printf("{\"alg\":\"%s\",\"key_id\":\"%s\",\"public_key\":\"%s\"}\n", key->alg, id, hex);
        hz_free(hex);
    }
    status = 0;
out:
    hz_buf_free(&text);
    hz_key_free(key);
    pqc_args_free(&a);
    return status;
}
