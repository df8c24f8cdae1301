/*
 * hanzo/config.h - the node's effective configuration.
 *
 * Every setting has one entry in a table (src/config/keys.c): its TOML key, its environment
 * variable, its command-line flag, its type, its default and whether it is a secret. Values
 * are resolved with the precedence flag > environment > hanzo.toml > default, and each value
 * remembers where it came from so `hanzo config show` can say so.
 *
 * TOML layout (every key optional):
 *
 *   node_name = "hanzo-node"
 *   models_dir = "~/.hanzo/models"   # HANZO_MODELS_DIR          --models-dir
 *   [api]
 *   listen = "127.0.0.1:9550"        # NODE_API_LISTEN_ADDRESS   --api-listen
 *   ws_listen = ""                   # NODE_WS_LISTEN_ADDRESS    --ws-listen
 *   api_key = ""                     # HANZO_API_KEY             --api-key      (secret)
 *   cors_origins = []                # HANZO_CORS_ORIGINS (comma separated)
 *   max_body_bytes = 16777216        # HANZO_MAX_BODY_BYTES
 *   request_timeout_s = 300          # HANZO_REQUEST_TIMEOUT
 *   threads = 0                      # HANZO_HTTP_THREADS (0 = number of cores)
 *   shutdown_timeout_s = 5           # HANZO_SHUTDOWN_TIMEOUT
 *   [storage]
 *   path = "~/.hanzo/storage"        # NODE_STORAGE_PATH         --storage-path
 *   database_url = ""                # DATABASE_URL (sqlite://PATH; default PATH/hanzo.db)
 *   sqlite_wal = true                # SQLITE_ENABLE_WAL
 *   [llm]
 *   ollama_dir = ""                  # OLLAMA_MODELS (unset: ~/.ollama/models)
 *   ctx = 0                          # HANZO_LLM_CTX (0: the model's, at most 4096)
 *   parallel = 4                     # HANZO_LLM_PARALLEL
 *   threads = 0                      # HANZO_LLM_THREADS (0: all cores)
 *   queue_max = 16                   # HANZO_LLM_QUEUE
 *   keep_alive_s = 300               # HANZO_KEEP_ALIVE (-1: never unload)
 *   memory_budget_mb = 0             # HANZO_LLM_MEMORY_MB (0: unlimited)
 *   [log]
 *   level = "info"                   # HANZO_LOG (RUST_LOG-style: "warn,http=debug")
 *   format = "text"                  # HANZO_LOG_FORMAT          --log-format
 *
 * The file is `--config PATH`, else $HANZO_CONFIG, else ~/.hanzo/hanzo.toml when it exists.
 */
#ifndef HANZO_CONFIG_H
#define HANZO_CONFIG_H

#include "hanzo/base.h"

typedef enum {
    HZ_CONFIG_DEFAULT = 0,
    HZ_CONFIG_FILE,
    HZ_CONFIG_ENV,
    HZ_CONFIG_FLAG,
} hz_config_source_t;

typedef struct hz_config {
    char *node_name;
    /* [api] */
    char *api_listen;          /* "host:port"; IPv6 as "[::1]:9550" */
    char *ws_listen;           /* NULL or "": WebSocket served on the API listener */
    char *api_key;             /* secret; NULL: the node generates and keeps its own */
    char **cors_origins;       /* NULL-terminated; empty: CORS off */
    int64_t max_body_bytes;
    int64_t request_timeout_s;
    int64_t http_threads;      /* 0: one per core */
    int64_t api_workers;       /* threads for deferred work (model calls, upload checks) */
    int64_t requests_per_minute; /* per API key on /v1; 0: unlimited */
    int64_t tokens_per_minute;
    int64_t shutdown_timeout_s;
    /* [storage] */
    char *storage_path;        /* "~" already expanded */
    char *database_url;        /* always set after load: "sqlite://<path>" */
    char *database_path;       /* the file part of database_url */
    bool sqlite_wal;
    /* models */
    char *models_dir;          /* "~" expanded */
    /* [llm] */
    char *ollama_dir;          /* NULL: ~/.ollama/models */
    int64_t llm_ctx;
    int64_t llm_parallel;
    int64_t llm_threads;
    int64_t llm_queue_max;
    int64_t llm_keep_alive_s;  /* -1: never unload */
    int64_t llm_memory_budget_mb;
    /* [log] */
    char *log_level;
    char *log_format;          /* "text" or "json" */

    char *config_file;         /* the file that was read, or NULL */
    void *priv;                /* per-key sources; private to src/config */
} hz_config_t;

/* Resolve the configuration. `argv` holds only the flags (argv[0] is the first flag, not the
 * program name); flags not known to the config are an error naming the flag. `env` is an
 * environ-style array (NULL: the process environment). On error returns HZ_EINVAL/HZ_EPARSE
 * and the message names the source: "hanzo.toml:4:9: api.listen: expected a string",
 * "NODE_API_LISTEN_ADDRESS: ...", "--api-listen: ..."; a config file that cannot be read gives
 * HZ_ENOTFOUND, HZ_EIO or HZ_ETOOBIG (over 1 MiB). An empty environment variable counts as
 * unset. The caller frees with hz_config_free; on error cfg is already emptied (freeing it
 * again is harmless). */
int hz_config_load(hz_config_t *cfg, int argc, char **argv, char **env);
void hz_config_free(hz_config_t *cfg);

/* Where the value of `key` ("api.listen", "storage.path", ...) came from; HZ_CONFIG_DEFAULT
 * for a key the table does not know. */
hz_config_source_t hz_config_source(const hz_config_t *cfg, const char *key);
const char *hz_config_source_name(hz_config_source_t src);

/* Render the effective configuration with the source of each value, secrets masked:
 * as aligned text for people, or as a JSON object {key: {value, source}} when json is true. */
void hz_config_render(const hz_config_t *cfg, bool json, hz_buf_t *out);

/* One line per flag for --help: "  --api-listen ADDR   ... (env NODE_API_LISTEN_ADDRESS)". */
void hz_config_flags_help(hz_buf_t *out);

/* Split "host:port" / "[v6]:port"; host is written without brackets. The host is required
 * (0.0.0.0 for every interface), the port is 0-65535. host and port may be NULL to only
 * validate. HZ_EINVAL with the reason otherwise. */
int hz_config_parse_listen(const char *listen, char *host, size_t host_len, int *port);
/* True when host is a loopback address (127.0.0.0/8, ::1, localhost). */
bool hz_config_host_is_loopback(const char *host);

#endif
