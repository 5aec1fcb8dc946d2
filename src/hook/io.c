/*
 * The socket and pipe hooks: inside an lthread, a call that would block
 * on a managed fd (hook_int.h) that is blocking in the user's view parks
 * only the calling lthread; everything else goes straight to the next
 * definition (libc).
 *
 * Each hook asks first whether the caller may park (one call, one
 * thread-local load in liblthread): main(), other pthreads, the scheduler
 * loop and compute sections pass straight through. Then the flags: a call
 * with MSG_DONTWAIT never blocks (the core's own calls carry it) and
 * passes through. Then the table.
 *
 * Receiving on a socket goes to the core's lthread_recvfrom() or
 * lthread_recvmsg() (one receive, MSG_WAITALL honoured, the drained hint
 * on TCP), whose own recvfrom(MSG_DONTWAIT) comes back here and passes.
 * Sending, pipes, accept and connect are loops over the next definition
 * and lthread_wait_read/write(), so that partial counts, SIGPIPE and the
 * errors are those of the blocking call.
 *
 * Timeouts: SO_RCVTIMEO / SO_SNDTIMEO, read when the fd was learnt and
 * kept current by the setsockopt() hook. On expiry the call returns what
 * the blocking call returns: the count so far, else -1 with EAGAIN
 * (EINPROGRESS for connect).
 *
 * Outside an lthread, a managed fd is still O_NONBLOCK underneath: when a
 * call on it that the user expects to block fails with EAGAIN, the hook
 * waits in poll(2) and tries again, as the blocking call would. This costs
 * nothing until EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <lthread.h>

#include "hook/hook_int.h"
#include "hook/iface.h"

#define HOOK_API __attribute__((visibility("default")))

static ssize_t (*hook_real_read)(int, void *, size_t);
static ssize_t (*hook_real_readv)(int, const struct iovec *, int);
static ssize_t (*hook_real_write)(int, const void *, size_t);
static ssize_t (*hook_real_writev)(int, const struct iovec *, int);
static ssize_t (*hook_real_recv)(int, void *, size_t, int);
static ssize_t (*hook_real_recvfrom)(int, void *, size_t, int,
                                     struct sockaddr *, socklen_t *);
static ssize_t (*hook_real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*hook_real_send)(int, const void *, size_t, int);
static ssize_t (*hook_real_sendto)(int, const void *, size_t, int,
                                   const struct sockaddr *, socklen_t);
static ssize_t (*hook_real_sendmsg)(int, const struct msghdr *, int);
static int (*hook_real_socket)(int, int, int);
static int (*hook_real_socketpair)(int, int, int, int[2]);
static int (*hook_real_pipe)(int[2]);
static int (*hook_real_pipe2)(int[2], int);
static int (*hook_real_connect)(int, const struct sockaddr *, socklen_t);
static int (*hook_real_accept)(int, struct sockaddr *, socklen_t *);
static int (*hook_real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*hook_real_close)(int);
static int (*hook_real_dup)(int);
static int (*hook_real_dup2)(int, int);
static int (*hook_real_dup3)(int, int, int);
static int (*hook_real_fcntl)(int, int, ...);
static int (*hook_real_fcntl64)(int, int, ...);
static int (*hook_real_ioctl)(int, unsigned long, ...);
static int (*hook_real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*hook_real_poll)(struct pollfd *, nfds_t, int);

/* Resolves every next definition at load time, so that later calls (in a
 * signal handler too) only load a pointer. */
