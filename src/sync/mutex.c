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

/* Releases m held by `who`: to the oldest waiter, or free. The lock is
 * held on entry and released. */
static void mutex_release(struct lthread_mutex *m)
{
    struct lthread__waiter *w = lthread__waitq_claim(&m->waiters);

    m->owner = w ? w->who : NULL;
    lthread__spin_unlock(&m->lock);
    if (w)
        lthread__wgroup_deliver(w->g, 0);
}

/* A waiter was handed m but was destroyed before it ran: pass m on. */
static void mutex_undo(struct lthread__wgroup *g)
{
    struct lthread_mutex *m =
        (struct lthread_mutex *)((char *)g->w[0].lock -
                                 offsetof(struct lthread_mutex, lock));

    lthread__spin_lock(&m->lock);
    mutex_release(m);
}

/* Waits for m, held by another (its lock held on entry, released): in a
 * group from the scheduler's cache when the caller is an lthread with one
 * there, else in a new one. */
static __attribute__((noinline)) int mutex_wait(struct lthread_mutex *m,
                                                void *me, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct lthread__wgroup *g = self ? lthread__wgroup_take(s, self) : NULL;
    int err;

    if (!g) {
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
    }
    g->w[0].who = me;
    g->undo = mutex_undo;
    lthread__waitq_push(&m->waiters, &g->w[0], &m->lock);
    lthread__spin_unlock(&m->lock);
    if (g->lt) {
        err = lthread__wgroup_park(g->sched, g->lt, g, timeout);
        if (err)
            return lthread__fail(err); /* g is gone */
        /* Handed over by the unlocker: we hold m. */
        lthread__wgroup_free_local(g);
        return 0;
    }
    err = lthread__wgroup_wait(g, timeout);
    if (err)
        return lthread__fail(err);
    lthread__wgroup_free(g);
    return 0;
}

LTHREAD_API int lthread_mutex_timedlock(lthread_mutex_t *m, uint64_t timeout)
{
    struct lthread *self =
        lthread__tls_sched ? lthread__tls_sched->host.current : NULL;
    void *me = self ? (void *)self : lthread__sync_self();

    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    if (lthread__likely(!m->owner)) {
        m->owner = me;
        lthread__spin_unlock(&m->lock);
        return 0;
    }
    if (m->owner == me) {
        lthread__spin_unlock(&m->lock);
        return lthread__fail(-EDEADLK);
    }
    return mutex_wait(m, me, timeout);
}

LTHREAD_API int lthread_mutex_lock(lthread_mutex_t *m)
{
    return lthread_mutex_timedlock(m, 0);
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

LTHREAD_API int lthread_mutex_unlock(lthread_mutex_t *m)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self = s ? s->host.current : NULL;
    struct lthread__waiter *w;

    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    if (m->owner != (self ? (void *)self : lthread__sync_self())) {
        lthread__spin_unlock(&m->lock);
        return lthread__fail(-EPERM);
    }
    /* The same-scheduler hand-off (sync.h): the oldest waiter is an
     * lthread of this pthread's scheduler. */
    if (lthread__likely(self) &&
        (w = lthread__waitq_claim_local(&m->waiters, s))) {
        struct lthread__wgroup *g = w->g;

        m->owner = w->who;
        lthread__spin_unlock(&m->lock);
        lthread__wgroup_wake_local(s, g);
        return 0;
    }
    mutex_release(m);
    return 0;
}
