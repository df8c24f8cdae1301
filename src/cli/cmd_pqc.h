/*
 * Private to the `hanzo pqc` subcommands (cmd_pqc*.c): one option parser for all of them, and
 * the input, output, passphrase and key-loading helpers they share. Each subcommand function
 * receives the arguments after its name and returns the exit status.
 */
#ifndef HANZO_CLI_CMD_PQC_H
#define HANZO_CLI_CMD_PQC_H

#include <sys/types.h>

#include "cli.h"
#include "hanzo/crypto.h"

/* Options, as bits: each subcommand says which it accepts. */
enum {
    PQC_ALG = 1u << 0,
    PQC_KEY = 1u << 1,
    PQC_KEY_FORMAT = 1u << 2,
    PQC_OUT = 1u << 3,
    PQC_FORMAT = 1u << 4,
    PQC_JSON = 1u << 5,
    PQC_PASSFILE = 1u << 6,
    PQC_ENCRYPT = 1u << 7,
    PQC_FORCE = 1u << 8,
    PQC_SIG = 1u << 9,
    PQC_CONTEXT = 1u << 10,
    PQC_DETERMINISTIC = 1u << 11,
    PQC_TIER = 1u << 12,
    PQC_CHUNK = 1u << 13,
};

typedef struct pqc_args {
    const char *cmd;            /* "sign": for messages */
    const char *alg, *key, *key_format, *out, *format, *sig, *passphrase_file;
    const char *context, *context_hex, *tier, *chunk_size;
    bool json, encrypt, force, deterministic;
    char **pos;                 /* positional arguments */
    int npos;
} pqc_args_t;

/* Parse argv against the options in `allowed`. On error prints the one-line message and returns
 * 1 (the exit status); 0 on success. a->pos points into a new array: pqc_args_free. */
int pqc_parse(const char *cmd, unsigned allowed, int argc, char **argv, pqc_args_t *a);
void pqc_args_free(pqc_args_t *a);

/* "hanzo pqc <cmd>: <message>" on stderr; returns 1. */
int pqc_fail(const char *cmd, const char *fmt, ...) HZ_PRINTF(2, 3);

/* The whole of a file, or standard input for NULL or "-"; regular files are mapped. At most max
 * bytes (HZ_ETOOBIG beyond). Errors name the file. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool mapped;
} pqc_blob_t;
int pqc_blob_read(const char *path, size_t max, pqc_blob_t *b);
/* Free; wipe first when the contents were secret. */
void pqc_blob_free(pqc_blob_t *b, bool wipe);

/* An output: standard output for NULL or "-", else a temporary file beside path that becomes
 * path only on commit, so a failed command never leaves a partial file behind. */
typedef struct {
    const char *path;
    char *tmp;
    int fd;
    mode_t mode;
} pqc_out_t;
int pqc_out_open(pqc_out_t *o, const char *path, mode_t mode);
int pqc_out_write(pqc_out_t *o, const void *data, size_t len);
int pqc_out_commit(pqc_out_t *o);
void pqc_out_abort(pqc_out_t *o);
/* Open, write, commit in one. */
int pqc_write_file(const char *path, const void *data, size_t len, mode_t mode);
bool pqc_is_stdout(const char *path);

/* The passphrase from --passphrase-file (its first line) or HANZO_KEY_PASSPHRASE; *pass is NULL
 * when neither is given. Free with pqc_passphrase_free (wipes). Returns 0 or an exit status. */
int pqc_passphrase(const pqc_args_t *a, char **pass, size_t *len);
void pqc_passphrase_free(char *pass, size_t len);

/* Load --key: an armored key file, or with --key-format raw the raw bytes of a public or secret
 * key of --alg (told apart by length). Checks --alg and the key type. need_secret also asks for
 * the passphrase of an encrypted file; without it, only the public key of a secret key file is
 * read. Returns 0 or an exit status (message printed). */
int pqc_load_key(const pqc_args_t *a, int type /* hz_key_type_t, 0 any */, bool need_secret, hz_key_t **out);

/* --tier: refuse what the tier does not allow here (attestation, algorithm). 0 or exit status. */
int pqc_check_tier(const pqc_args_t *a, const hz_key_t *key);

/* --context / --context-hex into bytes (owned). 0 or exit status. */
int pqc_context(const pqc_args_t *a, uint8_t **ctx, size_t *len);

/* Read a binary value that may also be given as hex text (e.g. a signature file): accepted
 * when it is exactly want bytes, or 2*want hex digits with an optional final newline. */
int pqc_raw_or_hex(const pqc_blob_t *b, size_t want, uint8_t *out);

/* Lowercase hex of n bytes, owned. */
char *pqc_hex(const uint8_t *p, size_t n);

int pqc_keygen(int argc, char **argv);
int pqc_pubkey(int argc, char **argv);
int pqc_sign(int argc, char **argv);
int pqc_verify(int argc, char **argv);
int pqc_encaps(int argc, char **argv);
int pqc_decaps(int argc, char **argv);
int pqc_seal(int argc, char **argv);
int pqc_open(int argc, char **argv);
int pqc_hash(int argc, char **argv);

#endif
