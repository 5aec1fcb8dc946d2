/*
 * Waiting on file descriptors: the per-fd table of parked lthreads and the
 * bridge from the poller's readiness reports to the ready queue.
 *
 * Each fd is registered with the poller once, for both directions, edge-
 * triggered, and stays registered until lthread_close() (or a call that
 * creates a new fd under the same number) forgets it. Callers always try
 * their I/O first and park only on EAGAIN, so an edge that arrives while
 * nobody waits is not needed later: the next call simply succeeds.
 *
 * Waiters of one fd, per direction:
 *
 *   sched->fds[fd]: readers --> lt --> lt        (linked by lt->next/prev)
 *                   writers --> lt
 *                   pollers --> node --> node    (lthread_poll() waits)
 *                                |
 *                   io_set { lt, nodes[0..n) }   (lt->wait_obj; one node
 *                                                 per distinct fd polled)
 *
 * An edge wakes every waiter of its direction: with edge-triggered
 * readiness, waking only one would strand the others if it consumed only
 * part of what is ready. Each woken lthread retries; losers park again.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "alloc.h"
#include "lthread_int.h"
#include "poller.h"

/* One fd of an lthread_poll() wait, linked in fds[fd].pollers. */
struct lthread__io_node {
    struct lthread__io_node *next;
    struct lthread__io_node *prev; /* NULL: first in fds[fd].pollers */
    struct lthread__io_set *set;
    int fd;          /* -1: not linked (unwatchable, dup) */
    unsigned events; /* LTHREAD__POLL_IN / _OUT wanted */
};

/* The fds of one lthread_poll() wait; lt->wait_obj while it waits. */
struct lthread__io_set {
    struct lthread *lt;
    nfds_t n;
    struct lthread__io_node nodes[];
};

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
        n = n > INT32_MAX / 2 ? INT32_MAX : n * 2;
    bigger = lthread__realloc(s->fds, (size_t)n * sizeof(*bigger));
    if (!bigger)
        return -ENOMEM;
    memset(bigger + s->nfds, 0, (size_t)(n - s->nfds) * sizeof(*bigger));
    s->fds = bigger;
    s->nfds = n;
    return 0;
}

/*
 * Makes sure fd is watched by the poller. Returns 0, -EPERM for a file
 * the poller refuses (a regular file: always ready), or a negative errno
 * (-EBADF for a closed fd). The table grows only for an fd the kernel
 * accepted, so a wild fd number cannot make it huge.
 *
 * With `verify`, an fd believed registered is registered again: the
 * kernel answers EEXIST if it still is; if it was not, the fd is a new
 * file under an old number (closed with close(2), reused outside the
 * library) and what was cached about the old one is dropped.
 */
static int fd_register(struct lthread__sched *s, int fd, bool verify)
{
    int err;

    if (fd < s->nfds && (s->fds[fd].flags & LTHREAD__FD_REGISTERED)) {
        if (!verify)
            return 0;
        err = lthread__poller_add(s->poller, fd);
        if (err == -EEXIST)
            return 0;
        s->fds[fd].flags = err ? 0 : LTHREAD__FD_REGISTERED;
        return err;
    }
    err = lthread__poller_add(s->poller, fd);
    if (err && err != -EEXIST)
        return err;
    if (fd_reserve(s, fd) < 0) {
        (void)lthread__poller_del(s->poller, fd);
        return -ENOMEM;
    }
    s->fds[fd].flags |= LTHREAD__FD_REGISTERED;
    return 0;
}

/* Longest a hint-parked waiter waits before its fd is re-checked (it is
 * re-checked after one to two periods). */
#define HINT_SWEEP_NS (250u * 1000000u)

/* Registers fd (verifying it unless `hinted`). Returns 0, 1 when the
 * fd is always ready (the poller refuses it: do not park), or a negative
 * errno. */
static int io_register(struct lthread__sched *s, int fd, bool hinted)
{
    int err;

    if (fd < 0)
        return -EBADF;
    err = fd_register(s, fd, !hinted);
    return err == -EPERM ? 1 : err;
}

/* Parks self on fd (registered) for `events`, up to timeout ms. */
static int io_park(struct lthread__sched *s, struct lthread *self, int fd,
                   unsigned events, uint64_t timeout)
{
    struct lthread__queue *q;

    q = (events & LTHREAD__POLL_IN) ? &s->fds[fd].readers : &s->fds[fd].writers;
    lthread__queue_push(q, self);
    self->io_fd = fd;
    self->io_events = (uint8_t)events;
    s->nio_waiting++;
    if ((events & LTHREAD__IO_HINTED) && !s->nhint_waiting++)
        s->hint_sweep_at = lthread__now_ns() + HINT_SWEEP_NS;
    return lthread__park(s, self, LTHREAD__WAIT_IO, NULL, timeout);
}

