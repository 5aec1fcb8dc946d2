/* Closing and destroying around waits: lthread_close() wakes whoever waits
 * on the fd with -1/EBADF; destroying a waiting lthread leaves nothing
 * behind and the fd serves another lthread; several lthreads may wait on
 * one fd; a number reused after a plain close(2) works. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "lthread_int.h"
#include "test_socket_util.h"

/* Nothing of the scheduler's fd table is left waiting. */
static void check_no_waiters(int fd)
{
    struct lthread__sched *s = lthread__sched_get();

    CHECK_EQ(s->nio_waiting, 0);
    if (fd >= 0 && fd < s->nfds) {
        CHECK(s->fds[fd].readers.head == NULL);
        CHECK(s->fds[fd].writers.head == NULL);
        CHECK(s->fds[fd].pollers == NULL);
    }
}

/* ---- close wakes waiters ------------------------------------------------- */

enum op { OP_RECV, OP_READ, OP_ACCEPT, OP_WAIT_READ, OP_SEND, OP_POLL, OP_N };
static const char *op_names[] = {"recv",      "read", "accept",
                                 "wait_read", "send", "poll"};

struct waiter {
    enum op op;
    int fd;
    ssize_t rc;
    int err;
    short revents;
    int finished;
};

static void wait_on(lthread_t *lt, void *arg)
{
    struct waiter *w = arg;
    char *big;
    char buf[16];

    (void)lt;
    errno = 0;
    switch (w->op) {
    case OP_RECV:
        w->rc = lthread_recv(w->fd, buf, sizeof(buf), 0, 0);
        break;
    case OP_READ:
        w->rc = lthread_read(w->fd, buf, sizeof(buf), 0);
        break;
    case OP_ACCEPT:
        w->rc = lthread_accept(w->fd, NULL, NULL);
        break;
    case OP_WAIT_READ:
        w->rc = lthread_wait_read(w->fd, 0);
        break;
    case OP_SEND:
        /* More than any socket buffer holds, nobody reading. */
        big = calloc(1, 32u << 20);
        w->rc = lthread_send(w->fd, big, 32u << 20, 0);
        w->err = errno;
        free(big);
        break;
    case OP_POLL: {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        w->rc = lthread_poll(&p, 1, -1);
        w->revents = p.revents;
        break;
    }
    case OP_N:
        break;
    }
    if (w->op != OP_SEND)
        w->err = errno;
    w->finished = 1;
}

static void close_wakes(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int op = 0; op < OP_N; op++) {
        static struct waiter w;
        struct util_addr a;
        lthread_t *wl;
        int c = -1, s = -1, p[2] = {-1, -1}, fd;

        if (op == OP_READ) {
            CHECK_EQ(lthread_pipe(p), 0);
            fd = p[0];
        } else if (op == OP_ACCEPT) {
            fd = util_bind(AF_INET, SOCK_STREAM, 4, &a);
        } else {
            CHECK_EQ(util_pair(AF_INET, &c, &s), 0);
            fd = c;
        }
        w = (struct waiter){.op = (enum op)op, .fd = fd};
        CHECK_EQ(lthread_create(&wl, wait_on, &w), 0);
        lthread_sleep(10);
        CHECK(!w.finished);
        CHECK_EQ(lthread_close(fd), 0);
        CHECK_EQ(lthread_join(wl, NULL, 0), 0);
        CHECK(w.finished);
        if (op == OP_POLL) {
            /* poll reports the closed fd as POLLNVAL, like poll(2). */
            CHECK_EQ(w.rc, 1);
            CHECK(w.revents & POLLNVAL);
        } else {
            CHECK_EQ(w.rc, -1);
            CHECK_EQ(w.err, EBADF);
        }
        if (w.rc != (op == OP_POLL ? 1 : -1))
            fprintf(stderr, "    close during %s: rc %zd errno %d\n",
                    op_names[op], w.rc, w.err);
        check_no_waiters(fd);
        if (s >= 0)
            lthread_close(s);
        if (p[1] >= 0)
            lthread_close(p[1]);
    }
}

/* ---- destroy while waiting -------------------------------------------------
 */

static int shared_fd;
static int got_bytes;

static void reader_forever(lthread_t *lt, void *arg)
{
    char buf[16];

    (void)lt;
    (void)arg;
    lthread_recv(shared_fd, buf, sizeof(buf), 0, 0);
    CHECK(!"a destroyed lthread never returns");
}

static void poller_forever(lthread_t *lt, void *arg)
{
    struct pollfd p[3] = {{.fd = shared_fd, .events = POLLIN},
                          {.fd = shared_fd, .events = POLLIN},
                          {.fd = -1}};

    (void)lt;
    (void)arg;
    lthread_poll(p, 3, -1);
    CHECK(!"a destroyed lthread never returns");
}

static void reader_once(lthread_t *lt, void *arg)
{
    char buf[16];

    (void)lt;
    (void)arg;
    got_bytes = (int)lthread_recv(shared_fd, buf, sizeof(buf), 0, 2000);
}

