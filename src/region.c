/*
 * Stack regions: where lthreads' frames live, and the copying that lets
 * many lthreads share one region.
 *
 * A frame holds absolute addresses (saved frame pointers, pointers to
 * locals), so an lthread can only ever run at the addresses it started at:
 * it is bound to one region for life. Each scheduler keeps a small pool of
 * shared regions; a region's `owner` is the lthread whose frames are in
 * place. Saving is lazy: when an lthread suspends nothing is copied; only
 * when a region-mate must run is the owner's used stack, [sp, top), copied
 * out to its image, and the mate's image copied in. Two lthreads on
 * different regions therefore switch without any copy.
 *
 *     region (shared)                               saved images (heap)
 *   +-------+---------------------+-----------+
 *   | guard |   free              | owner's   |      mate 1: [sp..top)
 *   | page  |                     | frames    |      mate 2: [sp..top)
 *   +-------+---------------------+-----------+
 *   map     base                  owner->sp   top
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "arch/copy.h"
#include "arch/switch.h"
#include "debug_hooks.h"
#include "lthread_int.h"
#include "os/maps.h"
#include "region_start.h"

/* Not every system has these (FreeBSD dropped MAP_NORESERVE, its anonymous
 * mappings are never reserved; macOS has no MAP_STACK): without one, what
 * it asks for is the default or does not apply. */
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

/* Shared regions per scheduler unless LTHREAD_REGIONS says otherwise. */
#define DEFAULT_MAX_REGIONS 16
#define MAX_MAX_REGIONS 1024

_Atomic unsigned char lthread__start_slow;

#ifdef LTHREAD__VALGRIND
int lthread__on_valgrind;

/* Before main: no lthread exists yet, and no other pthread reads it. */
static __attribute__((constructor)) void valgrind_detect(void)
{
    lthread__on_valgrind = RUNNING_ON_VALGRIND != 0;
    if (lthread__on_valgrind)
        atomic_store_explicit(&lthread__start_slow, 1, memory_order_relaxed);
}
#endif

static size_t page_size(void)
{
    /* Schedulers of several pthreads may fill it at once: same value. */
    static _Atomic size_t cached;
    size_t pg = atomic_load_explicit(&cached, memory_order_relaxed);

    if (!pg) {
        pg = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&cached, pg, memory_order_relaxed);
    }
    return pg;
}

void lthread__regions_init(struct lthread__sched *s)
{
    const char *env = getenv("LTHREAD_REGIONS");
    long n = env ? strtol(env, NULL, 10) : 0;

    s->max_regions =
        (n >= 1 && n <= MAX_MAX_REGIONS) ? (uint32_t)n : DEFAULT_MAX_REGIONS;
}

/* Maps a region of `size` usable bytes (a page multiple) above a guard page. */
static struct lthread__region *region_map(size_t size, bool is_private)
{
    struct lthread__region *r = lthread__calloc(sizeof(*r));
    size_t guard = page_size();

    if (!r)
        return NULL;
    r->map_len = size + guard;
    /* MAP_NORESERVE: only the pages an lthread touches are ever backed. */
    r->map =
        mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (r->map == MAP_FAILED)
        goto out_free;
    /* The guard page turns an overflow into a SIGSEGV at the faulting
     * access instead of silent corruption of the next mapping. */
    if (mprotect(r->map, guard, PROT_NONE) < 0)
        goto out_unmap;
    r->base = r->map + guard;
    r->top = r->map + r->map_len;
    r->is_private = is_private;
    r->valgrind_id = lthread__valgrind_stack_register(r->base, r->top);
    return r;

out_unmap:
    munmap(r->map, r->map_len);
out_free:
    lthread__free(r);
    errno = ENOMEM;
    return NULL;
}

static void region_unmap(struct lthread__region *r)
{
    lthread__valgrind_stack_deregister(r->valgrind_id);
    /* ASan keeps shadow for the range; a later mapping there must not
     * inherit our frames' redzones. */
    lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
    munmap(r->map, r->map_len);
    lthread__free(r);
}

static size_t round_to_pages(size_t size)
{
    size_t pg = page_size();

    return (size + pg - 1) & ~(pg - 1);
}

/* Adds one shared region to s. Returns it, or NULL on ENOMEM. */
static struct lthread__region *region_add_shared(struct lthread__sched *s)
{
    struct lthread__region **bigger, *r;

