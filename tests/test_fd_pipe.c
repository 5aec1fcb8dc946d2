/* Pipes and other pollable fds: lthread_pipe, lthread_read/_write/_writev
 * with large transfers, timeouts and EOF, EPIPE without SIGPIPE (and the
 * signal mask left as it was), lthread_wait_read/_wait_write, a blocking
 * fd made by the user, and an eventfd. */
#include <lthread.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "platform.h"
#include "test_socket_util.h"

static int p[2];

struct xfer {
    int fd;
    size_t len;
    unsigned seed;
    int use_writev;
};

static void pipe_writer(lthread_t *lt, void *arg)
{
    struct xfer *x = arg;
    unsigned char *buf = malloc(x->len);

    (void)lt;
    util_fill(buf, x->len, 0, x->seed);
    if (x->use_writev) {
        /* Many uneven pieces: the pipe takes them 64 KiB at a time, so
         * partial writes end inside pieces. */
        struct iovec iov[64];
        size_t off = 0;
        int n = 0;

        while (off < x->len && n < 63) {
            size_t piece = (x->len / 40) + (size_t)n * 97;

            if (piece > x->len - off)
                piece = x->len - off;
            iov[n++] = (struct iovec){buf + off, piece};
            off += piece;
        }
        iov[n++] = (struct iovec){buf + off, x->len - off};
        CHECK_EQ(lthread_writev(x->fd, iov, n), (ssize_t)x->len);
    } else {
        CHECK_EQ(lthread_write(x->fd, buf, x->len), (ssize_t)x->len);
    }
    CHECK_EQ(lthread_close(x->fd), 0);
    free(buf);
}

static void transfer(size_t len, int use_writev)
{
    static struct xfer x;
    unsigned char *buf = malloc(100003);
    size_t got = 0;
    lthread_t *w;
    ssize_t n;
    int ok = 1;

    CHECK_EQ(lthread_pipe(p), 0);
    x = (struct xfer){.fd = p[1],
                      .len = len,
                      .seed = (unsigned)len,
                      .use_writev = use_writev};
    CHECK_EQ(lthread_create(&w, pipe_writer, &x), 0);
    while ((n = lthread_read(p[0], buf, 100003, 2000)) > 0) {
        ok &= util_verify(buf, (size_t)n, got, x.seed);
        got += (size_t)n;
    }
    CHECK_EQ(n, 0); /* EOF once the writer closed */
    CHECK(ok);
    CHECK_EQ(got, len);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    CHECK_EQ(lthread_close(p[0]), 0);
    free(buf);
}

static void transfers(lthread_t *lt, void *arg)
{
    int fl;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_pipe(p), 0);
    for (int i = 0; i < 2; i++) {
        fl = fcntl(p[i], F_GETFL);
        CHECK(fl >= 0 && (fl & O_NONBLOCK));
        CHECK(fcntl(p[i], F_GETFD) & FD_CLOEXEC);
    }
    lthread_close(p[0]);
    lthread_close(p[1]);
    transfer(1, 0);
    transfer(65536 * 3 + 5, 0);
    transfer(16u << 20, 0);
    transfer(1, 1);
    transfer(4u << 20, 1);
}

/* ---- timeouts, EPIPE ----------------------------------------------------- */

static int sigpipe_blocked(void)
{
    sigset_t cur;

    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, SIGPIPE);
}

static int sigpipe_pending(void)
{
    sigset_t pend;

    sigpending(&pend);
    return sigismember(&pend, SIGPIPE);
}

