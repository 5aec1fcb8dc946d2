/*
 * Mutexes: an owner and a FIFO of waiters under a spinlock. Unlocking hands
 * the mutex straight to the oldest waiter (no barging: a waiter is never
 * overtaken), which the unlock then wakes (sync.h).
 */
#include "alloc.h"
#include "sync/sync.h"

struct lthread_mutex {
    struct lthread__spin lock;
    void *owner; /* lthread__sync_self() of the holder, or NULL */
    struct lthread__waitq waiters;
};

LTHREAD_API int lthread_mutex_create(lthread_mutex_t **m)
{
    struct lthread_mutex *mx;

    if (!m)
        return lthread__fail(-EINVAL);
    mx = lthread__calloc(sizeof(*mx));
    if (!mx)
        return lthread__fail(-ENOMEM);
    *m = mx;
    return 0;
}

LTHREAD_API int lthread_mutex_destroy(lthread_mutex_t *m)
{
    bool busy;

    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    busy = m->owner || m->waiters.head;
    lthread__spin_unlock(&m->lock);
    if (busy)
        return lthread__fail(-EBUSY);
    lthread__free(m);
    return 0;
}

/* Releases m: to the oldest waiter, or free. The lock is held on entry
 * and released. Returns 0 (the unlock's result). Out of line: the
 * unlock's same-scheduler hand-off keeps no frame. */
static __attribute__((noinline)) int mutex_release(struct lthread_mutex *m)
{
    struct lthread__waiter *w = lthread__waitq_claim(&m->waiters);

    m->owner = w ? w->who : NULL;
    lthread__spin_unlock(&m->lock);
    if (w)
        lthread__wgroup_deliver(w->g, 0);
    return 0;
}

/* A waiter was handed m but was destroyed before it ran: pass m on. */
static void mutex_undo(struct lthread__wgroup *g)
{
    struct lthread_mutex *m =
        (struct lthread_mutex *)((char *)g->w[0].lock -
                                 offsetof(struct lthread_mutex, lock));

    lthread__spin_lock(&m->lock);
    (void)mutex_release(m);
}

/* Links g, the caller's (`me`), as the newest waiter of m and releases
 * m's lock. */
static inline void mutex_link(struct lthread_mutex *m,
                              struct lthread__wgroup *g, void *me)
{
    g->w[0].who = me;
    g->undo = mutex_undo;
    lthread__waitq_push(&m->waiters, &g->w[0], &m->lock);
    lthread__spin_unlock(&m->lock);
}

/* Waits for m, held by another (its lock held on entry, released), in a
 * new group: a plain pthread, an lthread in a compute section, or one
 * whose scheduler has no group cached. */
static __attribute__((noinline)) int mutex_wait(struct lthread_mutex *m,
                                                void *me, uint64_t timeout)
{
    struct lthread__wgroup *g;
    int err;

    lthread__spin_unlock(&m->lock);
    g = lthread__wgroup_new(1, 0);
    if (!g)
        return lthread__fail(-ENOMEM);
    lthread__spin_lock(&m->lock);
    if (!m->owner) { /* released meanwhile */
        m->owner = me;
        lthread__spin_unlock(&m->lock);
        lthread__wgroup_free(g);
        return 0;
    }
    mutex_link(m, g, me);
    err = lthread__wgroup_wait(g, timeout);
    LTHREAD__CHECK(err <= 0,
                   "a mutex is handed over, never served with a failure");
    if (err)
        return lthread__fail(err); /* g is gone */
    /* Handed over by the unlocker: we hold m. */
    lthread__wgroup_free(g);
    return 0;
}

/* The same for self, the running lthread of s, in a group from s's cache
 * (no allocation, so m stays locked until the group is linked); as
 * mutex_wait when none is cached. Out of line, as chan.c's parks. */
static __attribute__((noinline)) int mutex_park(struct lthread_mutex *m,
                                                struct lthread__sched *s,
                                                struct lthread *self,
                                                uint64_t timeout)
{
    struct lthread__wgroup *g = lthread__wgroup_take(s, self);
    int err;

    if (!g)
        return mutex_wait(m, self, timeout);
    mutex_link(m, g, self);
    err = lthread__wgroup_park(s, self, &g, timeout);
    LTHREAD__CHECK(err <= 0,
                   "a mutex is handed over, never served with a failure");
    if (err)
        return lthread__fail_cold(err); /* g is gone */
    /* Handed over by the unlocker: we hold m. */
    g->undo = NULL;
    lthread__wgroup_free_local(g);
    return 0;
}