    bigger =
        lthread__realloc(s->regions, (s->nregions + 1) * sizeof(*s->regions));
    if (!bigger)
        return NULL;
    s->regions = bigger;
    r = region_map(round_to_pages(s->region_size), false);
    if (!r)
        return NULL;
    r->index = (uint16_t)s->nregions;
    s->regions[s->nregions++] = r;
    return r;
}

int lthread__regions_reserve(struct lthread__sched *s)
{
    if (s->nregions > 0)
        return 0;
    return region_add_shared(s) ? 0 : -ENOMEM;
}

int lthread__regions_resize(struct lthread__sched *s, size_t size)
{
    struct lthread__region **one = lthread__malloc(sizeof(*one));
    struct lthread__region *r =
        one ? region_map(round_to_pages(size), false) : NULL;

    /* The new region first: on ENOMEM everything stays as it was. */
    if (!r) {
        lthread__free(one);
        return -ENOMEM;
    }
    lthread__regions_free(s);
    one[0] = r;
    s->regions = one;
    s->nregions = 1;
    s->region_size = size;
    return 0;
}

void lthread__regions_free(struct lthread__sched *s)
{
    for (uint32_t i = 0; i < s->nregions; i++)
        region_unmap(s->regions[i]);
    lthread__free(s->regions);
    s->regions = NULL;
    s->nregions = 0;
    s->region_free = NULL;
}

/*
 * Private stacks cost two memory maps each (the stack and its guard page),
 * and a process has vm.max_map_count of them (65530 by default) for
 * everything: heap arenas, libraries, thread stacks. Private stacks given
 * by learning (an entry function that computed) are a convenience, so they
 * stop at a quarter of that budget and later lthreads share regions
 * again; those asked for with LTHREAD_ATTR_PRIVATE_STACK are mapped as long
 * as the kernel allows (ENOMEM after).
 */
static _Atomic long nprivate; /* private stacks mapped, process-wide */

static long learned_private_max(void)
{
    static _Atomic long cached;
    long max = atomic_load_explicit(&cached, memory_order_relaxed);

    if (!max) {
        long maps = lthread__os_max_maps();

        if (maps < 1024)
            maps = 65530; /* Linux's default, where no cap is known */
        max = maps / 8;   /* stacks: two maps each, a quarter of the maps */
        atomic_store_explicit(&cached, max, memory_order_relaxed);
    }
    return max;
}

int lthread__region_private(struct lthread__sched *s, struct lthread *lt,
                            size_t size)
{
    struct lthread__region *r;

    if (size == 0)
        size = s->region_size;
    if (size < LTHREAD__MIN_STACK || size > LTHREAD__MAX_STACK)
        return -EINVAL;
    r = region_map(round_to_pages(size), true);
    if (!r)
        return -ENOMEM;
    atomic_fetch_add_explicit(&nprivate, 1, memory_order_relaxed);
    lt->region = r;
    lt->flags |= LTHREAD__F_PRIVATE | LTHREAD__F_BOUND;
    r->nbound = 1;
    return 0;
}

/* Lower is better: a region pinned by a computing owner only as a last
 * resort, then the creator's region, then by the number of mates. */
static uint64_t region_rank(const struct lthread__region *r,
                            const struct lthread__region *avoid)
{
    uint64_t rank = r->nbound;

    if (r == avoid)
        rank += (uint64_t)1 << 32;
    if (r->owner && r->owner->state == LTHREAD__COMPUTE)
        rank += (uint64_t)1 << 33;
    return rank;
}

/*
 * Picks the shared region for a new lthread, in this order: a region no
 * lthread is bound to; a new region, while fewer than max_regions exist;
 * the region with the fewest bound lthreads, avoiding the creator's region
 * (a listener then never shares with the connections it spawns).
 */
static struct lthread__region *region_choose(struct lthread__sched *s,
                                             struct lthread__region *avoid)
{
    struct lthread__region *best = NULL, *r;

    for (uint32_t i = 0; i < s->nregions; i++) {
        r = s->regions[i];
        if (r->nbound == 0)
            return r;
    }
    if (s->nregions < s->max_regions) {
        r = region_add_shared(s);
        if (r)
            return r;
    }
    for (uint32_t i = 0; i < s->nregions; i++) {
        r = s->regions[i];
        if (!best || region_rank(r, avoid) < region_rank(best, avoid))
            best = r;
    }
    return best;
}

