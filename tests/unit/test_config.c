/*
 * Unit tests for src/config: defaults, hanzo.toml, environment and flag precedence, every
 * class of error with its exact file:line:column, secret masking in the rendered output,
 * listen address parsing and "~" expansion. Each test gets its own temporary HOME and passes
 * an explicit environment array, so nothing depends on the machine's real environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "hanzo/config.h"

typedef struct {
    char dir[64];      /* the temporary HOME */
    char home_var[96]; /* "HOME=<dir>" */
} fixture_t;

static int setup(void **state) {
    fixture_t *f = hz_calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/hz-config-test.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->home_var, sizeof(f->home_var), "HOME=%s", f->dir);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    fixture_t *f = *state;
    int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    hz_free(f);
    return rc;
}

/* Write `text` to <dir>/<name> and return the owned path. */
static char *write_file(const fixture_t *f, const char *name, const char *text) {
    char *path = hz_sprintf("%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Load with an explicit environment (NULL-terminated list of "K=V" after HOME). */
static int load(hz_config_t *cfg, const fixture_t *f, int argc, char **argv, ...) {
    char *env[32];
    int n = 0;
    env[n++] = (char *)f->home_var;
    va_list ap;
    va_start(ap, argv);
    for (char *e; (e = va_arg(ap, char *)) != NULL && n < 31;) env[n++] = e;
    va_end(ap);
    env[n] = NULL;
    return hz_config_load(cfg, argc, argv, env);
}

/* Load `toml` from a file given with --config and expect failure with exactly
 * "<path>:<expect>" as the message. */
static void expect_file_error(const fixture_t *f, const char *toml, int code, const char *expect) {
    char *path = write_file(f, "bad.toml", toml);
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    int rc = load(&cfg, f, 2, argv, NULL);
    char *want = hz_sprintf("%s:%s", path, expect);
    if (rc != code || strcmp(hz_error_last(), want) != 0)
        fail_msg("for %s\n  got  %d \"%s\"\n  want %d \"%s\"", toml, rc, hz_error_last(), code, want);
    assert_null(cfg.priv); /* freed on error */
    hz_free(want);
    hz_free(path);
}

static void test_defaults(void **state) {
    fixture_t *f = *state;
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 0, NULL, NULL), 0);
    assert_string_equal(cfg.node_name, "hanzo-node");
    assert_string_equal(cfg.api_listen, "127.0.0.1:9550");
    assert_null(cfg.ws_listen);
    assert_null(cfg.api_key);
    assert_non_null(cfg.cors_origins);
    assert_null(cfg.cors_origins[0]);
    assert_int_equal(cfg.max_body_bytes, 16777216);
    assert_int_equal(cfg.request_timeout_s, 300);
    assert_int_equal(cfg.http_threads, 0);
    assert_int_equal(cfg.shutdown_timeout_s, 5);
    char *storage = hz_sprintf("%s/.hanzo/storage", f->dir);
    char *db = hz_sprintf("sqlite://%s/.hanzo/storage/hanzo.db", f->dir);
    assert_string_equal(cfg.storage_path, storage);
    assert_string_equal(cfg.database_url, db);
    assert_string_equal(cfg.database_path, db + strlen("sqlite://"));
    assert_true(cfg.sqlite_wal);
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.log_format, "text");
    assert_null(cfg.config_file);
    assert_int_equal(hz_config_source(&cfg, "api.listen"), HZ_CONFIG_DEFAULT);
    assert_int_equal(hz_config_source(&cfg, "storage.database_url"), HZ_CONFIG_DEFAULT);
    assert_int_equal(hz_config_source(&cfg, "no.such.key"), HZ_CONFIG_DEFAULT);
    hz_free(storage);
    hz_free(db);
    hz_config_free(&cfg);
    hz_config_free(&cfg); /* a freed config is empty, so freeing again is harmless */
}

static const char full_toml[] =
    "# every key\n"
    "node_name = \"edge-1\"\n"
    "models_dir = \"/srv/models\"\n"
    "[api]\n"
    "listen = \"[::1]:8080\"\n"
    "ws_listen = \"0.0.0.0:8081\"\n"
    "api_key = \"file-secret-key\"\n"
    "cors_origins = [\"https://app.example.com\", \"http://localhost:3000\"]\n"
    "max_body_bytes = 1048576\n"
    "request_timeout_s = 60\n"
    "threads = 8\n"
    "shutdown_timeout_s = 0\n"
    "workers = 16\n"
    "requests_per_minute = 600\n"
    "tokens_per_minute = 100000\n"
    "[storage]\n"
    "path = \"/var/lib/hanzo\"\n"
    "sqlite_wal = false\n"
    "[llm]\n"
    "ollama_dir = \"/srv/ollama\"\n"
    "ctx = 2048\n"
    "parallel = 8\n"
    "threads = 2\n"
    "queue_max = 0\n"
    "keep_alive_s = -1\n"
    "memory_budget_mb = 4096\n"
    "[log]\n"
    "level = \"warn,http=debug,hanzo::store=trace\"\n"
    "format = \"json\"\n";

