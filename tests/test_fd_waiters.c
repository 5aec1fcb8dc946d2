/* Several lthreads waiting on one fd: a readiness edge wakes every waiter
 * of its direction (DESIGN.md, section 5), an error or hang-up wakes both
 * directions, and lthread_close() wakes every waiter of the fd, whatever
 * it waits in. Over a pipe, a Unix stream socketpair and loopback TCP.
 *
 * Each case leaves its waiters parked with no timeout, acts once (one
 * send, one drain, one close), then joins each waiter with a timeout: a
 * waiter the library forgot to wake shows as a failed check (and is
 * destroyed), not as a hung test. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "test_socket_util.h"

enum chan { CH_PIPE, CH_UNIX, CH_TCP, CH_N };
static const char *chan_names[] = {"pipe", "unix socketpair", "tcp"};

enum op {
    OP_RECV,       /* lthread_recv of 1 byte */
    OP_READ,       /* lthread_read of 1 byte */
    OP_WAIT_READ,  /* lthread_wait_read */
    OP_WAIT_WRITE, /* lthread_wait_write */
    OP_SEND_BIG,   /* lthread_send of more than the socket holds */
    OP_WRITE_BIG,  /* lthread_write of more than the pipe holds */
    OP_POLL_IN,    /* lthread_poll for POLLIN */
    OP_POLL_OUT,   /* lthread_poll for POLLOUT */
};
static const char *op_names[] = {"recv",         "read",         "wait_read",
                                 "wait_write",   "send",         "write",
                                 "poll(POLLIN)", "poll(POLLOUT)"};

#define BIG (8u << 20)

/* Waiters live here, not on their (shared) stacks. */
struct waiter {
    enum op op;
    int fd;
    lthread_t *lt;
    ssize_t rc;
    int err;
    short revents;
    unsigned char byte;
    int done;
};

static struct waiter waiters[4];

static void wait_on(lthread_t *lt, void *arg)
{
    struct waiter *w = arg;
    struct pollfd p = {.fd = w->fd};
    char *big;

    (void)lt;
    errno = 0;
    switch (w->op) {
    case OP_RECV:
        w->rc = lthread_recv(w->fd, &w->byte, 1, 0, 0);
        break;
    case OP_READ:
        w->rc = lthread_read(w->fd, &w->byte, 1, 0);
        break;
    case OP_WAIT_READ:
        w->rc = lthread_wait_read(w->fd, 0);
        break;
    case OP_WAIT_WRITE:
        w->rc = lthread_wait_write(w->fd, 0);
        break;
    case OP_SEND_BIG:
    case OP_WRITE_BIG:
        big = calloc(1, BIG);
        w->rc = w->op == OP_SEND_BIG ? lthread_send(w->fd, big, BIG, 0)
                                     : lthread_write(w->fd, big, BIG);
        w->err = errno;
        free(big);
        break;
    case OP_POLL_IN:
    case OP_POLL_OUT:
        p.events = w->op == OP_POLL_IN ? POLLIN : POLLOUT;
        w->rc = lthread_poll(&p, 1, -1);
        w->revents = p.revents;
        break;
    }
    if (w->op != OP_SEND_BIG && w->op != OP_WRITE_BIG)
        w->err = errno;
    w->done = 1;
}

static struct waiter *start(int i, enum op op, int fd)
{
    struct waiter *w = &waiters[i];

    *w = (struct waiter){.op = op, .fd = fd};
    CHECK_EQ(lthread_create(&w->lt, wait_on, w), 0);
    return w;
}

/* Lets the waiters run until they park, and checks that they did. */
static void let_park(int n, const char *what)
{
    lthread_sleep(20);
    for (int i = 0; i < n; i++) {
        CHECK(!waiters[i].done);
        if (waiters[i].done)
            fprintf(stderr, "    %s: %s did not wait\n", what,
                    op_names[waiters[i].op]);
    }
}

/* Waits for w to return. One still parked after a second was never
 * woken: the check fails and it is destroyed. Returns 1 if it returned. */
static int finish(struct waiter *w, const char *what)
{
    int rc = lthread_join(w->lt, NULL, 1000 * (uint64_t)check_slow());

    if (rc == 0)
        return 1;
    fprintf(stderr, "    %s: the %s waiter was not woken\n", what,
            op_names[w->op]);
    CHECK_EQ(rc, 0);
    CHECK_EQ(lthread_destroy(w->lt), 0);
    return 0;
}