static void destroy_waiting(lthread_t *lt, void *arg)
{
    lthread_t *r1, *r2, *r3;
    int c, s;

    (void)lt;
    (void)arg;
    CHECK_EQ(util_pair(AF_INET6, &c, &s), 0);
    shared_fd = c;
    CHECK_EQ(lthread_create(&r1, reader_forever, NULL), 0);
    CHECK_EQ(lthread_create(&r2, poller_forever, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_destroy(r1), 0);
    CHECK_EQ(lthread_destroy(r2), 0);
    check_no_waiters(c);
    /* The fd serves another lthread. */
    got_bytes = 0;
    CHECK_EQ(lthread_create(&r3, reader_once, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_send(s, "abc", 3, 0), 3);
    CHECK_EQ(lthread_join(r3, NULL, 0), 0);
    CHECK_EQ(got_bytes, 3);
    lthread_close(c);
    lthread_close(s);
}

/* ---- several waiters on one fd ----------------------------------------------
 */

static int nreceived;

static void dgram_reader(lthread_t *lt, void *arg)
{
    char buf[16];

    (void)lt;
    (void)arg;
    if (lthread_recv(shared_fd, buf, sizeof(buf), 0, 2000) == 1)
        nreceived++;
}

static void many_waiters(lthread_t *lt, void *arg)
{
    enum { N = 5 };
    lthread_t *r[N];
    int sv[2];

    (void)lt;
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    shared_fd = sv[0];
    nreceived = 0;
    for (int i = 0; i < N; i++)
        CHECK_EQ(lthread_create(&r[i], dgram_reader, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread__sched_get()->nio_waiting, N);
    /* One datagram at a time: each wakes everyone, one wins, the others
     * park again. The wake comes through the poller, which a stalled
     * machine may look at only after this lthread's next timer: wait for
     * the datagram to be taken, not for a fixed time (check.h). */
    for (int i = 0; i < N; i++) {
        double until = check_now_ms() + 2000.0 * check_slow();

        CHECK_EQ(lthread_send(sv[1], "d", 1, 0), 1);
        do
            lthread_sleep(1);
        while (nreceived < i + 1 && check_now_ms() < until);
        CHECK_EQ(nreceived, i + 1);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(lthread_join(r[i], NULL, 0), 0);
    check_no_waiters(sv[0]);
    lthread_close(sv[0]);
    lthread_close(sv[1]);
}

/* ---- an fd number reused after a plain close()
 * -------------------------------- */

static void pipe_reader_once(lthread_t *lt, void *arg)
{
    char buf[16];

    (void)lt;
    (void)arg;
    got_bytes = (int)lthread_read(shared_fd, buf, sizeof(buf), 2000);
}

static void reuse_after_plain_close(lthread_t *lt, void *arg)
{
    struct util_addr a;
    lthread_t *r;
    int c, s, fd, lfd, p[2];

    (void)lt;
    (void)arg;
    /* Register c with the poller by parking on it once. */
    CHECK_EQ(util_pair(AF_INET, &c, &s), 0);
    CHECK_EQ(lthread_recv(c, &fd, 1, 0, 5), -2);
    fd = c;
    CHECK_EQ(close(c), 0); /* plain: the table still says registered */
    lthread_close(s);

    /* lthread_socket: the new socket may get c's number. */
    lfd = util_bind(AF_INET, SOCK_STREAM, 4, &a);
    CHECK(lfd >= 0);
    printf("old fd %d, new listener fd %d\n", fd, lfd);
    shared_fd = lfd;
    {
        /* A parked accept must wake: its fd must really be registered. */
        int cl = lthread_socket(AF_INET, SOCK_STREAM, 0);

        CHECK_EQ(lthread_wait_read(lfd, 20), -2); /* registers lfd */
        CHECK_EQ(lthread_connect(cl, (struct sockaddr *)&a.ss, a.len, 1000), 0);
        s = lthread_accept(lfd, NULL, NULL);
        CHECK(s >= 0);
        /* Now close the accepted socket plainly and make its number be
         * reused by accept again. */
        got_bytes = 0;
        CHECK_EQ(lthread_recv(s, &fd, 1, 0, 5), -2);
        fd = s;
        close(s);
        lthread_close(cl);
        cl = lthread_socket(AF_INET, SOCK_STREAM, 0);
        CHECK_EQ(lthread_connect(cl, (struct sockaddr *)&a.ss, a.len, 1000), 0);
        s = lthread_accept(lfd, NULL, NULL);
        printf("old fd %d, new accepted fd %d\n", fd, s);
        shared_fd = s;
        CHECK_EQ(lthread_create(&r, reader_once, NULL), 0);
        lthread_sleep(5);
        CHECK_EQ(lthread_send(cl, "xy", 2, 0), 2);
        CHECK_EQ(lthread_join(r, NULL, 0), 0);
        CHECK_EQ(got_bytes, 2);
        lthread_close(cl);
        lthread_close(s);
    }
    lthread_close(lfd);

    /* lthread_pipe reusing plainly closed numbers. */
    CHECK_EQ(lthread_pipe(p), 0);
    CHECK_EQ(lthread_read(p[0], &fd, 1, 5), -2);
    fd = p[0];
    close(p[0]);
    close(p[1]);
    CHECK_EQ(lthread_pipe(p), 0);
    printf("old fd %d, new pipe fds %d %d\n", fd, p[0], p[1]);
    shared_fd = p[0];
    got_bytes = 0;
    CHECK_EQ(lthread_create(&r, pipe_reader_once, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_write(p[1], "q", 1), 1);
    CHECK_EQ(lthread_join(r, NULL, 0), 0);
    CHECK_EQ(got_bytes, 1);
    lthread_close(p[0]);
    lthread_close(p[1]);
    check_no_waiters(-1);
}

int main(void)
{
    util_trap_sigpipe();
    util_run(close_wakes, NULL);
    util_run(destroy_waiting, NULL);
    util_run(many_waiters, NULL);
    util_run(reuse_after_plain_close, NULL);
    return check_summary("test_socket_close");
}
