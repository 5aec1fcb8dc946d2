/*
 * The poller alone, through src/poller.h and nothing else of the library:
 * the backend the build compiles (src/poller_epoll.c on Linux,
 * src/poller_kqueue.c on the BSDs and macOS) on real fds.
 *
 *   cc tests/test_poller.c src/poller_epoll.c -Isrc -lpthread
 *
 * First the readiness table of tests/poller_cases.h, each situation made
 * for real (TCP over loopback, pipes); then what every backend promises:
 * edges, removal, refused files, timeouts, wakes from another pthread, more
 * ready fds than one batch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* usleep() */
#endif

#include "poller.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "poller_cases.h"

/* What the wait callback saw. */
struct seen {
    int fd;          /* the fd of interest */
    unsigned bits;   /* OR of its reports */
    int reports;     /* calls for it */
    int others;      /* calls for any other fd */
    int other_fd[4]; /* the first of those */
};

static void on_ready(void *ctx, int fd, unsigned bits)
{
    struct seen *s = ctx;

    if (fd == s->fd) {
        s->bits |= bits;
        s->reports++;
    } else if (s->others++ < 4) {
        s->other_fd[s->others - 1] = fd;
    }
}

static struct seen wait_for(struct lthread__poller *p, int fd,
                            int64_t timeout_ns)
{
    struct seen s = {.fd = fd};
    int n = lthread__poller_wait(p, timeout_ns, on_ready, &s);

    CHECK(n >= 0);
    CHECK_EQ(n, s.reports + s.others);
    return s;
}

/* A connected TCP pair over loopback, both ends blocking. */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(l >= 0);
    CHECK_EQ(bind(l, (struct sockaddr *)&sa, len), 0);
    CHECK_EQ(listen(l, 4), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(*a >= 0);
    CHECK_EQ(connect(*a, (struct sockaddr *)&sa, len), 0);
    *b = accept(l, NULL, NULL);
    CHECK(*b >= 0);
    close(l);
}

/* A listener with one connection waiting in its backlog: returns the
 * listener, *client the connecting end. */
static int pending_listener(int *client)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(l >= 0);
    CHECK_EQ(bind(l, (struct sockaddr *)&sa, len), 0);
    CHECK_EQ(listen(l, 4), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(*client >= 0);
    CHECK_EQ(connect(*client, (struct sockaddr *)&sa, len), 0);
    return l;
}

/* ---- 1. the readiness table -----------------------------------------------
 */

/* Puts an fd into situation id; returns it, and in keep[] the fds to close
 * afterwards (-1: none). */
static int make_case(enum poller_case_id id, int keep[2])
{
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    int a, b, p[2];

    keep[0] = keep[1] = -1;
    switch (id) {
    case PC_WRITABLE:
    case PC_READABLE:
    case PC_EOF_DATA:
    case PC_EOF:
    case PC_RESET:
    case PC_URGENT:
        tcp_pair(&a, &b);
        keep[0] = a;
        keep[1] = b;
        if (id == PC_READABLE || id == PC_EOF_DATA)
            CHECK_EQ(send(b, "hello", 5, 0), 5);
        if (id == PC_EOF_DATA || id == PC_EOF)
            CHECK_EQ(shutdown(b, SHUT_WR), 0);
        if (id == PC_URGENT)
            CHECK_EQ(send(b, "!", 1, MSG_OOB), 1);
        if (id == PC_RESET) {
            CHECK_EQ(setsockopt(b, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard)),
                     0);
            close(b);
            keep[1] = -1;
        }
        return a;
    case PC_PIPE_EOF:
    case PC_PIPE_BROKEN:
        CHECK_EQ(pipe(p), 0);
        close(p[id == PC_PIPE_EOF ? 1 : 0]);
        keep[0] = p[id == PC_PIPE_EOF ? 0 : 1];
        return keep[0];
    case PC_LISTEN:
        keep[0] = pending_listener(&keep[1]);
        return keep[0];
    case PC_COUNT:
        break;
    }
    return -1;
}

static void test_table(void)
{
    struct lthread__poller *p;

    CHECK_EQ(lthread__poller_create(&p), 0);
    for (int id = 0; id < PC_COUNT; id++) {
        int keep[2];
        int fd = make_case((enum poller_case_id)id, keep);
        unsigned bits = 0;
        const struct poller_case *c = &poller_cases[id];
        double until = check_now_ms() + 2000.0 * check_slow();

        CHECK_EQ(lthread__poller_add(p, fd), 0);
        /* Loopback delivers at once, but a segment may still be on its
         * way: gather reports until the row's bits are all there (an edge
         * per change), then take one more look. */
        do
            bits |= wait_for(p, fd, 20 * 1000000).bits;
        while ((bits & c->must) != c->must && check_now_ms() < until);
        bits |= wait_for(p, fd, 0).bits;
        poller_case_check((enum poller_case_id)id, bits, 1);
        CHECK_EQ(lthread__poller_del(p, fd), 0);
        for (int k = 0; k < 2; k++)
            if (keep[k] >= 0)
                close(keep[k]);
    }
    lthread__poller_destroy(p);
}

/* ---- 2. what every backend promises ---------------------------------------
 */