int lthread__io_wait(struct lthread__sched *s, struct lthread *self, int fd,
                     unsigned events, uint64_t timeout)
{
    int err = io_register(s, fd, events & LTHREAD__IO_HINTED);

    if (err)
        return err > 0 ? 0 : err;
    return io_park(s, self, fd, events, timeout);
}

int lthread__io_wait_sock(struct lthread__sched *s, struct lthread *self,
                          int fd, unsigned events, uint64_t *deadline_ns)
{
    bool hinted = events & LTHREAD__IO_HINTED;
    uint64_t ms;
    int err;

    *deadline_ns = 1; /* none */
    /* A hint park skips the check that the fd is still the file it knew,
     * unless a timeout cached for it would be used: an old socket's
     * timeout must not end the new one's wait (a cached "none" may, at
     * worst, let it wait longer until the next sweep). */
    if (hinted && fd >= 0 && fd < s->nfds &&
        (s->fds[fd].flags & LTHREAD__FD_TIMEO) &&
        (s->fds[fd].timeo_rcv_ms || s->fds[fd].timeo_snd_ms))
        events &= ~LTHREAD__IO_HINTED;
    err = io_register(s, fd, events & LTHREAD__IO_HINTED);
    if (err)
        return err > 0 ? 0 : err;
    ms = lthread__io_sock_timeout(s, fd, events);
    if (ms) /* (the clock only for sockets with a timeout) */
        *deadline_ns =
            lthread__now_ns() +
            (ms > UINT64_MAX / 4000000u ? UINT64_MAX / 4 : ms * 1000000u);
    return io_park(s, self, fd, events, ms);
}

/* A single-fd waiter leaves its fd's queue: the counts it was in. */
static void io_left(struct lthread__sched *s, struct lthread *lt)
{
    s->nio_waiting--;
    if (lt->io_events & LTHREAD__IO_HINTED)
        s->nhint_waiting--;
}

void lthread__io_sweep(struct lthread__sched *s, uint64_t now)
{
    for (int fd = 0; fd < s->nfds && s->nhint_waiting; fd++) {
        struct lthread *lt;
        bool stale = false;

        for (lt = s->fds[fd].readers.head; lt; lt = lt->next) {
            if (!(lt->io_events & LTHREAD__IO_HINTED))
                continue;
            if (lt->io_events & LTHREAD__IO_SEEN)
                stale = true;
            else
                lt->io_events |= LTHREAD__IO_SEEN;
        }
        if (!stale)
            continue;
        /* Parked on the hint since the last sweep: make sure the fd is
         * still the file we registered (a spurious wake at most). */
        (void)fd_register(s, fd, true);
        for (lt = s->fds[fd].readers.head; lt; lt = lt->next) {
            if (lt->io_events & LTHREAD__IO_HINTED) {
                lt->io_events &=
                    (uint8_t) ~(LTHREAD__IO_HINTED | LTHREAD__IO_SEEN);
                s->nhint_waiting--;
            }
        }
    }
    s->hint_sweep_at = now + HINT_SWEEP_NS;
}

/* ---- lthread_poll() sets ------------------------------------------------ */

/* Unlinks every node of set from its fd's pollers. */
static void set_unlink(struct lthread__sched *s, struct lthread__io_set *set)
{
    for (nfds_t i = 0; i < set->n; i++) {
        struct lthread__io_node *node = &set->nodes[i];

        if (node->fd < 0)
            continue;
        if (node->prev)
            node->prev->next = node->next;
        else
            s->fds[node->fd].pollers = node->next;
        if (node->next)
            node->next->prev = node->prev;
        node->fd = -1;
    }
}

/* Maps poll(2) events to the poller's directions. */
static unsigned poll_dirs(short events)
{
    unsigned dirs = 0;

    if (events & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND))
        dirs |= LTHREAD__POLL_IN;
#ifdef POLLRDHUP
    if (events & POLLRDHUP)
        dirs |= LTHREAD__POLL_IN;
#endif
    if (events & (POLLOUT | POLLWRNORM | POLLWRBAND))
        dirs |= LTHREAD__POLL_OUT;
    return dirs;
}

