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

/* Print "hanzo <cmd>: <message>" to stderr and return the exit status 1. */
int cli_fail(const char *cmd, const char *fmt, ...) HZ_PRINTF(2, 3);
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
