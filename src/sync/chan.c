/*
 * Channels. A channel with a capacity keeps its values in a ring that
 * sends and receives use without the lock: each slot has a sequence word
 * that says whether it is free for the send of position p (2p) or holds
 * the value of position p (2p + 1); a send claims the next position (tx)
 * with a CAS and publishes its slot, a receive claims the oldest (rx) and
 * frees its slot for the send one lap later (2(p + cap)). tx and rx live
 * on cache lines of their own, so that a stream between two schedulers
 * moves the slots' lines and nothing else (one lock taken and given per
 * value moved the channel's header between the CPUs twice a value).
 * tx's top bit says closed: a send that claimed its position before the
 * close delivers; none after.
 *
 * The lock guards the queues of waiting senders and receivers, and a
 * rendezvous channel (capacity 0: no ring) entirely. Values move by copy:
 * a waiting sender's value waits in its group (heap), a waiting
 * receiver's value is put there by the sender and copied out by the
 * receiver once it runs again (its own stack may be saved away until
 * then: sync.h).
 *
 * Waiting on a ring without losing a wake: a receiver that finds the ring
 * empty takes the lock (an atomic exchange), and only then looks at tx
 * again before it queues itself; a send claims its position (a CAS) and
 * only then looks at the lock and the receivers' queue. Both orders are
 * sequentially consistent, so at least one side sees the other: the
 * receiver sees the value (or its position claimed: it is being written;
 * it waits for it), or the sender sees the lock held or the receiver
 * queued, and then takes the lock and serves the waiter (a value from the
 * ring; when another receiver took it first, the waiter is told to retry:
 * served with EAGAIN, which the calls never return). Senders waiting on a
 * full ring and receives likewise, with rx and the senders' queue.
 *
 * Invariants: receivers queue only after seeing the ring empty, senders
 * only after seeing it full (with cap 0: always), under the lock; a
 * closed channel has no waiting sender; positions stay below 2^62 (at a
 * billion values a second, a century).
 */
#include <limits.h>
#include <sched.h>
#include <stdlib.h>

#include "alloc.h"
#include "sync/sync.h"

#define MAX_ELEM_SIZE 65536
_Static_assert(MAX_ELEM_SIZE <= UINT32_MAX,
               "a value size fits a waiter's vsize");

/* tx's closed bit. */
#define CLOSED ((size_t)1 << (sizeof(size_t) * CHAR_BIT - 1))

/* No op of that side yet (last_tx, last_rx). */
static char chan_nobody;
#define CHAN_NOBODY ((struct lthread__sched *)(void *)&chan_nobody)

#define LINE 64

/* Channel modes (its `mode`): CHAN_RING_WORD and CHAN_RING_WORD_EMPTY
 * differ only in the receivers' hint; values of another size than a word
 * (or a ring of another capacity than a power of two) are the modes from
 * CHAN_RING on, which the public calls leave to an out-of-line function
 * (chan_send_other, chan_recv_other), so that their inline paths know the
 * size of a value. */
enum {
    CHAN_RENDEZVOUS,
    CHAN_RING_WORD_EMPTY,
    CHAN_RING_WORD,
    CHAN_RING,
    CHAN_RENDEZVOUS_ANY
};

struct lthread_chan {
    /* Read by every op; written only by ops that wait or serve waiters,
     * and by a close. The lock first: a waiter's lock is its channel
     * (chan_served_fail). */
    struct lthread__spin lock;
    bool closed; /* stored atomically (chan_poll reads it unlocked) */
    bool pow2;   /* cap is a power of two: a slot is at p & mask */
    /* What the public send and receive do first (a load and a compare or
     * two): with values of a word, CHAN_RENDEZVOUS, the lock; CHAN_RING_
     * WORD, the ring (of a power-of-two capacity), inline; the other
     * modes (CHAN_RING: another ring; CHAN_RENDEZVOUS_ANY) out of line.
     * CHAN_RING_WORD_EMPTY is CHAN_RING_WORD
     * when the last receive that took the lock found the ring empty (and
     * waited): the receives that follow take the lock at once, not trying
     * the ring first, which a hand-off between two lthreads would try,
     * and fail, every time. That hint is stored under the lock, only when
     * it changes, and read without it (chan_mode). */
    unsigned char mode;
    size_t esize;
    size_t cap;
    size_t mask;
    void *mem; /* the allocation, which the channel is aligned in */
    struct lthread__waitq senders;
    struct lthread__waitq receivers;
    /* The senders' line: the next position to send (CLOSED: closed), and
     * the pthread (its scheduler; NULL: a plain pthread) of the last send,
     * CHAN_NOBODY before the first: a waiter polls only when the other
     * side last ran on another pthread. Stored only when it changes. */
    _Alignas(LINE) _Atomic size_t tx;
    struct lthread__sched *last_tx;
    /* The senders polling it (chan_poll_wait; destroy is EBUSY
     * meanwhile), and tx when a sender last had to wait: a side that waits
     * again after many values went through the ring (it drained a stream,
     * or filled it) parks at once, so that the other side gets a batch;
     * one that waits after every value or two (a ping-pong) polls. Both
     * changed atomically, without the lock. */
    _Atomic unsigned nspin_tx;
    size_t put_at_wait; /* (__atomic) */
    /* The receivers' line: the next position to take; the last receive's
     * pthread. */
    _Alignas(LINE) _Atomic size_t rx;
    struct lthread__sched *last_rx;
    _Atomic unsigned nspin_rx; /* as nspin_tx, for the receivers */
    size_t taken_at_wait;      /* (__atomic) */
    /* Then the ring: cap slots, from a line's start. */
};

_Static_assert(offsetof(struct lthread_chan, lock) == 0,
               "a waiter's lock is its channel");

/* The bytes of a slot of values of esize bytes: its sequence word, then
 * the value, rounded up to a word. */
static inline size_t slot_size(size_t esize)
{
    return sizeof(size_t) +
           ((esize + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1));
}

/* The slot of position p (esize: c->esize, or a constant where the caller
 * knows it; pow2: the caller knows cap to be a power of two). */
static inline char *ring_slot(const struct lthread_chan *c, size_t p,
                              size_t esize, bool pow2)
{
    size_t i = pow2 || c->pow2 ? p & c->mask : p % c->cap;

    return (char *)(c + 1) + i * slot_size(esize);
}