/*
 * An image of 1 KiB or more holds its lthread's frames from sp or from the
 * 16 bytes below it, whichever puts the stack side and the image side of
 * the copies at one offset modulo 32 (image_skew: both are 16-byte
 * aligned, so the choice is bit 4 of their distance). Why: memcpy copies
 * more than about 2 KiB with `rep movsb`, which on AMD EPYC (Zen) ran 25
 * times slower (1.5-2 us for 4.3 KB instead of 60-90 ns) when the
 * destination was 8-24 bytes ahead of the source modulo 4 KiB (and at
 * times 2-6 times slower at 40-120); distances that are multiples of 32
 * were all fast (BENCHMARKS.md, "stack copies at one offset modulo 32",
 * bench/memcpy_skew.c). Where a heap image lands against a stack is
 * chance, so the penalty hit some lthreads for good. The skew is fixed
 * while the image is saved (neither sp nor the image moves, and the
 * length decides whether there is one), so the restore finds it again.
 * Smaller images (below every libc's threshold for `rep movsb` we know
 * of) keep their exact size: the 16 bytes would be 7% of a typical
 * suspended lthread's memory. An image of 1 KiB or more also starts at a
 * multiple of IMAGE_ALIGN (image_grow), so that, at one offset mod 32
 * with it, the stack side is aligned too: on x86-64 with AVX2 both are
 * then copied with aligned 32-byte moves (arch/x86_64/copy.c).
 */
#define IMAGE_SKEW_MIN 1024
#define IMAGE_ALIGN 32

/*
 * Copies n bytes between a stack region and an image. It reads and writes
 * frames wholesale, redzones included, so ASan must not check it; and the
 * compiler must not turn the loop into a call to the intercepted memcpy.
 */
LTHREAD__NO_ASAN static void *stack_copy(void *dst, const void *src, size_t n)
{
#ifdef LTHREAD__ASAN
    volatile const char *from = src;

    for (size_t i = 0; i < n; i++)
        ((char *)dst)[i] = from[i];
    return dst;
#else
#if defined(LTHREAD__STACK_COPY_WIDE) && !defined(LTHREAD__TSAN)
    /* (Under TSan, memcpy: its interceptor is what it knows.) */
    LTHREAD__CHECK(n % 16 == 0, "a stack image is a multiple of 16 bytes");
    if (n >= IMAGE_SKEW_MIN && lthread__have_wide_copy)
        return lthread__stack_copy_wide(dst, src, n);
#endif
    return memcpy(dst, src, n);
#endif
}

/* 16 bytes of a stack or an image (both 16-byte aligned; 8 is all this
 * asks of the allocator). */
typedef uint64_t frame16
    __attribute__((vector_size(16), aligned(8), may_alias));

/*
 * stack_copy() of the frames of a suspended lthread below 1 KiB (a
 * region-mate's hand-over: n a multiple of 16, at least a switch frame's
 * 64 bytes), inline with 16-byte moves: the last 64 bytes, then 64 at a
 * time from the start (the last round overlapping them where n is not a
 * multiple of 64). A call of memcpy cost a call through the PLT, its size
 * dispatch and, in the swap, two registers saved around the first copy.
 */
static inline __attribute__((always_inline)) void *
small_copy(void *dst, const void *src, size_t n)
{
#ifdef LTHREAD__ASAN
    return stack_copy(dst, src, n);
#else
    frame16 *d = dst;
    const frame16 *f = src;
    size_t last = n / 16 - 4;
    frame16 a = f[last], b = f[last + 1], c = f[last + 2], e = f[last + 3];

    LTHREAD__CHECK(n % 16 == 0 && n >= 64 && n < IMAGE_SKEW_MIN,
                   "a small stack image: a multiple of 16 bytes, at least "
                   "a switch frame");
    d[last] = a;
    d[last + 1] = b;
    d[last + 2] = c;
    d[last + 3] = e;
    for (size_t i = 0; i < last; i += 4) {
        a = f[i];
        b = f[i + 1];
        c = f[i + 2];
        e = f[i + 3];
        d[i] = a;
        d[i + 1] = b;
        d[i + 2] = c;
        d[i + 3] = e;
        __asm__("" : "+r"(d)); /* (no memcpy made of the loop) */
    }
    return dst;
#endif
}

