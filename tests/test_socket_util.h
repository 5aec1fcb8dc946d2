/* Helpers shared by the socket tests: loopback listeners and connected
 * pairs over IPv4, IPv6 and Unix-domain sockets, and a data pattern. */
#ifndef LTHREAD_TEST_SOCKET_UTIL_H
#define LTHREAD_TEST_SOCKET_UTIL_H
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "lthread.h"

/* The address families a test runs over. */
static const int util_families[] = {AF_INET, AF_INET6, AF_UNIX};
static inline const char *util_family_name(int family)
{
    return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "unix";
}

struct util_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* A loopback address of `family`: port 0 (the kernel picks) for IP, a
 * fresh path under /tmp for Unix sockets. */
static inline void util_addr_init(struct util_addr *a, int family)
{
    static int seq;

    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;

        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->len = sizeof(*in);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        a->len = sizeof(*in6);
    } else {
        struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "/tmp/lthread-t%d-%d",
                 (int)getpid(), seq++);
        unlink(un->sun_path);
        a->len = sizeof(*un);
    }
}

/* Removes a Unix socket's path (no-op for IP). */
static inline void util_addr_cleanup(const struct util_addr *a)
{
    if (a->ss.ss_family == AF_UNIX)
        unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
}

/* Inside an lthread: a bound socket of family/type (listening if stream,
 * with `backlog`); *a receives its address. Returns the fd or -1. */
static inline int util_bind(int family, int type, int backlog,
                            struct util_addr *a)
{
    int fd, one = 1;

    util_addr_init(a, family);
    fd = lthread_socket(family, type, 0);
    if (fd < 0)
        return -1;
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 ||
        (type == SOCK_STREAM && listen(fd, backlog) < 0)) {
        close(fd);
        return -1;
    }
    a->len = sizeof(a->ss);
    getsockname(fd, (struct sockaddr *)&a->ss, &a->len);
    return fd;
}

/* Inside an lthread: a connected stream pair over family (connect then
 * accept). Returns 0 or -1. */
static inline int util_pair(int family, int *client, int *server)
{
    struct util_addr a;
    int lfd = util_bind(family, SOCK_STREAM, 16, &a);
    int c;

    if (lfd < 0)
        return -1;
    c = lthread_socket(family, SOCK_STREAM, 0);
    if (c < 0 || lthread_connect(c, (struct sockaddr *)&a.ss, a.len, 2000)) {
        lthread_close(lfd);
        return -1;
    }
    *server = lthread_accept(lfd, NULL, NULL);
    lthread_close(lfd);
    util_addr_cleanup(&a);
    if (*server < 0) {
        lthread_close(c);
        return -1;
    }
    *client = c;
    return 0;
}

/* The byte at offset i of a test stream seeded with `seed`. */
static inline unsigned char util_pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u >> 13) ^ seed ^ (i >> 16));
}

static inline void util_fill(unsigned char *buf, size_t len, size_t from,
                             unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = util_pattern(from + i, seed);
}

/* True if buf holds the pattern at [from, from + len). */
static inline int util_verify(const unsigned char *buf, size_t len, size_t from,
                              unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != util_pattern(from + i, seed))
            return 0;
    return 1;
}

/* Runs fn(arg) as the only lthread of a fresh scheduler and returns when
 * every lthread it made is done. */
static inline void util_run(lthread_func fn, void *arg)
{
    lthread_t *lt;

    CHECK(lthread_create(&lt, fn, arg) == 0);
    CHECK(lthread_run() == 0);
}

/* Any SIGPIPE fails the test loudly instead of killing it silently. */
static void util_sigpipe_handler(int sig)
{
    (void)sig;
    static const char msg[] = "SIGPIPE raised\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(3);
}

static inline void util_trap_sigpipe(void)
{
    signal(SIGPIPE, util_sigpipe_handler);
}
#endif