static void test_file_values(void **state) {
    fixture_t *f = *state;
    char *path = write_file(f, "hanzo.toml", full_toml);
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), 0);
    assert_string_equal(cfg.config_file, path);
    assert_string_equal(cfg.node_name, "edge-1");
    assert_string_equal(cfg.api_listen, "[::1]:8080");
    assert_string_equal(cfg.ws_listen, "0.0.0.0:8081");
    assert_string_equal(cfg.api_key, "file-secret-key");
    assert_string_equal(cfg.cors_origins[0], "https://app.example.com");
    assert_string_equal(cfg.cors_origins[1], "http://localhost:3000");
    assert_null(cfg.cors_origins[2]);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.request_timeout_s, 60);
    assert_int_equal(cfg.http_threads, 8);
    assert_int_equal(cfg.shutdown_timeout_s, 0);
    assert_int_equal(cfg.api_workers, 16);
    assert_int_equal(cfg.requests_per_minute, 600);
    assert_int_equal(cfg.tokens_per_minute, 100000);
    assert_string_equal(cfg.storage_path, "/var/lib/hanzo");
    assert_string_equal(cfg.database_url, "sqlite:///var/lib/hanzo/hanzo.db");
    assert_string_equal(cfg.database_path, "/var/lib/hanzo/hanzo.db");
    assert_false(cfg.sqlite_wal);
    assert_string_equal(cfg.log_level, "warn,http=debug,hanzo::store=trace");
    assert_string_equal(cfg.log_format, "json");
    assert_string_equal(cfg.models_dir, "/srv/models");
    assert_string_equal(cfg.ollama_dir, "/srv/ollama");
    assert_int_equal(cfg.llm_ctx, 2048);
    assert_int_equal(cfg.llm_parallel, 8);
    assert_int_equal(cfg.llm_threads, 2);
    assert_int_equal(cfg.llm_queue_max, 0);
    assert_int_equal(cfg.llm_keep_alive_s, -1);
    assert_int_equal(cfg.llm_memory_budget_mb, 4096);
    for (size_t i = 0; i < config_nkeys; i++) {
        const char *name = config_keys[i].name;
        hz_config_source_t want = strcmp(name, "storage.database_url") == 0 ? HZ_CONFIG_DEFAULT : HZ_CONFIG_FILE;
        if (hz_config_source(&cfg, name) != want) fail_msg("%s: wrong source", name);
    }
    hz_config_free(&cfg);
    hz_free(path);
}

static void test_default_file_location_and_hanzo_config(void **state) {
    fixture_t *f = *state;
    char *dot = hz_sprintf("%s/.hanzo", f->dir);
    assert_int_equal(mkdir(dot, 0700), 0);
    char *home_file = write_file(f, ".hanzo/hanzo.toml", "node_name = \"from-home\"\n");
    char *other = write_file(f, "other.toml", "node_name = \"from-env-file\"\n");
    char *third = write_file(f, "third.toml", "node_name = \"from-flag-file\"\n");

    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 0, NULL, NULL), 0);
    assert_string_equal(cfg.config_file, home_file);
    assert_string_equal(cfg.node_name, "from-home");
    hz_config_free(&cfg);

    char *env_var = hz_sprintf("HANZO_CONFIG=%s", other);
    assert_int_equal(load(&cfg, f, 0, NULL, env_var, NULL), 0);
    assert_string_equal(cfg.node_name, "from-env-file");
    hz_config_free(&cfg);

    char *argv[] = {"--config", third};
    assert_int_equal(load(&cfg, f, 2, argv, env_var, NULL), 0);
    assert_string_equal(cfg.node_name, "from-flag-file");
    assert_string_equal(cfg.config_file, third);
    hz_config_free(&cfg);

    /* "~" in HANZO_CONFIG is expanded; an explicit file that is missing is an error. */
    assert_int_equal(load(&cfg, f, 0, NULL, "HANZO_CONFIG=~/other.toml", NULL), 0);
    assert_string_equal(cfg.config_file, other);
    hz_config_free(&cfg);
    assert_int_equal(load(&cfg, f, 0, NULL, "HANZO_CONFIG=~/missing.toml", NULL), HZ_ENOTFOUND);
    char *want = hz_sprintf("cannot open config file %s/missing.toml: No such file or directory", f->dir);
    assert_string_equal(hz_error_last(), want);
    hz_free(want);

    char *dir_argv[] = {"--config", f->dir};
    assert_int_equal(load(&cfg, f, 2, dir_argv, NULL), HZ_EINVAL);
    assert_non_null(strstr(hz_error_last(), "is not a regular file"));

    hz_free(env_var);
    hz_free(dot);
    hz_free(home_file);
    hz_free(other);
    hz_free(third);
}