/* The bytes below sp an image of an lthread with `len` bytes of frames
 * holds (image: its buffer). */
static inline size_t image_skew(const void *sp, const char *image, size_t len)
{
    return len >= IMAGE_SKEW_MIN ? (((uintptr_t)sp - (uintptr_t)image) & 16u)
                                 : 0;
}

/* Where lt's saved frames start on its region r's stack side: sp, or the
 * 16 bytes below it (image_skew). */
static inline char *image_from(const struct lthread__region *r,
                               const struct lthread *lt)
{
    return (char *)lt->sp -
           image_skew(lt->sp, lt->image, (size_t)(r->top - (char *)lt->sp));
}

/* The capacity an image needs for `len` bytes of frames. */
static inline size_t image_need(size_t len)
{
    return len >= IMAGE_SKEW_MIN ? len + 16 : len;
}

/* lthread__valgrind_make_writable() out of line: memcheck's request block
 * needs a stack frame, which the mates' swap does without. */
static __attribute__((noinline, cold)) void make_writable_slow(void *addr,
                                                               size_t len)
{
    lthread__valgrind_make_writable(addr, len);
}

static inline void make_writable(void *addr, size_t len)
{
#ifdef LTHREAD__VALGRIND
    if (lthread__unlikely(lthread__on_valgrind))
        make_writable_slow(addr, len);
#else
    (void)addr, (void)len;
    (void)make_writable_slow;
#endif
}

/* Makes o's image hold len bytes (what it held is not kept: it is about
 * to be written whole). Returns 0 or -ENOMEM, o's image unchanged. */
static __attribute__((noinline)) int image_grow(struct lthread *o, size_t len)
{
    /* Rounded to 16: malloc's granule, so nothing is wasted. */
    size_t cap = (len + 15) & ~(size_t)15;
    char *img;

    if (cap < IMAGE_SKEW_MIN) {
        img = lthread__realloc(o->image, cap);
    } else {
        /* Aligned (see IMAGE_SKEW_MIN): a new block, as realloc() keeps
         * only malloc's 16. */
        img = lthread__malloc_aligned(IMAGE_ALIGN, cap);
        if (img)
            lthread__free(o->image);
    }
    if (!img)
        return -ENOMEM;
    o->image = img;
    o->image_cap = (uint32_t)cap;
    return 0;
}

/* Saves the frames of r's owner into its image. Returns 0 or -ENOMEM. */
static int region_save_owner(struct lthread__region *r)
{
    struct lthread *o = r->owner;
    size_t len = (size_t)(r->top - (char *)o->sp);
    char *from;

    if (image_need(len) > o->image_cap && image_grow(o, image_need(len)))
        return -ENOMEM;
    /* The length needs no field: it is always top - sp (and the skew). */
    from = image_from(r, o);
    stack_copy(o->image, from, (size_t)(r->top - from));
    if (len > r->high_water)
        r->high_water = len;
    o->sched->stats.copies++;
    o->sched->stats.bytes_copied += (size_t)(r->top - from);
    o->flags |= LTHREAD__F_SAVED;
    r->owner = NULL;
    return 0;
}

/* Makes lt the owner of its region, evicting the previous owner. */
static int region_take(struct lthread__region *r, struct lthread *lt)
{
    struct lthread *o = r->owner;
    int err;

    if (o == lt)
        return 0;
    if (o) {
        if (o->state == LTHREAD__COMPUTE) {
            /* Its frames must stay where they are until it is back. */
            lthread__queue_push(&r->waiters, lt);
            lt->state = LTHREAD__WAITING;
            lt->wait = LTHREAD__WAIT_REGION;
            return -EAGAIN;
        }
        err = region_save_owner(r);
        if (err)
            return err;
    }
    /* The previous owner's redzones must not stay in the shadow of frames
     * that now hold someone else's data. */
    lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
    if (lt->flags & LTHREAD__F_SAVED) {
        char *to = image_from(r, lt);
        size_t len = (size_t)(r->top - to);

        lthread__valgrind_make_writable(to, len);
        stack_copy(to, lt->image, len);
        lt->sched->stats.copies++;
        lt->sched->stats.bytes_copied += len;
        lt->flags &= ~LTHREAD__F_SAVED;
    }
    r->owner = lt;
    return 0;
}

