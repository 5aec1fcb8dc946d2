/*
 * Condition variables: a FIFO of waiting lthreads. While it has waiters a
 * cond belongs to their scheduler; there is no lock because only that
 * scheduler's pthread may touch it then. A cond with no waiters is free to
 * serve any scheduler (it may outlive the one that first used it).
 */
#include "alloc.h"
#include "lthread_int.h"

struct lthread_cond {
    struct lthread__sched *sched;  /* the waiters' scheduler */
    struct lthread__queue waiters; /* oldest first */
    /* The scheduler's list of conds that have waiters (see
     * lthread__cond_abandon). */
    struct lthread_cond *busy_next;
    struct lthread_cond *busy_prev;
};

/* A cond gets its first waiter: list it on the waiters' scheduler. */
static void cond_busy(struct lthread_cond *c, struct lthread__sched *s)
{
    c->sched = s;
    c->busy_prev = NULL;
    c->busy_next = s->busy_conds;
    if (s->busy_conds)
        s->busy_conds->busy_prev = c;
    s->busy_conds = c;
}

/* A cond lost its last waiter. */
static void cond_idle(struct lthread_cond *c)
{
    if (c->busy_prev)
        c->busy_prev->busy_next = c->busy_next;
    else
        c->sched->busy_conds = c->busy_next;
    if (c->busy_next)
        c->busy_next->busy_prev = c->busy_prev;
    c->busy_next = c->busy_prev = NULL;
}

/* Takes the oldest waiter off c, or returns NULL. */
static struct lthread *cond_pop(struct lthread_cond *c)
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
    if (c->waiters.head)
        return lthread__fail(-EBUSY);
    lthread__free(c);
    return 0;
}

LTHREAD_API int lthread_cond_wait(lthread_cond_t *c, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!c)
        return lthread__fail(-EINVAL);
    if (!self || (c->waiters.head && c->sched != s))
        return lthread__fail(-EPERM);
    if (!c->waiters.head)
        cond_busy(c, s);
    lthread__queue_push(&c->waiters, self);
    err = lthread__park(s, self, LTHREAD__WAIT_COND, c, timeout);
    return err ? lthread__fail(err) : 0;
}

/* Checks that the calling pthread may signal c; returns its scheduler. */
static int cond_check(struct lthread_cond *c, struct lthread__sched **s)
{
    if (!c)
        return -EINVAL;
    *s = lthread__tls_sched; /* entry of a public call: no switch yet */
    if (c->waiters.head && c->sched != *s)
        return -EPERM;
    return 0;
}

LTHREAD_API int lthread_cond_signal(lthread_cond_t *c)
{
    struct lthread__sched *s;
    struct lthread *lt;
    int err = cond_check(c, &s);

    if (err)
        return lthread__fail(err);
    lt = cond_pop(c);
    if (lt)
        lthread__unpark(s, lt, 0);
    return 0;
}

LTHREAD_API int lthread_cond_broadcast(lthread_cond_t *c)
{
    struct lthread__sched *s;
    struct lthread *lt;
    int err = cond_check(c, &s);

    if (err)
        return lthread__fail(err);
    while ((lt = cond_pop(c)))
        lthread__unpark(s, lt, 0);
    return 0;
}

/* Unlinks a WAIT_COND lthread from its cond's waiters. */
static void cond_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread_cond *c = lt->wait_obj;

    (void)s;
    lthread__queue_remove(&c->waiters, lt);
    if (!c->waiters.head)
        cond_idle(c);
}

const struct lthread__wait_ops lthread__wait_ops_cond = {"cond", cond_cancel};

void lthread__cond_abandon(struct lthread__sched *s)
{
    struct lthread_cond *c;
    struct lthread *lt;

    while ((c = s->busy_conds)) {
        while ((lt = cond_pop(c)))
            lthread__lt_free(s, lt);
    }
}