__attribute__((constructor)) static void hook_io_init(void)
{
    (void)HOOK_REAL(read), (void)HOOK_REAL(readv), (void)HOOK_REAL(write);
    (void)HOOK_REAL(writev), (void)HOOK_REAL(recv), (void)HOOK_REAL(recvfrom);
    (void)HOOK_REAL(recvmsg), (void)HOOK_REAL(send), (void)HOOK_REAL(sendto);
    (void)HOOK_REAL(sendmsg), (void)HOOK_REAL(socket);
    (void)HOOK_REAL(socketpair), (void)HOOK_REAL(pipe), (void)HOOK_REAL(pipe2);
    (void)HOOK_REAL(connect), (void)HOOK_REAL(accept);
    (void)HOOK_REAL(accept4), (void)HOOK_REAL(close), (void)HOOK_REAL(dup);
    (void)HOOK_REAL(dup2), (void)HOOK_REAL(dup3), (void)HOOK_REAL(fcntl);
    (void)HOOK_REAL(ioctl), (void)HOOK_REAL(setsockopt), (void)HOOK_REAL(poll);
    (void)HOOK_REAL(fcntl64);
}

/* ---- waiting --------------------------------------------------------- */

/* ms left before *deadline (ns, CLOCK_MONOTONIC), starting it from
 * timeout_ms at the first call; 0 for no timeout; -1 once expired. */
static int64_t time_left(uint32_t timeout_ms, uint64_t *deadline)
{
    struct timespec ts;
    uint64_t now;

    if (!timeout_ms)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (!*deadline) {
        *deadline = now + (uint64_t)timeout_ms * 1000000u;
        return timeout_ms;
    }
    if (now >= *deadline)
        return -1;
    return (int64_t)((*deadline - now + 999999u) / 1000000u);
}

/* Parks the caller until fd is ready for `out` (writing) or reading,
 * within the fd's timeout. Returns 0 (try again) or -1 with errno: EAGAIN
 * when the timeout expired, or lthread_wait_*'s error (EBADF: closed). */
static int park(struct hook_fd *e, int fd, bool out, uint64_t *deadline)
{
    uint32_t t = atomic_load_explicit(out ? &e->snd_ms : &e->rcv_ms,
                                      memory_order_relaxed);
    int64_t ms = time_left(t, deadline);
    int r;

    if (ms < 0) {
        errno = EAGAIN;
        return -1;
    }
    r = out ? lthread_wait_write(fd, (uint64_t)ms)
            : lthread_wait_read(fd, (uint64_t)ms);
    if (r == -2) {
        errno = EAGAIN;
        return -1;
    }
    return r;
}

/* Outside an lthread, after a call on fd failed with EAGAIN: 1 when the
 * user expects fd to block and it became ready within its timeout (try
 * again), else 0 with errno EAGAIN. */
static int block_outside(int fd, bool out)
{
    struct hook_fd *e = hook_fd_entry(fd, false);
    uint32_t st = hook_state(e), t;
    struct pollfd p = {.fd = fd, .events = out ? POLLOUT : POLLIN};
    int r;

    if ((st & (HOOK_MANAGED | HOOK_USER_NB)) != HOOK_MANAGED)
        return 0;
    t = atomic_load_explicit(out ? &e->snd_ms : &e->rcv_ms,
                             memory_order_relaxed);
    do
        r = HOOK_REAL(poll)(&p, 1,
                            t ? (int)(t > INT32_MAX ? INT32_MAX : t) : -1);
    while (r < 0 && errno == EINTR);
    errno = EAGAIN;
    return r > 0;
}

/* True when a call that failed with r < 0 should wait outside lthreads. */
#define AGAIN(r) ((r) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))

/* ---- receiving --------------------------------------------------------- */

/* The timeout to give the core's receive calls: the socket's, or (when
 * set to none through setsockopt after a wait) a very long one, since the
 * core reads SO_RCVTIMEO once per fd and scheduler. */
static uint64_t core_timeout(struct hook_fd *e)
{
    uint32_t t = atomic_load_explicit(&e->rcv_ms, memory_order_relaxed);

    if (!t && (hook_state(e) & HOOK_TIMEO))
        return (uint64_t)1 << 40;
    return t;
}

/* A core result: -2 (timed out) is the blocking call's EAGAIN. */
static ssize_t core_result(ssize_t r)
{
    if (r == -2) {
        errno = EAGAIN;
        return -1;
    }
    return r;
}

