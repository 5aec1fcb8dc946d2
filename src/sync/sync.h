/*
 * What mutexes and channels share: a spinlock for each object's few words
 * of state, queues of waiters, and the wait itself, for an lthread (parked
 * on its scheduler) or a pthread (blocked: a plain pthread, or an lthread
 * inside a compute section).
 *
 * A wait is a heap record, the group, with one waiter per object waited on
 * (one, or one per channel of a select). The group's atomic state decides
 * who owns the outcome: a waker that moves it from WAITING to DONE (under
 * the object's lock) does the operation for the waiter and then delivers
 * the wake: directly when it runs on the waiter's scheduler, else through
 * that scheduler's inbox, or by signalling the blocked pthread. A waiter
 * that gives up (timeout, destroy) moves it to CANCELLED and unlinks its
 * waiters; when it loses that race its cancel refuses, and it waits for
 * the wake already on its way. Records live on the heap, never on a shared
 * stack region: another pthread writes into them while their lthread's
 * frames may be saved away. Between two lthreads of one scheduler the
 * hand-off skips the CAS and the inbox (the fast path, below).
 */
#ifndef LTHREAD_SYNC_H
#define LTHREAD_SYNC_H

#include <stdatomic.h>
#include <string.h>

#include "lthread_int.h"

/* ---- spinlock: held for a few loads and stores, never across a wait --- */

struct lthread__spin {
    _Atomic int locked;
};

void lthread__spin_wait(struct lthread__spin *l);

static inline void lthread__spin_lock(struct lthread__spin *l)
{
    if (lthread__unlikely(
            atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)))
        lthread__spin_wait(l);
}

/* Takes l if it is free; false (nothing done) when it is held. */
static inline bool lthread__spin_trylock(struct lthread__spin *l)
{
    return !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire);
}

