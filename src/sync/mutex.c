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

LTHREAD_API int lthread_mutex_timedlock(lthread_mutex_t *m, uint64_t timeout)
{
    struct lthread__wgroup *g;
    void *me = lthread__sync_self();
    int err;

    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    if (lthread__likely(!m->owner)) {
        m->owner = me;
        lthread__spin_unlock(&m->lock);
        return 0;
    }
    err = m->owner == me ? -EDEADLK : 0;
    /* The common case in an lthread: a cached group, no allocation, so
     * no need to let go of the lock meanwhile. */
    g = err ? NULL : lthread__wgroup_cached(0);
    if (!g) {
        lthread__spin_unlock(&m->lock);
        if (err)
            return lthread__fail(err);
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
    err = lthread__wgroup_wait(g, timeout);
    if (err)
        return lthread__fail(err);
    /* Handed over by the unlocker: we hold m. */
    lthread__wgroup_free(g);
    return 0;
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
    if (!m)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&m->lock);
    if (m->owner != lthread__sync_self()) {
        lthread__spin_unlock(&m->lock);
        return lthread__fail(-EPERM);
    }
    mutex_release(m);
    return 0;
}