static inline _Atomic size_t *slot_seq(char *slot)
{
    return (_Atomic size_t *)(void *)slot;
}

static inline void *slot_value(char *slot)
{
    return slot + sizeof(size_t);
}

LTHREAD_API int lthread_chan_create(lthread_chan_t **ch, size_t elem_size,
                                    size_t capacity)
{
    struct lthread_chan *c;
    size_t slot = slot_size(elem_size);
    void *mem;

    if (!ch || elem_size == 0 || elem_size > MAX_ELEM_SIZE ||
        capacity > ((SIZE_MAX >> 3) - sizeof(*c) - LINE) / slot)
        return lthread__fail(-EINVAL);
    mem = lthread__calloc(sizeof(*c) + LINE + capacity * slot);
    if (!mem)
        return lthread__fail(-ENOMEM);
    c = (void *)(((uintptr_t)mem + LINE - 1) & ~(uintptr_t)(LINE - 1));
    c->mem = mem;
    c->esize = elem_size;
    c->cap = capacity;
    c->pow2 = capacity && !(capacity & (capacity - 1));
    if (!capacity)
        c->mode =
            elem_size == sizeof(void *) ? CHAN_RENDEZVOUS : CHAN_RENDEZVOUS_ANY;
    else
        c->mode =
            c->pow2 && elem_size == sizeof(void *) ? CHAN_RING_WORD : CHAN_RING;
    c->mask = capacity - 1;
    for (size_t i = 0; i < capacity; i++) /* free for position i */
        atomic_init(slot_seq(ring_slot(c, i, elem_size, false)), 2 * i);
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
    busy = ch->senders.head || ch->receivers.head ||
           atomic_load(&ch->nspin_tx) || atomic_load(&ch->nspin_rx);
    lthread__spin_unlock(&ch->lock);
    if (busy)
        return lthread__fail(-EBUSY);
    lthread__free(ch->mem);
    return 0;
}

/* ---- the ring -------------------------------------------------------------
 */

/*
 * Puts v (esize bytes) into the ring. Returns 1 (put), 0 (the slot of the
 * next position is not free: the ring is full, or a receive is freeing
 * it) or -EPIPE (closed). The CAS is sequentially consistent: what the
 * caller reads after it (the lock, the receivers' queue) is read after
 * the position is claimed (see the top of this file).
 */
static inline __attribute__((always_inline)) int
ring_put(struct lthread_chan *c, const void *v, size_t esize, bool pow2)
{
    size_t p = atomic_load_explicit(&c->tx, memory_order_relaxed);

    for (;;) {
        char *slot;
        size_t seq;

        if (lthread__unlikely(p & CLOSED))
            return -EPIPE;
        slot = ring_slot(c, p, esize, pow2);
        seq = atomic_load_explicit(slot_seq(slot), memory_order_acquire);
        if (lthread__likely(seq == 2 * p)) {
            if (lthread__likely(atomic_compare_exchange_weak_explicit(
                    &c->tx, &p, p + 1, memory_order_seq_cst,
                    memory_order_relaxed))) {
                lthread__vcopy(slot_value(slot), v, esize);
                atomic_store_explicit(slot_seq(slot), 2 * p + 1,
                                      memory_order_release);
                return 1;
            }
            continue; /* p is tx as it is now */
        }
        if ((ptrdiff_t)(seq - 2 * p) < 0)
            return 0; /* a lap behind: still holds an older value */
        p = atomic_load_explicit(&c->tx, memory_order_relaxed);
    }
}

/*
 * Takes the oldest value of the ring into v. Returns 1, or 0 when the slot
 * of the next position holds no value yet (empty, or a send is writing
 * it). The CAS is sequentially consistent, as ring_put's. `once`: no
 * second try either when another receive took that position first.
 */
static inline __attribute__((always_inline)) int
ring_take_(struct lthread_chan *c, void *v, size_t esize, bool pow2, bool once)
{
    size_t p = atomic_load_explicit(&c->rx, memory_order_relaxed);

    for (;;) {
        char *slot = ring_slot(c, p, esize, pow2);
        size_t seq = atomic_load_explicit(slot_seq(slot), memory_order_acquire);

        if (lthread__likely(seq == 2 * p + 1)) {
            if (lthread__likely(atomic_compare_exchange_weak_explicit(
                    &c->rx, &p, p + 1, memory_order_seq_cst,
                    memory_order_relaxed))) {
                lthread__vcopy(v, slot_value(slot), esize);
                atomic_store_explicit(slot_seq(slot), 2 * (p + c->cap),
                                      memory_order_release);
                return 1;
            }
            if (once)
                return 0;
            continue;
        }
        if (once || (ptrdiff_t)(seq - (2 * p + 1)) < 0)
            return 0;
        p = atomic_load_explicit(&c->rx, memory_order_relaxed);
    }
}

static inline __attribute__((always_inline)) int
ring_take(struct lthread_chan *c, void *v, size_t esize, bool pow2)
{
    return ring_take_(c, v, esize, pow2, false);
}

/* ring_take as the public receive tries it first, once, on a ring of
 * words: 0 whenever the slot of rx as first read holds no value (empty,
 * being written, or taken by another receive meanwhile): the locked path
 * sorts those out. */
static inline __attribute__((always_inline)) int
ring_take_once(struct lthread_chan *c, void *v)
{
    return ring_take_(c, v, sizeof(void *), true, true);
}

/* The ring as seen after taking the lock (sequentially consistent loads:
 * the top of this file). Empty: no position claimed that was not taken
 * (a send may be writing one: not empty); full: every slot claimed by a
 * send and not yet freed by a receive. */
static inline __attribute__((always_inline)) bool
ring_empty(struct lthread_chan *c)
{
    return (atomic_load(&c->tx) & ~CLOSED) == atomic_load(&c->rx);
}

static inline __attribute__((always_inline)) bool
ring_full(struct lthread_chan *c)
{
    return (atomic_load(&c->tx) & ~CLOSED) - atomic_load(&c->rx) >= c->cap;
}

/* Waits a moment for a send or receive on another pthread that claimed a
 * position and has not finished with its slot (a few instructions, unless
 * its pthread was preempted: then it is given the CPU). */
static void ring_backoff(unsigned *spins)
{
    if (++*spins % 64 == 0)
        sched_yield();
    else
        lthread__cpu_relax();
}