static void test_env_over_file(void **state) {
    fixture_t *f = *state;
    char *path = write_file(f, "hanzo.toml", full_toml);
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, "NODE_API_LISTEN_ADDRESS=127.0.0.2:7000",
                          "SQLITE_ENABLE_WAL=1", "HANZO_CORS_ORIGINS= https://a.example, *,",
                          "HANZO_LOG=debug", "DATABASE_URL=sqlite:///srv/db.sqlite?mode=rwc",
                          "HANZO_HTTP_THREADS=3", "NODE_WS_LISTEN_ADDRESS=", /* empty: unset */
                          "UNRELATED=x", NULL),
                     0);
    assert_string_equal(cfg.api_listen, "127.0.0.2:7000");
    assert_int_equal(hz_config_source(&cfg, "api.listen"), HZ_CONFIG_ENV);
    assert_true(cfg.sqlite_wal);
    assert_string_equal(cfg.cors_origins[0], "https://a.example");
    assert_string_equal(cfg.cors_origins[1], "*");
    assert_null(cfg.cors_origins[2]);
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.database_url, "sqlite:///srv/db.sqlite?mode=rwc");
    assert_string_equal(cfg.database_path, "/srv/db.sqlite");
    assert_int_equal(hz_config_source(&cfg, "storage.database_url"), HZ_CONFIG_ENV);
    assert_int_equal(cfg.http_threads, 3);
    /* Untouched by the environment: still from the file. */
    assert_string_equal(cfg.ws_listen, "0.0.0.0:8081");
    assert_int_equal(hz_config_source(&cfg, "api.ws_listen"), HZ_CONFIG_FILE);
    assert_string_equal(cfg.log_format, "json");
    hz_config_free(&cfg);
    hz_free(path);
}

static void test_flag_over_env(void **state) {
    fixture_t *f = *state;
    char *path = write_file(f, "hanzo.toml", "[api]\nlisten = \"127.0.0.1:1\"\n");
    char *argv[] = {"--config=", NULL, "--api-listen", "127.0.0.1:3", "--log-format=json", "--sqlite-wal",
                    "false", "--node-name", "first", "--node-name=second", "--http-threads", "4"};
    char *config_arg = hz_sprintf("--config=%s", path);
    argv[0] = config_arg;
    argv[1] = "--max-body-bytes=42";
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 12, argv, "NODE_API_LISTEN_ADDRESS=127.0.0.1:2", "HANZO_LOG_FORMAT=text",
                          "SQLITE_ENABLE_WAL=true", "HANZO_MAX_BODY_BYTES=7", NULL),
                     0);
    assert_string_equal(cfg.api_listen, "127.0.0.1:3");
    assert_int_equal(hz_config_source(&cfg, "api.listen"), HZ_CONFIG_FLAG);
    assert_string_equal(cfg.log_format, "json");
    assert_false(cfg.sqlite_wal);
    assert_string_equal(cfg.node_name, "second"); /* the last occurrence wins */
    assert_int_equal(cfg.max_body_bytes, 42);
    assert_int_equal(cfg.http_threads, 4);
    assert_int_equal(hz_config_source(&cfg, "log.format"), HZ_CONFIG_FLAG);
    hz_config_free(&cfg);

    /* A boolean flag alone means true, and does not swallow the next flag. */
    char *argv2[] = {"--sqlite-wal", "--log-level", "trace"};
    assert_int_equal(load(&cfg, f, 3, argv2, "SQLITE_ENABLE_WAL=false", NULL), 0);
    assert_true(cfg.sqlite_wal);
    assert_string_equal(cfg.log_level, "trace");
    hz_config_free(&cfg);
    hz_free(config_arg);
    hz_free(path);
}

