/* hanzo version: the program's version and what it was built with. */
#include "cli.h"

#include <json-c/json_c_version.h>

#include "hanzo/crypto.h"
#include "hanzo/llm.h"

int cmd_version(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: hanzo version\n\nPrint the version of hanzo and of the libraries it links.\n");
        return 0;
    }
    if (argc > 0) return cli_fail("version", "unexpected argument \"%s\"", argv[0]);
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_printf(&b, "hanzo %s\n  json-c %s\n  ", HZ_VERSION, json_c_version());
    hz_crypto_describe(&b);
    hz_buf_puts(&b, "  ");
    hz_llm_backend_describe(&b);
    printf("%s\n", b.data);
    hz_buf_free(&b);
    return 0;
}
