/*
 * server_lthread_mt: server_lthread.c on N schedulers, for the scaling
 * benchmark (bench/scale_run.sh), as examples/hello_server.c: each pthread
 * runs its own scheduler with its own listening socket on the same port
 * (SO_REUSEPORT: the kernel spreads the connections over them), a listener
 * lthread accepting and one detached lthread per connection. The
 * schedulers share nothing.
 *
 *   server_lthread_mt PORT SCHEDULERS
 *
 * The handler is server_lthread.c's: receive, count the complete
 * requests, one response per request; no timeouts. Runs until killed.
 */
#include <errno.h>
#include <lthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "server_http.h"

#define MAX_SCHEDULERS 256

static void handler(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[SERVER_BUF];
    int matched = 0;

    (void)lt;
    for (;;) {
        ssize_t n = lthread_recv(fd, buf, sizeof(buf), 0, 0);

        if (n <= 0)
            break;
        for (int k = server_count_requests(buf, (size_t)n, &matched); k > 0;
             k--)
            if (lthread_send(fd, server_response, SERVER_RESPONSE_LEN, 0) < 0)
                goto out;
    }
out:
    lthread_close(fd);
}

static void listener(lthread_t *lt, void *arg)
{
    int lsn = (int)(intptr_t)arg;
    lthread_attr_t detached;

    (void)lt;
    lthread_attr_init(&detached);
    detached.flags = LTHREAD_ATTR_DETACHED;
    for (;;) {
        int fd = lthread_accept(lsn, NULL, NULL);
        lthread_t *conn;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                lthread_sleep(1);
            continue;
        }
        if (lthread_create_ex(&conn, handler, (void *)(intptr_t)fd,
                              &detached) != 0)
            lthread_close(fd);
    }
}

static void *scheduler(void *arg)
{
    lthread_t *lt;

    if (lthread_create(&lt, listener, arg) != 0) {
        perror("server_lthread_mt: lthread_create");
        exit(1);
    }
    lthread_run();
    return NULL;
}

static int listen_on(int port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        perror("server_lthread_mt: listen");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int n = argc > 2 ? atoi(argv[2]) : 1;
    int lsn[MAX_SCHEDULERS];
    pthread_t tid;

    if (n < 1 || n > MAX_SCHEDULERS) {
        fprintf(stderr, "server_lthread_mt: SCHEDULERS must be 1 to %d\n",
                MAX_SCHEDULERS);
        return 2;
    }
    server_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    /* All listeners before the first accept: none misses its share. */
    for (int i = 0; i < n; i++)
        lsn[i] = listen_on(port);
    for (int i = 1; i < n; i++)
        if (pthread_create(&tid, NULL, scheduler, (void *)(intptr_t)lsn[i])) {
            perror("server_lthread_mt: pthread_create");
            return 1;
        }
    printf("server_lthread_mt: listening on 127.0.0.1:%d, %d schedulers\n",
           port, n);
    fflush(stdout);
    scheduler((void *)(intptr_t)lsn[0]);
    return 0;
}
