/*
 * Channels: a ring of `cap` values of `esize` bytes, and queues of waiting
 * senders and receivers, under a spinlock. Values move by copy: a waiting
 * sender's value waits in its group (heap), a waiting receiver's value is
 * put there by the sender and copied out by the receiver once it runs
 * again (its own stack may be saved away until then: sync.h).
 *
 * Invariants (under the lock): receivers wait only while the ring is
 * empty; senders wait only while it is full (with cap 0: always). A closed
 * channel has no waiting sender.
 */
#include <stdlib.h>

#include "alloc.h"
#include "sync/sync.h"

#define MAX_ELEM_SIZE 65536
_Static_assert(MAX_ELEM_SIZE <= UINT32_MAX,
               "a value size fits a waiter's vsize");

/* No op of that side yet (last_tx, last_rx). */
static char chan_nobody;
#define CHAN_NOBODY ((struct lthread__sched *)(void *)&chan_nobody)

struct lthread_chan {
    struct lthread__spin lock;
    bool closed;
    size_t esize;
    size_t cap;
    /* Values in the ring. Written under the lock with atomic stores, so
     * that a polling scheduler (chan_poll) may read it without the lock. */
    size_t count;
    /* Values ever taken from the ring; the oldest one is at taken % cap.
     * (Free-running, so that a waiter can tell how many went since it
     * last waited.) */
    size_t taken;
    /* The pthreads (their schedulers; NULL: a plain pthread) of the last
     * send and the last receive, CHAN_NOBODY before the first: a waiter
     * polls only when the other side last ran on another pthread. */
    struct lthread__sched *last_tx;
    struct lthread__sched *last_rx;
    /* Values put into the ring (taken + count) and taken from it when a
     * sender, and a receiver, last had to wait: a side that waits again
     * after many values went through the ring (it drained a stream, or
     * filled it) parks at once, so that the other side gets a batch; one
     * that waits after every value or two (a ping-pong) polls. */
    size_t put_at_wait, taken_at_wait;
    unsigned nspin; /* lthreads polling it (chan_park_op): destroy is EBUSY */
    struct lthread__waitq senders;
    struct lthread__waitq receivers;
    char ring[]; /* cap * esize */
};

LTHREAD_API int lthread_chan_create(lthread_chan_t **ch, size_t elem_size,
                                    size_t capacity)
{
    struct lthread_chan *c;

    if (!ch || elem_size == 0 || elem_size > MAX_ELEM_SIZE ||
        capacity > (SIZE_MAX - sizeof(*c)) / elem_size)
        return lthread__fail(-EINVAL);
    c = lthread__calloc(sizeof(*c) + capacity * elem_size);
    if (!c)
        return lthread__fail(-ENOMEM);
    c->esize = elem_size;
    c->cap = capacity;
    c->last_tx = c->last_rx = CHAN_NOBODY;
    *ch = c;
    return 0;
}

LTHREAD_API int lthread_chan_destroy(lthread_chan_t *ch)
{
    bool busy;

    if (!ch)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&ch->lock);
    busy = ch->senders.head || ch->receivers.head || ch->nspin;
    lthread__spin_unlock(&ch->lock);
    if (busy)
        return lthread__fail(-EBUSY);
    lthread__free(ch);
    return 0;
}