/* ring_take of the caller that holds the lock, which waits for a value a
 * send is still writing: 0 only when the ring is empty. */
static int ring_take_wait(struct lthread_chan *c, void *v)
{
    unsigned spins = 0;

    while (!ring_take(c, v, c->esize, false)) {
        if (ring_empty(c))
            return 0;
        ring_backoff(&spins); /* a send is writing the value */
    }
    return 1;
}

/* ring_put of the caller that holds the lock, which waits for a slot a
 * receive is still freeing: 0 only when the ring is full (-EPIPE:
 * closed). */
static int ring_put_wait(struct lthread_chan *c, const void *v)
{
    unsigned spins = 0;
    int r;

    while (!(r = ring_put(c, v, c->esize, false))) {
        if (ring_full(c))
            return 0;
        ring_backoff(&spins); /* a receive is freeing the slot */
    }
    return r;
}

/* Chains w, a claimed waiter, to be woken with `result` once the lock is
 * released (through `next`, which claiming has cleared). */
static void chain(struct lthread__waiter **woken, struct lthread__waiter *w,
                  int result)
{
    w->g->result = result;
    w->next = *woken;
    *woken = w;
}

/* Wakes a chain of waiters, no lock held. */
static void wake_chain(struct lthread__waiter *w)
{
    while (w) {
        struct lthread__waiter *next = w->next; /* (w may be freed) */

        lthread__wgroup_deliver(w->g, w->g->result);
        w = next;
    }
}

/* A group claimed by an op, to wake with `result` once the lock is
 * released. */
struct woken {
    struct lthread__wgroup *g;
    int result;
};

/*
 * The lock held and a value just taken from the ring (a slot freed):
 * moves the value of the longest waiting sender, if any, into the ring,
 * and gives the sender its wake (EAGAIN, to retry, if a send of another
 * pthread took the slot first).
 */
static void ring_refill(struct lthread_chan *c, struct woken *wk)
{
    struct lthread__waiter *w;

    if (c->senders.head && (w = lthread__waitq_claim(&c->senders))) {
        wk->g = w->g;
        wk->result = ring_put(c, w->buf, c->esize, false) > 0 ? 0 : -EAGAIN;
    }
}

static void wake(struct woken *wk)
{
    if (wk->g)
        lthread__wgroup_deliver(wk->g, wk->result);
}

/*
 * After a send into the ring saw the lock held or a receiver queued (the
 * top of this file): takes the lock and serves the queued receivers with
 * values from the ring, as long as there are both (a receiver whose value
 * another took first is told to retry).
 */
static __attribute__((noinline)) int
chan_serve_receivers(struct lthread_chan *c)
{
    struct lthread__waiter *w, *woken = NULL;

    lthread__spin_lock(&c->lock);
    while (c->receivers.head && !ring_empty(c) &&
           (w = lthread__waitq_claim(&c->receivers))) {
        int got = ring_take_wait(c, w->buf);

        chain(&woken, w, got ? 0 : -EAGAIN);
        if (!got)
            break;
    }
    lthread__spin_unlock(&c->lock);
    wake_chain(woken);
    return 0;
}

/* After a receive from the ring saw the lock held or a sender queued:
 * takes the lock and moves queued senders' values into the ring while
 * there is room. */
static __attribute__((noinline)) int chan_serve_senders(struct lthread_chan *c)
{
    struct lthread__waiter *w, *woken = NULL;

    lthread__spin_lock(&c->lock);
    while (c->senders.head && !ring_full(c) &&
           (w = lthread__waitq_claim(&c->senders))) {
        /* (Not closed: a close serves every queued sender, and none
         * queues on a closed channel.) */
        int r = ring_put_wait(c, w->buf);

        chain(&woken, w, r > 0 ? 0 : r < 0 ? r : -EAGAIN);
        if (r <= 0)
            break;
    }
    lthread__spin_unlock(&c->lock);
    wake_chain(woken);
    return 0;
}

/* Records the pthread of this side's op that took the lock, on this
 * side's line (tx's, rx's). */
static inline void chan_note(struct lthread__sched **last,
                             struct lthread__sched *s)
{
    __atomic_store_n(last, s, __ATOMIC_RELAXED);
}

/* Where a side last ran (its note may be stored meanwhile without the
 * lock). */
static inline struct lthread__sched *chan_last(struct lthread__sched **last)
{
    return __atomic_load_n(last, __ATOMIC_RELAXED);
}

static inline unsigned chan_mode(const struct lthread_chan *c)
{
    return __atomic_load_n(&c->mode, __ATOMIC_RELAXED);
}

/* Sets the receivers' hint (`mode`), under the lock. */
static inline __attribute__((always_inline)) void
chan_note_empty(struct lthread_chan *c, bool empty)
{
    unsigned from = empty ? CHAN_RING_WORD : CHAN_RING_WORD_EMPTY;

    if (chan_mode(c) == from)
        __atomic_store_n(&c->mode,
                         empty ? CHAN_RING_WORD_EMPTY : CHAN_RING_WORD,
                         __ATOMIC_RELAXED);
}

/* Notes the pthread of a send or receive done in the ring without the
 * lock, where it changed: only then, so that the line stays shared. */
static inline void chan_note_fast(struct lthread__sched **last)
{
    struct lthread__sched *s = lthread__tls_sched;

    if (__atomic_load_n(last, __ATOMIC_RELAXED) != s)
        __atomic_store_n(last, s, __ATOMIC_RELAXED);
}

/* A send into the ring is done: serves the receivers that may wait. */
static inline __attribute__((always_inline)) int
chan_sent(struct lthread_chan *c)
{
    chan_note_fast(&c->last_tx);
    if (lthread__unlikely(atomic_load(&c->lock.locked) ||
                          lthread__waitq_busy(&c->receivers)))
        return chan_serve_receivers(c);
    return 0;
}

/* A receive from the ring is done: serves the senders that may wait. */
static inline __attribute__((always_inline)) int
chan_received(struct lthread_chan *c)
{
    chan_note_fast(&c->last_rx);
    if (lthread__unlikely(atomic_load(&c->lock.locked) ||
                          lthread__waitq_busy(&c->senders)))
        return chan_serve_senders(c);
    return 0;
}

