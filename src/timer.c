/*
 * Timers: a binary min-heap of (deadline, lthread) pairs. Each lthread
 * remembers its slot, so removal (a cond signalled before its timeout, a
 * wakeup, a destroy) is O(log n) too.
 */
#include "alloc.h"
#include "lthread_int.h"

static inline void heap_set(struct lthread__sched *s, uint32_t i,
                            struct lthread__timer t)
{
    s->timers[i] = t;
    t.lt->timer_slot = i;
}

static void sift_up(struct lthread__sched *s, uint32_t i)
{
    struct lthread__timer t = s->timers[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;

        if (s->timers[parent].deadline <= t.deadline)
            break;
        heap_set(s, i, s->timers[parent]);
        i = parent;
    }
    heap_set(s, i, t);
}

static void sift_down(struct lthread__sched *s, uint32_t i)
{
    struct lthread__timer t = s->timers[i];

    for (;;) {
        uint32_t child = 2 * i + 1;

        if (child >= s->ntimers)
            break;
        if (child + 1 < s->ntimers &&
            s->timers[child + 1].deadline < s->timers[child].deadline)
            child++;
        if (t.deadline <= s->timers[child].deadline)
            break;
        heap_set(s, i, s->timers[child]);
        i = child;
    }
    heap_set(s, i, t);
}

/* Makes room for one more timer. Returns 0 or -ENOMEM. */
static int timer_reserve(struct lthread__sched *s)
{
    struct lthread__timer *bigger;
    uint32_t cap;

    if (s->ntimers < s->timers_cap)
        return 0;
    cap = s->timers_cap ? s->timers_cap * 2 : 64;
    bigger = lthread__realloc(s->timers, cap * sizeof(*bigger));
    if (!bigger)
        return -ENOMEM;
    s->timers = bigger;
    s->timers_cap = cap;
    return 0;
}

int lthread__timer_add(struct lthread__sched *s, struct lthread *lt,
                       uint64_t deadline)
{
    int err = timer_reserve(s);

    if (err)
        return err;
    lt->flags |= LTHREAD__F_TIMER;
    heap_set(s, s->ntimers++, (struct lthread__timer){deadline, lt});
    sift_up(s, lt->timer_slot);
    return 0;
}

void lthread__timer_remove(struct lthread__sched *s, struct lthread *lt)
{
    uint32_t i = lt->timer_slot;
    struct lthread__timer last;

    if (!(lt->flags & LTHREAD__F_TIMER))
        return;
    lt->flags &= ~LTHREAD__F_TIMER;
    last = s->timers[--s->ntimers];
    if (last.lt == lt)
        return;
    heap_set(s, i, last);
    /* The moved element may belong above or below its new slot. */
    if (i > 0 && s->timers[(i - 1) / 2].deadline > last.deadline)
        sift_up(s, i);
    else
        sift_down(s, i);
}

int lthread__timer_arm(struct lthread__sched *s, struct lthread *lt,
                       uint64_t timeout_ms)
{
    /* Saturate instead of wrapping for absurd timeouts. */
    uint64_t ns = timeout_ms > UINT64_MAX / 2000000u ? UINT64_MAX / 2
                                                     : timeout_ms * 1000000u;

    return lthread__timer_add(s, lt, lthread__now_ns() + ns);
}

uint64_t lthread__timer_next(const struct lthread__sched *s)
{
    return s->ntimers ? s->timers[0].deadline : UINT64_MAX;
}

struct lthread *lthread__timer_pop_expired(struct lthread__sched *s,
                                           uint64_t now)
{
    struct lthread *lt;

    if (!s->ntimers || s->timers[0].deadline > now)
        return NULL;
    lt = s->timers[0].lt;
    lthread__timer_remove(s, lt);
    return lt;
}

void lthread__unpark_timed(struct lthread__sched *s, struct lthread *lt,
                           int result)
{
    lthread__timer_remove(s, lt);
    lt->wait = LTHREAD__WAIT_NONE;
    lt->wake_result = result; /* (wait_obj as it was: lthread__unpark) */
    lthread__ready(s, lt);
}