static inline __attribute__((always_inline)) void
ring_put(struct lthread_chan *c, const void *v)
{
    size_t tail = (c->taken + c->count) % c->cap;

    lthread__vcopy(c->ring + tail * c->esize, v, c->esize);
    __atomic_store_n(&c->count, c->count + 1, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void
ring_take(struct lthread_chan *c, void *v)
{
    lthread__vcopy(v, c->ring + c->taken % c->cap * c->esize, c->esize);
    c->taken++;
    __atomic_store_n(&c->count, c->count - 1, __ATOMIC_RELAXED);
}

/* The public calls' fast paths copy a value of a word inline; the other
 * sizes go through these, out of line, each ending the call (a copy that
 * may call memcpy would make the fast paths keep a frame). Each releases
 * c's lock. */
static __attribute__((noinline)) int chan_put_unlock(struct lthread_chan *c,
                                                     const void *v)
{
    ring_put(c, v);
    lthread__spin_unlock(&c->lock);
    return 0;
}

static __attribute__((noinline)) int chan_take_unlock(struct lthread_chan *c,
                                                      void *v)
{
    ring_take(c, v);
    lthread__spin_unlock(&c->lock);
    return 0;
}

/* ... and wakes g, claimed by lthread__waitq_claim_local, after copying
 * the value from src to dst. */
static __attribute__((noinline)) int chan_copy_wake(struct lthread_chan *c,
                                                    void *dst, const void *src,
                                                    struct lthread__sched *s,
                                                    struct lthread__wgroup *g)
{
    lthread__vcopy(dst, src, c->esize);
    lthread__spin_unlock(&c->lock);
    return lthread__wgroup_wake_local(s, g);
}

/* Whether the fast paths copy c's values inline. */
static inline bool chan_word(const struct lthread_chan *c)
{
    return lthread__likely(c->esize == sizeof(void *));
}

/*
 * Sends v now if it can: to a waiting receiver (its group in *woken, to
 * deliver once every lock is released), or into the ring. The lock is
 * held; returns 1 (done: the lock released), 0 (cannot: still locked) or
 * -EPIPE (closed: still locked).
 */
static int try_send(struct lthread_chan *c, const void *v,
                    struct lthread__wgroup **woken)
{
    struct lthread__waiter *w;

    if (c->closed)
        return -EPIPE;
    if ((w = lthread__waitq_claim(&c->receivers))) {
        lthread__vcopy(w->buf, v, c->esize);
        *woken = w->g;
    } else if (c->count < c->cap) {
        ring_put(c, v);
    } else {
        return 0;
    }
    lthread__spin_unlock(&c->lock);
    return 1;
}

/* Receives into v now if it can: from the ring (refilled from a waiting
 * sender) or from a waiting sender. As try_send; -EPIPE when closed and
 * empty. */
static int try_recv(struct lthread_chan *c, void *v,
                    struct lthread__wgroup **woken)
{
    struct lthread__waiter *w;

    if (c->count) {
        ring_take(c, v);
        w = lthread__waitq_claim(&c->senders);
        if (w)
            ring_put(c, w->buf);
    } else if ((w = lthread__waitq_claim(&c->senders))) {
        lthread__vcopy(v, w->buf, c->esize);
    } else {
        return c->closed ? -EPIPE : 0;
    }
    lthread__spin_unlock(&c->lock);
    if (w)
        *woken = w->g;
    return 1;
}

/* The queue a waiter of this op waits in. */
static struct lthread__waitq *queue_of(struct lthread_chan *c, int op)
{
    return op == LTHREAD_CHAN_SEND ? &c->senders : &c->receivers;
}

/* One send or receive through the general select (a plain pthread, no
 * group cached, a large value). */
static __attribute__((noinline)) int
chan_select_one(lthread_chan_t *c, int op, void *elem, uint64_t timeout)
{
    struct lthread_chan_op o = {c, op, elem, 0};
    int r = lthread_chan_select(&o, 1, timeout);

    if (r == 0 && o.err)
        return lthread__fail(-o.err);
    return r < 0 ? r : 0;
}

/* Gives up waiting in a cached group (none cached, or the value does not
 * fit one): the general select does it, c unlocked first. */
static __attribute__((noinline)) int
chan_wait_general(lthread_chan_t *c, int op, void *elem, uint64_t timeout)
{
    lthread__spin_unlock(&c->lock);
    return chan_select_one(c, op, elem, timeout);
}

/* A cached group served with a failure (EPIPE: closed; its park returned
 * it, positive): freed (which clears its result for the cache), and the
 * failure returned. */
static __attribute__((noinline)) int chan_served_fail(struct lthread__wgroup *g)
{
    int err = g->result;

    lthread__wgroup_free(g);
    return lthread__fail(err);
}

/*
 * Parks the running lthread self of s as a waiter of op on c in a cached
 * group (c locked on entry, released), with the value to send copied into
 * the group. Returns 0, or -1 with errno; without a group cached (or when
 * the value does not fit one) the general select does it. The channel is
 * not touched once a waker may have served us: the one that took the last
 * value, or gave one, may destroy it before we run (its element size,
 * esize, is read before: c->esize, or a constant where the caller knows
 * it, which folds the copies to a word's).
 */
static inline __attribute__((always_inline)) int
chan_park(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
          struct lthread__sched *s, struct lthread *self, size_t esize)
{
    struct lthread__wgroup *g;
    int err;

    if (esize > LTHREAD__SMALL_VALUE || !(g = lthread__wgroup_take(s, self)))
        return chan_wait_general(c, op, elem, timeout);
    if (op == LTHREAD_CHAN_SEND)
        lthread__vcopy(lthread__wgroup_buf1(g), elem, esize);
    lthread__waitq_push(queue_of(c, op), &g->w[0], &c->lock);
    lthread__spin_unlock(&c->lock);
    err = lthread__wgroup_park(s, self, g, timeout);
    /* Served (the waker unlinked our only waiter: sync.h), with a failure,
     * or not (g is gone). */
    if (err)
        return err > 0 ? chan_served_fail(g) : lthread__sync_fail(err);
    if (op == LTHREAD_CHAN_RECV)
        lthread__vcopy(elem, lthread__wgroup_buf1(g), esize);
    lthread__wgroup_free_local(g);
    return 0;
}

/*
 * One send or receive, the channel locked (by the caller, which found no
 * fast path): the select of one op without its generic parts (no set to
 * sort, one lock). The op is tried (passing over waiters cancelled or
 * served elsewhere); if it must wait, an lthread waits in a group from
 * its scheduler's cache, taken under the lock, so the channel is locked
 * once; without one, or from a plain pthread, or with a large value, the
 * general select does it. Returns 0, or -1 with errno (EPIPE, ETIMEDOUT,
 * ...) as the public calls do.
 */
static __attribute__((noinline)) int chan_one(lthread_chan_t *c, int op,
                                              void *elem, uint64_t timeout)
{
    struct lthread__wgroup *woken = NULL;
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int r;

    r = op == LTHREAD_CHAN_SEND ? try_send(c, elem, &woken)
                                : try_recv(c, elem, &woken);
    if (r > 0) { /* done; the lock released */
        if (woken)
            lthread__wgroup_deliver(woken, 0);
        return 0;
    }
    if (r < 0) {
        lthread__spin_unlock(&c->lock);
        return lthread__fail(r);
    }
    if (self)
        return chan_park(c, op, elem, timeout, s, self, c->esize);
    lthread__spin_unlock(&c->lock);
    return chan_select_one(c, op, elem, timeout);
}

/* A polled wait's object (lthread__park_polled): the channel, its low
 * bit set for a send. */
#define POLL_SEND ((uintptr_t)1)

static lthread_chan_t *poll_chan(const struct lthread *lt)
{
    return (lthread_chan_t *)((uintptr_t)lt->wait_obj & ~POLL_SEND);
}

/* The scheduler's poll (unlocked: the fields are stored atomically under
 * the lock): could the op go on now? */
static bool chan_poll(const struct lthread *lt)
{
    lthread_chan_t *c = poll_chan(lt);
    size_t count = __atomic_load_n(&c->count, __ATOMIC_RELAXED);

    if ((uintptr_t)lt->wait_obj & POLL_SEND ? count < c->cap : count != 0)
        return true;
    return __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
}

/* A poller (or one woken to retry) leaves: it counts no more. */
static void chan_poll_release(lthread_chan_t *c)
{
    lthread__spin_lock(&c->lock);
    c->nspin--;
    lthread__spin_unlock(&c->lock);
}

/* A poller timed out or destroyed: it polls no more. */
static bool chan_poll_cancel(struct lthread__sched *s, struct lthread *lt)
{
    lthread__queue_remove(&s->pollers, lt);
    chan_poll_release(poll_chan(lt));
    return true;
}

void lthread__poll_abandon(struct lthread *lt)
{
    chan_poll_release(poll_chan(lt));
}

const struct lthread__wait_ops lthread__wait_ops_chan_poll = {
    "sync", chan_poll_cancel, chan_poll};

/*
 * Parks as a sender, or a receiver, of an lthread: nobody waits on the
 * other side and the op cannot go on (chan_park); chan_one when no group
 * is cached. Out of line, so that the hand-offs that do not wait save no
 * registers for it.
 *
 * Or, where that can only help, it waits as a poller instead
 * (lthread__park_polled): not queued on the channel, where a sender or
 * receiver of another pthread would have to claim it and post its wake to
 * our scheduler, but polled by our scheduler's loop once nothing else is
 * ready; the other side then just puts its value into the ring (or takes
 * one), and we retry. A ping-pong between two schedulers: 19 us a round
 * trip parked, 0.35 us polled (BENCHMARKS.md). It polls only on a channel
 * with a capacity (on a rendezvous channel a polling receiver is invisible
 * to the sender, which would wait too), when the other side last ran on
 * another pthread (a peer of this scheduler cannot move while we poll;
 * before the other side's first op we do not know: no poll),
 * nobody waits or polls on the channel already (the queued are served
 * first), and at most two values went through the ring on our side since
 * it last waited: after a run of them (a stream drained, or filled), it
 * parks at once, so that the other side gets a batch instead of both
 * taking turns over every value.
 */
static __attribute__((noinline)) int chan_park_op(lthread_chan_t *c, int op,
                                                  void *elem, uint64_t timeout,
                                                  struct lthread__sched *s)
{
    struct lthread *self = s->host.current;
    size_t run; /* values our side moved through the ring since it waited */
    struct lthread__sched *other; /* where the other side last ran */
    int r;

    other = op == LTHREAD_CHAN_SEND ? c->last_rx : c->last_tx;
    if (other != s && other != CHAN_NOBODY && c->cap) {
        if (op == LTHREAD_CHAN_SEND) {
            run = c->taken + c->count - c->put_at_wait;
            c->put_at_wait = c->taken + c->count;
        } else {
            run = c->taken - c->taken_at_wait;
            c->taken_at_wait = c->taken;
        }
    } else {
        run = SIZE_MAX; /* (a peer of ours, or no op yet: no poll) */
    }
    if (run <= 2 && !queue_of(c, op)->head && !c->nspin &&
        lthread__poll_max_ns() != 0) {
        uint64_t t0 = timeout ? lthread__now_ns() : 0, ms;

        c->nspin++;
        lthread__spin_unlock(&c->lock);
        r = lthread__park_polled(
            s, self,
            (void *)((uintptr_t)c | (op == LTHREAD_CHAN_SEND ? POLL_SEND : 0)),
            timeout);
        if (r) /* timed out, or no timer: the cancel did the unlinking */
            return lthread__fail(r);
        lthread__outcome_taken(self);
        lthread__spin_lock(&c->lock);
        c->nspin--;
        /* The op from the start, as things are now, with what is left of
         * the timeout (it parks for real if it must). */
        if (timeout) {
            ms = (lthread__now_ns() - t0) / 1000000u;
            timeout = ms < timeout ? timeout - ms : 1;
        }
        return chan_one(c, op, elem, timeout);
    }
    return chan_park(c, op, elem, timeout, s, self, c->esize);
}

/*
 * Parks as a sender, or a receiver, of a value of a word where it cannot
 * poll: the other side last ran on this scheduler, or the channel has no
 * ring (chan_park_op, out of line: the same wait after its poll checks).
 * Inline in the public calls, whose frames it then keeps (the hand-offs
 * that do not wait save no registers for it all the same: the compiler
 * sets the frame up on this path only): chan_park, with a word's size.
 */
static inline __attribute__((always_inline)) int
chan_wait(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
          struct lthread__sched *s, struct lthread *self)
{
    /* elem, kept across the park, as a value of this path alone: else the
     * compiler keeps it in a saved register from the entry of the public
     * call on, which then saves registers on every path. */
    __asm__("" : "+r"(elem));
    return chan_park(c, op, elem, timeout, s, self, sizeof(void *));
}

/* A send or receive given no channel or no value: out of line, so that
 * the public calls keep no frame for setting errno. */
static __attribute__((noinline, cold)) int chan_einval(void)
{
    return lthread__fail(-EINVAL);
}

/*
 * The public send and receive do the common cases of an lthread here: the
 * same-scheduler hand-off (the oldest waiter on the other side is an
 * lthread of this pthread's scheduler: sync.h, lthread__waitq_claim_local:
 * the value is copied and the waiter woken inline), a send into a ring
 * with room, a receive from a ring no sender waits to refill, and parking
 * when nobody waits on the other side. Everything else (waiters of other
 * schedulers or pthreads, waiters to pass over, a closed channel, a plain
 * pthread, no group cached) goes to chan_one with the lock held. Every
 * other call they make is a tail call, the parks' excepted, so that the
 * hand-offs that do not wait keep no frame: a spinlock found held is
 * waited for by chan_send_contended (chan_recv_contended), which takes
 * it and goes on with its own copy of the rest (a wait that went that
 * way shows it in its backtrace in place of the public call).
 */

static inline __attribute__((always_inline)) int
chan_send_locked(lthread_chan_t *c, const void *elem, uint64_t timeout,
                 struct lthread__sched *s)
{
    struct lthread__wgroup *g;
    struct lthread *self;

    c->last_tx = s;
    if (lthread__likely(s != NULL)) {
        if ((g = lthread__waitq_claim_local(&c->receivers, s))) {
            /* (Nobody waits on a closed channel: its close served them
             * all, and no receive waits on it since.) */
            LTHREAD__CHECK(!c->closed, "a closed channel has no receiver "
                                       "waiting");
            if (!chan_word(c))
                return chan_copy_wake(c, lthread__wgroup_buf1(g), elem, s, g);
            memcpy(lthread__wgroup_buf1(g), elem, sizeof(void *));
            lthread__spin_unlock(&c->lock);
            return lthread__wgroup_wake_local(s, g);
        }
        if (!c->receivers.head && !c->closed) {
            if (c->count < c->cap) {
                if (!chan_word(c))
                    return chan_put_unlock(c, elem);
                ring_put(c, elem);
                lthread__spin_unlock(&c->lock);
                return 0;
            }
            if ((self = s->host.current)) {
                int r;

                /* Polling needs a ring and a receiver elsewhere. */
                if (lthread__unlikely((c->last_rx != s && c->cap) ||
                                      !chan_word(c))) {
                    r = chan_park_op(c, LTHREAD_CHAN_SEND, (void *)elem,
                                     timeout, s);
                    LTHREAD__KEEP_FRAME();
                    return r;
                }
                return chan_wait(c, LTHREAD_CHAN_SEND, (void *)elem, timeout, s,
                                 self);
            }
        }
    }
    return chan_one(c, LTHREAD_CHAN_SEND, (void *)elem, timeout);
}

static __attribute__((noinline)) int
chan_send_contended(lthread_chan_t *c, const void *elem, uint64_t timeout)
{
    lthread__spin_wait(&c->lock);
    return chan_send_locked(c, elem, timeout, lthread__tls_sched);
}

LTHREAD_API int lthread_chan_send(lthread_chan_t *c, const void *elem,
                                  uint64_t timeout)
{
    if (lthread__unlikely(!c || !elem))
        return chan_einval();
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_send_contended(c, elem, timeout);
    return chan_send_locked(c, elem, timeout, lthread__tls_sched);
}

static inline __attribute__((always_inline)) int
chan_recv_locked(lthread_chan_t *c, void *elem, uint64_t timeout,
                 struct lthread__sched *s)
{
    struct lthread__wgroup *g;
    struct lthread *self;

    c->last_rx = s;
    /* Senders wait only while the ring is full: with values in it, the
     * ring goes first (chan_one refills it from a waiting sender; with
     * none waiting, the oldest value is simply taken, here). */
    if (c->count && !c->senders.head) {
        if (!chan_word(c))
            return chan_take_unlock(c, elem);
        ring_take(c, elem);
        lthread__spin_unlock(&c->lock);
        return 0;
    }
    if (lthread__likely(s && !c->count)) {
        if ((g = lthread__waitq_claim_local(&c->senders, s))) {
            if (!chan_word(c))
                return chan_copy_wake(c, elem, lthread__wgroup_buf1(g), s, g);
            memcpy(elem, lthread__wgroup_buf1(g), sizeof(void *));
            lthread__spin_unlock(&c->lock);
            return lthread__wgroup_wake_local(s, g);
        }
        if (!c->senders.head && !c->closed && (self = s->host.current)) {
            int r;

            /* Polling needs a ring and a sender elsewhere. */
            if (lthread__unlikely((c->last_tx != s && c->cap) ||
                                  !chan_word(c))) {
                r = chan_park_op(c, LTHREAD_CHAN_RECV, elem, timeout, s);
                LTHREAD__KEEP_FRAME();
                return r;
            }
            return chan_wait(c, LTHREAD_CHAN_RECV, elem, timeout, s, self);
        }
    }
    return chan_one(c, LTHREAD_CHAN_RECV, elem, timeout);
}

static __attribute__((noinline)) int
chan_recv_contended(lthread_chan_t *c, void *elem, uint64_t timeout)
{
    lthread__spin_wait(&c->lock);
    return chan_recv_locked(c, elem, timeout, lthread__tls_sched);
}

LTHREAD_API int lthread_chan_recv(lthread_chan_t *c, void *elem,
                                  uint64_t timeout)
{
    if (lthread__unlikely(!c || !elem))
        return chan_einval();
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_recv_contended(c, elem, timeout);
    return chan_recv_locked(c, elem, timeout, lthread__tls_sched);
}

LTHREAD_API int lthread_chan_close(lthread_chan_t *ch)
{
    struct lthread__waiter *w, *woken = NULL;

    if (!ch)
        return lthread__fail(-EINVAL);
    lthread__spin_lock(&ch->lock);
    if (ch->closed) {
        lthread__spin_unlock(&ch->lock);
        return lthread__fail(-EPIPE);
    }
    __atomic_store_n(&ch->closed, true, __ATOMIC_RELAXED);
    /* Every waiter fails with EPIPE: senders cannot send any more, and
     * receivers wait only while the ring is empty. Chained through
     * `next`, which claiming has cleared. */
    while ((w = lthread__waitq_claim(&ch->senders)) ||
           (w = lthread__waitq_claim(&ch->receivers))) {
        w->next = woken;
        woken = w;
    }
    lthread__spin_unlock(&ch->lock);
    while ((w = woken)) {
        woken = w->next;
        lthread__wgroup_deliver(w->g, -EPIPE);
    }
    return 0;
}

/* ---- select ---------------------------------------------------------------
 */

static int cmp_chan(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (lthread_chan_t *const *)a;
    uintptr_t y = (uintptr_t) * (lthread_chan_t *const *)b;

    return x < y ? -1 : x > y;
}

/* Locks (unlocks) the distinct channels of the sorted set. */
static void lock_all(lthread_chan_t **set, size_t n, bool lock)
{
    for (size_t i = 0; i < n; i++)
        if (i == 0 || set[i] != set[i - 1]) {
            if (lock)
                lthread__spin_lock(&set[i]->lock);
            else
                lthread__spin_unlock(&set[i]->lock);
        }
}

/* Tries op i with every channel locked; on success (or EPIPE) unlocks them
 * all (try_* releases op i's channel itself), wakes the waiter it served,
 * if any, and returns 1. */
static int try_op(struct lthread_chan_op *o, lthread_chan_t **set, size_t n)
{
    struct lthread__wgroup *woken = NULL;
    int r;

    if (o->op == LTHREAD_CHAN_SEND)
        r = try_send(o->ch, o->elem, &woken);
    else
        r = try_recv(o->ch, o->elem, &woken);
    if (!r)
        return 0;
    o->err = r < 0 ? -r : 0;
    /* try_* unlocked o->ch when it did the op, not on -EPIPE. */
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || set[i] != set[i - 1]) && (set[i] != o->ch || r < 0))
            lthread__spin_unlock(&set[i]->lock);
    /* No lock held: waking may run the waiter's undo and unlink, which
     * take the locks of its own objects (sync.h). */
    if (woken)
        lthread__wgroup_deliver(woken, 0);
    return 1;
}

