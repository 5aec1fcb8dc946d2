/*
 * Disk I/O: what the calls (calls.c), the per-scheduler queue (disk.c) and
 * the two backends, io_uring (uring.c, built with liburing) and a pool of
 * I/O pthreads (pool.c), share.
 *
 * A call fills a request (heap memory: the kernel and the I/O pthreads
 * never see the caller's stack, which a region-mate may overwrite while
 * the caller is parked), queues its lthread on the scheduler's `pending`
 * queue and parks it (LTHREAD__WAIT_DISK, wait_obj the request). Once a
 * round the scheduler hands every pending request over: to its ring, or
 * to the pool when there is no ring or the kernel lacks the operation.
 * The completion (a CQE reaped by the scheduler, or a message posted to
 * its inbox by an I/O pthread) wakes the lthread, which reads the result
 * from the request and frees it.
 *
 *   call --> pending (lthread queue) --round--> ring ---CQE----+--> woken
 *                                          \--> pool --inbox--/
 *
 * Requests count in s->ndisk from queued to completed: the scheduler does
 * not finish, nor declare a deadlock, while one is out.
 */
#ifndef LTHREAD_DISK_H
#define LTHREAD_DISK_H

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "lthread_int.h"

enum lthread__disk_op {
    LTHREAD__DISK_READ,   /* iov[0], at off (-1: the file position) */
    LTHREAD__DISK_WRITE,  /* likewise */
    LTHREAD__DISK_READV,  /* iov[0..iovcnt) */
    LTHREAD__DISK_WRITEV, /* likewise */
    LTHREAD__DISK_FSYNC,
    LTHREAD__DISK_FDATASYNC,
    LTHREAD__DISK_OPENAT, /* fd is the directory, path, flags, mode */
    LTHREAD__DISK_CLOSE,
    LTHREAD__DISK_STAT,  /* path, into st */
    LTHREAD__DISK_FSTAT, /* fd, into st */
    LTHREAD__DISK_NOPS
};

/* Where a request is. */
enum lthread__disk_state {
    LTHREAD__DISK_PENDING,  /* its lthread is on the scheduler's pending */
    LTHREAD__DISK_INFLIGHT, /* the kernel or an I/O pthread has it */
    LTHREAD__DISK_DONE,     /* result is set; the lthread runs again */
};

/* Iovecs kept in the request itself; more are allocated. */
#define LTHREAD__DISK_IOV_INLINE 4

struct lthread__disk_req {
    /* The pool posts the completion home through the inbox (pool.c). */
    struct lthread__msg msg;
    /* The pool's job queue; the scheduler's list of free requests; the
     * ring's lists of cancels to send and of lingering requests. */
    struct lthread__disk_req *next;
    struct lthread *lt;
    struct lthread__sched *sched;
    int64_t result; /* a count, or a negative errno */
    uint8_t op;     /* enum lthread__disk_op */
    uint8_t state;  /* enum lthread__disk_state */
    /* io_uring: completions still to reap for it (1, 2 once a cancel was
     * sent for it); once done, a request whose cancel is still out waits
     * on the ring's list of lingering ones (uring.c). */
    uint8_t ring_refs;
    bool cancel_wanted; /* destroyed in flight: send a cancel (uring.c) */
    bool cancel_listed; /* on the ring's list of cancels to send */
    int fd;
    int flags; /* OPENAT */
    mode_t mode;
    off_t off; /* READ*, WRITE*: -1 for the file position */
    /* What the kernel reads or writes: the caller's buffers, or bounce
     * buffers for those that lie on a shared stack region (calls.c). */
    struct iovec *iov;
    int iovcnt;
    /* The caller's own iovecs, when one of them was bounced: the copy
     * back (reads) is made from iov[] to them once the caller runs. */
    const struct iovec *user_iov;
    void *bounce; /* what was allocated for the bounce buffers */
    char *path;   /* OPENAT, STAT: a copy */
    union {
        struct stat st; /* STAT, FSTAT: the result */
        /* The ring's statx result, converted into st (uring.c). */
        unsigned char statx[256] __attribute__((aligned(8)));
    } u;
    struct iovec iov_inline[LTHREAD__DISK_IOV_INLINE];
};

