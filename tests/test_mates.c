/*
 * Region-mates: lthreads that share one stack region (LTHREAD_REGIONS=1)
 * hand over to each other, which copies frames on every hand-off (on
 * x86-64 outside sanitizer builds, through a borrowed stack without the
 * scheduler loop: docs/DESIGN.md, "Region-mates hand over through a
 * borrowed stack"; elsewhere through the loop). Checks that every mate's
 * live stack and errno survive sleep(0) and cond hand-offs, with frames of
 * different depths, and that a mate whose image cannot grow (out of
 * memory at the hand-off) is not lost: the others go on, and it runs once
 * memory is back.
 */
#include <lthread.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arch/copy.h"
#include "check.h"

enum { NMATES = 6, ROUNDS = 3000 };

static lthread_cond_t *conds[NMATES];
static volatile int turn; /* whose turn in the cond ring */
static uintptr_t frames[NMATES];
static int done;

#define FILL(i, id) ((char)((i)*31u + (unsigned)(id)*7u + 1u))

/* Hands over `rounds` times with `n` bytes of live stack above. */
static __attribute__((noinline)) void mate_loop(int id, size_t n, int rounds)
{
    char *buf = __builtin_alloca(n);
    int bad = 0;

    for (size_t i = 0; i < n; i++)
        buf[i] = FILL(i, id);
    frames[id] = (uintptr_t)__builtin_frame_address(0);
    for (int r = 0; r < rounds; r++) {
        errno = 1000 + id;
        if (r % 2) {
            CHECK_EQ(lthread_sleep(0), 0);
        } else { /* the cond ring: signal the next, wait for our turn */
            turn = (id + 1) % NMATES;
            CHECK_EQ(lthread_cond_signal(conds[turn]), 0);
            while (turn != id)
                CHECK_EQ(lthread_cond_wait(conds[id], 0), 0);
        }
        if (errno != 1000 + id)
            bad++;
        if (buf[(size_t)r % n] != FILL((size_t)r % n, id))
            bad++;
    }
    for (size_t i = 0; i < n; i++)
        if (buf[i] != FILL(i, id))
            bad++;
    CHECK_EQ(bad, 0);
}

static void mate(void *arg)
{
    int id = (int)(intptr_t)arg;

    mate_loop(id, 64 + (size_t)id * 700, ROUNDS);
    done++;
    /* Keep the ring going for those still in it. */
    while (done < NMATES) {
        turn = (id + 1) % NMATES;
        lthread_cond_signal(conds[turn]);
        lthread_sleep(0);
        for (int i = 0; i < NMATES; i++)
            lthread_cond_signal(conds[i]);
    }
}

static void ring(void)
{
    lthread_t *lt;

    done = 0;
    turn = 0;
    for (int i = 0; i < NMATES; i++) {
        CHECK_EQ(lthread_cond_create(&conds[i]), 0);
        CHECK_EQ(lthread_create_arg(&lt, mate, (void *)(intptr_t)i), 0);
    }
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, NMATES);
    for (int i = 0; i < NMATES; i++) {
        /* One region: their frames lie within a region's size. */
        uintptr_t d = frames[i] > frames[0] ? frames[i] - frames[0]
                                            : frames[0] - frames[i];
        CHECK(d < 256 * 1024);
        CHECK_EQ(lthread_cond_destroy(conds[i]), 0);
    }
}

/* ---- a hand-off that cannot save the running mate's image ------------ */

static volatile int memory_back, big_resumed, small_ran_after;

static __attribute__((noinline)) void deep(void)
{
    char big[16 * 1024];

    memset(big, 0x5a, sizeof big);
    /* The image (so far a small frame's) must grow to 16 KiB when the
     * mate takes the region: make that fail. */
    lthread__alloc_fail_after(0);
    errno = 4242;
    CHECK_EQ(lthread_sleep(0), 0);
    CHECK_EQ(errno, 4242);
    /* Alone until memory is back: the mate starves meanwhile. */
    while (!memory_back)
        CHECK_EQ(lthread_sleep(0), 0);
    big_resumed = 1;
    CHECK_EQ(lthread_sleep(0), 0); /* now the mate can have the region */
    for (size_t i = 0; i < sizeof big; i++)
        if (big[i] != 0x5a)
            CHECK(big[i] == 0x5a);
}