/* ... and wakes g, claimed by lthread__waitq_claim_local, after copying
 * the value from src to dst (a value of another size than a word: out of
 * line, so that the public calls keep no frame for it). */
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
 * Sends v now if it can, the lock held: to a waiting receiver (its group
 * in *wk, to wake once every lock is released), or into the ring (not
 * past senders queued before: they go first). Returns 1 (done: the lock
 * released), 0 (cannot: still locked) or -EPIPE (closed: still locked).
 */
static int try_send(struct lthread_chan *c, const void *v, struct woken *wk)
{
    struct lthread__waiter *w;

    if (c->closed)
        return -EPIPE;
    if ((w = lthread__waitq_claim(&c->receivers))) {
        lthread__vcopy(w->buf, v, c->esize);
        wk->g = w->g;
    } else if (c->cap && !c->senders.head) {
        /* (Not closed: a close takes the lock.) */
        int r = ring_put_wait(c, v);

        if (r <= 0)
            return r;
    } else {
        return 0;
    }
    lthread__spin_unlock(&c->lock);
    return 1;
}

/* Receives into v now if it can: from the ring (refilled from a waiting
 * sender) or from a waiting sender. As try_send; -EPIPE when closed and
 * empty. */
static int try_recv(struct lthread_chan *c, void *v, struct woken *wk)
{
    struct lthread__waiter *w;

    if (c->cap && ring_take_wait(c, v)) {
        ring_refill(c, wk);
        lthread__spin_unlock(&c->lock);
        return 1;
    }
    /* (With a ring, a sender queued while it was full, whose receive is
     * waiting for this lock to move its value in.) */
    if ((w = lthread__waitq_claim(&c->senders))) {
        lthread__vcopy(v, w->buf, c->esize);
        wk->g = w->g;
        lthread__spin_unlock(&c->lock);
        return 1;
    }
    return c->closed ? -EPIPE : 0;
}

/* The queue a waiter of this op waits in. */
static struct lthread__waitq *queue_of(struct lthread_chan *c, int op)
{
    return op == LTHREAD_CHAN_SEND ? &c->senders : &c->receivers;
}

/* What is left of a timeout of `timeout` ms (0: none) that started at
 * `since` (ns); at least 1 ms. */
