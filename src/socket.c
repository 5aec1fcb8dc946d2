/*
 * Sockets and other pollable fds: the lthread twins of the POSIX calls.
 *
 * Every call tries the operation first and parks on the fd only when the
 * kernel says EAGAIN; the fd is registered with the poller on its first
 * park and stays registered (io.c): nothing is re-armed. On a TCP socket
 * made by lthread_socket()/lthread_accept(), a recv() that came back short
 * makes the next one park before trying (see sock_recvfrom), so a
 * keep-alive request costs one recv(), one send() and a share of one
 * epoll_wait(), as in a hand-written epoll loop.
 *
 * Decisions a user can see:
 *  - Non-blocking mode. Fds made here (lthread_socket, _accept, _pipe) are
 *    born non-blocking and close-on-exec. An fd made elsewhere is switched
 *    to O_NONBLOCK on its first use by a call that may block, and the fact
 *    is cached per fd (as is its kind: socket, FIFO, other). Socket calls
 *    also pass MSG_DONTWAIT, so they never block even on a stale cache.
 *  - Close fds through lthread_close(). It wakes the lthreads waiting on
 *    the fd (with -1/EBADF) and forgets the cache. An fd closed with
 *    close(2) keeps its cache until its number is reused by one of the
 *    calls above; a number reused by a call outside the library (open,
 *    plain socket) inherits the stale cache: it may then be left blocking
 *    or, for a FIFO, unguarded against SIGPIPE.
 *  - The cache and the waiters are per scheduler (per pthread). Close an
 *    fd from the pthread whose lthreads wait on it: lthread_close() from
 *    another pthread wakes none of them, and leaves that scheduler's
 *    "registered" bit set for a number the kernel has unregistered, so a
 *    later fd of that number would never wake its lthreads there.
 *  - Several lthreads may wait on one fd and direction; an edge wakes them
 *    all, and those that find nothing park again (io.c).
 *  - The send family (send, sendto, sendmsg, write, writev, sendfile)
 *    sends everything, parking as often as needed, or fails. When an error
 *    comes after part of the data went out, the call still returns -1 with
 *    the error: the count sent is lost, and the stream should be closed.
 *  - No SIGPIPE, ever. Sockets are written with MSG_NOSIGNAL. For a pipe
 *    or FIFO (and for sendfile(2), which has no such flag) SIGPIPE is
 *    blocked in the calling pthread around the write, and one raised by it
 *    is consumed: two extra syscalls per write, sockets excluded.
 *  - Timeouts are in ms, 0 meaning none; an expired one returns -2 with
 *    errno ETIMEDOUT. An ETIMEDOUT from the kernel (a TCP connection that
 *    timed out) is returned as -1, like any other error.
 *  - EINTR is retried. accept(2)'s EMFILE/ENFILE are returned at once (the
 *    caller may free fds and retry); ECONNABORTED is skipped.
 *  - lthread_accept() has no timeout (the seed's prototype): wait with
 *    lthread_wait_read(listener, ms) first where one is needed.
 *
 * Internal results are a count, a negative errno, or TIMED_OUT; only the
 * public wrappers set errno. TIMED_OUT is not -2: -2 is also -ENOENT,
 * which connect() to a missing Unix socket path returns.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>

#include "alloc.h"
#include "lthread_int.h"
#include "os/sendfile.h"
#include "poller.h"

#define TIMED_OUT LTHREAD__TIMEDOUT

/* ---- portability -------------------------------------------------------- */

/* macOS lacks MSG_NOSIGNAL (it has the SO_NOSIGPIPE socket option) and the
 * atomic SOCK_NONBLOCK/accept4/pipe2; Linux and FreeBSD have them all. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#define NEED_SO_NOSIGPIPE 1
#endif
#ifndef MSG_MORE
#define MSG_MORE 0 /* only a hint: headers and file may part */
#endif

/* Sets what the atomic flags would have set; for a socket made here on a
 * platform without MSG_NOSIGNAL, also SO_NOSIGPIPE. Returns 0 or -errno. */
static int fd_setup_compat(int fd, bool sock)
{
    (void)fd;
    (void)sock;
#if !defined(SOCK_NONBLOCK)
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
#endif
#ifdef NEED_SO_NOSIGPIPE
    if (sock) {
        int one = 1;

        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
    }
#endif
    return 0;
}

#if defined(SOCK_NONBLOCK)
#define SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#define sys_accept(fd, a, l) accept4((fd), (a), (l), SOCK_FLAGS)
#define sys_pipe(fds) pipe2((fds), O_NONBLOCK | O_CLOEXEC)
#else
#define SOCK_FLAGS 0
#define sys_accept(fd, a, l) accept((fd), (a), (l))
#define sys_pipe(fds) pipe(fds)
#endif

