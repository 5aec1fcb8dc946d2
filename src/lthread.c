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
 * mix pthreads. Each scheduler takes them ID_BLOCK at a time from next_id
 * and hands them out in order: an id is never reused, the first is 1, and
 * a create does no atomic operation (a `lock xadd` per create on a line
 * that every scheduler's creates shared; BENCHMARKS.md, "Ids by the
 * block"). Ids of lthreads of different schedulers do not follow their
 * creation order. */
#define ID_BLOCK 1024
static _Atomic uint64_t next_id = 1;

static __attribute__((noinline)) void id_refill(struct lthread__sched *s)
{
    s->id_next =
        atomic_fetch_add_explicit(&next_id, ID_BLOCK, memory_order_relaxed);
    s->id_end = s->id_next + ID_BLOCK;
}

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

    /* Returning from inside a compute section: go home first. (The
     * pthread's scheduler read here, after the body ran: no switch of
     * this function's before it.) */
    if (lthread__unlikely(!lthread__tls_sched))
        lthread_compute_end();
    if (lt->joiner) {
        lthread__exit_joined(lt); /* a jump: see there */
        return;
    }
    lthread__exit_self(lt, NULL);
}

void lthread__entry_arg(void *p, void *arg)
{
    struct lthread *lt = p;

    ((lthread_func_arg)(void (*)(void))lt->fn)(arg);
}

/* The start of every create: what lt runs and where. */
static inline __attribute__((always_inline)) void
create_init(struct lthread__sched *s, struct lthread *lt, lthread_func fn,
            int form, void *arg)
{
    lt->sched = s;
    lt->fn = fn;
    lt->arg = arg;
    lt->io_fd = form;
}

/* A shared-region lthread's hint for its first run: stay off the creator's
 * region. */
static inline __attribute__((always_inline)) void
create_region_hint(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread *creator = s->host.current;

    lt->region = creator ? creator->region : NULL;
}

/* The end of every create: lt, set up, gets its id (one is at hand: the
 * common create goes to create() when none is, which takes a block) and
 * is ready. */
static inline __attribute__((always_inline)) void
create_ready(struct lthread__sched *s, struct lthread *lt, lthread_t **new_lt)
{
    LTHREAD__CHECK(s->id_next != s->id_end,
                   "a create has an id of its scheduler's block at hand");
    lt->id = s->id_next++;
    s->nlive++;
    /* lthread__ready() but for what a zeroed block is already: READY (0),
     * its next NULL (two stores of every create) */
    _Static_assert(LTHREAD__READY == 0, "a zeroed lthread is READY");
    LTHREAD__CHECK(lt->state == LTHREAD__READY && s == lthread__tls_sched,
                   "a new lthread is READY, created on its scheduler");
    lthread__queue_push_clear(&s->ready, lt);
    s->nready++;
    *new_lt = lt;
}

/* Both forms of create: `form` says how fn is to be called. */
static __attribute__((noinline)) int create(lthread_t **new_lt, lthread_func fn,
                                            int form, void *arg,
                                            const lthread_attr_t *attr)
{
    struct lthread__sched *s;
    struct lthread *lt;
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
    create_init(s, lt, fn, form, arg);
    if (flags & LTHREAD_ATTR_DETACHED)
        lt->flags |= LTHREAD__F_DETACHED;
    if (flags & LTHREAD_ATTR_PRIVATE_STACK) {
        err = lthread__region_private(s, lt, attr->stack_size);
        if (err)
            goto out_free;
    } else {
        create_region_hint(s, lt);
    }
    if (s->id_next == s->id_end)
        id_refill(s); /* (both 0 in a new scheduler) */
    create_ready(s, lt, new_lt);
    return 0;

out_free:
    lthread__lt_release(s, lt);
out_sched:
    lthread__sched_release_if_idle(s);
    return lthread__fail(err);
}

/*
 * The common create, without attributes, on a pthread that has its
 * scheduler, a recycled control block and an id at hand: no call (create() kept
 * six registers and a frame for its rare paths). The rest goes to create().
 */
