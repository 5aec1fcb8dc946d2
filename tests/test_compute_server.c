/*
 * A server keeps accepting and answering while requests compute: the seed's
 * web server pattern (one lthread per connection, the expensive part inside
 * lthread_compute_begin/end). Six requests compute for 300 ms; meanwhile
 * quick requests (no section) on new connections must be answered within a
 * few ms. The server runs in its own pthread; the client uses plain
 * blocking sockets. Only 127.0.0.1 is used, on a port the kernel picks.
 */
#include <lthread.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/*
 * Lateness limits. A lthread held up by a compute section would be late by
 * the section's length (hundreds of ms); anything under WORST_LATE_MS is the
 * kernel sharing a few CPUs with the busy loops and other processes.
 */
#define WORST_LATE_MS (20.0 * check_slow())
#define MEAN_LATE_MS (2.0 * check_slow())

enum { NCOMPUTE = 6, COMPUTE_MS = 300, NQUICK = 20 };

static atomic_int port; /* 0 until the server listens; -1 if it failed */
static int listen_fd = -1;
static int nbusy; /* computing requests that busy-loop instead of sleeping */
static atomic_int busy_taken;

static void busy_ms(double ms)
{
    double until = check_now_ms() + ms;
    volatile unsigned long x = 0;

    while (check_now_ms() < until)
        for (int i = 0; i < 1000; i++)
            x += (unsigned long)i;
}

/* One request: a byte. 'C' computes, 'Q' answers at once, 'X' stops the
 * server. The answer is the byte in lower case. */
static void http_serv(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c = 0, answer;
    int rcb = 0, rce = 0;

    (void)lt;
    if (lthread_recv(fd, &c, 1, 0, 5000) != 1) {
        CHECK(!"request not received");
        lthread_close(fd);
        return;
    }
    if (c == 'C') {
        /* No CHECK inside: it reads errno (see test_compute.c). */
        rcb = lthread_compute_begin();
        if (atomic_fetch_add(&busy_taken, 1) < nbusy)
            busy_ms(COMPUTE_MS);
        else
            usleep(COMPUTE_MS * 1000);
        rce = lthread_compute_end();
        CHECK_EQ(rcb, 0);
        CHECK_EQ(rce, 0);
    } else if (c == 'X') {
        lthread_close(listen_fd); /* the listener's accept fails: it ends */
        listen_fd = -1;
    }
    answer = (char)(c | 0x20);
    CHECK_EQ(lthread_send(fd, &answer, 1, 0), 1);
    lthread_close(fd);
}

static void listener(lthread_t *lt, void *arg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    lthread_attr_t attr;
    int one = 1;

    (void)lt;
    (void)arg;
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_DETACHED;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = lthread_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listen_fd >= 0);
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (listen_fd < 0 || bind(listen_fd, (void *)&sin, sizeof(sin)) < 0 ||
        listen(listen_fd, 128) < 0 ||
        getsockname(listen_fd, (void *)&sin, &len) < 0) {
        CHECK(!"listen");
        atomic_store(&port, -1);
        return;
    }
    atomic_store(&port, ntohs(sin.sin_port));
    for (;;) {
        lthread_t *h;
        int cfd = lthread_accept(listen_fd, NULL, NULL);

        if (cfd < 0)
            break; /* closed by an 'X' request */
        CHECK_EQ(lthread_create_ex(&h, http_serv, (void *)(intptr_t)cfd, &attr),
                 0);
    }
}

static void *server_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, listener, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

/* ---- the client: plain blocking sockets --------------------------------- */

static int client_send(char c)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)atomic_load(&port));
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (void *)&sin, sizeof(sin)) < 0 || send(fd, &c, 1, 0) != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits for the one-byte answer; returns it, or 0. */
static char client_answer(int fd)
{
    char a = 0;
    struct timeval tv = {.tv_sec = 10};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (recv(fd, &a, 1, MSG_WAITALL) != 1)
        a = 0;
    close(fd);
    return a;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(void)
{
    pthread_t th;
    int cfd[NCOMPUTE];
    double t0, lat[NQUICK], took;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    /* Busy loops: at most one per CPU but one (see test_compute.c). */
    nbusy = ncpu > 2 ? 2 : ncpu == 2 ? 1 : 0;
    CHECK_EQ(pthread_create(&th, NULL, server_main, NULL), 0);
    while (atomic_load(&port) == 0)
        usleep(1000);
    if (atomic_load(&port) < 0) {
        pthread_join(th, NULL);
        return check_summary("test_compute_server");
    }

    t0 = check_now_ms();
    for (int i = 0; i < NCOMPUTE; i++) {
        cfd[i] = client_send('C');
        CHECK(cfd[i] >= 0);
    }
    usleep(30000); /* they are in their sections now */
    for (int i = 0; i < NQUICK; i++) {
        double q0 = check_now_ms();
        int fd = client_send('Q');

        CHECK(fd >= 0);
        CHECK_EQ(fd >= 0 ? client_answer(fd) : 0, 'q');
        lat[i] = check_now_ms() - q0;
        usleep(5000);
    }
    /* All quick requests were answered while the others computed. */
    CHECK(check_now_ms() - t0 < COMPUTE_MS);
    for (int i = 0; i < NCOMPUTE; i++)
        CHECK_EQ(cfd[i] >= 0 ? client_answer(cfd[i]) : 0, 'c');
    took = check_now_ms() - t0;
    CHECK(took >= COMPUTE_MS);
    CHECK(took < 2 * COMPUTE_MS + 200.0 * check_slow());

    CHECK_EQ(client_answer(client_send('X')), 'x');
    pthread_join(th, NULL);

    qsort(lat, NQUICK, sizeof(lat[0]), cmp_double);
    printf("while %d requests computed %d ms (%d busy): %d quick requests "
           "answered in median %.3f ms, worst %.3f ms; the %d answered "
           "after %.0f ms\n",
           NCOMPUTE, COMPUTE_MS, nbusy, NQUICK, lat[NQUICK / 2],
           lat[NQUICK - 1], NCOMPUTE, took);
    CHECK(lat[NQUICK - 1] < WORST_LATE_MS);
    CHECK(lat[NQUICK / 2] < MEAN_LATE_MS);
    return check_summary("test_compute_server");
}
