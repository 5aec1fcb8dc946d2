/*
 * Waiting on mutexes and channels (see sync.h): the spinlock, the waiter
 * queues, and parking or blocking until a waker serves the group.
 */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "os/cond.h"
#include "sync/sync.h"

/* ---- spinlock ------------------------------------------------------------ */

void lthread__spin_wait(struct lthread__spin *l)
{
    unsigned spins = 0;

    do {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            /* The holder may have been preempted: let it run. */
            if (++spins % 64 == 0)
                sched_yield();
            else
                lthread__cpu_relax();
        }
    } while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire));
}

/* ---- queues ----------------------------------------------------------------
 */

void lthread__waitq_unlink(struct lthread__waiter *w)
{
    struct lthread__waitq *q = w->q;

    /* (The head's prev is stale, and so is the tail once the queue is
     * empty: sync.h.) */
    if (q->head == w)
        lthread__waitq_set_head(q, w->next);
    else
        w->prev->next = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->q = NULL;
}

struct lthread__waiter *lthread__waitq_claim(struct lthread__waitq *q)
{
    for (struct lthread__waiter *w = q->head; w; w = w->next) {
        int expect = LTHREAD__W_WAITING;

        if (atomic_compare_exchange_strong(&w->g->state, &expect,
                                           LTHREAD__W_DONE)) {
            lthread__waitq_unlink(w);
            w->g->chosen = w->index;
            return w;
        }
        /* Cancelled, or served through another of its waiters: left
         * linked for its owner to unlink. The owner locks this object to
         * do so, and it may do that only while one of its waiters keeps
         * the object busy (destroy fails with EBUSY): the one a waker
         * claimed, the owner never touches again. */
    }
    return NULL;
}

/* ---- groups ---------------------------------------------------------------
 */

static struct lthread__tw *tw_self(void);

#define SMALL_VALUE LTHREAD__SMALL_VALUE
#define CACHE_MAX LTHREAD__WG_CACHE_MAX

/* Lists g in s's registry (sync.h), on s's pthread. */
static void registry_add(struct lthread__sched *s, struct lthread__wgroup *g)
{
    LTHREAD__CHECK(s == lthread__tls_sched && !g->reg,
                   "a group is listed once, by its scheduler's pthread");
    g->reg = s;
    g->sprev = NULL;
    g->snext = s->sync_waits;
    if (g->snext)
        g->snext->sprev = g;
    s->sync_waits = g;
}

static void registry_remove(struct lthread__wgroup *g)
{
    struct lthread__sched *s = g->reg;

    LTHREAD__CHECK(s == lthread__tls_sched,
                   "a group is unlisted by its scheduler's pthread");
    if (g->sprev)
        g->sprev->snext = g->snext;
    else
        s->sync_waits = g->snext;
    if (g->snext)
        g->snext->sprev = g->sprev;
    g->reg = NULL;
}

int lthread__sync_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg)
{
    int r;

    for (struct lthread__wgroup *g = s->sync_waits; g; g = g->snext) {
        struct lthread *lt = g->lt;

        /* In use by a live lthread (a cached group has none, a group freed
         * for good is unlisted); waiting on it: parked, or destroyed while
         * its wake is on the way. */
        if (lt && lt->wait == LTHREAD__WAIT_SYNC && lt->wait_obj == g &&
            (r = fn(lt, arg)))
            return r;
    }
    return 0;
}

/* Fills g, of n waiters and vsize bytes of value each, for the caller. */
static struct lthread__wgroup *group_init(struct lthread__wgroup *g, size_t n,
                                          size_t vsize, bool small,
                                          struct lthread *lt,
                                          struct lthread__sched *s)
{
    size_t head = lthread__wgroup_head(n);
    char *vals = (char *)g + head;

    memset(g, 0, head);
    atomic_init(&g->state, LTHREAD__W_WAITING);
    g->n = n;
    g->small = small;
    /* Its waiter, known before any waker can see it. */
    g->lt = lt;
    g->sched = s;
    if (!g->lt) {
        g->tw = tw_self();
    } else {
        registry_add(s, g);
        if (n == 1)
            g->local = s; /* see lthread__waitq_claim_local */
    }
    for (size_t i = 0; i < n; i++) {
        g->w[i].g = g;
        g->w[i].index = (int)i;
        g->w[i].buf = vsize || small ? vals + i * vsize : NULL;
    }
    return g;
}