int lthread__io_wait_many(struct lthread__sched *s, struct lthread *self,
                          const struct pollfd *fds, nfds_t n, uint64_t timeout)
{
    struct lthread__io_set *set;
    int err;

    if (n > (SIZE_MAX - sizeof(*set)) / sizeof(set->nodes[0]))
        return -EINVAL;
    set = lthread__malloc(sizeof(*set) + n * sizeof(set->nodes[0]));
    if (!set)
        return -ENOMEM;
    set->lt = self;
    set->n = n;
    for (nfds_t i = 0; i < n; i++)
        set->nodes[i].fd = -1;
    for (nfds_t i = 0; i < n; i++) {
        struct lthread__io_node *node = &set->nodes[i], *head;
        int fd = fds[i].fd;

        if (fd < 0)
            continue; /* poll(2) ignores it too */
        err = fd_register(s, fd, true);
        if (err == -EPERM)
            continue; /* a regular file: poll(2) saw it ready */
        if (err)
            goto out_unlink;
        head = s->fds[fd].pollers;
        if (head && head->set == set) {
            /* The same fd twice: only this set links to fds[fd] while it
             * is being built, so its node is the head. One node per fd
             * keeps the wake loop in io_ready() simple. */
            head->events |= poll_dirs(fds[i].events);
            continue;
        }
        node->set = set;
        node->fd = fd;
        node->events = poll_dirs(fds[i].events);
        node->prev = NULL;
        node->next = head;
        if (head)
            head->prev = node;
        s->fds[fd].pollers = node;
    }
    s->nio_waiting++;
    self->io_fd = -1;
    /* The waker or the canceller (also on -ENOMEM) frees set. */
    return lthread__park(s, self, LTHREAD__WAIT_IO, set, timeout);

out_unlink:
    set_unlink(s, set);
    lthread__free(set);
    return err;
}

/* ---- waking and cancelling ---------------------------------------------- */

/* Unlinks a WAIT_IO lthread from its fd or fds (timeout, destroy). */
static bool io_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__io_set *set = lt->wait_obj;

    if (set) {
        set_unlink(s, set);
        lthread__free(set);
    } else {
        struct lthread__fd *e = &s->fds[lt->io_fd];

        lthread__queue_remove(
            (lt->io_events & LTHREAD__POLL_IN) ? &e->readers : &e->writers, lt);
        io_left(s, lt);
        return true;
    }
    s->nio_waiting--;
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_io = {"fd", io_cancel, NULL};

/* Wakes every single-fd waiter in q with `result`. */
static void wake_queue(struct lthread__sched *s, struct lthread__queue *q,
                       int result)
{
    struct lthread *lt;

    while ((lt = lthread__queue_pop(q))) {
        io_left(s, lt);
        lthread__unpark(s, lt, result);
    }
}

/* Wakes the lthread_poll() waiter of set; it re-polls to learn why. */
static void wake_set(struct lthread__sched *s, struct lthread__io_set *set)
{
    struct lthread *lt = set->lt;

    set_unlink(s, set);
    lthread__free(set);
    s->nio_waiting--;
    lthread__unpark(s, lt, 0);
}

static void io_ready(void *ctx, int fd, unsigned bits)
{
    struct lthread__sched *s = ctx;
    struct lthread__io_node *node, *next;
    struct lthread__fd *e;

    if (fd < 0 || fd >= s->nfds)
        return;
    e = &s->fds[fd];
    if (bits & (LTHREAD__POLL_IN | LTHREAD__POLL_ERR))
        e->flags &= (uint16_t)~LTHREAD__FD_DRAINED;
    if (bits & (LTHREAD__POLL_PRI | LTHREAD__POLL_HUP | LTHREAD__POLL_ERR))
        e->flags |= LTHREAD__FD_NOHINT;
    /* An error or hang-up wakes both: each retries and sees it. */
    if (bits & (LTHREAD__POLL_IN | LTHREAD__POLL_ERR))
        wake_queue(s, &e->readers, 0);
    if (bits & (LTHREAD__POLL_OUT | LTHREAD__POLL_ERR))
        wake_queue(s, &e->writers, 0);
    /* A set has one node per fd, so waking it unlinks only `node` from
     * this list: `next` stays valid. */
    for (node = e->pollers; node; node = next) {
        next = node->next;
        if ((node->events & bits) || (bits & LTHREAD__POLL_ERR))
            wake_set(s, node->set);
    }
}

void lthread__io_poll(struct lthread__sched *s, int64_t timeout_ns)
{
    /* An error here (EBADF, ENOMEM) cannot be given to anyone; the loop
     * retries on its next round. */
    s->stats.polls++;
    (void)lthread__poller_wait(s->poller, timeout_ns, io_ready, s);
}

/* Wakes everyone waiting on e: single-fd waiters with `result`, poll sets
 * with 0. */
static void wake_all(struct lthread__sched *s, struct lthread__fd *e,
                     int result)
{
    wake_queue(s, &e->readers, result);
    wake_queue(s, &e->writers, result);
    while (e->pollers)
        wake_set(s, e->pollers->set);
}