static ssize_t sock_recvfrom(struct hook_fd *e, int fd, void *buf, size_t len,
                             int flags, struct sockaddr *addr,
                             socklen_t *addrlen)
{
    lthread_hook_fd_set(fd, hook_fd_kind(hook_state(e)));
    return core_result(
        lthread_recvfrom(fd, buf, len, flags, addr, addrlen, core_timeout(e)));
}

static ssize_t sock_recvmsg(struct hook_fd *e, int fd, struct msghdr *m,
                            int flags)
{
    lthread_hook_fd_set(fd, hook_fd_kind(hook_state(e)));
    return core_result(lthread_recvmsg(fd, m, flags, core_timeout(e)));
}

/* read(2) or readv(2) of a managed pipe or FIFO that blocks. */
static ssize_t fifo_read(struct hook_fd *e, int fd, const struct iovec *iov,
                         int cnt)
{
    uint64_t deadline = 0;
    ssize_t n;

    for (;;) {
        n = HOOK_REAL(readv)(fd, iov, cnt);
        if (!AGAIN(n))
            return n;
        if (park(e, fd, false, &deadline) < 0)
            return -1;
    }
}

static __attribute__((noinline)) ssize_t hooked_read(int fd, void *buf,
                                                     size_t len)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(read)(fd, buf, len);
        while (AGAIN(n) && block_outside(fd, false));
        return n;
    }
    if (!(e = hook_fd_blocking(fd)))
        return HOOK_REAL(read)(fd, buf, len);
    if (hook_state(e) & HOOK_SOCKET)
        return sock_recvfrom(e, fd, buf, len, 0, NULL, NULL);
    return fifo_read(e, fd, &(struct iovec){buf, len}, 1);
}

HOOK_API ssize_t read(int fd, void *buf, size_t len)
{
    HOOK_PASS(read, fd, buf, len);
    return hooked_read(fd, buf, len);
}

static __attribute__((noinline)) ssize_t
hooked_readv(int fd, const struct iovec *iov, int cnt)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(readv)(fd, iov, cnt);
        while (AGAIN(n) && block_outside(fd, false));
        return n;
    }
    if (!(e = hook_fd_blocking(fd)))
        return HOOK_REAL(readv)(fd, iov, cnt);
    if (hook_state(e) & HOOK_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov,
                           .msg_iovlen = cnt < 0 ? 0 : (size_t)cnt};

        if (cnt < 0) {
            errno = EINVAL;
            return -1;
        }
        return sock_recvmsg(e, fd, &m, 0);
    }
    return fifo_read(e, fd, iov, cnt);
}

HOOK_API ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    HOOK_PASS(readv, fd, iov, cnt);
    return hooked_readv(fd, iov, cnt);
}

static __attribute__((noinline)) ssize_t hooked_recvfrom(int fd, void *buf,
                                                         size_t len, int flags,
                                                         struct sockaddr *addr,
                                                         socklen_t *addrlen)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
        while (AGAIN(n) && !(flags & MSG_DONTWAIT) && block_outside(fd, false));
        return n;
    }
    if ((flags & MSG_DONTWAIT) || !(e = hook_fd_blocking(fd)) ||
        !(hook_state(e) & HOOK_SOCKET))
        return HOOK_REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
    return sock_recvfrom(e, fd, buf, len, flags, addr, addrlen);
}

HOOK_API ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                          struct sockaddr *addr, socklen_t *addrlen)
{
    HOOK_PASS(recvfrom, fd, buf, len, flags, addr, addrlen);
    return hooked_recvfrom(fd, buf, len, flags, addr, addrlen);
}

HOOK_API ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    HOOK_PASS(recv, fd, buf, len, flags);
    return hooked_recvfrom(fd, buf, len, flags, NULL, NULL);
}

static __attribute__((noinline)) ssize_t
hooked_recvmsg(int fd, struct msghdr *m, int flags)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(recvmsg)(fd, m, flags);
        while (AGAIN(n) && !(flags & MSG_DONTWAIT) && block_outside(fd, false));
        return n;
    }
    if ((flags & MSG_DONTWAIT) || !(e = hook_fd_blocking(fd)) ||
        !(hook_state(e) & HOOK_SOCKET))
        return HOOK_REAL(recvmsg)(fd, m, flags);
    return sock_recvmsg(e, fd, m, flags);
}

