/*
 * The scheduler: one per pthread, created by the pthread's first
 * lthread_create() and freed when lthread_run() returns.
 *
 * The loop runs on the pthread's own stack. Each round it runs the lthreads
 * that were ready when the round began (so an lthread that yields with
 * sleep(0) cannot starve timers or I/O), then fires expired timers and, if
 * any lthread waits on an fd or a compute section, asks the poller what is
 * ready: without blocking if lthreads are ready, else until the next timer.
 *
 * Invariants:
 *  - an lthread is in at most one queue (ready, a cond's waiters, a
 *    region's waiters, zombies, joiners, starved, an fd's waiters) and,
 *    independently, in the timer heap;
 *  - only the scheduler's pthread touches its queues, timers and regions;
 *    other pthreads reach it only through its inbox (inbox.c);
 *  - the scheduler switches into an lthread only after making its frames
 *    present in its region (lthread__region_enter).
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "arch/switch.h"
#include "debug_hooks.h"
#include "hook/iface.h"
#include "lthread_int.h"
#include "poller.h"
#include "region_start.h"

LTHREAD__TLS struct lthread__sched *lthread__tls_sched;
LTHREAD__TLS struct lthread__host *lthread__tls_host;
/* Region size asked by lthread_init() before the scheduler exists. */
static LTHREAD__TLS size_t tls_region_size;

#define tls_sched lthread__tls_sched
#define tls_host lthread__tls_host

/* These read TLS through a call the compiler cannot see into, so a caller
 * that continues on another pthread after a compute section reads the new
 * pthread's values (see lthread_int.h for the inline ones). */
__attribute__((noinline)) struct lthread__sched *lthread__sched_get(void)
{
    return tls_sched;
}

__attribute__((noinline)) struct lthread__host *lthread__host_get(void)
{
    return tls_host;
}

void lthread__host_set(struct lthread__host *h)
{
    if (h)
        h->errno_loc = &errno;
    tls_host = h;
}

__attribute__((noinline)) struct lthread *lthread__self(void)
{
    return tls_host ? tls_host->current : NULL;
}

uint64_t lthread__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The state stamps' clock, read by the loop when it starts, after each
 * poll and every 64 rounds (s->clock_ms): the coarse clock where there is
 * one (a few ms of resolution is plenty for "stuck for 40 s", and
 * it reads no time stamp counter, which is slow on some virtual
 * machines). */
void lthread__sched_clock(struct lthread__sched *s)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    uint64_t ms;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    s->clock_ms = (uint32_t)ms | 1u;
#else
    s->clock_ms = (uint32_t)(lthread__now_ns() / 1000000u) | 1u;
#endif
}

/* ---- switching -------------------------------------------------------- */

struct lthread *lthread__switch_in(struct lthread__host *h, struct lthread *lt)
{
    struct lthread__region *r = lt->region;
    struct lthread *back;

    LTHREAD__CHECK(r->owner == lt,
                   "an lthread runs only with its frames in place (it owns "
                   "its region)");
    h->current = lt;
    *h->errno_loc = lt->saved_errno;
    lthread__asan_start_switch(&h->asan_fake_stack, r->base,
                               (size_t)(r->top - r->base));
    lthread__tsan_switch_to(lthread__fiber_of(lt));
    lthread__switch_cross(&h->sp, lt->sp);
    lthread__asan_finish_switch(h->asan_fake_stack, NULL, NULL);
    /* lt may have handed over to others directly: the one switching back
     * is whoever runs now. */
    back = h->current;
    back->saved_errno = *h->errno_loc;
    h->current = NULL;
    return back;
}

/* First run of lt: its region and first frame (see region.c), and its
 * TSan fiber, created only now since TSan counts fibers as threads (limit
 * ~8000). */
static inline __attribute__((always_inline)) int
sched_start(struct lthread__sched *s, struct lthread *lt, bool may_copy)
{
    /* (The common start inline: no call, no frame.) */
    int err = lthread__region_start_fast(s, lt)
                  ? 0
                  : lthread__region_start(s, lt, may_copy);

    if (!err)
        lthread__fiber_set(lt, lthread__tsan_create_fiber());
    return err;
}

/* Frees what an exited lthread still held once nobody runs on its stack:
 * its region (and image), and itself if detached. */
static __attribute__((noinline)) void sched_bury(struct lthread__sched *s,
                                                 struct lthread *lt)
{
    lthread__region_release(s, lt); /* (not the inline test: it almost
                                     * always holds its region here) */
    if (lt->flags & LTHREAD__F_DETACHED)
        lthread__lt_free(s, lt);
    else if (lt->flags & LTHREAD__F_XJOIN)
        lthread__join_exited_xs(s, lt); /* may free lt */
}

/*
 * Where the running lthread `self` goes when it switches out, with all the
 * bookkeeping done: the sp to switch to and where to save self's sp, or a
 * NULL sp when self keeps running (a yield with nobody else ready). (Two
 * pointers: returned in registers on both architectures.)
 *
 * The direct path: instead of going through the scheduler loop (two
 * switches), self switches straight into the next ready lthread when that
 * one's frames are already in place, or it is new and its region is free
 * (no copy needed), and the current round still has budget (so timers and
 * I/O are not starved). An exiting lthread does the same after freeing
 * itself, saving into a scratch slot.
 * Otherwise self switches to its host: the scheduler, or the compute
 * pthread it runs on (compute hand-overs need the scheduler to act after
 * the switch; on a compute pthread there is no one else to run).
 *
 * Inlined into switch_out_slow, whose frame is gone by the time of the
 * switch (a tail call), so it costs nothing in every suspended lthread's
 * saved image.
 */
struct switch_to {
    void *sp; /* where to go; NULL: stay */
    /* Where to save the running context's sp, its low bit set when the
     * two sides' call chains differ (to or from a host, into a new
     * lthread, out of an exiting one): see lthread__switch_cross. */
    void **save;
};

#define CROSS(p) ((void **)((uintptr_t)(p) | 1u))

/*
 * Two hand-overs of plain builds only; sanitizer builds take the general
 * paths instead:
 *   SWITCH_START  a new lthread started without a first frame
 *                 (lthread__switch_start): their new stacks begin with
 *                 the prologue's fiber notification (lthread__entry_prologue,
 *                 empty otherwise: the start calls none);
 *   VIA_MATES     hand-overs between region-mates on a borrowed stack
 *                 without the scheduler loop (lthread__switch_via): their
 *                 fiber notifications know of two stacks per switch, not
 *                 three.
 */