/* ---- common helpers ----------------------------------------------------- */

/* Turns an internal result into the public one: the count, or -1 with
 * errno, or -2 with ETIMEDOUT. */
static inline ssize_t put_result(ssize_t r)
{
    if (lthread__likely(r >= 0))
        return r;
    if (r == TIMED_OUT)
        return lthread__fail(TIMED_OUT);
    errno = (int)-r;
    return -1;
}

/* The fd's flags with those in `want` made true (see io.c), or -errno.
 * The cached case is a load and a test. */
static inline int fd_prep(struct lthread__sched *s, int fd, unsigned want)
{
    if (lthread__likely(fd >= 0 && fd < s->nfds) &&
        (s->fds[fd].flags & want) == want)
        return s->fds[fd].flags;
    return lthread__io_fd_prep(s, fd, want);
}

/* The running lthread, for a call on fd that may park: NULL with *err
 * set (-EPERM outside an lthread, or fd_prep's error for fd), else fd has
 * the flags in `want` and *err is its flags. */
static inline struct lthread *fd_call(int fd, unsigned want, int *err)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self) {
        *err = -EPERM;
        return NULL;
    }
    *err = fd_prep(s, fd, want);
    return *err < 0 ? NULL : self;
}

/* The time budget of one call: its timeout (ms, 0: none) and, from its
 * first park on, the deadline, so that parks after spurious wakes share
 * one timeout. A call without a timeout of its own takes the socket's
 * SO_RCVTIMEO or SO_SNDTIMEO, looked up at its first park. */
struct budget {
    uint64_t timeout_ms;
    uint64_t deadline_ns; /* 0 until the first park */
};

#define BUDGET(ms) ((struct budget){.timeout_ms = (ms)})

/* Milliseconds left of b (at least 1), starting its clock if needed; 0
 * when it has no timeout. Sets *expired when the deadline has passed. */
static uint64_t budget_left(struct budget *b, bool *expired)
{
    uint64_t now;

    *expired = false;
    if (!b->timeout_ms)
        return 0;
    now = lthread__now_ns();
    if (!b->deadline_ns) {
        uint64_t ns = b->timeout_ms > UINT64_MAX / 4000000u
                          ? UINT64_MAX / 4
                          : b->timeout_ms * 1000000u;

        b->deadline_ns = now + ns;
        return b->timeout_ms;
    }
    if (now >= b->deadline_ns) {
        *expired = true;
        return 0;
    }
    return (b->deadline_ns - now + 999999u) / 1000000u;
}

/* Parks self on fd for `dir` (with LTHREAD__IO_HINTED when no attempt
 * failed first) within b. Returns 0 (try again), TIMED_OUT or a negative
 * errno. */
static int park_fd(struct lthread *self, int fd, unsigned dir, struct budget *b)
{
    bool expired;
    uint64_t ms;
    int err;

    if (!b->timeout_ms && !b->deadline_ns) {
        /* The first park of a call with no timeout of its own: the
         * socket's (1: none, do not look again), which the wait reads once
         * it has made sure that the fd is still the file it knew. */
        err =
            lthread__io_wait_sock(self->sched, self, fd, dir, &b->deadline_ns);
        if (b->deadline_ns > 1) /* (cached by the wait: no system call) */
            b->timeout_ms = lthread__io_sock_timeout(self->sched, fd, dir);
        return err == TIMED_OUT ? 0 : err;
    }
    ms = budget_left(b, &expired);
    if (expired)
        return TIMED_OUT;
    err = lthread__io_wait(self->sched, self, fd, dir, ms);
    /* Timed out: one last attempt first, as poll(2) looks once more (the
     * fd may have become ready while the scheduler was busy); the next
     * park finds the budget spent. */
    return err == TIMED_OUT ? 0 : err;
}

/*
 * After an attempt failed with err (negative errno): 0 to try again (it was
 * EINTR, or EAGAIN and the fd may be ready now), or the result to return.
 */
static int io_again(struct lthread *self, int fd, unsigned dir,
                    struct budget *b, int err)
{
    if (err == -EINTR)
        return 0;
    if (err != -EAGAIN && err != -EWOULDBLOCK)
        return err;
    return park_fd(self, fd, dir, b);
}

/* ---- SIGPIPE around writes that cannot say MSG_NOSIGNAL ------------------ */

struct sigpipe_guard {
    sigset_t old; /* the pthread's mask before */
    bool owned;   /* we blocked SIGPIPE (it was not blocked already) */
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->owned = pthread_sigmask(SIG_BLOCK, &set, &g->old) == 0 &&
               !sigismember(&g->old, SIGPIPE);
}

