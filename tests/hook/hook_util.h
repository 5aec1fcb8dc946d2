/* Shared by the hook library's tests: a ticker lthread that proves the
 * scheduler keeps running while another lthread waits in a hooked call,
 * and a TCP pair on loopback. */
#ifndef LTHREAD_TEST_HOOK_UTIL_H
#define LTHREAD_TEST_HOOK_UTIL_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lthread.h>

#include "check.h"

/* Ticks every ms until *stop; counts in *ticks. */
struct ticker {
    volatile int stop;
    volatile long ticks;
};

static void ticker_run(void *arg)
{
    struct ticker *t = arg;

    while (!t->stop) {
        lthread_sleep(1);
        t->ticks++;
    }
}

static inline void ticker_start(struct ticker *t)
{
    lthread_t *lt;

    t->stop = 0;
    t->ticks = 0;
    CHECK(lthread_create(&lt, ticker_run, t) == 0);
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel; made
 * with plain calls (through the hooks when in an lthread). */
static inline int tcp_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* A blocking connect() to 127.0.0.1:port. */
static inline int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}
#endif