HOOK_API ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
    HOOK_PASS(recvmsg, fd, m, flags);
    return hooked_recvmsg(fd, m, flags);
}

/* ---- sending ------------------------------------------------------------ */

/*
 * Writes m's iovecs to a managed fd that blocks, as the blocking call
 * would: everything, parking while the fd is full; on a timeout or an
 * error after part was written, the count written. Sockets go through
 * sendmsg(MSG_DONTWAIT) with the caller's flags (no MSG_NOSIGNAL added:
 * SIGPIPE is raised as libc raises it), pipes through writev().
 */
static ssize_t send_loop(struct hook_fd *e, int fd, const struct msghdr *msg,
                         int flags)
{
    struct iovec small[8], *v = small;
    struct msghdr m = *msg;
    uint64_t deadline = 0;
    size_t done = 0, cnt = msg->msg_iovlen;
    ssize_t n;
    bool sock = hook_state(e) & HOOK_SOCKET;

    if (cnt > 8 && !(v = malloc(cnt * sizeof(*v))))
        return -1; /* ENOMEM */
    if (cnt)
        memcpy(v, msg->msg_iov, cnt * sizeof(*v));
    m.msg_iov = v;
    for (;;) {
        n = sock ? HOOK_REAL(sendmsg)(fd, &m, flags | MSG_DONTWAIT)
                 : HOOK_REAL(writev)(fd, m.msg_iov, (int)m.msg_iovlen);
        if (n > 0) {
            done += (size_t)n;
            /* Drop what was written; the control data went with it. */
            m.msg_control = NULL;
            m.msg_controllen = 0;
            while (m.msg_iovlen && (size_t)n >= m.msg_iov->iov_len) {
                n -= (ssize_t)m.msg_iov->iov_len;
                m.msg_iov++;
                m.msg_iovlen--;
            }
            if (!m.msg_iovlen)
                break;
            m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + n;
            m.msg_iov->iov_len -= (size_t)n;
            continue;
        }
        if (n == 0 && !done && m.msg_iovlen) {
            /* A zero-length datagram, or only empty iovecs. */
            size_t left = 0;

            for (size_t i = 0; i < m.msg_iovlen; i++)
                left += m.msg_iov[i].iov_len;
            if (!left)
                break;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (!AGAIN(n) || park(e, fd, true, &deadline) < 0)
            break;
    }
    if (v != small) {
        int saved = errno;

        free(v);
        errno = saved;
    }
    return done ? (ssize_t)done : (n < 0 ? -1 : 0);
}

static __attribute__((noinline)) ssize_t
hooked_sendmsg(int fd, const struct msghdr *m, int flags)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(sendmsg)(fd, m, flags);
        while (AGAIN(n) && !(flags & MSG_DONTWAIT) && block_outside(fd, true));
        return n;
    }
    if ((flags & MSG_DONTWAIT) || !m || !(e = hook_fd_blocking(fd)) ||
        !(hook_state(e) & HOOK_SOCKET))
        return HOOK_REAL(sendmsg)(fd, m, flags);
    return send_loop(e, fd, m, flags);
}

HOOK_API ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    HOOK_PASS(sendmsg, fd, m, flags);
    return hooked_sendmsg(fd, m, flags);
}

static __attribute__((noinline)) ssize_t
hooked_sendto(int fd, const void *buf, size_t len, int flags,
              const struct sockaddr *addr, socklen_t addrlen)
{
    struct iovec v = {(void *)buf, len};
    struct msghdr m = {.msg_name = (void *)addr,
                       .msg_namelen = addr ? addrlen : 0,
                       .msg_iov = &v,
                       .msg_iovlen = 1};
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(sendto)(fd, buf, len, flags, addr, addrlen);
        while (AGAIN(n) && !(flags & MSG_DONTWAIT) && block_outside(fd, true));
        return n;
    }
    if ((flags & MSG_DONTWAIT) || !(e = hook_fd_blocking(fd)) ||
        !(hook_state(e) & HOOK_SOCKET))
        return HOOK_REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    return send_loop(e, fd, &m, flags);
}

