/*
 * Condition variables: a FIFO of waiting lthreads.
 *
 * While it has waiters a cond belongs to their scheduler, its `home`:
 * only that scheduler's pthread touches the waiters, so waiting and
 * signalling on one scheduler take no lock. A cond with no waiters is free
 * to serve any scheduler (it may outlive the one that first used it).
 * Lthreads of two schedulers must not wait on one cond at once (undefined;
 * caught only sometimes, with EPERM).
 *
 * Signals from any other pthread (an lthread of another scheduler, a
 * compute section, a plain pthread) are posted to the home's inbox and
 * delivered there, in order, to the waiters present then. A cond with no
 * waiters when signalled stays unsignalled: without a mutex there is no
 * "signalled before the wait" (use lthread_mutex or a channel for that).
 * A posted signal keeps the cond alive: lthread_cond_destroy() then leaves
 * freeing it to the delivery (`xs`: signals in flight, and DOOMED).
 */
#include <stdatomic.h>

#include "alloc.h"
#include "lthread_int.h"

#define COND_DOOMED (1ul << 62)

struct lthread_cond {
    /* First (tools/gdb/lthread.py casts a link to its cond): the link in
     * the waiters' scheduler's list of conds that have waiters (see
     * lthread__cond_abandon); stale while it has none. */
    struct lthread__cond_link busy;
    /* The waiters' scheduler, NULL without waiters. Written only by that
     * scheduler (or, from NULL, by the first waiter's); read by others to
     * find where to post. */
    _Atomic(struct lthread__sched *) home;
    struct lthread__queue waiters; /* oldest first */
    _Atomic unsigned long xs;      /* signals in flight, | COND_DOOMED */
};

/* A signal from another pthread, on its way to the home's inbox. */
struct cond_msg {
    struct lthread__msg msg;
    struct lthread_cond *c;
    bool all;
};

/* The cond of a link in a scheduler's list (its first member). */
static inline struct lthread_cond *cond_of(struct lthread__cond_link *l)
{
    return (struct lthread_cond *)(void *)l;
}

/* A cond gets its first waiter: list it on the waiters' scheduler. (The
 * list is circular through the scheduler's link: no branch, no NULL.) */
static inline __attribute__((always_inline)) void
cond_busy(struct lthread_cond *c, struct lthread__sched *s)
{
    struct lthread__cond_link *h = &s->busy_conds, *n = h->next;

    atomic_store_explicit(&c->home, s, memory_order_relaxed);
    /* (n's link between c's two: gcc's SLP vectorizer otherwise packs
     * c's two into one 16-byte store, four instructions for two) */
    c->busy.next = n;
    n->prev = &c->busy;
    c->busy.prev = h;
    h->next = &c->busy;
}

/* A cond lost its last waiter: off the list (its links are left stale:
 * nothing reads them until it is listed again). */
static inline __attribute__((always_inline)) void
cond_idle(struct lthread_cond *c)
{
    c->busy.prev->next = c->busy.next;
    c->busy.next->prev = c->busy.prev;
    atomic_store_explicit(&c->home, NULL, memory_order_relaxed);
}

/* Takes the oldest waiter off c (whose home is s), or returns NULL. */
static inline __attribute__((always_inline)) struct lthread *
cond_pop(struct lthread_cond *c)
{
    struct lthread *lt = lthread__queue_pop(&c->waiters);

    if (lt && !c->waiters.head)
        cond_idle(c);
    return lt;
}

LTHREAD_API int lthread_cond_create(lthread_cond_t **c)
{
    struct lthread_cond *cond;

    if (!c)
        return lthread__fail(-EINVAL);
    cond = lthread__calloc(sizeof(*cond));
    if (!cond)
        return lthread__fail(-ENOMEM);
    *c = cond;
    return 0;
}

LTHREAD_API int lthread_cond_destroy(lthread_cond_t *c)
{
    if (!c)
        return lthread__fail(-EINVAL);
    if (atomic_load_explicit(&c->home, memory_order_relaxed))
        return lthread__fail(-EBUSY);
    /* A signal still on its way frees it when delivered. */
    if (atomic_fetch_or(&c->xs, COND_DOOMED) == 0)
        lthread__free(c);
    return 0;
}

LTHREAD_API int lthread_cond_wait(lthread_cond_t *c, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct lthread__sched *home;
    int err;

    if (!c)
        return lthread__fail(-EINVAL);
    if (!self)
        return lthread__fail(-EPERM);
    home = atomic_load_explicit(&c->home, memory_order_relaxed);
    if (!home) {
        cond_busy(c, s);
        /* No home, no waiters: the first is queued without a look at
         * the queue. */
        lthread__queue_push_empty(&c->waiters, self);
    } else if (home == s) {
        lthread__queue_push(&c->waiters, self);
    } else {
        return lthread__fail(-EPERM);
    }
    err = lthread__park(s, self, LTHREAD__WAIT_COND, c, timeout);
    return err ? lthread__fail(err) : 0;
}