/* A group of one waiter from the calling lthread's scheduler's cache, or
 * NULL (none cached, or not called from an lthread). */
static struct lthread__wgroup *wgroup_cached(size_t vsize)
{
    struct lthread__sched *s;
    struct lthread *lt = lthread__sched_self(&s);
    struct lthread__wgroup *g;

    if (vsize > SMALL_VALUE || !lt || !(g = lthread__wgroup_take(s, lt)))
        return NULL;
    g->w[0].q = NULL; /* never linked yet (lthread__wgroup_unlink) */
    g->w[0].lock = NULL;
    return g;
}

struct lthread__wgroup *lthread__wgroup_new(size_t n, size_t vsize)
{
    bool small = n == 1 && vsize <= SMALL_VALUE;
    struct lthread__sched *s;
    struct lthread *lt;
    struct lthread__wgroup *g;

    if (small && (g = wgroup_cached(vsize)))
        return g;
    lt = lthread__sched_self(&s);
    g = lthread__malloc(lthread__wgroup_head(n) +
                        n * (small ? SMALL_VALUE : vsize));
    return g ? group_init(g, n, vsize, small, lt, s) : NULL;
}

void lthread__wgroup_free(struct lthread__wgroup *g)
{
#if CACHE_MAX > 0
    struct lthread__sched *s = lthread__tls_sched;

    if (g->small && s && (!s->wg_hot || s->nwg_cache < CACHE_MAX)) {
        /* What lthread__wgroup_take expects of a cached group (the group
         * may have been a pthread's: made on this scheduler's pthread
         * outside an lthread). */
        if (g->reg != s)
            registry_add(s, g);
        g->sched = s;
        g->local = s;
        g->lt = NULL;
        g->undo = NULL;
        g->result = 0;
        g->timeout = 0;
        if (!s->wg_hot) { /* the first taken (sync.h) */
            s->wg_hot = g;
            return;
        }
        g->cnext = s->wg_cache;
        s->wg_cache = g;
        s->nwg_cache++;
        return;
    }
#endif
    if (g->reg)
        registry_remove(g);
    lthread__free(g);
}

void lthread__sync_sched_free(struct lthread__sched *s)
{
    struct lthread__wgroup *g;

    while ((g = s->wg_cache)) {
        s->wg_cache = g->cnext;
        registry_remove(g);
        lthread__free(g);
    }
    s->nwg_cache = 0;
    if ((g = s->wg_hot)) {
        s->wg_hot = NULL;
        registry_remove(g);
        lthread__free(g);
    }
}

void lthread__wgroup_unlink(struct lthread__wgroup *g, int claimed)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lthread__waiter *w = &g->w[i];

        /* Never linked, or unlinked by the waker that claimed it, whose
         * object may be gone by now (a receiver took the last value and
         * destroyed the channel). */
        if (!w->lock || (int)i == claimed)
            continue;
        lthread__spin_lock(w->lock);
        if (w->q)
            lthread__waitq_unlink(w);
        lthread__spin_unlock(w->lock);
    }
}

/* Gives up g if nobody has served it yet; false when a waker has. */
static bool wgroup_cancel(struct lthread__wgroup *g)
{
    int expect = LTHREAD__W_WAITING;

    if (!atomic_compare_exchange_strong(&g->state, &expect,
                                        LTHREAD__W_CANCELLED))
        return false;
    lthread__wgroup_unlink(g, -1);
    return true;
}

/* ---- blocked pthreads ------------------------------------------------------
 */

struct lthread__tw {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool ready; /* initialised */
    bool woken;
};

static __thread struct lthread__tw tls_tw;

static struct lthread__tw *tw_self(void)
{
    struct lthread__tw *tw = &tls_tw;

    if (!tw->ready) {
        pthread_mutex_init(&tw->m, NULL);
        lthread__os_cond_init(&tw->c);
        tw->ready = true;
    }
    return tw;
}