/* The calls' failures, out of line (with m's lock, when held, released),
 * so that their common cases keep no frame. */
static __attribute__((noinline, cold)) int mutex_fail(struct lthread_mutex *m,
                                                      int err)
{
    if (m)
        lthread__spin_unlock(&m->lock);
    return lthread__fail(err);
}

/*
 * A lock by `me`, the caller (self: the running lthread of s, or NULL
 * outside an lthread), m's lock held. The same-scheduler hand-off and the
 * lock of a free mutex by an lthread are done in lthread_mutex_timedlock
 * and lthread_mutex_unlock without a frame: what calls and then goes on
 * (waiting for the spinlock, the identity of a pthread) is out of line,
 * in mutex_lock_slow and mutex_unlock_slow, with their own copies of the
 * rest.
 */
static inline __attribute__((always_inline)) int
mutex_lock_locked(struct lthread_mutex *m, void *me, struct lthread__sched *s,
                  struct lthread *self, uint64_t timeout)
{
    if (lthread__likely(!m->owner)) {
        m->owner = me;
        lthread__spin_unlock(&m->lock);
        return 0;
    }
    if (m->owner == me)
        return mutex_fail(m, -EDEADLK);
    if (self)
        return LTHREAD__PARKED(mutex_park(m, s, self, timeout));
    return mutex_wait(m, me, timeout);
}

static __attribute__((noinline)) int mutex_lock_slow(struct lthread_mutex *m,
                                                     uint64_t timeout)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self = s ? s->host.current : NULL;
    void *me = self ? (void *)self : lthread__sync_self();

    lthread__spin_lock(&m->lock);
    return mutex_lock_locked(m, me, s, self, timeout);
}

/* lthread_mutex_timedlock, and lthread_mutex_lock with its own copy (no
 * call through for the timeout). */
static inline __attribute__((always_inline)) int
mutex_timedlock(lthread_mutex_t *m, uint64_t timeout)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self;

    if (lthread__unlikely(!m))
        return mutex_fail(NULL, -EINVAL);
    if (lthread__unlikely(!s || !(self = s->host.current) ||
                          !lthread__spin_trylock(&m->lock)))
        return LTHREAD__PARKED(mutex_lock_slow(m, timeout));
    return mutex_lock_locked(m, self, s, self, timeout);
}

LTHREAD_API int lthread_mutex_timedlock(lthread_mutex_t *m, uint64_t timeout)
{
    return mutex_timedlock(m, timeout);
}

LTHREAD_API int lthread_mutex_lock(lthread_mutex_t *m)
{
    return mutex_timedlock(m, 0);
}

LTHREAD_API int lthread_mutex_trylock(lthread_mutex_t *m)
{
    void *me = lthread__sync_self();

    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    if (m->owner) {
        lthread__spin_unlock(&m->lock);
        return lthread__fail(-EBUSY);
    }
    m->owner = me;
    lthread__spin_unlock(&m->lock);
    return 0;
}

/* An unlock by `me` (self: as for mutex_lock_locked), m's lock held. */
static inline __attribute__((always_inline)) int
mutex_unlock_locked(struct lthread_mutex *m, void *me, struct lthread__sched *s,
                    struct lthread *self)
{
    struct lthread__wgroup *g;

    if (m->owner != me)
        return mutex_fail(m, -EPERM);
    /* The same-scheduler hand-off (sync.h): the oldest waiter is an
     * lthread of this pthread's scheduler. */
    if (lthread__likely(self) &&
        (g = lthread__waitq_claim_local(&m->waiters, s))) {
        m->owner = g->w[0].who;
        lthread__spin_unlock(&m->lock);
        return lthread__wgroup_wake_local(s, g);
    }
    return mutex_release(m);
}

static __attribute__((noinline)) int mutex_unlock_slow(struct lthread_mutex *m)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self = s ? s->host.current : NULL;
    void *me = self ? (void *)self : lthread__sync_self();

    lthread__spin_lock(&m->lock);
    return mutex_unlock_locked(m, me, s, self);
}

LTHREAD_API int lthread_mutex_unlock(lthread_mutex_t *m)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self;

    if (lthread__unlikely(!m))
        return mutex_fail(NULL, -EINVAL);
    if (lthread__unlikely(!s || !(self = s->host.current) ||
                          !lthread__spin_trylock(&m->lock)))
        return mutex_unlock_slow(m);
    return mutex_unlock_locked(m, self, s, self);
}
