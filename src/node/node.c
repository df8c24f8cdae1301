/*
 * The daemon's lifecycle. Start order is the dependency order (storage, API key, HTTP); stop
 * is the reverse, and every step of a failed start is undone so a failed start leaves nothing
 * running. Signals are taken synchronously with sigwait in the main thread: all other threads
 * inherit a mask that blocks them, so no handler ever runs in the middle of a request.
 */
#include "node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hanzo/crypto.h"

static const char *MOD = "node";

/* Largest request body streamed to disk (artifact uploads); other bodies keep max_body_bytes. */
#define NODE_MAX_UPLOAD_BYTES ((uint64_t)256 << 30)

/* mkdir -p with mode 0700 for every component we create. */
static int make_dirs(const char *path) {
    char *p = hz_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) { rc = hz_error_errno(HZ_EIO, errno, "create %s", p); break; }
            *s = saved;
            if (!saved) break;
        }
    }
    hz_free(p);
    return rc;
}

static void write_address_file(hz_node_t *node, const char *host, int port) {
    node->address_file = hz_sprintf("%s/api_address", node->cfg->storage_path);
    FILE *f = fopen(node->address_file, "w");
    if (!f) { hz_log_warn(MOD, "cannot write %s: %s", node->address_file, strerror(errno)); return; }
    fprintf(f, strchr(host, ':') ? "[%s]:%d\n" : "%s:%d\n", host, port);
    fclose(f);
}

int hz_node_start(const hz_config_t *cfg, hz_node_t **out) {
    *out = NULL;
    char host[256];
    int port, rc;
    if ((rc = hz_config_parse_listen(cfg->api_listen, host, sizeof(host), &port)) != 0) return rc;
    if (!hz_config_host_is_loopback(host) && !(cfg->api_key && *cfg->api_key))
        return hz_error_set(HZ_EINVAL,
                            "refusing to listen on %s without a configured API key: set api.api_key "
                            "(HANZO_API_KEY) or listen on 127.0.0.1", cfg->api_listen);
    if ((rc = hz_crypto_init()) != 0) return rc;

    hz_node_t *node = hz_calloc(1, sizeof(*node));
    node->cfg = cfg;
    if ((rc = make_dirs(cfg->storage_path)) != 0) goto fail;

    hz_store_options_t sopts = {.wal = cfg->sqlite_wal, .busy_timeout_ms = 5000, .readers = 4};
    if ((rc = hz_store_open(cfg->database_path, &sopts, &node->store)) != 0) {
        hz_error_wrap(rc, "storage %s", cfg->database_path);
        goto fail;
    }
    char *artifacts_dir = hz_sprintf("%s/artifacts", cfg->storage_path);
    rc = hz_ai_store_open(artifacts_dir, &node->artifacts);
    hz_free(artifacts_dir);
    if (rc != 0) goto fail;
    if ((rc = node_api_key_setup(node, cfg)) != 0) { hz_error_wrap(rc, "API key"); goto fail; }
    if ((rc = node_models_start(node, cfg)) != 0) goto fail;
    if ((rc = node_gateway_start(node, cfg)) != 0) goto fail;
    /* Uploads stream into <storage>/tmp: private (0700), and on the artifact store's file system
     * so a verified upload is moved into the store by rename, not copied. */
    char *upload_dir = hz_sprintf("%s/tmp", cfg->storage_path);
    if ((rc = make_dirs(upload_dir)) != 0) { hz_free(upload_dir); goto fail; }

    hz_http_options_t hopts = {
        .host = host,
        .port = port,
        .threads = (int)cfg->http_threads,
        .max_body_bytes = (size_t)cfg->max_body_bytes,
        .request_timeout_s = (int)cfg->request_timeout_s,
        .cors_origins = (const char *const *)cfg->cors_origins,
        .auth = node_api_key_check,
        .auth_ctx = node,
        .upload_dir = upload_dir,
        .max_upload_bytes = NODE_MAX_UPLOAD_BYTES,
        .work_threads = (int)cfg->api_workers,
    };
    rc = hz_http_server_new(&hopts, &node->http);
    hz_free(upload_dir);
    if (rc != 0) goto fail;
    node->api.node_name = cfg->node_name;
    node->api.started_mono_ns = hz_time_mono_ns();
    node->api.http = node->http;
    node->api.artifacts = node->artifacts;
    node->api.llm = node->llm;
    node->api.store = node->store;
    node->api.gw = node->gw;
    node->api.providers = node->providers;
    node->api.limits = node->limits;
    if ((rc = hz_api_register(node->http, &node->api)) != 0) goto fail;
    int served = hz_api_register_artifact_models(&node->api);
    if (served) hz_log_info(MOD, "%d model(s) served from stored .ai artifacts", served);
    if ((rc = hz_http_server_start(node->http)) != 0) { hz_error_wrap(rc, "listen %s", cfg->api_listen); goto fail; }

    write_address_file(node, host, hz_http_server_port(node->http));
    hz_log_info(MOD, "hanzo %s node \"%s\" listening on http://%s%s%s:%d (storage %s)", HZ_VERSION,
                cfg->node_name, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
                hz_http_server_port(node->http), cfg->storage_path);
    *out = node;
    return 0;
fail:
    hz_node_stop(node);
    return rc;
}

int hz_node_port(hz_node_t *node) { return hz_http_server_port(node->http); }

const char *hz_node_new_api_key(hz_node_t *node) { return node->new_api_key; }

void hz_node_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A client that disconnects mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
}

int hz_node_wait_for_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            hz_log_info(MOD, "SIGHUP ignored (configuration reload is not supported; restart the node)");
            continue;
        }
        return sig;
    }
}

void hz_node_stop(hz_node_t *node) {
    if (!node) return;
    if (node->http) {
        int64_t t0 = hz_time_mono_ns();
        hz_http_server_shutdown(node->http, (int)node->cfg->shutdown_timeout_s * 1000);
        hz_log_info(MOD, "HTTP server stopped in %.0f ms", (double)(hz_time_mono_ns() - t0) / 1e6);
        hz_http_server_free(node->http);
    }
    if (node->address_file) {
        unlink(node->address_file);
        hz_free(node->address_file);
    }
    hz_gw_registry_close(node->providers);
    hz_gw_free(node->gw);
    hz_gw_limits_free(node->limits);
    if (node->llm) hz_llm_engine_free(node->llm);
    hz_store_close(node->store);
    hz_ai_store_close(node->artifacts);
    if (node->new_api_key) hz_secure_free(node->new_api_key, strlen(node->new_api_key) + 1);
    sodium_memzero(node->api_key_hash, sizeof(node->api_key_hash));
    hz_free(node);
}