#if !defined(LTHREAD__ASAN) && !LTHREAD__HAVE_TSAN
#define SWITCH_START 1
#define VIA_MATES 1
#else
#define SWITCH_START 0
#define VIA_MATES 0
#endif

/* Bytes of the scheduler's stack below its saved frame that the mates'
 * swap (lthread__region_swap) may not use: room for a signal handler's
 * frame is not needed (signals run on the stack they interrupt, here the
 * borrowed one), so only the x86-64 red zone (128 B) and a margin. */
#define VIA_GAP 256
/* What the swap may use of it (for memcheck; a realloc, a memcpy). */
#define VIA_ROOM (16 * 1024)

/*
 * lthread__region_swap runs on the scheduler's stack, below its suspended
 * frame, inside lthread__switch_via: the running lthread's frames (its sp
 * just saved) go to its image and the mate's come in. When the image
 * cannot grow (ENOMEM), this undoes the hand-over and returns to the
 * scheduler as if self had switched out to it: next is first in the ready
 * queue again, and the scheduler deals with the shortage when it runs it.
 */
__attribute__((cold)) void *lthread__mate_undo(struct lthread__sched *s,
                                               struct lthread *next)
{
    struct lthread *self = next->region->owner;

    next->state = LTHREAD__READY;
    next->next = s->ready.head;
    if (s->ready.head)
        s->ready.head->prev = next;
    else
        s->ready.tail = next;
    s->ready.head = next;
    LTHREAD__QUEUE_IN(next, &s->ready);
    s->nready++;
    s->host.current = self;
    *s->host.errno_loc = self->saved_errno;
    return s->host.sp;
}

static inline __attribute__((always_inline)) struct switch_to
switch_target_slow(struct lthread *self, bool exiting)
{
    struct lthread__host *h = lthread__tls_host; /* fresh: before the switch */
    struct lthread__sched *s = self->sched;
    struct lthread *next;
    struct lthread__region *r;
    bool fresh;

    /* On a compute pthread, s is not ours to read. An exiting lthread
     * with a private stack (unmapped when it is freed) or a TSan fiber
     * (destroyed only once another runs) is freed by its host. */
    if (h != &s->host)
        goto to_host;
    /* When it stopped running (to wait, compute, exit or yield): the one
     * state stamp of a switch, taken here rather than where each state is
     * set, out of the frames a suspended lthread keeps (the stamp's call
     * would cost them 16 bytes). */
    lthread__stamp(s, self);
    if (self->state == LTHREAD__COMPUTE ||
        (exiting && ((self->flags & LTHREAD__F_PRIVATE) || LTHREAD__HAVE_TSAN)))
        goto to_host;
    next = s->ready.head;
    if (!next || !s->round_left)
        goto to_host;
    fresh = !next->sp;
    if (fresh) {
        /* Safe while exiting too: self still owns its region, so a new
         * lthread cannot take it without a copy, which is refused here. */
        if (sched_start(s, next, false))
            goto to_host;
    } else if (next->region->owner != next) {
        goto to_host;
    }
    s->round_left--;
    lthread__queue_pop(&s->ready);
    s->nready--;
    next->state = LTHREAD__RUNNING;
    lthread__count_switch(s, next);
    if (next == self)
        return (struct switch_to){NULL, NULL};
    s->host.current = next;
    self->saved_errno = *s->host.errno_loc;
    *s->host.errno_loc = next->saved_errno;
    r = next->region;
    lthread__san_prepare(&h->san_pending,
                         exiting ? NULL : lthread__fake_slot(self), r->base,
                         (size_t)(r->top - r->base), lthread__fiber_of(next));
    if (exiting) {
        /* Nothing runs between here and the switch: self's region may be
         * released (next, chosen while self owned it, is elsewhere) and
         * self freed; the switch saves into a scratch slot. */
        sched_bury(s, self);
        /* The exiting call chain is not the resumed one's: cross. */
        return (struct switch_to){next->sp, CROSS(&s->dead_sp)};
    }
    return (struct switch_to){next->sp, fresh ? CROSS(&self->sp) : &self->sp};

to_host:
    lthread__san_prepare(&h->san_pending,
                         exiting ? NULL : lthread__fake_slot(self),
                         h->asan_bottom, h->asan_size, h->tsan_fiber);
    return (struct switch_to){h->sp, CROSS(&self->sp)};
}

/* The bookkeeping of a direct hand-over from self to next (popped from
 * the ready queue, whose frames are or will be in place). */
static inline __attribute__((always_inline)) void
hand_over_to(struct lthread__sched *s, struct lthread__host *h,
             struct lthread *self, struct lthread *next)
{
    struct lthread__region *r = next->region;

    next->state = LTHREAD__RUNNING;
    lthread__count_switch(s, next);
    s->host.current = next;
    self->saved_errno = *s->host.errno_loc;
    *s->host.errno_loc = next->saved_errno;
    lthread__san_prepare(&h->san_pending, lthread__fake_slot(self), r->base,
                         (size_t)(r->top - r->base), lthread__fiber_of(next));
}

static inline __attribute__((always_inline)) void
hand_over(struct lthread__sched *s, struct lthread__host *h,
          struct lthread *self, struct lthread *next)
{
    s->round_left--;
    lthread__queue_pop(&s->ready);
    s->nready--;
    hand_over_to(s, h, self, next);
}

/*
 * The switch once decided (tail calls outside sanitizer builds, so that
 * every lthread switched out here resumes at the same return address, its
 * caller's, whichever way it left). Returns 0, the switch's: every
 * switch-out returns 0, so that the yield, which returns 0 to
 * lthread_sleep()'s caller, can end in these tail calls too.
 */
static inline __attribute__((always_inline)) int
switch_go(struct lthread *self, void **save, void *sp, bool cross)
{
    int r;

    lthread__san_before_switch(&lthread__tls_host->san_pending);
    if (cross)
        r = lthread__switch_cross(save, sp);
    else
        r = lthread__switch(save, sp);
    /* (self may be freed memory when it exited: then this is never
     * reached.) */
    lthread__asan_finish_switch(lthread__fake_of(self), NULL, NULL);
    (void)self;
    return r;
}

/* Everything but the common hand-over: its own function, so that the
 * common case keeps no frame (its registers, its calls). */
