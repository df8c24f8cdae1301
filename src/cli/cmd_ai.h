/* Shared by the cmd_ai*.c files: common options, key loading, progress display. */
#ifndef HANZO_CLI_CMD_AI_H
#define HANZO_CLI_CMD_AI_H

#include "cli.h"

#include "hanzo/artifact.h"

typedef struct cli_ai_progress {
    bool enabled;       /* show anything at all */
    bool tty;           /* redraw one line with \r; else print a line every few seconds */
    int64_t start_ns;
    int64_t last_ns;
    char phase[16];
    uint64_t done, total;
    bool open_line;     /* a \r line is on screen and needs its newline */
} cli_ai_progress_t;

typedef struct cli_ai_common {
    bool json;
    int threads;
    cli_ai_progress_t progress;
    hz_key_t **keys;    /* --sign / --key / --trust keys, in order */
    size_t nkeys;
    const char *passphrase_env;
} cli_ai_common_t;

void cli_ai_common_init(cli_ai_common_t *c);
void cli_ai_common_free(cli_ai_common_t *c);
/* Consume argv[*i] (and its value) when it is a common option: --json, --threads N, --progress,
 * --quiet, --passphrase-env VAR. Returns true when consumed; *status is set on a bad value. */
bool cli_ai_common_parse(cli_ai_common_t *c, int argc, char **argv, int *i, int *status);
const char *cli_ai_common_help(void);

/* Load an ML-DSA key file into c->keys: with its secret half (for signing) or only the public
 * one (for trust). Returns an exit status. */
int cli_ai_load_key(cli_ai_common_t *c, const char *path, bool secret);
int cli_ai_load_trust_dir(cli_ai_common_t *c, const char *dir);

bool cli_ai_progress(void *ctx, const char *phase, uint64_t done, uint64_t total);
void cli_ai_progress_done(cli_ai_progress_t *p);

void cli_ai_human_size(uint64_t n, char *out, size_t cap);
/* Print "hanzo ai <cmd>: <hz_error_last()>" and return 1. */
int cli_ai_fail(const char *cmd);

int cli_ai_sign(int argc, char **argv);
int cli_ai_push(int argc, char **argv);
int cli_ai_pull(int argc, char **argv);

#endif
