/* hanzo: one program, many subcommands. This file only dispatches. */
#include "cli.h"

#include <string.h>

static const cli_command_t commands[] = {
    {"node", "run the node daemon (HTTP API on 127.0.0.1:9550 by default)", cmd_node},
    {"config", "show the effective configuration and where each value came from", cmd_config},
    {"version", "print the version and the linked libraries", cmd_version},
    {"pqc", "post-quantum keys, signatures, KEMs, sealed files and BLAKE3 hashes", cmd_pqc},
    {"ai", "pack, verify, sign and share .ai artifacts (HIP-0024)", cmd_ai},
    {"models", "list the local GGUF models (folders and the Ollama store)", cmd_models},
    {"run", "chat with a local model in the terminal", cmd_run},
};

static void usage(FILE *out) {
    fprintf(out, "usage: hanzo <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "show this list, or `hanzo help <command>`");
    fprintf(out, "\nEvery command takes --help.\n");
}

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hanzo %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    }
    return false;
}

static const cli_command_t *find_command(const char *name) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(0, NULL);
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) { usage(stdout); return 0; }
        const cli_command_t *c = find_command(argv[2]);
        if (!c) return cli_fail("help", "unknown command \"%s\" (see `hanzo help`)", argv[2]);
        char *help_argv[] = {"--help", NULL};
        return c->run(1, help_argv);
    }
    const cli_command_t *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "hanzo: unknown command \"%s\" (see `hanzo help`)\n", argv[1]);
        return 2;
    }
    return c->run(argc - 2, argv + 2);
}
