/*
 * The io_uring backend: one ring per scheduler, made on its first disk
 * call, used only by the scheduler's pthread (IORING_SETUP_SINGLE_ISSUER
 * where the kernel has it).
 *
 * Submissions are batched: the calls of a round only queue their requests
 * (disk.c), and the round puts them all in the submission queue and makes
 * one io_uring_enter(). Completions are reaped by the scheduler loop from
 * the completion queue, which costs no system call: every round while
 * requests are out, and after each wait.
 *
 * Waiting. When nothing is ready and requests are out, the scheduler waits
 * in the ring, not in the poller: io_uring_enter() submits what is queued
 * and sleeps until a completion, the deadline of the next timer, or the
 * poller's own fd becoming readable (a one-shot poll of it sits in the
 * ring: an fd the poller watches is ready, or another pthread woke the
 * scheduler), after which the poller is asked, without waiting, what is
 * ready. One system call submits and waits; the other way round (the
 * ring's eventfd in the poller) took an io_uring_enter() to submit and an
 * epoll_wait() to sleep, and the poller's millisecond timeouts made a
 * timer on a busy scheduler late: docs/DESIGN.md, section 9, has the
 * figures that decided it. With no request out the scheduler waits in
 * the poller as usual.
 *
 * user_data: the request; the request with its low bit set for the
 * completion of a cancel sent for it (its lthread was destroyed); POLL_TAG
 * for the poll of the poller's fd; liburing's own timeout, ignored.
 */
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "alloc.h"
#include "disk/disk.h"
#include "poller.h"

/* Submission queue entries; the completion queue is twice as large. */
#define RING_ENTRIES 256

#define POLL_TAG ((__u64)2)
#define CANCEL_BIT ((__u64)1)

_Static_assert(sizeof(struct statx) <=
                   sizeof(((struct lthread__disk_req *)0)->u.statx),
               "a request holds a struct statx");

struct lthread__ring {
    struct io_uring ring;
    /* Completions to come: requests, cancels and the poll (the completion
     * queue never overflows: no more are submitted than it holds). */
    unsigned inflight;
    unsigned cq_cap;
    int poller_fd;
    bool poll_armed; /* a poll of poller_fd is in the ring */
    bool poll_fired; /* ... and has completed: ask the poller */
    bool cur_pos;    /* offset -1 means the file position */
    bool ops[LTHREAD__DISK_NOPS];
    struct lthread__disk_req *cancels; /* to send, linked by next */
    /* Done, their lthreads destroyed, their cancels still out (next). */
    struct lthread__disk_req *lingering;
};

int lthread__ring_create(struct lthread__sched *s, struct lthread__disk *d)
{
    struct lthread__ring *rg = lthread__calloc(sizeof(*rg));
    struct io_uring_params p;
    struct io_uring_probe *probe;
    int err;

    if (!rg)
        return -ENOMEM;
    /* Completions are posted when the scheduler next enters the kernel
     * (COOP_TASKRUN), not by interrupting it; and only its pthread ever
     * uses the ring. Older kernels refuse the flags: none then. */
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_SINGLE_ISSUER;
    err = io_uring_queue_init_params(RING_ENTRIES, &rg->ring, &p);
    if (err == -EINVAL) {
        memset(&p, 0, sizeof(p));
        err = io_uring_queue_init_params(RING_ENTRIES, &rg->ring, &p);
    }
    if (err < 0)
        goto out_free;
    /* Without these (kernels before 5.6) the pool does better. */
    probe = io_uring_get_probe_ring(&rg->ring);
    if (!probe || !(p.features & IORING_FEAT_NODROP) ||
        !(p.features & IORING_FEAT_SUBMIT_STABLE) ||
        !io_uring_opcode_supported(probe, IORING_OP_READ) ||
        !io_uring_opcode_supported(probe, IORING_OP_WRITE) ||
        !io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) ||
        !io_uring_opcode_supported(probe, IORING_OP_POLL_ADD)) {
        if (probe)
            io_uring_free_probe(probe);
        err = -ENOSYS;
        goto out_exit;
    }
    rg->ops[LTHREAD__DISK_READ] = true;
    rg->ops[LTHREAD__DISK_WRITE] = true;
    rg->ops[LTHREAD__DISK_READV] =
        io_uring_opcode_supported(probe, IORING_OP_READV);
    rg->ops[LTHREAD__DISK_WRITEV] =
        io_uring_opcode_supported(probe, IORING_OP_WRITEV);
    rg->ops[LTHREAD__DISK_FSYNC] = rg->ops[LTHREAD__DISK_FDATASYNC] =
        io_uring_opcode_supported(probe, IORING_OP_FSYNC);
    rg->ops[LTHREAD__DISK_OPENAT] =
        io_uring_opcode_supported(probe, IORING_OP_OPENAT);
    rg->ops[LTHREAD__DISK_CLOSE] =
        io_uring_opcode_supported(probe, IORING_OP_CLOSE);
    rg->ops[LTHREAD__DISK_STAT] =
        io_uring_opcode_supported(probe, IORING_OP_STATX);
    /* fstat: statx(fd, "", AT_EMPTY_PATH) through the ring is not what
     * every kernel does right; it seldom blocks: the pool. */
    rg->ops[LTHREAD__DISK_FSTAT] = false;
    io_uring_free_probe(probe);
    rg->cur_pos = p.features & IORING_FEAT_RW_CUR_POS;
    rg->cq_cap = p.cq_entries;
    rg->poller_fd = lthread__poller_fd(s->poller);
    d->ring = rg;
    return 0;