/* Edge-triggered: a state is reported once, a new arrival again. */
static void test_edges(void)
{
    struct lthread__poller *p;
    struct seen s;
    int fds[2];
    char buf[8];

    CHECK_EQ(lthread__poller_create(&p), 0);
    CHECK_EQ(pipe(fds), 0);
    CHECK_EQ(lthread__poller_add(p, fds[0]), 0);
    s = wait_for(p, fds[0], 0);
    CHECK_EQ(s.reports, 0); /* an empty pipe: nothing to read */
    CHECK_EQ(write(fds[1], "ab", 2), 2);
    s = wait_for(p, fds[0], 1000000000);
    CHECK_EQ(s.reports, 1);
    CHECK(s.bits & P_IN);
    s = wait_for(p, fds[0], 0);
    CHECK_EQ(s.reports, 0); /* not again: nothing new */
    CHECK_EQ(write(fds[1], "c", 1), 1);
    s = wait_for(p, fds[0], 1000000000);
    CHECK_EQ(s.reports, 1); /* new data, new edge, unread data or not */
    CHECK_EQ(read(fds[0], buf, sizeof(buf)), 3);

    /* Removed: no more reports. */
    CHECK_EQ(lthread__poller_del(p, fds[0]), 0);
    CHECK_EQ(write(fds[1], "d", 1), 1);
    s = wait_for(p, fds[0], 0);
    CHECK_EQ(s.reports, 0);
    /* And back. */
    CHECK_EQ(lthread__poller_add(p, fds[0]), 0);
    s = wait_for(p, fds[0], 1000000000);
    CHECK_EQ(s.reports, 1);
    close(fds[0]);
    close(fds[1]);
    lthread__poller_destroy(p);
}

/* Regular files are refused as epoll refuses them; a closed fd fails. */
static void test_refused(void)
{
    struct lthread__poller *p;
    char path[] = "/tmp/lthread-poller-XXXXXX";
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(lthread__poller_create(&p), 0);
    CHECK_EQ(lthread__poller_add(p, fd), -EPERM);
    close(fd);
    CHECK_EQ(lthread__poller_add(p, fd), -EBADF);
    CHECK(lthread__poller_del(p, fd) < 0);
    lthread__poller_destroy(p);
}

/* A timeout is waited for, not less; 0 only looks. */
static void test_timeouts(void)
{
    struct lthread__poller *p;
    double t0;
    struct seen s;

    CHECK_EQ(lthread__poller_create(&p), 0);
    t0 = check_now_ms();
    s = wait_for(p, -1, 30 * 1000000);
    CHECK(check_now_ms() - t0 >= 29.0);
    CHECK_EQ(s.reports + s.others, 0);
    t0 = check_now_ms();
    s = wait_for(p, -1, 0);
    CHECK(check_now_ms() - t0 < 20.0 * check_slow());
    lthread__poller_destroy(p);
}

struct waker {
    struct lthread__poller *p;
    int delay_ms;
};

static void *waker_main(void *arg)
{
    struct waker *w = arg;

    usleep((useconds_t)w->delay_ms * 1000);
    lthread__poller_wake(w->p);
    return NULL;
}

/* A wake from another pthread ends a wait without limit and reports no
 * fd; a wake that comes before the wait is kept for it, once. */
static void test_wake(void)
{
    struct waker w = {.delay_ms = 50};
    pthread_t th;
    struct seen s;
    double t0;

    CHECK_EQ(lthread__poller_create(&w.p), 0);
    CHECK_EQ(pthread_create(&th, NULL, waker_main, &w), 0);
    t0 = check_now_ms();
    s = wait_for(w.p, -1, -1);
    CHECK(check_now_ms() - t0 >= 40.0);
    CHECK_EQ(s.reports + s.others, 0);
    pthread_join(th, NULL);

    lthread__poller_wake(w.p);
    lthread__poller_wake(w.p); /* two wakes before a wait: one return */
    t0 = check_now_ms();
    s = wait_for(w.p, -1, 2000 * 1000000LL);
    CHECK(check_now_ms() - t0 < 1000.0);
    t0 = check_now_ms();
    s = wait_for(w.p, -1, 30 * 1000000);
    CHECK(check_now_ms() - t0 >= 29.0); /* nothing left pending */
    lthread__poller_destroy(w.p);
}

/* More ready fds than one wait returns (256 on both backends): the rest
 * come with the next wait, none lost, none twice. */
#define MANY 300

static void count_fd(void *ctx, int fd, unsigned bits)
{
    int *count = ctx;

    if (fd >= 0 && fd < 4096 && (bits & P_IN))
        count[fd]++;
}

static void test_many(void)
{
    struct lthread__poller *p;
    static int pipes[MANY][2];
    static int count[4096];
    int made = 0, total = 0, n;

    CHECK_EQ(lthread__poller_create(&p), 0);
    for (; made < MANY; made++) {
        if (pipe(pipes[made]) < 0 || pipes[made][0] >= 4096)
            break; /* a low fd limit: test with what there is */
        CHECK_EQ(lthread__poller_add(p, pipes[made][0]), 0);
        CHECK_EQ(write(pipes[made][1], "x", 1), 1);
    }
    CHECK(made > 100);
    for (int round = 0; round < 4; round++) {
        n = lthread__poller_wait(p, 0, count_fd, count);
        CHECK(n >= 0);
        total += n;
    }
    CHECK_EQ(total, made);
    for (int i = 0; i < made; i++) {
        CHECK_EQ(count[pipes[i][0]], 1);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    lthread__poller_destroy(p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_table();
    test_edges();
    test_refused();
    test_timeouts();
    test_wake();
    test_many();
    return check_summary("test_poller");
}
