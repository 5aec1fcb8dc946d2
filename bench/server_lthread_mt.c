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
 *
 * The listening sockets are made with lthread_socket() (by each
 * scheduler's pthread, before its lthread_run()), as server_lthread.c's:
 * the library then knows them for TCP, and so the connections they accept,
 * whose plain recv() that comes back short parks the next one at once (one
 * recv per request). A listener made with plain socket() does not pass
 * that on (measured here: 2 recvfrom and 1 epoll_ctl per request instead
 * of 1 and 0).
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
    int lsn = *(int *)arg; /* set before lthread_run(), so before this runs */
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

static int port;
static pthread_barrier_t listening; /* every listener, and main */

static int listen_on(void)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1;
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0);

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

static void *scheduler(void *arg)
{
    lthread_t *lt;
    int lsn;

    (void)arg;
    /* The lthread first: it makes this pthread's scheduler, whose fd table
     * lthread_socket() then fills in. */
    if (lthread_create(&lt, listener, &lsn) != 0) {
        perror("server_lthread_mt: lthread_create");
        exit(1);
    }
    lsn = listen_on();
    pthread_barrier_wait(&listening);
    lthread_run();
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t tid;

    if (n < 1 || n > MAX_SCHEDULERS) {
        fprintf(stderr, "server_lthread_mt: SCHEDULERS must be 1 to %d\n",
                MAX_SCHEDULERS);
        return 2;
    }
    port = argc > 1 ? atoi(argv[1]) : 8080;
    server_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    pthread_barrier_init(&listening, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        if (pthread_create(&tid, NULL, scheduler, NULL)) {
            perror("server_lthread_mt: pthread_create");
            return 1;
        }
    pthread_barrier_wait(&listening);
    printf("server_lthread_mt: listening on 127.0.0.1:%d, %d schedulers\n",
           port, n);
    fflush(stdout);
    pthread_join(tid, NULL); /* never: the schedulers run until killed */
    return 0;
}
