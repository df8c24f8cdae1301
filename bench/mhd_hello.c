/*
 * The reference for the HTTP benchmark: the smallest useful libmicrohttpd server, configured
 * like the node (epoll, internal thread pool of the same size), answering GET /health with a
 * fixed JSON body. Whatever the node adds on top of this (routing, request ids, auth checks,
 * metrics) is what the benchmark ratio measures.
 *
 *   mhd_hello PORT THREADS
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"status\":\"ok\"}";

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **req_cls) {
    (void)cls; (void)version; (void)upload_data; (void)upload_size;
    if (*req_cls == NULL) { *req_cls = (void *)1; return MHD_YES; }
    int ok = strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0;
    struct MHD_Response *res = MHD_create_response_from_buffer(
        ok ? sizeof(body) - 1 : 0, ok ? (void *)body : (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(res, "Content-Type", "application/json");
    enum MHD_Result r = MHD_queue_response(conn, ok ? 200 : 404, res);
    MHD_destroy_response(res);
    return r;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: mhd_hello PORT THREADS\n"); return 2; }
    int port = atoi(argv[1]), threads = atoi(argv[2]);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, 0, NULL, NULL, handle, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_END);
    if (!d) { perror("mhd_hello: start"); return 1; }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    while (!stop) pause();
    MHD_stop_daemon(d);
    return 0;
}