/* A channel of kind ch: *rd reads what *wr writes. */
static void open_chan(enum chan ch, int *rd, int *wr)
{
    int fds[2];

    *rd = *wr = -1;
    if (ch == CH_PIPE) {
        CHECK_EQ(lthread_pipe(fds), 0);
    } else if (ch == CH_UNIX) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    } else {
        CHECK_EQ(util_pair(AF_INET, &fds[1], &fds[0]), 0);
    }
    *rd = fds[0];
    *wr = fds[1];
}

static void close_chan(int rd, int wr)
{
    if (rd >= 0)
        lthread_close(rd);
    if (wr >= 0)
        lthread_close(wr);
}

/* ---- an edge wakes every reader ------------------------------------------ */

/* n readers parked in 1-byte reads on one fd; one write of n bytes: each
 * reader must get one of them. Waking only the first would leave the
 * others parked beside unread data: an edge-triggered poller reports
 * nothing more until new data comes. (With op OP_WAIT_READ, each must
 * see the fd readable.) */
static void readers_share_one_edge(enum chan ch, enum op op, int n)
{
    static const unsigned char data[] = "abc";
    char what[80];
    int rd, wr, got[3] = {0, 0, 0};

    snprintf(what, sizeof(what), "%d %s waiters, %s", n, op_names[op],
             chan_names[ch]);
    open_chan(ch, &rd, &wr);
    for (int i = 0; i < n; i++)
        start(i, op, rd);
    let_park(n, what);
    CHECK_EQ(ch == CH_PIPE ? lthread_write(wr, data, (size_t)n)
                           : lthread_send(wr, data, (size_t)n, 0),
             n);
    for (int i = 0; i < n; i++) {
        struct waiter *w = &waiters[i];

        if (!finish(w, what))
            continue;
        if (op == OP_WAIT_READ) {
            CHECK_EQ(w->rc, 0);
            got[i] = 1;
            continue;
        }
        CHECK_EQ(w->rc, 1);
        if (w->rc == 1 && w->byte >= 'a' && w->byte < 'a' + n)
            got[w->byte - 'a']++;
    }
    for (int i = 0; i < n; i++)
        CHECK_EQ(got[i], 1);
    close_chan(rd, wr);
}

/* A reader, a wait_read and a poller on one fd; one write of 2 bytes wakes
 * all three: the reader takes a byte, the others see the fd readable. */
static void mixed_readers_one_edge(enum chan ch)
{
    char what[80];
    int rd, wr;

    snprintf(what, sizeof(what), "reader, wait_read and poller, %s",
             chan_names[ch]);
    open_chan(ch, &rd, &wr);
    start(0, ch == CH_PIPE ? OP_READ : OP_RECV, rd);
    start(1, OP_WAIT_READ, rd);
    start(2, OP_POLL_IN, rd);
    let_park(3, what);
    CHECK_EQ(lthread_write(wr, "xy", 2), 2);
    if (finish(&waiters[0], what)) {
        CHECK_EQ(waiters[0].rc, 1);
        CHECK_EQ(waiters[0].byte, 'x');
    }
    if (finish(&waiters[1], what))
        CHECK_EQ(waiters[1].rc, 0);
    if (finish(&waiters[2], what)) {
        CHECK_EQ(waiters[2].rc, 1);
        CHECK(waiters[2].revents & POLLIN);
    }
    close_chan(rd, wr);
}

/* ---- an edge wakes every writer ------------------------------------------ */

