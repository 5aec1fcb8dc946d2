/*
 * The lifecycle API: create, exit, join, detach, destroy, sleep, wakeup,
 * identity and per-lthread data.
 */
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "debug_hooks.h"
#include "lthread_int.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* Ids are unique in the process, so they can name lthreads in logs that
 * mix pthreads. */
static _Atomic uint64_t next_id = 1;

LTHREAD_API const char *lthread_version(void)
{
    return STR(LTHREAD_VERSION_MAJOR) "." STR(LTHREAD_VERSION_MINOR) "." STR(
        LTHREAD_VERSION_PATCH);
}

LTHREAD_API int lthread_init(size_t size)
{
    int err = lthread__sched_set_region_size(size);

    return err ? lthread__fail(err) : 0;
}

LTHREAD_API int lthread_attr_init(lthread_attr_t *attr)
{
    if (!attr)
        return lthread__fail(-EINVAL);
    memset(attr, 0, sizeof(*attr));
    return 0;
}

void lthread__entry_prologue(void *p)
{
    struct lthread *lt = p;

    /* First landing on this stack: no fake stack to restore yet. */
    lthread__asan_finish_switch(NULL, NULL, NULL);
    (void)lt;
}

void lthread__entry_epilogue(void *p)
{
    struct lthread *lt = p;

    /* Returning from inside a compute section: go home first. */
    if (!lthread__sched_get())
        lthread_compute_end();
    lthread__exit_self(lt, NULL);
}

void lthread__exit_self(struct lthread *self, void *value)
{
    self->exit_value = value;
    self->state = LTHREAD__EXITED;
    lthread__sched_exiting(self->sched, self);
    lthread__switch_out(self, true);
    __builtin_trap(); /* an exited lthread is never resumed */
}

LTHREAD_API int lthread_create_ex(lthread_t **new_lt, lthread_func fn,
                                  void *arg, const lthread_attr_t *attr)
{
    struct lthread__sched *s;
    struct lthread *lt, *creator;
    unsigned flags = attr ? attr->flags : 0;
    int err = 0;

    if (!new_lt || !fn)
        return lthread__fail(-EINVAL);
    if (flags & ~(LTHREAD_ATTR_PRIVATE_STACK | LTHREAD_ATTR_DETACHED))
        return lthread__fail(-EINVAL);
    if (attr && attr->stack_size && !(flags & LTHREAD_ATTR_PRIVATE_STACK))
        return lthread__fail(-EINVAL);
    s = lthread__sched_get_or_create(&err);
    if (!s)
        return lthread__fail(err);
    lt = lthread__lt_alloc(s);
    if (!lt) {
        err = -ENOMEM;
        goto out_sched;
    }
    lt->sched = s;
    lt->fn = fn;
    lt->arg = arg;
    if (flags & LTHREAD_ATTR_DETACHED)
        lt->flags |= LTHREAD__F_DETACHED;
    if (flags & LTHREAD_ATTR_PRIVATE_STACK) {
        err = lthread__region_private(s, lt, attr->stack_size);
        if (err)
            goto out_free;
    } else {
        /* A hint for the first run: stay off the creator's region. */
        creator = s->host.current;
        lt->region = creator ? creator->region : NULL;
    }
    lt->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    s->nlive++;
    lthread__ready(s, lt);
    *new_lt = lt;
    return 0;

out_free:
    lthread__lt_release(s, lt);
out_sched:
    lthread__sched_release_if_idle(s);
    return lthread__fail(err);
}

LTHREAD_API int lthread_create(lthread_t **new_lt, lthread_func fn, void *arg)
{
    return lthread_create_ex(new_lt, fn, arg, NULL);
}

LTHREAD_API void lthread_exit(void *ptr)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self) {
        errno = EPERM;
        return;
    }
    lthread__exit_self(self, ptr);
}

LTHREAD_API int lthread_detach(void)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self)
        return lthread__fail(-EPERM);
    if (self->joiner)
        return lthread__fail(-EINVAL);
    self->flags |= LTHREAD__F_DETACHED;
    return 0;
}

/* Checks that lt may be acted on by the calling pthread. */
static int check_target(struct lthread__sched **s, struct lthread *lt)
{
    if (!lt)
        return -EINVAL;
    *s = lthread__tls_sched; /* entry of a public call: no switch yet */
    if (lt->sched != *s)
        return -EPERM;
    return 0;
}

/* Unlinks a joiner whose wait ends without the joinee's exit (timeout,
 * destroy of the joiner): the joinee becomes joinable again. */
static void join_cancel(struct lthread__sched *s, struct lthread *lt)
{
    ((struct lthread *)lt->wait_obj)->joiner = NULL;
    lthread__queue_remove(&s->joining, lt);
}

const struct lthread__wait_ops lthread__wait_ops_join = {"join", join_cancel};

void lthread__join_exited(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread *j = lt->joiner;

    LTHREAD__CHECK(j->wait == LTHREAD__WAIT_JOIN && j->wait_obj == lt,
                   "an lthread's joiner waits in join on it");
    lthread__queue_remove(&s->joining, j);
    lthread__unpark(s, j, 0);
    /* Until j runs, the pair stays tied both ways, so that destroying
     * either side can untie it (lthread_destroy). */
    j->wait_obj = lt;
    j->flags |= LTHREAD__F_JOIN_DONE;
}