/* Restores the mask; if the write failed with EPIPE, first consumes the
 * SIGPIPE it raised (thread-directed, so pending on this pthread; it was
 * not blocked before, so nothing older can be pending). sigpending() then
 * sigwait(), which returns at once: macOS has no sigtimedwait(). Keeps
 * errno. */
static void sigpipe_unblock(struct sigpipe_guard *g, bool epipe)
{
    int saved = errno;

    if (!g->owned)
        return;
    if (epipe) {
        sigset_t set, pending;
        int sig;

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            (void)sigwait(&set, &sig);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    errno = saved;
}

/* ---- creating and closing ------------------------------------------------ */

/* True for the arguments of socket(2) that make a TCP socket. */
static bool is_tcp(int domain, int type, int protocol)
{
    return (domain == AF_INET || domain == AF_INET6) &&
           (type & 0xf) == SOCK_STREAM &&
           (protocol == 0 || protocol == IPPROTO_TCP);
}

/*
 * lthread_socket(), lthread_pipe() and lthread_close() work anywhere: in an
 * lthread, in main() before lthread_run() (where servers make their
 * listeners), in a compute section or a plain pthread. The fd table they
 * keep current is the calling pthread's scheduler's, if it has one; a
 * scheduler that has not seen the fd learns it on first use.
 */
LTHREAD_API int lthread_socket(int domain, int type, int protocol)
{
    struct lthread__sched *s = lthread__tls_sched;
    int fd, err;

    fd = socket(domain, type | SOCK_FLAGS, protocol);
    if (fd < 0)
        return lthread__fail(-errno);
    err = fd_setup_compat(fd, true);
    if (err) {
        close(fd);
        return lthread__fail(err);
    }
    if (s)
        lthread__io_fd_new(
            s, fd,
            LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN | LTHREAD__FD_SOCKET |
                (is_tcp(domain, type, protocol) ? LTHREAD__FD_TCP : 0));
    return fd;
}

LTHREAD_API int lthread_pipe(int fds[2])
{
    struct lthread__sched *s = lthread__tls_sched;
    const unsigned flags =
        LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN | LTHREAD__FD_FIFO;
    int err;

    if (!fds)
        return lthread__fail(-EFAULT);
    if (sys_pipe(fds) < 0)
        return lthread__fail(-errno);
    if ((err = fd_setup_compat(fds[0], false)) ||
        (err = fd_setup_compat(fds[1], false))) {
        close(fds[0]);
        close(fds[1]);
        return lthread__fail(err);
    }
    if (s) {
        lthread__io_fd_new(s, fds[0], flags);
        lthread__io_fd_new(s, fds[1], flags);
    }
    return 0;
}

LTHREAD_API int lthread_close(int fd)
{
    /* Before close(2): unregistering needs the fd still open. */
    lthread__io_forget(lthread__tls_sched, fd);
    /* Linux and the BSDs free the fd even when close() says EINTR:
     * retrying could close someone else's new fd. */
    if (close(fd) < 0 && errno != EINTR)
        return lthread__fail(-errno);
    return 0;
}

/* ---- accept and connect -------------------------------------------------- */

LTHREAD_API int lthread_accept(int fd, struct sockaddr *addr,
                               socklen_t *addrlen)
{
    struct lthread *self;
    struct budget b = BUDGET(0);
    int c, err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    for (;;) {
        c = sys_accept(fd, addr, addrlen);
        if (c >= 0)
            break;
        err = -errno;
        if (err == -ECONNABORTED)
            continue; /* that peer gave up: take the next one */
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, err);
        if (err)
            return (int)put_result(err);
    }
    err = fd_setup_compat(c, true);
    if (err) {
        close(c);
        return lthread__fail(err);
    }
    /* A TCP listener's connections are TCP (the listener's entry exists:
     * accept parked on it, or fd_prep made it). */
    lthread__io_fd_new(self->sched, c,
                       LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN |
                           LTHREAD__FD_SOCKET |
                           (fd < self->sched->nfds
                                ? self->sched->fds[fd].flags & LTHREAD__FD_TCP
                                : 0));
    return c;
}

/* Sleeps ms (at least 1) within b. Returns 0, TIMED_OUT or -ENOMEM. */
static int backoff(struct lthread *self, uint64_t ms, struct budget *b)
{
    bool expired;
    uint64_t left = budget_left(b, &expired);

    if (expired)
        return TIMED_OUT;
    if (left && left < ms)
        ms = left;
    /* -ENOMEM (no timer): fail rather than retry at once, forever. */
    return lthread__park(self->sched, self, LTHREAD__WAIT_SLEEP, NULL, ms);
}