/* Fills fd (non-blocking) until the kernel takes no more. */
static size_t fill(int fd, int is_pipe)
{
    static char chunk[4096];
    size_t total = 0;
    ssize_t n;

    for (;;) {
        n = is_pipe ? write(fd, chunk, sizeof(chunk))
                    : send(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    return total;
}

/* Reads fd (non-blocking) until it is empty, for a while: TCP delivers
 * what was queued in the sender in several steps. */
static size_t drain(int fd, size_t want)
{
    static char chunk[65536];
    size_t total = 0;
    ssize_t n;

    for (int idle = 0; total < want && idle < 200 * check_slow();) {
        n = read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            total += (size_t)n;
            idle = 0;
        } else {
            lthread_sleep(1);
            idle++;
        }
    }
    return total;
}

/* Two wait_write waiters and a POLLOUT poller on a full fd; the reader
 * empties it: all three must see it writable. */
static void writers_share_one_edge(enum chan ch)
{
    int small = 16384, rd, wr;
    char what[80];
    size_t filled;

    snprintf(what, sizeof(what), "2 wait_write and a POLLOUT poller, %s",
             chan_names[ch]);
    open_chan(ch, &rd, &wr);
    if (ch != CH_PIPE)
        setsockopt(wr, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    CHECK_EQ(fcntl(wr, F_SETFL, fcntl(wr, F_GETFL) | O_NONBLOCK), 0);
    CHECK_EQ(fcntl(rd, F_SETFL, fcntl(rd, F_GETFL) | O_NONBLOCK), 0);
    filled = fill(wr, ch == CH_PIPE);
    start(0, OP_WAIT_WRITE, wr);
    start(1, OP_WAIT_WRITE, wr);
    start(2, OP_POLL_OUT, wr);
    let_park(3, what);
    /* TCP may have queued more meanwhile; take everything. */
    CHECK(drain(rd, filled) >= filled);
    for (int i = 0; i < 2; i++)
        if (finish(&waiters[i], what))
            CHECK_EQ(waiters[i].rc, 0);
    if (finish(&waiters[2], what)) {
        CHECK_EQ(waiters[2].rc, 1);
        CHECK(waiters[2].revents & POLLOUT);
    }
    close_chan(rd, wr);
}

/* ---- lthread_close wakes everyone ---------------------------------------- */

/* On one socket: a reader, a wait_read, a writer stuck on the full socket
 * and a poller; lthread_close() of the socket wakes all four: -1/EBADF,
 * and POLLNVAL for the poller. */
static void close_wakes_mixed(enum chan ch)
{
    int small = 16384, rd, wr;
    char what[80];

    snprintf(what, sizeof(what), "close with 4 mixed waiters, %s",
             chan_names[ch]);
    /* The waiters use the writing end: it can be read (nothing comes) and
     * written (until full: its peer never reads). */
    open_chan(ch, &rd, &wr);
    setsockopt(wr, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    start(0, OP_RECV, wr);
    start(1, OP_WAIT_READ, wr);
    start(2, OP_SEND_BIG, wr);
    start(3, OP_POLL_IN, wr);
    let_park(4, what);
    CHECK_EQ(lthread_close(wr), 0);
    for (int i = 0; i < 4; i++) {
        struct waiter *w = &waiters[i];

        if (!finish(w, what))
            continue;
        if (w->op == OP_POLL_IN) {
            CHECK_EQ(w->rc, 1);
            CHECK(w->revents & POLLNVAL);
        } else {
            CHECK_EQ(w->rc, -1);
            CHECK_EQ(w->err, EBADF);
        }
    }
    close_chan(rd, -1);
}

/* A pipe's two ends, each with three waiters; closing each end wakes its
 * three. */
static void close_wakes_pipe_ends(void)
{
    const char *what = "close of each end of a pipe, 3 waiters each";
    int fds[2];

    CHECK_EQ(lthread_pipe(fds), 0);
    start(0, OP_READ, fds[0]);
    start(1, OP_WAIT_READ, fds[0]);
    start(2, OP_POLL_IN, fds[0]);
    let_park(3, what);
    CHECK_EQ(lthread_close(fds[0]), 0);
    for (int i = 0; i < 3; i++) {
        if (!finish(&waiters[i], what))
            continue;
        CHECK_EQ(waiters[i].rc, i == 2 ? 1 : -1);
        if (i == 2)
            CHECK(waiters[i].revents & POLLNVAL);
        else
            CHECK_EQ(waiters[i].err, EBADF);
    }

    /* The writing end: a writer of more than the pipe holds (its reader
     * is gone, so this one gets EPIPE at once: use a fresh pipe). */
    CHECK_EQ(lthread_close(fds[1]), 0);
    CHECK_EQ(lthread_pipe(fds), 0);
    start(0, OP_WRITE_BIG, fds[1]);
    start(1, OP_WAIT_WRITE, fds[1]);
    start(2, OP_POLL_OUT, fds[1]);
    lthread_sleep(20);
    /* The big write filled the pipe; the others then parked. */
    CHECK(!waiters[0].done && !waiters[1].done && !waiters[2].done);
    CHECK_EQ(lthread_close(fds[1]), 0);
    for (int i = 0; i < 3; i++) {
        if (!finish(&waiters[i], what))
            continue;
        CHECK_EQ(waiters[i].rc, i == 2 ? 1 : -1);
        if (i == 2)
            CHECK(waiters[i].revents & POLLNVAL);
        else
            CHECK_EQ(waiters[i].err, EBADF);
    }
    lthread_close(fds[0]);
}

/* ---- the other end goes away ----------------------------------------------
 */

/* The reading end of a full pipe (or the peer of a full socket) is
 * closed: the kernel reports an error on the writing end, which must wake
 * the writer parked there (EPIPE, and no SIGPIPE), a wait_write waiter
 * and a POLLOUT poller (the fd is ready: the next write reports it). */
static void peer_close_wakes_writers(enum chan ch)
{
    int small = 16384, rd, wr;
    char what[80];

    snprintf(what, sizeof(what), "reader closes, 3 writer-side waiters, %s",
             chan_names[ch]);
    open_chan(ch, &rd, &wr);
    if (ch != CH_PIPE)
        setsockopt(wr, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    start(0, ch == CH_PIPE ? OP_WRITE_BIG : OP_SEND_BIG, wr);
    start(1, OP_WAIT_WRITE, wr);
    start(2, OP_POLL_OUT, wr);
    let_park(3, what);
    CHECK_EQ(lthread_close(rd), 0);
    if (finish(&waiters[0], what)) {
        CHECK_EQ(waiters[0].rc, -1);
        CHECK(waiters[0].err == EPIPE || waiters[0].err == ECONNRESET);
    }
    if (finish(&waiters[1], what))
        CHECK_EQ(waiters[1].rc, 0);
    if (finish(&waiters[2], what))
        CHECK_EQ(waiters[2].rc, 1);
    close_chan(-1, wr);
}

/* The writing end is closed: readers parked on the reading end see EOF,
 * a wait_read waiter and a poller see it ready. On a pipe the kernel
 * reports only a hang-up (no input), which must still wake them. */
static void writer_close_wakes_readers(enum chan ch)
{
    char what[80];
    int rd, wr;

    snprintf(what, sizeof(what), "writer closes, 4 reader-side waiters, %s",
             chan_names[ch]);
    open_chan(ch, &rd, &wr);
    start(0, OP_READ, rd);
    start(1, ch == CH_PIPE ? OP_READ : OP_RECV, rd);
    start(2, OP_WAIT_READ, rd);
    start(3, OP_POLL_IN, rd);
    let_park(4, what);
    CHECK_EQ(lthread_close(wr), 0);
    for (int i = 0; i < 2; i++)
        if (finish(&waiters[i], what))
            CHECK_EQ(waiters[i].rc, 0);
    if (finish(&waiters[2], what))
        CHECK_EQ(waiters[2].rc, 0);
    if (finish(&waiters[3], what)) {
        CHECK_EQ(waiters[3].rc, 1);
        CHECK(waiters[3].revents & (POLLIN | POLLHUP));
    }
    close_chan(rd, -1);
}

static void all_cases(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int ch = 0; ch < CH_N; ch++) {
        for (int n = 2; n <= 3; n++) {
            readers_share_one_edge((enum chan)ch, OP_READ, n);
            readers_share_one_edge((enum chan)ch, OP_WAIT_READ, n);
            if (ch != CH_PIPE)
                readers_share_one_edge((enum chan)ch, OP_RECV, n);
        }
        mixed_readers_one_edge((enum chan)ch);
        writers_share_one_edge((enum chan)ch);
        writer_close_wakes_readers((enum chan)ch);
        if (ch != CH_TCP) /* a reset comes back later */
            peer_close_wakes_writers((enum chan)ch);
        if (ch != CH_PIPE)
            close_wakes_mixed((enum chan)ch);
    }
    close_wakes_pipe_ends();
}

int main(void)
{
    util_trap_sigpipe();
    util_run(all_cases, NULL);
    return check_summary("test_fd_waiters");
}
