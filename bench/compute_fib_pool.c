/*
 * compute_fib_pool: the peer of compute_fib_lthread, without lthread. One
 * acceptor pthread waits in epoll for new connections and for their
 * requests; a request that has arrived is queued (mutex + condvar) for a
 * small pool of worker pthreads, which compute fibonacci(N), send the same
 * HTTP/1.0 reply and close.
 *
 *   compute_fib_pool [PORT [N [WORKERS]]]   (defaults 3129, 30, CPUs)
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] =
    "HTTP/1.0 200 OK\r\nContent-length: 11\r\n\r\nHello World";
static unsigned fib_n = 30;
static volatile unsigned sink;

static unsigned fibonacci(unsigned n)
{
    if (n == 0)
        return 0;
    if (n == 1)
        return 1;
    return fibonacci(n - 1) + fibonacci(n - 2);
}

/* ---- the queue of requests: a ring of fds ------------------------------- */

#define QCAP 4096
static struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    int fds[QCAP];
    unsigned head, tail; /* tail - head queued */
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER};

static void q_push(int fd)
{
    pthread_mutex_lock(&q.lock);
    if (q.tail - q.head == QCAP) { /* full: refuse */
        pthread_mutex_unlock(&q.lock);
        close(fd);
        return;
    }
    q.fds[q.tail++ % QCAP] = fd;
    pthread_mutex_unlock(&q.lock);
    pthread_cond_signal(&q.nonempty);
}

static int q_pop(void)
{
    int fd;

    pthread_mutex_lock(&q.lock);
    while (q.head == q.tail)
        pthread_cond_wait(&q.nonempty, &q.lock);
    fd = q.fds[q.head++ % QCAP];
    pthread_mutex_unlock(&q.lock);
    return fd;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = q_pop();

        sink = fibonacci(fib_n);
        /* The reply fits in the socket buffer: one send. */
        if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL) < 0)
            (void)0;
        close(fd);
    }
    return NULL;
}

/* ---- the acceptor ------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct epoll_event ev, evs[256];
    int port = argc > 1 ? atoi(argv[1]) : 3129;
    long nworkers = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
    int lsn, ep, opt = 1;
    char buf[1024];

    if (argc > 2)
        fib_n = (unsigned)atoi(argv[2]);
    if (nworkers < 1)
        nworkers = 1;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lsn = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &opt, sizeof(opt));
    if (lsn < 0 || bind(lsn, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lsn, 1024) < 0) {
        perror("socket/bind/listen");
        return 1;
    }
    for (long i = 0; i < nworkers; i++) {
        pthread_t th;

        pthread_create(&th, NULL, worker, NULL);
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = lsn;
    epoll_ctl(ep, EPOLL_CTL_ADD, lsn, &ev);
    fprintf(stderr,
            "compute_fib_pool: listening on 127.0.0.1:%d, %ld workers\n", port,
            nworkers);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);

        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t r;

            if (fd == lsn) {
                int c;

                while ((c = accept4(lsn, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    ev.events = EPOLLIN | EPOLLONESHOT;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            /* The request (one read, as the seed's server does). */
            r = recv(fd, buf, sizeof(buf), 0);
            if (r < 0 && errno == EAGAIN) {
                ev.events = EPOLLIN | EPOLLONESHOT;
                ev.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                continue;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            if (r > 0)
                q_push(fd);
            else
                close(fd);
        }
    }
}