static inline void lthread__spin_unlock(struct lthread__spin *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* ---- waiters --------------------------------------------------------------
 */

enum { LTHREAD__W_WAITING, LTHREAD__W_DONE, LTHREAD__W_CANCELLED };

struct lthread__waitq;
struct lthread__wgroup;

/* One object waited on by a group, linked in that object's queue. */
struct lthread__waiter {
    struct lthread__waiter *next;
    struct lthread__waiter *prev; /* (stale in the queue's head) */
    struct lthread__waitq *q;     /* the queue it is in; NULL: unlinked (or
                                   * stale once served: sync.h's fast path) */
    struct lthread__spin *lock;   /* that queue's object's lock */
    struct lthread__wgroup *g;
    int index;      /* its place in the group */
    uint32_t vsize; /* a select's channel's value size: read once served,
                     * when the channel may be gone (chan.c) */
    void *buf;      /* a channel value, in the group */
    union {
        void *who; /* a mutex waiter's identity */
        /* A channel receive's destination, kept here across its park
         * (chan.c), not in a register its frame would save. */
        void *dst;
    };
};

/* A FIFO of waiters. Only the head says whether it is empty (NULL) and
 * which waiter is the first: the tail of an empty queue, and the prev of
 * its head, are stale (left as they were), so that taking the first
 * waiter is a load and a store whatever is left behind it
 * (lthread__waitq_claim_local: a hand-off's queue is left empty). */
struct lthread__waitq {
    struct lthread__waiter *head;
    struct lthread__waiter *tail; /* the last waiter, while there is one */
};

/* A queue's head is stored atomically (under its object's lock), so that a
 * channel's lock-free send and receive may look, without the lock, whether
 * anybody waits (lthread__waitq_busy; chan.c). */
static inline void lthread__waitq_set_head(struct lthread__waitq *q,
                                           struct lthread__waiter *w)
{
    __atomic_store_n(&q->head, w, __ATOMIC_RELAXED);
}

/* Whether anybody waits in q, read without its object's lock. */
static inline bool lthread__waitq_busy(const struct lthread__waitq *q)
{
    return __atomic_load_n(&q->head, __ATOMIC_RELAXED) != NULL;
}

/* A blocked pthread's wake-up (thread-local, sync.c). */
struct lthread__tw;

struct lthread__wgroup {
    struct lthread__msg msg; /* delivery to an lthread's scheduler */
    /* In the registry of scheduler `reg` (its sync_waits list): every
     * group of its lthreads, in use or in its cache, so that introspection
     * finds the lthreads that wait on mutexes and channels without a list
     * kept per wait (lthread__sync_each_waiter; tools/gdb/lthread.py).
     * Changed only when a group is made, freed for good, or first cached
     * by the scheduler; only on its pthread. NULL: not listed (a group of
     * a plain pthread or of an lthread in a compute section). */
    struct lthread__wgroup *snext;
    struct lthread__wgroup *sprev;
    struct lthread__sched *reg;
    struct lthread__wgroup *cnext; /* in its scheduler's cache */
    _Atomic int state;             /* LTHREAD__W_* */
    /* lt's scheduler when the group has one waiter and lt waits parked
     * (not in a compute section), else NULL: then the scheduler's own
     * pthread is the only one that can cancel it, and a waker running
     * there claims it without a CAS (lthread__waitq_claim_local). */
    struct lthread__sched *local;
    int chosen;         /* the waiter that was served */
    int result;         /* 0 or a negative errno (-EPIPE) */
    struct lthread *lt; /* the waiting lthread, or NULL (NULL in a cache) */
    struct lthread__sched *sched; /* lt's scheduler */
    struct lthread__tw *tw;       /* else the blocked pthread's */
    /* When lt was destroyed while its wake was on the way: undoes what
     * the waker did for it (a mutex handed over is released). */
    void (*undo)(struct lthread__wgroup *g);
    /* A timed wait on a channel: its timeout (ms; 0: none, as in a
     * cached group) and when it began (ns): served with EAGAIN, it goes
     * on with what is left (chan.c). */
    uint64_t timeout;
    uint64_t since;
    size_t n;
    bool small; /* of the one size that is cached (wait.c) */
    struct lthread__waiter w[];
    /* then n values of the channel's size, if any */
};

/* Groups of one waiter with up to LTHREAD__SMALL_VALUE bytes of value are
 * all made the same size, and each scheduler keeps up to
 * LTHREAD__WG_CACHE_MAX freed ones for its lthreads' next waits (not under
 * ASan, which must see every use of freed memory), and one more in its
 * slot wg_hot: a wait takes that one first, and a group its waiter frees
 * goes back there first (lthread__wgroup_free_local), so that the waits
 * of a hand-off take and give back a group in a load and a store each,
 * without the list and its count. Only the scheduler's own pthread
 * touches its cache. */
#define LTHREAD__SMALL_VALUE 64
#ifdef LTHREAD__ASAN
#define LTHREAD__WG_CACHE_MAX 0
#else
#define LTHREAD__WG_CACHE_MAX 32
#endif

/* The bytes before a group's values: the head and n waiters, rounded up
 * to 16. */
static inline size_t lthread__wgroup_head(size_t n)
{
    size_t head =
        sizeof(struct lthread__wgroup) + n * sizeof(struct lthread__waiter);

    return (head + 15) & ~(size_t)15;
}

/* The value room of a group of one waiter (its w[0].buf, where
 * group_init puts it), at a constant offset: no load. */
static inline void *lthread__wgroup_buf1(struct lthread__wgroup *g)
{
    return (char *)g + lthread__wgroup_head(1);
}

/* A group of n waiters with `vsize` bytes of value room each, for the
 * caller (an lthread or a pthread); NULL on ENOMEM. */
struct lthread__wgroup *lthread__wgroup_new(size_t n, size_t vsize);
void lthread__wgroup_free(struct lthread__wgroup *g);

/* Links w at the tail of q (the object's lock held). */
static inline void lthread__waitq_push(struct lthread__waitq *q,
                                       struct lthread__waiter *w,
                                       struct lthread__spin *lock)
{
    struct lthread__waiter *tail = q->tail; /* (stale when empty) */

    w->q = q;
    w->lock = lock;
    w->next = NULL;
    w->prev = tail;
    /* The link to w: the tail's next, or the head (stored atomically:
     * lthread__waitq_busy), chosen without a branch (the queue of a
     * hand-off is empty). */
    __atomic_store_n(q->head ? &tail->next : &q->head, w, __ATOMIC_RELAXED);
    q->tail = w;
}
/* Unlinks w from its queue (the object's lock held). */
void lthread__waitq_unlink(struct lthread__waiter *w);

/* Takes the oldest waiter of q that can still be served, claiming its
 * group for it and unlinking it (the object's lock held); NULL when none.
 * Waiters of groups that were cancelled or served elsewhere are passed
 * over: their owners unlink them. */
struct lthread__waiter *lthread__waitq_claim(struct lthread__waitq *q);

/* Unlinks every waiter of g still linked but the one at index `claimed`
 * (-1: none), which its waker unlinked, and whose object the caller must
 * not touch (it may have been destroyed since). The objects' locks must
 * be free. */
void lthread__wgroup_unlink(struct lthread__wgroup *g, int claimed);

/* Wakes a claimed group with `result`; call after releasing the object's
 * lock. */
void lthread__wgroup_deliver(struct lthread__wgroup *g, int result);

/* Waits for g to be served, up to timeout ms (0: none). Returns 0 or a
 * positive errno (an lthread's, served with a failure) when it was (g->chosen,
 * g->result tell how; the caller frees g), or LTHREAD__TIMEDOUT / another
 * negative errno when the wait ended without it (g is freed then). The object
 * locks must not be held. */
int lthread__wgroup_wait(struct lthread__wgroup *g, uint64_t timeout);

/* After a call that may park: keeps the calling public function's frame
 * on the stack (no tail call), so that a parked lthread's backtrace shows
 * lthread_chan_recv() and the like (tests/test_gdb.sh). */
#define LTHREAD__KEEP_FRAME() __asm__ volatile("")

/* The result of a call that may park, with the calling function's frame
 * kept (LTHREAD__KEEP_FRAME): `return LTHREAD__PARKED(park(...));`. */
#define LTHREAD__PARKED(call)                                                  \
    __extension__({                                                            \
        int r_ = (call);                                                       \
        LTHREAD__KEEP_FRAME();                                                 \
        r_;                                                                    \
    })

/* ---- the same-scheduler fast path ----------------------------------------
 *
 * A lock, send or receive by an lthread, against a waiter that is an
 * lthread of the same scheduler, is a hand-off between two lthreads of one
 * pthread: these inline pieces do it without the general machinery (no
 * CAS on the group, no inbox, a group from the cache set up in a few
 * stores). Anything else (a waiter of another scheduler, a plain pthread,
 * a select, a waiter passed over) takes the general path, and a waker on
 * another pthread still claims these groups with the CAS.
 */

/* Copies a value of n bytes; the usual sizes with constant-size copies the
 * compiler inlines (a call into libc per value was 3% of a hand-off). */
static inline void lthread__vcopy(void *dst, const void *src, size_t n)
{
    if (lthread__likely(n == sizeof(void *))) { /* a pointer, a long */
        memcpy(dst, src, sizeof(void *));
        return;
    }
    switch (n) {
    case 1:
        memcpy(dst, src, 1);
        break;
    case 2:
        memcpy(dst, src, 2);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, n);
        break;
    }
}