static void test_file_errors(void **state) {
    fixture_t *f = *state;
    expect_file_error(f, "[api]\nlisen = \"127.0.0.1:1\"\n", HZ_EINVAL,
                      "2:1: unknown key \"api.lisen\" (did you mean \"api.listen\"?)");
    expect_file_error(f, "node_name = \"n\"\n\n[apii]\nlisten = \"127.0.0.1:1\"\n", HZ_EINVAL,
                      "3:2: unknown key \"apii\" (did you mean \"api\"?)");
    expect_file_error(f, "[storage]\ncompletely_different = 1\n", HZ_EINVAL,
                      "2:1: unknown key \"storage.completely_different\"");
    expect_file_error(f, "\"api.listen\" = \"127.0.0.1:1\"\n", HZ_EINVAL,
                      "1:1: unknown key '\"api.listen\"' (did you mean \"api.listen\"?)");
    expect_file_error(f, "[api]\n  listen = 9550\n", HZ_EINVAL,
                      "2:12: api.listen: expected a string, got an integer");
    expect_file_error(f, "api = 5\n", HZ_EINVAL, "1:7: api: expected a table, got an integer");
    expect_file_error(f, "[api]\nmax_body_bytes = 1.5\n", HZ_EINVAL,
                      "2:18: api.max_body_bytes: expected an integer, got a float");
    expect_file_error(f, "[storage]\nsqlite_wal = \"yes\"\n", HZ_EINVAL,
                      "2:14: storage.sqlite_wal: expected a boolean, got a string");
    expect_file_error(f, "[api]\ncors_origins = \"*\"\n", HZ_EINVAL,
                      "2:16: api.cors_origins: expected an array, got a string");
    expect_file_error(f, "[api]\ncors_origins = [\"https://a.example\", 3]\n", HZ_EINVAL,
                      "2:38: api.cors_origins[1]: expected a string, got an integer");
    expect_file_error(f, "[api]\ncors_origins = [\"https://a.example/path\"]\n", HZ_EINVAL,
                      "2:17: api.cors_origins[0]: origin \"https://a.example/path\" must be \"*\" or "
                      "scheme://host[:port] (http or https, no path)");
    expect_file_error(f, "[api]\nlisten = \"localhost\"\n", HZ_EINVAL,
                      "2:10: api.listen: \"localhost\": missing port (expected HOST:PORT)");
    expect_file_error(f, "[api]\nlisten = \"127.0.0.1:65536\"\n", HZ_EINVAL,
                      "2:10: api.listen: \"127.0.0.1:65536\": port must be a number from 0 to 65535");
    expect_file_error(f, "[api]\nthreads = -1\n", HZ_EINVAL, "2:11: api.threads: must be from 0 to 1024, got -1");
    expect_file_error(f, "[api]\nrequest_timeout_s = 0\n", HZ_EINVAL,
                      "2:21: api.request_timeout_s: must be from 1 to 86400, got 0");
    expect_file_error(f, "[log]\nformat = \"xml\"\n", HZ_EINVAL, "2:10: log.format: \"xml\": expected text or json");
    expect_file_error(f, "[log]\nlevel = \"info,http=loud\"\n", HZ_EINVAL,
                      "2:9: log.level: unknown log level \"loud\" (expected error, warn, info, debug or trace)");
    expect_file_error(f, "[log]\nlevel = \"\"\n", HZ_EINVAL, "2:9: log.level: must not be empty");
    expect_file_error(f, "[storage]\ndatabase_url = \"postgres://db/hanzo\"\n", HZ_EINVAL,
                      "2:16: storage.database_url: \"postgres://db/hanzo\": must start with sqlite:// "
                      "(SQLite is the only database)");
    expect_file_error(f, "[storage]\npath = \"~bob/data\"\n", HZ_EINVAL,
                      "2:8: storage.path: \"~bob/data\": only \"~\" and \"~/...\" are expanded, not ~user");
    expect_file_error(f, "node_name = \"a\\u0000b\"\n", HZ_EINVAL, "1:13: node_name: contains a NUL byte at byte 1");
    expect_file_error(f, "node_name = \"a\\tb\"\n", HZ_EINVAL,
                      "1:13: node_name: contains a control character at byte 1");
    /* A bad secret is reported without repeating it. */
    expect_file_error(f, "[api]\napi_key = \"has space\"\n", HZ_EINVAL,
                      "2:11: api.api_key: byte 3 is not printable ASCII (spaces are not allowed)");
}