static inline __attribute__((always_inline)) int
create_plain(lthread_t **new_lt, lthread_func fn, int form, void *arg)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *lt;

    if (lthread__unlikely(!new_lt || !fn || !s || !s->lt_cache ||
                          s->id_next == s->id_end))
        return create(new_lt, fn, form, arg, NULL);
    lt = lthread__lt_reuse(s);
    create_init(s, lt, fn, form, arg);
    create_region_hint(s, lt);
    create_ready(s, lt, new_lt);
    return 0;
}

LTHREAD_API int(lthread_create_ex)(lthread_t **new_lt, lthread_func fn,
                                   void *arg, const lthread_attr_t *attr)
{
    if (!attr)
        return create_plain(new_lt, fn, LTHREAD__ENTRY_SEED, arg);
    return create(new_lt, fn, LTHREAD__ENTRY_SEED, arg, attr);
}

LTHREAD_API int(lthread_create)(lthread_t **new_lt, lthread_func fn, void *arg)
{
    return create_plain(new_lt, fn, LTHREAD__ENTRY_SEED, arg);
}

LTHREAD_API int lthread_create_arg(lthread_t **new_lt, lthread_func_arg fn,
                                   void *arg)
{
    return create_plain(new_lt, (lthread_func)(void (*)(void))fn,
                        LTHREAD__ENTRY_ARG, arg);
}

LTHREAD_API int lthread_create_ex_arg(lthread_t **new_lt, lthread_func_arg fn,
                                      void *arg, const lthread_attr_t *attr)
{
    return create(new_lt, (lthread_func)(void (*)(void))fn, LTHREAD__ENTRY_ARG,
                  arg, attr);
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

static bool joiner_gone(struct lthread *t);

LTHREAD_API int lthread_detach(void)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self)
        return lthread__fail(-EPERM);
    if (self->joiner && !joiner_gone(self))
        return lthread__fail(-EINVAL);
    self->flags |= LTHREAD__F_DETACHED;
    return 0;
}

/* Checks that lt may be acted on by the calling pthread's scheduler
 * directly: 0, -EINVAL, or -EXDEV when lt belongs to another scheduler
 * (the call then goes through lt's scheduler's inbox). */
static int check_target(struct lthread__sched **s, struct lthread *lt)
{
    if (!lt)
        return -EINVAL;
    *s = lthread__tls_sched; /* entry of a public call: no switch yet */
    if (lt->sched != *s)
        return -EXDEV;
    return 0;
}

/* ---- calls from other pthreads ------------------------------------------ */

/* A wakeup or a destroy from another pthread, handled on lt's scheduler. */
struct lt_msg {
    struct lthread__msg msg;
    struct lthread *lt;
    uint64_t id; /* lt's, when posted: a reused block is not it */
};

/* lt, named by a post, if it is still the lthread it named and alive. */
static struct lthread *msg_target(struct lt_msg *m)
{
    struct lthread *lt = m->lt;

    return lt->state != LTHREAD__DEAD && lt->id == m->id ? lt : NULL;
}

static void wakeup_deliver(struct lthread__sched *s, struct lthread__msg *msg)
{
    struct lthread *lt = msg_target((struct lt_msg *)msg);

    if (lt && lt->state == LTHREAD__WAITING && lt->wait == LTHREAD__WAIT_SLEEP)
        lthread__unpark(s, lt, 0);
    lthread__free(msg);
}

static int destroy_here(struct lthread__sched *s, struct lthread *lt);

static void destroy_deliver(struct lthread__sched *s, struct lthread__msg *msg)
{
    struct lthread *lt = msg_target((struct lt_msg *)msg);

    if (lt && lt->state == LTHREAD__COMPUTE)
        lt->flags |= LTHREAD__F_DESTROY; /* when it is back */
    else if (lt)
        (void)destroy_here(s, lt);
    lthread__free(msg);
}

void lthread__destroy_back(struct lthread__sched *s, struct lthread *lt)
{
    lt->flags &= (uint8_t)~LTHREAD__F_DESTROY;
    (void)destroy_here(s, lt);
}