out_exit:
    io_uring_queue_exit(&rg->ring);
out_free:
    lthread__free(rg);
    return err;
}

void lthread__ring_free(struct lthread__sched *s, struct lthread__ring *rg)
{
    struct lthread__disk_req *r;

    /* Nothing is out but perhaps the poll and cancels, which name no
     * memory of ours: the exit ends them. */
    io_uring_queue_exit(&rg->ring);
    while ((r = rg->lingering)) {
        rg->lingering = r->next;
        lthread__disk_req_free(s, r);
    }
    lthread__free(rg);
}

bool lthread__ring_can(const struct lthread__ring *rg,
                       const struct lthread__disk_req *r)
{
    if (!rg->ops[r->op])
        return false;
    if (r->off < 0 && !rg->cur_pos &&
        (r->op == LTHREAD__DISK_READ || r->op == LTHREAD__DISK_WRITE ||
         r->op == LTHREAD__DISK_READV || r->op == LTHREAD__DISK_WRITEV))
        return false;
    return true;
}

size_t lthread__ring_inflight(const struct lthread__ring *rg)
{
    return rg->inflight;
}

/* A free submission queue entry for one more completion, or NULL when the
 * completion queue could overflow or no entry is left even after
 * submitting what is queued. */
static struct io_uring_sqe *ring_sqe(struct lthread__ring *rg)
{
    struct io_uring_sqe *sqe;

    if (rg->inflight >= rg->cq_cap)
        return NULL;
    sqe = io_uring_get_sqe(&rg->ring);
    if (!sqe) {
        (void)io_uring_submit(&rg->ring);
        sqe = io_uring_get_sqe(&rg->ring);
        if (!sqe)
            return NULL;
    }
    rg->inflight++;
    return sqe;
}

bool lthread__ring_prep(struct lthread__ring *rg, struct lthread__disk_req *r)
{
    struct io_uring_sqe *sqe = ring_sqe(rg);
    __u64 off = (__u64)r->off; /* -1: the file position */

    if (!sqe)
        return false;
    switch ((enum lthread__disk_op)r->op) {
    case LTHREAD__DISK_READ:
        io_uring_prep_read(sqe, r->fd, r->iov[0].iov_base,
                           (unsigned)r->iov[0].iov_len, off);
        break;
    case LTHREAD__DISK_WRITE:
        io_uring_prep_write(sqe, r->fd, r->iov[0].iov_base,
                            (unsigned)r->iov[0].iov_len, off);
        break;
    case LTHREAD__DISK_READV:
        io_uring_prep_readv(sqe, r->fd, r->iov, (unsigned)r->iovcnt, off);
        break;
    case LTHREAD__DISK_WRITEV:
        io_uring_prep_writev(sqe, r->fd, r->iov, (unsigned)r->iovcnt, off);
        break;
    case LTHREAD__DISK_FSYNC:
        io_uring_prep_fsync(sqe, r->fd, 0);
        break;
    case LTHREAD__DISK_FDATASYNC:
        io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
        break;
    case LTHREAD__DISK_OPENAT:
        io_uring_prep_openat(sqe, r->fd, r->path, r->flags, r->mode);
        break;
    case LTHREAD__DISK_CLOSE:
        io_uring_prep_close(sqe, r->fd);
        break;
    case LTHREAD__DISK_STAT:
        io_uring_prep_statx(sqe, AT_FDCWD, r->path, 0,
                            STATX_BASIC_STATS | STATX_BTIME,
                            (struct statx *)r->u.statx);
        break;
    default: /* never asked: lthread__ring_can() said no */
        io_uring_prep_nop(sqe);
        break;
    }
    io_uring_sqe_set_data64(sqe, (__u64)(uintptr_t)r);
    r->ring_refs = 1;
    return true;
}

void lthread__ring_cancel(struct lthread__ring *rg, struct lthread__disk_req *r)
{
    r->cancel_wanted = true;
    r->cancel_listed = true;
    r->next = rg->cancels;
    rg->cancels = r;
}

void lthread__ring_linger(struct lthread__ring *rg, struct lthread__disk_req *r)
{
    r->next = rg->lingering;
    rg->lingering = r;
}

