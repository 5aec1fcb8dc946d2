/*
 * The waiting hooks (poll, ppoll, select, epoll_wait, epoll_pwait), the
 * sleeps, and name resolution in a compute section. Inside an lthread on
 * its scheduler they park only the caller; elsewhere, and for a poll that
 * does not wait (timeout 0: the core's own polls), they pass straight
 * through.
 *
 * Signal masks of ppoll() and epoll_pwait() are not applied inside an
 * lthread: the caller's pthread runs other lthreads meanwhile, so its mask
 * cannot change for one of them.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <lthread.h>

#include "hook/hook_int.h"
#include "hook/iface.h"

#define HOOK_API __attribute__((visibility("default")))

static int (*hook_real_poll)(struct pollfd *, nfds_t, int);
static int (*hook_real_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
                              const sigset_t *);
static int (*hook_real_select)(int, fd_set *, fd_set *, fd_set *,
                               struct timeval *);
static int (*hook_real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*hook_real_epoll_pwait)(int, struct epoll_event *, int, int,
                                    const sigset_t *);
static unsigned (*hook_real_sleep)(unsigned);
static int (*hook_real_usleep)(useconds_t);
static int (*hook_real_nanosleep)(const struct timespec *, struct timespec *);
static int (*hook_real_getaddrinfo)(const char *, const char *,
                                    const struct addrinfo *,
                                    struct addrinfo **);
static struct hostent *(*hook_real_gethostbyname)(const char *);

__attribute__((constructor)) static void hook_misc_init(void)
{
    (void)HOOK_REAL(poll), (void)HOOK_REAL(ppoll), (void)HOOK_REAL(select);
    (void)HOOK_REAL(epoll_wait), (void)HOOK_REAL(epoll_pwait);
    (void)HOOK_REAL(sleep), (void)HOOK_REAL(usleep);
    (void)HOOK_REAL(nanosleep), (void)HOOK_REAL(getaddrinfo);
    (void)HOOK_REAL(gethostbyname);
}

/* A timespec in ms, rounded up, at most INT_MAX; -1 for NULL. */
static int ts_ms(const struct timespec *ts)
{
    uint64_t ms;

    if (!ts)
        return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -2;
    ms = (uint64_t)ts->tv_sec * 1000u +
         ((uint64_t)ts->tv_nsec + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

HOOK_API int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (timeout == 0 || !hook_parkable())
        return HOOK_REAL(poll)(fds, n, timeout);
    return lthread_poll(fds, n, timeout < 0 ? -1 : timeout);
}

HOOK_API int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                   const sigset_t *mask)
{
    int ms = ts_ms(ts);

    if (ms == 0 || !hook_parkable())
        return HOOK_REAL(ppoll)(fds, n, ts, mask);
    if (ms == -2) {
        errno = EINVAL;
        return -1;
    }
    return lthread_poll(fds, n, ms);
}

/* select(2) as a poll of the fds in the sets; the sets and *tv (the time
 * left, as Linux does) are rewritten. */
static int select_park(int nfds, fd_set *r, fd_set *w, fd_set *x,
                       struct timeval *tv)
{
    struct pollfd *p;
    uint64_t start = now_ms();
    int n = 0, ready = 0, ms = -1;

    if (tv) {
        uint64_t t = (uint64_t)tv->tv_sec * 1000u +
                     ((uint64_t)tv->tv_usec + 999u) / 1000u;

        ms = t > INT_MAX ? INT_MAX : (int)t;
    }
    if (!(p = malloc((size_t)(nfds ? nfds : 1) * sizeof(*p))))
        return -1;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
                           (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
                           (x && FD_ISSET(fd, x) ? POLLPRI : 0));

        if (ev)
            p[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    if (lthread_poll(p, (nfds_t)n, ms) < 0) {
        int saved = errno;

        free(p);
        errno = saved;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (p[i].revents & POLLNVAL) {
            free(p);
            errno = EBADF;
            return -1;
        }
    }
    if (r)
        FD_ZERO(r);
    if (w)
        FD_ZERO(w);
    if (x)
        FD_ZERO(x);
    for (int i = 0; i < n; i++) {
        short re = p[i].revents, ev = p[i].events;

        if (r && (ev & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR)))
            FD_SET(p[i].fd, r), ready++;
        if (w && (ev & POLLOUT) && (re & (POLLOUT | POLLERR)))
            FD_SET(p[i].fd, w), ready++;
        if (x && (ev & POLLPRI) && (re & POLLPRI))
            FD_SET(p[i].fd, x), ready++;
    }
    free(p);
    if (tv) {
        uint64_t spent = now_ms() - start, left;

        left = spent >= (uint64_t)ms ? 0 : (uint64_t)ms - spent;
        tv->tv_sec = (time_t)(left / 1000u);
        tv->tv_usec = (suseconds_t)(left % 1000u) * 1000;
    }
    return ready;
}