/* Wakes one waiter of c (all with `all`) on its home s: c has one (home
 * is NULL without). Inlined into the signal: a call per level (signal ->
 * wake) was a quarter of a cond hand-off's instructions (callgrind: 79 of
 * 254 in signal, 48 at fb53ed0). A woken lthread's links are left as
 * they were when it leaves the waiters: lthread__ready() sets both when
 * it queues it, at once. */
static inline __attribute__((always_inline)) void
cond_wake(struct lthread_cond *c, struct lthread__sched *s, bool all)
{
    struct lthread *lt = c->waiters.head, *n;

    LTHREAD__CHECK(lt, "a cond has a home only while it has waiters");
    if (!lt)
        __builtin_unreachable();
    for (;;) {
        LTHREAD__QUEUE_OUT(lt, &c->waiters);
        n = lt->next;
        c->waiters.head = n;
        if (n)
            n->prev = NULL;
        else
            cond_idle(c); /* (the tail left stale: lthread__queue_push) */
        lthread__unpark(s, lt, 0);
        if (!all || !n)
            return;
        lt = n;
    }
}

/* Delivers a signal posted from another pthread, on the home s (or on a
 * scheduler that was its home when it was posted). */
static void cond_deliver(struct lthread__sched *s, struct lthread__msg *m)
{
    struct cond_msg *cm = (struct cond_msg *)m;
    struct lthread_cond *c = cm->c;

    if (atomic_load_explicit(&c->home, memory_order_relaxed) == s)
        cond_wake(c, s, cm->all);
    if (atomic_fetch_sub(&c->xs, 1) == (COND_DOOMED | 1))
        lthread__free(c); /* destroyed meanwhile: we were the last */
    lthread__free(cm);
}

/* Posts a signal to c's home from a pthread that is not the home's. */
static __attribute__((noinline)) int cond_post(struct lthread_cond *c, bool all)
{
    struct cond_msg *cm = lthread__malloc(sizeof(*cm));
    struct lthread__sched *home;

    if (!cm)
        return -ENOMEM;
    cm->msg.handle = cond_deliver;
    cm->c = c;
    cm->all = all;
    pthread_mutex_lock(&lthread__xs_lock);
    home = lthread__inbox_open_locked(
        atomic_load_explicit(&c->home, memory_order_acquire));
    if (home)
        atomic_fetch_add(&c->xs, 1);
    pthread_mutex_unlock(&lthread__xs_lock);
    if (!home) { /* no waiters now (or their scheduler is finishing) */
        lthread__free(cm);
        return 0;
    }
    lthread__inbox_post(home, &cm->msg);
    return 0;
}

/* The signal's other cases (c NULL, no waiters, waiters of another
 * scheduler): out of line, so that the common one keeps no frame. */
static __attribute__((noinline)) int
cond_signal_far(lthread_cond_t *c, struct lthread__sched *home, bool all)
{
    int err;

    if (!c)
        return lthread__fail(-EINVAL);
    if (!home)
        return 0; /* no waiters: nothing to wake */
    err = cond_post(c, all);
    return err ? lthread__fail(err) : 0;
}

static inline __attribute__((always_inline)) int cond_signal(lthread_cond_t *c,
                                                             bool all)
{
    struct lthread__sched *s = lthread__tls_sched, *home = NULL;

    if (lthread__likely(c != NULL)) {
        home = atomic_load_explicit(&c->home, memory_order_relaxed);
        if (lthread__likely(home == s && s)) {
            cond_wake(c, s, all); /* ours, so it has waiters */
            return 0;
        }
    }
    return cond_signal_far(c, home, all);
}

LTHREAD_API int lthread_cond_signal(lthread_cond_t *c)
{
    return cond_signal(c, false);
}

LTHREAD_API int lthread_cond_broadcast(lthread_cond_t *c)
{
    return cond_signal(c, true);
}

/* Unlinks a WAIT_COND lthread from its cond's waiters. */
static bool cond_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread_cond *c = lt->wait_obj;

    (void)s;
    lthread__queue_remove(&c->waiters, lt);
    if (!c->waiters.head)
        cond_idle(c);
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_cond = {"cond", cond_cancel,
                                                         NULL};

void lthread__cond_abandon(struct lthread__sched *s)
{
    struct lthread__cond_link *h = &s->busy_conds;
    struct lthread *lt;

    /* Each cond leaves the list with its last waiter. */
    while (h->next != h) {
        struct lthread_cond *c = cond_of(h->next);

        while ((lt = cond_pop(c)))
            lthread__lt_free(s, lt);
    }
}

int lthread__cond_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg)
{
    struct lthread__cond_link *h = &s->busy_conds;

    for (struct lthread__cond_link *l = h->next; l != h; l = l->next)
        for (struct lthread *lt = cond_of(l)->waiters.head; lt; lt = lt->next) {
            int r = fn(lt, arg);

            if (r)
                return r;
        }
    return 0;
}
