/* Unwinding from an lthread: the unwinder's walk of its stack (the CFI:
 * what backtrace(), perf's DWARF call graphs and exceptions read) ends in
 * the library's entry, on every architecture, whichever way it started
 * (without a first frame into a free region, from a frame as a
 * region-mate), and after it was switched out and back (copied out and
 * back as a mate). Internal (not built against liblthread.so): it names
 * the hidden entry, lthread__trampoline, through unwind_util.h. */
#include <lthread.h>

#include <stdlib.h>

#include "check.h"
#include "unwind_util.h"

/* Frames of a walk from an lthread's body at most: the check, four of
 * walk_deeper, the body, the trampoline, libgcc's last, and room. */
#define WALK_MAX 12

static __attribute__((noinline)) void walk_deeper(int n)
{
    if (n)
        walk_deeper(n - 1);
    else
        check_unwinds_to_trampoline(WALK_MAX);
    __asm__ volatile("" ::: "memory"); /* (no tail call) */
}

static int walked;

static void walker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    check_unwinds_to_trampoline(WALK_MAX);
    lthread_sleep(0);
    walk_deeper(3);
    walked++;
}

static void walker_arg(void *arg)
{
    (void)arg;
    check_unwinds_to_trampoline(WALK_MAX);
    lthread_sleep(0);
    walk_deeper(2);
    walked++;
}

static void test_unwind(void)
{
    lthread_t *lt;

    walked = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(lthread_create(&lt, walker, NULL), 0);
        CHECK_EQ(lthread_create_arg(&lt, walker_arg, NULL), 0);
    }
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(walked, 6);
}

int main(void)
{
    /* One region per scheduler (every switch between two lthreads copies),
     * two, and the default (each starts in a free one). */
    static const char *const regions[] = {"1", "2", NULL};

    for (int i = 0; i < 3; i++) {
        if (regions[i])
            setenv("LTHREAD_REGIONS", regions[i], 1);
        else
            unsetenv("LTHREAD_REGIONS");
        test_unwind();
    }
    return check_summary("test_unwind");
}