static __attribute__((noinline)) int switch_out_slow(struct lthread *self,
                                                     bool exiting)
{
    struct switch_to to = switch_target_slow(self, exiting);

    if (!to.sp)
        return 0;
    return switch_go(self, (void **)((uintptr_t)to.save & ~(uintptr_t)1u),
                     to.sp, (uintptr_t)to.save & 1u);
}

/* A hand-over to a new lthread (next: first in the ready queue, never
 * run) whose region is free: it starts there without the loop. */
static __attribute__((noinline)) int switch_out_new(struct lthread *self,
                                                    struct lthread *next)
{
    struct lthread__sched *s = self->sched;

#if SWITCH_START
    /* The common start: no first frame written for the switch to read
     * back, next started straight on its region (lthread__switch_start).
     * Its sp, until it first switches out, only says it has started. */
    if (lthread__likely(lthread__region_bind_fast(s, next))) {
        char *top = next->region->top;

        next->sp = top;
        lthread__stamp(s, self);
        hand_over(s, &s->host, self, next);
        return lthread__switch_start(&self->sp, top, next,
                                     lthread__entry_body(next), next->arg,
                                     lthread__entry_epilogue);
    }
#endif
    if (lthread__unlikely(sched_start(s, next, false)))
        return switch_out_slow(self, false); /* (to the loop) */
    lthread__stamp(s, self);
    hand_over(s, &s->host, self, next);
    /* Into a new call chain: cross. */
    return switch_go(self, &self->sp, next->sp, true);
}

#if VIA_MATES
/* Memcheck takes the stack below the scheduler's sp for unaddressable:
 * its request (which needs a frame) before the switch, out of line. */
#ifdef LTHREAD__VALGRIND
static __attribute__((noinline, cold)) int
switch_via_valgrind(struct lthread *self, struct lthread *next, char *via)
{
    lthread__valgrind_make_writable(via - VIA_ROOM, VIA_ROOM);
    return lthread__switch_via(&self->sp, via, lthread__region_swap_valgrind,
                               next);
}
#endif

/* A hand-over to a region-mate through the scheduler's stack, below its
 * suspended frame (lthread__region_swap runs there): a tail call, as the
 * switch to an owner is, so that the lthread resumes at the same return
 * address and no frame of ours is copied with its stack. Leaves by pop +
 * jmp when `cross` (the yield's, as its hand-over to an owner; under
 * valgrind always by `ret`). Returns 0 (the switch's). */
static inline __attribute__((always_inline)) int
switch_via(struct lthread__sched *s, struct lthread *self, struct lthread *next,
           bool cross)
{
    char *via = (char *)(((uintptr_t)s->host.sp & ~(uintptr_t)15) - VIA_GAP);

#ifdef LTHREAD__VALGRIND
    if (lthread__unlikely(lthread__on_valgrind))
        return switch_via_valgrind(self, next, via);
#endif
    if (cross)
        return lthread__switch_via_cross(&self->sp, via, lthread__region_swap,
                                         next);
    return lthread__switch_via(&self->sp, via, lthread__region_swap, next);
}
#endif

/*
 * The common case alone: a suspending (not exiting) lthread on its
 * scheduler hands over to the next ready lthread, which has run before and
 * owns its region. It calls nothing but the switch, so it saves no
 * registers and keeps no frame (it ends in a tail call of the switch):
 * with the rest of the decision in the same function, its prologue and
 * epilogue pushed and popped six registers on every hand-off, for the
 * calls of the rare paths; with the memcheck request of the mates' path
 * in it, it kept a 64-byte frame. Everything else goes to
 * switch_out_slow, also by a tail call, so suspended images do not grow.
 */
int lthread__switch_suspend(struct lthread *self, struct lthread__sched *s)
{
    struct lthread *next, *owner;

    /* On a compute pthread (where s is not ours to read) an lthread is
     * always COMPUTE: the host first, without looking at s. */
    if (lthread__unlikely(self->state == LTHREAD__COMPUTE))
        return switch_out_slow(self, false);
    LTHREAD__CHECK(lthread__tls_host == &s->host,
                   "only a COMPUTE lthread runs off its scheduler's pthread");
    next = s->ready.head;
    if (lthread__unlikely(!next || !s->round_left || next == self))
        return switch_out_slow(self, false);
    if (!next->sp)
        return switch_out_new(self, next);
    owner = next->region->owner;
    if (lthread__likely(owner == next)) {
        lthread__stamp(s, self);
        hand_over(s, &s->host, self, next);
        return switch_go(self, &self->sp, next->sp, false);
    }
    /* A region-mate: through a borrowed stack (lthread__region_swap), or
     * the scheduler where that cannot be done. */
#if VIA_MATES
    if (owner == self) {
        lthread__stamp(s, self);
        hand_over(s, &s->host, self, next);
        return switch_via(s, self, next, false);
    }
#endif
    return switch_out_slow(self, false);
}

/* The yield's queue work: the first ready lthread leaves the queue and
 * self, READY, joins its back (nready unchanged); one run of the round's
 * budget is drawn. */
static inline __attribute__((always_inline)) void
yield_queue(struct lthread__sched *s, struct lthread *self)
{
    lthread__queue_pop(&s->ready);
    self->state = LTHREAD__READY;
    lthread__queue_push(&s->ready, self);
    lthread__stamp(s, self);
    s->round_left--;
}

/*
 * lthread_sleep(0) on the lthread's scheduler: self goes to the back of
 * the ready queue and the first ready lthread runs. Where that one has
 * run before and owns its region (the common case), self takes its place
 * in the queue in one step: nready stays as it is, and none of the
 * suspend's other checks apply (self is RUNNING, not COMPUTE, and not in
 * the queue); so does a region-mate, through the borrowed stack (its
 * undo on ENOMEM, lthread__mate_undo, puts the mate back first in the
 * queue and counts it, which is right here too: self is queued and
 * counted).
 * Everything else is lthread__ready() and the suspend.
 */