static int tw_wait(struct lthread__wgroup *g, uint64_t timeout)
{
    struct lthread__tw *tw = g->tw;
    struct timespec until;
    int rc = 0;

    if (timeout) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(timeout / 1000);
        until.tv_nsec += (long)(timeout % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&tw->m);
    while (!tw->woken) {
        if (!timeout) {
            pthread_cond_wait(&tw->c, &tw->m);
            continue;
        }
        rc = lthread__os_cond_wait_until(&tw->c, &tw->m, &until);
        if (rc == ETIMEDOUT && !tw->woken) {
            pthread_mutex_unlock(&tw->m);
            if (wgroup_cancel(g)) {
                lthread__wgroup_free(g);
                return LTHREAD__TIMEDOUT;
            }
            /* Served as we gave up: its wake is on the way. */
            timeout = 0;
            pthread_mutex_lock(&tw->m);
        }
    }
    tw->woken = false;
    pthread_mutex_unlock(&tw->m);
    return 0;
}

/* ---- lthreads --------------------------------------------------------------
 */

static bool sync_cancel(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__wgroup *g = lt->wait_obj;

    (void)s;
    if (!wgroup_cancel(g))
        return false;
    s->nxwaiting--;
    lthread__wgroup_free(g);
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_sync = {"sync", sync_cancel,
                                                         NULL};

/* On the waiter's scheduler: its group was served. */
static void wgroup_wake(struct lthread__sched *s, struct lthread__wgroup *g)
{
    struct lthread *lt = g->lt;

    LTHREAD__CHECK(lt->wait == LTHREAD__WAIT_SYNC && lt->wait_obj == g,
                   "an lthread waits on its group until it is served");
    s->nxwaiting--;
    if (lthread__unlikely(lt->flags & LTHREAD__F_DESTROY)) {
        /* Destroyed while this wake was on its way. */
        lt->wait = LTHREAD__WAIT_NONE;
        if (g->undo)
            g->undo(g);
        lthread__wgroup_unlink(g, g->chosen); /* a select's others */
        lthread__wgroup_free(g);
        lthread__destroy_back(s, lt);
        return;
    }
    lthread__unpark(s, lt, -g->result); /* a failure, positive (sync.h) */
    /* Until it runs, the outcome is its to undo if it is destroyed. */
    lt->wait_obj = g;
    lthread__outcome_hold(lt, LTHREAD__DONE_SYNC);
}

int lthread__wgroup_wake_local_timed(struct lthread__sched *s,
                                     struct lthread__wgroup *g)
{
    struct lthread *lt = g->lt;

    lthread__unpark_timed(s, lt, 0);
    lt->wait_obj = g;
    /* Until it runs, the outcome is its to undo if it is destroyed. */
    lthread__outcome_hold(lt, LTHREAD__DONE_SYNC);
    return 0;
}

void lthread__sync_abandon(struct lthread *lt)
{
    struct lthread__wgroup *g = lt->wait_obj;

    if (g->undo)
        g->undo(g);
    lthread__wgroup_unlink(g, g->chosen); /* a select's other waiters */
    lthread__wgroup_free(g);
}

static void wgroup_deliver_msg(struct lthread__sched *s, struct lthread__msg *m)
{
    wgroup_wake(s, (struct lthread__wgroup *)m);
}

void lthread__wgroup_deliver(struct lthread__wgroup *g, int result)
{
    g->result = result;
    if (!g->lt) {
        struct lthread__tw *tw = g->tw;

        pthread_mutex_lock(&tw->m);
        tw->woken = true;
        pthread_cond_signal(&tw->c);
        pthread_mutex_unlock(&tw->m);
        return;
    }
    if (g->sched == lthread__tls_sched) {
        /* On the waiter's own scheduler pthread (not a compute one). */
        wgroup_wake(g->sched, g);
        return;
    }
    /* The waiter counts as live and cannot give up any more: its
     * scheduler stays until this post is handled. */
    g->msg.handle = wgroup_deliver_msg;
    atomic_fetch_add(&g->sched->inbox.nposting, 1);
    lthread__inbox_post(g->sched, &g->msg);
}

int lthread__wgroup_wait(struct lthread__wgroup *g, uint64_t timeout)
{
    if (!g->lt) /* a plain pthread, or an lthread in a compute section */
        return tw_wait(g, timeout);
    return lthread__wgroup_park(g->sched, g->lt, &g, timeout);
}

void *lthread__sync_self(void)
{
    struct lthread *self = lthread__self();

    return self ? (void *)self : (void *)&tls_tw;
}