/* Posts a call on lt to lt's scheduler. Returns 0, -ENOMEM or -ESRCH (its
 * scheduler has finished). */
static int post_call(struct lthread *lt, void (*handle)(struct lthread__sched *,
                                                        struct lthread__msg *))
{
    struct lt_msg *m = lthread__malloc(sizeof(*m));
    struct lthread__sched *s;

    if (!m)
        return -ENOMEM;
    m->msg.handle = handle;
    m->lt = lt;
    s = lthread__inbox_open(lt);
    if (!s) {
        lthread__free(m);
        return -ESRCH;
    }
    m->id = lt->id;
    lthread__inbox_post(s, &m->msg);
    return 0;
}

/* Ends a join whose wait ends without the joinee's exit (timeout,
 * destroy of the joiner): the joinee becomes joinable again. */
static bool join_cancel(struct lthread__sched *s, struct lthread *lt)
{
    ((struct lthread *)lt->wait_obj)->joiner = NULL;
    (void)s; /* (the joiner is on no list: lthread__join_waiter) */
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_join = {"join", join_cancel,
                                                         NULL};

/* ---- joining an lthread of another scheduler ----------------------------
 *
 * The joiner J (scheduler JS) and the joinee T (scheduler TS) meet in a
 * heap record. J posts it to TS and parks on it; TS links it to T (T's
 * `joiner`, flag F_XJOIN) or completes it at once if T has exited. Whoever
 * moves `state` out of WAITING owns the outcome: TS completing it (T
 * exited: its value is copied, T freed there) posts the record back to JS,
 * which wakes J; J giving up first (timeout, destroy) leaves the record
 * for TS to free, and T joinable.
 */
enum { XJ_WAITING, XJ_DONE, XJ_CANCELLED };

struct xjoin {
    struct lthread__msg msg;
    _Atomic int state;
    int result;  /* 0, -ECANCELED (T destroyed), -EINVAL, -ESRCH */
    void *value; /* T's exit value */
    struct lthread *joiner;
    struct lthread__sched *js;
    struct lthread *target;
    uint64_t target_id;
};

static void xjoin_done(struct lthread__sched *s, struct lthread__msg *m);

/* On TS: T has exited (or the join fails with `result`): completes rec
 * unless J gave up, and frees T on a success. */
static void xjoin_complete(struct lthread__sched *ts, struct xjoin *rec,
                           struct lthread *t, int result)
{
    int expect = XJ_WAITING;
    struct lthread__sched *js;

    if (t && t->joiner == (struct lthread *)rec) {
        t->joiner = NULL;
        t->flags &= (uint8_t)~LTHREAD__F_XJOIN;
    }
    if (!atomic_compare_exchange_strong(&rec->state, &expect, XJ_DONE)) {
        lthread__free(rec); /* J gave up: T stays joinable */
        return;
    }
    if (t && !result) {
        rec->value = t->exit_value;
        lthread__queue_remove(&ts->zombies, t);
        lthread__lt_free(ts, t);
    }
    rec->result = result;
    rec->msg.handle = xjoin_done;
    /* J is parked on rec and counts as live on JS (a destroy waits for
     * this), so JS has not finished. */
    pthread_mutex_lock(&lthread__xs_lock);
    js = lthread__inbox_open_locked(rec->js);
    pthread_mutex_unlock(&lthread__xs_lock);
    if (js)
        lthread__inbox_post(js, &rec->msg);
    else
        lthread__free(rec);
}

/* A join record left by a joiner that gave up is no obstacle. */
static bool joiner_gone(struct lthread *t)
{
    struct xjoin *rec = (struct xjoin *)t->joiner;

    if (!(t->flags & LTHREAD__F_XJOIN) ||
        atomic_load(&rec->state) != XJ_CANCELLED)
        return false;
    t->joiner = NULL;
    t->flags &= (uint8_t)~LTHREAD__F_XJOIN;
    lthread__free(rec);
    return true;
}

/* On TS: J's request arrives. */
static void xjoin_register(struct lthread__sched *ts, struct lthread__msg *m)
{
    struct xjoin *rec = (struct xjoin *)m;
    struct lthread *t = rec->target;

    if (atomic_load(&rec->state) == XJ_CANCELLED) {
        lthread__free(rec);
        return;
    }
    if (t->state == LTHREAD__DEAD || t->id != rec->target_id)
        xjoin_complete(ts, rec, NULL, -ECANCELED); /* destroyed meanwhile */
    else if ((t->flags & LTHREAD__F_DETACHED) || (t->joiner && !joiner_gone(t)))
        xjoin_complete(ts, rec, NULL, -EINVAL);
    else if (t->state == LTHREAD__EXITED)
        xjoin_complete(ts, rec, t, 0);
    else {
        t->joiner = (struct lthread *)rec;
        t->flags |= LTHREAD__F_XJOIN;
    }
}

/* On JS: the outcome is back. */
static void xjoin_done(struct lthread__sched *s, struct lthread__msg *m)
{
    struct xjoin *rec = (struct xjoin *)m;
    struct lthread *j = rec->joiner;

    LTHREAD__CHECK(j->wait == LTHREAD__WAIT_XJOIN && j->wait_obj == rec,
                   "a joiner waits on its join record until it is done");
    j->wait = LTHREAD__WAIT_NONE; /* done: nothing left to cancel */
    s->nxwaiting--;
    lthread__queue_remove(&s->joining, j);
    if (j->flags & LTHREAD__F_DESTROY) {
        lthread__free(rec);
        j->flags &= (uint8_t)~LTHREAD__F_DESTROY;
        (void)destroy_here(s, j);
        return;
    }
    lthread__unpark(s, j, 0); /* the join reads rec */
    /* Until it runs, rec is its to free if it is destroyed. */
    j->wait_obj = rec;
    lthread__outcome_hold(j, LTHREAD__DONE_XJOIN);
}

/* J gives up (timeout, destroy): possible until TS completed the join. */
static bool xjoin_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct xjoin *rec = lt->wait_obj;
    int expect = XJ_WAITING;

    /* Won: TS frees rec. Lost: its outcome is on the way. */
    if (!atomic_compare_exchange_strong(&rec->state, &expect, XJ_CANCELLED))
        return false;
    s->nxwaiting--;
    lthread__queue_remove(&s->joining, lt);
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_xjoin = {"join", xjoin_cancel,
                                                          NULL};

/* lthread_join() of t, an lthread of another scheduler. */
static int xjoin(struct lthread__sched *s, struct lthread *self,
                 struct lthread *t, void **ptr, uint64_t timeout)
{
    struct xjoin *rec = lthread__calloc(sizeof(*rec));
    struct lthread__sched *ts;
    int err;

    if (!rec)
        return -ENOMEM;
    atomic_init(&rec->state, XJ_WAITING);
    rec->msg.handle = xjoin_register;
    rec->joiner = self;
    rec->js = s;
    rec->target = t;
    ts = lthread__inbox_open(t);
    if (!ts) {
        lthread__free(rec);
        return -ESRCH;
    }
    rec->target_id = t->id;
    /* Posted before we park: its outcome is handled by our scheduler,
     * which runs only once we have switched out. */
    lthread__inbox_post(ts, &rec->msg);
    s->nxwaiting++; /* only TS can end it: no deadlock while it lasts */
    lthread__queue_push(&s->joining, self); /* (to be found: introspection) */
    err = lthread__park(s, self, LTHREAD__WAIT_XJOIN, rec, timeout);
    if (err)
        return err;               /* timed out or cancelled: TS frees rec */
    lthread__outcome_taken(self); /* rec is ours again */
    err = rec->result;
    if (!err && ptr)
        *ptr = rec->value;
    lthread__free(rec);
    return err;
}

void lthread__xjoin_orphan(struct lthread__sched *s, struct lthread *lt)
{
    xjoin_complete(s, (struct xjoin *)lt->joiner, lt, -ECANCELED);
}

void lthread__join_exited_xs(struct lthread__sched *s, struct lthread *lt)
{
    xjoin_complete(s, (struct xjoin *)lt->joiner, lt, 0);
}

/* A join's end: lt, exited and ours to take, gives its exit value and is
 * freed. */
static inline __attribute__((always_inline)) void
join_take(struct lthread__sched *s, struct lthread *lt, void **ptr)
{
    if (ptr)
        *ptr = lt->exit_value;
    /* A zombie unless its exit handed over straight to us (then it was
     * never queued: out of every queue, an lthread's prev is NULL). */
    if (lt->prev || s->zombies.head == lt)
        lthread__queue_remove(&s->zombies, lt);
    lthread__lt_free_joined(s, lt);
}

__attribute__((noinline, cold)) int lthread__fail_cold(int err)
{
    return lthread__fail(err);
}

/* The wait of a join: self, of scheduler s, waits for lt (of s too,
 * joinable, not exited) to exit. Returns 0, or what ended the wait
 * without the exit (lt destroyed, the timeout): lt is not ours then. */
static inline __attribute__((always_inline)) int
join_wait(struct lthread__sched *s, struct lthread *self, struct lthread *lt,
          uint64_t timeout)
{
    int err;

    /* (On no list: lt names us, lthread__join_waiter.) */
    lt->joiner = self;
    err = lthread__park(s, self, LTHREAD__WAIT_JOIN, lt, timeout);
    lthread__outcome_taken(self);
    return err;
}

/* lthread_join() but for its common case (below). */
static __attribute__((noinline)) int join_general(lthread_t *lt, void **ptr,
                                                  uint64_t timeout)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!lt)
        return lthread__fail(-EINVAL);
    if (!self)
        return lthread__fail(-EPERM);
    if (lt->sched != s) {
        err = xjoin(s, self, lt, ptr, timeout);
        return err ? lthread__fail(err) : 0;
    }
    if (lt == self)
        return lthread__fail(-EDEADLK);
    if ((lt->flags & LTHREAD__F_DETACHED) || (lt->joiner && !joiner_gone(lt)))
        return lthread__fail(-EINVAL);
    if (lt->state != LTHREAD__EXITED) {
        err = join_wait(s, self, lt, timeout);
        if (err) /* timeout, or lt was destroyed: lt is not ours */
            return lthread__fail(err);
    }
    join_take(s, lt, ptr);
    return 0;
}