static void test_file_syntax_errors(void **state) {
    fixture_t *f = *state;
    static const struct { const char *toml, *where, *needle; } cases[] = {
        {"[api]\nlisten = \"127.0.0.1:1\n", ":2:", "string"},          /* unterminated string */
        {"node_name = \"a\"\nnode_name = \"b\"\n", ":2:", "node_name"}, /* duplicate key */
        {"[api\n", ":1:", ""},
        {"node_name = \n", ":1:", ""},
        {"\xff\xfe = 1\n", ":1:", ""},                                  /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_file(f, "syntax.toml", cases[i].toml);
        char *argv[] = {"--config", path};
        hz_config_t cfg;
        assert_int_equal(load(&cfg, f, 2, argv, NULL), HZ_EPARSE);
        const char *msg = hz_error_last();
        /* "<path>:<line>:<column>: <toml++'s description>" */
        char *prefix = hz_sprintf("%s%s", path, cases[i].where);
        if (!hz_str_starts_with(msg, prefix)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, prefix);
        const char *col = msg + strlen(prefix);
        assert_true(col[0] >= '1' && col[0] <= '9');
        const char *desc = strchr(col, ':');
        assert_non_null(desc);
        assert_true(strlen(desc) > 3);
        if (!strstr(desc, cases[i].needle)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, cases[i].needle);
        hz_free(prefix);
        hz_free(path);
    }
    /* The unterminated string: toml++ reports it where the line ends. */
    char *path = write_file(f, "syntax.toml", "[api]\nlisten = \"127.0.0.1:1\n");
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), HZ_EPARSE);
    char *want = hz_sprintf("%s:2:22: ", path);
    assert_true(hz_str_starts_with(hz_error_last(), want));
    hz_free(want);
    hz_free(path);
}

/* toml++ 3.3 reaches __builtin_unreachable on these (see toml_shim.cpp); under UBSan this
 * test fails unless the shim's workaround is in place. */
static void test_non_ascii_input(void **state) {
    fixture_t *f = *state;
    char *path = write_file(f, "u.toml", "node_name = \"\"\"\\\n  \xc2\xa7-caf\xc3\xa9\"\"\"\n");
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), 0);
    assert_string_equal(cfg.node_name, "\xc2\xa7-caf\xc3\xa9");
    hz_config_free(&cfg);
    hz_free(path);

    path = write_file(f, "u.toml", "\xc3\xa9 = 1\n");
    argv[1] = path;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), HZ_EPARSE);
    char *want = hz_sprintf("%s:1:1: ", path);
    assert_true(hz_str_starts_with(hz_error_last(), want));
    hz_free(want);
    hz_free(path);
}

static void test_deep_nesting_is_refused(void **state) {
    fixture_t *f = *state;
    hz_buf_t b = HZ_BUF_INIT;
    hz_buf_puts(&b, "node_name = \"x\"\n");
    for (int i = 0; i < 100000; i++) hz_buf_puts(&b, "a.");
    hz_buf_puts(&b, "b = 1\n");
    char *path = write_file(f, "deep.toml", b.data);
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), HZ_EPARSE);
    char *want = hz_sprintf("%s:2:514: more than 256 '.' on one line (keys nested too deeply)", path);
    assert_string_equal(hz_error_last(), want);
    hz_free(want);
    hz_free(path);

    /* Over the size limit. */
    hz_buf_reset(&b);
    while (b.len <= CONFIG_FILE_MAX) hz_buf_puts(&b, "# padding padding padding padding padding\n");
    path = write_file(f, "big.toml", b.data);
    argv[1] = path;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), HZ_ETOOBIG);
    hz_free(path);
    hz_buf_free(&b);
}

