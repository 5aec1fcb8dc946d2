/*
 * server_lthread: the keep-alive "hello" server of the benchmarks on
 * lthread, one scheduler: a listener lthread accepts, one lthread per
 * connection receives, counts the complete requests and sends one response
 * per request (the same logic as server_epoll.c and server_st.c).
 *
 *   server_lthread PORT
 *
 * The handler's buffer is on its stack, so the stack that an idle
 * connection keeps is the handler's live stack at lthread_recv(). No
 * timeouts: the other servers have none either. Runs until killed.
 */
#include <errno.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "server_http.h"

/* The last connection lthread started: a handle for a debugger to walk
 * the scheduler's lthreads and read their saved stack sizes
 * (bench/server_run.sh does, for the memory figure). */
lthread_t *volatile server_last_conn;

static void handler(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[SERVER_BUF];
    int matched = 0;

    server_last_conn = lt;
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
    int port = (int)(intptr_t)arg;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    lthread_attr_t detached;
    int one = 1;
    int lsn = lthread_socket(AF_INET, SOCK_STREAM, 0);

    (void)lt;
    if (lsn < 0 ||
        setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lsn, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lsn, SOMAXCONN) < 0) {
        perror("server_lthread: listen");
        exit(1);
    }
    printf("server_lthread: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
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

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    lthread_t *lt;

    server_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (lthread_create(&lt, listener, (void *)(intptr_t)port) != 0) {
        perror("server_lthread: lthread_create");
        return 1;
    }
    lthread_run();
    return 0;
}
