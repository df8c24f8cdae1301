/*
 * hanzo/node.h - the daemon: wires configuration, logging, storage, the API key, the HTTP
 * server and the routes together, and owns the process lifecycle (signals, graceful stop).
 * This is the only module allowed process-wide state.
 */
#ifndef HANZO_NODE_H
#define HANZO_NODE_H

#include "hanzo/config.h"

typedef struct hz_node hz_node_t;

/* Start everything described by cfg. On failure nothing is left running and the message says
 * what failed ("storage: ...", "listen 0.0.0.0:9550: ..."). Call hz_node_block_signals first
 * if the caller wants hz_node_wait_for_signal. */
int hz_node_start(const hz_config_t *cfg, hz_node_t **out);
/* The port actually bound (useful with port 0). */
int hz_node_port(hz_node_t *node);
/* A freshly generated API key to show the user once, or NULL (a key was configured or had
 * been generated on an earlier start). Owned by the node. */
const char *hz_node_new_api_key(hz_node_t *node);
/* Block SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it creates later,
 * so hz_node_wait_for_signal can take them synchronously. Call before hz_node_start. */
void hz_node_block_signals(void);
/* Wait for SIGTERM or SIGINT; returns the signal number. */
int hz_node_wait_for_signal(void);
/* Stop accepting, drain in-flight requests up to the configured deadline, close the store. */
void hz_node_stop(hz_node_t *node);

/* API keys: the node keeps only BLAKE3(key). Exposed for tests. */
#define HZ_API_KEY_PREFIX "hzk_"
/* Generate a new random key string ("hzk_" + 64 hex chars), owned by the caller. */
char *hz_node_api_key_generate(void);

#endif
