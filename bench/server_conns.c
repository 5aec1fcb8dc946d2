/*
 * server_conns: the client of the memory benchmark. Opens N connections
 * to 127.0.0.1:PORT, sends one request on each, reads each response, then
 * keeps them all open and idle until stdin reaches EOF or it is killed.
 *
 *   server_conns PORT N
 *
 * Prints "ready N" once every response is in (the server then holds N idle
 * keep-alive connections). Raises its RLIMIT_NOFILE to the hard limit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_http.h"

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int *fds = calloc((size_t)n, sizeof(*fds));
    char buf[256];

    server_raise_nofile();
    if (!fds)
        return 1;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 ||
            connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            fprintf(stderr, "server_conns: connection %d: %s\n", i,
                    strerror(errno));
            return 1;
        }
        if (send(fds[i], request, sizeof(request) - 1, MSG_NOSIGNAL) !=
            (ssize_t)sizeof(request) - 1) {
            fprintf(stderr, "server_conns: send %d failed\n", i);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        size_t got = 0;

        while (got < SERVER_RESPONSE_LEN) {
            ssize_t r = recv(fds[i], buf, sizeof(buf), 0);

            if (r <= 0) {
                fprintf(stderr, "server_conns: no response on %d\n", i);
                return 1;
            }
            got += (size_t)r;
        }
    }
    printf("ready %d\n", n);
    fflush(stdout);
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    return 0;
}