static int sock_connect(struct lthread *self, int fd,
                        const struct sockaddr *addr, socklen_t addrlen,
                        uint64_t timeout)
{
    struct budget b = BUDGET(timeout);
    uint64_t pause_ms = 1;
    int err, soerr;
    socklen_t len;

    if (connect(fd, addr, addrlen) == 0)
        return 0;
    err = -errno;
    for (;;) {
        switch (err) {
        case -EINPROGRESS:
        case -EALREADY:
        case -EINTR: /* the connection goes on in the background */
            err = park_fd(self, fd, LTHREAD__POLL_OUT, &b);
            if (err)
                return err;
            len = sizeof(soerr);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                return -errno;
            if (soerr)
                return -soerr;
            break; /* ask connect() whether it is done */
        case -EAGAIN:
            /* A Unix socket whose listener's queue is full: nothing to
             * poll on the client side, so poll by sleeping. */
            err = backoff(self, pause_ms, &b);
            if (err)
                return err;
            pause_ms = pause_ms < 64 ? pause_ms * 2 : 64;
            break;
        default:
            return err;
        }
        if (connect(fd, addr, addrlen) == 0)
            return 0;
        err = -errno;
        /* Only here: on the first call EISCONN is the caller's error. */
        if (err == -EISCONN)
            return 0;
    }
}

LTHREAD_API int lthread_connect(int fd, const struct sockaddr *addr,
                                socklen_t addrlen, uint64_t timeout)
{
    struct lthread *self;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    return (int)put_result(sock_connect(self, fd, addr, addrlen, timeout));
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * The plain recv() of a TCP socket skips the attempt that would fail with
 * EAGAIN: after a short read (the receive queue was empty then) it parks
 * first, until the poller reports the fd readable again (see
 * LTHREAD__FD_DRAINED). A request/response server then makes one recv per
 * request instead of two. Only TCP, whose short reads mean an empty queue
 * (a Unix stream socket may stop short at a message carrying fds), only
 * without flags (MSG_PEEK consumes nothing), and not once urgent data, the
 * peer's close or an error was reported (a read stops short at the urgent
 * mark, and a pending EOF or error gives no further report).
 */
#define DRAIN_HINT_FLAGS (LTHREAD__FD_TCP | LTHREAD__FD_NOHINT)

static ssize_t sock_recvfrom(struct lthread *self, int fd, void *buf,
                             size_t len, int flags, struct sockaddr *addr,
                             socklen_t *addrlen, uint64_t timeout)
{
    struct lthread__sched *s = self->sched;
    struct budget b = BUDGET(timeout);
    bool hint = false;
    ssize_t n;
    int err;

    if (flags == 0 && fd < s->nfds &&
        (s->fds[fd].flags & DRAIN_HINT_FLAGS) == LTHREAD__FD_TCP) {
        hint = true;
        if (s->fds[fd].flags & LTHREAD__FD_DRAINED) {
            err = park_fd(self, fd, LTHREAD__POLL_IN | LTHREAD__IO_HINTED, &b);
            if (err)
                return err;
        }
    }
    for (;;) {
        n = recvfrom(fd, buf, len, flags | MSG_DONTWAIT, addr, addrlen);
        if (n >= 0) {
            /* The table may have moved while we were parked. */
            if (hint && n > 0 && (size_t)n < len && fd < s->nfds &&
                !(s->fds[fd].flags & LTHREAD__FD_NOHINT))
                s->fds[fd].flags |= LTHREAD__FD_DRAINED;
            return n;
        }
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err)
            return err;
    }
}

/* True if fd is a stream socket (MSG_WAITALL applies). */
static bool is_stream(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_STREAM;
}

/* Advances (*i, *off) by n bytes over iov[0..cnt). */
static void iov_advance(const struct iovec *iov, size_t cnt, size_t *i,
                        size_t *off, size_t n)
{
    while (*i < cnt) {
        size_t rest = iov[*i].iov_len - *off;

        if (n < rest) {
            *off += n;
            return;
        }
        n -= rest;
        (*i)++;
        *off = 0;
    }
}

/* Points m at what is left of iov from (i, off), using `part` for a
 * partly filled or sent iovec, so that the caller's array is never
 * modified. */
static void iov_rest(struct msghdr *m, const struct iovec *iov, size_t cnt,
                     size_t i, size_t off, struct iovec *part)
{
    if (off) {
        part->iov_base = (char *)iov[i].iov_base + off;
        part->iov_len = iov[i].iov_len - off;
        m->msg_iov = part;
        m->msg_iovlen = 1;
    } else {
        m->msg_iov = (struct iovec *)&iov[i];
        m->msg_iovlen = cnt - i;
    }
}

