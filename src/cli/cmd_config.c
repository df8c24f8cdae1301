/* hanzo config show: the effective configuration and where each value came from. */
#include "cli.h"

#include <string.h>

#include "hanzo/config.h"

static void usage(void) {
    hz_buf_t flags = HZ_BUF_INIT;
    hz_config_flags_help(&flags);
    printf("usage: hanzo config show [--json] [options]\n\n"
           "Print every setting with its value and its source (default, file, env, flag).\n"
           "Secrets are masked. The options are the same as for `hanzo node`, so\n"
           "`hanzo config show --api-listen 0.0.0.0:80` shows what that node would use.\n\n"
           "options:\n  --json               print JSON instead of text\n%s", flags.data ? flags.data : "");
    hz_buf_free(&flags);
}

int cmd_config(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(); return 0; }
    if (argc < 1 || strcmp(argv[0], "show") != 0)
        return cli_fail("config", argc < 1 ? "missing subcommand (expected `show`)"
                                           : "unknown subcommand \"%s\" (expected `show`)", argc ? argv[0] : "");
    bool json = false;
    char **rest = hz_calloc((size_t)argc, sizeof(char *));
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else rest[n++] = argv[i];
    }
    hz_config_t cfg;
    int rc = hz_config_load(&cfg, n, rest, NULL);
    hz_free(rest);
    if (rc != 0) return cli_fail("config", "%s", hz_error_last());
    hz_buf_t out = HZ_BUF_INIT;
    hz_config_render(&cfg, json, &out);
    fputs(out.data ? out.data : "", stdout);
    if (json) fputc('\n', stdout);
    hz_buf_free(&out);
    hz_config_free(&cfg);
    return 0;
}
