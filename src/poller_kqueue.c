/*
 * BSD and macOS poller: one kqueue; per fd, an EVFILT_READ and an
 * EVFILT_WRITE filter with EV_CLEAR (edge-triggered, as poller.h asks);
 * an EVFILT_USER event for wakes from other pthreads.
 *
 * UNTESTED: written on Linux, where it cannot be compiled (the Makefile
 * builds it only on FreeBSD and macOS). Checked by reading against the
 * kqueue(2) manuals of FreeBSD 13 and macOS; the first build on either
 * should run `make check` before trusting it.
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
 *  - An fd ready both ways is reported as two events, one per filter.
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
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

int lthread__poller_wait(struct lthread__poller *p, int64_t timeout_ns,
                         void (*ready)(void *ctx, int fd, unsigned bits),
                         void *ctx)
{
    struct timespec ts, *tsp = NULL;
    int n, i, reported = 0;

    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* Retrying with the full timeout may wait longer than asked after a
     * signal; the scheduler only ever asks for "until the next timer",
     * which it checks again on return. */
    do
        n = kevent(p->kq, NULL, 0, p->events, KQ_BATCH, tsp);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;

    for (i = 0; i < n; i++) {
        const struct kevent *ev = &p->events[i];
        unsigned bits = 0;

        if (ev->filter == EVFILT_USER)
            continue; /* a wake: EV_CLEAR already reset it */
        if (ev->flags & EV_ERROR)
            continue; /* a failed change; none are made here */
        if (ev->filter == EVFILT_READ)
            bits |= LTHREAD__POLL_IN; /* data, or EV_EOF: peer done */
        if (ev->filter == EVFILT_READ && (ev->flags & EV_EOF))
            bits |= LTHREAD__POLL_HUP;
#ifdef EV_OOBAND /* macOS */
        if (ev->filter == EVFILT_READ && (ev->flags & EV_OOBAND))
            bits |= LTHREAD__POLL_PRI;
#endif
        else if (ev->filter == EVFILT_WRITE)
            bits |= LTHREAD__POLL_OUT; /* room, or EV_EOF: EPIPE next */
        else
            continue;
        /* EV_EOF with fflags set carries a socket error: wake both. */
        if ((ev->flags & EV_EOF) && ev->fflags)
            bits |= LTHREAD__POLL_ERR;
        ready(ctx, (int)ev->ident, bits);
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
