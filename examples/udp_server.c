/*
 * udp_server: answers each UDP datagram with "echo: " and the datagram,
 * sent back to whoever sent it. One lthread serves the socket.
 *
 *   udp_server [port [seconds]]
 *
 *   port     UDP port on 127.0.0.1 (default 7008)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * Try it with examples/udp_client.c, or:  nc -u 127.0.0.1 7008
 */
#include <errno.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often (ms) the server looks at the stop flag. */
#define POLL_MS 250

/* Set by SIGINT, SIGTERM or SIGALRM (the `seconds` limit). */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void server(lthread_t *lt, void *arg)
{
    int port = (int)(intptr_t)arg;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    static const char prefix[] = "echo: ";
    char reply[sizeof(prefix) - 1 + 2048];
    char *const data = reply + sizeof(prefix) - 1; /* datagram goes here */
    long answered = 0;
    int fd;

    (void)lt;
    fd = lthread_socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        fprintf(stderr, "udp_server: port %d: %s\n", port, strerror(errno));
        exit(1);
    }
    printf("udp_server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    memcpy(reply, prefix, sizeof(prefix) - 1);

    while (!stopping) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof(peer);
        /* Receive right after the prefix, so the reply is one buffer. */
        ssize_t n =
            lthread_recvfrom(fd, data, sizeof(reply) - (data - reply), 0,
                             (struct sockaddr *)&peer, &peerlen, POLL_MS);

        if (n < 0) /* LTHREAD_TIMEOUT: look at `stopping`; or an error */
            continue;
        if (lthread_sendto(fd, reply, (size_t)(data - reply) + (size_t)n, 0,
                           (struct sockaddr *)&peer, peerlen) < 0)
            perror("udp_server: sendto");
        else
            answered++;
    }
    lthread_close(fd);
    printf("udp_server: answered %ld datagrams\n", answered);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 7008;
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
    if (seconds)
        alarm(seconds);

    if (lthread_create(&lt, server, (void *)(intptr_t)port)) {
        perror("udp_server: lthread_create");
        return 1;
    }
    lthread_run();
    return 0;
}
