/*
 * Disk I/O on a scheduler: its state, the requests' life, the wait kind
 * (LTHREAD__WAIT_DISK) and the hooks of the scheduler loop. See disk.h for
 * the path of a request.
 *
 * Cancelling (a destroy). A request still pending is simply dropped: the
 * kernel never saw it. Once handed over, the wait refuses to be cancelled
 * (the kernel or an I/O pthread may still write the buffer, which can be
 * the lthread's own stack): lthread_destroy() then marks the lthread
 * F_DESTROY and returns, the ring is asked to cancel the operation (the
 * pool cannot interrupt a system call), and the completion finishes the
 * destroy. Until then the lthread counts as live and its stack stays
 * mapped, so nothing is ever written into freed memory, and lthread_run()
 * does not return.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "disk/disk.h"
#include "poller.h"

/* Free requests kept per scheduler. Not under ASan, which must see every
 * use of a freed one. */
#ifdef LTHREAD__ASAN
#define REQ_CACHE_MAX 0
#else
#define REQ_CACHE_MAX 64
#endif

struct lthread__disk *lthread__disk_get(struct lthread__sched *s)
{
    struct lthread__disk *d = s->disk;
    const char *want;

    if (lthread__likely(d != NULL))
        return d;
    d = lthread__calloc(sizeof(*d));
    if (!d)
        return NULL;
    /* LTHREAD_DISK=pool: the thread pool even where io_uring works (the
     * tests run both backends this way). */
    want = getenv("LTHREAD_DISK");
    if (want && strcmp(want, "pool") == 0)
        d->ring_err = -EPERM;
    else
        d->ring_err = lthread__ring_create(s, d);
    s->disk = d;
    return d;
}

void lthread__disk_free(struct lthread__sched *s)
{
    struct lthread__disk *d = s->disk;
    struct lthread__disk_req *r;

    if (!d)
        return;
    LTHREAD__CHECK(!s->ndisk && !d->pending.head && !d->inflight.head,
                   "a scheduler finishes with no disk request out");
    if (d->ring)
        lthread__ring_free(s, d->ring);
    while ((r = d->free)) {
        d->free = r->next;
        lthread__free(r);
    }
    lthread__free(d);
    s->disk = NULL;
}

/* ---- requests ------------------------------------------------------------ */

struct lthread__disk_req *lthread__disk_req_new(struct lthread__sched *s,
                                                struct lthread__disk *d)
{
    struct lthread__disk_req *r = d->free;

    if (r) {
        d->free = r->next;
        d->nfree--;
        memset(r, 0, offsetof(struct lthread__disk_req, u));
    } else {
        r = lthread__malloc(sizeof(*r));
        if (!r)
            return NULL;
        memset(r, 0, offsetof(struct lthread__disk_req, u));
    }
    r->sched = s;
    r->fd = -1;
    r->off = -1;
    r->iov = r->iov_inline;
    return r;
}

void lthread__disk_req_free(struct lthread__sched *s,
                            struct lthread__disk_req *r)
{
    struct lthread__disk *d = s->disk;

    if (r->iov != r->iov_inline)
        lthread__free(r->iov);
    lthread__free(r->bounce);
    lthread__free(r->path);
#if REQ_CACHE_MAX > 0
    if (d && d->nfree < REQ_CACHE_MAX) {
        r->next = d->free;
        d->free = r;
        d->nfree++;
        return;
    }
#else
    (void)d;
#endif
    lthread__free(r);
}

int64_t lthread__disk_queue(struct lthread__sched *s, struct lthread *self,
                            struct lthread__disk_req *r)
{
    struct lthread__disk *d = s->disk;

    r->lt = self;
    r->state = LTHREAD__DISK_PENDING;
    lthread__queue_push(&d->pending, self);
    s->ndisk++;
    /* No timeout: a disk operation ends when the kernel ends it. The
     * round hands it over; its completion wakes us. */
    (void)lthread__park(s, self, LTHREAD__WAIT_DISK, r, 0);
    LTHREAD__CHECK(r->state == LTHREAD__DISK_DONE,
                   "an lthread waits in a disk call until its request is done");
    return r->result;
}

void lthread__disk_complete(struct lthread__sched *s,
                            struct lthread__disk_req *r)
{
    struct lthread *lt = r->lt;

    LTHREAD__CHECK(lt->wait == LTHREAD__WAIT_DISK && lt->wait_obj == r,
                   "an lthread waits on its disk request until it is done");
    r->state = LTHREAD__DISK_DONE;
    lthread__queue_remove(&s->disk->inflight, lt);
    if (lthread__likely(!(lt->flags & LTHREAD__F_DESTROY))) {
        s->ndisk--;
        lthread__unpark(s, lt, 0);
        return;
    }
    /* Destroyed while the kernel had it: nothing touches the lthread's
     * memory any more, so the destroy can finish now. A file it opened
     * meanwhile would have no owner: closed. */
    if (r->op == LTHREAD__DISK_OPENAT && r->result >= 0)
        (void)close((int)r->result);
    lt->wait = LTHREAD__WAIT_NONE;
    lt->wait_obj = NULL;
    r->lt = NULL;
    s->ndisk--;
    if (r->ring_refs) /* the cancel sent for it is still out */
        lthread__ring_linger(s->disk->ring, r);
    else
        lthread__disk_req_free(s, r);
    lthread__destroy_back(s, lt);
}