HOOK_API ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    HOOK_PASS(sendto, fd, buf, len, flags, addr, addrlen);
    return hooked_sendto(fd, buf, len, flags, addr, addrlen);
}

HOOK_API ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    HOOK_PASS(send, fd, buf, len, flags);
    return hooked_sendto(fd, buf, len, flags, NULL, 0);
}

static __attribute__((noinline)) ssize_t
hooked_writev(int fd, const struct iovec *iov, int cnt)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(writev)(fd, iov, cnt);
        while (AGAIN(n) && block_outside(fd, true));
        return n;
    }
    if (cnt < 0 || !(e = hook_fd_blocking(fd)))
        return HOOK_REAL(writev)(fd, iov, cnt);
    return send_loop(e, fd,
                     &(struct msghdr){.msg_iov = (struct iovec *)iov,
                                      .msg_iovlen = (size_t)cnt},
                     0);
}

HOOK_API ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    HOOK_PASS(writev, fd, iov, cnt);
    return hooked_writev(fd, iov, cnt);
}

static __attribute__((noinline)) ssize_t hooked_write(int fd, const void *buf,
                                                      size_t len)
{
    struct hook_fd *e;
    ssize_t n;

    if (!hook_parkable()) {
        do
            n = HOOK_REAL(write)(fd, buf, len);
        while (AGAIN(n) && block_outside(fd, true));
        return n;
    }
    if (!(e = hook_fd_blocking(fd)))
        return HOOK_REAL(write)(fd, buf, len);
    return send_loop(
        e, fd,
        &(struct msghdr){.msg_iov = &(struct iovec){(void *)buf, len},
                         .msg_iovlen = 1},
        0);
}

HOOK_API ssize_t write(int fd, const void *buf, size_t len)
{
    HOOK_PASS(write, fd, buf, len);
    return hooked_write(fd, buf, len);
}

/* ---- making, connecting, closing ---------------------------------------- */

/* A socket made by a hook in an lthread: the table and the scheduler. */
static void sock_made(int fd, uint32_t state, uint32_t rcv, uint32_t snd)
{
    hook_fd_made(fd, state, rcv, snd);
    lthread_hook_fd_forget(fd);
    lthread_hook_fd_set(fd, hook_fd_kind(state | HOOK_SOCKET));
}

HOOK_API int socket(int domain, int type, int protocol)
{
    uint32_t st;
    int fd;

    if (!hook_parkable()) {
        fd = HOOK_REAL(socket)(domain, type, protocol);
        hook_fd_reset(fd);
        return fd;
    }
    fd = HOOK_REAL(socket)(domain, type | SOCK_NONBLOCK, protocol);
    if (fd < 0)
        return fd;
    st = (type & SOCK_NONBLOCK) ? HOOK_USER_NB : 0;
    if ((domain == AF_INET || domain == AF_INET6) &&
        (type & 0xf) == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP))
        st |= HOOK_TCP;
    sock_made(fd, st, 0, 0);
    return fd;
}

HOOK_API int socketpair(int domain, int type, int protocol, int sv[2])
{
    int r = HOOK_REAL(socketpair)(domain, type, protocol, sv);

    if (r == 0) {
        hook_fd_reset(sv[0]);
        hook_fd_reset(sv[1]);
    }
    return r;
}

HOOK_API int pipe2(int fds[2], int flags)
{
    int r = HOOK_REAL(pipe2)(fds, flags);

    if (r == 0) {
        hook_fd_reset(fds[0]);
        hook_fd_reset(fds[1]);
    }
    return r;
}

HOOK_API int pipe(int fds[2])
{
    int r = HOOK_REAL(pipe)(fds);

    if (r == 0) {
        hook_fd_reset(fds[0]);
        hook_fd_reset(fds[1]);
    }
    return r;
}

