/*
 * echo_client: opens several connections to an echo server at once, one
 * lthread each, sends messages on each and checks that every one comes
 * back unchanged.
 *
 *   echo_client [port [connections [messages]]]
 *
 *   port         the echo server's TCP port on 127.0.0.1 (default 7007)
 *   connections  simultaneous connections (default 4)
 *   messages     messages sent on each connection (default 10)
 *
 * Prints the first reply and a summary; exits 0 only if every message was
 * echoed correctly.
 */
#include <lthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Give up on a connect or a reply after this many ms. */
#define TIMEOUT_MS 5000

static int port = 7007;
static int messages = 10;
/* Counters shared by the client lthreads: all run on one scheduler (one
 * pthread), so no lock is needed. */
static int echoed, failed;

/* Receives exactly len bytes, or fails. */
static int recv_all(int fd, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = lthread_recv(fd, buf + got, len - got, 0, TIMEOUT_MS);

        if (n <= 0) /* closed (0), error (-1) or timeout (-2) */
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* One connection: send each message, wait for it to come back, compare. */
static void client(lthread_t *lt, void *arg)
{
    int id = (int)(intptr_t)arg;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0);

    (void)lt;
    lthread_detach();
    if (fd < 0 || lthread_connect(fd, (struct sockaddr *)&sin, sizeof(sin),
                                  TIMEOUT_MS) != 0) {
        perror("echo_client: connect");
        failed += messages;
        if (fd >= 0)
            lthread_close(fd);
        return;
    }
    for (int i = 0; i < messages; i++) {
        char msg[64], reply[64];
        int len =
            snprintf(msg, sizeof(msg), "message %d from client %d\n", i, id);

        if (lthread_send(fd, msg, (size_t)len, 0) != len ||
            recv_all(fd, reply, (size_t)len) != 0) {
            fprintf(stderr, "echo_client: client %d: no echo for message %d\n",
                    id, i);
            failed += messages - i;
            break;
        }
        if (memcmp(msg, reply, (size_t)len) != 0) {
            fprintf(stderr, "echo_client: client %d: wrong echo\n", id);
            failed++;
            continue;
        }
        if (echoed++ == 0)
            printf("first reply: %.*s", len, reply);
    }
    lthread_close(fd);
}

int main(int argc, char **argv)
{
    int connections = argc > 2 ? atoi(argv[2]) : 4;

    if (argc > 1)
        port = atoi(argv[1]);
    if (argc > 3)
        messages = atoi(argv[3]);
    if (port <= 0 || port > 65535 || connections < 1 || messages < 0) {
        fprintf(stderr, "usage: %s [port [connections [messages]]]\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < connections; i++) {
        lthread_t *lt;

        if (lthread_create(&lt, client, (void *)(intptr_t)i)) {
            perror("echo_client: lthread_create");
            return 1;
        }
    }
    lthread_run(); /* all the clients run concurrently until they finish */
    printf("echo_client: %d connections, %d messages echoed, %d failed\n",
           connections, echoed, failed);
    return failed == 0 && echoed == connections * messages ? 0 : 1;
}