/* What a scheduler keeps for disk I/O (s->disk). */
struct lthread__disk {
    /* lthreads whose requests were made this round, to be handed over. */
    struct lthread__queue pending;
    /* lthreads whose requests the kernel or an I/O pthread has (for
     * introspection: lthread_walk() finds them here). */
    struct lthread__queue inflight;
    /* Free requests, kept for reuse. */
    struct lthread__disk_req *free;
    uint32_t nfree;
    /* The io_uring backend (uring.c), or NULL: the pool does everything. */
    struct lthread__ring *ring;
    /* Why there is no ring, for lthread_io_backend()'s callers and the
     * tests: 0, or the negative errno of its setup. */
    int ring_err;
};

/* ---- disk.c -------------------------------------------------------------- */

/* s's disk state, made on the first call; NULL on ENOMEM. */
struct lthread__disk *lthread__disk_get(struct lthread__sched *s);

/* A zeroed request of s (fd -1, off -1, iov the inline ones); NULL on
 * ENOMEM. */
struct lthread__disk_req *lthread__disk_req_new(struct lthread__sched *s,
                                                struct lthread__disk *d);

/* Queues r for self (running on s) and parks self until r is done.
 * Returns r's result; r is still the caller's to free. */
int64_t lthread__disk_queue(struct lthread__sched *s, struct lthread *self,
                            struct lthread__disk_req *r);

/* A request is done (result set), on its scheduler's pthread: wakes its
 * lthread, or finishes the lthread's destroy. */
void lthread__disk_complete(struct lthread__sched *s,
                            struct lthread__disk_req *r);

/* Frees a request (and what it allocated) into the scheduler's cache. */
void lthread__disk_req_free(struct lthread__sched *s,
                            struct lthread__disk_req *r);

/* Does r's operation with plain blocking system calls: its result (a
 * count or a negative errno). For the pool's pthreads. */
int64_t lthread__disk_exec(struct lthread__disk_req *r);

/* ---- pool.c -------------------------------------------------------------- */

/* Hands the n requests linked from first (through next) to the I/O
 * pthreads; each comes back through its scheduler's inbox. Returns 0, or
 * a negative errno when no I/O pthread exists and none can be started
 * (nothing was queued). */
int lthread__disk_pool_submit(struct lthread__disk_req *first,
                              struct lthread__disk_req *last, unsigned n);

/* ---- uring.c (stubs without liburing) ------------------------------------ */

/* Sets up s's ring. Returns 0, or a negative errno: no io_uring here
 * (-ENOSYS: not built with it, or an old kernel; -EPERM: forbidden), or
 * -ENOMEM. */
int lthread__ring_create(struct lthread__sched *s, struct lthread__disk *d);
/* Frees the ring, and the requests still waiting for their cancel's
 * completion (the kernel is done with them once the ring is closed). */
void lthread__ring_free(struct lthread__sched *s, struct lthread__ring *ring);
/* True when the ring can do op (the kernel has it). */
bool lthread__ring_can(const struct lthread__ring *ring,
                       const struct lthread__disk_req *r);
/* Puts r in the submission queue. False when the ring is full (it stays
 * queued: try again next round). */
bool lthread__ring_prep(struct lthread__ring *ring,
                        struct lthread__disk_req *r);
/* r's lthread was destroyed while r is in flight: ask the kernel to cancel
 * it (sent with the next submission). */
void lthread__ring_cancel(struct lthread__ring *ring,
                          struct lthread__disk_req *r);
/* r is done and its lthread gone, but the cancel sent for it has not
 * completed yet: the ring frees r when it has, or when it is freed. */
void lthread__ring_linger(struct lthread__ring *ring,
                          struct lthread__disk_req *r);
/* Submits what was prepared (when `submit`: else the wait that follows
 * submits it, in the same system call) and completes what is done,
 * without waiting. */
void lthread__ring_round(struct lthread__sched *s, struct lthread__ring *ring,
                         bool submit);
/* Waits as lthread__io_poll() does, and for the ring's completions. */
void lthread__ring_poll(struct lthread__sched *s, struct lthread__ring *ring,
                        int64_t timeout_ns);
/* Requests the ring has in flight. */
size_t lthread__ring_inflight(const struct lthread__ring *ring);

#endif /* LTHREAD_DISK_H */
