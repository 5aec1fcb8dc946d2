/*
 * server_epoll: the baseline of the server benchmarks, a hand-written epoll
 * loop doing what server_lthread.c and server_st.c do: keep-alive
 * connections, count the complete requests ("\r\n\r\n") in what arrives,
 * send one response per request.
 *
 *   server_epoll PORT
 *
 * Level-triggered, non-blocking, one thread. Per ready connection: one
 * recv() (level-triggered: whatever is left is reported again), then one
 * send() per complete request. The only per-connection state is how much
 * of a request terminator ended the previous read; the read buffer is
 * shared, since every read is handled before the next one. A response is
 * 77 bytes and wrk reads each before it sends the next request, so a send
 * never meets a full socket buffer; if one ever did, the connection is
 * closed (counted, and printed at exit) rather than queued.
 * Runs until killed.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_http.h"

#define MAX_EVENTS 256

/* Indexed by fd: how many bytes of "\r\n\r\n" the last read ended with. */
static int *matched;
static int nmatched;
static long short_sends;

static void on_term(int sig)
{
    (void)sig;
    if (short_sends) {
        static const char msg[] = "server_epoll: short sends closed conns\n";
        (void)!write(2, msg, sizeof(msg) - 1);
    }
    _exit(0);
}

static int listen_on(int port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        perror("server_epoll: listen");
        exit(1);
    }
    return fd;
}

/* Accepts every pending connection and watches it for input. */
static void accept_all(int ep, int lsn)
{
    for (;;) {
        int fd = accept4(lsn, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};

        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            perror("server_epoll: accept");
            return;
        }
        if (fd >= nmatched) {
            int n = nmatched ? nmatched : 1024;
            int *bigger;

            while (n <= fd)
                n *= 2;
            bigger = realloc(matched, (size_t)n * sizeof(*matched));
            if (!bigger) {
                close(fd);
                continue;
            }
            matched = bigger;
            nmatched = n;
        }
        matched[fd] = 0;
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
    }
}

/* One read on a ready connection, one send per complete request. */
static void serve(int fd)
{
    static char buf[SERVER_BUF];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(fd); /* also removes it from the epoll set */
        return;
    }
    for (int k = server_count_requests(buf, (size_t)n, &matched[fd]); k > 0;
         k--) {
        if (send(fd, server_response, SERVER_RESPONSE_LEN, MSG_NOSIGNAL) !=
            (ssize_t)SERVER_RESPONSE_LEN) {
            short_sends++;
            close(fd);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    struct epoll_event events[MAX_EVENTS];
    struct epoll_event ev = {.events = EPOLLIN};
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int lsn, ep;

    server_raise_nofile();
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    lsn = listen_on(port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.data.fd = lsn;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lsn, &ev) < 0) {
        perror("server_epoll: epoll");
        return 1;
    }
    printf("server_epoll: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);

        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == lsn)
                accept_all(ep, lsn);
            else
                serve(events[i].data.fd);
        }
    }
}
