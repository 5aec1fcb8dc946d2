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
 * frames may be saved away.
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
    struct lthread__waiter *prev;
    struct lthread__waitq *q;   /* the queue it is in; NULL: unlinked */
    struct lthread__spin *lock; /* that queue's object's lock */
    struct lthread__wgroup *g;
    int index; /* its place in the group */
    void *buf; /* a channel value, in the group */
    void *who; /* a mutex waiter's identity */
};

struct lthread__waitq {
    struct lthread__waiter *head;
    struct lthread__waiter *tail;
};

/* A blocked pthread's wake-up (thread-local, sync.c). */
struct lthread__tw;

struct lthread__wgroup {
    struct lthread__msg msg; /* delivery to an lthread's scheduler */
    /* In lt's scheduler's sync_waits while it waits (introspection). */
    struct lthread__wgroup *snext;
    struct lthread__wgroup *sprev;
    _Atomic int state;            /* LTHREAD__W_* */
    int chosen;                   /* the waiter that was served */
    int result;                   /* 0 or a negative errno (-EPIPE) */
    struct lthread *lt;           /* the waiting lthread, or NULL */
    struct lthread__sched *sched; /* lt's scheduler */
    struct lthread__tw *tw;       /* else the blocked pthread's */
    /* When lt was destroyed while its wake was on the way: undoes what
     * the waker did for it (a mutex handed over is released). */
    void (*undo)(struct lthread__wgroup *g);
    size_t n;
    bool small; /* of the one size that is cached (wait.c) */
    struct lthread__waiter w[];
    /* then n values of the channel's size, if any */
};

/* A group of n waiters with `vsize` bytes of value room each, for the
 * caller (an lthread or a pthread); NULL on ENOMEM. */
struct lthread__wgroup *lthread__wgroup_new(size_t n, size_t vsize);
void lthread__wgroup_free(struct lthread__wgroup *g);
/* A group of one waiter from the calling lthread's scheduler's cache, or
 * NULL (none cached, or not called from an lthread): no allocation, so it
 * may be called with an object's lock held. */
struct lthread__wgroup *lthread__wgroup_cached(size_t vsize);

/* Links w at the tail of q (the object's lock held). */
void lthread__waitq_push(struct lthread__waitq *q, struct lthread__waiter *w,
                         struct lthread__spin *lock);
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

/* Waits for g to be served, up to timeout ms (0: none). Returns 0 when it
 * was (g->chosen, g->result tell how; the caller frees g), or
 * LTHREAD__TIMEDOUT / another negative errno when the wait ended without
 * it (g is freed then). The object locks must not be held. */
int lthread__wgroup_wait(struct lthread__wgroup *g, uint64_t timeout);

/* The identity of the caller as a mutex holder: its lthread, or a word
 * unique to its pthread. */
void *lthread__sync_self(void);

#endif /* LTHREAD_SYNC_H */