/*
 * MSG_WAITALL on a stream socket: fills msg's iovecs, parking as needed.
 * Like recv(2), it returns fewer at EOF, and the bytes already received
 * (rather than the error) when an error or the timeout comes after some.
 * The address and control data come with the first bytes; msg_flags are
 * those of the last recvmsg().
 */
static ssize_t sock_recv_all(struct lthread *self, int fd, struct msghdr *msg,
                             int flags, uint64_t timeout)
{
    const struct iovec *iov = msg->msg_iov;
    const size_t cnt = msg->msg_iovlen;
    struct budget b = BUDGET(timeout);
    struct msghdr m = *msg;
    struct iovec part;
    size_t got = 0, i = 0, off = 0;
    ssize_t n;
    int err;

    while (i < cnt) {
        if (!iov[i].iov_len) {
            i++;
            continue;
        }
        iov_rest(&m, iov, cnt, i, off, &part);
        n = recvmsg(fd, &m, flags | MSG_DONTWAIT);
        if (n > 0) {
            if (!got) { /* what came with the first bytes */
                msg->msg_namelen = m.msg_namelen;
                msg->msg_controllen = m.msg_controllen;
                m.msg_name = NULL;
                m.msg_namelen = 0;
                m.msg_control = NULL;
                m.msg_controllen = 0;
            }
            msg->msg_flags = m.msg_flags;
            got += (size_t)n;
            iov_advance(iov, cnt, &i, &off, (size_t)n);
            continue;
        }
        if (n == 0)
            break;
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err)
            return got ? (ssize_t)got : err;
    }
    return (ssize_t)got;
}

/* recv(), recvfrom() with MSG_WAITALL: sock_recv_all on one iovec. */
static ssize_t sock_recvfrom_all(struct lthread *self, int fd, void *buf,
                                 size_t len, int flags, struct sockaddr *addr,
                                 socklen_t *addrlen, uint64_t timeout)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr m = {
        .msg_name = addr,
        .msg_namelen = addr && addrlen ? *addrlen : 0,
        .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    ssize_t n = sock_recv_all(self, fd, &m, flags, timeout);

    if (n > 0 && addr && addrlen)
        *addrlen = m.msg_namelen;
    return n;
}

/* MSG_WAITALL applies: asked for, on a stream socket. */
static bool wait_all(int fd, int flags)
{
    return lthread__unlikely(flags & MSG_WAITALL) && is_stream(fd);
}

static inline ssize_t recvfrom_call(int fd, void *buf, size_t len, int flags,
                                    struct sockaddr *addr, socklen_t *addrlen,
                                    uint64_t timeout)
{
    struct lthread *self;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    if (wait_all(fd, flags))
        return put_result(sock_recvfrom_all(
            self, fd, buf, len, flags & ~MSG_WAITALL, addr, addrlen, timeout));
    return put_result(
        sock_recvfrom(self, fd, buf, len, flags, addr, addrlen, timeout));
}

LTHREAD_API ssize_t lthread_recv(int fd, void *buf, size_t len, int flags,
                                 uint64_t timeout)
{
    return recvfrom_call(fd, buf, len, flags, NULL, NULL, timeout);
}

LTHREAD_API ssize_t lthread_recvfrom(int fd, void *buf, size_t len, int flags,
                                     struct sockaddr *addr, socklen_t *addrlen,
                                     uint64_t timeout)
{
    return recvfrom_call(fd, buf, len, flags, addr, addrlen, timeout);
}

LTHREAD_API ssize_t lthread_recvmsg(int fd, struct msghdr *msg, int flags,
                                    uint64_t timeout)
{
    struct lthread *self;
    struct budget b = BUDGET(timeout);
    ssize_t n;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    if (!msg)
        return lthread__fail(-EFAULT);
    if (wait_all(fd, flags))
        return put_result(
            sock_recv_all(self, fd, msg, flags & ~MSG_WAITALL, timeout));
    for (;;) {
        n = recvmsg(fd, msg, flags | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err)
            return put_result(err);
    }
}

LTHREAD_API ssize_t lthread_read(int fd, void *buf, size_t len,
                                 uint64_t timeout)
{
    struct lthread *self;
    struct budget b = BUDGET(timeout);
    ssize_t n;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    for (;;) {
        n = read(fd, buf, len);
        if (n >= 0)
            return n;
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err)
            return put_result(err);
    }
}

/* ---- exact reads (the later original library's calls) -------------------- */

/* Reads len bytes with recv(2) (is_recv) or read(2) within one budget.
 * Returns len, fewer at EOF, or an error (the bytes read are lost). */
