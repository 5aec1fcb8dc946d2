/*
 * The common first run of an lthread, inline where the scheduler hands
 * over to a new one (sched.c: switch_out_new): a free shared region at
 * hand and the first frame written there. region.c's
 * lthread__region_start() does the rest, and the same when called.
 */
#ifndef LTHREAD_REGION_START_H
#define LTHREAD_REGION_START_H

#include "arch/switch.h"
#include "debug_hooks.h"
#include "lthread_int.h"

/* What a new lthread's trampoline calls as its body. fn is called as
 * void (*)(void *, void *): same ABI as lthread_func (both arguments are
 * pointers), which the switch code cannot name. */
static inline __attribute__((always_inline)) void (
    *lthread__entry_body(const struct lthread *lt))(void *, void *)
{
    return lt->io_fd == LTHREAD__ENTRY_ARG ? lthread__entry_arg
                                           : (void (*)(void *, void *))lt->fn;
}

/* Writes lt's first frame at the top of its region r, which it owns (the
 * bytes writable for memcheck already, where it runs). */
static inline __attribute__((always_inline)) void
lthread__region_first_frame(struct lthread__region *r, struct lthread *lt)
{
    lt->sp =
        lthread__frame_fill(r->top, &(struct lthread__entry){
                                        .prologue = lthread__entry_prologue,
                                        .body = lthread__entry_body(lt),
                                        .epilogue = lthread__entry_epilogue,
                                        .ctx = lt,
                                        .arg = lt->arg,
                                    });
}

/*
 * The common start: a new lthread (not bound to a region yet: no private
 * stack), no reason of the whole process for region.c's path
 * (lthread__start_slow: no entry function learned to compute, not under
 * valgrind), and a
 * shared region that no lthread is bound to at hand (s->region_free, the
 * last one emptied, checked: a hint; region_choose() would take any
 * region with none bound first too). Returns true when lt was bound so
 * (the region's owner: its first frame is the caller's to write, or to
 * start without one), false (nothing done) for lthread__region_start()
 * to do it.
 */
static inline __attribute__((always_inline)) bool
lthread__region_bind_fast(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__region *r = s->region_free;

    if (lthread__unlikely(
            !r || r->nbound || (lt->flags & LTHREAD__F_BOUND) ||
            atomic_load_explicit(&lthread__start_slow, memory_order_relaxed)))
        return false;
    LTHREAD__CHECK(!r->owner && !r->is_private,
                   "a region no lthread is bound to is shared and unowned");
    lt->region = r;
    lt->flags |= LTHREAD__F_BOUND;
    r->nbound = 1;
    lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
    r->owner = lt;
    return true;
}

/* lthread__region_bind_fast(), then lt's first frame written: started. */
static inline __attribute__((always_inline)) bool
lthread__region_start_fast(struct lthread__sched *s, struct lthread *lt)
{
    if (!lthread__region_bind_fast(s, lt))
        return false;
    lthread__region_first_frame(lt->region, lt);
    return true;
}

#endif /* LTHREAD_REGION_START_H */