int lthread__region_enter(struct lthread__sched *s, struct lthread *lt)
{
    (void)s;
    return region_take(lt->region, lt);
}

void *lthread__region_swap(void *arg);

/* The bookkeeping of a hand-over between region-mates: the owner o's
 * frames (out bytes) are to be saved, lt's restored. */
static inline __attribute__((always_inline)) void
swap_note(struct lthread__region *r, struct lthread *o, struct lthread *lt,
          size_t out)
{
    if (out > r->high_water)
        r->high_water = out;
    o->flags |= LTHREAD__F_SAVED;
    lt->flags &= ~LTHREAD__F_SAVED;
    r->owner = lt;
    lt->sched->stats.copies += 2;
}

/* The copies of a hand-over between region-mates whose images are both
 * small (no skew: image_skew), the bookkeeping done; the restore is the
 * last step. Returns lt's sp. `vg`: under valgrind, memcheck's request
 * made (the caller knows; nothing tested here). */
static inline __attribute__((always_inline)) void *
swap_small(struct lthread__region *r, struct lthread *o, struct lthread *lt,
           size_t out, size_t in, bool vg)
{
    lt->sched->stats.bytes_copied += out + in;
#if defined(LTHREAD__STACK_COPY_WIDE) && !defined(LTHREAD__TSAN) &&            \
    !defined(LTHREAD__ASAN)
    /* (Both copies in one call: nothing between them outside ASan and
     * valgrind.) */
    if (!vg && lthread__have_wide_copy)
        return lthread__swap_small_wide(o->image, o->sp, out, lt->sp, lt->image,
                                        in);
#endif
    small_copy(o->image, o->sp, out);
    lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
    if (vg)
        make_writable_slow(lt->sp, in);
    return small_copy(lt->sp, lt->image, in);
}

/* lthread__region_swap()'s copies where an image is 1 KiB or more (then
 * skewed: image_skew), its bookkeeping done. Returns lt's sp. */
static void *region_swap_skewed(struct lthread__region *r, struct lthread *o,
                                struct lthread *lt)
{
    char *from = image_from(r, o);
    char *to = image_from(r, lt);

    lt->sched->stats.bytes_copied +=
        (size_t)(r->top - from) + (size_t)(r->top - to);
    stack_copy(o->image, from, (size_t)(r->top - from));
    lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
    make_writable(to, (size_t)(r->top - to));
    stack_copy(to, lt->image, (size_t)(r->top - to));
    return lt->sp;
}

/* lthread__region_swap() but for its common case: an image of 1 KiB or
 * more (skewed), or an owner's image that must grow first (on ENOMEM the
 * hand-over is undone: lthread__mate_undo). Out of line, so that the
 * common swap computes no skew and makes no call before its first copy. */
static __attribute__((noinline)) void *region_swap_other(struct lthread *lt,
                                                         bool vg)
{
    struct lthread__region *r = lt->region;
    struct lthread *o = r->owner;
    size_t out = (size_t)(r->top - (char *)o->sp);
    size_t in = (size_t)(r->top - (char *)lt->sp);

    if (image_need(out) > o->image_cap && image_grow(o, image_need(out)))
        return lthread__mate_undo(lt->sched, lt); /* nothing changed */
    swap_note(r, o, lt, out);
    if ((out | in) >= IMAGE_SKEW_MIN) /* (a power of 2) */
        return region_swap_skewed(r, o, lt);
    return swap_small(r, o, lt, out, in, vg);
}

/* The hand-over between region-mates, on the stack lthread__switch_via
 * borrowed (sched.c: switch_via): the owner's frames out to its image,
 * lt's in. The restore is its last step, with everything else done before
 * it: little is live across the first copy, so few registers are saved.
 * Called by the switch code itself (no wrapper: a call level and its
 * registers less for every such hand-over); `vg`: the copy made under
 * valgrind (lthread__region_swap_valgrind), whose memcheck request the
 * common one does not test for. */