static ssize_t read_exact(struct lthread *self, int fd, char *buf, size_t len,
                          int flags, bool is_recv, uint64_t timeout)
{
    struct budget b = BUDGET(timeout);
    size_t got = 0;
    ssize_t n;
    int err;

    while (got < len) {
        n = is_recv ? recv(fd, buf + got, len - got, flags | MSG_DONTWAIT)
                    : read(fd, buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err)
            return err;
    }
    return (ssize_t)got;
}

LTHREAD_API ssize_t lthread_recv_exact(int fd, void *buf, size_t len, int flags,
                                       uint64_t timeout)
{
    struct lthread *self;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    return put_result(read_exact(self, fd, buf, len, flags, true, timeout));
}

LTHREAD_API ssize_t lthread_read_exact(int fd, void *buf, size_t len,
                                       uint64_t timeout)
{
    struct lthread *self;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    return put_result(read_exact(self, fd, buf, len, 0, false, timeout));
}

LTHREAD_API ssize_t lthread_readline(int fd, char **buf, size_t max,
                                     uint64_t timeout)
{
    struct lthread *self;
    struct budget b = BUDGET(timeout);
    size_t got = 0;
    char *line;
    ssize_t n;
    int err;

    if (!buf || !max)
        return lthread__fail(-EINVAL);
    *buf = NULL;
    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    line = malloc(max + 1); /* the caller frees it with free() */
    if (!line)
        return lthread__fail(-ENOMEM);
    while (got < max) {
        n = read(fd, line + got, 1);
        if (n > 0) {
            if (line[got++] == '\n')
                break;
            continue;
        }
        if (n == 0)
            break;
        err = io_again(self, fd, LTHREAD__POLL_IN, &b, -errno);
        if (err) {
            free(line);
            return put_result(err);
        }
    }
    if (!got) {
        free(line);
        return 0;
    }
    line[got] = '\0';
    *buf = line;
    return (ssize_t)got;
}

/* ---- sending ------------------------------------------------------------- */

/* One attempt to write m's iovecs (or, for a socket, all of m) to fd of
 * kind `flags`. Returns the count or -errno. */
static ssize_t write_once(int fd, unsigned flags, const struct msghdr *m,
                          int sflags)
{
    struct sigpipe_guard g;
    ssize_t n;

    if (flags & LTHREAD__FD_SOCKET) {
        n = sendmsg(fd, m, sflags | MSG_NOSIGNAL | MSG_DONTWAIT);
        return n < 0 ? -errno : n;
    }
    if (flags & LTHREAD__FD_FIFO) {
        sigpipe_block(&g);
        n = writev(fd, m->msg_iov, (int)m->msg_iovlen);
        sigpipe_unblock(&g, n < 0 && errno == EPIPE);
        return n < 0 ? -errno : n;
    }
    n = writev(fd, m->msg_iov, (int)m->msg_iovlen);
    return n < 0 ? -errno : n;
}

/*
 * Writes every byte of msg's iovecs to fd (a socket: with msg's address
 * and control data, the latter once, with the first bytes). flags is the
 * fd's kind. Partial writes are resumed where they stopped: a partly
 * written iovec is finished alone, then the rest follow together, so that
 * the caller's array is never copied or modified. Returns the total or
 * a negative errno (also after partial progress).
 */
static ssize_t send_all(struct lthread *self, int fd, unsigned flags,
                        const struct msghdr *msg, int sflags)
{
    const struct iovec *iov = msg->msg_iov;
    const size_t iovcnt = msg->msg_iovlen;
    struct budget b = BUDGET(0);
    struct msghdr m = *msg;
    struct iovec part;
    size_t i = 0, off = 0, total = 0;
    ssize_t n;
    int err;

    for (;;) {
        n = write_once(fd, flags, &m, sflags);
        if (n < 0) {
            err = io_again(self, fd, LTHREAD__POLL_OUT, &b, (int)n);
            if (err)
                return err;
            continue;
        }
        total += (size_t)n;
        m.msg_control = NULL; /* ancillary data went with the first byte */
        m.msg_controllen = 0;
        iov_advance(iov, iovcnt, &i, &off, (size_t)n);
        if (i == iovcnt)
            return (ssize_t)total;
        iov_rest(&m, iov, iovcnt, i, off, &part);
    }
}

LTHREAD_API ssize_t lthread_send(int fd, const void *buf, size_t len, int flags)
{
    return lthread_sendto(fd, buf, len, flags, NULL, 0);
}