int lthread__switch_yield(struct lthread *self, struct lthread__sched *s)
{
    struct lthread *next = s->ready.head, *owner;

    LTHREAD__CHECK(lthread__tls_host == &s->host && self == s->host.current,
                   "a yield is made by the running lthread of the "
                   "scheduler's own pthread");
    if (lthread__unlikely(!next || !s->round_left || !next->sp))
        goto general;
    owner = next->region->owner;
    if (lthread__likely(owner == next)) {
        yield_queue(s, self);
        hand_over_to(s, &s->host, self, next);
        /* Cross: nothing of ours is left between the switch and the
         * caller of lthread_sleep(0) (tail calls), so what the switch
         * leaves for is the user's call site, which need not be the one
         * self called from; `ret` mispredicted there, pop + jmp learns it
         * (DESIGN.md, "How the switch leaves"). */
        return switch_go(self, &self->sp, next->sp, true);
    }
#if VIA_MATES
    if (owner == self) { /* a region-mate: as in lthread__switch_suspend */
        yield_queue(s, self);
        hand_over_to(s, &s->host, self, next);
        return switch_via(s, self, next, true); /* cross: see above */
    }
#endif
general:
    lthread__ready(s, self);
    return lthread__switch_suspend(self, s);
}

/* The running lthread is exiting: counts it out, makes it a zombie (unless
 * detached) and wakes its joiner. Its memory is freed later, off its
 * stack. */
static inline __attribute__((always_inline)) void
sched_exiting(struct lthread__sched *s, struct lthread *lt)
{
    s->nlive--;
    if (lt->flags & LTHREAD__F_DETACHED)
        return;
    /* A zombie until joined; the joiner takes it off this queue. */
    lthread__queue_push(&s->zombies, lt);
    /* A joiner of another scheduler takes lt once off its stack
     * (sched_bury). */
    if (lt->joiner && !(lt->flags & LTHREAD__F_XJOIN))
        lthread__join_exited(s, lt);
}

/* sched_bury() of a joinable lthread bound to a shared region, with no
 * image (an exiting lthread, nearly always), inline; any other through
 * the call. */
static inline __attribute__((always_inline)) void
sched_bury_exited(struct lthread__sched *s, struct lthread *lt)
{
    if (lthread__unlikely(
            lt->image ||
            (lt->flags &
             (LTHREAD__F_BOUND | LTHREAD__F_SAVED | LTHREAD__F_PRIVATE |
              LTHREAD__F_DETACHED | LTHREAD__F_XJOIN)) != LTHREAD__F_BOUND))
        return sched_bury(s, lt);
    lthread__region_release_shared(s, lt, true); /* (it runs there) */
}

/*
 * The end of an exit's direct hand-over to next (the bookkeeping done,
 * next the running lthread). No fake stack of self's to keep: it is gone
 * with self. Nothing runs between here and the switch: self's region is
 * released (next's is another: next owns it) and self freed if detached;
 * the switch saves nothing: lthread__switch_drop, or where next's call
 * into its switch-out is the return stack buffer's top (`ret_predicted`:
 * lthread__exit_joined) lthread__switch_drop_ret. Never returns.
 */
static inline __attribute__((always_inline)) void
exit_into(struct lthread__sched *s, struct lthread *self, struct lthread *next,
          bool ret_predicted)
{
    lthread__san_prepare(&s->host.san_pending, NULL, next->region->base,
                         (size_t)(next->region->top - next->region->base),
                         lthread__fiber_of(next));
    sched_bury_exited(s, self);
    lthread__san_before_switch(&s->host.san_pending);
    if (ret_predicted)
        lthread__switch_drop_ret(next->sp);
    else
        lthread__switch_drop(next->sp);
}

/*
 * The return of self's function (lthread__entry_epilogue) when self has a
 * joiner j, straight into j where j would be next anyway (of s, nothing
 * else ready, an untimed join, its frames in place; self leaves as the
 * common exit does, below): that exit (sched_exiting, the joiner's wake,
 * the hand-over to the first ready lthread) but nothing that only lasts
 * until j runs, since j runs now: self is not made a zombie in s->zombies
 * (the join takes it straight: join_take), j is not queued as ready and
 * popped again, and it holds no outcome (LTHREAD__F_JOIN_DONE: for a
 * destroy before it runs, which cannot come). Anything else is
 * lthread__exit_self's.
 *
 * Every step to the switch is a jump, not a call (the trampoline jumps
 * to the epilogue, which jumps here; here the switch is a tail call), and
 * the switch leaves with `ret` (x86-64: lthread__switch_drop_ret): j
 * called the switch-out of its join, so the return stack buffer's top is
 * that call's return address, where j resumes; then the join's own return
 * is predicted too. With calls down to a `pop; jmp` switch, the join's
 * return mispredicted on every create + join.
 */
void lthread__exit_joined(struct lthread *self)
{
    struct lthread__sched *s = self->sched;
    struct lthread *j = self->joiner;

    /* (At home: its epilogue saw the pthread's scheduler. A pthread's
     * scheduler is set with its host, and an lthread runs on no other
     * scheduler's pthread: lthread__exit_self's look at the host is not
     * needed here, three instructions of every create + run + join.) */
    LTHREAD__CHECK(lthread__tls_host == &s->host,
                   "an lthread runs on its scheduler's pthread or computes");
    if (LTHREAD__HAVE_TSAN || s->ready.head || !s->round_left ||
        (self->flags & (LTHREAD__F_PRIVATE | LTHREAD__F_XJOIN)) ||
        (j->flags & LTHREAD__F_TIMER) || j->region->owner != j)
        lthread__exit_self(self, NULL);
    self->exit_value = NULL;
    self->state = LTHREAD__EXITED;
    s->nlive--;
    LTHREAD__CHECK(j->wait == LTHREAD__WAIT_JOIN && j->wait_obj == self &&
                       j->wake_result == 0,
                   "an lthread's joiner waits in join on it (parked: 0)");
    j->wait = LTHREAD__WAIT_NONE;
    s->round_left--; /* (the run j takes) */
    lthread__stamp(s, self);
    hand_over_to(s, &s->host, self, j);
    exit_into(s, self, j, true); /* (a tail call: nothing after it) */
}

/*
 * The exit of the running lthread self (lthread_exit(), or the return of
 * its function), with value as its exit value: a zombie until joined (or
 * freed, if detached), never resumed. The common case alone: on its
 * scheduler's pthread (an lthread that exits in a compute section goes
 * home first), from a shared region, to the next ready lthread whose
 * frames are in place: freed (buried), then straight into it. Everything
 * else (and every exit under TSan, whose fiber the host destroys) through
 * switch_out_slow. One function (the bookkeeping inline): each call level
 * of the exit had been a call, a frame and registers saved and restored.
 */