/*
 * The common join alone: by an lthread, of a joinable lthread of its own
 * scheduler that has not exited, without a timeout. It keeps three
 * registers across the wait (self, lt, ptr; the scheduler is read again
 * from self), where the whole join kept six for its rare paths: 24 bytes
 * less in every waiting joiner's saved image, and 8 instructions less.
 */
LTHREAD_API int lthread_join(lthread_t *lt, void **ptr, uint64_t timeout)
{
    struct lthread__sched *s = lthread__tls_sched;
    struct lthread *self;
    int err;

    if (lthread__unlikely(!lt || !s || !(self = s->host.current) ||
                          lt->sched != s || lt == self || timeout ||
                          (lt->flags & LTHREAD__F_DETACHED) || lt->joiner ||
                          lt->state == LTHREAD__EXITED))
        return join_general(lt, ptr, timeout);
    err = join_wait(s, self, lt, 0);
    if (lthread__unlikely(err)) /* lt was destroyed: it is not ours */
        return lthread__fail_cold(err);
    join_take(self->sched, lt, ptr);
    return 0;
}

/* Destroys lt, of this scheduler s and not the running one. */
static int destroy_here(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread *joiner;

    if (lt->state == LTHREAD__COMPUTE)
        return -EBUSY;
    if (lt->flags & LTHREAD__F_JOIN_DONE) {
        if (lt->io_fd == LTHREAD__DONE_SYNC) {
            /* Served a mutex or a value it will never take. */
            lthread__sync_abandon(lt);
        } else if (lt->io_fd == LTHREAD__DONE_POLL) {
            /* Woken to retry on what it polled: it never will. */
            lthread__poll_abandon(lt);
        } else if (lt->io_fd == LTHREAD__DONE_XJOIN) {
            lthread__free(lt->wait_obj); /* its joinee is gone already */
        } else {
            /* Woken by its joinee's exit and never ran: the joinee is an
             * ordinary zombie again. */
            ((struct lthread *)lt->wait_obj)->joiner = NULL;
        }
        lthread__outcome_taken(lt);
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
        if (!lthread__wait_cancel(s, lt)) {
            /* Its wake is on its way from another pthread: the delivery
             * finishes this destroy (it still counts as live, so that
             * its scheduler waits for it). */
            lt->flags |= LTHREAD__F_DESTROY;
            return 0;
        }
        s->nlive--;
        break;
    case LTHREAD__DEAD:    /* a freed lthread: undefined, refused */
    case LTHREAD__COMPUTE: /* refused above */
    case LTHREAD__RUNNING: /* only current runs: refused by the callers */
        return -EDEADLK;
    }
    joiner = lt->joiner;
    if (joiner && (lt->flags & LTHREAD__F_XJOIN)) {
        /* Joined from another scheduler: that join fails. */
        xjoin_complete(s, (struct xjoin *)joiner, lt, -ECANCELED);
    } else if (joiner) {
        if (joiner->wait == LTHREAD__WAIT_JOIN) {
            lthread__wait_cancel(s, joiner);
            lthread__unpark(s, joiner, -ECANCELED);
        } else {
            /* Woken by lt's exit, not yet run (maybe waiting for its
             * region or for memory meanwhile): it must not take lt. */
            LTHREAD__CHECK(joiner->flags & LTHREAD__F_JOIN_DONE,
                           "an lthread's joiner waits in join on it");
            lthread__outcome_taken(joiner);
            joiner->wake_result = -ECANCELED;
        }
    }
    lthread__lt_free(s, lt);
    return 0;
}

