/*
 * The inbox: how any pthread hands work to a scheduler. Compute pthreads
 * hand back lthreads whose section ended; other pthreads post messages
 * (wakeups, signals, joins, destroys) that the scheduler handles on its
 * own pthread, at a safe point of its loop. Nothing else of a scheduler is
 * ever touched from another pthread.
 *
 * Lock-free, multi-producer, single-consumer: two Treiber stacks (messages,
 * and lthreads linked through their `wait_obj`, free while they compute) that
 * the scheduler takes whole with one exchange each and reverses into posting
 * order. The first post after the scheduler last looked wakes its poller; later
 * ones in the same batch do not (the `armed` flag), so a burst costs one
 * wake-up.
 *
 * Lifetime. A poster finds the scheduler through an lthread it names,
 * which must be alive when the call is made (the caller's promise, as for
 * pthread_kill()). Between that lookup and its last touch, the poster
 * holds `nposting` up: the scheduler does not free itself, and frees no
 * control block (lthread__lt_free defers it to after the next drain),
 * while posts are in flight, so a message never names freed memory. The
 * lookup and the raise happen under lthread__xs_lock, which the scheduler
 * also takes once when it starts to finish: a poster that comes later sees
 * `closing` and gets ESRCH.
 */
#include <sched.h>
#include <stdatomic.h>

#include "lthread_int.h"
#include "poller.h"

pthread_mutex_t lthread__xs_lock = PTHREAD_MUTEX_INITIALIZER;

struct lthread__sched *lthread__inbox_open_locked(struct lthread__sched *s)
{
    if (!s || s->inbox.closing)
        return NULL;
    atomic_fetch_add(&s->inbox.nposting, 1);
    return s;
}

struct lthread__sched *lthread__inbox_open(struct lthread *lt)
{
    struct lthread__sched *s;

    pthread_mutex_lock(&lthread__xs_lock);
    s = lthread__inbox_open_locked(lt->sched);
    pthread_mutex_unlock(&lthread__xs_lock);
    return s;
}

/* After a push: the first post of a batch wakes the scheduler. */
static void inbox_arm(struct lthread__sched *s)
{
    if (!atomic_exchange(&s->inbox.armed, true))
        lthread__poller_wake(s->poller);
}

void lthread__inbox_post(struct lthread__sched *s, struct lthread__msg *m)
{
    struct lthread__msg *old =
        atomic_load_explicit(&s->inbox.msgs, memory_order_relaxed);

    do
        m->next = old;
    while (!atomic_compare_exchange_weak_explicit(
        &s->inbox.msgs, &old, m, memory_order_release, memory_order_relaxed));
    inbox_arm(s);
    atomic_fetch_sub(&s->inbox.nposting, 1);
}

void lthread__inbox_post_back(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread *old;

    /* No lookup needed: s cannot finish while lt is away (ncompute). */
    atomic_fetch_add(&s->inbox.nposting, 1);
    old = atomic_load_explicit(&s->inbox.back, memory_order_relaxed);
    do
        lt->wait_obj = old; /* (next/prev: the scheduler's computing list) */
    while (!atomic_compare_exchange_weak_explicit(
        &s->inbox.back, &old, lt, memory_order_release, memory_order_relaxed));
    inbox_arm(s);
    atomic_fetch_sub(&s->inbox.nposting, 1);
}

bool lthread__inbox_drain(struct lthread__sched *s)
{
    struct lthread__msg *m, *mfifo = NULL;
    struct lthread *lt, *lfifo = NULL;

    if (!atomic_load_explicit(&s->inbox.armed, memory_order_acquire))
        return false;
    /* A block freed while this batch is handled may be named by a later
     * message of it: lthread__lt_free() defers it meanwhile. */
    s->inbox.draining = true;
    /* Disarm first: a post from now on wakes the scheduler again. */
    atomic_store(&s->inbox.armed, false);
    lt = atomic_exchange(&s->inbox.back, NULL);
    m = atomic_exchange(&s->inbox.msgs, NULL);
    while (lt) { /* reverse: posting order */
        struct lthread *next = lt->wait_obj;

        lt->wait_obj = lfifo;
        lfifo = lt;
        lt = next;
    }
    while (m) {
        struct lthread__msg *next = m->next;

        m->next = mfifo;
        mfifo = m;
        m = next;
    }
    while ((lt = lfifo)) {
        lfifo = lt->wait_obj;
        lt->wait_obj = NULL;
        lthread__sched_back(s, lt);
    }
    while ((m = mfifo)) {
        mfifo = m->next;
        s->stats.messages++;
        m->handle(s, m);
    }
    s->inbox.draining = false;
    /* Control blocks freed while posts were in flight: no message names
     * them any more, unless a post is in flight right now. */
    if (!atomic_load(&s->inbox.nposting) &&
        !atomic_load_explicit(&s->inbox.armed, memory_order_acquire)) {
        while ((lt = s->freed_later)) {
            s->freed_later = lt->next;
            lthread__lt_release(s, lt);
        }
    }
    return true;
}

bool lthread__inbox_hold(struct lthread__sched *s)
{
    /* Armed by us, posts push and write nothing to the poller. */
    return !atomic_exchange(&s->inbox.armed, true);
}

/* Sequentially consistent, unlike lthread__inbox_pending (a hint for
 * spin loops): see lthread__inbox_release. */
static bool inbox_empty(struct lthread__sched *s)
{
    return !atomic_load(&s->inbox.msgs) && !atomic_load(&s->inbox.back);
}

bool lthread__inbox_release(struct lthread__sched *s)
{
    if (!inbox_empty(s))
        return true; /* still armed: the drain takes it */
    atomic_store(&s->inbox.armed, false);
    /* A post made while we held it armed woke nobody: look again. One
     * made from now on sees it disarmed and wakes the poller. (The
     * poster's push and exchange, our store and load: all sequentially
     * consistent, so one of the two sees the other.) */
    if (inbox_empty(s))
        return false;
    atomic_store(&s->inbox.armed, true);
    return true;
}

bool lthread__inbox_spin(struct lthread__sched *s, uint64_t ns)
{
    uint64_t until;

    if (!lthread__inbox_hold(s))
        return true; /* something came already */
    until = lthread__now_ns() + ns;
    for (unsigned n = 1;; n++) {
        if (lthread__inbox_pending(s))
            return true; /* still armed: the drain takes it */
        if (n % 64)
            lthread__cpu_relax();
        else if (lthread__now_ns() >= until)
            break;
        else if (n % 1024 == 0)
            sched_yield(); /* a pthread waiting for this CPU runs first */
    }
    return lthread__inbox_release(s);
}

void lthread__inbox_close(struct lthread__sched *s)
{
    pthread_mutex_lock(&lthread__xs_lock);
    s->inbox.closing = true;
    pthread_mutex_unlock(&lthread__xs_lock);
    /* Posters that got in before: their posts are short. */
    while (atomic_load(&s->inbox.nposting))
        sched_yield();
    while (lthread__inbox_drain(s))
        ;
}
