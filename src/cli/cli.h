/*
 * The hanzo command line. Each subcommand is one cmd_*.c file exposing a `cmd_<name>` entry
 * point that receives the arguments after the subcommand name and returns the exit status.
 * Errors are one line on stderr, "hanzo <cmd>: <reason>", and a non-zero status.
 */
#ifndef HANZO_CLI_H
#define HANZO_CLI_H

#include "hanzo/base.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command_t;

int cmd_node(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_pqc(int argc, char **argv);
int cmd_ai(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Model folder options shared by `hanzo models` and `hanzo run` (cmd_models.c). */
#define CLI_MAX_MODEL_DIRS 16
typedef struct cli_models_opts {
    char *dirs[CLI_MAX_MODEL_DIRS];
    int n_dirs;
    char *ollama;
    bool no_ollama;
} cli_models_opts_t;
struct hz_llm_catalog;
/* Consume argv[*i] (and its value) if it is a folder option; *matched says whether it was. */
int cli_models_parse(cli_models_opts_t *o, const char *cmd, int *i, int argc, char **argv, bool *matched);
/* Scan the folders given, else $HANZO_MODELS_DIR, else ~/.hanzo/models, and the Ollama store. */
int cli_models_scan(cli_models_opts_t *o, struct hz_llm_catalog **cat);
void cli_models_free(cli_models_opts_t *o);

/* Print "hanzo <cmd>: <message>" to stderr and return the exit status 1. */
int cli_fail(const char *cmd, const char *fmt, ...) HZ_PRINTF(2, 3);
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