static void test_env_and_flag_errors(void **state) {
    fixture_t *f = *state;
    hz_config_t cfg;
    static const struct { const char *env, *want; } env_cases[] = {
        {"NODE_API_LISTEN_ADDRESS=::1:9550",
         "NODE_API_LISTEN_ADDRESS: \"::1:9550\": write IPv6 addresses in brackets, as [::1]:9550"},
        {"SQLITE_ENABLE_WAL=yes", "SQLITE_ENABLE_WAL: expected true, false, 1 or 0, got \"yes\""},
        {"HANZO_LOG=info,http=loud", "HANZO_LOG: unknown log level \"loud\" (expected error, warn, info, debug or trace)"},
        {"HANZO_LOG=,=debug", "HANZO_LOG: bad module name \"\" in log filter"},
        {"HANZO_MAX_BODY_BYTES=0", "HANZO_MAX_BODY_BYTES: must be from 1 to 1099511627776, got 0"},
        {"HANZO_REQUEST_TIMEOUT=10s", "HANZO_REQUEST_TIMEOUT: expected an integer, got \"10s\""},
        {"HANZO_HTTP_THREADS=99999999999999999999", "HANZO_HTTP_THREADS: expected an integer, got \"99999999999999999999\""},
        {"DATABASE_URL=sqlite://", "DATABASE_URL: \"sqlite://\": missing the database file after sqlite://"},
        {"HANZO_API_KEY=tab\there", "HANZO_API_KEY: contains a control character at byte 3"},
        {"HANZO_NODE_NAME=\xc3\x28", "HANZO_NODE_NAME: not valid UTF-8 at byte 0"},
        {"HANZO_CORS_ORIGINS=ftp://x", "HANZO_CORS_ORIGINS: origin \"ftp://x\" must be \"*\" or scheme://host[:port] (http or https, no path)"},
    };
    for (size_t i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
        assert_int_equal(load(&cfg, f, 0, NULL, env_cases[i].env, NULL), HZ_EINVAL);
        if (strcmp(hz_error_last(), env_cases[i].want) != 0)
            fail_msg("%s\n  got  \"%s\"\n  want \"%s\"", env_cases[i].env, hz_error_last(), env_cases[i].want);
        assert_null(cfg.priv);
    }
    static const struct { int argc; char *argv[3]; const char *want; } flag_cases[] = {
        {1, {"--api-lisen=x"}, "unknown flag \"--api-lisen\" (did you mean --api-listen?)"},
        {2, {"--frobnicate", "1"}, "unknown flag \"--frobnicate\""},
        {1, {"--api-listen"}, "--api-listen: missing value"},
        {2, {"--api-listen", "--log-level"}, "--api-listen: missing value"},
        {1, {"node"}, "unexpected argument \"node\" (settings are given as --flag VALUE)"},
        {1, {"--request-timeout=abc"}, "--request-timeout: expected an integer, got \"abc\""},
        {2, {"--ws-listen", "[::1"}, "--ws-listen: \"[::1\": missing ']' after the IPv6 address"},
        {1, {"--config="}, "--config: missing value"},
        {1, {"--log-format=JSON"}, "--log-format: \"JSON\": expected text or json"},
    };
    for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
        assert_int_equal(load(&cfg, f, flag_cases[i].argc, (char **)flag_cases[i].argv, NULL), HZ_EINVAL);
        if (strcmp(hz_error_last(), flag_cases[i].want) != 0)
            fail_msg("%s\n  got  \"%s\"\n  want \"%s\"", flag_cases[i].argv[0], hz_error_last(), flag_cases[i].want);
    }
}