static inline __attribute__((always_inline)) void *region_swap(void *arg,
                                                               bool vg)
{
    struct lthread *lt = arg;
    struct lthread__region *r = lt->region;
    struct lthread *o = r->owner;
    size_t out = (size_t)(r->top - (char *)o->sp);
    size_t in = (size_t)(r->top - (char *)lt->sp);

    LTHREAD__CHECK(o && o != lt && o->state != LTHREAD__COMPUTE &&
                       (lt->flags & LTHREAD__F_SAVED) &&
                       !(o->flags & LTHREAD__F_SAVED),
                   "a hand-over between region-mates: the owner's frames "
                   "are in place, the next one's saved");
    /* Small images need no more room than their length (image_need). */
    if (lthread__unlikely((out | in) >= IMAGE_SKEW_MIN || out > o->image_cap))
        return region_swap_other(lt, vg);
    swap_note(r, o, lt, out);
    return swap_small(r, o, lt, out, in, vg);
}

void *lthread__region_swap(void *arg)
{
    return region_swap(arg, false);
}

#ifdef LTHREAD__VALGRIND
void *lthread__region_swap_valgrind(void *arg)
{
    return region_swap(arg, true);
}
#endif

/* Writes lt's first frame at the top of its region r, which it owns. */
static inline __attribute__((always_inline)) void
region_first_frame(struct lthread__region *r, struct lthread *lt)
{
    make_writable(r->top - sizeof(struct lthread__switch_frame),
                  sizeof(struct lthread__switch_frame));
    lthread__region_first_frame(r, lt);
}

/* lthread__region_start() but for its common case. */
static __attribute__((noinline)) int
region_start_slow(struct lthread__sched *s, struct lthread *lt, bool may_copy)
{
    struct lthread__region *r = lt->region;
    int err;

    /* Its siblings computed before: give it a stack of its own, so that
     * its sections never hold up a mate (on ENOMEM: share after all). */
    if (!(lt->flags & LTHREAD__F_BOUND) && lthread__compute_learned(lt->fn) &&
        atomic_load_explicit(&nprivate, memory_order_relaxed) <
            learned_private_max())
        (void)lthread__region_private(s, lt, 0);
    if (!(lt->flags & LTHREAD__F_BOUND)) {
        r = region_choose(s, r);
        lt->region = r;
        lt->flags |= LTHREAD__F_BOUND;
        r->nbound++;
    }
    r = lt->region;
    if (!r->owner) {
        /* A free region (the direct start's case): nothing to evict or
         * restore, no call. */
        lthread__asan_unpoison(r->base, (size_t)(r->top - r->base));
        r->owner = lt;
    } else {
        if (!may_copy && r->owner != lt)
            return -EBUSY;
        err = region_take(r, lt);
        if (err)
            return err; /* stays bound; it starts when it gets the region */
    }
    region_first_frame(r, lt);
    return 0;
}

/* The common start inline (region_start.h, as in sched.c's hand-over to
 * a new lthread), the rest and the search in region_start_slow. */
int lthread__region_start(struct lthread__sched *s, struct lthread *lt,
                          bool may_copy)
{
    if (lthread__region_start_fast(s, lt))
        return 0;
    return region_start_slow(s, lt, may_copy);
}

void lthread__region_release(struct lthread__sched *s, struct lthread *lt)
{
    struct lthread__region *r = lt->region;

    if (lt->image) { /* (most never had one: skip the call) */
        lthread__free(lt->image);
        lt->image = NULL;
        lt->image_cap = 0;
    }
    lt->flags &= ~LTHREAD__F_SAVED;
    if (!(lt->flags & LTHREAD__F_BOUND))
        return; /* `region` was only a hint */
    if (!r->is_private)
        return lthread__region_release_shared(s, lt, false);
    lt->flags &= ~LTHREAD__F_BOUND;
    lt->region = NULL;
    region_unmap(r);
    atomic_fetch_sub_explicit(&nprivate, 1, memory_order_relaxed);
}

void lthread__region_wake_waiters(struct lthread__sched *s,
                                  struct lthread__region *r)
{
    struct lthread *lt;

    /* Not an unpark: these lthreads were on their way to run, and keep
     * the result of the wait that made them ready. */
    while ((lt = lthread__queue_pop(&r->waiters))) {
        lt->wait = LTHREAD__WAIT_NONE;
        lthread__ready(s, lt);
    }
}

static bool region_cancel(struct lthread__sched *s, struct lthread *lt)
{
    (void)s;
    lthread__queue_remove(&lt->region->waiters, lt);
    return true;
}

const struct lthread__wait_ops lthread__wait_ops_region = {"region",
                                                           region_cancel, NULL};
