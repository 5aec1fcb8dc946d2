/*
 * Waiting on file descriptors: the per-fd table of parked lthreads and the
 * bridge from the poller's readiness reports to the ready queue.
 *
 * Each fd is registered with the poller once, for both directions, edge-
 * triggered, and stays registered until lthread_close() (or a call that
 * creates a new fd under the same number) forgets it. Callers always try
 * their I/O first and park only on EAGAIN, so an edge that arrives while
 * nobody waits is not needed later: the next call simply succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lthread_int.h"
#include "poller.h"

int lthread__io_init(struct lthread__sched *s)
{
    return lthread__poller_create(&s->poller);
}

void lthread__io_free(struct lthread__sched *s)
{
    lthread__poller_destroy(s->poller);
    s->poller = NULL;
    lthread__free(s->fds);
    s->fds = NULL;
    s->nfds = 0;
}

/* Makes s->fds[fd] exist. Returns 0 or -ENOMEM. */
static int fd_reserve(struct lthread__sched *s, int fd)
{
    struct lthread__fd *bigger;
    int n;

    if (fd < s->nfds)
        return 0;
    n = s->nfds ? s->nfds : 64;
    while (n <= fd)
        n *= 2;
    bigger = lthread__realloc(s->fds, (size_t)n * sizeof(*bigger));
    if (!bigger)
        return -ENOMEM;
    memset(bigger + s->nfds, 0, (size_t)(n - s->nfds) * sizeof(*bigger));
    s->fds = bigger;
    s->nfds = n;
    return 0;
}

int lthread__io_wait(struct lthread__sched *s, struct lthread *self, int fd,
                     unsigned events, uint64_t timeout)
{
    struct lthread__fd *e;
    struct lthread **slot;
    int err;

    if (fd < 0)
        return -EBADF;
    err = fd_reserve(s, fd);
    if (err)
        return err;
    e = &s->fds[fd];
    if (!e->registered) {
        err = lthread__poller_add(s->poller, fd);
        if (err && err != -EEXIST)
            return err;
        e->registered = true;
    }
    slot = (events & LTHREAD__POLL_IN) ? &e->reader : &e->writer;
    if (*slot)
        return -EBUSY; /* one waiter per fd and direction */
    *slot = self;
    self->io_fd = fd;
    self->io_events = (uint8_t)events;
    s->nio_waiting++;
    err = lthread__park(s, self, LTHREAD__WAIT_IO, NULL, timeout);
    if (err == -ENOMEM) { /* never parked */
        *slot = NULL;
        s->nio_waiting--;
    }
    return err;
}

void lthread__io_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__fd *e = &s->fds[lt->io_fd];

    if (e->reader == lt)
        e->reader = NULL;
    if (e->writer == lt)
        e->writer = NULL;
    s->nio_waiting--;
}

/* Wakes whoever waits on *slot with `result`. */
static void io_wake(struct lthread__sched *s, struct lthread **slot,
                    int result)
{
    struct lthread *lt = *slot;

    if (!lt)
        return;
    *slot = NULL;
    s->nio_waiting--;
    lthread__unpark(s, lt, result);
}

static void io_ready(void *ctx, int fd, unsigned bits)
{
    struct lthread__sched *s = ctx;
    struct lthread__fd *e;

    if (fd >= s->nfds)
        return;
    e = &s->fds[fd];
    /* An error or hang-up wakes both: each retries and sees it. */
    if (bits & (LTHREAD__POLL_IN | LTHREAD__POLL_ERR))
        io_wake(s, &e->reader, 0);
    if (bits & (LTHREAD__POLL_OUT | LTHREAD__POLL_ERR))
        io_wake(s, &e->writer, 0);
}

void lthread__io_poll(struct lthread__sched *s, int64_t timeout_ns)
{
    /* An error here (EBADF, ENOMEM) cannot be given to anyone; the loop
     * retries on its next round. */
    (void)lthread__poller_wait(s->poller, timeout_ns, io_ready, s);
}

void lthread__io_forget(struct lthread__sched *s, int fd)
{
    struct lthread__fd *e;

    if (!s || fd < 0 || fd >= s->nfds)
        return;
    e = &s->fds[fd];
    io_wake(s, &e->reader, -EBADF);
    io_wake(s, &e->writer, -EBADF);
    if (e->registered) {
        /* Fails harmlessly when fd is already a different file. */
        (void)lthread__poller_del(s->poller, fd);
        e->registered = false;
    }
}