static void test_render_masks_secrets(void **state) {
    fixture_t *f = *state;
    const char *secret = "sk-VerySecret123";
    char *path = write_file(f, "hanzo.toml", "node_name = \"n1\"\n\n[storage]\npath = \"/data\"\n");
    char *argv[] = {"--config", path, "--log-level", "debug"};
    hz_config_t cfg;
    char *env_key = hz_sprintf("HANZO_API_KEY=%s", secret);
    assert_int_equal(load(&cfg, f, 4, argv, env_key, "HANZO_CORS_ORIGINS=https://a.example,https://b.example", NULL), 0);
    assert_string_equal(cfg.api_key, secret);

    hz_buf_t text = HZ_BUF_INIT;
    hz_config_render(&cfg, false, &text);
    assert_null(strstr(text.data, secret));
    assert_non_null(strstr(text.data, "********"));
    assert_non_null(strstr(text.data, "env HANZO_API_KEY"));
    assert_non_null(strstr(text.data, "flag --log-level"));
    char *file_src = hz_sprintf("file %s:4", path);
    assert_non_null(strstr(text.data, file_src));
    assert_non_null(strstr(text.data, "https://a.example,https://b.example"));
    /* One line per key, values aligned in one column. */
    size_t lines = 0, value_col = 0;
    for (char *line = text.data; *line; lines++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char *sp = strstr(line, "  ");
        assert_true(sp && sp < nl);
        size_t col = (size_t)(sp - line);
        while (line[col] == ' ') col++;
        if (lines == 0) value_col = col;
        assert_int_equal(col, value_col);
        line = nl + 1;
    }
    assert_int_equal(lines, config_nkeys);

    hz_buf_t js = HZ_BUF_INIT;
    hz_config_render(&cfg, true, &js);
    assert_null(strstr(js.data, secret));
    json_object *root, *entry, *v;
    assert_int_equal(hz_json_parse(js.data, js.len, &root), 0);
    assert_int_equal(json_object_object_length(root), (int)config_nkeys);
    assert_true(json_object_object_get_ex(root, "api.api_key", &entry));
    assert_true(json_object_object_get_ex(entry, "value", &v));
    assert_string_equal(json_object_get_string(v), "********");
    assert_true(json_object_object_get_ex(entry, "source", &v));
    assert_string_equal(json_object_get_string(v), "env");
    assert_true(json_object_object_get_ex(entry, "env", &v));
    assert_string_equal(json_object_get_string(v), "HANZO_API_KEY");
    assert_true(json_object_object_get_ex(root, "storage.path", &entry));
    assert_true(json_object_object_get_ex(entry, "file", &v));
    assert_string_equal(json_object_get_string(v), path);
    assert_true(json_object_object_get_ex(entry, "line", &v));
    assert_int_equal(json_object_get_int(v), 4);
    assert_true(json_object_object_get_ex(root, "api.max_body_bytes", &entry));
    assert_true(json_object_object_get_ex(entry, "value", &v));
    assert_int_equal(json_object_get_int64(v), 16777216);
    assert_true(json_object_object_get_ex(root, "api.cors_origins", &entry));
    assert_true(json_object_object_get_ex(entry, "value", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_true(json_object_object_get_ex(root, "api.ws_listen", &entry));
    assert_true(json_object_object_get_ex(entry, "value", &v));
    assert_null(v);
    json_object_put(root);
    hz_config_free(&cfg);

    /* Unset secret. */
    assert_int_equal(load(&cfg, f, 0, NULL, NULL), 0);
    hz_buf_reset(&text);
    hz_config_render(&cfg, false, &text);
    char *line = strstr(text.data, "api.api_key");
    assert_non_null(line);
    char *nl = strchr(line, '\n');
    *nl = '\0';
    assert_non_null(strstr(line, "(unset)"));
    assert_null(strstr(line, "********"));
    hz_config_free(&cfg);

    hz_buf_free(&text);
    hz_buf_free(&js);
    hz_free(file_src);
    hz_free(env_key);
    hz_free(path);
}

static void test_flags_help(void **state) {
    (void)state;
    hz_buf_t b = HZ_BUF_INIT;
    hz_config_flags_help(&b);
    assert_non_null(strstr(b.data, "--config FILE"));
    for (size_t i = 0; i < config_nkeys; i++) {
        assert_non_null(strstr(b.data, config_keys[i].flag));
        if (config_keys[i].env) assert_non_null(strstr(b.data, config_keys[i].env));
    }
    assert_non_null(strstr(b.data, "[127.0.0.1:9550] (env NODE_API_LISTEN_ADDRESS)"));
    hz_buf_free(&b);
    assert_string_equal(hz_config_source_name(HZ_CONFIG_FILE), "file");
    assert_string_equal(hz_config_source_name(HZ_CONFIG_FLAG), "flag");
}

static void test_parse_listen(void **state) {
    (void)state;
    static const struct { const char *in, *host; int port; } good[] = {
        {"127.0.0.1:9550", "127.0.0.1", 9550},
        {"0.0.0.0:0", "0.0.0.0", 0},
        {"[::1]:9550", "::1", 9550},
        {"[::]:65535", "::", 65535},
        {"[fe80::1:2]:1", "fe80::1:2", 1},
        {"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80},
        {"localhost:8080", "localhost", 8080},
        {"node-1.example.com:443", "node-1.example.com", 443},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char host[64];
        int port = -1;
        if (hz_config_parse_listen(good[i].in, host, sizeof(host), &port) != 0)
            fail_msg("%s: %s", good[i].in, hz_error_last());
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const char *bad[] = {
        "", "127.0.0.1", "127.0.0.1:", ":9550", "::1:9550", "[::1]", "[::1]9550", "[::1:9550",
        "[]:80", "[1.2.3.4]:80", "[::g]:80", "256.0.0.1:80", "1.2.3:80", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:123456", "127.0.0.1:80x", "host_name:80",
        "-host:80", "host-:80", "a..b:80", "exa mple:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[64];
        int port;
        if (hz_config_parse_listen(bad[i], host, sizeof(host), &port) != HZ_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
    }
    char tiny[4];
    int port;
    assert_int_equal(hz_config_parse_listen("localhost:1", tiny, sizeof(tiny), &port), HZ_EINVAL);

    assert_true(hz_config_host_is_loopback("127.0.0.1"));
    assert_true(hz_config_host_is_loopback("127.255.0.9"));
    assert_true(hz_config_host_is_loopback("::1"));
    assert_true(hz_config_host_is_loopback("[::1]"));
    assert_true(hz_config_host_is_loopback("::ffff:127.0.0.1"));
    assert_true(hz_config_host_is_loopback("LocalHost"));
    assert_false(hz_config_host_is_loopback("0.0.0.0"));
    assert_false(hz_config_host_is_loopback("::"));
    assert_false(hz_config_host_is_loopback("128.0.0.1"));
    assert_false(hz_config_host_is_loopback("10.0.0.1"));
    assert_false(hz_config_host_is_loopback("example.com"));
    assert_false(hz_config_host_is_loopback("localhost.example.com"));
    assert_false(hz_config_host_is_loopback(""));
    assert_false(hz_config_host_is_loopback(NULL));
}

static void test_tilde_expansion(void **state) {
    fixture_t *f = *state;
    char *path = write_file(f, "hanzo.toml", "[storage]\npath = \"~/data/\"\ndatabase_url = \"sqlite://~/db/x.db?mode=rwc\"\n");
    char *argv[] = {"--config", path};
    hz_config_t cfg;
    assert_int_equal(load(&cfg, f, 2, argv, NULL), 0);
    char *want = hz_sprintf("%s/data/", f->dir);
    assert_string_equal(cfg.storage_path, want);
    hz_free(want);
    want = hz_sprintf("%s/db/x.db", f->dir);
    assert_string_equal(cfg.database_path, want);
    hz_free(want);
    want = hz_sprintf("sqlite://%s/db/x.db?mode=rwc", f->dir);
    assert_string_equal(cfg.database_url, want);
    hz_free(want);
    hz_config_free(&cfg);

    /* "~" alone, from a flag; a trailing slash does not double in the derived database path. */
    char *argv2[] = {"--storage-path", "~"};
    assert_int_equal(load(&cfg, f, 2, argv2, NULL), 0);
    assert_string_equal(cfg.storage_path, f->dir);
    want = hz_sprintf("%s/hanzo.db", f->dir);
    assert_string_equal(cfg.database_path, want);
    hz_free(want);
    hz_config_free(&cfg);
    char *argv3[] = {"--storage-path=/srv/hanzo/"};
    assert_int_equal(load(&cfg, f, 1, argv3, NULL), 0);
    assert_string_equal(cfg.database_path, "/srv/hanzo/hanzo.db");
    hz_config_free(&cfg);

    /* A home ending in '/' does not produce "//". */
    char *env_home[] = {"HOME=/home/u/", NULL};
    assert_int_equal(hz_config_load(&cfg, 1, (char *[]){"--storage-path=~/s"}, env_home), 0);
    assert_string_equal(cfg.storage_path, "/home/u/s");
    hz_config_free(&cfg);

    assert_int_equal(load(&cfg, f, 0, NULL, "NODE_STORAGE_PATH=~root/x", NULL), HZ_EINVAL);
    assert_string_equal(hz_error_last(), "NODE_STORAGE_PATH: \"~root/x\": only \"~\" and \"~/...\" are expanded, not ~user");
    hz_free(path);
}

static void test_load_buffer(void **state) {
    (void)state;
    hz_config_t cfg;
    char *env[] = {"HOME=/h", NULL};
    const char text[] = "[api]\nthreads = 2\n";
    assert_int_equal(config_load_buffer(&cfg, "buf.toml", text, sizeof(text) - 1, env), 0);
    assert_int_equal(cfg.http_threads, 2);
    assert_string_equal(cfg.database_path, "/h/.hanzo/storage/hanzo.db");
    assert_null(cfg.config_file);
    hz_config_free(&cfg);
    assert_int_equal(config_load_buffer(&cfg, "buf.toml", "x = [", 5, env), HZ_EPARSE);
    assert_true(hz_str_starts_with(hz_error_last(), "buf.toml:1:"));
    assert_null(cfg.priv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_file_location_and_hanzo_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flag_over_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_ascii_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_and_flag_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_masks_secrets, setup, teardown),
        cmocka_unit_test(test_flags_help),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test_setup_teardown(test_tilde_expansion, setup, teardown),
        cmocka_unit_test(test_load_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