/*
 * Claims the oldest waiter of q when it belongs to a one-waiter group of
 * an lthread of s, the calling pthread's scheduler (non-NULL), and
 * returns that group (its waiter is w[0]); NULL otherwise (use
 * lthread__waitq_claim then). The object's lock is held.
 *
 * No CAS: a one-waiter group of a parked lthread can be cancelled only by
 * its own scheduler's pthread (a timeout, a destroy, a failed timer arm:
 * lthread__wait_cancel runs there), and that is the caller, which is not
 * inside a cancel; a cancel unlinks its waiter before it returns, a waker
 * unlinks the waiter it claims under this lock. So a waiter of such a
 * group that is still linked here is WAITING, and nobody else can change
 * that while we hold the lock.
 */
static inline struct lthread__wgroup *
lthread__waitq_claim_local(struct lthread__waitq *q, struct lthread__sched *s)
{
    struct lthread__waiter *w = q->head;
    struct lthread__wgroup *g;

    if (!w || (g = w->g)->local != s)
        return NULL;
    LTHREAD__CHECK(s && g->n == 1 && w == &g->w[0] &&
                       w->buf == lthread__wgroup_buf1(g) && g->chosen == 0 &&
                       atomic_load_explicit(&g->state, memory_order_relaxed) ==
                           LTHREAD__W_WAITING,
                   "a linked waiter of a local one-waiter group is WAITING");
    atomic_store_explicit(&g->state, LTHREAD__W_DONE, memory_order_relaxed);
    /* The head: unlinked by moving the head on (the tail, and the new
     * head's prev, become stale: struct lthread__waitq). Its next and q are
     * left stale: nothing reads them once its group is served
     * (lthread__wgroup_unlink passes over the claimed waiter, chosen 0 in a
     * group of one; a push sets them all again). */
    lthread__waitq_set_head(q, w->next);
    return g;
}

