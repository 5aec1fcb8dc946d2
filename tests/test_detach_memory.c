/* Detached lthreads give their memory back: after 10,000 detached lthreads
 * of each kind (returning, calling lthread_exit(), detached by
 * lthread_detach(), exiting after a compute section, returning inside
 * one, on a private stack, growing their saved stack image past 1 KiB
 * step by step), the heap in use and the number of mappings are
 * back where they were. This runs in every build: the plain suite has no
 * leak checker, so a detached lthread that is never freed (120 bytes, or a
 * private stack's mapping, each) passes it unless something counts.
 *
 * The heap is measured with mallinfo2() (the sanitizers' allocator
 * statistics under ASan and TSan), mappings in /proc/self/maps. The bounds
 * are loose (a few bytes per lthread, a few dozen mappings) against what a
 * leak of every control block (over 1 MB) or private stack (10,000
 * mappings) adds. */
#include <lthread.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "heap_util.h"

/* Lthreads of each kind: fewer where everything is slower (sanitizers,
 * valgrind, qemu), still far more than the bounds allow to leak. */
#define TOTAL 10000
/* Created per lthread_run(): TSan counts lthreads as threads (about 8000
 * at once at most). */
#define BATCH 500

enum kind {
    K_RETURN,          /* LTHREAD_ATTR_DETACHED, returns */
    K_EXIT,            /* LTHREAD_ATTR_DETACHED, lthread_exit() */
    K_DETACH,          /* joinable, lthread_detach(), returns */
    K_COMPUTE_EXIT,    /* detached, a compute section, lthread_exit() */
    K_RETURN_COMPUTE,  /* detached, returns inside a compute section */
    K_PRIVATE,         /* detached, private stack, returns */
    K_PRIVATE_COMPUTE, /* detached, private stack, compute, lthread_detach */
    K_GROW,            /* detached, one region, images grown from about 1.7
                        * to 12 KiB in four steps, then returns */
    K_N
};
static const char *kind_names[] = {"return",
                                   "lthread_exit",
                                   "lthread_detach",
                                   "compute+exit",
                                   "return inside compute",
                                   "private stack",
                                   "private stack+compute",
                                   "growing images"};

static int finished, begin_failures;

static int total(void)
{
    long n = TOTAL / check_slow();

    return n < 1000 ? 1000 : (int)n;
}

static long mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;

    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        if (c == '\n')
            n++;
    fclose(f);
    return n;
}

/* Yields with about `depth` bytes of live stack, deeper each time: the
 * image saved when a mate runs grows, past 1 KiB each step (a new,
 * aligned block: src/region.c, image_grow), and the old one must go. */
static __attribute__((noinline)) void grow_from(size_t depth)
{
    volatile char *buf = __builtin_alloca(depth);

    buf[0] = buf[depth - 1] = 1;
    lthread_sleep(0);
    if (depth < 4500)
        grow_from(depth + 1000);
    CHECK_EQ(buf[0] + buf[depth - 1], 2);
}

/* K_GROW's own function: `body` computes in other kinds, and lthreads of
 * a function seen computing get stacks of their own (no mates). */
static void grow_body(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    grow_from(1500);
    finished++;
}

static void body(lthread_t *lt, void *arg)
{
    enum kind k = (enum kind)(intptr_t)arg;

    (void)lt;
    switch (k) {
    case K_RETURN:
    case K_PRIVATE:
        lthread_sleep(0); /* let mates run: images are saved */
        break;
    case K_EXIT:
        lthread_sleep(0);
        finished++;
        lthread_exit(arg);
        break;
    case K_DETACH:
        if (lthread_detach() != 0)
            CHECK(!"lthread_detach failed");
        lthread_sleep(0);
        break;
    case K_COMPUTE_EXIT:
    case K_PRIVATE_COMPUTE:
        if (k == K_PRIVATE_COMPUTE && lthread_detach() != 0)
            CHECK(!"lthread_detach failed");
        if (lthread_compute_begin() != 0) {
            begin_failures++;
        } else if (lthread_compute_end() != 0) {
            begin_failures++;
        }
        finished++;
        if (k == K_COMPUTE_EXIT)
            lthread_exit(NULL);
        return;
    case K_RETURN_COMPUTE:
        finished++;
        if (lthread_compute_begin() != 0)
            begin_failures++;
        return;  /* inside the section: the library takes it home */
    case K_GROW: /* (grow_body) */
    case K_N:
        break;
    }
    finished++;
}

/* Runs n detached lthreads of kind k, BATCH per lthread_run(). */
static void run_kind(enum kind k, int n)
{
    lthread_attr_t attr;
    lthread_t *lt;

    lthread_attr_init(&attr);
    if (k != K_DETACH && k != K_PRIVATE_COMPUTE)
        attr.flags |= LTHREAD_ATTR_DETACHED;
    if (k == K_PRIVATE || k == K_PRIVATE_COMPUTE) {
        attr.flags |= LTHREAD_ATTR_PRIVATE_STACK;
        attr.stack_size = 16384;
    }
    for (int done = 0; done < n; done += BATCH) {
        int want = n - done < BATCH ? n - done : BATCH, made = 0;

        finished = 0;
        while (made < want &&
               lthread_create_ex(&lt, k == K_GROW ? grow_body : body,
                                 (void *)(intptr_t)k, &attr) == 0)
            made++;
        CHECK_EQ(made, want); /* ENOMEM: a leak ran out of room */
        CHECK_EQ(lthread_run(), 0);
        CHECK_EQ(finished, made);
        if (made < want)
            break;
    }
}

int main(void)
{
    /* Two compute pthreads at most: they are all started by the warm-up
     * round, so their stacks do not count as growth. */
    setenv("LTHREAD_COMPUTE_MAX", "2", 1);
    const int n = total();

    for (int k = 0; k < K_N; k++) {
        size_t heap0, heap1;
        long maps0, maps1;
        long heap_grew, maps_grew;

        /* Growing images: all on one region, so that every yield hands
         * over to a mate and saves the image (read by each scheduler,
         * that is each lthread_run(), when it is made). */
        if (k == K_GROW)
            setenv("LTHREAD_REGIONS", "1", 1);

        /* Warm up: the compute pool, malloc's arenas, stdio. */
        run_kind((enum kind)k, 2 * BATCH);
        heap0 = heap_in_use();
        maps0 = mappings();
        run_kind((enum kind)k, n);
        heap1 = heap_in_use();
        maps1 = mappings();
        heap_grew = (long)heap1 - (long)heap0;
        maps_grew = maps1 - maps0;
        printf("%-22s %d detached lthreads: heap %+ld bytes, mappings %+ld\n",
               kind_names[k], n, heap_grew, maps_grew);
        fflush(stdout);
        /* A leaked control block alone is 120 bytes per lthread. */
        CHECK(heap_grew < n * 8);
        /* A leaked private stack is one or two mappings per lthread. */
        CHECK(maps0 > 0);
        CHECK(maps_grew < 64);
    }
    CHECK_EQ(begin_failures, 0);
    return check_summary("test_detach_memory");
}