LTHREAD_API ssize_t lthread_sendto(int fd, const void *buf, size_t len,
                                   int flags, const struct sockaddr *addr,
                                   socklen_t addrlen)
{
    struct lthread *self;
    struct budget b = BUDGET(0);
    const char *p = buf;
    size_t done = 0;
    ssize_t n;
    int err;

    self = fd_call(fd, LTHREAD__FD_NONBLOCK, &err);
    if (!self)
        return lthread__fail(err);
    flags |= MSG_NOSIGNAL | MSG_DONTWAIT;
    /* At least once: a zero-length datagram is a datagram. */
    do {
        n = sendto(fd, p + done, len - done, flags, addr, addrlen);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        err = io_again(self, fd, LTHREAD__POLL_OUT, &b, -errno);
        if (err)
            return put_result(err);
    } while (done < len);
    return (ssize_t)done;
}

LTHREAD_API ssize_t lthread_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!self)
        return lthread__fail(-EPERM);
    if (!msg)
        return lthread__fail(-EFAULT);
    err = fd_prep(s, fd, LTHREAD__FD_NONBLOCK);
    if (err < 0)
        return lthread__fail(err);
    /* Kind SOCKET: a non-socket fails in sendmsg() with ENOTSOCK. */
    return put_result(send_all(self, fd, LTHREAD__FD_SOCKET, msg, flags));
}

LTHREAD_API ssize_t lthread_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct msghdr m = {0};
    int flags;

    if (!self)
        return lthread__fail(-EPERM);
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return lthread__fail(-EINVAL);
    flags = fd_prep(s, fd, LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN);
    if (flags < 0)
        return lthread__fail(flags);
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    return put_result(send_all(self, fd, (unsigned)flags, &m, 0));
}

LTHREAD_API ssize_t lthread_write(int fd, const void *buf, size_t len)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    int flags;

    if (!self)
        return lthread__fail(-EPERM);
    flags = fd_prep(s, fd, LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN);
    if (flags < 0)
        return lthread__fail(flags);
    return put_result(send_all(self, fd, (unsigned)flags, &m, 0));
}

/* ---- waiting ------------------------------------------------------------- */

/* Waits until fd is ready for dir. The fd's mode is left alone: nothing is
 * read or written here. Since readiness is reported by edges, it first
 * asks poll(2), and asks again after each wake, which may be stale. */
static int fd_wait(struct lthread *self, int fd, unsigned dir, uint64_t timeout)
{
    /* Like poll(2): the socket's own timeouts do not apply. */
    struct budget b = {.timeout_ms = timeout, .deadline_ns = !timeout};
    struct pollfd p = {
        .fd = fd,
        .events = dir == LTHREAD__POLL_IN ? POLLIN : POLLOUT,
    };
    int n, err;

    if (fd < 0)
        return -EBADF;
    for (;;) {
        n = poll(&p, 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n > 0)
            return (p.revents & POLLNVAL) ? -EBADF : 0;
        err = park_fd(self, fd, dir, &b);
        if (err)
            return err;
    }
}

LTHREAD_API int lthread_wait_read(int fd, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self)
        return lthread__fail(-EPERM);
    return (int)put_result(fd_wait(self, fd, LTHREAD__POLL_IN, timeout));
}

LTHREAD_API int lthread_wait_write(int fd, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self)
        return lthread__fail(-EPERM);
    return (int)put_result(fd_wait(self, fd, LTHREAD__POLL_OUT, timeout));
}

/*
 * poll(2): asks the kernel without blocking; if nothing is ready, parks on
 * every fd at once (io.c) and asks again when woken, until something is
 * ready or the timeout passes. Like lthread_wait_read(), it leaves the
 * fds' modes alone. An fd closed by lthread_close() meanwhile wakes it and
 * is reported POLLNVAL.
 */
LTHREAD_API int lthread_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct budget b = BUDGET(timeout > 0 ? (uint64_t)timeout : 0);
    uint64_t ms;
    bool expired;
    int n, err;

    if (!self)
        return lthread__fail(-EPERM);
    for (;;) {
        n = poll(fds, nfds, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return lthread__fail(-errno);
        }
        if (n > 0 || timeout == 0)
            return n;
        ms = budget_left(&b, &expired);
        if (expired)
            return 0;
        err = lthread__io_wait_many(self->sched, self, fds, nfds, ms);
        /* Timed out: poll(2) once more, then the budget is spent. */
        if (err && err != TIMED_OUT)
            return lthread__fail(err);
    }
}

/* ---- sendfile ------------------------------------------------------------ */

/* Sends cnt iovecs to s with send_all() (cnt 0: nothing). */
static int send_iovs(struct lthread *self, int s, unsigned flags,
                     struct iovec *iov, int cnt, int sflags)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    ssize_t n;

    if (cnt <= 0)
        return cnt < 0 ? -EINVAL : 0;
    if (cnt > IOV_MAX)
        return -EINVAL;
    n = send_all(self, s, flags, &m, sflags);
    return n < 0 ? (int)n : 0;
}