HOOK_API int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    uint64_t deadline = 0;
    struct hook_fd *e;
    uint32_t st;
    int c;

    if (!hook_parkable()) {
        do
            c = HOOK_REAL(accept4)(fd, addr, len, flags);
        while (AGAIN(c) && block_outside(fd, false));
        hook_fd_reset(c);
        return c;
    }
    if (!(e = hook_fd_blocking(fd))) {
        c = HOOK_REAL(accept4)(fd, addr, len, flags);
        hook_fd_reset(c);
        return c;
    }
    for (;;) {
        c = HOOK_REAL(accept4)(fd, addr, len, flags | SOCK_NONBLOCK);
        if (c >= 0)
            break;
        if (!AGAIN(c) || park(e, fd, false, &deadline) < 0)
            return -1;
    }
    /* Linux copies the listener's timeouts to the new socket. */
    st = hook_state(e);
    sock_made(c, (st & HOOK_TCP) | ((flags & SOCK_NONBLOCK) ? HOOK_USER_NB : 0),
              atomic_load_explicit(&e->rcv_ms, memory_order_relaxed),
              atomic_load_explicit(&e->snd_ms, memory_order_relaxed));
    return c;
}

HOOK_API int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

/* After connect() said EINPROGRESS on fd that blocks: waits (parking, or
 * in poll(2) outside lthreads) for the outcome within SO_SNDTIMEO.
 * Returns 0, or -1 with errno (EINPROGRESS when the timeout expired). */
static int connect_wait(struct hook_fd *e, int fd, bool parkable)
{
    uint64_t deadline = 0;
    socklen_t len = sizeof(int);
    int soerr = 0;

    if (parkable ? park(e, fd, true, &deadline) < 0
                 : !block_outside(fd, true)) {
        if (errno == EAGAIN)
            errno = EINPROGRESS;
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -1;
    if (soerr) {
        errno = soerr;
        return -1;
    }
    return 0;
}

HOOK_API int connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    bool parkable = hook_parkable();
    struct hook_fd *e;
    int r, pause_ms = 1;

    e = parkable ? hook_fd_blocking(fd) : hook_fd_entry(fd, false);
    if (!e || (hook_state(e) & (HOOK_MANAGED | HOOK_USER_NB)) != HOOK_MANAGED)
        return HOOK_REAL(connect)(fd, addr, addrlen);
    for (;;) {
        r = HOOK_REAL(connect)(fd, addr, addrlen);
        if (r == 0 || errno == EINTR)
            return r;
        if (errno == EINPROGRESS)
            return connect_wait(e, fd, parkable);
        if (errno != EAGAIN)
            return -1;
        /* A Unix socket whose listener's backlog is full: the blocking
         * call waits for room, with nothing to poll; retry after a pause
         * (bounded by SO_SNDTIMEO only through the retries' count). */
        if (parkable)
            lthread_sleep((uint64_t)pause_ms);
        else
            usleep((useconds_t)pause_ms * 1000u);
        pause_ms = pause_ms < 64 ? pause_ms * 2 : 64;
    }
}

HOOK_API int close(int fd)
{
    /* Before the close: the scheduler unregisters the fd (it must still
     * be open) and wakes its waiters with EBADF. */
    hook_fd_reset(fd);
    lthread_hook_fd_forget(fd);
    return HOOK_REAL(close)(fd);
}

HOOK_API int dup(int fd)
{
    int r = HOOK_REAL(dup)(fd);

    if (r >= 0) {
        lthread_hook_fd_forget(r);
        hook_fd_copy(fd, r);
    }
    return r;
}

/* dup2 and dup3: newfd's old file is closed by the call. */
static void dup_before(int oldfd, int newfd)
{
    if (oldfd != newfd && newfd >= 0)
        lthread_hook_fd_forget(newfd);
}

HOOK_API int dup2(int oldfd, int newfd)
{
    int r;

    dup_before(oldfd, newfd);
    r = HOOK_REAL(dup2)(oldfd, newfd);
    if (r >= 0 && oldfd != newfd)
        hook_fd_copy(oldfd, r);
    return r;
}

