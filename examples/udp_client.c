/*
 * udp_client: sends a few datagrams to a UDP server and prints each reply.
 *
 *   udp_client [port [count]]
 *
 *   port   the server's UDP port on 127.0.0.1 (default 7008)
 *   count  datagrams to send (default 5)
 *
 * UDP may lose datagrams: each one is waited for at most a second. Exits 0
 * only if every datagram got a reply.
 */
#include <lthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define REPLY_TIMEOUT_MS 1000

static int port = 7008;
static int count = 5;
static int replies;

static void client(lthread_t *lt, void *arg)
{
    struct sockaddr_in server = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = lthread_socket(AF_INET, SOCK_DGRAM, 0);

    (void)lt;
    (void)arg;
    if (fd < 0) {
        perror("udp_client: socket");
        return;
    }
    for (int i = 0; i < count; i++) {
        char msg[32], reply[2048];
        int len = snprintf(msg, sizeof(msg), "ping %d", i);
        ssize_t n;

        if (lthread_sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&server,
                           sizeof(server)) < 0) {
            perror("udp_client: sendto");
            break;
        }
        /* Only the server's address is of interest: no address asked. */
        n = lthread_recvfrom(fd, reply, sizeof(reply), 0, NULL, NULL,
                             REPLY_TIMEOUT_MS);
        if (n == LTHREAD_TIMEOUT) {
            printf("no reply to \"%s\"\n", msg);
            continue;
        }
        if (n < 0) {
            perror("udp_client: recvfrom");
            break;
        }
        printf("reply: %.*s\n", (int)n, reply);
        replies++;
    }
    lthread_close(fd);
}

int main(int argc, char **argv)
{
    lthread_t *lt;

    if (argc > 1)
        port = atoi(argv[1]);
    if (argc > 2)
        count = atoi(argv[2]);
    if (port <= 0 || port > 65535 || count < 0) {
        fprintf(stderr, "usage: %s [port [count]]\n", argv[0]);
        return 2;
    }
    if (lthread_create(&lt, client, NULL)) {
        perror("udp_client: lthread_create");
        return 1;
    }
    lthread_run();
    printf("udp_client: %d of %d datagrams answered\n", replies, count);
    return replies == count ? 0 : 1;
}