LTHREAD_API int lthread_destroy(lthread_t *lt)
{
    struct lthread__sched *s;
    int err = check_target(&s, lt);

    if (err == -EXDEV) {
        /* Another scheduler's: done there, at its next look at its
         * inbox (a computing lthread is then left alone). */
        if (lthread__self() == lt)
            return lthread__fail(-EDEADLK); /* itself, in a section */
        err = post_call(lt, destroy_deliver);
        return err ? lthread__fail(err) : 0;
    }
    if (err)
        return lthread__fail(err);
    if (lt == s->host.current)
        return lthread__fail(-EDEADLK);
    err = destroy_here(s, lt);
    return err ? lthread__fail(err) : 0;
}

LTHREAD_API int lthread_sleep(uint64_t msecs)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int err;

    if (!self)
        return lthread__fail(-EPERM);
    if (msecs == 0) /* yield: to the back of the queue, behind everyone */
        return lthread__switch_yield(self, s); /* ready now; 0, a tail call */
    err = lthread__park(s, self, LTHREAD__WAIT_SLEEP, NULL, msecs);
    return err ? lthread__fail(err) : 0;
}

LTHREAD_API int lthread_wakeup(lthread_t *lt)
{
    struct lthread__sched *s;
    int err = check_target(&s, lt);

    if (err == -EXDEV) {
        err = post_call(lt, wakeup_deliver);
        return err ? lthread__fail(err) : 0;
    }
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

LTHREAD_API lthread_t *lthread_self(void)
{
    return lthread__self();
}

LTHREAD_API int lthread_cancel(lthread_t *lt)
{
    return lthread_destroy(lt);
}

LTHREAD_API int lthread_detach2(lthread_t *lt)
{
    struct lthread__sched *s;
    int err = check_target(&s, lt);

    if (err)
        return lthread__fail(err == -EXDEV ? -EPERM : err);
    if ((lt->flags & LTHREAD__F_DETACHED) || (lt->joiner && !joiner_gone(lt)) ||
        lt->state == LTHREAD__DEAD)
        return lthread__fail(-EINVAL);
    if (lt->state == LTHREAD__EXITED) { /* a zombie: freed now */
        lthread__queue_remove(&s->zombies, lt);
        lthread__lt_free(s, lt);
        return 0;
    }
    lt->flags |= LTHREAD__F_DETACHED;
    return 0;
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
