/*
 * The poller: the one place that talks to the kernel's readiness API.
 * src/poller_epoll.c implements it on Linux, src/poller_kqueue.c on the BSDs
 * and macOS; the build compiles exactly one of them.
 *
 * The scheduler registers each fd once, for both directions, edge-triggered,
 * and keeps it registered until the fd is closed through lthread_close():
 * lthreads always try their I/O first and park only on EAGAIN, so an edge
 * that arrives while nobody waits costs nothing and is never lost.
 */
#ifndef LTHREAD_POLLER_H
#define LTHREAD_POLLER_H

#include <stdint.h>

struct lthread__poller;

/* Readiness bits passed to the wait callback. */
#define LTHREAD__POLL_IN 0x1u   /* readable, or the peer closed */
#define LTHREAD__POLL_OUT 0x2u  /* writable */
#define LTHREAD__POLL_ERR 0x4u  /* error or hang-up: wakes both directions */
#define LTHREAD__POLL_PRI 0x8u  /* urgent (TCP out-of-band) data: also _IN */
#define LTHREAD__POLL_HUP 0x10u /* the peer closed its side: also _IN */

/* Creates a poller. Returns 0 or a negative errno. */
int lthread__poller_create(struct lthread__poller **out);

/* Frees p and its kernel objects. */
void lthread__poller_destroy(struct lthread__poller *p);

/* Starts watching fd in both directions, edge-triggered. Returns 0 or a
 * negative errno (-EEXIST if already watched, -EPERM for a regular file). */
int lthread__poller_add(struct lthread__poller *p, int fd);

/* Stops watching fd (which must still be open). Returns 0 or a negative
 * errno. */
int lthread__poller_del(struct lthread__poller *p, int fd);

/*
 * Waits until an fd is ready, lthread__poller_wake() is called or timeout_ns
 * passes (negative: no limit; 0: just looks), then calls ready(ctx, fd,
 * bits) for each ready fd. Returns the number of fds reported, or a negative
 * errno (-EINTR is retried internally).
 */
int lthread__poller_wait(struct lthread__poller *p, int64_t timeout_ns,
                         void (*ready)(void *ctx, int fd, unsigned bits),
                         void *ctx);

/* Makes the current or next lthread__poller_wait() return. The only call
 * here that is safe from another pthread. */
void lthread__poller_wake(struct lthread__poller *p);

/* The poller's own fd, readable while an fd it watches is ready or a wake
 * is pending (disk I/O waits on it through io_uring: src/disk/). */
int lthread__poller_fd(const struct lthread__poller *p);

#endif /* LTHREAD_POLLER_H */