static uint64_t timeout_left(uint64_t timeout, uint64_t since)
{
    uint64_t ms;

    if (!timeout)
        return 0;
    ms = (lthread__now_ns() - since) / 1000000u;
    return ms < timeout ? timeout - ms : 1;
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

static int chan_one(lthread_chan_t *c, int op, void *elem, uint64_t timeout);

/* A cached group served with a failure (EPIPE: closed; its park returned
 * it, positive): freed (which clears its result for the cache), and the
 * failure returned; or served with EAGAIN (a value another op took first:
 * the top of this file): the op again, with what is left of the timeout.
 * Its channel and timeout are the group's (its waiter's lock is the
 * channel's first member), the value to send a copy of the group's: the
 * parks keep nothing else across the wait than the group and the receive's
 * destination, so that the public calls keep no frame on hand-offs that
 * do not wait. */
static __attribute__((noinline)) int chan_served_fail(struct lthread__wgroup *g,
                                                      int op, void *elem)
{
    lthread_chan_t *c = (lthread_chan_t *)(void *)g->w[0].lock;
    char value[LTHREAD__SMALL_VALUE];
    uint64_t timeout;
    int err = g->result;

    if (err != -EAGAIN) {
        lthread__wgroup_free(g);
        return lthread__fail(err);
    }
    timeout = timeout_left(g->timeout, g->since);
    if (op == LTHREAD_CHAN_SEND) {
        memcpy(value, lthread__wgroup_buf1(g), c->esize);
        elem = value;
    }
    lthread__wgroup_free(g);
    lthread__spin_lock(&c->lock);
    return chan_one(c, op, elem, timeout);
}

/*
 * Parks the running lthread self of s as a waiter of op on c in a cached
 * group (c locked on entry, released), with the value to send copied into
 * the group. Returns 0, or -1 with errno; without a group cached (or when
 * the value does not fit one) the general select does it. The channel is
 * not touched once a waker may have served us: the one that took the last
 * value, or gave one, may destroy it before we run (its element size,
 * esize, is read before: c->esize, or a constant where the caller knows
 * it, which folds the copies to a word's). Served with EAGAIN, the op is
 * not done: then it goes on with the channel.
 */
static inline __attribute__((always_inline)) int
chan_park_in(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
             struct lthread__sched *s, struct lthread *self, size_t esize,
             bool timed)
{
    struct lthread__wgroup *g;
    int err;

    if (esize > LTHREAD__SMALL_VALUE || !(g = lthread__wgroup_take(s, self)))
        return chan_wait_general(c, op, elem, timeout);
    if (op == LTHREAD_CHAN_SEND)
        lthread__vcopy(lthread__wgroup_buf1(g), elem, esize);
    else
        g->w[0].dst = elem; /* (the group is all we keep across the park) */
    if (timed) {            /* with a ring, it may be served with EAGAIN */
        g->timeout = timeout;
        g->since = lthread__now_ns();
    }
    lthread__waitq_push(queue_of(c, op), &g->w[0], &c->lock);
    lthread__spin_unlock(&c->lock);
    err = lthread__wgroup_park(s, self, &g, timeout);
    /* Served (the waker unlinked our only waiter: sync.h), with a failure,
     * or not (g is gone). */
    if (err)
        return err > 0
                   ? chan_served_fail(
                         g, op, op == LTHREAD_CHAN_RECV ? g->w[0].dst : NULL)
                   : lthread__fail_cold(err);
    if (op == LTHREAD_CHAN_RECV)
        lthread__vcopy(g->w[0].dst, lthread__wgroup_buf1(g), esize);
    if (timed)
        g->timeout = 0; /* as a cached group has it */
    lthread__wgroup_free_local(g);
    return 0;
}

/* chan_park_in of a timed wait, which notes its timeout and when it
 * began: out of line, so that the untimed parks keep no register for the
 * timeout across that call (the public calls would keep a frame on every
 * path), and a tail call (no argument on the stack: its value size is
 * read here, before it queues). */
static __attribute__((noinline)) int
chan_park_timed(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
                struct lthread__sched *s, struct lthread *self)
{
    return chan_park_in(c, op, elem, timeout, s, self, c->esize, true);
}

static inline __attribute__((always_inline)) int
chan_park(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
          struct lthread__sched *s, struct lthread *self, size_t esize)
{
    if (timeout)
        return chan_park_timed(c, op, elem, timeout, s, self);
    return chan_park_in(c, op, elem, timeout, s, self, esize, false);
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
    struct woken wk = {NULL, 0};
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    int r;

    r = op == LTHREAD_CHAN_SEND ? try_send(c, elem, &wk)
                                : try_recv(c, elem, &wk);
    if (r > 0) { /* done; the lock released */
        wake(&wk);
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

/* The scheduler's poll (unlocked): could the op go on now? The slot of
 * the next position is free for a send, holds a value for a receive, or
 * the channel is closed. */
static bool chan_poll(const struct lthread *lt)
{
    lthread_chan_t *c = poll_chan(lt);
    size_t p;

    if ((uintptr_t)lt->wait_obj & POLL_SEND) {
        p = atomic_load_explicit(&c->tx, memory_order_relaxed);
        return (p & CLOSED) ||
               atomic_load_explicit(slot_seq(ring_slot(c, p, c->esize, false)),
                                    memory_order_relaxed) == 2 * p;
    }
    p = atomic_load_explicit(&c->rx, memory_order_relaxed);
    if (atomic_load_explicit(slot_seq(ring_slot(c, p, c->esize, false)),
                             memory_order_relaxed) == 2 * p + 1)
        return true;
    return __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
}

/* The count of c's pollers of op, on that side's line. */
static _Atomic unsigned *poll_count(lthread_chan_t *c, int op)
{
    return op == LTHREAD_CHAN_SEND ? &c->nspin_tx : &c->nspin_rx;
}

/* A poller (or one woken to retry) leaves: it counts no more. */
static void chan_poll_release(const struct lthread *lt)
{
    atomic_fetch_sub(
        poll_count(poll_chan(lt), (uintptr_t)lt->wait_obj & POLL_SEND
                                      ? LTHREAD_CHAN_SEND
                                      : LTHREAD_CHAN_RECV),
        1);
}

/* A poller timed out or destroyed: it polls no more. */
static bool chan_poll_cancel(struct lthread__sched *s, struct lthread *lt)
{
    lthread__queue_remove(&s->pollers, lt);
    chan_poll_release(lt);
    return true;
}

void lthread__poll_abandon(struct lthread *lt)
{
    chan_poll_release(lt);
}

const struct lthread__wait_ops lthread__wait_ops_chan_poll = {
    "sync", chan_poll_cancel, chan_poll};

/*
 * Whether a waiter of op, an lthread of s, should wait as a poller instead
 * of parking (lthread__park_polled): not queued on the channel, where a
 * sender or receiver of another pthread would have to claim it and post
 * its wake to our scheduler, but polled by our scheduler's loop once
 * nothing else is ready; the other side then just puts its value into the
 * ring (or takes one), and we retry. A ping-pong between two schedulers:
 * 19 us a round trip parked, 0.35 us polled (BENCHMARKS.md). It polls
 * only on a channel with a ring (on a rendezvous channel a polling
 * receiver is invisible to the sender, which would wait too), when the
 * other side last ran on another pthread (a peer of this scheduler cannot
 * move while we poll; before the other side's first op we do not know: no
 * poll), nobody waits or polls on the channel already (the queued are
 * served first), and at most two values went through the ring on our side
 * since it last waited: after a run of them (a stream drained, or filled),
 * it parks at once, so that the other side gets a batch instead of both
 * taking turns over every value.
 *
 * Everything it reads may be read without the lock; `mark` says whether
 * this wait counts as our side's last (the locked path's does, polled or
 * not; the public receive's look without the lock only when it polls).
 */
static bool chan_should_poll(lthread_chan_t *c, int op,
                             struct lthread__sched *s, bool mark)
{
    struct lthread__sched *other; /* where the other side last ran */
    size_t *at, pos, run;         /* run: values our side moved meanwhile */
    bool poll;

    LTHREAD__CHECK(c->cap, "only a channel with a ring is polled");
    other = chan_last(op == LTHREAD_CHAN_SEND ? &c->last_rx : &c->last_tx);
    if (other == s || other == CHAN_NOBODY)
        return false;
    if (op == LTHREAD_CHAN_SEND) {
        pos = atomic_load(&c->tx) & ~CLOSED;
        at = &c->put_at_wait;
    } else {
        pos = atomic_load(&c->rx);
        at = &c->taken_at_wait;
    }
    run = pos - __atomic_load_n(at, __ATOMIC_RELAXED);
    poll = run <= 2 && !lthread__waitq_busy(queue_of(c, op)) &&
           !atomic_load(&c->nspin_tx) && !atomic_load(&c->nspin_rx) &&
           lthread__poll_max_ns() != 0;
    if (mark || poll)
        __atomic_store_n(at, pos, __ATOMIC_RELAXED);
    return poll;
}

/*
 * Waits as a poller (chan_should_poll) for op on c, then does the op: in
 * the ring without the lock when it can (still counted as a poller, so
 * that the channel stays; the count is on our side's line), else from the
 * start under the lock, with what is left of the timeout (it parks for
 * real if it must). `locked`: the caller holds c's lock (released here).
 */
static __attribute__((noinline)) int
chan_poll_wait(lthread_chan_t *c, int op, void *elem, uint64_t timeout,
               struct lthread__sched *s, bool locked)
{
    _Atomic unsigned *count = poll_count(c, op);
    uint64_t t0 = timeout ? lthread__now_ns() : 0;
    struct lthread *self = s->host.current;
    int r;

    atomic_fetch_add(count, 1);
    if (locked)
        lthread__spin_unlock(&c->lock);
    r = lthread__park_polled(
        s, self,
        (void *)((uintptr_t)c | (op == LTHREAD_CHAN_SEND ? POLL_SEND : 0)),
        timeout);
    if (r) /* timed out, or no timer: the cancel did the unlinking */
        return lthread__fail(r);
    lthread__outcome_taken(self);
    if (op == LTHREAD_CHAN_RECV ? ring_take(c, elem, c->esize, false)
                                : !lthread__waitq_busy(&c->receivers) &&
                                      ring_put(c, elem, c->esize, false) > 0) {
        r = op == LTHREAD_CHAN_RECV ? chan_received(c) : chan_sent(c);
        atomic_fetch_sub(count, 1);
        return r;
    }
    atomic_fetch_sub(count, 1);
    lthread__spin_lock(&c->lock);
    return chan_one(c, op, elem, timeout_left(timeout, t0));
}

/*
 * Parks as a sender, or a receiver, of an lthread: nobody waits on the
 * other side (the caller saw it under the lock, which it holds) and the
 * op could not go on. Out of line, so that the hand-offs that do not wait
 * save no registers for it. With a ring it looks at the ring again (our
 * side's lines first: the op is done if it can be), then polls where that
 * can only help (chan_should_poll), else sees that the ring is still
 * empty (full) now that it holds the lock (the top of this file) and
 * parks (chan_park; chan_one when no group is cached).
 */
static __attribute__((noinline)) int chan_park_op(lthread_chan_t *c, int op,
                                                  void *elem, uint64_t timeout,
                                                  struct lthread__sched *s)
{
    struct woken wk = {NULL, 0};

    if (c->cap) {
        if (op == LTHREAD_CHAN_RECV &&
            ring_take(c, elem, c->esize, false)) { /* a value came */
            ring_refill(c, &wk);
            lthread__spin_unlock(&c->lock);
            wake(&wk);
            return 0;
        }
        if (c->closed)
            return chan_one(c, op, elem, timeout); /* EPIPE, or a value */
        if (chan_should_poll(c, op, s, true))
            return chan_poll_wait(c, op, elem, timeout, s, true);
        if (op == LTHREAD_CHAN_SEND ? !ring_full(c) : !ring_empty(c))
            return chan_one(c, op, elem, timeout);
    }
    return chan_park(c, op, elem, timeout, s, s->host.current, c->esize);
}

/*
 * Parks as a sender (a receiver) of a value of a word where it cannot
 * poll: the other side last ran on this scheduler, or the channel has no
 * ring (chan_park_op: the same wait after its poll checks). Out of line,
 * a tail call of the public calls: these then keep no frame on any path
 * (with the parks inline, the compiler saved registers at their entry).
 */
static __attribute__((noinline)) int
chan_wait_send(lthread_chan_t *c, const void *elem, uint64_t timeout,
               struct lthread__sched *s, struct lthread *self)
{
    return chan_park(c, LTHREAD_CHAN_SEND, (void *)elem, timeout, s, self,
                     sizeof(void *));
}

static __attribute__((noinline)) int
chan_wait_recv(lthread_chan_t *c, void *elem, uint64_t timeout,
               struct lthread__sched *s, struct lthread *self)
{
    return chan_park(c, LTHREAD_CHAN_RECV, elem, timeout, s, self,
                     sizeof(void *));
}

/* A send or receive given no channel or no value: out of line, so that
 * the public calls keep no frame for setting errno. */
static __attribute__((noinline, cold)) int chan_einval(void)
{
    return lthread__fail(-EINVAL);
}

/*
 * The public send and receive. On a channel with a ring, they first try
 * the ring without the lock: a receive takes a value if there is one, a
 * send puts one if there is room and nobody waits (a waiting receiver is
 * handed the value directly, under the lock; waiting senders go first).
 * The rest is done under the lock: the same-scheduler hand-off (the
 * oldest waiter on the other side is an lthread of this pthread's
 * scheduler: sync.h, lthread__waitq_claim_local: the value is copied and
 * the waiter woken inline), and parking when the op cannot go on.
 * Everything else (waiters of other schedulers or pthreads, waiters to
 * pass over, a closed channel, a plain pthread, no group cached) goes to
 * chan_one with the lock held. The locked path of a rendezvous channel is
 * inline in the public calls, that of a ring out of line (chan_send_ring_
 * locked, chan_recv_ring_locked): each has its parks, and a function with
 * two inline copies of them saves registers at its entry, for every path.
 * Every other call they make is a tail call, the parks' excepted, so that
 * the hand-offs that do not wait keep no frame: a spinlock found held is
 * waited for by chan_send_contended (chan_recv_contended), which takes it
 * and goes on with its own copy of the rest (a wait that went that way
 * shows it in its backtrace in place of the public call).
 */

/* Hands a value over to g, a waiter claimed by lthread__waitq_claim_local
 * (src to dst: the value sent to the receiver's buffer, or the sender's
 * to the receive's destination), releases the lock and wakes it. */
static inline __attribute__((always_inline)) int
chan_hand_over(lthread_chan_t *c, void *dst, const void *src,
               struct lthread__sched *s, struct lthread__wgroup *g, bool word)
{
    if (!word)
        return chan_copy_wake(c, dst, src, s, g);
    memcpy(dst, src, sizeof(void *));
    lthread__spin_unlock(&c->lock);
    return lthread__wgroup_wake_local(s, g);
}

/* The send of a rendezvous channel, locked. */
static inline __attribute__((always_inline)) int
chan_send_rdv(lthread_chan_t *c, const void *elem, uint64_t timeout,
              struct lthread__sched *s, bool word)
{
    struct lthread__wgroup *g;
    struct lthread *self;

    if (lthread__likely(s != NULL)) {
        if ((g = lthread__waitq_claim_local(&c->receivers, s))) {
            /* (Nobody waits on a closed channel: its close served them
             * all, and no receive waits on it since.) */
            LTHREAD__CHECK(!c->closed, "a closed channel has no receiver "
                                       "waiting");
            return chan_hand_over(c, lthread__wgroup_buf1(g), elem, s, g, word);
        }
        /* Nobody to hand it to: wait. */
        if (!c->receivers.head && !c->closed && (self = s->host.current)) {
            if (!word)
                return LTHREAD__PARKED(chan_park_op(c, LTHREAD_CHAN_SEND,
                                                    (void *)elem, timeout, s));
            return LTHREAD__PARKED(chan_wait_send(c, elem, timeout, s, self));
        }
    }
    return chan_one(c, LTHREAD_CHAN_SEND, (void *)elem, timeout);
}

/* The send into a ring, locked: as chan_send_rdv, but a sender waits
 * only while the ring is full, and after senders queued before it. */
static inline __attribute__((always_inline)) int
chan_send_ring_locked(lthread_chan_t *c, const void *elem, uint64_t timeout,
                      struct lthread__sched *s, bool word)
{
    struct lthread__wgroup *g;
    struct lthread *self;

    chan_note(&c->last_tx, s);
    if (lthread__likely(s != NULL)) {
        if ((g = lthread__waitq_claim_local(&c->receivers, s))) {
            LTHREAD__CHECK(!c->closed, "a closed channel has no receiver "
                                       "waiting");
            return chan_hand_over(c, lthread__wgroup_buf1(g), elem, s, g, word);
        }
        /* Nobody to hand it to, and no room, seen after taking the lock
         * (chan_park_op looks itself): wait. */
        if (!c->receivers.head && !c->closed && (self = s->host.current) &&
            !c->senders.head) {
            /* Polling needs a receiver elsewhere. */
            if (lthread__unlikely(chan_last(&c->last_rx) != s || !word))
                return chan_park_op(c, LTHREAD_CHAN_SEND, (void *)elem, timeout,
                                    s);
            if (ring_full(c))
                return chan_wait_send(c, elem, timeout, s, self);
        }
    }
    return chan_one(c, LTHREAD_CHAN_SEND, (void *)elem, timeout);
}

static __attribute__((noinline)) int
chan_send_contended(lthread_chan_t *c, const void *elem, uint64_t timeout)
{
    lthread__spin_wait(&c->lock);
    if (c->cap)
        return chan_send_ring_locked(c, elem, timeout, lthread__tls_sched,
                                     chan_word(c));
    return chan_send_rdv(c, elem, timeout, lthread__tls_sched, chan_word(c));
}

/* A send into a ring that takes the lock. */
static inline __attribute__((always_inline)) int
chan_send_ring_lock(lthread_chan_t *c, const void *elem, uint64_t timeout,
                    bool word)
{
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_send_contended(c, elem, timeout);
    return chan_send_ring_locked(c, elem, timeout, lthread__tls_sched, word);
}

/* A send on a channel of values of another size than a word, or into a
 * ring of another capacity than a power of two (CHAN_RING: as the inline
 * one, a receiver waiting is handed the value under the lock, not into
 * the ring). */
static __attribute__((noinline)) int
chan_send_other(lthread_chan_t *c, const void *elem, uint64_t timeout)
{
    if (chan_mode(c) == CHAN_RING) {
        if (!lthread__waitq_busy(&c->receivers) &&
            ring_put(c, elem, c->esize, false) > 0)
            return chan_sent(c);
        return chan_send_ring_lock(c, elem, timeout, chan_word(c));
    }
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_send_contended(c, elem, timeout);
    return chan_send_rdv(c, elem, timeout, lthread__tls_sched, false);
}

LTHREAD_API int lthread_chan_send(lthread_chan_t *c, const void *elem,
                                  uint64_t timeout)
{
    unsigned mode;

    if (lthread__unlikely(!c || !elem))
        return chan_einval();
    mode = chan_mode(c);
    if (mode == CHAN_RENDEZVOUS) {
        if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
            return chan_send_contended(c, elem, timeout);
        return chan_send_rdv(c, elem, timeout, lthread__tls_sched, true);
    }
    if (mode >= CHAN_RING)
        return chan_send_other(c, elem, timeout);
    /* A ring of words; a receiver waiting is handed the value under the
     * lock. (The receivers' hint is not for sends: those that find room
     * and nobody waiting keep to the ring.) */
    if (!lthread__waitq_busy(&c->receivers) &&
        ring_put(c, elem, sizeof(void *), true) > 0)
        return chan_sent(c);
    return chan_send_ring_lock(c, elem, timeout, true);
}

/* The receive of a rendezvous channel, locked. */
static inline __attribute__((always_inline)) int
chan_recv_rdv(lthread_chan_t *c, void *elem, uint64_t timeout,
              struct lthread__sched *s, bool word)
{
    struct lthread__wgroup *g;
    struct lthread *self;

    if (lthread__likely(s != NULL)) {
        if ((g = lthread__waitq_claim_local(&c->senders, s))) {
            return chan_hand_over(c, elem, lthread__wgroup_buf1(g), s, g, word);
        }
        if (!c->senders.head && !c->closed && (self = s->host.current)) {
            if (!word)
                return LTHREAD__PARKED(
                    chan_park_op(c, LTHREAD_CHAN_RECV, elem, timeout, s));
            return LTHREAD__PARKED(chan_wait_recv(c, elem, timeout, s, self));
        }
    }
    return chan_one(c, LTHREAD_CHAN_RECV, elem, timeout);
}

/* The receive from a ring, locked. */
static inline __attribute__((always_inline)) int
chan_recv_ring_locked(lthread_chan_t *c, void *elem, uint64_t timeout,
                      struct lthread__sched *s, bool word, bool hinted)
{
    struct lthread *self;

    chan_note(&c->last_rx, s);
    if (!c->senders.head && s && (self = s->host.current)) {
        /* The last send ran elsewhere (polling may help), or values of
         * another size: chan_park_op, which looks at the ring. */
        if (lthread__unlikely(chan_last(&c->last_tx) != s || !word))
            return chan_park_op(c, LTHREAD_CHAN_RECV, elem, timeout, s);
        /* Empty and open (tx without its closed bit), seen after taking
         * the lock, and no sender queued while it was full: wait. The
         * receives that follow take the lock at once, until one finds a
         * value (CHAN_RING_WORD_EMPTY). */
        if (atomic_load(&c->tx) == atomic_load(&c->rx)) {
            if (!hinted) /* (else set when we looked, or unset since: a
                            hint) */
                chan_note_empty(c, true);
            return chan_wait_recv(c, elem, timeout, s, self);
        }
    }
    chan_note_empty(c, false);
    /* A value, and no sender queued to move in after it: taken here (with
     * the lock held, no sender can queue meanwhile: no serving to do). */
    if (chan_mode(c) == CHAN_RING_WORD && !c->senders.head &&
        ring_take_once(c, elem)) {
        lthread__spin_unlock(&c->lock);
        return 0;
    }
    return chan_one(c, LTHREAD_CHAN_RECV, elem, timeout);
}

static __attribute__((noinline)) int
chan_recv_contended(lthread_chan_t *c, void *elem, uint64_t timeout)
{
    lthread__spin_wait(&c->lock);
    if (c->cap)
        return chan_recv_ring_locked(c, elem, timeout, lthread__tls_sched,
                                     chan_word(c), false);
    return chan_recv_rdv(c, elem, timeout, lthread__tls_sched, chan_word(c));
}

/* A receive from a ring that takes the lock. */
static inline __attribute__((always_inline)) int
chan_recv_ring_lock(lthread_chan_t *c, void *elem, uint64_t timeout, bool word,
                    bool hinted)
{
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_recv_contended(c, elem, timeout);
    return chan_recv_ring_locked(c, elem, timeout, lthread__tls_sched, word,
                                 hinted);
}

/* A receive from a channel of values of another size than a word, or
 * from a ring of another capacity than a power of two. */
static __attribute__((noinline)) int
chan_recv_other(lthread_chan_t *c, void *elem, uint64_t timeout)
{
    if (chan_mode(c) == CHAN_RING) {
        if (ring_take(c, elem, c->esize, false))
            return chan_received(c);
        return chan_recv_ring_lock(c, elem, timeout, chan_word(c), false);
    }
    if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
        return chan_recv_contended(c, elem, timeout);
    return chan_recv_rdv(c, elem, timeout, lthread__tls_sched, false);
}

/* The public receive found a ring of words empty, without the lock: an
 * lthread whose sends come from another pthread polls, still without the
 * lock (so that a ping-pong between schedulers writes nothing the other
 * side reads but the ring); anything else takes the lock. */
static __attribute__((noinline)) int
chan_recv_empty(lthread_chan_t *c, void *elem, uint64_t timeout)
{
    struct lthread__sched *s = lthread__tls_sched;

    if (s && s->host.current &&
        !__atomic_load_n(&c->closed, __ATOMIC_RELAXED) &&
        chan_should_poll(c, LTHREAD_CHAN_RECV, s, false))
        return chan_poll_wait(c, LTHREAD_CHAN_RECV, elem, timeout, s, false);
    return chan_recv_ring_lock(c, elem, timeout, true, false);
}

LTHREAD_API int lthread_chan_recv(lthread_chan_t *c, void *elem,
                                  uint64_t timeout)
{
    unsigned mode;

    if (lthread__unlikely(!c || !elem))
        return chan_einval();
    mode = chan_mode(c);
    if (mode == CHAN_RENDEZVOUS) {
        if (lthread__unlikely(!lthread__spin_trylock(&c->lock)))
            return chan_recv_contended(c, elem, timeout);
        return chan_recv_rdv(c, elem, timeout, lthread__tls_sched, true);
    }
    if (mode == CHAN_RING_WORD) {
        if (ring_take_once(c, elem))
            return chan_received(c);
        /* Empty: polling is for a sender of another pthread. */
        if (chan_last(&c->last_tx) != lthread__tls_sched)
            return chan_recv_empty(c, elem, timeout);
        return chan_recv_ring_lock(c, elem, timeout, true, false);
    }
    if (mode >= CHAN_RING)
        return chan_recv_other(c, elem, timeout);
    /* (The lock at once: the receivers' hint, already set.) */
    return chan_recv_ring_lock(c, elem, timeout, true, true);
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
    /* No send claims a position any more; those claimed before deliver. */
    atomic_fetch_or(&ch->tx, CLOSED);
    /* Every waiting sender fails with EPIPE: it cannot send any more.
     * Receivers wait only while the ring is empty: each takes a value that
     * came since (its sender would serve it once it has this lock), else
     * fails with EPIPE. */
    while ((w = lthread__waitq_claim(&ch->senders)))
        chain(&woken, w, -EPIPE);
    while ((w = lthread__waitq_claim(&ch->receivers)))
        chain(&woken, w, ch->cap && ring_take_wait(ch, w->buf) ? 0 : -EPIPE);
    lthread__spin_unlock(&ch->lock);
    wake_chain(woken);
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
    struct woken wk = {NULL, 0};
    int r;

    if (o->op == LTHREAD_CHAN_SEND)
        r = try_send(o->ch, o->elem, &wk);
    else
        r = try_recv(o->ch, o->elem, &wk);
    if (!r)
        return 0;
    o->err = r < 0 ? -r : 0;
    /* try_* unlocked o->ch when it did the op, not on -EPIPE. */
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || set[i] != set[i - 1]) && (set[i] != o->ch || r < 0))
            lthread__spin_unlock(&set[i]->lock);
    /* No lock held: waking may run the waiter's undo and unlink, which
     * take the locks of its own objects (sync.h). */
    wake(&wk);
    return 1;
}

/* lthread_chan_select() served with EAGAIN: to be done again. */
#define SELECT_AGAIN INT_MIN

/* One round of lthread_chan_select() (its arguments checked; vsize: the
 * largest value size of the set). */
static int select_once(struct lthread_chan_op *ops, size_t n, uint64_t timeout,
                       size_t vsize)
{
    lthread_chan_t *one[1], **set = one;
    struct lthread__wgroup *g;
    int err;

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
     * between without us seeing it (the tries read the rings after taking
     * the locks: the top of this file). */
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
    /* The chosen channel may be gone already (the sender that served us
     * destroyed it), and the other waiters of a select may still be
     * linked. */
    if (g->result == -EAGAIN)
        err = SELECT_AGAIN;
    else if (ops[err].op == LTHREAD_CHAN_RECV && !g->result)
        memcpy(ops[err].elem, g->w[err].buf, g->w[err].vsize);
    if (err != SELECT_AGAIN)
        ops[err].err = -g->result;
    lthread__wgroup_unlink(g, g->chosen);
    lthread__wgroup_free(g);
out:
    if (set != one)
        lthread__free(set);
    return err;
}

LTHREAD_API int lthread_chan_select(struct lthread_chan_op *ops, size_t n,
                                    uint64_t timeout)
{
    uint64_t since = timeout ? lthread__now_ns() : 0;
    size_t vsize = 0;
    int r;

    if (!ops || n == 0 || n > 1024)
        return lthread__fail(-EINVAL);
    for (size_t i = 0; i < n; i++) {
        if (!ops[i].ch || !ops[i].elem ||
            (ops[i].op != LTHREAD_CHAN_SEND && ops[i].op != LTHREAD_CHAN_RECV))
            return lthread__fail(-EINVAL);
        if (ops[i].ch->esize > vsize)
            vsize = ops[i].ch->esize;
    }
    while ((r = select_once(ops, n, timeout_left(timeout, since), vsize)) ==
           SELECT_AGAIN)
        ;
    return r;
}
