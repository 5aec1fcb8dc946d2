/*
 * server_epoll_mt: server_epoll.c's loop on N threads, for the scaling
 * benchmark (bench/scale_run.sh). Each thread has its own listening socket
 * on the same port (SO_REUSEPORT: the kernel spreads the connections over
 * them) and its own level-triggered epoll set; the threads share nothing
 * but the per-fd "matched" table, in which each fd is only ever touched by
 * the thread that accepted it.
 *
 *   server_epoll_mt PORT THREADS
 *
 * Per ready connection: one recv(), then one send() per complete request,
 * as server_epoll.c. Runs until killed.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
#define MAX_THREADS 256

/* Indexed by fd, sized for every fd the process may open. */
static int *matched;
static size_t nmatched;
static atomic_long short_sends;
static int port;

static void on_term(int sig)
{
    (void)sig;
    if (atomic_load(&short_sends)) {
        static const char msg[] = "server_epoll_mt: short sends closed conns\n";
        (void)!write(2, msg, sizeof(msg) - 1);
    }
    _exit(0);
}

static int listen_on(void)
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
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        perror("server_epoll_mt: listen");
        exit(1);
    }
    return fd;
}

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
            perror("server_epoll_mt: accept");
            return;
        }
        if ((size_t)fd >= nmatched) { /* cannot happen: sized by the rlimit */
            close(fd);
            continue;
        }
        matched[fd] = 0;
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            close(fd);
    }
}

static void serve(int fd)
{
    static __thread char buf[SERVER_BUF];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(fd);
        return;
    }
    for (int k = server_count_requests(buf, (size_t)n, &matched[fd]); k > 0;
         k--) {
        if (send(fd, server_response, SERVER_RESPONSE_LEN, MSG_NOSIGNAL) !=
            (ssize_t)SERVER_RESPONSE_LEN) {
            atomic_fetch_add(&short_sends, 1);
            close(fd);
            return;
        }
    }
}

static void *loop(void *arg)
{
    struct epoll_event events[MAX_EVENTS];
    struct epoll_event ev = {.events = EPOLLIN};
    int lsn = (int)(intptr_t)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);

    ev.data.fd = lsn;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lsn, &ev) < 0) {
        perror("server_epoll_mt: epoll");
        exit(1);
    }
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);

        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == lsn)
                accept_all(ep, lsn);
            else
                serve(events[i].data.fd);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int nthreads = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t tid;
    struct rlimit rl;

    port = argc > 1 ? atoi(argv[1]) : 8080;
    if (nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "server_epoll_mt: THREADS must be 1 to %d\n",
                MAX_THREADS);
        return 2;
    }
    server_raise_nofile();
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1u << 24))
        rl.rlim_cur = 1u << 20;
    nmatched = rl.rlim_cur;
    matched = calloc(nmatched, sizeof(*matched));
    if (!matched) {
        perror("server_epoll_mt");
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    /* All listeners before the first accept: none misses its share. */
    int lsn[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        lsn[i] = listen_on();
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&tid, NULL, loop, (void *)(intptr_t)lsn[i]) != 0) {
            perror("server_epoll_mt: pthread_create");
            return 1;
        }
    printf("server_epoll_mt: listening on 127.0.0.1:%d, %d threads\n", port,
           nthreads);
    fflush(stdout);
    loop((void *)(intptr_t)lsn[0]);
    return 0;
}