/* Where the system cannot send from fd to s (src/os/<os>/sendfile.c says
 * -ENOSYS): pread() into a buffer, send_all(). */
static int file_copy(struct lthread *self, int fd, int s, off_t offset,
                     size_t len, bool to_eof)
{
    const size_t bufsz = 64 * 1024;
    char *buf = lthread__malloc(bufsz);
    unsigned flags;
    int err = 0;

    if (!buf)
        return -ENOMEM;
    flags = (unsigned)lthread__io_fd_prep(self->sched, s, LTHREAD__FD_KNOWN);
    while (len > 0 || to_eof) {
        size_t want = !to_eof && len < bufsz ? len : bufsz;
        ssize_t n = pread(fd, buf, want, offset);
        struct iovec iov = {.iov_base = buf};

        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        iov.iov_len = (size_t)n;
        err = send_iovs(self, s, flags, &iov, 1, 0);
        if (err)
            break;
        offset += n;
        if (!to_eof)
            len -= (size_t)n;
    }
    lthread__free(buf);
    return err;
}

/* Sends [offset, offset + len) of fd to s, or up to the end of the file
 * when to_eof, with the system's sendfile (src/os/), or by copying where
 * it cannot. Returns 0 or a negative errno. */
static int file_send(struct lthread *self, int fd, int s, off_t offset,
                     size_t len, bool to_eof)
{
    struct budget b = BUDGET(0);
    struct sigpipe_guard g;
    ssize_t n;
    int err;

    while (len > 0 || to_eof) {
        size_t chunk =
            to_eof || len > ((size_t)1 << 30) ? (size_t)1 << 30 : len;

        /* sendfile(2) has no MSG_NOSIGNAL. */
        sigpipe_block(&g);
        n = lthread__os_sendfile(s, fd, &offset, chunk);
        sigpipe_unblock(&g, n == -EPIPE);
        if (n > 0) {
            if (!to_eof)
                len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return 0; /* end of file (it may have shrunk) */
        if (n == -ENOSYS)
            return file_copy(self, fd, s, offset, len, to_eof);
        err = io_again(self, s, LTHREAD__POLL_OUT, &b, (int)n);
        if (err)
            return err;
    }
    return 0;
}

static int sock_sendfile(struct lthread *self, int fd, int s, off_t offset,
                         size_t nbytes, struct sf_hdtr *hdtr)
{
    struct stat st;
    bool to_eof = false;
    int flags, err, more = 0;

    if (offset < 0)
        return -EINVAL;
    /* Every count is checked before anything is sent. */
    if (hdtr && (hdtr->hdr_cnt < 0 || hdtr->hdr_cnt > IOV_MAX ||
                 hdtr->trl_cnt < 0 || hdtr->trl_cnt > IOV_MAX))
        return -EINVAL;
    flags = fd_prep(self->sched, s, LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN);
    if (flags < 0)
        return flags;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (nbytes == 0) {
        /* Up to the end of the file: its size now, if it has one; a file
         * that grows meanwhile is sent up to this size. */
        if (S_ISREG(st.st_mode))
            nbytes = st.st_size > offset ? (size_t)(st.st_size - offset) : 0;
        else
            to_eof = true;
    }
    if (hdtr && hdtr->hdr_cnt > 0) {
        /* Hold the headers back (MSG_MORE) if more follows, so that they
         * share packets with the file. */
        if ((flags & LTHREAD__FD_SOCKET) &&
            (nbytes || to_eof || hdtr->trl_cnt > 0))
            more = MSG_MORE;
        err = send_iovs(self, s, (unsigned)flags, hdtr->headers, hdtr->hdr_cnt,
                        more);
        if (err)
            return err;
    }
    if (nbytes || to_eof) {
        err = file_send(self, fd, s, offset, nbytes, to_eof);
        if (err)
            return err;
    }
    if (hdtr && hdtr->trl_cnt > 0)
        return send_iovs(self, s, (unsigned)flags, hdtr->trailers,
                         hdtr->trl_cnt, 0);
    return 0;
}

LTHREAD_API int lthread_sendfile(int fd, int s, off_t offset, size_t nbytes,
                                 struct sf_hdtr *hdtr)
{
    struct lthread__sched *sched;
    struct lthread *self = lthread__sched_self(&sched);

    if (!self)
        return lthread__fail(-EPERM);
    return (int)put_result(sock_sendfile(self, fd, s, offset, nbytes, hdtr));
}
