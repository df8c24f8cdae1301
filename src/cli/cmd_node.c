/* hanzo node: run the daemon until SIGTERM or SIGINT. */
#include "cli.h"

#include <signal.h>
#include <string.h>

#include "hanzo/config.h"
#include "hanzo/node.h"

static void usage(void) {
    hz_buf_t flags = HZ_BUF_INIT;
    hz_config_flags_help(&flags);
    printf("usage: hanzo node [options]\n\n"
           "Run the node: the HTTP API (127.0.0.1:9550 by default) over the data in ~/.hanzo.\n"
           "On first start it generates an API key, prints it once and saves it to\n"
           "<storage>/api_key (mode 0600). SIGTERM or SIGINT stops it gracefully.\n\n"
           "options (flag > environment > hanzo.toml > default):\n%s", flags.data ? flags.data : "");
    hz_buf_free(&flags);
}

int cmd_node(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(); return 0; }
    hz_config_t cfg;
    if (hz_config_load(&cfg, argc, argv, NULL) != 0) return cli_fail("node", "%s", hz_error_last());
    hz_log_format_t fmt = strcmp(cfg.log_format, "json") == 0 ? HZ_LOG_JSON : HZ_LOG_TEXT;
    if (hz_log_configure(cfg.log_level, fmt, NULL) != 0) {
        int status = cli_fail("node", "log level: %s", hz_error_last());
        hz_config_free(&cfg);
        return status;
    }

    hz_node_block_signals();
    hz_node_t *node;
    if (hz_node_start(&cfg, &node) != 0) {
        int status = cli_fail("node", "%s", hz_error_last());
        hz_config_free(&cfg);
        return status;
    }
    if (hz_node_new_api_key(node)) {
        printf("New API key (shown once; also saved to %s/api_key):\n  %s\n", cfg.storage_path,
               hz_node_new_api_key(node));
        fflush(stdout);
    }
    int sig = hz_node_wait_for_signal();
    hz_log_info("node", "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    hz_node_stop(node);
    hz_log_info("node", "stopped");
    hz_config_free(&cfg);
    return 0;
}
