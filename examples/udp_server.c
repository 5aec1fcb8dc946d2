/*
 * udp_server: answers each UDP datagram with "echo: " and the datagram,
 * sent back to whoever sent it. One lthread serves the socket.
 *
 *   udp_server [port [seconds]]
 *
 *   port     UDP port on 127.0.0.1 (default 7008; 0: any free port, named
 *            by the "listening on" line)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * Stopping: the signal handler writes a byte to a pipe; a stopper lthread
 * waiting for that pipe ends the server lthread where it waits and closes
 * the socket. The server never wakes up for nothing in between.
 *
 * Try it with examples/udp_client.c, or:  nc -u 127.0.0.1 7008
 */
#include <errno.h>
#include <fcntl.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A stop request (SIGINT, SIGTERM, or SIGALRM after `seconds`) is a byte
 * written to stop_pipe[1]; the stopper waits for stop_pipe[0]. */
static int stop_pipe[2];

/* Both lthreads run on one scheduler (one pthread): no lock is needed. */
static int sock;
static lthread_t *server_lt;
static long answered;

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

static void server(lthread_t *lt, void *arg)
{
    static const char prefix[] = "echo: ";
    char reply[sizeof(prefix) - 1 + 2048];
    char *const data = reply + sizeof(prefix) - 1; /* datagram goes here */

    (void)lt;
    (void)arg;
    lthread_detach();
    memcpy(reply, prefix, sizeof(prefix) - 1);
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof(peer);
        /* Receive right after the prefix, so the reply is one buffer. No
         * timeout: the stopper ends this lthread where it waits. */
        ssize_t n = lthread_recvfrom(sock, data, sizeof(reply) - (data - reply),
                                     0, (struct sockaddr *)&peer, &peerlen, 0);

        if (n < 0) /* a datagram that could not be read: wait for the next */
            continue;
        if (lthread_sendto(sock, reply, (size_t)(data - reply) + (size_t)n, 0,
                           (struct sockaddr *)&peer, peerlen) < 0)
            perror("udp_server: sendto");
        else
            answered++;
    }
}

/* Waits for a stop request, then ends the server where it waits and
 * closes the socket: lthread_run() then returns. */
static void stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("udp_server: waiting for a stop request");
    lthread_destroy(server_lt);
    lthread_close(sock);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 7008;
    unsigned seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sin);
    lthread_t *stop;

    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [port [seconds]]\n", argv[0]);
        return 2;
    }
    /* The pipe first: the handler may run as soon as it is installed. */
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("udp_server: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);

    sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(sock, (struct sockaddr *)&sin, &len) < 0) {
        fprintf(stderr, "udp_server: port %d: %s\n", port, strerror(errno));
        return 1;
    }
    if (lthread_create(&server_lt, server, NULL) ||
        lthread_create(&stop, stopper, NULL)) {
        perror("udp_server: lthread_create");
        return 1;
    }
    printf("udp_server: listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    fflush(stdout);
    if (seconds)
        alarm(seconds);

    lthread_run(); /* until the stopper has ended the server */
    printf("udp_server: answered %ld datagrams\n", answered);
    return 0;
}
