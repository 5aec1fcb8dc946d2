/*
 * echo_server: sends back whatever each client sends, one lthread per
 * connection, on one scheduler.
 *
 *   echo_server [port [seconds]]
 *
 *   port     TCP port on 127.0.0.1 (default 7007)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * Try it with examples/echo_client.c, or:  nc 127.0.0.1 7007
 */
#include <errno.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often (ms) waiting lthreads look at the stop flag. */
#define POLL_MS 250

/* Set by SIGINT, SIGTERM or SIGALRM (the `seconds` limit). */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* One lthread per connection: what comes in goes back out. */
static void echo(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];

    (void)lt;
    lthread_detach();
    for (;;) {
        ssize_t n = lthread_recv(fd, buf, sizeof(buf), 0, POLL_MS);

        if (n == LTHREAD_TIMEOUT) {
            if (stopping)
                break;
            continue;
        }
        if (n <= 0) /* 0: the client closed; -1: an error */
            break;
        /* lthread_send() sends all n bytes, or fails. */
        if (lthread_send(fd, buf, (size_t)n, 0) < 0)
            break;
    }
    lthread_close(fd);
}

/*
 * Waits for a stop request, then closes the listening socket: the
 * listener's lthread_accept() then fails with EBADF and the listener ends.
 * Connection lthreads notice `stopping` themselves.
 */
static void stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_detach();
    while (!stopping)
        lthread_sleep(POLL_MS);
    lthread_close((int)(intptr_t)arg);
}

/* Listens on 127.0.0.1:port and starts an echo lthread per connection. */
static void listener(lthread_t *lt, void *arg)
{
    int port = (int)(intptr_t)arg;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    lthread_t *stop;
    int one = 1;
    int lsn;

    (void)lt;
    lthread_detach();
    lsn = lthread_socket(AF_INET, SOCK_STREAM, 0);
    if (lsn < 0) {
        perror("echo_server: socket");
        return;
    }
    setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lsn, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lsn, SOMAXCONN) < 0) {
        fprintf(stderr, "echo_server: port %d: %s\n", port, strerror(errno));
        lthread_close(lsn);
        exit(1);
    }
    if (lthread_create(&stop, stopper, (void *)(intptr_t)lsn)) {
        perror("echo_server: lthread_create");
        exit(1);
    }
    printf("echo_server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);

    for (;;) {
        /* Suspends this lthread (not the pthread) until a client comes. */
        int fd = lthread_accept(lsn, NULL, NULL);
        lthread_t *conn;

        if (fd < 0) {
            if (errno == EBADF) /* the stopper closed the socket: done */
                break;
            if (errno == EMFILE || errno == ENFILE)
                lthread_sleep(10); /* out of fds: let some clients finish */
            else if (errno != ECONNABORTED && errno != EINTR)
                perror("echo_server: accept");
            continue;
        }
        if (lthread_create(&conn, echo, (void *)(intptr_t)fd)) {
            perror("echo_server: lthread_create");
            lthread_close(fd);
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 7007;
    unsigned seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    lthread_t *lt;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s [port [seconds]]\n", argv[0]);
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (seconds)
        alarm(seconds);

    if (lthread_create(&lt, listener, (void *)(intptr_t)port)) {
        perror("echo_server: lthread_create");
        return 1;
    }
    lthread_run(); /* until the listener and every client are done */
    printf("echo_server: stopped\n");
    return 0;
}
