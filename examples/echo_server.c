/*
 * echo_server: sends back whatever each client sends, one lthread per
 * connection, on one scheduler.
 *
 *   echo_server [port [seconds]]
 *
 *   port     TCP port on 127.0.0.1 (default 7007; 0: any free port, named
 *            by the "listening on" line)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * Stopping: the signal handler writes a byte to a pipe, and a stopper
 * lthread waiting for that pipe to become readable ends the listener and
 * every connection (lthread_destroy() stops an lthread wherever it waits),
 * then closes their sockets. Nothing wakes up before that, however many
 * connections are idle, and a client that stops reading holds nothing up.
 *
 * Try it with examples/echo_client.c, or:  nc 127.0.0.1 7007
 */
#include <errno.h>
#include <fcntl.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* A client that stops reading while we send to it is dropped after this
 * long: lthread_send() honours the socket's SO_SNDTIMEO. */
#define SEND_TIMEOUT_S 10

/* A stop request (SIGINT, SIGTERM, or SIGALRM after `seconds`) is a byte
 * written to stop_pipe[1]; the stopper waits for stop_pipe[0]. */
static int stop_pipe[2];

/* One open connection, on the list the stopper ends. Heap memory: the
 * listener, the stopper and the connection's own lthread all use it. */
struct conn {
    lthread_t *lt;
    int fd;
    struct conn *prev, *next;
};

/* All lthreads run on one scheduler (one pthread): no lock is needed. */
static int listen_fd;
static lthread_t *listener_lt;
static struct conn *conns; /* the open connections */

static void on_signal(int sig)
{
    int saved_errno = errno; /* a handler must leave errno as it was */

    (void)sig;
    /* write(2) is async-signal-safe. The pipe is non-blocking: if it is
     * full, a stop request is waiting already and this one is dropped. */
    if (write(stop_pipe[1], "", 1) < 0) {
        /* nothing to do */
    }
    errno = saved_errno;
}

/* Unlinks a connection, closes its socket and frees it. */
static void conn_close(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lthread_close(c->fd);
    free(c);
}

/* One lthread per connection: what comes in goes back out. */
static void echo(lthread_t *lt, void *arg)
{
    struct conn *c = arg;
    char buf[4096];
    ssize_t n;

    (void)lt;
    lthread_detach();
    /* No timeout: an idle client costs nothing until it sends. n is 0
     * when the client closed, -1 on an error. */
    while ((n = lthread_recv(c->fd, buf, sizeof(buf), 0, 0)) > 0) {
        /* Sends all n bytes, or fails: -1 on an error, -2 when the client
         * read nothing for SEND_TIMEOUT_S seconds. Either way, drop it. */
        if (lthread_send(c->fd, buf, (size_t)n, 0) < 0)
            break;
    }
    conn_close(c);
}

/* Starts an echo lthread for a new connection. */
static void conn_open(int fd)
{
    struct timeval send_timeout = {.tv_sec = SEND_TIMEOUT_S};
    struct conn *c = calloc(1, sizeof(*c));

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    if (c)
        c->fd = fd;
    if (!c || lthread_create(&c->lt, echo, c) != 0) {
        perror("echo_server: new connection");
        free(c);
        lthread_close(fd);
        return;
    }
    /* The new lthread runs once this one waits: it is on the list then. */
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
}

/* Accepts connections until the stopper ends it. */
static void listener(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    for (;;) {
        /* Suspends this lthread (not the pthread) until a client comes. */
        int fd = lthread_accept(listen_fd, NULL, NULL);

        if (fd < 0) {
            /* Out of fds (let some clients finish) or another failure:
             * wait a little, then accept again. */
            if (errno != EMFILE && errno != ENFILE)
                perror("echo_server: accept");
            lthread_sleep(10);
            continue;
        }
        conn_open(fd);
    }
}

/* Waits for a stop request, then ends the listener and every connection
 * where they wait, and closes their sockets: lthread_run() then returns. */
static void stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("echo_server: waiting for a stop request");
    lthread_destroy(listener_lt);
    lthread_close(listen_fd);
    while (conns) {
        lthread_destroy(conns->lt);
        conn_close(conns);
    }
}

/* A listening socket on 127.0.0.1:port; *port becomes the port it got. */
static int open_listener(int *port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)*port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sin);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 7007;
    unsigned seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    lthread_t *stop;

    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [port [seconds]]\n", argv[0]);
        return 2;
    }
    /* The pipe first: the handler may run as soon as it is installed. */
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("echo_server: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    listen_fd = open_listener(&port);
    if (listen_fd < 0) {
        fprintf(stderr, "echo_server: port %d: %s\n", port, strerror(errno));
        return 1;
    }
    if (lthread_create(&listener_lt, listener, NULL) ||
        lthread_create(&stop, stopper, NULL)) {
        perror("echo_server: lthread_create");
        return 1;
    }
    printf("echo_server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    if (seconds)
        alarm(seconds);

    lthread_run(); /* until the stopper has ended everything */
    printf("echo_server: stopped\n");
    return 0;
}