LTHREAD_API int lthread_join(lthread_t *lt, void **ptr, uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!lt)
        return lthread__fail(-EINVAL);
    if (!self || lt->sched != s)
        return lthread__fail(-EPERM);
    if (lt == self)
        return lthread__fail(-EDEADLK);
    if ((lt->flags & LTHREAD__F_DETACHED) || lt->joiner)
        return lthread__fail(-EINVAL);
    if (lt->state != LTHREAD__EXITED) {
        lt->joiner = self;
        /* Listed so a deadlocked scheduler can still free us. */
        lthread__queue_push(&s->joining, self);
        err = lthread__park(s, self, LTHREAD__WAIT_JOIN, lt, timeout);
        self->flags &= (uint8_t)~LTHREAD__F_JOIN_DONE;
        self->wait_obj = NULL;
        if (err) /* timeout, or lt was destroyed: lt is not ours */
            return lthread__fail(err);
    }
    if (ptr)
        *ptr = lt->exit_value;
    lthread__queue_remove(&s->zombies, lt);
    lthread__lt_free(s, lt);
    return 0;
}

LTHREAD_API int lthread_destroy(lthread_t *lt)
{
    struct lthread__sched *s;
    struct lthread *joiner;
    int err = check_target(&s, lt);

    if (err)
        return lthread__fail(err);
    if (lt == s->host.current)
        return lthread__fail(-EDEADLK);
    if (lt->state == LTHREAD__COMPUTE)
        return lthread__fail(-EBUSY);
    if (lt->flags & LTHREAD__F_JOIN_DONE) {
        /* lt was woken by its joinee's exit and never ran: the joinee is
         * an ordinary zombie again. */
        ((struct lthread *)lt->wait_obj)->joiner = NULL;
        lt->flags &= (uint8_t)~LTHREAD__F_JOIN_DONE;
        lt->wait_obj = NULL;
    }
    switch ((enum lthread__state)lt->state) {
    case LTHREAD__EXITED:
        lthread__queue_remove(&s->zombies, lt);
        break;
    case LTHREAD__READY:
        lthread__queue_remove(&s->ready, lt);
        s->nready--;
        s->nlive--;
        break;
    case LTHREAD__WAITING:
        lthread__timer_remove(s, lt);
        lthread__wait_cancel(s, lt);
        s->nlive--;
        break;
    case LTHREAD__COMPUTE: /* refused above */
    case LTHREAD__RUNNING: /* only current runs: refused above */
        return lthread__fail(-EDEADLK);
    }
    joiner = lt->joiner;
    if (joiner) {
        if (joiner->wait == LTHREAD__WAIT_JOIN) {
            lthread__wait_cancel(s, joiner);
            lthread__unpark(s, joiner, -ECANCELED);
        } else {
            /* Woken by lt's exit, not yet run (maybe waiting for its
             * region or for memory meanwhile): it must not take lt. */
            LTHREAD__CHECK(joiner->flags & LTHREAD__F_JOIN_DONE,
                           "an lthread's joiner waits in join on it");
            joiner->flags &= (uint8_t)~LTHREAD__F_JOIN_DONE;
            joiner->wait_obj = NULL;
            joiner->wake_result = -ECANCELED;
        }
    }
    lthread__lt_free(s, lt);
    return 0;
}

LTHREAD_API int lthread_sleep(uint64_t msecs)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!self)
        return lthread__fail(-EPERM);
    if (msecs == 0) {
        /* Yield: to the back of the queue, behind everyone ready now. */
        lthread__ready(s, self);
        lthread__switch_out(self, false);
        return 0;
    }
    err = lthread__park(s, self, LTHREAD__WAIT_SLEEP, NULL, msecs);
    return err ? lthread__fail(err) : 0;
}

LTHREAD_API int lthread_wakeup(lthread_t *lt)
{
    struct lthread__sched *s;
    int err = check_target(&s, lt);

    if (err)
        return lthread__fail(err);
    if (lt->state == LTHREAD__WAITING && lt->wait == LTHREAD__WAIT_SLEEP)
        lthread__unpark(s, lt, 0);
    return 0;
}

LTHREAD_API void *lthread_get_data(void)
{
    struct lthread *self = lthread__self();

    return self ? self->data : NULL;
}

LTHREAD_API void lthread_set_data(void *data)
{
    struct lthread *self = lthread__self();

    if (!self) {
        errno = EPERM;
        return;
    }
    self->data = data;
}

LTHREAD_API uint64_t lthread_id(void)
{
    struct lthread *self = lthread__self();

    return self ? self->id : 0;
}

LTHREAD_API lthread_t *lthread_current(void)
{
    return lthread__self();
}

LTHREAD_API void lthread_set_funcname(const char *f)
{
    struct lthread *self = lthread__self();

    if (!self) {
        errno = EPERM;
        return;
    }
    self->funcname = f;
}

LTHREAD_API const char *lthread_get_funcname(const lthread_t *lt)
{
    return lt ? lt->funcname : NULL;
}