static void big_mate(void *arg)
{
    (void)arg;
    CHECK_EQ(lthread_sleep(0), 0); /* a small image first */
    deep();
}

static void small_mate(void *arg)
{
    (void)arg;
    CHECK_EQ(lthread_sleep(0), 0);
    CHECK_EQ(lthread_sleep(0), 0);
    small_ran_after = memory_back;
}

/* On a private stack: needs no region copy to run. */
static void restorer(void *arg)
{
    (void)arg;
    CHECK_EQ(lthread_sleep(30), 0);
    lthread__alloc_fail_after(-1);
    memory_back = 1;
}

static void starved_mate(void)
{
    lthread_attr_t priv;
    lthread_t *lt;

    lthread_attr_init(&priv);
    priv.flags |= LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex_arg(&lt, restorer, NULL, &priv), 0);
    CHECK_EQ(lthread_create_arg(&lt, big_mate, NULL), 0);
    CHECK_EQ(lthread_create_arg(&lt, small_mate, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(big_resumed, 1);
    CHECK_EQ(small_ran_after, 1);
}

/*
 * Images of 1 KiB or more hold the 16 bytes below sp too, or not,
 * whichever puts image and stack at one offset mod 32 (src/region.c,
 * image_skew): both cases, every time. Two mates hand over at live depths
 * that step by 16 bytes (so that sp's offset mod 32 alternates while each
 * image, grown to the deepest first, stays where it is); each checks its
 * bytes after every hand-over. Run at small depths (images copied, on
 * x86-64 with AVX2, 32 bytes at a time and then 16 when their length is
 * an odd multiple of 16: lthread__swap_small_wide), around 1.2 KiB,
 * across 1 KiB (an image grown for the large copies, 32-byte aligned by
 * image_grow, then used for small ones and the other way round) and above
 * 4 KiB (32-byte moves again, lthread__stack_copy_wide, many rounds of
 * them, ending in every remainder mod 128).
 */
enum { SKEW_STEPS = 8, SKEW_ROUNDS = 4 };
static int skew_bad;
static size_t skew_base;

static __attribute__((noinline)) void skew_at(int id, size_t n)
{
    volatile char *buf = __builtin_alloca(n);

    for (size_t i = 0; i < n; i++)
        buf[i] = FILL(i, id);
    for (int r = 0; r < SKEW_ROUNDS; r++) {
        lthread_sleep(0);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != FILL(i, id)) {
                skew_bad++;
                break;
            }
    }
}

static void skew_mate(lthread_t *lt, void *arg)
{
    int id = (int)(intptr_t)arg;

    (void)lt;
    for (int k = SKEW_STEPS - 1; k >= 0; k--)
        skew_at(id, skew_base + 16 * (size_t)k);
}

static void skewed_images(size_t base)
{
    lthread_t *a, *b;

    skew_bad = 0;
    skew_base = base;
    CHECK_EQ(lthread_create(&a, skew_mate, (void *)1), 0);
    CHECK_EQ(lthread_create(&b, skew_mate, (void *)2), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(skew_bad, 0);
}

static void all_cases(void)
{
    ring();
    ring(); /* a second scheduler lifetime */
    starved_mate();
    skewed_images(64); /* small images: 16 bytes past 32 or not */
    skewed_images(600);
    skewed_images(1200);
    skewed_images(800); /* images from about 0.95 to 1.1 KiB */
    skewed_images(4200);
}

int main(void)
{
    /* Read when the scheduler is made: one shared region for all. */
    CHECK_EQ(setenv("LTHREAD_REGIONS", "1", 1), 0);
    all_cases();
#if defined(LTHREAD__STACK_COPY_WIDE)
    /* Again with the baseline copies, as on a CPU without AVX2 (and as
     * under valgrind, for the small images). */
    if (lthread__have_wide_copy) {
        lthread__have_wide_copy = 0;
        all_cases();
        lthread__have_wide_copy = 1;
    }
#endif
    return check_summary("test_mates");
}