/* lthread__wgroup_wake_local of an lthread with a timer (wait.c): out of
 * line, so that the untimed wake calls nothing and its callers keep no
 * frame. Returns 0. */
int lthread__wgroup_wake_local_timed(struct lthread__sched *s,
                                     struct lthread__wgroup *g);

/*
 * Wakes g, claimed by lthread__waitq_claim_local (result 0), on its
 * scheduler s, the caller's; call after releasing the object's lock.
 * Returns 0 (the caller's result: a tail call where it has a timer). The
 * lthread cannot have been destroyed meanwhile: a destroy while it waits
 * cancels the group (that pthread is this one), which unlinks it.
 */
static inline int lthread__wgroup_wake_local(struct lthread__sched *s,
                                             struct lthread__wgroup *g)
{
    struct lthread *lt = g->lt;

    LTHREAD__CHECK(lt->wait == LTHREAD__WAIT_SYNC && lt->wait_obj == g &&
                       !(lt->flags & LTHREAD__F_DESTROY),
                   "a claimed local waiter waits on its group, not destroyed");
    s->nxwaiting--;
    if (lthread__unlikely(lt->flags & LTHREAD__F_TIMER))
        return lthread__wgroup_wake_local_timed(s, g);
    /* lthread__unpark without what a parked lthread already has:
     * wake_result 0 (lthread__park), wait_obj g. */
    LTHREAD__CHECK(lt->wake_result == 0, "a parked lthread's result is 0");
    lt->wait = LTHREAD__WAIT_NONE;
    lthread__ready(s, lt);
    /* Until it runs, the outcome is its to undo if it is destroyed. */
    lthread__outcome_hold(lt, LTHREAD__DONE_SYNC);
    return 0;
}

/*
 * A group of one waiter for lt, the running lthread of s, from s's cache,
 * or NULL when none is cached: no allocation, so it may be taken with an
 * object's lock held. A cached group keeps what never changes in a small
 * group (n, small, its waiter's g, index and buf: its value room of
 * LTHREAD__SMALL_VALUE bytes), what its cache makes it (sched and local
 * are that cache's scheduler: lthread__wgroup_free) and what a wait that
 * went well leaves as it found it (undo NULL, result 0: the frees see to
 * it); the rest is set here. Its waiter's links are set when it is
 * pushed.
 */
