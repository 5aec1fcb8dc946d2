/* Linux poller: one epoll instance plus an eventfd for cross-thread wakes. */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Events returned by one epoll_wait(); more simply wait for the next call. */
#define EPOLL_BATCH 256

struct lthread__poller {
    int epfd;
    int wakefd; /* eventfd; its readiness means "someone woke us" */
    struct epoll_event events[EPOLL_BATCH];
};

int lthread__poller_create(struct lthread__poller **out)
{
    struct lthread__poller *p = malloc(sizeof(*p));
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    int err;

    if (!p)
        return -ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        err = -errno;
        goto out_free;
    }
    p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wakefd < 0) {
        err = -errno;
        goto out_close_ep;
    }
    /* Level-triggered: the wake stays visible until it is drained. */
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) < 0) {
        err = -errno;
        goto out_close_wake;
    }
    *out = p;
    return 0;

out_close_wake:
    close(p->wakefd);
out_close_ep:
    close(p->epfd);
out_free:
    free(p);
    return err;
}

void lthread__poller_destroy(struct lthread__poller *p)
{
    if (!p)
        return;
    close(p->wakefd);
    close(p->epfd);
    free(p);
}

int lthread__poller_add(struct lthread__poller *p, int fd)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
        .data.fd = fd,
    };

    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int lthread__poller_del(struct lthread__poller *p, int fd)
{
    struct epoll_event ev = {0}; /* ignored, but pre-2.6.9 kernels read it */

    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

/* Milliseconds for epoll_wait() from nanoseconds, rounded up: waking
 * before the deadline would only loop back here. Negative: no limit. */
static int ms_of(int64_t ns)
{
    if (ns < 0)
        return -1;
    if (ns > (int64_t)1000000 * 0x7fffffff)
        return 0x7fffffff;
    return (int)((ns + 999999) / 1000000);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lthread__poller_wait(struct lthread__poller *p, int64_t timeout_ns,
                         void (*ready)(void *ctx, int fd, unsigned bits),
                         void *ctx)
{
    /* Only a finite, non-zero wait needs its deadline. */
    int64_t deadline = timeout_ns > 0 ? now_ns() + timeout_ns : 0;
    int n, i, reported = 0;

    for (;;) {
        n = epoll_wait(p->epfd, p->events, EPOLL_BATCH, ms_of(timeout_ns));
        if (n >= 0)
            break;
        if (errno != EINTR)
            return -errno;
        /* A signal: wait only for what is left, or every signal would
         * push every timer back by the full timeout. */
        if (timeout_ns > 0) {
            int64_t now = now_ns();

            timeout_ns = deadline > now ? deadline - now : 0;
        }
    }

    for (i = 0; i < n; i++) {
        uint32_t e = p->events[i].events;
        unsigned bits = 0;

        if (p->events[i].data.fd < 0) {
            uint64_t count;
            /* Drain; another wake may land after this and is kept. */
            (void)!read(p->wakefd, &count, sizeof(count));
            continue;
        }
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
            bits |= LTHREAD__POLL_IN;
        if (e & EPOLLPRI)
            bits |= LTHREAD__POLL_PRI;
        if (e & (EPOLLRDHUP | EPOLLHUP))
            bits |= LTHREAD__POLL_HUP;
        if (e & EPOLLOUT)
            bits |= LTHREAD__POLL_OUT;
        if (e & (EPOLLERR | EPOLLHUP))
            bits |= LTHREAD__POLL_ERR;
        ready(ctx, p->events[i].data.fd, bits);
        reported++;
    }
    return reported;
}

void lthread__poller_wake(struct lthread__poller *p)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is full: a wake is pending anyway. */
    (void)!write(p->wakefd, &one, sizeof(one));
}

int lthread__poller_fd(const struct lthread__poller *p)
{
    return p->epfd;
}
