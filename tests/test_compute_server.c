/*
 * A server keeps accepting and answering while requests compute: the seed's
 * web server pattern (one lthread per connection, the expensive part inside
 * lthread_compute_begin/end). Six requests enter compute sections and stay
 * there until the client has had the answers to 20 quick requests (no
 * section) on new connections: if a section held up the scheduler, no
 * quick request would be answered and the sections would run into their
 * deadline. The server runs in its own pthread; the client uses plain
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

/* Deadlines that only a broken library reaches (check.h, rule 2): a
 * section gives up waiting for the quick requests, the client for an
 * answer. */
#define HOLD_MAX_MS (10000.0 * check_slow())
#define ANSWER_MAX_S (10 * check_slow())
/* The median time to answer a quick request (a timing check). */
#define MEDIAN_LATE_MS (10.0 * check_slow())

enum { NCOMPUTE = 6, NQUICK = 20 };

static atomic_int port; /* 0 until the server listens; -1 if it failed */
static int listen_fd = -1;
static int nbusy; /* computing requests that busy-loop instead of sleeping */
static atomic_int busy_taken;
static atomic_int computing;   /* requests inside their sections now */
static atomic_int quick_done;  /* set by the client after the quick ones */
static atomic_int hold_missed; /* sections that ran into HOLD_MAX_MS */

/* A section's work: spins (busy) or sleeps in steps of 1 ms until the
 * client is done with the quick requests. */
static void compute_until_quick_done(int busy)
{
    double until = check_now_ms() + HOLD_MAX_MS;
    volatile unsigned long x = 0;

    while (!atomic_load(&quick_done)) {
        if (check_now_ms() > until) {
            atomic_fetch_add(&hold_missed, 1);
            return;
        }
        if (busy)
            for (int i = 0; i < 1000; i++)
                x += (unsigned long)i;
        else
            usleep(1000);
    }
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
        atomic_fetch_add(&computing, 1);
        compute_until_quick_done(atomic_fetch_add(&busy_taken, 1) < nbusy);
        atomic_fetch_sub(&computing, 1);
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
    struct timeval tv = {.tv_sec = ANSWER_MAX_S};

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

/* Waits until all NCOMPUTE requests are inside their sections, or
 * HOLD_MAX_MS passed; returns whether they are. */
static int wait_all_computing(void)
{
    double until = check_now_ms() + HOLD_MAX_MS;

    while (atomic_load(&computing) < NCOMPUTE && check_now_ms() < until)
        usleep(1000);
    return atomic_load(&computing) == NCOMPUTE;
}

int main(void)
{
    pthread_t th;
    int cfd[NCOMPUTE], nquick = 0, all_computing;
    double t0, lat[NQUICK], took;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    /* Every section at once, whatever the CPU count (read once, before
     * the pool exists). */
    setenv("LTHREAD_COMPUTE_MAX", "16", 1);
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
    all_computing = wait_all_computing();
    CHECK(all_computing);
    /* Quick requests, one after another, while every section computes
     * (they wait for quick_done): each must be answered. */
    for (; all_computing && nquick < NQUICK; nquick++) {
        double q0 = check_now_ms();
        int fd = client_send('Q');
        char a = fd >= 0 ? client_answer(fd) : 0;

        lat[nquick] = check_now_ms() - q0;
        CHECK_EQ(a, 'q');
        if (a != 'q')
            break; /* the scheduler is held up: waiting more says nothing */
        usleep(5000);
    }
    CHECK_EQ(atomic_load(&computing), NCOMPUTE);
    atomic_store(&quick_done, 1);
    for (int i = 0; i < NCOMPUTE; i++)
        CHECK_EQ(cfd[i] >= 0 ? client_answer(cfd[i]) : 0, 'c');
    took = check_now_ms() - t0;
    /* Every section lasted until the quick requests were answered. */
    CHECK_EQ(atomic_load(&hold_missed), 0);

    CHECK_EQ(client_answer(client_send('X')), 'x');
    pthread_join(th, NULL);

    qsort(lat, (size_t)nquick, sizeof(lat[0]), cmp_double);
    printf("while %d requests computed (%d busy): %d quick requests "
           "answered in median %.3f ms, worst %.3f ms; the %d answered "
           "after %.0f ms\n",
           NCOMPUTE, nbusy, nquick, nquick ? lat[nquick / 2] : 0.0,
           nquick ? lat[nquick - 1] : 0.0, NCOMPUTE, took);
    CHECK_EQ(nquick, NQUICK);
    if (nquick > 0)
        CHECK_TIME(lat[nquick / 2] < MEDIAN_LATE_MS);
    return check_summary("test_compute_server");
}