void lthread__exit_self(struct lthread *self, void *value)
{
    struct lthread__sched *s = self->sched;
    struct lthread *next;

    self->exit_value = value;
    self->state = LTHREAD__EXITED;
    sched_exiting(s, self);
    next = s->ready.head;
    if (LTHREAD__HAVE_TSAN ||
        lthread__unlikely(lthread__tls_host != &s->host ||
                          (self->flags & LTHREAD__F_PRIVATE) || !next ||
                          !s->round_left || !next->sp ||
                          next->region->owner != next)) {
        switch_out_slow(self, true);
        __builtin_unreachable(); /* (an exited lthread is never resumed) */
    }
    lthread__stamp(s, self);
    hand_over(s, &s->host, self, next);
    exit_into(s, self, next, false);
    __builtin_unreachable();
}

/* ---- waits owned by the scheduler ------------------------------------- */

static bool memory_cancel(struct lthread__sched *s, struct lthread *lt)
{
    lthread__queue_remove(&s->starved, lt);
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_memory = {"memory",
                                                           memory_cancel, NULL};

/* ---- lifetime --------------------------------------------------------- */

struct lthread *lthread__lt_alloc(struct lthread__sched *s)
{
    if (!s->lt_cache)
        return lthread__calloc(sizeof(struct lthread));
    return lthread__lt_reuse(s);
}

void lthread__lt_release(struct lthread__sched *s, struct lthread *lt)
{
#if LTHREAD__LT_CACHE_MAX > 0
    if (s->nlt_cache < LTHREAD__LT_CACHE_MAX) {
        lthread__lt_cache_push(s, lt);
        return;
    }
#else
    (void)s;
#endif
    lthread__free(lt);
}

/* lthread__lt_free() of lt alone. */
static void lt_free_one(struct lthread__sched *s, struct lthread *lt)
{
    if (lthread__unlikely(lt->flags & LTHREAD__F_XJOIN))
        lthread__xjoin_orphan(s, lt); /* (a teardown's leftovers) */
    lthread__region_leave(s, lt);     /* (no call after a bury: inline) */
    lthread__tsan_destroy_fiber(lthread__fiber_of(lt));
    if (lthread__unlikely(lthread__inbox_busy(s))) {
        /* A post in flight may name it: its handler must find it dead,
         * not freed (inbox.c). */
        lt->state = LTHREAD__DEAD;
        lt->next = s->freed_later;
        s->freed_later = lt;
        return;
    }
    lthread__lt_release(s, lt);
}

void lthread__lt_free(struct lthread__sched *s, struct lthread *lt)
{
    /* An lthread still waiting to join lt goes with it: only a deadlocked
     * scheduler's teardown frees an lthread that has one (a destroy or
     * an exit ends the join first), and that joiner is on no list of
     * its own (lthread__join_waiter). So does its joiner, and so on. */
    do {
        struct lthread *j = lthread__join_waiter(lt);

        lt_free_one(s, lt);
        lt = j;
    } while (lthread__unlikely(lt != NULL));
}

/* Runs lt until it switches out, then deals with why it did. */
static void sched_resume(struct lthread__sched *s, struct lthread *lt)
{
    int err;

    if (lt->sp)
        err = lthread__region_enter(s, lt);
    else
        err = sched_start(s, lt, true);
    if (lthread__unlikely(err)) {
        s->round_runs--; /* its run was not a switch (lthread__switches) */
        lthread__stamp(s, lt); /* waits for its region or for memory */
        if (err == -ENOMEM) {
            /* A mate's image could not be saved: try again in a while
             * rather than lose anyone or spin. */
            lt->state = LTHREAD__WAITING;
            lt->wait = LTHREAD__WAIT_MEMORY;
            lthread__queue_push(&s->starved, lt);
            s->nstarve_fails++;
        }
        /* -EAGAIN: lt now waits for its region (see region.c). */
        return;
    }
    /* Whoever switches back (lt, or one it handed over to directly) is
     * the one whose state matters now. */
    lt->state = LTHREAD__RUNNING;
    lthread__count_switch(s, lt);
    lt = lthread__switch_in(&s->host, lt);
    if (atomic_load_explicit(&lthread__watching, memory_order_relaxed))
        atomic_store_explicit(&s->running_id, 0, memory_order_relaxed);
    switch ((enum lthread__state)lt->state) {
    case LTHREAD__EXITED:
        sched_bury(s, lt);
        break;
    case LTHREAD__COMPUTE:
        lthread__compute_submit(s, lt);
        break;
    default:
        break;
    }
}

/* Wakes every lthread whose deadline has passed. */
static void sched_fire_timers(struct lthread__sched *s, uint64_t now)
{
    struct lthread *lt;

    while ((lt = lthread__timer_pop_expired(s, now))) {
        /* A sleep that ends on time is a success, any other wait a
         * timeout. */
        int result = lt->wait == LTHREAD__WAIT_SLEEP ? 0 : LTHREAD__TIMEDOUT;

        /* Too late to time out when its wake is on the way: it comes. */
        if (lthread__wait_cancel(s, lt))
            lthread__unpark(s, lt, result);
    }
}

/* Longest pause between retries of starved lthreads. */
#define STARVED_MAX_DELAY_MS 128

/*
 * Gives the lthreads that could not get their region for want of memory
 * another try, whatever else is ready, without spinning while memory stays
 * short: a batch at a time, doubling the batch while every try succeeds,
 * and after any failure retrying one lthread after a pause that doubles.
 * The batch sent last time has run by now: it was ready at the start of
 * this round.
 */
static void sched_retry_starved(struct lthread__sched *s, uint64_t now)
{
    struct lthread *lt;

    if (!s->starved.head) {
        /* The last batch got in and nobody is left: the next shortage
         * starts afresh. */
        s->starved_batch = 0;
        s->starved_delay_ms = 0;
        s->starved_retry_at = 0;
        return;
    }
    if (now < s->starved_retry_at)
        return;
    if (s->starved_batch && s->nstarve_fails == s->starve_fails_at) {
        /* The last batch all got in: memory is back. */
        s->starved_batch *= 2;
        s->starved_delay_ms = 0;
    } else if (s->starved_batch) {
        s->starved_batch = 1;
        s->starved_delay_ms = s->starved_delay_ms ? s->starved_delay_ms * 2 : 1;
        if (s->starved_delay_ms > STARVED_MAX_DELAY_MS)
            s->starved_delay_ms = STARVED_MAX_DELAY_MS;
    } else {
        s->starved_batch = 1; /* the first retry */
    }
    s->starved_retry_at = now + (uint64_t)s->starved_delay_ms * 1000000u;
    s->starve_fails_at = s->nstarve_fails;
    for (uint32_t i = 0; i < s->starved_batch; i++) {
        lt = lthread__queue_pop(&s->starved);
        if (!lt)
            break;
        lt->wait = LTHREAD__WAIT_NONE;
        lthread__ready(s, lt);
    }
}

void lthread__sched_back(struct lthread__sched *s, struct lthread *lt)
{
    s->ncompute--;
    lthread__queue_remove(&s->computing, lt);
    lthread__ready(s, lt);
    /* Its mates waited for its frames to come home. */
    lthread__region_wake_waiters(s, lt->region);
    if (lthread__unlikely(lt->flags & LTHREAD__F_DESTROY))
        lthread__destroy_back(s, lt); /* asked while it was away */
}

/* ---- every scheduler of the process ------------------------------------ */

/* Under lthread__xs_lock: a deadlock can be declared only by a scheduler
 * that is alone (no other could wake its lthreads), and the others are
 * told when one finishes. */
static struct lthread__sched *all_scheds;
static _Atomic unsigned nscheds;

static void sched_list_add(struct lthread__sched *s)
{
    pthread_mutex_lock(&lthread__xs_lock);
    s->xs_next = all_scheds;
    if (all_scheds)
        all_scheds->xs_prev = s;
    all_scheds = s;
    atomic_fetch_add_explicit(&nscheds, 1, memory_order_relaxed);
    pthread_mutex_unlock(&lthread__xs_lock);
}

void lthread__sched_each_dump(void)
{
    pthread_mutex_lock(&lthread__xs_lock);
    for (struct lthread__sched *s = all_scheds; s; s = s->xs_next) {
        atomic_store(&s->dump_wanted, true);
        lthread__poller_wake(s->poller);
    }
    pthread_mutex_unlock(&lthread__xs_lock);
}

void lthread__sched_each_watch(uint64_t now, uint64_t limit)
{
    pthread_mutex_lock(&lthread__xs_lock);
    for (struct lthread__sched *s = all_scheds; s; s = s->xs_next) {
        uint64_t sw =
            atomic_load_explicit(&s->watched_switches, memory_order_relaxed);
        uint64_t id =
            atomic_load_explicit(&s->running_id, memory_order_relaxed);
        const char *name =
            atomic_load_explicit(&s->running_name, memory_order_relaxed);

        if (!id || sw != s->wd_switches) {
            s->wd_switches = sw;
            s->wd_since = now;
            s->wd_reported = false;
            continue;
        }
        if (!s->wd_reported && now - s->wd_since >= limit) {
            fprintf(stderr,
                    "lthread watchdog: lthread %llu (%s) has run for %llu ms "
                    "without switching, blocking its scheduler %p (a "
                    "blocking call, or work for a compute section?)\n",
                    (unsigned long long)id, name ? name : "unnamed",
                    (unsigned long long)((now - s->wd_since) / 1000000u),
                    (void *)s);
            s->wd_reported = true;
        }
    }
    pthread_mutex_unlock(&lthread__xs_lock);
}

/* Also wakes the others: one of them may now be alone in a deadlock. */
static void sched_list_remove(struct lthread__sched *s)
{
    pthread_mutex_lock(&lthread__xs_lock);
    if (s->xs_prev)
        s->xs_prev->xs_next = s->xs_next;
    else
        all_scheds = s->xs_next;
    if (s->xs_next)
        s->xs_next->xs_prev = s->xs_prev;
    atomic_fetch_sub_explicit(&nscheds, 1, memory_order_relaxed);
    for (struct lthread__sched *o = all_scheds; o; o = o->xs_next)
        lthread__poller_wake(o->poller);
    pthread_mutex_unlock(&lthread__xs_lock);
}

/* ---- creation and teardown -------------------------------------------- */

static void sched_free(struct lthread__sched *s)
{
    struct lthread *lt;

    /*
     * What can be left when the loop ends: zombies (exited, never joined)
     * and, after a deadlock, lthreads waiting forever on a cond or a join
     * (no timer, no fd, no compute section: else it was no deadlock); the
     * joiners of an lthread of this scheduler go with their joinee
     * (lthread__lt_free), the others are in `joining`. A scheduler that
     * failed its first create has nothing at all.
     */
    lthread__inbox_close(s);
    sched_list_remove(s);
    /* Woken by a post that came with the deadlock: they never run. */
    while ((lt = lthread__queue_pop(&s->ready)))
        lthread__lt_free(s, lt);
    while ((lt = lthread__queue_pop(&s->zombies)))
        lthread__lt_free(s, lt);
    while ((lt = lthread__queue_pop(&s->joining)))
        lthread__lt_free(s, lt);
    lthread__cond_abandon(s);
    while ((lt = s->freed_later)) {
        s->freed_later = lt->next;
        lthread__free(lt);
    }
    while ((lt = s->lt_cache)) {
        s->lt_cache = lt->next;
        lthread__free(lt);
    }
    lthread__sync_sched_free(s);
    lthread__disk_free(s);
    lthread__regions_free(s);
    lthread__io_free(s);
    lthread__free(s->timers);
    lthread__free(s);
    lthread__overflow_thread_fini();
    tls_sched = NULL;
    lthread_hook_scheduler = 0;
    tls_host = NULL;
}

void lthread__sched_release_if_idle(struct lthread__sched *s)
{
    if (!s->nlive && !s->zombies.head && !s->running)
        sched_free(s);
}

struct lthread__sched *lthread__sched_get_or_create(int *err)
{
    struct lthread__sched *s = tls_sched;

    if (lthread__likely(s != NULL))
        return s;
    if (tls_host) {
        /* A compute pthread: lthreads cannot be created here. */
        *err = -EPERM;
        return NULL;
    }
    s = lthread__calloc(sizeof(*s));
    if (!s) {
        *err = -ENOMEM;
        return NULL;
    }
    s->region_size = tls_region_size ? tls_region_size : LTHREAD__DEFAULT_STACK;
    s->busy_conds.next = s->busy_conds.prev = &s->busy_conds;
    lthread__regions_init(s);
    *err = lthread__io_init(s);
    if (*err)
        goto out_free;
    *err = lthread__regions_reserve(s);
    if (*err)
        goto out_io;
    s->host.tsan_fiber = lthread__tsan_current_fiber();
    lthread__asan_host_stack(&s->host.asan_bottom, &s->host.asan_size);
    sched_list_add(s);
    lthread__dump_init();
    lthread__watchdog_init();
    lthread__overflow_thread_init();
    tls_sched = s;
    lthread_hook_scheduler = 1;
    lthread__host_set(&s->host);
    return s;

out_io:
    lthread__regions_free(s);
    lthread__io_free(s);
out_free:
    lthread__free(s);
    return NULL;
}

int lthread__sched_set_region_size(size_t size)
{
    struct lthread__sched *s = tls_sched;
    int err;

    if (size < LTHREAD__MIN_STACK || size > LTHREAD__MAX_STACK)
        return -EINVAL;
    if (s) {
        if (s->nlive || s->zombies.head || s->running)
            return -EBUSY;
        /* No lthread is bound: the regions can be remade at the new size. */
        err = lthread__regions_resize(s, size);
        if (err)
            return err;
        tls_region_size = size;
        return 0;
    }
    tls_region_size = size;
    return 0;
}

/* Runs a round may make beyond the lthreads ready when it began: enough to
 * amortise the loop's checks over ping-pong hand-overs, few enough that a
 * timer or fd is looked at within microseconds. */
#define ROUND_EXTRA 64

/* ---- the loop --------------------------------------------------------- */

/* How long the poller may block: until the next timer, or forever. */
static int64_t sched_poll_timeout(struct lthread__sched *s)
{
    uint64_t next, now;

    if (s->nready)
        return 0;
    next = lthread__timer_next(s);
    if (s->starved.head && s->starved_retry_at < next)
        next = s->starved_retry_at; /* memory may come back */
    if (s->nhint_waiting && s->hint_sweep_at < next)
        next = s->hint_sweep_at;
    if (next == UINT64_MAX)
        return -1;
    now = lthread__now_ns();
    return next > now ? (int64_t)(next - now) : 0;
}

/* A time knob in microseconds from the environment (a number up to a
 * second; anything else, or unset: dflt), read once into *cache, in ns (-1
 * until read). */
static uint64_t env_us_knob(_Atomic int64_t *cache, const char *name,
                            unsigned long dflt)
{
    int64_t ns = atomic_load_explicit(cache, memory_order_relaxed);

    if (lthread__unlikely(ns < 0)) {
        const char *v = getenv(name);
        unsigned long us = dflt;
        char *end;

        if (v && *v) {
            us = strtoul(v, &end, 10);
            if (*end || us > 1000000)
                us = dflt; /* not a number of us up to a second */
        }
        ns = (int64_t)us * 1000;
        atomic_store_explicit(cache, ns, memory_order_relaxed);
    }
    return (uint64_t)ns;
}

/* The next budget of an adaptive spin or poll whose last one lasted up to
 * ns: doubled (up to max) when it paid, halved (down to 1 us) when it ran
 * out. */
static uint64_t spin_budget(uint64_t ns, uint64_t max, bool paid)
{
    if (paid)
        return ns * 2 < max ? ns * 2 : max;
    return ns / 2 > 1000 ? ns / 2 : 1000;
}

/* How long a scheduler whose lthreads wait on other pthreads polls its
 * inbox before it sleeps in the poller (LTHREAD_SPIN_US, default 0: never):
 * a message to a scheduler that sleeps costs a poller wake-up on the
 * sender's side and a kernel wake-up of the receiver, each several us on
 * a virtual machine. Off by default: spinning cut a channel ping-pong
 * between two schedulers from 19.7 us to 0.63 us, but halved a 4x4
 * stream's throughput, whose sleeping side otherwise wakes to a batch
 * (BENCHMARKS.md, "Multicore"). */
static _Atomic int64_t spin_max = -1;

/* Spins (lthread__inbox_spin) until the next timer is due, at most for
 * s->spin_ns, which adapts: doubled (up to LTHREAD_SPIN_US) after a spin
 * that a post ended, halved (down to 1 us) after one that ran out. So a
 * scheduler whose peers answer fast keeps them in reach, and one whose
 * peers do not (busy elsewhere, more pthreads than CPUs) soon stops
 * taking CPU from them. True when something was posted meanwhile. */
static bool sched_spin(struct lthread__sched *s)
{
    uint64_t max = env_us_knob(&spin_max, "LTHREAD_SPIN_US", 0);
    uint64_t ns = s->spin_ns;
    int64_t to;
    bool got;

    if (!max)
        return false;
    if (!ns || ns > max)
        ns = max;
    to = sched_poll_timeout(s);
    if (to == 0)
        return false;
    got =
        lthread__inbox_spin(s, to > 0 && (uint64_t)to < ns ? (uint64_t)to : ns);
    if (got || to < 0 || (uint64_t)to >= ns) /* (not cut short) */
        s->spin_ns = spin_budget(ns, max, got);
    return got;
}

/* LTHREAD_CHAN_SPIN_US: the longest the pollers of a scheduler go without
 * a wake before they wait for real; 20 us by default, 0: never poll. */
static _Atomic int64_t poll_max = -1;

uint64_t lthread__poll_max_ns(void)
{
    return env_us_knob(&poll_max, "LTHREAD_CHAN_SPIN_US", 20);
}

/* Wakes a poller of s (to retry what it polls). Until it runs, what it
 * polled still counts it: destroyed meanwhile, lthread__poll_abandon()
 * releases that (the LTHREAD__DONE_POLL mark). */
static void sched_poll_wake(struct lthread__sched *s, struct lthread *lt)
{
    lthread__queue_remove(&s->pollers, lt);
    lthread__unpark(s, lt, 0); /* (its wait_obj still names what it polled) */
    lthread__outcome_hold(lt, LTHREAD__DONE_POLL);
}

/* Wakes every poller of s: they retry, and wait for real if they must. */
static void sched_poll_end(struct lthread__sched *s)
{
    while (s->pollers.head)
        sched_poll_wake(s, s->pollers.head);
    s->poll_until = 0;
}

/* A yield that took this long gave the CPU to another pthread (one that
 * returns at once takes well under 1 us here). */
#define POLL_GAVE_CPU_NS 2000

/*
 * Nothing is ready and lthreads poll (LTHREAD__WAIT_POLL, src/sync/chan.c):
 * looks at what they poll until one of them can go on (it is woken), a
 * timer is due, or another pthread posts to s, all without a syscall: the
 * inbox is held armed meanwhile, so a post costs its poster no poller
 * write, and a reply polled costs no post at all. When the pollers went
 * s->poll_ns without a wake (poll_until), they all wait for real: the
 * budget then halves (down to 1 us); a wake doubles it (up to
 * LTHREAD_CHAN_SPIN_US), as the scheduler's own spin does.
 *
 * The pollers yield the CPU every 256 polls, in case a pthread waits for
 * it. When the other side runs on our very CPU (the kernel put both
 * schedulers on one, or there are more pthreads than CPUs), a poll is
 * answered only after such a yield, which then took long (it gave the CPU
 * away): s->poll_shared is set from the last yield before a wake, and
 * while it is set they yield at every look at the clock (every 16 polls)
 * instead. A ping-pong between co-located schedulers: 9.3 -> 6.0 us a
 * round trip; 8 schedulers on 2 CPUs: 22.9 -> 14.4 us; on two CPUs,
 * where a yield returns at once, nothing changes (BENCHMARKS.md, "Polls
 * that yield when the CPU is shared"). Yielding early on a mere timeout
 * (2 us unanswered) was tried: on two CPUs a side in its yield answered
 * late, which pushed the other past 2 us, and a 4x4 ping-pong went from
 * 0.64 to 1.67 us.
 */
static void sched_poll(struct lthread__sched *s)
{
    uint64_t max = lthread__poll_max_ns(), ns = s->poll_ns, now, until, t;
    bool woke = false;
    bool gave = false; /* the last yield gave the CPU away */

    if (!ns || ns > max)
        ns = max;
    now = lthread__now_ns();
    if (!s->poll_until)
        s->poll_until = now + ns;
    if (now >= s->poll_until) {
        s->poll_ns = spin_budget(ns, max, false);
        return sched_poll_end(s);
    }
    if (!lthread__inbox_hold(s))
        return; /* something came: the loop takes it first */
    until = lthread__timer_next(s);
    if (until > s->poll_until)
        until = s->poll_until;
    for (unsigned n = 1;; n++) {
        struct lthread *lt, *next;

        for (lt = s->pollers.head; lt; lt = next) {
            next = lt->next;
            if (lthread__wait_poll(lt)) {
                sched_poll_wake(s, lt);
                woke = true;
            }
        }
        if (woke || lthread__inbox_pending(s))
            break;
        lthread__cpu_relax();
        if (n % 16)
            continue;
        t = lthread__now_ns();
        if (t >= until)
            break; /* a timer, or the pollers' time is up: see the loop */
        if (s->poll_shared || n % 256 == 0) {
            /* A pthread waiting for this CPU runs first. */
            sched_yield();
            gave = lthread__now_ns() - t >= POLL_GAVE_CPU_NS;
        }
    }
    lthread__inbox_release(s);
    if (woke) {
        s->poll_shared = gave;
        s->poll_ns = spin_budget(ns, max, true);
        s->poll_until = s->pollers.head ? lthread__now_ns() + s->poll_ns : 0;
    }
}

int lthread_run(void)
{
    struct lthread__sched *s = tls_sched;
    int result = 0;

    if (!s) {
        if (tls_host) /* compute pthread */
            return lthread__fail(-EPERM);
        return 0;
    }
    if (s->running)
        return lthread__fail(-EPERM);
    s->running = true;
    lthread__sched_clock(s);

    for (;;) {
        /* Run the lthreads ready at the start of this round, and a few
         * more direct hand-overs, before timers and I/O are looked at. */
        s->switches_before += s->round_runs - s->round_left;
        s->round_runs = s->round_left = s->nready + ROUND_EXTRA;
        if (!(++s->clock_rounds % 64))
            lthread__sched_clock(s); /* for the state stamps */
        while (s->round_left > 0 && s->nready > 0) {
            struct lthread *lt = lthread__queue_pop(&s->ready);

            s->round_left--;
            s->nready--;
            sched_resume(s, lt);
        }
        if (s->nlive == 0)
            break;
        if (s->ntimers)
            sched_fire_timers(s, lthread__now_ns());
        if (s->starved.head || s->starved_batch)
            sched_retry_starved(s, lthread__now_ns());
        lthread__inbox_drain(s);
        if (lthread__unlikely(
                atomic_load_explicit(&s->dump_wanted, memory_order_relaxed))) {
            atomic_store(&s->dump_wanted, false);
            lthread__sched_dump(s);
        }
        if (s->ndisk)
            lthread__disk_round(s); /* submit this round's, reap (src/disk/) */
        if (s->nready && !s->nio_waiting)
            continue; /* nothing to poll for: no syscall */
        if (!s->nlive)
            continue; /* the last ones went (a destroy, a disk completion) */
        if (s->pollers.head && !s->nready) {
            /* Polls (no syscall) until a poller can go on, a timer is due
             * or something is posted; I/O is looked at (without waiting)
             * between polls. */
            sched_poll(s);
            lthread__inbox_drain(s);
            if (s->nio_waiting)
                lthread__io_poll(s, 0);
            if (s->ntimers)
                sched_fire_timers(s, lthread__now_ns());
            continue;
        }
        if (!s->nready && !s->ntimers && !s->nio_waiting && !s->ncompute &&
            !s->starved.head && !s->nxwaiting && !s->ndisk &&
            atomic_load_explicit(&nscheds, memory_order_relaxed) == 1 &&
            !atomic_load(&s->inbox.armed)) {
            /* Everyone left waits for a cond or join nobody can end: no
             * other scheduler runs to signal or destroy (a plain pthread
             * could: see lthread_run in the header). */
            result = -EDEADLK;
            break;
        }
        if (s->nxwaiting && !s->nready && sched_spin(s)) {
            lthread__inbox_drain(s); /* a reply came while we spun */
            continue;
        }
        if (s->ndisk)
            lthread__disk_poll(s, sched_poll_timeout(s)); /* and completions */
        else
            lthread__io_poll(s, sched_poll_timeout(s));
        lthread__sched_clock(s); /* it may have slept: for the stamps */
        lthread__inbox_drain(s);
        if (s->nhint_waiting) {
            uint64_t now = lthread__now_ns();

            if (now >= s->hint_sweep_at)
                lthread__io_sweep(s, now);
        }
        if (s->ntimers)
            sched_fire_timers(s, lthread__now_ns());
    }

    s->running = false;
    sched_free(s);
    return result ? lthread__fail(result) : 0;
}