/* r completed before its cancel could be sent (no room in the queue). */
static void cancel_unlist(struct lthread__ring *rg, struct lthread__disk_req *r)
{
    struct lthread__disk_req **p = &rg->cancels;

    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
    r->cancel_listed = false;
}

/* statx's answer as stat(2) gives it. */
static void statx_to_stat(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = (blksize_t)x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* One completion. */
static void ring_done(struct lthread__sched *s, struct lthread__ring *rg,
                      __u64 data, int res)
{
    struct lthread__disk_req *r;

    if (data == LIBURING_UDATA_TIMEOUT)
        return; /* liburing's own timeout, on kernels without EXT_ARG */
    rg->inflight--;
    if (data == POLL_TAG) {
        rg->poll_armed = false;
        rg->poll_fired = true;
        return;
    }
    r = (struct lthread__disk_req *)(uintptr_t)(data & ~CANCEL_BIT);
    if (data & CANCEL_BIT) {
        /* The request went first: its lthread is gone, free it now. */
        if (--r->ring_refs == 0 && r->state == LTHREAD__DISK_DONE) {
            struct lthread__disk_req **p = &rg->lingering;

            while (*p != r)
                p = &(*p)->next;
            *p = r->next;
            lthread__disk_req_free(s, r);
        }
        return;
    }
    r->ring_refs--;
    if (r->cancel_listed)
        cancel_unlist(rg, r);
    if ((res == -EAGAIN || res == -EINTR) && !r->cancel_wanted) {
        /* A file opened O_NONBLOCK, or a signal: the pool blocks as
         * read(2) and write(2) would. */
        if (lthread__disk_pool_submit(r, r, 1) == 0)
            return;
    }
    r->result = res;
    if (r->op == LTHREAD__DISK_STAT && res == 0) {
        struct statx x;

        memcpy(&x, r->u.statx, sizeof(x));
        statx_to_stat(&x, &r->u.st);
    }
    lthread__disk_complete(s, r);
}

/* Completes every request the ring has finished; no system call. */
static void ring_reap(struct lthread__sched *s, struct lthread__ring *rg)
{
    struct io_uring_cqe *cqe;
    unsigned head, n;

    do {
        n = 0;
        io_uring_for_each_cqe(&rg->ring, head, cqe)
        {
            ring_done(s, rg, cqe->user_data, cqe->res);
            n++;
        }
        io_uring_cq_advance(&rg->ring, n);
    } while (n);
}

/* Puts the cancels asked for since the last round in the queue. */
static void ring_send_cancels(struct lthread__ring *rg)
{
    struct lthread__disk_req *r;
    struct io_uring_sqe *sqe;

    while ((r = rg->cancels)) {
        if (r->ring_refs && r->state == LTHREAD__DISK_INFLIGHT) {
            sqe = ring_sqe(rg);
            if (!sqe)
                return; /* next round */
            io_uring_prep_cancel64(sqe, (__u64)(uintptr_t)r, 0);
            io_uring_sqe_set_data64(sqe, (__u64)(uintptr_t)r | CANCEL_BIT);
            r->ring_refs++;
        }
        rg->cancels = r->next;
        r->cancel_listed = false;
    }
}

void lthread__ring_round(struct lthread__sched *s, struct lthread__ring *rg,
                         bool submit)
{
    if (rg->cancels)
        ring_send_cancels(rg);
    if (submit && io_uring_sq_ready(&rg->ring))
        (void)io_uring_submit(&rg->ring); /* errors: retried next round */
    ring_reap(s, rg);
}

void lthread__ring_poll(struct lthread__sched *s, struct lthread__ring *rg,
                        int64_t timeout_ns)
{
    struct io_uring_cqe *cqe;

    if (timeout_ns == 0) {
        /* Lthreads are ready: look, do not wait. */
        lthread__ring_round(s, rg, true);
        lthread__io_poll(s, 0);
        return;
    }
    if (!rg->poll_armed) {
        struct io_uring_sqe *sqe = ring_sqe(rg);

        if (sqe) {
            io_uring_prep_poll_add(sqe, rg->poller_fd, POLLIN);
            io_uring_sqe_set_data64(sqe, POLL_TAG);
            rg->poll_armed = true;
        }
    }
    if (rg->poll_armed) {
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ns / 1000000000,
            .tv_nsec = timeout_ns % 1000000000,
        };

        /* Returns at a completion, at the deadline (-ETIME) or on a
         * signal (-EINTR): the loop looks again either way. */
        (void)io_uring_submit_and_wait_timeout(
            &rg->ring, &cqe, 1, timeout_ns > 0 ? &ts : NULL, NULL);
        ring_reap(s, rg);
        if (rg->poll_fired) {
            rg->poll_fired = false;
            lthread__io_poll(s, 0);
        }
        return;
    }
    /* The completion queue is full of requests: they are done already. */
    lthread__ring_round(s, rg, true);
    lthread__io_poll(s, 0);
}