HOOK_API int dup3(int oldfd, int newfd, int flags)
{
    int r;

    dup_before(oldfd, newfd);
    r = HOOK_REAL(dup3)(oldfd, newfd, flags);
    if (r >= 0)
        hook_fd_copy(oldfd, r);
    return r;
}

/* ---- the blocking flag ----------------------------------------------------
 */

/* fcntl(2) through `next` (fcntl or fcntl64): F_GETFL and F_SETFL show
 * and set the user's O_NONBLOCK of a managed fd (the real one stays set);
 * F_DUPFD* copy the entry. Any context: the table is global. */
static int hook_fcntl(int (*next)(int, int, ...), int fd, int cmd, void *arg)
{
    struct hook_fd *e;
    uint32_t st;
    int r;

    switch (cmd) {
    case F_GETFL:
        r = next(fd, cmd);
        st = hook_state(hook_fd_entry(fd, false));
        if (r >= 0 && (st & HOOK_MANAGED))
            r = (r & ~O_NONBLOCK) | ((st & HOOK_USER_NB) ? O_NONBLOCK : 0);
        return r;
    case F_SETFL:
        e = hook_fd_entry(fd, false);
        st = hook_state(e);
        if (!(st & HOOK_MANAGED))
            return next(fd, cmd, arg);
        r = next(fd, cmd, (void *)((intptr_t)arg | O_NONBLOCK));
        if (r == 0)
            atomic_store_explicit(&e->state,
                                  ((intptr_t)arg & O_NONBLOCK)
                                      ? st | HOOK_USER_NB
                                      : st & ~HOOK_USER_NB,
                                  memory_order_relaxed);
        return r;
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        r = next(fd, cmd, arg);
        if (r >= 0) {
            lthread_hook_fd_forget(r);
            hook_fd_copy(fd, r);
        }
        return r;
    default:
        return next(fd, cmd, arg);
    }
}

HOOK_API int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return hook_fcntl(HOOK_REAL(fcntl), fd, cmd, arg);
}

HOOK_API int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return hook_fcntl(HOOK_REAL(fcntl64), fd, cmd, arg);
}

HOOK_API int ioctl(int fd, unsigned long req, ...)
{
    struct hook_fd *e;
    va_list ap;
    void *arg;
    uint32_t st;
    int one = 1, r;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (req != FIONBIO ||
        !((st = hook_state(e = hook_fd_entry(fd, false))) & HOOK_MANAGED))
        return HOOK_REAL(ioctl)(fd, req, arg);
    if (!arg) {
        errno = EFAULT;
        return -1;
    }
    r = HOOK_REAL(ioctl)(fd, req, &one); /* checks fd; keeps it set */
    if (r == 0)
        atomic_store_explicit(
            &e->state, *(int *)arg ? st | HOOK_USER_NB : st & ~HOOK_USER_NB,
            memory_order_relaxed);
    return r;
}

/* SO_RCVTIMEO and SO_SNDTIMEO are recorded for the waits. */
HOOK_API int setsockopt(int fd, int level, int opt, const void *val,
                        socklen_t len)
{
    int r = HOOK_REAL(setsockopt)(fd, level, opt, val, len);
    struct hook_fd *e;
    uint32_t st;

    if (r == 0 && level == SOL_SOCKET &&
        (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO) &&
        ((st = hook_state(e = hook_fd_entry(fd, false))) & HOOK_MANAGED) &&
        len >= sizeof(struct timeval)) {
        const struct timeval *tv = val;
        uint64_t ms = (uint64_t)tv->tv_sec * 1000u +
                      ((uint64_t)tv->tv_usec + 999u) / 1000u;

        atomic_store_explicit(opt == SO_RCVTIMEO ? &e->rcv_ms : &e->snd_ms,
                              ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms,
                              memory_order_relaxed);
        atomic_store_explicit(&e->state, st | HOOK_TIMEO, memory_order_relaxed);
    }
    return r;
}
