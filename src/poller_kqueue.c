/*
 * BSD and macOS poller: one kqueue; per fd, an EVFILT_READ and an
 * EVFILT_WRITE filter with EV_CLEAR (edge-triggered, as poller.h asks);
 * an EVFILT_USER event for wakes from other pthreads.
 *
 * Not compiled for a real kqueue here (Linux has none, and Debian ships no
 * BSD headers): tests/test_poller_kqueue.c builds this file on Linux
 * against a test double of <sys/event.h> and kevent(), twice (FreeBSD's
 * flags, and macOS's with EV_OOBAND), and runs every path of it. On a real
 * FreeBSD or macOS, tests/test_poller.c runs the same readiness table
 * through the real kqueue.
 *
 * Differences from the epoll backend, and why they do not matter above:
 *  - kqueue keys registrations by fd, epoll by (fd, open file): a close(2)
 *    drops the fd's filters here even when the file lives on in a dup.
 *    Either way io.c re-registers a new fd before waiting on it.
 *  - kqueue accepts regular files (always readable); add() refuses them
 *    with -EPERM, as epoll does, so that io.c treats them alike.
 *  - Some fds support one filter only (the read end of a pipe cannot be
 *    watched for writing on some systems): add() succeeds if either
 *    filter could be added, since the other direction cannot happen.
 *  - Adding a watched fd again only updates it: never -EEXIST (io.c
 *    treats both the same).
 *  - An fd ready both ways is reported as two events, one per filter.
 *  - FreeBSD does not flag urgent (TCP out-of-band) data in kevents; only
 *    macOS's EV_OOBAND gives LTHREAD__POLL_PRI.
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Events returned by one kevent(); more simply wait for the next call. */
#define KQ_BATCH 256
/* The EVFILT_USER event's ident: a namespace of its own, not an fd. */
#define WAKE_IDENT 1

struct lthread__poller {
    int kq;
    struct kevent events[KQ_BATCH];
};

int lthread__poller_create(struct lthread__poller **out)
{
    struct lthread__poller *p = malloc(sizeof(*p));
    struct kevent ev;
    int err;

    if (!p)
        return -ENOMEM;
    p->kq = kqueue();
    if (p->kq < 0) {
        err = -errno;
        goto out_free;
    }
    /* A kqueue is not inherited by fork(); keep it out of exec too. */
    (void)fcntl(p->kq, F_SETFD, FD_CLOEXEC);
    /* EV_CLEAR: a trigger is seen once, then resets by itself. */
    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(p->kq, &ev, 1, NULL, 0, NULL) < 0) {
        err = -errno;
        goto out_close;
    }
    *out = p;
    return 0;

out_close:
    close(p->kq);
out_free:
    free(p);
    return err;
}

void lthread__poller_destroy(struct lthread__poller *p)
{
    if (!p)
        return;
    close(p->kq);
    free(p);
}

/*
 * Applies `action` (EV_ADD | EV_CLEAR, or EV_DELETE) to both filters of
 * fd. EV_RECEIPT makes kevent() report each change's result in the event
 * list (EV_ERROR, data = errno or 0) instead of stopping at the first
 * failure. Returns 0 if at least one change took, else the first error.
 */
static int both_filters(struct lthread__poller *p, int fd, unsigned action)
{
    struct kevent ch[2], res[2];
    int n, i, ok = 0, err = 0;

    EV_SET(&ch[0], (uintptr_t)fd, EVFILT_READ, action | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[1], (uintptr_t)fd, EVFILT_WRITE, action | EV_RECEIPT, 0, 0,
           NULL);
    n = kevent(p->kq, ch, 2, res, 2, NULL);
    if (n < 0)
        return -errno;
    for (i = 0; i < n; i++) {
        if (!(res[i].flags & EV_ERROR) || res[i].data == 0)
            ok = 1;
        else if (!err)
            err = -(int)res[i].data;
    }
    return ok ? 0 : (err ? err : -EINVAL);
}

int lthread__poller_add(struct lthread__poller *p, int fd)
{
    struct stat st;

    /* Parity with epoll, which refuses regular files and directories. */
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return -EPERM;
    /* EV_ADD on a watched fd only updates it: never -EEXIST here. */
    return both_filters(p, fd, EV_ADD | EV_CLEAR);
}

int lthread__poller_del(struct lthread__poller *p, int fd)
{
    return both_filters(p, fd, EV_DELETE);
}

/*
 * What one kevent tells io.c: LTHREAD__POLL_* bits, or 0 for an event that
 * is not an fd's readiness (a wake, a failed change, another filter). Not
 * static: tests/test_poller_kqueue.c checks it case by case.
 */
unsigned lthread__kevent_bits(const struct kevent *ev);

unsigned lthread__kevent_bits(const struct kevent *ev)
{
    unsigned bits;

    if (ev->flags & EV_ERROR)
        return 0; /* a failed change; none are made by a wait */
    switch (ev->filter) {
    case EVFILT_READ:
        bits = LTHREAD__POLL_IN; /* data, or EV_EOF: the peer is done */
        if (ev->flags & EV_EOF)
            bits |= LTHREAD__POLL_HUP;
#ifdef EV_OOBAND /* macOS: urgent data */
        if (ev->flags & EV_OOBAND)
            bits |= LTHREAD__POLL_PRI;
#endif
        break;
    case EVFILT_WRITE:
        bits = LTHREAD__POLL_OUT; /* room, or EV_EOF: EPIPE next */
        break;
    default:
        return 0; /* EVFILT_USER: a wake, which EV_CLEAR already reset */
    }
    /* EV_EOF with fflags set carries a socket error: wake both. */
    if ((ev->flags & EV_EOF) && ev->fflags)
        bits |= LTHREAD__POLL_ERR;
    return bits;
}

static int64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void set_timespec(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

int lthread__poller_wait(struct lthread__poller *p, int64_t timeout_ns,
                         void (*ready)(void *ctx, int fd, unsigned bits),
                         void *ctx)
{
    struct timespec ts, *tsp = NULL;
    int64_t deadline = 0;
    int n, i, reported = 0;

    if (timeout_ns >= 0) {
        set_timespec(&ts, timeout_ns);
        tsp = &ts;
        if (timeout_ns > 0) /* (a deadline past 2^62 ns: never) */
            deadline =
                timeout_ns > INT64_MAX / 2 ? INT64_MAX : now_ns() + timeout_ns;
    }
    /* A signal ends the wait early: wait again, only for what is left of
     * the time asked (0 when it is over: one more look). */
    for (;;) {
        n = kevent(p->kq, NULL, 0, p->events, KQ_BATCH, tsp);
        if (n >= 0 || errno != EINTR)
            break;
        if (timeout_ns > 0) {
            int64_t left = deadline - now_ns();

            set_timespec(&ts, left > 0 ? left : 0);
        }
    }
    if (n < 0)
        return -errno;

    for (i = 0; i < n; i++) {
        unsigned bits = lthread__kevent_bits(&p->events[i]);

        if (!bits)
            continue;
        ready(ctx, (int)p->events[i].ident, bits);
        reported++;
    }
    return reported;
}

void lthread__poller_wake(struct lthread__poller *p)
{
    struct kevent ev;

    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    (void)kevent(p->kq, &ev, 1, NULL, 0, NULL);
}

int lthread__poller_fd(const struct lthread__poller *p)
{
    return p->kq;
}