LTHREAD_API int lthread_chan_select(struct lthread_chan_op *ops, size_t n,
                                    uint64_t timeout)
{
    lthread_chan_t *one[1], **set = one;
    struct lthread__wgroup *g;
    size_t vsize = 0;
    int err;

    if (!ops || n == 0 || n > 1024)
        return lthread__fail(-EINVAL);
    for (size_t i = 0; i < n; i++) {
        if (!ops[i].ch || !ops[i].elem ||
            (ops[i].op != LTHREAD_CHAN_SEND && ops[i].op != LTHREAD_CHAN_RECV))
            return lthread__fail(-EINVAL);
        if (ops[i].ch->esize > vsize)
            vsize = ops[i].ch->esize;
    }
    if (n > 1) {
        set = lthread__malloc(n * sizeof(*set));
        if (!set)
            return lthread__fail(-ENOMEM);
        for (size_t i = 0; i < n; i++)
            set[i] = ops[i].ch;
        qsort(set, n, sizeof(*set), cmp_chan);
    } else {
        set[0] = ops[0].ch;
    }
    /* Locked in address order: a select never deadlocks another. */
    lock_all(set, n, true);
    for (size_t i = 0; i < n; i++)
        if (try_op(&ops[i], set, n)) {
            err = (int)i;
            goto out;
        }
    lock_all(set, n, false);
    g = lthread__wgroup_new(n, vsize);
    if (!g) {
        err = lthread__fail(-ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        g->w[i].vsize = (uint32_t)ops[i].ch->esize;
        if (ops[i].op == LTHREAD_CHAN_SEND)
            memcpy(g->w[i].buf, ops[i].elem, ops[i].ch->esize);
    }
    /* Again, now that the group exists: nothing may have changed in
     * between without us seeing it. */
    lock_all(set, n, true);
    for (size_t i = 0; i < n; i++)
        if (try_op(&ops[i], set, n)) {
            lthread__wgroup_free(g);
            err = (int)i;
            goto out;
        }
    for (size_t i = 0; i < n; i++)
        lthread__waitq_push(queue_of(ops[i].ch, ops[i].op), &g->w[i],
                            &ops[i].ch->lock);
    lock_all(set, n, false);
    /* Not needed any more, and a destroyed waiter never comes back to
     * free it. */
    if (set != one)
        lthread__free(set);
    set = one;
    err = lthread__wgroup_wait(g, timeout);
    if (err < 0) { /* (> 0: served with a failure, in g->result) */
        err = lthread__fail(err); /* g is gone */
        goto out;
    }
    err = g->chosen;
    ops[err].err = -g->result;
    /* The chosen channel may be gone already (the sender that served us
     * destroyed it), and the other waiters of a select may still be
     * linked. */
    if (ops[err].op == LTHREAD_CHAN_RECV && !g->result)
        memcpy(ops[err].elem, g->w[err].buf, g->w[err].vsize);
    lthread__wgroup_unlink(g, err);
    lthread__wgroup_free(g);
out:
    if (set != one)
        lthread__free(set);
    return err;
}