/* ---- the wait kind ---------------------------------------------------------
 */

static bool disk_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__disk_req *r = lt->wait_obj;
    struct lthread__disk *d = s->disk;

    if (r->state == LTHREAD__DISK_PENDING) {
        /* Never handed over: nobody else knows of it. */
        lthread__queue_remove(&d->pending, lt);
        s->ndisk--;
        lthread__disk_req_free(s, r);
        return true;
    }
    /* The kernel or an I/O pthread has it: the completion finishes the
     * destroy. Cut it short where the kernel can. */
    if (r->ring_refs && !r->cancel_wanted)
        lthread__ring_cancel(d->ring, r);
    return false;
}

const struct lthread__wait_ops lthread__wait_ops_disk = {"disk", disk_cancel,
                                                         NULL};

int lthread__disk_fd(const struct lthread *lt)
{
    const struct lthread__disk_req *r = lt->wait_obj;

    return r->op == LTHREAD__DISK_OPENAT || r->op == LTHREAD__DISK_STAT ? -1
                                                                        : r->fd;
}

int lthread__disk_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg)
{
    struct lthread__disk *d = s->disk;
    struct lthread__queue *qs[2];
    int r;

    if (!d)
        return 0;
    qs[0] = &d->pending;
    qs[1] = &d->inflight;
    for (int i = 0; i < 2; i++)
        for (struct lthread *lt = qs[i]->head; lt; lt = lt->next)
            if ((r = fn(lt, arg)))
                return r;
    return 0;
}

/* ---- the scheduler loop's hooks --------------------------------------------
 */

void lthread__disk_round(struct lthread__sched *s)
{
    struct lthread__disk *d = s->disk;
    struct lthread__disk_req *first = NULL, *last = NULL, *r, *next_r;
    struct lthread *lt, *next;
    unsigned n = 0;
    int err;

    for (lt = d->pending.head; lt; lt = next) {
        next = lt->next;
        r = lt->wait_obj;
        if (d->ring && lthread__ring_can(d->ring, r)) {
            if (!lthread__ring_prep(d->ring, r))
                continue; /* the ring is full: next round */
        } else {
            r->next = NULL;
            if (last)
                last->next = r;
            else
                first = r;
            last = r;
            n++;
        }
        lthread__queue_remove(&d->pending, lt);
        lthread__queue_push(&d->inflight, lt);
        r->state = LTHREAD__DISK_INFLIGHT;
    }
    if (n && (err = lthread__disk_pool_submit(first, last, n)) < 0) {
        /* No I/O pthread exists and none can be started. */
        for (r = first; r; r = next_r) {
            next_r = r->next;
            r->result = err;
            lthread__disk_complete(s, r);
        }
    }
    /* With nobody ready the scheduler waits next: in the ring, which
     * submits and waits in one system call. */
    if (d->ring)
        lthread__ring_round(s, d->ring, s->nready != 0);
}

void lthread__disk_poll(struct lthread__sched *s, int64_t timeout_ns)
{
    struct lthread__disk *d = s->disk;

    if (d && d->ring && lthread__ring_inflight(d->ring))
        lthread__ring_poll(s, d->ring, timeout_ns);
    else /* the pool's completions come through the inbox */
        lthread__io_poll(s, timeout_ns);
}

/* ---- blocking system calls -------------------------------------------------
 */

int64_t lthread__disk_exec(struct lthread__disk_req *r)
{
    const struct iovec *iov = r->iov;
    ssize_t n;

    for (;;) {
        switch ((enum lthread__disk_op)r->op) {
        case LTHREAD__DISK_READ:
            n = r->off < 0 ? read(r->fd, iov->iov_base, iov->iov_len)
                           : pread(r->fd, iov->iov_base, iov->iov_len, r->off);
            break;
        case LTHREAD__DISK_WRITE:
            n = r->off < 0 ? write(r->fd, iov->iov_base, iov->iov_len)
                           : pwrite(r->fd, iov->iov_base, iov->iov_len, r->off);
            break;
        case LTHREAD__DISK_READV:
            n = r->off < 0 ? readv(r->fd, iov, r->iovcnt)
                           : preadv(r->fd, iov, r->iovcnt, r->off);
            break;
        case LTHREAD__DISK_WRITEV:
            n = r->off < 0 ? writev(r->fd, iov, r->iovcnt)
                           : pwritev(r->fd, iov, r->iovcnt, r->off);
            break;
        case LTHREAD__DISK_FSYNC:
            n = fsync(r->fd);
            break;
        case LTHREAD__DISK_FDATASYNC:
#if defined(__APPLE__)
            n = fsync(r->fd); /* no fdatasync(2) to call */
#else
            n = fdatasync(r->fd);
#endif
            break;
        case LTHREAD__DISK_OPENAT:
            n = openat(r->fd, r->path, r->flags, r->mode);
            break;
        case LTHREAD__DISK_CLOSE:
            /* Linux and the BSDs free the fd even when close() says
             * EINTR: retrying could close someone else's new fd. */
            if (close(r->fd) < 0 && errno != EINTR)
                return -errno;
            return 0;
        case LTHREAD__DISK_STAT:
            n = stat(r->path, &r->u.st);
            break;
        case LTHREAD__DISK_FSTAT:
            n = fstat(r->fd, &r->u.st);
            break;
        default:
            return -EINVAL;
        }
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}
