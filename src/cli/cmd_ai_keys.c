/*
 * Options shared by the `hanzo ai` commands, key loading, and `hanzo ai sign`. Keys are the
 * crypto module's armored key files; an encrypted secret key's passphrase is read from the
 * environment variable named by --passphrase-env (default HANZO_KEY_PASSPHRASE), never from the
 * command line, where other users could see it.
 */
#include "cmd_ai.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_ai_common_init(cli_ai_common_t *c) {
    memset(c, 0, sizeof(*c));
    c->threads = 0;
    c->passphrase_env = "HANZO_KEY_PASSPHRASE";
    c->progress.tty = isatty(STDERR_FILENO);
    c->progress.enabled = c->progress.tty;
}

void cli_ai_common_free(cli_ai_common_t *c) {
    for (size_t i = 0; i < c->nkeys; i++) hz_key_free(c->keys[i]);
    hz_free(c->keys);
    c->keys = NULL;
    c->nkeys = 0;
}

const char *cli_ai_common_help(void) {
    return "  --progress             show progress even when stderr is not a terminal\n"
           "  --quiet                no progress\n"
           "  --passphrase-env VAR   environment variable holding the key passphrase\n"
           "                         (default HANZO_KEY_PASSPHRASE)\n";
}

bool cli_ai_common_parse(cli_ai_common_t *c, int argc, char **argv, int *i, int *status) {
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) { c->json = true; return true; }
    if (!strcmp(a, "--progress")) { c->progress.enabled = true; return true; }
    if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { c->progress.enabled = false; return true; }
    if (!strcmp(a, "--threads") || !strcmp(a, "--passphrase-env")) {
        if (*i + 1 >= argc) { *status = cli_fail("ai", "%s needs a value", a); return true; }
        const char *v = argv[++*i];
        if (!strcmp(a, "--passphrase-env")) { c->passphrase_env = v; return true; }
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 2) *status = cli_fail("ai", "--threads takes 1 or 2, not \"%s\"", v);
        else c->threads = (int)n;
        return true;
    }
    return false;
}

int cli_ai_load_key(cli_ai_common_t *c, const char *path, bool secret) {
    const char *pass = secret && c->passphrase_env ? getenv(c->passphrase_env) : NULL;
    hz_key_read_opts_t ro = {.passphrase = pass, .passphrase_len = pass ? strlen(pass) : 0, .public_only = !secret};
    hz_key_t *key = NULL;
    if (hz_key_load(path, &ro, &key) != 0) return cli_fail("ai", "%s", hz_error_last());
    if (hz_key_expect(key, HZ_KEY_SIG, NULL, secret) != 0) {
        int st = cli_fail("ai", "%s: %s", path, hz_error_last());
        hz_key_free(key);
        return st;
    }
    c->keys = hz_realloc(c->keys, (c->nkeys + 1) * sizeof(*c->keys));
    c->keys[c->nkeys++] = key;
    return 0;
}

int cli_ai_load_trust_dir(cli_ai_common_t *c, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return cli_fail("ai", "--trust-dir %s: cannot open", dir);
    struct dirent *de;
    int status = 0;
    size_t before = c->nkeys;
    while (!status && (de = readdir(d))) {
        if (!hz_str_ends_with(de->d_name, ".pub")) continue;
        char *p = hz_sprintf("%s/%s", dir, de->d_name);
        status = cli_ai_load_key(c, p, false);
        hz_free(p);
    }
    closedir(d);
    if (!status && c->nkeys == before) status = cli_fail("ai", "--trust-dir %s holds no *.pub key files", dir);
    return status;
}

static void sign_usage(void) {
    printf("usage: hanzo ai sign FILE.ai --key KEYFILE [--key KEYFILE]...\n\n"
           "Verify FILE.ai, then add a signature by each ML-DSA secret key (signatures/<key-id>.sig,\n"
           "replacing an earlier one by the same key). The content hash does not change, so\n"
           "existing signatures stay valid. Make a key with `hanzo pqc keygen ml-dsa-65`.\n\n"
           "options:\n"
           "  --key KEYFILE          ML-DSA secret key file; repeatable\n"
           "  --threads N            1 = hash on one thread (default 2)\n%s", cli_ai_common_help());
}

int cli_ai_sign(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { sign_usage(); return 0; }
    cli_ai_common_t c;
    cli_ai_common_init(&c);
    const char *file = NULL;
    int status = 0;
    for (int i = 0; i < argc && !status; i++) {
        const char *a = argv[i];
        if (cli_ai_common_parse(&c, argc, argv, &i, &status) || status) continue;
        if (!strcmp(a, "--key") || !strcmp(a, "--sign")) {
            if (i + 1 < argc) status = cli_ai_load_key(&c, argv[++i], true);
            else status = cli_fail("ai sign", "%s needs a key file", a);
        } else if (a[0] == '-') {
            status = cli_fail("ai sign", "unknown option %s (see --help)", a);
        } else if (!file) {
            file = a;
        } else {
            status = cli_fail("ai sign", "unexpected argument \"%s\"", a);
        }
    }
    if (!status && !file) status = cli_fail("ai sign", "missing the .ai file (see --help)");
    if (!status && c.nkeys == 0) status = cli_fail("ai sign", "missing --key KEYFILE");
    if (!status) {
        hz_ai_read_opts_t ro = {.threads = c.threads, .progress = cli_ai_progress, .progress_ctx = &c.progress};
        int rc = hz_ai_sign(file, (const hz_key_t *const *)c.keys, c.nkeys, &ro);
        cli_ai_progress_done(&c.progress);
        if (rc) status = cli_ai_fail("sign");
        else
            for (size_t i = 0; i < c.nkeys; i++) {
                char id[2 * HZ_KEY_ID_LEN + 1];
                hz_key_id_hex(c.keys[i], id);
                printf("%s: signed by %s (%s)\n", file, id, c.keys[i]->alg);
            }
    }
    cli_ai_common_free(&c);
    return status;
}