HOOK_API int select(int nfds, fd_set *r, fd_set *w, fd_set *x,
                    struct timeval *tv)
{
    if ((tv && !tv->tv_sec && !tv->tv_usec) || !hook_parkable())
        return HOOK_REAL(select)(nfds, r, w, x, tv);
    if (nfds < 0 || nfds > FD_SETSIZE ||
        (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))) {
        errno = EINVAL;
        return -1;
    }
    return select_park(nfds, r, w, x, tv);
}

/* One level of epoll: the library's epoll fd is readable when it has
 * events; wait for that, then collect them without waiting. */
static int epoll_park(int epfd, struct epoll_event *ev, int max, int timeout)
{
    uint64_t deadline = timeout > 0 ? now_ms() + (uint64_t)timeout : 0;
    int r;

    for (;;) {
        r = HOOK_REAL(epoll_wait)(epfd, ev, max, 0);
        if (r != 0)
            return r;
        if (timeout > 0) {
            uint64_t now = now_ms();

            if (now >= deadline)
                return 0;
            r = lthread_wait_read(epfd, deadline - now);
        } else {
            r = lthread_wait_read(epfd, 0);
        }
        if (r == -2)
            return 0;
        if (r < 0)
            return -1;
    }
}

HOOK_API int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (timeout == 0 || !hook_parkable())
        return HOOK_REAL(epoll_wait)(epfd, ev, max, timeout);
    if (max <= 0 || !ev) {
        errno = max <= 0 ? EINVAL : EFAULT;
        return -1;
    }
    return epoll_park(epfd, ev, max, timeout);
}

HOOK_API int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                         const sigset_t *mask)
{
    if (timeout == 0 || !hook_parkable())
        return HOOK_REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
    if (max <= 0 || !ev) {
        errno = max <= 0 ? EINVAL : EFAULT;
        return -1;
    }
    return epoll_park(epfd, ev, max, timeout);
}

/* ---- sleeping -------------------------------------------------------------
 */

HOOK_API unsigned sleep(unsigned s)
{
    uint64_t start, spent;

    if (!hook_parkable())
        return HOOK_REAL(sleep)(s);
    start = now_ms();
    lthread_sleep((uint64_t)s * 1000u);
    /* Woken early (lthread_wakeup): the seconds left, as after a signal. */
    spent = now_ms() - start;
    return spent >= (uint64_t)s * 1000u
               ? 0
               : (unsigned)(((uint64_t)s * 1000u - spent + 999u) / 1000u);
}

HOOK_API int usleep(useconds_t us)
{
    if (!hook_parkable())
        return HOOK_REAL(usleep)(us);
    return lthread_sleep(((uint64_t)us + 999u) / 1000u) < 0 ? -1 : 0;
}

HOOK_API int nanosleep(const struct timespec *req, struct timespec *rem)
{
    int ms;

    if (!hook_parkable())
        return HOOK_REAL(nanosleep)(req, rem);
    if (!req) {
        errno = EFAULT;
        return -1;
    }
    if ((ms = ts_ms(req)) == -2) {
        errno = EINVAL;
        return -1;
    }
    if (lthread_sleep((uint64_t)ms) < 0)
        return -1;
    if (rem)
        rem->tv_sec = 0, rem->tv_nsec = 0;
    return 0;
}

/* ---- name resolution ------------------------------------------------------
 */

/*
 * In a compute section the lthread runs on a compute pthread, whose errno
 * and h_errno are not its scheduler's: they are read there and set again
 * once back, each in a function of its own (lthread_compute_begin(3)).
 */
__attribute__((noinline)) static int errno_get(void)
{
    return errno;
}

__attribute__((noinline)) static void errno_set(int e)
{
    errno = e;
}

__attribute__((noinline)) static int h_errno_get(void)
{
    return h_errno;
}

__attribute__((noinline)) static void h_errno_set(int e)
{
    h_errno = e;
}

HOOK_API int getaddrinfo(const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res)
{
    int r, e;

    if (!hook_parkable() || lthread_compute_begin() != 0)
        return HOOK_REAL(getaddrinfo)(node, service, hints, res);
    r = HOOK_REAL(getaddrinfo)(node, service, hints, res);
    e = errno_get();
    lthread_compute_end();
    errno_set(e);
    return r;
}

HOOK_API struct hostent *gethostbyname(const char *name)
{
    struct hostent *h;
    int e;

    if (!hook_parkable() || lthread_compute_begin() != 0)
        return HOOK_REAL(gethostbyname)(name);
    h = HOOK_REAL(gethostbyname)(name);
    e = h_errno_get();
    lthread_compute_end();
    h_errno_set(e);
    return h;
}