static inline struct lthread__wgroup *
lthread__wgroup_take(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__wgroup *g = s->wg_hot;

    if (lthread__likely(g != NULL)) {
        s->wg_hot = NULL;
    } else {
        if (!(g = s->wg_cache))
            return NULL;
        s->wg_cache = g->cnext;
        s->nwg_cache--;
    }
    LTHREAD__CHECK(g->n == 1 && g->small && g->w[0].g == g &&
                       g->w[0].buf == lthread__wgroup_buf1(g) &&
                       g->sched == s && g->local == s && g->reg == s &&
                       !g->lt && !g->undo && !g->result && !g->timeout,
                   "a cached wait group is a small group of one waiter, of "
                   "its cache's scheduler, with no undo, result 0 and no "
                   "timeout");
    atomic_store_explicit(&g->state, LTHREAD__W_WAITING, memory_order_relaxed);
    g->lt = lt;
    return g;
}

/* A group served with a failure (g->result, -EPIPE) wakes its parked
 * lthread with that errno, positive, as its wake result (wgroup_wake,
 * wait.c): a park's outcomes are otherwise 0 or negative, so that a waiter
 * tells the three apart by the one value (lthread__wgroup_park). */

/* Parks lt, the running lthread of s, on *gp (linked in its object's
 * queue, no lock held), as lthread__wgroup_wait does for an lthread.
 * Returns 0 when the group was served with result 0, a positive errno
 * (-g->result) when it was served with a failure (in both cases the caller
 * frees it), else a negative errno or LTHREAD__TIMEDOUT: the wait ended
 * without it (it is freed then). Served, *gp is set again from lt's
 * wait_obj, which names the group until the outcome is taken (wgroup_wake,
 * lthread__wgroup_wake_local): so that the callers keep only lt across the
 * switch, not the group too (a register less saved in every parked
 * lthread's frame, and in its stack image). */
static inline int lthread__wgroup_park(struct lthread__sched *s,
                                       struct lthread *lt,
                                       struct lthread__wgroup **gp,
                                       uint64_t timeout)
{
    int err;

    s->nxwaiting++; /* a wait only another pthread may end */
    err = lthread__park(s, lt, LTHREAD__WAIT_SYNC, *gp, timeout);
    /* Served: the outcome is ours now. (The common case tested alone.) */
    if (lthread__likely(err == 0)) {
        *gp = lt->wait_obj;
        lthread__outcome_taken(lt);
        return 0;
    }
    if (err > 0) { /* served with a failure */
        *gp = lt->wait_obj;
        lthread__outcome_taken(lt);
    }
    return err;
}

/* Frees a group from lthread__wgroup_take, served with result 0 and its
 * undo cleared, on its scheduler's pthread: back into that scheduler's
 * cache when there is room (other groups: lthread__wgroup_free). */
static inline void lthread__wgroup_free_local(struct lthread__wgroup *g)
{
#if LTHREAD__WG_CACHE_MAX > 0
    struct lthread__sched *s = g->sched;

    LTHREAD__CHECK(g->small && s == lthread__tls_sched && !g->undo &&
                       !g->result && !g->timeout,
                   "a group from a scheduler's cache goes back to it as it "
                   "came (no undo, result 0)");
    g->lt = NULL; /* not an lthread's (lthread__sync_each_waiter) */
    if (lthread__likely(!s->wg_hot)) {
        s->wg_hot = g;
        return;
    }
    if (s->nwg_cache < LTHREAD__WG_CACHE_MAX) {
        g->cnext = s->wg_cache;
        s->wg_cache = g;
        s->nwg_cache++;
        return;
    }
#endif
    lthread__wgroup_free(g);
}

/* Calls fn for every lthread of s that waits on a mutex or a channel
 * (introspection, on s's pthread): the lthreads of s's registered groups
 * whose wait is that group. Stops at fn's first non-zero result and
 * returns it. */
int lthread__sync_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg);

/* The identity of the caller as a mutex holder: its lthread, or a word
 * unique to its pthread. */
void *lthread__sync_self(void);

#endif /* LTHREAD_SYNC_H */