static void errors(lthread_t *lt, void *arg)
{
    long slow = check_slow();
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    sigset_t set;
    double t0, el;
    char c;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_pipe(p), 0);
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_read(p[0], &c, 1, 30), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    el = check_now_ms() - t0;
    CHECK(el >= 29);
    CHECK_TIME(el < 30 + 100 * slow);

    /* The reader is gone: EPIPE, no SIGPIPE (the handler would exit), the
     * mask as it was and nothing left pending. */
    CHECK_EQ(lthread_close(p[0]), 0);
    errno = 0;
    CHECK_EQ(lthread_write(p[1], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    errno = 0;
    CHECK_EQ(lthread_writev(p[1], iov, 2), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK(!sigpipe_blocked());
    CHECK(!sigpipe_pending());

    /* A caller that blocks SIGPIPE itself keeps it blocked; the signal
     * raised for it is its own to collect. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    CHECK_EQ(lthread_write(p[1], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK(sigpipe_blocked());
    CHECK(sigpipe_pending());
    {
        struct timespec zero = {0, 0};
        CHECK_EQ(sigtimedwait(&set, NULL, &zero), SIGPIPE);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    CHECK_EQ(lthread_close(p[1]), 0);
}

/* ---- waiting for readiness -------------------------------------------------
 */

static void late_byte(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(15);
    CHECK_EQ(lthread_write(p[1], "b", 1), 1);
}

static void late_drain(lthread_t *lt, void *arg)
{
    static char buf[1 << 16];

    (void)lt;
    (void)arg;
    lthread_sleep(15);
    CHECK(lthread_read(p[0], buf, sizeof(buf), 1000) > 0);
}

static void waits(lthread_t *lt, void *arg)
{
    static char junk[4096];
    lthread_t *h;
    double t0;
    char c;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_pipe(p), 0);
    errno = 0;
    CHECK_EQ(lthread_wait_read(p[0], 20), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(lthread_wait_write(p[1], 20), 0); /* empty pipe: writable */

    /* Parked until a byte comes. */
    CHECK_EQ(lthread_create(&h, late_byte, NULL), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_wait_read(p[0], 2000), 0);
    CHECK(check_now_ms() - t0 >= 10);
    CHECK_EQ(lthread_join(h, NULL, 0), 0);
    /* Still readable: waiting again returns at once (the edge is gone,
     * so this needs the poll(2) before parking). */
    CHECK_EQ(lthread_wait_read(p[0], 2000), 0);
    CHECK_EQ(lthread_read(p[0], &c, 1, 0), 1);

    /* Full pipe: wait_write times out, then wakes when drained. */
    while (write(p[1], junk, sizeof(junk)) > 0)
        ;
    CHECK_EQ(lthread_wait_write(p[1], 20), -2);
    CHECK_EQ(lthread_create(&h, late_drain, NULL), 0);
    CHECK_EQ(lthread_wait_write(p[1], 2000), 0);
    CHECK_EQ(lthread_join(h, NULL, 0), 0);
    lthread_close(p[0]);
    lthread_close(p[1]);
}

/* ---- fds the user made ------------------------------------------------------
 */

static int ticks;

static void ticker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < 5; i++) {
        lthread_sleep(2);
        ticks++;
    }
    CHECK_EQ(lthread_write(p[1], "u", 1), 1);
}

static void user_fds(lthread_t *lt, void *arg)
{
    lthread_t *t;
    uint64_t v = 0;
    char c;
    int efd;

    (void)lt;
    (void)arg;
    /* A blocking pipe: waiting on it does not change its mode... */
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(lthread_wait_read(p[0], 5), -2);
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    /* ...reading it makes it non-blocking, and it does not stall the
     * scheduler: the ticker runs meanwhile. */
    ticks = 0;
    CHECK_EQ(lthread_create(&t, ticker, NULL), 0);
    CHECK_EQ(lthread_read(p[0], &c, 1, 2000), 1);
    CHECK_EQ(ticks, 5);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);
    lthread_close(p[0]);
    lthread_close(p[1]);

    /* An eventfd: read parks until written. */
    efd = platform_event_fd();
    if (efd < 0 && errno == ENOSYS && platform_skip("eventfd"))
        return;
    CHECK(efd >= 0);
    CHECK_EQ(lthread_read(efd, &v, sizeof(v), 10), -2);
    v = 42;
    CHECK_EQ(lthread_write(efd, &v, sizeof(v)), 8);
    v = 0;
    CHECK_EQ(lthread_read(efd, &v, sizeof(v), 10), 8);
    CHECK_EQ(v, 42);
    lthread_close(efd);
}

int main(void)
{
    util_trap_sigpipe();
    util_run(transfers, NULL);
    util_run(errors, NULL);
    util_run(waits, NULL);
    util_run(user_fds, NULL);
    return check_summary("test_fd_pipe");
}