void lthread__io_forget(struct lthread__sched *s, int fd)
{
    struct lthread__fd *e;

    if (!s || fd < 0 || fd >= s->nfds)
        return;
    e = &s->fds[fd];
    wake_all(s, e, -EBADF);
    if (e->flags & LTHREAD__FD_REGISTERED) {
        /* Fails harmlessly when fd is already a different file. */
        (void)lthread__poller_del(s->poller, fd);
    }
    e->flags = 0;
}

void lthread__io_fd_new(struct lthread__sched *s, int fd, unsigned flags)
{
    struct lthread__fd *e;

    /* Without an entry there is nothing stale; the flags are only a
     * cache, so failing to grow the table costs a syscall later. */
    if (fd < 0 || fd_reserve(s, fd) < 0)
        return;
    e = &s->fds[fd];
    /* Waiters here waited on an fd closed with close(2): it is gone. */
    wake_all(s, e, -EBADF);
    e->flags = (uint16_t)flags;
}

int lthread__io_fd_prep(struct lthread__sched *s, int fd, unsigned want)
{
    unsigned flags;

    if (fd < 0)
        return -EBADF;
    flags = fd < s->nfds ? s->fds[fd].flags : 0;
    if ((want & LTHREAD__FD_NONBLOCK) && !(flags & LTHREAD__FD_NONBLOCK)) {
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0)
            return -errno;
        if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
        flags |= LTHREAD__FD_NONBLOCK;
    }
    if ((want & LTHREAD__FD_KNOWN) && !(flags & LTHREAD__FD_KNOWN)) {
        struct stat st;

        if (fstat(fd, &st) < 0)
            return -errno;
        flags |= LTHREAD__FD_KNOWN;
        if (S_ISSOCK(st.st_mode))
            flags |= LTHREAD__FD_SOCKET;
        else if (S_ISFIFO(st.st_mode))
            flags |= LTHREAD__FD_FIFO;
    }
    /* The fd is valid (a syscall said so), so the table may grow to it;
     * if it cannot, the flags are simply learnt again next time. */
    if (fd_reserve(s, fd) == 0)
        s->fds[fd].flags = (uint16_t)flags;
    return (int)flags;
}

uint64_t lthread__io_sock_timeout(struct lthread__sched *s, int fd,
                                  unsigned dir)
{
    struct lthread__fd *e;

    if (fd < 0 || fd_reserve(s, fd) < 0)
        return 0;
    e = &s->fds[fd];
    if (!(e->flags & LTHREAD__FD_TIMEO)) {
        struct timeval tv[2] = {{0, 0}, {0, 0}};
        socklen_t len = sizeof(tv[0]);
        int opt[2] = {SO_RCVTIMEO, SO_SNDTIMEO};
        uint64_t ms[2];

        for (int i = 0; i < 2; i++) {
            len = sizeof(tv[i]);
            if (getsockopt(fd, SOL_SOCKET, opt[i], &tv[i], &len) < 0)
                tv[i].tv_sec = tv[i].tv_usec = 0; /* not a socket */
            ms[i] = (uint64_t)tv[i].tv_sec * 1000u +
                    (uint64_t)(tv[i].tv_usec + 999) / 1000u;
            if (ms[i] > UINT32_MAX)
                ms[i] = UINT32_MAX;
        }
        e->timeo_rcv_ms = (uint32_t)ms[0];
        e->timeo_snd_ms = (uint32_t)ms[1];
        e->flags |= LTHREAD__FD_TIMEO;
    }
    return (dir & LTHREAD__POLL_IN) ? e->timeo_rcv_ms : e->timeo_snd_ms;
}

int lthread__io_each_waiter(struct lthread__sched *s,
                            int (*fn)(struct lthread *lt, void *arg), void *arg)
{
    for (int fd = 0; fd < s->nfds; fd++) {
        struct lthread__fd *e = &s->fds[fd];
        struct lthread *lt;
        int r;

        for (lt = e->readers.head; lt; lt = lt->next)
            if ((r = fn(lt, arg)))
                return r;
        for (lt = e->writers.head; lt; lt = lt->next)
            if ((r = fn(lt, arg)))
                return r;
        /* A poll set is linked at every fd it watches: visit it at its
         * first linked node only. */
        for (struct lthread__io_node *n = e->pollers; n; n = n->next) {
            struct lthread__io_node *first = n->set->nodes;

            while (first->fd < 0)
                first++;
            if (first == n && (r = fn(n->set->lt, arg)))
                return r;
        }
    }
    return 0;
}
