/*
 * The io_uring backend where the library is built without liburing (not
 * Linux, no liburing-dev, ./configure --without-liburing): there is no
 * ring, and the I/O pool (pool.c) does every disk request.
 */
#include "disk/disk.h"

int lthread__ring_create(struct lthread__sched *s, struct lthread__disk *d)
{
    (void)s;
    (void)d;
    return -ENOSYS;
}

void lthread__ring_free(struct lthread__sched *s, struct lthread__ring *ring)
{
    (void)s;
    (void)ring;
}

bool lthread__ring_can(const struct lthread__ring *ring,
                       const struct lthread__disk_req *r)
{
    (void)ring;
    (void)r;
    return false;
}

bool lthread__ring_prep(struct lthread__ring *ring, struct lthread__disk_req *r)
{
    (void)ring;
    (void)r;
    return false;
}

void lthread__ring_cancel(struct lthread__ring *ring,
                          struct lthread__disk_req *r)
{
    (void)ring;
    (void)r;
}

void lthread__ring_linger(struct lthread__ring *ring,
                          struct lthread__disk_req *r)
{
    (void)ring;
    (void)r;
}

void lthread__ring_round(struct lthread__sched *s, struct lthread__ring *ring,
                         bool submit)
{
    (void)s;
    (void)ring;
    (void)submit;
}

void lthread__ring_poll(struct lthread__sched *s, struct lthread__ring *ring,
                        int64_t timeout_ns)
{
    (void)ring;
    lthread__io_poll(s, timeout_ns);
}

size_t lthread__ring_inflight(const struct lthread__ring *ring)
{
    (void)ring;
    return 0;
}
